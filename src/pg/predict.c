/*
 * predict.c
 *	  cv_predict: every tag of a model with its probability for one image,
 *	  most probable first.
 *
 * The image is decoded at the smallest JPEG DCT scale that still covers the
 * model's input, the model comes from the per-backend cache, and the
 * domain's extractor is built once per backend, so the work per row is the
 * decode, the features and the head.  Nothing here writes shared state, so
 * the functions are PARALLEL SAFE.
 */
#include "pgvision.h"

#include "funcapi.h"
#include "utils/builtins.h"
#include "utils/tuplestore.h"

typedef struct TagProbability
{
	int			tag;
	float		probability;
} TagProbability;

/* Descending probability; ties in tag order so output is deterministic. */
static int
CompareTagProbability(const void *a, const void *b)
{
	const TagProbability *x = a;
	const TagProbability *y = b;

	if (x->probability != y->probability)
		return x->probability > y->probability ? -1 : 1;
	return x->tag - y->tag;
}

static void
PredictRows(FunctionCallInfo fcinfo, bytea *model_bytes, const char *image, Size image_len)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	const cv_model *model;
	const cv_feature_extractor *fx;
	cv_rgb_image img = {0};
	float	   *probs;
	TagProbability *order;
	cv_error	err;
	int			n_tags;

	InitMaterializedSRF(fcinfo, 0);

	model = ModelCacheGet((const uint8_t *) VARDATA(model_bytes), VARSIZE(model_bytes) - VARHDRSZ);
	if (model->task == CV_TASK_DETECTION)
		ereport(ERROR,
				(errcode(ERRCODE_WRONG_OBJECT_TYPE),
				 errmsg("cv_predict needs a classification model; this model detects objects"),
				 errhint("Use cv_detect for detection models: it returns boxes with their tags.")));
	fx = ModelGetExtractor(model);
	n_tags = model->head->n_tags;

	CvImageDecodeFor(image, image_len, DecodeSizeFor(model->input_width),
					 DecodeSizeFor(model->input_height), &img);
	probs = palloc(sizeof(float) * n_tags);
	cv_error_clear(&err);
	if (cv_model_predict_image(model, fx, &img, probs, &err) != CV_OK)
		CoreRaise(&err, ERRCODE_DATA_CORRUPTED);
	cv_rgb_image_free(&img);

	order = palloc(sizeof(TagProbability) * n_tags);
	for (int i = 0; i < n_tags; i++)
	{
		order[i].tag = i;
		order[i].probability = probs[i];
	}
	qsort(order, n_tags, sizeof(TagProbability), CompareTagProbability);

	for (int i = 0; i < n_tags; i++)
	{
		Datum		values[2];
		bool		nulls[2] = {false, false};

		values[0] = CStringGetTextDatum(model->tag_names[order[i].tag]);
		values[1] = Float4GetDatum(order[i].probability);
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
}

/* cv_predict(cv_model, bytea) */
PG_FUNCTION_INFO_V1(cv_predict_bytea);
Datum
cv_predict_bytea(PG_FUNCTION_ARGS)
{
	bytea	   *model = PG_GETARG_CV_MODEL_P(0);
	bytea	   *image = PG_GETARG_BYTEA_PP(1);

	PredictRows(fcinfo, model, VARDATA_ANY(image), VARSIZE_ANY_EXHDR(image));
	return (Datum) 0;
}

/* cv_predict(cv_model, cv_image) */
PG_FUNCTION_INFO_V1(cv_predict_image);
Datum
cv_predict_image(PG_FUNCTION_ARGS)
{
	bytea	   *model = PG_GETARG_CV_MODEL_P(0);
	CvImage    *image = PG_GETARG_CV_IMAGE_P(1);

	PredictRows(fcinfo, model, image->data, CvImageDataLen(image));
	return (Datum) 0;
}
