/*
 * test_export_ops.c
 *	  Every operator the ONNX emitter writes (src/core/nn/net_onnx.c), on
 *	  tiny TFLite networks built here (tflite_builder.c): the operators the
 *	  shipped backbones do not use (PAD, MAX_POOL, CONCATENATION, MUL,
 *	  HARD_SWISH, LOGISTIC, SOFTMAX with beta, a MEAN and RESHAPEs that move
 *	  elements between NHWC and NCHW, FULLY_CONNECTED on a spatial input,
 *	  the clamp to a quantized output's range), SAME padding with the odd
 *	  pixel at the bottom right, a depthwise multiplier; and on the int8
 *	  engine, every integer step (net_onnx_int8.c) on hand-made quantized
 *	  networks: negative accumulators, rounding ties, left and right
 *	  shifts, saturation, both convolution paths (float Conv, ConvInteger).
 *
 * This program checks that each network exports; whether the file
 * computes what cv_net_run computes takes an ONNX runtime, which the core
 * tests do not link.  So, when PGVISION_EXPORT_FIXTURES names a folder,
 * each case is also written there as <case>.onnx (input "pixels" float
 * [1, H, W, 3], output "output" in NHWC order), <case>.pixels (the uint8
 * pixels) and <case>.expected (cv_net_run's floats), and
 * test/export/check_fixtures.js runs them in onnxruntime (tools/test.sh
 * does both).
 */
#include "unit.h"
#include "export/onnx_proto.h"
#include "nn/nn.h"
#include "nn/nn_onnx.h"
#include "tflite_builder.c"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* TensorType, BuiltinOperator and BuiltinOptions values of schema.fbs */
enum
{
	F32 = 0, I32 = 2, U8 = 3, I8 = 9
};
enum
{
	OP_ADD = 0, OP_AVG = 1, OP_CONCAT = 2, OP_CONV = 3, OP_DW = 4, OP_FC = 9,
	OP_LOGISTIC = 14, OP_MAX = 17, OP_MUL = 18, OP_RESHAPE = 22, OP_SOFTMAX = 25,
	OP_PAD = 34, OP_MEAN = 40, OP_HARD_SWISH = 117
};
enum
{
	O_CONV = 1, O_DW = 2, O_POOL = 5, O_FC = 8, O_SOFTMAX = 9, O_CONCAT = 10,
	O_ADD = 11, O_MUL = 21, O_REDUCER = 27
};

/* Deterministic weights in [-0.5, 0.5), one static pool per seed (tbm_build reads them later). */
static float *
weights(size_t n, int seed)
{
	static float pool[8][4096];
	float	   *w = pool[seed % 8];

	for (size_t i = 0; i < n && i < 4096; i++)
		w[i] = (float) (((i * 37 + (size_t) seed * 101) % 97) / 97.0 - 0.5);
	return w;
}

static int
input_u8(tbm_model *m, int h, int w, float scale, int64_t zp)
{
	int			t;

	memset(m, 0, sizeof(*m));
	t = tbm_tensor_add(m, U8, 4, (int32_t[]) {1, h, w, 3}, NULL, 0);
	tbm_quant(m, t, 1, &scale, &zp, 0);
	m->input = t;
	return t;
}

static int
act(tbm_model *m, int rank, const int32_t *dims)
{
	return tbm_tensor_add(m, F32, rank, dims, NULL, 0);
}

static int
const_f32(tbm_model *m, int rank, const int32_t *dims, int seed)
{
	size_t		n = 1;

	for (int i = 0; i < rank; i++)
		n *= (size_t) dims[i];
	return tbm_tensor_add(m, F32, rank, dims, weights(n, seed), n * 4);
}

static void
window(tbm_op *op, bool same, int stride, int k)
{
	tbm_opt_u8(op, 0, same ? 0 : 1);
	tbm_opt_i32(op, 1, stride);
	tbm_opt_i32(op, 2, stride);
	if (k > 0)
	{
		tbm_opt_i32(op, 3, k);
		tbm_opt_i32(op, 4, k);
	}
}

