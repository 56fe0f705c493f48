/*
 * test_export_flatbuffer.c
 *	  The FlatBuffers writer of src/core/export: small buffers against bytes
 *	  worked out by hand from the format description (root offset, file
 *	  identifier, vtable in front of its table, soffset to it, uoffsets
 *	  forward, length-prefixed vectors and zero-terminated strings, padding
 *	  for 8-byte fields and 16-byte-aligned vectors), a bigger tree read
 *	  back with the product's own reader, and the latched errors.
 */
#include "unit.h"
#include "export/flatbuffer_writer.h"
#include "nn/flatbuffer.h"

#include <stdint.h>

static void
check_bytes(const uint8_t *got, size_t got_len, const uint8_t *want, size_t want_len)
{
	CHECK_MSG(got_len == want_len, "%zu bytes, want %zu", got_len, want_len);
	for (size_t i = 0; i < got_len && i < want_len; i++)
		CHECK_MSG(got[i] == want[i], "byte %zu is %02x, want %02x", i, got[i], want[i]);
}

/*
 * One table with a ubyte field (id 0) and an int field (id 1), identifier
 * TEST.  The int goes first (largest first): table = soffset, int at +4,
 * ubyte at +8; 3 bytes of padding at the end keep the table 4-aligned.
 */
static void
test_scalar_table_bytes(void)
{
	static const uint8_t want[28] = {
		0x10, 0, 0, 0,			/* root: table at 0 + 16 */
		'T', 'E', 'S', 'T',
		8, 0, 9, 0, 8, 0, 4, 0, /* vtable: 8 bytes, table 9 bytes, id0 at 8, id1 at 4 */
		8, 0, 0, 0,				/* table at 16: vtable at 16 - 8 */
		4, 3, 2, 1,				/* id 1 = 0x01020304 */
		7,						/* id 0 = 7 */
		0, 0, 0
	};
	fbw_builder b;
	fbw_field	f[2];
	fbw_ref		t;
	uint8_t    *out;
	size_t		len;
	cv_error	err;

	fbw_init(&b);
	f[0] = fbw_u8(0, 7);
	f[1] = fbw_i32(1, 0x01020304);
	t = fbw_table(&b, f, 2);
	CHECK(fbw_finish(&b, t, "TEST", &out, &len, &err) == CV_OK);
	check_bytes(out, len, want, sizeof(want));
	cv_free(out);
}

/* A table pointing to a string (id 0) and an int vector (id 1), no identifier. */
static void
test_offsets_string_vector_bytes(void)
{
	static const uint8_t want[44] = {
		12, 0, 0, 0,			/* root: table at 12 */
		8, 0, 12, 0, 4, 0, 8, 0,	/* vtable: 8 bytes, table 12, id0 at 4, id1 at 8 */
		8, 0, 0, 0,				/* table at 12: vtable at 12 - 8 */
		8, 0, 0, 0,				/* id 0 at 16: string at 16 + 8 */
		12, 0, 0, 0,			/* id 1 at 20: vector at 20 + 12 */
		2, 0, 0, 0, 'a', 'b', 0, 0, /* "ab", its zero and one byte of padding */
		2, 0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0	/* [1, 2] */
	};
	static const int32_t v[2] = {1, 2};
	fbw_builder b;
	fbw_field	f[2];
	fbw_ref		vec,
				str,
				t;
	uint8_t    *out;
	size_t		len;
	cv_error	err;

	fbw_init(&b);
	vec = fbw_vector(&b, v, 2, 4, 0);
	str = fbw_string(&b, "ab", 2);
	f[0] = fbw_offset(0, str);
	f[1] = fbw_offset(1, vec);
	t = fbw_table(&b, f, 2);
	CHECK(fbw_finish(&b, t, NULL, &out, &len, &err) == CV_OK);
	check_bytes(out, len, want, sizeof(want));
	cv_free(out);
}

/*
 * Alignment: a 3-byte vector aligned to 16, a table with a ubyte (id 0),
 * an offset (id 1) and a ulong (id 2), identifier TFL3.  The ulong needs
 * the table 8-aligned, the vector's bytes sit at a multiple of 16, and the
 * front is padded so that the whole length (80) is a multiple of 16.
 */
