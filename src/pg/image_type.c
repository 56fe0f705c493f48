/*
 * image_type.c
 *	  The cv_image type: input from a bytea literal or a bytea cast, output as
 *	  a bytea literal, binary send/receive, and metadata accessors.
 *
 * Every way in validates the bytes fully (format, header, limits, and a
 * cheap complete decode that catches truncation) so that a stored cv_image
 * is always decodable.  Accessors read only the cached header.
 */
#include "pgvision.h"

#include "libpq/pqformat.h"
#include "utils/builtins.h"

/* Raise the error of a failed image check, with a hint for the caps. */
static void
RaiseImageError(const cv_error *err)
{
	if (err->code == CV_ERR_LIMIT)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("%s", err->message),
				 errhint("The limit is set by pgvision.max_image_pixels.")));
	CoreRaise(err, ERRCODE_INVALID_BINARY_REPRESENTATION);
}

/* The byte cap applies before anything is decoded. */
static void
CheckImageSize(Size len)
{
	if (len > (Size) pgvision_max_image_bytes)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("image of %zu bytes exceeds the limit of %d bytes", len,
						pgvision_max_image_bytes),
				 errhint("The limit is set by pgvision.max_image_bytes.")));
}

CvImage *
CvImageFromBytes(const char *data, Size len)
{
	cv_image_info info;
	cv_error	err;
	CvImage    *img;

	if (len == 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_BINARY_REPRESENTATION),
				 errmsg("image is empty")));
	CheckImageSize(len);

	cv_error_clear(&err);
	if (cv_image_validate((const uint8_t *) data, len,
						  (uint64_t) pgvision_max_image_pixels, &info, &err) != CV_OK)
		RaiseImageError(&err);

	img = (CvImage *) palloc0(add_size(CV_IMAGE_HEADER_SIZE, len));
	SET_VARSIZE(img, CV_IMAGE_HEADER_SIZE + len);
	img->version = CV_IMAGE_VERSION;
	img->format = (uint8) info.format;
	img->orientation = (uint8) info.orientation;
	img->width = info.width;
	img->height = info.height;
	memcpy(img->data, data, len);
	return img;
}

void
CvImageDecodeFor(const char *data, Size len, int min_width, int min_height,
				 cv_rgb_image *out)
{
	cv_error	err;

	/* as on the way in (CvImageFromBytes): no bytes is corrupt data */
	if (len == 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_BINARY_REPRESENTATION),
				 errmsg("image is empty")));
	CheckImageSize(len);
	cv_error_clear(&err);
	if (cv_image_decode((const uint8_t *) data, len, (uint64_t) pgvision_max_image_pixels,
						min_width, min_height, out, &err) != CV_OK)
		RaiseImageError(&err);
}

/* Text input: a bytea literal ('\x...' hex or escape format). */
PG_FUNCTION_INFO_V1(cv_image_in);
Datum
cv_image_in(PG_FUNCTION_ARGS)
{
	char	   *str = PG_GETARG_CSTRING(0);
	bytea	   *bytes = DatumGetByteaPP(DirectFunctionCall1(byteain, CStringGetDatum(str)));

	PG_RETURN_POINTER(CvImageFromBytes(VARDATA_ANY(bytes), VARSIZE_ANY_EXHDR(bytes)));
}

/* The encoded file of a cv_image as a bytea. */
static bytea *
FileBytes(const CvImage *img)
{
	Size		len = CvImageDataLen(img);
	bytea	   *bytes = (bytea *) palloc(VARHDRSZ + len);

	SET_VARSIZE(bytes, VARHDRSZ + len);
	memcpy(VARDATA(bytes), img->data, len);
	return bytes;
}

/* Text output: the encoded file as a bytea literal. */
PG_FUNCTION_INFO_V1(cv_image_out);
Datum
cv_image_out(PG_FUNCTION_ARGS)
{
	PG_RETURN_DATUM(DirectFunctionCall1(byteaout, PointerGetDatum(FileBytes(PG_GETARG_CV_IMAGE_P(0)))));
}

/* Binary input: the encoded file bytes, validated like any other input. */
PG_FUNCTION_INFO_V1(cv_image_recv);
Datum
cv_image_recv(PG_FUNCTION_ARGS)
{
	StringInfo	buf = (StringInfo) PG_GETARG_POINTER(0);
	int			len = buf->len - buf->cursor;
	const char *data = pq_getmsgbytes(buf, len);

	PG_RETURN_POINTER(CvImageFromBytes(data, (Size) len));
}

/* Binary output: the encoded file bytes. */
PG_FUNCTION_INFO_V1(cv_image_send);
Datum
cv_image_send(PG_FUNCTION_ARGS)
{
	CvImage    *img = PG_GETARG_CV_IMAGE_P(0);
	StringInfoData buf;

	pq_begintypsend(&buf);
	pq_sendbytes(&buf, img->data, CvImageDataLen(img));
	PG_RETURN_BYTEA_P(pq_endtypsend(&buf));
}

/* Cast bytea -> cv_image. */
PG_FUNCTION_INFO_V1(cv_image_from_bytea);
Datum
cv_image_from_bytea(PG_FUNCTION_ARGS)
{
	bytea	   *bytes = PG_GETARG_BYTEA_PP(0);

	PG_RETURN_POINTER(CvImageFromBytes(VARDATA_ANY(bytes), VARSIZE_ANY_EXHDR(bytes)));
}

/* Cast cv_image -> bytea: the encoded file, unchanged. */
PG_FUNCTION_INFO_V1(cv_image_to_bytea);
Datum
cv_image_to_bytea(PG_FUNCTION_ARGS)
{
	PG_RETURN_BYTEA_P(FileBytes(PG_GETARG_CV_IMAGE_P(0)));
}

/* Read the cached header of a cv_image, checking its version. */
static CvImage *
GetImageHeader(FunctionCallInfo fcinfo)
{
	CvImage    *img = PG_GETARG_CV_IMAGE_HEADER_P(0);

	if (img->version != CV_IMAGE_VERSION || img->reserved != 0)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_CORRUPTED),
				 errmsg("cv_image has unknown header version %d", img->version)));
	return img;
}

/* Upright width in pixels. */
PG_FUNCTION_INFO_V1(cv_width);
Datum
cv_width(PG_FUNCTION_ARGS)
{
	PG_RETURN_INT32(GetImageHeader(fcinfo)->width);
}

/* Upright height in pixels. */
PG_FUNCTION_INFO_V1(cv_height);
Datum
cv_height(PG_FUNCTION_ARGS)
{
	PG_RETURN_INT32(GetImageHeader(fcinfo)->height);
}

/* 'jpeg', 'png' or 'bmp'. */
PG_FUNCTION_INFO_V1(cv_format);
Datum
cv_format(PG_FUNCTION_ARGS)
{
	CvImage    *img = GetImageHeader(fcinfo);

	PG_RETURN_TEXT_P(cstring_to_text(cv_image_format_name((cv_image_format) img->format)));
}

/* EXIF orientation 1..8 of the stored file (1 when it has none). */
PG_FUNCTION_INFO_V1(cv_orientation);
Datum
cv_orientation(PG_FUNCTION_ARGS)
{
	PG_RETURN_INT32(GetImageHeader(fcinfo)->orientation);
}
