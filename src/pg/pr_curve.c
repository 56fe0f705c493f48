/*
 * pr_curve.c
 *	  cv_pr_curve(iteration, tag, overlap): the precision/recall points
 *	  behind a tag's average precision, for BI tools to plot; computed from
 *	  the stored held-out results by the same core code as the AP
 *	  (cv_metrics_pr_curve, cv_detect_pr_curve), so the curve and the
 *	  figure cv_performance reports always agree.
 */
#include "heldout.h"

#include <math.h>

#include "executor/spi.h"
#include "funcapi.h"
#include "utils/builtins.h"
#include "utils/tuplestore.h"

PG_FUNCTION_INFO_V1(cv_pr_curve);
Datum
cv_pr_curve(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	int64		iteration;
	char	   *tag_name;
	HeldoutIteration it;
	HeldoutTags tags;
	cv_pr_point *points;
	int			n_points = 0,
				tag;
	cv_status	st;
	cv_error	err;
	MemoryContext caller = CurrentMemoryContext;

	if (PG_ARGISNULL(0) || PG_ARGISNULL(1))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("iteration and tag must not be null")));
	iteration = PG_GETARG_INT64(0);
	tag_name = text_to_cstring(PG_GETARG_TEXT_PP(1));
	InitMaterializedSRF(fcinfo, 0);

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	HeldoutIterationGet(iteration, "a precision/recall curve", &it);
	HeldoutTagsGet(iteration, caller, &tags);
	tag = HeldoutTagIndex(&tags, tag_name);
	if (tag < 0)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("iteration " INT64_FORMAT " has no tag \"%s\"", iteration, tag_name),
				 errhint("cv_performance lists the tags an iteration was trained on.")));
	cv_error_clear(&err);
	if (it.task == CV_TASK_DETECTION)
	{
		double		overlap = PG_ARGISNULL(2) ? 0.5 : PG_GETARG_FLOAT8(2);
		HeldoutRegions r;

		if (isnan(overlap) || overlap < 0.0 || overlap > 1.0)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("overlap %g is outside 0..1", overlap)));
		HeldoutRegionsGet(iteration, tags.n_tags, caller, &r);
		SPI_finish();
		points = palloc(sizeof(cv_pr_point) * Max(r.n_dets, 1));
		st = cv_detect_pr_curve(r.dets, r.n_dets, r.truths, r.n_truths, Max(r.n_images, 1),
								tags.n_tags, tag, overlap, points, &n_points, &err);
	}
	else
	{
		HeldoutPredictions hp;

		if (!PG_ARGISNULL(2))
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("overlap applies to detection iterations; iteration " INT64_FORMAT " classifies",
							iteration)));
		HeldoutPredictionsGet(iteration, tags.n_tags, caller, &hp);
		SPI_finish();
		points = palloc(sizeof(cv_pr_point) * Max(hp.n_images, 1));
		st = cv_metrics_pr_curve(hp.probs + tag, hp.labels + tag, hp.n_images, tags.n_tags,
								 points, &n_points, &err);
	}
	if (st != CV_OK)
		CoreRaise(&err, ERRCODE_DATA_CORRUPTED);

	for (int k = 0; k < n_points; k++)
	{
		Datum		values[6];
		bool		nulls[6] = {false};

		values[0] = Float4GetDatum(points[k].threshold);
		values[1] = Float4GetDatum((float4) points[k].precision);
		values[2] = Float4GetDatum((float4) points[k].recall);
		values[3] = Float4GetDatum((float4) points[k].interpolated);
		values[4] = Int32GetDatum(points[k].tp);
		values[5] = Int32GetDatum(points[k].fp);
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	return (Datum) 0;
}
