/*
 * test_learn_features.c
 *	  The feature-extractor slot, the compact domain and the augmentation
 *	  views: dimensions, mirror symmetry, invariances the normalisation
 *	  promises, determinism and argument checks.
 */
#include "unit.h"
#include "learn/augment.h"
#include "learn/features.h"

#include <stdint.h>

static uint32_t lcg = 1;

static uint8_t
rnd8(void)
{
	lcg = lcg * 1664525u + 1013904223u;
	return (uint8_t) (lcg >> 24);
}

static cv_rgb_image
make_image(int w, int h)
{
	cv_rgb_image img = {w, h, calloc((size_t) w * h * 3, 1)};

	return img;
}

static void
fill_random(cv_rgb_image *img)
{
	for (size_t i = 0; i < (size_t) img->width * img->height * 3; i++)
		img->pixels[i] = rnd8();
}

static cv_rgb_image
mirrored(const cv_rgb_image *src)
{
	cv_rgb_image m = make_image(src->width, src->height);

	for (int y = 0; y < src->height; y++)
		for (int x = 0; x < src->width; x++)
			memcpy(m.pixels + ((size_t) y * src->width + x) * 3,
				   src->pixels + ((size_t) y * src->width + src->width - 1 - x) * 3, 3);
	return m;
}

static void
test_compact_dimension_and_blocks(void)
{
	cv_feature_extractor *fx = NULL;
	cv_error	err;
	int			off,
				len,
				total = 0;
	const char *blocks[] = {"colour", "hog", "lbp", "hog_coarse", "thumb", "colour_fine"};

	CHECK(cv_features_compact_create(&fx, &err) == CV_OK);
	if (fx == NULL)
		return;
	CHECK(strcmp(fx->name, "compact") == 0);
	CHECK(fx->input_width == cv_compact_default.size && fx->input_height == cv_compact_default.size);
	for (int i = 0; i < 32; i++)
		CHECK(fx->content_hash[i] == 0);
	/* the blocks tile the vector without gaps or overlaps */
	for (int b = 0; b < 6; b++)
		if (cv_features_compact_block(fx, blocks[b], &off, &len))
		{
			CHECK(off >= 0 && off + len <= fx->dim);
			total += len;
		}
	CHECK(total == fx->dim);
	CHECK(cv_features_compact_block(fx, "hog", &off, &len) && len == 21 * 9);
	CHECK(cv_features_compact_block(fx, "colour", &off, &len) && len == 5 * 75);
	CHECK(!cv_features_compact_block(fx, "nonsense", &off, &len));
	cv_features_destroy(fx);

	/* a configuration's dimension is the sum of its blocks */
	{
		cv_compact_config c = cv_compact_default;

		memset(&c.colour, 0, sizeof(c) - offsetof(cv_compact_config, colour));
		c.hog = true;
		CHECK(cv_features_compact_create_with(&c, &fx, &err) == CV_OK);
		CHECK(fx->dim == 21 * 9);
		CHECK(fx->version != 0);
		cv_features_destroy(fx);
		c.hog = false;
		CHECK(cv_features_compact_create_with(&c, &fx, &err) == CV_ERR_PARAM);
		CHECK(fx == NULL);
	}
}

/* Unit-L2 pyramid levels after Hellinger normalisation. */
static void
test_levels_are_normalised(void)
{
	cv_feature_extractor *fx = NULL;
	cv_rgb_image img;
	cv_error	err;
	float	   *f;
	int			off,
				len;

	CHECK(cv_features_compact_create(&fx, &err) == CV_OK);
	if (fx == NULL)
		return;
	img = make_image(fx->input_width, fx->input_height);
	lcg = 3;
	fill_random(&img);
	f = calloc(fx->dim, sizeof(float));
	CHECK(cv_features_extract(fx, &img, f, &err) == CV_OK);
	CHECK(cv_features_compact_block(fx, "hog", &off, &len));
	{
		double		l1 = 0,
					l2 = 0,
					l3 = 0;

		for (int i = 0; i < 9; i++)
			l1 += f[off + i] * f[off + i];
		for (int i = 9; i < 45; i++)
			l2 += f[off + i] * f[off + i];
		for (int i = 45; i < 189; i++)
			l3 += f[off + i] * f[off + i];
		CHECK_NEAR(l1, 1.0, 1e-5);
		CHECK_NEAR(l2, 1.0, 1e-5);
		CHECK_NEAR(l3, 1.0, 1e-5);
	}
	for (int i = 0; i < fx->dim; i++)
		CHECK(isfinite(f[i]) && f[i] >= -1.0f && f[i] <= 1.0f);
	free(f);
	free(img.pixels);
	cv_features_destroy(fx);
}

