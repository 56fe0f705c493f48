/*
 * test_export_onnx_proto.c
 *	  The ONNX protobuf writer: a tiny model against bytes derived by hand
 *	  from onnx.proto's field numbers, the encodings of each attribute kind
 *	  and of little-endian raw_data, a backbone-sized model read back with a
 *	  minimal protobuf reader, the allocation-failure latch at every
 *	  allocation, and the CV_ERR_PARAM cases.
 */
#include "unit.h"
#include "export/onnx_proto.h"

#include <stdint.h>

/* ---- a minimal protobuf reader, for structural checks ---- */

typedef struct pb_field
{
	int			field;
	int			wire;
	uint64_t	value;			/* varint or fixed32 value */
	const uint8_t *data;		/* wire type 2: the bytes */
	size_t		len;
} pb_field;

static bool
read_varint(const uint8_t *p, size_t len, size_t *pos, uint64_t *v)
{
	*v = 0;
	for (int shift = 0; shift < 64; shift += 7)
	{
		if (*pos >= len)
			return false;
		*v |= (uint64_t) (p[*pos] & 0x7F) << shift;
		if ((p[(*pos)++] & 0x80) == 0)
			return true;
	}
	return false;
}

/* The next field of the message p[0..len) at *pos; false at the end or on junk. */
static bool
next_field(const uint8_t *p, size_t len, size_t *pos, pb_field *f)
{
	uint64_t	tag;

	if (*pos >= len || !read_varint(p, len, pos, &tag))
		return false;
	f->field = (int) (tag >> 3);
	f->wire = (int) (tag & 7);
	f->data = NULL;
	f->len = 0;
	switch (f->wire)
	{
		case 0:
			return read_varint(p, len, pos, &f->value);
		case 2:
			if (!read_varint(p, len, pos, &f->value) || f->value > len - *pos)
				return false;
			f->data = p + *pos;
			f->len = (size_t) f->value;
			*pos += f->len;
			return true;
		case 5:
			if (len - *pos < 4)
				return false;
			f->value = p[*pos] | (uint32_t) p[*pos + 1] << 8 |
				(uint32_t) p[*pos + 2] << 16 | (uint32_t) p[*pos + 3] << 24;
			*pos += 4;
			return true;
	}
	return false;
}

/* The first occurrence of needle in hay, or NULL. */
static const uint8_t *
find_bytes(const uint8_t *hay, size_t n, const uint8_t *needle, size_t m)
{
	for (size_t i = 0; m <= n && i <= n - m; i++)
		if (memcmp(hay + i, needle, m) == 0)
			return hay + i;
	return NULL;
}

/* ---- the tiny model ---- */

/*
 * Graph "g": input x float [1,2], initializer c float [2] = {1, -2},
 * node n0 = Add(x, c) -> y with attribute k = 3 (INT), output y float
 * [1,2]; metadata a = b; opset 13, producer "p" version "1".  Every call
 * goes through here, so the allocation sweep below exercises all of them.
 */
static cv_status
tiny_model(uint8_t **out, size_t *len, cv_error *err)
{
	static const int64_t shape[2] = {1, 2};
	static const int64_t cdims[1] = {2};
	static const float cdata[2] = {1.0f, -2.0f};
	const char *in[2] = {"x", "c"};
	const char *outs[1] = {"y"};
	onnx_graph *g = onnx_graph_create("g");
	cv_status	st;
	int			n;

	onnx_graph_input(g, "x", ONNX_FLOAT, 2, shape);
	onnx_initializer_float(g, "c", 1, cdims, cdata);
	n = onnx_node(g, "Add", 2, in, 1, outs);
	onnx_attr_int(g, n, "k", 3);
	onnx_graph_output(g, "y", ONNX_FLOAT, 2, shape);
	onnx_metadata(g, "a", "b");
	st = onnx_serialize(g, 13, "p", "1", out, len, err);
	onnx_graph_free(g);
	return st;
}

/*
 * The expected bytes, derived by hand.  Tag byte = field << 3 | wire type
 * (0 varint, 2 length-delimited, 5 fixed32); a length-delimited field is
 * tag, length, content; fields in ascending number within each message.
 */
