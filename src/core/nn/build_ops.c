/*
 * build_ops.c
 *	  One TFLite operator at a time into an executor step (nn_internal.h):
 *	  the operator's validation, its output shape, its kernel's parameters
 *	  and the clamps of its result, for the graph build (build.c).
 *
 * Apart from build.c because it is a different job: build.c decides which
 * operators to build and in what storage, and walks the graph; this file
 * knows what each operator means and reads only that operator, its
 * tensors and its options.
 *
 * Each operator's output shape is computed from its inputs and options and
 * compared with the shape the file declares: the kernels then run on shapes
 * we derived ourselves, so a lying file is an error here rather than an
 * out-of-bounds access later.  The declared shapes are checked only when the
 * net runs at the file's own input size, and only where the file stores one
 * (MobileNet-EdgeTPU stores none for most activations); otherwise the
 * computed shape is taken.  Operators must come in execution order (the
 * schema's rule for SubGraph.operators): reading a tensor before any
 * operator produced it is an error.
 */
#include "build_internal.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

static cv_status
op_fail(build_state *b, cv_status code, const char *what)
{
	const tfl_op *op = &b->m->ops[b->op];

	return cv_fail(b->err, code, "tflite operator %d (%s): %s", b->op,
				   tfl_op_name(op->code), what);
}

static void
act_range(int act, float *lo, float *hi)
{
	*lo = -INFINITY;
	*hi = INFINITY;
	if (act == TFL_ACT_RELU)
		*lo = 0.0f;
	else if (act == TFL_ACT_RELU6)
	{
		*lo = 0.0f;
		*hi = 6.0f;
	}
	else if (act == TFL_ACT_RELU_N1_TO_1)
	{
		*lo = -1.0f;
		*hi = 1.0f;
	}
}

/*
 * The real values a quantized (uint8 or int8, per-tensor) tensor can hold:
 * [scale * (qmin - zero_point), scale * (qmax - zero_point)].  TFLite's
 * integer kernels clamp every result to its output's range, and some files
 * rely on it: the SSD MobileNet V1's convolutions have no fused RELU6, their
 * uint8 output range (scale 6/255, zero point 0) is the clamp.  A float
 * executor must apply it too.  Unbounded for other tensors.
 */
static void
quant_range(const build_state *b, int t, float *lo, float *hi)
{
	const tfl_tensor *tt = &b->m->tensors[t];
	float		scale;
	int64_t		zp = 0,
				qmin,
				qmax;

	*lo = -INFINITY;
	*hi = INFINITY;
	if (tt->nquant != 1 || (tt->type != TFL_UINT8 && tt->type != TFL_INT8))
		return;
	scale = fb_vector_f32(&tt->scale, 0);
	if (tt->zero_point.count)
		zp = fb_vector_i64(&tt->zero_point, 0);
	if (!isfinite(scale) || scale <= 0.0f)
		return;
	qmin = tt->type == TFL_UINT8 ? 0 : -128;
	qmax = tt->type == TFL_UINT8 ? 255 : 127;
	*lo = (float) ((double) scale * (double) (qmin - zp));
	*hi = (float) ((double) scale * (double) (qmax - zp));
}

/* Narrow an activation clamp to the output's quantized range. */
static void
clamp_to_output(const build_state *b, int t, float *act_min, float *act_max)
{
	float		lo,
				hi;

	quant_range(b, t, &lo, &hi);
	if (lo > *act_min)
		*act_min = lo;
	if (hi < *act_max)
		*act_max = hi;
}

/* A value the kernels can address: rank <= 4, defined by now. */
static cv_status
operand(build_state *b, int t, bool allow_const, nn_value **out)
{
	nn_value   *v;
	char		msg[96];

	if (t < 0)
		return op_fail(b, CV_ERR_CORRUPT, "a required input is missing");
	v = &b->net->values[t];
	if (v->rank > 4)
	{
		snprintf(msg, sizeof(msg), "tensor %d has rank %d, at most 4 is supported", t, v->rank);
		return op_fail(b, CV_ERR_UNSUPPORTED, msg);
	}
	if (v->cdata != NULL)
	{
		if (!allow_const)
			return op_fail(b, CV_ERR_UNSUPPORTED, "a constant where an activation is expected");
	}
	else if (b->m->tensors[t].data != NULL)
		return op_fail(b, CV_ERR_UNSUPPORTED, "an integer constant where data is expected");
	else if (!b->defined[t])
	{
		snprintf(msg, sizeof(msg), "reads tensor %d before it is computed", t);
		return op_fail(b, CV_ERR_CORRUPT, msg);
	}
	*out = v;
	return CV_OK;
}