/* conv (SAME, stride 2, RELU6) -> depthwise x2 -> avg -> max -> MEAN(W) -> RESHAPE -> FC -> SOFTMAX */
static void
net_windows(tbm_model *m, int *h, int *w)
{
	int			x = input_u8(m, 9, 7, 0.02f, 100);
	int			c = act(m, 4, (int32_t[]) {1, 5, 4, 4});
	int			d = act(m, 4, (int32_t[]) {1, 5, 4, 8});
	int			a = act(m, 4, (int32_t[]) {1, 3, 2, 8});
	int			mx = act(m, 4, (int32_t[]) {1, 2, 1, 8});
	int			mean = act(m, 3, (int32_t[]) {1, 2, 8});
	int			flat = act(m, 2, (int32_t[]) {1, 16});
	int			fc = act(m, 2, (int32_t[]) {1, 5});
	int			sm = act(m, 2, (int32_t[]) {1, 5});
	static const int32_t mean_axis[1] = {2};	/* read at tbm_build */
	int			axis = tbm_tensor_add(m, I32, 1, (int32_t[]) {1}, mean_axis, 4);
	tbm_op	   *op;

	*h = 9;
	*w = 7;
	op = tbm_op_add(m, OP_CONV, 3, (int32_t[]) {x, const_f32(m, 4, (int32_t[]) {4, 3, 3, 3}, 1),
			const_f32(m, 1, (int32_t[]) {4}, 2)}, c, O_CONV);
	window(op, true, 2, 0);
	tbm_opt_u8(op, 3, 3);		/* RELU6 */
	op = tbm_op_add(m, OP_DW, 3, (int32_t[]) {c, const_f32(m, 4, (int32_t[]) {1, 3, 3, 8}, 3),
			const_f32(m, 1, (int32_t[]) {8}, 4)}, d, O_DW);
	window(op, true, 1, 0);
	tbm_opt_i32(op, 3, 2);		/* depth multiplier */
	op = tbm_op_add(m, OP_AVG, 1, (int32_t[]) {d}, a, O_POOL);
	window(op, true, 2, 3);
	op = tbm_op_add(m, OP_MAX, 1, (int32_t[]) {a}, mx, O_POOL);
	window(op, false, 1, 2);
	tbm_opt_u8(tbm_op_add(m, OP_MEAN, 2, (int32_t[]) {mx, axis}, mean, O_REDUCER), 0, 0);
	tbm_op_add(m, OP_RESHAPE, 1, (int32_t[]) {mean}, flat, 0);
	tbm_op_add(m, OP_FC, 3, (int32_t[]) {flat, const_f32(m, 2, (int32_t[]) {5, 16}, 5),
			const_f32(m, 1, (int32_t[]) {5}, 6)}, fc, O_FC);
	tbm_opt_f32(tbm_op_add(m, OP_SOFTMAX, 1, (int32_t[]) {fc}, sm, O_SOFTMAX), 0, 0.5f);
	m->output = sm;
}

/* PAD -> MUL by a constant -> CONCAT -> HARD_SWISH -> LOGISTIC -> ADD broadcast -> RESHAPE across space */
static void
net_elementwise(tbm_model *m, int *h, int *w)
{
	int			x = input_u8(m, 4, 5, 0.05f, 128);
	static const int32_t pads[8] = {0, 0, 1, 2, 0, 1, 0, 0};	/* read at tbm_build */
	int			p = act(m, 4, (int32_t[]) {1, 7, 6, 3});
	int			mul = act(m, 4, (int32_t[]) {1, 7, 6, 3});
	int			cat = act(m, 4, (int32_t[]) {1, 7, 6, 6});
	int			hs = act(m, 4, (int32_t[]) {1, 7, 6, 6});
	int			lg = act(m, 4, (int32_t[]) {1, 7, 6, 6});
	int			add = act(m, 4, (int32_t[]) {1, 7, 6, 6});
	int			r = act(m, 3, (int32_t[]) {1, 7, 36});
	tbm_op	   *op;

	*h = 4;
	*w = 5;
	tbm_op_add(m, OP_PAD, 2, (int32_t[]) {x, tbm_tensor_add(m, I32, 2, (int32_t[]) {4, 2}, pads, 32)},
			   p, 0);
	tbm_op_add(m, OP_MUL, 2, (int32_t[]) {p, const_f32(m, 1, (int32_t[]) {3}, 1)}, mul, O_MUL);
	op = tbm_op_add(m, OP_CONCAT, 2, (int32_t[]) {p, mul}, cat, O_CONCAT);
	tbm_opt_i32(op, 0, -1);
	tbm_op_add(m, OP_HARD_SWISH, 1, (int32_t[]) {cat}, hs, 0);
	tbm_op_add(m, OP_LOGISTIC, 1, (int32_t[]) {hs}, lg, 0);
	tbm_op_add(m, OP_ADD, 2, (int32_t[]) {lg, const_f32(m, 4, (int32_t[]) {1, 1, 6, 1}, 2)}, add,
			   O_ADD);
	tbm_op_add(m, OP_RESHAPE, 1, (int32_t[]) {add}, r, 0);
	m->output = r;
}

