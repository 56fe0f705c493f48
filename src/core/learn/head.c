/*
 * head.c
 *	  Life cycle, data checks, single-strength fitting and prediction of the
 *	  linear heads.
 */
#include "head.h"
#include "linear.h"

#include <math.h>
#include <string.h>

cv_head *
cv_head_alloc(cv_task task, int n_tags, int dim)
{
	cv_head    *h;

	if (n_tags <= 0 || n_tags > CV_MAX_TAGS || dim <= 0 || dim > CV_MAX_DIM)
		return NULL;
	h = cv_calloc(1, sizeof(*h));
	if (h == NULL)
		return NULL;
	h->task = task;
	h->norm = CV_NORM_NONE;
	h->n_tags = n_tags;
	h->dim = dim;
	h->predict_views = 1;
	h->negative = cv_calloc((size_t) n_tags, sizeof(bool));
	h->mean = cv_calloc((size_t) dim, sizeof(float));
	h->scale = cv_calloc((size_t) dim, sizeof(float));
	h->weights = cv_calloc((size_t) n_tags * dim, sizeof(float));
	h->bias = cv_calloc((size_t) n_tags, sizeof(float));
	if (h->negative == NULL || h->mean == NULL || h->scale == NULL ||
		h->weights == NULL || h->bias == NULL)
	{
		cv_head_free(h);
		return NULL;
	}
	return h;
}

void
cv_head_free(cv_head *h)
{
	if (h == NULL)
		return;
	cv_free(h->negative);
	cv_free(h->mean);
	cv_free(h->scale);
	cv_free(h->weights);
	cv_free(h->bias);
	cv_free(h);
}

cv_head *
cv_head_copy(const cv_head *src)
{
	cv_head    *h = cv_head_alloc(src->task, src->n_tags, src->dim);

	if (h == NULL)
		return NULL;
	h->norm = src->norm;
	h->predict_views = src->predict_views;
	h->lambda = src->lambda;
	memcpy(h->negative, src->negative, sizeof(bool) * src->n_tags);
	memcpy(h->mean, src->mean, sizeof(float) * src->dim);
	memcpy(h->scale, src->scale, sizeof(float) * src->dim);
	memcpy(h->weights, src->weights, sizeof(float) * src->n_tags * (size_t) src->dim);
	memcpy(h->bias, src->bias, sizeof(float) * src->n_tags);
	return h;
}

void
cv_norm_apply(cv_norm norm, const float *in, int dim, float *out)
{
	double		ss = 0.0;

	if (norm != CV_NORM_POWER_L2)
	{
		if (out != in)
			memcpy(out, in, sizeof(float) * dim);
		return;
	}
	for (int d = 0; d < dim; d++)
	{
		double		r = sqrt(fabs((double) in[d]));

		ss += fabs((double) in[d]);	/* r * r */
		out[d] = (float) (in[d] < 0.0f ? -r : r);
	}
	if (ss > 0.0)
	{
		double		inv = 1.0 / sqrt(ss);

		for (int d = 0; d < dim; d++)
			out[d] = (float) (out[d] * inv);
	}
}

cv_status
cv_dataset_check(const cv_dataset *d, cv_error *err)
{
	size_t		nfeat;

	if (d == NULL || d->features == NULL || d->labels == NULL)
		return cv_fail(err, CV_ERR_PARAM, "training data missing");
	if (d->task != CV_TASK_MULTICLASS && d->task != CV_TASK_MULTILABEL)
		return cv_fail(err, CV_ERR_PARAM, "unknown task kind %d", (int) d->task);
	if (d->n_tags <= 0 || d->n_tags > CV_MAX_TAGS)
		return cv_fail(err, CV_ERR_PARAM, "number of tags must be between 1 and %d", CV_MAX_TAGS);
	if (d->dim <= 0 || d->dim > CV_MAX_DIM)
		return cv_fail(err, CV_ERR_PARAM, "feature dimension must be between 1 and %d", CV_MAX_DIM);
	if (d->n_views <= 0 || d->n_views > 64)
		return cv_fail(err, CV_ERR_PARAM, "views per image must be between 1 and 64");
	if (d->n_images <= 0)
		return cv_fail(err, CV_ERR_PARAM, "no images to train on");
	if (!cv_mul_size((size_t) d->n_images * d->n_views, (size_t) d->dim, &nfeat))
		return cv_fail(err, CV_ERR_LIMIT, "training set too large");

	for (int i = 0; i < d->n_images; i++)
	{
		const uint8_t *row = d->labels + (size_t) i * d->n_tags;
		int			count = 0;
		bool		has_negative = false;

		for (int k = 0; k < d->n_tags; k++)
		{
			if (row[k] > 1)
				return cv_fail(err, CV_ERR_PARAM, "label of image %d, tag %d is not 0 or 1", i, k);
			if (row[k])
			{
				count++;
				if (d->negative != NULL && d->negative[k])
					has_negative = true;
			}
		}
		if (d->task == CV_TASK_MULTICLASS && count != 1)
			return cv_fail(err, CV_ERR_PARAM,
						   "image %d has %d tags; a multiclass image needs exactly one", i, count);
		if (d->task == CV_TASK_MULTILABEL && count == 0)
			return cv_fail(err, CV_ERR_PARAM, "image %d has no tag", i);
		if (has_negative && count > 1)
			return cv_fail(err, CV_ERR_PARAM,
						   "image %d has the negative tag and another tag", i);
	}
	for (size_t j = 0; j < nfeat; j++)
		if (!isfinite(d->features[j]))
			return cv_fail(err, CV_ERR_DATA, "feature %zu of image %zu is not finite",
						   j % d->dim, j / ((size_t) d->dim * d->n_views));
	return CV_OK;
}

