/*
 * depthwise.c
 *	  DEPTHWISE_CONV_2D, float32 NHWC, batch 1, any window, stride, dilation
 *	  and padding; written for the cache rather than for sgemm.
 *
 * Depthwise convolution does little arithmetic per byte (9 multiply-adds
 * per input value for 3x3), so the layout decides the speed.  In NHWC the
 * channels of one pixel are contiguous, so the inner loop runs over
 * channels in vectors of 8, and the taps of the window loop around it.
 * Four output pixels of a row are computed together: each weight vector is
 * loaded once for four multiply-adds, and the four independent accumulator
 * chains hide the FMA latency.  Pixels whose window crosses the left or
 * right border take a slower path that skips the missing taps (zero
 * padding); top and bottom borders just shorten the ky range, for free.
 * The channel multiplier (out_c = in_c * m, m > 1) is rare in practice and
 * gets a plain scalar loop.
 */
#include "nn_kernels.h"

#include <stdlib.h>

#define ALWAYS_INLINE static inline __attribute__((always_inline))

/* One output pixel, taps kx in [kx0, kx1) and ky in [ky0, ky1). */
ALWAYS_INLINE void
dw_pixel(const nn_conv_params *p, const float *in, float *out, int oy, int ox,
		 int ky0, int ky1)
{
	int			c = p->in_c;
	int			iy0 = oy * p->stride_h - p->pad_top;
	int			ix0 = ox * p->stride_w - p->pad_left;
	int			kx0 = 0,
				kx1 = p->k_w;
	float	   *o = out + ((size_t) oy * p->out_w + ox) * c;
	nn_v8		lo = nn_v8_set1(p->act_min),
				hi = nn_v8_set1(p->act_max);
	int			ch = 0;

	while (kx0 < kx1 && ix0 + kx0 * p->dil_w < 0)
		kx0++;
	while (kx1 > kx0 && ix0 + (kx1 - 1) * p->dil_w >= p->in_w)
		kx1--;

	for (; ch + 8 <= c; ch += 8)
	{
		nn_v8		acc = p->bias ? *(const nn_v8 *) (p->bias + ch) : nn_v8_set1(0.0f);

		for (int ky = ky0; ky < ky1; ky++)
		{
			const float *row = in + (size_t) (iy0 + ky * p->dil_h) * p->in_w * c;

			for (int kx = kx0; kx < kx1; kx++)
				acc += *(const nn_v8 *) (row + (size_t) (ix0 + kx * p->dil_w) * c + ch) *
					*(const nn_v8 *) (p->weights + (size_t) (ky * p->k_w + kx) * c + ch);
		}
		*(nn_v8 *) (o + ch) = nn_v8_clamp(acc, lo, hi);
	}
	for (; ch < c; ch++)
	{
		float		acc = p->bias ? p->bias[ch] : 0.0f;

		for (int ky = ky0; ky < ky1; ky++)
			for (int kx = kx0; kx < kx1; kx++)
				acc += in[((size_t) (iy0 + ky * p->dil_h) * p->in_w + ix0 + kx * p->dil_w) * c + ch] *
					p->weights[(size_t) (ky * p->k_w + kx) * c + ch];
		o[ch] = acc < p->act_min ? p->act_min : (acc > p->act_max ? p->act_max : acc);
	}
}

