/*
 * train_job.c
 *	  One training, start to end: read the project's labelled images, bring
 *	  the feature cache up to date, train the head with held-out evaluation
 *	  (src/core/learn/train.h), and record the model, the metrics and the
 *	  held-out predictions of the iteration.
 *
 * Two callers.  A background worker (own_transactions = true) runs each
 * step in a short transaction of its own: features computed so far survive
 * a failure, progress and the cancel flag are visible while it runs, and no
 * transaction stays open for the whole run.  The waiting form of cv_train
 * (own_transactions = false) runs inside the caller's transaction, since the
 * iteration row it trains is not yet visible to anyone else.
 *
 * Terms: an iteration's tags are the project's tags that have images, in
 * name order (the model's order); its images are those carrying at least one
 * of them.
 */
#include "pgvision.h"
#include "train_job.h"

#include "access/xact.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "portability/instr_time.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/memutils.h"
#include "utils/snapmgr.h"

#include "learn/augment.h"
#include "learn/metrics.h"
#include "learn/train.h"
#include "nn/nn.h"

/* Images whose features are computed per step (and per progress report). */
#define FEATURE_BATCH 8
/* Share of the progress bar the feature phase takes. */
#define FEATURE_SHARE 0.5

typedef struct TrainJob
{
	TrainRun	run;			/* first: the shared step machinery */

	int64		project_id;
	cv_task		task;
	char	   *domain;
	const cv_feature_extractor *fx;

	int			n_tags;
	int64	   *tag_ids;
	char	  **tag_names;
	bool	   *tag_negative;

	int			n_images;
	int64	   *image_ids;
	uint8_t    *labels;			/* n_images x n_tags */
	float	   *features;		/* n_images x views x dim */
	bool	   *have_features;
	int			views;
} TrainJob;

static bool
TrainProgress(void *arg, double fraction)
{
	TrainJob   *job = arg;

	return TrainReportProgress(&job->run, FEATURE_SHARE + (1.0 - FEATURE_SHARE) * fraction, false);
}

/* ---- loading ---- */

