-- Training and prediction from SQL on real photos: the waiting form of
-- cv_train, held-out metrics, thresholds, publishing, cv_predict in its
-- three forms, the cv_model type, and every error of the surface.
\getenv testdata PGVISION_TESTDATA
\getenv shared PGVISION_SHARED
\set helpers :testdata '/../psql/setup.psql'
\i :helpers
\set trees :shared '/datasets/azure-trees-cls/'

-- The azure-trees quickstart set: 7 Hemlock and 7 Japanese cherry photos.
CREATE TEMP TABLE manifest AS
SELECT split_part(line, ',', 1) AS file, split_part(line, ',', 2) AS tag
  FROM regexp_split_to_table(pg_read_file(:'trees' || 'manifest.csv'), E'\r?\n') AS line
 WHERE line LIKE 'images/%';
SELECT tag, count(*) FROM manifest GROUP BY tag ORDER BY tag;

SELECT cv_create_project('trees') > 0 AS created;
-- Too few images: the error names the short tag.
SELECT cv_add_image('trees', pg_read_binary_file(:'trees' || file), ARRAY[tag]) > 0 AS added
  FROM manifest WHERE tag = 'Hemlock' ORDER BY file LIMIT 4;
SELECT cv_create_tag('trees', 'Japanese_Cherry') > 0 AS created;
SELECT pg_temp.expect_error($$SELECT cv_train('trees')$$);
SELECT count(cv_add_image('trees', pg_read_binary_file(:'trees' || file), ARRAY[tag])) AS added
  FROM manifest WHERE file NOT IN (SELECT file FROM manifest WHERE tag = 'Hemlock' ORDER BY file LIMIT 4);
SELECT pg_temp.expect_error($$SELECT cv_train('nosuch')$$);
SELECT pg_temp.expect_error($$SELECT cv_train('trees', wait => NULL)$$);
-- A tag without images blocks training until it is deleted.
SELECT cv_create_tag('trees', 'Oak') > 0 AS created;
SELECT pg_temp.expect_error($$SELECT cv_train('trees')$$);
SELECT cv_delete_tag('trees', 'Oak');

-- Train and wait.
SELECT cv_train('trees', wait => true) AS it \gset
SELECT status, progress, message, image_count, tag_count, folds, model IS NOT NULL AS has_model,
       training_time > interval '0' AS timed, published_name
  FROM cv_iterations WHERE id = :it;
-- Held-out figures: this pair of trees is easy; every figure is in 0..1 and
-- the overall row sums the tags.
SELECT tag, precision >= 0.8 AS precise, recall >= 0.8 AS recalled, average_precision >= 0.9 AS ranked, image_count
  FROM cv_performance(:it);
SELECT (SELECT precision FROM cv_performance(:it) WHERE tag IS NULL) = precision AS stored_overall_matches
  FROM cv_iterations WHERE id = :it;
-- One held-out row per image, every image in exactly one fold.
SELECT count(*) AS heldout_rows, count(DISTINCT image_id) AS images, min(fold) >= 0 AS folds_ok
  FROM cv_heldout_predictions WHERE iteration_id = :it;
-- Another threshold recomputes from the stored predictions: at 0 every tag is
-- predicted for every image, at 1 (nearly) none.
SELECT tag, recall, precision FROM cv_performance(:it, threshold => 0) ORDER BY tag NULLS LAST;
SELECT tag, precision <= 1 AS in_range, average_precision = (SELECT average_precision FROM cv_performance(:it) p WHERE p.tag IS NOT DISTINCT FROM q.tag) AS ap_unchanged
  FROM cv_performance(:it, threshold => 0.99) q ORDER BY tag NULLS LAST;
SELECT pg_temp.expect_error(format('SELECT * FROM cv_performance(%s, threshold => 1.5)', :it));
SELECT pg_temp.expect_error(format('SELECT * FROM cv_performance(%s, threshold => %L)', :it, 'NaN'));
SELECT pg_temp.expect_error($$SELECT * FROM cv_performance(-1)$$);
SELECT pg_temp.expect_error($$SELECT * FROM cv_performance(NULL)$$);

