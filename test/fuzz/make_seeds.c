/*
 * make_seeds.c
 *	  Writes the hand-made seeds of the fuzz harnesses: tiny TFLite nets
 *	  (one per family of operators we run, every weight type), the same
 *	  with option headers for fuzz_tflite_with, the same nets saved prepared
 *	  for fuzz_prepared (float and int8 engines), serialised cv_models of
 *	  every task and format version, small BMPs of every header kind, and
 *	  EXIF blocks of both byte orders.
 *
 * A fuzzer finds its way much faster from inputs that already pass every
 * check than from photos alone, and none of these can be taken from the
 * shared data: the TFLite nets come from the unit tests' builder
 * (test/unit/tflite_builder.c, included as the unit tests do), the models
 * from the core's own serialiser.  The output is deterministic; the files
 * are committed under test/fuzz/seed and this program regenerates them:
 *	  make -C test/fuzz seeds
 * Each net and model is loaded back here and reported, so that a seed that
 * silently stopped passing the reader is noticed.
 *
 * usage: make_seeds OUTDIR [ROTATED_JPEG]
 */
#include "fuzz_common.h"
#include "common/cv_common.h"
#include "image/exif.h"
#include "learn/features.h"
#include "model/model.h"
#include "nn/nn.h"
#include "../unit/tflite_builder.c"

#include <errno.h>
#include <sys/stat.h>

/* TensorType, BuiltinOperator and BuiltinOptions values of schema.fbs */
enum
{
	F32 = 0, F16 = 1, I32 = 2, U8 = 3, I8 = 9
};
enum
{
	OP_ADD = 0, OP_AVG = 1, OP_CONCAT = 2, OP_CONV = 3, OP_DW = 4, OP_DEQ = 6,
	OP_FC = 9, OP_LOGISTIC = 14, OP_MAX = 17, OP_MUL = 18, OP_RELU = 19,
	OP_RELU6 = 21, OP_RESHAPE = 22, OP_RESIZE_BILINEAR = 23, OP_SOFTMAX = 25,
	OP_PAD = 34, OP_MEAN = 40, OP_SQUEEZE = 43, OP_QUANTIZE = 114,
	OP_HARD_SWISH = 117
};
enum
{
	O_CONV = 1, O_DW = 2, O_POOL = 5, O_FC = 8, O_SOFTMAX = 9, O_CONCAT = 10,
	O_ADD = 11, O_MUL = 21, O_REDUCER = 27
};

static const char *outdir;

static void
write_file(const char *sub, const char *name, const void *data, size_t len)
{
	char		path[1024];
	FILE	   *f;

	snprintf(path, sizeof(path), "%s/%s", outdir, sub);
	if (mkdir(path, 0755) != 0 && errno != EEXIST)
	{
		perror(path);
		exit(1);
	}
	snprintf(path, sizeof(path), "%s/%s/%s", outdir, sub, name);
	f = fopen(path, "wb");
	if (f == NULL || fwrite(data, 1, len, f) != len || fclose(f) != 0)
	{
		perror(path);
		exit(1);
	}
}

/* ---- TFLite nets ---- */

static int
input_u8(tbm_model *m, int h, int w)
{
	int32_t		dims[4] = {1, h, w, 3};
	float		scale = 1.0f / 128;
	int64_t		zp = 128;
	int			t;

	memset(m, 0, sizeof(*m));
	t = tbm_tensor_add(m, U8, 4, dims, NULL, 0);
	tbm_quant(m, t, 1, &scale, &zp, 0);
	m->input = t;
	return t;
}

static int
act(tbm_model *m, int type, int a, int b, int c, int d)
{
	int32_t		dims[4] = {a, b, c, d};

	return tbm_tensor_add(m, type, 4, dims, NULL, 0);
}

/* A constant of n float32 values following a fixed pattern. */
static int
const_f32(tbm_model *m, int rank, const int32_t *dims)
{
	static float data[TBM_MAX_TENSORS][256];
	static int	used;
	size_t		n = 1;

	for (int i = 0; i < rank; i++)
		n *= (size_t) dims[i];
	for (size_t i = 0; i < n && i < 256; i++)
		data[used][i] = (float) ((int) (i * 37 % 11) - 5) / 8.0f;
	return tbm_tensor_add(m, F32, rank, dims, data[used++], n * 4);
}

