/*
 * cv_common.h
 *	  The contract every module of the pgvision core shares: status codes,
 *	  the error record, and the allocator hooks supplied by the host.
 *
 * The core (src/core) knows nothing of PostgreSQL.  As in PostGIS's
 * liblwgeom, the host installs an allocator once (cv_set_allocator); the
 * PostgreSQL binding plugs in palloc-family functions, the unit tests plain
 * malloc.  Core functions never longjmp and never abort: they return a
 * cv_status and, on failure, fill a cv_error whose code the host maps to its
 * own error system (SQLSTATEs in the binding).
 *
 * Allocation failures are reported as CV_ERR_NOMEM; an allocator hook may
 * return NULL and the core copes.
 */
#ifndef CV_COMMON_H
#define CV_COMMON_H

#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>

typedef enum cv_status
{
	CV_OK = 0,
	CV_ERR_CORRUPT,				/* malformed or truncated input bytes */
	CV_ERR_UNSUPPORTED,			/* well-formed but a feature we do not handle */
	CV_ERR_LIMIT,				/* a size cap was exceeded */
	CV_ERR_PARAM,				/* a bad argument from the caller */
	CV_ERR_DATA,				/* shape mismatch, NaN, numerically invalid */
	CV_ERR_NOMEM,				/* the allocator returned NULL */
	CV_ERR_CANCELED,			/* a progress callback asked to stop */
	CV_ERR_INTERNAL				/* a bug: should never happen */
} cv_status;

#define CV_ERROR_MESSAGE_LEN 256

typedef struct cv_error
{
	cv_status	code;
	char		message[CV_ERROR_MESSAGE_LEN];	/* lowercase, no final period */
} cv_error;

/*
 * Record an error and return its code, so callers can write
 *	  return cv_fail(err, CV_ERR_CORRUPT, "bad marker %d", m);
 * err may be NULL.
 */
cv_status	cv_fail(cv_error *err, cv_status code, const char *fmt,...)
			__attribute__((format(printf, 3, 4)));

/* Reset an error record to CV_OK with an empty message. */
void		cv_error_clear(cv_error *err);

/* Short English name of a status, for logs and tests. */
const char *cv_status_name(cv_status code);

typedef struct cv_allocator
{
	void	   *(*alloc) (size_t size);		/* may return NULL */
	void	   *(*realloc) (void *ptr, size_t size);	/* may return NULL */
	void		(*free) (void *ptr);
} cv_allocator;

/* Install the host's allocator; NULL restores malloc/realloc/free. */
void		cv_set_allocator(const cv_allocator *allocator);

void	   *cv_malloc(size_t size);
void	   *cv_calloc(size_t count, size_t size);	/* zeroed; checks overflow */
void	   *cv_realloc(void *ptr, size_t size);
void		cv_free(void *ptr);		/* accepts NULL */

/* Overflow-checked size arithmetic: false when the result does not fit. */
bool		cv_mul_size(size_t a, size_t b, size_t *result);
bool		cv_add_size(size_t a, size_t b, size_t *result);

#endif							/* CV_COMMON_H */
