/*
 * conv.c
 *	  CONV_2D and FULLY_CONNECTED on OpenBLAS sgemm, NHWC, batch 1.
 *
 * A convolution is a matrix product: output pixels (M = out_h * out_w rows)
 * times the filters (N = out_c columns), over K = k_h * k_w * in_c.  A 1x1
 * stride-1 convolution reads the NHWC input as that M x K matrix directly,
 * with no copy; any other window is unrolled (im2col) into a scratch tile of
 * rows first, in the (ky, kx, ci) order of TFLite's [out_c][k_h][k_w][in_c]
 * filters, so that the filters are used as stored (CblasTrans).
 *
 * The work is done in row tiles so that the bias and the fused activation
 * are applied to a tile while it is still in cache, instead of a second
 * pass over the whole output.
 */
#include "nn_kernels.h"

#include <cblas.h>
#include <string.h>

/* Floats of an im2col tile, and of an output tile, aimed at L2. */
#define IM2COL_TILE_FLOATS (64 * 1024)
#define OUT_TILE_FLOATS (48 * 1024)

static bool
is_pointwise(const nn_conv_params *p)
{
	return p->k_h == 1 && p->k_w == 1 && p->stride_h == 1 && p->stride_w == 1 &&
		p->pad_top == 0 && p->pad_left == 0 && p->in_h == p->out_h && p->in_w == p->out_w;
}

static int
tile_rows(const nn_conv_params *p)
{
	size_t		k = (size_t) p->k_h * p->k_w * p->in_c;
	size_t		m = (size_t) p->out_h * p->out_w;
	size_t		rows;

	if (is_pointwise(p))
		rows = OUT_TILE_FLOATS / (size_t) p->out_c;
	else
		rows = IM2COL_TILE_FLOATS / k;
	/* too few rows and OpenBLAS spends its time repacking the filters */
	if (rows < 64)
		rows = 64;
	if (rows > m)
		rows = m;
	return (int) rows;
}

/*
 * Packed filters and nn_gemm for every convolution that is not direct,
 * when the CPU allows: not for a single output pixel (a classifier on a
 * pooled vector), which is sgemv on the filters as stored.
 */
bool
nn_conv2d_wants_gemm(const nn_conv_params *p)
{
	return nn_gemm_available() && !nn_conv2d_wants_direct(p) &&
		(size_t) p->out_h * p->out_w > 1;
}

bool
nn_conv2d_wants_direct(const nn_conv_params *p)
{
	return p->in_c <= 4 && (p->out_c == 16 || p->out_c == 32 || p->out_c == 64) &&
		!is_pointwise(p);
}

size_t
nn_conv2d_scratch(const nn_conv_params *p)
{
	if (p->weights_kn != NULL)
		return 0;
	if (is_pointwise(p))
		return 0;
	return (size_t) tile_rows(p) * p->k_h * p->k_w * p->in_c;
}

/* out[r][j] = clamp(out[r][j] + bias[j]) */
NN_MULTIVERSION
static void
bias_act(float *out, int rows, int n, const float *bias, float lo, float hi)
{
	nn_v8		vlo = nn_v8_set1(lo);
	nn_v8		vhi = nn_v8_set1(hi);

	for (int r = 0; r < rows; r++)
	{
		float	   *o = out + (size_t) r * n;
		int			j = 0;

		if (bias != NULL)
		{
			for (; j + 8 <= n; j += 8)
			{
				nn_v8		x = *(const nn_v8 *) (o + j) + *(const nn_v8 *) (bias + j);

				*(nn_v8 *) (o + j) = nn_v8_clamp(x, vlo, vhi);
			}
			for (; j < n; j++)
			{
				float		x = o[j] + bias[j];

				o[j] = x < lo ? lo : (x > hi ? hi : x);
			}
		}
		else
		{
			for (; j + 8 <= n; j += 8)
			{
				nn_v8		x = *(const nn_v8 *) (o + j);

				*(nn_v8 *) (o + j) = nn_v8_clamp(x, vlo, vhi);
			}
			for (; j < n; j++)
				o[j] = o[j] < lo ? lo : (o[j] > hi ? hi : o[j]);
		}
	}
}

