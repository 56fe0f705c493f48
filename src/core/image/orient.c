/*
 * orient.c
 *	  Turn a raster stored under an EXIF orientation (1..8) into the upright
 *	  image the photographer saw.
 *
 * Cameras store the sensor's pixels and record how the device was held
 * instead of rotating the JPEG; users and models expect upright pixels, so
 * every decoder passes its raster through here.  The mapping below is, for
 * each upright pixel (ox, oy), the stored pixel (sx, sy) it comes from:
 *
 *	  1 identity			  sx = ox			sy = oy
 *	  2 mirror left-right	  sx = W-1-ox		sy = oy
 *	  3 rotate 180			  sx = W-1-ox		sy = H-1-oy
 *	  4 mirror top-bottom	  sx = ox			sy = H-1-oy
 *	  5 transpose			  sx = oy			sy = ox
 *	  6 rotate 90 clockwise   sx = oy			sy = H-1-ox
 *	  7 transverse			  sx = W-1-oy		sy = H-1-ox
 *	  8 rotate 90 counter-cw  sx = W-1-oy		sy = ox
 *
 * (W, H: stored size.)  5..8 swap width and height.  A fresh raster is
 * written and the old one freed, which is simpler and faster than cycle-
 * following in place; the peak is two rasters for rotated photos only.
 */
#include "image_internal.h"

#include <string.h>

void
cv_orient_dims(int orientation, int stored_width, int stored_height,
			   int *width, int *height)
{
	if (orientation >= 5 && orientation <= 8)
	{
		*width = stored_height;
		*height = stored_width;
	}
	else
	{
		*width = stored_width;
		*height = stored_height;
	}
}

cv_status
cv_image_orient(cv_rgb_image *img, int orientation, cv_error *err)
{
	cv_rgb_image out;
	cv_status	st;
	const int	sw = img->width;
	const int	sh = img->height;
	int			ow;
	int			oh;

	if (orientation < 2 || orientation > 8)
		return CV_OK;
	cv_orient_dims(orientation, sw, sh, &ow, &oh);
	st = cv_rgb_image_alloc(&out, ow, oh, err);
	if (st != CV_OK)
		return st;

	for (int oy = 0; oy < oh; oy++)
	{
		uint8_t    *dst = out.pixels + (size_t) oy * ow * 3;

		for (int ox = 0; ox < ow; ox++)
		{
			int			sx;
			int			sy;
			const uint8_t *src;

			switch (orientation)
			{
				case 2:
					sx = sw - 1 - ox;
					sy = oy;
					break;
				case 3:
					sx = sw - 1 - ox;
					sy = sh - 1 - oy;
					break;
				case 4:
					sx = ox;
					sy = sh - 1 - oy;
					break;
				case 5:
					sx = oy;
					sy = ox;
					break;
				case 6:
					sx = oy;
					sy = sh - 1 - ox;
					break;
				case 7:
					sx = sw - 1 - oy;
					sy = sh - 1 - ox;
					break;
				default:		/* 8 */
					sx = sw - 1 - oy;
					sy = ox;
					break;
			}
			src = img->pixels + ((size_t) sy * sw + sx) * 3;
			memcpy(dst + (size_t) ox * 3, src, 3);
		}
	}
	cv_rgb_image_free(img);
	*img = out;
	return CV_OK;
}
