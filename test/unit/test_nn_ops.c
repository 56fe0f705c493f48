/*
 * test_nn_ops.c
 *	  Operators of src/core/nn on tiny TFLite models built in the test
 *	  (tflite_builder.c): hand-computed values for each operator, SAME
 *	  padding with stride 2, dilation, per-channel int8 and per-tensor uint8
 *	  weights, broadcasting, and the errors for unsupported or inconsistent
 *	  models.  Kernels with vector and tail paths are also compared with a
 *	  naive reference directly.
 */
#include "unit.h"
#include "nn/nn.h"
#include "nn/nn_kernels.h"
#include "tflite_builder.c"
#include "test_nn_util.h"

/* TensorType, BuiltinOperator and BuiltinOptions values of schema.fbs */
enum
{
	F32 = 0, I32 = 2, U8 = 3, I8 = 9
};
enum
{
	OP_ADD = 0, OP_AVG = 1, OP_CONCAT = 2, OP_CONV = 3, OP_DW = 4, OP_DEQ = 6, OP_FC = 9,
	OP_LOGISTIC = 14, OP_MAX = 17, OP_MUL = 18, OP_RELU = 19, OP_RELU6 = 21,
	OP_RESHAPE = 22, OP_RESIZE_BILINEAR = 23, OP_SOFTMAX = 25, OP_PAD = 34, OP_MEAN = 40,
	OP_SQUEEZE = 43, OP_QUANTIZE = 114, OP_HARD_SWISH = 117
};
enum
{
	O_CONV = 1, O_DW = 2, O_POOL = 5, O_FC = 8, O_SOFTMAX = 9, O_CONCAT = 10,
	O_ADD = 11, O_MUL = 21, O_REDUCER = 27
};

/* A model whose input is 1 x h x w x 3 uint8 with the given scale / zero point. */
static int
input_tensor(tbm_model *m, int h, int w, float scale, int64_t zp)
{
	int32_t		dims[4] = {1, h, w, 3};
	int			t;

	memset(m, 0, sizeof(*m));
	t = tbm_tensor_add(m, U8, 4, dims, NULL, 0);
	tbm_quant(m, t, 1, &scale, &zp, 0);
	m->input = t;
	return t;
}

static int
act4(tbm_model *m, int a, int b, int c, int d)
{
	int32_t		dims[4] = {a, b, c, d};

	return tbm_tensor_add(m, U8, 4, dims, NULL, 0);
}

static int
const_f32(tbm_model *m, int rank, const int32_t *dims, const float *data)
{
	size_t		n = 1;

	for (int i = 0; i < rank; i++)
		n *= (size_t) dims[i];
	return tbm_tensor_add(m, F32, rank, dims, data, n * 4);
}

/* Build, load and run on pixels; out gets num_outputs floats. */
static cv_status
run_model(tbm_model *m, const uint8_t *pixels, float *out, int max_out, cv_error *err)
{
	size_t		len;
	uint8_t    *bytes = tbm_build(m, &len);
	cv_net	   *net = NULL;
	cv_net_workspace *ws = NULL;
	cv_status	st = cv_net_load(bytes, len, &net, err);

	free(bytes);
	if (st != CV_OK)
		return st;
	if (cv_net_get_info(net)->num_outputs > max_out)
		st = cv_fail(err, CV_ERR_INTERNAL, "test output too small");
	if (st == CV_OK)
		st = cv_net_workspace_create(net, &ws, err);
	if (st == CV_OK)
		st = cv_net_run(net, ws, pixels, out, NULL, err);
	cv_net_workspace_free(ws);
	cv_net_free(net);
	return st;
}

/* pixel (y, x, c) of an h x w image = (y * w + x) * 3 + c */
static void
ramp(uint8_t *px, int h, int w)
{
	for (int i = 0; i < h * w * 3; i++)
		px[i] = (uint8_t) i;
}

/* naive reference convolution / depthwise (NHWC) with TFLite SAME padding */
static void
ref_conv(const float *in, int h, int w, int c, const float *wt, const float *bias,
		 int oc, int kh, int kw, int s, int d, int pt, int pl, int oh, int ow,
		 bool depthwise, int mult, float *out)
{
	for (int y = 0; y < oh; y++)
		for (int x = 0; x < ow; x++)
			for (int o = 0; o < oc; o++)
			{
				double		acc = bias ? bias[o] : 0.0;

				for (int ky = 0; ky < kh; ky++)
					for (int kx = 0; kx < kw; kx++)
					{
						int			iy = y * s - pt + ky * d,
									ix = x * s - pl + kx * d;

						if (iy < 0 || iy >= h || ix < 0 || ix >= w)
							continue;
						if (depthwise)
							acc += in[(iy * w + ix) * c + o / mult] * wt[(ky * kw + kx) * oc + o];
						else
							for (int i = 0; i < c; i++)
								acc += in[(iy * w + ix) * c + i] * wt[((o * kh + ky) * kw + kx) * c + i];
					}
				out[(y * ow + x) * oc + o] = (float) acc;
			}
}

