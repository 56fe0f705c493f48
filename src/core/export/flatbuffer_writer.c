/*
 * flatbuffer_writer.c
 *	  FlatBuffers, written back to front (flatbuffer_writer.h).
 *
 * The layout rules followed here are those of the FlatBuffers format
 * description (flatbuffers.dev, "FlatBuffers internals"): a buffer starts
 * with the uoffset of its root table, optionally followed by a 4-byte file
 * identifier; a table starts with an soffset to its vtable (vtable address
 * = table address - soffset); a vtable is uint16 [its size in bytes, the
 * table's inline size, one offset per field id from the table's start, 0
 * for absent]; a uoffset is added to its own address to reach its target,
 * so targets lie at higher addresses; vectors and strings are a uint32
 * count followed by the elements (strings also by a zero byte).
 */
#include "flatbuffer_writer.h"

#include <stdio.h>
#include <string.h>

#define FBW_MAX_SIZE ((size_t) 0x7fffffff)	/* uoffsets and soffsets are 32-bit */

static void
latch(fbw_builder *b, cv_status st, const char *what)
{
	if (b->failed != CV_OK)
		return;
	b->failed = st;
	snprintf(b->message, sizeof(b->message), "%s", what);
}

void
fbw_init(fbw_builder *b)
{
	memset(b, 0, sizeof(*b));
	b->max_align = 4;
	b->failed = CV_OK;
}

void
fbw_free(fbw_builder *b)
{
	cv_free(b->buf);
	fbw_init(b);
}

/* Room for n more bytes in front of the data; false once failed. */
static bool
reserve(fbw_builder *b, size_t n)
{
	size_t		cap;
	uint8_t    *nb;

	if (b->failed != CV_OK)
		return false;
	if (n > FBW_MAX_SIZE - b->used)
	{
		latch(b, CV_ERR_LIMIT, "a flatbuffer over 2 GiB");
		return false;
	}
	if (b->used + n <= b->cap)
		return true;
	cap = b->cap ? b->cap : 4096;
	while (cap < b->used + n)
		cap *= 2;
	nb = cv_malloc(cap);
	if (nb == NULL)
	{
		latch(b, CV_ERR_NOMEM, "out of memory writing a flatbuffer");
		return false;
	}
	if (b->used)
		memcpy(nb + cap - b->used, b->buf + b->cap - b->used, b->used);
	cv_free(b->buf);
	b->buf = nb;
	b->cap = cap;
	return true;
}

static void
prepend(fbw_builder *b, const void *data, size_t n)
{
	if (n == 0 || !reserve(b, n))
		return;
	b->used += n;
	memcpy(b->buf + b->cap - b->used, data, n);
}

static void
prepend_zeros(fbw_builder *b, size_t n)
{
	if (n == 0 || !reserve(b, n))
		return;
	b->used += n;
	memset(b->buf + b->cap - b->used, 0, n);
}

/*
 * Zero padding so that after `additional` more bytes the distance from the
 * end is a multiple of align (a power of two).
 */
static void
prep(fbw_builder *b, size_t align, size_t additional)
{
	size_t		pad;

	if (align > b->max_align)
		b->max_align = align;
	pad = (align - ((b->used + additional) & (align - 1))) & (align - 1);
	prepend_zeros(b, pad);
}

static bool
valid_ref(const fbw_builder *b, fbw_ref r)
{
	return r != 0 && r <= b->used;
}

/* ---- fields ---- */

static fbw_field
scalar_field(int id, int size, uint64_t bits)
{
	fbw_field	f;

	f.id = id;
	f.size = size;
	f.is_ref = false;
	f.bits = bits;
	return f;
}

fbw_field
fbw_u8(int id, uint8_t v)
{
	return scalar_field(id, 1, v);
}

fbw_field
fbw_i8(int id, int8_t v)
{
	return scalar_field(id, 1, (uint8_t) v);
}

fbw_field
fbw_i32(int id, int32_t v)
{
	return scalar_field(id, 4, (uint32_t) v);
}

fbw_field
fbw_u32(int id, uint32_t v)
{
	return scalar_field(id, 4, v);
}

fbw_field
fbw_f32(int id, float v)
{
	uint32_t	bits;

	memcpy(&bits, &v, 4);
	return scalar_field(id, 4, bits);
}

fbw_field
fbw_u64(int id, uint64_t v)
{
	return scalar_field(id, 8, v);
}

fbw_field
fbw_offset(int id, fbw_ref target)
{
	fbw_field	f = scalar_field(id, 4, target);

	f.is_ref = true;
	return f;
}

/* ---- objects ---- */

fbw_ref
fbw_vector(fbw_builder *b, const void *elems, uint32_t count, size_t elem_size, size_t align)
{
	size_t		bytes;
	size_t		a;

	if (b->failed != CV_OK)
		return 0;
	if ((elem_size != 1 && elem_size != 2 && elem_size != 4 && elem_size != 8) ||
		(align & (align - 1)) != 0 || align > 64 || (count > 0 && elems == NULL))
	{
		latch(b, CV_ERR_PARAM, "a flatbuffer vector with a bad element size or alignment");
		return 0;
	}
	if (count > FBW_MAX_SIZE / elem_size)
	{
		latch(b, CV_ERR_LIMIT, "a flatbuffer over 2 GiB");
		return 0;
	}
	bytes = (size_t) count * elem_size;
	a = elem_size > 4 ? elem_size : 4;
	if (align > a)
		a = align;
	prep(b, a, bytes);
	prepend(b, elems, bytes);
	prepend(b, &count, 4);
	return b->failed == CV_OK ? (fbw_ref) b->used : 0;
}