static void
conv_opts(tbm_op *op, int padding, int stride, int act_fn)
{
	tbm_opt_u8(op, 0, padding);
	tbm_opt_i32(op, 1, stride);
	tbm_opt_i32(op, 2, stride);
	tbm_opt_u8(op, 3, act_fn);
}

static void
pool_opts(tbm_op *op, int padding, int stride, int filter)
{
	tbm_opt_u8(op, 0, padding);
	tbm_opt_i32(op, 1, stride);
	tbm_opt_i32(op, 2, stride);
	tbm_opt_i32(op, 3, filter);
	tbm_opt_i32(op, 4, filter);
}

/*
 * A small classifier: CONV_2D (float32 weights, SAME, stride 2, RELU6),
 * DEPTHWISE_CONV_2D (int8 per-channel weights), a 1x1 CONV_2D (uint8
 * weights), AVERAGE_POOL_2D, MEAN, RESHAPE, FULLY_CONNECTED, SOFTMAX.
 */
static void
net_classifier(tbm_model *m)
{
	static int8_t dw_w[3 * 3 * 4];
	static uint8_t pw_w[6 * 4];
	static float b4[4] = {0.1f, -0.2f, 0.3f, 0},
				b6[6] = {0};
	static int32_t axes[2] = {1, 2};
	float		dw_scale[4] = {0.01f, 0.02f, 0.03f, 0.04f},
				pw_scale = 0.02f;
	int64_t		dw_zp[4] = {0},
				pw_zp = 128;
	int			x = input_u8(m, 8, 8),
				w,
				b,
				c1,
				d1,
				p1,
				a1,
				mn,
				r,
				fw,
				fb,
				fc,
				sm,
				ax;
	tbm_op	   *op;

	for (int i = 0; i < 36; i++)
		dw_w[i] = (int8_t) (i * 13 % 17 - 8);
	for (int i = 0; i < 24; i++)
		pw_w[i] = (uint8_t) (i * 29 % 251);
	w = const_f32(m, 4, (int32_t[]) {4, 3, 3, 3});
	b = tbm_tensor_add(m, F32, 1, (int32_t[]) {4}, b4, 16);
	c1 = act(m, F32, 1, 4, 4, 4);
	op = tbm_op_add(m, OP_CONV, 3, (int32_t[]) {x, w, b}, c1, O_CONV);
	conv_opts(op, 0, 2, 3);

	w = tbm_tensor_add(m, I8, 4, (int32_t[]) {1, 3, 3, 4}, dw_w, sizeof(dw_w));
	tbm_quant(m, w, 4, dw_scale, dw_zp, 3);
	b = tbm_tensor_add(m, F32, 1, (int32_t[]) {4}, b4, 16);
	d1 = act(m, F32, 1, 4, 4, 4);
	op = tbm_op_add(m, OP_DW, 3, (int32_t[]) {c1, w, b}, d1, O_DW);
	/* DepthwiseConv2DOptions: multiplier (3) before the activation (4) */
	tbm_opt_u8(op, 0, 0);
	tbm_opt_i32(op, 1, 1);
	tbm_opt_i32(op, 2, 1);
	tbm_opt_i32(op, 3, 1);
	tbm_opt_u8(op, 4, 0);

	w = tbm_tensor_add(m, U8, 4, (int32_t[]) {6, 1, 1, 4}, pw_w, sizeof(pw_w));
	tbm_quant(m, w, 1, &pw_scale, &pw_zp, 0);
	b = tbm_tensor_add(m, F32, 1, (int32_t[]) {6}, b6, 24);
	p1 = act(m, F32, 1, 4, 4, 6);
	op = tbm_op_add(m, OP_CONV, 3, (int32_t[]) {d1, w, b}, p1, O_CONV);
	conv_opts(op, 1, 1, 1);

	a1 = act(m, F32, 1, 2, 2, 6);
	pool_opts(tbm_op_add(m, OP_AVG, 1, (int32_t[]) {p1}, a1, O_POOL), 1, 2, 2);
	ax = tbm_tensor_add(m, I32, 1, (int32_t[]) {2}, axes, 8);
	mn = act(m, F32, 1, 1, 1, 6);
	tbm_opt_u8(tbm_op_add(m, OP_MEAN, 2, (int32_t[]) {a1, ax}, mn, O_REDUCER), 0, 1);
	r = tbm_tensor_add(m, F32, 2, (int32_t[]) {1, 6}, NULL, 0);
	tbm_op_add(m, OP_RESHAPE, 1, (int32_t[]) {mn}, r, 0);
	fw = const_f32(m, 2, (int32_t[]) {5, 6});
	fb = const_f32(m, 1, (int32_t[]) {5});
	fc = tbm_tensor_add(m, F32, 2, (int32_t[]) {1, 5}, NULL, 0);
	tbm_op_add(m, OP_FC, 3, (int32_t[]) {r, fw, fb}, fc, O_FC);
	sm = tbm_tensor_add(m, F32, 2, (int32_t[]) {1, 5}, NULL, 0);
	tbm_opt_f32(tbm_op_add(m, OP_SOFTMAX, 1, (int32_t[]) {fc}, sm, O_SOFTMAX), 0, 1.0f);
	m->output = sm;
}

