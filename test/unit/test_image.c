/*
 * test_image.c
 *	  JPEG decoding against djpeg, EXIF orientation, DCT scale choice, CMYK,
 *	  sniffing and the whole-dataset sweep.
 *
 * Every expected raster comes from libjpeg-turbo's own djpeg (and netpbm's
 * pamflip for rotations) run at test time on the same bytes, so the checks
 * are pixel-exact: same library, same default islow IDCT and fancy
 * upsampling.  Run from the repository root or set PGVISION_SHARED.
 */
#include "test_image_util.h"

#include <dirent.h>
#include <setjmp.h>
#include <jpeglib.h>

#define BANANA "datasets/fruit-od/images/banana_41.jpg"	/* 1920x1080 baseline */
#define PROGRESSIVE "datasets/fruit-od/images/apple_25.jpg"	/* 350x241 */
#define GREY "datasets/raccoon-od/images/raccoon-150.jpg"	/* 275x183, 1 comp */
#define CHERRY "datasets/azure-trees-cls/images/Japanese_Cherry/japanese_cherry_8.jpg"

/* Decode `path` and compare with a reference pipeline fed by that file. */
static void
check_against(const char *path, int min_w, int min_h, const char *ref_cmd,
			  int expect_w, int expect_h)
{
	size_t		len = 0;
	unsigned char *data = unit_read_file(path, &len);
	cv_rgb_image img,
				ref;
	cv_error	err;
	cv_status	st;

	CHECK_MSG(data != NULL, "cannot read %s", path);
	if (data == NULL)
		return;
	st = cv_image_decode(data, len, TU_LIMIT, min_w, min_h, &img, &err);
	CHECK_MSG(st == CV_OK, "%s: %s", path, err.message);
	if (st == CV_OK && tu_reference(ref_cmd, &ref))
	{
		int			maxd;
		size_t		nd = tu_diff_bytes(&img, &ref, &maxd);

		CHECK_MSG(nd == 0, "%s: %zu bytes differ (max %d) from `%s`", path, nd, maxd, ref_cmd);
		if (expect_w > 0)
			CHECK_MSG(img.width == expect_w && img.height == expect_h,
					  "%s: %dx%d, expected %dx%d", path, img.width, img.height,
					  expect_w, expect_h);
		tu_free_ref(&ref);
	}
	else
		CHECK(false);
	cv_rgb_image_free(&img);
	free(data);
}

/* djpeg at scale/8 (and a pamflip); min_w/min_h must select that scale. */
static void
check_file_djpeg(const char *rel, int scale, int min_w, int min_h,
				 const char *flip, int ew, int eh)
{
	char		cmd[1024];
	const char *path = unit_shared_path(rel);
	char		pathcopy[512];

	snprintf(pathcopy, sizeof(pathcopy), "%s", path);
	snprintf(cmd, sizeof(cmd), "djpeg -ppm -scale %d/8 '%s'%s%s", scale, pathcopy,
			 flip ? " | pamflip " : "", flip ? flip : "");
	check_against(pathcopy, min_w, min_h, cmd, ew, eh);
}

static void
test_sniff_and_names(void)
{
	static const uint8_t jpg[] = {0xFF, 0xD8, 0xFF, 0xE0};
	static const uint8_t png[] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
	static const uint8_t bmp[] = {'B', 'M', 0, 0};
	static const uint8_t gif[] = {'G', 'I', 'F', '8', '9', 'a'};

	CHECK(cv_image_sniff(jpg, sizeof(jpg)) == CV_FORMAT_JPEG);
	CHECK(cv_image_sniff(jpg, 2) == CV_FORMAT_UNKNOWN);
	CHECK(cv_image_sniff(png, sizeof(png)) == CV_FORMAT_PNG);
	CHECK(cv_image_sniff(png, 7) == CV_FORMAT_UNKNOWN);
	CHECK(cv_image_sniff(bmp, sizeof(bmp)) == CV_FORMAT_BMP);
	CHECK(cv_image_sniff(gif, sizeof(gif)) == CV_FORMAT_UNKNOWN);
	CHECK(cv_image_sniff(NULL, 10) == CV_FORMAT_UNKNOWN);
	CHECK(strcmp(cv_image_format_name(CV_FORMAT_JPEG), "jpeg") == 0);
	CHECK(strcmp(cv_image_format_name(CV_FORMAT_PNG), "png") == 0);
	CHECK(strcmp(cv_image_format_name(CV_FORMAT_BMP), "bmp") == 0);
	CHECK(strcmp(cv_image_format_name(CV_FORMAT_UNKNOWN), "unknown") == 0);
	CHECK(strcmp(cv_image_format_name((cv_image_format) 42), "unknown") == 0);
}

