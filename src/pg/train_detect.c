/*
 * train_detect.c
 *	  One detection training, start to end: read the project's images and
 *	  regions, bring the cached feature maps up to date, train the detector
 *	  with held-out folds (src/core/detect/detect_train.h), and record the
 *	  model, the per-tag figures and the held-out detections and boxes of the
 *	  iteration.
 *
 * Terms: an iteration's tags are the project's tags that have regions, in
 * name order (the model's order); its images are every image of the
 * project: one without regions is a negative example (nothing to find).
 *
 * Feature maps are cached in cv_features like classification features:
 * one row per image and domain, CV_DETECT_TRAIN_VIEWS views, float16 (two
 * bytes a value: half the space of float32, and 3 significant digits are
 * more than a frozen network's activations carry), so retraining after
 * adding five images computes five images' maps.
 */
#include "pgvision.h"
#include "train_job.h"

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/memutils.h"

#include "common/half.h"
#include "detect/detect_backbone.h"
#include "detect/detect_metrics.h"
#include "detect/detect_train.h"
#include "nn/nn.h"

#define MAP_BATCH 4
#define MAP_SHARE 0.4

int			pgvision_training_threads = 2;

typedef struct DetectJob
{
	TrainRun   *run;
	int64		project_id;
	char	   *domain;
	uint8_t		hash[32];
	cv_detect_backbone *backbone;
	uint32_t	maps_version;	/* of backbone: the engine the maps are computed on */
	cv_detector_shape shape;
	size_t		map_floats;		/* per view */
	int			views;

	int			n_tags;
	int64	   *tag_ids;
	char	  **tag_names;

	int			n_images;
	int64	   *image_ids;
	float	   *maps;			/* n_images x views x map_floats */
	bool	   *have_maps;

	int			n_boxes;
	cv_truth_box *boxes;
} DetectJob;

static bool
DetectProgress(void *arg, double fraction)
{
	DetectJob  *job = arg;

	return TrainReportProgress(job->run, MAP_SHARE + (1.0 - MAP_SHARE) * fraction, false);
}

/* ---- loading ---- */

static void
LoadDetectJob(DetectJob *job)
{
	Oid			types[1] = {INT8OID};
	Datum		values[1] = {Int64GetDatum(job->project_id)};
	MemoryContext cx = job->run->context;
	bool		isnull;

	TrainStepBegin(job->run, "pgvision: loading detection data");
	TrainExecute("SELECT t.id, t.name FROM cv_tags t WHERE t.project_id = $1 "
				 "AND t.id IN (SELECT r.tag_id FROM cv_regions r WHERE r.project_id = $1) "	/* uncorrelated: Citus */
				 "ORDER BY t.name COLLATE \"C\"", 1, types, values, SPI_OK_SELECT);
	job->n_tags = (int) SPI_processed;
	job->tag_ids = MemoryContextAlloc(cx, sizeof(int64) * Max(job->n_tags, 1));
	job->tag_names = MemoryContextAlloc(cx, sizeof(char *) * Max(job->n_tags, 1));
	for (int t = 0; t < job->n_tags; t++)
	{
		job->tag_ids[t] = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[t], SPI_tuptable->tupdesc, 1, &isnull));
		job->tag_names[t] = MemoryContextStrdup(cx, SPI_getvalue(SPI_tuptable->vals[t], SPI_tuptable->tupdesc, 2));
	}

	TrainExecute("SELECT id FROM cv_images WHERE project_id = $1 ORDER BY id",
				 1, types, values, SPI_OK_SELECT);
	job->n_images = (int) SPI_processed;
	job->image_ids = MemoryContextAlloc(cx, sizeof(int64) * Max(job->n_images, 1));
	for (int i = 0; i < job->n_images; i++)
		job->image_ids[i] = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 1, &isnull));

	TrainExecute("SELECT r.image_id, r.tag_id, r.\"left\", r.top, r.width, r.height FROM cv_regions r "
				 "WHERE r.project_id = $1 ORDER BY r.image_id, r.id", 1, types, values, SPI_OK_SELECT);
	job->boxes = MemoryContextAllocHuge(cx, sizeof(cv_truth_box) * Max(SPI_processed, 1));
	job->n_boxes = 0;
	for (uint64 r = 0, i = 0; r < SPI_processed; r++)
	{
		HeapTuple	row = SPI_tuptable->vals[r];
		TupleDesc	desc = SPI_tuptable->tupdesc;
		int64		image = DatumGetInt64(SPI_getbinval(row, desc, 1, &isnull));
		int64		tag = DatumGetInt64(SPI_getbinval(row, desc, 2, &isnull));
		cv_truth_box *b = &job->boxes[job->n_boxes];
		int			t;

		while (i < (uint64) job->n_images && job->image_ids[i] < image)
			i++;
		if (i >= (uint64) job->n_images || job->image_ids[i] != image)
			continue;
		for (t = 0; t < job->n_tags && job->tag_ids[t] != tag; t++)
			;
		if (t == job->n_tags)
			continue;
		b->image = (int) i;
		b->tag = t;
		b->box.left = (float) DatumGetFloat8(SPI_getbinval(row, desc, 3, &isnull));
		b->box.top = (float) DatumGetFloat8(SPI_getbinval(row, desc, 4, &isnull));
		b->box.width = (float) DatumGetFloat8(SPI_getbinval(row, desc, 5, &isnull));
		b->box.height = (float) DatumGetFloat8(SPI_getbinval(row, desc, 6, &isnull));
		/* the table allows 1e-9 of slack past the edge: none here */
		b->box = cv_box_clip(b->box);
		if (b->box.width > 0 && b->box.height > 0)
			job->n_boxes++;
	}

	/* The backbone cut at its maps; loading it needs the catalog. */
	BackboneHashByName(job->domain, job->hash);
	job->backbone = DetectBackboneGet(job->domain, job->hash, CV_DETECT_INPUT_SIZE,
									  CV_DETECT_INPUT_SIZE, NULL,
									  job->run->engine == CV_NET_ENGINE_INT8 ?
									  CV_DETECT_MAPS_VERSION_INT8 : CV_DETECT_MAPS_VERSION);
	job->maps_version = cv_detect_backbone_maps_version(job->backbone);
	TrainStepEnd(job->run);

	if (job->n_tags < 1)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("training a detector needs at least 1 tag with regions")));
	memset(&job->shape, 0, sizeof(job->shape));
	cv_detect_backbone_shape(job->backbone, &job->shape);
	job->shape.n_tags = job->n_tags;
	job->map_floats = cv_detector_map_floats(&job->shape);
	job->views = CV_DETECT_TRAIN_VIEWS;
}