/* A constant weight tensor (dequantized). */
static cv_status
weight(build_state *b, int t, nn_value **out)
{
	if (t < 0 || b->net->values[t].cdata == NULL)
		return op_fail(b, CV_ERR_UNSUPPORTED, "weights must be constant");
	return operand(b, t, true, out);
}

/*
 * Whether tensor t has a shape the file vouches for: one is stored (an empty
 * shape means unknown in the files that omit them) and the net runs at the
 * file's input size.
 */
static bool
declared(const build_state *b, int t)
{
	return b->check_shapes && b->m->tensors[t].rank > 0;
}

/* Give value t a computed shape (rank <= 4, padded to 4 with leading 1s). */
static cv_status
set_shape(build_state *b, int t, int rank, const int dims[4])
{
	nn_value   *v = &b->net->values[t];
	size_t		count = 1;

	for (int d = 0; d < 4; d++)
	{
		if (dims[d] < 1)
			return op_fail(b, CV_ERR_CORRUPT, "computes an empty output");
		count *= (size_t) dims[d];
		if (count > TFL_MAX_ELEMENTS)
			return op_fail(b, CV_ERR_LIMIT, "the output is too large at this input size");
	}
	v->rank = rank;
	memcpy(v->dims, dims, sizeof(v->dims));
	v->count = count;
	return CV_OK;
}

/* Check the declared output shape against the computed one (rank-4 padded). */
static cv_status
check_output(build_state *b, int t, int rank, const int dims[4])
{
	nn_value   *v = &b->net->values[t];
	char		msg[160];

	if (v->rank > 4)
		return op_fail(b, CV_ERR_UNSUPPORTED, "output rank above 4");
	for (int d = 0; d < 4; d++)
		if (v->dims[d] != dims[d] || (rank >= 0 && v->rank != rank))
		{
			snprintf(msg, sizeof(msg),
					 "output shape %dx%dx%dx%d (rank %d) differs from the computed %dx%dx%dx%d",
					 v->dims[0], v->dims[1], v->dims[2], v->dims[3], v->rank,
					 dims[0], dims[1], dims[2], dims[3]);
			return op_fail(b, CV_ERR_CORRUPT, msg);
		}
	return CV_OK;
}

/*
 * The output shape of an operator that computes all of it: checked against
 * the declared shape where there is one (rank too, unless rank_free), taken
 * as is otherwise.
 */
static cv_status
set_output(build_state *b, int t, int rank, const int dims[4], bool rank_free)
{
	if (declared(b, t))
		return check_output(b, t, rank_free ? -1 : rank, dims);
	return set_shape(b, t, rank, dims);
}

/* Output size and leading padding of one spatial dimension (TFLite rules). */
static cv_status
window(build_state *b, int padding, int in, int k, int stride, int dil,
	   int *out, int *pad_before)
{
	int64_t		eff = (int64_t) (k - 1) * dil + 1;
	int64_t		o,
				total;

	if (stride < 1 || dil < 1 || k < 1 || stride > 65536 || dil > 65536)
		return op_fail(b, CV_ERR_CORRUPT, "bad stride, dilation or window size");
	if (padding == TFL_PAD_SAME)
		o = (in + stride - 1) / stride;
	else if (padding == TFL_PAD_VALID)
	{
		if (eff > in)
			return op_fail(b, CV_ERR_CORRUPT, "the window is larger than the input");
		o = (in - eff) / stride + 1;
	}
	else
		return op_fail(b, CV_ERR_CORRUPT, "unknown padding");
	/* SAME: the odd extra row/column goes at the bottom/right */
	total = (o - 1) * stride + eff - in;
	*pad_before = padding == TFL_PAD_SAME && total > 0 ? (int) (total / 2) : 0;
	*out = (int) o;
	return CV_OK;
}

