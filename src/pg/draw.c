/*
 * draw.c
 *	  cv_draw: a PNG of an upright image with boxes and their labels drawn
 *	  on it (src/core/image/draw.h).
 *
 * The SQL wrapper cv_draw(image, regions jsonb) checks the JSON and turns
 * it into arrays (sql/pgvision.sql); this is the part that decodes at full
 * resolution, draws and encodes.  Pure function of its arguments: IMMUTABLE
 * and PARALLEL SAFE.
 */
#include "pgvision.h"

#include "catalog/pg_type.h"
#include "image/draw.h"
#include "utils/array.h"
#include "utils/builtins.h"

/* The elements of a real[] argument, which may hold no NULL (errors out). */
static int
FloatElements(ArrayType *a, const char *what, Datum **values)
{
	bool	   *nulls;
	int			n;

	if (ARR_NDIM(a) > 1)
		ereport(ERROR,
				(errcode(ERRCODE_ARRAY_SUBSCRIPT_ERROR),
				 errmsg("%s must be a one-dimensional array", what)));
	deconstruct_array(a, FLOAT4OID, 4, true, TYPALIGN_INT, values, &nulls, &n);
	for (int i = 0; i < n; i++)
		if (nulls[i])
			ereport(ERROR,
					(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
					 errmsg("element %d of %s is null", i + 1, what)));
	pfree(nulls);
	return n;
}

PG_FUNCTION_INFO_V1(cv_draw_boxes_png);
Datum
cv_draw_boxes_png(PG_FUNCTION_ARGS)
{
	bytea	   *image = PG_GETARG_BYTEA_PP(0);
	ArrayType  *tags = PG_GETARG_ARRAYTYPE_P(1);
	ArrayType  *probs = PG_GETARG_ARRAYTYPE_P(2);
	ArrayType  *geometry[4] = {PG_GETARG_ARRAYTYPE_P(3), PG_GETARG_ARRAYTYPE_P(4),
	PG_GETARG_ARRAYTYPE_P(5), PG_GETARG_ARRAYTYPE_P(6)};
	static const char *const geometry_names[4] = {"left", "top", "width", "height"};
	Datum	   *tag_values,
			   *prob_values,
			   *geo_values[4];
	bool	   *tag_nulls,
			   *prob_nulls;
	int			n,
				n_probs;
	cv_draw_box *boxes;
	cv_rgb_image img = {0};
	uint8_t    *png = NULL;
	size_t		png_len = 0;
	bytea	   *result;
	cv_error	err;

	/* tags and probabilities may hold NULLs: no label, no probability */
	deconstruct_array(tags, TEXTOID, -1, false, TYPALIGN_INT, &tag_values, &tag_nulls, &n);
	deconstruct_array(probs, FLOAT4OID, 4, true, TYPALIGN_INT, &prob_values, &prob_nulls,
					  &n_probs);
	if (n_probs != n)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%d tags but %d probabilities", n, n_probs)));
	for (int k = 0; k < 4; k++)
		if (FloatElements(geometry[k], geometry_names[k], &geo_values[k]) != n)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("%d tags but a different number of %s values", n,
							geometry_names[k])));
	if (n > pgvision_max_regions_per_image)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("%d boxes to draw, at most %d", n, pgvision_max_regions_per_image),
				 errhint("The cap is pgvision.max_regions_per_image.")));
	boxes = palloc0(sizeof(cv_draw_box) * (n > 0 ? n : 1));
	for (int i = 0; i < n; i++)
	{
		boxes[i].tag = tag_nulls[i] ? "" : TextDatumGetCString(tag_values[i]);
		boxes[i].probability = prob_nulls[i] ? -1.0f : DatumGetFloat4(prob_values[i]);
		if (!prob_nulls[i] && !(boxes[i].probability >= 0.0f && boxes[i].probability <= 1.0f))
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("probability of box %d must be between 0 and 1", i + 1)));
		boxes[i].left = DatumGetFloat4(geo_values[0][i]);
		boxes[i].top = DatumGetFloat4(geo_values[1][i]);
		boxes[i].width = DatumGetFloat4(geo_values[2][i]);
		boxes[i].height = DatumGetFloat4(geo_values[3][i]);
	}

	CvImageDecodeFor(VARDATA_ANY(image), VARSIZE_ANY_EXHDR(image), 0, 0, &img);
	cv_error_clear(&err);
	if (cv_draw_boxes(&img, boxes, n, &err) != CV_OK)
	{
		cv_rgb_image_free(&img);
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s", err.message)));
	}
	if (cv_image_encode_png(&img, &png, &png_len, &err) != CV_OK)
	{
		cv_rgb_image_free(&img);
		CoreRaise(&err, ERRCODE_INTERNAL_ERROR);
	}
	cv_rgb_image_free(&img);
	result = (bytea *) palloc(VARHDRSZ + png_len);
	SET_VARSIZE(result, VARHDRSZ + png_len);
	memcpy(VARDATA(result), png, png_len);
	cv_free(png);
	PG_RETURN_BYTEA_P(result);
}
