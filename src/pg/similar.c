/*
 * similar.c
 *	  Similar images by the domain's features: cv_similar (the k nearest
 *	  images of a project to a photo, or to one of its images) and the
 *	  near-duplicate notice cv_add_image raises.
 *
 * Both compare view 0's feature vectors (cv_embed's: the centred square
 * the classifiers see) by cosine similarity.  They are served from
 * cv_features, the cache training fills with every view of every image;
 * cv_add_image also stores view 0 of each new image of a classification
 * project there (a one-view row that the next training widens to all its
 * views; training recomputes a row with fewer views than it needs), so a
 * freshly loaded project is searchable before it is ever trained.  Images
 * with no cached vector of the current extractor (a detection project,
 * whose cache holds feature maps; a changed pgvision.engine; images added
 * with the notice turned off) are computed on the fly by cv_similar and
 * not stored: it is STABLE, and a reader of a shared project may not write.
 */
#include "pgvision.h"

#include <math.h>

#include "access/htup_details.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "funcapi.h"
#include "utils/builtins.h"
#include "utils/memutils.h"

double		pgvision_near_duplicate_similarity = -1;

/*
 * The thresholds pgvision.near_duplicate_similarity = -1 means, measured on
 * 400 clothing-small photos and 40 of them re-encoded at JPEG quality 55,
 * scaled to 3/4 and cropped to the centred 90% (docs/similar.md): with
 * MobileNet V2 features distinct photos reached 0.873 at most, and the
 * re-encoded and scaled copies 0.961 at least; the compact descriptor
 * (colour and gradient histograms, all positive) puts distinct photos up
 * to 0.983 and those copies at 0.9967 or more.
 */
#define NEAR_DUPLICATE_BACKBONE	0.95
#define NEAR_DUPLICATE_COMPACT	0.995

static double
NearDuplicateThreshold(const cv_feature_extractor *fx)
{
	bool		builtin = true;

	if (pgvision_near_duplicate_similarity >= 0)
		return pgvision_near_duplicate_similarity;
	for (int i = 0; i < 32; i++)
		if (fx->content_hash[i] != 0)
			builtin = false;
	return builtin ? NEAR_DUPLICATE_COMPACT : NEAR_DUPLICATE_BACKBONE;
}

/* Rows fetched per round trip when scanning a project's features. */
#define SIMILAR_BATCH	256

typedef struct ProjectInfo
{
	int64		id;
	char	   *name;
	char	   *domain;
	bool		detection;
} ProjectInfo;

typedef struct SimilarHit
{
	int64		image_id;
	float		similarity;
} SimilarHit;

/* The k best hits so far, best first (ties: smaller image id first). */
typedef struct TopK
{
	SimilarHit *hits;
	int			n;
	int			capacity;		/* grows with n, so a huge k costs nothing */
	int			k;
} TopK;

static bool
HitBetter(const SimilarHit *a, const SimilarHit *b)
{
	if (a->similarity != b->similarity)
		return a->similarity > b->similarity;
	return a->image_id < b->image_id;
}

static void
TopKOffer(TopK *top, int64 image_id, float similarity)
{
	SimilarHit	hit = {image_id, similarity};
	int			at;

	if (top->n == top->k && !HitBetter(&hit, &top->hits[top->n - 1]))
		return;
	if (top->n < top->k)
	{
		if (top->n == top->capacity)
		{
			top->capacity = Min(top->k, Max(16, top->capacity * 2));
			top->hits = top->hits ? repalloc(top->hits, sizeof(SimilarHit) * top->capacity)
				: palloc(sizeof(SimilarHit) * top->capacity);
		}
		top->n++;
	}
	at = top->n - 1;
	while (at > 0 && HitBetter(&hit, &top->hits[at - 1]))
	{
		top->hits[at] = top->hits[at - 1];
		at--;
	}
	top->hits[at] = hit;
}

/* Scale v to unit length (a zero vector stays zero: similarity 0 to all). */
static void
Normalize(float *v, int dim)
{
	double		sum = 0;

	for (int j = 0; j < dim; j++)
		sum += (double) v[j] * v[j];
	if (sum > 0)
	{
		float		inv = (float) (1.0 / sqrt(sum));

		for (int j = 0; j < dim; j++)
			v[j] *= inv;
	}
}

