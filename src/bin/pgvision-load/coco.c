/*
 * coco.c
 *	  Read a COCO object-detection annotation file with json-c.
 *
 * The format is COCO's "data format" for object detection
 * (https://cocodataset.org/#format-data).  Read here:
 *
 *	  images[]		 id, file_name, width, height
 *	  annotations[]  image_id, category_id, bbox [x, y, width, height]
 *	  categories[]	 id, name
 *
 * Everything else (info, licenses, segmentation, area, iscrowd, keypoints)
 * is ignored; crowd boxes are loaded like the others.  bbox is in pixels
 * from the top-left corner of the stored image (COCO's tools read pixels
 * without EXIF); boxes.c turns it upright.  An image without annotations
 * is loaded without boxes, which detection training uses as a negative.
 * Loaded into a classification project, an image's tags are the names of
 * the categories of its annotations.
 *
 * ids are numbers in COCO; strings are accepted too (some exporters write
 * them), compared as their text.  A bad annotation (a bbox that is not four
 * numbers, an unknown category) rejects its image; an annotation of an
 * image that is not in images[] is reported and skipped.  The whole file is
 * parsed in memory, which is the annotations only: the images are read one
 * by one when loaded.
 */
#include "load.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

typedef struct IdEntry
{
	const char *id;				/* the id's text */
	int			index;			/* into the item list or categories[] */
} IdEntry;

static int
cmp_id(const void *a, const void *b)
{
	return strcmp(((const IdEntry *) a)->id, ((const IdEntry *) b)->id);
}

static const IdEntry *
find_id(const IdEntry *map, int n, const char *id)
{
	IdEntry		key = {id, 0};

	return bsearch(&key, map, (size_t) n, sizeof(IdEntry), cmp_id);
}

/* the text of an id, or NULL when it is neither a number nor a string */
static const char *
id_text(json_object *o)
{
	if (o == NULL)
		return NULL;
	if (json_object_is_type(o, json_type_int) || json_object_is_type(o, json_type_string))
		return json_object_get_string(o);
	return NULL;
}

static bool
get_number(json_object *o, double *out)
{
	if (o == NULL || !(json_object_is_type(o, json_type_int) ||
					   json_object_is_type(o, json_type_double)))
		return false;
	*out = json_object_get_double(o);
	return true;
}

static json_object *
get_array(json_object *root, const char *key)
{
	json_object *a;

	if (!json_object_object_get_ex(root, key, &a) || !json_object_is_type(a, json_type_array))
		return NULL;
	return a;
}

static json_object *
member(json_object *o, const char *key)
{
	json_object *v;

	if (!json_object_is_type(o, json_type_object) || !json_object_object_get_ex(o, key, &v))
		return NULL;
	return v;
}

/*
 * The items of a parsed COCO file (root, which this frees); json_path names
 * it in messages and is where the images are looked for without --images.
 */