static void
test_probe_baseline(void)
{
	size_t		len;
	unsigned char *data = tu_shared(BANANA, &len);
	cv_image_info info;
	cv_error	err;

	if (!data)
		return;
	CHECK(cv_image_probe(data, len, TU_LIMIT, &info, &err) == CV_OK);
	CHECK(info.format == CV_FORMAT_JPEG);
	CHECK(info.width == 1920 && info.height == 1080);
	CHECK(info.stored_width == 1920 && info.stored_height == 1080);
	CHECK(info.orientation == 1);
	CHECK(info.channels == 3);
	CHECK(!info.progressive);
	/* the cap applies to probing too, and 0 means no cap */
	CHECK(cv_image_probe(data, len, 1920 * 1080 - 1, &info, &err) == CV_ERR_LIMIT);
	CHECK_MSG(strcmp(err.message, "JPEG declares 1920x1080 pixels, more than the limit of 2073599") == 0,
			  "%s", err.message);
	CHECK(cv_image_probe(data, len, 1920 * 1080, &info, &err) == CV_OK);
	CHECK(cv_image_probe(data, len, 0, &info, &err) == CV_OK);
	CHECK(cv_image_validate(data, len, TU_LIMIT, &info, &err) == CV_OK);
	CHECK(info.width == 1920 && info.height == 1080);
	free(data);
}

static void
test_decode_baseline(void)
{
	check_file_djpeg(BANANA, 8, 0, 0, NULL, 1920, 1080);
}

static void
test_decode_progressive(void)
{
	size_t		len;
	unsigned char *data = tu_shared(PROGRESSIVE, &len);
	cv_image_info info;
	cv_error	err;

	if (!data)
		return;
	CHECK(cv_image_probe(data, len, TU_LIMIT, &info, &err) == CV_OK);
	CHECK(info.progressive);
	CHECK(info.width == 350 && info.height == 241);
	free(data);
	check_file_djpeg(PROGRESSIVE, 8, 0, 0, NULL, 350, 241);
	/* 241 * 2/8 = 61 is short of 91; 3/8 gives ceil(90.375) = 91 */
	check_file_djpeg(PROGRESSIVE, 3, 0, 91, NULL, 132, 91);
}

static void
test_decode_grey(void)
{
	size_t		len;
	unsigned char *data = tu_shared(GREY, &len);
	cv_image_info info;
	cv_error	err;

	if (!data)
		return;
	CHECK(cv_image_probe(data, len, TU_LIMIT, &info, &err) == CV_OK);
	CHECK(info.channels == 1);
	free(data);
	/* djpeg writes PGM for grey: the parser expands it to RGB */
	check_file_djpeg(GREY, 8, 0, 0, NULL, 275, 183);
}

static void
test_exif_rotated_photo(void)
{
	size_t		len;
	unsigned char *data = tu_shared(CHERRY, &len);
	cv_image_info info;
	cv_error	err;

	if (!data)
		return;
	CHECK(cv_image_probe(data, len, TU_LIMIT, &info, &err) == CV_OK);
	CHECK_MSG(info.orientation == 3, "orientation %d", info.orientation);
	CHECK(info.stored_width == 1600 && info.stored_height == 900);
	CHECK(info.width == 1600 && info.height == 900);
	free(data);
	check_file_djpeg(CHERRY, 8, 0, 0, "-r180", 1600, 900);
	/* scaled and rotated: 224x224 needs 2/8 of 1600x900 = 400x225 */
	{
		char		cmd[1024];
		char		path[512];

		snprintf(path, sizeof(path), "%s", unit_shared_path(CHERRY));
		snprintf(cmd, sizeof(cmd), "djpeg -ppm -scale 2/8 '%s' | pamflip -r180", path);
		check_against(path, 224, 224, cmd, 400, 225);
	}
}

