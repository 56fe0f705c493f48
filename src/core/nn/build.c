/*
 * build.c
 *	  From the parsed TFLite subgraph (tflite.h) to the executor's steps
 *	  (nn_internal.h): which operators to build, weight dequantization,
 *	  the input, storage assignment, the feature tensor and the activation
 *	  list; each operator itself is built by build_ops.c.
 *
 * Each operator is validated and its output shape inferred by build_ops.c
 * (nn_build_op), in file order; a lying file is an error there rather than
 * an out-of-bounds access later.
 *
 * With requested outputs (cv_net_options) only the operators they depend on
 * are built, found by walking back from them; with prefix_only the build
 * stops, without failing, at the first operator we cannot run.  Either way
 * the operators left out are never validated nor their weights read.
 */
#include "build_internal.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

static void
new_storage(build_state *b, int t)
{
	cv_net	   *net = b->net;

	net->values[t].storage = net->nstorages;
	net->storages[net->nstorages].floats = net->values[t].count;
	net->nstorages++;
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
				(m->ops[i].bad != CV_OK || !nn_build_known_op(m->ops[i].code)))
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
		if ((st = nn_build_op(&b, i, s, next_size)) != CV_OK)
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
