/*
 * qbuild.c
 *	  The int8 engine (cv_net_options.engine = CV_NET_ENGINE_INT8): after
 *	  build.c has made the float steps, rewrite the ones a quantized file
 *	  lets us run on integers (CONV_2D, DEPTHWISE_CONV_2D, ADD, PAD) into
 *	  integer steps (nn_qkernels.h), and insert the conversions between
 *	  the two kinds of activations where a float step reads an integer one
 *	  or the other way round.
 *
 * Why a rewrite and not a second builder: build.c has already validated
 * the file, inferred every shape and chosen every step; what the integer
 * engine adds is a property of each step (are its tensors quantized?) and
 * of each activation (is it held as uint8 or as float?).  Everything else
 * (SOFTMAX, pooling, MEAN, FULLY_CONNECTED, LOGISTIC, the requested
 * outputs) stays in float, so a net is never refused by this engine: at
 * worst it has no integer step at all.
 *
 * An activation is held as uint8 (nn_value.quantized) when an integer step
 * writes it, or when it is the graph input of a quantized file (the pixels
 * are then its bytes).  Identities (RESHAPE, SQUEEZE, QUANTIZE, DEQUANTIZE)
 * keep the kind and the quantization of what they alias: the quantization
 * a value is held in is the value's own (q_scale, q_zp), and integer steps
 * read their inputs' from there, never from the file's tensor, which an
 * identity such as QUANTIZE may describe differently.
 *
 * Conversions: a float step reading a uint8 value reads a dequantized copy
 * (NN_K_DEQUANTIZE, made right before its first float reader); an integer
 * step reading a float value reads a copy quantized with the file's
 * quantization of that input (NN_K_QUANTIZE).  Requested outputs, scores
 * and features are always float: a dequantizing step at the end copies a
 * uint8 one out.
 */
#include "nn_internal.h"
#include "nn_qkernels.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void *
nn_qalloc(cv_net *net, size_t bytes)
{
	nn_qblock  *b = cv_malloc(sizeof(nn_qblock) + 64 + bytes);

	if (b == NULL)
		return NULL;
	b->next = net->qblocks;
	b->bytes = bytes;
	net->qblocks = b;
	net->info.weight_bytes += bytes;
	return nn_qblock_payload(b);
}

void
nn_qfree_all(cv_net *net)
{
	nn_qblock  *b = net->qblocks;

	while (b != NULL)
	{
		nn_qblock  *next = b->next;

		cv_free(b);
		b = next;
	}
	net->qblocks = NULL;
}

/* Whether a step runs on the int8 engine (or converts for it). */
static bool
integer_kind(nn_kind k)
{
	return k == NN_K_QCONV || k == NN_K_QDEPTHWISE || k == NN_K_QADD || k == NN_K_QPAD ||
		k == NN_K_QUANTIZE || k == NN_K_DEQUANTIZE;
}

typedef struct kept_range
{
	const float *old;
	size_t		count;
	float	   *now;
} kept_range;

static int
by_old(const void *a, const void *b)
{
	const kept_range *x = a,
			   *y = b;

	return x->old < y->old ? -1 : x->old > y->old;
}

/* The new place of a float constant pointer, or NULL if it was dropped. */
static const float *
remap(const kept_range *r, int n, const float *p)
{
	if (p == NULL)
		return NULL;
	for (int lo = 0, hi = n - 1; lo <= hi;)
	{
		int			mid = (lo + hi) / 2;

		if (p < r[mid].old)
			hi = mid - 1;
		else if (p >= r[mid].old + r[mid].count)
			lo = mid + 1;
		else
			return r[mid].now + (p - r[mid].old);
	}
	return NULL;
}

/*
 * After the rewrite, the float weights of the steps now on integers are
 * never read: keep only the constants a float step reads, in a smaller
 * block, so that the int8 engine does not hold every weight twice.  The
 * dropped values stay marked constant (their cdata points at a single
 * float nothing reads), which is all the rest of the net asks of them.
 */
