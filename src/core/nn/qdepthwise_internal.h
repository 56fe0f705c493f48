/*
 * qdepthwise_internal.h
 *	  What the files of the int8 DEPTHWISE_CONV_2D share: the packed
 *	  copy's header and arrays, the window kernel's ring of rows, the
 *	  helpers every kernel uses and the kernels' entry points.  Private to
 *	  qdepthwise.c (packing, reference, dispatch), qdepthwise_avx512.c and
 *	  qdepthwise_avx2.c; the public interface stays in nn_qkernels.h.
 */
#ifndef CV_NN_QDEPTHWISE_INTERNAL_H
#define CV_NN_QDEPTHWISE_INTERNAL_H

#include "nn.h"
#include "nn_qkernels.h"
#include "nn_qsimd.h"
#include "nn_window.h"

typedef struct qdw_pack_hdr
{
	int32_t		kind;			/* nn_qkernel_level() at packing */
	int32_t		cp;				/* channels rounded up to 16 */
	int32_t		windows;		/* the window kernel's layout (kind 2 only) */
	int32_t		nq;				/* windows: groups of 4 taps per kernel row */
	int32_t		zw_term;		/* windows: weights are w, a * (-zw) added */
	int32_t		has_left;		/* windows: some channel shifts left */
	int32_t		zwc[2];			/* windows: (-zw) for each tap of a group, 0 past k_w */
} qdw_pack_hdr;

#define QDW_HDR 64

/* per-channel int32 arrays (cp each), then the weights [tap][cp] */
enum
{
	QD_BIAS,
	QD_MULT,
	QD_LEFT,
	QD_RIGHT,
	QD_MASK,
	QD_HALF,
	QD_NARRAYS
};

/*
 * The window kernel's arrays: int32 [cp] bias (zero-point terms folded),
 * multiplier, left shift, then [k_h][cp] the za sum (w - zw) of each kernel
 * row, then int64 [cp] the lean constants (nn_q_lean_slot order), then the
 * weights [k_h][nq][cp][4].
 */
enum
{
	QW_BIAS,
	QW_MULT,
	QW_LEFT,
	QW_NARRAYS
};

/* the window kernel's ring of input rows: at most this many */
#define QDW_MAX_SLOTS 16

/* The window kernel's scratch: a row of windows per slot, an in_zp pixel. */
static inline size_t
qdw_row_bytes(const nn_qconv_params *p)
{
	return (size_t) ((p->out_c + 15) / 16) * p->out_w * ((p->k_w + 3) / 4) * 64;
}

static inline int
qdw_slots(const nn_qconv_params *p)
{
	return (p->k_h - 1) * p->dil_h + 1;
}

/* Output pixel (oy, ox), channels [c0, c1): the reference arithmetic (qdepthwise.c). */
void		qdw_pixel_ref(const nn_qconv_params *p, const uint8_t *in, uint8_t *out, int oy,
						  int ox, int c0, int c1);

#ifdef NN_QSIMD

/*
 * Output columns [lo, hi) of a row whose every tap lies inside the input
 * row (nn_window.h, for these params).
 */
static inline void
qdw_interior(const nn_qconv_params *p, int *lo, int *hi)
{
	nn_window_interior(p->in_w, p->out_w, p->k_w, p->dil_w, p->stride_w, p->pad_left, lo, hi);
}

/* The taps [*k0, *k1) of a window starting at i0 that fall inside [0, n). */
static inline void
qdw_taps(int i0, int k, int dil, int n, int *k0, int *k1)
{
	int			a = 0,
				b = k;

	while (a < b && i0 + a * dil < 0)
		a++;
	while (b > a && i0 + (b - 1) * dil >= n)
		b--;
	*k0 = a;
	*k1 = b;
}

/* The kernels: output rows [oy0, oy1) (qdepthwise_avx512.c, qdepthwise_avx2.c). */
NN_Q512 void qdw512(const nn_qconv_params *p, const qdw_pack_hdr *h, const uint8_t *in,
					uint8_t *out, int oy0, int oy1);
NN_Q512 void qdw512_windows(const nn_qconv_params *p, const qdw_pack_hdr *h, const uint8_t *in,
							uint8_t *out, void *scratch, int oy0, int oy1);
NN_Q256 void qdw256(const nn_qconv_params *p, const qdw_pack_hdr *h, const uint8_t *in,
					uint8_t *out, int oy0, int oy1);

#endif							/* NN_QSIMD */

#endif							/* CV_NN_QDEPTHWISE_INTERNAL_H */
