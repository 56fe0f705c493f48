/*
 * onnx_proto.c
 *	  The ONNX model writer of onnx_proto.h: records what the caller adds,
 *	  then encodes it as protocol-buffer bytes in one exact-size buffer.
 *
 * The bytes themselves (wire format, field numbers, encoding choices) are
 * onnx_encode.c's; this file records the graph for it
 * (onnx_proto_internal.h).
 *
 * Memory: copies of strings, dims and tensor data live in an arena of
 * chunks owned by the graph (a tensor of more than a quarter chunk gets a
 * chunk of its own), so a failure half-way through a call leaks nothing
 * and onnx_graph_free is one walk.  The record lists grow by doubling with
 * cv_realloc.  The first failure (out of memory, a bad argument, a tensor
 * too big) latches in the graph with its message; later calls do nothing
 * and onnx_serialize reports it.
 */
#include "onnx_proto_internal.h"

#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#define ARENA_CHUNK_SIZE 65536

/* ---- failure latch ---- */

static bool
latched(const onnx_graph *g)
{
	return g == NULL || g->failure != CV_OK;
}

static void
latch(onnx_graph *g, cv_status code, const char *fmt,...)
__attribute__((format(printf, 3, 4)));

static void
latch(onnx_graph *g, cv_status code, const char *fmt,...)
{
	va_list		args;

	if (g->failure != CV_OK)
		return;					/* the first failure is the one to report */
	g->failure = code;
	va_start(args, fmt);
	vsnprintf(g->message, sizeof(g->message), fmt, args);
	va_end(args);
}

static void
latch_nomem(onnx_graph *g, const char *what)
{
	latch(g, CV_ERR_NOMEM, "out of memory building the onnx graph (%s)", what);
}

/* ---- arena ---- */

static void *
arena_alloc(onnx_graph *g, size_t size)
{
	arena_chunk *head = g->arena;
	arena_chunk *c;
	size_t		need;
	size_t		chunk_bytes;
	uint8_t    *p;

	if (size > SIZE_MAX - 7)
		return NULL;
	need = (size + 7) & ~(size_t) 7;
	if (head != NULL && head->size - head->used >= need)
	{
		p = (uint8_t *) head->data + head->used;
		head->used += need;
		return p;
	}

	/*
	 * A big block gets a chunk of its own, linked behind the current one so
	 * that the current chunk's free space stays usable for small copies.
	 */
	if (need > ARENA_CHUNK_SIZE / 4)
	{
		if (!cv_add_size(offsetof(arena_chunk, data), need, &chunk_bytes))
			return NULL;
		c = cv_malloc(chunk_bytes);
		if (c == NULL)
			return NULL;
		c->used = need;
		c->size = need;
		if (head != NULL)
		{
			c->next = head->next;
			head->next = c;
		}
		else
		{
			c->next = NULL;
			g->arena = c;
		}
		return c->data;
	}

	c = cv_malloc(offsetof(arena_chunk, data) + ARENA_CHUNK_SIZE);
	if (c == NULL)
		return NULL;
	c->next = head;
	c->used = need;
	c->size = ARENA_CHUNK_SIZE;
	g->arena = c;
	return c->data;
}

static const char *
arena_strdup(onnx_graph *g, const char *s)
{
	size_t		n = strlen(s);
	char	   *p = arena_alloc(g, n + 1);

	if (p != NULL)
		memcpy(p, s, n + 1);
	return p;
}

/* A copy of n strings (none NULL, checked by the caller). */
static const char **
arena_strdup_array(onnx_graph *g, int n, const char *const *s)
{
	const char **p;

	if (n == 0)
		return NULL;
	p = arena_alloc(g, (size_t) n * sizeof(char *));
	if (p == NULL)
		return NULL;
	for (int i = 0; i < n; i++)
		if ((p[i] = arena_strdup(g, s[i])) == NULL)
			return NULL;
	return p;
}

/* A copy of n int64 values; *ok false when out of memory. */
static const int64_t *
arena_int64_copy(onnx_graph *g, int n, const int64_t *v, bool *ok)
{
	int64_t    *p;

	*ok = true;
	if (n == 0)
		return NULL;
	p = arena_alloc(g, (size_t) n * sizeof(int64_t));
	if (p == NULL)
	{
		*ok = false;
		return NULL;
	}
	memcpy(p, v, (size_t) n * sizeof(int64_t));
	return p;
}