static cv_status
build_window_op(build_state *b, nn_step *s, const tfl_op *op)
{
	nn_value   *in,
			   *w = NULL,
			   *bias = NULL;
	nn_conv_params *p = &s->conv;
	const tfl_options *o = &op->opt;
	int			kh,
				kw,
				oc,
				dims[4];
	cv_status	st;

	if ((st = operand(b, op->inputs[0], false, &in)) != CV_OK)
		return st;
	if (in->rank != 4 || in->dims[0] != 1)
		return op_fail(b, CV_ERR_UNSUPPORTED, "the input must be 1xHxWxC");
	p->in_h = in->dims[1];
	p->in_w = in->dims[2];
	p->in_c = in->dims[3];
	p->dil_h = o->dilation_h;
	p->dil_w = o->dilation_w;
	p->stride_h = o->stride_h;
	p->stride_w = o->stride_w;
	p->depth_multiplier = 1;
	act_range(o->activation, &p->act_min, &p->act_max);

	if (s->kind == NN_K_CONV || s->kind == NN_K_DEPTHWISE)
	{
		if (op->ninputs < 2 || (st = weight(b, op->inputs[1], &w)) != CV_OK)
			return st != CV_OK ? st : op_fail(b, CV_ERR_CORRUPT, "missing weights");
		if (op->ninputs >= 3 && op->inputs[2] >= 0 &&
			(st = weight(b, op->inputs[2], &bias)) != CV_OK)
			return st;
		if (w->rank != 4)
			return op_fail(b, CV_ERR_CORRUPT, "weights must have rank 4");
		kh = w->dims[1];
		kw = w->dims[2];
		if (s->kind == NN_K_CONV)
		{
			oc = w->dims[0];
			if (w->dims[3] != p->in_c)
				return op_fail(b, CV_ERR_UNSUPPORTED,
							   "weights depth differs from the input channels (grouped convolution)");
		}
		else
		{
			oc = w->dims[3];
			if (w->dims[0] != 1 || oc % p->in_c != 0)
				return op_fail(b, CV_ERR_CORRUPT,
							   "depthwise weights must be 1xKHxKWx(C*multiplier)");
			p->depth_multiplier = oc / p->in_c;
		}
		if (bias != NULL && bias->count != (size_t) oc)
			return op_fail(b, CV_ERR_CORRUPT, "bias size differs from the output channels");
		p->weights = w->cdata;
		p->bias = bias ? bias->cdata : NULL;
	}
	else
	{
		/* pooling */
		p->dil_h = p->dil_w = 1;
		kh = o->filter_h;
		kw = o->filter_w;
		oc = p->in_c;
	}
	p->k_h = kh;
	p->k_w = kw;
	p->out_c = oc;
	if ((st = window(b, o->padding, p->in_h, kh, p->stride_h, p->dil_h,
					 &p->out_h, &p->pad_top)) != CV_OK ||
		(st = window(b, o->padding, p->in_w, kw, p->stride_w, p->dil_w,
					 &p->out_w, &p->pad_left)) != CV_OK)
		return st;
	dims[0] = 1;
	dims[1] = p->out_h;
	dims[2] = p->out_w;
	dims[3] = oc;
	if ((st = set_output(b, op->outputs[0], 4, dims, false)) != CV_OK)
		return st;
	if (s->kind == NN_K_CONV)
		s->macs = (double) p->out_h * p->out_w * oc * kh * kw * p->in_c;
	else if (s->kind == NN_K_DEPTHWISE)
		s->macs = (double) p->out_h * p->out_w * oc * kh * kw;
	snprintf(s->detail, sizeof(s->detail), "%dx%d/%d%s %dx%dx%d -> %dx%dx%d",
			 kh, kw, p->stride_h, p->dil_h > 1 ? " dilated" : "",
			 p->in_h, p->in_w, p->in_c, p->out_h, p->out_w, oc);
	return CV_OK;
}

