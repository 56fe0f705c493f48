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
-- function calls); cv_citus_distribute swaps them for tests of per-project
-- roles with the same rules, which Citus takes: the commands it runs,
-- applied here in a transaction, leave no policy with a subquery (expect
-- 41, then 0).
SELECT count(*) > 0 AS subqueries FROM pg_policies
 WHERE tablename IN (SELECT relname FROM pgvision_tables) AND (qual ~* '\mselect\M' OR with_check ~* '\mselect\M');
SELECT count(*) AS policies FROM pg_policies WHERE tablename IN (SELECT relname FROM pgvision_tables);
BEGIN;
DO $$
DECLARE
	c text;
BEGIN
	FOREACH c IN ARRAY cv_citus_policy_commands('regress0') LOOP
		EXECUTE c;
	END LOOP;
END;
$$;
SELECT count(*) AS commands FROM unnest(cv_citus_policy_commands('regress0'));
-- no table read in the project tables' policies; a prefix cv_citus_distribute
-- would not choose gives no commands
SELECT tablename, policyname FROM pg_policies
 WHERE tablename IN (SELECT relname FROM pgvision_tables)
   AND (qual ~ 'cv_can' OR with_check ~ 'cv_can' OR qual ~ 'cv_shared' OR with_check ~ 'cv_shared');
SELECT cv_citus_policy_commands('x''; DROP') IS NULL AS refused;
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

-- The per-project roles of Citus (docs/security.md, "On Citus"), played on
-- a single server in a transaction: the prefix cv_citus_distribute would
-- choose, the policies it would set, and the owner, a read share, a write
-- share and a role without one, as on the shards.
BEGIN;
CREATE ROLE regress_citus_owner IN ROLE pgvision_user;
CREATE ROLE regress_citus_reader IN ROLE pgvision_user;
CREATE ROLE regress_citus_writer IN ROLE pgvision_user;
CREATE ROLE regress_citus_nobody IN ROLE pgvision_user;
INSERT INTO cv_citus_roles (prefix) VALUES ('regress0');
DO $$
DECLARE
	c text;
BEGIN
	FOREACH c IN ARRAY cv_citus_policy_commands('regress0') LOOP
		EXECUTE c;
	END LOOP;
END;
$$;
CREATE TEMP VIEW project_roles AS
SELECT regexp_replace(g.rolname, '_[0-9]+_', '_N_') AS role, regexp_replace(m.rolname, '_[0-9]+_', '_N_') AS member
  FROM pg_auth_members am JOIN pg_roles g ON g.oid = am.roleid JOIN pg_roles m ON m.oid = am.member
 WHERE g.rolname LIKE 'pgv\_regress0\_%' ORDER BY 1, 2;
GRANT SELECT ON project_roles TO PUBLIC;
CREATE TEMP TABLE photos AS
SELECT pg_read_binary_file(:'testdata' || '/images/' || f) AS img FROM unnest(ARRAY['palette.png', 'gray.jpg']) f;
GRANT SELECT ON photos TO PUBLIC;
SET ROLE regress_citus_owner;
SELECT cv_create_project('citus_roles') > 0 AS created;
SELECT count(cv_add_image('citus_roles', img, ARRAY['a'])) AS added FROM photos;
SELECT cv_share_project('citus_roles', 'regress_citus_reader');
SELECT cv_share_project('citus_roles', 'regress_citus_writer', 'write');
SELECT * FROM project_roles;
-- rows seen by each role (images, labels, tags, projects, shares)
CREATE TEMP TABLE seen (who text, images bigint, labels bigint, tags bigint, projects bigint, shares bigint);
GRANT INSERT ON seen TO PUBLIC;
INSERT INTO seen SELECT current_user, (SELECT count(*) FROM cv_images), (SELECT count(*) FROM cv_image_tags),
       (SELECT count(*) FROM cv_tags), (SELECT count(*) FROM cv_projects), (SELECT count(*) FROM cv_project_shares);
SET ROLE regress_citus_reader;
INSERT INTO seen SELECT current_user, (SELECT count(*) FROM cv_images), (SELECT count(*) FROM cv_image_tags),
       (SELECT count(*) FROM cv_tags), (SELECT count(*) FROM cv_projects), (SELECT count(*) FROM cv_project_shares);
SET ROLE regress_citus_writer;
INSERT INTO seen SELECT current_user, (SELECT count(*) FROM cv_images), (SELECT count(*) FROM cv_image_tags),
       (SELECT count(*) FROM cv_tags), (SELECT count(*) FROM cv_projects), (SELECT count(*) FROM cv_project_shares);
SET ROLE regress_citus_nobody;
INSERT INTO seen SELECT current_user, (SELECT count(*) FROM cv_images), (SELECT count(*) FROM cv_image_tags),
       (SELECT count(*) FROM cv_tags), (SELECT count(*) FROM cv_projects), (SELECT count(*) FROM cv_project_shares);
RESET ROLE;
SELECT * FROM seen ORDER BY who;
-- writes: the reader is refused as on a single server (42501), the writer
-- is not, the role without a share is told the project does not exist
\set VERBOSITY terse
SET ROLE regress_citus_reader;
SAVEPOINT s;
SELECT cv_create_tag('citus_roles', 'b');
ROLLBACK TO s;
INSERT INTO cv_tags (project_id, name) SELECT id, 'b' FROM cv_projects;
ROLLBACK TO s;
SET ROLE regress_citus_nobody;
SELECT cv_create_tag('citus_roles', 'b');
ROLLBACK TO s;
SET ROLE regress_citus_writer;
SELECT cv_create_tag('citus_roles', 'b') > 0 AS tag_created;
-- calling the role function directly changes nothing the tables do not say
SET ROLE regress_citus_nobody;
SELECT count(*) AS synced FROM (SELECT cv_sync_project_roles(p.id) FROM cv_projects p WHERE p.name = 'citus_roles'
                                 UNION ALL SELECT cv_sync_project_roles(-1)) s;
RESET ROLE;
SELECT count(*) AS synced FROM (SELECT cv_sync_project_roles(p.id) FROM cv_projects p WHERE p.name = 'citus_roles') s;
SET ROLE regress_citus_nobody;
SELECT * FROM project_roles;
-- a share with a project role is refused; unsharing, a shared role
-- dropped, and deleting the project
SET ROLE regress_citus_owner;
SAVEPOINT s;
\set VERBOSITY sqlstate
SELECT cv_share_project('citus_roles', (SELECT rolname FROM pg_roles WHERE rolname LIKE 'pgv\_regress0\_%\_r')::regrole);
\set VERBOSITY terse
ROLLBACK TO s;
SELECT cv_unshare_project('citus_roles', 'regress_citus_writer');
RESET ROLE;
DROP ROLE regress_citus_reader;
SELECT * FROM project_roles;
SET ROLE regress_citus_writer;
SELECT count(*) AS writer_images FROM cv_images;
SET ROLE regress_citus_owner;
SELECT cv_delete_project('citus_roles');
SELECT count(*) AS project_roles_left FROM pg_roles WHERE rolname LIKE 'pgv\_regress0\_%';
\set VERBOSITY default
ROLLBACK;

-- Without Citus
SELECT cv_citus_distribute();
SET ROLE pgvision_user;
SELECT cv_citus_distribute();
RESET ROLE;
-- cv_citus_sync_nodes (for nodes added after cv_citus_distribute) needs Citus
-- too
SELECT cv_citus_sync_nodes();
SET ROLE pgvision_user;
SELECT cv_citus_sync_nodes();
RESET ROLE;
