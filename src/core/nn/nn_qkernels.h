/*
 * nn_qkernels.h
 *	  The integer NHWC kernels of the int8 engine (batch 1): convolution,
 *	  depthwise convolution, ADD, zero padding, and the conversions between
 *	  quantized and float tensors.  Shared by qbuild.c (the graph rewrite
 *	  that picks them), graph.c (which runs them) and the kernel files
 *	  qconv.c, qdepthwise.c (their AVX-512 and AVX2 kernels in
 *	  qconv_avx512.c, qconv_avx2.c, qdepthwise_avx512.c, qdepthwise_avx2.c)
 *	  and qelementwise.c.
 *
 * Arithmetic is TFLite's integer arithmetic (the public reference kernels
 * of tensorflow/lite/kernels/internal/reference and common.h, written here
 * from their description): real = scale * (q - zero_point); a convolution
 * accumulates sum (in - in_zp) * (w - w_zp) + bias in int32, rescales it by
 * the fixed-point multiplier of in_scale * w_scale / out_scale
 * (nn_mul_by_quantized_multiplier), adds out_zp and clamps to
 * [act_min, act_max].  Every kernel gives the same bytes as its plain C
 * reference (the *_ref functions), which is what the unit tests check.
 *
 * Storage: every quantized activation is held as uint8 with a zero point
 * in 0..255.  An int8 tensor of the file (value v, zero point z) is held
 * as v + 128 with zero point z + 128: the same real values, and the same
 * (q - zero_point) differences, so one set of kernels serves both.
 * Weights are held as int8: a uint8 filter (value w, zero point z) as
 * w - 128 with zero point z - 128 (per tensor), an int8 filter as it is
 * (TFLite requires zero point 0 for per-channel int8 filters, but any
 * per-tensor w_zp in -128..127 is accepted).
 *
 * Kernels never allocate and never fail: qbuild.c validated every shape
 * and parameter at load and hands them the scratch they need.
 */
#ifndef CV_NN_QKERNELS_H
#define CV_NN_QKERNELS_H

#include "../common/cv_common.h"

#include <stdint.h>

/*
 * Fixed-point rescaling, exactly as TFLite does it (common.h:
 * SaturatingRoundingDoublingHighMul, RoundingDivideByPOT,
 * MultiplyByQuantizedMultiplier).  A real multiplier r > 0 is held as
 * multiplier * 2^(shift - 31) with multiplier in [2^30, 2^31).
 */
static inline int32_t
nn_q_doubling_high_mul(int32_t a, int32_t b)
{
	int64_t		ab;
	int64_t		nudge;

	if (a == INT32_MIN && b == INT32_MIN)
		return INT32_MAX;
	ab = (int64_t) a * (int64_t) b;
	nudge = ab >= 0 ? ((int64_t) 1 << 30) : (1 - ((int64_t) 1 << 30));
	/* C division truncates toward zero, as TFLite's does */
	return (int32_t) ((ab + nudge) / ((int64_t) 1 << 31));
}

static inline int32_t
nn_q_rounding_divide_by_pot(int32_t x, int exponent)
{
	int32_t		mask = (int32_t) (((int64_t) 1 << exponent) - 1);
	int32_t		remainder = x & mask;
	int32_t		threshold = (mask >> 1) + (x < 0 ? 1 : 0);

	return (x >> exponent) + (remainder > threshold ? 1 : 0);
}

static inline int32_t
nn_mul_by_quantized_multiplier(int32_t x, int32_t multiplier, int shift)
{
	int			left = shift > 0 ? shift : 0;
	int			right = shift > 0 ? 0 : -shift;

	/* TFLite multiplies by 1 << left in int32: callers keep x small enough */
	return nn_q_rounding_divide_by_pot(
		nn_q_doubling_high_mul((int32_t) ((uint32_t) x << left), multiplier), right);
}

/*
 * TFLite's QuantizeMultiplier (quantization_util.cc): real = q * 2^shift
 * with q in [0.5, 1) rounded to 31 bits.  0 gives multiplier 0, shift 0;
 * shifts below -31 flush to zero.  Callers reject real <= 0, NaN and
 * shifts above 30 (nn_quantize_multiplier returns false for them).
 */
bool		nn_quantize_multiplier(double real, int32_t *multiplier, int *shift);

/*
 * CONV_2D (any kernel size, stride, dilation, padding, groups = 1) and
 * DEPTHWISE_CONV_2D.  Geometry as nn_conv_params (nn_kernels.h); the rest
 * of the padding is implicit, and padded taps read in_zp (a real 0).
 */
typedef struct nn_qconv_params
{
	int			in_h, in_w, in_c;
	int			out_h, out_w, out_c;
	int			k_h, k_w;
	int			stride_h, stride_w;
	int			dil_h, dil_w;
	int			pad_top, pad_left;
	int			depth_multiplier;	/* depthwise only */
	int32_t		in_zp;			/* 0..255 */
	int32_t		w_zp;			/* -128..127, per tensor */
	int32_t		out_zp;			/* 0..255 */
	int32_t		act_min, act_max;	/* 0 <= act_min <= act_max <= 255 */
	/* conv: [out_c][k_h][k_w][in_c]; depthwise: [k_h][k_w][out_c] */
	const int8_t *weights;
	const int32_t *bias;		/* out_c, or NULL (no bias) */
	const int32_t *multiplier;	/* out_c: per-channel rescaling */
	const int32_t *shift;		/* out_c */
	/*
	 * The fast kernels' own layout of the weights and of the bias with the
	 * zero-point terms folded in, made once at load by nn_qconv_pack /
	 * nn_qdepthwise_pack into packed_bytes bytes (64-byte aligned); NULL
	 * when the portable reference must run.
	 */
	const void *packed;
} nn_qconv_params;

