/*
 * train_worker.c
 *	  Training jobs in dynamic background workers, and the waiting form that
 *	  trains in the calling backend.
 *
 * A job is its row in cv_iteration_store.  cv_train inserts the row
 * ('queued') and launches a worker (RegisterDynamicBackgroundWorker: no
 * shared_preload_libraries needed).  The worker first waits for the
 * launching transaction to end: a job queued by a transaction that rolls
 * back never becomes visible, and the worker then finds nothing to do.
 * Then it claims queued jobs of its database one after another, oldest
 * first, while fewer than pgvision.max_training_workers trainings run, and
 * exits when there is none left or no slot is free (a running worker picks
 * the job up when it finishes its own).
 *
 * Identity: the worker connects as the bootstrap superuser, for the queue
 * alone (reaping, claiming, recording a failure, the advisory locks), and
 * trains each job as the owner of its project: SetUserIdAndSecContext with
 * SECURITY_RESTRICTED_OPERATION, as VACUUM and ANALYZE run index
 * expressions as the table's owner.  So the training reads and writes under
 * the owner's privileges and row security, whoever queued it (the owner or
 * a role the project is shared with for writing), and one worker serves the
 * jobs of every owner in its database, in queue order.  Connecting as the
 * owner instead would fail for an owner that cannot log in (a group role)
 * or is at its connection limit, and would leave other owners' jobs to wait
 * for a cv_train of theirs.
 *
 * Liveness: a training holds the advisory lock (TRAINING_LOCK_KEY,
 * iteration id) from before it claims the job until it has recorded the
 * outcome.  Locks vanish with their process, on SIGKILL and on restart, so
 * the cv_iterations view reports a 'training' row without a lock holder as
 * failed (or canceled), and cv_reap_iterations() records that.  Counting
 * those locks in pg_locks also counts running trainings across databases.
 */
#include "pgvision.h"

#include "access/xact.h"
#include "catalog/pg_type.h"
#include "utils/lsyscache.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "postmaster/bgworker.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "storage/lmgr.h"
#include "storage/proc.h"
#include "tcop/tcopprot.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/memutils.h"
#include "utils/snapmgr.h"
#include "utils/syscache.h"
#include "utils/timestamp.h"
#include "utils/wait_event.h"

int			pgvision_max_training_workers = 2;

/* What a worker needs to know, passed in bgw_extra. */
typedef struct TrainWorkerArgs
{
	Oid			database;
	TransactionId launcher_xid;	/* the transaction that queued the job */
} TrainWorkerArgs;

PGDLLEXPORT void pgvision_train_worker_main(Datum main_arg);

void
TrainSettingsInit(void)
{
	DefineCustomIntVariable("pgvision.max_training_workers",
							"Most trainings that run at once.",
							"Further iterations wait queued until a training ends.",
							&pgvision_max_training_workers,
							2, 1, 64,
							PGC_SUSET, 0,
							NULL, NULL, NULL);
	DefineCustomIntVariable("pgvision.training_threads",
							"Threads the matrix products of a detector's training may use.",
							"Training a detector is mostly matrix products on the cached feature maps; "
							"prediction keeps pgvision.threads.",
							&pgvision_training_threads,
							2, 1, 64,
							PGC_SUSET, 0,
							NULL, NULL, NULL);
}

/* ---- helpers shared by both forms ---- */

/*
 * Trainings running in other backends.  This backend's own locks never
 * count: when it asks, it is not training (a waiting cv_train trains only
 * after asking, a worker has released its last job's lock), but a waiting
 * cv_train that has finished keeps its transaction-level lock until commit,
 * and counting it made the next waiting cv_train of the same transaction
 * wait for itself forever.
 */
