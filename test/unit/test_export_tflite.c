/*
 * test_export_tflite.c
 *	  The TFLite exporter (src/core/export/tflite_export.c): what it
 *	  refuses, what the file holds for each engine (the source's quantized
 *	  operators or the float network with its clamps, the head's basic
 *	  operators, the metadata), and the head's arithmetic (Newton square
 *	  roots, sigmoid pairs, a negative tag's product) against head.c.
 *
 * That arithmetic is checked here by running the file of an int8-engine
 * model on pgvision's own float executor (the backbone part in float, as
 * the float engine's features), which is our reader reading our writer:
 * the independent check is ../shared/peers/tflite2onnx.py with
 * onnxruntime, in test/t/006_export_parity.pl.
 */
#include "unit.h"
#include "export_fixture.c"
#include "export/export.h"
#include "detect/detect_backbone.h"
#include "detect/detector.h"
#include "learn/features.h"
#include "learn/head.h"
#include "model/model.h"
#include "nn/nn.h"
#include "nn/tflite.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SMALL_NET "models/mobilenet_v1_0.25_128_quant.tflite"

static const cv_export_meta meta = {
	.iteration = 42, .project = "cutlery", .version = "0.2.0", .nms_overlap = 0.45
};

/* A 3-tag classifier on the small backbone, weights from a formula. */
static cv_model *
classifier(const uint8_t *file, size_t len, cv_task task, cv_net_engine engine, bool negative,
		   cv_feature_extractor **fx_out)
{
	const export_fixture_head shape = {
		.tags = {"fork", "say \"hi\"", "Negative"},
		.mean_step = 0.02f, .mean_per_dim = true, .weight_step = 0.8f, .weighted_tags = 3,
		.bias = {0.3f, -0.2f, 0.0f}, .negative = negative
	};

	return export_fixture_classifier(file, len, task, engine, &shape, fx_out);
}

/* Pixels from a formula: a smooth pattern with some texture. */
static void
pattern(uint8_t *rgb, int w, int h, int seed)
{
	for (int y = 0; y < h; y++)
		for (int x = 0; x < w; x++)
			for (int c = 0; c < 3; c++)
				rgb[((size_t) y * w + x) * 3 + c] =
					(uint8_t) ((x * (c + 1) * 3 + y * 5 + seed * 41 + ((x ^ y) & 15) * 4) & 255);
}

/* How many operators of code the parsed file has. */
static int
count_ops(const tfl_model *tm, int code)
{
	int			n = 0;

	for (int i = 0; i < tm->nops; i++)
		n += tm->ops[i].code == code;
	return n;
}

/*
 * The int8 engine's file: the source's quantized operators verbatim, a
 * DEQUANTIZE, the head.  Run on our float executor, its probabilities are
 * head.c's on the float engine's features (multilabel with a negative tag:
 * sigmoid pairs and the product; multiclass: softmax).
 */
