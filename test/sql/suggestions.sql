-- Suggestions (docs/predictions.md): cv_suggest lists the unlabelled
-- images of a project (images added without tags, and stored predictions
-- waiting for review) with the latest completed iteration's suggested
-- tags, the most uncertain first; cv_accept_suggestion labels one with
-- them.  They survive a retrain (the next suggestions come from the new
-- iteration; stored and adopted predictions stay as they were).  Every
-- error, and what a reader and a stranger may do.  Detection suggestions
-- are tested in predictions.sql, beside its detector.
\getenv testdata PGVISION_TESTDATA
\getenv shared PGVISION_SHARED
\set helpers :testdata '/../psql/setup.psql'
\i :helpers
\set trees :shared '/datasets/azure-trees-cls/'
\set fruit :shared '/datasets/mslearn-fruit-cls/images/'

CREATE TABLE pg_temp.photos AS
SELECT split_part(line, ',', 1) AS file, split_part(line, ',', 2) AS tag,
       pg_read_binary_file(:'trees' || split_part(line, ',', 1)) AS bytes,
       split_part(line, ',', 1) ~ '_(9|10)\.jpg$' AS held_back
  FROM regexp_split_to_table(pg_read_file(:'trees' || 'manifest.csv'), E'\r?\n') AS line
 WHERE line LIKE 'images/%';
CREATE TABLE pg_temp.others AS
SELECT n, pg_read_binary_file(:'fruit' || f) AS bytes
  FROM unnest('{apple/IMG_20200229_164759.jpg,banana/IMG_20200229_164947.jpg,orange/IMG_20200229_165108.jpg}'::text[])
       WITH ORDINALITY u(f, n);
CREATE ROLE regress_cv_sugg_owner;
CREATE ROLE regress_cv_sugg_reader;
CREATE ROLE regress_cv_sugg_stranger;
GRANT pgvision_user TO regress_cv_sugg_owner, regress_cv_sugg_reader, regress_cv_sugg_stranger;
GRANT SELECT ON pg_temp.photos, pg_temp.others TO regress_cv_sugg_owner, regress_cv_sugg_reader, regress_cv_sugg_stranger;
SET ROLE regress_cv_sugg_owner;

-- 10 tagged photos, the 4 held back added without tags.
SELECT cv_create_project('trees') > 0 AS created;
SELECT count(cv_add_image('trees', bytes, CASE WHEN held_back THEN '{}' ELSE ARRAY[tag] END)) AS added FROM pg_temp.photos;
SELECT count(*) AS untagged FROM cv_untagged_images WHERE project = 'trees';
-- Nothing to suggest from before a training.
SELECT pg_temp.expect_error($$SELECT * FROM cv_suggest('trees')$$);
SELECT cv_train('trees', wait => true) AS it \gset
SELECT cv_publish(:it, 'production');
-- A stored prediction waits for review too.
SELECT DISTINCT prediction_id AS pred FROM cv_predict('trees', (SELECT bytes FROM pg_temp.others WHERE n = 1), store => true) \gset

-- Every unlabelled image once, from the latest iteration; with no more
-- candidates than the limit, the most uncertain first; multiclass
-- uncertainty is one minus the margin between the two most probable tags;
-- the suggestion is the top tag.
SELECT count(*) AS suggestions, count(image_id) AS images, count(prediction_id) AS predictions,
       bool_and(iteration_id = :it) AS latest_iteration,
       bool_and(uncertainty BETWEEN 0 AND 1) AS in_range,
       bool_and(jsonb_array_length(suggestions) = 1 AND suggestions -> 0 ->> 'tag' = top_tag) AS top_tag_suggested
  FROM cv_suggest('trees');
SELECT bool_and(s.uncertainty <= s.prev) AS most_uncertain_first
  FROM (SELECT g.uncertainty, lag(g.uncertainty) OVER (ORDER BY g.n) AS prev
          FROM cv_suggest('trees') WITH ORDINALITY g(image_id, prediction_id, iteration_id, uncertainty, top_tag,
                                                       top_probability, suggestions, n)) s
 WHERE s.prev IS NOT NULL;
