/*
 * test_nn_cut.c
 *	  Nets cut at chosen tensors and run at another input size
 *	  (cv_net_load_with, cv_net_run_outputs, cv_net_activation): on small
 *	  TFLite models built in the test (tflite_builder.c), then on the shared
 *	  pretrained files (MobileNet V2 feature maps at 224, 320 and 416,
 *	  MobileNet-EdgeTPU, whose activations have no stored shapes, and the SSD
 *	  MobileNet V1 detector, whose last operator is a custom one).
 *
 * The shared files are found through PGVISION_SHARED as in
 * test_nn_models.c; a missing file is a failure, not a skip.
 */
#include "unit.h"
#include "image/image.h"
#include "nn/nn.h"
#include "nn/nn_kernels.h"
#include "tflite_builder.c"

#include <time.h>

/* TensorType, BuiltinOperator and BuiltinOptions values of schema.fbs */
enum
{
	F32 = 0, I32 = 2, U8 = 3
};
enum
{
	OP_ADD = 0, OP_AVG = 1, OP_CONV = 3, OP_DW = 4, OP_RESHAPE = 22,
	OP_RESIZE_BILINEAR = 23, OP_SOFTMAX = 25, OP_CUSTOM = 32, OP_MEAN = 40,
	OP_SQUEEZE = 43
};
enum
{
	O_CONV = 1, O_DW = 2, O_POOL = 5, O_SOFTMAX = 9, O_ADD = 11, O_REDUCER = 27
};

/* ---- small models ---- */

typedef struct net_builder
{
	tbm_model	m;
	uint32_t	seed;
	bool		no_shapes;		/* activations without a stored shape */
	void	   *blobs[64];		/* constants, alive until tbm_build */
	int			nblobs;
} net_builder;

static void
nb_init(net_builder *nb, int h, int w)
{
	int32_t		dims[4] = {1, h, w, 3};
	float		scale = 1.0f / 128;
	int64_t		zp = 128;
	int			t;

	memset(nb, 0, sizeof(*nb));
	nb->seed = 7;
	t = tbm_tensor_add(&nb->m, U8, 4, dims, NULL, 0);
	tbm_quant(&nb->m, t, 1, &scale, &zp, 0);
	nb->m.input = t;
}

static void
nb_free(net_builder *nb)
{
	for (int i = 0; i < nb->nblobs; i++)
		free(nb->blobs[i]);
}

