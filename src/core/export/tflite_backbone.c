/*
 * tflite_backbone.c
 *	  The backbone of an exported iteration: the operators of the domain's
 *	  TFLite file up to the tensors the model reads, copied into the file
 *	  being assembled (tflite_graph.h), for the classification and the
 *	  detection export (tflite_export.c; docs/export.md).
 *
 * Apart from tflite_export.c because it is a different job: it reads the
 * source file (tflite.h) and rewrites its network, and knows nothing of
 * the head after it nor of the metadata.
 *
 * The backbone part comes from the domain's file (subgraph 0): the
 * operators that the feature tensor depends on, in file order, with their
 * options re-encoded field by field from the schema walk (tflite.c) and
 * every tensor they touch with its shape, name and (for the int8 engine)
 * quantization.  Which network depends on the engine the model's features
 * came from, because a TFLite runtime runs a quantized network on its
 * integer kernels, the int8 engine's arithmetic:
 *	 int8 engine: the file's operators and constants as the source had them
 *		(uint8 or int8 weights, int32 biases, quantized activations), then a
 *		DEQUANTIZE of the features (tflite_export.c);
 *	 float engine: the float engine's network (float_net): constants
 *		dequantized as nn_dequantize does, float activations, float pixels
 *		normalised inside, and the engine's clamps of results to their
 *		quantized ranges as explicit steps (a float reading of the
 *		quantized file would not clamp, and differs by up to 4e-4).
 *
 * The float network's clamps are written with ADD, MUL and fused RELUs
 * only (clamp_into), the operators every runtime reads.
 */
#include "tflite_backbone.h"
#include "../nn/nn_internal.h"	/* nn_dequantize, nn_op_clamps_to_output: the float engine's weights and clamps */

#include <math.h>
#include <string.h>

/* The options of a source operator, re-encoded (field ids as tflite.c reads them). */
static void
copy_options(xop *o, const tfl_op *s)
{
	const tfl_options *p = &s->opt;

#define OPT(field) (o->options[o->noptions++] = (field))
	switch (s->code)
	{
		case TFL_OP_CONV_2D:
			o->options_type = OPT_CONV2D;
			OPT(fbw_i8(0, (int8_t) p->padding));
			OPT(fbw_i32(1, p->stride_w));
			OPT(fbw_i32(2, p->stride_h));
			OPT(fbw_i8(3, (int8_t) p->activation));
			OPT(fbw_i32(4, p->dilation_w));
			OPT(fbw_i32(5, p->dilation_h));
			break;
		case TFL_OP_DEPTHWISE_CONV_2D:
			o->options_type = OPT_DEPTHWISE;
			OPT(fbw_i8(0, (int8_t) p->padding));
			OPT(fbw_i32(1, p->stride_w));
			OPT(fbw_i32(2, p->stride_h));
			OPT(fbw_i32(3, p->depth_multiplier));
			OPT(fbw_i8(4, (int8_t) p->activation));
			OPT(fbw_i32(5, p->dilation_w));
			OPT(fbw_i32(6, p->dilation_h));
			break;
		case TFL_OP_AVERAGE_POOL_2D:
		case TFL_OP_MAX_POOL_2D:
			o->options_type = OPT_POOL2D;
			OPT(fbw_i8(0, (int8_t) p->padding));
			OPT(fbw_i32(1, p->stride_w));
			OPT(fbw_i32(2, p->stride_h));
			OPT(fbw_i32(3, p->filter_w));
			OPT(fbw_i32(4, p->filter_h));
			OPT(fbw_i8(5, (int8_t) p->activation));
			break;
		case TFL_OP_FULLY_CONNECTED:
			o->options_type = OPT_FULLY_CONNECTED;
			OPT(fbw_i8(0, (int8_t) p->activation));
			OPT(fbw_i8(1, (int8_t) p->weights_format));
			OPT(fbw_u8(2, p->fc_keep_num_dims ? 1 : 0));
			break;
		case TFL_OP_SOFTMAX:
			o->options_type = OPT_SOFTMAX;
			OPT(fbw_f32(0, p->beta));
			break;
		case TFL_OP_CONCATENATION:
			o->options_type = OPT_CONCATENATION;
			OPT(fbw_i32(0, p->axis));
			OPT(fbw_i8(1, (int8_t) p->activation));
			break;
		case TFL_OP_ADD:
			o->options_type = OPT_ADD;
			OPT(fbw_i8(0, (int8_t) p->activation));
			break;
		case TFL_OP_MUL:
			o->options_type = OPT_MUL;
			OPT(fbw_i8(0, (int8_t) p->activation));
			break;
		case TFL_OP_MEAN:
			o->options_type = OPT_REDUCER;
			OPT(fbw_u8(0, p->keep_dims ? 1 : 0));
			break;
		case TFL_OP_SQUEEZE:
			o->options_type = OPT_SQUEEZE;
			o->vector_field = 0;
			o->nvector = p->nsqueeze;
			memcpy(o->vector, p->squeeze_dims, sizeof(int32_t) * p->nsqueeze);
			break;
		case TFL_OP_RESHAPE:
			if (p->nnew_shape >= 0)
			{
				o->options_type = OPT_RESHAPE;
				o->vector_field = 0;
				o->nvector = p->nnew_shape;
				memcpy(o->vector, p->new_shape, sizeof(int32_t) * p->nnew_shape);
			}
			break;
		default:
			/* PAD, RELU, RELU6, HARD_SWISH, LOGISTIC, (DE)QUANTIZE: no options */
			break;
	}
#undef OPT
}

