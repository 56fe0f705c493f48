/*
 * net_onnx_int8.c
 *	  The int8 engine's steps (nn_qkernels.h, qbuild.c) as standard ONNX
 *	  operators that compute the same integers (nn_onnx_int8.h).
 *
 * Why not QLinearConv and QuantizeLinear: ONNX's quantized operators
 * rescale with a float multiplier and round half to even, TFLite's with a
 * 31-bit fixed-point multiplier and its own roundings, so their bytes
 * differ now and then, and every difference moves the answer.  Here each
 * step is spelled out in operators whose integer results the ONNX
 * specification fixes exactly (Add, Mul, Clip, Cast, and BitShift on
 * unsigned values; no integer Div or Mod, whose rounding of negative
 * values onnxruntime would decide, except for the wrap of a left shift):
 *
 *	 QCONV, QDEPTHWISE	 the accumulator bias + sum (x - x_zp)(w - w_zp),
 *						 either as a float Conv on x - x_zp, w - w_zp and
 *						 the bias when the step's weights and bias bound
 *						 every partial sum below 2^24 (integers float32
 *						 holds exactly, whatever the order of the
 *						 additions: every depthwise filter and most 1x1
 *						 convolutions of MobileNet, and onnxruntime's float
 *						 convolutions are its fastest), or else ConvInteger
 *						 (uint8 x uint8, the CPU provider's only types:
 *						 int8 weights w are stored as w + 128 with zero
 *						 point w_zp + 128, the same differences; padded
 *						 taps read x_zp, as in the kernels) + the int32
 *						 bias; then requantize (+ out_zp), Clip, Cast to
 *						 uint8
 *	 QADD				 TFLite's quantized ADD: both inputs less their
 *						 zero points times 2^20, each requantized, summed,
 *						 requantized (+ out_zp), Clip, Cast
 *	 QPAD				 Pad with the zero point (uint8)
 *	 QUANTIZE			 zp + round half away from zero of x / scale
 *						 (TFLite's roundf, which QuantizeLinear's half to
 *						 even is not): floor(|q|) + (frac >= 0.5), signed
 *	 DEQUANTIZE			 (float (q) - zp) * scale, as nn_dequantize_u8
 *
 * Requantization, nn_mul_by_quantized_multiplier (TFLite's
 * MultiplyByQuantizedMultiplier, common.h), in int64 then uint64 tensors,
 * per output channel ([1, C, 1, 1] constants, scalars when all channels
 * agree); see requantize() for the offsets that keep every shifted value
 * non-negative:
 *	 left shift			 x * 2^left wrapped to int32 (TFLite shifts in
 *						 int32), only when some channel shifts left;
 *	 SaturatingRoundingDoublingHighMul(x, m) = floor((x m + 2^30) / 2^31):
 *						 TFLite's sign-dependent nudge and truncating
 *						 division round x m / 2^31 half up, for either
 *						 sign (x m + 2^30 for x m >= 0; for x m < 0,
 *						 trunc((x m + 1 - 2^30) / 2^31) is the same floor);
 *						 m < 2^31, so the one saturating case never occurs;
 *	 RoundingDivideByPOT(x, e) = floor((x + 2^(e-1) - (x < 0)) / 2^e) for
 *						 e >= 1 (round half away from zero), x for e = 0.
 */
#include "nn_onnx_int8.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Cast's "to" (TensorProto.DataType) */
#define TO_FLOAT 1
#define TO_UINT8 2
#define TO_INT64 7
#define TO_UINT64 13

/* float32 holds every integer of magnitude up to 2^24 exactly */
#define FLOAT_EXACT_LIMIT ((int64_t) 1 << 24)

typedef char name_t[CV_NET_ONNX_NAME_MAX];

typedef struct qemit
{
	onnx_graph *g;
	int			step;
	int		   *serial;
	cv_error   *err;
} qemit;

static void
aux(qemit *q, const char *what, char *out)
{
	snprintf(out, CV_NET_ONNX_NAME_MAX, "%s_%d", what, (*q->serial)++);
}

