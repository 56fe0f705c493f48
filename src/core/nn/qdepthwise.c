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
 */
#include "nn.h"
#include "nn_qkernels.h"
#include "nn_qsimd.h"

#include <string.h>

typedef struct qdw_pack_hdr
{
	int32_t		kind;			/* nn_qkernel_level() at packing */
	int32_t		cp;				/* channels rounded up to 16 */
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

	if (nn_qkernel_level() == 0 || p->depth_multiplier != 1)
		return 0;
	return QDW_HDR + (QD_NARRAYS + (size_t) p->k_h * p->k_w) * cp * sizeof(int32_t);
}

void
nn_qdepthwise_pack(const nn_qconv_params *p, void *packed)
{
	qdw_pack_hdr *h = packed;
	int			cp = (p->out_c + 15) / 16 * 16;
	int32_t    *arr = (int32_t *) ((char *) packed + QDW_HDR);
	int32_t    *w = arr + (size_t) QD_NARRAYS * cp;
	size_t		bytes = nn_qdepthwise_packed_bytes(p);

	if (bytes == 0)
		return;
	memset(packed, 0, bytes);
	h->kind = nn_qkernel_level();
	h->cp = cp;
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
	return 0;
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
qdw512(const nn_qconv_params *p, const qdw_pack_hdr *h, const uint8_t *in, uint8_t *out)
{
	int			lo,
				hi;

	qdw_interior(p, &lo, &hi);
	for (int oy = 0; oy < p->out_h; oy++)
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
qdw256(const nn_qconv_params *p, const qdw_pack_hdr *h, const uint8_t *in, uint8_t *out)
{
	int			lo,
				hi;

	qdw_interior(p, &lo, &hi);
	for (int oy = 0; oy < p->out_h; oy++)
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

#endif							/* NN_QSIMD */

void
nn_qdepthwise(const nn_qconv_params *p, const uint8_t *in, uint8_t *out, void *scratch)
{
	const qdw_pack_hdr *h = p->packed;

	if (h == NULL || p->depth_multiplier != 1)
	{
		nn_qdepthwise_ref(p, in, out);
		return;
	}
#ifdef NN_QSIMD
	if (h->kind == 2)
	{
		qdw512(p, h, in, out);
		return;
	}
	if (h->kind == 1)
	{
		qdw256(p, h, in, out);
		return;
	}
#endif
	nn_qdepthwise_ref(p, in, out);
}