static void
test_conv_same_stride2(void)
{
	tbm_model	m;
	uint8_t		px[75];
	float		wt[2 * 27] = {0},
				bias[2] = {0.5f, -1.0f},
				out[18],
				ref[18],
				in[75];
	int32_t		wd[4] = {2, 3, 3, 3},
				bd[1] = {2};
	int			x,
				w,
				b,
				y;
	tbm_op	   *op;
	cv_error	err;

	for (int i = 0; i < 27; i++)
		wt[i] = 1.0f;			/* filter 0: sum of the window */
	wt[27 + (1 * 3 + 1) * 3 + 0] = 1.0f;	/* filter 1: centre tap, channel 0 */
	x = input_tensor(&m, 5, 5, 1.0f, 0);
	w = const_f32(&m, 4, wd, wt);
	b = const_f32(&m, 1, bd, bias);
	y = act4(&m, 1, 3, 3, 2);
	op = tbm_op_add(&m, OP_CONV, 3, (int32_t[]) {x, w, b}, y, O_CONV);
	tbm_opt_u8(op, 0, 0);		/* SAME */
	tbm_opt_i32(op, 1, 2);
	tbm_opt_i32(op, 2, 2);
	m.output = y;
	ramp(px, 5, 5);
	CHECK(run_model(&m, px, out, 18, &err) == CV_OK);
	/* SAME, stride 2, 5 -> 3: one row/column of padding on each side */
	CHECK_NEAR(out[0], 3 + 12 + 48 + 57 + 0.5, 1e-4);	/* pixels (0,0),(0,1),(1,0),(1,1) */
	CHECK_NEAR(out[1], 0 - 1.0, 1e-4);
	CHECK_NEAR(out[16], 165 + 174 + 210 + 219 + 0.5, 1e-4);
	CHECK_NEAR(out[17], 72 - 1.0, 1e-4);
	for (int i = 0; i < 75; i++)
		in[i] = px[i];
	ref_conv(in, 5, 5, 3, wt, bias, 2, 3, 3, 2, 1, 1, 1, 3, 3, false, 1, ref);
	for (int i = 0; i < 18; i++)
		CHECK_NEAR(out[i], ref[i], 1e-3);
}

static void
test_conv_int8_per_channel(void)
{
	tbm_model	m;
	int8_t		q[6] = {2, 4, -6, 1, 1, 1};
	int32_t		qb[2] = {10, -4};
	float		ws[2] = {0.5f, 0.25f},
				bs[2] = {0.1f, 0.1f},
				out[2 * 4];
	int64_t		zp[2] = {0, 0};
	int32_t		wd[4] = {2, 1, 1, 3},
				bd[1] = {2};
	uint8_t		px[12] = {1, 2, 3, 10, 0, 1, 4, 4, 4, 0, 0, 9};
	int			x,
				w,
				b,
				y;
	tbm_op	   *op;
	cv_error	err;

	x = input_tensor(&m, 2, 2, 1.0f, 0);
	w = tbm_tensor_add(&m, I8, 4, wd, q, 6);
	tbm_quant(&m, w, 2, ws, zp, 0);
	b = tbm_tensor_add(&m, I32, 1, bd, qb, 8);
	tbm_quant(&m, b, 2, bs, zp, 0);
	y = act4(&m, 1, 2, 2, 2);
	op = tbm_op_add(&m, OP_CONV, 3, (int32_t[]) {x, w, b}, y, O_CONV);
	tbm_opt_u8(op, 0, 1);		/* VALID */
	tbm_opt_i32(op, 1, 1);
	tbm_opt_i32(op, 2, 1);
	m.output = y;
	CHECK(run_model(&m, px, out, 8, &err) == CV_OK);
	for (int p = 0; p < 4; p++)
	{
		float		a = px[3 * p],
					bb = px[3 * p + 1],
					c = px[3 * p + 2];

		/* weights (1, 2, -3) and (0.25, 0.25, 0.25); biases 1.0 and -0.4 */
		CHECK_NEAR(out[2 * p], a + 2 * bb - 3 * c + 1.0f, 1e-5);
		CHECK_NEAR(out[2 * p + 1], 0.25f * (a + bb + c) - 0.4f, 1e-5);
	}
	CHECK_NEAR(out[0], 1 + 4 - 9 + 1.0, 1e-5);	/* hand-computed pixel (1, 2, 3) */
}