/*
 * Room for one more record in a list of *cap records of elem bytes holding
 * count: the list, possibly moved, or NULL with the failure latched (the
 * old list is then still valid and still owned by the graph).
 */
static void *
grow(onnx_graph *g, void *items, int *cap, int count, size_t elem, const char *what)
{
	int			new_cap;
	size_t		bytes;
	void	   *p;

	if (count < *cap)
		return items;
	if (*cap > INT_MAX / 2)
	{
		latch(g, CV_ERR_LIMIT, "too many %s in the onnx graph", what);
		return NULL;
	}
	new_cap = *cap == 0 ? 8 : *cap * 2;
	if (!cv_mul_size((size_t) new_cap, elem, &bytes) ||
		(p = cv_realloc(items, bytes)) == NULL)
	{
		latch_nomem(g, what);
		return NULL;
	}
	*cap = new_cap;
	return p;
}

/* ---- argument checks ---- */

static bool
valid_elem_type(onnx_elem_type type)
{
	return type == ONNX_FLOAT || type == ONNX_UINT8 || type == ONNX_INT32 ||
		type == ONNX_INT64 || type == ONNX_UINT64;
}

static size_t
elem_size(onnx_elem_type type)
{
	return type == ONNX_FLOAT || type == ONNX_INT32 ? 4 : type == ONNX_UINT8 ? 1 : 8;
}

/*
 * Check a shape (rank 0..ONNX_MAX_RANK, dims present and non-negative);
 * on success *count is the element count.  what and name go in the message.
 */
static bool
check_shape(onnx_graph *g, const char *what, const char *name, int rank,
			const int64_t *dims, size_t *count)
{
	size_t		n = 1;

	if (rank < 0 || rank > ONNX_MAX_RANK)
	{
		latch(g, CV_ERR_PARAM, "onnx %s \"%s\" has rank %d, expected 0 to %d",
			  what, name, rank, ONNX_MAX_RANK);
		return false;
	}
	if (rank > 0 && dims == NULL)
	{
		latch(g, CV_ERR_PARAM, "onnx %s \"%s\" has rank %d but no dims", what, name, rank);
		return false;
	}
	for (int i = 0; i < rank; i++)
	{
		if (dims[i] < 0)
		{
			latch(g, CV_ERR_PARAM, "onnx %s \"%s\" has dim %d = %lld, expected >= 0",
				  what, name, i, (long long) dims[i]);
			return false;
		}
		if ((uint64_t) dims[i] > SIZE_MAX || !cv_mul_size(n, (size_t) dims[i], &n))
		{
			latch(g, CV_ERR_LIMIT, "onnx %s \"%s\" has too many elements", what, name);
			return false;
		}
	}
	*count = n;
	return true;
}

/* ---- building ---- */

onnx_graph *
onnx_graph_create(const char *name)
{
	onnx_graph *g = cv_calloc(1, sizeof(onnx_graph));

	if (g == NULL)
		return NULL;
	g->failure = CV_OK;
	if (name == NULL)
	{
		/* a caller's bug, reported by onnx_serialize like the others */
		g->name = "";
		latch(g, CV_ERR_PARAM, "onnx graph name is NULL");
		return g;
	}
	g->name = arena_strdup(g, name);
	if (g->name == NULL)
	{
		onnx_graph_free(g);
		return NULL;
	}
	return g;
}

void
onnx_graph_free(onnx_graph *g)
{
	arena_chunk *c;

	if (g == NULL)
		return;
	c = g->arena;
	while (c != NULL)
	{
		arena_chunk *next = c->next;

		cv_free(c);
		c = next;
	}
	for (int i = 0; i < g->n_nodes; i++)
		cv_free(g->nodes[i].attrs);
	cv_free(g->nodes);
	cv_free(g->inits);
	cv_free(g->inputs);
	cv_free(g->outputs);
	cv_free(g->meta);
	cv_free(g);
}

