/*
 * test_learn_head.c
 *	  The linear heads and the cross-validated trainer on small synthetic
 *	  data: separable classes, a 10:1 imbalance, multilabel with a negative
 *	  tag, truly held-out probabilities, determinism, progress and cancel,
 *	  and the data checks.
 */
#include "unit.h"
#include "learn/augment.h"
#include "learn/head.h"
#include "learn/train.h"
#include "learn/metrics.h"

#include <stdint.h>
#include <string.h>

/* Deterministic normal samples (xorshift64 + Box-Muller). */
static uint64_t rng_state;

static double
uniform01(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return ((rng_state >> 11) + 0.5) / 9007199254740992.0;
}

static double
normal(void)
{
	double		u = uniform01(),
				v = uniform01();

	return sqrt(-2.0 * log(u)) * cos(2.0 * M_PI * v);
}

static int
argmax(const float *p, int n)
{
	int			a = 0;

	for (int k = 1; k < n; k++)
		if (p[k] > p[a])
			a = k;
	return a;
}

/* n images, 1 view, dim features; class c centred at centres[c]. */
static void
make_blobs(int n, int dim, int n_tags, const int *cls, double spread,
		   const double *centres, float *x, uint8_t *labels)
{
	for (int i = 0; i < n; i++)
	{
		for (int d = 0; d < dim; d++)
			x[(size_t) i * dim + d] = (float) (centres[cls[i] * dim + d] + spread * normal());
		for (int k = 0; k < n_tags; k++)
			labels[(size_t) i * n_tags + k] = k == cls[i];
	}
}

static void
test_separable_multiclass(void)
{
	enum {N = 60, D = 4, T = 3};
	double		centres[T * D] = {3, 0, 0, 0, 0, 3, 0, 0, 0, 0, 3, 0};
	int			cls[N];
	float		x[N * D];
	uint8_t		l[N * T];
	cv_dataset	d = {CV_TASK_MULTICLASS, N, 1, D, T, x, l, NULL};
	cv_head    *h = NULL;
	cv_error	err;
	int			correct = 0;

	rng_state = 42;
	for (int i = 0; i < N; i++)
		cls[i] = i % T;
	make_blobs(N, D, T, cls, 0.3, centres, x, l);
	CHECK(cv_head_fit(&d, NULL, 0, 0.01, 1, NULL, NULL, &h, &err) == CV_OK);
	if (h == NULL)
		return;
	for (int i = 0; i < N; i++)
	{
		float		p[T];

		CHECK(cv_head_predict(h, x + i * D, 1, p, &err) == CV_OK);
		CHECK_NEAR(p[0] + p[1] + p[2], 1.0, 1e-5);
		if (argmax(p, T) == cls[i] && p[cls[i]] > 0.8f)
			correct++;
	}
	CHECK(correct == N);
	cv_head_free(h);
}

/*
 * 1-D classes N(0,1) (200 images) and N(1.5,1) (20 images).  Unweighted
 * logistic regression puts the boundary near x = 2.3 (prior 10:1) and
 * recalls about 20% of the small class; inverse-frequency weights move it
 * to about 0.75 and recall about 75%.
 */
static void
test_imbalance_recovers_small_class(void)
{
	enum {N = 220, D = 1, T = 2, NT = 4000};
	double		centres[T * D] = {0.0, 1.5};
	int		   *cls = calloc(N, sizeof(int));
	float	   *x = calloc(N * D, sizeof(float));
	uint8_t    *l = calloc(N * T, 1);
	cv_dataset	d = {CV_TASK_MULTICLASS, N, 1, D, T, x, l, NULL};
	cv_head    *h = NULL;
	cv_train_result res;
	cv_error	err;
	int			found = 0;

	rng_state = 7;
	for (int i = 0; i < N; i++)
		cls[i] = i % 11 == 10;	/* 20 of 220 */
	make_blobs(N, D, T, cls, 1.0, centres, x, l);
	CHECK(cv_head_fit(&d, NULL, 0, 0.001, 1, NULL, NULL, &h, &err) == CV_OK);
	if (h != NULL)
	{
		for (int i = 0; i < NT; i++)
		{
			float		f = (float) (1.5 + normal());
			float		p[T];

			CHECK(cv_head_predict(h, &f, 1, p, &err) == CV_OK);
			found += p[1] >= 0.5f;
		}
		CHECK_MSG(found > NT * 0.6, "small-class recall %.3f", (double) found / NT);
		cv_head_free(h);
	}

	/* the full trainer: its held-out recall of the small class too */
	CHECK(cv_train(&d, NULL, &res, &err) == CV_OK);
	if (res.head != NULL)
	{
		cv_tag_metrics tm[T];

		CHECK(cv_metrics_compute(CV_TASK_MULTICLASS, res.holdout, l, NULL, N, T, 0.5,
								 tm, NULL, &err) == CV_OK);
		CHECK_MSG(tm[1].recall >= 0.6, "held-out small-class recall %.3f", tm[1].recall);
		CHECK(tm[1].positives == 20);
		CHECK(res.n_folds == 5);
	}
	cv_train_result_free(&res);
	free(cls);
	free(x);
	free(l);
}

