/*
 * db.c
 *	  pgvision-load's connection and every statement it sends.
 *
 * The loader is an ordinary client: it connects with libpq's usual
 * variables and flags, reads the files on its own side and sends their
 * bytes as binary parameters (PQexecPrepared, format 1), so a role granted
 * pgvision_user loads without any right to read the server's files.  The
 * statements are pgvision's public functions:
 *
 *	  cv_project_row / cv_create_project	find or make the project
 *	  cv_images.sha256						what the project already has
 *	  cv_add_image(project, bytes, tags, regions)
 *
 * cv_add_image is one statement and all or nothing: an image is stored
 * with all its tags or boxes, or not at all.  Each runs in its own
 * transaction (autocommit), so an interrupted load keeps every image it
 * finished and a second run adds the rest.  synchronous_commit is turned
 * off for the session: a commit then does not wait for its WAL flush, which
 * is most of the time a small image takes, and a crash can only lose the
 * last few images, which the next run adds again.  Nothing else is
 * weakened: the data stay consistent either way.
 */
#include "db.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <json-c/json.h>

/* type oids of the parameters (pg_type.h is a server header) */
#define BYTEAOID 17
#define TEXTOID 25
#define JSONBOID 3802

/* a statement that ran into a transient conflict is tried this often */
#define MAX_TRIES 3

static void
notice_receiver(void *arg, const PGresult *res)
{
	Db		   *db = arg;
	const char *msg = PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY);

	/* cv_add_image found the same bytes (another loader won the race) */
	if (msg != NULL && strncmp(msg, "image already in project", 24) == 0)
	{
		db->saw_already = true;
		return;
	}
	if (db->verbose)
		fprintf(stderr, "%s", PQresultErrorMessage(res));
}

/* a statement the load cannot go on without failed: say why and exit */
static void
fatal_result(Db *db, PGresult *res, const char *what)
{
	/* the default verbosity includes the server's DETAIL and HINT lines */
	fprintf(stderr, "pgvision-load: %s: %s", what,
			res ? PQresultErrorMessage(res) : PQerrorMessage(db->conn));
	exit(2);
}

void
db_connect(Db *db, const ConnOptions *opts, bool verbose)
{
	const char *keywords[7];
	const char *values[7];
	char	   *password = NULL;
	PGresult   *res;

	memset(db, 0, sizeof(*db));
	db->verbose = verbose;
	if (opts->password > 0)
		password = xstrdup(getpass("Password: "));
	for (;;)
	{
		int			n = 0;

		keywords[n] = "host";
		values[n++] = opts->host;
		keywords[n] = "port";
		values[n++] = opts->port;
		keywords[n] = "user";
		values[n++] = opts->user;
		keywords[n] = "password";
		values[n++] = password;
		/* last: -d may be a connection string or URI (expand_dbname) */
		keywords[n] = "dbname";
		values[n++] = opts->dbname;
		keywords[n] = "fallback_application_name";
		values[n++] = "pgvision-load";
		keywords[n] = NULL;
		values[n] = NULL;
		db->conn = PQconnectdbParams(keywords, values, 1);
		if (db->conn == NULL)
			fatal("out of memory");
		/* as psql does: ask for a password only when the server wants one */
		if (PQstatus(db->conn) == CONNECTION_BAD && PQconnectionNeedsPassword(db->conn) &&
			password == NULL && opts->password == 0 && isatty(fileno(stdin)))
		{
			PQfinish(db->conn);
			password = xstrdup(getpass("Password: "));
			continue;
		}
		break;
	}
	free(password);
	if (PQstatus(db->conn) != CONNECTION_OK)
	{
		fprintf(stderr, "pgvision-load: cannot connect: %s", PQerrorMessage(db->conn));
		exit(2);
	}
	PQsetNoticeReceiver(db->conn, notice_receiver, db);
	res = PQexec(db->conn, "SET synchronous_commit = off");
	if (PQresultStatus(res) != PGRES_COMMAND_OK)
		fatal_result(db, res, "cannot set up the session");
	PQclear(res);
}

/* The project's row, or NULL result with the error in *res_out. */
static PGresult *
project_row(Db *db, const char *project)
{
	const char *params[1] = {project};

	return PQexecParams(db->conn,
						"SELECT p.id, p.task, p.domain FROM cv_project_row($1, 'write') p",
						1, NULL, params, NULL, NULL, 0);
}