static int
node1(qemit *q, const char *op, const char *a, const char *out)
{
	return onnx_node(q->g, op, 1, (const char *[]) {a}, 1, (const char *[]) {out});
}

static int
node2(qemit *q, const char *op, const char *a, const char *b, const char *out)
{
	return onnx_node(q->g, op, 2, (const char *[]) {a, b}, 1, (const char *[]) {out});
}

static void
cast(qemit *q, const char *a, int to, const char *out)
{
	onnx_attr_int(q->g, node1(q, "Cast", a, out), "to", to);
}

static void
scalar_i64(qemit *q, const char *what, int64_t v, char *out)
{
	aux(q, what, out);
	onnx_initializer_int64(q->g, out, 0, NULL, &v);
}

static void
scalar_f32(qemit *q, const char *what, float v, char *out)
{
	aux(q, what, out);
	onnx_initializer_float(q->g, out, 0, NULL, &v);
}

/* Per-channel int64 constant: [1, n, 1, 1] (NCHW), a scalar when all agree. */
static void
channel_i64(qemit *q, const char *what, int n, const int64_t *v, char *out)
{
	bool		same = true;

	for (int i = 1; i < n; i++)
		if (v[i] != v[0])
			same = false;
	aux(q, what, out);
	if (same)
		onnx_initializer_int64(q->g, out, 0, NULL, v);
	else
		onnx_initializer_int64(q->g, out, 4, (const int64_t[]) {1, n, 1, 1}, v);
}

/* Per-channel uint64 constant, as channel_i64. */
static void
channel_u64(qemit *q, const char *what, int n, const uint64_t *v, char *out)
{
	bool		same = true;

	for (int i = 1; i < n; i++)
		if (v[i] != v[0])
			same = false;
	aux(q, what, out);
	if (same)
		onnx_initializer_uint64(q->g, out, 0, NULL, v);
	else
		onnx_initializer_uint64(q->g, out, 4, (const int64_t[]) {1, n, 1, 1}, v);
}

static void
shift_right(qemit *q, const char *x, const char *bits, const char *out)
{
	onnx_attr_string(q->g, node2(q, "BitShift", x, bits, out), "direction", "RIGHT");
}

/*
 * out = nn_mul_by_quantized_multiplier(x, mult[c], shift[c]) + zp[c] for
 * the int64 tensor x of n channels (n = 1: the same for every element),
 * int64.  The floor divisions by powers of two are right shifts of
 * non-negative uint64 values (BitShift takes unsigned types only): the
 * product x m is offset by 2^62, so that (x m + 2^62 + 2^30) >> 31 is the
 * high part plus 2^31; the rounding division by 2^e then shifts that
 * (plus its rounding term) by e, which leaves the result plus 2^(31 - e),
 * taken off with the zero point's addition.
 */
