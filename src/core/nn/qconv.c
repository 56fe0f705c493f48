/*
 * qconv.c
 *	  CONV_2D of the int8 engine: uint8 activations, int8 weights, int32
 *	  accumulators, TFLite's requantization; the plain reference and a
 *	  matrix product for x86-64 CPUs with AVX-512 VNNI or AVX2.
 *
 * As in the float engine (conv.c, gemm.c), a convolution is a product of
 * A (M = out_h * out_w rows of K = k_h * k_w * in_c activations: the input
 * itself for a 1x1 stride-1 convolution, im2col rows otherwise) by the
 * filters (K x N, N = out_c).  The zero points come out of the inner loop:
 *
 *	sum_k (a - za)(w - zw) = sum_k a w - zw sum_k a - za sum_k w + K za zw
 *
 * The last two terms depend on the output channel only and are folded into
 * the bias when the filters are packed (nn_qconv_pack); the second needs
 * the sum of each row of A, computed only when zw != 0 (per-tensor uint8
 * filters; TFLite's int8 filters have zw = 0).  Padded taps are written as
 * za into the im2col rows, so they contribute (za - za)(w - zw) = 0, as in
 * the reference.  The sums wrap modulo 2^32 in the vector registers; the
 * true accumulator fits int32, so the wrapped result is exact.
 *
 * AVX-512 VNNI: vpdpbusd multiplies 4 unsigned bytes of A by 4 signed
 * bytes of the filters and adds the four products to an int32 lane, exact
 * (no intermediate saturation).  Filters are packed in blocks of 16 output
 * channels, K padded to a multiple of 4 with zero weights, each group of 4
 * k holding the 16 channels' 4 bytes contiguously (64 bytes, one zmm); the
 * 4 bytes of a row of A are broadcast.  The micro-kernel computes 12 rows
 * by 32 channels in 24 zmm accumulators.
 *
 * AVX2 has no exact u8 x s8 dot product (vpmaddubsw saturates its int16
 * sums), so A and the filters are widened to int16 and multiplied by
 * vpmaddwd (pairs of int16 products summed into int32, exact).  The
 * filters are packed as int16 pairs of k for 16 channels (two ymm per pair
 * of k); each 12-row tile of A is widened into scratch once and reused for
 * every channel block.  Micro-kernel: 6 rows by 16 channels.
 *
 * Both requantize the accumulators in vector registers (nn_qsimd.h), add
 * the output zero point, clamp and store bytes: the output is written once
 * and is the reference's byte for byte.  The packed copy starts with a
 * header saying which kernel it was made for, so a later change of
 * nn_qforce_avx2 cannot make a kernel read the other's layout.
 *
 * This file holds the reference, the packing and the choice of kernel;
 * the kernels are in qconv_avx512.c and qconv_avx2.c, compiled for their
 * instruction sets, and qconv_internal.h is what the three share.
 */
#include "nn.h"
#include "nn_qkernels.h"
#include "nn_qsimd.h"
#include "qconv_internal.h"

#include <math.h>
#include <string.h>

/*
 * With AVX-512 VNNI, when every channel can take the lean requantization
 * of nn_qsimd.h (nn_q_lean_ok), three int64 arrays of np follow (its
 * constants, the output zero point folded in), and the epilogue takes it.
 */
static bool
q_lean_ok(const nn_qconv_params *p)
{
	for (int oc = 0; oc < p->out_c; oc++)
		if (!nn_q_lean_ok(p->multiplier[oc], p->shift[oc]))
			return false;
	return true;
}

bool
nn_quantize_multiplier(double real, int32_t *multiplier, int *shift)
{
	double		q;
	int			s;
	long long	qf;

	*multiplier = 0;
	*shift = 0;
	if (!(real > 0) || !isfinite(real))
		return false;
	q = frexp(real, &s);
	qf = llround(q * (double) (1LL << 31));
	/* q rounded up to 1.0: halve it, as TFLite does */
	if (qf == (1LL << 31))
	{
		qf /= 2;
		s++;
	}
	/* too small for 31 bits: flush to zero like TFLite */
	if (s < -31)
	{
		s = 0;
		qf = 0;
	}
	if (s > 30)
		return false;
	*multiplier = (int32_t) qf;
	*shift = s;
	return true;
}

