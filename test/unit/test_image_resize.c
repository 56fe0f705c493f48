/*
 * test_image_resize.c
 *	  Resizing on hand-computed rasters and against the reference resize
 *	  functions of ../shared/peers/run_ort.js (run with node at test time);
 *	  EXIF parsing and orientation on tiny inputs.
 */
#include "test_image_util.h"
#include "image/exif.h"
#include "image/image_internal.h"

#include <limits.h>

static cv_rgb_image
raster(int w, int h, const uint8_t *px)
{
	cv_rgb_image img;

	img.width = w;
	img.height = h;
	img.pixels = (uint8_t *) px;
	return img;
}

/* One channel replicated into RGB, for readable hand computations. */
static cv_rgb_image
grey_raster(int w, int h, const uint8_t *v)
{
	uint8_t    *px = malloc((size_t) w * h * 3);

	for (int i = 0; i < w * h; i++)
		px[i * 3] = px[i * 3 + 1] = px[i * 3 + 2] = v[i];
	return raster(w, h, px);
}

static bool
grey_equals(const cv_rgb_image *img, const uint8_t *expect, int n)
{
	bool		ok = true;

	for (int i = 0; i < n; i++)
		for (int c = 0; c < 3; c++)
			if (img->pixels[i * 3 + c] != expect[i])
			{
				fprintf(stderr, "  pixel %d channel %d: %d, expected %d\n", i, c,
						img->pixels[i * 3 + c], expect[i]);
				ok = false;
			}
	return ok;
}

static void
test_area_by_hand(void)
{
	static const uint8_t p2x2[] = {0, 10, 20, 30, 40, 50, 60, 70, 80, 90, 100, 111};
	cv_rgb_image src = raster(2, 2, p2x2),
				out;
	cv_error	err;

	/* 2x2 -> 1x1: plain mean, rounded half up: 261 / 4 = 65.25 -> 65 */
	CHECK(cv_image_resize(&src, 1, 1, &out, &err) == CV_OK);
	CHECK(out.width == 1 && out.height == 1);
	CHECK(out.pixels[0] == 45 && out.pixels[1] == 55 && out.pixels[2] == 65);
	cv_rgb_image_free(&out);

	{
		/* halves round up: (1 + 0) / 2 = 0.5 -> 1 */
		static const uint8_t v[] = {1, 0};
		static const uint8_t e[] = {1};
		cv_rgb_image g = grey_raster(2, 1, v);

		CHECK(cv_image_resize(&g, 1, 1, &out, &err) == CV_OK && grey_equals(&out, e, 1));
		cv_rgb_image_free(&out);
		free(g.pixels);
	}
	{
		/* 3 -> 2: boxes [0, 1.5) and [1.5, 3): (0 + 90/2) / 1.5, (90/2 + 180) / 1.5 */
		static const uint8_t v[] = {0, 90, 180};
		static const uint8_t e[] = {30, 150};
		cv_rgb_image g = grey_raster(3, 1, v);

		CHECK(cv_image_resize(&g, 2, 1, &out, &err) == CV_OK && grey_equals(&out, e, 2));
		cv_rgb_image_free(&out);
		free(g.pixels);
	}
	{
		/* same along y, and a non-integer ratio 5 -> 3 (box 5/3):
		 * o0 = (10 + 20*2/3) * 3/5 = 14, o1 = (20/3 + 30 + 40/3) * 3/5 = 30,
		 * o2 = (40*2/3 + 50) * 3/5 = 46 */
		static const uint8_t v[] = {10, 20, 30, 40, 50};
		static const uint8_t e[] = {14, 30, 46};
		cv_rgb_image g = grey_raster(1, 5, v);

		CHECK(cv_image_resize(&g, 1, 3, &out, &err) == CV_OK && grey_equals(&out, e, 3));
		cv_rgb_image_free(&out);
		free(g.pixels);
	}
}