static void
test_alignment_bytes(void)
{
	static const uint8_t want[80] = {
		32, 0, 0, 0,			/* root: table at 32 */
		'T', 'F', 'L', '3',
		0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,	/* 14 bytes of padding */
		10, 0, 21, 0, 20, 0, 16, 0, 8, 0,	/* vtable at 22: id0 at 20, id1 at 16, id2 at 8 */
		10, 0, 0, 0,			/* table at 32: vtable at 32 - 10 */
		0, 0, 0, 0,				/* padding to the ulong */
		0x88, 0x77, 0x66, 0x55, 0x44, 0x33, 0x22, 0x11, /* id 2 at 40 */
		12, 0, 0, 0,			/* id 1 at 48: vector at 48 + 12 */
		5,						/* id 0 at 52 */
		0, 0, 0, 0, 0, 0, 0,	/* padding before the vector */
		3, 0, 0, 0,				/* vector at 60 */
		1, 2, 3,				/* its bytes at 64 */
		0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0
	};
	static const uint8_t bytes[3] = {1, 2, 3};
	fbw_builder b;
	fbw_field	f[3];
	fbw_ref		vec,
				t;
	uint8_t    *out;
	size_t		len;
	cv_error	err;

	fbw_init(&b);
	vec = fbw_vector(&b, bytes, 3, 1, 16);
	f[0] = fbw_u8(0, 5);
	f[1] = fbw_offset(1, vec);
	f[2] = fbw_u64(2, 0x1122334455667788ULL);
	t = fbw_table(&b, f, 3);
	CHECK(fbw_finish(&b, t, "TFL3", &out, &len, &err) == CV_OK);
	check_bytes(out, len, want, sizeof(want));
	cv_free(out);
}

/*
 * A bigger tree read back with src/core/nn/flatbuffer.c: a root with a
 * vector of 300 tables (each an int, a float, a string and a vector of
 * int64) and a large byte vector; every value as written.
 */
static void
test_tree_reads_back(void)
{
	enum
	{
		N = 300, BIG = 100000
	};
	fbw_builder b;
	fbw_ref    *refs = malloc(sizeof(fbw_ref) * N);
	uint8_t    *big = malloc(BIG);
	fbw_ref		items,
				blob,
				root;
	fbw_field	rf[3];
	uint8_t    *out;
	size_t		len;
	cv_error	err;
	fb_buf		buf;
	fb_table	rt;
	fb_vector	v,
				bv;

	for (int i = 0; i < BIG; i++)
		big[i] = (uint8_t) (i * 7);
	fbw_init(&b);
	for (int i = 0; i < N; i++)
	{
		char		name[16];
		int64_t		zp[2] = {i, -i};
		fbw_field	f[4];
		fbw_ref		s,
					z;

		snprintf(name, sizeof(name), "item%d", i);
		s = fbw_string(&b, name, strlen(name));
		z = fbw_vector(&b, zp, 2, 8, 0);
		f[0] = fbw_i32(0, -i);
		f[1] = fbw_f32(1, i * 0.5f);
		f[2] = fbw_offset(2, s);
		f[3] = fbw_offset(3, z);
		refs[i] = fbw_table(&b, f, 4);
	}
	items = fbw_vector_refs(&b, refs, N);
	blob = fbw_vector(&b, big, BIG, 1, 16);
	rf[0] = fbw_u32(0, 3);
	rf[1] = fbw_offset(1, items);
	rf[2] = fbw_offset(4, blob);
	root = fbw_table(&b, rf, 3);
	CHECK(fbw_finish(&b, root, "TFL3", &out, &len, &err) == CV_OK);
	CHECK(len % 16 == 0);
	CHECK(fb_open(out, len, "TFL3", &buf, &rt, &err) == CV_OK);
	{
		uint32_t	version = 0;

		CHECK(fb_get_u32(&rt, 0, 0, &version, "version", &err) == CV_OK && version == 3);
	}
	CHECK(fb_get_vector(&rt, 1, 4, &v, "items", &err) == CV_OK && v.count == N);
	for (uint32_t i = 0; i < v.count && i < N; i++)
	{
		fb_table	t;
		int32_t		a = 0;
		float		x = 0;
		const char *s = NULL;
		size_t		slen = 0;
		fb_vector	z;
		char		want[16];

		snprintf(want, sizeof(want), "item%u", i);
		CHECK(fb_vector_table(&v, i, &t, "item", &err) == CV_OK);
		CHECK(fb_get_i32(&t, 0, 1, &a, "a", &err) == CV_OK && a == -(int32_t) i);
		CHECK(fb_get_f32(&t, 1, 0, &x, "x", &err) == CV_OK && x == i * 0.5f);
		CHECK(fb_get_string(&t, 2, &s, &slen, "s", &err) == CV_OK &&
			  slen == strlen(want) && memcmp(s, want, slen) == 0 && s[slen] == '\0');
		CHECK(fb_get_vector(&t, 3, 8, &z, "z", &err) == CV_OK && z.count == 2 &&
			  fb_vector_i64(&z, 0) == (int64_t) i && fb_vector_i64(&z, 1) == -(int64_t) i);
		CHECK(z.pos % 8 == 0);
	}
	CHECK(fb_get_vector(&rt, 4, 1, &bv, "blob", &err) == CV_OK && bv.count == BIG);
	CHECK(bv.pos % 16 == 0);
	CHECK(bv.count == BIG && memcmp(fb_vector_bytes(&bv), big, BIG) == 0);
	cv_free(out);
	free(refs);
	free(big);
}

