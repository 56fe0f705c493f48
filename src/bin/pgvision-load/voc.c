/*
 * voc.c
 *	  Read a folder of Pascal VOC annotation files with libxml2.
 *
 * One XML file an image, as the PASCAL VOC development kit writes them
 * (Everingham et al., "The PASCAL Visual Object Classes Challenge 2012
 * Development Kit", section "Annotation"; the same schema LabelImg and
 * CVAT export).  Read here:
 *
 *	  <annotation>
 *		<filename>		 the image file, in the images folder
 *		<size> <width> <height>					  (optional; checked)
 *		<object>*  <name>  <bndbox> <xmin> <ymin> <xmax> <ymax>
 *
 * Everything else (folder, path, source, segmented, pose, truncated,
 * difficult, parts) is ignored; difficult objects are loaded like the
 * others.  The devkit counts pixels from 1: (xmin, ymin) is the top-left
 * pixel of the box and (xmax, ymax) its bottom-right pixel, both inside
 * it, so the box spans xmin - 1 .. xmax on the stored raster's pixel
 * edges (a tool that writes 0 for the first column is within the pixel of
 * slack boxes.c allows).  Coordinates may be decimals.
 *
 * The images folder is --images, else the annotation folder itself when
 * the image is there, else a JPEGImages folder beside it (the devkit's
 * layout: VOC2012/Annotations, VOC2012/JPEGImages).  A file that is not
 * well-formed XML, not an <annotation>, or has an object without a
 * complete <bndbox> is rejected with its reason, under the XML's name.
 */
#include "load.h"

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include <libxml/parser.h>
#include <libxml/tree.h>

static int
is_xml(const struct dirent *d)
{
	const char *dot = strrchr(d->d_name, '.');

	return d->d_name[0] != '.' && dot != NULL && strcasecmp(dot, ".xml") == 0;
}

/* the first child element of that name */
static xmlNode *
child(xmlNode *parent, const char *name)
{
	for (xmlNode *n = parent ? parent->children : NULL; n != NULL; n = n->next)
		if (n->type == XML_ELEMENT_NODE && strcmp((const char *) n->name, name) == 0)
			return n;
	return NULL;
}

/* an element's text, trimmed, malloc'd; NULL when absent or empty */
static char *
child_text(xmlNode *parent, const char *name)
{
	xmlNode    *n = child(parent, name);
	xmlChar    *content;
	char	   *s;
	char	   *start;
	char	   *end;

	if (n == NULL || (content = xmlNodeGetContent(n)) == NULL)
		return NULL;
	start = (char *) content;
	while (*start == ' ' || *start == '\t' || *start == '\n' || *start == '\r')
		start++;
	end = start + strlen(start);
	while (end > start && (end[-1] == ' ' || end[-1] == '\t' || end[-1] == '\n' || end[-1] == '\r'))
		end--;
	s = end > start ? xasprintf("%.*s", (int) (end - start), start) : NULL;
	xmlFree(content);
	return s;
}

static bool
child_number(xmlNode *parent, const char *name, double *out)
{
	char	   *s = child_text(parent, name);
	char	   *end;
	bool		ok;

	if (s == NULL)
		return false;
	*out = strtod(s, &end);
	ok = end != s && *end == '\0';
	free(s);
	return ok;
}

static bool
exists(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0;
}

/*
 * One parsed annotation file into one item: doc is what libxml2 made of
 * xml_path (NULL: not well-formed, the error in ctxt).  Frees doc, ctxt
 * and xml_path.
 */
