/*
 * parallel.c
 *	  The helper-thread pool of parallel.h: persistent threads that spin,
 *	  then sleep on a futex, between runs.
 *
 * One 64-bit word describes the current run: a generation (24 bits), the
 * threads allowed in it (8) and its number of parts (16).  The parts are
 * dealt out in contiguous ranges, one per thread, each in a word of its
 * own (generation, next part, end): a thread takes the parts of its own
 * range from the front, in order, and when it has none left takes the
 * last parts of the others' ranges, by compare-and-swap of that word.  So
 * on an idle machine thread t computes the same rows of every layer (the
 * t-th share), whose inputs it mostly wrote itself in the layer before and
 * still has in its own cache, and on a loaded one a thread the machine
 * slows down leaves its remaining parts to the others.  A thread can never
 * take a part of a run that has already ended: a run ends only when all
 * its parts are done, a part taken is not done, and a range word of
 * another generation is never taken from.  The job's function and context
 * are read after the part was taken, and the caller writes them only
 * between runs, so they are the run's own.  Each thread counts the parts
 * it has done in its own slot (generation, count), which during a run
 * only it writes (the caller zeroes it with the range, between runs): a
 * shared counter cost a cache line's trip between the cores per part.
 *
 * Placement: a helper the scheduler puts on the caller's CPU does nothing
 * useful there (the caller takes its parts; both only share one core), and
 * on this project's 2-core virtual machines the kernel left it there for
 * the first 20 to 30 predictions of a new backend in two sessions of three
 * (4 December 2026: 450 to 500 of 500 runs co-located, the helper doing 1%
 * of the parts, pgvision.threads = 2 no faster than 1 through SQL).  So a
 * helper keeps off the CPU the caller published with the run: its
 * affinity is its own mask less that CPU (cv_parallel_keep_off_cpu),
 * narrowed again whenever the caller shows up on another CPU.  Moving off
 * only when found co-located, and widening the mask back at once, was not
 * enough: a helper woken from its futex was placed on the caller's CPU in
 * 20 of 30 wake-ups and ran only when the caller's run was over (270 us
 * later, against 45 us for a wake-up on the other CPU; 30 runs of four
 * 65 us parts, each after a 3 ms pause), and widening the mask after every
 * run slowed the caller's next single-threaded image render from 0.25 to
 * 0.42 ms.  On two CPUs this pins the helper to the one the caller is not
 * on; with more, the scheduler still chooses among the others.
 *
 * Waking: helpers spin on the word for SPIN_NS (tens of microseconds:
 * long enough to catch the next layer of a network, short enough not to
 * hold a core someone else needs), yielding now and then, then sleep on a 32-bit
 * futex holding the generation.  The caller bumps the futex after
 * publishing a run and wakes sleepers only if there are any (sequentially
 * consistent counter and futex: either the caller sees the sleeper, or the
 * sleeper sees the new generation).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE				/* sched_getcpu, CPU_SET */
#endif
#include "parallel.h"

#include <errno.h>
#include <linux/futex.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

/*
 * How long a helper spins for the next run before it sleeps, and how often
 * a spinning thread (a helper waiting for work, the caller waiting for a
 * helper's part) gives its core away: on a loaded machine the thread it
 * waits for may be queued on this very core, and spinning would keep it
 * off.  sched_yield costs about a microsecond when nobody else is waiting.
 */
#define SPIN_NS 60000
#define YIELD_EVERY 64

typedef struct pool_job
{
	cv_parallel_fn fn;
	void	   *ctx;
} pool_job;

static int	wanted_threads = 1;
static int	started_helpers = 0;	/* helpers running (thread indexes 1..) */
static bool start_failed = false;
static uint64_t run_word;		/* gen | active | nparts */