static cv_status
requantize(qemit *q, const char *x, int n, const int32_t *mult, const int32_t *shift,
		   const int32_t *zp, const char *out)
{
	int64_t    *a = cv_malloc(sizeof(int64_t) * 6 * (size_t) n);
	int64_t    *left,
			   *m,
			   *offset_zp;
	uint64_t   *e,
			   *round,
			   *neg_fix;
	bool		any_left = false,
				any_right = false,
				all_right = true,
				any_round = false;
	name_t		cur,
				m_name,
				prod,
				k,
				biased,
				biased_u,
				high,
				k31,
				scaled,
				scaled_i,
				zp_name;

	if (a == NULL)
		return cv_fail(q->err, CV_ERR_NOMEM, "out of memory exporting an integer step");
	left = a;
	m = a + n;
	offset_zp = a + 2 * n;
	e = (uint64_t *) (a + 3 * n);
	round = (uint64_t *) (a + 4 * n);
	neg_fix = (uint64_t *) (a + 5 * n);
	for (int c = 0; c < n; c++)
	{
		int			l = shift[c] > 0 ? shift[c] : 0;
		int			r = shift[c] > 0 ? 0 : -shift[c];

		left[c] = (int64_t) 1 << l;
		m[c] = mult[c];
		e[c] = (uint64_t) r;
		/* x + 2^(e-1) - (x < 0) = (x + 2^31) + (2^(e-1) - 1) + (x >= 0) - 2^31 */
		round[c] = r > 0 ? ((uint64_t) 1 << (r - 1)) - 1 : 0;
		neg_fix[c] = r > 0 ? 1 : 0;
		offset_zp[c] = (int64_t) zp[c] - ((int64_t) 1 << (31 - r));
		any_left |= l > 0;
		any_right |= r > 0;
		all_right &= r > 0;
		any_round |= round[c] != 0;
	}
	snprintf(cur, sizeof(cur), "%s", x);
	if (any_left)
	{
		name_t		l_name,
					k_half,
					k_full,
					v,
					v_biased,
					wrapped;

		/* TFLite shifts left in int32: the product wraps modulo 2^32 */
		channel_i64(q, "left", n, left, l_name);
		scalar_i64(q, "two_31", (int64_t) 1 << 31, k_half);
		scalar_i64(q, "two_32", (int64_t) 1 << 32, k_full);
		aux(q, "shifted", v);
		aux(q, "biased", v_biased);
		aux(q, "wrapped", wrapped);
		node2(q, "Mul", cur, l_name, v);
		node2(q, "Add", v, k_half, v_biased);
		onnx_attr_int(q->g, node2(q, "Mod", v_biased, k_full, wrapped), "fmod", 0);
		aux(q, "int32", cur);
		node2(q, "Sub", wrapped, k_half, cur);
	}
	/* the doubling high multiplication, plus 2^31: (x m + 2^62 + 2^30) >> 31 */
	channel_i64(q, "mult", n, m, m_name);
	aux(q, "prod", prod);
	node2(q, "Mul", cur, m_name, prod);
	scalar_i64(q, "nudge", ((int64_t) 1 << 62) + ((int64_t) 1 << 30), k);
	aux(q, "nudged", biased);
	node2(q, "Add", prod, k, biased);
	aux(q, "nudged_u", biased_u);
	cast(q, biased, TO_UINT64, biased_u);
	{
		uint64_t	v31 = 31;

		aux(q, "thirty_one", k31);
		onnx_initializer_uint64(q->g, k31, 0, NULL, &v31);
	}
	aux(q, "high", high);
	shift_right(q, biased_u, k31, high);
	if (any_right)
	{
		/* rounding division by 2^e, half away from zero, on high + 2^31 */
		name_t		sign,
					sign_fix,
					t,
					t2,
					e_name;

		aux(q, "non_negative", sign);
		shift_right(q, high, k31, sign);	/* 1 when x >= 0 */
		if (!all_right)
		{
			name_t		f_name;

			channel_u64(q, "neg_fix", n, neg_fix, f_name);
			aux(q, "sign_fix", sign_fix);
			node2(q, "Mul", sign, f_name, sign_fix);
		}
		else
			snprintf(sign_fix, sizeof(sign_fix), "%s", sign);
		aux(q, "rounding", t);
		node2(q, "Add", high, sign_fix, t);
		if (any_round)
		{
			name_t		r_name;

			channel_u64(q, "round", n, round, r_name);
			aux(q, "rounding", t2);
			node2(q, "Add", t, r_name, t2);
		}
		else
			snprintf(t2, sizeof(t2), "%s", t);
		channel_u64(q, "exponent", n, e, e_name);
		aux(q, "scaled", scaled);
		shift_right(q, t2, e_name, scaled);
	}
	else
		snprintf(scaled, sizeof(scaled), "%s", high);
	aux(q, "scaled_i", scaled_i);
	cast(q, scaled, TO_INT64, scaled_i);
	channel_i64(q, "offset_zp", n, offset_zp, zp_name);
	node2(q, "Add", scaled_i, zp_name, out);
	cv_free(a);
	return CV_OK;
}

