/*
 * test_nn_qkernels.c
 *	  The integer kernels of the int8 engine (qconv*.c, qdepthwise*.c,
 *	  qelementwise.c): TFLite's fixed-point arithmetic on hand-computed
 *	  values, the references on hand-computed convolutions, and every fast
 *	  kernel against its reference byte for byte on made-up tensors whose
 *	  sizes hit every tail (rows, K, channel blocks, borders, strides), with
 *	  and without zero points, bias and saturating activation ranges; each
 *	  on the best kernel of this CPU and again on AVX2 (nn_qforce_avx2).
 *	  The comparisons also check that the reference outputs are spread over
 *	  many values, so that a kernel that only clamps cannot pass.
 */
#include "unit.h"
#include "nn/nn.h"
#include "nn/nn_qkernels.h"
#include "nn/nn_qsimd.h"

#include <stdint.h>

static uint32_t rng_state = 12345;

static uint32_t
rng(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 17;
	rng_state ^= rng_state << 5;
	return rng_state;
}

/* uniform in [lo, hi] */
static int
rng_int(int lo, int hi)
{
	return lo + (int) (rng() % (uint32_t) (hi - lo + 1));
}

static void *
alloc64(size_t n)
{
	void	   *p = aligned_alloc(64, (n + 63) / 64 * 64 + 64);

	memset(p, 0xCC, (n + 63) / 64 * 64 + 64);
	return p;
}

/* ---- the fixed-point arithmetic ---- */

static void
test_quantize_multiplier(void)
{
	int32_t		m;
	int			s;

	CHECK(nn_quantize_multiplier(0.5, &m, &s) && m == (1 << 30) && s == 0);
	CHECK(nn_quantize_multiplier(1.0, &m, &s) && m == (1 << 30) && s == 1);
	CHECK(nn_quantize_multiplier(0.75, &m, &s) && m == 1610612736 && s == 0);
	/* 0.1 = 0.8 * 2^-3; 0.8 * 2^31 = 1717986918.4 */
	CHECK(nn_quantize_multiplier(0.1, &m, &s) && m == 1717986918 && s == -3);
	/* 3.7 = 0.925 * 2^2; 0.925 * 2^31 = 1986422374.4 */
	CHECK(nn_quantize_multiplier(3.7, &m, &s) && m == 1986422374 && s == 2);
	/* q rounds up to 2^31: halved, shift + 1 */
	CHECK(nn_quantize_multiplier(1.0 - ldexp(1.0, -40), &m, &s) && m == (1 << 30) && s == 1);
	/* 2^-33 = 0.5 * 2^-32: below -31, flushed to zero */
	CHECK(nn_quantize_multiplier(ldexp(1.0, -33), &m, &s) && m == 0 && s == 0);
	/* 2^-32 = 0.5 * 2^-31: kept */
	CHECK(nn_quantize_multiplier(ldexp(1.0, -32), &m, &s) && m == (1 << 30) && s == -31);
	/* 2^30 = 0.5 * 2^31: shift 31 is refused, 2^29 gives 30 */
	CHECK(!nn_quantize_multiplier(ldexp(1.0, 30), &m, &s));
	CHECK(nn_quantize_multiplier(ldexp(1.0, 29), &m, &s) && m == (1 << 30) && s == 30);
	CHECK(!nn_quantize_multiplier(0.0, &m, &s) && m == 0 && s == 0);
	CHECK(!nn_quantize_multiplier(-0.5, &m, &s));
	CHECK(!nn_quantize_multiplier(NAN, &m, &s));
	CHECK(!nn_quantize_multiplier(INFINITY, &m, &s));
}

static void
test_mul_by_quantized_multiplier(void)
{
	const int32_t half = 1 << 30;	/* 0.5 with shift 0 */

	CHECK(nn_mul_by_quantized_multiplier(100, half, 0) == 50);
	/* 1.5 rounds up in the doubling high multiply ... */
	CHECK(nn_mul_by_quantized_multiplier(3, half, 0) == 2);
	/* ... and -1.5 to -1: TFLite's nudge is 1 - 2^30 for negative products */
	CHECK(nn_mul_by_quantized_multiplier(-3, half, 0) == -1);
	CHECK(nn_mul_by_quantized_multiplier(-5, half, 0) == -2);
	/* two roundings: 5 * 0.5 = 2.5 -> 3, then 3 / 2 = 1.5 -> 2 */
	CHECK(nn_mul_by_quantized_multiplier(5, half, -1) == 2);
	/* the right shift rounds ties away from zero */
	CHECK(nn_q_rounding_divide_by_pot(3, 1) == 2);
	CHECK(nn_q_rounding_divide_by_pot(-3, 1) == -2);
	CHECK(nn_q_rounding_divide_by_pot(-5, 2) == -1);
	CHECK(nn_q_rounding_divide_by_pot(-6, 2) == -2);
	CHECK(nn_q_rounding_divide_by_pot(5, 2) == 1);
	CHECK(nn_q_rounding_divide_by_pot(6, 2) == 2);
	CHECK(nn_q_rounding_divide_by_pot(7, 0) == 7);
	/* left shifts: 3 << 2 = 12, times 0.5 */
	CHECK(nn_mul_by_quantized_multiplier(3, half, 2) == 6);
	CHECK(nn_mul_by_quantized_multiplier(-3, half, 2) == -6);
	/* the one saturating product */
	CHECK(nn_q_doubling_high_mul(INT32_MIN, INT32_MIN) == INT32_MAX);
	CHECK(nn_mul_by_quantized_multiplier(INT32_MIN, INT32_MIN, 0) == INT32_MAX);
	CHECK(nn_mul_by_quantized_multiplier(INT32_MIN, half, 0) == -(1 << 30));
	CHECK(nn_mul_by_quantized_multiplier(INT32_MAX, INT32_MAX, 0) == INT32_MAX - 1);
	CHECK(nn_mul_by_quantized_multiplier(INT32_MIN, INT32_MAX, 0) == INT32_MIN + 1);
	/* 1000 * 0.1 */
	CHECK(nn_mul_by_quantized_multiplier(1000, 1717986918, -3) == 100);
	CHECK(nn_mul_by_quantized_multiplier(-1000, 1717986918, -3) == -100);
	/* 15 * 0.1 = 1.5 -> 2, -15 -> -2 (both roundings away from zero here) */
	CHECK(nn_mul_by_quantized_multiplier(15, 1717986918, -3) == 2);
	CHECK(nn_mul_by_quantized_multiplier(-15, 1717986918, -3) == -2);
}

