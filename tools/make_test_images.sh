#!/bin/sh
# make_test_images.sh
#   Regenerate test/data/images/: small image fixtures for the SQL regression
#   tests (loaded with pg_read_binary_file).  Sources are small crops of the
#   shared photos; encoders are Debian's netpbm and libjpeg-turbo-progs.  The
#   few files no command-line tool can write (CMYK JPEG, EXIF splice, 32-bit
#   top-down BMP, RLE8 BMP, headers that lie) come from a tiny C helper
#   compiled here into a temporary directory.  Deterministic and rerunnable:
#   running it again gives byte-identical files.
#
#   usage: tools/make_test_images.sh            (from the repository root)
#   needs: netpbm libjpeg-turbo-progs libjpeg62-turbo-dev cc xxd
#   env:   PGVISION_SHARED (default ../shared)
set -eu

ROOT=$(cd "$(dirname "$0")/.." && pwd)
SHARED=${PGVISION_SHARED:-$ROOT/../shared}
OUT=$ROOT/test/data/images
SRC=$SHARED/datasets/fruit-od/images/apple_19.jpg	# 1600x1200 baseline photo
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT

mkdir -p "$OUT"
cat > "$WORK/helper.c" <<'EOF'
/* Writers for the fixtures no Debian tool produces; see make_test_images.sh. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <jpeglib.h>

static unsigned char *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	unsigned char *b;
	long n;

	if (!f) { perror(path); exit(1); }
	fseek(f, 0, SEEK_END); n = ftell(f); fseek(f, 0, SEEK_SET);
	b = malloc(n);
	if (fread(b, 1, n, f) != (size_t) n) { perror(path); exit(1); }
	fclose(f);
	*len = (size_t) n;
	return b;
}

static void be32(unsigned char *p, unsigned v) { p[0] = v >> 24; p[1] = v >> 16; p[2] = v >> 8; p[3] = v; }
static void le16(unsigned char *p, unsigned v) { p[0] = v; p[1] = v >> 8; }
static void le32(unsigned char *p, unsigned v) { le16(p, v & 0xFFFF); le16(p + 2, v >> 16); }

static unsigned crc32(const unsigned char *p, size_t n)
{
	unsigned c = 0xFFFFFFFFu;
	for (size_t i = 0; i < n; i++) {
		c ^= p[i];
		for (int k = 0; k < 8; k++) c = (c >> 1) ^ (0xEDB88320u & (0u - (c & 1)));
	}
	return c ^ 0xFFFFFFFFu;
}

static void chunk(const char *type, const unsigned char *d, unsigned n)
{
	unsigned char h[8], t[4];
	unsigned char *buf = malloc(4 + n);
	be32(h, n); memcpy(h + 4, type, 4);
	memcpy(buf, type, 4); if (n) memcpy(buf + 4, d, n);
	be32(t, crc32(buf, 4 + n));
	fwrite(h, 1, 8, stdout); fwrite(d, 1, n, stdout); fwrite(t, 1, 4, stdout);
	free(buf);
}

/* binary P6 with maxval 255, as djpeg/netpbm write it */
static unsigned char *read_ppm(const char *path, int *w, int *h)
{
	size_t len; unsigned char *b = slurp(path, &len); int maxv, off;
	if (sscanf((char *) b, "P6 %d %d %d%n", w, h, &maxv, &off) != 3 || maxv != 255) { fprintf(stderr, "bad ppm\n"); exit(1); }
	return b + off + 1;
}

