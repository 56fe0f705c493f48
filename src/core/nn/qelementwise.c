/*
 * qelementwise.c
 *	  The element-wise integer kernels of the int8 engine: quantized ADD
 *	  (TFLite's reference arithmetic, vectorised and bit-exact), zero padding
 *	  with the zero point, the conversions between float and quantized
 *	  tensors at the engines' borders, and the choice of instruction set
 *	  shared by all the integer kernels.
 *
 * ADD follows TFLite's reference add (reference/add.h, and the parameters
 * of kernels/add.cc): both inputs, less their zero points, are shifted left
 * by 20 bits so that the rescaling to twice the larger input scale keeps
 * their precision, rescaled by multipliers smaller than one, summed, and
 * rescaled to the output scale.  With AVX-512 the three rescalings take
 * the lean requantization of nn_qsimd.h when their shifts allow it (right
 * shifts of at most NN_QLEAN_MAX_RIGHT): the same bytes, fewer
 * instructions.
 */
#include "nn.h"
#include "nn_qkernels.h"
#include "nn_qsimd.h"

#include <math.h>
#include <string.h>

bool		nn_qforce_avx2 = false;

int
nn_qkernel_level(void)
{
	static int	level = -1;

	if (cv_nn_get_portable())
		return 0;
#ifdef NN_QSIMD
	if (level < 0)
	{
		__builtin_cpu_init();
		if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
			__builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512dq") &&
			__builtin_cpu_supports("avx512vnni") && __builtin_cpu_supports("avx2") &&
			__builtin_cpu_supports("fma"))
			level = 2;
		else if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))
			level = 1;
		else
			level = 0;
	}
#else
	level = 0;
#endif
	return nn_qforce_avx2 && level > 1 ? 1 : level;
}

const char *
nn_qkernel_name(void)
{
	switch (nn_qkernel_level())
	{
		case 2:
			return "avx512vnni";
		case 1:
			return "avx2";
		default:
			return "reference";
	}
}

/*
 * ADD's parameters, as TFLite prepares them (kernels/add.cc): the input
 * multipliers are at most 1/2 and the output's is below one for any sane
 * scales, so every shift is <= 0; a scale ratio that would need a left
 * shift is refused like an invalid scale.
 */
bool
nn_qadd_prepare(double a_scale, int32_t a_zp, double b_scale, int32_t b_zp,
				double out_scale, int32_t out_zp, int32_t act_min, int32_t act_max,
				nn_qadd_params *p)
{
	double		twice_max;

	if (!(a_scale > 0 && isfinite(a_scale)) || !(b_scale > 0 && isfinite(b_scale)) ||
		!(out_scale > 0 && isfinite(out_scale)))
		return false;
	memset(p, 0, sizeof(*p));
	p->a_zp = a_zp;
	p->b_zp = b_zp;
	p->out_zp = out_zp;
	p->left_shift = 20;
	p->act_min = act_min;
	p->act_max = act_max;
	twice_max = 2.0 * (a_scale > b_scale ? a_scale : b_scale);
	if (!nn_quantize_multiplier(a_scale / twice_max, &p->a_multiplier, &p->a_shift) ||
		!nn_quantize_multiplier(b_scale / twice_max, &p->b_multiplier, &p->b_shift) ||
		!nn_quantize_multiplier(twice_max / ((double) (1 << 20) * out_scale),
								&p->out_multiplier, &p->out_shift))
		return false;
	return p->a_shift <= 0 && p->b_shift <= 0 && p->out_shift <= 0;
}

/* One element: every shift is <= 0, so the multiplications are TFLite's
 * MultiplyByQuantizedMultiplierSmallerThanOneExp. */