static float
Dot(const float *a, const float *b, int dim)
{
	float		s0 = 0, s1 = 0, s2 = 0, s3 = 0;
	int			j = 0;

	for (; j + 4 <= dim; j += 4)
	{
		s0 += a[j] * b[j];
		s1 += a[j + 1] * b[j + 1];
		s2 += a[j + 2] * b[j + 2];
		s3 += a[j + 3] * b[j + 3];
	}
	for (; j < dim; j++)
		s0 += a[j] * b[j];
	return (s0 + s1) + (s2 + s3);
}

/* Cosine similarity of a unit vector and a cached, not normalized one. */
static float
CosineToCached(const float *unit, const float *cached, int dim)
{
	double		norm = 0;

	for (int j = 0; j < dim; j++)
		norm += (double) cached[j] * cached[j];
	if (norm <= 0)
		return 0;
	return (float) (Dot(unit, cached, dim) / sqrt(norm));
}

/* The project by name, as this role may read it (errors of cv_project_row). */
static ProjectInfo
ProjectByName(const char *name)
{
	Oid			types[1] = {TEXTOID};
	Datum		values[1] = {CStringGetTextDatum(name)};
	ProjectInfo info;
	bool		isnull;

	if (SPI_execute_with_args("SELECT (p).id, (p).name, (p).domain, (p).task = 'detection' "
							  "FROM (SELECT cv_project_row($1, 'read') AS p) s",
							  1, types, values, NULL, true, 1) != SPI_OK_SELECT || SPI_processed != 1)
		elog(ERROR, "cannot read project \"%s\"", name);
	info.id = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
	info.name = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2);
	info.domain = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 3);
	info.detection = DatumGetBool(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 4, &isnull));
	return info;
}

/*
 * The project of an image this role can see, and the image's bytes
 * (undefined_object if there is no such image for this role).
 */
static ProjectInfo
ProjectOfImage(int64 image_id, CvImage **image)
{
	Oid			types[1] = {INT8OID};
	Datum		values[1] = {Int64GetDatum(image_id)};
	ProjectInfo info;
	bool		isnull;

	if (SPI_execute_with_args("SELECT p.id, p.name, p.domain, p.task = 'detection', i.image "
							  "FROM cv_images i JOIN cv_projects p ON p.id = i.project_id WHERE i.id = $1",
							  1, types, values, NULL, true, 1) != SPI_OK_SELECT)
		elog(ERROR, "cannot read image " INT64_FORMAT, image_id);
	if (SPI_processed != 1)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("image " INT64_FORMAT " does not exist", image_id)));
	info.id = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
	info.name = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2);
	info.domain = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 3);
	info.detection = DatumGetBool(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 4, &isnull));
	*image = (CvImage *) PG_DETOAST_DATUM_COPY(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 5, &isnull));
	return info;
}

/* The cached view-0 rows of the current extractor: their common filter. */
#define CACHED_VECTOR_FILTER \
	"f.domain = $2 AND f.extractor_version = $3 AND f.dim = $4 AND f.value_bytes = 4"

/*
 * Call visit(id, vector, arg) for each cached view-0 vector of the current
 * extractor among a project's images with id above after_id, but exclude,
 * in id order.  View 0 is the first dim floats of the row (cv_features'
 * layout); the vector handed over is an aligned copy, valid for the call.
 */
typedef void (*CachedVectorVisit) (int64 image_id, const float *vec, void *arg);

