/*
 * prepared.c
 *	  A loaded, prepared network (plan, packed float filters, integer
 *	  weights in the fast kernels' layouts) as one position-independent
 *	  blob (its loader is prepared_load.c): the shared prepared-weights
 *	  files of docs/backbones.md.
 *
 * The blob is the net's own structures with every pointer replaced by an
 * offset, so it is only meaningful to the very build and CPU path that
 * wrote it:
 *
 *	 header	  magic, format version, total length, a checksum of every
 *			  other byte, the identity of the build (the layout version
 *			  below, the sizes of the structures copied, and whatever the
 *			  host adds: pgvision's version and library), the CPU path the
 *			  weights were packed for (cv_net_prepared_cpu_path), and the
 *			  offset and length of each section
 *	 sections the cv_net itself, its values, steps, storages, step inputs,
 *			  concatenation sizes, activation list and names, then the data:
 *			  every weight array (float constants, transposed and packed
 *			  filters, integer blocks), each at a 64-byte aligned offset
 *
 * Loading and its validation are prepared_load.c's; this file writes the
 * blob, and holds what both sides compute the same way (the checksum and
 * the build's identity, prepared_format.h).
 */
#include "prepared_format.h"

#include <stddef.h>
#include <stdio.h>
#include <string.h>

/* Where the weight arrays go in the data section (saving). */
typedef struct prep_region
{
	const uint8_t *base;
	size_t		bytes;
	size_t		at;				/* offset in the data section */
} prep_region;

typedef struct prep_layout
{
	uint64_t	offset[NSECTIONS];
	uint64_t	bytes[NSECTIONS];
	size_t		total;
	int			nregions;
	prep_region *regions;		/* NULL when only sizing */
} prep_layout;

static size_t
align_up(size_t n)
{
	return (n + PREP_ALIGN - 1) / PREP_ALIGN * PREP_ALIGN;
}

/*
 * A 64-bit checksum over 32-byte strides in four independent lanes, so
 * that it runs at memory speed over the megabytes of weights: the lane
 * round and the final avalanche follow the structure of xxHash64 (Yann
 * Collet, BSD-2; https://github.com/Cyan4973/xxHash/blob/dev/doc/xxhash_spec.md),
 * written here from that description.  It detects damage; it does not
 * authenticate (docs/backbones.md: whoever can write the data directory
 * is the server already).
 */
#define P1 UINT64_C(0x9E3779B185EBCA87)
#define P2 UINT64_C(0xC2B2AE3D27D4EB4F)
#define P3 UINT64_C(0x165667B19E3779F9)

static inline uint64_t
rotl64(uint64_t x, int r)
{
	return (x << r) | (x >> (64 - r));
}

static inline uint64_t
lane_round(uint64_t acc, uint64_t w)
{
	return rotl64(acc + w * P2, 31) * P1;
}

static uint64_t
checksum_update(uint64_t lanes[4], const uint8_t *p, size_t n, uint64_t total)
{
	size_t		i = 0;

	for (; i + 32 <= n; i += 32)
		for (int l = 0; l < 4; l++)
		{
			uint64_t	w;

			memcpy(&w, p + i + 8 * l, 8);
			lanes[l] = lane_round(lanes[l], w);
		}
	/* the tail, zero-padded, then the length */
	if (i < n)
	{
		uint8_t		tail[32] = {0};

		memcpy(tail, p + i, n - i);
		for (int l = 0; l < 4; l++)
		{
			uint64_t	w;

			memcpy(&w, tail + 8 * l, 8);
			lanes[l] = lane_round(lanes[l], w);
		}
	}
	return total + n;
}

static uint64_t
checksum_final(const uint64_t lanes[4], uint64_t total)
{
	uint64_t	h = rotl64(lanes[0], 1) + rotl64(lanes[1], 7) +
		rotl64(lanes[2], 12) + rotl64(lanes[3], 18);

	h ^= total * P3;
	h ^= h >> 33;
	h *= P2;
	h ^= h >> 29;
	h *= P3;
	h ^= h >> 32;
	return h;
}

/* Every byte of the blob but its checksum field. */
uint64_t
nn_prep_checksum(const uint8_t *blob, size_t len)
{
	uint64_t	lanes[4] = {P1 + P2, P2, 0, (uint64_t) 0 - P1};
	size_t		at = offsetof(prep_header, checksum);
	uint64_t	total = 0;

	total = checksum_update(lanes, blob, at, total);
	total = checksum_update(lanes, blob + at + 8, len - at - 8, total);
	return checksum_final(lanes, total);
}

