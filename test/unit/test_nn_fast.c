/*
 * test_nn_fast.c
 *	  The CPU-specific kernels of src/core/nn (gemm.c: packed filters, fused
 *	  bias and clamp, on AVX-512 machines) against the portable path: the
 *	  kernel directly against a double reference over shapes that hit every
 *	  tail (rows, column blocks, strides), and small built MobileNet-like
 *	  networks loaded twice, once with cv_nn_set_portable(true).  On a CPU
 *	  without AVX-512 both loads run the portable path and the comparisons
 *	  are trivially equal.
 */
#include "unit.h"
#include "nn/nn.h"
#include "nn/nn_kernels.h"
#include "tflite_builder.c"
#include "test_nn_util.h"

enum
{
	F32 = 0, U8 = 3
};
enum
{
	OP_ADD = 0, OP_CONV = 3, OP_DW = 4
};
enum
{
	O_CONV = 1, O_DW = 2, O_ADD = 11
};

static void
test_gemm_kernel(void)
{
	static const int ms[] = {1, 5, 12, 13, 25, 49};
	static const int ks[] = {1, 3, 16, 37};
	static const int ns[] = {1, 8, 16, 17, 24, 32, 40, 64, 100};

	if (!nn_gemm_available())
	{
		printf("     (no AVX2 / AVX-512: nn_gemm is not used on this CPU)\n");
		return;
	}
	for (int level = 0; level < 2; level++)
	{
		/* level 0: the AVX2 kernel (forced on AVX-512 CPUs), 1: AVX-512 */
		if (level == 1 && !nn_simd512_available())
			break;
		nn_force_avx2 = level == 0;
		for (size_t mi = 0; mi < sizeof(ms) / sizeof(ms[0]); mi++)
			for (size_t ki = 0; ki < sizeof(ks) / sizeof(ks[0]); ki++)
				for (size_t ni = 0; ni < sizeof(ns) / sizeof(ns[0]); ni++)
				{
					int			m = ms[mi],
								k = ks[ki],
								n = ns[ni];
					int			lda = k + (int) (mi % 2) * 3,
								ldc = n + (int) (ni % 2) * 5;
					bool		with_bias = (mi + ni) % 3 != 0;
					float		lo = (ki % 2) ? 0.0f : -INFINITY,
								hi = (ki % 2) ? 6.0f : INFINITY;
					float	   *a = malloc(sizeof(float) * m * lda),
							   *w = malloc(sizeof(float) * n * k),
							   *packed = malloc(sizeof(float) * n * k),
							   *bias = malloc(sizeof(float) * n),
							   *c = malloc(sizeof(float) * m * ldc);
					double		md = 0;
					bool		guard_ok = true;

					for (int i = 0; i < m * lda; i++)
						a[i] = (float) ((i * 7919) % 101) / 25.0f - 2.0f;
					for (int i = 0; i < n * k; i++)
						w[i] = (float) ((i * 31) % 17) / 8.0f - 1.0f;
					for (int i = 0; i < n; i++)
						bias[i] = 0.25f * (i % 5) - 0.5f;
					for (int i = 0; i < m * ldc; i++)
						c[i] = 12345.0f;	/* the gaps between rows must survive */
					nn_gemm_pack(k, n, w, packed);
					nn_gemm(m, k, n, a, lda, packed, with_bias ? bias : NULL, lo, hi, c, ldc);
					for (int r = 0; r < m; r++)
					{
						for (int j = 0; j < n; j++)
						{
							double		acc = with_bias ? bias[j] : 0.0;

							for (int kk = 0; kk < k; kk++)
								acc += (double) a[r * lda + kk] * w[j * k + kk];
							acc = acc < lo ? lo : (acc > hi ? hi : acc);
							md = fmax(md, fabs(c[r * ldc + j] - acc));
						}
						for (int j = n; j < ldc; j++)
							guard_ok = guard_ok && c[r * ldc + j] == 12345.0f;
					}
					CHECK_MSG(md < 1e-4, "m %d k %d n %d: max diff %g", m, k, n, md);
					CHECK_MSG(guard_ok, "m %d k %d n %d: wrote outside the rows", m, k, n);
					free(a);
					free(w);
					free(packed);
					free(bias);
					free(c);
				}
		nn_force_avx2 = false;
	}
}