static int64
RunningTrainings(void)
{
	bool		isnull;
	Datum		d;

	if (SPI_execute("SELECT count(*) FROM pg_catalog.pg_locks WHERE locktype = 'advisory' AND granted "
					"AND classid = " CppAsString2(TRAINING_LOCK_KEY) " AND objsubid = 2 AND objid <> 0 "
					"AND pid <> pg_catalog.pg_backend_pid()",
					true, 0) != SPI_OK_SELECT)
		elog(ERROR, "pgvision: could not count running trainings");
	d = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);
	return DatumGetInt64(d);
}

static void
AdvisoryLock(const char *function, int64 iteration_id)
{
	char		sql[160];

	snprintf(sql, sizeof(sql), "SELECT pg_catalog.%s(%d, %d)", function, TRAINING_LOCK_KEY,
			 (int) (iteration_id % INT64CONST(2147483648)));
	if (SPI_execute(sql, false, 0) != SPI_OK_SELECT)
		elog(ERROR, "pgvision: %s failed", function);
}

/* ---- launching ---- */

/* cv_train_launch(iteration_id): start a worker for this database. */
PG_FUNCTION_INFO_V1(cv_train_launch);
Datum
cv_train_launch(PG_FUNCTION_ARGS)
{
	int64		iteration_id = PG_GETARG_INT64(0);
	BackgroundWorker worker;
	BackgroundWorkerHandle *handle;
	TrainWorkerArgs args;

	memset(&worker, 0, sizeof(worker));
	worker.bgw_flags = BGWORKER_SHMEM_ACCESS | BGWORKER_BACKEND_DATABASE_CONNECTION;
	worker.bgw_start_time = BgWorkerStart_RecoveryFinished;
	worker.bgw_restart_time = BGW_NEVER_RESTART;
	strlcpy(worker.bgw_library_name, "pgvision", BGW_MAXLEN);
	strlcpy(worker.bgw_function_name, "pgvision_train_worker_main", BGW_MAXLEN);
	snprintf(worker.bgw_name, BGW_MAXLEN, "pgvision training worker (iteration " INT64_FORMAT ")", iteration_id);
	strlcpy(worker.bgw_type, "pgvision training worker", BGW_MAXLEN);
	worker.bgw_main_arg = Int64GetDatum(iteration_id);
	worker.bgw_notify_pid = 0;
	args.database = MyDatabaseId;
	args.launcher_xid = GetTopTransactionId();
	memcpy(worker.bgw_extra, &args, sizeof(args));

	if (!RegisterDynamicBackgroundWorker(&worker, &handle))
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_RESOURCES),
				 errmsg("could not start a pgvision training worker"),
				 errdetail("Every background worker slot is in use."),
				 errhint("Raise max_worker_processes, or train with cv_train(project, wait => true).")));
	PG_RETURN_VOID();
}

/* ---- the worker ---- */

static void
WorkerStepBegin(void)
{
	SetCurrentStatementStartTimestamp();
	StartTransactionCommand();
	PushActiveSnapshot(GetTransactionSnapshot());
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
}

static void
WorkerStepEnd(void)
{
	SPI_finish();
	PopActiveSnapshot();
	CommitTransactionCommand();
}

/*
 * Claim the oldest queued job if a slot is free: returns its id, or 0, and
 * the owner of its project.  The claim takes the job's lock first, so from
 * the moment the row says 'training' someone holds it.
 */