/*
 * Tags A (x near (1,0)), B (near (0,1)) and a negative tag for images near
 * (0,0).  Without the negative images, A and B would be separated from
 * each other only and (0,0) would sit on the boundary at p = 0.5; the
 * all-zero targets of the negative images push both down there.
 */
static void
test_multilabel_with_negative(void)
{
	enum {N = 90, D = 2, T = 3};
	float		x[N * D];
	uint8_t		l[N * T] = {0};
	bool		neg[T] = {false, false, true};
	cv_dataset	d = {CV_TASK_MULTILABEL, N, 1, D, T, x, l, neg};
	cv_train_result res;
	cv_error	err;
	float		origin[D] = {0.0f, 0.0f};
	float		a[D] = {1.0f, 0.0f};
	float		p[T];

	rng_state = 99;
	for (int i = 0; i < N; i++)
	{
		int			kind = i % 3;

		x[i * D] = (float) ((kind == 0 ? 1.0 : 0.0) + 0.15 * normal());
		x[i * D + 1] = (float) ((kind == 1 ? 1.0 : 0.0) + 0.15 * normal());
		l[i * T + kind] = 1;
	}
	CHECK(cv_train(&d, NULL, &res, &err) == CV_OK);
	if (res.head == NULL)
		return;
	/* the negative tag is not learnt: zero row */
	CHECK(res.head->negative[2]);
	CHECK(res.head->weights[2 * D] == 0.0f && res.head->weights[2 * D + 1] == 0.0f &&
		  res.head->bias[2] == 0.0f);

	CHECK(cv_head_predict(res.head, origin, 1, p, &err) == CV_OK);
	CHECK_MSG(p[0] < 0.2f && p[1] < 0.2f, "p(A)=%g p(B)=%g at the origin", p[0], p[1]);
	CHECK_NEAR(p[2], (1.0 - p[0]) * (1.0 - p[1]), 1e-6);
	CHECK(p[2] > 0.6f);
	CHECK(cv_head_predict(res.head, a, 1, p, &err) == CV_OK);
	CHECK(p[0] > 0.8f && p[1] < 0.2f && p[2] < 0.2f);

	/* an image carrying the negative tag and another is refused */
	l[0 * T + 2] = 1;
	{
		cv_train_result bad;

		CHECK(cv_train(&d, NULL, &bad, &err) == CV_ERR_PARAM);
		CHECK(bad.head == NULL);
	}
	cv_train_result_free(&res);
}

/* Multiclass: the negative tag is an ordinary class that can win. */
static void
test_multiclass_negative_is_an_answer(void)
{
	enum {N = 60, D = 2, T = 3};
	double		centres[T * D] = {2, 0, 0, 2, -2, -2};
	int			cls[N];
	float		x[N * D];
	uint8_t		l[N * T];
	bool		neg[T] = {false, false, true};
	cv_dataset	d = {CV_TASK_MULTICLASS, N, 1, D, T, x, l, neg};
	cv_train_result res;
	cv_error	err;
	float		q[D] = {-2.0f, -2.0f};
	float		p[T];

	rng_state = 5;
	for (int i = 0; i < N; i++)
		cls[i] = i % T;
	make_blobs(N, D, T, cls, 0.3, centres, x, l);
	CHECK(cv_train(&d, NULL, &res, &err) == CV_OK);
	if (res.head == NULL)
		return;
	CHECK(cv_head_predict(res.head, q, 1, p, &err) == CV_OK);
	CHECK(argmax(p, T) == 2 && p[2] > 0.8f);
	CHECK(res.head->bias[2] != 0.0f);	/* learnt like the others */
	cv_train_result_free(&res);
}