/* APP1 "Exif" segment holding only IFD0 with Orientation. */
static size_t
exif_app1(uint8_t *seg, int orientation, bool big_endian)
{
	static const uint8_t be[] = {
		0xFF, 0xE1, 0x00, 0x22, 'E', 'x', 'i', 'f', 0, 0,
		'M', 'M', 0, 42, 0, 0, 0, 8,
		0, 1,					/* one entry */
		0x01, 0x12, 0, 3, 0, 0, 0, 1, 0, 0, 0, 0,	/* Orientation SHORT 1 */
		0, 0, 0, 0				/* no next IFD */
	};
	static const uint8_t le[] = {
		0xFF, 0xE1, 0x00, 0x22, 'E', 'x', 'i', 'f', 0, 0,
		'I', 'I', 42, 0, 8, 0, 0, 0,
		1, 0,
		0x12, 0x01, 3, 0, 1, 0, 0, 0, 0, 0, 0, 0,
		0, 0, 0, 0
	};

	memcpy(seg, big_endian ? be : le, sizeof(be));
	seg[big_endian ? 29 : 28] = (uint8_t) orientation;
	return sizeof(be);
}

/* A copy of a JPEG with an Exif APP1 inserted right after SOI. */
static unsigned char *
with_orientation(const unsigned char *jpg, size_t len, int orientation,
				 bool big_endian, size_t *out_len)
{
	uint8_t		seg[64];
	size_t		n = exif_app1(seg, orientation, big_endian);
	unsigned char *out = malloc(len + n);

	memcpy(out, jpg, 2);
	memcpy(out + 2, seg, n);
	memcpy(out + 2 + n, jpg + 2, len - 2);
	*out_len = len + n;
	return out;
}

static void
test_all_orientations(void)
{
	/* pamflip operations that turn stored pixels upright, per orientation */
	static const char *const flips[9] = {
		"-null", "-null", "-lr", "-r180", "-tb", "-xy", "-cw", "-xy | pamflip -r180", "-ccw"
	};
	size_t		len;
	unsigned char *src = tu_shared(PROGRESSIVE, &len);

	if (!src)
		return;
	for (int o = 1; o <= 8; o++)
	{
		size_t		n;
		unsigned char *jpg = with_orientation(src, len, o, (o % 2) == 0, &n);
		char	   *path = tu_write_temp(jpg, n, ".jpg");
		char		cmd[512];
		cv_image_info info;
		cv_error	err;
		bool		swap = o >= 5;

		CHECK(cv_image_probe(jpg, n, TU_LIMIT, &info, &err) == CV_OK);
		CHECK_MSG(info.orientation == o, "orientation %d read as %d", o, info.orientation);
		CHECK(info.width == (swap ? 241 : 350) && info.height == (swap ? 350 : 241));
		snprintf(cmd, sizeof(cmd), "djpeg -ppm '%s' | pamflip %s", path, flips[o]);
		check_against(path, 0, 0, cmd, info.width, info.height);
		tu_remove_temp(path);
		free(jpg);
	}
	free(src);
}

/*
 * DCT scale choice: the smallest M/8 whose upright output covers the
 * request.  1920x1080 at 224x224: 1080 * 2/8 = 270 >= 224, 1/8 is 135.
 */
