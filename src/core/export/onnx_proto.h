/*
 * onnx_proto.h
 *	  A writer of ONNX model files: the protocol-buffer messages of
 *	  onnx.proto that a self-contained float inference model needs, built in
 *	  memory and serialized once.
 *
 * Messages written (field numbers and wire types from the public
 * onnx/onnx.proto, cited in onnx_proto.c): ModelProto (ir_version,
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
 * need not check each call.  Names are not checked for uniqueness (the
 * exporter makes them unique); an empty input name is ONNX's "optional
 * input left out".  Output is deterministic: same calls, same bytes.
 */
#ifndef CV_EXPORT_ONNX_PROTO_H
#define CV_EXPORT_ONNX_PROTO_H

#include "../common/cv_common.h"

/* TensorProto.DataType values used here (onnx.proto). */
typedef enum onnx_elem_type
{
	ONNX_FLOAT = 1,
	ONNX_UINT8 = 2,
	ONNX_INT64 = 7
} onnx_elem_type;

#define ONNX_IR_VERSION 8		/* ONNX 1.10+, what opset 13..17 files carry */

typedef struct onnx_graph onnx_graph;

/* A new empty graph named name; NULL when out of memory. */
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
 * with cv_malloc.  CV_ERR_NOMEM when any earlier call failed to allocate;
 * CV_ERR_PARAM for a graph without inputs or outputs.
 */
cv_status	onnx_serialize(const onnx_graph *g, int64_t opset, const char *producer_name,
						   const char *producer_version, uint8_t **out, size_t *len,
						   cv_error *err);

#endif							/* CV_EXPORT_ONNX_PROTO_H */
