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
 */
#include "nn.h"
#include "nn_qkernels.h"
#include "nn_qsimd.h"

#include <string.h>

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
static void
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

/* The window kernel's scratch: a row of windows per slot, an in_zp pixel. */
static size_t
qdw_row_bytes(const nn_qconv_params *p)
{
	return (size_t) ((p->out_c + 15) / 16) * p->out_w * ((p->k_w + 3) / 4) * 64;
}

static int
qdw_slots(const nn_qconv_params *p)
{
	return (p->k_h - 1) * p->dil_h + 1;
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

#ifdef NN_QSIMD

/*
 * Output columns [lo, hi) of a row whose every tap lies inside the input
 * row (nn_interior_columns of the float kernels, for these params).
 */
static void
qdw_interior(const nn_qconv_params *p, int *lo, int *hi)
{
	int			reach = p->in_w - 1 + p->pad_left - (p->k_w - 1) * p->dil_w;
	int			l = (p->pad_left + p->stride_w - 1) / p->stride_w,
				h = reach < 0 ? 0 : reach / p->stride_w + 1;

	if (l > p->out_w)
		l = p->out_w;
	if (h > p->out_w)
		h = p->out_w;
	if (h < l)
		h = l;
	*lo = l;
	*hi = h;
}

/*
 * NPX (a constant) output pixels of row oy from column ox on, taps ky in
 * [ky0, ky1) and kx in [kx0, kx1) (every pixel's taps inside the input),
 * all channels.
 */
NN_Q512 NN_QINLINE void
qdw_px512(const int NPX, const nn_qconv_params *p, const qdw_pack_hdr *h, const uint8_t *in,
		  uint8_t *out, int oy, int ox, int ky0, int ky1, int kx0, int kx1)
{
	int			cp = h->cp,
				nc = p->out_c;
	const int32_t *arr = (const int32_t *) ((const char *) h + QDW_HDR);
	const int32_t *wt = arr + (size_t) QD_NARRAYS * cp;
	__m512i		zi = _mm512_set1_epi32(p->in_zp),
				zo = _mm512_set1_epi32(p->out_zp),
				lo = _mm512_set1_epi32(p->act_min),
				hi = _mm512_set1_epi32(p->act_max);
	int			iy0 = oy * p->stride_h - p->pad_top,
				ix0 = ox * p->stride_w - p->pad_left;
	size_t		pstep = (size_t) p->stride_w * nc;

	for (int c = 0; c < nc; c += 16)
	{
		__mmask16	km = nc - c >= 16 ? 0xFFFF : (__mmask16) ((1u << (nc - c)) - 1);
		__m512i		acc[8];
		nn_q512_rq	q;

#pragma GCC unroll 8
		for (int j = 0; j < NPX; j++)
			acc[j] = _mm512_loadu_si512(arr + QD_BIAS * cp + c);
		for (int ky = ky0; ky < ky1; ky++)
		{
			const uint8_t *row = in + (size_t) (iy0 + ky * p->dil_h) * p->in_w * nc + c;

			for (int kx = kx0; kx < kx1; kx++)
			{
				__m512i		w = _mm512_loadu_si512(wt + (size_t) (ky * p->k_w + kx) * cp + c);
				const uint8_t *x = row + (size_t) (ix0 + kx * p->dil_w) * nc;

#pragma GCC unroll 8
				for (int j = 0; j < NPX; j++)
				{
					__m512i		v = _mm512_cvtepu8_epi32(_mm_maskz_loadu_epi8(km, x + j * pstep));

					acc[j] = _mm512_dpwssd_epi32(acc[j], _mm512_sub_epi32(v, zi), w);
				}
			}
		}
		q.mult = _mm512_loadu_si512(arr + QD_MULT * cp + c);
		q.left = _mm512_loadu_si512(arr + QD_LEFT * cp + c);
		q.right = _mm512_loadu_si512(arr + QD_RIGHT * cp + c);
		q.mask = _mm512_loadu_si512(arr + QD_MASK * cp + c);
		q.half = _mm512_loadu_si512(arr + QD_HALF * cp + c);
#pragma GCC unroll 8
		for (int j = 0; j < NPX; j++)
		{
			__m512i		v = _mm512_add_epi32(nn_q512_requant(acc[j], &q), zo);

			v = _mm512_min_epi32(_mm512_max_epi32(v, lo), hi);
			_mm_mask_storeu_epi8(out + ((size_t) oy * p->out_w + ox + j) * nc + c, km,
								 _mm512_cvtepi32_epi8(v));
		}
	}
}

NN_Q256 NN_QINLINE void
qdw_px256(const int NPX, const nn_qconv_params *p, const qdw_pack_hdr *h, const uint8_t *in,
		  uint8_t *out, int oy, int ox, int ky0, int ky1, int kx0, int kx1)
{
	int			cp = h->cp,
				nc = p->out_c,
				nc8 = nc / 8 * 8;
	const int32_t *arr = (const int32_t *) ((const char *) h + QDW_HDR);
	const int32_t *wt = arr + (size_t) QD_NARRAYS * cp;
	__m256i		zi = _mm256_set1_epi32(p->in_zp),
				zo = _mm256_set1_epi32(p->out_zp),
				lo = _mm256_set1_epi32(p->act_min),
				hi = _mm256_set1_epi32(p->act_max);
	int			iy0 = oy * p->stride_h - p->pad_top,
				ix0 = ox * p->stride_w - p->pad_left;
	size_t		pstep = (size_t) p->stride_w * nc;

	for (int c = 0; c < nc8; c += 8)
	{
		__m256i		acc[4];
		nn_q256_rq	q;

#pragma GCC unroll 8
		for (int j = 0; j < NPX; j++)
			acc[j] = _mm256_loadu_si256((const __m256i *) (arr + QD_BIAS * cp + c));
		for (int ky = ky0; ky < ky1; ky++)
		{
			const uint8_t *row = in + (size_t) (iy0 + ky * p->dil_h) * p->in_w * nc + c;

			for (int kx = kx0; kx < kx1; kx++)
			{
				__m256i		w = _mm256_loadu_si256((const __m256i *)
												   (wt + (size_t) (ky * p->k_w + kx) * cp + c));
				const uint8_t *x = row + (size_t) (ix0 + kx * p->dil_w) * nc;

#pragma GCC unroll 4
				for (int j = 0; j < NPX; j++)
				{
					int64_t		raw;
					__m256i		v;

					memcpy(&raw, x + j * pstep, 8);
					v = _mm256_cvtepu8_epi32(_mm_cvtsi64_si128(raw));
					acc[j] = _mm256_add_epi32(acc[j],
											  _mm256_madd_epi16(_mm256_sub_epi32(v, zi), w));
				}
			}
		}
		q.mult = _mm256_loadu_si256((const __m256i *) (arr + QD_MULT * cp + c));
		q.left = _mm256_loadu_si256((const __m256i *) (arr + QD_LEFT * cp + c));
		q.right = _mm256_loadu_si256((const __m256i *) (arr + QD_RIGHT * cp + c));
		q.mask = _mm256_loadu_si256((const __m256i *) (arr + QD_MASK * cp + c));
		q.half = _mm256_loadu_si256((const __m256i *) (arr + QD_HALF * cp + c));
#pragma GCC unroll 8
		for (int j = 0; j < NPX; j++)
		{
			__m256i		v = _mm256_add_epi32(nn_q256_requant(acc[j], &q), zo);
			__m128i		s;

			v = _mm256_min_epi32(_mm256_max_epi32(v, lo), hi);
			s = _mm_packs_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
			s = _mm_packus_epi16(s, s);
			_mm_storel_epi64((__m128i *) (out + ((size_t) oy * p->out_w + ox + j) * nc + c), s);
		}
	}
	if (nc8 < nc)
#pragma GCC unroll 8
		for (int j = 0; j < NPX; j++)
			qdw_pixel_ref(p, in, out, oy, ox + j, nc8, nc);
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

static NN_Q512 void
qdw512(const nn_qconv_params *p, const qdw_pack_hdr *h, const uint8_t *in, uint8_t *out,
	   int oy0, int oy1)
{
	int			lo,
				hi;

	qdw_interior(p, &lo, &hi);
	for (int oy = oy0; oy < oy1; oy++)
	{
		int			ky0,
					ky1,
					ox = 0;

		qdw_taps(oy * p->stride_h - p->pad_top, p->k_h, p->dil_h, p->in_h, &ky0, &ky1);
		for (; ox < p->out_w; ox++)
		{
			int			kx0,
						kx1;

			if (ox >= lo && ox < hi)
			{
				/* interior: every tap of 8 (then 1) pixels is in the row */
				for (; ox + 8 <= hi; ox += 8)
					qdw_px512(8, p, h, in, out, oy, ox, ky0, ky1, 0, p->k_w);
				for (; ox < hi; ox++)
					qdw_px512(1, p, h, in, out, oy, ox, ky0, ky1, 0, p->k_w);
				if (ox >= p->out_w)
					break;
			}
			qdw_taps(ox * p->stride_w - p->pad_left, p->k_w, p->dil_w, p->in_w, &kx0, &kx1);
			qdw_px512(1, p, h, in, out, oy, ox, ky0, ky1, kx0, kx1);
		}
	}
}

static NN_Q256 void
qdw256(const nn_qconv_params *p, const qdw_pack_hdr *h, const uint8_t *in, uint8_t *out,
	   int oy0, int oy1)
{
	int			lo,
				hi;

	qdw_interior(p, &lo, &hi);
	for (int oy = oy0; oy < oy1; oy++)
	{
		int			ky0,
					ky1,
					ox = 0;

		qdw_taps(oy * p->stride_h - p->pad_top, p->k_h, p->dil_h, p->in_h, &ky0, &ky1);
		for (; ox < p->out_w; ox++)
		{
			int			kx0,
						kx1;

			if (ox >= lo && ox < hi)
			{
				for (; ox + 4 <= hi; ox += 4)
					qdw_px256(4, p, h, in, out, oy, ox, ky0, ky1, 0, p->k_w);
				for (; ox < hi; ox++)
					qdw_px256(1, p, h, in, out, oy, ox, ky0, ky1, 0, p->k_w);
				if (ox >= p->out_w)
					break;
			}
			qdw_taps(ox * p->stride_w - p->pad_left, p->k_w, p->dil_w, p->in_w, &kx0, &kx1);
			qdw_px256(1, p, h, in, out, oy, ox, ky0, ky1, kx0, kx1);
		}
	}
}

/*
 * The windows of input row iy into dst, laid out [channel block][output
 * column][group of 4 taps][64 bytes]: in each 64 bytes, 16 channels' bytes
 * at 4 taps, channel by channel.  Taps outside the row (and past k_w)
 * read zpix, a pixel of in_zp.
 */
static NN_Q512 void
qdw_build_row(const nn_qconv_params *p, const uint8_t *in, int iy, const uint8_t *zpix,
			  int nq, uint8_t *dst)
{
	int			nc = p->out_c,
				ncb = (nc + 15) / 16,
				ow = p->out_w;
	size_t		cbstride = (size_t) ow * nq * 64;
	const uint8_t *row = in + (size_t) iy * p->in_w * nc;
	__mmask16	tail = nc % 16 ? (__mmask16) ((1u << (nc % 16)) - 1) : 0xFFFF;

	/*
	 * v holds the 4 taps' 16 bytes in its 4 lanes; the dword permutation
	 * brings each lane the 4 taps' dwords of 4 channels, the byte shuffle
	 * then puts each channel's 4 taps together: both take byte (or dword)
	 * 4 j + i to 4 i + j.
	 */
	const __m512i perm = _mm512_setr_epi32(0, 4, 8, 12, 1, 5, 9, 13, 2, 6, 10, 14, 3, 7, 11, 15);
	const __m512i shuf = _mm512_broadcast_i32x4(_mm_setr_epi8(0, 4, 8, 12, 1, 5, 9, 13,
															  2, 6, 10, 14, 3, 7, 11, 15));

	for (int ox = 0; ox < ow; ox++)
		for (int q = 0; q < nq; q++)
		{
			const uint8_t *px[4];
			uint8_t    *d = dst + ((size_t) ox * nq + q) * 64;

			for (int j = 0; j < 4; j++)
			{
				int			kx = 4 * q + j,
							ix = ox * p->stride_w - p->pad_left + kx * p->dil_w;

				px[j] = kx < p->k_w && ix >= 0 && ix < p->in_w ? row + (size_t) ix * nc : zpix;
			}
			for (int cb = 0; cb < ncb; cb++)
			{
				int			c = cb * 16;
				__m128i		x0,
							x1,
							x2,
							x3;
				__m512i		v;

				if (c + 16 <= nc)
				{
					/*
					 * broadcasts from memory under a mask: loads and blends,
					 * which leave the shuffle unit to the two permutations
					 */
					v = _mm512_broadcast_i32x4(_mm_loadu_si128((const __m128i *) (px[0] + c)));
					v = _mm512_mask_broadcast_i32x4(v, 0x00F0,
													_mm_loadu_si128((const __m128i *) (px[1] + c)));
					v = _mm512_mask_broadcast_i32x4(v, 0x0F00,
													_mm_loadu_si128((const __m128i *) (px[2] + c)));
					v = _mm512_mask_broadcast_i32x4(v, 0xF000,
													_mm_loadu_si128((const __m128i *) (px[3] + c)));
				}
				else
				{
					/* the last pixel's channels may end the input */
					x0 = _mm_maskz_loadu_epi8(tail, px[0] + c);
					x1 = _mm_maskz_loadu_epi8(tail, px[1] + c);
					x2 = _mm_maskz_loadu_epi8(tail, px[2] + c);
					x3 = _mm_maskz_loadu_epi8(tail, px[3] + c);
					v = _mm512_inserti32x4(_mm512_castsi128_si512(x0), x1, 1);
					v = _mm512_inserti32x4(v, x2, 2);
					v = _mm512_inserti32x4(v, x3, 3);
				}
				v = _mm512_shuffle_epi8(_mm512_permutexvar_epi32(perm, v), shuf);
				_mm512_storeu_si512(d + cb * cbstride, v);
			}
		}
}

/* Channels [c, c + 16) of pixel ix of row (zpix when outside), as 16 int32 lanes. */
NN_Q512 NN_QINLINE __m512i
qdw_pixel32(const nn_qconv_params *p, const uint8_t *row, const uint8_t *zpix, int ix, int c,
			__mmask16 m)
{
	const uint8_t *src = ix >= 0 && ix < p->in_w ? row + (size_t) ix * p->out_c + c : zpix + c;

	return _mm512_cvtepu8_epi32(m == 0xFFFF ? _mm_loadu_si128((const __m128i *) src) :
								_mm_maskz_loadu_epi8(m, src));
}

/* qdw_build_row3's stride 1 */
static NN_Q512 void
qdw_build_row3_s1(const nn_qconv_params *p, const uint8_t *in, int iy, const uint8_t *zpix,
				  uint8_t *dst)
{
	int			nc = p->out_c,
				ncb = (nc + 15) / 16,
				ow = p->out_w,
				ix0 = -p->pad_left;
	const uint8_t *row = in + (size_t) iy * p->in_w * nc;

	for (int cb = 0; cb < ncb; cb++)
	{
		int			c = cb * 16;
		__mmask16	m = nc - c >= 16 ? 0xFFFF : (__mmask16) ((1u << (nc - c)) - 1);
		uint8_t    *d = dst + (size_t) cb * ow * 64;
		__m512i		a = qdw_pixel32(p, row, zpix, ix0, c, m),
					b = _mm512_slli_epi32(qdw_pixel32(p, row, zpix, ix0 + 1, c, m), 8);

		for (int ox = 0; ox < ow; ox++)
		{
			__m512i		s = qdw_pixel32(p, row, zpix, ix0 + ox + 2, c, m);

			/* 0xFE: a | b | c */
			_mm512_storeu_si512(d + (size_t) ox * 64,
								_mm512_ternarylogic_epi32(a, b, _mm512_slli_epi32(s, 16), 0xFE));
			a = _mm512_srli_epi32(b, 8);
			b = _mm512_slli_epi32(s, 8);
		}
	}
}

/*
 * qdw_build_row for undilated 3-wide windows of stride 1 or 2, every
 * MobileNet's: consecutive windows share two pixels (stride 1) or one
 * (stride 2), so each pixel's 16 channels are widened to int32 lanes once
 * (byte 0 of each lane), shifted to byte 1 or 2 for the windows where
 * they are the second or third tap, and each window is the or of three
 * (byte 3 stays 0: its weight is 0).
 */
static NN_Q512 void
qdw_build_row3(const nn_qconv_params *p, const uint8_t *in, int iy, const uint8_t *zpix,
			   uint8_t *dst)
{
	if (p->stride_w == 2)
	{
		int			nc = p->out_c,
					ncb = (nc + 15) / 16,
					ow = p->out_w,
					ix0 = -p->pad_left;
		const uint8_t *row = in + (size_t) iy * p->in_w * nc;

		for (int cb = 0; cb < ncb; cb++)
		{
			int			c = cb * 16;
			__mmask16	m = nc - c >= 16 ? 0xFFFF : (__mmask16) ((1u << (nc - c)) - 1);
			uint8_t    *d = dst + (size_t) cb * ow * 64;
			__m512i		a = qdw_pixel32(p, row, zpix, ix0, c, m);

			for (int ox = 0; ox < ow; ox++)
			{
				__m512i		b = qdw_pixel32(p, row, zpix, ix0 + 2 * ox + 1, c, m),
							s = qdw_pixel32(p, row, zpix, ix0 + 2 * ox + 2, c, m);

				_mm512_storeu_si512(d + (size_t) ox * 64,
									_mm512_ternarylogic_epi32(a, _mm512_slli_epi32(b, 8),
															  _mm512_slli_epi32(s, 16), 0xFE));
				a = s;
			}
		}
		return;
	}
	qdw_build_row3_s1(p, in, iy, zpix, dst);
}

/* What a group of output pixels of one channel block needs. */
typedef struct qdw_wctx
{
	const uint8_t *rows[QDW_MAX_SLOTS]; /* the block's windows, per kernel row read */
	const int8_t *w[QDW_MAX_SLOTS]; /* the block's weights, per kernel row read */
	int			nrows;
	int			cp;
	int			nc;
	bool		has_left;
	__mmask16	km;				/* the channels of the block that exist */
	__m512i		init,			/* folded bias plus the skipped rows' terms */
				left,
				lo,
				hi,
				zwc[2];
	nn_q512_lean q;
} qdw_wctx;

/*
 * NPX (a constant) output pixels from column ox of one channel block, NQ
 * groups of taps per kernel row, ZW: the a * (-zw) products too; o is the
 * first pixel's output at the block's first channel.
 */
NN_Q512 NN_QINLINE void
qdw_win_px(const int NPX, const int NQ, const int ZW, const qdw_wctx *x, int ox, uint8_t *o)
{
	__m512i		acc[8];
	/* 3 rows (a 3x3 window inside the input) as a constant: no rotation of acc */
	int			nrows = x->nrows == 3 ? 3 : x->nrows;

#pragma GCC unroll 8
	for (int j = 0; j < NPX; j++)
		acc[j] = x->init;
#pragma GCC unroll 3
	for (int i = 0; i < nrows; i++)
	{
		const uint8_t *r = x->rows[i] + (size_t) ox * NQ * 64;

#pragma GCC unroll 2
		for (int qq = 0; qq < NQ; qq++)
		{
			__m512i		w = _mm512_loadu_si512(x->w[i] + (size_t) qq * x->cp * 4);

#pragma GCC unroll 8
			for (int j = 0; j < NPX; j++)
			{
				__m512i		v = _mm512_loadu_si512(r + ((size_t) j * NQ + qq) * 64);

				acc[j] = _mm512_dpbusd_epi32(acc[j], v, w);
				if (ZW)
					acc[j] = _mm512_dpbusd_epi32(acc[j], v, x->zwc[qq]);
			}
		}
	}
#pragma GCC unroll 8
	for (int j = 0; j < NPX; j++)
	{
		__m512i		v = x->has_left ? _mm512_sllv_epi32(acc[j], x->left) : acc[j];

		v = nn_q512_requant_lean(v, &x->q);
		v = _mm512_min_epi32(_mm512_max_epi32(v, x->lo), x->hi);
		if (x->km == 0xFFFF)
			_mm_storeu_si128((__m128i *) (o + (size_t) j * x->nc), _mm512_cvtepi32_epi8(v));
		else
			_mm_mask_storeu_epi8(o + (size_t) j * x->nc, x->km, _mm512_cvtepi32_epi8(v));
	}
}

/* the pixels [ox, ow) of a block, 8 at a time then the rest */
#define QDW_WIN_ROW(NQ, ZW) \
	do { \
		for (; ox + 8 <= ow; ox += 8) \
			qdw_win_px(8, NQ, ZW, &x, ox, o + (size_t) ox * nc); \
		switch (ow - ox) \
		{ \
			case 7: qdw_win_px(7, NQ, ZW, &x, ox, o + (size_t) ox * nc); break; \
			case 6: qdw_win_px(6, NQ, ZW, &x, ox, o + (size_t) ox * nc); break; \
			case 5: qdw_win_px(5, NQ, ZW, &x, ox, o + (size_t) ox * nc); break; \
			case 4: qdw_win_px(4, NQ, ZW, &x, ox, o + (size_t) ox * nc); break; \
			case 3: qdw_win_px(3, NQ, ZW, &x, ox, o + (size_t) ox * nc); break; \
			case 2: qdw_win_px(2, NQ, ZW, &x, ox, o + (size_t) ox * nc); break; \
			case 1: qdw_win_px(1, NQ, ZW, &x, ox, o + (size_t) ox * nc); break; \
			default: break; \
		} \
	} while (0)

static NN_Q512 void
qdw512_windows(const nn_qconv_params *p, const qdw_pack_hdr *h, const uint8_t *in,
			   uint8_t *out, void *scratch, int oy0, int oy1)
{
	int			nc = p->out_c,
				cp = h->cp,
				nq = h->nq,
				ncb = (nc + 15) / 16,
				ow = p->out_w,
				nslots = qdw_slots(p);
	size_t		rb = qdw_row_bytes(p),
				cbstride = (size_t) ow * nq * 64;
	const int32_t *arr = (const int32_t *) ((const char *) h + QDW_HDR);
	const int32_t *rowc = arr + (size_t) QW_NARRAYS * cp;
	const int64_t *lean = (const int64_t *) (rowc + (size_t) p->k_h * cp);
	const int8_t *wt = (const int8_t *) (lean + (size_t) 3 * cp);
	uint8_t    *zpix = (uint8_t *) scratch + (size_t) nslots * rb;
	int			tag[QDW_MAX_SLOTS];
	bool		row3 = p->k_w == 3 && (p->stride_w == 1 || p->stride_w == 2) && p->dil_w == 1;
	qdw_wctx	x;

	memset(zpix, p->in_zp, (size_t) (nc + 63) / 64 * 64);
	for (int i = 0; i < nslots; i++)
		tag[i] = -1;
	x.cp = cp;
	x.nc = nc;
	x.has_left = h->has_left != 0;
	x.lo = _mm512_set1_epi32(p->act_min);
	x.hi = _mm512_set1_epi32(p->act_max);
	x.zwc[0] = _mm512_set1_epi32(h->zwc[0]);
	x.zwc[1] = _mm512_set1_epi32(h->zwc[1]);
	for (int oy = oy0; oy < oy1; oy++)
	{
		const uint8_t *rbase[QDW_MAX_SLOTS];
		int			wky[QDW_MAX_SLOTS],
					pad[QDW_MAX_SLOTS],
					nrows = 0,
					npad = 0;

		for (int ky = 0; ky < p->k_h; ky++)
		{
			int			iy = oy * p->stride_h - p->pad_top + ky * p->dil_h,
						slot;

			if (iy < 0 || iy >= p->in_h)
			{
				pad[npad++] = ky;
				continue;
			}
			slot = iy % nslots;
			if (tag[slot] != iy)
			{
				if (row3)
					qdw_build_row3(p, in, iy, zpix, (uint8_t *) scratch + (size_t) slot * rb);
				else
					qdw_build_row(p, in, iy, zpix, nq, (uint8_t *) scratch + (size_t) slot * rb);
				tag[slot] = iy;
			}
			rbase[nrows] = (const uint8_t *) scratch + (size_t) slot * rb;
			wky[nrows++] = ky;
		}
		x.nrows = nrows;
		for (int cb = 0; cb < ncb; cb++)
		{
			int			c = cb * 16,
						ox = 0;
			uint8_t    *o = out + (size_t) oy * ow * nc + c;

			x.km = nc - c >= 16 ? 0xFFFF : (__mmask16) ((1u << (nc - c)) - 1);
			x.init = _mm512_loadu_si512(arr + QW_BIAS * cp + c);
			for (int i = 0; i < npad; i++)
				x.init = _mm512_add_epi32(x.init,
										  _mm512_loadu_si512(rowc + (size_t) pad[i] * cp + c));
			x.left = _mm512_loadu_si512(arr + QW_LEFT * cp + c);
			nn_q512_lean_load(&x.q, arr + QW_MULT * cp + c, lean + c, lean + cp + c,
							  lean + 2 * (size_t) cp + c);
			for (int i = 0; i < nrows; i++)
			{
				x.rows[i] = rbase[i] + cb * cbstride;
				x.w[i] = wt + ((size_t) wky[i] * nq * cp + c) * 4;
			}
			if (nq == 1 && !h->zw_term)
				QDW_WIN_ROW(1, 0);
			else if (nq == 1)
				QDW_WIN_ROW(1, 1);
			else if (!h->zw_term)
				QDW_WIN_ROW(2, 0);
			else
				QDW_WIN_ROW(2, 1);
		}
	}
}

#endif							/* NN_QSIMD */

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
