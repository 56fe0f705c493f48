/*
 * parallel.h
 *	  A small pool of persistent helper threads that split one piece of work
 *	  (a network layer's output rows, an image's rows) into parts: the
 *	  intra-operator threads of pgvision.threads.
 *
 * The caller's thread takes part in the work, so n threads means n - 1
 * helpers.  The helpers are started at the first run that asks for more
 * than one thread, live as long as the process, spin for a short while
 * after each run (the next layer follows within microseconds) and then
 * sleep on a futex until the next run, so an idle pool costs nothing.
 * They block every signal: under PostgreSQL the backend's own thread
 * keeps handling them, and no helper ever calls into the host (the parts
 * are plain kernels that neither allocate nor fail).
 *
 * cv_parallel_run(nparts, fn, ctx) calls fn(ctx, part, nparts) once for
 * each part in 0..nparts-1, handing parts out one at a time to whichever
 * thread is free (a loaded machine slows one thread, not the run), and
 * returns when all have returned.  A part must compute the same bytes
 * whichever thread runs it and in whatever order: each writes its own
 * range of the output, with its own scratch, indexed by the thread index
 * fn is given (below cv_parallel_threads() at the run's start), never by
 * the part.
 *
 * One run at a time per process: a run started while another is under way
 * (from inside a part, or from another thread of the host) runs its parts
 * itself, in order, on its own thread.
 */
#ifndef CV_PARALLEL_H
#define CV_PARALLEL_H

#include <stdbool.h>

#define CV_PARALLEL_MAX_THREADS 64

/*
 * part: 0..nparts-1; thread: 0 for the caller, 1..threads-1 for helpers,
 * to index per-thread scratch.
 */
typedef void (*cv_parallel_fn) (void *ctx, int part, int nparts, int thread);

/* Threads a run may use, the caller's included (1..64; default 1). */
void		cv_parallel_set_threads(int n);
int			cv_parallel_threads(void);

/*
 * Run the parts; with one thread (or one part, or when the helpers could
 * not be started) the caller runs them all, in order.  nparts <= 65535.
 */
void		cv_parallel_run(int nparts, cv_parallel_fn fn, void *ctx);

/*
 * Call fn(ctx) while no run is under way, so that it may replace memory
 * the helpers read during runs (their scratch); a run another host thread
 * starts meanwhile runs its parts on its own thread.  False, and fn not
 * called, when a run is under way.
 */
bool		cv_parallel_exclusive(void (*fn) (void *ctx), void *ctx);

/*
 * Keep the calling thread off CPU cpu while any other CPU is allowed to
 * it: its affinity becomes the mask it had before the first call less cpu
 * (which migrates it at once if it is on cpu); a later call with another
 * CPU swaps the CPU left out.  cv_parallel_release_cpu gives back the mask
 * it had.  What a helper does to keep off the caller's CPU (parallel.c,
 * Placement); public for the pool's unit test.
 */
void		cv_parallel_keep_off_cpu(int cpu);
void		cv_parallel_release_cpu(void);

/* Contiguous share [*lo, *hi) of n items that part of nparts gets. */
static inline void
cv_parallel_range(long n, int part, int nparts, long *lo, long *hi)
{
	*lo = n * part / nparts;
	*hi = n * (part + 1) / nparts;
}

#endif							/* CV_PARALLEL_H */
