-- Imported backbones: the published reference results through SQL, a
-- project trained on a backbone's features, storage once per file, and
-- every error of the surface, truncated and damaged files included.
\getenv testdata PGVISION_TESTDATA
\getenv shared PGVISION_SHARED
\set helpers :testdata '/../psql/setup.psql'
\i :helpers
\set models :shared '/models/'
\set cat :shared '/images/cat.bmp'
\set trees :shared '/datasets/azure-trees-cls/'

CREATE TEMP TABLE labels AS
SELECT string_to_array(pg_read_file(:'models' || 'imagenet_labels.txt'), E'\n') AS l;
SELECT cv_import_backbone('mobilenet_v2', pg_read_binary_file(:'models' || 'mobilenet_v2_1.0_224_quant.tflite'),
                          labels => (SELECT l FROM labels));
SELECT cv_import_backbone('mobilenet_v1', pg_read_binary_file(:'models' || 'mobilenet_v1_0.25_128_quant.tflite'),
                          labels => (SELECT l FROM labels));
-- Labels must match the outputs (an empty last line is forgiven).
SELECT pg_temp.expect_error(format('SELECT cv_import_backbone(%L, %L::bytea, %L)', 'tf2_mobilenet_v2',
       pg_read_binary_file(:'models' || 'tf2_mobilenet_v2_1.0_224_ptq.tflite'), '{a,b}'));
SELECT cv_import_backbone('tf2_mobilenet_v2', pg_read_binary_file(:'models' || 'tf2_mobilenet_v2_1.0_224_ptq.tflite'));
-- MobileNet-EdgeTPU: a classifier whose file stores no shape for most
-- activations (SOURCE.md).  SSD MobileNet V1: a detector ending with the
-- custom TFLite_Detection_PostProcess, imported up to its feature maps, for
-- detection only; its COCO labels name outputs that are not run.
SELECT cv_import_backbone('mobilenet_edgetpu', pg_read_binary_file(:'models' || 'mobilenet_edgetpu_224_1.0_uint8.tflite'),
                          labels => (SELECT l FROM labels));
SELECT pg_temp.expect_error(format('SELECT cv_import_backbone(%L, %L::bytea, %L)', 'ssd_mobilenet_v1',
       pg_read_binary_file(:'models' || 'ssd_mobilenet_v1_coco_uint8.tflite'),
       string_to_array(pg_read_file(:'models' || 'coco_labels.txt'), E'\n')));
SELECT cv_import_backbone('ssd_mobilenet_v1', pg_read_binary_file(:'models' || 'ssd_mobilenet_v1_coco_uint8.tflite'));
SELECT name, kind, input_width, input_height, feature_dim, classification, detection FROM cv_domains ORDER BY name;
SELECT description FROM cv_domains WHERE name = 'ssd_mobilenet_v1';
SELECT domain, length(sha256) AS hash_bytes, cardinality(labels) AS labels, num_outputs, feature_tensor,
       weight_bytes > 0 AS has_weights, round(macs / 1e6) AS mega_macs, cut_reason
  FROM cv_backbones ORDER BY domain;
-- The maps a detector reads (detect_backbone.h: the last stride-16 and
-- stride-32 activations with at most 1024 channels), pinned here so that a
-- change of that rule shows.  On the SSD the rule finds two maps, but they
-- are its own box predictor's outputs, not the MobileNet maps those read
-- (19x19x384 and 10x10x768): docs/backbones.md.
SELECT f AS file, classification, detection, detection_maps
  FROM unnest(ARRAY['mobilenet_edgetpu_224_1.0_uint8.tflite', 'ssd_mobilenet_v1_coco_uint8.tflite']) AS f,
       cv_backbone_inspect(pg_read_binary_file(:'models' || f)) ORDER BY f;
-- Preprocessing comes from the file's input tensor.
SELECT input_scale, input_zero_point FROM cv_backbone_inspect(pg_read_binary_file(:'models' || 'tf2_mobilenet_v2_1.0_224_ptq.tflite'));