/*
 * What the packed layouts depend on: the float kernels' SIMD level, the
 * integer kernels chosen, the switches tests use to force a path, and the
 * fusion threshold.
 */
void
cv_net_prepared_cpu_path(char *buf, size_t len)
{
	snprintf(buf, len, "gemm%d simd512%d q:%s portable%d avx2%d qavx2%d fuse%zu",
			 nn_gemm_available() ? 1 : 0, nn_simd512_available() ? 1 : 0,
			 nn_qkernel_name(), cv_nn_get_portable() ? 1 : 0, nn_force_avx2 ? 1 : 0,
			 nn_qforce_avx2 ? 1 : 0, nn_fuse_min_floats);
}

bool
nn_prep_identity(const char *host, char *buf)
{
	int			n = snprintf(buf, PREP_IDENTITY_LEN,
							 "nn%d ptr%zu net%zu val%zu step%zu sto%zu | %s",
							 PREP_LAYOUT_VERSION, sizeof(void *), sizeof(cv_net),
							 sizeof(nn_value), sizeof(nn_step), sizeof(nn_storage),
							 host != NULL ? host : "");

	return n >= 0 && n < PREP_IDENTITY_LEN;
}

/* ---- saving ---- */

static void
add_region(prep_layout *lay, const void *base, size_t bytes, size_t *data)
{
	if (base == NULL || bytes == 0)
		return;
	if (lay->regions != NULL)
	{
		lay->regions[lay->nregions].base = base;
		lay->regions[lay->nregions].bytes = bytes;
		lay->regions[lay->nregions].at = *data;
	}
	lay->nregions++;
	*data = align_up(*data + bytes);
}

static void
compute_layout(const cv_net *net, prep_layout *lay)
{
	size_t		at = align_up(sizeof(prep_header));
	size_t		data = 0;
	size_t		ninputs = 0;
	size_t		nconcat = 0;
	size_t		names = 0;

	for (int i = 0; i < net->nsteps; i++)
	{
		const nn_step *s = &net->steps[i];
		size_t		end = (size_t) (s->inputs - net->step_inputs) + (size_t) s->ninputs;

		if (s->ninputs > 0 && end > ninputs)
			ninputs = end;
		/* the int8 engine's inputs are a new array; the sizes stay build.c's */
		if (s->concat_sizes != NULL)
		{
			end = (size_t) (s->concat_sizes - net->concat_sizes) + (size_t) s->ninputs;
			if (end > nconcat)
				nconcat = end;
		}
	}
	for (int a = 0; a < net->nactivations; a++)
	{
		size_t		end = net->activation_names[a] +
			strlen(net->names + net->activation_names[a]) + 1;

		if (end > names)
			names = end;
	}
	lay->bytes[SEC_NET] = sizeof(cv_net);
	lay->bytes[SEC_VALUES] = (size_t) net->nvalues * sizeof(nn_value);
	lay->bytes[SEC_STEPS] = (size_t) net->nsteps * sizeof(nn_step);
	lay->bytes[SEC_STORAGES] = (size_t) net->nstorages * sizeof(nn_storage);
	lay->bytes[SEC_INPUTS] = ninputs * sizeof(int);
	lay->bytes[SEC_CONCAT] = nconcat * sizeof(size_t);
	lay->bytes[SEC_ACTIVATIONS] = (size_t) net->nactivations * sizeof(int);
	lay->bytes[SEC_ACTIVATION_NAMES] = (size_t) net->nactivations * sizeof(size_t);
	lay->bytes[SEC_NAMES] = names;

	lay->nregions = 0;
	if (net->weights != NULL)
		add_region(lay, net->weights, (net->weights_floats + 1) * sizeof(float), &data);
	add_region(lay, net->weights_kn, net->weights_kn_floats * sizeof(float), &data);
	add_region(lay, net->weights_packed, net->weights_packed_floats * sizeof(float), &data);
	for (const nn_qblock *b = net->qblocks; b != NULL; b = b->next)
		add_region(lay, nn_qblock_payload(b), b->bytes, &data);
	lay->bytes[SEC_DATA] = data;

	for (int s = 0; s < NSECTIONS; s++)
	{
		lay->offset[s] = at;
		at = align_up(at + lay->bytes[s]);
	}
	lay->total = at;
}

size_t
cv_net_prepared_size(const cv_net *net)
{
	prep_layout lay;

	if (net == NULL)
		return 0;
	memset(&lay, 0, sizeof(lay));
	compute_layout(net, &lay);
	return lay.total;
}

