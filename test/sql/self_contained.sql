-- Self-contained models (cv_self_contained): a model that carries its
-- backbone file predicts as the model it came from, and keeps predicting in
-- a backend of a server where that backbone is not stored (what a Citus
-- worker is: docs/scale-out.md); a carried file that is not the one the
-- model names is refused.  The backbone is the 3 KB classifier of the fuzz
-- seeds (8 x 8 input, 6 features), so the values stay small.
\getenv testdata PGVISION_TESTDATA
\getenv shared PGVISION_SHARED
\set helpers :testdata '/../psql/setup.psql'
\i :helpers
\set tiny :testdata '/../fuzz/seed/tflite/classifier.tflite'
\set trees :shared '/datasets/azure-trees-cls/'
SET pgvision.engine = 'float';
SET pgvision.near_duplicate_similarity = 0;

SELECT cv_import_backbone('tiny', pg_read_binary_file(:'tiny'));
CREATE TEMP TABLE trees AS
SELECT split_part(line, ',', 1) AS file, split_part(line, ',', 2) AS tag
  FROM regexp_split_to_table(pg_read_file(:'trees' || 'manifest.csv'), E'\r?\n') AS line
 WHERE line LIKE 'images/%';
SELECT cv_create_project('tiny_trees', domain => 'tiny') > 0 AS created,
       cv_create_project('compact_trees') > 0 AS created_compact;
SELECT count(cv_add_image('tiny_trees', pg_read_binary_file(:'trees' || file), ARRAY[tag])) AS added,
       count(cv_add_image('compact_trees', pg_read_binary_file(:'trees' || file), ARRAY[tag])) AS added_compact
  FROM trees;
SELECT cv_train('tiny_trees', wait => true) > 0 AS trained;
SELECT cv_train('compact_trees', wait => true) > 0 AS trained_compact;

-- Kept in a plain table: the test reconnects below.
CREATE TABLE sc_models AS
SELECT i.project, i.model, cv_self_contained(i.model) AS carried FROM cv_iterations i;

-- Version 4 bytes: the version 3 bytes with the file (after its u64
-- length) in front of the body; a compact model has no file and comes back
-- as it was, and so does a model that already carries its file.
SELECT m.project,
       get_byte(m.model::bytea, 8) AS version, get_byte(m.carried::bytea, 8) AS carried_version,
       octet_length(m.carried::bytea) - octet_length(m.model::bytea) AS added_bytes,
       b.file IS NOT NULL AND substring(m.carried::bytea FROM 41 FOR octet_length(b.file)) = b.file AS carries_the_file,
       substring(m.carried::bytea FROM 41 + coalesce(octet_length(b.file), -8)) = substring(m.model::bytea FROM 33) AS same_body,
       cv_self_contained(m.carried)::bytea = m.carried::bytea AS idempotent,
       (SELECT row(i.*) FROM cv_model_info(m.model) i) IS NOT DISTINCT FROM
       (SELECT row(i.*) FROM cv_model_info(m.carried) i) AS same_info
  FROM sc_models m
  LEFT JOIN cv_backbones b ON b.domain = (cv_model_info(m.model)).domain
 ORDER BY m.project;
SELECT octet_length(file) AS tiny_file_bytes FROM cv_backbones WHERE domain = 'tiny';
SELECT cv_self_contained(NULL) IS NULL AS null_in_null_out;

-- The same predictions, photo by photo.
CREATE TABLE sc_expected AS
SELECT m.project, t.file, array_agg(p.tag || '=' || p.probability ORDER BY p.tag) AS plain
  FROM sc_models m, trees t, cv_predict(m.model, pg_read_binary_file(:'trees' || t.file)) p
 GROUP BY m.project, t.file;
SELECT m.project, count(*) AS photos,
       bool_and(e.plain = (SELECT array_agg(p.tag || '=' || p.probability ORDER BY p.tag)
                             FROM cv_predict(m.carried, pg_read_binary_file(:'trees' || e.file)) p)) AS same_predictions
  FROM sc_models m JOIN sc_expected e USING (project)
 GROUP BY m.project ORDER BY m.project;

-- This server forgets the backbone.  The backend's extractor cache still
-- holds the net, so a new backend shows what a server without it does.
SELECT cv_delete_project('tiny_trees');
SELECT cv_drop_backbone('tiny');
CREATE TABLE sc_trees AS SELECT * FROM trees;
\c
\getenv shared PGVISION_SHARED
\set trees :shared '/datasets/azure-trees-cls/'
SET pgvision.engine = 'float';
SELECT count(*) AS tiny_backbones FROM cv_backbones WHERE domain = 'tiny';

