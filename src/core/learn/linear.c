/*
 * linear.c
 *	  Standardisation, class weighting and the objective of the linear
 *	  heads, evaluated with fixed-order float kernels.
 *
 * Objective (N images in the subset, V views each, one row per view):
 *
 *	 multiclass	 (1/N) sum_rows (w_i / V) * -log softmax(z)[y_i]
 *	 multilabel	 (1/N) sum_rows (1 / V) sum_k w_ik * BCE(sigmoid(z_k), y_ik)
 *	   + (lambda / 2) |W|^2 + (lambda / 200) |b|^2
 *
 * with z = W x' + b on standardised rows x'.  Inverse-frequency weights:
 * multiclass w_i = N / (C n_{y_i}) over the C tags present, so every tag
 * weighs as much as any other whatever its count (a 10:1 imbalance does not
 * collapse the small tag); multilabel positives of tag k weigh N / (2 P_k)
 * and its negatives N / (2 (N - P_k)), so each tag is balanced on its own.
 * The small bias penalty only keeps the bias finite when a tag is on every
 * (or no) image of a fold.
 *
 * Multilabel negative tags are not learnt: their rows stay zero, and their
 * images, whose other targets are all zero, push every tag down.
 *
 * Determinism: rows are visited in order; per-row dot products use eight
 * float lanes combined in a fixed order (GCC vector extension, the same
 * arithmetic with or without SIMD), gradients are summed in float over
 * blocks of 32 rows and then added in double.  No threads, no BLAS, so the
 * result does not depend on thread counts or BLAS kernels.
 */
#include "linear.h"

#include <math.h>
#include <string.h>

#define LANES 8
#define BLOCK_ROWS 32
#define BIAS_SHRINK 0.01

typedef float v8f __attribute__((vector_size(LANES * sizeof(float))));

struct cv_linear_problem
{
	cv_task		task;
	int			n_tags;
	int			dim;
	int			dp;				/* dim padded to LANES */
	int			n_images;
	int			n_views;
	size_t		n_rows;
	float	   *x;				/* n_rows x dp standardised, padding zero */
	float	   *mean;			/* dim */
	float	   *scale;			/* dim */
	uint8_t    *labels;			/* n_images x n_tags */
	int		   *cls;			/* multiclass: tag per image */
	double	   *img_w;			/* multiclass: weight per image / V */
	double	   *pos_w;			/* multilabel: per tag, / V */
	double	   *neg_w;
	bool	   *learn;			/* n_tags: false for multilabel negatives */
	bool	   *negative;		/* n_tags: the tags' negative flags */
	double		lambda;
	/* scratch for evaluations */
	float	   *wf;				/* n_tags x dp */
	float	   *gblk;			/* n_tags x dp */
	double	   *gacc;			/* n_tags x dp */
};

/*
 * The vectors never cross a function boundary (their ABI differs with and
 * without AVX); memcpy makes the loads and stores alignment-free.
 */
static inline float
dot_lanes(const float *a, const float *b, int n)
{
	v8f			acc = {0};

	for (int i = 0; i < n; i += LANES)
	{
		v8f			va,
					vb;

		memcpy(&va, a + i, sizeof(va));
		memcpy(&vb, b + i, sizeof(vb));
		acc += va * vb;
	}
	return ((acc[0] + acc[4]) + (acc[1] + acc[5])) +
		((acc[2] + acc[6]) + (acc[3] + acc[7]));
}

static inline void
axpy_lanes(float *y, float a, const float *x, int n)
{
	v8f			av = {a, a, a, a, a, a, a, a};

	for (int i = 0; i < n; i += LANES)
	{
		v8f			vx,
					vy;

		memcpy(&vx, x + i, sizeof(vx));
		memcpy(&vy, y + i, sizeof(vy));
		vy += av * vx;
		memcpy(y + i, &vy, sizeof(vy));
	}
}

void
cv_linear_free(cv_linear_problem *p)
{
	if (p == NULL)
		return;
	cv_free(p->x);
	cv_free(p->mean);
	cv_free(p->scale);
	cv_free(p->labels);
	cv_free(p->cls);
	cv_free(p->img_w);
	cv_free(p->pos_w);
	cv_free(p->neg_w);
	cv_free(p->learn);
	cv_free(p->negative);
	cv_free(p->wf);
	cv_free(p->gblk);
	cv_free(p->gacc);
	cv_free(p);
}

/* Tag of a multiclass image (cv_dataset_check made sure there is one). */
static int
class_of(const uint8_t *row, int n_tags)
{
	for (int k = 0; k < n_tags; k++)
		if (row[k])
			return k;
	return 0;
}

