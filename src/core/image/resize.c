/*
 * resize.c
 *	  Resampling of RGB rasters: a quality resize (exact area averaging when
 *	  shrinking, bilinear when growing) and TFLite's RESIZE_BILINEAR as the
 *	  reference MobileNet scores were computed with.
 *
 * cv_image_resize is separable: a horizontal pass into a double-precision
 * buffer, then a vertical pass that rounds.  Along a shrinking axis each
 * output pixel is the exact box average of the source interval
 * [o*n/m, (o+1)*n/m), fractional edge pixels weighted by their overlap: no
 * aliasing and no dependence on the ratio.  Along a growing axis box
 * averaging would only replicate pixels, so it interpolates bilinearly
 * with half-pixel centres.  The arithmetic (weights, pass order, double
 * accumulation, round half up) is that of the peers' run_ort.js
 * "--resize area", so both give the same bytes.
 *
 * cv_image_resize_bilinear must reproduce a reference bit for bit, because
 * classification scores are sensitive to the input pixels (the shared
 * peers/README.md shows top-1 flipping with the resize).  The reference
 * (peers/run_ort.js resizeBilinear, after libcoral's test_utils) computes
 * source coordinates in float32, src = (dst + 0.5) * (n / m) - 0.5, taps
 * floor(src) clamped to >= 0 and ceil(src) clamped to <= n - 1, fraction
 * src - floor_clamped (so it goes negative near the top/left edge, where
 * both taps are pixel 0), blends the four taps in double, rounds the sum to
 * float32 and truncates to uint8.  We do exactly that, in that order;
 * fused multiply-add is disabled for this file because contraction would
 * change the last bit of some sums and so the truncated byte.
 */
#if defined(__clang__)
#pragma clang fp contract(off)
#elif defined(__GNUC__)
#pragma GCC optimize("fp-contract=off")
#endif

#include "image_internal.h"

#include <math.h>
#include <string.h>

/* The source taps of one output coordinate along one axis. */
typedef struct axis_weights
{
	int			taps;			/* most taps any output uses */
	int		   *first;			/* first source index, per output */
	int		   *count;			/* taps used, per output */
	double	   *weight;			/* [output * taps + k] */
} axis_weights;

static void
axis_free(axis_weights *a)
{
	cv_free(a->first);
	cv_free(a->count);
	cv_free(a->weight);
	memset(a, 0, sizeof(*a));
}

/* Weights for n source pixels -> m output pixels. */
static cv_status
axis_build(int n, int m, axis_weights *a, cv_error *err)
{
	double		scale = (double) n / m;

	memset(a, 0, sizeof(*a));
	/* an interval of length n/m touches at most ceil(n/m) + 1 pixels */
	a->taps = n > m ? (int) ceil(scale) + 1 : 2;
	a->first = cv_calloc((size_t) m, sizeof(int));
	a->count = cv_calloc((size_t) m, sizeof(int));
	a->weight = cv_calloc((size_t) m * (size_t) a->taps, sizeof(double));
	if (a->first == NULL || a->count == NULL || a->weight == NULL)
	{
		axis_free(a);
		return cv_fail(err, CV_ERR_NOMEM, "out of memory for resize weights");
	}

	for (int o = 0; o < m; o++)
	{
		double	   *w = a->weight + (size_t) o * a->taps;

		if (n == m)
		{
			a->first[o] = o;
			a->count[o] = 1;
			w[0] = 1.0;
		}
		else if (n > m)
		{
			/* overlap of pixel [i, i+1) with [lo, hi), over the box width */
			double		lo = o * scale;
			double		hi = (o + 1) * scale;
			int			i0 = (int) floor(lo);
			int			i1 = (int) ceil(hi);
			int			k = 0;

			if (i1 > n)
				i1 = n;
			for (int i = i0; i < i1 && k < a->taps; i++)
				w[k++] = (fmin(hi, i + 1.0) - fmax(lo, (double) i)) / scale;
			a->first[o] = i0;
			a->count[o] = k;
		}
		else
		{
			double		src = (o + 0.5) * scale - 0.5;
			int			i0;

			if (src < 0)
				src = 0;
			if (src > n - 1)
				src = n - 1;
			i0 = (int) floor(src);
			a->first[o] = i0;
			if (i0 + 1 < n)
			{
				a->count[o] = 2;
				w[0] = 1.0 - (src - i0);
				w[1] = src - i0;
			}
			else
			{
				a->count[o] = 1;
				w[0] = 1.0;
			}
		}
	}
	return CV_OK;
}

static cv_status
check_args(const cv_rgb_image *src, int width, int height, cv_rgb_image *out,
		   cv_error *err)
{
	if (out == NULL)
		return cv_fail(err, CV_ERR_PARAM, "no output image");
	memset(out, 0, sizeof(*out));
	if (src == NULL || src->pixels == NULL || src->width <= 0 || src->height <= 0)
		return cv_fail(err, CV_ERR_PARAM, "source image is empty");
	if (width <= 0 || height <= 0)
		return cv_fail(err, CV_ERR_PARAM, "target size %dx%d is not positive", width, height);
	return CV_OK;
}

