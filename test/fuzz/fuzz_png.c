/*
 * fuzz_png.c
 *	  libFuzzer harness of the PNG reader: libpng behind our read
 *	  callback and error hooks, eXIf, interlacing, every colour type.
 *
 * Each input is one PNG file: probed, validated and decoded, and the
 * decoded image resized, with the contracts of image.h checked in
 * fuzz_common.c.  Seeds: test/data/images and test/fuzz/seed/png.
 */
#include "fuzz_common.h"

int			LLVMFuzzerTestOneInput(const uint8_t *data, size_t len);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	fuzz_image(CV_FORMAT_PNG, data, len);
	return 0;
}