static int
act(net_builder *nb, int h, int w, int c)
{
	int32_t		dims[4] = {1, h, w, c};

	return tbm_tensor_add(&nb->m, F32, nb->no_shapes ? 0 : 4, dims, NULL, 0);
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

static int
int_constant(net_builder *nb, int n, const int32_t *values)
{
	int32_t    *v = malloc((size_t) n * sizeof(int32_t));
	int32_t		dims[1] = {n};

	memcpy(v, values, (size_t) n * sizeof(int32_t));
	nb->blobs[nb->nblobs++] = v;
	return tbm_tensor_add(&nb->m, I32, 1, dims, v, (size_t) n * sizeof(int32_t));
}

/* CONV_2D k x k, SAME, stride s; actf 0 none, 3 RELU6.  *h, *w, *c updated. */
static int
conv(net_builder *nb, int x, int *h, int *w, int *c, int oc, int k, int s, int actf)
{
	int32_t		wdim[4] = {oc, k, k, *c},
				bdim[1] = {oc};
	int			wt = constant(nb, 4, wdim, 1.0f / sqrtf((float) (k * k * *c))),
				b = constant(nb, 1, bdim, 0.2f),
				y;
	tbm_op	   *op;

	*h = (*h + s - 1) / s;
	*w = (*w + s - 1) / s;
	*c = oc;
	y = act(nb, *h, *w, oc);
	op = tbm_op_add(&nb->m, OP_CONV, 3, (int32_t[]) {x, wt, b}, y, O_CONV);
	tbm_opt_u8(op, 0, 0);
	tbm_opt_i32(op, 1, s);
	tbm_opt_i32(op, 2, s);
	tbm_opt_u8(op, 3, actf);
	return y;
}

static int
dwconv(net_builder *nb, int x, int *h, int *w, int c, int s)
{
	int32_t		wdim[4] = {1, 3, 3, c},
				bdim[1] = {c};
	int			wt = constant(nb, 4, wdim, 0.4f),
				b = constant(nb, 1, bdim, 0.2f),
				y;
	tbm_op	   *op;

	*h = (*h + s - 1) / s;
	*w = (*w + s - 1) / s;
	y = act(nb, *h, *w, c);
	op = tbm_op_add(&nb->m, OP_DW, 3, (int32_t[]) {x, wt, b}, y, O_DW);
	tbm_opt_u8(op, 0, 0);
	tbm_opt_i32(op, 1, s);
	tbm_opt_i32(op, 2, s);
	tbm_opt_i32(op, 3, 1);
	tbm_opt_u8(op, 4, 3);		/* RELU6 */
	return y;
}

static int
add(net_builder *nb, int a, int b, int h, int w, int c)
{
	int			y = act(nb, h, w, c);

	tbm_op_add(&nb->m, OP_ADD, 2, (int32_t[]) {a, b}, y, O_ADD);
	return y;
}

/* AVERAGE_POOL_2D over a fixed k x k window, VALID: the classifier's pool. */
static int
avgpool(net_builder *nb, int x, int *h, int *w, int c, int k)
{
	int			y;
	tbm_op	   *op;

	*h = (*h - k) / k + 1;
	*w = (*w - k) / k + 1;
	y = act(nb, *h, *w, c);
	op = tbm_op_add(&nb->m, OP_AVG, 1, (int32_t[]) {x}, y, O_POOL);
	tbm_opt_u8(op, 0, 1);
	tbm_opt_i32(op, 1, k);
	tbm_opt_i32(op, 2, k);
	tbm_opt_i32(op, 3, k);
	tbm_opt_i32(op, 4, k);
	return y;
}

/* RESHAPE to a fixed [1, n] given by a shape input, then SOFTMAX. */
static int
reshape_softmax(net_builder *nb, int x, int n)
{
	int32_t		dims[2] = {1, n};
	int			shape = int_constant(nb, 2, dims),
				r = tbm_tensor_add(&nb->m, F32, nb->no_shapes ? 0 : 2, dims, NULL, 0),
				y = tbm_tensor_add(&nb->m, F32, nb->no_shapes ? 0 : 2, dims, NULL, 0);
	tbm_op	   *op;

	tbm_op_add(&nb->m, OP_RESHAPE, 2, (int32_t[]) {x, shape}, r, 0);
	op = tbm_op_add(&nb->m, OP_SOFTMAX, 1, (int32_t[]) {r}, y, O_SOFTMAX);
	tbm_opt_f32(op, 0, 1.0f);
	return y;
}

static uint8_t *
pixels(int h, int w)
{
	uint8_t    *px = malloc((size_t) h * w * 3);

	for (int i = 0; i < h * w * 3; i++)
		px[i] = (uint8_t) ((i * 37 + (i / 7) * 11) % 256);
	return px;
}

static cv_net *
load(net_builder *nb, const cv_net_options *o, cv_status *st, cv_error *err)
{
	size_t		len;
	uint8_t    *bytes = tbm_build(&nb->m, &len);
	cv_net	   *net = NULL;

	*st = cv_net_load_with(bytes, len, o, &net, err);
	free(bytes);
	return net;
}

/* Run net on px into the requested outputs (malloc'd, caller frees). */
static bool
run_outputs(const cv_net *net, const uint8_t *px, float **outs)
{
	cv_net_workspace *ws = NULL;
	cv_error	err;
	bool		ok;

	if (cv_net_workspace_create(net, &ws, &err) != CV_OK)
		return false;
	ok = cv_net_run_outputs(net, ws, px, outs, &err) == CV_OK;
	CHECK_MSG(ok, "run: %s", err.message);
	cv_net_workspace_free(ws);
	return ok;
}

static size_t
dims_count(const int dims[4])
{
	return (size_t) dims[0] * dims[1] * dims[2] * dims[3];
}

static double
max_rel_diff(const float *a, const float *b, size_t n)
{
	double		amax = 0,
				dmax = 0;

	for (size_t i = 0; i < n; i++)
	{
		if (fabs(a[i]) > amax)
			amax = fabs(a[i]);
		if (fabs((double) a[i] - b[i]) > dmax)
			dmax = fabs((double) a[i] - b[i]);
	}
	return amax > 0 ? dmax / amax : dmax;
}

/*
 * A small classifier: conv 3x3/2 -> block (expand, depthwise, project, add)
 * -> avgpool 4x4 -> RESHAPE [1, 8] -> SOFTMAX, for a 16x16 input.  The
 * tensors of interest are returned.
 */
typedef struct small_net
{
	int			stem,
				expand,
				depthwise,
				project,
				sum,
				pool,
				scores;
} small_net;

static void
small_classifier(net_builder *nb, small_net *sn, bool no_shapes)
{
	int			h = 16,
				w = 16,
				c = 3;

	nb_init(nb, h, w);
	nb->no_shapes = no_shapes;
	sn->stem = conv(nb, nb->m.input, &h, &w, &c, 8, 3, 2, 3);
	sn->expand = conv(nb, sn->stem, &h, &w, &c, 48, 1, 1, 3);
	sn->depthwise = dwconv(nb, sn->expand, &h, &w, c, 1);
	sn->project = conv(nb, sn->depthwise, &h, &w, &c, 8, 1, 1, 0);
	sn->sum = add(nb, sn->project, sn->stem, h, w, c);
	sn->pool = avgpool(nb, sn->sum, &h, &w, c, 8);
	sn->scores = reshape_softmax(nb, sn->pool, 8);
	nb->m.output = sn->scores;
}

/* Another input size changes the shapes; the fixed RESHAPE is left out. */
static void
test_input_size_override(void)
{
	net_builder nb,
				ref;
	small_net	sn;
	cv_net_options o = {0};
	cv_status	st;
	cv_error	err;
	cv_net	   *net,
			   *rnet;
	int			dims[4];
	uint8_t    *px = pixels(24, 40);
	float	   *got,
			   *want;
	int			h = 24,
				w = 40,
				c = 3;

	small_classifier(&nb, &sn, false);

	/* the whole graph cannot take 24x40: its RESHAPE wants 8 values */
	o.input_width = 40;
	o.input_height = 24;
	net = load(&nb, &o, &st, &err);
	CHECK_MSG(st == CV_ERR_UNSUPPORTED && strstr(err.message, "RESHAPE") != NULL,
			  "%d %s", st, err.message);
	cv_net_free(net);

	/* up to the pool it can: 12x20 after the stride-2 stem, pool 8 -> 1x2 */
	o.n_outputs = 2;
	o.outputs[0] = sn.sum;
	o.outputs[1] = sn.pool;
	net = load(&nb, &o, &st, &err);
	CHECK_MSG(st == CV_OK, "%s", err.message);
	if (net == NULL)
		goto done;
	CHECK(cv_net_get_info(net)->input_width == 40 && cv_net_get_info(net)->input_height == 24);
	CHECK(cv_net_get_info(net)->num_outputs == 0 && cv_net_get_info(net)->feature_dim == 0);
	CHECK(cv_net_output_shape(net, 0, dims) && dims[0] == 1 && dims[1] == 12 &&
		  dims[2] == 20 && dims[3] == 8);
	CHECK(cv_net_output_shape(net, 1, dims) && dims[1] == 1 && dims[2] == 2 && dims[3] == 8);
	CHECK(!cv_net_output_shape(net, 2, dims));
	CHECK(cv_net_num_activations(net) == 6);	/* stem ... pool, no RESHAPE */
	{
		float		scores[8];

		/* no graph output to give scores */
		cv_net_workspace *ws = NULL;

		CHECK(cv_net_workspace_create(net, &ws, &err) == CV_OK);
		CHECK(cv_net_run(net, ws, px, scores, NULL, &err) == CV_ERR_UNSUPPORTED);
		cv_net_workspace_free(ws);
	}

	/*
	 * The same layers built for 24x40 in the file: the sum must match the
	 * cut net's exactly (same kernels, same weights: same seed).
	 */
	nb_init(&ref, h, w);
	{
		int			stem = conv(&ref, ref.m.input, &h, &w, &c, 8, 3, 2, 3),
					e = conv(&ref, stem, &h, &w, &c, 48, 1, 1, 3),
					d = dwconv(&ref, e, &h, &w, c, 1),
					p = conv(&ref, d, &h, &w, &c, 8, 1, 1, 0);

		ref.m.output = add(&ref, p, stem, h, w, c);
	}
	rnet = load(&ref, NULL, &st, &err);
	CHECK_MSG(st == CV_OK, "%s", err.message);
	got = malloc(12 * 20 * 8 * sizeof(float));
	want = malloc(12 * 20 * 8 * sizeof(float));
	if (rnet != NULL)
	{
		cv_net_workspace *ws = NULL;
		float	   *outs[2] = {got, NULL};

		CHECK(cv_net_get_info(rnet)->num_outputs == 12 * 20 * 8);
		CHECK(cv_net_workspace_create(rnet, &ws, &err) == CV_OK);
		CHECK(cv_net_run(rnet, ws, px, want, NULL, &err) == CV_OK);
		cv_net_workspace_free(ws);
		CHECK(run_outputs(net, px, outs));
		CHECK(memcmp(got, want, 12 * 20 * 8 * sizeof(float)) == 0);
		cv_net_free(rnet);
	}
	free(got);
	free(want);
	nb_free(&ref);

	/* prefix_only at that size stops at the RESHAPE: the pool is last */
	o.n_outputs = 0;
	o.prefix_only = true;
	cv_net_free(net);
	net = load(&nb, &o, &st, &err);
	CHECK_MSG(st == CV_OK, "%s", err.message);
	if (net != NULL)
	{
		int			t;

		CHECK(cv_net_num_activations(net) == 6);
		CHECK(cv_net_activation(net, 5, &t, dims, NULL) && t == sn.pool && dims[2] == 2);
		CHECK(!cv_net_activation(net, 6, &t, dims, NULL));
		CHECK(cv_net_get_info(net)->num_outputs == 0);
	}

done:
	cv_net_free(net);
	free(px);
	nb_free(&nb);
}

/*
 * Operators after the outputs, or beside them, are never read: an
 * unsupported builtin, a custom operator, a RESHAPE that cannot hold its
 * input.
 */
static void
test_cut_before_unsupported(void)
{
	net_builder nb;
	cv_net_options o = {0};
	cv_status	st;
	cv_error	err;
	cv_net	   *net;
	int			h = 8,
				w = 8,
				c = 3,
				stem,
				side,
				feat,
				bad,
				custom;
	uint8_t    *px = pixels(8, 8);

	nb_init(&nb, 8, 8);
	stem = conv(&nb, nb.m.input, &h, &w, &c, 8, 3, 1, 3);
	/* a side branch before the output, unsupported: not needed, not built */
	side = act(&nb, 16, 16, 8);
	tbm_op_add(&nb.m, OP_RESIZE_BILINEAR, 1, (int32_t[]) {stem}, side, 0);
	feat = conv(&nb, stem, &h, &w, &c, 16, 3, 2, 3);
	/* after it: a RESHAPE to a shape that cannot hold 4x4x16, then a custom op */
	{
		int32_t		d2[2] = {1, 7};

		bad = tbm_tensor_add(&nb.m, F32, 2, d2, NULL, 0);
		tbm_op_add(&nb.m, OP_RESHAPE, 2, (int32_t[]) {feat, int_constant(&nb, 2, d2)}, bad, 0);
	}
	custom = act(&nb, 1, 1, 7);
	tbm_op_add(&nb.m, OP_CUSTOM, 1, (int32_t[]) {bad}, custom, 0);
	nb.m.output = custom;

	net = load(&nb, NULL, &st, &err);
	CHECK_MSG(st == CV_ERR_UNSUPPORTED, "%d %s", st, err.message);
	cv_net_free(net);

	o.n_outputs = 1;
	o.outputs[0] = feat;
	net = load(&nb, &o, &st, &err);
	CHECK_MSG(st == CV_OK, "%s", err.message);
	if (net != NULL)
	{
		float	   *out = malloc(4 * 4 * 16 * sizeof(float));
		int			dims[4],
					t;
		bool		positive = true;

		CHECK(cv_net_num_activations(net) == 2);
		CHECK(cv_net_activation(net, 0, &t, NULL, NULL) && t == stem);
		CHECK(cv_net_activation(net, 1, &t, dims, NULL) && t == feat && dims[1] == 4 &&
			  dims[3] == 16);
		CHECK(run_outputs(net, px, &out));
		for (int i = 0; i < 4 * 4 * 16; i++)
			positive = positive && out[i] >= 0 && out[i] <= 6;
		CHECK(positive);
		free(out);
		cv_net_free(net);
	}

	/* the unsupported branch itself cannot be asked for */
	o.outputs[0] = side;
	net = load(&nb, &o, &st, &err);
	CHECK_MSG(st == CV_ERR_UNSUPPORTED && strstr(err.message, "RESIZE_BILINEAR"), "%s",
			  err.message);
	cv_net_free(net);

	/* bad requests */
	o.outputs[0] = nb.m.input;
	net = load(&nb, &o, &st, &err);
	CHECK(st == CV_ERR_PARAM && net == NULL);
	o.outputs[0] = 1;			/* the stem's weights */
	net = load(&nb, &o, &st, &err);
	CHECK(st == CV_ERR_PARAM && net == NULL);
	o.outputs[0] = 9999;
	net = load(&nb, &o, &st, &err);
	CHECK(st == CV_ERR_PARAM && net == NULL);
	o.n_outputs = CV_NET_MAX_OUTPUTS + 1;
	net = load(&nb, &o, &st, &err);
	CHECK(st == CV_ERR_PARAM && net == NULL);

	/* prefix_only: stem, then the side branch stops it */
	memset(&o, 0, sizeof(o));
	o.prefix_only = true;
	net = load(&nb, &o, &st, &err);
	CHECK_MSG(st == CV_OK, "%s", err.message);
	if (net != NULL)
		CHECK(cv_net_num_activations(net) == 1);
	cv_net_free(net);

	free(px);
	nb_free(&nb);
}

/*
 * A requested tensor inside an inverted-residual block that the AVX-512
 * path fuses (nn_depthwise_fused): the block is not fused across it, and
 * it comes out as the unfused (portable) net computes it.
 */
static void
test_requested_inside_fused_block(void)
{
	size_t		saved = nn_fuse_min_floats;
	net_builder nb;
	small_net	sn;
	cv_net_options o = {0};
	cv_status	st;
	cv_error	err;
	cv_net	   *full,
			   *cut,
			   *portable;
	uint8_t    *px = pixels(16, 16);
	size_t		n = 8 * 8 * 48;
	float	   *fd = malloc(n * sizeof(float)),
			   *fe = malloc(n * sizeof(float)),
			   *pd = malloc(n * sizeof(float)),
			   *pe = malloc(n * sizeof(float)),
				full_scores[8],
				cut_scores[8];
	bool		fused = false;
	bool		was_portable = cv_nn_get_portable();

	/* the fast kernels, even in a run that asks for portable ones (unit.c) */
	cv_nn_set_portable(false);
	small_classifier(&nb, &sn, false);
	nn_fuse_min_floats = 0;		/* fuse even this small block */
	full = load(&nb, NULL, &st, &err);
	CHECK_MSG(st == CV_OK, "%s", err.message);
	for (int i = 0; full != NULL && i < cv_net_num_steps(full); i++)
		fused = fused || strstr(cv_net_step_detail(full, i), "[+ ") != NULL;
	if (!fused)
		printf("     no fusion on this CPU: the cut is checked on the plain path only\n");

	o.n_outputs = 3;
	o.outputs[0] = sn.depthwise;
	o.outputs[1] = sn.expand;
	o.outputs[2] = sn.scores;
	cut = load(&nb, &o, &st, &err);
	CHECK_MSG(st == CV_OK, "%s", err.message);
	nn_fuse_min_floats = saved;
	for (int i = 0; cut != NULL && i < cv_net_num_steps(cut); i++)
		CHECK_MSG(strstr(cv_net_step_detail(cut, i), "[") == NULL, "step %d fused: %s", i,
				  cv_net_step_detail(cut, i));

	cv_nn_set_portable(true);
	portable = load(&nb, &o, &st, &err);
	cv_nn_set_portable(was_portable);
	CHECK_MSG(st == CV_OK, "%s", err.message);

	if (full != NULL && cut != NULL && portable != NULL)
	{
		float	   *outs[3] = {fd, fe, cut_scores},
				   *pouts[3] = {pd, pe, NULL};
		cv_net_workspace *ws = NULL;

		CHECK(cv_net_workspace_create(full, &ws, &err) == CV_OK);
		CHECK(cv_net_run(full, ws, px, full_scores, NULL, &err) == CV_OK);
		cv_net_workspace_free(ws);
		CHECK(run_outputs(cut, px, outs));
		CHECK(run_outputs(portable, px, pouts));
		CHECK_MSG(max_rel_diff(pd, fd, n) < 1e-5, "depthwise %g", max_rel_diff(pd, fd, n));
		CHECK_MSG(max_rel_diff(pe, fe, n) < 1e-5, "expand %g", max_rel_diff(pe, fe, n));
		CHECK_MSG(max_rel_diff(full_scores, cut_scores, 8) < 1e-5, "scores %g",
				  max_rel_diff(full_scores, cut_scores, 8));
	}
	cv_net_free(full);
	cv_net_free(cut);
	cv_net_free(portable);
	free(fd);
	free(fe);
	free(pd);
	free(pe);
	free(px);
	nb_free(&nb);
}

/* A file without stored activation shapes loads as the one with them. */
static void
test_missing_shapes_inferred(void)
{
	net_builder with,
				without;
	small_net	sn;
	cv_status	st;
	cv_error	err;
	cv_net	   *a,
			   *b;
	uint8_t    *px = pixels(16, 16);

	small_classifier(&with, &sn, false);
	small_classifier(&without, &sn, true);
	a = load(&with, NULL, &st, &err);
	CHECK_MSG(st == CV_OK, "%s", err.message);
	b = load(&without, NULL, &st, &err);
	CHECK_MSG(st == CV_OK, "%s", err.message);
	if (a != NULL && b != NULL)
	{
		float		sa[8],
					sb[8];
		cv_net_workspace *wa = NULL,
				   *wb = NULL;
		int			da[4],
					db[4];

		CHECK(cv_net_get_info(b)->num_outputs == 8);
		CHECK(cv_net_get_info(b)->feature_dim == cv_net_get_info(a)->feature_dim);
		CHECK(cv_net_num_activations(a) == cv_net_num_activations(b));
		for (int i = 0; i < cv_net_num_activations(a); i++)
		{
			cv_net_activation(a, i, NULL, da, NULL);
			cv_net_activation(b, i, NULL, db, NULL);
			CHECK(memcmp(da, db, sizeof(da)) == 0);
		}
		CHECK(cv_net_workspace_create(a, &wa, &err) == CV_OK);
		CHECK(cv_net_workspace_create(b, &wb, &err) == CV_OK);
		CHECK(cv_net_run(a, wa, px, sa, NULL, &err) == CV_OK);
		CHECK(cv_net_run(b, wb, px, sb, NULL, &err) == CV_OK);
		CHECK(memcmp(sa, sb, sizeof(sa)) == 0);
		cv_net_workspace_free(wa);
		cv_net_workspace_free(wb);
	}
	cv_net_free(a);
	cv_net_free(b);

	/* a wrong stored shape is still an error at the file's size */
	with.m.tensors[sn.sum].dims[2] = 5;
	a = load(&with, NULL, &st, &err);
	CHECK_MSG(st == CV_ERR_CORRUPT, "%d %s", st, err.message);
	cv_net_free(a);
	free(px);
	nb_free(&with);
	nb_free(&without);
}

/*
 * A uint8 output clamps a convolution without fused activation to what it
 * can represent, [scale * (0 - zp), scale * (255 - zp)], as TFLite's
 * integer kernels do: the same net with a float output, clamped, matches.
 */
static void
test_quantized_output_range(void)
{
	net_builder q,
				f;
	int			h = 8,
				w = 8,
				c = 3,
				y;
	float		scale = 0.01f;
	int64_t		zp = 100;
	double		lo = scale * (0 - 100.0),
				hi = scale * (255 - 100.0);
	cv_status	st;
	cv_error	err;
	cv_net	   *qn,
			   *fn;
	uint8_t    *px = pixels(8, 8);
	float		qo[8 * 8 * 16],
				fo[8 * 8 * 16];
	bool		clipped_low = false,
				clipped_high = false;

	nb_init(&q, 8, 8);
	y = conv(&q, q.m.input, &h, &w, &c, 16, 3, 1, 0);
	q.m.tensors[y].type = U8;
	tbm_quant(&q.m, y, 1, &scale, &zp, 0);
	q.m.output = y;
	h = w = 8;
	c = 3;
	nb_init(&f, 8, 8);
	f.m.output = conv(&f, f.m.input, &h, &w, &c, 16, 3, 1, 0);
	/* weights that reach beyond the range both ways */
	for (size_t i = 0; i < q.m.tensors[1].data_len / sizeof(float); i++)
	{
		((float *) q.blobs[0])[i] *= 8;
		((float *) f.blobs[0])[i] *= 8;
	}
	qn = load(&q, NULL, &st, &err);
	CHECK_MSG(st == CV_OK, "%s", err.message);
	fn = load(&f, NULL, &st, &err);
	CHECK_MSG(st == CV_OK, "%s", err.message);
	if (qn != NULL && fn != NULL)
	{
		cv_net_workspace *wq = NULL,
				   *wf = NULL;
		bool		same = true;

		CHECK(cv_net_workspace_create(qn, &wq, &err) == CV_OK);
		CHECK(cv_net_workspace_create(fn, &wf, &err) == CV_OK);
		CHECK(cv_net_run(qn, wq, px, qo, NULL, &err) == CV_OK);
		CHECK(cv_net_run(fn, wf, px, fo, NULL, &err) == CV_OK);
		for (int i = 0; i < 8 * 8 * 16; i++)
		{
			float		want = (float) fmin(fmax(fo[i], (float) lo), (float) hi);

			clipped_low = clipped_low || fo[i] < lo;
			clipped_high = clipped_high || fo[i] > hi;
			same = same && qo[i] == want;
		}
		CHECK(same);
		CHECK(clipped_low && clipped_high);
		cv_net_workspace_free(wq);
		cv_net_workspace_free(wf);
	}
	cv_net_free(qn);
	cv_net_free(fn);
	free(px);
	nb_free(&q);
	nb_free(&f);
}

/* ---- the shared pretrained files ---- */

static uint8_t *
read_model(const char *file, size_t *len)
{
	uint8_t    *bytes = unit_read_file(unit_shared_path(file), len);

	CHECK_MSG(bytes != NULL, "missing %s (PGVISION_SHARED)", unit_shared_path(file));
	return bytes;
}

static uint8_t *
cat_pixels(int w, int h)
{
	size_t		len;
	uint8_t    *bytes = unit_read_file(unit_shared_path("images/cat.bmp"), &len);
	cv_rgb_image img = {0},
				small = {0};
	cv_error	err;
	uint8_t    *px = NULL;

	CHECK_MSG(bytes != NULL, "missing images/cat.bmp");
	if (bytes == NULL)
		return NULL;
	if (cv_image_decode(bytes, len, 0, 0, 0, &img, &err) == CV_OK &&
		cv_image_resize_bilinear(&img, w, h, &small, &err) == CV_OK)
	{
		px = malloc((size_t) w * h * 3);
		memcpy(px, small.pixels, (size_t) w * h * 3);
	}
	cv_rgb_image_free(&img);
	cv_rgb_image_free(&small);
	free(bytes);
	return px;
}

/*
 * The last activation whose map is size / stride on a side with at most
 * max_c channels (the detector's choice of feature maps), or -1.
 */
static int
last_at_stride(const cv_net *net, int size, int stride, int max_c, int dims[4],
			   const char **name)
{
	int			side = (size + stride - 1) / stride,
				found = -1;

	for (int i = 0; i < cv_net_num_activations(net); i++)
	{
		int			t,
					d[4];
		const char *nm;

		cv_net_activation(net, i, &t, d, &nm);
		if (d[1] == side && d[2] == side && d[3] <= max_c)
		{
			found = t;
			memcpy(dims, d, sizeof(d));
			*name = nm;
		}
	}
	return found;
}

static double
now_seconds(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double) ts.tv_sec + (double) ts.tv_nsec * 1e-9;
}

