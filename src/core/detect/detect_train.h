/*
 * detect_train.h
 *	  Training a detector (detector.h) on cached feature maps: target
 *	  assignment, the losses, the optimiser, held-out detections by k-fold
 *	  cross-validation, score calibration, then the final detector on every
 *	  image.
 *
 * The user sets nothing.  Steps:
 *	 1. targets: each view's boxes (cv_detect_view_boxes) are assigned to the
 *		stride-16 cells whose centres lie inside the box and within
 *		CV_DETECT_CENTRE_RADIUS cells of its centre (FCOS centre sampling; a
 *		cell inside several boxes takes the smallest); a box that no cell
 *		centre falls in takes the cell under its centre.  Other cells are
 *		background.
 *	 2. losses per cell: sigmoid focal loss on the class logits (alpha 0.25,
 *		gamma 2, RetinaNet's), summed over the tags and divided by the
 *		positive cells; on positive cells, L1 loss on the 4 box codes
 *		weighted by the centre-ness target, and binary cross-entropy of the
 *		centre-ness logit against its target sqrt(min(l,r)/max(l,r) *
 *		min(t,b)/max(t,b)).  Background cells are subsampled (a quarter per
 *		step, weighted 4 so the loss is unbiased).
 *	 3. optimiser: Adam, mini-batches of CV_DETECT_BATCH views, a linear
 *		warm-up then cosine decay of the learning rate, decoupled weight
 *		decay; the number of steps follows the number of views (30 passes,
 *		300 to 1000 steps).
 *	 4. folds: k = 3 (2 below 9 images), images dealt round-robin in the
 *		order of their first tag; for each fold a detector is trained on the
 *		other folds and detects on the fold's images (view 0 averaged with
 *		its mirror, view 1, as cv_detect_image does).
 *	 5. calibration: a logistic regression of "is a true positive at IoU
 *		0.5" on logit(score) of the held-out detections gives the final
 *		detector's calib_a, calib_b (a kept positive), raised where it would
 *		stay under 0.5 above the score at which the held-out detections'
 *		isotonic rate of being right falls under one half; the held-out
 *		detections are reported with the calibrated probabilities.
 *	 6. the final detector is trained on every image.
 * Progress and cancel as train.h has them.  Deterministic: same data and
 * options, same detector bits (OpenBLAS threads may change the last bits).
 */
#ifndef CV_DETECT_TRAIN_H
#define CV_DETECT_TRAIN_H

#include "../learn/task.h"
#include "detect_metrics.h"
#include "detector.h"

#define CV_DETECT_CENTRE_RADIUS 2.0f
#define CV_DETECT_BATCH 8
#define CV_DETECT_HIDDEN 256
/* decoupled weight decay (AdamW) and dropout of the adapter's inputs */
#define CV_DETECT_WEIGHT_DECAY 1e-4f
#define CV_DETECT_INPUT_DROPOUT 0.0f
/* Held-out detections kept per image, and the least probability kept. */
#define CV_DETECT_HOLDOUT_MAX 100
#define CV_DETECT_HOLDOUT_MIN_PROBABILITY 0.01f
/* A box less visible than this in a crop view is dropped from that view. */
#define CV_DETECT_MIN_VISIBLE 0.4f

/* Per cell of one view: the tag (-1 background), box codes, centre-ness. */
typedef struct cv_cell_target
{
	int16_t		tag;
	float		code[4];		/* cv_box_encode of the assigned box at the cell centre */
	float		centre;			/* FCOS centre-ness of the cell in that box, 0..1 */
} cv_cell_target;

/*
 * Step 1 above for one view on a grid_w x grid_h grid: out receives
 * grid_w * grid_h cells, row by row.  Boxes (normalized, with their tags)
 * as the view shows them.  CV_ERR_PARAM for a bad grid or radius;
 * CV_ERR_NOMEM.
 */
