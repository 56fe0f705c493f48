/*
 * test_nn_util.h
 *	  Helpers shared by the test_nn*.c programs: a depthwise convolution case
 *	  with SAME padding (TFLite's rule: any odd extra row or column of
 *	  padding goes at the bottom or right) and deterministic inputs, weights
 *	  and biases, so that kernels can be compared with each other or with a
 *	  reference on the same data.
 *
 * Functions are static inline so each test program compiles only what it
 * uses without unused-function warnings.
 */
#ifndef TEST_NN_UTIL_H
#define TEST_NN_UTIL_H

#include "nn/nn_kernels.h"

#include <math.h>
#include <stdlib.h>

typedef struct dw_case
{
	nn_conv_params p;			/* weights and bias point into the case */
	float	   *in;				/* h x w x c */
	float	   *weights;		/* k x k x c */
	float	   *bias;			/* c */
	int			out_count;		/* out_h x out_w x c */
} dw_case;

/*
 * A depthwise case (depth multiplier 1) of an h x w x c input, k x k
 * kernel, stride s, dilation d, SAME padding, no activation clamp.
 */
static inline void
dw_case_make(dw_case *dc, int h, int w, int c, int k, int s, int d)
{
	int			eff = (k - 1) * d + 1;
	int			oh = (h + s - 1) / s,
				ow = (w + s - 1) / s;
	int			tp = ((oh - 1) * s + eff - h) / 2,
				lp = ((ow - 1) * s + eff - w) / 2;
	nn_conv_params *p = &dc->p;

	dc->in = malloc(sizeof(float) * h * w * c);
	dc->weights = malloc(sizeof(float) * k * k * c);
	dc->bias = malloc(sizeof(float) * c);
	dc->out_count = oh * ow * c;
	for (int i = 0; i < h * w * c; i++)
		dc->in[i] = (float) ((i * 7919) % 101) / 50.0f - 1.0f;
	for (int i = 0; i < k * k * c; i++)
		dc->weights[i] = (float) ((i * 31) % 17) / 8.0f - 1.0f;
	for (int i = 0; i < c; i++)
		dc->bias[i] = 0.1f * i;
	*p = (nn_conv_params) {0};
	p->in_h = h;
	p->in_w = w;
	p->in_c = c;
	p->out_h = oh;
	p->out_w = ow;
	p->out_c = c;
	p->k_h = p->k_w = k;
	p->stride_h = p->stride_w = s;
	p->dil_h = p->dil_w = d;
	p->pad_top = tp > 0 ? tp : 0;
	p->pad_left = lp > 0 ? lp : 0;
	p->depth_multiplier = 1;
	p->act_min = -INFINITY;
	p->act_max = INFINITY;
	p->weights = dc->weights;
	p->bias = dc->bias;
}

static inline void
dw_case_free(dw_case *dc)
{
	free(dc->in);
	free(dc->weights);
	free(dc->bias);
}

#endif							/* TEST_NN_UTIL_H */