static void
LoadJob(TrainJob *job)
{
	Oid			types[1] = {INT8OID};
	Datum		values[1] = {Int64GetDatum(job->run.iteration_id)};
	bool		isnull;
	TupleDesc	desc;
	HeapTuple	row;

	TrainStepBegin(&job->run, "pgvision: loading training data");

	TrainExecute("SELECT project_id, task, domain, engine FROM cv_iteration_store WHERE id = $1",
			1, types, values, SPI_OK_SELECT);
	if (SPI_processed != 1)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("iteration " INT64_FORMAT " does not exist", job->run.iteration_id)));
	desc = SPI_tuptable->tupdesc;
	row = SPI_tuptable->vals[0];
	job->project_id = DatumGetInt64(SPI_getbinval(row, desc, 1, &isnull));
	{
		char	   *task = SPI_getvalue(row, desc, 2);

		if (strcmp(task, "multiclass") == 0)
			job->task = CV_TASK_MULTICLASS;
		else if (strcmp(task, "multilabel") == 0)
			job->task = CV_TASK_MULTILABEL;
		else if (strcmp(task, "detection") == 0)
			job->task = CV_TASK_DETECTION;
		else
			ereport(ERROR,
					(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
					 errmsg("training %s projects is not available yet", task)));
	}
	job->domain = MemoryContextStrdup(job->run.context, SPI_getvalue(row, desc, 3));
	{
		/* the engine cv_train's caller asked for, 'auto' resolved here */
		char	   *engine = SPI_getvalue(row, desc, 4);
		Oid			utypes[2] = {INT8OID, TEXTOID};
		Datum		uvalues[2];

		job->run.engine = EngineFromSetting(engine, job->task == CV_TASK_DETECTION);
		uvalues[0] = Int64GetDatum(job->run.iteration_id);
		uvalues[1] = CStringGetTextDatum(job->run.engine == CV_NET_ENGINE_INT8 ? "int8" : "float");
		TrainExecute("UPDATE cv_iteration_store SET engine = $2 WHERE id = $1",
					 2, utypes, uvalues, SPI_OK_UPDATE);
	}
	if (job->task == CV_TASK_DETECTION)
	{
		/* train_detect.c reads its own data */
		TrainStepEnd(&job->run);
		return;
	}

	/*
	 * Tags that have images, in name order: the model's tag order.  An
	 * uncorrelated IN naming the project: Citus refuses a correlated
	 * subquery over the reference table cv_tags, and runs this one as a
	 * subplan on the project's shard (docs/scale-out.md, section 6).
	 */
	values[0] = Int64GetDatum(job->project_id);
	TrainExecute("SELECT t.id, t.name, t.negative FROM cv_tags t "
			"WHERE t.project_id = $1 AND t.id IN (SELECT it.tag_id FROM cv_image_tags it WHERE it.project_id = $1) "
			"ORDER BY t.name COLLATE \"C\"",
			1, types, values, SPI_OK_SELECT);
	job->n_tags = (int) SPI_processed;
	job->tag_ids = MemoryContextAlloc(job->run.context, sizeof(int64) * Max(job->n_tags, 1));
	job->tag_names = MemoryContextAlloc(job->run.context, sizeof(char *) * Max(job->n_tags, 1));
	job->tag_negative = MemoryContextAlloc(job->run.context, sizeof(bool) * Max(job->n_tags, 1));
	for (int i = 0; i < job->n_tags; i++)
	{
		row = SPI_tuptable->vals[i];
		desc = SPI_tuptable->tupdesc;
		job->tag_ids[i] = DatumGetInt64(SPI_getbinval(row, desc, 1, &isnull));
		job->tag_names[i] = MemoryContextStrdup(job->run.context, SPI_getvalue(row, desc, 2));
		job->tag_negative[i] = DatumGetBool(SPI_getbinval(row, desc, 3, &isnull));
	}

	/* Images with their tags, as positions in the tag list. */
	TrainExecute("SELECT it.image_id, array_agg(it.tag_id ORDER BY it.tag_id) FROM cv_image_tags it "
			"WHERE it.project_id = $1 GROUP BY it.image_id ORDER BY it.image_id",
			1, types, values, SPI_OK_SELECT);
	job->n_images = (int) SPI_processed;
	job->image_ids = MemoryContextAlloc(job->run.context, sizeof(int64) * Max(job->n_images, 1));
	job->labels = MemoryContextAllocZero(job->run.context,
										 mul_size(Max(job->n_images, 1), Max(job->n_tags, 1)));
	for (int i = 0; i < job->n_images; i++)
	{
		ArrayType  *arr;
		Datum	   *elems;
		int			n;

		row = SPI_tuptable->vals[i];
		desc = SPI_tuptable->tupdesc;
		job->image_ids[i] = DatumGetInt64(SPI_getbinval(row, desc, 1, &isnull));
		arr = DatumGetArrayTypeP(SPI_getbinval(row, desc, 2, &isnull));
		deconstruct_array(arr, INT8OID, 8, true, TYPALIGN_DOUBLE, &elems, NULL, &n);
		for (int k = 0; k < n; k++)
			for (int t = 0; t < job->n_tags; t++)
				if (job->tag_ids[t] == DatumGetInt64(elems[k]))
					job->labels[(Size) i * job->n_tags + t] = 1;
	}
	/* The domain's extractor, loading a backbone needs the catalog. */
	job->fx = DomainGetExtractorVersion(job->domain, NULL,
										job->run.engine == CV_NET_ENGINE_INT8 ?
										CV_BACKBONE_VERSION_INT8 : CV_BACKBONE_VERSION_FLOAT);
	TrainStepEnd(&job->run);

	if (job->n_tags < 2)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("training needs at least 2 tags with images, the project has %d", job->n_tags)));
}

/* ---- features ---- */

