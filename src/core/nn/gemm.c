/*
 * gemm.c
 *	  Our own matrix product for the convolutions, C = clamp(A B + bias), on
 *	  x86-64 CPUs with AVX-512 or with AVX2 and FMA: the 1x1 convolutions of
 *	  MobileNets (A is the NHWC input, M = H * W rows by K = in_c) and the
 *	  im2col tiles of other windows.  Other CPUs keep OpenBLAS (conv.c).
 *
 * Why not sgemm: the shapes are small and skinny (K = 16..960, N = 16..1280,
 * M = 49..12544).  OpenBLAS repacks the filters on every call, and its
 * Haswell kernels (what 0.3.21 picks on AMD Zen 4/5) use half of the vector
 * width.  Here the filters are packed once at load, and bias and clamp are
 * applied to the accumulators before the one store, so the output is
 * written exactly once.
 *
 * Packed layout of the filters, B = W^T (K x N, from TFLite's [N][K]):
 * column blocks of 32, the last one narrower (n - j0 columns); inside a
 * block, row kk holds that block's columns contiguously.  The packed copy
 * has exactly n * k floats, so prepare.c could pack in place.
 *
 * Micro-kernel: 12 rows x 32 columns in 24 zmm accumulators (about 200
 * GFLOP/s on one Zen 5 core, against 26-75 for OpenBLAS on these shapes).
 * For each kk, two vectors of B and one broadcast of A per row (read from A
 * in place: rows are contiguous, so packing A would only cost a copy); the
 * last block uses masked loads and stores.  The AVX2 kernel does the same
 * with 6 rows x 16 columns in 12 ymm registers (about 110 GFLOP/s here).
 * Every output is one chain of FMAs from the bias over kk in order, in both
 * kernels: the results are deterministic and the same with either kernel;
 * they differ from OpenBLAS (the portable path) in the last bits.
 */
#include "nn.h"
#include "nn_kernels.h"

#include <stdlib.h>

static bool nn_portable = false;

void
cv_nn_set_portable(bool on)
{
	nn_portable = on;
}

bool
cv_nn_get_portable(void)
{
	return nn_portable;
}

void
nn_gemm_pack(int k, int n, const float *w, float *packed)
{
	for (int j0 = 0; j0 < n; j0 += 32)
	{
		int			bw = n - j0 < 32 ? n - j0 : 32;

		for (int kk = 0; kk < k; kk++)
			for (int c = 0; c < bw; c++)
				packed[(size_t) kk * bw + c] = w[(size_t) (j0 + c) * k + kk];
		packed += (size_t) bw * k;
	}
}

#if defined(__x86_64__) && defined(__GNUC__)

#include <immintrin.h>

#define GEMM_TARGET __attribute__((target("avx512f,avx512vl,avx512dq,avx512bw,avx2,fma")))
#define GEMM_INLINE static inline __attribute__((always_inline))
#define GEMM_MR 12

bool		nn_force_avx2 = false;

/* 2: AVX-512 (and FMA), 1: AVX2 and FMA, 0: neither, or portable asked. */
static int
simd_level(void)
{
	static int	level = -1;

	if (nn_portable)
		return 0;
	if (level < 0)
	{
		__builtin_cpu_init();
		if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512dq") &&
			__builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512bw") &&
			__builtin_cpu_supports("fma"))
			level = 2;
		else if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))
			level = 1;
		else
			level = 0;
	}
	return nn_force_avx2 && level > 1 ? 1 : level;
}

bool
nn_gemm_available(void)
{
	return simd_level() >= 1;
}

bool
nn_simd512_available(void)
{
	return simd_level() == 2;
}

/*
 * R rows (a constant) of one column block of width bw.  mode (a constant):
 * GEMM_FULL for bw == 32 (plain loads and stores), GEMM_TWO for 16 < bw <
 * 32 and GEMM_ONE for bw <= 16 (masks m0 / m1 cover the bw columns).
 */
#define GEMM_FULL 0
#define GEMM_TWO 1
#define GEMM_ONE 2

