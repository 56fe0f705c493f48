/*
 * test_image_hostile.c
 *	  Hostile and broken input: truncations, random bytes, empty input, a
 *	  JPEG whose SOF declares 65500x65500, and seeded mutation fuzzing of
 *	  real JPEG, PNG and BMP files.  Every call must return a status (never
 *	  crash, never read out of bounds: run this program under valgrind),
 *	  and validate and decode must agree on which inputs are acceptable.
 */
#include "test_image_util.h"

#define PROGRESSIVE "datasets/fruit-od/images/apple_25.jpg"
#define BASELINE "datasets/raccoon-od/images/raccoon-150.jpg"
#define PALETTE_PNG "datasets/fruit-od/images/apple_37.jpg"
#define RGBA_PNG "datasets/fruit-od/images/apple_1.jpg"
#define CAT_BMP "images/cat.bmp"

static void
test_empty_and_random(void)
{
	cv_image_info info;
	cv_rgb_image img;
	cv_error	err;
	uint8_t		noise[4096];
	uint32_t	s = 12345;

	CHECK(cv_image_probe(NULL, 0, TU_LIMIT, &info, &err) == CV_ERR_UNSUPPORTED);
	CHECK(strcmp(err.message, "empty image data") == 0);
	CHECK(cv_image_probe(noise, 0, TU_LIMIT, &info, &err) == CV_ERR_UNSUPPORTED);
	CHECK(cv_image_validate(noise, 0, TU_LIMIT, &info, &err) == CV_ERR_UNSUPPORTED);
	CHECK(cv_image_decode(noise, 0, TU_LIMIT, 0, 0, &img, &err) == CV_ERR_UNSUPPORTED);
	CHECK(img.pixels == NULL);
	CHECK(cv_image_decode(noise, 0, TU_LIMIT, 0, 0, NULL, &err) == CV_ERR_PARAM);
	CHECK(cv_image_decode(noise, 0, TU_LIMIT, -1, 0, &img, &err) == CV_ERR_PARAM);

	for (size_t i = 0; i < sizeof(noise); i++)
	{
		s = s * 1103515245u + 12345u;
		noise[i] = (uint8_t) (s >> 16);
	}
	noise[0] = 0x42;			/* not 'B': unknown */
	CHECK(cv_image_probe(noise, sizeof(noise), TU_LIMIT, &info, &err) == CV_ERR_UNSUPPORTED);
	CHECK_MSG(strcmp(err.message, "unrecognized image format (expected JPEG, PNG or BMP)") == 0,
			  "%s", err.message);
	CHECK(info.format == CV_FORMAT_UNKNOWN);

	/* random bytes behind each magic number: corrupt, not a crash */
	{
		static const uint8_t jpg[] = {0xFF, 0xD8, 0xFF};
		static const uint8_t png[] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};

		memcpy(noise, jpg, sizeof(jpg));
		CHECK(cv_image_validate(noise, sizeof(noise), TU_LIMIT, &info, &err) == CV_ERR_CORRUPT);
		CHECK(cv_image_decode(noise, sizeof(noise), TU_LIMIT, 0, 0, &img, &err) == CV_ERR_CORRUPT);
		CHECK(cv_image_probe(noise, 3, TU_LIMIT, &info, &err) == CV_ERR_CORRUPT);
		memcpy(noise, png, sizeof(png));
		CHECK(cv_image_validate(noise, sizeof(noise), TU_LIMIT, &info, &err) == CV_ERR_CORRUPT);
		CHECK(cv_image_decode(noise, sizeof(noise), TU_LIMIT, 0, 0, &img, &err) == CV_ERR_CORRUPT);
		noise[0] = 'B';
		noise[1] = 'M';
		CHECK(cv_image_validate(noise, sizeof(noise), TU_LIMIT, &info, &err) != CV_OK);
		CHECK(cv_image_decode(noise, sizeof(noise), TU_LIMIT, 0, 0, &img, &err) != CV_OK);
		CHECK(img.pixels == NULL);
	}
}

