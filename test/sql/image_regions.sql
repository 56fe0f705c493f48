-- cv_add_image(..., regions => jsonb): an image of a detection project with
-- its boxes in one call, all or nothing, and every malformed argument.
\getenv testdata PGVISION_TESTDATA
\getenv shared PGVISION_SHARED
\set helpers :testdata '/../psql/setup.psql'
\i :helpers
\set models :shared '/models/'
\set fork :shared '/datasets/azure-forkscissors-od/images/fork_10.jpg'
\set images :testdata '/images/'

SELECT cv_import_backbone('mobilenet_v2', pg_read_binary_file(:'models' || 'mobilenet_v2_1.0_224_quant.tflite'));
SELECT cv_create_project('cutlery', task => 'detection', domain => 'mobilenet_v2') > 0 AS created;
SELECT cv_create_tag('cutlery', 'fork') > 0 AS created;
-- One function: the regions argument is a new last parameter.
SELECT p.oid::regprocedure AS function, pg_get_function_arguments(p.oid) AS arguments
  FROM pg_proc p WHERE p.proname = 'cv_add_image';

-- The image and its boxes in one call, in the order given; a missing tag
-- is created.
SELECT cv_add_image('cutlery', pg_read_binary_file(:'fork'), regions => $$[
  {"tag": "fork", "left": 0.052696, "top": 0.282304, "width": 0.808824, "height": 0.452614},
  {"tag": "knife", "left": 0, "top": 0, "width": 1, "height": 1},
  {"height": 0.1, "width": 0.3, "top": 0.9, "left": 0.7, "tag": "fork"}]$$) AS fork_img \gset
SELECT t.name AS tag, r."left", r.top, r.width, r.height
  FROM cv_regions r JOIN cv_tags t ON t.id = r.tag_id WHERE r.image_id = :fork_img ORDER BY r.id;
SELECT tag, region_image_count, region_count FROM cv_tag_counts WHERE project = 'cutlery' ORDER BY tag;
-- No regions (NULL or []) is an image without boxes: a negative example.
SELECT cv_add_image('cutlery', pg_read_binary_file(:'images' || 'tiny.jpg')) > :fork_img AS no_regions;
SELECT cv_add_image('cutlery', pg_read_binary_file(:'images' || 'tiny.png'), regions => '[]') > :fork_img AS empty_regions;
SELECT count(*) AS without_boxes FROM cv_untagged_images WHERE project = 'cutlery';
-- JSON numbers too small for float8 are 0, not an error.
SELECT cv_add_image('cutlery', pg_read_binary_file(:'images' || 'gray.jpg'),
                    regions => '[{"tag": "fork", "left": 1e-400, "top": 0.5, "width": 0.5, "height": 5e-1}]') AS gray_img \gset
SELECT "left", top, width, height FROM cv_regions WHERE image_id = :gray_img;
-- The same bytes again: nothing added, not even the boxes.
SELECT cv_add_image('cutlery', pg_read_binary_file(:'fork'),
                    regions => '[{"tag": "spoon", "left": 0, "top": 0, "width": 1, "height": 1}]') = :fork_img AS same_id;
SELECT count(*) AS spoon_tags FROM cv_tags WHERE name = 'spoon';

-- Every malformed argument, with nothing left behind.
CREATE TEMP TABLE before AS
SELECT (SELECT count(*) FROM cv_images) AS images, (SELECT count(*) FROM cv_regions) AS regions,
       (SELECT count(*) FROM cv_tags) AS tags;
