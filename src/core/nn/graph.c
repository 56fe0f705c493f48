/*
 * graph.c
 *	  The network object and its executor: load (parse, build, plan), the
 *	  per-caller workspace, cv_net_run, threads and profiling.  See nn.h.
 *
 * cv_net_run walks the steps in file order; each step reads and writes
 * float buffers at offsets planned at load (plan.c), so a run allocates
 * nothing and touches no shared mutable state: a net may be run from
 * several workspaces at once.
 *
 * Threads (cv_nn_set_threads > 1): the integer convolutions, depthwise
 * convolutions, ADDs and conversions, and the float engine's convolutions
 * and depthwise convolutions on its own kernels (not OpenBLAS's), large
 * enough to pay for it, are split into parts (tiles of output pixels,
 * bands of output rows, ranges of elements) that the pool of
 * ../common/parallel.c hands to its threads;
 * every other step, and every step too small (PARALLEL_MIN_MACS), runs on
 * the caller's thread.  Each thread has its own scratch: the workspace's
 * for the caller, and per helper one buffer of the process, grown at the
 * first threaded run of a net that needs more (without memory the run
 * stays on one thread).  The parts write disjoint outputs and compute exactly what the
 * whole kernel does, so the bytes do not depend on the thread count
 * (test_nn_threads).
 *
 * A residual ADD right after an integer convolution it adds (MobileNet
 * V2's projection plus the block's input) runs inside that convolution's
 * parts when the convolution is split: each part adds the pixels it has
 * just written, while they are in its core's cache, instead of a separate
 * split of the ADD (whose inputs' other half would come from the other
 * core, and which costs another hand-out).  The ADD is element-wise, so
 * the bytes are those of the ADD run alone.  Which ADDs qualify is
 * worked out once per workspace (plan_residual_adds).
 */
#include "nn_internal.h"
#include "common/huge_pages.h"
#include "../common/parallel.h"

#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* OpenBLAS extensions (declared by its cblas.h, repeated for other BLAS). */
extern void openblas_set_num_threads(int num_threads);
extern int	openblas_get_num_threads(void);

/*
 * OpenBLAS's pthreads builds start a thread server when the library
 * initialises (one thread per core but one), and each of its threads spins
 * on sched_yield for 2^28 cycles (THREAD_TIMEOUT in its
 * driver/others/blas_server.c) before it sleeps: some 130 ms of CPU on
 * another core in every process that loads it, 140 against 10 ms for a
 * backend that only ran LOAD 'pgvision' (3 December 2026).  Every new
 * connection and parallel worker paid that, taking the core the scan's
 * other processes were using.  So one thread shuts the server down; its
 * next multi-threaded call starts it again (exec_blas re-initialises a
 * server shut down, which OpenBLAS does after fork).  Weak: other BLAS
 * libraries, and OpenBLAS's OpenMP builds, have no such function.
 */
extern int	blas_thread_shutdown_(void) __attribute__((weak));

/* Process-wide thread count: the one setting the host (a GUC) controls. */
static int	nn_thread_count = 1;

struct cv_net_workspace
{
	const cv_net *net;
	void	   *raw;			/* allocation, before alignment */
	float	   *arena;			/* 64-byte aligned activations */
	float	   *scratch;		/* im2col tiles, after the arena */
	bool		profiling;
	int			runs;
	double	   *step_seconds;
	const nn_step **residual_add;	/* per step: the ADD its parts may also do */
};

/*
 * The scratch of helper thread t (1..), shared by every workspace (a run
 * at a time uses the pool) and grown to the largest a net needs.  It is
 * the C library's memory, not the host's allocator: under PostgreSQL
 * cv_malloc is the current memory context, which a query's end resets,
 * while the helpers, like this scratch, live as long as the process.  A
 * buffer is replaced (and the outgrown one freed) only while no run is
 * under way (cv_parallel_exclusive): a part reads its thread's pointer
 * when it runs, and sizes only grow.
 */
static void *volatile helper_scratch[CV_PARALLEL_MAX_THREADS];
static size_t helper_scratch_bytes[CV_PARALLEL_MAX_THREADS];

/*
 * Below this many multiply-adds (or elements, for the element-wise steps)
 * a step runs on one thread: handing out its parts would cost about what
 * its second half saves (a few microseconds).
 */
