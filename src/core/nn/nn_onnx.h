/*
 * nn_onnx.h
 *	  A loaded network written out as ONNX operators: the backbone part of
 *	  an exported model (src/core/export).
 *
 * The network must have been loaded with cv_net_options.keep_layouts, so
 * that every weight is still in the file's layout.  What is written is
 * what cv_net_run computes, operator for operator: the weights as
 * dequantized at load, and after each operator that clamps (nn.h: fused
 * activations narrowed to the range of the quantized output) a Clip with
 * the same bounds.  Activations are NCHW in the graph (the layout every
 * ONNX runtime's convolutions take): each tensor of the file is one ONNX
 * tensor of rank 4, its padded NHWC dims [n, h, w, c] written as
 * [n, c, h, w]; a RESHAPE goes through NHWC so that it reorders nothing.
 * The batch is left free (reshapes keep dimension 0 as it comes), so the
 * emitted operators run a batch of images as they run one: the detection
 * export passes a photo and its mirror together.
 *
 * A net loaded with engine CV_NET_ENGINE_INT8 as well is written with its
 * integer steps (net_onnx_int8.c): uint8 tensors and the integer
 * arithmetic of nn_qkernels.h in standard operators, the same integers.
 * A requested tensor the int8 engine holds as uint8 is named by its
 * dequantized float copy, as cv_net_run_outputs gives it.
 */
#ifndef CV_NN_ONNX_H
#define CV_NN_ONNX_H

#include "nn.h"
#include "../export/onnx_proto.h"

#define CV_NET_ONNX_NAME_MAX 32

/*
 * Emit into g every operator of net, reading the graph input pixels_nhwc:
 * a float [1, H, W, 3] tensor of pixel values 0..255 (H x W the size the
 * net was loaded for), normalised here as cv_net_run does.  names[k]
 * receives the ONNX name of the NCHW tensor that holds file tensor
 * tensors[k] (each must be an activation of the net: cv_net_activation, or
 * a requested output).  CV_ERR_PARAM for a net not loaded with keep_layouts
 * or a tensor it does not compute; CV_ERR_UNSUPPORTED for an operator the
 * export cannot express (named); CV_ERR_NOMEM.
 */
cv_status	cv_net_emit_onnx(const cv_net *net, onnx_graph *g, const char *pixels_nhwc,
							 int n_tensors, const int *tensors,
							 char (*names)[CV_NET_ONNX_NAME_MAX], cv_error *err);

#endif							/* CV_NN_ONNX_H */
