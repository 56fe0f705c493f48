/*
 * image_bmp.c
 *	  A small, strict BMP reader: 24-bit and 32-bit uncompressed (BI_RGB) or
 *	  BI_BITFIELDS with byte-aligned masks, bottom-up or top-down.
 *
 * No system library reads BMP from memory, and the subset that real
 * datasets use is small, so this is our own parser.  Everything in a BMP
 * header is a number an attacker chooses: every offset and size is checked
 * against the buffer length in 64-bit arithmetic before a byte is read.
 * The probe does the complete check of the pixel array's extent, so once it
 * succeeds decoding cannot read out of bounds (and validation needs no more).
 *
 * Layout: a 14-byte file header ("BM", file size, reserved, pixel offset),
 * then the DIB header whose first field is its own size: 40 (INFO), 52/56
 * (Adobe's INFO + masks), 108 (V4) or 124 (V5).  Colour masks follow a
 * 40-byte header and are part of the longer ones, at the same file offset.
 * Rows are padded to 4 bytes; a positive height means bottom-up rows.
 */
#include "image_internal.h"

#include <inttypes.h>
#include <string.h>

#define BMP_FILE_HEADER 14
#define BI_RGB			0
#define BI_RLE8			1
#define BI_RLE4			2
#define BI_BITFIELDS	3
#define BI_JPEG			4
#define BI_PNG			5
#define BI_ALPHABITFIELDS 6

/* What the decoder needs, all validated by parse_header. */
typedef struct bmp_layout
{
	int			width;
	int			height;			/* absolute */
	bool		top_down;
	int			bytes_per_pixel;	/* 3 or 4 */
	int			shift[3];		/* R, G, B: bit offset of each 8-bit field */
	uint64_t	offset;			/* of the first stored row */
	uint64_t	stride;
} bmp_layout;

static uint32_t
le16(const uint8_t *p)
{
	return (uint32_t) p[0] | ((uint32_t) p[1] << 8);
}

static uint32_t
le32(const uint8_t *p)
{
	return (uint32_t) p[0] | ((uint32_t) p[1] << 8) | ((uint32_t) p[2] << 16) |
		((uint32_t) p[3] << 24);
}

static const char *
compression_name(uint32_t c)
{
	switch (c)
	{
		case BI_RLE8:
			return "RLE8";
		case BI_RLE4:
			return "RLE4";
		case BI_JPEG:
			return "embedded JPEG";
		case BI_PNG:
			return "embedded PNG";
		default:
			return NULL;
	}
}

/* Bit offset of a mask that selects one whole byte, or -1. */
static int
mask_shift(uint32_t mask)
{
	for (int s = 0; s < 32; s += 8)
		if (mask == (uint32_t) 0xFF << s)
			return s;
	return -1;
}

