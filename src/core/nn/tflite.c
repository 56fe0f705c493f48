/*
 * tflite.c
 *	  Walk of the TFLite schema (tensorflow/lite/schema/schema.fbs) over the
 *	  bounds-checked flatbuffer primitives: model, subgraph 0, tensors,
 *	  buffers, quantization, operators and the builtin options we use.
 *
 * Field ids are cited as "Table.field (id)"; a union occupies two ids (its
 * _type byte, then the table offset), which is why Operator.builtin_options
 * is id 4.  Only subgraph 0 (the main model, by the schema's convention) is
 * read.  See tflite.h for what a successful parse guarantees.
 */
#include "tflite.h"

#include <math.h>
#include <string.h>

/* BuiltinOptions union members (schema.fbs union BuiltinOptions; NONE = 0) */
enum
{
	OPT_CONV2D = 1, OPT_DEPTHWISE = 2, OPT_POOL2D = 5, OPT_FULLY_CONNECTED = 8,
	OPT_SOFTMAX = 9, OPT_CONCATENATION = 10, OPT_ADD = 11, OPT_RESHAPE = 17,
	OPT_MUL = 21, OPT_REDUCER = 27, OPT_SQUEEZE = 30
};

/* Builtin operator names, by code, for messages (schema.fbs order). */
static const char *const op_names[] = {
	"ADD", "AVERAGE_POOL_2D", "CONCATENATION", "CONV_2D", "DEPTHWISE_CONV_2D",
	"DEPTH_TO_SPACE", "DEQUANTIZE", "EMBEDDING_LOOKUP", "FLOOR", "FULLY_CONNECTED",
	"HASHTABLE_LOOKUP", "L2_NORMALIZATION", "L2_POOL_2D",
	"LOCAL_RESPONSE_NORMALIZATION", "LOGISTIC", "LSH_PROJECTION", "LSTM",
	"MAX_POOL_2D", "MUL", "RELU", "RELU_N1_TO_1", "RELU6", "RESHAPE",
	"RESIZE_BILINEAR", "RNN", "SOFTMAX", "SPACE_TO_DEPTH", "SVDF", "TANH",
	"CONCAT_EMBEDDINGS", "SKIP_GRAM", "CALL", "CUSTOM", "EMBEDDING_LOOKUP_SPARSE",
	"PAD", "UNIDIRECTIONAL_SEQUENCE_RNN", "GATHER", "BATCH_TO_SPACE_ND",
	"SPACE_TO_BATCH_ND", "TRANSPOSE", "MEAN", "SUB", "DIV", "SQUEEZE",
	"UNIDIRECTIONAL_SEQUENCE_LSTM", "STRIDED_SLICE", "BIDIRECTIONAL_SEQUENCE_RNN",
	"EXP", "TOPK_V2", "SPLIT", "LOG_SOFTMAX", "DELEGATE",
	"BIDIRECTIONAL_SEQUENCE_LSTM", "CAST", "PRELU", "MAXIMUM", "ARG_MAX",
	"MINIMUM", "LESS", "NEG", "PADV2", "GREATER", "GREATER_EQUAL", "LESS_EQUAL",
	"SELECT", "SLICE", "SIN", "TRANSPOSE_CONV", "SPARSE_TO_DENSE", "TILE",
	"EXPAND_DIMS", "EQUAL", "NOT_EQUAL", "LOG", "SUM", "SQRT", "RSQRT", "SHAPE",
	"POW", "ARG_MIN", "FAKE_QUANT", "REDUCE_PROD", "REDUCE_MAX", "PACK",
	"LOGICAL_OR", "ONE_HOT", "LOGICAL_AND", "LOGICAL_NOT", "UNPACK", "REDUCE_MIN",
	"FLOOR_DIV", "REDUCE_ANY", "SQUARE", "ZEROS_LIKE", "FILL", "FLOOR_MOD",
	"RANGE", "RESIZE_NEAREST_NEIGHBOR", "LEAKY_RELU", "SQUARED_DIFFERENCE",
	"MIRROR_PAD", "ABS", "SPLIT_V", "UNIQUE", "CEIL", "REVERSE_V2", "ADD_N",
	"GATHER_ND", "COS", "WHERE", "RANK", "ELU", "REVERSE_SEQUENCE", "MATRIX_DIAG",
	"QUANTIZE", "MATRIX_SET_DIAG", "ROUND", "HARD_SWISH", "IF", "WHILE",
	"NON_MAX_SUPPRESSION_V4", "NON_MAX_SUPPRESSION_V5", "SCATTER_ND", "SELECT_V2",
	"DENSIFY", "SEGMENT_SUM", "BATCH_MATMUL", "PLACEHOLDER_FOR_GREATER_OP_CODES",
	"CUMSUM", "CALL_ONCE", "BROADCAST_TO", "RFFT2D", "CONV_3D", "IMAG", "REAL",
	"COMPLEX_ABS", "HASHTABLE", "HASHTABLE_FIND", "HASHTABLE_IMPORT",
	"HASHTABLE_SIZE", "REDUCE_ALL", "CONV_3D_TRANSPOSE", "VAR_HANDLE",
	"READ_VARIABLE", "ASSIGN_VARIABLE", "BROADCAST_ARGS", "RANDOM_STANDARD_NORMAL",
	"BUCKETIZE", "RANDOM_UNIFORM", "MULTINOMIAL", "GELU", "DYNAMIC_UPDATE_SLICE",
	"RELU_0_TO_1", "UNSORTED_SEGMENT_PROD", "UNSORTED_SEGMENT_MAX",
	"UNSORTED_SEGMENT_SUM", "ATAN2", "UNSORTED_SEGMENT_MIN", "SIGN"
};