int main(int argc, char **argv)
{
	const char *cmd = argc > 1 ? argv[1] : "";

	if (!strcmp(cmd, "exif") && argc == 4) {
		/* APP1 "Exif" with IFD0 holding only Orientation, right after SOI */
		size_t len; unsigned char *j = slurp(argv[2], &len);
		unsigned char seg[] = {0xFF, 0xE1, 0, 34, 'E', 'x', 'i', 'f', 0, 0,
			'M', 'M', 0, 42, 0, 0, 0, 8, 0, 1,
			0x01, 0x12, 0, 3, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0};
		seg[29] = (unsigned char) atoi(argv[3]);
		fwrite(j, 1, 2, stdout); fwrite(seg, 1, sizeof(seg), stdout); fwrite(j + 2, 1, len - 2, stdout);
	} else if (!strcmp(cmd, "cmyk") && argc == 3) {
		/* Adobe-style CMYK JPEG: inks stored inverted (255 = no ink) */
		int w, h; unsigned char *rgb = read_ppm(argv[2], &w, &h);
		struct jpeg_compress_struct c; struct jpeg_error_mgr e;
		unsigned char *row = malloc(w * 4);
		c.err = jpeg_std_error(&e);
		jpeg_create_compress(&c);
		jpeg_stdio_dest(&c, stdout);
		c.image_width = w; c.image_height = h; c.input_components = 4; c.in_color_space = JCS_CMYK;
		jpeg_set_defaults(&c);
		jpeg_set_colorspace(&c, JCS_YCCK);	/* what Photoshop writes; Adobe marker included */
		jpeg_set_quality(&c, 90, TRUE);
		jpeg_start_compress(&c, TRUE);
		while (c.next_scanline < c.image_height) {
			const unsigned char *s = rgb + (size_t) c.next_scanline * w * 3;
			for (int x = 0; x < w; x++) {
				int r = s[3 * x], g = s[3 * x + 1], b = s[3 * x + 2];
				int mx = r > g ? (r > b ? r : b) : (g > b ? g : b);
				/* inverted inks: c = 255 - C = r * 255 / max, k = 255 - K = max */
				row[4 * x] = mx ? r * 255 / mx : 255;
				row[4 * x + 1] = mx ? g * 255 / mx : 255;
				row[4 * x + 2] = mx ? b * 255 / mx : 255;
				row[4 * x + 3] = mx;
			}
			jpeg_write_scanlines(&c, &row, 1);
		}
		jpeg_finish_compress(&c);
	} else if (!strcmp(cmd, "huge-png") && argc == 4) {
		/* valid signature, IHDR (8-bit RGB) and CRCs; an empty zlib stream */
		static const unsigned char sig[8] = {0x89, 'P', 'N', 'G', 13, 10, 26, 10};
		static const unsigned char z[8] = {0x78, 0x9c, 0x03, 0, 0, 0, 0, 1};
		unsigned char ihdr[13] = {0, 0, 0, 0, 0, 0, 0, 0, 8, 2, 0, 0, 0};
		be32(ihdr, atoi(argv[2])); be32(ihdr + 4, atoi(argv[3]));
		fwrite(sig, 1, 8, stdout);
		chunk("IHDR", ihdr, 13); chunk("IDAT", z, 8); chunk("IEND", NULL, 0);
	} else if (!strcmp(cmd, "huge-jpeg") && argc == 5) {
		/* rewrite the SOF dimensions of a real JPEG */
		size_t len, p = 2; unsigned char *j = slurp(argv[2], &len);
		while (p + 9 < len && j[p] == 0xFF && !(j[p + 1] >= 0xC0 && j[p + 1] <= 0xC2))
			p += 2 + (j[p + 2] << 8 | j[p + 3]);
		if (p + 9 >= len || j[p] != 0xFF) { fprintf(stderr, "no SOF\n"); return 1; }
		j[p + 5] = atoi(argv[4]) >> 8; j[p + 6] = atoi(argv[4]);
		j[p + 7] = atoi(argv[3]) >> 8; j[p + 8] = atoi(argv[3]);
		fwrite(j, 1, len, stdout);
	} else if (!strcmp(cmd, "bad-crc") && argc == 3) {
		/* damage the stored CRC of the first IDAT */
		size_t len, p = 8; unsigned char *b = slurp(argv[2], &len);
		while (p + 12 <= len) {
			unsigned n = b[p] << 24 | b[p + 1] << 16 | b[p + 2] << 8 | b[p + 3];
			if (!memcmp(b + p + 4, "IDAT", 4)) { b[p + 8 + n] ^= 0xFF; break; }
			p += 12 + n;
		}
		fwrite(b, 1, len, stdout);
	} else if (!strcmp(cmd, "bmp32td") && argc == 3) {
		/* 32-bit BI_RGB, top-down (negative height), BGRX */
		int w, h; unsigned char *rgb = read_ppm(argv[2], &w, &h);
		unsigned char hd[54] = {'B', 'M'};
		le32(hd + 2, 54 + w * h * 4); le32(hd + 10, 54); le32(hd + 14, 40);
		le32(hd + 18, w); le32(hd + 22, (unsigned) -h); le16(hd + 26, 1); le16(hd + 28, 32);
		le32(hd + 34, w * h * 4); le32(hd + 38, 2835); le32(hd + 42, 2835);
		fwrite(hd, 1, 54, stdout);
		for (int i = 0; i < w * h; i++) {
			unsigned char px[4] = {rgb[3 * i + 2], rgb[3 * i + 1], rgb[3 * i], 0};
			fwrite(px, 1, 4, stdout);
		}
	} else if (!strcmp(cmd, "rle8") && argc == 2) {
		/* a valid 8x2 BI_RLE8 BMP with a 2-colour palette */
		unsigned char hd[54] = {'B', 'M'};
		static const unsigned char pal[8] = {0, 0, 255, 0, 255, 0, 0, 0};
		static const unsigned char rle[] = {8, 0, 0, 0, 8, 1, 0, 1};	/* run, EOL, run, EOF */
		le32(hd + 2, 54 + 8 + sizeof(rle)); le32(hd + 10, 54 + 8); le32(hd + 14, 40);
		le32(hd + 18, 8); le32(hd + 22, 2); le16(hd + 26, 1); le16(hd + 28, 8);
		le32(hd + 30, 1); le32(hd + 34, sizeof(rle)); le32(hd + 46, 2);
		fwrite(hd, 1, 54, stdout); fwrite(pal, 1, 8, stdout); fwrite(rle, 1, sizeof(rle), stdout);
	} else if (!strcmp(cmd, "random") && argc == 3) {
		/* fixed-seed noise: deterministic, so reruns change nothing */
		unsigned s = 20261125u;
		for (int i = 0; i < atoi(argv[2]); i++) { s = s * 1103515245u + 12345u; putchar(s >> 16); }
	} else {
		fprintf(stderr, "usage: helper exif|cmyk|huge-png|huge-jpeg|bad-crc|bmp32td|rle8|random ...\n");
		return 2;
	}
	return 0;
}
EOF
cc -O2 -o "$WORK/helper" "$WORK/helper.c" -ljpeg
H=$WORK/helper