/* ---- feature maps ---- */

static void
StoreMaps(DetectJob *job, int image)
{
	Size		n = (Size) job->views * job->map_floats;
	bytea	   *blob = palloc(VARHDRSZ + n * 2);
	Oid			types[8] = {INT8OID, TEXTOID, INT4OID, INT4OID, INT4OID, BYTEAOID, INT2OID, INT8OID};
	Datum		values[8];

	SET_VARSIZE(blob, VARHDRSZ + n * 2);
	cv_half_encode(job->maps + (Size) image * n, n, (uint8_t *) VARDATA(blob));
	values[0] = Int64GetDatum(job->image_ids[image]);
	values[1] = CStringGetTextDatum(job->domain);
	values[2] = Int32GetDatum((int32) job->maps_version);
	values[3] = Int32GetDatum(job->views);
	values[4] = Int32GetDatum((int32) job->map_floats);
	values[5] = PointerGetDatum(blob);
	values[6] = Int16GetDatum(2);
	values[7] = Int64GetDatum(job->project_id);
	/*
	 * An image deleted meanwhile gets no row; project_id is the image's
	 * (0.2.0's schema; 0.1.0's has none, schema_version.c), and the image
	 * is read by its whole key: on Citus one shard (train_job.c).
	 */
	TrainExecute(FeaturesHaveProjectId()
				 ? "INSERT INTO cv_features (image_id, domain, extractor_version, views, dim, features, value_bytes, project_id) "
				 "SELECT $1, $2, $3, $4, $5, $6, $7, i.project_id FROM cv_images i WHERE i.id = $1 AND i.project_id = $8 "
				 "ON CONFLICT (image_id, domain, project_id) DO UPDATE SET extractor_version = EXCLUDED.extractor_version, "
				 "views = EXCLUDED.views, dim = EXCLUDED.dim, features = EXCLUDED.features, "
				 "value_bytes = EXCLUDED.value_bytes, computed_at = EXCLUDED.computed_at"
				 : "INSERT INTO cv_features (image_id, domain, extractor_version, views, dim, features, value_bytes) "
				 "SELECT $1, $2, $3, $4, $5, $6, $7 WHERE EXISTS (SELECT 1 FROM cv_images WHERE id = $1 AND project_id = $8) "
				 "ON CONFLICT (image_id, domain) DO UPDATE SET extractor_version = EXCLUDED.extractor_version, "
				 "views = EXCLUDED.views, dim = EXCLUDED.dim, features = EXCLUDED.features, "
				 "value_bytes = EXCLUDED.value_bytes, computed_at = EXCLUDED.computed_at",
				 8, types, values, SPI_OK_INSERT);
}