static void
test_mobilenet_v2_maps(void)
{
	size_t		len;
	uint8_t    *bytes = read_model("models/mobilenet_v2_1.0_224_quant.tflite", &len);
	cv_net	   *whole = NULL,
			   *listed = NULL;
	cv_error	err;
	int			t16,
				t32,
				d16[4],
				d32[4];
	const char *n16 = NULL,
			   *n32 = NULL;
	static const int sizes[] = {224, 320, 416};

	if (bytes == NULL)
		return;
	CHECK(cv_net_load(bytes, len, &listed, &err) == CV_OK);
	if (listed == NULL)
		goto done;
	t16 = last_at_stride(listed, 224, 16, 512, d16, &n16);
	t32 = last_at_stride(listed, 224, 32, 512, d32, &n32);
	CHECK_MSG(t16 >= 0 && d16[3] == 96 && strstr(n16, "expanded_conv_12/") != NULL,
			  "stride 16: %d %s", t16, n16 ? n16 : "");
	CHECK_MSG(t32 >= 0 && d32[3] == 320 && strstr(n32, "expanded_conv_16/project") != NULL,
			  "stride 32: %d %s", t32, n32 ? n32 : "");
	printf("     mobilenet_v2 stride 16: tensor %d %dx%dx%d %.60s\n", t16, d16[1], d16[2],
		   d16[3], n16);
	printf("     mobilenet_v2 stride 32: tensor %d %dx%dx%d %.60s\n", t32, d32[1], d32[2],
		   d32[3], n32);

	/*
	 * At 224 the cut net's maps are those of the whole net: the same file
	 * with the scores requested too runs every operator, and its scores are
	 * cv_net_run's.
	 */
	{
		cv_net_options o = {0};
		cv_net	   *cut = NULL;
		uint8_t    *px = cat_pixels(224, 224);
		float	   *a16 = malloc(14 * 14 * 96 * sizeof(float)),
				   *a32 = malloc(7 * 7 * 320 * sizeof(float)),
				   *b16 = malloc(14 * 14 * 96 * sizeof(float)),
				   *b32 = malloc(7 * 7 * 320 * sizeof(float)),
					scores[1001],
					direct[1001];
		float	   *outs[3] = {a16, a32, NULL},
				   *wouts[3] = {b16, b32, scores};
		cv_net_workspace *ws = NULL;

		o.n_outputs = 2;
		o.outputs[0] = t16;
		o.outputs[1] = t32;
		CHECK(cv_net_load_with(bytes, len, &o, &cut, &err) == CV_OK);
		o.n_outputs = 3;
		o.outputs[2] = 173;		/* the softmax */
		CHECK(cv_net_load_with(bytes, len, &o, &whole, &err) == CV_OK);
		if (cut != NULL && whole != NULL && px != NULL)
		{
			CHECK(cv_net_num_steps(cut) < cv_net_num_steps(whole));
			CHECK(run_outputs(cut, px, outs));
			CHECK(run_outputs(whole, px, wouts));
			CHECK_MSG(max_rel_diff(b16, a16, 14 * 14 * 96) < 1e-4, "%g",
					  max_rel_diff(b16, a16, 14 * 14 * 96));
			CHECK_MSG(max_rel_diff(b32, a32, 7 * 7 * 320) < 1e-4, "%g",
					  max_rel_diff(b32, a32, 7 * 7 * 320));
			CHECK(cv_net_workspace_create(listed, &ws, &err) == CV_OK);
			CHECK(cv_net_run(listed, ws, px, direct, NULL, &err) == CV_OK);
			CHECK(max_rel_diff(direct, scores, 1001) < 1e-5);
			cv_net_workspace_free(ws);
		}
		cv_net_free(cut);
		free(px);
		free(a16);
		free(a32);
		free(b16);
		free(b32);
	}

	/* other sizes: 20x20 / 10x10 at 320, 26x26 / 13x13 at 416, timed */
	for (size_t k = 0; k < sizeof(sizes) / sizeof(sizes[0]); k++)
	{
		int			s = sizes[k];
		cv_net_options o = {.input_width = s, .input_height = s, .n_outputs = 2,
		.outputs = {t16, t32}};
		cv_net	   *net = NULL;
		cv_net_workspace *ws = NULL;
		uint8_t    *px = cat_pixels(s, s);
		int			a[4],
					b[4];
		float	   *o16,
				   *o32;
		double		best = 1e9;
		bool		ok = true;

		CHECK_MSG(cv_net_load_with(bytes, len, &o, &net, &err) == CV_OK, "%d: %s", s,
				  err.message);
		if (net == NULL || px == NULL)
		{
			free(px);
			continue;
		}
		CHECK(cv_net_output_shape(net, 0, a) && cv_net_output_shape(net, 1, b));
		CHECK_MSG(a[1] == (s + 15) / 16 && a[2] == (s + 15) / 16 && a[3] == 96 &&
				  b[1] == (s + 31) / 32 && b[2] == (s + 31) / 32 && b[3] == 320,
				  "%d: %dx%dx%d %dx%dx%d", s, a[1], a[2], a[3], b[1], b[2], b[3]);
		o16 = malloc(dims_count(a) * sizeof(float));
		o32 = malloc(dims_count(b) * sizeof(float));
		CHECK(cv_net_workspace_create(net, &ws, &err) == CV_OK);
		for (int r = 0; r < 3 && ws != NULL; r++)
		{
			float	   *outs[2] = {o16, o32};
			double		t0 = now_seconds();

			CHECK(cv_net_run_outputs(net, ws, px, outs, &err) == CV_OK);
			if (now_seconds() - t0 < best)
				best = now_seconds() - t0;
		}
		for (size_t i = 0; i < dims_count(b); i++)
			ok = ok && isfinite(o32[i]);
		CHECK(ok);
		printf("     mobilenet_v2 at %d: %dx%dx%d and %dx%dx%d in %.1f ms (best of 3)\n", s,
			   a[1], a[2], a[3], b[1], b[2], b[3], best * 1e3);
		cv_net_workspace_free(ws);
		cv_net_free(net);
		free(o16);
		free(o32);
		free(px);
	}

done:
	cv_net_free(whole);
	cv_net_free(listed);
	free(bytes);
}

