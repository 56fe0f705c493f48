/*
 * test_image_bmp.c
 *	  BMP decoding: the shared photos against netpbm's bmptopnm, files
 *	  written by ppmtobmp, hand-built 32-bit top-down / bit-field variants,
 *	  and every way a header can lie.
 */
#include "test_image_util.h"

#include <limits.h>

static void
check_bmp_file(const char *path, int expect_w, int expect_h)
{
	size_t		len = 0;
	unsigned char *data = unit_read_file(path, &len);
	char		cmd[PATH_MAX + 64];
	cv_rgb_image img,
				ref;
	cv_image_info info;
	cv_error	err;

	CHECK_MSG(data != NULL, "cannot read %s", path);
	if (!data)
		return;
	CHECK(cv_image_probe(data, len, TU_LIMIT, &info, &err) == CV_OK);
	CHECK(info.format == CV_FORMAT_BMP && info.width == expect_w && info.height == expect_h);
	CHECK(info.orientation == 1 && !info.progressive);
	CHECK(cv_image_validate(data, len, TU_LIMIT, &info, &err) == CV_OK);
	CHECK_MSG(cv_image_decode(data, len, TU_LIMIT, 0, 0, &img, &err) == CV_OK, "%s", err.message);
	snprintf(cmd, sizeof(cmd), "bmptopnm '%s' 2>/dev/null", path);
	if (img.pixels && tu_reference(cmd, &ref))
	{
		int			maxd;

		CHECK(tu_diff_bytes(&img, &ref, &maxd) == 0);
		tu_free_ref(&ref);
	}
	else
		CHECK(false);
	cv_rgb_image_free(&img);
	free(data);
}

static void
test_shared_bmps(void)
{
	char		path[PATH_MAX];

	snprintf(path, sizeof(path), "%s", unit_shared_path("images/cat.bmp"));
	check_bmp_file(path, 512, 341);
	snprintf(path, sizeof(path), "%s", unit_shared_path("images/sunflower.bmp"));
	{
		size_t		len;
		unsigned char *d = unit_read_file(path, &len);
		cv_image_info info;
		cv_error	err;

		CHECK(d != NULL && cv_image_probe(d, len, TU_LIMIT, &info, &err) == CV_OK);
		if (d)
			check_bmp_file(path, info.width, info.height);
		free(d);
	}
}

static void
put_le16(unsigned char *p, uint32_t v)
{
	p[0] = (unsigned char) v;
	p[1] = (unsigned char) (v >> 8);
}

static void
put_le32(unsigned char *p, uint32_t v)
{
	put_le16(p, v & 0xFFFF);
	put_le16(p + 2, v >> 16);
}

/*
 * Build a BMP from an RGB raster.  dib: 40, 108 or 124; bpp 24 or 32;
 * compression 0 or 3 (masks = R, G, B); top_down: negative height.
 */
static unsigned char *
build_bmp(const cv_rgb_image *rgb, uint32_t dib, int bpp, uint32_t compression,
		  const uint32_t masks[3], bool top_down, size_t *out_len)
{
	size_t		stride = (((size_t) rgb->width * bpp + 31) / 32) * 4;
	size_t		extra = (dib == 40 && compression == 3) ? 12 : 0;
	size_t		off = 14 + dib + extra;
	size_t		len = off + stride * rgb->height;
	unsigned char *b = calloc(1, len);

	b[0] = 'B';
	b[1] = 'M';
	put_le32(b + 2, (uint32_t) len);
	put_le32(b + 10, (uint32_t) off);
	put_le32(b + 14, dib);
	put_le32(b + 18, (uint32_t) rgb->width);
	put_le32(b + 22, (uint32_t) (top_down ? -rgb->height : rgb->height));
	put_le16(b + 26, 1);
	put_le16(b + 28, (uint32_t) bpp);
	put_le32(b + 30, compression);
	put_le32(b + 34, (uint32_t) (stride * rgb->height));
	if (compression == 3)
		for (int c = 0; c < 3; c++)
			put_le32(b + 54 + 4 * c, masks[c]);
	for (int y = 0; y < rgb->height; y++)
	{
		unsigned char *row = b + off + stride * (top_down ? y : rgb->height - 1 - y);

		for (int x = 0; x < rgb->width; x++)
		{
			const uint8_t *s = rgb->pixels + ((size_t) y * rgb->width + x) * 3;

			if (bpp == 24)
			{
				row[x * 3] = s[2];
				row[x * 3 + 1] = s[1];
				row[x * 3 + 2] = s[0];
			}
			else
			{
				uint32_t	px = 0xA5u;	/* junk in the unused bits */
				uint32_t	m[3] = {0xFF0000, 0xFF00, 0xFF};

				if (compression == 3)
					memcpy(m, masks, sizeof(m));
				px = 0;
				for (int c = 0; c < 3; c++)
				{
					int			sh = 0;

					while (((m[c] >> sh) & 1) == 0)
						sh++;
					px |= (uint32_t) s[c] << sh;
				}
				/* fill the byte no mask selects, to prove it is ignored */
				px |= ~(m[0] | m[1] | m[2]) & 0xA5A5A5A5u;
				put_le32(row + x * 4, px);
			}
		}
	}
	*out_len = len;
	return b;
}

