/*
 * task.h
 *	  The kind of classification a project does, shared by the heads, the
 *	  trainer, the metrics and the model format.
 *
 * multiclass: one answer per image; a softmax over all tags, the negative
 *	 tag included (it is an ordinary class meaning "none of the others").
 * multilabel: an independent sigmoid per non-negative tag; images carrying
 *	 the negative tag are all-zero targets.  The negative tag's column in a
 *	 probability row is derived, not learnt: the probability that none of the
 *	 tags applies, prod_k (1 - p_k).
 *
 * detection: boxes with a tag and a probability each (src/core/detect); a
 *	 detection model has a detector instead of a head.
 *
 * The numeric values are stored in cv_model bytes: never renumber.
 */
#ifndef CV_LEARN_TASK_H
#define CV_LEARN_TASK_H

#include "../common/cv_common.h"

typedef enum cv_task
{
	CV_TASK_MULTICLASS = 1,
	CV_TASK_MULTILABEL = 2,
	CV_TASK_DETECTION = 3		/* boxes (src/core/detect), no classification head */
} cv_task;

/* Progress report: fraction in 0..1; return false to ask the work to stop. */
typedef bool (*cv_progress_fn) (void *arg, double fraction);

#endif							/* CV_LEARN_TASK_H */