static void
test_grow_by_hand(void)
{
	cv_rgb_image out;
	cv_error	err;

	{
		/* 1x2 -> 1x4, half-pixel centres: src y = -0.25 (clamped to 0),
		 * 0.25, 0.75, 1.25 (clamped to 1) */
		static const uint8_t v[] = {0, 100};
		static const uint8_t e[] = {0, 25, 75, 100};
		cv_rgb_image g = grey_raster(1, 2, v);

		CHECK(cv_image_resize(&g, 1, 4, &out, &err) == CV_OK && grey_equals(&out, e, 4));
		cv_rgb_image_free(&out);
		/* the TFLite variant agrees here (all exact in binary) */
		CHECK(cv_image_resize_bilinear(&g, 1, 4, &out, &err) == CV_OK && grey_equals(&out, e, 4));
		cv_rgb_image_free(&out);
		free(g.pixels);
	}
	{
		/* 0, 255: 63.75 and 191.25 round to 64 / 191 but truncate to 63 / 191 */
		static const uint8_t v[] = {0, 255};
		static const uint8_t rounded[] = {0, 64, 191, 255};
		static const uint8_t truncated[] = {0, 63, 191, 255};
		cv_rgb_image g = grey_raster(2, 1, v);

		CHECK(cv_image_resize(&g, 4, 1, &out, &err) == CV_OK && grey_equals(&out, rounded, 4));
		cv_rgb_image_free(&out);
		CHECK(cv_image_resize_bilinear(&g, 4, 1, &out, &err) == CV_OK && grey_equals(&out, truncated, 4));
		cv_rgb_image_free(&out);
		free(g.pixels);
	}
	{
		/* mixed: 2x1 -> 1x2 shrinks x (average) and grows y (replicates) */
		static const uint8_t v[] = {10, 31};
		static const uint8_t e[] = {21, 21};
		cv_rgb_image g = grey_raster(2, 1, v);

		CHECK(cv_image_resize(&g, 1, 2, &out, &err) == CV_OK && grey_equals(&out, e, 2));
		cv_rgb_image_free(&out);
		free(g.pixels);
	}
}

static void
test_bilinear_by_hand(void)
{
	cv_rgb_image out;
	cv_error	err;

	/* 3 -> 2: scale 1.5, src = 0.25 and 1.75: 10*.75 + 20*.25 = 12.5 -> 12;
	 * 20*.25 + 31*.75 = 28.25 -> 28 (truncated, not rounded) */
	static const uint8_t v[] = {10, 20, 31};
	static const uint8_t e[] = {12, 28};
	cv_rgb_image g = grey_raster(3, 1, v);

	CHECK(cv_image_resize_bilinear(&g, 2, 1, &out, &err) == CV_OK && grey_equals(&out, e, 2));
	cv_rgb_image_free(&out);
	/* identity size is the identity */
	CHECK(cv_image_resize_bilinear(&g, 3, 1, &out, &err) == CV_OK && grey_equals(&out, v, 3));
	cv_rgb_image_free(&out);
	CHECK(cv_image_resize(&g, 3, 1, &out, &err) == CV_OK && grey_equals(&out, v, 3));
	cv_rgb_image_free(&out);
	free(g.pixels);
}

static void
test_resize_params(void)
{
	static const uint8_t px[3] = {1, 2, 3};
	cv_rgb_image src = raster(1, 1, px),
				empty = {0, 0, NULL},
				out;
	cv_error	err;

	CHECK(cv_image_resize(&src, 0, 5, &out, &err) == CV_ERR_PARAM);
	CHECK(cv_image_resize(&src, 5, -1, &out, &err) == CV_ERR_PARAM);
	CHECK(cv_image_resize(&empty, 5, 5, &out, &err) == CV_ERR_PARAM);
	CHECK(cv_image_resize(NULL, 5, 5, &out, &err) == CV_ERR_PARAM);
	CHECK(cv_image_resize_bilinear(&src, 0, 5, &out, &err) == CV_ERR_PARAM);
	CHECK(cv_image_resize_bilinear(&empty, 5, 5, &out, &err) == CV_ERR_PARAM);
	CHECK(out.pixels == NULL);
	/* 1x1 -> anything is a flat fill in both */
	CHECK(cv_image_resize(&src, 7, 3, &out, &err) == CV_OK);
	CHECK(out.pixels[20 * 3] == 1 && out.pixels[20 * 3 + 2] == 3);
	cv_rgb_image_free(&out);
	CHECK(cv_image_resize_bilinear(&src, 7, 3, &out, &err) == CV_OK);
	CHECK(out.pixels[20 * 3] == 1 && out.pixels[20 * 3 + 2] == 3);
	cv_rgb_image_free(&out);
	cv_rgb_image_free(&out);	/* twice is fine */
	cv_rgb_image_free(NULL);
}

/*
 * The reference: run_ort.js's own resizeArea / resizeBilinear, lifted out
 * of the file by name and run by node on the same raw pixels.
 */
