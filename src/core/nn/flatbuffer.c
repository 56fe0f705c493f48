/*
 * flatbuffer.c
 *	  Bounds-checked FlatBuffers primitives: tables through their vtables,
 *	  vectors, strings.  See flatbuffer.h for the contract.
 *
 * Layout recap (FlatBuffers binary format):
 *	- the buffer starts with a uoffset (u32) to the root table, optionally
 *	  followed by a 4-byte file identifier;
 *	- a table starts with an soffset (i32): vtable = table - soffset;
 *	- a vtable is u16 vtable size, u16 inline table size, then one u16 per
 *	  field: the field's offset from the table start, 0 when absent;
 *	- offset-typed fields hold a uoffset relative to the field's own position;
 *	- a vector or string is a u32 count followed by the elements (strings add
 *	  a NUL we do not rely on).
 * Every read below is preceded by a check that it lies inside the buffer;
 * sizes are computed in 64 bits so that no sum can wrap.
 */
#include "flatbuffer.h"

#include <string.h>

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "the flatbuffer reader assumes a little-endian host"
#endif

static uint32_t
rd_u32(const uint8_t *p)
{
	uint32_t	v;

	memcpy(&v, p, 4);
	return v;
}

static uint16_t
rd_u16(const uint8_t *p)
{
	uint16_t	v;

	memcpy(&v, p, 2);
	return v;
}

/* True when [pos, pos + size) lies inside the buffer. */
static bool
in_bounds(const fb_buf *b, uint64_t pos, uint64_t size)
{
	return pos <= b->len && size <= b->len - pos;
}

static cv_status
corrupt(cv_error *err, const char *what, const char *why)
{
	return cv_fail(err, CV_ERR_CORRUPT, "tflite file is corrupt: %s %s", what, why);
}

/* Validate the table at pos and fill t. */
static cv_status
open_table(const fb_buf *b, uint64_t pos, fb_table *t, const char *what, cv_error *err)
{
	int32_t		soff;
	int64_t		vtab;

	if (!in_bounds(b, pos, 4))
		return corrupt(err, what, "table is outside the file");
	soff = (int32_t) rd_u32(b->data + pos);
	vtab = (int64_t) pos - (int64_t) soff;
	if (vtab < 0 || !in_bounds(b, (uint64_t) vtab, 4))
		return corrupt(err, what, "vtable is outside the file");
	t->buf = b;
	t->present = true;
	t->pos = (size_t) pos;
	t->vtab = (size_t) vtab;
	t->vlen = rd_u16(b->data + vtab);
	t->tlen = rd_u16(b->data + vtab + 2);
	if (t->vlen < 4 || (t->vlen & 1) != 0 || !in_bounds(b, (uint64_t) vtab, t->vlen))
		return corrupt(err, what, "vtable has a bad size");
	if (t->tlen < 4 || !in_bounds(b, pos, t->tlen))
		return corrupt(err, what, "table has a bad size");
	return CV_OK;
}

cv_status
fb_open(const uint8_t *data, size_t len, const char *ident, fb_buf *buf,
		fb_table *root, cv_error *err)
{
	buf->data = data;
	buf->len = len;
	if (data == NULL || len < 8)
		return corrupt(err, "file", "is too short");
	if (ident != NULL && memcmp(data + 4, ident, 4) != 0)
		return cv_fail(err, CV_ERR_CORRUPT,
					   "not a tflite file: identifier \"%s\" missing", ident);
	return open_table(buf, rd_u32(data), root, "model", err);
}

/*
 * Position of a field of size bytes inside table t, or 0 when absent.  The
 * field must lie inside the table's declared inline size.
 */
static cv_status
field_pos(const fb_table *t, int field, size_t size, size_t *pos,
		  const char *what, cv_error *err)
{
	uint64_t	slot = 4 + 2 * (uint64_t) field;
	uint16_t	off;

	*pos = 0;
	if (t == NULL || !t->present || field < 0 || slot + 2 > t->vlen)
		return CV_OK;
	off = rd_u16(t->buf->data + t->vtab + slot);
	if (off == 0)
		return CV_OK;
	if (off < 4 || (uint64_t) off + size > t->tlen)
		return corrupt(err, what, "field lies outside its table");
	*pos = t->pos + off;
	return CV_OK;
}

/* Generic scalar read with a default. */
static cv_status
get_scalar(const fb_table *t, int field, size_t size, const void *def, void *out,
		   const char *what, cv_error *err)
{
	size_t		pos;
	cv_status	st = field_pos(t, field, size, &pos, what, err);

	if (st != CV_OK)
		return st;
	if (pos == 0)
		memcpy(out, def, size);
	else
		memcpy(out, t->buf->data + pos, size);
	return CV_OK;
}