#define PARALLEL_MIN_MACS 200000.0
#define PARALLEL_MIN_ELEMENTS 32768
/*
 * Parts per thread: more than one, so that a thread the machine slows down
 * leaves its remaining parts to the others; the depthwise bands stay one
 * per thread, since each band rebuilds k_h - 1 rows of its window cache.
 */
#define PARTS_PER_THREAD 2
/*
 * An integer convolution takes a part per QCONV_PART_MACS multiply-adds,
 * up to QCONV_MAX_PARTS_PER_THREAD a thread: a thread that finishes first
 * takes the other's last part, and with two large parts a thread that
 * started a little late lost a whole quarter of the step so (in the first
 * convolution of MobileNet V2 the caller did three of its four parts in
 * 263 of 297 runs).  Measured: the 112 x 112 x 16 -> 96 one went from 1.52
 * to 1.77x on two threads; the first one did not change (1.1 to 1.25x,
 * for a reason not found).
 */
#define QCONV_PART_MACS 1250000.0
#define QCONV_MAX_PARTS_PER_THREAD 8

void
cv_nn_set_threads(int n)
{
	if (n < 1)
		n = 1;
	if (n > 64)
		n = 64;
	nn_thread_count = n;
	cv_parallel_set_threads(n);
	openblas_set_num_threads(n);
	if (n == 1 && blas_thread_shutdown_ != NULL)
		(void) blas_thread_shutdown_();
}

int
cv_nn_get_threads(void)
{
	return nn_thread_count;
}

int
nn_threads(void)
{
	return nn_thread_count;
}

bool
cv_nn_int8_fast(void)
{
	return strcmp(nn_qkernel_name(), "reference") != 0;
}

void
cv_net_free(cv_net *net)
{
	if (net == NULL)
		return;
	cv_free(net->values);
	cv_free(net->steps);
	cv_free(net->storages);
	if (net->borrowed)
	{
		/* the rest is the caller's prepared blob (prepared.c) */
		cv_free(net);
		return;
	}
	cv_free(net->step_inputs);
	cv_free(net->concat_sizes);
	cv_free(net->weights);
	cv_free(net->weights_kn);
	cv_free(net->weights_packed);
	cv_free(net->activations);
	cv_free(net->activation_names);
	cv_free(net->names);
	nn_qfree_all(net);
	cv_free(net);
}

cv_status
cv_net_load(const uint8_t *data, size_t len, cv_net **out, cv_error *err)
{
	return cv_net_load_with(data, len, NULL, out, err);
}

cv_status
cv_net_load_with(const uint8_t *data, size_t len, const cv_net_options *options,
				 cv_net **out, cv_error *err)
{
	static const cv_net_options whole = {0};
	const cv_net_options *o = options ? options : &whole;
	tfl_model	m;
	cv_net	   *net;
	cv_status	st;

	if (out == NULL)
		return cv_fail(err, CV_ERR_PARAM, "no output pointer for the network");
	*out = NULL;
	if (data == NULL && len > 0)
		return cv_fail(err, CV_ERR_PARAM, "no model bytes");
	if (o->n_outputs < 0 || o->n_outputs > CV_NET_MAX_OUTPUTS)
		return cv_fail(err, CV_ERR_PARAM, "%d requested outputs, at most %d",
					   o->n_outputs, CV_NET_MAX_OUTPUTS);
	if (o->engine != CV_NET_ENGINE_FLOAT && o->engine != CV_NET_ENGINE_INT8)
		return cv_fail(err, CV_ERR_PARAM, "unknown engine %d", (int) o->engine);
	if (o->input_width < 0 || o->input_height < 0)
		return cv_fail(err, CV_ERR_PARAM, "negative input size %dx%d",
					   o->input_width, o->input_height);

	/*
	 * A net cut at outputs or at its first foreign operator must not fail on
	 * the operators it leaves out: their errors wait for the build.
	 */
	if ((st = tfl_parse(data, len, o->n_outputs > 0 || o->prefix_only, &m, err)) != CV_OK)
		return st;
	net = cv_calloc(1, sizeof(cv_net));
	if (net == NULL)
	{
		tfl_model_free(&m);
		return cv_fail(err, CV_ERR_NOMEM, "out of memory loading a network");
	}
	st = nn_build(&m, o, net, err);
	if (st == CV_OK)
		st = nn_plan(net, err);
	tfl_model_free(&m);
	if (st != CV_OK)
	{
		cv_net_free(net);
		return st;
	}
	for (int i = 0; i < net->nsteps; i++)
	{
		size_t		s = 0;

		if (net->steps[i].kind == NN_K_CONV)
			s = nn_conv2d_scratch(&net->steps[i].conv);
		else if (net->steps[i].expand != NULL || net->steps[i].project != NULL)
			s = nn_depthwise_fused_scratch(net->steps[i].expand ? &net->steps[i].expand->conv : NULL,
										   &net->steps[i].conv,
										   net->steps[i].project ? &net->steps[i].project->conv : NULL);
		if (s > net->scratch_floats)
			net->scratch_floats = s;
	}
	net->info.arena_bytes = (net->arena_floats + net->scratch_floats) * sizeof(float);
	*out = net;
	return CV_OK;
}

