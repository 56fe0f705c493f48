-- Bad input across the SQL surface, part 2: training, iterations,
-- held-out figures, publishing, prediction, detection, export and
-- backbones (bad_input_images.sql: projects, images, labels, regions).
-- Every argument tried NULL, empty, out of range, NaN and infinite, of the
-- wrong kind (a classification model or iteration where detection is
-- meant, an iteration queued, training, failed or canceled, a name
-- published by another project), and ids that do not exist; each error
-- with its SQLSTATE, and every refused write checked to have written
-- nothing (test/psql/bad_input.psql).
--
-- One compact classifier is trained (a second or so); the iterations in
-- the other states are rows as the worker leaves them (export.sql does the
-- same), and a running training is one whose lock this session holds.
-- cv_predict and cv_detect given a detection model, and a detection
-- iteration's overlap and threshold, are detection.sql's.
--
-- STRICT, and intended: a NULL model or image gives no rows from
-- cv_predict and cv_detect (as any function of a NULL column; a trigger on
-- a row without a photo predicts nothing), a NULL threshold or
-- max_detections too (docs/sql-reference.md says so); cv_input_pixels,
-- cv_backbone_inspect and cv_domain_shape give NULL; cv_train_run of NULL
-- does nothing.
\getenv testdata PGVISION_TESTDATA
\getenv shared PGVISION_SHARED
\set helpers :testdata '/../psql/setup.psql'
\i :helpers
\set bad_input :testdata '/../psql/bad_input.psql'
\i :bad_input
\set images :testdata '/images/'
\set models :shared '/models/'
\set trees :shared '/datasets/azure-trees-cls/'

CREATE TEMP TABLE pic AS
SELECT pg_read_binary_file(:'trees' || 'images/Hemlock/hemlock_10.jpg') AS photo,
       pg_read_binary_file(:'images' || 'random.bin') AS garbage,
       pg_read_binary_file(:'images' || 'truncated.jpg') AS truncated,
       pg_read_binary_file(:'models' || 'mobilenet_v1_0.25_128_quant.tflite') AS tflite;

-- The azure-trees photos (7 Hemlock, 7 Japanese cherry), trained on the
-- compact domain and published; a second project with nothing trained.
CREATE TEMP TABLE manifest AS
SELECT split_part(line, ',', 1) AS file, split_part(line, ',', 2) AS tag
  FROM regexp_split_to_table(pg_read_file(:'trees' || 'manifest.csv'), E'\r?\n') AS line
 WHERE line LIKE 'images/%';
SELECT cv_create_project('bi_trees') AS trees, cv_create_project('bi_untrained') AS untrained;
SELECT count(cv_add_image('bi_trees', pg_read_binary_file(:'trees' || file), ARRAY[tag])) AS added FROM manifest;
SELECT cv_add_image('bi_untrained', photo, '{Hemlock}') > 0 AS added FROM pic;
SELECT cv_train('bi_trees', wait => true) AS it \gset
SELECT cv_publish(:it, 'v1');
-- The other states, as the worker leaves them.
INSERT INTO cv_iteration_store (project_id, status, task, domain)
SELECT id, 'queued', task, domain FROM cv_projects WHERE name = 'bi_trees' RETURNING id AS queued \gset
INSERT INTO cv_iteration_store (project_id, status, task, domain, message, finished_at)
SELECT id, 'failed', task, domain, 'out of memory', clock_timestamp() FROM cv_projects WHERE name = 'bi_trees'
RETURNING id AS failed \gset
INSERT INTO cv_iteration_store (project_id, status, task, domain, message, cancel_requested, finished_at)
SELECT id, 'canceled', task, domain, 'canceled by a user', true, clock_timestamp() FROM cv_projects WHERE name = 'bi_trees'
RETURNING id AS canceled \gset
INSERT INTO cv_iteration_store (project_id, status, task, domain, started_at)
SELECT id, 'training', task, domain, clock_timestamp() FROM cv_projects WHERE name = 'bi_trees' RETURNING id AS running \gset
-- This session holds the running training's lock, as its trainer would;
-- nobody holds the lock of a training whose process is gone (it reads
-- failed).
SELECT pg_advisory_lock(cv_training_lock_key(), :running) IS NOT NULL AS holds_lock;
INSERT INTO cv_iteration_store (project_id, status, task, domain, started_at)
SELECT id, 'training', task, domain, clock_timestamp() FROM cv_projects WHERE name = 'bi_trees' RETURNING id AS gone \gset
-- A negative id (a writer of cv_iteration_store may choose one): once an
-- "OID out of range" error in cv_iterations for every reader of the row.
INSERT INTO cv_iteration_store (id, project_id, status, task, domain, started_at)
SELECT -7, id, 'training', task, domain, clock_timestamp() FROM cv_projects WHERE name = 'bi_trees';
CREATE TEMP TABLE its AS SELECT * FROM (VALUES ('completed', :it), ('queued', :queued), ('failed', :failed),
	('canceled', :canceled), ('training', :running), ('gone', :gone), ('negative', -7)) v(state, id);