/*
 * Random labels on random high-dimensional features: the final head
 * memorises its training set, but the held-out probabilities must be no
 * better than chance, which they would not be if they leaked.
 */
static void
test_holdout_is_held_out(void)
{
	enum {N = 60, D = 200, T = 2};
	float	   *x = calloc(N * D, sizeof(float));
	uint8_t		l[N * T];
	cv_dataset	d = {CV_TASK_MULTICLASS, N, 1, D, T, x, l, NULL};
	cv_train_options opt;
	cv_train_result res;
	cv_error	err;
	int			train_ok = 0,
				held_ok = 0;

	rng_state = 1234;
	for (int i = 0; i < N * D; i++)
		x[i] = (float) normal();
	for (int i = 0; i < N; i++)
	{
		int			c = uniform01() < 0.5;

		l[i * T] = c == 0;
		l[i * T + 1] = c == 1;
	}
	cv_train_options_init(&opt);
	opt.n_lambdas = 1;
	opt.lambdas[0] = 1e-4;
	CHECK(cv_train(&d, &opt, &res, &err) == CV_OK);
	if (res.head == NULL)
		return;
	for (int i = 0; i < N; i++)
	{
		float		p[T];
		int			truth = l[i * T + 1];

		CHECK(cv_head_predict(res.head, x + (size_t) i * D, 1, p, &err) == CV_OK);
		train_ok += argmax(p, T) == truth;
		held_ok += argmax(res.holdout + i * T, T) == truth;
	}
	CHECK(train_ok == N);
	CHECK_MSG(held_ok < N * 0.75, "held-out accuracy %d/%d on random labels", held_ok, N);
	cv_train_result_free(&res);
	free(x);
}

/* Folds by image, stratified, and views never split across folds. */
static void
test_folds_and_views(void)
{
	enum {N = 40, V = 3, D = 3, T = 2};
	float		x[N * V * D];
	uint8_t		l[N * T];
	cv_dataset	d = {CV_TASK_MULTICLASS, N, V, D, T, x, l, NULL};
	cv_train_result res;
	cv_error	err;
	int			per_fold[5][T] = {{0}};

	rng_state = 3;
	for (int i = 0; i < N; i++)
	{
		int			c = i < 30;		/* 30 vs 10 */

		l[i * T] = c == 0;
		l[i * T + 1] = c == 1;
		for (int v = 0; v < V; v++)
			for (int k = 0; k < D; k++)
				x[(i * V + v) * D + k] = (float) ((k == c) * 2.0 + 0.5 * normal());
	}
	CHECK(cv_train(&d, NULL, &res, &err) == CV_OK);
	if (res.head == NULL)
		return;
	CHECK(res.n_folds == 5);
	for (int i = 0; i < N; i++)
	{
		CHECK(res.fold[i] >= 0 && res.fold[i] < 5);
		per_fold[res.fold[i]][l[i * T + 1]]++;
	}
	for (int f = 0; f < 5; f++)
		CHECK(per_fold[f][0] == 2 && per_fold[f][1] == 6);
	cv_train_result_free(&res);

	/* k is capped by the smallest tag: 3 images -> 3 folds */
	for (int i = 0; i < N; i++)
	{
		l[i * T] = i >= 3;
		l[i * T + 1] = i < 3;
	}
	CHECK(cv_train(&d, NULL, &res, &err) == CV_OK);
	CHECK(res.n_folds == 3);
	cv_train_result_free(&res);
}

typedef struct progress_log
{
	int			calls;
	int			cancel_at;		/* 0: never */
	double		last;
	bool		monotonic;
} progress_log;

static bool
log_progress(void *arg, double f)
{
	progress_log *pl = arg;

	if (f < pl->last || f < 0.0 || f > 1.0)
		pl->monotonic = false;
	pl->last = f;
	pl->calls++;
	return pl->cancel_at == 0 || pl->calls < pl->cancel_at;
}

/*
 * Views per image by domain: the compact domain's default (4), a backbone's
 * 2, an out-of-range setting falling back to the default, and the row
 * budget lowering the count for large projects but never below 1.
 */
