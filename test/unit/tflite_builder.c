/*
 * tflite_builder.c
 *	  FlatBuffers writer and TFLite assembler for the unit tests; see
 *	  tflite_builder.h.  Included directly by the tests that use it.
 *
 * The buffer grows toward lower addresses: an object is written after the
 * objects it refers to, so every uoffset (from a field to its target)
 * points forward, as the format requires.  Objects are not padded for
 * alignment: the reader under test must not depend on it.
 */
#include "tflite_builder.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void
tb_prepend(tb_builder *b, const void *data, size_t n)
{
	if (b->used + n > b->cap)
	{
		size_t		cap = (b->cap ? b->cap * 2 : 1024);
		uint8_t    *nb;

		while (cap < b->used + n)
			cap *= 2;
		nb = malloc(cap);
		if (b->used)
			memcpy(nb + cap - b->used, b->buf + b->cap - b->used, b->used);
		free(b->buf);
		b->buf = nb;
		b->cap = cap;
	}
	b->used += n;
	memcpy(b->buf + b->cap - b->used, data, n);
}

tb_ref
tb_vector(tb_builder *b, const void *elems, uint32_t count, size_t elem_size)
{
	if (count)
		tb_prepend(b, elems, count * elem_size);
	tb_prepend(b, &count, 4);
	return (tb_ref) b->used;
}

tb_ref
tb_vector_refs(tb_builder *b, const tb_ref *refs, uint32_t count)
{
	for (uint32_t i = count; i-- > 0;)
	{
		/* this element will sit at distance used + 4 from the end */
		uint32_t	v = (uint32_t) (b->used + 4 - refs[i]);

		tb_prepend(b, &v, 4);
	}
	tb_prepend(b, &count, 4);
	return (tb_ref) b->used;
}

tb_ref
tb_string(tb_builder *b, const char *s)
{
	uint32_t	n = (uint32_t) strlen(s);
	uint8_t		zero = 0;

	tb_prepend(b, &zero, 1);
	if (n)
		tb_prepend(b, s, n);
	tb_prepend(b, &n, 4);
	return (tb_ref) b->used;
}

static size_t
field_size(int kind)
{
	return kind == TB_U8 ? 1 : kind == TB_U64 ? 8 : 4;
}

tb_ref
tb_table(tb_builder *b, const tb_field *fields, int nfields)
{
	uint8_t		inl[256];
	uint16_t	vt[2 + 64];
	size_t		size = 4;
	int			nslots = 0;
	tb_ref		t;
	int32_t		soff;

	memset(vt, 0, sizeof(vt));
	for (int i = 0; i < nfields; i++)
	{
		size += field_size(fields[i].kind);
		if (fields[i].id + 1 > nslots)
			nslots = fields[i].id + 1;
	}
	t = (tb_ref) (b->used + size);	/* the table start, once prepended */
	{
		size_t		at = 4;

		for (int i = 0; i < nfields; i++)
		{
			const tb_field *f = &fields[i];
			uint8_t		u8 = (uint8_t) f->i;
			uint32_t	u32 = (uint32_t) f->i;
			uint64_t	u64 = (uint64_t) f->i;

			vt[2 + f->id] = (uint16_t) at;
			switch (f->kind)
			{
				case TB_U8:
					memcpy(inl + at, &u8, 1);
					break;
				case TB_I32:
				case TB_U32:
					memcpy(inl + at, &u32, 4);
					break;
				case TB_F32:
					memcpy(inl + at, &f->f, 4);
					break;
				case TB_U64:
					memcpy(inl + at, &u64, 8);
					break;
				case TB_REF:
					/* field at distance t - at from the end */
					u32 = (uint32_t) (t - at - f->ref);
					memcpy(inl + at, &u32, 4);
					break;
			}
			at += field_size(f->kind);
		}
	}
	vt[0] = (uint16_t) (4 + 2 * nslots);
	vt[1] = (uint16_t) size;
	soff = vt[0];				/* the vtable sits just before the table */
	memcpy(inl, &soff, 4);
	tb_prepend(b, inl, size);
	tb_prepend(b, vt, vt[0]);
	return t;
}

