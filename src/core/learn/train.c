/*
 * train.c
 *	  Stratified k-fold cross-validation over a grid of L2 strengths, then
 *	  the final fit (the procedure is described in train.h).
 *
 * Why cross-entropy picks the strength: with a few dozen images the
 * held-out accuracy of neighbouring strengths is often tied, while the
 * class-weighted log loss still separates them and rewards calibrated
 * probabilities, which the threshold-based precision/recall need.
 */
#include "train.h"
#include "linear.h"

#include <math.h>
#include <string.h>

/* Strengths of the default grid (per-image mean loss, standardised rows). */
static const double default_lambdas[] = {1.0, 0.3, 0.1, 0.03, 0.01, 0.003, 0.001};

typedef struct progress_state
{
	cv_progress_fn fn;
	void	   *arg;
	double		done;			/* work units finished */
	double		total;			/* planned work units */
	double		unit;			/* cost of one iteration of the current solve */
	double		solve_budget;	/* units reserved for the current solve */
	double		solve_used;
} progress_state;

/*
 * One optimiser iteration finished.  A solve is planned at a fixed
 * iteration budget; iterations past it are not counted, and the unused
 * part is added when the solve ends, so the fraction never goes backwards.
 */
static bool
on_tick(void *arg)
{
	progress_state *ps = arg;

	if (ps->solve_used + ps->unit <= ps->solve_budget)
	{
		ps->solve_used += ps->unit;
		ps->done += ps->unit;
	}
	if (ps->fn == NULL)
		return true;
	return ps->fn(ps->arg, fmin(1.0, ps->done / ps->total));
}

static void
begin_solve(progress_state *ps, double cost, int budget_iters)
{
	ps->unit = cost;
	ps->solve_budget = cost * budget_iters;
	ps->solve_used = 0.0;
}

static void
end_solve(progress_state *ps)
{
	ps->done += ps->solve_budget - ps->solve_used;
	ps->solve_used = ps->solve_budget;
}

#define PLANNED_ITERS 60		/* typical warm-started solve, for progress */

void
cv_train_options_init(cv_train_options *opt)
{
	memset(opt, 0, sizeof(*opt));
}

void
cv_train_result_free(cv_train_result *r)
{
	if (r == NULL)
		return;
	cv_head_free(r->head);
	cv_free(r->holdout);
	cv_free(r->fold);
	memset(r, 0, sizeof(*r));
}

/*
 * Stratified assignment of images to k folds (see train.h).  key[i] is the
 * stratum (rarest tag) of image i.
 */
static void
assign_folds(const cv_dataset *d, const int *counts, int k, int *fold)
{
	int			t = d->n_tags;
	int			deal = 0;
	int		   *key = fold;		/* reuse: key first, then fold */

	for (int i = 0; i < d->n_images; i++)
	{
		const uint8_t *row = d->labels + (size_t) i * t;
		int			best = -1;

		for (int c = 0; c < t; c++)
			if (row[c] && (best < 0 || counts[c] < counts[best]))
				best = c;
		key[i] = best;
	}
	/* strata in tag order, images in index order within a stratum */
	for (int c = 0; c < t; c++)
		for (int i = 0; i < d->n_images; i++)
			if (key[i] == c)
			{
				key[i] = -1 - (deal % k);	/* mark as assigned */
				deal++;
			}
	for (int i = 0; i < d->n_images; i++)
		fold[i] = -1 - key[i];
}

/* Weighted cross-entropy of held-out probabilities (lower is better). */
static double
holdout_loss(const cv_dataset *d, const float *probs, const double *w)
{
	int			t = d->n_tags;
	double		loss = 0.0;

	for (int i = 0; i < d->n_images; i++)
	{
		const uint8_t *row = d->labels + (size_t) i * t;
		const float *p = probs + (size_t) i * t;

		for (int k = 0; k < t; k++)
		{
			double		pk = fmin(fmax((double) p[k], 1e-7), 1.0 - 1e-7);
			double		wk = w[(size_t) i * t + k];

			if (d->task == CV_TASK_MULTICLASS)
			{
				if (row[k])
					loss -= wk * log(pk);
			}
			else if (!(d->negative != NULL && d->negative[k]))
				loss -= wk * (row[k] ? log(pk) : log(1.0 - pk));
		}
	}
	return loss / d->n_images;
}

