/*
 * depthwise.c
 *	  DEPTHWISE_CONV_2D, float32 NHWC, batch 1, any window, stride, dilation
 *	  and padding; written for the cache rather than for sgemm.
 *
 * Depthwise convolution does little arithmetic per byte (9 multiply-adds
 * per input value for 3x3), so the layout decides the speed.  In NHWC the
 * channels of one pixel are contiguous, so the inner loop runs over
 * channels in vectors of 8, and the taps of the window loop around it.
 * Four output pixels of a row are computed together: each weight vector is
 * loaded once for four multiply-adds, and the four independent accumulator
 * chains hide the FMA latency.  Pixels whose window crosses the left or
 * right border take a slower path that skips the missing taps (zero
 * padding); top and bottom borders just shorten the ky range, for free.
 * The channel multiplier (out_c = in_c * m, m > 1) is rare in practice and
 * gets a plain scalar loop.
 */
#include "nn_kernels.h"

#define ALWAYS_INLINE static inline __attribute__((always_inline))

/* One output pixel, taps kx in [kx0, kx1) and ky in [ky0, ky1). */
ALWAYS_INLINE void
dw_pixel(const nn_conv_params *p, const float *in, float *out, int oy, int ox,
		 int ky0, int ky1)
{
	int			c = p->in_c;
	int			iy0 = oy * p->stride_h - p->pad_top;
	int			ix0 = ox * p->stride_w - p->pad_left;
	int			kx0 = 0,
				kx1 = p->k_w;
	float	   *o = out + ((size_t) oy * p->out_w + ox) * c;
	nn_v8		lo = nn_v8_set1(p->act_min),
				hi = nn_v8_set1(p->act_max);
	int			ch = 0;

	while (kx0 < kx1 && ix0 + kx0 * p->dil_w < 0)
		kx0++;
	while (kx1 > kx0 && ix0 + (kx1 - 1) * p->dil_w >= p->in_w)
		kx1--;

	for (; ch + 8 <= c; ch += 8)
	{
		nn_v8		acc = p->bias ? *(const nn_v8 *) (p->bias + ch) : nn_v8_set1(0.0f);

		for (int ky = ky0; ky < ky1; ky++)
		{
			const float *row = in + (size_t) (iy0 + ky * p->dil_h) * p->in_w * c;

			for (int kx = kx0; kx < kx1; kx++)
				acc += *(const nn_v8 *) (row + (size_t) (ix0 + kx * p->dil_w) * c + ch) *
					*(const nn_v8 *) (p->weights + (size_t) (ky * p->k_w + kx) * c + ch);
		}
		*(nn_v8 *) (o + ch) = nn_v8_clamp(acc, lo, hi);
	}
	for (; ch < c; ch++)
	{
		float		acc = p->bias ? p->bias[ch] : 0.0f;

		for (int ky = ky0; ky < ky1; ky++)
			for (int kx = kx0; kx < kx1; kx++)
				acc += in[((size_t) (iy0 + ky * p->dil_h) * p->in_w + ix0 + kx * p->dil_w) * c + ch] *
					p->weights[(size_t) (ky * p->k_w + kx) * c + ch];
		o[ch] = acc < p->act_min ? p->act_min : (acc > p->act_max ? p->act_max : acc);
	}
}

/* Four output pixels ox..ox+3 whose windows lie inside the row. */
ALWAYS_INLINE void
dw_quad(const nn_conv_params *p, const float *in, float *out, int oy, int ox,
		int ky0, int ky1, const int kw)
{
	int			c = p->in_c;
	int			iy0 = oy * p->stride_h - p->pad_top;
	int			ix0 = ox * p->stride_w - p->pad_left;
	size_t		step = (size_t) p->stride_w * c;	/* between the 4 pixels */
	float	   *o = out + ((size_t) oy * p->out_w + ox) * c;
	nn_v8		lo = nn_v8_set1(p->act_min),
				hi = nn_v8_set1(p->act_max);
	int			ch = 0;

	for (; ch + 8 <= c; ch += 8)
	{
		nn_v8		b = p->bias ? *(const nn_v8 *) (p->bias + ch) : nn_v8_set1(0.0f);
		nn_v8		a0 = b,
					a1 = b,
					a2 = b,
					a3 = b;

		for (int ky = ky0; ky < ky1; ky++)
		{
			const float *src = in + ((size_t) (iy0 + ky * p->dil_h) * p->in_w + ix0) * c + ch;
			const float *w = p->weights + (size_t) ky * kw * c + ch;

			for (int kx = 0; kx < kw; kx++)
			{
				nn_v8		wv = *(const nn_v8 *) (w + (size_t) kx * c);
				const float *s = src + (size_t) kx * p->dil_w * c;

				a0 += *(const nn_v8 *) s * wv;
				a1 += *(const nn_v8 *) (s + step) * wv;
				a2 += *(const nn_v8 *) (s + 2 * step) * wv;
				a3 += *(const nn_v8 *) (s + 3 * step) * wv;
			}
		}
		*(nn_v8 *) (o + ch) = nn_v8_clamp(a0, lo, hi);
		*(nn_v8 *) (o + c + ch) = nn_v8_clamp(a1, lo, hi);
		*(nn_v8 *) (o + 2 * c + ch) = nn_v8_clamp(a2, lo, hi);
		*(nn_v8 *) (o + 3 * c + ch) = nn_v8_clamp(a3, lo, hi);
	}
	if (ch < c)
		for (int j = 0; j < 4; j++)
		{
			for (int t = ch; t < c; t++)
			{
				float		acc = p->bias ? p->bias[t] : 0.0f;

				for (int ky = ky0; ky < ky1; ky++)
					for (int kx = 0; kx < kw; kx++)
						acc += in[((size_t) (iy0 + ky * p->dil_h) * p->in_w + ix0 +
								   j * p->stride_w + kx * p->dil_w) * c + t] *
							p->weights[(size_t) (ky * kw + kx) * c + t];
				o[(size_t) j * c + t] = acc < p->act_min ? p->act_min :
					(acc > p->act_max ? p->act_max : acc);
			}
		}
}

