/*
 * load.c
 *	  The loop of pgvision-load: for each item a reader produced, read the
 *	  file, skip it if the project has its bytes, turn its boxes into
 *	  pgvision's convention, and add it with one all-or-nothing call.
 *
 * One file's bytes are in memory at a time (a buffer reused from image to
 * image), so a load of any size runs in the memory of its largest photo
 * plus the annotations.  A file that cannot be read, an annotation the
 * reader found bad, a box outside its image and anything the server
 * refuses (bytes that are not a valid image, a second tag on a multiclass
 * image) reject that file alone, with its reason kept for the summary; a
 * lost connection, missing rights or Ctrl-C stop the load after the
 * current image, which is then either stored whole or not at all.
 */
#include "load.h"
#include "db.h"
#include "loader.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* PostgreSQL's own default for pgvision.max_image_bytes is far below this */
#define MAX_FILE_BYTES ((size_t) 1 << 30)

static volatile sig_atomic_t interrupted = 0;

static void
on_interrupt(int sig)
{
	(void) sig;
	interrupted = 1;
}

/* Read a whole file into *buf (grown as needed); NULL or the reason. */
static char *
read_file(const char *path, uint8_t **buf, size_t *cap, size_t *len)
{
	int			fd = open(path, O_RDONLY);
	struct stat st;
	size_t		got = 0;

	if (fd < 0)
		return xasprintf("cannot open: %s", strerror(errno));
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode))
	{
		close(fd);
		return xstrdup("not a regular file");
	}
	if ((size_t) st.st_size > MAX_FILE_BYTES)
	{
		close(fd);
		return xasprintf("%lld bytes is too large for an image", (long long) st.st_size);
	}
	if ((size_t) st.st_size + 1 > *cap)
	{
		*cap = (size_t) st.st_size + 1;
		free(*buf);
		*buf = xmalloc(*cap);
	}
	/* read to the end, whatever fstat said (the file may be growing) */
	for (;;)
	{
		ssize_t		n;

		if (got == *cap)
		{
			if (*cap > MAX_FILE_BYTES)
			{
				close(fd);
				return xstrdup("too large for an image");
			}
			*cap *= 2;
			*buf = xrealloc(*buf, *cap);
		}
		n = read(fd, *buf + got, *cap - got);
		if (n < 0 && errno == EINTR && !interrupted)
			continue;
		if (n < 0)
		{
			int			e = errno;

			close(fd);
			return xasprintf("cannot read: %s", strerror(e));
		}
		if (n == 0)
			break;
		got += (size_t) n;
	}
	close(fd);
	*len = got;
	return NULL;
}

int
run_load(Db *db, ItemList *list, const LoadOptions *opts)
{
	Progress	p;
	HashSet		known;
	uint8_t    *buf = NULL;
	size_t		cap = 0;
	bool		detection = strcmp(db->task, "detection") == 0;
	bool		stopped = false;
	struct sigaction sa;
	int			status;

	memset(&known, 0, sizeof(known));
	db_load_hashes(db, &known);

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_interrupt;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);

	progress_start(&p, list->count, list->ignored, opts->progress, opts->verbose);
	for (int i = 0; i < list->count && !stopped; i++)
	{
		LoadItem   *item = &list->items[i];
		LoadBox    *boxes = NULL;
		uint8_t		hash[SHA256_LEN];
		size_t		len = 0;
		char	   *why = NULL;
		DbStatus	st;

		if (interrupted)
		{
			stopped = true;
			break;
		}
		if (item->error != NULL)
		{
			progress_record(&p, item->label, OUTCOME_REJECTED, item->error);
			continue;
		}
		why = read_file(item->path, &buf, &cap, &len);
		if (why != NULL)
		{
			progress_record(&p, item->label, OUTCOME_REJECTED, why);
			free(why);
			continue;
		}
		sha256_bytes(buf, len, hash);
		if (hashset_contains(&known, hash))
		{
			progress_record(&p, item->label, OUTCOME_ALREADY, NULL);
			continue;
		}

		/*
		 * Boxes count only in a detection project.  In pixels they need the
		 * stored raster's size and orientation, read from the file's header
		 * (a file whose header cannot be read is refused here already).
		 */
		st = DB_OK;
		if (detection && item->nboxes > 0)
		{
			ImageGeometry g;

			geometry_from_upright(&g, 1, 1, 1);
			if (item->units == BOX_PIXELS)
				why = geometry_from_bytes(&g, buf, len);
			if (why == NULL)
			{
				boxes = xmalloc(sizeof(LoadBox) * (size_t) item->nboxes);
				why = boxes_to_upright(item, &g, opts->upright_pixels, boxes);
			}
			if (why != NULL)
				st = DB_REJECTED;
		}
		if (st == DB_OK)
		{
			st = db_add_image(db, buf, len, item, boxes, &why);
			if (st == DB_OK || st == DB_ALREADY)
				hashset_add(&known, hash);
			if (st == DB_OK)
				p.bytes_sent += len;
		}
		switch (st)
		{
			case DB_OK:
				progress_record(&p, item->label, OUTCOME_ADDED, NULL);
				break;
			case DB_ALREADY:
				progress_record(&p, item->label, OUTCOME_ALREADY, NULL);
				break;
			case DB_REJECTED:
				progress_record(&p, item->label, OUTCOME_REJECTED, why);
				break;
			case DB_FATAL:
				progress_note(&p, "pgvision-load: stopped at %s: %s", item->label, why);
				stopped = true;
				break;
		}
		free(why);
		free(boxes);
	}
	stopped = stopped || interrupted;
	progress_finish(&p, db->project, stopped);
	status = stopped ? 2 : (p.rejected > 0 ? 1 : 0);
	free(buf);
	hashset_free(&known);
	return status;
}
