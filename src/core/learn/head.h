/*
 * head.h
 *	  Linear classification heads over a domain's features: softmax for
 *	  multiclass, independent sigmoids for multilabel (task.h).
 *
 * A head holds everything prediction needs besides the features: a fixed
 * normalisation of the feature vector (cv_norm), the standardisation
 * learnt from the training set (x' = (n(x) - mean) * scale),
 * one weight row and bias per tag, and how many augmentation views
 * prediction averages.  In multilabel the negative tag's row is all zero and
 * its probability is derived (prod_k (1 - p_k)).
 *
 * cv_head_fit fits one head at a fixed L2 strength; train.h chooses that
 * strength on held-out folds and is what the binding calls to train.
 */
#ifndef CV_LEARN_HEAD_H
#define CV_LEARN_HEAD_H

#include "../common/cv_common.h"
#include "task.h"

/* Caps that keep sizes sane; the model parser enforces the same. */
#define CV_MAX_TAGS 1024
#define CV_MAX_DIM (1 << 20)

/*
 * Training examples.  features: n_images x n_views x dim floats, view 0
 * the whole unflipped image (augment.h); labels: n_images x n_tags, 0 or 1;
 * negative: n_tags flags, NULL when no tag is negative.  Rules (checked by
 * cv_dataset_check): multiclass images carry exactly one tag; multilabel
 * images carry at least one tag, and a negative tag only alone.
 */
typedef struct cv_dataset
{
	cv_task		task;
	int			n_images;
	int			n_views;
	int			dim;
	int			n_tags;
	const float *features;
	const uint8_t *labels;
	const bool *negative;
} cv_dataset;

/*
 * Normalisation of a feature vector before the standardisation.  Pooled
 * CNN activations are bursty (a few large channels dominate the vector and
 * its length varies with the image's contrast); the signed square root
 * evens the channels out and the L2 normalisation removes the length, the
 * usual treatment for linear probes on such features (docs/heads.md).
 * The values are stored in cv_model bytes: never renumber.
 */
typedef enum cv_norm
{
	CV_NORM_NONE = 1,			/* the features as extracted */
	CV_NORM_POWER_L2 = 2		/* x_j -> sign(x_j) sqrt|x_j|, then x / |x|_2 */
} cv_norm;

/*
 * Apply a normalisation: out may be in; dim floats.  Computed in double
 * in index order, so the result is the same on every machine.  A zero
 * vector stays zero.
 */
void		cv_norm_apply(cv_norm norm, const float *in, int dim, float *out);

typedef struct cv_head
{
	cv_task		task;
	cv_norm		norm;			/* applied to every view's features first */
	int			n_tags;
	int			dim;
	int			predict_views;	/* average over views 0..predict_views-1 */
	float		lambda;			/* L2 strength it was fitted with (info) */
	bool	   *negative;		/* n_tags */
	float	   *mean;			/* dim */
	float	   *scale;			/* dim: 1 / std, 0 for constant features */
	float	   *weights;		/* n_tags x dim */
	float	   *bias;			/* n_tags */
} cv_head;

/* Validate shapes and label rules; CV_ERR_PARAM / CV_ERR_DATA (NaN, Inf). */
cv_status	cv_dataset_check(const cv_dataset *data, cv_error *err);

/*
 * A zeroed head (norm CV_NORM_NONE) with its arrays allocated; NULL on
 * allocation failure.
 */
cv_head    *cv_head_alloc(cv_task task, int n_tags, int dim);
void		cv_head_free(cv_head *head);	/* accepts NULL */

/* A deep copy; NULL on allocation failure. */
cv_head    *cv_head_copy(const cv_head *head);

/*
 * Fit a head with L2 strength lambda on the images listed in images (NULL:
 * all n_images), every view of each image a training row, each image
 * weighted by inverse tag frequency (see linear.c), on the features as
 * they are (CV_NORM_NONE).  predict_views is stored in the head.  progress may be NULL; when it returns false the fit
 * stops with CV_ERR_CANCELED.
 */
cv_status	cv_head_fit(const cv_dataset *data, const int *images, int n_images,
						double lambda, int predict_views,
						cv_progress_fn progress, void *progress_arg,
						cv_head **out, cv_error *err);

/*
 * Probabilities of one image: features holds n_views x dim floats (view 0
 * first, as cv_augment_features writes them); the first
 * min(n_views, head->predict_views) views are normalised (head->norm),
 * scored and their probabilities averaged.  probs receives n_tags values in tag order.
 * CV_ERR_DATA on NaN features.
 */
cv_status	cv_head_predict(const cv_head *head, const float *features,
							int n_views, float *probs, cv_error *err);

#endif							/* CV_LEARN_HEAD_H */
