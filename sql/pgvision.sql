-- pgvision: custom vision inside PostgreSQL.
-- This file becomes pgvision--<version>.sql at build time.
\echo Use "CREATE EXTENSION pgvision" to load this file. \quit

------------------------------------------------------------------------------
-- The cv_image type: an encoded JPEG, PNG or BMP, validated on the way in.
------------------------------------------------------------------------------

CREATE TYPE cv_image;

CREATE FUNCTION cv_image_in(cstring) RETURNS cv_image
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION cv_image_out(cv_image) RETURNS cstring
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION cv_image_recv(internal) RETURNS cv_image
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION cv_image_send(cv_image) RETURNS bytea
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

-- STORAGE external: photos are already compressed, and uncompressed
-- out-of-line values let the accessors read only the header.
CREATE TYPE cv_image (
	INPUT = cv_image_in,
	OUTPUT = cv_image_out,
	RECEIVE = cv_image_recv,
	SEND = cv_image_send,
	INTERNALLENGTH = VARIABLE,
	ALIGNMENT = int4,
	STORAGE = external
);
COMMENT ON TYPE cv_image IS 'an encoded image (JPEG, PNG or BMP), validated on input';

CREATE FUNCTION cv_image(bytea) RETURNS cv_image
	AS 'MODULE_PATHNAME', 'cv_image_from_bytea' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION bytea(cv_image) RETURNS bytea
	AS 'MODULE_PATHNAME', 'cv_image_to_bytea' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE CAST (bytea AS cv_image) WITH FUNCTION cv_image(bytea) AS ASSIGNMENT;
CREATE CAST (cv_image AS bytea) WITH FUNCTION bytea(cv_image) AS ASSIGNMENT;
COMMENT ON FUNCTION cv_image(bytea) IS 'validate encoded image bytes and make a cv_image';
COMMENT ON FUNCTION bytea(cv_image) IS 'the encoded image bytes, unchanged';

CREATE FUNCTION cv_width(cv_image) RETURNS integer
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION cv_height(cv_image) RETURNS integer
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION cv_format(cv_image) RETURNS text
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION cv_orientation(cv_image) RETURNS integer
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION cv_width(cv_image) IS 'width in pixels of the upright image (EXIF orientation applied)';
COMMENT ON FUNCTION cv_height(cv_image) IS 'height in pixels of the upright image (EXIF orientation applied)';
COMMENT ON FUNCTION cv_format(cv_image) IS 'encoding of the image: jpeg, png or bmp';
COMMENT ON FUNCTION cv_orientation(cv_image) IS 'EXIF orientation (1..8) stored in the file; 1 when absent';

------------------------------------------------------------------------------
-- Tables.  Ordinary tables with keys, foreign keys and CHECK constraints, so
-- that users and BI tools can read and join them.  Rows that belong to a
-- project carry project_id, and the composite foreign keys make it
-- impossible to label an image with another project's tag.
------------------------------------------------------------------------------

CREATE TABLE cv_domains (
	name         text PRIMARY KEY CHECK (name ~ '^[a-z][a-z0-9_]{0,62}$'),
	kind         text NOT NULL CHECK (kind IN ('builtin', 'backbone')),
	input_width  integer CHECK (input_width > 0),
	input_height integer CHECK (input_height > 0),
	feature_dim  integer CHECK (feature_dim > 0),
	-- What projects the domain serves: classification needs image features
	-- (feature_dim), detection needs the two feature maps a detector reads.
	classification boolean NOT NULL DEFAULT true,
	detection    boolean NOT NULL DEFAULT false,
	description  text,
	created_at   timestamptz NOT NULL DEFAULT now(),
	CHECK (classification = (feature_dim IS NOT NULL) OR kind = 'builtin'),
	CHECK (classification OR detection)
);
COMMENT ON TABLE cv_domains IS 'feature extractors a project can use: built-in and imported backbones; classification and detection say which tasks each serves';
COMMENT ON COLUMN cv_domains.classification IS 'multiclass and multilabel projects can use it (it has image features, feature_dim)';
COMMENT ON COLUMN cv_domains.detection IS 'detection projects can use it (it has stride-16 and stride-32 feature maps)';
INSERT INTO cv_domains (name, kind, classification, detection, description)
VALUES ('compact', 'builtin', true, false, 'built-in features for small data; needs no weights file');

-- The current role as a regrole (quote_ident: a name such as "Ann" needs
-- its quotes to be read back as a role).
CREATE FUNCTION cv_current_role() RETURNS regrole
LANGUAGE sql STABLE PARALLEL SAFE SET search_path = pg_catalog, pg_temp AS $$
	SELECT pg_catalog.quote_ident(current_user)::pg_catalog.regrole
$$;
COMMENT ON FUNCTION cv_current_role() IS 'internal: current_user as a regrole';

-- A project belongs to the role that created it (owner); names are unique
-- per owner, so one role's names reveal nothing to another (see the roles
-- and row security section below).
CREATE TABLE cv_projects (
	id          bigserial PRIMARY KEY,
	name        text NOT NULL
	            CHECK (length(name) BETWEEN 1 AND 128 AND name = btrim(name)),
	task        text NOT NULL DEFAULT 'multiclass'
	            CHECK (task IN ('multiclass', 'multilabel', 'detection')),
	domain      text NOT NULL DEFAULT 'compact' REFERENCES cv_domains (name),
	created_at  timestamptz NOT NULL DEFAULT now(),
	owner       regrole NOT NULL DEFAULT cv_current_role(),
	-- what cv_predict and cv_detect do with store => NULL (docs/predictions.md)
	store_predictions boolean NOT NULL DEFAULT false,
	-- name first: lookups are by name; owner first in the other, so that
	-- lookups by id keep the primary key.  cv_project_shares references it.
	CONSTRAINT cv_projects_name_owner_key UNIQUE (name, owner),
	CONSTRAINT cv_projects_owner_id_key UNIQUE (owner, id)
);
COMMENT ON TABLE cv_projects IS 'one row per project: its task (multiclass, multilabel or detection), domain and owner';
COMMENT ON COLUMN cv_projects.store_predictions IS 'whether cv_predict and cv_detect called with store => NULL keep the image and results in cv_prediction_store; the owner sets it';
COMMENT ON COLUMN cv_projects.owner IS 'the role the project belongs to (its creator); it and the roles that inherit its privileges see and change the project, others only what it shares (cv_project_shares)';

CREATE TABLE cv_tags (
	id          bigserial PRIMARY KEY,
	project_id  bigint NOT NULL REFERENCES cv_projects (id) ON DELETE CASCADE,
	name        text NOT NULL
	            CHECK (length(name) BETWEEN 1 AND 128 AND name = btrim(name)),
	negative    boolean NOT NULL DEFAULT false,
	created_at  timestamptz NOT NULL DEFAULT now(),
	UNIQUE (project_id, name),
	UNIQUE (id, project_id)
);
-- At most one negative ("none of these") tag per project.
CREATE UNIQUE INDEX cv_tags_one_negative ON cv_tags (project_id) WHERE negative;
COMMENT ON TABLE cv_tags IS 'tags of each project; a negative tag means "none of the other tags"';

-- Every key of the per-project tables (images, labels, regions, features)
-- includes project_id, so that Citus can distribute them by project
-- (docs/scale-out.md, section 5); id first, so that the key's index serves
-- the lookups by id as a key on id alone would.
CREATE TABLE cv_images (
	id          bigserial,
	project_id  bigint NOT NULL REFERENCES cv_projects (id) ON DELETE CASCADE,
	image       cv_image NOT NULL,
	width       integer GENERATED ALWAYS AS (cv_width(image)) STORED,
	height      integer GENERATED ALWAYS AS (cv_height(image)) STORED,
	format      text GENERATED ALWAYS AS (cv_format(image)) STORED,
	byte_size   integer GENERATED ALWAYS AS (octet_length(bytea(image))) STORED,
	sha256      bytea GENERATED ALWAYS AS (sha256(bytea(image))) STORED,
	created_at  timestamptz NOT NULL DEFAULT now(),
	UNIQUE (project_id, sha256),
	PRIMARY KEY (id, project_id)
);
COMMENT ON TABLE cv_images IS 'images of each project; sha256 is the content hash of the encoded bytes, unique per project';

CREATE TABLE cv_image_tags (
	image_id    bigint NOT NULL,
	tag_id      bigint NOT NULL,
	project_id  bigint NOT NULL,
	created_at  timestamptz NOT NULL DEFAULT now(),
	PRIMARY KEY (image_id, tag_id, project_id),
	FOREIGN KEY (image_id, project_id) REFERENCES cv_images (id, project_id) ON DELETE CASCADE,
	FOREIGN KEY (tag_id, project_id) REFERENCES cv_tags (id, project_id) ON DELETE CASCADE
);
CREATE INDEX cv_image_tags_tag ON cv_image_tags (tag_id);
COMMENT ON TABLE cv_image_tags IS 'classification labels: which tags each image carries';

