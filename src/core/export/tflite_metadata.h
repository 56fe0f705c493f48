/*
 * tflite_metadata.h
 *	  The JSON metadata of an exported TFLite file (tflite_metadata.c), for
 *	  the export (tflite_export.c), which stores it as the buffer of
 *	  Model.metadata's entry "pgvision".
 */
#ifndef TFLITE_METADATA_H
#define TFLITE_METADATA_H

#include <stdbool.h>
#include <stddef.h>

#include "export.h"
#include "../common/text_buffer.h"
#include "../nn/nn.h"
#include "../nn/tflite.h"

/* The text written so far (text.data; the caller frees it). */
typedef struct tfx_json
{
	cv_text		text;
	bool		first;			/* no key written yet in the open object */
} tfx_json;

/* The task's name as the metadata spells it. */
const char *tfx_task_name(cv_task task);

/*
 * The metadata of model m into j (which starts zeroed): its tags, input
 * (info and the file's input tensor), preprocessing, threshold and, for a
 * detector, the post-processing settings.
 */
cv_status	tfx_write_metadata(tfx_json *j, const cv_model *m, const cv_net_info *info,
							   const tfl_tensor *input, const cv_export_meta *meta, cv_error *err);

#endif							/* TFLITE_METADATA_H */
