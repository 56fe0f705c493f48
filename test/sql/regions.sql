-- Regions of detection projects: normalized boxes inside the unit square,
-- tags of the image's own project, and every bad argument.
\getenv testdata PGVISION_TESTDATA
\getenv shared PGVISION_SHARED
\set helpers :testdata '/../psql/setup.psql'
\i :helpers
\set fork :shared '/datasets/azure-forkscissors-od/images/fork_10.jpg'
\set scissors :shared '/datasets/azure-forkscissors-od/images/scissors_10.jpg'
\set models :shared '/models/'
\set tiny24 :testdata '/images/tiny24.bmp'

-- Detection runs on a backbone's spatial feature maps (compact has none).
SELECT cv_import_backbone('mobilenet_v2', pg_read_binary_file(:'models' || 'mobilenet_v2_1.0_224_quant.tflite'));
SELECT cv_create_project('cutlery', task => 'detection', domain => 'mobilenet_v2') > 0 AS created;
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
SELECT pg_temp.expect_error($$SELECT cv_add_region(-5, 'fork', 0.1, 0.1, 0.2, 0.2)$$);
SELECT pg_temp.expect_error($$SELECT cv_add_region(NULL, 'fork', 0.1, 0.1, 0.2, 0.2)$$);

-- A tag the project lacks is created, as cv_add_image(..., tags => ...)
-- does for classification; bad names are refused.
SELECT cv_add_region(:fork_img, 'spoon', 0.1, 0.1, 0.2, 0.2) > :r1 AS spoon_box;
SELECT tag, negative, region_image_count, region_count FROM cv_tag_counts WHERE project = 'cutlery' ORDER BY tag;
SELECT pg_temp.expect_error(format('SELECT cv_add_region(%s, NULL, 0.1, 0.1, 0.2, 0.2)', :fork_img));
SELECT pg_temp.expect_error(format('SELECT cv_add_region(%s, %L, 0.1, 0.1, 0.2, 0.2)', :fork_img, ' padded'));
SELECT pg_temp.expect_error(format('SELECT cv_add_region(%s, %L, 0.1, 0.1, 0.2, 0.2)', :fork_img, ''));
-- A bad box does not create its tag.
SELECT pg_temp.expect_error(format('SELECT cv_add_region(%s, %L, 0.9, 0.1, 0.2, 0.2)', :fork_img, 'knife'));
SELECT count(*) AS knife_tags FROM cv_tags WHERE name = 'knife';
-- Direct inserts hit the CHECK constraint and the same-project foreign key.
SELECT pg_temp.expect_error(format(
  'INSERT INTO cv_regions (image_id, tag_id, project_id, "left", top, width, height) SELECT %s, id, project_id, 0.5, 0.5, 0.6, 0.1 FROM cv_tags WHERE name = %L',
  :fork_img, 'fork'));
SELECT cv_create_project('other', task => 'detection', domain => 'mobilenet_v2') > 0 AS created;
SELECT cv_create_tag('other', 'knife') > 0 AS created;
SELECT pg_temp.expect_error(format(
  'INSERT INTO cv_regions (image_id, tag_id, project_id, "left", top, width, height) SELECT i.id, t.id, i.project_id, 0.1, 0.1, 0.1, 0.1 FROM cv_images i, cv_tags t WHERE i.id = %s AND t.name = %L',
  :fork_img, 'knife'));
