/*
 * net_onnx.c
 *	  The steps of a loaded network as ONNX operators (nn_onnx.h).
 *
 * One ONNX node (or a short fixed sequence) per step, in the order the
 * executor runs them, so that the exported graph computes what graph.c
 * computes:
 *	 CONV, DEPTHWISE	 Conv (depthwise: group = input channels, TFLite's
 *						 channel order c * multiplier + m is ONNX's);
 *						 TFLite's SAME padding puts the odd pixel at the
 *						 bottom / right, written as explicit pads
 *	 FC					 a 1x1 Conv on the input flattened in NHWC order
 *	 ADD, MUL			 Add, Mul (constants transposed to NCHW)
 *	 AVG / MAX pool		 AveragePool (count_include_pad 0: TFLite averages
 *						 over the taps inside the image) / MaxPool
 *	 MEAN				 ReduceMean, keepdims
 *	 PAD				 Pad with zeros
 *	 RESHAPE etc.		 nothing when the dims stay, else NHWC Reshape
 *	 CONCATENATION		 Concat
 *	 SOFTMAX			 Softmax over the channels (after Mul by beta)
 *	 LOGISTIC, HARD_SWISH, RELU*  Sigmoid, HardSwish, Clip
 * followed by a Clip wherever the step clamps (act_min / act_max).  Opset
 * 17 operators (HardSwish needs 14; ReduceMean still takes axes as an
 * attribute).  A net loaded for the int8 engine also has integer steps,
 * on uint8 tensors (a quantized input is its pixels cast to uint8): those
 * are written by net_onnx_int8.c, exactly as the integer kernels compute.
 */
#include "nn_internal.h"
#include "nn_onnx.h"
#include "nn_onnx_int8.h"

#include <float.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

typedef struct emit_state
{
	const cv_net *net;
	onnx_graph *g;
	bool	   *const_done;		/* per value: its initializer is written */
	bool	   *computed;		/* per value: its ONNX tensor exists */
	int		   *source;			/* per value: whose ONNX tensor it is */
	int			serial;			/* for the names of auxiliary tensors */
	cv_error   *err;
} emit_state;

typedef char name_t[CV_NET_ONNX_NAME_MAX];

static void
value_name(int v, char *out)
{
	snprintf(out, CV_NET_ONNX_NAME_MAX, "t%d", v);
}

static void
aux_name(emit_state *es, const char *what, char *out)
{
	snprintf(out, CV_NET_ONNX_NAME_MAX, "%s_%d", what, es->serial++);
}

/* NHWC dims (padded to 4) as the NCHW dims of the ONNX tensor. */
static void
nchw_dims(const int d[4], int64_t out[4])
{
	out[0] = d[0];
	out[1] = d[3];
	out[2] = d[1];
	out[3] = d[2];
}

/* NHWC axis 0..3 as the NCHW axis. */
static int64_t
nchw_axis(int d)
{
	static const int64_t map[4] = {0, 2, 3, 1};

	return map[d];
}

static void
scalar_float(emit_state *es, const char *what, float value, char *out)
{
	aux_name(es, what, out);
	onnx_initializer_float(es->g, out, 0, NULL, &value);
}

static void
ints_const(emit_state *es, const char *what, int n, const int64_t *values, char *out)
{
	int64_t		dims[1] = {n};

	aux_name(es, what, out);
	onnx_initializer_int64(es->g, out, 1, dims, values);
}

