-- Images and labels: adding, duplicates, the hosted services' labelling
-- rules, untag/retag/delete, the views, and atomicity on errors.
\getenv testdata PGVISION_TESTDATA
\getenv shared PGVISION_SHARED
\set helpers :testdata '/../psql/setup.psql'
\i :helpers
\set fruit :shared '/datasets/mslearn-fruit-cls/images/'

SELECT cv_create_project('fruit') AS fruit_id \gset
-- The failed multiclass add below must not leave this image behind.
SELECT cv_create_tag('fruit', 'none', negative => true) > 0 AS created;
CREATE TEMP TABLE photos AS
SELECT f AS file, pg_read_binary_file(:'fruit' || f) AS bytes
  FROM unnest(ARRAY['apple/IMG_20200229_164759.jpg', 'apple/IMG_20200229_164760.jpg',
                    'banana/IMG_20200229_164947.jpg', 'orange/IMG_20200229_165108.jpg',
                    'orange/IMG_20200229_165112.jpg']) AS f;

-- Tags that do not exist yet are created.
SELECT cv_add_image('fruit', bytes, tags => '{apple}') AS apple1 FROM photos WHERE file LIKE 'apple/%759.jpg' \gset
SELECT cv_add_image('fruit', bytes, '{apple}') AS apple2 FROM photos WHERE file LIKE 'apple/%760.jpg' \gset
SELECT cv_add_image('fruit', bytes) AS banana1 FROM photos WHERE file LIKE 'banana/%' \gset
SELECT cv_add_image('fruit', bytes, '{orange}') AS orange1 FROM photos WHERE file LIKE 'orange/%108.jpg' \gset
SELECT :apple1 < :apple2 AND :apple2 < :banana1 AS ids_increase;
SELECT i.id = :apple1 AS is_apple1, i.width, i.height, i.format, length(i.sha256) AS hash_bytes,
       i.sha256 = sha256(p.bytes) AS hash_matches, i.byte_size = length(p.bytes) AS size_matches
  FROM cv_images i JOIN photos p ON p.bytes = i.image::bytea WHERE i.id = :apple1;
SELECT project, tag, negative, image_count FROM cv_tag_counts WHERE project = 'fruit' ORDER BY tag;
SELECT project, image_id = :banana1 AS is_banana1 FROM cv_untagged_images;

-- The same bytes again: the existing id, a NOTICE, no second row.
SELECT cv_add_image('fruit', bytes, '{orange}') = :apple1 AS same_id FROM photos WHERE file LIKE 'apple/%759.jpg';
SELECT count(*) AS images FROM cv_images WHERE project_id = :fruit_id;
-- ... but the same bytes may live in another project.
SELECT cv_create_project('other') > 0 AS created;
SELECT cv_add_image('other', bytes) <> :apple1 AS new_id FROM photos WHERE file LIKE 'apple/%759.jpg';

-- Tagging rules.
SELECT cv_tag_image(:banana1, '{banana}');
SELECT pg_temp.expect_error(format('SELECT cv_tag_image(%s, %L)', :apple1, '{banana}'));
SELECT pg_temp.expect_error(format('SELECT cv_tag_image(%s, %L)', :apple1, '{none}'));
SELECT pg_temp.expect_error(format('SELECT cv_add_image(%L, %L::bytea, %L)', 'fruit',
       (SELECT bytes FROM photos WHERE file LIKE 'orange/%112.jpg'), '{apple,orange}'));
SELECT cv_retag_image(:orange1, '{none}');
SELECT cv_retag_image(:orange1, '{orange}');
SELECT cv_untag_image(:apple2, '{apple}');
SELECT pg_temp.expect_error(format('SELECT cv_untag_image(%s, %L)', :apple2, '{apple}'));
SELECT cv_tag_image(:apple2, '{apple}');
-- Direct inserts obey the rules too, and cannot cross projects.
SELECT pg_temp.expect_error(format(
  'INSERT INTO cv_image_tags (image_id, tag_id, project_id) SELECT %s, id, project_id FROM cv_tags WHERE project_id = %s AND name = %L',
  :apple1, :fruit_id, 'banana'));
