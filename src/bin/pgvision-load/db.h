/*
 * db.h
 *	  pgvision-load's connection and the SQL it sends (db.c).
 */
#ifndef PGVISION_LOAD_DB_H
#define PGVISION_LOAD_DB_H

#include <libpq-fe.h>

#include "load.h"

typedef struct ConnOptions
{
	const char *host;
	const char *port;
	const char *user;
	const char *dbname;
	int			password;		/* -1 never ask (-w), 1 ask first (-W), 0 when needed */
} ConnOptions;

typedef struct Db
{
	PGconn	   *conn;
	char	   *project;
	char	   *project_id;		/* as text, a query parameter */
	char	   *task;			/* multiclass, multilabel, detection */
	bool		verbose;
	bool		saw_already;	/* the last add raised "image already in project" */
} Db;

/* what became of a statement about one image */
typedef enum DbStatus
{
	DB_OK,
	DB_ALREADY,					/* the server already had the bytes */
	DB_REJECTED,				/* this image is refused: reason set */
	DB_FATAL					/* the load cannot go on: reason set */
} DbStatus;

extern void db_connect(Db *db, const ConnOptions *opts, bool verbose);
extern void db_open_project(Db *db, const char *project, const char *create_task,
							const char *domain);
extern void db_load_hashes(Db *db, HashSet *known);
extern DbStatus db_add_image(Db *db, const uint8_t *bytes, size_t len,
							 const LoadItem *item, const LoadBox *boxes, char **reason);
extern void db_close(Db *db);

#endif							/* PGVISION_LOAD_DB_H */
