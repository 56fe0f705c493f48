/*
 * export.c
 *	  cv_export: a completed iteration as a file that runs outside the
 *	  database (ONNX, or TFLite for classification), and cv_input_pixels: the exact pixels that file (and
 *	  cv_predict / cv_detect) takes for an image.
 *
 * The exporter itself is in src/core/export; here we find the iteration,
 * refuse what cannot be exported with a hint, hand the core the model, its
 * backbone file and the metadata only the host knows (iteration, project,
 * version, pgvision.nms_overlap), and return its bytes.  docs/export.md
 * describes the file.
 *
 * cv_input_pixels decodes as cv_predict and cv_detect do (the same
 * smallest JPEG DCT scale) and renders with cv_export_input_pixels, so its
 * bytes are the network's input exactly.  Nothing here writes: the
 * functions are PARALLEL SAFE.
 */
#include "pgvision.h"

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "utils/builtins.h"
#include "utils/memutils.h"

#include "detect/detect_backbone.h"
#include "export/export.h"
#include "learn/features.h"

#ifndef PGVISION_VERSION
#error "PGVISION_VERSION must be defined (the Makefile passes pgvision.control's default_version)"
#endif

/* A completed iteration's model bytes and project name, or an error. */
typedef struct IterationModel
{
	bytea	   *model;			/* detoasted copy, caller's context */
	char	   *project;
} IterationModel;

static const char *
BuiltInDomainHint(void)
{
	return "Export needs a backbone domain: import a network with cv_import_backbone, "
		"create a project on that domain and train it.";
}

/*
 * Read iteration from cv_iterations (whose status says failed for a
 * training whose process is gone); fname: the SQL function, for messages.
 */
static IterationModel
ReadIteration(int64 iteration, const char *fname)
{
	Oid			types[1] = {INT8OID};
	Datum		values[1] = {Int64GetDatum(iteration)};
	MemoryContext caller = CurrentMemoryContext;
	IterationModel result;
	HeapTuple	row;
	TupleDesc	desc;
	char	   *status;
	char	   *domain;
	Datum		model;
	bool		isnull;

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	if (SPI_execute_with_args("SELECT status, project, domain, message, model FROM cv_iterations WHERE id = $1",
							  1, types, values, NULL, true, 0) != SPI_OK_SELECT)
		elog(ERROR, "pgvision: could not read iteration");
	if (SPI_processed != 1)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("iteration " INT64_FORMAT " does not exist", iteration)));
	row = SPI_tuptable->vals[0];
	desc = SPI_tuptable->tupdesc;
	status = SPI_getvalue(row, desc, 1);
	domain = SPI_getvalue(row, desc, 3);
	if (strcmp(status, "queued") == 0 || strcmp(status, "training") == 0)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("iteration " INT64_FORMAT " is %s; %s needs a completed iteration",
						iteration, status, fname),
				 errhint("Wait until it completes: cv_iterations shows its progress.")));
	if (strcmp(status, "completed") != 0)
	{
		char	   *message = SPI_getvalue(row, desc, 4);

		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("iteration " INT64_FORMAT " is %s; %s needs a completed iteration",
						iteration, status, fname),
				 message ? errdetail("Its message: %s", message) : 0,
				 errhint("Train the project again with cv_train, or choose a completed iteration.")));
	}
	if (strcmp(domain, "compact") == 0)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("%s needs a backbone domain; iteration " INT64_FORMAT " uses the built-in domain \"compact\"",
						fname, iteration),
				 errdetail("The compact domain's hand-made features are not a network a model file can hold."),
				 errhint("%s", BuiltInDomainHint())));
	model = SPI_getbinval(row, desc, 5, &isnull);
	if (isnull)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_CORRUPTED),
				 errmsg("completed iteration " INT64_FORMAT " has no model", iteration)));
	result.project = MemoryContextStrdup(caller, SPI_getvalue(row, desc, 2));
	{
		MemoryContext old = MemoryContextSwitchTo(caller);

		result.model = (bytea *) PG_DETOAST_DATUM_COPY(model);
		MemoryContextSwitchTo(old);
	}
	SPI_finish();
	return result;
}

/* The parsed model of serialized bytes, refusing a built-in domain. */
static const cv_model *
ExportableModel(bytea *bytes, const char *fname)
{
	const cv_model *model = ModelCacheGet((const uint8_t *) VARDATA(bytes), VARSIZE(bytes) - VARHDRSZ);

	if (strcmp(model->domain, "compact") == 0)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("%s needs a backbone domain; this model uses the built-in domain \"compact\"", fname),
				 errdetail("The compact domain's hand-made features are not a network a model file can hold."),
				 errhint("%s", BuiltInDomainHint())));
	return model;
}