-- cv_pr_curve: the points behind each tag's AP, thresholds descending;
-- summing (R_k - R_k-1) * P_k over them gives cv_performance's AP.
SELECT p.tag, abs(c.ap - p.average_precision) < 1e-6 AS same_ap, c.points > 0 AS has_points,
       c.top_recall = 1 AS reaches_full_recall, c.ordered AS ordered
  FROM cv_performance(:it) p,
       LATERAL (SELECT sum((recall - prev) * precision) AS ap, count(*) AS points, max(recall) AS top_recall,
                       bool_and(threshold < prev_threshold OR prev_threshold IS NULL) AND bool_and(interpolated_precision >= precision) AS ordered
                  FROM (SELECT *, coalesce(lag(recall) OVER w, 0) AS prev, lag(threshold) OVER w AS prev_threshold
                          FROM cv_pr_curve(:it, p.tag) WINDOW w AS (ORDER BY threshold DESC)) q) c
 WHERE p.tag IS NOT NULL ORDER BY p.tag;
SELECT pg_temp.expect_error(format('SELECT * FROM cv_pr_curve(%s, %L)', :it, 'Oak'));
SELECT pg_temp.expect_error(format('SELECT * FROM cv_pr_curve(%s, %L, overlap => 0.5)', :it, 'Hemlock'));
SELECT pg_temp.expect_error($$SELECT * FROM cv_pr_curve(-1, 'Hemlock')$$);
SELECT pg_temp.expect_error($$SELECT * FROM cv_pr_curve(NULL, 'Hemlock')$$);

-- Features were cached: one row per image, all augmentation views.
SELECT count(*) AS cached, min(views) AS views, min(dim) > 0 AS has_dim
  FROM cv_features f JOIN cv_images i ON i.id = f.image_id JOIN cv_projects p ON p.id = i.project_id
 WHERE p.name = 'trees';
-- Same data, same model bytes.
SELECT cv_train('trees', wait => true) AS it2 \gset
SELECT a.model::bytea = b.model::bytea AS deterministic
  FROM cv_iterations a, cv_iterations b WHERE a.id = :it AND b.id = :it2;
-- Nothing is left queued, so there is no worker to start.
SELECT cv_resume_training() AS queued;

-- Predicting by project name needs a published iteration.
SELECT pg_temp.expect_error(format('SELECT * FROM cv_predict(%L, pg_read_binary_file(%L))', 'trees', :'trees' || 'images/Hemlock/hemlock_10.jpg'));
SELECT cv_publish(:it, 'production');
SELECT pg_temp.expect_error(format('SELECT cv_publish(%s, %L)', :it2, 'production'));
SELECT pg_temp.expect_error(format('SELECT cv_publish(%s, %L)', :it2, ''));
SELECT pg_temp.expect_error($$SELECT cv_publish(-1, 'x')$$);
SELECT published_name FROM cv_iterations WHERE id = :it;

-- Each photo, predicted by the published model: tags in descending
-- probability, probabilities of a multiclass model summing to 1.
SELECT m.tag AS truth, (array_agg(p.tag ORDER BY p.probability DESC))[1] AS predicted,
       round(sum(p.probability)::numeric, 4) AS total
  FROM manifest m, cv_predict('trees', pg_read_binary_file(:'trees' || m.file)) p
 GROUP BY m.file, m.tag ORDER BY m.file;
-- The model value, the bytea and the cv_image forms agree.
SELECT bool_and(a.probability = b.probability AND a.tag = b.tag) AS same
  FROM (SELECT * FROM cv_predict((SELECT model FROM cv_iterations WHERE id = :it),
                                 pg_read_binary_file(:'trees' || 'images/Hemlock/hemlock_10.jpg')) WITH ORDINALITY) a(tag, probability, n)
  JOIN (SELECT * FROM cv_predict((SELECT model FROM cv_iterations WHERE id = :it),
                                 pg_read_binary_file(:'trees' || 'images/Hemlock/hemlock_10.jpg')::cv_image) WITH ORDINALITY) b(tag, probability, n)
  USING (n);