static const uint8_t tiny_expected[] = {
	/* ModelProto */
	0x08, 0x08,					/* ir_version (1, varint) = 8 */
	0x12, 0x01, 'p',			/* producer_name (2, len) = "p" */
	0x1a, 0x01, '1',			/* producer_version (3, len) = "1" */
	0x3a, 0x5e,					/* graph (7, len): 94 bytes, below */

	/* GraphProto (94 = node 30 + name 3 + initializer 19 + input 21 + output 21) */
	0x0a, 0x1c,					/* node (1, len): 28 bytes */
	/* NodeProto (28 = 3 + 3 + 3 + 4 + 5 + 10) */
	0x0a, 0x01, 'x',			/* input (1, len) = "x" */
	0x0a, 0x01, 'c',			/* input (1, len) = "c" */
	0x12, 0x01, 'y',			/* output (2, len) = "y" */
	0x1a, 0x02, 'n', '0',		/* name (3, len) = "n0" */
	0x22, 0x03, 'A', 'd', 'd',	/* op_type (4, len) = "Add" */
	0x2a, 0x08,					/* attribute (5, len): 8 bytes */
	/* AttributeProto (8 = 3 + 2 + 3) */
	0x0a, 0x01, 'k',			/* name (1, len) = "k" */
	0x18, 0x03,					/* i (3, varint) = 3 */
	0xa0, 0x01, 0x02,			/* type (20, varint): tag 160 = varint a0 01;
								 * INT = 2 */

	0x12, 0x01, 'g',			/* name (2, len) = "g" */

	0x2a, 0x11,					/* initializer (5, len): 17 bytes */
	/* TensorProto (17 = 2 + 2 + 3 + 10) */
	0x08, 0x02,					/* dims (1, varint) = 2 */
	0x10, 0x01,					/* data_type (2, varint) = FLOAT */
	0x42, 0x01, 'c',			/* name (8, len) = "c" */
	0x4a, 0x08,					/* raw_data (9, len): 8 bytes */
	0x00, 0x00, 0x80, 0x3f,		/* 1.0f = 0x3f800000, little-endian */
	0x00, 0x00, 0x00, 0xc0,		/* -2.0f = 0xc0000000, little-endian */

	0x5a, 0x13,					/* input (11, len): 19 bytes */
	/* ValueInfoProto (19 = 3 + 16) */
	0x0a, 0x01, 'x',			/* name (1, len) = "x" */
	0x12, 0x0e,					/* type (2, len): 14 bytes */
	/* TypeProto */
	0x0a, 0x0c,					/* tensor_type (1, len): 12 bytes */
	/* TypeProto.Tensor (12 = 2 + 10) */
	0x08, 0x01,					/* elem_type (1, varint) = FLOAT */
	0x12, 0x08,					/* shape (2, len): 8 bytes */
	/* TensorShapeProto */
	0x0a, 0x02, 0x08, 0x01,		/* dim (1, len) { dim_value (1, varint) = 1 } */
	0x0a, 0x02, 0x08, 0x02,		/* dim (1, len) { dim_value (1, varint) = 2 } */

	0x62, 0x13,					/* output (12, len): 19 bytes, as the input */
	0x0a, 0x01, 'y',
	0x12, 0x0e,
	0x0a, 0x0c,
	0x08, 0x01,
	0x12, 0x08,
	0x0a, 0x02, 0x08, 0x01,
	0x0a, 0x02, 0x08, 0x02,

	/* back in ModelProto */
	0x42, 0x04,					/* opset_import (8, len): 4 bytes */
	0x0a, 0x00,					/* domain (1, len) = "" */
	0x10, 0x0d,					/* version (2, varint) = 13 */
	0x72, 0x06,					/* metadata_props (14, len): 6 bytes */
	0x0a, 0x01, 'a',			/* key (1, len) = "a" */
	0x12, 0x01, 'b',			/* value (2, len) = "b" */
};

