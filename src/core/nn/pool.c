/*
 * pool.c
 *	  AVERAGE_POOL_2D, MAX_POOL_2D and MEAN, float32 NHWC, batch 1.
 *
 * Pooling follows TFLite: SAME padding does not pad with zeros, the window
 * is cut at the border and the average divides by the number of pixels
 * actually inside it.  These operators are a tiny part of a MobileNet's
 * time (one global pool at the end), so the loops stay plain; the inner
 * loop runs over contiguous channels and vectorizes where the compiler
 * wants to.
 */
#include "nn_kernels.h"

#include <math.h>
#include <string.h>

static void
pool(const nn_conv_params *p, const float *in, float *out, bool is_max)
{
	int			c = p->in_c;

	for (int oy = 0; oy < p->out_h; oy++)
		for (int ox = 0; ox < p->out_w; ox++)
		{
			int			y0 = oy * p->stride_h - p->pad_top,
						x0 = ox * p->stride_w - p->pad_left;
			int			y1 = y0 + p->k_h,
						x1 = x0 + p->k_w;
			float	   *o = out + ((size_t) oy * p->out_w + ox) * c;
			int			n = 0;

			if (y0 < 0)
				y0 = 0;
			if (x0 < 0)
				x0 = 0;
			if (y1 > p->in_h)
				y1 = p->in_h;
			if (x1 > p->in_w)
				x1 = p->in_w;
			for (int ch = 0; ch < c; ch++)
				o[ch] = is_max ? -INFINITY : 0.0f;
			for (int y = y0; y < y1; y++)
				for (int x = x0; x < x1; x++)
				{
					const float *src = in + ((size_t) y * p->in_w + x) * c;

					if (is_max)
						for (int ch = 0; ch < c; ch++)
							o[ch] = src[ch] > o[ch] ? src[ch] : o[ch];
					else
					{
						int			ch = 0;

						for (; ch + 8 <= c; ch += 8)
							*(nn_v8 *) (o + ch) += *(const nn_v8 *) (src + ch);
						for (; ch < c; ch++)
							o[ch] += src[ch];
					}
					n++;
				}
			/* an empty window cannot happen with TFLite's output sizes */
			if (!is_max && n > 0)
			{
				float		inv = 1.0f / (float) n;

				for (int ch = 0; ch < c; ch++)
					o[ch] *= inv;
			}
			nn_clamp((size_t) c, p->act_min, p->act_max, o);
		}
}

void
nn_avg_pool(const nn_conv_params *p, const float *in, float *out)
{
	pool(p, in, out, false);
}

void
nn_max_pool(const nn_conv_params *p, const float *in, float *out)
{
	pool(p, in, out, true);
}

void
nn_mean(const int dims[4], const bool reduce[4], const float *in, float *out)
{
	size_t		kept = 1,
				total = 1;
	size_t		ostride[4];

	for (int d = 3; d >= 0; d--)
	{
		ostride[d] = reduce[d] ? 0 : kept;
		if (!reduce[d])
			kept *= (size_t) dims[d];
		total *= (size_t) dims[d];
	}
	memset(out, 0, kept * sizeof(float));

	if (!reduce[3] && dims[0] == 1 && reduce[1] && reduce[2])
	{
		/* the global average pool of classifiers: sum pixels, per channel */
		size_t		c = (size_t) dims[3];

		for (size_t i = 0; i < total; i += c)
			for (size_t ch = 0; ch < c; ch++)
				out[ch] += in[i + ch];
	}
	else
	{
		size_t		i = 0;

		for (int a = 0; a < dims[0]; a++)
			for (int b = 0; b < dims[1]; b++)
				for (int c = 0; c < dims[2]; c++)
					for (int d = 0; d < dims[3]; d++)
						out[a * ostride[0] + b * ostride[1] + c * ostride[2] +
							d * ostride[3]] += in[i++];
	}
	{
		float		inv = (float) ((double) kept / (double) total);

		for (size_t k = 0; k < kept; k++)
			out[k] *= inv;
	}
}
