/*
 * cv_common.c
 *	  Error records and the host-supplied allocator of the pgvision core.
 */
#include "cv_common.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static cv_allocator current_allocator = {malloc, realloc, free};

cv_status
cv_fail(cv_error *err, cv_status code, const char *fmt,...)
{
	if (err != NULL)
	{
		va_list		args;

		err->code = code;
		va_start(args, fmt);
		vsnprintf(err->message, sizeof(err->message), fmt, args);
		va_end(args);
	}
	return code;
}

void
cv_error_clear(cv_error *err)
{
	if (err != NULL)
	{
		err->code = CV_OK;
		err->message[0] = '\0';
	}
}

const char *
cv_status_name(cv_status code)
{
	switch (code)
	{
		case CV_OK:
			return "ok";
		case CV_ERR_CORRUPT:
			return "corrupt";
		case CV_ERR_UNSUPPORTED:
			return "unsupported";
		case CV_ERR_LIMIT:
			return "limit";
		case CV_ERR_PARAM:
			return "param";
		case CV_ERR_DATA:
			return "data";
		case CV_ERR_NOMEM:
			return "nomem";
		case CV_ERR_CANCELED:
			return "canceled";
		case CV_ERR_INTERNAL:
			return "internal";
	}
	return "unknown";
}

void
cv_set_allocator(const cv_allocator *allocator)
{
	if (allocator == NULL)
	{
		current_allocator.alloc = malloc;
		current_allocator.realloc = realloc;
		current_allocator.free = free;
	}
	else
		current_allocator = *allocator;
}

void *
cv_malloc(size_t size)
{
	return current_allocator.alloc(size == 0 ? 1 : size);
}

void *
cv_calloc(size_t count, size_t size)
{
	size_t		total;
	void	   *p;

	if (!cv_mul_size(count, size, &total))
		return NULL;
	p = cv_malloc(total);
	if (p != NULL)
		memset(p, 0, total);
	return p;
}

void *
cv_realloc(void *ptr, size_t size)
{
	if (ptr == NULL)
		return cv_malloc(size);
	return current_allocator.realloc(ptr, size == 0 ? 1 : size);
}

void
cv_free(void *ptr)
{
	if (ptr != NULL)
		current_allocator.free(ptr);
}

bool
cv_mul_size(size_t a, size_t b, size_t *result)
{
	if (a != 0 && b > SIZE_MAX / a)
		return false;
	*result = a * b;
	return true;
}

bool
cv_add_size(size_t a, size_t b, size_t *result)
{
	if (b > SIZE_MAX - a)
		return false;
	*result = a + b;
	return true;
}