static void
test_tiny_model_bytes(void)
{
	uint8_t    *out = NULL;
	size_t		len = 0;
	cv_error	err;

	cv_error_clear(&err);
	CHECK_MSG(tiny_model(&out, &len, &err) == CV_OK, "%s", err.message);
	CHECK_MSG(len == sizeof(tiny_expected), "%zu bytes", len);
	if (out != NULL && len == sizeof(tiny_expected))
	{
		for (size_t i = 0; i < len; i++)
			CHECK_MSG(out[i] == tiny_expected[i], "byte %zu: %02x, expected %02x",
					  i, out[i], tiny_expected[i]);
	}
	cv_free(out);
}

/* Same calls, same bytes; and serializing one graph twice. */
static void
test_deterministic(void)
{
	static const int64_t shape[1] = {3};
	const char *in[1] = {"x"};
	const char *outs[1] = {"y"};
	uint8_t    *a = NULL,
			   *b = NULL,
			   *c = NULL;
	size_t		la = 0,
				lb = 0,
				lc = 0;
	onnx_graph *g;

	CHECK(tiny_model(&a, &la, NULL) == CV_OK);
	CHECK(tiny_model(&b, &lb, NULL) == CV_OK);
	CHECK(la == lb && a != NULL && b != NULL && memcmp(a, b, la) == 0);
	cv_free(a);
	cv_free(b);

	g = onnx_graph_create("twice");
	onnx_graph_input(g, "x", ONNX_FLOAT, 1, shape);
	onnx_node(g, "Relu", 1, in, 1, outs);
	onnx_graph_output(g, "y", ONNX_FLOAT, 1, shape);
	CHECK(onnx_serialize(g, 13, "p", "1", &a, &la, NULL) == CV_OK);
	CHECK(onnx_serialize(g, 13, "p", "1", &c, &lc, NULL) == CV_OK);
	CHECK(la == lc && a != NULL && c != NULL && memcmp(a, c, la) == 0);
	cv_free(a);
	cv_free(c);
	onnx_graph_free(g);
}

/* raw_data is little-endian IEEE 754 / two's complement whatever the host. */
static void
test_raw_data_little_endian(void)
{
	static const int64_t shape[1] = {1};
	static const int64_t d3[1] = {3};
	static const float f[3] = {1.0f, -2.5f, 0.15625f};
	static const int64_t v[3] = {1, -1, 0x0102030405060708LL};
	static const uint8_t f_raw[] = {
		0x4a, 0x0c,				/* raw_data (9, len): 12 bytes */
		0x00, 0x00, 0x80, 0x3f, /* 1.0f = 0x3f800000 */
		0x00, 0x00, 0x20, 0xc0, /* -2.5f = 0xc0200000 */
		0x00, 0x00, 0x20, 0x3e, /* 0.15625f = 0x3e200000 */
	};
	static const uint8_t v_raw[] = {
		0x10, 0x07,				/* data_type (2, varint) = INT64 */
		0x42, 0x01, 'v',		/* name (8, len) = "v" */
		0x4a, 0x18,				/* raw_data (9, len): 24 bytes */
		0x01, 0, 0, 0, 0, 0, 0, 0,	/* 1 */
		0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, /* -1 */
		0x08, 0x07, 0x06, 0x05, 0x04, 0x03, 0x02, 0x01, /* 0x0102030405060708 */
	};
	const char *in[1] = {"x"};
	const char *outs[1] = {"y"};
	onnx_graph *g = onnx_graph_create("le");
	uint8_t    *out = NULL;
	size_t		len = 0;

	onnx_graph_input(g, "x", ONNX_FLOAT, 1, shape);
	onnx_initializer_float(g, "f", 1, d3, f);
	onnx_initializer_int64(g, "v", 1, d3, v);
	onnx_node(g, "Identity", 1, in, 1, outs);
	onnx_graph_output(g, "y", ONNX_FLOAT, 1, shape);
	CHECK(onnx_graph_num_initializers(g) == 2);
	CHECK(onnx_serialize(g, 13, "p", "1", &out, &len, NULL) == CV_OK);
	CHECK(find_bytes(out, len, f_raw, sizeof(f_raw)) != NULL);
	CHECK(find_bytes(out, len, v_raw, sizeof(v_raw)) != NULL);
	cv_free(out);
	onnx_graph_free(g);
}