/* A constant value as an NCHW initializer named c<v>, written once. */
static cv_status
constant_name(emit_state *es, int v, char *out)
{
	const nn_value *val = &es->net->values[v];
	const int  *d = val->dims;
	int64_t		dims[4];
	float	   *data;

	snprintf(out, CV_NET_ONNX_NAME_MAX, "c%d", v);
	if (es->const_done[v])
		return CV_OK;
	data = cv_malloc(sizeof(float) * (val->count > 0 ? val->count : 1));
	if (data == NULL)
		return cv_fail(es->err, CV_ERR_NOMEM, "out of memory exporting a constant");
	for (int n = 0; n < d[0]; n++)
		for (int h = 0; h < d[1]; h++)
			for (int w = 0; w < d[2]; w++)
				for (int c = 0; c < d[3]; c++)
					data[(((size_t) n * d[3] + c) * d[1] + h) * d[2] + w] =
						val->cdata[(((size_t) n * d[1] + h) * d[2] + w) * d[3] + c];
	nchw_dims(d, dims);
	onnx_initializer_float(es->g, out, 4, dims, data);
	cv_free(data);
	es->const_done[v] = true;
	return CV_OK;
}

/* The ONNX tensor holding value v (an operand of a step). */
static cv_status
operand_name(emit_state *es, int v, char *out)
{
	if (v < 0 || v >= es->net->nvalues)
		return cv_fail(es->err, CV_ERR_INTERNAL, "operand %d out of range", v);
	if (es->net->values[v].cdata != NULL)
		return constant_name(es, v, out);
	if (!es->computed[v])
		return cv_fail(es->err, CV_ERR_INTERNAL, "tensor %d is read before it is computed", v);
	value_name(es->source[v], out);
	return CV_OK;
}

static bool
has_clamp(float lo, float hi)
{
	return !(isinf(lo) && lo < 0.0f && isinf(hi) && hi > 0.0f);
}

/*
 * Where a step's operator writes: the output value's own name, or a
 * temporary that finish_output clamps into it.
 */
static void
op_output(emit_state *es, int v, float lo, float hi, char *out)
{
	if (has_clamp(lo, hi))
		aux_name(es, "pre", out);
	else
		value_name(v, out);
}

static void
finish_output(emit_state *es, int v, const char *written, float lo, float hi)
{
	name_t		final;

	value_name(v, final);
	if (has_clamp(lo, hi))
	{
		if (lo == 0.0f && isinf(hi) && hi > 0.0f)
			onnx_node(es->g, "Relu", 1, (const char *[]) {written}, 1,
					  (const char *[]) {final});
		else
		{
			name_t		lo_name,
						hi_name;

			scalar_float(es, "lo", isinf(lo) ? -FLT_MAX : lo, lo_name);
			scalar_float(es, "hi", isinf(hi) ? FLT_MAX : hi, hi_name);
			onnx_node(es->g, "Clip", 3, (const char *[]) {written, lo_name, hi_name},
					  1, (const char *[]) {final});
		}
	}
	es->computed[v] = true;
	es->source[v] = v;
}

static bool
same_dims(const int a[4], const int b[4])
{
	return memcmp(a, b, sizeof(int) * 4) == 0;
}

/* NHWC and NCHW order the elements alike when h * w or c is 1. */
static bool
layout_neutral(const int d[4])
{
	return d[1] * d[2] == 1 || d[3] == 1;
}

/*
 * out = the tensor in, whose NHWC dims are from, reshaped to the NHWC dims
 * to without reordering its NHWC elements (TFLite's RESHAPE), both NCHW.
 */
