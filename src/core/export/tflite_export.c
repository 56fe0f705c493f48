/*
 * tflite_export.c
 *	  A trained classification iteration as one TFLite file: the imported
 *	  network's operators up to the feature tensor the model reads (with
 *	  its quantized weights for the int8 engine), then the head as float
 *	  operators, and the metadata (export.h, docs/export.md).
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
 *		DEQUANTIZE of the features;
 *	 float engine: the float engine's network (copy_backbone): constants
 *		dequantized as nn_dequantize does, float activations, float pixels
 *		normalised inside, and the engine's clamps of results to their
 *		quantized ranges as explicit steps (a float reading of the
 *		quantized file would not clamp, and differs by up to 4e-4).
 *
 * The head is written with the most basic float operators only
 * (DEQUANTIZE, RESHAPE, FULLY_CONNECTED, ADD, MUL, SOFTMAX), which every
 * TFLite runtime and converter reads:
 *	 - the power-L2 normalisation (head.c: sign(x) sqrt|x| / sqrt(sum |x|))
 *	   of features that cannot be negative (their quantized range starts at
 *	   0, checked) is x * r(x) * r(S), S = sum x (a FULLY_CONNECTED with a
 *	   row of ones) and r(a) = 1/sqrt(a) by a fixed number of Newton steps
 *	   y <- y (1.5 - 0.5 a y^2) from y0 = 1/sqrt(a_max), a_max the largest
 *	   value a can take: from there the steps grow y by 1.5 until it nears
 *	   the answer, then converge quadratically, and a = 0 leaves x r(x) = 0;
 *	 - the standardisation (ADD of -mean, MUL by scale) and the linear
 *	   layer (FULLY_CONNECTED), in the order head.c computes them;
 *	 - multiclass: SOFTMAX;
 *	 - multilabel: sigmoid(z) = softmax([z, 0])[0], the linear layer giving
 *	   the pairs [z_k, 0] and a SOFTMAX over each pair, whose other half is
 *	   1 - sigmoid(z_k); FULLY_CONNECTED selections (exact: weights 0 and 1)
 *	   pick the probabilities, and a negative tag's prod(1 - p_k) is a
 *	   chain of MUL.
 * A float-engine detector (export_detector) is the float network up to its
 * two maps, then its head split by linearity (tflite_detector.c): 1x1
 * CONV_2D of each part of the cell row with the standardisation folded in,
 * AVERAGE_POOL_2D and MEAN for the context, a 5-D RESHAPE / ADD / RESHAPE
 * for the nearest upsampling, the output layer, and the raw outputs
 * [1, cells * (tags + 5)] as the file's output; the runner mirrors,
 * scores, decodes and suppresses (docs/export.md, "TFLite detection").
 * Refused (CV_ERR_UNSUPPORTED, named): the compact domain, detection on
 * the int8 engine or on maps of no whole size ratio, a head that averages
 * several views, features whose range includes
 * negative values or that are float in the file, a model whose input size
 * is not the file's.
 *
 * The file is assembled with the primitives of tflite_graph.c and
 * serialized here (serialize).
 *
 * Metadata: Model.description names the writer; Model.metadata has one
 * entry "pgvision" whose buffer is a JSON object with the keys the ONNX
 * file carries (written by tflite_metadata.c; docs/export.md).  Field ids
 * are those of tensorflow/lite/schema/schema.fbs, cited where used.
 */
#include "export.h"
#include "flatbuffer_writer.h"
#include "tflite_detector.h"
#include "tflite_graph.h"
#include "tflite_metadata.h"
#include "../nn/nn.h"
#include "../nn/tflite.h"
#include "../nn/nn_internal.h"	/* nn_dequantize, nn_op_clamps_to_output: the float engine's weights and clamps */
#include "../learn/features.h"
#include "../detect/detector.h"
#include "../detect/detect_backbone.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#define NEWTON_STEPS_FEATURE 40	/* covers a_max / a down to 1.5^-68, ~1e-12 */
#define NEWTON_STEPS_SUM 60		/* the sum: relative accuracy over 1e-21..a_max */

/* ---- the head, operator by operator ---- */