static cv_status
parse_header(const uint8_t *data, size_t len, uint64_t max_pixels,
			 bmp_layout *lay, cv_image_info *info, cv_error *err)
{
	uint32_t	dib_size;
	int32_t		width;
	int32_t		height;
	uint32_t	planes;
	uint32_t	bpp;
	uint32_t	compression;
	uint64_t	pixel_offset;
	uint64_t	headers_end;
	uint64_t	needed;
	cv_status	st;

	if (len < BMP_FILE_HEADER + 4)
		return cv_fail(err, CV_ERR_CORRUPT, "truncated BMP header");
	dib_size = le32(data + 14);
	if (dib_size == 12 || dib_size == 64)
		return cv_fail(err, CV_ERR_UNSUPPORTED,
					   "OS/2 BMP headers (%u bytes) are not supported", (unsigned) dib_size);
	if (dib_size != 40 && dib_size != 52 && dib_size != 56 && dib_size != 108 &&
		dib_size != 124)
		return cv_fail(err, CV_ERR_CORRUPT, "BMP header size %u is invalid", (unsigned) dib_size);
	if ((uint64_t) BMP_FILE_HEADER + dib_size > len)
		return cv_fail(err, CV_ERR_CORRUPT, "truncated BMP header");

	width = (int32_t) le32(data + 18);
	height = (int32_t) le32(data + 22);
	planes = le16(data + 26);
	bpp = le16(data + 28);
	compression = le32(data + 30);

	/* INT32_MIN has no positive counterpart: reject before negating */
	if (height == INT32_MIN)
		return cv_fail(err, CV_ERR_CORRUPT, "BMP height is invalid");
	lay->top_down = height < 0;
	lay->width = width;
	lay->height = height < 0 ? -height : height;

	info->format = CV_FORMAT_BMP;
	info->stored_width = info->width = lay->width;
	info->stored_height = info->height = lay->height;
	info->orientation = 1;
	info->progressive = false;
	info->channels = bpp == 32 ? 4 : 3;

	st = cv_image_check_size("BMP", width, lay->height, max_pixels, err);
	if (st != CV_OK)
		return st;
	if (planes != 1)
		return cv_fail(err, CV_ERR_CORRUPT, "BMP declares %u colour planes, not 1", (unsigned) planes);

	if (compression_name(compression) != NULL)
		return cv_fail(err, CV_ERR_UNSUPPORTED, "%s-compressed BMP is not supported",
					   compression_name(compression));
	if (compression != BI_RGB && compression != BI_BITFIELDS &&
		compression != BI_ALPHABITFIELDS)
		return cv_fail(err, CV_ERR_CORRUPT, "BMP compression %u is invalid", (unsigned) compression);
	if (bpp != 24 && bpp != 32)
		return cv_fail(err, CV_ERR_UNSUPPORTED,
					   "BMP with %u bits per pixel is not supported (only 24 and 32)",
					   (unsigned) bpp);
	if (bpp == 24 && compression != BI_RGB)
		return cv_fail(err, CV_ERR_UNSUPPORTED, "24-bit BMP with bit masks is not supported");

	lay->bytes_per_pixel = (int) bpp / 8;
	headers_end = BMP_FILE_HEADER + (uint64_t) dib_size;
	if (compression == BI_RGB)
	{
		/* 32-bit BI_RGB is B, G, R, unused */
		lay->shift[0] = 16;
		lay->shift[1] = 8;
		lay->shift[2] = 0;
	}
	else
	{
		const uint8_t *masks = data + BMP_FILE_HEADER + 40;

		/* a bare INFO header is followed by the masks; longer ones hold them */
		if (dib_size == 40)
		{
			headers_end += compression == BI_ALPHABITFIELDS ? 16 : 12;
			if (headers_end > len)
				return cv_fail(err, CV_ERR_CORRUPT, "truncated BMP colour masks");
		}
		for (int c = 0; c < 3; c++)
		{
			uint32_t	mask = le32(masks + 4 * c);

			lay->shift[c] = mask_shift(mask);
			if (lay->shift[c] < 0)
				return cv_fail(err, CV_ERR_UNSUPPORTED,
							   "BMP colour mask 0x%08x is not supported (only whole bytes)",
							   (unsigned) mask);
		}
	}

	pixel_offset = le32(data + 10);
	if (pixel_offset < headers_end)
		return cv_fail(err, CV_ERR_CORRUPT,
					   "BMP pixel data offset %" PRIu64 " points inside the headers",
					   pixel_offset);
	/* width < 2^31 and bpp <= 32: no 64-bit overflow anywhere below */
	lay->stride = (((uint64_t) lay->width * bpp + 31) / 32) * 4;
	/* the last row need not be padded: some writers stop at its last pixel */
	needed = lay->stride * (uint64_t) (lay->height - 1) +
		(uint64_t) lay->width * lay->bytes_per_pixel;
	if (pixel_offset > len || needed > len - pixel_offset)
		return cv_fail(err, CV_ERR_CORRUPT,
					   "BMP pixel data (%" PRIu64 " bytes at offset %" PRIu64
					   ") runs past the end of the data (%zu bytes)",
					   needed, pixel_offset, len);
	lay->offset = pixel_offset;
	return CV_OK;
}

cv_status
cv_bmp_probe(const uint8_t *data, size_t len, uint64_t max_pixels,
			 cv_image_info *info, cv_error *err)
{
	bmp_layout	lay;

	return parse_header(data, len, max_pixels, &lay, info, err);
}

cv_status
cv_bmp_decode(const uint8_t *data, size_t len, uint64_t max_pixels,
			  cv_rgb_image *out, cv_error *err)
{
	bmp_layout	lay;
	cv_image_info info;
	cv_status	st;

	memset(&info, 0, sizeof(info));
	st = parse_header(data, len, max_pixels, &lay, &info, err);
	if (st != CV_OK)
		return st;
	st = cv_rgb_image_alloc(out, lay.width, lay.height, err);
	if (st != CV_OK)
		return st;

	for (int y = 0; y < lay.height; y++)
	{
		int			stored_row = lay.top_down ? y : lay.height - 1 - y;
		const uint8_t *src = data + lay.offset + (uint64_t) stored_row * lay.stride;
		uint8_t    *dst = out->pixels + (size_t) y * lay.width * 3;

		if (lay.bytes_per_pixel == 3)
		{
			for (int x = 0; x < lay.width; x++, src += 3, dst += 3)
			{
				dst[0] = src[2];
				dst[1] = src[1];
				dst[2] = src[0];
			}
		}
		else
		{
			for (int x = 0; x < lay.width; x++, src += 4, dst += 3)
			{
				uint32_t	px = le32(src);

				dst[0] = (uint8_t) (px >> lay.shift[0]);
				dst[1] = (uint8_t) (px >> lay.shift[1]);
				dst[2] = (uint8_t) (px >> lay.shift[2]);
			}
		}
	}
	return CV_OK;
}