/* Each attribute kind, a negative int, an empty optional input, a scalar. */
static void
test_attribute_encodings(void)
{
	static const int64_t perm[4] = {0, 3, 1, 2};
	const char *in[3] = {"x", "", "z"};
	const char *outs[1] = {"y"};
	onnx_graph *g = onnx_graph_create("attrs");
	uint8_t    *out = NULL;
	size_t		len = 0;
	int			n;

	/* AttributeProto "perm": name, four unpacked ints (8, varint: tag 0x40), type INTS */
	static const uint8_t ints_attr[] = {
		0x2a, 0x11,				/* attribute (5, len): 6 + 8 + 3 bytes */
		0x0a, 0x04, 'p', 'e', 'r', 'm',
		0x40, 0x00, 0x40, 0x03, 0x40, 0x01, 0x40, 0x02,
		0xa0, 0x01, 0x07,
	};

	/* "axis" = -1: a ten-byte two's-complement varint */
	static const uint8_t neg_attr[] = {
		0x2a, 0x14,				/* 6 + 11 + 3 */
		0x0a, 0x04, 'a', 'x', 'i', 's',
		0x18, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01,
		0xa0, 0x01, 0x02,
	};

	/* "alpha" = 0.5f: f (2, fixed32: tag 0x15), 0x3f000000 little-endian, type FLOAT */
	static const uint8_t float_attr[] = {
		0x2a, 0x0f,				/* 7 + 5 + 3 */
		0x0a, 0x05, 'a', 'l', 'p', 'h', 'a',
		0x15, 0x00, 0x00, 0x00, 0x3f,
		0xa0, 0x01, 0x01,
	};

	/* "auto_pad" = "VALID": s (4, len: tag 0x22), type STRING */
	static const uint8_t string_attr[] = {
		0x2a, 0x14,				/* 10 + 7 + 3 */
		0x0a, 0x08, 'a', 'u', 't', 'o', '_', 'p', 'a', 'd',
		0x22, 0x05, 'V', 'A', 'L', 'I', 'D',
		0xa0, 0x01, 0x03,
	};

	/* "zero" = 0 is written (proto2 presence) */
	static const uint8_t zero_attr[] = {
		0x2a, 0x0b,				/* 6 + 2 + 3 */
		0x0a, 0x04, 'z', 'e', 'r', 'o',
		0x18, 0x00,
		0xa0, 0x01, 0x02,
	};

	/* the node's inputs, the empty one kept in place */
	static const uint8_t node_inputs[] = {
		0x0a, 0x01, 'x', 0x0a, 0x00, 0x0a, 0x01, 'z', 0x12, 0x01, 'y',
		0x1a, 0x02, 'n', '0',
	};

	/* a rank-0 input: a shape present but empty (tensor_type = elem_type + shape) */
	static const uint8_t scalar_input[] = {
		0x5a, 0x0b,
		0x0a, 0x01, 'x',
		0x12, 0x06, 0x0a, 0x04, 0x08, 0x01, 0x12, 0x00,
	};

	onnx_graph_input(g, "x", ONNX_FLOAT, 0, NULL);
	n = onnx_node(g, "Op", 3, in, 1, outs);
	CHECK(n == 0);
	onnx_attr_ints(g, n, "perm", 4, perm);
	onnx_attr_int(g, n, "axis", -1);
	onnx_attr_float(g, n, "alpha", 0.5f);
	onnx_attr_string(g, n, "auto_pad", "VALID");
	onnx_attr_int(g, n, "zero", 0);
	onnx_graph_output(g, "y", ONNX_FLOAT, 0, NULL);
	CHECK(onnx_graph_num_nodes(g) == 1);
	CHECK(onnx_serialize(g, 17, "p", "1", &out, &len, NULL) == CV_OK);
	CHECK(find_bytes(out, len, ints_attr, sizeof(ints_attr)) != NULL);
	CHECK(find_bytes(out, len, neg_attr, sizeof(neg_attr)) != NULL);
	CHECK(find_bytes(out, len, float_attr, sizeof(float_attr)) != NULL);
	CHECK(find_bytes(out, len, string_attr, sizeof(string_attr)) != NULL);
	CHECK(find_bytes(out, len, zero_attr, sizeof(zero_attr)) != NULL);
	CHECK(find_bytes(out, len, node_inputs, sizeof(node_inputs)) != NULL);
	CHECK(find_bytes(out, len, scalar_input, sizeof(scalar_input)) != NULL);

	/* attributes appear in the order added: perm before axis before alpha */
	CHECK(find_bytes(out, len, ints_attr, sizeof(ints_attr)) <
		  find_bytes(out, len, neg_attr, sizeof(neg_attr)));
	CHECK(find_bytes(out, len, neg_attr, sizeof(neg_attr)) <
		  find_bytes(out, len, float_attr, sizeof(float_attr)));
	cv_free(out);
	onnx_graph_free(g);
}