/* Thread t's range of the current run: gen | next | end, a cache line each. */
typedef struct range_slot
{
	uint64_t	word;
	uint64_t	done;			/* gen | parts thread t has done in it */
	char		pad[48];
} range_slot;
static range_slot ranges[CV_PARALLEL_MAX_THREADS] __attribute__((aligned(64)));
static int	caller_cpu = -1;	/* the CPU the caller published the run from */
static uint32_t run_futex;		/* the generation, to sleep on */
static int	sleepers;
static pool_job job;
static uint32_t generation;
static int	pool_busy;		/* a run is under way (from any thread) */
static int	serial_runs_left;	/* back-off: runs left to do on one thread */

/*
 * Back-off when the helpers do not keep up (a loaded machine: a helper that
 * took a part was taken off its core, and the caller waits for it): a run
 * whose wait for the helpers' parts was longer than BACKOFF_WAIT_NS and
 * than the caller's own work makes the next BACKOFF_RUNS runs (a network
 * or two) serial, after which the helpers are tried again.
 */
#define BACKOFF_WAIT_NS 200000
#define BACKOFF_RUNS 128

#define W_GEN(w)	((uint32_t) ((w) >> 40))
#define W_ACTIVE(w) ((int) (((w) >> 32) & 0xFF))
#define W_NPARTS(w) ((int) (((w) >> 16) & 0xFFFF))
#define R_GEN(r)	((uint32_t) ((r) >> 32))
#define R_NEXT(r)	((int) (((r) >> 16) & 0xFFFF))
#define R_END(r)	((int) ((r) & 0xFFFF))
#define R_WORD(gen, next, end) \
	(((uint64_t) (gen) << 32) | ((uint64_t) (next) << 16) | (uint64_t) (end))

static inline void
cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
	__builtin_ia32_pause();
#endif
}

static int64_t
now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t) ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* one round of waiting: a pause, and every YIELD_EVERY rounds the core */
static inline void
wait_round(long i)
{
	cpu_relax();
	if (i % YIELD_EVERY == YIELD_EVERY - 1)
		sched_yield();
}

/*
 * Take one part of generation gen from range slot v: from the front when
 * v is the taker's own range, from the back otherwise.  -1: none left
 * there (or the run is over).
 */
static int
take_part(uint32_t gen, int v, bool own)
{
	uint64_t	r = __atomic_load_n(&ranges[v].word, __ATOMIC_ACQUIRE);

	for (;;)
	{
		int			next = R_NEXT(r),
					end = R_END(r);
		uint64_t	taken;

		if (R_GEN(r) != gen || next >= end)
			return -1;
		taken = own ? R_WORD(gen, next + 1, end) : R_WORD(gen, next, end - 1);
		if (__atomic_compare_exchange_n(&ranges[v].word, &r, taken, false,
										__ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE))
			return own ? next : end - 1;
		/* else r now holds the slot's current value: look again */
	}
}

/* Run parts of the run in word w, own range first, until none is left. */
static void
work_on(uint64_t w, int thread)
{
	uint32_t	gen = W_GEN(w);
	int			nparts = W_NPARTS(w),
				active = W_ACTIVE(w);
	uint32_t	ran = 0;

	for (int k = 0; k < active; k++)
	{
		int			v = (thread + k) % active,
					part;

		while ((part = take_part(gen, v, k == 0)) >= 0)
		{
			job.fn(job.ctx, part, nparts, thread);
			/* release: the part's output is visible to whoever sees the count */
			__atomic_store_n(&ranges[thread].done, ((uint64_t) gen << 32) | ++ran,
							 __ATOMIC_RELEASE);
		}
	}
}

/* Parts of run gen that the active threads have done so far. */
static int
parts_done(uint32_t gen, int active)
{
	int			n = 0;

	for (int t = 0; t < active; t++)
	{
		uint64_t	d = __atomic_load_n(&ranges[t].done, __ATOMIC_ACQUIRE);

		if ((uint32_t) (d >> 32) == gen)
			n += (int) (uint32_t) d;
	}
	return n;
}

/*
 * The calling thread's placement, per thread (each helper keeps its own):
 * the CPU it was last asked to keep off (-1: none), and whether its
 * affinity is narrowed to own_mask, the mask it had before, less that CPU
 * (not when that CPU is the only one allowed).
 */