void
db_open_project(Db *db, const char *project, const char *create_task, const char *domain)
{
	PGresult   *res = project_row(db, project);
	const char *state = PQresultErrorField(res, PG_DIAG_SQLSTATE);

	if (PQresultStatus(res) != PGRES_TUPLES_OK && state != NULL &&
		strcmp(state, "42883") == 0)
	{
		fprintf(stderr, "pgvision-load: the database \"%s\" has no pgvision (cv_project_row is missing)\n"
				"HINT:  A superuser runs CREATE EXTENSION pgvision in it first.\n",
				PQdb(db->conn));
		exit(2);
	}
	if (PQresultStatus(res) != PGRES_TUPLES_OK && state != NULL &&
		strcmp(state, "42501") == 0)
	{
		/* no pgvision_user reads "permission denied for table cv_projects" */
		fprintf(stderr, "pgvision-load: cannot open project \"%s\": %s\n"
				"HINT:  Loading needs the role pgvision_user (GRANT pgvision_user TO %s;) and write access to the project (its owner's cv_share_project(..., access => 'write')).\n",
				project, PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY), PQuser(db->conn));
		exit(2);
	}
	if (PQresultStatus(res) != PGRES_TUPLES_OK && state != NULL &&
		strcmp(state, "42704") == 0 && create_task != NULL)
	{
		const char *params[3] = {project, create_task, domain};
		PGresult   *made;

		PQclear(res);
		made = PQexecParams(db->conn,
							domain ? "SELECT cv_create_project($1, task => $2, domain => $3)"
							: "SELECT cv_create_project($1, task => $2)",
							domain ? 3 : 2, NULL, params, NULL, NULL, 0);
		if (PQresultStatus(made) != PGRES_TUPLES_OK)
			fatal_result(db, made, xasprintf("cannot create project \"%s\"", project));
		PQclear(made);
		fprintf(stderr, "pgvision-load: created %s project \"%s\"%s%s\n",
				create_task, project, domain ? " on domain " : "", domain ? domain : "");
		res = project_row(db, project);
	}
	else if (PQresultStatus(res) != PGRES_TUPLES_OK && state != NULL &&
			 strcmp(state, "42704") == 0)
	{
		fprintf(stderr, "pgvision-load: project \"%s\" does not exist\n"
				"HINT:  --create multiclass|multilabel|detection makes it (with --domain for detection).\n",
				project);
		exit(2);
	}
	if (PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 1)
		fatal_result(db, res, xasprintf("cannot open project \"%s\"", project));

	db->project = xstrdup(project);
	db->project_id = xstrdup(PQgetvalue(res, 0, 0));
	db->task = xstrdup(PQgetvalue(res, 0, 1));
	if (create_task != NULL && strcmp(create_task, db->task) != 0)
	{
		fprintf(stderr, "pgvision-load: project \"%s\" exists and is a %s project, not %s\n",
				project, db->task, create_task);
		exit(2);
	}
	if (domain != NULL && strcmp(domain, PQgetvalue(res, 0, 2)) != 0)
	{
		fprintf(stderr, "pgvision-load: project \"%s\" exists on domain %s, not %s\n",
				project, PQgetvalue(res, 0, 2), domain);
		exit(2);
	}
	PQclear(res);

	res = PQprepare(db->conn, "add",
					"SELECT cv_add_image($1, $2, ARRAY(SELECT jsonb_array_elements_text($3)), $4)",
					4, (const Oid[]) {TEXTOID, BYTEAOID, JSONBOID, JSONBOID});
	if (PQresultStatus(res) != PGRES_COMMAND_OK)
		fatal_result(db, res, "cannot prepare a statement");
	PQclear(res);
}

/* The sha256 column of the project's images, in binary: 32 bytes each. */
void
db_load_hashes(Db *db, HashSet *known)
{
	const char *params[1] = {db->project_id};
	PGresult   *res;

	res = PQexecParams(db->conn,
					   "SELECT i.sha256 FROM cv_images i WHERE i.project_id = $1::bigint",
					   1, NULL, params, NULL, NULL, 1);
	if (PQresultStatus(res) != PGRES_TUPLES_OK)
		fatal_result(db, res, "cannot read the project's images");
	for (int i = 0; i < PQntuples(res); i++)
		if (PQgetlength(res, i, 0) == SHA256_LEN)
			hashset_add(known, (const uint8_t *) PQgetvalue(res, i, 0));
	PQclear(res);
}