/* FULLY_CONNECTED of x [1, in] by weights [out, in] (+ bias [out], or none). */
static int
fully_connected(xfile *f, int x, int in, int out_dim, const float *weights, const float *bias,
				int rows_out, int cols_out, const char *name)
{
	int32_t		wdims[2] = {out_dim, in};
	int32_t		bdims[1] = {out_dim};
	int			w,
				b = -1,
				out;
	xop		   *o;

	w = tfx_add_float_const(f, 2, wdims, weights, NULL);
	if (bias != NULL)
		b = tfx_add_float_const(f, 1, bdims, bias, NULL);
	out = tfx_activation(f, rows_out, cols_out, name);
	o = tfx_add_op(f, TFL_OP_FULLY_CONNECTED, 3, (const int32_t[]) {x, w, b}, out);
	if (o != NULL)
	{
		/* FullyConnectedOptions: fused_activation_function (0), weights_format (1) DEFAULT */
		o->options_type = OPT_FULLY_CONNECTED;
		o->options[o->noptions++] = fbw_i8(0, TFL_ACT_NONE);
		o->options[o->noptions++] = fbw_i8(1, 0);
	}
	return out;
}

static int
softmax(xfile *f, int x, int rows, int cols, const char *name)
{
	int			out = tfx_activation(f, rows, cols, name);
	xop		   *o = tfx_add_op(f, TFL_OP_SOFTMAX, 1, &x, out);

	if (o != NULL)
	{
		/* SoftmaxOptions: beta (0) */
		o->options_type = OPT_SOFTMAX;
		o->options[o->noptions++] = fbw_f32(0, 1.0f);
	}
	return out;
}

/*
 * 1/sqrt(a) of a [1, cols] by Newton's steps from 1/sqrt(a_max) (see the
 * header): the first step from the constant start, then
 * y <- y * (y * y * (-a / 2) + 1.5).
 */
static int
reciprocal_sqrt(xfile *f, int a, int cols, double a_max, int steps, const char *name)
{
	double		y0 = 1.0 / sqrt(a_max);
	int			minus_half = tfx_add_scalar_const(f, -0.5f, NULL);
	int			three_halves = tfx_add_scalar_const(f, 1.5f, NULL);
	int			half_a = tfx_binary(f, TFL_OP_MUL, a, minus_half, 1, cols, NULL);
	int			y;

	/* y1 = y0 (1.5 - 0.5 a y0^2) = (-a/2) y0^3 + 1.5 y0 */
	y = tfx_binary(f, TFL_OP_MUL, half_a, tfx_add_scalar_const(f, (float) (y0 * y0 * y0), NULL), 1, cols, NULL);
	y = tfx_binary(f, TFL_OP_ADD, y, tfx_add_scalar_const(f, (float) (1.5 * y0), NULL), 1, cols,
			   steps == 1 ? name : NULL);
	for (int k = 1; k < steps; k++)
	{
		int			sq = tfx_binary(f, TFL_OP_MUL, y, y, 1, cols, NULL);
		int			t = tfx_binary(f, TFL_OP_MUL, sq, half_a, 1, cols, NULL);

		t = tfx_binary(f, TFL_OP_ADD, t, three_halves, 1, cols, NULL);
		y = tfx_binary(f, TFL_OP_MUL, y, t, 1, cols, k == steps - 1 ? name : NULL);
	}
	return y;
}

/*
 * The head on the float features x [1, d] (non-negative, at most
 * feature_max each); returns the probabilities tensor [1, tags].
 */