/* nn_gemv (a classifier on one pooled row) against a double reference. */
static void
test_gemv_kernel(void)
{
	static const int shapes[][2] = {{1, 1}, {3, 16}, {4, 17}, {7, 40}, {1001, 1280}, {10, 5}};

	if (!nn_simd512_available())
		return;
	for (size_t t = 0; t < sizeof(shapes) / sizeof(shapes[0]); t++)
	{
		int			n = shapes[t][0],
					k = shapes[t][1];
		float	   *w = malloc(sizeof(float) * n * k),
				   *x = malloc(sizeof(float) * k),
				   *bias = malloc(sizeof(float) * n),
				   *y = malloc(sizeof(float) * (n + 1));
		float		lo = t % 2 ? 0.0f : -INFINITY,
					hi = t % 2 ? 6.0f : INFINITY;
		double		md = 0;

		for (int i = 0; i < n * k; i++)
			w[i] = (float) ((i * 31) % 17) / 8.0f - 1.0f;
		for (int i = 0; i < k; i++)
			x[i] = (float) ((i * 7919) % 101) / 50.0f - 1.0f;
		for (int i = 0; i < n; i++)
			bias[i] = 0.25f * (i % 5) - 0.5f;
		y[n] = 12345.0f;
		nn_gemv(n, k, w, x, t % 3 ? bias : NULL, lo, hi, y);
		for (int j = 0; j < n; j++)
		{
			double		acc = t % 3 ? bias[j] : 0.0;

			for (int i = 0; i < k; i++)
				acc += (double) w[(size_t) j * k + i] * x[i];
			acc = acc < lo ? lo : (acc > hi ? hi : acc);
			md = fmax(md, fabs(y[j] - acc));
		}
		CHECK_MSG(md < 1e-3, "n %d k %d: max diff %g", n, k, md);
		CHECK(y[n] == 12345.0f);
		free(w);
		free(x);
		free(bias);
		free(y);
	}
}

/*
 * The AVX-512 depthwise path (p.simd512) against the portable one: same
 * windows, strides, channel tails (masked vectors), widths with and without
 * a remainder after the groups of 8 (or 4) pixels, and inputs too small for
 * any interior pixel.  Both compute each output in the same order, so they
 * should agree to rounding of the FMA contraction at most.
 */
static void
test_depthwise_simd512(void)
{
	static const int cases[][5] = {
		/* h, w, c, k, stride */
		{9, 13, 20, 3, 1}, {10, 31, 24, 3, 2}, {12, 12, 16, 3, 1}, {7, 19, 8, 5, 1},
		{8, 8, 5, 3, 2}, {6, 23, 48, 5, 2}, {3, 3, 32, 3, 1}, {2, 2, 17, 3, 2},
		{1, 40, 16, 3, 1}, {14, 14, 64, 3, 2},
	};

	for (size_t t = 0; t < sizeof(cases) / sizeof(cases[0]); t++)
	{
		dw_case		dc;
		nn_conv_params *p = &dc.p;
		float	   *fast,
				   *slow;
		double		md = 0;

		dw_case_make(&dc, cases[t][0], cases[t][1], cases[t][2], cases[t][3], cases[t][4], 1);
		fast = malloc(sizeof(float) * dc.out_count);
		slow = malloc(sizeof(float) * dc.out_count);
		if (t % 2)
		{
			p->act_min = 0.0f;
			p->act_max = 6.0f;
		}
		if (t % 3 == 0)
			p->bias = NULL;
		nn_depthwise(p, dc.in, slow);
		p->simd512 = nn_simd512_available();
		nn_depthwise(p, dc.in, fast);
		for (int i = 0; i < dc.out_count; i++)
			md = fmax(md, fabs(fast[i] - slow[i]));
		CHECK_MSG(md < 1e-5, "case %zu: max diff %g", t, md);
		dw_case_free(&dc);
		free(fast);
		free(slow);
	}
}

