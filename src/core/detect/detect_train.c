/*
 * detect_train.c
 *	  Detector training: targets, losses and gradients, Adam, folds and
 *	  calibration (detect_train.h).
 */
#include "detect_train.h"

#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define FOCAL_ALPHA 0.25
#define FOCAL_GAMMA 2.0
#define NEGATIVE_KEEP 0.25
#define ADAM_BETA1 0.9
#define ADAM_BETA2 0.999
#define ADAM_EPS 1e-8
#define WARMUP_STEPS 30
/* prior probability of an object at a cell (RetinaNet's class bias init) */
#define PRIOR 0.01
#define CALIBRATION_OVERLAP 0.5

/* ---- a small deterministic PRNG (splitmix64) ---- */

typedef struct rng
{
	uint64_t	s;
} rng;

static uint64_t
rng_next(rng *r)
{
	uint64_t	z = (r->s += 0x9E3779B97F4A7C15ull);

	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
	z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
	return z ^ (z >> 31);
}

static double
rng_uniform(rng *r)
{
	return (rng_next(r) >> 11) * (1.0 / 9007199254740992.0);
}

static double
rng_normal(rng *r)
{
	double		u = rng_uniform(r),
				v = rng_uniform(r);

	return sqrt(-2.0 * log(u + 1e-300)) * cos(6.283185307179586 * v);
}

/* ---- the trainer and its targets (detect_targets.c assigns them) ---- */

typedef struct trainer
{
	const cv_detect_dataset *data;
	cv_detector_shape shape;
	int			cells;
	int			in_dim;
	int			out_dim;
	size_t		map_floats;
	cv_cell_target *targets;		/* n_images x n_views x cells */
	cv_progress_fn progress;
	void	   *progress_arg;
	float		radius;			/* centre sampling radius, in cells */
	bool		iou_loss;		/* IoU loss on the boxes, else L1 on the codes */
	bool		iou_quality;	/* quality output learns the IoU, else centre-ness */
	double		work_done;		/* steps run so far over all fits */
	double		work_total;
} trainer;

static cv_status
build_targets(trainer *t, cv_error *err)
{
	const cv_detect_dataset *d = t->data;
	int			views = d->n_views;
	cv_box	   *img_boxes = cv_malloc(sizeof(cv_box) * (size_t) (d->n_boxes + 1));
	int		   *img_tags = cv_malloc(sizeof(int) * (size_t) (d->n_boxes + 1));
	cv_box	   *view_boxes = cv_malloc(sizeof(cv_box) * (size_t) (d->n_boxes + 1));
	int		   *view_tags = cv_malloc(sizeof(int) * (size_t) (d->n_boxes + 1));

	t->targets = cv_malloc(sizeof(cv_cell_target) * (size_t) d->n_images * views * t->cells);
	if (img_boxes == NULL || img_tags == NULL || view_boxes == NULL ||
		view_tags == NULL || t->targets == NULL)
	{
		cv_free(img_boxes);
		cv_free(img_tags);
		cv_free(view_boxes);
		cv_free(view_tags);
		cv_free(t->targets);
		t->targets = NULL;
		return cv_fail(err, CV_ERR_NOMEM, "out of memory for detection targets");
	}
	for (int i = 0; i < d->n_images; i++)
	{
		int			n = 0;

		for (int b = 0; b < d->n_boxes; b++)
			if (d->boxes[b].image == i)
			{
				img_boxes[n] = d->boxes[b].box;
				img_tags[n] = d->boxes[b].tag;
				n++;
			}
		for (int v = 0; v < views; v++)
		{
			int			m = cv_detect_view_boxes(v, img_boxes, img_tags, n,
												 CV_DETECT_MIN_VISIBLE, view_boxes, view_tags);
			cv_status	st = cv_detect_assign(t->shape.map_width[0], t->shape.map_height[0],
											  t->radius, view_boxes, view_tags, m,
											  t->targets + ((size_t) i * views + v) * t->cells, err);

			if (st != CV_OK)
			{
				cv_free(img_boxes);
				cv_free(img_tags);
				cv_free(view_boxes);
				cv_free(view_tags);
				cv_free(t->targets);
				t->targets = NULL;
				return st;
			}
		}
	}
	cv_free(img_boxes);
	cv_free(img_tags);
	cv_free(view_boxes);
	cv_free(view_tags);
	return CV_OK;
}