/*
 * Mirroring: the whole-image colour histogram does not change, and the
 * whole-image orientation histogram is reversed (theta -> pi - theta maps
 * bin b to 8 - b).  A mirror-symmetric image has identical features for
 * view 0 and the flipped view 1.
 */
static void
test_mirror(void)
{
	cv_feature_extractor *fx = NULL;
	cv_rgb_image img,
				mir;
	cv_error	err;
	float	   *a,
			   *b;
	int			off,
				len;

	CHECK(cv_features_compact_create(&fx, &err) == CV_OK);
	if (fx == NULL)
		return;
	img = make_image(fx->input_width, fx->input_height);
	/* smooth random blobs, so orientations are not all axis-aligned */
	for (int y = 0; y < img.height; y++)
		for (int x = 0; x < img.width; x++)
		{
			uint8_t    *p = img.pixels + ((size_t) y * img.width + x) * 3;

			p[0] = (uint8_t) (127 + 120 * sin(x * 0.11 + y * 0.07));
			p[1] = (uint8_t) (127 + 120 * sin(x * 0.05 - y * 0.13 + 1.0));
			p[2] = (uint8_t) (127 + 120 * cos(x * 0.17 + 2.0 * sin(y * 0.03)));
		}
	mir = mirrored(&img);
	a = calloc(fx->dim, sizeof(float));
	b = calloc(fx->dim, sizeof(float));
	CHECK(cv_features_extract(fx, &img, a, &err) == CV_OK);
	CHECK(cv_features_extract(fx, &mir, b, &err) == CV_OK);
	CHECK(memcmp(a, b, sizeof(float) * fx->dim) != 0);
	CHECK(cv_features_compact_block(fx, "colour", &off, &len));
	for (int i = 0; i < 75; i++)
		CHECK_NEAR(a[off + i], b[off + i], 1e-5);
	CHECK(cv_features_compact_block(fx, "hog", &off, &len));
	for (int i = 0; i < 9; i++)
		CHECK_NEAR(a[off + i], b[off + 8 - i], 1e-4);
	/* the 2x2 level swaps left and right cells */
	for (int i = 0; i < 9; i++)
	{
		CHECK_NEAR(a[off + 9 + i], b[off + 9 + 9 + 8 - i], 1e-4);	/* TL <-> TR */
		CHECK_NEAR(a[off + 9 + 18 + i], b[off + 9 + 27 + 8 - i], 1e-4);	/* BL <-> BR */
	}

	/* symmetric image: left half mirrored onto the right */
	for (int y = 0; y < img.height; y++)
		for (int x = img.width / 2; x < img.width; x++)
			memcpy(img.pixels + ((size_t) y * img.width + x) * 3,
				   img.pixels + ((size_t) y * img.width + img.width - 1 - x) * 3, 3);
	{
		float	   *v = calloc((size_t) 2 * fx->dim, sizeof(float));

		CHECK(cv_augment_features(fx, &img, 2, v, &err) == CV_OK);
		CHECK(memcmp(v, v + fx->dim, sizeof(float) * fx->dim) == 0);
		free(v);
	}
	free(a);
	free(b);
	free(img.pixels);
	free(mir.pixels);
	cv_features_destroy(fx);
}

