/*
 * detect_synth.c
 *	  The synthetic detection images of detect_synth.h.  Included directly
 *	  by the tests that use it.
 *
 * Everything is integer arithmetic on a private PRNG (splitmix64), so a
 * seed means the same image on every machine and compiler, and the tests
 * built on it never depend on libc's rand().
 */
#include "detect_synth.h"

#define SYNTH_MIN_SIDE		16
#define SYNTH_MAX_SIDE		4096
#define SYNTH_NEGATIVE_PCT	15
#define SYNTH_PLACE_TRIES	100

typedef struct synth_rng
{
	uint64_t	state;
} synth_rng;

/* splitmix64: tiny, full-period, well mixed even from seeds 0, 1, 2... */
static uint32_t
synth_next(synth_rng *rng)
{
	uint64_t	z = (rng->state += UINT64_C(0x9E3779B97F4A7C15));

	z = (z ^ (z >> 30)) * UINT64_C(0xBF58476D1CE4E5B9);
	z = (z ^ (z >> 27)) * UINT64_C(0x94D049BB133111EB);
	z ^= z >> 31;
	return (uint32_t) (z >> 32);
}

/* Uniform in [lo, hi] (hi >= lo); the multiply-shift bias is negligible. */
static int
synth_range(synth_rng *rng, int lo, int hi)
{
	uint64_t	span = (uint64_t) (hi - lo) + 1;

	return lo + (int) (((uint64_t) synth_next(rng) * span) >> 32);
}

/* A box in pixels, [x, x + w) x [y, y + h). */
typedef struct synth_rect
{
	int			x;
	int			y;
	int			w;
	int			h;
} synth_rect;

static bool
synth_intersects(const synth_rect *a, const synth_rect *b)
{
	return a->x < b->x + b->w && b->x < a->x + a->w &&
		a->y < b->y + b->h && b->y < a->y + a->h;
}

/* Is pixel (px, py) inside the disc inscribed in the d x d square r? */
static bool
synth_in_disc(const synth_rect *r, int px, int py)
{
	/* doubled coordinates keep the centre (x + d/2) integral */
	int64_t		dx = 2 * (int64_t) (px - r->x) + 1 - r->w;
	int64_t		dy = 2 * (int64_t) (py - r->y) + 1 - r->h;

	return dx * dx + dy * dy <= (int64_t) r->w * r->w;
}

cv_status
detect_synth_image(uint32_t seed, int width, int height, int max_objects,
				   cv_rgb_image *out, cv_truth_box *boxes, int *n_boxes,
				   cv_error *err)
{
	synth_rng	rng;
	synth_rect	placed[64];
	int			attempts;
	int			n = 0;
	int			short_side;
	uint8_t    *px;

	if (out == NULL || n_boxes == NULL)
		return cv_fail(err, CV_ERR_PARAM, "synthetic image needs an output");
	out->width = out->height = 0;
	out->pixels = NULL;
	*n_boxes = 0;
	if (width < SYNTH_MIN_SIDE || width > SYNTH_MAX_SIDE ||
		height < SYNTH_MIN_SIDE || height > SYNTH_MAX_SIDE)
		return cv_fail(err, CV_ERR_PARAM, "synthetic image size %dx%d out of range",
					   width, height);
	if (max_objects < 0 || (max_objects > 0 && boxes == NULL))
		return cv_fail(err, CV_ERR_PARAM, "invalid object count %d", max_objects);

	px = cv_malloc((size_t) width * (size_t) height * 3);
	if (px == NULL)
		return cv_fail(err, CV_ERR_NOMEM, "out of memory for a %dx%d image", width, height);

	/* mix the seed so that neighbouring seeds start far apart */
	rng.state = (uint64_t) seed * UINT64_C(0xD1B54A32D192ED03) + 1;

	/* the first draws decide negative-or-not and the count */
	if (max_objects == 0 || synth_range(&rng, 0, 99) < SYNTH_NEGATIVE_PCT)
		attempts = 0;
	else
		attempts = synth_range(&rng, 1, max_objects);

	for (size_t i = 0; i < (size_t) width * (size_t) height * 3; i++)
		px[i] = (uint8_t) (synth_next(&rng) >> 24);

	short_side = width < height ? width : height;
	for (int o = 0; o < attempts; o++)
	{
		int			kind = synth_range(&rng, 0, 1);
		uint8_t		strong = (uint8_t) synth_range(&rng, 170, 255);
		uint8_t		weak1 = (uint8_t) synth_range(&rng, 0, 70);
		uint8_t		weak2 = (uint8_t) synth_range(&rng, 0, 70);
		uint8_t		colour[3];
		synth_rect	r;
		bool		found = false;

		/* placed[] bounds the objects per image (far more than ever fit) */
		if (n >= (int) (sizeof(placed) / sizeof(placed[0])))
			break;
		if (kind == DETECT_SYNTH_RECT)
		{
			colour[0] = strong;
			colour[1] = weak1;
			colour[2] = weak2;
		}
		else
		{
			colour[0] = weak1;
			colour[1] = weak2;
			colour[2] = strong;
		}

		for (int t = 0; t < SYNTH_PLACE_TRIES && !found; t++)
		{
			/* 15%..45% of the side, rounded inwards */
			if (kind == DETECT_SYNTH_RECT)
			{
				r.w = synth_range(&rng, (15 * width + 99) / 100, 45 * width / 100);
				r.h = synth_range(&rng, (15 * height + 99) / 100, 45 * height / 100);
			}
			else
				r.w = r.h = synth_range(&rng, (15 * short_side + 99) / 100,
										45 * short_side / 100);
			r.x = synth_range(&rng, 0, width - r.w);
			r.y = synth_range(&rng, 0, height - r.h);
			found = true;
			for (int j = 0; j < n; j++)
			{
				if (synth_intersects(&r, &placed[j]))
				{
					found = false;
					break;
				}
			}
		}
		if (!found)
			continue;

		for (int y = r.y; y < r.y + r.h; y++)
		{
			for (int x = r.x; x < r.x + r.w; x++)
			{
				uint8_t    *p = px + ((size_t) y * width + x) * 3;

				if (kind == DETECT_SYNTH_DISC && !synth_in_disc(&r, x, y))
					continue;
				p[0] = colour[0];
				p[1] = colour[1];
				p[2] = colour[2];
			}
		}
		placed[n] = r;
		boxes[n].image = 0;
		boxes[n].tag = kind;
		boxes[n].box.left = (float) r.x / (float) width;
		boxes[n].box.top = (float) r.y / (float) height;
		boxes[n].box.width = (float) r.w / (float) width;
		boxes[n].box.height = (float) r.h / (float) height;
		n++;
	}

	out->width = width;
	out->height = height;
	out->pixels = px;
	*n_boxes = n;
	return CV_OK;
}
