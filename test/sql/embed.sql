-- cv_embed: a domain's feature vector of an image, the vector its
-- classifiers learn from; the compact and backbone domains; errors.
\getenv testdata PGVISION_TESTDATA
\getenv shared PGVISION_SHARED
\set helpers :testdata '/../psql/setup.psql'
\i :helpers
\set models :shared '/models/'
\set images :testdata '/images/'
\set cat :shared '/images/cat.bmp'

SELECT cv_import_backbone('embed_v1', pg_read_binary_file(:'models' || 'mobilenet_v1_0.25_128_quant.tflite')) IS NOT NULL AS imported;

-- Lengths are the domains' dims; the values are finite, deterministic and
-- the same for the bytea and cv_image forms.
SELECT d.name AS domain, array_length(cv_embed(d.name, pg_read_binary_file(:'cat')), 1) = d.dim AS has_dim
  FROM (SELECT name, feature_dim AS dim FROM cv_domains WHERE name IN ('compact', 'embed_v1')) d ORDER BY d.name;
SELECT cv_embed('embed_v1', pg_read_binary_file(:'cat')) = cv_embed('embed_v1', pg_read_binary_file(:'cat')::cv_image) AS same_forms,
       (SELECT bool_and(v = v AND abs(v) < 1e6) FROM unnest(cv_embed('embed_v1', pg_read_binary_file(:'cat'))) v) AS finite;
-- Two different photos have different vectors.
WITH e AS (SELECT cv_embed('embed_v1', pg_read_binary_file(:'images' || 'tiny.jpg')) AS a,
                  cv_embed('embed_v1', pg_read_binary_file(:'cat')) AS b)
SELECT (SELECT sum((x - y) ^ 2) FROM unnest(a, b) u (x, y)) > 0 AS different_photos_differ FROM e;

-- Errors: unknown domain, a detection-only domain, bad bytes; NULL is NULL.
SELECT pg_temp.expect_error($$SELECT cv_embed('no_such_domain', '\x00'::bytea)$$);
SELECT cv_import_backbone('embed_ssd', pg_read_binary_file(:'models' || 'ssd_mobilenet_v1_coco_uint8.tflite')) IS NOT NULL AS imported;
SELECT pg_temp.expect_error(format('SELECT cv_embed(%L, %L::bytea)', 'embed_ssd', pg_read_binary_file(:'cat')));
SELECT cv_drop_backbone('embed_ssd');
SELECT pg_temp.expect_error(format('SELECT cv_embed(%L, %L::bytea)', 'embed_v1', pg_read_binary_file(:'images' || 'random.bin')));
SELECT pg_temp.expect_error(format('SELECT cv_embed(%L, %L::bytea)', 'embed_v1', pg_read_binary_file(:'images' || 'truncated.jpg')));
SELECT cv_embed('embed_v1', NULL::bytea) IS NULL AS null_image, cv_embed(NULL, '\x00'::bytea) IS NULL AS null_domain;

SELECT cv_drop_backbone('embed_v1');
