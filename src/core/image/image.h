/*
 * image.h
 *	  Encoded images in, upright 8-bit RGB pixels out: format sniffing,
 *	  header probing, validation, decoding and resizing.
 *
 * Formats: JPEG (baseline and progressive, grey and colour; CMYK/YCCK is
 * converted to RGB), PNG (every colour type and bit depth, interlaced;
 * alpha is dropped, 16-bit is reduced to 8), BMP (24 and 32 bit,
 * uncompressed or BI_BITFIELDS, bottom-up and top-down).
 *
 * EXIF orientation (JPEG APP1 "Exif", PNG eXIf) is honoured everywhere: the
 * width and height reported by cv_image_probe are those of the upright
 * image, and the decoders return upright pixels.
 *
 * The pixel cap is enforced on the dimensions the header declares, before
 * any pixel buffer is allocated.
 *
 * Behaviour worth knowing in the binding (no API change):
 *  - A JPEG or PNG that ends early (including one missing only EOI/IEND) or
 *	  whose critical PNG chunks fail their CRC is CV_ERR_CORRUPT; harmless
 *	  libjpeg warnings (extraneous bytes and the like) are ignored.
 *  - A progressive JPEG with more than 500 scans is CV_ERR_LIMIT (a "scan
 *	  bomb" costs a full pass over the coefficients per scan).
 *  - CMYK/YCCK JPEGs with an Adobe APP14 marker are read as inverted
 *	  (Photoshop's convention), without one as plain CMYK.
 *  - PNG orientation is read from an eXIf chunk placed before IDAT only, so
 *	  that probe (which stops at IDAT) and decode agree.
 *  - What validation accepts, decoding accepts (memory permitting); neither
 *	  leaves anything allocated on failure, and a failed decode zeroes out.
 */
#ifndef CV_IMAGE_H
#define CV_IMAGE_H

#include "../common/cv_common.h"

typedef enum cv_image_format
{
	CV_FORMAT_UNKNOWN = 0,
	CV_FORMAT_JPEG,
	CV_FORMAT_PNG,
	CV_FORMAT_BMP
} cv_image_format;

typedef struct cv_image_info
{
	cv_image_format format;
	int			width;			/* upright (after EXIF orientation) */
	int			height;
	int			stored_width;	/* as stored in the file */
	int			stored_height;
	int			orientation;	/* EXIF 1..8; 1 when absent or invalid */
	int			channels;		/* colour components as stored (1..4) */
	bool		progressive;	/* JPEG progressive or PNG interlaced */
} cv_image_info;

/* An 8-bit RGB raster, rows top to bottom, stride width * 3. */
typedef struct cv_rgb_image
{
	int			width;
	int			height;
	uint8_t    *pixels;			/* owned; release with cv_rgb_image_free */
} cv_rgb_image;

/* "jpeg", "png", "bmp" or "unknown". */
const char *cv_image_format_name(cv_image_format format);

/* Format from the first bytes (magic numbers only). */
cv_image_format cv_image_sniff(const uint8_t *data, size_t len);

/*
 * Read format, dimensions and orientation from the header without decoding
 * pixels.  Fails with CV_ERR_UNSUPPORTED for an unknown format, CV_ERR_CORRUPT
 * for a malformed header, CV_ERR_LIMIT when width * height exceeds max_pixels
 * (0 = no cap).
 */
cv_status	cv_image_probe(const uint8_t *data, size_t len, uint64_t max_pixels,
						   cv_image_info *info, cv_error *err);

/*
 * Check that the whole image decodes (truncated or corrupt data is
 * CV_ERR_CORRUPT), as cheaply as possible: JPEG at 1/8 DCT scale, PNG row by
 * row without keeping the raster.  Fills info as cv_image_probe does.
 */
cv_status	cv_image_validate(const uint8_t *data, size_t len, uint64_t max_pixels,
							  cv_image_info *info, cv_error *err);

/*
 * Decode to upright RGB.  min_width/min_height name the smallest size the
 * caller needs (both 0 = full resolution): a JPEG is decoded with
 * libjpeg-turbo's DCT scaling at the smallest scale M/8 whose upright output
 * still covers min_width x min_height.  Other formats decode at full size.
 */
cv_status	cv_image_decode(const uint8_t *data, size_t len, uint64_t max_pixels,
							int min_width, int min_height,
							cv_rgb_image *out, cv_error *err);

/* Resize: area averaging where a dimension shrinks, bilinear where it grows. */
cv_status	cv_image_resize(const cv_rgb_image *src, int width, int height,
							cv_rgb_image *out, cv_error *err);

/*
 * Bilinear resize with half-pixel centres, edges clamped, computed in float
 * and truncated to uint8: TFLite's RESIZE_BILINEAR(half_pixel_centers) as
 * used by the reference classification results of the shared models.
 */
cv_status	cv_image_resize_bilinear(const cv_rgb_image *src, int width, int height,
									 cv_rgb_image *out, cv_error *err);

/*
 * PNG bytes of an RGB image (8-bit, no alpha), allocated with cv_malloc
 * (png_encode.c).  CV_ERR_PARAM for an empty image, CV_ERR_NOMEM.
 */
cv_status	cv_image_encode_png(const cv_rgb_image *img, uint8_t **out, size_t *len,
								cv_error *err);

/* Release pixels and zero the struct; accepts an empty image. */
void		cv_rgb_image_free(cv_rgb_image *img);

#endif							/* CV_IMAGE_H */