static void
reshape_nhwc(emit_state *es, const char *in, const int from[4], const int to[4],
			 const char *out)
{
	int64_t		shape[4];
	name_t		shape_name;

	if (layout_neutral(from) && layout_neutral(to))
	{
		nchw_dims(to, shape);
		if (from[0] == 1 && to[0] == 1)
			shape[0] = -1;		/* keep the batch: a graph may run several images */
		ints_const(es, "shape", 4, shape, shape_name);
		onnx_node(es->g, "Reshape", 2, (const char *[]) {in, shape_name}, 1,
				  (const char *[]) {out});
	}
	else
	{
		static const int64_t to_nhwc[4] = {0, 2, 3, 1};
		static const int64_t to_nchw[4] = {0, 3, 1, 2};
		name_t		a,
					b;
		int			node;

		aux_name(es, "nhwc", a);
		node = onnx_node(es->g, "Transpose", 1, (const char *[]) {in}, 1,
						 (const char *[]) {a});
		onnx_attr_ints(es->g, node, "perm", 4, to_nhwc);
		for (int d = 0; d < 4; d++)
			shape[d] = to[d];
		if (from[0] == 1 && to[0] == 1)
			shape[0] = -1;		/* keep the batch */
		ints_const(es, "shape", 4, shape, shape_name);
		aux_name(es, "reshaped", b);
		onnx_node(es->g, "Reshape", 2, (const char *[]) {a, shape_name}, 1,
				  (const char *[]) {b});
		node = onnx_node(es->g, "Transpose", 1, (const char *[]) {b}, 1,
						 (const char *[]) {out});
		onnx_attr_ints(es->g, node, "perm", 4, to_nchw);
	}
}

/* Explicit ONNX pads [top, left, bottom, right] of a window operator. */
static void
window_pads(const nn_conv_params *p, int64_t pads[4])
{
	int			bottom = (p->out_h - 1) * p->stride_h + (p->k_h - 1) * p->dil_h + 1 -
		p->in_h - p->pad_top;
	int			right = (p->out_w - 1) * p->stride_w + (p->k_w - 1) * p->dil_w + 1 -
		p->in_w - p->pad_left;

	pads[0] = p->pad_top;
	pads[1] = p->pad_left;
	pads[2] = bottom > 0 ? bottom : 0;
	pads[3] = right > 0 ? right : 0;
}

static void
window_attrs(emit_state *es, int node, const nn_conv_params *p, bool dilations)
{
	int64_t		kernel[2] = {p->k_h, p->k_w};
	int64_t		strides[2] = {p->stride_h, p->stride_w};
	int64_t		dil[2] = {p->dil_h, p->dil_w};
	int64_t		pads[4];

	window_pads(p, pads);
	onnx_attr_ints(es->g, node, "kernel_shape", 2, kernel);
	onnx_attr_ints(es->g, node, "strides", 2, strides);
	onnx_attr_ints(es->g, node, "pads", 4, pads);
	if (dilations)
		onnx_attr_ints(es->g, node, "dilations", 2, dil);
}

/* A Conv node: weights already [out_c][in_c / group][k_h][k_w]. */
static cv_status
emit_conv_node(emit_state *es, int step, const char *in, const float *weights,
			   int in_per_group, const float *bias, const nn_conv_params *p,
			   int group, const char *out)
{
	name_t		w_name,
				b_name;
	int64_t		w_dims[4] = {p->out_c, in_per_group, p->k_h, p->k_w};
	int64_t		b_dims[1] = {p->out_c};
	int			node;

	snprintf(w_name, sizeof(w_name), "w%d", step);
	onnx_initializer_float(es->g, w_name, 4, w_dims, weights);
	if (bias != NULL)
	{
		snprintf(b_name, sizeof(b_name), "b%d", step);
		onnx_initializer_float(es->g, b_name, 1, b_dims, bias);
	}
	node = onnx_node(es->g, "Conv", bias != NULL ? 3 : 2,
					 (const char *[]) {in, w_name, b_name}, 1, (const char *[]) {out});
	window_attrs(es, node, p, true);
	onnx_attr_int(es->g, node, "group", group);
	return CV_OK;
}

static cv_status
emit_conv(emit_state *es, int step, const nn_step *s, const char *in, const char *out)
{
	const nn_conv_params *p = &s->conv;
	size_t		taps = (size_t) p->k_h * p->k_w;
	size_t		n = (size_t) p->out_c * p->in_c * taps;
	float	   *w = cv_malloc(sizeof(float) * n);
	cv_status	st;

	if (w == NULL)
		return cv_fail(es->err, CV_ERR_NOMEM, "out of memory exporting a convolution");
	/* [out_c][k_h][k_w][in_c] to [out_c][in_c][k_h][k_w] */
	for (int o = 0; o < p->out_c; o++)
		for (size_t t = 0; t < taps; t++)
			for (int c = 0; c < p->in_c; c++)
				w[((size_t) o * p->in_c + c) * taps + t] =
					p->weights[((size_t) o * taps + t) * p->in_c + c];
	st = emit_conv_node(es, step, in, w, p->in_c, p->bias, p, 1, out);
	cv_free(w);
	return st;
}

