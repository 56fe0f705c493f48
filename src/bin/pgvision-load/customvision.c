/*
 * customvision.c
 *	  Read the JSON that Azure Custom Vision's training API returns for
 *	  tagged images, with json-c.
 *
 * GetTaggedImages / GetImages (Custom Vision Training API v3.3,
 * "Image" model) answer a JSON array of images.  Read here:
 *
 *	  [ { "id": "<uuid>",
 *		  "originalImageUri": "https://.../<name>?...",
 *		  "tags":	 [ { "tagName": "..." } ],
 *		  "regions": [ { "tagName": "...", "left": f, "top": f,
 *						 "width": f, "height": f } ] } ]
 *
 * Everything else (created, width, height, tagId, regionId, thumbnail and
 * resized URIs, metadata) is ignored.  Region numbers are fractions of the
 * image, left/top corner first: the hosted service's convention, which is
 * pgvision's, so they are only checked (inside the unit square, positive
 * size), not converted.  Into a detection project an image brings its
 * regions; into a classification project its tags.
 *
 * The JSON names no local files: the image is looked for in the images
 * folder (--images, default the JSON's folder) as <id> with .jpg, .jpeg,
 * .png or .bmp (how downloads of originalImageUri are usually saved), then
 * as the last path segment of originalImageUri.  Several pages of the API
 * (it returns at most 256 images a call) can be concatenated into one
 * array, or given as an object {"images": [...]}.
 */
#include "load.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <json-c/json.h>

static json_object *
member(json_object *o, const char *key)
{
	json_object *v;

	if (!json_object_is_type(o, json_type_object) || !json_object_object_get_ex(o, key, &v))
		return NULL;
	return v;
}

static const char *
member_string(json_object *o, const char *key)
{
	json_object *v = member(o, key);

	return v && json_object_is_type(v, json_type_string) ? json_object_get_string(v) : NULL;
}

static bool
member_number(json_object *o, const char *key, double *out)
{
	json_object *v = member(o, key);

	if (v == NULL || !(json_object_is_type(v, json_type_int) ||
					   json_object_is_type(v, json_type_double)))
		return false;
	*out = json_object_get_double(v);
	return true;
}

static bool
is_file(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

/* the file of an image: <id>.<ext>, else the URI's last segment; NULL if none */
static char *
find_file(const char *base, const char *id, const char *uri)
{
	static const char *const ext[] = {".jpg", ".jpeg", ".png", ".bmp", ".JPG", ".JPEG", ".PNG", ".BMP"};

	for (size_t i = 0; id && i < sizeof(ext) / sizeof(ext[0]); i++)
	{
		char	   *name = xasprintf("%s%s", id, ext[i]);
		char	   *path = path_join(base, name);

		free(name);
		if (is_file(path))
			return path;
		free(path);
	}
	if (uri != NULL)
	{
		size_t		end = strcspn(uri, "?#");
		size_t		start = end;
		char	   *name;
		char	   *path;

		while (start > 0 && uri[start - 1] != '/')
			start--;
		if (end > start)
		{
			name = xasprintf("%.*s", (int) (end - start), uri + start);
			path = path_join(base, name);
			free(name);
			if (is_file(path))
				return path;
			free(path);
		}
	}
	return NULL;
}

/*
 * The items of a parsed image list (root, which this frees); json_path names
 * it in messages and is where the images are looked for without --images.
 */
static bool
customvision_items(json_object *root, const char *json_path, const char *images_dir,
				   ItemList *list)
{
	json_object *images;
	char	   *base;

	images = json_object_is_type(root, json_type_array) ? root : member(root, "images");
	if (images == NULL || !json_object_is_type(images, json_type_array))
	{
		fprintf(stderr, "pgvision-load: \"%s\" is not a Custom Vision image list: expected a JSON array of images\n",
				json_path);
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

	for (size_t i = 0; i < json_object_array_length(images); i++)
	{
		json_object *im = json_object_array_get_idx(images, i);
		const char *id = member_string(im, "id");
		const char *uri = member_string(im, "originalImageUri");
		json_object *tags = member(im, "tags");
		json_object *regions = member(im, "regions");
		char	   *path = find_file(base, id, uri);
		char	   *label = id ? xstrdup(id) : xasprintf("image %zu", i + 1);
		LoadItem   *item;

		item = item_new(list, path ? path : base, label);
		item->units = BOX_NORMALISED;
		if (!json_object_is_type(im, json_type_object))
			item_reject(item, "image %zu of the list is not a JSON object", i + 1);
		else if (id == NULL)
			item_reject(item, "image %zu has no \"id\"", i + 1);
		else if (path == NULL)
			item_reject(item, "no file for it in \"%s\" (looked for %s.jpg, .jpeg, .png, .bmp%s)",
						base, id, uri ? " and the name in originalImageUri" : "");
		free(path);
		free(label);

		if (tags != NULL && !json_object_is_type(tags, json_type_null))
		{
			if (!json_object_is_type(tags, json_type_array))
				item_reject(item, "\"tags\" is not an array");
			for (size_t t = 0; json_object_is_type(tags, json_type_array) && t < json_object_array_length(tags); t++)
			{
				const char *name = member_string(json_object_array_get_idx(tags, t), "tagName");

				if (name == NULL)
					item_reject(item, "tag %zu has no \"tagName\"", t + 1);
				else
					item_add_tag(item, name);
			}
		}
		if (regions != NULL && !json_object_is_type(regions, json_type_null))
		{
			if (!json_object_is_type(regions, json_type_array))
				item_reject(item, "\"regions\" is not an array");
			for (size_t r = 0; json_object_is_type(regions, json_type_array) && r < json_object_array_length(regions); r++)
			{
				json_object *reg = json_object_array_get_idx(regions, r);
				const char *name = member_string(reg, "tagName");
				double		v[4];

				if (name == NULL)
					item_reject(item, "region %zu has no \"tagName\"", r + 1);
				else if (!member_number(reg, "left", &v[0]) || !member_number(reg, "top", &v[1]) ||
						 !member_number(reg, "width", &v[2]) || !member_number(reg, "height", &v[3]))
					item_reject(item, "region %zu (%s) lacks a numeric left, top, width or height", r + 1, name);
				else
					item_add_box(item, name, v[0], v[1], v[2], v[3]);
			}
		}
	}
	free(base);
	json_object_put(root);
	return true;
}

bool
read_customvision(const char *json_path, const char *images_dir, ItemList *list)
{
	json_object *root = json_object_from_file(json_path);

	if (root == NULL)
	{
		fprintf(stderr, "pgvision-load: cannot read Custom Vision file \"%s\": %s", json_path,
				json_util_get_last_err() ? json_util_get_last_err() : "not JSON\n");
		return false;
	}
	return customvision_items(root, json_path, images_dir, list);
}

bool
read_customvision_text(const char *text, size_t len, const char *json_path,
					   const char *images_dir, ItemList *list)
{
	const char *why = NULL;
	json_object *root = json_from_text(text, len, &why);

	if (root == NULL)
	{
		fprintf(stderr, "pgvision-load: cannot read Custom Vision file \"%s\": %s\n", json_path, why);
		return false;
	}
	return customvision_items(root, json_path, images_dir, list);
}