const cv_net_info *
cv_net_get_info(const cv_net *net)
{
	return &net->info;
}

/* The bytes of the arena value v occupies: [*lo, *hi). */
static void
value_bytes(const cv_net *net, int v, size_t *lo, size_t *hi)
{
	const nn_value *val = &net->values[v];

	*lo = net->storages[val->storage].offset * sizeof(float);
	*hi = *lo + val->count * (val->quantized ? 1 : sizeof(float));
}

/*
 * How the arena bytes of values v and w lie: apart, the very same bytes
 * (an output written in place of an operand), or partly over each other.
 * Storages of values not alive together share arena bytes (plan.c), so
 * distinct storages may still overlap.
 */
typedef enum
{
	BYTES_APART,
	BYTES_SAME,
	BYTES_OVERLAP
} bytes_relation;

static bytes_relation
relation_of(const cv_net *net, int v, int w)
{
	size_t		vlo,
				vhi,
				wlo,
				whi;

	value_bytes(net, v, &vlo, &vhi);
	value_bytes(net, w, &wlo, &whi);
	if (vhi <= wlo || whi <= vlo)
		return BYTES_APART;
	return vlo == wlo && vhi == whi ? BYTES_SAME : BYTES_OVERLAP;
}

static bool
in_arena(const cv_net *net, int v)
{
	return v >= 0 && net->values[v].cdata == NULL && net->values[v].storage >= 0;
}

/*
 * For each integer convolution followed by an ADD of its output and a
 * value of the same shape (no broadcasting), that ADD, which its parts
 * can then do too (see the top of the file).  A part adds the pixels it
 * has written, so the ADD's output may be written in place of either
 * operand (element by element where it was read), but must share no byte
 * with the convolution's input, which the other parts are still reading.
 * The other operand was computed before the convolution (steps run in
 * order).
 */
static void
plan_residual_adds(const cv_net *net, const nn_step **residual_add)
{
	for (int i = 0; i + 1 < net->nsteps; i++)
	{
		const nn_step *c = &net->steps[i],
				   *a = &net->steps[i + 1];
		int			other;

		residual_add[i] = NULL;
		if (c->kind != NN_K_QCONV || a->kind != NN_K_QADD || a->ninputs != 2 ||
			c->output < 0 || a->output < 0)
			continue;
		if (a->inputs[0] == c->output && a->inputs[1] != c->output)
			other = a->inputs[1];
		else if (a->inputs[1] == c->output && a->inputs[0] != c->output)
			other = a->inputs[0];
		else
			continue;
		if (!in_arena(net, other) || !in_arena(net, c->output) || !in_arena(net, a->output) ||
			!in_arena(net, c->inputs[0]) ||
			net->values[other].count != a->q_count ||
			net->values[c->output].count != a->q_count ||
			net->values[a->output].count != a->q_count ||
			(size_t) c->qconv.out_h * c->qconv.out_w * c->qconv.out_c != a->q_count)
			continue;
		/* a part's ADD writes only where it read, and nothing another part reads */
		if (relation_of(net, a->output, c->output) == BYTES_OVERLAP ||
			relation_of(net, a->output, other) == BYTES_OVERLAP ||
			relation_of(net, a->output, c->inputs[0]) != BYTES_APART)
			continue;
		residual_add[i] = a;
	}
	if (net->nsteps > 0)
		residual_add[net->nsteps - 1] = NULL;
}

