/*
 * backend_memory.c
 *	  How the C heap of a backend that predicts keeps its pages
 *	  (docs/backbones.md, "Shared prepared weights": the second prediction).
 *
 * Every prediction allocates and frees the same few buffers of a few
 * hundred kilobytes to a few megabytes: the photo's bytea, the decoded
 * image, the resampling rows, the network input.  Memory contexts hand
 * chunks that large straight to malloc and free.  glibc's malloc serves
 * them with a fresh mmap while its mmap threshold is at its start value
 * (128 kB), and trims the top of its heap once more than twice that is
 * free; it raises both only after the process has freed a larger mapped
 * chunk.  So a backend that built a network in its own memory (which
 * frees megabytes) reused its pages from then on, and a backend that only
 * mapped shared prepared weights did not: it took every page of those
 * buffers from the kernel again on every call, 390 more page faults than
 * the other on its second prediction of MobileNet V2 (perf record -e
 * page-faults, 2 December 2026).  A page fault costs 12 microseconds on
 * this virtual machine (touching 4 MB of fresh memory: 12 ms), so that
 * was most of the 6 to 9 ms by which a mapped backend's second prediction
 * trailed a private one's.  With the settings below: 23 faults against 13,
 * and the two take the same CPU time.
 *
 * Fixed values instead of the moving ones: chunks up to MMAP_THRESHOLD
 * come from the heap, and up to TRIM_THRESHOLD of free heap top stays in
 * the process for the next call.  They are what glibc's own adjustment
 * reaches in a backend that has freed one 8 MB chunk, so a backend keeps
 * at most that much more than before, and only after it used it.  Larger
 * chunks are still mapped and given back to the system when freed.
 *
 * Building a network in the backend (no shared file yet, or
 * pgvision.prepared_weights off) frees many such chunks, which now stay in
 * the heap between the ones the net keeps: BackendMemoryAfterBuild gives
 * their pages back (malloc_trim returns every whole free page, not only
 * the top), keeping TRIM_KEEP at the top for the per-call buffers.
 * Not glibc: nothing to do.
 */
#include "pgvision.h"

#include "miscadmin.h"

#ifdef __GLIBC__
#include <malloc.h>
#endif
#if defined(__linux__)
#include <sys/mman.h>
#endif

#define MMAP_THRESHOLD (8 * 1024 * 1024)
#define TRIM_THRESHOLD (16 * 1024 * 1024)
#define TRIM_KEEP (4 * 1024 * 1024)
/* MobileNet V2's first prediction grows the heap by about 8 MB */
#define HEAP_HUGE_RESERVE (12 * 1024 * 1024)

/*
 * The heap's next HEAP_HUGE_RESERVE bytes on transparent huge pages.
 *
 * Even with the pages kept (above), a new backend takes every page of its
 * first prediction's buffers from the kernel once: about 500 first
 * touches of 4 kB pages for MobileNet V2 (the photo's bytea, the decoded
 * image, the render's rows; perf record -e page-faults, 3 December 2026),
 * 12 microseconds each on this virtual machine.  So the heap is grown by
 * one large chunk at once, the 2 MB aligned part of it is marked
 * MADV_HUGEPAGE, and the chunk is freed again: it stays in the heap as its
 * free top (below TRIM_THRESHOLD, so never trimmed), and the buffers
 * carved from it later fault once per 2 MB.  Address space only until
 * touched; what is touched is resident in whole 2 MB pages (about 4 MB
 * more Anonymous memory after a prediction).  The chunk comes from the
 * heap only below the mmap threshold, hence the raised threshold around
 * it.  A backend only: in the postmaster (pgvision in
 * shared_preload_libraries, which it does not need) the mark would pass to
 * every backend of the cluster, pgvision's or not, so it is not made there.
 */
static void
ReserveHugeHeap(void)
{
#if defined(__GLIBC__) && defined(MADV_HUGEPAGE)
	const uintptr_t huge_page = (uintptr_t) 2 << 20;
	char	   *chunk;

	(void) mallopt(M_MMAP_THRESHOLD, 2 * HEAP_HUGE_RESERVE);
	chunk = malloc(HEAP_HUGE_RESERVE);
	if (chunk != NULL)
	{
		uintptr_t	lo = ((uintptr_t) chunk + huge_page) & ~(huge_page - 1);
		uintptr_t	hi = ((uintptr_t) chunk + HEAP_HUGE_RESERVE) & ~(huge_page - 1);

		/* a hint: with huge pages off or refused, ordinary pages */
		if (hi > lo)
			(void) madvise((void *) lo, hi - lo, MADV_HUGEPAGE);
		free(chunk);
	}
#endif
}

void
BackendMemoryInit(void)
{
#ifdef __GLIBC__
	/* a refused setting (never expected) leaves glibc's own policy */
	(void) mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD);
	if (IsUnderPostmaster)
		ReserveHugeHeap();
	(void) mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD);
#endif
}

/* After a network was built here: the build's freed pages back to the system. */
void
BackendMemoryAfterBuild(void)
{
#ifdef __GLIBC__
	(void) malloc_trim(TRIM_KEEP);
#endif
}
