/*
 * fuzz_prepared.c
 *	  libFuzzer harness of the prepared-net loader (src/core/nn/prepared_load.c):
 *	  each input is one prepared blob, as a backend finds it in a shared
 *	  prepared-weights file under the data directory (src/pg
 *	  prepared_weights.c), given to cv_net_load_prepared.
 *
 * The blob's header names the build and CPU path that wrote it and holds a
 * checksum of every byte; random bytes would stop at those.  So each input
 * is first made this build's and resealed (nn_prepared_adopt), and the
 * fuzzer reaches every check behind them: counts, indices, sections,
 * pointers, shapes.  A blob that loads is then listed and, when tiny, run
 * (fuzz_net in fuzz_common.c): it must stay inside its own memory.
 * Seeds: test/fuzz/seed/prepared (the tiny nets of make_seeds.c, float and
 * int8 engines, saved prepared).
 */
#include "fuzz_common.h"
#include "nn/nn_internal.h"

#include <string.h>

#define FUZZ_HOST "fuzz_prepared"

int			LLVMFuzzerTestOneInput(const uint8_t *data, size_t len);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	cv_net	   *net = NULL;
	cv_error	err;
	cv_status	st;
	void	   *blob = NULL;

	/* the loader wants the 64-byte alignment a mapping has */
	if (posix_memalign(&blob, 64, len + 64) != 0)
		return 0;
	memcpy(blob, data, len);
	nn_prepared_adopt(blob, len, FUZZ_HOST);
	st = cv_net_load_prepared(blob, len, FUZZ_HOST, &net, &err);
	fuzz_check_status(st, &err);
	FUZZ_ASSERT((st == CV_OK) == (net != NULL));
	if (net != NULL)
	{
		fuzz_net(net);
		cv_net_free(net);
	}
	free(blob);
	return 0;
}
