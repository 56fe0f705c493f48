/*
 * matmul.c
 *	  A matrix product for code outside the network executor (the
 *	  detector's head, src/core/detect): our own GEMM (gemm.c) where the
 *	  CPU has it, OpenBLAS elsewhere.  See nn.h, cv_nn_matmul.
 *
 * Why not OpenBLAS everywhere: on the head's shapes (400 rows of 576
 * values into 256 hidden units, one thread) our GEMM takes 0.54 ms where
 * sgemm takes 1.15 (AVX-512, 2 December 2026), and cv_detect runs the
 * head twice per photo.  The filters are packed into gemm.c's layout on
 * every call (a copy of k x n floats in blocks of 32 columns, under a
 * tenth of the product's time), so callers keep plain row-major weights
 * and nothing is cached that could go stale when a trainer changes them.
 */
#include "nn_internal.h"

#include <cblas.h>
#include <math.h>
#include <string.h>

size_t
cv_nn_matmul_scratch(int k, int n)
{
	return nn_gemm_available() ? (size_t) k * n : 0;
}

/* gemm.c's packed layout straight from w[k][n]: blocks of 32 columns, [k][32]. */
static void
pack_kn(int k, int n, const float *w, float *packed)
{
	for (int j0 = 0; j0 < n; j0 += 32)
	{
		int			bw = n - j0 < 32 ? n - j0 : 32;

		for (int kk = 0; kk < k; kk++)
			memcpy(packed + (size_t) kk * bw, w + (size_t) kk * n + j0, sizeof(float) * bw);
		packed += (size_t) bw * k;
	}
}

void
cv_nn_matmul(int m, int k, int n, const float *a, size_t lda, const float *w,
			 const float *bias, float *c, size_t ldc, float *scratch)
{
	if (m <= 0 || n <= 0)
		return;
	if (nn_gemm_available() && scratch != NULL && k > 0)
	{
		pack_kn(k, n, w, scratch);
		nn_gemm(m, k, n, a, lda, scratch, bias, -INFINITY, INFINITY, c, ldc);
		return;
	}
	for (int i = 0; i < m; i++)
	{
		if (bias != NULL)
			memcpy(c + (size_t) i * ldc, bias, sizeof(float) * n);
		else
			memset(c + (size_t) i * ldc, 0, sizeof(float) * n);
	}
	if (k > 0)
		cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, m, n, k, 1.0f, a, (int) lda,
					w, n, 1.0f, c, (int) ldc);
}
