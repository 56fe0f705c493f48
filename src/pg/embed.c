/*
 * embed.c
 *	  cv_embed(domain, image): a domain's feature vector of one image, the
 *	  vector its classifiers learn from (view 0: for imported backbones the
 *	  centred square at the network's input size, docs/backbones.md).
 *
 * The vector is what cv_features caches for view 0 and what cv_similar
 * compares, so it can be stored beside the photos (and, where pgvector is
 * installed, cast to vector and indexed: docs/similar.md).  Pure function
 * of the domain's weights and the image: STABLE (the domain table is
 * read), PARALLEL SAFE.
 */
#include "pgvision.h"

#include "catalog/pg_type.h"
#include "learn/augment.h"
#include "utils/array.h"
#include "utils/builtins.h"

/*
 * View 0's feature vector of an encoded image (palloc'd, fx->dim floats):
 * what cv_features caches first for it, so cv_similar can mix cached and
 * freshly computed vectors.
 */
float *
EmbedImage(const cv_feature_extractor *fx, const char *image, Size image_len)
{
	cv_rgb_image img = {0};
	float	   *features;
	cv_error	err;

	CvImageDecodeFor(image, image_len, DecodeSizeFor(fx->input_width),
					 DecodeSizeFor(fx->input_height), &img);
	features = palloc(sizeof(float) * fx->dim);
	cv_error_clear(&err);
	if (cv_augment_features(fx, &img, 1, features, &err) != CV_OK)
	{
		cv_rgb_image_free(&img);
		CoreRaise(&err, ERRCODE_INVALID_BINARY_REPRESENTATION);
	}
	cv_rgb_image_free(&img);
	return features;
}

static ArrayType *
Embed(const char *domain, const char *image, Size image_len)
{
	const cv_feature_extractor *fx = DomainGetExtractor(domain, NULL);
	float	   *features = EmbedImage(fx, image, image_len);
	Datum	   *elems;

	elems = palloc(sizeof(Datum) * fx->dim);
	for (int j = 0; j < fx->dim; j++)
		elems[j] = Float4GetDatum(features[j]);
	return construct_array(elems, fx->dim, FLOAT4OID, sizeof(float4), true, TYPALIGN_INT);
}

PG_FUNCTION_INFO_V1(cv_embed_bytea);
Datum
cv_embed_bytea(PG_FUNCTION_ARGS)
{
	char	   *domain = text_to_cstring(PG_GETARG_TEXT_PP(0));
	bytea	   *image = PG_GETARG_BYTEA_PP(1);

	PG_RETURN_ARRAYTYPE_P(Embed(domain, VARDATA_ANY(image), VARSIZE_ANY_EXHDR(image)));
}

PG_FUNCTION_INFO_V1(cv_embed_cv_image);
Datum
cv_embed_cv_image(PG_FUNCTION_ARGS)
{
	char	   *domain = text_to_cstring(PG_GETARG_TEXT_PP(0));
	CvImage    *image = PG_GETARG_CV_IMAGE_P(1);

	PG_RETURN_ARRAYTYPE_P(Embed(domain, image->data, CvImageDataLen(image)));
}
