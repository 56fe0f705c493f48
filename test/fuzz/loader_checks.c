/*
 * loader_checks.c
 *	  The item and box checks of the annotation reader harnesses (see
 *	  loader_checks.h).
 */
#include "loader_checks.h"

#include <math.h>
#include <string.h>

/* the server's own slack on the far edges (cv_check_region) */
#define SERVER_EDGE_SLACK 1e-9
/* geometry checks per input: enough items to reach every branch */
#define MAX_ITEMS_CHECKED 64
/* the size of an image the annotation declares none for (the test set's) */
#define DEFAULT_WIDTH 816
#define DEFAULT_HEIGHT 612

char *
fuzz_text(const uint8_t *data, size_t len)
{
	char	   *s = malloc(len + 1);

	FUZZ_ASSERT(s != NULL);
	memcpy(s, data, len);
	s[len] = '\0';
	return s;
}

/* What the server checks of a region (sql/pgvision.sql, cv_check_region). */
static void
check_region(const LoadBox *b)
{
	FUZZ_ASSERT(isfinite(b->left) && isfinite(b->top) && isfinite(b->width) && isfinite(b->height));
	FUZZ_ASSERT(b->left >= 0 && b->top >= 0 && b->width > 0 && b->height > 0);
	FUZZ_ASSERT(b->left + b->width <= 1 + SERVER_EDGE_SLACK);
	FUZZ_ASSERT(b->top + b->height <= 1 + SERVER_EDGE_SLACK);
}

static void
check_boxes(const LoadItem *item, int orientation, bool upright_pixels)
{
	ImageGeometry g;
	LoadBox    *out = malloc(sizeof(LoadBox) * (size_t) (item->nboxes + 1));
	char	   *why;
	int			w = item->declared_width > 0 ? item->declared_width : DEFAULT_WIDTH;
	int			h = item->declared_height > 0 ? item->declared_height : DEFAULT_HEIGHT;

	FUZZ_ASSERT(out != NULL);

	/*
	 * The raster the boxes are measured on gets the declared size, so that
	 * the size check passes and the boxes themselves are reached: the
	 * stored raster, or with upright_pixels the upright image.
	 */
	if (upright_pixels || orientation < 5)
		geometry_from_upright(&g, w, h, orientation);
	else
		geometry_from_upright(&g, h, w, orientation);
	why = boxes_to_upright(item, &g, upright_pixels, out);
	if (why != NULL)
	{
		FUZZ_ASSERT(why[0] != '\0');
		free(why);
	}
	else
		for (int i = 0; i < item->nboxes; i++)
		{
			FUZZ_ASSERT(out[i].tag == item->boxes[i].tag);
			check_region(&out[i]);
		}
	free(out);
}

void
fuzz_check_items(const ItemList *list)
{
	FUZZ_ASSERT(list->count >= 0 && list->count <= list->capacity);
	for (int i = 0; i < list->count; i++)
	{
		const LoadItem *item = &list->items[i];

		FUZZ_ASSERT(item->path != NULL && item->label != NULL);
		FUZZ_ASSERT(item->error == NULL || item->error[0] != '\0');
		FUZZ_ASSERT(item->ntags >= 0 && item->nboxes >= 0);
		FUZZ_ASSERT(item->units == BOX_NORMALISED || item->units == BOX_PIXELS);
		for (int t = 0; t < item->ntags; t++)
		{
			FUZZ_ASSERT(item->tags[t] != NULL);
			for (int u = 0; u < t; u++)
				FUZZ_ASSERT(strcmp(item->tags[t], item->tags[u]) != 0);
		}
		for (int b = 0; b < item->nboxes; b++)
			FUZZ_ASSERT(item->boxes[b].tag != NULL);

		/*
		 * The loader turns the boxes of an item it did not reject; the
		 * function owes the same to any item, so rejected ones are tried
		 * too (more inputs reach it).
		 */
		if (i >= MAX_ITEMS_CHECKED || item->nboxes == 0)
			continue;
		if (item->units == BOX_NORMALISED)
			check_boxes(item, 1, false);
		else
			for (int orientation = 1; orientation <= 8; orientation++)
			{
				check_boxes(item, orientation, false);
				check_boxes(item, orientation, true);
			}
	}
}