static void
test_head_arithmetic(void)
{
	size_t		len;
	uint8_t    *file = unit_read_file(unit_shared_path(SMALL_NET), &len);

	for (int task = 0; task < 2; task++)
	{
		cv_feature_extractor *fx = NULL;
		cv_model   *m = classifier(file, len, task ? CV_TASK_MULTILABEL : CV_TASK_MULTICLASS,
								   CV_NET_ENGINE_INT8, task == 1, &fx);
		uint8_t    *tfl = NULL;
		size_t		n = 0;
		cv_error	err;
		tfl_model	tm;
		cv_net	   *src = NULL,
				   *exp = NULL;
		cv_net_options opt;
		cv_net_workspace *ws_src = NULL,
				   *ws_exp = NULL;
		float		features[256];
		float		got[3],
					want[3];
		uint8_t    *rgb;
		int			side;

		if (m == NULL)
			continue;
		CHECK_MSG(cv_export_tflite(m, file, len, &meta, &tfl, &n, &err) == CV_OK, "%s", err.message);
		if (tfl == NULL)
		{
			cv_model_free(m);
			cv_features_destroy(fx);
			continue;
		}
		CHECK(memcmp(tfl + 4, "TFL3", 4) == 0);
		CHECK(export_fixture_contains(tfl, n, "\"pgvision.iteration\": 42"));
		CHECK(export_fixture_contains(tfl, n, "\"pgvision.engine\": \"int8\""));
		CHECK(export_fixture_contains(tfl, n, "\"pgvision.tags\": [\"fork\", \"say \\\"hi\\\"\", \"Negative\"]"));
		CHECK(export_fixture_contains(tfl, n, task ? "\"pgvision.negative_tags\": [\"Negative\"]" :
					   "\"pgvision.negative_tags\": []"));
		CHECK(tfl_parse(tfl, n, false, &tm, &err) == CV_OK);
		/* the source's quantized convolutions, then one DEQUANTIZE and float ops */
		CHECK(count_ops(&tm, TFL_OP_DEQUANTIZE) == 1);
		CHECK(count_ops(&tm, TFL_OP_CONV_2D) == 14);	/* 1 + 13 pointwise; its classifier conv left out */
		CHECK(count_ops(&tm, TFL_OP_DEPTHWISE_CONV_2D) == 13);
		CHECK(count_ops(&tm, TFL_OP_SOFTMAX) == 1);
		CHECK(tm.tensors[tm.inputs[0]].type == TFL_UINT8);
		CHECK(tm.tensors[tm.outputs[0]].type == TFL_FLOAT32 &&
			  tm.tensors[tm.outputs[0]].rank == 2 && tm.tensors[tm.outputs[0]].dims[1] == 3);
		for (int i = 0; i < tm.nops; i++)
			CHECK(tm.ops[i].code != TFL_OP_LOGISTIC && tm.ops[i].code != TFL_OP_CONCATENATION);

		/* the float engine's features of the source, and the file's probabilities */
		memset(&opt, 0, sizeof(opt));
		opt.n_outputs = 1;
		{
			cv_net	   *whole = NULL;

			CHECK(cv_net_load(file, len, &whole, &err) == CV_OK);
			opt.outputs[0] = cv_net_feature_tensor(whole, NULL);
			cv_net_free(whole);
		}
		CHECK(cv_net_load_with(file, len, &opt, &src, &err) == CV_OK);
		opt.outputs[0] = tm.outputs[0];
		CHECK_MSG(cv_net_load_with(tfl, n, &opt, &exp, &err) == CV_OK, "%s", err.message);
		if (src != NULL && exp != NULL && fx->dim <= 256)
		{
			side = cv_net_get_info(src)->input_width;
			rgb = malloc((size_t) side * side * 3);
			CHECK(cv_net_workspace_create(src, &ws_src, &err) == CV_OK);
			CHECK(cv_net_workspace_create(exp, &ws_exp, &err) == CV_OK);
			for (int seed = 0; seed < 3; seed++)
			{
				float	   *o1[1] = {features},
						   *o2[1] = {got};

				pattern(rgb, side, side, seed);
				CHECK(cv_net_run_outputs(src, ws_src, rgb, o1, &err) == CV_OK);
				CHECK(cv_net_run_outputs(exp, ws_exp, rgb, o2, &err) == CV_OK);
				CHECK(cv_head_predict(m->head, features, 1, want, &err) == CV_OK);
				for (int k = 0; k < 3; k++)
					CHECK_MSG(fabsf(got[k] - want[k]) <= 2e-6f, "task %d seed %d tag %d: %.8f, head.c %.8f",
							  task, seed, k, got[k], want[k]);
				if (task == 1)
					CHECK_NEAR(got[2], (1.0 - got[0]) * (1.0 - got[1]), 1e-6);
			}
			free(rgb);
		}
		cv_net_workspace_free(ws_src);
		cv_net_workspace_free(ws_exp);
		cv_net_free(src);
		cv_net_free(exp);
		tfl_model_free(&tm);
		cv_free(tfl);
		cv_model_free(m);
		cv_features_destroy(fx);
	}
	free(file);
}

/*
 * The float engine's file: float32 constants, float input, no QUANTIZE or
 * DEQUANTIZE, and the clamps the engine applies (the small net's pointwise
 * convolutions without activation are clamped to their uint8 ranges).
 */