/* OperatorCode.version (2, default 1) of a source operator. */
static int
source_version(const tfl_model *m, const tfl_op *s)
{
	fb_table	ct;
	int32_t		version = 1;

	if (fb_vector_table(&m->codes, s->code_index, &ct, "operator code", NULL) != CV_OK ||
		fb_get_i32(&ct, 2, 1, &version, "operator version", NULL) != CV_OK || version < 1)
		return 1;
	return version;
}

/* The range a fused activation leaves (tflite.h's ActivationFunctionType). */
static void
activation_range(int act, double *lo, double *hi)
{
	*lo = -INFINITY;
	*hi = INFINITY;
	if (act == TFL_ACT_RELU || act == TFL_ACT_RELU6)
		*lo = 0.0;
	if (act == TFL_ACT_RELU6)
		*hi = 6.0;
	if (act == TFL_ACT_RELU_N1_TO_1)
	{
		*lo = -1.0;
		*hi = 1.0;
	}
}

/*
 * The real range of a uint8 or int8 per-tensor tensor, as build_ops.c's
 * quant_range computes it; false for other tensors (unbounded).
 */
static bool
quantized_range(const tfl_tensor *t, double *lo, double *hi)
{
	float		scale;
	int64_t		zp;
	int			qmin,
				qmax;

	if (t->nquant != 1 || (t->type != TFL_UINT8 && t->type != TFL_INT8))
		return false;
	scale = fb_vector_f32(&t->scale, 0);
	if (!isfinite(scale) || scale <= 0.0f)
		return false;
	zp = t->zero_point.count ? fb_vector_i64(&t->zero_point, 0) : 0;
	qmin = t->type == TFL_UINT8 ? 0 : -128;
	qmax = t->type == TFL_UINT8 ? 255 : 127;
	*lo = (float) ((double) scale * (double) (qmin - zp));
	*hi = (float) ((double) scale * (double) (qmax - zp));
	return true;
}

/*
 * x clamped to [lo, hi] (either may be infinite) into out, with ADD and
 * MUL and fused RELUs only: max(x, lo) = relu(x - lo) + lo;
 * min(y, hi) = hi - relu(hi - y).  Both: c = relu(x - lo),
 * e = relu((hi - lo) - c), out = hi - e.
 */