/* Four output pixels ox..ox+3 whose windows lie inside the row. */
ALWAYS_INLINE void
dw_quad(const nn_conv_params *p, const float *in, float *out, int oy, int ox,
		int ky0, int ky1, const int kw)
{
	int			c = p->in_c;
	int			iy0 = oy * p->stride_h - p->pad_top;
	int			ix0 = ox * p->stride_w - p->pad_left;
	size_t		step = (size_t) p->stride_w * c;	/* between the 4 pixels */
	float	   *o = out + ((size_t) oy * p->out_w + ox) * c;
	nn_v8		lo = nn_v8_set1(p->act_min),
				hi = nn_v8_set1(p->act_max);
	int			ch = 0;

	for (; ch + 8 <= c; ch += 8)
	{
		nn_v8		b = p->bias ? *(const nn_v8 *) (p->bias + ch) : nn_v8_set1(0.0f);
		nn_v8		a0 = b,
					a1 = b,
					a2 = b,
					a3 = b;

		for (int ky = ky0; ky < ky1; ky++)
		{
			const float *src = in + ((size_t) (iy0 + ky * p->dil_h) * p->in_w + ix0) * c + ch;
			const float *w = p->weights + (size_t) ky * kw * c + ch;

			for (int kx = 0; kx < kw; kx++)
			{
				nn_v8		wv = *(const nn_v8 *) (w + (size_t) kx * c);
				const float *s = src + (size_t) kx * p->dil_w * c;

				a0 += *(const nn_v8 *) s * wv;
				a1 += *(const nn_v8 *) (s + step) * wv;
				a2 += *(const nn_v8 *) (s + 2 * step) * wv;
				a3 += *(const nn_v8 *) (s + 3 * step) * wv;
			}
		}
		*(nn_v8 *) (o + ch) = nn_v8_clamp(a0, lo, hi);
		*(nn_v8 *) (o + c + ch) = nn_v8_clamp(a1, lo, hi);
		*(nn_v8 *) (o + 2 * c + ch) = nn_v8_clamp(a2, lo, hi);
		*(nn_v8 *) (o + 3 * c + ch) = nn_v8_clamp(a3, lo, hi);
	}
	if (ch < c)
		for (int j = 0; j < 4; j++)
		{
			for (int t = ch; t < c; t++)
			{
				float		acc = p->bias ? p->bias[t] : 0.0f;

				for (int ky = ky0; ky < ky1; ky++)
					for (int kx = 0; kx < kw; kx++)
						acc += in[((size_t) (iy0 + ky * p->dil_h) * p->in_w + ix0 +
								   j * p->stride_w + kx * p->dil_w) * c + t] *
							p->weights[(size_t) (ky * kw + kx) * c + t];
				o[(size_t) j * c + t] = acc < p->act_min ? p->act_min :
					(acc > p->act_max ? p->act_max : acc);
			}
		}
}

/* Rows of output for depth multiplier 1; kw is a constant when inlined. */
ALWAYS_INLINE void
dw_rows(const nn_conv_params *p, const float *in, float *out, const int kw)
{
	int			ox_lo,
				ox_hi;

	nn_interior_columns(p, &ox_lo, &ox_hi);

	for (int oy = 0; oy < p->out_h; oy++)
	{
		int			iy0 = oy * p->stride_h - p->pad_top;
		int			ky0 = 0,
					ky1 = p->k_h,
					ox;

		while (ky0 < ky1 && iy0 + ky0 * p->dil_h < 0)
			ky0++;
		while (ky1 > ky0 && iy0 + (ky1 - 1) * p->dil_h >= p->in_h)
			ky1--;
		for (ox = 0; ox < ox_lo; ox++)
			dw_pixel(p, in, out, oy, ox, ky0, ky1);
		for (; ox + 4 <= ox_hi; ox += 4)
			dw_quad(p, in, out, oy, ox, ky0, ky1, kw);
		for (; ox < p->out_w; ox++)
			dw_pixel(p, in, out, oy, ox, ky0, ky1);
	}
}

