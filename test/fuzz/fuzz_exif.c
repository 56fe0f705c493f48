/*
 * fuzz_exif.c
 *	  libFuzzer harness of the EXIF reader (exif.c): each input is one
 *	  TIFF-structured block, as the JPEG (APP1) and PNG (eXIf) readers
 *	  hand it over.
 *
 * exif.h promises that malformed metadata is never an error: the answer
 * is an orientation in 1..8 whatever the bytes.  That orientation is then
 * applied to a small raster (orient.c), which must come out with the
 * dimensions cv_orient_dims gives and the same pixels rearranged.
 * Seeds: test/fuzz/seed/exif (both byte orders, every orientation, the
 * block of test/data/images/rotated.jpg).
 */
#include "fuzz_common.h"
#include "image/exif.h"

#include <string.h>

int			LLVMFuzzerTestOneInput(const uint8_t *data, size_t len);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	int			orientation = cv_exif_orientation(data, len);
	int			sw = 1 + (int) (len % 5),
				sh = 1 + (int) (len / 5 % 4),
				w,
				h;
	uint64_t	sum_before = 0,
				sum_after = 0;
	cv_rgb_image img;
	cv_error	err;
	cv_status	st;

	FUZZ_ASSERT(orientation >= 1 && orientation <= 8);

	st = cv_rgb_image_alloc(&img, sw, sh, &err);
	fuzz_check_status(st, &err);
	if (st != CV_OK)
		return 0;
	for (int i = 0; i < sw * sh * 3; i++)
	{
		img.pixels[i] = (uint8_t) (i * 7 + 1);
		sum_before += (uint64_t) img.pixels[i] * img.pixels[i];
	}
	st = cv_image_orient(&img, orientation, &err);
	fuzz_check_status(st, &err);
	if (st == CV_OK)
	{
		cv_orient_dims(orientation, sw, sh, &w, &h);
		FUZZ_ASSERT(img.width == w && img.height == h);
		for (int i = 0; i < w * h * 3; i++)
			sum_after += (uint64_t) img.pixels[i] * img.pixels[i];
		FUZZ_ASSERT(sum_after == sum_before);
	}
	cv_rgb_image_free(&img);
	return 0;
}
