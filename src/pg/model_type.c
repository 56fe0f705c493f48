/*
 * model_type.c
 *	  The cv_model type: the serialized bytes of a trained iteration
 *	  (src/core/model), checked on every way in, and cv_model_info.
 *
 * Input is parsed fully (magic, version, length, checksum, every count), so
 * a stored cv_model always parses.  Bad bytes are DATA_CORRUPTED: a model
 * comes from cv_train, so bytes that do not parse were damaged on the way.
 */
#include "pgvision.h"

#include "catalog/pg_type.h"
#include "funcapi.h"
#include "libpq/pqformat.h"
#include "utils/array.h"
#include "utils/builtins.h"

static bytea *
ModelFromBytes(const char *data, Size len)
{
	bytea	   *result;

	/* Parsing through the cache also warms it for the first prediction. */
	(void) ModelCacheGet((const uint8_t *) data, len);
	result = (bytea *) palloc(VARHDRSZ + len);
	SET_VARSIZE(result, VARHDRSZ + len);
	memcpy(VARDATA(result), data, len);
	return result;
}

/* Text input: a bytea literal. */
PG_FUNCTION_INFO_V1(cv_model_in);
Datum
cv_model_in(PG_FUNCTION_ARGS)
{
	char	   *str = PG_GETARG_CSTRING(0);
	bytea	   *bytes = DatumGetByteaPP(DirectFunctionCall1(byteain, CStringGetDatum(str)));

	PG_RETURN_BYTEA_P(ModelFromBytes(VARDATA_ANY(bytes), VARSIZE_ANY_EXHDR(bytes)));
}

/* Text output: a bytea literal. */
PG_FUNCTION_INFO_V1(cv_model_out);
Datum
cv_model_out(PG_FUNCTION_ARGS)
{
	return DirectFunctionCall1(byteaout, PG_GETARG_DATUM(0));
}

/* Binary input: the model bytes, checked. */
PG_FUNCTION_INFO_V1(cv_model_recv);
Datum
cv_model_recv(PG_FUNCTION_ARGS)
{
	StringInfo	buf = (StringInfo) PG_GETARG_POINTER(0);
	int			len = buf->len - buf->cursor;
	const char *data = pq_getmsgbytes(buf, len);

	PG_RETURN_BYTEA_P(ModelFromBytes(data, (Size) len));
}

/* Binary output: the model bytes. */
PG_FUNCTION_INFO_V1(cv_model_send);
Datum
cv_model_send(PG_FUNCTION_ARGS)
{
	return DirectFunctionCall1(byteasend, PG_GETARG_DATUM(0));
}

/* Cast bytea -> cv_model, checked. */
PG_FUNCTION_INFO_V1(cv_model_from_bytea);
Datum
cv_model_from_bytea(PG_FUNCTION_ARGS)
{
	bytea	   *bytes = PG_GETARG_BYTEA_PP(0);

	PG_RETURN_BYTEA_P(ModelFromBytes(VARDATA_ANY(bytes), VARSIZE_ANY_EXHDR(bytes)));
}

/* Cast cv_model -> bytea: the same bytes. */
PG_FUNCTION_INFO_V1(cv_model_to_bytea);
Datum
cv_model_to_bytea(PG_FUNCTION_ARGS)
{
	PG_RETURN_DATUM(PG_GETARG_DATUM(0));
}

static const char *
TaskName(cv_task task)
{
	return task == CV_TASK_DETECTION ? "detection" :
		task == CV_TASK_MULTILABEL ? "multilabel" : "multiclass";
}

/* What a model holds. */
PG_FUNCTION_INFO_V1(cv_model_info);
Datum
cv_model_info(PG_FUNCTION_ARGS)
{
	bytea	   *bytes = PG_GETARG_CV_MODEL_P(0);
	const cv_model *model = ModelCacheGet((const uint8_t *) VARDATA(bytes), VARSIZE(bytes) - VARHDRSZ);
	TupleDesc	tupdesc;
	Datum		values[7];
	bool		nulls[7] = {false};
	Datum	   *tags;

	if (get_call_result_type(fcinfo, NULL, &tupdesc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "return type must be a row type");
	tupdesc = BlessTupleDesc(tupdesc);

	tags = palloc(sizeof(Datum) * Max(model->n_tags, 1));
	for (int i = 0; i < model->n_tags; i++)
		tags[i] = CStringGetTextDatum(model->tag_names[i]);
	values[0] = CStringGetTextDatum(TaskName(model->task));
	values[1] = CStringGetTextDatum(model->domain);
	values[2] = PointerGetDatum(construct_array(tags, model->n_tags, TEXTOID, -1, false, TYPALIGN_INT));
	/* detection: the values per cell the adapter reads */
	values[3] = Int32GetDatum(model->head != NULL ? model->head->dim : model->detector->in_dim);
	values[4] = Int32GetDatum(model->input_width);
	values[5] = Int32GetDatum(model->input_height);
	values[6] = Float4GetDatum(model->threshold);
	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(tupdesc, values, nulls)));
}
