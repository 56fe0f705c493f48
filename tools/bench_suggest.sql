-- Active learning with cv_suggest: does labelling in suggestion order
-- teach a classifier more than labelling the same number of images in
-- random order?  On a classification set of the shared datasets (psql
-- variables dir, domain; settings bench.seeds, bench.pool, bench.test,
-- bench.rounds, bench.batch, bench.per_tag: at most that many photos of
-- each tag, the first by md5 of the file name, 0 for all of them;
-- bench.first_seed: the seeds are first_seed .. first_seed + seeds - 1):
--   for each seed, a random test set and a random pool of unlabelled
--   images; the same labelled start, 5 photos of each tag, in two projects
--   that hold the pool as images without tags;
--   then round after round, label bench.batch pool images with their true
--   tags, chosen in three projects by three orders: "spread" takes
--   cv_suggest's batch (uncertain and spread out), "margin" the most
--   uncertain of cv_suggest's rows (its order before the spread, and what
--   it still is for detection), "random" at random;
--   retrain each (cv_train, waiting) and measure the latest model's
--   accuracy (top tag) on the test set.
-- A benchmark, not a test: it prints figures and asserts nothing.  It
-- commits after every training (see below): run it outside a transaction.
\set ON_ERROR_STOP on
SET client_min_messages = warning;
SELECT count(cv_delete_project(name)) AS old_projects FROM cv_projects WHERE name LIKE 'bench_suggest_%';
-- "spread" is cv_suggest's batch under this setting; "margin" asks for
-- more rows than the pool holds, which leaves nothing to choose.
SET pgvision.suggest_order = spread;
CREATE TEMP TABLE photos AS
SELECT split_part(line, ',', 1) AS file, split_part(line, ',', 2) AS tag
  FROM regexp_split_to_table(pg_read_file(:'dir' || '/manifest.csv'), E'\r?\n') AS line
 WHERE line LIKE 'images/%';
DELETE FROM photos p
 WHERE current_setting('bench.per_tag')::integer > 0
   AND (SELECT count(*) FROM photos q WHERE q.tag = p.tag AND md5(q.file) < md5(p.file)) >= current_setting('bench.per_tag')::integer;
SELECT tag, count(*) AS photos FROM photos GROUP BY tag ORDER BY tag;
CREATE TEMP TABLE results (seed integer, strategy text, labels integer, accuracy float8, seconds float8);
CREATE TEMP TABLE pool (project text, image_id bigint, tag text);

CREATE FUNCTION pg_temp.accuracy(iteration bigint, test text[]) RETURNS float8
LANGUAGE sql AS $$
	SELECT avg((p.tag = split_part(t, '|', 2))::int)
	  FROM unnest(test) t,
	       LATERAL (SELECT q.tag FROM cv_predict((SELECT s.model FROM cv_iteration_store s WHERE s.id = iteration),
	                                             pg_read_binary_file(current_setting('bench.dir') || '/' || split_part(t, '|', 1))) q
	                 LIMIT 1) p
$$;

SELECT set_config('bench.dir', :'dir', false) IS NOT NULL AS dir_set;
SELECT set_config('bench.domain', :'domain', false) IS NOT NULL AS domain_set;
DO $$
DECLARE
	v_seeds integer := current_setting('bench.seeds')::integer;
	v_first integer := current_setting('bench.first_seed')::integer;
	v_pool integer := current_setting('bench.pool')::integer;
	v_test integer := current_setting('bench.test')::integer;
	v_rounds integer := current_setting('bench.rounds')::integer;
	v_batch integer := current_setting('bench.batch')::integer;
	v_dir text := current_setting('bench.dir');
	v_test_set text[];
	v_project text;
	v_it bigint;
	v_start timestamptz;
	v_labels integer;
