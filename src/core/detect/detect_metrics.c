/*
 * detect_metrics.c
 *	  Precision, recall and all-point interpolated average precision of
 *	  held-out detections (definitions in detect_metrics.h).
 *
 * Two sorts do all the work:
 *	 1. detections by (image, tag, score descending, input index) and true
 *		boxes by (image, tag, input index): each (image, tag) pair is then a
 *		run in both arrays, matched greedily run against run;
 *	 2. the matched detections by (tag, score descending, input index): each
 *		tag's ranking, walked one group of equal scores at a time for AP.
 * Cost O(n log n) in detections and truths plus, per (image, tag), the
 * detections times the true boxes of the pair.
 *
 * One matching serves every threshold: the greedy match takes detections
 * highest score first, so the detections with score >= threshold are a
 * prefix of each run (equal scores sit on the same side of the threshold)
 * and matching that prefix alone gives each of them the same outcome.
 * precision/recall at threshold just count the true positives above it.
 */
#include "detect_metrics.h"

#include <math.h>
#include <stdlib.h>

/* A detection with its input position and, after matching, its outcome. */
typedef struct det_item
{
	int			image;
	int			tag;
	float		score;
	int			index;
	bool		tp;
	const cv_box *box;
} det_item;

typedef struct truth_item
{
	int			image;
	int			tag;
	int			index;
	bool		matched;
	const cv_box *box;
} truth_item;

static int
cmp_int(int a, int b)
{
	return (a > b) - (a < b);
}

/* highest score first, then the lower input index: a total order */
static int
cmp_score_index(const det_item *a, const det_item *b)
{
	if (a->score > b->score)
		return -1;
	if (a->score < b->score)
		return 1;
	return cmp_int(a->index, b->index);
}

static int
det_by_image_tag(const void *pa, const void *pb)
{
	const det_item *a = pa;
	const det_item *b = pb;
	int			c;

	if ((c = cmp_int(a->image, b->image)) != 0)
		return c;
	if ((c = cmp_int(a->tag, b->tag)) != 0)
		return c;
	return cmp_score_index(a, b);
}

static int
det_by_tag(const void *pa, const void *pb)
{
	const det_item *a = pa;
	const det_item *b = pb;
	int			c;

	if ((c = cmp_int(a->tag, b->tag)) != 0)
		return c;
	return cmp_score_index(a, b);
}

static int
truth_by_image_tag(const void *pa, const void *pb)
{
	const truth_item *a = pa;
	const truth_item *b = pb;
	int			c;

	if ((c = cmp_int(a->image, b->image)) != 0)
		return c;
	if ((c = cmp_int(a->tag, b->tag)) != 0)
		return c;
	return cmp_int(a->index, b->index);
}

/* (image, tag) of a detection against that of a truth, for the merge walk */
static int
cmp_pair(int image_a, int tag_a, int image_b, int tag_b)
{
	int			c = cmp_int(image_a, image_b);

	return c != 0 ? c : cmp_int(tag_a, tag_b);
}

static double
ratio(int num, int den)
{
	return den > 0 ? (double) num / (double) den : 0.0;
}

/*
 * Greedy matching of one (image, tag) run of detections, already by score,
 * against that pair's true boxes, already by input index: each detection
 * takes the unmatched box of highest IoU, the first such box on ties (the
 * strict > keeps the lower index), if that IoU reaches the overlap.  An
 * IoU of 0 never matches: at overlap 0 a detection still has to touch the
 * box (as in the VOC devkit, which only scores intersecting boxes).
 */
static void
match_run(det_item *dets, int n_dets, truth_item *truths, int n_truths,
		  double overlap)
{
	for (int i = 0; i < n_dets; i++)
	{
		int			best = -1;
		double		best_iou = -1.0;

		for (int j = 0; j < n_truths; j++)
		{
			double		iou;

			if (truths[j].matched)
				continue;
			iou = cv_box_iou(dets[i].box, truths[j].box);
			if (iou > best_iou)
			{
				best_iou = iou;
				best = j;
			}
		}
		if (best >= 0 && best_iou > 0.0 && best_iou >= overlap)
		{
			truths[best].matched = true;
			dets[i].tp = true;
		}
	}
}