static void
test_conv_uint8_relu6_dilated(void)
{
	tbm_model	m;
	uint8_t		q[9 * 3],
				px[7 * 7 * 3];
	float		s = 0.5f,
				wt[27],
				in[147],
				ref[49],
				out[49];
	int64_t		z = 128;
	int32_t		wd[4] = {1, 3, 3, 3};
	int			x,
				w,
				y;
	tbm_op	   *op;
	cv_error	err;

	for (int i = 0; i < 27; i++)
	{
		q[i] = (uint8_t) (128 + (i % 5) - 2);	/* reals -1, -0.5, 0, 0.5, 1 */
		wt[i] = ((int) q[i] - 128) * 0.5f;
	}
	x = input_tensor(&m, 7, 7, 0.1f, 100);
	w = tbm_tensor_add(&m, U8, 4, wd, q, 27);
	tbm_quant(&m, w, 1, &s, &z, 0);
	y = act4(&m, 1, 7, 7, 1);
	op = tbm_op_add(&m, OP_CONV, 2, (int32_t[]) {x, w}, y, O_CONV);
	tbm_opt_u8(op, 0, 0);
	tbm_opt_i32(op, 1, 1);
	tbm_opt_i32(op, 2, 1);
	tbm_opt_u8(op, 3, 3);		/* RELU6 */
	tbm_opt_i32(op, 4, 2);		/* dilation 2 */
	tbm_opt_i32(op, 5, 2);
	m.output = y;
	for (int i = 0; i < 147; i++)
	{
		px[i] = (uint8_t) ((i * 37) % 200 + 20);
		in[i] = (px[i] - 100) * 0.1f;
	}
	CHECK(run_model(&m, px, out, 49, &err) == CV_OK);
	/* dilation 2: effective window 5, SAME pad 2 */
	ref_conv(in, 7, 7, 3, wt, NULL, 1, 3, 3, 1, 2, 2, 2, 7, 7, false, 1, ref);
	for (int i = 0; i < 49; i++)
		CHECK_NEAR(out[i], fminf(fmaxf(ref[i], 0.0f), 6.0f), 1e-4);
}

/* The direct path of few-channel convolutions (16/32/64 filters) and sgemm agree. */
static void
test_conv_direct_stem(void)
{
	static const int shapes[][4] = {{16, 3, 2, 1}, {32, 3, 2, 1}, {64, 3, 1, 2}, {24, 3, 2, 1}};

	for (int k = 0; k < 4; k++)
	{
		tbm_model	m;
		int			oc = shapes[k][0],
					kk = shapes[k][1],
					s = shapes[k][2],
					d = shapes[k][3];
		int			h = 9,
					w = 7,
					oh = (h + s - 1) / s,
					ow = (w + s - 1) / s;
		int			eff = (kk - 1) * d + 1;
		int			pt = ((oh - 1) * s + eff - h) / 2,
					pl = ((ow - 1) * s + eff - w) / 2;
		float	   *wt = malloc(sizeof(float) * oc * kk * kk * 3),
				   *bias = malloc(sizeof(float) * oc),
				   *out = malloc(sizeof(float) * oh * ow * oc),
				   *ref = malloc(sizeof(float) * oh * ow * oc),
					in[9 * 7 * 3];
		uint8_t		px[9 * 7 * 3];
		int32_t		wd[4] = {oc, kk, kk, 3},
					bd[1] = {oc};
		int			x,
					wi,
					b,
					y;
		tbm_op	   *op;
		cv_error	err;
		double		md = 0;

		for (int i = 0; i < oc * kk * kk * 3; i++)
			wt[i] = (float) ((i * 13) % 11 - 5) * 0.1f;
		for (int i = 0; i < oc; i++)
			bias[i] = 0.05f * i;
		for (int i = 0; i < h * w * 3; i++)
		{
			px[i] = (uint8_t) ((i * 53) % 256);
			in[i] = (px[i] - 128) / 128.0f;
		}
		x = input_tensor(&m, h, w, 1 / 128.0f, 128);
		wi = const_f32(&m, 4, wd, wt);
		b = const_f32(&m, 1, bd, bias);
		y = act4(&m, 1, oh, ow, oc);
		op = tbm_op_add(&m, OP_CONV, 3, (int32_t[]) {x, wi, b}, y, O_CONV);
		tbm_opt_u8(op, 0, 0);
		tbm_opt_i32(op, 1, s);
		tbm_opt_i32(op, 2, s);
		tbm_opt_i32(op, 4, d);
		tbm_opt_i32(op, 5, d);
		m.output = y;
		CHECK(run_model(&m, px, out, oh * ow * oc, &err) == CV_OK);
		ref_conv(in, h, w, 3, wt, bias, oc, kk, kk, s, d, pt > 0 ? pt : 0, pl > 0 ? pl : 0,
				 oh, ow, false, 1, ref);
		for (int i = 0; i < oh * ow * oc; i++)
			md = fmax(md, fabs(out[i] - ref[i]));
		CHECK_MSG(md < 1e-4, "%d filters: max diff %g", oc, md);
		free(wt);
		free(bias);
		free(out);
		free(ref);
	}
}