static void
ForEachCachedVector(int64 project_id, const char *domain, uint32 version, int dim,
					int64 after_id, int64 exclude, CachedVectorVisit visit, void *arg)
{
	Oid			types[6] = {INT8OID, TEXTOID, INT4OID, INT4OID, INT8OID, INT8OID};
	Datum		values[6];
	Portal		portal;
	float	   *vec = palloc(sizeof(float) * dim);

	values[0] = Int64GetDatum(project_id);
	values[1] = CStringGetTextDatum(domain);
	values[2] = Int32GetDatum((int32) version);
	values[3] = Int32GetDatum(dim);
	values[4] = Int64GetDatum(after_id);
	values[5] = Int64GetDatum(exclude);
	/*
	 * With 0.2.0's cv_features.project_id the join names the project on
	 * both sides, so on Citus it runs on the project's one shard pair (by
	 * image id alone it needs a repartition, which Citus refuses: every
	 * cv_add_image of a backbone project failed there).
	 */
	portal = SPI_cursor_open_with_args(NULL,
									   FeaturesHaveProjectId() ?
									   "SELECT f.image_id, substring(f.features FROM 1 FOR 4 * $4) "
									   "FROM cv_features f JOIN cv_images i "
									   "ON i.id = f.image_id AND i.project_id = f.project_id "
									   "WHERE i.project_id = $1 AND f.project_id = $1 AND f.image_id > $5 AND "
									   "f.image_id <> $6 AND " CACHED_VECTOR_FILTER " ORDER BY f.image_id" :
									   "SELECT f.image_id, substring(f.features FROM 1 FOR 4 * $4) "
									   "FROM cv_features f JOIN cv_images i ON i.id = f.image_id "
									   "WHERE i.project_id = $1 AND f.image_id > $5 AND f.image_id <> $6 AND "
									   CACHED_VECTOR_FILTER " ORDER BY f.image_id",
									   6, types, values, NULL, true, CURSOR_OPT_NO_SCROLL);
	for (;;)
	{
		SPI_cursor_fetch(portal, true, SIMILAR_BATCH);
		if (SPI_processed == 0)
			break;
		for (uint64 r = 0; r < SPI_processed; r++)
		{
			bool		isnull;
			int64		id = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[r], SPI_tuptable->tupdesc, 1, &isnull));
			bytea	   *blob = DatumGetByteaPP(SPI_getbinval(SPI_tuptable->vals[r], SPI_tuptable->tupdesc, 2, &isnull));

			if (VARSIZE_ANY_EXHDR(blob) != sizeof(float) * (Size) dim)
				continue;
			/* Copied: the bytea's data need not be float-aligned. */
			memcpy(vec, VARDATA_ANY(blob), sizeof(float) * dim);
			visit(id, vec, arg);
		}
		SPI_freetuptable(SPI_tuptable);
	}
	SPI_cursor_close(portal);
	pfree(vec);
}

/* What RankProject's visit needs: the query and the hits. */
typedef struct RankState
{
	const float *query_unit;
	int			dim;
	TopK	   *top;
} RankState;

static void
RankVisit(int64 image_id, const float *vec, void *arg)
{
	RankState  *st = arg;

	TopKOffer(st->top, image_id, CosineToCached(st->query_unit, vec, st->dim));
}

/*
 * Offer every image of the project but `exclude` to top: cached vectors
 * first, then the images without one, computed here.
 */