static inline uint8_t
qadd_one(const nn_qadd_params *p, int32_t a, int32_t b)
{
	int32_t		sa = (int32_t) ((uint32_t) (a - p->a_zp) << p->left_shift);
	int32_t		sb = (int32_t) ((uint32_t) (b - p->b_zp) << p->left_shift);
	int32_t		v;

	sa = nn_q_rounding_divide_by_pot(nn_q_doubling_high_mul(sa, p->a_multiplier), -p->a_shift);
	sb = nn_q_rounding_divide_by_pot(nn_q_doubling_high_mul(sb, p->b_multiplier), -p->b_shift);
	v = nn_q_rounding_divide_by_pot(nn_q_doubling_high_mul(sa + sb, p->out_multiplier),
									-p->out_shift) + p->out_zp;
	if (v < p->act_min)
		v = p->act_min;
	if (v > p->act_max)
		v = p->act_max;
	return (uint8_t) v;
}

void
nn_qadd_ref(const nn_qadd_params *p, size_t n, const uint8_t *a, const uint8_t *b,
			uint8_t *out)
{
	for (size_t i = 0; i < n; i++)
		out[i] = qadd_one(p, a[i], b[i]);
}

/* Whether ADD's three rescalings can take the lean requantization (nn_qsimd.h). */
static bool
qadd_lean_ok(const nn_qadd_params *p)
{
	return nn_q_lean_ok(p->a_multiplier, p->a_shift) &&
		nn_q_lean_ok(p->b_multiplier, p->b_shift) &&
		nn_q_lean_ok(p->out_multiplier, p->out_shift);
}

#ifdef NN_QSIMD

/* the lean constants of one rescaling, the same in every lane */
static NN_Q512 nn_q512_lean
qadd_lean512(int32_t multiplier, int shift, int32_t zp)
{
	nn_q512_lean q;
	int64_t		add,
				k,
				sh;

	nn_q_lean_parts(shift, zp, &add, &k, &sh);
	q.me = _mm512_set1_epi32(multiplier);
	q.mo = q.me;
	q.ae = q.ao = _mm512_set1_epi64(add);
	q.ke = q.ko = _mm512_set1_epi64(k);
	q.se = q.so = _mm512_set1_epi64(sh);
	return q;
}

/*
 * ADD with the lean requantization for the three rescalings, the output
 * zero point folded into the last: about two thirds of the instructions.
 */
static NN_Q512 void
qadd512_lean(const nn_qadd_params *p, size_t n, const uint8_t *a, const uint8_t *b,
			 uint8_t *out)
{
	nn_q512_lean qa = qadd_lean512(p->a_multiplier, p->a_shift, 0),
				qb = qadd_lean512(p->b_multiplier, p->b_shift, 0),
				qo = qadd_lean512(p->out_multiplier, p->out_shift, p->out_zp);
	__m512i		za = _mm512_set1_epi32(p->a_zp),
				zb = _mm512_set1_epi32(p->b_zp),
				lo = _mm512_set1_epi32(p->act_min),
				hi = _mm512_set1_epi32(p->act_max);

	for (size_t i = 0; i < n; i += 16)
	{
		__mmask16	k = n - i >= 16 ? 0xFFFF : (__mmask16) ((1u << (n - i)) - 1);
		__m512i		va = _mm512_cvtepu8_epi32(_mm_maskz_loadu_epi8(k, a + i)),
					vb = _mm512_cvtepu8_epi32(_mm_maskz_loadu_epi8(k, b + i));

		va = _mm512_slli_epi32(_mm512_sub_epi32(va, za), p->left_shift);
		vb = _mm512_slli_epi32(_mm512_sub_epi32(vb, zb), p->left_shift);
		va = nn_q512_requant_lean(va, &qa);
		vb = nn_q512_requant_lean(vb, &qb);
		va = nn_q512_requant_lean(_mm512_add_epi32(va, vb), &qo);
		va = _mm512_min_epi32(_mm512_max_epi32(va, lo), hi);
		if (k == 0xFFFF)
			_mm_storeu_si128((__m128i *) (out + i), _mm512_cvtepi32_epi8(va));
		else
			_mm_mask_storeu_epi8(out + i, k, _mm512_cvtepi32_epi8(va));
	}
}