fbw_ref
fbw_vector_refs(fbw_builder *b, const fbw_ref *refs, uint32_t count)
{
	if (b->failed != CV_OK)
		return 0;
	if (count > 0 && refs == NULL)
	{
		latch(b, CV_ERR_PARAM, "a flatbuffer vector of offsets without them");
		return 0;
	}
	prep(b, 4, (size_t) count * 4);
	for (uint32_t i = count; i-- > 0;)
	{
		uint32_t	v;

		if (!valid_ref(b, refs[i]))
		{
			latch(b, CV_ERR_PARAM, "a flatbuffer offset to nothing written");
			return 0;
		}
		/* this element will sit at distance used + 4 from the end */
		v = (uint32_t) (b->used + 4 - refs[i]);
		prepend(b, &v, 4);
	}
	prepend(b, &count, 4);
	return b->failed == CV_OK ? (fbw_ref) b->used : 0;
}

fbw_ref
fbw_string(fbw_builder *b, const char *s, size_t n)
{
	uint32_t	len = (uint32_t) n;
	uint8_t		zero = 0;

	if (b->failed != CV_OK)
		return 0;
	if ((n > 0 && s == NULL) || n > FBW_MAX_SIZE - 8)
	{
		latch(b, CV_ERR_PARAM, "a flatbuffer string without its bytes");
		return 0;
	}
	prep(b, 4, n + 1);
	prepend(b, &zero, 1);
	prepend(b, s, n);
	prepend(b, &len, 4);
	return b->failed == CV_OK ? (fbw_ref) b->used : 0;
}

fbw_ref
fbw_table(fbw_builder *b, const fbw_field *fields, int nfields)
{
	uint8_t		inl[4 + FBW_MAX_FIELDS * 16];
	uint16_t	vt[2 + FBW_MAX_FIELDS];
	int			order[FBW_MAX_FIELDS];
	int			nslots = 0;
	size_t		offsets[FBW_MAX_FIELDS];
	size_t		size = 4,
				align = 4;
	int32_t		soff;
	fbw_ref		t;
	bool		seen[FBW_MAX_FIELDS] = {false};

	if (b->failed != CV_OK)
		return 0;
	if (nfields < 0 || nfields > FBW_MAX_FIELDS || (nfields > 0 && fields == NULL))
	{
		latch(b, CV_ERR_PARAM, "a flatbuffer table with too many fields");
		return 0;
	}
	for (int i = 0; i < nfields; i++)
	{
		const fbw_field *f = &fields[i];

		if (f->id < 0 || f->id >= FBW_MAX_FIELDS || seen[f->id] ||
			(f->size != 1 && f->size != 2 && f->size != 4 && f->size != 8) ||
			(f->is_ref && (f->size != 4 || !valid_ref(b, (fbw_ref) f->bits))))
		{
			latch(b, CV_ERR_PARAM, "a flatbuffer table field with a bad id, size or offset");
			return 0;
		}
		seen[f->id] = true;
		if (f->id + 1 > nslots)
			nslots = f->id + 1;
		order[i] = i;
	}
	/* largest first (stable), so that alignment costs the least padding */
	for (int i = 1; i < nfields; i++)
		for (int j = i; j > 0 && fields[order[j]].size > fields[order[j - 1]].size; j--)
		{
			int			x = order[j];

			order[j] = order[j - 1];
			order[j - 1] = x;
		}
	for (int i = 0; i < nfields; i++)
	{
		size_t		s = (size_t) fields[order[i]].size;

		size = (size + s - 1) & ~(s - 1);
		offsets[order[i]] = size;
		size += s;
		if (s > align)
			align = s;
	}
	/* the table starts at distance t from the end, aligned to its largest field */
	prep(b, align, size);
	if (!reserve(b, size + 4 + 2 * (size_t) nslots))
		return 0;
	t = (fbw_ref) (b->used + size);
	memset(inl, 0, size);
	memset(vt, 0, sizeof(vt));
	for (int i = 0; i < nfields; i++)
	{
		const fbw_field *f = &fields[i];
		uint64_t	bits = f->bits;

		if (f->is_ref)
			bits = (uint32_t) (t - offsets[i] - (fbw_ref) f->bits);
		memcpy(inl + offsets[i], &bits, (size_t) f->size);	/* little-endian host */
		vt[2 + f->id] = (uint16_t) offsets[i];
	}
	vt[0] = (uint16_t) (4 + 2 * nslots);
	vt[1] = (uint16_t) size;
	soff = vt[0];				/* the vtable sits right in front of the table */
	memcpy(inl, &soff, 4);
	prepend(b, inl, size);
	prepend(b, vt, vt[0]);
	return b->failed == CV_OK ? t : 0;
}

cv_status
fbw_finish(fbw_builder *b, fbw_ref root, const char *ident, uint8_t **out,
		   size_t *out_len, cv_error *err)
{
	uint32_t	v;
	cv_status	st;

	*out = NULL;
	*out_len = 0;
	if (b->failed == CV_OK && (!valid_ref(b, root) || (ident != NULL && strlen(ident) != 4)))
		latch(b, CV_ERR_PARAM, "a flatbuffer without its root, or an identifier not of 4 bytes");
	prep(b, b->max_align, ident != NULL ? 8 : 4);
	if (ident != NULL)
		prepend(b, ident, 4);
	v = (uint32_t) (b->used + 4 - root);
	prepend(b, &v, 4);
	if (b->failed == CV_OK)
	{
		*out = cv_malloc(b->used);
		if (*out == NULL)
			latch(b, CV_ERR_NOMEM, "out of memory writing a flatbuffer");
		else
		{
			memcpy(*out, b->buf + b->cap - b->used, b->used);
			*out_len = b->used;
		}
	}
	if ((st = b->failed) != CV_OK)
		cv_fail(err, st, "%s", b->message);
	fbw_free(b);
	return st;
}