static void
test_float_network(void)
{
	size_t		len,
				n = 0;
	uint8_t    *file = unit_read_file(unit_shared_path(SMALL_NET), &len);
	cv_feature_extractor *fx = NULL;
	cv_feature_extractor *fx8 = NULL;
	cv_model   *m = classifier(file, len, CV_TASK_MULTICLASS, CV_NET_ENGINE_FLOAT, false, &fx);
	cv_model   *m8 = classifier(file, len, CV_TASK_MULTICLASS, CV_NET_ENGINE_INT8, false, &fx8);
	uint8_t    *tfl = NULL,
			   *again = NULL;
	size_t		n2 = 0;
	cv_error	err;
	tfl_model	tm;
	int			int8_adds = 0;

	if (m == NULL || m8 == NULL)
		return;
	/* the int8 file's ADDs: the head's (the small net has none) */
	CHECK(cv_export_tflite(m8, file, len, &meta, &tfl, &n, &err) == CV_OK);
	if (tfl != NULL && tfl_parse(tfl, n, false, &tm, &err) == CV_OK)
	{
		int8_adds = count_ops(&tm, TFL_OP_ADD);
		tfl_model_free(&tm);
	}
	CHECK(int8_adds == 40 + 60 + 1);	/* one per Newton step, and the mean */
	cv_free(tfl);
	tfl = NULL;
	cv_model_free(m8);
	cv_features_destroy(fx8);

	CHECK_MSG(cv_export_tflite(m, file, len, &meta, &tfl, &n, &err) == CV_OK, "%s", err.message);
	CHECK(cv_export_tflite(m, file, len, &meta, &again, &n2, &err) == CV_OK);
	CHECK(n == n2 && tfl != NULL && again != NULL && memcmp(tfl, again, n) == 0);	/* deterministic */
	CHECK(export_fixture_contains(tfl, n, "\"pgvision.engine\": \"float\""));
	CHECK(export_fixture_contains(tfl, n, "\"pgvision.input_type\": \"float32\""));
	CHECK(tfl != NULL && tfl_parse(tfl, n, false, &tm, &err) == CV_OK);
	if (tfl != NULL)
	{
		int			float_consts = 0,
					other_consts = 0;

		CHECK(tm.tensors[tm.inputs[0]].type == TFL_FLOAT32 && tm.tensors[tm.inputs[0]].nquant == 0);
		CHECK(count_ops(&tm, TFL_OP_DEQUANTIZE) == 0 && count_ops(&tm, TFL_OP_QUANTIZE) == 0);
		CHECK(count_ops(&tm, TFL_OP_CONV_2D) == 14);
		for (int i = 0; i < tm.ntensors; i++)
		{
			CHECK(tm.tensors[i].nquant == 0);
			if (tm.tensors[i].data != NULL)
			{
				if (tm.tensors[i].type == TFL_FLOAT32)
					float_consts++;
				else
					other_consts++;
			}
		}
		CHECK(float_consts > 50);
		CHECK(other_consts <= 2);	/* the RESHAPE shapes only */
		/* the pixels' normalisation and at least the pool's clamp to [0, 255 scale] */
		CHECK_MSG(count_ops(&tm, TFL_OP_ADD) >= int8_adds + 1 + 3, "%d ADDs", count_ops(&tm, TFL_OP_ADD));
		tfl_model_free(&tm);
	}
	cv_free(tfl);
	cv_free(again);
	cv_model_free(m);
	cv_features_destroy(fx);
	free(file);
}