static inline uint8_t
q_clamp_store(int32_t acc, int32_t multiplier, int shift, const nn_qconv_params *p)
{
	int32_t		v = nn_mul_by_quantized_multiplier(acc, multiplier, shift) + p->out_zp;

	if (v < p->act_min)
		v = p->act_min;
	if (v > p->act_max)
		v = p->act_max;
	return (uint8_t) v;
}

void
nn_qconv_ref(const nn_qconv_params *p, const uint8_t *in, uint8_t *out)
{
	int			kk = p->k_h * p->k_w * p->in_c;

	for (int oy = 0; oy < p->out_h; oy++)
		for (int ox = 0; ox < p->out_w; ox++)
			for (int oc = 0; oc < p->out_c; oc++)
			{
				int32_t		acc = p->bias ? p->bias[oc] : 0;

				for (int ky = 0; ky < p->k_h; ky++)
				{
					int			iy = oy * p->stride_h - p->pad_top + ky * p->dil_h;

					if (iy < 0 || iy >= p->in_h)
						continue;	/* padded taps contribute nothing */
					for (int kx = 0; kx < p->k_w; kx++)
					{
						int			ix = ox * p->stride_w - p->pad_left + kx * p->dil_w;
						const uint8_t *x;
						const int8_t *w;

						if (ix < 0 || ix >= p->in_w)
							continue;
						x = in + ((size_t) iy * p->in_w + ix) * p->in_c;
						w = p->weights + (size_t) oc * kk + ((size_t) ky * p->k_w + kx) * p->in_c;
						for (int ic = 0; ic < p->in_c; ic++)
							acc += ((int32_t) x[ic] - p->in_zp) * ((int32_t) w[ic] - p->w_zp);
					}
				}
				out[((size_t) oy * p->out_w + ox) * p->out_c + oc] =
					q_clamp_store(acc, p->multiplier[oc], p->shift[oc], p);
			}
}

size_t
nn_qconv_packed_bytes(const nn_qconv_params *p)
{
	int			level = nn_qkernel_level();
	size_t		kp = round_up(p->k_h * p->k_w * p->in_c, 4),
				np = round_up(p->out_c, 16);

	if (level == 0)
		return 0;
	return QHDR_BYTES + q_arrays_bytes(level, q_lean_ok(p), np) + np * kp * (level == 2 ? 1 : 2);
}

void
nn_qconv_pack(const nn_qconv_params *p, void *packed)
{
	int			level = nn_qkernel_level();
	int			k = p->k_h * p->k_w * p->in_c,
				n = p->out_c,
				kp = round_up(k, 4),
				np = round_up(n, 16);
	qconv_pack_hdr *h = packed;
	int32_t    *arr = (int32_t *) ((char *) packed + QHDR_BYTES);
	int64_t    *lean = (int64_t *) (arr + (size_t) QC_NARRAYS * np);
	bool		use_lean = level == 2 && q_lean_ok(p);
	void	   *w = (char *) arr + q_arrays_bytes(level, use_lean, np);

	if (level == 0)
		return;
	memset(packed, 0, nn_qconv_packed_bytes(p));
	h->kind = level;
	h->k = k;
	h->kp = kp;
	h->np = np;
	h->lean = use_lean;
	for (int oc = 0; oc < n && use_lean; oc++)
	{
		int			slot = nn_q_lean_slot(oc);

		nn_q_lean_parts(p->shift[oc], p->out_zp, &lean[slot], &lean[np + slot],
						&lean[2 * (size_t) np + slot]);
		if (p->shift[oc] > 0)
			h->has_left = 1;
	}
	for (int oc = 0; oc < n; oc++)
	{
		const int8_t *wr = p->weights + (size_t) oc * k;
		int64_t		sw = 0,
					b = p->bias ? p->bias[oc] : 0;

		for (int i = 0; i < k; i++)
			sw += wr[i];
		b += -(int64_t) p->in_zp * sw + (int64_t) k * p->in_zp * p->w_zp;
		/* kept modulo 2^32, as the accumulators are */
		arr[QC_BIAS * np + oc] = (int32_t) (uint32_t) (uint64_t) b;
		arr[QC_MULT * np + oc] = p->multiplier[oc];
		nn_q_shift_parts(p->shift[oc], &arr[QC_LEFT * np + oc], &arr[QC_RIGHT * np + oc],
						 &arr[QC_MASK * np + oc], &arr[QC_HALF * np + oc]);
	}
	for (int oc = 0; oc < n; oc++)
	{
		const int8_t *wr = p->weights + (size_t) oc * k;
		size_t		blk = (size_t) (oc / 16) * 16 * kp;

		for (int i = 0; i < k; i++)
		{
			if (level == 2)
				((int8_t *) w)[blk + (size_t) (i / 4) * 64 + (oc % 16) * 4 + i % 4] = wr[i];
			else
				((int16_t *) w)[blk + (size_t) (i / 2) * 32 + (oc % 16) * 2 + i % 2] = wr[i];
		}
	}
}