/* out = x clamped to [lo, hi] as uint8 (x int64). */
static void
to_uint8(qemit *q, const char *x, int32_t lo, int32_t hi, const char *out)
{
	name_t		lo_name,
				hi_name,
				clamped;

	scalar_i64(q, "act_min", lo, lo_name);
	scalar_i64(q, "act_max", hi, hi_name);
	aux(q, "clamped", clamped);
	onnx_node(q->g, "Clip", 3, (const char *[]) {x, lo_name, hi_name}, 1,
			  (const char *[]) {clamped});
	cast(q, clamped, TO_UINT8, out);
}

/* Explicit ONNX pads [top, left, bottom, right], as net_onnx.c's window_pads. */
static void
qwindow_attrs(qemit *q, int node, const nn_qconv_params *p, int group)
{
	int			bottom = (p->out_h - 1) * p->stride_h + (p->k_h - 1) * p->dil_h + 1 -
		p->in_h - p->pad_top;
	int			right = (p->out_w - 1) * p->stride_w + (p->k_w - 1) * p->dil_w + 1 -
		p->in_w - p->pad_left;
	int64_t		pads[4] = {p->pad_top, p->pad_left, bottom > 0 ? bottom : 0,
	right > 0 ? right : 0};

	onnx_attr_ints(q->g, node, "kernel_shape", 2, (const int64_t[]) {p->k_h, p->k_w});
	onnx_attr_ints(q->g, node, "strides", 2, (const int64_t[]) {p->stride_h, p->stride_w});
	onnx_attr_ints(q->g, node, "pads", 4, pads);
	onnx_attr_ints(q->g, node, "dilations", 2, (const int64_t[]) {p->dil_h, p->dil_w});
	onnx_attr_int(q->g, node, "group", group);
}

