/*
 * qdepthwise_avx2.c
 *	  The AVX2 kernel of the int8 DEPTHWISE_CONV_2D (qdepthwise.c): 8
 *	  channels per ymm, vpmaddwd on widened bytes, the channels past the
 *	  last multiple of 8 by the reference arithmetic.
 *
 * It is a file of its own because its functions are compiled for AVX2
 * (NN_Q256) and only run where nn_qkernel_level() is 1; the layout it
 * reads is written by nn_qdepthwise_pack in qdepthwise.c, whose header
 * comment describes it.  Empty where NN_QSIMD is not defined (non-x86).
 */
#include "qdepthwise_internal.h"

#include <string.h>

#ifdef NN_QSIMD

NN_Q256 NN_QINLINE void
qdw_px256(const int NPX, const nn_qconv_params *p, const qdw_pack_hdr *h, const uint8_t *in,
		  uint8_t *out, int oy, int ox, int ky0, int ky1, int kx0, int kx1)
{
	int			cp = h->cp,
				nc = p->out_c,
				nc8 = nc / 8 * 8;
	const int32_t *arr = (const int32_t *) ((const char *) h + QDW_HDR);
	const int32_t *wt = arr + (size_t) QD_NARRAYS * cp;
	__m256i		zi = _mm256_set1_epi32(p->in_zp),
				zo = _mm256_set1_epi32(p->out_zp),
				lo = _mm256_set1_epi32(p->act_min),
				hi = _mm256_set1_epi32(p->act_max);
	int			iy0 = oy * p->stride_h - p->pad_top,
				ix0 = ox * p->stride_w - p->pad_left;
	size_t		pstep = (size_t) p->stride_w * nc;

	for (int c = 0; c < nc8; c += 8)
	{
		__m256i		acc[4];
		nn_q256_rq	q;

#pragma GCC unroll 8
		for (int j = 0; j < NPX; j++)
			acc[j] = _mm256_loadu_si256((const __m256i *) (arr + QD_BIAS * cp + c));
		for (int ky = ky0; ky < ky1; ky++)
		{
			const uint8_t *row = in + (size_t) (iy0 + ky * p->dil_h) * p->in_w * nc + c;

			for (int kx = kx0; kx < kx1; kx++)
			{
				__m256i		w = _mm256_loadu_si256((const __m256i *)
												   (wt + (size_t) (ky * p->k_w + kx) * cp + c));
				const uint8_t *x = row + (size_t) (ix0 + kx * p->dil_w) * nc;

#pragma GCC unroll 4
				for (int j = 0; j < NPX; j++)
				{
					int64_t		raw;
					__m256i		v;

					memcpy(&raw, x + j * pstep, 8);
					v = _mm256_cvtepu8_epi32(_mm_cvtsi64_si128(raw));
					acc[j] = _mm256_add_epi32(acc[j],
											  _mm256_madd_epi16(_mm256_sub_epi32(v, zi), w));
				}
			}
		}
		q.mult = _mm256_loadu_si256((const __m256i *) (arr + QD_MULT * cp + c));
		q.left = _mm256_loadu_si256((const __m256i *) (arr + QD_LEFT * cp + c));
		q.right = _mm256_loadu_si256((const __m256i *) (arr + QD_RIGHT * cp + c));
		q.mask = _mm256_loadu_si256((const __m256i *) (arr + QD_MASK * cp + c));
		q.half = _mm256_loadu_si256((const __m256i *) (arr + QD_HALF * cp + c));
#pragma GCC unroll 8
		for (int j = 0; j < NPX; j++)
		{
			__m256i		v = _mm256_add_epi32(nn_q256_requant(acc[j], &q), zo);
			__m128i		s;

			v = _mm256_min_epi32(_mm256_max_epi32(v, lo), hi);
			s = _mm_packs_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
			s = _mm_packus_epi16(s, s);
			_mm_storel_epi64((__m128i *) (out + ((size_t) oy * p->out_w + ox + j) * nc + c), s);
		}
	}
	if (nc8 < nc)
#pragma GCC unroll 8
		for (int j = 0; j < NPX; j++)
			qdw_pixel_ref(p, in, out, oy, ox + j, nc8, nc);
}

NN_Q256 void
qdw256(const nn_qconv_params *p, const qdw_pack_hdr *h, const uint8_t *in, uint8_t *out,
	   int oy0, int oy1)
{
	int			lo,
				hi;

	qdw_interior(p, &lo, &hi);
	for (int oy = oy0; oy < oy1; oy++)
	{
		int			ky0,
					ky1,
					ox = 0;

		qdw_taps(oy * p->stride_h - p->pad_top, p->k_h, p->dil_h, p->in_h, &ky0, &ky1);
		for (; ox < p->out_w; ox++)
		{
			int			kx0,
						kx1;

			if (ox >= lo && ox < hi)
			{
				for (; ox + 4 <= hi; ox += 4)
					qdw_px256(4, p, h, in, out, oy, ox, ky0, ky1, 0, p->k_w);
				for (; ox < hi; ox++)
					qdw_px256(1, p, h, in, out, oy, ox, ky0, ky1, 0, p->k_w);
				if (ox >= p->out_w)
					break;
			}
			qdw_taps(ox * p->stride_w - p->pad_left, p->k_w, p->dil_w, p->in_w, &kx0, &kx1);
			qdw_px256(1, p, h, in, out, oy, ox, ky0, ky1, kx0, kx1);
		}
	}
}


#endif							/* NN_QSIMD */