static const char node_script[] =
	"const fs = require('fs');\n"
	"const [js, raw, w, h, W, H, mode] = process.argv.slice(2);\n"
	"const src = fs.readFileSync(js, 'utf8');\n"
	"const grab = (n) => { const i = src.indexOf('function ' + n + '(');\n"
	"  let d = 0, j = src.indexOf('{', i);\n"
	"  for (;; j++) { if (src[j] === '{') d++; else if (src[j] === '}' && --d === 0) break; }\n"
	"  return src.slice(i, j + 1); };\n"
	"const f = new Function(grab('areaWeights') + grab('resizeArea') + grab('resizeBilinear') +\n"
	"  '; return { area: resizeArea, bilinear: resizeBilinear };')();\n"
	"const img = { w: +w, h: +h, rgb: new Uint8Array(fs.readFileSync(raw)) };\n"
	"process.stdout.write(Buffer.from(f[mode](img, +W, +H)));\n";

static void
compare_with_node(const cv_rgb_image *src, int W, int H, const char *mode)
{
	char	   *js = tu_write_temp(node_script, strlen(node_script), ".js");
	char	   *raw = tu_write_temp(src->pixels, (size_t) src->width * src->height * 3, ".rgb");
	char		run_ort[PATH_MAX];
	char		cmd[PATH_MAX * 2];
	size_t		len = 0;
	unsigned char *ref;
	cv_rgb_image out;
	cv_error	err;
	cv_status	st;

	CHECK(realpath(unit_shared_path("peers/run_ort.js"), run_ort) != NULL);
	snprintf(cmd, sizeof(cmd), "node '%s' '%s' '%s' %d %d %d %d %s", js, run_ort, raw,
			 src->width, src->height, W, H, mode);
	ref = tu_run(cmd, &len);
	CHECK_MSG(ref != NULL && len == (size_t) W * H * 3, "node reference failed: %s", cmd);
	if (strcmp(mode, "bilinear") == 0)
		st = cv_image_resize_bilinear(src, W, H, &out, &err);
	else
		st = cv_image_resize(src, W, H, &out, &err);
	CHECK(st == CV_OK);
	if (ref && st == CV_OK && len == (size_t) W * H * 3)
	{
		size_t		nd = 0;

		for (size_t i = 0; i < len; i++)
			nd += out.pixels[i] != ref[i];
		CHECK_MSG(nd == 0, "%s %dx%d -> %dx%d: %zu of %zu bytes differ from run_ort.js",
				  mode, src->width, src->height, W, H, nd, len);
	}
	cv_rgb_image_free(&out);
	free(ref);
	tu_remove_temp(js);
	tu_remove_temp(raw);
}

static void
test_against_run_ort(void)
{
	size_t		len = 0;
	unsigned char *bmp;
	cv_rgb_image cat,
				crop;
	cv_error	err;

	if (!tu_sh("node --version > /dev/null 2>&1"))
	{
		printf("     node not installed: run_ort.js comparison skipped\n");
		return;
	}
	bmp = tu_shared("images/cat.bmp", &len);
	if (!bmp)
		return;
	CHECK(cv_image_decode(bmp, len, TU_LIMIT, 0, 0, &cat, &err) == CV_OK);
	free(bmp);
	if (!cat.pixels)
		return;
	/* the two model input sizes, shrinking */
	compare_with_node(&cat, 224, 224, "bilinear");
	compare_with_node(&cat, 128, 128, "bilinear");
	compare_with_node(&cat, 224, 224, "area");
	compare_with_node(&cat, 97, 61, "area");
	/* growing: negative source coordinates at the top/left edge */
	CHECK(cv_image_resize(&cat, 37, 23, &crop, &err) == CV_OK);
	compare_with_node(&crop, 224, 224, "bilinear");
	compare_with_node(&crop, 100, 7, "bilinear");
	compare_with_node(&crop, 37, 23, "area");
	cv_rgb_image_free(&crop);
	cv_rgb_image_free(&cat);
}