static int
LoadCachedMaps(DetectJob *job)
{
	Oid			types[4] = {INT8OID, TEXTOID, INT4OID, INT4OID};
	Datum		values[4];
	int			missing = job->n_images;
	Size		per_image = (Size) job->views * job->map_floats;

	TrainStepBegin(job->run, "pgvision: reading cached feature maps");
	values[0] = Int64GetDatum(job->project_id);
	values[1] = CStringGetTextDatum(job->domain);
	values[2] = Int32GetDatum((int32) job->maps_version);
	values[3] = Int32GetDatum((int32) job->map_floats);
	TrainExecute(FeaturesHaveProjectId()	/* colocated join on Citus, train_job.c */
				 ? "SELECT f.image_id, f.features, f.views FROM cv_features f "
				 "JOIN cv_images i ON i.id = f.image_id AND i.project_id = f.project_id "
				 "WHERE i.project_id = $1 AND f.project_id = $1 AND f.domain = $2 AND f.extractor_version = $3 "
				 "AND f.dim = $4 AND f.value_bytes = 2 ORDER BY f.image_id"
				 : "SELECT f.image_id, f.features, f.views FROM cv_features f JOIN cv_images i ON i.id = f.image_id "
				 "WHERE i.project_id = $1 AND f.domain = $2 AND f.extractor_version = $3 "
				 "AND f.dim = $4 AND f.value_bytes = 2 ORDER BY f.image_id",
				 4, types, values, SPI_OK_SELECT);
	for (uint64 r = 0, i = 0; r < SPI_processed; r++)
	{
		bool		isnull;
		int64		id = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[r], SPI_tuptable->tupdesc, 1, &isnull));
		int			views = DatumGetInt32(SPI_getbinval(SPI_tuptable->vals[r], SPI_tuptable->tupdesc, 3, &isnull));
		bytea	   *blob;

		while (i < (uint64) job->n_images && job->image_ids[i] < id)
			i++;
		if (i >= (uint64) job->n_images || job->image_ids[i] != id || views < job->views)
			continue;
		blob = DatumGetByteaPP(SPI_getbinval(SPI_tuptable->vals[r], SPI_tuptable->tupdesc, 2, &isnull));
		if (VARSIZE_ANY_EXHDR(blob) < per_image * 2)
			continue;
		/* view v is always the same pixels: a longer row serves its prefix */
		cv_half_decode((const uint8_t *) VARDATA_ANY(blob), per_image, job->maps + i * per_image);
		job->have_maps[i] = true;
		missing--;
	}
	TrainStepEnd(job->run);
	return missing;
}

static void
ComputeMissingMaps(DetectJob *job, int missing)
{
	int			done = 0;
	int			i = 0;
	Size		per_image = (Size) job->views * job->map_floats;
	MemoryContext batch_context = AllocSetContextCreate(job->run->context, "pgvision map batch",
														ALLOCSET_DEFAULT_SIZES);

	while (i < job->n_images)
	{
		int64		batch[MAP_BATCH];
		int			batch_index[MAP_BATCH];
		int			n = 0;
		SPITupleTable *rows;
		uint64		n_rows;

		for (; i < job->n_images && n < MAP_BATCH; i++)
			if (!job->have_maps[i])
			{
				batch_index[n] = i;
				batch[n++] = job->image_ids[i];
			}
		if (n == 0)
			break;

		TrainStepBegin(job->run, "pgvision: computing feature maps");
		MemoryContextSwitchTo(batch_context);
		rows = TrainFetchImages(batch, n, &n_rows);
		for (uint64 r = 0; r < n_rows; r++)
		{
			CvImage    *image;
			int64		id = TrainFetchedImage(rows, r, &image);
			cv_rgb_image pixels = {0};
			cv_error	err;
			int			k = 0;
			float	   *dst;

			while (k < n && batch[k] != id)
				k++;
			if (k == n)
				continue;
			CvImageDecodeFor(image->data, CvImageDataLen(image),
							 DecodeSizeFor(job->shape.input_width),
							 DecodeSizeFor(job->shape.input_height), &pixels);
			dst = job->maps + (Size) batch_index[k] * per_image;
			for (int v = 0; v < job->views; v++)
			{
				cv_error_clear(&err);
				if (cv_detect_backbone_view_maps(job->backbone, &pixels, v,
												 dst + (Size) v * job->map_floats, &err) != CV_OK)
					CoreRaise(&err, ERRCODE_DATA_EXCEPTION);
			}
			cv_rgb_image_free(&pixels);
			/* what the cache holds: the float16 values, so reruns agree */
			cv_half_round(dst, per_image);
			job->have_maps[batch_index[k]] = true;
			StoreMaps(job, batch_index[k]);
		}
		TrainStepEnd(job->run);
		MemoryContextReset(batch_context);

		done += n;
		if (!TrainReportProgress(job->run, MAP_SHARE * done / Max(missing, 1), false))
			TrainRaiseCanceled();
	}
	MemoryContextDelete(batch_context);

	/* Drop images deleted meanwhile; renumber the boxes. */
	{
		int		   *new_index = palloc(sizeof(int) * Max(job->n_images, 1));
		int			kept = 0,
					kept_boxes = 0;

		for (int k = 0; k < job->n_images; k++)
		{
			new_index[k] = -1;
			if (!job->have_maps[k])
				continue;
			if (kept != k)
			{
				job->image_ids[kept] = job->image_ids[k];
				memmove(job->maps + (Size) kept * per_image, job->maps + (Size) k * per_image,
						per_image * sizeof(float));
				job->have_maps[kept] = true;
			}
			new_index[k] = kept++;
		}
		for (int b = 0; b < job->n_boxes; b++)
			if (new_index[job->boxes[b].image] >= 0)
			{
				job->boxes[kept_boxes] = job->boxes[b];
				job->boxes[kept_boxes].image = new_index[job->boxes[b].image];
				kept_boxes++;
			}
		job->n_images = kept;
		job->n_boxes = kept_boxes;
	}
}