/*
 * Sort a failed statement into "this image is refused" and "the load
 * cannot go on": a lost connection, missing rights, a project that went
 * away, a server shutting down or out of resources.
 */
static DbStatus
classify_error(Db *db, PGresult *res, char **reason)
{
	const char *state = PQresultErrorField(res, PG_DIAG_SQLSTATE);
	const char *msg = PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY);
	const char *detail = PQresultErrorField(res, PG_DIAG_MESSAGE_DETAIL);

	if (PQstatus(db->conn) != CONNECTION_OK || state == NULL || msg == NULL)
	{
		*reason = xasprintf("%s", PQerrorMessage(db->conn));
		return DB_FATAL;
	}
	*reason = detail ? xasprintf("%s. %s (%s)", msg, detail, state)
		: xasprintf("%s (%s)", msg, state);
	if (strncmp(state, "08", 2) == 0 || strncmp(state, "53", 2) == 0 ||
		strncmp(state, "57", 2) == 0 || strncmp(state, "58", 2) == 0 ||
		strncmp(state, "XX", 2) == 0 || strcmp(state, "42501") == 0 ||
		strcmp(state, "42704") == 0 || strcmp(state, "42883") == 0)
		return DB_FATAL;
	return DB_REJECTED;
}

/*
 * Serialization failures, deadlocks and unique violations come from other
 * sessions writing the same project (two loaders making one tag): the
 * statement is all or nothing, so running it again is safe.
 */
static bool
transient(PGresult *res)
{
	const char *state = PQresultErrorField(res, PG_DIAG_SQLSTATE);

	return state != NULL && (strncmp(state, "40", 2) == 0 || strcmp(state, "23505") == 0);
}

/* tags as a JSON array and boxes as cv_add_image's regions (NULL: none) */
static char *
labels_json(const LoadItem *item, const LoadBox *boxes, bool detection, char **regions)
{
	json_object *tags = json_object_new_array();
	char	   *out;

	*regions = NULL;
	if (detection)
	{
		json_object *arr = json_object_new_array();

		for (int i = 0; i < item->nboxes; i++)
		{
			json_object *r = json_object_new_object();

			json_object_object_add(r, "tag", json_object_new_string(boxes[i].tag));
			json_object_object_add(r, "left", json_object_new_double(boxes[i].left));
			json_object_object_add(r, "top", json_object_new_double(boxes[i].top));
			json_object_object_add(r, "width", json_object_new_double(boxes[i].width));
			json_object_object_add(r, "height", json_object_new_double(boxes[i].height));
			json_object_array_add(arr, r);
		}
		*regions = xstrdup(json_object_to_json_string_ext(arr, JSON_C_TO_STRING_PLAIN));
		json_object_put(arr);
	}
	else
		for (int i = 0; i < item->ntags; i++)
			json_object_array_add(tags, json_object_new_string(item->tags[i]));
	out = xstrdup(json_object_to_json_string_ext(tags, JSON_C_TO_STRING_PLAIN));
	json_object_put(tags);
	return out;
}

DbStatus
db_add_image(Db *db, const uint8_t *bytes, size_t len, const LoadItem *item,
			 const LoadBox *boxes, char **reason)
{
	bool		detection = strcmp(db->task, "detection") == 0;
	char	   *regions;
	char	   *tags = labels_json(item, boxes, detection, &regions);
	const char *values[4] = {db->project, (const char *) bytes, tags, regions};
	int			lengths[4] = {0, (int) len, 0, 0};
	int			formats[4] = {0, 1, 0, 0};
	DbStatus	st = DB_OK;

	for (int attempt = 1;; attempt++)
	{
		PGresult   *res;

		db->saw_already = false;
		res = PQexecPrepared(db->conn, "add", 4, values, lengths, formats, 0);
		if (PQresultStatus(res) == PGRES_TUPLES_OK)
			st = db->saw_already ? DB_ALREADY : DB_OK;
		else if (attempt < MAX_TRIES && transient(res))
		{
			PQclear(res);
			continue;
		}
		else
			st = classify_error(db, res, reason);
		PQclear(res);
		break;
	}
	free(tags);
	free(regions);
	return st;
}

void
db_close(Db *db)
{
	PQfinish(db->conn);
	free(db->project);
	free(db->project_id);
	free(db->task);
	memset(db, 0, sizeof(*db));
}