/*
 * The curve of one tag's ranking (by score, highest first): a point after
 * each group of equal scores, into points (room for n); returns the count.
 */
static int
tag_curve(const det_item *dets, int n, int true_boxes, cv_pr_point *points)
{
	int			count = 0;
	int			tp = 0;

	for (int g = 0; g < n;)
	{
		int			end = g;
		cv_pr_point *p = &points[count++];

		while (end < n && dets[end].score == dets[g].score)
		{
			if (dets[end].tp)
				tp++;
			end++;
		}
		p->threshold = dets[g].score;
		p->tp = tp;
		p->fp = end - tp;
		p->recall = true_boxes > 0 ? (double) tp / (double) true_boxes : 0.0;
		p->precision = (double) tp / (double) end;
		g = end;
	}
	cv_pr_interpolate(points, count);
	return count;
}

/* AP of one tag's ranking with true_boxes > 0: the area under the envelope. */
static double
tag_average_precision(const det_item *dets, int n, int true_boxes, cv_pr_point *points)
{
	int			count = tag_curve(dets, n, true_boxes, points);
	double		prev_recall = 0.0;
	double		sum = 0.0;

	for (int k = 0; k < count; k++)
	{
		sum += (points[k].recall - prev_recall) * points[k].interpolated;
		prev_recall = points[k].recall;
	}
	return sum;
}

/*
 * The checks every entry point shares: counts, arrays, overlap, and every
 * index and score, before anything is allocated.
 */
static cv_status
check_inputs(const cv_image_detection *dets, int n_dets,
			 const cv_truth_box *truths, int n_truths, int n_images, int n_tags,
			 double overlap, cv_error *err)
{
	if (n_dets < 0 || n_truths < 0 || n_images < 0 || n_tags < 0)
		return cv_fail(err, CV_ERR_PARAM, "negative count in detection metrics");
	if ((n_dets > 0 && dets == NULL) || (n_truths > 0 && truths == NULL))
		return cv_fail(err, CV_ERR_PARAM, "missing array in detection metrics");
	if (!(overlap >= 0.0 && overlap <= 1.0))
		return cv_fail(err, CV_ERR_PARAM, "overlap must be between 0 and 1");
	for (int i = 0; i < n_dets; i++)
	{
		if (dets[i].image < 0 || dets[i].image >= n_images)
			return cv_fail(err, CV_ERR_PARAM, "detection %d: image %d out of range",
						   i, dets[i].image);
		if (dets[i].det.tag < 0 || dets[i].det.tag >= n_tags)
			return cv_fail(err, CV_ERR_PARAM, "detection %d: tag %d out of range",
						   i, dets[i].det.tag);
		if (isnan(dets[i].det.score))
			return cv_fail(err, CV_ERR_DATA, "detection %d: score is not a number", i);
	}
	for (int i = 0; i < n_truths; i++)
	{
		if (truths[i].image < 0 || truths[i].image >= n_images)
			return cv_fail(err, CV_ERR_PARAM, "true box %d: image %d out of range",
						   i, truths[i].image);
		if (truths[i].tag < 0 || truths[i].tag >= n_tags)
			return cv_fail(err, CV_ERR_PARAM, "true box %d: tag %d out of range",
						   i, truths[i].tag);
	}
	return CV_OK;
}

/*
 * The matching of detect_metrics.h over checked inputs: *ditems (by image,
 * tag and score, each with its outcome) and *titems (by image, tag and
 * index, each marked matched or not), allocated here (NULL when empty).
 */