/* ---- small networks built in the test ---- */

typedef struct net_builder
{
	tbm_model	m;
	uint32_t	seed;			/* unsigned: the generator wraps around */
	/* constants are kept alive until tbm_build */
	float	   *blobs[64];
	int			nblobs;
} net_builder;

static int
act(net_builder *nb, int h, int w, int c)
{
	int32_t		dims[4] = {1, h, w, c};

	return tbm_tensor_add(&nb->m, U8, 4, dims, NULL, 0);
}

static int
constant(net_builder *nb, int rank, const int32_t *dims, float scale)
{
	size_t		n = 1;
	float	   *v;

	for (int i = 0; i < rank; i++)
		n *= (size_t) dims[i];
	v = malloc(n * sizeof(float));
	for (size_t i = 0; i < n; i++)
	{
		nb->seed = nb->seed * 1103515245 + 12345;
		v[i] = ((float) ((nb->seed >> 16) & 1023) / 512.0f - 1.0f) * scale;
	}
	nb->blobs[nb->nblobs++] = v;
	return tbm_tensor_add(&nb->m, F32, rank, dims, v, n * sizeof(float));
}

/* CONV_2D k x k, SAME, stride s, activation act (0 none, 3 RELU6); filters
 * w (or a new tensor when w < 0). */
static int
conv(net_builder *nb, int x, int h, int wd, int c, int oc, int k, int s, int actf, int w,
	 int *oh, int *ow)
{
	int32_t		wdim[4] = {oc, k, k, c},
				bdim[1] = {oc};
	int			b,
				y;
	tbm_op	   *op;

	*oh = (h + s - 1) / s;
	*ow = (wd + s - 1) / s;
	if (w < 0)
		w = constant(nb, 4, wdim, 1.0f / sqrtf((float) (k * k * c)));
	b = constant(nb, 1, bdim, 0.2f);
	y = act(nb, *oh, *ow, oc);
	op = tbm_op_add(&nb->m, OP_CONV, 3, (int32_t[]) {x, w, b}, y, O_CONV);
	tbm_opt_u8(op, 0, 0);
	tbm_opt_i32(op, 1, s);
	tbm_opt_i32(op, 2, s);
	tbm_opt_u8(op, 3, actf);
	return y;
}

static int
dwconv(net_builder *nb, int x, int h, int wd, int c, int k, int s, int *oh, int *ow)
{
	int32_t		wdim[4] = {1, k, k, c},
				bdim[1] = {c};
	int			w = constant(nb, 4, wdim, 0.4f),
				b = constant(nb, 1, bdim, 0.2f),
				y;
	tbm_op	   *op;

	*oh = (h + s - 1) / s;
	*ow = (wd + s - 1) / s;
	y = act(nb, *oh, *ow, c);
	op = tbm_op_add(&nb->m, OP_DW, 3, (int32_t[]) {x, w, b}, y, O_DW);
	tbm_opt_u8(op, 0, 0);
	tbm_opt_i32(op, 1, s);
	tbm_opt_i32(op, 2, s);
	tbm_opt_i32(op, 3, 1);
	tbm_opt_u8(op, 4, 3);		/* RELU6 */
	return y;
}

/*
 * An inverted-residual block: 1x1 expand (none for expand 1, as in
 * MobileNet V2's first block), 3x3 depthwise, 1x1 project (+ x).
 */
