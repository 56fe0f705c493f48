/*
 * augment.c
 *	  The standard augmentation views and a crop-and-resample renderer.
 *
 * Resampling is separable: each output column (row) averages the source
 * pixels under a box of the output pixel's footprint, at least one source
 * pixel wide, weighted by overlap.  A footprint wider than a pixel gives
 * area averaging (no aliasing when shrinking a 12-megapixel photo to 128
 * pixels); a footprint of one pixel centred between two source pixels gives
 * linear interpolation (when growing).  The cropping is folded into the
 * weights, so no intermediate crop is made.  With pgvision.threads > 1 both
 * passes run in bands of rows on the core's thread pool (parallel.h); a
 * row's values do not depend on the band, so neither do the bytes.
 */
#include "augment.h"
#include "../common/parallel.h"

#include <math.h>
#include <string.h>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif

/*
 * Whole image, its mirror, an 80% centre crop and its mirror, then four
 * 85% corner crops (mirrored on the right side so both orientations of a
 * corner crop are seen).
 */
static const cv_view standard_views[CV_AUGMENT_MAX_VIEWS] = {
	{0.0f, 0.0f, 1.0f, 1.0f, false},
	{0.0f, 0.0f, 1.0f, 1.0f, true},
	{0.1f, 0.1f, 0.8f, 0.8f, false},
	{0.1f, 0.1f, 0.8f, 0.8f, true},
	{0.0f, 0.0f, 0.85f, 0.85f, false},
	{0.15f, 0.0f, 0.85f, 0.85f, true},
	{0.0f, 0.15f, 0.85f, 0.85f, true},
	{0.15f, 0.15f, 0.85f, 0.85f, false},
};

const cv_view *
cv_augment_view(int index)
{
	if (index < 0 || index >= CV_AUGMENT_MAX_VIEWS)
		return NULL;
	return &standard_views[index];
}

/* Four floats, unaligned (the SSE width of the generic x86-64 build, NEON's). */
typedef float render_v4 __attribute__((vector_size(16), aligned(4), may_alias));

/* One output sample: source pixels first..first+count-1 with weights. */
typedef struct tap
{
	int			first;
	int			count;
	int			weights_at;		/* index into the weight array */
} tap;

/*
 * Weights mapping the source interval [start, start + extent) (pixels) of a
 * src_len-pixel line onto out_len samples.
 */
static cv_status
make_taps(int src_len, double start, double extent, int out_len,
		  tap **taps_out, float **weights_out, cv_error *err)
{
	double		step = extent / out_len;
	double		half = (step > 1.0 ? step : 1.0) / 2.0;
	int			max_count = (int) ceil(2.0 * half) + 2;
	tap		   *taps = cv_calloc((size_t) out_len, sizeof(tap));
	float	   *weights = cv_calloc((size_t) out_len * max_count, sizeof(float));
	int			used = 0;

	if (taps == NULL || weights == NULL)
	{
		cv_free(taps);
		cv_free(weights);
		return cv_fail(err, CV_ERR_NOMEM, "out of memory resampling an image");
	}
	for (int j = 0; j < out_len; j++)
	{
		double		centre = start + (j + 0.5) * step;
		double		a = centre - half,
					b = centre + half;
		int			first,
					last;
		double		total = 0.0;

		/* keep the box inside the image by shifting it, not shrinking it */
		if (a < 0.0)
		{
			b -= a;
			a = 0.0;
		}
		if (b > src_len)
		{
			a -= b - src_len;
			b = src_len;
			if (a < 0.0)
				a = 0.0;
		}
		first = (int) floor(a);
		last = (int) ceil(b) - 1;
		if (last >= src_len)
			last = src_len - 1;
		if (last < first)
			last = first;
		taps[j].first = first;
		taps[j].count = last - first + 1;
		taps[j].weights_at = used;
		for (int p = first; p <= last; p++)
		{
			double		o = fmin(p + 1.0, b) - fmax((double) p, a);

			weights[used + p - first] = (float) (o > 0.0 ? o : 0.0);
			total += o > 0.0 ? o : 0.0;
		}
		for (int p = 0; p < taps[j].count; p++)
			weights[used + p] = total > 0.0 ? (float) (weights[used + p] / total)
				: 1.0f / taps[j].count;
		used += taps[j].count;
	}
	*taps_out = taps;
	*weights_out = weights;
	return CV_OK;
}

