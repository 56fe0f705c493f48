/*
 * input_pixels.c
 *	  The exact pixels an exported model takes for a decoded image: the
 *	  rendering cv_predict and cv_detect do before their networks, and
 *	  nothing else, so that a runner outside the database that feeds these
 *	  bytes gets the database's answers (docs/export.md).
 *
 * Classification renders view 0 as cv_augment_features does for
 * cv_model_predict_image (cv_augment_view_for, then cv_augment_render at
 * the extractor's input size); detection renders view 0 as
 * cv_detect_image does (cv_detect_render_view at the detector's size).
 * Both call the same functions as the prediction paths rather than copies
 * of them, so they cannot drift apart; test_export_pixels.c checks it.
 */
#include "export.h"

#include <string.h>

#include "../detect/detector.h"
#include "../learn/augment.h"

/* A model of a built-in domain (compact) names no backbone: zero hash. */
static bool
built_in_domain(const cv_model *model)
{
	static const uint8_t zero[32] = {0};

	return memcmp(model->domain_hash, zero, sizeof(zero)) == 0;
}

cv_status
cv_export_input_pixels(const cv_model *model, const cv_feature_extractor *fx,
					   const cv_rgb_image *img, cv_rgb_image *out, cv_error *err)
{
	cv_view		view;
	cv_status	st;

	if (out == NULL)
		return cv_fail(err, CV_ERR_PARAM, "no output image");
	memset(out, 0, sizeof(*out));
	if (model == NULL || img == NULL || img->pixels == NULL || img->width <= 0 || img->height <= 0)
		return cv_fail(err, CV_ERR_PARAM, "input pixels need a model and a decoded image");
	if (built_in_domain(model))
		return cv_fail(err, CV_ERR_UNSUPPORTED,
					   "a model of the built-in domain %s cannot be exported: it has no network to take pixels",
					   model->domain);

	if (model->task == CV_TASK_DETECTION)
	{
		const cv_detector *det = model->detector;

		if (det == NULL || det->input_width != model->input_width ||
			det->input_height != model->input_height)
			return cv_fail(err, CV_ERR_PARAM, "detection model without a detector of its input size");
		return cv_detect_render_view(img, 0, det->input_width, det->input_height, out, err);
	}

	if (model->head == NULL || fx == NULL)
		return cv_fail(err, CV_ERR_PARAM, "a classification model needs its head and its domain's extractor");
	st = cv_model_check_extractor(model, fx, err);
	if (st != CV_OK)
		return st;
	/* several views averaged are not the pixels of one image */
	if (model->head->predict_views != 1)
		return cv_fail(err, CV_ERR_UNSUPPORTED,
					   "the model averages its predictions over %d views of an image; one input cannot represent them",
					   model->head->predict_views);
	if (!cv_augment_view_for(fx, img, 0, &view))
		return cv_fail(err, CV_ERR_PARAM, "cannot render a view of an empty image");
	return cv_augment_render(img, &view, fx->input_width, fx->input_height, out, err);
}
