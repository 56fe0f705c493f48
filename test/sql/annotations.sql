-- cv_export_annotations: a project's labels as the files pgvision-load
-- reads (the round trip through the loader: TAP 013); the shapes and the
-- errors.
\getenv testdata PGVISION_TESTDATA
\getenv shared PGVISION_SHARED
\set helpers :testdata '/../psql/setup.psql'
\i :helpers
\set images :testdata '/images/'
\set models :shared '/models/'

SELECT cv_create_project('labels', task => 'multilabel');
SELECT cv_add_image('labels', pg_read_binary_file(:'images' || 'tiny.jpg'), tags => '{b,a}');
SELECT cv_add_image('labels', pg_read_binary_file(:'images' || 'tiny.png'));
SELECT jsonb_pretty(cv_export_annotations('labels', 'customvision'));

SELECT cv_import_backbone('annotations_v1', pg_read_binary_file(:'models' || 'mobilenet_v1_0.25_128_quant.tflite')) IS NOT NULL AS imported;
SELECT cv_create_project('boxes', task => 'detection', domain => 'annotations_v1');
-- rotated.jpg is stored 64x48 with EXIF orientation 6 (upright 48x64).
SELECT cv_add_image('boxes', pg_read_binary_file(:'images' || 'rotated.jpg'),
                    regions => '[{"tag": "cup", "left": 0.25, "top": 0.5, "width": 0.5, "height": 0.25}]');
SELECT jsonb_pretty(a -> 'images') AS images, jsonb_pretty(a -> 'annotations') AS annotations,
       jsonb_pretty(a -> 'categories') AS categories
  FROM cv_export_annotations('boxes') a;
SELECT a -> 'images' -> 0 ->> 'width' AS upright_width, a -> 'annotations' -> 0 -> 'bbox' AS upright_bbox
  FROM cv_export_annotations('boxes', pixels => 'upright') a;
SELECT jsonb_array_length(cv_export_annotations('boxes', 'customvision') -> 0 -> 'regions') AS regions;

-- Errors.
SELECT pg_temp.expect_error($$SELECT cv_export_annotations('labels')$$);
SELECT pg_temp.expect_error($$SELECT cv_export_annotations('boxes', 'voc')$$);
SELECT pg_temp.expect_error($$SELECT cv_export_annotations('boxes', NULL)$$);
SELECT pg_temp.expect_error($$SELECT cv_export_annotations('boxes', 'coco', 'sideways')$$);
SELECT pg_temp.expect_error($$SELECT cv_export_annotations('no_such_project')$$);
SELECT pg_temp.expect_error($$SELECT cv_export_annotations(NULL)$$);

SELECT cv_delete_project('labels');
SELECT cv_delete_project('boxes');
SELECT cv_drop_backbone('annotations_v1');