cv_status
cv_net_workspace_create(const cv_net *net, cv_net_workspace **out, cv_error *err)
{
	cv_net_workspace *ws;
	size_t		bytes;

	if (net == NULL || out == NULL)
		return cv_fail(err, CV_ERR_PARAM, "no network or output pointer");
	*out = NULL;
	ws = cv_calloc(1, sizeof(*ws));
	if (ws == NULL)
		return cv_fail(err, CV_ERR_NOMEM, "out of memory for a workspace");
	ws->net = net;
	bytes = (net->arena_floats + net->scratch_floats) * sizeof(float);
	/* huge pages: a new backend's first run touches the whole arena */
	ws->arena = cv_malloc_huge(bytes, &ws->raw);
	ws->step_seconds = cv_calloc((size_t) net->nsteps + 1, sizeof(double));
	ws->residual_add = cv_calloc((size_t) net->nsteps + 1, sizeof(const nn_step *));
	if (ws->arena == NULL || ws->step_seconds == NULL || ws->residual_add == NULL)
	{
		cv_net_workspace_free(ws);
		return cv_fail(err, CV_ERR_NOMEM, "out of memory for a %zu-byte activation arena",
					   bytes);
	}
	ws->scratch = ws->arena + net->arena_floats;
	plan_residual_adds(net, ws->residual_add);
	*out = ws;
	return CV_OK;
}

void
cv_net_workspace_free(cv_net_workspace *ws)
{
	if (ws == NULL)
		return;
	cv_free(ws->raw);
	cv_free(ws->step_seconds);
	cv_free(ws->residual_add);
	cv_free(ws);
}

/* Where a value's floats are during a run. */
static float *
value_data(const cv_net *net, cv_net_workspace *ws, int v)
{
	const nn_value *val = &net->values[v];

	if (val->cdata != NULL)
		return (float *) val->cdata;	/* never written: outputs are not constants */
	return ws->arena + net->storages[val->storage].offset;
}

static double
now_seconds(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double) ts.tv_sec + (double) ts.tv_nsec * 1e-9;
}

static void
run_step(const cv_net *net, cv_net_workspace *ws, const nn_step *s)
{
	float	   *out = value_data(net, ws, s->output);
	const float *in0 = s->ninputs > 0 && s->inputs[0] >= 0 ?
		value_data(net, ws, s->inputs[0]) : NULL;

	switch (s->kind)
	{
		case NN_K_CONV:
			if (!s->fused_away)
				nn_conv2d(&s->conv, in0, out, ws->scratch);
			break;
		case NN_K_DEPTHWISE:
			if (s->expand != NULL || s->project != NULL)
				nn_depthwise_fused(s->expand ? &s->expand->conv : NULL, &s->conv,
								   s->project ? &s->project->conv : NULL,
								   s->expand ? value_data(net, ws, s->expand->inputs[0]) : in0,
								   s->project ? value_data(net, ws, s->project->output) : out,
								   ws->scratch);
			else
				nn_depthwise(&s->conv, in0, out);
			break;
		case NN_K_FC:
			nn_fully_connected(s->fc_rows, s->fc_k, s->fc_n, in0, s->fc_weights,
							   s->fc_bias, s->act_min, s->act_max, out);
			break;
		case NN_K_BINARY:
			nn_binary(s->binop, s->a_dims, in0, s->b_dims,
					  value_data(net, ws, s->inputs[1]), s->out_dims,
					  s->act_min, s->act_max, out);
			break;
		case NN_K_AVG_POOL:
			nn_avg_pool(&s->conv, in0, out);
			break;
		case NN_K_MAX_POOL:
			nn_max_pool(&s->conv, in0, out);
			break;
		case NN_K_MEAN:
			nn_mean(s->a_dims, s->reduce, in0, out);
			break;
		case NN_K_PAD:
			nn_pad(s->a_dims, s->pad_before, s->out_dims, in0, out);
			break;
		case NN_K_ALIAS:
			break;
		case NN_K_CONCAT:
			{
				const float *ins[64];
				int			n = s->ninputs;

				/* more than 64 inputs: concatenate in passes of 64 */
				if (n <= 64)
				{
					for (int i = 0; i < n; i++)
						ins[i] = value_data(net, ws, s->inputs[i]);
					nn_concat(n, ins, s->concat_sizes, s->outer, s->act_min,
							  s->act_max, out);
				}
				else
				{
					size_t		row = 0,
								done = 0;

					for (int i = 0; i < n; i++)
						row += s->concat_sizes[i];
					for (int i = 0; i < n; i++)
					{
						const float *src = value_data(net, ws, s->inputs[i]);
						size_t		sz = s->concat_sizes[i];

						for (size_t o = 0; o < s->outer; o++)
							memcpy(out + o * row + done, src + o * sz, sz * sizeof(float));
						done += sz;
					}
					nn_clamp(row * s->outer, s->act_min, s->act_max, out);
				}
				break;
			}
		case NN_K_SOFTMAX:
			nn_softmax(s->rows, s->inner, s->beta, in0, out);
			break;
		case NN_K_UNARY:
			nn_unary(s->unop, net->values[s->output].count, in0, s->act_min,
					 s->act_max, out);
			break;
		case NN_K_QCONV:
			nn_qconv(&s->qconv, (const uint8_t *) in0, (uint8_t *) out, ws->scratch);
			break;
		case NN_K_QDEPTHWISE:
			nn_qdepthwise(&s->qconv, (const uint8_t *) in0, (uint8_t *) out, ws->scratch);
			break;
		case NN_K_QADD:
			nn_qadd(&s->qadd, s->q_count, (const uint8_t *) in0,
					(const uint8_t *) value_data(net, ws, s->inputs[1]), (uint8_t *) out);
			break;
		case NN_K_QPAD:
			nn_qpad(s->a_dims, s->pad_before, s->out_dims, (uint8_t) s->q_zp,
					(const uint8_t *) in0, (uint8_t *) out);
			break;
		case NN_K_QUANTIZE:
			nn_quantize_u8(s->q_count, in0, s->q_scale, s->q_zp, (uint8_t *) out);
			break;
		case NN_K_DEQUANTIZE:
			nn_dequantize_u8(s->q_count, (const uint8_t *) in0, s->q_scale, s->q_zp, out);
			break;
	}
}

