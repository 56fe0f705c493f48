-- Export for offline use: cv_export's ONNX file (its protobuf framing and
-- every metadata key, read back here), cv_input_pixels in its four forms,
-- the functions' labels, and every error of the surface.  Detection
-- exports (a detector takes a minute to train) and that the files give
-- cv_predict's and cv_detect's answers in onnxruntime are
-- test/t/006_export_parity.pl.
\getenv testdata PGVISION_TESTDATA
\getenv shared PGVISION_SHARED
\set helpers :testdata '/../psql/setup.psql'
\i :helpers
-- The float engine, whatever the CPU (auto would pick int8 where it has
-- VNNI or AVX2, and the metadata would differ by machine): engine.sql
-- covers the int8 export.
SET pgvision.engine = 'float';
\set models :shared '/models/'
\set trees :shared '/datasets/azure-trees-cls/'
\set photo :trees 'images/Hemlock/hemlock_10.jpg'

-- The top-level fields of an ONNX ModelProto, in file order, with the
-- metadata_props entries (field 14: key 1, value 2) spelt out.  A small
-- protobuf reader: varints, and the four wire types a ModelProto uses.
CREATE FUNCTION pg_temp.onnx_fields(model bytea, OUT field int, OUT key text, OUT value text)
	RETURNS SETOF record
LANGUAGE plpgsql AS $fn$
DECLARE
	p int := 0;
	n int := length(model);
	v bigint;
	s bigint;
	b int;
	wt int;
	len int;
	q int;
	e_end int;
	t int;
	l int;
BEGIN
	WHILE p < n LOOP
		v := 0; s := 1;
		LOOP b := get_byte(model, p); p := p + 1; v := v + (b & 127) * s; s := s * 128; EXIT WHEN b < 128; END LOOP;
		field := v / 8; wt := v % 8; key := NULL; value := NULL;
		IF wt = 0 THEN
			LOOP b := get_byte(model, p); p := p + 1; EXIT WHEN b < 128; END LOOP;
		ELSIF wt = 1 THEN
			p := p + 8;
		ELSIF wt = 5 THEN
			p := p + 4;
		ELSIF wt = 2 THEN
			len := 0; s := 1;
			LOOP b := get_byte(model, p); p := p + 1; len := len + (b & 127) * s; s := s * 128; EXIT WHEN b < 128; END LOOP;
			IF field = 14 THEN
				q := p; e_end := p + len;
				WHILE q < e_end LOOP
					t := get_byte(model, q) / 8; q := q + 1;
					l := 0; s := 1;
					LOOP b := get_byte(model, q); q := q + 1; l := l + (b & 127) * s; s := s * 128; EXIT WHEN b < 128; END LOOP;
					IF t = 1 THEN key := convert_from(substring(model FROM q + 1 FOR l), 'UTF8');
					ELSE value := convert_from(substring(model FROM q + 1 FOR l), 'UTF8'); END IF;
					q := q + l;
				END LOOP;
			END IF;
			p := p + len;
		ELSE
			RAISE EXCEPTION 'protobuf wire type % at byte %', wt, p;
		END IF;
		IF p > n THEN
			RAISE EXCEPTION 'field % runs past the end', field;
		END IF;
		RETURN NEXT;
	END LOOP;
END;
$fn$;

-- The labels: cv_export reads tables and a setting (STABLE) and refuses
-- NULLs itself; cv_input_pixels is STRICT, and its model forms depend on
-- their arguments alone, as cv_predict's.
SELECT p.oid::regprocedure AS function, p.provolatile AS volatility, p.proisstrict AS strict,
       p.proparallel AS parallel, pg_get_function_result(p.oid) AS result
  FROM pg_proc p WHERE p.proname IN ('cv_export', 'cv_input_pixels')
 ORDER BY p.oid::regprocedure::text;

-- A classifier on the small MobileNet V1 (128 x 128 input) and one on the
-- compact domain: the 14 tree photos.
SELECT cv_import_backbone('mobilenet_v1', pg_read_binary_file(:'models' || 'mobilenet_v1_0.25_128_quant.tflite'));
CREATE TEMP TABLE trees AS
SELECT split_part(line, ',', 1) AS file, split_part(line, ',', 2) AS tag
  FROM regexp_split_to_table(pg_read_file(:'trees' || 'manifest.csv'), E'\r?\n') AS line
 WHERE line LIKE 'images/%';
SELECT cv_create_project('trees', domain => 'mobilenet_v1') > 0 AS created,
       cv_create_project('compact_trees') > 0 AS created_compact;
