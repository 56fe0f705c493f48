-- pgvision quickstart demo: what a user does, start to end, on images the
-- demo draws itself (tools/demo_images.sql).
\set ON_ERROR_STOP 1
\pset footer off
\echo
\echo '== CREATE EXTENSION pgvision'
DROP EXTENSION IF EXISTS pgvision CASCADE;
CREATE EXTENSION pgvision;
\ir demo_images.sql

\echo '== a multiclass project with three tags, 20 photos each'
SELECT cv_create_project('shapes') AS project_id;
SELECT cv_add_image('shapes', pg_temp.demo_image(shape, seed), tags => ARRAY[shape])
  FROM unnest(ARRAY['circle', 'square', 'triangle']) AS shape, generate_series(1, 20) AS seed
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

\echo '== train (the waiting form, for scripts; cv_train(''shapes'') alone returns at once and a background worker trains)'
\timing on
SELECT cv_train('shapes', wait => true) AS iteration \gset
\timing off
SELECT id, status, image_count, tag_count, folds, round(precision::numeric, 3) AS precision,
       round(recall::numeric, 3) AS recall, round(mean_ap::numeric, 3) AS mean_ap, training_time
  FROM cv_iterations WHERE id = :iteration;

\echo '== held-out performance per tag (the overall row has no tag), at the default threshold and at 0.3'
SELECT tag, round(precision::numeric, 3) AS precision, round(recall::numeric, 3) AS recall,
       round(average_precision::numeric, 3) AS average_precision, image_count
  FROM cv_performance(:iteration);
SELECT tag, round(precision::numeric, 3) AS precision, round(recall::numeric, 3) AS recall
  FROM cv_performance(:iteration, threshold => 0.3);

\echo '== publish, then predict new drawings by project name'
SELECT cv_publish(:iteration, 'production');
SELECT shape AS drawn, p.tag AS predicted, round(p.probability::numeric, 3) AS probability
  FROM unnest(ARRAY['circle', 'square', 'triangle']) AS shape,
       LATERAL (SELECT * FROM cv_predict('shapes', pg_temp.demo_image(shape, 1000)) LIMIT 1) p;

\echo '== classify rows as they are inserted, with a trigger'
CREATE TABLE drawings (id serial PRIMARY KEY, picture bytea, label text, confidence real);
CREATE FUNCTION label_drawing() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	SELECT tag, probability INTO NEW.label, NEW.confidence FROM cv_predict('shapes', NEW.picture) LIMIT 1;
	RETURN NEW;
END $$;
CREATE TRIGGER label_drawing BEFORE INSERT ON drawings FOR EACH ROW EXECUTE FUNCTION label_drawing();
INSERT INTO drawings (picture) SELECT pg_temp.demo_image(s, 2000 + n)
  FROM unnest(ARRAY['circle', 'square', 'triangle']) AS s, generate_series(1, 2) AS n;
SELECT id, label, round(confidence::numeric, 3) AS confidence FROM drawings ORDER BY id;
DROP TABLE drawings;
DROP FUNCTION label_drawing();
