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
	description  text,
	created_at   timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE cv_domains IS 'feature extractors a project can use: built-in and imported backbones';
INSERT INTO cv_domains (name, kind, description)
VALUES ('compact', 'builtin', 'built-in features for small data; needs no weights file');

CREATE TABLE cv_projects (
	id          bigserial PRIMARY KEY,
	name        text NOT NULL UNIQUE
	            CHECK (length(name) BETWEEN 1 AND 128 AND name = btrim(name)),
	task        text NOT NULL DEFAULT 'multiclass'
	            CHECK (task IN ('multiclass', 'multilabel', 'detection')),
	domain      text NOT NULL DEFAULT 'compact' REFERENCES cv_domains (name),
	created_at  timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE cv_projects IS 'one row per project: its task (multiclass, multilabel or detection) and domain';

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

CREATE TABLE cv_images (
	id          bigserial PRIMARY KEY,
	project_id  bigint NOT NULL REFERENCES cv_projects (id) ON DELETE CASCADE,
	image       cv_image NOT NULL,
	width       integer GENERATED ALWAYS AS (cv_width(image)) STORED,
	height      integer GENERATED ALWAYS AS (cv_height(image)) STORED,
	format      text GENERATED ALWAYS AS (cv_format(image)) STORED,
	byte_size   integer GENERATED ALWAYS AS (octet_length(bytea(image))) STORED,
	sha256      bytea GENERATED ALWAYS AS (sha256(bytea(image))) STORED,
	created_at  timestamptz NOT NULL DEFAULT now(),
	UNIQUE (project_id, sha256),
	UNIQUE (id, project_id)
);
COMMENT ON TABLE cv_images IS 'images of each project; sha256 is the content hash of the encoded bytes, unique per project';

CREATE TABLE cv_image_tags (
	image_id    bigint NOT NULL,
	tag_id      bigint NOT NULL,
	project_id  bigint NOT NULL,
	created_at  timestamptz NOT NULL DEFAULT now(),
	PRIMARY KEY (image_id, tag_id),
	FOREIGN KEY (image_id, project_id) REFERENCES cv_images (id, project_id) ON DELETE CASCADE,
	FOREIGN KEY (tag_id, project_id) REFERENCES cv_tags (id, project_id) ON DELETE CASCADE
);
CREATE INDEX cv_image_tags_tag ON cv_image_tags (tag_id);
COMMENT ON TABLE cv_image_tags IS 'classification labels: which tags each image carries';

-- Region coordinates are normalized to the upright image (0..1, the hosted
-- services' convention).  The 1e-9 slack absorbs float rounding of
-- left + width for boxes that touch the right or bottom edge.
CREATE TABLE cv_regions (
	id          bigserial PRIMARY KEY,
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
-- two sessions labelling the same image cannot both pass.
------------------------------------------------------------------------------

CREATE FUNCTION cv_image_tags_check() RETURNS trigger
LANGUAGE plpgsql SET search_path = @extschema@, pg_temp AS $$
DECLARE
	v_task text;
	v_project text;
	v_tag cv_tags%ROWTYPE;
	v_other text;
BEGIN
	PERFORM 1 FROM cv_images WHERE id = NEW.image_id FOR UPDATE;
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
	 WHERE it.image_id = NEW.image_id AND it.tag_id <> NEW.tag_id
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
		            WHERE it.image_id = NEW.image_id AND t.negative) THEN
			RAISE EXCEPTION 'image % has the negative tag, which cannot be combined with tag "%"', NEW.image_id, v_tag.name
				USING ERRCODE = 'integrity_constraint_violation';
		END IF;
	END IF;
	RETURN NEW;
END;
$$;
CREATE TRIGGER cv_image_tags_check BEFORE INSERT OR UPDATE ON cv_image_tags
	FOR EACH ROW EXECUTE FUNCTION cv_image_tags_check();

CREATE FUNCTION cv_regions_check() RETURNS trigger
LANGUAGE plpgsql SET search_path = @extschema@, pg_temp AS $$
DECLARE
	v_task text;
	v_project text;
BEGIN
	SELECT p.task, p.name INTO v_task, v_project FROM cv_projects p WHERE p.id = NEW.project_id;
	IF v_task IS DISTINCT FROM 'detection' THEN
		RAISE EXCEPTION 'project "%" is a % project; regions belong to detection projects', v_project, v_task
			USING ERRCODE = 'wrong_object_type',
			      HINT = 'Label classification images with tags (cv_tag_image).';
	END IF;
	RETURN NEW;
END;
$$;
CREATE TRIGGER cv_regions_check BEFORE INSERT OR UPDATE ON cv_regions
	FOR EACH ROW EXECUTE FUNCTION cv_regions_check();

-- A project's task decides how its images are labelled, so it is fixed once
-- the project has tags.  Negative tags exist only in classification.
CREATE FUNCTION cv_projects_check() RETURNS trigger
LANGUAGE plpgsql SET search_path = @extschema@, pg_temp AS $$
BEGIN
	IF NEW.task IS DISTINCT FROM OLD.task AND EXISTS (SELECT 1 FROM cv_tags WHERE project_id = OLD.id) THEN
		RAISE EXCEPTION 'cannot change the task of project "%" once it has tags', OLD.name
			USING ERRCODE = 'object_in_use';
	END IF;
	RETURN NEW;
END;
$$;
CREATE TRIGGER cv_projects_check BEFORE UPDATE ON cv_projects
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

CREATE FUNCTION cv_project_row(project text) RETURNS cv_projects
LANGUAGE plpgsql STABLE SET search_path = @extschema@, pg_temp AS $$
DECLARE
	v cv_projects;
BEGIN
	IF project IS NULL THEN
		RAISE EXCEPTION 'project name must not be null' USING ERRCODE = 'invalid_parameter_value';
	END IF;
	SELECT * INTO v FROM cv_projects WHERE name = project;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'project "%" does not exist', project
			USING ERRCODE = 'undefined_object',
			      HINT = 'cv_projects lists the projects; cv_create_project makes one.';
	END IF;
	RETURN v;
END;
$$;
COMMENT ON FUNCTION cv_project_row(text) IS 'the cv_projects row of a project name, or an undefined_object error';

CREATE FUNCTION cv_image_row(image_id bigint) RETURNS cv_images
LANGUAGE plpgsql STABLE SET search_path = @extschema@, pg_temp AS $$
DECLARE
	v cv_images;
BEGIN
	IF image_id IS NULL THEN
		RAISE EXCEPTION 'image id must not be null' USING ERRCODE = 'invalid_parameter_value';
	END IF;
	SELECT * INTO v FROM cv_images i WHERE i.id = image_id;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'image % does not exist', image_id USING ERRCODE = 'undefined_object';
	END IF;
	RETURN v;
END;
$$;
COMMENT ON FUNCTION cv_image_row(bigint) IS 'the cv_images row of an image id, or an undefined_object error';

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
		IF t IS NULL OR length(t) = 0 OR t <> btrim(t) OR length(t) > 128 THEN
			RAISE EXCEPTION 'invalid tag name "%"', coalesce(t, 'NULL')
				USING ERRCODE = 'invalid_parameter_value',
				      DETAIL = 'A tag name is 1 to 128 characters without leading or trailing spaces.';
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
	IF name IS NULL OR length(name) = 0 OR name <> btrim(name) OR length(name) > 128 THEN
		RAISE EXCEPTION 'invalid project name "%"', coalesce(name, 'NULL')
			USING ERRCODE = 'invalid_parameter_value',
			      DETAIL = 'A project name is 1 to 128 characters without leading or trailing spaces.';
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
	ON CONFLICT ON CONSTRAINT cv_projects_name_key DO NOTHING
	RETURNING p.id INTO v_id;
	IF v_id IS NULL THEN
		RAISE EXCEPTION 'project "%" already exists', cv_create_project.name USING ERRCODE = 'duplicate_object';
	END IF;
	RETURN v_id;
END;
$$;
COMMENT ON FUNCTION cv_create_project(text, text, text) IS 'create a project; task multiclass, multilabel or detection; returns its id';

CREATE FUNCTION cv_delete_project(name text) RETURNS void
LANGUAGE plpgsql SET search_path = @extschema@, pg_temp AS $$
BEGIN
	DELETE FROM cv_projects p WHERE p.id = (cv_project_row(cv_delete_project.name)).id;
END;
$$;
COMMENT ON FUNCTION cv_delete_project(text) IS 'delete a project with its tags, images and regions';

CREATE FUNCTION cv_create_tag(project text, name text, negative boolean DEFAULT false)
RETURNS bigint
LANGUAGE plpgsql SET search_path = @extschema@, pg_temp AS $$
DECLARE
	v_project cv_projects := cv_project_row(project);
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
	v_project cv_projects := cv_project_row(project);
BEGIN
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

CREATE FUNCTION cv_add_image(project text, image bytea, tags text[] DEFAULT '{}')
RETURNS bigint
LANGUAGE plpgsql SET search_path = @extschema@, pg_temp AS $$
DECLARE
	v_project cv_projects := cv_project_row(project);
	v_image cv_images;
	v_tags text[] := cv_check_tag_names(tags);
BEGIN
	IF image IS NULL THEN
		RAISE EXCEPTION 'image must not be null' USING ERRCODE = 'invalid_parameter_value';
	END IF;
	IF v_project.task = 'detection' AND cardinality(v_tags) > 0 THEN
		RAISE EXCEPTION 'images of detection project "%" are labelled with regions, not tags', project
			USING ERRCODE = 'wrong_object_type',
			      HINT = 'Add the image without tags, then draw boxes with cv_add_region.';
	END IF;
	INSERT INTO cv_images AS i (project_id, image)
	VALUES (v_project.id, image::cv_image)
	ON CONFLICT (project_id, sha256) DO NOTHING
	RETURNING * INTO v_image;
	IF v_image.id IS NULL THEN
		SELECT * INTO STRICT v_image FROM cv_images i
		 WHERE i.project_id = v_project.id AND i.sha256 = sha256(cv_add_image.image);
		RAISE NOTICE 'image already in project "%" as image %; nothing added', project, v_image.id
			USING HINT = 'Its tags are unchanged; cv_tag_image adds tags.';
		RETURN v_image.id;
	END IF;
	PERFORM cv_apply_tags(v_image, v_tags);
	RETURN v_image.id;
END;
$$;
COMMENT ON FUNCTION cv_add_image(text, bytea, text[]) IS 'add an image (JPEG, PNG, BMP) with tags to a project; returns its id, or the existing id when the same bytes are already there';

CREATE FUNCTION cv_delete_image(image_id bigint) RETURNS void
LANGUAGE plpgsql SET search_path = @extschema@, pg_temp AS $$
BEGIN
	DELETE FROM cv_images WHERE id = (cv_image_row(image_id)).id;
END;
$$;
COMMENT ON FUNCTION cv_delete_image(bigint) IS 'delete an image with its labels and regions';

CREATE FUNCTION cv_tag_image(image_id bigint, tags text[]) RETURNS void
LANGUAGE plpgsql SET search_path = @extschema@, pg_temp AS $$
BEGIN
	PERFORM cv_apply_tags(cv_image_row(image_id), tags);
END;
$$;
COMMENT ON FUNCTION cv_tag_image(bigint, text[]) IS 'add tags to an image, creating tags the project lacks';

CREATE FUNCTION cv_untag_image(image_id bigint, tags text[]) RETURNS void
LANGUAGE plpgsql SET search_path = @extschema@, pg_temp AS $$
DECLARE
	v_image cv_images := cv_image_row(image_id);
	v_name text;
BEGIN
	FOREACH v_name IN ARRAY cv_check_tag_names(tags) LOOP
		DELETE FROM cv_image_tags it USING cv_tags t
		 WHERE it.image_id = v_image.id AND it.tag_id = t.id AND t.name = v_name;
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
	v_image cv_images := cv_image_row(image_id);
BEGIN
	DELETE FROM cv_image_tags it WHERE it.image_id = v_image.id;
	PERFORM cv_apply_tags(v_image, tags);
END;
$$;
COMMENT ON FUNCTION cv_retag_image(bigint, text[]) IS 'replace all tags of an image';

------------------------------------------------------------------------------
-- Regions (object detection)
------------------------------------------------------------------------------

CREATE FUNCTION cv_add_region(image_id bigint, tag text, "left" float8, top float8, width float8, height float8)
RETURNS bigint
LANGUAGE plpgsql SET search_path = @extschema@, pg_temp AS $$
DECLARE
	v_image cv_images := cv_image_row(image_id);
	v_tag_id bigint;
	v_id bigint;
BEGIN
	IF "left" IS NULL OR top IS NULL OR width IS NULL OR height IS NULL
	   OR "left" = 'NaN' OR top = 'NaN' OR width = 'NaN' OR height = 'NaN' THEN
		RAISE EXCEPTION 'region coordinates must be numbers'
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	IF NOT ("left" >= 0 AND top >= 0 AND width > 0 AND height > 0
	        AND "left" + width <= 1 + 1e-9 AND top + height <= 1 + 1e-9) THEN
		RAISE EXCEPTION 'region (left %, top %, width %, height %) does not lie inside the image', "left", top, width, height
			USING ERRCODE = 'invalid_parameter_value',
			      DETAIL = 'Coordinates are fractions of the upright image: left and top at least 0, width and height above 0, left + width and top + height at most 1.';
	END IF;
	SELECT t.id INTO v_tag_id FROM cv_tags t WHERE t.project_id = v_image.project_id AND t.name = tag;
	IF v_tag_id IS NULL THEN
		RAISE EXCEPTION 'tag "%" does not exist in project "%"', coalesce(tag, 'NULL'),
			(SELECT p.name FROM cv_projects p WHERE p.id = v_image.project_id)
			USING ERRCODE = 'undefined_object',
			      HINT = 'cv_create_tag makes a tag.';
	END IF;
	INSERT INTO cv_regions AS r (image_id, tag_id, project_id, "left", top, width, height)
	VALUES (v_image.id, v_tag_id, v_image.project_id, "left", top, width, height)
	RETURNING r.id INTO v_id;
	RETURN v_id;
END;
$$;
COMMENT ON FUNCTION cv_add_region(bigint, text, float8, float8, float8, float8) IS 'draw a tagged box on an image of a detection project (normalized left, top, width, height); returns its id';

CREATE FUNCTION cv_delete_region(region_id bigint) RETURNS void
LANGUAGE plpgsql SET search_path = @extschema@, pg_temp AS $$
BEGIN
	DELETE FROM cv_regions WHERE id = region_id;
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

CREATE VIEW cv_untagged_images AS
SELECT p.name AS project, i.id AS image_id, i.width, i.height, i.format, i.created_at
  FROM cv_images i JOIN cv_projects p ON p.id = i.project_id
 WHERE NOT EXISTS (SELECT 1 FROM cv_image_tags it WHERE it.image_id = i.id)
   AND NOT EXISTS (SELECT 1 FROM cv_regions r WHERE r.image_id = i.id);
COMMENT ON VIEW cv_untagged_images IS 'images with neither a tag nor a region';