/* Unroll output rows [r0, r0 + rows) into col: one row of K per pixel. */
static void
im2col(const nn_conv_params *p, const float *in, int r0, int rows, float *col)
{
	int			c = p->in_c;
	size_t		krow = (size_t) p->k_h * p->k_w * c;

	for (int r = 0; r < rows; r++)
	{
		int			oy = (r0 + r) / p->out_w;
		int			ox = (r0 + r) % p->out_w;
		float	   *dst = col + (size_t) r * krow;

		for (int ky = 0; ky < p->k_h; ky++)
		{
			int			iy = oy * p->stride_h - p->pad_top + ky * p->dil_h;

			for (int kx = 0; kx < p->k_w; kx++)
			{
				int			ix = ox * p->stride_w - p->pad_left + kx * p->dil_w;

				if (iy < 0 || iy >= p->in_h || ix < 0 || ix >= p->in_w)
					memset(dst, 0, (size_t) c * sizeof(float));
				else
					memcpy(dst, in + ((size_t) iy * p->in_w + ix) * c,
						   (size_t) c * sizeof(float));
				dst += c;
			}
		}
	}
}

/*
 * Direct convolution for a handful of input channels (the 3x3 stride-2 RGB
 * stem of MobileNets: K = 27, where sgemm runs at a third of its speed).
 * Each output pixel keeps its out_c sums in registers (nv vectors of 8) and
 * adds, for every input value of its window, that value times one row of
 * the transposed filters.
 */
static inline __attribute__((always_inline)) void
conv_direct_nv(const nn_conv_params *p, const float *in, float *out, const int nv)
{
	int			c = p->in_c,
				n = p->out_c;
	nn_v8		lo = nn_v8_set1(p->act_min),
				hi = nn_v8_set1(p->act_max);

	for (int oy = 0; oy < p->out_h; oy++)
		for (int ox = 0; ox < p->out_w; ox++)
		{
			nn_v8		acc[8];
			float	   *o = out + ((size_t) oy * p->out_w + ox) * n;

#pragma GCC unroll 8
			for (int j = 0; j < nv; j++)
				acc[j] = p->bias ? *(const nn_v8 *) (p->bias + 8 * j) : nn_v8_set1(0.0f);
			for (int ky = 0; ky < p->k_h; ky++)
			{
				int			iy = oy * p->stride_h - p->pad_top + ky * p->dil_h;

				if (iy < 0 || iy >= p->in_h)
					continue;
				for (int kx = 0; kx < p->k_w; kx++)
				{
					int			ix = ox * p->stride_w - p->pad_left + kx * p->dil_w;
					const float *src,
							   *w;

					if (ix < 0 || ix >= p->in_w)
						continue;
					src = in + ((size_t) iy * p->in_w + ix) * c;
					w = p->weights_kn + (size_t) ((ky * p->k_w + kx) * c) * n;
					for (int ci = 0; ci < c; ci++)
					{
						nn_v8		x = nn_v8_set1(src[ci]);

#pragma GCC unroll 8
						for (int j = 0; j < nv; j++)
							acc[j] += x * *(const nn_v8 *) (w + (size_t) ci * n + 8 * j);
					}
				}
			}
#pragma GCC unroll 8
			for (int j = 0; j < nv; j++)
				*(nn_v8 *) (o + 8 * j) = nn_v8_clamp(acc[j], lo, hi);
		}
}

NN_MULTIVERSION
static void
conv_direct(const nn_conv_params *p, const float *in, float *out)
{
	if (p->out_c == 16)
		conv_direct_nv(p, in, out, 2);
	else if (p->out_c == 32)
		conv_direct_nv(p, in, out, 4);
	else
		conv_direct_nv(p, in, out, 8);
}

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>

#define C512_TARGET __attribute__((target("avx512f,avx512vl,avx512dq,avx512bw,avx2,fma")))

/*
 * AVX-512 direct convolution (p->simd512): P output pixels of a row at
 * once, each with its out_c = 16 * NV sums in NV zmm registers, so that
 * every filter row loaded serves P pixels and the P * NV accumulator chains
 * keep both FMA pipes busy (the portable version has only out_c / 8
 * chains).  With check, taps outside the input columns are skipped (border
 * pixels, P = 1); rows outside the input are skipped by the caller's ky
 * range.  Same summation order as conv_direct_nv.
 */
