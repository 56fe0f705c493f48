/*
 * prepared_load.c
 *	  The loader of prepared networks (cv_net_load_prepared): a net that
 *	  runs straight from the bytes prepared.c wrote (docs/backbones.md,
 *	  "Shared prepared weights").
 *
 * Apart from the writer because it is a different job: the writer trusts
 * the net it copies; the loader trusts nothing of the bytes it is given
 * and checks every one of them before use.
 *
 * Loading copies the three small arrays that hold pointers (values, steps,
 * storages: tens of kilobytes) and points them, and every other array,
 * into the blob, which is never written: a read-only mapping of a file
 * serves every backend from the same pages.  The blob must stay mapped
 * and unchanged until cv_net_free.
 *
 * A blob is validated completely before it is used, since it comes from a
 * file that a crash may have truncated or another build may have written:
 * magic, version, identity, CPU path, checksum, then every count, index,
 * section and pointer: each pointer must land in the data section with
 * room for everything its kernel reads (from the step's own geometry),
 * each activation must fit its arena slot, each window operator's input
 * and output must hold the shapes it computes, and the scratch is
 * recomputed from the steps.  Anything else is CV_ERR_CORRUPT (or
 * CV_ERR_UNSUPPORTED for a blob of another build or CPU path), and the
 * caller builds the net from the network file instead.
 */
#include "prepared_format.h"

#include <stddef.h>
#include <stdio.h>
#include <string.h>

/* What a loaded REF_DROPPED points at: one float, which no kernel reads. */
static const float dropped = 0.0f;

/* ---- loading ---- */

typedef struct load_state
{
	const uint8_t *blob;
	const prep_header *h;
	cv_net	   *net;
	const uint8_t *data;
	size_t		data_bytes;
	size_t		ninputs;		/* ints in SEC_INPUTS */
	size_t		nconcat;		/* sizes in SEC_CONCAT */
	cv_error   *err;
	int			step;			/* being checked, for messages */
} load_state;

static cv_status
corrupt(load_state *ls, const char *what)
{
	if (ls->step >= 0)
		return cv_fail(ls->err, CV_ERR_CORRUPT,
					   "prepared network is corrupt: %s at step %d", what, ls->step);
	return cv_fail(ls->err, CV_ERR_CORRUPT, "prepared network is corrupt: %s", what);
}

/* n * size, false on overflow. */
static bool
mul_ok(size_t n, size_t size, size_t *out)
{
	if (size != 0 && n > SIZE_MAX / size)
		return false;
	*out = n * size;
	return true;
}

/*
 * The pointer a stored reference stands for, with bytes readable there
 * and the alignment the type needs; false if it does not fit.  A NULL
 * reference is NULL (allowed only where the caller says).
 */
static bool
resolve(load_state *ls, const void **field, size_t bytes, size_t align, bool may_be_null)
{
	uint64_t	ref = (uint64_t) (uintptr_t) *field;
	uint64_t	off;

	if (ref == 0)
	{
		*field = NULL;
		return may_be_null;
	}
	if (ref < REF_BASE)
		return false;
	off = ref - REF_BASE;
	if (off > ls->data_bytes || bytes > ls->data_bytes - off || off % align != 0)
		return false;
	*field = ls->data + off;
	return true;
}

/* A count of floats (or elements of elem bytes) at a reference. */
static bool
resolve_n(load_state *ls, const void **field, size_t n, size_t elem, size_t align,
		  bool may_be_null)
{
	size_t		bytes;

	return mul_ok(n, elem, &bytes) && resolve(ls, field, bytes, align, may_be_null);
}

static bool
value_ok(const cv_net *net, int v)
{
	return v >= 0 && v < net->nvalues;
}

/* Bytes an activation value takes in its storage (uint8 when quantized). */
static bool
fits_storage(const cv_net *net, const nn_value *val)
{
	size_t		need;

	if (val->storage < 0)
		return val->cdata != NULL;
	if (!mul_ok(val->count, val->quantized ? 1 : sizeof(float), &need))
		return false;
	return need <= net->storages[val->storage].floats * sizeof(float);
}

/*
 * A bool as stored is 0 or 1: any other byte would be undefined behaviour
 * once read as a bool, so the bytes are read as bytes first.
 */
static bool
bool_byte_ok(const bool *field)
{
	unsigned char b;

	memcpy(&b, field, 1);
	return b <= 1;
}

/* Whether a kernel of this kind reads uint8 activations, and writes them. */
static bool
reads_u8(nn_kind kind)
{
	return kind == NN_K_QCONV || kind == NN_K_QDEPTHWISE || kind == NN_K_QADD ||
		kind == NN_K_QPAD || kind == NN_K_DEQUANTIZE;
}

