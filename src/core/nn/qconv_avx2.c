/*
 * qconv_avx2.c
 *	  The AVX2 kernel of the int8 CONV_2D (qconv.c): im2col, the widening
 *	  of A to int16 with its row sums, and 6 x 16 vpmaddwd tiles whose
 *	  epilogue requantizes in registers.
 *
 * It is a file of its own because its kernels are compiled for AVX2
 * (NN_Q256) and only run where nn_qkernel_level() is 1; the layout they
 * read (int16 pairs of k for 16 channels) is written by nn_qconv_pack in
 * qconv.c, whose header comment describes it.  The plain im2col lives
 * here because this kernel is its only user.  Empty where NN_QSIMD is not
 * defined (non-x86).
 */
#include "qconv_internal.h"

#include <string.h>

#ifdef NN_QSIMD

/*
 * rows rows of A from output row r0 on, kp bytes each: the window's taps
 * in the filters' order, za where the window leaves the input, zeros for
 * the padding of K.
 */
static void
q_im2col(const nn_qconv_params *p, const uint8_t *in, int r0, int rows, int kp, uint8_t *col)
{
	int			k = p->k_h * p->k_w * p->in_c;

	for (int r = 0; r < rows; r++)
	{
		int			oy = (r0 + r) / p->out_w,
					ox = (r0 + r) % p->out_w;
		uint8_t    *d = col + (size_t) r * kp;

		for (int ky = 0; ky < p->k_h; ky++)
		{
			int			iy = oy * p->stride_h - p->pad_top + ky * p->dil_h;

			for (int kx = 0; kx < p->k_w; kx++)
			{
				int			ix = ox * p->stride_w - p->pad_left + kx * p->dil_w;

				if (iy < 0 || iy >= p->in_h || ix < 0 || ix >= p->in_w)
					memset(d, p->in_zp, p->in_c);
				else
					memcpy(d, in + ((size_t) iy * p->in_w + ix) * p->in_c, p->in_c);
				d += p->in_c;
			}
		}
		memset(d, 0, kp - k);
	}
}

/* AVX2's end of a tile: 8 channels from c, as qepi_vnni. */
NN_Q256 NN_QINLINE void
qepi_avx2(const int R, const qtile *t, const __m256i *acc, int c, uint8_t *out, size_t ldc)
{
	int			left = t->n - c;
	const int32_t *arr = t->arr;
	nn_q256_rq	q;
	__m256i		bias,
				zo = _mm256_set1_epi32(t->out_zp),
				lo = _mm256_set1_epi32(t->act_min),
				hi = _mm256_set1_epi32(t->act_max);

	if (left <= 0)
		return;
	bias = _mm256_loadu_si256((const __m256i *) (arr + QC_BIAS * t->np + c));
	q.mult = _mm256_loadu_si256((const __m256i *) (arr + QC_MULT * t->np + c));
	q.left = _mm256_loadu_si256((const __m256i *) (arr + QC_LEFT * t->np + c));
	q.right = _mm256_loadu_si256((const __m256i *) (arr + QC_RIGHT * t->np + c));
	q.mask = _mm256_loadu_si256((const __m256i *) (arr + QC_MASK * t->np + c));
	q.half = _mm256_loadu_si256((const __m256i *) (arr + QC_HALF * t->np + c));
#pragma GCC unroll 12
	for (int r = 0; r < R; r++)
	{
		__m256i		v = _mm256_add_epi32(acc[r], bias);
		__m128i		s;

		v = _mm256_sub_epi32(v, _mm256_set1_epi32(t->zwsum[r]));
		v = _mm256_add_epi32(nn_q256_requant(v, &q), zo);
		v = _mm256_min_epi32(_mm256_max_epi32(v, lo), hi);
		/* 0..255 already: the saturating packs only narrow */
		s = _mm_packs_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
		s = _mm_packus_epi16(s, s);
		if (left >= 8)
			_mm_storel_epi64((__m128i *) (out + r * ldc + c), s);
		else
		{
			uint8_t		tmp[16];

			_mm_storeu_si128((__m128i *) tmp, s);
			memcpy(out + r * ldc + c, tmp, left);
		}
	}
}

/*
 * AVX2: R rows (a constant) of the int16 tile by the 16 channels from j.
 * a holds kp int16 per row; a lane of A broadcast as a 32-bit word is the
 * pair (a[2g], a[2g + 1]), which vpmaddwd multiplies by each channel's
 * pair of filters.
 */
