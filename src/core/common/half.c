/*
 * half.c
 *	  float <-> IEEE 754 binary16 (half.h).  Bit manipulation of our own
 *	  from the format's definition (1 sign bit, 5 exponent bits with bias
 *	  15, 10 fraction bits; subnormals below 2^-14).
 */
#include "half.h"

#include <math.h>
#include <string.h>

uint16_t
cv_float_to_half(float f)
{
	uint32_t	x;
	uint32_t	sign,
				exp,
				mant;

	memcpy(&x, &f, 4);
	sign = (x >> 16) & 0x8000u;
	exp = (x >> 23) & 0xFFu;
	mant = x & 0x7FFFFFu;
	if (exp == 0xFF)
		return (uint16_t) (sign | (mant ? 0x7E00u : 0x7BFFu));	/* NaN; inf saturates */
	/* rebias from 127 to 15 */
	if ((int) exp - 127 + 15 >= 0x1F)
		return (uint16_t) (sign | 0x7BFFu);
	if ((int) exp - 127 + 15 <= 0)
	{
		/* subnormal half (or zero): shift the mantissa with its hidden bit */
		int			shift = 14 - ((int) exp - 127 + 15);	/* >= 14 */
		uint32_t	m = mant | 0x800000u;
		uint32_t	h,
					rem,
					halfway;

		if (exp == 0 || shift > 24)
			return (uint16_t) sign;
		h = m >> shift;
		rem = m & ((1u << shift) - 1);
		halfway = 1u << (shift - 1);
		if (rem > halfway || (rem == halfway && (h & 1)))
			h++;
		return (uint16_t) (sign | h);
	}
	{
		uint32_t	h = ((exp - 127 + 15) << 10) | (mant >> 13);
		uint32_t	rem = mant & 0x1FFFu;

		if (rem > 0x1000u || (rem == 0x1000u && (h & 1)))
			h++;				/* may carry into the exponent: still right */
		if ((h & 0x7FFFu) >= 0x7C00u)
			h = 0x7BFFu;		/* rounded up past the largest finite half */
		return (uint16_t) (sign | h);
	}
}

float
cv_half_to_float(uint16_t h)
{
	uint32_t	sign = (uint32_t) (h & 0x8000u) << 16;
	uint32_t	exp = (h >> 10) & 0x1Fu;
	uint32_t	mant = h & 0x3FFu;
	uint32_t	x;
	float		f;

	if (exp == 0)
	{
		/* zero or subnormal: mant * 2^-24 */
		f = ldexpf((float) mant, -24);
		return sign ? -f : f;
	}
	if (exp == 0x1F)
		x = sign | 0x7F800000u | (mant << 13);
	else
		x = sign | ((exp - 15 + 127) << 23) | (mant << 13);
	memcpy(&f, &x, 4);
	return f;
}

void
cv_half_encode(const float *in, size_t n, uint8_t *out)
{
	for (size_t i = 0; i < n; i++)
	{
		uint16_t	h = cv_float_to_half(in[i]);

		out[2 * i] = (uint8_t) (h & 0xFF);
		out[2 * i + 1] = (uint8_t) (h >> 8);
	}
}

void
cv_half_decode(const uint8_t *in, size_t n, float *out)
{
	for (size_t i = 0; i < n; i++)
		out[i] = cv_half_to_float((uint16_t) (in[2 * i] | (in[2 * i + 1] << 8)));
}

void
cv_half_round(float *v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		v[i] = cv_half_to_float(cv_float_to_half(v[i]));
}
