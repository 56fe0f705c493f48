/*
 * test_image_draw.c
 *	  Boxes and labels drawn on images (src/core/image/draw.c) and the PNG
 *	  encoder (png_encode.c): the PNG decodes to the drawn pixels, the
 *	  box's colour is on the box's edge and not inside it, the label sits
 *	  above the box, and bad coordinates are refused.
 */
#include "unit.h"
#include "image/draw.h"
#include "image/image.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static cv_rgb_image
grey(int w, int h)
{
	cv_rgb_image img = {.width = w, .height = h};

	img.pixels = cv_malloc((size_t) w * h * 3);
	memset(img.pixels, 128, (size_t) w * h * 3);
	return img;
}

static const uint8_t *
pixel(const cv_rgb_image *img, int x, int y)
{
	return img->pixels + ((size_t) y * img->width + x) * 3;
}

static bool
is_colour(const uint8_t *p, const uint8_t rgb[3])
{
	return p[0] == rgb[0] && p[1] == rgb[1] && p[2] == rgb[2];
}

static void
test_box_edge_and_label_survive_png(void)
{
	cv_rgb_image img = grey(400, 300),
				back = {0};
	cv_draw_box b = {.tag = "fork", .probability = 0.87f,
	.left = 0.25f, .top = 0.5f, .width = 0.5f, .height = 0.25f};
	uint8_t		colour[3],
			   *png = NULL;
	size_t		len = 0;
	int			ink = 0,
				band = 0;
	cv_error	err;

	cv_draw_tag_colour("fork", colour);
	CHECK(cv_draw_boxes(&img, &b, 1, &err) == CV_OK);
	CHECK(cv_image_encode_png(&img, &png, &len, &err) == CV_OK);
	CHECK(len > 8 && memcmp(png, "\x89PNG\r\n\x1a\n", 8) == 0);
	CHECK(cv_image_decode(png, len, 1u << 24, 1, 1, &back, &err) == CV_OK);
	CHECK(back.width == 400 && back.height == 300);
	CHECK(memcmp(back.pixels, img.pixels, (size_t) 400 * 300 * 3) == 0);

	/* box: x 100..300, y 150..225; edges in the tag's colour */
	CHECK(is_colour(pixel(&back, 100, 190), colour));	/* left edge */
	CHECK(is_colour(pixel(&back, 299, 190), colour));	/* right edge */
	CHECK(is_colour(pixel(&back, 200, 150), colour));	/* top edge */
	CHECK(is_colour(pixel(&back, 200, 224), colour));	/* bottom edge */
	CHECK(pixel(&back, 200, 190)[0] == 128);			/* inside: untouched */
	CHECK(pixel(&back, 99, 190)[0] == 128);				/* outside: untouched */
	/* the label band right above the box: the colour, with ink in it */
	for (int y = 150 - 9; y < 150; y++)
		for (int x = 100; x < 160; x++)
		{
			band += is_colour(pixel(&back, x, y), colour);
			ink += !is_colour(pixel(&back, x, y), colour) && pixel(&back, x, y)[0] != 128;
		}
	CHECK_MSG(band > 100 && ink > 20, "band %d ink %d", band, ink);
	cv_free(png);
	cv_rgb_image_free(&back);
	cv_rgb_image_free(&img);
}

static void
test_colours_clipping_and_errors(void)
{
	cv_rgb_image img = grey(50, 40);
	uint8_t		a[3],
				b[3];
	cv_draw_box outside = {.tag = "x", .probability = -1, .left = 1.5f, .top = 0.2f,
	.width = 0.2f, .height = 0.2f};
	cv_draw_box huge = {.tag = "\xc3\xa9t\xc3\xa9 caf\xc3\xa9", .probability = 0.5f,
	.left = -1.0f, .top = -1.0f, .width = 3.0f, .height = 3.0f};
	cv_draw_box bad = outside;
	cv_error	err;

	/* one tag, one colour, every time; the name decides it */
	cv_draw_tag_colour("scissors", a);
	cv_draw_tag_colour("scissors", b);
	CHECK(memcmp(a, b, 3) == 0);

	CHECK(cv_draw_boxes(&img, &outside, 1, &err) == CV_OK);
	for (size_t i = 0; i < (size_t) 50 * 40 * 3; i++)
		if (img.pixels[i] != 128)
		{
			CHECK_MSG(false, "a box outside the image drew at %zu", i);
			break;
		}
	/* a box larger than the image is clipped; non-ASCII names draw as '?' */
	CHECK(cv_draw_boxes(&img, &huge, 1, &err) == CV_OK);
	cv_draw_tag_colour(huge.tag, a);
	CHECK(is_colour(pixel(&img, 0, 39), a) && is_colour(pixel(&img, 49, 39), a));

	bad.left = NAN;
	CHECK(cv_draw_boxes(&img, &bad, 1, &err) == CV_ERR_PARAM);
	bad.left = 0.1f;
	bad.width = -0.1f;
	CHECK(cv_draw_boxes(&img, &bad, 1, &err) == CV_ERR_PARAM);
	bad.width = 0.1f;
	bad.probability = INFINITY;
	CHECK(cv_draw_boxes(&img, &bad, 1, &err) == CV_ERR_PARAM);
	CHECK(cv_draw_line_width(50, 40) == 2 && cv_draw_line_width(4000, 3000) == 16);
	cv_rgb_image_free(&img);
	{
		cv_rgb_image empty = {0};
		uint8_t    *png;
		size_t		len;

		CHECK(cv_image_encode_png(&empty, &png, &len, &err) == CV_ERR_PARAM);
	}
}

UNIT_MAIN("image_draw",
		  UNIT_CASE(test_box_edge_and_label_survive_png),
		  UNIT_CASE(test_colours_clipping_and_errors))