SELECT cv_create_tag('other', 'pear') > 0 AS created;
SELECT pg_temp.expect_error(format(
  'INSERT INTO cv_image_tags (image_id, tag_id, project_id) SELECT %s, id, %s FROM cv_tags WHERE project_id <> %s AND name = ''pear''',
  :apple1, :fruit_id, :fruit_id));

-- Multilabel: several tags per image, but the negative tag stays alone.
SELECT cv_create_project('mixed', task => 'multilabel') > 0 AS created;
SELECT cv_create_tag('mixed', 'empty', negative => true) > 0 AS created;
SELECT cv_add_image('mixed', bytes, '{apple,banana}') AS mixed1 FROM photos WHERE file LIKE 'banana/%' \gset
SELECT array_agg(t.name ORDER BY t.name) FROM cv_image_tags it JOIN cv_tags t ON t.id = it.tag_id WHERE it.image_id = :mixed1;
SELECT pg_temp.expect_error(format('SELECT cv_tag_image(%s, %L)', :mixed1, '{empty}'));
SELECT pg_temp.expect_error(format('SELECT cv_add_image(%L, %L::bytea, %L)', 'mixed',
       (SELECT bytes FROM photos WHERE file LIKE 'orange/%108.jpg'), '{orange,empty}'));
-- An image with the negative tag takes no other.
SELECT cv_add_image('mixed', bytes, '{empty}') AS mixed2 FROM photos WHERE file LIKE 'apple/%759.jpg' \gset
SELECT pg_temp.expect_error(format('SELECT cv_tag_image(%s, %L)', :mixed2, '{apple}'));
-- Nothing of the failed call was written: no image, no new tag.
SELECT count(*) AS images FROM cv_images i JOIN cv_projects p ON p.id = i.project_id WHERE p.name = 'mixed';
SELECT count(*) AS images FROM cv_images i JOIN cv_projects p ON p.id = i.project_id WHERE p.name = 'fruit';
SELECT count(*) AS orange_tags FROM cv_tags t JOIN cv_projects p ON p.id = t.project_id
 WHERE p.name = 'mixed' AND t.name = 'orange';

-- Bad arguments.
SELECT pg_temp.expect_error($$SELECT cv_add_image('nosuch', '\xffd8'::bytea)$$);
SELECT pg_temp.expect_error($$SELECT cv_add_image('fruit', NULL)$$);
SELECT pg_temp.expect_error($$SELECT cv_add_image('fruit', '\x0102030405'::bytea)$$);
SELECT pg_temp.expect_error(format('SELECT cv_add_image(%L, %L::bytea, %L)', 'fruit',
       (SELECT bytes FROM photos WHERE file LIKE 'orange/%112.jpg'), '{"  padded"}'));
SELECT pg_temp.expect_error(format('SELECT cv_add_image(%L, %L::bytea, %L)', 'fruit',
       (SELECT bytes FROM photos WHERE file LIKE 'orange/%112.jpg'), '{NULL}'));
SELECT pg_temp.expect_error($$SELECT cv_tag_image(-1, '{apple}')$$);
SELECT pg_temp.expect_error($$SELECT cv_delete_image(-1)$$);
SELECT pg_temp.expect_error($$SELECT cv_delete_image(NULL)$$);
SELECT pg_temp.expect_error(format('SELECT cv_add_region(%s, %L, 0.1, 0.1, 0.2, 0.2)', :apple1, 'apple'));

-- Deleting an image removes its labels; deleting a project removes everything.
SELECT cv_delete_image(:apple2);
SELECT count(*) AS labels_of_deleted FROM cv_image_tags WHERE image_id = :apple2;
SELECT cv_delete_project('fruit');
SELECT (SELECT count(*) FROM cv_images WHERE project_id = :fruit_id) AS images,
       (SELECT count(*) FROM cv_tags WHERE project_id = :fruit_id) AS tags,
       (SELECT count(*) FROM cv_image_tags WHERE project_id = :fruit_id) AS labels;

-- Leave the database as we found it for the next test file.
SELECT count(cv_delete_project(name)) AS projects_deleted FROM cv_projects;