const char *
tfl_op_name(int code)
{
	if (code >= 0 && code < (int) (sizeof(op_names) / sizeof(op_names[0])))
		return op_names[code];
	return "UNKNOWN";
}

const char *
tfl_type_name(int type)
{
	static const char *const names[] = {"float32", "float16", "int32", "uint8",
		"int64", "string", "bool", "int16", "complex64", "int8"};

	if (type >= 0 && type < (int) (sizeof(names) / sizeof(names[0])))
		return names[type];
	return "unknown";
}

size_t
tfl_type_size(int type)
{
	switch (type)
	{
		case TFL_FLOAT32:
		case TFL_INT32:
			return 4;
		case TFL_FLOAT16:
		case TFL_INT16:
			return 2;
		case TFL_UINT8:
		case TFL_INT8:
		case TFL_BOOL:
			return 1;
		case TFL_INT64:
			return 8;
		default:
			return 0;
	}
}

void
tfl_model_free(tfl_model *model)
{
	cv_free(model->tensors);
	cv_free(model->ops);
	cv_free(model->indices);
	memset(model, 0, sizeof(*model));
}

/*
 * Buffer (schema.fbs): data:[ubyte] (0); offset:ulong (1) and size:ulong (2)
 * locate the data outside the flatbuffer in files over 2 GB, relative to the
 * start of the file (offset <= 1 means unused).
 */
static cv_status
read_buffer(const fb_buf *buf, const fb_table *bt, const uint8_t **data,
			size_t *len, cv_error *err)
{
	fb_vector	v;
	uint64_t	offset,
				size;
	cv_status	st;

	*data = NULL;
	*len = 0;
	if ((st = fb_get_vector(bt, 0, 1, &v, "buffer data", err)) != CV_OK ||
		(st = fb_get_u64(bt, 1, 0, &offset, "buffer offset", err)) != CV_OK ||
		(st = fb_get_u64(bt, 2, 0, &size, "buffer size", err)) != CV_OK)
		return st;
	if (v.present && v.count > 0)
	{
		*data = fb_vector_bytes(&v);
		*len = v.count;
	}
	else if (offset > 1 && size > 0)
	{
		if (offset > buf->len || size > buf->len - offset)
			return cv_fail(err, CV_ERR_CORRUPT,
						   "tflite file is corrupt: external buffer lies outside the file");
		*data = buf->data + offset;
		*len = (size_t) size;
	}
	return CV_OK;
}