static void
test_dct_scale_choice(void)
{
	char		path[512];
	char		cmd[1024];
	size_t		len;
	unsigned char *src;

	snprintf(path, sizeof(path), "%s", unit_shared_path(BANANA));
	snprintf(cmd, sizeof(cmd), "djpeg -ppm -scale 2/8 '%s'", path);
	check_against(path, 224, 224, cmd, 480, 270);
	/* exactly covering: 1080 * 3/8 = 405 */
	snprintf(cmd, sizeof(cmd), "djpeg -ppm -scale 3/8 '%s'", path);
	check_against(path, 0, 405, cmd, 720, 405);
	snprintf(cmd, sizeof(cmd), "djpeg -ppm -scale 4/8 '%s'", path);
	check_against(path, 0, 406, cmd, 960, 540);
	/* one axis only; tiny request; request larger than the image */
	snprintf(cmd, sizeof(cmd), "djpeg -ppm -scale 1/8 '%s'", path);
	check_against(path, 1, 1, cmd, 240, 135);
	snprintf(cmd, sizeof(cmd), "djpeg -ppm '%s'", path);
	check_against(path, 4000, 4000, cmd, 1920, 1080);

	/*
	 * Orientation 6 swaps axes: upright width comes from the stored height.
	 * 300 wide needs 1080 * 3/8 = 405; 1080 * 2/8 = 270 is too narrow.
	 */
	src = tu_shared(BANANA, &len);
	if (src)
	{
		size_t		n;
		unsigned char *jpg = with_orientation(src, len, 6, true, &n);
		char	   *tmp = tu_write_temp(jpg, n, ".jpg");

		snprintf(cmd, sizeof(cmd), "djpeg -ppm -scale 3/8 '%s' | pamflip -cw", tmp);
		check_against(tmp, 300, 100, cmd, 405, 720);
		tu_remove_temp(tmp);
		free(jpg);
		free(src);
	}
}

/* libjpeg destination for the CMYK fixture. */
typedef struct cmyk_err
{
	struct jpeg_error_mgr pub;
	jmp_buf		jump;
} cmyk_err;

static void
cmyk_error_exit(j_common_ptr cinfo)
{
	longjmp(((cmyk_err *) cinfo->err)->jump, 1);
}

/*
 * Encode rgb as an Adobe-style (inverted) CMYK or YCCK JPEG: with K = 255
 * (no black ink, inverted) each ink byte equals the RGB byte.
 */
static unsigned char *
encode_cmyk(const cv_rgb_image *rgb, J_COLOR_SPACE space, unsigned long *out_len)
{
	struct jpeg_compress_struct c;
	cmyk_err	e;
	unsigned char *out = NULL;
	unsigned char *row = malloc((size_t) rgb->width * 4);

	*out_len = 0;
	c.err = jpeg_std_error(&e.pub);
	e.pub.error_exit = cmyk_error_exit;
	if (setjmp(e.jump))
	{
		jpeg_destroy_compress(&c);
		free(row);
		return NULL;
	}
	jpeg_create_compress(&c);
	jpeg_mem_dest(&c, &out, out_len);
	c.image_width = (JDIMENSION) rgb->width;
	c.image_height = (JDIMENSION) rgb->height;
	c.input_components = 4;
	c.in_color_space = JCS_CMYK;
	jpeg_set_defaults(&c);
	jpeg_set_colorspace(&c, space);	/* writes the Adobe APP14 marker */
	jpeg_set_quality(&c, 95, TRUE);
	jpeg_start_compress(&c, TRUE);
	while (c.next_scanline < c.image_height)
	{
		const uint8_t *s = rgb->pixels + (size_t) c.next_scanline * rgb->width * 3;

		for (int x = 0; x < rgb->width; x++)
		{
			row[x * 4] = s[x * 3];
			row[x * 4 + 1] = s[x * 3 + 1];
			row[x * 4 + 2] = s[x * 3 + 2];
			row[x * 4 + 3] = 255;
		}
		jpeg_write_scanlines(&c, &row, 1);
	}
	jpeg_finish_compress(&c);
	jpeg_destroy_compress(&c);
	free(row);
	return out;
}

