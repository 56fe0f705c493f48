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
