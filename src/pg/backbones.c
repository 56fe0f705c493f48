/*
 * backbones.c
 *	  SQL functions of imported networks: cv_backbone_inspect (validate and
 *	  describe a TFLite file, and say what a domain of it supports:
 *	  classification, detection), cv_backbone_classify (the network's own
 *	  top-k classes) and cv_domain_shape; and the pgvision.threads setting.
 */
#include "pgvision.h"

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "funcapi.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/tuplestore.h"

#include "detect/detect_backbone.h"
#include "nn/nn.h"

int			pgvision_threads = 1;

static void
AssignThreads(int newval, void *extra)
{
	cv_nn_set_threads(newval);
}

/*
 * auto by default: int8 where its kernels are the fast ones, where it runs
 * MobileNet V2 in about 0.6 of the float engine's time (docs/backbones.md,
 * "The int8 engine").
 */
int			pgvision_engine = PGV_ENGINE_AUTO;

static const struct config_enum_entry engine_options[] = {
	{"auto", PGV_ENGINE_AUTO, false},
	{"float", PGV_ENGINE_FLOAT, false},
	{"int8", PGV_ENGINE_INT8, false},
	{NULL, 0, false}
};

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
	DefineCustomEnumVariable("pgvision.engine",
							 "Arithmetic new features and feature maps of quantized backbones are computed in.",
							 "int8: TFLite's integer arithmetic; auto: int8 for classification where the CPU has "
							 "AVX-512 VNNI or AVX2, float for detection.  A model always predicts on the engine it "
							 "was trained on.",
							 &pgvision_engine,
							 PGV_ENGINE_AUTO, engine_options,
							 PGC_USERSET, 0,
							 NULL, NULL, NULL);
}

/*
 * The engine new features are computed on: pgvision.engine, with auto
 * resolved by the CPU (int8 only where its kernels are the fast ones).
 */
/*
 * auto: int8 for classification features where the CPU has the fast
 * integer kernels; float for detection maps, whose 8-bit rounding cost
 * mAP@0.5 on the benchmark sets (raccoon-od 0.834 against 0.879 over three
 * seeds, docs/detection.md), so a detector runs on integers only when
 * asked for (int8).
 */
static int
ResolveEngine(int setting, bool detection)
{
	if (setting == PGV_ENGINE_INT8 ||
		(setting == PGV_ENGINE_AUTO && !detection && cv_nn_int8_fast()))
		return CV_NET_ENGINE_INT8;
	return CV_NET_ENGINE_FLOAT;
}

int
EngineForNewFeatures(bool detection)
{
	return ResolveEngine(pgvision_engine, detection);
}

int
EngineFromSetting(const char *setting, bool detection)
{
	for (const struct config_enum_entry *e = engine_options; e->name != NULL; e++)
		if (setting != NULL && strcmp(setting, e->name) == 0)
			return ResolveEngine(e->val, detection);
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("invalid value for pgvision.engine: \"%s\"", setting ? setting : ""),
			 errhint("Available values: auto, float, int8.")));
	return CV_NET_ENGINE_FLOAT;	/* not reached */
}

/*
 * "name HxWxC" of the activation of a loaded net that is this tensor, for
 * the maps a detector would read (the name up to its first ';': converters
 * join the names of fused operators).
 */
static char *
DescribeTensor(const cv_net *net, int tensor)
{
	for (int a = 0; a < cv_net_num_activations(net); a++)
	{
		int			t,
					dims[4];
		const char *name;

		if (cv_net_activation(net, a, &t, dims, &name) && t == tensor)
			return psprintf("%.*s %dx%dx%d",
							name && *name ? (int) strcspn(name, ";") : 9,
							name && *name ? name : "(unnamed)", dims[1], dims[2], dims[3]);
	}
	return psprintf("tensor %d", tensor);
}

/*
 * Load a TFLite file and describe it; errors say what is wrong with it.
 *
 * A file whose last operators we do not run (the SSD detector ends with the
 * custom TFLite_Detection_PostProcess) is loaded up to them
 * (cv_net_options.prefix_only): cut_reason says why, it has no scores and
 * no classifier features, and what it offers is its feature maps.  The
 * classification and detection columns say what a domain of this file
 * supports: classifier features (cv_features_backbone_create) and the two
 * maps a detector reads (cv_detect_backbone_choose).
 */