/* ---- one fit ---- */

typedef struct adam
{
	float	   *m;
	float	   *v;
} adam;

static void
adam_update(float *w, const float *g, adam *s, size_t n, double lr, double t,
			double decay)
{
	double		c1 = 1.0 - pow(ADAM_BETA1, t),
				c2 = 1.0 - pow(ADAM_BETA2, t);

	for (size_t i = 0; i < n; i++)
	{
		double		m = s->m[i] = (float) (ADAM_BETA1 * s->m[i] + (1 - ADAM_BETA1) * g[i]);
		double		v = s->v[i] = (float) (ADAM_BETA2 * s->v[i] + (1 - ADAM_BETA2) * (double) g[i] * g[i]);
		double		step = lr * (m / c1) / (sqrt(v / c2) + ADAM_EPS);

		step += lr * decay * w[i];
		w[i] -= (float) step;
	}
}

static double
softplus(double x)
{
	return x > 0 ? x + log1p(exp(-x)) : log1p(exp(x));
}

/*
 * Loss and its gradient with respect to the raw outputs of the rows of one
 * batch.  weight: per row (1 for positives, 1/NEGATIVE_KEEP for kept
 * background rows).  Returns the loss (already normalised).
 */
static double
loss_gradient(const trainer *t, const float *out, const cv_cell_target *const *tg,
			  const float *weight, int m, float *grad)
{
	int			n_tags = t->shape.n_tags;
	int			od = t->out_dim;
	double		n_pos = 0,
				sum_centre = 0,
				loss = 0;

	for (int i = 0; i < m; i++)
		if (tg[i]->tag >= 0)
		{
			n_pos += 1;
			sum_centre += tg[i]->centre;
		}
	if (n_pos < 1)
		n_pos = 1;
	if (sum_centre < 1e-6)
		sum_centre = 1;
	for (int i = 0; i < m; i++)
	{
		const float *o = out + (size_t) i * od;
		float	   *g = grad + (size_t) i * od;
		int			tag = tg[i]->tag;
		double		w = weight[i];

		for (int k = 0; k < n_tags; k++)
		{
			double		x = o[k];
			double		p = 1.0 / (1.0 + exp(-x));
			double		dl;

			if (k == tag)
			{
				/* -alpha (1-p)^g log p; d/dx = alpha (1-p)^g (g p log p - (1-p)) */
				double		logp = -softplus(-x);

				loss += w * FOCAL_ALPHA * pow(1 - p, FOCAL_GAMMA) * -logp;
				dl = FOCAL_ALPHA * pow(1 - p, FOCAL_GAMMA) * (FOCAL_GAMMA * p * logp - (1 - p));
			}
			else
			{
				/* -(1-alpha) p^g log(1-p); d/dx = (1-alpha) p^g (p - g (1-p) log(1-p)) */
				double		log1mp = -softplus(x);

				loss += w * (1 - FOCAL_ALPHA) * pow(p, FOCAL_GAMMA) * -log1mp;
				dl = (1 - FOCAL_ALPHA) * pow(p, FOCAL_GAMMA) * (p - FOCAL_GAMMA * (1 - p) * log1mp);
			}
			g[k] = (float) (w * dl / n_pos);
		}
		if (tag >= 0)
		{
			double		ct = tg[i]->centre;
			double		x = o[n_tags + 4];
			double		p = 1.0 / (1.0 + exp(-x));
			double		quality;

			if (t->iou_loss)
			{
				/*
				 * IoU loss -ln(I/U) on the four distances (UnitBox, FCOS),
				 * in cell units: IoU does not change when both boxes are
				 * scaled along an axis, and both share the cell's centre.
				 */
				double		d[4],
							gt[4],
							dd[4];
				double		iw,
							ih,
							inter,
							ap,
							ag,
							uni;

				for (int j = 0; j < 4; j++)
				{
					d[j] = exp(fmin(fmax(o[n_tags + j], -10.0), 10.0));
					gt[j] = exp(tg[i]->code[j]);
				}
				/* order: l, t, r, b */
				iw = fmin(d[0], gt[0]) + fmin(d[2], gt[2]);
				ih = fmin(d[1], gt[1]) + fmin(d[3], gt[3]);
				inter = iw * ih;
				ap = (d[0] + d[2]) * (d[1] + d[3]);
				ag = (gt[0] + gt[2]) * (gt[1] + gt[3]);
				uni = ap + ag - inter;
				quality = inter / uni;
				loss += ct * (-log(quality + 1e-9)) / sum_centre;
				/* dL/dd = -(1/I) dI/dd + (1/U)(dAp/dd - dI/dd) */
				for (int j = 0; j < 4; j++)
				{
					bool		horizontal = (j == 0 || j == 2);
					double		di = (d[j] < gt[j]) ? (horizontal ? ih : iw) : 0.0;
					double		dap = horizontal ? (d[1] + d[3]) : (d[0] + d[2]);

					dd[j] = -di / (inter + 1e-9) + (dap - di) / uni;
					/* distance = exp(output): chain rule */
					grad[(size_t) i * od + n_tags + j] = (float) (ct * dd[j] * d[j] / sum_centre);
				}
			}
			else
			{
				double		iw,
							ih;
				double		d[4],
							gg[4];

				for (int j = 0; j < 4; j++)
				{
					double		diff = o[n_tags + j] - tg[i]->code[j];

					loss += ct * fabs(diff) / sum_centre;
					g[n_tags + j] = (float) (ct * (diff > 0 ? 1.0 : diff < 0 ? -1.0 : 0.0) / sum_centre);
					d[j] = exp(fmin(fmax(o[n_tags + j], -10.0), 10.0));
					gg[j] = exp(tg[i]->code[j]);
				}
				iw = fmin(d[0], gg[0]) + fmin(d[2], gg[2]);
				ih = fmin(d[1], gg[1]) + fmin(d[3], gg[3]);
				quality = iw * ih / ((d[0] + d[2]) * (d[1] + d[3]) + (gg[0] + gg[2]) * (gg[1] + gg[3]) - iw * ih);
			}
			/*
			 * The quality output learns either the centre-ness of the cell
			 * (FCOS) or the IoU its box reaches (IoU-aware scores, as
			 * VarifocalNet and GFL have them): then the boxes that are
			 * ranked first are the ones that fit best.
			 */
			{
				double		q = t->iou_quality ? quality : ct;

				loss += (softplus(x) - q * x) / n_pos;
				g[n_tags + 4] = (float) ((p - q) / n_pos);
			}
		}
		else
			for (int j = 0; j < CV_DETECT_EXTRA_OUTPUTS; j++)
				g[n_tags + j] = 0.0f;
	}
	return loss / n_pos * 1.0;
}

