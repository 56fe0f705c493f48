/*
 * fuzz_tflite.c
 *	  libFuzzer harness of the TFLite reader as SQL reaches it: each input
 *	  is one .tflite file given to cv_net_load (flatbuffer.c, tflite.c,
 *	  the graph build of build.c and build_ops.c, prepare.c and plan.c).
 *
 * nn.h promises that a truncated, hostile or unsupported file is an error,
 * never a crash; a file that loads is then listed and, when tiny, run
 * (fuzz_net in fuzz_common.c).  Seeds: test/fuzz/seed/tflite (tiny nets of
 * every operator we run, written by make_seeds.c) and, in tools/fuzz.sh,
 * the smallest of the shared models.
 */
#include "fuzz_common.h"

int			LLVMFuzzerTestOneInput(const uint8_t *data, size_t len);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	cv_net	   *net = NULL;
	cv_error	err;
	cv_status	st;

	st = cv_net_load(data, len, &net, &err);
	fuzz_check_status(st, &err);
	FUZZ_ASSERT((st == CV_OK) == (net != NULL));
	if (net != NULL)
	{
		fuzz_net(net);
		cv_net_free(net);
	}
	return 0;
}