static cv_status
build_fc(build_state *b, nn_step *s, const tfl_op *op)
{
	nn_value   *in,
			   *w,
			   *bias = NULL,
			   *out = &b->net->values[op->outputs[0]];
	cv_status	st;

	if (op->opt.weights_format != 0)
		return op_fail(b, CV_ERR_UNSUPPORTED, "shuffled weights are not supported");
	if (op->ninputs < 2)
		return op_fail(b, CV_ERR_CORRUPT, "missing weights");
	if ((st = operand(b, op->inputs[0], false, &in)) != CV_OK ||
		(st = weight(b, op->inputs[1], &w)) != CV_OK)
		return st;
	if (op->ninputs >= 3 && op->inputs[2] >= 0 &&
		(st = weight(b, op->inputs[2], &bias)) != CV_OK)
		return st;
	if (w->rank != 2)
		return op_fail(b, CV_ERR_CORRUPT, "weights must have rank 2");
	s->fc_n = w->dims[2];
	s->fc_k = w->dims[3];
	if (in->count % (size_t) s->fc_k != 0)
		return op_fail(b, CV_ERR_CORRUPT, "input size is not a multiple of the weights depth");
	s->fc_rows = (int) (in->count / (size_t) s->fc_k);
	if (bias != NULL && bias->count != (size_t) s->fc_n)
		return op_fail(b, CV_ERR_CORRUPT, "bias size differs from the output size");
	if (declared(b, op->outputs[0]))
	{
		if (out->rank > 4 || out->count != (size_t) s->fc_rows * s->fc_n ||
			out->dims[3] != s->fc_n)
			return op_fail(b, CV_ERR_CORRUPT, "output shape differs from the computed one");
	}
	else
	{
		int			dims[4] = {1, 1, s->fc_rows, s->fc_n},
					rank = 2;

		if (op->opt.fc_keep_num_dims)
		{
			if (in->dims[3] != s->fc_k)
				return op_fail(b, CV_ERR_CORRUPT, "keep_num_dims with an input depth other than the weights'");
			memcpy(dims, in->dims, sizeof(dims));
			dims[3] = s->fc_n;
			rank = in->rank;
		}
		if ((st = set_shape(b, op->outputs[0], rank, dims)) != CV_OK)
			return st;
	}
	s->fc_weights = w->cdata;
	s->fc_bias = bias ? bias->cdata : NULL;
	act_range(op->opt.activation, &s->act_min, &s->act_max);
	s->macs = (double) s->fc_rows * s->fc_k * s->fc_n;
	snprintf(s->detail, sizeof(s->detail), "%d -> %d", s->fc_k, s->fc_n);
	return CV_OK;
}

static cv_status
build_binary(build_state *b, nn_step *s, const tfl_op *op)
{
	nn_value   *a,
			   *c;
	cv_status	st;

	if (op->ninputs != 2)
		return op_fail(b, CV_ERR_CORRUPT, "expects two inputs");
	if ((st = operand(b, op->inputs[0], true, &a)) != CV_OK ||
		(st = operand(b, op->inputs[1], true, &c)) != CV_OK)
		return st;
	for (int d = 0; d < 4; d++)
	{
		int			x = a->dims[d],
					y = c->dims[d];

		if (x != y && x != 1 && y != 1)
			return op_fail(b, CV_ERR_CORRUPT, "input shapes do not broadcast");
		s->a_dims[d] = x;
		s->b_dims[d] = y;
		s->out_dims[d] = x > y ? x : y;
	}
	if ((st = set_output(b, op->outputs[0], a->rank > c->rank ? a->rank : c->rank,
						 s->out_dims, true)) != CV_OK)
		return st;
	s->binop = op->code == TFL_OP_ADD ? NN_BIN_ADD : NN_BIN_MUL;
	act_range(op->opt.activation, &s->act_min, &s->act_max);
	snprintf(s->detail, sizeof(s->detail), "%dx%dx%d", s->out_dims[1], s->out_dims[2],
			 s->out_dims[3]);
	return CV_OK;
}

static cv_status
build_mean(build_state *b, nn_step *s, const tfl_op *op)
{
	nn_value   *in;
	int64_t		axes[8];
	size_t		kept = 1;
	int			t;
	cv_status	st;

	if (op->ninputs != 2 || op->inputs[1] < 0)
		return op_fail(b, CV_ERR_CORRUPT, "expects an input and axes");
	if ((st = operand(b, op->inputs[0], false, &in)) != CV_OK)
		return st;
	t = op->inputs[1];
	if ((st = nn_const_ints(&b->m->tensors[t], t, axes, 8, b->err)) != CV_OK)
		return st;
	memset(s->reduce, 0, sizeof(s->reduce));
	for (size_t i = 0; i < b->m->tensors[t].count; i++)
	{
		int64_t		ax = axes[i] < 0 ? axes[i] + in->rank : axes[i];

		if (ax < 0 || ax >= in->rank)
			return op_fail(b, CV_ERR_CORRUPT, "axis out of range");
		s->reduce[ax + 4 - in->rank] = true;
	}
	for (int d = 0; d < 4; d++)
	{
		s->a_dims[d] = in->dims[d];
		if (!s->reduce[d])
			kept *= (size_t) in->dims[d];
	}
	if (declared(b, op->outputs[0]))
	{
		if (b->net->values[op->outputs[0]].count != kept)
			return op_fail(b, CV_ERR_CORRUPT, "output size differs from the computed one");
	}
	else
	{
		/* keep_dims leaves the reduced axes as 1s, otherwise they go */
		int			dims[4] = {1, 1, 1, 1},
					rank = 0;

		for (int d = 4 - in->rank; d < 4; d++)
			if (!s->reduce[d] || op->opt.keep_dims)
				rank++;
		for (int d = 3, at = 3; d >= 4 - in->rank; d--)
			if (!s->reduce[d])
				dims[at--] = in->dims[d];
			else if (op->opt.keep_dims)
				at--;
		if ((st = set_shape(b, op->outputs[0], rank, dims)) != CV_OK)
			return st;
	}
	snprintf(s->detail, sizeof(s->detail), "%dx%dx%d -> %zu", in->dims[1], in->dims[2],
			 in->dims[3], kept);
	return CV_OK;
}

