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
 * ModelFromArg goes one step further for a function called row after row
 * with the same model argument: it remembers, for its call site, the TOAST
 * pointer of the last argument and the entry it found, so later rows with
 * the same pointer need neither detoasting (reading and decompressing
 * tens of kilobytes) nor the byte comparison.
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
	uint64		serial;			/* distinct for every model ever cached */
} ModelCacheEntry;

static ModelCacheEntry model_cache[MODEL_CACHE_SIZE];
static uint64 model_cache_clock = 0;
static uint64 model_cache_serial = 0;
static MemoryContext model_cache_context = NULL;

static uint32
ModelKey(const uint8_t *bytes, Size len)
{
	return hash_bytes(bytes, (int) Min(len, (Size) CV_MODEL_HEADER_SIZE)) ^ (uint32) len;
}

static ModelCacheEntry *
ModelCacheEntryFor(const uint8_t *bytes, Size len)
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
			return e;
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
	slot->serial = ++model_cache_serial;
	return slot;
}

const cv_model *
ModelCacheGet(const uint8_t *bytes, Size len)
{
	return ModelCacheEntryFor(bytes, len)->model;
}

/*
 * The same, remembering the entry in *handle; ModelCacheHandleModel then
 * gives the model without comparing bytes, or NULL once the entry was
 * evicted (the caller then asks again with the bytes).
 */
const cv_model *
ModelCacheGetHandle(const uint8_t *bytes, Size len, ModelCacheHandle *handle)
{
	ModelCacheEntry *entry = ModelCacheEntryFor(bytes, len);

	handle->entry = entry;
	handle->serial = entry->serial;
	return entry->model;
}

const cv_model *
ModelCacheHandleModel(const ModelCacheHandle *handle)
{
	ModelCacheEntry *entry = handle->entry;

	if (entry == NULL || entry->serial != handle->serial)
		return NULL;
	entry->last_used = ++model_cache_clock;
	return entry->model;
}

/*
 * What a call site remembers (fn_extra): the last model argument's on-disk
 * TOAST pointer and the cache entry it resolved to.  Within one statement a
 * TOAST pointer the statement read names one value: the value is visible
 * to the statement's snapshot, so it cannot be vacuumed away and its OID
 * reused while the statement runs, and TOAST values are never changed in
 * place.  fn_extra lives no longer than the statement's executor state.
 * The entry's serial proves it still holds that model (the cache may have
 * evicted it for others since).
 */
typedef struct ModelArgMemo
{
	struct varatt_external pointer;
	ModelCacheEntry *entry;
	uint64		serial;
} ModelArgMemo;

const cv_model *
ModelFromArg(FunctionCallInfo fcinfo, int argno)
{
	Datum		arg = PG_GETARG_DATUM(argno);
	struct varlena *raw = (struct varlena *) DatumGetPointer(arg);
	ModelArgMemo *memo = (ModelArgMemo *) fcinfo->flinfo->fn_extra;
	struct varatt_external pointer;
	bytea	   *bytes;
	ModelCacheEntry *entry;

	if (!VARATT_IS_EXTERNAL_ONDISK(raw))
	{
		/* in memory: bytes that may differ from row to row at one address */
		bytes = (bytea *) PG_DETOAST_DATUM(arg);
		return ModelCacheGet((const uint8_t *) VARDATA(bytes), VARSIZE(bytes) - VARHDRSZ);
	}
	VARATT_EXTERNAL_GET_POINTER(pointer, raw);
	if (memo != NULL && memo->entry->serial == memo->serial &&
		memcmp(&memo->pointer, &pointer, sizeof(pointer)) == 0)
	{
		memo->entry->last_used = ++model_cache_clock;
		return memo->entry->model;
	}
	bytes = (bytea *) detoast_external_attr(raw);
	entry = ModelCacheEntryFor((const uint8_t *) VARDATA(bytes), VARSIZE(bytes) - VARHDRSZ);
	pfree(bytes);
	if (memo == NULL)
		memo = fcinfo->flinfo->fn_extra =
			MemoryContextAlloc(fcinfo->flinfo->fn_mcxt, sizeof(ModelArgMemo));
	memo->pointer = pointer;
	memo->entry = entry;
	memo->serial = entry->serial;
	return entry->model;
}