/*
 * MobileNet-EdgeTPU stores no shape for most activations: inferred, it
 * classifies cat.bmp as the float peer does (SOURCE.md: 286, 0.569).
 */
static void
test_edgetpu(void)
{
	size_t		len;
	uint8_t    *bytes = read_model("models/mobilenet_edgetpu_224_1.0_uint8.tflite", &len);
	uint8_t    *px = cat_pixels(224, 224);
	cv_net	   *net = NULL;
	cv_net_workspace *ws = NULL;
	cv_error	err;
	float		scores[1001];
	int			best = 0,
				t16,
				t32,
				d16[4],
				d32[4];
	const char *n16 = NULL,
			   *n32 = NULL;

	if (bytes == NULL || px == NULL)
		goto done;
	CHECK_MSG(cv_net_load(bytes, len, &net, &err) == CV_OK, "%s", err.message);
	if (net == NULL)
		goto done;
	CHECK(cv_net_get_info(net)->num_outputs == 1001);
	CHECK(cv_net_get_info(net)->feature_dim == 1280);
	CHECK(cv_net_get_info(net)->input_zero_point == 128);
	CHECK(cv_net_workspace_create(net, &ws, &err) == CV_OK);
	CHECK(cv_net_run(net, ws, px, scores, NULL, &err) == CV_OK);
	for (int i = 0; i < 1001; i++)
		if (scores[i] > scores[best])
			best = i;
	CHECK_MSG(best == 286, "top-1 %d %.4f", best, scores[best]);
	CHECK_NEAR(scores[286], 0.569, 0.02);
	printf("     edgetpu: cat.bmp top-1 %d %.4f\n", best, scores[best]);
	t16 = last_at_stride(net, 224, 16, 512, d16, &n16);
	t32 = last_at_stride(net, 224, 32, 512, d32, &n32);
	CHECK(t16 >= 0 && t32 >= 0);
	if (t16 >= 0 && t32 >= 0)
	{
		printf("     edgetpu stride 16: tensor %d %dx%dx%d %.60s\n", t16, d16[1], d16[2],
			   d16[3], n16);
		printf("     edgetpu stride 32: tensor %d %dx%dx%d %.60s\n", t32, d32[1], d32[2],
			   d32[3], n32);
	}

done:
	cv_net_workspace_free(ws);
	cv_net_free(net);
	free(px);
	free(bytes);
}

