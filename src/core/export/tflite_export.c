/*
 * tflite_export.c
 *	  A trained classification iteration as one TFLite file: the imported
 *	  network's operators up to the feature tensor the model reads (with
 *	  its quantized weights for the int8 engine), then the head as float
 *	  operators, and the metadata (export.h, docs/export.md).
 *
 * This file checks what can be exported and puts the parts together;
 * each part has a file of its own:
 *	 tflite_backbone.c	the backbone copied from the domain's file, as the
 *		int8 engine's integer network or as the float engine's network;
 *	 tflite_head.c		the classification head as basic float operators;
 *	 tflite_detector.c	a float-engine detector's head;
 *	 tflite_metadata.c	the JSON metadata;
 *	 tflite_graph.c		the primitives that assemble the file;
 *	 tflite_serialize.c	the flatbuffer at the end.
 * On the int8 engine the features are DEQUANTIZEd here, between the
 * backbone and the head.
 *
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
 * Metadata: Model.description names the writer; Model.metadata has one
 * entry "pgvision" whose buffer is a JSON object with the keys the ONNX
 * file carries (written by tflite_metadata.c; docs/export.md).  Field ids
 * are those of tensorflow/lite/schema/schema.fbs, cited where used.
 */
#include "export.h"
#include "tflite_backbone.h"
#include "tflite_detector.h"
#include "tflite_graph.h"
#include "tflite_head.h"
#include "tflite_metadata.h"
#include "tflite_serialize.h"
#include "../nn/nn.h"
#include "../nn/tflite.h"
#include "../learn/features.h"
#include "../detect/detector.h"
#include "../detect/detect_backbone.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

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
		st = tfx_serialize(f, input, output, description, &j, out, out_len, err);
	}
	cv_free(j.text.data);
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
	if ((st = tfx_copy_backbone(&f, &tm, maps, CV_DETECT_MAPS, true, &info, net, map, &input, err)) != CV_OK)
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
	if ((st = tfx_copy_backbone(&f, &tm, &feature, 1, !int8, &info, NULL, map, &input, err)) != CV_OK)
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
	if ((st = tfx_emit_head(&f, m->head, x, feature_max, &probabilities, err)) != CV_OK)
		goto done;
	st = finish_file(&f, m, &info, &tm, meta, input, probabilities, out, out_len, err);
done:
	cv_free(map);
	tfx_xfile_free(&f);
	tfl_model_free(&tm);
	return st;
}
