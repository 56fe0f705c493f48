/*
 * heldout.h
 *	  The held-out results a completed iteration stored, read back for the
 *	  figures computed from them (cv_performance, cv_pr_curve).
 *
 * Every function runs inside SPI (the caller connects and finishes) and
 * allocates its results in the memory context given, which must outlive
 * SPI_finish.
 */
#ifndef PGVISION_HELDOUT_H
#define PGVISION_HELDOUT_H

#include "pgvision.h"

#include "detect/detect_metrics.h"
#include "learn/metrics.h"

/* What cv_iterations says of a completed iteration (errors out otherwise). */
typedef struct HeldoutIteration
{
	cv_task		task;
	float		threshold;		/* the model's default threshold */
	int			image_count;	/* images trained on */
} HeldoutIteration;

/* undefined_object if it does not exist, 55000 unless completed. */
extern void HeldoutIterationGet(int64 iteration, const char *what, HeldoutIteration *out);

typedef struct HeldoutTags
{
	int			n_tags;
	char	  **names;			/* in model order */
	bool	   *negative;
	int		   *image_counts;	/* images labelled with each tag */
} HeldoutTags;

extern void HeldoutTagsGet(int64 iteration, MemoryContext mcx, HeldoutTags *out);

/* The index of a tag by name, or -1. */
extern int	HeldoutTagIndex(const HeldoutTags *tags, const char *name);

/* Classification: every held-out image's probabilities and labels. */
typedef struct HeldoutPredictions
{
	int			n_images;
	float	   *probs;			/* n_images x n_tags */
	uint8_t    *labels;			/* n_images x n_tags, 0 or 1 */
} HeldoutPredictions;

extern void HeldoutPredictionsGet(int64 iteration, int n_tags, MemoryContext mcx,
								  HeldoutPredictions *out);

/* Detection: the true boxes and the detections of the held-out images. */
typedef struct HeldoutRegions
{
	int			n_images;
	int			n_truths;
	int			n_dets;
	cv_truth_box *truths;
	cv_image_detection *dets;
} HeldoutRegions;

extern void HeldoutRegionsGet(int64 iteration, int n_tags, MemoryContext mcx,
							  HeldoutRegions *out);

#endif							/* PGVISION_HELDOUT_H */