/*
 * A backbone-sized model: 150 initializers of 25,000 floats (15 MB) and a
 * node per initializer, read back with the reader above: every length
 * consistent, every tensor's raw_data in place, node names n0..n149.
 */
static void
test_big_model_reads_back(void)
{
	enum {NT = 150, NF = 25000};
	static const int64_t io_shape[4] = {1, 224, 224, 3};
	int64_t		dims[2] = {100, NF / 100};
	float	   *data = malloc(sizeof(float) * NF);
	onnx_graph *g = onnx_graph_create("big");
	uint8_t    *out = NULL;
	size_t		len = 0;
	size_t		pos = 0;
	pb_field	f;
	const uint8_t *graph = NULL;
	size_t		graph_len = 0;
	int			inits = 0,
				nodes = 0,
				bad_data = 0,
				bad_names = 0;
	char		prev[16] = "pixels";

	for (int t = 0; t < NT; t++)
	{
		char		name[16],
					outname[16];
		const char *in[2] = {prev, name};
		const char *outs[1] = {outname};

		for (int i = 0; i < NF; i++)
			data[i] = (float) (t * NF + i);
		snprintf(name, sizeof(name), "w%d", t);
		snprintf(outname, sizeof(outname), t == NT - 1 ? "out" : "t%d", t);
		onnx_initializer_float(g, name, 2, dims, data);
		onnx_node(g, "Add", 2, in, 1, outs);
		snprintf(prev, sizeof(prev), "%s", outname);
	}
	onnx_graph_input(g, "pixels", ONNX_FLOAT, 4, io_shape);
	onnx_graph_output(g, "out", ONNX_FLOAT, 4, io_shape);
	CHECK(onnx_graph_num_initializers(g) == NT && onnx_graph_num_nodes(g) == NT);
	CHECK(onnx_serialize(g, 13, "pgvision", "0.1.0", &out, &len, NULL) == CV_OK);
	CHECK(len > (size_t) NT * NF * 4);

	while (next_field(out, len, &pos, &f))
		if (f.field == 7 && f.wire == 2)
		{
			graph = f.data;
			graph_len = f.len;
		}
	CHECK(pos == len);
	CHECK(graph != NULL);
	pos = 0;
	while (graph != NULL && next_field(graph, graph_len, &pos, &f))
	{
		size_t		p2 = 0;
		pb_field	g2;

		if (f.field == 5)		/* initializer */
		{
			const uint8_t *raw = NULL;
			size_t		raw_len = 0;

			while (next_field(f.data, f.len, &p2, &g2))
				if (g2.field == 9)
				{
					raw = g2.data;
					raw_len = g2.len;
				}
			if (raw == NULL || raw_len != NF * 4)
				bad_data++;
			else
			{
				/* first and last element, as little-endian floats */
				float		first,
							last;
				uint32_t	u0 = raw[0] | raw[1] << 8 | raw[2] << 16 | (uint32_t) raw[3] << 24;
				uint32_t	u1 = raw[raw_len - 4] | raw[raw_len - 3] << 8 |
					raw[raw_len - 2] << 16 | (uint32_t) raw[raw_len - 1] << 24;

				memcpy(&first, &u0, 4);
				memcpy(&last, &u1, 4);
				if (first != (float) (inits * NF) || last != (float) (inits * NF + NF - 1))
					bad_data++;
			}
			inits++;
		}
		else if (f.field == 1)	/* node */
		{
			char		expect[16];

			snprintf(expect, sizeof(expect), "n%d", nodes);
			while (next_field(f.data, f.len, &p2, &g2))
				if (g2.field == 3 &&
					(g2.len != strlen(expect) || memcmp(g2.data, expect, g2.len) != 0))
					bad_names++;
			nodes++;
		}
	}
	CHECK(pos == graph_len);
	CHECK_MSG(inits == NT && nodes == NT, "%d initializers, %d nodes", inits, nodes);
	CHECK(bad_data == 0 && bad_names == 0);
	cv_free(out);
	onnx_graph_free(g);
	free(data);
}

