/*
 * flatbuffer.h
 *	  Bounds-checked reading of FlatBuffers binaries (the container of TFLite
 *	  files), written from the public FlatBuffers format description.
 *
 * A flatbuffer is a tree of tables addressed by 32-bit offsets inside one
 * byte array.  Nothing in it can be trusted: every offset, vtable, vector
 * length and field position is checked against the buffer before it is
 * read, and every multi-byte value is read with memcpy because a hostile
 * file need not be aligned.  All values are little-endian (the format's
 * rule); we run on little-endian hosts only (checked at compile time).
 *
 * Accessors return CV_ERR_CORRUPT with a message naming what was being read,
 * so that the schema walk (tflite.c) stays free of arithmetic on offsets.
 */
#ifndef CV_NN_FLATBUFFER_H
#define CV_NN_FLATBUFFER_H

#include "../common/cv_common.h"

typedef struct fb_buf
{
	const uint8_t *data;
	size_t		len;
} fb_buf;

/* A table; present == false when the field that should hold it is absent. */
typedef struct fb_table
{
	const fb_buf *buf;
	bool		present;
	size_t		pos;			/* start of the table (its soffset to the vtable) */
	size_t		vtab;			/* start of its vtable */
	uint16_t	vlen;			/* vtable size in bytes */
	uint16_t	tlen;			/* inline table size in bytes */
} fb_table;

/* A vector: count elements of elem_size bytes from pos (absent: count 0). */
typedef struct fb_vector
{
	const fb_buf *buf;
	bool		present;
	size_t		pos;
	uint32_t	count;
	size_t		elem_size;
} fb_vector;

/*
 * Open a buffer: check the root offset and, when ident is not NULL, the
 * 4-byte file identifier that follows it.
 */
cv_status	fb_open(const uint8_t *data, size_t len, const char *ident,
					fb_buf *buf, fb_table *root, cv_error *err);

/* Scalar fields; absent fields give the default.  what names it in errors. */
cv_status	fb_get_u8(const fb_table *t, int field, uint8_t def, uint8_t *out,
					  const char *what, cv_error *err);
cv_status	fb_get_i8(const fb_table *t, int field, int8_t def, int8_t *out,
					  const char *what, cv_error *err);
cv_status	fb_get_i32(const fb_table *t, int field, int32_t def, int32_t *out,
					   const char *what, cv_error *err);
cv_status	fb_get_u32(const fb_table *t, int field, uint32_t def, uint32_t *out,
					   const char *what, cv_error *err);
cv_status	fb_get_u64(const fb_table *t, int field, uint64_t def, uint64_t *out,
					   const char *what, cv_error *err);
cv_status	fb_get_f32(const fb_table *t, int field, float def, float *out,
					   const char *what, cv_error *err);

/* Sub-table, vector and string fields (absent: present = false). */
cv_status	fb_get_table(const fb_table *t, int field, fb_table *out,
						 const char *what, cv_error *err);
cv_status	fb_get_vector(const fb_table *t, int field, size_t elem_size,
						  fb_vector *out, const char *what, cv_error *err);
cv_status	fb_get_string(const fb_table *t, int field, const char **str,
						  size_t *len, const char *what, cv_error *err);

/* Element i of a vector of tables (offsets); i must be < count. */
cv_status	fb_vector_table(const fb_vector *v, uint32_t i, fb_table *out,
							const char *what, cv_error *err);

/* Elements of scalar vectors; i < count and elem_size match are the caller's. */
int32_t		fb_vector_i32(const fb_vector *v, uint32_t i);
int64_t		fb_vector_i64(const fb_vector *v, uint32_t i);
float		fb_vector_f32(const fb_vector *v, uint32_t i);
const uint8_t *fb_vector_bytes(const fb_vector *v);

#endif							/* CV_NN_FLATBUFFER_H */