/* Weights from label counts of the listed images; see the file header. */
static void
weights_from_counts(const cv_dataset *data, const int *images, int n,
					double *img_w, double *pos_w, double *neg_w,
					int *counts)
{
	int			present = 0;

	memset(counts, 0, sizeof(int) * data->n_tags);
	for (int j = 0; j < n; j++)
	{
		const uint8_t *row = data->labels + (size_t) (images ? images[j] : j) * data->n_tags;

		for (int k = 0; k < data->n_tags; k++)
			counts[k] += row[k] != 0;
	}
	if (data->task == CV_TASK_MULTICLASS)
	{
		for (int k = 0; k < data->n_tags; k++)
			present += counts[k] > 0;
		for (int j = 0; j < n; j++)
		{
			const uint8_t *row = data->labels + (size_t) (images ? images[j] : j) * data->n_tags;
			int			c = class_of(row, data->n_tags);

			img_w[j] = (double) n / ((double) present * counts[c]);
		}
	}
	else
	{
		for (int k = 0; k < data->n_tags; k++)
		{
			int			pos = counts[k],
						neg = n - counts[k];

			pos_w[k] = pos > 0 ? (neg > 0 ? n / (2.0 * pos) : 1.0) : 0.0;
			neg_w[k] = neg > 0 ? (pos > 0 ? n / (2.0 * neg) : 1.0) : 0.0;
		}
	}
}

cv_status
cv_linear_image_weights(const cv_dataset *data, double *w, cv_error *err)
{
	int			n = data->n_images,
				t = data->n_tags;
	double	   *img_w = cv_calloc((size_t) n, sizeof(double));
	double	   *pos_w = cv_calloc((size_t) t, sizeof(double));
	double	   *neg_w = cv_calloc((size_t) t, sizeof(double));
	int		   *counts = cv_calloc((size_t) t, sizeof(int));

	if (img_w == NULL || pos_w == NULL || neg_w == NULL || counts == NULL)
	{
		cv_free(img_w);
		cv_free(pos_w);
		cv_free(neg_w);
		cv_free(counts);
		return cv_fail(err, CV_ERR_NOMEM, "out of memory weighting tags");
	}
	weights_from_counts(data, NULL, n, img_w, pos_w, neg_w, counts);
	for (int i = 0; i < n; i++)
		for (int k = 0; k < t; k++)
		{
			if (data->task == CV_TASK_MULTICLASS)
				w[(size_t) i * t + k] = img_w[i];
			else
				w[(size_t) i * t + k] = data->labels[(size_t) i * t + k] ? pos_w[k] : neg_w[k];
		}
	cv_free(img_w);
	cv_free(pos_w);
	cv_free(neg_w);
	cv_free(counts);
	return CV_OK;
}