/* ---- the allocation-failure latch ---- */

static int	allocs_left;			/* allocations before the hook fails */
static int	allocs_live;			/* allocated and not yet freed */

static void *
limited_alloc(size_t size)
{
	void	   *p;

	if (allocs_left <= 0)
		return NULL;
	allocs_left--;
	p = malloc(size);
	if (p != NULL)
		allocs_live++;
	return p;
}

static void *
limited_realloc(void *ptr, size_t size)
{
	if (allocs_left <= 0)
		return NULL;
	allocs_left--;
	return realloc(ptr, size);
}

static void
counted_free(void *ptr)
{
	allocs_live--;
	free(ptr);
}

/*
 * Fail the k-th allocation for every k: each run must end in CV_ERR_NOMEM
 * (never a crash, never a partial success), free everything it allocated,
 * and once there is memory enough give the hand-checked bytes.
 */
static void
test_nomem_latch_everywhere(void)
{
	cv_allocator limited = {limited_alloc, limited_realloc, counted_free};
	int			k;
	bool		succeeded = false;

	for (k = 0; k < 200 && !succeeded; k++)
	{
		uint8_t    *out = NULL;
		size_t		len = 99;
		cv_error	err;
		cv_status	st;

		cv_error_clear(&err);
		allocs_left = k;
		allocs_live = 0;
		cv_set_allocator(&limited);
		st = tiny_model(&out, &len, &err);
		if (st == CV_OK)
		{
			succeeded = true;
			CHECK(len == sizeof(tiny_expected) && memcmp(out, tiny_expected, len) == 0);
			cv_free(out);
		}
		else
		{
			CHECK_MSG(st == CV_ERR_NOMEM && err.code == CV_ERR_NOMEM,
					  "k %d: %s (%s)", k, cv_status_name(st), err.message);
			CHECK(out == NULL && len == 0);
		}
		cv_set_allocator(NULL);
		CHECK_MSG(allocs_live == 0, "k %d: %d allocations not freed", k, allocs_live);
	}
	CHECK(succeeded);
	/* the tiny model needs a handful of allocations, not one per string */
	CHECK_MSG(k >= 3 && k <= 12, "%d allocations", k - 1);
}

/* After a failed allocation every call is a no-op; counts stop growing. */
static void
test_nomem_later_calls_do_nothing(void)
{
	cv_allocator limited = {limited_alloc, limited_realloc, counted_free};
	static const int64_t shape[1] = {4};
	static float big[40000];
	int64_t		bigdims[1] = {40000};	/* 160 KB: a chunk of its own */
	const char *in[1] = {"x"};
	const char *outs[1] = {"y"};
	onnx_graph *g;
	uint8_t    *out = NULL;
	size_t		len = 0;
	cv_error	err;

	cv_set_allocator(&limited);
	allocs_left = 1000;
	allocs_live = 0;
	g = onnx_graph_create("g");
	onnx_graph_input(g, "x", ONNX_FLOAT, 1, shape);
	CHECK(onnx_node(g, "Relu", 1, in, 1, outs) == 0);
	allocs_left = 0;
	onnx_initializer_float(g, "big", 1, bigdims, big);	/* fails */
	CHECK(onnx_graph_num_initializers(g) == 0);
	allocs_left = 1000;
	CHECK(onnx_node(g, "Relu", 1, in, 1, outs) == -1);
	onnx_attr_int(g, -1, "k", 1);	/* accepted, does nothing */
	onnx_graph_output(g, "y", ONNX_FLOAT, 1, shape);
	CHECK(onnx_graph_num_nodes(g) == 1);
	cv_error_clear(&err);
	CHECK(onnx_serialize(g, 13, "p", "1", &out, &len, &err) == CV_ERR_NOMEM);
	CHECK(err.code == CV_ERR_NOMEM && strstr(err.message, "initializers") != NULL);
	CHECK(out == NULL);
	onnx_graph_free(g);

	/* a NULL graph (from a failed create) is accepted everywhere */
	allocs_left = 0;
	g = onnx_graph_create("g");
	CHECK(g == NULL);
	onnx_graph_input(g, "x", ONNX_FLOAT, 1, shape);
	CHECK(onnx_node(g, "Relu", 1, in, 1, outs) == -1);
	onnx_attr_ints(g, -1, "k", 1, shape);
	onnx_metadata(g, "a", "b");
	CHECK(onnx_graph_num_nodes(g) == 0 && onnx_graph_num_initializers(g) == 0);
	CHECK(onnx_serialize(g, 13, "p", "1", &out, &len, &err) == CV_ERR_NOMEM);
	onnx_graph_free(g);
	cv_set_allocator(NULL);
	CHECK(allocs_live == 0);
}

