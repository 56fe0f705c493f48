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

-- A schema Citus can take (docs/scale-out.md, section 5): every key of the
-- per-project tables (images, labels, regions, features) includes
-- project_id, and their foreign keys carry it.  cv_features gains the
-- image's project_id (last, as in sql/pgvision.sql).
ALTER TABLE cv_features ADD COLUMN project_id bigint;
UPDATE cv_features f SET project_id = i.project_id FROM cv_images i WHERE i.id = f.image_id;
ALTER TABLE cv_features ALTER COLUMN project_id SET NOT NULL;
ALTER TABLE cv_features DROP CONSTRAINT cv_features_image_id_fkey;
ALTER TABLE cv_features DROP CONSTRAINT cv_features_pkey;
ALTER TABLE cv_features ADD CONSTRAINT cv_features_pkey PRIMARY KEY (image_id, domain, project_id);
-- the foreign keys on (id, project_id) lean on the unique index that the
-- new primary key replaces: dropped and made again, under their names
ALTER TABLE cv_image_tags DROP CONSTRAINT cv_image_tags_image_id_project_id_fkey;
ALTER TABLE cv_regions DROP CONSTRAINT cv_regions_image_id_project_id_fkey;
ALTER TABLE cv_prediction_store DROP CONSTRAINT cv_prediction_store_adopted_image_id_project_id_fkey;
ALTER TABLE cv_images DROP CONSTRAINT cv_images_pkey;
ALTER TABLE cv_images DROP CONSTRAINT cv_images_id_project_id_key;
ALTER TABLE cv_images ADD CONSTRAINT cv_images_pkey PRIMARY KEY (id, project_id);
ALTER TABLE cv_image_tags ADD CONSTRAINT cv_image_tags_image_id_project_id_fkey
	FOREIGN KEY (image_id, project_id) REFERENCES cv_images (id, project_id) ON DELETE CASCADE;
ALTER TABLE cv_regions ADD CONSTRAINT cv_regions_image_id_project_id_fkey
	FOREIGN KEY (image_id, project_id) REFERENCES cv_images (id, project_id) ON DELETE CASCADE;
ALTER TABLE cv_prediction_store ADD CONSTRAINT cv_prediction_store_adopted_image_id_project_id_fkey
	FOREIGN KEY (adopted_image_id, project_id) REFERENCES cv_images (id, project_id) ON DELETE SET NULL (adopted_image_id);
ALTER TABLE cv_features ADD CONSTRAINT cv_features_image_id_project_id_fkey
	FOREIGN KEY (image_id, project_id) REFERENCES cv_images (id, project_id) ON DELETE CASCADE;
ALTER TABLE cv_image_tags DROP CONSTRAINT cv_image_tags_pkey;
ALTER TABLE cv_image_tags ADD CONSTRAINT cv_image_tags_pkey PRIMARY KEY (image_id, tag_id, project_id);
ALTER TABLE cv_regions DROP CONSTRAINT cv_regions_pkey;
ALTER TABLE cv_regions ADD CONSTRAINT cv_regions_pkey PRIMARY KEY (id, project_id);

-- Row security without subqueries (Citus refuses them in policies): the
-- policies call functions that hold them.
CREATE FUNCTION cv_shared_with_current_role(project_id bigint) RETURNS boolean
LANGUAGE plpgsql STABLE PARALLEL SAFE SET search_path = @extschema@, pg_temp AS $$
BEGIN
	RETURN EXISTS (SELECT 1 FROM cv_project_shares s
	                WHERE s.project_id = cv_shared_with_current_role.project_id AND pg_has_role(s.grantee, 'USAGE'));
END;
$$;
COMMENT ON FUNCTION cv_shared_with_current_role(bigint) IS 'internal (row security of cv_projects): whether the project is shared with a role whose privileges the current role has';

CREATE FUNCTION cv_can_read_iteration(iteration_id bigint) RETURNS boolean
LANGUAGE plpgsql STABLE PARALLEL SAFE SET search_path = @extschema@, pg_temp AS $$
BEGIN
	RETURN EXISTS (SELECT 1 FROM cv_iteration_store s WHERE s.id = cv_can_read_iteration.iteration_id);
END;
$$;
COMMENT ON FUNCTION cv_can_read_iteration(bigint) IS 'internal (row security): whether the current role can read the iteration''s project';

CREATE FUNCTION cv_can_write_iteration(iteration_id bigint) RETURNS boolean
LANGUAGE plpgsql STABLE PARALLEL SAFE SET search_path = @extschema@, pg_temp AS $$
BEGIN
	RETURN EXISTS (SELECT 1 FROM cv_iteration_store s
	                WHERE s.id = cv_can_write_iteration.iteration_id AND cv_can_write(s.project_id));
END;
$$;
COMMENT ON FUNCTION cv_can_write_iteration(bigint) IS 'internal (row security): whether the current role can change the iteration''s project';

ALTER POLICY cv_projects_read ON cv_projects
	USING (pg_has_role(owner, 'USAGE') OR cv_shared_with_current_role(id));
DO $$
DECLARE
	r record;
BEGIN
	FOR r IN SELECT * FROM (VALUES
		('cv_tags', 'project', 'cv_can_write(project_id)'),
		('cv_images', 'project', 'cv_can_write(project_id)'),
		('cv_image_tags', 'project', 'cv_can_write(project_id)'),
		('cv_regions', 'project', 'cv_can_write(project_id)'),
		('cv_iteration_store', 'project', 'cv_can_write(project_id)'),
		('cv_iteration_tags', 'iteration', 'cv_can_write_iteration(iteration_id)'),
		('cv_heldout_predictions', 'iteration', 'cv_can_write_iteration(iteration_id)'),
		('cv_heldout_regions', 'iteration', 'cv_can_write_iteration(iteration_id)'),
		('cv_features', 'project', 'cv_can_write(project_id)'),
		('cv_prediction_store', 'project', 'cv_can_write(project_id)')) v(tab, parent, can_write)
	LOOP
		EXECUTE format('ALTER POLICY %I ON %I USING (%s)', r.tab || '_read', r.tab,
		               CASE r.parent WHEN 'project' THEN 'cv_can_read(project_id)' ELSE 'cv_can_read_iteration(iteration_id)' END);
		EXECUTE format('ALTER POLICY %I ON %I WITH CHECK (%s)', r.tab || '_insert', r.tab, r.can_write);
		EXECUTE format('ALTER POLICY %I ON %I USING (%s) WITH CHECK (%s)', r.tab || '_update', r.tab, r.can_write, r.can_write);
		EXECUTE format('ALTER POLICY %I ON %I USING (%s)', r.tab || '_delete', r.tab, r.can_write);
	END LOOP;
END;
$$;

-- cv_prediction_store's key includes project_id too (Citus distributes it
-- with the images its adopted predictions became).
ALTER TABLE cv_prediction_store DROP CONSTRAINT cv_prediction_store_pkey;
ALTER TABLE cv_prediction_store ADD CONSTRAINT cv_prediction_store_pkey PRIMARY KEY (id, project_id);