static void
test_depthwise_tflite(void)
{
	tbm_model	m;
	uint8_t		px[6 * 6 * 3];
	float		wt[9 * 6],
				bias[6] = {1, 2, 3, 4, 5, 6},
				in[108],
				ref[3 * 3 * 6],
				out[3 * 3 * 6];
	int32_t		wd[4] = {1, 3, 3, 6},
				bd[1] = {6};
	int			x,
				w,
				b,
				y;
	tbm_op	   *op;
	cv_error	err;

	for (int i = 0; i < 54; i++)
		wt[i] = (float) ((i % 7) - 3) * 0.25f;
	x = input_tensor(&m, 6, 6, 1.0f, 128);
	w = const_f32(&m, 4, wd, wt);
	b = const_f32(&m, 1, bd, bias);
	y = act4(&m, 1, 3, 3, 6);
	op = tbm_op_add(&m, OP_DW, 3, (int32_t[]) {x, w, b}, y, O_DW);
	tbm_opt_u8(op, 0, 0);		/* SAME */
	tbm_opt_i32(op, 1, 2);
	tbm_opt_i32(op, 2, 2);
	tbm_opt_i32(op, 3, 2);		/* channel multiplier 2 */
	m.output = y;
	for (int i = 0; i < 108; i++)
	{
		px[i] = (uint8_t) ((i * 29) % 256);
		in[i] = px[i] - 128.0f;
	}
	CHECK(run_model(&m, px, out, 54, &err) == CV_OK);
	/* 6 -> 3 with stride 2: total padding 1, all of it at the bottom/right */
	ref_conv(in, 6, 6, 3, wt, bias, 6, 3, 3, 2, 1, 0, 0, 3, 3, true, 2, ref);
	for (int i = 0; i < 54; i++)
		CHECK_NEAR(out[i], ref[i], 1e-3);
	/* hand check: output (0,0), channel 0 = input channel 0, window rows/cols 0..2 */
	{
		double		acc = 1.0;

		for (int ky = 0; ky < 3; ky++)
			for (int kx = 0; kx < 3; kx++)
				acc += in[(ky * 6 + kx) * 3] * wt[(ky * 3 + kx) * 6];
		CHECK_NEAR(out[0], acc, 1e-3);
	}
}

/* The depthwise kernel's vector, quad and border paths against the reference. */
static void
test_depthwise_kernel_paths(void)
{
	static const int cases[][6] = {
		/* h, w, c, k, stride, dilation */
		{9, 13, 20, 3, 1, 1}, {10, 11, 24, 3, 2, 1}, {12, 12, 16, 3, 1, 2},
		{7, 9, 8, 5, 1, 1}, {8, 8, 5, 3, 2, 1}, {6, 17, 32, 7, 2, 1},
	};

	for (size_t t = 0; t < sizeof(cases) / sizeof(cases[0]); t++)
	{
		int			c = cases[t][2],
					k = cases[t][3];
		dw_case		dc;
		const nn_conv_params *p = &dc.p;
		float	   *out,
				   *ref;
		double		maxdiff = 0;

		dw_case_make(&dc, cases[t][0], cases[t][1], c, k, cases[t][4], cases[t][5]);
		out = malloc(sizeof(float) * dc.out_count);
		ref = malloc(sizeof(float) * dc.out_count);
		nn_depthwise(p, dc.in, out);
		ref_conv(dc.in, p->in_h, p->in_w, c, dc.weights, dc.bias, c, k, k, p->stride_h,
				 p->dil_h, p->pad_top, p->pad_left, p->out_h, p->out_w, true, 1, ref);
		for (int i = 0; i < dc.out_count; i++)
			maxdiff = fmax(maxdiff, fabs(out[i] - ref[i]));
		CHECK_MSG(maxdiff < 1e-4, "case %zu: max diff %g", t, maxdiff);
		dw_case_free(&dc);
		free(out);
		free(ref);
	}
}