static cv_status
emit_depthwise(emit_state *es, int step, const nn_step *s, const char *in, const char *out)
{
	const nn_conv_params *p = &s->conv;
	size_t		taps = (size_t) p->k_h * p->k_w;
	float	   *w = cv_malloc(sizeof(float) * (size_t) p->out_c * taps);
	cv_status	st;

	if (w == NULL)
		return cv_fail(es->err, CV_ERR_NOMEM, "out of memory exporting a convolution");
	/* [k_h][k_w][out_c] to [out_c][1][k_h][k_w] */
	for (int o = 0; o < p->out_c; o++)
		for (size_t t = 0; t < taps; t++)
			w[(size_t) o * taps + t] = p->weights[t * p->out_c + o];
	st = emit_conv_node(es, step, in, w, 1, p->bias, p, p->in_c, out);
	cv_free(w);
	return st;
}

/* FULLY_CONNECTED on one row: a 1x1 Conv on the input as [1, k, 1, 1]. */
static cv_status
emit_fc(emit_state *es, int step, const nn_step *s, const char *in, const char *out)
{
	const nn_value *iv = &es->net->values[s->inputs[0]];
	const nn_value *ov = &es->net->values[s->output];
	int			flat[4] = {1, 1, 1, s->fc_k};
	int			row[4] = {1, 1, 1, s->fc_n};
	nn_conv_params p;
	name_t		x,
				y;

	if (s->fc_rows != 1)
		return cv_fail(es->err, CV_ERR_UNSUPPORTED,
					   "exporting FULLY_CONNECTED on %d rows is not supported", s->fc_rows);
	if (!same_dims(iv->dims, flat))
	{
		aux_name(es, "flat", x);
		reshape_nhwc(es, in, iv->dims, flat, x);
	}
	else
		snprintf(x, sizeof(x), "%s", in);
	memset(&p, 0, sizeof(p));
	p.in_h = p.in_w = p.out_h = p.out_w = 1;
	p.k_h = p.k_w = p.stride_h = p.stride_w = p.dil_h = p.dil_w = 1;
	p.in_c = s->fc_k;
	p.out_c = s->fc_n;
	if (same_dims(ov->dims, row))
		return emit_conv_node(es, step, x, s->fc_weights, s->fc_k, s->fc_bias, &p, 1, out);
	aux_name(es, "fc", y);
	emit_conv_node(es, step, x, s->fc_weights, s->fc_k, s->fc_bias, &p, 1, y);
	reshape_nhwc(es, y, row, ov->dims, out);
	return CV_OK;
}