/*
 * Tensor (schema.fbs): shape:[int] (0), type:TensorType (1), buffer:uint (2),
 * name:string (3), quantization:QuantizationParameters (4), is_variable (5),
 * sparsity:SparsityParameters (6).
 * QuantizationParameters: min (0), max (1), scale:[float] (2),
 * zero_point:[long] (3), details_type (4), details (5),
 * quantized_dimension:int (6).
 */
static cv_status
read_tensor(const fb_buf *buf, const fb_table *tt, int index, const fb_vector *buffers,
			tfl_tensor *t, cv_error *err)
{
	fb_vector	shape;
	fb_table	q,
				sparsity,
				bt;
	int8_t		type;
	uint32_t	bufidx;
	uint8_t		details_type;
	int32_t		qdim;
	size_t		nlen;
	cv_status	st;

	memset(t, 0, sizeof(*t));
	if ((st = fb_get_vector(tt, 0, 4, &shape, "tensor shape", err)) != CV_OK ||
		(st = fb_get_i8(tt, 1, 0, &type, "tensor type", err)) != CV_OK ||
		(st = fb_get_u32(tt, 2, 0, &bufidx, "tensor buffer", err)) != CV_OK ||
		(st = fb_get_string(tt, 3, &t->name, &nlen, "tensor name", err)) != CV_OK ||
		(st = fb_get_table(tt, 4, &q, "tensor quantization", err)) != CV_OK ||
		(st = fb_get_table(tt, 6, &sparsity, "tensor sparsity", err)) != CV_OK)
		return st;
	t->name_len = nlen > 200 ? 200 : (int) nlen;
	t->type = type;
	if (sparsity.present)
		return cv_fail(err, CV_ERR_UNSUPPORTED,
					   "tflite tensor %d is sparse, which is not supported", index);
	if (shape.count > TFL_MAX_RANK)
		return cv_fail(err, CV_ERR_UNSUPPORTED,
					   "tflite tensor %d has rank %u, more than %d", index,
					   shape.count, TFL_MAX_RANK);
	t->rank = (int) shape.count;
	t->count = 1;
	for (int d = 0; d < t->rank; d++)
	{
		int32_t		n = fb_vector_i32(&shape, (uint32_t) d);

		if (n < 1)
			return cv_fail(err, CV_ERR_UNSUPPORTED,
						   "tflite tensor %d has dimension %d of size %d", index, d, n);
		t->dims[d] = n;
		if ((size_t) n > TFL_MAX_ELEMENTS || t->count * (size_t) n > TFL_MAX_ELEMENTS)
			return cv_fail(err, CV_ERR_LIMIT,
						   "tflite tensor %d has more than %zu elements", index,
						   TFL_MAX_ELEMENTS);
		t->count *= (size_t) n;
	}

	/* buffer 0 is the schema's empty sentinel */
	if (bufidx >= buffers->count)
		return cv_fail(err, CV_ERR_CORRUPT,
					   "tflite file is corrupt: tensor %d refers to buffer %u of %u",
					   index, bufidx, buffers->count);
	if ((st = fb_vector_table(buffers, bufidx, &bt, "buffer", err)) != CV_OK ||
		(st = read_buffer(buf, &bt, &t->data, &t->data_len, err)) != CV_OK)
		return st;
	if (t->data != NULL && tfl_type_size(t->type) != 0 &&
		t->data_len != t->count * tfl_type_size(t->type))
		return cv_fail(err, CV_ERR_CORRUPT,
					   "tflite file is corrupt: tensor %d holds %zu bytes, its shape needs %zu",
					   index, t->data_len, t->count * tfl_type_size(t->type));

	if (q.present)
	{
		if ((st = fb_get_vector(&q, 2, 4, &t->scale, "quantization scale", err)) != CV_OK ||
			(st = fb_get_vector(&q, 3, 8, &t->zero_point, "quantization zero point", err)) != CV_OK ||
			(st = fb_get_u8(&q, 4, 0, &details_type, "quantization details", err)) != CV_OK ||
			(st = fb_get_i32(&q, 6, 0, &qdim, "quantized dimension", err)) != CV_OK)
			return st;
		if (details_type != 0)
			return cv_fail(err, CV_ERR_UNSUPPORTED,
						   "tflite tensor %d uses custom quantization", index);
		t->nquant = (int) (t->scale.count > INT32_MAX ? INT32_MAX : t->scale.count);
		t->qdim = qdim;
		if (t->zero_point.count != 0 && t->zero_point.count != t->scale.count)
			return cv_fail(err, CV_ERR_CORRUPT,
						   "tflite file is corrupt: tensor %d has %u scales and %u zero points",
						   index, t->scale.count, t->zero_point.count);
		if (t->nquant > 1 &&
			(qdim < 0 || qdim >= t->rank || t->dims[qdim] != t->nquant))
			return cv_fail(err, CV_ERR_CORRUPT,
						   "tflite file is corrupt: tensor %d has %d scales along dimension %d",
						   index, t->nquant, qdim);
	}
	return CV_OK;
}

