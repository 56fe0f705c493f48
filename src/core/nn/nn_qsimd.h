/*
 * nn_qsimd.h
 *	  Private to the integer kernels (qconv*.c, qdepthwise*.c, qelementwise.c):
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

/* the largest right shift of the lean requantization (see nn_q512_requant_lean) */
#define NN_QLEAN_MAX_RIGHT 22

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

/*
 * The lean requantization of the AVX-512 kernels' epilogues, for channels
 * whose multiplier is not negative and whose right shift is at most
 * NN_QLEAN_MAX_RIGHT (nn_q_lean_ok): the same result as nn_q512_requant
 * plus the output zero point, in about two thirds of the instructions.
 *
 * Write t = floor((P + 2^30) / 2^31) for the 64-bit product P = x * M
 * (the doubling high multiply, see above; with M >= 0 it never
 * saturates).  For right shifts r >= 1, RoundingDivideByPOT(t, r) rounds
 * half away from zero, which is floor((t + 2^(r-1) - [t < 0]) / 2^r); and
 * floor((floor(A / 2^31) + c) / 2^r) = floor((A + c 2^31) / 2^(31 + r))
 * for an integer c.  So the whole rescaling, and the addition of the zero
 * point z, is one arithmetic shift of a 64-bit sum:
 *
 *	y + z = (P + 2^30 + 2^(30 + r) + z 2^(31 + r) - [t < 0] 2^31) >> (31 + r)
 *
 * and for r = 0 simply (P + 2^30 + z 2^31) >> 31.  [t < 0] may be replaced
 * by [P < 0]: they differ only when -2^30 <= P < 0, where t = 0 and both
 * give 0 since 2^(30 + r) - 2^31 >= 0.  With |P| <= 2^62 and r <= 22 the
 * sum stays inside int64.  The even int32 lanes' products come from
 * vpmuldq directly, the odd ones' after a shift; the constants are held
 * per channel as int64 in each 16-channel block's even channels then odd
 * channels (nn_q_lean_parts gives them, nn_q_lean_slot the order).
 */

typedef struct nn_q512_lean
{
	__m512i		me,				/* multipliers, as int32 lanes: even ones used */
				mo,				/* the odd channels' multipliers, in even lanes */
				ae,				/* the added constant, even channels */
				ao,				/* odd channels */
				ke,				/* 2^31 when r >= 1, else 0 */
				ko,
				se,				/* 31 + r */
				so;
} nn_q512_lean;

/*
 * The constants of 16 channels: mult from their first channel, the int64
 * arrays (laid out by nn_q_lean_slot) from their block's first slot.
 */
NN_Q512 NN_QINLINE void
nn_q512_lean_load(nn_q512_lean *q, const int32_t *mult, const int64_t *add,
				  const int64_t *k, const int64_t *sh)
{
	q->me = _mm512_loadu_si512(mult);
	q->mo = _mm512_srli_epi64(q->me, 32);
	q->ae = _mm512_loadu_si512(add);
	q->ao = _mm512_loadu_si512(add + 8);
	q->ke = _mm512_loadu_si512(k);
	q->ko = _mm512_loadu_si512(k + 8);
	q->se = _mm512_loadu_si512(sh);
	q->so = _mm512_loadu_si512(sh + 8);
}

/* x (already shifted left where the shift is positive) -> requantized + z */
NN_Q512 NN_QINLINE __m512i
nn_q512_requant_lean(__m512i x, const nn_q512_lean *q)
{
	__m512i		pe = _mm512_mul_epi32(x, q->me),
				po = _mm512_mul_epi32(_mm512_srli_epi64(x, 32), q->mo);
	__mmask8	ne = _mm512_movepi64_mask(pe),
				no = _mm512_movepi64_mask(po);

	pe = _mm512_add_epi64(pe, q->ae);
	po = _mm512_add_epi64(po, q->ao);
	pe = _mm512_mask_sub_epi64(pe, ne, pe, q->ke);
	po = _mm512_mask_sub_epi64(po, no, po, q->ko);
	pe = _mm512_srav_epi64(pe, q->se);
	po = _mm512_srav_epi64(po, q->so);
	/* the odd lanes' results are the low halves of po's 64-bit lanes */
	return _mm512_mask_shuffle_epi32(pe, 0xAAAA, po, _MM_PERM_CCAA);
}

#endif							/* x86-64 */

/* Whether a channel can take the lean requantization. */
static inline bool
nn_q_lean_ok(int32_t multiplier, int shift)
{
	return multiplier >= 0 && shift >= -NN_QLEAN_MAX_RIGHT;
}

/* Where channel c goes in the int64 arrays: its block's even, then odd channels. */
static inline int
nn_q_lean_slot(int c)
{
	return c / 16 * 16 + (c % 2) * 8 + (c % 16) / 2;
}

/* The lean constants of a channel (see nn_q512_requant_lean). */
static inline void
nn_q_lean_parts(int shift, int32_t zp, int64_t *add, int64_t *k, int64_t *sh)
{
	int			r = shift > 0 ? 0 : -shift;

	*add = ((int64_t) 1 << 30) + (r >= 1 ? ((int64_t) 1 << (30 + r)) : 0) +
		(int64_t) zp * ((int64_t) 1 << (31 + r));
	*k = r >= 1 ? ((int64_t) 1 << 31) : 0;
	*sh = 31 + r;
}

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