static cv_status
drop_float_weights(cv_net *net, cv_error *err)
{
	static const float dropped = 0.0f;
	kept_range *r = cv_calloc((size_t) net->nvalues + 1, sizeof(kept_range));
	int			n = 0,
				m = 0;
	size_t		total = 0;
	float	   *block;

	if (r == NULL)
		return cv_fail(err, CV_ERR_NOMEM, "out of memory preparing the integer engine");
	for (int i = 0; i < net->nsteps; i++)
	{
		const nn_step *s = &net->steps[i];

		if (integer_kind(s->kind))
			continue;
		for (int k = 0; k < s->ninputs; k++)
		{
			int			v = s->inputs[k];

			if (v >= 0 && net->values[v].cdata != NULL && net->values[v].count > 0)
			{
				r[n].old = net->values[v].cdata;
				r[n].count = net->values[v].count;
				n++;
			}
		}
	}
	/* one range per distinct block of floats (aliases and shared filters) */
	qsort(r, (size_t) n, sizeof(kept_range), by_old);
	for (int i = 0; i < n; i++)
	{
		if (m > 0 && r[i].old < r[m - 1].old + r[m - 1].count)
		{
			const float *end = r[i].old + r[i].count;

			if (end > r[m - 1].old + r[m - 1].count)
				r[m - 1].count = (size_t) (end - r[m - 1].old);
			continue;
		}
		r[m++] = r[i];
	}
	for (int i = 0; i < m; i++)
		total += r[i].count;
	block = cv_malloc((total + 1) * sizeof(float));
	if (block == NULL)
	{
		cv_free(r);
		return cv_fail(err, CV_ERR_NOMEM, "out of memory for %zu weights", total);
	}
	total = 0;
	for (int i = 0; i < m; i++)
	{
		r[i].now = block + total;
		memcpy(r[i].now, r[i].old, r[i].count * sizeof(float));
		total += r[i].count;
	}
	for (int i = 0; i < net->nsteps; i++)
	{
		nn_step    *s = &net->steps[i];

		if (integer_kind(s->kind))
			continue;
		s->conv.weights = remap(r, m, s->conv.weights);
		s->conv.bias = remap(r, m, s->conv.bias);
		s->fc_weights = remap(r, m, s->fc_weights);
		s->fc_bias = remap(r, m, s->fc_bias);
	}
	for (int v = 0; v < net->nvalues; v++)
		if (net->values[v].cdata != NULL)
		{
			const float *p = remap(r, m, net->values[v].cdata);

			net->values[v].cdata = p != NULL ? p : &dropped;
		}
	net->info.weight_bytes -= (net->weights_floats - total) * sizeof(float);
	net->weights_floats = total;
	cv_free(net->weights);
	net->weights = block;
	cv_free(r);
	return CV_OK;
}

/* Quantization of a per-tensor uint8/int8 tensor, as held (uint8 storage). */
static bool
tensor_quant(const tfl_tensor *t, float *scale, int32_t *zp_u8)
{
	int64_t		zp = 0;

	if ((t->type != TFL_UINT8 && t->type != TFL_INT8) || t->nquant != 1)
		return false;
	*scale = fb_vector_f32(&t->scale, 0);
	if (!isfinite(*scale) || *scale <= 0.0f)
		return false;
	if (t->zero_point.count)
		zp = fb_vector_i64(&t->zero_point, 0);
	if (t->type == TFL_INT8)
		zp += 128;
	if (zp < 0 || zp > 255)
		return false;
	*zp_u8 = (int32_t) zp;
	return true;
}

/*
 * The clamp of a fused activation on a uint8 output (TFLite's
 * CalculateActivationRangeQuantized): the real bounds quantized with the
 * output's scale, rounded half away from zero, within 0..255.  false for
 * an activation we do not run on integers.
 */
