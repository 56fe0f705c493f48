/*
 * onnx_export.c
 *	  A trained iteration as one ONNX file: pixel normalisation, backbone,
 *	  head, and the metadata a runner needs (export.h, docs/export.md).
 *
 * The backbone is the domain's TFLite file loaded with keep_layouts and cut
 * where the model reads it (the feature tensor for a classifier, the two
 * maps for a detector), on the engine the model was trained on (a model
 * of the int8 engine gets its integer arithmetic, not the float network),
 * written by cv_net_emit_onnx.  The heads are
 * written here, operation for operation as the core computes them:
 *	 classification (head.c): signed square root and L2 normalisation,
 *		standardisation, the linear layer, softmax or sigmoids (a negative
 *		tag: the product of the others' 1 - p);
 *	 detection (detector.c): the backbone on the photo and its mirror as
 *		one batch of two (test-time mirroring), the cell rows [map 0, map 1
 *		at the parent cell, the 3x3 mean around it, the global mean, the
 *		position] built with Gather, AveragePool and ReduceMean,
 *		standardisation, the two layers as 1x1 convolutions, the mirror's
 *		outputs turned back and averaged with the photo's, the score
 *		sqrt(sigmoid(class) * sigmoid(quality) * the two views' box IoU)
 *		and its calibration, the
 *		boxes decoded from the log distances.
 * Opset 17, operators of the default domain only; float32 but for the
 * int8 engine's uint8 activations and int64 arithmetic.
 */
#include "export.h"
#include "onnx_proto.h"
#include "../common/text_buffer.h"
#include "../nn/nn.h"
#include "../nn/nn_onnx.h"
#include "../detect/detect_backbone.h"
#include "../learn/features.h"

#include <float.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#define EXPORT_OPSET 17
#define CODE_LIMIT 10.0f		/* box.c: codes are clamped to +-10 before exp */
#define SCORE_FLOOR 1e-7f		/* detector.c: scores clamped before the logit */
#define MIRROR_BATCH 2			/* a detector's backbone runs the photo and its mirror */

typedef char name_t[CV_NET_ONNX_NAME_MAX];

/* ---- small graph helpers ---- */

static void
node1(onnx_graph *g, const char *op, const char *a, const char *out)
{
	onnx_node(g, op, 1, (const char *[]) {a}, 1, (const char *[]) {out});
}

static void
node2(onnx_graph *g, const char *op, const char *a, const char *b, const char *out)
{
	onnx_node(g, op, 2, (const char *[]) {a, b}, 1, (const char *[]) {out});
}

static void
scalar(onnx_graph *g, const char *name, float v)
{
	onnx_initializer_float(g, name, 0, NULL, &v);
}

static void
ints1(onnx_graph *g, const char *name, int n, const int64_t *v)
{
	int64_t		dims[1] = {n};

	onnx_initializer_int64(g, name, 1, dims, v);
}

static const char *
task_name(cv_task task)
{
	switch (task)
	{
		case CV_TASK_MULTICLASS:
			return "multiclass";
		case CV_TASK_MULTILABEL:
			return "multilabel";
		case CV_TASK_DETECTION:
			return "detection";
	}
	return "unknown";
}

static void
meta_int(onnx_graph *g, const char *key, long long v)
{
	char		buf[32];

	snprintf(buf, sizeof(buf), "%lld", v);
	onnx_metadata(g, key, buf);
}

static void
meta_float(onnx_graph *g, const char *key, double v)
{
	char		buf[40];

	snprintf(buf, sizeof(buf), "%.9g", v);
	onnx_metadata(g, key, buf);
}

/* The metadata keys of docs/export.md. */
/*
 * Whether the model's features or maps came from the int8 engine: then the
 * backbone is loaded on that engine, and its integer steps written as such
 * (net_onnx_int8.c), since the float network's answers differ from them.
 */
static bool
trained_on_int8(const cv_model *m)
{
	return m->detector != NULL ? m->extractor_version == CV_DETECT_MAPS_VERSION_INT8 :
		m->extractor_version == CV_BACKBONE_VERSION_INT8;
}

