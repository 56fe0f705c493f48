-- Bad input across the SQL surface, part 1: projects, tags, images, labels,
-- regions, sharing, the cv_image and cv_model types, pictures and
-- embeddings (bad_input_training.sql: training, iterations, prediction,
-- detection, export and backbones).  Every argument is tried NULL, empty,
-- out of range, of the wrong kind (a detection project for a
-- classification call and back), missing (ids that do not exist, negative,
-- the largest bigint), NaN and infinite where numbers are taken.  Each
-- error shows its SQLSTATE (expect_error).
--
-- Nothing half-written: pg_temp.refused(query) runs a call that must fail
-- and compares a fingerprint of every pgvision row (projects, tags, images,
-- labels, regions, iterations, shares: counts and content) before and
-- after.  A statement that fails is undone whole by PostgreSQL, so for
-- those the comparison guards the functions' own error handling (a handler
-- that swallowed an error after writing would show); the calls that must
-- succeed without writing (the same bytes again, whose NOTICE says nothing
-- was added; '{}' tags) are compared the same way with
-- pg_temp.unchanged(query), and there a write would show.
--
-- STRICT functions return NULL (no rows) for a NULL argument, as SQL
-- functions of a column do; that is intended where a NULL image or model
-- is simply "no picture" (cv_width, cv_model_info, cv_predict, cv_detect,
-- cv_embed, cv_input_pixels, cv_backbone_inspect).  A NULL that would hide
-- a mistake (a NULL image in cv_add_image, NULL tags in cv_tag_image) is
-- an error.
\getenv testdata PGVISION_TESTDATA
\getenv shared PGVISION_SHARED
\set helpers :testdata '/../psql/setup.psql'
\i :helpers
\set images :testdata '/images/'
\set models :shared '/models/'

\set bad_input :testdata '/../psql/bad_input.psql'
\i :bad_input

CREATE TEMP TABLE pic AS
SELECT pg_read_binary_file(:'images' || 'tiny.jpg') AS jpg, pg_read_binary_file(:'images' || 'tiny.png') AS png,
       pg_read_binary_file(:'images' || 'tiny24.bmp') AS bmp, pg_read_binary_file(:'images' || 'random.bin') AS garbage,
       pg_read_binary_file(:'images' || 'truncated.jpg') AS truncated;

-- A multiclass and a multilabel project on the compact domain, and a
-- detection project on the smallest imported backbone.
SELECT cv_import_backbone('bad_input_v1', pg_read_binary_file(:'models' || 'mobilenet_v1_0.25_128_quant.tflite'));
SELECT cv_create_project('bi_cls') AS cls, cv_create_project('bi_labels', 'multilabel') AS labels,
       cv_create_project('bi_det', 'detection', 'bad_input_v1') AS det;
SELECT cv_create_tag('bi_cls', 'none', negative => true) AS none_tag;
SELECT cv_add_image('bi_cls', jpg, '{cat}') AS cls_img FROM pic \gset
SELECT cv_add_image('bi_labels', jpg, '{a,b}') AS labels_img FROM pic \gset
SELECT cv_add_image('bi_det', jpg, regions => '[{"tag": "box", "left": 0.1, "top": 0.1, "width": 0.5, "height": 0.5}]') AS det_img FROM pic \gset
SELECT id AS det_region FROM cv_regions WHERE image_id = :det_img \gset
SELECT cv_create_tag('bi_labels', 'nothing', negative => true) AS nothing_tag;
-- The ids, for the queries below (psql does not expand :names in quotes).
CREATE TEMP TABLE ids AS SELECT :cls_img AS cls_img, :labels_img AS labels_img, :det_img AS det_img, :det_region AS det_region,
	NULL::bigint AS shared_img, NULL::bigint AS shared_det_img, NULL::bigint AS shared_region;
GRANT SELECT ON pic, ids TO PUBLIC;
SELECT pg_temp.fingerprint() AS start \gset
SELECT pg_temp.counts() AS start;