static int64
ClaimNextJob(Oid *owner)
{
	int64		id = 0;

	WorkerStepBegin();
	/* One claimer at a time per database (key 2 = 0 is never a job). */
	AdvisoryLock("pg_advisory_xact_lock", 0);
	SPI_execute("SELECT cv_reap_iterations()", false, 0);
	if (RunningTrainings() < pgvision_max_training_workers &&
		SPI_execute("SELECT s.id, p.owner FROM cv_iteration_store s JOIN cv_projects p ON p.id = s.project_id "
					"WHERE s.status = 'queued' ORDER BY s.id LIMIT 1 FOR UPDATE OF s SKIP LOCKED",
					false, 0) == SPI_OK_SELECT &&
		SPI_processed == 1)
	{
		bool		isnull;
		Oid			types[3] = {INT8OID, INT4OID, TIMESTAMPTZOID};
		Datum		values[3];

		id = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
		*owner = DatumGetObjectId(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2, &isnull));
		AdvisoryLock("pg_advisory_lock", id);
		values[0] = Int64GetDatum(id);
		values[1] = Int32GetDatum(MyProcPid);
		/* the time as a parameter: Citus refuses volatile functions in an
		 * UPDATE of a reference table (docs/scale-out.md, section 6) */
		values[2] = TimestampTzGetDatum(GetCurrentTimestamp());
		if (SPI_execute_with_args("UPDATE cv_iteration_store SET status = 'training', progress = 0, "
								  "started_at = $3, worker_pid = $2 WHERE id = $1",
								  3, types, values, NULL, false, 0) != SPI_OK_UPDATE)
			elog(ERROR, "pgvision: could not claim iteration " INT64_FORMAT, id);
	}
	WorkerStepEnd();
	return id;
}

static void
RecordFailure(int64 id, bool canceled, const char *message)
{
	Oid			types[4] = {INT8OID, TEXTOID, TEXTOID, TIMESTAMPTZOID};
	Datum		values[4];

	WorkerStepBegin();
	values[0] = Int64GetDatum(id);
	values[1] = CStringGetTextDatum(canceled ? "canceled" : "failed");
	values[2] = CStringGetTextDatum(message);
	values[3] = TimestampTzGetDatum(GetCurrentTimestamp());	/* not clock_timestamp(): Citus */
	SPI_execute_with_args("UPDATE cv_iteration_store SET status = $2, message = $3, "
						  "finished_at = $4 WHERE id = $1 AND status = 'training'",
						  4, types, values, NULL, false, 0);
	WorkerStepEnd();
}

static void
ReleaseJob(int64 id)
{
	WorkerStepBegin();
	AdvisoryLock("pg_advisory_unlock", id);
	WorkerStepEnd();
}

/*
 * Train one claimed job as the owner of its project; record a failure or a
 * cancel instead of exiting.
 */
static void
RunClaimedJob(int64 id, Oid owner)
{
	MemoryContext context = CurrentMemoryContext;
	Oid			queue_user;
	int			queue_context;
	char	   *owner_name = NULL;

	GetUserIdAndSecContext(&queue_user, &queue_context);
	StartTransactionCommand();
	if (SearchSysCacheExists1(AUTHOID, ObjectIdGetDatum(owner)))
		owner_name = MemoryContextStrdup(context, GetUserNameFromId(owner, false));
	CommitTransactionCommand();
	MemoryContextSwitchTo(context);
	if (owner_name == NULL)
	{
		/* DROP ROLE does not know about projects: an orphan cannot train. */
		char		message[128];

		snprintf(message, sizeof(message),
				 "the owner of the project, role with OID %u, no longer exists", owner);
		RecordFailure(id, false, message);
		elog(LOG, "pgvision: iteration " INT64_FORMAT " ended: %s", id, message);
		ReleaseJob(id);
		return;
	}

	elog(LOG, "pgvision: training iteration " INT64_FORMAT " as role \"%s\"", id, owner_name);
	PG_TRY();
	{
		/*
		 * Each transaction of the training starts, and an abort returns to,
		 * the owner's identity set here.
		 */
		SetUserIdAndSecContext(owner, queue_context | SECURITY_RESTRICTED_OPERATION);
		TrainIteration(id, true);
		SetUserIdAndSecContext(queue_user, queue_context);
	}
	PG_CATCH();
	{
		ErrorData  *edata;

		MemoryContextSwitchTo(context);
		edata = CopyErrorData();
		FlushErrorState();
		AbortCurrentTransaction();
		SetUserIdAndSecContext(queue_user, queue_context);
		/* A cancel request comes back as QUERY_CANCELED from the trainer. */
		RecordFailure(id, edata->sqlerrcode == ERRCODE_QUERY_CANCELED, edata->message);
		elog(LOG, "pgvision: iteration " INT64_FORMAT " ended: %s", id, edata->message);
		FreeErrorData(edata);
	}
	PG_END_TRY();
	ReleaseJob(id);
}

