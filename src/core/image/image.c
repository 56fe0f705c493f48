/*
 * image.c
 *	  Format names, magic-number sniffing, and the dispatch of probe,
 *	  validate and decode to the per-format readers; shared helpers for the
 *	  pixel cap and raster allocation.
 *
 * Formats are recognised by their bytes, never by a file name or a declared
 * type: datasets routinely hold PNG files named .jpg.  The size cap is
 * checked here in one helper so that every format words its CV_ERR_LIMIT
 * message the same way.
 */
#include "image_internal.h"

#include <inttypes.h>
#include <string.h>

const char *
cv_image_format_name(cv_image_format format)
{
	switch (format)
	{
		case CV_FORMAT_JPEG:
			return "jpeg";
		case CV_FORMAT_PNG:
			return "png";
		case CV_FORMAT_BMP:
			return "bmp";
		case CV_FORMAT_UNKNOWN:
			break;
	}
	return "unknown";
}

cv_image_format
cv_image_sniff(const uint8_t *data, size_t len)
{
	static const uint8_t png_magic[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};

	if (data == NULL)
		return CV_FORMAT_UNKNOWN;
	/* SOI followed by the first marker's 0xFF: every JPEG starts so */
	if (len >= 3 && data[0] == 0xFF && data[1] == 0xD8 && data[2] == 0xFF)
		return CV_FORMAT_JPEG;
	if (len >= 8 && memcmp(data, png_magic, 8) == 0)
		return CV_FORMAT_PNG;
	if (len >= 2 && data[0] == 'B' && data[1] == 'M')
		return CV_FORMAT_BMP;
	return CV_FORMAT_UNKNOWN;
}

cv_status
cv_image_check_size(const char *fmt, int64_t width, int64_t height,
					uint64_t max_pixels, cv_error *err)
{
	if (width <= 0 || height <= 0)
		return cv_fail(err, CV_ERR_CORRUPT, "%s declares an empty image (%" PRId64 "x%" PRId64 ")",
					   fmt, width, height);
	/* both factors are below 2^32 in every format we read: no overflow */
	if (max_pixels != 0 && (uint64_t) width * (uint64_t) height > max_pixels)
		return cv_fail(err, CV_ERR_LIMIT,
					   "%s declares %" PRId64 "x%" PRId64 " pixels, more than the limit of %" PRIu64,
					   fmt, width, height, max_pixels);
	return CV_OK;
}

cv_status
cv_rgb_image_alloc(cv_rgb_image *img, int width, int height, cv_error *err)
{
	size_t		size;

	img->width = 0;
	img->height = 0;
	img->pixels = NULL;
	if (width <= 0 || height <= 0)
		return cv_fail(err, CV_ERR_PARAM, "image size %dx%d is not positive", width, height);
	if (!cv_mul_size((size_t) width, (size_t) height, &size) ||
		!cv_mul_size(size, 3, &size))
		return cv_fail(err, CV_ERR_LIMIT, "image size %dx%d overflows memory sizes", width, height);
	img->pixels = cv_malloc(size);
	if (img->pixels == NULL)
		return cv_fail(err, CV_ERR_NOMEM, "out of memory for a %dx%d image", width, height);
	img->width = width;
	img->height = height;
	return CV_OK;
}

static void
clear_info(cv_image_info *info)
{
	memset(info, 0, sizeof(*info));
	info->orientation = 1;
}

static cv_status
unknown_format(const uint8_t *data, size_t len, cv_error *err)
{
	if (data == NULL || len == 0)
		return cv_fail(err, CV_ERR_UNSUPPORTED, "empty image data");
	return cv_fail(err, CV_ERR_UNSUPPORTED,
				   "unrecognized image format (expected JPEG, PNG or BMP)");
}

cv_status
cv_image_probe(const uint8_t *data, size_t len, uint64_t max_pixels,
			   cv_image_info *info, cv_error *err)
{
	cv_image_info scratch;

	if (info == NULL)
		info = &scratch;
	clear_info(info);
	switch (cv_image_sniff(data, len))
	{
		case CV_FORMAT_JPEG:
			return cv_jpeg_probe(data, len, max_pixels, info, err);
		case CV_FORMAT_PNG:
			return cv_png_probe(data, len, max_pixels, info, err);
		case CV_FORMAT_BMP:
			return cv_bmp_probe(data, len, max_pixels, info, err);
		case CV_FORMAT_UNKNOWN:
			break;
	}
	return unknown_format(data, len, err);
}

cv_status
cv_image_validate(const uint8_t *data, size_t len, uint64_t max_pixels,
				  cv_image_info *info, cv_error *err)
{
	cv_image_info scratch;

	if (info == NULL)
		info = &scratch;
	clear_info(info);
	switch (cv_image_sniff(data, len))
	{
		case CV_FORMAT_JPEG:
			return cv_jpeg_validate(data, len, max_pixels, info, err);
		case CV_FORMAT_PNG:
			return cv_png_validate(data, len, max_pixels, info, err);
		case CV_FORMAT_BMP:
			/* the probe already checks that the pixel array is all there */
			return cv_bmp_probe(data, len, max_pixels, info, err);
		case CV_FORMAT_UNKNOWN:
			break;
	}
	return unknown_format(data, len, err);
}

cv_status
cv_image_decode(const uint8_t *data, size_t len, uint64_t max_pixels,
				int min_width, int min_height,
				cv_rgb_image *out, cv_error *err)
{
	if (out == NULL)
		return cv_fail(err, CV_ERR_PARAM, "no output image");
	memset(out, 0, sizeof(*out));
	if (min_width < 0 || min_height < 0)
		return cv_fail(err, CV_ERR_PARAM, "minimum decode size %dx%d is negative",
					   min_width, min_height);
	switch (cv_image_sniff(data, len))
	{
		case CV_FORMAT_JPEG:
			return cv_jpeg_decode(data, len, max_pixels, min_width, min_height, out, err);
		case CV_FORMAT_PNG:
			return cv_png_decode(data, len, max_pixels, out, err);
		case CV_FORMAT_BMP:
			return cv_bmp_decode(data, len, max_pixels, out, err);
		case CV_FORMAT_UNKNOWN:
			break;
	}
	return unknown_format(data, len, err);
}

void
cv_rgb_image_free(cv_rgb_image *img)
{
	if (img == NULL)
		return;
	cv_free(img->pixels);
	img->pixels = NULL;
	img->width = 0;
	img->height = 0;
}
