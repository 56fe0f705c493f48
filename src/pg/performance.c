/*
 * performance.c
 *	  cv_performance(iteration, threshold): per-tag and overall held-out
 *	  precision, recall and average precision, recomputed from the stored
 *	  held-out predictions (src/core/learn/metrics.h defines every figure),
 *	  so another threshold needs no retraining.
 */
#include "pgvision.h"

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "funcapi.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/float.h"
#include "utils/tuplestore.h"

#include "learn/metrics.h"
#include "detect/detect_metrics.h"

static void
PutRow(ReturnSetInfo *rsinfo, const char *tag, double precision, double recall, double ap, int count)
{
	Datum		values[5];
	bool		nulls[5] = {tag == NULL, false, false, false, false};

	values[0] = tag ? CStringGetTextDatum(tag) : (Datum) 0;
	values[1] = Float4GetDatum((float4) precision);
	values[2] = Float4GetDatum((float4) recall);
	values[3] = Float4GetDatum((float4) ap);
	values[4] = Int32GetDatum(count);
	tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
}

/*
 * A detection iteration: the held-out boxes and detections it stored
 * (cv_heldout_regions), matched at the overlap and counted at the
 * threshold (src/core/detect/detect_metrics.h).  SPI is connected.
 */
static void
DetectionPerformance(ReturnSetInfo *rsinfo, int64 iteration, double threshold,
					 double overlap, int n_images_trained)
{
	Oid			types[1] = {INT8OID};
	Datum		values[1] = {Int64GetDatum(iteration)};
	bool		isnull;
	int			n_tags,
				n_rows,
				n_truths = 0,
				n_dets = 0,
				n_images = 0;
	char	  **names;
	cv_truth_box *truths;
	cv_image_detection *dets;
	cv_detect_tag_metrics *per_tag;
	cv_detect_overall_metrics overall;
	cv_error	err;
	int64		last_image = -1;
	MemoryContext caller = rsinfo->econtext->ecxt_per_query_memory;

	if (SPI_execute_with_args("SELECT name FROM cv_iteration_tags WHERE iteration_id = $1 ORDER BY position",
							  1, types, values, NULL, true, 0) != SPI_OK_SELECT)
		elog(ERROR, "pgvision: could not read iteration tags");
	n_tags = (int) SPI_processed;
	names = MemoryContextAlloc(caller, sizeof(char *) * Max(n_tags, 1));
	for (int t = 0; t < n_tags; t++)
		names[t] = MemoryContextStrdup(caller, SPI_getvalue(SPI_tuptable->vals[t], SPI_tuptable->tupdesc, 1));

	if (SPI_execute_with_args("SELECT image_id, position, truth, probability, \"left\", top, width, height "
							  "FROM cv_heldout_regions WHERE iteration_id = $1 ORDER BY image_id",
							  1, types, values, NULL, true, 0) != SPI_OK_SELECT)
		elog(ERROR, "pgvision: could not read held-out regions");
	n_rows = (int) SPI_processed;
	truths = MemoryContextAllocHuge(caller, sizeof(cv_truth_box) * Max(n_rows, 1));
	dets = MemoryContextAllocHuge(caller, sizeof(cv_image_detection) * Max(n_rows, 1));
	for (int r = 0; r < n_rows; r++)
	{
		HeapTuple	row = SPI_tuptable->vals[r];
		TupleDesc	desc = SPI_tuptable->tupdesc;
		int64		image = DatumGetInt64(SPI_getbinval(row, desc, 1, &isnull));
		int			tag = DatumGetInt32(SPI_getbinval(row, desc, 2, &isnull));
		bool		truth = DatumGetBool(SPI_getbinval(row, desc, 3, &isnull));
		cv_box		b;

		if (tag < 0 || tag >= n_tags)
			ereport(ERROR,
					(errcode(ERRCODE_DATA_CORRUPTED),
					 errmsg("held-out regions of iteration " INT64_FORMAT " name tag %d of %d",
							iteration, tag, n_tags)));
		if (image != last_image)
		{
			n_images++;
			last_image = image;
		}
		b.left = DatumGetFloat4(SPI_getbinval(row, desc, 5, &isnull));
		b.top = DatumGetFloat4(SPI_getbinval(row, desc, 6, &isnull));
		b.width = DatumGetFloat4(SPI_getbinval(row, desc, 7, &isnull));
		b.height = DatumGetFloat4(SPI_getbinval(row, desc, 8, &isnull));
		if (truth)
		{
			truths[n_truths].image = n_images - 1;
			truths[n_truths].tag = tag;
			truths[n_truths].box = b;
			n_truths++;
		}
		else
		{
			dets[n_dets].image = n_images - 1;
			dets[n_dets].det.tag = tag;
			dets[n_dets].det.score = DatumGetFloat4(SPI_getbinval(row, desc, 4, &isnull));
			dets[n_dets].det.box = b;
			n_dets++;
		}
	}
	SPI_finish();

	per_tag = palloc0(sizeof(cv_detect_tag_metrics) * Max(n_tags, 1));
	cv_error_clear(&err);
	if (n_tags > 0 &&
		cv_detect_metrics_compute(dets, n_dets, truths, n_truths, Max(n_images, 1), n_tags,
								  threshold, overlap, per_tag, &overall, &err) != CV_OK)
		CoreRaise(&err, ERRCODE_DATA_CORRUPTED);
	for (int t = 0; t < n_tags; t++)
		PutRow(rsinfo, names[t], per_tag[t].precision, per_tag[t].recall, per_tag[t].ap,
			   per_tag[t].images);
	if (n_tags > 0)
		PutRow(rsinfo, NULL, overall.precision, overall.recall, overall.map, n_images_trained);
}