/* Any channel multiplier: output channel ic * m + j reads input channel ic. */
static void
dw_multiplier(const nn_conv_params *p, const float *in, float *out)
{
	int			m = p->depth_multiplier;

	for (int oy = 0; oy < p->out_h; oy++)
		for (int ox = 0; ox < p->out_w; ox++)
			for (int oc = 0; oc < p->out_c; oc++)
			{
				float		acc = p->bias ? p->bias[oc] : 0.0f;

				for (int ky = 0; ky < p->k_h; ky++)
				{
					int			iy = oy * p->stride_h - p->pad_top + ky * p->dil_h;

					if (iy < 0 || iy >= p->in_h)
						continue;
					for (int kx = 0; kx < p->k_w; kx++)
					{
						int			ix = ox * p->stride_w - p->pad_left + kx * p->dil_w;

						if (ix < 0 || ix >= p->in_w)
							continue;
						acc += in[((size_t) iy * p->in_w + ix) * p->in_c + oc / m] *
							p->weights[(size_t) (ky * p->k_w + kx) * p->out_c + oc];
					}
				}
				out[((size_t) oy * p->out_w + ox) * p->out_c + oc] =
					acc < p->act_min ? p->act_min : (acc > p->act_max ? p->act_max : acc);
			}
}

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>

#define DW512_TARGET __attribute__((target("avx512f,avx512vl,avx512dq,avx512bw,avx2,fma")))

/*
 * AVX-512 path (p->simd512, set at load on CPUs that have it), for a
 * square KW x KW window, no dilation, stride S (KW and S constants): the
 * channels in vectors of 16 (the last one masked), the KW x KW weight
 * vectors of a channel block held in registers over a whole output row, and
 * P output pixels per step, whose windows overlap so that each input
 * vector is loaded once for up to KW multiply-adds.  Pixels whose window
 * crosses a border (check) take the same code one at a time, skipping the
 * missing rows (NULL) and columns.  The taps are summed in the same order
 * as the portable code (ky, then kx), so both give the same floats.
 */
DW512_TARGET ALWAYS_INLINE void
dw512_run(const float *const *rows, __m512 wv[][5], __m512 b, __m512 lo, __m512 hi,
		  float *o, size_t c, int ox_in, int in_w, __mmask16 m, const bool full,
		  const bool check, const int KW, const int S, const int P)
{
	__m512		acc[8];

#pragma GCC unroll 8
	for (int j = 0; j < P; j++)
		acc[j] = b;
#pragma GCC unroll 5
	for (int ky = 0; ky < KW; ky++)
	{
		const float *src = rows[ky];

		if (check && src == NULL)
			continue;
		src += (ptrdiff_t) ox_in * (ptrdiff_t) c;
#pragma GCC unroll 24
		for (int t = 0; t < (P - 1) * S + KW; t++)
		{
			__m512		x;

			if (check && (ox_in + t < 0 || ox_in + t >= in_w))
				continue;
			x = full ? _mm512_loadu_ps(src + (ptrdiff_t) t * c) :
				_mm512_maskz_loadu_ps(m, src + (ptrdiff_t) t * c);
#pragma GCC unroll 5
			for (int kx = 0; kx < KW; kx++)
			{
				int			j = t - kx;

				/* input column t feeds output j = (t - kx) / S */
				if (j >= 0 && j % S == 0 && j / S < P)
					acc[j / S] = _mm512_fmadd_ps(x, wv[ky][kx], acc[j / S]);
			}
		}
	}
#pragma GCC unroll 8
	for (int j = 0; j < P; j++)
	{
		__m512		v = _mm512_min_ps(_mm512_max_ps(acc[j], lo), hi);

		if (full)
			_mm512_storeu_ps(o + (size_t) j * c, v);
		else
			_mm512_mask_storeu_ps(o + (size_t) j * c, m, v);
	}
}