cv_status
cv_train(const cv_dataset *d, const cv_train_options *opt_in,
		 cv_train_result *res, cv_error *err)
{
	cv_train_options opt;
	int			t;
	int		   *counts = NULL;
	int		   *train_idx = NULL;
	float	   *probs_by_lambda = NULL;
	double	   *theta = NULL;
	double	   *weights = NULL;
	cv_linear_problem *p = NULL;
	cv_head    *h = NULL;
	progress_state ps;
	int			min_count = -1;
	int			k;
	int			best = 0;
	int			n_lambdas;
	cv_status	st;

	memset(res, 0, sizeof(*res));
	if (opt_in != NULL)
		opt = *opt_in;
	else
		cv_train_options_init(&opt);
	if (opt.max_folds == 0)
		opt.max_folds = 5;
	if (opt.predict_views == 0)
		opt.predict_views = CV_TRAIN_PREDICT_VIEWS;
	if (opt.n_lambdas == 0)
	{
		opt.n_lambdas = (int) (sizeof(default_lambdas) / sizeof(default_lambdas[0]));
		memcpy(opt.lambdas, default_lambdas, sizeof(default_lambdas));
	}
	if (opt.max_folds < 2 || opt.n_lambdas < 1 || opt.n_lambdas > CV_TRAIN_MAX_LAMBDAS)
		return cv_fail(err, CV_ERR_PARAM, "invalid training options");
	for (int l = 0; l < opt.n_lambdas; l++)
		if (!(opt.lambdas[l] > 0.0) || (l > 0 && !(opt.lambdas[l] < opt.lambdas[l - 1])))
			return cv_fail(err, CV_ERR_PARAM, "l2 strengths must be positive and decreasing");

	st = cv_dataset_check(d, err);
	if (st != CV_OK)
		return st;
	if (opt.predict_views < 1 || opt.predict_views > d->n_views)
		return cv_fail(err, CV_ERR_PARAM, "prediction views must be between 1 and %d", d->n_views);
	t = d->n_tags;
	n_lambdas = opt.n_lambdas;

	counts = cv_calloc((size_t) t, sizeof(int));
	if (counts == NULL)
		return cv_fail(err, CV_ERR_NOMEM, "out of memory counting tags");
	for (int i = 0; i < d->n_images; i++)
		for (int c = 0; c < t; c++)
			counts[c] += d->labels[(size_t) i * t + c] != 0;
	{
		int			learnt = 0;

		for (int c = 0; c < t; c++)
		{
			bool		derived = d->task == CV_TASK_MULTILABEL &&
				d->negative != NULL && d->negative[c];

			if (derived)
				continue;
			learnt++;
			if (counts[c] < 2)
			{
				st = cv_fail(err, CV_ERR_PARAM,
							 "tag %d has %d images; every tag needs at least 2", c, counts[c]);
				goto done;
			}
			if (min_count < 0 || counts[c] < min_count)
				min_count = counts[c];
		}
		if (d->task == CV_TASK_MULTICLASS && learnt < 2)
		{
			st = cv_fail(err, CV_ERR_PARAM, "multiclass training needs at least 2 tags");
			goto done;
		}
		if (learnt < 1)
		{
			st = cv_fail(err, CV_ERR_PARAM, "multilabel training needs a tag that is not negative");
			goto done;
		}
	}
	k = min_count < opt.max_folds ? min_count : opt.max_folds;

	res->holdout = cv_calloc((size_t) d->n_images * t, sizeof(float));
	res->fold = cv_calloc((size_t) d->n_images, sizeof(int));
	train_idx = cv_calloc((size_t) d->n_images, sizeof(int));
	probs_by_lambda = cv_calloc((size_t) n_lambdas * d->n_images * t, sizeof(float));
	weights = cv_calloc((size_t) d->n_images * t, sizeof(double));
	if (res->holdout == NULL || res->fold == NULL || train_idx == NULL ||
		probs_by_lambda == NULL || weights == NULL)
	{
		st = cv_fail(err, CV_ERR_NOMEM, "out of memory for cross-validation");
		goto done;
	}
	assign_folds(d, counts, k, res->fold);
	res->n_folds = k;

	/*
	 * Planned work: k folds of (k-1)/k of the rows plus one fit on all rows
	 * at each strength down to the chosen one (counted as all strengths).
	 */
	memset(&ps, 0, sizeof(ps));
	ps.fn = opt.progress;
	ps.arg = opt.progress_arg;
	ps.total = (double) n_lambdas * PLANNED_ITERS * (double) d->n_images * 2.0;
	if (ps.fn != NULL && !ps.fn(ps.arg, 0.0))
	{
		st = cv_fail(err, CV_ERR_CANCELED, "training canceled");
		goto done;
	}

	for (int f = 0; f < k; f++)
	{
		int			n_train = 0;

		for (int i = 0; i < d->n_images; i++)
			if (res->fold[i] != f)
				train_idx[n_train++] = i;
		st = cv_linear_make(d, train_idx, n_train, &p, err);
		if (st != CV_OK)
			goto done;
		theta = cv_calloc((size_t) cv_linear_param_count(p), sizeof(double));
		if (theta == NULL)
		{
			st = cv_fail(err, CV_ERR_NOMEM, "out of memory for cross-validation");
			goto done;
		}
		for (int l = 0; l < n_lambdas; l++)
		{
			begin_solve(&ps, (double) n_train / k, PLANNED_ITERS);
			st = cv_linear_solve(p, opt.lambdas[l], theta, on_tick, &ps, NULL, err);
			end_solve(&ps);
			if (st == CV_OK)
				st = cv_linear_to_head(p, theta, opt.lambdas[l], opt.predict_views, &h, err);
			if (st != CV_OK)
				goto done;
			for (int i = 0; i < d->n_images; i++)
			{
				if (res->fold[i] != f)
					continue;
				st = cv_head_predict(h, d->features + (size_t) i * d->n_views * d->dim,
									 d->n_views,
									 probs_by_lambda + ((size_t) l * d->n_images + i) * t, err);
				if (st != CV_OK)
					goto done;
			}
			cv_head_free(h);
			h = NULL;
		}
		cv_free(theta);
		theta = NULL;
		cv_linear_free(p);
		p = NULL;
	}

	st = cv_linear_image_weights(d, weights, err);
	if (st != CV_OK)
		goto done;
	res->n_lambdas = n_lambdas;
	for (int l = 0; l < n_lambdas; l++)
	{
		res->lambdas[l] = opt.lambdas[l];
		res->holdout_loss[l] = holdout_loss(d, probs_by_lambda + (size_t) l * d->n_images * t,
											weights);
		if (res->holdout_loss[l] < res->holdout_loss[best])
			best = l;
	}
	res->lambda = opt.lambdas[best];
	memcpy(res->holdout, probs_by_lambda + (size_t) best * d->n_images * t,
		   sizeof(float) * d->n_images * t);

	/* final fit on everything, along the same path down to the winner */
	st = cv_linear_make(d, NULL, d->n_images, &p, err);
	if (st != CV_OK)
		goto done;
	theta = cv_calloc((size_t) cv_linear_param_count(p), sizeof(double));
	if (theta == NULL)
	{
		st = cv_fail(err, CV_ERR_NOMEM, "out of memory for the final fit");
		goto done;
	}
	for (int l = 0; l <= best; l++)
	{
		begin_solve(&ps, (double) d->n_images * (n_lambdas / (double) (best + 1)), PLANNED_ITERS);
		st = cv_linear_solve(p, opt.lambdas[l], theta, on_tick, &ps, NULL, err);
		end_solve(&ps);
		if (st != CV_OK)
			goto done;
	}
	st = cv_linear_to_head(p, theta, res->lambda, opt.predict_views, &res->head, err);
	if (st == CV_OK && ps.fn != NULL && !ps.fn(ps.arg, 1.0))
		st = cv_fail(err, CV_ERR_CANCELED, "training canceled");

done:
	cv_head_free(h);
	cv_free(theta);
	cv_linear_free(p);
	cv_free(counts);
	cv_free(train_idx);
	cv_free(probs_by_lambda);
	cv_free(weights);
	if (st != CV_OK)
		cv_train_result_free(res);
	return st;
}
