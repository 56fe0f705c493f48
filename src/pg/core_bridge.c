/*
 * core_bridge.c
 *	  Plugs PostgreSQL's memory contexts into the core's allocator hooks and
 *	  turns core status codes into ereport(ERROR) with the right SQLSTATE.
 *
 * Core allocations land in CurrentMemoryContext, so whatever a core call
 * leaves behind when an error is raised is reclaimed with the context.  The
 * alloc hook asks for MCXT_ALLOC_NO_OOM so the core sees NULL and unwinds
 * through its own cleanup (libjpeg and libpng hold malloc'd state of their
 * own that must be destroyed) before we report out-of-memory.
 */
#include "pgvision.h"

#include "utils/memutils.h"

static void *
bridge_alloc(Size size)
{
	return MemoryContextAllocExtended(CurrentMemoryContext, size,
									  MCXT_ALLOC_HUGE | MCXT_ALLOC_NO_OOM);
}

static void *
bridge_realloc(void *ptr, Size size)
{
	return repalloc_huge(ptr, size);
}

static void
bridge_free(void *ptr)
{
	pfree(ptr);
}

void
CoreBridgeInit(void)
{
	static const cv_allocator pg_allocator = {bridge_alloc, bridge_realloc, bridge_free};

	cv_set_allocator(&pg_allocator);
}

void
CoreRaise(const cv_error *err, int corrupt_sqlstate)
{
	int			sqlstate;

	switch (err->code)
	{
		case CV_ERR_CORRUPT:
			sqlstate = corrupt_sqlstate;
			break;
		case CV_ERR_UNSUPPORTED:
			sqlstate = ERRCODE_FEATURE_NOT_SUPPORTED;
			break;
		case CV_ERR_LIMIT:
			sqlstate = ERRCODE_PROGRAM_LIMIT_EXCEEDED;
			break;
		case CV_ERR_PARAM:
			sqlstate = ERRCODE_INVALID_PARAMETER_VALUE;
			break;
		case CV_ERR_DATA:
			sqlstate = ERRCODE_DATA_EXCEPTION;
			break;
		case CV_ERR_NOMEM:
			sqlstate = ERRCODE_OUT_OF_MEMORY;
			break;
		case CV_ERR_CANCELED:
			sqlstate = ERRCODE_QUERY_CANCELED;
			break;
		default:
			elog(ERROR, "pgvision internal error: %s", err->message);
	}
	ereport(ERROR,
			(errcode(sqlstate),
			 errmsg("%s", err->message)));
	pg_unreachable();
}