/* Rows of output for depth multiplier 1; kw is a constant when inlined. */
ALWAYS_INLINE void
dw_rows(const nn_conv_params *p, const float *in, float *out, const int kw)
{
	int			ox_lo,
				ox_hi,
				reach = p->in_w - 1 + p->pad_left - (kw - 1) * p->dil_w;

	/* interior: ox * sw - pad_left >= 0 and the last tap < in_w */
	ox_lo = (p->pad_left + p->stride_w - 1) / p->stride_w;
	ox_hi = reach < 0 ? 0 : reach / p->stride_w + 1;
	if (ox_lo > p->out_w)
		ox_lo = p->out_w;
	if (ox_hi > p->out_w)
		ox_hi = p->out_w;
	if (ox_hi < ox_lo)
		ox_hi = ox_lo;

	for (int oy = 0; oy < p->out_h; oy++)
	{
		int			iy0 = oy * p->stride_h - p->pad_top;
		int			ky0 = 0,
					ky1 = p->k_h,
					ox;

		while (ky0 < ky1 && iy0 + ky0 * p->dil_h < 0)
			ky0++;
		while (ky1 > ky0 && iy0 + (ky1 - 1) * p->dil_h >= p->in_h)
			ky1--;
		for (ox = 0; ox < ox_lo; ox++)
			dw_pixel(p, in, out, oy, ox, ky0, ky1);
		for (; ox + 4 <= ox_hi; ox += 4)
			dw_quad(p, in, out, oy, ox, ky0, ky1, kw);
		for (; ox < p->out_w; ox++)
			dw_pixel(p, in, out, oy, ox, ky0, ky1);
	}
}

/* Any channel multiplier: output channel ic * m + j reads input channel ic. */
static void
dw_multiplier(const nn_conv_params *p, const float *in, float *out)
{
	int			m = p->depth_multiplier;

	for (int oy = 0; oy < p->out_h; oy++)
		for (int ox = 0; ox < p->out_w; ox++)
			for (int oc = 0; oc < p->out_c; oc++)
			{
				float		acc = p->bias ? p->bias[oc] : 0.0f;

				for (int ky = 0; ky < p->k_h; ky++)
				{
					int			iy = oy * p->stride_h - p->pad_top + ky * p->dil_h;

					if (iy < 0 || iy >= p->in_h)
						continue;
					for (int kx = 0; kx < p->k_w; kx++)
					{
						int			ix = ox * p->stride_w - p->pad_left + kx * p->dil_w;

						if (ix < 0 || ix >= p->in_w)
							continue;
						acc += in[((size_t) iy * p->in_w + ix) * p->in_c + oc / m] *
							p->weights[(size_t) (ky * p->k_w + kx) * p->out_c + oc];
					}
				}
				out[((size_t) oy * p->out_w + ox) * p->out_c + oc] =
					acc < p->act_min ? p->act_min : (acc > p->act_max ? p->act_max : acc);
			}
}

NN_MULTIVERSION
void
nn_depthwise(const nn_conv_params *p, const float *in, float *out)
{
	if (p->depth_multiplier != 1)
		dw_multiplier(p, in, out);
	else if (p->k_w == 3)
		dw_rows(p, in, out, 3);		/* MobileNets: constant taps unroll */
	else if (p->k_w == 5)
		dw_rows(p, in, out, 5);		/* MobileNet V3, EfficientNet */
	else
		dw_rows(p, in, out, p->k_w);
}