static void
voc_item(xmlParserCtxt *ctxt, xmlDoc *doc, char *xml_path, const char *xml_dir,
		 const char *xml_name, const char *images_dir, ItemList *list)
{
	xmlNode    *root;
	xmlNode    *size;
	char	   *filename;
	char	   *path;
	char	   *label;
	LoadItem   *item;
	double		w,
				h;
	int			nobj = 0;

	if (doc == NULL)
	{
		const xmlError *e = xmlCtxtGetLastError(ctxt);

		item = item_new(list, xml_path, xml_name);
		if (e != NULL && e->message != NULL)
			item_reject(item, "not well-formed XML (line %d: %.*s)", e->line,
						(int) strcspn(e->message, "\n"), e->message);
		else
			item_reject(item, "cannot read it as XML");
		xmlFreeParserCtxt(ctxt);
		free(xml_path);
		return;
	}
	root = xmlDocGetRootElement(doc);
	filename = root ? child_text(root, "filename") : NULL;
	if (root == NULL || strcmp((const char *) root->name, "annotation") != 0 || filename == NULL)
	{
		item = item_new(list, xml_path, xml_name);
		if (root == NULL || strcmp((const char *) root->name, "annotation") != 0)
			item_reject(item, "not a Pascal VOC annotation: the root element is <%s>, not <annotation>",
						root ? (const char *) root->name : "");
		else
			item_reject(item, "the annotation has no <filename>");
		free(filename);
		xmlFreeDoc(doc);
		xmlFreeParserCtxt(ctxt);
		free(xml_path);
		return;
	}

	if (images_dir != NULL)
		path = path_join(images_dir, filename);
	else
	{
		char	   *beside = path_join(xml_dir, "../JPEGImages");

		path = path_join(xml_dir, filename);
		if (!exists(path))
		{
			char	   *other = path_join(beside, filename);

			if (exists(other))
			{
				free(path);
				path = other;
			}
			else
				free(other);
		}
		free(beside);
	}
	label = xasprintf("%s (%s)", filename, xml_name);
	item = item_new(list, path, label);
	item->units = BOX_PIXELS;
	free(label);
	free(path);

	size = child(root, "size");
	if (size != NULL && child_number(size, "width", &w) && child_number(size, "height", &h))
		item_declare_size(item, w, h);

	for (xmlNode *o = root->children; o != NULL; o = o->next)
	{
		xmlNode    *bb;
		char	   *name;
		double		x0,
					y0,
					x1,
					y1;

		if (o->type != XML_ELEMENT_NODE || strcmp((const char *) o->name, "object") != 0)
			continue;
		nobj++;
		name = child_text(o, "name");
		bb = child(o, "bndbox");
		if (name == NULL)
			item_reject(item, "object %d has no <name>", nobj);
		else if (bb == NULL || !child_number(bb, "xmin", &x0) || !child_number(bb, "ymin", &y0) ||
				 !child_number(bb, "xmax", &x1) || !child_number(bb, "ymax", &y1))
			item_reject(item, "object %d (%s) has no <bndbox> with numeric <xmin>, <ymin>, <xmax>, <ymax>",
						nobj, name);
		else
		{
			/* 1-based inclusive pixels to pixel edges (see the header) */
			item_add_box(item, name, x0 - 1, y0 - 1, x1 - x0 + 1, y1 - y0 + 1);
			item_add_tag(item, name);
		}
		free(name);
	}
	free(filename);
	xmlFreeDoc(doc);
	xmlFreeParserCtxt(ctxt);
	free(xml_path);
}

/* no network, no entity expansion: annotation files are data */
#define VOC_PARSE_OPTIONS (XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING)

/* One annotation file into one item. */
static void
read_one(const char *xml_dir, const char *xml_name, const char *images_dir, ItemList *list)
{
	char	   *xml_path = path_join(xml_dir, xml_name);
	xmlParserCtxt *ctxt = xmlNewParserCtxt();

	if (ctxt == NULL)
		fatal("out of memory");
	voc_item(ctxt, xmlCtxtReadFile(ctxt, xml_path, NULL, VOC_PARSE_OPTIONS),
			 xml_path, xml_dir, xml_name, images_dir, list);
}

void
read_voc_text(const char *text, size_t len, const char *xml_dir, const char *xml_name,
			  const char *images_dir, ItemList *list)
{
	char	   *xml_path = path_join(xml_dir, xml_name);
	xmlParserCtxt *ctxt = xmlNewParserCtxt();

	if (ctxt == NULL)
		fatal("out of memory");
	/* xmlCtxtReadMemory takes an int length */
	if (len > INT_MAX)
	{
		LoadItem   *item = item_new(list, xml_path, xml_name);

		item_reject(item, "too large for an annotation file");
		xmlFreeParserCtxt(ctxt);
		free(xml_path);
		return;
	}
	voc_item(ctxt, xmlCtxtReadMemory(ctxt, text, (int) len, xml_path, NULL, VOC_PARSE_OPTIONS),
			 xml_path, xml_dir, xml_name, images_dir, list);
}

bool
read_voc(const char *xml_dir, const char *images_dir, ItemList *list)
{
	struct dirent **names;
	int			n;

	LIBXML_TEST_VERSION;
	n = scandir(xml_dir, &names, is_xml, alphasort);
	if (n < 0)
	{
		fprintf(stderr, "pgvision-load: cannot read folder \"%s\": %s\n", xml_dir, strerror(errno));
		return false;
	}
	for (int i = 0; i < n; i++)
	{
		read_one(xml_dir, names[i]->d_name, images_dir, list);
		free(names[i]);
	}
	free(names);
	xmlCleanupParser();
	return true;
}
