/*
 * qdepthwise.c
 *	  DEPTHWISE_CONV_2D of the int8 engine: uint8 activations, int8
 *	  weights, int32 accumulators, TFLite's requantization; the plain
 *	  reference and vector kernels over channels (AVX-512 VNNI, AVX2).
 *
 * As in the float depthwise (depthwise.c), NHWC puts the channels of a
 * pixel side by side, so lanes run over channels (16 per zmm, 8 per ymm)
 * and the window's taps loop around them; several output pixels of a row
 * share each weight vector.  Each lane holds a channel's (in - in_zp) as
 * int32 and its weight (w - w_zp) as an int16 in the low half of an int32
 * lane whose high half is zero (packed so at load): then vpmaddwd
 * (vpdpwssd with VNNI, which also adds) gives the exact product
 * lo * lo + hi * 0 in each lane, whatever the sign of (in - in_zp), and
 * |(in - in_zp)(w - w_zp)| <= 255 * 255 cannot overflow.  Taps outside the
 * input are skipped, which is what reading in_zp would give.
 *
 * Only depth_multiplier 1 (every MobileNet) has the fast path; other
 * multipliers, and AVX2's channels past the last multiple of 8, take the
 * reference arithmetic.
 *
 * With AVX-512 VNNI the usual layers take a faster form, the "window"
 * kernel (QDW_WINDOWS), because the kernel above spends most of its time
 * widening each tap's bytes and requantizing.  vpdpbusd multiplies four
 * unsigned bytes by four signed bytes and adds the four products to an
 * int32 lane: if a lane holds one channel's input bytes at four taps of a
 * kernel row (its "window"), one instruction does four of that channel's
 * products, so a 3x3 tap costs three instructions per 16 channels instead
 * of nine widenings, subtractions and multiplications.  The windows of an
 * input row are built once (four 16-channel loads, two permutations) for
 * every output column and kept in scratch for the k_h output rows that
 * read them; taps outside the input are built as in_zp.  The zero points
 * come out of the sum as in qconv.c:
 *
 *	sum (a - za)(w - zw) = sum a (w - zw) - za sum (w - zw)
 *
 * over every tap of the window (padded ones included, with a = za), the
 * second term folded into the bias; rows of the window above or below the
 * input are skipped and their za sum (w - zw) added back.  (w - zw) is
 * held as the signed byte when every weight's fits in -128..127;
 * otherwise the weights w stay as they are and a second vpdpbusd per
 * window adds a * (-zw) (so a per-tensor zw of -128, whose negation is not
 * a byte, keeps the kernel above).  The epilogue is the lean
 * requantization of nn_qsimd.h, so it also needs multipliers >= 0 and
 * right shifts of at most NN_QLEAN_MAX_RIGHT, which TFLite's
 * QuantizeMultiplier gives for every realistic scale.
 *
 * This file holds the reference, the packing and the choice of kernel;
 * the kernels are in qdepthwise_avx512.c and qdepthwise_avx2.c, compiled
 * for their instruction sets, and qdepthwise_internal.h is what the three
 * share.
 */
#include "nn.h"
#include "nn_qkernels.h"
#include "nn_qsimd.h"
#include "qdepthwise_internal.h"

#include <string.h>

/* Whether the window kernel takes these params (level 2 only). */
static bool
qdw_windows_ok(const nn_qconv_params *p, bool *zw_term)
{
	bool		fits = true;

	*zw_term = false;
	if (p->depth_multiplier != 1 || p->k_w > 8 ||
		(p->k_h - 1) * p->dil_h + 1 > QDW_MAX_SLOTS)
		return false;
	for (int c = 0; c < p->out_c; c++)
		if (!nn_q_lean_ok(p->multiplier[c], p->shift[c]))
			return false;
	for (int i = 0; i < p->k_h * p->k_w * p->out_c; i++)
	{
		int32_t		d = (int32_t) p->weights[i] - p->w_zp;

		if (d < -128 || d > 127)
			fits = false;
	}
	if (!fits)
	{
		/* -zw must be a byte for the second product */
		if (p->w_zp == -128)
			return false;
		*zw_term = true;
	}
	return true;
}

static size_t
qdw_windows_bytes(const nn_qconv_params *p)
{
	size_t		cp = (p->out_c + 15) / 16 * 16;
	int			nq = (p->k_w + 3) / 4;

	return QDW_HDR + (QW_NARRAYS + (size_t) p->k_h) * cp * sizeof(int32_t) +
		3 * cp * sizeof(int64_t) + (size_t) p->k_h * nq * cp * 4;
}