/* Pools (VALID and SAME), CONCATENATION, ADD and MUL with broadcasting. */
static void
net_pools(tbm_model *m)
{
	int			x = input_u8(m, 6, 6),
				av,
				mx,
				cat,
				k,
				ad,
				mu;
	tbm_op	   *op;

	av = act(m, U8, 1, 3, 3, 3);
	pool_opts(tbm_op_add(m, OP_AVG, 1, (int32_t[]) {x}, av, O_POOL), 0, 2, 3);
	mx = act(m, U8, 1, 3, 3, 3);
	pool_opts(tbm_op_add(m, OP_MAX, 1, (int32_t[]) {x}, mx, O_POOL), 1, 2, 2);
	cat = act(m, F32, 1, 3, 3, 6);
	op = tbm_op_add(m, OP_CONCAT, 2, (int32_t[]) {av, mx}, cat, O_CONCAT);
	tbm_opt_i32(op, 0, -1);
	k = const_f32(m, 1, (int32_t[]) {6});
	ad = act(m, F32, 1, 3, 3, 6);
	tbm_opt_u8(tbm_op_add(m, OP_ADD, 2, (int32_t[]) {cat, k}, ad, O_ADD), 0, 1);
	mu = act(m, F32, 1, 3, 3, 6);
	tbm_opt_u8(tbm_op_add(m, OP_MUL, 2, (int32_t[]) {ad, cat}, mu, O_MUL), 0, 0);
	m->output = mu;
}

/* PAD, QUANTIZE, DEQUANTIZE, RESHAPE, SQUEEZE and the activations. */
static void
net_shapes(tbm_model *m)
{
	static int32_t pads[8] = {0, 0, 1, 1, 2, 0, 0, 0};
	int			x = input_u8(m, 2, 2),
				pt,
				p,
				q,
				dq,
				r1,
				r2,
				r3,
				r4,
				r,
				sq;
	float		qs = 0.05f;
	int64_t		qz = 3;

	pt = tbm_tensor_add(m, I32, 2, (int32_t[]) {4, 2}, pads, 32);
	p = act(m, F32, 1, 4, 4, 3);
	tbm_op_add(m, OP_PAD, 2, (int32_t[]) {x, pt}, p, 0);
	q = act(m, I8, 1, 4, 4, 3);
	tbm_quant(m, q, 1, &qs, &qz, 0);
	tbm_op_add(m, OP_QUANTIZE, 1, (int32_t[]) {p}, q, 0);
	dq = act(m, F32, 1, 4, 4, 3);
	tbm_op_add(m, OP_DEQ, 1, (int32_t[]) {q}, dq, 0);
	r1 = act(m, F32, 1, 4, 4, 3);
	tbm_op_add(m, OP_RELU, 1, (int32_t[]) {dq}, r1, 0);
	r2 = act(m, F32, 1, 4, 4, 3);
	tbm_op_add(m, OP_RELU6, 1, (int32_t[]) {r1}, r2, 0);
	r3 = act(m, F32, 1, 4, 4, 3);
	tbm_op_add(m, OP_LOGISTIC, 1, (int32_t[]) {r2}, r3, 0);
	r4 = act(m, F32, 1, 4, 4, 3);
	tbm_op_add(m, OP_HARD_SWISH, 1, (int32_t[]) {r3}, r4, 0);
	r = act(m, F32, 1, 1, 1, 48);
	tbm_op_add(m, OP_RESHAPE, 1, (int32_t[]) {r4}, r, 0);
	sq = tbm_tensor_add(m, F32, 2, (int32_t[]) {1, 48}, NULL, 0);
	tbm_op_add(m, OP_SQUEEZE, 1, (int32_t[]) {r}, sq, 0);
	m->output = sq;
}