typedef struct save_state
{
	const cv_net *net;
	const prep_layout *lay;
	const float *dropped;		/* the int8 engine's stand-in, found below */
	bool		ok;
} save_state;

/* A weight pointer as stored (REF_*), or 0 and ok = false if it is in no region. */
static uint64_t
ref_of(save_state *ss, const void *p)
{
	const uint8_t *q = p;

	if (p == NULL)
		return 0;
	for (int r = 0; r < ss->lay->nregions; r++)
	{
		const prep_region *g = &ss->lay->regions[r];

		if (q >= g->base && q < g->base + g->bytes)
			return REF_BASE + g->at + (size_t) (q - g->base);
	}
	ss->ok = false;
	return 0;
}

#define STORE_REF(field, ref) ((field) = (void *) (uintptr_t) (ref))

static bool
integer_step(nn_kind k)
{
	return k == NN_K_QCONV || k == NN_K_QDEPTHWISE || k == NN_K_QADD || k == NN_K_QPAD ||
		k == NN_K_QUANTIZE || k == NN_K_DEQUANTIZE;
}

cv_status
cv_net_save_prepared(const cv_net *net, const char *host_identity, uint8_t *buf,
					 size_t len, cv_error *err)
{
	prep_layout lay;
	prep_header *h;
	save_state	ss;
	cv_net	   *copy;
	nn_value   *values;
	nn_step    *steps;
	uint8_t    *data;

	if (net == NULL || buf == NULL)
		return cv_fail(err, CV_ERR_PARAM, "no network or buffer");
	if (net->layouts_only || net->borrowed)
		return cv_fail(err, CV_ERR_PARAM,
					   "only a net built for running from its file can be saved prepared");
	if (((uintptr_t) buf) % PREP_ALIGN != 0)
		return cv_fail(err, CV_ERR_PARAM, "the buffer is not %d-byte aligned", PREP_ALIGN);
	memset(&lay, 0, sizeof(lay));
	compute_layout(net, &lay);
	if (len != lay.total)
		return cv_fail(err, CV_ERR_PARAM, "the buffer holds %zu bytes, the net needs %zu",
					   len, lay.total);
	lay.regions = cv_calloc((size_t) lay.nregions + 1, sizeof(prep_region));
	if (lay.regions == NULL)
		return cv_fail(err, CV_ERR_NOMEM, "out of memory saving a network");
	compute_layout(net, &lay);

	memset(buf, 0, len);
	h = (prep_header *) buf;
	memcpy(h->magic, PREP_MAGIC, 8);
	h->format_version = PREP_FORMAT_VERSION;
	h->header_bytes = sizeof(prep_header);
	h->total_bytes = len;
	if (!nn_prep_identity(host_identity, h->identity))
	{
		cv_free(lay.regions);
		return cv_fail(err, CV_ERR_PARAM, "host identity too long");
	}
	cv_net_prepared_cpu_path(h->cpu_path, sizeof(h->cpu_path));
	memcpy(h->offset, lay.offset, sizeof(h->offset));
	memcpy(h->bytes, lay.bytes, sizeof(h->bytes));

	/* the data first: the pointers below are found in it */
	data = buf + lay.offset[SEC_DATA];
	for (int r = 0; r < lay.nregions; r++)
		memcpy(data + lay.regions[r].at, lay.regions[r].base, lay.regions[r].bytes);

	ss.net = net;
	ss.lay = &lay;
	ss.dropped = NULL;
	ss.ok = true;

	copy = (cv_net *) (buf + lay.offset[SEC_NET]);
	*copy = *net;
	copy->values = NULL;
	copy->steps = NULL;
	copy->storages = NULL;
	copy->step_inputs = NULL;
	copy->concat_sizes = NULL;
	copy->weights = NULL;
	copy->weights_kn = NULL;
	copy->weights_packed = NULL;
	copy->activations = NULL;
	copy->activation_names = NULL;
	copy->names = NULL;
	copy->qblocks = NULL;
	copy->borrowed = false;

	values = (nn_value *) (buf + lay.offset[SEC_VALUES]);
	memcpy(values, net->values, lay.bytes[SEC_VALUES]);
	for (int v = 0; v < net->nvalues; v++)
	{
		uint64_t	ref = ref_of(&ss, net->values[v].cdata);

		if (net->values[v].cdata != NULL && !ss.ok)
		{
			/*
			 * Outside every region: the int8 engine's stand-in for a
			 * dropped constant (qbuild.c), the only pointer of its kind.
			 */
			if (ss.dropped == NULL)
				ss.dropped = net->values[v].cdata;
			if (net->values[v].cdata == ss.dropped)
			{
				ref = REF_DROPPED;
				ss.ok = true;
			}
		}
		STORE_REF(values[v].cdata, ref);
	}

	steps = (nn_step *) (buf + lay.offset[SEC_STEPS]);
	memcpy(steps, net->steps, lay.bytes[SEC_STEPS]);
	for (int i = 0; i < net->nsteps && ss.ok; i++)
	{
		const nn_step *s = &net->steps[i];
		nn_step    *d = &steps[i];

		STORE_REF(d->inputs, s->ninputs > 0 ? (uint64_t) (s->inputs - net->step_inputs) + 1 : 0);
		STORE_REF(d->concat_sizes, s->concat_sizes != NULL ?
				  (uint64_t) (s->concat_sizes - net->concat_sizes) + 1 : 0);
		STORE_REF(d->expand, s->expand != NULL ? (uint64_t) (s->expand - net->steps) + 1 : 0);
		STORE_REF(d->project, s->project != NULL ? (uint64_t) (s->project - net->steps) + 1 : 0);
		if (integer_step(s->kind))
		{
			/*
			 * The float parameters of a step rewritten to integers are
			 * never read again and may point at freed weights (qbuild.c
			 * remaps only the float steps'): stored as none.
			 */
			d->conv.weights = d->conv.bias = d->conv.weights_kn = NULL;
			d->fc_weights = d->fc_bias = NULL;
		}
		else
		{
			STORE_REF(d->conv.weights, ref_of(&ss, s->conv.weights));
			STORE_REF(d->conv.bias, ref_of(&ss, s->conv.bias));
			STORE_REF(d->conv.weights_kn, ref_of(&ss, s->conv.weights_kn));
			STORE_REF(d->fc_weights, ref_of(&ss, s->fc_weights));
			STORE_REF(d->fc_bias, ref_of(&ss, s->fc_bias));
		}
		if (s->kind == NN_K_QCONV || s->kind == NN_K_QDEPTHWISE)
		{
			STORE_REF(d->qconv.weights, ref_of(&ss, s->qconv.weights));
			STORE_REF(d->qconv.bias, ref_of(&ss, s->qconv.bias));
			STORE_REF(d->qconv.multiplier, ref_of(&ss, s->qconv.multiplier));
			STORE_REF(d->qconv.shift, ref_of(&ss, s->qconv.shift));
			STORE_REF(d->qconv.packed, ref_of(&ss, s->qconv.packed));
		}
		else
			memset(&d->qconv, 0, sizeof(d->qconv));
	}
	cv_free(lay.regions);
	if (!ss.ok)
		return cv_fail(err, CV_ERR_INTERNAL, "a weight of the network lies outside its arrays");

	memcpy(buf + lay.offset[SEC_STORAGES], net->storages, lay.bytes[SEC_STORAGES]);
	memcpy(buf + lay.offset[SEC_INPUTS], net->step_inputs, lay.bytes[SEC_INPUTS]);
	if (lay.bytes[SEC_CONCAT] > 0)
		memcpy(buf + lay.offset[SEC_CONCAT], net->concat_sizes, lay.bytes[SEC_CONCAT]);
	memcpy(buf + lay.offset[SEC_ACTIVATIONS], net->activations, lay.bytes[SEC_ACTIVATIONS]);
	memcpy(buf + lay.offset[SEC_ACTIVATION_NAMES], net->activation_names,
		   lay.bytes[SEC_ACTIVATION_NAMES]);
	memcpy(buf + lay.offset[SEC_NAMES], net->names, lay.bytes[SEC_NAMES]);

	h->checksum = nn_prep_checksum(buf, len);
	return CV_OK;
}

void
nn_prepared_reseal(uint8_t *blob, size_t len)
{
	if (len >= sizeof(prep_header))
		((prep_header *) blob)->checksum = nn_prep_checksum(blob, len);
}

void
nn_prepared_adopt(uint8_t *blob, size_t len, const char *host_identity)
{
	prep_header *h = (prep_header *) blob;

	if (len < sizeof(prep_header))
		return;
	memset(h->identity, 0, sizeof(h->identity));
	memset(h->cpu_path, 0, sizeof(h->cpu_path));
	if (!nn_prep_identity(host_identity, h->identity))
		return;
	cv_net_prepared_cpu_path(h->cpu_path, sizeof(h->cpu_path));
	nn_prepared_reseal(blob, len);
}
