/*
 * unit.h
 *	  A minimal harness for the plain-C tests of src/core.
 *
 * Each test file defines functions registered with UNIT_TEST and a
 * main() from UNIT_MAIN.  Checks count failures without stopping the test,
 * and the program ends with the line "N passed, N failed" that CI reads,
 * exiting non-zero when anything failed.
 *
 * SHARED_DIR (environment variable PGVISION_SHARED, default ../shared
 * relative to the repository root) locates the shared datasets and models.
 * PGVISION_PORTABLE_KERNELS=1 runs nets on the portable kernels unless a
 * test chooses (the sanitizer build of tools/test.sh, see unit.c).
 */
#ifndef UNIT_H
#define UNIT_H

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef void (*unit_fn) (void);

extern int	unit_checks_failed;
extern int	unit_checks_passed;

#define CHECK(cond) \
	do { \
		if (cond) unit_checks_passed++; \
		else { unit_checks_failed++; \
			fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond); } \
	} while (0)

#define CHECK_MSG(cond, ...) \
	do { \
		if (cond) unit_checks_passed++; \
		else { unit_checks_failed++; \
			fprintf(stderr, "%s:%d: check failed: %s: ", __FILE__, __LINE__, #cond); \
			fprintf(stderr, __VA_ARGS__); fputc('\n', stderr); } \
	} while (0)

#define CHECK_NEAR(a, b, tol) \
	CHECK_MSG(fabs((double) (a) - (double) (b)) <= (tol), "%g vs %g (tol %g)", \
			  (double) (a), (double) (b), (double) (tol))

typedef struct unit_case
{
	const char *name;
	unit_fn		fn;
} unit_case;

/* Path of a file under the shared folder; returns a static buffer. */
const char *unit_shared_path(const char *relative);

/* Read a whole file into malloc'd memory; NULL if missing. */
unsigned char *unit_read_file(const char *path, size_t *len);

/* Run the cases; returns the process exit code. */
int			unit_run(const char *suite, const unit_case *cases, int ncases);

#define UNIT_MAIN(suite, ...) \
	int main(void) { \
		static const unit_case cases[] = { __VA_ARGS__ }; \
		return unit_run(suite, cases, (int) (sizeof(cases) / sizeof(cases[0]))); \
	}
#define UNIT_CASE(fn) { #fn, fn }

#endif							/* UNIT_H */