-- cv_create_project(name, task, domain)
SELECT q, pg_temp.refused(q) FROM (VALUES
	($$SELECT cv_create_project(NULL)$$),
	($$SELECT cv_create_project('')$$),
	($$SELECT cv_create_project(' bi')$$),
	($$SELECT cv_create_project(E'bi\n')$$),
	($$SELECT cv_create_project(repeat('p', 129))$$),
	($$SELECT cv_create_project('bi_cls')$$),
	($$SELECT cv_create_project('bi_x', NULL)$$),
	($$SELECT cv_create_project('bi_x', '')$$),
	($$SELECT cv_create_project('bi_x', 'Multiclass')$$),
	($$SELECT cv_create_project('bi_x', 'multiclass', NULL)$$),
	($$SELECT cv_create_project('bi_x', 'multiclass', '')$$),
	($$SELECT cv_create_project('bi_x', 'multiclass', 'nosuch')$$),
	($$SELECT cv_create_project('bi_x', 'detection', 'compact')$$)) v(q);

-- cv_delete_project(name): only by name, never a near miss.
SELECT q, pg_temp.refused(q) FROM (VALUES
	($$SELECT cv_delete_project(NULL)$$),
	($$SELECT cv_delete_project('')$$),
	($$SELECT cv_delete_project('bi_cls ')$$),
	($$SELECT cv_delete_project('BI_CLS')$$)) v(q);

-- cv_create_tag(project, name, negative), cv_delete_tag(project, name)
SELECT q, pg_temp.refused(q) FROM (VALUES
	($$SELECT cv_create_tag(NULL, 'x')$$),
	($$SELECT cv_create_tag('', 'x')$$),
	($$SELECT cv_create_tag('nosuch', 'x')$$),
	($$SELECT cv_create_tag('bi_cls', NULL)$$),
	($$SELECT cv_create_tag('bi_cls', '')$$),
	($$SELECT cv_create_tag('bi_cls', 'tab' || chr(9) || 'bed')$$),
	($$SELECT cv_create_tag('bi_cls', repeat('t', 129))$$),
	($$SELECT cv_create_tag('bi_cls', 'cat')$$),
	($$SELECT cv_create_tag('bi_cls', 'x', NULL)$$),
	($$SELECT cv_create_tag('bi_cls', 'none2', true)$$),
	($$SELECT cv_create_tag('bi_det', 'background', true)$$),
	($$SELECT cv_delete_tag(NULL, 'cat')$$),
	($$SELECT cv_delete_tag('nosuch', 'cat')$$),
	($$SELECT cv_delete_tag('bi_cls', NULL)$$),
	($$SELECT cv_delete_tag('bi_cls', '')$$),
	($$SELECT cv_delete_tag('bi_cls', 'dog')$$),
	-- a tag of another project is not this project's
	($$SELECT cv_delete_tag('bi_cls', 'box')$$)) v(q);

-- cv_add_image(project, image, tags, regions): the image bytes.
SELECT q, pg_temp.refused(q) FROM (VALUES
	($$SELECT cv_add_image(NULL, (SELECT png FROM pic))$$),
	($$SELECT cv_add_image('nosuch', (SELECT png FROM pic))$$),
	($$SELECT cv_add_image('bi_cls', NULL)$$),
	($$SELECT cv_add_image('bi_cls', ''::bytea)$$),
	($$SELECT cv_add_image('bi_cls', (SELECT garbage FROM pic))$$),
	($$SELECT cv_add_image('bi_cls', (SELECT truncated FROM pic))$$),
	($$SELECT cv_add_image('bi_cls', substring((SELECT png FROM pic) FROM 1 FOR 8))$$)) v(q);
