/*
 * net_onnx_int8.c
 *	  The int8 engine's steps (nn_qkernels.h, qbuild.c) as standard ONNX
 *	  operators that compute the same integers (nn_onnx_int8.h).
 *
 * Why not QLinearConv and QuantizeLinear: ONNX's quantized operators
 * rescale with a float multiplier and round half to even, TFLite's with a
 * 31-bit fixed-point multiplier and its own roundings, so their bytes
 * differ now and then, and every difference moves the answer.  Here each
 * step is spelled out in operators whose results the ONNX specification
 * fixes exactly (integer Add, Mul, Mod, Less, Where, Clip, Cast; integer
 * Div only on exact multiples, so its rounding never matters):
 *
 *	 QCONV, QDEPTHWISE	 the accumulator sum (x - x_zp)(w - w_zp), either
 *						 as a float Conv on x - x_zp and w - w_zp when the
 *						 step's weights bound every partial sum below 2^24
 *						 (integers that float32 holds exactly, whatever the
 *						 order of the additions: always so for 3x3
 *						 depthwise filters, and onnxruntime's float
 *						 convolutions are its fastest), or else ConvInteger
 *						 (uint8 x uint8, the CPU provider's only types:
 *						 int8 weights w are stored as w + 128 with zero
 *						 point w_zp + 128, the same differences; padded
 *						 taps read x_zp, as in the kernels); then + bias,
 *						 requantize, + out_zp, Clip, Cast to uint8
 *	 QADD				 TFLite's quantized ADD: both inputs less their
 *						 zero points times 2^20, each requantized, summed,
 *						 requantized, + out_zp, Clip, Cast
 *	 QPAD				 Pad with the zero point (uint8)
 *	 QUANTIZE			 zp + round half away from zero of x / scale
 *						 (TFLite's roundf, which QuantizeLinear's half to
 *						 even is not): floor(|q|) + (frac >= 0.5), signed
 *	 DEQUANTIZE			 (float (q) - zp) * scale, as nn_dequantize_u8
 *
 * Requantization, nn_mul_by_quantized_multiplier (TFLite's
 * MultiplyByQuantizedMultiplier, common.h), in int64 tensors, per output
 * channel ([1, C, 1, 1] constants, scalars when all channels agree):
 *	 left shift			 x * 2^left wrapped to int32 (TFLite shifts in
 *						 int32), only when some channel shifts left;
 *	 SaturatingRoundingDoublingHighMul(x, m) = floor((x m + 2^30) / 2^31):
 *						 TFLite's sign-dependent nudge and truncating
 *						 division round x m / 2^31 half up, for either
 *						 sign (x m + 2^30 for x m >= 0; for x m < 0,
 *						 trunc((x m + 1 - 2^30) / 2^31) is the same floor);
 *						 m < 2^31, so the one saturating case never occurs;
 *	 RoundingDivideByPOT(x, e) = floor((x + 2^(e-1) - (x < 0)) / 2^e) for
 *						 e >= 1 (round half away from zero), x for e = 0;
 * a floor division being (y - Mod(y, d)) / d with Mod's fmod = 0 (the
 * remainder takes the divisor's sign: 0 <= Mod < d).
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

/* out = floor(x / d) for d > 0: the Div divides an exact multiple. */
static void
floor_div(qemit *q, const char *x, const char *d, const char *out)
{
	name_t		rem,
				down;

	aux(q, "rem", rem);
	aux(q, "down", down);
	onnx_attr_int(q->g, node2(q, "Mod", x, d, rem), "fmod", 0);
	node2(q, "Sub", x, rem, down);
	node2(q, "Div", down, d, out);
}

/* out = x + zp clamped to [lo, hi] as uint8 (x int64). */
static void
to_uint8(qemit *q, const char *x, int32_t zp, int32_t lo, int32_t hi, const char *out)
{
	name_t		zp_name,
				lo_name,
				hi_name,
				shifted,
				clamped;

	scalar_i64(q, "out_zp", zp, zp_name);
	scalar_i64(q, "act_min", lo, lo_name);
	scalar_i64(q, "act_max", hi, hi_name);
	aux(q, "zp_added", shifted);
	aux(q, "clamped", clamped);
	node2(q, "Add", x, zp_name, shifted);
	onnx_node(q->g, "Clip", 3, (const char *[]) {shifted, lo_name, hi_name}, 1,
			  (const char *[]) {clamped});
	cast(q, clamped, TO_UINT8, out);
}

/*
 * out = nn_mul_by_quantized_multiplier(x, mult[c], shift[c]) for the int64
 * tensor x of n channels (n = 1: the same for every element).
 */