static bool
quantized_act_range(int act, float scale, int32_t zp, int32_t *lo, int32_t *hi)
{
	int32_t		l = 0,
				h = 255;

	switch (act)
	{
		case TFL_ACT_NONE:
			break;
		case TFL_ACT_RELU:
			l = zp;
			break;
		case TFL_ACT_RELU6:
			l = zp;
			h = zp + (int32_t) roundf(6.0f / scale);
			break;
		case TFL_ACT_RELU_N1_TO_1:
			l = zp + (int32_t) roundf(-1.0f / scale);
			h = zp + (int32_t) roundf(1.0f / scale);
			break;
		default:
			return false;
	}
	*lo = l < 0 ? 0 : (l > 255 ? 255 : l);
	*hi = h > 255 ? 255 : (h < 0 ? 0 : h);
	return *lo <= *hi;
}

typedef struct qbuild_state
{
	const tfl_model *m;
	cv_net	   *net;
	cv_error   *err;
	nn_step    *steps;			/* the rewritten list */
	int			nsteps;
	int			cap_steps;
	int		   *to_float;		/* per value: its dequantized copy, or -1 */
	int		   *to_quant;		/* per value: its quantized copy, or -1 */
	int		   *inputs;			/* inputs of the rewritten steps */
	size_t		ninputs;
	size_t		cap_inputs;
} qbuild_state;

static cv_status
nomem(qbuild_state *q)
{
	return cv_fail(q->err, CV_ERR_NOMEM, "out of memory preparing the integer engine");
}

/* A new activation value shaped like v, in a storage of its own. */
static int
new_value(qbuild_state *q, int v, bool quantized)
{
	cv_net	   *net = q->net;
	int			nv = net->nvalues;
	nn_value   *vals = cv_realloc(net->values, ((size_t) nv + 1) * sizeof(nn_value));
	nn_storage *sts;

	if (vals == NULL)
		return -1;
	net->values = vals;
	sts = cv_realloc(net->storages, ((size_t) net->nstorages + 1) * sizeof(nn_storage));
	if (sts == NULL)
		return -1;
	net->storages = sts;
	memset(&sts[net->nstorages], 0, sizeof(nn_storage));
	sts[net->nstorages].floats = net->values[v].count;
	vals[nv] = net->values[v];
	vals[nv].cdata = NULL;
	vals[nv].storage = net->nstorages++;
	vals[nv].quantized = quantized;
	vals[nv].producer = -1;
	net->nvalues = nv + 1;
	return nv;
}

static int *
take_inputs(qbuild_state *q, int n)
{
	/* offsets, not pointers: the block may move while it grows */
	if (q->ninputs + (size_t) n > q->cap_inputs)
	{
		size_t		cap = (q->cap_inputs + (size_t) n) * 2;
		int		   *p = cv_realloc(q->inputs, cap * sizeof(int));

		if (p == NULL)
			return NULL;
		q->inputs = p;
		q->cap_inputs = cap;
	}
	q->ninputs += (size_t) n;
	return q->inputs + q->ninputs - n;
}

static nn_step *
append_step(qbuild_state *q)
{
	if (q->nsteps == q->cap_steps)
	{
		int			cap = q->cap_steps * 2 + 16;
		nn_step    *p = cv_realloc(q->steps, (size_t) cap * sizeof(nn_step));

		if (p == NULL)
			return NULL;
		q->steps = p;
		q->cap_steps = cap;
	}
	memset(&q->steps[q->nsteps], 0, sizeof(nn_step));
	return &q->steps[q->nsteps++];
}

/*
 * v as the kind want_quant asks for: v itself, or its converted copy (made
 * now, by a step appended here, if it does not exist yet).  A copy to
 * uint8 takes the quantization (scale, zp) given: the file's for the
 * reading step's input.  -1 when out of memory.
 */
