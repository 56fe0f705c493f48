/*
 * tflite_detector.c
 *	  The head of a float-engine detector (src/core/detect/detector.c) as
 *	  TFLite operators, written after the backbone's two maps by the
 *	  export (tflite_export.c, export_detector; docs/export.md, "TFLite
 *	  detection").
 *
 * The cell row's first layer is split by linearity, so nothing gathers
 * rows: a 1x1 CONV_2D of the stride-16 map, 1x1 CONV_2Ds of the stride-32
 * map, of its 3x3 AVERAGE_POOL_2D (SAME: the cells inside the map, as
 * cv_detector_rows averages) and of its MEAN, the standardisation folded
 * into the weights and a constant; the coarse parts are upsampled to the
 * fine grid by a 5-D RESHAPE, an ADD of the per-cell constants (bias,
 * folded means, position) and a RESHAPE back; then the ReLU, the output
 * layer, and the raw outputs [1, cells * (tags + 5)] of one view.  Only
 * operators the independent peer reads (../shared/peers/tflite2onnx.py).
 */
#include "tflite_detector.h"

#include <math.h>
#include <string.h>

/*
 * A 1x1 CONV_2D of x [1, h, w, in] to [1, h, w, out]: weights [out, 1, 1,
 * in] (row o the weights of output o), bias [out] (zeros when NULL).
 */
static int
conv1x1(xfile *f, int x, int h, int w, int in, int out_ch, const float *weights,
		const float *bias, int act, const char *name)
{
	int32_t		wdims[4] = {out_ch, 1, 1, in};
	int32_t		bdims[1] = {out_ch};
	int32_t		odims[4] = {1, h, w, out_ch};
	float	   *zeros = NULL;
	int			wt,
				b,
				out;
	xop		   *o;

	if (bias == NULL)
	{
		zeros = cv_calloc((size_t) out_ch, sizeof(float));
		if (zeros == NULL)
		{
			f->nomem = true;
			return 0;
		}
	}
	wt = tfx_add_float_const(f, 4, wdims, weights, NULL);
	b = tfx_add_float_const(f, 1, bdims, bias != NULL ? bias : zeros, NULL);
	cv_free(zeros);
	out = tfx_activation_nd(f, 4, odims, name);
	o = tfx_add_op(f, TFL_OP_CONV_2D, 3, (const int32_t[]) {x, wt, b}, out);
	if (o != NULL)
	{
		/* Conv2DOptions: padding (0), stride_w (1), stride_h (2), activation (3), dilations (4, 5) */
		o->options_type = OPT_CONV2D;
		o->options[o->noptions++] = fbw_i8(0, TFL_PAD_VALID);
		o->options[o->noptions++] = fbw_i32(1, 1);
		o->options[o->noptions++] = fbw_i32(2, 1);
		o->options[o->noptions++] = fbw_i8(3, (int8_t) act);
		o->options[o->noptions++] = fbw_i32(4, 1);
		o->options[o->noptions++] = fbw_i32(5, 1);
	}
	return out;
}

/*
 * The weights of rows [from, from + n) of the detector's first layer as a
 * 1x1 convolution's [hidden, n], each input's standardisation scale
 * folded in: W'[k][j] = scale[from + j] * w1[from + j][k].
 */
static void
folded_weights(const cv_detector *d, int from, int n, float *out)
{
	for (int k = 0; k < d->hidden; k++)
		for (int j = 0; j < n; j++)
			out[(size_t) k * n + j] = d->scale[from + j] * d->w1[(size_t) (from + j) * d->hidden + k];
}

/*
 * The detector on the float maps m0 [1, h0, w0, c0] and m1 [1, h1, w1,
 * c1]: its raw outputs [1, cells * (tags + 5)], row-major over the cells,
 * as cv_detector_outputs gives them (this file's header says how).
 */