-- Over a whole table, in one query.
SELECT count(*) AS rows, count(DISTINCT i.id) AS images
  FROM cv_images i, cv_predict((SELECT model FROM cv_iterations WHERE id = :it), i.image) r;
-- In parallel workers too (the functions are PARALLEL SAFE): same answers.
SELECT round(sum(r.probability)::numeric, 3) AS serial_sum, count(*) AS serial_rows
  FROM cv_images i, cv_predict((SELECT model FROM cv_iterations WHERE id = :it), i.image) r \gset
SET parallel_setup_cost = 0;
SET parallel_tuple_cost = 0;
SET min_parallel_table_scan_size = 0;
SET force_parallel_mode = on;
-- Earlier test files leave pages and statistics behind until
-- autovacuum catches up, and the plan would follow them: fix both.
ANALYZE cv_images, cv_iteration_store, cv_projects;
ALTER TABLE cv_images SET (parallel_workers = 2);
EXPLAIN (COSTS OFF)
SELECT sum(r.probability) FROM cv_images i, cv_predict((SELECT model FROM cv_iterations WHERE id = :it), i.image) r;
SELECT round(sum(r.probability)::numeric, 3) = :serial_sum AS same_sum, count(*) = :serial_rows AS same_rows
  FROM cv_images i, cv_predict((SELECT model FROM cv_iterations WHERE id = :it), i.image) r;
RESET force_parallel_mode;
ALTER TABLE cv_images RESET (parallel_workers);
RESET parallel_setup_cost;
RESET parallel_tuple_cost;
RESET min_parallel_table_scan_size;
SELECT (cv_model_info(model)).* FROM cv_iterations WHERE id = :it;

-- By publish name.
SELECT count(*) AS tags FROM cv_predict('trees', pg_read_binary_file(:'trees' || 'images/Hemlock/hemlock_10.jpg'), 'production');
SELECT pg_temp.expect_error(format('SELECT * FROM cv_predict(%L, pg_read_binary_file(%L), %L)', 'trees',
                      :'trees' || 'images/Hemlock/hemlock_10.jpg', 'staging'));
SELECT cv_publish(:it2, 'staging');
SELECT pg_temp.expect_error($$SELECT cv_unpublish('trees', 'nosuch')$$);
SELECT cv_unpublish('trees', 'staging');
-- Unpublish: prediction by name then names the iterations that exist.
SELECT cv_unpublish(:it);
SELECT pg_temp.expect_error(format('SELECT cv_unpublish(%s)', :it));
SELECT regexp_replace(pg_temp.expect_error(format('SELECT * FROM cv_predict(%L, pg_read_binary_file(%L))', 'trees',
                      :'trees' || 'images/Hemlock/hemlock_10.jpg')), '\d+ \(completed\)', 'N (completed)', 'g');

-- cv_model input is checked: corrupt and truncated bytes never load.
SELECT length(model::bytea) > 100 AS sized FROM cv_iterations WHERE id = :it;
SELECT pg_temp.expect_error($$SELECT '\x00'::bytea::cv_model$$);
SELECT regexp_replace(pg_temp.expect_error(format('SELECT %L::bytea::cv_model',
       (SELECT substring(model::bytea FROM 1 FOR length(model::bytea) - 1) FROM cv_iterations WHERE id = :it))),
       'length (\d+), header says (\d+)', 'length N, header says N + 1') AS expect_error;
SELECT pg_temp.expect_error(format('SELECT %L::bytea::cv_model',
       (SELECT overlay(model::bytea PLACING '\xff'::bytea FROM 200 FOR 1) FROM cv_iterations WHERE id = :it)));
SELECT (SELECT model::bytea FROM cv_iterations WHERE id = :it)::cv_model::bytea
       = (SELECT model::bytea FROM cv_iterations WHERE id = :it) AS round_trip;
-- Bad images for prediction.
SELECT pg_temp.expect_error(format('SELECT * FROM cv_predict((SELECT model FROM cv_iterations WHERE id = %s), %L::bytea)', :it, '\x0102'));

