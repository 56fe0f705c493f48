/*
 * test_image_util.h
 *	  Helpers shared by the test_image*.c programs: running the system's
 *	  reference decoders (djpeg, pngtopnm, bmptopnm, netpbm filters) through
 *	  popen, parsing their PNM output into RGB, temporary files, CRC-32 for
 *	  crafting PNG chunks, and a counting allocator.
 *
 * References are produced at test time by independent tools, never stored,
 * so a wrong decoder cannot agree with a wrong fixture.  Functions are
 * static inline so each test program compiles only what it uses without
 * unused-function warnings.
 */
#ifndef TEST_IMAGE_UTIL_H
#define TEST_IMAGE_UTIL_H

#include "unit.h"
#include "image/image.h"

#include <ctype.h>
#include <stdint.h>
#include <unistd.h>

/* Run a shell command and capture its stdout; NULL on failure. */
static inline unsigned char *
tu_run(const char *cmd, size_t *len)
{
	FILE	   *p = popen(cmd, "r");
	unsigned char *buf = NULL;
	size_t		cap = 0,
				n = 0;

	if (p == NULL)
		return NULL;
	for (;;)
	{
		size_t		got;

		if (n == cap)
		{
			unsigned char *nb;

			cap = cap ? cap * 2 : 1 << 16;
			nb = realloc(buf, cap);
			if (nb == NULL)
				break;
			buf = nb;
		}
		got = fread(buf + n, 1, cap - n, p);
		if (got == 0)
			break;
		n += got;
	}
	if (pclose(p) != 0 || n == 0)
	{
		free(buf);
		return NULL;
	}
	*len = n;
	return buf;
}

/* Run a command for its side effects; true when it exits 0. */
static inline bool
tu_sh(const char *cmd)
{
	return system(cmd) == 0;
}

static inline const unsigned char *
tu_pnm_token(const unsigned char *p, const unsigned char *end, long *value)
{
	for (;;)
	{
		while (p < end && isspace(*p))
			p++;
		if (p < end && *p == '#')
		{
			while (p < end && *p != '\n')
				p++;
			continue;
		}
		break;
	}
	*value = 0;
	if (p >= end || !isdigit(*p))
		return NULL;
	while (p < end && isdigit(*p))
		*value = *value * 10 + (*p++ - '0');
	return p;
}

/*
 * Parse P4 (bitmap, 1 = black), P5 (grey) or P6 (colour), any maxval, into
 * 8-bit RGB: 16-bit samples keep their high byte (as libpng's strip_16),
 * small maxvals are scaled exactly (v * 255 / maxval, as libpng's bit
 * replication does for 1, 3 and 15).  Pixels are malloc'd.
 */
static inline bool
tu_parse_pnm(const unsigned char *buf, size_t len, cv_rgb_image *img)
{
	const unsigned char *p = buf + 2,
			   *end = buf + len;
	long		w,
				h,
				maxval = 1;
	int			kind;

	if (len < 3 || buf[0] != 'P' || buf[1] < '4' || buf[1] > '6')
		return false;
	kind = buf[1] - '0';
	if ((p = tu_pnm_token(p, end, &w)) == NULL || (p = tu_pnm_token(p, end, &h)) == NULL)
		return false;
	if (kind != 4 && (p = tu_pnm_token(p, end, &maxval)) == NULL)
		return false;
	p++;						/* the single whitespace before the raster */
	img->width = (int) w;
	img->height = (int) h;
	img->pixels = malloc((size_t) w * h * 3);
	for (long y = 0; y < h; y++)
		for (long x = 0; x < w; x++)
		{
			uint8_t    *d = img->pixels + (y * w + x) * 3;
			unsigned	v[3];

			if (kind == 4)
			{
				long		rowb = (w + 7) / 8;
				const unsigned char *b = p + y * rowb + x / 8;

				if (b >= end)
					return false;
				v[0] = v[1] = v[2] = ((*b >> (7 - x % 8)) & 1) ? 0 : 255;
			}
			else
			{
				int			comps = kind == 6 ? 3 : 1;
				int			bps = maxval > 255 ? 2 : 1;
				const unsigned char *s = p + (y * w + x) * comps * bps;

				if (s + comps * bps > end)
					return false;
				for (int c = 0; c < 3; c++)
				{
					const unsigned char *q = s + (comps == 3 ? c : 0) * bps;
					unsigned	raw = bps == 2 ? ((unsigned) q[0] << 8 | q[1]) : q[0];

					v[c] = bps == 2 ? raw >> 8 : (unsigned) (raw * 255 / maxval);
				}
			}
			d[0] = (uint8_t) v[0];
			d[1] = (uint8_t) v[1];
			d[2] = (uint8_t) v[2];
		}
	return true;
}

