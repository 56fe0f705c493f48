-- cv_similar (the nearest images of a project by the domain's features) and
-- the near-duplicate notice of cv_add_image; the feature cache behind both;
-- errors.
\getenv testdata PGVISION_TESTDATA
\getenv shared PGVISION_SHARED
\set helpers :testdata '/../psql/setup.psql'
\i :helpers
\set models :shared '/models/'
\set photos :shared '/datasets/clothing-small/images/dress/'
\set dress1 :photos '041c6bde-e737-46fd-9586-984c1503941f.jpg'
\set dress2 :photos '04f0b07f-4b9f-4c55-bc5d-b693658fb32c.jpg'
\set dress3 :photos '053689bb-5928-489b-aeaf-dfb969b05e93.jpg'
\set dress4 :photos '05d361f6-9518-4bf7-a644-6dba9402adf4.jpg'
\set images :testdata '/images/'

SELECT cv_import_backbone('similar_v1', pg_read_binary_file(:'models' || 'mobilenet_v1_0.25_128_quant.tflite')) IS NOT NULL AS imported;
SELECT cv_create_project('look', domain => 'similar_v1');

-- Four distinct photos: no notice.  Each new image of a classification
-- project gets a one-view cv_features row (view 0), so it is searchable
-- before any training.
SELECT cv_add_image('look', pg_read_binary_file(:'dress1'));
SELECT cv_add_image('look', pg_read_binary_file(:'dress2'));
SELECT cv_add_image('look', pg_read_binary_file(:'dress3'));
SELECT cv_add_image('look', pg_read_binary_file(:'dress4'));
SELECT image_id, views, dim = (SELECT feature_dim FROM cv_domains WHERE name = 'similar_v1') AS has_dim
  FROM cv_features ORDER BY image_id;

-- The same pixels in other bytes (two bytes after the JPEG's end): the
-- notice names the image it looks like; the image is added all the same.
SELECT cv_add_image('look', pg_read_binary_file(:'dress1') || '\x00ff'::bytea);
SELECT count(*) AS images FROM cv_images;

-- Most similar first; the photo itself comes first, at similarity 1.
SELECT image_id, round(similarity::numeric, 3) AS similarity
  FROM cv_similar('look', pg_read_binary_file(:'dress1'), k => 2);
SELECT count(*) AS hits, bool_and(similarity <= 1.0001) AS bounded
  FROM cv_similar('look', pg_read_binary_file(:'dress3'), 10);
-- By image id: the others of its project, itself left out.
SELECT image_id, round(similarity::numeric, 3) AS similarity FROM cv_similar(1, k => 1);
SELECT bool_and(image_id <> 3) AS itself_left_out, count(*) AS others FROM cv_similar(3, 100);

-- Served from the cache or computed on the fly, the answer is the same.
CREATE TEMP TABLE cached AS SELECT * FROM cv_similar('look', pg_read_binary_file(:'dress2'), 5);
DELETE FROM cv_features WHERE image_id IN (2, 4);
SELECT count(*) = 5 AS same_count,
       bool_and(c.image_id = f.image_id AND abs(c.similarity - f.similarity) < 1e-5) AS same_answer
  FROM (SELECT row_number() OVER (ORDER BY similarity DESC, image_id) AS r, * FROM cached) c
  JOIN (SELECT row_number() OVER (ORDER BY similarity DESC, image_id) AS r, *
          FROM cv_similar('look', pg_read_binary_file(:'dress2'), 5)) f USING (r);

-- The threshold is a setting; 0 turns the notice off and stores nothing.
SET pgvision.near_duplicate_similarity = 0;
SELECT cv_add_image('look', pg_read_binary_file(:'dress2') || '\x00ff'::bytea);
SELECT count(*) AS rows_of_image_6 FROM cv_features WHERE image_id = 6;
SET pgvision.near_duplicate_similarity = 0.99999;
SELECT cv_add_image('look', pg_read_binary_file(:'dress3') || '\x00ff'::bytea);
RESET pgvision.near_duplicate_similarity;
SELECT pg_temp.expect_error($$SET pgvision.near_duplicate_similarity = 1.5$$);

-- A rolled-back add leaves no features behind, and its image is never
-- named later (image 9 is named like image 4, not like the gone 8).
BEGIN;
SELECT cv_add_image('look', pg_read_binary_file(:'dress4') || '\x00ff'::bytea);
ROLLBACK;
SELECT count(*) AS features_of_rolled_back FROM cv_features WHERE image_id = 8;
SELECT cv_add_image('look', pg_read_binary_file(:'dress4') || '\x0000ff'::bytea);

-- Detection projects: their cache holds feature maps, so nothing is stored
-- at add and cv_similar computes view 0 on the fly.
SELECT cv_create_project('look_boxes', task => 'detection', domain => 'similar_v1');
SELECT cv_add_image('look_boxes', pg_read_binary_file(:'dress1'));
SELECT cv_add_image('look_boxes', pg_read_binary_file(:'dress1') || '\x00ff'::bytea);
SELECT count(*) AS detection_features FROM cv_features f JOIN cv_images i ON i.id = f.image_id
 WHERE i.project_id = (SELECT id FROM cv_projects WHERE name = 'look_boxes');
SELECT image_id, round(similarity::numeric, 3) AS similarity
  FROM cv_similar('look_boxes', pg_read_binary_file(:'dress1'), 5);

-- Errors; NULL arguments give no rows (STRICT).
SELECT pg_temp.expect_error($$SELECT * FROM cv_similar('no_such_project', '\x00'::bytea)$$);
SELECT pg_temp.expect_error(format('SELECT * FROM cv_similar(%L, %L::bytea, 0)', 'look', pg_read_binary_file(:'dress1')));
SELECT pg_temp.expect_error($$SELECT * FROM cv_similar(1, -1)$$);
SELECT pg_temp.expect_error($$SELECT * FROM cv_similar(424242)$$);
SELECT pg_temp.expect_error(format('SELECT * FROM cv_similar(%L, %L::bytea)', 'look', pg_read_binary_file(:'images' || 'random.bin')));
SELECT count(*) AS null_rows FROM cv_similar('look', NULL::bytea);

SELECT cv_delete_project('look');
SELECT cv_delete_project('look_boxes');
SELECT cv_drop_backbone('similar_v1');
