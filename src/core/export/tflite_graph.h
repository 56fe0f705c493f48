/*
 * tflite_graph.h
 *	  The TFLite file being assembled by the export (tflite_export.c,
 *	  tflite_backbone.c, tflite_head.c, tflite_detector.c): tensors,
 *	  buffers, operators and their options as plain arrays, serialized at
 *	  the end by tflite_serialize.c, and the primitives that add to them.
 *
 * Allocation failures do not return errors one by one: they set
 * xfile.nomem (and too many kinds of operator too_many_codes), the
 * primitives then return index 0 or NULL, and the export checks the flags
 * once before serializing.  Tensor and buffer indexes are those of the
 * file; buffer 0 is the empty one the schema reserves.
 */
#ifndef TFLITE_GRAPH_H
#define TFLITE_GRAPH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "flatbuffer_writer.h"
#include "../nn/tflite.h"

#define MAX_OPCODES 64
#define MAX_INPUTS 8

/* BuiltinOptions union members (schema.fbs union BuiltinOptions) */
enum
{
	OPT_NONE = 0, OPT_CONV2D = 1, OPT_DEPTHWISE = 2, OPT_POOL2D = 5,
	OPT_FULLY_CONNECTED = 8, OPT_SOFTMAX = 9, OPT_CONCATENATION = 10,
	OPT_ADD = 11, OPT_RESHAPE = 17, OPT_MUL = 21, OPT_REDUCER = 27,
	OPT_SQUEEZE = 30
};

/* ---- the file being assembled ---- */

typedef struct xtensor
{
	int			type;
	int			rank;
	int32_t		dims[TFL_MAX_RANK];
	int			buffer;			/* 0: none (an activation) */
	const char *name;
	int			name_len;
	const tfl_tensor *quant;	/* copy its quantization, or NULL */
} xtensor;

typedef struct xbuffer
{
	const uint8_t *data;
	size_t		len;
} xbuffer;

typedef struct xop
{
	int			opcode;			/* index into the opcode table */
	int			ninputs;
	int32_t		inputs[MAX_INPUTS];
	int32_t		output;
	int			options_type;
	int			noptions;
	fbw_field	options[8];
	int			vector_field;	/* an options vector (RESHAPE, SQUEEZE), -1 none */
	int			nvector;
	int32_t		vector[TFL_MAX_RANK];
} xop;

typedef struct xopcode
{
	int			code;
	int			version;
} xopcode;

typedef struct xfile
{
	xtensor    *tensors;
	int			ntensors,
				cap_tensors;
	xbuffer    *buffers;
	int			nbuffers,
				cap_buffers;
	xop		   *ops;
	int			nops,
				cap_ops;
	xopcode		opcodes[MAX_OPCODES];
	int			nopcodes;
	void	  **owned;			/* head constants, freed with the file */
	int			nowned,
				cap_owned;
	bool		nomem;
	bool		too_many_codes;
} xfile;

bool		tfx_grow(void **arr, int *cap, int need, size_t elem);
void		tfx_xfile_free(xfile *f);

/* A buffer of len bytes at data (owned: freed with the file); its index. */
int			tfx_add_buffer(xfile *f, const void *data, size_t len, bool owned);

/* A tensor (buffer 0: an activation), its quantization copied from quant. */
int			tfx_add_tensor(xfile *f, int type, int rank, const int32_t *dims, int buffer,
						   const char *name, const tfl_tensor *quant);
int			tfx_add_float_const(xfile *f, int rank, const int32_t *dims, const float *values,
								const char *name);
int			tfx_add_scalar_const(xfile *f, float v, const char *name);

/* An operator (OperatorCode version 1, or version); returned for its options. */
xop		   *tfx_add_op_version(xfile *f, int code, int version, int ninputs,
							   const int32_t *inputs, int32_t output);
xop		   *tfx_add_op(xfile *f, int code, int ninputs, const int32_t *inputs, int32_t output);

/* Float activations: [rows, cols], the shape of tensor like, any rank. */
int			tfx_activation(xfile *f, int rows, int cols, const char *name);
int			tfx_activation_like(xfile *f, int like, const char *name);
int			tfx_activation_nd(xfile *f, int rank, const int32_t *dims, const char *name);

/* ADD or MUL of a and b into out (fused activation act), or into a new [rows, cols]. */
void		tfx_binary_into(xfile *f, int code, int a, int b, int out, int act);
int			tfx_binary(xfile *f, int code, int a, int b, int rows, int cols, const char *name);

/* RESHAPE of x to [rows, cols], or to shape[0..rank). */
int			tfx_reshape(xfile *f, int x, int rows, int cols, const char *name);
int			tfx_reshape_nd(xfile *f, int x, int rank, const int32_t *shape, const char *name);

#endif							/* TFLITE_GRAPH_H */