static int
auto_steps(int n_views_total)
{
	/*
	 * about 30 passes over the views, within bounds that keep small and
	 * large projects sensible: on raccoon-od and fruit-od 1000 steps did as
	 * well as 1500 in two thirds of the time (docs/detection.md)
	 */
	int			steps = (int) (30.0 * n_views_total / CV_DETECT_BATCH);

	if (steps < 300)
		steps = 300;
	if (steps > 1000)
		steps = 1000;
	return steps;
}

static bool
report(trainer *t, double add)
{
	t->work_done += add;
	if (t->progress == NULL)
		return true;
	return t->progress(t->progress_arg, t->work_total > 0 ? t->work_done / t->work_total : 0);
}

static cv_status
fit(trainer *t, const int *images, int n_images, const cv_detect_train_options *opt,
	int steps, cv_detector **out, double *final_loss, cv_error *err)
{
	const cv_detect_dataset *d = t->data;
	int			views = d->n_views;
	int			cells = t->cells,
				in_dim = t->in_dim,
				od = t->out_dim,
				hid = t->shape.hidden;
	int			n_pairs = n_images * views;
	int			max_rows = CV_DETECT_BATCH * cells;
	cv_detector *det = NULL;
	float	   *rows = NULL,
			   *batch = NULL,
			   *hidden = NULL,
			   *outs = NULL,
			   *grad = NULL,
			   *dhidden = NULL,
			   *gw1 = NULL,
			   *gb1 = NULL,
			   *gw2 = NULL,
			   *gb2 = NULL,
			   *weight = NULL;
	const cv_cell_target **tg = NULL;
	int		   *order = NULL;
	adam		s_w1 = {0},
				s_b1 = {0},
				s_w2 = {0},
				s_b2 = {0};
	double	   *sum = NULL,
			   *sum2 = NULL;
	rng			r = {opt->seed ? opt->seed : 0x5eed1234u};
	double		lr0 = opt->learning_rate > 0 ? opt->learning_rate : 2e-3;
	double		wd = opt->weight_decay > 0 ? opt->weight_decay :
		opt->weight_decay < 0 ? 0.0 : CV_DETECT_WEIGHT_DECAY;
	double		drop = opt->input_dropout > 0 ? opt->input_dropout :
		opt->input_dropout < 0 ? 0.0 : CV_DETECT_INPUT_DROPOUT;
	double		tail_loss = 0;
	int			tail_n = 0;
	cv_status	st;

	*out = NULL;
	st = cv_detector_alloc(&t->shape, &det, err);
	if (st != CV_OK)
		return st;
	rows = cv_malloc(sizeof(float) * (size_t) cells * in_dim);
	batch = cv_malloc(sizeof(float) * (size_t) max_rows * in_dim);
	hidden = cv_malloc(sizeof(float) * (size_t) max_rows * hid);
	dhidden = cv_malloc(sizeof(float) * (size_t) max_rows * hid);
	outs = cv_malloc(sizeof(float) * (size_t) max_rows * od);
	grad = cv_malloc(sizeof(float) * (size_t) max_rows * od);
	weight = cv_malloc(sizeof(float) * (size_t) max_rows);
	tg = cv_malloc(sizeof(*tg) * (size_t) max_rows);
	gw1 = cv_malloc(sizeof(float) * (size_t) in_dim * hid);
	gb1 = cv_malloc(sizeof(float) * (size_t) hid);
	gw2 = cv_malloc(sizeof(float) * (size_t) hid * od);
	gb2 = cv_malloc(sizeof(float) * (size_t) od);
	order = cv_malloc(sizeof(int) * (size_t) (n_pairs > 0 ? n_pairs : 1));
	s_w1.m = cv_calloc((size_t) in_dim * hid, sizeof(float));
	s_w1.v = cv_calloc((size_t) in_dim * hid, sizeof(float));
	s_b1.m = cv_calloc((size_t) hid, sizeof(float));
	s_b1.v = cv_calloc((size_t) hid, sizeof(float));
	s_w2.m = cv_calloc((size_t) hid * od, sizeof(float));
	s_w2.v = cv_calloc((size_t) hid * od, sizeof(float));
	s_b2.m = cv_calloc((size_t) od, sizeof(float));
	s_b2.v = cv_calloc((size_t) od, sizeof(float));
	sum = cv_calloc((size_t) in_dim, sizeof(double));
	sum2 = cv_calloc((size_t) in_dim, sizeof(double));
	if (rows == NULL || batch == NULL || hidden == NULL || dhidden == NULL || outs == NULL ||
		grad == NULL || weight == NULL || tg == NULL || gw1 == NULL || gb1 == NULL ||
		gw2 == NULL || gb2 == NULL || order == NULL || s_w1.m == NULL || s_w1.v == NULL ||
		s_b1.m == NULL || s_b1.v == NULL || s_w2.m == NULL || s_w2.v == NULL ||
		s_b2.m == NULL || s_b2.v == NULL || sum == NULL || sum2 == NULL)
	{
		st = cv_fail(err, CV_ERR_NOMEM, "out of memory training a detector");
		goto done;
	}

	/* Standardisation over every cell of every view of the fit's images. */
	for (int i = 0; i < n_images; i++)
		for (int v = 0; v < views; v++)
		{
			cv_detector_rows(&t->shape, d->maps + ((size_t) images[i] * views + v) * t->map_floats, rows);
			for (int c = 0; c < cells; c++)
				for (int j = 0; j < in_dim; j++)
				{
					double		x = rows[(size_t) c * in_dim + j];

					sum[j] += x;
					sum2[j] += x * x;
				}
		}
	{
		double		n = (double) n_images * views * cells;

		for (int j = 0; j < in_dim; j++)
		{
			double		mean = sum[j] / n;
			double		var = sum2[j] / n - mean * mean;

			det->mean[j] = (float) mean;
			det->scale[j] = var > 1e-10 ? (float) (1.0 / sqrt(var)) : 0.0f;
		}
	}

	/* He initialisation of the adapter, small outputs, the class prior. */
	for (size_t i = 0; i < (size_t) in_dim * hid; i++)
		det->w1[i] = (float) (rng_normal(&r) * sqrt(2.0 / in_dim));
	for (size_t i = 0; i < (size_t) hid * od; i++)
		det->w2[i] = (float) (rng_normal(&r) * 0.01);
	for (int k = 0; k < t->shape.n_tags; k++)
		det->b2[k] = (float) -log((1 - PRIOR) / PRIOR);

	for (int p = 0; p < n_pairs; p++)
		order[p] = p;
	{
		int			pos = n_pairs;	/* shuffle at the first step */

		for (int step = 0; step < steps; step++)
		{
			int			m = 0;
			double		lr,
						loss;

			/* a batch of views, all their object cells, a share of background */
			for (int b = 0; b < CV_DETECT_BATCH && n_pairs > 0; b++)
			{
				int			pair,
							img,
							view;
				const cv_cell_target *vt;

				if (pos >= n_pairs)
				{
					for (int q = n_pairs - 1; q > 0; q--)
					{
						int			j = (int) (rng_next(&r) % (uint64_t) (q + 1));
						int			tmp = order[q];

						order[q] = order[j];
						order[j] = tmp;
					}
					pos = 0;
				}
				pair = order[pos++];
				img = images[pair / views];
				view = pair % views;
				vt = t->targets + ((size_t) img * views + view) * cells;
				cv_detector_rows(&t->shape, d->maps + ((size_t) img * views + view) * t->map_floats, rows);
				for (int c = 0; c < cells; c++)
				{
					float		w;

					if (vt[c].tag >= 0)
						w = 1.0f;
					else if (rng_uniform(&r) < NEGATIVE_KEEP)
						w = (float) (1.0 / NEGATIVE_KEEP);
					else
						continue;
					memcpy(batch + (size_t) m * in_dim, rows + (size_t) c * in_dim, sizeof(float) * in_dim);
					tg[m] = &vt[c];
					weight[m] = w;
					m++;
				}
			}
			if (m == 0)
				continue;

			/* standardise, then drop inputs at random (inverted dropout) */
			for (int i = 0; i < m; i++)
			{
				float	   *x = batch + (size_t) i * in_dim;

				for (int j = 0; j < in_dim; j++)
				{
					x[j] = (x[j] - det->mean[j]) * det->scale[j];
					if (drop > 0)
						x[j] = rng_uniform(&r) < drop ? 0.0f : (float) (x[j] / (1.0 - drop));
				}
			}
			cv_detector_forward(det, batch, m, false, hidden, outs);
			loss = loss_gradient(t, outs, tg, weight, m, grad);
			if (step >= steps - steps / 10 - 1)
			{
				tail_loss += loss;
				tail_n++;
			}

			/* backward */
			cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, hid, od, m,
						1.0f, hidden, hid, grad, od, 0.0f, gw2, od);
			memset(gb2, 0, sizeof(float) * od);
			for (int i = 0; i < m; i++)
				for (int k = 0; k < od; k++)
					gb2[k] += grad[(size_t) i * od + k];
			cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, m, hid, od,
						1.0f, grad, od, det->w2, od, 0.0f, dhidden, hid);
			for (size_t i = 0; i < (size_t) m * hid; i++)
				if (hidden[i] <= 0.0f)
					dhidden[i] = 0.0f;
			cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, in_dim, hid, m,
						1.0f, batch, in_dim, dhidden, hid, 0.0f, gw1, hid);
			memset(gb1, 0, sizeof(float) * hid);
			for (int i = 0; i < m; i++)
				for (int k = 0; k < hid; k++)
					gb1[k] += dhidden[(size_t) i * hid + k];

			/* warm-up, then cosine decay to zero */
			if (step < WARMUP_STEPS)
				lr = lr0 * (step + 1) / WARMUP_STEPS;
			else
				lr = lr0 * 0.5 * (1 + cos(3.141592653589793 * (step - WARMUP_STEPS) /
										  (double) (steps - WARMUP_STEPS > 0 ? steps - WARMUP_STEPS : 1)));
			adam_update(det->w1, gw1, &s_w1, (size_t) in_dim * hid, lr, step + 1, wd);
			adam_update(det->b1, gb1, &s_b1, (size_t) hid, lr, step + 1, 0.0);
			adam_update(det->w2, gw2, &s_w2, (size_t) hid * od, lr, step + 1, wd);
			adam_update(det->b2, gb2, &s_b2, (size_t) od, lr, step + 1, 0.0);

			if (!report(t, 1.0))
			{
				st = cv_fail(err, CV_ERR_CANCELED, "training canceled");
				goto done;
			}
		}
	}
	if (final_loss != NULL)
		*final_loss = tail_n > 0 ? tail_loss / tail_n : 0;
	*out = det;
	det = NULL;
	st = CV_OK;