static NN_Q512 void
qadd512(const nn_qadd_params *p, size_t n, const uint8_t *a, const uint8_t *b, uint8_t *out)
{
	nn_q512_rq	qa,
				qb,
				qo;
	int32_t		l,
				r,
				m,
				h;
	__m512i		za = _mm512_set1_epi32(p->a_zp),
				zb = _mm512_set1_epi32(p->b_zp),
				zo = _mm512_set1_epi32(p->out_zp),
				lo = _mm512_set1_epi32(p->act_min),
				hi = _mm512_set1_epi32(p->act_max);
	size_t		i;

	nn_q_shift_parts(p->a_shift, &l, &r, &m, &h);
	qa = (nn_q512_rq) {_mm512_set1_epi32(p->a_multiplier), _mm512_set1_epi32(l),
	_mm512_set1_epi32(r), _mm512_set1_epi32(m), _mm512_set1_epi32(h)};
	nn_q_shift_parts(p->b_shift, &l, &r, &m, &h);
	qb = (nn_q512_rq) {_mm512_set1_epi32(p->b_multiplier), _mm512_set1_epi32(l),
	_mm512_set1_epi32(r), _mm512_set1_epi32(m), _mm512_set1_epi32(h)};
	nn_q_shift_parts(p->out_shift, &l, &r, &m, &h);
	qo = (nn_q512_rq) {_mm512_set1_epi32(p->out_multiplier), _mm512_set1_epi32(l),
	_mm512_set1_epi32(r), _mm512_set1_epi32(m), _mm512_set1_epi32(h)};

	for (i = 0; i < n; i += 16)
	{
		__mmask16	k = n - i >= 16 ? 0xFFFF : (__mmask16) ((1u << (n - i)) - 1);
		__m512i		va = _mm512_cvtepu8_epi32(_mm_maskz_loadu_epi8(k, a + i)),
					vb = _mm512_cvtepu8_epi32(_mm_maskz_loadu_epi8(k, b + i));

		va = _mm512_slli_epi32(_mm512_sub_epi32(va, za), p->left_shift);
		vb = _mm512_slli_epi32(_mm512_sub_epi32(vb, zb), p->left_shift);
		va = nn_q512_requant(va, &qa);
		vb = nn_q512_requant(vb, &qb);
		va = _mm512_add_epi32(nn_q512_requant(_mm512_add_epi32(va, vb), &qo), zo);
		va = _mm512_min_epi32(_mm512_max_epi32(va, lo), hi);
		_mm_mask_storeu_epi8(out + i, k, _mm512_cvtepi32_epi8(va));
	}
}

static NN_Q256 void
qadd256(const nn_qadd_params *p, size_t n, const uint8_t *a, const uint8_t *b, uint8_t *out)
{
	nn_q256_rq	qa,
				qb,
				qo;
	int32_t		l,
				r,
				m,
				h;
	__m256i		za = _mm256_set1_epi32(p->a_zp),
				zb = _mm256_set1_epi32(p->b_zp),
				zo = _mm256_set1_epi32(p->out_zp),
				lo = _mm256_set1_epi32(p->act_min),
				hi = _mm256_set1_epi32(p->act_max);
	size_t		i;

	nn_q_shift_parts(p->a_shift, &l, &r, &m, &h);
	qa = (nn_q256_rq) {_mm256_set1_epi32(p->a_multiplier), _mm256_set1_epi32(l),
	_mm256_set1_epi32(r), _mm256_set1_epi32(m), _mm256_set1_epi32(h)};
	nn_q_shift_parts(p->b_shift, &l, &r, &m, &h);
	qb = (nn_q256_rq) {_mm256_set1_epi32(p->b_multiplier), _mm256_set1_epi32(l),
	_mm256_set1_epi32(r), _mm256_set1_epi32(m), _mm256_set1_epi32(h)};
	nn_q_shift_parts(p->out_shift, &l, &r, &m, &h);
	qo = (nn_q256_rq) {_mm256_set1_epi32(p->out_multiplier), _mm256_set1_epi32(l),
	_mm256_set1_epi32(r), _mm256_set1_epi32(m), _mm256_set1_epi32(h)};

	for (i = 0; i + 8 <= n; i += 8)
	{
		int64_t		ra,
					rb;
		__m256i		va,
					vb;
		__m128i		o;

		memcpy(&ra, a + i, 8);
		memcpy(&rb, b + i, 8);
		va = _mm256_cvtepu8_epi32(_mm_cvtsi64_si128(ra));
		vb = _mm256_cvtepu8_epi32(_mm_cvtsi64_si128(rb));
		va = _mm256_slli_epi32(_mm256_sub_epi32(va, za), p->left_shift);
		vb = _mm256_slli_epi32(_mm256_sub_epi32(vb, zb), p->left_shift);
		va = nn_q256_requant(va, &qa);
		vb = nn_q256_requant(vb, &qb);
		va = _mm256_add_epi32(nn_q256_requant(_mm256_add_epi32(va, vb), &qo), zo);
		va = _mm256_min_epi32(_mm256_max_epi32(va, lo), hi);
		/* values are 0..255: the saturating packs only narrow them */
		o = _mm_packs_epi32(_mm256_castsi256_si128(va), _mm256_extracti128_si256(va, 1));
		o = _mm_packus_epi16(o, o);
		_mm_storel_epi64((__m128i *) (out + i), o);
	}
	for (; i < n; i++)
		out[i] = qadd_one(p, a[i], b[i]);
}

