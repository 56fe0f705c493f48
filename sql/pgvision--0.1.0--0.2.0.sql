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
		           -- correlated on the project too: a colocated join on Citus
		           AND NOT EXISTS (SELECT 1 FROM cv_image_tags it WHERE it.image_id = i.id AND it.project_id = i.project_id)
		           AND NOT EXISTS (SELECT 1 FROM cv_regions r WHERE r.image_id = i.id AND r.project_id = i.project_id)
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

-- The policies' rules as functions, which cv_citus_distribute puts in
-- their place on Citus (it refuses subqueries in policies).
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


-- cv_prediction_store's key includes project_id too (Citus distributes it
-- with the images its adopted predictions became).
ALTER TABLE cv_prediction_store DROP CONSTRAINT cv_prediction_store_pkey;
ALTER TABLE cv_prediction_store ADD CONSTRAINT cv_prediction_store_pkey PRIMARY KEY (id, project_id);

-- The row checks name the project in every read of a per-project table
-- (on Citus a trigger on a shard reads only its colocated shards).
CREATE OR REPLACE FUNCTION cv_image_tags_check() RETURNS trigger
LANGUAGE plpgsql SET search_path = @extschema@, pg_temp AS $$
DECLARE
	v_task text;
	v_project text;
	v_tag cv_tags%ROWTYPE;
	v_other text;
BEGIN
	-- Before row security's own check (after BEFORE triggers): say it first.
	IF row_security_active('cv_image_tags') AND NOT cv_can_write(NEW.project_id) THEN
		RAISE EXCEPTION 'new row violates row-level security policy for table "cv_image_tags"'
			USING ERRCODE = 'insufficient_privilege';
	END IF;
	PERFORM 1 FROM cv_images WHERE id = NEW.image_id AND project_id = NEW.project_id FOR UPDATE;
	SELECT p.task, p.name INTO v_task, v_project FROM cv_projects p WHERE p.id = NEW.project_id;
	SELECT * INTO v_tag FROM cv_tags WHERE id = NEW.tag_id;
	IF v_tag.project_id IS DISTINCT FROM NEW.project_id THEN
		RAISE EXCEPTION 'tag % does not belong to project "%"', NEW.tag_id, v_project
			USING ERRCODE = 'foreign_key_violation';
	END IF;
	IF v_task = 'detection' THEN
		RAISE EXCEPTION 'images of detection project "%" are labelled with regions, not tags', v_project
			USING ERRCODE = 'wrong_object_type',
			      HINT = 'Use cv_add_region to draw a box with a tag.';
	END IF;
	SELECT t.name INTO v_other
	  FROM cv_image_tags it JOIN cv_tags t ON t.id = it.tag_id
	 WHERE it.image_id = NEW.image_id AND it.project_id = NEW.project_id AND it.tag_id <> NEW.tag_id
	 ORDER BY t.name LIMIT 1;
	IF v_other IS NOT NULL THEN
		IF v_task = 'multiclass' THEN
			RAISE EXCEPTION 'image % already has tag "%" and project "%" is multiclass', NEW.image_id, v_other, v_project
				USING ERRCODE = 'integrity_constraint_violation',
				      HINT = 'A multiclass image has one tag; use cv_retag_image to replace it.';
		END IF;
		IF v_tag.negative THEN
			RAISE EXCEPTION 'negative tag "%" cannot be combined with tag "%" on image %', v_tag.name, v_other, NEW.image_id
				USING ERRCODE = 'integrity_constraint_violation';
		END IF;
		IF EXISTS (SELECT 1 FROM cv_image_tags it JOIN cv_tags t ON t.id = it.tag_id
		            WHERE it.image_id = NEW.image_id AND it.project_id = NEW.project_id AND t.negative) THEN
			RAISE EXCEPTION 'image % has the negative tag, which cannot be combined with tag "%"', NEW.image_id, v_tag.name
				USING ERRCODE = 'integrity_constraint_violation';
		END IF;
	END IF;
	RETURN NEW;
END;
$$;
CREATE OR REPLACE FUNCTION cv_regions_check() RETURNS trigger
LANGUAGE plpgsql SET search_path = @extschema@, pg_temp AS $$
DECLARE
	v_task text;
	v_project text;
	v_limit integer;
	v_count bigint;
BEGIN
	IF row_security_active('cv_regions') AND NOT cv_can_write(NEW.project_id) THEN
		RAISE EXCEPTION 'new row violates row-level security policy for table "cv_regions"'
			USING ERRCODE = 'insufficient_privilege';
	END IF;
	SELECT p.task, p.name INTO v_task, v_project FROM cv_projects p WHERE p.id = NEW.project_id;
	IF v_task IS DISTINCT FROM 'detection' THEN
		RAISE EXCEPTION 'project "%" is a % project; regions belong to detection projects', v_project, v_task
			USING ERRCODE = 'wrong_object_type',
			      HINT = 'Label classification images with tags (cv_tag_image).';
	END IF;
	-- A box counts when it arrives on an image (inserted, or moved from
	-- another): editing one in place stays possible on an image that is
	-- over a since lowered cap.
	IF TG_OP = 'INSERT' OR NEW.image_id IS DISTINCT FROM OLD.image_id THEN
		PERFORM 1 FROM cv_images WHERE id = NEW.image_id AND project_id = NEW.project_id FOR UPDATE;
		v_limit := cv_max_regions_per_image();
		SELECT count(*) INTO v_count FROM cv_regions r
		 WHERE r.image_id = NEW.image_id AND r.project_id = NEW.project_id AND r.id <> NEW.id;
		IF v_count >= v_limit THEN
			RAISE EXCEPTION 'image % already has % regions; the limit is %', NEW.image_id, v_count, v_limit
				USING ERRCODE = 'program_limit_exceeded',
				      HINT = 'pgvision.max_regions_per_image sets the limit.';
		END IF;
	END IF;
	RETURN NEW;
END;
$$;

------------------------------------------------------------------------------
-- Citus (docs/scale-out.md, section 5).  The only part of pgvision that
-- knows Citus, and nothing calls it on a single server.  Citus runs CREATE
-- EXTENSION pgvision on every node; this makes the tables Citus tables, on
-- the coordinator, once: the catalogue (domains, backbones, projects,
-- shares, tags) and the iterations as reference tables (a copy on every
-- node: a model is read where it predicts, and training writes them on the
-- coordinator), the per-project data distributed by project_id, colocated.
------------------------------------------------------------------------------