BEGIN
	FOR seed IN v_first .. v_first + v_seeds - 1 LOOP
		-- The split of this seed: md5 of the file and the seed orders the set.
		CREATE TEMP TABLE split AS
		SELECT p.file, p.tag, row_number() OVER (ORDER BY md5(p.file || seed)) AS n,
		       row_number() OVER (PARTITION BY p.tag ORDER BY md5(p.file || seed)) AS n_in_tag
		  FROM photos p;
		SELECT array_agg(s.file || '|' || s.tag) INTO v_test_set FROM split s WHERE s.n <= v_test;
		FOREACH v_project IN ARRAY ARRAY['bench_suggest_spread', 'bench_suggest_margin', 'bench_suggest_random'] LOOP
			PERFORM cv_create_project(v_project, domain => current_setting('bench.domain'));
			-- the start: 5 of each tag, outside the test set
			PERFORM cv_add_image(v_project, pg_read_binary_file(v_dir || '/' || s.file), ARRAY[s.tag])
			   FROM (SELECT s.*, row_number() OVER (PARTITION BY s.tag ORDER BY s.n) AS k
			           FROM split s WHERE s.n > v_test) s
			  WHERE s.k <= 5;
			-- the pool: the next v_pool photos, without tags
			INSERT INTO pool
			SELECT v_project, cv_add_image(v_project, pg_read_binary_file(v_dir || '/' || s.file)), s.tag
			  FROM split s
			 WHERE s.n > v_test
			   AND s.file NOT IN (SELECT i.file FROM (SELECT s2.file, row_number() OVER (PARTITION BY s2.tag ORDER BY s2.n) AS k
			                                            FROM split s2 WHERE s2.n > v_test) i WHERE i.k <= 5)
			 ORDER BY s.n LIMIT v_pool;
			FOR r IN 0 .. v_rounds LOOP
				IF r > 0 THEN
					-- label a batch with the true tags
					IF v_project = 'bench_suggest_spread' THEN
						PERFORM cv_tag_image(g.image_id, ARRAY[p.tag])
						   FROM cv_suggest(v_project, v_batch) g JOIN pool p ON p.image_id = g.image_id;
					ELSIF v_project = 'bench_suggest_margin' THEN
						-- a limit above the pool: every row, nothing spread
						PERFORM cv_tag_image(g.image_id, ARRAY[p.tag])
						   FROM (SELECT * FROM cv_suggest(v_project, v_pool + 1) g
						          ORDER BY g.uncertainty DESC, g.image_id LIMIT v_batch) g
						   JOIN pool p ON p.image_id = g.image_id;
					ELSE
						PERFORM cv_tag_image(p.image_id, ARRAY[p.tag])
						   FROM pool p
						  WHERE p.project = v_project
						    AND NOT EXISTS (SELECT 1 FROM cv_image_tags it WHERE it.image_id = p.image_id)
						  ORDER BY md5(p.image_id::text || seed || r) LIMIT v_batch;
					END IF;
				END IF;
				v_start := clock_timestamp();
				v_it := cv_train(v_project, wait => true);
				SELECT count(*) INTO v_labels FROM cv_image_tags it JOIN cv_tags t ON t.id = it.tag_id
				  JOIN cv_projects pr ON pr.id = t.project_id WHERE pr.name = v_project;
				INSERT INTO results VALUES (seed, replace(v_project, 'bench_suggest_', ''), v_labels,
				                            pg_temp.accuracy(v_it, v_test_set),
				                            extract(epoch FROM clock_timestamp() - v_start));
				-- A waiting training holds its lock to the end of the
				-- transaction, and counts as running until then: commit
				-- before the next (pgvision.max_training_workers of them
				-- in one transaction would wait for each other for ever).
				COMMIT;
			END LOOP;
			PERFORM cv_delete_project(v_project);
		END LOOP;
		DROP TABLE split;
		DELETE FROM pool;
	END LOOP;
END;
$$;
SELECT labels, strategy, count(*) AS seeds, round(avg(accuracy)::numeric, 3) AS mean_accuracy,
       round(min(accuracy)::numeric, 3) AS min_accuracy, round(max(accuracy)::numeric, 3) AS max_accuracy
  FROM results GROUP BY labels, strategy ORDER BY labels, strategy;
-- Per seed and number of labels: each order minus random.
SELECT u.strategy, u.labels, count(*) AS seeds, round(avg(u.accuracy - r.accuracy)::numeric, 3) AS mean_gain,
       count(*) FILTER (WHERE u.accuracy > r.accuracy) AS order_better,
       count(*) FILTER (WHERE u.accuracy < r.accuracy) AS random_better
  FROM results u JOIN results r ON r.seed = u.seed AND r.labels = u.labels AND r.strategy = 'random'
 WHERE u.strategy <> 'random'
 GROUP BY u.strategy, u.labels ORDER BY u.strategy, u.labels;
-- Spread minus margin, per seed and number of labels.
SELECT u.labels, count(*) AS seeds, round(avg(u.accuracy - r.accuracy)::numeric, 3) AS mean_gain,
       count(*) FILTER (WHERE u.accuracy > r.accuracy) AS spread_better,
       count(*) FILTER (WHERE u.accuracy < r.accuracy) AS margin_better
  FROM results u JOIN results r ON r.seed = u.seed AND r.labels = u.labels AND r.strategy = 'margin'
 WHERE u.strategy = 'spread'
 GROUP BY u.labels ORDER BY u.labels;
-- Every figure, for the record.
SELECT seed, labels, string_agg(strategy || ' ' || round(accuracy::numeric, 3), ', ' ORDER BY strategy) AS accuracy
  FROM results GROUP BY seed, labels ORDER BY seed, labels;
SELECT round(sum(seconds)::numeric) AS training_seconds FROM results;
