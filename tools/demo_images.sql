-- Demo images that pgvision's quickstart draws itself, so the demo needs no
-- downloaded data: 64x64 BMPs of a circle, a square or a triangle, with a
-- random position, size and colours and a little pixel noise, made
-- deterministically from (shape, seed).  Temporary functions: nothing of
-- this stays in the database.

-- A deterministic number in [0, 1) from a text key.
CREATE FUNCTION pg_temp.demo_rand(key text) RETURNS float8
LANGUAGE sql IMMUTABLE AS $$
	SELECT (('x' || substr(md5(key), 1, 8))::bit(32)::int::float8 + 2147483648.0) / 4294967296.0
$$;

-- n as 4 little-endian bytes.
CREATE FUNCTION pg_temp.demo_le32(n bigint) RETURNS bytea
LANGUAGE sql IMMUTABLE AS $$
	SELECT decode(substr(h, 7, 2) || substr(h, 5, 2) || substr(h, 3, 2) || substr(h, 1, 2), 'hex')
	  FROM (SELECT lpad(to_hex(n), 8, '0') AS h) s
$$;

CREATE FUNCTION pg_temp.demo_image(shape text, seed int) RETURNS bytea
LANGUAGE sql IMMUTABLE AS $$
WITH prm AS (
	SELECT 22 + 20 * pg_temp.demo_rand(shape || seed || 'x') AS cx,
	       22 + 20 * pg_temp.demo_rand(shape || seed || 'y') AS cy,
	       11 + 8 * pg_temp.demo_rand(shape || seed || 'r') AS r,
	       ARRAY[40 + 215 * pg_temp.demo_rand(shape || seed || 'fr'),
	             40 + 215 * pg_temp.demo_rand(shape || seed || 'fg'),
	             40 + 215 * pg_temp.demo_rand(shape || seed || 'fb')] AS fg,
	       ARRAY[20 + 80 * pg_temp.demo_rand(shape || seed || 'br'),
	             20 + 80 * pg_temp.demo_rand(shape || seed || 'bg'),
	             20 + 80 * pg_temp.demo_rand(shape || seed || 'bb')] AS bg
), px AS (
	SELECT y, x,
	       CASE shape
	         WHEN 'circle' THEN (x - cx) ^ 2 + (y - cy) ^ 2 <= r ^ 2
	         WHEN 'square' THEN abs(x - cx) <= 0.85 * r AND abs(y - cy) <= 0.85 * r
	         WHEN 'triangle' THEN y >= cy - r AND y <= cy + r
	                              AND abs(x - cx) <= (y - (cy - r)) * 0.55
	       END AS inside,
	       fg, bg,
	       20 * (pg_temp.demo_rand(seed || ':' || x || ':' || y) - 0.5) AS noise
	  FROM prm, generate_series(0, 63) AS y, generate_series(0, 63) AS x
), bytes AS (
	-- BMP rows run bottom-up, pixels as blue, green, red.
	SELECT string_agg(
	         lpad(to_hex(least(255, greatest(0, (CASE WHEN inside THEN fg[3] ELSE bg[3] END + noise)::int))), 2, '0')
	      || lpad(to_hex(least(255, greatest(0, (CASE WHEN inside THEN fg[2] ELSE bg[2] END + noise)::int))), 2, '0')
	      || lpad(to_hex(least(255, greatest(0, (CASE WHEN inside THEN fg[1] ELSE bg[1] END + noise)::int))), 2, '0'),
	         '' ORDER BY y DESC, x) AS hex
	  FROM px
)
SELECT '\x424d'::bytea || pg_temp.demo_le32(54 + 64 * 64 * 3) || '\x0000000036000000'::bytea
       || pg_temp.demo_le32(40) || pg_temp.demo_le32(64) || pg_temp.demo_le32(64)
       || '\x01001800'::bytea || pg_temp.demo_le32(0) || pg_temp.demo_le32(64 * 64 * 3)
       || pg_temp.demo_le32(2835) || pg_temp.demo_le32(2835) || pg_temp.demo_le32(0) || pg_temp.demo_le32(0)
       || decode(hex, 'hex')
  FROM bytes
$$;