static cv_status
build_pad(build_state *b, nn_step *s, const tfl_op *op)
{
	nn_value   *in;
	int64_t		pads[8];
	int			t;
	cv_status	st;

	if (op->ninputs != 2 || op->inputs[1] < 0)
		return op_fail(b, CV_ERR_CORRUPT, "expects an input and paddings");
	if ((st = operand(b, op->inputs[0], false, &in)) != CV_OK)
		return st;
	t = op->inputs[1];
	if ((st = nn_const_ints(&b->m->tensors[t], t, pads, 8, b->err)) != CV_OK)
		return st;
	if (b->m->tensors[t].count != (size_t) in->rank * 2)
		return op_fail(b, CV_ERR_CORRUPT, "paddings must be rank x 2");
	for (int d = 0; d < 4; d++)
	{
		int64_t		before = 0,
					after = 0,
					n;
		int			src = d - (4 - in->rank);

		if (src >= 0)
		{
			before = pads[2 * src];
			after = pads[2 * src + 1];
		}
		if (before < 0 || after < 0 || before > 65536 || after > 65536)
			return op_fail(b, CV_ERR_UNSUPPORTED, "negative or huge paddings");
		n = in->dims[d] + before + after;
		s->a_dims[d] = in->dims[d];
		s->pad_before[d] = (int) before;
		s->out_dims[d] = (int) n;
	}
	snprintf(s->detail, sizeof(s->detail), "%dx%dx%d -> %dx%dx%d", in->dims[1], in->dims[2],
			 in->dims[3], s->out_dims[1], s->out_dims[2], s->out_dims[3]);
	return set_output(b, op->outputs[0], in->rank, s->out_dims, false);
}

static cv_status
build_concat(build_state *b, nn_step *s, const tfl_op *op, size_t *sizes)
{
	nn_value   *first;
	int			axis = op->opt.axis,
				ax4,
				dims[4];
	int64_t		total = 0;
	size_t		inner = 1;
	cv_status	st;

	/* the output's shape follows from the inputs: the first one but the axis */
	if (op->ninputs < 1)
		return op_fail(b, CV_ERR_CORRUPT, "no inputs");
	if ((st = operand(b, op->inputs[0], true, &first)) != CV_OK)
		return st;
	if (axis < 0)
		axis += first->rank;
	if (axis < 0 || axis >= first->rank)
		return op_fail(b, CV_ERR_CORRUPT, "axis out of range");
	ax4 = axis + 4 - first->rank;
	for (int d = ax4 + 1; d < 4; d++)
		inner *= (size_t) first->dims[d];
	s->outer = 1;
	for (int d = 0; d < ax4; d++)
		s->outer *= (size_t) first->dims[d];
	for (int i = 0; i < op->ninputs; i++)
	{
		nn_value   *in;

		if ((st = operand(b, op->inputs[i], true, &in)) != CV_OK)
			return st;
		if (in->rank != first->rank)
			return op_fail(b, CV_ERR_CORRUPT, "inputs differ in rank");
		for (int d = 0; d < 4; d++)
			if (d != ax4 && in->dims[d] != first->dims[d])
				return op_fail(b, CV_ERR_CORRUPT, "inputs differ outside the axis");
		total += in->dims[ax4];
		if (total > INT32_MAX)
			return op_fail(b, CV_ERR_LIMIT, "the output is too large");
		sizes[i] = (size_t) in->dims[ax4] * inner;
	}
	memcpy(dims, first->dims, sizeof(dims));
	dims[ax4] = (int) total;
	if ((st = set_output(b, op->outputs[0], first->rank, dims, false)) != CV_OK)
		return st;
	s->concat_sizes = sizes;
	act_range(op->opt.activation, &s->act_min, &s->act_max);
	snprintf(s->detail, sizeof(s->detail), "%d inputs, axis %d", op->ninputs, axis);
	return CV_OK;
}