/* ---- bad arguments ---- */

enum bad_case
{
	BAD_NONE, BAD_GRAPH_NAME, BAD_INPUT_NAME, BAD_RANK_NEG, BAD_RANK_9,
	BAD_DIM_NEG, BAD_DIMS_NULL, BAD_ELEM_TYPE, BAD_INIT_NAME, BAD_INIT_DATA,
	BAD_INIT_RANK, BAD_OP_TYPE, BAD_INPUTS_NULL, BAD_INPUT_NULL, BAD_NO_OUTPUTS,
	BAD_OUTPUT_NULL, BAD_ATTR_NODE, BAD_ATTR_NAME, BAD_INTS_NEG, BAD_INTS_NULL,
	BAD_STRING_NULL, BAD_META_KEY, BAD_META_VALUE, BAD_NO_INPUTS, BAD_NO_GRAPH_OUTPUTS,
	BAD_OPSET, BAD_PRODUCER, BAD_OUT_NULL, BAD_COUNT
};

/* The tiny model with one thing wrong; what onnx_serialize says. */
static cv_status
bad_model(enum bad_case bad, cv_error *err)
{
	static const int64_t shape[2] = {1, 2};
	static const int64_t negdim[2] = {1, -2};
	static const int64_t nine[9] = {1, 1, 1, 1, 1, 1, 1, 1, 1};
	static const float cdata[2] = {1.0f, -2.0f};
	const char *in[2] = {"x", bad == BAD_INPUT_NULL ? NULL : "c"};
	const char *outs[1] = {bad == BAD_OUTPUT_NULL ? NULL : "y"};
	onnx_graph *g = onnx_graph_create(bad == BAD_GRAPH_NAME ? NULL : "g");
	uint8_t    *out = NULL;
	size_t		len = 0;
	cv_status	st;
	int			n;

	onnx_graph_input(g, bad == BAD_INPUT_NAME ? NULL : "x",
					 bad == BAD_ELEM_TYPE ? (onnx_elem_type) 42 : ONNX_FLOAT,
					 bad == BAD_RANK_NEG ? -1 : bad == BAD_RANK_9 ? 9 : 2,
					 bad == BAD_DIM_NEG ? negdim : bad == BAD_DIMS_NULL ? NULL :
					 bad == BAD_RANK_9 ? nine : shape);
	if (bad == BAD_NO_INPUTS)
	{
		onnx_graph_free(g);
		g = onnx_graph_create("g");
	}
	onnx_initializer_float(g, bad == BAD_INIT_NAME ? NULL : "c",
						   bad == BAD_INIT_RANK ? 9 : 1, bad == BAD_INIT_RANK ? nine : &shape[1],
						   bad == BAD_INIT_DATA ? NULL : cdata);
	n = onnx_node(g, bad == BAD_OP_TYPE ? NULL : "Add",
				  2, bad == BAD_INPUTS_NULL ? NULL : in,
				  bad == BAD_NO_OUTPUTS ? 0 : 1, outs);
	onnx_attr_int(g, bad == BAD_ATTR_NODE ? n + 5 : n, bad == BAD_ATTR_NAME ? NULL : "k", 3);
	onnx_attr_ints(g, n, "perm", bad == BAD_INTS_NEG ? -1 : 2,
				   bad == BAD_INTS_NULL ? NULL : shape);
	onnx_attr_string(g, n, "s", bad == BAD_STRING_NULL ? NULL : "v");
	if (bad != BAD_NO_GRAPH_OUTPUTS)
		onnx_graph_output(g, "y", ONNX_FLOAT, 2, shape);
	onnx_metadata(g, bad == BAD_META_KEY ? NULL : "a", bad == BAD_META_VALUE ? NULL : "b");
	st = onnx_serialize(g, bad == BAD_OPSET ? 0 : 13, bad == BAD_PRODUCER ? NULL : "p", "1",
						bad == BAD_OUT_NULL ? NULL : &out, &len, err);
	CHECK(st == CV_OK || out == NULL);
	cv_free(out);
	onnx_graph_free(g);
	return st;
}

