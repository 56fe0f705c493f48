/*
 * onnx_encode.c
 *	  The encoding half of the ONNX writer of onnx_proto.h: the graph that
 *	  onnx_proto.c recorded, as protocol-buffer bytes in one exact-size
 *	  buffer (onnx_serialize).
 *
 * Apart from the recording because it is a different job: onnx_proto.c
 * checks and copies what the caller adds; this file only walks the
 * records and knows the wire format and onnx.proto's field numbers.
 *
 * Protobuf wire format: each field is a tag, the varint
 * (field_number << 3 | wire_type), then its value.  Wire type 0 is a varint
 * (int64, int32 and enum fields; negative values sign-extended to ten
 * bytes), 2 a varint length then that many bytes (strings, bytes, nested
 * messages), 5 four little-endian bytes (float).
 *
 * Field numbers and types, from the public onnx/onnx.proto
 * (github.com/onnx/onnx, file onnx/onnx.proto; these numbers have not
 * changed since IR version 3):
 *	 ModelProto: ir_version 1 (int64), producer_name 2, producer_version 3,
 *		graph 7 (GraphProto), opset_import 8 (repeated OperatorSetIdProto),
 *		metadata_props 14 (repeated StringStringEntryProto)
 *	 OperatorSetIdProto: domain 1 (string), version 2 (int64)
 *	 StringStringEntryProto: key 1, value 2 (strings)
 *	 GraphProto: node 1 (repeated NodeProto), name 2, initializer 5
 *		(repeated TensorProto), input 11, output 12 (repeated ValueInfoProto)
 *	 NodeProto: input 1, output 2 (repeated string), name 3, op_type 4,
 *		attribute 5 (repeated AttributeProto)
 *	 AttributeProto: name 1, f 2 (float), i 3 (int64), s 4 (bytes),
 *		ints 8 (repeated int64), type 20 (enum AttributeType: FLOAT = 1,
 *		INT = 2, STRING = 3, INTS = 7)
 *	 TensorProto: dims 1 (repeated int64), data_type 2 (int32, enum
 *		DataType), name 8, raw_data 9 (bytes, fixed-width little-endian)
 *	 ValueInfoProto: name 1, type 2 (TypeProto)
 *	 TypeProto: tensor_type 1 (TypeProto.Tensor)
 *	 TypeProto.Tensor: elem_type 1 (int32), shape 2 (TensorShapeProto)
 *	 TensorShapeProto: dim 1 (repeated Dimension); Dimension: dim_value 1
 *
 * Encoding choices:
 * - Each message's fields go out in ascending field number, as protobuf's
 *	 generated serializers do, so the bytes are those onnx.save would write
 *	 for the same model (handy when comparing files by hand).
 * - Repeated int64 (TensorProto.dims, AttributeProto.ints) is unpacked, one
 *	 tag per element: onnx.proto is proto2 and declares them without
 *	 [packed = true], so unpacked is their canonical form.  Parsers accept
 *	 either; the arrays are short, so the extra tag bytes do not matter.
 * - proto2 has field presence, so every field we hold is written even when
 *	 zero or empty (opset domain "", an attribute i = 0, an empty input name
 *	 meaning "optional input left out").
 *
 * Serialization never builds sub-buffers: every message has one emit
 * function that runs either counting bytes or writing them.  A nested
 * message's length prefix comes from running its emit function in counting
 * mode first (put_message), so a message at depth d is counted d times:
 * linear in the model with a factor of at most seven, the depth of a
 * dim_value.  raw_data is counted in O(1) and copied exactly once, into
 * the output buffer whose size the counting pass fixed, so a backbone of
 * megabytes of weights costs one memcpy.
 */
#include "onnx_proto_internal.h"

#include <stdio.h>
#include <string.h>

/* protobuf wire types */
#define WIRE_VARINT 0
#define WIRE_LEN	2
#define WIRE_I32	5

/* ---- encoding ---- */

typedef struct pb_writer
{
	uint8_t    *buf;			/* NULL while counting */
	uint64_t	pos;
} pb_writer;

/* Writes (or counts) one message's fields; msg is that message's record. */
typedef void (*emit_fn) (pb_writer *w, const void *msg);

static void
put_bytes(pb_writer *w, const void *src, size_t n)
{
	if (w->buf != NULL && n > 0)
		memcpy(w->buf + w->pos, src, n);
	w->pos += n;
}

static void
put_varint(pb_writer *w, uint64_t v)
{
	uint8_t		b[10];
	int			n = 0;

	do
	{
		b[n] = (uint8_t) (v & 0x7F);
		v >>= 7;
		if (v != 0)
			b[n] |= 0x80;
		n++;
	} while (v != 0);
	put_bytes(w, b, (size_t) n);
}