static cv_status
emit_qconv(qemit *q, const nn_step *s, const char *in, const char *out)
{
	const nn_qconv_params *p = &s->qconv;
	bool		dw = s->kind == NN_K_QDEPTHWISE;
	int			per_group = dw ? 1 : p->in_c;
	int			group = dw ? p->in_c : 1;
	size_t		taps = (size_t) p->k_h * p->k_w;
	size_t		per_out = (size_t) per_group * taps;
	size_t		n = (size_t) p->out_c * per_out;
	int32_t		x_range = p->in_zp > 255 - p->in_zp ? p->in_zp : 255 - p->in_zp;
	int32_t    *wd = cv_malloc(sizeof(int32_t) * (n > 0 ? n : 1));
	int64_t		worst = 0,
				max_bias = 0;
	int64_t		w_dims[4] = {p->out_c, per_group, p->k_h, p->k_w};
	name_t		w_name,
				acc,
				summed;
	int			node;
	cv_status	st;

	if (wd == NULL)
		return cv_fail(q->err, CV_ERR_NOMEM, "out of memory exporting a convolution");
	/* w - w_zp in ONNX's [out_c][in_c / group][k_h][k_w] */
	for (int o = 0; o < p->out_c; o++)
		for (size_t t = 0; t < taps; t++)
			for (int c = 0; c < per_group; c++)
			{
				int32_t		w = dw ? p->weights[t * p->out_c + o] :
					p->weights[((size_t) o * taps + t) * p->in_c + c];

				wd[(size_t) o * per_out + (size_t) c * taps + t] = w - p->w_zp;
			}
	for (int o = 0; o < p->out_c; o++)
	{
		int64_t		sum = 0;

		for (size_t k = 0; k < per_out; k++)
			sum += abs(wd[(size_t) o * per_out + k]);
		if (sum > worst)
			worst = sum;
	}
	for (int o = 0; o < p->out_c && p->bias != NULL; o++)
		if (llabs((long long) p->bias[o]) > max_bias)
			max_bias = llabs((long long) p->bias[o]);
	snprintf(w_name, sizeof(w_name), "qw%d", q->step);
	aux(q, "acc", acc);
	if (worst * x_range + max_bias < FLOAT_EXACT_LIMIT)
	{
		/*
		 * Every partial sum, the bias included, is an integer below 2^24 in
		 * magnitude: a float convolution adds them exactly, in whatever
		 * order it likes.  The padding's zeros are x_zp less x_zp.
		 */
		float	   *wf = cv_malloc(sizeof(float) * (n > 0 ? n : 1));
		float	   *bf = cv_malloc(sizeof(float) * (size_t) p->out_c);
		name_t		xf,
					xc,
					zp,
					b_name;

		if (wf == NULL || bf == NULL)
		{
			cv_free(wf);
			cv_free(bf);
			cv_free(wd);
			return cv_fail(q->err, CV_ERR_NOMEM, "out of memory exporting a convolution");
		}
		for (size_t k = 0; k < n; k++)
			wf[k] = (float) wd[k];
		onnx_initializer_float(q->g, w_name, 4, w_dims, wf);
		for (int o = 0; o < p->out_c; o++)
			bf[o] = p->bias != NULL ? (float) p->bias[o] : 0.0f;
		snprintf(b_name, sizeof(b_name), "qb%d", q->step);
		onnx_initializer_float(q->g, b_name, 1, (const int64_t[]) {p->out_c}, bf);
		cv_free(wf);
		cv_free(bf);
		aux(q, "xf", xf);
		aux(q, "centred", xc);
		scalar_f32(q, "in_zp", (float) p->in_zp, zp);
		cast(q, in, TO_FLOAT, xf);
		node2(q, "Sub", xf, zp, xc);
		node = onnx_node(q->g, "Conv", 3, (const char *[]) {xc, w_name, b_name}, 1,
						 (const char *[]) {acc});
		qwindow_attrs(q, node, p, group);
		snprintf(summed, sizeof(summed), "%s", acc);
	}
	else
	{
		/* ConvInteger: uint8 weights w + 128 against w_zp + 128 */
		uint8_t    *wu = cv_malloc(n > 0 ? n : 1);
		uint8_t		x_zp = (uint8_t) p->in_zp,
					w_zp = (uint8_t) (p->w_zp + 128);
		name_t		xz,
					wz;

		if (wu == NULL)
		{
			cv_free(wd);
			return cv_fail(q->err, CV_ERR_NOMEM, "out of memory exporting a convolution");
		}
		for (size_t k = 0; k < n; k++)
			wu[k] = (uint8_t) (wd[k] + p->w_zp + 128);
		onnx_initializer_uint8(q->g, w_name, 4, w_dims, wu);
		cv_free(wu);
		aux(q, "x_zp", xz);
		aux(q, "w_zp", wz);
		onnx_initializer_uint8(q->g, xz, 0, NULL, &x_zp);
		onnx_initializer_uint8(q->g, wz, 0, NULL, &w_zp);
		node = onnx_node(q->g, "ConvInteger", 4, (const char *[]) {in, w_name, xz, wz}, 1,
						 (const char *[]) {acc});
		qwindow_attrs(q, node, p, group);
		if (p->bias != NULL)
		{
			/* int32 as the kernels' accumulator (which starts at the bias) */
			name_t		b_name;

			snprintf(b_name, sizeof(b_name), "qb%d", q->step);
			onnx_initializer_int32(q->g, b_name, 4, (const int64_t[]) {1, p->out_c, 1, 1},
								   p->bias);
			aux(q, "biased", summed);
			node2(q, "Add", acc, b_name, summed);
		}
		else
			snprintf(summed, sizeof(summed), "%s", acc);
	}
	cv_free(wd);
	{
		name_t		acc64,
					scaled;
		int32_t    *zps = cv_malloc(sizeof(int32_t) * (size_t) p->out_c);

		if (zps == NULL)
			return cv_fail(q->err, CV_ERR_NOMEM, "out of memory exporting a convolution");
		for (int o = 0; o < p->out_c; o++)
			zps[o] = p->out_zp;
		aux(q, "acc64", acc64);
		cast(q, summed, TO_INT64, acc64);
		aux(q, "scaled", scaled);
		st = requantize(q, acc64, p->out_c, p->multiplier, p->shift, zps, scaled);
		cv_free(zps);
		if (st != CV_OK)
			return st;
		to_uint8(q, scaled, p->act_min, p->act_max, out);
	}
	return CV_OK;
}

