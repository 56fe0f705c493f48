/*
 * tflite_serialize.h
 *	  The flatbuffer of an assembled TFLite file (tflite_serialize.c), for
 *	  the export (tflite_export.c).
 */
#ifndef TFLITE_SERIALIZE_H
#define TFLITE_SERIALIZE_H

#include <stddef.h>
#include <stdint.h>

#include "tflite_graph.h"
#include "tflite_metadata.h"
#include "../common/cv_common.h"

/*
 * The file f with graph input and output tensors, Model.description and
 * the metadata meta (its buffer comes last) as a new buffer *out of
 * *out_len bytes (cv_malloc'd).
 */
cv_status	tfx_serialize(xfile *f, int input, int output, const char *description,
						  const tfx_json *meta, uint8_t **out, size_t *out_len, cv_error *err);

#endif							/* TFLITE_SERIALIZE_H */