/*
 * Gradient histograms are normalised by total magnitude: doubling the
 * contrast of an image (no clipping) leaves the hog block unchanged, while
 * the colour block does change.
 */
static void
test_hog_contrast_invariance(void)
{
	cv_feature_extractor *fx = NULL;
	cv_rgb_image img,
				img2;
	cv_error	err;
	float	   *a,
			   *b;
	int			off,
				len;
	double		colour_diff = 0.0;

	CHECK(cv_features_compact_create(&fx, &err) == CV_OK);
	if (fx == NULL)
		return;
	img = make_image(fx->input_width, fx->input_height);
	img2 = make_image(fx->input_width, fx->input_height);
	lcg = 17;
	for (size_t i = 0; i < (size_t) img.width * img.height * 3; i++)
	{
		img.pixels[i] = rnd8() / 2;
		img2.pixels[i] = img.pixels[i] * 2;
	}
	a = calloc(fx->dim, sizeof(float));
	b = calloc(fx->dim, sizeof(float));
	CHECK(cv_features_extract(fx, &img, a, &err) == CV_OK);
	CHECK(cv_features_extract(fx, &img2, b, &err) == CV_OK);
	CHECK(cv_features_compact_block(fx, "hog", &off, &len));
	for (int i = 0; i < len; i++)
		CHECK_NEAR(a[off + i], b[off + i], 1e-5);
	CHECK(cv_features_compact_block(fx, "colour", &off, &len));
	for (int i = 0; i < len; i++)
		colour_diff += fabs(a[off + i] - b[off + i]);
	CHECK(colour_diff > 0.1);
	free(a);
	free(b);
	free(img.pixels);
	free(img2.pixels);
	cv_features_destroy(fx);
}

/* A flat colour has no gradients and lands in the right colour bins. */
static void
test_flat_colours(void)
{
	cv_feature_extractor *fx = NULL;
	cv_rgb_image img;
	cv_error	err;
	float	   *red,
			   *grey;
	int			off,
				len;
	double		chroma = 0.0;

	CHECK(cv_features_compact_create(&fx, &err) == CV_OK);
	if (fx == NULL)
		return;
	img = make_image(fx->input_width, fx->input_height);
	red = calloc(fx->dim, sizeof(float));
	grey = calloc(fx->dim, sizeof(float));
	for (size_t i = 0; i < (size_t) img.width * img.height; i++)
	{
		img.pixels[3 * i] = 255;
		img.pixels[3 * i + 1] = 0;
		img.pixels[3 * i + 2] = 0;
	}
	CHECK(cv_features_extract(fx, &img, red, &err) == CV_OK);
	memset(img.pixels, 128, (size_t) img.width * img.height * 3);
	CHECK(cv_features_extract(fx, &img, grey, &err) == CV_OK);

	CHECK(cv_features_compact_block(fx, "hog", &off, &len));
	for (int i = 0; i < len; i++)
		CHECK(red[off + i] == 0.0f && grey[off + i] == 0.0f);

	CHECK(cv_features_compact_block(fx, "colour", &off, &len));
	/* grey: only the 3 grey bins of each cell; 128/255 is between 0.5 and 1 */
	for (int c = 0; c < 5; c++)
		for (int i = 3; i < 75; i++)
			chroma += grey[off + c * 75 + i];
	CHECK(chroma == 0.0);
	CHECK(grey[off + 1] > 0.9f && grey[off + 0] == 0.0f);
	/* red: full saturation, full value, hue 0 sits between bins 11 and 0 */
	{
		int			sat2_val2 = off + 3 + (1 * 3 + 2) * 12;

		CHECK_NEAR(red[sat2_val2 + 0], sqrt(0.5), 1e-5);
		CHECK_NEAR(red[sat2_val2 + 11], sqrt(0.5), 1e-5);
		CHECK(red[off + 0] == 0.0f && red[off + 1] == 0.0f && red[off + 2] == 0.0f);
	}
	free(red);
	free(grey);
	free(img.pixels);
	cv_features_destroy(fx);
}