cv_status
cv_image_resize(const cv_rgb_image *src, int width, int height,
				cv_rgb_image *out, cv_error *err)
{
	axis_weights ax;
	axis_weights ay;
	double	   *tmp;
	size_t		tmp_len;
	cv_status	st;
	const int	sw = src != NULL ? src->width : 0;
	const int	sh = src != NULL ? src->height : 0;

	st = check_args(src, width, height, out, err);
	if (st != CV_OK)
		return st;
	if (!cv_mul_size((size_t) sh, (size_t) width, &tmp_len) ||
		!cv_mul_size(tmp_len, 3 * sizeof(double), &tmp_len))
		return cv_fail(err, CV_ERR_LIMIT, "resize buffer size overflows");

	st = axis_build(sw, width, &ax, err);
	if (st != CV_OK)
		return st;
	st = axis_build(sh, height, &ay, err);
	if (st != CV_OK)
	{
		axis_free(&ax);
		return st;
	}
	tmp = cv_malloc(tmp_len);
	if (tmp == NULL)
	{
		axis_free(&ax);
		axis_free(&ay);
		return cv_fail(err, CV_ERR_NOMEM, "out of memory for a resize buffer");
	}
	st = cv_rgb_image_alloc(out, width, height, err);
	if (st != CV_OK)
	{
		cv_free(tmp);
		axis_free(&ax);
		axis_free(&ay);
		return st;
	}

	/* horizontal: sh rows of sw pixels -> sh rows of width pixels */
	for (int y = 0; y < sh; y++)
	{
		const uint8_t *row = src->pixels + (size_t) y * sw * 3;
		double	   *t = tmp + (size_t) y * width * 3;

		for (int o = 0; o < width; o++)
		{
			const double *w = ax.weight + (size_t) o * ax.taps;
			const uint8_t *p = row + (size_t) ax.first[o] * 3;
			double		r = 0,
						g = 0,
						b = 0;

			for (int k = 0; k < ax.count[o]; k++, p += 3)
			{
				r += w[k] * p[0];
				g += w[k] * p[1];
				b += w[k] * p[2];
			}
			t[o * 3] = r;
			t[o * 3 + 1] = g;
			t[o * 3 + 2] = b;
		}
	}

	/* vertical: sh rows -> height rows, rounded half up and clamped */
	for (int o = 0; o < height; o++)
	{
		const double *w = ay.weight + (size_t) o * ay.taps;
		uint8_t    *dst = out->pixels + (size_t) o * width * 3;

		for (int x = 0; x < width * 3; x++)
		{
			const double *t = tmp + (size_t) ay.first[o] * width * 3 + x;
			double		s = 0;
			double		v;

			for (int k = 0; k < ay.count[o]; k++, t += (size_t) width * 3)
				s += w[k] * *t;
			v = floor(s + 0.5);
			dst[x] = (uint8_t) (v < 0 ? 0 : v > 255 ? 255 : v);
		}
	}

	cv_free(tmp);
	axis_free(&ax);
	axis_free(&ay);
	return CV_OK;
}

/* One axis of TFLite's half-pixel-centre coordinate mapping (see above). */
typedef struct bilinear_tap
{
	int			lo;
	int			hi;
	float		frac;
} bilinear_tap;

static bilinear_tap *
bilinear_taps(int n, int m)
{
	bilinear_tap *taps = cv_calloc((size_t) m, sizeof(bilinear_tap));
	float		scale = (float) ((double) n / m);

	if (taps == NULL)
		return NULL;
	for (int o = 0; o < m; o++)
	{
		float		v = (float) ((float) (o + 0.5) * scale) - 0.5f;
		float		fl = floorf(v);
		float		cl = ceilf(v);
		int			lo = fl < 0 ? 0 : (int) fl;
		int			hi = cl > (float) (n - 1) ? n - 1 : (int) cl;

		taps[o].lo = lo;
		taps[o].hi = hi;
		taps[o].frac = v - (float) lo;
	}
	return taps;
}

cv_status
cv_image_resize_bilinear(const cv_rgb_image *src, int width, int height,
						 cv_rgb_image *out, cv_error *err)
{
	bilinear_tap *tx;
	bilinear_tap *ty;
	cv_status	st;
	int			sw;

	st = check_args(src, width, height, out, err);
	if (st != CV_OK)
		return st;
	sw = src->width;
	tx = bilinear_taps(sw, width);
	ty = bilinear_taps(src->height, height);
	if (tx == NULL || ty == NULL)
	{
		cv_free(tx);
		cv_free(ty);
		return cv_fail(err, CV_ERR_NOMEM, "out of memory for resize coordinates");
	}
	st = cv_rgb_image_alloc(out, width, height, err);
	if (st != CV_OK)
	{
		cv_free(tx);
		cv_free(ty);
		return st;
	}

	for (int y = 0; y < height; y++)
	{
		const uint8_t *r0 = src->pixels + (size_t) ty[y].lo * sw * 3;
		const uint8_t *r1 = src->pixels + (size_t) ty[y].hi * sw * 3;
		double		dy = ty[y].frac;
		uint8_t    *dst = out->pixels + (size_t) y * width * 3;

		for (int x = 0; x < width; x++)
		{
			double		dx = tx[x].frac;
			int			x0 = tx[x].lo * 3;
			int			x1 = tx[x].hi * 3;

			for (int c = 0; c < 3; c++)
			{
				/* same operand order as the reference: see the header */
				double		v = r0[x0 + c] * (1 - dy) * (1 - dx) +
					r1[x0 + c] * dy * (1 - dx) +
					r0[x1 + c] * (1 - dy) * dx +
					r1[x1 + c] * dy * dx;
				float		f = (float) v;

				/* truncation toward zero, then clamped, as static_cast */
				dst[x * 3 + c] = f <= 0 ? 0 : f >= 255 ? 255 : (uint8_t) f;
			}
		}
	}
	cv_free(tx);
	cv_free(ty);
	return CV_OK;
}