-- The published results (../shared/models/SOURCE.md): cat.bmp is an
-- Egyptian cat for MobileNet V2 (score >= 0.80) and a tiger cat for
-- MobileNet V1 0.25 (about 0.29 with float activations).
SELECT label_index, label, score > 0.80 AS above_reference FROM cv_backbone_classify('mobilenet_v2', pg_read_binary_file(:'cat'), k => 1);
SELECT label_index, label, score BETWEEN 0.25 AND 0.40 AS near_reference FROM cv_backbone_classify('mobilenet_v1', pg_read_binary_file(:'cat'), k => 1);
SELECT label_index, label FROM cv_backbone_classify('tf2_mobilenet_v2', pg_read_binary_file(:'cat'), k => 1);
-- MobileNet-EdgeTPU: Egyptian cat, about 0.57 with float activations (SOURCE.md).
SELECT label_index, label, score BETWEEN 0.45 AND 0.70 AS near_reference
  FROM cv_backbone_classify('mobilenet_edgetpu', pg_read_binary_file(:'cat'), k => 1);
-- The SSD runs only up to its feature maps: it has no class scores.
SELECT pg_temp.expect_error(format('SELECT * FROM cv_backbone_classify(%L, pg_read_binary_file(%L))', 'ssd_mobilenet_v1', :'cat'));
SELECT pg_temp.expect_error($$SELECT * FROM cv_domain_shape('ssd_mobilenet_v1')$$);
SELECT count(*) AS rows, bool_and(score >= 0 AND score <= 1) AS scores_ok
  FROM cv_backbone_classify('mobilenet_v2', pg_read_binary_file(:'cat'), k => 2000);
SELECT array_agg(label_index ORDER BY score DESC) AS top3
  FROM cv_backbone_classify('mobilenet_v2', pg_read_binary_file(:'cat'), 3);

-- Bad files and arguments.
SELECT pg_temp.expect_error(format('SELECT cv_import_backbone(%L, %L::bytea)', 'v2_again',
       pg_read_binary_file(:'models' || 'mobilenet_v2_1.0_224_quant.tflite')));
SELECT pg_temp.expect_error($$SELECT cv_import_backbone('mobilenet_v2', '\x00'::bytea)$$);
SELECT pg_temp.expect_error($$SELECT cv_import_backbone('Bad Name', '\x00'::bytea)$$);
SELECT pg_temp.expect_error($$SELECT cv_import_backbone('compact', '\x00'::bytea)$$);
SELECT pg_temp.expect_error($$SELECT cv_import_backbone('x', NULL)$$);
SELECT pg_temp.expect_error($$SELECT cv_import_backbone('x', 'not a model'::bytea)$$);
SELECT pg_temp.expect_error(format('SELECT cv_import_backbone(%L, %L::bytea)', 'truncated',
       substring(pg_read_binary_file(:'models' || 'mobilenet_v1_0.25_128_quant.tflite') FROM 1 FOR 100000)));
-- A file cut at many lengths or with flipped bytes: an error or a network
-- that loads, never a crash (the backend must answer afterwards).
SELECT count(*) AS cuts, count(*) FILTER (WHERE e LIKE '22P03:%' OR e LIKE '0A000:%' OR e LIKE '54000:%') AS rejected
  FROM (SELECT pg_temp.expect_error(format('SELECT * FROM cv_backbone_inspect(%L::bytea)', substring(f FROM 1 FOR n))) AS e
          FROM (SELECT pg_read_binary_file(:'models' || 'mobilenet_v1_0.25_128_quant.tflite') AS f) s,
               generate_series(1, 400000, 13331) AS n) c;
SELECT count(*) AS flips
  FROM (SELECT pg_temp.expect_error(format('SELECT * FROM cv_backbone_inspect(%L::bytea)',
                                           set_byte(f, n, (get_byte(f, n) + 97) % 256)))
          FROM (SELECT pg_read_binary_file(:'models' || 'mobilenet_v1_0.25_128_quant.tflite') AS f) s,
               generate_series(0, 2000, 83) AS n) c;
