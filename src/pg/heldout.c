/*
 * heldout.c
 *	  Reading back what a completed iteration stored of its held-out
 *	  evaluation: cv_iteration_tags, cv_heldout_predictions (classification)
 *	  and cv_heldout_regions (detection).  See heldout.h.
 */
#include "heldout.h"

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "utils/array.h"
#include "utils/builtins.h"

void
HeldoutIterationGet(int64 iteration, const char *what, HeldoutIteration *out)
{
	Oid			types[1] = {INT8OID};
	Datum		values[1] = {Int64GetDatum(iteration)};
	bool		isnull;
	char	   *status,
			   *task;

	if (SPI_execute_with_args("SELECT status, threshold, task, image_count FROM cv_iterations WHERE id = $1",
							  1, types, values, NULL, true, 0) != SPI_OK_SELECT)
		elog(ERROR, "pgvision: could not read iteration");
	if (SPI_processed != 1)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("iteration " INT64_FORMAT " does not exist", iteration)));
	status = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1);
	if (strcmp(status, "completed") != 0)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("iteration " INT64_FORMAT " is %s; %s exists for completed iterations",
						iteration, status, what)));
	out->threshold = DatumGetFloat4(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2,
												  &isnull));
	task = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 3);
	out->task = strcmp(task, "detection") == 0 ? CV_TASK_DETECTION
		: strcmp(task, "multilabel") == 0 ? CV_TASK_MULTILABEL : CV_TASK_MULTICLASS;
	out->image_count = DatumGetInt32(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 4,
												   &isnull));
	if (isnull)
		out->image_count = 0;
}

void
HeldoutTagsGet(int64 iteration, MemoryContext mcx, HeldoutTags *out)
{
	Oid			types[1] = {INT8OID};
	Datum		values[1] = {Int64GetDatum(iteration)};
	bool		isnull;
	int			n;

	if (SPI_execute_with_args("SELECT name, negative, image_count FROM cv_iteration_tags "
							  "WHERE iteration_id = $1 ORDER BY position",
							  1, types, values, NULL, true, 0) != SPI_OK_SELECT)
		elog(ERROR, "pgvision: could not read iteration tags");
	n = (int) SPI_processed;
	out->n_tags = n;
	out->names = MemoryContextAlloc(mcx, sizeof(char *) * Max(n, 1));
	out->negative = MemoryContextAlloc(mcx, sizeof(bool) * Max(n, 1));
	out->image_counts = MemoryContextAlloc(mcx, sizeof(int) * Max(n, 1));
	for (int t = 0; t < n; t++)
	{
		HeapTuple	row = SPI_tuptable->vals[t];
		Datum		count;

		out->names[t] = MemoryContextStrdup(mcx, SPI_getvalue(row, SPI_tuptable->tupdesc, 1));
		out->negative[t] = DatumGetBool(SPI_getbinval(row, SPI_tuptable->tupdesc, 2, &isnull));
		count = SPI_getbinval(row, SPI_tuptable->tupdesc, 3, &isnull);
		out->image_counts[t] = isnull ? 0 : DatumGetInt32(count);
	}
}

int
HeldoutTagIndex(const HeldoutTags *tags, const char *name)
{
	for (int t = 0; t < tags->n_tags; t++)
		if (strcmp(tags->names[t], name) == 0)
			return t;
	return -1;
}

