/*
 * fuzz_bmp.c
 *	  libFuzzer harness of the BMP reader: our own parser, where every
 *	  header field is a number an attacker chooses.
 *
 * Each input is one BMP file: probed, validated and decoded, and the
 * decoded image resized, with the contracts of image.h checked in
 * fuzz_common.c.  Seeds: test/data/images and test/fuzz/seed/bmp.
 */
#include "fuzz_common.h"

int			LLVMFuzzerTestOneInput(const uint8_t *data, size_t len);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	fuzz_image(CV_FORMAT_BMP, data, len);
	return 0;
}
