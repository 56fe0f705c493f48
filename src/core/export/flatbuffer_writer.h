/*
 * flatbuffer_writer.h
 *	  A writer of FlatBuffers binaries (the container of TFLite files): the
 *	  counterpart of the bounds-checked reader in src/core/nn/flatbuffer.h,
 *	  written from the public FlatBuffers format description
 *	  (flatbuffers.dev, "FlatBuffers internals").
 *
 * The buffer is built back to front, as the format intends: an object is
 * written after (so at a lower address than) the objects it refers to, so
 * every uoffset points forward.  An object is named by its distance from
 * the end of the buffer (fbw_ref), which does not change as more is
 * written in front of it.  Everything is little-endian (the format's rule;
 * we run on little-endian hosts only, like the reader).
 *
 * Alignment: every scalar is aligned to its size, a vector's elements to
 * their size or the alignment asked for (16 for TFLite's weight buffers),
 * a table to its largest field; fbw_finish pads the front so that the
 * whole buffer's length is a multiple of the largest alignment used, so
 * these distances-from-the-end alignments are also address alignments
 * when the result lands on an equally aligned address.
 *
 * Tables: the caller lists the fields (schema field id, size, value) in any
 * order; the writer lays them out largest first, writes the vtable right
 * in front of the table and leaves absent fields out of it.  A field whose
 * value is the schema default may be given or left out: the reader gives
 * the same answer either way.
 *
 * Allocation failures and bad arguments latch: every later call is a
 * no-op returning 0, and fbw_finish reports the first failure.
 */
#ifndef CV_EXPORT_FLATBUFFER_WRITER_H
#define CV_EXPORT_FLATBUFFER_WRITER_H

#include "../common/cv_common.h"

#define FBW_MAX_FIELDS 32		/* field ids 0..31 per table */

/* An object already written: its distance from the end of the buffer. */
typedef uint32_t fbw_ref;

typedef struct fbw_builder
{
	uint8_t    *buf;			/* the data lives at buf[cap - used, cap) */
	size_t		cap;
	size_t		used;
	size_t		max_align;		/* largest alignment asked for so far */
	cv_status	failed;			/* CV_OK until something fails */
	char		message[128];	/* what failed */
} fbw_builder;

/* One field of a table: a scalar of 1, 2, 4 or 8 bytes, or an offset. */
typedef struct fbw_field
{
	int			id;				/* field id in the schema */
	int			size;			/* 1, 2, 4, 8 bytes; 4 for an offset */
	bool		is_ref;			/* value is an fbw_ref to point to */
	uint64_t	bits;			/* the scalar's little-endian bits */
} fbw_field;

/* Field constructors (the schema type decides which one). */
fbw_field	fbw_u8(int id, uint8_t v);
fbw_field	fbw_i8(int id, int8_t v);
fbw_field	fbw_i32(int id, int32_t v);
fbw_field	fbw_u32(int id, uint32_t v);
fbw_field	fbw_f32(int id, float v);
fbw_field	fbw_u64(int id, uint64_t v);
fbw_field	fbw_offset(int id, fbw_ref target);

void		fbw_init(fbw_builder *b);
void		fbw_free(fbw_builder *b);

/*
 * A vector of count scalars of elem_size bytes (1, 2, 4 or 8) from elems,
 * its elements aligned to max(elem_size, align); align is 0 or a power of
 * two up to 64.  Its length prefix (uint32) sits right before them.
 */
fbw_ref		fbw_vector(fbw_builder *b, const void *elems, uint32_t count,
					   size_t elem_size, size_t align);
/* A vector of offsets to count objects already written. */
fbw_ref		fbw_vector_refs(fbw_builder *b, const fbw_ref *refs, uint32_t count);
/* A string: length prefix, the n bytes, a terminating zero. */
fbw_ref		fbw_string(fbw_builder *b, const char *s, size_t n);
/* A table of nfields fields (ids distinct and < FBW_MAX_FIELDS). */
fbw_ref		fbw_table(fbw_builder *b, const fbw_field *fields, int nfields);

/*
 * The root offset, then the 4-byte file identifier ident (or none when
 * NULL), in front of everything: *out (cv_malloc'd) gets the whole buffer.
 * Reports the first latched failure (CV_ERR_NOMEM, CV_ERR_PARAM,
 * CV_ERR_LIMIT for a buffer over 2 GiB).  The builder is left empty.
 */
cv_status	fbw_finish(fbw_builder *b, fbw_ref root, const char *ident,
					   uint8_t **out, size_t *out_len, cv_error *err);

#endif							/* CV_EXPORT_FLATBUFFER_WRITER_H */
