-- The schema Citus can take (docs/scale-out.md, section 5), checked on a
-- single server, where nothing of Citus is needed: the keys of the
-- per-project tables include project_id, their foreign keys to each other
-- carry it, the policies' rules have a form without subqueries, and
-- cv_citus_distribute says what it needs.
\getenv testdata PGVISION_TESTDATA
CREATE TEMP VIEW pgvision_tables AS
SELECT c.oid, c.relname FROM pg_class c JOIN pg_depend d ON d.objid = c.oid AND d.classid = 'pg_class'::regclass
 WHERE d.refobjid = (SELECT oid FROM pg_extension WHERE extname = 'pgvision') AND d.deptype = 'e' AND c.relkind = 'r';

-- Every primary key and unique index of the tables Citus distributes by
-- project: none without project_id (expect no rows).
SELECT t.relname, pg_get_indexdef(i.indexrelid)
  FROM pg_index i JOIN pgvision_tables t ON t.oid = i.indrelid
 WHERE i.indisunique
   AND t.relname IN ('cv_images', 'cv_image_tags', 'cv_regions', 'cv_features', 'cv_prediction_store')
   AND NOT EXISTS (SELECT 1 FROM pg_attribute a
                    WHERE a.attrelid = t.oid AND a.attname = 'project_id' AND a.attnum = ANY (i.indkey));
-- Their keys, to see them
SELECT t.relname, pg_get_constraintdef(c.oid)
  FROM pg_constraint c JOIN pgvision_tables t ON t.oid = c.conrelid
 WHERE c.contype IN ('p', 'f')
   AND t.relname IN ('cv_images', 'cv_image_tags', 'cv_regions', 'cv_features', 'cv_prediction_store')
 ORDER BY 1, 2;

-- The policies hold subqueries here (the planner runs them far faster than
-- function calls); cv_citus_distribute swaps them for function calls with
-- the same rules, which Citus takes: the commands it runs, applied here in
-- a transaction, leave no policy with a subquery (expect 41, then 0).
SELECT count(*) > 0 AS subqueries FROM pg_policies
 WHERE tablename IN (SELECT relname FROM pgvision_tables) AND (qual ~* '\mselect\M' OR with_check ~* '\mselect\M');
SELECT count(*) AS policies FROM pg_policies WHERE tablename IN (SELECT relname FROM pgvision_tables);
BEGIN;
DO $$
DECLARE
	c text;
BEGIN
	FOREACH c IN ARRAY cv_citus_policy_commands() LOOP
		EXECUTE c;
	END LOOP;
END;
$$;
SELECT count(*) AS commands FROM unnest(cv_citus_policy_commands());
SELECT tablename, policyname, qual, with_check FROM pg_policies
 WHERE tablename IN (SELECT relname FROM pgvision_tables)
   AND (qual ~* '\mselect\M' OR with_check ~* '\mselect\M');
ROLLBACK;

-- cv_features carries its image's project (a row naming another fails).
SELECT cv_create_project('citus_schema') > 0 AS created;
SELECT cv_add_image('citus_schema', pg_read_binary_file(:'testdata' || '/images/palette.png')) IS NOT NULL AS added;
\set VERBOSITY terse
INSERT INTO cv_features (image_id, domain, extractor_version, views, dim, features, project_id)
SELECT i.id, 'compact', 1, 1, 1, '\x00000000', i.project_id + 1000 FROM cv_images i JOIN cv_projects p ON p.id = i.project_id
 WHERE p.name = 'citus_schema';
\set VERBOSITY default
SELECT cv_delete_project('citus_schema');

-- Without Citus
SELECT cv_citus_distribute();
SET ROLE pgvision_user;
SELECT cv_citus_distribute();
RESET ROLE;