static void
put_tag(pb_writer *w, int field, int wire_type)
{
	put_varint(w, ((uint64_t) field << 3) | (uint64_t) wire_type);
}

/* int64, int32 and enum fields: negative values become ten-byte varints. */
static void
put_int(pb_writer *w, int field, int64_t v)
{
	put_tag(w, field, WIRE_VARINT);
	put_varint(w, (uint64_t) v);
}

static void
put_len_bytes(pb_writer *w, int field, const void *p, size_t n)
{
	put_tag(w, field, WIRE_LEN);
	put_varint(w, n);
	put_bytes(w, p, n);
}

static void
put_string(pb_writer *w, int field, const char *s)
{
	put_len_bytes(w, field, s, strlen(s));
}

static void
put_float(pb_writer *w, int field, float f)
{
	uint32_t	u;
	uint8_t		b[4];

	memcpy(&u, &f, 4);
	b[0] = (uint8_t) u;
	b[1] = (uint8_t) (u >> 8);
	b[2] = (uint8_t) (u >> 16);
	b[3] = (uint8_t) (u >> 24);
	put_tag(w, field, WIRE_I32);
	put_bytes(w, b, 4);
}

/*
 * A nested message: its length (from a counting run of emit), then its
 * bytes.  While counting, the second run is skipped.
 */
static void
put_message(pb_writer *w, int field, emit_fn emit, const void *msg)
{
	pb_writer	counter = {NULL, 0};

	emit(&counter, msg);
	put_tag(w, field, WIRE_LEN);
	put_varint(w, counter.pos);
	if (w->buf == NULL)
		w->pos += counter.pos;
	else
		emit(w, msg);
}

/* TensorShapeProto.Dimension; msg is one int64_t */
static void
emit_dim(pb_writer *w, const void *msg)
{
	put_int(w, 1, *(const int64_t *) msg);	/* dim_value */
}

/* TensorShapeProto of a value_rec */
static void
emit_shape(pb_writer *w, const void *msg)
{
	const value_rec *v = msg;

	for (int i = 0; i < v->rank; i++)
		put_message(w, 1, emit_dim, &v->dims[i]);	/* dim */
}

/* TypeProto.Tensor of a value_rec */
static void
emit_type_tensor(pb_writer *w, const void *msg)
{
	const value_rec *v = msg;

	put_int(w, 1, v->type);		/* elem_type */
	put_message(w, 2, emit_shape, v);	/* shape */
}

/* TypeProto of a value_rec */
static void
emit_type(pb_writer *w, const void *msg)
{
	put_message(w, 1, emit_type_tensor, msg);	/* tensor_type */
}

/* ValueInfoProto */
static void
emit_value_info(pb_writer *w, const void *msg)
{
	const value_rec *v = msg;

	put_string(w, 1, v->name);	/* name */
	put_message(w, 2, emit_type, v);	/* type */
}

/* TensorProto */
static void
emit_tensor(pb_writer *w, const void *msg)
{
	const tensor_rec *t = msg;

	for (int i = 0; i < t->rank; i++)
		put_int(w, 1, t->dims[i]);	/* dims, unpacked */
	put_int(w, 2, t->type);		/* data_type */
	put_string(w, 8, t->name);	/* name */
	put_len_bytes(w, 9, t->raw, t->raw_len);	/* raw_data */
}

/* AttributeProto */
static void
emit_attr(pb_writer *w, const void *msg)
{
	const attr_rec *a = msg;

	put_string(w, 1, a->name);	/* name */
	switch (a->type)
	{
		case ATTR_FLOAT:
			put_float(w, 2, a->f);	/* f */
			break;
		case ATTR_INT:
			put_int(w, 3, a->i);	/* i */
			break;
		case ATTR_STRING:
			put_string(w, 4, a->s); /* s */
			break;
		case ATTR_INTS:
			for (int i = 0; i < a->n_ints; i++)
				put_int(w, 8, a->ints[i]);	/* ints, unpacked */
			break;
	}
	put_int(w, 20, a->type);	/* type */
}

/* NodeProto */
static void
emit_node(pb_writer *w, const void *msg)
{
	const node_rec *n = msg;
	char		name[16];

	for (int i = 0; i < n->n_inputs; i++)
		put_string(w, 1, n->inputs[i]); /* input */
	for (int i = 0; i < n->n_outputs; i++)
		put_string(w, 2, n->outputs[i]);	/* output */
	snprintf(name, sizeof(name), "n%d", n->index);
	put_string(w, 3, name);		/* name */
	put_string(w, 4, n->op_type);	/* op_type */
	for (int i = 0; i < n->n_attrs; i++)
		put_message(w, 5, emit_attr, &n->attrs[i]);	/* attribute */
}

