/*
 * loader.h
 *	  The per-image loop of pgvision-load (load.c) and what it needs from
 *	  the command line.
 */
#ifndef PGVISION_LOADER_H
#define PGVISION_LOADER_H

#include "db.h"
#include "load.h"

typedef struct LoadOptions
{
	bool		upright_pixels; /* COCO/VOC boxes are on the upright image */
	bool		progress;		/* draw the bar */
	bool		verbose;		/* a line per file */
} LoadOptions;

/* 0: all in the project, 1: some files rejected, 2: stopped early */
extern int	run_load(Db *db, ItemList *list, const LoadOptions *opts);

#endif							/* PGVISION_LOADER_H */