static void
StoreFeatures(TrainJob *job, int image)
{
	Size		bytes = sizeof(float) * (Size) job->views * job->fx->dim;
	bytea	   *blob = palloc(VARHDRSZ + bytes);
	Oid			types[7] = {INT8OID, TEXTOID, INT4OID, INT4OID, INT4OID, BYTEAOID, INT8OID};
	Datum		values[7];

	/* float32 little-endian, as documented for cv_features. */
	SET_VARSIZE(blob, VARHDRSZ + bytes);
	memcpy(VARDATA(blob), job->features + (Size) image * job->views * job->fx->dim, bytes);
	values[0] = Int64GetDatum(job->image_ids[image]);
	values[1] = CStringGetTextDatum(job->domain);
	values[2] = Int32GetDatum((int32) job->fx->version);
	values[3] = Int32GetDatum(job->views);
	values[4] = Int32GetDatum(job->fx->dim);
	values[5] = PointerGetDatum(blob);
	values[6] = Int64GetDatum(job->project_id);
	/*
	 * An image deleted meanwhile gets no row; project_id is the image's
	 * (0.2.0's schema; 0.1.0's has none, schema_version.c).  The image is
	 * read by its whole key, the project named: on Citus that routes the
	 * INSERT ... SELECT to the project's one shard (on the id alone it is
	 * planned over every shard).  computed_at from EXCLUDED (the column's
	 * default, now()): Citus takes only immutable expressions in DO UPDATE
	 * SET on a distributed table.
	 */
	TrainExecute(FeaturesHaveProjectId()
			? "INSERT INTO cv_features (image_id, domain, extractor_version, views, dim, features, project_id) "
			"SELECT $1, $2, $3, $4, $5, $6, i.project_id FROM cv_images i WHERE i.id = $1 AND i.project_id = $7 "
			"ON CONFLICT (image_id, domain, project_id) DO UPDATE SET extractor_version = EXCLUDED.extractor_version, "
			"views = EXCLUDED.views, dim = EXCLUDED.dim, features = EXCLUDED.features, computed_at = EXCLUDED.computed_at"
			: "INSERT INTO cv_features (image_id, domain, extractor_version, views, dim, features) "
			"SELECT $1, $2, $3, $4, $5, $6 WHERE EXISTS (SELECT 1 FROM cv_images WHERE id = $1 AND project_id = $7) "
			"ON CONFLICT (image_id, domain) DO UPDATE SET extractor_version = EXCLUDED.extractor_version, "
			"views = EXCLUDED.views, dim = EXCLUDED.dim, features = EXCLUDED.features, computed_at = EXCLUDED.computed_at",
			7, types, values, SPI_OK_INSERT);
}

/* Read cached features; returns how many images still need computing. */
static int
LoadCachedFeatures(TrainJob *job)
{
	Oid			types[5] = {INT8OID, TEXTOID, INT4OID, INT4OID, INT4OID};
	Datum		values[5];
	int			missing = job->n_images;
	Size		per_image = (Size) job->views * job->fx->dim;

	TrainStepBegin(&job->run, "pgvision: reading cached features");
	values[0] = Int64GetDatum(job->project_id);
	values[1] = CStringGetTextDatum(job->domain);
	values[2] = Int32GetDatum((int32) job->fx->version);
	values[3] = Int32GetDatum(job->views);
	values[4] = Int32GetDatum(job->fx->dim);
	/* joined on the project too where the features have it (0.2.0): on
	 * Citus a join of colocated shards; on the image id alone Citus asks
	 * for a repartition join */
	TrainExecute(FeaturesHaveProjectId()
			? "SELECT f.image_id, f.features FROM cv_features f "
			"JOIN cv_images i ON i.id = f.image_id AND i.project_id = f.project_id "
			"WHERE i.project_id = $1 AND f.project_id = $1 AND f.domain = $2 AND f.extractor_version = $3 "
			"AND f.views >= $4 AND f.dim = $5 ORDER BY f.image_id"
			: "SELECT f.image_id, f.features FROM cv_features f JOIN cv_images i ON i.id = f.image_id "
			"WHERE i.project_id = $1 AND f.domain = $2 AND f.extractor_version = $3 "
			"AND f.views >= $4 AND f.dim = $5 ORDER BY f.image_id",
			5, types, values, SPI_OK_SELECT);
	for (uint64 r = 0, i = 0; r < SPI_processed; r++)
	{
		bool		isnull;
		int64		id = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[r], SPI_tuptable->tupdesc, 1, &isnull));
		bytea	   *blob;

		/* Both lists are in id order: merge. */
		while (i < (uint64) job->n_images && job->image_ids[i] < id)
			i++;
		if (i >= (uint64) job->n_images || job->image_ids[i] != id)
			continue;
		/*
		 * View v is always the same pixels (augment.h), so a row holding
		 * more views than needed serves their prefix.
		 */
		blob = DatumGetByteaPP(SPI_getbinval(SPI_tuptable->vals[r], SPI_tuptable->tupdesc, 2, &isnull));
		if (VARSIZE_ANY_EXHDR(blob) < per_image * sizeof(float))
			continue;
		memcpy(job->features + i * per_image, VARDATA_ANY(blob), per_image * sizeof(float));
		job->have_features[i] = true;
		missing--;
	}
	TrainStepEnd(&job->run);
	return missing;
}

