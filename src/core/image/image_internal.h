/*
 * image_internal.h
 *	  Private contract between image.c (sniffing, dispatch) and the per-format
 *	  decoders, the orientation and the limit helpers of src/core/image.
 *
 * Not installed and not included outside src/core/image: the public API is
 * image.h.  Every decoder has the same three entry points so that image.c
 * dispatches on the sniffed format alone:
 *
 *	  probe:	header only; fills info; checks max_pixels on the declared size
 *	  validate: probe plus a full pass over the pixel data with O(row) memory
 *	  decode:	upright RGB; JPEG may decode at a DCT scale (min_width/height)
 *
 * Decoders apply EXIF orientation themselves (via cv_image_orient) so that
 * every caller of cv_image_decode gets upright pixels.
 */
#ifndef CV_IMAGE_INTERNAL_H
#define CV_IMAGE_INTERNAL_H

#include "image.h"

cv_status	cv_jpeg_probe(const uint8_t *data, size_t len, uint64_t max_pixels,
						  cv_image_info *info, cv_error *err);
cv_status	cv_jpeg_validate(const uint8_t *data, size_t len, uint64_t max_pixels,
							 cv_image_info *info, cv_error *err);
cv_status	cv_jpeg_decode(const uint8_t *data, size_t len, uint64_t max_pixels,
						   int min_width, int min_height,
						   cv_rgb_image *out, cv_error *err);

cv_status	cv_png_probe(const uint8_t *data, size_t len, uint64_t max_pixels,
						 cv_image_info *info, cv_error *err);
cv_status	cv_png_validate(const uint8_t *data, size_t len, uint64_t max_pixels,
							cv_image_info *info, cv_error *err);
cv_status	cv_png_decode(const uint8_t *data, size_t len, uint64_t max_pixels,
						  cv_rgb_image *out, cv_error *err);

cv_status	cv_bmp_probe(const uint8_t *data, size_t len, uint64_t max_pixels,
						 cv_image_info *info, cv_error *err);
cv_status	cv_bmp_decode(const uint8_t *data, size_t len, uint64_t max_pixels,
						  cv_rgb_image *out, cv_error *err);

/*
 * Fail with CV_ERR_LIMIT ("<FMT> declares WxH pixels, more than the limit of
 * N") when width * height > max_pixels (0 = no cap), and with CV_ERR_CORRUPT
 * when a dimension is not positive.  fmt is the upper-case format name.
 */
cv_status	cv_image_check_size(const char *fmt, int64_t width, int64_t height,
								uint64_t max_pixels, cv_error *err);

/* Allocate img->pixels for width x height RGB (overflow-checked). */
cv_status	cv_rgb_image_alloc(cv_rgb_image *img, int width, int height,
							   cv_error *err);

/* Upright width/height for a stored size under EXIF orientation 1..8. */
void		cv_orient_dims(int orientation, int stored_width, int stored_height,
						   int *width, int *height);

/*
 * Rotate/flip img in place (the raster is replaced) so that a stored image
 * with the given EXIF orientation becomes upright.  1 (or any invalid value)
 * leaves it untouched.
 */
cv_status	cv_image_orient(cv_rgb_image *img, int orientation, cv_error *err);

#endif							/* CV_IMAGE_INTERNAL_H */