static cv_rgb_image base;

static void
test_setup(void)
{
	char		cmd[PATH_MAX + 128];

	snprintf(cmd, sizeof(cmd), "djpeg -ppm -scale 1/8 '%s' | pamcut 0 0 37 23",
			 unit_shared_path("datasets/fruit-od/images/banana_41.jpg"));
	CHECK(tu_reference(cmd, &base));
}

static void
check_same(const unsigned char *b, size_t len, const char *what)
{
	cv_rgb_image img;
	cv_error	err;
	cv_status	st = cv_image_decode(b, len, TU_LIMIT, 0, 0, &img, &err);

	CHECK_MSG(st == CV_OK, "%s: %s", what, err.message);
	if (st == CV_OK)
	{
		int			maxd;

		CHECK_MSG(tu_diff_bytes(&img, &base, &maxd) == 0, "%s differs", what);
	}
	cv_rgb_image_free(&img);
}

static void
test_ppmtobmp(void)
{
	char		cmd[256];
	char	   *ppm_path;
	size_t		len;
	unsigned char *ppm;
	unsigned char *bmp;
	char		header[64];
	int			hl = snprintf(header, sizeof(header), "P6\n%d %d\n255\n", base.width, base.height);

	ppm = malloc(hl + (size_t) base.width * base.height * 3);
	memcpy(ppm, header, hl);
	memcpy(ppm + hl, base.pixels, (size_t) base.width * base.height * 3);
	ppm_path = tu_write_temp(ppm, hl + (size_t) base.width * base.height * 3, ".ppm");
	/* netpbm writes bottom-up 24-bit BI_RGB with a 40-byte header */
	snprintf(cmd, sizeof(cmd), "ppmtobmp -bpp=24 '%s' 2>/dev/null", ppm_path);
	bmp = tu_run(cmd, &len);
	CHECK(bmp != NULL);
	if (bmp)
	{
		CHECK(bmp[14] == 40 && bmp[28] == 24);
		check_same(bmp, len, "ppmtobmp 24");
		free(bmp);
	}
	/* its 8-bit palette output is a format we refuse, clearly */
	snprintf(cmd, sizeof(cmd), "pnmquant 16 '%s' 2>/dev/null | ppmtobmp -bpp=8 2>/dev/null", ppm_path);
	bmp = tu_run(cmd, &len);
	CHECK(bmp != NULL);
	if (bmp)
	{
		cv_image_info info;
		cv_error	err;

		CHECK(cv_image_probe(bmp, len, TU_LIMIT, &info, &err) == CV_ERR_UNSUPPORTED);
		CHECK_MSG(strcmp(err.message, "BMP with 8 bits per pixel is not supported (only 24 and 32)") == 0,
				  "%s", err.message);
		free(bmp);
	}
	tu_remove_temp(ppm_path);
	free(ppm);
}

static void
test_built_variants(void)
{
	static const uint32_t bgrx[3] = {0xFF0000, 0xFF00, 0xFF};
	static const uint32_t rgbx[3] = {0xFF, 0xFF00, 0xFF0000};
	static const uint32_t xrgb[3] = {0xFF000000, 0xFF0000, 0xFF00};
	static const uint32_t dibs[3] = {40, 108, 124};

	for (int d = 0; d < 3; d++)
		for (int td = 0; td < 2; td++)
		{
			size_t		len;
			unsigned char *b;
			char		what[64];

			snprintf(what, sizeof(what), "dib %u 24-bit %s", dibs[d], td ? "top-down" : "bottom-up");
			b = build_bmp(&base, dibs[d], 24, 0, NULL, td, &len);
			check_same(b, len, what);
			/* the last row's padding may be missing */
			check_same(b, len - 1, what);
			free(b);
			snprintf(what, sizeof(what), "dib %u 32-bit %s", dibs[d], td ? "top-down" : "bottom-up");
			b = build_bmp(&base, dibs[d], 32, 0, NULL, td, &len);
			check_same(b, len, what);
			free(b);
			b = build_bmp(&base, dibs[d], 32, 3, bgrx, td, &len);
			check_same(b, len, "bitfields bgrx");
			free(b);
			b = build_bmp(&base, dibs[d], 32, 3, rgbx, td, &len);
			check_same(b, len, "bitfields rgbx");
			free(b);
			b = build_bmp(&base, dibs[d], 32, 3, xrgb, td, &len);
			check_same(b, len, "bitfields xrgb");
			free(b);
		}
}

static cv_status
probe_status(const unsigned char *b, size_t len, cv_error *err)
{
	cv_image_info info;
	cv_rgb_image img;
	cv_status	st = cv_image_probe(b, len, TU_LIMIT, &info, err);

	/* decoding must agree with probing on every broken header */
	CHECK(cv_image_validate(b, len, TU_LIMIT, &info, NULL) == st);
	if (st != CV_OK)
	{
		CHECK(cv_image_decode(b, len, TU_LIMIT, 0, 0, &img, NULL) == st);
		CHECK(img.pixels == NULL);
	}
	return st;
}