-- The ALTER POLICY commands that give every policy of pgvision's tables
-- the same rule without a table read on the project's tables: membership
-- of the project's roles (cv_sync_project_roles), whose names the
-- expression builds from project_id and the database's role prefix, a
-- constant in it (to_regrole: NULL, so no access, for a role that does not
-- exist).  Each is a catalogue lookup per row, on whichever node the row
-- is; every table tested has project_id (the iterations' child rows carry
-- their iteration's, 0.2.0).  NULL for a prefix that cv_citus_distribute
-- would not have chosen.
CREATE FUNCTION cv_citus_policy_commands(role_prefix text) RETURNS text[]
LANGUAGE sql IMMUTABLE SET search_path = @extschema@, pg_temp AS $$
	WITH r AS (
		SELECT format('pg_catalog.pg_has_role(pg_catalog.to_regrole(%L || %s || %L)::oid, %L)',
		              'pgv_' || role_prefix || '_', '%s', '_r', 'USAGE') AS can_read,
		       format('pg_catalog.pg_has_role(pg_catalog.to_regrole(%L || %s || %L)::oid, %L)',
		              'pgv_' || role_prefix || '_', '%s', '_w', 'USAGE') AS can_write
		 WHERE role_prefix ~ '^[a-z0-9]{8}$'
	)
	SELECT array_agg(c ORDER BY n) FROM (
		SELECT 0, format('ALTER POLICY cv_projects_read ON %I.cv_projects USING (pg_has_role(owner, %L) OR %s)',
		                 '@extschema@', 'USAGE', format(r.can_read, 'id'))
		  FROM r
		UNION ALL
		SELECT v.n, format(c.cmd, v.tab || '_' || c.kind, '@extschema@', v.tab,
		                   CASE WHEN c.kind = 'read' THEN v.can_read ELSE v.can_write END)
		  FROM r,
		       (VALUES (1, 'cv_tags', 'project'), (2, 'cv_images', 'project'), (3, 'cv_image_tags', 'project'),
		               (4, 'cv_regions', 'project'), (5, 'cv_iteration_store', 'project'), (6, 'cv_iteration_tags', 'project'),
		               (7, 'cv_heldout_predictions', 'project'), (8, 'cv_heldout_regions', 'project'),
		               (9, 'cv_features', 'project'), (10, 'cv_prediction_store', 'project')) t(n, tab, parent),
		       LATERAL (SELECT t.n, t.tab,
		                       CASE t.parent WHEN 'project' THEN format(r.can_read, 'project_id') ELSE 'cv_can_read_iteration(iteration_id)' END AS can_read,
		                       CASE t.parent WHEN 'project' THEN format(r.can_write, 'project_id') ELSE 'cv_can_write_iteration(iteration_id)' END AS can_write) v,
		       (VALUES ('read', 'ALTER POLICY %I ON %I.%I USING (%s)'), ('insert', 'ALTER POLICY %I ON %I.%I WITH CHECK (%s)'),
		               ('update', 'ALTER POLICY %3$s_update ON %2$I.%3$I USING (%4$s) WITH CHECK (%4$s)'),
		               ('delete', 'ALTER POLICY %I ON %I.%I USING (%s)')) c(kind, cmd)
	) s(n, c);
$$;
COMMENT ON FUNCTION cv_citus_policy_commands(text) IS 'internal (cv_citus_distribute): the ALTER POLICY commands that replace the subqueries of the policies by tests of the per-project roles of the given prefix';

CREATE FUNCTION cv_citus_distribute() RETURNS void
LANGUAGE plpgsql SET search_path = @extschema@, pg_temp AS $$
DECLARE
	v_fkeys text[] := '{}';
	v_table text;
	v_prefix text;
	r record;
BEGIN
	IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_extension WHERE extname = 'citus') THEN
		RAISE EXCEPTION 'the citus extension is not installed in this database'
			USING ERRCODE = 'object_not_in_prerequisite_state',
			      HINT = 'cv_citus_distribute is run once on a Citus coordinator; a single server needs nothing of it.';
	END IF;
	IF NOT (SELECT rolsuper FROM pg_catalog.pg_roles WHERE rolname = current_user) THEN
		RAISE EXCEPTION 'permission denied to distribute pgvision''s tables'
			USING ERRCODE = 'insufficient_privilege', DETAIL = 'Only a superuser can, as only one can install pgvision.';
	END IF;
	IF EXISTS (SELECT 1 FROM pg_catalog.pg_dist_partition WHERE logicalrelid = 'cv_images'::regclass) THEN
		RAISE EXCEPTION 'pgvision''s tables are already distributed' USING ERRCODE = 'duplicate_object';
	END IF;
	-- the row triggers (checks that read the same project's rows, which a
	-- trigger on a shard may read locally; the prepared-weights trigger)
	PERFORM pg_catalog.set_config('citus.enable_unsafe_triggers', 'on', true);
	-- the foreign keys to reference tables need one connection per node
	PERFORM pg_catalog.set_config('citus.multi_shard_modify_mode', 'sequential', true);
	-- The prefix of the per-project roles: random, and no role of the
	-- cluster may start with it yet (another database's pgvision chose its
	-- own)
	LOOP
		v_prefix := pg_catalog.substr(pg_catalog.md5(pg_catalog.random()::text || pg_catalog.clock_timestamp()::text), 1, 8);
		EXIT WHEN NOT EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname LIKE 'pgv\_' || v_prefix || '\_%');
	END LOOP;
	INSERT INTO cv_citus_roles (prefix) VALUES (v_prefix);
	-- The policies without table reads, on every node (the shards take the
	-- coordinator's; the workers' own copies of the tables too, for
	-- queries made there)
	FOREACH v_table IN ARRAY cv_citus_policy_commands(v_prefix) LOOP
		EXECUTE v_table;
		PERFORM run_command_on_workers(v_table);
	END LOOP;
	-- A write to a reference table makes Citus lock the reference tables
	-- it refers to (transitively: cv_tags, cv_iteration_store and the
	-- shares refer to cv_projects, which refers to cv_domains) through
	-- lock_shard_resources, which asks the writing role for UPDATE,
	-- DELETE or TRUNCATE on each ("permission denied for table
	-- cv_domains" for a pgvision_user creating a project, measured;
	-- utils/resource_lock.c in Citus's source).  So pgvision_user gets
	-- UPDATE on cv_domains, and row security there keeps the writes to
	-- pgvision_admin as before: everyone reads, only it writes.
	FOREACH v_table IN ARRAY cv_citus_domain_commands() LOOP
		EXECUTE v_table;
		PERFORM run_command_on_workers(v_table);
	END LOOP;
	-- The tables form one foreign-key graph: Citus would turn the whole of
	-- it into local Citus tables at the first reference table.  So the keys
	-- go first, on every node (the workers' copies were made by their own
	-- CREATE EXTENSION, and Citus adds a key to them too), and come back
	-- once every table is a Citus table.  One changes: an adopted image's
	-- link is no longer set to NULL when the image goes (Citus refuses SET
	-- NULL on a key that holds the distribution column).
	FOR r IN SELECT format('%I.%I', n.nspname, cl.relname) AS tab, c.conname, pg_catalog.pg_get_constraintdef(c.oid) AS def
	           FROM pg_catalog.pg_constraint c JOIN pg_catalog.pg_class cl ON cl.oid = c.conrelid
	           JOIN pg_catalog.pg_namespace n ON n.oid = cl.relnamespace
	          WHERE c.contype = 'f' AND n.nspname = '@extschema@' AND cl.relname LIKE 'cv\_%'
	          ORDER BY c.oid
	LOOP
		v_fkeys := v_fkeys || format('ALTER TABLE %s ADD CONSTRAINT %I %s', r.tab, r.conname,
			CASE WHEN r.conname = 'cv_prediction_store_adopted_image_id_project_id_fkey'
			     THEN 'FOREIGN KEY (adopted_image_id, project_id) REFERENCES cv_images (id, project_id)'
			     ELSE r.def END);
		EXECUTE format('ALTER TABLE %s DROP CONSTRAINT %I', r.tab, r.conname);
		PERFORM run_command_on_workers(format('ALTER TABLE %s DROP CONSTRAINT IF EXISTS %I', r.tab, r.conname));
	END LOOP;
	FOREACH v_table IN ARRAY ARRAY['cv_domains', 'cv_backbones', 'cv_projects', 'cv_project_shares', 'cv_tags',
	                               'cv_iteration_store', 'cv_iteration_tags', 'cv_heldout_predictions', 'cv_heldout_regions',
	                               'cv_citus_roles'] LOOP
		PERFORM create_reference_table(v_table::regclass);
	END LOOP;
	PERFORM cv_citus_roles_by_name();
	FOREACH v_table IN ARRAY ARRAY['cv_images', 'cv_image_tags', 'cv_regions', 'cv_features', 'cv_prediction_store'] LOOP
		PERFORM create_distributed_table(v_table::regclass, 'project_id',
		                                 colocate_with => CASE WHEN v_table = 'cv_images' THEN 'default' ELSE 'cv_images' END);
	END LOOP;
	FOREACH v_table IN ARRAY v_fkeys LOOP
		EXECUTE v_table;
	END LOOP;
	-- cv_tag_counts in the form Citus can plan (cv_citus_tag_counts_view)
	v_table := cv_citus_tag_counts_view();
	EXECUTE v_table;
	PERFORM run_command_on_workers(v_table);
	-- the roles of the projects there are (Citus makes them on every node)
	PERFORM cv_sync_project_roles(p.id) FROM cv_projects p ORDER BY p.id;
END;
$$;
REVOKE EXECUTE ON FUNCTION cv_citus_distribute() FROM PUBLIC;
COMMENT ON FUNCTION cv_citus_distribute() IS 'on a Citus coordinator, once, as a superuser: make the catalogue and the iterations reference tables and the images, labels, regions, features and stored predictions tables distributed by project';

-- Training on Citus (issue 13, part 4): no volatile function calls in the
-- UPDATEs of cv_iteration_store, a reference table after cv_citus_distribute.
CREATE OR REPLACE FUNCTION cv_reap_iterations() RETURNS integer
LANGUAGE plpgsql SET search_path = @extschema@, pg_temp AS $$
DECLARE
	n integer := 0;
	v_id bigint;
	v_now timestamptz := clock_timestamp();
BEGIN
	-- The liveness test and the time are computed here and passed as
	-- values: Citus refuses volatile functions in an UPDATE of a reference
	-- table, which cv_iteration_store is after cv_citus_distribute.
	FOR v_id IN SELECT s.id FROM cv_iteration_store s WHERE s.status = 'training' ORDER BY s.id LOOP
		CONTINUE WHEN cv_training_alive(v_id);
		UPDATE cv_iteration_store s
		   SET status = CASE WHEN s.cancel_requested THEN 'canceled' ELSE 'failed' END,
		       message = 'training stopped without finishing: its process exited or the server restarted',
		       finished_at = v_now
		 WHERE s.id = v_id AND s.status = 'training';
		IF FOUND THEN
			n := n + 1;
		END IF;
	END LOOP;
	RETURN n;
END;
$$;
CREATE OR REPLACE FUNCTION cv_cancel_training(iteration_id bigint) RETURNS void
LANGUAGE plpgsql SET search_path = @extschema@, pg_temp AS $$
DECLARE
	v cv_iteration_store;
	v_now timestamptz;
BEGIN
	PERFORM cv_iteration_project(iteration_id, 'write');
	SELECT * INTO v FROM cv_iteration_store s WHERE s.id = iteration_id FOR UPDATE;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'iteration % does not exist', coalesce(iteration_id::text, 'NULL')
			USING ERRCODE = 'undefined_object';
	END IF;
	IF v.status = 'queued' THEN
		v_now := clock_timestamp();	-- a value, not a call, in the UPDATE (Citus)
		UPDATE cv_iteration_store s SET status = 'canceled', message = 'canceled before it started',
		       cancel_requested = true, finished_at = v_now
		 WHERE s.id = iteration_id;
	ELSIF v.status = 'training' AND cv_training_alive(iteration_id) THEN
		-- The trainer reads the flag at its next progress report.
		UPDATE cv_iteration_store s SET cancel_requested = true WHERE s.id = iteration_id;
		PERFORM cv_reap_iterations();
	ELSE
		-- A training whose process is gone has ended as cv_iterations says.
		RAISE EXCEPTION 'iteration % has already ended (%)', iteration_id,
			CASE WHEN v.status = 'training' THEN 'failed' ELSE v.status END
			USING ERRCODE = 'object_not_in_prerequisite_state';
	END IF;
END;
$$;
CREATE OR REPLACE FUNCTION cv_publish(iteration_id bigint, name text) RETURNS void
LANGUAGE plpgsql SET search_path = @extschema@, pg_temp AS $$
DECLARE
	v cv_iteration_store;
	v_other bigint;
	v_now timestamptz;
BEGIN
	PERFORM cv_iteration_project(iteration_id, 'write');
	SELECT * INTO v FROM cv_iteration_store s WHERE s.id = iteration_id FOR UPDATE;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'iteration % does not exist', coalesce(iteration_id::text, 'NULL')
			USING ERRCODE = 'undefined_object';
	END IF;
	IF name IS NULL OR length(name) = 0 OR name <> btrim(name) OR length(name) > 128 OR name ~ '[[:cntrl:]]' THEN
		RAISE EXCEPTION 'invalid publish name "%"', coalesce(name, 'NULL')
			USING ERRCODE = 'invalid_parameter_value',
			      DETAIL = 'A publish name is 1 to 128 characters without leading or trailing spaces or control characters.';
	END IF;
	IF v.status <> 'completed' THEN
		-- the status cv_iterations shows: a training whose process is gone failed
		RAISE EXCEPTION 'iteration % is %, only completed iterations can be published', iteration_id,
			CASE WHEN v.status = 'training' AND NOT cv_training_alive(iteration_id)
			     THEN CASE WHEN v.cancel_requested THEN 'canceled' ELSE 'failed' END ELSE v.status END
			USING ERRCODE = 'object_not_in_prerequisite_state';
	END IF;
	SELECT s.id INTO v_other FROM cv_iteration_store s
	 WHERE s.project_id = v.project_id AND s.published_name = cv_publish.name AND s.id <> iteration_id;
	IF v_other IS NOT NULL THEN
		RAISE EXCEPTION 'name "%" is already published by iteration %', name, v_other
			USING ERRCODE = 'duplicate_object',
			      HINT = 'Unpublish that iteration first (cv_unpublish).';
	END IF;
	v_now := clock_timestamp();	-- a value, not a call, in the UPDATE (Citus)
	UPDATE cv_iteration_store s SET published_name = cv_publish.name, published_at = v_now
	 WHERE s.id = iteration_id;
END;
$$;
-- On Citus, after cv_citus_distribute, the background worker's reads of
-- the shards connect to the workers as the project's owner (the trainer
-- runs as the owner, train_worker.c; Citus opens its connections as the
-- current role), so an owner that cannot log in makes the training fail
-- there on its first read ("role ... is not permitted to log in",
-- measured with Citus 13.2.2, docs/scale-out.md).  cv_train says so at
-- once instead, with the two ways that work, and queues nothing.  Nothing
-- on a single server, where the worker's switch to the owner needs no
-- login, nor on Citus before the distribution.
CREATE FUNCTION cv_check_background_trainable(v_project cv_projects, project text) RETURNS void
LANGUAGE plpgsql STABLE SET search_path = @extschema@, pg_temp AS $$
BEGIN
	IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_extension WHERE extname = 'citus') THEN
		RETURN;
	END IF;
	-- apart from the test above: pg_dist_partition exists only with Citus
	IF EXISTS (SELECT 1 FROM pg_catalog.pg_dist_partition WHERE logicalrelid = 'cv_images'::regclass)
	   AND NOT coalesce((SELECT r.rolcanlogin FROM pg_catalog.pg_roles r WHERE r.oid = v_project.owner), false) THEN
		RAISE EXCEPTION 'project "%" cannot be trained in the background here', project
			USING ERRCODE = 'object_not_in_prerequisite_state',
			      DETAIL = format('Its owner, role %s, cannot log in, and on Citus the background training reads the worker nodes as the owner.',
			                      v_project.owner),
			      HINT = 'Train it in your session with cv_train(project, wait => true), as a role with write access that can log in, or give the owner LOGIN.';
	END IF;
