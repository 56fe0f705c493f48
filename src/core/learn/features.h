/*
 * features.h
 *	  The feature-extractor slot: a domain turns an RGB image into a fixed
 *	  length float vector that the linear heads learn from.
 *
 * A domain is a struct of parameters plus an extract function pointer and
 * opaque state, so the built-in `compact` domain and imported CNN backbones
 * (MobileNet pooled features, 1280 floats) plug into the same place.
 *
 * Contract for every extractor:
 *	 - extract() receives an image of exactly input_width x input_height
 *	   (cv_augment_render makes one from any decoded image) and writes dim
 *	   floats;
 *	 - the output is a pure function of the pixels and of (name, version):
 *	   callers cache it per image and domain, and a model records name,
 *	   version and content_hash to refuse features of another extractor;
 *	 - extract() is reentrant (no mutable shared state; scratch memory comes
 *	   from cv_malloc per call), so one extractor may serve parallel workers;
 *	 - it never aborts: errors come back as a cv_status.
 */
#ifndef CV_LEARN_FEATURES_H
#define CV_LEARN_FEATURES_H

#include "../common/cv_common.h"
#include "../image/image.h"

#define CV_DOMAIN_NAME_MAX 63

typedef struct cv_feature_extractor cv_feature_extractor;

struct cv_feature_extractor
{
	char		name[CV_DOMAIN_NAME_MAX + 1];	/* "compact", or the backbone's */
	uint32_t	version;		/* changes whenever outputs change */
	int			input_width;	/* pixels extract() expects */
	int			input_height;
	int			dim;			/* floats extract() writes */
	uint8_t		content_hash[32];	/* SHA-256 of the weights file; zero
									 * for built-in domains */
	bool		square_views;	/* views keep the aspect ratio: each is
								 * the centred square of its rectangle
								 * (augment.h); false: stretched */
	int			train_views;	/* views per image the trainer uses at
								 * most (1..CV_AUGMENT_MAX_VIEWS; 0 means
								 * CV_AUGMENT_TRAIN_VIEWS): see augment.h */

	cv_status	(*extract) (const cv_feature_extractor *self,
							const cv_rgb_image *img, float *out,
							cv_error *err);
	void		(*destroy) (cv_feature_extractor *self);	/* frees state */
	void	   *state;
};

/*
 * Validate the image size, then call the extractor.  CV_ERR_PARAM when the
 * image is not input_width x input_height.
 */
cv_status	cv_features_extract(const cv_feature_extractor *fx,
								const cv_rgb_image *img, float *out,
								cv_error *err);

/* Release an extractor made by a *_create function; accepts NULL. */
void		cv_features_destroy(cv_feature_extractor *fx);

/*
 * The built-in `compact` domain: hand-made features that need no weights
 * file and are deterministic (see docs/compact-domain.md and compact.c).
 * The blocks can be switched for measurement (tools/bench_compact); the
 * domain itself always uses cv_compact_default.
 */
typedef struct cv_compact_config
{
	int			size;			/* input is size x size */
	bool		colour;			/* HSV histogram, 1x1 + 2x2 */
	bool		colour_fine;	/* colour histogram also on a 4x4 grid */
	bool		hog;			/* gradient orientations, 1x1 + 2x2 + 4x4 */
	bool		hog_coarse;		/* same at half resolution (larger shapes) */
	bool		lbp;			/* uniform LBP, 1x1 + 2x2 */
	bool		thumb;			/* 8x8 grey thumbnail (layout) */
	bool		power;			/* signed sqrt of each normalised block */
} cv_compact_config;

extern const cv_compact_config cv_compact_default;

/* The compact domain with its default configuration. */
cv_status	cv_features_compact_create(cv_feature_extractor **out,
									   cv_error *err);

/* The compact domain with another configuration (for benchmarks). */
cv_status	cv_features_compact_create_with(const cv_compact_config *config,
											cv_feature_extractor **out,
											cv_error *err);

/*
 * Where a named block ("colour", "colour_fine", "hog", "hog_coarse", "lbp",
 * "thumb") sits inside a compact feature vector: false when the extractor
 * is not compact or the block is switched off.  For tests and diagnostics.
 */
bool		cv_features_compact_block(const cv_feature_extractor *fx,
									  const char *block, int *offset,
									  int *length);

/*
 * An imported domain: the pretrained network in the TFLite bytes file
 * (read only during the call), named name, identified by content_hash (the
 * SHA-256 of file, computed by the host).  The features are the network's
 * pooled activations before its classifier (docs/backbones.md); the input
 * size is the network's.  Errors are cv_net_load's, and CV_ERR_UNSUPPORTED
 * for a network without such a tensor, including one that loads only up to
 * its feature maps (cv_net_options.prefix_only: the SSD detector, whose
 * last operator we do not run), which the message says detection can use.
 */
struct cv_net;
cv_status	cv_features_backbone_create(const char *name, const uint8_t *file, size_t len,
										const uint8_t content_hash[32],
										cv_feature_extractor **out, cv_error *err);

/*
 * The same on an engine of nn.h (cv_net_engine).  The extractor's version
 * says which engine computed its features, so that a model is always
 * served the features it was trained on: CV_BACKBONE_VERSION_FLOAT, or
 * CV_BACKBONE_VERSION_INT8 when the int8 engine runs some of the network
 * on integers (a float file on that engine gives the float version).
 */
#define CV_BACKBONE_VERSION_FLOAT 2	/* 2: views are centred squares (augment.h) */
#define CV_BACKBONE_VERSION_INT8 3
cv_status	cv_features_backbone_create_engine(const char *name, const uint8_t *file,
											   size_t len, const uint8_t content_hash[32],
											   int engine, cv_feature_extractor **out,
											   cv_error *err);

/*
 * The same around a net already loaded for the whole file (cv_net_load_with,
 * or a prepared net, nn.h cv_net_load_prepared), which the extractor then
 * owns: freed with it, or at once on failure.
 */
cv_status	cv_features_backbone_from_net(const char *name, struct cv_net *net,
										  const uint8_t content_hash[32],
										  cv_feature_extractor **out, cv_error *err);

/* The network of a backbone extractor; NULL for other extractors. */
const struct cv_net *cv_features_backbone_net(const cv_feature_extractor *fx);

/*
 * The network's own outputs (e.g. 1001 ImageNet class scores) for an image
 * of its input size, preprocessed by the caller as the network expects
 * (nn.h: cv_image_resize_bilinear for the reference results).
 */
cv_status	cv_features_backbone_scores(const cv_feature_extractor *fx,
										const cv_rgb_image *img, float *scores,
										cv_error *err);

#endif							/* CV_LEARN_FEATURES_H */
