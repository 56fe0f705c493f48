/*
 * test_image_png.c
 *	  PNG decoding against netpbm's pngtopnm: real files from the datasets
 *	  and every colour type / bit depth / interlacing generated with netpbm
 *	  at test time; eXIf orientation; the IHDR pixel cap; CRC and
 *	  truncation errors; validation without a full raster.
 */
#include "test_image_util.h"

#include <limits.h>

#define FRUIT "datasets/fruit-od/images/"

static char tmpdir[64];

/* Decode a file and compare with `pngtopnm file [| extra]`. */
static void
check_png_file(const char *path, const char *extra, int expect_w, int expect_h)
{
	size_t		len = 0;
	unsigned char *data = unit_read_file(path, &len);
	char		cmd[1024];
	cv_rgb_image img,
				ref;
	cv_image_info info;
	cv_error	err;
	cv_status	st;

	CHECK_MSG(data != NULL, "cannot read %s", path);
	if (!data)
		return;
	CHECK(cv_image_sniff(data, len) == CV_FORMAT_PNG);
	st = cv_image_validate(data, len, TU_LIMIT, &info, &err);
	CHECK_MSG(st == CV_OK, "%s: validate: %s", path, err.message);
	st = cv_image_decode(data, len, TU_LIMIT, 0, 0, &img, &err);
	CHECK_MSG(st == CV_OK, "%s: decode: %s", path, err.message);
	snprintf(cmd, sizeof(cmd), "pngtopnm '%s' 2>/dev/null%s", path, extra ? extra : "");
	if (st == CV_OK && tu_reference(cmd, &ref))
	{
		int			maxd;
		size_t		nd = tu_diff_bytes(&img, &ref, &maxd);

		CHECK_MSG(nd == 0, "%s: %zu bytes differ (max %d)", path, nd, maxd);
		CHECK(img.width == info.width && img.height == info.height);
		if (expect_w)
			CHECK(img.width == expect_w && img.height == expect_h);
		tu_free_ref(&ref);
	}
	else
		CHECK(false);
	cv_rgb_image_free(&img);
	free(data);
}

static void
test_real_pngs(void)
{
	/* named .jpg in the dataset, PNG inside: RGBA, palette, palette+tRNS, RGB */
	static const char *const files[] = {"apple_1.jpg", "apple_37.jpg", "apple_42.jpg", "apple_20.jpg"};

	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++)
	{
		char		rel[256];
		char		path[512];

		snprintf(rel, sizeof(rel), FRUIT "%s", files[i]);
		snprintf(path, sizeof(path), "%s", unit_shared_path(rel));
		check_png_file(path, NULL, 0, 0);
	}
}

typedef struct png_case
{
	const char *name;
	const char *cmd;			/* writes $D/<name>.png from $D/base.ppm etc. */
	int			bit_depth;		/* expected IHDR, so coverage is real */
	int			color_type;
	int			interlace;
	int			channels;
} png_case;

static const png_case cases[] = {
	{"rgb8", "pnmtopng base.ppm", 8, 2, 0, 3},
	{"rgb8i", "pnmtopng -interlace base.ppm", 8, 2, 1, 3},
	{"rgb16", "pamdepth 65535 base.ppm | pamfunc -adder=3 | pnmtopng", 16, 2, 0, 3},
	{"rgba16i", "pamdepth 65535 base.ppm | pamfunc -adder=3 | pnmtopng -alpha=a16.pgm -interlace", 16, 6, 1, 4},
	{"rgba8", "pnmtopng -alpha=a8.pgm base.ppm", 8, 6, 0, 4},
	{"trns", "pnmtopng -transparent=rgb:00/00/00 base.ppm", 8, 2, 0, 3},
	{"g8", "ppmtopgm base.ppm | pnmtopng", 8, 0, 0, 1},
	{"g16i", "ppmtopgm base.ppm | pamdepth 65535 | pamfunc -adder=100 | pnmtopng -interlace", 16, 0, 1, 1},
	{"g4", "ppmtopgm base.ppm | pamdepth 15 | pnmtopng", 4, 0, 0, 1},
	{"g2", "ppmtopgm base.ppm | pamdepth 3 | pnmtopng", 2, 0, 0, 1},
	{"g1", "ppmtopgm base.ppm | pgmtopbm -threshold | pnmtopng", 1, 0, 0, 1},
	{"g1i", "ppmtopgm base.ppm | pgmtopbm -threshold | pnmtopng -interlace", 1, 0, 1, 1},
	{"ga8", "ppmtopgm base.ppm | pnmtopng -alpha=a8.pgm", 8, 4, 0, 2},
	{"ga16", "ppmtopgm base.ppm | pamdepth 65535 | pamfunc -adder=7 | pnmtopng -alpha=a16.pgm", 16, 4, 0, 2},
	{"p4", "pnmquant 16 base.ppm 2>/dev/null | pnmtopng", 4, 3, 0, 1},
	{"p8i", "pnmquant 200 base.ppm 2>/dev/null | pnmtopng -interlace", 8, 3, 1, 1},
	{"p8t", "pnmquant 200 base.ppm 2>/dev/null | pnmtopng -transparent==rgb:00/00/00", 8, 3, 0, 1},
};

