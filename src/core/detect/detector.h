/*
 * detector.h
 *	  The object detector's head: an anchor-free (FCOS-style) predictor on
 *	  two of a frozen backbone's feature maps, and the fixed augmentation
 *	  views detection trains on.
 *
 * Input: the backbone's stride-16 map (grid G = H/16 x W/16, C0 channels)
 * and its stride-32 map (C1 channels), for one image stretched to the
 * detector's input size.  Every cell of the stride-16 grid gets the row
 * [map0 at the cell, map1 at the cell's parent] (a nearest-neighbour
 * top-down merge of the two scales, as FPN does with a sum), standardised
 * with the training set's mean and spread, then a small adapter: one
 * hidden layer of `hidden` ReLU units, then per cell
 *	  n_tags class logits, 4 box codes (box.h: log distances from the cell
 *	  centre to the four sides, in cell units) and 1 centre-ness logit.
 * A cell's score for tag k is sqrt(sigmoid(class_k) * sigmoid(centreness))
 * (FCOS: the geometric mean demotes boxes predicted far from an object's
 * centre); the probability reported is that score passed through the
 * calibration learnt on held-out detections (p = sigmoid(a logit(s) + b)),
 * so that probability 0.5 means what the hosted services' threshold means.
 * docs/detection.md has the reasons and the measurements.
 *
 * Everything here is a pure function of its arguments; the detector is
 * immutable after it is built or parsed.
 */
#ifndef CV_DETECT_DETECTOR_H
#define CV_DETECT_DETECTOR_H

#include "../common/cv_common.h"
#include "../image/image.h"
#include "box.h"

#define CV_DETECT_MAPS 2
#define CV_DETECT_MAX_TAGS 1024
#define CV_DETECT_MAX_CHANNELS 4096
#define CV_DETECT_MAX_GRID 256
#define CV_DETECT_MAX_HIDDEN 4096

/*
 * Context a cell row may carry besides its own two map cells (a bit set,
 * stored in the model): the mean of the 3x3 coarse cells around its parent,
 * the mean of the whole coarse map (what the image holds), and the cell's
 * position (its centre, 0..1, as two values).  A cell sees a large object
 * only partly; the context tells it how far the object reaches
 * (docs/detection.md has the measurements).
 */
#define CV_DETECT_CONTEXT_NEIGHBOURS 1u
#define CV_DETECT_CONTEXT_GLOBAL 2u
#define CV_DETECT_CONTEXT_POSITION 4u
#define CV_DETECT_CONTEXT_ALL 7u
#define CV_DETECT_CONTEXT_DEFAULT CV_DETECT_CONTEXT_ALL

/* Outputs per cell besides the class logits: 4 box codes, 1 centre-ness. */
#define CV_DETECT_EXTRA_OUTPUTS 5

typedef struct cv_detector
{
	int			n_tags;
	int			input_width;	/* the backbone runs at this size */
	int			input_height;
	int			map_tensor[CV_DETECT_MAPS];	/* tensor indices in the backbone file */
	int			map_height[CV_DETECT_MAPS];
	int			map_width[CV_DETECT_MAPS];
	int			map_channels[CV_DETECT_MAPS];
	uint32_t	context;		/* CV_DETECT_CONTEXT_* bits */
	int			in_dim;			/* cv_detector_in_dim */
	int			hidden;
	float	   *mean;			/* in_dim */
	float	   *scale;			/* in_dim: 1 / spread, 0 for a constant input */
	float	   *w1;				/* in_dim x hidden, row-major */
	float	   *b1;				/* hidden */
	float	   *w2;				/* hidden x out_dim, out_dim = n_tags + 5 */
	float	   *b2;				/* out_dim */
	float		calib_a;		/* probability = sigmoid(a * logit(score) + b) */
	float		calib_b;
} cv_detector;

/* The shape of a detector without its weights (what training starts from). */
typedef struct cv_detector_shape
{
	int			n_tags;
	int			input_width;
	int			input_height;
	int			map_tensor[CV_DETECT_MAPS];
	int			map_height[CV_DETECT_MAPS];
	int			map_width[CV_DETECT_MAPS];
	int			map_channels[CV_DETECT_MAPS];
	int			hidden;
	uint32_t	context;		/* CV_DETECT_CONTEXT_* bits */
} cv_detector_shape;

/* Floats of one image view's two maps, map 0 then map 1 (NHWC each). */
size_t		cv_detector_map_floats(const cv_detector_shape *shape);
int			cv_detector_out_dim(int n_tags);
/* Values of one cell row: C0 + C1 (+ C1 neighbours, + C1 global, + 2 position). */
int			cv_detector_in_dim(const cv_detector_shape *shape);
int			cv_detector_cells(const cv_detector_shape *shape);	/* grid of map 0 */

/* Validate a shape: counts within the caps, map 1 no larger than map 0. */
cv_status	cv_detector_shape_check(const cv_detector_shape *shape, cv_error *err);

/* A detector of this shape with zeroed weights and identity calibration. */
cv_status	cv_detector_alloc(const cv_detector_shape *shape, cv_detector **out,
							  cv_error *err);
void		cv_detector_get_shape(const cv_detector *det, cv_detector_shape *shape);
cv_detector *cv_detector_copy(const cv_detector *det);	/* NULL on NOMEM */
void		cv_detector_free(cv_detector *det);		/* accepts NULL */

/*
 * The cell rows of one image view: maps (cv_detector_map_floats floats) to
 * cells x in_dim floats, not yet standardised: [map 0 at the cell, map 1 at
 * its parent, then the context the shape asks for in the order above].
 */