static int
block(net_builder *nb, int x, int *h, int *w, int *c, int expand, int oc, int k, int s)
{
	int			eh,
				ew,
				dh,
				dw,
				ph,
				pw,
				e,
				d,
				p;

	if (expand > 1)
		e = conv(nb, x, *h, *w, *c, *c * expand, 1, 1, 3, -1, &eh, &ew);
	else
	{
		e = x;
		eh = *h;
		ew = *w;
	}
	d = dwconv(nb, e, eh, ew, *c * expand, k, s, &dh, &dw);
	p = conv(nb, d, dh, dw, *c * expand, oc, 1, 1, 0, -1, &ph, &pw);
	if (s == 1 && oc == *c)
	{
		int			y = act(nb, ph, pw, oc);

		tbm_op_add(&nb->m, OP_ADD, 2, (int32_t[]) {p, x}, y, O_ADD);
		p = y;
	}
	*h = ph;
	*w = pw;
	*c = oc;
	return p;
}

/*
 * Load and run the built model; out gets count floats.  portable as asked;
 * fuse_all: fuse every inverted-residual block the AVX-512 path can, not
 * only those with large maps.
 */
static bool
run_built(net_builder *nb, bool portable, bool fuse_all, const uint8_t *px, float *out,
		  size_t count)
{
	size_t		saved_fuse = nn_fuse_min_floats;
	bool		was_portable = cv_nn_get_portable();
	size_t		len;
	uint8_t    *bytes = tbm_build(&nb->m, &len);
	cv_net	   *net = NULL;
	cv_net_workspace *ws = NULL;
	cv_error	err;
	bool		ok;

	cv_nn_set_portable(portable);
	if (fuse_all)
		nn_fuse_min_floats = 0;
	ok = cv_net_load(bytes, len, &net, &err) == CV_OK;
	cv_nn_set_portable(was_portable);
	nn_fuse_min_floats = saved_fuse;
	free(bytes);
	CHECK_MSG(ok, "load: %s", err.message);
	if (!ok)
		return false;
	if (fuse_all && !portable && nn_simd512_available())
	{
		int			fused = 0;

		for (int i = 0; i < cv_net_num_steps(net); i++)
			fused += strstr(cv_net_step_detail(net, i), " [+ ") != NULL;
		/* 1x1 maps (M = 1) stay unfused: their 1x1 convolutions are GEMVs */
		CHECK_MSG(fused >= 4, "only %d fused depthwise steps", fused);
	}
	ok = cv_net_get_info(net)->num_outputs == (int) count &&
		cv_net_workspace_create(net, &ws, &err) == CV_OK &&
		cv_net_run(net, ws, px, out, NULL, &err) == CV_OK;
	CHECK_MSG(ok, "run: %s", err.message);
	cv_net_workspace_free(ws);
	cv_net_free(net);
	return ok;
}

/*
 * A MobileNet V2 in miniature, loaded three ways: portable, AVX-512 with
 * only large maps fused (none here), AVX-512 with every block fused: stem (3x3 stride 2 on RGB, 24 filters
 * through im2col or 32 through the direct stem), blocks with and without
 * residual, 3x3 and 5x5, stride 1 and 2, channel counts that are not multiples of 16,
 * and two 1x1 convolutions sharing one filter tensor.
 */
