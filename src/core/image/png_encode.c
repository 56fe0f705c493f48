/*
 * png_encode.c
 *	  An RGB image as PNG bytes in memory, with libpng 1.6 (cv_draw's
 *	  output).
 *
 * As in image_png.c, libpng's error callback records the message and
 * longjmps back to the one setjmp here, which frees the write structures
 * and the output buffer; warnings are swallowed so nothing reaches the
 * server log.  The output grows by doubling through cv_realloc.  Filtering
 * and compression are libpng's defaults at level 6: a photo with a few
 * boxes drawn on it is what it encodes, where speed and size balance.
 */
#include "image_internal.h"

#include <setjmp.h>
#include <stdio.h>
#include <string.h>

#include <png.h>

/* State a longjmp must find: never kept in locals of cv_image_encode_png. */
typedef struct png_sink
{
	png_structp png;
	png_infop	info;
	uint8_t    *data;
	size_t		len;
	size_t		cap;
	cv_status	code;
	char		message[CV_ERROR_MESSAGE_LEN];
} png_sink;

static void
sink_fail(png_sink *s, cv_status code, const char *message)
{
	if (s->code != CV_OK)
		return;
	s->code = code;
	snprintf(s->message, sizeof(s->message), "%s", message);
}

static void
on_error(png_structp png, png_const_charp msg)
{
	png_sink   *s = (png_sink *) png_get_error_ptr(png);
	char		text[CV_ERROR_MESSAGE_LEN];

	snprintf(text, sizeof(text), "cannot encode PNG: %s", msg);
	sink_fail(s, CV_ERR_INTERNAL, text);
	png_longjmp(png, 1);
}

static void
on_warning(png_structp png, png_const_charp msg)
{
	(void) png;
	(void) msg;
}

static void
on_write(png_structp png, png_bytep bytes, png_size_t n)
{
	png_sink   *s = (png_sink *) png_get_io_ptr(png);

	if (s->len + n > s->cap)
	{
		size_t		cap = s->cap ? s->cap : 65536;
		uint8_t    *d;

		while (cap < s->len + n)
			cap *= 2;
		d = cv_realloc(s->data, cap);
		if (d == NULL)
		{
			sink_fail(s, CV_ERR_NOMEM, "out of memory encoding PNG");
			png_longjmp(png, 1);
		}
		s->data = d;
		s->cap = cap;
	}
	memcpy(s->data + s->len, bytes, n);
	s->len += n;
}

static void
on_flush(png_structp png)
{
	(void) png;
}

/* libpng allocates through our allocator, so the host's limits apply. */
static png_voidp
on_malloc(png_structp png, png_alloc_size_t size)
{
	(void) png;
	return cv_malloc(size);
}

static void
on_free(png_structp png, png_voidp ptr)
{
	(void) png;
	cv_free(ptr);
}

cv_status
cv_image_encode_png(const cv_rgb_image *img, uint8_t **out, size_t *len, cv_error *err)
{
	png_sink	sink;

	if (img == NULL || img->pixels == NULL || img->width < 1 || img->height < 1 ||
		out == NULL || len == NULL)
		return cv_fail(err, CV_ERR_PARAM, "no image to encode");
	*out = NULL;
	*len = 0;
	memset(&sink, 0, sizeof(sink));
	sink.png = png_create_write_struct_2(PNG_LIBPNG_VER_STRING, &sink, on_error, on_warning,
										 NULL, on_malloc, on_free);
	if (sink.png == NULL)
		return cv_fail(err, CV_ERR_NOMEM, "out of memory encoding PNG");
	if (setjmp(png_jmpbuf(sink.png)))
	{
		png_destroy_write_struct(&sink.png, &sink.info);
		cv_free(sink.data);
		if (sink.code == CV_OK)
			sink_fail(&sink, CV_ERR_INTERNAL, "cannot encode PNG");
		return cv_fail(err, sink.code, "%s", sink.message);
	}
	sink.info = png_create_info_struct(sink.png);
	if (sink.info == NULL)
	{
		sink_fail(&sink, CV_ERR_NOMEM, "out of memory encoding PNG");
		png_longjmp(sink.png, 1);
	}
	png_set_write_fn(sink.png, &sink, on_write, on_flush);
	png_set_IHDR(sink.png, sink.info, (png_uint_32) img->width, (png_uint_32) img->height, 8,
				 PNG_COLOR_TYPE_RGB, PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT,
				 PNG_FILTER_TYPE_DEFAULT);
	png_set_compression_level(sink.png, 6);
	png_write_info(sink.png, sink.info);
	for (int y = 0; y < img->height; y++)
		png_write_row(sink.png, img->pixels + (size_t) y * img->width * 3);
	png_write_end(sink.png, sink.info);
	png_destroy_write_struct(&sink.png, &sink.info);
	*out = sink.data;
	*len = sink.len;
	return CV_OK;
}