static void
test_refusals(void)
{
	size_t		len,
				n = 0;
	uint8_t    *file = unit_read_file(unit_shared_path(SMALL_NET), &len);
	cv_feature_extractor *fx = NULL,
			   *compact = NULL;
	cv_model   *m = classifier(file, len, CV_TASK_MULTICLASS, CV_NET_ENGINE_FLOAT, false, &fx);
	uint8_t    *tfl = NULL;
	cv_error	err;

	if (m == NULL)
		return;
	m->head->predict_views = 2;
	CHECK(cv_export_tflite(m, file, len, &meta, &tfl, &n, &err) == CV_ERR_UNSUPPORTED);
	CHECK(strstr(err.message, "views") != NULL && tfl == NULL && n == 0);
	m->head->predict_views = 1;
	CHECK(cv_export_tflite(m, NULL, 0, &meta, &tfl, &n, &err) == CV_ERR_PARAM);
	{
		uint8_t		junk[64] = {0};

		CHECK(cv_export_tflite(m, junk, sizeof(junk), &meta, &tfl, &n, &err) == CV_ERR_CORRUPT);
	}
	{
		size_t		other_len;
		uint8_t    *other = unit_read_file(unit_shared_path("models/mobilenet_v2_1.0_224_quant.tflite"),
										   &other_len);

		CHECK(cv_export_tflite(m, other, other_len, &meta, &tfl, &n, &err) == CV_ERR_PARAM);
		free(other);
	}
	cv_model_free(m);

	CHECK(cv_features_compact_create(&compact, &err) == CV_OK);
	{
		const char *tags[2] = {"a", "b"};
		cv_head    *h = cv_head_alloc(CV_TASK_MULTICLASS, 2, compact->dim);

		CHECK(cv_model_build(compact, tags, h, 0.5f, &m, &err) == CV_OK);
		CHECK(cv_export_tflite(m, file, len, &meta, &tfl, &n, &err) == CV_ERR_UNSUPPORTED);
		CHECK(strstr(err.message, "compact") != NULL);
		cv_head_free(h);
		cv_model_free(m);
	}
	cv_features_destroy(compact);
	cv_features_destroy(fx);
	free(file);
}

/* The parsed file's tensor named name, or -1. */
static int
tensor_named(const tfl_model *tm, const char *name)
{
	for (int i = 0; i < tm->ntensors; i++)
		if (tm->tensors[i].name != NULL && tm->tensors[i].name_len == (int) strlen(name) &&
			memcmp(tm->tensors[i].name, name, strlen(name)) == 0)
			return i;
	return -1;
}

/* The operator writing tensor t, or NULL. */
static const tfl_op *
writer_of(const tfl_model *tm, int t)
{
	for (int i = 0; i < tm->nops; i++)
		if (tm->ops[i].noutputs == 1 && tm->ops[i].outputs[0] == t)
			return &tm->ops[i];
	return NULL;
}

static bool
has_shape(const tfl_tensor *t, int rank, const int32_t *dims)
{
	if (t->rank != rank)
		return false;
	for (int k = 0; k < rank; k++)
		if (t->dims[k] != dims[k])
			return false;
	return true;
}

/*
 * A float-engine detector at 160x160 on the 128x128 backbone (maps 10x10
 * and 5x5): the backbone's activations take the detector's size, the head
 * is the split first layer (1x1 convolutions of the two maps, the 3x3
 * average pool, the global MEAN, the 5-D nearest upsampling with the
 * per-cell constants), the output is [1, cells * (tags + 5)], and the
 * constants are the detector's weights with the standardisation folded in
 * (hand formula below).  The int8 engine's detector and maps of no whole
 * ratio are refused.
 */
