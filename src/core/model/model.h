/*
 * model.h
 *	  cv_model: a trained iteration as self-contained, versioned bytes, and
 *	  its in-memory form.
 *
 * A model holds everything prediction needs except the backbone weights,
 * which it names by domain name, extractor version and content hash (the
 * SHA-256 of the weights file; zeros for the built-in `compact` domain):
 * the task, the tag list, the input size, the feature normalisation, the
 * standardisation, the head
 * weights and the decision threshold.  A self-contained model also carries
 * the backbone file itself (format version 4), so it predicts on a server
 * that never imported that backbone (docs/scale-out.md).  The byte layout
 * is in docs/model-format.md.
 *
 * cv_model_serialize is deterministic (same model, same bytes).
 * cv_model_parse validates magic, version, total length, CRC-32 and every
 * count, length and value before use: corrupt or truncated bytes give
 * CV_ERR_CORRUPT (a well-formed header of another format version gives
 * CV_ERR_UNSUPPORTED), never a crash or an oversized allocation.
 */
#ifndef CV_MODEL_H
#define CV_MODEL_H

#include "../common/cv_common.h"
#include "../image/image.h"
#include "../learn/features.h"
#include "../learn/head.h"
#include "../detect/detector.h"

#define CV_MODEL_MAGIC "CVMODEL"	/* 8 bytes with the final NUL */
#define CV_MODEL_FORMAT_VERSION 3	/* written; versions 1 and 2 are still read */
#define CV_MODEL_FORMAT_VERSION_EMBEDDED 4	/* written when the backbone file travels along */
#define CV_MODEL_BACKBONE_MAX ((size_t) 256 << 20)	/* bytes of an embedded backbone file */
#define CV_MODEL_HEADER_SIZE 32
#define CV_MODEL_TAG_NAME_MAX 256	/* bytes of a tag name */

typedef struct cv_model
{
	cv_task		task;
	char		domain[CV_DOMAIN_NAME_MAX + 1];
	uint8_t		domain_hash[32];
	uint32_t	extractor_version;
	int			input_width;
	int			input_height;
	float		threshold;		/* default decision threshold, 0..1 */
	int			n_tags;
	char	  **tag_names;		/* n_tags NUL-terminated names */
	cv_head    *head;			/* classification: n_tags, dim, negative flags, weights */
	cv_detector *detector;		/* detection (head NULL): detector.h */

	/*
	 * The backbone file whose SHA-256 domain_hash holds, when the model
	 * carries it (NULL otherwise, always for compact).  The core cannot
	 * hash: whoever runs the file checks that it is the file the hash names
	 * before trusting it.  Owned by the model.
	 */
	uint8_t    *backbone;
	size_t		backbone_len;
} cv_model;

/*
 * A model from a trained head and the extractor it was trained on: copies
 * everything (tag_names: head->n_tags names of 1..CV_MODEL_TAG_NAME_MAX
 * bytes).  CV_ERR_PARAM when the head's dim is not the extractor's.
 */
cv_status	cv_model_build(const cv_feature_extractor *fx,
						   const char *const *tag_names, const cv_head *head,
						   float threshold, cv_model **out, cv_error *err);

/*
 * A detection model: the detector and the backbone domain it reads maps of
 * (name, extractor version of the maps, content hash), copied.
 * CV_ERR_PARAM for a bad tag name or threshold.
 */
cv_status	cv_model_build_detection(const char *domain, const uint8_t domain_hash[32],
									 uint32_t maps_version,
									 const char *const *tag_names,
									 const cv_detector *detector, float threshold,
									 cv_model **out, cv_error *err);

void		cv_model_free(cv_model *model);	/* accepts NULL */

/*
 * Bytes of the model, allocated with cv_malloc (release with cv_free):
 * format version 3, or 4 when m->backbone is set (CV_ERR_PARAM when a
 * compact model, whose hash is zero, sets one, or it is empty or larger
 * than CV_MODEL_BACKBONE_MAX).
 */
cv_status	cv_model_serialize(const cv_model *model, uint8_t **bytes,
							   size_t *len, cv_error *err);

/* A model from bytes; see the validation contract above. */
cv_status	cv_model_parse(const uint8_t *bytes, size_t len, cv_model **out,
						   cv_error *err);

/*
 * Whether fx computes the features the model was trained on (same name,
 * version, input size, dim and content hash); CV_ERR_PARAM with the reason
 * otherwise.
 */
cv_status	cv_model_check_extractor(const cv_model *model,
									 const cv_feature_extractor *fx,
									 cv_error *err);

/*
 * Probabilities of a decoded image (classification models only:
 * CV_ERR_PARAM for a detection model): the model's prediction views rendered
 * at the input size, features, head.  probs receives head->n_tags values.
 */
cv_status	cv_model_predict_image(const cv_model *model,
								   const cv_feature_extractor *fx,
								   const cv_rgb_image *img, float *probs,
								   cv_error *err);

#endif							/* CV_MODEL_H */
