/*
 * features.c
 *	  The checks every feature extractor call goes through, whatever the
 *	  domain behind it.
 */
#include "features.h"

cv_status
cv_features_extract(const cv_feature_extractor *fx, const cv_rgb_image *img,
					float *out, cv_error *err)
{
	if (fx == NULL || fx->extract == NULL || img == NULL || img->pixels == NULL || out == NULL)
		return cv_fail(err, CV_ERR_PARAM, "invalid arguments to feature extraction");
	if (img->width != fx->input_width || img->height != fx->input_height)
		return cv_fail(err, CV_ERR_PARAM, "domain %s expects %dx%d pixels, got %dx%d",
					   fx->name, fx->input_width, fx->input_height,
					   img->width, img->height);
	return fx->extract(fx, img, out, err);
}

void
cv_features_destroy(cv_feature_extractor *fx)
{
	if (fx == NULL)
		return;
	if (fx->destroy != NULL)
		fx->destroy(fx);
	cv_free(fx);
}