/* Graph input or output: list is the graph's inputs or outputs. */
static void
add_value(onnx_graph *g, bool is_input, const char *name, onnx_elem_type type,
		  int rank, const int64_t *dims)
{
	const char *what = is_input ? "input" : "output";
	value_rec **list = is_input ? &g->inputs : &g->outputs;
	int		   *count = is_input ? &g->n_inputs : &g->n_outputs;
	int		   *cap = is_input ? &g->cap_inputs : &g->cap_outputs;
	value_rec  *v;
	size_t		elements;
	bool		ok;

	if (name == NULL || name[0] == '\0')
	{
		latch(g, CV_ERR_PARAM, "onnx graph %s without a name", what);
		return;
	}
	if (!valid_elem_type(type))
	{
		latch(g, CV_ERR_PARAM, "onnx graph %s \"%s\" has unknown element type %d",
			  what, name, (int) type);
		return;
	}
	if (!check_shape(g, what, name, rank, dims, &elements))
		return;
	if ((v = grow(g, *list, cap, *count, sizeof(value_rec), what)) == NULL)
		return;
	*list = v;
	v = &v[*count];
	v->type = type;
	v->rank = rank;
	v->name = arena_strdup(g, name);
	v->dims = arena_int64_copy(g, rank, dims, &ok);
	if (v->name == NULL || !ok)
	{
		latch_nomem(g, what);
		return;
	}
	(*count)++;
}

void
onnx_graph_input(onnx_graph *g, const char *name, onnx_elem_type type,
				 int rank, const int64_t *dims)
{
	if (!latched(g))
		add_value(g, true, name, type, rank, dims);
}

void
onnx_graph_output(onnx_graph *g, const char *name, onnx_elem_type type,
				  int rank, const int64_t *dims)
{
	if (!latched(g))
		add_value(g, false, name, type, rank, dims);
}

/*
 * A new initializer record with a copy of name and dims and room for its
 * raw bytes (count elements of type), or NULL with the failure latched.
 */
static tensor_rec *
add_initializer(onnx_graph *g, const char *name, onnx_elem_type type, int rank,
				const int64_t *dims, const void *data)
{
	tensor_rec *t;
	size_t		count;
	size_t		bytes;
	bool		ok;

	if (name == NULL || name[0] == '\0')
	{
		latch(g, CV_ERR_PARAM, "onnx initializer without a name");
		return NULL;
	}
	if (!check_shape(g, "initializer", name, rank, dims, &count))
		return NULL;
	if (!cv_mul_size(count, elem_size(type), &bytes) || bytes > ONNX_MAX_MODEL_BYTES)
	{
		latch(g, CV_ERR_LIMIT, "onnx initializer \"%s\" exceeds 2 GiB", name);
		return NULL;
	}
	if (count > 0 && data == NULL)
	{
		latch(g, CV_ERR_PARAM, "onnx initializer \"%s\" has no data", name);
		return NULL;
	}
	if ((t = grow(g, g->inits, &g->cap_inits, g->n_inits, sizeof(tensor_rec),
				  "initializers")) == NULL)
		return NULL;
	g->inits = t;
	t = &t[g->n_inits];
	t->type = type;
	t->rank = rank;
	t->raw_len = bytes;
	t->name = arena_strdup(g, name);
	t->dims = arena_int64_copy(g, rank, dims, &ok);
	t->raw = bytes > 0 ? arena_alloc(g, bytes) : NULL;
	if (t->name == NULL || !ok || (bytes > 0 && t->raw == NULL))
	{
		latch_nomem(g, "initializers");
		return NULL;
	}
	g->n_inits++;
	return t;
}

/*
 * raw_data must be little-endian whatever the host: bytes are written by
 * shifts, not by copying the host's representation.
 */
void
onnx_initializer_float(onnx_graph *g, const char *name, int rank,
					   const int64_t *dims, const float *data)
{
	tensor_rec *t;
	uint8_t    *p;
	size_t		n;

	if (latched(g) || (t = add_initializer(g, name, ONNX_FLOAT, rank, dims, data)) == NULL)
		return;
	p = (uint8_t *) t->raw;
	n = t->raw_len / 4;
	for (size_t i = 0; i < n; i++)
	{
		uint32_t	u;

		memcpy(&u, &data[i], 4);
		p[4 * i] = (uint8_t) u;
		p[4 * i + 1] = (uint8_t) (u >> 8);
		p[4 * i + 2] = (uint8_t) (u >> 16);
		p[4 * i + 3] = (uint8_t) (u >> 24);
	}
}