static bool
writes_u8(nn_kind kind)
{
	return kind == NN_K_QCONV || kind == NN_K_QDEPTHWISE || kind == NN_K_QADD ||
		kind == NN_K_QPAD || kind == NN_K_QUANTIZE;
}

/* Whether the kernel of a step of this kind reads its input k. */
static bool
kernel_reads(nn_kind kind, int k)
{
	if (kind == NN_K_ALIAS)
		return false;
	if (kind == NN_K_CONCAT || k == 0)
		return true;
	return k == 1 && (kind == NN_K_BINARY || kind == NN_K_QADD);
}

static bool
dims_count(const int dims[4], size_t *count)
{
	size_t		n = 1;

	for (int d = 0; d < 4; d++)
	{
		if (dims[d] < 0 || !mul_ok(n, (size_t) dims[d], &n))
			return false;
	}
	*count = n;
	return true;
}

/*
 * One spatial dimension of a window is what TFLite's SAME or VALID padding
 * makes of its input (build_ops.c, window()): the kernels trust out, pad and
 * in to agree.
 */
static bool
window_dim_ok(int in, int k, int stride, int dil, int out, int pad)
{
	int64_t		eff,
				total;

	if (in < 1 || k < 1 || stride < 1 || dil < 1 || stride > 65536 || dil > 65536 || out < 1)
		return false;
	eff = (int64_t) (k - 1) * dil + 1;
	total = ((int64_t) out - 1) * stride + eff - in;
	if (out == (in + stride - 1) / stride)	/* SAME */
		return pad == (total > 0 ? total / 2 : 0);
	return eff <= in && out == (in - eff) / stride + 1 && pad == 0;	/* VALID */
}

/* Every dimension at least 1 (kernels loop over each) and their product. */
static bool
dims_strict(const int dims[4], size_t *count)
{
	for (int d = 0; d < 4; d++)
		if (dims[d] < 1)
			return false;
	return dims_count(dims, count);
}

/* b broadcasts to out: each dimension equal or 1. */
static bool
broadcasts(const int b[4], const int out[4])
{
	for (int d = 0; d < 4; d++)
		if (b[d] != out[d] && b[d] != 1)
			return false;
	return true;
}

/* A window operator's input and output hold the shapes it computes. */
static bool
window_ok(const cv_net *net, const nn_step *s, const int geo[14])
{
	/* geo: in_h, in_w, in_c, out_h, out_w, out_c, k_h, k_w, stride_h, stride_w, dil_h, dil_w, pad_top, pad_left */
	int			dims_in[4] = {1, geo[0], geo[1], geo[2]},
				dims_out[4] = {1, geo[3], geo[4], geo[5]};
	size_t		n_in,
				n_out;

	if (s->ninputs < 1 || !value_ok(net, s->inputs[0]) ||
		!window_dim_ok(geo[0], geo[6], geo[8], geo[10], geo[3], geo[12]) ||
		!window_dim_ok(geo[1], geo[7], geo[9], geo[11], geo[4], geo[13]) ||
		geo[2] < 1 || geo[5] < 1 ||
		!dims_count(dims_in, &n_in) || !dims_count(dims_out, &n_out))
		return false;
	return net->values[s->inputs[0]].count >= n_in && net->values[s->output].count >= n_out;
}

#define WINDOW_GEOMETRY(p) { (p)->in_h, (p)->in_w, (p)->in_c, (p)->out_h, (p)->out_w, \
		(p)->out_c, (p)->k_h, (p)->k_w, (p)->stride_h, (p)->stride_w, (p)->dil_h, \
		(p)->dil_w, (p)->pad_top, (p)->pad_left }