typedef struct fit_tick
{
	cv_progress_fn progress;
	void	   *arg;
	int			iter;
	int			max_iter;
} fit_tick;

static bool
fit_on_tick(void *arg)
{
	fit_tick   *t = arg;

	t->iter++;
	if (t->progress == NULL)
		return true;
	return t->progress(t->arg, t->iter >= t->max_iter ? 1.0 : (double) t->iter / t->max_iter);
}

cv_status
cv_head_fit(const cv_dataset *data, const int *images, int n_images,
			double lambda, int predict_views, cv_progress_fn progress,
			void *progress_arg, cv_head **out, cv_error *err)
{
	cv_linear_problem *p = NULL;
	double	   *theta = NULL;
	fit_tick	tick = {progress, progress_arg, 0, 300};
	cv_status	st;

	*out = NULL;
	st = cv_dataset_check(data, err);
	if (st != CV_OK)
		return st;
	if (images != NULL)
		for (int j = 0; j < n_images; j++)
			if (images[j] < 0 || images[j] >= data->n_images)
				return cv_fail(err, CV_ERR_PARAM, "image index %d out of range", images[j]);
	if (predict_views < 1 || predict_views > data->n_views)
		return cv_fail(err, CV_ERR_PARAM, "prediction views must be between 1 and %d",
					   data->n_views);
	st = cv_linear_make(data, images, n_images, 0, &p, err);
	if (st != CV_OK)
		return st;
	theta = cv_calloc((size_t) cv_linear_param_count(p), sizeof(double));
	if (theta == NULL)
		st = cv_fail(err, CV_ERR_NOMEM, "out of memory fitting a head");
	if (st == CV_OK)
		st = cv_linear_solve(p, lambda, theta, fit_on_tick, &tick, NULL, err);
	if (st == CV_OK)
		st = cv_linear_to_head(p, theta, lambda, predict_views, out, err);
	cv_free(theta);
	cv_linear_free(p);
	return st;
}

/* Probabilities of one standardised-on-the-fly feature vector. */
static void
predict_view(const cv_head *h, const float *x, double *z, double *probs)
{
	int			t = h->n_tags;

	for (int k = 0; k < t; k++)
	{
		const float *w = h->weights + (size_t) k * h->dim;
		double		s = h->bias[k];

		for (int d = 0; d < h->dim; d++)
			s += (double) w[d] * (((double) x[d] - h->mean[d]) * h->scale[d]);
		z[k] = s;
	}
	if (h->task == CV_TASK_MULTICLASS)
	{
		double		zmax = z[0],
					se = 0.0;

		for (int k = 1; k < t; k++)
			if (z[k] > zmax)
				zmax = z[k];
		for (int k = 0; k < t; k++)
			se += exp(z[k] - zmax);
		for (int k = 0; k < t; k++)
			probs[k] = exp(z[k] - zmax) / se;
	}
	else
	{
		double		none = 1.0;

		for (int k = 0; k < t; k++)
		{
			if (h->negative[k])
				continue;
			probs[k] = 1.0 / (1.0 + exp(-z[k]));
			none *= 1.0 - probs[k];
		}
		for (int k = 0; k < t; k++)
			if (h->negative[k])
				probs[k] = none;
	}
}

cv_status
cv_head_predict(const cv_head *h, const float *features, int n_views,
				float *probs, cv_error *err)
{
	double		z[CV_MAX_TAGS];
	double		p[CV_MAX_TAGS];
	double		acc[CV_MAX_TAGS];
	float	   *normed = NULL;
	int			views;

	if (h == NULL || features == NULL || probs == NULL || n_views < 1)
		return cv_fail(err, CV_ERR_PARAM, "invalid arguments to prediction");
	views = n_views < h->predict_views ? n_views : h->predict_views;
	if (views < 1)
		views = 1;
	for (size_t j = 0; j < (size_t) views * h->dim; j++)
		if (!isfinite(features[j]))
			return cv_fail(err, CV_ERR_DATA, "feature %zu is not finite", j % h->dim);
	if (h->norm != CV_NORM_NONE)
	{
		if (h->norm != CV_NORM_POWER_L2)
			return cv_fail(err, CV_ERR_PARAM, "unknown feature normalisation %d", (int) h->norm);
		normed = cv_malloc(sizeof(float) * (size_t) h->dim);
		if (normed == NULL)
			return cv_fail(err, CV_ERR_NOMEM, "out of memory for prediction");
	}
	for (int k = 0; k < h->n_tags; k++)
		acc[k] = 0.0;
	for (int v = 0; v < views; v++)
	{
		const float *x = features + (size_t) v * h->dim;

		if (normed != NULL)
		{
			cv_norm_apply(h->norm, x, h->dim, normed);
			x = normed;
		}
		predict_view(h, x, z, p);
		for (int k = 0; k < h->n_tags; k++)
			acc[k] += p[k];
	}
	cv_free(normed);
	for (int k = 0; k < h->n_tags; k++)
		probs[k] = (float) (acc[k] / views);
	return CV_OK;
}
