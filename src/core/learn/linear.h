/*
 * linear.h
 *	  The training problem of a linear head (internal to src/core/learn):
 *	  standardised rows, targets, class weights, and the regularised
 *	  softmax / sigmoid cross-entropy it minimises.
 *
 * A problem is built once per training subset (a cross-validation fold or
 * the whole set) and solved for several L2 strengths, warm-starting each
 * solve from the previous solution.
 *
 * Parameters theta: n_tags rows of dim weights (on standardised
 * features), then n_tags biases.
 */
#ifndef CV_LEARN_LINEAR_H
#define CV_LEARN_LINEAR_H

#include "head.h"
#include "lbfgs.h"

typedef struct cv_linear_problem cv_linear_problem;

/*
 * Build the problem from the listed images (NULL: all); the first n_views
 * views of each image are rows (n_views out of range: all of them).  The
 * problem points into data->features, which must outlive it.
 * Standardisation statistics come from these rows.
 */
cv_status	cv_linear_make(const cv_dataset *data, const int *images,
						   int n_images, int n_views,
						   cv_linear_problem **out, cv_error *err);
void		cv_linear_free(cv_linear_problem *p);

/* Length of theta. */
int			cv_linear_param_count(const cv_linear_problem *p);

/* Rows times parameters: the cost of one objective evaluation. */
double		cv_linear_cost(const cv_linear_problem *p);

/*
 * Minimise the objective at L2 strength lambda from theta (in/out).
 * tick is called after every optimiser iteration.
 */
cv_status	cv_linear_solve(cv_linear_problem *p, double lambda, double *theta,
							cv_tick_fn tick, void *tick_arg, int *iterations,
							cv_error *err);

/* A head (standardisation + weights) from a solution. */
cv_status	cv_linear_to_head(const cv_linear_problem *p, const double *theta,
							  double lambda, int predict_views,
							  cv_head **out, cv_error *err);

/*
 * Class weights of an image as the training objective uses them, for the
 * held-out loss that chooses lambda: weight of tag k's term for image i,
 * written to w[0..n_tags-1] (multiclass: the same value in every entry).
 * Computed over all images of data.
 */
cv_status	cv_linear_image_weights(const cv_dataset *data, double *w,
									cv_error *err);

#endif							/* CV_LEARN_LINEAR_H */
