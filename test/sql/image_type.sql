-- cv_image: input by cast and literal, output, accessors, and every way the
-- bytes can be wrong.
\getenv testdata PGVISION_TESTDATA
\getenv shared PGVISION_SHARED
\set VERBOSITY default
\set img_dir :testdata '/images/'
\set helpers :testdata '/../psql/setup.psql'
\i :helpers

-- Real photos through the bytea cast.
\set f :shared '/datasets/mslearn-fruit-cls/images/apple/IMG_20200229_164759.jpg'
SELECT cv_width(i), cv_height(i), cv_format(i), cv_orientation(i)
  FROM (SELECT pg_read_binary_file(:'f')::cv_image AS i) s;
\set f :shared '/images/cat.bmp'
SELECT cv_width(i), cv_height(i), cv_format(i) FROM (SELECT pg_read_binary_file(:'f')::cv_image AS i) s;

-- EXIF orientation 3 (rotated 180): same size upright.  Orientation 6
-- (rotated 90): the stored 64x48 is reported upright as 48x64.
\set f :shared '/datasets/azure-trees-cls/images/Japanese_Cherry/japanese_cherry_8.jpg'
SELECT cv_orientation(i), cv_width(i), cv_height(i) FROM (SELECT pg_read_binary_file(:'f')::cv_image AS i) s;
\set f :img_dir 'rotated.jpg'
SELECT cv_orientation(i), cv_width(i), cv_height(i) FROM (SELECT pg_read_binary_file(:'f')::cv_image AS i) s;

-- Every supported kind of file.
CREATE TEMP TABLE fixtures (name text, bytes bytea);
\set f :img_dir 'tiny.jpg'
INSERT INTO fixtures VALUES ('tiny.jpg', pg_read_binary_file(:'f'));
\set f :img_dir 'gray.jpg'
INSERT INTO fixtures VALUES ('gray.jpg', pg_read_binary_file(:'f'));
\set f :img_dir 'progressive.jpg'
INSERT INTO fixtures VALUES ('progressive.jpg', pg_read_binary_file(:'f'));
\set f :img_dir 'cmyk.jpg'
INSERT INTO fixtures VALUES ('cmyk.jpg', pg_read_binary_file(:'f'));
\set f :img_dir 'tiny.png'
INSERT INTO fixtures VALUES ('tiny.png', pg_read_binary_file(:'f'));
\set f :img_dir 'palette.png'
INSERT INTO fixtures VALUES ('palette.png', pg_read_binary_file(:'f'));
\set f :img_dir 'rgba16.png'
INSERT INTO fixtures VALUES ('rgba16.png', pg_read_binary_file(:'f'));
\set f :img_dir 'interlaced.png'
INSERT INTO fixtures VALUES ('interlaced.png', pg_read_binary_file(:'f'));
\set f :img_dir 'gray1.png'
INSERT INTO fixtures VALUES ('gray1.png', pg_read_binary_file(:'f'));
\set f :img_dir 'tiny24.bmp'
INSERT INTO fixtures VALUES ('tiny24.bmp', pg_read_binary_file(:'f'));
\set f :img_dir 'tiny32.bmp'
INSERT INTO fixtures VALUES ('tiny32.bmp', pg_read_binary_file(:'f'));
SELECT name, cv_format(bytes::cv_image), cv_width(bytes::cv_image), cv_height(bytes::cv_image)
  FROM fixtures ORDER BY name;

-- Round trips: cast back to bytea, text literal in and out, binary send/recv.
SELECT bool_and(bytes::cv_image::bytea = bytes) AS cast_round_trip FROM fixtures;
SELECT bool_and((bytes::cv_image)::text::cv_image::bytea = bytes) AS text_round_trip FROM fixtures;
SELECT bool_and(cv_image_send(bytes::cv_image) = bytes) AS send_is_file FROM fixtures;
SELECT (SELECT bytes FROM fixtures WHERE name = 'tiny.png')::cv_image::text
       = (SELECT bytes FROM fixtures WHERE name = 'tiny.png')::text AS output_is_bytea_literal;
-- A column of type cv_image accepts bytea by assignment.
CREATE TEMP TABLE pics (pic cv_image);
INSERT INTO pics SELECT bytes FROM fixtures;
SELECT count(*), sum(cv_width(pic)) = (SELECT sum(cv_width(bytes::cv_image)) FROM fixtures) FROM pics;
-- COPY BINARY goes through send and recv.
COPY pics TO '/tmp/pgvision_pics.bin' WITH (FORMAT binary);
CREATE TEMP TABLE pics2 (pic cv_image);
COPY pics2 FROM '/tmp/pgvision_pics.bin' WITH (FORMAT binary);
SELECT count(*) FROM pics2 p2 JOIN pics p ON p.pic::bytea = p2.pic::bytea;

-- Bad bytes: each error has its own message and SQLSTATE.
SELECT name, pg_temp.expect_error(format('SELECT pg_read_binary_file(%L)::cv_image', :'img_dir' || name))
  FROM unnest(ARRAY['truncated.jpg', 'truncated.png', 'crc.png', 'random.bin', 'huge.png',
                    'huge.jpg', 'rle8.bmp']) AS name
 ORDER BY name;
SELECT pg_temp.expect_error($$SELECT ''::bytea::cv_image$$);
SELECT pg_temp.expect_error($$SELECT '\x00'::bytea::cv_image$$);
SELECT pg_temp.expect_error($$SELECT '\xffd8ffe0'::cv_image$$);
SELECT pg_temp.expect_error($$SELECT 'not an image'::cv_image$$);
SELECT pg_temp.expect_error($$SELECT '\xzz'::cv_image$$);
-- A JPEG cut at many lengths: always an error, never a crash.
SELECT count(*) AS cut_lengths,
       count(*) FILTER (WHERE e LIKE '22P03:%') AS rejected_as_corrupt
  FROM (SELECT pg_temp.expect_error(format('SELECT %L::bytea::cv_image',
                                           substring(bytes FROM 1 FOR n))) AS e
          FROM fixtures, generate_series(1, length(bytes) - 3, 97) AS n
         WHERE name = 'tiny.jpg') s;

-- The limits are settings; the pixel cap applies before decoding.
SET pgvision.max_image_pixels = 1000;
SELECT pg_temp.expect_error($$SELECT bytes::cv_image FROM fixtures WHERE name = 'tiny.jpg'$$);
RESET pgvision.max_image_pixels;
SET pgvision.max_image_bytes = 100;
SELECT pg_temp.expect_error($$SELECT bytes::cv_image FROM fixtures WHERE name = 'tiny.jpg'$$);
RESET pgvision.max_image_bytes;
SELECT pg_temp.expect_error($$SET pgvision.max_image_bytes = 0$$);
SELECT pg_temp.expect_error($$SET pgvision.no_such_setting = 1$$);
SHOW pgvision.max_image_bytes;
SHOW pgvision.max_image_pixels;

-- The backend survived all of that.
SELECT cv_width(bytes::cv_image) FROM fixtures WHERE name = 'tiny.jpg';