NN_Q256 NN_QINLINE void
qtile_avx2(const int R, const qtile *t, const int16_t *a, const int16_t *w, int j,
		   uint8_t *out, size_t ldc)
{
	__m256i		acc0[QMR2],
				acc1[QMR2];
	const int16_t *b = w + (size_t) j * t->kp;
	int			npairs = t->kp / 2;

#pragma GCC unroll 12
	for (int r = 0; r < R; r++)
	{
		acc0[r] = _mm256_setzero_si256();
		acc1[r] = _mm256_setzero_si256();
	}
	for (int g = 0; g < npairs; g++)
	{
		__m256i		w0 = _mm256_loadu_si256((const __m256i *) (b + (size_t) g * 32)),
					w1 = _mm256_loadu_si256((const __m256i *) (b + (size_t) g * 32 + 16));

#pragma GCC unroll 6
		for (int r = 0; r < R; r++)
		{
			int32_t		pair;
			__m256i		x;

			memcpy(&pair, a + (size_t) r * t->kp + 2 * g, 4);
			x = _mm256_set1_epi32(pair);
			acc0[r] = _mm256_add_epi32(acc0[r], _mm256_madd_epi16(x, w0));
			acc1[r] = _mm256_add_epi32(acc1[r], _mm256_madd_epi16(x, w1));
		}
	}
	qepi_avx2(R, t, acc0, j, out, ldc);
	qepi_avx2(R, t, acc1, j + 8, out, ldc);
}

/* rows rows of k bytes widened to kp int16 (zeros after k); zw * row sums */
static NN_Q256 void
q_widen256(const uint8_t *a, size_t lda, int k, int kp, int rows, int32_t zw,
		   int16_t *wide, int32_t *zwsum)
{
	for (int r = 0; r < rows; r++)
	{
		const uint8_t *x = a + r * lda;
		int16_t    *d = wide + (size_t) r * kp;
		__m128i		s = _mm_setzero_si128();
		uint32_t	sum;
		int			i;

		for (i = 0; i + 16 <= k; i += 16)
		{
			__m128i		v = _mm_loadu_si128((const __m128i *) (x + i));

			_mm256_storeu_si256((__m256i *) (d + i), _mm256_cvtepu8_epi16(v));
			s = _mm_add_epi64(s, _mm_sad_epu8(v, _mm_setzero_si128()));
		}
		sum = (uint32_t) (_mm_cvtsi128_si64(s) + _mm_extract_epi64(s, 1));
		for (; i < k; i++)
		{
			d[i] = x[i];
			sum += x[i];
		}
		for (; i < kp; i++)
			d[i] = 0;
		zwsum[r] = (int32_t) ((uint32_t) zw * sum);
	}
}

#define QTILE_AVX2(R0) \
	switch (rr) \
	{ \
		case 1: qtile_avx2(1, &t, wide + (size_t) (R0) * t.kp, w, j, o + (size_t) (R0) * n, n); break; \
		case 2: qtile_avx2(2, &t, wide + (size_t) (R0) * t.kp, w, j, o + (size_t) (R0) * n, n); break; \
		case 3: qtile_avx2(3, &t, wide + (size_t) (R0) * t.kp, w, j, o + (size_t) (R0) * n, n); break; \
		case 4: qtile_avx2(4, &t, wide + (size_t) (R0) * t.kp, w, j, o + (size_t) (R0) * n, n); break; \
		case 5: qtile_avx2(5, &t, wide + (size_t) (R0) * t.kp, w, j, o + (size_t) (R0) * n, n); break; \
		default: qtile_avx2(6, &t, wide + (size_t) (R0) * t.kp, w, j, o + (size_t) (R0) * n, n); break; \
	}

NN_Q256 void
qconv_avx2(const nn_qconv_params *p, const qconv_pack_hdr *h, const uint8_t *in,
		   uint8_t *out, void *scratch, int m0, int m1)
{
	int			m = p->out_h * p->out_w,
				n = p->out_c;
	bool		direct = q_pointwise(p);
	int32_t    *zwsum = scratch;
	uint8_t    *col = (uint8_t *) scratch + 64;
	int16_t    *wide = (int16_t *) (col + round_up(QMR * h->kp, 64) + 64);
	const int16_t *w;
	qtile		t;

	t.kp = h->kp;
	t.np = h->np;
	t.n = n;
	t.arr = (const int32_t *) ((const char *) h + QHDR_BYTES);
	t.out_zp = p->out_zp;
	t.act_min = p->act_min;
	t.act_max = p->act_max;
	t.k4 = t.ktail = 0;
	w = (const int16_t *) (t.arr + (size_t) QC_NARRAYS * t.np);

	(void) m;
	for (int r0 = m0; r0 < m1; r0 += QMR)
	{
		int			rows = m1 - r0 < QMR ? m1 - r0 : QMR;
		const uint8_t *a;
		size_t		lda;
		uint8_t    *o = out + (size_t) r0 * n;

		if (direct)
		{
			a = in + (size_t) r0 * h->k;
			lda = h->k;
		}
		else
		{
			q_im2col(p, in, r0, rows, h->kp, col);
			a = col;
			lda = h->kp;
		}
		q_widen256(a, lda, h->k, h->kp, rows, p->w_zp, wide, zwsum);
		for (int j = 0; j < t.np; j += 16)
		{
			int			rr = rows < QMR2 ? rows : QMR2;

			t.zwsum = zwsum;
			QTILE_AVX2(0)
			if (rows > QMR2)
			{
				rr = rows - QMR2;
				t.zwsum = zwsum + QMR2;
				QTILE_AVX2(QMR2)
			}
		}
	}
}

#endif							/* NN_QSIMD */
