-- tools/load_setup.sql: the database tools/load.sh runs its load in (psql,
-- as a superuser: it reads photos from the server's disk).
--   psql -v shared=DIR -v domain=mobilenet_v2|compact -f tools/load_setup.sql
-- Makes
--   'load'            the project the clients predict by name: 3 clothing
--                     tags x 15 photos, trained once and published
--   load_photos       60 other photos of those tags (id 1..60), the shared
--                     set every client picks from
--   load_trainers     four projects of 2 tags x 40 photos that take turns
--                     training while the clients predict
--   load_keep_training()   queues a training of each of those that has
--                     none queued or running (2 run, 2 wait); returns how
--                     many run
--   load_stop_training()   cancels those still queued or running
--   load_expect_rows(n, expected)   the pgbench transaction's check
\set ON_ERROR_STOP on
SET client_min_messages = warning;
CREATE EXTENSION pgvision;

SELECT :'domain' = 'compact' AS builtin \gset
\if :builtin
\else
SELECT cv_import_backbone('mobilenet_v2',
                          pg_read_binary_file(:'shared' || '/models/mobilenet_v2_1.0_224_quant.tflite'));
\endif

-- The clothing set's manifest, the photos numbered within each tag.
CREATE TABLE load_clothing AS
SELECT file, tag, n FROM (
  SELECT :'shared' || '/datasets/clothing-small/' || split_part(l, ',', 1) AS file,
         split_part(l, ',', 2) AS tag,
         row_number() OVER (PARTITION BY split_part(l, ',', 2) ORDER BY l) AS n
    FROM regexp_split_to_table(pg_read_file(:'shared' || '/datasets/clothing-small/manifest.csv'), E'\r?\n') l
   WHERE l LIKE 'images/%') s
 WHERE n <= 40;

SELECT cv_create_project('load', domain => :'domain');
SELECT count(cv_add_image('load', pg_read_binary_file(file), ARRAY[tag]))
  FROM load_clothing WHERE tag IN ('hat', 'shoes', 'skirt') AND n <= 15;
SELECT cv_publish(cv_train('load', wait => true), 'load-1');

CREATE TABLE load_photos AS
SELECT row_number() OVER (ORDER BY tag, n)::integer AS id, tag, pg_read_binary_file(file) AS photo
  FROM load_clothing WHERE tag IN ('hat', 'shoes', 'skirt') AND n BETWEEN 16 AND 35;
ALTER TABLE load_photos ADD PRIMARY KEY (id);

-- Four projects that take turns training, listed in load_trainers.
CREATE TABLE load_trainers (project text PRIMARY KEY, tags text[] NOT NULL);
INSERT INTO load_trainers VALUES
	('load-train-1', '{pants,shorts}'), ('load-train-2', '{dress,outwear}'),
	('load-train-3', '{t-shirt,longsleeve}'), ('load-train-4', '{shirt,shorts}');
SELECT count(cv_create_project(project, domain => :'domain')) FROM load_trainers;
SELECT count(cv_add_image(t.project, pg_read_binary_file(c.file), ARRAY[c.tag]))
  FROM load_trainers t JOIN load_clothing c ON c.tag = ANY (t.tags);

-- Two trainings run and two wait queued behind them, so that a worker
-- that finishes one claims the next at once (a training started only once
-- another has ended would leave a slot idle while cv_train and the new
-- worker start, half a second or more under load).  A project is trained
-- again only when it has no training queued or running, its cached
-- features dropped first, so that every training does the feature work.
CREATE FUNCTION load_keep_training() RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE
	p text;
BEGIN
	FOR p IN
		SELECT t.project FROM load_trainers t
		 WHERE NOT EXISTS (SELECT 1 FROM cv_iterations i
		                    WHERE i.project = t.project AND i.status IN ('queued', 'training'))
		 ORDER BY (SELECT max(i.id) FROM cv_iterations i WHERE i.project = t.project) NULLS FIRST, t.project
	LOOP
		DELETE FROM cv_features f USING cv_images i, cv_projects pr
		 WHERE f.image_id = i.id AND i.project_id = pr.id AND pr.name = p;
		PERFORM cv_train(p);
	END LOOP;
	RETURN (SELECT count(*) FROM cv_iterations
	         WHERE project IN (SELECT project FROM load_trainers) AND status = 'training');
END;
$$;

-- At the end: cancel the trainings still queued or running; one that ends
-- meanwhile cannot be canceled, and need not be.
CREATE FUNCTION load_stop_training() RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE
	v_id bigint;
	n integer := 0;
BEGIN
	FOR v_id IN SELECT id FROM cv_iterations
	             WHERE project IN (SELECT project FROM load_trainers) AND status IN ('queued', 'training')
	LOOP
		BEGIN
			PERFORM cv_cancel_training(v_id);
			n := n + 1;
		EXCEPTION WHEN object_not_in_prerequisite_state THEN
			NULL;				-- it has just ended
		END;
	END LOOP;
	RETURN n;
END;
$$;

-- A prediction must return one row per tag of the published model.
CREATE FUNCTION load_expect_rows(n bigint, expected integer) RETURNS bigint
LANGUAGE plpgsql AS $$
BEGIN
	IF n <> expected THEN
		RAISE EXCEPTION 'a prediction returned % rows, expected %', n, expected;
	END IF;
	RETURN n;
END;
$$;