/* ---- results ---- */

static void
StoreDetectionResults(DetectJob *job, const cv_detect_train_result *result)
{
	const float threshold = 0.5f;
	const double overlap = 0.5;
	cv_model   *model = NULL;
	cv_error	err;
	cv_detect_tag_metrics *per_tag = palloc0(sizeof(cv_detect_tag_metrics) * job->n_tags);
	cv_detect_overall_metrics overall;
	bytea	   *model_datum;

	cv_error_clear(&err);
	if (cv_model_build_detection(job->domain, job->hash, job->maps_version,
								 (const char *const *) job->tag_names, result->detector,
								 threshold, &model, &err) != CV_OK ||
		cv_detect_metrics_compute(result->holdout, result->n_holdout, job->boxes, job->n_boxes,
								  job->n_images, job->n_tags, threshold, overlap,
								  per_tag, &overall, &err) != CV_OK)
		CoreRaise(&err, ERRCODE_DATA_EXCEPTION);
	model_datum = TrainModelDatum(model);

	TrainStepBegin(job->run, "pgvision: storing the iteration");
	{
		TrainOutcome outcome;

		outcome.image_count = job->n_images;
		outcome.tag_count = job->n_tags;
		outcome.precision = overall.precision;
		outcome.recall = overall.recall;
		outcome.mean_ap = overall.map;
		outcome.folds = result->n_folds;
		outcome.threshold = threshold;
		TrainStoreCompleted(job->run, model_datum, &outcome);
	}
	/* 0.2.0's rows name the project too (schema_version.c) */
	bool		with_project = IterationRowsHaveProjectId();

	for (int t = 0; t < job->n_tags; t++)
	{
		Oid			types[9] = {INT8OID, INT4OID, INT8OID, TEXTOID, INT4OID, FLOAT4OID, FLOAT4OID, FLOAT4OID, INT8OID};
		Datum		values[9];

		values[0] = Int64GetDatum(job->run->iteration_id);
		values[1] = Int32GetDatum(t);
		values[2] = Int64GetDatum(job->tag_ids[t]);
		values[3] = CStringGetTextDatum(job->tag_names[t]);
		values[4] = Int32GetDatum(per_tag[t].images);
		values[5] = Float4GetDatum((float4) per_tag[t].precision);
		values[6] = Float4GetDatum((float4) per_tag[t].recall);
		values[7] = Float4GetDatum((float4) per_tag[t].ap);
		values[8] = Int64GetDatum(job->project_id);
		TrainExecute(with_project
					 ? "INSERT INTO cv_iteration_tags (iteration_id, position, tag_id, name, negative, image_count, "
					 "\"precision\", recall, average_precision, project_id) SELECT $1, $2, t.id, $4, false, $5, $6, $7, $8, $9 "
					 "FROM (SELECT $3::bigint) AS k(v) LEFT JOIN cv_tags t ON t.id = k.v"
					 : "INSERT INTO cv_iteration_tags (iteration_id, position, tag_id, name, negative, image_count, "
					 "\"precision\", recall, average_precision) SELECT $1, $2, t.id, $4, false, $5, $6, $7, $8 "
					 "FROM (SELECT $3::bigint) AS k(v) LEFT JOIN cv_tags t ON t.id = k.v",
					 with_project ? 9 : 8, types, values, SPI_OK_INSERT);
	}
	/* The held-out boxes and detections, one row each. */
	for (int pass = 0; pass < 2; pass++)
	{
		int			n = pass == 0 ? job->n_boxes : result->n_holdout;

		for (int j = 0; j < n; j++)
		{
			Oid			types[11] = {INT8OID, INT8OID, INT4OID, INT4OID, FLOAT4OID, FLOAT4OID, FLOAT4OID, FLOAT4OID, FLOAT4OID, BOOLOID, INT8OID};
			Datum		values[11];
			char		nulls[11] = "           ";
			int			image = pass == 0 ? job->boxes[j].image : result->holdout[j].image;
			int			tag = pass == 0 ? job->boxes[j].tag : result->holdout[j].det.tag;
			const cv_box *b = pass == 0 ? &job->boxes[j].box : &result->holdout[j].det.box;

			values[0] = Int64GetDatum(job->run->iteration_id);
			values[1] = Int64GetDatum(job->image_ids[image]);
			values[2] = Int32GetDatum(result->fold[image]);
			values[3] = Int32GetDatum(tag);
			values[4] = Float4GetDatum(pass == 0 ? 0.0f : result->holdout[j].det.score);
			if (pass == 0)
				nulls[4] = 'n';	/* a true box has no probability */
			values[5] = Float4GetDatum(b->left);
			values[6] = Float4GetDatum(b->top);
			values[7] = Float4GetDatum(b->width);
			values[8] = Float4GetDatum(b->height);
			values[9] = BoolGetDatum(pass == 0);
			values[10] = Int64GetDatum(job->project_id);
			if (SPI_execute_with_args(with_project
									  ? "INSERT INTO cv_heldout_regions (iteration_id, image_id, fold, position, probability, "
									  "\"left\", top, width, height, truth, project_id) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)"
									  : "INSERT INTO cv_heldout_regions (iteration_id, image_id, fold, position, probability, "
									  "\"left\", top, width, height, truth) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
									  with_project ? 11 : 10, types, values, nulls, false, 0) != SPI_OK_INSERT)
				elog(ERROR, "pgvision: could not store held-out regions");
		}
	}
	TrainStepEnd(job->run);
	cv_model_free(model);
}

