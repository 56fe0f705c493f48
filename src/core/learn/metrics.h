/*
 * metrics.h
 *	  Precision, recall and average precision of held-out predictions, as the
 *	  hosted custom-vision services report them.
 *
 * The metrics are a pure function of (probabilities, labels, threshold), so
 * the caller can store the held-out probability rows once and recompute the
 * figures at any threshold without retraining.
 *
 * Definitions (n images, t tags; probs and labels are row-major n x t):
 *
 *	 decision	tag k is predicted for image i when probs[i][k] >= threshold
 *				(compared in float, so a stored 0.7f meets threshold 0.7)
 *				(in multiclass too: no argmax, so 0, 1 or several tags may be
 *				predicted for one image, as in the hosted services).
 *	 precision	tp / (tp + fp); 0 when nothing was predicted (tp + fp = 0).
 *	 recall		tp / (tp + fn); 0 when the tag has no positive image.
 *	 AP			non-interpolated average precision over the ranking of all
 *				images by probs[.][k], highest first.  Images with equal
 *				probability form one group and are ranked together (so the
 *				value never depends on the order of the rows):
 *					AP = sum over groups g of (R_g - R_{g-1}) * P_g
 *				where P_g and R_g are precision and recall counting every
 *				image down to the end of group g.  Without ties this is the
 *				mean, over the positives, of the precision at each positive's
 *				rank (scikit-learn's average_precision_score is the same).
 *				A tag without positive images has AP 0 and is left out of
 *				the mean AP.
 *	 overall	precision and recall micro-averaged over every (image, tag)
 *				decision: sums of tp, fp, fn over the tags, then the ratios;
 *				mean AP is the mean of the per-tag APs over the tags that
 *				have at least one positive image.
 *
 * In multilabel the negative tag's column (derived "none of these"
 * probability) gets per-tag figures like any tag but is left out of the
 * overall figures, which measure the tags the model learns.  In multiclass
 * the negative tag is an ordinary class and counts everywhere.
 */
#ifndef CV_LEARN_METRICS_H
#define CV_LEARN_METRICS_H

#include "../common/cv_common.h"
#include "task.h"

typedef struct cv_tag_metrics
{
	double		precision;
	double		recall;
	double		ap;
	int			tp;
	int			fp;
	int			fn;
	int			positives;		/* images labelled with the tag */
} cv_tag_metrics;

typedef struct cv_overall_metrics
{
	double		precision;
	double		recall;
	double		map;			/* mean AP, see above */
	int			tp;
	int			fp;
	int			fn;
} cv_overall_metrics;

/*
 * Compute per-tag and overall metrics.  probs: n_images x n_tags, labels:
 * n_images x n_tags with 0/1 entries, negative: n_tags flags (NULL = no
 * negative tag).  per_tag must hold n_tags entries; overall may be NULL.
 * Fails with CV_ERR_PARAM on bad counts or a threshold outside [0, 1] and
 * CV_ERR_DATA on a NaN probability; CV_ERR_NOMEM from the allocator.
 */
cv_status	cv_metrics_compute(cv_task task, const float *probs,
							   const uint8_t *labels, const bool *negative,
							   int n_images, int n_tags, double threshold,
							   cv_tag_metrics *per_tag,
							   cv_overall_metrics *overall, cv_error *err);

/*
 * Average precision of one column as defined above: scores and labels are
 * read at index i * stride for i in 0..n-1.  Returns 0 when there is no
 * positive.  Fails only on allocation (CV_ERR_NOMEM) or NaN (CV_ERR_DATA).
 */
cv_status	cv_metrics_average_precision(const float *scores,
										 const uint8_t *labels, int n,
										 int stride, double *ap,
										 cv_error *err);

/*
 * One point of a precision/recall curve: the state of the ranking after
 * the group of equal scores `threshold` (everything scoring at least
 * that counted as detected / predicted).  interpolated is the highest
 * precision at any recall at least this point's (the monotone envelope
 * PASCAL VOC's AP integrates); AP as defined above sums (R_k - R_{k-1}) *
 * precision_k here, and detection's AP (detect_metrics.h) sums with the
 * interpolated precision.
 */
typedef struct cv_pr_point
{
	float		threshold;
	double		precision;
	double		recall;
	double		interpolated;
	int			tp;
	int			fp;
} cv_pr_point;

/*
 * The curve behind cv_metrics_average_precision for one column (scores and
 * labels at i * stride): points holds room for n points; *n_points gets
 * how many (one per group of equal scores, highest first; 0 when n is 0).
 * A column without positives has recall 0 at every point.  CV_ERR_DATA on
 * NaN, CV_ERR_NOMEM.
 */
cv_status	cv_metrics_pr_curve(const float *scores, const uint8_t *labels, int n,
								int stride, cv_pr_point *points, int *n_points,
								cv_error *err);

/* Make points[].interpolated the running maximum of precision from the right. */
void		cv_pr_interpolate(cv_pr_point *points, int n_points);

#endif							/* CV_LEARN_METRICS_H */