/* What the bands of a render share (cv_augment_render). */
typedef struct render_job
{
	const cv_rgb_image *src;
	const cv_view *view;
	int			width;
	const tap  *xt,
			   *yt;
	const float *xw,
			   *yw;
	float	   *tmp;			/* horizontal pass: a row per source row */
	float	   *acc;			/* a row of sums per thread */
	uint8_t    *pixels;
	int			row_lo;			/* first source row read */
	int			rows;			/* rows of the pass being run */
} render_job;

/* Output pixels below which a render runs on one thread. */
#define RENDER_MIN_PARALLEL 16384

/* One output pixel of the horizontal pass, a channel at a time. */
static inline void
horizontal_pixel(const uint8_t *s, const float *w, int count, float *t)
{
	float		r = 0.0f,
				g = 0.0f,
				b = 0.0f;

	for (int p = 0; p < count; p++)
	{
		r += w[p] * s[3 * p];
		g += w[p] * s[3 * p + 1];
		b += w[p] * s[3 * p + 2];
	}
	t[0] = r;
	t[1] = g;
	t[2] = b;
}

/*
 * The horizontal pass over a band of the source rows the vertical pass
 * reads.  On x86-64 (SSE2) an output pixel's three channels are the lanes
 * of one vector: each tap loads the four bytes from its pixel on (the
 * fourth, the next pixel's red, is a lane whose sum is never kept),
 * widens them to floats and adds their products with the tap's weight, so
 * each channel gets the same products added in the same order as one at a
 * time (the same floats) for a third of the instructions.  The fourth lane
 * is stored too, into the next pixel's first float, which that pixel then
 * writes.  The row's last output pixel, and any whose taps reach the source
 * row's last pixel (its fourth byte lies past the row, and on the image's
 * last row past the image), are summed a channel at a time.
 */
static void
render_horizontal(void *ctx, int part, int nparts, int thread)
{
	const render_job *j = ctx;
	int			width = j->width,
				src_width = j->src->width;
	long		lo,
				hi;

	cv_parallel_range(j->rows, part, nparts, &lo, &hi);
	for (int y = j->row_lo + (int) lo; y < j->row_lo + (int) hi; y++)
	{
		const uint8_t *srow = j->src->pixels + (size_t) y * src_width * 3;
		float	   *trow = j->tmp + (size_t) y * width * 3;

		for (int x = 0; x < width; x++)
		{
			const tap  *t = &j->xt[x];
			const float *w = j->xw + t->weights_at;
			const uint8_t *s = srow + (size_t) t->first * 3;

#if defined(__SSE2__)
			if (x + 1 < width && t->first + t->count < src_width)
			{
				const __m128i zero = _mm_setzero_si128();
				__m128		acc = _mm_setzero_ps();

				for (int p = 0; p < t->count; p++)
				{
					int32_t		four;
					__m128i		b;

					memcpy(&four, s + 3 * p, sizeof(four));
					b = _mm_unpacklo_epi16(_mm_unpacklo_epi8(_mm_cvtsi32_si128(four), zero), zero);
					acc = _mm_add_ps(acc, _mm_mul_ps(_mm_set1_ps(w[p]), _mm_cvtepi32_ps(b)));
				}
				_mm_storeu_ps(trow + 3 * x, acc);
				continue;
			}
#endif
			horizontal_pixel(s, w, t->count, trow + 3 * x);
		}
	}
}