static void
clamp_into(xfile *f, int x, double lo, double hi, int out)
{
	int			minus_one = tfx_add_scalar_const(f, -1.0f, NULL);

	if (isfinite(lo) && isfinite(hi))
	{
		int			c = tfx_activation_like(f, x, NULL),
					d = tfx_activation_like(f, x, NULL),
					e = tfx_activation_like(f, x, NULL),
					g = tfx_activation_like(f, x, NULL);

		tfx_binary_into(f, TFL_OP_ADD, x, tfx_add_scalar_const(f, (float) -lo, NULL), c, TFL_ACT_RELU);
		tfx_binary_into(f, TFL_OP_MUL, c, minus_one, d, TFL_ACT_NONE);
		tfx_binary_into(f, TFL_OP_ADD, d, tfx_add_scalar_const(f, (float) (hi - lo), NULL), e, TFL_ACT_RELU);
		tfx_binary_into(f, TFL_OP_MUL, e, minus_one, g, TFL_ACT_NONE);
		tfx_binary_into(f, TFL_OP_ADD, g, tfx_add_scalar_const(f, (float) hi, NULL), out, TFL_ACT_NONE);
	}
	else if (isfinite(lo))
	{
		int			c = tfx_activation_like(f, x, NULL);

		tfx_binary_into(f, TFL_OP_ADD, x, tfx_add_scalar_const(f, (float) -lo, NULL), c, TFL_ACT_RELU);
		tfx_binary_into(f, TFL_OP_ADD, c, tfx_add_scalar_const(f, (float) lo, NULL), out, TFL_ACT_NONE);
	}
	else
	{
		int			n = tfx_activation_like(f, x, NULL),
					e = tfx_activation_like(f, x, NULL),
					g = tfx_activation_like(f, x, NULL);

		tfx_binary_into(f, TFL_OP_MUL, x, minus_one, n, TFL_ACT_NONE);
		tfx_binary_into(f, TFL_OP_ADD, n, tfx_add_scalar_const(f, (float) hi, NULL), e, TFL_ACT_RELU);
		tfx_binary_into(f, TFL_OP_MUL, e, minus_one, g, TFL_ACT_NONE);
		tfx_binary_into(f, TFL_OP_ADD, g, tfx_add_scalar_const(f, (float) hi, NULL), out, TFL_ACT_NONE);
	}
}

/* A bound the fused activation leaves looser than the range by more than rounding. */
static bool
narrower(double bound, double act_bound, bool lower)
{
	double		slack = 1e-5 * (fabs(bound) > 1.0 ? fabs(bound) : 1.0);

	if (!isfinite(bound))
		return false;
	return lower ? bound > act_bound + slack : bound < act_bound - slack;
}

/*
 * The shape of source tensor i in the network as loaded (sized: the
 * detector's input size, which need not be the file's), or the file's
 * own when sized is NULL: the loaded shapes are NHWC padded to rank 4
 * with leading 1s (nn.h), the file's rank is kept.
 */
static bool
sized_dims(const cv_net *sized, const tfl_model *m, int i, int32_t *dims)
{
	const tfl_tensor *t = &m->tensors[i];

	memcpy(dims, t->dims, sizeof(int32_t) * t->rank);
	if (sized == NULL)
		return true;
	if (t->rank > 4)
		return false;
	if (m->ninputs > 0 && i == m->inputs[0])
	{
		const cv_net_info *info = cv_net_get_info(sized);

		if (t->rank == 4)
		{
			dims[1] = info->input_height;
			dims[2] = info->input_width;
		}
		return t->rank == 4;
	}
	for (int a = 0, n = cv_net_num_activations(sized); a < n; a++)
	{
		int			tensor,
					d[4];

		if (cv_net_activation(sized, a, &tensor, d, NULL) && tensor == i)
		{
			for (int k = 0; k < t->rank; k++)
				dims[k] = d[4 - t->rank + k];
			return true;
		}
	}
	return false;				/* not an activation the engine keeps */
}

