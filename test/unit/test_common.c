/*
 * test_common.c
 *	  Tests of the core's error records, allocator hooks and size checks.
 */
#include "unit.h"
#include "common/cv_common.h"

#include <stdint.h>

static int	counted_allocs = 0;

static void *
counting_alloc(size_t size)
{
	counted_allocs++;
	return malloc(size);
}

static void *
failing_alloc(size_t size)
{
	return NULL;
}

static void
test_fail_formats_message(void)
{
	cv_error	err;

	cv_error_clear(&err);
	CHECK(err.code == CV_OK);
	CHECK(cv_fail(&err, CV_ERR_CORRUPT, "bad marker %d", 7) == CV_ERR_CORRUPT);
	CHECK(err.code == CV_ERR_CORRUPT);
	CHECK(strcmp(err.message, "bad marker 7") == 0);
	CHECK(cv_fail(NULL, CV_ERR_LIMIT, "x") == CV_ERR_LIMIT);
	CHECK(strcmp(cv_status_name(CV_ERR_LIMIT), "limit") == 0);
}

static void
test_allocator_hooks(void)
{
	cv_allocator counting = {counting_alloc, realloc, free};
	cv_allocator failing = {failing_alloc, realloc, free};
	void	   *p;

	cv_set_allocator(&counting);
	p = cv_malloc(16);
	CHECK(p != NULL);
	CHECK(counted_allocs == 1);
	cv_free(p);
	cv_set_allocator(&failing);
	CHECK(cv_malloc(16) == NULL);
	CHECK(cv_calloc(4, 4) == NULL);
	cv_set_allocator(NULL);
	p = cv_calloc(4, 4);
	CHECK(p != NULL && ((unsigned char *) p)[15] == 0);
	cv_free(p);
}

static void
test_size_overflow(void)
{
	size_t		r;

	CHECK(cv_mul_size(1000, 1000, &r) && r == 1000000);
	CHECK(!cv_mul_size(SIZE_MAX / 2, 3, &r));
	CHECK(!cv_add_size(SIZE_MAX, 1, &r));
	CHECK(cv_calloc(SIZE_MAX / 2, 3) == NULL);
}

UNIT_MAIN("common",
		  UNIT_CASE(test_fail_formats_message),
		  UNIT_CASE(test_allocator_hooks),
		  UNIT_CASE(test_size_overflow))