#ifdef NN_QSIMD
static NN_Q512 void
requant16(const int32_t *x, const int32_t *mult, const int *shift, int32_t *out)
{
	nn_q512_rq	q;
	int32_t		l[16],
				r[16],
				m[16],
				h[16];

	for (int i = 0; i < 16; i++)
		nn_q_shift_parts(shift[i], &l[i], &r[i], &m[i], &h[i]);
	q.mult = _mm512_loadu_si512(mult);
	q.left = _mm512_loadu_si512(l);
	q.right = _mm512_loadu_si512(r);
	q.mask = _mm512_loadu_si512(m);
	q.half = _mm512_loadu_si512(h);
	_mm512_storeu_si512(out, nn_q512_requant(_mm512_loadu_si512(x), &q));
}

static NN_Q256 void
requant8(const int32_t *x, const int32_t *mult, const int *shift, int32_t *out)
{
	nn_q256_rq	q;
	int32_t		l[8],
				r[8],
				m[8],
				h[8];

	for (int i = 0; i < 8; i++)
		nn_q_shift_parts(shift[i], &l[i], &r[i], &m[i], &h[i]);
	q.mult = _mm256_loadu_si256((const __m256i *) mult);
	q.left = _mm256_loadu_si256((const __m256i *) l);
	q.right = _mm256_loadu_si256((const __m256i *) r);
	q.mask = _mm256_loadu_si256((const __m256i *) m);
	q.half = _mm256_loadu_si256((const __m256i *) h);
	_mm256_storeu_si256((__m256i *) out, nn_q256_requant(_mm256_loadu_si256((const __m256i *) x), &q));
}
#endif

/* The vector requantization of nn_qsimd.h against the scalar function. */
static void
test_vector_requant(void)
{
#ifdef NN_QSIMD
	static const int32_t edge_x[] = {0, 1, -1, 2, -2, 3, -3, INT32_MIN, INT32_MAX,
		INT32_MIN + 1, 1 << 30, -(1 << 30), (1 << 30) + 1, -(1 << 30) - 1, 12345, -12345,
	1 << 20, -(1 << 20)};
	static const int32_t edge_m[] = {INT32_MIN, INT32_MAX, 1 << 30, (1 << 30) + 1,
	1717986918, 1986422374, 0, -(1 << 30)};
	int			level = nn_qkernel_level();
	int			bad = 0,
				total = 0;

	if (level == 0)
	{
		printf("     (no AVX2: the vector requantization is not used)\n");
		return;
	}
	for (int iter = 0; iter < 20000; iter++)
	{
		int32_t		x[16],
					m[16],
					o512[16],
					o256[16];
		int			s[16];

		for (int i = 0; i < 16; i++)
		{
			uint32_t	u = rng();

			if (iter < 2000)
				x[i] = edge_x[rng() % (sizeof(edge_x) / sizeof(edge_x[0]))];
			else if (u % 3 == 0)
				x[i] = (int32_t) rng();
			else
				x[i] = (int32_t) (rng() % 200001) - 100000;
			m[i] = (iter % 2) ? edge_m[rng() % (sizeof(edge_m) / sizeof(edge_m[0]))]
				: (int32_t) ((1u << 30) + rng() % (1u << 30));
			s[i] = rng_int(-31, 30);
		}
		requant8(x, m, s, o256);
		requant8(x + 8, m + 8, s + 8, o256 + 8);
		if (level == 2)
			requant16(x, m, s, o512);
		for (int i = 0; i < 16; i++)
		{
			int32_t		want = nn_mul_by_quantized_multiplier(x[i], m[i], s[i]);

			total++;
			if (o256[i] != want || (level == 2 && o512[i] != want))
			{
				if (bad++ < 5)
					fprintf(stderr, "requant x=%d m=%d s=%d: want %d, avx2 %d, avx512 %d\n",
							x[i], m[i], s[i], want, o256[i], level == 2 ? o512[i] : 0);
			}
		}
	}
	CHECK_MSG(bad == 0, "%d of %d lanes differ", bad, total);
#endif
}