static cv_status
match_all(const cv_image_detection *dets, int n_dets,
		  const cv_truth_box *truths, int n_truths, double overlap,
		  det_item **ditems_out, truth_item **titems_out, cv_error *err)
{
	det_item   *ditems = NULL;
	truth_item *titems = NULL;

	*ditems_out = NULL;
	*titems_out = NULL;
	if (n_dets > 0 && (ditems = cv_calloc((size_t) n_dets, sizeof(det_item))) == NULL)
		return cv_fail(err, CV_ERR_NOMEM, "out of memory ranking %d detections", n_dets);
	if (n_truths > 0 && (titems = cv_calloc((size_t) n_truths, sizeof(truth_item))) == NULL)
	{
		cv_free(ditems);
		return cv_fail(err, CV_ERR_NOMEM, "out of memory matching %d true boxes", n_truths);
	}
	for (int i = 0; i < n_dets; i++)
	{
		ditems[i].image = dets[i].image;
		ditems[i].tag = dets[i].det.tag;
		ditems[i].score = dets[i].det.score;
		ditems[i].index = i;
		ditems[i].tp = false;
		ditems[i].box = &dets[i].det.box;
	}
	for (int i = 0; i < n_truths; i++)
	{
		titems[i].image = truths[i].image;
		titems[i].tag = truths[i].tag;
		titems[i].index = i;
		titems[i].matched = false;
		titems[i].box = &truths[i].box;
	}
	if (n_dets > 0)
		qsort(ditems, (size_t) n_dets, sizeof(det_item), det_by_image_tag);
	if (n_truths > 0)
		qsort(titems, (size_t) n_truths, sizeof(truth_item), truth_by_image_tag);

	/* match each (image, tag) run of detections against its run of truths */
	for (int i = 0, j = 0; i < n_dets;)
	{
		int			end = i;
		int			tend;

		while (end < n_dets && ditems[end].image == ditems[i].image &&
			   ditems[end].tag == ditems[i].tag)
			end++;
		/* skip the truths of pairs that come before this one */
		while (j < n_truths &&
			   cmp_pair(titems[j].image, titems[j].tag,
						ditems[i].image, ditems[i].tag) < 0)
			j++;
		tend = j;
		while (tend < n_truths && titems[tend].image == ditems[i].image &&
			   titems[tend].tag == ditems[i].tag)
			tend++;
		/*
		 * titems is NULL when there are no truths at all, and even a zero
		 * offset from NULL is undefined behaviour in C.
		 */
		match_run(ditems + i, end - i, titems != NULL ? titems + j : NULL,
				  tend - j, overlap);
		i = end;
		j = tend;
	}
	*ditems_out = ditems;
	*titems_out = titems;
	return CV_OK;
}

cv_status
cv_detect_match(const cv_image_detection *dets, int n_dets,
				const cv_truth_box *truths, int n_truths,
				int n_images, int n_tags, double overlap,
				uint8_t *is_tp, cv_error *err)
{
	det_item   *ditems;
	truth_item *titems;
	cv_status	st;

	if (n_dets > 0 && is_tp == NULL)
		return cv_fail(err, CV_ERR_PARAM, "missing array in detection matching");
	st = check_inputs(dets, n_dets, truths, n_truths, n_images, n_tags, overlap, err);
	if (st == CV_OK)
		st = match_all(dets, n_dets, truths, n_truths, overlap, &ditems, &titems, err);
	if (st != CV_OK)
		return st;
	for (int i = 0; i < n_dets; i++)
		is_tp[ditems[i].index] = ditems[i].tp ? 1 : 0;
	cv_free(ditems);
	cv_free(titems);
	return CV_OK;
}