GEMM_TARGET GEMM_INLINE void
gemm_tile(const int R, const int mode, int k, const float *a, size_t lda,
		  const float *b, int bw, const float *bias, const float *act,
		  float *c, size_t ldc, __mmask16 m0, __mmask16 m1)
{
	__m512		acc[GEMM_MR][2];
	const bool	two = mode != GEMM_ONE;

	{
		__m512		z0 = _mm512_setzero_ps(),
					z1 = _mm512_setzero_ps();

		if (bias != NULL && mode == GEMM_FULL)
		{
			z0 = _mm512_loadu_ps(bias);
			z1 = _mm512_loadu_ps(bias + 16);
		}
		else if (bias != NULL)
		{
			z0 = _mm512_maskz_loadu_ps(m0, bias);
			if (two)
				z1 = _mm512_maskz_loadu_ps(m1, bias + 16);
		}
#pragma GCC unroll 16
		for (int r = 0; r < R; r++)
		{
			acc[r][0] = z0;
			if (two)
				acc[r][1] = z1;
		}
	}
	for (int kk = 0; kk < k; kk++)
	{
		__m512		b0,
					b1 = _mm512_setzero_ps();

		if (mode == GEMM_FULL)
		{
			b0 = _mm512_loadu_ps(b + (size_t) kk * 32);
			b1 = _mm512_loadu_ps(b + (size_t) kk * 32 + 16);
		}
		else
		{
			b0 = _mm512_maskz_loadu_ps(m0, b + (size_t) kk * bw);
			if (two)
				b1 = _mm512_maskz_loadu_ps(m1, b + (size_t) kk * bw + 16);
		}
#pragma GCC unroll 16
		for (int r = 0; r < R; r++)
		{
			__m512		x = _mm512_set1_ps(a[r * lda + kk]);

			acc[r][0] = _mm512_fmadd_ps(x, b0, acc[r][0]);
			if (two)
				acc[r][1] = _mm512_fmadd_ps(x, b1, acc[r][1]);
		}
	}
	{
		__m512		lo = _mm512_set1_ps(act[0]),
					hi = _mm512_set1_ps(act[1]);

#pragma GCC unroll 16
		for (int r = 0; r < R; r++)
		{
			__m512		v0 = _mm512_min_ps(_mm512_max_ps(acc[r][0], lo), hi);

			if (mode == GEMM_FULL)
				_mm512_storeu_ps(c + r * ldc, v0);
			else
				_mm512_mask_storeu_ps(c + r * ldc, m0, v0);
			if (two)
			{
				__m512		v1 = _mm512_min_ps(_mm512_max_ps(acc[r][1], lo), hi);

				if (mode == GEMM_FULL)
					_mm512_storeu_ps(c + r * ldc + 16, v1);
				else
					_mm512_mask_storeu_ps(c + r * ldc + 16, m1, v1);
			}
		}
	}
}

/*
 * One out-of-line function per (rows, mode): inlined into the loops over
 * tiles, GCC hoists the bias and clamp vectors out of them and then lacks
 * the registers for the 24 accumulators (it spilled one B vector per kk).
 */
typedef void (*gemm_kernel) (int k, const float *a, size_t lda, const float *b, int bw,
							 const float *bias, const float *act, float *c, size_t ldc,
							 __mmask16 m0, __mmask16 m1);

#define GEMM_KERNEL(R, MODE) \
	GEMM_TARGET __attribute__((noinline)) static void \
	gemm_k##R##_##MODE(int k, const float *a, size_t lda, const float *b, int bw, \
					   const float *bias, const float *act, float *c, size_t ldc, \
					   __mmask16 m0, __mmask16 m1) \
	{ \
		gemm_tile(R, MODE, k, a, lda, b, bw, bias, act, c, ldc, m0, m1); \
	}
#define GEMM_KERNELS(MODE) \
	GEMM_KERNEL(1, MODE) GEMM_KERNEL(2, MODE) GEMM_KERNEL(3, MODE) GEMM_KERNEL(4, MODE) \
	GEMM_KERNEL(5, MODE) GEMM_KERNEL(6, MODE) GEMM_KERNEL(7, MODE) GEMM_KERNEL(8, MODE) \
	GEMM_KERNEL(9, MODE) GEMM_KERNEL(10, MODE) GEMM_KERNEL(11, MODE) GEMM_KERNEL(12, MODE)