cv_status	cv_detect_assign(int grid_w, int grid_h, float radius, const cv_box *boxes,
							 const int *tags, int n, cv_cell_target *out, cv_error *err);

/*
 * Step 5 above: a and b of p = sigmoid(a logit(score) + b) from held-out
 * detections and whether each is a true positive (cv_detect_match); a > 0.
 * When some top run of the detections (the isotonic fit, equal scores
 * together) is right at least half of the time and the fitted curve is
 * under 0.5 there, b is raised so that the curve crosses 0.5 halfway (in
 * logits) between that run's lowest score and the next score below it.
 * With n = 0, the identity (1, 0).
 */
void		cv_detect_calibrate(const cv_image_detection *dets, const uint8_t *is_tp, int n,
								float *a, float *b);

typedef struct cv_detect_dataset
{
	cv_detector_shape shape;	/* hidden: 0 for CV_DETECT_HIDDEN */
	int			n_images;
	int			n_views;		/* views per image in maps (1..CV_DETECT_MAX_VIEWS) */
	const float *maps;			/* n_images x n_views x cv_detector_map_floats */
	int			n_boxes;
	const cv_truth_box *boxes;	/* in each image's own (view 0) coordinates */
} cv_detect_dataset;

typedef struct cv_detect_train_options
{
	cv_progress_fn progress;	/* may be NULL */
	void	   *progress_arg;
	int			folds;			/* 0: automatic (step 4); 1: no held-out part */
	int			steps;			/* 0: automatic */
	double		nms_overlap;	/* 0: 0.45 */
	uint32_t	seed;			/* 0: a fixed default */
	float		learning_rate;	/* 0: 2e-3 */
	int			hidden;			/* 0: the dataset's shape, else CV_DETECT_HIDDEN */
	float		weight_decay;	/* 0: CV_DETECT_WEIGHT_DECAY; < 0: none */
	float		input_dropout;	/* 0: CV_DETECT_INPUT_DROPOUT; < 0: none */
	uint32_t	context;		/* 0: CV_DETECT_CONTEXT_DEFAULT; else bits | 8 (8 alone: none) */
	int			box_loss;		/* 0 or 1: IoU loss; 2: L1 on the log-distance codes */
	int			quality;		/* 0 or 1: the quality output learns the IoU; 2: centre-ness */
	float		centre_radius;	/* 0: CV_DETECT_CENTRE_RADIUS */
	/*
	 * 0 or 1: the final detector is the final fit; 2: the mean of the final
	 * fit and the fold fits (cv_detector_merge; measured, not the default)
	 */
	int			fold_ensemble;
} cv_detect_train_options;

typedef struct cv_detect_train_result
{
	cv_detector *detector;		/* trained on every image, calibrated */
	cv_image_detection *holdout;	/* held-out detections (calibrated) */
	int			n_holdout;
	int		   *fold;			/* n_images */
	int			n_folds;
	int			steps;			/* optimiser steps per fit */
	double		final_loss;		/* mean loss over the final fit's last 10% steps */
} cv_detect_train_result;

void		cv_detect_train_options_init(cv_detect_train_options *opt);

/*
 * Run the whole training.  CV_ERR_PARAM for a bad dataset (counts, box or
 * tag out of range), CV_ERR_CANCELED when the progress callback said stop,
 * CV_ERR_NOMEM.  On failure result is left empty.
 */
cv_status	cv_detect_train(const cv_detect_dataset *data,
							const cv_detect_train_options *opt,
							cv_detect_train_result *result, cv_error *err);

/*
 * Only fit one detector on the given images (no folds, identity
 * calibration), for benchmarks and tests: images[0..n-1] index data.
 */
cv_status	cv_detect_fit(const cv_detect_dataset *data, const int *images, int n,
						  const cv_detect_train_options *opt, cv_detector **out,
						  cv_error *err);

void		cv_detect_train_result_free(cv_detect_train_result *result);

#endif							/* CV_DETECT_TRAIN_H */