static void
test_fully_connected_softmax(void)
{
	tbm_model	m;
	uint8_t		px[12];
	float		wt[2 * 12],
				bias[2] = {0.5f, -0.5f},
				out[2];
	int32_t		wd[2] = {2, 12},
				bd[1] = {2},
				rd[2] = {1, 2};
	int			x,
				w,
				b,
				f,
				y;
	cv_error	err;
	double		l0 = 0.5,
				l1 = -0.5,
				e0,
				e1;

	for (int i = 0; i < 12; i++)
	{
		px[i] = (uint8_t) i;
		wt[i] = 1.0f / 12;		/* row 0: mean */
		wt[12 + i] = i % 2 ? -0.1f : 0.1f;	/* row 1: alternating */
		l0 += i / 12.0;
		l1 += (i % 2 ? -0.1 : 0.1) * i;
	}
	x = input_tensor(&m, 2, 2, 1.0f, 0);
	w = const_f32(&m, 2, wd, wt);
	b = const_f32(&m, 1, bd, bias);
	f = tbm_tensor_add(&m, U8, 2, rd, NULL, 0);
	y = tbm_tensor_add(&m, U8, 2, rd, NULL, 0);
	tbm_op_add(&m, OP_FC, 3, (int32_t[]) {x, w, b}, f, O_FC);
	tbm_opt_f32(tbm_op_add(&m, OP_SOFTMAX, 1, (int32_t[]) {f}, y, O_SOFTMAX), 0, 1.0f);
	m.output = y;
	CHECK(run_model(&m, px, out, 2, &err) == CV_OK);
	/* logits 6.0 and -1.1 */
	e0 = exp(l0);
	e1 = exp(l1);
	CHECK_NEAR(l0, 6.0, 1e-9);
	CHECK_NEAR(out[0], e0 / (e0 + e1), 1e-5);
	CHECK_NEAR(out[1], e1 / (e0 + e1), 1e-5);
}

static void
test_add_mul_broadcast(void)
{
	tbm_model	m;
	uint8_t		px[12];
	float		cv[3] = {1, 2, 3},
				sv[3] = {-1, 0.5f, 2},
				out[12];
	int32_t		d1[1] = {3},
				d4[4] = {1, 1, 1, 3};
	int			x,
				c,
				s,
				a,
				mm,
				r;
	cv_error	err;

	for (int i = 0; i < 12; i++)
		px[i] = (uint8_t) (i * 10);
	x = input_tensor(&m, 2, 2, 0.1f, 50);
	c = const_f32(&m, 1, d1, cv);	/* rank 1 against rank 4 */
	s = const_f32(&m, 4, d4, sv);
	a = act4(&m, 1, 2, 2, 3);
	mm = act4(&m, 1, 2, 2, 3);
	r = act4(&m, 1, 2, 2, 3);
	tbm_op_add(&m, OP_ADD, 2, (int32_t[]) {x, c}, a, O_ADD);
	tbm_op_add(&m, OP_MUL, 2, (int32_t[]) {s, a}, mm, O_MUL);
	/* residual ADD of two activations with a fused RELU */
	tbm_opt_u8(tbm_op_add(&m, OP_ADD, 2, (int32_t[]) {mm, x}, r, O_ADD), 0, 1);
	m.output = r;
	CHECK(run_model(&m, px, out, 12, &err) == CV_OK);
	for (int i = 0; i < 12; i++)
	{
		float		v = (px[i] - 50) * 0.1f;
		float		e = (v + cv[i % 3]) * sv[i % 3] + v;

		CHECK_NEAR(out[i], e > 0 ? e : 0, 1e-5);
	}
	/* pixel 0: v = -5, (-5 + 1) * -1 + -5 = -1 -> RELU 0; pixel 11: v = 6, (6 + 3) * 2 + 6 = 24 */
	CHECK_NEAR(out[0], 0.0, 1e-6);
	CHECK_NEAR(out[11], 24.0, 1e-5);
}