static void
test_lying_headers(void)
{
	size_t		len;
	unsigned char *good = build_bmp(&base, 40, 24, 0, NULL, false, &len);
	unsigned char *b = malloc(len);
	cv_error	err;

#define RESET() memcpy(b, good, len)
	/* pixel offset past the end, far past it, and inside the headers */
	RESET();
	put_le32(b + 10, (uint32_t) len + 100);
	CHECK(probe_status(b, len, &err) == CV_ERR_CORRUPT);
	CHECK_MSG(strstr(err.message, "runs past the end") != NULL, "%s", err.message);
	RESET();
	put_le32(b + 10, 0xFFFFFFF0u);
	CHECK(probe_status(b, len, &err) == CV_ERR_CORRUPT);
	RESET();
	put_le32(b + 10, 20);
	CHECK(probe_status(b, len, &err) == CV_ERR_CORRUPT);
	/* pixel data cut short (more than the last row's padding) */
	RESET();
	CHECK(probe_status(b, len - 4, &err) == CV_ERR_CORRUPT);
	CHECK(probe_status(b, len / 2, &err) == CV_ERR_CORRUPT);
	/* header cut short */
	CHECK(probe_status(b, 30, &err) == CV_ERR_CORRUPT);
	CHECK(probe_status(b, 2, &err) == CV_ERR_CORRUPT);
	/* dimensions: zero, negative width, INT32_MIN height, too many pixels */
	RESET();
	put_le32(b + 18, 0);
	CHECK(probe_status(b, len, &err) == CV_ERR_CORRUPT);
	RESET();
	put_le32(b + 18, (uint32_t) -5);
	CHECK(probe_status(b, len, &err) == CV_ERR_CORRUPT);
	RESET();
	put_le32(b + 22, 0x80000000u);
	CHECK(probe_status(b, len, &err) == CV_ERR_CORRUPT);
	RESET();
	put_le32(b + 18, 100000);
	put_le32(b + 22, (uint32_t) -100000);
	CHECK(probe_status(b, len, &err) == CV_ERR_LIMIT);
	CHECK_MSG(strcmp(err.message, "BMP declares 100000x100000 pixels, more than the limit of 67108864") == 0,
			  "%s", err.message);
	RESET();
	put_le32(b + 18, 0x7FFFFFFF);
	put_le32(b + 22, 0x7FFFFFFF);
	CHECK(cv_image_probe(b, len, 0, NULL, &err) == CV_ERR_CORRUPT);	/* no cap: size check */
	/* planes, header size, compression, depth, masks */
	RESET();
	put_le16(b + 26, 3);
	CHECK(probe_status(b, len, &err) == CV_ERR_CORRUPT);
	RESET();
	put_le32(b + 14, 12);
	CHECK(probe_status(b, len, &err) == CV_ERR_UNSUPPORTED);
	RESET();
	put_le32(b + 14, 999);
	CHECK(probe_status(b, len, &err) == CV_ERR_CORRUPT);
	RESET();
	put_le32(b + 30, 1);
	put_le16(b + 28, 8);
	CHECK(probe_status(b, len, &err) == CV_ERR_UNSUPPORTED);
	CHECK_MSG(strcmp(err.message, "RLE8-compressed BMP is not supported") == 0, "%s", err.message);
	RESET();
	put_le32(b + 30, 4);
	CHECK(probe_status(b, len, &err) == CV_ERR_UNSUPPORTED);
	RESET();
	put_le32(b + 30, 77);
	CHECK(probe_status(b, len, &err) == CV_ERR_CORRUPT);
	RESET();
	put_le16(b + 28, 16);
	CHECK(probe_status(b, len, &err) == CV_ERR_UNSUPPORTED);
	RESET();
	put_le16(b + 28, 1);
	CHECK(probe_status(b, len, &err) == CV_ERR_UNSUPPORTED);
	RESET();
	put_le32(b + 30, 3);		/* 24-bit with masks */
	CHECK(probe_status(b, len, &err) == CV_ERR_UNSUPPORTED);
	free(good);
	free(b);

	{
		static const uint32_t odd[3] = {0x7C00, 0x03E0, 0x001F};	/* 5-5-5 */

		good = build_bmp(&base, 40, 32, 3, odd, false, &len);
		CHECK(probe_status(good, len, &err) == CV_ERR_UNSUPPORTED);
		CHECK_MSG(strstr(err.message, "0x00007c00") != NULL, "%s", err.message);
		/* masks declared but the file ends inside them */
		CHECK(probe_status(good, 60, &err) == CV_ERR_CORRUPT);
		free(good);
	}
#undef RESET
}

static void
test_cleanup(void)
{
	tu_free_ref(&base);
}

UNIT_MAIN("image_bmp",
		  UNIT_CASE(test_setup),
		  UNIT_CASE(test_shared_bmps),
		  UNIT_CASE(test_ppmtobmp),
		  UNIT_CASE(test_built_variants),
		  UNIT_CASE(test_lying_headers),
		  UNIT_CASE(test_cleanup))