/*
 * A row of sums to bytes: v + 0.5 clamped to 0..255 and truncated, i.e.
 * rounded to the nearest byte.  On x86-64, sixteen at a time with SSE2
 * (every x86-64 CPU has it): maxps / minps clamp exactly as the comparisons
 * do (the sums are never NaN), cvttps2dq truncates as the cast does, and
 * the saturating packs cannot saturate values already in 0..255, so the
 * bytes are those of the scalar loop, which does the rest.
 */
static void
sums_to_bytes(const float *sums, int n, uint8_t *out)
{
	int			k = 0;

#if defined(__SSE2__)
	const __m128 half = _mm_set1_ps(0.5f),
				lo = _mm_setzero_ps(),
				hi = _mm_set1_ps(255.0f);

	for (; k + 16 <= n; k += 16)
	{
		__m128i		q[4];

		for (int i = 0; i < 4; i++)
		{
			__m128		v = _mm_add_ps(_mm_loadu_ps(sums + k + 4 * i), half);

			q[i] = _mm_cvttps_epi32(_mm_min_ps(_mm_max_ps(v, lo), hi));
		}
		_mm_storeu_si128((__m128i *) (out + k),
						 _mm_packus_epi16(_mm_packs_epi32(q[0], q[1]), _mm_packs_epi32(q[2], q[3])));
	}
#endif
	for (; k < n; k++)
	{
		float		v = sums[k] + 0.5f;

		out[k] = v <= 0.0f ? 0 : v >= 255.0f ? 255 : (uint8_t) v;
	}
}

/* A row of width RGB pixels in place, right to left. */
static void
mirror_pixels(uint8_t *row, int width)
{
	for (int a = 0, b = width - 1; a < b; a++, b--)
		for (int c = 0; c < 3; c++)
		{
			uint8_t		t = row[3 * a + c];

			row[3 * a + c] = row[3 * b + c];
			row[3 * b + c] = t;
		}
}

/*
 * The vertical pass over a band of output rows, a whole output row at a
 * time: each tap adds its source row to the row's sums, contiguously, four
 * floats at a time (GCC vector extensions: GCC 12 at -O2 does not
 * vectorise a loop of run-time length itself), instead of walking down a
 * column per value.  Every value gets the same sums in the same tap order
 * whatever the band, each lane the scalar multiply and add, so the same
 * bytes.
 */
static void
render_vertical(void *ctx, int part, int nparts, int thread)
{
	const render_job *j = ctx;
	int			width = j->width,
				n = width * 3;
	float	   *acc = j->acc + (size_t) thread * n;
	long		lo,
				hi;

	cv_parallel_range(j->rows, part, nparts, &lo, &hi);
	for (int i = (int) lo; i < (int) hi; i++)
	{
		const float *w = j->yw + j->yt[i].weights_at;
		uint8_t    *orow = j->pixels + (size_t) i * width * 3;

		for (int k = 0; k < n; k++)
			acc[k] = 0.0f;
		for (int p = 0; p < j->yt[i].count; p++)
		{
			const float *trow = j->tmp + (size_t) (j->yt[i].first + p) * width * 3;
			float		wp = w[p];
			render_v4	vw = {wp, wp, wp, wp};
			int			k = 0;

			for (; k + 4 <= n; k += 4)
				*(render_v4 *) (acc + k) += vw * *(const render_v4 *) (trow + k);
			for (; k < n; k++)
				acc[k] += wp * trow[k];
		}
		sums_to_bytes(acc, n, orow);
		if (j->view->flip)
			mirror_pixels(orow, width);
	}
}

/* Bytes of the two sums one rendering needs (see cv_augment_render_work). */
static void
render_work_split(int src_height, int width, size_t *tmp_len, size_t *acc_len)
{
	/* acc starts on a 64-byte boundary, as a fresh allocation would align it */
	*tmp_len = ((size_t) src_height * width * 3 * sizeof(float) + 63) & ~(size_t) 63;
	*acc_len = (size_t) cv_parallel_threads() * width * 3 * sizeof(float);
}

