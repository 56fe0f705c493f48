/*
 * build.c
 *	  From the parsed TFLite subgraph (tflite.h) to the executor's steps
 *	  (nn_internal.h): per-operator validation and shape inference, weight
 *	  dequantization, storage assignment and the feature tensor.
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
 *
 * With requested outputs (cv_net_options) only the operators they depend on
 * are built, found by walking back from them; with prefix_only the build
 * stops, without failing, at the first operator we cannot run.  Either way
 * the operators left out are never validated nor their weights read.
 */
#include "nn_internal.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

typedef struct build_state
{
	const tfl_model *m;
	cv_net	   *net;
	const cv_net_options *opt;
	bool		check_shapes;	/* at the file's input size: declared shapes hold */
	bool	   *defined;		/* value computed so far (or input/constant) */
	bool	   *need_float;		/* constant needed as float weights */
	bool	   *needed;			/* operator to build */
	int			last_op;		/* prefix_only: no operator after this one is tried */
	int			op;				/* operator being built, for messages */
	cv_error   *err;
} build_state;

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

static void
new_storage(build_state *b, int t)
{
	cv_net	   *net = b->net;

	net->values[t].storage = net->nstorages;
	net->storages[net->nstorages].floats = net->values[t].count;
	net->nstorages++;
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

/* Mark the constants that some operator reads as float data. */
static void
mark_float_constants(build_state *b)
{
	const tfl_model *m = b->m;

	for (int i = 0; i < m->nops; i++)
	{
		const tfl_op *op = &m->ops[i];
		int			first = 0,
					last = op->ninputs - 1;

		if (!b->needed[i] || op->bad != CV_OK)
			continue;
		switch (op->code)
		{
			case TFL_OP_CONV_2D:
			case TFL_OP_DEPTHWISE_CONV_2D:
			case TFL_OP_FULLY_CONNECTED:
				first = 1;
				last = 2;
				break;
			case TFL_OP_ADD:
			case TFL_OP_MUL:
			case TFL_OP_CONCATENATION:
				break;
			case TFL_OP_DEQUANTIZE:
			case TFL_OP_QUANTIZE:
			case TFL_OP_RESHAPE:
			case TFL_OP_SQUEEZE:
				last = 0;
				break;
			default:
				continue;
		}
		for (int k = first; k <= last && k < op->ninputs; k++)
		{
			int			t = op->inputs[k];

			if (t >= 0 && m->tensors[t].data != NULL)
				b->need_float[t] = true;
		}
	}
}

/*
 * The features: walk back from the scores through identities, SOFTMAX and
 * LOGISTIC to the classifier (FULLY_CONNECTED, or a CONV_2D on a 1x1 map),
 * whose input is the pooled feature vector.  See docs/backbones.md.
 */
static void
find_features(build_state *b)
{
	cv_net	   *net = b->net;
	int			v = net->output_value;
	int			guard = 0;

	if (v < 0)
		return;
	while (v >= 0 && net->values[v].producer >= 0 && guard++ < net->nsteps)
	{
		const nn_step *s = &net->steps[net->values[v].producer];

		if (s->kind == NN_K_ALIAS || s->kind == NN_K_SOFTMAX ||
			(s->kind == NN_K_UNARY && s->unop == NN_UN_LOGISTIC))
		{
			v = s->inputs[0];
			continue;
		}
		if ((s->kind == NN_K_FC && s->fc_rows == 1) ||
			(s->kind == NN_K_CONV && s->conv.in_h == 1 && s->conv.in_w == 1 &&
			 s->conv.k_h == 1 && s->conv.k_w == 1))
		{
			const tfl_tensor *t = &b->m->tensors[s->inputs[0]];

			net->feature_value = s->inputs[0];
			net->info.feature_dim = (int) net->values[s->inputs[0]].count;
			snprintf(net->feature_name, sizeof(net->feature_name), "%.*s",
					 t->name ? t->name_len : 0, t->name ? t->name : "");
		}
		break;
	}
}

static cv_status
setup_input(build_state *b)
{
	const tfl_model *m = b->m;
	cv_net	   *net = b->net;
	const tfl_tensor *t;
	nn_value   *v;
	int			in;

	if (m->ninputs != 1)
		return cv_fail(b->err, CV_ERR_UNSUPPORTED,
					   "tflite models with %d inputs are not supported", m->ninputs);
	in = m->inputs[0];
	t = &m->tensors[in];
	v = &net->values[in];
	if (t->data != NULL)
		return cv_fail(b->err, CV_ERR_CORRUPT, "tflite file is corrupt: the input is a constant");
	if (t->rank != 4 || t->dims[0] != 1 || t->dims[3] != 3)
		return cv_fail(b->err, CV_ERR_UNSUPPORTED,
					   "tflite input must be 1xHxWx3 (RGB), not rank %d", t->rank);
	if (t->dims[1] > 8192 || t->dims[2] > 8192)
		return cv_fail(b->err, CV_ERR_LIMIT, "tflite input is larger than 8192x8192");
	net->input_value = in;
	net->info.input_height = b->opt->input_height > 0 ? b->opt->input_height : t->dims[1];
	net->info.input_width = b->opt->input_width > 0 ? b->opt->input_width : t->dims[2];
	if (net->info.input_height > 8192 || net->info.input_width > 8192)
		return cv_fail(b->err, CV_ERR_LIMIT, "input size %dx%d is larger than 8192x8192",
					   net->info.input_width, net->info.input_height);
	b->check_shapes = net->info.input_height == t->dims[1] &&
		net->info.input_width == t->dims[2];
	v->dims[1] = net->info.input_height;
	v->dims[2] = net->info.input_width;
	v->count = (size_t) v->dims[1] * v->dims[2] * 3;
	net->info.input_channels = 3;
	net->info.input_scale = 1.0f;
	net->info.input_zero_point = 0;
	if (t->nquant >= 1)
	{
		net->info.input_scale = fb_vector_f32(&t->scale, 0);
		if (t->zero_point.count)
		{
			int64_t		zp = fb_vector_i64(&t->zero_point, 0);

			if (zp < -1024 || zp > 1024)
				return cv_fail(b->err, CV_ERR_CORRUPT,
							   "tflite file is corrupt: input zero point %lld",
							   (long long) zp);
			net->info.input_zero_point = (int) zp;
		}
		if (!isfinite(net->info.input_scale) || net->info.input_scale <= 0.0f)
			return cv_fail(b->err, CV_ERR_CORRUPT,
						   "tflite file is corrupt: bad input scale");
	}
	switch (t->type)
	{
		case TFL_UINT8:
			break;
		case TFL_INT8:
			/* the int8 value of a pixel is pixel - 128 */
			net->info.input_zero_point += 128;
			break;
		case TFL_FLOAT32:
			if (t->nquant == 0)
			{
				/* MobileNet convention: pixels to [-1, 1) */
				net->info.input_scale = 1.0f / 128.0f;
				net->info.input_zero_point = 128;
			}
			break;
		default:
			return cv_fail(b->err, CV_ERR_UNSUPPORTED,
						   "tflite input of type %s is not supported", tfl_type_name(t->type));
	}
	new_storage(b, in);
	b->defined[in] = true;
	return CV_OK;
}

/* Operators build_step knows: anything else ends a prefix_only build. */
static bool
known_op(int code)
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
 * Which operators to build.  All of them by default.  With requested
 * outputs, those the outputs depend on: walk back from each output to the
 * operator that writes it, then to the writers of that operator's inputs.
 * With prefix_only, those up to the first we surely cannot run (an unread
 * or unknown operator); the build may stop earlier (nn_build).
 */
static cv_status
select_ops(build_state *b)
{
	const tfl_model *m = b->m;
	const cv_net_options *o = b->opt;
	int		   *producer = NULL,
			   *stack = NULL;
	bool	   *seen = NULL;
	int			top = 0;
	cv_status	st = CV_OK;

	b->last_op = m->nops - 1;
	if (o->n_outputs == 0)
	{
		for (int i = 0; i < m->nops; i++)
		{
			if (o->prefix_only && b->last_op == m->nops - 1 &&
				(m->ops[i].bad != CV_OK || !known_op(m->ops[i].code)))
				b->last_op = i;
			b->needed[i] = i <= b->last_op;
		}
		return CV_OK;
	}

	producer = cv_malloc((size_t) m->ntensors * sizeof(int));
	stack = cv_malloc((size_t) m->ntensors * sizeof(int));
	seen = cv_calloc((size_t) m->ntensors, sizeof(bool));
	if (producer == NULL || stack == NULL || seen == NULL)
	{
		st = cv_fail(b->err, CV_ERR_NOMEM, "out of memory selecting operators");
		goto done;
	}
	for (int t = 0; t < m->ntensors; t++)
		producer[t] = -1;
	for (int i = 0; i < m->nops; i++)
		for (int k = 0; k < m->ops[i].noutputs; k++)
			if (producer[m->ops[i].outputs[k]] < 0)
				producer[m->ops[i].outputs[k]] = i;

	for (int k = 0; k < o->n_outputs; k++)
	{
		int			t = o->outputs[k];

		if (t < 0 || t >= m->ntensors)
		{
			st = cv_fail(b->err, CV_ERR_PARAM,
						 "requested output tensor %d is not in the file (%d tensors)",
						 t, m->ntensors);
			goto done;
		}
		if (m->tensors[t].data != NULL || producer[t] < 0)
		{
			st = cv_fail(b->err, CV_ERR_PARAM,
						 "requested output tensor %d is not computed by an operator", t);
			goto done;
		}
		if (!seen[t])
		{
			seen[t] = true;
			stack[top++] = t;
		}
	}
	while (top > 0)
	{
		int			p = producer[stack[--top]];
		const tfl_op *op;

		if (p < 0 || b->needed[p])
			continue;			/* the graph input, or already walked */
		b->needed[p] = true;
		op = &m->ops[p];
		for (int k = 0; k < op->ninputs; k++)
		{
			int			u = op->inputs[k];

			if (u >= 0 && !seen[u] && m->tensors[u].data == NULL)
			{
				seen[u] = true;
				stack[top++] = u;
			}
		}
	}

done:
	cv_free(producer);
	cv_free(stack);
	cv_free(seen);
	return st;
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
static cv_status
build_op(build_state *b, int i, nn_step *s, size_t *concat_sizes)
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

/*
 * The requested outputs, the graph output and the features: pinned (never
 * fused away, alive to the end of a run).  A requested tensor must be an
 * activation that the kernels address (rank <= 4).
 */
static cv_status
pin_outputs(build_state *b)
{
	cv_net	   *net = b->net;

	for (int k = 0; k < b->opt->n_outputs; k++)
	{
		int			t = b->opt->outputs[k];
		const nn_value *v = &net->values[t];

		if (v->storage < 0 || !b->defined[t])
			return cv_fail(b->err, CV_ERR_PARAM,
						   "requested output tensor %d is a constant", t);
		if (v->rank > 4)
			return cv_fail(b->err, CV_ERR_UNSUPPORTED,
						   "requested output tensor %d has rank %d, at most 4 is supported",
						   t, v->rank);
		net->outputs[k] = t;
		net->storages[v->storage].pinned = true;
	}
	net->n_outputs = b->opt->n_outputs;
	if (net->output_value >= 0)
		net->storages[net->values[net->output_value].storage].pinned = true;
	if (net->feature_value >= 0 && net->values[net->feature_value].storage >= 0)
		net->storages[net->values[net->feature_value].storage].pinned = true;
	return CV_OK;
}

/*
 * The activations in step order, with their names copied from the file
 * (the net keeps no pointer into it): for cv_net_activation.
 */
static cv_status
list_activations(build_state *b)
{
	cv_net	   *net = b->net;
	size_t		bytes = 0,
				at = 0;

	net->activations = cv_calloc((size_t) net->nsteps + 1, sizeof(int));
	net->activation_names = cv_calloc((size_t) net->nsteps + 1, sizeof(size_t));
	if (net->activations == NULL || net->activation_names == NULL)
		return cv_fail(b->err, CV_ERR_NOMEM, "out of memory listing activations");
	for (int i = 0; i < net->nsteps; i++)
		if (net->values[net->steps[i].output].storage >= 0)
			bytes += (size_t) b->m->tensors[net->steps[i].output].name_len + 1;
	net->names = cv_malloc(bytes + 1);
	if (net->names == NULL)
		return cv_fail(b->err, CV_ERR_NOMEM, "out of memory listing activations");
	for (int i = 0; i < net->nsteps; i++)
	{
		int			t = net->steps[i].output;
		const tfl_tensor *tt = &b->m->tensors[t];

		if (net->values[t].storage < 0)
			continue;			/* an alias of a constant */
		net->activations[net->nactivations] = t;
		net->activation_names[net->nactivations++] = at;
		if (tt->name != NULL)
		{
			memcpy(net->names + at, tt->name, (size_t) tt->name_len);
			at += (size_t) tt->name_len;
		}
		net->names[at++] = '\0';
	}
	return CV_OK;
}

cv_status
nn_build(const tfl_model *m, const cv_net_options *opt, cv_net *net, cv_error *err)
{
	build_state b;
	size_t		nfloats = 0,
				nidx = 0,
				at = 0;
	int		   *next_input;
	size_t	   *next_size;
	bool		cut = false;
	cv_status	st = CV_OK;

	memset(&b, 0, sizeof(b));
	b.m = m;
	b.net = net;
	b.opt = opt;
	b.err = err;
	net->nvalues = m->ntensors;
	net->nsteps = 0;
	net->output_value = -1;
	net->feature_value = -1;
	for (int i = 0; i < m->nops; i++)
		nidx += (size_t) m->ops[i].ninputs;
	net->values = cv_calloc((size_t) m->ntensors, sizeof(nn_value));
	net->steps = cv_calloc((size_t) m->nops, sizeof(nn_step));
	net->storages = cv_calloc((size_t) m->nops + 1, sizeof(nn_storage));
	net->step_inputs = cv_calloc(nidx + 1, sizeof(int));
	net->concat_sizes = cv_calloc(nidx + 1, sizeof(size_t));
	b.defined = cv_calloc((size_t) m->ntensors, sizeof(bool));
	b.need_float = cv_calloc((size_t) m->ntensors, sizeof(bool));
	b.needed = cv_calloc((size_t) m->nops + 1, sizeof(bool));
	if (!net->values || !net->steps || !net->storages || !net->step_inputs ||
		!net->concat_sizes || !b.defined || !b.need_float || !b.needed)
	{
		st = cv_fail(err, CV_ERR_NOMEM, "out of memory building a network");
		goto done;
	}

	for (int i = 0; i < m->ntensors; i++)
	{
		const tfl_tensor *t = &m->tensors[i];
		nn_value   *v = &net->values[i];

		v->rank = t->rank;
		v->count = t->count;
		v->storage = -1;
		v->producer = -1;
		for (int d = 0; d < 4; d++)
			v->dims[d] = 1;
		if (t->rank <= 4)
			for (int d = 0; d < t->rank; d++)
				v->dims[4 - t->rank + d] = t->dims[d];
	}
	if ((st = select_ops(&b)) != CV_OK)
		goto done;

	/* dequantize every constant read as float, into one block */
	mark_float_constants(&b);
	for (int i = 0; i < m->ntensors; i++)
		if (b.need_float[i])
		{
			nfloats += m->tensors[i].count;
			if (nfloats > TFL_MAX_ELEMENTS)
			{
				st = cv_fail(err, CV_ERR_LIMIT, "tflite weights exceed %zu floats",
							 TFL_MAX_ELEMENTS);
				goto done;
			}
		}
	net->weights = cv_malloc((nfloats + 1) * sizeof(float));
	if (net->weights == NULL)
	{
		st = cv_fail(err, CV_ERR_NOMEM, "out of memory for %zu weights", nfloats);
		goto done;
	}
	net->info.weight_bytes = nfloats * sizeof(float);
	net->weights_floats = nfloats;
	for (int i = 0; i < m->ntensors; i++)
		if (b.need_float[i])
		{
			if ((st = nn_dequantize(&m->tensors[i], i, net->weights + at, err)) != CV_OK)
			{
				int			reader = m->nops;

				/*
				 * prefix_only: a constant of a type we do not read ends the
				 * prefix before its first reader (which then never sees it).
				 */
				for (int j = 0; j < m->nops && reader == m->nops; j++)
					for (int k = 0; k < m->ops[j].ninputs; k++)
						if (b.needed[j] && m->ops[j].inputs[k] == i)
							reader = j;
				if (!opt->prefix_only || opt->n_outputs > 0 || st != CV_ERR_UNSUPPORTED ||
					reader == 0)
					goto done;
				if (reader - 1 < b.last_op)
					b.last_op = reader - 1;
				cv_error_clear(err);
				st = CV_OK;
				continue;
			}
			net->values[i].cdata = net->weights + at;
			at += m->tensors[i].count;
		}

	if ((st = setup_input(&b)) != CV_OK)
		goto done;

	next_input = net->step_inputs;
	next_size = net->concat_sizes;
	for (int i = 0; i < m->nops && !cut; i++)
	{
		const tfl_op *op = &m->ops[i];
		nn_step    *s = &net->steps[net->nsteps];
		int			out;

		if (opt->prefix_only && opt->n_outputs == 0 && i > b.last_op)
		{
			cut = true;
			break;
		}
		if (!b.needed[i])
			continue;
		if ((st = build_op(&b, i, s, next_size)) != CV_OK)
		{
			/* prefix_only: keep what comes before, if anything */
			if (opt->prefix_only && opt->n_outputs == 0 &&
				st == CV_ERR_UNSUPPORTED && net->nsteps > 0)
			{
				memset(s, 0, sizeof(*s));
				cv_error_clear(err);
				st = CV_OK;
				cut = true;
				break;
			}
			goto done;
		}
		out = op->outputs[0];
		s->op = i;
		for (int k = 0; k < op->ninputs; k++)
			next_input[k] = op->inputs[k];
		s->inputs = next_input;
		s->ninputs = op->ninputs;
		next_input += op->ninputs;
		next_size += op->ninputs;
		net->info.macs += s->macs;

		if (s->kind == NN_K_ALIAS)
		{
			nn_value   *src = &net->values[op->inputs[0]];

			net->values[out].cdata = src->cdata;
			net->values[out].storage = src->storage;
		}
		else
			new_storage(&b, out);
		net->values[out].producer = net->nsteps;
		b.defined[out] = true;
		net->nsteps++;
	}

	if (opt->n_outputs == 0 && !cut)
	{
		/* the whole graph: its output gives the scores */
		if (m->noutputs < 1 || !b.defined[m->outputs[0]] ||
			net->values[m->outputs[0]].cdata != NULL)
		{
			st = cv_fail(err, CV_ERR_CORRUPT, "tflite file is corrupt: the output is never computed");
			goto done;
		}
		net->output_value = m->outputs[0];
		if (net->values[net->output_value].count > INT32_MAX)
		{
			st = cv_fail(err, CV_ERR_LIMIT, "tflite output too large");
			goto done;
		}
		net->info.num_outputs = (int) net->values[net->output_value].count;
		find_features(&b);
	}
	if ((st = pin_outputs(&b)) != CV_OK ||
		(st = list_activations(&b)) != CV_OK)
		goto done;
	net->layouts_only = opt->keep_layouts;
	/* a keep_layouts net is rewritten too: the ONNX export writes its integer steps */
	if (opt->engine == CV_NET_ENGINE_INT8)
		st = nn_quantize_steps(m, net, err);
	if (st == CV_OK && !opt->keep_layouts)
		st = nn_prepare_kernels(net, err);

done:
	cv_free(b.defined);
	cv_free(b.need_float);
	cv_free(b.needed);
	return st;
}