/*
 * float16 weights behind DEQUANTIZE (as TFLite's float16 quantization
 * writes them), a dilated convolution, and a last operator we do not run
 * (RESIZE_BILINEAR): the case of prefix_only and of cut outputs.
 */
static void
net_f16_tail(tbm_model *m)
{
	static uint16_t w16[2 * 3 * 3 * 3];
	int			x = input_u8(m, 7, 7),
				wh,
				w,
				c,
				rs;
	tbm_op	   *op;

	for (int i = 0; i < 54; i++)
		w16[i] = (uint16_t) (0x3000 + (i * 97 % 0x0C00)) | (i % 3 == 0 ? 0x8000 : 0);
	wh = tbm_tensor_add(m, F16, 4, (int32_t[]) {2, 3, 3, 3}, w16, sizeof(w16));
	w = tbm_tensor_add(m, F32, 4, (int32_t[]) {2, 3, 3, 3}, NULL, 0);
	tbm_op_add(m, OP_DEQ, 1, (int32_t[]) {wh}, w, 0);
	c = act(m, F32, 1, 7, 7, 2);
	op = tbm_op_add(m, OP_CONV, 2, (int32_t[]) {x, w}, c, O_CONV);
	conv_opts(op, 0, 1, 0);
	tbm_opt_i32(op, 4, 2);
	tbm_opt_i32(op, 5, 2);
	rs = act(m, F32, 1, 14, 14, 2);
	tbm_op_add(m, OP_RESIZE_BILINEAR, 1, (int32_t[]) {c}, rs, 0);
	m->output = rs;
}

typedef struct net_seed
{
	const char *name;
	void		(*make) (tbm_model *m);
	/* headers for fuzz_tflite_with: flags, width, height, outputs */
	uint8_t		with[3][8];
} net_seed;

static const net_seed nets[] = {
	{"classifier", net_classifier,
	{{0x00}, {0x24, 16, 12, 3, 6}, {0x12, 0, 0, 9, 0}}},
	{"pools", net_pools,
	{{0x02}, {0x14, 10, 6, 3}, {0x24, 12, 12, 1, 2}}},
	{"shapes", net_shapes,
	{{0x00}, {0x10, 0, 0, 5}, {0x14, 3, 1, 8}}},
	{"f16_tail", net_f16_tail,
	{{0x01}, {0x14, 20, 9, 3}, {0x05, 5, 5}}},
};

static void
report(const char *what, const char *name, cv_status st, const cv_error *err)
{
	fprintf(stderr, "  %s %s: %s%s%s\n", what, name, cv_status_name(st),
			st == CV_OK ? "" : ": ", st == CV_OK ? "" : err->message);
}

/*
 * The net of a seed file on each engine, saved prepared for fuzz_prepared
 * (which makes every input its own build's before loading it).
 */
static void
write_prepared(const char *base, const uint8_t *bytes, size_t len)
{
	for (int engine = 0; engine < 2; engine++)
	{
		cv_net_options opt = {0};
		cv_net	   *net = NULL;
		cv_error	err;
		cv_status	st;
		char		name[80];

		opt.engine = (cv_net_engine) engine;
		if (cv_net_load_with(bytes, len, &opt, &net, &err) == CV_OK)
		{
			size_t		n = cv_net_prepared_size(net);
			void	   *blob = NULL;

			if (posix_memalign(&blob, 64, n) == 0)
			{
				snprintf(name, sizeof(name), "%s_%s.pgvnet", base, engine ? "int8" : "float");
				st = cv_net_save_prepared(net, "fuzz_prepared", blob, n, &err);
				report("prepared", name, st, &err);
				if (st == CV_OK)
					write_file("prepared", name, blob, n);
				free(blob);
			}
		}
		cv_net_free(net);
	}
}