void
onnx_initializer_int64(onnx_graph *g, const char *name, int rank,
					   const int64_t *dims, const int64_t *data)
{
	tensor_rec *t;
	uint8_t    *p;
	size_t		n;

	if (latched(g) || (t = add_initializer(g, name, ONNX_INT64, rank, dims, data)) == NULL)
		return;
	p = (uint8_t *) t->raw;
	n = t->raw_len / 8;
	for (size_t i = 0; i < n; i++)
	{
		uint64_t	u = (uint64_t) data[i];

		for (int b = 0; b < 8; b++)
			p[8 * i + b] = (uint8_t) (u >> (8 * b));
	}
}

void
onnx_initializer_uint64(onnx_graph *g, const char *name, int rank,
						const int64_t *dims, const uint64_t *data)
{
	tensor_rec *t;
	uint8_t    *p;
	size_t		n;

	if (latched(g) || (t = add_initializer(g, name, ONNX_UINT64, rank, dims, data)) == NULL)
		return;
	p = (uint8_t *) t->raw;
	n = t->raw_len / 8;
	for (size_t i = 0; i < n; i++)
		for (int b = 0; b < 8; b++)
			p[8 * i + b] = (uint8_t) (data[i] >> (8 * b));
}

void
onnx_initializer_int32(onnx_graph *g, const char *name, int rank,
					   const int64_t *dims, const int32_t *data)
{
	tensor_rec *t;
	uint8_t    *p;
	size_t		n;

	if (latched(g) || (t = add_initializer(g, name, ONNX_INT32, rank, dims, data)) == NULL)
		return;
	p = (uint8_t *) t->raw;
	n = t->raw_len / 4;
	for (size_t i = 0; i < n; i++)
	{
		uint32_t	u = (uint32_t) data[i];

		for (int b = 0; b < 4; b++)
			p[4 * i + b] = (uint8_t) (u >> (8 * b));
	}
}

void
onnx_initializer_uint8(onnx_graph *g, const char *name, int rank,
					   const int64_t *dims, const uint8_t *data)
{
	tensor_rec *t;

	if (latched(g) || (t = add_initializer(g, name, ONNX_UINT8, rank, dims, data)) == NULL)
		return;
	if (t->raw_len > 0)
		memcpy((uint8_t *) t->raw, data, t->raw_len);
}

/* Names of a node's inputs or outputs: present, none NULL. */
static bool
check_names(onnx_graph *g, const char *op_type, const char *what, int n,
			const char *const *names)
{
	if (n < 0 || (n > 0 && names == NULL))
	{
		latch(g, CV_ERR_PARAM, "onnx %s node has %d %s but no names", op_type, n, what);
		return false;
	}
	for (int i = 0; i < n; i++)
		if (names[i] == NULL)
		{
			latch(g, CV_ERR_PARAM, "onnx %s node has a NULL name for %s %d",
				  op_type, what, i);
			return false;
		}
	return true;
}

int
onnx_node(onnx_graph *g, const char *op_type,
		  int n_inputs, const char *const *inputs,
		  int n_outputs, const char *const *outputs)
{
	node_rec   *node;

	if (latched(g))
		return -1;
	if (op_type == NULL || op_type[0] == '\0')
	{
		latch(g, CV_ERR_PARAM, "onnx node without an op_type");
		return -1;
	}
	if (n_outputs < 1)
	{
		latch(g, CV_ERR_PARAM, "onnx %s node without outputs", op_type);
		return -1;
	}
	if (!check_names(g, op_type, "inputs", n_inputs, inputs) ||
		!check_names(g, op_type, "outputs", n_outputs, outputs))
		return -1;
	if ((node = grow(g, g->nodes, &g->cap_nodes, g->n_nodes, sizeof(node_rec),
					 "nodes")) == NULL)
		return -1;
	g->nodes = node;
	node = &node[g->n_nodes];
	memset(node, 0, sizeof(node_rec));
	node->index = g->n_nodes;
	node->n_inputs = n_inputs;
	node->n_outputs = n_outputs;
	node->op_type = arena_strdup(g, op_type);
	node->inputs = arena_strdup_array(g, n_inputs, inputs);
	node->outputs = arena_strdup_array(g, n_outputs, outputs);
	if (node->op_type == NULL || (n_inputs > 0 && node->inputs == NULL) ||
		node->outputs == NULL)
	{
		latch_nomem(g, "nodes");
		return -1;
	}
	return g->n_nodes++;
}