-- Detection images take boxes, not tags.
SELECT pg_temp.expect_error(format('SELECT cv_add_image(%L, %L::bytea, %L)', 'cutlery', pg_read_binary_file(:'fork'), '{fork}'));
SELECT pg_temp.expect_error(format('SELECT cv_tag_image(%s, %L)', :fork_img, '{fork}'));
-- Regions belong to detection projects, and the tag is not created there.
SELECT cv_create_project('fruit') > 0 AS created;
SELECT cv_add_image('fruit', pg_read_binary_file(:'tiny24'), tags => '{apple}') AS apple_img \gset
SELECT pg_temp.expect_error(format('SELECT cv_add_region(%s, %L, 0.1, 0.1, 0.2, 0.2)', :apple_img, 'apple'));
SELECT pg_temp.expect_error(format('SELECT cv_add_region(%s, %L, 0.1, 0.1, 0.2, 0.2)', :apple_img, 'pear'));
SELECT pg_temp.expect_error(format(
  'INSERT INTO cv_regions (image_id, tag_id, project_id, "left", top, width, height) SELECT i.id, t.id, i.project_id, 0.1, 0.1, 0.1, 0.1 FROM cv_images i, cv_tags t WHERE i.id = %s AND t.name = %L',
  :apple_img, 'apple'));
SELECT t.name FROM cv_tags t JOIN cv_projects p ON p.id = t.project_id WHERE p.name = 'fruit' ORDER BY t.name;

-- pgvision.max_regions_per_image caps the boxes of an image for every
-- writer (superuser setting, 1..10000, default 300).
SHOW pgvision.max_regions_per_image;
SET pgvision.max_regions_per_image = 3;
SELECT count(*) AS scissors_regions FROM cv_regions WHERE image_id = :scissors_img;
SELECT cv_add_region(:scissors_img, 'scissors', 0.1, 0.1, 0.2, 0.2) > 0 AS second,
       cv_add_region(:scissors_img, 'scissors', 0.2, 0.2, 0.2, 0.2) > 0 AS third;
SELECT pg_temp.expect_error(format('SELECT cv_add_region(%s, %L, 0.3, 0.3, 0.2, 0.2)', :scissors_img, 'scissors'));
SELECT pg_temp.expect_error(format(
  'INSERT INTO cv_regions (image_id, tag_id, project_id, "left", top, width, height) SELECT %s, id, project_id, 0.5, 0.5, 0.1, 0.1 FROM cv_tags WHERE name = %L',
  :scissors_img, 'scissors'));
-- One INSERT of several rows counts the rows it has already written.
SELECT cv_add_image('cutlery', pg_read_binary_file(:'tiny24')) AS empty_img \gset
SELECT pg_temp.expect_error(format(
  'INSERT INTO cv_regions (image_id, tag_id, project_id, "left", top, width, height) SELECT %s, t.id, t.project_id, 0.1 * n, 0.1, 0.1, 0.1 FROM cv_tags t, generate_series(1, 5) n WHERE t.name = %L',
  :empty_img, 'scissors'));
SELECT count(*) AS empty_img_regions FROM cv_regions WHERE image_id = :empty_img;
-- Moving a box onto a full image counts; resizing one on it does not.
SELECT pg_temp.expect_error(format('UPDATE cv_regions SET image_id = %s WHERE image_id = %s', :scissors_img, :fork_img));
UPDATE cv_regions SET width = 0.1 WHERE image_id = :scissors_img;
SET pgvision.max_regions_per_image = 2;
UPDATE cv_regions SET height = 0.1 WHERE image_id = :scissors_img;
SELECT count(*) AS scissors_regions, max(width) AS width, max(height) AS height FROM cv_regions WHERE image_id = :scissors_img;
RESET pgvision.max_regions_per_image;
SELECT cv_add_region(:scissors_img, 'scissors', 0.3, 0.3, 0.2, 0.2) > 0 AS fourth;
SELECT pg_temp.expect_error($$SET pgvision.max_regions_per_image = 0$$);
SELECT pg_temp.expect_error($$SET pgvision.max_regions_per_image = 10001$$);
-- Only a superuser lifts the cap; pgvision.nms_overlap is anyone's.
CREATE ROLE regress_cv_user;
SET ROLE regress_cv_user;
SELECT pg_temp.expect_error($$SET pgvision.max_regions_per_image = 10000$$);
SET pgvision.nms_overlap = 0.3;
SHOW pgvision.nms_overlap;
RESET ROLE;
DROP ROLE regress_cv_user;
RESET pgvision.nms_overlap;
SHOW pgvision.nms_overlap;
SELECT pg_temp.expect_error($$SET pgvision.nms_overlap = 1.5$$);
SELECT pg_temp.expect_error($$SET pgvision.nms_overlap = -0.1$$);
SET pgvision.nms_overlap = 0;
SET pgvision.nms_overlap = 1;
RESET pgvision.nms_overlap;

