/*
 * nn_kernels.h
 *	  The float32 NHWC kernels of the executor (batch 1), shared by graph.c
 *	  and the kernel files: conv.c (CONV_2D, FULLY_CONNECTED on OpenBLAS),
 *	  depthwise.c, pool.c (average/max pooling, MEAN), elementwise.c (ADD,
 *	  MUL, activations, SOFTMAX, PAD, CONCATENATION).
 *
 * Kernels never allocate and never fail: graph.c validated every shape at
 * load and hands them the scratch they need.  A fused activation is a clamp
 * to [act_min, act_max] (NONE is +-infinity).
 */
#ifndef CV_NN_KERNELS_H
#define CV_NN_KERNELS_H

#include "../common/cv_common.h"
#include "nn_window.h"

/*
 * Hot loops are written with GCC vector extensions (8 floats, unaligned
 * loads allowed) and compiled for several instruction sets, picked at load
 * time by the dynamic linker (target_clones): the build flags stay generic
 * (-O2, no -march) yet AVX2/FMA and AVX-512 machines get their full width.
 */
/* the helpers below are always inlined: no vector ever crosses an ABI */
#pragma GCC diagnostic ignored "-Wpsabi"

typedef float nn_v8 __attribute__((vector_size(32), aligned(4), may_alias));
typedef int32_t nn_v8i __attribute__((vector_size(32), aligned(4), may_alias));

static inline __attribute__((always_inline)) nn_v8
nn_v8_set1(float x)
{
	return (nn_v8) {x, x, x, x, x, x, x, x};
}

/* Clamp to [lo, hi] lane by lane (C has no ?: on vectors). */
static inline __attribute__((always_inline)) nn_v8
nn_v8_clamp(nn_v8 x, nn_v8 lo, nn_v8 hi)
{
	nn_v8i		m = x < lo;

	x = (nn_v8) (((nn_v8i) x & ~m) | ((nn_v8i) lo & m));
	m = x > hi;
	return (nn_v8) (((nn_v8i) x & ~m) | ((nn_v8i) hi & m));
}

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && defined(__linux__)
#define NN_MULTIVERSION __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#else
#define NN_MULTIVERSION
#endif

/* Geometry of a 2-D window operator: convolution, depthwise, pooling. */
typedef struct nn_conv_params
{
	int			in_h, in_w, in_c;
	int			out_h, out_w, out_c;
	int			k_h, k_w;
	int			stride_h, stride_w;
	int			dil_h, dil_w;
	int			pad_top, pad_left;	/* the rest of the padding is implicit */
	int			depth_multiplier;	/* depthwise only */
	float		act_min, act_max;
	const float *weights;		/* conv: [out_c][k_h][k_w][in_c]; depthwise: [k_h][k_w][out_c] */
	const float *bias;			/* out_c floats, or NULL */
	const float *weights_kn;	/* conv with few input channels: [k_h][k_w][in_c][out_c] */
	bool		packed;			/* conv: weights are in nn_gemm's packed layout */
	bool		simd512;		/* AVX-512 kernels allowed (decided at load) */
} nn_conv_params;

/* The interior output columns of a windowed operator (nn_window.h). */
static inline void
nn_interior_columns(const nn_conv_params *p, int *lo, int *hi)
{
	nn_window_interior(p->in_w, p->out_w, p->k_w, p->dil_w, p->stride_w, p->pad_left, lo, hi);
}

/*
 * The view of a windowed layer that computes its output rows [oy_lo,
 * oy_hi) alone, for a split over threads: every kernel finds its input
 * rows as oy * stride - pad_top (+ ky * dilation) and skips those outside
 * 0..in_h, so moving pad_top up by oy_lo * stride (negative is fine) makes
 * the view read exactly the rows the whole layer reads for those outputs.
 * The caller offsets the output pointer by oy_lo rows.
 */
static inline nn_conv_params
nn_band_view(const nn_conv_params *p, int oy_lo, int oy_hi)
{
	nn_conv_params v = *p;

	v.out_h = oy_hi - oy_lo;
	v.pad_top = p->pad_top - oy_lo * p->stride_h;
	return v;
}

/*
 * A convolution with so few input channels (the RGB stem) that sgemm's K
 * is tiny is computed directly from weights_kn instead: prepare.c makes
 * the transposed copy when this says so.
 */
bool		nn_conv2d_wants_direct(const nn_conv_params *p);

/*
 * Our matrix product (gemm.c), for the CPUs that have AVX-512 or AVX2 + FMA,
 * unless cv_nn_set_portable(true): c[m][n] = clamp(a[m][k] B + bias) with B
 * the filters w[n][k] packed by nn_gemm_pack (exactly n * k floats, may not
 * be in place).  Rows of a and c are lda and ldc floats apart.  prepare.c packs
 * the filters of the convolutions it runs this way (nn_conv_wants_gemm).
 */
bool		nn_gemm_available(void);		/* AVX-512, or AVX2 and FMA */
bool		nn_simd512_available(void); /* the other AVX-512 kernels too */
extern bool nn_force_avx2;		/* tests: use the AVX2 kernels on AVX-512 CPUs */
void		nn_gemm_pack(int k, int n, const float *w, float *packed);
void		nn_gemm(int m, int k, int n, const float *a, size_t lda, const float *packed,
					const float *bias, float act_min, float act_max, float *c, size_t ldc);