/* GraphProto */
static void
emit_graph(pb_writer *w, const void *msg)
{
	const onnx_graph *g = msg;

	for (int i = 0; i < g->n_nodes; i++)
		put_message(w, 1, emit_node, &g->nodes[i]); /* node */
	put_string(w, 2, g->name);	/* name */
	for (int i = 0; i < g->n_inits; i++)
		put_message(w, 5, emit_tensor, &g->inits[i]);	/* initializer */
	for (int i = 0; i < g->n_inputs; i++)
		put_message(w, 11, emit_value_info, &g->inputs[i]); /* input */
	for (int i = 0; i < g->n_outputs; i++)
		put_message(w, 12, emit_value_info, &g->outputs[i]);	/* output */
}

/* StringStringEntryProto */
static void
emit_entry(pb_writer *w, const void *msg)
{
	const entry_rec *e = msg;

	put_string(w, 1, e->key);	/* key */
	put_string(w, 2, e->value); /* value */
}

typedef struct model_rec
{
	const onnx_graph *graph;
	int64_t		opset;
	const char *producer_name;
	const char *producer_version;
} model_rec;

/* OperatorSetIdProto of the default domain */
static void
emit_opset(pb_writer *w, const void *msg)
{
	const model_rec *m = msg;

	put_string(w, 1, "");		/* domain: "" is ai.onnx */
	put_int(w, 2, m->opset);	/* version */
}

/* ModelProto */
static void
emit_model(pb_writer *w, const void *msg)
{
	const model_rec *m = msg;
	const onnx_graph *g = m->graph;

	put_int(w, 1, ONNX_IR_VERSION); /* ir_version */
	put_string(w, 2, m->producer_name); /* producer_name */
	put_string(w, 3, m->producer_version);	/* producer_version */
	put_message(w, 7, emit_graph, g);	/* graph */
	put_message(w, 8, emit_opset, m);	/* opset_import */
	for (int i = 0; i < g->n_meta; i++)
		put_message(w, 14, emit_entry, &g->meta[i]);	/* metadata_props */
}

cv_status
onnx_serialize(const onnx_graph *g, int64_t opset, const char *producer_name,
			   const char *producer_version, uint8_t **out, size_t *len,
			   cv_error *err)
{
	model_rec	m = {g, opset, producer_name, producer_version};
	pb_writer	counter = {NULL, 0};
	pb_writer	w;

	if (out == NULL || len == NULL)
		return cv_fail(err, CV_ERR_PARAM, "onnx_serialize needs out and len");
	*out = NULL;
	*len = 0;
	if (g == NULL)
		return cv_fail(err, CV_ERR_NOMEM, "out of memory creating the onnx graph");
	if (g->failure != CV_OK)
		return cv_fail(err, g->failure, "%s", g->message);
	if (opset < 1)
		return cv_fail(err, CV_ERR_PARAM, "onnx opset %lld, expected >= 1",
					   (long long) opset);
	if (producer_name == NULL || producer_version == NULL)
		return cv_fail(err, CV_ERR_PARAM, "onnx producer name or version is NULL");
	if (g->n_inputs == 0 || g->n_outputs == 0)
		return cv_fail(err, CV_ERR_PARAM, "onnx graph \"%s\" has no %s", g->name,
					   g->n_inputs == 0 ? "inputs" : "outputs");

	emit_model(&counter, &m);
	if (counter.pos > ONNX_MAX_MODEL_BYTES)
		return cv_fail(err, CV_ERR_LIMIT,
					   "onnx model of %llu bytes exceeds protobuf's 2 GiB",
					   (unsigned long long) counter.pos);
	w.buf = cv_malloc((size_t) counter.pos);
	w.pos = 0;
	if (w.buf == NULL)
		return cv_fail(err, CV_ERR_NOMEM, "out of memory for an onnx model of %llu bytes",
					   (unsigned long long) counter.pos);
	emit_model(&w, &m);
	if (w.pos != counter.pos)
	{
		cv_free(w.buf);
		return cv_fail(err, CV_ERR_INTERNAL, "onnx model wrote %llu bytes, counted %llu",
					   (unsigned long long) w.pos, (unsigned long long) counter.pos);
	}
	*out = w.buf;
	*len = (size_t) w.pos;
	return CV_OK;
}