void
pgvision_train_worker_main(Datum main_arg)
{
	TrainWorkerArgs args;
	int64		id;
	Oid			owner = InvalidOid;

	pqsignal(SIGTERM, die);
	BackgroundWorkerUnblockSignals();
	memcpy(&args, MyBgworkerEntry->bgw_extra, sizeof(args));
	/* The bootstrap superuser for the queue; each job as its owner. */
	BackgroundWorkerInitializeConnectionByOid(args.database, InvalidOid, 0);
	pgstat_report_appname("pgvision training worker");

	/*
	 * Wait until the transaction that queued the job has committed or not,
	 * and put the extension's schema on the search path for our queries.
	 */
	StartTransactionCommand();
	XactLockTableWait(args.launcher_xid, NULL, NULL, XLTW_None);
	PushActiveSnapshot(GetTransactionSnapshot());
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	if (SPI_execute("SELECT n.nspname FROM pg_catalog.pg_extension e "
					"JOIN pg_catalog.pg_namespace n ON n.oid = e.extnamespace "
					"WHERE e.extname = 'pgvision'", true, 0) != SPI_OK_SELECT)
		elog(ERROR, "pgvision: could not find the extension's schema");
	if (SPI_processed != 1)
		proc_exit(0);			/* dropped meanwhile: nothing to train */
	SetConfigOption("search_path",
					quote_identifier(SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1)),
					PGC_USERSET, PGC_S_SESSION);
	SPI_finish();
	PopActiveSnapshot();
	CommitTransactionCommand();

	while ((id = ClaimNextJob(&owner)) != 0)
	{
		CHECK_FOR_INTERRUPTS();
		RunClaimedJob(id, owner);
	}
	proc_exit(0);
}

/* ---- the waiting form ---- */

/*
 * cv_train_run(iteration_id): train a queued iteration in this backend and
 * transaction, once a slot is free.  Errors propagate to the caller.
 */
PG_FUNCTION_INFO_V1(cv_train_run);
Datum
cv_train_run(PG_FUNCTION_ARGS)
{
	int64		id = PG_GETARG_INT64(0);
	Oid			types[3] = {INT8OID, INT4OID, TIMESTAMPTZOID};
	Datum		values[3];

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");

	/*
	 * An iteration this role cannot see or change gets the errors of the
	 * other iteration functions (42704, 42501), before any wait for a slot.
	 */
	values[0] = Int64GetDatum(id);
	if (SPI_execute_with_args("SELECT cv_iteration_project($1, 'write')", 1, types, values, NULL,
							  true, 0) != SPI_OK_SELECT)
		elog(ERROR, "pgvision: could not read iteration");
	while (RunningTrainings() >= pgvision_max_training_workers)
	{
		(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH, 200,
						 PG_WAIT_EXTENSION);
		ResetLatch(MyLatch);
		CHECK_FOR_INTERRUPTS();
	}
	AdvisoryLock("pg_advisory_xact_lock", id);
	values[0] = Int64GetDatum(id);
	values[1] = Int32GetDatum(MyProcPid);
	values[2] = TimestampTzGetDatum(GetCurrentTimestamp());	/* a parameter for Citus */
	if (SPI_execute_with_args("UPDATE cv_iteration_store SET status = 'training', progress = 0, "
							  "started_at = $3, worker_pid = $2 WHERE id = $1 AND status = 'queued'",
							  3, types, values, NULL, false, 0) != SPI_OK_UPDATE || SPI_processed != 1)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("iteration " INT64_FORMAT " is not queued", id)));
	SPI_finish();
	TrainIteration(id, false);
	PG_RETURN_VOID();
}