-- The tags: NULL elements, empty, padded, too many for multiclass, the
-- negative tag with another, tags on a detection image.
SELECT q, pg_temp.refused(q) FROM (VALUES
	($$SELECT cv_add_image('bi_cls', (SELECT png FROM pic), '{NULL}')$$),
	($$SELECT cv_add_image('bi_cls', (SELECT png FROM pic), '{""}')$$),
	($$SELECT cv_add_image('bi_cls', (SELECT png FROM pic), '{" cat"}')$$),
	($$SELECT cv_add_image('bi_cls', (SELECT png FROM pic), '{cat,dog}')$$),
	($$SELECT cv_add_image('bi_cls', (SELECT png FROM pic), '{{cat},{dog}}')$$),
	($$SELECT cv_add_image('bi_labels', (SELECT png FROM pic), '{a,NULL}')$$),
	($$SELECT cv_add_image('bi_labels', (SELECT png FROM pic), '{a,nothing}')$$),
	($$SELECT cv_add_image('bi_det', (SELECT png FROM pic), '{box}')$$)) v(q);
-- The regions: not an array, elements of the wrong kind, missing, unknown
-- or mistyped keys, boxes outside the image or of no size, JSON numbers
-- too large for float8 (JSON has no NaN or Infinity), regions on a
-- classification image; the third region bad after two good ones.
SELECT r, pg_temp.refused(format('SELECT cv_add_image(%L, (SELECT png FROM pic), regions => %L)', 'bi_det', r)) FROM (VALUES
	('{}'), ('"box"'), ('null'), ('[null]'), ('[[]]'), ('[{}]'),
	('[{"tag": "box", "left": 0, "top": 0, "width": 0.5}]'),
	('[{"tag": "box", "left": 0, "top": 0, "width": 0.5, "height": 0.5, "colour": "red"}]'),
	('[{"tag": null, "left": 0, "top": 0, "width": 0.5, "height": 0.5}]'),
	('[{"tag": "", "left": 0, "top": 0, "width": 0.5, "height": 0.5}]'),
	('[{"tag": 7, "left": 0, "top": 0, "width": 0.5, "height": 0.5}]'),
	('[{"tag": "box", "left": "0", "top": 0, "width": 0.5, "height": 0.5}]'),
	('[{"tag": "box", "left": "NaN", "top": 0, "width": 0.5, "height": 0.5}]'),
	('[{"tag": "box", "left": null, "top": 0, "width": 0.5, "height": 0.5}]'),
	('[{"tag": "box", "left": 0, "top": 0, "width": 0, "height": 0.5}]'),
	('[{"tag": "box", "left": 0, "top": 0, "width": -0.5, "height": 0.5}]'),
	('[{"tag": "box", "left": -0.1, "top": 0, "width": 0.5, "height": 0.5}]'),
	('[{"tag": "box", "left": 0.6, "top": 0, "width": 0.5, "height": 0.5}]'),
	('[{"tag": "box", "left": 0, "top": 0, "width": 1e400, "height": 0.5}]'),
	('[{"tag": "box", "left": 0, "top": 0, "width": 1e-400, "height": 0.5}]'),
	('[{"tag": "box", "left": 0, "top": 0, "width": 0.5, "height": 0.5},
	  {"tag": "new", "left": 0, "top": 0, "width": 0.5, "height": 0.5},
	  {"tag": "box", "left": 0, "top": 0, "width": 0.5, "height": 1.5}]')) v(r);
SELECT pg_temp.refused($$SELECT cv_add_image('bi_cls', (SELECT png FROM pic),
	regions => '[{"tag": "cat", "left": 0, "top": 0, "width": 0.5, "height": 0.5}]')$$);
SELECT pg_temp.refused($$SELECT cv_add_image('bi_det', (SELECT png FROM pic), regions => 'not json')$$);
-- The same bytes again add nothing, not even the new tags or regions given
-- with them (a NOTICE says so).
SELECT pg_temp.unchanged($$SELECT cv_add_image('bi_cls', (SELECT jpg FROM pic), '{dog}') = $$ || (SELECT cls_img FROM ids));
SELECT pg_temp.unchanged($$SELECT cv_add_image('bi_det', (SELECT jpg FROM pic),
	regions => '[{"tag": "other", "left": 0, "top": 0, "width": 0.2, "height": 0.2}]') = $$ || (SELECT det_img FROM ids));

-- cv_delete_image, cv_tag_image, cv_untag_image, cv_retag_image: ids that
-- do not exist, NULL tags (a NULL would silently do nothing, or remove
-- every tag in cv_retag_image: an error since this issue), tags on a
-- detection image.
SELECT q, pg_temp.refused(q) FROM (VALUES
	($$SELECT cv_delete_image(NULL)$$),
	($$SELECT cv_delete_image(-1)$$),
	($$SELECT cv_delete_image(0)$$),
	($$SELECT cv_delete_image(9223372036854775807)$$),
	($$SELECT cv_tag_image(NULL, '{cat}')$$),
	($$SELECT cv_tag_image(-1, '{cat}')$$),
	($$SELECT cv_tag_image((SELECT cls_img FROM ids), NULL)$$),
	($$SELECT cv_tag_image((SELECT cls_img FROM ids), '{NULL}')$$),
	($$SELECT cv_tag_image((SELECT cls_img FROM ids), '{""}')$$),
	($$SELECT cv_tag_image((SELECT cls_img FROM ids), '{dog}')$$),
	($$SELECT cv_tag_image((SELECT cls_img FROM ids), '{none}')$$),
	($$SELECT cv_tag_image((SELECT det_img FROM ids), '{box}')$$),
	($$SELECT cv_untag_image(NULL, '{cat}')$$),
	($$SELECT cv_untag_image(9223372036854775807, '{cat}')$$),
	($$SELECT cv_untag_image((SELECT cls_img FROM ids), NULL)$$),
	($$SELECT cv_untag_image((SELECT cls_img FROM ids), '{NULL}')$$),
	($$SELECT cv_untag_image((SELECT cls_img FROM ids), '{dog}')$$),
	($$SELECT cv_untag_image((SELECT cls_img FROM ids), '{cat,dog}')$$),
	($$SELECT cv_retag_image(NULL, '{cat}')$$),
	($$SELECT cv_retag_image(-1, '{cat}')$$),
	($$SELECT cv_retag_image((SELECT cls_img FROM ids), NULL)$$),
	($$SELECT cv_retag_image((SELECT cls_img FROM ids), '{cat,dog}')$$),
	($$SELECT cv_retag_image((SELECT cls_img FROM ids), '{""}')$$),
	($$SELECT cv_retag_image((SELECT det_img FROM ids), '{box}')$$)) v(q);
-- '{}' is "no tags" on purpose: tagging or untagging nothing changes nothing.
SELECT pg_temp.unchanged(format('SELECT cv_tag_image(%s, %L)::text', :cls_img, '{}'));
SELECT pg_temp.unchanged(format('SELECT cv_untag_image(%s, %L)::text', :cls_img, '{}'));

-- cv_add_region(image, tag, left, top, width, height), cv_delete_region:
-- every coordinate NULL, NaN, Infinity, -Infinity, out of the unit square;
-- regions on a classification image; the largest and a negative id.
SELECT k.name, v.v, pg_temp.refused(format('SELECT cv_add_region(%s, %L, %s, %s, %s, %s)', :det_img, 'box',
       CASE k.n WHEN 1 THEN v.v ELSE '0.1' END, CASE k.n WHEN 2 THEN v.v ELSE '0.1' END,
       CASE k.n WHEN 3 THEN v.v ELSE '0.2' END, CASE k.n WHEN 4 THEN v.v ELSE '0.2' END))
  FROM (VALUES (1, 'left'), (2, 'top'), (3, 'width'), (4, 'height')) k(n, name),
       (VALUES ('NULL'), ($$'NaN'$$), ($$'Infinity'$$), ($$'-Infinity'$$), ('-0.1'), ('0.95'), ('1e308'), ('0')) v(v)
 WHERE v.v <> '0' OR k.n > 2
 ORDER BY k.n, v.v;
SELECT q, pg_temp.refused(q) FROM (VALUES
	($$SELECT cv_add_region(NULL, 'box', 0.1, 0.1, 0.2, 0.2)$$),
	($$SELECT cv_add_region(-1, 'box', 0.1, 0.1, 0.2, 0.2)$$),
	($$SELECT cv_add_region(9223372036854775807, 'box', 0.1, 0.1, 0.2, 0.2)$$),
	($$SELECT cv_add_region((SELECT det_img FROM ids), NULL, 0.1, 0.1, 0.2, 0.2)$$),
	($$SELECT cv_add_region((SELECT det_img FROM ids), '', 0.1, 0.1, 0.2, 0.2)$$),
	($$SELECT cv_add_region((SELECT cls_img FROM ids), 'cat', 0.1, 0.1, 0.2, 0.2)$$),
	($$SELECT cv_delete_region(NULL)$$),
	($$SELECT cv_delete_region(-1)$$),
	($$SELECT cv_delete_region(9223372036854775807)$$)) v(q);
-- Writers that bypass the functions meet the same rules: the table's CHECK
-- refuses NaN and infinite boxes.
SELECT v, pg_temp.refused(format('INSERT INTO cv_regions (image_id, tag_id, project_id, "left", top, width, height)
	SELECT image_id, tag_id, project_id, %1$s, 0.1, 0.2, 0.2 FROM cv_regions WHERE id = %2$s', v, :det_region))
  FROM unnest(ARRAY[$$'NaN'$$, $$'Infinity'$$, $$'-Infinity'$$]) v;
SELECT v, pg_temp.refused(format('UPDATE cv_regions SET width = %s WHERE id = %s', v, :det_region))
  FROM unnest(ARRAY[$$'NaN'$$, $$'Infinity'$$, '0', '-0.2']) v;

-- Nothing written by anything above: the rows are those made at the start.
SELECT pg_temp.fingerprint() = :'start' AS unchanged_since_start;

-- cv_share_project(project, role, access), cv_unshare_project(project,
-- role), on a project of a role of its own (so that no message names the
-- superuser running the test); a reader changes nothing; a role without
-- pgvision_user is told what it lacks (docs/security.md;
-- test/t/007_roles.pl tries every function as owner, reader and stranger).
CREATE ROLE regress_bad_input_owner;
CREATE ROLE regress_bad_input_reader;
GRANT pgvision_user TO regress_bad_input_owner, regress_bad_input_reader;
CREATE ROLE regress_bad_input_nobody;
SET ROLE regress_bad_input_owner;
SELECT cv_create_project('bi_shared') AS shared_project;
SELECT cv_add_image('bi_shared', jpg, '{cat}') AS shared_img FROM pic \gset
-- and a detection project with a box, for the region functions (they read
-- the project row into a variable: docs/scale-out.md, section 5)
SELECT cv_create_project('bi_shared_det', 'detection', 'bad_input_v1') AS shared_det_project;
SELECT cv_add_image('bi_shared_det', jpg, regions => '[{"tag": "box", "left": 0.1, "top": 0.1, "width": 0.5, "height": 0.5}]') AS shared_det_img FROM pic \gset
SELECT id AS shared_region FROM cv_regions WHERE image_id = :shared_det_img \gset
RESET ROLE;
UPDATE ids SET shared_img = :shared_img, shared_det_img = :shared_det_img, shared_region = :shared_region;
SET ROLE regress_bad_input_owner;

SELECT q, pg_temp.refused(q) FROM (VALUES
	($$SELECT cv_share_project(NULL, 'regress_bad_input_reader')$$),
	($$SELECT cv_share_project('nosuch', 'regress_bad_input_reader')$$),
	-- another role's project does not exist for it
	($$SELECT cv_share_project('bi_cls', 'regress_bad_input_reader')$$),
	($$SELECT cv_share_project('bi_shared', NULL)$$),
	($$SELECT cv_share_project('bi_shared', 0::oid::regrole)$$),
	($$SELECT cv_share_project('bi_shared', 'regress_bad_input_nosuch')$$),
	-- a role by a number that no role has: stored as a share of nobody before this issue
	($$SELECT cv_share_project('bi_shared', '4294967295'::regrole)$$),
	($$SELECT cv_share_project('bi_shared', 'regress_bad_input_owner')$$),
	($$SELECT cv_share_project('bi_shared', 'regress_bad_input_reader', NULL)$$),
	($$SELECT cv_share_project('bi_shared', 'regress_bad_input_reader', '')$$),
	($$SELECT cv_share_project('bi_shared', 'regress_bad_input_reader', 'owner')$$),
	($$SELECT cv_unshare_project(NULL, 'regress_bad_input_reader')$$),
	($$SELECT cv_unshare_project('bi_shared', NULL)$$),
	($$SELECT cv_unshare_project('bi_shared', 'regress_bad_input_reader')$$)) v(q);
SELECT cv_share_project('bi_shared', 'regress_bad_input_reader');
SELECT cv_share_project('bi_shared_det', 'regress_bad_input_reader');
SET ROLE regress_bad_input_reader;
SELECT pg_temp.counts() AS reader_sees;
SELECT q, pg_temp.refused(q) FROM (VALUES
	($$SELECT cv_add_image('bi_shared', (SELECT png FROM pic), '{cat}')$$),
	($$SELECT cv_create_tag('bi_shared', 'dog')$$),
	($$SELECT cv_delete_tag('bi_shared', 'cat')$$),
	($$SELECT cv_tag_image((SELECT shared_img FROM ids), '{cat}')$$),
	($$SELECT cv_retag_image((SELECT shared_img FROM ids), '{}')$$),
	($$SELECT cv_untag_image((SELECT shared_img FROM ids), '{cat}')$$),
	($$SELECT cv_delete_image((SELECT shared_img FROM ids))$$),
	($$SELECT cv_add_region((SELECT shared_det_img FROM ids), 'box', 0.1, 0.1, 0.2, 0.2)$$),
	($$SELECT cv_delete_region((SELECT shared_region FROM ids))$$),
	($$SELECT cv_delete_project('bi_shared')$$),
	($$SELECT cv_share_project('bi_shared', 'regress_bad_input_nobody')$$),
	($$SELECT cv_train('bi_shared')$$),
	-- the superuser's projects are not shared with it: they do not exist
	($$SELECT cv_add_image('bi_det', (SELECT png FROM pic))$$),
	($$SELECT cv_add_region((SELECT det_img FROM ids), 'box', 0.1, 0.1, 0.2, 0.2)$$),
	($$SELECT cv_delete_region((SELECT det_region FROM ids))$$)) v(q);
SET ROLE regress_bad_input_nobody;
SELECT pg_temp.expect_error($$SELECT cv_create_project('bi_nobody')$$);
RESET ROLE;

-- The cv_image type and its functions: empty, garbage and cut bytes on
-- every way in; STRICT accessors give NULL for NULL.
SELECT q, pg_temp.expect_error(q) FROM (VALUES
	($$SELECT ''::bytea::cv_image$$),
	($$SELECT ''::cv_image$$),
	($$SELECT 'not hex'::cv_image$$),
	($$SELECT '\xzz'::cv_image$$),
	($$SELECT (SELECT garbage FROM pic)::cv_image$$),
	($$SELECT (SELECT truncated FROM pic)::cv_image$$)) v(q);
SELECT cv_width(NULL) IS NULL AS w, cv_height(NULL) IS NULL AS h, cv_format(NULL) IS NULL AS f,
       cv_orientation(NULL) IS NULL AS o, cv_image(NULL::bytea) IS NULL AS cast_in, bytea(NULL::cv_image) IS NULL AS cast_out;
-- The cv_model type: every bad byte string is data_corrupted (the docs'
-- choice for cv_model bytes, whoever gives them).
SELECT q, pg_temp.expect_error(q) FROM (VALUES
	($$SELECT ''::bytea::cv_model$$),
	($$SELECT '\x00'::cv_model$$),
	($$SELECT (SELECT jpg FROM pic)::cv_model$$),
	($$SELECT cv_model_info((SELECT garbage FROM pic)::cv_model)$$)) v(q);
SELECT cv_model_info(NULL) IS NULL AS info_of_null;

-- cv_draw(image, regions): empty or bad image bytes, regions of the wrong
-- shape; NaN and infinite boxes reach the drawing only through
-- cv_draw_boxes_png, which refuses them.
SELECT q, pg_temp.expect_error(q) FROM (VALUES
	($$SELECT cv_draw(''::bytea)$$),
	($$SELECT cv_draw((SELECT garbage FROM pic))$$),
	($$SELECT cv_draw((SELECT png FROM pic), '{}')$$),
	($$SELECT cv_draw((SELECT png FROM pic), '[null]')$$),
	($$SELECT cv_draw((SELECT png FROM pic), '[{"left": 0, "top": 0, "width": 0.5}]')$$),
	($$SELECT cv_draw((SELECT png FROM pic), '[{"left": 0, "top": 0, "width": -1, "height": 0.5}]')$$),
	($$SELECT cv_draw((SELECT png FROM pic), '[{"left": 0, "top": 0, "width": 0.5, "height": 0.5, "probability": -0.5}]')$$),
	($$SELECT cv_draw((SELECT png FROM pic), '[{"left": 0, "top": 0, "width": 0.5, "height": 0.5, "tag_id": -1}]')$$),
	($$SELECT cv_draw((SELECT png FROM pic), '[{"left": 0, "top": 0, "width": 0.5, "height": 0.5, "tag_id": 9223372036854775807}]')$$),
	($$SELECT cv_draw_boxes_png((SELECT png FROM pic), '{a}', '{0.5}', '{NaN}', '{0}', '{0.5}', '{0.5}')$$),
	($$SELECT cv_draw_boxes_png((SELECT png FROM pic), '{a}', '{0.5}', '{0}', '{Infinity}', '{0.5}', '{0.5}')$$),
	($$SELECT cv_draw_boxes_png((SELECT png FROM pic), '{a}', '{0.5}', '{0}', '{0}', '{-Infinity}', '{0.5}')$$),
	($$SELECT cv_draw_boxes_png((SELECT png FROM pic), '{a}', '{NaN}', '{0}', '{0}', '{0.5}', '{0.5}')$$),
	($$SELECT cv_draw_boxes_png((SELECT png FROM pic), '{a}', '{Infinity}', '{0}', '{0}', '{0.5}', '{0.5}')$$),
	($$SELECT cv_draw_boxes_png((SELECT png FROM pic), '{a,b}', '{0.5}', '{0}', '{0}', '{0.5}', '{0.5}')$$),
	($$SELECT cv_draw_boxes_png((SELECT png FROM pic), '{a}', '{0.5}', '{{0}}', '{0}', '{0.5}', '{0.5}')$$)) v(q);
SELECT cv_draw(NULL::bytea) IS NULL AS draw_of_null;

-- cv_embed(domain, image): the domain name, then the image.
SELECT q, pg_temp.expect_error(q) FROM (VALUES
	($$SELECT cv_embed('', (SELECT png FROM pic))$$),
	($$SELECT cv_embed('nosuch', (SELECT png FROM pic))$$),
	($$SELECT cv_embed('compact', ''::bytea)$$),
	($$SELECT cv_embed('compact', (SELECT garbage FROM pic))$$),
	($$SELECT cv_embed('compact', (SELECT truncated FROM pic))$$)) v(q);
SELECT cv_embed(NULL, (SELECT png FROM pic)) IS NULL AS embed_null_domain, cv_embed('compact', NULL::bytea) IS NULL AS embed_null_image;

-- The backend survived every error.
SELECT pg_temp.counts() AS at_end;

-- Leave the database as we found it.
SELECT count(cv_delete_project(name)) AS projects_deleted FROM cv_projects WHERE name LIKE 'bi\_%';
SELECT cv_drop_backbone('bad_input_v1');
DROP ROLE regress_bad_input_owner, regress_bad_input_reader, regress_bad_input_nobody;