static cv_status
write_metadata(onnx_graph *g, const cv_model *m, const cv_net_info *info,
			   const cv_export_meta *meta, cv_error *err)
{
	cv_text		tags = {0},
				negative = {0};
	bool		any_negative = false;

	cv_text_str(&tags, "[");
	cv_text_str(&negative, "[");
	for (int k = 0; k < m->n_tags; k++)
	{
		if (k > 0)
			cv_text_str(&tags, ",");
		cv_text_json_string(&tags, m->tag_names[k]);
		if (m->head != NULL && m->head->negative[k])
		{
			if (any_negative)
				cv_text_str(&negative, ",");
			cv_text_json_string(&negative, m->tag_names[k]);
			any_negative = true;
		}
	}
	cv_text_str(&tags, "]");
	cv_text_str(&negative, "]");
	if (tags.failed || negative.failed)
	{
		cv_free(tags.data);
		cv_free(negative.data);
		return cv_fail(err, CV_ERR_NOMEM, "out of memory writing the export metadata");
	}
	onnx_metadata(g, "pgvision.format", "1");
	onnx_metadata(g, "pgvision.version", meta->version ? meta->version : "");
	meta_int(g, "pgvision.iteration", (long long) meta->iteration);
	onnx_metadata(g, "pgvision.project", meta->project ? meta->project : "");
	onnx_metadata(g, "pgvision.task", task_name(m->task));
	onnx_metadata(g, "pgvision.domain", m->domain);
	onnx_metadata(g, "pgvision.engine", trained_on_int8(m) ? "int8" : "float");
	onnx_metadata(g, "pgvision.tags", tags.data);
	if (m->head != NULL)
		onnx_metadata(g, "pgvision.negative_tags", negative.data);
	meta_int(g, "pgvision.input_width", m->input_width);
	meta_int(g, "pgvision.input_height", m->input_height);
	onnx_metadata(g, "pgvision.input",
				  "pixels: float32 [1, height, width, 3], RGB values 0..255, rows top to bottom");
	onnx_metadata(g, "pgvision.resize",
				  m->task == CV_TASK_DETECTION ? "stretch" : "centre_square");
	meta_float(g, "pgvision.input_zero_point", info->input_zero_point);
	meta_float(g, "pgvision.input_scale", info->input_scale);
	onnx_metadata(g, "pgvision.normalisation",
				  "(pixel - input_zero_point) * input_scale, inside the graph");
	meta_float(g, "pgvision.threshold", m->threshold);
	if (m->task == CV_TASK_DETECTION)
	{
		meta_float(g, "pgvision.nms_overlap", meta->nms_overlap);
		meta_int(g, "pgvision.max_detections", 100);
		onnx_metadata(g, "pgvision.outputs",
					  "boxes [cells, 4] left, top, width, height (unclipped); "
					  "scores [cells, tags] calibrated probabilities");
	}
	else
		onnx_metadata(g, "pgvision.outputs", "probabilities [1, tags] in tag order");
	cv_free(tags.data);
	cv_free(negative.data);
	return CV_OK;
}

/* ---- classification head (head.c) ---- */