cv_status
cv_detect_metrics_compute(const cv_image_detection *dets, int n_dets,
						  const cv_truth_box *truths, int n_truths,
						  int n_images, int n_tags,
						  double threshold, double overlap,
						  cv_detect_tag_metrics *per_tag,
						  cv_detect_overall_metrics *overall,
						  cv_error *err)
{
	det_item   *ditems = NULL;
	truth_item *titems = NULL;
	cv_pr_point *scratch = NULL;
	float		cut;
	int			tp = 0,
				fp = 0,
				fn = 0;
	int			ap_tags = 0;
	double		ap_sum = 0.0;
	cv_status	st;

	if (n_tags > 0 && per_tag == NULL)
		return cv_fail(err, CV_ERR_PARAM, "missing array in detection metrics");
	if (!(threshold >= 0.0 && threshold <= 1.0))
		return cv_fail(err, CV_ERR_PARAM, "threshold must be between 0 and 1");
	/* compared as float, the precision scores are stored in */
	cut = (float) threshold;
	st = check_inputs(dets, n_dets, truths, n_truths, n_images, n_tags, overlap, err);
	if (st != CV_OK)
		return st;

	if (n_dets > 0)
	{
		/* up to n_dets curve points */
		scratch = cv_calloc((size_t) n_dets, sizeof(cv_pr_point));
		if (scratch == NULL)
			return cv_fail(err, CV_ERR_NOMEM, "out of memory ranking %d detections", n_dets);
	}
	st = match_all(dets, n_dets, truths, n_truths, overlap, &ditems, &titems, err);
	if (st != CV_OK)
		goto done;

	for (int k = 0; k < n_tags; k++)
	{
		per_tag[k].precision = per_tag[k].recall = per_tag[k].ap = 0.0;
		per_tag[k].tp = per_tag[k].fp = per_tag[k].fn = 0;
		per_tag[k].true_boxes = per_tag[k].images = 0;
	}

	/* true boxes and images per tag: runs of (image, tag) in titems */
	for (int j = 0; j < n_truths;)
	{
		int			end = j;

		while (end < n_truths && titems[end].image == titems[j].image &&
			   titems[end].tag == titems[j].tag)
			end++;
		per_tag[titems[j].tag].true_boxes += end - j;
		per_tag[titems[j].tag].images++;
		j = end;
	}

	/* counts at threshold, then each tag's ranking for AP */
	for (int i = 0; i < n_dets; i++)
	{
		if (ditems[i].score >= cut)
		{
			if (ditems[i].tp)
				per_tag[ditems[i].tag].tp++;
			else
				per_tag[ditems[i].tag].fp++;
		}
	}
	if (n_dets > 0)
		qsort(ditems, (size_t) n_dets, sizeof(det_item), det_by_tag);
	for (int i = 0; i < n_dets;)
	{
		int			end = i;
		cv_detect_tag_metrics *m = &per_tag[ditems[i].tag];

		while (end < n_dets && ditems[end].tag == ditems[i].tag)
			end++;
		if (m->true_boxes > 0)
			m->ap = tag_average_precision(ditems + i, end - i, m->true_boxes, scratch);
		i = end;
	}

	for (int k = 0; k < n_tags; k++)
	{
		cv_detect_tag_metrics *m = &per_tag[k];

		m->fn = m->true_boxes - m->tp;
		m->precision = ratio(m->tp, m->tp + m->fp);
		m->recall = ratio(m->tp, m->true_boxes);
		tp += m->tp;
		fp += m->fp;
		fn += m->fn;
		if (m->true_boxes > 0)
		{
			ap_sum += m->ap;
			ap_tags++;
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

done:
	cv_free(ditems);
	cv_free(titems);
	cv_free(scratch);
	return st;
}

cv_status
cv_detect_pr_curve(const cv_image_detection *dets, int n_dets,
				   const cv_truth_box *truths, int n_truths,
				   int n_images, int n_tags, int tag, double overlap,
				   cv_pr_point *points, int *n_points, cv_error *err)
{
	det_item   *ditems = NULL;
	truth_item *titems = NULL;
	int			true_boxes = 0,
				first = 0,
				end;
	cv_status	st;

	*n_points = 0;
	if (tag < 0 || tag >= n_tags)
		return cv_fail(err, CV_ERR_PARAM, "tag %d out of range", tag);
	st = check_inputs(dets, n_dets, truths, n_truths, n_images, n_tags, overlap, err);
	if (st != CV_OK)
		return st;
	st = match_all(dets, n_dets, truths, n_truths, overlap, &ditems, &titems, err);
	if (st != CV_OK)
		goto done;
	for (int j = 0; j < n_truths; j++)
		if (truths[j].tag == tag)
			true_boxes++;
	if (n_dets > 0)
		qsort(ditems, (size_t) n_dets, sizeof(det_item), det_by_tag);
	while (first < n_dets && ditems[first].tag != tag)
		first++;
	end = first;
	while (end < n_dets && ditems[end].tag == tag)
		end++;
	*n_points = tag_curve(ditems + first, end - first, true_boxes, points);
done:
	cv_free(ditems);
	cv_free(titems);
	return st;
}