SELECT cv_delete_region(:r1);
SELECT pg_temp.expect_error(format('SELECT cv_delete_region(%s)', :r1));
-- Deleting a tag removes its boxes.
SELECT cv_delete_tag('cutlery', 'scissors');
SELECT count(*) AS regions FROM cv_regions r JOIN cv_projects p ON p.id = r.project_id WHERE p.name = 'cutlery';

-- Training needs at least 1 tag and 15 images with boxes of each tag.
SELECT cv_create_project('shapes', task => 'detection', domain => 'mobilenet_v2') > 0 AS created;
SELECT pg_temp.expect_error($$SELECT cv_train('shapes')$$);
-- 40 distinct small images: one pixel byte differs.
CREATE TEMP TABLE shots AS
SELECT n, set_byte(pg_read_binary_file(:'tiny24'), 100, n) AS bytes FROM generate_series(1, 40) n;
SELECT count(cv_add_image('shapes', bytes)) AS negatives FROM shots WHERE n > 32;
SELECT pg_temp.expect_error($$SELECT cv_train('shapes')$$);
SELECT count(cv_add_image('shapes', bytes, regions => jsonb_build_array(
         jsonb_build_object('tag', 'box', 'left', 0.1, 'top', 0.1, 'width', 0.3, 'height', 0.3))))
       AS box_images FROM shots WHERE n <= 16;
-- An image counts once per tag however many boxes of it it has.
SELECT count(cv_add_image('shapes', bytes, regions => jsonb_build_array(
         jsonb_build_object('tag', 'ring', 'left', 0.5, 'top', 0.5, 'width', 0.2, 'height', 0.2),
         jsonb_build_object('tag', 'ring', 'left', 0.1, 'top', 0.5, 'width', 0.2, 'height', 0.2))))
       AS ring_images FROM shots WHERE n BETWEEN 17 AND 30;
SELECT tag, region_image_count, region_count FROM cv_tag_counts WHERE project = 'shapes' ORDER BY tag;
SELECT pg_temp.expect_error($$SELECT cv_train('shapes')$$);
SELECT cv_add_region(cv_add_image('shapes', bytes), 'ring', 0.5, 0.5, 0.2, 0.2) > 0 AS fifteenth FROM shots WHERE n = 31;
-- A tag without boxes stops training, as an unused tag does in classification.
SELECT cv_create_tag('shapes', 'star') > 0 AS created;
SELECT pg_temp.expect_error($$SELECT cv_train('shapes')$$);
SELECT cv_delete_tag('shapes', 'star');
-- Ready: images without boxes are negative examples, not an error.
SELECT cv_check_trainable(p) FROM cv_projects p WHERE p.name = 'shapes';
DELETE FROM cv_images i USING cv_projects p
 WHERE p.id = i.project_id AND p.name = 'shapes' AND NOT EXISTS (SELECT 1 FROM cv_regions r WHERE r.image_id = i.id);
SELECT cv_check_trainable(p) FROM cv_projects p WHERE p.name = 'shapes';
-- Nothing was queued by the refused trainings.
SELECT count(*) AS iterations FROM cv_iterations WHERE project = 'shapes';

-- Leave the database as we found it for the next test file.
SELECT count(cv_delete_project(name)) AS projects_deleted FROM cv_projects;
SELECT cv_drop_backbone('mobilenet_v2');
