/*
 * image_jpeg.c
 *	  JPEG probe, validation and decoding with libjpeg-turbo.
 *
 * libjpeg reports fatal errors by calling error_exit, whose default prints
 * and calls exit(): unacceptable inside a database server.  We install an
 * error manager that records the message and longjmps back here, where the
 * decompressor is destroyed and a cv_status returned, so no libjpeg state or
 * raster leaks and nothing is ever printed.
 *
 * libjpeg treats a file that ends early as a warning (JWRN_JPEG_EOF: the
 * memory source pads with a fake EOI and decoding "succeeds" with grey
 * blocks).  A truncated upload must be rejected, so that one warning is
 * turned into CV_ERR_CORRUPT; other warnings (extraneous bytes before a
 * marker and the like) are common in real photos and harmless, and are
 * ignored.
 *
 * The pixel cap is checked on the dimensions of the SOF header, right after
 * jpeg_read_header and before jpeg_start_decompress allocates anything, so a
 * tiny file declaring 65500x65500 costs nothing.
 *
 * A progressive JPEG may hold any number of scans, each re-reading the whole
 * coefficient image: a few kilobytes can cost minutes (a "scan bomb").  A
 * progress monitor stops decoding past MAX_SCANS; real encoders use ten or
 * so.
 *
 * DCT scaling: libjpeg-turbo can run its inverse DCT at M/8 (M = 1..8),
 * producing a smaller image for a fraction of the work; a caller that only
 * needs 224x224 from a 12-megapixel photo gets a ~500x400 raster for about
 * a tenth of the cost of a full decode.
 */
#include "image_internal.h"
#include "exif.h"

#include <ctype.h>
#include <setjmp.h>
#include <stdio.h>				/* jpeglib.h needs FILE */
#include <string.h>

#include <jpeglib.h>
#include <jerror.h>

/* Far above what encoders emit (libjpeg's progressive script has 10). */
#define MAX_SCANS 500

typedef enum jpeg_mode
{
	JPEG_PROBE,
	JPEG_VALIDATE,
	JPEG_DECODE
} jpeg_mode;

/* Error manager: the libjpeg part must come first (libjpeg casts to it). */
typedef struct jpeg_guard
{
	struct jpeg_error_mgr pub;
	jmp_buf		jump;
	cv_status	code;
	char		message[JMSG_LENGTH_MAX + 32];
} jpeg_guard;

/* Everything a longjmp must find to clean up lives here, not in locals. */
typedef struct jpeg_session
{
	struct jpeg_decompress_struct cinfo;
	jpeg_guard	guard;
	struct jpeg_progress_mgr progress;
	bool		created;
	uint8_t    *row;			/* scratch scanline (validate, CMYK) */
	cv_rgb_image img;			/* raster being filled (decode) */
} jpeg_session;

/* libjpeg's sentences start upper-case and may end with a period. */
static void
tidy_message(char *msg)
{
	size_t		n = strlen(msg);

	/* keep acronyms ("JPEG ...", "SOI ...") as they are */
	if (n >= 2 && isupper((unsigned char) msg[0]) && !isupper((unsigned char) msg[1]))
		msg[0] = (char) tolower((unsigned char) msg[0]);
	while (n > 0 && (msg[n - 1] == '.' || msg[n - 1] == '\n'))
		msg[--n] = '\0';
}

static cv_status
status_for_code(int msg_code)
{
	switch (msg_code)
	{
		case JERR_OUT_OF_MEMORY:
			return CV_ERR_NOMEM;
		case JERR_IMAGE_TOO_BIG:
			return CV_ERR_LIMIT;
		case JERR_CONVERSION_NOTIMPL:
		case JERR_NOT_COMPILED:
		case JERR_NOTIMPL:
		case JERR_BAD_PRECISION:
		case JERR_ARITH_NOTIMPL:
		case JERR_EMPTY_IMAGE:
			return CV_ERR_UNSUPPORTED;
		default:
			return CV_ERR_CORRUPT;
	}
}

static void
guard_error_exit(j_common_ptr cinfo)
{
	jpeg_guard *g = (jpeg_guard *) cinfo->err;
	char		text[JMSG_LENGTH_MAX];

	(*cinfo->err->format_message) (cinfo, text);
	tidy_message(text);
	g->code = status_for_code(cinfo->err->msg_code);
	if (g->code == CV_ERR_CORRUPT)
		snprintf(g->message, sizeof(g->message), "corrupt JPEG data: %s", text);
	else
		snprintf(g->message, sizeof(g->message), "%s", text);
	longjmp(g->jump, 1);
}

static void
guard_emit_message(j_common_ptr cinfo, int msg_level)
{
	jpeg_guard *g = (jpeg_guard *) cinfo->err;

	if (msg_level == -1 && cinfo->err->msg_code == JWRN_JPEG_EOF)
	{
		g->code = CV_ERR_CORRUPT;
		snprintf(g->message, sizeof(g->message), "truncated JPEG data");
		longjmp(g->jump, 1);
	}
	if (msg_level == -1)
		cinfo->err->num_warnings++;
	/* trace messages (msg_level >= 0) are of no interest */
}

