-- Projects and tags: creation, defaults, deletion, and every bad argument.
\getenv testdata PGVISION_TESTDATA
\getenv shared PGVISION_SHARED
\set helpers :testdata '/../psql/setup.psql'
\i :helpers
\set models :shared '/models/'

-- Detection needs a backbone domain: compact's features have no spatial
-- maps to place boxes on.  The hint says how to get one, then names them.
SELECT pg_temp.expect_error($$SELECT cv_create_project('cutlery', task => 'detection')$$);
SELECT cv_import_backbone('mobilenet_v2', pg_read_binary_file(:'models' || 'mobilenet_v2_1.0_224_quant.tflite'));
SELECT pg_temp.expect_error($$SELECT cv_create_project('cutlery', task => 'detection', domain => 'compact')$$);
SELECT cv_create_project('fruit') > 0 AS created;
SELECT cv_create_project('cutlery', task => 'detection', domain => 'mobilenet_v2') > 0 AS created;
SELECT cv_create_project('labels', 'multilabel', 'compact') > 0 AS created;
SELECT name, task, domain FROM cv_projects ORDER BY name;
SELECT name, kind FROM cv_domains ORDER BY name;

SELECT cv_create_tag('fruit', 'apple') > 0 AS created;
SELECT cv_create_tag('fruit', 'banana') > 0 AS created;
SELECT cv_create_tag('fruit', 'nothing', negative => true) > 0 AS created;
-- The same tag name may live in another project.
SELECT cv_create_tag('labels', 'apple') > 0 AS created;
SELECT project, tag, negative, image_count FROM cv_tag_counts ORDER BY project, tag;

-- Bad arguments.
SELECT pg_temp.expect_error($$SELECT cv_create_project('fruit')$$);
SELECT pg_temp.expect_error($$SELECT cv_create_project('x', task => 'segmentation')$$);
SELECT pg_temp.expect_error($$SELECT cv_create_project('x', task => NULL)$$);
SELECT pg_temp.expect_error($$SELECT cv_create_project('x', domain => 'nosuch')$$);
SELECT pg_temp.expect_error($$SELECT cv_create_project('')$$);
SELECT pg_temp.expect_error($$SELECT cv_create_project(' padded ')$$);
SELECT pg_temp.expect_error($$SELECT cv_create_project(NULL)$$);
SELECT pg_temp.expect_error($$SELECT cv_create_project(repeat('x', 129))$$);
SELECT pg_temp.expect_error($$SELECT cv_create_tag('nosuch', 'apple')$$);
SELECT pg_temp.expect_error($$SELECT cv_create_tag(NULL, 'apple')$$);
SELECT pg_temp.expect_error($$SELECT cv_create_tag('fruit', 'apple')$$);
SELECT pg_temp.expect_error($$SELECT cv_create_tag('fruit', '')$$);
SELECT pg_temp.expect_error($$SELECT cv_create_tag('fruit', NULL)$$);
SELECT pg_temp.expect_error($$SELECT cv_create_tag('fruit', 'none2', negative => true)$$);
SELECT pg_temp.expect_error($$SELECT cv_create_tag('fruit', 'x', negative => NULL)$$);
SELECT pg_temp.expect_error($$SELECT cv_create_tag('cutlery', 'background', negative => true)$$);
SELECT pg_temp.expect_error($$SELECT cv_delete_tag('fruit', 'nosuch')$$);
SELECT pg_temp.expect_error($$SELECT cv_delete_project('nosuch')$$);
-- Direct writes obey the same constraints.
SELECT pg_temp.expect_error($$INSERT INTO cv_projects (name, task) VALUES ('y', 'other')$$);
SELECT pg_temp.expect_error($$INSERT INTO cv_projects (name, domain) VALUES ('y', 'nosuch')$$);
SELECT pg_temp.expect_error($$UPDATE cv_projects SET task = 'detection' WHERE name = 'fruit'$$);
SELECT pg_temp.expect_error($$INSERT INTO cv_projects (name, task) VALUES ('y', 'detection')$$);
SELECT pg_temp.expect_error($$UPDATE cv_projects SET domain = 'compact' WHERE name = 'cutlery'$$);

-- A project without tags may still change its task.
SELECT cv_create_project('empty') > 0 AS created;
UPDATE cv_projects SET task = 'multilabel' WHERE name = 'empty';
SELECT task FROM cv_projects WHERE name = 'empty';
-- but not to detection on compact; with a backbone domain it may.
SELECT pg_temp.expect_error($$UPDATE cv_projects SET task = 'detection' WHERE name = 'empty'$$);
UPDATE cv_projects SET task = 'detection', domain = 'mobilenet_v2' WHERE name = 'empty';
SELECT task, domain FROM cv_projects WHERE name = 'empty';

SELECT cv_delete_tag('fruit', 'banana');
SELECT cv_delete_project('labels');
SELECT cv_delete_project('empty');
SELECT p.name, array_agg(t.name ORDER BY t.name) FROM cv_projects p LEFT JOIN cv_tags t ON t.project_id = p.id
 GROUP BY p.name ORDER BY p.name;
SELECT count(*) AS orphan_tags FROM cv_tags WHERE project_id NOT IN (SELECT id FROM cv_projects);

-- Leave the database as we found it for the next test file.
SELECT count(cv_delete_project(name)) AS projects_deleted FROM cv_projects;
SELECT cv_drop_backbone('mobilenet_v2');
