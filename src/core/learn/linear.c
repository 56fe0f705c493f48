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
 *
 * Speed: the rows are the caller's feature array itself (no standardised
 * copy; see objective()), and each weight row is applied to four rows per
 * load, which keeps the kernel from waiting on the cache.
 */
#include "linear.h"

#include <math.h>
#include <string.h>

#define LANES 8
#define GROUP 4					/* rows sharing each weight load */
#define BLOCK_ROWS 32			/* rows summed in float before double */
#define BIAS_SHRINK 0.01

typedef float v8f __attribute__((vector_size(LANES * sizeof(float))));

struct cv_linear_problem
{
	cv_task		task;
	int			n_tags;
	int			dim;
	int			n_images;
	int			stride_views;	/* views per image in the features array */
	int			n_views;		/* views used as rows (the first ones) */
	size_t		n_rows;
	const float **rows;			/* n_rows pointers into the caller's features */
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
	float	   *wf;				/* n_tags x dim: weights times scale */
	float	   *gblk;			/* n_tags x dim */
	double	   *gacc;			/* n_tags x dim */
};

/*
 * The vectors never cross a function boundary (their ABI differs with and
 * without AVX); memcpy makes the loads and stores alignment-free.  The
 * dim % 8 tail is summed after the lanes, in order.  Four rows at a time
 * are written out with named accumulators so they stay in registers.
 */
#define LOAD(v, p) memcpy(&(v), (p), sizeof(v))
#define HSUM(a) (((a)[0] + (a)[4]) + ((a)[1] + (a)[5])) + (((a)[2] + (a)[6]) + ((a)[3] + (a)[7]))

static inline void
dot_group(const float *w, const float *const *x, int g, int n, double *out)
{
	int			body = n - n % LANES;

	if (g == GROUP)
	{
		v8f			a0 = {0},
					a1 = {0},
					a2 = {0},
					a3 = {0};
		const float *x0 = x[0],
				   *x1 = x[1],
				   *x2 = x[2],
				   *x3 = x[3];

		for (int i = 0; i < body; i += LANES)
		{
			v8f			vw,
						v0,
						v1,
						v2,
						v3;

			LOAD(vw, w + i);
			LOAD(v0, x0 + i);
			LOAD(v1, x1 + i);
			LOAD(v2, x2 + i);
			LOAD(v3, x3 + i);
			a0 += vw * v0;
			a1 += vw * v1;
			a2 += vw * v2;
			a3 += vw * v3;
		}
		{
			float		s0 = HSUM(a0),
						s1 = HSUM(a1),
						s2 = HSUM(a2),
						s3 = HSUM(a3);

			for (int i = body; i < n; i++)
			{
				s0 += w[i] * x0[i];
				s1 += w[i] * x1[i];
				s2 += w[i] * x2[i];
				s3 += w[i] * x3[i];
			}
			out[0] = s0;
			out[1] = s1;
			out[2] = s2;
			out[3] = s3;
		}
		return;
	}
	for (int r = 0; r < g; r++)
	{
		v8f			a = {0};
		const float *xr = x[r];
		float		s;

		for (int i = 0; i < body; i += LANES)
		{
			v8f			vw,
						vx;

			LOAD(vw, w + i);
			LOAD(vx, xr + i);
			a += vw * vx;
		}
		s = HSUM(a);
		for (int i = body; i < n; i++)
			s += w[i] * xr[i];
		out[r] = s;
	}
}

/* y += sum_r a[r] * x[r], rows added in order */
static inline void
axpy_group(float *y, const float *a, const float *const *x, int g, int n)
{
	int			body = n - n % LANES;

	if (g == GROUP)
	{
		v8f			c0 = {a[0], a[0], a[0], a[0], a[0], a[0], a[0], a[0]},
					c1 = {a[1], a[1], a[1], a[1], a[1], a[1], a[1], a[1]},
					c2 = {a[2], a[2], a[2], a[2], a[2], a[2], a[2], a[2]},
					c3 = {a[3], a[3], a[3], a[3], a[3], a[3], a[3], a[3]};
		const float *x0 = x[0],
				   *x1 = x[1],
				   *x2 = x[2],
				   *x3 = x[3];

		for (int i = 0; i < body; i += LANES)
		{
			v8f			vy,
						v0,
						v1,
						v2,
						v3;

			LOAD(vy, y + i);
			LOAD(v0, x0 + i);
			LOAD(v1, x1 + i);
			LOAD(v2, x2 + i);
			LOAD(v3, x3 + i);
			vy += c0 * v0;
			vy += c1 * v1;
			vy += c2 * v2;
			vy += c3 * v3;
			memcpy(y + i, &vy, sizeof(vy));
		}
		for (int i = body; i < n; i++)
		{
			y[i] += a[0] * x0[i];
			y[i] += a[1] * x1[i];
			y[i] += a[2] * x2[i];
			y[i] += a[3] * x3[i];
		}
		return;
	}
	for (int r = 0; r < g; r++)
	{
		v8f			c = {a[r], a[r], a[r], a[r], a[r], a[r], a[r], a[r]};
		const float *xr = x[r];

		for (int i = 0; i < body; i += LANES)
		{
			v8f			vy,
						vx;

			LOAD(vy, y + i);
			LOAD(vx, xr + i);
			vy += c * vx;
			memcpy(y + i, &vy, sizeof(vy));
		}
		for (int i = body; i < n; i++)
			y[i] += a[r] * xr[i];
	}
}