#ifdef NN_QSIMD
/* nn_q512_requant_lean of 16 lanes, the constants packed as the kernels pack them */
static NN_Q512 void
requant16_lean(const int32_t *x, const int32_t *mult, const int *shift, int32_t zp,
			   int32_t *out)
{
	nn_q512_lean q;
	int32_t		l[16];
	int64_t		add[16],
				k[16],
				sh[16];
	__m512i		v;

	for (int i = 0; i < 16; i++)
	{
		int			slot = nn_q_lean_slot(i);

		l[i] = shift[i] > 0 ? shift[i] : 0;
		nn_q_lean_parts(shift[i], zp, &add[slot], &k[slot], &sh[slot]);
	}
	nn_q512_lean_load(&q, mult, add, k, sh);
	v = _mm512_sllv_epi32(_mm512_loadu_si512(x), _mm512_loadu_si512(l));
	_mm512_storeu_si512(out, nn_q512_requant_lean(v, &q));
}
#endif

/*
 * The lean requantization (multipliers >= 0, right shifts up to
 * NN_QLEAN_MAX_RIGHT, the output zero point added) against the scalar
 * function: edge values, ties of the rounding, every shift.
 */
static void
test_vector_requant_lean(void)
{
#ifdef NN_QSIMD
	static const int32_t edge_x[] = {0, 1, -1, 2, -2, 3, -3, INT32_MIN, INT32_MAX,
		INT32_MIN + 1, 1 << 30, -(1 << 30), (1 << 30) + 1, -(1 << 30) - 1, 12345, -12345,
	1 << 20, -(1 << 20), 1 << 22, -(1 << 22), 3 << 21, -(3 << 21)};
	static const int32_t edge_m[] = {INT32_MAX, 1 << 30, (1 << 30) + 1, 1717986918,
	1986422374, 0, 1};
	int			bad = 0,
				total = 0;

	if (nn_qkernel_level() < 2)
	{
		printf("     (no AVX-512 VNNI: the lean requantization is not used)\n");
		return;
	}
	CHECK(nn_q_lean_ok(1 << 30, -NN_QLEAN_MAX_RIGHT));
	CHECK(!nn_q_lean_ok(1 << 30, -NN_QLEAN_MAX_RIGHT - 1));
	CHECK(!nn_q_lean_ok(INT32_MIN, 0));
	CHECK(!nn_q_lean_ok(-1, 0));
	for (int iter = 0; iter < 40000; iter++)
	{
		int32_t		x[16],
					m[16],
					o[16];
		int			s[16];
		int32_t		zp = (int32_t) (rng() % 256);

		for (int i = 0; i < 16; i++)
		{
			uint32_t	u = rng();

			s[i] = rng_int(-NN_QLEAN_MAX_RIGHT, 30);
			if (iter < 4000)
				x[i] = edge_x[rng() % (sizeof(edge_x) / sizeof(edge_x[0]))];
			else if (u % 4 == 0)
				x[i] = (int32_t) rng();
			else if (u % 4 == 1 && s[i] < 0)
			{
				/* a tie of the final rounding, either sign */
				x[i] = (int32_t) ((int64_t) rng_int(-5000, 5000) * ((int64_t) 1 << -s[i]) +
								  ((int64_t) 1 << (-s[i] - 1)));
			}
			else
				x[i] = (int32_t) (rng() % 200001) - 100000;
			m[i] = (iter % 2) ? edge_m[rng() % (sizeof(edge_m) / sizeof(edge_m[0]))]
				: (int32_t) ((1u << 30) + rng() % (1u << 30));
			if (iter % 7 == 0)
				m[i] = 1 << 30; /* exactly one half: ties of the doubling high multiply */
		}
		requant16_lean(x, m, s, zp, o);
		for (int i = 0; i < 16; i++)
		{
			int32_t		want = (int32_t) ((uint32_t) nn_mul_by_quantized_multiplier(x[i], m[i], s[i]) +
										  (uint32_t) zp);

			total++;
			if (o[i] != want)
			{
				if (bad++ < 5)
					fprintf(stderr, "lean requant x=%d m=%d s=%d zp=%d: want %d, got %d\n",
							x[i], m[i], s[i], zp, want, o[i]);
			}
		}
	}
	CHECK_MSG(bad == 0, "%d of %d lanes differ", bad, total);
#endif
}

/* ---- ADD, PAD, QUANTIZE, DEQUANTIZE ---- */