static void
test_train_views_by_domain(void)
{
	cv_feature_extractor compact_like;
	cv_feature_extractor backbone_like;

	memset(&compact_like, 0, sizeof(compact_like));
	memset(&backbone_like, 0, sizeof(backbone_like));
	backbone_like.train_views = CV_AUGMENT_BACKBONE_VIEWS;
	CHECK(cv_train_views(&compact_like, 100) == CV_AUGMENT_TRAIN_VIEWS);
	CHECK(cv_train_views(&backbone_like, 100) == 2);
	backbone_like.train_views = CV_AUGMENT_MAX_VIEWS + 1;
	CHECK(cv_train_views(&backbone_like, 100) == CV_AUGMENT_TRAIN_VIEWS);
	backbone_like.train_views = CV_AUGMENT_BACKBONE_VIEWS;
	/* 8192 rows: 4096 images fit 2 views, 4097 only 1 */
	CHECK(cv_train_views(&backbone_like, CV_TRAIN_MAX_ROWS / 2) == 2);
	CHECK(cv_train_views(&backbone_like, CV_TRAIN_MAX_ROWS / 2 + 1) == 1);
	CHECK(cv_train_views(&compact_like, CV_TRAIN_MAX_ROWS / 3) == 3);
	CHECK(cv_train_views(&compact_like, 100000) == 1);
}

static void
make_three_blobs(float *x, uint8_t *l, int n, int dim)
{
	rng_state = 11;
	for (int i = 0; i < n; i++)
	{
		int			c = i % 3;

		for (int k = 0; k < 3; k++)
			l[i * 3 + k] = k == c;
		for (int k = 0; k < dim; k++)
			x[(size_t) i * dim + k] = (float) ((k % 3 == c) * 1.0 + normal());
	}
}

static void
test_progress_and_cancel(void)
{
	enum {N = 45, D = 10, T = 3};
	float		x[N * D];
	uint8_t		l[N * T];
	cv_dataset	d = {CV_TASK_MULTICLASS, N, 1, D, T, x, l, NULL};
	cv_train_options opt;
	cv_train_result res;
	progress_log pl = {0, 0, 0.0, true};
	cv_error	err;

	make_three_blobs(x, l, N, D);
	cv_train_options_init(&opt);
	opt.progress = log_progress;
	opt.progress_arg = &pl;
	CHECK(cv_train(&d, &opt, &res, &err) == CV_OK);
	CHECK(pl.monotonic);
	CHECK(pl.calls > 20);
	CHECK_NEAR(pl.last, 1.0, 0.0);
	cv_train_result_free(&res);

	pl = (progress_log) {0, 10, 0.0, true};
	CHECK(cv_train(&d, &opt, &res, &err) == CV_ERR_CANCELED);
	CHECK(err.code == CV_ERR_CANCELED);
	CHECK(pl.calls == 10);
	CHECK(res.head == NULL && res.holdout == NULL);
}

static void
test_deterministic(void)
{
	enum {N = 45, D = 37, T = 3};
	float		x[N * D];
	uint8_t		l[N * T];
	cv_dataset	d = {CV_TASK_MULTICLASS, N, 1, D, T, x, l, NULL};
	cv_train_result a,
				b;
	cv_error	err;

	make_three_blobs(x, l, N, D);
	CHECK(cv_train(&d, NULL, &a, &err) == CV_OK);
	CHECK(cv_train(&d, NULL, &b, &err) == CV_OK);
	if (a.head == NULL || b.head == NULL)
		return;
	CHECK(a.lambda == b.lambda);
	CHECK(memcmp(a.head->weights, b.head->weights, sizeof(float) * T * D) == 0);
	CHECK(memcmp(a.head->bias, b.head->bias, sizeof(float) * T) == 0);
	CHECK(memcmp(a.head->mean, b.head->mean, sizeof(float) * D) == 0);
	CHECK(memcmp(a.head->scale, b.head->scale, sizeof(float) * D) == 0);
	CHECK(memcmp(a.holdout, b.holdout, sizeof(float) * N * T) == 0);
	cv_train_result_free(&a);
	cv_train_result_free(&b);
}

