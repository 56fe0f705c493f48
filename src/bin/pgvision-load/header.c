/*
 * header.c
 *	  A photo's stored size and EXIF orientation, read from its header on
 *	  the loader's side, for boxes given in pixels of the stored raster.
 *
 * The header is read by the core's own probe (cv_image_probe,
 * src/core/image): the code the server runs when it takes bytes as a
 * cv_image, so the geometry is the one the server would answer with
 * (cv_width, cv_height, cv_orientation), without sending the bytes a
 * second time to ask.  Kept apart from boxes.c so that the annotation
 * readers the fuzz harnesses link (test/fuzz) stay free of the core.
 */
#include "load.h"

#include "image/image.h"

char *
geometry_from_bytes(ImageGeometry *g, const uint8_t *bytes, size_t len)
{
	cv_image_info info;
	cv_error	err;

	/* no pixel cap here: the server applies its own when it adds the image */
	if (cv_image_probe(bytes, len, 0, &info, &err) != CV_OK)
		return xasprintf("not an image pgvision can read: %s", err.message);
	geometry_from_upright(g, info.width, info.height, info.orientation);
	return NULL;
}