static cv_status
emit_step(emit_state *es, int i)
{
	const cv_net *net = es->net;
	const nn_step *s = &net->steps[i];
	const nn_value *ov = &net->values[s->output];
	float		lo = -INFINITY,
				hi = INFINITY;
	name_t		in,
				out;
	cv_status	st;
	int			node;

	if (s->ninputs > 0 && (st = operand_name(es, s->inputs[0], in)) != CV_OK)
		return st;
	switch (s->kind)
	{
		case NN_K_CONV:
		case NN_K_DEPTHWISE:
		case NN_K_AVG_POOL:
		case NN_K_MAX_POOL:
			lo = s->conv.act_min;
			hi = s->conv.act_max;
			break;
		case NN_K_FC:
		case NN_K_BINARY:
		case NN_K_CONCAT:
			lo = s->act_min;
			hi = s->act_max;
			break;
		default:
			break;
	}
	op_output(es, s->output, lo, hi, out);

	switch (s->kind)
	{
		case NN_K_CONV:
			if ((st = emit_conv(es, i, s, in, out)) != CV_OK)
				return st;
			break;
		case NN_K_DEPTHWISE:
			if ((st = emit_depthwise(es, i, s, in, out)) != CV_OK)
				return st;
			break;
		case NN_K_FC:
			if ((st = emit_fc(es, i, s, in, out)) != CV_OK)
				return st;
			break;
		case NN_K_BINARY:
			{
				name_t		b;

				if ((st = operand_name(es, s->inputs[1], b)) != CV_OK)
					return st;
				onnx_node(es->g, s->binop == NN_BIN_ADD ? "Add" : "Mul", 2,
						  (const char *[]) {in, b}, 1, (const char *[]) {out});
				break;
			}
		case NN_K_AVG_POOL:
		case NN_K_MAX_POOL:
			node = onnx_node(es->g, s->kind == NN_K_AVG_POOL ? "AveragePool" : "MaxPool",
							 1, (const char *[]) {in}, 1, (const char *[]) {out});
			window_attrs(es, node, &s->conv, false);
			if (s->kind == NN_K_AVG_POOL)
				onnx_attr_int(es->g, node, "count_include_pad", 0);
			break;
		case NN_K_MEAN:
			{
				int64_t		axes[4];
				int			n_axes = 0;
				int			kept[4];

				for (int d = 0; d < 4; d++)
				{
					kept[d] = s->reduce[d] ? 1 : s->a_dims[d];
					if (s->reduce[d])
						axes[n_axes++] = nchw_axis(d);
				}
				if (n_axes == 0)
				{
					onnx_node(es->g, "Identity", 1, (const char *[]) {in}, 1,
							  (const char *[]) {out});
					break;
				}
				if (same_dims(kept, ov->dims))
				{
					node = onnx_node(es->g, "ReduceMean", 1, (const char *[]) {in}, 1,
									 (const char *[]) {out});
					onnx_attr_ints(es->g, node, "axes", n_axes, axes);
					onnx_attr_int(es->g, node, "keepdims", 1);
				}
				else
				{
					name_t		m;

					aux_name(es, "mean", m);
					node = onnx_node(es->g, "ReduceMean", 1, (const char *[]) {in}, 1,
									 (const char *[]) {m});
					onnx_attr_ints(es->g, node, "axes", n_axes, axes);
					onnx_attr_int(es->g, node, "keepdims", 1);
					reshape_nhwc(es, m, kept, ov->dims, out);
				}
				break;
			}
		case NN_K_PAD:
			{
				int64_t		pads[8];
				name_t		pads_name;

				for (int d = 0; d < 4; d++)
				{
					int			a = (int) nchw_axis(d);

					pads[a] = s->pad_before[d];
					pads[4 + a] = s->out_dims[d] - s->a_dims[d] - s->pad_before[d];
				}
				ints_const(es, "pads", 8, pads, pads_name);
				onnx_node(es->g, "Pad", 2, (const char *[]) {in, pads_name}, 1,
						  (const char *[]) {out});
				break;
			}
		case NN_K_ALIAS:
			{
				const nn_value *iv = &net->values[s->inputs[0]];

				if (iv->cdata != NULL)
					return CV_OK;	/* a constant: its readers take ov->cdata */
				if (same_dims(iv->dims, ov->dims))
				{
					/* no node: the output is the input's tensor */
					es->computed[s->output] = true;
					es->source[s->output] = es->source[s->inputs[0]];
					return CV_OK;
				}
				reshape_nhwc(es, in, iv->dims, ov->dims, out);
				break;
			}
		case NN_K_CONCAT:
			{
				const nn_value *first = &net->values[s->inputs[0]];
				int			axis = -1;
				const char **ins;
				name_t	   *names;

				for (int d = 0; d < 4; d++)
					if (first->dims[d] != ov->dims[d])
						axis = d;
				if (axis < 0)
				{
					if (s->ninputs != 1)
						return cv_fail(es->err, CV_ERR_UNSUPPORTED,
									   "exporting a CONCATENATION of empty tensors is not supported");
					onnx_node(es->g, "Identity", 1, (const char *[]) {in}, 1,
							  (const char *[]) {out});
					break;
				}
				ins = cv_malloc(sizeof(char *) * s->ninputs);
				names = cv_malloc(sizeof(name_t) * s->ninputs);
				if (ins == NULL || names == NULL)
				{
					cv_free(ins);
					cv_free(names);
					return cv_fail(es->err, CV_ERR_NOMEM, "out of memory exporting a concatenation");
				}
				st = CV_OK;
				for (int k = 0; k < s->ninputs && st == CV_OK; k++)
				{
					st = operand_name(es, s->inputs[k], names[k]);
					ins[k] = names[k];
				}
				if (st == CV_OK)
				{
					node = onnx_node(es->g, "Concat", s->ninputs, ins, 1,
									 (const char *[]) {out});
					onnx_attr_int(es->g, node, "axis", nchw_axis(axis));
				}
				cv_free(ins);
				cv_free(names);
				if (st != CV_OK)
					return st;
				break;
			}
		case NN_K_SOFTMAX:
			{
				name_t		x;

				snprintf(x, sizeof(x), "%s", in);
				if (s->beta != 1.0f)
				{
					name_t		beta;

					scalar_float(es, "beta", s->beta, beta);
					aux_name(es, "scaled", x);
					onnx_node(es->g, "Mul", 2, (const char *[]) {in, beta}, 1,
							  (const char *[]) {x});
				}
				node = onnx_node(es->g, "Softmax", 1, (const char *[]) {x}, 1,
								 (const char *[]) {out});
				onnx_attr_int(es->g, node, "axis", 1);
				break;
			}
		case NN_K_UNARY:
			switch (s->unop)
			{
				case NN_UN_CLAMP:
					/* the clamp is the operator: a Clip straight from the input */
					if (has_clamp(s->act_min, s->act_max))
						finish_output(es, s->output, in, s->act_min, s->act_max);
					else
					{
						onnx_node(es->g, "Identity", 1, (const char *[]) {in}, 1,
								  (const char *[]) {out});
						finish_output(es, s->output, out, lo, hi);
					}
					return CV_OK;
				case NN_UN_LOGISTIC:
					onnx_node(es->g, "Sigmoid", 1, (const char *[]) {in}, 1,
							  (const char *[]) {out});
					break;
				case NN_UN_HARD_SWISH:
					onnx_node(es->g, "HardSwish", 1, (const char *[]) {in}, 1,
							  (const char *[]) {out});
					break;
				case NN_UN_COPY:
					onnx_node(es->g, "Identity", 1, (const char *[]) {in}, 1,
							  (const char *[]) {out});
					break;
			}
			break;
		case NN_K_QCONV:
		case NN_K_QDEPTHWISE:
		case NN_K_QADD:
		case NN_K_QPAD:
		case NN_K_QUANTIZE:
		case NN_K_DEQUANTIZE:
			{
				/* the int8 engine's arithmetic: net_onnx_int8.c */
				name_t		b;
				const char *ins[2] = {in, b};

				b[0] = '\0';
				if (s->kind == NN_K_QADD &&
					(st = operand_name(es, s->inputs[1], b)) != CV_OK)
					return st;
				if ((st = nn_onnx_emit_integer_step(es->g, net, i, ins, out, &es->serial,
													es->err)) != CV_OK)
					return st;
				break;
			}
	}
	finish_output(es, s->output, out, lo, hi);
	return CV_OK;
}

