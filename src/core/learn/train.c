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
#include "augment.h"
#include "linear.h"

#include <math.h>
#include <string.h>

/* Strengths of the default grid (per-image mean loss, standardised rows). */
static const double default_lambdas[] = {1.0, 0.3, 0.1, 0.03, 0.01, 0.003, 0.001};

/*
 * Progress: the cross-validation takes the first k/(k+1) of the bar, the
 * final fit the rest.  Each solve owns an equal slot of its phase, filled
 * linearly over its first PLANNED_ITERS iterations (then held), so the
 * fraction never goes backwards and moves at least once per iteration.
 */
#define PLANNED_ITERS 60

typedef struct progress_state
{
	cv_progress_fn fn;
	void	   *arg;
	double		base;			/* start of the current slot */
	double		slot;			/* its width */
	int			iter;			/* iterations done in it */
} progress_state;

static bool
on_tick(void *arg)
{
	progress_state *ps = arg;

	ps->iter++;
	if (ps->fn == NULL)
		return true;
	return ps->fn(ps->arg, fmin(1.0, ps->base + ps->slot *
								fmin(1.0, (double) ps->iter / PLANNED_ITERS)));
}

static void
begin_slot(progress_state *ps, double base, double slot)
{
	ps->base = base;
	ps->slot = slot;
	ps->iter = 0;
}

/* Views per image under a row budget: at least 1, at most available. */
static int
views_for(int n_images, int available, int max_rows)
{
	int			v = n_images > 0 ? max_rows / n_images : available;

	if (v > available)
		v = available;
	return v < 1 ? 1 : v;
}

