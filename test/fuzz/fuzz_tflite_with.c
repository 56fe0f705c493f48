/*
 * fuzz_tflite_with.c
 *	  libFuzzer harness of the graph building with options
 *	  (cv_net_load_with): a net cut at chosen tensors, at another input
 *	  size, cut at its first foreign operator, or kept in the file's
 *	  layouts, as the detector and the ONNX export load them.
 *
 * Each input is an 8-byte header followed by the .tflite file:
 *	  byte 0	bit 0 prefix_only, bit 1 keep_layouts, bit 2 input size
 *				given, bits 4..6 the number of requested outputs (0..5)
 *	  byte 1, 2	input width, height (when bit 2 is set; 0 means the file's)
 *	  byte 3..7 the requested output tensors, in order
 * so that the fuzzer mutates the options along with the file.  Seeds:
 * test/fuzz/seed/tflite_with (make_seeds.c).  Shorter inputs are ignored.
 */
#include "fuzz_common.h"

#include <string.h>

#define HEADER 8

int			LLVMFuzzerTestOneInput(const uint8_t *data, size_t len);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	cv_net_options opt;
	cv_net	   *net = NULL;
	cv_error	err;
	cv_status	st;

	if (len < HEADER)
		return 0;
	memset(&opt, 0, sizeof(opt));
	opt.prefix_only = (data[0] & 1) != 0;
	opt.keep_layouts = (data[0] & 2) != 0;
	if (data[0] & 4)
	{
		opt.input_width = data[1];
		opt.input_height = data[2];
	}
	opt.n_outputs = (data[0] >> 4) & 7;
	if (opt.n_outputs > HEADER - 3)
		opt.n_outputs = HEADER - 3;
	for (int k = 0; k < opt.n_outputs; k++)
		opt.outputs[k] = data[3 + k];

	st = cv_net_load_with(data + HEADER, len - HEADER, &opt, &net, &err);
	fuzz_check_status(st, &err);
	FUZZ_ASSERT((st == CV_OK) == (net != NULL));
	if (net != NULL)
	{
		const cv_net_info *info = cv_net_get_info(net);

		/* the size asked for is the size loaded for */
		if (opt.input_width > 0)
			FUZZ_ASSERT(info->input_width == opt.input_width);
		if (opt.input_height > 0)
			FUZZ_ASSERT(info->input_height == opt.input_height);
		fuzz_net(net);
		cv_net_free(net);
	}
	return 0;
}