/* cv_export(iteration bigint, format text) */
PG_FUNCTION_INFO_V1(cv_export);
Datum
cv_export(PG_FUNCTION_ARGS)
{
	int64		iteration;
	char	   *format;
	bool		tflite;
	IterationModel it;
	const cv_model *model;
	bytea	   *backbone;
	cv_export_meta meta;
	uint8_t    *out = NULL;
	size_t		out_len = 0;
	cv_error	err;
	bytea	   *result;

	if (PG_ARGISNULL(0))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("iteration must not be null")));
	if (PG_ARGISNULL(1))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("export format must not be null"),
				 errhint("The format is 'onnx' or 'tflite'.")));
	iteration = PG_GETARG_INT64(0);
	format = text_to_cstring(PG_GETARG_TEXT_PP(1));
	tflite = pg_strcasecmp(format, "tflite") == 0;
	if (!tflite && pg_strcasecmp(format, "onnx") != 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("unknown export format \"%s\"", format),
				 errhint("The format is 'onnx' or 'tflite'.")));

	it = ReadIteration(iteration, "cv_export");
	model = ExportableModel(it.model, "cv_export");
	if (tflite && model->task == CV_TASK_DETECTION &&
		model->extractor_version == CV_DETECT_MAPS_VERSION_INT8)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("TFLite export of detection iterations trained on the int8 engine is not available"),
				 errdetail("The file would hold the integer network, which no runtime here computes as cv_detect does (TFLite's XNNPACK kernels round differently)."),
				 errhint("Export to 'onnx' (cv_export(iteration, 'onnx') has the int8 arithmetic), or train with pgvision.engine = 'float'.")));
	backbone = BackboneFileByHash(model->domain, model->domain_hash);

	memset(&meta, 0, sizeof(meta));
	meta.iteration = iteration;
	meta.project = it.project;
	meta.version = PGVISION_VERSION;
	meta.nms_overlap = pgvision_nms_overlap;
	cv_error_clear(&err);
	if ((tflite ? cv_export_tflite : cv_export_onnx) (model, (const uint8_t *) VARDATA(backbone),
													  VARSIZE(backbone) - VARHDRSZ,
													  &meta, &out, &out_len, &err) != CV_OK)
		CoreRaise(&err, ERRCODE_DATA_CORRUPTED);
	pfree(backbone);
	if (out_len > MaxAllocSize - VARHDRSZ)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("the exported model of iteration " INT64_FORMAT " is %zu bytes, more than a bytea holds",
						iteration, out_len)));
	result = (bytea *) palloc(VARHDRSZ + out_len);
	SET_VARSIZE(result, VARHDRSZ + out_len);
	memcpy(VARDATA(result), out, out_len);
	cv_free(out);
	PG_RETURN_BYTEA_P(result);
}

/* The input pixels of an encoded image for a model, as a bytea. */
static bytea *
InputPixels(bytea *model_bytes, const char *image, Size image_len)
{
	const cv_model *model = ExportableModel(model_bytes, "cv_input_pixels");
	const cv_feature_extractor *fx = NULL;
	cv_rgb_image img = {0};
	cv_rgb_image px = {0};
	cv_error	err;
	cv_status	st;
	Size		n;
	bytea	   *result;

	/* detection renders without the network: no need to load it */
	if (model->task != CV_TASK_DETECTION)
		fx = ModelGetExtractor(model);
	CvImageDecodeFor(image, image_len, DecodeSizeFor(model->input_width),
					 DecodeSizeFor(model->input_height), &img);
	cv_error_clear(&err);
	st = cv_export_input_pixels(model, fx, &img, &px, &err);
	cv_rgb_image_free(&img);
	if (st != CV_OK)
		CoreRaise(&err, ERRCODE_DATA_CORRUPTED);
	n = mul_size(mul_size((Size) px.width, (Size) px.height), 3);
	result = (bytea *) palloc(VARHDRSZ + n);
	SET_VARSIZE(result, VARHDRSZ + n);
	memcpy(VARDATA(result), px.pixels, n);
	cv_rgb_image_free(&px);
	return result;
}

/* cv_input_pixels(iteration bigint, image bytea) */
PG_FUNCTION_INFO_V1(cv_input_pixels_iteration);
Datum
cv_input_pixels_iteration(PG_FUNCTION_ARGS)
{
	IterationModel it = ReadIteration(PG_GETARG_INT64(0), "cv_input_pixels");
	bytea	   *image = PG_GETARG_BYTEA_PP(1);

	PG_RETURN_BYTEA_P(InputPixels(it.model, VARDATA_ANY(image), VARSIZE_ANY_EXHDR(image)));
}

/* cv_input_pixels(iteration bigint, image cv_image) */
PG_FUNCTION_INFO_V1(cv_input_pixels_iteration_image);
Datum
cv_input_pixels_iteration_image(PG_FUNCTION_ARGS)
{
	IterationModel it = ReadIteration(PG_GETARG_INT64(0), "cv_input_pixels");
	CvImage    *image = PG_GETARG_CV_IMAGE_P(1);

	PG_RETURN_BYTEA_P(InputPixels(it.model, image->data, CvImageDataLen(image)));
}

/* cv_input_pixels(model cv_model, image bytea) */
PG_FUNCTION_INFO_V1(cv_input_pixels_model);
Datum
cv_input_pixels_model(PG_FUNCTION_ARGS)
{
	bytea	   *model = PG_GETARG_CV_MODEL_P(0);
	bytea	   *image = PG_GETARG_BYTEA_PP(1);

	PG_RETURN_BYTEA_P(InputPixels(model, VARDATA_ANY(image), VARSIZE_ANY_EXHDR(image)));
}

/* cv_input_pixels(model cv_model, image cv_image) */
PG_FUNCTION_INFO_V1(cv_input_pixels_model_image);
Datum
cv_input_pixels_model_image(PG_FUNCTION_ARGS)
{
	bytea	   *model = PG_GETARG_CV_MODEL_P(0);
	CvImage    *image = PG_GETARG_CV_IMAGE_P(1);

	PG_RETURN_BYTEA_P(InputPixels(model, image->data, CvImageDataLen(image)));
}