/* Output pixel (oy, ox), channels [c0, c1): the reference arithmetic. */
void
qdw_pixel_ref(const nn_qconv_params *p, const uint8_t *in, uint8_t *out, int oy, int ox,
			  int c0, int c1)
{
	int			dm = p->depth_multiplier;

	for (int oc = c0; oc < c1; oc++)
	{
		int			ic = oc / dm;
		int32_t		acc = p->bias ? p->bias[oc] : 0;
		int32_t		v;

		for (int ky = 0; ky < p->k_h; ky++)
		{
			int			iy = oy * p->stride_h - p->pad_top + ky * p->dil_h;

			if (iy < 0 || iy >= p->in_h)
				continue;		/* padded taps contribute nothing */
			for (int kx = 0; kx < p->k_w; kx++)
			{
				int			ix = ox * p->stride_w - p->pad_left + kx * p->dil_w;

				if (ix < 0 || ix >= p->in_w)
					continue;
				acc += ((int32_t) in[((size_t) iy * p->in_w + ix) * p->in_c + ic] - p->in_zp) *
					((int32_t) p->weights[((size_t) ky * p->k_w + kx) * p->out_c + oc] - p->w_zp);
			}
		}
		v = nn_mul_by_quantized_multiplier(acc, p->multiplier[oc], p->shift[oc]) + p->out_zp;
		if (v < p->act_min)
			v = p->act_min;
		if (v > p->act_max)
			v = p->act_max;
		out[((size_t) oy * p->out_w + ox) * p->out_c + oc] = (uint8_t) v;
	}
}

void
nn_qdepthwise_ref(const nn_qconv_params *p, const uint8_t *in, uint8_t *out)
{
	for (int oy = 0; oy < p->out_h; oy++)
		for (int ox = 0; ox < p->out_w; ox++)
			qdw_pixel_ref(p, in, out, oy, ox, 0, p->out_c);
}

size_t
nn_qdepthwise_packed_bytes(const nn_qconv_params *p)
{
	size_t		cp = (p->out_c + 15) / 16 * 16;
	bool		zw_term;

	if (nn_qkernel_level() == 0 || p->depth_multiplier != 1)
		return 0;
	if (nn_qkernel_level() == 2 && qdw_windows_ok(p, &zw_term))
		return qdw_windows_bytes(p);
	return QDW_HDR + (QD_NARRAYS + (size_t) p->k_h * p->k_w) * cp * sizeof(int32_t);
}

/* The window kernel's packed copy (see its arrays above). */
static void
qdw_windows_pack(const nn_qconv_params *p, qdw_pack_hdr *h, bool zw_term)
{
	int			cp = h->cp,
				nq = (p->k_w + 3) / 4;
	int32_t    *arr = (int32_t *) ((char *) h + QDW_HDR);
	int32_t    *rowc = arr + (size_t) QW_NARRAYS * cp;
	int64_t    *lean = (int64_t *) (rowc + (size_t) p->k_h * cp);
	int8_t	   *w = (int8_t *) (lean + (size_t) 3 * cp);

	h->windows = 1;
	h->nq = nq;
	h->zw_term = zw_term;
	for (int q = 0; q < nq && q < 2; q++)
	{
		uint32_t	pat = 0;

		for (int j = 0; j < 4; j++)
			if (4 * q + j < p->k_w)
				pat |= (uint32_t) (uint8_t) (int8_t) -p->w_zp << (8 * j);
		h->zwc[q] = (int32_t) pat;
	}
	for (int c = 0; c < p->out_c; c++)
	{
		int64_t		b = p->bias ? p->bias[c] : 0;
		int			slot = nn_q_lean_slot(c);

		for (int ky = 0; ky < p->k_h; ky++)
		{
			int64_t		sd = 0;

			for (int kx = 0; kx < p->k_w; kx++)
			{
				int32_t		wv = p->weights[((size_t) ky * p->k_w + kx) * p->out_c + c];

				sd += wv - p->w_zp;
				w[(((size_t) ky * nq + kx / 4) * cp + c) * 4 + kx % 4] =
					(int8_t) (zw_term ? wv : wv - p->w_zp);
			}
			/* kept modulo 2^32, as the accumulators are */
			rowc[(size_t) ky * cp + c] = (int32_t) (uint32_t) (uint64_t) (p->in_zp * sd);
			b -= p->in_zp * sd;
		}
		arr[QW_BIAS * cp + c] = (int32_t) (uint32_t) (uint64_t) b;
		arr[QW_MULT * cp + c] = p->multiplier[c];
		arr[QW_LEFT * cp + c] = p->shift[c] > 0 ? p->shift[c] : 0;
		if (p->shift[c] > 0)
			h->has_left = 1;
		nn_q_lean_parts(p->shift[c], p->out_zp, &lean[slot], &lean[cp + slot],
						&lean[2 * (size_t) cp + slot]);
	}
}

