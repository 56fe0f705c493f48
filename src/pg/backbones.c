/*
 * backbones.c
 *	  SQL functions of imported networks: cv_backbone_inspect (validate and
 *	  describe a TFLite file), cv_backbone_classify (the network's own top-k
 *	  classes) and cv_domain_shape; and the pgvision.threads setting.
 */
#include "pgvision.h"

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "funcapi.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/tuplestore.h"

#include "nn/nn.h"

int			pgvision_threads = 1;

static void
AssignThreads(int newval, void *extra)
{
	cv_nn_set_threads(newval);
}

void
BackboneSettingsInit(void)
{
	DefineCustomIntVariable("pgvision.threads",
							"Threads one prediction or feature extraction may use.",
							"Keep 1 to let parallel query and concurrent sessions use the cores.",
							&pgvision_threads,
							1, 1, 64,
							PGC_USERSET, 0,
							NULL, AssignThreads, NULL);
	cv_nn_set_threads(pgvision_threads);
}

/* Load a TFLite file and describe it; errors say what is wrong with it. */
PG_FUNCTION_INFO_V1(cv_backbone_inspect);
Datum
cv_backbone_inspect(PG_FUNCTION_ARGS)
{
	bytea	   *file = PG_GETARG_BYTEA_PP(0);
	cv_net	   *net = NULL;
	cv_error	err;
	const cv_net_info *info;
	const char *feature_name = NULL;
	TupleDesc	tupdesc;
	Datum		values[9];
	bool		nulls[9] = {false};

	if (get_call_result_type(fcinfo, NULL, &tupdesc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "return type must be a row type");
	tupdesc = BlessTupleDesc(tupdesc);

	cv_error_clear(&err);
	if (cv_net_load((const uint8_t *) VARDATA_ANY(file), VARSIZE_ANY_EXHDR(file), &net, &err) != CV_OK)
		CoreRaise(&err, ERRCODE_INVALID_BINARY_REPRESENTATION);
	info = cv_net_get_info(net);
	values[0] = Int32GetDatum(info->input_width);
	values[1] = Int32GetDatum(info->input_height);
	values[2] = Int32GetDatum(info->feature_dim);
	values[3] = Int32GetDatum(info->num_outputs);
	if (cv_net_feature_tensor(net, &feature_name) >= 0 && feature_name != NULL)
		values[4] = CStringGetTextDatum(feature_name);
	else
		nulls[4] = true;
	values[5] = Int64GetDatum((int64) info->weight_bytes);
	values[6] = Float8GetDatum(info->macs);
	values[7] = Float4GetDatum(info->input_scale);
	values[8] = Int32GetDatum(info->input_zero_point);
	cv_net_free(net);
	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(tupdesc, values, nulls)));
}

/* Input and feature size of a domain's extractor. */
PG_FUNCTION_INFO_V1(cv_domain_shape);
Datum
cv_domain_shape(PG_FUNCTION_ARGS)
{
	char	   *domain = text_to_cstring(PG_GETARG_TEXT_PP(0));
	const cv_feature_extractor *fx = DomainGetExtractor(domain, NULL);
	TupleDesc	tupdesc;
	Datum		values[3];
	bool		nulls[3] = {false};

	if (get_call_result_type(fcinfo, NULL, &tupdesc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "return type must be a row type");
	tupdesc = BlessTupleDesc(tupdesc);
	values[0] = Int32GetDatum(fx->input_width);
	values[1] = Int32GetDatum(fx->input_height);
	values[2] = Int32GetDatum(fx->dim);
	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(tupdesc, values, nulls)));
}

typedef struct ScoredLabel
{
	int			index;
	float		score;
} ScoredLabel;

static int
CompareScores(const void *a, const void *b)
{
	const ScoredLabel *x = a;
	const ScoredLabel *y = b;

	if (x->score != y->score)
		return x->score > y->score ? -1 : 1;
	return x->index - y->index;
}

