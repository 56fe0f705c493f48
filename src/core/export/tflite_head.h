/*
 * tflite_head.h
 *	  The head of a classification iteration as TFLite float operators
 *	  (tflite_head.c), for the export (tflite_export.c).
 */
#ifndef TFLITE_HEAD_H
#define TFLITE_HEAD_H

#include "tflite_graph.h"
#include "../common/cv_common.h"
#include "../learn/head.h"

/*
 * The head h on the float features x [1, h->dim] of f (non-negative, at
 * most feature_max each); *probabilities is the tensor of the
 * probabilities [1, tags].
 */
cv_status	tfx_emit_head(xfile *f, const cv_head *h, int x, double feature_max, int *probabilities,
						  cv_error *err);

#endif							/* TFLITE_HEAD_H */