static void
test_qadd_hand(void)
{
	nn_qadd_params p;
	uint8_t		a[4] = {10, 1, 0, 250},
				b[4] = {20, 0, 0, 250},
				out[4];

	/*
	 * a_scale 0.5, b_scale 0.25, out 1.0: twice_max = 1, multipliers 0.5
	 * (2^30, 0), 0.25 (2^30, -1) and 2^-20 (2^30, -19).
	 */
	CHECK(nn_qadd_prepare(0.5, 0, 0.25, 0, 1.0, 0, 0, 255, &p));
	CHECK(p.a_multiplier == (1 << 30) && p.a_shift == 0);
	CHECK(p.b_multiplier == (1 << 30) && p.b_shift == -1);
	CHECK(p.out_multiplier == (1 << 30) && p.out_shift == -19);
	CHECK(p.left_shift == 20);
	nn_qadd_ref(&p, 4, a, b, out);
	/* 10 * 0.5 + 20 * 0.25 = 10; 0.5 rounds to 1; 125 + 62.5 -> 188 */
	CHECK(out[0] == 10);
	CHECK(out[1] == 1);
	CHECK(out[2] == 0);
	CHECK(out[3] == 188);

	/* -0.5 (a = 0, zero point 1) rounds to -1: 5 - 1 with out_zp 5 */
	CHECK(nn_qadd_prepare(0.5, 1, 0.25, 0, 1.0, 5, 0, 100, &p));
	nn_qadd_ref(&p, 4, a, b, out);
	CHECK(out[0] == 15);		/* (10 - 1) * 0.5 + 20 * 0.25 = 9.5 -> 10, + 5 */
	CHECK(out[1] == 5);
	CHECK(out[2] == 4);
	CHECK(out[3] == 100);		/* clamped */
	nn_qadd(&p, 4, a, b, out);
	CHECK(out[0] == 15 && out[1] == 5 && out[2] == 4 && out[3] == 100);

	CHECK(!nn_qadd_prepare(0.0, 0, 0.25, 0, 1.0, 0, 0, 255, &p));
	CHECK(!nn_qadd_prepare(0.5, 0, NAN, 0, 1.0, 0, 0, 255, &p));
	CHECK(!nn_qadd_prepare(0.5, 0, 0.25, 0, -1.0, 0, 0, 255, &p));
}

static void
test_qadd_fast(void)
{
	static const size_t ns[] = {1, 7, 8, 15, 16, 17, 63, 100, 1001};
	static const double scales[][3] = {
		{0.02, 0.03, 0.05}, {0.1, 0.1, 0.1}, {0.0078, 0.5, 1.0}, {0.3, 0.01, 0.6},
		/* an output shift of -23, past the lean requantization's */
		{0.01, 0.01, 0.2}
	};

	for (int pass = 0; pass < 2; pass++)
	{
		nn_qforce_avx2 = pass == 1;
		for (size_t si = 0; si < sizeof(scales) / sizeof(scales[0]); si++)
			for (size_t ni = 0; ni < sizeof(ns) / sizeof(ns[0]); ni++)
			{
				size_t		n = ns[ni];
				uint8_t    *a = malloc(n),
						   *b = malloc(n),
						   *want = malloc(n),
						   *got = malloc(n);
				nn_qadd_params p;
				int			distinct = 0;
				bool		seen[256] = {0};

				for (size_t i = 0; i < n; i++)
				{
					a[i] = (uint8_t) rng();
					b[i] = (uint8_t) rng();
				}
				CHECK(nn_qadd_prepare(scales[si][0], (int) si * 40, scales[si][1], 128 - (int) si,
									  scales[si][2], 3 + 50 * (int) si, si == 2 ? 10 : 0,
									  si == 2 ? 240 : 255, &p));
				nn_qadd_ref(&p, n, a, b, want);
				nn_qadd(&p, n, a, b, got);
				if (nn_qkernel_level() == 2)
					CHECK_MSG(strcmp(nn_qadd_kernel(&p), si == 4 ? "avx512vnni" :
									 "avx512vnni lean") == 0, "qadd scales %zu ran %s", si,
							  nn_qadd_kernel(&p));
				CHECK_MSG(memcmp(want, got, n) == 0, "qadd %s n=%zu scales %zu",
						  nn_qkernel_name(), n, si);
				for (size_t i = 0; i < n; i++)
					if (!seen[want[i]])
						seen[want[i]] = true, distinct++;
				if (n >= 100)
					CHECK_MSG(distinct > 20, "qadd output spread %d", distinct);
				free(a);
				free(b);
				free(want);
				free(got);
			}
	}
	nn_qforce_avx2 = false;
}

static void
test_qpad_quantize(void)
{
	int			in_dims[4] = {1, 2, 2, 2},
				before[4] = {0, 1, 0, 1},
				out_dims[4] = {1, 3, 3, 4};
	uint8_t		in[8] = {1, 2, 3, 4, 5, 6, 7, 8},
				out[36];
	float		f[9] = {0.25f, -0.25f, 0.75f, -0.75f, 1000.0f, -1000.0f, NAN, 0.0f, 1.24f};
	uint8_t		q[9];
	float		d[3];
	uint8_t		qd[3] = {0, 10, 255};

	nn_qpad(in_dims, before, out_dims, 9, in, out);
	for (int i = 0; i < 36; i++)
	{
		int			y = i / 12,
					x = (i / 4) % 3,
					c = i % 4;
		int			want = 9;

		if (y >= 1 && x < 2 && c >= 1 && c < 3)
			want = in[((y - 1) * 2 + x) * 2 + c - 1];
		CHECK_MSG(out[i] == want, "pad [%d]: %d, want %d", i, out[i], want);
	}

	/* scale 0.5: quotients 0.5, -0.5, 1.5, -1.5 round away from zero */
	nn_quantize_u8(9, f, 0.5f, 10, q);
	CHECK(q[0] == 11);
	CHECK(q[1] == 9);
	CHECK(q[2] == 12);
	CHECK(q[3] == 8);
	CHECK(q[4] == 255);
	CHECK(q[5] == 0);
	CHECK(q[6] == 10);
	CHECK(q[7] == 10);
	CHECK(q[8] == 12);			/* 2.48 */

	nn_dequantize_u8(3, qd, 0.5f, 10, d);
	CHECK(d[0] == -5.0f && d[1] == 0.0f && d[2] == 122.5f);
}