static void
guard_output_message(j_common_ptr cinfo)
{
	/* never print: the host reports errors its own way */
}

/* Called by libjpeg between passes and scans: stop scan bombs. */
static void
guard_progress(j_common_ptr cinfo)
{
	jpeg_guard *g = (jpeg_guard *) cinfo->err;
	j_decompress_ptr dinfo = (j_decompress_ptr) cinfo;

	if (cinfo->is_decompressor && dinfo->input_scan_number > MAX_SCANS)
	{
		g->code = CV_ERR_LIMIT;
		snprintf(g->message, sizeof(g->message),
				 "JPEG has more than %d scans", MAX_SCANS);
		longjmp(g->jump, 1);
	}
}

static void
session_end(jpeg_session *s)
{
	if (s->created)
		jpeg_destroy_decompress(&s->cinfo);
	s->created = false;
	cv_free(s->row);
	s->row = NULL;
}

/* EXIF orientation from the first APP1 marker that carries "Exif\0\0". */
static int
marker_orientation(j_decompress_ptr cinfo)
{
	for (jpeg_saved_marker_ptr m = cinfo->marker_list; m != NULL; m = m->next)
	{
		if (m->marker == JPEG_APP0 + 1 && m->data_length >= 6 &&
			memcmp(m->data, "Exif\0\0", 6) == 0)
			return cv_exif_orientation(m->data, m->data_length);
	}
	return 1;
}

/*
 * Smallest M/8 whose upright output covers min_width x min_height (0 = no
 * constraint on that axis); 8/8 when nothing smaller does.
 */
static void
choose_scale(j_decompress_ptr cinfo, int orientation, int min_width, int min_height)
{
	for (unsigned int m = 1; m <= 8; m++)
	{
		int			ow;
		int			oh;

		cinfo->scale_num = m;
		cinfo->scale_denom = 8;
		jpeg_calc_output_dimensions(cinfo);
		cv_orient_dims(orientation, (int) cinfo->output_width,
					   (int) cinfo->output_height, &ow, &oh);
		if (ow >= min_width && oh >= min_height)
			return;
	}
}

/*
 * Convert one CMYK scanline to RGB.  Adobe applications (the usual source
 * of CMYK JPEGs, recognised by their APP14 marker) store the inks inverted,
 * 255 = no ink; libjpeg hands the bytes over untouched, so the inversion is
 * ours.  Rounding as djpeg's CMYK-to-RGB does, so outputs compare exactly.
 */
static void
cmyk_row_to_rgb(const uint8_t *src, uint8_t *dst, size_t width, bool inverted)
{
	for (size_t x = 0; x < width; x++)
	{
		unsigned int c = src[0],
					m = src[1],
					y = src[2],
					k = src[3];

		if (!inverted)
		{
			c = 255 - c;
			m = 255 - m;
			y = 255 - y;
			k = 255 - k;
		}
		dst[0] = (uint8_t) ((c * k + 127) / 255);
		dst[1] = (uint8_t) ((m * k + 127) / 255);
		dst[2] = (uint8_t) ((y * k + 127) / 255);
		src += 4;
		dst += 3;
	}
}

/* Decompress all scanlines, either into s->img or, for validation, a row. */
static cv_status
read_pixels(jpeg_session *s, jpeg_mode mode, cv_error *err)
{
	j_decompress_ptr cinfo = &s->cinfo;
	bool		cmyk = cinfo->out_color_space == JCS_CMYK;
	size_t		row_bytes;
	cv_status	st;

	jpeg_start_decompress(cinfo);
	if (!cv_mul_size(cinfo->output_width, (size_t) cinfo->output_components, &row_bytes))
		return cv_fail(err, CV_ERR_LIMIT, "JPEG row size overflows");

	if (mode == JPEG_DECODE)
	{
		st = cv_rgb_image_alloc(&s->img, (int) cinfo->output_width,
								(int) cinfo->output_height, err);
		if (st != CV_OK)
			return st;
	}
	if (mode == JPEG_VALIDATE || cmyk)
	{
		s->row = cv_malloc(row_bytes);
		if (s->row == NULL)
			return cv_fail(err, CV_ERR_NOMEM, "out of memory for a JPEG scanline");
	}

	while (cinfo->output_scanline < cinfo->output_height)
	{
		JDIMENSION	y = cinfo->output_scanline;
		JSAMPROW	target;

		if (mode == JPEG_DECODE && !cmyk)
			target = s->img.pixels + (size_t) y * cinfo->output_width * 3;
		else
			target = s->row;
		if (jpeg_read_scanlines(cinfo, &target, 1) != 1)
			return cv_fail(err, CV_ERR_CORRUPT, "truncated JPEG data");
		if (mode == JPEG_DECODE && cmyk)
			cmyk_row_to_rgb(s->row, s->img.pixels + (size_t) y * cinfo->output_width * 3,
							cinfo->output_width, cinfo->saw_Adobe_marker);
	}
	/* reads up to EOI, so data cut after the last scan is caught too */
	jpeg_finish_decompress(cinfo);
	return CV_OK;
}

