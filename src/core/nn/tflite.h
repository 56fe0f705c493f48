/*
 * tflite.h
 *	  The TFLite schema walk: a validated, read-only view of subgraph 0 of a
 *	  .tflite file (tensors, operators and their options), pointing into the
 *	  caller's bytes.  graph.c turns it into an executable cv_net.
 *
 * Field ids below are those of tensorflow/lite/schema/schema.fbs.  After
 * tfl_parse succeeds, every tensor index in an operator is in range (or -1
 * for an optional input), every shape is positive and small enough, every
 * constant buffer has exactly the bytes its shape and type need, and every
 * quantization vector has a valid length: the consumers need no further
 * bounds checks on the file.
 */
#ifndef CV_NN_TFLITE_H
#define CV_NN_TFLITE_H

#include "flatbuffer.h"

#define TFL_MAX_RANK 8

/* TensorType (schema.fbs enum TensorType : byte) */
enum
{
	TFL_FLOAT32 = 0, TFL_FLOAT16 = 1, TFL_INT32 = 2, TFL_UINT8 = 3,
	TFL_INT64 = 4, TFL_STRING = 5, TFL_BOOL = 6, TFL_INT16 = 7,
	TFL_COMPLEX64 = 8, TFL_INT8 = 9
};

/* BuiltinOperator values we know by name (schema.fbs enum BuiltinOperator) */
enum
{
	TFL_OP_ADD = 0, TFL_OP_AVERAGE_POOL_2D = 1, TFL_OP_CONCATENATION = 2,
	TFL_OP_CONV_2D = 3, TFL_OP_DEPTHWISE_CONV_2D = 4, TFL_OP_DEQUANTIZE = 6,
	TFL_OP_FULLY_CONNECTED = 9, TFL_OP_LOGISTIC = 14, TFL_OP_MAX_POOL_2D = 17,
	TFL_OP_MUL = 18, TFL_OP_RELU = 19, TFL_OP_RELU6 = 21, TFL_OP_RESHAPE = 22,
	TFL_OP_SOFTMAX = 25, TFL_OP_PAD = 34, TFL_OP_MEAN = 40, TFL_OP_SQUEEZE = 43,
	TFL_OP_QUANTIZE = 114, TFL_OP_HARD_SWISH = 117
};

/* ActivationFunctionType (schema.fbs) */
enum
{
	TFL_ACT_NONE = 0, TFL_ACT_RELU = 1, TFL_ACT_RELU_N1_TO_1 = 2,
	TFL_ACT_RELU6 = 3, TFL_ACT_TANH = 4, TFL_ACT_SIGN_BIT = 5
};

/* Padding (schema.fbs enum Padding : byte) */
enum
{
	TFL_PAD_SAME = 0, TFL_PAD_VALID = 1
};

typedef struct tfl_tensor
{
	int			rank;
	int32_t		dims[TFL_MAX_RANK];	/* each >= 1 */
	size_t		count;			/* product of dims */
	int			type;			/* TFL_FLOAT32, ... */
	const uint8_t *data;		/* constant bytes, NULL for activations */
	size_t		data_len;		/* == count * element size when data != NULL */
	const char *name;			/* not NUL-terminated; may be NULL */
	int			name_len;
	/* quantization: nquant == 0 (none), 1 (per tensor) or dims[qdim] */
	int			nquant;
	int			qdim;
	fb_vector	scale;			/* float, nquant entries */
	fb_vector	zero_point;		/* int64, nquant entries, or absent (all 0) */
} tfl_tensor;

/* Builtin options of the operators we run, defaults filled in. */
typedef struct tfl_options
{
	int			padding;
	int			stride_w, stride_h;
	int			dilation_w, dilation_h;
	int			filter_w, filter_h;
	int			depth_multiplier;
	int			activation;
	float		beta;			/* SoftmaxOptions.beta */
	int			axis;			/* ConcatenationOptions.axis */
	bool		keep_dims;		/* ReducerOptions.keep_dims */
	int			nsqueeze;		/* SqueezeOptions.squeeze_dims */
	int			squeeze_dims[TFL_MAX_RANK];
	int			weights_format; /* FullyConnectedOptions.weights_format */
	bool		fc_keep_num_dims;	/* FullyConnectedOptions.keep_num_dims */
	int			nnew_shape;		/* ReshapeOptions.new_shape, -1 when absent */
	int32_t		new_shape[TFL_MAX_RANK];
} tfl_options;

typedef struct tfl_op
{
	int			code;			/* BuiltinOperator */
	int			ninputs;
	int			noutputs;
	const int32_t *inputs;		/* into tfl_model.indices */
	const int32_t *outputs;
	tfl_options opt;
	/*
	 * CV_OK, or why the operator cannot be read (a custom code, options we
	 * do not take) when tfl_parse was asked to defer such errors: then
	 * code, inputs and outputs are valid but opt is not, and tfl_op_error
	 * gives the message.
	 */
	cv_status	bad;
	fb_table	table;			/* the Operator table, to re-read for messages */
	uint32_t	code_index;
} tfl_op;

typedef struct tfl_model
{
	fb_buf		buf;			/* the file; tensors' vectors point to it */
	int			ntensors;
	tfl_tensor *tensors;
	int			nops;
	tfl_op	   *ops;
	int			ninputs;
	const int32_t *inputs;
	int			noutputs;
	const int32_t *outputs;
	int32_t    *indices;		/* all operator/subgraph tensor indices */
	fb_vector	codes;			/* Model.operator_codes, for tfl_op_error */
} tfl_model;

/* Caps that bound load time and memory on hostile files (CV_ERR_LIMIT). */
#define TFL_MAX_TENSORS 100000
#define TFL_MAX_OPS 10000
#define TFL_MAX_ELEMENTS ((size_t) 1 << 28)

/*
 * defer_op_errors: an operator whose code or options we cannot read does
 * not fail the parse but is marked (tfl_op.bad), for callers that may never
 * run it (a net cut before it).  Malformed indices still fail.
 */
cv_status	tfl_parse(const uint8_t *data, size_t len, bool defer_op_errors,
					  tfl_model *model, cv_error *err);
void		tfl_model_free(tfl_model *model);
/* The error of an operator marked bad (its status, message in err). */
cv_status	tfl_op_error(const tfl_model *model, int op, cv_error *err);

/* "CONV_2D", ... or "UNKNOWN" for codes we have no name for. */
const char *tfl_op_name(int code);
const char *tfl_type_name(int type);
size_t		tfl_type_size(int type);	/* 0 for types we never read */

#endif							/* CV_NN_TFLITE_H */
