/*
 * augment.h
 *	  Views of an image for training-time augmentation: the whole image,
 *	  its mirror, and crops, each rendered at a domain's input size.
 *
 * The views are a fixed list (cv_augment_view), so view v of an image is
 * always the same pixels and the features of all views can be cached per
 * image and domain.  View 0 is always the whole, unflipped image: it is what
 * prediction looks at, and held-out evaluation scores it (or the average
 * over the first predict_views views, as the model records).
 *
 * Rendering maps a rectangle of the source (fractions of its width and
 * height) onto width x height pixels with area averaging where it shrinks
 * and linear interpolation where it grows; the aspect ratio is not kept (the
 * whole photo is seen, as the hosted services do).  Deterministic.
 *
 * Extractors with square_views (the imported backbones) see each view's
 * rectangle cut down to its centred square in pixels instead (for a
 * 400 x 533 photo, view 0 is the middle 400 x 400): ImageNet networks were
 * trained and evaluated on aspect-preserving crops, and stretched inputs
 * cost them accuracy (clothing-small with mobilenet_v2: 84.4% top-1
 * stretched, 87% centre square; docs/heads.md).
 */
#ifndef CV_LEARN_AUGMENT_H
#define CV_LEARN_AUGMENT_H

#include "../common/cv_common.h"
#include "../image/image.h"
#include "features.h"

#define CV_AUGMENT_MAX_VIEWS 8

/*
 * Views the trainer should receive per image for the compact domain:
 * whole, mirror, centre crop and mirrored centre crop.  Measured with
 * tools/bench_compact: on clothing-small 4 views beat 1 by about 2 points
 * of accuracy; 8 views (adding corner crops) were no better than 4 on any
 * set and twice the cost.  cv_train_views() lowers it for large projects.
 */
#define CV_AUGMENT_TRAIN_VIEWS 4

/*
 * Imported backbones train on the whole square and its mirror only.  The
 * centre crops that help the compact domain hurt the pretrained networks:
 * with mobilenet_v2, 2 views against 4 gave clothing-small 87.6% against
 * 86.5% and fruit-multilabel 95.0% against 93.3%, in half the training
 * time (tools/bench_compact, docs/heads.md).
 */
#define CV_AUGMENT_BACKBONE_VIEWS 2

typedef struct cv_view
{
	float		left;			/* fractions of the source, 0..1 */
	float		top;
	float		width;
	float		height;
	bool		flip;			/* mirror left-right after cropping */
} cv_view;

/* Standard view index (0 <= index < CV_AUGMENT_MAX_VIEWS); NULL otherwise. */
const cv_view *cv_augment_view(int index);

/*
 * Render one view of src at width x height into out (allocated with
 * cv_malloc; free with cv_rgb_image_free-compatible cv_free of pixels).
 * CV_ERR_PARAM for an empty image or a rectangle outside 0..1.
 */
cv_status	cv_augment_render(const cv_rgb_image *src, const cv_view *view,
							  int width, int height, cv_rgb_image *out,
							  cv_error *err);

/*
 * cv_augment_render into pixels the caller keeps (width x height x 3
 * bytes; out->pixels points at them, not to be freed), with the sums in
 * work when it holds cv_augment_render_work(src->height, width) bytes
 * (else in buffers of its own for the call).  The same bytes as
 * cv_augment_render.  cv_augment_render_work depends on
 * cv_parallel_threads() at the time of the call; 0 for a bad size.
 */
size_t		cv_augment_render_work(int src_height, int width);
cv_status	cv_augment_render_in(const cv_rgb_image *src, const cv_view *view,
								 int width, int height, uint8_t *pixels, void *work,
								 size_t work_len, cv_rgb_image *out, cv_error *err);

/*
 * The rectangle view index of src becomes for fx: the standard view, or
 * with fx->square_views its centred square.  false for a bad index or an
 * empty image.
 */
bool		cv_augment_view_for(const cv_feature_extractor *fx,
								const cv_rgb_image *src, int index,
								cv_view *out);

/*
 * Features of the first n_views views of src (cv_augment_view_for): out
 * receives n_views * fx->dim floats, view after view (view 0 first).
 */
cv_status	cv_augment_features(const cv_feature_extractor *fx,
								const cv_rgb_image *src, int n_views,
								float *out, cv_error *err);

#endif							/* CV_LEARN_AUGMENT_H */