END;
$$;
COMMENT ON FUNCTION cv_check_background_trainable(cv_projects, text) IS 'internal (cv_train): on Citus, refuse a background training that would fail because the project''s owner cannot log in';

CREATE OR REPLACE FUNCTION cv_train(project text, wait boolean DEFAULT false) RETURNS bigint
LANGUAGE plpgsql SET search_path = @extschema@, pg_temp AS $$
DECLARE
	v_project cv_projects := cv_project_row(project, 'write');
	v_id bigint;
	v_engine text;
	v_row cv_iteration_store;
BEGIN
	IF wait IS NULL THEN
		RAISE EXCEPTION 'wait must not be null' USING ERRCODE = 'invalid_parameter_value';
	END IF;
	-- On Citus (after cv_citus_distribute): the checks below read the
	-- distributed images, then the iteration goes into a reference table
	-- with foreign keys, which Citus allows in one transaction only over
	-- one connection per node.
	PERFORM cv_citus_sequential_writes();
	PERFORM cv_check_trainable(v_project);
	IF NOT wait THEN
		PERFORM cv_check_background_trainable(v_project, project);
	END IF;
	PERFORM cv_reap_iterations();
	-- the session's setting, read even before the library is loaded
	v_engine := coalesce(current_setting('pgvision.engine', true), 'auto');
	IF v_engine NOT IN ('auto', 'float', 'int8') THEN
		RAISE EXCEPTION 'invalid value for pgvision.engine: "%"', v_engine
			USING ERRCODE = 'invalid_parameter_value', HINT = 'Available values: auto, float, int8.';
	END IF;
	INSERT INTO cv_iteration_store (project_id, task, domain, engine)
	VALUES (v_project.id, v_project.task, v_project.domain, v_engine)
	RETURNING id INTO v_id;
	IF wait THEN
		-- A worker could not see this uncommitted row: train here.
		PERFORM cv_train_run(v_id);
		SELECT * INTO v_row FROM cv_iteration_store WHERE id = v_id;
		IF v_row.status <> 'completed' THEN
			RAISE EXCEPTION 'iteration % of project "%" %: %', v_id, project, v_row.status, v_row.message
				USING ERRCODE = CASE WHEN v_row.status = 'canceled' THEN 'query_canceled' ELSE 'external_routine_exception' END;
		END IF;
	ELSE
		PERFORM cv_train_launch(v_id);
	END IF;
	RETURN v_id;
END;
$$;

