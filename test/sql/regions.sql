-- Regions of detection projects: normalized boxes inside the unit square,
-- tags of the image's own project, and every bad argument.
\getenv testdata PGVISION_TESTDATA
\getenv shared PGVISION_SHARED
\set helpers :testdata '/../psql/setup.psql'
\i :helpers
\set fork :shared '/datasets/azure-forkscissors-od/images/fork_10.jpg'
\set scissors :shared '/datasets/azure-forkscissors-od/images/scissors_10.jpg'

SELECT cv_create_project('cutlery', task => 'detection') > 0 AS created;
SELECT cv_create_tag('cutlery', 'fork') > 0 AS created;
SELECT cv_create_tag('cutlery', 'scissors') > 0 AS created;
SELECT cv_add_image('cutlery', pg_read_binary_file(:'fork')) AS fork_img \gset
SELECT cv_add_image('cutlery', pg_read_binary_file(:'scissors')) AS scissors_img \gset
SELECT cv_add_region(:fork_img, 'fork', 0.052696, 0.282304, 0.808824, 0.452614) AS r1 \gset
SELECT cv_add_region(:fork_img, 'fork', 0, 0, 1, 1) > :r1 AS whole_image;
-- A box touching the edges within float rounding is inside.
SELECT cv_add_region(:scissors_img, 'scissors', 0.7, 0.9, 0.3, 0.1) > :r1 AS edge_box;
SELECT project, tag, region_image_count, region_count FROM cv_tag_counts ORDER BY tag;
SELECT count(*) AS untagged FROM cv_untagged_images WHERE project = 'cutlery';

-- Out of range, degenerate and non-numeric coordinates.
SELECT l, t, w, h, pg_temp.expect_error(format('SELECT cv_add_region(%s, %L, %s, %s, %s, %s)',
                                               :fork_img, 'fork', l, t, w, h)) AS error
  FROM (VALUES (-0.1, 0.1, 0.2, 0.2), (0.1, -0.1, 0.2, 0.2), (0.9, 0.1, 0.2, 0.2),
               (0.1, 0.9, 0.2, 0.2), (0.1, 0.1, 0, 0.2), (0.1, 0.1, 0.2, -0.2),
               (1.5, 0.1, 0.2, 0.2)) AS v(l, t, w, h);
SELECT pg_temp.expect_error(format('SELECT cv_add_region(%s, %L, %L, 0.1, 0.2, 0.2)', :fork_img, 'fork', 'NaN'));
SELECT pg_temp.expect_error(format('SELECT cv_add_region(%s, %L, %L, 0.1, 0.2, 0.2)', :fork_img, 'fork', 'Infinity'));
SELECT pg_temp.expect_error(format('SELECT cv_add_region(%s, %L, NULL, 0.1, 0.2, 0.2)', :fork_img, 'fork'));
SELECT pg_temp.expect_error(format('SELECT cv_add_region(%s, %L, 0.1, 0.1, 0.2, 0.2)', :fork_img, 'spoon'));
SELECT pg_temp.expect_error($$SELECT cv_add_region(-5, 'fork', 0.1, 0.1, 0.2, 0.2)$$);
-- Direct inserts hit the CHECK constraint and the same-project foreign key.
SELECT pg_temp.expect_error(format(
  'INSERT INTO cv_regions (image_id, tag_id, project_id, "left", top, width, height) SELECT %s, id, project_id, 0.5, 0.5, 0.6, 0.1 FROM cv_tags WHERE name = %L',
  :fork_img, 'fork'));
SELECT cv_create_project('other', task => 'detection') > 0 AS created;
SELECT cv_create_tag('other', 'knife') > 0 AS created;
SELECT pg_temp.expect_error(format(
  'INSERT INTO cv_regions (image_id, tag_id, project_id, "left", top, width, height) SELECT i.id, t.id, i.project_id, 0.1, 0.1, 0.1, 0.1 FROM cv_images i, cv_tags t WHERE i.id = %s AND t.name = %L',
  :fork_img, 'knife'));
-- Detection images take boxes, not tags.
SELECT pg_temp.expect_error(format('SELECT cv_add_image(%L, %L::bytea, %L)', 'cutlery', pg_read_binary_file(:'fork'), '{fork}'));
SELECT pg_temp.expect_error(format('SELECT cv_tag_image(%s, %L)', :fork_img, '{fork}'));

SELECT cv_delete_region(:r1);
SELECT pg_temp.expect_error(format('SELECT cv_delete_region(%s)', :r1));
-- Deleting a tag removes its boxes.
SELECT cv_delete_tag('cutlery', 'scissors');
SELECT count(*) AS regions FROM cv_regions r JOIN cv_projects p ON p.id = r.project_id WHERE p.name = 'cutlery';

-- Leave the database as we found it for the next test file.
SELECT count(cv_delete_project(name)) AS projects_deleted FROM cv_projects;
