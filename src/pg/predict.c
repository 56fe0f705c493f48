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

#include "catalog/pg_type.h"
#include "funcapi.h"
#include "nodes/value.h"
#include "parser/parse_func.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
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
PredictRows(FunctionCallInfo fcinfo, const cv_model *model, const char *image, Size image_len)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	const cv_feature_extractor *fx;
	cv_rgb_image img = {0};
	float	   *probs;
	TagProbability *order;
	cv_error	err;
	int			n_tags;

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
	const cv_model *model = ModelFromArg(fcinfo, 0);
	bytea	   *image = PG_GETARG_BYTEA_PP(1);

	InitMaterializedSRF(fcinfo, 0);
	PredictRows(fcinfo, model, VARDATA_ANY(image), VARSIZE_ANY_EXHDR(image));
	return (Datum) 0;
}

/* cv_predict(cv_model, cv_image) */
PG_FUNCTION_INFO_V1(cv_predict_image);
Datum
cv_predict_image(PG_FUNCTION_ARGS)
{
	const cv_model *model = ModelFromArg(fcinfo, 0);
	CvImage    *image = PG_GETARG_CV_IMAGE_P(1);

	InitMaterializedSRF(fcinfo, 0);
	PredictRows(fcinfo, model, image->data, CvImageDataLen(image));
	return (Datum) 0;
}

/*
 * cv_predict(project text, image bytea [, published_name text]): the
 * project's published model, looked up once per call site and statement.
 *
 * The lookup is cv_published_model's (so the same visibility rules and
 * errors), called through fmgr; the function is STABLE, so one answer
 * serves every row of a statement that names the same project.  A scan of
 * many photos thus pays the lookup (a query under row security, a
 * PL/pgSQL call, reading the model's bytes) once instead of per photo.
 * fn_extra lives no longer than the statement's executor state.
 */
typedef struct PublishedMemo
{
	char	   *project;
	char	   *published_name; /* NULL: the latest published */
	bytea	   *model_bytes;	/* detoasted copy; NULL: the lookup gave NULL */
	ModelCacheHandle handle;
} PublishedMemo;

static Datum
CallPublishedModel(FunctionCallInfo fcinfo, text *project, text *published_name, bool named,
				   bool *isnull)
{
	Oid			schema = get_func_namespace(fcinfo->flinfo->fn_oid);
	Oid			argtypes[2] = {TEXTOID, TEXTOID};
	int			nargs = named ? 2 : 1;
	List	   *name = list_make2(makeString(get_namespace_name(schema)),
								  makeString("cv_published_model"));
	Oid			fn = LookupFuncName(name, nargs, argtypes, false);
	FmgrInfo	flinfo;
	LOCAL_FCINFO(call, 2);
	Datum		result;

	fmgr_info(fn, &flinfo);
	InitFunctionCallInfoData(*call, &flinfo, nargs, InvalidOid, NULL, NULL);
	call->args[0].value = PointerGetDatum(project);
	call->args[0].isnull = project == NULL;
	call->args[1].value = PointerGetDatum(published_name);
	call->args[1].isnull = published_name == NULL;
	result = FunctionCallInvoke(call);
	*isnull = call->isnull;
	return result;
}

static bool
SameName(const char *a, const char *b)
{
	return (a == NULL || b == NULL) ? a == b : strcmp(a, b) == 0;
}

/* project and published_name may be NULL: cv_published_model says what that means */
static const cv_model *
PublishedModel(FunctionCallInfo fcinfo, text *project, text *published_name, bool named)
{
	PublishedMemo *memo = (PublishedMemo *) fcinfo->flinfo->fn_extra;
	char	   *project_str = project ? text_to_cstring(project) : NULL;
	char	   *name_str = published_name ? text_to_cstring(published_name) : NULL;
	const cv_model *model;

	if (memo == NULL || !SameName(memo->project, project_str) ||
		!SameName(memo->published_name, name_str))
	{
		MemoryContext old;
		bool		isnull;
		Datum		model_datum = CallPublishedModel(fcinfo, project, published_name, named,
													 &isnull);

		old = MemoryContextSwitchTo(fcinfo->flinfo->fn_mcxt);
		if (memo == NULL)
			memo = fcinfo->flinfo->fn_extra = palloc0(sizeof(PublishedMemo));
		else
		{
			if (memo->project)
				pfree(memo->project);
			if (memo->published_name)
				pfree(memo->published_name);
			if (memo->model_bytes)
				pfree(memo->model_bytes);
		}
		memo->project = project_str ? pstrdup(project_str) : NULL;
		memo->published_name = name_str ? pstrdup(name_str) : NULL;
		memo->model_bytes = isnull ? NULL : (bytea *) PG_DETOAST_DATUM_COPY(model_datum);
		memset(&memo->handle, 0, sizeof(memo->handle));
		MemoryContextSwitchTo(old);
	}
	if (memo->model_bytes == NULL)
		return NULL;
	model = ModelCacheHandleModel(&memo->handle);
	if (model == NULL)
		model = ModelCacheGetHandle((const uint8_t *) VARDATA(memo->model_bytes),
									VARSIZE(memo->model_bytes) - VARHDRSZ, &memo->handle);
	return model;
}

/*
 * Not STRICT, as the SQL function it replaces was not: the model is looked
 * up first, with NULLs passed on (an unknown or NULL project is
 * cv_published_model's error even for a NULL image), then a NULL image or
 * model gives no rows, as the STRICT cv_predict(cv_model, bytea) did.
 */
static Datum
PredictByProject(FunctionCallInfo fcinfo, bool named)
{
	const cv_model *model;
	bytea	   *image;

	model = PublishedModel(fcinfo, PG_ARGISNULL(0) ? NULL : PG_GETARG_TEXT_PP(0),
						   (named && !PG_ARGISNULL(2)) ? PG_GETARG_TEXT_PP(2) : NULL, named);
	InitMaterializedSRF(fcinfo, 0);
	if (model == NULL || PG_ARGISNULL(1))
		return (Datum) 0;
	image = PG_GETARG_BYTEA_PP(1);
	PredictRows(fcinfo, model, VARDATA_ANY(image), VARSIZE_ANY_EXHDR(image));
	return (Datum) 0;
}

PG_FUNCTION_INFO_V1(cv_predict_project);
Datum
cv_predict_project(PG_FUNCTION_ARGS)
{
	return PredictByProject(fcinfo, false);
}

PG_FUNCTION_INFO_V1(cv_predict_project_named);
Datum
cv_predict_project_named(PG_FUNCTION_ARGS)
{
	return PredictByProject(fcinfo, true);
}
