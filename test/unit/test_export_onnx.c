/*
 * test_export_onnx.c
 *	  The ONNX exporter (src/core/export/onnx_export.c, nn/net_onnx.c):
 *	  what it refuses, what the file carries, and the network loaded for
 *	  reading only.  That the file computes what pgvision computes is
 *	  checked by onnxruntime itself: test/t/006_export_parity.pl for trained
 *	  iterations, and the fixtures this program writes (below) for every
 *	  operator the emitter knows.
 */
#include "unit.h"
#include "export_fixture.c"
#include "detect/detect_backbone.h"
#include "detect/detector.h"
#include "export/export.h"
#include "learn/features.h"
#include "learn/head.h"
#include "model/model.h"
#include "nn/nn.h"
#include "nn/nn_onnx.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SMALL_NET "models/mobilenet_v1_0.25_128_quant.tflite"

static const cv_export_meta meta = {
	.iteration = 42, .project = "cutlery", .version = "0.1.0", .nms_overlap = 0.45
};

/* A classifier of the given task on the small backbone, weights from a formula. */
static cv_model *
small_classifier_on(const uint8_t *file, size_t len, cv_task task, cv_net_engine engine,
					cv_feature_extractor **fx_out)
{
	const export_fixture_head shape = {
		.tags = {"fork", "say \"hi\"\\", "Negative"},
		.mean_step = 0.01f, .weight_step = 0.05f, .weighted_tags = 2,
		.negative = task == CV_TASK_MULTILABEL
	};

	return export_fixture_classifier(file, len, task, engine, &shape, fx_out);
}

static cv_model *
small_classifier(const uint8_t *file, size_t len, cv_task task, cv_feature_extractor **fx_out)
{
	return small_classifier_on(file, len, task, CV_NET_ENGINE_FLOAT, fx_out);
}

static void
write_fixture(const char *dir, const char *name, const char *ext, const void *data, size_t n)
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
 * A classifier trained on the int8 engine exports that engine's integer
 * arithmetic, not the float network (whose answers differ): the file says
 * so, is another file than the float model's, and, with
 * PGVISION_EXPORT_FIXTURES, is written with the probabilities the core
 * computes (features on the int8 engine, then the head) for
 * test/export/check_fixtures.js to compare in onnxruntime.
 */
static void
test_int8_classifier_file(void)
{
	size_t		len,
				n = 0,
				nf = 0;
	uint8_t    *file = unit_read_file(unit_shared_path(SMALL_NET), &len);
	cv_feature_extractor *fx = NULL,
			   *ffx = NULL;
	cv_model   *m = small_classifier_on(file, len, CV_TASK_MULTICLASS, CV_NET_ENGINE_INT8, &fx);
	cv_model   *fm = small_classifier(file, len, CV_TASK_MULTICLASS, &ffx);
	uint8_t    *onnx = NULL,
			   *fonnx = NULL;
	const char *fixtures = getenv("PGVISION_EXPORT_FIXTURES");
	cv_error	err;

	CHECK(m != NULL && fm != NULL);
	if (m == NULL || fm == NULL)
		goto done;
	CHECK(m->extractor_version == CV_BACKBONE_VERSION_INT8);
	CHECK_MSG(cv_export_onnx(m, file, len, &meta, &onnx, &n, &err) == CV_OK, "%s", err.message);
	CHECK(cv_export_onnx(fm, file, len, &meta, &fonnx, &nf, &err) == CV_OK);
	CHECK(onnx != NULL && export_fixture_contains(onnx, n, "pgvision.engine") && export_fixture_contains(onnx, n, "int8"));
	CHECK(fonnx != NULL && export_fixture_contains(fonnx, nf, "pgvision.engine") && !export_fixture_contains(fonnx, nf, "int8"));
	/* the integer steps: requantization's shifts, the clamps to uint8 */
	CHECK(onnx != NULL && export_fixture_contains(onnx, n, "BitShift") && export_fixture_contains(onnx, n, "Clip"));
	CHECK(fonnx != NULL && !export_fixture_contains(fonnx, nf, "BitShift"));
	/* same model, same bytes */
	{
		uint8_t    *again = NULL;
		size_t		n2 = 0;

		CHECK(cv_export_onnx(m, file, len, &meta, &again, &n2, &err) == CV_OK);
		CHECK(n2 == n && again != NULL && memcmp(again, onnx, n) == 0);
		cv_free(again);
	}
	if (fixtures != NULL && onnx != NULL)
	{
		cv_rgb_image img = {m->input_width, m->input_height, NULL};
		size_t		npx = (size_t) img.width * img.height * 3;
		float	   *feat = malloc(sizeof(float) * fx->dim);
		float		probs[3];

		img.pixels = malloc(npx);
		for (size_t i = 0; i < npx; i++)
			img.pixels[i] = (uint8_t) ((i * 131 + (i / 384) * 7) % 256);
		CHECK(cv_features_extract(fx, &img, feat, &err) == CV_OK);
		CHECK(cv_head_predict(m->head, feat, 1, probs, &err) == CV_OK);
		write_fixture(fixtures, "model_int8_classifier", "onnx", onnx, n);
		write_fixture(fixtures, "model_int8_classifier", "pixels", img.pixels, npx);
		write_fixture(fixtures, "model_int8_classifier", "expected", probs, sizeof(probs));
		free(img.pixels);
		free(feat);
	}
done:
	cv_free(onnx);
	cv_free(fonnx);
	cv_model_free(m);
	cv_model_free(fm);
	cv_features_destroy(fx);
	cv_features_destroy(ffx);
	free(file);
}

