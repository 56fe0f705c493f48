/*
 * dequant.c
 *	  Constants of a TFLite file to float32, once at load: the executor
 *	  computes in float with weights held as float (see nn.h).
 *
 * real = (q - zero_point) * scale (schema.fbs, QuantizationParameters),
 * with one (scale, zero_point) per tensor or one per index along
 * quantized_dimension (per-channel int8 weights).  float16 constants are
 * widened.  Scales are checked to be finite: a NaN scale would silently
 * poison every score.
 */
#include "nn_internal.h"

#include <math.h>
#include <string.h>

/* IEEE half to float, including subnormals, infinities and NaN. */
static float
half_to_float(uint16_t h)
{
	uint32_t	sign = (uint32_t) (h >> 15) << 31;
	uint32_t	exp = (h >> 10) & 0x1f;
	uint32_t	man = h & 0x3ff;
	uint32_t	bits;
	float		f;

	if (exp == 0)
	{
		/* zero or subnormal: man * 2^-24 */
		f = (float) man * 5.9604644775390625e-8f;
		return sign ? -f : f;
	}
	if (exp == 31)
		bits = sign | 0x7f800000u | (man << 13);
	else
		bits = sign | ((exp + 112) << 23) | (man << 13);
	memcpy(&f, &bits, 4);
	return f;
}

static int64_t
raw_int(const tfl_tensor *t, size_t i)
{
	const uint8_t *p = t->data;

	switch (t->type)
	{
		case TFL_UINT8:
			return p[i];
		case TFL_INT8:
			return (int8_t) p[i];
		case TFL_INT16:
			{
				int16_t		v;

				memcpy(&v, p + 2 * i, 2);
				return v;
			}
		case TFL_INT32:
			{
				int32_t		v;

				memcpy(&v, p + 4 * i, 4);
				return v;
			}
		default:
			{
				int64_t		v;

				memcpy(&v, p + 8 * i, 8);
				return v;
			}
	}
}

cv_status
nn_dequantize(const tfl_tensor *t, int index, float *out, cv_error *err)
{
	size_t		inner = 1,
				channels = 1;

	if (t->data == NULL)
		return cv_fail(err, CV_ERR_CORRUPT,
					   "tflite file is corrupt: constant tensor %d has no data", index);
	switch (t->type)
	{
		case TFL_FLOAT32:
			memcpy(out, t->data, t->count * 4);
			for (size_t i = 0; i < t->count; i++)
				if (!isfinite(out[i]))
					return cv_fail(err, CV_ERR_DATA,
								   "tflite tensor %d holds a non-finite weight", index);
			return CV_OK;
		case TFL_FLOAT16:
			for (size_t i = 0; i < t->count; i++)
			{
				uint16_t	h;

				memcpy(&h, t->data + 2 * i, 2);
				out[i] = half_to_float(h);
				if (!isfinite(out[i]))
					return cv_fail(err, CV_ERR_DATA,
								   "tflite tensor %d holds a non-finite weight", index);
			}
			return CV_OK;
		case TFL_UINT8:
		case TFL_INT8:
		case TFL_INT16:
		case TFL_INT32:
		case TFL_INT64:
			break;
		default:
			return cv_fail(err, CV_ERR_UNSUPPORTED,
						   "tflite weights of type %s (tensor %d) are not supported",
						   tfl_type_name(t->type), index);
	}
	if (t->nquant == 0)
		return cv_fail(err, CV_ERR_UNSUPPORTED,
					   "tflite integer weights without quantization (tensor %d) are not supported",
					   index);
	for (int q = 0; q < t->nquant; q++)
	{
		float		s = fb_vector_f32(&t->scale, (uint32_t) q);

		if (!isfinite(s))
			return cv_fail(err, CV_ERR_DATA,
						   "tflite tensor %d has a non-finite quantization scale", index);
	}
	if (t->nquant > 1)
	{
		channels = (size_t) t->nquant;
		for (int d = t->qdim + 1; d < t->rank; d++)
			inner *= (size_t) t->dims[d];
	}
	for (size_t i = 0; i < t->count; i++)
	{
		uint32_t	c = (uint32_t) (channels > 1 ? (i / inner) % channels : 0);
		double		scale = fb_vector_f32(&t->scale, c);
		int64_t		zp = t->zero_point.count ? fb_vector_i64(&t->zero_point, c) : 0;

		/* in double: int32 biases times tiny scales lose nothing */
		out[i] = (float) (((double) raw_int(t, i) - (double) zp) * scale);
	}
	return CV_OK;
}

cv_status
nn_const_ints(const tfl_tensor *t, int index, int64_t *out, size_t max, cv_error *err)
{
	if (t->data == NULL)
		return cv_fail(err, CV_ERR_UNSUPPORTED,
					   "tflite tensor %d must be a constant", index);
	if (t->type != TFL_INT32 && t->type != TFL_INT64)
		return cv_fail(err, CV_ERR_UNSUPPORTED,
					   "tflite tensor %d must be int32 or int64, not %s", index,
					   tfl_type_name(t->type));
	if (t->count > max)
		return cv_fail(err, CV_ERR_CORRUPT,
					   "tflite file is corrupt: tensor %d has %zu elements, at most %zu expected",
					   index, t->count, max);
	for (size_t i = 0; i < t->count; i++)
		out[i] = raw_int(t, i);
	return CV_OK;
}
