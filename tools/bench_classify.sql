-- One classification benchmark run (called by tools/bench_classify.sh):
-- psql variables: dir (the dataset folder), set (its name), domain.
-- Split: per tag combination, files sorted by name; the i-th (from 0) goes
-- to the test part when floor(3(i+1)/10) > floor(3i/10), else to training:
-- 30% spread evenly through the list, at least 2 of 7.
\set ON_ERROR_STOP 1
\set QUIET 1
\pset footer off
SELECT :'set' || '_' || :'domain' AS project \gset
SELECT count(cv_delete_project(name)) FROM cv_projects WHERE name = :'project' \g /dev/null

CREATE TEMP TABLE split AS
SELECT file, tags, (3 * i + 3) / 10 > (3 * i) / 10 AS is_test
  FROM (SELECT file, tags, row_number() OVER (PARTITION BY tags ORDER BY file) - 1 AS i
  FROM (SELECT split_part(line, ',', 1) AS file,
               string_to_array(split_part(line, ',', 2), ';') AS tags
          FROM regexp_split_to_table(pg_read_file(:'dir' || '/manifest.csv'), E'\r?\n') AS line
         WHERE line <> '' AND line NOT LIKE 'file,%') m) n;
SELECT CASE WHEN max(cardinality(tags)) > 1 THEN 'multilabel' ELSE 'multiclass' END AS task FROM split \gset
SELECT cv_create_project(:'project', task => :'task', domain => :'domain') \g /dev/null
SELECT count(cv_add_image(:'project', pg_read_binary_file(:'dir' || '/' || file), tags)) AS n_train FROM split WHERE NOT is_test \gset

-- Train in a background worker and time it from cv_train to completed.
SELECT clock_timestamp() AS t0 \gset
SELECT cv_train(:'project') AS it \gset
SET bench.it = :'it';
DO $$
BEGIN
	-- DO blocks take no psql variables: the id comes in through bench.it.
	LOOP
		PERFORM pg_sleep(0.02);
		EXIT WHEN (SELECT status FROM cv_iterations WHERE id = current_setting('bench.it')::bigint)
		          IN ('completed', 'failed', 'canceled');
	END LOOP;
END $$;
SELECT status, message, extract(epoch FROM finished_at - :'t0'::timestamptz) AS train_s
  FROM cv_iterations WHERE id = :it \gset
\if `test :'status' = completed && echo 1 || echo 0`
\else
\echo :set :domain training :status: :message
\quit
\endif

-- Predict the held-out 30%: every tag's probability per image, timed.
CREATE TEMP TABLE test_bytes AS
SELECT file, tags, pg_read_binary_file(:'dir' || '/' || file) AS bytes FROM split WHERE is_test;
-- First prediction in this connection (loads the model and the domain).
SELECT clock_timestamp() AS c0 \gset
SELECT count(*) FROM (SELECT * FROM cv_predict((SELECT model FROM cv_iterations WHERE id = :it),
                                               (SELECT bytes FROM test_bytes ORDER BY file LIMIT 1))) s \g /dev/null
SELECT extract(epoch FROM clock_timestamp() - :'c0'::timestamptz) * 1000 AS first_ms \gset
SELECT clock_timestamp() AS p0 \gset
CREATE TEMP TABLE predictions AS
SELECT t.file, t.tags AS truth, p.tag, p.probability
  FROM test_bytes t, cv_predict((SELECT model FROM cv_iterations WHERE id = :it), t.bytes) p;
SELECT extract(epoch FROM clock_timestamp() - :'p0'::timestamptz) * 1000 / (SELECT count(*) FROM test_bytes) AS ms_per_image \gset

-- Accuracy: multiclass top-1; multilabel exact set at threshold 0.5.
SELECT round(100.0 * avg(ok::int), 1) AS accuracy, count(*) AS n FROM (
	SELECT file, CASE WHEN :'task' = 'multiclass'
	                  THEN (array_agg(tag ORDER BY probability DESC))[1] = ANY (truth)
	                  ELSE coalesce(array_agg(tag ORDER BY tag) FILTER (WHERE probability >= 0.5), '{}')
	                       = (SELECT array_agg(x ORDER BY x) FROM unnest(truth) x) END AS ok
	  FROM predictions GROUP BY file, truth) s \gset
\echo
\t on
SELECT format('%s (%s, domain %s): train %s / test %s images, accuracy %s%%, training %s s, %s ms/prediction (first call %s ms)',
              :'set', :'task', :'domain', :n_train, :n, :accuracy, round(:train_s::numeric, 2),
              round(:ms_per_image::numeric, 1), round(:first_ms::numeric, 1));
\t off
-- Per tag on the test part, at threshold 0.5 (multiclass: the top tag).
SELECT tag, count(*) FILTER (WHERE predicted AND actual) AS tp,
       count(*) FILTER (WHERE predicted AND NOT actual) AS fp,
       count(*) FILTER (WHERE NOT predicted AND actual) AS fn,
       round(count(*) FILTER (WHERE predicted AND actual)::numeric / nullif(count(*) FILTER (WHERE predicted), 0), 3) AS precision,
       round(count(*) FILTER (WHERE predicted AND actual)::numeric / nullif(count(*) FILTER (WHERE actual), 0), 3) AS recall
  FROM (SELECT p.tag, p.tag = ANY (p.truth) AS actual,
               CASE WHEN :'task' = 'multiclass'
                    THEN p.probability = max(p.probability) OVER (PARTITION BY p.file)
                    ELSE p.probability >= 0.5 END AS predicted
          FROM predictions p) s
 GROUP BY tag ORDER BY tag;