cv_status
cv_linear_make(const cv_dataset *data, const int *images, int n_images,
			   cv_linear_problem **out, cv_error *err)
{
	cv_linear_problem *p;
	int			t = data->n_tags;
	int			dim = data->dim;
	int			dp = (dim + LANES - 1) / LANES * LANES;
	size_t		rows,
				cells;
	double	   *sum = NULL;
	int		   *counts = NULL;

	*out = NULL;
	if (images == NULL)
		n_images = data->n_images;
	if (n_images <= 0)
		return cv_fail(err, CV_ERR_PARAM, "no images to train on");
	rows = (size_t) n_images * data->n_views;
	if (!cv_mul_size(rows, (size_t) dp, &cells) || cells > ((size_t) 1 << 34))
		return cv_fail(err, CV_ERR_LIMIT, "training set too large: %zu rows of %d features",
					   rows, dim);

	p = cv_calloc(1, sizeof(*p));
	if (p == NULL)
		return cv_fail(err, CV_ERR_NOMEM, "out of memory building the training problem");
	p->task = data->task;
	p->n_tags = t;
	p->dim = dim;
	p->dp = dp;
	p->n_images = n_images;
	p->n_views = data->n_views;
	p->n_rows = rows;
	p->x = cv_malloc(cells * sizeof(float));
	p->mean = cv_calloc((size_t) dim, sizeof(float));
	p->scale = cv_calloc((size_t) dim, sizeof(float));
	p->labels = cv_calloc((size_t) n_images * t, 1);
	p->cls = cv_calloc((size_t) n_images, sizeof(int));
	p->img_w = cv_calloc((size_t) n_images, sizeof(double));
	p->pos_w = cv_calloc((size_t) t, sizeof(double));
	p->neg_w = cv_calloc((size_t) t, sizeof(double));
	p->learn = cv_calloc((size_t) t, sizeof(bool));
	p->negative = cv_calloc((size_t) t, sizeof(bool));
	p->wf = cv_calloc((size_t) t * dp, sizeof(float));
	p->gblk = cv_calloc((size_t) t * dp, sizeof(float));
	p->gacc = cv_calloc((size_t) t * dp, sizeof(double));
	sum = cv_calloc((size_t) dim * 2, sizeof(double));
	counts = cv_calloc((size_t) t, sizeof(int));
	if (p->x == NULL || p->mean == NULL || p->scale == NULL || p->labels == NULL ||
		p->cls == NULL || p->img_w == NULL || p->pos_w == NULL || p->neg_w == NULL ||
		p->learn == NULL || p->negative == NULL || p->wf == NULL || p->gblk == NULL || p->gacc == NULL ||
		sum == NULL || counts == NULL)
	{
		cv_free(sum);
		cv_free(counts);
		cv_linear_free(p);
		return cv_fail(err, CV_ERR_NOMEM, "out of memory building the training problem");
	}

	/* labels, classes, weights */
	for (int j = 0; j < n_images; j++)
	{
		int			i = images ? images[j] : j;

		memcpy(p->labels + (size_t) j * t, data->labels + (size_t) i * t, (size_t) t);
		p->cls[j] = class_of(data->labels + (size_t) i * t, t);
	}
	weights_from_counts(data, images, n_images, p->img_w, p->pos_w, p->neg_w, counts);
	for (int j = 0; j < n_images; j++)
		p->img_w[j] /= data->n_views;
	for (int k = 0; k < t; k++)
	{
		p->pos_w[k] /= data->n_views;
		p->neg_w[k] /= data->n_views;
		p->negative[k] = data->negative != NULL && data->negative[k];
		p->learn[k] = !(data->task == CV_TASK_MULTILABEL && p->negative[k]);
	}

	/* standardisation: two passes in row order, double sums */
	{
		double	   *mean = sum,
				   *var = sum + dim;

		for (int j = 0; j < n_images; j++)
		{
			int			i = images ? images[j] : j;

			for (int v = 0; v < data->n_views; v++)
			{
				const float *f = data->features + ((size_t) i * data->n_views + v) * dim;

				for (int d = 0; d < dim; d++)
					mean[d] += f[d];
			}
		}
		for (int d = 0; d < dim; d++)
			mean[d] /= (double) rows;
		for (int j = 0; j < n_images; j++)
		{
			int			i = images ? images[j] : j;

			for (int v = 0; v < data->n_views; v++)
			{
				const float *f = data->features + ((size_t) i * data->n_views + v) * dim;

				for (int d = 0; d < dim; d++)
				{
					double		c = f[d] - mean[d];

					var[d] += c * c;
				}
			}
		}
		for (int d = 0; d < dim; d++)
		{
			double		v = var[d] / (double) rows;

			p->mean[d] = (float) mean[d];
			/* a floor keeps near-constant features from exploding */
			p->scale[d] = v > 1e-12 ? (float) (1.0 / sqrt(v + 1e-6)) : 0.0f;
		}
	}
	for (int j = 0; j < n_images; j++)
	{
		int			i = images ? images[j] : j;

		for (int v = 0; v < data->n_views; v++)
		{
			const float *f = data->features + ((size_t) i * data->n_views + v) * dim;
			float	   *x = p->x + ((size_t) j * data->n_views + v) * dp;

			for (int d = 0; d < dim; d++)
				x[d] = (f[d] - p->mean[d]) * p->scale[d];
			for (int d = dim; d < dp; d++)
				x[d] = 0.0f;
		}
	}
	cv_free(sum);
	cv_free(counts);
	*out = p;
	return CV_OK;
}

int
cv_linear_param_count(const cv_linear_problem *p)
{
	return p->n_tags * (p->dp + 1);
}

double
cv_linear_cost(const cv_linear_problem *p)
{
	return (double) p->n_rows * p->n_tags * p->dp;
}

/* log(1 + exp(z)) without overflow */
static inline double
softplus(double z)
{
	return z > 0.0 ? z + log1p(exp(-z)) : log1p(exp(z));
}