SELECT i.state, s.status AS shown FROM its i JOIN cv_iterations s USING (id) ORDER BY i.id;
SELECT pg_temp.fingerprint() AS start \gset
SELECT pg_temp.counts() AS start;

-- cv_train(project, wait) and the functions it runs.
SELECT q, pg_temp.refused(q) FROM (VALUES
	($$SELECT cv_train(NULL)$$),
	($$SELECT cv_train('')$$),
	($$SELECT cv_train('nosuch')$$),
	($$SELECT cv_train('bi_trees', wait => NULL)$$),
	($$SELECT cv_train('bi_untrained')$$),
	($$SELECT cv_train_run(-1)$$),
	($$SELECT cv_train_run(9223372036854775807)$$)) v(q);
SELECT i.state, pg_temp.refused(format('SELECT cv_train_run(%s)', i.id)) FROM its i WHERE i.state <> 'queued' ORDER BY i.id;
SELECT pg_temp.unchanged('SELECT cv_train_run(NULL)::text');

-- Each function that takes an iteration, in every state, then ids that do
-- not exist: only a completed iteration has figures, a file, a
-- publication; only a queued or running one can be canceled.
SELECT i.state, f.q, pg_temp.refused(format(f.q, i.id))
  FROM its i, (VALUES ('SELECT count(*) FROM cv_performance(%s)'),
                      ('SELECT count(*) FROM cv_pr_curve(%s, ''Hemlock'')'),
                      ('SELECT cv_publish(%s, ''v2'')'),
                      ('SELECT cv_unpublish(%s)'),
                      ('SELECT cv_export(%s)'),
                      ('SELECT cv_input_pixels(%s, (SELECT photo FROM pic))')) f(q)
 WHERE i.state <> 'completed' ORDER BY f.q, i.id;
SELECT i.state, pg_temp.refused(format('SELECT cv_cancel_training(%s)', i.id)) FROM its i
 WHERE i.state IN ('completed', 'failed', 'canceled', 'gone', 'negative') ORDER BY i.id;
SELECT f.q, x.id, pg_temp.refused(format(f.q, x.id))
  FROM unnest(ARRAY['NULL', '-1', '0', '9223372036854775807']) x(id),
       (VALUES ('SELECT count(*) FROM cv_performance(%s)'),
               ('SELECT count(*) FROM cv_pr_curve(%s, ''Hemlock'')'),
               ('SELECT cv_publish(%s, ''v2'')'),
               ('SELECT cv_unpublish(%s::bigint)'),
               ('SELECT cv_cancel_training(%s)'),
               ('SELECT cv_export(%s)'),
               ('SELECT cv_input_pixels(%s::bigint, (SELECT photo FROM pic))')) f(q)
 -- cv_input_pixels is STRICT: its NULL is below
 WHERE NOT (x.id = 'NULL' AND f.q LIKE '%cv_input_pixels%')
 ORDER BY f.q, x.id;

-- Another role's iteration: a reader of the project may not change it
-- (42501), a stranger does not find it (42704); cv_train_run, the trainer
-- of cv_train(wait => true), says the same.  SQLSTATEs only: the hints name
-- the owner, the superuser running the test (test/t/007_roles.pl has the
-- messages).
CREATE ROLE regress_bad_input_reader;
CREATE ROLE regress_bad_input_stranger;
GRANT pgvision_user TO regress_bad_input_reader, regress_bad_input_stranger;
SELECT cv_share_project('bi_trees', 'regress_bad_input_reader');
GRANT SELECT ON pic, its TO PUBLIC;
CREATE TEMP TABLE others (q text);
INSERT INTO others VALUES ('SELECT cv_train_run((SELECT id FROM its WHERE state = ''queued''))'),
	('SELECT cv_cancel_training((SELECT id FROM its WHERE state = ''queued''))'),
	('SELECT cv_publish((SELECT id FROM its WHERE state = ''completed''), ''v2'')'),
	('SELECT cv_unpublish((SELECT id FROM its WHERE state = ''completed''))'),
	('SELECT cv_unpublish(''bi_trees'', ''v1'')'),
	('SELECT cv_train(''bi_trees'')');