static void
test_param_errors(void)
{
	cv_error	err;

	for (int bad = 0; bad < BAD_COUNT; bad++)
	{
		cv_status	st;

		cv_error_clear(&err);
		st = bad_model((enum bad_case) bad, &err);
		if (bad == BAD_NONE)
			CHECK_MSG(st == CV_OK, "%s", err.message);
		else
			CHECK_MSG(st == CV_ERR_PARAM && err.code == CV_ERR_PARAM && err.message[0] != '\0',
					  "case %d: %s (%s)", bad, cv_status_name(st), err.message);
	}

	/* the messages name the culprit */
	cv_error_clear(&err);
	bad_model(BAD_RANK_9, &err);
	CHECK_MSG(strstr(err.message, "\"x\"") != NULL && strstr(err.message, "rank 9") != NULL,
			  "%s", err.message);
	cv_error_clear(&err);
	bad_model(BAD_DIM_NEG, &err);
	CHECK_MSG(strstr(err.message, "-2") != NULL, "%s", err.message);
	cv_error_clear(&err);
	bad_model(BAD_ATTR_NODE, &err);
	CHECK_MSG(strstr(err.message, "node 5") != NULL, "%s", err.message);

	/* err may be NULL */
	CHECK(bad_model(BAD_RANK_NEG, NULL) == CV_ERR_PARAM);
}

/* The first failure is the one reported, and nothing is added after it. */
static void
test_first_failure_wins(void)
{
	static const int64_t shape[1] = {2};
	const char *in[1] = {"x"};
	const char *outs[1] = {"y"};
	onnx_graph *g = onnx_graph_create("g");
	uint8_t    *out = NULL;
	size_t		len = 0;
	cv_error	err;

	onnx_graph_input(g, "x", ONNX_FLOAT, -3, shape);
	onnx_graph_input(g, NULL, ONNX_FLOAT, 1, shape);
	onnx_graph_input(g, "x2", ONNX_FLOAT, 1, shape);
	CHECK(onnx_node(g, "Relu", 1, in, 1, outs) == -1);
	onnx_graph_output(g, "y", ONNX_FLOAT, 1, shape);
	CHECK(onnx_graph_num_nodes(g) == 0);
	cv_error_clear(&err);
	CHECK(onnx_serialize(g, 13, "p", "1", &out, &len, &err) == CV_ERR_PARAM);
	CHECK_MSG(strstr(err.message, "rank -3") != NULL, "%s", err.message);
	onnx_graph_free(g);
}

UNIT_MAIN("export_onnx_proto",
		  UNIT_CASE(test_tiny_model_bytes),
		  UNIT_CASE(test_deterministic),
		  UNIT_CASE(test_raw_data_little_endian),
		  UNIT_CASE(test_attribute_encodings),
		  UNIT_CASE(test_big_model_reads_back),
		  UNIT_CASE(test_nomem_latch_everywhere),
		  UNIT_CASE(test_nomem_later_calls_do_nothing),
		  UNIT_CASE(test_param_errors),
		  UNIT_CASE(test_first_failure_wins))
