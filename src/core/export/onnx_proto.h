/*
 * onnx_proto.h
 *	  A writer of ONNX model files: the protocol-buffer messages of
 *	  onnx.proto that a self-contained float inference model needs, built in
 *	  memory and serialized once (float, and the integer tensors of the
 *	  int8 engine's arithmetic).
 *
 * Messages written (field numbers and wire types from the public
 * onnx/onnx.proto, cited in onnx_encode.c): ModelProto (ir_version,
 * opset_import, producer_name, producer_version, graph, metadata_props),
 * GraphProto (node, name, initializer, input, output), NodeProto (input,
 * output, name, op_type, attribute), AttributeProto (INT, INTS, FLOAT,
 * STRING), TensorProto (dims, data_type, name, raw_data little-endian),
 * ValueInfoProto with a tensor TypeProto of fixed dims,
 * StringStringEntryProto, OperatorSetIdProto (the default domain).
 *
 * Usage: create a graph, add inputs, initializers, nodes (each node's
 * attributes right after it), outputs and metadata, then serialize.  Every
 * string and array is copied.  Allocation failures latch: after one, every
 * later call is a no-op and onnx_serialize reports CV_ERR_NOMEM, so callers
 * need not check each call.  Bad arguments latch the same way, as
 * CV_ERR_PARAM with a message naming the culprit: a NULL or empty name
 * (graph inputs, outputs, initializers, attributes, op_type, metadata
 * keys), a NULL node input or output name, a node without outputs, a rank
 * outside 0..ONNX_MAX_RANK, a negative dim, dims or data missing, an
 * attribute on a node that does not exist; a tensor over 2 GiB latches
 * CV_ERR_LIMIT.  The first failure is the one reported.  A NULL graph (from
 * a failed onnx_graph_create) is accepted everywhere and reported by
 * onnx_serialize as CV_ERR_NOMEM.
 *
 * Names are not checked for uniqueness (the exporter makes them unique); an
 * empty node input name is ONNX's "optional input left out".  Dims of 0 are
 * allowed.  Output is deterministic: same calls, same bytes (the bytes
 * protobuf's own serializer would give: fields in number order, repeated
 * int64 unpacked, see onnx_encode.c).
 */
#ifndef CV_EXPORT_ONNX_PROTO_H
#define CV_EXPORT_ONNX_PROTO_H

#include "../common/cv_common.h"

/* TensorProto.DataType values used here (onnx.proto). */
typedef enum onnx_elem_type
{
	ONNX_FLOAT = 1,
	ONNX_UINT8 = 2,
	ONNX_INT32 = 6,
	ONNX_INT64 = 7,
	ONNX_UINT64 = 13
} onnx_elem_type;

#define ONNX_IR_VERSION 8		/* ONNX 1.10+, what opset 13..17 files carry */
#define ONNX_MAX_RANK 8			/* larger ranks are refused (CV_ERR_PARAM) */

typedef struct onnx_graph onnx_graph;

/*
 * A new empty graph named name; NULL when out of memory.  A NULL name gives
 * a graph whose onnx_serialize fails with CV_ERR_PARAM.
 */
onnx_graph *onnx_graph_create(const char *name);
void		onnx_graph_free(onnx_graph *g);	/* accepts NULL */

/* Graph inputs and outputs: a tensor of elem_type with fixed dims. */
void		onnx_graph_input(onnx_graph *g, const char *name, onnx_elem_type type,
							 int rank, const int64_t *dims);
void		onnx_graph_output(onnx_graph *g, const char *name, onnx_elem_type type,
							  int rank, const int64_t *dims);

/* Constant tensors (stored as raw_data, little-endian); data is copied. */
void		onnx_initializer_float(onnx_graph *g, const char *name, int rank,
								   const int64_t *dims, const float *data);
void		onnx_initializer_int64(onnx_graph *g, const char *name, int rank,
								   const int64_t *dims, const int64_t *data);
void		onnx_initializer_uint64(onnx_graph *g, const char *name, int rank,
									const int64_t *dims, const uint64_t *data);
void		onnx_initializer_int32(onnx_graph *g, const char *name, int rank,
								   const int64_t *dims, const int32_t *data);
void		onnx_initializer_uint8(onnx_graph *g, const char *name, int rank,
								   const int64_t *dims, const uint8_t *data);

/*
 * A node of the default domain (ai.onnx).  Returns its index for the
 * attribute calls below, or -1 after an allocation failure (the attribute
 * calls accept -1 and do nothing).  The node is named "n<index>".
 */
int			onnx_node(onnx_graph *g, const char *op_type,
					  int n_inputs, const char *const *inputs,
					  int n_outputs, const char *const *outputs);
void		onnx_attr_int(onnx_graph *g, int node, const char *name, int64_t value);
void		onnx_attr_ints(onnx_graph *g, int node, const char *name, int n,
						   const int64_t *values);
void		onnx_attr_float(onnx_graph *g, int node, const char *name, float value);
void		onnx_attr_string(onnx_graph *g, int node, const char *name, const char *value);

/* ModelProto.metadata_props entries, in the order added. */
void		onnx_metadata(onnx_graph *g, const char *key, const char *value);

/* Counts, for tests and for the exporter's own checks. */
int			onnx_graph_num_nodes(const onnx_graph *g);
int			onnx_graph_num_initializers(const onnx_graph *g);

/*
 * The ModelProto bytes (ir_version ONNX_IR_VERSION, one opset_import of the
 * default domain at opset, producer name and version) of graph g, allocated
 * with cv_malloc; *out is NULL and *len 0 on failure.  The failure latched
 * by an earlier call (CV_ERR_NOMEM, CV_ERR_PARAM, CV_ERR_LIMIT);
 * CV_ERR_PARAM for a graph without inputs or outputs, opset < 1, a NULL
 * producer name or version, or NULL out or len; CV_ERR_LIMIT for a model
 * of 2 GiB or more (protobuf's limit); CV_ERR_NOMEM when the output buffer
 * cannot be allocated.  g is not changed: serializing twice gives the same
 * bytes.
 */
cv_status	onnx_serialize(const onnx_graph *g, int64_t opset, const char *producer_name,
						   const char *producer_version, uint8_t **out, size_t *len,
						   cv_error *err);

#endif							/* CV_EXPORT_ONNX_PROTO_H */