static void
write_nets(void)
{
	static tbm_model m;

	for (size_t i = 0; i < sizeof(nets) / sizeof(nets[0]); i++)
	{
		size_t		len;
		uint8_t    *bytes;
		char		name[64];
		cv_net	   *net = NULL;
		cv_error	err;
		cv_status	st;

		nets[i].make(&m);
		bytes = tbm_build(&m, &len);
		snprintf(name, sizeof(name), "%s.tflite", nets[i].name);
		write_file("tflite", name, bytes, len);
		st = cv_net_load(bytes, len, &net, &err);
		report("tflite", name, st, &err);
		cv_net_free(net);
		write_prepared(nets[i].name, bytes, len);

		for (int k = 0; k < 3; k++)
		{
			uint8_t    *with = malloc(len + 8);
			cv_net_options opt = {0};

			memcpy(with, nets[i].with[k], 8);
			memcpy(with + 8, bytes, len);
			snprintf(name, sizeof(name), "%s_%d", nets[i].name, k);
			write_file("tflite_with", name, with, len + 8);
			/* the same decoding of the header as fuzz_tflite_with.c */
			opt.prefix_only = with[0] & 1;
			opt.keep_layouts = (with[0] & 2) != 0;
			if (with[0] & 4)
			{
				opt.input_width = with[1];
				opt.input_height = with[2];
			}
			opt.n_outputs = (with[0] >> 4) & 7;
			for (int o = 0; o < opt.n_outputs; o++)
				opt.outputs[o] = with[3 + o];
			net = NULL;
			st = cv_net_load_with(bytes, len, &opt, &net, &err);
			report("tflite_with", name, st, &err);
			cv_net_free(net);
			free(with);
		}
		free(bytes);
	}
}

/* ---- cv_model ---- */

/* Set version, length and checksum of model bytes, and write them. */
static void
write_model(const char *name, uint8_t *bytes, size_t len, uint32_t version)
{
	cv_model   *back = NULL;
	cv_error	err;
	cv_status	st;

	fuzz_put_le(bytes + 8, version, 4);
	fuzz_put_le(bytes + 16, len, 8);
	fuzz_put_le(bytes + 24, fuzz_crc32(bytes + CV_MODEL_HEADER_SIZE, len - CV_MODEL_HEADER_SIZE), 4);
	write_file("model", name, bytes, len);
	st = cv_model_parse(bytes, len, &back, &err);
	report("model", name, st, &err);
	cv_model_free(back);
}