# 64x48 colour and 16-bit alpha ramp sources: a 4:3 photo scaled down
djpeg -ppm -scale 1/8 "$SRC" | pamscale -width 64 -height 48 > "$WORK/tiny.ppm"
pgmramp -lr 64 48 | pamdepth 65535 > "$WORK/alpha16.pgm"

cd "$OUT"
cjpeg -quality 85 "$WORK/tiny.ppm" > tiny.jpg
ppmtopgm "$WORK/tiny.ppm" | cjpeg -quality 85 > gray.jpg
cjpeg -quality 85 -progressive "$WORK/tiny.ppm" > progressive.jpg
"$H" exif tiny.jpg 6 > rotated.jpg
"$H" cmyk "$WORK/tiny.ppm" > cmyk.jpg
pnmtopng "$WORK/tiny.ppm" > tiny.png 2>/dev/null
pnmquant 16 "$WORK/tiny.ppm" 2>/dev/null | pnmtopng > palette.png 2>/dev/null
pamdepth 65535 "$WORK/tiny.ppm" | pamfunc -adder=3 | pnmtopng -alpha="$WORK/alpha16.pgm" > rgba16.png 2>/dev/null
pnmtopng -interlace "$WORK/tiny.ppm" > interlaced.png 2>/dev/null
ppmtopgm "$WORK/tiny.ppm" | pgmtopbm -threshold | pnmtopng > gray1.png 2>/dev/null
ppmtobmp -bpp=24 "$WORK/tiny.ppm" > tiny24.bmp 2>/dev/null
"$H" bmp32td "$WORK/tiny.ppm" > tiny32.bmp
head -c $(( $(wc -c < tiny.jpg) / 2 )) tiny.jpg > truncated.jpg
head -c $(( $(wc -c < tiny.png) / 2 )) tiny.png > truncated.png
"$H" huge-png 100000 100000 > huge.png
"$H" huge-jpeg tiny.jpg 65500 65500 > huge.jpg
"$H" random 1024 > random.bin
"$H" rle8 > rle8.bmp
"$H" bad-crc tiny.png > crc.png

# Guard the properties the tests rely on (pnmtopng picks depth/colour type itself).
ihdr() { xxd -s 24 -l 5 -p "$1"; }	# depth, colour type, compression, filter, interlace
check() { [ "$2" = "$3" ] || { echo "make_test_images: $1 is $2, expected $3" >&2; exit 1; }; }
check tiny.png "$(ihdr tiny.png)" 0802000000
check palette.png "$(ihdr palette.png)" 0403000000
check rgba16.png "$(ihdr rgba16.png)" 1006000000
check interlaced.png "$(ihdr interlaced.png)" 0802000001
check gray1.png "$(ihdr gray1.png)" 0100000000
check progressive.jpg "$(djpeg -verbose progressive.jpg 2>&1 >/dev/null | grep -c 'Start Of Frame 0xc2')" 1
for f in *.jpg *.png *.bmp *.bin; do
	[ "$(wc -c < "$f")" -lt 20000 ] || { echo "make_test_images: $f is not small" >&2; exit 1; }
done
ls -l "$OUT"