/* Reference decode by a shell command producing PNM; false on failure. */
static inline bool
tu_reference(const char *cmd, cv_rgb_image *img)
{
	size_t		len = 0;
	unsigned char *buf = tu_run(cmd, &len);
	bool		ok;

	memset(img, 0, sizeof(*img));
	if (buf == NULL)
	{
		fprintf(stderr, "reference command failed: %s\n", cmd);
		return false;
	}
	ok = tu_parse_pnm(buf, len, img);
	free(buf);
	if (!ok)
		fprintf(stderr, "reference output is not PNM: %s\n", cmd);
	return ok;
}

static inline void
tu_free_ref(cv_rgb_image *img)
{
	free(img->pixels);
	memset(img, 0, sizeof(*img));
}

/* Number of differing bytes (SIZE_MAX when dimensions differ). */
static inline size_t
tu_diff_bytes(const cv_rgb_image *a, const cv_rgb_image *b, int *max_abs)
{
	size_t		n = 0;

	if (max_abs)
		*max_abs = 0;
	if (a->width != b->width || a->height != b->height || !a->pixels || !b->pixels)
	{
		fprintf(stderr, "size mismatch: %dx%d vs %dx%d\n", a->width, a->height,
				b->width, b->height);
		return SIZE_MAX;
	}
	for (size_t i = 0; i < (size_t) a->width * a->height * 3; i++)
	{
		int			d = abs((int) a->pixels[i] - (int) b->pixels[i]);

		if (d)
			n++;
		if (max_abs && d > *max_abs)
			*max_abs = d;
	}
	return n;
}

/* Write bytes to a fresh file under /tmp; returns its malloc'd path. */
/* (exits when /tmp is unusable) */
static inline char *
tu_write_temp(const void *data, size_t len, const char *suffix)
{
	char	   *path = malloc(256);
	int			fd;

	snprintf(path, 256, "/tmp/pgvision_test_XXXXXX%s", suffix);
	fd = mkstemps(path, (int) strlen(suffix));
	if (fd < 0 || write(fd, data, len) != (ssize_t) len)
	{
		/* nothing sensible to test without /tmp: stop loudly */
		fprintf(stderr, "cannot write a temporary file %s\n", path);
		exit(2);
	}
	close(fd);
	return path;
}

static inline void
tu_remove_temp(char *path)
{
	if (path)
	{
		unlink(path);
		free(path);
	}
}

/* CRC-32 (ISO-HDLC), as PNG chunks use; bitwise, tests only. */
static inline uint32_t
tu_crc32(const unsigned char *p, size_t n)
{
	uint32_t	c = 0xFFFFFFFFu;

	for (size_t i = 0; i < n; i++)
	{
		c ^= p[i];
		for (int k = 0; k < 8; k++)
			c = (c >> 1) ^ (0xEDB88320u & (0u - (c & 1)));
	}
	return c ^ 0xFFFFFFFFu;
}

static inline void
tu_put_be32(unsigned char *p, uint32_t v)
{
	p[0] = (unsigned char) (v >> 24);
	p[1] = (unsigned char) (v >> 16);
	p[2] = (unsigned char) (v >> 8);
	p[3] = (unsigned char) v;
}

/* Load a shared file (NULL and a failed check if it is missing). */
static inline unsigned char *
tu_shared(const char *relative, size_t *len)
{
	unsigned char *buf = unit_read_file(unit_shared_path(relative), len);

	CHECK_MSG(buf != NULL, "missing shared file %s (set PGVISION_SHARED)", relative);
	return buf;
}

#define TU_LIMIT ((uint64_t) 67108864)

/*
 * `make -C test/unit check` runs the programs from test/unit, where the
 * harness's default ../shared does not exist: fall back to the shared folder
 * beside the repository when PGVISION_SHARED is not set.
 */
__attribute__((constructor)) static void
tu_find_shared(void)
{
	if (getenv("PGVISION_SHARED") != NULL || access("../shared/datasets", F_OK) == 0)
		return;
	if (access("../../../shared/datasets", F_OK) == 0)
		setenv("PGVISION_SHARED", "../../../shared", 0);
}

/* Path of a committed fixture in test/data/images (from the root or test/unit). */
static inline const char *
tu_fixture_path(const char *name, char *buf, size_t size)
{
	snprintf(buf, size, "test/data/images/%s", name);
	if (access(buf, F_OK) != 0)
		snprintf(buf, size, "../data/images/%s", name);
	return buf;
}

#endif							/* TEST_IMAGE_UTIL_H */