void		cv_detector_rows(const cv_detector_shape *shape, const float *maps,
							 float *rows);

/*
 * Raw outputs for n standardised-or-not rows: rows are standardised here
 * with det->mean/scale when standardise is true.  hidden_scratch holds n x
 * hidden floats, out receives n x out_dim.  rows is overwritten when
 * standardise is true.
 */
void		cv_detector_forward(const cv_detector *det, float *rows, int n,
								bool standardise, float *hidden_scratch,
								float *out);

/*
 * Detections of one image from its maps: probability >= min_probability
 * (calibrated), per-tag NMS above nms_overlap, at most max_detections (>=
 * 1), boxes clipped to the image, most probable first.  mirror_maps, when
 * not NULL, are the maps of the image's mirror (view 1): the outputs of
 * both are averaged before decoding (test-time mirroring, what
 * cv_detect_image does).  *dets is allocated with cv_malloc (NULL when
 * none); *n_dets their count.
 */
cv_status	cv_detector_detect(const cv_detector *det, const float *maps,
							   const float *mirror_maps, float min_probability,
							   double nms_overlap, int max_detections,
							   cv_detection **dets, int *n_dets, cv_error *err);

/*
 * cv_detector_detect on work the caller keeps: cv_detector_detect_work
 * floats (with or without the mirror's maps), reused from call to call, so
 * a host that detects row after row allocates nothing of the head's
 * several megabytes per image (and touches no fresh pages).  Same
 * detections, byte for byte.
 */
size_t		cv_detector_detect_work(const cv_detector *det, bool mirror);
cv_status	cv_detector_detect_in(const cv_detector *det, const float *maps,
								  const float *mirror_maps, float *work,
								  float min_probability, double nms_overlap,
								  int max_detections, cv_detection **dets, int *n_dets,
								  cv_error *err);

/*
 * The two halves of cv_detector_detect, for callers that combine outputs
 * (several detectors, or an image and its mirror) before decoding: the raw
 * outputs of every cell (cells x out_dim floats), and the detections of
 * such outputs, as cv_detector_detect has them.
 */
cv_status	cv_detector_outputs(const cv_detector *det, const float *maps, float *out,
								cv_error *err);
cv_status	cv_detector_decode(const cv_detector *det, const float *out,
							   float min_probability, double nms_overlap,
							   int max_detections, cv_detection **dets,
							   int *n_dets, cv_error *err);

/*
 * Outputs of a mirrored image turned into the outputs of the image itself,
 * in place: cells mirrored left to right, the left and right distances
 * exchanged.
 */
void		cv_detector_mirror_outputs(const cv_detector *det, float *out);

/*
 * Test-time mirroring as cv_detector_detect does it: out (the image's
 * outputs) becomes their mean with mirrored (its mirror's outputs, already
 * turned by cv_detector_mirror_outputs), the quality scaled by the IoU of
 * the two views' boxes at each cell (detector.c says why).
 */
void		cv_detector_combine_mirror(const cv_detector *det, float *out,
									   const float *mirrored);

/*
 * One detector whose outputs are the mean of the outputs of k detectors of
 * one shape (their hidden widths may differ): the hidden layers side by
 * side, each member's inputs re-expressed in the first member's
 * standardisation, the output layers averaged.  The first member's
 * calibration is kept.  An ensemble is an ordinary detector (hidden = the
 * members' sum), so nothing that stores or runs detectors changes.
 */
cv_status	cv_detector_merge(cv_detector *const *dets, int k, cv_detector **out,
							  cv_error *err);

/* Calibrated probability of a raw score (0..1). */
float		cv_detector_calibrate(const cv_detector *det, float score);

/*
 * The augmentation views of detection training.  View 0 is the whole image
 * (what prediction sees), view 1 its mirror, then crops that enlarge the
 * objects and shift them (scale and position jitter), plain and mirrored.
 * Each view is a rectangle of the source in 0..1 and a flip; the boxes move
 * with the pixels (cv_detect_view_boxes).
 */
#define CV_DETECT_MAX_VIEWS 6
#define CV_DETECT_TRAIN_VIEWS 4
/* The view that is the whole image mirrored (test-time mirroring). */
#define CV_DETECT_MIRROR_VIEW 1

typedef struct cv_detect_view
{
	float		left;
	float		top;
	float		width;
	float		height;
	bool		flip;
} cv_detect_view;

const cv_detect_view *cv_detect_view_get(int index);	/* NULL out of range */

/*
 * A view of src rendered at width x height (stretched: the detector sees
 * the whole rectangle, as the boxes are fractions of it).  out->pixels is
 * allocated with cv_malloc.
 */
cv_status	cv_detect_render_view(const cv_rgb_image *src, int view_index,
								  int width, int height, cv_rgb_image *out,
								  cv_error *err);

/* The same into pixels the caller keeps, sums in work (cv_augment_render_in). */
cv_status	cv_detect_render_view_in(const cv_rgb_image *src, int view_index, int width,
									 int height, uint8_t *pixels, void *work,
									 size_t work_len, cv_rgb_image *out, cv_error *err);

/*
 * The boxes of an image as view view_index shows them: moved, mirrored and
 * clipped to the view; a box of which less than min_visible of its area
 * stays inside is dropped.  out holds n entries; returns how many were
 * written.
 */
int			cv_detect_view_boxes(int view_index, const cv_box *boxes, const int *tags,
								 int n, float min_visible, cv_box *out, int *out_tags);

#endif							/* CV_DETECT_DETECTOR_H */