/* Read an [int] vector of tensor indices into idx; -1 allowed if optional. */
static cv_status
read_indices(const fb_vector *v, int ntensors, bool allow_missing, int32_t *idx,
			 const char *what, cv_error *err)
{
	for (uint32_t i = 0; i < v->count; i++)
	{
		int32_t		k = fb_vector_i32(v, i);

		if (k < -1 || k >= ntensors || (k == -1 && !allow_missing))
			return cv_fail(err, CV_ERR_CORRUPT,
						   "tflite file is corrupt: %s refers to tensor %d of %d",
						   what, k, ntensors);
		idx[i] = k;
	}
	return CV_OK;
}

static cv_status
check_activation(int act, const char *opname, cv_error *err)
{
	if (act == TFL_ACT_NONE || act == TFL_ACT_RELU || act == TFL_ACT_RELU6 ||
		act == TFL_ACT_RELU_N1_TO_1)
		return CV_OK;
	return cv_fail(err, CV_ERR_UNSUPPORTED,
				   "tflite fused activation %d of %s is not supported", act, opname);
}

/*
 * The builtin options of one operator (Operator.builtin_options_type (3) and
 * builtin_options (4)), with the schema's defaults where absent.
 */
static cv_status
read_options(const fb_table *ot, int code, tfl_options *o, cv_error *err)
{
	uint8_t		otype;
	fb_table	t;
	int8_t		b;
	int32_t		v;
	uint8_t		u;
	int			want = 0;
	cv_status	st;
	const char *name = tfl_op_name(code);

	memset(o, 0, sizeof(*o));
	o->nnew_shape = -1;
	o->dilation_w = o->dilation_h = 1;
	o->depth_multiplier = 1;
	o->beta = 1.0f;
	if ((st = fb_get_u8(ot, 3, 0, &otype, "operator options type", err)) != CV_OK ||
		(st = fb_get_table(ot, 4, &t, "operator options", err)) != CV_OK)
		return st;

	switch (code)
	{
		case TFL_OP_CONV_2D:
			want = OPT_CONV2D;
			break;
		case TFL_OP_DEPTHWISE_CONV_2D:
			want = OPT_DEPTHWISE;
			break;
		case TFL_OP_AVERAGE_POOL_2D:
		case TFL_OP_MAX_POOL_2D:
			want = OPT_POOL2D;
			break;
		case TFL_OP_FULLY_CONNECTED:
			want = OPT_FULLY_CONNECTED;
			break;
		case TFL_OP_SOFTMAX:
			want = OPT_SOFTMAX;
			break;
		case TFL_OP_CONCATENATION:
			want = OPT_CONCATENATION;
			break;
		case TFL_OP_ADD:
			want = OPT_ADD;
			break;
		case TFL_OP_MUL:
			want = OPT_MUL;
			break;
		case TFL_OP_MEAN:
			want = OPT_REDUCER;
			break;
		case TFL_OP_SQUEEZE:
			want = OPT_SQUEEZE;
			break;
		case TFL_OP_RESHAPE:
			{
				/*
				 * ReshapeOptions: new_shape:[int] (0).  Only a fallback for
				 * the shape input and the output tensor's shape (build_ops.c),
				 * so a file whose options we cannot read loads as before.
				 */
				fb_vector	ns;

				if (otype == OPT_RESHAPE && t.present &&
					fb_get_vector(&t, 0, 4, &ns, name, NULL) == CV_OK &&
					ns.present && ns.count <= TFL_MAX_RANK)
				{
					o->nnew_shape = (int) ns.count;
					for (uint32_t i = 0; i < ns.count; i++)
						o->new_shape[i] = fb_vector_i32(&ns, i);
				}
				return CV_OK;
			}
		default:
			return CV_OK;
	}
	if (!t.present)
		otype = (uint8_t) want;		/* all defaults */
	if (otype != want)
		return cv_fail(err, CV_ERR_CORRUPT,
					   "tflite file is corrupt: %s has options of type %d", name, otype);

#define GET_I8(field, dst, def) \
	do { if ((st = fb_get_i8(&t, field, def, &b, name, err)) != CV_OK) return st; (dst) = b; } while (0)
#define GET_I32(field, dst, def) \
	do { if ((st = fb_get_i32(&t, field, def, &v, name, err)) != CV_OK) return st; (dst) = v; } while (0)

	switch (want)
	{
		case OPT_CONV2D:
			/* Conv2DOptions: padding (0), stride_w (1), stride_h (2),
			 * fused_activation_function (3), dilation_w_factor (4) = 1,
			 * dilation_h_factor (5) = 1 */
			GET_I8(0, o->padding, 0);
			GET_I32(1, o->stride_w, 0);
			GET_I32(2, o->stride_h, 0);
			GET_I8(3, o->activation, 0);
			GET_I32(4, o->dilation_w, 1);
			GET_I32(5, o->dilation_h, 1);
			break;
		case OPT_DEPTHWISE:
			/* DepthwiseConv2DOptions: padding (0), stride_w (1), stride_h (2),
			 * depth_multiplier (3), fused_activation_function (4),
			 * dilation_w_factor (5) = 1, dilation_h_factor (6) = 1 */
			GET_I8(0, o->padding, 0);
			GET_I32(1, o->stride_w, 0);
			GET_I32(2, o->stride_h, 0);
			GET_I32(3, o->depth_multiplier, 0);
			GET_I8(4, o->activation, 0);
			GET_I32(5, o->dilation_w, 1);
			GET_I32(6, o->dilation_h, 1);
			break;
		case OPT_POOL2D:
			/* Pool2DOptions: padding (0), stride_w (1), stride_h (2),
			 * filter_width (3), filter_height (4), fused_activation_function (5) */
			GET_I8(0, o->padding, 0);
			GET_I32(1, o->stride_w, 0);
			GET_I32(2, o->stride_h, 0);
			GET_I32(3, o->filter_w, 0);
			GET_I32(4, o->filter_h, 0);
			GET_I8(5, o->activation, 0);
			break;
		case OPT_FULLY_CONNECTED:
			/* FullyConnectedOptions: fused_activation_function (0),
			 * weights_format (1), keep_num_dims (2) */
			GET_I8(0, o->activation, 0);
			GET_I8(1, o->weights_format, 0);
			if ((st = fb_get_u8(&t, 2, 0, &u, name, err)) != CV_OK)
				return st;
			o->fc_keep_num_dims = u != 0;
			break;
		case OPT_SOFTMAX:
			/* SoftmaxOptions: beta (0) */
			if ((st = fb_get_f32(&t, 0, 0.0f, &o->beta, name, err)) != CV_OK)
				return st;
			break;
		case OPT_CONCATENATION:
			/* ConcatenationOptions: axis (0), fused_activation_function (1) */
			GET_I32(0, o->axis, 0);
			GET_I8(1, o->activation, 0);
			break;
		case OPT_ADD:
		case OPT_MUL:
			/* AddOptions / MulOptions: fused_activation_function (0) */
			GET_I8(0, o->activation, 0);
			break;
		case OPT_REDUCER:
			/* ReducerOptions: keep_dims (0) */
			if ((st = fb_get_u8(&t, 0, 0, &u, name, err)) != CV_OK)
				return st;
			o->keep_dims = u != 0;
			break;
		case OPT_SQUEEZE:
			{
				/* SqueezeOptions: squeeze_dims:[int] (0) */
				fb_vector	sd;

				if ((st = fb_get_vector(&t, 0, 4, &sd, name, err)) != CV_OK)
					return st;
				if (sd.count > TFL_MAX_RANK)
					return cv_fail(err, CV_ERR_CORRUPT,
								   "tflite file is corrupt: SQUEEZE has %u dimensions", sd.count);
				o->nsqueeze = (int) sd.count;
				for (uint32_t i = 0; i < sd.count; i++)
					o->squeeze_dims[i] = fb_vector_i32(&sd, i);
				break;
			}
	}
#undef GET_I8
#undef GET_I32
	return check_activation(o->activation, name, err);
}