SELECT count(cv_add_image('trees', pg_read_binary_file(:'trees' || file), ARRAY[tag])) AS added,
       count(cv_add_image('compact_trees', pg_read_binary_file(:'trees' || file), ARRAY[tag])) AS added_compact
  FROM trees;
SELECT cv_train('trees', wait => true) AS it \gset
SELECT cv_train('compact_trees', wait => true) AS compact_it \gset
SELECT id, project, task, domain, status FROM cv_iterations ORDER BY id;

-- The classifier's file: a ModelProto (field 1 ir_version first: byte
-- 0x08), then the producer, the graph (7), the opset (8) and the metadata
-- (14).  Every key and value, in the file's order.
SELECT cv_export(:it) AS onnx \gset
SELECT get_byte(:'onnx'::bytea, 0) AS first_byte, get_byte(:'onnx'::bytea, 1) AS ir_version,
       length(:'onnx'::bytea) > 100000 AS has_weights;
SELECT array_agg(DISTINCT field ORDER BY field) AS top_level_fields FROM pg_temp.onnx_fields(:'onnx'::bytea);
SELECT key, value FROM pg_temp.onnx_fields(:'onnx'::bytea) WHERE field = 14;
-- The same iteration gives the same bytes; the format is case-blind and
-- 'onnx' is the default.
SELECT md5(cv_export(:it, 'ONNX')) = md5(:'onnx'::bytea) AS deterministic,
       md5(cv_export(:it, 'onnx')) = md5(:'onnx'::bytea) AS onnx_named;

-- The TFLite file: a flatbuffer with the identifier TFL3 after the root
-- offset and the metadata JSON of Model.metadata "pgvision" (its bytes are
-- plain text inside the file).  Deterministic, the name case-blind.  This
-- float-engine iteration's file is the float network (float32 input, the
-- normalisation inside), its weights float32 as in the ONNX file.
SELECT cv_export(:it, 'tflite') AS tfl \gset
SELECT convert_from(substring(:'tfl'::bytea FROM 5 FOR 4), 'SQL_ASCII') AS identifier,
       length(:'tfl'::bytea) % 16 = 0 AS padded_to_16,
       length(:'tfl'::bytea) > 100000 AS has_weights,
       md5(cv_export(:it, 'TFLite')) = md5(:'tfl'::bytea) AS deterministic;
SELECT m->>'pgvision.task' AS task, m->>'pgvision.engine' AS engine, m->'pgvision.tags' AS tags,
       m->>'pgvision.input_width' AS width, m->>'pgvision.input_type' AS input_type,
       m->>'pgvision.input_zero_point' AS zero_point, m->>'pgvision.input_scale' AS scale,
       (m->>'pgvision.iteration')::bigint = :it AS iteration_matches, m->>'pgvision.threshold' AS threshold
  FROM (SELECT substring(encode(:'tfl'::bytea, 'escape') FROM '(\{\s+"pgvision\.format"[^}]*\})')::jsonb AS m) j;

-- cv_input_pixels: input_height x input_width x 3 bytes, the same in every
-- form (iteration or model, bytea or stored cv_image).
SELECT length(cv_input_pixels(:it, pg_read_binary_file(:'photo'))) AS classifier_bytes, 128 * 128 * 3 AS expected;
SELECT cv_input_pixels(:it, pg_read_binary_file(:'photo'))
         = cv_input_pixels((SELECT model FROM cv_iterations WHERE id = :it), pg_read_binary_file(:'photo')) AS model_form_equal,
       cv_input_pixels(:it, pg_read_binary_file(:'photo'))
         = cv_input_pixels(:it, pg_read_binary_file(:'photo')::cv_image) AS image_form_equal,
       cv_input_pixels(:it, pg_read_binary_file(:'photo'))
         = cv_input_pixels((SELECT model FROM cv_iterations WHERE id = :it), pg_read_binary_file(:'photo')::cv_image)
         AS model_image_form_equal;
-- Over stored images, as a query would run it; a NULL image gives NULL.
SELECT count(*) AS images, bool_and(length(cv_input_pixels(:it, i.image)) = 49152) AS all_sized
  FROM cv_images i JOIN cv_projects p ON p.id = i.project_id WHERE p.name = 'trees';
SELECT cv_input_pixels(:it, NULL::bytea) IS NULL AS null_image,
       cv_input_pixels(NULL::bigint, pg_read_binary_file(:'photo')) IS NULL AS null_iteration;