#endif

const char *
nn_qadd_kernel(const nn_qadd_params *p)
{
	int			level = nn_qkernel_level();

	if (p->left_shift < 0 || p->left_shift >= 32 || level == 0)
		return "reference";
	if (level == 2)
		return qadd_lean_ok(p) ? "avx512vnni lean" : "avx512vnni";
	return "avx2";
}

void
nn_qadd(const nn_qadd_params *p, size_t n, const uint8_t *a, const uint8_t *b, uint8_t *out)
{
#ifdef NN_QSIMD
	/* the vector shifts take one count for all lanes: 20 in practice */
	if (p->left_shift >= 0 && p->left_shift < 32)
	{
		int			level = nn_qkernel_level();

		if (level == 2 && qadd_lean_ok(p))
		{
			qadd512_lean(p, n, a, b, out);
			return;
		}
		if (level == 2)
		{
			qadd512(p, n, a, b, out);
			return;
		}
		if (level == 1)
		{
			qadd256(p, n, a, b, out);
			return;
		}
	}
#endif
	nn_qadd_ref(p, n, a, b, out);
}

void
nn_qpad(const int in_dims[4], const int before[4], const int out_dims[4], uint8_t zp,
		const uint8_t *in, uint8_t *out)
{
	size_t		total = (size_t) out_dims[0] * out_dims[1] * out_dims[2] * out_dims[3];
	size_t		row = (size_t) in_dims[3];

	/* the zero point is the real 0 */
	memset(out, zp, total);
	for (int a = 0; a < in_dims[0]; a++)
		for (int b = 0; b < in_dims[1]; b++)
			for (int c = 0; c < in_dims[2]; c++)
			{
				size_t		src = (((size_t) a * in_dims[1] + b) * in_dims[2] + c) * row;
				size_t		dst = ((((size_t) a + before[0]) * out_dims[1] + b + before[1]) *
								   out_dims[2] + c + before[2]) * out_dims[3] + before[3];

				memcpy(out + dst, in + src, row);
			}
}

/*
 * TFLite's Quantize (reference/quantize.h): round half away from zero of
 * the float quotient (roundf), plus the zero point, clamped.  The quotient
 * is clamped before the conversion to int, which would be undefined for
 * huge values; NaN gives the zero point (TFLite leaves it undefined).
 */
void
nn_quantize_u8(size_t n, const float *in, float scale, int32_t zp, uint8_t *out)
{
	for (size_t i = 0; i < n; i++)
	{
		float		r = roundf(in[i] / scale);
		int32_t		q;

		if (r != r)
			r = 0;
		if (r > 512)
			r = 512;
		if (r < -512)
			r = -512;
		q = zp + (int32_t) r;
		out[i] = (uint8_t) (q < 0 ? 0 : q > 255 ? 255 : q);
	}
}

void
nn_dequantize_u8(size_t n, const uint8_t *in, float scale, int32_t zp, float *out)
{
	for (size_t i = 0; i < n; i++)
		out[i] = (float) ((int32_t) in[i] - zp) * scale;
}