/* ---- convolutions ---- */

static void
test_qconv_ref_hand(void)
{
	/* 3x3x1 input 1..9 (zp 1), a 2x2 filter 1 2 3 4 (zp 1), bias 10 */
	uint8_t		in[9] = {1, 2, 3, 4, 5, 6, 7, 8, 9},
				out[9];
	int8_t		w[4] = {1, 2, 3, 4};
	int32_t		bias = 10,
				mult = 1 << 30,
				shift = 0;
	nn_qconv_params p = {
		.in_h = 3,.in_w = 3,.in_c = 1,.out_h = 2,.out_w = 2,.out_c = 1,
		.k_h = 2,.k_w = 2,.stride_h = 1,.stride_w = 1,.dil_h = 1,.dil_w = 1,
		.in_zp = 1,.w_zp = 1,.out_zp = 3,.act_min = 0,.act_max = 255,
		.weights = w,.bias = &bias,.multiplier = &mult,.shift = &shift
	};

	/* accumulators 29, 35, 47, 53, times 0.5 with ties up, plus 3 */
	nn_qconv_ref(&p, in, out);
	CHECK(out[0] == 18 && out[1] == 21 && out[2] == 27 && out[3] == 30);
	/* the same with the right and bottom padding: out 3x3 */
	p.out_h = p.out_w = 3;
	nn_qconv_ref(&p, in, out);
	CHECK(out[0] == 18 && out[1] == 21 && out[3] == 27 && out[4] == 30);
	CHECK(out[2] == 13);		/* 10 + 2 * 0 + 5 * 2 = 20 -> 10 */
	CHECK(out[8] == 8);			/* the bias alone: 10 -> 5 */
	p.act_max = 20;
	nn_qconv_ref(&p, in, out);
	CHECK(out[0] == 18 && out[1] == 20 && out[4] == 20);
}

static void
test_qdepthwise_ref_hand(void)
{
	/* 3x3x2: channel 0 all 2, channel 1 all 5; in_zp 2 */
	uint8_t		in[18],
				out[18];
	int8_t		w[18];
	int32_t		mult[2] = {1 << 30, 1 << 30},
				shift[2] = {1, 1};
	nn_qconv_params p = {
		.in_h = 3,.in_w = 3,.in_c = 2,.out_h = 3,.out_w = 3,.out_c = 2,
		.k_h = 3,.k_w = 3,.stride_h = 1,.stride_w = 1,.dil_h = 1,.dil_w = 1,
		.pad_top = 1,.pad_left = 1,.depth_multiplier = 1,
		.in_zp = 2,.w_zp = 1,.out_zp = 4,.act_min = 0,.act_max = 255,
		.weights = w,.bias = NULL,.multiplier = mult,.shift = shift
	};

	for (int i = 0; i < 9; i++)
	{
		in[2 * i] = 2;
		in[2 * i + 1] = 5;
		w[2 * i] = 7;
		w[2 * i + 1] = (int8_t) (1 + i);	/* w - w_zp = tap index */
	}
	nn_qdepthwise_ref(&p, in, out);
	/* channel 1: 3 * (sum of the taps in range), times 1.0, plus 4 */
	CHECK(out[2 * 4 + 1] == 3 * 36 + 4);
	CHECK(out[2 * 0 + 1] == 3 * (4 + 5 + 7 + 8) + 4);
	CHECK(out[2 * 8 + 1] == 3 * (0 + 1 + 3 + 4) + 4);
	CHECK(out[2 * 1 + 1] == 3 * (3 + 4 + 5 + 6 + 7 + 8) + 4);
	for (int i = 0; i < 9; i++)
		CHECK(out[2 * i] == 4);
}

/* One test geometry: input, filter, stride, padding; out size derived. */
typedef struct qgeom
{
	int			h, w, c;		/* input */
	int			k, stride, dil;
	bool		same;			/* TF's SAME padding, else VALID */
	int			out_c;			/* conv only (depthwise: c) */
} qgeom;

static void
geom_params(const qgeom *g, nn_qconv_params *p)
{
	int			ek = (g->k - 1) * g->dil + 1;

	memset(p, 0, sizeof(*p));
	p->in_h = g->h;
	p->in_w = g->w;
	p->in_c = g->c;
	p->k_h = p->k_w = g->k;
	p->stride_h = p->stride_w = g->stride;
	p->dil_h = p->dil_w = g->dil;
	p->depth_multiplier = 1;
	if (g->same)
	{
		p->out_h = (g->h + g->stride - 1) / g->stride;
		p->out_w = (g->w + g->stride - 1) / g->stride;
		p->pad_top = ((p->out_h - 1) * g->stride + ek - g->h) / 2;
		p->pad_left = ((p->out_w - 1) * g->stride + ek - g->w) / 2;
		if (p->pad_top < 0)
			p->pad_top = 0;
		if (p->pad_left < 0)
			p->pad_left = 0;
	}
	else
	{
		p->out_h = (g->h - ek) / g->stride + 1;
		p->out_w = (g->w - ek) / g->stride + 1;
	}
}