GRANT SELECT ON others TO PUBLIC;
SET ROLE regress_bad_input_reader;
CREATE TEMP TABLE reader AS SELECT q, regexp_replace(pg_temp.refused(q), ':.*(\[.*\])$', ' \1') AS reader FROM others;
SET ROLE regress_bad_input_stranger;
CREATE TEMP TABLE stranger AS SELECT q, regexp_replace(pg_temp.refused(q), ':.*(\[.*\])$', ' \1') AS stranger FROM others;
RESET ROLE;
SELECT q, reader, stranger FROM reader JOIN stranger USING (q) ORDER BY q;
SELECT cv_unshare_project('bi_trees', 'regress_bad_input_reader');
DROP TABLE reader, stranger, others;
DROP OWNED BY regress_bad_input_reader, regress_bad_input_stranger;
DROP ROLE regress_bad_input_reader, regress_bad_input_stranger;

-- The other arguments of a completed iteration's functions: thresholds
-- outside 0..1, NaN and infinite; an overlap (detection only); tags and
-- names NULL, empty, padded, too long, of another iteration; formats.
SELECT q, pg_temp.refused(format(q, :it)) FROM (VALUES
	('SELECT count(*) FROM cv_performance(%s, threshold => -0.1)'),
	('SELECT count(*) FROM cv_performance(%s, threshold => 1.1)'),
	('SELECT count(*) FROM cv_performance(%s, threshold => ''NaN'')'),
	('SELECT count(*) FROM cv_performance(%s, threshold => ''Infinity'')'),
	('SELECT count(*) FROM cv_performance(%s, threshold => ''-Infinity'')'),
	('SELECT count(*) FROM cv_performance(%s, threshold => 1e308)'),
	('SELECT count(*) FROM cv_performance(%s, overlap => 0.5)'),
	('SELECT count(*) FROM cv_performance(%s, overlap => ''NaN'')'),
	('SELECT count(*) FROM cv_pr_curve(%s, NULL)'),
	('SELECT count(*) FROM cv_pr_curve(%s, '''')'),
	('SELECT count(*) FROM cv_pr_curve(%s, ''hemlock'')'),
	('SELECT count(*) FROM cv_pr_curve(%s, ''Hemlock'', overlap => 0.5)'),
	('SELECT cv_publish(%s, NULL)'),
	('SELECT cv_publish(%s, '''')'),
	('SELECT cv_publish(%s, '' v2'')'),
	('SELECT cv_publish(%s, repeat(''n'', 129))'),
	('SELECT cv_publish(%s, E''v2\nbeta'')'),
	('SELECT cv_export(%s, NULL)'),
	('SELECT cv_export(%s, '''')'),
	('SELECT cv_export(%s, ''tflite'')'),
	('SELECT cv_export(%s, ''onnx '')'),
	('SELECT cv_export(%s)'),
	('SELECT cv_input_pixels(%s, (SELECT photo FROM pic))')) v(q);
-- A NULL threshold or overlap is the default, not an error.
SELECT count(*) AS default_rows FROM cv_performance(:it, NULL, NULL);
-- cv_unpublish(project, name): the name is the project's own.
SELECT q, pg_temp.refused(q) FROM (VALUES
	($$SELECT cv_unpublish(NULL, 'v1')$$),
	($$SELECT cv_unpublish('nosuch', 'v1')$$),
	($$SELECT cv_unpublish('bi_trees', NULL)$$),
	($$SELECT cv_unpublish('bi_trees', '')$$),
	($$SELECT cv_unpublish('bi_trees', 'V1')$$),
	($$SELECT cv_unpublish('bi_untrained', 'v1')$$)) v(q);

-- cv_predict: by model (STRICT), by project and by publish name.
SELECT q, pg_temp.expect_error(q) FROM (VALUES
	($$SELECT count(*) FROM cv_predict((SELECT model FROM cv_iterations WHERE id = (SELECT id FROM its WHERE state = 'completed')), ''::bytea)$$),
	($$SELECT count(*) FROM cv_predict((SELECT model FROM cv_iterations WHERE id = (SELECT id FROM its WHERE state = 'completed')), (SELECT garbage FROM pic))$$),
	($$SELECT count(*) FROM cv_predict((SELECT model FROM cv_iterations WHERE id = (SELECT id FROM its WHERE state = 'completed')), (SELECT truncated FROM pic))$$),
	($$SELECT count(*) FROM cv_predict((SELECT garbage FROM pic)::cv_model, (SELECT photo FROM pic))$$),
	($$SELECT count(*) FROM cv_predict(NULL::text, (SELECT photo FROM pic))$$),
	($$SELECT count(*) FROM cv_predict('', (SELECT photo FROM pic))$$),
	($$SELECT count(*) FROM cv_predict('nosuch', (SELECT photo FROM pic))$$),
	($$SELECT count(*) FROM cv_predict('bi_untrained', (SELECT photo FROM pic))$$),
	($$SELECT count(*) FROM cv_predict('bi_trees', ''::bytea)$$),
	($$SELECT count(*) FROM cv_predict('bi_trees', (SELECT photo FROM pic), NULL)$$),
	($$SELECT count(*) FROM cv_predict('bi_trees', (SELECT photo FROM pic), '')$$),
	($$SELECT count(*) FROM cv_predict('bi_trees', (SELECT photo FROM pic), 'v2')$$)) v(q);
SELECT (SELECT count(*) FROM cv_predict(NULL::cv_model, (SELECT photo FROM pic))) AS null_model_rows,
       (SELECT count(*) FROM cv_predict((SELECT model FROM cv_iterations WHERE id = :it), NULL::bytea)) AS null_image_rows,
       (SELECT count(*) FROM cv_predict('bi_trees', NULL::bytea)) AS null_image_by_name_rows;

-- cv_detect: its arguments are checked before the model, then a
-- classification model is the wrong kind in every form.
SELECT a, pg_temp.expect_error(format('SELECT count(*) FROM cv_detect((SELECT model FROM cv_iterations WHERE id = %s), (SELECT photo FROM pic), %s)', :it, a))
  FROM unnest(ARRAY['threshold => -0.1', 'threshold => 1.1', $$threshold => 'NaN'$$, $$threshold => 'Infinity'$$,
                    $$threshold => '-Infinity'$$, 'threshold => 3.4e38', 'max_detections => 0',
                    'max_detections => -1', 'max_detections => 10001', 'max_detections => 2147483647',
                    'threshold => 0.5']) a;
SELECT q, pg_temp.expect_error(q) FROM (VALUES
	($$SELECT count(*) FROM cv_detect((SELECT model FROM cv_iterations WHERE id = (SELECT id FROM its WHERE state = 'completed')), (SELECT photo FROM pic)::cv_image)$$),
	($$SELECT count(*) FROM cv_detect('bi_trees', (SELECT photo FROM pic))$$),
	($$SELECT count(*) FROM cv_detect('bi_trees', (SELECT photo FROM pic), 'v1')$$),
	($$SELECT count(*) FROM cv_detect('bi_trees', (SELECT photo FROM pic), 'NaN'::real)$$),
	($$SELECT count(*) FROM cv_detect(NULL::text, (SELECT photo FROM pic))$$),
	($$SELECT count(*) FROM cv_detect('nosuch', (SELECT photo FROM pic))$$),
	($$SELECT count(*) FROM cv_detect('bi_untrained', (SELECT photo FROM pic))$$),
	($$SELECT count(*) FROM cv_detect('bi_trees', (SELECT photo FROM pic), 'v2')$$)) v(q);
SELECT (SELECT count(*) FROM cv_detect(NULL::cv_model, (SELECT photo FROM pic))) AS null_model_rows,
       (SELECT count(*) FROM cv_detect((SELECT model FROM cv_iterations WHERE id = :it), NULL::bytea)) AS null_image_rows,
       (SELECT count(*) FROM cv_detect((SELECT model FROM cv_iterations WHERE id = :it), (SELECT photo FROM pic), NULL)) AS null_threshold_rows;
SELECT cv_input_pixels(NULL::bigint, (SELECT photo FROM pic)) IS NULL AS pixels_of_null,
       cv_input_pixels(:it, NULL::bytea) IS NULL AS pixels_of_no_image;

-- Backbones: names, files (empty, garbage, an image, a cut file), labels
-- that do not match, the built-in domain, one in use.
SELECT q, pg_temp.refused(q) FROM (VALUES
	($$SELECT cv_import_backbone(NULL, (SELECT tflite FROM pic))$$),
	($$SELECT cv_import_backbone('', (SELECT tflite FROM pic))$$),
	($$SELECT cv_import_backbone('Bad', (SELECT tflite FROM pic))$$),
	($$SELECT cv_import_backbone('compact', (SELECT tflite FROM pic))$$),
	($$SELECT cv_import_backbone('bi_v1', NULL)$$),
	($$SELECT cv_import_backbone('bi_v1', ''::bytea)$$),
	($$SELECT cv_import_backbone('bi_v1', (SELECT garbage FROM pic))$$),
	($$SELECT cv_import_backbone('bi_v1', (SELECT photo FROM pic))$$),
	($$SELECT cv_import_backbone('bi_v1', substring((SELECT tflite FROM pic) FROM 1 FOR 4096))$$),
	($$SELECT cv_import_backbone('bi_v1', (SELECT tflite FROM pic), '{}')$$),
	($$SELECT cv_import_backbone('bi_v1', (SELECT tflite FROM pic), '{cat,dog}')$$),
	($$SELECT cv_drop_backbone(NULL)$$),
	($$SELECT cv_drop_backbone('')$$),
	($$SELECT cv_drop_backbone('compact')$$),
	($$SELECT cv_drop_backbone('nosuch')$$)) v(q);
SELECT q, pg_temp.expect_error(q) FROM (VALUES
	($$SELECT cv_backbone_inspect(''::bytea)$$),
	($$SELECT cv_backbone_inspect((SELECT garbage FROM pic))$$),
	($$SELECT cv_backbone_inspect((SELECT photo FROM pic))$$),
	($$SELECT cv_domain_shape('')$$),
	($$SELECT cv_domain_shape('nosuch')$$)) v(q);
SELECT cv_backbone_inspect(NULL) IS NULL AS inspect_of_null, cv_domain_shape(NULL) IS NULL AS shape_of_null;
SELECT cv_import_backbone('bi_v1', tflite) FROM pic;
SELECT cv_create_project('bi_on_v1', domain => 'bi_v1') > 0 AS created;
SELECT q, pg_temp.refused(q) FROM (VALUES
	($$SELECT cv_import_backbone('bi_v1_again', (SELECT tflite FROM pic))$$),
	($$SELECT cv_drop_backbone('bi_v1')$$)) v(q);
SELECT q, pg_temp.expect_error(q) FROM (VALUES
	($$SELECT * FROM cv_backbone_classify(NULL, (SELECT photo FROM pic))$$),
	($$SELECT * FROM cv_backbone_classify('bi_v1', NULL)$$),
	($$SELECT * FROM cv_backbone_classify('bi_v1', (SELECT photo FROM pic), NULL)$$),
	($$SELECT * FROM cv_backbone_classify('', (SELECT photo FROM pic))$$),
	($$SELECT * FROM cv_backbone_classify('nosuch', (SELECT photo FROM pic))$$),
	($$SELECT * FROM cv_backbone_classify('compact', (SELECT photo FROM pic))$$),
	($$SELECT * FROM cv_backbone_classify('bi_v1', (SELECT photo FROM pic), 0)$$),
	($$SELECT * FROM cv_backbone_classify('bi_v1', (SELECT photo FROM pic), -2147483648)$$),
	($$SELECT * FROM cv_backbone_classify('bi_v1', ''::bytea)$$),
	($$SELECT * FROM cv_backbone_classify('bi_v1', (SELECT garbage FROM pic))$$),
	($$SELECT cv_embed('bi_v1', ''::bytea)$$),
	($$SELECT cv_embed('bi_v1', (SELECT truncated FROM pic))$$)) v(q);
-- k beyond the network's outputs is every output, not an error.
SELECT count(*) AS every_output, (SELECT num_outputs FROM cv_backbones WHERE domain = 'bi_v1') AS outputs
  FROM cv_backbone_classify('bi_v1', (SELECT photo FROM pic), 2147483647);

-- The settings the functions read: NaN, infinite and out-of-range values
-- are refused when set (regions.sql has the caps and who may set them).
SELECT q, pg_temp.expect_error(q) FROM (VALUES
	($$SET pgvision.nms_overlap = 'NaN'$$),
	($$SET pgvision.nms_overlap = 'Infinity'$$),
	($$SET pgvision.nms_overlap = '-Infinity'$$),
	($$SET pgvision.engine = ''$$),
	($$SET pgvision.engine = 'int4'$$),
	($$SET pgvision.threads = 0$$),
	($$SET pgvision.threads = 'NaN'$$)) v(q);

-- Nothing above wrote anything (the backbone and its project aside).
SELECT cv_delete_project('bi_on_v1');
SELECT pg_temp.fingerprint() = :'start' AS unchanged_since_start;
-- The backend survived: the model still predicts.
SELECT count(*) AS tags_predicted FROM cv_predict('bi_trees', (SELECT photo FROM pic));

-- Leave the database as we found it.
SELECT pg_advisory_unlock(cv_training_lock_key(), :running) AS released;
SELECT cv_drop_backbone('bi_v1');
SELECT count(cv_delete_project(name)) AS projects_deleted FROM cv_projects WHERE name LIKE 'bi\_%';
SELECT count(*) AS iterations_left FROM cv_iteration_store;
