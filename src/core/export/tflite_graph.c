/*
 * tflite_graph.c
 *	  The primitives of the TFLite file being assembled (tflite_graph.h):
 *	  growing arrays, buffers, tensors, constants, operators and their
 *	  OperatorCode table, and the small operator patterns every part of the
 *	  export writes (activations, ADD / MUL, RESHAPE).
 */
#include "tflite_graph.h"
#include "../common/cv_common.h"

#include <string.h>

bool
tfx_grow(void **arr, int *cap, int need, size_t elem)
{
	void	   *n;
	int			c;

	if (need <= *cap)
		return true;
	c = *cap ? *cap * 2 : 64;
	while (c < need)
		c *= 2;
	n = cv_realloc(*arr, (size_t) c * elem);
	if (n == NULL)
		return false;
	*arr = n;
	*cap = c;
	return true;
}

void
tfx_xfile_free(xfile *f)
{
	for (int i = 0; i < f->nowned; i++)
		cv_free(f->owned[i]);
	cv_free(f->owned);
	cv_free(f->tensors);
	cv_free(f->buffers);
	cv_free(f->ops);
	memset(f, 0, sizeof(*f));
}

/* A buffer holding len bytes at data (owned: freed with the file); its index. */
int
tfx_add_buffer(xfile *f, const void *data, size_t len, bool owned)
{
	if (f->nomem || !tfx_grow((void **) &f->buffers, &f->cap_buffers, f->nbuffers + 1, sizeof(xbuffer)) ||
		(owned && !tfx_grow((void **) &f->owned, &f->cap_owned, f->nowned + 1, sizeof(void *))))
	{
		f->nomem = true;
		if (owned)
			cv_free((void *) data);
		return 0;
	}
	if (owned)
		f->owned[f->nowned++] = (void *) data;
	f->buffers[f->nbuffers].data = data;
	f->buffers[f->nbuffers].len = len;
	return f->nbuffers++;
}

int
tfx_add_tensor(xfile *f, int type, int rank, const int32_t *dims, int buffer, const char *name,
		   const tfl_tensor *quant)
{
	xtensor    *t;

	if (f->nomem || !tfx_grow((void **) &f->tensors, &f->cap_tensors, f->ntensors + 1, sizeof(xtensor)))
	{
		f->nomem = true;
		return 0;
	}
	t = &f->tensors[f->ntensors];
	memset(t, 0, sizeof(*t));
	t->type = type;
	t->rank = rank;
	memcpy(t->dims, dims, sizeof(int32_t) * rank);
	t->buffer = buffer;
	t->name = name;
	t->name_len = name ? (int) strlen(name) : 0;
	t->quant = quant;
	return f->ntensors++;
}

/* A float32 constant (values copied). */
int
tfx_add_float_const(xfile *f, int rank, const int32_t *dims, const float *values, const char *name)
{
	size_t		n = 1;
	float	   *copy;

	for (int i = 0; i < rank; i++)
		n *= (size_t) dims[i];
	copy = cv_malloc(sizeof(float) * n);
	if (copy == NULL)
	{
		f->nomem = true;
		return 0;
	}
	memcpy(copy, values, sizeof(float) * n);
	return tfx_add_tensor(f, TFL_FLOAT32, rank, dims, tfx_add_buffer(f, copy, sizeof(float) * n, true),
					  name, NULL);
}

int
tfx_add_scalar_const(xfile *f, float v, const char *name)
{
	int32_t		one[1] = {1};

	return tfx_add_float_const(f, 1, one, &v, name);
}

static int
opcode_index(xfile *f, int code, int version)
{
	for (int i = 0; i < f->nopcodes; i++)
		if (f->opcodes[i].code == code && f->opcodes[i].version == version)
			return i;
	if (f->nopcodes == MAX_OPCODES)
	{
		f->too_many_codes = true;
		return 0;
	}
	f->opcodes[f->nopcodes].code = code;
	f->opcodes[f->nopcodes].version = version;
	return f->nopcodes++;
}

/* An operator of OperatorCode version `version`; returns it for options. */
xop *
tfx_add_op_version(xfile *f, int code, int version, int ninputs, const int32_t *inputs, int32_t output)
{
	xop		   *o;

	if (f->nomem || !tfx_grow((void **) &f->ops, &f->cap_ops, f->nops + 1, sizeof(xop)))
	{
		f->nomem = true;
		return NULL;
	}
	o = &f->ops[f->nops++];
	memset(o, 0, sizeof(*o));
	o->opcode = opcode_index(f, code, version);
	o->ninputs = ninputs;
	memcpy(o->inputs, inputs, sizeof(int32_t) * ninputs);
	o->output = output;
	o->vector_field = -1;
	return o;
}