/*
 * OperatorCode (schema.fbs): deprecated_builtin_code:byte (0),
 * custom_code:string (1), version:int (2), builtin_code:BuiltinOperator (3).
 * Newer writers fill both codes; older ones only the byte.  The operator is
 * the larger of the two, as the schema's compatibility note prescribes.
 */
static cv_status
read_opcode(const fb_table *ct, int *code, cv_error *err)
{
	int8_t		old;
	int32_t		now;
	const char *custom;
	size_t		clen;
	cv_status	st;

	if ((st = fb_get_i8(ct, 0, 0, &old, "operator code", err)) != CV_OK ||
		(st = fb_get_i32(ct, 3, 0, &now, "operator code", err)) != CV_OK ||
		(st = fb_get_string(ct, 1, &custom, &clen, "custom operator name", err)) != CV_OK)
		return st;
	*code = now > old ? now : old;
	if (*code == 32)			/* CUSTOM */
		return cv_fail(err, CV_ERR_UNSUPPORTED,
					   "tflite custom operator \"%.*s\" is not supported",
					   (int) (clen > 64 ? 64 : clen), custom ? custom : "");
	return CV_OK;
}

cv_status
tfl_op_error(const tfl_model *m, int i, cv_error *err)
{
	const tfl_op *op = &m->ops[i];
	fb_table	ct;
	tfl_options opt;
	int			code;
	cv_status	st;

	if ((st = fb_vector_table(&m->codes, op->code_index, &ct, "operator code", err)) != CV_OK ||
		(st = read_opcode(&ct, &code, err)) != CV_OK ||
		(st = read_options(&op->table, code, &opt, err)) != CV_OK)
		return st;
	return cv_fail(err, CV_ERR_INTERNAL, "tflite operator %d has no error to report", i);
}

