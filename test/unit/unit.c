/*
 * unit.c
 *	  Runner and file helpers for the plain-C tests of src/core.
 */
#include "unit.h"
#include "nn/nn.h"

int			unit_checks_failed = 0;
int			unit_checks_passed = 0;

const char *
unit_shared_path(const char *relative)
{
	static char buf[4096];
	const char *root = getenv("PGVISION_SHARED");

	if (root == NULL || root[0] == '\0')
		root = "../shared";
	snprintf(buf, sizeof(buf), "%s/%s", root, relative);
	return buf;
}

unsigned char *
unit_read_file(const char *path, size_t *len)
{
	FILE	   *f = fopen(path, "rb");
	unsigned char *buf;
	long		size;

	if (f == NULL)
		return NULL;
	fseek(f, 0, SEEK_END);
	size = ftell(f);
	fseek(f, 0, SEEK_SET);
	buf = malloc(size > 0 ? (size_t) size : 1);
	if (buf != NULL && fread(buf, 1, (size_t) size, f) != (size_t) size)
	{
		free(buf);
		buf = NULL;
	}
	fclose(f);
	if (buf != NULL)
		*len = (size_t) size;
	return buf;
}

int
unit_run(const char *suite, const unit_case *cases, int ncases)
{
	int			tests_failed = 0;
	const char *portable = getenv("PGVISION_PORTABLE_KERNELS");

	/*
	 * The sanitizer run of tools/test.sh is built at -O0, where our SIMD
	 * kernels are slower by two orders of magnitude: with this set, nets
	 * run on the portable path (OpenBLAS) except where a test picks the
	 * path itself (test_nn_fast and test_nn_cut check the fast kernels
	 * against it on small nets, so those still run under the sanitizers).
	 */
	if (portable != NULL && strcmp(portable, "1") == 0)
		cv_nn_set_portable(true);

	for (int i = 0; i < ncases; i++)
	{
		int			before = unit_checks_failed;

		cases[i].fn();
		if (unit_checks_failed != before)
		{
			tests_failed++;
			fprintf(stderr, "FAIL %s.%s\n", suite, cases[i].name);
		}
		else
			printf("ok   %s.%s\n", suite, cases[i].name);
	}
	printf("%s: %d checks passed, %d checks failed\n", suite,
		   unit_checks_passed, unit_checks_failed);
	printf("%d passed, %d failed\n", ncases - tests_failed, tests_failed);
	return tests_failed == 0 ? 0 : 1;
}