static void
test_pools_mean(void)
{
	tbm_model	m;
	uint8_t		px[75];
	float		out[27 + 27 + 3];
	int			x,
				av,
				mx,
				mn,
				cat,
				ax;
	int32_t		axes[2] = {1, 2},
				ad[1] = {2};
	tbm_op	   *op;
	cv_error	err;

	ramp(px, 5, 5);
	x = input_tensor(&m, 5, 5, 1.0f, 0);
	av = act4(&m, 1, 3, 3, 3);
	mx = act4(&m, 1, 3, 3, 3);
	ax = tbm_tensor_add(&m, I32, 1, ad, axes, 8);
	mn = act4(&m, 1, 1, 1, 3);
	op = tbm_op_add(&m, OP_AVG, 1, (int32_t[]) {x}, av, O_POOL);
	tbm_opt_u8(op, 0, 0);
	tbm_opt_i32(op, 1, 2);
	tbm_opt_i32(op, 2, 2);
	tbm_opt_i32(op, 3, 3);
	tbm_opt_i32(op, 4, 3);
	op = tbm_op_add(&m, OP_MAX, 1, (int32_t[]) {x}, mx, O_POOL);
	tbm_opt_u8(op, 0, 0);
	tbm_opt_i32(op, 1, 2);
	tbm_opt_i32(op, 2, 2);
	tbm_opt_i32(op, 3, 3);
	tbm_opt_i32(op, 4, 3);
	tbm_opt_u8(tbm_op_add(&m, OP_MEAN, 2, (int32_t[]) {x, ax}, mn, O_REDUCER), 0, 1);
	/* concatenate the three along channels, flattened: 1 x 1 x 1 x 57 is not
	 * possible (shapes differ), so concatenate avg and max along axis 3 */
	cat = act4(&m, 1, 3, 3, 6);
	tbm_op_add(&m, OP_CONCAT, 2, (int32_t[]) {av, mx}, cat, O_CONCAT)->options[0] =
		(tb_field) {.id = 0, .kind = TB_I32, .i = -1};
	m.ops[m.nops - 1].noptions = 1;
	m.output = cat;
	CHECK(run_model(&m, px, out, 54, &err) == CV_OK);
	/* (0,0): window rows/cols -1..1 cut to 0..1: pixels 0, 1, 5, 6, channel 0 */
	CHECK_NEAR(out[0], (0 + 3 + 15 + 18) / 4.0, 1e-4);
	CHECK_NEAR(out[3], 18.0, 1e-6);	/* max of the same window */
	/* (1,1): rows/cols 1..3, full window, centre pixel (2,2) = 12 */
	CHECK_NEAR(out[(1 * 3 + 1) * 6 + 0], 36.0, 1e-4);
	CHECK_NEAR(out[(1 * 3 + 1) * 6 + 3], 54.0, 1e-6);	/* pixel (3,3) = 18 */

	m.output = mn;
	m.nops = 3;
	CHECK(run_model(&m, px, out, 3, &err) == CV_OK);
	CHECK_NEAR(out[0], 36.0, 1e-4);	/* mean of 0, 3, ..., 72 */
	CHECK_NEAR(out[2], 38.0, 1e-4);
}