/* One step split over the pool: what each part needs. */
typedef struct step_job
{
	const cv_net *net;
	cv_net_workspace *ws;
	const nn_step *s;
	const void *in0;
	const void *in1;
	void	   *out;
	size_t		count;			/* element-wise steps */
	const nn_step *add;			/* QCONV: the residual ADD its parts also do */
	const void *add_in0;
	const void *add_in1;
	void	   *add_out;
} step_job;

static void *
thread_scratch(cv_net_workspace *ws, int thread)
{
	return thread == 0 ? (void *) ws->scratch : helper_scratch[thread];
}

static void
step_part(void *ctx, int part, int nparts, int thread)
{
	step_job   *j = ctx;
	const nn_step *s = j->s;
	long		lo,
				hi;

	switch (s->kind)
	{
		case NN_K_CONV:
			cv_parallel_range(s->conv.out_h, part, nparts, &lo, &hi);
			nn_conv2d_rows(&s->conv, j->in0, j->out, thread_scratch(j->ws, thread),
						   (int) lo, (int) hi);
			break;
		case NN_K_DEPTHWISE:
			cv_parallel_range(s->conv.out_h, part, nparts, &lo, &hi);
			if (s->expand != NULL || s->project != NULL)
				nn_depthwise_fused_rows(s->expand ? &s->expand->conv : NULL, &s->conv,
										s->project ? &s->project->conv : NULL,
										j->in0, j->out, thread_scratch(j->ws, thread),
										(int) lo, (int) hi);
			else
				nn_depthwise_rows(&s->conv, j->in0, j->out, (int) lo, (int) hi);
			break;
		case NN_K_QCONV:
			nn_qconv_part(&s->qconv, j->in0, j->out, thread_scratch(j->ws, thread),
						  part, nparts);
			if (j->add != NULL)
			{
				int			m0,
							m1;
				size_t		at,
							n;

				/* the ADD over the pixels this part just wrote */
				nn_qconv_part_pixels(&s->qconv, part, nparts, &m0, &m1);
				at = (size_t) m0 * s->qconv.out_c;
				n = (size_t) (m1 - m0) * s->qconv.out_c;
				if (n > 0)
					nn_qadd(&j->add->qadd, n, (const uint8_t *) j->add_in0 + at,
							(const uint8_t *) j->add_in1 + at, (uint8_t *) j->add_out + at);
			}
			break;
		case NN_K_QDEPTHWISE:
			nn_qdepthwise_part(&s->qconv, j->in0, j->out, thread_scratch(j->ws, thread),
							   part, nparts);
			break;
		case NN_K_QADD:
			/* ranges of whole 64-byte vectors: the kernel's own blocks */
			cv_parallel_range((long) ((j->count + 63) / 64), part, nparts, &lo, &hi);
			lo *= 64;
			hi = hi * 64 > (long) j->count ? (long) j->count : hi * 64;
			if (lo < hi)
				nn_qadd(&s->qadd, (size_t) (hi - lo), (const uint8_t *) j->in0 + lo,
						(const uint8_t *) j->in1 + lo, (uint8_t *) j->out + lo);
			break;
		case NN_K_QUANTIZE:
			cv_parallel_range((long) ((j->count + 63) / 64), part, nparts, &lo, &hi);
			lo *= 64;
			hi = hi * 64 > (long) j->count ? (long) j->count : hi * 64;
			if (lo < hi)
				nn_quantize_u8((size_t) (hi - lo), (const float *) j->in0 + lo, s->q_scale,
							   s->q_zp, (uint8_t *) j->out + lo);
			break;
		case NN_K_DEQUANTIZE:
			cv_parallel_range((long) ((j->count + 63) / 64), part, nparts, &lo, &hi);
			lo *= 64;
			hi = hi * 64 > (long) j->count ? (long) j->count : hi * 64;
			if (lo < hi)
				nn_dequantize_u8((size_t) (hi - lo), (const uint8_t *) j->in0 + lo, s->q_scale,
								 s->q_zp, (float *) j->out + lo);
			break;
		default:
			break;
	}
}

