/*
 * model.c
 *	  Building, releasing and using an in-memory cv_model (the byte format
 *	  is model_format.c).
 */
#include "model.h"
#include "../learn/augment.h"

#include <math.h>
#include <string.h>

static cv_status
check_tag_names(const char *const *tag_names, int n, cv_error *err)
{
	for (int k = 0; k < n; k++)
	{
		size_t		len = tag_names[k] ? strlen(tag_names[k]) : 0;

		if (len == 0 || len > CV_MODEL_TAG_NAME_MAX)
			return cv_fail(err, CV_ERR_PARAM, "tag name %d must have 1 to %d bytes",
						   k, CV_MODEL_TAG_NAME_MAX);
	}
	return CV_OK;
}

/* m->n_tags copies of the names; CV_ERR_NOMEM leaves m for cv_model_free. */
static cv_status
copy_tag_names(cv_model *m, const char *const *tag_names)
{
	m->tag_names = cv_calloc((size_t) m->n_tags, sizeof(char *));
	if (m->tag_names == NULL)
		return CV_ERR_NOMEM;
	for (int k = 0; k < m->n_tags; k++)
	{
		size_t		len = strlen(tag_names[k]);

		m->tag_names[k] = cv_malloc(len + 1);
		if (m->tag_names[k] == NULL)
			return CV_ERR_NOMEM;
		memcpy(m->tag_names[k], tag_names[k], len + 1);
	}
	return CV_OK;
}

void
cv_model_free(cv_model *m)
{
	if (m == NULL)
		return;
	if (m->tag_names != NULL)
		for (int k = 0; k < m->n_tags; k++)
			cv_free(m->tag_names[k]);
	cv_free(m->tag_names);
	cv_head_free(m->head);
	cv_detector_free(m->detector);
	cv_free(m->backbone);
	cv_free(m);
}

cv_status
cv_model_build(const cv_feature_extractor *fx, const char *const *tag_names,
			   const cv_head *head, float threshold, cv_model **out,
			   cv_error *err)
{
	cv_model   *m;

	*out = NULL;
	if (fx == NULL || tag_names == NULL || head == NULL)
		return cv_fail(err, CV_ERR_PARAM, "invalid arguments to model build");
	if (head->dim != fx->dim)
		return cv_fail(err, CV_ERR_PARAM, "head has %d features, domain %s has %d",
					   head->dim, fx->name, fx->dim);
	if (!(threshold >= 0.0f && threshold <= 1.0f))
		return cv_fail(err, CV_ERR_PARAM, "threshold must be between 0 and 1");
	if (head->predict_views < 1 || head->predict_views > CV_AUGMENT_MAX_VIEWS)
		return cv_fail(err, CV_ERR_PARAM, "head averages %d views; at most %d are possible",
					   head->predict_views, CV_AUGMENT_MAX_VIEWS);
	if (head->norm != CV_NORM_NONE && head->norm != CV_NORM_POWER_L2)
		return cv_fail(err, CV_ERR_PARAM, "unknown feature normalisation %d", (int) head->norm);
	if (check_tag_names(tag_names, head->n_tags, err) != CV_OK)
		return err != NULL ? err->code : CV_ERR_PARAM;
	m = cv_calloc(1, sizeof(*m));
	if (m == NULL)
		return cv_fail(err, CV_ERR_NOMEM, "out of memory building a model");
	m->task = head->task;
	m->n_tags = head->n_tags;
	memcpy(m->domain, fx->name, sizeof(m->domain));
	m->domain[CV_DOMAIN_NAME_MAX] = '\0';
	memcpy(m->domain_hash, fx->content_hash, 32);
	m->extractor_version = fx->version;
	m->input_width = fx->input_width;
	m->input_height = fx->input_height;
	m->threshold = threshold;
	m->head = cv_head_copy(head);
	if (m->head == NULL || copy_tag_names(m, tag_names) != CV_OK)
	{
		cv_model_free(m);
		return cv_fail(err, CV_ERR_NOMEM, "out of memory building a model");
	}
	*out = m;
	return CV_OK;
}

cv_status
cv_model_build_detection(const char *domain, const uint8_t domain_hash[32],
						 uint32_t maps_version, const char *const *tag_names,
						 const cv_detector *det, float threshold, cv_model **out,
						 cv_error *err)
{
	cv_model   *m;

	*out = NULL;
	if (domain == NULL || strlen(domain) == 0 || strlen(domain) > CV_DOMAIN_NAME_MAX ||
		tag_names == NULL || det == NULL)
		return cv_fail(err, CV_ERR_PARAM, "invalid arguments to model build");
	if (!(threshold >= 0.0f && threshold <= 1.0f))
		return cv_fail(err, CV_ERR_PARAM, "threshold must be between 0 and 1");
	if (check_tag_names(tag_names, det->n_tags, err) != CV_OK)
		return err != NULL ? err->code : CV_ERR_PARAM;
	m = cv_calloc(1, sizeof(*m));
	if (m == NULL)
		return cv_fail(err, CV_ERR_NOMEM, "out of memory building a model");
	m->task = CV_TASK_DETECTION;
	m->n_tags = det->n_tags;
	strcpy(m->domain, domain);
	memcpy(m->domain_hash, domain_hash, 32);
	m->extractor_version = maps_version;
	m->input_width = det->input_width;
	m->input_height = det->input_height;
	m->threshold = threshold;
	m->detector = cv_detector_copy(det);
	if (m->detector == NULL || copy_tag_names(m, tag_names) != CV_OK)
	{
		cv_model_free(m);
		return cv_fail(err, CV_ERR_NOMEM, "out of memory building a model");
	}
	*out = m;
	return CV_OK;
}

cv_status
cv_model_check_extractor(const cv_model *m, const cv_feature_extractor *fx,
						 cv_error *err)
{
	if (m->head == NULL)
		return cv_fail(err, CV_ERR_PARAM, "a detection model reads feature maps, not features");
	if (strcmp(m->domain, fx->name) != 0)
		return cv_fail(err, CV_ERR_PARAM, "model was trained on domain %s, not %s",
					   m->domain, fx->name);
	if (m->extractor_version != fx->version)
		return cv_fail(err, CV_ERR_PARAM,
					   "model was trained on version %u of domain %s, this is version %u",
					   m->extractor_version, m->domain, fx->version);
	if (memcmp(m->domain_hash, fx->content_hash, 32) != 0)
		return cv_fail(err, CV_ERR_PARAM, "model was trained on other weights of domain %s",
					   m->domain);
	if (m->input_width != fx->input_width || m->input_height != fx->input_height ||
		m->head->dim != fx->dim)
		return cv_fail(err, CV_ERR_PARAM, "model and domain %s disagree on input or feature size",
					   m->domain);
	return CV_OK;
}

cv_status
cv_model_predict_image(const cv_model *m, const cv_feature_extractor *fx,
					   const cv_rgb_image *img, float *probs, cv_error *err)
{
	float	   *features;
	int			views;
	cv_status	st;

	if (m->head == NULL)
		return cv_fail(err, CV_ERR_PARAM, "a detection model finds boxes, it does not classify");
	views = m->head->predict_views;
	st = cv_model_check_extractor(m, fx, err);
	if (st != CV_OK)
		return st;
	features = cv_malloc(sizeof(float) * (size_t) views * fx->dim);
	if (features == NULL)
		return cv_fail(err, CV_ERR_NOMEM, "out of memory for image features");
	st = cv_augment_features(fx, img, views, features, err);
	if (st == CV_OK)
		st = cv_head_predict(m->head, features, views, probs, err);
	cv_free(features);
	return st;
}