static void
write_models(void)
{
	static const char *const names[3] = {"apple", "pear \xc3\xa9", "Negative"};
	cv_feature_extractor fx = {.name = "fake", .version = 7, .input_width = 16,
	.input_height = 12, .dim = 6};
	cv_error	err;

	for (int t = 0; t < 2; t++)
	{
		cv_task		task = t == 0 ? CV_TASK_MULTICLASS : CV_TASK_MULTILABEL;
		cv_head    *head = cv_head_alloc(task, 3, 6);
		cv_model   *m = NULL;
		uint8_t    *bytes = NULL;
		size_t		len = 0;
		char		name[64];

		fx.content_hash[0] = 0xAB;
		head->norm = CV_NORM_POWER_L2;
		head->predict_views = 2;
		head->lambda = 0.25f;
		head->negative[2] = task == CV_TASK_MULTILABEL;
		for (int j = 0; j < 6; j++)
		{
			head->mean[j] = 0.1f * j;
			head->scale[j] = 1.0f + j;
		}
		for (int i = 0; i < 3 * 6; i++)
			head->weights[i] = head->negative[i / 6] ? 0 : (float) (i % 5) - 2;
		head->bias[0] = 0.5f;
		if (cv_model_build(&fx, names, head, 0.5f, &m, &err) != CV_OK ||
			cv_model_serialize(m, &bytes, &len, &err) != CV_OK)
		{
			fprintf(stderr, "model: %s\n", err.message);
			exit(1);
		}
		snprintf(name, sizeof(name), "%s_v3", t == 0 ? "multiclass" : "multilabel");
		write_model(name, bytes, len, 3);
		if (t == 0)
		{
			/*
			 * Version 2 has the same classification layout; version 1 has
			 * no normalisation field (after the view count, at body offset
			 * 4 + 4 + 4 + 32 + 4 + 4 + 4 + 4 + 4 of a 4-byte name).
			 */
			size_t		norm_at = CV_MODEL_HEADER_SIZE + 4 + 4 + 4 + 32 + 4 + 4 + 4 + 4 + 4;

			/* version 4: the same model carrying a (fake) backbone file */
			{
				static uint8_t file[24] = {'T', 'F', 'L', '3', 1, 2, 3, 4};
				uint8_t    *carried = NULL;
				size_t		carried_len = 0;

				m->backbone = file;
				m->backbone_len = sizeof(file);
				if (cv_model_serialize(m, &carried, &carried_len, &err) != CV_OK)
				{
					fprintf(stderr, "model: %s\n", err.message);
					exit(1);
				}
				m->backbone = NULL;
				m->backbone_len = 0;
				write_model("multiclass_v4", carried, carried_len, 4);
				cv_free(carried);
			}
			write_model("multiclass_v2", bytes, len, 2);
			memmove(bytes + norm_at, bytes + norm_at + 4, len - norm_at - 4);
			write_model("multiclass_v1", bytes, len - 4, 1);
		}
		cv_free(bytes);
		cv_model_free(m);
		cv_head_free(head);
	}

	{
		cv_detector_shape s = {.n_tags = 2, .input_width = 64, .input_height = 48,
			.map_tensor = {10, 20}, .map_height = {4, 2}, .map_width = {4, 2},
		.map_channels = {3, 2}, .hidden = 4, .context = CV_DETECT_CONTEXT_ALL};
		cv_detector *d = NULL;
		cv_model   *m = NULL;
		uint8_t		hash[32] = {1, 2, 3};
		uint8_t    *bytes = NULL;
		size_t		len = 0;

		if (cv_detector_alloc(&s, &d, &err) != CV_OK)
		{
			fprintf(stderr, "detector: %s\n", err.message);
			exit(1);
		}
		for (int i = 0; i < d->in_dim; i++)
			d->scale[i] = 1.0f;
		for (int i = 0; i < d->in_dim * d->hidden; i++)
			d->w1[i] = (float) (i % 7 - 3) / 4;
		for (int i = 0; i < d->hidden * cv_detector_out_dim(2); i++)
			d->w2[i] = (float) (i % 5 - 2) / 4;
		d->calib_a = 1.5f;
		d->calib_b = -0.25f;
		if (cv_model_build_detection("mobilenet", hash, 3, names, d, 0.4f, &m, &err) != CV_OK ||
			cv_model_serialize(m, &bytes, &len, &err) != CV_OK)
		{
			fprintf(stderr, "detection model: %s\n", err.message);
			exit(1);
		}
		write_model("detection_v3", bytes, len, 3);
		cv_free(bytes);
		cv_model_free(m);
		cv_detector_free(d);
	}
}

/* ---- BMP ---- */

/*
 * A w x h BMP: DIB header of dib bytes (40, 56, 108 or 124), 24 or 32 bits,
 * BI_BITFIELDS with BGRA masks when bitfields, top-down when top_down.
 */
static void
write_bmp(const char *name, int w, int h, int dib, int bits, bool bitfields,
		  bool top_down)
{
	int			bpp = bits / 8;
	size_t		row = ((size_t) w * bpp + 3) & ~(size_t) 3;
	size_t		masks = (bitfields && dib == 40) ? 12 : 0;
	size_t		off = 14 + dib + masks;
	size_t		len = off + row * h;
	uint8_t    *b = calloc(1, len);

	b[0] = 'B';
	b[1] = 'M';
	fuzz_put_le(b + 2, len, 4);
	fuzz_put_le(b + 10, off, 4);
	fuzz_put_le(b + 14, dib, 4);
	fuzz_put_le(b + 18, w, 4);
	fuzz_put_le(b + 22, (uint32_t) (top_down ? -h : h), 4);
	fuzz_put_le(b + 26, 1, 2);
	fuzz_put_le(b + 28, bits, 2);
	fuzz_put_le(b + 30, bitfields ? 3 : 0, 4);
	fuzz_put_le(b + 34, row * h, 4);
	fuzz_put_le(b + 38, 2835, 4);
	fuzz_put_le(b + 42, 2835, 4);
	if (bitfields)
	{
		fuzz_put_le(b + 54, 0x00FF0000, 4);
		fuzz_put_le(b + 58, 0x0000FF00, 4);
		fuzz_put_le(b + 62, 0x000000FF, 4);
		if (dib >= 56)
			fuzz_put_le(b + 66, 0xFF000000, 4);
	}
	for (int y = 0; y < h; y++)
		for (int x = 0; x < w * bpp; x++)
			b[off + y * row + x] = (uint8_t) (x * 17 + y * 41);
	write_file("bmp", name, b, len);
	free(b);
}