static cv_status
emit_head(xfile *f, const cv_head *h, int x, double feature_max, int *probabilities, cv_error *err)
{
	int			d = h->dim,
				t = h->n_tags;
	int32_t		row_dims[2] = {1, d};
	float	   *buf;
	size_t		buf_floats = (size_t) 2 * t * d;
	int			z;

	if ((size_t) 2 * t * 2 * t > buf_floats)
		buf_floats = (size_t) 2 * t * 2 * t;
	if (buf_floats < (size_t) d * 2)
		buf_floats = (size_t) d * 2;
	buf = cv_malloc(sizeof(float) * buf_floats);
	if (buf == NULL)
		return cv_fail(err, CV_ERR_NOMEM, "out of memory exporting a head");

	if (h->norm == CV_NORM_POWER_L2)
	{
		int			sum,
					root,
					scale;

		/* S = sum x: a row of ones */
		for (int i = 0; i < d; i++)
			buf[i] = 1.0f;
		sum = fully_connected(f, x, d, 1, buf, NULL, 1, 1, "pgvision/feature_sum");
		root = tfx_binary(f, TFL_OP_MUL, x,
					  reciprocal_sqrt(f, x, d, feature_max, NEWTON_STEPS_FEATURE,
									  "pgvision/feature_rsqrt"),
					  1, d, "pgvision/feature_sqrt");
		scale = reciprocal_sqrt(f, sum, 1, feature_max * d, NEWTON_STEPS_SUM, "pgvision/length_rsqrt");
		x = tfx_binary(f, TFL_OP_MUL, root, scale, 1, d, "pgvision/normed_features");
	}
	for (int i = 0; i < d; i++)
		buf[i] = -h->mean[i];
	x = tfx_binary(f, TFL_OP_ADD, x, tfx_add_float_const(f, 2, row_dims, buf, "pgvision/minus_feature_mean"),
			   1, d, "pgvision/centred_features");
	x = tfx_binary(f, TFL_OP_MUL, x, tfx_add_float_const(f, 2, row_dims, h->scale, "pgvision/feature_scale"),
			   1, d, "pgvision/standardised_features");

	if (h->task == CV_TASK_MULTICLASS)
	{
		z = fully_connected(f, x, d, t, h->weights, h->bias, 1, t, "pgvision/logits");
		*probabilities = softmax(f, z, 1, t, "pgvision/probabilities");
	}
	else
	{
		int			pairs,
					positive,
					none = -1;
		bool		any_negative = false;

		/* the pairs [z_k, 0]: rows 2k the layer's, rows 2k + 1 zero */
		memset(buf, 0, sizeof(float) * (size_t) 2 * t * d);
		for (int k = 0; k < t; k++)
			memcpy(buf + (size_t) 2 * k * d, h->weights + (size_t) k * d, sizeof(float) * d);
		{
			float		bias2[2 * CV_MAX_TAGS];

			for (int k = 0; k < t; k++)
			{
				bias2[2 * k] = h->bias[k];
				bias2[2 * k + 1] = 0.0f;
			}
			z = fully_connected(f, x, d, 2 * t, buf, bias2, 1, 2 * t, "pgvision/logit_pairs");
		}
		pairs = tfx_reshape(f, z, t, 2, "pgvision/logit_pair_rows");
		pairs = softmax(f, pairs, t, 2, "pgvision/sigmoid_pairs");
		pairs = tfx_reshape(f, pairs, 1, 2 * t, "pgvision/sigmoids_and_misses");
		/* the positive tags' sigmoids: column 2k of the pairs */
		memset(buf, 0, sizeof(float) * (size_t) t * 2 * t);
		for (int k = 0; k < t; k++)
		{
			any_negative |= h->negative[k];
			if (!h->negative[k])
				buf[(size_t) k * 2 * t + 2 * k] = 1.0f;
		}
		positive = fully_connected(f, pairs, 2 * t, t, buf, NULL, 1, t,
								   any_negative ? "pgvision/positive_probabilities" :
								   "pgvision/probabilities");
		if (!any_negative)
			*probabilities = positive;
		else
		{
			float		mask[CV_MAX_TAGS];
			int32_t		mask_dims[2] = {1, t};

			/* none = prod over the positive tags of 1 - p_k (column 2k + 1) */
			for (int k = 0; k < t; k++)
			{
				int			miss;

				if (h->negative[k])
					continue;
				memset(buf, 0, sizeof(float) * 2 * t);
				buf[2 * k + 1] = 1.0f;
				miss = fully_connected(f, pairs, 2 * t, 1, buf, NULL, 1, 1, NULL);
				none = none < 0 ? miss : tfx_binary(f, TFL_OP_MUL, none, miss, 1, 1, NULL);
			}
			for (int k = 0; k < t; k++)
				mask[k] = h->negative[k] ? 1.0f : 0.0f;
			if (none < 0)
			{
				cv_free(buf);
				return cv_fail(err, CV_ERR_UNSUPPORTED,
							   "a model whose tags are all negative cannot be exported");
			}
			{
				int			spread = tfx_add_float_const(f, 2, mask_dims, mask, "pgvision/negative_mask");

				spread = tfx_binary(f, TFL_OP_MUL, none, spread, 1, t, "pgvision/negative_probability");
				*probabilities = tfx_binary(f, TFL_OP_ADD, positive, spread, 1, t, "pgvision/probabilities");
			}
		}
	}
	cv_free(buf);
	return CV_OK;
}