done:
	cv_detector_free(det);
	cv_free(rows);
	cv_free(batch);
	cv_free(hidden);
	cv_free(dhidden);
	cv_free(outs);
	cv_free(grad);
	cv_free(weight);
	cv_free(tg);
	cv_free(gw1);
	cv_free(gb1);
	cv_free(gw2);
	cv_free(gb2);
	cv_free(order);
	cv_free(s_w1.m);
	cv_free(s_w1.v);
	cv_free(s_b1.m);
	cv_free(s_b1.v);
	cv_free(s_w2.m);
	cv_free(s_w2.v);
	cv_free(s_b2.m);
	cv_free(s_b2.v);
	cv_free(sum);
	cv_free(sum2);
	return st;
}

/* ---- the whole training ---- */

void
cv_detect_train_options_init(cv_detect_train_options *opt)
{
	memset(opt, 0, sizeof(*opt));
}

void
cv_detect_train_result_free(cv_detect_train_result *r)
{
	if (r == NULL)
		return;
	cv_detector_free(r->detector);
	cv_free(r->holdout);
	cv_free(r->fold);
	memset(r, 0, sizeof(*r));
}

static cv_status
check_dataset(const cv_detect_dataset *d, cv_detector_shape *shape, cv_error *err)
{
	cv_status	st;

	*shape = d->shape;
	if (shape->hidden == 0)
		shape->hidden = CV_DETECT_HIDDEN;
	st = cv_detector_shape_check(shape, err);
	if (st != CV_OK)
		return st;
	if (d->n_images < 1 || d->n_views < 1 || d->n_views > CV_DETECT_MAX_VIEWS ||
		d->maps == NULL || d->n_boxes < 0 || (d->n_boxes > 0 && d->boxes == NULL))
		return cv_fail(err, CV_ERR_PARAM, "invalid detection dataset");
	for (int b = 0; b < d->n_boxes; b++)
	{
		const cv_truth_box *t = &d->boxes[b];

		if (t->image < 0 || t->image >= d->n_images || t->tag < 0 || t->tag >= shape->n_tags)
			return cv_fail(err, CV_ERR_PARAM, "box %d names image %d, tag %d: out of range",
						   b, t->image, t->tag);
		if (!(t->box.width > 0 && t->box.height > 0 && t->box.left >= 0 && t->box.top >= 0 &&
			  t->box.left + t->box.width <= 1.0001f && t->box.top + t->box.height <= 1.0001f))
			return cv_fail(err, CV_ERR_PARAM, "box %d does not lie inside its image", b);
	}
	return CV_OK;
}

