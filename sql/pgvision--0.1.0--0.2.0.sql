-- pgvision 0.1.0 -> 0.2.0
\echo Use "ALTER EXTENSION pgvision UPDATE TO '0.2.0'" to load this file. \quit

-- cv_predict by project name in C: the published model looked up once per
-- statement instead of once per row (src/pg/predict.c).
CREATE OR REPLACE FUNCTION cv_predict(project text, image bytea, OUT tag text, OUT probability real)
	RETURNS SETOF record
	AS 'MODULE_PATHNAME', 'cv_predict_project' LANGUAGE C STABLE PARALLEL SAFE ROWS 10;
CREATE OR REPLACE FUNCTION cv_predict(project text, image bytea, published_name text, OUT tag text, OUT probability real)
	RETURNS SETOF record
	AS 'MODULE_PATHNAME', 'cv_predict_project_named' LANGUAGE C STABLE PARALLEL SAFE ROWS 10;

-- A model that carries its backbone file (model format version 4), so it
-- predicts on a server that never imported the backbone: a Citus worker
-- (docs/scale-out.md).
CREATE FUNCTION cv_self_contained(model cv_model) RETURNS cv_model
	AS 'MODULE_PATHNAME' LANGUAGE C STABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION cv_self_contained(cv_model) IS 'the same model carrying its backbone file, so that it predicts on any server (a compact model, or one that already carries its file, is returned as it is)';

-- cv_suggest's order: a batch spread over the feature space (weighted
-- k-means over the most uncertain candidates, docs/predictions.md).
-- The spread-out batch (src/pg/suggest.c, src/core/learn/diverse.c): of
-- the candidates, most uncertain first, which k to label and in what order.
CREATE FUNCTION cv_suggest_spread(project text, image_ids bigint[], prediction_ids bigint[],
	uncertainties real[], k integer) RETURNS integer[]
	AS 'MODULE_PATHNAME', 'cv_suggest_spread' LANGUAGE C STABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION cv_suggest_spread(text, bigint[], bigint[], real[], integer) IS 'cv_suggest''s helper: the positions of the k candidates (images or stored predictions, most uncertain first) to label, in the order to label them: the first k, or with pgvision.suggest_order = spread a batch spread over the feature space by weighted k-means';
REVOKE EXECUTE ON FUNCTION cv_suggest_spread(text, bigint[], bigint[], real[], integer) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION cv_suggest_spread(text, bigint[], bigint[], real[], integer) TO pgvision_user;

-- The order (docs/predictions.md, "Suggestions"): the most uncertain
-- first.  With pgvision.suggest_order = spread, classification projects
-- take the "limit" x 10 most uncertain candidates and return a batch of
-- "limit" spread over them (Zhdanov 2019, "Diverse mini-batch Active
-- Learning": k-means weighted by uncertainty over the domain's feature
-- vectors, the candidate nearest each centre, the heaviest cluster
-- first; cv_suggest_spread reads the setting); detection projects, whose
-- cache holds feature maps, keep the most uncertain first.  With no more
-- candidates than "limit" there is nothing to choose: all of them, the
-- most uncertain first.
CREATE OR REPLACE FUNCTION cv_suggest(project text, "limit" integer DEFAULT 100,
	OUT image_id bigint, OUT prediction_id bigint, OUT iteration_id bigint, OUT uncertainty real,
	OUT top_tag text, OUT top_probability real, OUT suggestions jsonb)
	RETURNS SETOF record
LANGUAGE plpgsql STABLE SET search_path = @extschema@, pg_temp AS $$
DECLARE
	v_project cv_projects := cv_project_row(project);
	v_iteration cv_iteration_store;
BEGIN
	IF "limit" IS NULL OR "limit" < 1 THEN
		RAISE EXCEPTION 'limit must be at least 1, not %', coalesce("limit"::text, 'NULL')
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	v_iteration := cv_latest_iteration(v_project);
	RETURN QUERY
	WITH ranked AS MATERIALIZED (
		SELECT c.image_id, c.prediction_id, s.uncertainty, s.top_tag, s.top_probability, s.suggestions,
		       row_number() OVER (ORDER BY s.uncertainty DESC, c.image_id NULLS LAST, c.prediction_id)::integer AS n
		  FROM (SELECT i.id AS image_id, NULL::bigint AS prediction_id, i.image
		          FROM cv_images i
		         WHERE i.project_id = v_project.id
		           AND NOT EXISTS (SELECT 1 FROM cv_image_tags it WHERE it.image_id = i.id)
		           AND NOT EXISTS (SELECT 1 FROM cv_regions r WHERE r.image_id = i.id)
		        UNION ALL
		        SELECT NULL, p.id, p.image
		          FROM cv_prediction_store p
		         WHERE p.project_id = v_project.id AND p.adopted_at IS NULL) c,
		       LATERAL cv_suggestion(v_project, v_iteration, c.image) s),
	     pool AS (SELECT * FROM ranked r WHERE r.n <= "limit"::bigint * 10),
	     chosen AS (
		SELECT o.n, o.place
		  FROM unnest(CASE WHEN v_project.task <> 'detection' AND (SELECT count(*) FROM pool) > "limit"
		                   THEN cv_suggest_spread(v_project.name,
		                                          (SELECT array_agg(p.image_id ORDER BY p.n) FROM pool p),
		                                          (SELECT array_agg(p.prediction_id ORDER BY p.n) FROM pool p),
		                                          (SELECT array_agg(p.uncertainty ORDER BY p.n) FROM pool p),
		                                          "limit")
		                   ELSE (SELECT array_agg(p.n ORDER BY p.n) FROM pool p WHERE p.n <= "limit") END)
		       WITH ORDINALITY o(n, place))
	SELECT p.image_id, p.prediction_id, v_iteration.id, p.uncertainty, p.top_tag, p.top_probability, p.suggestions
	  FROM chosen o JOIN pool p ON p.n = o.n
	 ORDER BY o.place;
END;
$$;
COMMENT ON FUNCTION cv_suggest(text, integer) IS 'the unlabelled images of a project (images without tags or regions, stored predictions waiting for review) with the latest completed iteration''s suggested tags or boxes, the most uncertain first (multiclass: margin; multilabel and detection: distance from the threshold); with pgvision.suggest_order = spread, for classification, a batch of "limit" spread over the 10 x "limit" most uncertain by weighted k-means on the domain''s features';
