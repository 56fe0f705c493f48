/*
 * qconv_internal.h
 *	  What the files of the int8 CONV_2D share: the packed copy's header
 *	  and per-channel arrays, the tile height, the helpers every kernel
 *	  uses and the kernels' entry points.  Private to qconv.c (packing,
 *	  reference, dispatch), qconv_avx512.c and qconv_avx2.c; the public
 *	  interface stays in nn_qkernels.h.
 */
#ifndef CV_NN_QCONV_INTERNAL_H
#define CV_NN_QCONV_INTERNAL_H

#include "nn.h"
#include "nn_qkernels.h"
#include "nn_qsimd.h"

/* Rows of A per tile: the VNNI micro-kernel's height, twice AVX2's. */
#define QMR 12
#define QMR2 6

/* Header of the packed copy; the per-channel arrays and filters follow. */
typedef struct qconv_pack_hdr
{
	int32_t		kind;			/* nn_qkernel_level() at packing: 2 or 1 */
	int32_t		k;				/* K */
	int32_t		kp;				/* K rounded up to 4 */
	int32_t		np;				/* N rounded up to 16 */
	int32_t		lean;			/* kind 2: the lean requantization's int64 arrays follow */
	int32_t		has_left;		/* kind 2: some channel shifts left */
} qconv_pack_hdr;

#define QHDR_BYTES 64

/* The per-channel int32 arrays of the packed copy, np each. */
enum
{
	QC_BIAS,					/* bias - za sum_k w + K za zw */
	QC_MULT,
	QC_LEFT,
	QC_RIGHT,
	QC_MASK,
	QC_HALF,
	QC_NARRAYS
};

/* bytes of the per-channel arrays, the filters follow them */
static inline size_t
q_arrays_bytes(int level, bool lean, size_t np)
{
	return QC_NARRAYS * np * sizeof(int32_t) + (level == 2 && lean ? 3 * np * sizeof(int64_t) : 0);
}

/* A 1x1 stride-1 convolution without padding reads its input as A. */
static inline bool
q_pointwise(const nn_qconv_params *p)
{
	return p->k_h == 1 && p->k_w == 1 && p->stride_h == 1 && p->stride_w == 1 &&
		p->pad_top == 0 && p->pad_left == 0 && p->in_h == p->out_h && p->in_w == p->out_w;
}

static inline int
round_up(int x, int m)
{
	return (x + m - 1) / m * m;
}

#ifdef NN_QSIMD

/* What every tile needs besides its rows and channels. */
typedef struct qtile
{
	int			k4;				/* whole groups of 4 k read from A */
	int			ktail;			/* 0..3 more k (A read in place) */
	int			kp;
	int			n;				/* out_c: channels at or past it are not stored */
	const int32_t *arr;			/* per-channel arrays */
	int			np;
	const int32_t *zwsum;		/* zw * row sum of A, per row of the tile */
	int32_t		out_zp,
				act_min,
				act_max;
	const int64_t *lean;		/* VNNI: the lean requantization's arrays, or NULL */
	bool		has_left;		/* lean: some channel shifts left */
	bool		has_zw;			/* lean: zwsum is not all zero */
} qtile;

/* The kernels: output pixels [m0, m1) (qconv_avx512.c, qconv_avx2.c). */
NN_Q512 void qconv_vnni(const nn_qconv_params *p, const qconv_pack_hdr *h, const uint8_t *in,
						uint8_t *out, void *scratch, int m0, int m1);
NN_Q256 void qconv_avx2(const nn_qconv_params *p, const qconv_pack_hdr *h, const uint8_t *in,
						uint8_t *out, void *scratch, int m0, int m1);

#endif							/* NN_QSIMD */

#endif							/* CV_NN_QCONV_INTERNAL_H */