static void
test_truncated_jpeg(void)
{
	static const char *const files[] = {BASELINE, PROGRESSIVE};

	for (int f = 0; f < 2; f++)
	{
		size_t		len = 0;
		unsigned char *data = tu_shared(files[f], &len);
		cv_image_info info;
		cv_rgb_image img;
		cv_error	err;

		if (!data)
			continue;
		/* half a file: header fine, pixels missing */
		CHECK(cv_image_probe(data, len / 2, TU_LIMIT, &info, &err) == CV_OK);
		CHECK(cv_image_validate(data, len / 2, TU_LIMIT, &info, &err) == CV_ERR_CORRUPT);
		CHECK_MSG(strcmp(err.message, "truncated JPEG data") == 0, "%s", err.message);
		CHECK(cv_image_decode(data, len / 2, TU_LIMIT, 0, 0, &img, &err) == CV_ERR_CORRUPT);
		CHECK(img.pixels == NULL);
		CHECK(cv_image_decode(data, len / 2, TU_LIMIT, 64, 64, &img, &err) == CV_ERR_CORRUPT);
		/* only EOI missing */
		CHECK(cv_image_validate(data, len - 2, TU_LIMIT, &info, &err) == CV_ERR_CORRUPT);
		CHECK(cv_image_decode(data, len - 2, TU_LIMIT, 0, 0, &img, &err) == CV_ERR_CORRUPT);
		/* the whole file is fine */
		CHECK(cv_image_validate(data, len, TU_LIMIT, &info, &err) == CV_OK);
		/* every cut, coarse steps: never accepted, never a crash */
		for (size_t cut = 3; cut < len - 1; cut += len / 37 + 1)
		{
			CHECK_MSG(cv_image_validate(data, cut, TU_LIMIT, &info, &err) == CV_ERR_CORRUPT,
					  "%s cut at %zu: %s", files[f], cut, err.message);
			CHECK(cv_image_decode(data, cut, TU_LIMIT, 0, 0, &img, &err) == CV_ERR_CORRUPT);
		}
		free(data);
	}
}

static size_t cv_alloc_calls;
static size_t cv_alloc_peak;

static void *
counting_malloc(size_t n)
{
	cv_alloc_calls++;
	if (n > cv_alloc_peak)
		cv_alloc_peak = n;
	return malloc(n);
}

static void
test_huge_jpeg(void)
{
	size_t		len = 0;
	unsigned char *data = tu_shared(BASELINE, &len);
	cv_allocator counting = {counting_malloc, realloc, free};
	size_t		sof = 0;
	cv_image_info info;
	cv_rgb_image img;
	cv_error	err;

	if (!data)
		return;
	/* walk the marker segments to SOF0..SOF2 */
	for (size_t p = 2; p + 9 < len;)
	{
		if (data[p] != 0xFF)
			break;
		if (data[p + 1] >= 0xC0 && data[p + 1] <= 0xC2)
		{
			sof = p;
			break;
		}
		p += 2 + ((size_t) data[p + 2] << 8 | data[p + 3]);
	}
	CHECK(sof > 0);
	if (sof == 0)
	{
		free(data);
		return;
	}
	/* FF C0 len(2) precision(1) height(2) width(2) */
	data[sof + 5] = 0xFF;
	data[sof + 6] = 0xDC;
	data[sof + 7] = 0xFF;
	data[sof + 8] = 0xDC;

	cv_alloc_calls = cv_alloc_peak = 0;
	cv_set_allocator(&counting);
	CHECK(cv_image_probe(data, len, TU_LIMIT, &info, &err) == CV_ERR_LIMIT);
	CHECK_MSG(strcmp(err.message, "JPEG declares 65500x65500 pixels, more than the limit of 67108864") == 0,
			  "%s", err.message);
	CHECK(info.width == 65500 && info.height == 65500);
	CHECK(cv_image_validate(data, len, TU_LIMIT, &info, &err) == CV_ERR_LIMIT);
	CHECK(cv_image_decode(data, len, TU_LIMIT, 0, 0, &img, &err) == CV_ERR_LIMIT);
	CHECK(cv_image_decode(data, len, TU_LIMIT, 224, 224, &img, &err) == CV_ERR_LIMIT);
	cv_set_allocator(NULL);
	CHECK(img.pixels == NULL);
	/* refused before any raster or row buffer was requested */
	CHECK_MSG(cv_alloc_calls == 0, "%zu allocations, largest %zu bytes", cv_alloc_calls, cv_alloc_peak);
	/* with no cap the header itself is acceptable */
	CHECK(cv_image_probe(data, len, 0, &info, &err) == CV_OK);
	free(data);
}

/*
 * A "scan bomb": the last scan of a progressive JPEG repeated.  libjpeg only
 * warns about the bogus progression and decodes every copy, each a pass
 * over the whole coefficient image; past 500 scans we refuse.
 */
