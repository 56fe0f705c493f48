/*
 * suggest.c
 *	  The spread-out batch of cv_suggest: which of its most uncertain
 *	  candidates to label, and in what order (docs/predictions.md,
 *	  "Suggestions"; the choice itself is src/core/learn/diverse.c).
 *
 * cv_suggest (SQL) ranks a classification project's unlabelled images and
 * stored predictions by uncertainty and hands the first ones here with
 * their uncertainties; this reads their view-0 feature vectors, the ones
 * cv_similar compares, from cv_features (cv_add_image caches one for every
 * new image of a classification project) and computes the rest on the fly
 * (stored predictions, whose images are not in cv_images; images added
 * with the near-duplicate check off; a changed pgvision.engine), without
 * storing them: cv_suggest is STABLE and a reader may call it.
 */
#include "pgvision.h"

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "learn/diverse.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"

/*
 * pgvision.suggest_order: "spread" chooses the batch as above; "margin"
 * takes the candidates as ranked, the most uncertain first (what cv_suggest
 * did before, and still does for detection).  The default is margin: it
 * beats random order on the unequal clothing-small over 30 seeds of
 * tools/bench_suggest_sim (docs/predictions.md, "Does the order help?"),
 * and the spread is not shown to do better than it.
 */
#define SUGGEST_ORDER_MARGIN	0
#define SUGGEST_ORDER_SPREAD	1

static int	pgvision_suggest_order = SUGGEST_ORDER_MARGIN;

static const struct config_enum_entry suggest_order_options[] = {
	{"margin", SUGGEST_ORDER_MARGIN, false},
	{"spread", SUGGEST_ORDER_SPREAD, false},
	{NULL, 0, false}
};

void
SuggestSettingsInit(void)
{
	DefineCustomEnumVariable("pgvision.suggest_order",
							 "Order of cv_suggest's rows for classification projects.",
							 "margin: the most uncertain first; spread: a batch of the limit spread over the 10 x limit "
							 "most uncertain by k-means on the domain's features (docs/predictions.md).",
							 &pgvision_suggest_order,
							 SUGGEST_ORDER_MARGIN, suggest_order_options,
							 PGC_USERSET, 0,
							 NULL, NULL, NULL);
}

/* One candidate's id, and where it is in the arrays (to find it by id). */
typedef struct CandidateRef
{
	int64		id;
	int			index;
} CandidateRef;

static int
CandidateRefCompare(const void *a, const void *b)
{
	const CandidateRef *x = a, *y = b;

	if (x->id != y->id)
		return x->id < y->id ? -1 : 1;
	return x->index - y->index;
}

/* The candidates (sorted by id) whose id is id: the first one's place. */
static int
CandidateFind(const CandidateRef *refs, int n, int64 id)
{
	int			lo = 0, hi = n;

	while (lo < hi)
	{
		int			mid = lo + (hi - lo) / 2;

		if (refs[mid].id < id)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

typedef struct CandidateSet
{
	CandidateRef *refs;			/* sorted by id */
	int			n;
	float	   *vectors;		/* all candidates x dim */
	bool	   *have;
	int			dim;
} CandidateSet;

/* Give every candidate with this id this vector. */
static void
CandidateSetVector(CandidateSet *set, int64 id, const float *vec)
{
	for (int r = CandidateFind(set->refs, set->n, id); r < set->n && set->refs[r].id == id; r++)
	{
		memcpy(set->vectors + (Size) set->refs[r].index * set->dim, vec, sizeof(float) * set->dim);
		set->have[set->refs[r].index] = true;
	}
}

/* An int8[] of the ids of these candidates. */
static Datum
IdArray(const CandidateRef *refs, int n)
{
	Datum	   *elems = palloc(sizeof(Datum) * Max(n, 1));

	for (int i = 0; i < n; i++)
		elems[i] = Int64GetDatum(refs[i].id);
	return PointerGetDatum(construct_array(elems, n, INT8OID, sizeof(int64), true, TYPALIGN_DOUBLE));
}

/* Cached view-0 vectors of the current extractor for the image candidates. */
static void
ReadCachedVectors(CandidateSet *set, int64 project_id, const char *domain, const cv_feature_extractor *fx)
{
	Oid			types[5] = {INT8OID, TEXTOID, INT4OID, INT4OID, INT8ARRAYOID};
	Datum		values[5];
	float	   *vec = palloc(sizeof(float) * fx->dim);

	values[0] = Int64GetDatum(project_id);
	values[1] = CStringGetTextDatum(domain);
	values[2] = Int32GetDatum((int32) fx->version);
	values[3] = Int32GetDatum(fx->dim);
	values[4] = IdArray(set->refs, set->n);
	if (SPI_execute_with_args("SELECT f.image_id, substring(f.features FROM 1 FOR 4 * $4) "
							  "FROM cv_features f JOIN cv_images i ON i.id = f.image_id "
							  "WHERE i.project_id = $1 AND f.image_id = ANY ($5) AND f.domain = $2 "
							  "AND f.extractor_version = $3 AND f.dim = $4 AND f.value_bytes = 4",
							  5, types, values, NULL, true, 0) != SPI_OK_SELECT)
		elog(ERROR, "cannot read the cached features of project " INT64_FORMAT, project_id);
	for (uint64 r = 0; r < SPI_processed; r++)
	{
		bool		isnull;
		int64		id = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[r], SPI_tuptable->tupdesc, 1, &isnull));
		bytea	   *blob = DatumGetByteaPP(SPI_getbinval(SPI_tuptable->vals[r], SPI_tuptable->tupdesc, 2, &isnull));

		if (VARSIZE_ANY_EXHDR(blob) != sizeof(float) * (Size) fx->dim)
			continue;
		/* copied: the bytea's data need not be float-aligned */
		memcpy(vec, VARDATA_ANY(blob), sizeof(float) * fx->dim);
		CandidateSetVector(set, id, vec);
	}
	SPI_freetuptable(SPI_tuptable);
	pfree(vec);
}

