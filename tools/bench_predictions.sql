-- Stored predictions: what store => true costs per call, against the
-- plain by-name form and store => false, on the photos of one
-- classification set (psql variables dir, domain, rounds).  The modes run
-- interleaved, round after round, in one session, so that a busy machine
-- slows them alike; each figure is the median of the rounds.  Between
-- rounds the stored rows are deleted (untimed), so "store" inserts new
-- rows every round; "store again" then stores the same bytes a second
-- time, which replaces the results of the row waiting for review.
-- A benchmark, not a test: it prints figures and asserts nothing.
\set ON_ERROR_STOP on
SET client_min_messages = warning;
SELECT cv_delete_project(name) FROM cv_projects WHERE name = 'bench_predictions';
CREATE TEMP TABLE photos AS
SELECT row_number() OVER (ORDER BY split_part(line, ',', 1)) AS n, split_part(line, ',', 2) AS tag,
       pg_read_binary_file(:'dir' || '/' || split_part(line, ',', 1)) AS bytes
  FROM regexp_split_to_table(pg_read_file(:'dir' || '/manifest.csv'), E'\r?\n') AS line
 WHERE line LIKE 'images/%';
SELECT cv_create_project('bench_predictions', domain => :'domain') IS NOT NULL AS created;
SELECT count(cv_add_image('bench_predictions', bytes, string_to_array(tag, ';'))) AS images FROM photos;
SELECT cv_publish(cv_train('bench_predictions', wait => true), 'bench');
-- warm the model and extractor caches
SELECT count(*) FROM photos, cv_predict('bench_predictions', bytes);

CREATE TEMP TABLE timings (round integer, mode text, ms_per_call float8);
DO $$
DECLARE
	v_rounds integer := current_setting('bench.rounds')::integer;
	v_calls integer := (SELECT count(*) FROM photos);
	v_start timestamptz;
	v_mode text;
	v_n bigint;
BEGIN
	FOR r IN 1 .. v_rounds LOOP
		DELETE FROM cv_prediction_store;
		FOREACH v_mode IN ARRAY ARRAY['plain', 'store => false', 'store', 'store again'] LOOP
			v_start := clock_timestamp();
			IF v_mode = 'plain' THEN
				SELECT count(*) INTO v_n FROM photos, cv_predict('bench_predictions', bytes);
			ELSIF v_mode = 'store => false' THEN
				SELECT count(*) INTO v_n FROM photos, cv_predict('bench_predictions', bytes, store => false);
			ELSE
				SELECT count(*) INTO v_n FROM photos, cv_predict('bench_predictions', bytes, store => true);
			END IF;
			INSERT INTO timings VALUES (r, v_mode,
				extract(epoch FROM clock_timestamp() - v_start) * 1000 / v_calls);
		END LOOP;
	END LOOP;
END;
$$;
SELECT count(*) AS photos, round(avg(octet_length(bytes)) / 1024) AS avg_kib,
       (SELECT count(*) FROM cv_prediction_store) AS stored_rows FROM photos;
SELECT mode, round(percentile_cont(0.5) WITHIN GROUP (ORDER BY ms_per_call)::numeric, 2) AS median_ms_per_call,
       round((percentile_cont(0.5) WITHIN GROUP (ORDER BY ms_per_call)
              / (SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY t2.ms_per_call) FROM timings t2 WHERE t2.mode = 'plain'))::numeric, 2)
         AS against_plain,
       round(min(ms_per_call)::numeric, 2) AS min_ms, round(max(ms_per_call)::numeric, 2) AS max_ms
  FROM timings GROUP BY mode ORDER BY min(ms_per_call);
SELECT cv_delete_project('bench_predictions');