static cv_status
trainer_init(trainer *t, const cv_detect_dataset *d, const cv_detect_train_options *opt,
			 cv_error *err)
{
	cv_status	st;

	memset(t, 0, sizeof(*t));
	t->data = d;
	st = check_dataset(d, &t->shape, err);
	if (st != CV_OK)
		return st;
	if (opt->hidden > 0)
		t->shape.hidden = opt->hidden;
	t->shape.context = opt->context != 0 ? (opt->context & CV_DETECT_CONTEXT_ALL) : CV_DETECT_CONTEXT_DEFAULT;
	t->cells = cv_detector_cells(&t->shape);
	t->in_dim = cv_detector_in_dim(&t->shape);
	t->out_dim = cv_detector_out_dim(t->shape.n_tags);
	t->map_floats = cv_detector_map_floats(&t->shape);
	t->radius = opt->centre_radius > 0 ? opt->centre_radius : CV_DETECT_CENTRE_RADIUS;
	t->iou_loss = opt->box_loss != 2;
	t->iou_quality = opt->quality != 2;
	t->progress = opt->progress;
	t->progress_arg = opt->progress_arg;
	return build_targets(t, err);
}

cv_status
cv_detect_fit(const cv_detect_dataset *d, const int *images, int n,
			  const cv_detect_train_options *opt_in, cv_detector **out, cv_error *err)
{
	cv_detect_train_options opt;
	trainer		t;
	cv_status	st;
	int			steps;

	*out = NULL;
	if (opt_in != NULL)
		opt = *opt_in;
	else
		cv_detect_train_options_init(&opt);
	st = trainer_init(&t, d, &opt, err);
	if (st != CV_OK)
		return st;
	steps = opt.steps > 0 ? opt.steps : auto_steps(n * d->n_views);
	t.work_total = steps;
	st = fit(&t, images, n, &opt, steps, out, NULL, err);
	cv_free(t.targets);
	return st;
}

