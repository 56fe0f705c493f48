/*
 * nn_onnx_int8.h
 *	  The int8 engine's steps as ONNX operators (net_onnx_int8.c), for
 *	  net_onnx.c, which walks the steps and names the tensors.  Not part of
 *	  the API.
 *
 * Every integer step becomes standard operators that compute the same
 * integers as its kernel (nn_qkernels.h): the quantized activations are
 * uint8 ONNX tensors (NCHW), the arithmetic is done in int64 tensors.
 */
#ifndef CV_NN_ONNX_INT8_H
#define CV_NN_ONNX_INT8_H

#include "nn_internal.h"
#include "nn_onnx.h"

/*
 * Emit step s (NN_K_QCONV, NN_K_QDEPTHWISE, NN_K_QADD, NN_K_QPAD,
 * NN_K_QUANTIZE or NN_K_DEQUANTIZE) of net reading the ONNX tensors in[]
 * (one per input of the step) into the tensor named out.  step is the
 * step's index (initializer names), *serial numbers the auxiliary tensors.
 * CV_ERR_INTERNAL for another kind, CV_ERR_NOMEM.
 */
cv_status	nn_onnx_emit_integer_step(onnx_graph *g, const cv_net *net, int step,
									  const char *const *in, const char *out,
									  int *serial, cv_error *err);

/* The graph's float pixels 0..255 (NHWC) as the uint8 NCHW input tensor out. */
void		nn_onnx_emit_quantized_input(onnx_graph *g, const char *pixels,
										 const char *out);

#endif							/* CV_NN_ONNX_INT8_H */
