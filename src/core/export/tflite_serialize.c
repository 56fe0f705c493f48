/*
 * tflite_serialize.c
 *	  The assembled TFLite file (tflite_graph.h) as one flatbuffer
 *	  (flatbuffer_writer.h): buffers, tensors with their quantization,
 *	  operators with their options, the operator codes, one subgraph, the
 *	  description and the metadata entry "pgvision", for the export
 *	  (tflite_export.c).
 *
 * Apart from the assembly because it is a different job: the assembly
 * decides what the file holds; this writes it in the schema's layout, in
 * one pass at the end, children before the tables that point at them.
 * Field ids are those of tensorflow/lite/schema/schema.fbs, cited where
 * used.
 */
#include "tflite_serialize.h"

#include <string.h>

static fbw_ref
write_quantization(fbw_builder *b, const tfl_tensor *t)
{
	float		scale[1];
	fbw_field	q[3];
	int			n = 0;
	fbw_ref		s,
				z = 0;
	float	   *scales = t->nquant > 1 ? cv_malloc(sizeof(float) * t->nquant) : scale;
	int64_t    *zps = cv_malloc(sizeof(int64_t) * t->nquant);

	if (scales == NULL || zps == NULL)
	{
		if (scales != scale)
			cv_free(scales);
		cv_free(zps);
		return 0;
	}
	for (int i = 0; i < t->nquant; i++)
	{
		scales[i] = fb_vector_f32(&t->scale, (uint32_t) i);
		zps[i] = t->zero_point.present && t->zero_point.count > 0 ? fb_vector_i64(&t->zero_point, (uint32_t) i) : 0;
	}
	/* QuantizationParameters: scale:[float] (2), zero_point:[long] (3), quantized_dimension (6) */
	s = fbw_vector(b, scales, (uint32_t) t->nquant, 4, 0);
	z = fbw_vector(b, zps, (uint32_t) t->nquant, 8, 0);
	q[n++] = fbw_offset(2, s);
	q[n++] = fbw_offset(3, z);
	if (t->nquant > 1)
		q[n++] = fbw_i32(6, t->qdim);
	if (scales != scale)
		cv_free(scales);
	cv_free(zps);
	if (s == 0 || z == 0)
		return 0;
	return fbw_table(b, q, n);
}