static cv_status
check_step(load_state *ls, nn_step *s)
{
	cv_net	   *net = ls->net;
	uint64_t	ref;
	size_t		filter = 0;
	const nn_conv_params *c = &s->conv;
	const nn_qconv_params *q = &s->qconv;

	if ((int) s->kind < NN_K_CONV || (int) s->kind > NN_K_DEQUANTIZE)
		return corrupt(ls, "unknown step kind");
	if (!bool_byte_ok(&s->fused_away) || !bool_byte_ok(&s->conv.packed) ||
		!bool_byte_ok(&s->conv.simd512) || !bool_byte_ok(&s->reduce[0]) ||
		!bool_byte_ok(&s->reduce[1]) || !bool_byte_ok(&s->reduce[2]) ||
		!bool_byte_ok(&s->reduce[3]) ||
		((int) s->binop != NN_BIN_ADD && (int) s->binop != NN_BIN_MUL) ||
		(int) s->unop < NN_UN_CLAMP || (int) s->unop > NN_UN_COPY)
		return corrupt(ls, "bad step flags");
	if (memchr(s->detail, '\0', sizeof(s->detail)) == NULL || tfl_op_name(s->code) == NULL)
		return corrupt(ls, "bad step description");
	if (s->ninputs < 0 || !value_ok(net, s->output))
		return corrupt(ls, "bad output or input count");

	/* inputs and concatenation sizes: indices into their sections */
	ref = (uint64_t) (uintptr_t) s->inputs;
	if (s->ninputs == 0)
		s->inputs = NULL;
	else if (ref == 0 || ref - 1 > ls->ninputs || (size_t) s->ninputs > ls->ninputs - (ref - 1))
		return corrupt(ls, "inputs out of bounds");
	else
		s->inputs = net->step_inputs + (ref - 1);
	for (int k = 0; k < s->ninputs; k++)
		if (s->inputs[k] < -1 || s->inputs[k] >= net->nvalues)
			return corrupt(ls, "input out of range");
	ref = (uint64_t) (uintptr_t) s->concat_sizes;
	if (ref == 0)
		s->concat_sizes = NULL;
	else if (net->concat_sizes == NULL || ref - 1 > ls->nconcat ||
			 (size_t) s->ninputs > ls->nconcat - (ref - 1))
		return corrupt(ls, "concatenation sizes out of bounds");
	else
		s->concat_sizes = net->concat_sizes + (ref - 1);
	if (s->kind == NN_K_CONCAT && s->concat_sizes == NULL && s->ninputs > 0)
		return corrupt(ls, "concatenation without sizes");

	/* fused neighbours: the step before and the one after */
	/* stored as index + 1: the expansion is step - 1, the projection step + 1 */
	ref = (uint64_t) (uintptr_t) s->expand;
	if (ref != 0 && (s->kind != NN_K_DEPTHWISE || ls->step < 1 || ref != (uint64_t) ls->step))
		return corrupt(ls, "bad fused expansion");
	s->expand = ref != 0 ? &net->steps[ref - 1] : NULL;
	ref = (uint64_t) (uintptr_t) s->project;
	if (ref != 0 && (s->kind != NN_K_DEPTHWISE || ls->step + 1 >= net->nsteps ||
					 ref != (uint64_t) ls->step + 2))
		return corrupt(ls, "bad fused projection");
	s->project = ref != 0 ? &net->steps[ref - 1] : NULL;

	/* every kernel reads its first input, BINARY and QADD a second */
	if (s->kind != NN_K_ALIAS &&
		(s->ninputs < 1 || s->inputs[0] < 0 ||
		 ((s->kind == NN_K_BINARY || s->kind == NN_K_QADD) &&
		  (s->ninputs < 2 || s->inputs[1] < 0))))
		return corrupt(ls, "step without its inputs");

	/*
	 * The executor finds the output and the first input of every step,
	 * run or not (graph.c run_step): each is a constant or has a slot.
	 */
	if ((net->values[s->output].cdata == NULL && net->values[s->output].storage < 0) ||
		(s->ninputs > 0 && s->inputs[0] >= 0 &&
		 net->values[s->inputs[0]].cdata == NULL && net->values[s->inputs[0]].storage < 0))
		return corrupt(ls, "step tensor neither constant nor in the arena");

	/*
	 * Every activation a kernel reads fits its arena slot (or is a
	 * constant), and what it writes is a slot, never the read-only
	 * constants.  A fused block runs at its depthwise step, which reads
	 * the expansion's input and writes the projection's output: the
	 * tensors between them have no slot (plan.c), and the steps fused away
	 * do not run.  Inputs no kernel reads (RESHAPE's shape, MEAN's axes)
	 * may be anything.
	 */
	if (!s->fused_away && s->kind != NN_K_ALIAS)
	{
		const nn_step *first = s->expand != NULL ? s->expand : s;
		const nn_value *out = &net->values[(s->project != NULL ? s->project : s)->output];

		/* the element size is the kernel's, so the flag must say the same */
		if (out->cdata != NULL || out->storage < 0 || !fits_storage(net, out) ||
			out->quantized != writes_u8(s->kind))
			return corrupt(ls, "output not in the arena, of another type, or larger than its storage");
		for (int k = 0; k < s->ninputs; k++)
		{
			int			v = k == 0 ? (first->ninputs > 0 ? first->inputs[0] : -1) : s->inputs[k];

			if (!kernel_reads(s->kind, k))
				continue;
			if (!value_ok(net, v) || net->values[v].cdata == &dropped ||
				!fits_storage(net, &net->values[v]) ||
				(net->values[v].cdata == NULL && net->values[v].quantized != reads_u8(s->kind)))
				return corrupt(ls, "input missing, of another type, or larger than its storage");
			/* plan.c never lets a step's output share bytes with its inputs */
			if (net->values[v].storage >= 0)
			{
				const nn_storage *a = &net->storages[net->values[v].storage];
				const nn_storage *b = &net->storages[out->storage];

				if (a->floats > 0 && b->floats > 0 &&
					a->offset < b->offset + b->floats && b->offset < a->offset + a->floats)
					return corrupt(ls, "output overlaps an input");
			}
		}
	}

	/* the weights each kernel reads, by its own geometry */
	switch (s->kind)
	{
		case NN_K_CONV:
		case NN_K_DEPTHWISE:
		case NN_K_AVG_POOL:
		case NN_K_MAX_POOL:
			{
				const int	geo[14] = WINDOW_GEOMETRY(c);

				if (!window_ok(net, s, geo) ||
					(s->kind == NN_K_DEPTHWISE &&
					 (c->depth_multiplier < 1 ||
					  (int64_t) c->in_c * c->depth_multiplier != c->out_c)) ||
					((s->kind == NN_K_AVG_POOL || s->kind == NN_K_MAX_POOL) &&
					 c->in_c != c->out_c))
					return corrupt(ls, "window shapes do not match the tensors");
			}
			if (!mul_ok((size_t) c->k_h * c->k_w, (size_t) c->out_c, &filter) ||
				(s->kind == NN_K_CONV && !mul_ok(filter, (size_t) c->in_c, &filter)))
				return corrupt(ls, "filter too large");
			if (s->kind == NN_K_CONV || s->kind == NN_K_DEPTHWISE)
			{
				if (!resolve_n(ls, (const void **) &s->conv.weights, filter, sizeof(float),
							   sizeof(float), false) ||
					!resolve_n(ls, (const void **) &s->conv.bias, (size_t) c->out_c,
							   sizeof(float), sizeof(float), true) ||
					!resolve_n(ls, (const void **) &s->conv.weights_kn, filter, sizeof(float),
							   sizeof(float), true))
					return corrupt(ls, "filter out of bounds");
			}
			else if (c->weights != NULL || c->bias != NULL || c->weights_kn != NULL)
				return corrupt(ls, "pool with weights");
			break;
		case NN_K_FC:
			if (s->fc_rows < 1 || s->fc_k < 1 || s->fc_n < 1 || s->ninputs < 1 ||
				!value_ok(net, s->inputs[0]) ||
				!mul_ok((size_t) s->fc_n, (size_t) s->fc_k, &filter) ||
				net->values[s->inputs[0]].count < (size_t) s->fc_rows * s->fc_k ||
				net->values[s->output].count < (size_t) s->fc_rows * s->fc_n ||
				!resolve_n(ls, (const void **) &s->fc_weights, filter, sizeof(float),
						   sizeof(float), false) ||
				!resolve_n(ls, (const void **) &s->fc_bias, (size_t) s->fc_n, sizeof(float),
						   sizeof(float), true))
				return corrupt(ls, "fully connected weights out of bounds");
			break;
		case NN_K_QCONV:
		case NN_K_QDEPTHWISE:
			{
				size_t		packed;

				const int	geo[14] = WINDOW_GEOMETRY(q);

				if (!window_ok(net, s, geo) ||
					(s->kind == NN_K_QDEPTHWISE &&
					 (q->depth_multiplier < 1 ||
					  (int64_t) q->in_c * q->depth_multiplier != q->out_c)) ||
					q->in_zp < 0 || q->in_zp > 255 || q->out_zp < 0 || q->out_zp > 255 ||
					q->act_min < 0 || q->act_min > q->act_max || q->act_max > 255)
					return corrupt(ls, "window shapes do not match the tensors");
				if (!mul_ok((size_t) q->k_h * q->k_w, (size_t) q->out_c, &filter) ||
					(s->kind == NN_K_QCONV && !mul_ok(filter, (size_t) q->in_c, &filter)))
					return corrupt(ls, "filter too large");
				if (!resolve_n(ls, (const void **) &s->qconv.weights, filter, 1, 1, false) ||
					!resolve_n(ls, (const void **) &s->qconv.bias, (size_t) q->out_c,
							   sizeof(int32_t), sizeof(int32_t), true) ||
					!resolve_n(ls, (const void **) &s->qconv.multiplier, (size_t) q->out_c,
							   sizeof(int32_t), sizeof(int32_t), false) ||
					!resolve_n(ls, (const void **) &s->qconv.shift, (size_t) q->out_c,
							   sizeof(int32_t), sizeof(int32_t), false))
					return corrupt(ls, "integer weights out of bounds");
				/* the rescaling as nn_quantize_multiplier makes it (no C shift out of range) */
				if (q->w_zp < -128 || q->w_zp > 127)
					return corrupt(ls, "bad filter zero point");
				for (int oc = 0; oc < q->out_c; oc++)
					if (q->multiplier[oc] < 0 || q->shift[oc] < -31 || q->shift[oc] > 30)
						return corrupt(ls, "bad rescaling");
				/* the packed size is the kernel's own function of the geometry */
				packed = s->kind == NN_K_QCONV ? nn_qconv_packed_bytes(q) :
					nn_qdepthwise_packed_bytes(q);
				if (s->qconv.packed != NULL &&
					(packed == 0 ||
					 !resolve(ls, (const void **) &s->qconv.packed, packed, PREP_ALIGN, false)))
					return corrupt(ls, "packed integer weights out of bounds");
				if (s->qconv.packed == NULL && packed > 0 && !cv_nn_get_portable())
					return corrupt(ls, "integer weights not packed");
				break;
			}
		case NN_K_BINARY:
			{
				size_t		na,
							nb,
							no;

				if (s->ninputs < 2 || !value_ok(net, s->inputs[0]) || !value_ok(net, s->inputs[1]) ||
					!dims_strict(s->a_dims, &na) || !dims_strict(s->b_dims, &nb) ||
					!dims_strict(s->out_dims, &no) ||
					!broadcasts(s->a_dims, s->out_dims) || !broadcasts(s->b_dims, s->out_dims) ||
					net->values[s->inputs[0]].count < na || net->values[s->inputs[1]].count < nb ||
					net->values[s->output].count < no)
					return corrupt(ls, "binary shapes do not match the tensors");
				break;
			}
		case NN_K_MEAN:
			{
				size_t		na,
							kept = 1;

				if (s->ninputs < 1 || !value_ok(net, s->inputs[0]) ||
					!dims_strict(s->a_dims, &na) || net->values[s->inputs[0]].count < na)
					return corrupt(ls, "mean shape does not match its input");
				for (int d = 0; d < 4; d++)
				{
					if (!bool_byte_ok(&s->reduce[d]))
						return corrupt(ls, "bad mean axes");
					if (!s->reduce[d])
						kept *= (size_t) s->a_dims[d];
				}
				if (net->values[s->output].count < kept)
					return corrupt(ls, "mean output smaller than what it keeps");
				break;
			}
		case NN_K_PAD:
		case NN_K_QPAD:
			{
				size_t		na,
							no;

				if (s->ninputs < 1 || !value_ok(net, s->inputs[0]) ||
					!dims_strict(s->a_dims, &na) || !dims_strict(s->out_dims, &no) ||
					net->values[s->inputs[0]].count < na || net->values[s->output].count < no)
					return corrupt(ls, "pad shapes do not match the tensors");
				for (int d = 0; d < 4; d++)
					if (s->pad_before[d] < 0 ||
						(int64_t) s->pad_before[d] + s->a_dims[d] > s->out_dims[d])
						return corrupt(ls, "padding outside the output");
				if (s->kind == NN_K_QPAD && (s->q_zp < 0 || s->q_zp > 255))
					return corrupt(ls, "bad padding zero point");
				break;
			}
		case NN_K_QADD:
		case NN_K_QUANTIZE:
		case NN_K_DEQUANTIZE:
			{
				const nn_qadd_params *a = &s->qadd;

				if (s->kind != NN_K_QADD ? (s->q_zp < 0 || s->q_zp > 255) :
					(a->a_zp < 0 || a->a_zp > 255 || a->b_zp < 0 || a->b_zp > 255 ||
					 a->out_zp < 0 || a->out_zp > 255 || a->left_shift != 20 ||
					 a->a_multiplier < 0 || a->b_multiplier < 0 || a->out_multiplier < 0 ||
					 a->a_shift < -31 || a->a_shift > 0 || a->b_shift < -31 || a->b_shift > 0 ||
					 a->out_shift < -31 || a->out_shift > 0 ||
					 a->act_min < 0 || a->act_min > a->act_max || a->act_max > 255))
					return corrupt(ls, "bad integer parameters");
			}
			for (int k = 0; k < s->ninputs && k < 2; k++)
				if (s->inputs[k] < 0 || net->values[s->inputs[k]].count < s->q_count)
					return corrupt(ls, "element count larger than the tensors");
			if (net->values[s->output].count < s->q_count)
				return corrupt(ls, "element count larger than the output");
			break;
		case NN_K_SOFTMAX:
			{
				size_t		n;

				if (s->ninputs < 1 || !value_ok(net, s->inputs[0]) || s->rows < 1 ||
					s->inner < 1 || !mul_ok(s->rows, s->inner, &n) ||
					n != net->values[s->inputs[0]].count || n != net->values[s->output].count)
					return corrupt(ls, "softmax shape does not match the tensors");
				break;
			}
		case NN_K_UNARY:
			if (s->ninputs < 1 || !value_ok(net, s->inputs[0]) ||
				net->values[s->inputs[0]].count < net->values[s->output].count)
				return corrupt(ls, "input smaller than the output");
			break;
		case NN_K_CONCAT:
			{
				size_t		row = 0,
							n;

				/* exactly as build_ops.c makes them: no loop runs empty */
				if (s->outer < 1)
					return corrupt(ls, "empty concatenation");
				for (int k = 0; k < s->ninputs; k++)
				{
					if (!value_ok(net, s->inputs[k]) || s->concat_sizes[k] < 1 ||
						!mul_ok(s->outer, s->concat_sizes[k], &n) ||
						net->values[s->inputs[k]].count != n || row + s->concat_sizes[k] < row)
						return corrupt(ls, "concatenation does not match its inputs");
					row += s->concat_sizes[k];
				}
				if (!mul_ok(s->outer, row, &n) || net->values[s->output].count != n)
					return corrupt(ls, "concatenation does not match its output");
				break;
			}
		default:
			break;
	}
	if (s->kind != NN_K_CONV && s->kind != NN_K_DEPTHWISE && s->kind != NN_K_FC &&
		(s->fc_weights != NULL || s->fc_bias != NULL ||
		 ((s->kind != NN_K_AVG_POOL && s->kind != NN_K_MAX_POOL) &&
		  (c->weights != NULL || c->bias != NULL || c->weights_kn != NULL))))
		return corrupt(ls, "weights on a step that reads none");
	if (s->kind != NN_K_QCONV && s->kind != NN_K_QDEPTHWISE &&
		(q->weights != NULL || q->bias != NULL || q->multiplier != NULL ||
		 q->shift != NULL || q->packed != NULL))
		return corrupt(ls, "integer weights on a step that reads none");
	return CV_OK;
}