/*
 * How many parts step s splits into on threads threads (1: run it whole,
 * on this thread).
 */
static int
step_parts(const nn_step *s, int threads)
{
	int			max;

	switch (s->kind)
	{
		case NN_K_CONV:
			/* bands of output rows, on our own kernels only */
			if (s->fused_away || s->macs < PARALLEL_MIN_MACS || !nn_conv2d_splits(&s->conv))
				return 1;
			max = s->conv.out_h;
			return max < threads * PARTS_PER_THREAD ? max : threads * PARTS_PER_THREAD;
		case NN_K_DEPTHWISE:
			/* a fused band expands up to k_h - stride rows again: one a thread */
			if (s->macs < PARALLEL_MIN_MACS || s->conv.out_h < 2)
				return 1;
			max = s->conv.out_h;
			if (s->expand != NULL || s->project != NULL)
				return max < threads ? max : threads;
			return max < threads * PARTS_PER_THREAD ? max : threads * PARTS_PER_THREAD;
		case NN_K_QCONV:
			if (s->macs < PARALLEL_MIN_MACS)
				return 1;
			{
				int			per = (int) (s->macs / threads / QCONV_PART_MACS);

				per = per < PARTS_PER_THREAD ? PARTS_PER_THREAD :
					per > QCONV_MAX_PARTS_PER_THREAD ? QCONV_MAX_PARTS_PER_THREAD : per;
				max = nn_qconv_max_parts(&s->qconv);
				return max < threads * per ? max : threads * per;
			}
		case NN_K_QDEPTHWISE:
			if (s->macs < PARALLEL_MIN_MACS)
				return 1;
			max = nn_qdepthwise_max_parts(&s->qconv);
			return max < threads ? max : threads;
		case NN_K_QADD:
		case NN_K_QUANTIZE:
		case NN_K_DEQUANTIZE:
			return s->q_count < PARALLEL_MIN_ELEMENTS ? 1 : threads * PARTS_PER_THREAD;
		default:
			return 1;
	}
}

/* What growing the helpers' scratch needs and says (grow_thread_scratch). */
typedef struct scratch_growth
{
	size_t		bytes;
	int			threads;
	bool		ok;
} scratch_growth;

static void
grow_thread_scratch(void *ctx)
{
	scratch_growth *g = ctx;

	g->ok = true;
	for (int t = 1; t < g->threads; t++)
	{
		void	   *raw;

		if (helper_scratch[t] != NULL && helper_scratch_bytes[t] >= g->bytes)
			continue;
		raw = aligned_alloc(64, (g->bytes + 63) / 64 * 64 + 64);
		if (raw == NULL)
		{
			g->ok = false;
			return;
		}
		free(helper_scratch[t]);
		helper_scratch[t] = raw;
		helper_scratch_bytes[t] = g->bytes;
	}
}

/*
 * The helpers' scratch for threads threads and this net; false (run on
 * one thread) when there is no memory for it, or when it must grow while
 * another host thread's run is under way.
 */
