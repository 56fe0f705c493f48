/*
 * half.h
 *	  IEEE 754 binary16 ("half") storage of float arrays: the cached feature
 *	  maps of detection projects take two bytes a value.
 *
 * Conversion rounds to nearest, ties to even; values beyond the half range
 * become +-65504 (the largest finite half) rather than infinity, NaN stays
 * NaN.  Bytes are little-endian.  Pure functions.
 */
#ifndef CV_HALF_H
#define CV_HALF_H

#include "cv_common.h"

uint16_t	cv_float_to_half(float f);
float		cv_half_to_float(uint16_t h);

/* n floats to 2n bytes, and back. */
void		cv_half_encode(const float *in, size_t n, uint8_t *out);
void		cv_half_decode(const uint8_t *in, size_t n, float *out);

/* Replace each value by the float its half stands for (in place). */
void		cv_half_round(float *values, size_t n);

#endif							/* CV_HALF_H */
