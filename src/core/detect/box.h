/*
 * box.h
 *	  Boxes for object detection: overlap (IoU), per-tag non-maximum
 *	  suppression, and the box coding of the detector's regression outputs.
 *
 * Coordinates are normalized to the upright image as the hosted
 * custom-vision services have them: left and top of the box and its width
 * and height, each a fraction (0..1) of the image's width or height.
 * Pure functions with no allocation except cv_detect_nms's scratch.
 */
#ifndef CV_DETECT_BOX_H
#define CV_DETECT_BOX_H

#include "../common/cv_common.h"

/* Box codes are clamped to +-this before exp (cv_box_decode). */
#define CV_BOX_CODE_LIMIT 10.0f

typedef struct cv_box
{
	float		left;
	float		top;
	float		width;
	float		height;
} cv_box;

/* One detection: a tag (index into the model's tags), a score, a box. */
typedef struct cv_detection
{
	int			tag;
	float		score;
	cv_box		box;
} cv_detection;

/*
 * Intersection over union of two boxes, in [0, 1].  A box with zero or
 * negative width or height has area 0: its IoU with anything is 0 (also
 * with itself), never NaN.
 */
double		cv_box_iou(const cv_box *a, const cv_box *b);

/* The box clipped to the unit square (width/height 0 if nothing is left). */
cv_box		cv_box_clip(cv_box b);

/*
 * Per-tag non-maximum suppression, in place.  dets[0..n-1] are sorted by
 * score, highest first (ties: lower tag first, then the earlier index: a
 * stable order, so the result never depends on qsort); then, in that order,
 * a detection is dropped when its IoU with an already kept detection of the
 * same tag is above overlap (strictly: IoU == overlap is kept).  Detections
 * with a score below min_score (or a NaN score) are dropped first.  At most max_keep are
 * kept (max_keep <= 0: no limit).  Returns the number kept, which are
 * dets[0..kept-1], most probable first.  -1 with err set when scratch
 * memory cannot be had (CV_ERR_NOMEM) or an argument is bad (CV_ERR_PARAM:
 * n < 0, overlap outside [0, 1]).
 */
int			cv_detect_nms(cv_detection *dets, int n, float min_score,
						  double overlap, int max_keep, cv_error *err);

/*
 * Box coding of the anchor-free head (FCOS-style, docs/detection.md).  A
 * grid cell's centre (cx, cy), in normalized image coordinates, regresses
 * the distances from itself to the box's four sides, in units of the cell
 * size (cell_w, cell_h: the grid's stride as a fraction of the image), in
 * log space:
 *	  code[0] = log(l / cell_w), code[1] = log(t / cell_h),
 *	  code[2] = log(r / cell_w), code[3] = log(b / cell_h)
 * where l = cx - left, t = cy - top, r = left + width - cx, b = top +
 * height - cy.  Encoding needs the centre inside the box: every distance is
 * first raised to at least min_distance (a fraction of the cell size, e.g.
 * 0.05) so the log is finite, and each code is clamped to [-10, 10] as
 * decoding does (so a min_distance <= 0 still gives finite codes).
 */
void		cv_box_encode(const cv_box *box, float cx, float cy, float cell_w,
						  float cell_h, float min_distance, float code[4]);

/*
 * The inverse of cv_box_encode: the box whose sides lie at the decoded
 * distances from (cx, cy).  Codes are clamped to [-10, 10] before exp so a
 * wild output cannot overflow; the box is not clipped (cv_box_clip).
 */
cv_box		cv_box_decode(const float code[4], float cx, float cy, float cell_w,
						  float cell_h);

#endif							/* CV_DETECT_BOX_H */