static void
test_cmyk(void)
{
	cv_rgb_image small;
	char		cmd[1024];
	char		path[512];
	J_COLOR_SPACE spaces[2] = {JCS_CMYK, JCS_YCCK};

	/* a real photo, small: the colour check below needs real content */
	snprintf(path, sizeof(path), "%s", unit_shared_path(PROGRESSIVE));
	snprintf(cmd, sizeof(cmd), "djpeg -ppm -scale 2/8 '%s'", path);
	if (!tu_reference(cmd, &small))
	{
		CHECK(false);
		return;
	}
	for (int i = 0; i < 2; i++)
	{
		unsigned long n;
		unsigned char *jpg = encode_cmyk(&small, spaces[i], &n);
		char	   *tmp;
		cv_image_info info;
		cv_error	err;
		cv_rgb_image img;

		CHECK(jpg != NULL);
		if (!jpg)
			continue;
		CHECK(cv_image_probe(jpg, n, TU_LIMIT, &info, &err) == CV_OK);
		CHECK(info.channels == 4);
		CHECK(cv_image_validate(jpg, n, TU_LIMIT, &info, &err) == CV_OK);
		tmp = tu_write_temp(jpg, n, ".jpg");
		/* djpeg -ppm converts CMYK the Adobe way too: exact agreement */
		snprintf(cmd, sizeof(cmd), "djpeg -ppm '%s'", tmp);
		check_against(tmp, 0, 0, cmd, small.width, small.height);
		/* and the colours are those encoded (inversion handled) */
		if (cv_image_decode(jpg, n, TU_LIMIT, 0, 0, &img, &err) == CV_OK)
		{
			double		sum = 0;
			size_t		total = (size_t) img.width * img.height * 3;

			for (size_t k = 0; k < total; k++)
				sum += abs((int) img.pixels[k] - (int) small.pixels[k]);
			CHECK_MSG(sum / total < 4.0, "mean abs error %.2f", sum / total);
			cv_rgb_image_free(&img);
		}
		else
			CHECK_MSG(false, "%s", err.message);
		tu_remove_temp(tmp);
		free(jpg);
	}
	tu_free_ref(&small);
}

/* Every photo of a few datasets validates, and decodes at the probed size. */
static void
test_dataset_sweep(void)
{
	static const char *const sets[] = {
		"datasets/fruit-od/images", "datasets/raccoon-od/images",
		"datasets/azure-trees-cls/images/Japanese_Cherry",
		"datasets/azure-trees-cls/images/Hemlock",
		"datasets/mslearn-fruit-od/images"
	};
	int			files = 0;
	int			formats[4] = {0};

	for (size_t s = 0; s < sizeof(sets) / sizeof(sets[0]); s++)
	{
		char		dir[512];
		DIR		   *d;
		struct dirent *e;

		snprintf(dir, sizeof(dir), "%s", unit_shared_path(sets[s]));
		d = opendir(dir);
		CHECK_MSG(d != NULL, "cannot open %s", dir);
		if (!d)
			continue;
		while ((e = readdir(d)) != NULL)
		{
			char		path[1024];
			size_t		len;
			unsigned char *data;
			cv_image_info info,
						info2;
			cv_error	err;
			cv_rgb_image img;
			cv_status	st;

			if (e->d_name[0] == '.')
				continue;
			snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
			data = unit_read_file(path, &len);
			if (!data)
				continue;
			files++;
			st = cv_image_validate(data, len, TU_LIMIT, &info, &err);
			CHECK_MSG(st == CV_OK, "%s: %s", path, err.message);
			formats[info.format]++;
			st = cv_image_probe(data, len, TU_LIMIT, &info2, &err);
			CHECK(st == CV_OK && memcmp(&info, &info2, sizeof(info)) == 0);
			st = cv_image_decode(data, len, TU_LIMIT, 224, 224, &img, &err);
			CHECK_MSG(st == CV_OK, "%s: %s", path, err.message);
			if (st == CV_OK)
			{
				CHECK(img.width >= (info.width < 224 ? info.width : 224));
				CHECK(img.height >= (info.height < 224 ? info.height : 224));
				CHECK(img.width <= info.width && img.height <= info.height);
				/* aspect kept within the rounding of ceil(size * M / 8) */
				CHECK(fabs((double) img.width / img.height -
						   (double) info.width / info.height) <
					  0.02 * info.width / info.height + 0.02);
			}
			cv_rgb_image_free(&img);
			free(data);
		}
		closedir(d);
	}
	CHECK(files > 300);
	CHECK(formats[CV_FORMAT_PNG] > 10);
	printf("     swept %d files: %d jpeg, %d png\n", files, formats[CV_FORMAT_JPEG],
		   formats[CV_FORMAT_PNG]);
}

