/*
 * test_nn_threads.c
 *	  The core's own threads (src/core/common/parallel.c, cv_nn_set_threads):
 *	  the pool runs every part of every run exactly once, on a thread index
 *	  below the thread count; a network gives the same bytes (features,
 *	  scores, cut maps) whatever the thread count, on the int8 engine's VNNI
 *	  and AVX2 kernels and on the float engine; and the 224 x 224 render of
 *	  a photo does too.  Thread counts 2, 3 and 5 move the boundaries of the
 *	  parts, so a kernel that reads or writes across one shows.  And a
 *	  thread moved off its CPU (what a helper on the caller's CPU does)
 *	  runs elsewhere with its affinity mask as it was.
 */
#define _GNU_SOURCE				/* sched_getcpu, CPU_EQUAL */
#include "unit.h"
#include "common/parallel.h"
#include "image/image.h"
#include "learn/augment.h"
#include "nn/nn.h"
#include "nn/nn_qkernels.h"

#include <sched.h>
#include <stdint.h>

/* ---- the pool ---- */

#define POOL_PARTS 37

typedef struct pool_probe
{
	int			runs[POOL_PARTS];
	int			bad_thread;
	int			threads;
	int			nparts;
} pool_probe;

static void
probe_part(void *ctx, int part, int nparts, int thread)
{
	pool_probe *p = ctx;

	if (nparts != p->nparts || thread < 0 || thread >= p->threads)
		__atomic_add_fetch(&p->bad_thread, 1, __ATOMIC_RELAXED);
	__atomic_add_fetch(&p->runs[part], 1, __ATOMIC_RELAXED);
}

/*
 * Each thread starts on a range of its own and then takes what is left of
 * the others': 37 parts split unevenly, and 3 parts over 5 threads, where
 * two threads have an empty range and can only take from the others.
 */
static void
test_pool_runs_every_part_once(void)
{
	static const int counts[] = {1, 2, 3, 5, 2, 1};
	static const int part_counts[] = {POOL_PARTS, 3};

	for (size_t c = 0; c < sizeof(counts) / sizeof(counts[0]); c++)
		for (size_t k = 0; k < sizeof(part_counts) / sizeof(part_counts[0]); k++)
		{
			pool_probe	p;
			int			wrong = 0;

			memset(&p, 0, sizeof(p));
			p.threads = counts[c];
			p.nparts = part_counts[k];
			cv_parallel_set_threads(counts[c]);
			CHECK(cv_parallel_threads() == counts[c]);
			for (int r = 0; r < 2000; r++)
				cv_parallel_run(p.nparts, probe_part, &p);
			for (int i = 0; i < POOL_PARTS; i++)
				wrong += p.runs[i] != (i < p.nparts ? 2000 : 0);
			CHECK_MSG(wrong == 0 && p.bad_thread == 0,
					  "%d threads, %d parts: %d parts not run 2000 times, %d bad thread indexes",
					  counts[c], p.nparts, wrong, p.bad_thread);
		}
	cv_parallel_set_threads(0);
	CHECK(cv_parallel_threads() == 1);
	cv_parallel_set_threads(1000);
	CHECK(cv_parallel_threads() == CV_PARALLEL_MAX_THREADS);
	cv_parallel_set_threads(1);
}

/* cv_parallel_exclusive: fn runs when no run is under way, never during one. */
typedef struct exclusive_probe
{
	int			calls;			/* of count_call */
	int			refused;		/* parts whose cv_parallel_exclusive said false */
} exclusive_probe;

static void
count_call(void *ctx)
{
	((exclusive_probe *) ctx)->calls++;
}

static void
exclusive_in_part(void *ctx, int part, int nparts, int thread)
{
	exclusive_probe *e = ctx;

	(void) part;
	(void) nparts;
	(void) thread;
	if (!cv_parallel_exclusive(count_call, e))
		__atomic_add_fetch(&e->refused, 1, __ATOMIC_RELAXED);
}

static void
test_exclusive(void)
{
	exclusive_probe e = {0, 0};

	cv_parallel_set_threads(2);
	CHECK(cv_parallel_exclusive(count_call, &e) && e.calls == 1);
	/* from the parts of a run on the pool: refused, fn not called */
	cv_parallel_run(4, exclusive_in_part, &e);
	CHECK_MSG(e.refused == 4 && e.calls == 1, "%d of 4 parts refused, fn called %d times",
			  e.refused, e.calls);
	/* and after the run, allowed again */
	CHECK(cv_parallel_exclusive(count_call, &e) && e.calls == 2);
	cv_parallel_set_threads(1);
}

/*
 * cv_parallel_keep_off_cpu: where another CPU is allowed, the thread is
 * off the CPU named at once and its mask is its own less that CPU; a
 * second call swaps the CPU left out; cv_parallel_release_cpu gives the
 * mask back.  With one CPU allowed nothing changes.
 */