static void
test_pad_reshape_squeeze_quantize(void)
{
	tbm_model	m;
	uint8_t		px[12];
	float		out[48];
	int32_t		pads[8] = {0, 0, 1, 1, 2, 0, 0, 0},
				pd[2] = {4, 2},
				rd[2] = {1, 48},
				qd[4] = {1, 1, 1, 48};
	int			x,
				p,
				pt,
				r,
				q,
				dq,
				sq;
	cv_error	err;

	for (int i = 0; i < 12; i++)
		px[i] = (uint8_t) (i + 1);
	x = input_tensor(&m, 2, 2, 1.0f, 0);
	pt = tbm_tensor_add(&m, I32, 2, pd, pads, 32);
	p = act4(&m, 1, 4, 4, 3);
	tbm_op_add(&m, OP_PAD, 2, (int32_t[]) {x, pt}, p, 0);
	q = tbm_tensor_add(&m, I8, 4, (int32_t[]) {1, 4, 4, 3}, NULL, 0);
	tbm_op_add(&m, OP_QUANTIZE, 1, (int32_t[]) {p}, q, 0);
	dq = act4(&m, 1, 4, 4, 3);
	dq = tbm_tensor_add(&m, F32, 4, (int32_t[]) {1, 4, 4, 3}, NULL, 0);
	tbm_op_add(&m, OP_DEQ, 1, (int32_t[]) {q}, dq, 0);
	r = tbm_tensor_add(&m, F32, 4, qd, NULL, 0);
	tbm_op_add(&m, OP_RESHAPE, 1, (int32_t[]) {dq}, r, 0);
	sq = tbm_tensor_add(&m, F32, 2, rd, NULL, 0);
	tbm_op_add(&m, OP_SQUEEZE, 1, (int32_t[]) {r}, sq, 0);
	m.output = sq;
	CHECK(run_model(&m, px, out, 48, &err) == CV_OK);
	/* rows 0 and 3 are padding; in rows 1..2, columns 0..1 are padding */
	for (int y = 0; y < 4; y++)
		for (int xx = 0; xx < 4; xx++)
			for (int c = 0; c < 3; c++)
			{
				float		e = 0;

				if (y >= 1 && y <= 2 && xx >= 2)
					e = px[((y - 1) * 2 + xx - 2) * 3 + c];
				CHECK_NEAR(out[(y * 4 + xx) * 3 + c], e, 0);
			}
}

static void
test_activations(void)
{
	static const int codes[] = {OP_RELU, OP_RELU6, OP_LOGISTIC, OP_HARD_SWISH};

	for (int k = 0; k < 4; k++)
	{
		tbm_model	m;
		uint8_t		px[12];
		float		out[12];
		int			x,
					y;
		cv_error	err;

		for (int i = 0; i < 12; i++)
			px[i] = (uint8_t) (i * 20);
		x = input_tensor(&m, 2, 2, 0.1f, 100);	/* -10 .. 12 */
		y = act4(&m, 1, 2, 2, 3);
		tbm_op_add(&m, codes[k], 1, (int32_t[]) {x}, y, 0);
		m.output = y;
		CHECK(run_model(&m, px, out, 12, &err) == CV_OK);
		for (int i = 0; i < 12; i++)
		{
			double		v = (px[i] - 100) * 0.1,
						e;

			if (k == 0)
				e = v > 0 ? v : 0;
			else if (k == 1)
				e = v < 0 ? 0 : v > 6 ? 6 : v;
			else if (k == 2)
				e = 1 / (1 + exp(-v));
			else
				e = v * fmin(fmax(v + 3, 0), 6) / 6;
			CHECK_NEAR(out[i], e, 1e-5);
		}
	}
}