static cv_status
requantize(qemit *q, const char *x, int n, const int32_t *mult, const int32_t *shift,
		   const char *out)
{
	int64_t    *a = cv_malloc(sizeof(int64_t) * 5 * (size_t) n);
	int64_t    *left,
			   *m,
			   *pot,
			   *half,
			   *half_neg;
	bool		any_left = false,
				any_right = false;
	name_t		cur,
				m_name,
				high_in,
				high,
				k31;

	if (a == NULL)
		return cv_fail(q->err, CV_ERR_NOMEM, "out of memory exporting an integer step");
	left = a;
	m = a + n;
	pot = a + 2 * n;
	half = a + 3 * n;
	half_neg = a + 4 * n;
	for (int c = 0; c < n; c++)
	{
		int			l = shift[c] > 0 ? shift[c] : 0;
		int			r = shift[c] > 0 ? 0 : -shift[c];

		left[c] = (int64_t) 1 << l;
		m[c] = mult[c];
		pot[c] = (int64_t) 1 << r;
		half[c] = r > 0 ? (int64_t) 1 << (r - 1) : 0;
		half_neg[c] = r > 0 ? half[c] - 1 : 0;
		any_left |= l > 0;
		any_right |= r > 0;
	}
	snprintf(cur, sizeof(cur), "%s", x);
	if (any_left)
	{
		name_t		l_name,
					k_half,
					k_full,
					v,
					biased,
					wrapped;

		/* TFLite shifts left in int32: the product wraps modulo 2^32 */
		channel_i64(q, "left", n, left, l_name);
		scalar_i64(q, "two_31", (int64_t) 1 << 31, k_half);
		scalar_i64(q, "two_32", (int64_t) 1 << 32, k_full);
		aux(q, "shifted", v);
		aux(q, "biased", biased);
		aux(q, "wrapped", wrapped);
		node2(q, "Mul", cur, l_name, v);
		node2(q, "Add", v, k_half, biased);
		onnx_attr_int(q->g, node2(q, "Mod", biased, k_full, wrapped), "fmod", 0);
		aux(q, "int32", cur);
		node2(q, "Sub", wrapped, k_half, cur);
	}
	/* the doubling high multiplication: floor((x m + 2^30) / 2^31) */
	channel_i64(q, "mult", n, m, m_name);
	{
		name_t		prod,
					k30;

		aux(q, "prod", prod);
		node2(q, "Mul", cur, m_name, prod);
		scalar_i64(q, "two_30", (int64_t) 1 << 30, k30);
		aux(q, "nudged", high_in);
		node2(q, "Add", prod, k30, high_in);
	}
	scalar_i64(q, "two_31", (int64_t) 1 << 31, k31);
	if (!any_right)
	{
		floor_div(q, high_in, k31, out);
		cv_free(a);
		return CV_OK;
	}
	aux(q, "high", high);
	floor_div(q, high_in, k31, high);
	/* rounding division by 2^e: half away from zero */
	{
		name_t		zero,
					neg,
					h_name,
					hn_name,
					nudge,
					t,
					p_name;

		scalar_i64(q, "zero", 0, zero);
		channel_i64(q, "half", n, half, h_name);
		channel_i64(q, "half_neg", n, half_neg, hn_name);
		channel_i64(q, "pot", n, pot, p_name);
		aux(q, "negative", neg);
		aux(q, "round", nudge);
		aux(q, "rounded", t);
		node2(q, "Less", high, zero, neg);
		onnx_node(q->g, "Where", 3, (const char *[]) {neg, hn_name, h_name}, 1,
				  (const char *[]) {nudge});
		node2(q, "Add", high, nudge, t);
		floor_div(q, t, p_name, out);
	}
	cv_free(a);
	return CV_OK;
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
	int64_t		worst = 0;
	int64_t		w_dims[4] = {p->out_c, per_group, p->k_h, p->k_w};
	name_t		w_name,
				acc,
				acc64,
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
	snprintf(w_name, sizeof(w_name), "qw%d", q->step);
	aux(q, "acc", acc);
	if (worst * x_range < FLOAT_EXACT_LIMIT)
	{
		/*
		 * Every partial sum is an integer below 2^24 in magnitude: a float
		 * convolution adds them exactly, in whatever order it likes.  The
		 * padding's zeros are x_zp less x_zp.
		 */
		float	   *wf = cv_malloc(sizeof(float) * (n > 0 ? n : 1));
		name_t		xf,
					xc,
					zp;

		if (wf == NULL)
		{
			cv_free(wd);
			return cv_fail(q->err, CV_ERR_NOMEM, "out of memory exporting a convolution");
		}
		for (size_t k = 0; k < n; k++)
			wf[k] = (float) wd[k];
		onnx_initializer_float(q->g, w_name, 4, w_dims, wf);
		cv_free(wf);
		aux(q, "xf", xf);
		aux(q, "centred", xc);
		scalar_f32(q, "in_zp", (float) p->in_zp, zp);
		cast(q, in, TO_FLOAT, xf);
		node2(q, "Sub", xf, zp, xc);
		node = node2(q, "Conv", xc, w_name, acc);
		qwindow_attrs(q, node, p, group);
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
	}
	cv_free(wd);
	aux(q, "acc64", acc64);
	cast(q, acc, TO_INT64, acc64);
	if (p->bias != NULL)
	{
		int64_t    *b = cv_malloc(sizeof(int64_t) * (size_t) p->out_c);
		name_t		b_name;

		if (b == NULL)
			return cv_fail(q->err, CV_ERR_NOMEM, "out of memory exporting a convolution");
		for (int o = 0; o < p->out_c; o++)
			b[o] = p->bias[o];
		channel_i64(q, "qb", p->out_c, b, b_name);
		cv_free(b);
		aux(q, "biased", summed);
		node2(q, "Add", acc64, b_name, summed);
	}
	else
		snprintf(summed, sizeof(summed), "%s", acc64);
	{
		name_t		scaled;

		aux(q, "scaled", scaled);
		if ((st = requantize(q, summed, p->out_c, p->multiplier, p->shift, scaled)) != CV_OK)
			return st;
		to_uint8(q, scaled, p->out_zp, p->act_min, p->act_max, out);
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
	return requantize(q, shifted, 1, &mult, &sh, out);
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
	if ((st = requantize(q, sum, 1, &p->out_multiplier, &sh, scaled)) != CV_OK)
		return st;
	to_uint8(q, scaled, p->out_zp, p->act_min, p->act_max, out);
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
