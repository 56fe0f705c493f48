/*
 * test_common.c
 *	  Tests of the core's error records, allocator hooks, size checks and
 *	  growing texts (common/text_buffer.h).
 */
#include "unit.h"
#include "common/cv_common.h"
#include "common/text_buffer.h"

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

static void *
failing_realloc(void *p, size_t size)
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

/* JSON string literals, growth over many pieces, and a failure that latches */
static void
test_text_buffer(void)
{
	cv_text		t = {0};
	cv_allocator failing = {failing_alloc, failing_realloc, free};
	char		expect[1100];

	cv_text_json_string(&t, "a\"b\\c\n\x01\x1f d\xc3\xa9");
	CHECK(!t.failed && t.data != NULL);
	CHECK_MSG(t.data != NULL && strcmp(t.data, "\"a\\\"b\\\\c\\u000a\\u0001\\u001f d\xc3\xa9\"") == 0,
			  "escaped: %s", t.data ? t.data : "(null)");
	CHECK(t.len == strlen(t.data));
	cv_free(t.data);

	memset(&t, 0, sizeof(t));
	for (int i = 0; i < 1000; i++)
		cv_text_add(&t, i % 2 ? "y" : "x", 1);
	for (int i = 0; i < 1000; i++)
		expect[i] = i % 2 ? 'y' : 'x';
	expect[1000] = '\0';
	CHECK(!t.failed && t.len == 1000 && strcmp(t.data, expect) == 0);

	/*
	 * growing past the capacity with no memory: latched, the text as it
	 * was before the piece that did not fit, and nothing added after
	 */
	cv_set_allocator(&failing);
	{
		size_t		cap = t.cap,
					before = t.len;

		while (!t.failed && t.len <= cap)
		{
			before = t.len;
			cv_text_str(&t, expect);
		}
		cv_set_allocator(NULL);
		CHECK(t.failed && t.len == before && t.len % 1000 == 0 && t.len <= cap);
		cv_text_str(&t, "z");
		CHECK(t.failed && t.len == before && strncmp(t.data, expect, 1000) == 0 &&
			  t.data[t.len] == '\0');
	}
	cv_set_allocator(NULL);
	cv_free(t.data);
}

UNIT_MAIN("common",
		  UNIT_CASE(test_fail_formats_message),
		  UNIT_CASE(test_allocator_hooks),
		  UNIT_CASE(test_size_overflow),
		  UNIT_CASE(test_text_buffer))