cv_status
tfl_parse(const uint8_t *data, size_t len, bool defer_op_errors, tfl_model *m,
		  cv_error *err)
{
	fb_buf	   *buf = &m->buf;
	fb_table	root,
				sg;
	fb_vector	codes,
				subgraphs,
				buffers,
				tensors,
				ops,
				sg_in,
				sg_out;
	uint32_t	version;
	int		   *opcode = NULL;
	size_t		nidx;
	int32_t    *next;
	cv_status	st;

	memset(m, 0, sizeof(*m));
	if ((st = fb_open(data, len, "TFL3", buf, &root, err)) != CV_OK)
		return st;

	/* Model: version (0), operator_codes (1), subgraphs (2), buffers (4) */
	if ((st = fb_get_u32(&root, 0, 0, &version, "model version", err)) != CV_OK ||
		(st = fb_get_vector(&root, 1, 4, &codes, "operator codes", err)) != CV_OK ||
		(st = fb_get_vector(&root, 2, 4, &subgraphs, "subgraphs", err)) != CV_OK ||
		(st = fb_get_vector(&root, 4, 4, &buffers, "buffers", err)) != CV_OK)
		return st;
	if (version != 3)
		return cv_fail(err, CV_ERR_UNSUPPORTED,
					   "tflite schema version %u is not supported (expected 3)", version);
	if (subgraphs.count < 1)
		return cv_fail(err, CV_ERR_CORRUPT, "tflite file is corrupt: no subgraph");

	/* SubGraph: tensors (0), inputs (1), outputs (2), operators (3) */
	if ((st = fb_vector_table(&subgraphs, 0, &sg, "subgraph", err)) != CV_OK ||
		(st = fb_get_vector(&sg, 0, 4, &tensors, "tensors", err)) != CV_OK ||
		(st = fb_get_vector(&sg, 1, 4, &sg_in, "subgraph inputs", err)) != CV_OK ||
		(st = fb_get_vector(&sg, 2, 4, &sg_out, "subgraph outputs", err)) != CV_OK ||
		(st = fb_get_vector(&sg, 3, 4, &ops, "operators", err)) != CV_OK)
		return st;
	if (tensors.count > TFL_MAX_TENSORS)
		return cv_fail(err, CV_ERR_LIMIT, "tflite model has %u tensors, more than %d",
					   tensors.count, TFL_MAX_TENSORS);
	if (ops.count > TFL_MAX_OPS)
		return cv_fail(err, CV_ERR_LIMIT, "tflite model has %u operators, more than %d",
					   ops.count, TFL_MAX_OPS);
	if (ops.count == 0 || sg_in.count == 0 || sg_out.count == 0)
		return cv_fail(err, CV_ERR_CORRUPT,
					   "tflite file is corrupt: the subgraph has no operators, inputs or outputs");

	m->ntensors = (int) tensors.count;
	m->nops = (int) ops.count;
	m->tensors = cv_calloc(tensors.count, sizeof(tfl_tensor));
	m->ops = cv_calloc(ops.count, sizeof(tfl_op));
	opcode = cv_calloc(codes.count + 1, sizeof(int));
	if (m->tensors == NULL || m->ops == NULL || opcode == NULL)
	{
		st = cv_fail(err, CV_ERR_NOMEM, "out of memory reading a tflite model");
		goto fail;
	}

	for (uint32_t i = 0; i < codes.count; i++)
	{
		fb_table	ct;

		if ((st = fb_vector_table(&codes, i, &ct, "operator code", err)) != CV_OK)
			goto fail;
		/* a bad custom code only matters if an operator uses it: mark it */
		if (read_opcode(&ct, &opcode[i], NULL) != CV_OK)
			opcode[i] = -1;
	}

	for (int i = 0; i < m->ntensors; i++)
	{
		fb_table	tt;

		if ((st = fb_vector_table(&tensors, (uint32_t) i, &tt, "tensor", err)) != CV_OK ||
			(st = read_tensor(buf, &tt, i, &buffers, &m->tensors[i], err)) != CV_OK)
			goto fail;
	}

	/*
	 * Operator: opcode_index:uint (0), inputs:[int] (1), outputs:[int] (2),
	 * builtin_options_type (3), builtin_options (4).  First pass: count the
	 * indices so they fit in one allocation.
	 */
	nidx = (size_t) sg_in.count + sg_out.count;
	for (int i = 0; i < m->nops; i++)
	{
		fb_table	ot;
		fb_vector	vin,
					vout;

		if ((st = fb_vector_table(&ops, (uint32_t) i, &ot, "operator", err)) != CV_OK ||
			(st = fb_get_vector(&ot, 1, 4, &vin, "operator inputs", err)) != CV_OK ||
			(st = fb_get_vector(&ot, 2, 4, &vout, "operator outputs", err)) != CV_OK)
			goto fail;
		nidx += (size_t) vin.count + vout.count;
	}
	m->indices = cv_calloc(nidx + 1, sizeof(int32_t));
	if (m->indices == NULL)
	{
		st = cv_fail(err, CV_ERR_NOMEM, "out of memory reading a tflite model");
		goto fail;
	}
	next = m->indices;
	if ((st = read_indices(&sg_in, m->ntensors, false, next, "subgraph input", err)) != CV_OK)
		goto fail;
	m->inputs = next;
	m->ninputs = (int) sg_in.count;
	next += sg_in.count;
	if ((st = read_indices(&sg_out, m->ntensors, false, next, "subgraph output", err)) != CV_OK)
		goto fail;
	m->outputs = next;
	m->noutputs = (int) sg_out.count;
	next += sg_out.count;

	for (int i = 0; i < m->nops; i++)
	{
		fb_table	ot,
					ct;
		fb_vector	vin,
					vout;
		uint32_t	ci;
		tfl_op	   *op = &m->ops[i];

		if ((st = fb_vector_table(&ops, (uint32_t) i, &ot, "operator", err)) != CV_OK ||
			(st = fb_get_u32(&ot, 0, 0, &ci, "operator code index", err)) != CV_OK ||
			(st = fb_get_vector(&ot, 1, 4, &vin, "operator inputs", err)) != CV_OK ||
			(st = fb_get_vector(&ot, 2, 4, &vout, "operator outputs", err)) != CV_OK)
			goto fail;
		if (ci >= codes.count)
		{
			st = cv_fail(err, CV_ERR_CORRUPT,
						 "tflite file is corrupt: operator %d uses code %u of %u",
						 i, ci, codes.count);
			goto fail;
		}
		op->table = ot;
		op->code_index = ci;
		if (opcode[ci] < 0)
		{
			/* re-read to report the precise error (CUSTOM keeps its code) */
			op->code = -1;
			if ((st = fb_vector_table(&codes, ci, &ct, "operator code",
									  defer_op_errors ? NULL : err)) != CV_OK ||
				(st = read_opcode(&ct, &op->code, defer_op_errors ? NULL : err)) != CV_OK)
			{
				if (!defer_op_errors)
					goto fail;
				op->bad = st;
			}
		}
		else
			op->code = opcode[ci];
		if ((st = read_indices(&vin, m->ntensors, true, next, "operator input", err)) != CV_OK)
			goto fail;
		op->inputs = next;
		op->ninputs = (int) vin.count;
		next += vin.count;
		if ((st = read_indices(&vout, m->ntensors, false, next, "operator output", err)) != CV_OK)
			goto fail;
		op->outputs = next;
		op->noutputs = (int) vout.count;
		next += vout.count;
		if (op->bad == CV_OK &&
			(st = read_options(&ot, op->code, &op->opt, defer_op_errors ? NULL : err)) != CV_OK)
		{
			if (!defer_op_errors)
				goto fail;
			op->bad = st;
		}
	}
	m->codes = codes;
	cv_free(opcode);
	return CV_OK;

fail:
	cv_free(opcode);
	tfl_model_free(m);
	return st;
}