void
cv_linear_free(cv_linear_problem *p)
{
	if (p == NULL)
		return;
	cv_free(p->rows);
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
			   int n_views, cv_linear_problem **out, cv_error *err)
{
	cv_linear_problem *p;
	int			t = data->n_tags;
	int			dim = data->dim;
	size_t		rows;
	double	   *sum = NULL;
	int		   *counts = NULL;

	*out = NULL;
	if (images == NULL)
		n_images = data->n_images;
	if (n_images <= 0)
		return cv_fail(err, CV_ERR_PARAM, "no images to train on");
	if (n_views < 1 || n_views > data->n_views)
		n_views = data->n_views;
	rows = (size_t) n_images * n_views;

	p = cv_calloc(1, sizeof(*p));
	if (p == NULL)
		return cv_fail(err, CV_ERR_NOMEM, "out of memory building the training problem");
	p->task = data->task;
	p->n_tags = t;
	p->dim = dim;
	p->n_images = n_images;
	p->stride_views = data->n_views;
	p->n_views = n_views;
	p->n_rows = rows;
	p->rows = cv_calloc(rows, sizeof(float *));
	p->mean = cv_calloc((size_t) dim, sizeof(float));
	p->scale = cv_calloc((size_t) dim, sizeof(float));
	p->labels = cv_calloc((size_t) n_images * t, 1);
	p->cls = cv_calloc((size_t) n_images, sizeof(int));
	p->img_w = cv_calloc((size_t) n_images, sizeof(double));
	p->pos_w = cv_calloc((size_t) t, sizeof(double));
	p->neg_w = cv_calloc((size_t) t, sizeof(double));
	p->learn = cv_calloc((size_t) t, sizeof(bool));
	p->negative = cv_calloc((size_t) t, sizeof(bool));
	p->wf = cv_calloc((size_t) t * dim, sizeof(float));
	p->gblk = cv_calloc((size_t) t * dim, sizeof(float));
	p->gacc = cv_calloc((size_t) t * dim, sizeof(double));
	sum = cv_calloc((size_t) dim * 2, sizeof(double));
	counts = cv_calloc((size_t) t, sizeof(int));
	if (p->rows == NULL || p->mean == NULL || p->scale == NULL || p->labels == NULL ||
		p->cls == NULL || p->img_w == NULL || p->pos_w == NULL || p->neg_w == NULL ||
		p->learn == NULL || p->negative == NULL || p->wf == NULL || p->gblk == NULL ||
		p->gacc == NULL || sum == NULL || counts == NULL)
	{
		cv_free(sum);
		cv_free(counts);
		cv_linear_free(p);
		return cv_fail(err, CV_ERR_NOMEM, "out of memory building the training problem");
	}

	/* labels, classes, weights, row pointers */
	for (int j = 0; j < n_images; j++)
	{
		int			i = images ? images[j] : j;

		memcpy(p->labels + (size_t) j * t, data->labels + (size_t) i * t, (size_t) t);
		p->cls[j] = class_of(data->labels + (size_t) i * t, t);
		for (int v = 0; v < n_views; v++)
			p->rows[(size_t) j * n_views + v] =
				data->features + ((size_t) i * data->n_views + v) * dim;
	}
	weights_from_counts(data, images, n_images, p->img_w, p->pos_w, p->neg_w, counts);
	for (int j = 0; j < n_images; j++)
		p->img_w[j] /= n_views;
	for (int k = 0; k < t; k++)
	{
		p->pos_w[k] /= n_views;
		p->neg_w[k] /= n_views;
		p->negative[k] = data->negative != NULL && data->negative[k];
		p->learn[k] = !(data->task == CV_TASK_MULTILABEL && p->negative[k]);
	}

	/* standardisation: two passes in row order, double sums */
	{
		double	   *mean = sum,
				   *var = sum + dim;

		for (size_t r = 0; r < rows; r++)
			for (int d = 0; d < dim; d++)
				mean[d] += p->rows[r][d];
		for (int d = 0; d < dim; d++)
			mean[d] /= (double) rows;
		for (size_t r = 0; r < rows; r++)
			for (int d = 0; d < dim; d++)
			{
				double		c = p->rows[r][d] - mean[d];

				var[d] += c * c;
			}
		for (int d = 0; d < dim; d++)
		{
			double		v = var[d] / (double) rows;

			p->mean[d] = (float) mean[d];
			/* a floor keeps near-constant features from exploding */
			p->scale[d] = v > 1e-12 ? (float) (1.0 / sqrt(v + 1e-6)) : 0.0f;
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
	return p->n_tags * (p->dim + 1);
}

double
cv_linear_cost(const cv_linear_problem *p)
{
	return (double) p->n_rows * p->n_tags * p->dim;
}

/* log(1 + exp(z)) without overflow */
static inline double
softplus(double z)
{
	return z > 0.0 ? z + log1p(exp(-z)) : log1p(exp(z));
}

/*
 * Loss of one row and its residuals r[k] = dloss/dz_k (class weight
 * included); returns the weighted loss.
 */
static inline double
row_loss(const cv_linear_problem *p, size_t row, const double *z, float *r)
{
	int			t = p->n_tags;
	int			img = (int) (row / p->n_views);
	double		f = 0.0;

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
		f = w * (lse - z[y]);
		for (int k = 0; k < t; k++)
			r[k] = (float) (w * (exp(z[k] - lse) - (k == y ? 1.0 : 0.0)));
	}
	else
	{
		const uint8_t *lab = p->labels + (size_t) img * t;

		for (int k = 0; k < t; k++)
		{
			double		w;

			if (!p->learn[k])
			{
				r[k] = 0.0f;
				continue;
			}
			w = lab[k] ? p->pos_w[k] : p->neg_w[k];
			f += w * (softplus(z[k]) - (lab[k] ? z[k] : 0.0));
			r[k] = (float) (w * (1.0 / (1.0 + exp(-z[k])) - (lab[k] ? 1.0 : 0.0)));
		}
	}
	return f;
}

/*
 * The rows are the caller's raw features; the standardisation is folded
 * into the weights: with W' = W * scale (per column) and
 * c = b - W' . mean, z = W' x + c equals W ((x - mean) * scale) + b, and
 * the gradient is dW_kj = scale_j (sum r_k x_j - mean_j sum r_k).
 */
static cv_status
objective(void *arg, const double *theta, double *f_out, double *g,
		  cv_error *err)
{
	cv_linear_problem *p = arg;
	int			t = p->n_tags,
				dim = p->dim;
	const double *bias = theta + (size_t) t * dim;
	double		f = 0.0;
	double		c[CV_MAX_TAGS];
	double		gb[CV_MAX_TAGS];
	double		z[GROUP][CV_MAX_TAGS];
	float		r[GROUP][CV_MAX_TAGS];
	double		norm = 1.0 / p->n_images;
	double		reg = 0.0,
				breg = 0.0;

	for (int k = 0; k < t; k++)
	{
		double		cm = 0.0;

		for (int d = 0; d < dim; d++)
		{
			size_t		j = (size_t) k * dim + d;

			p->wf[j] = (float) (theta[j] * p->scale[d]);
			cm += (double) p->wf[j] * p->mean[d];
			p->gacc[j] = 0.0;
		}
		c[k] = bias[k] - cm;
		gb[k] = 0.0;
	}

	for (size_t start = 0; start < p->n_rows; start += BLOCK_ROWS)
	{
		size_t		end = start + BLOCK_ROWS < p->n_rows ? start + BLOCK_ROWS : p->n_rows;

		memset(p->gblk, 0, sizeof(float) * (size_t) t * dim);
		for (size_t row = start; row < end; row += GROUP)
		{
			int			g_rows = end - row < GROUP ? (int) (end - row) : GROUP;
			const float *const *x = p->rows + row;

			for (int k = 0; k < t; k++)
			{
				double		dots[GROUP];

				if (!p->learn[k])
				{
					for (int q = 0; q < g_rows; q++)
						z[q][k] = 0.0;
					continue;
				}
				dot_group(p->wf + (size_t) k * dim, x, g_rows, dim, dots);
				for (int q = 0; q < g_rows; q++)
					z[q][k] = dots[q] + c[k];
			}
			for (int q = 0; q < g_rows; q++)
				f += row_loss(p, row + q, z[q], r[q]);
			for (int k = 0; k < t; k++)
			{
				float		a[GROUP];

				if (!p->learn[k])
					continue;
				for (int q = 0; q < g_rows; q++)
				{
					a[q] = r[q][k];
					gb[k] += r[q][k];
				}
				axpy_group(p->gblk + (size_t) k * dim, a, x, g_rows, dim);
			}
		}
		for (size_t j = 0; j < (size_t) t * dim; j++)
			p->gacc[j] += p->gblk[j];
	}

	for (int k = 0; k < t; k++)
	{
		for (int d = 0; d < dim; d++)
		{
			size_t		j = (size_t) k * dim + d;

			reg += theta[j] * theta[j];
			g[j] = p->learn[k] ?
				p->scale[d] * (p->gacc[j] - p->mean[d] * gb[k]) * norm + p->lambda * theta[j] : 0.0;
		}
		breg += bias[k] * bias[k];
		g[(size_t) t * dim + k] = p->learn[k] ?
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
			h->weights[(size_t) k * p->dim + d] = (float) theta[(size_t) k * p->dim + d];
		h->bias[k] = (float) theta[(size_t) p->n_tags * p->dim + k];
	}
	*out = h;
	return CV_OK;
}
