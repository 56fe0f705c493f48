-- cv_draw: a PNG of the upright image with boxes and labels; the shapes of
-- cv_detect rows and cv_regions rows; every malformed argument.
\getenv testdata PGVISION_TESTDATA
\set helpers :testdata '/../psql/setup.psql'
\i :helpers
\set images :testdata '/images/'

-- A box with a tag and probability, one with a tag only, one with neither.
SELECT substring(png FROM 1 FOR 8) = '\x89504e470d0a1a0a'::bytea AS is_png,
       cv_format(png::cv_image) AS format, cv_width(png::cv_image) AS width,
       cv_height(png::cv_image) AS height
  FROM (SELECT cv_draw(pg_read_binary_file(:'images' || 'tiny.jpg'), $$[
    {"tag": "fork", "probability": 0.87, "left": 0.1, "top": 0.2, "width": 0.5, "height": 0.6},
    {"tag": "scissors", "left": 0.5, "top": 0.5, "width": 0.4, "height": 0.4},
    {"left": 0, "top": 0, "width": 1, "height": 1, "other": "ignored"}]$$) AS png) d;
-- The size is the upright image's: an EXIF-rotated JPEG comes out turned.
SELECT cv_width(pg_read_binary_file(:'images' || 'rotated.jpg')::cv_image) AS stored_upright_width,
       cv_width(cv_draw(pg_read_binary_file(:'images' || 'rotated.jpg'), '[]')::cv_image) AS drawn_width;
-- No regions: the image as PNG; the cv_image form; NULL image is NULL.
SELECT cv_width(cv_draw(pg_read_binary_file(:'images' || 'tiny.png'))::cv_image) AS no_regions,
       cv_width(cv_draw(pg_read_binary_file(:'images' || 'tiny.png')::cv_image, 'null')::cv_image) AS json_null,
       cv_draw(NULL::bytea, '[]') IS NULL AS null_image;
-- Drawing is deterministic: same arguments, same bytes.
SELECT cv_draw(pg_read_binary_file(:'images' || 'tiny.jpg'), '[{"tag": "a", "left": 0.1, "top": 0.1, "width": 0.5, "height": 0.5}]')
     = cv_draw(pg_read_binary_file(:'images' || 'tiny.jpg'), '[{"tag": "a", "left": 0.1, "top": 0.1, "width": 0.5, "height": 0.5}]') AS same_bytes;

-- The rows of cv_regions (tag_id instead of tag) draw with their tag's name.
SELECT cv_create_project('drawn') > 0 AS created;
SELECT cv_create_tag('drawn', 'apple') AS apple \gset
SELECT length(cv_draw(pg_read_binary_file(:'images' || 'tiny.jpg'),
       jsonb_build_array(jsonb_build_object('tag_id', :apple, 'left', 0.1, 'top', 0.1, 'width', 0.3, 'height', 0.3)))) > 0 AS drawn_by_tag_id;

-- Errors.
SELECT pg_temp.expect_error(format('SELECT cv_draw(%L::bytea, ''{"left": 0}'')', pg_read_binary_file(:'images' || 'tiny.jpg')));
SELECT pg_temp.expect_error(format('SELECT cv_draw(%L::bytea, ''[1]'')', pg_read_binary_file(:'images' || 'tiny.jpg')));
SELECT pg_temp.expect_error(format('SELECT cv_draw(%L::bytea, ''[{"left": 0, "top": 0, "width": 1}]'')', pg_read_binary_file(:'images' || 'tiny.jpg')));
SELECT pg_temp.expect_error(format('SELECT cv_draw(%L::bytea, ''[{"left": 0, "top": 0, "width": "1", "height": 1}]'')', pg_read_binary_file(:'images' || 'tiny.jpg')));
SELECT pg_temp.expect_error(format('SELECT cv_draw(%L::bytea, ''[{"left": 0, "top": 0, "width": -0.5, "height": 1}]'')', pg_read_binary_file(:'images' || 'tiny.jpg')));
SELECT pg_temp.expect_error(format('SELECT cv_draw(%L::bytea, ''[{"left": 0, "top": 0, "width": 1, "height": 1, "probability": 1.5}]'')', pg_read_binary_file(:'images' || 'tiny.jpg')));
SELECT pg_temp.expect_error(format('SELECT cv_draw(%L::bytea, ''[{"left": 0, "top": 0, "width": 1, "height": 1, "probability": "high"}]'')', pg_read_binary_file(:'images' || 'tiny.jpg')));
SELECT pg_temp.expect_error(format('SELECT cv_draw(%L::bytea, ''[{"left": 0, "top": 0, "width": 1, "height": 1, "tag": 7}]'')', pg_read_binary_file(:'images' || 'tiny.jpg')));
SELECT pg_temp.expect_error(format('SELECT cv_draw(%L::bytea, ''[{"left": 0, "top": 0, "width": 1, "height": 1, "tag_id": 123456}]'')', pg_read_binary_file(:'images' || 'tiny.jpg')));
SELECT pg_temp.expect_error(format('SELECT cv_draw(%L::bytea, ''[]'')', pg_read_binary_file(:'images' || 'random.bin')));
SELECT pg_temp.expect_error(format('SELECT cv_draw(%L::bytea, ''[]'')', pg_read_binary_file(:'images' || 'truncated.png')));
-- Huge and tiny JSON numbers are outside the image or zero, not errors.
SELECT length(cv_draw(pg_read_binary_file(:'images' || 'tiny.jpg'),
       '[{"left": 1e-300, "top": -1e300, "width": 1e300, "height": 1e-300}]')) > 0 AS extreme_numbers;
-- The internal function checks its arrays too.
SELECT pg_temp.expect_error(format('SELECT cv_draw_boxes_png(%L::bytea, ''{a}'', ''{}'', ''{0}'', ''{0}'', ''{1}'', ''{1}'')', pg_read_binary_file(:'images' || 'tiny.jpg')));
SELECT pg_temp.expect_error(format('SELECT cv_draw_boxes_png(%L::bytea, ''{a}'', ''{NULL}'', ''{0}'', ''{NULL}'', ''{1}'', ''{1}'')', pg_read_binary_file(:'images' || 'tiny.jpg')));
SELECT pg_temp.expect_error(format('SELECT cv_draw_boxes_png(%L::bytea, ''{a}'', ''{NULL}'', ''{NaN}'', ''{0}'', ''{1}'', ''{1}'')', pg_read_binary_file(:'images' || 'tiny.jpg')));
