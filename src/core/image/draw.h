/*
 * draw.h
 *	  Boxes and their labels drawn on an RGB image: what cv_draw shows of a
 *	  detector's results or of a project's regions.
 *
 * Boxes are fractions of the image (left, top, width, height, as
 * cv_detect returns them and cv_regions stores them), outlined in a colour
 * that depends only on the tag's name, so one tag has one colour in every
 * picture.  The label (the tag name, and the probability when there is
 * one) is written in a built-in 5x7 pixel font on a band of the box's
 * colour, above the box when it fits and inside it otherwise; line width
 * and letter size grow with the image so the picture reads at any size.
 * Printable ASCII is drawn as such; any other character as '?'.
 */
#ifndef CV_IMAGE_DRAW_H
#define CV_IMAGE_DRAW_H

#include "../common/cv_common.h"
#include "image.h"

typedef struct cv_draw_box
{
	const char *tag;			/* NUL-terminated UTF-8; "" for no label */
	float		probability;	/* 0..1, or negative for none */
	float		left;			/* fractions of the image */
	float		top;
	float		width;
	float		height;
} cv_draw_box;

/* The outline colour of a tag: a fixed palette picked by a hash of the name. */
void		cv_draw_tag_colour(const char *tag, uint8_t rgb[3]);

/*
 * Draw n boxes on img, in order (later boxes over earlier ones).  Boxes
 * are clipped to the image; one entirely outside it draws nothing.
 * CV_ERR_PARAM for a NaN or infinite coordinate or a negative size.
 */
cv_status	cv_draw_boxes(cv_rgb_image *img, const cv_draw_box *boxes, int n, cv_error *err);

/* Line width in pixels cv_draw_boxes uses on an image of this size. */
int			cv_draw_line_width(int width, int height);

#endif							/* CV_IMAGE_DRAW_H */
