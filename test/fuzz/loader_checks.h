/*
 * loader_checks.h
 *	  What the harnesses of pgvision-load's annotation readers share
 *	  (fuzz_coco.c, fuzz_voc.c, fuzz_customvision.c, fuzz_csv.c): the
 *	  checks of the item list a reader produced and of the boxes it turns
 *	  into pgvision's convention.
 *
 * The readers (src/bin/pgvision-load) take the user's annotation files;
 * the loop that loads their items needs a server, so the harnesses stop
 * at what the loader would send: the items, and each item's boxes through
 * boxes_to_upright for the geometries the server could report.  A broken
 * promise aborts (FUZZ_ASSERT), which libFuzzer records as a crash.
 */
#ifndef PGV_LOADER_CHECKS_H
#define PGV_LOADER_CHECKS_H

#include <stdio.h>
#include <stdlib.h>

#include "load.h"

#define FUZZ_ASSERT(cond) \
	do { \
		if (!(cond)) { \
			fprintf(stderr, "%s:%d: broken contract: %s\n", __FILE__, __LINE__, #cond); \
			abort(); \
		} \
	} while (0)

/*
 * Every item of the list: a path and a label, a reason when rejected that
 * is not empty, tags once each, boxes with a tag; then its boxes through
 * boxes_to_upright for every orientation, stored and upright pixels: what
 * it accepts must pass the server's check of a region (inside the unit
 * square, positive size: cv_check_region in sql/pgvision.sql), what it
 * refuses must say why.
 */
void		fuzz_check_items(const ItemList *list);

/* The bytes as a NUL-terminated string (the readers get whole files). */
char	   *fuzz_text(const uint8_t *data, size_t len);

#endif							/* PGV_LOADER_CHECKS_H */