C512_TARGET static inline __attribute__((always_inline)) void
direct512_px(const nn_conv_params *p, const float *in, float *o, int oy, int ox,
			 int ky0, int ky1, const int NV, const int P, const bool check,
			 const int KW, const int C)
{
	int			c = C,
				n = p->out_c;
	__m512		acc[6][4];
	__m512		lo = _mm512_set1_ps(p->act_min),
				hi = _mm512_set1_ps(p->act_max);

#pragma GCC unroll 4
	for (int v = 0; v < NV; v++)
	{
		__m512		b = p->bias ? _mm512_loadu_ps(p->bias + 16 * v) : _mm512_setzero_ps();

#pragma GCC unroll 6
		for (int j = 0; j < P; j++)
			acc[j][v] = b;
	}
	for (int ky = ky0; ky < ky1; ky++)
	{
		int			iy = oy * p->stride_h - p->pad_top + ky * p->dil_h;
		const float *row = in + (size_t) iy * p->in_w * c;

#pragma GCC unroll 3
		for (int kx = 0; kx < KW; kx++)
		{
			int			ix = ox * p->stride_w - p->pad_left + kx * p->dil_w;
			const float *src;
			const float *w = p->weights_kn + (size_t) ((ky * KW + kx) * c) * n;

			/*
			 * Only then the tap's address: for a column left of the input
			 * (size_t) ix wraps, and even unused, such a pointer is
			 * undefined behaviour (found by the UBSan unit run).
			 */
			if (check && (ix < 0 || ix >= p->in_w))
				continue;
			src = row + (size_t) ix * c;
#pragma GCC unroll 4
			for (int ci = 0; ci < c; ci++)
			{
				__m512		wv[4];

#pragma GCC unroll 4
				for (int v = 0; v < NV; v++)
					wv[v] = _mm512_loadu_ps(w + (size_t) ci * n + 16 * v);
#pragma GCC unroll 6
				for (int j = 0; j < P; j++)
				{
					__m512		x = _mm512_set1_ps(src[(size_t) j * p->stride_w * c + ci]);

#pragma GCC unroll 4
					for (int v = 0; v < NV; v++)
						acc[j][v] = _mm512_fmadd_ps(x, wv[v], acc[j][v]);
				}
			}
		}
	}
#pragma GCC unroll 6
	for (int j = 0; j < P; j++)
#pragma GCC unroll 4
		for (int v = 0; v < NV; v++)
			_mm512_storeu_ps(o + (size_t) j * n + 16 * v,
							 _mm512_min_ps(_mm512_max_ps(acc[j][v], lo), hi));
}

C512_TARGET static inline __attribute__((always_inline)) void
direct512_nv(const nn_conv_params *p, const float *in, float *out, const int NV,
			 const int KW, const int C)
{
	const int	P = NV == 4 ? 3 : 6;	/* 6 to 12 accumulators */
	int			n = p->out_c;
	int			ox_lo,
				ox_hi;

	nn_interior_columns(p, &ox_lo, &ox_hi);
	for (int oy = 0; oy < p->out_h; oy++)
	{
		int			iy0 = oy * p->stride_h - p->pad_top;
		int			ky0 = 0,
					ky1 = p->k_h,
					ox = 0;
		float	   *orow = out + (size_t) oy * p->out_w * n;

		while (ky0 < ky1 && iy0 + ky0 * p->dil_h < 0)
			ky0++;
		while (ky1 > ky0 && iy0 + (ky1 - 1) * p->dil_h >= p->in_h)
			ky1--;
		for (; ox < ox_lo; ox++)
			direct512_px(p, in, orow + (size_t) ox * n, oy, ox, ky0, ky1, NV, 1, true, KW, C);
		for (; ox + P <= ox_hi; ox += P)
			direct512_px(p, in, orow + (size_t) ox * n, oy, ox, ky0, ky1, NV, P, false, KW, C);
		for (; ox < ox_hi; ox++)
			direct512_px(p, in, orow + (size_t) ox * n, oy, ox, ky0, ky1, NV, 1, false, KW, C);
		for (; ox < p->out_w; ox++)
			direct512_px(p, in, orow + (size_t) ox * n, oy, ox, ky0, ky1, NV, 1, true, KW, C);
	}
}