static cv_status
emit_classifier(onnx_graph *g, const cv_head *h, const char *features_nchw, cv_error *err)
{
	int			d = h->dim,
				t = h->n_tags;
	int64_t		row_dims[2] = {1, d};
	int64_t		w_dims[2] = {t, d};
	int64_t		t_dims[1] = {t};
	int64_t		tag_dims[2] = {1, t};
	const char *x = "features";
	int			node;

	node = onnx_node(g, "Flatten", 1, (const char *[]) {features_nchw}, 1,
					 (const char *[]) {"features"});
	onnx_attr_int(g, node, "axis", 1);

	if (h->norm == CV_NORM_POWER_L2)
	{
		/* sign(x) sqrt|x|, divided by sqrt(sum |x|); a zero vector stays zero */
		static const int64_t axis1[1] = {1};

		node1(g, "Abs", "features", "abs");
		node1(g, "Sqrt", "abs", "root");
		node1(g, "Sign", "features", "sign");
		node2(g, "Mul", "sign", "root", "signed_root");
		ints1(g, "axes_1", 1, axis1);
		node = onnx_node(g, "ReduceSum", 2, (const char *[]) {"abs", "axes_1"}, 1,
						 (const char *[]) {"sum_abs"});
		onnx_attr_int(g, node, "keepdims", 1);
		node1(g, "Sqrt", "sum_abs", "length");
		scalar(g, "tiny", 1e-30f);
		node2(g, "Max", "length", "tiny", "length_safe");
		node2(g, "Div", "signed_root", "length_safe", "normed");
		x = "normed";
	}
	else if (h->norm != CV_NORM_NONE)
		return cv_fail(err, CV_ERR_UNSUPPORTED, "feature normalisation %d cannot be exported",
					   (int) h->norm);

	onnx_initializer_float(g, "feature_mean", 2, row_dims, h->mean);
	onnx_initializer_float(g, "feature_scale", 2, row_dims, h->scale);
	node2(g, "Sub", x, "feature_mean", "centred_features");
	node2(g, "Mul", "centred_features", "feature_scale", "standardised");
	onnx_initializer_float(g, "head_weights", 2, w_dims, h->weights);
	onnx_initializer_float(g, "head_bias", 1, t_dims, h->bias);
	node = onnx_node(g, "Gemm", 3, (const char *[]) {"standardised", "head_weights", "head_bias"},
					 1, (const char *[]) {"logits"});
	onnx_attr_int(g, node, "transB", 1);

	if (h->task == CV_TASK_MULTICLASS)
	{
		node = onnx_node(g, "Softmax", 1, (const char *[]) {"logits"}, 1,
						 (const char *[]) {"probabilities"});
		onnx_attr_int(g, node, "axis", 1);
		return CV_OK;
	}

	{
		bool		any_negative = false;
		float	   *keep,
				   *drop;

		for (int k = 0; k < t; k++)
			any_negative |= h->negative[k];
		if (!any_negative)
		{
			node1(g, "Sigmoid", "logits", "probabilities");
			return CV_OK;
		}
		/* a negative tag: prod(1 - p_k) over the other tags */
		keep = cv_malloc(sizeof(float) * t);
		drop = cv_malloc(sizeof(float) * t);
		if (keep == NULL || drop == NULL)
		{
			cv_free(keep);
			cv_free(drop);
			return cv_fail(err, CV_ERR_NOMEM, "out of memory exporting a head");
		}
		for (int k = 0; k < t; k++)
		{
			keep[k] = h->negative[k] ? 0.0f : 1.0f;
			drop[k] = 1.0f - keep[k];
		}
		onnx_initializer_float(g, "positive_mask", 2, tag_dims, keep);
		onnx_initializer_float(g, "negative_mask", 2, tag_dims, drop);
		cv_free(keep);
		cv_free(drop);
		scalar(g, "one", 1.0f);
		node1(g, "Sigmoid", "logits", "sigmoids");
		node2(g, "Sub", "one", "sigmoids", "misses");
		node2(g, "Mul", "misses", "positive_mask", "masked_misses");
		node2(g, "Add", "masked_misses", "negative_mask", "factors");
		node = onnx_node(g, "ReduceProd", 1, (const char *[]) {"factors"}, 1,
						 (const char *[]) {"none"});
		onnx_attr_ints(g, node, "axes", 1, (const int64_t[]) {1});
		onnx_attr_int(g, node, "keepdims", 1);
		node2(g, "Mul", "sigmoids", "positive_mask", "positive_part");
		node2(g, "Mul", "none", "negative_mask", "negative_part");
		node2(g, "Add", "positive_part", "negative_part", "probabilities");
	}
	return CV_OK;
}

/* ---- detection head (detector.c) ---- */

/* The parent cell index of each fine cell along one axis (cv_detector_rows). */
static void
parent_indices(int fine, int coarse, int64_t *out)
{
	for (int i = 0; i < fine; i++)
	{
		int			p = (int) (((i + 0.5) * coarse) / fine);

		out[i] = p >= coarse ? coarse - 1 : p;
	}
}

static void
gather_parents(onnx_graph *g, const char *in, const char *out, const char *tmp)
{
	int			node;

	node = onnx_node(g, "Gather", 2, (const char *[]) {in, "parent_rows"}, 1,
					 (const char *[]) {tmp});
	onnx_attr_int(g, node, "axis", 2);
	node = onnx_node(g, "Gather", 2, (const char *[]) {tmp, "parent_cols"}, 1,
					 (const char *[]) {out});
	onnx_attr_int(g, node, "axis", 3);
}

