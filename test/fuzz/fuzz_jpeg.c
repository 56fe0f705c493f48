/*
 * fuzz_jpeg.c
 *	  libFuzzer harness of the JPEG reader: libjpeg-turbo behind our
 *	  source manager and error hooks, APP1 EXIF, DCT scaling.
 *
 * Each input is one JPEG file: probed, validated and decoded, and the
 * decoded image resized, with the contracts of image.h checked in
 * fuzz_common.c.  Seeds: test/data/images and test/fuzz/seed/jpeg.
 */
#include "fuzz_common.h"

int			LLVMFuzzerTestOneInput(const uint8_t *data, size_t len);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	fuzz_image(CV_FORMAT_JPEG, data, len);
	return 0;
}
