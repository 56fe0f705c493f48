/*
 * folder.c
 *	  The classification inputs: a folder with one sub-folder per tag, and a
 *	  CSV of file,tags.
 *
 * Folder per tag (multiclass, as the hosted services and torchvision's
 * ImageFolder lay data out): ROOT/TAG/IMAGE.  The sub-folder's name is the
 * tag; files with an image extension (.jpg .jpeg .jpe .png .bmp, any case)
 * are taken, symbolic links followed; other files, files directly in ROOT
 * and deeper folders are counted as ignored.  Names are sorted, so two runs
 * see the same order.
 *
 * CSV (multilabel, or multiclass with one tag a row), RFC 4180: fields
 * separated by commas, optionally in double quotes with "" for a quote,
 * lines ending in LF or CRLF.  Two columns, file and tags; the tags are
 * separated by semicolons (the convention of the datasets' manifest.csv),
 * blanks around each are dropped, and an empty tags field adds the image
 * untagged.  A first row "file,tags" is a header.  File names are relative
 * to the images folder (--images, default the CSV's own folder).
 */
#include "load.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

static bool
is_dir(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

static bool
is_file(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

static int
not_hidden(const struct dirent *d)
{
	return d->d_name[0] != '.';
}

bool
read_tag_folders(const char *root, ItemList *list)
{
	struct dirent **tags;
	int			ntags;

	ntags = scandir(root, &tags, not_hidden, alphasort);
	if (ntags < 0)
	{
		fprintf(stderr, "pgvision-load: cannot read folder \"%s\": %s\n", root, strerror(errno));
		return false;
	}
	for (int t = 0; t < ntags; t++)
	{
		char	   *tagdir = path_join(root, tags[t]->d_name);
		struct dirent **files;
		int			nfiles;

		if (!is_dir(tagdir))
		{
			/* an image beside the tag folders has no tag to take */
			list->ignored++;
			free(tagdir);
			free(tags[t]);
			continue;
		}
		nfiles = scandir(tagdir, &files, not_hidden, alphasort);
		if (nfiles < 0)
		{
			fprintf(stderr, "pgvision-load: cannot read folder \"%s\": %s\n", tagdir, strerror(errno));
			return false;
		}
		for (int f = 0; f < nfiles; f++)
		{
			char	   *path = path_join(tagdir, files[f]->d_name);

			if (has_image_extension(files[f]->d_name) && is_file(path))
			{
				char	   *label = xasprintf("%s/%s", tags[t]->d_name, files[f]->d_name);
				LoadItem   *item = item_new(list, path, label);

				item_add_tag(item, tags[t]->d_name);
				free(label);
			}
			else
				list->ignored++;
			free(path);
			free(files[f]);
		}
		free(files);
		free(tagdir);
		free(tags[t]);
	}
	free(tags);
	return true;
}

/* One CSV record: its fields, kept until the next record is read. */
typedef struct CsvRecord
{
	char	  **fields;
	int			nfields;
	int			capacity;
	char	   *buf;
	size_t		buflen;
	size_t		bufcap;
} CsvRecord;

static void
buf_put(CsvRecord *r, char c)
{
	if (r->buflen + 1 >= r->bufcap)
	{
		r->bufcap = r->bufcap ? r->bufcap * 2 : 256;
		r->buf = xrealloc(r->buf, r->bufcap);
	}
	r->buf[r->buflen++] = c;
}

static void
end_field(CsvRecord *r)
{
	buf_put(r, '\0');
	if (r->nfields == r->capacity)
	{
		r->capacity = r->capacity ? r->capacity * 2 : 4;
		r->fields = xrealloc(r->fields, sizeof(char *) * (size_t) r->capacity);
	}
	r->fields[r->nfields++] = xstrdup(r->buf);
	r->buflen = 0;
}

static void
clear_record(CsvRecord *r)
{
	for (int i = 0; i < r->nfields; i++)
		free(r->fields[i]);
	r->nfields = 0;
	r->buflen = 0;
}

/*
 * Read the next record.  Returns 1 with a record, 0 at the end of the
 * file, -1 for a quoted field the file ends inside (*why set).
 */
static int
read_record(FILE *f, CsvRecord *r, int *line, const char **why)
{
	int			c;
	bool		quoted = false;
	bool		any = false;

	clear_record(r);
	for (;;)
	{
		c = getc(f);
		if (quoted)
		{
			if (c == EOF)
			{
				*why = "the file ends inside a quoted field";
				return -1;
			}
			if (c == '"')
			{
				int			next = getc(f);

				if (next == '"')
					buf_put(r, '"');
				else
				{
					quoted = false;
					if (next != EOF)
						ungetc(next, f);
				}
			}
			else
			{
				if (c == '\n')
					(*line)++;
				buf_put(r, (char) c);
			}
			continue;
		}
		if (c == EOF)
		{
			if (!any)
				return 0;
			end_field(r);
			return 1;
		}
		any = true;
		if (c == '"' && r->buflen == 0)
			quoted = true;
		else if (c == ',')
			end_field(r);
		else if (c == '\n')
		{
			(*line)++;
			if (r->buflen > 0 && r->buf[r->buflen - 1] == '\r')
				r->buflen--;
			end_field(r);
			return 1;
		}
		else
			buf_put(r, (char) c);
	}
}

/* blanks around a tag are not part of it (the server refuses padded names) */
static char *
trim(char *s)
{
	char	   *end;

	while (*s == ' ' || *s == '\t')
		s++;
	end = s + strlen(s);
	while (end > s && (end[-1] == ' ' || end[-1] == '\t'))
		*--end = '\0';
	return s;
}

bool
read_csv_stream(FILE *f, const char *csv_path, const char *images_dir, ItemList *list)
{
	CsvRecord	r;
	int			line = 1;
	int			got;
	const char *why = NULL;
	char	   *base;

	if (images_dir != NULL)
		base = xstrdup(images_dir);
	else
	{
		const char *slash = strrchr(csv_path, '/');

		base = slash ? xasprintf("%.*s", (int) (slash - csv_path), csv_path) : xstrdup(".");
	}
	memset(&r, 0, sizeof(r));
	for (bool first = true;; first = false)
	{
		int			at = line;
		LoadItem   *item;
		char	   *path;

		got = read_record(f, &r, &line, &why);
		if (got <= 0)
			break;
		if (r.nfields == 1 && r.fields[0][0] == '\0')
			continue;			/* a blank line */
		if (first && r.nfields == 2 && strcasecmp(trim(r.fields[0]), "file") == 0 &&
			strcasecmp(trim(r.fields[1]), "tags") == 0)
			continue;
		path = path_join(base, r.fields[0]);
		item = item_new(list, path, r.fields[0]);
		free(path);
		if (r.nfields != 2)
		{
			item_reject(item, "%s line %d has %d fields; each line is file,tags (tags separated by ;)",
						csv_path, at, r.nfields);
			continue;
		}
		for (char *save = NULL, *tok = strtok_r(r.fields[1], ";", &save); tok != NULL;
			 tok = strtok_r(NULL, ";", &save))
		{
			char	   *tag = trim(tok);

			if (*tag != '\0')
				item_add_tag(item, tag);
		}
	}
	clear_record(&r);
	free(r.fields);
	free(r.buf);
	free(base);
	if (ferror(f))
		why = strerror(errno);
	if (got < 0 || why != NULL)
	{
		fprintf(stderr, "pgvision-load: cannot read \"%s\" (line %d): %s\n", csv_path, line, why);
		return false;
	}
	return true;
}

bool
read_csv(const char *csv_path, const char *images_dir, ItemList *list)
{
	FILE	   *f = fopen(csv_path, "r");
	bool		ok;

	if (f == NULL)
	{
		fprintf(stderr, "pgvision-load: cannot open \"%s\": %s\n", csv_path, strerror(errno));
		return false;
	}
	ok = read_csv_stream(f, csv_path, images_dir, list);
	fclose(f);
	return ok;
}