CREATE TEMP TABLE pic AS SELECT pg_read_binary_file(:'images' || 'progressive.jpg') AS bytes;
SELECT r AS regions,
       pg_temp.expect_error(format('SELECT cv_add_image(%L, (SELECT bytes FROM pic), regions => %L)', 'cutlery', r)) AS error
  FROM unnest(ARRAY[
    '{"tag": "fork", "left": 0, "top": 0, "width": 1, "height": 1}',
    '"fork"',
    'null',
    '[1]',
    '[{"tag": "spoon", "left": 0, "top": 0, "width": 1, "height": 1}, []]',
    '[{"tag": "spoon", "left": 0, "top": 0, "width": 1, "height": 1}, null]',
    '[{"tag": "fork", "left": 0.1, "top": 0.1, "width": 0.2}]',
    '[{"left": 0.1, "top": 0.1, "width": 0.2, "height": 0.2}]',
    '[{"tag": "fork", "Left": 0.1, "top": 0.1, "width": 0.2, "height": 0.2}]',
    '[{"tag": "fork", "left": 0.1, "top": 0.1, "width": 0.2, "height": 0.2, "colour": "red"}]',
    '[{"tag": "fork", "left": "0.1", "top": 0.1, "width": 0.2, "height": 0.2}]',
    '[{"tag": "fork", "left": 0.1, "top": null, "width": 0.2, "height": 0.2}]',
    '[{"tag": "fork", "left": 0.1, "top": 0.1, "width": true, "height": 0.2}]',
    '[{"tag": "fork", "left": 0.1, "top": 0.1, "width": 0.2, "height": [0.2]}]',
    '[{"tag": 5, "left": 0.1, "top": 0.1, "width": 0.2, "height": 0.2}]',
    '[{"tag": null, "left": 0.1, "top": 0.1, "width": 0.2, "height": 0.2}]',
    '[{"tag": {"name": "fork"}, "left": 0.1, "top": 0.1, "width": 0.2, "height": 0.2}]',
    '[{"tag": "", "left": 0.1, "top": 0.1, "width": 0.2, "height": 0.2}]',
    '[{"tag": " fork", "left": 0.1, "top": 0.1, "width": 0.2, "height": 0.2}]',
    '[{"tag": "fork", "left": 0.9, "top": 0.1, "width": 0.2, "height": 0.2}]',
    '[{"tag": "fork", "left": 0.1, "top": -0.1, "width": 0.2, "height": 0.2}]',
    '[{"tag": "fork", "left": 0.1, "top": 0.1, "width": 0, "height": 0.2}]',
    '[{"tag": "fork", "left": 1e400, "top": 0.1, "width": 0.2, "height": 0.2}]',
    '[{"tag": "fork", "left": 0.1, "top": 0.1, "width": 0.2, "height": -1e400}]'
  ]) AS r;