cv_status
tfx_emit_detector_head(xfile *f, const cv_detector *d, int m0, int m1, int *outputs, cv_error *err)
{
	int			h0 = d->map_height[0],
				w0 = d->map_width[0],
				c0 = d->map_channels[0];
	int			h1 = d->map_height[1],
				w1 = d->map_width[1],
				c1 = d->map_channels[1];
	int			hid = d->hidden,
				od = cv_detector_out_dim(d->n_tags),
				ky = h0 / h1,
				kx = w0 / w1;
	int			at = c0;		/* the row's next input */
	size_t		buf_floats = (size_t) hid * (c0 > c1 ? c0 : c1);
	float	   *buf;
	double	   *constant;
	int			fine,
				coarse,
				x;

	if ((size_t) hid * od > buf_floats)
		buf_floats = (size_t) hid * od;
	if ((size_t) h0 * w0 * hid > buf_floats)
		buf_floats = (size_t) h0 * w0 * hid;
	buf = cv_malloc(sizeof(float) * buf_floats);
	constant = cv_malloc(sizeof(double) * hid);
	if (buf == NULL || constant == NULL)
	{
		cv_free(buf);
		cv_free(constant);
		return cv_fail(err, CV_ERR_NOMEM, "out of memory exporting a detector");
	}

	/* what standardisation takes from every row, with the bias: b1 - sum_j mean_j scale_j w1[j] */
	for (int k = 0; k < hid; k++)
	{
		double		c = d->b1[k];

		for (int j = 0; j < d->in_dim; j++)
			c -= (double) d->mean[j] * d->scale[j] * d->w1[(size_t) j * hid + k];
		constant[k] = c;
	}

	/* the cell's own stride-16 values */
	folded_weights(d, 0, c0, buf);
	fine = conv1x1(f, m0, h0, w0, c0, hid, buf, NULL, TFL_ACT_NONE, "pgvision/fine_part");

	/* the parent's stride-32 values, its 3x3 neighbourhood mean, the global mean */
	folded_weights(d, at, c1, buf);
	coarse = conv1x1(f, m1, h1, w1, c1, hid, buf, NULL, TFL_ACT_NONE, "pgvision/parent_part");
	at += c1;
	if (d->context & CV_DETECT_CONTEXT_NEIGHBOURS)
	{
		int32_t		dims[4] = {1, h1, w1, c1};
		int			mean = tfx_activation_nd(f, 4, dims, "pgvision/neighbourhood_mean");
		xop		   *o = tfx_add_op(f, TFL_OP_AVERAGE_POOL_2D, 1, &m1, mean);
		int			part;

		if (o != NULL)
		{
			/*
			 * Pool2DOptions: padding (0) SAME, strides (1, 2), filter (3,
			 * 4), activation (5).  TFLite's average pool divides by the
			 * cells inside the image only (reference_ops::AveragePool
			 * counts filter_count over the clipped window), as
			 * cv_detector_rows does.
			 */
			o->options_type = OPT_POOL2D;
			o->options[o->noptions++] = fbw_i8(0, TFL_PAD_SAME);
			o->options[o->noptions++] = fbw_i32(1, 1);
			o->options[o->noptions++] = fbw_i32(2, 1);
			o->options[o->noptions++] = fbw_i32(3, 3);
			o->options[o->noptions++] = fbw_i32(4, 3);
			o->options[o->noptions++] = fbw_i8(5, TFL_ACT_NONE);
		}
		folded_weights(d, at, c1, buf);
		part = conv1x1(f, mean, h1, w1, c1, hid, buf, NULL, TFL_ACT_NONE, "pgvision/neighbourhood_part");
		x = tfx_activation_like(f, coarse, "pgvision/parent_and_neighbours");
		tfx_binary_into(f, TFL_OP_ADD, coarse, part, x, TFL_ACT_NONE);
		coarse = x;
		at += c1;
	}
	if (d->context & CV_DETECT_CONTEXT_GLOBAL)
	{
		int32_t		gdims[4] = {1, 1, 1, c1};
		int32_t		adims[1] = {2};
		int32_t    *axes = cv_malloc(sizeof(int32_t) * 2);
		int			g,
					part;
		xop		   *o;

		if (axes == NULL)
			f->nomem = true;
		else
		{
			axes[0] = 1;
			axes[1] = 2;
		}
		g = tfx_activation_nd(f, 4, gdims, "pgvision/global_mean");
		o = tfx_add_op(f, TFL_OP_MEAN, 2, (const int32_t[]) {
			m1, tfx_add_tensor(f, TFL_INT32, 1, adims,
						   axes != NULL ? tfx_add_buffer(f, axes, sizeof(int32_t) * 2, true) : 0, NULL, NULL)}, g);
		if (o != NULL)
		{
			/* ReducerOptions: keep_dims (0) */
			o->options_type = OPT_REDUCER;
			o->options[o->noptions++] = fbw_u8(0, 1);
		}
		folded_weights(d, at, c1, buf);
		part = conv1x1(f, g, 1, 1, c1, hid, buf, NULL, TFL_ACT_NONE, "pgvision/global_part");
		/* [1, h1, w1, hid] + [1, 1, 1, hid]: ADD broadcasts between activations */
		x = tfx_activation_like(f, coarse, "pgvision/coarse_part");
		tfx_binary_into(f, TFL_OP_ADD, coarse, part, x, TFL_ACT_NONE);
		coarse = x;
		at += c1;
	}

	/*
	 * Every fine cell takes its parent's coarse part: the parent of (y, x)
	 * is (y / ky, x / kx) (cv_detector_rows' floor((y + 0.5) h1 / h0) when
	 * h0 = ky h1), so [1, h1, w1, hid] seen as [h1, 1, w1, 1, hid] and
	 * added to a constant [h1, ky, w1, kx, hid] is, read back as [1, h0,
	 * w0, hid], the nearest upsampling plus that constant: the bias, the
	 * standardisation's offsets and each cell's position term.  TFLite's
	 * ADD broadcasts up to 6-D (reference_ops::BroadcastAdd6DSlow).
	 */
	{
		int32_t		split[5] = {h1, 1, w1, 1, hid};
		int32_t		cdims[5] = {h1, ky, w1, kx, hid};
		int32_t		grid[4] = {1, h0, w0, hid};
		int			up,
					sum;

		for (int y = 0; y < h0; y++)
			for (int xx = 0; xx < w0; xx++)
			{
				/* row-major [h1, ky, w1, kx] is row-major [h0, w0] */
				float	   *c = buf + ((size_t) y * w0 + xx) * hid;

				for (int k = 0; k < hid; k++)
				{
					double		v = constant[k];

					if (d->context & CV_DETECT_CONTEXT_POSITION)
						v += (double) ((xx + 0.5f) / w0) * d->scale[at] * d->w1[(size_t) at * hid + k] +
							(double) ((y + 0.5f) / h0) * d->scale[at + 1] * d->w1[(size_t) (at + 1) * hid + k];
					c[k] = (float) v;
				}
			}
		up = tfx_reshape_nd(f, coarse, 5, split, "pgvision/coarse_by_parent");
		sum = tfx_activation_nd(f, 5, cdims, "pgvision/coarse_per_cell");
		tfx_binary_into(f, TFL_OP_ADD, up, tfx_add_float_const(f, 5, cdims, buf, "pgvision/cell_constants"),
					sum, TFL_ACT_NONE);
		sum = tfx_reshape_nd(f, sum, 4, grid, "pgvision/coarse_on_grid");
		x = tfx_activation_like(f, fine, "pgvision/hidden");
		tfx_binary_into(f, TFL_OP_ADD, fine, sum, x, TFL_ACT_RELU);
	}

	/* the outputs: a 1x1 convolution, then one row of the cells' outputs */
	for (int k = 0; k < hid; k++)
		for (int j = 0; j < od; j++)
			buf[(size_t) j * hid + k] = d->w2[(size_t) k * od + j];
	x = conv1x1(f, x, h0, w0, hid, od, buf, d->b2, TFL_ACT_NONE, "pgvision/cell_outputs");
	*outputs = tfx_reshape_nd(f, x, 2, (const int32_t[]) {1, h0 * w0 * od}, "outputs");
	cv_free(buf);
	cv_free(constant);
	return CV_OK;
}