static void
write_bmps(void)
{
	write_bmp("info24_odd.bmp", 5, 3, 40, 24, false, false);
	write_bmp("info32_topdown.bmp", 4, 2, 40, 32, false, true);
	write_bmp("info32_bitfields.bmp", 3, 3, 40, 32, true, false);
	write_bmp("adobe56.bmp", 2, 2, 56, 32, true, true);
	write_bmp("v4_24.bmp", 3, 2, 108, 24, false, false);
	write_bmp("v5_bitfields.bmp", 2, 3, 124, 32, true, false);
}

/* ---- EXIF ---- */

static void
write_exif(const char *name, bool big_endian, int orientation, int type,
		   bool prefix)
{
	uint8_t		b[64];
	size_t		n = 0;
	int			p;

#define PUT16(v) do { uint32_t v_ = (v); if (big_endian) { b[n++] = v_ >> 8; b[n++] = v_ & 0xFF; } \
	else { b[n++] = v_ & 0xFF; b[n++] = v_ >> 8; } } while (0)
#define PUT32(v) do { uint32_t w_ = (v); if (big_endian) { PUT16(w_ >> 16); PUT16(w_ & 0xFFFF); } \
	else { PUT16(w_ & 0xFFFF); PUT16(w_ >> 16); } } while (0)

	if (prefix)
	{
		memcpy(b, "Exif\0\0", 6);
		n = 6;
	}
	p = (int) n;
	b[n++] = big_endian ? 'M' : 'I';
	b[n++] = big_endian ? 'M' : 'I';
	PUT16(42);
	PUT32(8);					/* IFD0 right after the header */
	PUT16(2);					/* two entries: XResolution-like filler, Orientation */
	PUT16(0x0100);				/* ImageWidth, LONG, 1 */
	PUT16(4);
	PUT32(1);
	PUT32(640);
	PUT16(0x0112);				/* Orientation */
	PUT16(type);
	PUT32(1);
	if (type == 3)
	{
		PUT16(orientation);
		PUT16(0);
	}
	else
		PUT32(orientation);
	PUT32(0);					/* no next IFD */
	(void) p;
	write_file("exif", name, b, n);
#undef PUT16
#undef PUT32
}

/* The APP1 "Exif" block of a JPEG file (after its length field). */
static void
write_jpeg_exif(const char *path)
{
	FILE	   *f = fopen(path, "rb");
	uint8_t		buf[65536];
	size_t		len,
				pos = 2;

	if (f == NULL)
	{
		perror(path);
		exit(1);
	}
	len = fread(buf, 1, sizeof(buf), f);
	fclose(f);
	while (pos + 4 <= len && buf[pos] == 0xFF)
	{
		size_t		seg = ((size_t) buf[pos + 2] << 8) | buf[pos + 3];

		if (buf[pos + 1] == 0xE1 && pos + 2 + seg <= len && seg > 8 &&
			memcmp(buf + pos + 4, "Exif\0\0", 6) == 0)
		{
			write_file("exif", "rotated_jpg", buf + pos + 4, seg - 2);
			fprintf(stderr, "  exif rotated_jpg: orientation %d\n",
					cv_exif_orientation(buf + pos + 4, seg - 2));
			return;
		}
		pos += 2 + seg;
	}
	fprintf(stderr, "%s: no APP1 Exif block\n", path);
	exit(1);
}

static void
write_exifs(const char *rotated)
{
	char		name[64];

	for (int o = 1; o <= 8; o++)
	{
		snprintf(name, sizeof(name), "ii_short_%d", o);
		write_exif(name, false, o, 3, o % 2 == 0);
		snprintf(name, sizeof(name), "mm_short_%d", o);
		write_exif(name, true, o, 3, o % 2 == 1);
	}
	write_exif("ii_long_6", false, 6, 4, true);
	write_exif("mm_long_8", true, 8, 4, false);
	if (rotated != NULL)
		write_jpeg_exif(rotated);
}

int
main(int argc, char **argv)
{
	if (argc < 2)
	{
		fprintf(stderr, "usage: %s OUTDIR [ROTATED_JPEG]\n", argv[0]);
		return 2;
	}
	outdir = argv[1];
	write_nets();
	write_models();
	write_bmps();
	write_exifs(argc > 2 ? argv[2] : NULL);
	return 0;
}