/* The network's own top-k for an image, resized as the reference results were. */
PG_FUNCTION_INFO_V1(cv_backbone_classify);
Datum
cv_backbone_classify(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	char	   *name;
	bytea	   *image;
	int			k;
	const cv_feature_extractor *fx;
	const cv_net_info *info;
	cv_rgb_image decoded = {0};
	cv_rgb_image input = {0};
	cv_error	err;
	float	   *scores;
	ScoredLabel *order;
	ArrayType  *labels = NULL;
	Datum	   *label_values = NULL;
	bool	   *label_nulls = NULL;
	int			n_labels = 0;
	MemoryContext caller;

	if (PG_ARGISNULL(0) || PG_ARGISNULL(1) || PG_ARGISNULL(2))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("backbone, image and k must not be null")));
	name = text_to_cstring(PG_GETARG_TEXT_PP(0));
	image = PG_GETARG_BYTEA_PP(1);
	k = PG_GETARG_INT32(2);
	if (k < 1)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("k must be at least 1, not %d", k)));
	InitMaterializedSRF(fcinfo, 0);

	if (strcmp(name, "compact") == 0)
		ereport(ERROR,
				(errcode(ERRCODE_WRONG_OBJECT_TYPE),
				 errmsg("domain \"compact\" is built in and has no classes of its own")));
	fx = DomainGetExtractor(name, NULL);
	info = cv_net_get_info(cv_features_backbone_net(fx));

	/* Labels, if the import gave them (copied out before SPI_finish). */
	caller = CurrentMemoryContext;
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	{
		Oid			type = TEXTOID;
		Datum		arg = CStringGetTextDatum(name);
		bool		isnull;
		Datum		d;

		if (SPI_execute_with_args("SELECT labels FROM cv_backbones WHERE domain = $1", 1, &type, &arg,
								  NULL, true, 1) != SPI_OK_SELECT)
			elog(ERROR, "pgvision: could not read labels");
		d = SPI_processed == 1 ? SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull) : (Datum) 0;
		if (SPI_processed == 1 && !isnull)
		{
			MemoryContext spi = MemoryContextSwitchTo(caller);

			labels = DatumGetArrayTypePCopy(d);
			MemoryContextSwitchTo(spi);
			SPI_finish();
			deconstruct_array(labels, TEXTOID, -1, false, TYPALIGN_INT, &label_values, &label_nulls, &n_labels);
		}
		else
			SPI_finish();
	}

	CvImageDecodeFor(VARDATA_ANY(image), VARSIZE_ANY_EXHDR(image), info->input_width, info->input_height,
					 &decoded);
	cv_error_clear(&err);
	if (cv_image_resize_bilinear(&decoded, info->input_width, info->input_height, &input, &err) != CV_OK)
		CoreRaise(&err, ERRCODE_INTERNAL_ERROR);
	cv_rgb_image_free(&decoded);
	scores = palloc(sizeof(float) * info->num_outputs);
	if (cv_features_backbone_scores(fx, &input, scores, &err) != CV_OK)
		CoreRaise(&err, ERRCODE_DATA_EXCEPTION);
	cv_rgb_image_free(&input);

	order = palloc(sizeof(ScoredLabel) * info->num_outputs);
	for (int i = 0; i < info->num_outputs; i++)
	{
		order[i].index = i;
		order[i].score = scores[i];
	}
	qsort(order, info->num_outputs, sizeof(ScoredLabel), CompareScores);
	for (int i = 0; i < Min(k, info->num_outputs); i++)
	{
		Datum		values[3];
		bool		nulls[3] = {false, false, false};
		int			idx = order[i].index;

		values[0] = Int32GetDatum(idx);
		if (idx < n_labels && !label_nulls[idx])
			values[1] = label_values[idx];
		else
			nulls[1] = true;
		values[2] = Float4GetDatum(order[i].score);
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	return (Datum) 0;
}