cv_status
fb_get_u8(const fb_table *t, int field, uint8_t def, uint8_t *out,
		  const char *what, cv_error *err)
{
	return get_scalar(t, field, 1, &def, out, what, err);
}

cv_status
fb_get_i8(const fb_table *t, int field, int8_t def, int8_t *out,
		  const char *what, cv_error *err)
{
	return get_scalar(t, field, 1, &def, out, what, err);
}

cv_status
fb_get_i32(const fb_table *t, int field, int32_t def, int32_t *out,
		   const char *what, cv_error *err)
{
	return get_scalar(t, field, 4, &def, out, what, err);
}

cv_status
fb_get_u32(const fb_table *t, int field, uint32_t def, uint32_t *out,
		   const char *what, cv_error *err)
{
	return get_scalar(t, field, 4, &def, out, what, err);
}

cv_status
fb_get_u64(const fb_table *t, int field, uint64_t def, uint64_t *out,
		   const char *what, cv_error *err)
{
	return get_scalar(t, field, 8, &def, out, what, err);
}

cv_status
fb_get_f32(const fb_table *t, int field, float def, float *out,
		   const char *what, cv_error *err)
{
	return get_scalar(t, field, 4, &def, out, what, err);
}

/* Follow the uoffset stored in field; *target = 0 when absent. */
static cv_status
follow(const fb_table *t, int field, uint64_t *target, const char *what, cv_error *err)
{
	size_t		pos;
	cv_status	st = field_pos(t, field, 4, &pos, what, err);

	*target = 0;
	if (st != CV_OK || pos == 0)
		return st;
	*target = (uint64_t) pos + rd_u32(t->buf->data + pos);
	if (!in_bounds(t->buf, *target, 4))
		return corrupt(err, what, "points outside the file");
	return CV_OK;
}

cv_status
fb_get_table(const fb_table *t, int field, fb_table *out, const char *what,
			 cv_error *err)
{
	uint64_t	target;
	cv_status	st = follow(t, field, &target, what, err);

	memset(out, 0, sizeof(*out));
	if (st != CV_OK || target == 0)
		return st;
	return open_table(t->buf, target, out, what, err);
}

/* Open the vector whose count is at target. */
static cv_status
open_vector(const fb_buf *b, uint64_t target, size_t elem_size, fb_vector *out,
			const char *what, cv_error *err)
{
	uint32_t	count = rd_u32(b->data + target);

	if (!in_bounds(b, target + 4, (uint64_t) count * elem_size))
		return corrupt(err, what, "vector runs past the end of the file");
	out->buf = b;
	out->present = true;
	out->pos = (size_t) target + 4;
	out->count = count;
	out->elem_size = elem_size;
	return CV_OK;
}

cv_status
fb_get_vector(const fb_table *t, int field, size_t elem_size, fb_vector *out,
			  const char *what, cv_error *err)
{
	uint64_t	target;
	cv_status	st = follow(t, field, &target, what, err);

	memset(out, 0, sizeof(*out));
	out->elem_size = elem_size;
	if (st != CV_OK || target == 0)
		return st;
	return open_vector(t->buf, target, elem_size, out, what, err);
}

cv_status
fb_get_string(const fb_table *t, int field, const char **str, size_t *len,
			  const char *what, cv_error *err)
{
	fb_vector	v;
	cv_status	st = fb_get_vector(t, field, 1, &v, what, err);

	*str = NULL;
	*len = 0;
	if (st != CV_OK || !v.present)
		return st;
	*str = (const char *) (v.buf->data + v.pos);
	*len = v.count;
	return CV_OK;
}

cv_status
fb_vector_table(const fb_vector *v, uint32_t i, fb_table *out, const char *what,
				cv_error *err)
{
	uint64_t	slot = (uint64_t) v->pos + 4 * (uint64_t) i;
	uint64_t	target;

	memset(out, 0, sizeof(*out));
	if (!v->present || i >= v->count || v->elem_size != 4)
		return cv_fail(err, CV_ERR_INTERNAL, "vector index %u out of range", i);
	target = slot + rd_u32(v->buf->data + slot);
	return open_table(v->buf, target, out, what, err);
}

int32_t
fb_vector_i32(const fb_vector *v, uint32_t i)
{
	return (int32_t) rd_u32(v->buf->data + v->pos + 4 * (size_t) i);
}

int64_t
fb_vector_i64(const fb_vector *v, uint32_t i)
{
	int64_t		x;

	memcpy(&x, v->buf->data + v->pos + 8 * (size_t) i, 8);
	return x;
}

float
fb_vector_f32(const fb_vector *v, uint32_t i)
{
	float		x;

	memcpy(&x, v->buf->data + v->pos + 4 * (size_t) i, 4);
	return x;
}

const uint8_t *
fb_vector_bytes(const fb_vector *v)
{
	return v->buf->data + v->pos;
}
