/*
 * elementwise.c
 *	  The operators that touch each value once: ADD and MUL with
 *	  broadcasting, RELU/RELU6 (clamps), LOGISTIC, HARD_SWISH, SOFTMAX, PAD,
 *	  CONCATENATION.  float32, shapes padded to rank 4.
 *
 * Broadcasting is numpy's (and TFLite's): a dimension of size 1 repeats.
 * The common cases get direct loops: equal shapes (residual ADD of
 * MobileNet V2) and one per-channel vector against a map (the
 * squeeze-and-excitation MUL of MobileNet V3).
 */
#include "nn_kernels.h"

#include <math.h>
#include <string.h>

NN_MULTIVERSION
void
nn_clamp(size_t n, float lo, float hi, float *x)
{
	size_t		i = 0;
	nn_v8		vlo = nn_v8_set1(lo),
				vhi = nn_v8_set1(hi);

	if (isinf(lo) && lo < 0 && isinf(hi) && hi > 0)
		return;
	for (; i + 8 <= n; i += 8)
		*(nn_v8 *) (x + i) = nn_v8_clamp(*(const nn_v8 *) (x + i), vlo, vhi);
	for (; i < n; i++)
		x[i] = x[i] < lo ? lo : (x[i] > hi ? hi : x[i]);
}

NN_MULTIVERSION
static void
add_mul_same(nn_binop op, size_t n, const float *a, const float *b, float *out)
{
	size_t		i = 0;

	if (op == NN_BIN_ADD)
	{
		for (; i + 8 <= n; i += 8)
			*(nn_v8 *) (out + i) = *(const nn_v8 *) (a + i) + *(const nn_v8 *) (b + i);
		for (; i < n; i++)
			out[i] = a[i] + b[i];
	}
	else
	{
		for (; i + 8 <= n; i += 8)
			*(nn_v8 *) (out + i) = *(const nn_v8 *) (a + i) * *(const nn_v8 *) (b + i);
		for (; i < n; i++)
			out[i] = a[i] * b[i];
	}
}

void
nn_binary(nn_binop op, const int a_dims[4], const float *a,
		  const int b_dims[4], const float *b, const int out_dims[4],
		  float act_min, float act_max, float *out)
{
	size_t		sa[4],
				sb[4],
				na = 1,
				nb = 1,
				n = 1;
	size_t		inner = (size_t) out_dims[3];

	for (int d = 3; d >= 0; d--)
	{
		sa[d] = a_dims[d] == 1 ? 0 : na;
		sb[d] = b_dims[d] == 1 ? 0 : nb;
		na *= (size_t) a_dims[d];
		nb *= (size_t) b_dims[d];
		n *= (size_t) out_dims[d];
	}
	if (na == n && nb == n)
		add_mul_same(op, n, a, b, out);
	else
	{
		size_t		o = 0;

		for (int i0 = 0; i0 < out_dims[0]; i0++)
			for (int i1 = 0; i1 < out_dims[1]; i1++)
				for (int i2 = 0; i2 < out_dims[2]; i2++)
				{
					const float *pa = a + i0 * sa[0] + i1 * sa[1] + i2 * sa[2];
					const float *pb = b + i0 * sb[0] + i1 * sb[1] + i2 * sb[2];

					if (sa[3] && sb[3])
						add_mul_same(op, inner, pa, pb, out + o);
					else
						for (size_t k = 0; k < inner; k++)
						{
							float		x = pa[k * sa[3]],
										y = pb[k * sb[3]];

							out[o + k] = op == NN_BIN_ADD ? x + y : x * y;
						}
					o += inner;
				}
	}
	nn_clamp(n, act_min, act_max, out);
}

void
nn_unary(nn_unop op, size_t n, const float *in, float lo, float hi, float *out)
{
	switch (op)
	{
		case NN_UN_CLAMP:
		case NN_UN_COPY:
			if (out != in)
				memcpy(out, in, n * sizeof(float));
			if (op == NN_UN_CLAMP)
				nn_clamp(n, lo, hi, out);
			break;
		case NN_UN_LOGISTIC:
			for (size_t i = 0; i < n; i++)
				out[i] = 1.0f / (1.0f + expf(-in[i]));
			break;
		case NN_UN_HARD_SWISH:
			/* x * relu6(x + 3) / 6 */
			for (size_t i = 0; i < n; i++)
			{
				float		r = in[i] + 3.0f;

				r = r < 0.0f ? 0.0f : (r > 6.0f ? 6.0f : r);
				out[i] = in[i] * r * (1.0f / 6.0f);
			}
			break;
	}
}

void
nn_softmax(size_t rows, size_t inner, float beta, const float *in, float *out)
{
	for (size_t r = 0; r < rows; r++)
	{
		const float *x = in + r * inner;
		float	   *y = out + r * inner;
		float		mx = x[0];
		double		sum = 0.0;

		/* subtract the maximum: exp never overflows */
		for (size_t k = 1; k < inner; k++)
			mx = x[k] > mx ? x[k] : mx;
		for (size_t k = 0; k < inner; k++)
		{
			y[k] = expf(beta * (x[k] - mx));
			sum += y[k];
		}
		for (size_t k = 0; k < inner; k++)
			y[k] = (float) (y[k] / sum);
	}
}

void
nn_pad(const int in_dims[4], const int before[4], const int out_dims[4],
	   const float *in, float *out)
{
	size_t		total = (size_t) out_dims[0] * out_dims[1] * out_dims[2] * out_dims[3];
	size_t		row = (size_t) in_dims[3];

	memset(out, 0, total * sizeof(float));
	for (int a = 0; a < in_dims[0]; a++)
		for (int b = 0; b < in_dims[1]; b++)
			for (int c = 0; c < in_dims[2]; c++)
			{
				size_t		src = (((size_t) a * in_dims[1] + b) * in_dims[2] + c) * row;
				size_t		dst = ((((size_t) a + before[0]) * out_dims[1] + b + before[1]) *
								   out_dims[2] + c + before[2]) * out_dims[3] + before[3];

				memcpy(out + dst, in + src, row * sizeof(float));
			}
}

void
nn_concat(int ninputs, const float *const *in, const size_t *sizes,
		  size_t outer, float act_min, float act_max, float *out)
{
	size_t		row = 0,
				done = 0;

	for (int i = 0; i < ninputs; i++)
		row += sizes[i];
	for (int i = 0; i < ninputs; i++)
	{
		for (size_t o = 0; o < outer; o++)
			memcpy(out + o * row + done, in[i] + o * sizes[i], sizes[i] * sizeof(float));
		done += sizes[i];
	}
	nn_clamp(row * outer, act_min, act_max, out);
}