#define GEMM_ROW(MODE) \
	{NULL, gemm_k1_##MODE, gemm_k2_##MODE, gemm_k3_##MODE, gemm_k4_##MODE, gemm_k5_##MODE, \
	 gemm_k6_##MODE, gemm_k7_##MODE, gemm_k8_##MODE, gemm_k9_##MODE, gemm_k10_##MODE, \
	 gemm_k11_##MODE, gemm_k12_##MODE}

GEMM_KERNELS(0)
GEMM_KERNELS(1)
GEMM_KERNELS(2)

static const gemm_kernel gemm_kernels[3][GEMM_MR + 1] = {
	GEMM_ROW(0), GEMM_ROW(1), GEMM_ROW(2)
};

GEMM_TARGET
static void
gemm_avx512(int m, int k, int n, const float *a, size_t lda, const float *packed,
			const float *bias, float act_min, float act_max, float *c, size_t ldc)
{
	const float act[2] = {act_min, act_max};

	/* rows of A per pass over the filters: about 96 KB of A, kept in L2 */
	int			mc = 24576 / (k > 0 ? k : 1);

	mc = mc / GEMM_MR * GEMM_MR;
	if (mc < GEMM_MR)
		mc = GEMM_MR;
	for (int r0 = 0; r0 < m; r0 += mc)
	{
		int			rows = m - r0 < mc ? m - r0 : mc;
		const float *b = packed;
		const float *ar = a + (size_t) r0 * lda;
		float	   *cr = c + (size_t) r0 * ldc;

		for (int j0 = 0; j0 < n; j0 += 32)
		{
			int			bw = n - j0 < 32 ? n - j0 : 32;
			const float *bj = bias ? bias + j0 : NULL;
			int			mode = bw == 32 ? GEMM_FULL : (bw > 16 ? GEMM_TWO : GEMM_ONE);
			__mmask16	m0 = bw >= 16 ? 0xFFFF : (__mmask16) ((1u << bw) - 1);
			__mmask16	m1 = bw >= 32 ? 0xFFFF :
				(bw > 16 ? (__mmask16) ((1u << (bw - 16)) - 1) : 0);
			/*
			 * Tiles of equal height (49 rows: 10, 10, 10, 10, 9 rather than
			 * 4 x 12 + 1, whose single-row tile runs at FMA latency).
			 */
			int			tiles = (rows + GEMM_MR - 1) / GEMM_MR;
			int			base = rows / tiles,
						extra = rows % tiles;

			for (int t = 0, r = 0; t < tiles; t++)
			{
				int			h = base + (t < extra ? 1 : 0);

				gemm_kernels[mode][h] (k, ar + r * lda, lda, b, bw, bj, act,
									   cr + r * ldc + j0, ldc, m0, m1);
				r += h;
			}
			b += (size_t) bw * k;
		}
	}
}

/*
 * The AVX2 + FMA kernel, for CPUs without AVX-512: the same packed filters,
 * each 32-column block taken as two halves of 16 columns, tiles of up to 6
 * rows x 16 columns in 12 ymm accumulators.  Each output is the same chain
 * of FMAs over K as in the AVX-512 kernel (from the bias, kk in order), so
 * both give the same floats.
 */
#define AVX2_TARGET __attribute__((target("avx2,fma")))
#define GEMM2_MR 6

AVX2_TARGET GEMM_INLINE void
gemm2_tile(const int R, const bool full, int k, const float *a, size_t lda,
		   const float *b, int bw, const float *bias, const float *act,
		   float *c, size_t ldc, __m256i m0, __m256i m1)
{
	__m256		acc[GEMM2_MR][2];

	{
		__m256		z0 = _mm256_setzero_ps(),
					z1 = _mm256_setzero_ps();

		if (bias != NULL && full)
		{
			z0 = _mm256_loadu_ps(bias);
			z1 = _mm256_loadu_ps(bias + 8);
		}
		else if (bias != NULL)
		{
			z0 = _mm256_maskload_ps(bias, m0);
			z1 = _mm256_maskload_ps(bias + 8, m1);
		}
#pragma GCC unroll 8
		for (int r = 0; r < R; r++)
		{
			acc[r][0] = z0;
			acc[r][1] = z1;
		}
	}
	for (int kk = 0; kk < k; kk++)
	{
		const float *bk = b + (size_t) kk * bw;
		__m256		b0 = full ? _mm256_loadu_ps(bk) : _mm256_maskload_ps(bk, m0);
		__m256		b1 = full ? _mm256_loadu_ps(bk + 8) : _mm256_maskload_ps(bk + 8, m1);

#pragma GCC unroll 8
		for (int r = 0; r < R; r++)
		{
			__m256		x = _mm256_broadcast_ss(a + r * lda + kk);

			acc[r][0] = _mm256_fmadd_ps(x, b0, acc[r][0]);
			acc[r][1] = _mm256_fmadd_ps(x, b1, acc[r][1]);
		}
	}
	{
		__m256		lo = _mm256_broadcast_ss(act),
					hi = _mm256_broadcast_ss(act + 1);

#pragma GCC unroll 8
		for (int r = 0; r < R; r++)
		{
			__m256		v0 = _mm256_min_ps(_mm256_max_ps(acc[r][0], lo), hi);
			__m256		v1 = _mm256_min_ps(_mm256_max_ps(acc[r][1], lo), hi);

			if (full)
			{
				_mm256_storeu_ps(c + r * ldc, v0);
				_mm256_storeu_ps(c + r * ldc + 8, v1);
			}
			else
			{
				_mm256_maskstore_ps(c + r * ldc, m0, v0);
				_mm256_maskstore_ps(c + r * ldc + 8, m1, v1);
			}
		}
	}
}

typedef void (*gemm2_kernel) (int k, const float *a, size_t lda, const float *b, int bw,
							  const float *bias, const float *act, float *c, size_t ldc,
							  __m256i m0, __m256i m1);

#define GEMM2_KERNEL(R, FULL) \
	AVX2_TARGET __attribute__((noinline)) static void \
	gemm2_k##R##_##FULL(int k, const float *a, size_t lda, const float *b, int bw, \
						const float *bias, const float *act, float *c, size_t ldc, \
						__m256i m0, __m256i m1) \
	{ \
		gemm2_tile(R, FULL, k, a, lda, b, bw, bias, act, c, ldc, m0, m1); \
	}