/*
 * The operators the tensors features[0..nfeatures) depend on, copied with their tensors
 * into f; map[source tensor] = new index.  Sets *input to the new graph
 * input.
 *
 * float_net: the float engine's network instead of the file's integer one:
 * every quantized constant dequantized to float32 as the engine does it
 * (nn_dequantize), activations float32 without quantization, QUANTIZE and
 * DEQUANTIZE left out (identities in float), the input float32 pixels
 * 0..255 normalised by an ADD and a MUL, and after every operator whose
 * result the engine clamps to its output's quantized range (build_ops.c) the
 * clamp, where it is narrower than the fused activation.
 */
cv_status
tfx_copy_backbone(xfile *f, const tfl_model *m, const int *features, int nfeatures, bool float_net,
			  const cv_net_info *info, const cv_net *sized, int *map, int *input, cv_error *err)
{
	bool	   *needed = cv_calloc((size_t) m->ntensors, sizeof(bool));
	bool	   *produced = cv_calloc((size_t) m->ntensors, sizeof(bool));
	bool	   *op_needed = cv_calloc((size_t) m->nops + 1, sizeof(bool));
	int		   *source = cv_malloc(sizeof(int) * ((size_t) m->ntensors + 1));
	int			source_input = m->ninputs > 0 ? m->inputs[0] : -1;
	cv_status	st = CV_OK;

	if (needed == NULL || produced == NULL || op_needed == NULL || source == NULL)
	{
		st = cv_fail(err, CV_ERR_NOMEM, "out of memory exporting a backbone");
		goto done;
	}
	for (int k = 0; k < nfeatures; k++)
		needed[features[k]] = true;
	for (int i = m->nops - 1; i >= 0; i--)
	{
		const tfl_op *s = &m->ops[i];
		bool		want = false;

		for (int k = 0; k < s->noutputs; k++)
			if (s->outputs[k] >= 0 && needed[s->outputs[k]])
				want = true;
		if (!want)
			continue;
		if (s->noutputs != 1 || s->ninputs > MAX_INPUTS)
		{
			st = cv_fail(err, CV_ERR_UNSUPPORTED,
						 "operator %d (%s) of the backbone has %d outputs and %d inputs: not exported",
						 i, tfl_op_name(s->code), s->noutputs, s->ninputs);
			goto done;
		}
		if (s->bad != CV_OK)
		{
			st = tfl_op_error(m, i, err);
			goto done;
		}
		op_needed[i] = true;
		produced[s->outputs[0]] = true;
		for (int k = 0; k < s->ninputs; k++)
			if (s->inputs[k] >= 0)
				needed[s->inputs[k]] = true;
	}
	for (int i = 0; i < m->ntensors; i++)
		if (needed[i] && !produced[i] && m->tensors[i].data == NULL && i != source_input)
		{
			st = cv_fail(err, CV_ERR_UNSUPPORTED,
						 "the backbone's features depend on tensor %d, neither a constant nor the input", i);
			goto done;
		}
	if (source_input < 0 || !needed[source_input])
	{
		st = cv_fail(err, CV_ERR_UNSUPPORTED, "the backbone's features do not depend on its input");
		goto done;
	}

	/* in the float network a QUANTIZE or DEQUANTIZE output is its input */
	for (int i = 0; i < m->ntensors; i++)
		source[i] = i;
	if (float_net)
		for (int i = 0; i < m->nops; i++)
			if (op_needed[i] && (m->ops[i].code == TFL_OP_QUANTIZE || m->ops[i].code == TFL_OP_DEQUANTIZE) &&
				m->ops[i].inputs[0] >= 0 && m->tensors[m->ops[i].inputs[0]].data == NULL)
				source[m->ops[i].outputs[0]] = source[m->ops[i].inputs[0]];

	for (int i = 0; i < m->ntensors; i++)
	{
		const tfl_tensor *t = &m->tensors[i];
		int			buffer = 0;

		map[i] = -1;
		if (!needed[i] || source[i] != i)
			continue;
		if (float_net && t->data != NULL && (t->nquant > 0 || t->type == TFL_FLOAT16))
		{
			float	   *w = cv_malloc(sizeof(float) * (t->count ? t->count : 1));

			if (w == NULL)
			{
				st = cv_fail(err, CV_ERR_NOMEM, "out of memory exporting a backbone");
				goto done;
			}
			if ((st = nn_dequantize(t, i, w, err)) != CV_OK)
			{
				cv_free(w);
				goto done;
			}
			buffer = tfx_add_buffer(f, w, sizeof(float) * t->count, true);
			map[i] = tfx_add_tensor(f, TFL_FLOAT32, t->rank, t->dims, buffer, NULL, NULL);
		}
		else if (float_net && t->data == NULL)
		{
			int32_t		dims[TFL_MAX_RANK];

			if (!sized_dims(sized, m, i, dims))
			{
				st = cv_fail(err, CV_ERR_UNSUPPORTED,
							 "the shape of the backbone's tensor %d at %dx%d is not known: not exported",
							 i, info->input_width, info->input_height);
				goto done;
			}
			map[i] = tfx_add_tensor(f, TFL_FLOAT32, t->rank, dims, 0, NULL, NULL);
		}
		else
		{
			if (t->data != NULL)
				buffer = tfx_add_buffer(f, t->data, t->data_len, false);
			map[i] = tfx_add_tensor(f, t->type, t->rank, t->dims, buffer, NULL,
								t->nquant > 0 ? t : NULL);
		}
		if (!f->nomem)
		{
			f->tensors[map[i]].name = t->name;
			f->tensors[map[i]].name_len = t->name ? t->name_len : 0;
		}
	}
	for (int i = 0; i < m->ntensors; i++)
		if (source[i] != i)
			map[i] = map[source[i]];
	if (f->nomem)
	{
		st = cv_fail(err, CV_ERR_NOMEM, "out of memory exporting a backbone");
		goto done;
	}

	*input = map[source_input];
	if (float_net)
	{
		/* float32 pixels 0..255, normalised as cv_net_run does: (p - zp) * scale */
		int			pixels = tfx_activation_like(f, map[source_input], "pixels");
		int			centred = tfx_activation_like(f, map[source_input], "pgvision/centred_pixels");

		tfx_binary_into(f, TFL_OP_ADD, pixels, tfx_add_scalar_const(f, (float) -info->input_zero_point, NULL),
					centred, TFL_ACT_NONE);
		tfx_binary_into(f, TFL_OP_MUL, centred, tfx_add_scalar_const(f, info->input_scale, NULL),
					map[source_input], TFL_ACT_NONE);
		*input = pixels;
	}
	for (int i = 0; i < m->nops; i++)
	{
		const tfl_op *s = &m->ops[i];
		xop		   *o;
		int32_t		ins[MAX_INPUTS];
		int			out = map[s->outputs[0]];
		double		lo = -INFINITY,
					hi = INFINITY,
					act_lo,
					act_hi;
		bool		clamp = false;

		if (!op_needed[i] || (float_net && source[s->outputs[0]] != s->outputs[0]))
			continue;
		if (float_net && nn_op_clamps_to_output(s->code) &&
			quantized_range(&m->tensors[s->outputs[0]], &lo, &hi))
		{
			activation_range(s->opt.activation, &act_lo, &act_hi);
			clamp = narrower(lo, act_lo, true) || narrower(hi, act_hi, false);
			if (!narrower(lo, act_lo, true))
				lo = -INFINITY;
			if (!narrower(hi, act_hi, false))
				hi = INFINITY;
		}
		for (int k = 0; k < s->ninputs; k++)
			ins[k] = s->inputs[k] >= 0 ? map[s->inputs[k]] : -1;
		o = tfx_add_op_version(f, s->code, source_version(m, s), s->ninputs, ins,
						   clamp ? tfx_activation_like(f, out, NULL) : out);
		if (o == NULL)
			break;
		copy_options(o, s);
		if (clamp)
			clamp_into(f, o->output, lo, hi, out);
	}
done:
	cv_free(needed);
	cv_free(produced);
	cv_free(op_needed);
	cv_free(source);
	return st;
}