/* The last map of side x side computed by the SSD's MobileNet itself. */
static int
last_backbone_map(const cv_net *net, int side, int dims[4], const char **name)
{
	int			found = -1;

	for (int i = 0; i < cv_net_num_activations(net); i++)
	{
		int			t,
					d[4];
		const char *nm;

		cv_net_activation(net, i, &t, d, &nm);
		if (d[1] == side && d[2] == side && strstr(nm, "MobilenetV1/MobilenetV1/") != NULL)
		{
			found = t;
			memcpy(dims, d, sizeof(d));
			*name = nm;
		}
	}
	return found;
}

/*
 * SSD MobileNet V1 ends in the custom TFLite_Detection_PostProcess:
 * listed with prefix_only, its backbone maps taken at 300x300.  Its
 * convolutions have no fused RELU6: the [0, 6] clamp comes from the uint8
 * range of their outputs (scale 6/255, zero point 0).
 */
static void
test_ssd_maps(void)
{
	size_t		len;
	uint8_t    *bytes = read_model("models/ssd_mobilenet_v1_coco_uint8.tflite", &len);
	uint8_t    *px = cat_pixels(300, 300);
	cv_net	   *net = NULL;
	cv_net_options o = {0};
	cv_error	err;
	int			t19,
				t10,
				d19[4],
				d10[4];
	const char *n19 = NULL,
			   *n10 = NULL;

	if (bytes == NULL || px == NULL)
		goto done;
	CHECK(cv_net_load(bytes, len, &net, &err) == CV_ERR_UNSUPPORTED);
	CHECK(strstr(err.message, "TFLite_Detection_PostProcess") != NULL);
	o.prefix_only = true;
	CHECK_MSG(cv_net_load_with(bytes, len, &o, &net, &err) == CV_OK, "%s", err.message);
	if (net == NULL)
		goto done;
	CHECK(cv_net_num_activations(net) == 63);	/* every operator but the last */
	CHECK(cv_net_get_info(net)->num_outputs == 0);
	/* the backbone's last 19x19 and 10x10 maps, before the extra layers */
	t19 = last_backbone_map(net, 19, d19, &n19);
	t10 = last_backbone_map(net, 10, d10, &n10);
	CHECK(t19 >= 0 && t10 >= 0);

	/*
	 * The class scores (LOGISTIC, before the custom operator): over the
	 * 1917 anchors the best is "cat" (index 17 with the background at 0,
	 * coco_labels.txt line 16); without the range clamp it is noise.
	 */
	for (int i = 0; i < cv_net_num_activations(net); i++)
	{
		int			t,
					d[4];
		const char *nm;

		cv_net_activation(net, i, &t, d, &nm);
		if (strcmp(nm, "convert_scores") == 0 && d[2] == 1917 && d[3] == 91)
		{
			cv_net	   *cls = NULL;
			cv_net_options co = {.n_outputs = 1, .outputs = {t}};
			float	   *sc = malloc(1917 * 91 * sizeof(float));
			int			best = 1;
			float		best_score = 0;

			CHECK(cv_net_load_with(bytes, len, &co, &cls, &err) == CV_OK);
			if (cls != NULL && run_outputs(cls, px, &sc))
				for (int a = 0; a < 1917 * 91; a++)
					if (a % 91 != 0 && sc[a] > best_score)
					{
						best_score = sc[a];
						best = a % 91;
					}
			CHECK_MSG(best == 17 && best_score > 0.5, "best class %d %.3f", best, best_score);
			printf("     ssd class scores: best %d (cat) %.3f\n", best, best_score);
			cv_net_free(cls);
			free(sc);
		}
	}
	if (t19 >= 0 && t10 >= 0)
	{
		/* the names belong to the net */
		printf("     ssd stride 16: tensor %d %dx%dx%d %s\n", t19, d19[1], d19[2], d19[3], n19);
		printf("     ssd stride 32: tensor %d %dx%dx%d %s\n", t10, d10[1], d10[2], d10[3], n10);
		CHECK(strstr(n19, "Conv2d_11_pointwise") != NULL);
		CHECK(strstr(n10, "Conv2d_13_pointwise") != NULL);
	}
	cv_net_free(net);
	net = NULL;
	if (t19 < 0 || t10 < 0)
		goto done;

	memset(&o, 0, sizeof(o));
	o.n_outputs = 2;
	o.outputs[0] = t19;
	o.outputs[1] = t10;
	CHECK_MSG(cv_net_load_with(bytes, len, &o, &net, &err) == CV_OK, "%s", err.message);
	if (net != NULL)
	{
		int			a[4],
					b[4];
		float	   *m19,
				   *m10;
		float	   *outs[2];
		double		lo = 1e9,
					hi = -1e9;
		size_t		at_top = 0;

		CHECK(cv_net_output_shape(net, 0, a) && a[1] == 19 && a[2] == 19);
		CHECK(cv_net_output_shape(net, 1, b) && b[1] == 10 && b[2] == 10);
		m19 = malloc(dims_count(a) * sizeof(float));
		m10 = malloc(dims_count(b) * sizeof(float));
		outs[0] = m19;
		outs[1] = m10;
		CHECK(run_outputs(net, px, outs));
		for (size_t i = 0; i < dims_count(a); i++)
		{
			lo = fmin(lo, m19[i]);
			hi = fmax(hi, m19[i]);
			at_top += m19[i] >= 5.99f;
		}
		for (size_t i = 0; i < dims_count(b); i++)
		{
			lo = fmin(lo, m10[i]);
			hi = fmax(hi, m10[i]);
		}
		/* clamped like RELU6 by the output range, and not trivially */
		CHECK_MSG(lo >= 0 && hi <= 6.0001 && hi > 1, "range %g..%g", lo, hi);
		printf("     ssd maps %dx%dx%d, %dx%dx%d: values in [%g, %g], %zu at the top\n",
			   a[1], a[2], a[3], b[1], b[2], b[3], lo, hi, at_top);
		free(m19);
		free(m10);
	}

done:
	cv_net_free(net);
	free(px);
	free(bytes);
}

