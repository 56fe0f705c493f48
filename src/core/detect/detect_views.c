/*
 * detect_views.c
 *	  The augmentation views of detection training (detector.h): which
 *	  crops and mirrors of a photo the detector sees, their rendering at the
 *	  detector's input size, and the boxes moved with the pixels.
 */
#include "detector.h"
#include "../learn/augment.h"

/*
 * The views.  The crops keep 80% of each side (objects grow by a quarter),
 * at opposite corners and mirrored in turn, so positions and sizes move
 * both ways; measured against fewer views in docs/detection.md.
 */
static const cv_detect_view detect_views[CV_DETECT_MAX_VIEWS] = {
	{0.0f, 0.0f, 1.0f, 1.0f, false},
	{0.0f, 0.0f, 1.0f, 1.0f, true},
	{0.0f, 0.0f, 0.8f, 0.8f, false},
	{0.2f, 0.2f, 0.8f, 0.8f, true},
	{0.2f, 0.0f, 0.8f, 0.8f, false},
	{0.0f, 0.2f, 0.8f, 0.8f, true},
};

const cv_detect_view *
cv_detect_view_get(int index)
{
	if (index < 0 || index >= CV_DETECT_MAX_VIEWS)
		return NULL;
	return &detect_views[index];
}

/* A detection view as the renderer's rectangle; false out of range. */
static bool
detect_view_rect(int view_index, cv_view *view)
{
	const cv_detect_view *v = cv_detect_view_get(view_index);

	if (v == NULL)
		return false;
	view->left = v->left;
	view->top = v->top;
	view->width = v->width;
	view->height = v->height;
	view->flip = v->flip;
	return true;
}

cv_status
cv_detect_render_view(const cv_rgb_image *src, int view_index, int width,
					  int height, cv_rgb_image *out, cv_error *err)
{
	cv_view		view;

	if (!detect_view_rect(view_index, &view))
		return cv_fail(err, CV_ERR_PARAM, "detection view %d does not exist", view_index);
	return cv_augment_render(src, &view, width, height, out, err);
}

cv_status
cv_detect_render_view_in(const cv_rgb_image *src, int view_index, int width, int height,
						 uint8_t *pixels, void *work, size_t work_len, cv_rgb_image *out,
						 cv_error *err)
{
	cv_view		view;

	if (!detect_view_rect(view_index, &view))
		return cv_fail(err, CV_ERR_PARAM, "detection view %d does not exist", view_index);
	return cv_augment_render_in(src, &view, width, height, pixels, work, work_len, out, err);
}

int
cv_detect_view_boxes(int view_index, const cv_box *boxes, const int *tags,
					 int n, float min_visible, cv_box *out, int *out_tags)
{
	const cv_detect_view *v = cv_detect_view_get(view_index);
	int			kept = 0;

	if (v == NULL)
		return 0;
	for (int i = 0; i < n; i++)
	{
		double		area = (double) boxes[i].width * boxes[i].height;
		cv_box		b;

		b.left = (boxes[i].left - v->left) / v->width;
		b.top = (boxes[i].top - v->top) / v->height;
		b.width = boxes[i].width / v->width;
		b.height = boxes[i].height / v->height;
		b = cv_box_clip(b);
		/* visible share of the original box, in source units */
		if (area <= 0.0 ||
			(double) b.width * v->width * b.height * v->height < min_visible * area)
			continue;
		if (v->flip)
			b.left = 1.0f - b.left - b.width;
		out[kept] = b;
		out_tags[kept] = tags[i];
		kept++;
	}
	return kept;
}