PG_FUNCTION_INFO_V1(cv_performance);
Datum
cv_performance(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	int64		iteration;
	double		threshold;
	Oid			types[1] = {INT8OID};
	Datum		values[1];
	bool		isnull;
	char	   *status;
	int			n_tags, n_images;
	char	  **names;
	bool	   *negative;
	int		   *counts;
	float	   *probs;
	uint8_t    *labels;
	cv_tag_metrics *per_tag;
	cv_overall_metrics overall;
	cv_error	err;
	cv_task		task;
	MemoryContext caller = CurrentMemoryContext;

	if (PG_ARGISNULL(0))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("iteration must not be null")));
	iteration = PG_GETARG_INT64(0);
	InitMaterializedSRF(fcinfo, 0);

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	values[0] = Int64GetDatum(iteration);
	if (SPI_execute_with_args("SELECT status, threshold, task, image_count FROM cv_iterations WHERE id = $1",
							  1, types, values, NULL, true, 0) != SPI_OK_SELECT)
		elog(ERROR, "pgvision: could not read iteration");
	if (SPI_processed != 1)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("iteration " INT64_FORMAT " does not exist", iteration)));
	status = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1);
	if (strcmp(status, "completed") != 0)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("iteration " INT64_FORMAT " is %s; performance exists for completed iterations",
						iteration, status)));
	threshold = PG_ARGISNULL(1)
		? DatumGetFloat4(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2, &isnull))
		: PG_GETARG_FLOAT8(1);
	if (isnan(threshold) || threshold < 0.0 || threshold > 1.0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("threshold %g is outside 0..1", threshold)));
	if (strcmp(SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 3), "detection") == 0)
	{
		double		overlap = PG_ARGISNULL(2) ? 0.5 : PG_GETARG_FLOAT8(2);
		int			trained = DatumGetInt32(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 4, &isnull));

		if (isnan(overlap) || overlap < 0.0 || overlap > 1.0)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("overlap %g is outside 0..1", overlap)));
		DetectionPerformance(rsinfo, iteration, threshold, overlap, isnull ? 0 : trained);
		return (Datum) 0;
	}
	if (!PG_ARGISNULL(2))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("overlap applies to detection iterations; iteration " INT64_FORMAT " classifies",
						iteration)));
	task = strcmp(SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 3), "multilabel") == 0
		? CV_TASK_MULTILABEL : CV_TASK_MULTICLASS;

	if (SPI_execute_with_args("SELECT name, negative, image_count FROM cv_iteration_tags "
							  "WHERE iteration_id = $1 ORDER BY position",
							  1, types, values, NULL, true, 0) != SPI_OK_SELECT)
		elog(ERROR, "pgvision: could not read iteration tags");
	n_tags = (int) SPI_processed;
	names = MemoryContextAlloc(caller, sizeof(char *) * Max(n_tags, 1));
	negative = MemoryContextAlloc(caller, sizeof(bool) * Max(n_tags, 1));
	counts = MemoryContextAlloc(caller, sizeof(int) * Max(n_tags, 1));
	for (int t = 0; t < n_tags; t++)
	{
		HeapTuple	row = SPI_tuptable->vals[t];

		names[t] = MemoryContextStrdup(caller, SPI_getvalue(row, SPI_tuptable->tupdesc, 1));
		negative[t] = DatumGetBool(SPI_getbinval(row, SPI_tuptable->tupdesc, 2, &isnull));
		counts[t] = DatumGetInt32(SPI_getbinval(row, SPI_tuptable->tupdesc, 3, &isnull));
	}

	if (SPI_execute_with_args("SELECT labels, probabilities FROM cv_heldout_predictions "
							  "WHERE iteration_id = $1 ORDER BY image_id",
							  1, types, values, NULL, true, 0) != SPI_OK_SELECT)
		elog(ERROR, "pgvision: could not read held-out predictions");
	n_images = (int) SPI_processed;
	probs = MemoryContextAlloc(caller, mul_size(sizeof(float), mul_size(Max(n_images, 1), Max(n_tags, 1))));
	labels = MemoryContextAlloc(caller, mul_size(Max(n_images, 1), Max(n_tags, 1)));
	for (int i = 0; i < n_images; i++)
	{
		HeapTuple	row = SPI_tuptable->vals[i];
		ArrayType  *l = DatumGetArrayTypeP(SPI_getbinval(row, SPI_tuptable->tupdesc, 1, &isnull));
		ArrayType  *p = DatumGetArrayTypeP(SPI_getbinval(row, SPI_tuptable->tupdesc, 2, &isnull));
		Datum	   *ld, *pd;
		int			nl, np;

		deconstruct_array(l, BOOLOID, 1, true, TYPALIGN_CHAR, &ld, NULL, &nl);
		deconstruct_array(p, FLOAT4OID, 4, true, TYPALIGN_INT, &pd, NULL, &np);
		if (nl != n_tags || np != n_tags)
			ereport(ERROR,
					(errcode(ERRCODE_DATA_CORRUPTED),
					 errmsg("held-out predictions of iteration " INT64_FORMAT " do not match its %d tags",
							iteration, n_tags)));
		for (int t = 0; t < n_tags; t++)
		{
			labels[(Size) i * n_tags + t] = DatumGetBool(ld[t]) ? 1 : 0;
			probs[(Size) i * n_tags + t] = DatumGetFloat4(pd[t]);
		}
	}
	SPI_finish();

	per_tag = palloc0(sizeof(cv_tag_metrics) * Max(n_tags, 1));
	cv_error_clear(&err);
	if (cv_metrics_compute(task, probs, labels, negative, n_images, n_tags, threshold,
						   per_tag, &overall, &err) != CV_OK)
		CoreRaise(&err, ERRCODE_DATA_CORRUPTED);

	for (int t = 0; t < n_tags; t++)
		PutRow(rsinfo, names[t], per_tag[t].precision, per_tag[t].recall, per_tag[t].ap, counts[t]);
	PutRow(rsinfo, NULL, overall.precision, overall.recall, overall.map, n_images);
	return (Datum) 0;
}
