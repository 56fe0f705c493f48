/*
 * items.c
 *	  The list of images a reader produces, and the few string and memory
 *	  helpers every part of pgvision-load shares.
 *
 * A command-line tool has one answer to running out of memory: say so and
 * exit.  The x* allocators do that, so callers need no checks of their own.
 */
#include "load.h"

#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

void
fatal(const char *fmt,...)
{
	va_list		ap;

	fprintf(stderr, "pgvision-load: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(2);
}

void *
xmalloc(size_t n)
{
	void	   *p = malloc(n ? n : 1);

	if (p == NULL)
		fatal("out of memory");
	return p;
}

void *
xrealloc(void *p, size_t n)
{
	p = realloc(p, n ? n : 1);
	if (p == NULL)
		fatal("out of memory");
	return p;
}

char *
xstrdup(const char *s)
{
	size_t		n = strlen(s) + 1;

	return memcpy(xmalloc(n), s, n);
}

char *
xasprintf(const char *fmt,...)
{
	va_list		ap;
	int			n;
	char	   *s;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0)
		fatal("cannot format a message");
	s = xmalloc((size_t) n + 1);
	va_start(ap, fmt);
	vsnprintf(s, (size_t) n + 1, fmt, ap);
	va_end(ap);
	return s;
}

char *
path_join(const char *dir, const char *name)
{
	size_t		n = strlen(dir);

	if (name[0] == '/' || n == 0)
		return xstrdup(name);
	if (dir[n - 1] == '/')
		return xasprintf("%s%s", dir, name);
	return xasprintf("%s/%s", dir, name);
}

/*
 * The names the folder reader takes as images.  The server sniffs the
 * bytes, so a PNG named .jpg is fine; the extension only keeps notes,
 * thumbnails caches and the like out of the load.
 */
bool
has_image_extension(const char *name)
{
	static const char *const ext[] = {".jpg", ".jpeg", ".jpe", ".png", ".bmp"};
	const char *dot = strrchr(name, '.');

	if (dot == NULL || name[0] == '.')
		return false;
	for (size_t i = 0; i < sizeof(ext) / sizeof(ext[0]); i++)
		if (strcasecmp(dot, ext[i]) == 0)
			return true;
	return false;
}

LoadItem *
item_new(ItemList *list, const char *path, const char *label)
{
	LoadItem   *item;

	if (list->count == list->capacity)
	{
		list->capacity = list->capacity ? list->capacity * 2 : 256;
		list->items = xrealloc(list->items, sizeof(LoadItem) * (size_t) list->capacity);
	}
	item = &list->items[list->count++];
	memset(item, 0, sizeof(*item));
	item->path = xstrdup(path);
	item->label = xstrdup(label);
	item->units = BOX_NORMALISED;
	return item;
}

/* Tags are kept once each, in the order first seen. */
void
item_add_tag(LoadItem *item, const char *tag)
{
	for (int i = 0; i < item->ntags; i++)
		if (strcmp(item->tags[i], tag) == 0)
			return;
	item->tags = xrealloc(item->tags, sizeof(char *) * (size_t) (item->ntags + 1));
	item->tags[item->ntags++] = xstrdup(tag);
}

void
item_add_box(LoadItem *item, const char *tag,
			 double left, double top, double width, double height)
{
	LoadBox    *b;

	item->boxes = xrealloc(item->boxes, sizeof(LoadBox) * (size_t) (item->nboxes + 1));
	b = &item->boxes[item->nboxes++];
	b->tag = xstrdup(tag);
	b->left = left;
	b->top = top;
	b->width = width;
	b->height = height;
}

/*
 * The pixel size an annotation gives its image (COCO images[].width and
 * height, VOC <size>), checked against the image when its boxes are
 * turned (boxes.c).  Zero or negative means not given, as before.  A size
 * no image can have (not a finite number, beyond an int) rejects the image
 * here: it cannot match, and converting it to int would be undefined
 * behaviour (fuzz_coco found a width of 1.8e19 doing just that).
 */
void
item_declare_size(LoadItem *item, double width, double height)
{
	if (!isfinite(width) || !isfinite(height) || width > INT_MAX || height > INT_MAX)
	{
		item_reject(item, "the annotation gives the size %g x %g, which is no image's size",
					width, height);
		return;
	}
	if (width <= 0 || height <= 0)
		return;
	item->declared_width = (int) width;
	item->declared_height = (int) height;
}

/* The first bad annotation of an image is the one reported. */
void
item_reject(LoadItem *item, const char *fmt,...)
{
	va_list		ap;
	int			n;

	if (item->error != NULL)
		return;
	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	item->error = xmalloc((size_t) (n > 0 ? n : 0) + 1);
	va_start(ap, fmt);
	vsnprintf(item->error, (size_t) (n > 0 ? n : 0) + 1, fmt, ap);
	va_end(ap);
}

void
items_free(ItemList *list)
{
	for (int i = 0; i < list->count; i++)
	{
		LoadItem   *item = &list->items[i];

		free(item->path);
		free(item->label);
		for (int t = 0; t < item->ntags; t++)
			free(item->tags[t]);
		free(item->tags);
		for (int b = 0; b < item->nboxes; b++)
			free(item->boxes[b].tag);
		free(item->boxes);
		free(item->error);
	}
	free(list->items);
	memset(list, 0, sizeof(*list));
}
