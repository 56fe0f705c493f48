/*
 * exif.h
 *	  Internal: find the Orientation tag in an EXIF block.
 *
 * Shared by the JPEG (APP1 "Exif\0\0") and PNG (eXIf) readers.  EXIF data
 * comes from untrusted files and is optional metadata, so malformed input is
 * never an error: the answer is then simply 1 (upright).
 */
#ifndef CV_EXIF_H
#define CV_EXIF_H

#include <stddef.h>
#include <stdint.h>

/*
 * Orientation 1..8 from a TIFF-structured EXIF block (starting at "II*\0"
 * or "MM\0*"; a leading "Exif\0\0" is skipped).  Returns 1 when the tag is
 * absent, out of range or the structure is malformed.
 */
int			cv_exif_orientation(const uint8_t *data, size_t len);

#endif							/* CV_EXIF_H */