static void
test_scan_bomb(void)
{
	size_t		len = 0;
	unsigned char *data = tu_shared(PROGRESSIVE, &len);
	size_t		last = 0;

	if (!data)
		return;
	for (size_t p = 2; p + 1 < len; p++)
		if (data[p] == 0xFF && data[p + 1] == 0xDA)
			last = p;
	CHECK(last > 0 && data[len - 2] == 0xFF && data[len - 1] == 0xD9);
	for (int copies = 50; copies <= 600; copies += 550)
	{
		size_t		scan = len - 2 - last;
		size_t		n = last + scan * copies + 2;
		unsigned char *bomb = malloc(n);
		cv_image_info info;
		cv_rgb_image img;
		cv_error	err;
		cv_status	expect = copies > 500 ? CV_ERR_LIMIT : CV_OK;

		memcpy(bomb, data, last);
		for (int c = 0; c < copies; c++)
			memcpy(bomb + last + scan * c, data + last, scan);
		memcpy(bomb + n - 2, data + len - 2, 2);
		CHECK(cv_image_probe(bomb, n, TU_LIMIT, &info, &err) == CV_OK);
		CHECK_MSG(cv_image_validate(bomb, n, TU_LIMIT, &info, &err) == expect,
				  "%d copies: %s", copies, err.message);
		CHECK(cv_image_decode(bomb, n, TU_LIMIT, 0, 0, &img, &err) == expect);
		if (expect != CV_OK)
			CHECK_MSG(strcmp(err.message, "JPEG has more than 500 scans") == 0, "%s", err.message);
		cv_rgb_image_free(&img);
		free(bomb);
	}
	free(data);
}

/*
 * Recompute every PNG chunk CRC that lies inside the buffer, so mutations
 * reach libpng's parsers instead of all stopping at the CRC check.
 */
static void
fix_png_crcs(unsigned char *p, size_t len)
{
	size_t		off = 8;

	while (off + 12 <= len)
	{
		uint32_t	n = (uint32_t) p[off] << 24 | p[off + 1] << 16 | p[off + 2] << 8 | p[off + 3];

		if (n > len - off - 12)
			break;
		tu_put_be32(p + off + 8 + n, tu_crc32(p + off + 4, 4 + (size_t) n));
		off += 12 + (size_t) n;
	}
}

/* Seeded mutation fuzzing: random byte changes and cuts of a real file. */
static void
fuzz_file(const char *rel, int rounds, bool scaled)
{
	size_t		len = 0;
	unsigned char *data = tu_shared(rel, &len);
	unsigned char *m;
	uint32_t	s = 0x9E3779B9u;
	int			accepted = 0;

	if (!data)
		return;
	m = malloc(len);
	for (int r = 0; r < rounds; r++)
	{
		size_t		n = len;
		cv_image_info info;
		cv_rgb_image img;
		cv_error	err;
		cv_status	v,
					d;
		int			flips;

		memcpy(m, data, len);
		s = s * 1664525u + 1013904223u;
		flips = 1 + (int) ((s >> 24) % 8);
		for (int k = 0; k < flips; k++)
		{
			size_t		at;

			s = s * 1664525u + 1013904223u;
			/* favour the headers, where lengths and offsets live */
			at = (s >> 8) % (k == 0 ? (len < 512 ? len : 512) : len);
			s = s * 1664525u + 1013904223u;
			m[at] = (uint8_t) (s >> 16);
		}
		if (cv_image_sniff(data, len) == CV_FORMAT_PNG && (r % 4) != 0)
			fix_png_crcs(m, len);
		s = s * 1664525u + 1013904223u;
		if ((s >> 28) == 0)
			n = (s >> 4) % len;
		CHECK(cv_image_probe(m, n, TU_LIMIT, &info, &err) <= CV_ERR_NOMEM);
		v = cv_image_validate(m, n, TU_LIMIT, &info, &err);
		d = cv_image_decode(m, n, TU_LIMIT, scaled ? 64 : 0, scaled ? 64 : 0, &img, &err);
		CHECK(v != CV_ERR_INTERNAL && d != CV_ERR_INTERNAL);
		/* what validation accepts, decoding accepts */
		CHECK_MSG(v != CV_OK || d == CV_OK, "%s round %d: validate ok, decode %s: %s",
				  rel, r, cv_status_name(d), err.message);
		if (d == CV_OK)
		{
			accepted++;
			CHECK(img.pixels != NULL && img.width > 0 && img.height > 0);
		}
		else
			CHECK(img.pixels == NULL && err.message[0] != '\0');
		cv_rgb_image_free(&img);
	}
	printf("     %s: %d of %d mutants decoded\n", rel, accepted, rounds);
	free(m);
	free(data);
}

static void
test_fuzz_jpeg(void)
{
	fuzz_file(BASELINE, 150, false);
	fuzz_file(PROGRESSIVE, 150, true);
}

static void
test_fuzz_png(void)
{
	fuzz_file(PALETTE_PNG, 150, false);
	fuzz_file(RGBA_PNG, 100, false);
}

static void
test_fuzz_bmp(void)
{
	fuzz_file(CAT_BMP, 200, false);
}

UNIT_MAIN("image_hostile",
		  UNIT_CASE(test_empty_and_random),
		  UNIT_CASE(test_truncated_jpeg),
		  UNIT_CASE(test_huge_jpeg),
		  UNIT_CASE(test_scan_bomb),
		  UNIT_CASE(test_fuzz_jpeg),
		  UNIT_CASE(test_fuzz_png),
		  UNIT_CASE(test_fuzz_bmp))
