/*
 * lbfgs.h
 *	  Limited-memory BFGS for the smooth, strongly convex objectives of the
 *	  linear heads (internal to src/core/learn).
 *
 * Deterministic: no randomness, sums in a fixed order, so the same start
 * and objective give the same iterates bit for bit.
 */
#ifndef CV_LEARN_LBFGS_H
#define CV_LEARN_LBFGS_H

#include "../common/cv_common.h"

/* Value and gradient at x; g has n entries. */
typedef cv_status (*cv_objective_fn) (void *arg, const double *x, double *f,
									  double *g, cv_error *err);

/* Called after every iteration; false stops with CV_ERR_CANCELED. */
typedef bool (*cv_tick_fn) (void *arg);

typedef struct cv_lbfgs_options
{
	int			max_iter;		/* iterations (each >= 1 evaluation) */
	int			history;		/* correction pairs kept */
	double		gtol;			/* stop when max |g| <= gtol */
	double		ftol;			/* or relative decrease below ftol twice */
} cv_lbfgs_options;

/*
 * Minimise from x (updated in place).  iterations receives the number of
 * iterations done (may be NULL).  Stopping at max_iter is not an error.
 */
cv_status	cv_lbfgs_minimize(int n, double *x, cv_objective_fn fn, void *arg,
							  const cv_lbfgs_options *opt, cv_tick_fn tick,
							  void *tick_arg, int *iterations, cv_error *err);

#endif							/* CV_LEARN_LBFGS_H */