static void
test_deterministic_and_checks(void)
{
	cv_feature_extractor *fx = NULL;
	cv_rgb_image img,
				small;
	cv_error	err;
	float	   *a,
			   *b;

	CHECK(cv_features_compact_create(&fx, &err) == CV_OK);
	if (fx == NULL)
		return;
	img = make_image(300, 200);
	lcg = 5;
	fill_random(&img);
	a = calloc((size_t) CV_AUGMENT_MAX_VIEWS * fx->dim, sizeof(float));
	b = calloc((size_t) CV_AUGMENT_MAX_VIEWS * fx->dim, sizeof(float));
	CHECK(cv_augment_features(fx, &img, CV_AUGMENT_MAX_VIEWS, a, &err) == CV_OK);
	CHECK(cv_augment_features(fx, &img, CV_AUGMENT_MAX_VIEWS, b, &err) == CV_OK);
	CHECK(memcmp(a, b, sizeof(float) * CV_AUGMENT_MAX_VIEWS * fx->dim) == 0);
	/* every view differs from the whole image */
	for (int v = 1; v < CV_AUGMENT_MAX_VIEWS; v++)
		CHECK(memcmp(a, a + (size_t) v * fx->dim, sizeof(float) * fx->dim) != 0);

	/* extract wants exactly the input size */
	CHECK(cv_features_extract(fx, &img, a, &err) == CV_ERR_PARAM);
	CHECK(strstr(err.message, "expects") != NULL);
	CHECK(cv_augment_features(fx, &img, 0, a, &err) == CV_ERR_PARAM);
	CHECK(cv_augment_features(fx, &img, CV_AUGMENT_MAX_VIEWS + 1, a, &err) == CV_ERR_PARAM);
	small = make_image(1, 1);
	small.pixels[0] = 200;
	CHECK(cv_augment_features(fx, &small, 2, a, &err) == CV_OK);	/* tiny images work */
	free(small.pixels);
	free(a);
	free(b);
	free(img.pixels);
	cv_features_destroy(fx);
}

static void
test_render(void)
{
	cv_rgb_image src = make_image(4, 2),
				out;
	cv_view		whole = {0, 0, 1, 1, false};
	cv_view		right = {0.5f, 0, 0.5f, 1, false};
	cv_view		bad = {0.5f, 0, 0.6f, 1, false};
	cv_error	err;

	/* columns 10, 20, 30, 40 in red; rows identical */
	for (int y = 0; y < 2; y++)
		for (int x = 0; x < 4; x++)
			src.pixels[(y * 4 + x) * 3] = (uint8_t) (10 * (x + 1));
	/* halving averages pairs */
	CHECK(cv_augment_render(&src, &whole, 2, 1, &out, &err) == CV_OK);
	CHECK(out.pixels[0] == 15 && out.pixels[3] == 35);
	free(out.pixels);
	/* the right half, flipped by view 1's rule */
	CHECK(cv_augment_render(&src, &right, 2, 2, &out, &err) == CV_OK);
	CHECK(out.pixels[0] == 30 && out.pixels[3] == 40);
	free(out.pixels);
	right.flip = true;
	CHECK(cv_augment_render(&src, &right, 2, 2, &out, &err) == CV_OK);
	CHECK(out.pixels[0] == 40 && out.pixels[3] == 30);
	free(out.pixels);
	/* growing interpolates */
	CHECK(cv_augment_render(&src, &whole, 8, 2, &out, &err) == CV_OK);
	CHECK(out.pixels[0] == 10 && out.pixels[3 * 7] == 40);
	CHECK(out.pixels[3 * 2] > 10 && out.pixels[3 * 2] < 20);
	free(out.pixels);
	CHECK(cv_augment_render(&src, &bad, 2, 2, &out, &err) == CV_ERR_PARAM);
	CHECK(out.pixels == NULL);
	CHECK(cv_augment_view(0)->width == 1.0f && !cv_augment_view(0)->flip);
	CHECK(cv_augment_view(1)->flip);
	CHECK(cv_augment_view(CV_AUGMENT_MAX_VIEWS) == NULL);
	free(src.pixels);
}

