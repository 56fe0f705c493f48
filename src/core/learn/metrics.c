/*
 * metrics.c
 *	  Precision / recall at a threshold and tie-aware average precision of
 *	  held-out probabilities (definitions in metrics.h).
 */
#include "metrics.h"

#include <math.h>
#include <stdlib.h>

typedef struct ranked
{
	float		score;
	int			index;
} ranked;

/*
 * Highest score first; equal scores by row index so the sort itself is
 * deterministic (AP treats the tied group as a whole anyway).
 */
static int
ranked_cmp(const void *a, const void *b)
{
	const ranked *x = a;
	const ranked *y = b;

	if (x->score > y->score)
		return -1;
	if (x->score < y->score)
		return 1;
	return (x->index > y->index) - (x->index < y->index);
}

void
cv_pr_interpolate(cv_pr_point *points, int n_points)
{
	double		best = 0.0;

	/* recall never decreases along the ranking: a running maximum from the end */
	for (int k = n_points - 1; k >= 0; k--)
	{
		if (points[k].precision > best)
			best = points[k].precision;
		points[k].interpolated = best;
	}
}

cv_status
cv_metrics_pr_curve(const float *scores, const uint8_t *labels, int n, int stride,
					cv_pr_point *points, int *n_points, cv_error *err)
{
	ranked	   *order;
	int			positives = 0;
	int			seen_pos = 0;
	int			count = 0;

	*n_points = 0;
	if (n <= 0)
		return CV_OK;
	for (int i = 0; i < n; i++)
	{
		if (isnan(scores[(size_t) i * stride]))
			return cv_fail(err, CV_ERR_DATA, "probability of image %d is not a number", i);
		if (labels[(size_t) i * stride])
			positives++;
	}
	order = cv_calloc((size_t) n, sizeof(ranked));
	if (order == NULL)
		return cv_fail(err, CV_ERR_NOMEM, "out of memory ranking %d images", n);
	for (int i = 0; i < n; i++)
	{
		order[i].score = scores[(size_t) i * stride];
		order[i].index = i;
	}
	qsort(order, (size_t) n, sizeof(ranked), ranked_cmp);

	/* walk the ranking one group of equal scores at a time */
	for (int g = 0; g < n;)
	{
		int			end = g;
		cv_pr_point *p = &points[count++];

		while (end < n && order[end].score == order[g].score)
		{
			if (labels[(size_t) order[end].index * stride])
				seen_pos++;
			end++;
		}
		p->threshold = order[g].score;
		p->tp = seen_pos;
		p->fp = end - seen_pos;
		p->precision = (double) seen_pos / (double) end;
		p->recall = positives > 0 ? (double) seen_pos / (double) positives : 0.0;
		g = end;
	}
	cv_free(order);
	cv_pr_interpolate(points, count);
	*n_points = count;
	return CV_OK;
}

cv_status
cv_metrics_average_precision(const float *scores, const uint8_t *labels,
							 int n, int stride, double *ap, cv_error *err)
{
	cv_pr_point *points;
	int			n_points;
	double		prev_recall = 0.0;
	double		sum = 0.0;
	cv_status	st;

	*ap = 0.0;
	if (n <= 0)
		return CV_OK;
	points = cv_calloc((size_t) n, sizeof(cv_pr_point));
	if (points == NULL)
		return cv_fail(err, CV_ERR_NOMEM, "out of memory ranking %d images", n);
	st = cv_metrics_pr_curve(scores, labels, n, stride, points, &n_points, err);
	for (int k = 0; st == CV_OK && k < n_points; k++)
	{
		sum += (points[k].recall - prev_recall) * points[k].precision;
		prev_recall = points[k].recall;
	}
	cv_free(points);
	if (st == CV_OK)
		*ap = sum;
	return st;
}

static double
ratio(int num, int den)
{
	return den > 0 ? (double) num / (double) den : 0.0;
}

cv_status
cv_metrics_compute(cv_task task, const float *probs, const uint8_t *labels,
				   const bool *negative, int n_images, int n_tags,
				   double threshold, cv_tag_metrics *per_tag,
				   cv_overall_metrics *overall, cv_error *err)
{
	int			tp = 0,
				fp = 0,
				fn = 0;
	int			ap_tags = 0;
	double		ap_sum = 0.0;
	float		cut;

	if (n_images < 0 || n_tags <= 0 || probs == NULL || labels == NULL || per_tag == NULL)
		return cv_fail(err, CV_ERR_PARAM, "invalid arguments to metrics");
	if (task != CV_TASK_MULTICLASS && task != CV_TASK_MULTILABEL)
		return cv_fail(err, CV_ERR_PARAM, "unknown task kind %d", (int) task);
	if (!(threshold >= 0.0 && threshold <= 1.0))
		return cv_fail(err, CV_ERR_PARAM, "threshold must be between 0 and 1");
	/* compared as float, the precision probabilities are stored in */
	cut = (float) threshold;

	for (int k = 0; k < n_tags; k++)
	{
		cv_tag_metrics *m = &per_tag[k];
		bool		in_overall;
		cv_status	st;

		m->tp = m->fp = m->fn = m->positives = 0;
		for (int i = 0; i < n_images; i++)
		{
			size_t		at = (size_t) i * n_tags + k;
			bool		predicted = probs[at] >= cut;
			bool		actual = labels[at] != 0;

			if (actual)
				m->positives++;
			if (predicted && actual)
				m->tp++;
			else if (predicted)
				m->fp++;
			else if (actual)
				m->fn++;
		}
		m->precision = ratio(m->tp, m->tp + m->fp);
		m->recall = ratio(m->tp, m->positives);
		st = cv_metrics_average_precision(probs + k, labels + k, n_images,
										  n_tags, &m->ap, err);
		if (st != CV_OK)
			return st;

		in_overall = !(task == CV_TASK_MULTILABEL && negative != NULL && negative[k]);
		if (in_overall)
		{
			tp += m->tp;
			fp += m->fp;
			fn += m->fn;
			if (m->positives > 0)
			{
				ap_sum += m->ap;
				ap_tags++;
			}
		}
	}
	if (overall != NULL)
	{
		overall->tp = tp;
		overall->fp = fp;
		overall->fn = fn;
		overall->precision = ratio(tp, tp + fp);
		overall->recall = ratio(tp, tp + fn);
		overall->map = ap_tags > 0 ? ap_sum / ap_tags : 0.0;
	}
	return CV_OK;
}