/* An operator of the head: version 1, the float kernels. */
xop *
tfx_add_op(xfile *f, int code, int ninputs, const int32_t *inputs, int32_t output)
{
	return tfx_add_op_version(f, code, 1, ninputs, inputs, output);
}

/* A float activation of shape [rows, cols]. */
int
tfx_activation(xfile *f, int rows, int cols, const char *name)
{
	int32_t		dims[2] = {rows, cols};

	return tfx_add_tensor(f, TFL_FLOAT32, 2, dims, 0, name, NULL);
}

/* A float activation of the shape of tensor like. */
int
tfx_activation_like(xfile *f, int like, const char *name)
{
	int32_t		dims[TFL_MAX_RANK] = {1};
	int			rank = 1;

	if (!f->nomem && like >= 0 && like < f->ntensors)
	{
		rank = f->tensors[like].rank;
		memcpy(dims, f->tensors[like].dims, sizeof(int32_t) * rank);
	}
	return tfx_add_tensor(f, TFL_FLOAT32, rank, dims, 0, name, NULL);
}

/* ADD or MUL of a and b into out, with a fused activation. */
void
tfx_binary_into(xfile *f, int code, int a, int b, int out, int act)
{
	xop		   *o = tfx_add_op(f, code, 2, (const int32_t[]) {a, b}, out);

	if (o != NULL)
	{
		/* AddOptions / MulOptions: fused_activation_function (0) */
		o->options_type = code == TFL_OP_ADD ? OPT_ADD : OPT_MUL;
		o->options[o->noptions++] = fbw_i8(0, (int8_t) act);
	}
}

int
tfx_binary(xfile *f, int code, int a, int b, int rows, int cols, const char *name)
{
	int			out = tfx_activation(f, rows, cols, name);

	tfx_binary_into(f, code, a, b, out, TFL_ACT_NONE);
	return out;
}

int
tfx_reshape(xfile *f, int x, int rows, int cols, const char *name)
{
	int32_t		shape[2] = {rows, cols};
	int32_t		sdims[1] = {2};
	int32_t	   *copy = cv_malloc(sizeof(shape));
	int			s,
				out;
	xop		   *o;

	if (copy == NULL)
	{
		f->nomem = true;
		return 0;
	}
	memcpy(copy, shape, sizeof(shape));
	s = tfx_add_tensor(f, TFL_INT32, 1, sdims, tfx_add_buffer(f, copy, sizeof(shape), true), NULL, NULL);
	out = tfx_activation(f, rows, cols, name);
	o = tfx_add_op(f, TFL_OP_RESHAPE, 2, (const int32_t[]) {x, s}, out);
	if (o != NULL)
	{
		/* ReshapeOptions: new_shape:[int] (0), the same as the shape input */
		o->options_type = OPT_RESHAPE;
		o->vector_field = 0;
		o->nvector = 2;
		memcpy(o->vector, shape, sizeof(shape));
	}
	return out;
}

/* A float activation of any rank. */
int
tfx_activation_nd(xfile *f, int rank, const int32_t *dims, const char *name)
{
	return tfx_add_tensor(f, TFL_FLOAT32, rank, dims, 0, name, NULL);
}

/* RESHAPE of x to shape[0..rank). */
int
tfx_reshape_nd(xfile *f, int x, int rank, const int32_t *shape, const char *name)
{
	int32_t		sdims[1] = {rank};
	int32_t    *copy = cv_malloc(sizeof(int32_t) * rank);
	int			s,
				out;
	xop		   *o;

	if (copy == NULL)
	{
		f->nomem = true;
		return 0;
	}
	memcpy(copy, shape, sizeof(int32_t) * rank);
	s = tfx_add_tensor(f, TFL_INT32, 1, sdims, tfx_add_buffer(f, copy, sizeof(int32_t) * rank, true), NULL, NULL);
	out = tfx_activation_nd(f, rank, shape, name);
	o = tfx_add_op(f, TFL_OP_RESHAPE, 2, (const int32_t[]) {x, s}, out);
	if (o != NULL)
	{
		/* ReshapeOptions: new_shape:[int] (0), the same as the shape input */
		o->options_type = OPT_RESHAPE;
		o->vector_field = 0;
		o->nvector = rank;
		memcpy(o->vector, shape, sizeof(int32_t) * rank);
	}
	return out;
}