CREATE FUNCTION pg_temp.error_parts(query text, OUT state text, OUT message text, OUT detail text, OUT hint text)
LANGUAGE plpgsql AS $fn$
BEGIN
	EXECUTE query;
	message := 'no error';
EXCEPTION WHEN OTHERS THEN
	GET STACKED DIAGNOSTICS state = RETURNED_SQLSTATE, message = MESSAGE_TEXT,
	                        detail = PG_EXCEPTION_DETAIL, hint = PG_EXCEPTION_HINT;
END;
$fn$;
-- The backend is new: no net of the backbone is cached, and none is
-- prepared (the drop removed its files).  First a carried file that is not
-- the one the model names (one byte changed, the model's checksum made
-- right again): refused before it runs, and before anything is cached.
CREATE FUNCTION pg_temp.crc32(b bytea) RETURNS bigint
LANGUAGE plpgsql IMMUTABLE AS $fn$
DECLARE
	t bigint[];
	c bigint;
	crc bigint := 4294967295;
BEGIN
	FOR i IN 0 .. 255 LOOP
		c := i;
		FOR k IN 1 .. 8 LOOP
			c := CASE WHEN c & 1 = 1 THEN 3988292384 # (c >> 1) ELSE c >> 1 END;
		END LOOP;
		t[i] := c;
	END LOOP;
	FOR i IN 0 .. length(b) - 1 LOOP
		crc := t[(crc # get_byte(b, i)) & 255] # (crc >> 8);
	END LOOP;
	RETURN crc # 4294967295;
END;
$fn$;
CREATE FUNCTION pg_temp.with_crc(m bytea) RETURNS bytea
LANGUAGE plpgsql IMMUTABLE AS $fn$
DECLARE
	crc bigint := pg_temp.crc32(substring(m FROM 33));
BEGIN
	FOR k IN 0 .. 3 LOOP
		m := set_byte(m, 24 + k, ((crc >> (8 * k)) & 255)::int);
	END LOOP;
	RETURN m;
END;
$fn$;
SELECT e.state, e.message
  FROM sc_models m, sc_trees t,
       pg_temp.error_parts(format('SELECT * FROM cv_predict(%L::bytea::cv_model, %L::bytea)',
                                  pg_temp.with_crc(set_byte(m.carried::bytea, 100, get_byte(m.carried::bytea, 100) # 1)),
                                  pg_read_binary_file(:'trees' || t.file))) e
 WHERE m.project = 'tiny_trees' AND t.file = (SELECT min(file) FROM sc_trees);
-- The same bytes with the checksum left wrong are refused as corrupt.
SELECT e.state, e.message
  FROM sc_models m,
       pg_temp.error_parts(format('SELECT %L::bytea::cv_model',
                                  set_byte(m.carried::bytea, 100, get_byte(m.carried::bytea, 100) # 1))) e
 WHERE m.project = 'tiny_trees';

-- The plain model cannot predict: the message names the server (host and
-- port, so only their shape is pinned) and the file's hash.
SELECT e.state, e.message,
       e.detail = format('Server %s, port %s; the model names the file with SHA-256 %s.',
                         split_part(split_part(e.detail, 'Server ', 2), ', port', 1),
                         current_setting('port'),
                         encode(sha256(pg_read_binary_file(:'testdata' || '/../fuzz/seed/tflite/classifier.tflite')), 'hex')) AS detail_names_server_and_hash,
       e.hint
  FROM sc_models m, sc_trees t,
       pg_temp.error_parts(format('SELECT * FROM cv_predict(%L::cv_model, %L::bytea)', m.model,
                                  pg_read_binary_file(:'trees' || t.file))) e
 WHERE m.project = 'tiny_trees' AND t.file = (SELECT min(file) FROM sc_trees);
SELECT e.state, e.message
  FROM sc_models m, pg_temp.error_parts(format('SELECT cv_self_contained(%L::cv_model)', m.model)) e
 WHERE m.project = 'tiny_trees';

-- The self-contained one predicts as before, from the file it carries.
SELECT m.project, count(*) AS photos,
       bool_and(e.plain = (SELECT array_agg(p.tag || '=' || p.probability ORDER BY p.tag)
                             FROM cv_predict(m.carried, pg_read_binary_file(:'trees' || e.file)) p)) AS same_predictions
  FROM sc_models m JOIN sc_expected e USING (project)
 GROUP BY m.project ORDER BY m.project;

DROP TABLE sc_models, sc_expected, sc_trees;
SELECT cv_delete_project('compact_trees');