static __thread int kept_off = -1;
static __thread bool narrowed = false;
static __thread cpu_set_t own_mask;

void
cv_parallel_keep_off_cpu(int cpu)
{
	cpu_set_t	others;

	if (cpu == kept_off || cpu < 0 || cpu >= CPU_SETSIZE)
		return;
	if (!narrowed && sched_getaffinity(0, sizeof(own_mask), &own_mask) != 0)
		return;
	others = own_mask;
	CPU_CLR(cpu, &others);
	if (CPU_COUNT(&others) == 0)
	{
		/* the only CPU allowed: stay on it, and do not ask again */
		if (narrowed)
			(void) sched_setaffinity(0, sizeof(own_mask), &own_mask);
		narrowed = false;
		kept_off = cpu;
		return;
	}
	if (sched_setaffinity(0, sizeof(others), &others) == 0)
	{
		narrowed = true;
		kept_off = cpu;
	}
}

void
cv_parallel_release_cpu(void)
{
	if (narrowed)
		(void) sched_setaffinity(0, sizeof(own_mask), &own_mask);
	narrowed = false;
	kept_off = -1;
}

static void *
helper_main(void *arg)
{
	int			thread = (int) (intptr_t) arg;
	uint32_t	seen = 0;

	for (;;)
	{
		uint64_t	w = __atomic_load_n(&run_word, __ATOMIC_ACQUIRE);

		if (W_GEN(w) != seen)
		{
			seen = W_GEN(w);
			if (thread < W_ACTIVE(w))
			{
				int			cpu = __atomic_load_n(&caller_cpu, __ATOMIC_RELAXED);

				/* off the caller's CPU, wherever the caller went since */
				if (cpu != kept_off)
					cv_parallel_keep_off_cpu(cpu);
				work_on(w, thread);
			}
			continue;
		}
		/* nothing new: spin a while, then sleep until the generation moves */
		{
			int64_t		until = now_ns() + SPIN_NS;

			for (long i = 0; W_GEN(__atomic_load_n(&run_word, __ATOMIC_ACQUIRE)) == seen; i++)
			{
				wait_round(i);
				if (i % YIELD_EVERY == 0 && now_ns() > until)
					break;
			}
		}
		if (W_GEN(__atomic_load_n(&run_word, __ATOMIC_ACQUIRE)) != seen)
			continue;
		/* asleep off the caller's CPU too, so that the wake-up lands elsewhere */
		cv_parallel_keep_off_cpu(__atomic_load_n(&caller_cpu, __ATOMIC_RELAXED));
		__atomic_add_fetch(&sleepers, 1, __ATOMIC_SEQ_CST);
		if (__atomic_load_n(&run_futex, __ATOMIC_SEQ_CST) == seen)
			syscall(SYS_futex, &run_futex, FUTEX_WAIT_PRIVATE, seen, NULL, NULL, 0);
		__atomic_sub_fetch(&sleepers, 1, __ATOMIC_SEQ_CST);
	}
	return NULL;
}

/* Start helpers up to n - 1 of them; false if none could be. */
static bool
start_helpers(int n)
{
	sigset_t	all,
				old;

	if (start_failed)
		return started_helpers > 0;
	/* helpers inherit this mask: every signal stays with the caller's thread */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	while (started_helpers < n - 1)
	{
		pthread_t	t;
		pthread_attr_t attr;
		int			rc;

		pthread_attr_init(&attr);
		pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
		/*
		 * Parts are kernels with small frames at -O2, but a sanitizer
		 * build at -O0 overflowed 1 MB in the VNNI convolution; only the
		 * pages touched are ever backed, so 4 MB costs nothing more.
		 */
		pthread_attr_setstacksize(&attr, 4 << 20);
		rc = pthread_create(&t, &attr, helper_main, (void *) (intptr_t) (started_helpers + 1));
		pthread_attr_destroy(&attr);
		if (rc != 0)
		{
			start_failed = true;
			break;
		}
		started_helpers++;
	}
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	return started_helpers > 0;
}