static void
test_exif_parser(void)
{
	uint8_t		be[] = {'M', 'M', 0, 42, 0, 0, 0, 8, 0, 2,
		0x01, 0x0F, 0, 2, 0, 0, 0, 4, 'A', 'B', 'C', 0,	/* Make */
		0x01, 0x12, 0, 3, 0, 0, 0, 1, 0, 6, 0, 0,	/* Orientation */
	0, 0, 0, 0};
	uint8_t		le[] = {'I', 'I', 42, 0, 8, 0, 0, 0, 1, 0,
		0x12, 0x01, 3, 0, 1, 0, 0, 0, 8, 0, 0, 0,
	0, 0, 0, 0};
	uint8_t		prefixed[6 + sizeof(le)];
	uint8_t		buf[sizeof(be)];

	CHECK(cv_exif_orientation(be, sizeof(be)) == 6);
	CHECK(cv_exif_orientation(le, sizeof(le)) == 8);
	memcpy(prefixed, "Exif\0\0", 6);
	memcpy(prefixed + 6, le, sizeof(le));
	CHECK(cv_exif_orientation(prefixed, sizeof(prefixed)) == 8);
	/* every truncation of a valid block: 1, never a read past the end */
	for (size_t n = 0; n < 32; n++)
		CHECK(cv_exif_orientation(be, n) == 1);
	CHECK(cv_exif_orientation(NULL, 10) == 1);
	/* out-of-range value, wrong type, zero count, bad magic, bad offsets */
	memcpy(buf, be, sizeof(be));
	buf[31] = 9;
	CHECK(cv_exif_orientation(buf, sizeof(buf)) == 1);
	memcpy(buf, be, sizeof(be));
	buf[25] = 1;				/* BYTE */
	CHECK(cv_exif_orientation(buf, sizeof(buf)) == 1);
	memcpy(buf, be, sizeof(be));
	buf[29] = 0;
	CHECK(cv_exif_orientation(buf, sizeof(buf)) == 1);
	memcpy(buf, be, sizeof(be));
	buf[3] = 43;
	CHECK(cv_exif_orientation(buf, sizeof(buf)) == 1);
	memcpy(buf, be, sizeof(be));
	buf[4] = 0xFF;				/* IFD offset 4 GB away */
	CHECK(cv_exif_orientation(buf, sizeof(buf)) == 1);
	memcpy(buf, be, sizeof(be));
	buf[7] = 2;					/* IFD inside the header */
	CHECK(cv_exif_orientation(buf, sizeof(buf)) == 1);
	memcpy(buf, be, sizeof(be));
	buf[8] = 0xFF;				/* 65000 entries claimed */
	CHECK(cv_exif_orientation(buf, sizeof(buf)) == 6);	/* found before the end */
	buf[23] = 0x13;				/* ...but not once it is renamed */
	CHECK(cv_exif_orientation(buf, sizeof(buf)) == 1);
	/* LONG is tolerated */
	memcpy(buf, le, sizeof(le));
	buf[12] = 4;
	CHECK(cv_exif_orientation(buf, sizeof(le)) == 8);
}

static void
test_orient_tiny(void)
{
	/* 3x2 stored raster, pixel value = 10 * (row + 1) + column */
	static const uint8_t v[] = {10, 11, 12, 20, 21, 22};
	/* upright rasters, row by row, per orientation */
	static const uint8_t expect[9][6] = {
		{0}, {10, 11, 12, 20, 21, 22},
		{12, 11, 10, 22, 21, 20},
		{22, 21, 20, 12, 11, 10},
		{20, 21, 22, 10, 11, 12},
		{10, 20, 11, 21, 12, 22},	/* transpose: 2x3 */
		{20, 10, 21, 11, 22, 12},	/* 90 cw */
		{22, 12, 21, 11, 20, 10},	/* transverse */
		{12, 22, 11, 21, 10, 20},	/* 90 ccw */
	};

	for (int o = 1; o <= 8; o++)
	{
		cv_rgb_image g = grey_raster(3, 2, v);
		cv_error	err;
		int			w,
					h;

		CHECK(cv_image_orient(&g, o, &err) == CV_OK);
		cv_orient_dims(o, 3, 2, &w, &h);
		CHECK(g.width == w && g.height == h);
		CHECK(w == (o >= 5 ? 2 : 3));
		CHECK_MSG(grey_equals(&g, expect[o], 6), "orientation %d", o);
		free(g.pixels);
	}
}

UNIT_MAIN("image_resize",
		  UNIT_CASE(test_area_by_hand),
		  UNIT_CASE(test_grow_by_hand),
		  UNIT_CASE(test_bilinear_by_hand),
		  UNIT_CASE(test_resize_params),
		  UNIT_CASE(test_against_run_ort),
		  UNIT_CASE(test_exif_parser),
		  UNIT_CASE(test_orient_tiny))