static void
test_small_nets_fast_vs_portable(void)
{
	static const int sizes[][2] = {{15, 13}, {32, 32}, {9, 40}, {1, 7}};

	for (size_t t = 0; t < sizeof(sizes) / sizeof(sizes[0]); t++)
	{
		net_builder *nbp = calloc(1, sizeof(net_builder));
		int			h = sizes[t][0],
					w = sizes[t][1],
					c = 3,
					x,
					y,
					oh,
					ow,
					shared;
		int32_t		sd[4] = {20, 1, 1, 20};
		uint8_t    *px = malloc((size_t) h * w * 3);
		float		scale = 1 / 128.0f;
		int64_t		zp = 128;
		size_t		count;
		float	   *fast,
				   *slow;
		double		md = 0,
					mag = 0;

#define nb (*nbp)
		nb.seed = (uint32_t) t + 1;
		for (int i = 0; i < h * w * 3; i++)
			px[i] = (uint8_t) ((i * 97 + (int) t * 31) % 256);
		{
			int32_t		dims[4] = {1, h, w, 3};

			x = tbm_tensor_add(&nb.m, U8, 4, dims, NULL, 0);
			tbm_quant(&nb.m, x, 1, &scale, &zp, 0);
			nb.m.input = x;
		}
		/* 24 filters: im2col + nn_gemm; 32: the direct stem */
		c = t % 2 ? 32 : 24;
		y = conv(&nb, x, h, w, 3, c, 3, 2, 3, -1, &oh, &ow);
		h = oh;
		w = ow;
		y = block(&nb, y, &h, &w, &c, 1, 16, 3, 1);
		y = block(&nb, y, &h, &w, &c, 6, 24, 3, 2);
		y = block(&nb, y, &h, &w, &c, 6, 24, 3, 1);
		y = block(&nb, y, &h, &w, &c, 3, 24, 5, 1);
		y = block(&nb, y, &h, &w, &c, 4, 40, 5, 2);
		y = block(&nb, y, &h, &w, &c, 6, 40, 3, 1);
		y = conv(&nb, y, h, w, c, 20, 1, 1, 3, -1, &oh, &ow);
		shared = constant(&nb, 4, sd, 0.3f);
		y = conv(&nb, y, h, w, 20, 20, 1, 1, 3, shared, &oh, &ow);
		y = conv(&nb, y, h, w, 20, 20, 1, 1, 0, shared, &oh, &ow);
		nb.m.output = y;
		count = (size_t) h * w * 20;

		fast = malloc(count * sizeof(float));
		slow = malloc(count * sizeof(float));
		/* fused blocks give the same floats as the AVX-512 steps apart */
		if (run_built(&nb, false, false, px, fast, count) &&
			run_built(&nb, false, true, px, slow, count))
		{
			bool		same = true;

			for (size_t i = 0; i < count; i++)
				same = same && fast[i] == slow[i];
			CHECK_MSG(same, "%dx%d input: fused and unfused blocks differ",
					  sizes[t][0], sizes[t][1]);
		}
		/* the AVX2 GEMM (forced): same floats as the AVX-512 one, unfused */
		if (nn_simd512_available())
		{
			float	   *avx2 = malloc(count * sizeof(float));
			bool		ok;

			nn_force_avx2 = true;
			ok = run_built(&nb, false, false, px, avx2, count);
			nn_force_avx2 = false;
			if (ok && run_built(&nb, false, false, px, fast, count))
			{
				double		d = 0;

				for (size_t i = 0; i < count; i++)
					d = fmax(d, fabs(avx2[i] - fast[i]));
				CHECK_MSG(d <= 1e-6, "%dx%d input: AVX2 path differs by %g",
						  sizes[t][0], sizes[t][1], d);
			}
			free(avx2);
		}
		if (run_built(&nb, false, true, px, fast, count) &&
			run_built(&nb, true, false, px, slow, count))
		{
			for (size_t i = 0; i < count; i++)
			{
				md = fmax(md, fabs(fast[i] - slow[i]));
				mag = fmax(mag, fabs(slow[i]));
			}
			CHECK_MSG(md <= 1e-5 * (1 + mag), "%dx%d input: max diff %g (magnitude %g)",
					  sizes[t][0], sizes[t][1], md, mag);
			CHECK(mag > 0);
		}
		free(fast);
		free(slow);
		free(px);
		for (int i = 0; i < nb.nblobs; i++)
			free(nb.blobs[i]);
		free(nbp);
#undef nb
	}
}

UNIT_MAIN("nn_fast",
		  UNIT_CASE(test_gemm_kernel),
		  UNIT_CASE(test_gemv_kernel),
		  UNIT_CASE(test_depthwise_simd512),
		  UNIT_CASE(test_small_nets_fast_vs_portable))