/* One input of QADD: ((x - zp) * 2^left_shift) requantized, int64. */
static cv_status
qadd_input(qemit *q, const char *x, int32_t zp, int left_shift, int32_t mult, int shift,
		   char *out)
{
	name_t		x64,
				zp_name,
				centred,
				k,
				shifted;
	int32_t		sh = shift;

	aux(q, "in64", x64);
	aux(q, "centred", centred);
	aux(q, "shifted", shifted);
	scalar_i64(q, "in_zp", zp, zp_name);
	scalar_i64(q, "left", (int64_t) 1 << left_shift, k);
	cast(q, x, TO_INT64, x64);
	node2(q, "Sub", x64, zp_name, centred);
	node2(q, "Mul", centred, k, shifted);
	aux(q, "rescaled", out);
	return requantize(q, shifted, 1, &mult, &sh, (const int32_t[]) {0}, out);
}

static cv_status
emit_qadd(qemit *q, const nn_step *s, const char *a, const char *b, const char *out)
{
	const nn_qadd_params *p = &s->qadd;
	name_t		ra,
				rb,
				sum,
				scaled;
	int32_t		sh = p->out_shift;
	cv_status	st;

	/* nn_qadd_prepare refuses left shifts; the input shift of 20 never wraps */
	if (p->left_shift < 0 || p->left_shift > 23)
		return cv_fail(q->err, CV_ERR_INTERNAL, "quantized ADD with a left shift of %d",
					   p->left_shift);
	if ((st = qadd_input(q, a, p->a_zp, p->left_shift, p->a_multiplier, p->a_shift, ra)) != CV_OK ||
		(st = qadd_input(q, b, p->b_zp, p->left_shift, p->b_multiplier, p->b_shift, rb)) != CV_OK)
		return st;
	aux(q, "sum", sum);
	node2(q, "Add", ra, rb, sum);
	aux(q, "scaled", scaled);
	if ((st = requantize(q, sum, 1, &p->out_multiplier, &sh, &p->out_zp, scaled)) != CV_OK)
		return st;
	to_uint8(q, scaled, p->act_min, p->act_max, out);
	return CV_OK;
}

static void
emit_qpad(qemit *q, const nn_step *s, const char *in, const char *out)
{
	static const int nchw[4] = {0, 2, 3, 1};	/* NHWC axis -> NCHW axis */
	int64_t		pads[8];
	uint8_t		zp = (uint8_t) s->q_zp;
	name_t		pads_name,
				zp_name;

	for (int d = 0; d < 4; d++)
	{
		pads[nchw[d]] = s->pad_before[d];
		pads[4 + nchw[d]] = s->out_dims[d] - s->a_dims[d] - s->pad_before[d];
	}
	aux(q, "pads", pads_name);
	onnx_initializer_int64(q->g, pads_name, 1, (const int64_t[]) {8}, pads);
	aux(q, "pad_zp", zp_name);
	onnx_initializer_uint8(q->g, zp_name, 0, NULL, &zp);
	onnx_node(q->g, "Pad", 3, (const char *[]) {in, pads_name, zp_name}, 1,
			  (const char *[]) {out});
}

