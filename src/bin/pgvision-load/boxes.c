/*
 * boxes.c
 *	  Turn the boxes of an annotation into pgvision's convention: left, top,
 *	  width, height as fractions of the upright image (EXIF orientation
 *	  applied), inside the unit square.
 *
 * COCO and Pascal VOC count pixels from the top-left corner of the raster
 * as it is stored in the file: their tools and the reference datasets
 * read pixels without looking at EXIF.  A phone photo stored landscape
 * with Orientation 6 ("rotate 90 degrees clockwise to display") therefore
 * has its boxes on the landscape raster, while pgvision's regions are on
 * the portrait image a viewer shows.  We normalise on the stored raster,
 * then map both corners with the orientation's inverse: for each upright
 * point (ox, oy) src/core/image/orient.c reads the stored point (sx, sy),
 * so here, in fractions of the image,
 *
 *	  1  ox = sx		oy = sy			5  ox = sy		  oy = sx
 *	  2  ox = 1-sx		oy = sy			6  ox = 1-sy	  oy = sx
 *	  3  ox = 1-sx		oy = 1-sy		7  ox = 1-sy	  oy = 1-sx
 *	  4  ox = sx		oy = 1-sy		8  ox = sy		  oy = 1-sx
 *
 * Boxes given in fractions (Custom Vision) are already on the upright
 * image and only checked.  The stored size and the orientation come from
 * the file's header (header.c).
 *
 * A box that crosses the border by less than a pixel (rounding in the
 * tool that drew it) is clipped; anything beyond that, or a box of no or
 * negative size, rejects the whole image with the box named.
 */
#include "load.h"

#include <math.h>
#include <stdio.h>

/* a fraction of the image a normalised box may overshoot and be clipped */
#define NORMALISED_SLACK 1e-3
/* pixels a pixel box may overshoot and be clipped */
#define PIXEL_SLACK 1.0

void
geometry_from_upright(ImageGeometry *g, int upright_width, int upright_height,
					  int orientation)
{
	g->orientation = (orientation >= 1 && orientation <= 8) ? orientation : 1;
	/* 5..8 swap the axes: the stored raster is the upright one transposed */
	if (g->orientation >= 5)
	{
		g->stored_width = upright_height;
		g->stored_height = upright_width;
	}
	else
	{
		g->stored_width = upright_width;
		g->stored_height = upright_height;
	}
}

/* A stored-raster point in fractions, moved to the upright image. */
static void
orient_point(int orientation, double sx, double sy, double *ox, double *oy)
{
	switch (orientation)
	{
		case 2:
			*ox = 1 - sx;
			*oy = sy;
			break;
		case 3:
			*ox = 1 - sx;
			*oy = 1 - sy;
			break;
		case 4:
			*ox = sx;
			*oy = 1 - sy;
			break;
		case 5:
			*ox = sy;
			*oy = sx;
			break;
		case 6:
			*ox = 1 - sy;
			*oy = sx;
			break;
		case 7:
			*ox = 1 - sy;
			*oy = 1 - sx;
			break;
		case 8:
			*ox = sy;
			*oy = 1 - sx;
			break;
		default:
			*ox = sx;
			*oy = sy;
			break;
	}
}

/*
 * Check one box against its extent (the image's width and height in the
 * box's own units) and clip a sub-slack overshoot.  Returns the reason it
 * is bad, or NULL.
 */
static char *
check_box(int n, const LoadBox *b, double extent_x, double extent_y,
		  double slack, const char *unit, LoadBox *out)
{
	double		l = b->left,
				t = b->top,
				r = b->left + b->width,
				bt = b->top + b->height;

	if (!isfinite(l) || !isfinite(t) || !isfinite(b->width) || !isfinite(b->height))
		return xasprintf("box %d (%s) has a coordinate that is not a finite number", n, b->tag);
	if (b->width <= 0 || b->height <= 0)
		return xasprintf("box %d (%s) has no area: width %g, height %g%s",
						 n, b->tag, b->width, b->height, unit);
	if ((l < -slack || t < -slack || r > extent_x + slack || bt > extent_y + slack) && unit[0] != '\0')
		return xasprintf("box %d (%s) at left %g, top %g, width %g, height %g%s is outside the %g x %g%s image",
						 n, b->tag, b->left, b->top, b->width, b->height, unit,
						 extent_x, extent_y, unit);
	if (l < -slack || t < -slack || r > extent_x + slack || bt > extent_y + slack)
		return xasprintf("box %d (%s) at left %g, top %g, width %g, height %g is outside the image (fractions of it run from 0 to 1)",
						 n, b->tag, b->left, b->top, b->width, b->height);
	out->tag = b->tag;
	out->left = b->left;
	out->top = b->top;
	out->width = b->width;
	out->height = b->height;
	/* clip only what crosses the border: the other numbers stay as given */
	if (l < 0 || r > extent_x)
	{
		l = fmax(l, 0);
		r = fmin(r, extent_x);
		out->left = l;
		out->width = r - l;
	}
	if (t < 0 || bt > extent_y)
	{
		t = fmax(t, 0);
		bt = fmin(bt, extent_y);
		out->top = t;
		out->height = bt - t;
	}
	if (out->width <= 0 || out->height <= 0)
		return xasprintf("box %d (%s) has no area inside the image", n, b->tag);
	out->left /= extent_x;
	out->top /= extent_y;
	out->width /= extent_x;
	out->height /= extent_y;
	return NULL;
}