/*
 * The target of a RESHAPE whose output shape the file does not vouch for:
 * its shape input, else ReshapeOptions.new_shape, else the output tensor's
 * stored shape (a fixed shape, which a new input size may not fit).  One -1
 * takes what is left of the input.
 */
static cv_status
reshape_target(build_state *b, const tfl_op *op, const nn_value *in, int *rank,
			   int dims[4])
{
	const tfl_tensor *ot = &b->m->tensors[op->outputs[0]];
	int64_t		shape[TFL_MAX_RANK];
	int			n,
				wild = -1;
	size_t		known = 1;
	char		msg[128];
	cv_status	st;

	if (op->ninputs >= 2 && op->inputs[1] >= 0 && b->m->tensors[op->inputs[1]].data != NULL)
	{
		int			t = op->inputs[1];

		if ((st = nn_const_ints(&b->m->tensors[t], t, shape, TFL_MAX_RANK, b->err)) != CV_OK)
			return st;
		n = (int) b->m->tensors[t].count;
	}
	else if (op->opt.nnew_shape >= 0)
	{
		n = op->opt.nnew_shape;
		for (int d = 0; d < n; d++)
			shape[d] = op->opt.new_shape[d];
	}
	else if (ot->rank > 0)
	{
		n = ot->rank;
		for (int d = 0; d < n; d++)
			shape[d] = ot->dims[d];
	}
	else
		return op_fail(b, CV_ERR_CORRUPT, "no target shape");
	for (int d = 0; d < n; d++)
	{
		if (shape[d] == -1 && wild < 0)
			wild = d;
		else if (shape[d] < 1 || shape[d] > (int64_t) TFL_MAX_ELEMENTS)
			return op_fail(b, CV_ERR_CORRUPT, "bad target shape");
		else
			known *= (size_t) shape[d];
		if (known > TFL_MAX_ELEMENTS)
			return op_fail(b, CV_ERR_CORRUPT, "bad target shape");
	}
	if (wild >= 0 && in->count % known == 0)
		shape[wild] = (int64_t) (in->count / known);
	else if (wild >= 0 || known != in->count)
	{
		snprintf(msg, sizeof(msg), "cannot reshape %zu values to a fixed shape of %zu%s",
				 in->count, known, b->check_shapes ? "" : " at this input size");
		return op_fail(b, b->check_shapes ? CV_ERR_CORRUPT : CV_ERR_UNSUPPORTED, msg);
	}
	/* leading 1s carry nothing: drop them to stay within rank 4 */
	while (n > 4 && shape[0] == 1)
	{
		memmove(shape, shape + 1, (size_t) (n - 1) * sizeof(int64_t));
		n--;
	}
	if (n > 4)
		return op_fail(b, CV_ERR_UNSUPPORTED, "output rank above 4");
	*rank = n;
	for (int d = 0; d < 4; d++)
		dims[d] = d < 4 - n ? 1 : (int) shape[d - (4 - n)];
	return CV_OK;
}

/* SQUEEZE: the listed size-1 dimensions go, or all of them if none listed. */
static cv_status
squeeze_target(build_state *b, const tfl_op *op, const nn_value *in, int *rank,
			   int dims[4])
{
	bool		drop[4] = {false, false, false, false};
	int			n = 0;

	for (int i = 0; i < op->opt.nsqueeze; i++)
	{
		int			d = op->opt.squeeze_dims[i];

		if (d < 0)
			d += in->rank;
		if (d < 0 || d >= in->rank || in->dims[d + 4 - in->rank] != 1)
			return op_fail(b, CV_ERR_CORRUPT, "squeezes a dimension that is not 1");
		drop[d + 4 - in->rank] = true;
	}
	for (int d = 0; d < 4; d++)
		dims[d] = 1;
	for (int d = 3, at = 3; d >= 4 - in->rank; d--)
	{
		if (op->opt.nsqueeze == 0 ? in->dims[d] == 1 : drop[d])
			continue;
		dims[at--] = in->dims[d];
		n++;
	}
	*rank = n;
	return CV_OK;
}