static void
RankProject(const ProjectInfo *project, const cv_feature_extractor *fx,
			const float *query_unit, int64 exclude, TopK *top)
{
	Oid			types[5] = {INT8OID, TEXTOID, INT4OID, INT4OID, INT8OID};
	Datum		values[5];
	Portal		portal;
	RankState	rank = {query_unit, fx->dim, top};
	MemoryContext batch_cxt = AllocSetContextCreate(CurrentMemoryContext, "cv_similar batch",
													ALLOCSET_DEFAULT_SIZES);

	values[0] = Int64GetDatum(project->id);
	values[1] = CStringGetTextDatum(project->domain);
	values[2] = Int32GetDatum((int32) fx->version);
	values[3] = Int32GetDatum(fx->dim);
	values[4] = Int64GetDatum(exclude);

	ForEachCachedVector(project->id, project->domain, fx->version, fx->dim, 0, exclude,
						RankVisit, &rank);

	portal = SPI_cursor_open_with_args(NULL,
									   FeaturesHaveProjectId() ?
									   "SELECT i.id, i.image FROM cv_images i "
									   "WHERE i.project_id = $1 AND i.id <> $5 AND NOT EXISTS "
									   "(SELECT 1 FROM cv_features f WHERE f.image_id = i.id AND "
									   "f.project_id = i.project_id AND " CACHED_VECTOR_FILTER ")" :
									   "SELECT i.id, i.image FROM cv_images i "
									   "WHERE i.project_id = $1 AND i.id <> $5 AND NOT EXISTS "
									   "(SELECT 1 FROM cv_features f WHERE f.image_id = i.id AND " CACHED_VECTOR_FILTER ")",
									   5, types, values, NULL, true, CURSOR_OPT_NO_SCROLL);
	for (;;)
	{
		SPI_cursor_fetch(portal, true, 16);
		if (SPI_processed == 0)
			break;
		for (uint64 r = 0; r < SPI_processed; r++)
		{
			bool		isnull;
			int64		id = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[r], SPI_tuptable->tupdesc, 1, &isnull));
			MemoryContext old = MemoryContextSwitchTo(batch_cxt);
			CvImage    *img = DatumGetCvImageP(SPI_getbinval(SPI_tuptable->vals[r], SPI_tuptable->tupdesc, 2, &isnull));
			float	   *vec = EmbedImage(fx, img->data, CvImageDataLen(img));

			TopKOffer(top, id, CosineToCached(query_unit, vec, fx->dim));
			MemoryContextSwitchTo(old);
			MemoryContextReset(batch_cxt);
		}
		SPI_freetuptable(SPI_tuptable);
	}
	SPI_cursor_close(portal);
	MemoryContextDelete(batch_cxt);
}

static void
CheckK(int32 k)
{
	if (k < 1)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("k must be at least 1, not %d", k)));
}

/* Fill the SRF's tuplestore with the hits, best first. */
static void
EmitHits(FunctionCallInfo fcinfo, const TopK *top)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;

	for (int i = 0; i < top->n; i++)
	{
		Datum		values[2] = {Int64GetDatum(top->hits[i].image_id), Float4GetDatum(top->hits[i].similarity)};
		bool		nulls[2] = {false, false};

		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
}

static void
Similar(FunctionCallInfo fcinfo, const ProjectInfo *project, const char *image, Size image_len,
		int64 exclude, int32 k)
{
	const cv_feature_extractor *fx = DomainGetExtractor(project->domain, NULL);
	float	   *query = EmbedImage(fx, image, image_len);
	TopK		top = {0};

	Normalize(query, fx->dim);
	top.k = k;
	RankProject(project, fx, query, exclude, &top);
	EmitHits(fcinfo, &top);
}

/* cv_similar(project text, image bytea, k integer) */
PG_FUNCTION_INFO_V1(cv_similar_bytea);
Datum
cv_similar_bytea(PG_FUNCTION_ARGS)
{
	char	   *name = text_to_cstring(PG_GETARG_TEXT_PP(0));
	bytea	   *image = PG_GETARG_BYTEA_PP(1);
	int32		k = PG_GETARG_INT32(2);
	ProjectInfo project;

	CheckK(k);
	InitMaterializedSRF(fcinfo, 0);
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	project = ProjectByName(name);
	Similar(fcinfo, &project, VARDATA_ANY(image), VARSIZE_ANY_EXHDR(image), 0, k);
	SPI_finish();
	return (Datum) 0;
}

/* cv_similar(image_id bigint, k integer): the others of its project */
PG_FUNCTION_INFO_V1(cv_similar_image);
Datum
cv_similar_image(PG_FUNCTION_ARGS)
{
	int64		image_id = PG_GETARG_INT64(0);
	int32		k = PG_GETARG_INT32(1);
	ProjectInfo project;
	CvImage    *image;

	CheckK(k);
	InitMaterializedSRF(fcinfo, 0);
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	project = ProjectOfImage(image_id, &image);
	Similar(fcinfo, &project, image->data, CvImageDataLen(image), image_id, k);
	SPI_finish();
	return (Datum) 0;
}

/* ---- the near-duplicate notice of cv_add_image ---- */

/*
 * The unit view-0 vectors of one project's images this backend has seen,
 * so that adding the n-th image compares it with n-1 vectors in memory
 * instead of reading them all again (a bulk load would read the cache
 * n^2/2 times).  Each call first appends the rows cached since
 * (image id above max_id: other sessions' adds, trainings).  A vector
 * whose image is gone (deleted, or its add rolled back) is dropped when it
 * would be named.  One project at a time: the loader's pattern.
 */
