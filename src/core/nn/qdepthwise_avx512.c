/*
 * qdepthwise_avx512.c
 *	  The AVX-512 VNNI kernels of the int8 DEPTHWISE_CONV_2D
 *	  (qdepthwise.c): the kernel over channels (vpdpwssd on widened bytes)
 *	  and the window kernel (QDW_WINDOWS: rows of 4-tap windows built once
 *	  and multiplied by vpdpbusd, the lean requantization).
 *
 * It is a file of its own because every function here is compiled for
 * AVX-512 (NN_Q512) and only runs where nn_qkernel_level() is 2; the
 * layouts it reads are written by nn_qdepthwise_pack in qdepthwise.c,
 * whose header comment describes both kernels.  Empty where NN_QSIMD is
 * not defined (non-x86).
 */
#include "qdepthwise_internal.h"

#include <string.h>

#ifdef NN_QSIMD

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

NN_Q512 void
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

NN_Q512 void
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