static bool
ensure_thread_scratch(cv_net_workspace *ws, int threads)
{
	scratch_growth g = {ws->net->scratch_floats * sizeof(float), threads, true};
	bool		enough = true;

	for (int t = 1; t < threads && enough; t++)
		enough = helper_scratch[t] != NULL && helper_scratch_bytes[t] >= g.bytes;
	if (enough)
		return true;
	return cv_parallel_exclusive(grow_thread_scratch, &g) && g.ok;
}

/*
 * Run step s, split over the pool when it is worth it; add, when not NULL,
 * is the residual ADD after it (plan_residual_adds), done in s's parts if
 * s is split.  Returns whether add was done.
 */
static bool
run_step_threaded(const cv_net *net, cv_net_workspace *ws, const nn_step *s, int threads,
				  const nn_step *add)
{
	int			nparts = threads > 1 ? step_parts(s, threads) : 1;
	step_job	j;

	if (nparts <= 1)
	{
		run_step(net, ws, s);
		return false;
	}
	j.add = add;
	if (add != NULL)
	{
		j.add_in0 = value_data(net, ws, add->inputs[0]);
		j.add_in1 = value_data(net, ws, add->inputs[1]);
		j.add_out = value_data(net, ws, add->output);
	}
	j.net = net;
	j.ws = ws;
	j.s = s;
	j.in0 = value_data(net, ws, s->inputs[0]);
	j.in1 = s->kind == NN_K_QADD ? value_data(net, ws, s->inputs[1]) : NULL;
	j.out = value_data(net, ws, s->output);
	/* a fused block reads the expansion's input and writes the projection's output */
	if (s->kind == NN_K_DEPTHWISE && s->expand != NULL)
		j.in0 = value_data(net, ws, s->expand->inputs[0]);
	if (s->kind == NN_K_DEPTHWISE && s->project != NULL)
		j.out = value_data(net, ws, s->project->output);
	j.count = s->q_count;
	cv_parallel_run(nparts, step_part, &j);
	return add != NULL;
}

/*
 * The last step a run for value v alone needs: the one that writes it
 * (each value has one producer, and the value's storage is pinned, so no
 * later step touches its bytes).  The steps after it compute only what
 * follows from v: for a backbone's features, the classifier's quantize,
 * 1x1 convolution and softmax.  nsteps - 1 when no step writes v.
 */
static int
last_step_for(const cv_net *net, int v)
{
	for (int i = net->nsteps - 1; i >= 0; i--)
	{
		const nn_step *s = &net->steps[i];

		if (s->output == v || (s->project != NULL && s->project->output == v))
			return i;
	}
	return net->nsteps - 1;
}

/* Steps 0..last on rgb; their values are then in ws's arena. */
static void
run_steps(const cv_net *net, cv_net_workspace *ws, const uint8_t *rgb, int last)
{
	float	   *in;
	size_t		n;
	float		scale,
				zp;

	int			threads = cv_parallel_threads();

	if (openblas_get_num_threads() != nn_thread_count)
		openblas_set_num_threads(nn_thread_count);
	if (threads > 1 && !ensure_thread_scratch(ws, threads))
		threads = 1;

	/* pixels to the real values the input tensor stands for */
	in = value_data(net, ws, net->input_value);
	n = (size_t) net->info.input_width * net->info.input_height * 3;
	scale = net->info.input_scale;
	zp = (float) net->info.input_zero_point;
	if (net->values[net->input_value].quantized)
		memcpy(in, rgb, n);		/* a quantized input's bytes are the pixels */
	else
		for (size_t i = 0; i < n; i++)
			in[i] = ((float) rgb[i] - zp) * scale;

	for (int i = 0; i <= last; i++)
	{
		/* the ADD after step i, if it is needed and may be done with it */
		const nn_step *add = i < last ? ws->residual_add[i] : NULL;
		double		t0 = ws->profiling ? now_seconds() : 0.0;

		bool		add_done = run_step_threaded(net, ws, &net->steps[i], threads, add);

		/* a residual ADD done in step i's parts counts in step i's time */
		if (ws->profiling)
			ws->step_seconds[i] += now_seconds() - t0;
		if (add_done)
			i++;
	}
	if (ws->profiling)
		ws->runs++;
}