static int
as_kind(qbuild_state *q, int v, bool want_quant, float scale, int32_t zp)
{
	cv_net	   *net = q->net;
	int		   *cache = want_quant ? q->to_quant : q->to_float;
	int			c;
	nn_step    *s;
	int		   *in;

	if (v < 0 || net->values[v].cdata != NULL || net->values[v].quantized == want_quant)
		return v;
	if (v < q->m->ntensors && cache[v] >= 0)
		return cache[v];
	if ((c = new_value(q, v, want_quant)) < 0 || (in = take_inputs(q, 1)) == NULL ||
		(s = append_step(q)) == NULL)
		return -1;
	if (want_quant)
	{
		net->values[c].q_scale = scale;
		net->values[c].q_zp = zp;
	}
	in[0] = v;
	s->kind = want_quant ? NN_K_QUANTIZE : NN_K_DEQUANTIZE;
	s->code = want_quant ? TFL_OP_QUANTIZE : TFL_OP_DEQUANTIZE;
	s->op = -1;
	s->ninputs = 1;
	s->inputs = (int *) (uintptr_t) (in - q->inputs);	/* fixed up at the end */
	s->output = c;
	s->q_count = net->values[v].count;
	s->q_scale = want_quant ? scale : net->values[v].q_scale;
	s->q_zp = want_quant ? zp : net->values[v].q_zp;
	snprintf(s->detail, sizeof(s->detail), want_quant ? "float -> uint8 (%zu)" :
			 "uint8 -> float (%zu)", s->q_count);
	net->values[c].producer = q->nsteps - 1;
	if (v < q->m->ntensors)
		cache[v] = c;
	return c;
}

/* Integer weights, bias and rescaling of a CONV_2D or DEPTHWISE_CONV_2D. */
static bool
prepare_qconv(qbuild_state *q, const nn_step *s, const tfl_op *op, float in_scale,
			  int32_t in_zp, nn_qconv_params *p)
{
	const tfl_tensor *w = &q->m->tensors[op->inputs[1]],
			   *out = &q->m->tensors[op->outputs[0]],
			   *bias = op->ninputs >= 3 && op->inputs[2] >= 0 ?
		&q->m->tensors[op->inputs[2]] : NULL;
	bool		depthwise = s->kind == NN_K_DEPTHWISE;
	int			oc = s->conv.out_c;
	int			qdim = depthwise ? 3 : 0;
	float		out_scale;
	int32_t		out_zp,
				w_zp = 0;
	int8_t	   *wq;
	int32_t    *ints;

	if (w->data == NULL || w->rank != 4 || !tensor_quant(out, &out_scale, &out_zp))
		return false;
	if (w->type == TFL_UINT8)
	{
		if (w->nquant != 1)
			return false;
	}
	else if (w->type == TFL_INT8)
	{
		if (w->nquant != 1 && !(w->nquant == oc && w->qdim == qdim))
			return false;
	}
	else
		return false;
	if (w->zero_point.count)
	{
		int64_t		z0 = fb_vector_i64(&w->zero_point, 0);

		for (size_t i = 1; i < w->zero_point.count; i++)
			if (fb_vector_i64(&w->zero_point, i) != z0)
				return false;	/* per-channel zero points: float */
		if (w->type == TFL_UINT8)
			z0 -= 128;
		if (z0 < -128 || z0 > 127)
			return false;
		w_zp = (int32_t) z0;
	}
	else if (w->type == TFL_UINT8)
		w_zp = -128;
	if (bias != NULL && (bias->type != TFL_INT32 || bias->data == NULL ||
						 bias->count != (size_t) oc))
		return false;

	memset(p, 0, sizeof(*p));
	p->in_h = s->conv.in_h;
	p->in_w = s->conv.in_w;
	p->in_c = s->conv.in_c;
	p->out_h = s->conv.out_h;
	p->out_w = s->conv.out_w;
	p->out_c = oc;
	p->k_h = s->conv.k_h;
	p->k_w = s->conv.k_w;
	p->stride_h = s->conv.stride_h;
	p->stride_w = s->conv.stride_w;
	p->dil_h = s->conv.dil_h;
	p->dil_w = s->conv.dil_w;
	p->pad_top = s->conv.pad_top;
	p->pad_left = s->conv.pad_left;
	p->depth_multiplier = s->conv.depth_multiplier;
	p->in_zp = in_zp;
	p->w_zp = w_zp;
	p->out_zp = out_zp;
	if (!quantized_act_range(op->opt.activation, out_scale, out_zp, &p->act_min, &p->act_max))
		return false;

	wq = nn_qalloc(q->net, w->count);
	ints = nn_qalloc(q->net, (size_t) oc * 3 * sizeof(int32_t));
	if (wq == NULL || ints == NULL)
		return false;
	for (size_t i = 0; i < w->count; i++)
		wq[i] = w->type == TFL_UINT8 ? (int8_t) ((int) w->data[i] - 128) : (int8_t) w->data[i];
	for (int c = 0; c < oc; c++)
	{
		double		ws = fb_vector_f32(&w->scale, w->nquant == 1 ? 0 : (size_t) c);
		double		real = (double) in_scale * ws / (double) out_scale;
		int32_t		mult;
		int			shift;

		if (!isfinite(ws) || ws <= 0.0 || !nn_quantize_multiplier(real, &mult, &shift))
			return false;
		ints[oc + c] = mult;
		ints[2 * oc + c] = shift;
		ints[c] = 0;
		if (bias != NULL)
			memcpy(&ints[c], bias->data + 4 * (size_t) c, 4);
	}
	p->weights = wq;
	p->bias = ints;
	p->multiplier = ints + oc;
	p->shift = ints + 2 * oc;
	return true;
}

