/*
 * tflite_metadata.c
 *	  The metadata of an exported TFLite file: the JSON object that the
 *	  export (tflite_export.c) stores in Model.metadata's entry "pgvision",
 *	  with the keys the ONNX file carries (docs/export.md).
 *
 * Apart from the graph because it is a different job: a small JSON writer
 * (on ../common/text_buffer.h: a growing text, RFC 8259 string escapes)
 * and the list of keys a runner reads, none of which touches the
 * flatbuffer.  Allocation failures latch in the text and are reported
 * once, at the end of tfx_write_metadata.
 */
#include "tflite_metadata.h"
#include "../detect/box.h"
#include "../detect/detector.h"
#include "../detect/detect_backbone.h"
#include "../learn/features.h"

#include <stdio.h>
#include <string.h>

static void
json_str(tfx_json *j, const char *s)
{
	cv_text_str(&j->text, s);
}

static void
json_string(tfx_json *j, const char *s)
{
	cv_text_json_string(&j->text, s);
}

static void
json_key(tfx_json *j, const char *key)
{
	json_str(j, j->first ? "\n  " : ",\n  ");
	j->first = false;
	json_string(j, key);
	json_str(j, ": ");
}

static void
json_text(tfx_json *j, const char *key, const char *value)
{
	json_key(j, key);
	json_string(j, value);
}

static void
json_number(tfx_json *j, const char *key, double v, bool integer)
{
	char		buf[48];

	json_key(j, key);
	snprintf(buf, sizeof(buf), integer ? "%.0f" : "%.9g", v);
	json_str(j, buf);
}

const char *
tfx_task_name(cv_task task)
{
	return task == CV_TASK_MULTICLASS ? "multiclass" :
		task == CV_TASK_MULTILABEL ? "multilabel" : "detection";
}

cv_status
tfx_write_metadata(tfx_json *j, const cv_model *m, const cv_net_info *info, const tfl_tensor *input,
			   const cv_export_meta *meta, cv_error *err)
{
	/* a detector's maps version is numbered apart from the classifiers' features' */
	bool		int8 = m->detector != NULL ? m->extractor_version == CV_DETECT_MAPS_VERSION_INT8 :
		m->extractor_version == CV_BACKBONE_VERSION_INT8;

	j->first = true;
	json_str(j, "{");
	json_text(j, "pgvision.format", "1");
	json_text(j, "pgvision.version", meta->version ? meta->version : "");
	json_number(j, "pgvision.iteration", (double) meta->iteration, true);
	json_text(j, "pgvision.project", meta->project ? meta->project : "");
	json_text(j, "pgvision.task", tfx_task_name(m->task));
	json_text(j, "pgvision.domain", m->domain);
	json_text(j, "pgvision.engine", int8 ? "int8" : "float");
	json_key(j, "pgvision.tags");
	json_str(j, "[");
	for (int k = 0; k < m->n_tags; k++)
	{
		if (k > 0)
			json_str(j, ", ");
		json_string(j, m->tag_names[k]);
	}
	json_str(j, "]");
	if (m->head != NULL)
	{
		json_key(j, "pgvision.negative_tags");
		json_str(j, "[");
		for (int k = 0, n = 0; k < m->n_tags; k++)
			if (m->head->negative[k])
			{
				if (n++ > 0)
					json_str(j, ", ");
				json_string(j, m->tag_names[k]);
			}
		json_str(j, "]");
	}
	json_number(j, "pgvision.input_width", m->input_width, true);
	json_number(j, "pgvision.input_height", m->input_height, true);
	if (!int8)
	{
		json_text(j, "pgvision.input_type", "float32");
		json_text(j, "pgvision.input",
				  "pixels: float32 [1, height, width, 3], RGB values 0..255, rows top to bottom");
	}
	else
		json_text(j, "pgvision.input_type", tfl_type_name(input->type));
	if (int8)
		json_text(j, "pgvision.input",
			  input->type == TFL_UINT8 ?
			  "the RGB pixel bytes 0..255 themselves, [1, height, width, 3], rows top to bottom" :
			  input->type == TFL_INT8 ?
			  "pixel - 128 for each RGB byte, [1, height, width, 3], rows top to bottom" :
			  "(pixel - input_zero_point) * input_scale for each RGB byte, [1, height, width, 3], rows top to bottom");
	json_text(j, "pgvision.resize", m->detector != NULL ? "stretch" : "centre_square");
	json_number(j, "pgvision.input_zero_point", info->input_zero_point, true);
	json_number(j, "pgvision.input_scale", info->input_scale, false);
	json_text(j, "pgvision.normalisation", !int8 ? "(pixel - input_zero_point) * input_scale, inside the graph" :
			  input->type == TFL_FLOAT32 ? "(pixel - input_zero_point) * input_scale, by the caller" :
			  "(pixel - input_zero_point) * input_scale: the input tensor's quantization");
	json_number(j, "pgvision.threshold", m->threshold, false);
	if (m->detector != NULL)
	{
		const cv_detector *d = m->detector;

		/* what the post-processing needs (docs/export.md, "TFLite detection") */
		json_number(j, "pgvision.nms_overlap", meta->nms_overlap, false);
		json_number(j, "pgvision.max_detections", 100, true);
		json_number(j, "pgvision.grid_width", d->map_width[0], true);
		json_number(j, "pgvision.grid_height", d->map_height[0], true);
		json_number(j, "pgvision.calibration_a", d->calib_a, false);
		json_number(j, "pgvision.calibration_b", d->calib_b, false);
		json_number(j, "pgvision.box_code_limit", CV_BOX_CODE_LIMIT, false);
		json_text(j, "pgvision.outputs",
				  "outputs [1, cells * (tags + 5)]: per cell (row-major over the grid) the tags' class "
				  "logits, 4 box codes (log distances left, top, right, bottom in cells), 1 quality logit; "
				  "run on the pixels and on their mirror (flipped left to right), combined and decoded "
				  "as docs/export.md says");
	}
	else
		json_text(j, "pgvision.outputs", "probabilities [1, tags] in tag order");
	json_str(j, "\n}\n");
	if (j->text.failed)
		return cv_fail(err, CV_ERR_NOMEM, "out of memory writing the export metadata");
	return CV_OK;
}