cv_status
tfx_serialize(xfile *f, int input, int output, const char *description, const tfx_json *meta,
		  uint8_t **out, size_t *out_len, cv_error *err)
{
	fbw_builder b;
	fbw_ref    *refs;
	int			nrefs = f->ntensors;
	fbw_ref		buffers,
				tensors,
				operators,
				codes,
				subgraph,
				subgraphs,
				metadata,
				desc,
				root;
	int			meta_buffer;

	if (nrefs < f->nops)
		nrefs = f->nops;
	if (nrefs < f->nbuffers + 1)
		nrefs = f->nbuffers + 1;
	if (nrefs < MAX_OPCODES)
		nrefs = MAX_OPCODES;
	refs = cv_malloc(sizeof(fbw_ref) * (size_t) nrefs);
	if (refs == NULL)
		return cv_fail(err, CV_ERR_NOMEM, "out of memory writing a TFLite file");
	fbw_init(&b);

	/* the metadata's buffer comes last among the buffers */
	meta_buffer = f->nbuffers;

	/* Buffer: data:[ubyte] (0, force_align 16); buffer 0 is the empty one */
	for (int i = f->nbuffers; i >= 0; i--)
	{
		const uint8_t *data = i == meta_buffer ? (const uint8_t *) meta->text.data : f->buffers[i].data;
		size_t		len = i == meta_buffer ? meta->text.len : f->buffers[i].len;
		fbw_field	fld[1];

		if (i == 0 || len == 0)
			refs[i] = fbw_table(&b, NULL, 0);
		else
		{
			fld[0] = fbw_offset(0, fbw_vector(&b, data, (uint32_t) len, 1, 16));
			refs[i] = fbw_table(&b, fld, 1);
		}
	}
	buffers = fbw_vector_refs(&b, refs, (uint32_t) f->nbuffers + 1);

	/* Tensor: shape (0), type (1), buffer (2), name (3), quantization (4) */
	for (int i = f->ntensors - 1; i >= 0; i--)
	{
		const xtensor *t = &f->tensors[i];
		fbw_field	fld[5];
		int			n = 0;
		fbw_ref		shape = fbw_vector(&b, t->dims, (uint32_t) t->rank, 4, 0);

		fld[n++] = fbw_offset(0, shape);
		fld[n++] = fbw_i8(1, (int8_t) t->type);
		fld[n++] = fbw_u32(2, (uint32_t) t->buffer);
		if (t->name_len > 0)
			fld[n++] = fbw_offset(3, fbw_string(&b, t->name, (size_t) t->name_len));
		if (t->quant != NULL)
			fld[n++] = fbw_offset(4, write_quantization(&b, t->quant));
		refs[i] = fbw_table(&b, fld, n);
	}
	tensors = fbw_vector_refs(&b, refs, (uint32_t) f->ntensors);

	/* Operator: opcode_index (0), inputs (1), outputs (2), builtin_options_type (3), builtin_options (4) */
	for (int i = f->nops - 1; i >= 0; i--)
	{
		const xop  *o = &f->ops[i];
		fbw_field	fld[5];
		fbw_field	opts[9];
		int			n = 0,
					no = o->noptions;

		fld[n++] = fbw_u32(0, (uint32_t) o->opcode);
		fld[n++] = fbw_offset(1, fbw_vector(&b, o->inputs, (uint32_t) o->ninputs, 4, 0));
		fld[n++] = fbw_offset(2, fbw_vector(&b, &o->output, 1, 4, 0));
		if (o->options_type != OPT_NONE)
		{
			memcpy(opts, o->options, sizeof(fbw_field) * no);
			if (o->vector_field >= 0)
				opts[no++] = fbw_offset(o->vector_field,
										fbw_vector(&b, o->vector, (uint32_t) o->nvector, 4, 0));
			fld[n++] = fbw_u8(3, (uint8_t) o->options_type);
			fld[n++] = fbw_offset(4, fbw_table(&b, opts, no));
		}
		refs[i] = fbw_table(&b, fld, n);
	}
	operators = fbw_vector_refs(&b, refs, (uint32_t) f->nops);

	/* SubGraph: tensors (0), inputs (1), outputs (2), operators (3), name (4) */
	{
		fbw_field	fld[5];

		fld[0] = fbw_offset(0, tensors);
		fld[1] = fbw_offset(1, fbw_vector(&b, &input, 1, 4, 0));
		fld[2] = fbw_offset(2, fbw_vector(&b, &output, 1, 4, 0));
		fld[3] = fbw_offset(3, operators);
		fld[4] = fbw_offset(4, fbw_string(&b, "main", 4));
		subgraph = fbw_table(&b, fld, 5);
		subgraphs = fbw_vector_refs(&b, &subgraph, 1);
	}

	/*
	 * OperatorCode: deprecated_builtin_code:byte (0), version (2),
	 * builtin_code (3); the byte saturates at 127 (PLACEHOLDER_FOR_GREATER_OP_CODES)
	 */
	for (int i = f->nopcodes - 1; i >= 0; i--)
	{
		fbw_field	fld[3];
		int			code = f->opcodes[i].code;

		fld[0] = fbw_i8(0, (int8_t) (code < 127 ? code : 127));
		fld[1] = fbw_i32(2, f->opcodes[i].version);
		fld[2] = fbw_i32(3, code);
		refs[i] = fbw_table(&b, fld, 3);
	}
	codes = fbw_vector_refs(&b, refs, (uint32_t) f->nopcodes);

	/* Metadata: name (0), buffer (1) */
	{
		fbw_field	fld[2];
		fbw_ref		entry;

		fld[0] = fbw_offset(0, fbw_string(&b, "pgvision", 8));
		fld[1] = fbw_u32(1, (uint32_t) meta_buffer);
		entry = fbw_table(&b, fld, 2);
		metadata = fbw_vector_refs(&b, &entry, 1);
	}
	desc = fbw_string(&b, description, strlen(description));

	/* Model: version (0), operator_codes (1), subgraphs (2), description (3), buffers (4), metadata (6) */
	{
		fbw_field	fld[6];

		fld[0] = fbw_u32(0, 3);
		fld[1] = fbw_offset(1, codes);
		fld[2] = fbw_offset(2, subgraphs);
		fld[3] = fbw_offset(3, desc);
		fld[4] = fbw_offset(4, buffers);
		fld[5] = fbw_offset(6, metadata);
		root = fbw_table(&b, fld, 6);
	}
	cv_free(refs);
	return fbw_finish(&b, root, "TFL3", out, out_len, err);
}