PG_FUNCTION_INFO_V1(cv_backbone_inspect);
Datum
cv_backbone_inspect(PG_FUNCTION_ARGS)
{
	bytea	   *file = PG_GETARG_BYTEA_PP(0);
	const uint8_t *bytes = (const uint8_t *) VARDATA_ANY(file);
	size_t		len = VARSIZE_ANY_EXHDR(file);
	cv_net	   *net = NULL;
	cv_error	err;
	cv_error	cut;
	cv_status	st;
	const cv_net_info *info;
	const char *feature_name = NULL;
	int			maps[2];
	TupleDesc	tupdesc;
	Datum		values[13];
	bool		nulls[13] = {false};

	if (get_call_result_type(fcinfo, NULL, &tupdesc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "return type must be a row type");
	tupdesc = BlessTupleDesc(tupdesc);

	cv_error_clear(&cut);
	st = cv_net_load(bytes, len, &net, &cut);
	if (st == CV_ERR_UNSUPPORTED)
	{
		cv_net_options opt;

		memset(&opt, 0, sizeof(opt));
		opt.prefix_only = true;
		cv_error_clear(&err);
		if (cv_net_load_with(bytes, len, &opt, &net, &err) != CV_OK)
			CoreRaise(&cut, ERRCODE_INVALID_BINARY_REPRESENTATION);
	}
	else if (st != CV_OK)
		CoreRaise(&cut, ERRCODE_INVALID_BINARY_REPRESENTATION);

	PG_TRY();
	{
		info = cv_net_get_info(net);
		values[0] = Int32GetDatum(info->input_width);
		values[1] = Int32GetDatum(info->input_height);
		values[2] = Int32GetDatum(info->feature_dim);
		nulls[2] = info->feature_dim <= 0;
		values[3] = Int32GetDatum(info->num_outputs);
		nulls[3] = info->num_outputs <= 0;
		if (info->feature_dim > 0 && cv_net_feature_tensor(net, &feature_name) >= 0 && feature_name != NULL)
			values[4] = CStringGetTextDatum(feature_name);
		else
			nulls[4] = true;
		values[5] = Int64GetDatum((int64) info->weight_bytes);
		values[6] = Float8GetDatum(info->macs);
		values[7] = Float4GetDatum(info->input_scale);
		values[8] = Int32GetDatum(info->input_zero_point);
		values[9] = BoolGetDatum(info->feature_dim > 0);

		cv_error_clear(&err);
		st = cv_detect_backbone_choose(bytes, len, maps, &err);
		if (st == CV_OK)
		{
			values[10] = BoolGetDatum(true);
			values[12] = CStringGetTextDatum(psprintf("%s, %s", DescribeTensor(net, maps[0]),
													  DescribeTensor(net, maps[1])));
		}
		else if (st == CV_ERR_UNSUPPORTED)
		{
			values[10] = BoolGetDatum(false);
			nulls[12] = true;
		}
		else
			CoreRaise(&err, ERRCODE_INVALID_BINARY_REPRESENTATION);
		if (cut.code != CV_OK)
			values[11] = CStringGetTextDatum(cut.message);
		else
			nulls[11] = true;
	}
	PG_FINALLY();
	{
		cv_net_free(net);
	}
	PG_END_TRY();
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

	/*
	 * Labels, if the import gave them (copied out before SPI_finish); and
	 * whether the stored network runs to its scores at all.
	 */
	caller = CurrentMemoryContext;
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	{
		Oid			type = TEXTOID;
		Datum		arg = CStringGetTextDatum(name);
		bool		isnull;
		Datum		d;
		char	   *cut_reason = NULL;

		if (SPI_execute_with_args("SELECT labels, num_outputs IS NULL, cut_reason FROM cv_backbones WHERE domain = $1",
								  1, &type, &arg, NULL, true, 1) != SPI_OK_SELECT)
			elog(ERROR, "pgvision: could not read labels");
		if (SPI_processed == 1 &&
			DatumGetBool(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2, &isnull)))
		{
			char	   *reason = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 3);

			cut_reason = MemoryContextStrdup(caller, reason ? reason : "it is cut before its outputs");
		}
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
		if (cut_reason != NULL)
			ereport(ERROR,
					(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
					 errmsg("domain \"%s\" has no class scores of its own", name),
					 errdetail("Its network runs only up to its feature maps (%s).", cut_reason),
					 errhint("A detection project can use this domain: cv_create_project(..., task => 'detection', domain => '%s').",
							 name)));
	}
	fx = DomainGetExtractor(name, NULL);
	info = cv_net_get_info(cv_features_backbone_net(fx));

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