/*
 * A new attribute record of node, with its name copied, or NULL (failure
 * latched, or already latched).
 */
static attr_rec *
add_attr(onnx_graph *g, int node, const char *name, int type)
{
	node_rec   *n;
	attr_rec   *a;

	if (latched(g))
		return NULL;
	if (node < 0 || node >= g->n_nodes)
	{
		latch(g, CV_ERR_PARAM, "onnx attribute for node %d, which does not exist", node);
		return NULL;
	}
	n = &g->nodes[node];
	if (name == NULL || name[0] == '\0')
	{
		latch(g, CV_ERR_PARAM, "onnx attribute without a name on node n%d (%s)",
			  node, n->op_type);
		return NULL;
	}
	if ((a = grow(g, n->attrs, &n->cap_attrs, n->n_attrs, sizeof(attr_rec),
				  "attributes")) == NULL)
		return NULL;
	n->attrs = a;
	a = &a[n->n_attrs];
	memset(a, 0, sizeof(attr_rec));
	a->type = type;
	if ((a->name = arena_strdup(g, name)) == NULL)
	{
		latch_nomem(g, "attributes");
		return NULL;
	}
	n->n_attrs++;
	return a;
}

void
onnx_attr_int(onnx_graph *g, int node, const char *name, int64_t value)
{
	attr_rec   *a = add_attr(g, node, name, ATTR_INT);

	if (a != NULL)
		a->i = value;
}

void
onnx_attr_ints(onnx_graph *g, int node, const char *name, int n,
			   const int64_t *values)
{
	attr_rec   *a;
	bool		ok;

	if (latched(g))
		return;
	if (n < 0 || (n > 0 && values == NULL))
	{
		latch(g, CV_ERR_PARAM, "onnx attribute \"%s\" has %d ints but no values",
			  name != NULL ? name : "(null)", n);
		return;
	}
	if ((a = add_attr(g, node, name, ATTR_INTS)) == NULL)
		return;
	a->n_ints = n;
	a->ints = arena_int64_copy(g, n, values, &ok);
	if (!ok)
		latch_nomem(g, "attributes");
}

void
onnx_attr_float(onnx_graph *g, int node, const char *name, float value)
{
	attr_rec   *a = add_attr(g, node, name, ATTR_FLOAT);

	if (a != NULL)
		a->f = value;
}

void
onnx_attr_string(onnx_graph *g, int node, const char *name, const char *value)
{
	attr_rec   *a;

	if (latched(g))
		return;
	if (value == NULL)
	{
		latch(g, CV_ERR_PARAM, "onnx attribute \"%s\" has a NULL string",
			  name != NULL ? name : "(null)");
		return;
	}
	if ((a = add_attr(g, node, name, ATTR_STRING)) == NULL)
		return;
	if ((a->s = arena_strdup(g, value)) == NULL)
		latch_nomem(g, "attributes");
}

void
onnx_metadata(onnx_graph *g, const char *key, const char *value)
{
	entry_rec  *e;

	if (latched(g))
		return;
	if (key == NULL || key[0] == '\0' || value == NULL)
	{
		latch(g, CV_ERR_PARAM, "onnx metadata entry \"%s\" without a key or value",
			  key != NULL ? key : "(null)");
		return;
	}
	if ((e = grow(g, g->meta, &g->cap_meta, g->n_meta, sizeof(entry_rec),
				  "metadata")) == NULL)
		return;
	g->meta = e;
	e = &e[g->n_meta];
	e->key = arena_strdup(g, key);
	e->value = arena_strdup(g, value);
	if (e->key == NULL || e->value == NULL)
	{
		latch_nomem(g, "metadata");
		return;
	}
	g->n_meta++;
}

int
onnx_graph_num_nodes(const onnx_graph *g)
{
	return g != NULL ? g->n_nodes : 0;
}

int
onnx_graph_num_initializers(const onnx_graph *g)
{
	return g != NULL ? g->n_inits : 0;
}
