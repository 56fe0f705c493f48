-- pgvision quickstart demo: what a user does, start to end, on images the
-- demo draws itself (tools/demo_images.sql).
\set ON_ERROR_STOP 1
\pset footer off
\echo
\echo '== CREATE EXTENSION pgvision'
DROP EXTENSION IF EXISTS pgvision CASCADE;
CREATE EXTENSION pgvision;
\ir demo_images.sql

\echo '== a multiclass project with three tags, 12 photos each'
SELECT cv_create_project('shapes') AS project_id;
SELECT cv_add_image('shapes', pg_temp.demo_image(shape, seed), tags => ARRAY[shape])
  FROM unnest(ARRAY['circle', 'square', 'triangle']) AS shape, generate_series(1, 12) AS seed
 ORDER BY shape, seed \g /dev/null
SELECT tag, image_count FROM cv_tag_counts WHERE project = 'shapes' ORDER BY tag;
SELECT id, width, height, format, byte_size, encode(sha256, 'hex') AS sha256
  FROM cv_images ORDER BY id LIMIT 3;

\echo '== the same bytes twice: the existing id comes back with a NOTICE'
SELECT cv_add_image('shapes', pg_temp.demo_image('circle', 1), tags => '{circle}') AS image_id;

\echo '== bad input gets a clear error and leaves nothing behind'
\set ON_ERROR_STOP 0
SELECT cv_add_image('shapes', '\x89504e470d0a1a0a0000'::bytea, tags => '{circle}');
SELECT cv_add_image('shapes', pg_temp.demo_image('circle', 99), tags => '{circle,square}');
\set ON_ERROR_STOP 1
SELECT count(*) AS images FROM cv_images;
