/*
 * tflite_detector.h
 *	  The head of a float-engine detector as TFLite operators
 *	  (tflite_detector.c), for the export (tflite_export.c).
 */
#ifndef TFLITE_DETECTOR_H
#define TFLITE_DETECTOR_H

#include "tflite_graph.h"
#include "../common/cv_common.h"
#include "../detect/detector.h"

/*
 * The head of d after the maps m0 (stride 16) and m1 (stride 32) of f;
 * *outputs is the tensor of the raw outputs [1, cells * (tags + 5)].
 */
cv_status	tfx_emit_detector_head(xfile *f, const cv_detector *d, int m0, int m1, int *outputs,
								   cv_error *err);

#endif							/* TFLITE_DETECTOR_H */