static cv_status
emit_detector(onnx_graph *g, const cv_detector *det, const char *map0, const char *map1,
			  cv_error *err)
{
	int			h0 = det->map_height[0],
				w0 = det->map_width[0];
	int			h1 = det->map_height[1],
				w1 = det->map_width[1],
				c1 = det->map_channels[1];
	int			cells = h0 * w0,
				t = det->n_tags,
				out_dim = cv_detector_out_dim(det->n_tags),
				in_dim = det->in_dim;
	const char *parts[5];
	int			n_parts = 0;
	int64_t		rows[CV_DETECT_MAX_GRID],
				cols[CV_DETECT_MAX_GRID];
	float	   *buf;
	size_t		buf_floats;
	int			node;

	buf_floats = (size_t) in_dim * det->hidden;
	if (buf_floats < (size_t) det->hidden * out_dim)
		buf_floats = (size_t) det->hidden * out_dim;
	if (buf_floats < (size_t) cells * 4)
		buf_floats = (size_t) cells * 4;
	buf = cv_malloc(sizeof(float) * buf_floats);
	if (buf == NULL)
		return cv_fail(err, CV_ERR_NOMEM, "out of memory exporting a detector");

	/* the cell rows */
	parts[n_parts++] = map0;
	parent_indices(h0, h1, rows);
	parent_indices(w0, w1, cols);
	ints1(g, "parent_rows", h0, rows);
	ints1(g, "parent_cols", w0, cols);
	gather_parents(g, map1, "parent", "parent_by_row");
	parts[n_parts++] = "parent";
	if (det->context & CV_DETECT_CONTEXT_NEIGHBOURS)
	{
		/* the mean over the 3x3 coarse cells inside the map */
		node = onnx_node(g, "AveragePool", 1, (const char *[]) {map1}, 1,
						 (const char *[]) {"neighbourhood"});
		onnx_attr_ints(g, node, "kernel_shape", 2, (const int64_t[]) {3, 3});
		onnx_attr_ints(g, node, "strides", 2, (const int64_t[]) {1, 1});
		onnx_attr_ints(g, node, "pads", 4, (const int64_t[]) {1, 1, 1, 1});
		onnx_attr_int(g, node, "count_include_pad", 0);
		gather_parents(g, "neighbourhood", "neighbours", "neighbours_by_row");
		parts[n_parts++] = "neighbours";
	}
	if (det->context & CV_DETECT_CONTEXT_GLOBAL)
	{
		int64_t		shape[4] = {MIRROR_BATCH, c1, h0, w0};

		node = onnx_node(g, "ReduceMean", 1, (const char *[]) {map1}, 1,
						 (const char *[]) {"global_mean"});
		onnx_attr_ints(g, node, "axes", 2, (const int64_t[]) {2, 3});
		onnx_attr_int(g, node, "keepdims", 1);
		ints1(g, "grid_shape", 4, shape);
		node2(g, "Expand", "global_mean", "grid_shape", "global");
		parts[n_parts++] = "global";
	}
	if (det->context & CV_DETECT_CONTEXT_POSITION)
	{
		int64_t		dims[4] = {1, 2, h0, w0};

		for (int y = 0; y < h0; y++)
			for (int x = 0; x < w0; x++)
			{
				buf[(size_t) y * w0 + x] = (x + 0.5f) / w0;
				buf[(size_t) cells + (size_t) y * w0 + x] = (y + 0.5f) / h0;
			}
		onnx_initializer_float(g, "position_grid", 4, dims, buf);
		ints1(g, "position_shape", 4, (const int64_t[]) {MIRROR_BATCH, 2, h0, w0});
		node2(g, "Expand", "position_grid", "position_shape", "position");
		parts[n_parts++] = "position";
	}
	node = onnx_node(g, "Concat", n_parts, parts, 1, (const char *[]) {"cell_rows"});
	onnx_attr_int(g, node, "axis", 1);

	/* standardise, hidden layer, outputs: 1x1 convolutions over the grid */
	{
		int64_t		col_dims[4] = {1, in_dim, 1, 1};
		int64_t		w1_dims[4] = {det->hidden, in_dim, 1, 1};
		int64_t		b1_dims[1] = {det->hidden};
		int64_t		w2_dims[4] = {out_dim, det->hidden, 1, 1};
		int64_t		b2_dims[1] = {out_dim};

		onnx_initializer_float(g, "cell_mean", 4, col_dims, det->mean);
		onnx_initializer_float(g, "cell_scale", 4, col_dims, det->scale);
		node2(g, "Sub", "cell_rows", "cell_mean", "centred_rows");
		node2(g, "Mul", "centred_rows", "cell_scale", "standardised_rows");
		/* w1 is in_dim x hidden: the Conv wants hidden x in_dim */
		for (int i = 0; i < in_dim; i++)
			for (int j = 0; j < det->hidden; j++)
				buf[(size_t) j * in_dim + i] = det->w1[(size_t) i * det->hidden + j];
		onnx_initializer_float(g, "hidden_weights", 4, w1_dims, buf);
		onnx_initializer_float(g, "hidden_bias", 1, b1_dims, det->b1);
		onnx_node(g, "Conv", 3, (const char *[]) {"standardised_rows", "hidden_weights", "hidden_bias"},
				  1, (const char *[]) {"hidden_pre"});
		node1(g, "Relu", "hidden_pre", "hidden");
		for (int i = 0; i < det->hidden; i++)
			for (int j = 0; j < out_dim; j++)
				buf[(size_t) j * det->hidden + i] = det->w2[(size_t) i * out_dim + j];
		onnx_initializer_float(g, "output_weights", 4, w2_dims, buf);
		onnx_initializer_float(g, "output_bias", 1, b2_dims, det->b2);
		onnx_node(g, "Conv", 3, (const char *[]) {"hidden", "output_weights", "output_bias"},
				  1, (const char *[]) {"cell_outputs"});
	}

	/*
	 * Test-time mirroring (cv_detector_detect): the mirror's outputs turned
	 * back (cells right to left, the left and right distances exchanged)
	 * and averaged with the photo's.
	 */
	{
		int64_t		swap[CV_DETECT_MAX_TAGS + CV_DETECT_EXTRA_OUTPUTS];

		for (int j = 0; j < out_dim; j++)
			swap[j] = j;
		swap[t] = t + 2;
		swap[t + 2] = t;
		ints1(g, "batch_axis", 1, (const int64_t[]) {0});
		ints1(g, "first", 1, (const int64_t[]) {0});
		ints1(g, "second", 1, (const int64_t[]) {1});
		ints1(g, "after_second", 1, (const int64_t[]) {2});
		onnx_node(g, "Slice", 4, (const char *[]) {"cell_outputs", "first", "second", "batch_axis"},
				  1, (const char *[]) {"photo_outputs"});
		onnx_node(g, "Slice", 4, (const char *[]) {"cell_outputs", "second", "after_second", "batch_axis"},
				  1, (const char *[]) {"mirror_outputs"});
		ints1(g, "width_axis", 1, (const int64_t[]) {3});
		ints1(g, "last_column", 1, (const int64_t[]) {w0 - 1});
		ints1(g, "before_first", 1, (const int64_t[]) {INT64_MIN});
		ints1(g, "backwards", 1, (const int64_t[]) {-1});
		onnx_node(g, "Slice", 5, (const char *[]) {"mirror_outputs", "last_column", "before_first",
				  "width_axis", "backwards"}, 1, (const char *[]) {"mirror_cells_turned"});
		ints1(g, "left_right_swap", out_dim, swap);
		node = onnx_node(g, "Gather", 2, (const char *[]) {"mirror_cells_turned", "left_right_swap"}, 1,
						 (const char *[]) {"mirror_turned"});
		onnx_attr_int(g, node, "axis", 1);
		scalar(g, "half", 0.5f);
		node2(g, "Add", "photo_outputs", "mirror_turned", "output_sum");
		node2(g, "Mul", "output_sum", "half", "averaged_outputs");
	}

	/*
	 * The two views' agreement at each cell (cv_detector_combine_mirror):
	 * the IoU of the photo's and the mirror's boxes, from their distances
	 * (both share the cell's centre).  A 1x1 convolution sums l + r and
	 * t + b, ReduceProd multiplies them into an area.
	 */
	{
		static const float side_sums[8] = {1, 0, 1, 0, 0, 1, 0, 1};
		int64_t		sum_dims[4] = {2, 4, 1, 1};
		int64_t		agree_flat[2] = {cells, 1};
		static const char *const views[2] = {"photo_outputs", "mirror_turned"};
		static const char *const codes[2] = {"photo_codes", "mirror_codes"};
		static const char *const clipped[2] = {"photo_codes_clipped", "mirror_codes_clipped"};
		static const char *const dist[2] = {"photo_distances", "mirror_distances"};
		static const char *const sides[2] = {"photo_sides", "mirror_sides"};
		static const char *const areas[2] = {"photo_areas", "mirror_areas"};

		ints1(g, "codes_start", 1, (const int64_t[]) {t});
		ints1(g, "codes_end", 1, (const int64_t[]) {t + 4});
		ints1(g, "channel_axis", 1, (const int64_t[]) {1});
		scalar(g, "agree_code_floor", -CODE_LIMIT);
		scalar(g, "agree_code_ceiling", CODE_LIMIT);
		onnx_initializer_float(g, "side_sums", 4, sum_dims, side_sums);
		for (int v = 0; v < 2; v++)
		{
			onnx_node(g, "Slice", 4, (const char *[]) {views[v], "codes_start", "codes_end", "channel_axis"},
					  1, (const char *[]) {codes[v]});
			onnx_node(g, "Clip", 3, (const char *[]) {codes[v], "agree_code_floor", "agree_code_ceiling"},
					  1, (const char *[]) {clipped[v]});
			node1(g, "Exp", clipped[v], dist[v]);
			node2(g, "Conv", dist[v], "side_sums", sides[v]);
			node = onnx_node(g, "ReduceProd", 1, (const char *[]) {sides[v]}, 1,
							 (const char *[]) {areas[v]});
			onnx_attr_ints(g, node, "axes", 1, (const int64_t[]) {1});
			onnx_attr_int(g, node, "keepdims", 1);
		}
		node2(g, "Min", "photo_distances", "mirror_distances", "shared_distances");
		node2(g, "Conv", "shared_distances", "side_sums", "shared_sides");
		node = onnx_node(g, "ReduceProd", 1, (const char *[]) {"shared_sides"}, 1,
						 (const char *[]) {"shared_area"});
		onnx_attr_ints(g, node, "axes", 1, (const int64_t[]) {1});
		onnx_attr_int(g, node, "keepdims", 1);
		node2(g, "Add", "photo_areas", "mirror_areas", "both_areas");
		node2(g, "Sub", "both_areas", "shared_area", "union_area");
		node2(g, "Div", "shared_area", "union_area", "agreement_grid");
		node = onnx_node(g, "Transpose", 1, (const char *[]) {"agreement_grid"}, 1,
						 (const char *[]) {"agreement_nhwc"});
		onnx_attr_ints(g, node, "perm", 4, (const int64_t[]) {0, 2, 3, 1});
		ints1(g, "agreement_shape", 2, agree_flat);
		node2(g, "Reshape", "agreement_nhwc", "agreement_shape", "agreement");
	}

	/* one row per cell, row-major over the grid: [cells, tags + 5] */
	{
		int64_t		flat[2] = {cells, out_dim};

		node = onnx_node(g, "Transpose", 1, (const char *[]) {"averaged_outputs"}, 1,
						 (const char *[]) {"cell_outputs_nhwc"});
		onnx_attr_ints(g, node, "perm", 4, (const int64_t[]) {0, 2, 3, 1});
		ints1(g, "cell_table_shape", 2, flat);
		node2(g, "Reshape", "cell_outputs_nhwc", "cell_table_shape", "cell_table");
	}
	{
		int64_t		starts[3] = {0, t, t + 4};
		int64_t		ends[3] = {t, t + 4, t + 5};
		static const char *const outs[3] = {"class_logits", "box_codes", "centre_logit"};
		static const int64_t axis1[1] = {1};

		ints1(g, "slice_axis", 1, axis1);
		for (int k = 0; k < 3; k++)
		{
			char		sname[32],
						ename[32];

			snprintf(sname, sizeof(sname), "slice_start_%d", k);
			snprintf(ename, sizeof(ename), "slice_end_%d", k);
			ints1(g, sname, 1, &starts[k]);
			ints1(g, ename, 1, &ends[k]);
			onnx_node(g, "Slice", 4, (const char *[]) {"cell_table", sname, ename, "slice_axis"},
					  1, (const char *[]) {outs[k]});
		}
	}

	/* scores: sqrt(sigmoid(class) sigmoid(centre)), calibrated */
	scalar(g, "score_floor", SCORE_FLOOR);
	scalar(g, "score_ceiling", 1.0f - SCORE_FLOOR);
	scalar(g, "unit", 1.0f);
	scalar(g, "calibration_a", det->calib_a);
	scalar(g, "calibration_b", det->calib_b);
	node1(g, "Sigmoid", "class_logits", "class_probabilities");
	node1(g, "Sigmoid", "centre_logit", "centreness");
	node2(g, "Mul", "centreness", "agreement", "agreed_quality");
	node2(g, "Mul", "class_probabilities", "agreed_quality", "score_product");
	node1(g, "Sqrt", "score_product", "raw_scores");
	onnx_node(g, "Clip", 3, (const char *[]) {"raw_scores", "score_floor", "score_ceiling"}, 1,
			  (const char *[]) {"clipped_scores"});
	node2(g, "Sub", "unit", "clipped_scores", "score_complement");
	node2(g, "Div", "clipped_scores", "score_complement", "score_odds");
	node1(g, "Log", "score_odds", "score_logits");
	node2(g, "Mul", "score_logits", "calibration_a", "calibrated_scaled");
	node2(g, "Add", "calibrated_scaled", "calibration_b", "calibrated_logits");
	node1(g, "Sigmoid", "calibrated_logits", "scores");

	/* boxes: distances exp(code) in cells, from each cell's centre */
	{
		float		cw = 1.0f / w0,
					ch = 1.0f / h0;
		float		cell_size[4] = {cw, ch, cw, ch};

		/* [l t r b] -> [left top width height] = centre + [-l, -t, l + r, t + b] */
		static const float to_box[16] = {
			-1, 0, 1, 0,
			0, -1, 0, 1,
			0, 0, 1, 0,
			0, 0, 0, 1
		};
		int64_t		size_dims[2] = {1, 4};
		int64_t		m_dims[2] = {4, 4};
		int64_t		c_dims[2] = {cells, 4};

		for (int y = 0; y < h0; y++)
			for (int x = 0; x < w0; x++)
			{
				float	   *c = buf + ((size_t) y * w0 + x) * 4;

				c[0] = (x + 0.5f) * cw;
				c[1] = (y + 0.5f) * ch;
				c[2] = 0.0f;
				c[3] = 0.0f;
			}
		scalar(g, "code_floor", -CODE_LIMIT);
		scalar(g, "code_ceiling", CODE_LIMIT);
		onnx_initializer_float(g, "cell_size", 2, size_dims, cell_size);
		onnx_initializer_float(g, "distances_to_box", 2, m_dims, to_box);
		onnx_initializer_float(g, "cell_centres", 2, c_dims, buf);
		onnx_node(g, "Clip", 3, (const char *[]) {"box_codes", "code_floor", "code_ceiling"}, 1,
				  (const char *[]) {"clipped_codes"});
		node1(g, "Exp", "clipped_codes", "distances_in_cells");
		node2(g, "Mul", "distances_in_cells", "cell_size", "distances");
		node2(g, "MatMul", "distances", "distances_to_box", "box_offsets");
		node2(g, "Add", "box_offsets", "cell_centres", "boxes");
	}
	cv_free(buf);
	return CV_OK;
}

