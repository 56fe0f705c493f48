/*
 * train.h
 *	  Training as the binding calls it: held-out evaluation by stratified
 *	  k-fold cross-validation, automatic choice of the L2 strength, then the
 *	  final head fitted on every image.
 *
 * The user sets nothing.  Steps:
 *	 0. the features are normalised as the head will (CV_TRAIN_NORM: signed
 *		square root and L2 normalisation of each view's vector); the
 *		standardisation statistics of every fit come from normalised rows.
 *	 1. cv_dataset_check; every tag the model learns needs at least 2 images
 *		(CV_ERR_PARAM otherwise; a multilabel negative tag may have none).
 *	 2. folds: k = min(max_folds, smallest tag count), at least 2, assigned
 *		by image (all views of an image stay in one fold), stratified: images
 *		grouped by their rarest tag, each group dealt round-robin over the
 *		folds in image order, the deal continuing from group to group.
 *	 3. for each L2 strength of the grid, strongest first, a head is fitted
 *		on the other folds of each fold, warm-started from that fold's
 *		previous solution; the held-out images are scored (view 0, or the
 *		mean over views 0..predict_views-1).  The search stops once two
 *		strengths in a row did worse than the best one.
 *	 4. the strength with the lowest class-weighted held-out cross-entropy
 *		wins (ties: the stronger); its held-out probabilities are returned.
 *	 5. the final head is fitted on all images with that strength.
 *
 * Progress: the callback receives the fraction of the planned work done
 * after every optimiser iteration (well under 100 ms of work apart on
 * projects of a few thousand images); returning false stops the training
 * with CV_ERR_CANCELED and nothing is returned.
 *
 * Deterministic: same dataset and options, same head bits.
 */
#ifndef CV_LEARN_TRAIN_H
#define CV_LEARN_TRAIN_H

#include "features.h"
#include "head.h"

#define CV_TRAIN_MAX_LAMBDAS 16

/*
 * Feature normalisation of the heads (head.h; measured with
 * tools/bench_compact, docs/heads.md).
 */
#define CV_TRAIN_NORM CV_NORM_POWER_L2

/* Views averaged at prediction (measured with tools/bench_compact). */
#define CV_TRAIN_PREDICT_VIEWS 1

/*
 * Rows (image views) the optimiser works on at most: above it, fewer views
 * per image are used (the first ones: whole, mirror, centre crop...), since
 * augmentation matters less the more photos there are.
 */
#define CV_TRAIN_MAX_ROWS 8192

typedef struct cv_train_options
{
	cv_progress_fn progress;	/* may be NULL */
	void	   *progress_arg;
	int			max_folds;		/* 0: 5 */
	int			predict_views;	/* 0: CV_TRAIN_PREDICT_VIEWS */
	int			max_rows;		/* 0: CV_TRAIN_MAX_ROWS */
	int			norm;			/* 0: CV_TRAIN_NORM; else a cv_norm */
	int			n_lambdas;		/* 0: the default grid */
	double		lambdas[CV_TRAIN_MAX_LAMBDAS];	/* strongest first */
} cv_train_options;

typedef struct cv_train_result
{
	cv_head    *head;			/* fitted on all images */
	float	   *holdout;		/* n_images x n_tags held-out probabilities */
	int		   *fold;			/* n_images: fold of each image */
	int			n_folds;
	double		lambda;			/* chosen L2 strength */
	int			n_lambdas;		/* strengths evaluated */
	double		lambdas[CV_TRAIN_MAX_LAMBDAS];
	double		holdout_loss[CV_TRAIN_MAX_LAMBDAS];	/* per strength */
} cv_train_result;

/*
 * How many augmentation views per image cv_train will use for n_images
 * images of a domain with the default max_rows: the binding extracts (and
 * caches) only those, at most the domain's train_views (features.h).
 */
int			cv_train_views(const cv_feature_extractor *fx, int n_images);

/* Options with every field at its default. */
void		cv_train_options_init(cv_train_options *opt);

/*
 * Run the whole training.  opt may be NULL (defaults).  On success result
 * owns head, holdout and fold (release with cv_train_result_free); on
 * failure result is left empty.
 */
cv_status	cv_train(const cv_dataset *data, const cv_train_options *opt,
					 cv_train_result *result, cv_error *err);

void		cv_train_result_free(cv_train_result *result);

#endif							/* CV_LEARN_TRAIN_H */