static cv_status
check_run(const cv_net *net, cv_net_workspace *ws, const uint8_t *rgb, cv_error *err)
{
	if (net == NULL || ws == NULL || rgb == NULL)
		return cv_fail(err, CV_ERR_PARAM, "no network, workspace or pixels");
	if (ws->net != net)
		return cv_fail(err, CV_ERR_PARAM, "the workspace belongs to another network");
	if (net->layouts_only)
		return cv_fail(err, CV_ERR_PARAM,
					   "this network was loaded for reading its weights, not for running");
	return CV_OK;
}

cv_status
cv_net_run(const cv_net *net, cv_net_workspace *ws, const uint8_t *rgb,
		   float *scores, float *features, cv_error *err)
{
	cv_status	st;

	if ((st = check_run(net, ws, rgb, err)) != CV_OK)
		return st;
	if (scores != NULL && net->output_value < 0)
		return cv_fail(err, CV_ERR_UNSUPPORTED,
					   "this network was cut before its output: use cv_net_run_outputs");
	if (features != NULL && net->feature_value < 0)
		return cv_fail(err, CV_ERR_UNSUPPORTED,
					   "this network has no recognisable feature tensor");
	/* features alone: not the classifier that follows them */
	run_steps(net, ws, rgb, scores == NULL && features != NULL ?
			  last_step_for(net, net->feature_value) : net->nsteps - 1);
	if (scores != NULL)
		memcpy(scores, value_data(net, ws, net->output_value),
			   (size_t) net->info.num_outputs * sizeof(float));
	if (features != NULL)
		memcpy(features, value_data(net, ws, net->feature_value),
			   (size_t) net->info.feature_dim * sizeof(float));
	return CV_OK;
}

cv_status
cv_net_run_outputs(const cv_net *net, cv_net_workspace *ws, const uint8_t *rgb,
				   float *const *outs, cv_error *err)
{
	cv_status	st;

	if ((st = check_run(net, ws, rgb, err)) != CV_OK)
		return st;
	if (outs == NULL && net->n_outputs > 0)
		return cv_fail(err, CV_ERR_PARAM, "no output buffers");
	run_steps(net, ws, rgb, net->nsteps - 1);
	for (int k = 0; k < net->n_outputs; k++)
		if (outs[k] != NULL)
			memcpy(outs[k], value_data(net, ws, net->outputs[k]),
				   net->values[net->outputs[k]].count * sizeof(float));
	return CV_OK;
}

int
cv_net_num_activations(const cv_net *net)
{
	return net->nactivations;
}

bool
cv_net_activation(const cv_net *net, int index, int *tensor, int dims[4],
				  const char **name)
{
	const nn_value *v;

	if (index < 0 || index >= net->nactivations)
		return false;
	v = &net->values[net->activations[index]];
	if (tensor != NULL)
		*tensor = net->activations[index];
	if (dims != NULL)
		memcpy(dims, v->dims, 4 * sizeof(int));
	if (name != NULL)
		*name = net->names + net->activation_names[index];
	return true;
}

bool
cv_net_output_shape(const cv_net *net, int k, int dims[4])
{
	if (k < 0 || k >= net->n_outputs)
		return false;
	memcpy(dims, net->values[net->outputs[k]].dims, 4 * sizeof(int));
	return true;
}

int
cv_net_num_steps(const cv_net *net)
{
	return net->nsteps;
}

const char *
cv_net_step_name(const cv_net *net, int step)
{
	if (step < 0 || step >= net->nsteps)
		return "";
	return tfl_op_name(net->steps[step].code);
}

double
cv_net_step_macs(const cv_net *net, int step)
{
	if (step < 0 || step >= net->nsteps)
		return 0.0;
	return net->steps[step].macs;
}

const char *
cv_net_step_detail(const cv_net *net, int step)
{
	if (step < 0 || step >= net->nsteps)
		return "";
	return net->steps[step].detail;
}

void
cv_net_workspace_profile(cv_net_workspace *ws, bool on)
{
	ws->profiling = on;
	ws->runs = 0;
	memset(ws->step_seconds, 0, (size_t) ws->net->nsteps * sizeof(double));
}

const double *
cv_net_workspace_step_seconds(const cv_net_workspace *ws)
{
	return ws->profiling ? ws->step_seconds : NULL;
}

int
cv_net_workspace_profiled_runs(const cv_net_workspace *ws)
{
	return ws->runs;
}

int
cv_net_feature_tensor(const cv_net *net, const char **name)
{
	if (name != NULL)
		*name = net->feature_name;
	return net->feature_value;
}
