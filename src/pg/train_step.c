/*
 * train_step.c
 *	  The step bracket, progress and cancel of a training (train_job.h).
 */
#include "pgvision.h"
#include "train_job.h"

#include "access/xact.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "storage/ipc.h"
#include "storage/pmsignal.h"
#include "utils/array.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"

/* Least time between two progress writes. */
#define PROGRESS_INTERVAL_MS 250

void
TrainRunInit(TrainRun *run, int64 iteration_id, bool own_transactions, MemoryContext context)
{
	run->iteration_id = iteration_id;
	run->own_transactions = own_transactions;
	run->context = context;
	run->canceled = false;
	INSTR_TIME_SET_CURRENT(run->last_report);
}

void
TrainStepBegin(TrainRun *run, const char *what)
{
	if (run->own_transactions)
	{
		SetCurrentStatementStartTimestamp();
		StartTransactionCommand();
		PushActiveSnapshot(GetTransactionSnapshot());
		pgstat_report_activity(STATE_RUNNING, what);
	}
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
}

void
TrainStepEnd(TrainRun *run)
{
	SPI_finish();
	if (run->own_transactions)
	{
		/*
		 * Nor does it commit after its postmaster died: a training killed
		 * that way ends failed, as the new server says of it, even when its
		 * last step was already under way (TAP 009 caught a compact training
		 * storing its iteration 70 ms after a postmaster kill).
		 */
		if (!PostmasterIsAlive())
			proc_exit(1);
		PopActiveSnapshot();
		CommitTransactionCommand();
		pgstat_report_activity(STATE_IDLE, NULL);
	}
	MemoryContextSwitchTo(run->context);
}

void
TrainExecute(const char *sql, int nargs, Oid *types, Datum *values, int expected)
{
	int			rc = SPI_execute_with_args(sql, nargs, types, values, NULL, false, 0);

	if (rc != expected)
		elog(ERROR, "pgvision: SPI failed (%d) on: %s", rc, sql);
}

bool
TrainReportProgress(TrainRun *run, double fraction, bool force)
{
	instr_time	now;
	Oid			types[2] = {INT8OID, FLOAT4OID};
	Datum		values[2];

	/*
	 * No training outlives its postmaster.  PostgreSQL's processes leave as
	 * soon as they find it gone (WL_EXIT_ON_PM_DEATH), and a new postmaster
	 * refuses to start while an old process still holds the shared memory;
	 * but a training computes without waiting on a latch, so it would train
	 * on to the end and hold the restart up that long (TAP 009 saw it).
	 */
	if (!PostmasterIsAlive())
		proc_exit(1);
	CHECK_FOR_INTERRUPTS();
	INSTR_TIME_SET_CURRENT(now);
	INSTR_TIME_SUBTRACT(now, run->last_report);
	if (!force && INSTR_TIME_GET_MILLISEC(now) < PROGRESS_INTERVAL_MS)
		return !run->canceled;
	INSTR_TIME_SET_CURRENT(run->last_report);
	if (!run->own_transactions)
		return true;			/* nobody else can see the row yet */

	TrainStepBegin(run, "pgvision: training progress");
	values[0] = Int64GetDatum(run->iteration_id);
	values[1] = Float4GetDatum((float4) Min(Max(fraction, 0.0), 1.0));
	TrainExecute("UPDATE cv_iteration_store SET progress = $2 WHERE id = $1 RETURNING cancel_requested",
				 2, types, values, SPI_OK_UPDATE_RETURNING);
	if (SPI_processed == 1)
	{
		bool		isnull;
		Datum		d = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);

		run->canceled = !isnull && DatumGetBool(d);
	}
	TrainStepEnd(run);
	return !run->canceled;
}

void
TrainRaiseCanceled(void)
{
	ereport(ERROR,
			(errcode(ERRCODE_QUERY_CANCELED),
			 errmsg("training canceled by cv_cancel_training")));
}

SPITupleTable *
TrainFetchImages(const int64 *ids, int n, uint64 *n_rows)
{
	Datum	   *d = palloc(sizeof(Datum) * Max(n, 1));
	Oid			types[1] = {INT8ARRAYOID};
	Datum		values[1];

	for (int k = 0; k < n; k++)
		d[k] = Int64GetDatum(ids[k]);
	values[0] = PointerGetDatum(construct_array(d, n, INT8OID, 8, true, TYPALIGN_DOUBLE));
	TrainExecute("SELECT id, image FROM cv_images WHERE id = ANY ($1) ORDER BY id",
				 1, types, values, SPI_OK_SELECT);
	*n_rows = SPI_processed;
	return SPI_tuptable;
}

int64
TrainFetchedImage(SPITupleTable *rows, uint64 r, CvImage **image)
{
	bool		isnull;

	*image = DatumGetCvImageP(SPI_getbinval(rows->vals[r], rows->tupdesc, 2, &isnull));
	return DatumGetInt64(SPI_getbinval(rows->vals[r], rows->tupdesc, 1, &isnull));
}

bytea *
TrainModelDatum(const cv_model *model)
{
	uint8_t    *bytes = NULL;
	size_t		len = 0;
	cv_error	err;
	bytea	   *datum;

	cv_error_clear(&err);
	if (cv_model_serialize(model, &bytes, &len, &err) != CV_OK)
		CoreRaise(&err, ERRCODE_DATA_EXCEPTION);
	datum = palloc(VARHDRSZ + len);
	SET_VARSIZE(datum, VARHDRSZ + len);
	memcpy(VARDATA(datum), bytes, len);
	cv_free(bytes);
	return datum;
}

void
TrainStoreCompleted(TrainRun *run, bytea *model, const TrainOutcome *o)
{
	Oid			types[10] = {INT8OID, BYTEAOID, INT4OID, INT4OID, FLOAT4OID, FLOAT4OID, FLOAT4OID, INT4OID, FLOAT4OID,
		TIMESTAMPTZOID};
	Datum		values[10];

	values[0] = Int64GetDatum(run->iteration_id);
	values[1] = PointerGetDatum(model);
	values[2] = Int32GetDatum(o->image_count);
	values[3] = Int32GetDatum(o->tag_count);
	values[4] = Float4GetDatum((float4) o->precision);
	values[5] = Float4GetDatum((float4) o->recall);
	values[6] = Float4GetDatum((float4) o->mean_ap);
	values[7] = Int32GetDatum(o->folds);
	values[8] = Float4GetDatum(o->threshold);
	/* the time as a parameter: Citus refuses volatile functions in an
	 * UPDATE of a reference table (docs/scale-out.md, section 6) */
	values[9] = TimestampTzGetDatum(GetCurrentTimestamp());
	TrainExecute("UPDATE cv_iteration_store SET status = 'completed', progress = 1, message = NULL, "
				 "model = $2::cv_model, image_count = $3, tag_count = $4, \"precision\" = $5, recall = $6, "
				 "mean_ap = $7, folds = $8, threshold = $9, finished_at = $10 WHERE id = $1",
				 10, types, values, SPI_OK_UPDATE);
}