/* A 1-float extractor: the mean red value of the 8 x 8 input. */
static cv_status
mean_red(const cv_feature_extractor *self, const cv_rgb_image *img, float *out,
		 cv_error *err)
{
	double		s = 0.0;

	for (int i = 0; i < img->width * img->height; i++)
		s += img->pixels[i * 3];
	out[0] = (float) (s / (img->width * img->height));
	return CV_OK;
}

/*
 * square_views: each view is the centred square of its rectangle.  A 40 x 20
 * image red (255) only in its outer 10 columns on each side: the stretched
 * whole image is half red, its centred square (columns 10..29) has none;
 * a tall image is cut at top and bottom the same way.
 */
static void
test_square_views(void)
{
	cv_feature_extractor fx = {.name = "red", .version = 1, .input_width = 8,
	.input_height = 8, .dim = 1, .extract = mean_red};
	cv_rgb_image wide = make_image(40, 20),
				tall = make_image(20, 40);
	cv_view		v;
	float		f[4];
	cv_error	err;

	memset(wide.pixels, 0, 40 * 20 * 3);
	memset(tall.pixels, 0, 20 * 40 * 3);
	for (int y = 0; y < 20; y++)
		for (int x = 0; x < 40; x++)
			if (x < 10 || x >= 30)
			{
				wide.pixels[(y * 40 + x) * 3] = 255;
				tall.pixels[(x * 20 + y) * 3] = 255;	/* transposed */
			}
	CHECK(cv_augment_features(&fx, &wide, 1, f, &err) == CV_OK);
	CHECK_NEAR(f[0], 127.5, 0.5);
	fx.square_views = true;
	CHECK(cv_augment_features(&fx, &wide, 4, f, &err) == CV_OK);
	CHECK(f[0] == 0.0f && f[1] == 0.0f);	/* whole and mirror: the centre */
	CHECK(f[2] == 0.0f && f[3] == 0.0f);	/* 80% crop: still inside it */
	CHECK(cv_augment_features(&fx, &tall, 1, f, &err) == CV_OK);
	CHECK(f[0] == 0.0f);
	CHECK(cv_augment_view_for(&fx, &wide, 0, &v));
	CHECK_NEAR(v.left, 0.25, 1e-6);
	CHECK_NEAR(v.width, 0.5, 1e-6);
	CHECK(v.top == 0.0f && v.height == 1.0f && !v.flip);
	CHECK(cv_augment_view_for(&fx, &wide, 2, &v));	/* 80% centre crop */
	CHECK_NEAR(v.left, 0.3, 1e-6);
	CHECK_NEAR(v.width, 0.4, 1e-6);
	CHECK_NEAR(v.top, 0.1, 1e-6);
	CHECK_NEAR(v.height, 0.8, 1e-6);
	CHECK(cv_augment_view_for(&fx, &tall, 1, &v));
	CHECK(v.left == 0.0f && v.width == 1.0f && v.flip);
	CHECK_NEAR(v.top, 0.25, 1e-6);
	CHECK(!cv_augment_view_for(&fx, &wide, CV_AUGMENT_MAX_VIEWS, &v));
	fx.square_views = false;
	CHECK(cv_augment_view_for(&fx, &wide, 2, &v));
	CHECK(memcmp(&v, cv_augment_view(2), sizeof(v)) == 0);
	free(wide.pixels);
	free(tall.pixels);
}

UNIT_MAIN("learn_features",
		  UNIT_CASE(test_compact_dimension_and_blocks),
		  UNIT_CASE(test_levels_are_normalised),
		  UNIT_CASE(test_mirror),
		  UNIT_CASE(test_hog_contrast_invariance),
		  UNIT_CASE(test_flat_colours),
		  UNIT_CASE(test_deterministic_and_checks),
		  UNIT_CASE(test_render),
		  UNIT_CASE(test_square_views))