static void
test_keep_off_cpu(void)
{
	cpu_set_t	before,
				after,
				want;
	int			first = sched_getcpu(),
				second = -1;

	CHECK(sched_getaffinity(0, sizeof(before), &before) == 0);
	cv_parallel_keep_off_cpu(first);
	CHECK(sched_getaffinity(0, sizeof(after), &after) == 0);
	want = before;
	if (CPU_COUNT(&before) >= 2)
	{
		CPU_CLR(first, &want);
		CHECK_MSG(CPU_EQUAL(&want, &after), "the mask is not its own less CPU %d", first);
		CHECK_MSG(sched_getcpu() != first, "still on CPU %d", first);
		/* the CPU it is on now: left out instead of the first */
		second = sched_getcpu();
		cv_parallel_keep_off_cpu(second);
		CHECK(sched_getaffinity(0, sizeof(after), &after) == 0);
		want = before;
		CPU_CLR(second, &want);
		CHECK_MSG(CPU_EQUAL(&want, &after), "CPU %d not swapped for CPU %d", first, second);
		CHECK(sched_getcpu() != second);
	}
	else
		CHECK_MSG(CPU_EQUAL(&before, &after), "one CPU allowed, yet the mask changed");
	/* nothing happens for a CPU out of range */
	cv_parallel_keep_off_cpu(-1);
	cv_parallel_keep_off_cpu(CPU_SETSIZE);
	cv_parallel_release_cpu();
	CHECK(sched_getaffinity(0, sizeof(after), &after) == 0);
	CHECK_MSG(CPU_EQUAL(&before, &after), "the mask was not given back");
	cv_parallel_release_cpu();	/* twice: nothing more */
	CHECK(sched_getaffinity(0, sizeof(after), &after) == 0 && CPU_EQUAL(&before, &after));
}

/* ---- networks ---- */

static uint8_t *
photo_pixels(int size, cv_rgb_image *decoded)
{
	size_t		len;
	uint8_t    *bytes = unit_read_file(unit_shared_path("images/cat.bmp"), &len);
	cv_view		view = {0.0f, 0.0f, 1.0f, 1.0f, false};
	cv_rgb_image out = {0};
	cv_error	err;

	memset(decoded, 0, sizeof(*decoded));
	if (bytes == NULL)
		return NULL;
	if (cv_image_decode(bytes, len, 0, 0, 0, decoded, &err) != CV_OK ||
		cv_augment_render(decoded, &view, size, size, &out, &err) != CV_OK)
		out.pixels = NULL;
	free(bytes);
	return out.pixels;
}

typedef struct net_case
{
	const char *file;
	cv_net_engine engine;
	bool		force_avx2;
	int			size;			/* 0: the file's; else cut at tensor at this size */
	int			tensor;
} net_case;

/* features and scores (or the cut map) of one run at a thread count */
static float *
run_at(cv_net *net, cv_net_workspace *ws, const uint8_t *px, const net_case *nc,
	   size_t *n, int threads)
{
	const cv_net_info *info = cv_net_get_info(net);
	float	   *out;
	cv_error	err;
	cv_status	st;

	cv_nn_set_threads(threads);
	if (nc->tensor >= 0)
	{
		int			d[4];

		cv_net_output_shape(net, 0, d);
		*n = (size_t) d[0] * d[1] * d[2] * d[3];
		out = malloc(*n * sizeof(float));
		st = cv_net_run_outputs(net, ws, px, &out, &err);
	}
	else
	{
		*n = (size_t) info->feature_dim + info->num_outputs;
		out = malloc(*n * sizeof(float));
		st = cv_net_run(net, ws, px, out + info->feature_dim, out, &err);
	}
	cv_nn_set_threads(1);
	CHECK_MSG(st == CV_OK, "%s: %s", nc->file, err.message);
	return out;
}