/*
 * A float file on the int8 engine: nothing to run on integers (its weights
 * and activations are float; only its input is uint8), so the same steps,
 * and the same floats as the float engine, bit for bit: scores and a
 * requested activation alike.
 */
static void
test_float_file_on_int8_engine(void)
{
	net_builder nb;
	small_net	sn;
	cv_net_options o = {0};
	cv_status	st;
	cv_error	err;
	cv_net	   *fnet,
			   *qnet;
	uint8_t    *px = pixels(16, 16);
	float		fs[8],
				qs[8];

	small_classifier(&nb, &sn, false);
	fnet = load(&nb, &o, &st, &err);
	CHECK_MSG(st == CV_OK, "%s", err.message);
	o.engine = CV_NET_ENGINE_INT8;
	qnet = load(&nb, &o, &st, &err);
	CHECK_MSG(st == CV_OK, "%s", err.message);
	if (fnet && qnet)
	{
		cv_net_workspace *fw = NULL,
				   *qw = NULL;

		CHECK(cv_net_get_info(qnet)->integer_steps == 0);
		CHECK(cv_net_workspace_create(fnet, &fw, &err) == CV_OK);
		CHECK(cv_net_workspace_create(qnet, &qw, &err) == CV_OK);
		CHECK(cv_net_run(fnet, fw, px, fs, NULL, &err) == CV_OK);
		CHECK(cv_net_run(qnet, qw, px, qs, NULL, &err) == CV_OK);
		CHECK(memcmp(fs, qs, sizeof(fs)) == 0);
		cv_net_workspace_free(fw);
		cv_net_workspace_free(qw);
	}
	cv_net_free(fnet);
	cv_net_free(qnet);
	nb_free(&nb);
	free(px);
}

UNIT_MAIN("nn_cut",
		  UNIT_CASE(test_input_size_override),
		  UNIT_CASE(test_cut_before_unsupported),
		  UNIT_CASE(test_requested_inside_fused_block),
		  UNIT_CASE(test_missing_shapes_inferred),
		  UNIT_CASE(test_quantized_output_range),
		  UNIT_CASE(test_mobilenet_v2_maps),
		  UNIT_CASE(test_edgetpu),
		  UNIT_CASE(test_ssd_maps),
		  UNIT_CASE(test_float_file_on_int8_engine))