bool		nn_conv2d_wants_gemm(const nn_conv_params *p);
/* y = clamp(w x + bias), w[n][k] as stored: a classifier (AVX-512 only). */
void		nn_gemv(int n, int k, const float *w, const float *x, const float *bias,
					float act_min, float act_max, float *y);

/* Floats of scratch conv2d needs (im2col tiles); 0 for 1x1 stride 1. */
size_t		nn_conv2d_scratch(const nn_conv_params *p);
void		nn_conv2d(const nn_conv_params *p, const float *in, float *out, float *scratch);

/*
 * Output rows [oy_lo, oy_hi) of nn_conv2d, the same bytes as the whole
 * call gives for them, when nn_conv2d_splits (our own kernels; not the
 * OpenBLAS path): for the threads of graph.c.
 */
bool		nn_conv2d_splits(const nn_conv_params *p);
void		nn_conv2d_rows(const nn_conv_params *p, const float *in, float *out, float *scratch,
						   int oy_lo, int oy_hi);

/* out[n] = in[k] . w[n][k] + bias[n] for each of rows input rows. */
void		nn_fully_connected(int rows, int k, int n, const float *in, const float *w,
							   const float *bias, float act_min, float act_max, float *out);

void		nn_depthwise(const nn_conv_params *p, const float *in, float *out);
/* Output rows [oy_lo, oy_hi) of nn_depthwise, the same bytes. */
void		nn_depthwise_rows(const nn_conv_params *p, const float *in, float *out,
							  int oy_lo, int oy_hi);

/*
 * An inverted-residual block fused around a depthwise on the AVX-512 path:
 * expand (a packed 1x1 before it, or NULL) and project (a packed 1x1 after
 * it, or NULL), row by row.  Expanded rows are computed into a ring of k_h
 * rows in scratch just before the depthwise needs them, and each depthwise
 * output row goes to scratch and is projected at once, so neither tensor
 * goes to memory.  in is the block's input (the expansion's, else the
 * depthwise's), out its output (the projection's, else the depthwise's).
 * Same floats as the steps run apart.  Fused only when the tensor that
 * stays in cache has at least nn_fuse_min_floats (small maps gain nothing;
 * tests lower it).
 */
extern size_t nn_fuse_min_floats;
bool		nn_depthwise_can_fuse_expand(const nn_conv_params *expand,
										 const nn_conv_params *dw);
bool		nn_depthwise_can_fuse_project(const nn_conv_params *dw,
										  const nn_conv_params *project);
size_t		nn_depthwise_fused_scratch(const nn_conv_params *expand, const nn_conv_params *dw,
									   const nn_conv_params *project);
void		nn_depthwise_fused(const nn_conv_params *expand, const nn_conv_params *dw,
							   const nn_conv_params *project, const float *in, float *out,
							   float *scratch);
/* Its output rows [oy_lo, oy_hi) (the depthwise's rows), the same bytes. */
void		nn_depthwise_fused_rows(const nn_conv_params *expand, const nn_conv_params *dw,
									const nn_conv_params *project, const float *in, float *out,
									float *scratch, int oy_lo, int oy_hi);

void		nn_avg_pool(const nn_conv_params *p, const float *in, float *out);
void		nn_max_pool(const nn_conv_params *p, const float *in, float *out);

/*
 * MEAN over the axes flagged in reduce[] of a tensor of rank <= 4 (dims
 * given padded to 4 from the left); out holds the kept elements in order.
 */
void		nn_mean(const int dims[4], const bool reduce[4], const float *in, float *out);

/* Broadcasting binary ops over shapes padded to rank 4; out has shape out_dims. */
typedef enum nn_binop
{
	NN_BIN_ADD,
	NN_BIN_MUL
} nn_binop;
void		nn_binary(nn_binop op, const int a_dims[4], const float *a,
					  const int b_dims[4], const float *b, const int out_dims[4],
					  float act_min, float act_max, float *out);

typedef enum nn_unop
{
	NN_UN_CLAMP,				/* RELU, RELU6: a clamp to [lo, hi] */
	NN_UN_LOGISTIC,
	NN_UN_HARD_SWISH,
	NN_UN_COPY
} nn_unop;
void		nn_unary(nn_unop op, size_t n, const float *in, float lo, float hi, float *out);

/* Softmax over the last dimension (inner elements) of rows x inner. */
void		nn_softmax(size_t rows, size_t inner, float beta, const float *in, float *out);

/* Zero padding of a rank-4 tensor: before[d]/after[d] elements per side. */
void		nn_pad(const int in_dims[4], const int before[4], const int out_dims[4],
				   const float *in, float *out);

/*
 * Concatenation along axis of ninputs tensors of rank 4 (padded): outer is
 * the product of dims before the axis, each input contributes
 * sizes[i] = dims[axis] * inner contiguous floats per outer step.
 */
void		nn_concat(int ninputs, const float *const *in, const size_t *sizes,
					  size_t outer, float act_min, float act_max, float *out);

/* Clamp n floats in place (fused activations of kernels without one). */
void		nn_clamp(size_t n, float lo, float hi, float *x);

/* Threads for our own kernels (1 unless cv_nn_set_threads said otherwise). */
int			nn_threads(void);

#endif							/* CV_NN_KERNELS_H */