/* zero points and data amplitude of a run */
typedef struct qzp
{
	int			in_zp, w_zp, out_zp;
	int			amp;			/* data within zp +- amp */
	bool		bias;
	int			act_min, act_max;
	bool		wfull;			/* weights anywhere in -128..127, whatever w_zp */
} qzp;

static const qzp zps[] = {
	{0, 0, 0, 255, true, 0, 255, false},
	{128, 0, 128, 127, false, 0, 255, false},
	{37, -20, 201, 100, true, 20, 180, false},
	{255, 127, 3, 255, true, 0, 255, false},
	{100, 5, 90, 3, true, 0, 255, false},	/* small data: multipliers above 1 */
	{128, -128, 128, 2, false, 0, 255, false},
	/* w - w_zp beyond a signed byte: depthwise windows add a * (-w_zp) */
	{60, -100, 128, 255, true, 0, 255, true},
	{10, 127, 250, 255, false, 0, 200, true},
	/* ... except with w_zp = -128, which keeps the per-tap kernel */
	{128, -128, 128, 100, true, 0, 255, true},
};

/* the zp set whose depthwise cases must not take the window kernel */
#define ZP_NO_WINDOWS 8

static int
clampi(int v, int lo, int hi)
{
	return v < lo ? lo : v > hi ? hi : v;
}

/*
 * Fill the operands; per-channel multipliers aim the output spread at
 * about +-40 around out_zp (shifts of both signs, by the amplitude), one
 * channel in 5 four times more.
 */
static void
fill_case(nn_qconv_params *p, const qzp *z, int taps, uint8_t *in, size_t nin, int8_t *w,
		  size_t nw, int32_t *bias, int32_t *mult, int32_t *shift)
{
	double		sig_in,
				sig_w;
	int			amp_w = z->amp > 127 ? 127 : z->amp;

	p->in_zp = z->in_zp;
	p->w_zp = z->w_zp;
	p->out_zp = z->out_zp;
	p->act_min = z->act_min;
	p->act_max = z->act_max;
	for (size_t i = 0; i < nin; i++)
		in[i] = (uint8_t) clampi(z->in_zp + rng_int(-z->amp, z->amp), 0, 255);
	for (size_t i = 0; i < nw; i++)
		w[i] = (int8_t) (z->wfull ? rng_int(-128, 127) :
						 clampi(z->w_zp + rng_int(-amp_w, amp_w), -128, 127));
	sig_in = z->amp / 1.7 + 0.5;
	sig_w = amp_w / 1.7 + 0.5;
	if (z->wfull)
		sig_w = sqrt(74.0 * 74.0 + (double) z->w_zp * z->w_zp);
	for (int oc = 0; oc < p->out_c; oc++)
	{
		double		real = 40.0 / (sqrt((double) taps) * sig_in * sig_w);
		int			s;

		real *= 0.6 + 0.8 * (double) (rng() % 1000) / 1000.0;
		if (oc % 5 == 3)
			real *= 4;
		/* a bias of the order of the sums, so that it matters but does not swamp them */
		bias[oc] = rng_int(-(int) (sqrt((double) taps) * sig_in * sig_w),
						   (int) (sqrt((double) taps) * sig_in * sig_w));
		CHECK(nn_quantize_multiplier(real, &mult[oc], &s));
		shift[oc] = s;
	}
	p->bias = z->bias ? bias : NULL;
	p->multiplier = mult;
	p->shift = shift;
}

/*
 * Run the fast kernel (packed for the current choice) and the reference;
 * returns true when they agree.  Also checks that nothing is written past
 * the output and that the reference's output has a spread.
 */
static char last_kernel[32];		/* the kernel run_compare ran */

static bool
run_compare(const nn_qconv_params *p0, const uint8_t *in, bool depthwise, const char *what)
{
	nn_qconv_params p = *p0;
	size_t		nout = (size_t) p.out_h * p.out_w * p.out_c;
	size_t		pb = depthwise ? nn_qdepthwise_packed_bytes(&p) : nn_qconv_packed_bytes(&p);
	size_t		sb = depthwise ? nn_qdepthwise_scratch_bytes(&p) : nn_qconv_scratch_bytes(&p);
	void	   *packed = pb ? alloc64(pb) : NULL;
	void	   *scratch = sb ? alloc64(sb) : NULL;
	uint8_t    *want = malloc(nout),
			   *got = malloc(nout + 64);
	bool		ok;
	int			distinct = 0;
	bool		seen[256] = {0};

	if (packed)
	{
		if (depthwise)
			nn_qdepthwise_pack(&p, packed);
		else
			nn_qconv_pack(&p, packed);
	}
	p.packed = packed;
	snprintf(last_kernel, sizeof(last_kernel), "%s",
			 depthwise ? nn_qdepthwise_kernel(&p) : nn_qconv_kernel(&p));
	memset(got, 0xA5, nout + 64);
	if (depthwise)
	{
		nn_qdepthwise_ref(&p, in, want);
		nn_qdepthwise(&p, in, got, scratch);
	}
	else
	{
		nn_qconv_ref(&p, in, want);
		nn_qconv(&p, in, got, scratch);
	}
	ok = memcmp(want, got, nout) == 0;
	if (!ok)
	{
		size_t		i = 0;

		while (want[i] == got[i])
			i++;
		fprintf(stderr, "%s (%s): first difference at %zu (pixel %zu channel %zu): %d, want %d\n",
				what, nn_qkernel_name(), i, i / p.out_c, i % p.out_c, got[i], want[i]);
	}
	for (int i = 0; i < 64; i++)
		if (got[nout + i] != 0xA5)
			ok = false;
	for (size_t i = 0; i < nout; i++)
		if (!seen[want[i]])
			seen[want[i]] = true, distinct++;
	/* a tensor of some size must not come out (nearly) constant */
	if (nout >= 200)
		CHECK_MSG(distinct >= 10, "%s: the reference output has only %d values", what, distinct);
	free(packed);
	free(scratch);
	free(want);
	free(got);
	return ok;
}