static void
test_data_checks(void)
{
	enum {N = 12, D = 2, T = 2};
	float		x[N * D];
	uint8_t		l[N * T];
	cv_dataset	d = {CV_TASK_MULTICLASS, N, 1, D, T, x, l, NULL};
	cv_train_result res;
	cv_error	err;

	for (int i = 0; i < N * D; i++)
		x[i] = (float) i;
	for (int i = 0; i < N; i++)
	{
		l[i * T] = i % 2;
		l[i * T + 1] = 1 - i % 2;
	}
	CHECK(cv_dataset_check(&d, &err) == CV_OK);
	l[0] = l[1] = 1;			/* two tags in multiclass */
	CHECK(cv_train(&d, NULL, &res, &err) == CV_ERR_PARAM);
	l[0] = l[1] = 0;			/* no tag */
	CHECK(cv_train(&d, NULL, &res, &err) == CV_ERR_PARAM);
	for (int i = 0; i < N; i++)	/* one image of tag 1 */
	{
		l[i * T] = i != 0;
		l[i * T + 1] = i == 0;
	}
	CHECK(cv_train(&d, NULL, &res, &err) == CV_ERR_PARAM);
	CHECK(strstr(err.message, "at least 2") != NULL);
	for (int i = 0; i < N; i++)
	{
		l[i * T] = i % 2;
		l[i * T + 1] = 1 - i % 2;
	}
	x[5] = NAN;
	CHECK(cv_train(&d, NULL, &res, &err) == CV_ERR_DATA);
	x[5] = INFINITY;
	CHECK(cv_dataset_check(&d, &err) == CV_ERR_DATA);
	x[5] = 0.0f;
	l[3] = 2;
	CHECK(cv_dataset_check(&d, &err) == CV_ERR_PARAM);
	l[3] = 1;
	d.n_views = 0;
	CHECK(cv_dataset_check(&d, &err) == CV_ERR_PARAM);
}

/* Averaging views at prediction uses exactly the first predict_views. */
static void
test_predict_views_average(void)
{
	enum {D = 2, T = 2};
	cv_head    *h = cv_head_alloc(CV_TASK_MULTILABEL, T, D);
	float		f[3 * D] = {1, 0, -1, 0, 100, 100};
	float		p[T],
				p0[T],
				p1[T];
	cv_error	err;

	if (h == NULL)
	{
		CHECK(h != NULL);
		return;
	}
	h->scale[0] = h->scale[1] = 1.0f;
	h->weights[0] = 2.0f;		/* tag 0 looks at x0 */
	h->weights[D + 1] = 1.0f;	/* tag 1 at x1 */
	h->predict_views = 1;
	CHECK(cv_head_predict(h, f, 3, p0, &err) == CV_OK);
	CHECK(cv_head_predict(h, f + D, 1, p1, &err) == CV_OK);
	CHECK_NEAR(p0[0], 1.0 / (1.0 + exp(-2.0)), 1e-6);
	h->predict_views = 2;
	CHECK(cv_head_predict(h, f, 3, p, &err) == CV_OK);
	CHECK_NEAR(p[0], (p0[0] + p1[0]) / 2.0, 1e-6);
	CHECK_NEAR(p[0], 0.5, 1e-6);	/* sigmoid(2) and sigmoid(-2) */
	f[0] = NAN;
	CHECK(cv_head_predict(h, f, 3, p, &err) == CV_ERR_DATA);
	cv_head_free(h);
}

/* Signed square root then L2 normalisation, by hand. */
static void
test_norm_apply(void)
{
	float		x[4] = {4.0f, -9.0f, 0.0f, 0.0f};
	float		y[4];
	float		zero[3] = {0, 0, 0};

	cv_norm_apply(CV_NORM_POWER_L2, x, 4, y);
	CHECK_NEAR(y[0], 2.0 / sqrt(13.0), 1e-7);
	CHECK_NEAR(y[1], -3.0 / sqrt(13.0), 1e-7);
	CHECK(y[2] == 0.0f && y[3] == 0.0f);
	cv_norm_apply(CV_NORM_POWER_L2, x, 4, x);	/* in place */
	CHECK(memcmp(x, y, sizeof(y)) == 0);
	cv_norm_apply(CV_NORM_POWER_L2, zero, 3, zero);
	CHECK(zero[0] == 0.0f && zero[1] == 0.0f && zero[2] == 0.0f);
	x[0] = 4.0f;
	cv_norm_apply(CV_NORM_NONE, x, 1, y);
	CHECK(y[0] == 4.0f);
}

/*
 * A head with CV_NORM_POWER_L2 sees only the direction of the square-rooted
 * vector: x and 9x get the same probabilities, which a head without
 * normalisation does not give.  The trainer stores its normalisation in the
 * head and fits on normalised rows: images whose features are scaled by
 * arbitrary per-image factors give the same held-out probabilities.
 */
