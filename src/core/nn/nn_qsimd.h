/*
 * nn_qsimd.h
 *	  Private to the integer kernels (qconv.c, qdepthwise.c, qelementwise.c):
 *	  the choice of instruction set and TFLite's requantization of int32
 *	  accumulators written with AVX-512 and AVX2 intrinsics, bit for bit the
 *	  scalar nn_mul_by_quantized_multiplier of nn_qkernels.h.
 *
 * The vector form of SaturatingRoundingDoublingHighMul rests on one
 * identity.  For the 64-bit product ab, TFLite computes
 * (ab + nudge) / 2^31 truncated toward zero, nudge = 2^30 when ab >= 0 and
 * 1 - 2^30 otherwise.  For ab < 0 the sum is negative, and truncation of a
 * negative quotient is floor((ab + 1 - 2^30 + 2^31 - 1) / 2^31); so in both
 * cases the result is floor((ab + 2^30) / 2^31), an arithmetic shift.  Its
 * low 32 bits are bits 31..62 of ab + 2^30, which a logical 64-bit shift
 * gives too (AVX2 has no arithmetic 64-bit shift).  The only product whose
 * result leaves int32 is INT32_MIN * INT32_MIN, which TFLite saturates to
 * INT32_MAX; it is also the only one that yields INT32_MIN here (the
 * smallest other product, INT32_MIN * INT32_MAX, gives INT32_MIN + 1), so a
 * compare with INT32_MIN finds it.  test_nn_qkernels checks the identity
 * against the scalar function on the edge cases and random values.
 *
 * RoundingDivideByPOT takes a per-lane exponent (per-channel shifts) with
 * variable shifts; mask and mask >> 1 are per-channel constants the
 * callers precompute.  Exponents are 0..31 (QuantizeMultiplier's shifts
 * are -31..30).
 */
#ifndef CV_NN_QSIMD_H
#define CV_NN_QSIMD_H

#include "nn_qkernels.h"

/* 2: AVX-512 (F, BW, VL, DQ) with VNNI; 1: AVX2; 0: the reference. */
int			nn_qkernel_level(void);

#if defined(__x86_64__) && defined(__GNUC__)
#define NN_QSIMD 1

#include <immintrin.h>

#define NN_Q512 __attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,avx512vnni,avx2,fma")))
#define NN_Q256 __attribute__((target("avx2,fma")))
#define NN_QINLINE static inline __attribute__((always_inline))

/* Per-channel constants of a requantization, 16 (or 8) lanes of each. */
typedef struct nn_q512_rq
{
	__m512i		mult, left, right, mask, half;
} nn_q512_rq;

typedef struct nn_q256_rq
{
	__m256i		mult, left, right, mask, half;
} nn_q256_rq;

/* x -> nn_mul_by_quantized_multiplier(x, mult, shift), lane by lane */
NN_Q512 NN_QINLINE __m512i
nn_q512_requant(__m512i x, const nn_q512_rq *q)
{
	const __m512i r30 = _mm512_set1_epi64((int64_t) 1 << 30);
	__m512i		even,
				odd,
				rem,
				thr;

	x = _mm512_sllv_epi32(x, q->left);
	even = _mm512_mul_epi32(x, q->mult);
	odd = _mm512_mul_epi32(_mm512_srli_epi64(x, 32), _mm512_srli_epi64(q->mult, 32));
	even = _mm512_srli_epi64(_mm512_add_epi64(even, r30), 31);
	odd = _mm512_slli_epi64(_mm512_add_epi64(odd, r30), 1);
	x = _mm512_mask_blend_epi32(0xAAAA, even, odd);
	x = _mm512_mask_mov_epi32(x, _mm512_cmpeq_epi32_mask(x, _mm512_set1_epi32(INT32_MIN)),
							  _mm512_set1_epi32(INT32_MAX));
	/* RoundingDivideByPOT: threshold is half the mask, plus 1 when x < 0 */
	rem = _mm512_and_si512(x, q->mask);
	thr = _mm512_sub_epi32(q->half, _mm512_srai_epi32(x, 31));
	x = _mm512_srav_epi32(x, q->right);
	return _mm512_mask_add_epi32(x, _mm512_cmpgt_epi32_mask(rem, thr), x,
								 _mm512_set1_epi32(1));
}

NN_Q256 NN_QINLINE __m256i
nn_q256_requant(__m256i x, const nn_q256_rq *q)
{
	const __m256i r30 = _mm256_set1_epi64x((int64_t) 1 << 30);
	__m256i		even,
				odd,
				rem,
				thr;

	x = _mm256_sllv_epi32(x, q->left);
	even = _mm256_mul_epi32(x, q->mult);
	odd = _mm256_mul_epi32(_mm256_srli_epi64(x, 32), _mm256_srli_epi64(q->mult, 32));
	even = _mm256_srli_epi64(_mm256_add_epi64(even, r30), 31);
	odd = _mm256_slli_epi64(_mm256_add_epi64(odd, r30), 1);
	x = _mm256_blend_epi32(even, odd, 0xAA);
	/* INT32_MIN ^ -1 == INT32_MAX */
	x = _mm256_xor_si256(x, _mm256_cmpeq_epi32(x, _mm256_set1_epi32(INT32_MIN)));
	rem = _mm256_and_si256(x, q->mask);
	thr = _mm256_sub_epi32(q->half, _mm256_srai_epi32(x, 31));
	x = _mm256_srav_epi32(x, q->right);
	/* the compare gives -1 where the remainder rounds up */
	return _mm256_sub_epi32(x, _mm256_cmpgt_epi32(rem, thr));
}

#endif							/* x86-64 */

/*
 * The per-channel constants in scalar form: left and right shifts of
 * nn_mul_by_quantized_multiplier, the remainder mask of the right shift and
 * half of it.
 */
static inline void
nn_q_shift_parts(int shift, int32_t *left, int32_t *right, int32_t *mask, int32_t *half)
{
	int			r = shift > 0 ? 0 : -shift;

	*left = shift > 0 ? shift : 0;
	*right = r;
	*mask = (int32_t) (((int64_t) 1 << r) - 1);
	*half = *mask >> 1;
}

#endif							/* CV_NN_QSIMD_H */