static bool
make_generated(void)
{
	char		cmd[PATH_MAX + 1024];
	char		banana[PATH_MAX];

	/* absolute: the commands below run in the temporary directory */
	if (realpath(unit_shared_path("datasets/fruit-od/images/banana_41.jpg"), banana) == NULL)
		return false;

	snprintf(tmpdir, sizeof(tmpdir), "/tmp/pgvision_png_XXXXXX");
	if (mkdtemp(tmpdir) == NULL)
		return false;
	/* odd sizes exercise partial Adam7 blocks and sub-byte row padding */
	snprintf(cmd, sizeof(cmd),
			 "cd %s && djpeg -ppm -scale 1/8 '%s' | pamcut 3 5 97 61 > base.ppm && "
			 "pgmramp -lr 97 61 > a8.pgm && pamdepth 65535 a8.pgm > a16.pgm",
			 tmpdir, banana);
	if (!tu_sh(cmd))
		return false;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
	{
		snprintf(cmd, sizeof(cmd), "cd %s && (%s) > %s.png", tmpdir, cases[i].cmd, cases[i].name);
		if (!tu_sh(cmd))
			return false;
	}
	return true;
}

static void
test_generated_variants(void)
{
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
	{
		char		path[256];
		size_t		len = 0;
		unsigned char *data;
		cv_image_info info;
		cv_error	err;

		snprintf(path, sizeof(path), "%s/%s.png", tmpdir, cases[i].name);
		data = unit_read_file(path, &len);
		CHECK_MSG(data != NULL && len > 33, "%s not generated", path);
		if (!data)
			continue;
		CHECK_MSG(data[24] == cases[i].bit_depth && data[25] == cases[i].color_type &&
				  data[28] == cases[i].interlace,
				  "%s: IHDR depth %d type %d interlace %d", cases[i].name, data[24], data[25], data[28]);
		CHECK(cv_image_probe(data, len, TU_LIMIT, &info, &err) == CV_OK);
		CHECK(info.format == CV_FORMAT_PNG && info.width == 97 && info.height == 61);
		CHECK_MSG(info.channels == cases[i].channels, "%s: channels %d", cases[i].name, info.channels);
		CHECK(info.progressive == (cases[i].interlace != 0));
		free(data);
		check_png_file(path, NULL, 97, 61);
	}
}

/* Append one chunk (length, type, data, CRC over type + data). */
static size_t
put_chunk(unsigned char *p, const char *type, const unsigned char *data, uint32_t n)
{
	tu_put_be32(p, n);
	memcpy(p + 4, type, 4);
	if (n)
		memcpy(p + 8, data, n);
	tu_put_be32(p + 8 + n, tu_crc32(p + 4, 4 + n));
	return 12 + n;
}

static void
test_exif_chunk(void)
{
	char		path[256];
	size_t		len = 0;
	unsigned char *data;
	static const unsigned char tiff[] = {
		'M', 'M', 0, 42, 0, 0, 0, 8, 0, 1,
		0x01, 0x12, 0, 3, 0, 0, 0, 1, 0, 6, 0, 0,
		0, 0, 0, 0
	};

	snprintf(path, sizeof(path), "%s/rgb8i.png", tmpdir);
	data = unit_read_file(path, &len);
	CHECK(data != NULL);
	if (!data)
		return;
	{
		/* eXIf goes right after IHDR (8 signature + 25 IHDR bytes) */
		unsigned char *out = malloc(len + 64);
		size_t		n = 33;
		char	   *tmp;
		char		cmd[512];
		cv_image_info info;
		cv_error	err;

		memcpy(out, data, 33);
		n += put_chunk(out + n, "eXIf", tiff, sizeof(tiff));
		memcpy(out + n, data + 33, len - 33);
		n += len - 33;
		CHECK(cv_image_probe(out, n, TU_LIMIT, &info, &err) == CV_OK);
		CHECK(info.orientation == 6);
		CHECK(info.width == 61 && info.height == 97);
		CHECK(info.stored_width == 97 && info.stored_height == 61);
		tmp = tu_write_temp(out, n, ".png");
		snprintf(cmd, sizeof(cmd), " | pamflip -cw");
		check_png_file(tmp, cmd, 61, 97);
		tu_remove_temp(tmp);
		free(out);
	}
	free(data);
}

