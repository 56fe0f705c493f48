/*
 * backbone.c
 *	  The feature extractor of an imported domain: a pretrained network
 *	  (src/core/nn) whose pooled activations before its classifier are the
 *	  features (docs/backbones.md says which tensor and why).
 *
 * The extractor owns the loaded network and one workspace.  extract() must
 * be reentrant (features.h): the owned workspace serves one call at a time,
 * guarded by a flag, and a call that finds it busy runs on a workspace of
 * its own.  The flag is not atomic: a host that calls one extractor from
 * several threads at once creates one extractor per thread.
 */
#include "augment.h"
#include "features.h"

#include <string.h>

#include "../nn/nn.h"

typedef struct backbone_state
{
	cv_net	   *net;
	cv_net_workspace *workspace;
	bool		busy;
} backbone_state;

/* Run the network on an image of its input size: scores and/or features. */
static cv_status
backbone_run(const cv_feature_extractor *self, const cv_rgb_image *img,
			 float *scores, float *features, cv_error *err)
{
	backbone_state *st = self->state;
	cv_net_workspace *ws = st->workspace;
	cv_net_workspace *own = NULL;
	cv_status	status;

	if (st->busy)
	{
		status = cv_net_workspace_create(st->net, &own, err);
		if (status != CV_OK)
			return status;
		ws = own;
	}
	else
		st->busy = true;
	status = cv_net_run(st->net, ws, img->pixels, scores, features, err);
	if (own != NULL)
		cv_net_workspace_free(own);
	else
		st->busy = false;
	return status;
}

static cv_status
backbone_extract(const cv_feature_extractor *self, const cv_rgb_image *img,
				 float *out, cv_error *err)
{
	return backbone_run(self, img, NULL, out, err);
}

static void
backbone_destroy(cv_feature_extractor *self)
{
	backbone_state *st = self->state;

	if (st != NULL)
	{
		cv_net_workspace_free(st->workspace);
		cv_net_free(st->net);
		cv_free(st);
		self->state = NULL;
	}
}

cv_status
cv_features_backbone_create(const char *name, const uint8_t *file, size_t len,
							const uint8_t content_hash[32],
							cv_feature_extractor **out, cv_error *err)
{
	return cv_features_backbone_create_engine(name, file, len, content_hash,
											  CV_NET_ENGINE_FLOAT, out, err);
}

/* An extractor around a loaded net (owned from here on), or NULL and the net freed. */
static cv_status
backbone_wrap(const char *name, cv_net *net, const uint8_t content_hash[32],
			  cv_feature_extractor **out, cv_error *err)
{
	cv_feature_extractor *fx;
	backbone_state *st;
	const cv_net_info *info;
	cv_status	status;

	*out = NULL;
	if (name == NULL || strlen(name) > CV_DOMAIN_NAME_MAX)
	{
		cv_net_free(net);
		return cv_fail(err, CV_ERR_PARAM, "invalid domain name");
	}
	fx = cv_calloc(1, sizeof(*fx));
	st = cv_calloc(1, sizeof(*st));
	if (fx == NULL || st == NULL)
	{
		cv_free(fx);
		cv_free(st);
		cv_net_free(net);
		return cv_fail(err, CV_ERR_NOMEM, "out of memory for a backbone");
	}
	fx->state = st;
	fx->destroy = backbone_destroy;
	fx->extract = backbone_extract;
	st->net = net;
	status = cv_net_workspace_create(st->net, &st->workspace, err);
	if (status != CV_OK)
	{
		cv_features_destroy(fx);
		return status;
	}
	info = cv_net_get_info(st->net);
	if (info->feature_dim <= 0)
	{
		cv_features_destroy(fx);
		return cv_fail(err, CV_ERR_UNSUPPORTED,
					   "the network has no classifier whose input could serve as features");
	}
	strcpy(fx->name, name);
	fx->version = info->integer_steps > 0 ? CV_BACKBONE_VERSION_INT8 :
		CV_BACKBONE_VERSION_FLOAT;
	fx->square_views = true;
	fx->train_views = CV_AUGMENT_BACKBONE_VIEWS;
	fx->input_width = info->input_width;
	fx->input_height = info->input_height;
	fx->dim = info->feature_dim;
	memcpy(fx->content_hash, content_hash, 32);
	*out = fx;
	return CV_OK;
}

cv_status
cv_features_backbone_from_net(const char *name, cv_net *net, const uint8_t content_hash[32],
							  cv_feature_extractor **out, cv_error *err)
{
	if (out == NULL || net == NULL)
	{
		cv_net_free(net);
		return cv_fail(err, CV_ERR_PARAM, "no network or output pointer");
	}
	return backbone_wrap(name, net, content_hash, out, err);
}

cv_status
cv_features_backbone_create_engine(const char *name, const uint8_t *file, size_t len,
								   const uint8_t content_hash[32], int engine,
								   cv_feature_extractor **out, cv_error *err)
{
	cv_net_options whole;
	cv_net	   *net = NULL;
	cv_status	status;
	cv_error	load_err;

	*out = NULL;
	if (name == NULL || strlen(name) > CV_DOMAIN_NAME_MAX)
		return cv_fail(err, CV_ERR_PARAM, "invalid domain name");
	cv_error_clear(&load_err);
	memset(&whole, 0, sizeof(whole));
	whole.engine = (cv_net_engine) engine;
	status = cv_net_load_with(file, len, &whole, &net, &load_err);
	if (status == CV_ERR_UNSUPPORTED)
	{
		/*
		 * A network whose last operators we do not run (the SSD detector's
		 * TFLite_Detection_PostProcess) may still be imported for its
		 * feature maps (detection); say so rather than only naming the
		 * operator.
		 */
		cv_net_options opt;
		cv_net	   *prefix = NULL;
		cv_error	ignored;

		memset(&opt, 0, sizeof(opt));
		opt.prefix_only = true;
		cv_error_clear(&ignored);
		if (cv_net_load_with(file, len, &opt, &prefix, &ignored) == CV_OK)
		{
			cv_net_free(prefix);
			return cv_fail(err, CV_ERR_UNSUPPORTED,
						   "the network has no classifier whose input could serve as features: "
						   "it runs only up to its feature maps (%s); detection projects can use it",
						   load_err.message);
		}
	}
	if (status != CV_OK)
		return cv_fail(err, status, "%s", load_err.message);
	return backbone_wrap(name, net, content_hash, out, err);
}

const cv_net *
cv_features_backbone_net(const cv_feature_extractor *fx)
{
	if (fx == NULL || fx->extract != backbone_extract)
		return NULL;
	return ((const backbone_state *) fx->state)->net;
}

cv_status
cv_features_backbone_scores(const cv_feature_extractor *fx, const cv_rgb_image *img,
							float *scores, cv_error *err)
{
	if (fx == NULL || fx->extract != backbone_extract)
		return cv_fail(err, CV_ERR_PARAM, "not a backbone extractor");
	if (img == NULL || img->pixels == NULL || img->width != fx->input_width ||
		img->height != fx->input_height)
		return cv_fail(err, CV_ERR_PARAM, "the network expects %dx%d pixels",
					   fx->input_width, fx->input_height);
	return backbone_run(fx, img, scores, NULL, err);
}