-- Region coordinates are normalized to the upright image (0..1, the hosted
-- services' convention).  The 1e-9 slack absorbs float rounding of
-- left + width for boxes that touch the right or bottom edge.
CREATE TABLE cv_regions (
	id          bigserial,
	image_id    bigint NOT NULL,
	tag_id      bigint NOT NULL,
	project_id  bigint NOT NULL,
	"left"      float8 NOT NULL,
	top         float8 NOT NULL,
	width       float8 NOT NULL,
	height      float8 NOT NULL,
	created_at  timestamptz NOT NULL DEFAULT now(),
	CONSTRAINT cv_regions_inside_unit_square CHECK (
		"left" >= 0 AND top >= 0 AND width > 0 AND height > 0
		AND "left" + width <= 1 + 1e-9 AND top + height <= 1 + 1e-9),
	PRIMARY KEY (id, project_id),
	FOREIGN KEY (image_id, project_id) REFERENCES cv_images (id, project_id) ON DELETE CASCADE,
	FOREIGN KEY (tag_id, project_id) REFERENCES cv_tags (id, project_id) ON DELETE CASCADE
);
CREATE INDEX cv_regions_image ON cv_regions (image_id);
CREATE INDEX cv_regions_tag ON cv_regions (tag_id);
COMMENT ON TABLE cv_regions IS 'object-detection boxes: normalized left, top, width, height of the upright image';

-- pg_dump keeps the users' rows (the extension's own built-in domain excepted).
SELECT pg_catalog.pg_extension_config_dump('cv_domains', $$WHERE kind <> 'builtin'$$);
SELECT pg_catalog.pg_extension_config_dump('cv_projects', '');
SELECT pg_catalog.pg_extension_config_dump('cv_projects_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('cv_tags', '');
SELECT pg_catalog.pg_extension_config_dump('cv_tags_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('cv_images', '');
SELECT pg_catalog.pg_extension_config_dump('cv_images_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('cv_image_tags', '');
SELECT pg_catalog.pg_extension_config_dump('cv_regions', '');
SELECT pg_catalog.pg_extension_config_dump('cv_regions_id_seq', '');

------------------------------------------------------------------------------
-- Rules the hosted services have, enforced for every writer (the functions
-- below and direct INSERTs alike).  Each check locks the image row first so
-- two sessions labelling the same image cannot both pass.  Every read of a
-- per-project table names the project: on Citus, a trigger on a shard may
-- read only the colocated shard of the same project (docs/scale-out.md).
------------------------------------------------------------------------------

CREATE FUNCTION cv_image_tags_check() RETURNS trigger
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
CREATE TRIGGER cv_image_tags_check BEFORE INSERT OR UPDATE ON cv_image_tags
	FOR EACH ROW EXECUTE FUNCTION cv_image_tags_check();

CREATE FUNCTION cv_max_regions_per_image() RETURNS integer
	AS 'MODULE_PATHNAME' LANGUAGE C STABLE PARALLEL SAFE;
COMMENT ON FUNCTION cv_max_regions_per_image() IS 'internal: the setting pgvision.max_regions_per_image (the library loaded first)';

CREATE FUNCTION cv_regions_check() RETURNS trigger
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
CREATE TRIGGER cv_regions_check BEFORE INSERT OR UPDATE ON cv_regions
	FOR EACH ROW EXECUTE FUNCTION cv_regions_check();

-- A project's task decides how its images are labelled, so it is fixed once
-- the project has tags.  Negative tags exist only in classification.
-- Detection needs spatial feature maps to place boxes on, which the
-- built-in compact features do not have: only backbone domains detect.
-- Classification needs image features, which a detector imported up to its
-- feature maps (the SSD) does not have (cv_domains.classification).
CREATE FUNCTION cv_projects_check() RETURNS trigger
LANGUAGE plpgsql SET search_path = @extschema@, pg_temp AS $$
DECLARE
	v_backbones text;
	v_domain cv_domains;
BEGIN
	IF TG_OP = 'UPDATE' AND NEW.task IS DISTINCT FROM OLD.task
	   AND EXISTS (SELECT 1 FROM cv_tags WHERE project_id = OLD.id) THEN
		RAISE EXCEPTION 'cannot change the task of project "%" once it has tags', OLD.name
			USING ERRCODE = 'object_in_use';
	END IF;
	SELECT * INTO v_domain FROM cv_domains d WHERE d.name = NEW.domain;
	IF NEW.task = 'detection' AND NOT v_domain.detection THEN
		SELECT string_agg(d.name, ', ' ORDER BY d.name) INTO v_backbones
		  FROM cv_domains d WHERE d.detection;
		RAISE EXCEPTION 'detection project "%" cannot use domain "%"', NEW.name, NEW.domain
			USING ERRCODE = 'feature_not_supported',
			      DETAIL = CASE WHEN v_domain.kind = 'builtin'
			                    THEN format('Domain "%s" is built in: its features have no spatial maps to place boxes on.', NEW.domain)
			                    ELSE format('Domain "%s" has no stride-16 and stride-32 feature maps to place boxes on.', NEW.domain) END,
			      HINT = CASE WHEN v_backbones IS NULL
			                  THEN 'Import a pretrained network with cv_import_backbone(name, model) and use that domain.'
			                  ELSE format('Use a backbone domain (%s), or import one with cv_import_backbone.', v_backbones) END;
	END IF;
	IF NEW.task IN ('multiclass', 'multilabel') AND NOT v_domain.classification THEN
		SELECT string_agg(d.name, ', ' ORDER BY d.name) INTO v_backbones
		  FROM cv_domains d WHERE d.classification;
		RAISE EXCEPTION '% project "%" cannot use domain "%"', NEW.task, NEW.name, NEW.domain
			USING ERRCODE = 'feature_not_supported',
			      DETAIL = format('Domain "%s" has no image features for classification: %s.', NEW.domain,
			                      coalesce((SELECT 'its network runs only up to its feature maps (' || b.cut_reason || ')'
			                                  FROM cv_backbones b WHERE b.domain = NEW.domain),
			                               'it has no classifier whose input could serve as features')),
			      HINT = format('Detection projects can use it (task => ''detection''); for classification use another domain (%s).',
			                    v_backbones);
	END IF;
	RETURN NEW;
END;
$$;
CREATE TRIGGER cv_projects_check BEFORE INSERT OR UPDATE ON cv_projects
	FOR EACH ROW EXECUTE FUNCTION cv_projects_check();

CREATE FUNCTION cv_tags_check() RETURNS trigger
LANGUAGE plpgsql SET search_path = @extschema@, pg_temp AS $$
DECLARE
	v_task text;
	v_project text;
BEGIN
	IF NEW.negative THEN
		SELECT p.task, p.name INTO v_task, v_project FROM cv_projects p WHERE p.id = NEW.project_id;
		IF v_task = 'detection' THEN
			RAISE EXCEPTION 'detection project "%" cannot have a negative tag', v_project
				USING ERRCODE = 'invalid_parameter_value',
				      HINT = 'Images without regions already teach a detector what is not an object.';
		END IF;
	END IF;
	RETURN NEW;
END;
$$;
CREATE TRIGGER cv_tags_check BEFORE INSERT OR UPDATE ON cv_tags
	FOR EACH ROW EXECUTE FUNCTION cv_tags_check();

------------------------------------------------------------------------------
-- Lookups shared by the functions below: the error for a missing object is
-- the same everywhere.
------------------------------------------------------------------------------

-- Row security (the roles section below) leaves each role the projects it
-- may read: one it cannot read gets the same error as one that does not
-- exist.  need: 'read', 'write' or 'owner' (cv_check_access).  Names are
-- unique per owner: the current role's own project of that name comes
-- first, then the only other one it can read.
CREATE FUNCTION cv_project_row(project text, need text DEFAULT 'read') RETURNS cv_projects
LANGUAGE plpgsql STABLE PARALLEL SAFE SET search_path = @extschema@, pg_temp AS $$
DECLARE
	v cv_projects;
	v_other cv_projects;
	v_me regrole := cv_current_role();
BEGIN
	IF project IS NULL THEN
		RAISE EXCEPTION 'project name must not be null' USING ERRCODE = 'invalid_parameter_value';
	END IF;
	FOR v_other IN SELECT * FROM cv_projects p WHERE p.name = project
	               ORDER BY p.owner = v_me DESC, p.id LIMIT 2 LOOP
		IF v.id IS NULL THEN
			v := v_other;
		ELSIF v.owner <> v_me THEN
			RAISE EXCEPTION 'project name "%" is ambiguous', project
				USING ERRCODE = 'ambiguous_alias',
				      DETAIL = format('Projects of roles %s and %s have this name, and neither belongs to role %s.',
				                      v.owner, v_other.owner, v_me),
				      HINT = 'SET ROLE to the owner of the project meant, or ask one owner to rename theirs.';
		END IF;
	END LOOP;
	IF v.id IS NULL THEN
		RAISE EXCEPTION 'project "%" does not exist', project
			USING ERRCODE = 'undefined_object',
			      HINT = 'cv_projects lists the projects; cv_create_project makes one.';
	END IF;
	RETURN cv_check_access(v, need);
END;
$$;
COMMENT ON FUNCTION cv_project_row(text, text) IS 'the cv_projects row of a project name this role can read, or an undefined_object error; need write or owner: or an insufficient_privilege error';

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

CREATE FUNCTION cv_image_row(image_id bigint, need text DEFAULT 'read') RETURNS cv_images
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
COMMENT ON FUNCTION cv_image_row(bigint, text) IS 'the cv_images row of an image id this role can read, or an undefined_object error; need write: or an insufficient_privilege error';

-- Tag names are given by users in arrays: reject null, empty and padded names.
CREATE FUNCTION cv_check_tag_names(tags text[]) RETURNS text[]
LANGUAGE plpgsql IMMUTABLE SET search_path = @extschema@, pg_temp AS $$
DECLARE
	t text;
BEGIN
	IF tags IS NULL THEN
		RETURN '{}';
	END IF;
	FOREACH t IN ARRAY tags LOOP
		IF t IS NULL OR length(t) = 0 OR t <> btrim(t) OR length(t) > 128 OR t ~ '[[:cntrl:]]' THEN
			RAISE EXCEPTION 'invalid tag name "%"', coalesce(t, 'NULL')
				USING ERRCODE = 'invalid_parameter_value',
				      DETAIL = 'A tag name is 1 to 128 characters without leading or trailing spaces or control characters.';
		END IF;
	END LOOP;
	RETURN ARRAY(SELECT DISTINCT u FROM unnest(tags) u ORDER BY u);
END;
$$;
COMMENT ON FUNCTION cv_check_tag_names(text[]) IS 'validated, sorted, de-duplicated tag names';

------------------------------------------------------------------------------
-- Projects and tags
------------------------------------------------------------------------------

CREATE FUNCTION cv_create_project(name text, task text DEFAULT 'multiclass', domain text DEFAULT 'compact')
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
COMMENT ON FUNCTION cv_create_project(text, text, text) IS 'create a project; task multiclass, multilabel or detection; returns its id';

CREATE FUNCTION cv_delete_project(name text) RETURNS void
LANGUAGE plpgsql SET search_path = @extschema@, pg_temp AS $$
DECLARE
	v_project cv_projects := cv_project_row(cv_delete_project.name, 'owner');
BEGIN
	DELETE FROM cv_projects p WHERE p.id = v_project.id;
	-- on Citus, its roles go too (nothing on a single server)
	PERFORM cv_sync_project_roles(v_project.id);
END;
$$;
COMMENT ON FUNCTION cv_delete_project(text) IS 'delete a project with its tags, images and regions';

CREATE FUNCTION cv_create_tag(project text, name text, negative boolean DEFAULT false)
RETURNS bigint
LANGUAGE plpgsql SET search_path = @extschema@, pg_temp AS $$
DECLARE
	v_project cv_projects := cv_project_row(project, 'write');
	v_id bigint;
BEGIN
	PERFORM cv_check_tag_names(ARRAY[cv_create_tag.name]);
	IF cv_create_tag.negative IS NULL THEN
		RAISE EXCEPTION 'negative must not be null' USING ERRCODE = 'invalid_parameter_value';
	END IF;
	IF cv_create_tag.negative AND EXISTS (SELECT 1 FROM cv_tags t WHERE t.project_id = v_project.id AND t.negative) THEN
		RAISE EXCEPTION 'project "%" already has a negative tag', project
			USING ERRCODE = 'duplicate_object';
	END IF;
	INSERT INTO cv_tags AS t (project_id, name, negative)
	VALUES (v_project.id, cv_create_tag.name, cv_create_tag.negative)
	ON CONFLICT ON CONSTRAINT cv_tags_project_id_name_key DO NOTHING
	RETURNING t.id INTO v_id;
	IF v_id IS NULL THEN
		RAISE EXCEPTION 'tag "%" already exists in project "%"', cv_create_tag.name, project
			USING ERRCODE = 'duplicate_object';
	END IF;
	RETURN v_id;
END;
$$;
COMMENT ON FUNCTION cv_create_tag(text, text, boolean) IS 'create a tag in a project (negative: the "none of these" tag); returns its id';

CREATE FUNCTION cv_delete_tag(project text, name text) RETURNS void
LANGUAGE plpgsql SET search_path = @extschema@, pg_temp AS $$
DECLARE
	v_project cv_projects := cv_project_row(project, 'write');
BEGIN
	-- a NULL or empty name is a mistake, not a tag that happens to be missing
	PERFORM cv_check_tag_names(ARRAY[cv_delete_tag.name]);
	DELETE FROM cv_tags t WHERE t.project_id = v_project.id AND t.name = cv_delete_tag.name;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'tag "%" does not exist in project "%"', cv_delete_tag.name, project
			USING ERRCODE = 'undefined_object';
	END IF;
END;
$$;
COMMENT ON FUNCTION cv_delete_tag(text, text) IS 'delete a tag with its image labels and regions';

------------------------------------------------------------------------------
-- Images and their labels
------------------------------------------------------------------------------

-- Give an image tags by name, creating tags the project lacks.
CREATE FUNCTION cv_apply_tags(v_image cv_images, tags text[]) RETURNS void
LANGUAGE plpgsql SET search_path = @extschema@, pg_temp AS $$
DECLARE
	v_names text[] := cv_check_tag_names(tags);
	v_project cv_projects;
	v_negative text;
	v_name text;
	v_tag_id bigint;
BEGIN
	-- Check the request as a whole first, so the error names what was asked
	-- for; the triggers then check it against the tags the image already has.
	SELECT * INTO v_project FROM cv_projects WHERE id = v_image.project_id;
	IF v_project.task = 'multiclass' AND cardinality(v_names) > 1 THEN
		RAISE EXCEPTION 'an image of multiclass project "%" takes one tag, not %', v_project.name, cardinality(v_names)
			USING ERRCODE = 'invalid_parameter_value',
			      DETAIL = format('Tags given: %s.', array_to_string(v_names, ', ')),
			      HINT = 'Create the project with task => ''multilabel'' for several tags per image.';
	END IF;
	SELECT t.name INTO v_negative FROM cv_tags t
	 WHERE t.project_id = v_image.project_id AND t.negative AND t.name = ANY (v_names);
	IF v_negative IS NOT NULL AND cardinality(v_names) > 1 THEN
		RAISE EXCEPTION 'negative tag "%" cannot be combined with other tags', v_negative
			USING ERRCODE = 'invalid_parameter_value',
			      DETAIL = format('Tags given: %s.', array_to_string(v_names, ', '));
	END IF;
	FOREACH v_name IN ARRAY v_names LOOP
		INSERT INTO cv_tags (project_id, name) VALUES (v_image.project_id, v_name)
		ON CONFLICT (project_id, name) DO NOTHING;
		SELECT id INTO STRICT v_tag_id FROM cv_tags WHERE project_id = v_image.project_id AND name = v_name;
		INSERT INTO cv_image_tags (image_id, tag_id, project_id)
		VALUES (v_image.id, v_tag_id, v_image.project_id)
		ON CONFLICT DO NOTHING;
	END LOOP;
END;
$$;
COMMENT ON FUNCTION cv_apply_tags(cv_images, text[]) IS 'internal: tag an image by tag names, creating missing tags';

-- What kind of JSON value something is, for messages ("not a string").
CREATE FUNCTION cv_json_kind(value jsonb) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
	SELECT CASE jsonb_typeof(value)
	       WHEN 'object' THEN 'an object' WHEN 'array' THEN 'an array'
	       WHEN 'string' THEN 'a string' WHEN 'number' THEN 'a number'
	       WHEN 'boolean' THEN 'a boolean' ELSE 'null' END
$$;
COMMENT ON FUNCTION cv_json_kind(jsonb) IS 'internal: "an object", "a string", ... for messages';

-- The regions argument of cv_add_image, every element checked before
-- anything is written: [{"tag": text, "left": n, "top": n, "width": n,
-- "height": n}, ...].  ord counts from 1, as the messages do.
CREATE FUNCTION cv_regions_from_json(regions jsonb,
	OUT ord integer, OUT tag text, OUT "left" float8, OUT top float8, OUT width float8, OUT height float8)
RETURNS SETOF record
LANGUAGE plpgsql IMMUTABLE SET search_path = @extschema@, pg_temp AS $$
DECLARE
	v_shape constant text := 'Each region is an object {"tag": text, "left": n, "top": n, "width": n, "height": n}.';
	v_elem jsonb;
	v_key text;
	v_unknown text;
	v_num float8[];
BEGIN
	IF regions IS NULL THEN
		RETURN;
	END IF;
	IF jsonb_typeof(regions) <> 'array' THEN
		RAISE EXCEPTION 'regions must be a JSON array, not %', cv_json_kind(regions)
			USING ERRCODE = 'invalid_parameter_value', DETAIL = v_shape;
	END IF;
	FOR i IN 1 .. jsonb_array_length(regions) LOOP
		v_elem := regions -> (i - 1);
		IF jsonb_typeof(v_elem) <> 'object' THEN
			RAISE EXCEPTION 'region % must be a JSON object, not %', i, cv_json_kind(v_elem)
				USING ERRCODE = 'invalid_parameter_value', DETAIL = v_shape;
		END IF;
		SELECT k INTO v_unknown FROM jsonb_object_keys(v_elem) k
		 WHERE k NOT IN ('tag', 'left', 'top', 'width', 'height') ORDER BY k LIMIT 1;
		IF v_unknown IS NOT NULL THEN
			RAISE EXCEPTION 'region % has an unknown key "%"', i, v_unknown
				USING ERRCODE = 'invalid_parameter_value', DETAIL = v_shape;
		END IF;
		FOREACH v_key IN ARRAY ARRAY['tag', 'left', 'top', 'width', 'height'] LOOP
			IF NOT v_elem ? v_key THEN
				RAISE EXCEPTION 'region % has no "%"', i, v_key
					USING ERRCODE = 'invalid_parameter_value', DETAIL = v_shape;
			END IF;
		END LOOP;
		IF jsonb_typeof(v_elem -> 'tag') <> 'string' THEN
			RAISE EXCEPTION '"tag" of region % must be a string, not %', i, cv_json_kind(v_elem -> 'tag')
				USING ERRCODE = 'invalid_parameter_value', DETAIL = v_shape;
		END IF;
		v_num := '{}';
		FOREACH v_key IN ARRAY ARRAY['left', 'top', 'width', 'height'] LOOP
			IF jsonb_typeof(v_elem -> v_key) <> 'number' THEN
				RAISE EXCEPTION '"%" of region % must be a number, not %', v_key, i, cv_json_kind(v_elem -> v_key)
					USING ERRCODE = 'invalid_parameter_value', DETAIL = v_shape;
			END IF;
			-- JSON numbers are unbounded: keep huge ones huge (still outside
			-- the image) and tiny ones from underflowing float8.
			v_num := v_num || round(least(greatest((v_elem -> v_key)::numeric, -1e15), 1e15), 300)::float8;
		END LOOP;
		ord := i;
		tag := v_elem ->> 'tag';
		PERFORM cv_check_tag_names(ARRAY[tag]);
		"left" := v_num[1];
		top := v_num[2];
		width := v_num[3];
		height := v_num[4];
		PERFORM cv_check_region(format('region %s', i), "left", top, width, height);
		RETURN NEXT;
	END LOOP;
END;
$$;
COMMENT ON FUNCTION cv_regions_from_json(jsonb) IS 'internal: the checked regions of a JSON array of {"tag", "left", "top", "width", "height"} objects';

-- One statement: an error anywhere (a bad third region, the cap) leaves no
-- image, region or tag behind.  The project is given as its row, so that
-- callers holding an id (cv_adopt_prediction) never resolve a name again.
-- When the same bytes are already an image of the project, nothing is
-- written and added is false: the caller says what that means.
CREATE FUNCTION cv_add_image_to(v_project cv_projects, image bytea, tags text[], regions jsonb,
	OUT image_id bigint, OUT added boolean)
LANGUAGE plpgsql SET search_path = @extschema@, pg_temp AS $$
DECLARE
	v_image cv_images;
	v_tags text[] := cv_check_tag_names(tags);
	v_limit integer;
	v_ord integer[];
	v_rtag text[];
	v_left float8[];
	v_top float8[];
	v_width float8[];
	v_height float8[];
	v_count integer;
BEGIN
	IF image IS NULL THEN
		RAISE EXCEPTION 'image must not be null' USING ERRCODE = 'invalid_parameter_value';
	END IF;
	SELECT array_agg(r.ord ORDER BY r.ord), array_agg(r.tag ORDER BY r.ord),
	       array_agg(r."left" ORDER BY r.ord), array_agg(r.top ORDER BY r.ord),
	       array_agg(r.width ORDER BY r.ord), array_agg(r.height ORDER BY r.ord)
	  INTO v_ord, v_rtag, v_left, v_top, v_width, v_height
	  FROM cv_regions_from_json(regions) r;
	v_count := coalesce(cardinality(v_ord), 0);
	IF v_project.task <> 'detection' AND v_count > 0 THEN
		RAISE EXCEPTION 'project "%" is a % project; regions belong to detection projects', v_project.name, v_project.task
			USING ERRCODE = 'wrong_object_type',
			      HINT = 'Label classification images with tags (tags => ...).';
	END IF;
	IF v_project.task = 'detection' AND cardinality(v_tags) > 0 THEN
		RAISE EXCEPTION 'images of detection project "%" are labelled with regions, not tags', v_project.name
			USING ERRCODE = 'wrong_object_type',
			      DETAIL = format('Tags given: %s.', array_to_string(v_tags, ', ')),
			      HINT = CASE WHEN regions IS NULL
			                  THEN 'Give the boxes as regions => ..., each with its tag, or draw them with cv_add_region.'
			                  ELSE 'Each region names its tag: leave tags out.' END;
	END IF;
	v_limit := cv_max_regions_per_image();
	IF v_count > v_limit THEN
		RAISE EXCEPTION '% regions given for one image; the limit is %', v_count, v_limit
			USING ERRCODE = 'program_limit_exceeded',
			      HINT = 'pgvision.max_regions_per_image sets the limit.';
	END IF;
	INSERT INTO cv_images AS i (project_id, image)
	VALUES (v_project.id, image::cv_image)
	ON CONFLICT (project_id, sha256) DO NOTHING
	RETURNING * INTO v_image;
	IF v_image.id IS NULL THEN
		SELECT i.id INTO STRICT image_id FROM cv_images i
		 WHERE i.project_id = v_project.id AND i.sha256 = sha256(cv_add_image_to.image);
		added := false;
		RETURN;
	END IF;
	IF v_project.task = 'detection' THEN
		PERFORM cv_region_tag(v_project.id, t) FROM (SELECT DISTINCT t FROM unnest(v_rtag) t ORDER BY t) s;
		INSERT INTO cv_regions (image_id, tag_id, project_id, "left", top, width, height)
		SELECT v_image.id, t.id, v_project.id, u.l, u.t, u.w, u.h
		  FROM unnest(v_ord, v_rtag, v_left, v_top, v_width, v_height) AS u(ord, tag, l, t, w, h)
		  JOIN cv_tags t ON t.project_id = v_project.id AND t.name = u.tag
		 ORDER BY u.ord;
	ELSE
		PERFORM cv_apply_tags(v_image, v_tags);
	END IF;
	PERFORM cv_note_near_duplicate(v_image.id);
	image_id := v_image.id;
	added := true;
END;
$$;
COMMENT ON FUNCTION cv_add_image_to(cv_projects, bytea, text[], jsonb) IS 'internal: cv_add_image on a project row; added false (and nothing written) when the bytes are already an image of the project';

CREATE FUNCTION cv_add_image(project text, image bytea, tags text[] DEFAULT '{}', regions jsonb DEFAULT NULL)
RETURNS bigint
LANGUAGE plpgsql SET search_path = @extschema@, pg_temp AS $$
DECLARE
	v_project cv_projects := cv_project_row(project, 'write');
	v_id bigint;
	v_added boolean;
BEGIN
	SELECT a.image_id, a.added INTO v_id, v_added FROM cv_add_image_to(v_project, image, tags, regions) a;
	IF NOT v_added THEN
		IF v_project.task = 'detection' THEN
			RAISE NOTICE 'image already in project "%" as image %; nothing added', project, v_id
				USING HINT = 'Its regions are unchanged; cv_add_region adds boxes.';
		ELSE
			RAISE NOTICE 'image already in project "%" as image %; nothing added', project, v_id
				USING HINT = 'Its tags are unchanged; cv_tag_image adds tags.';
		END IF;
	END IF;
	RETURN v_id;
END;
$$;
COMMENT ON FUNCTION cv_add_image(text, bytea, text[], jsonb) IS 'add an image (JPEG, PNG, BMP) to a project with its tags (classification) or its regions (detection, a JSON array of {"tag", "left", "top", "width", "height"}), all or nothing; returns its id, or the existing id when the same bytes are already there';

CREATE FUNCTION cv_delete_image(image_id bigint) RETURNS void
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
COMMENT ON FUNCTION cv_delete_image(bigint) IS 'delete an image with its labels and regions';

-- The tags argument of cv_tag_image, cv_untag_image and cv_retag_image: a
-- NULL (a subquery that found nothing) would silently do nothing, or for
-- cv_retag_image remove every tag; '{}' says so on purpose.
CREATE FUNCTION cv_check_tags_given(tags text[]) RETURNS void
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE SET search_path = @extschema@, pg_temp AS $$
BEGIN
	IF tags IS NULL THEN
		RAISE EXCEPTION 'tags must not be null' USING ERRCODE = 'invalid_parameter_value',
			HINT = 'Give an array of tag names; ''{}'' is no tags (cv_retag_image(image, ''{}'') removes every tag).';
	END IF;
END;
$$;
COMMENT ON FUNCTION cv_check_tags_given(text[]) IS 'internal: the error for a NULL tags argument';

CREATE FUNCTION cv_tag_image(image_id bigint, tags text[]) RETURNS void
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
COMMENT ON FUNCTION cv_tag_image(bigint, text[]) IS 'add tags to an image, creating tags the project lacks';

CREATE FUNCTION cv_untag_image(image_id bigint, tags text[]) RETURNS void
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
COMMENT ON FUNCTION cv_untag_image(bigint, text[]) IS 'remove tags from an image';

CREATE FUNCTION cv_retag_image(image_id bigint, tags text[]) RETURNS void
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
COMMENT ON FUNCTION cv_retag_image(bigint, text[]) IS 'replace all tags of an image';

------------------------------------------------------------------------------
-- Regions (object detection)
------------------------------------------------------------------------------

-- A box in normalized coordinates of the upright image; what names it in
-- the message ('region', or 'region 3' of a list).
CREATE FUNCTION cv_check_region(what text, "left" float8, top float8, width float8, height float8)
RETURNS void
LANGUAGE plpgsql IMMUTABLE SET search_path = @extschema@, pg_temp AS $$
DECLARE
	v_bad text;
BEGIN
	-- The message names the coordinate (NaN compares equal to NaN in SQL).
	v_bad := CASE WHEN "left" IS NULL OR "left" = 'NaN' THEN 'left'
	              WHEN top IS NULL OR top = 'NaN' THEN 'top'
	              WHEN width IS NULL OR width = 'NaN' THEN 'width'
	              WHEN height IS NULL OR height = 'NaN' THEN 'height' END;
	IF v_bad IS NOT NULL THEN
		RAISE EXCEPTION '% % must be a number, not %', what, v_bad,
			coalesce(CASE v_bad WHEN 'left' THEN "left" WHEN 'top' THEN top
			                    WHEN 'width' THEN width ELSE height END::text, 'NULL')
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	IF NOT ("left" >= 0 AND top >= 0 AND width > 0 AND height > 0
	        AND "left" + width <= 1 + 1e-9 AND top + height <= 1 + 1e-9) THEN
		RAISE EXCEPTION '% (left %, top %, width %, height %) does not lie inside the image', what, "left", top, width, height
			USING ERRCODE = 'invalid_parameter_value',
			      DETAIL = 'Coordinates are fractions of the upright image: left and top at least 0, width and height above 0, left + width and top + height at most 1.';
	END IF;
END;
$$;
COMMENT ON FUNCTION cv_check_region(text, float8, float8, float8, float8) IS 'internal: the error for a box outside the unit square';

-- The id of a tag by name, created when the project lacks it (as
-- cv_apply_tags does for classification labels).
CREATE FUNCTION cv_region_tag(project_id bigint, tag text) RETURNS bigint
LANGUAGE plpgsql SET search_path = @extschema@, pg_temp AS $$
DECLARE
	v_id bigint;
BEGIN
	PERFORM cv_check_tag_names(ARRAY[tag]);
	-- Look first: an INSERT that finds the tag would still use up an id.
	SELECT t.id INTO v_id FROM cv_tags t WHERE t.project_id = cv_region_tag.project_id AND t.name = tag;
	IF v_id IS NULL THEN
		INSERT INTO cv_tags AS t (project_id, name) VALUES (cv_region_tag.project_id, tag)
		ON CONFLICT ON CONSTRAINT cv_tags_project_id_name_key DO NOTHING
		RETURNING t.id INTO v_id;
	END IF;
	IF v_id IS NULL THEN
		-- Another session created it meanwhile.
		SELECT t.id INTO STRICT v_id FROM cv_tags t WHERE t.project_id = cv_region_tag.project_id AND t.name = tag;
	END IF;
	RETURN v_id;
END;
$$;
COMMENT ON FUNCTION cv_region_tag(bigint, text) IS 'internal: the id of a tag by name, creating it when missing';

CREATE FUNCTION cv_add_region(image_id bigint, tag text, "left" float8, top float8, width float8, height float8)
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
COMMENT ON FUNCTION cv_add_region(bigint, text, float8, float8, float8, float8) IS 'draw a tagged box on an image of a detection project (normalized left, top, width, height), creating the tag when missing; returns its id';

CREATE FUNCTION cv_delete_region(region_id bigint) RETURNS void
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
COMMENT ON FUNCTION cv_delete_region(bigint) IS 'delete a region';

------------------------------------------------------------------------------
-- Views for people and BI tools
------------------------------------------------------------------------------

CREATE VIEW cv_tag_counts AS
SELECT p.name AS project, t.name AS tag, t.negative,
       (SELECT count(*) FROM cv_image_tags it WHERE it.tag_id = t.id) AS image_count,
       (SELECT count(DISTINCT r.image_id) FROM cv_regions r WHERE r.tag_id = t.id) AS region_image_count,
       (SELECT count(*) FROM cv_regions r WHERE r.tag_id = t.id) AS region_count
  FROM cv_tags t JOIN cv_projects p ON p.id = t.project_id;
COMMENT ON VIEW cv_tag_counts IS 'per tag: images labelled with it, and for detection the images and boxes that carry it';

-- The labels correlated on the image and its project: the same rows (a
-- label has its image's project), and on Citus a colocated join.
CREATE VIEW cv_untagged_images AS
SELECT p.name AS project, i.id AS image_id, i.width, i.height, i.format, i.created_at
  FROM cv_images i JOIN cv_projects p ON p.id = i.project_id
 WHERE NOT EXISTS (SELECT 1 FROM cv_image_tags it WHERE it.image_id = i.id AND it.project_id = i.project_id)
   AND NOT EXISTS (SELECT 1 FROM cv_regions r WHERE r.image_id = i.id AND r.project_id = i.project_id);
COMMENT ON VIEW cv_untagged_images IS 'images with neither a tag nor a region';

------------------------------------------------------------------------------
-- Training: the cv_model type, iterations, cached features, held-out
-- predictions.
------------------------------------------------------------------------------

CREATE TYPE cv_model;
CREATE FUNCTION cv_model_in(cstring) RETURNS cv_model
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION cv_model_out(cv_model) RETURNS cstring
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION cv_model_recv(internal) RETURNS cv_model
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION cv_model_send(cv_model) RETURNS bytea
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE TYPE cv_model (
	INPUT = cv_model_in,
	OUTPUT = cv_model_out,
	RECEIVE = cv_model_recv,
	SEND = cv_model_send,
	INTERNALLENGTH = VARIABLE,
	ALIGNMENT = int4,
	STORAGE = extended
);
COMMENT ON TYPE cv_model IS 'a trained iteration: versioned, checksummed bytes holding the head, the tags and the domain reference';
CREATE FUNCTION cv_model(bytea) RETURNS cv_model
	AS 'MODULE_PATHNAME', 'cv_model_from_bytea' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION bytea(cv_model) RETURNS bytea
	AS 'MODULE_PATHNAME', 'cv_model_to_bytea' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE CAST (bytea AS cv_model) WITH FUNCTION cv_model(bytea);
CREATE CAST (cv_model AS bytea) WITH FUNCTION bytea(cv_model);
CREATE FUNCTION cv_model_info(model cv_model,
	OUT task text, OUT domain text, OUT tags text[], OUT feature_dim integer,
	OUT input_width integer, OUT input_height integer, OUT threshold real)
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION cv_model_info(cv_model) IS 'what a model holds: task, domain, tags, sizes, threshold';

-- The stored state of each iteration.  Read it through the cv_iterations
-- view, which never shows a training whose process is gone as running.
CREATE TABLE cv_iteration_store (
	id               bigserial PRIMARY KEY,
	project_id       bigint NOT NULL REFERENCES cv_projects (id) ON DELETE CASCADE,
	status           text NOT NULL DEFAULT 'queued'
	                 CHECK (status IN ('queued', 'training', 'completed', 'failed', 'canceled')),
	progress         real NOT NULL DEFAULT 0 CHECK (progress BETWEEN 0 AND 1),
	message          text,
	task             text NOT NULL,
	domain           text NOT NULL,
	-- pgvision.engine when cv_train was called; the worker writes the one
	-- it resolved 'auto' to (float or int8) when it starts
	engine           text NOT NULL DEFAULT 'auto' CHECK (engine IN ('auto', 'float', 'int8')),
	threshold        real NOT NULL DEFAULT 0.5 CHECK (threshold BETWEEN 0 AND 1),
	image_count      integer,
	tag_count        integer,
	"precision"      real,
	recall           real,
	mean_ap          real,
	folds            integer,
	published_name   text CHECK (length(published_name) BETWEEN 1 AND 128),
	published_at     timestamptz,
	model            cv_model,
	cancel_requested boolean NOT NULL DEFAULT false,
	worker_pid       integer,
	queued_at        timestamptz NOT NULL DEFAULT clock_timestamp(),
	started_at       timestamptz,
	finished_at      timestamptz,
	UNIQUE (project_id, published_name),
	-- the key the iterations' child rows refer to with their project
	UNIQUE (id, project_id),
	CHECK (published_name IS NULL OR status = 'completed')
);
CREATE INDEX cv_iteration_store_project ON cv_iteration_store (project_id);
CREATE INDEX cv_iteration_store_queued ON cv_iteration_store (id) WHERE status = 'queued';
SELECT pg_catalog.pg_extension_config_dump('cv_iteration_store', '');
SELECT pg_catalog.pg_extension_config_dump('cv_iteration_store_id_seq', '');

-- The advisory lock a training holds while it runs (key 1 spells "cvtr").
CREATE FUNCTION cv_training_lock_key() RETURNS integer
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$ SELECT 1668707442 $$;

-- Whether the process training an iteration is still alive: it holds the
-- iteration's advisory lock from before it claims the job until after it
-- has recorded the outcome.  A crash or restart releases every lock.
--
-- A training that recorded its outcome after the caller's query took its
-- snapshot, and then let go of its lock, is not a dead one: the caller
-- still sees its row as 'training', but the lock is gone.  So when no lock
-- is held the row is read again in a statement of its own, which (this
-- function being VOLATILE) takes a snapshot after the lock was found gone,
-- and so after the outcome was committed.  Without this, cv_iterations could
-- show a training that had just completed as failed for one query.
CREATE FUNCTION cv_training_alive(iteration_id bigint) RETURNS boolean
LANGUAGE plpgsql VOLATILE PARALLEL SAFE SET search_path = @extschema@, pg_catalog AS $$
BEGIN
	IF EXISTS (SELECT 1 FROM pg_locks l
	            WHERE l.locktype = 'advisory' AND l.granted
	              AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
	              AND l.classid = cv_training_lock_key()::oid
	              -- through integer as the lock took it: a negative id is no error
	              AND l.objid = (iteration_id % 2147483648)::integer::oid
	              AND l.objsubid = 2) THEN
		RETURN true;
	END IF;
	RETURN NOT EXISTS (SELECT 1 FROM cv_iteration_store s
	                    WHERE s.id = iteration_id AND s.status = 'training');
END;
$$;

CREATE VIEW cv_iterations AS
SELECT s.id, p.name AS project, s.project_id,
       CASE WHEN s.status = 'training' AND NOT cv_training_alive(s.id)
            THEN CASE WHEN s.cancel_requested THEN 'canceled' ELSE 'failed' END
            ELSE s.status END AS status,
       s.progress,
       CASE WHEN s.status = 'training' AND NOT cv_training_alive(s.id)
            THEN 'training stopped without finishing: its process exited or the server restarted'
            ELSE s.message END AS message,
       s.task, s.domain, s.threshold, s.image_count, s.tag_count,
       s."precision", s.recall, s.mean_ap, s.folds,
       s.published_name, s.published_at, s.model,
       s.queued_at, s.started_at, s.finished_at,
       s.finished_at - s.started_at AS training_time, s.engine
  FROM cv_iteration_store s JOIN cv_projects p ON p.id = s.project_id;
COMMENT ON VIEW cv_iterations IS 'iterations: status queued, training, completed, failed or canceled; progress 0..1; overall held-out metrics; the model';

-- The tags an iteration learned, in the model's order, with their held-out
-- figures at the iteration's threshold.
CREATE TABLE cv_iteration_tags (
	iteration_id      bigint NOT NULL REFERENCES cv_iteration_store (id) ON DELETE CASCADE,
	position          integer NOT NULL CHECK (position >= 0),
	tag_id            bigint REFERENCES cv_tags (id) ON DELETE SET NULL,
	name              text NOT NULL,
	negative          boolean NOT NULL,
	image_count       integer NOT NULL,
	"precision"       real,
	recall            real,
	average_precision real,
	-- the iteration's project (0.2.0, last): on Citus the policies test the
	-- project's roles by it, with no read of cv_iteration_store
	-- (docs/security.md, "On Citus")
	project_id        bigint NOT NULL,
	PRIMARY KEY (iteration_id, position),
	FOREIGN KEY (iteration_id, project_id) REFERENCES cv_iteration_store (id, project_id) ON DELETE CASCADE
);
SELECT pg_catalog.pg_extension_config_dump('cv_iteration_tags', '');

-- Held-out predictions: for each training image, the probabilities the
-- model of the other folds gave it (in cv_iteration_tags order) and its
-- labels, so cv_performance recomputes every figure at any threshold.
CREATE TABLE cv_heldout_predictions (
	iteration_id  bigint NOT NULL REFERENCES cv_iteration_store (id) ON DELETE CASCADE,
	image_id      bigint NOT NULL,
	fold          integer NOT NULL,
	labels        boolean[] NOT NULL,
	probabilities real[] NOT NULL,
	project_id    bigint NOT NULL,	-- the iteration's, as in cv_iteration_tags
	PRIMARY KEY (iteration_id, image_id),
	FOREIGN KEY (iteration_id, project_id) REFERENCES cv_iteration_store (id, project_id) ON DELETE CASCADE
);
SELECT pg_catalog.pg_extension_config_dump('cv_heldout_predictions', '');

-- Features are computed once per image and domain: retraining after adding
-- five images computes five feature vectors.  float32 little-endian,
-- views x dim.
CREATE TABLE cv_features (
	image_id          bigint NOT NULL,
	domain            text NOT NULL,
	extractor_version integer NOT NULL,
	views             integer NOT NULL CHECK (views > 0),
	dim               integer NOT NULL CHECK (dim > 0),
	features          bytea NOT NULL CHECK (octet_length(features) = views * dim * value_bytes),
	computed_at       timestamptz NOT NULL DEFAULT now(),
	-- 4: float32 (classification features); 2: float16 (the feature maps
	-- of detection projects, views x the two maps of docs/detection.md)
	value_bytes       smallint NOT NULL DEFAULT 4 CHECK (value_bytes IN (2, 4)),
	-- the image's project (added by 0.2.0, hence last): the key Citus
	-- distributes by, as for the other per-project tables
	project_id        bigint NOT NULL,
	PRIMARY KEY (image_id, domain, project_id),
	FOREIGN KEY (image_id, project_id) REFERENCES cv_images (id, project_id) ON DELETE CASCADE
);
COMMENT ON TABLE cv_features IS 'cache of per-image features (all augmentation views) per domain';

-- Held-out regions of a detection iteration: every true box of its images
-- (truth, probability NULL) and every detection the model of the other
-- folds made (truth false, calibrated probability), position in
-- cv_iteration_tags order, so cv_performance recomputes every figure at any
-- threshold and overlap without retraining.
CREATE TABLE cv_heldout_regions (
	iteration_id  bigint NOT NULL REFERENCES cv_iteration_store (id) ON DELETE CASCADE,
	image_id      bigint NOT NULL,
	fold          integer NOT NULL,
	position      integer NOT NULL CHECK (position >= 0),
	truth         boolean NOT NULL,
	probability   real CHECK ((probability IS NULL) = truth AND (truth OR probability BETWEEN 0 AND 1)),
	"left"        real NOT NULL,
	top           real NOT NULL,
	width         real NOT NULL,
	height        real NOT NULL,
	project_id    bigint NOT NULL,	-- the iteration's, as in cv_iteration_tags
	FOREIGN KEY (iteration_id, project_id) REFERENCES cv_iteration_store (id, project_id) ON DELETE CASCADE
);
CREATE INDEX cv_heldout_regions_iteration ON cv_heldout_regions (iteration_id, image_id);
SELECT pg_catalog.pg_extension_config_dump('cv_heldout_regions', '');
COMMENT ON TABLE cv_heldout_regions IS 'held-out true boxes and detections of detection iterations (cv_performance reads them)';

------------------------------------------------------------------------------
-- Training functions
------------------------------------------------------------------------------

CREATE FUNCTION cv_train_launch(iteration_id bigint) RETURNS void
	AS 'MODULE_PATHNAME' LANGUAGE C STRICT;
COMMENT ON FUNCTION cv_train_launch(bigint) IS 'internal: start a background worker for queued iterations';
CREATE FUNCTION cv_train_run(iteration_id bigint) RETURNS void
	AS 'MODULE_PATHNAME' LANGUAGE C STRICT;
COMMENT ON FUNCTION cv_train_run(bigint) IS 'internal: train a queued iteration in this backend';

-- Mark trainings whose process is gone as failed (or canceled, when a
-- cancel was asked for), so the stored state matches cv_iterations.
CREATE FUNCTION cv_reap_iterations() RETURNS integer
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
COMMENT ON FUNCTION cv_reap_iterations() IS 'record trainings whose process is gone as failed or canceled; returns how many';

-- Queued jobs wait for a worker, and workers are only started by cv_train.
-- After a server restart (or a launch that found no free worker slot) the
-- queue would sit until the next cv_train: this starts a worker for it.
CREATE FUNCTION cv_resume_training() RETURNS integer
LANGUAGE plpgsql SET search_path = @extschema@, pg_temp AS $$
DECLARE
	v_first bigint;
	v_queued integer;
BEGIN
	PERFORM cv_reap_iterations();
	SELECT min(s.id), count(*) INTO v_first, v_queued
	  FROM cv_iteration_store s WHERE s.status = 'queued';
	IF v_queued > 0 THEN
		PERFORM cv_train_launch(v_first);
	END IF;
	RETURN v_queued;
END;
$$;
COMMENT ON FUNCTION cv_resume_training() IS 'start a background worker for iterations left queued (after a restart); returns how many are queued';

-- The hosted services' minimums.  Classification: at least 2 tags with at
-- least 5 images each.  Detection: at least 1 tag, and 15 images with boxes
-- of each tag; an image without boxes is a negative example.  In both, a
-- tag nothing carries is an error rather than silently left out: the user
-- made it and would miss it in the model (the unused negative tag of a
-- classification project excepted; detection has none).
CREATE FUNCTION cv_check_trainable(v_project cv_projects) RETURNS void
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
COMMENT ON FUNCTION cv_check_trainable(cv_projects) IS 'internal: the minimums a project must meet before training';

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

CREATE FUNCTION cv_train(project text, wait boolean DEFAULT false) RETURNS bigint
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
COMMENT ON FUNCTION cv_train(text, boolean) IS 'train a new iteration of a project; returns its id at once (a background worker trains) or, with wait => true, when it has ended';

CREATE FUNCTION cv_cancel_training(iteration_id bigint) RETURNS void
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
COMMENT ON FUNCTION cv_cancel_training(bigint) IS 'cancel a queued or running training';

CREATE FUNCTION cv_publish(iteration_id bigint, name text) RETURNS void
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
COMMENT ON FUNCTION cv_publish(bigint, text) IS 'publish a completed iteration under a name; cv_predict(project, ...) uses the latest published';

CREATE FUNCTION cv_unpublish(iteration_id bigint) RETURNS void
LANGUAGE plpgsql SET search_path = @extschema@, pg_temp AS $$
BEGIN
	PERFORM cv_iteration_project(iteration_id, 'write');
	UPDATE cv_iteration_store s SET published_name = NULL, published_at = NULL
	 WHERE s.id = iteration_id AND s.published_name IS NOT NULL;
	IF NOT FOUND THEN
		IF EXISTS (SELECT 1 FROM cv_iteration_store s WHERE s.id = iteration_id) THEN
			RAISE EXCEPTION 'iteration % is not published', iteration_id
				USING ERRCODE = 'object_not_in_prerequisite_state';
		END IF;
		RAISE EXCEPTION 'iteration % does not exist', coalesce(iteration_id::text, 'NULL')
			USING ERRCODE = 'undefined_object';
	END IF;
END;
$$;
COMMENT ON FUNCTION cv_unpublish(bigint) IS 'withdraw a published iteration';

-- The model cv_predict(project, ...) uses: the latest published iteration.
CREATE FUNCTION cv_published_model(project text) RETURNS cv_model
LANGUAGE plpgsql STABLE PARALLEL SAFE SET search_path = @extschema@, pg_temp AS $$
DECLARE
	v_project cv_projects := cv_project_row(project);
	v_model cv_model;
	v_list text;
BEGIN
	SELECT s.model INTO v_model FROM cv_iteration_store s
	 WHERE s.project_id = v_project.id AND s.published_name IS NOT NULL
	 ORDER BY s.published_at DESC, s.id DESC LIMIT 1;
	IF v_model IS NULL THEN
		SELECT string_agg(format('%s (%s%s)', i.id, i.status,
		                         CASE WHEN i.published_name IS NOT NULL THEN ', published' ELSE '' END),
		                  ', ' ORDER BY i.id)
		  INTO v_list FROM cv_iterations i WHERE i.project_id = v_project.id;
		RAISE EXCEPTION 'project "%" has no published iteration', project
			USING ERRCODE = 'object_not_in_prerequisite_state',
			      DETAIL = CASE WHEN v_list IS NULL THEN 'The project has no iterations.'
			                    ELSE 'Its iterations: ' || v_list || '.' END,
			      HINT = 'Publish a completed iteration with cv_publish(iteration, name).';
	END IF;
	RETURN v_model;
END;
$$;
COMMENT ON FUNCTION cv_published_model(text) IS 'the model of the latest published iteration of a project';

CREATE FUNCTION cv_performance(iteration bigint, threshold float8 DEFAULT NULL, overlap float8 DEFAULT NULL,
	OUT tag text, OUT "precision" real, OUT recall real, OUT average_precision real, OUT image_count integer)
	RETURNS SETOF record
	AS 'MODULE_PATHNAME' LANGUAGE C STABLE PARALLEL SAFE;
COMMENT ON FUNCTION cv_performance(bigint, float8, float8) IS 'held-out precision, recall and AP per tag, then an overall row (tag NULL: micro precision and recall, mean AP), at the iteration''s threshold or the one given; for detection iterations at an IoU overlap (default 0.5)';

-- One row per group of equal held-out scores, highest first: what counts
-- as found when everything scoring at least `threshold` does.
CREATE FUNCTION cv_pr_curve(iteration bigint, tag text, overlap float8 DEFAULT NULL,
	OUT threshold real, OUT "precision" real, OUT recall real, OUT interpolated_precision real,
	OUT true_positives integer, OUT false_positives integer)
	RETURNS SETOF record
	AS 'MODULE_PATHNAME' LANGUAGE C STABLE PARALLEL SAFE;
COMMENT ON FUNCTION cv_pr_curve(bigint, text, float8) IS 'the held-out precision/recall curve behind a tag''s average precision, one row per score, highest first; interpolated_precision is the envelope detection AP integrates; for detection iterations at an IoU overlap (default 0.5)';

------------------------------------------------------------------------------
-- Prediction
------------------------------------------------------------------------------

CREATE FUNCTION cv_predict(model cv_model, image bytea, OUT tag text, OUT probability real)
	RETURNS SETOF record
	AS 'MODULE_PATHNAME', 'cv_predict_bytea' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE ROWS 10;
CREATE FUNCTION cv_predict(model cv_model, image cv_image, OUT tag text, OUT probability real)
	RETURNS SETOF record
	AS 'MODULE_PATHNAME', 'cv_predict_image' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE ROWS 10;
-- In C (predict.c) rather than SQL so that the published model is looked
-- up once per statement, not once per row (cv_published_model underneath).
CREATE FUNCTION cv_predict(project text, image bytea, OUT tag text, OUT probability real)
	RETURNS SETOF record
	AS 'MODULE_PATHNAME', 'cv_predict_project' LANGUAGE C STABLE PARALLEL SAFE ROWS 10;
COMMENT ON FUNCTION cv_predict(cv_model, bytea) IS 'every tag of the model with its probability for an encoded image, most probable first';
COMMENT ON FUNCTION cv_predict(cv_model, cv_image) IS 'every tag of the model with its probability for an image, most probable first';
COMMENT ON FUNCTION cv_predict(text, bytea) IS 'predict with the latest published iteration of a project';

------------------------------------------------------------------------------
-- Imported backbones: pretrained networks (TFLite files) as domains.
------------------------------------------------------------------------------

-- Each file is stored once, identified by its SHA-256; models name that
-- hash, so a model never runs on another file than the one it trained on.
CREATE TABLE cv_backbones (
	domain         text PRIMARY KEY REFERENCES cv_domains (name) ON DELETE CASCADE,
	sha256         bytea NOT NULL UNIQUE CHECK (length(sha256) = 32),
	file           bytea NOT NULL,
	labels         text[],
	num_outputs    integer CHECK (num_outputs > 0),
	feature_tensor text,
	weight_bytes   bigint,
	macs           float8,
	-- A network whose last operators pgvision does not run (the SSD
	-- detector's TFLite_Detection_PostProcess) is kept up to them: why, and
	-- then it has no outputs (num_outputs NULL) and no labels.
	cut_reason     text,
	CHECK (labels IS NULL OR cardinality(labels) = num_outputs),
	CHECK ((cut_reason IS NULL) = (num_outputs IS NOT NULL))
);
COMMENT ON TABLE cv_backbones IS 'the network file of each imported domain, stored once';
COMMENT ON COLUMN cv_backbones.cut_reason IS 'why the network runs only up to its feature maps (NULL: it runs whole, to num_outputs scores)';
SELECT pg_catalog.pg_extension_config_dump('cv_backbones', '');

-- The shared prepared weights of a backbone (files under the data
-- directory, docs/backbones.md) go when its row does, at commit.
CREATE FUNCTION cv_backbones_forget_prepared() RETURNS trigger
	AS 'MODULE_PATHNAME' LANGUAGE C;
COMMENT ON FUNCTION cv_backbones_forget_prepared() IS 'trigger: remove the shared prepared-weights files of a dropped or replaced backbone when the transaction commits';
CREATE TRIGGER cv_backbones_forget_prepared AFTER DELETE OR UPDATE OF sha256, file ON cv_backbones
	FOR EACH ROW EXECUTE FUNCTION cv_backbones_forget_prepared();

-- A model that carries its backbone file (model format version 4), so it
-- predicts on a server that never imported the backbone: a Citus worker
-- (docs/scale-out.md).
CREATE FUNCTION cv_self_contained(model cv_model) RETURNS cv_model
	AS 'MODULE_PATHNAME' LANGUAGE C STABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION cv_self_contained(cv_model) IS 'the same model carrying its backbone file, so that it predicts on any server (a compact model, or one that already carries its file, is returned as it is)';

CREATE FUNCTION cv_backbone_inspect(file bytea,
	OUT input_width integer, OUT input_height integer, OUT feature_dim integer,
	OUT num_outputs integer, OUT feature_tensor text, OUT weight_bytes bigint, OUT macs float8,
	OUT input_scale real, OUT input_zero_point integer,
	OUT classification boolean, OUT detection boolean, OUT cut_reason text, OUT detection_maps text)
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION cv_backbone_inspect(bytea) IS 'load a TFLite network and describe it: input size and preprocessing, feature and output sizes, weights, multiply-adds, what a domain of it supports (classification features, detection maps) and, for a network run only up to its feature maps, why';

CREATE FUNCTION cv_domain_shape(domain text, OUT input_width integer, OUT input_height integer, OUT feature_dim integer)
	AS 'MODULE_PATHNAME' LANGUAGE C STABLE STRICT;
COMMENT ON FUNCTION cv_domain_shape(text) IS 'input size and feature size of a domain''s extractor';
UPDATE cv_domains d SET (input_width, input_height, feature_dim) =
	(SELECT s.input_width, s.input_height, s.feature_dim FROM cv_domain_shape('compact') s)
 WHERE d.name = 'compact';

CREATE FUNCTION cv_import_backbone(name text, model bytea, labels text[] DEFAULT NULL) RETURNS text
LANGUAGE plpgsql SET search_path = @extschema@, pg_temp AS $$
DECLARE
	v record;
	v_labels text[] := labels;
BEGIN
	IF name IS NULL OR name !~ '^[a-z][a-z0-9_]{0,62}$' THEN
		RAISE EXCEPTION 'invalid domain name "%"', coalesce(name, 'NULL')
			USING ERRCODE = 'invalid_parameter_value',
			      DETAIL = 'A domain name is 1 to 63 lowercase letters, digits and underscores, starting with a letter.';
	END IF;
	IF model IS NULL THEN
		RAISE EXCEPTION 'model must not be null' USING ERRCODE = 'invalid_parameter_value';
	END IF;
	IF EXISTS (SELECT 1 FROM cv_domains d WHERE d.name = cv_import_backbone.name) THEN
		RAISE EXCEPTION 'domain "%" already exists', name
			USING ERRCODE = 'duplicate_object',
			      HINT = 'Drop it first with cv_drop_backbone, or choose another name.';
	END IF;
	IF EXISTS (SELECT 1 FROM cv_backbones b WHERE b.sha256 = sha256(model)) THEN
		RAISE EXCEPTION 'this network is already imported as domain "%"',
			(SELECT b.domain FROM cv_backbones b WHERE b.sha256 = sha256(model))
			USING ERRCODE = 'duplicate_object';
	END IF;
	v := cv_backbone_inspect(model);
	-- A labels file read with string_to_array(..., E'\n') ends with an empty line.
	WHILE cardinality(v_labels) > 0 AND v_labels[cardinality(v_labels)] = '' LOOP
		v_labels := v_labels[1:cardinality(v_labels) - 1];
	END LOOP;
	IF v_labels IS NOT NULL AND v.num_outputs IS NULL THEN
		RAISE EXCEPTION 'labels were given but the network''s outputs are not run'
			USING ERRCODE = 'invalid_parameter_value',
			      DETAIL = format('The network runs only up to its feature maps (%s).', v.cut_reason),
			      HINT = 'Import it without labels.';
	END IF;
	IF v_labels IS NOT NULL AND cardinality(v_labels) <> v.num_outputs THEN
		RAISE EXCEPTION 'the network has % outputs but % labels were given', v.num_outputs, cardinality(v_labels)
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	-- A classifier serves classification (and usually detection too); a
	-- network without classifier features, detection only.
	IF NOT v.classification AND NOT v.detection THEN
		RAISE EXCEPTION 'the network has no classifier whose input could serve as features, nor feature maps a detector could read'
			USING ERRCODE = 'feature_not_supported',
			      DETAIL = CASE WHEN v.cut_reason IS NOT NULL
			                    THEN format('It runs only up to an operator pgvision does not run (%s).', v.cut_reason)
			                    ELSE 'It has no stride-16 and stride-32 feature maps of at most 512 channels.' END;
	END IF;
	INSERT INTO cv_domains (name, kind, input_width, input_height, feature_dim, classification, detection, description)
	VALUES (name, 'backbone', v.input_width, v.input_height, v.feature_dim, v.classification, v.detection,
	        CASE WHEN v.classification
	             THEN format('imported network, features from %s', v.feature_tensor)
	             ELSE 'imported network for detection only: it runs up to its feature maps' END);
	INSERT INTO cv_backbones (domain, sha256, file, labels, num_outputs, feature_tensor, weight_bytes, macs, cut_reason)
	VALUES (name, sha256(model), model, v_labels, v.num_outputs, v.feature_tensor, v.weight_bytes, v.macs,
	        v.cut_reason);
	RETURN name;
END;
$$;
COMMENT ON FUNCTION cv_import_backbone(text, bytea, text[]) IS 'import a pretrained TFLite network as a domain (labels: one per network output): a classifier serves classification (and detection when it has the maps), a detector such as SSD MobileNet, imported up to its feature maps, serves detection only';

CREATE FUNCTION cv_drop_backbone(name text) RETURNS void
LANGUAGE plpgsql SET search_path = @extschema@, pg_temp AS $$
DECLARE
	v_users text;
BEGIN
	IF name IS NULL THEN
		RAISE EXCEPTION 'backbone name must not be null' USING ERRCODE = 'invalid_parameter_value';
	END IF;
	IF EXISTS (SELECT 1 FROM cv_domains d WHERE d.name = cv_drop_backbone.name AND d.kind = 'builtin') THEN
		RAISE EXCEPTION 'domain "%" is built in, not an imported backbone', name
			USING ERRCODE = 'wrong_object_type';
	END IF;
	IF NOT EXISTS (SELECT 1 FROM cv_backbones b WHERE b.domain = cv_drop_backbone.name) THEN
		RAISE EXCEPTION 'backbone "%" does not exist', name
			USING ERRCODE = 'undefined_object';
	END IF;
	-- The projects this role can see are named; others' stop the DELETE.
	IF has_table_privilege('cv_projects', 'SELECT') THEN
		SELECT string_agg(p.name, ', ' ORDER BY p.name) INTO v_users FROM cv_projects p WHERE p.domain = cv_drop_backbone.name;
	END IF;
	IF v_users IS NOT NULL THEN
		RAISE EXCEPTION 'backbone "%" is the domain of projects %', name, v_users
			USING ERRCODE = 'dependent_objects_still_exist';
	END IF;
	BEGIN
		DELETE FROM cv_domains d WHERE d.name = cv_drop_backbone.name;
	EXCEPTION WHEN foreign_key_violation THEN
		RAISE EXCEPTION 'backbone "%" is the domain of projects of other roles', name
			USING ERRCODE = 'dependent_objects_still_exist';
	END;
END;
$$;
COMMENT ON FUNCTION cv_drop_backbone(text) IS 'remove an imported backbone that no project uses';

CREATE FUNCTION cv_backbone_classify(backbone text, image bytea, k integer DEFAULT 5,
	OUT label_index integer, OUT label text, OUT score real)
	RETURNS SETOF record
	AS 'MODULE_PATHNAME' LANGUAGE C STABLE PARALLEL SAFE ROWS 5;
COMMENT ON FUNCTION cv_backbone_classify(text, bytea, integer) IS 'the imported network''s own top-k classes for an image (label_index counts from 0)';

-- By publish name, as the hosted services address a published iteration.
CREATE FUNCTION cv_unpublish(project text, name text) RETURNS void
LANGUAGE plpgsql SET search_path = @extschema@, pg_temp AS $$
DECLARE
	v_project cv_projects := cv_project_row(project, 'write');
	v_id bigint;
BEGIN
	SELECT s.id INTO v_id FROM cv_iteration_store s
	 WHERE s.project_id = v_project.id AND s.published_name = cv_unpublish.name;
	IF v_id IS NULL THEN
		RAISE EXCEPTION 'project "%" has no iteration published as "%"', project, coalesce(name, 'NULL')
			USING ERRCODE = 'undefined_object';
	END IF;
	PERFORM cv_unpublish(v_id);
END;
$$;
COMMENT ON FUNCTION cv_unpublish(text, text) IS 'withdraw the iteration a project publishes under a name';

-- The model a project publishes under a name (cv_predict and cv_detect by name).
CREATE FUNCTION cv_published_model(project text, published_name text) RETURNS cv_model
LANGUAGE plpgsql STABLE PARALLEL SAFE SET search_path = @extschema@, pg_temp AS $$
DECLARE
	v_project cv_projects := cv_project_row(project);
	v_model cv_model;
BEGIN
	SELECT s.model INTO v_model FROM cv_iteration_store s
	 WHERE s.project_id = v_project.id AND s.published_name = cv_published_model.published_name;
	IF v_model IS NULL THEN
		RAISE EXCEPTION 'project "%" has no iteration published as "%"', project, coalesce(published_name, 'NULL')
			USING ERRCODE = 'undefined_object',
			      HINT = 'cv_iterations lists the published names.';
	END IF;
	RETURN v_model;
END;
$$;
COMMENT ON FUNCTION cv_published_model(text, text) IS 'the model of the iteration a project publishes under a name';

CREATE FUNCTION cv_predict(project text, image bytea, published_name text, OUT tag text, OUT probability real)
	RETURNS SETOF record
	AS 'MODULE_PATHNAME', 'cv_predict_project_named' LANGUAGE C STABLE PARALLEL SAFE ROWS 10;
COMMENT ON FUNCTION cv_predict(text, bytea, text) IS 'predict with the iteration a project publishes under a name';

------------------------------------------------------------------------------
-- Stored predictions (docs/predictions.md): the images an application sent
-- to cv_predict or cv_detect with store => true, kept with the iteration
-- that predicted and what it predicted, so that someone reviews them (the
-- least sure first) and adopts them into the training images with the
-- right tags or boxes, or the predicted ones accepted.
--
-- The forms that store are overloads of their own, with a store argument
-- that has no default: they write, so they are VOLATILE and PARALLEL
-- UNSAFE.  The forms without it stay STABLE (or IMMUTABLE) and PARALLEL
-- SAFE, for parallel scans and Citus workers, and never store.  A
-- project's default (cv_projects.store_predictions) cannot reach those:
-- whether a function writes is fixed when the query is planned, and a
-- parallel worker cannot write, whatever a row read at run time says.  So
-- the default is what store => NULL means: "as the project says".
--
-- Storing needs write access to the project (it adds rows an owner sees
-- and pays for); a reader still predicts without storing.
------------------------------------------------------------------------------

-- One row per distinct image waiting for review (storing the same bytes
-- again replaces its iteration and results), and one per adopted
-- prediction, which keeps its results and the image it became but drops
-- the bytes: an image is stored once, here or in cv_images.
CREATE TABLE cv_prediction_store (
	-- the key includes project_id, as for cv_images (Citus)
	id               bigserial,
	project_id       bigint NOT NULL REFERENCES cv_projects (id) ON DELETE CASCADE,
	-- NULL once the iteration is deleted; the results stay.  Of the same
	-- project (the trigger below checks: a composite key would need a
	-- second unique index on cv_iteration_store, which the planner then
	-- prefers to its primary key for lookups by id)
	iteration_id     bigint REFERENCES cv_iteration_store (id) ON DELETE SET NULL,
	-- that iteration's threshold: accepting the prediction takes the tags
	-- (detection: the boxes) at or above it
	threshold        real NOT NULL CHECK (threshold BETWEEN 0 AND 1),
	-- classification: [{"tag", "probability"}], every tag, most probable
	-- first; detection: [{"tag", "probability", "left", "top", "width",
	-- "height"}], cv_detect's rows
	results          jsonb NOT NULL CHECK (jsonb_typeof(results) = 'array'),
	-- the most probable element of results (NULL: nothing detected); set
	-- by the trigger below, for every writer
	top_tag          text,
	top_probability  real,
	image            cv_image,
	-- of image, set by the trigger below and kept when the bytes go
	width            integer NOT NULL,
	height           integer NOT NULL,
	format           text NOT NULL,
	byte_size        integer NOT NULL,
	sha256           bytea NOT NULL,
	stored_by        regrole NOT NULL DEFAULT cv_current_role(),
	created_at       timestamptz NOT NULL DEFAULT now(),
	adopted_image_id bigint,
	adopted_at       timestamptz,
	adopted_by       regrole,
	PRIMARY KEY (id, project_id),
	FOREIGN KEY (adopted_image_id, project_id) REFERENCES cv_images (id, project_id)
		ON DELETE SET NULL (adopted_image_id),
	CONSTRAINT cv_prediction_store_bytes_until_adopted CHECK ((image IS NULL) = (adopted_at IS NOT NULL)),
	CONSTRAINT cv_prediction_store_adopted_by CHECK ((adopted_by IS NULL) = (adopted_at IS NULL)),
	CONSTRAINT cv_prediction_store_adopted_image CHECK (adopted_image_id IS NULL OR adopted_at IS NOT NULL)
);
CREATE UNIQUE INDEX cv_prediction_store_pending_image ON cv_prediction_store (project_id, sha256)
	WHERE adopted_at IS NULL;
CREATE INDEX cv_prediction_store_review ON cv_prediction_store (project_id, top_probability)
	WHERE adopted_at IS NULL;
-- for the foreign keys' SET NULL when an iteration or an image goes
CREATE INDEX cv_prediction_store_iteration ON cv_prediction_store (iteration_id);
CREATE INDEX cv_prediction_store_adopted_image ON cv_prediction_store (adopted_image_id)
	WHERE adopted_image_id IS NOT NULL;
COMMENT ON TABLE cv_prediction_store IS 'stored predictions: the image, the iteration and its results of each cv_predict or cv_detect call with store => true, and the image each adopted one became';
SELECT pg_catalog.pg_extension_config_dump('cv_prediction_store', '');
SELECT pg_catalog.pg_extension_config_dump('cv_prediction_store_id_seq', '');

-- The image's metadata and the top result follow the row's contents for
-- every writer, as the generated columns of cv_images do; unlike those,
-- the metadata stays when adoption drops the bytes.  The iteration is one
-- of the prediction's project.
CREATE FUNCTION cv_prediction_store_check() RETURNS trigger
LANGUAGE plpgsql SET search_path = @extschema@, pg_temp AS $$
BEGIN
	IF NEW.iteration_id IS NOT NULL AND (TG_OP = 'INSERT' OR NEW.iteration_id IS DISTINCT FROM OLD.iteration_id
	                                     OR NEW.project_id IS DISTINCT FROM OLD.project_id)
	   AND NOT EXISTS (SELECT 1 FROM cv_iteration_store s WHERE s.id = NEW.iteration_id AND s.project_id = NEW.project_id) THEN
		RAISE EXCEPTION 'iteration % does not belong to project %', NEW.iteration_id, NEW.project_id
			USING ERRCODE = 'foreign_key_violation';
	END IF;
	IF NEW.image IS NOT NULL THEN
		NEW.width := cv_width(NEW.image);
		NEW.height := cv_height(NEW.image);
		NEW.format := cv_format(NEW.image);
		NEW.byte_size := octet_length(bytea(NEW.image));
		NEW.sha256 := sha256(bytea(NEW.image));
	ELSIF TG_OP = 'UPDATE' THEN
		NEW.width := OLD.width;
		NEW.height := OLD.height;
		NEW.format := OLD.format;
		NEW.byte_size := OLD.byte_size;
		NEW.sha256 := OLD.sha256;
	END IF;
	NEW.top_tag := NULL;
	NEW.top_probability := NULL;
	IF jsonb_typeof(NEW.results) = 'array' THEN
		SELECT e ->> 'tag', (e ->> 'probability')::real INTO NEW.top_tag, NEW.top_probability
		  FROM jsonb_array_elements(NEW.results) e
		 ORDER BY (e ->> 'probability')::real DESC NULLS LAST LIMIT 1;
	END IF;
	RETURN NEW;
END;
$$;
CREATE TRIGGER cv_prediction_store_check BEFORE INSERT OR UPDATE ON cv_prediction_store
	FOR EACH ROW EXECUTE FUNCTION cv_prediction_store_check();

-- What people review: the stored predictions not adopted yet.  No image
-- column, so that SELECT * stays readable (the bytes are in
-- cv_prediction_store.image).
CREATE VIEW cv_predictions AS
SELECT s.id, p.name AS project, s.project_id, s.iteration_id, p.task,
       s.top_tag, s.top_probability, s.results, s.threshold,
       s.width, s.height, s.format, s.byte_size, s.stored_by, s.created_at
  FROM cv_prediction_store s JOIN cv_projects p ON p.id = s.project_id
 WHERE s.adopted_at IS NULL;
COMMENT ON VIEW cv_predictions IS 'stored predictions waiting for review: top tag and probability (ORDER BY top_probability: the least sure first), every result, the iteration and who stored it';

-- The project of a stored prediction this role can read (42704 otherwise,
-- as for one that does not exist), with the access checked.
CREATE FUNCTION cv_prediction_project(prediction_id bigint, need text DEFAULT 'read') RETURNS cv_projects
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
COMMENT ON FUNCTION cv_prediction_project(bigint, text) IS 'internal: the project of a stored prediction the current role can read, its access checked';

-- Whether a call stores (store NULL: the project's default), and if so
-- that the role may write: a reader is told that storing is what it lacks.
CREATE FUNCTION cv_prediction_stores(v_project cv_projects, store boolean) RETURNS boolean
LANGUAGE plpgsql STABLE SET search_path = @extschema@, pg_temp AS $$
BEGIN
	IF NOT coalesce(store, v_project.store_predictions) THEN
		RETURN false;
	END IF;
	IF NOT cv_can_write(v_project.id) THEN
		RAISE EXCEPTION 'permission denied for project "%"', v_project.name
			USING ERRCODE = 'insufficient_privilege',
			      DETAIL = format('Role %s can read project "%s" but not change it: storing predictions needs write access%s.',
			                      cv_current_role(), v_project.name,
			                      CASE WHEN store IS NULL THEN ', and the project stores them by default' ELSE '' END),
			      HINT = format('Predict with store => false, or ask its owner, role %s, for write access: SELECT cv_share_project(%L, %L, access => ''write'').',
			                    v_project.owner, v_project.name, cv_current_role()::text);
	END IF;
	RETURN true;
END;
$$;
COMMENT ON FUNCTION cv_prediction_stores(cv_projects, boolean) IS 'internal: whether a cv_predict or cv_detect call stores (store NULL: the project''s store_predictions), with an insufficient_privilege error for a role that cannot write';

-- The iteration a storing form predicts with: the one cv_published_model
-- gives the forms that do not store (published_name NULL: the latest
-- published), and when there is none, their errors word for word.
CREATE FUNCTION cv_published_iteration(v_project cv_projects, published_name text) RETURNS cv_iteration_store
LANGUAGE plpgsql STABLE SET search_path = @extschema@, pg_temp AS $$
DECLARE
	v cv_iteration_store;
BEGIN
	SELECT * INTO v FROM cv_iteration_store s
	 WHERE s.project_id = v_project.id AND s.published_name IS NOT NULL
	   AND (cv_published_iteration.published_name IS NULL OR s.published_name = cv_published_iteration.published_name)
	 ORDER BY s.published_at DESC, s.id DESC LIMIT 1;
	IF v.model IS NULL THEN
		IF published_name IS NULL THEN
			PERFORM cv_published_model(v_project.name);
		ELSE
			PERFORM cv_published_model(v_project.name, published_name);
		END IF;
	END IF;
	RETURN v;
END;
$$;
COMMENT ON FUNCTION cv_published_iteration(cv_projects, text) IS 'internal: the published iteration (latest, or by publish name) a storing cv_predict or cv_detect uses';

-- Keep one prediction: a new row, or new results for the same bytes
-- already waiting for review.  Returns the prediction's id.
CREATE FUNCTION cv_keep_prediction(v_project cv_projects, v_iteration cv_iteration_store, image cv_image, results jsonb)
RETURNS bigint
LANGUAGE plpgsql SET search_path = @extschema@, pg_temp AS $$
DECLARE
	v_id bigint;
BEGIN
	INSERT INTO cv_prediction_store AS s (project_id, iteration_id, threshold, results, image)
	VALUES (v_project.id, v_iteration.id, v_iteration.threshold, results, image)
	ON CONFLICT (project_id, sha256) WHERE adopted_at IS NULL
	DO UPDATE SET iteration_id = EXCLUDED.iteration_id, threshold = EXCLUDED.threshold,
	              results = EXCLUDED.results, stored_by = EXCLUDED.stored_by, created_at = EXCLUDED.created_at
	RETURNING s.id INTO v_id;
	RETURN v_id;
END;
$$;
COMMENT ON FUNCTION cv_keep_prediction(cv_projects, cv_iteration_store, cv_image, jsonb) IS 'internal: store a prediction, or replace the results of the same image waiting for review';

CREATE FUNCTION cv_predict(project text, image bytea, store boolean, published_name text DEFAULT NULL,
	OUT tag text, OUT probability real, OUT prediction_id bigint)
	RETURNS SETOF record
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE ROWS 10 SET search_path = @extschema@, pg_temp AS $$
DECLARE
	v_project cv_projects := cv_project_row(project);
	v_stores boolean := cv_prediction_stores(v_project, store);
	v_iteration cv_iteration_store := cv_published_iteration(v_project, published_name);
	v_image cv_image;
	v_tags text[];
	v_probs real[];
	v_id bigint;
BEGIN
	-- As the other forms: no image, no rows (and nothing to keep).
	IF image IS NULL THEN
		RETURN;
	END IF;
	IF NOT v_stores THEN
		RETURN QUERY SELECT p.tag, p.probability, NULL::bigint FROM cv_predict(v_iteration.model, image) p;
		RETURN;
	END IF;
	-- Validated in full (a complete decode, as cv_add_image does) before
	-- anything is predicted or written; only a call that stores pays it.
	v_image := image::cv_image;
	SELECT array_agg(p.tag ORDER BY p.n), array_agg(p.probability ORDER BY p.n) INTO v_tags, v_probs
	  FROM cv_predict(v_iteration.model, v_image) WITH ORDINALITY p(tag, probability, n);
	v_id := cv_keep_prediction(v_project, v_iteration, v_image,
	                           (SELECT jsonb_agg(jsonb_build_object('tag', u.t, 'probability', u.p) ORDER BY u.n)
	                              FROM unnest(v_tags, v_probs) WITH ORDINALITY u(t, p, n)));
	RETURN QUERY SELECT u.t, u.p, v_id FROM unnest(v_tags, v_probs) WITH ORDINALITY u(t, p, n) ORDER BY u.n;
END;
$$;
COMMENT ON FUNCTION cv_predict(text, bytea, boolean, text) IS 'predict with the latest published iteration of a project (or the one published under published_name) and, with store => true (NULL: the project''s store_predictions), keep the image, the iteration and the results in cv_prediction_store; prediction_id names the stored row';

CREATE FUNCTION cv_detect(project text, image bytea, store boolean, published_name text DEFAULT NULL,
	threshold real DEFAULT 0.1, max_detections integer DEFAULT 100,
	OUT tag text, OUT probability real, OUT "left" real, OUT top real, OUT width real, OUT height real,
	OUT prediction_id bigint)
	RETURNS SETOF record
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE ROWS 10 SET search_path = @extschema@, pg_temp AS $$
DECLARE
	v_project cv_projects := cv_project_row(project);
	v_stores boolean := cv_prediction_stores(v_project, store);
	v_iteration cv_iteration_store := cv_published_iteration(v_project, published_name);
	v_image cv_image;
	v_tags text[];
	v_probs real[];
	v_lefts real[];
	v_tops real[];
	v_widths real[];
	v_heights real[];
	v_id bigint;
BEGIN
	-- As the other forms (STRICT): a NULL argument gives no rows, and
	-- there is nothing to keep.
	IF image IS NULL OR cv_detect.threshold IS NULL OR max_detections IS NULL THEN
		RETURN;
	END IF;
	IF NOT v_stores THEN
		RETURN QUERY
		SELECT d.tag, d.probability, d."left", d.top, d.width, d.height, NULL::bigint
		  FROM cv_detect(v_iteration.model, image, cv_detect.threshold, max_detections) d;
		RETURN;
	END IF;
	v_image := image::cv_image;
	SELECT array_agg(d.tag ORDER BY d.n), array_agg(d.probability ORDER BY d.n),
	       array_agg(d."left" ORDER BY d.n), array_agg(d.top ORDER BY d.n),
	       array_agg(d.width ORDER BY d.n), array_agg(d.height ORDER BY d.n)
	  INTO v_tags, v_probs, v_lefts, v_tops, v_widths, v_heights
	  FROM cv_detect(v_iteration.model, v_image, cv_detect.threshold, max_detections) WITH ORDINALITY
	       d(tag, probability, "left", top, width, height, n);
	v_id := cv_keep_prediction(v_project, v_iteration, v_image,
	                           (SELECT coalesce(jsonb_agg(jsonb_build_object('tag', u.t, 'probability', u.p, 'left', u.l,
	                                                                         'top', u.tp, 'width', u.w, 'height', u.h)
	                                                      ORDER BY u.n), '[]')
	                              FROM unnest(v_tags, v_probs, v_lefts, v_tops, v_widths, v_heights)
	                                   WITH ORDINALITY u(t, p, l, tp, w, h, n)));
	RETURN QUERY
	SELECT u.t, u.p, u.l, u.tp, u.w, u.h, v_id
	  FROM unnest(v_tags, v_probs, v_lefts, v_tops, v_widths, v_heights) WITH ORDINALITY u(t, p, l, tp, w, h, n)
	 ORDER BY u.n;
END;
$$;
COMMENT ON FUNCTION cv_detect(text, bytea, boolean, text, real, integer) IS 'detect objects with the latest published iteration of a project (or the one published under published_name) and, with store => true (NULL: the project''s store_predictions), keep the image, the iteration and the boxes in cv_prediction_store; prediction_id names the stored row';

-- Move a stored prediction into the training images, all or nothing:
-- with the tags (classification) or regions (detection, cv_add_image's
-- JSON) given, or, with neither, the predicted ones that reach the
-- threshold of the iteration that predicted (recorded with the
-- prediction): a multiclass image takes the top tag, a multilabel image
-- every tag at or above it, a detection image every box at or above it (no
-- box: a negative example).  The prediction is then marked adopted: it
-- leaves cv_predictions, keeps its results and names the new image.
CREATE FUNCTION cv_adopt_prediction(prediction bigint, tags text[] DEFAULT NULL, regions jsonb DEFAULT NULL)
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
COMMENT ON FUNCTION cv_adopt_prediction(bigint, text[], jsonb) IS 'add a stored prediction''s image to the training images with the tags or regions given (neither: the predicted ones at or above the iteration''s threshold), all or nothing; marks the prediction adopted and returns the new image id';

CREATE FUNCTION cv_delete_prediction(prediction bigint) RETURNS void
LANGUAGE plpgsql SET search_path = @extschema@, pg_temp AS $$
DECLARE
	v_project_id bigint := (cv_prediction_project(prediction, 'write')).id;
BEGIN
	-- the project named: one shard on Citus
	DELETE FROM cv_prediction_store s WHERE s.id = prediction AND s.project_id = v_project_id;
END;
$$;
COMMENT ON FUNCTION cv_delete_prediction(bigint) IS 'delete a stored prediction (adopted or not) and its image bytes';

------------------------------------------------------------------------------
-- Suggestions (docs/predictions.md, "Suggestions"): for the unlabelled
-- images of a project (images added without tags or regions, and stored
-- predictions waiting for review), what the latest completed iteration
-- suggests, in the order to label them: uncertain (the images the model
-- is least sure of lie near its decision boundaries, where a label moves
-- them most) and, for classification, spread over the domain's feature
-- space (a batch of look-alikes teaches little more than one of them).
-- Whether labelling in that order beats random order depends on the
-- model and the data: tools/bench_suggest.sh measures it, and
-- docs/predictions.md gives the figures.
--
-- The uncertainty, in 0..1, 1 the least sure:
--   multiclass: 1 - (p1 - p2), one minus the margin between the two most
--     probable tags ("margin sampling");
--   multilabel and detection: 1 - d / max(t, 1 - t), where d is the
--     smallest distance of a tag's (a box's) probability from the
--     iteration's threshold t: the label closest to flipping decides.
--     Detection looks at every box from probability 0.05 up; an image
--     with none is as sure as a probability of 0 makes it.
------------------------------------------------------------------------------

-- What an iteration suggests for one image: the labels it would give
-- (multiclass: the top tag; multilabel: every tag at or above the
-- threshold; detection: every box at or above it), each with its
-- probability, in the shape of cv_prediction_store.results.
CREATE FUNCTION cv_suggestion(v_project cv_projects, v_iteration cv_iteration_store, image cv_image,
	OUT suggestions jsonb, OUT top_tag text, OUT top_probability real, OUT uncertainty real)
LANGUAGE plpgsql STABLE SET search_path = @extschema@, pg_temp AS $$
DECLARE
	v_t real := v_iteration.threshold;
	v_scale real := greatest(v_iteration.threshold, 1 - v_iteration.threshold);
BEGIN
	IF v_project.task = 'detection' THEN
		SELECT coalesce(jsonb_agg(jsonb_build_object('tag', d.tag, 'probability', d.probability, 'left', d."left",
		                                             'top', d.top, 'width', d.width, 'height', d.height) ORDER BY d.n)
		                  FILTER (WHERE d.probability >= v_t), '[]'),
		       (array_agg(d.tag ORDER BY d.n))[1], max(d.probability),
		       1 - coalesce(min(abs(d.probability - v_t)), v_t) / v_scale
		  INTO suggestions, top_tag, top_probability, uncertainty
		  FROM cv_detect(v_iteration.model, image, 0.05, 100) WITH ORDINALITY d(tag, probability, "left", top, width, height, n);
	ELSE
		SELECT jsonb_agg(jsonb_build_object('tag', p.tag, 'probability', p.probability) ORDER BY p.n)
		         FILTER (WHERE CASE WHEN v_project.task = 'multiclass' THEN p.n = 1 ELSE p.probability >= v_t END),
		       (array_agg(p.tag ORDER BY p.n))[1], max(p.probability),
		       CASE WHEN v_project.task = 'multiclass'
		            THEN 1 - (max(p.probability) - coalesce(max(p.probability) FILTER (WHERE p.n = 2), 0))
		            ELSE 1 - min(abs(p.probability - v_t)) / v_scale END
		  INTO suggestions, top_tag, top_probability, uncertainty
		  FROM cv_predict(v_iteration.model, image) WITH ORDINALITY p(tag, probability, n);
		suggestions := coalesce(suggestions, '[]');
	END IF;
END;
$$;
COMMENT ON FUNCTION cv_suggestion(cv_projects, cv_iteration_store, cv_image) IS 'internal: the labels an iteration suggests for an image, the top result and the uncertainty (1: the least sure)';

-- The latest completed iteration of a project: what suggestions come from.
CREATE FUNCTION cv_latest_iteration(v_project cv_projects) RETURNS cv_iteration_store
LANGUAGE plpgsql STABLE SET search_path = @extschema@, pg_temp AS $$
DECLARE
	v cv_iteration_store;
BEGIN
	SELECT * INTO v FROM cv_iteration_store s
	 WHERE s.project_id = v_project.id AND s.status = 'completed' AND s.model IS NOT NULL
	 ORDER BY s.id DESC LIMIT 1;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'project "%" has no completed iteration to suggest from', v_project.name
			USING ERRCODE = 'object_not_in_prerequisite_state',
			      HINT = 'Train it first: SELECT cv_train(project, wait => true).';
	END IF;
	RETURN v;
END;
$$;
COMMENT ON FUNCTION cv_latest_iteration(cv_projects) IS 'internal: the latest completed iteration of a project, or an object_not_in_prerequisite_state error';

-- The spread-out batch (src/pg/suggest.c, src/core/learn/diverse.c): of
-- the candidates, most uncertain first, which k to label and in what order.
CREATE FUNCTION cv_suggest_spread(project text, image_ids bigint[], prediction_ids bigint[],
	uncertainties real[], k integer) RETURNS integer[]
	AS 'MODULE_PATHNAME', 'cv_suggest_spread' LANGUAGE C STABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION cv_suggest_spread(text, bigint[], bigint[], real[], integer) IS 'cv_suggest''s helper: the positions of the k candidates (images or stored predictions, most uncertain first) to label, in the order to label them: the first k, or with pgvision.suggest_order = spread a batch spread over the feature space by weighted k-means';
-- (its EXECUTE goes to pgvision_user below, once that role exists)

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
CREATE FUNCTION cv_suggest(project text, "limit" integer DEFAULT 100,
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

-- Label one unlabelled image (image_id) or adopt one stored prediction
-- (prediction_id) with what the latest completed iteration suggests now.
CREATE FUNCTION cv_accept_suggestion(image_id bigint DEFAULT NULL, prediction_id bigint DEFAULT NULL)
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
COMMENT ON FUNCTION cv_accept_suggestion(bigint, bigint) IS 'label an image without labels (image_id), or adopt a stored prediction (prediction_id), with what the latest completed iteration suggests; returns the image id';

------------------------------------------------------------------------------
-- Roles and row security (docs/security.md)
--
-- pgvision_user: one GRANT (GRANT pgvision_user TO app) lets a role create
-- projects and use them.  A project belongs to the role that created it
-- (cv_projects.owner).  Row level security on every table holding a
-- project's rows shows a role the projects it owns, those of the roles
-- whose privileges it has (pg_has_role ... 'USAGE', as PostgreSQL decides
-- object ownership), and those shared with it (cv_project_shares); it lets
-- a role change its own and those shared for writing; only the owner
-- changes, deletes or shares the project itself.  Superusers and roles with
-- BYPASSRLS see every row, as everywhere in PostgreSQL.  pgvision_admin:
-- importing and dropping backbones (the domains every project may use).
--
-- The functions stay SECURITY INVOKER: they read and write as the calling
-- role, so row security applies to them as to a SELECT.  A project another
-- role cannot read is, to it, a project that does not exist (42704), and
-- names are unique per owner, so no name reveals another role's project.
-- A function added later keeps to this: SECURITY INVOKER, and its project,
-- iteration or image looked up through cv_project_row, cv_iteration_project
-- or cv_image_row (cv_export(iteration): cv_iteration_project(iteration)
-- before reading the model, so a stranger gets 42704 and a reader passes).
--
-- Roles belong to the cluster, not to one database: they are created here
-- when absent (another database's pgvision, or the administrator, may have
-- made them) and DROP EXTENSION leaves them.
------------------------------------------------------------------------------

DO $$
BEGIN
	IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = 'pgvision_user') THEN
		CREATE ROLE pgvision_user NOLOGIN;
		COMMENT ON ROLE pgvision_user IS 'pgvision: create projects, and use those owned or shared (GRANT pgvision_user TO a role)';
	END IF;
	IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = 'pgvision_admin') THEN
		CREATE ROLE pgvision_admin NOLOGIN;
		COMMENT ON ROLE pgvision_admin IS 'pgvision: import and drop backbones (cv_import_backbone, cv_drop_backbone)';
	END IF;
END;
$$;

-- cv_suggest's helper is for pgvision_user, not PUBLIC (defined above).
REVOKE EXECUTE ON FUNCTION cv_suggest_spread(text, bigint[], bigint[], real[], integer) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION cv_suggest_spread(text, bigint[], bigint[], real[], integer) TO pgvision_user;

-- Who else may use a project: read (see its rows, predict, performance,
-- export) or write (also images, tags, regions, training, publishing).
-- owner repeats the project's owner (kept by the foreign key) so that this
-- table's own policy need not read cv_projects, whose policy reads this.
CREATE TABLE cv_project_shares (
	project_id  bigint NOT NULL,
	owner       regrole NOT NULL,
	grantee     regrole NOT NULL CHECK (grantee <> 0),
	access      text NOT NULL CHECK (access IN ('read', 'write')),
	created_at  timestamptz NOT NULL DEFAULT now(),
	PRIMARY KEY (project_id, grantee),
	FOREIGN KEY (owner, project_id) REFERENCES cv_projects (owner, id) ON DELETE CASCADE ON UPDATE CASCADE
);
CREATE INDEX cv_project_shares_grantee ON cv_project_shares (grantee);
COMMENT ON TABLE cv_project_shares IS 'projects shared by their owners with other roles: read (read and predict) or write (also add images and train)';
SELECT pg_catalog.pg_extension_config_dump('cv_project_shares', '');

-- Whether the current role may read / change a project's rows.  cv_can_read
-- is row security itself (the project row is visible); cv_can_write adds
-- ownership or a write share.  The policies below call cv_can_write on
-- every row they write (PL/pgSQL: its plan is kept for the session).
CREATE FUNCTION cv_can_read(project_id bigint) RETURNS boolean
LANGUAGE plpgsql STABLE PARALLEL SAFE SET search_path = @extschema@, pg_temp AS $$
BEGIN
	RETURN EXISTS (SELECT 1 FROM cv_projects p WHERE p.id = cv_can_read.project_id);
END;
$$;
COMMENT ON FUNCTION cv_can_read(bigint) IS 'whether the current role can read the project: it owns it, has the owner''s privileges, or it is shared with it';

CREATE FUNCTION cv_can_write(project_id bigint) RETURNS boolean
LANGUAGE plpgsql STABLE PARALLEL SAFE SET search_path = @extschema@, pg_temp AS $$
BEGIN
	RETURN EXISTS (SELECT 1 FROM cv_projects p
	                WHERE p.id = cv_can_write.project_id
	                  AND (pg_has_role(p.owner, 'USAGE')
	                       OR EXISTS (SELECT 1 FROM cv_project_shares s
	                                   WHERE s.project_id = p.id AND s.access = 'write'
	                                     AND pg_has_role(s.grantee, 'USAGE'))));
END;
$$;
COMMENT ON FUNCTION cv_can_write(bigint) IS 'whether the current role can change the project''s images, tags, regions and iterations: it owns it, has the owner''s privileges, or it is shared with it for writing';

-- The policies below as function calls, for Citus, which refuses a policy
-- with a subquery on a table it manages (docs/scale-out.md, section 5):
-- cv_citus_distribute puts these and the two above in the policies' place.
-- Each runs the subquery of its policy, as the querying role.
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

-- The permission error of the functions: what names the object refused
-- (default: the project).  need 'read' always passes: a project that
-- cannot be read was not found.
CREATE FUNCTION cv_check_access(v_project cv_projects, need text, what text DEFAULT NULL) RETURNS cv_projects
LANGUAGE plpgsql STABLE PARALLEL SAFE SET search_path = @extschema@, pg_temp AS $$
BEGIN
	IF need = 'read'
	   OR need = 'write' AND cv_can_write(v_project.id)
	   OR need = 'owner' AND pg_has_role(v_project.owner, 'USAGE') THEN
		RETURN v_project;
	END IF;
	IF need IS NULL OR need NOT IN ('write', 'owner') THEN
		RAISE EXCEPTION 'invalid access "%"', coalesce(need, 'NULL') USING ERRCODE = 'invalid_parameter_value';
	END IF;
	IF need = 'write' THEN
		RAISE EXCEPTION 'permission denied for %', coalesce(what, format('project "%s"', v_project.name))
			USING ERRCODE = 'insufficient_privilege',
			      DETAIL = format('Role %s can read project "%s" but not change it: images, tags, regions, training and publishing need write access.',
			                      cv_current_role(), v_project.name),
			      HINT = format('Its owner, role %s, can give write access: SELECT cv_share_project(%L, %L, access => ''write'').',
			                    v_project.owner, v_project.name, cv_current_role()::text);
	END IF;
	RAISE EXCEPTION 'permission denied for %', coalesce(what, format('project "%s"', v_project.name))
		USING ERRCODE = 'insufficient_privilege',
		      DETAIL = format('Only the owner of project "%s", role %s, can delete it, change it or share it.',
		                      v_project.name, v_project.owner);
END;
$$;
COMMENT ON FUNCTION cv_check_access(cv_projects, text, text) IS 'internal: the project row back, or an insufficient_privilege error when the current role lacks write or owner access';

-- The project of an iteration this role can read (42704 otherwise, as for
-- one that does not exist), with the access checked.
CREATE FUNCTION cv_iteration_project(iteration_id bigint, need text DEFAULT 'read') RETURNS cv_projects
LANGUAGE plpgsql STABLE PARALLEL SAFE SET search_path = @extschema@, pg_temp AS $$
DECLARE
	v cv_projects;
BEGIN
	-- as cv_performance and cv_export say it (cv_cancel_training,
	-- cv_publish and cv_unpublish start here)
	IF iteration_id IS NULL THEN
		RAISE EXCEPTION 'iteration must not be null' USING ERRCODE = 'invalid_parameter_value';
	END IF;
	SELECT p.* INTO v FROM cv_iteration_store s JOIN cv_projects p ON p.id = s.project_id
	 WHERE s.id = cv_iteration_project.iteration_id;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'iteration % does not exist', coalesce(iteration_id::text, 'NULL')
			USING ERRCODE = 'undefined_object';
	END IF;
	RETURN cv_check_access(v, need, format('iteration %s', iteration_id));
END;
$$;
COMMENT ON FUNCTION cv_iteration_project(bigint, text) IS 'internal: the project of an iteration the current role can read, its access checked';

-- The first thing a role without pgvision_user tries: say what is missing.
CREATE FUNCTION cv_check_user() RETURNS void
LANGUAGE plpgsql STABLE SET search_path = @extschema@, pg_temp AS $$
BEGIN
	IF NOT has_table_privilege('cv_projects', 'INSERT') THEN
		RAISE EXCEPTION 'permission denied to create a pgvision project'
			USING ERRCODE = 'insufficient_privilege',
			      DETAIL = format('Role %s does not have the privileges of role pgvision_user.', cv_current_role()),
			      HINT = format('A superuser or an administrator of that role grants it: GRANT pgvision_user TO %s;', cv_current_role());
	END IF;
END;
$$;
COMMENT ON FUNCTION cv_check_user() IS 'internal: an insufficient_privilege error naming pgvision_user for a role without its privileges';

CREATE FUNCTION cv_share_project(project text, role regrole, access text DEFAULT 'read') RETURNS void
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
COMMENT ON FUNCTION cv_share_project(text, regrole, text) IS 'let another role read a project (read: its rows, prediction, performance) or also change it (write: images, tags, regions, training, publishing); owner only; sharing again changes the access';

CREATE FUNCTION cv_unshare_project(project text, role regrole) RETURNS void
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
COMMENT ON FUNCTION cv_unshare_project(text, regrole) IS 'stop sharing a project with a role; owner only';


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

-- Row security.  Reading a child row asks whether its project (or
-- iteration) row is visible: that row's own policy decides, so the read
-- rule is written once, on cv_projects.  Writing asks cv_can_write; on
-- cv_projects and cv_project_shares, ownership.  One policy per command
-- (not FOR ALL, which would add the write rule to every read as an
-- alternative to evaluate).  Subqueries, which the planner runs far faster
-- than calls of the functions above; cv_citus_distribute swaps them for
-- those calls, as Citus refuses subqueries in policies.
CREATE POLICY cv_projects_read ON cv_projects FOR SELECT
	USING (pg_has_role(owner, 'USAGE')
	       OR EXISTS (SELECT 1 FROM cv_project_shares s
	                   WHERE s.project_id = cv_projects.id AND pg_has_role(s.grantee, 'USAGE')));
CREATE POLICY cv_project_shares_read ON cv_project_shares FOR SELECT
	USING (pg_has_role(grantee, 'USAGE') OR pg_has_role(owner, 'USAGE'));

DO $$
DECLARE
	r record;
BEGIN
	FOR r IN SELECT * FROM (VALUES
		('cv_projects', NULL, 'pg_has_role(owner, ''USAGE'')'),
		('cv_project_shares', NULL, 'pg_has_role(owner, ''USAGE'')'),
		('cv_tags', 'project', 'cv_can_write(project_id)'),
		('cv_images', 'project', 'cv_can_write(project_id)'),
		('cv_image_tags', 'project', 'cv_can_write(project_id)'),
		('cv_regions', 'project', 'cv_can_write(project_id)'),
		('cv_iteration_store', 'project', 'cv_can_write(project_id)'),
		('cv_iteration_tags', 'iteration', NULL),
		('cv_heldout_predictions', 'iteration', NULL),
		('cv_heldout_regions', 'iteration', NULL),
		('cv_features', 'image', NULL),
		('cv_prediction_store', 'project', 'cv_can_write(project_id)')) v(tab, parent, can_write)
	LOOP
		IF r.parent = 'project' THEN
			EXECUTE format('CREATE POLICY %I ON %I FOR SELECT USING (EXISTS (SELECT 1 FROM cv_projects p WHERE p.id = %I.project_id))',
			               r.tab || '_read', r.tab, r.tab);
		ELSIF r.parent = 'iteration' THEN
			EXECUTE format('CREATE POLICY %I ON %I FOR SELECT USING (EXISTS (SELECT 1 FROM cv_iteration_store s WHERE s.id = %I.iteration_id))',
			               r.tab || '_read', r.tab, r.tab);
			r.can_write := format('EXISTS (SELECT 1 FROM cv_iteration_store s WHERE s.id = %I.iteration_id AND cv_can_write(s.project_id))', r.tab);
		ELSIF r.parent = 'image' THEN
			EXECUTE format('CREATE POLICY %I ON %I FOR SELECT USING (EXISTS (SELECT 1 FROM cv_images i WHERE i.id = %I.image_id))',
			               r.tab || '_read', r.tab, r.tab);
			r.can_write := format('EXISTS (SELECT 1 FROM cv_images i WHERE i.id = %I.image_id AND cv_can_write(i.project_id))', r.tab);
		END IF;
		EXECUTE format('CREATE POLICY %I ON %I FOR INSERT WITH CHECK (%s)', r.tab || '_insert', r.tab, r.can_write);
		EXECUTE format('CREATE POLICY %I ON %I FOR UPDATE USING (%s) WITH CHECK (%s)', r.tab || '_update', r.tab, r.can_write, r.can_write);
		EXECUTE format('CREATE POLICY %I ON %I FOR DELETE USING (%s)', r.tab || '_delete', r.tab, r.can_write);
		EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', r.tab);
	END LOOP;
END;
$$;

-- Views read their tables as the querying role, so row security applies
-- through them too (a view owned by the superuser would see every row).
ALTER VIEW cv_tag_counts SET (security_invoker = true);
ALTER VIEW cv_untagged_images SET (security_invoker = true);
ALTER VIEW cv_iterations SET (security_invoker = true);
ALTER VIEW cv_predictions SET (security_invoker = true);

-- Privileges: row security decides which rows; these decide which tables.
-- No TRUNCATE (it ignores row security), no TRIGGER, no REFERENCES.
-- The schema: only when PUBLIC cannot use it already (public can), since
-- the grant outlives DROP EXTENSION.
DO $$
BEGIN
	IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_namespace n, pg_catalog.aclexplode(n.nspacl) a
	                WHERE n.nspname = '@extschema@' AND a.grantee = 0 AND a.privilege_type = 'USAGE') THEN
		EXECUTE format('GRANT USAGE ON SCHEMA %I TO pgvision_user, pgvision_admin', '@extschema@');
	END IF;
END;
$$;
GRANT SELECT ON cv_domains, cv_backbones TO pgvision_user;
GRANT SELECT, INSERT, UPDATE, DELETE ON
	cv_projects, cv_project_shares, cv_tags, cv_images, cv_image_tags, cv_regions,
	cv_iteration_store, cv_iteration_tags, cv_heldout_predictions, cv_heldout_regions, cv_features,
	cv_prediction_store
	TO pgvision_user;
GRANT SELECT ON cv_tag_counts, cv_untagged_images, cv_iterations, cv_predictions TO pgvision_user;
GRANT USAGE ON SEQUENCE cv_projects_id_seq, cv_tags_id_seq, cv_images_id_seq, cv_regions_id_seq,
	cv_iteration_store_id_seq, cv_prediction_store_id_seq TO pgvision_user;
-- Backbones are shared by every project of the database: importing one is
-- an administrator's act, as installing the extension is.
GRANT SELECT, INSERT, UPDATE, DELETE ON cv_domains, cv_backbones TO pgvision_admin;
REVOKE EXECUTE ON FUNCTION cv_import_backbone(text, bytea, text[]), cv_drop_backbone(text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION cv_import_backbone(text, bytea, text[]), cv_drop_backbone(text) TO pgvision_admin;
-- The training machinery: start a worker, train in this backend.
REVOKE EXECUTE ON FUNCTION cv_train_launch(bigint), cv_train_run(bigint) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION cv_train_launch(bigint), cv_train_run(bigint) TO pgvision_user;

------------------------------------------------------------------------------
-- Object detection
------------------------------------------------------------------------------

CREATE FUNCTION cv_detect(model cv_model, image bytea, threshold real DEFAULT 0.1, max_detections integer DEFAULT 100,
	OUT tag text, OUT probability real, OUT "left" real, OUT top real, OUT width real, OUT height real)
	RETURNS SETOF record
	AS 'MODULE_PATHNAME', 'cv_detect_bytea' LANGUAGE C STABLE STRICT PARALLEL SAFE ROWS 10;
CREATE FUNCTION cv_detect(model cv_model, image cv_image, threshold real DEFAULT 0.1, max_detections integer DEFAULT 100,
	OUT tag text, OUT probability real, OUT "left" real, OUT top real, OUT width real, OUT height real)
	RETURNS SETOF record
	AS 'MODULE_PATHNAME', 'cv_detect_cv_image' LANGUAGE C STABLE STRICT PARALLEL SAFE ROWS 10;
COMMENT ON FUNCTION cv_detect(cv_model, bytea, real, integer) IS 'the objects a detection model finds in an encoded image: tag, probability and box (fractions of the upright image), most probable first';
COMMENT ON FUNCTION cv_detect(cv_model, cv_image, real, integer) IS 'the objects a detection model finds in an image, most probable first';

CREATE FUNCTION cv_detect(project text, image bytea, threshold real DEFAULT 0.1, max_detections integer DEFAULT 100,
	OUT tag text, OUT probability real, OUT "left" real, OUT top real, OUT width real, OUT height real)
	RETURNS SETOF record
LANGUAGE sql STABLE PARALLEL SAFE ROWS 10 SET search_path = @extschema@, pg_temp AS $$
	SELECT d.tag, d.probability, d."left", d.top, d.width, d.height
	  FROM cv_detect(cv_published_model(project), image, threshold, max_detections) d
$$;
COMMENT ON FUNCTION cv_detect(text, bytea, real, integer) IS 'detect objects with the latest published iteration of a project';

CREATE FUNCTION cv_detect(project text, image bytea, published_name text,
	threshold real DEFAULT 0.1, max_detections integer DEFAULT 100,
	OUT tag text, OUT probability real, OUT "left" real, OUT top real, OUT width real, OUT height real)
	RETURNS SETOF record
LANGUAGE sql STABLE PARALLEL SAFE ROWS 10 SET search_path = @extschema@, pg_temp AS $$
	SELECT d.tag, d.probability, d."left", d.top, d.width, d.height
	  FROM cv_detect(cv_published_model(project, published_name), image, threshold, max_detections) d
$$;
COMMENT ON FUNCTION cv_detect(text, bytea, text, real, integer) IS 'detect objects with the iteration a project publishes under a name';

------------------------------------------------------------------------------
-- Export: an iteration as a file that runs outside the database
-- (docs/export.md), and the exact pixels that file takes.
------------------------------------------------------------------------------

-- Not STRICT: a NULL iteration or format is an error, as in cv_performance.
-- STABLE: it reads the iteration, its backbone and pgvision.nms_overlap.
CREATE FUNCTION cv_export(iteration bigint, format text DEFAULT 'onnx') RETURNS bytea
	AS 'MODULE_PATHNAME', 'cv_export' LANGUAGE C STABLE PARALLEL SAFE;
COMMENT ON FUNCTION cv_export(bigint, text) IS 'a completed iteration on a backbone domain as an ONNX model file: backbone, head and pixel normalisation, with its tags and settings in the metadata (docs/export.md)';

CREATE FUNCTION cv_input_pixels(iteration bigint, image bytea) RETURNS bytea
	AS 'MODULE_PATHNAME', 'cv_input_pixels_iteration' LANGUAGE C STABLE STRICT PARALLEL SAFE;
CREATE FUNCTION cv_input_pixels(iteration bigint, image cv_image) RETURNS bytea
	AS 'MODULE_PATHNAME', 'cv_input_pixels_iteration_image' LANGUAGE C STABLE STRICT PARALLEL SAFE;
CREATE FUNCTION cv_input_pixels(model cv_model, image bytea) RETURNS bytea
	AS 'MODULE_PATHNAME', 'cv_input_pixels_model' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION cv_input_pixels(model cv_model, image cv_image) RETURNS bytea
	AS 'MODULE_PATHNAME', 'cv_input_pixels_model_image' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION cv_input_pixels(bigint, bytea) IS 'the exact RGB pixels (input_height x input_width x 3 bytes, rows top to bottom) the iteration''s network and its exported file take for an encoded image';
COMMENT ON FUNCTION cv_input_pixels(bigint, cv_image) IS 'the exact RGB pixels the iteration''s network takes for an image';
COMMENT ON FUNCTION cv_input_pixels(cv_model, bytea) IS 'the exact RGB pixels (input_height x input_width x 3 bytes, rows top to bottom) the model''s network takes for an encoded image';
COMMENT ON FUNCTION cv_input_pixels(cv_model, cv_image) IS 'the exact RGB pixels the model''s network takes for an image';

-- ---------------------------------------------------------------------
-- Pictures: boxes drawn on an image (docs/pictures.md)
-- ---------------------------------------------------------------------

CREATE FUNCTION cv_draw_boxes_png(image bytea, tags text[], probabilities real[],
	lefts real[], tops real[], widths real[], heights real[])
	RETURNS bytea
	AS 'MODULE_PATHNAME', 'cv_draw_boxes_png' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION cv_draw_boxes_png(bytea, text[], real[], real[], real[], real[], real[]) IS 'internal: cv_draw on checked arrays';

-- regions: a JSON array of objects with "left", "top", "width", "height"
-- (fractions of the upright image), and optionally "tag" (or the "tag_id"
-- of a cv_regions row) and "probability": the rows of cv_detect or of
-- cv_regions as jsonb_agg makes them.  Other keys are ignored, so whole
-- rows can be passed.
CREATE FUNCTION cv_draw(image bytea, regions jsonb DEFAULT NULL)
RETURNS bytea
LANGUAGE plpgsql STABLE PARALLEL SAFE SET search_path = @extschema@, pg_temp AS $$
DECLARE
	v_shape constant text := 'Each region is an object with "left", "top", "width" and "height" (fractions of the image), and optionally "tag" or "tag_id" and "probability".';
	v_elem jsonb;
	v_key text;
	v_tags text[] := '{}';
	v_probs real[] := '{}';
	v_geo real[];
	v_lefts real[] := '{}';
	v_tops real[] := '{}';
	v_widths real[] := '{}';
	v_heights real[] := '{}';
	v_n integer := 0;
	v_tag text;
BEGIN
	IF image IS NULL THEN
		RETURN NULL;
	END IF;
	IF regions IS NOT NULL AND jsonb_typeof(regions) <> 'null' THEN
		IF jsonb_typeof(regions) <> 'array' THEN
			RAISE EXCEPTION 'regions must be a JSON array, not %', cv_json_kind(regions)
				USING ERRCODE = 'invalid_parameter_value', DETAIL = v_shape;
		END IF;
		v_n := jsonb_array_length(regions);
	END IF;
	FOR i IN 1 .. v_n LOOP
		v_elem := regions -> (i - 1);
		IF jsonb_typeof(v_elem) <> 'object' THEN
			RAISE EXCEPTION 'region % must be a JSON object, not %', i, cv_json_kind(v_elem)
				USING ERRCODE = 'invalid_parameter_value', DETAIL = v_shape;
		END IF;
		v_geo := '{}';
		FOREACH v_key IN ARRAY ARRAY['left', 'top', 'width', 'height'] LOOP
			IF NOT v_elem ? v_key THEN
				RAISE EXCEPTION 'region % has no "%"', i, v_key
					USING ERRCODE = 'invalid_parameter_value', DETAIL = v_shape;
			END IF;
			IF jsonb_typeof(v_elem -> v_key) <> 'number' THEN
				RAISE EXCEPTION '"%" of region % must be a number, not %', v_key, i,
					cv_json_kind(v_elem -> v_key)
					USING ERRCODE = 'invalid_parameter_value', DETAIL = v_shape;
			END IF;
			-- huge or tiny JSON numbers: outside the image, or 0, in real
			v_geo := v_geo || round(least(greatest((v_elem -> v_key)::numeric, -1e30), 1e30), 12)::real;
		END LOOP;
		v_lefts := v_lefts || v_geo[1];
		v_tops := v_tops || v_geo[2];
		v_widths := v_widths || v_geo[3];
		v_heights := v_heights || v_geo[4];
		v_tag := NULL;
		IF jsonb_typeof(v_elem -> 'tag') = 'string' THEN
			v_tag := v_elem ->> 'tag';
		ELSIF v_elem ? 'tag' AND jsonb_typeof(v_elem -> 'tag') <> 'null' THEN
			RAISE EXCEPTION '"tag" of region % must be a string, not %', i, cv_json_kind(v_elem -> 'tag')
				USING ERRCODE = 'invalid_parameter_value', DETAIL = v_shape;
		ELSIF jsonb_typeof(v_elem -> 'tag_id') = 'number' THEN
			SELECT t.name INTO v_tag FROM cv_tags t WHERE t.id = (v_elem ->> 'tag_id')::numeric;
			IF v_tag IS NULL THEN
				RAISE EXCEPTION 'region % names tag % that does not exist', i, v_elem ->> 'tag_id'
					USING ERRCODE = 'undefined_object';
			END IF;
		END IF;
		v_tags := v_tags || v_tag;
		IF jsonb_typeof(v_elem -> 'probability') = 'number' THEN
			v_probs := v_probs || round(least(greatest((v_elem -> 'probability')::numeric, -1), 2), 12)::real;
		ELSIF v_elem ? 'probability' AND jsonb_typeof(v_elem -> 'probability') <> 'null' THEN
			RAISE EXCEPTION '"probability" of region % must be a number, not %', i,
				cv_json_kind(v_elem -> 'probability')
				USING ERRCODE = 'invalid_parameter_value', DETAIL = v_shape;
		ELSE
			v_probs := v_probs || NULL::real;
		END IF;
	END LOOP;
	RETURN cv_draw_boxes_png(image, v_tags, v_probs, v_lefts, v_tops, v_widths, v_heights);
END;
$$;
COMMENT ON FUNCTION cv_draw(bytea, jsonb) IS 'a PNG of the upright image with each region drawn: a box in a colour per tag, the tag name and probability beside it';

CREATE FUNCTION cv_draw(image cv_image, regions jsonb DEFAULT NULL)
RETURNS bytea
LANGUAGE sql STABLE PARALLEL SAFE SET search_path = @extschema@, pg_temp AS $$
	SELECT cv_draw(bytea(image), regions)
$$;
COMMENT ON FUNCTION cv_draw(cv_image, jsonb) IS 'a PNG of the upright image with each region drawn';

-- ---------------------------------------------------------------------
-- Embeddings: a domain's feature vector of an image (docs/similar.md)
-- ---------------------------------------------------------------------

CREATE FUNCTION cv_embed(domain text, image bytea) RETURNS real[]
	AS 'MODULE_PATHNAME', 'cv_embed_bytea' LANGUAGE C STABLE STRICT PARALLEL SAFE;
CREATE FUNCTION cv_embed(domain text, image cv_image) RETURNS real[]
	AS 'MODULE_PATHNAME', 'cv_embed_cv_image' LANGUAGE C STABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION cv_embed(text, bytea) IS 'the domain''s feature vector of an encoded image (what its classifiers learn from; castable to pgvector''s vector)';
COMMENT ON FUNCTION cv_embed(text, cv_image) IS 'the domain''s feature vector of a stored image';

------------------------------------------------------------------------------
-- Similar images (docs/similar.md)

CREATE FUNCTION cv_similar(project text, image bytea, k integer DEFAULT 5,
                           OUT image_id bigint, OUT similarity real)
RETURNS SETOF record
	AS 'MODULE_PATHNAME', 'cv_similar_bytea' LANGUAGE C STABLE STRICT PARALLEL SAFE;
CREATE FUNCTION cv_similar(image bigint, k integer DEFAULT 5,
                           OUT image_id bigint, OUT similarity real)
RETURNS SETOF record
	AS 'MODULE_PATHNAME', 'cv_similar_image' LANGUAGE C STABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION cv_similar(text, bytea, integer) IS 'the k images of a project most similar to an encoded image (cosine similarity of the domain''s features), most similar first';
COMMENT ON FUNCTION cv_similar(bigint, integer) IS 'the k other images of an image''s project most similar to it, most similar first';

-- cv_add_image's near-duplicate notice: stores view 0 of a new image of a
-- classification project in cv_features and compares it with the others.
CREATE FUNCTION cv_note_near_duplicate(image_id bigint) RETURNS void
	AS 'MODULE_PATHNAME', 'cv_note_near_duplicate' LANGUAGE C VOLATILE STRICT PARALLEL UNSAFE;
COMMENT ON FUNCTION cv_note_near_duplicate(bigint) IS 'cv_add_image''s helper: cache view 0 of a new image''s features and notice a near-duplicate (pgvision.near_duplicate_similarity)';
REVOKE EXECUTE ON FUNCTION cv_note_near_duplicate(bigint) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION cv_note_near_duplicate(bigint) TO pgvision_user;

------------------------------------------------------------------------------
-- Annotations out (docs/loading.md): the files pgvision-load reads, made
-- from a project, so its labels can go to other tools and come back.

-- The file name an exported annotation gives an image: its id and the
-- extension of its format (the images themselves are cv_images.image).
CREATE FUNCTION cv_export_file_name(image_id bigint, format text) RETURNS text
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$
	SELECT image_id || CASE format WHEN 'jpeg' THEN '.jpg' ELSE '.' || format END
$$;

-- A box of the upright image (fractions) in the stored raster's frame:
-- the inverse of the EXIF orientation pgvision applies (orient.c; the
-- loader applies the forward map, docs/loading.md), both corners mapped.
CREATE FUNCTION cv_box_to_stored(orientation integer, "left" float8, top float8, width float8, height float8,
                                 OUT "left" float8, OUT top float8, OUT width float8, OUT height float8)
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$
	SELECT least(x1, x2), least(y1, y2), abs(x2 - x1), abs(y2 - y1)
	  FROM (SELECT CASE orientation WHEN 2 THEN 1 - ux1 WHEN 3 THEN 1 - ux1 WHEN 5 THEN uy1 WHEN 6 THEN uy1
	                                WHEN 7 THEN 1 - uy1 WHEN 8 THEN 1 - uy1 ELSE ux1 END AS x1,
	               CASE orientation WHEN 3 THEN 1 - uy1 WHEN 4 THEN 1 - uy1 WHEN 5 THEN ux1 WHEN 6 THEN 1 - ux1
	                                WHEN 7 THEN 1 - ux1 WHEN 8 THEN ux1 ELSE uy1 END AS y1,
	               CASE orientation WHEN 2 THEN 1 - ux2 WHEN 3 THEN 1 - ux2 WHEN 5 THEN uy2 WHEN 6 THEN uy2
	                                WHEN 7 THEN 1 - uy2 WHEN 8 THEN 1 - uy2 ELSE ux2 END AS x2,
	               CASE orientation WHEN 3 THEN 1 - uy2 WHEN 4 THEN 1 - uy2 WHEN 5 THEN ux2 WHEN 6 THEN 1 - ux2
	                                WHEN 7 THEN 1 - ux2 WHEN 8 THEN ux2 ELSE uy2 END AS y2
	          FROM (SELECT "left" AS ux1, top AS uy1, "left" + width AS ux2, top + height AS uy2) c) m
$$;

CREATE FUNCTION cv_export_annotations(project text, format text DEFAULT 'coco', pixels text DEFAULT 'stored')
RETURNS jsonb
LANGUAGE plpgsql STABLE SET search_path = @extschema@, pg_temp AS $$
DECLARE
	v_project cv_projects := cv_project_row(project, 'read');
BEGIN
	IF format IS NULL THEN
		RAISE EXCEPTION 'format must not be null' USING ERRCODE = 'invalid_parameter_value',
			HINT = 'The formats are ''coco'' (detection projects) and ''customvision'' (every project).';
	END IF;
	IF format NOT IN ('coco', 'customvision') THEN
		RAISE EXCEPTION 'unknown annotation format "%"', format
			USING ERRCODE = 'invalid_parameter_value',
			      HINT = 'The formats are ''coco'' (detection projects) and ''customvision'' (every project).';
	END IF;
	IF pixels IS NULL OR pixels NOT IN ('stored', 'upright') THEN
		RAISE EXCEPTION 'pixels must be ''stored'' or ''upright'', not %', coalesce(quote_literal(pixels), 'NULL')
			USING ERRCODE = 'invalid_parameter_value',
			      HINT = '''stored'': COCO boxes count pixels of the stored raster (what pgvision-load reads by default); ''upright'': of the image turned by its EXIF orientation (pgvision-load --upright-pixels).';
	END IF;
	IF format = 'customvision' THEN
		-- Custom Vision's training API shape; fractions of the upright
		-- image, as pgvision keeps them.
		RETURN (SELECT coalesce(jsonb_agg(jsonb_build_object(
		               'id', i.id::text,
		               'originalImageUri', cv_export_file_name(i.id, i.format),
		               'width', i.width, 'height', i.height,
		               'tags', (SELECT coalesce(jsonb_agg(jsonb_build_object('tagName', t.name) ORDER BY t.name), '[]')
		                          FROM cv_image_tags it JOIN cv_tags t ON t.id = it.tag_id WHERE it.image_id = i.id),
		               'regions', (SELECT coalesce(jsonb_agg(jsonb_build_object('tagName', t.name, 'left', r."left", 'top', r.top,
		                                                                         'width', r.width, 'height', r.height) ORDER BY r.id), '[]')
		                             FROM cv_regions r JOIN cv_tags t ON t.id = r.tag_id WHERE r.image_id = i.id))
		             ORDER BY i.id), '[]')
		          FROM cv_images i WHERE i.project_id = v_project.id);
	END IF;
	IF v_project.task <> 'detection' THEN
		RAISE EXCEPTION 'COCO annotations are boxes; project "%" is a % project', project, v_project.task
			USING ERRCODE = 'feature_not_supported',
			      HINT = 'format => ''customvision'' exports every image with its tags.';
	END IF;
	-- COCO: boxes [x, y, width, height] in pixels from the top-left corner,
	-- ids as numbers (categories: the tag ids).
	RETURN (WITH im AS (
	          SELECT i.id, i.format, cv_orientation(i.image) AS orientation,
	                 CASE WHEN pixels = 'stored' AND cv_orientation(i.image) >= 5 THEN i.height ELSE i.width END AS w,
	                 CASE WHEN pixels = 'stored' AND cv_orientation(i.image) >= 5 THEN i.width ELSE i.height END AS h
	            FROM cv_images i WHERE i.project_id = v_project.id)
	        SELECT jsonb_build_object(
	            'info', jsonb_build_object('description', format('pgvision project %s', v_project.name),
	                                       'pixels', pixels),
	            'images', (SELECT coalesce(jsonb_agg(jsonb_build_object('id', im.id, 'file_name', cv_export_file_name(im.id, im.format),
	                                                                   'width', im.w, 'height', im.h) ORDER BY im.id), '[]') FROM im),
	            'annotations', (SELECT coalesce(jsonb_agg(jsonb_build_object(
	                                'id', r.id, 'image_id', r.image_id, 'category_id', r.tag_id,
	                                'bbox', jsonb_build_array(b."left" * im.w, b.top * im.h, b.width * im.w, b.height * im.h),
	                                'area', b.width * im.w * b.height * im.h, 'iscrowd', 0) ORDER BY r.id), '[]')
	                              FROM cv_regions r JOIN im ON im.id = r.image_id,
	                                   LATERAL (SELECT * FROM cv_box_to_stored(CASE WHEN pixels = 'stored' THEN im.orientation ELSE 1 END,
	                                                                           r."left", r.top, r.width, r.height)) b),
	            'categories', (SELECT coalesce(jsonb_agg(jsonb_build_object('id', t.id, 'name', t.name) ORDER BY t.id), '[]')
	                             FROM cv_tags t WHERE t.project_id = v_project.id)));
END;
$$;
COMMENT ON FUNCTION cv_export_annotations(text, text, text) IS 'a project''s labels as the annotation files pgvision-load reads: COCO (detection boxes, pixels of the stored or upright image) or Custom Vision''s JSON (tags and regions); images named <id>.<ext>';

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

-- What cv_citus_distribute gives cv_domains on every node: a
-- pgvision_user may take the UPDATE lock Citus asks for when a reference
-- table referring to it is written (below), and row security keeps the
-- writes to pgvision_admin.  Each command may run again (cv_citus_sync_nodes).
CREATE FUNCTION cv_citus_domain_commands() RETURNS text[]
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

-- cv_tag_counts counts each tag's labels in subqueries correlated on the
-- tag, which Citus refuses over distributed tables ("complex joins are
-- only supported when all distributed tables are co-located and joined on
-- their distribution columns", measured).  On Citus it counts every tag's
-- labels per project first (pushed down to the shards, materialized on
-- the coordinator) and joins them to the tags: the same rows.  A single
-- server keeps the correlated form, which counts only the tags asked for.
CREATE FUNCTION cv_citus_tag_counts_view() RETURNS text
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

-- Role OIDs.  Citus copies a table's rows to a node in binary, so a
-- regrole column there holds the OID of the role on the node it came
-- from, which on that node is another role or none (a share made
-- afterwards failed the foreign key to its project on a worker, "Key is
-- not present in table "cv_projects_102107""; on a node added later the
-- owner's write access was refused, measured).  An UPDATE through Citus
-- sends each role by name, which every node reads as its own OID.  A role
-- dropped since keeps its number (it names no role here).
CREATE FUNCTION cv_citus_roles_by_name() RETURNS void
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

-- A node added after cv_citus_distribute (citus_add_node) gets pgvision
-- from Citus (CREATE EXTENSION: 0.2.0's tables, policies with subqueries,
-- cv_tag_counts's correlated form) and, from replicate_reference_tables
-- or a rebalance, copies of the reference tables made in binary, whose
-- owners are the OIDs of the coordinator's roles: there a project's owner
-- was refused its own writes (measured, docs/scale-out.md).  This gives
-- every node what cv_citus_distribute gave the nodes it found, and may
-- run again: the policies, cv_domains's grant and policies and the view
-- on each node's own tables (Citus's DDL propagation off: these are
-- pgvision's own copies, and on a worker Citus refuses DDL on its
-- tables), then the roles by name.  The commands run first: each on its
-- own connection, the coordinator's included, which would wait for a
-- lock this transaction's UPDATEs held (measured).
CREATE FUNCTION cv_citus_sync_nodes() RETURNS void
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