/*
 * The item's boxes in pgvision's convention, into out (item->nboxes of
 * them; tags point into the item).  upright_pixels: pixel boxes count on
 * the upright image (tools that apply EXIF before drawing) instead of the
 * stored raster.  Returns NULL, or why the image must be rejected.
 */
char *
boxes_to_upright(const LoadItem *item, const ImageGeometry *g,
				 bool upright_pixels, LoadBox *out)
{
	int			w = g->stored_width;
	int			h = g->stored_height;
	int			orientation = g->orientation;

	if (item->units == BOX_PIXELS && upright_pixels)
	{
		/* the boxes are on the upright raster: no turning, upright size */
		if (orientation >= 5)
		{
			w = g->stored_height;
			h = g->stored_width;
		}
		orientation = 1;
	}

	/*
	 * A declared size that is not the raster the boxes are measured on
	 * means the pixels cannot be trusted: say which way it is off rather
	 * than guess.
	 */
	if (item->units == BOX_PIXELS && item->declared_width > 0 && item->declared_height > 0 &&
		(item->declared_width != w || item->declared_height != h))
	{
		if (item->declared_width == h && item->declared_height == w && g->orientation >= 5)
			return xasprintf("the annotation gives the size %d x %d, the %s image is %d x %d (EXIF orientation %d); %s",
							 item->declared_width, item->declared_height,
							 upright_pixels ? "upright" : "stored", w, h, g->orientation,
							 upright_pixels ? "leave out --upright-pixels if its boxes are on the stored raster"
							 : "use --upright-pixels if its boxes were drawn on the rotated image");
		return xasprintf("the annotation gives the size %d x %d, the image is %d x %d",
						 item->declared_width, item->declared_height, w, h);
	}

	for (int i = 0; i < item->nboxes; i++)
	{
		const LoadBox *b = &item->boxes[i];
		LoadBox		n;
		char	   *why;
		double		x0,
					y0,
					x1,
					y1;

		if (item->units == BOX_PIXELS)
			why = check_box(i + 1, b, w, h, PIXEL_SLACK, " px", &n);
		else
			why = check_box(i + 1, b, 1, 1, NORMALISED_SLACK, "", &n);
		if (why != NULL)
			return why;
		if (item->units == BOX_NORMALISED)
		{
			out[i] = n;
			continue;
		}
		orient_point(orientation, n.left, n.top, &x0, &y0);
		orient_point(orientation, n.left + n.width, n.top + n.height, &x1, &y1);
		out[i].tag = b->tag;
		out[i].left = fmin(x0, x1);
		out[i].top = fmin(y0, y1);
		/* rounding must not push the far edge past 1 (the server checks) */
		out[i].width = fmin(fabs(x1 - x0), 1 - out[i].left);
		out[i].height = fmin(fabs(y1 - y0), 1 - out[i].top);

		/*
		 * A box narrower than the rounding step of its corners (some 1e-16
		 * of the image) has its two edges fall on the same number: it
		 * would reach the server with no width, and the server refuses a
		 * region of no size (loader_checks.c in test/fuzz checks for it).
		 */
		if (!(out[i].width > 0 && out[i].height > 0))
			return xasprintf("box %d (%s) at left %g, top %g, width %g, height %g px is too small: "
							 "nothing of it is left in fractions of the image",
							 i + 1, b->tag, b->left, b->top, b->width, b->height);
	}
	return NULL;
}