const char *
nn_qconv_kernel(const nn_qconv_params *p)
{
	const qconv_pack_hdr *h = p->packed;

	if (h == NULL)
		return "reference";
	if (h->kind == 2)
		return h->lean ? "avx512vnni lean" : "avx512vnni";
	return h->kind == 1 ? "avx2" : "reference";
}

size_t
nn_qconv_scratch_bytes(const nn_qconv_params *p)
{
	size_t		kp = round_up(p->k_h * p->k_w * p->in_c, 4);

	if (nn_qkernel_level() == 0)
		return 0;
	/*
	 * row terms, QMR im2col rows of bytes (and 64 for q_im2col512's last
	 * store), their int16 widening (AVX2)
	 */
	return 64 + round_up(QMR * kp, 64) + 64 + QMR * kp * 2;
}

void
nn_qconv(const nn_qconv_params *p, const uint8_t *in, uint8_t *out, void *scratch)
{
	nn_qconv_part(p, in, out, scratch, 0, 1);
}

int
nn_qconv_max_parts(const nn_qconv_params *p)
{
	if (p->packed == NULL)
		return 1;				/* the reference runs whole */
	return (p->out_h * p->out_w + QMR - 1) / QMR;
}

/* Whether part runs the packed kernels (else part 0 runs the reference whole). */
static bool
qconv_splits(const qconv_pack_hdr *h)
{
#ifdef NN_QSIMD
	return h != NULL && (h->kind == 1 || h->kind == 2);
#else
	(void) h;
	return false;
#endif
}

/*
 * Part part of nparts: whole tiles of QMR output pixels, so that every
 * tile is the one the whole run would compute (the same bytes).
 */
void
nn_qconv_part_pixels(const nn_qconv_params *p, int part, int nparts, int *m0, int *m1)
{
	long		m = (long) p->out_h * p->out_w,
				tiles = (m + QMR - 1) / QMR;

	if (!qconv_splits(p->packed))
	{
		*m0 = 0;
		*m1 = part == 0 ? (int) m : 0;
		return;
	}
	*m0 = (int) (tiles * part / nparts * QMR);
	*m1 = (int) (tiles * (part + 1) / nparts * QMR);
	if (*m1 > m)
		*m1 = (int) m;
	if (*m0 > *m1)
		*m0 = *m1;
}

void
nn_qconv_part(const nn_qconv_params *p, const uint8_t *in, uint8_t *out, void *scratch,
			  int part, int nparts)
{
	const qconv_pack_hdr *h = p->packed;
	int			m0,
				m1;

	nn_qconv_part_pixels(p, part, nparts, &m0, &m1);
	if (m0 >= m1)
		return;
	if (!qconv_splits(h))
	{
		nn_qconv_ref(p, in, out);
		return;
	}
#ifdef NN_QSIMD
	if (h->kind == 2)
		qconv_vnni(p, h, in, out, scratch, m0, m1);
	else
		qconv_avx2(p, h, in, out, scratch, m0, m1);
#endif
}
