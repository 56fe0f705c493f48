/*
 * export_fixture.c
 *	  The shared pieces of the export tests (export_fixture.h).  Included
 *	  directly by the tests that use them.
 */
#include "export_fixture.h"

#include <string.h>

#include "unit.h"

cv_model *
export_fixture_classifier(const uint8_t *file, size_t len, cv_task task, cv_net_engine engine,
						  const export_fixture_head *shape, cv_feature_extractor **fx_out)
{
	static const uint8_t hash[32] = {1, 2, 3};
	cv_feature_extractor *fx = NULL;
	cv_head    *h;
	cv_model   *m = NULL;
	cv_error	err;

	CHECK(cv_features_backbone_create_engine("tiny", file, len, hash, engine, &fx, &err) == CV_OK);
	if (fx == NULL)
		return NULL;
	h = cv_head_alloc(task, 3, fx->dim);
	h->norm = CV_NORM_POWER_L2;
	for (int j = 0; j < fx->dim; j++)
	{
		h->mean[j] = shape->mean_step * (j % 7);
		if (shape->mean_per_dim)
			h->mean[j] /= fx->dim;
		h->scale[j] = 1.0f + 0.1f * (j % 3);
		for (int k = 0; k < shape->weighted_tags; k++)
			h->weights[(size_t) k * fx->dim + j] = shape->weight_step * (((j * (k + 3)) % 11) - 5);
	}
	for (int k = 0; k < 3; k++)
		h->bias[k] = shape->bias[k];
	if (shape->negative)
		h->negative[2] = true;
	CHECK(cv_model_build(fx, shape->tags, h, 0.5f, &m, &err) == CV_OK);
	cv_head_free(h);
	*fx_out = fx;
	return m;
}

bool
export_fixture_contains(const uint8_t *hay, size_t n, const char *needle)
{
	size_t		k = strlen(needle);

	for (size_t i = 0; i + k <= n; i++)
		if (memcmp(hay + i, needle, k) == 0)
			return true;
	return false;
}

cv_detector *
export_fixture_detector(const uint8_t *file, size_t len, cv_net_engine engine,
						cv_detect_backbone **bb_out, cv_detector_shape *shape_out)
{
	int			tensors[2];
	cv_detect_backbone *bb = NULL;
	cv_detector *d = NULL;
	cv_error	err;

	*bb_out = NULL;
	CHECK(cv_detect_backbone_choose(file, len, tensors, &err) == CV_OK);
	CHECK(cv_detect_backbone_create_engine(file, len, 160, 160, tensors, engine, &bb, &err) == CV_OK);
	if (bb == NULL)
		return NULL;
	cv_detect_backbone_shape(bb, shape_out);
	shape_out->n_tags = 2;
	shape_out->hidden = 8;
	shape_out->context = CV_DETECT_CONTEXT_ALL;
	CHECK(cv_detector_alloc(shape_out, &d, &err) == CV_OK);
	*bb_out = bb;
	return d;
}