typedef struct NearDuplicateCache
{
	int64		project_id;
	char		domain[NAMEDATALEN * 2];
	uint32		version;
	int			dim;
	int64		max_id;
	int			n;
	int			capacity;
	int64	   *ids;
	float	   *vectors;		/* n x dim, unit length */
} NearDuplicateCache;

static NearDuplicateCache near_cache;
static MemoryContext near_cache_cxt;

static void
NearCacheReset(int64 project_id, const char *domain, const cv_feature_extractor *fx)
{
	if (near_cache_cxt == NULL)
		near_cache_cxt = AllocSetContextCreate(TopMemoryContext, "pgvision near-duplicate cache",
											   ALLOCSET_DEFAULT_SIZES);
	MemoryContextReset(near_cache_cxt);
	memset(&near_cache, 0, sizeof(near_cache));
	near_cache.project_id = project_id;
	strlcpy(near_cache.domain, domain, sizeof(near_cache.domain));
	near_cache.version = fx->version;
	near_cache.dim = fx->dim;
}

static void
NearCacheAppend(int64 id, const float *vec)
{
	NearDuplicateCache *c = &near_cache;

	if (c->n == c->capacity)
	{
		int			cap = Max(64, c->capacity * 2);

		if (c->ids == NULL)
		{
			c->ids = MemoryContextAlloc(near_cache_cxt, sizeof(int64) * cap);
			c->vectors = MemoryContextAllocHuge(near_cache_cxt, sizeof(float) * (Size) cap * c->dim);
		}
		else
		{
			c->ids = repalloc(c->ids, sizeof(int64) * cap);
			c->vectors = repalloc_huge(c->vectors, sizeof(float) * (Size) cap * c->dim);
		}
		c->capacity = cap;
	}
	c->ids[c->n] = id;
	memcpy(c->vectors + (Size) c->n * c->dim, vec, sizeof(float) * c->dim);
	Normalize(c->vectors + (Size) c->n * c->dim, c->dim);
	c->n++;
	c->max_id = Max(c->max_id, id);
}

static void
NearCacheVisit(int64 image_id, const float *vec, void *arg)
{
	NearCacheAppend(image_id, vec);
}

/* Read the project's view-0 rows cached since the last call. */
static void
NearCacheCatchUp(void)
{
	ForEachCachedVector(near_cache.project_id, near_cache.domain, near_cache.version,
						near_cache.dim, near_cache.max_id, 0, NearCacheVisit, NULL);
}

/* The project named too: on Citus, one shard instead of all of them. */
static bool
ImageExists(int64 image_id, int64 project_id)
{
	Oid			types[2] = {INT8OID, INT8OID};
	Datum		values[2] = {Int64GetDatum(image_id), Int64GetDatum(project_id)};

	SPI_execute_with_args("SELECT 1 FROM cv_images WHERE id = $1 AND project_id = $2", 2, types, values,
						  NULL, true, 1);
	return SPI_processed == 1;
}

/* Drop entry i (its image is gone) by moving the last one into its place. */
static void
NearCacheRemove(int i)
{
	NearDuplicateCache *c = &near_cache;

	c->n--;
	if (i != c->n)
	{
		c->ids[i] = c->ids[c->n];
		memcpy(c->vectors + (Size) i * c->dim, c->vectors + (Size) c->n * c->dim, sizeof(float) * c->dim);
	}
}