/* Whether step s runs on integers, and its parameters if so (s->kind set). */
static bool
make_integer(qbuild_state *q, nn_step *s, const int *inputs)
{
	cv_net	   *net = q->net;
	const tfl_op *op;
	float		s_out;
	int32_t		z_out;

	if (s->op < 0 || s->fused_away)
		return false;
	op = &q->m->ops[s->op];
	if (!tensor_quant(&q->m->tensors[op->outputs[0]], &s_out, &z_out))
		return false;
	switch (s->kind)
	{
		case NN_K_CONV:
		case NN_K_DEPTHWISE:
			{
				const nn_value *in = &net->values[inputs[0]];

				if (!in->quantized)
					return false;
				if (!prepare_qconv(q, s, op, in->q_scale, in->q_zp, &s->qconv))
					return false;
				s->kind = s->kind == NN_K_CONV ? NN_K_QCONV : NN_K_QDEPTHWISE;
				return true;
			}
		case NN_K_BINARY:
			{
				const nn_value *a = &net->values[inputs[0]],
						   *b = &net->values[inputs[1]];
				int32_t		lo,
							hi;

				if (s->binop != NN_BIN_ADD || !a->quantized || !b->quantized ||
					memcmp(s->a_dims, s->b_dims, sizeof(s->a_dims)) != 0 ||
					memcmp(s->a_dims, s->out_dims, sizeof(s->a_dims)) != 0 ||
					!quantized_act_range(op->opt.activation, s_out, z_out, &lo, &hi) ||
					!nn_qadd_prepare(a->q_scale, a->q_zp, b->q_scale, b->q_zp,
									 s_out, z_out, lo, hi, &s->qadd))
					return false;
				s->kind = NN_K_QADD;
				s->q_count = net->values[s->output].count;
				return true;
			}
		case NN_K_PAD:
			{
				const nn_value *in = &net->values[inputs[0]];

				/* TFLite's PAD keeps the quantization: pads are the zero point */
				if (!in->quantized || in->q_scale != s_out || in->q_zp != z_out)
					return false;
				s->kind = NN_K_QPAD;
				s->q_zp = z_out;
				return true;
			}
		default:
			return false;
	}
}

/* Whether step s could run on integers if its inputs were uint8. */
static bool
wants_integer(const qbuild_state *q, const nn_step *s, float *in_scale, int32_t *in_zp)
{
	const tfl_op *op;
	float		so;
	int32_t		zo;

	if (s->op < 0 || s->fused_away)
		return false;
	op = &q->m->ops[s->op];
	if (!tensor_quant(&q->m->tensors[op->outputs[0]], &so, &zo) ||
		!tensor_quant(&q->m->tensors[op->inputs[0]], in_scale, in_zp))
		return false;
	switch (s->kind)
	{
		case NN_K_CONV:
		case NN_K_DEPTHWISE:
		case NN_K_PAD:
			return true;
		case NN_K_BINARY:
			return s->binop == NN_BIN_ADD && op->ninputs == 2 &&
				q->m->tensors[op->inputs[0]].data == NULL &&
				q->m->tensors[op->inputs[1]].data == NULL;
		default:
			return false;
	}
}

