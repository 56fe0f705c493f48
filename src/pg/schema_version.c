/*
 * schema_version.c
 *	  What the installed schema has.  One library serves every database of
 *	  the server, and a database keeps the schema of the version it was
 *	  installed or updated to (docs/upgrades.md): until ALTER EXTENSION
 *	  pgvision UPDATE runs there, the library must write the older tables.
 */
#include "pgvision.h"

#include "catalog/namespace.h"
#include "utils/lsyscache.h"

/*
 * Whether cv_features has project_id (0.2.0: every key of the per-project
 * tables includes it, docs/scale-out.md).  Looked up through the search
 * path, as the queries that write the table name it; two syscache lookups.
 */
bool
FeaturesHaveProjectId(void)
{
	Oid			relid = RelnameGetRelid("cv_features");

	return OidIsValid(relid) && get_attnum(relid, "project_id") != InvalidAttrNumber;
}

/*
 * Whether the iterations' child rows (cv_iteration_tags,
 * cv_heldout_predictions, cv_heldout_regions) carry their project (0.2.0:
 * on Citus their policies test the project's roles by it, docs/security.md).
 * The three gained it in the same upgrade; one is asked.
 */
bool
IterationRowsHaveProjectId(void)
{
	Oid			relid = RelnameGetRelid("cv_heldout_predictions");

	return OidIsValid(relid) && get_attnum(relid, "project_id") != InvalidAttrNumber;
}
