/*
 * huge_pages.c
 *	  Large long-lived buffers on transparent huge pages (huge_pages.h).
 *
 * Why: the first touch of each 4 kB page of fresh memory is a page fault,
 * and where the machine is virtual a fault can cost far more than the work
 * done on the page.  On the 2-core EPYC virtual machine this was written on
 * (2 December 2026) touching 8 MB of fresh memory took 12 to 15 ms with 4 kB
 * pages (12 microseconds a fault) and 0.6 ms on 2 MB transparent huge pages.
 * A backend's first prediction touches its whole activation arena (3 to
 * 5 MB for the MobileNets), so the arena is where huge pages pay.
 *
 * How: the allocation is rounded up to whole huge pages plus one for the
 * alignment (address space only: the pages before the aligned start are
 * never touched), and madvise(MADV_HUGEPAGE) asks for huge pages in that
 * range; with transparent huge pages set to "madvise" or "always" the
 * first touch of each 2 MB then faults once.  The resident size grows to
 * the next 2 MB.  Smaller buffers, and systems without MADV_HUGEPAGE, get
 * a plain 64-byte aligned buffer.
 */
#include "huge_pages.h"

#include <stdint.h>

#include "cv_common.h"

#if defined(__linux__)
#include <sys/mman.h>
#endif

#define CACHE_LINE 64
#define HUGE_PAGE ((size_t) 2 << 20)
/* below this, rounding up to a huge page would waste more than it saves */
#define HUGE_PAGE_WORTH (HUGE_PAGE / 2)

void *
cv_malloc_huge(size_t size, void **raw)
{
	uintptr_t	at;

#if defined(MADV_HUGEPAGE)
	if (size >= HUGE_PAGE_WORTH && size <= SIZE_MAX - 2 * HUGE_PAGE)
	{
		size_t		whole = (size + HUGE_PAGE - 1) / HUGE_PAGE * HUGE_PAGE;

		*raw = cv_malloc(whole + HUGE_PAGE);
		if (*raw == NULL)
			return NULL;
		at = ((uintptr_t) *raw + HUGE_PAGE - 1) & ~(uintptr_t) (HUGE_PAGE - 1);
		/* a hint: a refusal leaves ordinary pages */
		(void) madvise((void *) at, whole, MADV_HUGEPAGE);
		return (void *) at;
	}
#endif
	if (size > SIZE_MAX - CACHE_LINE)
	{
		*raw = NULL;
		return NULL;
	}
	*raw = cv_malloc(size + CACHE_LINE);
	if (*raw == NULL)
		return NULL;
	at = ((uintptr_t) *raw + CACHE_LINE - 1) & ~(uintptr_t) (CACHE_LINE - 1);
	return (void *) at;
}