cv_status
nn_quantize_steps(const tfl_model *m, cv_net *net, cv_error *err)
{
	qbuild_state q;
	int			old_nsteps = net->nsteps;
	const nn_step *old = net->steps;
	int			ntensors = m->ntensors;
	cv_status	st = CV_OK;
	float		s_in;
	int32_t		z_in;

	memset(&q, 0, sizeof(q));
	q.m = m;
	q.net = net;
	q.err = err;
	q.to_float = cv_malloc(((size_t) ntensors + 1) * sizeof(int));
	q.to_quant = cv_malloc(((size_t) ntensors + 1) * sizeof(int));
	if (q.to_float == NULL || q.to_quant == NULL)
	{
		st = nomem(&q);
		goto done;
	}
	for (int i = 0; i < ntensors; i++)
		q.to_float[i] = q.to_quant[i] = -1;

	/* the pixels of a quantized input are its uint8 bytes (see setup_input) */
	if (tensor_quant(&m->tensors[net->input_value], &s_in, &z_in))
	{
		nn_value   *v = &net->values[net->input_value];

		v->quantized = true;
		v->q_scale = s_in;
		v->q_zp = z_in;
	}

	for (int i = 0; i < old_nsteps; i++)
	{
		nn_step		s = old[i];
		int		   *in;
		size_t		in_off;
		bool		want = wants_integer(&q, &s, &s_in, &z_in);
		nn_step    *slot;

		/* the inputs as this step wants them, converting where needed */
		if ((in = take_inputs(&q, s.ninputs)) == NULL)
		{
			st = nomem(&q);
			goto done;
		}
		in_off = (size_t) (in - q.inputs);
		for (int k = 0; k < s.ninputs; k++)
		{
			int			v = s.inputs[k];
			int			c;

			if (s.kind == NN_K_ALIAS || v < 0 || net->values[v].cdata != NULL ||
				(s.kind == NN_K_PAD && k > 0))
			{
				q.inputs[in_off + k] = v;
				continue;
			}
			if (want && k > 0 && s.kind == NN_K_BINARY)
			{
				/* the second operand of ADD: its own file quantization */
				const tfl_op *op = &m->ops[s.op];

				if (!tensor_quant(&m->tensors[op->inputs[1]], &s_in, &z_in))
					want = false;
			}
			if ((c = as_kind(&q, v, want, s_in, z_in)) < 0)
			{
				st = nomem(&q);
				goto done;
			}
			q.inputs[in_off + k] = c;
		}
		in = q.inputs + in_off;

		if (!want || !make_integer(&q, &s, in))
		{
			/* a float step: every activation input must be float */
			for (int k = 0; k < s.ninputs && want; k++)
			{
				int			c = as_kind(&q, q.inputs[in_off + k], false, 0.0f, 0);

				if (c < 0)
				{
					st = nomem(&q);
					goto done;
				}
				q.inputs[in_off + k] = c;
			}
			if (s.kind == NN_K_ALIAS && s.ninputs > 0 && s.inputs[0] >= 0)
			{
				const nn_value *src = &net->values[s.inputs[0]];

				net->values[s.output].quantized = src->quantized;
				net->values[s.output].q_scale = src->q_scale;
				net->values[s.output].q_zp = src->q_zp;
			}
		}
		else
		{
			const tfl_tensor *t = &m->tensors[s.output];

			net->values[s.output].quantized = true;
			if (s.kind == NN_K_QPAD)
			{
				net->values[s.output].q_scale = net->values[in[0]].q_scale;
				net->values[s.output].q_zp = net->values[in[0]].q_zp;
			}
			else if (!tensor_quant(t, &net->values[s.output].q_scale,
								   &net->values[s.output].q_zp))
			{
				st = cv_fail(err, CV_ERR_INTERNAL, "integer step without a quantized output");
				goto done;
			}
			net->info.integer_steps++;
		}
		s.inputs = (int *) (uintptr_t) in_off;
		if ((slot = append_step(&q)) == NULL)
		{
			st = nomem(&q);
			goto done;
		}
		*slot = s;
		net->values[s.output].producer = q.nsteps - 1;
	}

	/* what a run copies out is float */
	for (int k = 0; k < net->n_outputs; k++)
		if ((net->outputs[k] = as_kind(&q, net->outputs[k], false, 0.0f, 0)) < 0)
		{
			st = nomem(&q);
			goto done;
		}
	if (net->output_value >= 0 &&
		(net->output_value = as_kind(&q, net->output_value, false, 0.0f, 0)) < 0)
		st = nomem(&q);
	else if (net->feature_value >= 0 &&
			 (net->feature_value = as_kind(&q, net->feature_value, false, 0.0f, 0)) < 0)
		st = nomem(&q);
	if (st != CV_OK)
		goto done;
	for (int k = 0; k < net->n_outputs; k++)
		net->storages[net->values[net->outputs[k]].storage].pinned = true;
	if (net->output_value >= 0)
		net->storages[net->values[net->output_value].storage].pinned = true;
	if (net->feature_value >= 0)
		net->storages[net->values[net->feature_value].storage].pinned = true;

	/* uint8 storages hold a quarter of the floats */
	for (int v = 0; v < net->nvalues; v++)
		if (net->values[v].quantized && net->values[v].storage >= 0)
		{
			nn_storage *sto = &net->storages[net->values[v].storage];
			size_t		f = (net->values[v].count + 3) / 4;

			if (sto->floats == net->values[v].count)
				sto->floats = f;
		}

	/* the new list replaces the old; inputs become pointers again */
	for (int i = 0; i < q.nsteps; i++)
		q.steps[i].inputs = q.inputs + (size_t) (uintptr_t) q.steps[i].inputs;
	cv_free(net->step_inputs);
	net->step_inputs = q.inputs;
	q.inputs = NULL;
	cv_free(net->steps);
	net->steps = q.steps;
	net->nsteps = q.nsteps;
	q.steps = NULL;

	if ((st = drop_float_weights(net, err)) != CV_OK)
		goto done;

	/*
	 * integer weights in the fast kernels' layout, and their scratch; not
	 * for a keep_layouts net, which is read (cv_net_emit_onnx), never run
	 */
	for (int i = 0; i < net->nsteps && !net->layouts_only; i++)
	{
		nn_step    *s = &net->steps[i];
		size_t		pb = 0,
					sb = 0;
		void	   *packed;

		if (s->kind == NN_K_QCONV)
		{
			pb = cv_nn_get_portable() ? 0 : nn_qconv_packed_bytes(&s->qconv);
			sb = nn_qconv_scratch_bytes(&s->qconv);
		}
		else if (s->kind == NN_K_QDEPTHWISE)
		{
			pb = cv_nn_get_portable() ? 0 : nn_qdepthwise_packed_bytes(&s->qconv);
			sb = nn_qdepthwise_scratch_bytes(&s->qconv);
		}
		else
			continue;
		if (pb > 0)
		{
			if ((packed = nn_qalloc(net, pb)) == NULL)
			{
				st = nomem(&q);
				goto done;
			}
			if (s->kind == NN_K_QCONV)
				nn_qconv_pack(&s->qconv, packed);
			else
				nn_qdepthwise_pack(&s->qconv, packed);
			s->qconv.packed = packed;
		}
		sb = (sb + 3) / 4;
		if (sb > net->scratch_floats)
			net->scratch_floats = sb;
	}

done:
	/* on failure the net still has its old steps, and the caller frees it */
	cv_free(q.steps);
	cv_free(q.inputs);
	cv_free(q.to_float);
	cv_free(q.to_quant);
	return st;
}