/* ---- the detector's head (detector.c), for the float engine ---- */

/* ---- the backbone, copied ---- */

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
static cv_status
copy_backbone(xfile *f, const tfl_model *m, const int *features, int nfeatures, bool float_net,
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

/* ---- serialization (schema.fbs field ids) ---- */

static fbw_ref
write_quantization(fbw_builder *b, const tfl_tensor *t)
{
	float		scale[1];
	fbw_field	q[3];
	int			n = 0;
	fbw_ref		s,
				z = 0;
	float	   *scales = t->nquant > 1 ? cv_malloc(sizeof(float) * t->nquant) : scale;
	int64_t    *zps = cv_malloc(sizeof(int64_t) * t->nquant);

	if (scales == NULL || zps == NULL)
	{
		if (scales != scale)
			cv_free(scales);
		cv_free(zps);
		return 0;
	}
	for (int i = 0; i < t->nquant; i++)
	{
		scales[i] = fb_vector_f32(&t->scale, (uint32_t) i);
		zps[i] = t->zero_point.present && t->zero_point.count > 0 ? fb_vector_i64(&t->zero_point, (uint32_t) i) : 0;
	}
	/* QuantizationParameters: scale:[float] (2), zero_point:[long] (3), quantized_dimension (6) */
	s = fbw_vector(b, scales, (uint32_t) t->nquant, 4, 0);
	z = fbw_vector(b, zps, (uint32_t) t->nquant, 8, 0);
	q[n++] = fbw_offset(2, s);
	q[n++] = fbw_offset(3, z);
	if (t->nquant > 1)
		q[n++] = fbw_i32(6, t->qdim);
	if (scales != scale)
		cv_free(scales);
	cv_free(zps);
	if (s == 0 || z == 0)
		return 0;
	return fbw_table(b, q, n);
}

static cv_status
serialize(xfile *f, int input, int output, const char *description, const tfx_json *meta,
		  uint8_t **out, size_t *out_len, cv_error *err)
{
	fbw_builder b;
	fbw_ref    *refs;
	int			nrefs = f->ntensors;
	fbw_ref		buffers,
				tensors,
				operators,
				codes,
				subgraph,
				subgraphs,
				metadata,
				desc,
				root;
	int			meta_buffer;

	if (nrefs < f->nops)
		nrefs = f->nops;
	if (nrefs < f->nbuffers + 1)
		nrefs = f->nbuffers + 1;
	if (nrefs < MAX_OPCODES)
		nrefs = MAX_OPCODES;
	refs = cv_malloc(sizeof(fbw_ref) * (size_t) nrefs);
	if (refs == NULL)
		return cv_fail(err, CV_ERR_NOMEM, "out of memory writing a TFLite file");
	fbw_init(&b);

	/* the metadata's buffer comes last among the buffers */
	meta_buffer = f->nbuffers;

	/* Buffer: data:[ubyte] (0, force_align 16); buffer 0 is the empty one */
	for (int i = f->nbuffers; i >= 0; i--)
	{
		const uint8_t *data = i == meta_buffer ? (const uint8_t *) meta->data : f->buffers[i].data;
		size_t		len = i == meta_buffer ? meta->len : f->buffers[i].len;
		fbw_field	fld[1];

		if (i == 0 || len == 0)
			refs[i] = fbw_table(&b, NULL, 0);
		else
		{
			fld[0] = fbw_offset(0, fbw_vector(&b, data, (uint32_t) len, 1, 16));
			refs[i] = fbw_table(&b, fld, 1);
		}
	}
	buffers = fbw_vector_refs(&b, refs, (uint32_t) f->nbuffers + 1);

	/* Tensor: shape (0), type (1), buffer (2), name (3), quantization (4) */
	for (int i = f->ntensors - 1; i >= 0; i--)
	{
		const xtensor *t = &f->tensors[i];
		fbw_field	fld[5];
		int			n = 0;
		fbw_ref		shape = fbw_vector(&b, t->dims, (uint32_t) t->rank, 4, 0);

		fld[n++] = fbw_offset(0, shape);
		fld[n++] = fbw_i8(1, (int8_t) t->type);
		fld[n++] = fbw_u32(2, (uint32_t) t->buffer);
		if (t->name_len > 0)
			fld[n++] = fbw_offset(3, fbw_string(&b, t->name, (size_t) t->name_len));
		if (t->quant != NULL)
			fld[n++] = fbw_offset(4, write_quantization(&b, t->quant));
		refs[i] = fbw_table(&b, fld, n);
	}
	tensors = fbw_vector_refs(&b, refs, (uint32_t) f->ntensors);

	/* Operator: opcode_index (0), inputs (1), outputs (2), builtin_options_type (3), builtin_options (4) */
	for (int i = f->nops - 1; i >= 0; i--)
	{
		const xop  *o = &f->ops[i];
		fbw_field	fld[5];
		fbw_field	opts[9];
		int			n = 0,
					no = o->noptions;

		fld[n++] = fbw_u32(0, (uint32_t) o->opcode);
		fld[n++] = fbw_offset(1, fbw_vector(&b, o->inputs, (uint32_t) o->ninputs, 4, 0));
		fld[n++] = fbw_offset(2, fbw_vector(&b, &o->output, 1, 4, 0));
		if (o->options_type != OPT_NONE)
		{
			memcpy(opts, o->options, sizeof(fbw_field) * no);
			if (o->vector_field >= 0)
				opts[no++] = fbw_offset(o->vector_field,
										fbw_vector(&b, o->vector, (uint32_t) o->nvector, 4, 0));
			fld[n++] = fbw_u8(3, (uint8_t) o->options_type);
			fld[n++] = fbw_offset(4, fbw_table(&b, opts, no));
		}
		refs[i] = fbw_table(&b, fld, n);
	}
	operators = fbw_vector_refs(&b, refs, (uint32_t) f->nops);

	/* SubGraph: tensors (0), inputs (1), outputs (2), operators (3), name (4) */
	{
		fbw_field	fld[5];

		fld[0] = fbw_offset(0, tensors);
		fld[1] = fbw_offset(1, fbw_vector(&b, &input, 1, 4, 0));
		fld[2] = fbw_offset(2, fbw_vector(&b, &output, 1, 4, 0));
		fld[3] = fbw_offset(3, operators);
		fld[4] = fbw_offset(4, fbw_string(&b, "main", 4));
		subgraph = fbw_table(&b, fld, 5);
		subgraphs = fbw_vector_refs(&b, &subgraph, 1);
	}

	/*
	 * OperatorCode: deprecated_builtin_code:byte (0), version (2),
	 * builtin_code (3); the byte saturates at 127 (PLACEHOLDER_FOR_GREATER_OP_CODES)
	 */
	for (int i = f->nopcodes - 1; i >= 0; i--)
	{
		fbw_field	fld[3];
		int			code = f->opcodes[i].code;

		fld[0] = fbw_i8(0, (int8_t) (code < 127 ? code : 127));
		fld[1] = fbw_i32(2, f->opcodes[i].version);
		fld[2] = fbw_i32(3, code);
		refs[i] = fbw_table(&b, fld, 3);
	}
	codes = fbw_vector_refs(&b, refs, (uint32_t) f->nopcodes);

	/* Metadata: name (0), buffer (1) */
	{
		fbw_field	fld[2];
		fbw_ref		entry;

		fld[0] = fbw_offset(0, fbw_string(&b, "pgvision", 8));
		fld[1] = fbw_u32(1, (uint32_t) meta_buffer);
		entry = fbw_table(&b, fld, 2);
		metadata = fbw_vector_refs(&b, &entry, 1);
	}
	desc = fbw_string(&b, description, strlen(description));

	/* Model: version (0), operator_codes (1), subgraphs (2), description (3), buffers (4), metadata (6) */
	{
		fbw_field	fld[6];

		fld[0] = fbw_u32(0, 3);
		fld[1] = fbw_offset(1, codes);
		fld[2] = fbw_offset(2, subgraphs);
		fld[3] = fbw_offset(3, desc);
		fld[4] = fbw_offset(4, buffers);
		fld[5] = fbw_offset(6, metadata);
		root = fbw_table(&b, fld, 6);
	}
	cv_free(refs);
	return fbw_finish(&b, root, "TFL3", out, out_len, err);
}

/* ---- the whole file ---- */

static bool
is_builtin_domain(const cv_model *m)
{
	static const uint8_t zero[32];

	return strcmp(m->domain, "compact") == 0 || memcmp(m->domain_hash, zero, 32) == 0;
}

/*
 * The end of both exports: the assembler's deferred failures, then the
 * metadata and the description, then the flatbuffer of f with its graph
 * input and output.
 */
static cv_status
finish_file(xfile *f, const cv_model *m, const cv_net_info *info, const tfl_model *tm,
			const cv_export_meta *meta, int input, int output, uint8_t **out, size_t *out_len,
			cv_error *err)
{
	tfx_json	j = {0};
	char		description[160];
	cv_status	st;

	if (f->nomem)
		return cv_fail(err, CV_ERR_NOMEM, "out of memory exporting a model");
	if (f->too_many_codes)
		return cv_fail(err, CV_ERR_LIMIT, "the backbone uses more than %d kinds of operator", MAX_OPCODES);
	if ((st = tfx_write_metadata(&j, m, info, &tm->tensors[tm->inputs[0]], meta, err)) == CV_OK)
	{
		snprintf(description, sizeof(description), "pgvision %s: iteration %lld, %s on %s",
				 meta->version ? meta->version : "", (long long) meta->iteration,
				 tfx_task_name(m->task), m->domain);
		st = serialize(f, input, output, description, &j, out, out_len, err);
	}
	cv_free(j.data);
	return st;
}

/*
 * A detection iteration of the float engine: the float network up to the
 * two maps (at the detector's input size), then the head of
 * tfx_emit_detector_head, whose output is the raw outputs of one view.  The
 * test-time mirroring, the scores, their calibration, the boxes and NMS
 * are the runner's (docs/export.md, docs/examples/run-onnx.js), with the
 * settings in the metadata.  The int8 engine's detector is refused: its
 * maps are the integer network's, and no runtime here computes that as
 * cv_detect does: TFLite's own (LiteRT.js, XNNPACK's kernels) requantizes
 * in float32 where the int8 engine follows the reference kernels' fixed
 * point, 0.052 apart in probability on the int8 classifier of the test
 * (docs/export.md); the ONNX export has that arithmetic.
 */
static cv_status
export_detector(const cv_model *m, const uint8_t *backbone, size_t len,
				const cv_export_meta *meta, uint8_t **out, size_t *out_len, cv_error *err)
{
	const cv_detector *d = m->detector;
	cv_net_options opt;
	cv_net	   *net = NULL;
	cv_net_info info;
	tfl_model	tm;
	xfile		f;
	int		   *map = NULL;
	int			input = 0,
				outputs = 0,
				maps[CV_DETECT_MAPS];
	cv_status	st;

	memset(&tm, 0, sizeof(tm));
	memset(&f, 0, sizeof(f));
	if (m->extractor_version == CV_DETECT_MAPS_VERSION_INT8)
		return cv_fail(err, CV_ERR_UNSUPPORTED,
					   "a detector trained on the int8 engine cannot be exported to TFLite");
	if (backbone == NULL || len == 0)
		return cv_fail(err, CV_ERR_PARAM, "no backbone file to export with");
	if (d->map_height[1] < 1 || d->map_width[1] < 1 ||
		d->map_height[0] % d->map_height[1] != 0 || d->map_width[0] % d->map_width[1] != 0)
		return cv_fail(err, CV_ERR_UNSUPPORTED,
					   "a detector whose maps are %dx%d and %dx%d (not a whole ratio) cannot be exported to TFLite",
					   d->map_width[0], d->map_height[0], d->map_width[1], d->map_height[1]);

	memset(&opt, 0, sizeof(opt));
	opt.keep_layouts = true;
	opt.engine = CV_NET_ENGINE_FLOAT;
	opt.input_width = d->input_width;
	opt.input_height = d->input_height;
	for (int k = 0; k < CV_DETECT_MAPS; k++)
		maps[k] = opt.outputs[k] = d->map_tensor[k];
	opt.n_outputs = CV_DETECT_MAPS;
	if ((st = cv_net_load_with(backbone, len, &opt, &net, err)) != CV_OK)
		return st;
	info = *cv_net_get_info(net);
	if (info.input_width != m->input_width || info.input_height != m->input_height)
	{
		st = cv_fail(err, CV_ERR_PARAM, "the backbone runs at %dx%d, the model at %dx%d",
					 info.input_width, info.input_height, m->input_width, m->input_height);
		goto done;
	}
	for (int k = 0; k < CV_DETECT_MAPS; k++)
	{
		int			dims[4];

		if (!cv_net_output_shape(net, k, dims) || dims[1] != d->map_height[k] ||
			dims[2] != d->map_width[k] || dims[3] != d->map_channels[k])
		{
			st = cv_fail(err, CV_ERR_PARAM, "the backbone's feature map %d does not match the detector's", k);
			goto done;
		}
	}
	if ((st = tfl_parse(backbone, len, true, &tm, err)) != CV_OK)
		goto done;
	map = cv_malloc(sizeof(int) * (size_t) tm.ntensors);
	if (map == NULL)
	{
		st = cv_fail(err, CV_ERR_NOMEM, "out of memory exporting a model");
		goto done;
	}
	tfx_add_buffer(&f, NULL, 0, false);
	if ((st = copy_backbone(&f, &tm, maps, CV_DETECT_MAPS, true, &info, net, map, &input, err)) != CV_OK)
		goto done;
	if ((st = tfx_emit_detector_head(&f, d, map[maps[0]], map[maps[1]], &outputs, err)) != CV_OK)
		goto done;
	st = finish_file(&f, m, &info, &tm, meta, input, outputs, out, out_len, err);
done:
	cv_free(map);
	tfx_xfile_free(&f);
	tfl_model_free(&tm);
	cv_net_free(net);
	return st;
}

cv_status
cv_export_tflite(const cv_model *m, const uint8_t *backbone, size_t len,
				 const cv_export_meta *meta, uint8_t **out, size_t *out_len, cv_error *err)
{
	cv_net_options opt;
	cv_net	   *net = NULL;
	cv_net_info info;
	tfl_model	tm;
	xfile		f;
	int		   *map = NULL;
	int			feature,
				input = 0,
				x,
				probabilities = 0;
	const tfl_tensor *ft;
	double		feature_max = 0.0;
	bool		int8 = m->extractor_version == CV_BACKBONE_VERSION_INT8;
	cv_status	st;

	if (m == NULL || meta == NULL || out == NULL || out_len == NULL)
		return cv_fail(err, CV_ERR_PARAM, "invalid arguments to the export");
	*out = NULL;
	*out_len = 0;
	memset(&tm, 0, sizeof(tm));
	memset(&f, 0, sizeof(f));
	if (is_builtin_domain(m))
		return cv_fail(err, CV_ERR_UNSUPPORTED,
					   "models of the built-in domain %s cannot be exported", m->domain);
	if (m->detector != NULL)
		return export_detector(m, backbone, len, meta, out, out_len, err);
	if (m->head == NULL)
		return cv_fail(err, CV_ERR_PARAM, "the model has no head to export");
	if (backbone == NULL || len == 0)
		return cv_fail(err, CV_ERR_PARAM, "no backbone file to export with");
	if (m->head->predict_views != 1)
		return cv_fail(err, CV_ERR_UNSUPPORTED,
					   "a model that averages %d views cannot be exported", m->head->predict_views);
	if (m->head->norm != CV_NORM_NONE && m->head->norm != CV_NORM_POWER_L2)
		return cv_fail(err, CV_ERR_UNSUPPORTED, "feature normalisation %d cannot be exported",
					   (int) m->head->norm);

	/* the feature tensor the model reads, as the float engine finds it */
	memset(&opt, 0, sizeof(opt));
	opt.keep_layouts = true;
	opt.engine = CV_NET_ENGINE_FLOAT;
	if ((st = cv_net_load_with(backbone, len, &opt, &net, err)) != CV_OK)
		return st;
	info = *cv_net_get_info(net);
	feature = cv_net_feature_tensor(net, NULL);
	cv_net_free(net);
	if (feature < 0 || info.feature_dim != m->head->dim)
		return cv_fail(err, CV_ERR_PARAM,
					   "the backbone's features do not match the model (%d floats, not %d)",
					   info.feature_dim, m->head->dim);
	if (info.input_width != m->input_width || info.input_height != m->input_height)
		return cv_fail(err, CV_ERR_UNSUPPORTED, "the backbone runs at %dx%d, the model at %dx%d",
					   info.input_width, info.input_height, m->input_width, m->input_height);

	if ((st = tfl_parse(backbone, len, true, &tm, err)) != CV_OK)
		return st;
	if (feature >= tm.ntensors)
	{
		st = cv_fail(err, CV_ERR_PARAM, "the backbone's feature tensor %d is not in the file", feature);
		goto done;
	}
	ft = &tm.tensors[feature];
	if ((ft->type != TFL_UINT8 && ft->type != TFL_INT8) || ft->nquant != 1)
	{
		st = cv_fail(err, CV_ERR_UNSUPPORTED,
					 "the backbone's features are %s, not quantized per tensor: their sign is not known",
					 tfl_type_name(ft->type));
		goto done;
	}
	{
		int64_t		zp = ft->zero_point.present && ft->zero_point.count > 0 ?
			fb_vector_i64(&ft->zero_point, 0) : 0;
		int			qmin = ft->type == TFL_UINT8 ? 0 : -128,
					qmax = ft->type == TFL_UINT8 ? 255 : 127;
		float		scale = fb_vector_f32(&ft->scale, 0);

		if (zp != qmin || !(scale > 0.0f) || !isfinite(scale))
		{
			st = cv_fail(err, CV_ERR_UNSUPPORTED,
						 "the backbone's features can be negative (zero point %lld): not exported",
						 (long long) zp);
			goto done;
		}
		feature_max = (double) (qmax - qmin) * scale;
	}

	map = cv_malloc(sizeof(int) * (size_t) tm.ntensors);
	if (map == NULL)
	{
		st = cv_fail(err, CV_ERR_NOMEM, "out of memory exporting a model");
		goto done;
	}
	/* buffer 0: the empty buffer every TFLite file starts with */
	tfx_add_buffer(&f, NULL, 0, false);
	if ((st = copy_backbone(&f, &tm, &feature, 1, !int8, &info, NULL, map, &input, err)) != CV_OK)
		goto done;

	/* the features as float [1, d] */
	{
		int			fl = map[feature];

		if (int8)
		{
			/* DEQUANTIZE version 2 reads int8 (TFLite's op versioning) */
			fl = tfx_add_tensor(&f, TFL_FLOAT32, ft->rank, ft->dims, 0, "pgvision/features", NULL);
			tfx_add_op_version(&f, TFL_OP_DEQUANTIZE, ft->type == TFL_INT8 ? 2 : 1, 1, &map[feature], fl);
		}
		x = tfx_reshape(&f, fl, 1, m->head->dim, "pgvision/feature_row");
	}
	if ((st = emit_head(&f, m->head, x, feature_max, &probabilities, err)) != CV_OK)
		goto done;
	st = finish_file(&f, m, &info, &tm, meta, input, probabilities, out, out_len, err);
done:
	cv_free(map);
	tfx_xfile_free(&f);
	tfl_model_free(&tm);
	return st;
}