void
cv_parallel_set_threads(int n)
{
	if (n < 1)
		n = 1;
	if (n > CV_PARALLEL_MAX_THREADS)
		n = CV_PARALLEL_MAX_THREADS;
	wanted_threads = n;
}

int
cv_parallel_threads(void)
{
	return wanted_threads;
}

bool
cv_parallel_exclusive(void (*fn) (void *ctx), void *ctx)
{
	/* a run's parts are all done when it releases the pool */
	if (__atomic_exchange_n(&pool_busy, 1, __ATOMIC_ACQUIRE))
		return false;
	fn(ctx);
	__atomic_store_n(&pool_busy, 0, __ATOMIC_RELEASE);
	return true;
}

void
cv_parallel_run(int nparts, cv_parallel_fn fn, void *ctx)
{
	int			active;
	uint64_t	w;

	if (nparts <= 0)
		return;
	if (nparts > 0xFFFF)
		nparts = 0xFFFF;		/* documented limit; callers stay far below */
	/*
	 * One run at a time: a part that starts a run, or another thread of
	 * the host running at the same time, gets its parts run in order on
	 * its own thread.
	 */
	if (wanted_threads <= 1 || nparts == 1 ||
		__atomic_exchange_n(&pool_busy, 1, __ATOMIC_ACQUIRE))
	{
		for (int i = 0; i < nparts; i++)
			fn(ctx, i, nparts, 0);
		return;
	}
	/*
	 * Backing off, or no helper: the parts in order on this thread, the
	 * pool still held (cv_parallel_exclusive waits for any run to end).
	 */
	if (serial_runs_left > 0 || !start_helpers(wanted_threads))
	{
		if (serial_runs_left > 0)
			serial_runs_left--;
		for (int i = 0; i < nparts; i++)
			fn(ctx, i, nparts, 0);
		__atomic_store_n(&pool_busy, 0, __ATOMIC_RELEASE);
		return;
	}
	active = started_helpers + 1 < wanted_threads ? started_helpers + 1 : wanted_threads;
	job.fn = fn;
	job.ctx = ctx;
	generation = (generation + 1) & 0xFFFFFF;
	if (generation == 0)
		generation = 1;			/* helpers start having seen 0 */
	w = ((uint64_t) generation << 40) | ((uint64_t) active << 32) |
		((uint64_t) nparts << 16);
	/* the t-th contiguous share of the parts for thread t */
	for (int t = 0; t < active; t++)
	{
		long		lo,
					hi;

		cv_parallel_range(nparts, t, active, &lo, &hi);
		/* a count of this generation from before the 24 bits wrapped must not count */
		__atomic_store_n(&ranges[t].done, (uint64_t) generation << 32, __ATOMIC_RELAXED);
		__atomic_store_n(&ranges[t].word, R_WORD(generation, lo, hi), __ATOMIC_RELAXED);
	}
	__atomic_store_n(&caller_cpu, sched_getcpu(), __ATOMIC_RELAXED);
	__atomic_store_n(&run_word, w, __ATOMIC_SEQ_CST);
	__atomic_store_n(&run_futex, generation, __ATOMIC_SEQ_CST);
	if (__atomic_load_n(&sleepers, __ATOMIC_SEQ_CST) > 0)
		syscall(SYS_futex, &run_futex, FUTEX_WAKE_PRIVATE, CV_PARALLEL_MAX_THREADS, NULL, NULL, 0);
	{
		int64_t		t0 = now_ns(),
					t1,
					t2;

		work_on(w, 0);
		t1 = now_ns();
		/* the helpers' parts: they are running, so this wait is short */
		for (long i = 0; parts_done(generation, active) < nparts; i++)
			wait_round(i);
		t2 = now_ns();
		if (t2 - t1 > BACKOFF_WAIT_NS && t2 - t1 > t1 - t0)
			serial_runs_left = BACKOFF_RUNS;
	}
	__atomic_store_n(&pool_busy, 0, __ATOMIC_RELEASE);
}
