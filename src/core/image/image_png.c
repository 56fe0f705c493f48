/*
 * image_png.c
 *	  PNG probe, validation and decoding with libpng 1.6, from memory.
 *
 * libpng reports errors through a callback that must not return; ours
 * records the message and longjmps to the setjmp in png_run, which destroys
 * the read structures and frees our buffers before returning a cv_status.
 * Warnings are swallowed: libpng's default prints them to stderr, which in a
 * server is the postmaster log.
 *
 * Every PNG flavour is normalised to 8-bit RGB with libpng's own transforms
 * (palette expansion, 1/2/4-bit grey to 8, 16-bit stripped to its high byte,
 * alpha dropped, grey to RGB); Adam7 passes are merged by libpng too.  tRNS
 * is not expanded: transparency is dropped like any other alpha.
 *
 * The pixel cap is checked on IHDR right after png_read_info, before any
 * row is allocated.  libpng's own user limits (1,000,000 pixels per side by
 * default) are raised to the format maximum, so that the message a user
 * sees for an oversized image is always ours, worded as for other formats.
 *
 * A file that ends early (inside IDAT or before IEND) or whose critical
 * chunks fail their CRC is CV_ERR_CORRUPT: png_read_end is always run so
 * that validation and decoding accept exactly the same files.
 *
 * EXIF orientation comes from an eXIf chunk placed before IDAT, where
 * png_read_info sees it; eXIf after the image data is ignored, so that the
 * probe (which stops at IDAT) and the decoder always agree.
 */
#include "image_internal.h"
#include "exif.h"

#include <setjmp.h>
#include <stdio.h>
#include <string.h>

#include <png.h>

typedef enum png_mode
{
	PNG_PROBE,
	PNG_VALIDATE,
	PNG_DECODE
} png_mode;

/* State a longjmp must find; never kept in locals of png_run. */
typedef struct png_session
{
	png_structp png;
	png_infop	info;
	const uint8_t *data;
	size_t		len;
	size_t		pos;
	cv_status	code;
	char		message[CV_ERROR_MESSAGE_LEN];
	uint8_t    *row;			/* validation scratch row */
	png_bytep  *rows;			/* row pointers into img */
	cv_rgb_image img;
} png_session;

static void
session_fail(png_session *s, cv_status code, const char *message)
{
	/* the first cause wins: libpng may add its own words on the way out */
	if (s->code != CV_OK)
		return;
	s->code = code;
	snprintf(s->message, sizeof(s->message), "%s", message);
}

static void
on_png_error(png_structp png, png_const_charp msg)
{
	png_session *s = (png_session *) png_get_error_ptr(png);
	char		text[CV_ERROR_MESSAGE_LEN];

	if (strstr(msg, "memory") != NULL || strstr(msg, "Memory") != NULL)
		session_fail(s, CV_ERR_NOMEM, "out of memory decoding PNG");
	else
	{
		snprintf(text, sizeof(text), "corrupt PNG data: %s", msg);
		session_fail(s, CV_ERR_CORRUPT, text);
	}
	png_longjmp(png, 1);
}

static void
on_png_warning(png_structp png, png_const_charp msg)
{
	/* ignored on purpose: see the header comment */
}

static void
read_from_memory(png_structp png, png_bytep dest, size_t n)
{
	png_session *s = (png_session *) png_get_io_ptr(png);

	if (n > s->len - s->pos)
	{
		session_fail(s, CV_ERR_CORRUPT, "truncated PNG data");
		png_error(png, "truncated PNG data");
	}
	memcpy(dest, s->data + s->pos, n);
	s->pos += n;
}

static void
session_end(png_session *s)
{
	if (s->png != NULL)
		png_destroy_read_struct(&s->png, s->info != NULL ? &s->info : NULL, NULL);
	s->png = NULL;
	s->info = NULL;
	cv_free(s->row);
	s->row = NULL;
	cv_free(s->rows);
	s->rows = NULL;
}

/* Ask libpng for 8-bit RGB whatever the colour type and depth. */
static void
set_rgb8_transforms(png_structp png, png_infop info, int color_type, int bit_depth)
{
	if (color_type == PNG_COLOR_TYPE_PALETTE)
		png_set_palette_to_rgb(png);
	if (color_type == PNG_COLOR_TYPE_GRAY && bit_depth < 8)
		png_set_expand_gray_1_2_4_to_8(png);
	if (bit_depth == 16)
		png_set_strip_16(png);
	/* palette expansion turns tRNS into an alpha channel: drop that too */
	if ((color_type & PNG_COLOR_MASK_ALPHA) || png_get_valid(png, info, PNG_INFO_tRNS))
		png_set_strip_alpha(png);
	if (color_type == PNG_COLOR_TYPE_GRAY || color_type == PNG_COLOR_TYPE_GRAY_ALPHA)
		png_set_gray_to_rgb(png);
}