-- Scale-out on Citus (issue 13): no whole row of a table passed to a
-- function inside a query (on Citus the row of a shard has the shard's
-- type: "function cv_check_access(cv_projects_102010, ...) does not
-- exist"); the project row is read into a variable and checked there.
-- The modifications name the image's project, which routes them to one
-- shard (docs/scale-out.md, section 5).

CREATE OR REPLACE FUNCTION cv_image_row(image_id bigint, need text DEFAULT 'read') RETURNS cv_images
LANGUAGE plpgsql STABLE SET search_path = @extschema@, pg_temp AS $$
DECLARE
	v cv_images;
	v_project cv_projects;
BEGIN
	IF image_id IS NULL THEN
		RAISE EXCEPTION 'image id must not be null' USING ERRCODE = 'invalid_parameter_value';
	END IF;
	-- On Citus the id alone reads every shard of cv_images: a caller that
	-- writes has called cv_citus_sequential_writes first.
	SELECT * INTO v FROM cv_images i WHERE i.id = image_id;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'image % does not exist', image_id USING ERRCODE = 'undefined_object';
	END IF;
	IF need <> 'read' THEN
		-- The project row into a variable, then checked: a query passing
		-- the whole row p of cv_projects p to a function fails on Citus,
		-- where the row on the shard has its shard's type
		-- (docs/scale-out.md, section 5).
		SELECT p.* INTO v_project FROM cv_projects p WHERE p.id = v.project_id;
		IF FOUND THEN
			PERFORM cv_check_access(v_project, need, format('image %s', image_id));
		END IF;
	END IF;
	RETURN v;
END;
$$;

CREATE OR REPLACE FUNCTION cv_delete_image(image_id bigint) RETURNS void
LANGUAGE plpgsql SET search_path = @extschema@, pg_temp AS $$
DECLARE
	v_image cv_images;
BEGIN
	PERFORM cv_citus_sequential_writes();
	v_image := cv_image_row(image_id, 'write');
	-- The image checked first, then deleted by its whole key: on Citus the
	-- project routes the DELETE to one shard, and no function runs there.
	DELETE FROM cv_images i WHERE i.id = v_image.id AND i.project_id = v_image.project_id;
END;
$$;

CREATE OR REPLACE FUNCTION cv_untag_image(image_id bigint, tags text[]) RETURNS void
LANGUAGE plpgsql SET search_path = @extschema@, pg_temp AS $$
DECLARE
	v_image cv_images;
	v_name text;
BEGIN
	PERFORM cv_citus_sequential_writes();
	v_image := cv_image_row(image_id, 'write');
	PERFORM cv_check_tags_given(tags);
	FOREACH v_name IN ARRAY cv_check_tag_names(tags) LOOP
		DELETE FROM cv_image_tags it USING cv_tags t
		 WHERE it.image_id = v_image.id AND it.project_id = v_image.project_id
		   AND it.tag_id = t.id AND t.name = v_name;
		IF NOT FOUND THEN
			RAISE EXCEPTION 'image % does not have tag "%"', v_image.id, v_name
				USING ERRCODE = 'undefined_object';
		END IF;
	END LOOP;
END;
$$;

CREATE OR REPLACE FUNCTION cv_retag_image(image_id bigint, tags text[]) RETURNS void
LANGUAGE plpgsql SET search_path = @extschema@, pg_temp AS $$
DECLARE
	v_image cv_images;
BEGIN
	PERFORM cv_citus_sequential_writes();
	v_image := cv_image_row(image_id, 'write');
	PERFORM cv_check_tags_given(tags);
	-- the project named: one shard on Citus
	DELETE FROM cv_image_tags it WHERE it.image_id = v_image.id AND it.project_id = v_image.project_id;
	PERFORM cv_apply_tags(v_image, tags);
END;
$$;

CREATE OR REPLACE FUNCTION cv_delete_region(region_id bigint) RETURNS void
LANGUAGE plpgsql SET search_path = @extschema@, pg_temp AS $$
DECLARE
	v_project cv_projects;
BEGIN
	IF region_id IS NULL THEN
		RAISE EXCEPTION 'region id must not be null' USING ERRCODE = 'invalid_parameter_value';
	END IF;
	-- As cv_image_row: the project into a variable, then checked (a whole
	-- row passed to a function in a query fails on Citus); the DELETE names
	-- the project, which routes it to one shard there.  The project is read
	-- by itself (as in cv_prediction_project: joined to the region, its
	-- owner would come from the shard's node, that node's role OID).
	SELECT p.* INTO v_project FROM cv_projects p
	 WHERE p.id = (SELECT r.project_id FROM cv_regions r WHERE r.id = region_id);
	IF FOUND THEN
		PERFORM cv_check_access(v_project, 'write', format('region %s', region_id));
	END IF;
	DELETE FROM cv_regions r WHERE r.id = region_id AND r.project_id = v_project.id;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'region % does not exist', coalesce(region_id::text, 'NULL')
			USING ERRCODE = 'undefined_object';
	END IF;
END;
$$;

-- The trainable checks' correlated reads of regions and labels name the
-- image's project: a colocated join on Citus (detection and multilabel
-- projects trained after cv_citus_distribute, docs/scale-out.md section 6).
CREATE OR REPLACE FUNCTION cv_check_trainable(v_project cv_projects) RETURNS void
LANGUAGE plpgsql SET search_path = @extschema@, pg_temp AS $$
DECLARE
	v_short text;
	v_count bigint;
	v_ready integer;
BEGIN
	-- The counts per tag are taken from the labels alone, then joined to
	-- the tags: on Citus an outer join of the tags (a reference table) to
	-- the labels (distributed) under row security crashed the coordinator
	-- (Citus 13.2.2, in RecursivelyPlanRecurringTupleOuterJoinWalker,
	-- measured with a role that has a share); this form is a subquery on
	-- the project's shard, then a join on the coordinator.
	IF v_project.task = 'detection' THEN
		SELECT t.name, coalesce(c.n, 0) INTO v_short, v_count
		  FROM cv_tags t
		  LEFT JOIN (SELECT r.tag_id, count(DISTINCT r.image_id) AS n FROM cv_regions r
		              WHERE r.project_id = v_project.id GROUP BY r.tag_id) c ON c.tag_id = t.id
		 WHERE t.project_id = v_project.id AND coalesce(c.n, 0) < 15
		 ORDER BY coalesce(c.n, 0), t.name LIMIT 1;
		IF v_short IS NOT NULL THEN
			RAISE EXCEPTION 'tag "%" of project "%" has % images with regions; training needs at least 15 per tag', v_short, v_project.name, v_count
				USING ERRCODE = 'object_not_in_prerequisite_state',
				      HINT = 'Draw boxes of this tag on more images (cv_add_region), or delete the tag.';
		END IF;
		IF NOT EXISTS (SELECT 1 FROM cv_tags t WHERE t.project_id = v_project.id) THEN
			RAISE EXCEPTION 'project "%" has 0 tags with regions; training needs at least 1', v_project.name
				USING ERRCODE = 'object_not_in_prerequisite_state',
				      HINT = 'Draw tagged boxes with cv_add_region or cv_add_image(..., regions => ...).';
		END IF;
		-- the image's whole key in the correlation: on Citus a join of
		-- colocated shards (on the id alone it refuses the join)
		IF EXISTS (SELECT 1 FROM cv_images i WHERE i.project_id = v_project.id
		              AND NOT EXISTS (SELECT 1 FROM cv_regions r WHERE r.image_id = i.id AND r.project_id = i.project_id)) THEN
			RAISE NOTICE 'images of project "%" without regions are used as negative examples', v_project.name
				USING HINT = 'They teach the detector what is not an object.';
		END IF;
		RETURN;
	END IF;
	SELECT count(*) FILTER (WHERE c.n >= 5) INTO v_ready
	  FROM cv_tags t
	  LEFT JOIN (SELECT it.tag_id, count(*) AS n FROM cv_image_tags it
	              WHERE it.project_id = v_project.id GROUP BY it.tag_id) c ON c.tag_id = t.id
	 WHERE t.project_id = v_project.id;
	-- An unused negative tag is simply left out; every other tag counts.
	SELECT t.name, coalesce(c.n, 0) INTO v_short, v_count
	  FROM cv_tags t
	  LEFT JOIN (SELECT it.tag_id, count(*) AS n FROM cv_image_tags it
	              WHERE it.project_id = v_project.id GROUP BY it.tag_id) c ON c.tag_id = t.id
	 WHERE t.project_id = v_project.id AND coalesce(c.n, 0) < 5 AND NOT (t.negative AND c.n IS NULL)
	 ORDER BY coalesce(c.n, 0), t.name LIMIT 1;
	IF v_short IS NOT NULL THEN
		RAISE EXCEPTION 'tag "%" of project "%" has % images; training needs at least 5 per tag', v_short, v_project.name, v_count
			USING ERRCODE = 'object_not_in_prerequisite_state',
			      HINT = 'Add images with this tag, or delete the tag.';
	END IF;
	IF v_ready < 2 THEN
		RAISE EXCEPTION 'project "%" has % tags with images; training needs at least 2', v_project.name, v_ready
			USING ERRCODE = 'object_not_in_prerequisite_state';
	END IF;
	IF v_project.task = 'multilabel' AND EXISTS (
		SELECT 1 FROM cv_images i WHERE i.project_id = v_project.id
		   AND NOT EXISTS (SELECT 1 FROM cv_image_tags it WHERE it.image_id = i.id AND it.project_id = i.project_id)) THEN
		RAISE NOTICE 'untagged images of project "%" are left out of training', v_project.name
			USING HINT = 'Tag them with the negative tag to teach the model what none of the tags looks like.';
	END IF;