/* ---- the whole file ---- */

static bool
is_builtin_domain(const cv_model *m)
{
	static const uint8_t zero[32];

	return strcmp(m->domain, "compact") == 0 || memcmp(m->domain_hash, zero, 32) == 0;
}

cv_status
cv_export_onnx(const cv_model *m, const uint8_t *backbone, size_t len,
			   const cv_export_meta *meta, uint8_t **out, size_t *out_len, cv_error *err)
{
	cv_net_options opt;
	cv_net	   *net = NULL;
	onnx_graph *g = NULL;
	name_t		names[CV_DETECT_MAPS];
	int			tensors[CV_DETECT_MAPS];
	int			n_tensors;
	cv_status	st;

	if (m == NULL || meta == NULL || out == NULL || out_len == NULL)
		return cv_fail(err, CV_ERR_PARAM, "invalid arguments to the export");
	*out = NULL;
	*out_len = 0;
	if (is_builtin_domain(m))
		return cv_fail(err, CV_ERR_UNSUPPORTED,
					   "models of the built-in domain %s cannot be exported", m->domain);
	if (backbone == NULL || len == 0)
		return cv_fail(err, CV_ERR_PARAM, "no backbone file to export with");
	if (m->head != NULL && m->head->predict_views != 1)
		return cv_fail(err, CV_ERR_UNSUPPORTED,
					   "a model that averages %d views cannot be exported",
					   m->head->predict_views);
	if ((m->head == NULL) == (m->detector == NULL))
		return cv_fail(err, CV_ERR_PARAM, "the model has no head to export");

	memset(&opt, 0, sizeof(opt));
	opt.keep_layouts = true;
	opt.engine = trained_on_int8(m) ? CV_NET_ENGINE_INT8 : CV_NET_ENGINE_FLOAT;
	if (m->detector != NULL)
	{
		opt.input_width = m->detector->input_width;
		opt.input_height = m->detector->input_height;
		n_tensors = CV_DETECT_MAPS;
		for (int k = 0; k < CV_DETECT_MAPS; k++)
			tensors[k] = opt.outputs[k] = m->detector->map_tensor[k];
		opt.n_outputs = CV_DETECT_MAPS;
	}
	else
	{
		/* the whole file once, to find the feature tensor the model reads */
		int			dim;

		if ((st = cv_net_load_with(backbone, len, &opt, &net, err)) != CV_OK)
			return st;
		dim = cv_net_get_info(net)->feature_dim;
		tensors[0] = cv_net_feature_tensor(net, NULL);
		cv_net_free(net);
		if (tensors[0] < 0 || dim != m->head->dim)
			return cv_fail(err, CV_ERR_PARAM,
						   "the backbone's features do not match the model (%d floats, not %d)",
						   dim, m->head->dim);
		net = NULL;
		n_tensors = 1;
		opt.n_outputs = 1;
		opt.outputs[0] = tensors[0];
	}
	if ((st = cv_net_load_with(backbone, len, &opt, &net, err)) != CV_OK)
		return st;
	if (cv_net_get_info(net)->input_width != m->input_width ||
		cv_net_get_info(net)->input_height != m->input_height)
	{
		st = cv_fail(err, CV_ERR_PARAM, "the backbone runs at %dx%d, the model at %dx%d",
					 cv_net_get_info(net)->input_width, cv_net_get_info(net)->input_height,
					 m->input_width, m->input_height);
		goto done;
	}
	if (trained_on_int8(m) && cv_net_get_info(net)->integer_steps == 0)
	{
		/* the engine would have computed nothing on integers: not this file */
		st = cv_fail(err, CV_ERR_PARAM,
					 "the model was trained on the int8 engine, but the backbone has no integer step");
		goto done;
	}
	if (m->detector != NULL)
		for (int k = 0; k < CV_DETECT_MAPS; k++)
		{
			int			dims[4];

			if (!cv_net_output_shape(net, k, dims) ||
				dims[1] != m->detector->map_height[k] || dims[2] != m->detector->map_width[k] ||
				dims[3] != m->detector->map_channels[k])
			{
				st = cv_fail(err, CV_ERR_PARAM,
							 "the backbone's feature map %d does not match the detector's", k);
				goto done;
			}
		}

	g = onnx_graph_create("pgvision");
	if (g == NULL)
	{
		st = cv_fail(err, CV_ERR_NOMEM, "out of memory exporting a model");
		goto done;
	}
	{
		int64_t		in_dims[4] = {1, m->input_height, m->input_width, 3};

		onnx_graph_input(g, "pixels", ONNX_FLOAT, 4, in_dims);
	}
	if (m->detector != NULL)
	{
		/* the photo and its mirror, one batch: pixels flipped along W */
		int			node;

		onnx_initializer_int64(g, "pixel_width_axis", 1, (const int64_t[]) {1}, (const int64_t[]) {2});
		onnx_initializer_int64(g, "pixel_last_column", 1, (const int64_t[]) {1},
							   (const int64_t[]) {m->input_width - 1});
		onnx_initializer_int64(g, "pixel_before_first", 1, (const int64_t[]) {1},
							   (const int64_t[]) {INT64_MIN});
		onnx_initializer_int64(g, "pixel_backwards", 1, (const int64_t[]) {1}, (const int64_t[]) {-1});
		onnx_node(g, "Slice", 5, (const char *[]) {"pixels", "pixel_last_column", "pixel_before_first",
				  "pixel_width_axis", "pixel_backwards"}, 1, (const char *[]) {"mirrored_pixels"});
		node = onnx_node(g, "Concat", 2, (const char *[]) {"pixels", "mirrored_pixels"}, 1,
						 (const char *[]) {"pixel_pair"});
		onnx_attr_int(g, node, "axis", 0);
	}
	if ((st = cv_net_emit_onnx(net, g, m->detector != NULL ? "pixel_pair" : "pixels",
							   n_tensors, tensors, names, err)) != CV_OK)
		goto done;
	if (m->detector != NULL)
	{
		int			cells = m->detector->map_height[0] * m->detector->map_width[0];
		int64_t		box_dims[2] = {cells, 4};
		int64_t		score_dims[2] = {cells, m->n_tags};

		if ((st = emit_detector(g, m->detector, names[0], names[1], err)) != CV_OK)
			goto done;
		onnx_graph_output(g, "boxes", ONNX_FLOAT, 2, box_dims);
		onnx_graph_output(g, "scores", ONNX_FLOAT, 2, score_dims);
	}
	else
	{
		int64_t		prob_dims[2] = {1, m->n_tags};

		if ((st = emit_classifier(g, m->head, names[0], err)) != CV_OK)
			goto done;
		onnx_graph_output(g, "probabilities", ONNX_FLOAT, 2, prob_dims);
	}
	if ((st = write_metadata(g, m, cv_net_get_info(net), meta, err)) != CV_OK)
		goto done;
	st = onnx_serialize(g, EXPORT_OPSET, "pgvision", meta->version ? meta->version : "",
						out, out_len, err);
done:
	onnx_graph_free(g);
	cv_net_free(net);
	return st;
}
