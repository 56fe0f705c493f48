/*
 * fuzz_common.c
 *	  The checks shared by the harnesses of test/fuzz (see fuzz_common.h).
 *
 * The image checks drive one format's probe, validate and decode entry
 * points (image_internal.h) directly rather than through the sniffing of
 * image.c, so that an input whose magic the fuzzer broke still reaches the
 * decoder's own checks.  The public dispatch is exercised too, once per
 * input, through cv_image_probe.
 */
#include "fuzz_common.h"

#include <string.h>

void
fuzz_check_status(cv_status st, const cv_error *err)
{
	if (st == CV_OK)
		return;
	FUZZ_ASSERT(st != CV_ERR_INTERNAL);
	FUZZ_ASSERT(err->code == st);
	FUZZ_ASSERT(err->message[0] != '\0');
}

static cv_status
probe(cv_image_format format, const uint8_t *data, size_t len,
	  cv_image_info *info, cv_error *err)
{
	switch (format)
	{
		case CV_FORMAT_JPEG:
			return cv_jpeg_probe(data, len, FUZZ_MAX_PIXELS, info, err);
		case CV_FORMAT_PNG:
			return cv_png_probe(data, len, FUZZ_MAX_PIXELS, info, err);
		default:
			return cv_bmp_probe(data, len, FUZZ_MAX_PIXELS, info, err);
	}
}

/* BMP has no validation pass of its own: its probe checks the extent. */
static cv_status
validate(cv_image_format format, const uint8_t *data, size_t len,
		 cv_image_info *info, cv_error *err)
{
	switch (format)
	{
		case CV_FORMAT_JPEG:
			return cv_jpeg_validate(data, len, FUZZ_MAX_PIXELS, info, err);
		case CV_FORMAT_PNG:
			return cv_png_validate(data, len, FUZZ_MAX_PIXELS, info, err);
		default:
			return cv_bmp_probe(data, len, FUZZ_MAX_PIXELS, info, err);
	}
}

static cv_status
decode(cv_image_format format, const uint8_t *data, size_t len, int min_size,
	   cv_rgb_image *out, cv_error *err)
{
	switch (format)
	{
		case CV_FORMAT_JPEG:
			return cv_jpeg_decode(data, len, FUZZ_MAX_PIXELS, min_size, min_size, out, err);
		case CV_FORMAT_PNG:
			return cv_png_decode(data, len, FUZZ_MAX_PIXELS, out, err);
		default:
			return cv_bmp_decode(data, len, FUZZ_MAX_PIXELS, out, err);
	}
}

/* Decode (into a zeroed out) and check what image.h promises of it. */
static cv_status
checked_decode(cv_image_format format, const uint8_t *data, size_t len,
			   int min_size, cv_rgb_image *out)
{
	cv_error	err;
	cv_status	st;

	memset(out, 0, sizeof(*out));
	cv_error_clear(&err);
	st = decode(format, data, len, min_size, out, &err);
	fuzz_check_status(st, &err);
	if (st != CV_OK)
		FUZZ_ASSERT(out->pixels == NULL && out->width == 0 && out->height == 0);
	else
		FUZZ_ASSERT(out->pixels != NULL && out->width > 0 && out->height > 0);
	return st;
}

/* Both resizers to a small size the input picks: cheap, and any size goes. */
static void
resize(const cv_rgb_image *img, size_t len)
{
	int			w = 1 + (int) (len % 37);
	int			h = 1 + (int) (len / 37 % 29);
	cv_rgb_image out;
	cv_error	err;
	cv_status	st;

	st = cv_image_resize(img, w, h, &out, &err);
	fuzz_check_status(st, &err);
	if (st == CV_OK)
	{
		FUZZ_ASSERT(out.width == w && out.height == h);
		cv_rgb_image_free(&out);
	}
	st = cv_image_resize_bilinear(img, w, h, &out, &err);
	fuzz_check_status(st, &err);
	if (st == CV_OK)
	{
		FUZZ_ASSERT(out.width == w && out.height == h);
		cv_rgb_image_free(&out);
	}
}