void
HeldoutPredictionsGet(int64 iteration, int n_tags, MemoryContext mcx, HeldoutPredictions *out)
{
	Oid			types[1] = {INT8OID};
	Datum		values[1] = {Int64GetDatum(iteration)};
	bool		isnull;
	int			n;

	if (SPI_execute_with_args("SELECT labels, probabilities FROM cv_heldout_predictions "
							  "WHERE iteration_id = $1 ORDER BY image_id",
							  1, types, values, NULL, true, 0) != SPI_OK_SELECT)
		elog(ERROR, "pgvision: could not read held-out predictions");
	n = (int) SPI_processed;
	out->n_images = n;
	out->probs = MemoryContextAlloc(mcx, mul_size(sizeof(float), mul_size(Max(n, 1), Max(n_tags, 1))));
	out->labels = MemoryContextAlloc(mcx, mul_size(Max(n, 1), Max(n_tags, 1)));
	for (int i = 0; i < n; i++)
	{
		HeapTuple	row = SPI_tuptable->vals[i];
		ArrayType  *l = DatumGetArrayTypeP(SPI_getbinval(row, SPI_tuptable->tupdesc, 1, &isnull));
		ArrayType  *p = DatumGetArrayTypeP(SPI_getbinval(row, SPI_tuptable->tupdesc, 2, &isnull));
		Datum	   *ld,
				   *pd;
		int			nl,
					np;

		deconstruct_array(l, BOOLOID, 1, true, TYPALIGN_CHAR, &ld, NULL, &nl);
		deconstruct_array(p, FLOAT4OID, 4, true, TYPALIGN_INT, &pd, NULL, &np);
		if (nl != n_tags || np != n_tags)
			ereport(ERROR,
					(errcode(ERRCODE_DATA_CORRUPTED),
					 errmsg("held-out predictions of iteration " INT64_FORMAT " do not match its %d tags",
							iteration, n_tags)));
		for (int t = 0; t < n_tags; t++)
		{
			out->labels[(Size) i * n_tags + t] = DatumGetBool(ld[t]) ? 1 : 0;
			out->probs[(Size) i * n_tags + t] = DatumGetFloat4(pd[t]);
		}
	}
}

void
HeldoutRegionsGet(int64 iteration, int n_tags, MemoryContext mcx, HeldoutRegions *out)
{
	Oid			types[1] = {INT8OID};
	Datum		values[1] = {Int64GetDatum(iteration)};
	bool		isnull;
	int			n_rows;
	int64		last_image = -1;

	if (SPI_execute_with_args("SELECT image_id, position, truth, probability, \"left\", top, width, height "
							  "FROM cv_heldout_regions WHERE iteration_id = $1 ORDER BY image_id",
							  1, types, values, NULL, true, 0) != SPI_OK_SELECT)
		elog(ERROR, "pgvision: could not read held-out regions");
	n_rows = (int) SPI_processed;
	memset(out, 0, sizeof(*out));
	out->truths = MemoryContextAllocHuge(mcx, sizeof(cv_truth_box) * Max(n_rows, 1));
	out->dets = MemoryContextAllocHuge(mcx, sizeof(cv_image_detection) * Max(n_rows, 1));
	for (int r = 0; r < n_rows; r++)
	{
		HeapTuple	row = SPI_tuptable->vals[r];
		TupleDesc	desc = SPI_tuptable->tupdesc;
		int64		image = DatumGetInt64(SPI_getbinval(row, desc, 1, &isnull));
		int			tag = DatumGetInt32(SPI_getbinval(row, desc, 2, &isnull));
		bool		truth = DatumGetBool(SPI_getbinval(row, desc, 3, &isnull));
		cv_box		b;

		if (tag < 0 || tag >= n_tags)
			ereport(ERROR,
					(errcode(ERRCODE_DATA_CORRUPTED),
					 errmsg("held-out regions of iteration " INT64_FORMAT " name tag %d of %d",
							iteration, tag, n_tags)));
		if (image != last_image)
		{
			out->n_images++;
			last_image = image;
		}
		b.left = DatumGetFloat4(SPI_getbinval(row, desc, 5, &isnull));
		b.top = DatumGetFloat4(SPI_getbinval(row, desc, 6, &isnull));
		b.width = DatumGetFloat4(SPI_getbinval(row, desc, 7, &isnull));
		b.height = DatumGetFloat4(SPI_getbinval(row, desc, 8, &isnull));
		if (truth)
		{
			out->truths[out->n_truths].image = out->n_images - 1;
			out->truths[out->n_truths].tag = tag;
			out->truths[out->n_truths].box = b;
			out->n_truths++;
		}
		else
		{
			out->dets[out->n_dets].image = out->n_images - 1;
			out->dets[out->n_dets].det.tag = tag;
			out->dets[out->n_dets].det.score = DatumGetFloat4(SPI_getbinval(row, desc, 4, &isnull));
			out->dets[out->n_dets].det.box = b;
			out->n_dets++;
		}
	}
}
