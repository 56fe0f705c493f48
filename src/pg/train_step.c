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
#include "utils/snapmgr.h"

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