/*
 * A convolution and an ADD whose outputs are uint8 of a narrow range: the
 * executor clamps them to [0, 1.275] and [-0.64, 0.635] (nn.h), and so
 * must the export.
 */
static void
net_quantized_range(tbm_model *m, int *h, int *w)
{
	int			x = input_u8(m, 6, 6, 0.02f, 128);
	int			c = tbm_tensor_add(m, U8, 4, (int32_t[]) {1, 6, 6, 4}, NULL, 0);
	int			a = tbm_tensor_add(m, U8, 4, (int32_t[]) {1, 6, 6, 4}, NULL, 0);
	float		cs = 0.005f,
				as = 0.005f;
	int64_t		cz = 0,
				az = 128;
	tbm_op	   *op;

	*h = 6;
	*w = 6;
	tbm_quant(m, c, 1, &cs, &cz, 0);
	tbm_quant(m, a, 1, &as, &az, 0);
	op = tbm_op_add(m, OP_CONV, 2, (int32_t[]) {x, const_f32(m, 4, (int32_t[]) {4, 1, 1, 3}, 7)}, c,
					O_CONV);
	window(op, true, 1, 0);
	tbm_op_add(m, OP_ADD, 2, (int32_t[]) {c, const_f32(m, 1, (int32_t[]) {4}, 3)}, a, O_ADD);
	m->output = a;
}

/* ---- networks for the int8 engine (net_onnx_int8.c) ---- */

static const int64_t zeros[64];

/* A uint8 activation of the given quantization. */
static int
act_u8(tbm_model *m, const int32_t dims[4], float scale, int64_t zp)
{
	int			t = tbm_tensor_add(m, U8, 4, dims, NULL, 0);

	tbm_quant(m, t, 1, &scale, &zp, 0);
	return t;
}

/* int32 bias b of n channels, quantized at in_scale * w_scale[c]. */
static int
bias_i32(tbm_model *m, int n, const int32_t *b, float in_scale, const float *w_scale)
{
	float		sc[64];
	int			t = tbm_tensor_add(m, I32, 1, (int32_t[]) {n}, b, (size_t) n * 4);

	for (int c = 0; c < n; c++)
		sc[c] = in_scale * w_scale[c];
	tbm_quant(m, t, n, sc, zeros, 0);
	return t;
}

/*
 * conv 3x3 stride 2 (int8 per-channel filters; channel 0 rescales by more
 * than 1, a left shift; RELU6) -> depthwise 3x3, dilation 2, multiplier 3
 * (uint8 filters, zero point 120; output zero point 5) -> conv 5x5 on 24
 * channels (uint8 filters of 0 and 255 against 128: sums too large for
 * float32, so ConvInteger)
 * -> dequantized output.  Negative biases and accumulators throughout.
 */