/* The scratch the kernels need, as cv_net_load_with and qbuild.c size it. */
static size_t
needed_scratch(const cv_net *net)
{
	size_t		most = 0;

	for (int i = 0; i < net->nsteps; i++)
	{
		const nn_step *s = &net->steps[i];
		size_t		n = 0;

		if (s->kind == NN_K_CONV)
			n = nn_conv2d_scratch(&s->conv);
		else if (s->expand != NULL || s->project != NULL)
			n = nn_depthwise_fused_scratch(s->expand ? &s->expand->conv : NULL, &s->conv,
										   s->project ? &s->project->conv : NULL);
		else if (s->kind == NN_K_QCONV)
			n = (nn_qconv_scratch_bytes(&s->qconv) + 3) / 4;
		else if (s->kind == NN_K_QDEPTHWISE)
			n = (nn_qdepthwise_scratch_bytes(&s->qconv) + 3) / 4;
		if (n > most)
			most = n;
	}
	return most;
}

static cv_status
check_header(load_state *ls, size_t len, const char *host_identity)
{
	const prep_header *h = ls->h;
	char		want[PREP_IDENTITY_LEN];
	char		cpu[PREP_CPU_LEN];

	if (len < sizeof(prep_header))
		return corrupt(ls, "truncated header");
	if (memcmp(h->magic, PREP_MAGIC, 8) != 0)
		return corrupt(ls, "bad magic");
	if (h->format_version != PREP_FORMAT_VERSION || h->header_bytes != sizeof(prep_header))
		return cv_fail(ls->err, CV_ERR_UNSUPPORTED,
					   "prepared network of format %u, this build reads %d",
					   h->format_version, PREP_FORMAT_VERSION);
	if (h->total_bytes != len)
		return corrupt(ls, "truncated or extended");
	if (!nn_prep_identity(host_identity, want))
		return cv_fail(ls->err, CV_ERR_PARAM, "host identity too long");
	if (memchr(h->identity, '\0', sizeof(h->identity)) == NULL ||
		strcmp(h->identity, want) != 0)
		return cv_fail(ls->err, CV_ERR_UNSUPPORTED,
					   "prepared network made by another build");
	cv_net_prepared_cpu_path(cpu, sizeof(cpu));
	if (memchr(h->cpu_path, '\0', sizeof(h->cpu_path)) == NULL ||
		strcmp(h->cpu_path, cpu) != 0)
		return cv_fail(ls->err, CV_ERR_UNSUPPORTED,
					   "prepared network packed for another CPU path (%.40s)", h->cpu_path);
	if (nn_prep_checksum(ls->blob, len) != h->checksum)
		return corrupt(ls, "checksum mismatch");
	for (int s = 0; s < NSECTIONS; s++)
		if (h->offset[s] < sizeof(prep_header) || h->offset[s] % PREP_ALIGN != 0 ||
			h->offset[s] > len || h->bytes[s] > len - h->offset[s])
			return corrupt(ls, "section out of bounds");
	/* disjoint: no array may be read as another's */
	for (int s = 0; s < NSECTIONS; s++)
		for (int t = s + 1; t < NSECTIONS; t++)
			if (h->bytes[s] > 0 && h->bytes[t] > 0 &&
				h->offset[s] < h->offset[t] + h->bytes[t] &&
				h->offset[t] < h->offset[s] + h->bytes[s])
				return corrupt(ls, "sections overlap");
	return CV_OK;
}

