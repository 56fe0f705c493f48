/*
 * performance.c
 *	  cv_performance(iteration, threshold, overlap): per-tag and overall
 *	  held-out precision, recall and average precision, recomputed from the
 *	  stored held-out results (heldout.c; src/core/learn/metrics.h and
 *	  src/core/detect/detect_metrics.h define every figure), so another
 *	  threshold or overlap needs no retraining.
 */
#include "heldout.h"

#include <math.h>

#include "executor/spi.h"
#include "funcapi.h"
#include "utils/builtins.h"
#include "utils/tuplestore.h"

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

/* A detection iteration: boxes matched at the overlap, counted at the threshold. */
static void
DetectionPerformance(ReturnSetInfo *rsinfo, int64 iteration, double threshold,
					 double overlap, int n_images_trained, MemoryContext caller)
{
	HeldoutTags tags;
	HeldoutRegions r;
	cv_detect_tag_metrics *per_tag;
	cv_detect_overall_metrics overall;
	cv_error	err;

	HeldoutTagsGet(iteration, caller, &tags);
	HeldoutRegionsGet(iteration, tags.n_tags, caller, &r);
	SPI_finish();

	per_tag = palloc0(sizeof(cv_detect_tag_metrics) * Max(tags.n_tags, 1));
	cv_error_clear(&err);
	if (tags.n_tags > 0 &&
		cv_detect_metrics_compute(r.dets, r.n_dets, r.truths, r.n_truths, Max(r.n_images, 1),
								  tags.n_tags, threshold, overlap, per_tag, &overall,
								  &err) != CV_OK)
		CoreRaise(&err, ERRCODE_DATA_CORRUPTED);
	for (int t = 0; t < tags.n_tags; t++)
		PutRow(rsinfo, tags.names[t], per_tag[t].precision, per_tag[t].recall, per_tag[t].ap,
			   per_tag[t].images);
	if (tags.n_tags > 0)
		PutRow(rsinfo, NULL, overall.precision, overall.recall, overall.map, n_images_trained);
}

PG_FUNCTION_INFO_V1(cv_performance);
Datum
cv_performance(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	int64		iteration;
	double		threshold;
	HeldoutIteration it;
	HeldoutTags tags;
	HeldoutPredictions hp;
	cv_tag_metrics *per_tag;
	cv_overall_metrics overall;
	cv_error	err;
	MemoryContext caller = CurrentMemoryContext;

	if (PG_ARGISNULL(0))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("iteration must not be null")));
	iteration = PG_GETARG_INT64(0);
	InitMaterializedSRF(fcinfo, 0);

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	HeldoutIterationGet(iteration, "performance", &it);
	threshold = PG_ARGISNULL(1) ? it.threshold : PG_GETARG_FLOAT8(1);
	if (isnan(threshold) || threshold < 0.0 || threshold > 1.0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("threshold %g is outside 0..1", threshold)));
	if (it.task == CV_TASK_DETECTION)
	{
		double		overlap = PG_ARGISNULL(2) ? 0.5 : PG_GETARG_FLOAT8(2);

		if (isnan(overlap) || overlap < 0.0 || overlap > 1.0)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("overlap %g is outside 0..1", overlap)));
		DetectionPerformance(rsinfo, iteration, threshold, overlap, it.image_count, caller);
		return (Datum) 0;
	}
	if (!PG_ARGISNULL(2))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("overlap applies to detection iterations; iteration " INT64_FORMAT " classifies",
						iteration)));

	HeldoutTagsGet(iteration, caller, &tags);
	HeldoutPredictionsGet(iteration, tags.n_tags, caller, &hp);
	SPI_finish();

	per_tag = palloc0(sizeof(cv_tag_metrics) * Max(tags.n_tags, 1));
	cv_error_clear(&err);
	if (cv_metrics_compute(it.task, hp.probs, hp.labels, tags.negative, hp.n_images, tags.n_tags,
						   threshold, per_tag, &overall, &err) != CV_OK)
		CoreRaise(&err, ERRCODE_DATA_CORRUPTED);

	for (int t = 0; t < tags.n_tags; t++)
		PutRow(rsinfo, tags.names[t], per_tag[t].precision, per_tag[t].recall, per_tag[t].ap,
			   tags.image_counts[t]);
	PutRow(rsinfo, NULL, overall.precision, overall.recall, overall.map, hp.n_images);
	return (Datum) 0;
}