/* One channel block of one output row; rows[ky] NULL outside the input. */
DW512_TARGET ALWAYS_INLINE void
dw512_block(const nn_conv_params *p, const float *const *rows, bool inside, float *orow,
			int ch, int ox_lo, int ox_hi, const bool full, const int KW, const int S)
{
	size_t		c = (size_t) p->in_c;
	int			left = c - ch >= 16 ? 16 : (int) c - ch;
	__mmask16	m = (__mmask16) (left >= 16 ? 0xFFFF : (1u << left) - 1);
	__m512		wv[5][5];
	__m512		b = p->bias ? _mm512_maskz_loadu_ps(m, p->bias + ch) : _mm512_setzero_ps();
	__m512		lo = _mm512_set1_ps(p->act_min),
				hi = _mm512_set1_ps(p->act_max);
	const float *r[5];
	int			ox = 0;

#pragma GCC unroll 5
	for (int ky = 0; ky < KW; ky++)
	{
		r[ky] = rows[ky] ? rows[ky] + ch : NULL;
#pragma GCC unroll 5
		for (int kx = 0; kx < KW; kx++)
			wv[ky][kx] = _mm512_maskz_loadu_ps(m, p->weights + (size_t) (ky * KW + kx) * c + ch);
	}
	if (!inside)
	{
		for (; ox < p->out_w; ox++)
			dw512_run(r, wv, b, lo, hi, orow + (size_t) ox * c + ch, c,
					  ox * S - p->pad_left, p->in_w, m, full, true, KW, S, 1);
		return;
	}
	for (; ox < ox_lo; ox++)
		dw512_run(r, wv, b, lo, hi, orow + (size_t) ox * c + ch, c,
				  ox * S - p->pad_left, p->in_w, m, full, true, KW, S, 1);
	/* 8 pixels (4 for 5x5, whose 25 weights take most registers) */
	for (; ox + (KW == 3 ? 8 : 4) <= ox_hi; ox += (KW == 3 ? 8 : 4))
		dw512_run(r, wv, b, lo, hi, orow + (size_t) ox * c + ch, c,
				  ox * S - p->pad_left, p->in_w, m, full, false, KW, S, KW == 3 ? 8 : 4);
	if (KW == 3 && ox + 4 <= ox_hi)
	{
		dw512_run(r, wv, b, lo, hi, orow + (size_t) ox * c + ch, c,
				  ox * S - p->pad_left, p->in_w, m, full, false, KW, S, 4);
		ox += 4;
	}
	for (; ox < ox_hi; ox++)
		dw512_run(r, wv, b, lo, hi, orow + (size_t) ox * c + ch, c,
				  ox * S - p->pad_left, p->in_w, m, full, false, KW, S, 1);
	for (; ox < p->out_w; ox++)
		dw512_run(r, wv, b, lo, hi, orow + (size_t) ox * c + ch, c,
				  ox * S - p->pad_left, p->in_w, m, full, true, KW, S, 1);
}

DW512_TARGET ALWAYS_INLINE void
dw512_rows(const nn_conv_params *p, const float *in, float *out, const int KW, const int S)
{
	int			c = p->in_c;
	int			ox_lo,
				ox_hi;

	/* KW == p->k_w, S == p->stride_w, no dilation (dw512_applies) */
	nn_interior_columns(p, &ox_lo, &ox_hi);

	for (int oy = 0; oy < p->out_h; oy++)
	{
		int			iy0 = oy * S - p->pad_top;
		float	   *orow = out + (size_t) oy * p->out_w * c;
		const float *rows[5];
		bool		inside = true;
		int			ch = 0;

		for (int ky = 0; ky < KW; ky++)
		{
			int			iy = iy0 + ky;

			rows[ky] = iy >= 0 && iy < p->in_h ? in + (size_t) iy * p->in_w * c : NULL;
			inside = inside && rows[ky] != NULL;
		}
		for (; ch + 16 <= c; ch += 16)
			dw512_block(p, rows, inside, orow, ch, ox_lo, ox_hi, true, KW, S);
		if (ch < c)
			dw512_block(p, rows, inside, orow, ch, ox_lo, ox_hi, false, KW, S);
	}
}

/*
 * A block fused around the depthwise (nn_depthwise_fused): input rows are
 * expanded (nn_gemm, one row of in_w pixels at a time, in order) into a
 * ring of KW rows just before the first output row that needs them, so
 * each is computed once; each output row is then projected while in cache.
 */