cv_status
cv_net_load_prepared(const uint8_t *blob, size_t len, const char *host_identity,
					 cv_net **out, cv_error *err)
{
	load_state	ls;
	cv_net	   *net = NULL;
	const prep_header *h;
	cv_status	st;

	if (out == NULL || blob == NULL)
		return cv_fail(err, CV_ERR_PARAM, "no blob or output pointer");
	*out = NULL;
	if (((uintptr_t) blob) % PREP_ALIGN != 0)
		return cv_fail(err, CV_ERR_PARAM, "prepared network not %d-byte aligned", PREP_ALIGN);
	memset(&ls, 0, sizeof(ls));
	ls.blob = blob;
	ls.h = h = (const prep_header *) blob;
	ls.err = err;
	ls.step = -1;
	if ((st = check_header(&ls, len, host_identity)) != CV_OK)
		return st;
	if (h->bytes[SEC_NET] != sizeof(cv_net))
		return corrupt(&ls, "bad net section");

	net = cv_calloc(1, sizeof(cv_net));
	if (net == NULL)
		return cv_fail(err, CV_ERR_NOMEM, "out of memory loading a network");
	memcpy(net, blob + h->offset[SEC_NET], sizeof(cv_net));
	if (!bool_byte_ok(&net->layouts_only))
	{
		cv_free(net);
		return corrupt(&ls, "bad net flags");
	}
	/* whatever the bytes said, nothing here is ours but three arrays */
	net->values = NULL;
	net->steps = NULL;
	net->storages = NULL;
	net->qblocks = NULL;
	net->borrowed = true;
	ls.net = net;
	ls.data = blob + h->offset[SEC_DATA];
	ls.data_bytes = h->bytes[SEC_DATA];
	ls.ninputs = h->bytes[SEC_INPUTS] / sizeof(int);
	ls.nconcat = h->bytes[SEC_CONCAT] / sizeof(size_t);

	if (net->nvalues < 1 || net->nsteps < 1 || net->nstorages < 1 || net->nactivations < 0 ||
		(size_t) net->nvalues * sizeof(nn_value) != h->bytes[SEC_VALUES] ||
		(size_t) net->nsteps * sizeof(nn_step) != h->bytes[SEC_STEPS] ||
		(size_t) net->nstorages * sizeof(nn_storage) != h->bytes[SEC_STORAGES] ||
		(size_t) net->nactivations * sizeof(int) != h->bytes[SEC_ACTIVATIONS] ||
		(size_t) net->nactivations * sizeof(size_t) != h->bytes[SEC_ACTIVATION_NAMES] ||
		h->bytes[SEC_INPUTS] % sizeof(int) != 0 ||
		h->bytes[SEC_CONCAT] % sizeof(size_t) != 0 ||
		net->layouts_only)
	{
		st = corrupt(&ls, "section sizes do not match the counts");
		goto fail;
	}
	net->values = cv_malloc(h->bytes[SEC_VALUES]);
	net->steps = cv_malloc(h->bytes[SEC_STEPS]);
	net->storages = cv_malloc(h->bytes[SEC_STORAGES]);
	if (net->values == NULL || net->steps == NULL || net->storages == NULL)
	{
		st = cv_fail(err, CV_ERR_NOMEM, "out of memory loading a network");
		goto fail;
	}
	memcpy(net->values, blob + h->offset[SEC_VALUES], h->bytes[SEC_VALUES]);
	memcpy(net->steps, blob + h->offset[SEC_STEPS], h->bytes[SEC_STEPS]);
	memcpy(net->storages, blob + h->offset[SEC_STORAGES], h->bytes[SEC_STORAGES]);
	/* the arrays without pointers are read in place */
	net->step_inputs = (int *) (blob + h->offset[SEC_INPUTS]);
	net->concat_sizes = h->bytes[SEC_CONCAT] > 0 ?
		(size_t *) (blob + h->offset[SEC_CONCAT]) : NULL;
	net->activations = (int *) (blob + h->offset[SEC_ACTIVATIONS]);
	net->activation_names = (size_t *) (blob + h->offset[SEC_ACTIVATION_NAMES]);
	net->names = (char *) (blob + h->offset[SEC_NAMES]);
	/* the weight arrays are somewhere in the data; only the steps' pointers matter */
	net->weights = net->weights_kn = net->weights_packed = NULL;

	/* arena and scratch sizes that a workspace's byte count cannot wrap */
	if (net->arena_floats > ((size_t) 1 << 40) || net->scratch_floats > ((size_t) 1 << 40))
	{
		st = corrupt(&ls, "arena too large");
		goto fail;
	}
	/* storages: inside the arena */
	for (int s = 0; s < net->nstorages; s++)
	{
		const nn_storage *sto = &net->storages[s];

		if (!bool_byte_ok(&sto->pinned) || sto->offset > net->arena_floats || sto->floats > net->arena_floats - sto->offset)
		{
			st = corrupt(&ls, "storage outside the arena");
			goto fail;
		}
	}
	/* values: storages in range, constants in the data */
	for (int v = 0; v < net->nvalues; v++)
	{
		nn_value   *val = &net->values[v];
		uint64_t	ref = (uint64_t) (uintptr_t) val->cdata;

		if (!bool_byte_ok(&val->quantized) ||
			val->storage < -1 || val->storage >= net->nstorages ||
			val->producer < -1 || val->producer >= net->nsteps || val->rank < 0)
		{
			st = corrupt(&ls, "value out of range");
			goto fail;
		}
		if (val->storage >= 0)
		{
			/*
			 * An activation: never a constant too (a run writes it, and
			 * the constants are the read-only blob), and its padded shape
			 * is its count (cv_net_activation).
			 */
			size_t		n;

			if (ref != 0 || !dims_count(val->dims, &n) || n != val->count ||
				val->dims[0] < 1 || val->dims[1] < 1 || val->dims[2] < 1 || val->dims[3] < 1)
			{
				st = corrupt(&ls, "activation shape does not match its count");
				goto fail;
			}
		}
		if (ref == REF_DROPPED)
			val->cdata = &dropped;
		else if (!resolve_n(&ls, (const void **) &val->cdata, val->count, sizeof(float),
							sizeof(float), true))
		{
			st = corrupt(&ls, "constant out of bounds");
			goto fail;
		}
	}
	if (!value_ok(net, net->input_value) ||
		(net->output_value != -1 && !value_ok(net, net->output_value)) ||
		(net->feature_value != -1 && !value_ok(net, net->feature_value)) ||
		net->n_outputs < 0 || net->n_outputs > CV_NET_MAX_OUTPUTS ||
		net->values[net->input_value].storage < 0 ||
		memchr(net->feature_name, '\0', sizeof(net->feature_name)) == NULL)
	{
		st = corrupt(&ls, "bad graph input or outputs");
		goto fail;
	}
	for (int k = 0; k < net->n_outputs; k++)
		if (!value_ok(net, net->outputs[k]) || net->values[net->outputs[k]].storage < 0)
		{
			st = corrupt(&ls, "requested output out of range");
			goto fail;
		}
	/* what a run copies out is float (qbuild.c converts it) */
	for (int k = 0; k < net->n_outputs; k++)
		if (net->values[net->outputs[k]].quantized ||
			!fits_storage(net, &net->values[net->outputs[k]]))
		{
			st = corrupt(&ls, "requested output not float");
			goto fail;
		}
	if ((net->output_value >= 0 && (net->values[net->output_value].storage < 0 ||
									net->values[net->output_value].quantized ||
									!fits_storage(net, &net->values[net->output_value]))) ||
		(net->feature_value >= 0 && (net->values[net->feature_value].storage < 0 ||
									 net->values[net->feature_value].quantized ||
									 !fits_storage(net, &net->values[net->feature_value]))) ||
		(net->output_value >= 0 &&
		 net->values[net->output_value].count != (size_t) net->info.num_outputs) ||
		(net->feature_value >= 0 &&
		 net->values[net->feature_value].count != (size_t) net->info.feature_dim) ||
		!fits_storage(net, &net->values[net->input_value]) ||
		net->info.input_width < 1 || net->info.input_height < 1 ||
		net->info.input_channels != 3 ||
		net->values[net->input_value].count !=
		(size_t) net->info.input_width * net->info.input_height * 3)
	{
		st = corrupt(&ls, "outputs do not match the description");
		goto fail;
	}
	/* activation names: NUL-terminated inside the names */
	if (h->bytes[SEC_NAMES] == 0 ? net->nactivations > 0 :
		net->names[h->bytes[SEC_NAMES] - 1] != '\0')
	{
		st = corrupt(&ls, "names not terminated");
		goto fail;
	}
	for (int a = 0; a < net->nactivations; a++)
		if (!value_ok(net, net->activations[a]) ||
			net->activation_names[a] >= h->bytes[SEC_NAMES])
		{
			st = corrupt(&ls, "activation out of range");
			goto fail;
		}

	for (int i = 0; i < net->nsteps; i++)
	{
		ls.step = i;
		if ((st = check_step(&ls, &net->steps[i])) != CV_OK)
			goto fail;
	}
	ls.step = -1;
	if (needed_scratch(net) > net->scratch_floats ||
		net->info.arena_bytes != (net->arena_floats + net->scratch_floats) * sizeof(float))
	{
		st = corrupt(&ls, "scratch smaller than the kernels need");
		goto fail;
	}
	*out = net;
	return CV_OK;

fail:
	cv_net_free(net);
	return st;
}