static void
test_detector_file(void)
{
	static const uint8_t hash[32] = {9};
	const char *tags[2] = {"fork", "scissors"};
	size_t		len,
				n = 0;
	uint8_t    *file = unit_read_file(unit_shared_path(SMALL_NET), &len);
	cv_detect_backbone *bb = NULL;
	cv_detector_shape s;
	cv_detector *d = export_fixture_detector(file, len, CV_NET_ENGINE_FLOAT, &bb, &s);
	cv_model   *m = NULL;
	uint8_t    *tfl = NULL;
	tfl_model	tm;
	cv_error	err;

	if (d == NULL)
	{
		cv_detect_backbone_free(bb);
		free(file);
		return;
	}
	CHECK(s.map_height[0] == 10 && s.map_width[0] == 10 && s.map_height[1] == 5 && s.map_width[1] == 5);
	for (int j = 0; j < d->in_dim; j++)
	{
		d->mean[j] = 0.05f * (j % 5);
		d->scale[j] = 1.0f + 0.1f * (j % 3);
		for (int k = 0; k < d->hidden; k++)
			d->w1[(size_t) j * d->hidden + k] = 0.01f * ((j * 7 + k * 3) % 13 - 6);
	}
	for (int k = 0; k < d->hidden; k++)
		d->b1[k] = 0.1f * k;
	CHECK(cv_model_build_detection("tiny", hash, CV_DETECT_MAPS_VERSION, tags, d, 0.5f, &m,
								   &err) == CV_OK);
	CHECK_MSG(cv_export_tflite(m, file, len, &meta, &tfl, &n, &err) == CV_OK, "%s", err.message);
	CHECK(tfl != NULL && memcmp(tfl + 4, "TFL3", 4) == 0);
	CHECK(export_fixture_contains(tfl, n, "\"pgvision.task\": \"detection\""));
	CHECK(export_fixture_contains(tfl, n, "\"pgvision.grid_width\": 10"));
	CHECK(export_fixture_contains(tfl, n, "\"pgvision.calibration_a\": 1"));
	CHECK(export_fixture_contains(tfl, n, "\"pgvision.nms_overlap\": 0.45"));
	CHECK(export_fixture_contains(tfl, n, "\"pgvision.resize\": \"stretch\""));
	CHECK(export_fixture_contains(tfl, n, "\"pgvision.engine\": \"float\""));
	CHECK(export_fixture_contains(tfl, n, "\"pgvision.input_type\": \"float32\""));
	CHECK(!export_fixture_contains(tfl, n, "pgvision.negative_tags"));
	memset(&tm, 0, sizeof(tm));
	CHECK(tfl_parse(tfl, n, false, &tm, &err) == CV_OK);
	if (tm.ntensors > 0)
	{
		const int32_t in_dims[4] = {1, 160, 160, 3};
		const int32_t out_dims[2] = {1, 100 * 7};
		const int32_t c_dims[5] = {5, 2, 5, 2, 8};
		const int32_t split_dims[5] = {5, 1, 5, 1, 8};
		const int32_t fine_dims[4] = {1, 10, 10, 8};
		const int32_t global_dims[4] = {1, 1, 1, 8};
		int			pixels = tensor_named(&tm, "pixels"),
					outputs = tensor_named(&tm, "outputs"),
					consts = tensor_named(&tm, "pgvision/cell_constants"),
					split = tensor_named(&tm, "pgvision/coarse_by_parent"),
					fine = tensor_named(&tm, "pgvision/fine_part"),
					global = tensor_named(&tm, "pgvision/global_part"),
					pool = tensor_named(&tm, "pgvision/neighbourhood_mean"),
					hidden = tensor_named(&tm, "pgvision/hidden");
		const tfl_op *op;

		CHECK(tm.ninputs == 1 && tm.inputs[0] == pixels && tm.noutputs == 1 && tm.outputs[0] == outputs);
		CHECK(pixels >= 0 && tm.tensors[pixels].type == TFL_FLOAT32 && has_shape(&tm.tensors[pixels], 4, in_dims));
		CHECK(outputs >= 0 && has_shape(&tm.tensors[outputs], 2, out_dims));
		CHECK(split >= 0 && has_shape(&tm.tensors[split], 5, split_dims));
		CHECK(fine >= 0 && has_shape(&tm.tensors[fine], 4, fine_dims));
		CHECK(global >= 0 && has_shape(&tm.tensors[global], 4, global_dims));
		CHECK(count_ops(&tm, TFL_OP_MEAN) == 1 && count_ops(&tm, TFL_OP_AVERAGE_POOL_2D) == 1);
		/* SAME 3x3 stride 1: the neighbourhood inside the map */
		op = pool >= 0 ? writer_of(&tm, pool) : NULL;
		CHECK(op != NULL && op->code == TFL_OP_AVERAGE_POOL_2D && op->opt.padding == TFL_PAD_SAME &&
			  op->opt.filter_w == 3 && op->opt.filter_h == 3 && op->opt.stride_w == 1 && op->opt.stride_h == 1);
		/* the hidden layer: fine part + upsampled coarse part, RELU fused */
		op = hidden >= 0 ? writer_of(&tm, hidden) : NULL;
		CHECK(op != NULL && op->code == TFL_OP_ADD && op->opt.activation == TFL_ACT_RELU && op->inputs[0] == fine);
		/* the 5-D ADD of the parent-split coarse part and the per-cell constants */
		CHECK(consts >= 0 && has_shape(&tm.tensors[consts], 5, c_dims) && tm.tensors[consts].data != NULL);
		if (consts >= 0 && tm.tensors[consts].data != NULL)
		{
			const uint8_t *data = tm.tensors[consts].data;
			int			in_dim = d->in_dim,
						pos = in_dim - 2;
			double		worst = 0.0;

			/* cell (y, x) = (7, 4) is [py 3, dy 1, px 2, dx 0]; every unit k */
			for (int k = 0; k < 8; k++)
			{
				double		want = d->b1[k];
				float		got;

				for (int j = 0; j < in_dim; j++)
					want -= (double) d->mean[j] * d->scale[j] * d->w1[(size_t) j * 8 + k];
				want += (4.5 / 10.0) * d->scale[pos] * d->w1[(size_t) pos * 8 + k];
				want += (7.5 / 10.0) * d->scale[pos + 1] * d->w1[(size_t) (pos + 1) * 8 + k];
				memcpy(&got, data + sizeof(float) * ((((size_t) (3 * 2 + 1) * 5 + 2) * 2 + 0) * 8 + k),
					   sizeof(float));
				if (fabs(got - want) > worst)
					worst = fabs(got - want);
			}
			CHECK_MSG(worst < 1e-5, "cell constants off by %g", worst);
		}
		/* the first-layer weights of the stride-16 part: scale_j * w1[j][k], [hidden, 1, 1, c0] */
		op = fine >= 0 ? writer_of(&tm, fine) : NULL;
		CHECK(op != NULL && op->code == TFL_OP_CONV_2D);
		if (op != NULL && op->ninputs == 3)
		{
			const tfl_tensor *w = &tm.tensors[op->inputs[1]];
			int			c0 = s.map_channels[0];
			float		got;
			const int32_t w_dims[4] = {8, 1, 1, c0};

			CHECK(has_shape(w, 4, w_dims) && w->data != NULL);
			if (w->data != NULL)
			{
				memcpy(&got, w->data + sizeof(float) * ((size_t) 5 * c0 + 11), sizeof(float));
				CHECK(fabsf(got - d->scale[11] * d->w1[(size_t) 11 * 8 + 5]) < 1e-7f);
			}
		}
		tfl_model_free(&tm);
	}
	cv_free(tfl);
	tfl = NULL;
	cv_model_free(m);
	m = NULL;

	/* maps of no whole ratio */
	d->map_height[1] = 3;
	CHECK(cv_model_build_detection("tiny", hash, CV_DETECT_MAPS_VERSION, tags, d, 0.5f, &m,
								   &err) == CV_OK);
	if (m != NULL)
	{
		CHECK(cv_export_tflite(m, file, len, &meta, &tfl, &n, &err) == CV_ERR_UNSUPPORTED);
		CHECK(strstr(err.message, "whole ratio") != NULL);
		cv_model_free(m);
		m = NULL;
	}
	d->map_height[1] = 5;
	/* the int8 engine's detector */
	CHECK(cv_model_build_detection("tiny", hash, CV_DETECT_MAPS_VERSION_INT8, tags, d, 0.5f, &m,
								   &err) == CV_OK);
	if (m != NULL)
	{
		CHECK(cv_export_tflite(m, file, len, &meta, &tfl, &n, &err) == CV_ERR_UNSUPPORTED);
		CHECK(strstr(err.message, "int8") != NULL);
		cv_model_free(m);
	}
	cv_detector_free(d);
	cv_detect_backbone_free(bb);
	free(file);
}

UNIT_MAIN("export_tflite",
		  UNIT_CASE(test_head_arithmetic),
		  UNIT_CASE(test_float_network),
		  UNIT_CASE(test_refusals),
		  UNIT_CASE(test_detector_file))