size_t
cv_augment_render_work(int src_height, int width)
{
	size_t		tmp_len,
				acc_len;

	if (src_height <= 0 || width <= 0 || src_height > 65536 || width > 65536)
		return 0;
	render_work_split(src_height, width, &tmp_len, &acc_len);
	return tmp_len + acc_len;
}

/*
 * The rendering into pixels (width x height x 3), its sums in work when
 * that holds work_len >= cv_augment_render_work bytes, else in buffers of
 * its own for this call.
 */
static cv_status
render_into(const cv_rgb_image *src, const cv_view *view, int width, int height,
			uint8_t *pixels, void *work, size_t work_len, cv_error *err)
{
	tap		   *xt = NULL,
			   *yt = NULL;
	float	   *xw = NULL,
			   *yw = NULL;
	float	   *tmp = NULL,
			   *acc = NULL;
	void	   *own = NULL;
	cv_status	st;
	size_t		tmp_len,
				acc_len;
	int			threads;

	st = make_taps(src->width, view->left * (double) src->width,
				   view->width * (double) src->width, width, &xt, &xw, err);
	if (st == CV_OK)
		st = make_taps(src->height, view->top * (double) src->height,
					   view->height * (double) src->height, height, &yt, &yw, err);
	if (st != CV_OK)
		goto done;

	/* horizontal pass over only the source rows the vertical pass reads */
	if (!cv_mul_size((size_t) src->height, (size_t) width * 3 * sizeof(float), &tmp_len))
	{
		st = cv_fail(err, CV_ERR_LIMIT, "image too large to resample");
		goto done;
	}
	/* one row of sums per thread that may run a band */
	threads = cv_parallel_threads();
	render_work_split(src->height, width, &tmp_len, &acc_len);
	if (work == NULL || work_len < tmp_len + acc_len)
	{
		work = own = cv_malloc(tmp_len + acc_len);
		if (own == NULL)
		{
			st = cv_fail(err, CV_ERR_NOMEM, "out of memory resampling an image");
			goto done;
		}
	}
	tmp = work;
	acc = (float *) ((char *) work + tmp_len);
	{
		render_job	j;
		int			row_lo = yt[0].first;
		int			row_hi = yt[height - 1].first + yt[height - 1].count - 1;
		int			parts;

		for (int i = 0; i < height; i++)
		{
			if (yt[i].first < row_lo)
				row_lo = yt[i].first;
			if (yt[i].first + yt[i].count - 1 > row_hi)
				row_hi = yt[i].first + yt[i].count - 1;
		}
		j.src = src;
		j.view = view;
		j.width = width;
		j.xt = xt;
		j.yt = yt;
		j.xw = xw;
		j.yw = yw;
		j.tmp = tmp;
		j.acc = acc;
		j.pixels = pixels;
		j.row_lo = row_lo;
		/*
		 * Bands of rows for pgvision.threads; one band below the size
		 * where handing them out costs what the second thread saves.
		 */
		parts = (size_t) width * height < RENDER_MIN_PARALLEL ? 1 : threads * 2;
		j.rows = row_hi - row_lo + 1;
		cv_parallel_run(parts, render_horizontal, &j);
		j.rows = height;
		cv_parallel_run(parts, render_vertical, &j);
	}

done:
	cv_free(xt);
	cv_free(yt);
	cv_free(xw);
	cv_free(yw);
	cv_free(own);
	return st;
}