DW512_TARGET ALWAYS_INLINE void
dw512_fused_rows(const nn_conv_params *e, const nn_conv_params *p, const nn_conv_params *q,
				 const float *in, float *out, float *scratch, const int KW, const int S)
{
	int			c = p->in_c;
	size_t		rowf = (size_t) p->in_w * c;
	float	   *ring = scratch;
	float	   *dwrow = e ? scratch + (size_t) KW * rowf : scratch;
	/* the first input row needed: 0, or later for a band (nn_depthwise_rows) */
	int			done = p->pad_top < 0 ? -p->pad_top : 0;
	int			ox_lo,
				ox_hi;

	/* KW == p->k_w, S == p->stride_w, no dilation (dw512_applies) */
	nn_interior_columns(p, &ox_lo, &ox_hi);

	for (int oy = 0; oy < p->out_h; oy++)
	{
		int			iy0 = oy * S - p->pad_top;
		float	   *orow = q ? dwrow : out + (size_t) oy * p->out_w * c;
		const float *rows[5];
		bool		inside = true;
		int			ch = 0;

		for (int ky = 0; ky < KW; ky++)
		{
			int			iy = iy0 + ky;

			if (iy < 0 || iy >= p->in_h)
			{
				rows[ky] = NULL;
				inside = false;
				continue;
			}
			if (e == NULL)
			{
				rows[ky] = in + (size_t) iy * rowf;
				continue;
			}
			for (; done <= iy; done++)
				nn_gemm(p->in_w, e->in_c, c, in + (size_t) done * p->in_w * e->in_c, e->in_c,
						e->weights, e->bias, e->act_min, e->act_max,
						ring + (size_t) (done % KW) * rowf, c);
			rows[ky] = ring + (size_t) (iy % KW) * rowf;
		}
		for (; ch + 16 <= c; ch += 16)
			dw512_block(p, rows, inside, orow, ch, ox_lo, ox_hi, true, KW, S);
		if (ch < c)
			dw512_block(p, rows, inside, orow, ch, ox_lo, ox_hi, false, KW, S);
		if (q)
			nn_gemm(p->out_w, c, q->out_c, dwrow, c, q->weights, q->bias, q->act_min,
					q->act_max, out + (size_t) oy * p->out_w * q->out_c, q->out_c);
	}
}

DW512_TARGET
void
nn_depthwise_fused(const nn_conv_params *e, const nn_conv_params *p, const nn_conv_params *q,
				   const float *in, float *out, float *scratch)
{
	if (p->k_w == 3 && p->stride_w == 1)
		dw512_fused_rows(e, p, q, in, out, scratch, 3, 1);
	else if (p->k_w == 3)
		dw512_fused_rows(e, p, q, in, out, scratch, 3, 2);
	else if (p->stride_w == 1)
		dw512_fused_rows(e, p, q, in, out, scratch, 5, 1);
	else
		dw512_fused_rows(e, p, q, in, out, scratch, 5, 2);
}

static bool
dw512_applies(const nn_conv_params *p)
{
	return p->simd512 && p->depth_multiplier == 1 && p->dil_h == 1 && p->dil_w == 1 &&
		p->k_h == p->k_w && p->stride_h == p->stride_w &&
		(p->k_w == 3 || p->k_w == 5) && (p->stride_w == 1 || p->stride_w == 2);
}

DW512_TARGET
static bool
dw512(const nn_conv_params *p, const float *in, float *out)
{
	if (!dw512_applies(p))
		return false;
	if (p->k_w == 3 && p->stride_w == 1)
		dw512_rows(p, in, out, 3, 1);
	else if (p->k_w == 3 && p->stride_w == 2)
		dw512_rows(p, in, out, 3, 2);
	else if (p->k_w == 5 && p->stride_w == 1)
		dw512_rows(p, in, out, 5, 1);
	else if (p->k_w == 5 && p->stride_w == 2)
		dw512_rows(p, in, out, 5, 2);
	else
		return false;
	return true;
}
#else
static bool
dw512_applies(const nn_conv_params *p)
{
	return false;
}