-- Errors of cv_export.
SELECT pg_temp.expect_error($$SELECT cv_export(NULL)$$);
SELECT pg_temp.expect_error(format('SELECT cv_export(%s, NULL)', :it));
SELECT pg_temp.expect_error(format('SELECT cv_export(%s, %L)', :it, 'png'));
SELECT pg_temp.expect_error(format('SELECT cv_export(%s, %L)', :it, ''));
SELECT pg_temp.expect_error($$SELECT cv_export(-1)$$);
SELECT pg_temp.expect_error($$SELECT cv_export(424242)$$);
SELECT pg_temp.expect_error(format('SELECT cv_export(%s)', :compact_it));
-- Iterations that did not complete: queued, failed with a message, and a
-- training whose process is gone (which cv_iterations reads as failed).
INSERT INTO cv_iteration_store (project_id, status, task, domain)
SELECT id, 'queued', task, domain FROM cv_projects WHERE name = 'trees' RETURNING id AS queued_it \gset
INSERT INTO cv_iteration_store (project_id, status, task, domain, message, finished_at)
SELECT id, 'failed', task, domain, 'out of memory', clock_timestamp() FROM cv_projects WHERE name = 'trees'
RETURNING id AS failed_it \gset
INSERT INTO cv_iteration_store (project_id, status, task, domain, started_at)
SELECT id, 'training', task, domain, clock_timestamp() FROM cv_projects WHERE name = 'trees' RETURNING id AS gone_it \gset
INSERT INTO cv_iteration_store (project_id, status, task, domain, message, finished_at)
SELECT id, 'canceled', task, domain, 'canceled by a user', clock_timestamp() FROM cv_projects WHERE name = 'trees'
RETURNING id AS canceled_it \gset
SELECT pg_temp.expect_error(format('SELECT cv_export(%s)', :queued_it));
SELECT pg_temp.expect_error(format('SELECT cv_export(%s)', :failed_it));
SELECT pg_temp.expect_error(format('SELECT cv_export(%s)', :gone_it));
SELECT pg_temp.expect_error(format('SELECT cv_export(%s)', :canceled_it));
-- TFLite refuses the compact domain as ONNX does.
SELECT pg_temp.expect_error(format('SELECT cv_export(%s, %L)', :compact_it, 'tflite'));

-- Errors of cv_input_pixels.
SELECT pg_temp.expect_error(format('SELECT cv_input_pixels(%s, pg_read_binary_file(%L))', 424242, :'photo'));
SELECT pg_temp.expect_error(format('SELECT cv_input_pixels(%s, pg_read_binary_file(%L))', :compact_it, :'photo'));
SELECT pg_temp.expect_error(format('SELECT cv_input_pixels((SELECT model FROM cv_iterations WHERE id = %s), pg_read_binary_file(%L))',
                                   :compact_it, :'photo'));
SELECT pg_temp.expect_error(format('SELECT cv_input_pixels(%s, pg_read_binary_file(%L))', :queued_it, :'photo'));
SELECT pg_temp.expect_error(format('SELECT cv_input_pixels(%s, pg_read_binary_file(%L))', :failed_it, :'photo'));
SELECT pg_temp.expect_error(format('SELECT cv_input_pixels(%s, %L::bytea)', :it, '\x00010203'));
SELECT pg_temp.expect_error(format('SELECT cv_input_pixels(%s, %L::bytea)', :it, '\xffd8ffe000104a464946'));
SELECT pg_temp.expect_error(format('SELECT cv_input_pixels(%s, %L::bytea)', :it, ''));

-- The backend survived every error: the export still works.
SELECT get_byte(cv_export(:it), 0) AS still_exports;

-- TFLite of an iteration trained on the int8 engine: the backbone file's
-- own operators and quantized weights (a uint8 input: the pixel bytes),
-- less than half the size of the float network's file.
SET pgvision.engine = 'int8';
SELECT cv_train('trees', wait => true) AS it8 \gset
SET pgvision.engine = 'float';
SELECT length(cv_export(:it8, 'tflite')) < length(:'tfl'::bytea) / 2 AS quantized_weights,
       m->>'pgvision.engine' AS engine, m->>'pgvision.input_type' AS input_type
  FROM (SELECT substring(encode(cv_export(:it8, 'tflite'), 'escape') FROM '(\{\s+"pgvision\.format"[^}]*\})')::jsonb AS m) j;

-- Leave the database as we found it.
SELECT count(cv_delete_project(name)) AS projects_deleted FROM cv_projects;
SELECT count(*) AS iterations_left FROM cv_iteration_store;
SELECT cv_drop_backbone('mobilenet_v1');
