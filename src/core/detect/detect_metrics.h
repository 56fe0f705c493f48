/*
 * detect_metrics.h
 *	  Precision, recall and average precision of held-out detections, as the
 *	  hosted custom-vision services and the PASCAL VOC (2010 and later)
 *	  evaluation define them.
 *
 * The figures are a pure function of (detections, true boxes, probability
 * threshold, overlap threshold): the caller stores the held-out detections
 * once and recomputes every figure at any thresholds without retraining.
 *
 * Matching, per image and per tag: the image's detections of the tag are
 * taken by score, highest first (ties: the lower index in the input first);
 * each is matched to the unmatched true box of its tag with the highest IoU
 * (ties: the lower box index) if that IoU is >= overlap and > 0 (a box it
 * does not intersect never matches, even at overlap 0): a true positive.
 * Otherwise (no true box reaches the overlap, or every box it reaches is
 * already matched) it is a false positive: a box matched twice counts once.
 * Unmatched true boxes are false negatives.
 *
 *	 precision, recall (at threshold): the matching above over the
 *		detections whose score >= threshold only (compared in float).
 *		precision = tp / (tp + fp), 0 when nothing was detected;
 *		recall = tp / (number of true boxes), 0 when the tag has none.
 *	 AP: all detections of the tag over all images ranked by score, highest
 *		first, with the match decided as above (each image's matching is
 *		done over all its detections, threshold 0).  Detections of equal
 *		score are one group and enter the curve together (the value never
 *		depends on the order of the rows).  The precision/recall curve's
 *		points are taken after each group; the precision is made monotone
 *		(each point's precision becomes the highest precision at any recall
 *		at least as large), and AP is the area under that step curve
 *		(all-point interpolation, VOC 2010+): sum over the points of
 *		(R_k - R_{k-1}) * Pinterp_k.  A tag with no true box has AP 0 and is
 *		left out of the mean AP (its detections are all false positives).
 *	 overall: precision and recall from the sums of tp, fp and true boxes
 *		over the tags; mean AP the mean of the per-tag APs over tags that
 *		have at least one true box (0 when none has).
 */
#ifndef CV_DETECT_METRICS_H
#define CV_DETECT_METRICS_H

#include "../common/cv_common.h"
#include "box.h"
#include "../learn/metrics.h"

/* A true (labelled) box of one image. */
typedef struct cv_truth_box
{
	int			image;			/* 0..n_images-1 */
	int			tag;			/* 0..n_tags-1 */
	cv_box		box;
} cv_truth_box;

/* A detection of one image (held-out). */
typedef struct cv_image_detection
{
	int			image;
	cv_detection det;
} cv_image_detection;

typedef struct cv_detect_tag_metrics
{
	double		precision;
	double		recall;
	double		ap;
	int			tp;				/* at threshold */
	int			fp;
	int			fn;
	int			true_boxes;
	int			images;			/* images with at least one true box of it */
} cv_detect_tag_metrics;

typedef struct cv_detect_overall_metrics
{
	double		precision;
	double		recall;
	double		map;
	int			tp;
	int			fp;
	int			fn;
} cv_detect_overall_metrics;

/*
 * Compute the figures above.  dets and truths may be given in any order
 * (and n_dets or n_truths may be 0).  per_tag holds n_tags entries;
 * overall may be NULL.  CV_ERR_PARAM for an image or tag index out of
 * range, threshold or overlap outside [0, 1], negative counts; CV_ERR_DATA
 * for a NaN score; CV_ERR_NOMEM from the allocator.
 */
cv_status	cv_detect_metrics_compute(const cv_image_detection *dets, int n_dets,
									  const cv_truth_box *truths, int n_truths,
									  int n_images, int n_tags,
									  double threshold, double overlap,
									  cv_detect_tag_metrics *per_tag,
									  cv_detect_overall_metrics *overall,
									  cv_error *err);

/*
 * Only the matching above: is_tp[i] (n_dets entries) is 1 when dets[i] is
 * a true positive at overlap (every detection counted, no threshold), 0
 * otherwise.  The same checks and errors as cv_detect_metrics_compute.
 */
cv_status	cv_detect_match(const cv_image_detection *dets, int n_dets,
							const cv_truth_box *truths, int n_truths,
							int n_images, int n_tags, double overlap,
							uint8_t *is_tp, cv_error *err);

/*
 * The precision/recall curve behind tag's AP (cv_pr_point, learn/metrics.h:
 * a point after each group of equal scores, highest first; AP is the sum of
 * (R_k - R_{k-1}) * interpolated_k).  points holds room for n_dets points;
 * *n_points gets how many.  The checks and errors of
 * cv_detect_metrics_compute, and CV_ERR_PARAM for a tag out of range.
 */
cv_status	cv_detect_pr_curve(const cv_image_detection *dets, int n_dets,
							   const cv_truth_box *truths, int n_truths,
							   int n_images, int n_tags, int tag, double overlap,
							   cv_pr_point *points, int *n_points, cv_error *err);

#endif							/* CV_DETECT_METRICS_H */