static cv_status
objective(void *arg, const double *theta, double *f_out, double *g,
		  cv_error *err)
{
	cv_linear_problem *p = arg;
	int			t = p->n_tags,
				dp = p->dp;
	const double *bias = theta + (size_t) t * dp;
	double		f = 0.0;
	double		gb[CV_MAX_TAGS];
	double		z[CV_MAX_TAGS];
	float		r[CV_MAX_TAGS];
	double		norm = 1.0 / p->n_images;
	double		reg = 0.0,
				breg = 0.0;

	for (size_t j = 0; j < (size_t) t * dp; j++)
	{
		p->wf[j] = (float) theta[j];
		p->gacc[j] = 0.0;
	}
	for (int k = 0; k < t; k++)
		gb[k] = 0.0;

	for (size_t start = 0; start < p->n_rows; start += BLOCK_ROWS)
	{
		size_t		end = start + BLOCK_ROWS < p->n_rows ? start + BLOCK_ROWS : p->n_rows;

		memset(p->gblk, 0, sizeof(float) * (size_t) t * dp);
		for (size_t row = start; row < end; row++)
		{
			const float *x = p->x + row * dp;
			int			img = (int) (row / p->n_views);

			for (int k = 0; k < t; k++)
				z[k] = p->learn[k] ? dot_lanes(p->wf + (size_t) k * dp, x, dp) + bias[k] : 0.0;

			if (p->task == CV_TASK_MULTICLASS)
			{
				double		zmax = z[0],
							se = 0.0,
							lse;
				int			y = p->cls[img];
				double		w = p->img_w[img];

				for (int k = 1; k < t; k++)
					if (z[k] > zmax)
						zmax = z[k];
				for (int k = 0; k < t; k++)
					se += exp(z[k] - zmax);
				lse = zmax + log(se);
				f += w * (lse - z[y]);
				for (int k = 0; k < t; k++)
				{
					double		pk = exp(z[k] - lse);

					r[k] = (float) (w * (pk - (k == y ? 1.0 : 0.0)));
				}
			}
			else
			{
				const uint8_t *lab = p->labels + (size_t) img * t;

				for (int k = 0; k < t; k++)
				{
					double		w,
								pk;

					if (!p->learn[k])
					{
						r[k] = 0.0f;
						continue;
					}
					w = lab[k] ? p->pos_w[k] : p->neg_w[k];
					pk = 1.0 / (1.0 + exp(-z[k]));
					f += w * (softplus(z[k]) - (lab[k] ? z[k] : 0.0));
					r[k] = (float) (w * (pk - (lab[k] ? 1.0 : 0.0)));
				}
			}
			for (int k = 0; k < t; k++)
			{
				if (r[k] != 0.0f)
					axpy_lanes(p->gblk + (size_t) k * dp, r[k], x, dp);
				gb[k] += r[k];
			}
		}
		for (size_t j = 0; j < (size_t) t * dp; j++)
			p->gacc[j] += p->gblk[j];
	}

	for (int k = 0; k < t; k++)
	{
		for (int d = 0; d < dp; d++)
		{
			size_t		j = (size_t) k * dp + d;

			reg += theta[j] * theta[j];
			g[j] = p->learn[k] ? p->gacc[j] * norm + p->lambda * theta[j] : 0.0;
		}
		breg += bias[k] * bias[k];
		g[(size_t) t * dp + k] = p->learn[k] ?
			gb[k] * norm + p->lambda * BIAS_SHRINK * bias[k] : 0.0;
	}
	f = f * norm + 0.5 * p->lambda * reg + 0.5 * p->lambda * BIAS_SHRINK * breg;
	if (!isfinite(f))
		return cv_fail(err, CV_ERR_DATA, "training objective is not finite");
	*f_out = f;
	return CV_OK;
}

cv_status
cv_linear_solve(cv_linear_problem *p, double lambda, double *theta,
				cv_tick_fn tick, void *tick_arg, int *iterations,
				cv_error *err)
{
	cv_lbfgs_options opt = {
		.max_iter = 300,
		.history = 10,
		.gtol = 1e-5,
		.ftol = 1e-7,
	};

	if (!(lambda > 0.0))
		return cv_fail(err, CV_ERR_PARAM, "l2 strength must be positive");
	p->lambda = lambda;
	return cv_lbfgs_minimize(cv_linear_param_count(p), theta, objective, p,
							 &opt, tick, tick_arg, iterations, err);
}

cv_status
cv_linear_to_head(const cv_linear_problem *p, const double *theta,
				  double lambda, int predict_views, cv_head **out,
				  cv_error *err)
{
	cv_head    *h = cv_head_alloc(p->task, p->n_tags, p->dim);

	*out = NULL;
	if (h == NULL)
		return cv_fail(err, CV_ERR_NOMEM, "out of memory building a head");
	h->predict_views = predict_views;
	h->lambda = (float) lambda;
	memcpy(h->mean, p->mean, sizeof(float) * p->dim);
	memcpy(h->scale, p->scale, sizeof(float) * p->dim);
	for (int k = 0; k < p->n_tags; k++)
	{
		h->negative[k] = p->negative[k];
		for (int d = 0; d < p->dim; d++)
			h->weights[(size_t) k * p->dim + d] = (float) theta[(size_t) k * p->dp + d];
		h->bias[k] = (float) theta[(size_t) p->n_tags * p->dp + k];
	}
	*out = h;
	return CV_OK;
}