/*
 * Compute the vectors of the candidates still without one from their
 * images: query ($1 the project, $2 the ids) returns (id, cv_image).
 */
static void
EmbedMissing(CandidateSet *set, int64 project_id, const cv_feature_extractor *fx, const char *query)
{
	Oid			types[2] = {INT8OID, INT8ARRAYOID};
	Datum		values[2];
	CandidateRef *missing = palloc(sizeof(CandidateRef) * Max(set->n, 1));
	int			m = 0;
	Portal		portal;
	MemoryContext batch_cxt;

	for (int r = 0; r < set->n; r++)
		if (!set->have[set->refs[r].index])
			missing[m++] = set->refs[r];
	if (m == 0)
		return;
	values[0] = Int64GetDatum(project_id);
	values[1] = IdArray(missing, m);
	batch_cxt = AllocSetContextCreate(CurrentMemoryContext, "cv_suggest embeddings", ALLOCSET_DEFAULT_SIZES);
	portal = SPI_cursor_open_with_args(NULL, query, 2, types, values, NULL, true, CURSOR_OPT_NO_SCROLL);
	for (;;)
	{
		SPI_cursor_fetch(portal, true, 16);
		if (SPI_processed == 0)
			break;
		for (uint64 r = 0; r < SPI_processed; r++)
		{
			bool		isnull;
			int64		id = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[r], SPI_tuptable->tupdesc, 1, &isnull));
			Datum		image = SPI_getbinval(SPI_tuptable->vals[r], SPI_tuptable->tupdesc, 2, &isnull);
			MemoryContext old;

			if (isnull)
				continue;
			old = MemoryContextSwitchTo(batch_cxt);
			{
				CvImage    *img = DatumGetCvImageP(image);
				float	   *vec = EmbedImage(fx, img->data, CvImageDataLen(img));

				CandidateSetVector(set, id, vec);
			}
			MemoryContextSwitchTo(old);
			MemoryContextReset(batch_cxt);
		}
		SPI_freetuptable(SPI_tuptable);
	}
	SPI_cursor_close(portal);
	MemoryContextDelete(batch_cxt);
	pfree(missing);
}

/* Elements of a one-dimensional array argument (NULL elements allowed). */
static void
ArrayArg(ArrayType *array, Oid type, Datum **elems, bool **nulls, int *n)
{
	int16		typlen;
	bool		typbyval;
	char		typalign;

	if (ARR_NDIM(array) > 1)
		ereport(ERROR,
				(errcode(ERRCODE_ARRAY_SUBSCRIPT_ERROR),
				 errmsg("candidate arrays must be one-dimensional")));
	get_typlenbyvalalign(type, &typlen, &typbyval, &typalign);
	deconstruct_array(array, type, typlen, typbyval, typalign, elems, nulls, n);
}

/*
 * cv_suggest_spread(project text, image_ids bigint[], prediction_ids
 * bigint[], uncertainties real[], k integer) RETURNS integer[]: the
 * positions (1-based) of the k candidates to label, in the order to label
 * them.  Candidate i is image image_ids[i] or, where that is NULL, stored
 * prediction prediction_ids[i]; candidates come most uncertain first.
 */