/* The checks both entry points make before rendering. */
static cv_status
render_check(const cv_rgb_image *src, const cv_view *view, int width, int height,
			 cv_error *err)
{
	if (src == NULL || src->pixels == NULL || src->width <= 0 || src->height <= 0)
		return cv_fail(err, CV_ERR_PARAM, "cannot render a view of an empty image");
	if (view == NULL || width <= 0 || height <= 0 || width > 65536 || height > 65536)
		return cv_fail(err, CV_ERR_PARAM, "invalid view size %dx%d", width, height);
	if (!(view->left >= 0.0f && view->top >= 0.0f && view->width > 0.0f && view->height > 0.0f &&
		  view->left + view->width <= 1.0001f && view->top + view->height <= 1.0001f))
		return cv_fail(err, CV_ERR_PARAM, "view rectangle outside the image");
	return CV_OK;
}

cv_status
cv_augment_render(const cv_rgb_image *src, const cv_view *view, int width,
				  int height, cv_rgb_image *out, cv_error *err)
{
	uint8_t    *pixels;
	cv_status	st;

	memset(out, 0, sizeof(*out));
	/* checked before the pixels are allocated at a size that may be bad */
	st = render_check(src, view, width, height, err);
	if (st != CV_OK)
		return st;
	pixels = cv_malloc((size_t) width * height * 3);
	if (pixels == NULL)
		return cv_fail(err, CV_ERR_NOMEM, "out of memory resampling an image");
	st = cv_augment_render_in(src, view, width, height, pixels, NULL, 0, out, err);
	if (st != CV_OK)
		cv_free(pixels);
	return st;
}

cv_status
cv_augment_render_in(const cv_rgb_image *src, const cv_view *view, int width, int height,
					 uint8_t *pixels, void *work, size_t work_len, cv_rgb_image *out,
					 cv_error *err)
{
	cv_status	st;

	memset(out, 0, sizeof(*out));
	st = render_check(src, view, width, height, err);
	if (st == CV_OK)
		st = render_into(src, view, width, height, pixels, work, work_len, err);
	if (st != CV_OK)
		return st;
	out->width = width;
	out->height = height;
	out->pixels = pixels;
	return CV_OK;
}

bool
cv_augment_view_for(const cv_feature_extractor *fx, const cv_rgb_image *src,
					int index, cv_view *out)
{
	const cv_view *v = cv_augment_view(index);
	double		w_px,
				h_px,
				side;

	if (v == NULL || fx == NULL || src == NULL || src->width <= 0 || src->height <= 0)
		return false;
	*out = *v;
	if (!fx->square_views)
		return true;
	w_px = (double) v->width * src->width;
	h_px = (double) v->height * src->height;
	side = w_px < h_px ? w_px : h_px;
	out->width = (float) (side / src->width);
	out->height = (float) (side / src->height);
	if (out->width > v->width)	/* float rounding */
		out->width = v->width;
	if (out->height > v->height)
		out->height = v->height;
	out->left = v->left + (v->width - out->width) / 2.0f;
	out->top = v->top + (v->height - out->height) / 2.0f;
	return true;
}

cv_status
cv_augment_features(const cv_feature_extractor *fx, const cv_rgb_image *src,
					int n_views, float *out, cv_error *err)
{
	if (fx == NULL || out == NULL)
		return cv_fail(err, CV_ERR_PARAM, "invalid arguments to augmentation");
	if (n_views < 1 || n_views > CV_AUGMENT_MAX_VIEWS)
		return cv_fail(err, CV_ERR_PARAM, "number of views must be between 1 and %d",
					   CV_AUGMENT_MAX_VIEWS);
	for (int v = 0; v < n_views; v++)
	{
		cv_rgb_image view;
		cv_view		rect;
		cv_status	st;

		if (!cv_augment_view_for(fx, src, v, &rect))
			return cv_fail(err, CV_ERR_PARAM, "cannot render a view of an empty image");
		st = cv_augment_render(src, &rect, fx->input_width,
							   fx->input_height, &view, err);
		if (st != CV_OK)
			return st;
		st = cv_features_extract(fx, &view, out + (size_t) v * fx->dim, err);
		cv_free(view.pixels);
		if (st != CV_OK)
			return st;
	}
	return CV_OK;
}