/* ---- the whole job ---- */

void
TrainDetection(TrainRun *run, int64 project_id, const char *domain)
{
	DetectJob  *job = palloc0(sizeof(DetectJob));
	cv_detect_dataset data;
	cv_detect_train_options opt;
	cv_detect_train_result result;
	cv_error	err;
	cv_status	st;
	int			missing;
	int			threads = cv_nn_get_threads();

	job->run = run;
	job->project_id = project_id;
	job->domain = pstrdup(domain);
	LoadDetectJob(job);
	MemoryContextSwitchTo(run->context);
	job->maps = MemoryContextAllocHuge(run->context,
									   mul_size(mul_size(Max(job->n_images, 1), job->views),
												mul_size(job->map_floats, sizeof(float))));
	job->have_maps = palloc0(sizeof(bool) * Max(job->n_images, 1));
	missing = LoadCachedMaps(job);
	if (missing > 0)
		ComputeMissingMaps(job, missing);
	if (!TrainReportProgress(run, MAP_SHARE, true))
		TrainRaiseCanceled();
	if (job->n_images < 1)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("the project has no images left to train on")));

	memset(&data, 0, sizeof(data));
	data.shape = job->shape;
	data.n_images = job->n_images;
	data.n_views = job->views;
	data.maps = job->maps;
	data.n_boxes = job->n_boxes;
	data.boxes = job->boxes;
	cv_detect_train_options_init(&opt);
	opt.progress = DetectProgress;
	opt.progress_arg = job;
	opt.nms_overlap = pgvision_nms_overlap;
	memset(&result, 0, sizeof(result));
	cv_error_clear(&err);
	/* the head's matrix products may use more cores than prediction does */
	cv_nn_set_threads(pgvision_training_threads);
	PG_TRY();
	{
		st = cv_detect_train(&data, &opt, &result, &err);
	}
	PG_FINALLY();
	{
		cv_nn_set_threads(threads);
	}
	PG_END_TRY();
	MemoryContextSwitchTo(run->context);
	if (st == CV_ERR_CANCELED)
		TrainRaiseCanceled();
	if (st != CV_OK)
		CoreRaise(&err, ERRCODE_DATA_EXCEPTION);
	StoreDetectionResults(job, &result);
	cv_detect_train_result_free(&result);
}
