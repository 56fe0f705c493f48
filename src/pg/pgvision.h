/*
 * pgvision.h
 *	  Shared declarations of the PostgreSQL binding: settings, the bridge
 *	  from core status codes to SQLSTATEs, and the on-disk cv_image layout.
 */
#ifndef PGVISION_H
#define PGVISION_H

#include "postgres.h"
#include "fmgr.h"

#include "common/cv_common.h"
#include "image/image.h"

/* Settings (pgvision.c) */
extern int	pgvision_max_image_bytes;
extern int	pgvision_max_image_pixels;

/* Core bridge (core_bridge.c) */
extern void CoreBridgeInit(void);

/*
 * Raise a core error as an ereport(ERROR).  corrupt_sqlstate says what
 * CV_ERR_CORRUPT means here: INVALID_BINARY_REPRESENTATION for user input,
 * DATA_CORRUPTED for stored values that should have been valid.
 */
extern void CoreRaise(const cv_error *err, int corrupt_sqlstate) pg_attribute_noreturn();

/*
 * cv_image: a varlena holding a small fixed header, then the encoded file
 * bytes unchanged.  The header caches what the encoded header says (upright
 * size, format, orientation) so accessors read only the first bytes of a
 * possibly toasted value (the type uses STORAGE external: photos are
 * already compressed, and uncompressed out-of-line values can be sliced).
 */
typedef struct CvImage
{
	int32		vl_len_;		/* varlena header (do not touch directly) */
	uint8		version;		/* CV_IMAGE_VERSION */
	uint8		format;			/* cv_image_format */
	uint8		orientation;	/* EXIF 1..8 */
	uint8		reserved;		/* must be zero */
	int32		width;			/* upright */
	int32		height;
	char		data[FLEXIBLE_ARRAY_MEMBER];	/* the encoded file */
} CvImage;

#define CV_IMAGE_VERSION	1
#define CV_IMAGE_HEADER_SIZE	offsetof(CvImage, data)
#define CvImageDataLen(img)	(VARSIZE(img) - CV_IMAGE_HEADER_SIZE)

#define DatumGetCvImageP(x)		((CvImage *) PG_DETOAST_DATUM(x))
#define PG_GETARG_CV_IMAGE_P(n)	DatumGetCvImageP(PG_GETARG_DATUM(n))
#define PG_GETARG_CV_IMAGE_HEADER_P(n) \
	((CvImage *) PG_DETOAST_DATUM_SLICE(PG_GETARG_DATUM(n), 0, CV_IMAGE_HEADER_SIZE))

/* image_type.c: validate encoded bytes and build a cv_image (errors out) */
extern CvImage *CvImageFromBytes(const char *data, Size len);

#endif							/* PGVISION_H */