END;
$$;

------------------------------------------------------------------------------
-- Ordinary roles on Citus (docs/scale-out.md, section 5; docs/security.md,
-- "On Citus"): per-project roles that the policies test there, and the
-- setting of cv_image_row's writing callers moved into a VOLATILE helper.
------------------------------------------------------------------------------

-- On Citus, a read of every shard of a distributed table (an image by its
-- id alone, a project's images in cv_train's checks) runs in parallel by
-- default, after which the transaction may not write a reference table (a
-- new tag into cv_tags: "cannot modify table "cv_tags" because there was a
-- parallel operation on a distributed table", measured).  The functions
-- that read so and then write call this first: one connection per node for
-- the rest of the transaction.  VOLATILE, as it changes a setting (the
-- STABLE lookups it served before must not); no such setting, and nothing
-- done, on a single server.
CREATE FUNCTION cv_citus_sequential_writes() RETURNS void
LANGUAGE plpgsql VOLATILE SET search_path = @extschema@, pg_temp AS $$
BEGIN
	IF pg_catalog.current_setting('citus.multi_shard_modify_mode', true) IS NOT NULL THEN
		PERFORM pg_catalog.set_config('citus.multi_shard_modify_mode', 'sequential', true);
	END IF;
END;
$$;
COMMENT ON FUNCTION cv_citus_sequential_writes() IS 'internal: on Citus, run the rest of the transaction over one connection per node (a writing function that reads every shard calls it first); nothing on a single server';

-- Per-project roles, on Citus only (docs/scale-out.md, section 5, and
-- docs/security.md, "On Citus").  There the policies cannot read a table
-- (a policy on a shard that reads cv_projects trips Citus's guard against
-- a distributed query from a query on a shard), so they test membership of
-- two roles per project whose names are built from project_id:
-- pgv_<prefix>_<id>_r (read) and pgv_<prefix>_<id>_w (write, a member of
-- the read role).  The owner and the write grantees are members of the
-- write role, the read grantees of the read role; cv_project_shares stays
-- the source of truth and the roles follow it.  prefix: 8 random
-- characters chosen by cv_citus_distribute, one row here, so that two
-- databases of a cluster (whose project ids repeat) never share a role.
-- Empty on a single server, where nothing of this happens.
CREATE TABLE cv_citus_roles (
	prefix      text PRIMARY KEY CHECK (prefix ~ '^[a-z0-9]{8}$'),
	created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX cv_citus_roles_one_row ON cv_citus_roles ((true));
COMMENT ON TABLE cv_citus_roles IS 'on Citus, after cv_citus_distribute: the prefix of the per-project roles (pgv_<prefix>_<id>_r and _w) that row security tests there; empty on a single server';
SELECT pg_catalog.pg_extension_config_dump('cv_citus_roles', '');
GRANT SELECT ON cv_citus_roles TO pgvision_user;

CREATE FUNCTION cv_project_role_name(prefix text, project_id bigint, access text) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE SET search_path = pg_catalog, pg_temp AS $$
	SELECT 'pgv_' || prefix || '_' || project_id || CASE access WHEN 'read' THEN '_r' WHEN 'write' THEN '_w' END
$$;
COMMENT ON FUNCTION cv_project_role_name(text, bigint, text) IS 'internal (Citus): the name of a project''s read or write role, at most 4 + 8 + 1 + 19 + 2 = 34 bytes';

-- Make a project's two roles and their members agree with cv_projects and
-- cv_project_shares: create the roles when missing, grant and revoke
-- memberships, drop both roles when the project is gone.  SECURITY
-- DEFINER (the extension's owner, a superuser, which CREATE ROLE and
-- GRANT of a role need), because the project functions that call it run
-- as the caller.  Its only argument is a project id and it does only what
-- the tables say, which their own row security lets only the owner
-- change: a pgvision_user calling it directly for any id gets nothing the
-- tables do not already give (docs/security.md, "On Citus").  Nothing on a
-- single server (no prefix).  Citus propagates CREATE ROLE, GRANT, REVOKE
-- and DROP ROLE to every node (citus.enable_create_role_propagation, on by
-- default; measured on Citus 13.2.2).
CREATE FUNCTION cv_sync_project_roles(project_id bigint) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = @extschema@, pg_temp AS $$
DECLARE
	v_prefix text;
	v_owner oid;
	v_read text;
	v_write text;
	v_roles text[];
	v_members text[];
	v_bad text;
	r record;
BEGIN
	SELECT c.prefix INTO v_prefix FROM cv_citus_roles c;
	IF v_prefix IS NULL OR project_id IS NULL THEN
		RETURN;
	END IF;
	v_read := cv_project_role_name(v_prefix, project_id, 'read');
	v_write := cv_project_role_name(v_prefix, project_id, 'write');
	-- one session at a time per project (two could both create a role)
	PERFORM pg_catalog.pg_advisory_xact_lock(pg_catalog.hashtext('pgvision project roles'), pg_catalog.hashint8(project_id));
	SELECT p.owner INTO v_owner FROM cv_projects p WHERE p.id = cv_sync_project_roles.project_id;
	IF NOT FOUND THEN
		IF pg_catalog.to_regrole(v_write) IS NOT NULL THEN
			EXECUTE format('DROP ROLE %I', v_write);
		END IF;
		IF pg_catalog.to_regrole(v_read) IS NOT NULL THEN
			EXECUTE format('DROP ROLE %I', v_read);
		END IF;
		RETURN;
	END IF;
	IF pg_catalog.to_regrole(v_read) IS NULL THEN
		EXECUTE format('CREATE ROLE %I NOLOGIN', v_read);
		EXECUTE format('COMMENT ON ROLE %I IS %L', v_read,
		               format('pgvision: read access to project %s of database %s (made by cv_sync_project_roles)', project_id, current_database()));
	END IF;
	IF pg_catalog.to_regrole(v_write) IS NULL THEN
		EXECUTE format('CREATE ROLE %I NOLOGIN', v_write);
		EXECUTE format('COMMENT ON ROLE %I IS %L', v_write,
		               format('pgvision: write access to project %s of database %s (made by cv_sync_project_roles)', project_id, current_database()));
	END IF;
	-- who should be a member of which role (v_roles[i] has member
	-- v_members[i]): the owner and the write grantees of the write role,
	-- the write role and the read grantees of the read role; shares of
	-- roles dropped since are left out.  Arrays, not a temporary table: a
	-- table of that name made by the caller would run its triggers as this
	-- function's owner.
	SELECT array_agg(w.rolname), array_agg(w.member) INTO v_roles, v_members FROM (
		SELECT v_write AS rolname, a.rolname::text AS member FROM pg_catalog.pg_roles a WHERE a.oid = v_owner
		UNION ALL
		SELECT v_read, v_write
		UNION ALL
		SELECT CASE s.access WHEN 'write' THEN v_write ELSE v_read END, a.rolname::text
		  FROM cv_project_shares s JOIN pg_catalog.pg_roles a ON a.oid = s.grantee
		 WHERE s.project_id = cv_sync_project_roles.project_id) w;
	-- a share with a project role (this one's or another's) would tie
	-- projects' roles together: refused
	SELECT w.m INTO v_bad FROM unnest(v_members) w(m)
	 WHERE w.m <> v_write AND w.m LIKE 'pgv\_' || v_prefix || '\_%' LIMIT 1;
	IF v_bad IS NOT NULL THEN
		RAISE EXCEPTION 'role % is a pgvision project role', v_bad
			USING ERRCODE = 'invalid_parameter_value',
			      DETAIL = 'On Citus, a project is shared with the roles that use it, not with the roles pgvision makes for projects.';
	END IF;
	FOR r IN SELECT g.rolname::text AS rolname, m.rolname::text AS member
	           FROM pg_catalog.pg_auth_members am
	           JOIN pg_catalog.pg_roles g ON g.oid = am.roleid
	           JOIN pg_catalog.pg_roles m ON m.oid = am.member
	          WHERE g.rolname IN (v_read, v_write)
	            AND NOT EXISTS (SELECT 1 FROM unnest(v_roles, v_members) w(g, m)
	                             WHERE w.g = g.rolname AND w.m = m.rolname)
	LOOP
		EXECUTE format('REVOKE %I FROM %I', r.rolname, r.member);
	END LOOP;
	FOR r IN SELECT w.g AS rolname, w.m AS member FROM unnest(v_roles, v_members) w(g, m)
	          WHERE NOT EXISTS (SELECT 1 FROM pg_catalog.pg_auth_members am
	                              JOIN pg_catalog.pg_roles g ON g.oid = am.roleid
	                              JOIN pg_catalog.pg_roles m ON m.oid = am.member
	                             WHERE g.rolname = w.g AND m.rolname = w.m)
	LOOP
		EXECUTE format('GRANT %I TO %I', r.rolname, r.member);
	END LOOP;
END;
$$;
REVOKE EXECUTE ON FUNCTION cv_sync_project_roles(bigint) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION cv_sync_project_roles(bigint) TO pgvision_user;
COMMENT ON FUNCTION cv_sync_project_roles(bigint) IS 'on Citus: make the project''s read and write roles and their members agree with cv_projects and cv_project_shares (the project and share functions call it; a superuser runs it after changing owners or shares by direct SQL); nothing on a single server';

CREATE OR REPLACE FUNCTION cv_tag_image(image_id bigint, tags text[]) RETURNS void
LANGUAGE plpgsql SET search_path = @extschema@, pg_temp AS $$
DECLARE
	v_image cv_images;
BEGIN
	PERFORM cv_citus_sequential_writes();
	v_image := cv_image_row(image_id, 'write');
	PERFORM cv_check_tags_given(tags);
	PERFORM cv_apply_tags(v_image, tags);
END;
$$;

CREATE OR REPLACE FUNCTION cv_add_region(image_id bigint, tag text, "left" float8, top float8, width float8, height float8)
RETURNS bigint
LANGUAGE plpgsql SET search_path = @extschema@, pg_temp AS $$
DECLARE
	v_image cv_images;
	v_id bigint;
BEGIN
	PERFORM cv_citus_sequential_writes();
	v_image := cv_image_row(image_id, 'write');
	PERFORM cv_check_region('region', "left", top, width, height);
	INSERT INTO cv_regions AS r (image_id, tag_id, project_id, "left", top, width, height)
	VALUES (v_image.id, cv_region_tag(v_image.project_id, tag), v_image.project_id, "left", top, width, height)
	RETURNING r.id INTO v_id;
	RETURN v_id;
END;
$$;

CREATE OR REPLACE FUNCTION cv_accept_suggestion(image_id bigint DEFAULT NULL, prediction_id bigint DEFAULT NULL)
RETURNS bigint
LANGUAGE plpgsql SET search_path = @extschema@, pg_temp AS $$
DECLARE
	v_project cv_projects;
	v_image cv_images;
	v_iteration cv_iteration_store;
	v_bytes cv_image;
	v_suggestions jsonb;
	v_tags text[];
	v_regions jsonb;
BEGIN
	IF (image_id IS NULL) = (prediction_id IS NULL) THEN
		RAISE EXCEPTION 'give either image_id or prediction_id'
			USING ERRCODE = 'invalid_parameter_value',
			      HINT = 'cv_suggest names each suggestion by its image_id (an image without labels) or its prediction_id (a stored prediction).';
	END IF;
	-- both ways read a row by id alone (every shard on Citus) before writing
	PERFORM cv_citus_sequential_writes();
	IF image_id IS NOT NULL THEN
		v_image := cv_image_row(image_id, 'write');
		SELECT * INTO v_project FROM cv_projects p WHERE p.id = v_image.project_id;
		IF EXISTS (SELECT 1 FROM cv_image_tags it WHERE it.image_id = v_image.id AND it.project_id = v_image.project_id)
		   OR EXISTS (SELECT 1 FROM cv_regions r WHERE r.image_id = v_image.id AND r.project_id = v_image.project_id) THEN
			RAISE EXCEPTION 'image % is already labelled', v_image.id
				USING ERRCODE = 'object_not_in_prerequisite_state',
				      HINT = 'Suggestions are for images without tags or regions (cv_suggest lists them).';
		END IF;
		v_bytes := v_image.image;
	ELSE
		v_project := cv_prediction_project(prediction_id, 'write');
		SELECT p.image INTO v_bytes FROM cv_prediction_store p
		 WHERE p.id = cv_accept_suggestion.prediction_id AND p.project_id = v_project.id;
		IF v_bytes IS NULL THEN
			-- adopted: cv_adopt_prediction says so, with the image it became
			RETURN cv_adopt_prediction(prediction_id);
		END IF;
	END IF;
	v_iteration := cv_latest_iteration(v_project);
	v_suggestions := (cv_suggestion(v_project, v_iteration, v_bytes)).suggestions;
	IF v_project.task = 'detection' THEN
		SELECT coalesce(jsonb_agg(jsonb_build_object('tag', b.tag, 'left', b.l, 'top', b.t,
		                                             'width', least(b.w, 1 - b.l), 'height', least(b.h, 1 - b.t))
		                          ORDER BY b.n), '[]')
		  INTO v_regions
		  FROM (SELECT e.n, e.d ->> 'tag' AS tag, (e.d ->> 'left')::float8 AS l, (e.d ->> 'top')::float8 AS t,
		               (e.d ->> 'width')::float8 AS w, (e.d ->> 'height')::float8 AS h
		          FROM jsonb_array_elements(v_suggestions) WITH ORDINALITY e(d, n)) b;
	ELSE
		SELECT coalesce(array_agg(e ->> 'tag'), '{}') INTO v_tags FROM jsonb_array_elements(v_suggestions) e;
		IF cardinality(v_tags) = 0 THEN
			RAISE EXCEPTION 'iteration % suggests no tag for this image: none reaches its threshold %', v_iteration.id, v_iteration.threshold
				USING ERRCODE = 'object_not_in_prerequisite_state',
				      HINT = 'Tag it yourself (cv_tag_image, or cv_adopt_prediction(id, tags => ...)).';
		END IF;
	END IF;
	IF image_id IS NOT NULL THEN
		IF v_project.task = 'detection' THEN
			INSERT INTO cv_regions (image_id, tag_id, project_id, "left", top, width, height)
			SELECT v_image.id, cv_region_tag(v_project.id, r.tag), v_project.id, r."left", r.top, r.width, r.height
			  FROM cv_regions_from_json(v_regions) r ORDER BY r.ord;
		ELSE
			PERFORM cv_apply_tags(v_image, v_tags);
		END IF;
		RETURN v_image.id;
	END IF;
	RETURN cv_adopt_prediction(prediction_id, tags => v_tags, regions => v_regions);
END;
$$;

CREATE OR REPLACE FUNCTION cv_create_project(name text, task text DEFAULT 'multiclass', domain text DEFAULT 'compact')
RETURNS bigint
LANGUAGE plpgsql SET search_path = @extschema@, pg_temp AS $$
DECLARE
	v_id bigint;
BEGIN
	PERFORM cv_check_user();
	IF name IS NULL OR length(name) = 0 OR name <> btrim(name) OR length(name) > 128 OR name ~ '[[:cntrl:]]' THEN
		RAISE EXCEPTION 'invalid project name "%"', coalesce(name, 'NULL')
			USING ERRCODE = 'invalid_parameter_value',
			      DETAIL = 'A project name is 1 to 128 characters without leading or trailing spaces or control characters.';
	END IF;
	IF task IS NULL OR task NOT IN ('multiclass', 'multilabel', 'detection') THEN
		RAISE EXCEPTION 'invalid task "%"', coalesce(task, 'NULL')
			USING ERRCODE = 'invalid_parameter_value',
			      DETAIL = 'The task is one of multiclass, multilabel, detection.';
	END IF;
	IF domain IS NULL OR NOT EXISTS (SELECT 1 FROM cv_domains d WHERE d.name = domain) THEN
		RAISE EXCEPTION 'domain "%" does not exist', coalesce(domain, 'NULL')
			USING ERRCODE = 'undefined_object',
			      HINT = 'cv_domains lists the domains.';
	END IF;
	INSERT INTO cv_projects AS p (name, task, domain)
	VALUES (cv_create_project.name, cv_create_project.task, cv_create_project.domain)
	ON CONFLICT ON CONSTRAINT cv_projects_name_owner_key DO NOTHING
	RETURNING p.id INTO v_id;
	IF v_id IS NULL THEN
		RAISE EXCEPTION 'project "%" already exists', cv_create_project.name USING ERRCODE = 'duplicate_object';
	END IF;
	-- on Citus, the project's roles (nothing on a single server)
	PERFORM cv_sync_project_roles(v_id);
	RETURN v_id;
END;
$$;

CREATE OR REPLACE FUNCTION cv_delete_project(name text) RETURNS void
LANGUAGE plpgsql SET search_path = @extschema@, pg_temp AS $$
DECLARE
	v_project cv_projects := cv_project_row(cv_delete_project.name, 'owner');
BEGIN
	DELETE FROM cv_projects p WHERE p.id = v_project.id;
	-- on Citus, its roles go too (nothing on a single server)
	PERFORM cv_sync_project_roles(v_project.id);
END;
$$;

CREATE OR REPLACE FUNCTION cv_share_project(project text, role regrole, access text DEFAULT 'read') RETURNS void
LANGUAGE plpgsql SET search_path = @extschema@, pg_temp AS $$
DECLARE
	v_project cv_projects := cv_project_row(project, 'owner');
BEGIN
	IF role IS NULL OR role = 0 THEN
		RAISE EXCEPTION 'a project is shared with a role, not %', CASE WHEN role IS NULL THEN 'NULL' ELSE 'PUBLIC' END
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	-- regrole takes any number ('99999'::regrole) without looking it up
	IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_roles r WHERE r.oid = role) THEN
		RAISE EXCEPTION 'role with OID % does not exist', role::oid USING ERRCODE = 'undefined_object';
	END IF;
	IF access IS NULL OR access NOT IN ('read', 'write') THEN
		RAISE EXCEPTION 'invalid access "%"', coalesce(access, 'NULL')
			USING ERRCODE = 'invalid_parameter_value',
			      DETAIL = 'The access is read (its rows, prediction, performance, export) or write (also images, tags, regions, training, publishing).';
	END IF;
	IF role = v_project.owner THEN
		RAISE EXCEPTION 'role % owns project "%"', role, project USING ERRCODE = 'invalid_parameter_value';
	END IF;
	INSERT INTO cv_project_shares AS s (project_id, owner, grantee, access)
	VALUES (v_project.id, v_project.owner, role, access)
	ON CONFLICT (project_id, grantee) DO UPDATE SET access = EXCLUDED.access;
	PERFORM cv_sync_project_roles(v_project.id);
	IF NOT pg_has_role(role, 'pgvision_user', 'USAGE') THEN
		RAISE NOTICE 'role % cannot use pgvision until it has the privileges of role pgvision_user', role
			USING HINT = format('GRANT pgvision_user TO %s;', role);
	END IF;
END;
$$;

CREATE OR REPLACE FUNCTION cv_unshare_project(project text, role regrole) RETURNS void
LANGUAGE plpgsql SET search_path = @extschema@, pg_temp AS $$
DECLARE
	v_project cv_projects := cv_project_row(project, 'owner');
BEGIN
	IF role IS NULL THEN
		RAISE EXCEPTION 'role must not be null' USING ERRCODE = 'invalid_parameter_value';
	END IF;
	DELETE FROM cv_project_shares s WHERE s.project_id = v_project.id AND s.grantee = role;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'project "%" is not shared with role %', project, coalesce(role::text, 'NULL')
			USING ERRCODE = 'undefined_object';
	END IF;
	PERFORM cv_sync_project_roles(v_project.id);
END;
$$;

-- The iterations' child rows carry their iteration's project (last, as in
-- sql/pgvision.sql): on Citus their policies test the project's roles by
-- it (docs/security.md, "On Citus").
ALTER TABLE cv_iteration_store ADD UNIQUE (id, project_id);
ALTER TABLE cv_iteration_tags ADD COLUMN project_id bigint;
UPDATE cv_iteration_tags c SET project_id = s.project_id FROM cv_iteration_store s WHERE s.id = c.iteration_id;
ALTER TABLE cv_iteration_tags ALTER COLUMN project_id SET NOT NULL,
	ADD FOREIGN KEY (iteration_id, project_id) REFERENCES cv_iteration_store (id, project_id) ON DELETE CASCADE;
ALTER TABLE cv_heldout_predictions ADD COLUMN project_id bigint;
UPDATE cv_heldout_predictions c SET project_id = s.project_id FROM cv_iteration_store s WHERE s.id = c.iteration_id;
ALTER TABLE cv_heldout_predictions ALTER COLUMN project_id SET NOT NULL,
	ADD FOREIGN KEY (iteration_id, project_id) REFERENCES cv_iteration_store (id, project_id) ON DELETE CASCADE;
ALTER TABLE cv_heldout_regions ADD COLUMN project_id bigint;
UPDATE cv_heldout_regions c SET project_id = s.project_id FROM cv_iteration_store s WHERE s.id = c.iteration_id;
ALTER TABLE cv_heldout_regions ALTER COLUMN project_id SET NOT NULL,
	ADD FOREIGN KEY (iteration_id, project_id) REFERENCES cv_iteration_store (id, project_id) ON DELETE CASCADE;

-- Stored predictions on Citus (docs/scale-out.md, section 5): the prediction
-- found and changed with its project named (one shard), the project row read
-- by itself, writes after the read over one connection per node.
CREATE OR REPLACE FUNCTION cv_adopt_prediction(prediction bigint, tags text[] DEFAULT NULL, regions jsonb DEFAULT NULL)
RETURNS bigint
LANGUAGE plpgsql SET search_path = @extschema@, pg_temp AS $$
DECLARE
	v_project cv_projects;
	v cv_prediction_store;
	v_tags text[] := tags;
	v_regions jsonb := regions;
	v_id bigint;
	v_added boolean;
BEGIN
	-- On Citus the prediction is found by id on every shard, and the
	-- image's new tags are then written to a reference table: one
	-- connection per node, as for the other writing functions.
	PERFORM cv_citus_sequential_writes();
	v_project := cv_prediction_project(prediction, 'write');
	-- A second session adopting the same prediction waits here, then sees
	-- it adopted.  The project named: Citus locks rows of one shard only
	-- ("could not run distributed query with FOR UPDATE/SHARE commands"
	-- by id alone).
	SELECT * INTO v FROM cv_prediction_store s WHERE s.id = prediction AND s.project_id = v_project.id FOR UPDATE;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'prediction % does not exist', prediction USING ERRCODE = 'undefined_object';
	END IF;
	IF v.adopted_at IS NOT NULL THEN
		RAISE EXCEPTION 'prediction % was already adopted', prediction
			USING ERRCODE = 'object_not_in_prerequisite_state',
			      DETAIL = CASE WHEN v.adopted_image_id IS NULL
			                    THEN format('Role %s adopted it; the image it became has since been deleted.', v.adopted_by)
			                    ELSE format('Role %s adopted it as image %s.', v.adopted_by, v.adopted_image_id) END;
	END IF;
	IF v_tags IS NULL AND v_regions IS NULL THEN
		IF v_project.task = 'detection' THEN
			-- Boxes are clipped to the image as reals; as float8 their
			-- right edge may pass 1 by a rounding: clip again.
			SELECT coalesce(jsonb_agg(jsonb_build_object('tag', b.tag, 'left', b.l, 'top', b.t,
			                                             'width', least(b.w, 1 - b.l), 'height', least(b.h, 1 - b.t))
			                          ORDER BY b.n), '[]')
			  INTO v_regions
			  FROM (SELECT e.n, e.d ->> 'tag' AS tag, (e.d ->> 'probability')::real AS p,
			               (e.d ->> 'left')::float8 AS l, (e.d ->> 'top')::float8 AS t,
			               (e.d ->> 'width')::float8 AS w, (e.d ->> 'height')::float8 AS h
			          FROM jsonb_array_elements(v.results) WITH ORDINALITY e(d, n)) b
			 WHERE b.p >= v.threshold;
		ELSE
			SELECT coalesce(array_agg(c.tag ORDER BY c.p DESC, c.tag), '{}') INTO v_tags
			  FROM (SELECT e ->> 'tag' AS tag, (e ->> 'probability')::real AS p
			          FROM jsonb_array_elements(v.results) e
			         ORDER BY 2 DESC, 1
			         LIMIT CASE WHEN v_project.task = 'multiclass' THEN 1 END) c
			 WHERE c.p >= v.threshold;
			IF cardinality(v_tags) = 0 THEN
				RAISE EXCEPTION 'no tag predicted for prediction % reaches its threshold %', prediction, v.threshold
					USING ERRCODE = 'object_not_in_prerequisite_state',
					      DETAIL = format('The most probable is "%s" at %s.', v.top_tag, v.top_probability),
					      HINT = format('Give its tags: SELECT cv_adopt_prediction(%s, tags => ''{...}'').', prediction);
			END IF;
		END IF;
	END IF;
	SELECT a.image_id, a.added INTO v_id, v_added FROM cv_add_image_to(v_project, bytea(v.image), v_tags, v_regions) a;
	IF NOT v_added THEN
		RAISE EXCEPTION 'the image of prediction % is already image % of project "%"', prediction, v_id, v_project.name
			USING ERRCODE = 'duplicate_object',
			      HINT = format('Change the labels of image %s instead, or delete the prediction with cv_delete_prediction(%s).', v_id, prediction);
	END IF;
	UPDATE cv_prediction_store s
	   SET image = NULL, adopted_image_id = v_id, adopted_at = now(), adopted_by = cv_current_role()
	 WHERE s.id = prediction AND s.project_id = v_project.id;
	RETURN v_id;
END;
$$;

CREATE OR REPLACE FUNCTION cv_delete_prediction(prediction bigint) RETURNS void
LANGUAGE plpgsql SET search_path = @extschema@, pg_temp AS $$
DECLARE
	v_project_id bigint := (cv_prediction_project(prediction, 'write')).id;
BEGIN
	-- the project named: one shard on Citus
	DELETE FROM cv_prediction_store s WHERE s.id = prediction AND s.project_id = v_project_id;
END;
$$;

CREATE OR REPLACE FUNCTION cv_prediction_project(prediction_id bigint, need text DEFAULT 'read') RETURNS cv_projects
LANGUAGE plpgsql STABLE PARALLEL SAFE SET search_path = @extschema@, pg_temp AS $$
DECLARE
	v cv_projects;
BEGIN
	IF prediction_id IS NULL THEN
		RAISE EXCEPTION 'prediction id must not be null' USING ERRCODE = 'invalid_parameter_value';
	END IF;
	-- The project read by itself, not joined to the prediction: on Citus
	-- the join runs on the shard's node, whose copy of cv_projects holds
	-- that node's OID of the owner, which comes back here as a number that
	-- names another role or none (the error hints named "role 17827").
	SELECT p.* INTO v FROM cv_projects p
	 WHERE p.id = (SELECT s.project_id FROM cv_prediction_store s WHERE s.id = cv_prediction_project.prediction_id);
	IF NOT FOUND THEN
		RAISE EXCEPTION 'prediction % does not exist', prediction_id
			USING ERRCODE = 'undefined_object',
			      HINT = 'cv_predictions lists the stored predictions waiting for review.';
	END IF;
	RETURN cv_check_access(v, need, format('prediction %s', prediction_id));
END;
$$;

-- The labels correlated on the image and its project: the same rows (a
-- label has its image's project), and on Citus a colocated join.
CREATE OR REPLACE VIEW cv_untagged_images WITH (security_invoker = true) AS
SELECT p.name AS project, i.id AS image_id, i.width, i.height, i.format, i.created_at
  FROM cv_images i JOIN cv_projects p ON p.id = i.project_id
 WHERE NOT EXISTS (SELECT 1 FROM cv_image_tags it WHERE it.image_id = i.id AND it.project_id = i.project_id)
   AND NOT EXISTS (SELECT 1 FROM cv_regions r WHERE r.image_id = i.id AND r.project_id = i.project_id);

CREATE OR REPLACE FUNCTION cv_citus_domain_commands() RETURNS text[]
LANGUAGE sql IMMUTABLE SET search_path = @extschema@, pg_temp AS $$
	SELECT ARRAY[
		'GRANT UPDATE ON cv_domains TO pgvision_user',
		'DROP POLICY IF EXISTS cv_domains_read ON cv_domains',
		'CREATE POLICY cv_domains_read ON cv_domains FOR SELECT USING (true)',
		'DROP POLICY IF EXISTS cv_domains_admin ON cv_domains',
		'CREATE POLICY cv_domains_admin ON cv_domains TO pgvision_admin USING (true) WITH CHECK (true)',
		'ALTER TABLE cv_domains ENABLE ROW LEVEL SECURITY'];
$$;
COMMENT ON FUNCTION cv_citus_domain_commands() IS 'internal (cv_citus_distribute, cv_citus_sync_nodes): the grant and policies of cv_domains on Citus';

CREATE OR REPLACE FUNCTION cv_citus_tag_counts_view() RETURNS text
LANGUAGE sql IMMUTABLE SET search_path = @extschema@, pg_temp AS $$
	SELECT format($v$CREATE OR REPLACE VIEW %1$I.cv_tag_counts WITH (security_invoker = true) AS
WITH i AS MATERIALIZED (SELECT it.tag_id, count(*) AS n FROM %1$I.cv_image_tags it GROUP BY it.project_id, it.tag_id),
     r AS MATERIALIZED (SELECT r.tag_id, count(DISTINCT r.image_id) AS images, count(*) AS n
                          FROM %1$I.cv_regions r GROUP BY r.project_id, r.tag_id)
SELECT p.name AS project, t.name AS tag, t.negative,
       coalesce(i.n, 0) AS image_count, coalesce(r.images, 0) AS region_image_count, coalesce(r.n, 0) AS region_count
  FROM %1$I.cv_tags t JOIN %1$I.cv_projects p ON p.id = t.project_id
  LEFT JOIN i ON i.tag_id = t.id LEFT JOIN r ON r.tag_id = t.id$v$, '@extschema@');
$$;
COMMENT ON FUNCTION cv_citus_tag_counts_view() IS 'internal (cv_citus_distribute, cv_citus_sync_nodes): the CREATE OR REPLACE VIEW of cv_tag_counts in the form Citus can plan';

CREATE OR REPLACE FUNCTION cv_citus_roles_by_name() RETURNS void
LANGUAGE plpgsql SET search_path = @extschema@, pg_temp AS $$
DECLARE
	v_case text;
BEGIN
	SELECT string_agg(format('WHEN %s THEN %L::pg_catalog.regrole', a.oid, pg_catalog.quote_ident(a.rolname)), ' ')
	  INTO v_case
	  FROM pg_catalog.pg_roles a
	 WHERE a.oid IN (SELECT p.owner FROM cv_projects p UNION SELECT s.owner FROM cv_project_shares s
	                 UNION SELECT s.grantee FROM cv_project_shares s);
	IF v_case IS NOT NULL THEN
		EXECUTE format('UPDATE cv_projects SET owner = CASE owner::pg_catalog.oid %s ELSE owner END', v_case);
		EXECUTE format('UPDATE cv_project_shares SET owner = CASE owner::pg_catalog.oid %s ELSE owner END, '
		               'grantee = CASE grantee::pg_catalog.oid %s ELSE grantee END', v_case, v_case);
	END IF;
END;
$$;
REVOKE EXECUTE ON FUNCTION cv_citus_roles_by_name() FROM PUBLIC;
COMMENT ON FUNCTION cv_citus_roles_by_name() IS 'internal (cv_citus_distribute, cv_citus_sync_nodes): write the roles of projects and shares again by name, so that each node holds its own OID of each';

CREATE OR REPLACE FUNCTION cv_citus_sync_nodes() RETURNS void
LANGUAGE plpgsql SET search_path = @extschema@, pg_temp AS $$
DECLARE
	v_cmd text;
	r record;
BEGIN
	IF NOT (SELECT rolsuper FROM pg_catalog.pg_roles WHERE rolname = current_user) THEN
		RAISE EXCEPTION 'permission denied to change pgvision''s tables on the nodes'
			USING ERRCODE = 'insufficient_privilege', DETAIL = 'Only a superuser can, as for cv_citus_distribute.';
	END IF;
	IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_extension WHERE extname = 'citus') THEN
		RAISE EXCEPTION 'the citus extension is not installed in this database'
			USING ERRCODE = 'object_not_in_prerequisite_state',
			      HINT = 'cv_citus_sync_nodes is run on a Citus coordinator after adding nodes; a single server needs nothing of it.';
	END IF;
	IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_dist_partition WHERE logicalrelid = 'cv_images'::regclass) THEN
		RAISE EXCEPTION 'pgvision''s tables are not distributed'
			USING ERRCODE = 'object_not_in_prerequisite_state',
			      HINT = 'Run SELECT cv_citus_distribute() first, once, on the Citus coordinator.';
	END IF;
	FOREACH v_cmd IN ARRAY cv_citus_policy_commands((SELECT c.prefix FROM cv_citus_roles c))
	                       || cv_citus_domain_commands() || cv_citus_tag_counts_view() LOOP
		FOR r IN SELECT w.nodename, w.nodeport, w.result
		           FROM run_command_on_workers('SET citus.enable_ddl_propagation = off; ' || v_cmd) w
		          WHERE NOT w.success LOOP
			RAISE EXCEPTION 'could not change pgvision''s tables on node %:%', r.nodename, r.nodeport
				USING ERRCODE = 'object_not_in_prerequisite_state', DETAIL = r.result,
				      HINT = 'Every node needs pgvision installed (citus_add_node installs it).';
		END LOOP;
	END LOOP;
	PERFORM cv_citus_sequential_writes();
	PERFORM cv_citus_roles_by_name();
END;
$$;
REVOKE EXECUTE ON FUNCTION cv_citus_sync_nodes() FROM PUBLIC;
COMMENT ON FUNCTION cv_citus_sync_nodes() IS 'on a Citus coordinator, as a superuser, after adding nodes (citus_add_node, then replicate_reference_tables): give every node the policies, grants and views cv_citus_distribute gave the first ones, and the roles of projects and shares by each node''s own OIDs';
