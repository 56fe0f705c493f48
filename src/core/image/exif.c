/*
 * exif.c
 *	  Find the EXIF Orientation tag (0x0112) in a TIFF-structured block.
 *
 * Only IFD0 is read: Orientation lives there, and ignoring the rest (sub-
 * IFDs, maker notes, thumbnails) keeps the attack surface small.  Every
 * offset comes from the file, so each one is checked against the block
 * length before it is followed; any inconsistency yields 1 (upright),
 * because a broken metadata block must not make an otherwise good photo
 * unreadable.
 */
#include "exif.h"

#include <stdbool.h>
#include <string.h>

#define TIFF_SHORT	3
#define TIFF_LONG	4
#define TAG_ORIENTATION 0x0112

static uint32_t
read_u16(const uint8_t *p, bool big_endian)
{
	return big_endian ? ((uint32_t) p[0] << 8) | p[1]
		: ((uint32_t) p[1] << 8) | p[0];
}

static uint32_t
read_u32(const uint8_t *p, bool big_endian)
{
	return big_endian
		? ((uint32_t) p[0] << 24) | ((uint32_t) p[1] << 16) | ((uint32_t) p[2] << 8) | p[3]
		: ((uint32_t) p[3] << 24) | ((uint32_t) p[2] << 16) | ((uint32_t) p[1] << 8) | p[0];
}

int
cv_exif_orientation(const uint8_t *data, size_t len)
{
	bool		big_endian;
	uint32_t	ifd;
	uint32_t	count;

	if (data == NULL)
		return 1;
	/* JPEG APP1 payloads (and some PNG eXIf writers) keep the "Exif" prefix */
	if (len >= 6 && memcmp(data, "Exif\0\0", 6) == 0)
	{
		data += 6;
		len -= 6;
	}
	if (len < 8)
		return 1;
	if (data[0] == 'I' && data[1] == 'I')
		big_endian = false;
	else if (data[0] == 'M' && data[1] == 'M')
		big_endian = true;
	else
		return 1;
	if (read_u16(data + 2, big_endian) != 42)
		return 1;

	ifd = read_u32(data + 4, big_endian);
	/* 64-bit arithmetic: ifd + 2 cannot wrap */
	if (ifd < 8 || (uint64_t) ifd + 2 > len)
		return 1;
	count = read_u16(data + ifd, big_endian);

	for (uint32_t i = 0; i < count; i++)
	{
		uint64_t	entry = (uint64_t) ifd + 2 + (uint64_t) i * 12;
		const uint8_t *e;
		uint32_t	type;
		uint32_t	value;

		if (entry + 12 > len)
			return 1;
		e = data + entry;
		if (read_u16(e, big_endian) != TAG_ORIENTATION)
			continue;
		type = read_u16(e + 2, big_endian);
		if (read_u32(e + 4, big_endian) < 1)
			return 1;
		/* values of 4 bytes or less sit in the entry itself, left-aligned */
		if (type == TIFF_SHORT)
			value = read_u16(e + 8, big_endian);
		else if (type == TIFF_LONG)
			value = read_u32(e + 8, big_endian);
		else
			return 1;
		return (value >= 1 && value <= 8) ? (int) value : 1;
	}
	return 1;
}
