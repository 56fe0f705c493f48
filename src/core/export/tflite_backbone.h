/*
 * tflite_backbone.h
 *	  The backbone of an exported iteration copied from the domain's TFLite
 *	  file (tflite_backbone.c), for the export (tflite_export.c).
 */
#ifndef TFLITE_BACKBONE_H
#define TFLITE_BACKBONE_H

#include <stdbool.h>

#include "tflite_graph.h"
#include "../common/cv_common.h"
#include "../nn/nn.h"
#include "../nn/tflite.h"

/*
 * The operators of m that the tensors features[0..nfeatures) depend on,
 * copied with their tensors into f: the file's integer network, or with
 * float_net the float engine's (info: the loaded net's input
 * normalisation; sized: the net loaded at another input size, whose
 * activation shapes are taken, or NULL).  map[source tensor] = new index
 * (map has m->ntensors entries); *input is the new graph input.
 */
cv_status	tfx_copy_backbone(xfile *f, const tfl_model *m, const int *features, int nfeatures,
							  bool float_net, const cv_net_info *info, const cv_net *sized, int *map,
							  int *input, cv_error *err);

#endif							/* TFLITE_BACKBONE_H */