SELECT bool_and(abs(g.uncertainty - (1 - (p.p1 - p.p2))) < 1e-6) AS margin
  FROM cv_suggest('trees') g
  JOIN cv_images i ON i.id = g.image_id,
       LATERAL (SELECT max(probability) AS p1, min(probability) AS p2
                  FROM cv_predict((SELECT model FROM cv_iterations WHERE id = :it), i.image)) p;
-- A limit below the candidates: the most uncertain (pgvision.suggest_order
-- margin, the default), or a batch spread over them (spread: the stored
-- prediction's vector computed on the fly), each candidate at most once.
SELECT array_agg(coalesce(image_id, -prediction_id)) = (SELECT (array_agg(coalesce(image_id, -prediction_id)))[1:2] FROM cv_suggest('trees'))
       AS most_uncertain, count(*) AS limited
  FROM cv_suggest('trees', 2);
SET pgvision.suggest_order = spread;
SELECT count(*) AS limited, count(DISTINCT coalesce(image_id, -prediction_id)) AS distinct_candidates
  FROM cv_suggest('trees', 2);
RESET pgvision.suggest_order;
SELECT pg_temp.expect_error($$SELECT * FROM cv_suggest('trees', 0)$$);
SELECT pg_temp.expect_error($$SELECT * FROM cv_suggest('trees', NULL)$$);
SELECT pg_temp.expect_error($$SELECT * FROM cv_suggest('nosuch')$$);
SELECT pg_temp.expect_error($$SELECT * FROM cv_suggest(NULL)$$);

-- Accepting: the most uncertain image takes its suggested tag and leaves
-- the list; a stored prediction is adopted with the tag suggested now.
SELECT image_id AS first, top_tag AS first_tag FROM cv_suggest('trees') WHERE image_id IS NOT NULL LIMIT 1 \gset
SELECT cv_accept_suggestion(:first) = :first AS same_image;
SELECT array_agg(t.name) = ARRAY[:'first_tag'] AS tagged_as_suggested
  FROM cv_image_tags it JOIN cv_tags t ON t.id = it.tag_id WHERE it.image_id = :first;
SELECT count(*) AS listed FROM cv_suggest('trees') WHERE image_id = :first;
SELECT pg_temp.expect_error(format('SELECT cv_accept_suggestion(%s)', :first));
SELECT top_tag AS pred_tag FROM cv_suggest('trees') WHERE prediction_id = :pred \gset
SELECT cv_accept_suggestion(prediction_id => :pred) AS pred_image \gset
SELECT array_agg(t.name) = ARRAY[:'pred_tag'] AS adopted_as_suggested
  FROM cv_image_tags it JOIN cv_tags t ON t.id = it.tag_id WHERE it.image_id = :pred_image;
SELECT adopted_image_id = :pred_image AS marked_adopted FROM cv_prediction_store WHERE id = :pred;
SELECT pg_temp.expect_error(format('SELECT cv_accept_suggestion(prediction_id => %s)', :pred));
SELECT pg_temp.expect_error('SELECT cv_accept_suggestion()');
SELECT pg_temp.expect_error(format('SELECT cv_accept_suggestion(%s, %s)', :first, :pred));
SELECT pg_temp.expect_error('SELECT cv_accept_suggestion(-1)');
SELECT pg_temp.expect_error('SELECT cv_accept_suggestion(prediction_id => -1)');

-- A retrain: the next suggestions come from it; the stored prediction
-- waiting for review and the adopted one stay as they were.
SELECT DISTINCT prediction_id AS pending FROM cv_predict('trees', (SELECT bytes FROM pg_temp.others WHERE n = 2), store => true) \gset
SELECT cv_train('trees', wait => true) AS it2 \gset
SELECT count(*) AS suggestions, bool_and(iteration_id = :it2) AS from_the_retrain,
       count(*) FILTER (WHERE prediction_id = :pending) AS pending_listed
  FROM cv_suggest('trees');
SELECT iteration_id = :it AS stored_with_its_iteration FROM cv_predictions WHERE id = :pending;
SELECT adopted_image_id = :pred_image AS still_adopted FROM cv_prediction_store WHERE id = :pred;
SELECT image_count FROM cv_iterations WHERE id = :it2;
-- A failed or queued iteration is not "the latest": suggestions keep
-- coming from the latest completed one.
INSERT INTO cv_iteration_store (project_id, task, domain, status)
SELECT id, task, domain, 'failed' FROM cv_projects WHERE name = 'trees';
SELECT bool_and(iteration_id = :it2) AS latest_completed FROM cv_suggest('trees');

-- Multilabel: the suggestion is every tag at or above the threshold.
SELECT cv_create_project('trees_ml', task => 'multilabel') > 0 AS created;
SELECT count(cv_add_image('trees_ml', bytes,
                          CASE WHEN held_back THEN '{}' WHEN tag = 'Hemlock' THEN ARRAY['tree', 'conifer']
                               ELSE ARRAY['tree', 'blossom'] END)) AS added
  FROM pg_temp.photos;
SELECT cv_train('trees_ml', wait => true) AS ml \gset
SELECT bool_and(g.suggestions = (SELECT jsonb_agg(jsonb_build_object('tag', p.tag, 'probability', p.probability) ORDER BY p.n)
                                   FROM cv_predict((SELECT model FROM cv_iterations WHERE id = :ml), i.image) WITH ORDINALITY p(tag, probability, n)
                                  WHERE p.probability >= 0.5)) AS tags_at_threshold,
       bool_and(abs(g.uncertainty - (1 - (SELECT min(abs(p.probability - 0.5)) / 0.5
                                           FROM cv_predict((SELECT model FROM cv_iterations WHERE id = :ml), i.image) p))) < 1e-6)
         AS distance_from_threshold
  FROM cv_suggest('trees_ml') g JOIN cv_images i ON i.id = g.image_id;
SELECT image_id AS ml_first, suggestions AS ml_suggested FROM cv_suggest('trees_ml', 1) \gset
SELECT cv_accept_suggestion(:ml_first) = :ml_first AS same_image;
SELECT array_agg(t.name ORDER BY t.name) = (SELECT array_agg(e ->> 'tag' ORDER BY e ->> 'tag') FROM jsonb_array_elements(:'ml_suggested') e)
       AS every_suggested_tag
  FROM cv_image_tags it JOIN cv_tags t ON t.id = it.tag_id WHERE it.image_id = :ml_first;

-- The spread, worked by hand: of the held-back photos, the one the model
-- is least sure of is added a second time (the same pixels behind a
-- JPEG comment, so other bytes but the same features and uncertainty),
-- so the most-uncertain-first order
-- starts with both copies.  A batch of 4 of these 5 candidates is the 4
-- distinct photos: k-means++ seeding never draws a copy of a centre
-- while a distinct photo is left, and each photo is then a cluster of
-- its own.  The copies' cluster weighs twice the highest uncertainty, so
-- it comes first, by its earlier copy (the smaller id); the three others
-- follow by uncertainty, each alone.  That is the margin order with the
-- second copy left out (pgvision.suggest_order = spread).
SELECT cv_create_project('copies') > 0 AS created;
SELECT count(cv_add_image('copies', bytes, CASE WHEN held_back THEN '{}' ELSE ARRAY[tag] END)) AS added FROM pg_temp.photos;
SELECT cv_train('copies', wait => true) IS NOT NULL AS trained;
SELECT image_id AS unsure FROM cv_suggest('copies') LIMIT 1 \gset
SET client_min_messages = warning;
SELECT cv_add_image('copies', '\xffd8fffe0006636f7079'::bytea || substring(image::bytea FROM 3)) AS copy
  FROM cv_images WHERE id = :unsure \gset
RESET client_min_messages;
CREATE TEMP TABLE margin_order AS
SELECT g.image_id, g.uncertainty, g.n FROM cv_suggest('copies') WITH ORDINALITY g(image_id, prediction_id, iteration_id, uncertainty,
                                                                                 top_tag, top_probability, suggestions, n);
SELECT array_agg(image_id ORDER BY n) FILTER (WHERE n <= 2) = ARRAY[:unsure, :copy]::bigint[] AS margin_starts_with_both_copies,
       count(*) AS candidates
  FROM margin_order;
-- pgvision.suggest_order = margin (the default): the first 4, both copies.
SELECT array_agg(g.image_id ORDER BY g.n) = (SELECT array_agg(m.image_id ORDER BY m.n) FROM margin_order m WHERE m.n <= 4)
       AS margin_batch, count(*) FILTER (WHERE g.image_id IN (:unsure, :copy)) AS copies_in_batch
  FROM cv_suggest('copies', 4) WITH ORDINALITY g(image_id, prediction_id, iteration_id, uncertainty, top_tag, top_probability, suggestions, n);
SET pgvision.suggest_order = spread;
SELECT array_agg(g.image_id ORDER BY g.n) = (SELECT array_agg(m.image_id ORDER BY m.n) FROM margin_order m WHERE m.image_id <> :copy)
       AS spread_is_margin_without_the_copy,
       count(*) FILTER (WHERE g.image_id IN (:unsure, :copy)) AS copies_in_batch
  FROM cv_suggest('copies', 4) WITH ORDINALITY g(image_id, prediction_id, iteration_id, uncertainty, top_tag, top_probability, suggestions, n);
-- The same call, the same batch.
SELECT (SELECT array_agg(image_id) FROM cv_suggest('copies', 4)) = (SELECT array_agg(image_id) FROM cv_suggest('copies', 4)) AS deterministic;
RESET pgvision.suggest_order;
-- The helper checks what it is given.
SELECT pg_temp.expect_error($$SELECT cv_suggest_spread('copies', '{1,2}', '{NULL}', '{0.5,0.5}', 1)$$);
SELECT pg_temp.expect_error($$SELECT cv_suggest_spread('copies', '{1}', '{1}', '{0.5}', 1)$$);
SELECT pg_temp.expect_error($$SELECT cv_suggest_spread('copies', '{1}', '{NULL}', '{0.5}', 0)$$);
SELECT pg_temp.expect_error($$SELECT cv_suggest_spread('nosuch', '{1}', '{NULL}', '{0.5}', 1)$$);

-- A reader reads suggestions but may not accept them; a stranger finds
-- nothing.
SELECT cv_share_project('trees', 'regress_cv_sugg_reader');
SELECT image_id AS target FROM cv_suggest('trees') WHERE image_id IS NOT NULL LIMIT 1 \gset
SET ROLE regress_cv_sugg_reader;
SELECT count(*) > 0 AS reads FROM cv_suggest('trees');
SELECT pg_temp.expect_error(format('SELECT cv_accept_suggestion(%s)', :target));
SELECT pg_temp.expect_error(format('SELECT cv_accept_suggestion(prediction_id => %s)', :pending));
SET ROLE regress_cv_sugg_stranger;
SELECT pg_temp.expect_error($$SELECT * FROM cv_suggest('trees')$$);
SELECT pg_temp.expect_error(format('SELECT cv_accept_suggestion(%s)', :target));
SELECT pg_temp.expect_error(format('SELECT cv_accept_suggestion(prediction_id => %s)', :pending));
SET ROLE regress_cv_sugg_owner;
SELECT count(*) AS untouched FROM cv_untagged_images WHERE image_id = :target;

SELECT count(cv_delete_project(name)) AS projects_deleted FROM cv_projects;
RESET ROLE;
DROP OWNED BY regress_cv_sugg_owner, regress_cv_sugg_reader, regress_cv_sugg_stranger;
DROP ROLE regress_cv_sugg_owner, regress_cv_sugg_reader, regress_cv_sugg_stranger;