static cv_status
read_pixels(png_session *s, png_mode mode, int passes, cv_error *err)
{
	png_uint_32 width = png_get_image_width(s->png, s->info);
	png_uint_32 height = png_get_image_height(s->png, s->info);
	size_t		row_bytes = png_get_rowbytes(s->png, s->info);

	if (mode == PNG_VALIDATE)
	{
		/* no transforms: raw rows are cheapest and still inflate every byte */
		s->row = cv_malloc(row_bytes);
		if (s->row == NULL)
			return cv_fail(err, CV_ERR_NOMEM, "out of memory for a PNG row");
		for (int pass = 0; pass < passes; pass++)
			for (png_uint_32 y = 0; y < height; y++)
				png_read_row(s->png, s->row, NULL);
	}
	else
	{
		cv_status	st;

		if (row_bytes != (size_t) width * 3)
			return cv_fail(err, CV_ERR_INTERNAL,
						   "PNG transforms gave %zu bytes per row for width %u",
						   row_bytes, (unsigned) width);
		st = cv_rgb_image_alloc(&s->img, (int) width, (int) height, err);
		if (st != CV_OK)
			return st;
		s->rows = cv_calloc(height, sizeof(png_bytep));
		if (s->rows == NULL)
			return cv_fail(err, CV_ERR_NOMEM, "out of memory for PNG row pointers");
		for (png_uint_32 y = 0; y < height; y++)
			s->rows[y] = s->img.pixels + (size_t) y * row_bytes;
		png_read_image(s->png, s->rows);
	}
	/* the rest of the file: trailing chunks, their CRCs, IEND */
	png_read_end(s->png, NULL);
	return CV_OK;
}

static cv_status
png_run(png_session *s, const uint8_t *data, size_t len, uint64_t max_pixels,
		png_mode mode, cv_image_info *info, cv_error *err)
{
	png_uint_32 width;
	png_uint_32 height;
	int			bit_depth;
	int			color_type;
	int			interlace;
	int			passes;
	png_uint_32 exif_len;
	png_bytep	exif;
	cv_status	st;

	s->data = data;
	s->len = len;
	s->png = png_create_read_struct(PNG_LIBPNG_VER_STRING, s, on_png_error, on_png_warning);
	if (s->png == NULL)
		return cv_fail(err, CV_ERR_NOMEM, "out of memory creating a PNG reader");
	s->info = png_create_info_struct(s->png);
	if (s->info == NULL)
	{
		session_end(s);
		return cv_fail(err, CV_ERR_NOMEM, "out of memory creating a PNG reader");
	}
	if (setjmp(png_jmpbuf(s->png)))
	{
		session_end(s);
		cv_rgb_image_free(&s->img);
		return cv_fail(err, s->code != CV_OK ? s->code : CV_ERR_CORRUPT, "%s",
					   s->code != CV_OK ? s->message : "corrupt PNG data");
	}

	png_set_read_fn(s->png, s, read_from_memory);
	png_set_user_limits(s->png, PNG_UINT_31_MAX, PNG_UINT_31_MAX);
	png_read_info(s->png, s->info);
	png_get_IHDR(s->png, s->info, &width, &height, &bit_depth, &color_type,
				 &interlace, NULL, NULL);

	info->format = CV_FORMAT_PNG;
	info->stored_width = (int) width;
	info->stored_height = (int) height;
	info->channels = png_get_channels(s->png, s->info);
	info->progressive = interlace != PNG_INTERLACE_NONE;
	info->orientation = 1;
	if (png_get_eXIf_1(s->png, s->info, &exif_len, &exif) != 0 && exif != NULL)
		info->orientation = cv_exif_orientation(exif, exif_len);
	cv_orient_dims(info->orientation, info->stored_width, info->stored_height,
				   &info->width, &info->height);

	st = cv_image_check_size("PNG", width, height, max_pixels, err);
	if (st != CV_OK || mode == PNG_PROBE)
	{
		session_end(s);
		return st;
	}

	if (mode == PNG_DECODE)
		set_rgb8_transforms(s->png, s->info, color_type, bit_depth);
	passes = png_set_interlace_handling(s->png);
	png_read_update_info(s->png, s->info);

	st = read_pixels(s, mode, passes, err);
	session_end(s);
	if (st != CV_OK)
		cv_rgb_image_free(&s->img);
	return st;
}

cv_status
cv_png_probe(const uint8_t *data, size_t len, uint64_t max_pixels,
			 cv_image_info *info, cv_error *err)
{
	png_session s;

	memset(&s, 0, sizeof(s));
	return png_run(&s, data, len, max_pixels, PNG_PROBE, info, err);
}

cv_status
cv_png_validate(const uint8_t *data, size_t len, uint64_t max_pixels,
				cv_image_info *info, cv_error *err)
{
	png_session s;

	memset(&s, 0, sizeof(s));
	return png_run(&s, data, len, max_pixels, PNG_VALIDATE, info, err);
}

cv_status
cv_png_decode(const uint8_t *data, size_t len, uint64_t max_pixels,
			  cv_rgb_image *out, cv_error *err)
{
	png_session s;
	cv_image_info info;
	cv_status	st;

	memset(&s, 0, sizeof(s));
	memset(&info, 0, sizeof(info));
	st = png_run(&s, data, len, max_pixels, PNG_DECODE, &info, err);
	if (st != CV_OK)
		return st;
	st = cv_image_orient(&s.img, info.orientation, err);
	if (st != CV_OK)
	{
		cv_rgb_image_free(&s.img);
		return st;
	}
	*out = s.img;
	return CV_OK;
}