/*
 * A PNG that is a signature, an IHDR, an IDAT holding an empty zlib stream
 * (png_read_info stops at the first IDAT) and IEND.
 */
static size_t
header_only_png(unsigned char *buf, uint32_t w, uint32_t h)
{
	static const unsigned char sig[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
	static const unsigned char empty_zlib[8] = {0x78, 0x9c, 0x03, 0x00, 0x00, 0x00, 0x00, 0x01};
	unsigned char ihdr[13] = {0, 0, 0, 0, 0, 0, 0, 0, 8, 2, 0, 0, 0};
	size_t		n = 8;

	memcpy(buf, sig, 8);
	tu_put_be32(ihdr, w);
	tu_put_be32(ihdr + 4, h);
	n += put_chunk(buf + n, "IHDR", ihdr, 13);
	n += put_chunk(buf + n, "IDAT", empty_zlib, sizeof(empty_zlib));
	n += put_chunk(buf + n, "IEND", NULL, 0);
	return n;
}

static void
test_huge_ihdr(void)
{
	unsigned char buf[128];
	size_t		n = header_only_png(buf, 100000, 100000);
	cv_image_info info;
	cv_rgb_image img;
	cv_error	err;

	CHECK(cv_image_probe(buf, n, TU_LIMIT, &info, &err) == CV_ERR_LIMIT);
	CHECK_MSG(strcmp(err.message, "PNG declares 100000x100000 pixels, more than the limit of 67108864") == 0,
			  "%s", err.message);
	CHECK(info.width == 100000 && info.height == 100000);
	CHECK(cv_image_validate(buf, n, TU_LIMIT, &info, &err) == CV_ERR_LIMIT);
	CHECK(cv_image_decode(buf, n, TU_LIMIT, 0, 0, &img, &err) == CV_ERR_LIMIT);
	CHECK(img.pixels == NULL);
	/* without a cap the header is fine (libpng's own limits are lifted) */
	CHECK(cv_image_probe(buf, n, 0, &info, &err) == CV_OK);
	/* and with one, beyond libpng's default 1,000,000 per side */
	n = header_only_png(buf, 2000000, 1);
	CHECK(cv_image_probe(buf, n, 0, &info, &err) == CV_OK);
	CHECK(info.width == 2000000);
	/* zero width is invalid in IHDR: libpng's message, our code */
	n = header_only_png(buf, 0, 10);
	CHECK(cv_image_probe(buf, n, 0, &info, &err) == CV_ERR_CORRUPT);
	/* but no IDAT: validation fails as corrupt, not as a crash */
	n = header_only_png(buf, 10, 10);
	CHECK(cv_image_probe(buf, n, TU_LIMIT, &info, &err) == CV_OK);
	CHECK(cv_image_validate(buf, n, TU_LIMIT, &info, &err) == CV_ERR_CORRUPT);
	CHECK(cv_image_decode(buf, n, TU_LIMIT, 0, 0, &img, &err) == CV_ERR_CORRUPT);
}

/* Offset of the first chunk of a type, or 0. */
static size_t
find_chunk(const unsigned char *p, size_t len, const char *type)
{
	size_t		off = 8;

	while (off + 12 <= len)
	{
		uint32_t	n = (uint32_t) p[off] << 24 | p[off + 1] << 16 | p[off + 2] << 8 | p[off + 3];

		if (memcmp(p + off + 4, type, 4) == 0)
			return off;
		off += 12 + (size_t) n;
	}
	return 0;
}

static void
test_corrupt_pngs(void)
{
	size_t		len = 0;
	unsigned char *data = tu_shared(FRUIT "apple_20.jpg", &len);
	cv_image_info info;
	cv_rgb_image img;
	cv_error	err;
	size_t		idat;

	if (!data)
		return;
	/* cut in half: the header probes, the pixels do not */
	CHECK(cv_image_probe(data, len / 2, TU_LIMIT, &info, &err) == CV_OK);
	CHECK(cv_image_validate(data, len / 2, TU_LIMIT, &info, &err) == CV_ERR_CORRUPT);
	CHECK_MSG(strcmp(err.message, "truncated PNG data") == 0, "%s", err.message);
	CHECK(cv_image_decode(data, len / 2, TU_LIMIT, 0, 0, &img, &err) == CV_ERR_CORRUPT);
	CHECK(img.pixels == NULL);
	/* missing only IEND */
	CHECK(cv_image_validate(data, len - 12, TU_LIMIT, &info, &err) == CV_ERR_CORRUPT);
	/* cut inside the signature or IHDR */
	CHECK(cv_image_probe(data, 20, TU_LIMIT, &info, &err) == CV_ERR_CORRUPT);
	CHECK(cv_image_probe(data, 8, TU_LIMIT, &info, &err) == CV_ERR_CORRUPT);

	/* a flipped byte in the first IDAT's CRC */
	idat = find_chunk(data, len, "IDAT");
	CHECK(idat > 0);
	if (idat > 0)
	{
		uint32_t	n = (uint32_t) data[idat] << 24 | data[idat + 1] << 16 | data[idat + 2] << 8 | data[idat + 3];
		unsigned char *bad = malloc(len);

		memcpy(bad, data, len);
		bad[idat + 8 + n] ^= 0x55;
		CHECK(cv_image_probe(bad, len, TU_LIMIT, &info, &err) == CV_OK);
		CHECK(cv_image_validate(bad, len, TU_LIMIT, &info, &err) == CV_ERR_CORRUPT);
		CHECK_MSG(strstr(err.message, "CRC") != NULL, "%s", err.message);
		CHECK(cv_image_decode(bad, len, TU_LIMIT, 0, 0, &img, &err) == CV_ERR_CORRUPT);
		/* a flipped byte in the compressed data itself: CRC again */
		memcpy(bad, data, len);
		bad[idat + 8 + n / 2] ^= 0x55;
		CHECK(cv_image_validate(bad, len, TU_LIMIT, &info, &err) == CV_ERR_CORRUPT);
		/* IHDR's CRC: even the probe fails */
		memcpy(bad, data, len);
		bad[29] ^= 1;
		CHECK(cv_image_probe(bad, len, TU_LIMIT, &info, &err) == CV_ERR_CORRUPT);
		free(bad);
	}
	free(data);
}

/* Peak single allocation made through cv_malloc during validation. */
static size_t peak_alloc;

static void *
peak_malloc(size_t n)
{
	if (n > peak_alloc)
		peak_alloc = n;
	return malloc(n);
}

static void *
peak_realloc(void *p, size_t n)
{
	if (n > peak_alloc)
		peak_alloc = n;
	return realloc(p, n);
}

static void
test_validate_keeps_no_raster(void)
{
	static const char *const files[] = {FRUIT "apple_20.jpg", FRUIT "apple_1.jpg",
	"datasets/fruit-od/images/banana_41.jpg"};
	cv_allocator peak = {peak_malloc, peak_realloc, free};

	for (size_t i = 0; i < 3; i++)
	{
		size_t		len = 0;
		unsigned char *data = tu_shared(files[i], &len);
		cv_image_info info;
		cv_error	err;

		if (!data)
			continue;
		peak_alloc = 0;
		cv_set_allocator(&peak);
		CHECK(cv_image_validate(data, len, TU_LIMIT, &info, &err) == CV_OK);
		cv_set_allocator(NULL);
		/* at most a few rows, far below one raster */
		CHECK_MSG(peak_alloc <= (size_t) info.width * 8,
				  "%s: %zu bytes in one allocation for %dx%d", files[i], peak_alloc,
				  info.width, info.height);
		free(data);
	}
}

static void
test_setup(void)
{
	CHECK_MSG(make_generated(), "netpbm fixtures could not be generated in %s", tmpdir);
}

static void
test_cleanup(void)
{
	char		cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf %s", tmpdir);
	CHECK(tmpdir[0] != '\0' && tu_sh(cmd));
}

UNIT_MAIN("image_png",
		  UNIT_CASE(test_setup),
		  UNIT_CASE(test_real_pngs),
		  UNIT_CASE(test_generated_variants),
		  UNIT_CASE(test_exif_chunk),
		  UNIT_CASE(test_huge_ihdr),
		  UNIT_CASE(test_corrupt_pngs),
		  UNIT_CASE(test_validate_keeps_no_raster),
		  UNIT_CASE(test_cleanup))