void
nn_qdepthwise_pack(const nn_qconv_params *p, void *packed)
{
	qdw_pack_hdr *h = packed;
	int			cp = (p->out_c + 15) / 16 * 16;
	int32_t    *arr = (int32_t *) ((char *) packed + QDW_HDR);
	int32_t    *w = arr + (size_t) QD_NARRAYS * cp;
	size_t		bytes = nn_qdepthwise_packed_bytes(p);
	bool		zw_term;

	if (bytes == 0)
		return;
	memset(packed, 0, bytes);
	h->kind = nn_qkernel_level();
	h->cp = cp;
	if (h->kind == 2 && qdw_windows_ok(p, &zw_term))
	{
		qdw_windows_pack(p, h, zw_term);
		return;
	}
	for (int c = 0; c < p->out_c; c++)
	{
		arr[QD_BIAS * cp + c] = p->bias ? p->bias[c] : 0;
		arr[QD_MULT * cp + c] = p->multiplier[c];
		nn_q_shift_parts(p->shift[c], &arr[QD_LEFT * cp + c], &arr[QD_RIGHT * cp + c],
						 &arr[QD_MASK * cp + c], &arr[QD_HALF * cp + c]);
	}
	for (int t = 0; t < p->k_h * p->k_w; t++)
		for (int c = 0; c < p->out_c; c++)
			w[(size_t) t * cp + c] =
				(uint16_t) (int16_t) ((int32_t) p->weights[(size_t) t * p->out_c + c] - p->w_zp);
}

size_t
nn_qdepthwise_scratch_bytes(const nn_qconv_params *p)
{
	bool		zw_term;

	if (nn_qkernel_level() != 2 || !qdw_windows_ok(p, &zw_term))
		return 0;
	return (size_t) qdw_slots(p) * qdw_row_bytes(p) + (p->out_c + 63) / 64 * 64;
}

const char *
nn_qdepthwise_kernel(const nn_qconv_params *p)
{
	const qdw_pack_hdr *h = p->packed;

	if (h == NULL || p->depth_multiplier != 1)
		return "reference";
	if (h->kind == 2)
		return h->windows ? "avx512vnni windows" : "avx512vnni";
	return h->kind == 1 ? "avx2" : "reference";
}

void
nn_qdepthwise(const nn_qconv_params *p, const uint8_t *in, uint8_t *out, void *scratch)
{
	nn_qdepthwise_part(p, in, out, scratch, 0, 1);
}

int
nn_qdepthwise_max_parts(const nn_qconv_params *p)
{
	if (p->packed == NULL || p->depth_multiplier != 1)
		return 1;				/* the reference runs whole */
	return p->out_h;
}

/*
 * Part part of nparts: a band of output rows.  Every output row is
 * computed from the input alone (the window kernel's row cache is rebuilt
 * from the input where a band starts), so the bytes do not depend on the
 * split.
 */
void
nn_qdepthwise_part(const nn_qconv_params *p, const uint8_t *in, uint8_t *out, void *scratch,
				   int part, int nparts)
{
	const qdw_pack_hdr *h = p->packed;
	int			oy0 = (int) ((long) p->out_h * part / nparts),
				oy1 = (int) ((long) p->out_h * (part + 1) / nparts);

	if (h == NULL || p->depth_multiplier != 1)
	{
		if (part == 0)
			nn_qdepthwise_ref(p, in, out);
		return;
	}
	if (oy0 >= oy1)
		return;
#ifdef NN_QSIMD
	if (h->kind == 2 && h->windows)
	{
		qdw512_windows(p, h, in, out, scratch, oy0, oy1);
		return;
	}
	if (h->kind == 2)
	{
		qdw512(p, h, in, out, oy0, oy1);
		return;
	}
	if (h->kind == 1)
	{
		qdw256(p, h, in, out, oy0, oy1);
		return;
	}
#endif
	if (part == 0)
		nn_qdepthwise_ref(p, in, out);
}