/* The SQL tests' fixtures behave as test/data/images/README.md says. */
static void
test_sql_fixtures(void)
{
	static const struct
	{
		const char *name;
		cv_status	status;		/* of cv_image_validate */
		cv_image_format format;
		int			width;		/* upright */
		int			height;
		int			orientation;
		int			channels;
		bool		progressive;
	}			fx[] = {
		{"tiny.jpg", CV_OK, CV_FORMAT_JPEG, 64, 48, 1, 3, false},
		{"gray.jpg", CV_OK, CV_FORMAT_JPEG, 64, 48, 1, 1, false},
		{"progressive.jpg", CV_OK, CV_FORMAT_JPEG, 64, 48, 1, 3, true},
		{"rotated.jpg", CV_OK, CV_FORMAT_JPEG, 48, 64, 6, 3, false},
		{"cmyk.jpg", CV_OK, CV_FORMAT_JPEG, 64, 48, 1, 4, false},
		{"tiny.png", CV_OK, CV_FORMAT_PNG, 64, 48, 1, 3, false},
		{"palette.png", CV_OK, CV_FORMAT_PNG, 64, 48, 1, 1, false},
		{"rgba16.png", CV_OK, CV_FORMAT_PNG, 64, 48, 1, 4, false},
		{"interlaced.png", CV_OK, CV_FORMAT_PNG, 64, 48, 1, 3, true},
		{"gray1.png", CV_OK, CV_FORMAT_PNG, 64, 48, 1, 1, false},
		{"tiny24.bmp", CV_OK, CV_FORMAT_BMP, 64, 48, 1, 3, false},
		{"tiny32.bmp", CV_OK, CV_FORMAT_BMP, 64, 48, 1, 4, false},
		{"truncated.jpg", CV_ERR_CORRUPT, CV_FORMAT_JPEG, 64, 48, 1, 3, false},
		{"truncated.png", CV_ERR_CORRUPT, CV_FORMAT_PNG, 64, 48, 1, 3, false},
		{"huge.png", CV_ERR_LIMIT, CV_FORMAT_PNG, 100000, 100000, 1, 3, false},
		{"huge.jpg", CV_ERR_LIMIT, CV_FORMAT_JPEG, 65500, 65500, 1, 3, false},
		{"random.bin", CV_ERR_UNSUPPORTED, CV_FORMAT_UNKNOWN, 0, 0, 1, 0, false},
		{"rle8.bmp", CV_ERR_UNSUPPORTED, CV_FORMAT_BMP, 8, 2, 1, 3, false},
		{"crc.png", CV_ERR_CORRUPT, CV_FORMAT_PNG, 64, 48, 1, 3, false},
	};

	for (size_t i = 0; i < sizeof(fx) / sizeof(fx[0]); i++)
	{
		char		path[256];
		size_t		len = 0;
		unsigned char *data = unit_read_file(tu_fixture_path(fx[i].name, path, sizeof(path)), &len);
		cv_image_info info;
		cv_rgb_image img;
		cv_error	err;
		cv_status	st;

		CHECK_MSG(data != NULL, "missing fixture %s (run tools/make_test_images.sh)", path);
		if (!data)
			continue;
		CHECK(len < 20000);
		st = cv_image_validate(data, len, TU_LIMIT, &info, &err);
		CHECK_MSG(st == fx[i].status, "%s: %s (%s)", fx[i].name, cv_status_name(st), err.message);
		CHECK_MSG(info.format == fx[i].format && info.width == fx[i].width &&
				  info.height == fx[i].height && info.orientation == fx[i].orientation &&
				  info.channels == fx[i].channels && info.progressive == fx[i].progressive,
				  "%s: format %d %dx%d orientation %d channels %d progressive %d", fx[i].name,
				  info.format, info.width, info.height, info.orientation, info.channels,
				  info.progressive);
		st = cv_image_decode(data, len, TU_LIMIT, 0, 0, &img, &err);
		CHECK(st == fx[i].status);
		if (st == CV_OK)
			CHECK(img.width == fx[i].width && img.height == fx[i].height);
		cv_rgb_image_free(&img);
		free(data);
	}
}

UNIT_MAIN("image",
		  UNIT_CASE(test_sniff_and_names),
		  UNIT_CASE(test_probe_baseline),
		  UNIT_CASE(test_decode_baseline),
		  UNIT_CASE(test_decode_progressive),
		  UNIT_CASE(test_decode_grey),
		  UNIT_CASE(test_exif_rotated_photo),
		  UNIT_CASE(test_all_orientations),
		  UNIT_CASE(test_dct_scale_choice),
		  UNIT_CASE(test_cmyk),
		  UNIT_CASE(test_dataset_sweep),
		  UNIT_CASE(test_sql_fixtures))