C512_TARGET
static void
conv_direct512(const nn_conv_params *p, const float *in, float *out)
{
	/* the MobileNet stem (3x3 on RGB, 32 filters) with constant taps */
	if (p->out_c == 32 && p->k_w == 3 && p->in_c == 3)
		direct512_nv(p, in, out, 2, 3, 3);
	else if (p->out_c == 16)
		direct512_nv(p, in, out, 1, p->k_w, p->in_c);
	else if (p->out_c == 32)
		direct512_nv(p, in, out, 2, p->k_w, p->in_c);
	else
		direct512_nv(p, in, out, 4, p->k_w, p->in_c);
}
#else
static void
conv_direct512(const nn_conv_params *p, const float *in, float *out)
{
	conv_direct(p, in, out);
}
#endif

void
nn_conv2d(const nn_conv_params *p, const float *in, float *out, float *scratch)
{
	if (p->weights_kn != NULL)
	{
		if (p->simd512)
			conv_direct512(p, in, out);
		else
			conv_direct(p, in, out);
		return;
	}

	int			m = p->out_h * p->out_w;
	int			n = p->out_c;
	int			k = p->k_h * p->k_w * p->in_c;
	int			step = tile_rows(p);
	bool		direct = is_pointwise(p);

	if (p->packed)
	{
		/* bias and activation fused: one store per output */
		if (direct)
			nn_gemm(m, k, n, in, k, p->weights, p->bias, p->act_min, p->act_max, out, n);
		else
			for (int r0 = 0; r0 < m; r0 += step)
			{
				int			rows = m - r0 < step ? m - r0 : step;

				im2col(p, in, r0, rows, scratch);
				nn_gemm(rows, k, n, scratch, k, p->weights, p->bias, p->act_min,
						p->act_max, out + (size_t) r0 * n, n);
			}
		return;
	}

	if (m == 1 && direct && p->simd512)
	{
		nn_gemv(n, k, p->weights, in, p->bias, p->act_min, p->act_max, out);
		return;
	}
	for (int r0 = 0; r0 < m; r0 += step)
	{
		int			rows = m - r0 < step ? m - r0 : step;
		const float *a;

		if (direct)
			a = in + (size_t) r0 * k;
		else
		{
			im2col(p, in, r0, rows, scratch);
			a = scratch;
		}
		if (rows == 1)
			/* a classifier on a pooled vector: sgemm would repack W */
			cblas_sgemv(CblasRowMajor, CblasNoTrans, n, k, 1.0f, p->weights, k,
						a, 1, 0.0f, out + (size_t) r0 * n, 1);
		else
			cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, rows, n, k,
						1.0f, a, k, p->weights, k, 0.0f, out + (size_t) r0 * n, n);
		bias_act(out + (size_t) r0 * n, rows, n, p->bias, p->act_min, p->act_max);
	}
}

/*
 * A band of output rows, for a split over threads: the same kernels on
 * the layer's band view (nn_band_view), which reads exactly the rows the
 * whole layer would.  A 1x1 convolution is a matrix product of rows
 * instead: its view starts the input at the band's first row.  Our own
 * kernels compute every output as one chain of multiply-adds whatever the
 * rows around it (gemm.c), so a band gives the bytes the whole call gives;
 * OpenBLAS's sgemm (the portable path) makes no such promise and is never
 * split.
 */
bool
nn_conv2d_splits(const nn_conv_params *p)
{
	return (p->weights_kn != NULL || p->packed) && p->out_h > 1;
}

void
nn_conv2d_rows(const nn_conv_params *p, const float *in, float *out, float *scratch,
			   int oy_lo, int oy_hi)
{
	nn_conv_params v;

	out += (size_t) oy_lo * p->out_w * p->out_c;
	if (is_pointwise(p))
	{
		v = *p;
		v.out_h = v.in_h = oy_hi - oy_lo;
		in += (size_t) oy_lo * p->in_w * p->in_c;
	}
	else
		v = nn_band_view(p, oy_lo, oy_hi);
	nn_conv2d(&v, in, out, scratch);
}

void
nn_fully_connected(int rows, int k, int n, const float *in, const float *w,
				   const float *bias, float act_min, float act_max, float *out)
{
	if (rows == 1)
		cblas_sgemv(CblasRowMajor, CblasNoTrans, n, k, 1.0f, w, k, in, 1, 0.0f, out, 1);
	else
		cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, rows, n, k,
					1.0f, in, k, w, k, 0.0f, out, n);
	bias_act(out, rows, n, bias, act_min, act_max);
}