/*
 * Same element count in and out (unary ops, softmax, aliases).  Where the
 * file vouches for the output shape it must hold as many values as the
 * input; otherwise the shape is computed: the input's, or the target of a
 * RESHAPE or SQUEEZE.
 */
static cv_status
build_same_size(build_state *b, const tfl_op *op, nn_value **in)
{
	int			out = op->outputs[0],
				rank = 0,
				dims[4];
	cv_status	st;

	if (op->ninputs < 1)
		return op_fail(b, CV_ERR_CORRUPT, "no input");
	if ((st = operand(b, op->inputs[0], op->code == TFL_OP_DEQUANTIZE ||
						op->code == TFL_OP_RESHAPE || op->code == TFL_OP_SQUEEZE, in)) != CV_OK)
		return st;
	if (declared(b, out))
	{
		if ((*in)->count != b->net->values[out].count)
			return op_fail(b, CV_ERR_CORRUPT, "output size differs from the input size");
		return CV_OK;
	}
	if (op->code == TFL_OP_RESHAPE)
		st = reshape_target(b, op, *in, &rank, dims);
	else if (op->code == TFL_OP_SQUEEZE)
		st = squeeze_target(b, op, *in, &rank, dims);
	else
	{
		rank = (*in)->rank;
		memcpy(dims, (*in)->dims, sizeof(dims));
	}
	if (st != CV_OK)
		return st;
	return set_shape(b, out, rank, dims);
}

static cv_status
build_step(build_state *b, nn_step *s, const tfl_op *op, size_t *concat_sizes)
{
	nn_value   *in;
	cv_status	st;
	char		msg[96];

	s->code = op->code;
	s->output = op->outputs[0];
	s->act_min = -INFINITY;
	s->act_max = INFINITY;
	switch (op->code)
	{
		case TFL_OP_CONV_2D:
			s->kind = NN_K_CONV;
			return build_window_op(b, s, op);
		case TFL_OP_DEPTHWISE_CONV_2D:
			s->kind = NN_K_DEPTHWISE;
			return build_window_op(b, s, op);
		case TFL_OP_AVERAGE_POOL_2D:
			s->kind = NN_K_AVG_POOL;
			return build_window_op(b, s, op);
		case TFL_OP_MAX_POOL_2D:
			s->kind = NN_K_MAX_POOL;
			return build_window_op(b, s, op);
		case TFL_OP_FULLY_CONNECTED:
			s->kind = NN_K_FC;
			return build_fc(b, s, op);
		case TFL_OP_ADD:
		case TFL_OP_MUL:
			s->kind = NN_K_BINARY;
			return build_binary(b, s, op);
		case TFL_OP_MEAN:
			s->kind = NN_K_MEAN;
			return build_mean(b, s, op);
		case TFL_OP_PAD:
			s->kind = NN_K_PAD;
			return build_pad(b, s, op);
		case TFL_OP_CONCATENATION:
			s->kind = NN_K_CONCAT;
			return build_concat(b, s, op, concat_sizes);
		case TFL_OP_RESHAPE:
		case TFL_OP_SQUEEZE:
		case TFL_OP_QUANTIZE:
		case TFL_OP_DEQUANTIZE:
			s->kind = NN_K_ALIAS;
			if ((st = build_same_size(b, op, &in)) != CV_OK)
				return st;
			snprintf(s->detail, sizeof(s->detail), "identity on float data");
			return CV_OK;
		case TFL_OP_SOFTMAX:
			s->kind = NN_K_SOFTMAX;
			if ((st = build_same_size(b, op, &in)) != CV_OK)
				return st;
			s->inner = (size_t) in->dims[3];
			s->rows = in->count / s->inner;
			s->beta = op->opt.beta;
			if (!isfinite(s->beta))
				return op_fail(b, CV_ERR_CORRUPT, "non-finite beta");
			snprintf(s->detail, sizeof(s->detail), "%zu", s->inner);
			return CV_OK;
		case TFL_OP_LOGISTIC:
		case TFL_OP_RELU:
		case TFL_OP_RELU6:
		case TFL_OP_HARD_SWISH:
			s->kind = NN_K_UNARY;
			if ((st = build_same_size(b, op, &in)) != CV_OK)
				return st;
			s->unop = op->code == TFL_OP_LOGISTIC ? NN_UN_LOGISTIC :
				op->code == TFL_OP_HARD_SWISH ? NN_UN_HARD_SWISH : NN_UN_CLAMP;
			s->act_min = 0.0f;
			s->act_max = op->code == TFL_OP_RELU6 ? 6.0f : INFINITY;
			snprintf(s->detail, sizeof(s->detail), "%zu", in->count);
			return CV_OK;
		default:
			snprintf(msg, sizeof(msg), "TFLite operator %s (%d) is not supported",
					 tfl_op_name(op->code), op->code);
			return cv_fail(b->err, CV_ERR_UNSUPPORTED, "%s", msg);
	}
}