PG_FUNCTION_INFO_V1(cv_suggest_spread);
Datum
cv_suggest_spread(PG_FUNCTION_ARGS)
{
	char	   *name = text_to_cstring(PG_GETARG_TEXT_PP(0));
	int32		k = PG_GETARG_INT32(4);
	Datum	   *image_ids, *prediction_ids, *uncertainties;
	bool	   *image_nulls, *prediction_nulls, *uncertainty_nulls;
	int			n, n2, n3;
	Oid			types[1] = {TEXTOID};
	Datum		values[1];
	bool		isnull;
	int64		project_id;
	char	   *domain;
	bool		detection;
	const cv_feature_extractor *fx;
	CandidateSet images = {0}, predictions = {0};
	float	   *vectors, *weights;
	int		   *order;
	int			count;
	cv_error	err;
	Datum	   *result;
	MemoryContext outer = CurrentMemoryContext;

	ArrayArg(PG_GETARG_ARRAYTYPE_P(1), INT8OID, &image_ids, &image_nulls, &n);
	ArrayArg(PG_GETARG_ARRAYTYPE_P(2), INT8OID, &prediction_ids, &prediction_nulls, &n2);
	ArrayArg(PG_GETARG_ARRAYTYPE_P(3), FLOAT4OID, &uncertainties, &uncertainty_nulls, &n3);
	if (n2 != n || n3 != n)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("candidate arrays differ in length: %d image ids, %d prediction ids, %d uncertainties", n, n2, n3)));
	if (k < 1)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("k must be at least 1, not %d", k)));

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	values[0] = CStringGetTextDatum(name);
	if (SPI_execute_with_args("SELECT (p).id, (p).domain, (p).task = 'detection' "
							  "FROM (SELECT cv_project_row($1, 'read') AS p) s",
							  1, types, values, NULL, true, 1) != SPI_OK_SELECT || SPI_processed != 1)
		elog(ERROR, "cannot read project \"%s\"", name);
	project_id = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
	domain = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2);
	detection = DatumGetBool(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 3, &isnull));
	if (detection)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("project \"%s\" detects objects: its feature cache holds maps, not image vectors", name),
				 errhint("cv_suggest orders a detection project's images by uncertainty alone.")));
	fx = DomainGetExtractor(domain, NULL);

	/*
	 * The vectors and weights outlive SPI_finish, so they live in the
	 * caller's context (each SPI call returns to SPI's own, which
	 * SPI_finish frees); huge, since a large limit may ask for more than
	 * 1 GB of vectors.
	 */
	vectors = n > k && pgvision_suggest_order == SUGGEST_ORDER_SPREAD ? MemoryContextAllocHuge(outer, sizeof(float) * (Size) n * fx->dim) : NULL;
	if (vectors)
		memset(vectors, 0, sizeof(float) * (Size) n * fx->dim);
	weights = MemoryContextAlloc(outer, sizeof(float) * Max(n, 1));
	images.refs = palloc_array(CandidateRef, Max(n, 1));
	predictions.refs = palloc_array(CandidateRef, Max(n, 1));
	images.have = predictions.have = palloc0_array(bool, Max(n, 1));
	images.vectors = predictions.vectors = vectors;
	images.dim = predictions.dim = fx->dim;
	for (int i = 0; i < n; i++)
	{
		if (image_nulls[i] == prediction_nulls[i])
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("candidate %d must name an image or a stored prediction, not %s", i + 1,
							image_nulls[i] ? "neither" : "both")));
		if (uncertainty_nulls[i])
			ereport(ERROR,
					(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
					 errmsg("candidate %d has no uncertainty", i + 1)));
		weights[i] = DatumGetFloat4(uncertainties[i]);
		if (!image_nulls[i])
			images.refs[images.n++] = (CandidateRef) {DatumGetInt64(image_ids[i]), i};
		else
			predictions.refs[predictions.n++] = (CandidateRef) {DatumGetInt64(prediction_ids[i]), i};
	}
	qsort(images.refs, images.n, sizeof(CandidateRef), CandidateRefCompare);
	qsort(predictions.refs, predictions.n, sizeof(CandidateRef), CandidateRefCompare);

	/*
	 * Only when there is a choice to make: with n <= k (or the margin
	 * order) the first k candidates are taken, in the order given.  A candidate found nowhere (deleted since
	 * it was ranked) keeps a zero vector: far from every other.
	 */
	if (n > k && pgvision_suggest_order == SUGGEST_ORDER_SPREAD)
	{
		if (images.n > 0)
		{
			ReadCachedVectors(&images, project_id, domain, fx);
			EmbedMissing(&images, project_id, fx,
						 "SELECT i.id, i.image FROM cv_images i WHERE i.project_id = $1 AND i.id = ANY ($2)");
		}
		if (predictions.n > 0)
			EmbedMissing(&predictions, project_id, fx,
						 "SELECT p.id, p.image FROM cv_prediction_store p WHERE p.project_id = $1 AND p.id = ANY ($2)");
	}
	SPI_finish();
	order = palloc_array(int, Max(Min(n, k), 1));
	if (pgvision_suggest_order == SUGGEST_ORDER_SPREAD)
	{
		cv_error_clear(&err);
		if (cv_diverse_batch(vectors, weights, n, fx->dim, k, order, &count, &err) != CV_OK)
			CoreRaise(&err, ERRCODE_DATA_CORRUPTED);
	}
	else
	{
		count = Min(n, k);
		for (int i = 0; i < count; i++)
			order[i] = i;
	}
	result = palloc_array(Datum, Max(count, 1));
	for (int i = 0; i < count; i++)
		result[i] = Int32GetDatum(order[i] + 1);
	PG_RETURN_ARRAYTYPE_P(construct_array(result, count, INT4OID, sizeof(int32), true, TYPALIGN_INT));
}