/*
 * Compute the features every image lacks, a batch per step.  An image
 * deleted since the job started is dropped from the training.
 */
static void
ComputeMissingFeatures(TrainJob *job, int missing)
{
	int			done = 0;
	int			i = 0;
	Size		per_image = (Size) job->views * job->fx->dim;
	MemoryContext batch_context = AllocSetContextCreate(job->run.context, "pgvision feature batch",
														ALLOCSET_DEFAULT_SIZES);

	while (i < job->n_images)
	{
		int64	   *batch = palloc(sizeof(int64) * FEATURE_BATCH);
		int			batch_index[FEATURE_BATCH];
		int			n = 0;
		SPITupleTable *rows;
		uint64		n_rows;

		for (; i < job->n_images && n < FEATURE_BATCH; i++)
			if (!job->have_features[i])
			{
				batch_index[n] = i;
				batch[n++] = job->image_ids[i];
			}
		if (n == 0)
			break;

		TrainStepBegin(&job->run, "pgvision: computing features");
		MemoryContextSwitchTo(batch_context);
		rows = TrainFetchImages(batch, n, &n_rows);
		/* StoreFeatures runs queries of its own: the result stays. */
		for (uint64 r = 0; r < n_rows; r++)
		{
			CvImage    *image;
			int64		id = TrainFetchedImage(rows, r, &image);
			cv_rgb_image pixels = {0};
			cv_error	err;
			int			k = 0;

			while (k < n && batch[k] != id)
				k++;
			if (k == n)
				continue;
			CvImageDecodeFor(image->data, CvImageDataLen(image),
							 DecodeSizeFor(job->fx->input_width),
							 DecodeSizeFor(job->fx->input_height), &pixels);
			cv_error_clear(&err);
			if (cv_augment_features(job->fx, &pixels, job->views,
									job->features + (Size) batch_index[k] * per_image, &err) != CV_OK)
				CoreRaise(&err, ERRCODE_DATA_EXCEPTION);
			cv_rgb_image_free(&pixels);
			job->have_features[batch_index[k]] = true;
			StoreFeatures(job, batch_index[k]);
		}
		TrainStepEnd(&job->run);
		MemoryContextReset(batch_context);

		done += n;
		if (!TrainReportProgress(&job->run, FEATURE_SHARE * done / Max(missing, 1), false))
			TrainRaiseCanceled();
	}
	MemoryContextDelete(batch_context);

	/* Drop images that vanished meanwhile. */
	{
		int			kept = 0;

		for (int k = 0; k < job->n_images; k++)
		{
			if (!job->have_features[k])
				continue;
			if (kept != k)
			{
				job->image_ids[kept] = job->image_ids[k];
				memcpy(job->labels + (Size) kept * job->n_tags, job->labels + (Size) k * job->n_tags, job->n_tags);
				memmove(job->features + (Size) kept * per_image, job->features + (Size) k * per_image,
						per_image * sizeof(float));
			}
			kept++;
		}
		job->n_images = kept;
	}
}

/* ---- results ---- */

