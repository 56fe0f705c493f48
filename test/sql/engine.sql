-- pgvision.engine: the arithmetic new features are computed in (float, or
-- TFLite's integer arithmetic on a quantized backbone), recorded per
-- iteration; a model keeps predicting on the engine it was trained on
-- whatever the setting says later; the setting's errors.
\getenv testdata PGVISION_TESTDATA
\getenv shared PGVISION_SHARED
\set helpers :testdata '/../psql/setup.psql'
\i :helpers
\set models :shared '/models/'
\set trees :shared '/datasets/azure-trees-cls/'

SELECT cv_import_backbone('mobilenet_v2', pg_read_binary_file(:'models' || 'mobilenet_v2_1.0_224_quant.tflite'));
SHOW pgvision.engine;
SELECT pg_temp.expect_error($$SET pgvision.engine = 'bf16'$$);
SET pgvision.engine = 'INT8';
SHOW pgvision.engine;
RESET pgvision.engine;

CREATE TEMP TABLE manifest AS
SELECT split_part(line, ',', 1) AS file, split_part(line, ',', 2) AS tag
  FROM regexp_split_to_table(pg_read_file(:'trees' || 'manifest.csv'), E'\r?\n') AS line
 WHERE line LIKE 'images/%';
SELECT cv_create_project('trees', domain => 'mobilenet_v2') > 0 AS created;
SELECT count(cv_add_image('trees', pg_read_binary_file(:'trees' || file), ARRAY[tag])) AS added
  FROM manifest;

-- One iteration on each engine; the iteration says which.
SET pgvision.engine = 'float';
SELECT cv_train('trees', wait => true) AS it_float \gset
SELECT extractor_version, count(*) AS images FROM cv_features GROUP BY 1;
SET pgvision.engine = 'int8';
SELECT cv_train('trees', wait => true) AS it_int8 \gset
-- the cache now holds the integer engine's features (version 3), replacing
-- the float ones: the next float training recomputes them
SELECT extractor_version, count(*) AS images FROM cv_features GROUP BY 1;
SELECT id = :it_int8 AS int8_iteration, engine, status, precision >= 0.8 AS precise
  FROM cv_iterations ORDER BY id;

-- Both models predict, each on its own engine, whatever the setting says:
-- the same top tag on every photo, probabilities close (the integer
-- rounding moves them a little).
SET pgvision.engine = 'float';
WITH f AS (SELECT m.file, p.tag, p.probability
             FROM manifest m,
                  cv_predict((SELECT model FROM cv_iterations WHERE id = :it_float),
                             pg_read_binary_file(:'trees' || m.file)) p),
     q AS (SELECT m.file, p.tag, p.probability
             FROM manifest m,
                  cv_predict((SELECT model FROM cv_iterations WHERE id = :it_int8),
                             pg_read_binary_file(:'trees' || m.file)) p)
SELECT count(*) AS rows, max(abs(f.probability - q.probability)) < 0.1 AS close,
       count(*) FILTER (WHERE f.probability > 0.5 AND q.probability < 0.5) AS flipped
  FROM f JOIN q USING (file, tag);
-- Both export; the file says which engine it computes on (its integer
-- arithmetic written out in standard operators: docs/export.md).
SELECT e.id = :it_int8 AS int8_iteration, length(e.f) > 1000000 AS exported,
       position(convert_to('pgvision.engine', 'UTF8') in e.f) > 0 AS engine_in_metadata,
       position(convert_to('ConvInteger', 'UTF8') in e.f) > 0
         OR position(convert_to('BitShift', 'UTF8') in e.f) > 0 AS integer_ops
  FROM (SELECT id, cv_export(id) AS f FROM cv_iterations) e ORDER BY e.id;
-- set_config takes the same values as SET.
SELECT pg_temp.expect_error($$SELECT set_config('pgvision.engine', 'fast', false)$$);

RESET pgvision.engine;
SELECT count(cv_delete_project(name)) AS projects_deleted FROM cv_projects;
SELECT cv_drop_backbone('mobilenet_v2');
