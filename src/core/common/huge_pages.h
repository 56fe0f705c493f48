/*
 * huge_pages.h
 *	  Large buffers that live long (a network's activation arena) placed on
 *	  transparent huge pages where the system offers them.
 */
#ifndef CV_HUGE_PAGES_H
#define CV_HUGE_PAGES_H

#include <stddef.h>

/*
 * A buffer of at least size bytes through cv_malloc, aligned to 64 bytes;
 * when it is large enough to fill a huge page, aligned to one and marked
 * for transparent huge pages (a hint: the system may decline).  *raw gets
 * what cv_free must be given; NULL when out of memory.
 */
void	   *cv_malloc_huge(size_t size, void **raw);

#endif							/* CV_HUGE_PAGES_H */