#define GEMM2_KERNELS(FULL) \
	GEMM2_KERNEL(1, FULL) GEMM2_KERNEL(2, FULL) GEMM2_KERNEL(3, FULL) \
	GEMM2_KERNEL(4, FULL) GEMM2_KERNEL(5, FULL) GEMM2_KERNEL(6, FULL)
#define GEMM2_ROW(FULL) \
	{NULL, gemm2_k1_##FULL, gemm2_k2_##FULL, gemm2_k3_##FULL, gemm2_k4_##FULL, \
	 gemm2_k5_##FULL, gemm2_k6_##FULL}

GEMM2_KERNELS(0)
GEMM2_KERNELS(1)

static const gemm2_kernel gemm2_kernels[2][GEMM2_MR + 1] = {
	GEMM2_ROW(0), GEMM2_ROW(1)
};

/* lanes [0, count) of a mask vector */
AVX2_TARGET static __m256i
lanes(int count)
{
	static const int32_t ones[16] = {-1, -1, -1, -1, -1, -1, -1, -1, 0, 0, 0, 0, 0, 0, 0, 0};

	count = count < 0 ? 0 : (count > 8 ? 8 : count);
	return _mm256_loadu_si256((const __m256i *) (ones + 8 - count));
}

AVX2_TARGET
static void
gemm_avx2(int m, int k, int n, const float *a, size_t lda, const float *packed,
		  const float *bias, float act_min, float act_max, float *c, size_t ldc)
{
	const float act[2] = {act_min, act_max};
	int			mc = 24576 / (k > 0 ? k : 1);

	mc = mc / GEMM2_MR * GEMM2_MR;
	if (mc < GEMM2_MR)
		mc = GEMM2_MR;
	for (int r0 = 0; r0 < m; r0 += mc)
	{
		int			rows = m - r0 < mc ? m - r0 : mc;
		const float *b = packed;
		const float *ar = a + (size_t) r0 * lda;
		float	   *cr = c + (size_t) r0 * ldc;
		int			tiles = (rows + GEMM2_MR - 1) / GEMM2_MR;
		int			base = rows / tiles,
					extra = rows % tiles;

		for (int j0 = 0; j0 < n; j0 += 32)
		{
			int			bw = n - j0 < 32 ? n - j0 : 32;

			for (int h = 0; h < bw; h += 16)
			{
				int			cols = bw - h < 16 ? bw - h : 16;
				int			full = cols == 16;
				__m256i		m0 = lanes(cols),
							m1 = lanes(cols - 8);
				const float *bj = bias ? bias + j0 + h : NULL;

				for (int t = 0, r = 0; t < tiles; t++)
				{
					int			ht = base + (t < extra ? 1 : 0);

					gemm2_kernels[full][ht] (k, ar + r * lda, lda, b + h, bw, bj, act,
											 cr + r * ldc + j0 + h, ldc, m0, m1);
					r += ht;
				}
			}
			b += (size_t) bw * k;
		}
	}
}

void
nn_gemm(int m, int k, int n, const float *a, size_t lda, const float *packed,
		const float *bias, float act_min, float act_max, float *c, size_t ldc)
{
	if (simd_level() == 2)
		gemm_avx512(m, k, n, a, lda, packed, bias, act_min, act_max, c, ldc);
	else
		gemm_avx2(m, k, n, a, lda, packed, bias, act_min, act_max, c, ldc);
}

/*
 * y[n] = clamp(w[n][k] . x + bias[n]) for a single input row (a classifier
 * on a pooled vector), with w as stored: four rows of w at a time, each
 * prefetched four rows ahead, since the 5 MB of a MobileNet classifier
 * come from memory on every image (OpenBLAS's sgemv waits for them).
 */
GEMM_TARGET
void
nn_gemv(int n, int k, const float *w, const float *x, const float *bias, float act_min,
		float act_max, float *y)
{
	int			j = 0;
	__mmask16	mt = (__mmask16) ((1u << (k % 16)) - 1);

	for (; j < n; j += 4)
	{
		int			rows = n - j < 4 ? n - j : 4;
		const float *wr[4];
		__m512		acc[4];

		for (int r = 0; r < 4; r++)
		{
			wr[r] = w + (size_t) (j + (r < rows ? r : 0)) * k;
			acc[r] = _mm512_setzero_ps();
		}
		for (int i = 0; i + 16 <= k; i += 16)
		{
			__m512		xv = _mm512_loadu_ps(x + i);

#pragma GCC unroll 4
			for (int r = 0; r < 4; r++)
			{
				_mm_prefetch((const char *) (wr[r] + i + (size_t) 4 * k), _MM_HINT_T0);
				acc[r] = _mm512_fmadd_ps(_mm512_loadu_ps(wr[r] + i), xv, acc[r]);
			}
		}
		if (k % 16 != 0)
		{
			int			i = k - k % 16;
			__m512		xv = _mm512_maskz_loadu_ps(mt, x + i);

#pragma GCC unroll 4
			for (int r = 0; r < 4; r++)
				acc[r] = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(mt, wr[r] + i), xv, acc[r]);
		}
		for (int r = 0; r < rows; r++)
		{
			float		v = _mm512_reduce_add_ps(acc[r]) + (bias ? bias[j + r] : 0.0f);

			y[j + r] = v < act_min ? act_min : (v > act_max ? act_max : v);
		}
	}
}

#else							/* no AVX-512 kernel on this platform */

bool		nn_force_avx2 = false;

bool
nn_gemm_available(void)
{
	return false;
}

bool
nn_simd512_available(void)
{
	return false;
}

void
nn_gemm(int m, int k, int n, const float *a, size_t lda, const float *packed,
		const float *bias, float act_min, float act_max, float *c, size_t ldc)
{
	abort();					/* never called: nn_gemm_available() is false */
}

void
nn_gemv(int n, int k, const float *w, const float *x, const float *bias, float act_min,
		float act_max, float *y)
{
	abort();					/* never called: nn_gemm_available() is false */
}

#endif
