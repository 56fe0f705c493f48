/*
 * detect.c
 *	  cv_detect: the objects a detection model finds in one image, as rows
 *	  of (tag, probability, left, top, width, height), most probable first.
 *
 * Boxes are fractions of the upright image, clipped to it; same-tag boxes
 * overlapping by more than pgvision.nms_overlap (IoU) keep the more
 * probable one.  The image is decoded at the smallest JPEG scale that still
 * covers the detector's input; the model and the cut backbone are cached
 * per backend.  Nothing here writes shared state: PARALLEL SAFE.  STRICT:
 * a NULL image (or argument) gives no rows.
 */
#include "pgvision.h"

#include <math.h>

#include "funcapi.h"
#include "utils/builtins.h"
#include "utils/tuplestore.h"

#include "detect/detect_backbone.h"

static void
DetectRows(FunctionCallInfo fcinfo, const char *image, Size image_len)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	const cv_model *model;
	cv_detect_backbone *bb;
	cv_rgb_image img = {0};
	cv_detection *dets = NULL;
	int			n_dets = 0;
	float		threshold;
	int			max_detections;
	cv_error	err;
	cv_status	st;

	threshold = PG_GETARG_FLOAT4(2);
	max_detections = PG_GETARG_INT32(3);
	if (isnan(threshold) || threshold < 0.0f || threshold > 1.0f)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("threshold %g is outside 0..1", threshold)));
	if (max_detections < 1 || max_detections > 10000)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("max_detections %d is outside 1..10000", max_detections)));

	InitMaterializedSRF(fcinfo, 0);
	model = ModelFromArg(fcinfo, 0);
	if (model->task != CV_TASK_DETECTION)
		ereport(ERROR,
				(errcode(ERRCODE_WRONG_OBJECT_TYPE),
				 errmsg("cv_detect needs a detection model; this model classifies (%s)",
						model->task == CV_TASK_MULTILABEL ? "multilabel" : "multiclass"),
				 errhint("Use cv_predict for classification models.")));
	bb = ModelDetectBackbone(model);

	CvImageDecodeFor(image, image_len, DecodeSizeFor(model->input_width),
					 DecodeSizeFor(model->input_height), &img);
	cv_error_clear(&err);
	st = cv_detect_image_in(bb, model->detector,
							DetectBackboneWork(bb, model->detector, img.height), &img,
							threshold, pgvision_nms_overlap, max_detections, &dets,
							&n_dets, &err);
	cv_rgb_image_free(&img);
	if (st != CV_OK)
		CoreRaise(&err, ERRCODE_DATA_CORRUPTED);

	for (int i = 0; i < n_dets; i++)
	{
		Datum		values[6];
		bool		nulls[6] = {false};

		values[0] = CStringGetTextDatum(model->tag_names[dets[i].tag]);
		values[1] = Float4GetDatum(dets[i].score);
		values[2] = Float4GetDatum(dets[i].box.left);
		values[3] = Float4GetDatum(dets[i].box.top);
		values[4] = Float4GetDatum(dets[i].box.width);
		values[5] = Float4GetDatum(dets[i].box.height);
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	cv_free(dets);
}

/* cv_detect(cv_model, bytea, real, integer) */
PG_FUNCTION_INFO_V1(cv_detect_bytea);
Datum
cv_detect_bytea(PG_FUNCTION_ARGS)
{
	bytea	   *image = PG_GETARG_BYTEA_PP(1);

	DetectRows(fcinfo, VARDATA_ANY(image), VARSIZE_ANY_EXHDR(image));
	return (Datum) 0;
}

/* cv_detect(cv_model, cv_image, real, integer) */
PG_FUNCTION_INFO_V1(cv_detect_cv_image);
Datum
cv_detect_cv_image(PG_FUNCTION_ARGS)
{
	CvImage    *image = PG_GETARG_CV_IMAGE_P(1);

	DetectRows(fcinfo, image->data, CvImageDataLen(image));
	return (Datum) 0;
}
