/*
 * detect_synth.h
 *	  A tiny synthetic object-detection set that the unit tests draw
 *	  themselves: noise images with red rectangles (tag 0) and blue discs
 *	  (tag 1) and their true boxes, fully determined by a seed.
 *
 * The test Makefile links each test_*.c with the core only, so a test that
 * needs the generator includes detect_synth.c directly (one translation
 * unit per test program), as with tflite_builder.c.
 */
#ifndef DETECT_SYNTH_H
#define DETECT_SYNTH_H

#include <stdint.h>

#include "common/cv_common.h"
#include "detect/detect_metrics.h"
#include "image/image.h"

/* Tags of the two kinds of object. */
#define DETECT_SYNTH_RECT	0
#define DETECT_SYNTH_DISC	1

/*
 * Fill *out (pixels from cv_malloc: release with cv_rgb_image_free) with a
 * width x height image of uniform RGB noise and up to max_objects objects,
 * and write their true boxes to boxes[0..*n_boxes-1] (normalized
 * left/top/width/height, .image 0 for the caller to renumber).
 *
 *	- About 15% of seeds give a negative image (no object, *n_boxes 0);
 *	  otherwise 1..max_objects objects are attempted.
 *	- A rectangle is a solid red-ish fill (R 170..255, G and B 0..70) whose
 *	  width and height are each 15%..45% of the image's width and height.
 *	- A disc is a solid blue-ish fill (B 170..255, R and G 0..70) whose
 *	  diameter is 15%..45% of the shorter side; its box is the tight square
 *	  around it (the disc touches all four sides).
 *	- Objects never overlap (their boxes do not intersect), so each box's
 *	  pixels are exactly its object's; an object that finds no free place
 *	  after a fixed number of tries is left out, so *n_boxes may be lower
 *	  than the count attempted (and never above 64).
 *	- Box edges lie on pixel boundaries: left * width is a whole number.
 *
 * The same (seed, width, height, max_objects) always gives the same bytes,
 * on any platform: the PRNG and all placement arithmetic are integers.
 * CV_ERR_PARAM for width or height outside 16..4096, max_objects < 0, or
 * a NULL out / n_boxes (or boxes with max_objects > 0); CV_ERR_NOMEM.
 */
cv_status	detect_synth_image(uint32_t seed, int width, int height,
							   int max_objects, cv_rgb_image *out,
							   cv_truth_box *boxes, int *n_boxes,
							   cv_error *err);

#endif							/* DETECT_SYNTH_H */