static void
test_unsupported_and_corrupt(void)
{
	tbm_model	m;
	uint8_t		px[12] = {0},
			   *bytes;
	float		out[64];
	size_t		len;
	int			x,
				y,
				w;
	float		wt[3] = {1, 1, 1};
	cv_error	err;
	cv_net	   *net = NULL;

	/* an operator outside the set is named */
	x = input_tensor(&m, 2, 2, 1.0f, 0);
	y = act4(&m, 1, 4, 4, 3);
	tbm_op_add(&m, OP_RESIZE_BILINEAR, 1, (int32_t[]) {x}, y, 0);
	m.output = y;
	CHECK(run_model(&m, px, out, 64, &err) == CV_ERR_UNSUPPORTED);
	CHECK_MSG(strcmp(err.message, "TFLite operator RESIZE_BILINEAR (23) is not supported") == 0,
			  "%s", err.message);

	/* a declared output shape that the operator does not compute */
	x = input_tensor(&m, 2, 2, 1.0f, 0);
	w = const_f32(&m, 4, (int32_t[]) {1, 1, 1, 3}, wt);
	y = act4(&m, 1, 2, 3, 1);
	tbm_op_add(&m, OP_CONV, 2, (int32_t[]) {x, w}, y, O_CONV);
	m.ops[0].options[0] = (tb_field) {.id = 1, .kind = TB_I32, .i = 1};
	m.ops[0].options[1] = (tb_field) {.id = 2, .kind = TB_I32, .i = 1};
	m.ops[0].noptions = 2;
	m.output = y;
	CHECK(run_model(&m, px, out, 64, &err) == CV_ERR_CORRUPT);
	CHECK(strstr(err.message, "output shape") != NULL);

	/* weights that disagree with the input depth */
	x = input_tensor(&m, 2, 2, 1.0f, 0);
	w = const_f32(&m, 4, (int32_t[]) {1, 1, 1, 2}, wt);
	y = act4(&m, 1, 2, 2, 1);
	tbm_op_add(&m, OP_CONV, 2, (int32_t[]) {x, w}, y, O_CONV);
	m.output = y;
	CHECK(run_model(&m, px, out, 64, &err) != CV_OK);

	/* a tensor read before any operator computes it */
	x = input_tensor(&m, 2, 2, 1.0f, 0);
	y = act4(&m, 1, 2, 2, 3);
	w = act4(&m, 1, 2, 2, 3);
	tbm_op_add(&m, OP_ADD, 2, (int32_t[]) {x, w}, y, O_ADD);
	tbm_op_add(&m, OP_RELU, 1, (int32_t[]) {x}, w, 0);
	m.output = y;
	CHECK(run_model(&m, px, out, 64, &err) == CV_ERR_CORRUPT);

	/* a stride of 0 */
	x = input_tensor(&m, 2, 2, 1.0f, 0);
	w = const_f32(&m, 4, (int32_t[]) {1, 1, 1, 3}, wt);
	y = act4(&m, 1, 2, 2, 1);
	tbm_op_add(&m, OP_CONV, 2, (int32_t[]) {x, w}, y, O_CONV);
	m.output = y;
	CHECK(run_model(&m, px, out, 64, &err) == CV_ERR_CORRUPT);

	/* not a flatbuffer at all, and the empty input */
	CHECK(cv_net_load((const uint8_t *) "hello world, not tflite", 23, &net, &err) == CV_ERR_CORRUPT);
	CHECK(cv_net_load(NULL, 0, &net, &err) == CV_ERR_CORRUPT);
	CHECK(net == NULL);

	/* features of a network without a classifier are refused */
	x = input_tensor(&m, 2, 2, 1.0f, 0);
	y = act4(&m, 1, 2, 2, 3);
	tbm_op_add(&m, OP_RELU, 1, (int32_t[]) {x}, y, 0);
	m.output = y;
	bytes = tbm_build(&m, &len);
	CHECK(cv_net_load(bytes, len, &net, &err) == CV_OK);
	if (net)
	{
		cv_net_workspace *ws = NULL;

		CHECK(cv_net_get_info(net)->feature_dim == 0);
		CHECK(cv_net_workspace_create(net, &ws, &err) == CV_OK);
		CHECK(cv_net_run(net, ws, px, out, out, &err) == CV_ERR_UNSUPPORTED);
		cv_net_workspace_free(ws);
		cv_net_free(net);
	}
	free(bytes);
}

/* Liveness-based reuse: a chain of 8 RELUs needs 2 buffers plus the input. */
static void
test_arena_reuse(void)
{
	tbm_model	m;
	uint8_t    *bytes;
	size_t		len;
	int			prev;
	cv_net	   *net = NULL;
	cv_error	err;

	prev = input_tensor(&m, 16, 16, 1.0f, 0);
	for (int i = 0; i < 8; i++)
	{
		int			y = act4(&m, 1, 16, 16, 3);

		tbm_op_add(&m, i % 2 ? OP_RELU : OP_RELU6, 1, (int32_t[]) {prev}, y, 0);
		prev = y;
	}
	m.output = prev;
	bytes = tbm_build(&m, &len);
	CHECK(cv_net_load(bytes, len, &net, &err) == CV_OK);
	if (net)
	{
		CHECK_MSG(cv_net_get_info(net)->arena_bytes <= 3 * 16 * 16 * 3 * sizeof(float),
				  "arena %zu bytes", cv_net_get_info(net)->arena_bytes);
		cv_net_free(net);
	}
	free(bytes);
}

UNIT_MAIN("nn_ops",
		  UNIT_CASE(test_conv_same_stride2),
		  UNIT_CASE(test_conv_int8_per_channel),
		  UNIT_CASE(test_conv_uint8_relu6_dilated),
		  UNIT_CASE(test_conv_direct_stem),
		  UNIT_CASE(test_depthwise_tflite),
		  UNIT_CASE(test_depthwise_kernel_paths),
		  UNIT_CASE(test_fully_connected_softmax),
		  UNIT_CASE(test_add_mul_broadcast),
		  UNIT_CASE(test_pools_mean),
		  UNIT_CASE(test_pad_reshape_squeeze_quantize),
		  UNIT_CASE(test_activations),
		  UNIT_CASE(test_unsupported_and_corrupt),
		  UNIT_CASE(test_arena_reuse))