static void
net_int8_conv(tbm_model *m, int *h, int *w)
{
	static int8_t w1[8 * 3 * 3 * 3];
	static int32_t b1[8];
	static uint8_t w2[3 * 3 * 24];
	static int32_t b2[24];
	static uint8_t w3[4 * 5 * 5 * 24];
	static int32_t b3[4];
	static const float s1[8] = {2.0f, 0.004f, 0.006f, 0.003f, 0.008f, 0.005f, 0.0045f, 0.007f};
	float		s2 = 0.01f,
				s3 = 0.011f,
				s2v[24],
				s3v[4];
	int64_t		z2 = 120,
				z3 = 128;
	int			x = input_u8(m, 9, 8, 0.02f, 100);
	int			c1 = act_u8(m, (int32_t[]) {1, 5, 4, 8}, 0.03f, 10);
	int			d1 = act_u8(m, (int32_t[]) {1, 5, 4, 24}, 0.05f, 5);
	int			c2 = act_u8(m, (int32_t[]) {1, 5, 4, 4}, 1.2f, 131);
	int			t;
	tbm_op	   *op;

	*h = 9;
	*w = 8;
	for (size_t i = 0; i < sizeof(w1); i++)
		w1[i] = (int8_t) ((int) ((i * 73 + 11) % 255) - 127);
	for (int c = 0; c < 8; c++)
		b1[c] = (c % 2 ? -1 : 1) * (c * 977 + 13);
	for (size_t i = 0; i < sizeof(w2); i++)
		w2[i] = (uint8_t) ((i * 151 + 5) % 256);
	for (int c = 0; c < 24; c++)
	{
		b2[c] = c * 1231 - 15000;
		s2v[c] = s2;
	}
	for (size_t i = 0; i < sizeof(w3); i++)
		w3[i] = ((i * 7 + i / 5) % 2) ? 255 : 0;
	for (int c = 0; c < 4; c++)
	{
		b3[c] = -70000 + c * 50000;
		s3v[c] = s3;
	}

	t = tbm_tensor_add(m, I8, 4, (int32_t[]) {8, 3, 3, 3}, w1, sizeof(w1));
	tbm_quant(m, t, 8, s1, zeros, 0);
	op = tbm_op_add(m, OP_CONV, 3, (int32_t[]) {x, t, bias_i32(m, 8, b1, 0.02f, s1)}, c1, O_CONV);
	window(op, true, 2, 0);
	tbm_opt_u8(op, 3, 3);		/* RELU6 */

	t = tbm_tensor_add(m, U8, 4, (int32_t[]) {1, 3, 3, 24}, w2, sizeof(w2));
	tbm_quant(m, t, 1, &s2, &z2, 0);
	op = tbm_op_add(m, OP_DW, 3, (int32_t[]) {c1, t, bias_i32(m, 24, b2, 0.03f, s2v)}, d1, O_DW);
	window(op, true, 1, 0);
	tbm_opt_i32(op, 3, 3);		/* depth multiplier */
	tbm_opt_i32(op, 5, 2);		/* dilation */
	tbm_opt_i32(op, 6, 2);

	t = tbm_tensor_add(m, U8, 4, (int32_t[]) {4, 5, 5, 24}, w3, sizeof(w3));
	tbm_quant(m, t, 1, &s3, &z3, 0);
	op = tbm_op_add(m, OP_CONV, 3, (int32_t[]) {d1, t, bias_i32(m, 4, b3, 0.05f, s3v)}, c2, O_CONV);
	window(op, true, 1, 0);
	m->output = c2;
}

/*
 * A float MUL (its output quantized at scale 0.5: x / 0.5 ties at every
 * odd pixel, positive and negative) -> QUANTIZE -> PAD with the zero point
 * -> a 1x1 conv and a depthwise whose power-of-two scales make the
 * rescaling land on halves (ties in both roundings; channel 2 shifts
 * left) -> ADD into a narrow output scale (saturation at 0 and at 255,
 * RELU) -> dequantized output.
 */