/* Store view 0 of a new image as its one-view cv_features row. */
static void
StoreViewZero(int64 image_id, int64 project_id, const char *domain, const cv_feature_extractor *fx, const float *vec)
{
	Oid			types[6] = {INT8OID, TEXTOID, INT4OID, INT4OID, BYTEAOID, INT8OID};
	Datum		values[6];
	bool		with_project = FeaturesHaveProjectId();
	Size		bytes = sizeof(float) * fx->dim;
	bytea	   *blob = palloc(VARHDRSZ + bytes);

	SET_VARSIZE(blob, VARHDRSZ + bytes);
	memcpy(VARDATA(blob), vec, bytes);
	values[0] = Int64GetDatum(image_id);
	values[1] = CStringGetTextDatum(domain);
	values[2] = Int32GetDatum((int32) fx->version);
	values[3] = Int32GetDatum(fx->dim);
	values[4] = PointerGetDatum(blob);
	values[5] = Int64GetDatum(project_id);
	/*
	 * project_id from the image row: part of every per-project key
	 * (Citus); the image read by its whole key, which routes the INSERT
	 * ... SELECT to the project's one shard there.
	 */
	if (SPI_execute_with_args(with_project
							  ? "INSERT INTO cv_features (image_id, domain, extractor_version, views, dim, features, project_id) "
							  "SELECT $1, $2, $3, 1, $4, $5, i.project_id FROM cv_images i WHERE i.id = $1 AND i.project_id = $6 "
							  "ON CONFLICT (image_id, domain, project_id) DO NOTHING"
							  : "INSERT INTO cv_features (image_id, domain, extractor_version, views, dim, features) "
							  "VALUES ($1, $2, $3, 1, $4, $5) ON CONFLICT (image_id, domain) DO NOTHING",
							  with_project ? 6 : 5, types, values, NULL, false, 0) != SPI_OK_INSERT)
		elog(ERROR, "cannot store the features of image " INT64_FORMAT, image_id);
}

/*
 * cv_note_near_duplicate(image_id bigint): called by cv_add_image for each
 * new image.  Classification projects only (a detection project's cache
 * holds feature maps, and its images are compared by cv_similar).
 */
PG_FUNCTION_INFO_V1(cv_note_near_duplicate);
Datum
cv_note_near_duplicate(PG_FUNCTION_ARGS)
{
	int64		image_id = PG_GETARG_INT64(0);
	double		threshold;
	ProjectInfo project;
	CvImage    *image;
	const cv_feature_extractor *fx;
	float	   *vec;
	float	   *unit;
	int64		best_id = 0;
	float		best = -2;

	if (pgvision_near_duplicate_similarity == 0)
		PG_RETURN_VOID();
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	project = ProjectOfImage(image_id, &image);
	if (project.detection)
	{
		SPI_finish();
		PG_RETURN_VOID();
	}
	fx = DomainGetExtractor(project.domain, NULL);
	threshold = NearDuplicateThreshold(fx);
	vec = EmbedImage(fx, image->data, CvImageDataLen(image));

	if (near_cache_cxt == NULL || near_cache.project_id != project.id ||
		strcmp(near_cache.domain, project.domain) != 0 ||
		near_cache.version != fx->version || near_cache.dim != fx->dim)
		NearCacheReset(project.id, project.domain, fx);
	NearCacheCatchUp();

	unit = palloc(sizeof(float) * fx->dim);
	memcpy(unit, vec, sizeof(float) * fx->dim);
	Normalize(unit, fx->dim);
	for (;;)
	{
		int			best_at = -1;

		best = -2;
		for (int i = 0; i < near_cache.n; i++)
		{
			float		s;

			if (near_cache.ids[i] == image_id)
				continue;
			s = Dot(unit, near_cache.vectors + (Size) i * fx->dim, fx->dim);
			if (s > best)
			{
				best = s;
				best_at = i;
			}
		}
		if (best_at < 0 || best < threshold)
			break;
		best_id = near_cache.ids[best_at];
		if (ImageExists(best_id, near_cache.project_id))
			break;
		NearCacheRemove(best_at);
	}

	StoreViewZero(image_id, project.id, project.domain, fx, vec);
	NearCacheAppend(image_id, vec);
	SPI_finish();

	if (best >= threshold && best_id != 0)
		ereport(NOTICE,
				(errmsg("image " INT64_FORMAT " looks like image " INT64_FORMAT " of project \"%s\" (cosine similarity %.3f)",
						image_id, best_id, project.name, best),
				 errdetail("Both were added; near-duplicates count twice in training and can leak between held-out folds."),
				 errhint("cv_delete_image removes one.  pgvision.near_duplicate_similarity sets when this is said (%g here), 0 turns it off.",
						 threshold)));
	PG_RETURN_VOID();
}
