/*
 * tflite_head.c
 *	  The head of a classification iteration (head.c) as TFLite float
 *	  operators, written after the backbone's features by the export
 *	  (tflite_export.c; docs/export.md).
 *
 * Apart from tflite_export.c because it is a different job: the head's
 * arithmetic, operator by operator, on tensors the export hands it; it
 * knows nothing of the backbone nor of the file around it.
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
 */
#include "tflite_head.h"

#include <math.h>
#include <string.h>

#define NEWTON_STEPS_FEATURE 40	/* covers a_max / a down to 1.5^-68, ~1e-12 */
#define NEWTON_STEPS_SUM 60		/* the sum: relative accuracy over 1e-21..a_max */

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
cv_status
tfx_emit_head(xfile *f, const cv_head *h, int x, double feature_max, int *probabilities, cv_error *err)
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