static const qgeom conv_geoms[] = {
	{7, 9, 16, 1, 1, 1, false, 24},	/* 1x1: K a multiple of 16, N not */
	{5, 5, 37, 1, 1, 1, false, 19}, /* K not a multiple of 4 */
	{13, 1, 3, 1, 1, 1, false, 40},
	{4, 4, 64, 1, 1, 1, false, 100},	/* N = 3 * 32 + 4 */
	{6, 5, 30, 1, 1, 1, false, 48}, /* N = 32 + 16 */
	{1, 1, 1, 1, 1, 1, false, 1},
	{15, 17, 3, 3, 2, 1, true, 32}, /* the RGB stem */
	{16, 16, 3, 3, 2, 1, true, 16},
	{6, 7, 10, 3, 1, 1, true, 33},
	{9, 8, 5, 5, 1, 1, false, 17},
	{9, 9, 7, 5, 2, 1, true, 20},
	{9, 9, 8, 3, 2, 1, false, 16},
	{8, 8, 16, 1, 2, 1, false, 16}, /* 1x1 stride 2: im2col */
	{9, 9, 4, 3, 1, 2, true, 8},	/* dilation 2 */
	{3, 2, 6, 5, 1, 1, true, 7},	/* a window larger than the input */
};

static void
test_qconv_fast(void)
{
	int			levels = nn_qkernel_level();

	if (levels == 0)
		printf("     (no AVX2: nn_qconv runs the reference)\n");
	for (int pass = 0; pass < 2; pass++)
	{
		nn_qforce_avx2 = pass == 1;
		if (pass == 1 && levels < 2)
			break;
		for (size_t gi = 0; gi < sizeof(conv_geoms) / sizeof(conv_geoms[0]); gi++)
			for (size_t zi = 0; zi < sizeof(zps) / sizeof(zps[0]); zi++)
			{
				const qgeom *g = &conv_geoms[gi];
				nn_qconv_params p;
				int			taps;
				size_t		nin = (size_t) g->h * g->w * g->c,
							nw;
				uint8_t    *in;
				int8_t	   *w;
				int32_t    *bias,
						   *mult,
						   *shift;
				char		what[96];

				geom_params(g, &p);
				p.out_c = g->out_c;
				taps = g->k * g->k * g->c;
				nw = (size_t) taps * g->out_c;
				in = malloc(nin);	/* exactly: ASan sees any read past it */
				w = malloc(nw);
				bias = malloc(sizeof(int32_t) * g->out_c);
				mult = malloc(sizeof(int32_t) * g->out_c);
				shift = malloc(sizeof(int32_t) * g->out_c);
				p.weights = w;
				fill_case(&p, &zps[zi], taps, in, nin, w, nw, bias, mult, shift);
				snprintf(what, sizeof(what), "qconv %dx%dx%d k%d s%d d%d %s -> %d, zp set %zu",
						 g->h, g->w, g->c, g->k, g->stride, g->dil, g->same ? "SAME" : "VALID",
						 g->out_c, zi);
				CHECK_MSG(run_compare(&p, in, false, what), "%s", what);
				if (levels == 2 && pass == 0)
					CHECK_MSG(strcmp(last_kernel, "avx512vnni lean") == 0, "%s: ran %s", what,
							  last_kernel);
				/*
				 * a right shift beyond the lean requantization's: the full
				 * epilogue (with the left shifts of zp set 4's other channels)
				 */
				if (zi == 2 || zi == 4)
				{
					shift[p.out_c / 2] = -NN_QLEAN_MAX_RIGHT - 1;
					CHECK_MSG(run_compare(&p, in, false, what), "%s, one shift -23", what);
					if (levels == 2 && pass == 0)
						CHECK(strcmp(last_kernel, "avx512vnni") == 0);
				}
				free(in);
				free(w);
				free(bias);
				free(mult);
				free(shift);
			}
	}
	nn_qforce_avx2 = false;
}

static const qgeom dw_geoms[] = {
	{7, 11, 16, 3, 1, 1, true, 0},
	{8, 13, 19, 3, 1, 1, true, 0},
	{8, 13, 33, 3, 2, 1, true, 0},
	{9, 9, 40, 3, 2, 1, true, 0},
	{11, 21, 7, 5, 1, 1, true, 0},
	{12, 12, 24, 5, 2, 1, true, 0},
	{10, 10, 1, 3, 1, 1, false, 0},
	{9, 14, 17, 3, 2, 1, false, 0},
	{3, 3, 20, 5, 1, 1, true, 0},	/* no interior column */
	{1, 30, 32, 3, 1, 1, true, 0},
	{9, 9, 16, 3, 1, 2, true, 0},	/* dilation 2 */
	{20, 20, 48, 3, 1, 1, true, 0},
	{6, 40, 24, 3, 2, 1, true, 0},	/* stride 2 with groups of 8 pixels */
	{7, 45, 21, 5, 2, 1, true, 0},
};