/* Pixels 0..255 NHWC to the normalised NCHW input of the first step. */
static void
emit_input(emit_state *es, const char *pixels)
{
	const cv_net *net = es->net;
	static const int64_t to_nchw[4] = {0, 3, 1, 2};
	name_t		zp,
				scale,
				centred,
				scaled,
				final;
	int			node;

	if (net->values[net->input_value].quantized)
	{
		/* the int8 engine reads a quantized input's bytes as they are */
		value_name(net->input_value, final);
		nn_onnx_emit_quantized_input(es->g, pixels, final);
		es->computed[net->input_value] = true;
		es->source[net->input_value] = net->input_value;
		return;
	}
	scalar_float(es, "zero_point", (float) net->info.input_zero_point, zp);
	scalar_float(es, "scale", net->info.input_scale, scale);
	aux_name(es, "centred", centred);
	aux_name(es, "scaled", scaled);
	value_name(net->input_value, final);
	onnx_node(es->g, "Sub", 2, (const char *[]) {pixels, zp}, 1, (const char *[]) {centred});
	onnx_node(es->g, "Mul", 2, (const char *[]) {centred, scale}, 1, (const char *[]) {scaled});
	node = onnx_node(es->g, "Transpose", 1, (const char *[]) {scaled}, 1,
					 (const char *[]) {final});
	onnx_attr_ints(es->g, node, "perm", 4, to_nchw);
	es->computed[net->input_value] = true;
	es->source[net->input_value] = net->input_value;
}

