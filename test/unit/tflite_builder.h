/*
 * tflite_builder.h
 *	  A small FlatBuffers writer and a TFLite model assembler for the unit
 *	  tests of src/core/nn: tiny networks with known weights, built in the
 *	  test, so each operator can be checked against hand-computed values.
 *
 * The test Makefile links each test_*.c with the core only, so a test
 * that needs the builder includes tflite_builder.c directly (one
 * translation unit per test program).
 *
 * Field ids follow tensorflow/lite/schema/schema.fbs, as in src/core/nn.
 */
#ifndef TFLITE_BUILDER_H
#define TFLITE_BUILDER_H

#include <stddef.h>
#include <stdint.h>

/* ---- FlatBuffers, built back to front as the format intends ---- */

typedef struct tb_builder
{
	uint8_t    *buf;			/* data lives at buf[cap - used, cap) */
	size_t		cap;
	size_t		used;
} tb_builder;

/* An object already written: its distance from the end of the buffer. */
typedef uint32_t tb_ref;

enum
{
	TB_U8, TB_I32, TB_U32, TB_F32, TB_U64, TB_REF
};

typedef struct tb_field
{
	int			id;				/* field id in the schema */
	int			kind;			/* TB_U8 ... TB_REF */
	int64_t		i;				/* integer value (TB_U8, TB_I32, TB_U32, TB_U64) */
	float		f;				/* TB_F32 */
	tb_ref		ref;			/* TB_REF */
} tb_field;

tb_ref		tb_vector(tb_builder *b, const void *elems, uint32_t count, size_t elem_size);
tb_ref		tb_vector_refs(tb_builder *b, const tb_ref *refs, uint32_t count);
tb_ref		tb_string(tb_builder *b, const char *s);
tb_ref		tb_table(tb_builder *b, const tb_field *fields, int nfields);
/* Root offset and identifier; returns a malloc'd copy of the whole buffer. */
uint8_t    *tb_finish(tb_builder *b, tb_ref root, const char *ident, size_t *len);

/* ---- TFLite models ---- */

#define TBM_MAX_TENSORS 128
#define TBM_MAX_OPS 64

typedef struct tbm_tensor
{
	int			type;			/* TensorType */
	int			rank;
	int32_t		dims[6];
	const void *data;			/* constant bytes or NULL */
	size_t		data_len;
	int			nquant;
	float		scale[64];
	int64_t		zero_point[64];
	int			qdim;
} tbm_tensor;

typedef struct tbm_op
{
	int			code;			/* BuiltinOperator */
	int			ninputs;
	int32_t		inputs[8];
	int32_t		output;
	int			options_type;	/* BuiltinOptions member, 0 for none */
	int			noptions;
	tb_field	options[8];
} tbm_op;

typedef struct tbm_model
{
	int			ntensors;
	tbm_tensor	tensors[TBM_MAX_TENSORS];
	int			nops;
	tbm_op		ops[TBM_MAX_OPS];
	int32_t		input;
	int32_t		output;
} tbm_model;

/* Add a tensor (data NULL for activations); returns its index. */
int			tbm_tensor_add(tbm_model *m, int type, int rank, const int32_t *dims,
						   const void *data, size_t data_len);
void		tbm_quant(tbm_model *m, int t, int n, const float *scale,
					  const int64_t *zero_point, int qdim);
/* Add an operator with one output; options are fields of its options table. */
tbm_op	   *tbm_op_add(tbm_model *m, int code, int ninputs, const int32_t *inputs,
					   int output, int options_type);
void		tbm_opt_i32(tbm_op *op, int id, int32_t v);
void		tbm_opt_u8(tbm_op *op, int id, int v);
void		tbm_opt_f32(tbm_op *op, int id, float v);
/* The .tflite bytes (malloc'd). */
uint8_t    *tbm_build(const tbm_model *m, size_t *len);

#endif							/* TFLITE_BUILDER_H */