SELECT 1 AS still_alive;
SELECT pg_temp.expect_error(format('SELECT * FROM cv_backbone_classify(%L, pg_read_binary_file(%L))', 'nosuch', :'cat'));
SELECT pg_temp.expect_error(format('SELECT * FROM cv_backbone_classify(%L, pg_read_binary_file(%L))', 'compact', :'cat'));
SELECT pg_temp.expect_error(format('SELECT * FROM cv_backbone_classify(%L, pg_read_binary_file(%L), 0)', 'mobilenet_v2', :'cat'));
SELECT pg_temp.expect_error($$SELECT * FROM cv_backbone_classify('mobilenet_v2', '\x0102'::bytea)$$);
SELECT pg_temp.expect_error($$SELECT * FROM cv_backbone_classify('mobilenet_v2', NULL)$$);

-- A project on a backbone domain trains and predicts like any other.
CREATE TEMP TABLE manifest AS
SELECT split_part(line, ',', 1) AS file, split_part(line, ',', 2) AS tag
  FROM regexp_split_to_table(pg_read_file(:'trees' || 'manifest.csv'), E'\r?\n') AS line
 WHERE line LIKE 'images/%';
SELECT cv_create_project('trees_v1', domain => 'mobilenet_v1') > 0 AS created;
SELECT count(cv_add_image('trees_v1', pg_read_binary_file(:'trees' || file), ARRAY[tag])) AS added FROM manifest;
SELECT cv_train('trees_v1', wait => true) AS it \gset
SELECT status, domain, image_count FROM cv_iterations WHERE id = :it;
SELECT tag, recall >= 0.8 AS recalled, image_count FROM cv_performance(:it) ORDER BY tag NULLS LAST;
SELECT count(*) AS cached, min(dim) AS dim FROM cv_features WHERE domain = 'mobilenet_v1';
SELECT m.tag AS truth, (SELECT p.tag FROM cv_predict((SELECT model FROM cv_iterations WHERE id = :it),
                                                  pg_read_binary_file(:'trees' || m.file)) p LIMIT 1) AS predicted
  FROM manifest m ORDER BY m.file LIMIT 4;
SELECT (cv_model_info(model)).domain, (cv_model_info(model)).feature_dim FROM cv_iterations WHERE id = :it;

-- A domain without classifier features serves detection projects only:
-- classification projects are refused, at creation and when a project is
-- moved onto it.
SELECT pg_temp.expect_error($$SELECT cv_create_project('coco_cls', 'multiclass', 'ssd_mobilenet_v1')$$);
SELECT pg_temp.expect_error($$SELECT cv_create_project('coco_tags', task => 'multilabel', domain => 'ssd_mobilenet_v1')$$);
SELECT pg_temp.expect_error($$UPDATE cv_projects SET domain = 'ssd_mobilenet_v1' WHERE name = 'trees_v1'$$);
SELECT cv_create_project('coco_boxes', task => 'detection', domain => 'ssd_mobilenet_v1') > 0 AS created;
SELECT cv_create_project('edgetpu_boxes', task => 'detection', domain => 'mobilenet_edgetpu') > 0 AS created;
SELECT pg_temp.expect_error($$UPDATE cv_projects SET task = 'multiclass' WHERE name = 'coco_boxes'$$);
SELECT name, task, domain FROM cv_projects ORDER BY name;

-- A backbone in use cannot be dropped; an unused one can.
SELECT pg_temp.expect_error($$SELECT cv_drop_backbone('mobilenet_v1')$$);
SELECT cv_drop_backbone('tf2_mobilenet_v2');
SELECT pg_temp.expect_error($$SELECT cv_drop_backbone('tf2_mobilenet_v2')$$);
SELECT name FROM cv_domains ORDER BY name;

-- Leave the database as we found it.
SELECT count(cv_delete_project(name)) AS projects_deleted FROM cv_projects;
SELECT cv_drop_backbone('mobilenet_v1'), cv_drop_backbone('mobilenet_v2'),
       cv_drop_backbone('mobilenet_edgetpu'), cv_drop_backbone('ssd_mobilenet_v1');