static bool
dw512(const nn_conv_params *p, const float *in, float *out)
{
	return false;
}

void
nn_depthwise_fused(const nn_conv_params *e, const nn_conv_params *p, const nn_conv_params *q,
				   const float *in, float *out, float *scratch)
{
	abort();					/* never fused without AVX-512 */
}
#endif

size_t		nn_fuse_min_floats = 256 * 1024;

static bool
is_packed_pointwise(const nn_conv_params *e)
{
	return e->packed && e->k_h == 1 && e->k_w == 1 && e->stride_h == 1 && e->stride_w == 1 &&
		e->pad_top == 0 && e->pad_left == 0 && e->out_h == e->in_h && e->out_w == e->in_w;
}

bool
nn_depthwise_can_fuse_expand(const nn_conv_params *e, const nn_conv_params *p)
{
	return dw512_applies(p) && is_packed_pointwise(e) && e->out_c == p->in_c &&
		e->in_h == p->in_h && e->in_w == p->in_w &&
		(size_t) p->in_h * p->in_w * p->in_c >= nn_fuse_min_floats;
}

bool
nn_depthwise_can_fuse_project(const nn_conv_params *p, const nn_conv_params *q)
{
	return dw512_applies(p) && is_packed_pointwise(q) && q->in_c == p->out_c &&
		q->in_h == p->out_h && q->in_w == p->out_w &&
		(size_t) p->out_h * p->out_w * p->out_c >= nn_fuse_min_floats;
}

size_t
nn_depthwise_fused_scratch(const nn_conv_params *e, const nn_conv_params *p,
						   const nn_conv_params *q)
{
	return (e ? (size_t) p->k_h * p->in_w * p->in_c : 0) +
		(q ? (size_t) p->out_w * p->out_c : 0);
}

NN_MULTIVERSION
static void
dw_portable(const nn_conv_params *p, const float *in, float *out)
{
	if (p->depth_multiplier != 1)
		dw_multiplier(p, in, out);
	else if (p->k_w == 3)
		dw_rows(p, in, out, 3);		/* MobileNets: constant taps unroll */
	else if (p->k_w == 5)
		dw_rows(p, in, out, 5);		/* MobileNet V3, EfficientNet */
	else
		dw_rows(p, in, out, p->k_w);
}

/*
 * Bands of output rows [oy_lo, oy_hi), for a split over threads: the
 * layer's band view (nn_band_view), so a band computes exactly what the
 * whole layer computes for its rows.  A fused band expands its own input
 * rows into its own scratch (up to k_h - stride rows that the band above
 * also expands) and writes the projection's rows of the band.
 */
void
nn_depthwise_rows(const nn_conv_params *p, const float *in, float *out, int oy_lo, int oy_hi)
{
	nn_conv_params v = nn_band_view(p, oy_lo, oy_hi);

	nn_depthwise(&v, in, out + (size_t) oy_lo * p->out_w * p->out_c);
}

void
nn_depthwise_fused_rows(const nn_conv_params *e, const nn_conv_params *p, const nn_conv_params *q,
						const float *in, float *out, float *scratch, int oy_lo, int oy_hi)
{
	nn_conv_params v = nn_band_view(p, oy_lo, oy_hi);
	int			out_c = q ? q->out_c : p->out_c;

	nn_depthwise_fused(e, &v, q, in, out + (size_t) oy_lo * p->out_w * out_c, scratch);
}

void
nn_depthwise(const nn_conv_params *p, const float *in, float *out)
{
	if (!dw512(p, in, out))
		dw_portable(p, in, out);
}