-- Text that is not JSON at all is a bad literal.
SELECT pg_temp.expect_error($$SELECT cv_add_image('cutlery', (SELECT bytes FROM pic), regions => '[{"tag": "fork",')$$);
-- A bad third region after two good ones with new tags: no image, no
-- region, no tag.
SELECT pg_temp.expect_error($$SELECT cv_add_image('cutlery', (SELECT bytes FROM pic), regions => '[
  {"tag": "spoon", "left": 0.1, "top": 0.1, "width": 0.2, "height": 0.2},
  {"tag": "ladle", "left": 0.3, "top": 0.3, "width": 0.2, "height": 0.2},
  {"tag": "ladle", "left": 0.6, "top": 0.6, "width": 0.5, "height": 0.2}]')$$);
-- Bad image bytes after good regions: the same.
SELECT pg_temp.expect_error($$SELECT cv_add_image('cutlery', '\x89504e470d0a1a0a0000'::bytea,
  regions => '[{"tag": "spoon", "left": 0.1, "top": 0.1, "width": 0.2, "height": 0.2}]')$$);
SELECT (SELECT count(*) FROM cv_images) - images AS new_images, (SELECT count(*) FROM cv_regions) - regions AS new_regions,
       (SELECT count(*) FROM cv_tags) - tags AS new_tags,
       (SELECT count(*) FROM cv_images i, pic WHERE i.sha256 = sha256(pic.bytes)) AS stored_pic
  FROM before;

-- Tags and regions together on a detection image, tags alone, and regions
-- on a classification project: each refused.
SELECT pg_temp.expect_error($$SELECT cv_add_image('cutlery', (SELECT bytes FROM pic), tags => '{fork}',
  regions => '[{"tag": "fork", "left": 0.1, "top": 0.1, "width": 0.2, "height": 0.2}]')$$);
SELECT pg_temp.expect_error($$SELECT cv_add_image('cutlery', (SELECT bytes FROM pic), '{fork}')$$);
SELECT cv_create_project('fruit') > 0 AS created;
SELECT cv_create_project('labels', task => 'multilabel') > 0 AS created;
SELECT pg_temp.expect_error($$SELECT cv_add_image('fruit', (SELECT bytes FROM pic), tags => '{apple}',
  regions => '[{"tag": "apple", "left": 0.1, "top": 0.1, "width": 0.2, "height": 0.2}]')$$);
SELECT pg_temp.expect_error($$SELECT cv_add_image('labels', (SELECT bytes FROM pic),
  regions => '[{"tag": "apple", "left": 0.1, "top": 0.1, "width": 0.2, "height": 0.2}]')$$);
-- A malformed argument is reported as such there too.
SELECT pg_temp.expect_error($$SELECT cv_add_image('fruit', (SELECT bytes FROM pic), regions => '{}')$$);
SELECT count(*) AS classification_tags FROM cv_tags t JOIN cv_projects p ON p.id = t.project_id WHERE p.task <> 'detection';
-- No regions at all is fine on a classification project.
SELECT cv_add_image('fruit', (SELECT bytes FROM pic), tags => '{apple}', regions => '[]') > 0 AS added;
SELECT cv_add_image('labels', (SELECT bytes FROM pic), tags => '{apple,red}', regions => NULL) > 0 AS added;

-- pgvision.max_regions_per_image holds for cv_add_image too, before
-- anything is written.
SET pgvision.max_regions_per_image = 2;
SELECT pg_temp.expect_error($$SELECT cv_add_image('cutlery', (SELECT bytes FROM pic), regions => '[
  {"tag": "fork", "left": 0.1, "top": 0.1, "width": 0.2, "height": 0.2},
  {"tag": "fork", "left": 0.3, "top": 0.3, "width": 0.2, "height": 0.2},
  {"tag": "spoon", "left": 0.6, "top": 0.6, "width": 0.2, "height": 0.2}]')$$);
SELECT count(*) AS spoon_tags FROM cv_tags WHERE name = 'spoon';
SELECT cv_add_image('cutlery', (SELECT bytes FROM pic), regions => '[
  {"tag": "fork", "left": 0.1, "top": 0.1, "width": 0.2, "height": 0.2},
  {"tag": "fork", "left": 0.3, "top": 0.3, "width": 0.2, "height": 0.2}]') AS pic_img \gset
SELECT pg_temp.expect_error(format('SELECT cv_add_region(%s, %L, 0.5, 0.5, 0.2, 0.2)', :pic_img, 'fork'));
RESET pgvision.max_regions_per_image;
-- At the default of 300: 300 boxes in one call, not 301.
SELECT cv_add_image('cutlery', pg_read_binary_file(:'images' || 'tiny24.bmp'),
                    regions => (SELECT jsonb_agg(jsonb_build_object('tag', 'fork', 'left', (n % 10) * 0.1, 'top', (n / 10) * 0.03,
                                                                     'width', 0.1, 'height', 0.03))
                                  FROM generate_series(0, 299) n)) AS many_img \gset
SELECT count(*) AS many_regions FROM cv_regions WHERE image_id = :many_img;
SELECT pg_temp.expect_error(format('SELECT cv_add_region(%s, %L, 0.5, 0.5, 0.2, 0.2)', :many_img, 'fork'));
SELECT pg_temp.expect_error(format($$SELECT cv_add_image('cutlery', pg_read_binary_file(%L),
  regions => (SELECT jsonb_agg('{"tag": "fork", "left": 0, "top": 0, "width": 1, "height": 1}'::jsonb) FROM generate_series(1, 301)))$$,
  :'images' || 'tiny32.bmp'));

-- Leave the database as we found it for the next test file.
SELECT count(cv_delete_project(name)) AS projects_deleted FROM cv_projects;
SELECT cv_drop_backbone('mobilenet_v2');