int
cv_train_views(const cv_feature_extractor *fx, int n_images)
{
	int			available = fx->train_views;

	if (available <= 0 || available > CV_AUGMENT_MAX_VIEWS)
		available = CV_AUGMENT_TRAIN_VIEWS;
	return views_for(n_images, available, CV_TRAIN_MAX_ROWS);
}

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
	cv_linear_problem **fold_p = NULL;
	double	  **fold_theta = NULL;
	cv_linear_problem *p = NULL;
	cv_head    *h = NULL;
	float	   *normed = NULL;
	cv_dataset	nd;				/* d with normalised features */
	progress_state ps;
	int			min_count = -1;
	int			k = 0;
	int			best = 0;
	int			n_lambdas;
	int			views;
	double		cv_share;
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
	if (opt.max_rows == 0)
		opt.max_rows = CV_TRAIN_MAX_ROWS;
	if (opt.norm == 0)
		opt.norm = CV_TRAIN_NORM;
	if (opt.norm != CV_NORM_NONE && opt.norm != CV_NORM_POWER_L2)
		return cv_fail(err, CV_ERR_PARAM, "unknown feature normalisation %d", opt.norm);
	if (opt.n_lambdas == 0)
	{
		opt.n_lambdas = (int) (sizeof(default_lambdas) / sizeof(default_lambdas[0]));
		memcpy(opt.lambdas, default_lambdas, sizeof(default_lambdas));
	}
	if (opt.max_folds < 2 || opt.n_lambdas < 1 || opt.n_lambdas > CV_TRAIN_MAX_LAMBDAS ||
		opt.max_rows < 1)
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
	nd = *d;
	if (opt.norm != CV_NORM_NONE)
	{
		size_t		rows = (size_t) d->n_images * d->n_views;

		normed = cv_malloc(sizeof(float) * rows * d->dim);
		if (normed == NULL)
			return cv_fail(err, CV_ERR_NOMEM, "out of memory normalising features");
		for (size_t r = 0; r < rows; r++)
			cv_norm_apply((cv_norm) opt.norm, d->features + r * d->dim, d->dim,
						  normed + r * d->dim);
		nd.features = normed;
	}
	/* the first views are the most useful (whole, mirror, centre crop) */
	views = views_for(d->n_images, d->n_views, opt.max_rows);

	counts = cv_calloc((size_t) t, sizeof(int));
	if (counts == NULL)
	{
		cv_free(normed);
		return cv_fail(err, CV_ERR_NOMEM, "out of memory counting tags");
	}
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
	fold_p = cv_calloc((size_t) k, sizeof(*fold_p));
	fold_theta = cv_calloc((size_t) k, sizeof(*fold_theta));
	if (res->holdout == NULL || res->fold == NULL || train_idx == NULL ||
		probs_by_lambda == NULL || weights == NULL || fold_p == NULL || fold_theta == NULL)
	{
		st = cv_fail(err, CV_ERR_NOMEM, "out of memory for cross-validation");
		goto done;
	}
	assign_folds(d, counts, k, res->fold);
	res->n_folds = k;
	st = cv_linear_image_weights(d, weights, err);
	if (st != CV_OK)
		goto done;

	memset(&ps, 0, sizeof(ps));
	ps.fn = opt.progress;
	ps.arg = opt.progress_arg;
	cv_share = (double) k / (k + 1);
	if (ps.fn != NULL && !ps.fn(ps.arg, 0.0))
	{
		st = cv_fail(err, CV_ERR_CANCELED, "training canceled");
		goto done;
	}

	/* one problem and one warm-started solution per fold */
	for (int f = 0; f < k; f++)
	{
		int			n_train = 0;

		for (int i = 0; i < d->n_images; i++)
			if (res->fold[i] != f)
				train_idx[n_train++] = i;
		st = cv_linear_make(&nd, train_idx, n_train, views, &fold_p[f], err);
		if (st != CV_OK)
			goto done;
		fold_theta[f] = cv_calloc((size_t) cv_linear_param_count(fold_p[f]), sizeof(double));
		if (fold_theta[f] == NULL)
		{
			st = cv_fail(err, CV_ERR_NOMEM, "out of memory for cross-validation");
			goto done;
		}
	}

	/*
	 * Strengths from strong to weak; the held-out loss is nearly always
	 * unimodal along the path, so stop once two strengths in a row did
	 * worse than the best so far.
	 */
	res->n_lambdas = 0;
	for (int l = 0; l < n_lambdas; l++)
	{
		float	   *probs = probs_by_lambda + (size_t) l * d->n_images * t;

		for (int f = 0; f < k; f++)
		{
			begin_slot(&ps, cv_share * (l * k + f) / (n_lambdas * k), cv_share / (n_lambdas * k));
			st = cv_linear_solve(fold_p[f], opt.lambdas[l], fold_theta[f], on_tick, &ps, NULL, err);
			if (st == CV_OK)
				st = cv_linear_to_head(fold_p[f], fold_theta[f], opt.lambdas[l],
									   opt.predict_views, &h, err);
			if (st != CV_OK)
				goto done;
			h->norm = (cv_norm) opt.norm;
			for (int i = 0; i < d->n_images; i++)
			{
				if (res->fold[i] != f)
					continue;
				st = cv_head_predict(h, d->features + (size_t) i * d->n_views * d->dim,
									 d->n_views, probs + (size_t) i * t, err);
				if (st != CV_OK)
					goto done;
			}
			cv_head_free(h);
			h = NULL;
		}
		res->lambdas[l] = opt.lambdas[l];
		res->holdout_loss[l] = holdout_loss(d, probs, weights);
		res->n_lambdas = l + 1;
		if (res->holdout_loss[l] < res->holdout_loss[best])
			best = l;
		else if (l - best >= 2)
			break;
	}
	res->lambda = opt.lambdas[best];
	memcpy(res->holdout, probs_by_lambda + (size_t) best * d->n_images * t,
		   sizeof(float) * d->n_images * t);
	for (int f = 0; f < k; f++)
	{
		cv_linear_free(fold_p[f]);
		fold_p[f] = NULL;
	}

	/* final fit on everything, along the same path down to the winner */
	st = cv_linear_make(&nd, NULL, d->n_images, views, &p, err);
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
		begin_slot(&ps, cv_share + (1.0 - cv_share) * l / (best + 1),
				   (1.0 - cv_share) / (best + 1));
		st = cv_linear_solve(p, opt.lambdas[l], theta, on_tick, &ps, NULL, err);
		if (st != CV_OK)
			goto done;
	}
	st = cv_linear_to_head(p, theta, res->lambda, opt.predict_views, &res->head, err);
	if (st == CV_OK)
		res->head->norm = (cv_norm) opt.norm;
	if (st == CV_OK && ps.fn != NULL && !ps.fn(ps.arg, 1.0))
		st = cv_fail(err, CV_ERR_CANCELED, "training canceled");

done:
	cv_head_free(h);
	cv_free(theta);
	cv_linear_free(p);
	if (fold_p != NULL)
		for (int f = 0; f < k; f++)
			cv_linear_free(fold_p[f]);
	if (fold_theta != NULL)
		for (int f = 0; f < k; f++)
			cv_free(fold_theta[f]);
	cv_free(fold_p);
	cv_free(fold_theta);
	cv_free(counts);
	cv_free(train_idx);
	cv_free(probs_by_lambda);
	cv_free(weights);
	cv_free(normed);
	if (st != CV_OK)
		cv_train_result_free(res);
	return st;
}