static void
test_qdepthwise_fast(void)
{
	int			levels = nn_qkernel_level();

	for (int pass = 0; pass < 2; pass++)
	{
		nn_qforce_avx2 = pass == 1;
		if (pass == 1 && levels < 2)
			break;
		for (size_t gi = 0; gi < sizeof(dw_geoms) / sizeof(dw_geoms[0]); gi++)
			for (size_t zi = 0; zi < sizeof(zps) / sizeof(zps[0]); zi++)
				for (int dm = 1; dm <= (gi < 2 ? 2 : 1); dm++)
				{
					const qgeom *g = &dw_geoms[gi];
					nn_qconv_params p;
					int			taps = g->k * g->k;
					size_t		nin = (size_t) g->h * g->w * g->c,
								nw;
					uint8_t    *in;
					int8_t	   *w;
					int32_t    *bias,
							   *mult,
							   *shift;
					char		what[96];

					geom_params(g, &p);
					p.depth_multiplier = dm;
					p.out_c = g->c * dm;
					nw = (size_t) taps * p.out_c;
					in = malloc(nin);
					w = malloc(nw);
					bias = malloc(sizeof(int32_t) * p.out_c);
					mult = malloc(sizeof(int32_t) * p.out_c);
					shift = malloc(sizeof(int32_t) * p.out_c);
					p.weights = w;
					fill_case(&p, &zps[zi], taps, in, nin, w, nw, bias, mult, shift);
					snprintf(what, sizeof(what), "qdepthwise %dx%dx%d k%d s%d d%d %s m%d, zp set %zu",
							 g->h, g->w, g->c, g->k, g->stride, g->dil,
							 g->same ? "SAME" : "VALID", dm, zi);
					CHECK_MSG(run_compare(&p, in, true, what), "%s", what);
					/* the kernel meant for the case ran */
					if (levels == 2 && pass == 0 && dm == 1)
					{
						const char *want = zi == ZP_NO_WINDOWS ? "avx512vnni" : "avx512vnni windows";

						CHECK_MSG(strcmp(last_kernel, want) == 0, "%s: ran %s, want %s", what,
								  last_kernel, want);
					}
					/* a right shift beyond the lean requantization's keeps the per-tap kernel */
					if (zi == 2 && dm == 1)
					{
						shift[p.out_c / 2] -= 20;
						CHECK_MSG(run_compare(&p, in, true, what), "%s, one shift -20", what);
						if (levels == 2 && pass == 0)
							CHECK(strcmp(last_kernel, "avx512vnni") == 0);
					}
					free(in);
					free(w);
					free(bias);
					free(mult);
					free(shift);
				}
	}
	nn_qforce_avx2 = false;
}

/* cv_nn_set_portable: nothing to pack, and a NULL packed runs the reference. */
static void
test_portable(void)
{
	qgeom		g = {5, 5, 8, 3, 1, 1, true, 16};
	nn_qconv_params p;
	uint8_t		in[200],
				a[400],
				b[400];
	int8_t		w[9 * 8 * 16];
	int32_t		bias[16],
				mult[16],
				shift[16];

	geom_params(&g, &p);
	p.out_c = 16;
	p.weights = w;
	fill_case(&p, &zps[2], 72, in, sizeof(in), w, sizeof(w), bias, mult, shift);
	cv_nn_set_portable(true);
	CHECK(strcmp(nn_qkernel_name(), "reference") == 0);
	CHECK(nn_qconv_packed_bytes(&p) == 0);
	CHECK(nn_qdepthwise_packed_bytes(&p) == 0);
	cv_nn_set_portable(false);
	printf("     (best integer kernels here: %s)\n", nn_qkernel_name());
	p.packed = NULL;
	nn_qconv_ref(&p, in, a);
	nn_qconv(&p, in, b, NULL);
	CHECK(memcmp(a, b, 400) == 0);
}

/*
 * These tests pick the path themselves (each fast kernel against its
 * reference), also in the sanitizer run of tools/test.sh, which asks the
 * nets of the other tests to run portable (PGVISION_PORTABLE_KERNELS,
 * unit.c): the integer kernels are small enough at -O0.
 */
static void
test_fast_paths_on(void)
{
	cv_nn_set_portable(false);
	CHECK(!cv_nn_get_portable());
}

UNIT_MAIN("nn_qkernels",
		  UNIT_CASE(test_fast_paths_on),
		  UNIT_CASE(test_quantize_multiplier),
		  UNIT_CASE(test_mul_by_quantized_multiplier),
		  UNIT_CASE(test_vector_requant),
		  UNIT_CASE(test_vector_requant_lean),
		  UNIT_CASE(test_qadd_hand),
		  UNIT_CASE(test_qadd_fast),
		  UNIT_CASE(test_qpad_quantize),
		  UNIT_CASE(test_qconv_ref_hand),
		  UNIT_CASE(test_qdepthwise_ref_hand),
		  UNIT_CASE(test_qconv_fast),
		  UNIT_CASE(test_qdepthwise_fast),
		  UNIT_CASE(test_portable))