/* Plain C, loop by loop as TFLite's reference: the tests' ground truth. */
void		nn_qconv_ref(const nn_qconv_params *p, const uint8_t *in, uint8_t *out);
void		nn_qdepthwise_ref(const nn_qconv_params *p, const uint8_t *in, uint8_t *out);

/*
 * The fast kernels, chosen by CPU features at first use (AVX-512 VNNI,
 * then AVX2, else the reference), or the reference when
 * cv_nn_set_portable(true) was on at load (packed is NULL then).
 * *_packed_bytes is 0 when the chosen kernel needs no packed copy; then
 * packed may stay NULL and the kernel reads weights directly.  Scratch is
 * per workspace, *_scratch_bytes of it, 64-byte aligned.
 */
size_t		nn_qconv_packed_bytes(const nn_qconv_params *p);
void		nn_qconv_pack(const nn_qconv_params *p, void *packed);
size_t		nn_qconv_scratch_bytes(const nn_qconv_params *p);
void		nn_qconv(const nn_qconv_params *p, const uint8_t *in, uint8_t *out,
					 void *scratch);

/*
 * The same work split for threads: part part of nparts (0 <= part <
 * nparts <= *_max_parts) writes its own share of out (whole tiles of
 * output pixels; bands of output rows) with its own scratch, and the parts
 * together give exactly nn_qconv's / nn_qdepthwise's bytes.  max_parts is
 * 1 when only the reference can run (then part 0 does everything).
 */
int			nn_qconv_max_parts(const nn_qconv_params *p);
void		nn_qconv_part(const nn_qconv_params *p, const uint8_t *in, uint8_t *out,
						  void *scratch, int part, int nparts);
/* The output pixels [*m0, *m1) that part writes (empty: *m0 == *m1). */
void		nn_qconv_part_pixels(const nn_qconv_params *p, int part, int nparts,
								 int *m0, int *m1);

size_t		nn_qdepthwise_packed_bytes(const nn_qconv_params *p);
void		nn_qdepthwise_pack(const nn_qconv_params *p, void *packed);
size_t		nn_qdepthwise_scratch_bytes(const nn_qconv_params *p);
void		nn_qdepthwise(const nn_qconv_params *p, const uint8_t *in, uint8_t *out,
						  void *scratch);

int			nn_qdepthwise_max_parts(const nn_qconv_params *p);
void		nn_qdepthwise_part(const nn_qconv_params *p, const uint8_t *in, uint8_t *out,
							   void *scratch, int part, int nparts);

/*
 * Which kernel nn_qdepthwise runs for these params as packed (p->packed):
 * "avx512vnni windows", "avx512vnni", "avx2" or "reference" (tests).
 */
const char *nn_qdepthwise_kernel(const nn_qconv_params *p);
/* the same for nn_qconv: "avx512vnni lean" (the lean epilogue), "avx512vnni", ... */
const char *nn_qconv_kernel(const nn_qconv_params *p);

/* Which fast kernel nn_qconv / nn_qdepthwise run: "avx512vnni", "avx2", "reference". */
const char *nn_qkernel_name(void);
/* tests: take the AVX2 kernels even on an AVX-512 VNNI CPU (set before packing) */
extern bool nn_qforce_avx2;

/*
 * ADD of two tensors of the same shape (TFLite's quantized ADD: both inputs
 * shifted left by 20 bits, rescaled to twice the larger input scale, summed,
 * rescaled to the output).  Built by nn_qadd_prepare from the scales.
 */
typedef struct nn_qadd_params
{
	int32_t		a_zp, b_zp, out_zp;	/* 0..255 */
	int32_t		a_multiplier, b_multiplier, out_multiplier;
	int			a_shift, b_shift, out_shift;	/* <= 0 */
	int			left_shift;		/* 20 */
	int32_t		act_min, act_max;
} nn_qadd_params;

/* false when a scale is not positive and finite */
bool		nn_qadd_prepare(double a_scale, int32_t a_zp, double b_scale, int32_t b_zp,
							double out_scale, int32_t out_zp, int32_t act_min,
							int32_t act_max, nn_qadd_params *p);
void		nn_qadd_ref(const nn_qadd_params *p, size_t n, const uint8_t *a,
						const uint8_t *b, uint8_t *out);
void		nn_qadd(const nn_qadd_params *p, size_t n, const uint8_t *a, const uint8_t *b,
					uint8_t *out);
/* which kernel nn_qadd runs: "avx512vnni lean", "avx512vnni", "avx2", "reference" (tests) */
const char *nn_qadd_kernel(const nn_qadd_params *p);

/* Zero padding of a rank-4 uint8 tensor with its zero point (nn_pad's layout). */
void		nn_qpad(const int in_dims[4], const int before[4], const int out_dims[4],
					uint8_t zp, const uint8_t *in, uint8_t *out);

/*
 * Between the engines: out = clamp(zp + round(in / scale), 0, 255), with
 * TFLite's rounding (half away from zero) of the float quotient; and
 * out = (in - zp) * scale.
 */
void		nn_quantize_u8(size_t n, const float *in, float scale, int32_t zp, uint8_t *out);
void		nn_dequantize_u8(size_t n, const uint8_t *in, float scale, int32_t zp, float *out);

#endif							/* CV_NN_QKERNELS_H */