/*
 * The value holding requested tensor v as float: v itself, or for a tensor
 * the int8 engine holds as uint8, the dequantized copy qbuild.c made of it
 * for the outputs (one per value).
 */
static int
float_value(const cv_net *net, int v)
{
	if (!net->values[v].quantized)
		return v;
	for (int i = 0; i < net->nsteps; i++)
		if (net->steps[i].kind == NN_K_DEQUANTIZE && net->steps[i].inputs[0] == v)
			return net->steps[i].output;
	return -1;
}

cv_status
cv_net_emit_onnx(const cv_net *net, onnx_graph *g, const char *pixels_nhwc,
				 int n_tensors, const int *tensors, char (*names)[CV_NET_ONNX_NAME_MAX],
				 cv_error *err)
{
	emit_state	es;
	cv_status	st = CV_OK;

	if (net == NULL || g == NULL || pixels_nhwc == NULL || n_tensors < 0 ||
		(n_tensors > 0 && (tensors == NULL || names == NULL)))
		return cv_fail(err, CV_ERR_PARAM, "invalid arguments to the network export");
	if (!net->layouts_only)
		return cv_fail(err, CV_ERR_PARAM,
					   "a network is exported only when loaded with keep_layouts");
	memset(&es, 0, sizeof(es));
	es.net = net;
	es.g = g;
	es.err = err;
	es.const_done = cv_calloc((size_t) net->nvalues, sizeof(bool));
	es.computed = cv_calloc((size_t) net->nvalues, sizeof(bool));
	es.source = cv_calloc((size_t) net->nvalues, sizeof(int));
	if (es.const_done == NULL || es.computed == NULL || es.source == NULL)
	{
		st = cv_fail(err, CV_ERR_NOMEM, "out of memory exporting a network");
		goto done;
	}
	emit_input(&es, pixels_nhwc);
	for (int i = 0; i < net->nsteps && st == CV_OK; i++)
		st = emit_step(&es, i);
	for (int k = 0; k < n_tensors && st == CV_OK; k++)
	{
		int			v = tensors[k];

		if (v >= 0 && v < net->nvalues)
			v = float_value(net, v);
		if (v < 0 || v >= net->nvalues || !es.computed[v])
			st = cv_fail(err, CV_ERR_PARAM, "tensor %d is not computed by this network", v);
		else
			value_name(es.source[v], names[k]);
	}
done:
	cv_free(es.const_done);
	cv_free(es.computed);
	cv_free(es.source);
	return st;
}