/* Operators build_step knows: anything else ends a prefix_only build. */
bool
nn_build_known_op(int code)
{
	switch (code)
	{
		case TFL_OP_CONV_2D:
		case TFL_OP_DEPTHWISE_CONV_2D:
		case TFL_OP_AVERAGE_POOL_2D:
		case TFL_OP_MAX_POOL_2D:
		case TFL_OP_FULLY_CONNECTED:
		case TFL_OP_ADD:
		case TFL_OP_MUL:
		case TFL_OP_MEAN:
		case TFL_OP_PAD:
		case TFL_OP_CONCATENATION:
		case TFL_OP_RESHAPE:
		case TFL_OP_SQUEEZE:
		case TFL_OP_QUANTIZE:
		case TFL_OP_DEQUANTIZE:
		case TFL_OP_SOFTMAX:
		case TFL_OP_LOGISTIC:
		case TFL_OP_RELU:
		case TFL_OP_RELU6:
		case TFL_OP_HARD_SWISH:
			return true;
		default:
			return false;
	}
}

/*
 * Whether the float engine clamps this operator's result to its output's
 * quantized range (clamp_to_output): the operators whose kernels clamp
 * anyway.  Not SOFTMAX or LOGISTIC: a uint8 probability tops out at
 * 255/256, a rounding of the integer runtime we do not copy.  The TFLite
 * export (src/core/export) writes the same clamps into its float network.
 */
bool
nn_op_clamps_to_output(int tfl_code)
{
	switch (tfl_code)
	{
		case TFL_OP_CONV_2D:
		case TFL_OP_DEPTHWISE_CONV_2D:
		case TFL_OP_AVERAGE_POOL_2D:
		case TFL_OP_MAX_POOL_2D:
		case TFL_OP_FULLY_CONNECTED:
		case TFL_OP_ADD:
		case TFL_OP_MUL:
		case TFL_OP_CONCATENATION:
			return true;
		default:
			return false;
	}
}

/* Build operator i into step s (its inputs recorded by the caller). */
cv_status
nn_build_op(build_state *b, int i, nn_step *s, size_t *concat_sizes)
{
	const tfl_op *op = &b->m->ops[i];
	int			out;
	cv_status	st;

	b->op = i;
	if (op->bad != CV_OK)
		return tfl_op_error(b->m, i, b->err);
	if (op->noutputs != 1)
	{
		/* name unsupported operators before complaining about arity */
		if ((st = build_step(b, s, op, concat_sizes)) != CV_OK)
			return st;
		return op_fail(b, CV_ERR_UNSUPPORTED, "operators with several outputs are not supported");
	}
	out = op->outputs[0];
	if (b->m->tensors[out].data != NULL || b->defined[out] || b->net->values[out].cdata != NULL)
		return op_fail(b, CV_ERR_CORRUPT, "writes a constant or an already computed tensor");
	if ((st = build_step(b, s, op, concat_sizes)) != CV_OK)
		return st;

	/*
	 * The kernels that clamp their results anyway take the output's range
	 * too (nn_op_clamps_to_output).
	 */
	if (nn_op_clamps_to_output(op->code))
	{
		if (s->kind == NN_K_CONV || s->kind == NN_K_DEPTHWISE ||
			s->kind == NN_K_AVG_POOL || s->kind == NN_K_MAX_POOL)
			clamp_to_output(b, out, &s->conv.act_min, &s->conv.act_max);
		else
			clamp_to_output(b, out, &s->act_min, &s->act_max);
	}
	return CV_OK;
}