static bool
coco_items(json_object *root, const char *json_path, const char *images_dir, ItemList *list)
{
	json_object *images;
	json_object *annotations;
	json_object *categories;
	IdEntry    *image_map;
	IdEntry    *cat_map;
	int			nimages = 0;
	int			ncats = 0;
	int			first = list->count;
	int			orphans = 0;
	char	   *base;

	images = get_array(root, "images");
	annotations = get_array(root, "annotations");
	categories = get_array(root, "categories");
	if (!json_object_is_type(root, json_type_object) || images == NULL)
	{
		fprintf(stderr, "pgvision-load: \"%s\" is not a COCO file: it has no \"images\" array\n", json_path);
		json_object_put(root);
		return false;
	}
	if (annotations != NULL && categories == NULL)
	{
		fprintf(stderr, "pgvision-load: COCO file \"%s\" has annotations but no \"categories\" array\n", json_path);
		json_object_put(root);
		return false;
	}
	if (images_dir != NULL)
		base = xstrdup(images_dir);
	else
	{
		const char *slash = strrchr(json_path, '/');

		base = slash ? xasprintf("%.*s", (int) (slash - json_path), json_path) : xstrdup(".");
	}

	/* categories: id -> position in categories[] */
	cat_map = xmalloc(sizeof(IdEntry) * (categories ? json_object_array_length(categories) : 1));
	for (size_t i = 0; categories && i < json_object_array_length(categories); i++)
	{
		json_object *c = json_object_array_get_idx(categories, i);
		const char *id = id_text(member(c, "id"));
		json_object *name = member(c, "name");

		if (id == NULL || name == NULL || !json_object_is_type(name, json_type_string))
		{
			fprintf(stderr, "pgvision-load: COCO file \"%s\": category %zu has no numeric \"id\" or no \"name\"\n",
					json_path, i + 1);
			free(cat_map);
			free(base);
			json_object_put(root);
			return false;
		}
		cat_map[ncats].id = id;
		cat_map[ncats++].index = (int) i;
	}
	qsort(cat_map, (size_t) ncats, sizeof(IdEntry), cmp_id);

	/* images: one item each, in the file's order */
	image_map = xmalloc(sizeof(IdEntry) * (json_object_array_length(images) + 1));
	for (size_t i = 0; i < json_object_array_length(images); i++)
	{
		json_object *im = json_object_array_get_idx(images, i);
		const char *id = id_text(member(im, "id"));
		json_object *file = member(im, "file_name");
		double		w = 0,
					h = 0;
		char	   *path;
		LoadItem   *item;

		if (file == NULL || !json_object_is_type(file, json_type_string))
		{
			fprintf(stderr, "pgvision-load: COCO file \"%s\": image %zu has no \"file_name\"; skipped\n",
					json_path, i + 1);
			continue;
		}
		path = path_join(base, json_object_get_string(file));
		item = item_new(list, path, json_object_get_string(file));
		free(path);
		item->units = BOX_PIXELS;
		if (id == NULL)
			item_reject(item, "its COCO image entry has no numeric \"id\"");
		if (get_number(member(im, "width"), &w) && get_number(member(im, "height"), &h))
			item_declare_size(item, w, h);
		if (id != NULL)
		{
			image_map[nimages].id = id;
			image_map[nimages++].index = list->count - 1;
		}
	}
	qsort(image_map, (size_t) nimages, sizeof(IdEntry), cmp_id);
	for (int i = 1; i < nimages; i++)
		if (strcmp(image_map[i - 1].id, image_map[i].id) == 0)
		{
			item_reject(&list->items[image_map[i].index],
						"COCO image id %s is used by two images", image_map[i].id);
			item_reject(&list->items[image_map[i - 1].index],
						"COCO image id %s is used by two images", image_map[i].id);
		}

	/* annotations: a box (and a tag) on their image */
	for (size_t i = 0; annotations && i < json_object_array_length(annotations); i++)
	{
		json_object *a = json_object_array_get_idx(annotations, i);
		const char *image_id = id_text(member(a, "image_id"));
		const char *cat_id = id_text(member(a, "category_id"));
		json_object *bbox = member(a, "bbox");
		const IdEntry *im = image_id ? find_id(image_map, nimages, image_id) : NULL;
		const IdEntry *cat;
		LoadItem   *item;
		double		v[4];

		if (im == NULL)
		{
			orphans++;
			if (orphans <= 5)
				fprintf(stderr, "pgvision-load: COCO file \"%s\": annotation %zu is of image %s, which is not in \"images\"; skipped\n",
						json_path, i + 1, image_id ? image_id : "(no image_id)");
			continue;
		}
		item = &list->items[im->index];
		cat = cat_id ? find_id(cat_map, ncats, cat_id) : NULL;
		if (cat == NULL)
		{
			item_reject(item, "annotation %zu has category_id %s, which is not in \"categories\"",
						i + 1, cat_id ? cat_id : "(none)");
			continue;
		}
		if (bbox == NULL || !json_object_is_type(bbox, json_type_array) ||
			json_object_array_length(bbox) != 4 ||
			!get_number(json_object_array_get_idx(bbox, 0), &v[0]) ||
			!get_number(json_object_array_get_idx(bbox, 1), &v[1]) ||
			!get_number(json_object_array_get_idx(bbox, 2), &v[2]) ||
			!get_number(json_object_array_get_idx(bbox, 3), &v[3]))
		{
			item_reject(item, "annotation %zu has no \"bbox\" of four numbers [x, y, width, height]", i + 1);
			continue;
		}
		{
			const char *name = json_object_get_string(member(json_object_array_get_idx(categories, (size_t) cat->index), "name"));

			item_add_box(item, name, v[0], v[1], v[2], v[3]);
			item_add_tag(item, name);
		}
	}
	if (orphans > 5)
		fprintf(stderr, "pgvision-load: COCO file \"%s\": %d annotations of images not in \"images\" skipped\n",
				json_path, orphans);
	if (list->count == first)
		fprintf(stderr, "pgvision-load: COCO file \"%s\" lists no images\n", json_path);

	free(image_map);
	free(cat_map);
	free(base);
	json_object_put(root);
	return true;
}

bool
read_coco(const char *json_path, const char *images_dir, ItemList *list)
{
	json_object *root = json_object_from_file(json_path);

	if (root == NULL)
	{
		fprintf(stderr, "pgvision-load: cannot read COCO file \"%s\": %s", json_path,
				json_util_get_last_err() ? json_util_get_last_err() : "not JSON\n");
		return false;
	}
	return coco_items(root, json_path, images_dir, list);
}

bool
read_coco_text(const char *text, size_t len, const char *json_path,
			   const char *images_dir, ItemList *list)
{
	const char *why = NULL;
	json_object *root = json_from_text(text, len, &why);

	if (root == NULL)
	{
		fprintf(stderr, "pgvision-load: cannot read COCO file \"%s\": %s\n", json_path, why);
		return false;
	}
	return coco_items(root, json_path, images_dir, list);
}