/* A detector on int8 maps: the maps are the integer steps' outputs, dequantized. */
static void
test_int8_detector_file(void)
{
	static const uint8_t hash[32] = {9};
	const char *tags[2] = {"fork", "scissors"};
	size_t		len,
				n = 0;
	uint8_t    *file = unit_read_file(unit_shared_path(SMALL_NET), &len);
	cv_detect_backbone *bb = NULL;
	cv_detector_shape s;
	cv_detector *d = export_fixture_detector(file, len, CV_NET_ENGINE_INT8, &bb, &s);
	cv_model   *m = NULL;
	uint8_t    *onnx = NULL;
	cv_error	err;

	if (d == NULL)
	{
		cv_detect_backbone_free(bb);
		free(file);
		return;
	}
	CHECK(cv_detect_backbone_maps_version(bb) == CV_DETECT_MAPS_VERSION_INT8);
	CHECK(cv_model_build_detection("tiny", hash, CV_DETECT_MAPS_VERSION_INT8, tags, d, 0.5f, &m,
								   &err) == CV_OK);
	CHECK_MSG(cv_export_onnx(m, file, len, &meta, &onnx, &n, &err) == CV_OK, "%s", err.message);
	CHECK(onnx != NULL && export_fixture_contains(onnx, n, "boxes") && export_fixture_contains(onnx, n, "int8") &&
		  export_fixture_contains(onnx, n, "BitShift"));
	cv_free(onnx);
	cv_model_free(m);
	cv_detector_free(d);
	cv_detect_backbone_free(bb);
	free(file);
}