-- Cancel and iteration errors.
SELECT pg_temp.expect_error(format('SELECT cv_cancel_training(%s)', :it));
SELECT pg_temp.expect_error($$SELECT cv_cancel_training(-1)$$);
SELECT count(*) AS iterations FROM cv_iterations WHERE project = 'trees';

-- Multilabel: several tags per image, and the waiting form works the same.
SELECT cv_create_project('trees_ml', task => 'multilabel') > 0 AS created;
SELECT count(cv_add_image('trees_ml', pg_read_binary_file(:'trees' || file),
                          CASE WHEN tag = 'Hemlock' THEN ARRAY['tree', 'conifer'] ELSE ARRAY['tree', 'blossom'] END)) AS added
  FROM manifest;
SELECT cv_train('trees_ml', wait => true) AS ml \gset
SELECT status, tag_count FROM cv_iterations WHERE id = :ml;
SELECT tag, image_count FROM cv_performance(:ml) ORDER BY tag NULLS LAST;
-- Independent probabilities: 'tree' is on every photo.
SELECT min(p.probability) > 0.5 AS tree_everywhere
  FROM manifest m, cv_predict((SELECT model FROM cv_iterations WHERE id = :ml), pg_read_binary_file(:'trees' || m.file)) p
 WHERE p.tag = 'tree';

-- A call site remembers the model it was given and the project's published
-- model for the rest of its statement (predict.c, model_cache.c); rows that
-- name another model or project must still get their own.  The models are
-- large enough to be stored out of line, which is the remembered case.
SELECT bool_and(length(model::bytea) > 2100) AS out_of_line FROM cv_iterations WHERE id IN (:it, :ml);
SELECT g, i.id = :ml AS multilabel, string_agg(p.tag, ',' ORDER BY p.tag) AS tags
  FROM generate_series(1, 4) g,
       LATERAL (SELECT id, model FROM cv_iterations WHERE id = CASE WHEN g % 2 = 0 THEN :ml ELSE :it END) i,
       cv_predict(i.model, pg_read_binary_file(:'trees' || 'images/Hemlock/hemlock_10.jpg')) p
 GROUP BY g, i.id ORDER BY g;
SELECT cv_publish(:it, 'production') AS published_trees, cv_publish(:ml, 'production') AS published_ml \gset
SELECT q.n, q.project, string_agg(p.tag, ',' ORDER BY p.tag) AS tags
  FROM (VALUES (1, 'trees'), (2, 'trees_ml'), (3, 'trees'), (4, 'trees_ml')) q(n, project),
       cv_predict(q.project, pg_read_binary_file(:'trees' || 'images/Hemlock/hemlock_10.jpg')) p
 GROUP BY q.n, q.project ORDER BY q.n;
-- By publish name, and a NULL image after a project that exists: no rows.
SELECT q.n, count(p.tag) AS tags
  FROM (VALUES (1, 'trees'), (2, 'trees_ml')) q(n, project)
       LEFT JOIN LATERAL cv_predict(q.project, pg_read_binary_file(:'trees' || 'images/Hemlock/hemlock_10.jpg'), 'production') p ON true
 GROUP BY q.n ORDER BY q.n;
SELECT count(*) AS null_image_rows FROM cv_predict('trees', NULL::bytea);
SELECT pg_temp.expect_error($$SELECT * FROM cv_predict('nosuch', NULL::bytea)$$);

-- More waiting trainings in one transaction than training slots: each
-- finished one keeps its lock until commit, and none of them counts against
-- the next (this hung before).  The timeout turns a hang into a failure.
BEGIN;
SET LOCAL pgvision.max_training_workers = 1;
SET LOCAL statement_timeout = '120s';
SELECT cv_train('trees', wait => true) > 0 AS first_trained;
SELECT cv_train('trees', wait => true) > 0 AS second_trained;
SELECT count(*) AS completed_in_transaction FROM cv_iterations
 WHERE project = 'trees' AND status = 'completed' AND finished_at >= transaction_timestamp();
ROLLBACK;

-- Deleting the project removes its iterations.
SELECT count(cv_delete_project(name)) AS projects_deleted FROM cv_projects;
SELECT count(*) AS iterations_left FROM cv_iteration_store;