static Datum
FloatArray(const float *values, int n)
{
	Datum	   *d = palloc(sizeof(Datum) * Max(n, 1));

	for (int i = 0; i < n; i++)
		d[i] = Float4GetDatum(values[i]);
	return PointerGetDatum(construct_array(d, n, FLOAT4OID, 4, true, TYPALIGN_INT));
}

static Datum
BoolArray(const uint8_t *values, int n)
{
	Datum	   *d = palloc(sizeof(Datum) * Max(n, 1));

	for (int i = 0; i < n; i++)
		d[i] = BoolGetDatum(values[i] != 0);
	return PointerGetDatum(construct_array(d, n, BOOLOID, 1, true, TYPALIGN_CHAR));
}

static void
StoreResults(TrainJob *job, const cv_train_result *result)
{
	const float threshold = 0.5f;
	cv_model   *model = NULL;
	cv_error	err;
	cv_tag_metrics *per_tag = palloc0(sizeof(cv_tag_metrics) * job->n_tags);
	cv_overall_metrics overall;
	bytea	   *model_datum;
	int			positives;

	cv_error_clear(&err);
	if (cv_model_build(job->fx, (const char *const *) job->tag_names, result->head, threshold,
					   &model, &err) != CV_OK ||
		cv_metrics_compute(job->task, result->holdout, job->labels, job->tag_negative,
						   job->n_images, job->n_tags, threshold, per_tag, &overall, &err) != CV_OK)
		CoreRaise(&err, ERRCODE_DATA_EXCEPTION);
	model_datum = TrainModelDatum(model);

	TrainStepBegin(&job->run, "pgvision: storing the iteration");
	{
		TrainOutcome outcome;

		outcome.image_count = job->n_images;
		outcome.tag_count = job->n_tags;
		outcome.precision = overall.precision;
		outcome.recall = overall.recall;
		outcome.mean_ap = overall.map;
		outcome.folds = result->n_folds;
		outcome.threshold = threshold;
		TrainStoreCompleted(&job->run, model_datum, &outcome);
	}
	/* 0.2.0's rows name the project too (schema_version.c) */
	bool		with_project = IterationRowsHaveProjectId();

	for (int t = 0; t < job->n_tags; t++)
	{
		Oid			types[10] = {INT8OID, INT4OID, INT8OID, TEXTOID, BOOLOID, INT4OID, FLOAT4OID, FLOAT4OID, FLOAT4OID, INT8OID};
		Datum		values[10];

		positives = 0;
		for (int i = 0; i < job->n_images; i++)
			positives += job->labels[(Size) i * job->n_tags + t];
		values[0] = Int64GetDatum(job->run.iteration_id);
		values[1] = Int32GetDatum(t);
		values[2] = Int64GetDatum(job->tag_ids[t]);
		values[3] = CStringGetTextDatum(job->tag_names[t]);
		values[4] = BoolGetDatum(job->tag_negative[t]);
		values[5] = Int32GetDatum(positives);
		values[6] = Float4GetDatum((float4) per_tag[t].precision);
		values[7] = Float4GetDatum((float4) per_tag[t].recall);
		values[8] = Float4GetDatum((float4) per_tag[t].ap);
		values[9] = Int64GetDatum(job->project_id);
		TrainExecute(with_project
				? "INSERT INTO cv_iteration_tags (iteration_id, position, tag_id, name, negative, image_count, "
				"\"precision\", recall, average_precision, project_id) SELECT $1, $2, t.id, $4, $5, $6, $7, $8, $9, $10 "
				"FROM (SELECT $3::bigint) AS k(v) LEFT JOIN cv_tags t ON t.id = k.v"
				: "INSERT INTO cv_iteration_tags (iteration_id, position, tag_id, name, negative, image_count, "
				"\"precision\", recall, average_precision) SELECT $1, $2, t.id, $4, $5, $6, $7, $8, $9 "
				"FROM (SELECT $3::bigint) AS k(v) LEFT JOIN cv_tags t ON t.id = k.v",
				with_project ? 10 : 9, types, values, SPI_OK_INSERT);
	}
	for (int i = 0; i < job->n_images; i++)
	{
		Oid			types[6] = {INT8OID, INT8OID, INT4OID, BOOLARRAYOID, FLOAT4ARRAYOID, INT8OID};
		Datum		values[6];

		values[0] = Int64GetDatum(job->run.iteration_id);
		values[1] = Int64GetDatum(job->image_ids[i]);
		values[2] = Int32GetDatum(result->fold[i]);
		values[3] = BoolArray(job->labels + (Size) i * job->n_tags, job->n_tags);
		values[4] = FloatArray(result->holdout + (Size) i * job->n_tags, job->n_tags);
		values[5] = Int64GetDatum(job->project_id);
		TrainExecute(with_project
				? "INSERT INTO cv_heldout_predictions (iteration_id, image_id, fold, labels, probabilities, project_id) "
				"VALUES ($1, $2, $3, $4, $5, $6)"
				: "INSERT INTO cv_heldout_predictions (iteration_id, image_id, fold, labels, probabilities) "
				"VALUES ($1, $2, $3, $4, $5)", with_project ? 6 : 5, types, values, SPI_OK_INSERT);
	}
	TrainStepEnd(&job->run);
	cv_model_free(model);
}

