/*
 * onnx_proto_internal.h
 *	  The ONNX graph as onnx_proto.c records it and onnx_encode.c encodes
 *	  it: the records of nodes, attributes, tensors, values and metadata
 *	  entries, and the limits both sides check.  Private to those two files.
 */
#ifndef CV_EXPORT_ONNX_PROTO_INTERNAL_H
#define CV_EXPORT_ONNX_PROTO_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "onnx_proto.h"

/* AttributeProto.AttributeType values */
#define ATTR_FLOAT	1
#define ATTR_INT	2
#define ATTR_STRING 3
#define ATTR_INTS	7

/*
 * Protobuf's parsers refuse messages of 2 GiB or more (sizes are int32 in
 * their implementation); a larger model would need ONNX's external data.
 */
#define ONNX_MAX_MODEL_BYTES ((uint64_t) INT32_MAX)

typedef struct arena_chunk
{
	struct arena_chunk *next;
	size_t		used;
	size_t		size;
	max_align_t data[];			/* aligned for the int64 dims we keep */
} arena_chunk;

typedef struct attr_rec
{
	const char *name;
	int			type;			/* ATTR_* */
	float		f;
	int64_t		i;
	const char *s;
	int			n_ints;
	const int64_t *ints;
} attr_rec;

typedef struct node_rec
{
	int			index;			/* for the name "n<index>" */
	const char *op_type;
	int			n_inputs;
	const char **inputs;
	int			n_outputs;
	const char **outputs;
	int			n_attrs;
	int			cap_attrs;
	attr_rec   *attrs;
} node_rec;

typedef struct tensor_rec
{
	const char *name;
	onnx_elem_type type;
	int			rank;
	const int64_t *dims;
	const uint8_t *raw;			/* already little-endian */
	size_t		raw_len;
} tensor_rec;

typedef struct value_rec
{
	const char *name;
	onnx_elem_type type;
	int			rank;
	const int64_t *dims;
} value_rec;

typedef struct entry_rec
{
	const char *key;
	const char *value;
} entry_rec;

struct onnx_graph
{
	const char *name;
	arena_chunk *arena;
	cv_status	failure;		/* CV_OK until the first failure */
	char		message[CV_ERROR_MESSAGE_LEN];

	node_rec   *nodes;
	int			n_nodes;
	int			cap_nodes;
	tensor_rec *inits;
	int			n_inits;
	int			cap_inits;
	value_rec  *inputs;
	int			n_inputs;
	int			cap_inputs;
	value_rec  *outputs;
	int			n_outputs;
	int			cap_outputs;
	entry_rec  *meta;
	int			n_meta;
	int			cap_meta;
};

#endif							/* CV_EXPORT_ONNX_PROTO_INTERNAL_H */