static void
net_int8_add(tbm_model *m, int *h, int *w)
{
	static const int32_t pads[8] = {0, 0, 1, 1, 2, 0, 0, 0};	/* read at tbm_build */
	static int8_t wc[3 * 3];
	static int32_t bc[3] = {-37, 5, -1000};
	static int8_t wd[3 * 3 * 3];
	static int32_t bd[3] = {-3, 100, 0};
	static const float sc[3] = {0.125f, 0.25f, 4.0f};
	static const float sd[3] = {0.5f, 0.25f, 0.125f};
	int			x = input_u8(m, 6, 5, 0.25f, 128);
	int			mul = act_u8(m, (int32_t[]) {1, 6, 5, 3}, 0.5f, 120);
	int			pad = act_u8(m, (int32_t[]) {1, 8, 7, 3}, 0.5f, 120);
	int			c = act_u8(m, (int32_t[]) {1, 8, 7, 3}, 1.0f, 128);
	int			d = act_u8(m, (int32_t[]) {1, 8, 7, 3}, 2.0f, 100);
	int			a = act_u8(m, (int32_t[]) {1, 8, 7, 3}, 0.5f, 20);
	static const float one[3] = {1.0f, 1.0f, 1.0f};
	int			t;
	tbm_op	   *op;

	*h = 6;
	*w = 5;
	for (int i = 0; i < 9; i++)
		wc[i] = (int8_t) ((i * 5) % 11 - 5);
	for (int i = 0; i < 27; i++)
		wd[i] = (int8_t) ((i * 7) % 13 - 6);
	tbm_op_add(m, OP_MUL, 2, (int32_t[]) {x, tbm_tensor_add(m, F32, 1, (int32_t[]) {3}, one, 12)},
			   mul, O_MUL);
	tbm_op_add(m, OP_PAD, 2, (int32_t[]) {mul, tbm_tensor_add(m, I32, 2, (int32_t[]) {4, 2}, pads, 32)},
			   pad, 0);

	t = tbm_tensor_add(m, I8, 4, (int32_t[]) {3, 1, 1, 3}, wc, sizeof(wc));
	tbm_quant(m, t, 3, sc, zeros, 0);
	op = tbm_op_add(m, OP_CONV, 3, (int32_t[]) {pad, t, bias_i32(m, 3, bc, 0.5f, sc)}, c, O_CONV);
	window(op, true, 1, 0);

	t = tbm_tensor_add(m, I8, 4, (int32_t[]) {1, 3, 3, 3}, wd, sizeof(wd));
	tbm_quant(m, t, 3, sd, zeros, 3);
	op = tbm_op_add(m, OP_DW, 3, (int32_t[]) {pad, t, bias_i32(m, 3, bd, 0.5f, sd)}, d, O_DW);
	window(op, true, 1, 0);
	tbm_opt_i32(op, 3, 1);

	op = tbm_op_add(m, OP_ADD, 2, (int32_t[]) {c, d}, a, O_ADD);
	tbm_opt_u8(op, 0, 1);		/* RELU */
	m->output = a;
}

typedef void (*net_fn) (tbm_model *m, int *h, int *w);

static void
write_file(const char *dir, const char *name, const char *ext, const void *data, size_t n)
{
	char		path[1024];
	FILE	   *f;

	snprintf(path, sizeof(path), "%s/%s.%s", dir, name, ext);
	f = fopen(path, "wb");
	CHECK_MSG(f != NULL, "cannot write %s", path);
	if (f == NULL)
		return;
	CHECK(fwrite(data, 1, n, f) == n);
	fclose(f);
}

/*
 * Export the net build makes and, with PGVISION_EXPORT_FIXTURES, write it
 * with cv_net_run's output.  On the int8 engine, the expected output comes
 * from the portable reference kernels (the ground truth of nn_qkernels.h),
 * and at least min_integer steps must run on integers; op_type, if not
 * NULL, must occur in the file.
 */
