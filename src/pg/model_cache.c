/*
 * model_cache.c
 *	  Per-backend cache of parsed models, keyed by their bytes.
 *
 * A query over 10,000 rows calls cv_predict 10,000 times with the same model
 * bytes; parsing and validating them once is the point.  An entry is found
 * by a hash of the model's header (which holds its length and checksum) and
 * confirmed by comparing all bytes, so a cached model is never served for
 * other bytes.  Each entry lives in its own memory context; the cache holds
 * a few entries and evicts the least recently used.
 *
 * Before that, the argument itself: a model read from a table is stored
 * out of line (a self-contained one is megabytes), and a query that passes
 * it as a scalar subquery hands every row the same TOAST pointer.  Fetching
 * it again for each row cost about 20 ms a row for MobileNet V2's 3.6 MB,
 * so the fetched value is kept for the rest of the query in the call
 * site's fn_extra, keyed by the TOAST pointer (table and value id: a
 * stored value never changes, a new one gets a new pointer).
 */
#include "pgvision.h"

#include "access/detoast.h"
#include "common/hashfn.h"
#include "fmgr.h"
#include "utils/memutils.h"

#define MODEL_CACHE_SIZE 8

typedef struct ModelCacheEntry
{
	MemoryContext context;		/* NULL when the slot is empty */
	uint32		key;
	Size		len;
	uint8_t    *bytes;			/* copy, for the exact comparison */
	cv_model   *model;
	uint64		last_used;
} ModelCacheEntry;

static ModelCacheEntry model_cache[MODEL_CACHE_SIZE];
static uint64 model_cache_clock = 0;
static MemoryContext model_cache_context = NULL;

typedef struct ModelArgCache
{
	struct varatt_external pointer; /* of the value fetched */
	bytea	   *value;			/* in fn_mcxt */
} ModelArgCache;

bytea *
ModelArgDetoasted(FunctionCallInfo fcinfo, int argno)
{
	struct varlena *raw = (struct varlena *) DatumGetPointer(PG_GETARG_DATUM(argno));
	ModelArgCache *cache;
	struct varatt_external pointer;

	if (!VARATT_IS_EXTERNAL_ONDISK(raw) || fcinfo->flinfo == NULL)
		return (bytea *) PG_DETOAST_DATUM(PG_GETARG_DATUM(argno));
	VARATT_EXTERNAL_GET_POINTER(pointer, raw);
	cache = (ModelArgCache *) fcinfo->flinfo->fn_extra;
	if (cache != NULL && memcmp(&cache->pointer, &pointer, sizeof(pointer)) == 0)
		return cache->value;
	if (cache == NULL)
		cache = MemoryContextAllocZero(fcinfo->flinfo->fn_mcxt, sizeof(ModelArgCache));
	else if (cache->value != NULL)
		pfree(cache->value);
	/* no match until the fetch below has succeeded */
	memset(&cache->pointer, 0, sizeof(cache->pointer));
	cache->value = NULL;
	fcinfo->flinfo->fn_extra = cache;
	{
		MemoryContext old = MemoryContextSwitchTo(fcinfo->flinfo->fn_mcxt);

		cache->value = (bytea *) detoast_attr(raw);
		MemoryContextSwitchTo(old);
	}
	cache->pointer = pointer;
	return cache->value;
}

static uint32
ModelKey(const uint8_t *bytes, Size len)
{
	return hash_bytes(bytes, (int) Min(len, (Size) CV_MODEL_HEADER_SIZE)) ^ (uint32) len;
}

const cv_model *
ModelCacheGet(const uint8_t *bytes, Size len)
{
	uint32		key = ModelKey(bytes, len);
	ModelCacheEntry *slot = NULL;
	MemoryContext old;
	cv_error	err;
	cv_model   *model = NULL;

	for (int i = 0; i < MODEL_CACHE_SIZE; i++)
	{
		ModelCacheEntry *e = &model_cache[i];

		if (e->context != NULL && e->key == key && e->len == len &&
			memcmp(e->bytes, bytes, len) == 0)
		{
			e->last_used = ++model_cache_clock;
			return e->model;
		}
	}

	if (model_cache_context == NULL)
		model_cache_context = AllocSetContextCreate(TopMemoryContext, "pgvision model cache",
													ALLOCSET_SMALL_SIZES);

	/* Parse into a fresh context; on error it is dropped and nothing cached. */
	for (int i = 0; i < MODEL_CACHE_SIZE; i++)
		if (slot == NULL || model_cache[i].context == NULL ||
			(slot->context != NULL && model_cache[i].last_used < slot->last_used))
			slot = &model_cache[i];

	{
		MemoryContext entry_context = AllocSetContextCreate(model_cache_context, "pgvision model",
															ALLOCSET_DEFAULT_SIZES);

		old = MemoryContextSwitchTo(entry_context);
		cv_error_clear(&err);
		if (cv_model_parse(bytes, len, &model, &err) != CV_OK)
		{
			MemoryContextSwitchTo(old);
			MemoryContextDelete(entry_context);
			CoreRaise(&err, ERRCODE_DATA_CORRUPTED);
		}
		if (slot->context != NULL)
			MemoryContextDelete(slot->context);
		slot->context = entry_context;
		slot->bytes = palloc(len);
		memcpy(slot->bytes, bytes, len);
		MemoryContextSwitchTo(old);
	}
	slot->key = key;
	slot->len = len;
	slot->model = model;
	slot->last_used = ++model_cache_clock;
	return model;
}
