/*
 * train_job.h
 *	  What every kind of training shares in the binding: the short
 *	  transactions a worker runs each step in, SPI around them, progress
 *	  reports that also read the cancel flag, and the cancel error.
 *
 * A background worker (own_transactions) commits each step on its own, so
 * features computed so far survive a failure and progress is visible while
 * it runs; the waiting form of cv_train runs inside the caller's
 * transaction (the iteration row is not visible to anyone else yet).
 * train_job.c trains classifiers, train_detect.c detectors.
 */
#ifndef PGVISION_TRAIN_JOB_H
#define PGVISION_TRAIN_JOB_H

#include "portability/instr_time.h"

typedef struct TrainRun
{
	int64		iteration_id;
	bool		own_transactions;
	MemoryContext context;		/* the job's memory: outlives the steps */
	instr_time	last_report;
	bool		canceled;
	int			engine;			/* cv_net_engine of new features (LoadJob) */
} TrainRun;

extern void TrainRunInit(TrainRun *run, int64 iteration_id, bool own_transactions,
						 MemoryContext context);

/* A step: a transaction of its own in a worker, and SPI connected. */
extern void TrainStepBegin(TrainRun *run, const char *what);
extern void TrainStepEnd(TrainRun *run);

/* SPI_execute_with_args that errors unless it returns expected. */
extern void TrainExecute(const char *sql, int nargs, Oid *types, Datum *values, int expected);

/*
 * Record progress (0..1); in a worker also read the cancel flag.
 * Rate-limited unless force.  Returns false once a cancel was asked for.
 */
extern bool TrainReportProgress(TrainRun *run, double fraction, bool force);

extern void TrainRaiseCanceled(void) pg_attribute_noreturn();

/*
 * Inside a step: the rows (id, image) of the images with these ids, in id
 * order (deleted ones are missing).  The result stays valid while further
 * queries run in the same step; TrainFetchedImage reads row r.
 */
struct SPITupleTable;
extern struct SPITupleTable *TrainFetchImages(const int64 *ids, int n, uint64 *n_rows);
extern int64 TrainFetchedImage(struct SPITupleTable *rows, uint64 r, CvImage **image);

/* The figures of a completed iteration, as cv_iteration_store holds them. */
typedef struct TrainOutcome
{
	int			image_count;
	int			tag_count;
	int			folds;
	double		precision;
	double		recall;
	double		mean_ap;
	float		threshold;
} TrainOutcome;

/* A model's bytes as a cv_model datum (errors out on a core failure). */
extern bytea *TrainModelDatum(const cv_model *model);

/* Inside a step: record the iteration completed with its model and figures. */
extern void TrainStoreCompleted(TrainRun *run, bytea *model, const TrainOutcome *o);

/* train_detect.c: the detection training of an iteration (run loaded). */
extern void TrainDetection(TrainRun *run, int64 project_id, const char *domain);

#endif							/* PGVISION_TRAIN_JOB_H */