/* Bad arguments latch; the first failure is the one reported. */
static void
test_errors_latch(void)
{
	fbw_builder b;
	fbw_field	f[2];
	fbw_ref		s,
				t;
	uint8_t    *out = (uint8_t *) &b;
	size_t		len = 1;
	cv_error	err;

	/* the same field id twice */
	fbw_init(&b);
	f[0] = fbw_u8(1, 1);
	f[1] = fbw_u8(1, 2);
	CHECK(fbw_table(&b, f, 2) == 0);
	s = fbw_string(&b, "x", 1);
	CHECK(s == 0);
	cv_error_clear(&err);
	CHECK(fbw_finish(&b, 4, NULL, &out, &len, &err) == CV_ERR_PARAM);
	CHECK(out == NULL && len == 0);
	CHECK_MSG(strstr(err.message, "field") != NULL, "%s", err.message);

	/* an offset to something not written yet */
	fbw_init(&b);
	s = fbw_string(&b, "x", 1);
	f[0] = fbw_offset(0, s + 100);
	CHECK(fbw_table(&b, f, 1) == 0);
	CHECK(fbw_finish(&b, s, NULL, &out, &len, &err) == CV_ERR_PARAM);

	/* a bad element size, then a good table: still the first failure */
	fbw_init(&b);
	CHECK(fbw_vector(&b, "abc", 1, 3, 0) == 0);
	f[0] = fbw_u8(0, 1);
	t = fbw_table(&b, f, 1);
	CHECK(t == 0);
	cv_error_clear(&err);
	CHECK(fbw_finish(&b, 8, "TFL3", &out, &len, &err) == CV_ERR_PARAM);
	CHECK_MSG(strstr(err.message, "element size") != NULL, "%s", err.message);

	/* an identifier of the wrong length */
	fbw_init(&b);
	f[0] = fbw_u8(0, 1);
	t = fbw_table(&b, f, 1);
	CHECK(t != 0);
	CHECK(fbw_finish(&b, t, "TFL", &out, &len, &err) == CV_ERR_PARAM);
}

/* Absent fields are left out of the vtable, which ends at the last id given. */
static void
test_sparse_ids(void)
{
	fbw_builder b;
	fbw_field	f[1];
	fbw_ref		t;
	uint8_t    *out;
	size_t		len;
	cv_error	err;
	fb_buf		buf;
	fb_table	rt;
	int32_t		v = 0;
	uint8_t		u = 0;

	fbw_init(&b);
	f[0] = fbw_i32(5, -42);
	t = fbw_table(&b, f, 1);
	CHECK(fbw_finish(&b, t, NULL, &out, &len, &err) == CV_OK);
	CHECK(fb_open(out, len, NULL, &buf, &rt, &err) == CV_OK);
	CHECK(rt.vlen == 4 + 2 * 6);
	CHECK(fb_get_i32(&rt, 5, 0, &v, "v", &err) == CV_OK && v == -42);
	CHECK(fb_get_u8(&rt, 2, 9, &u, "u", &err) == CV_OK && u == 9);	/* absent: the default */
	cv_free(out);
}

UNIT_MAIN("export_flatbuffer",
		  UNIT_CASE(test_scalar_table_bytes),
		  UNIT_CASE(test_offsets_string_vector_bytes),
		  UNIT_CASE(test_alignment_bytes),
		  UNIT_CASE(test_tree_reads_back),
		  UNIT_CASE(test_errors_latch),
		  UNIT_CASE(test_sparse_ids))