uint8_t *
tb_finish(tb_builder *b, tb_ref root, const char *ident, size_t *len)
{
	uint32_t	off;
	uint8_t    *out;

	if (ident)
		tb_prepend(b, ident, 4);
	off = (uint32_t) (b->used + 4 - root);
	tb_prepend(b, &off, 4);
	out = malloc(b->used);
	memcpy(out, b->buf + b->cap - b->used, b->used);
	*len = b->used;
	free(b->buf);
	memset(b, 0, sizeof(*b));
	return out;
}

int
tbm_tensor_add(tbm_model *m, int type, int rank, const int32_t *dims,
			   const void *data, size_t data_len)
{
	tbm_tensor *t = &m->tensors[m->ntensors];

	memset(t, 0, sizeof(*t));
	t->type = type;
	t->rank = rank;
	memcpy(t->dims, dims, (size_t) rank * sizeof(int32_t));
	t->data = data;
	t->data_len = data_len;
	return m->ntensors++;
}

void
tbm_quant(tbm_model *m, int t, int n, const float *scale, const int64_t *zero_point,
		  int qdim)
{
	m->tensors[t].nquant = n;
	memcpy(m->tensors[t].scale, scale, (size_t) n * sizeof(float));
	memcpy(m->tensors[t].zero_point, zero_point, (size_t) n * sizeof(int64_t));
	m->tensors[t].qdim = qdim;
}

tbm_op *
tbm_op_add(tbm_model *m, int code, int ninputs, const int32_t *inputs, int output,
		   int options_type)
{
	tbm_op	   *op = &m->ops[m->nops++];

	memset(op, 0, sizeof(*op));
	op->code = code;
	op->ninputs = ninputs;
	memcpy(op->inputs, inputs, (size_t) ninputs * sizeof(int32_t));
	op->output = output;
	op->options_type = options_type;
	return op;
}

void
tbm_opt_i32(tbm_op *op, int id, int32_t v)
{
	op->options[op->noptions++] = (tb_field) {.id = id, .kind = TB_I32, .i = v};
}

void
tbm_opt_u8(tbm_op *op, int id, int v)
{
	op->options[op->noptions++] = (tb_field) {.id = id, .kind = TB_U8, .i = v};
}

void
tbm_opt_f32(tbm_op *op, int id, float v)
{
	op->options[op->noptions++] = (tb_field) {.id = id, .kind = TB_F32, .f = v};
}