static void
test_norm_in_head_and_trainer(void)
{
	enum {N = 45, D = 6, T = 3};
	float		x[N * D],
				xs[N * D];
	uint8_t		l[N * T];
	cv_dataset	d = {CV_TASK_MULTICLASS, N, 1, D, T, x, l, NULL};
	cv_dataset	ds = {CV_TASK_MULTICLASS, N, 1, D, T, xs, l, NULL};
	cv_train_options opt;
	cv_train_result a,
				b;
	cv_error	err;
	float		v[D] = {1, 2, 0.5f, 0, 3, 1},
				v9[D],
				p1[T],
				p9[T];
	double		maxdiff = 0.0;

	make_three_blobs(x, l, N, D);
	for (int i = 0; i < N * D; i++)
		x[i] = fabsf(x[i]);		/* pooled activations are >= 0 */
	for (int i = 0; i < N; i++)
		for (int k = 0; k < D; k++)
			xs[i * D + k] = x[i * D + k] * (float) (1 + i % 7);
	for (int k = 0; k < D; k++)
		v9[k] = 9.0f * v[k];

	CHECK(cv_train(&d, NULL, &a, &err) == CV_OK);
	CHECK(cv_train(&ds, NULL, &b, &err) == CV_OK);
	if (a.head == NULL || b.head == NULL)
		return;
	CHECK(a.head->norm == CV_NORM_POWER_L2);
	CHECK(cv_head_predict(a.head, v, 1, p1, &err) == CV_OK);
	CHECK(cv_head_predict(a.head, v9, 1, p9, &err) == CV_OK);
	for (int k = 0; k < T; k++)
		CHECK_NEAR(p1[k], p9[k], 1e-5);
	for (int i = 0; i < N * T; i++)
		maxdiff = fmax(maxdiff, fabs(a.holdout[i] - b.holdout[i]));
	CHECK_MSG(maxdiff < 1e-3, "held-out difference %g", maxdiff);
	CHECK(a.lambda == b.lambda);

	/*
	 * without the normalisation the scale matters: the normalised vector
	 * (what the head was fitted on) and twice it score differently
	 */
	a.head->norm = CV_NORM_NONE;
	cv_norm_apply(CV_NORM_POWER_L2, v, D, v);
	for (int k = 0; k < D; k++)
		v9[k] = 2.0f * v[k];
	CHECK(cv_head_predict(a.head, v, 1, p1, &err) == CV_OK);
	CHECK(cv_head_predict(a.head, v9, 1, p9, &err) == CV_OK);
	CHECK_MSG(fabs(p1[0] - p9[0]) + fabs(p1[1] - p9[1]) > 0.01, "%g %g / %g %g",
			  p1[0], p1[1], p9[0], p9[1]);
	a.head->norm = (cv_norm) 9;
	CHECK(cv_head_predict(a.head, v, 1, p1, &err) == CV_ERR_PARAM);
	cv_train_result_free(&a);
	cv_train_result_free(&b);

	cv_train_options_init(&opt);
	opt.norm = CV_NORM_NONE;
	CHECK(cv_train(&d, &opt, &a, &err) == CV_OK);
	CHECK(cv_train(&ds, &opt, &b, &err) == CV_OK);
	if (a.head != NULL && b.head != NULL)
	{
		CHECK(a.head->norm == CV_NORM_NONE);
		maxdiff = 0.0;
		for (int i = 0; i < N * T; i++)
			maxdiff = fmax(maxdiff, fabs(a.holdout[i] - b.holdout[i]));
		CHECK_MSG(maxdiff > 0.01, "held-out difference %g", maxdiff);
	}
	cv_train_result_free(&a);
	cv_train_result_free(&b);
	opt.norm = 5;
	CHECK(cv_train(&d, &opt, &a, &err) == CV_ERR_PARAM);
}

UNIT_MAIN("learn_head",
		  UNIT_CASE(test_separable_multiclass),
		  UNIT_CASE(test_imbalance_recovers_small_class),
		  UNIT_CASE(test_multilabel_with_negative),
		  UNIT_CASE(test_multiclass_negative_is_an_answer),
		  UNIT_CASE(test_holdout_is_held_out),
		  UNIT_CASE(test_folds_and_views),
		  UNIT_CASE(test_train_views_by_domain),
		  UNIT_CASE(test_progress_and_cancel),
		  UNIT_CASE(test_deterministic),
		  UNIT_CASE(test_data_checks),
		  UNIT_CASE(test_predict_views_average),
		  UNIT_CASE(test_norm_apply),
		  UNIT_CASE(test_norm_in_head_and_trainer))