/* Body of every entry point; s is zeroed by the caller. */
static cv_status
jpeg_run(jpeg_session *s, const uint8_t *data, size_t len, uint64_t max_pixels,
		 jpeg_mode mode, int min_width, int min_height,
		 cv_image_info *info, cv_error *err)
{
	j_decompress_ptr cinfo = &s->cinfo;
	cv_status	st;
	int			orientation;

	cinfo->err = jpeg_std_error(&s->guard.pub);
	s->guard.pub.error_exit = guard_error_exit;
	s->guard.pub.emit_message = guard_emit_message;
	s->guard.pub.output_message = guard_output_message;
	if (setjmp(s->guard.jump))
	{
		session_end(s);
		cv_rgb_image_free(&s->img);
		return cv_fail(err, s->guard.code, "%s", s->guard.message);
	}

	jpeg_create_decompress(cinfo);
	s->created = true;
	s->progress.progress_monitor = guard_progress;
	cinfo->progress = &s->progress;
	jpeg_mem_src(cinfo, data, (unsigned long) len);
	jpeg_save_markers(cinfo, JPEG_APP0 + 1, 0xFFFF);
	/* TRUE: a tables-only datastream is an error, not a success */
	jpeg_read_header(cinfo, TRUE);

	orientation = marker_orientation(cinfo);
	info->format = CV_FORMAT_JPEG;
	info->stored_width = (int) cinfo->image_width;
	info->stored_height = (int) cinfo->image_height;
	info->orientation = orientation;
	info->channels = cinfo->num_components;
	info->progressive = cinfo->progressive_mode;
	cv_orient_dims(orientation, info->stored_width, info->stored_height,
				   &info->width, &info->height);

	st = cv_image_check_size("JPEG", cinfo->image_width, cinfo->image_height,
							 max_pixels, err);
	if (st != CV_OK || mode == JPEG_PROBE)
	{
		session_end(s);
		return st;
	}

	switch (cinfo->jpeg_color_space)
	{
		case JCS_CMYK:
		case JCS_YCCK:
			cinfo->out_color_space = JCS_CMYK;
			break;
		case JCS_GRAYSCALE:
		case JCS_YCbCr:
			/*
			 * Validation only needs every byte entropy-decoded; grey output
			 * lets libjpeg skip the chroma IDCT, upsampling and colour
			 * conversion.
			 */
			cinfo->out_color_space = mode == JPEG_VALIDATE ? JCS_GRAYSCALE : JCS_RGB;
			break;
		default:
			/* anything libjpeg cannot turn into RGB fails as unsupported */
			cinfo->out_color_space = JCS_RGB;
			break;
	}

	if (mode == JPEG_VALIDATE)
	{
		cinfo->scale_num = 1;
		cinfo->scale_denom = 8;
		cinfo->dct_method = JDCT_IFAST;
		cinfo->do_fancy_upsampling = FALSE;
		cinfo->do_block_smoothing = FALSE;
	}
	else if (min_width > 0 || min_height > 0)
		choose_scale(cinfo, orientation, min_width, min_height);

	st = read_pixels(s, mode, err);
	session_end(s);
	if (st != CV_OK)
	{
		cv_rgb_image_free(&s->img);
		return st;
	}
	return CV_OK;
}

cv_status
cv_jpeg_probe(const uint8_t *data, size_t len, uint64_t max_pixels,
			  cv_image_info *info, cv_error *err)
{
	jpeg_session s;

	memset(&s, 0, sizeof(s));
	return jpeg_run(&s, data, len, max_pixels, JPEG_PROBE, 0, 0, info, err);
}

cv_status
cv_jpeg_validate(const uint8_t *data, size_t len, uint64_t max_pixels,
				 cv_image_info *info, cv_error *err)
{
	jpeg_session s;

	memset(&s, 0, sizeof(s));
	return jpeg_run(&s, data, len, max_pixels, JPEG_VALIDATE, 0, 0, info, err);
}

cv_status
cv_jpeg_decode(const uint8_t *data, size_t len, uint64_t max_pixels,
			   int min_width, int min_height,
			   cv_rgb_image *out, cv_error *err)
{
	jpeg_session s;
	cv_image_info info;
	cv_status	st;

	memset(&s, 0, sizeof(s));
	memset(&info, 0, sizeof(info));
	st = jpeg_run(&s, data, len, max_pixels, JPEG_DECODE, min_width, min_height,
				  &info, err);
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