uint8_t *
tbm_build(const tbm_model *m, size_t *len)
{
	tb_builder	b = {0};
	tb_ref		buffers[TBM_MAX_TENSORS + 1],
				tensors[TBM_MAX_TENSORS],
				ops[TBM_MAX_OPS],
				codes[TBM_MAX_OPS];
	int			nbuf = 1;
	int			bufidx[TBM_MAX_TENSORS];
	tb_ref		r;

	/* Buffer: data (0); buffer 0 is the empty sentinel */
	buffers[0] = tb_table(&b, NULL, 0);
	for (int i = 0; i < m->ntensors; i++)
	{
		const tbm_tensor *t = &m->tensors[i];

		bufidx[i] = 0;
		if (t->data)
		{
			tb_field	f = {.id = 0, .kind = TB_REF};

			f.ref = tb_vector(&b, t->data, (uint32_t) t->data_len, 1);
			buffers[nbuf] = tb_table(&b, &f, 1);
			bufidx[i] = nbuf++;
		}
	}
	/* Tensor: shape (0), type (1), buffer (2), name (3), quantization (4) */
	for (int i = 0; i < m->ntensors; i++)
	{
		const tbm_tensor *t = &m->tensors[i];
		tb_field	f[5];
		int			n = 0;
		char		name[16];

		snprintf(name, sizeof(name), "t%d", i);
		f[n++] = (tb_field) {.id = 0, .kind = TB_REF,
		.ref = tb_vector(&b, t->dims, (uint32_t) t->rank, 4)};
		f[n++] = (tb_field) {.id = 1, .kind = TB_U8, .i = t->type};
		f[n++] = (tb_field) {.id = 2, .kind = TB_U32, .i = bufidx[i]};
		f[n++] = (tb_field) {.id = 3, .kind = TB_REF, .ref = tb_string(&b, name)};
		if (t->nquant)
		{
			/* QuantizationParameters: scale (2), zero_point (3), quantized_dimension (6) */
			tb_field	q[3];

			q[0] = (tb_field) {.id = 2, .kind = TB_REF,
			.ref = tb_vector(&b, t->scale, (uint32_t) t->nquant, 4)};
			q[1] = (tb_field) {.id = 3, .kind = TB_REF,
			.ref = tb_vector(&b, t->zero_point, (uint32_t) t->nquant, 8)};
			q[2] = (tb_field) {.id = 6, .kind = TB_I32, .i = t->qdim};
			f[n++] = (tb_field) {.id = 4, .kind = TB_REF, .ref = tb_table(&b, q, 3)};
		}
		tensors[i] = tb_table(&b, f, n);
	}
	/* one OperatorCode per operator: deprecated_builtin_code (0), version (2), builtin_code (3) */
	for (int i = 0; i < m->nops; i++)
	{
		tb_field	f[3];

		f[0] = (tb_field) {.id = 0, .kind = TB_U8, .i = m->ops[i].code < 127 ? m->ops[i].code : 127};
		f[1] = (tb_field) {.id = 2, .kind = TB_I32, .i = 1};
		f[2] = (tb_field) {.id = 3, .kind = TB_I32, .i = m->ops[i].code};
		codes[i] = tb_table(&b, f, 3);
	}
	/* Operator: opcode_index (0), inputs (1), outputs (2), options type (3), options (4) */
	for (int i = 0; i < m->nops; i++)
	{
		const tbm_op *op = &m->ops[i];
		tb_field	f[5];
		int			n = 0;

		f[n++] = (tb_field) {.id = 0, .kind = TB_U32, .i = i};
		f[n++] = (tb_field) {.id = 1, .kind = TB_REF,
		.ref = tb_vector(&b, op->inputs, (uint32_t) op->ninputs, 4)};
		f[n++] = (tb_field) {.id = 2, .kind = TB_REF, .ref = tb_vector(&b, &op->output, 1, 4)};
		if (op->options_type)
		{
			f[n++] = (tb_field) {.id = 3, .kind = TB_U8, .i = op->options_type};
			f[n++] = (tb_field) {.id = 4, .kind = TB_REF,
			.ref = tb_table(&b, op->options, op->noptions)};
		}
		ops[i] = tb_table(&b, f, n);
	}
	{
		/* SubGraph: tensors (0), inputs (1), outputs (2), operators (3) */
		tb_field	sg[4];
		tb_field	model[4];

		sg[0] = (tb_field) {.id = 0, .kind = TB_REF,
		.ref = tb_vector_refs(&b, tensors, (uint32_t) m->ntensors)};
		sg[1] = (tb_field) {.id = 1, .kind = TB_REF, .ref = tb_vector(&b, &m->input, 1, 4)};
		sg[2] = (tb_field) {.id = 2, .kind = TB_REF, .ref = tb_vector(&b, &m->output, 1, 4)};
		sg[3] = (tb_field) {.id = 3, .kind = TB_REF,
		.ref = tb_vector_refs(&b, ops, (uint32_t) m->nops)};
		r = tb_table(&b, sg, 4);
		/* Model: version (0), operator_codes (1), subgraphs (2), buffers (4) */
		model[0] = (tb_field) {.id = 0, .kind = TB_U32, .i = 3};
		model[1] = (tb_field) {.id = 1, .kind = TB_REF,
		.ref = tb_vector_refs(&b, codes, (uint32_t) m->nops)};
		model[2] = (tb_field) {.id = 2, .kind = TB_REF, .ref = tb_vector_refs(&b, &r, 1)};
		model[3] = (tb_field) {.id = 4, .kind = TB_REF,
		.ref = tb_vector_refs(&b, buffers, (uint32_t) nbuf)};
		r = tb_table(&b, model, 4);
	}
	return tb_finish(&b, r, "TFL3", len);
}