void
fuzz_image(cv_image_format format, const uint8_t *data, size_t len)
{
	cv_image_info info,
				vinfo,
				pinfo;
	cv_rgb_image full,
				small;
	cv_error	err;
	cv_status	pst,
				vst,
				dst,
				st;

	/* the public dispatch: sniffing, then the same code as below */
	st = cv_image_probe(data, len, FUZZ_MAX_PIXELS, &pinfo, &err);
	fuzz_check_status(st, &err);

	memset(&info, 0, sizeof(info));
	pst = probe(format, data, len, &info, &err);
	fuzz_check_status(pst, &err);
	if (pst == CV_OK)
	{
		FUZZ_ASSERT(info.format == format);
		FUZZ_ASSERT(info.width > 0 && info.height > 0);
		FUZZ_ASSERT((uint64_t) info.width * info.height <= FUZZ_MAX_PIXELS);
		FUZZ_ASSERT(info.orientation >= 1 && info.orientation <= 8);
	}

	memset(&vinfo, 0, sizeof(vinfo));
	vst = validate(format, data, len, &vinfo, &err);
	fuzz_check_status(vst, &err);
	/* validation is the probe plus a pass over the pixels */
	if (pst != CV_OK)
		FUZZ_ASSERT(vst != CV_OK);
	if (vst == CV_OK)
		FUZZ_ASSERT(vinfo.width == info.width && vinfo.height == info.height &&
					vinfo.orientation == info.orientation);

	dst = checked_decode(format, data, len, 0, &full);
	if (pst != CV_OK)
		FUZZ_ASSERT(dst != CV_OK);
	/* what validation accepts, decoding accepts (memory permitting) */
	if (vst == CV_OK)
		FUZZ_ASSERT(dst == CV_OK || dst == CV_ERR_NOMEM);
	if (dst == CV_OK)
	{
		/* full resolution, upright: the size the probe reported */
		FUZZ_ASSERT(full.width == info.width && full.height == info.height);
		resize(&full, len);
		cv_rgb_image_free(&full);
	}

	/* JPEG also decodes at a DCT scale: the smallest one covering 1x1 */
	if (format == CV_FORMAT_JPEG)
	{
		st = checked_decode(format, data, len, 1, &small);
		if (vst == CV_OK)
			FUZZ_ASSERT(st == CV_OK || st == CV_ERR_NOMEM);
		if (st == CV_OK)
		{
			FUZZ_ASSERT(pst == CV_OK);
			FUZZ_ASSERT(small.width <= info.width && small.height <= info.height);
			cv_rgb_image_free(&small);
		}
	}
}

/* Multiply-adds and arena bytes up to which a loaded net is also run. */
#define FUZZ_RUN_MACS 4e6
#define FUZZ_RUN_ARENA ((size_t) 64 << 20)

void
fuzz_net(const cv_net *net)
{
	const cv_net_info *info = cv_net_get_info(net);
	int			nact = cv_net_num_activations(net);
	int			nout = 0;
	float	   *outs[CV_NET_MAX_OUTPUTS] = {0};
	float	   *scores = NULL,
			   *features = NULL;
	uint8_t    *rgb;
	cv_net_workspace *ws = NULL;
	cv_error	err;
	cv_status	st;
	size_t		npix;

	FUZZ_ASSERT(info->input_width > 0 && info->input_height > 0);
	FUZZ_ASSERT(info->input_channels == 3);
	FUZZ_ASSERT(nact >= 0);
	for (int i = 0; i < nact; i++)
	{
		int			tensor,
					dims[4];
		const char *name;

		FUZZ_ASSERT(cv_net_activation(net, i, &tensor, dims, &name));
		FUZZ_ASSERT(tensor >= 0 && name != NULL);
		for (int d = 0; d < 4; d++)
			FUZZ_ASSERT(dims[d] > 0);
	}
	FUZZ_ASSERT(!cv_net_activation(net, nact, NULL, NULL, NULL));
	for (int s = 0; s < cv_net_num_steps(net); s++)
		FUZZ_ASSERT(cv_net_step_name(net, s) != NULL &&
					cv_net_step_detail(net, s) != NULL);

	if (!(info->macs <= FUZZ_RUN_MACS) || info->arena_bytes > FUZZ_RUN_ARENA)
		return;
	npix = (size_t) info->input_width * info->input_height * 3;
	if (npix > FUZZ_RUN_ARENA)
		return;
	st = cv_net_workspace_create(net, &ws, &err);
	fuzz_check_status(st, &err);
	if (st != CV_OK)
		return;
	rgb = malloc(npix);
	FUZZ_ASSERT(rgb != NULL);
	for (size_t i = 0; i < npix; i++)
		rgb[i] = (uint8_t) (i * 31 + 7);

	/* the requested outputs, each in a buffer of exactly its size */
	while (nout < CV_NET_MAX_OUTPUTS)
	{
		int			dims[4];

		if (!cv_net_output_shape(net, nout, dims))
			break;
		outs[nout] = malloc(sizeof(float) * dims[0] * dims[1] * dims[2] * dims[3]);
		FUZZ_ASSERT(outs[nout] != NULL);
		nout++;
	}
	st = cv_net_run_outputs(net, ws, rgb, outs, &err);
	fuzz_check_status(st, &err);

	/* scores and features, where the net has them */
	if (info->num_outputs > 0)
		scores = malloc(sizeof(float) * info->num_outputs);
	if (info->feature_dim > 0)
		features = malloc(sizeof(float) * info->feature_dim);
	if (scores != NULL || features != NULL)
	{
		st = cv_net_run(net, ws, rgb, scores, features, &err);
		fuzz_check_status(st, &err);
	}

	free(scores);
	free(features);
	for (int k = 0; k < nout; k++)
		free(outs[k]);
	free(rgb);
	cv_net_workspace_free(ws);
}

uint32_t
fuzz_crc32(const uint8_t *p, size_t len)
{
	uint32_t	crc = 0xFFFFFFFFu;

	for (size_t i = 0; i < len; i++)
	{
		crc ^= p[i];
		for (int b = 0; b < 8; b++)
			crc = crc & 1 ? 0xEDB88320u ^ (crc >> 1) : crc >> 1;
	}
	return crc ^ 0xFFFFFFFFu;
}

void
fuzz_put_le(uint8_t *p, uint64_t v, int n)
{
	for (int i = 0; i < n; i++)
		p[i] = (uint8_t) (v >> (8 * i));
}