/* First tag of each image (n_tags for an image without boxes). */
static int
first_tag(const cv_detect_dataset *d, int image)
{
	int			best = d->shape.n_tags;

	for (int b = 0; b < d->n_boxes; b++)
		if (d->boxes[b].image == image && d->boxes[b].tag < best)
			best = d->boxes[b].tag;
	return best;
}

cv_status
cv_detect_train(const cv_detect_dataset *d, const cv_detect_train_options *opt_in,
				cv_detect_train_result *res, cv_error *err)
{
	cv_detect_train_options opt;
	trainer		t;
	cv_status	st;
	int			k,
				steps,
				n_hold = 0,
				cap_hold;
	int		   *images = NULL,
			   *fold = NULL,
			   *order = NULL;
	cv_image_detection *hold = NULL;
	uint8_t    *is_tp = NULL;
	cv_detector *det = NULL;
	cv_detector *members[1 + 16] = {NULL};
	int			n_members = 1;
	bool		fold_ensemble = opt_in != NULL && opt_in->fold_ensemble == 2;
	double		overlap,
				final_loss = 0;
	size_t		map_floats;

	memset(res, 0, sizeof(*res));
	if (opt_in != NULL)
		opt = *opt_in;
	else
		cv_detect_train_options_init(&opt);
	overlap = opt.nms_overlap > 0 ? opt.nms_overlap : 0.45;
	st = trainer_init(&t, d, &opt, err);
	if (st != CV_OK)
		return st;
	map_floats = t.map_floats;

	k = opt.folds > 0 ? opt.folds : (d->n_images >= 9 ? 3 : 2);
	if (k > d->n_images)
		k = d->n_images;
	images = cv_malloc(sizeof(int) * (size_t) d->n_images);
	fold = cv_malloc(sizeof(int) * (size_t) d->n_images);
	order = cv_malloc(sizeof(int) * (size_t) d->n_images);
	cap_hold = d->n_images * CV_DETECT_HOLDOUT_MAX;
	hold = cv_malloc(sizeof(cv_image_detection) * (size_t) (cap_hold > 0 ? cap_hold : 1));
	if (images == NULL || fold == NULL || order == NULL || hold == NULL)
	{
		st = cv_fail(err, CV_ERR_NOMEM, "out of memory training a detector");
		goto done;
	}

	/* Folds: images in order of their first tag, dealt round-robin. */
	{
		int			pos = 0;

		for (int tag = 0; tag <= d->shape.n_tags; tag++)
			for (int i = 0; i < d->n_images; i++)
				if (first_tag(d, i) == tag)
					order[pos++] = i;
		for (int p = 0; p < d->n_images; p++)
			fold[order[p]] = k > 1 ? p % k : 0;
	}

	steps = opt.steps > 0 ? opt.steps : 0;
	{
		double		total = 0;

		for (int f = 0; f < (k > 1 ? k : 0); f++)
		{
			int			n = 0;

			for (int i = 0; i < d->n_images; i++)
				n += fold[i] != f;
			total += steps > 0 ? steps : auto_steps(n * d->n_views);
		}
		total += steps > 0 ? steps : auto_steps(d->n_images * d->n_views);
		t.work_total = total;
	}

	for (int f = 0; f < (k > 1 ? k : 0); f++)
	{
		int			n = 0;

		for (int i = 0; i < d->n_images; i++)
			if (fold[i] != f)
				images[n++] = i;
		st = fit(&t, images, n, &opt, steps > 0 ? steps : auto_steps(n * d->n_views), &det, NULL, err);
		if (st != CV_OK)
			goto done;
		for (int i = 0; i < d->n_images; i++)
		{
			cv_detection *dets;
			int			nd;

			if (fold[i] != f)
				continue;
			/*
			 * raw scores first: calibration is learnt from them below; the
			 * cached mirror view gives the test-time mirroring that
			 * cv_detect_image does, at no cost
			 */
			st = cv_detector_detect(det, d->maps + (size_t) i * d->n_views * map_floats,
									d->n_views > CV_DETECT_MIRROR_VIEW ?
									d->maps + ((size_t) i * d->n_views + CV_DETECT_MIRROR_VIEW) * map_floats : NULL,
									0.0f, overlap, CV_DETECT_HOLDOUT_MAX, &dets, &nd, err);
			if (st != CV_OK)
				goto done;
			for (int j = 0; j < nd && n_hold < cap_hold; j++)
			{
				hold[n_hold].image = i;
				hold[n_hold].det = dets[j];
				n_hold++;
			}
			cv_free(dets);
		}
		if (fold_ensemble && n_members < 17)
			members[n_members++] = det;
		else
			cv_detector_free(det);
		det = NULL;
	}

	for (int i = 0; i < d->n_images; i++)
		images[i] = i;
	st = fit(&t, images, d->n_images, &opt,
			 steps > 0 ? steps : auto_steps(d->n_images * d->n_views), &det, &final_loss, err);
	if (st != CV_OK)
		goto done;
	if (n_members > 1)
	{
		cv_detector *merged;

		members[0] = det;
		st = cv_detector_merge(members, n_members, &merged, err);
		members[0] = NULL;
		if (st != CV_OK)
			goto done;
		cv_detector_free(det);
		det = merged;
	}

	/* Calibrate on the held-out detections, then report them calibrated. */
	if (n_hold > 0)
	{
		is_tp = cv_malloc((size_t) n_hold);
		if (is_tp == NULL)
		{
			st = cv_fail(err, CV_ERR_NOMEM, "out of memory calibrating a detector");
			goto done;
		}
		st = cv_detect_match(hold, n_hold, d->boxes, d->n_boxes, d->n_images, d->shape.n_tags,
							 CALIBRATION_OVERLAP, is_tp, err);
		if (st != CV_OK)
			goto done;
		cv_detect_calibrate(hold, is_tp, n_hold, &det->calib_a, &det->calib_b);
	}
	{
		int			m = 0;

		for (int j = 0; j < n_hold; j++)
		{
			hold[j].det.score = cv_detector_calibrate(det, hold[j].det.score);
			if (hold[j].det.score >= CV_DETECT_HOLDOUT_MIN_PROBABILITY)
				hold[m++] = hold[j];
		}
		n_hold = m;
	}

	res->detector = det;
	det = NULL;
	res->holdout = hold;
	hold = NULL;
	res->n_holdout = n_hold;
	res->fold = fold;
	fold = NULL;
	res->n_folds = k > 1 ? k : 0;
	res->steps = steps > 0 ? steps : auto_steps(d->n_images * d->n_views);
	res->final_loss = final_loss;
	st = CV_OK;
done:
	cv_detector_free(det);
	for (int i = 1; i < n_members; i++)
		cv_detector_free(members[i]);
	cv_free(images);
	cv_free(fold);
	cv_free(order);
	cv_free(hold);
	cv_free(is_tp);
	cv_free(t.targets);
	return st;
}