/* ---- the whole job ---- */

static void TrainClassifier(TrainJob *job);

void
TrainIteration(int64 iteration_id, bool own_transactions)
{
	MemoryContext caller = CurrentMemoryContext;
	TrainJob   *job;

	/* In a worker, the job outlives the transactions it commits. */
	MemoryContext context = AllocSetContextCreate(own_transactions ? TopMemoryContext : caller,
												  "pgvision training", ALLOCSET_DEFAULT_SIZES);

	MemoryContextSwitchTo(context);
	job = palloc0(sizeof(TrainJob));
	TrainRunInit(&job->run, iteration_id, own_transactions, context);

	PG_TRY();
	{
		LoadJob(job);
		MemoryContextSwitchTo(context);
		if (job->task == CV_TASK_DETECTION)
			TrainDetection(&job->run, job->project_id, job->domain);
		else
			TrainClassifier(job);
	}
	PG_CATCH();
	{
		/*
		 * The error may come from a progress report inside the trainer: the
		 * core keeps nothing but memory from this context across that
		 * callback, so dropping the context releases everything.
		 */
		MemoryContextSwitchTo(caller);
		MemoryContextDelete(context);
		PG_RE_THROW();
	}
	PG_END_TRY();
	MemoryContextSwitchTo(caller);
	MemoryContextDelete(context);
}

/* The classification part of TrainIteration, after LoadJob. */
static void
TrainClassifier(TrainJob *job)
{
	MemoryContext context = job->run.context;
	cv_dataset	data;
	cv_train_options opt;
	cv_train_result result;
	cv_error	err;
	int			missing;
	cv_status	st;

	/* Large projects train on fewer views per image (train.h). */
	job->views = cv_train_views(job->fx, job->n_images);
	job->features = MemoryContextAllocHuge(context,
										   mul_size(mul_size(Max(job->n_images, 1), job->views),
													mul_size(job->fx->dim, sizeof(float))));
	job->have_features = palloc0(sizeof(bool) * Max(job->n_images, 1));

	missing = LoadCachedFeatures(job);
	if (missing > 0)
		ComputeMissingFeatures(job, missing);
	if (!TrainReportProgress(&job->run, FEATURE_SHARE, true))
		TrainRaiseCanceled();

	data.task = job->task;
	data.n_images = job->n_images;
	data.n_views = job->views;
	data.dim = job->fx->dim;
	data.n_tags = job->n_tags;
	data.features = job->features;
	data.labels = job->labels;
	data.negative = job->tag_negative;

	cv_train_options_init(&opt);
	opt.progress = TrainProgress;
	opt.progress_arg = job;
	memset(&result, 0, sizeof(result));
	cv_error_clear(&err);
	st = cv_train(&data, &opt, &result, &err);
	MemoryContextSwitchTo(context);
	if (st == CV_ERR_CANCELED)
		TrainRaiseCanceled();
	if (st != CV_OK)
		CoreRaise(&err, ERRCODE_DATA_EXCEPTION);

	StoreResults(job, &result);
	cv_train_result_free(&result);
}