static void
check_case_on(const char *name, net_fn build, cv_net_engine engine, int min_integer,
			  const char *op_type)
{
	tbm_model	m;
	int			h,
				w;
	size_t		len,
				onnx_len = 0;
	uint8_t    *bytes,
			   *onnx = NULL,
			   *px;
	cv_net	   *run = NULL,
			   *read = NULL;
	cv_net_workspace *ws = NULL;
	cv_net_options opt = {.keep_layouts = true, .engine = engine};
	cv_net_options run_opt = {.engine = engine};
	float	   *expected;
	int			n_out;
	onnx_graph *g;
	char		names[1][CV_NET_ONNX_NAME_MAX];
	int			out_dims[4];
	cv_error	err;
	const char *fixtures = getenv("PGVISION_EXPORT_FIXTURES");

	build(&m, &h, &w);
	bytes = tbm_build(&m, &len);
	px = malloc((size_t) h * w * 3);
	for (int i = 0; i < h * w * 3; i++)
		px[i] = (uint8_t) ((i * 29 + 7) % 256);
	cv_nn_set_portable(engine == CV_NET_ENGINE_INT8);
	CHECK_MSG(cv_net_load_with(bytes, len, &run_opt, &run, &err) == CV_OK, "%s: %s", name,
			  err.message);
	cv_nn_set_portable(false);
	CHECK_MSG(cv_net_load_with(bytes, len, &opt, &read, &err) == CV_OK, "%s: %s", name, err.message);
	if (run == NULL || read == NULL)
		goto done;
	CHECK_MSG(cv_net_get_info(run)->integer_steps >= min_integer &&
			  cv_net_get_info(read)->integer_steps == cv_net_get_info(run)->integer_steps,
			  "%s: %d integer steps run, %d read", name, cv_net_get_info(run)->integer_steps,
			  cv_net_get_info(read)->integer_steps);
	n_out = cv_net_get_info(run)->num_outputs;
	expected = malloc(sizeof(float) * n_out);
	CHECK(cv_net_workspace_create(run, &ws, &err) == CV_OK);
	CHECK(cv_net_run(run, ws, px, expected, NULL, &err) == CV_OK);

	g = onnx_graph_create(name);
	onnx_graph_input(g, "pixels", ONNX_FLOAT, 4, (int64_t[]) {1, h, w, 3});
	CHECK_MSG(cv_net_emit_onnx(read, g, "pixels", 1, &m.output, names, &err) == CV_OK,
			  "%s: %s", name, err.message);
	/* the output back in NHWC order, as cv_net_run gives it */
	{
		int			r = m.tensors[m.output].rank;
		int64_t		dims[4];
		int			node;

		for (int d = 0; d < 4; d++)
			out_dims[d] = d < 4 - r ? 1 : m.tensors[m.output].dims[d - (4 - r)];
		for (int d = 0; d < 4; d++)
			dims[d] = out_dims[d];
		node = onnx_node(g, "Transpose", 1, (const char *[]) {names[0]}, 1,
						 (const char *[]) {"output"});
		onnx_attr_ints(g, node, "perm", 4, (const int64_t[]) {0, 2, 3, 1});
		onnx_graph_output(g, "output", ONNX_FLOAT, 4, dims);
	}
	CHECK(out_dims[0] * out_dims[1] * out_dims[2] * out_dims[3] == n_out);
	CHECK_MSG(onnx_serialize(g, 17, "test", "0", &onnx, &onnx_len, &err) == CV_OK,
			  "%s: %s", name, err.message);
	CHECK(onnx_len > 0);
	if (min_integer > 0)
		CHECK_MSG(onnx_graph_num_nodes(g) > 10 * min_integer, "%s: %d nodes", name,
				  onnx_graph_num_nodes(g));
	if (op_type != NULL && onnx != NULL)
	{
		bool		found = false;
		size_t		k = strlen(op_type);

		for (size_t i = 0; i + k <= onnx_len && !found; i++)
			found = memcmp(onnx + i, op_type, k) == 0;
		CHECK_MSG(found, "%s: no %s in the file", name, op_type);
	}
	if (fixtures != NULL && onnx != NULL)
	{
		write_file(fixtures, name, "onnx", onnx, onnx_len);
		write_file(fixtures, name, "pixels", px, (size_t) h * w * 3);
		write_file(fixtures, name, "expected", expected, sizeof(float) * n_out);
	}
	cv_free(onnx);
	onnx_graph_free(g);
	free(expected);
done:
	cv_net_workspace_free(ws);
	cv_net_free(run);
	cv_net_free(read);
	free(px);
	free(bytes);
}

static void
check_case(const char *name, net_fn build)
{
	check_case_on(name, build, CV_NET_ENGINE_FLOAT, 0, NULL);
}

static void
test_windows(void)
{
	check_case("windows", net_windows);
}

static void
test_elementwise(void)
{
	check_case("elementwise", net_elementwise);
}

static void
test_quantized_range(void)
{
	check_case("quantized_range", net_quantized_range);
}

/* the 5x5 convolution needs ConvInteger, the others take the float Conv */
static void
test_int8_conv(void)
{
	check_case_on("int8_conv", net_int8_conv, CV_NET_ENGINE_INT8, 3, "ConvInteger");
}

/* every integer step: QUANTIZE, QPAD, QCONV, QDEPTHWISE, QADD, DEQUANTIZE */
static void
test_int8_add(void)
{
	check_case_on("int8_add", net_int8_add, CV_NET_ENGINE_INT8, 4, "GreaterOrEqual");
}

UNIT_MAIN("export_ops",
		  UNIT_CASE(test_windows),
		  UNIT_CASE(test_elementwise),
		  UNIT_CASE(test_quantized_range),
		  UNIT_CASE(test_int8_conv),
		  UNIT_CASE(test_int8_add))