/* nn_quantize_u8: clamp(zp + roundf(x / scale), 0, 255). */
static void
emit_quantize(qemit *q, const nn_step *s, const char *in, const char *out)
{
	name_t		scale,
				lim_lo,
				lim_hi,
				half,
				zp,
				lo,
				hi,
				quot,
				quot_c,
				mag,
				whole,
				frac,
				up,
				up_f,
				rounded,
				sign,
				signed_r,
				shifted,
				clamped;

	scalar_f32(q, "scale", s->q_scale, scale);
	scalar_f32(q, "limit_lo", -512.0f, lim_lo);
	scalar_f32(q, "limit_hi", 512.0f, lim_hi);
	scalar_f32(q, "half", 0.5f, half);
	scalar_f32(q, "zp", (float) s->q_zp, zp);
	scalar_f32(q, "u8_lo", 0.0f, lo);
	scalar_f32(q, "u8_hi", 255.0f, hi);
	aux(q, "quot", quot);
	aux(q, "quot_c", quot_c);
	aux(q, "mag", mag);
	aux(q, "whole", whole);
	aux(q, "frac", frac);
	aux(q, "up", up);
	aux(q, "up_f", up_f);
	aux(q, "rounded", rounded);
	aux(q, "sign", sign);
	aux(q, "signed", signed_r);
	aux(q, "shifted", shifted);
	aux(q, "clamped", clamped);
	node2(q, "Div", in, scale, quot);
	onnx_node(q->g, "Clip", 3, (const char *[]) {quot, lim_lo, lim_hi}, 1,
			  (const char *[]) {quot_c});
	/* |q| - floor(|q|) is exact (Sterbenz), so the tie test is too */
	node1(q, "Abs", quot_c, mag);
	node1(q, "Floor", mag, whole);
	node2(q, "Sub", mag, whole, frac);
	node2(q, "GreaterOrEqual", frac, half, up);
	cast(q, up, TO_FLOAT, up_f);
	node2(q, "Add", whole, up_f, rounded);
	node1(q, "Sign", quot_c, sign);
	node2(q, "Mul", rounded, sign, signed_r);
	node2(q, "Add", signed_r, zp, shifted);
	onnx_node(q->g, "Clip", 3, (const char *[]) {shifted, lo, hi}, 1,
			  (const char *[]) {clamped});
	cast(q, clamped, TO_UINT8, out);
}

/* nn_dequantize_u8: (float) (q - zp) * scale. */
static void
emit_dequantize(qemit *q, const nn_step *s, const char *in, const char *out)
{
	name_t		xf,
				zp,
				centred,
				scale;

	aux(q, "xf", xf);
	aux(q, "centred", centred);
	scalar_f32(q, "zp", (float) s->q_zp, zp);
	scalar_f32(q, "scale", s->q_scale, scale);
	cast(q, in, TO_FLOAT, xf);
	node2(q, "Sub", xf, zp, centred);
	node2(q, "Mul", centred, scale, out);
}

cv_status
nn_onnx_emit_integer_step(onnx_graph *g, const cv_net *net, int step,
						  const char *const *in, const char *out, int *serial,
						  cv_error *err)
{
	const nn_step *s = &net->steps[step];
	qemit		q = {g, step, serial, err};

	switch (s->kind)
	{
		case NN_K_QCONV:
		case NN_K_QDEPTHWISE:
			return emit_qconv(&q, s, in[0], out);
		case NN_K_QADD:
			return emit_qadd(&q, s, in[0], in[1], out);
		case NN_K_QPAD:
			emit_qpad(&q, s, in[0], out);
			return CV_OK;
		case NN_K_QUANTIZE:
			emit_quantize(&q, s, in[0], out);
			return CV_OK;
		case NN_K_DEQUANTIZE:
			emit_dequantize(&q, s, in[0], out);
			return CV_OK;
		default:
			return cv_fail(err, CV_ERR_INTERNAL, "step %d is not an integer step", step);
	}
}

void
nn_onnx_emit_quantized_input(onnx_graph *g, const char *pixels, const char *out)
{
	char		bytes[CV_NET_ONNX_NAME_MAX];
	int			node;

	/* the pixels are integers 0..255: the cast is exact */
	snprintf(bytes, sizeof(bytes), "%s_u8", pixels);
	node = onnx_node(g, "Cast", 1, (const char *[]) {pixels}, 1, (const char *[]) {bytes});
	onnx_attr_int(g, node, "to", TO_UINT8);
	node = onnx_node(g, "Transpose", 1, (const char *[]) {bytes}, 1, (const char *[]) {out});
	onnx_attr_ints(g, node, "perm", 4, (const int64_t[]) {0, 3, 1, 2});
}