static void
test_classifier_file(void)
{
	size_t		len,
				n = 0;
	uint8_t    *file = unit_read_file(unit_shared_path(SMALL_NET), &len);
	cv_feature_extractor *fx = NULL;
	cv_model   *m = small_classifier(file, len, CV_TASK_MULTILABEL, &fx);
	uint8_t    *onnx = NULL;
	cv_error	err;

	CHECK(m != NULL);
	CHECK(cv_export_onnx(m, file, len, &meta, &onnx, &n, &err) == CV_OK);
	/* ModelProto field 1 (ir_version, varint) comes first: 0x08 0x08 */
	CHECK(n > len && onnx[0] == 0x08 && onnx[1] == ONNX_IR_VERSION);
	CHECK(export_fixture_contains(onnx, n, "pgvision.tags"));
	CHECK(export_fixture_contains(onnx, n, "[\"fork\",\"say \\\"hi\\\"\\\\\",\"Negative\"]"));
	CHECK(export_fixture_contains(onnx, n, "pgvision.negative_tags"));
	CHECK(export_fixture_contains(onnx, n, "multilabel"));
	CHECK(export_fixture_contains(onnx, n, "centre_square"));
	CHECK(export_fixture_contains(onnx, n, "probabilities"));
	CHECK(export_fixture_contains(onnx, n, "ReduceProd"));	/* the negative tag's product */
	CHECK(!export_fixture_contains(onnx, n, "Softmax"));	/* cut at the features: no ImageNet classifier */

	/* same model, same bytes */
	{
		uint8_t    *again = NULL;
		size_t		n2 = 0;

		CHECK(cv_export_onnx(m, file, len, &meta, &again, &n2, &err) == CV_OK);
		CHECK(n2 == n && again != NULL && memcmp(again, onnx, n) == 0);
		cv_free(again);
	}
	cv_free(onnx);
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
	cv_model   *m = small_classifier(file, len, CV_TASK_MULTICLASS, &fx);
	uint8_t    *onnx = NULL;
	cv_error	err;

	/* a head that averages two views cannot be one graph of one image */
	m->head->predict_views = 2;
	CHECK(cv_export_onnx(m, file, len, &meta, &onnx, &n, &err) == CV_ERR_UNSUPPORTED);
	CHECK(strstr(err.message, "views") != NULL && onnx == NULL);
	m->head->predict_views = 1;

	/* no backbone bytes, or another network than the model's */
	CHECK(cv_export_onnx(m, NULL, 0, &meta, &onnx, &n, &err) == CV_ERR_PARAM);
	{
		size_t		other_len;
		uint8_t    *other = unit_read_file(unit_shared_path("models/mobilenet_v2_1.0_224_quant.tflite"),
										   &other_len);

		CHECK(cv_export_onnx(m, other, other_len, &meta, &onnx, &n, &err) == CV_ERR_PARAM);
		free(other);
	}
	/* garbage instead of a TFLite file */
	{
		uint8_t		junk[64] = {0};

		CHECK(cv_export_onnx(m, junk, sizeof(junk), &meta, &onnx, &n, &err) == CV_ERR_CORRUPT);
	}
	cv_model_free(m);

	/* the compact domain has no network to write */
	CHECK(cv_features_compact_create(&compact, &err) == CV_OK);
	{
		const char *tags[2] = {"a", "b"};
		cv_head    *h = cv_head_alloc(CV_TASK_MULTICLASS, 2, compact->dim);

		CHECK(cv_model_build(compact, tags, h, 0.5f, &m, &err) == CV_OK);
		CHECK(cv_export_onnx(m, file, len, &meta, &onnx, &n, &err) == CV_ERR_UNSUPPORTED);
		CHECK(strstr(err.message, "compact") != NULL);
		cv_head_free(h);
		cv_model_free(m);
	}
	cv_features_destroy(compact);
	cv_features_destroy(fx);
	free(file);
}

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
	uint8_t    *onnx = NULL;
	cv_error	err;

	if (d == NULL)
	{
		cv_detect_backbone_free(bb);
		free(file);
		return;
	}
	CHECK(cv_model_build_detection("tiny", hash, CV_DETECT_MAPS_VERSION, tags, d, 0.5f, &m,
								   &err) == CV_OK);
	CHECK(cv_export_onnx(m, file, len, &meta, &onnx, &n, &err) == CV_OK);
	CHECK(export_fixture_contains(onnx, n, "boxes") && export_fixture_contains(onnx, n, "scores"));
	CHECK(export_fixture_contains(onnx, n, "pgvision.nms_overlap") && export_fixture_contains(onnx, n, "0.45"));
	CHECK(export_fixture_contains(onnx, n, "stretch") && export_fixture_contains(onnx, n, "detection"));
	CHECK(!export_fixture_contains(onnx, n, "pgvision.negative_tags"));
	cv_free(onnx);

	/* a detector whose maps are not this network's */
	m->detector->map_channels[0] += 1;
	CHECK(cv_export_onnx(m, file, len, &meta, &onnx, &n, &err) == CV_ERR_PARAM);
	cv_model_free(m);
	cv_detector_free(d);
	cv_detect_backbone_free(bb);
	free(file);
}

static void
test_read_only_net(void)
{
	size_t		len;
	uint8_t    *file = unit_read_file(unit_shared_path(SMALL_NET), &len);
	cv_net_options opt = {.keep_layouts = true};
	cv_net	   *net = NULL,
			   *runnable = NULL;
	cv_net_workspace *ws = NULL;
	onnx_graph *g = onnx_graph_create("t");
	char		names[1][CV_NET_ONNX_NAME_MAX];
	int			t;
	uint8_t    *px = calloc(128 * 128 * 3, 1);
	float		scores[1001];
	cv_error	err;

	CHECK(cv_net_load_with(file, len, &opt, &net, &err) == CV_OK);
	CHECK(cv_net_workspace_create(net, &ws, &err) == CV_OK);
	CHECK(cv_net_run(net, ws, px, scores, NULL, &err) == CV_ERR_PARAM);
	t = cv_net_feature_tensor(net, NULL);
	CHECK(cv_net_emit_onnx(net, g, "pixels", 1, &t, names, &err) == CV_OK);
	CHECK(names[0][0] == 't');
	/* a tensor the net does not compute */
	{
		int			bad = 100000;

		CHECK(cv_net_emit_onnx(net, g, "pixels", 1, &bad, names, &err) == CV_ERR_PARAM);
	}
	/* a net prepared for running is not exported (its filters are packed) */
	CHECK(cv_net_load(file, len, &runnable, &err) == CV_OK);
	CHECK(cv_net_emit_onnx(runnable, g, "pixels", 1, &t, names, &err) == CV_ERR_PARAM);
	onnx_graph_free(g);
	cv_net_workspace_free(ws);
	cv_net_free(net);
	cv_net_free(runnable);
	free(px);
	free(file);
}

UNIT_MAIN("export_onnx",
		  UNIT_CASE(test_classifier_file),
		  UNIT_CASE(test_int8_classifier_file),
		  UNIT_CASE(test_int8_detector_file),
		  UNIT_CASE(test_refusals),
		  UNIT_CASE(test_detector_file),
		  UNIT_CASE(test_read_only_net))