static void
test_nets_same_bytes(void)
{
	static const net_case cases[] = {
		{"models/mobilenet_v2_1.0_224_quant.tflite", CV_NET_ENGINE_INT8, false, 0, -1},
		{"models/mobilenet_v2_1.0_224_quant.tflite", CV_NET_ENGINE_INT8, true, 0, -1},
		{"models/mobilenet_v2_1.0_224_quant.tflite", CV_NET_ENGINE_FLOAT, false, 0, -1},
		{"models/tf2_mobilenet_v2_1.0_224_ptq.tflite", CV_NET_ENGINE_INT8, false, 0, -1},
		/*
		 * The float engine as detection runs it: MobileNet V2 cut at its
		 * stride-32 map (tensor 166) at 320 and 416, whose odd map sizes
		 * (10x10, 13x13, 27x27) put the bands' edges mid-layer, and
		 * MobileNet-EdgeTPU (full 3x3 convolutions inside its blocks).
		 */
		{"models/mobilenet_v2_1.0_224_quant.tflite", CV_NET_ENGINE_FLOAT, false, 320, 166},
		{"models/mobilenet_v2_1.0_224_quant.tflite", CV_NET_ENGINE_FLOAT, false, 416, 166},
		{"models/mobilenet_edgetpu_224_1.0_uint8.tflite", CV_NET_ENGINE_FLOAT, false, 0, -1},
	};

	for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++)
	{
		const net_case *nc = &cases[c];
		size_t		len;
		uint8_t    *bytes = unit_read_file(unit_shared_path(nc->file), &len);
		cv_net_options opt;
		cv_net	   *net = NULL;
		cv_net_workspace *ws = NULL;
		cv_rgb_image decoded;
		uint8_t    *px;
		cv_error	err;
		float	   *one;
		size_t		n1;
		int			spread = 0;

		if (bytes == NULL)
		{
			CHECK_MSG(0, "missing %s", nc->file);
			continue;
		}

		/*
		 * On the portable path (PGVISION_PORTABLE_KERNELS: the sanitizer
		 * run) the float engine's products are OpenBLAS's sgemm, which
		 * cv_nn_set_threads hands the same thread count and which does not
		 * promise the same bits at every count; the claim tested here is
		 * about our own kernels, which the plain run checks.
		 */
		if (nc->engine == CV_NET_ENGINE_FLOAT && cv_nn_get_portable())
		{
			printf("     (%s, float engine: not compared on the portable path, OpenBLAS's own threads)\n",
				   nc->file);
			free(bytes);
			continue;
		}
		memset(&opt, 0, sizeof(opt));
		opt.engine = nc->engine;
		if (nc->tensor >= 0)
		{
			opt.input_width = opt.input_height = nc->size;
			opt.n_outputs = 1;
			opt.outputs[0] = nc->tensor;
			opt.prefix_only = true;
		}
		nn_qforce_avx2 = nc->force_avx2;
		CHECK(cv_net_load_with(bytes, len, &opt, &net, &err) == CV_OK);
		nn_qforce_avx2 = false;
		free(bytes);
		if (net == NULL)
			continue;
		CHECK(cv_net_workspace_create(net, &ws, &err) == CV_OK);
		px = photo_pixels(cv_net_get_info(net)->input_width, &decoded);
		CHECK(px != NULL);
		if (px == NULL || ws == NULL)
			goto next;
		one = run_at(net, ws, px, nc, &n1, 1);
		for (size_t i = 1; i < n1; i++)
			spread += one[i] != one[0];
		/* the comparison means something only if the outputs vary */
		CHECK_MSG(spread > (int) n1 / 2, "%s: outputs nearly constant", nc->file);
		for (int t = 2; t <= 5; t += t == 2 ? 1 : 2)
		{
			size_t		nt;
			float	   *many = run_at(net, ws, px, nc, &nt, t);
			size_t		differ = 0;

			for (size_t i = 0; i < n1 && nt == n1; i++)
				differ += memcmp(&one[i], &many[i], sizeof(float)) != 0;
			CHECK_MSG(nt == n1 && differ == 0,
					  "%s engine %d%s: %zu of %zu outputs differ at %d threads", nc->file,
					  (int) nc->engine, nc->force_avx2 ? " (AVX2)" : "", differ, n1, t);
			free(many);
		}
		free(one);
next:
		free(px);
		cv_rgb_image_free(&decoded);
		cv_net_workspace_free(ws);
		cv_net_free(net);
	}
}

/* The render of a view: the same bytes at every thread count. */
static void
test_render_same_bytes(void)
{
	cv_rgb_image decoded;
	uint8_t    *one = photo_pixels(224, &decoded);
	static const cv_view views[] = {
		{0.0f, 0.0f, 1.0f, 1.0f, false},
		{0.13f, 0.07f, 0.61f, 0.8f, true},
	};

	CHECK(one != NULL);
	if (one == NULL)
		return;
	for (size_t v = 0; v < sizeof(views) / sizeof(views[0]); v++)
	{
		cv_rgb_image a = {0};
		cv_error	err;

		CHECK(cv_augment_render(&decoded, &views[v], 301, 97, &a, &err) == CV_OK);
		for (int t = 2; t <= 5 && a.pixels != NULL; t += t == 2 ? 1 : 2)
		{
			cv_rgb_image b = {0};

			cv_nn_set_threads(t);
			CHECK(cv_augment_render(&decoded, &views[v], 301, 97, &b, &err) == CV_OK);
			cv_nn_set_threads(1);
			CHECK_MSG(b.pixels != NULL && memcmp(a.pixels, b.pixels, (size_t) 301 * 97 * 3) == 0,
					  "view %zu: render differs at %d threads", v, t);
			cv_rgb_image_free(&b);
		}
		cv_rgb_image_free(&a);
	}
	free(one);
	cv_rgb_image_free(&decoded);
}

UNIT_MAIN("nn_threads",
		  UNIT_CASE(test_pool_runs_every_part_once),
		  UNIT_CASE(test_exclusive),
		  UNIT_CASE(test_keep_off_cpu),
		  UNIT_CASE(test_nets_same_bytes),
		  UNIT_CASE(test_render_same_bytes))
