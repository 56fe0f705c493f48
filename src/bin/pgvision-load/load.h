/*
 * load.h
 *	  Shared types of pgvision-load, the command-line loader.
 *
 * The loader runs in two steps.  A reader (folder.c, coco.c, voc.c,
 * customvision.c) turns the user's input into a list of items: one file
 * name per image with its labels (tags, or boxes in the units the format
 * uses).  Only names and labels are held; the images themselves are read
 * one at a time by the loop in main.c, hashed, and sent to the server
 * (db.c), so memory does not grow with the number or size of the images.
 * A reader that finds a bad annotation marks that item with the reason
 * instead of stopping: the image is then reported and skipped, never half
 * loaded.
 */
#ifndef PGVISION_LOAD_H
#define PGVISION_LOAD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define PGV_LOAD_VERSION "1.0"

/* How the numbers of a box are to be read. */
typedef enum BoxUnits
{
	/* fractions of the upright image (Custom Vision, pgvision itself) */
	BOX_NORMALISED,
	/* pixels of the stored raster, from its top-left corner (COCO, VOC) */
	BOX_PIXELS
} BoxUnits;

typedef struct LoadBox
{
	char	   *tag;
	double		left;
	double		top;
	double		width;
	double		height;
} LoadBox;

/* One image to load, as a reader describes it. */
typedef struct LoadItem
{
	char	   *path;			/* the file to read */
	char	   *label;			/* how reports name it (relative path) */
	char	  **tags;			/* classification labels */
	int			ntags;
	LoadBox    *boxes;			/* detection labels */
	int			nboxes;
	BoxUnits	units;
	/* the annotation's idea of the pixel size (0: not given) */
	int			declared_width;
	int			declared_height;
	/* a bad annotation found by the reader: skip the image with this reason */
	char	   *error;
} LoadItem;

typedef struct ItemList
{
	LoadItem   *items;
	int			count;
	int			capacity;
	/* files seen but not taken (not an image name, outside a tag folder) */
	int			ignored;
} ItemList;

/* items.c: the list and small string helpers every reader uses */
extern LoadItem *item_new(ItemList *list, const char *path, const char *label);
extern void item_add_tag(LoadItem *item, const char *tag);
extern void item_add_box(LoadItem *item, const char *tag,
						 double left, double top, double width, double height);
extern void item_declare_size(LoadItem *item, double width, double height);
extern void item_reject(LoadItem *item, const char *fmt,...)
			__attribute__((format(printf, 2, 3)));
extern void items_free(ItemList *list);
extern char *xstrdup(const char *s);
extern void *xmalloc(size_t n);
extern void *xrealloc(void *p, size_t n);
extern char *xasprintf(const char *fmt,...) __attribute__((format(printf, 1, 2)));
extern char *path_join(const char *dir, const char *name);
extern bool has_image_extension(const char *name);
extern void fatal(const char *fmt,...)
			__attribute__((format(printf, 1, 2), noreturn));

/*
 * The readers.  Each returns false after printing why the input as a whole
 * cannot be read (a missing folder, a file that is not JSON); problems of
 * one image are recorded on its item instead.
 */
extern bool read_tag_folders(const char *root, ItemList *list);
extern bool read_csv(const char *csv_path, const char *images_dir, ItemList *list);
extern bool read_coco(const char *json_path, const char *images_dir, ItemList *list);
extern bool read_voc(const char *xml_dir, const char *images_dir, ItemList *list);
extern bool read_customvision(const char *json_path, const char *images_dir, ItemList *list);

/*
 * The same readers over bytes in memory (a file's whole content) or an
 * open stream, which is what the fuzz harnesses of test/fuzz call: what
 * follows the reading of the file is the same code.  The path names the
 * input in messages and gives the default images folder; read_voc_text
 * reads one annotation file of the folder xml_dir.
 */
extern bool read_csv_stream(FILE *f, const char *csv_path, const char *images_dir,
							ItemList *list);
extern bool read_coco_text(const char *text, size_t len, const char *json_path,
						   const char *images_dir, ItemList *list);
extern void read_voc_text(const char *text, size_t len, const char *xml_dir,
						  const char *xml_name, const char *images_dir, ItemList *list);
extern bool read_customvision_text(const char *text, size_t len, const char *json_path,
								   const char *images_dir, ItemList *list);

/* json_text.c: JSON in memory, parsed as json_object_from_file parses */
struct json_object;
extern struct json_object *json_from_text(const char *text, size_t len, const char **why);

/* boxes.c: pixel and normalised boxes to pgvision's convention */
typedef struct ImageGeometry
{
	int			stored_width;	/* the raster as stored in the file */
	int			stored_height;
	int			orientation;	/* EXIF 1..8 */
} ImageGeometry;

extern void geometry_from_upright(ImageGeometry *g, int upright_width,
								  int upright_height, int orientation);
extern char *boxes_to_upright(const LoadItem *item, const ImageGeometry *g,
							  bool upright_pixels, LoadBox *out);

/* header.c: the geometry of a photo from its header; NULL or why it cannot be read */
extern char *geometry_from_bytes(ImageGeometry *g, const uint8_t *bytes, size_t len);

/* known.c: content hashes of the images the project already has */
#define SHA256_LEN 32
typedef struct HashSet
{
	uint8_t    *slots;			/* capacity * SHA256_LEN bytes */
	bool	   *used;
	size_t		capacity;
	size_t		count;
} HashSet;

extern void sha256_bytes(const uint8_t *data, size_t len, uint8_t out[SHA256_LEN]);
extern bool hashset_contains(const HashSet *set, const uint8_t hash[SHA256_LEN]);
extern void hashset_add(HashSet *set, const uint8_t hash[SHA256_LEN]);
extern void hashset_free(HashSet *set);

/* progress.c: the bar on a terminal and the summary at the end */
typedef enum Outcome
{
	OUTCOME_ADDED,
	OUTCOME_ALREADY,
	OUTCOME_REJECTED
} Outcome;

typedef struct Progress
{
	int			total;
	int			done;
	int			added;
	int			already;
	int			rejected;
	int			ignored;
	uint64_t	bytes_sent;
	double		started;
	double		last_draw;
	bool		bar;			/* draw the bar (stderr is a terminal) */
	bool		verbose;		/* a line per file */
	/* rejected files and why, for the summary */
	char	  **rejected_labels;
	char	  **rejected_reasons;
} Progress;

extern double now_seconds(void);
extern void progress_start(Progress *p, int total, int ignored, bool bar, bool verbose);
extern void progress_record(Progress *p, const char *label, Outcome outcome,
							const char *reason);
extern void progress_note(Progress *p, const char *fmt,...)
			__attribute__((format(printf, 2, 3)));
extern void progress_finish(Progress *p, const char *project, bool interrupted);

#endif							/* PGVISION_LOAD_H */
