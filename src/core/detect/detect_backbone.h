/*
 * detect_backbone.h
 *	  The feature maps a detector reads: an imported backbone network cut at
 *	  its stride-16 and stride-32 maps and run at the detector's input size.
 *
 * Which maps: at each stride s in {16, 32}, the last activation the network
 * computes whose spatial size is ceil(input / s) and that has at most
 * CV_DETECT_MAP_MAX_CHANNELS channels, looking only at the trunk: the
 * activations before the first one that is larger than its predecessor
 * (where a detector's own head, such as SSD's box predictors, begins).  For
 * MobileNet V2 these are, at stride 16, the 576-channel expansion of block
 * 13 (`expanded_conv_13/expand`, the last activation before the stride-2
 * depthwise: the map SSDLite reads at that stride, Sandler et al. 2018) and,
 * at stride 32, the output of the last inverted-residual block
 * (`expanded_conv_16/project`, 320 channels), not the final 1280-channel
 * convolution, which was trained to say what the whole photo holds.  The
 * expansion lifted raccoon-od's and azure-forkscissors-od's mAP@0.5 by 0.05
 * to 0.1 over the 96-channel block output (docs/detection.md), at 3.7
 * times the cached maps.  For the SSD MobileNet V1 detector they are its
 * 19x19x384 pointwise map and the 10x10x192 reduction its extra layers
 * make of the 768-channel map.  The choice is made once on the file at its
 * own size and recorded in the model by tensor index.
 *
 * A detection backbone owns its cut network and one workspace, with the
 * reentrancy rule of backbone.c: a call that finds the workspace busy runs
 * on a workspace of its own.
 */
#ifndef CV_DETECT_BACKBONE_H
#define CV_DETECT_BACKBONE_H

#include "../common/cv_common.h"
#include "../image/image.h"
#include "detector.h"

#define CV_DETECT_MAP_MAX_CHANNELS 1024

/*
 * The input size detectors are trained at (square; the photo is stretched
 * to it, boxes being fractions of the photo): measured at 224, 320 and 416
 * in docs/detection.md.
 */
#define CV_DETECT_INPUT_SIZE 320

/*
 * Version of what the maps of a backbone are (the choice of tensors, the
 * views, the rendering): cached maps of another version are recomputed.
 */
#define CV_DETECT_MAPS_VERSION 3	/* 3: the cap of 1024 channels (was 512) */
/* the same maps computed on the int8 engine (nn.h, CV_NET_ENGINE_INT8) */
#define CV_DETECT_MAPS_VERSION_INT8 4

typedef struct cv_detect_backbone cv_detect_backbone;

/*
 * The two map tensors of a TFLite file (the rule above), their names for
 * messages (may be NULL).  CV_ERR_UNSUPPORTED when the file has no such
 * maps (a network that is not convolutional at those strides); the errors
 * of cv_net_load_with otherwise.
 */
cv_status	cv_detect_backbone_choose(const uint8_t *file, size_t len, int tensors[2],
									  cv_error *err);

/*
 * The cut network at input_width x input_height (a multiple of 32 is best),
 * reading the given tensors.  file is read only during the call.
 */
cv_status	cv_detect_backbone_create(const uint8_t *file, size_t len,
									  int input_width, int input_height,
									  const int tensors[2],
									  cv_detect_backbone **out, cv_error *err);

/*
 * The same on an engine of nn.h.  On CV_NET_ENGINE_INT8 a quantized file
 * runs on integers and its maps are CV_DETECT_MAPS_VERSION_INT8; a file
 * with nothing to run on integers gives the float maps (and version).
 */
cv_status	cv_detect_backbone_create_engine(const uint8_t *file, size_t len,
											 int input_width, int input_height,
											 const int tensors[2], int engine,
											 cv_detect_backbone **out, cv_error *err);

/*
 * The same around a net already cut at tensors (cv_net_load_with with
 * n_outputs 2, or a prepared net of one, nn.h cv_net_load_prepared), which
 * the backbone then owns: freed with it, or at once on failure.
 */
struct cv_net;
cv_status	cv_detect_backbone_from_net(struct cv_net *net, const int tensors[2],
										cv_detect_backbone **out, cv_error *err);

/* The network of a backbone (owned by it). */
const struct cv_net *cv_detect_backbone_net(const cv_detect_backbone *bb);

/* The version of the maps this backbone computes (CV_DETECT_MAPS_VERSION*). */
uint32_t	cv_detect_backbone_maps_version(const cv_detect_backbone *bb);
void		cv_detect_backbone_free(cv_detect_backbone *bb);	/* accepts NULL */

/* The map part of a detector shape (tensors, sizes, channels, input). */
void		cv_detect_backbone_shape(const cv_detect_backbone *bb,
									 cv_detector_shape *shape);

/*
 * Maps of an image already rendered at the input size: writes
 * cv_detector_map_floats(shape) floats (map 0 then map 1, NHWC).
 */
cv_status	cv_detect_backbone_maps(cv_detect_backbone *bb, const cv_rgb_image *img,
									float *maps, cv_error *err);

/*
 * Maps of view view_index (detector.h) of a decoded image: renders, then
 * runs.  maps as above.
 */
cv_status	cv_detect_backbone_view_maps(cv_detect_backbone *bb,
										 const cv_rgb_image *src, int view_index,
										 float *maps, cv_error *err);

/*
 * Detections of a decoded image: the maps of view 0 and of its mirror (view
 * 1, averaged: cv_detector_detect), the detector (whose map
 * shape must be this backbone's: CV_ERR_PARAM otherwise).
 */
cv_status	cv_detect_image(cv_detect_backbone *bb, const cv_detector *det,
							const cv_rgb_image *src, float min_probability,
							double nms_overlap, int max_detections,
							cv_detection **dets, int *n_dets, cv_error *err);

/*
 * What one cv_detect_image needs besides the backbone's own workspace:
 * the rendered view, the rendering's sums, both views' maps and the
 * head's products (several megabytes for a 320-pixel MobileNet V2).  A
 * host that detects row after row keeps one and reserves it before each
 * call, in memory that outlives the call; cv_detect_image_in then
 * allocates nothing of that size, so no fresh pages are touched per image.
 * cv_detect_work_reserve grows the buffers (cv_malloc, in the allocator
 * current then) to fit src_height-row photos for bb and det; it never
 * shrinks them.  A work serves one call at a time.
 */
typedef struct cv_detect_work cv_detect_work;

cv_detect_work *cv_detect_work_create(void);	/* NULL when out of memory */
cv_status	cv_detect_work_reserve(cv_detect_work *work, const cv_detect_backbone *bb,
								   const cv_detector *det, int src_height, cv_error *err);
void		cv_detect_work_free(cv_detect_work *work);	/* accepts NULL */

/*
 * cv_detect_image with work (NULL, or too small for this photo: buffers of
 * its own for the call).  The same detections, byte for byte.
 */
cv_status	cv_detect_image_in(cv_detect_backbone *bb, const cv_detector *det,
							   cv_detect_work *work, const cv_rgb_image *src,
							   float min_probability, double nms_overlap,
							   int max_detections, cv_detection **dets, int *n_dets,
							   cv_error *err);

#endif							/* CV_DETECT_BACKBONE_H */
