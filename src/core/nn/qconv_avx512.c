/*
 * qconv_avx512.c
 *	  The AVX-512 VNNI kernel of the int8 CONV_2D (qconv.c): im2col with
 *	  masked 64-byte moves, row sums and 12 x 32 vpdpbusd tiles whose
 *	  epilogue requantizes in registers.
 *
 * It is a file of its own because every function here is compiled for
 * AVX-512 (NN_Q512) and only runs where nn_qkernel_level() is 2; the
 * layout it reads (blocks of 16 channels, groups of 4 k) is written by
 * nn_qconv_pack in qconv.c, whose header comment describes it.  Empty
 * where NN_QSIMD is not defined (non-x86).
 */
#include "qconv_internal.h"

#include <string.h>

#ifdef NN_QSIMD

/* Up to 3 bytes of a row that ends there, as the low bytes of a word. */
static inline int32_t
q_tail_word(const uint8_t *a, int n)
{
	uint32_t	v = 0;

	for (int i = 0; i < n; i++)
		v |= (uint32_t) a[i] << (8 * i);
	return (int32_t) v;
}

static inline int32_t
q_load_word(const uint8_t *a)
{
	int32_t		v;

	memcpy(&v, a, 4);
	return v;
}

/*
 * The end of a tile: R accumulators of channels [c, c + 16) (those below
 * t->n stored), which started at the folded bias, less zw times the row
 * sums, requantized, offset, clamped and stored as bytes.
 */
NN_Q512 NN_QINLINE void
qepi_vnni(const int R, const qtile *t, const __m512i *acc, int c, uint8_t *out, size_t ldc)
{
	int			left = t->n - c;
	__mmask16	km = left >= 16 ? 0xFFFF : (__mmask16) ((1u << left) - 1);
	const int32_t *arr = t->arr;
	nn_q512_rq	q;
	__m512i		zo = _mm512_set1_epi32(t->out_zp),
				lo = _mm512_set1_epi32(t->act_min),
				hi = _mm512_set1_epi32(t->act_max);

	if (left <= 0)
		return;
	if (t->lean)
	{
		/* the lean requantization (nn_qsimd.h), its shifts and zw row term only if any */
		nn_q512_lean ql;
		__m512i		lsh = _mm512_loadu_si512(arr + QC_LEFT * t->np + c);

		nn_q512_lean_load(&ql, arr + QC_MULT * t->np + c, t->lean + c, t->lean + t->np + c,
						  t->lean + 2 * (size_t) t->np + c);
#pragma GCC unroll 12
		for (int r = 0; r < R; r++)
		{
			__m512i		v = acc[r];

			if (t->has_zw)
				v = _mm512_sub_epi32(v, _mm512_set1_epi32(t->zwsum[r]));
			if (t->has_left)
				v = _mm512_sllv_epi32(v, lsh);
			v = nn_q512_requant_lean(v, &ql);
			v = _mm512_min_epi32(_mm512_max_epi32(v, lo), hi);
			/* a plain store where the 16 channels exist (masked ones cost more) */
			if (left >= 16)
				_mm_storeu_si128((__m128i *) (out + r * ldc + c), _mm512_cvtepi32_epi8(v));
			else
				_mm_mask_storeu_epi8(out + r * ldc + c, km, _mm512_cvtepi32_epi8(v));
		}
		return;
	}
	q.mult = _mm512_loadu_si512(arr + QC_MULT * t->np + c);
	q.left = _mm512_loadu_si512(arr + QC_LEFT * t->np + c);
	q.right = _mm512_loadu_si512(arr + QC_RIGHT * t->np + c);
	q.mask = _mm512_loadu_si512(arr + QC_MASK * t->np + c);
	q.half = _mm512_loadu_si512(arr + QC_HALF * t->np + c);
#pragma GCC unroll 12
	for (int r = 0; r < R; r++)
	{
		__m512i		v = acc[r];

		v = _mm512_sub_epi32(v, _mm512_set1_epi32(t->zwsum[r]));
		v = _mm512_add_epi32(nn_q512_requant(v, &q), zo);
		v = _mm512_min_epi32(_mm512_max_epi32(v, lo), hi);
		_mm_mask_storeu_epi8(out + r * ldc + c, km, _mm512_cvtepi32_epi8(v));
	}
}

/*
 * R rows (a constant) by 16 or 32 channels (TWO, a constant) from channel
 * j of the packed filters w; a's rows are lda bytes apart, out's ldc.
 */
NN_Q512 NN_QINLINE void
qtile_vnni(const int R, const int TWO, const qtile *t, const uint8_t *a, size_t lda,
		   const int8_t *w, int j, uint8_t *out, size_t ldc)
{
	__m512i		acc0[QMR],
				acc1[QMR];
	const int8_t *b0 = w + (size_t) j * t->kp,
			   *b1 = b0 + (size_t) 16 * t->kp;
	/* the accumulators start at the folded bias (np covers j + 16 when TWO) */
	__m512i		bias0 = _mm512_loadu_si512(t->arr + QC_BIAS * t->np + j),
				bias1 = TWO ? _mm512_loadu_si512(t->arr + QC_BIAS * t->np + j + 16) : bias0;

#pragma GCC unroll 12
	for (int r = 0; r < R; r++)
	{
		acc0[r] = bias0;
		acc1[r] = bias1;
	}
	for (int g = 0; g < t->k4; g++)
	{
		__m512i		w0 = _mm512_loadu_si512(b0 + (size_t) g * 64),
					w1 = TWO ? _mm512_loadu_si512(b1 + (size_t) g * 64) : w0;

#pragma GCC unroll 12
		for (int r = 0; r < R; r++)
		{
			__m512i		x = _mm512_set1_epi32(q_load_word(a + r * lda + (size_t) g * 4));

			acc0[r] = _mm512_dpbusd_epi32(acc0[r], x, w0);
			if (TWO)
				acc1[r] = _mm512_dpbusd_epi32(acc1[r], x, w1);
		}
	}
	if (t->ktail)
	{
		/* the last row of the input may end here: no 4-byte read past it */
		int			g = t->k4;
		__m512i		w0 = _mm512_loadu_si512(b0 + (size_t) g * 64),
					w1 = TWO ? _mm512_loadu_si512(b1 + (size_t) g * 64) : w0;

#pragma GCC unroll 12
		for (int r = 0; r < R; r++)
		{
			__m512i		x = _mm512_set1_epi32(q_tail_word(a + r * lda + (size_t) g * 4,
														  t->ktail));

			acc0[r] = _mm512_dpbusd_epi32(acc0[r], x, w0);
			if (TWO)
				acc1[r] = _mm512_dpbusd_epi32(acc1[r], x, w1);
		}
	}
	qepi_vnni(R, t, acc0, j, out, ldc);
	if (TWO)
		qepi_vnni(R, t, acc1, j + 16, out, ldc);
}

/* n bytes (any n) from src to dst by masked 64-byte moves, or of the byte in fill */
NN_Q512 NN_QINLINE void
q_copy512(uint8_t *dst, const uint8_t *src, int n, __m512i fill)
{
	for (int o = 0; o < n; o += 64)
	{
		__mmask64	m = n - o >= 64 ? ~(__mmask64) 0 : (~(__mmask64) 0) >> (64 - (n - o));

		_mm512_mask_storeu_epi8(dst + o, m, src ? _mm512_maskz_loadu_epi8(m, src + o) : fill);
	}
}

/*
 * q_im2col with AVX-512 moves.  A kernel row of taps that lies inside the
 * input (undilated) is one span of k_w * in_c bytes: for the stem's
 * 3-byte pixels the tap-by-tap copy was the cost of the whole
 * convolution.  When the whole row of A fits 64 bytes it is gathered in a
 * register, each span by a masked load aimed so that its bytes land at
 * their place (the address is formed as an integer: only the loaded bytes
 * are read), and stored by one plain 64-byte store: masked stores, and
 * loads of bytes from two stores, would stall the matrix product's loads
 * that follow.  The bytes past k are zero, as are their filters; the
 * store may run up to 64 bytes past the rows (nn_qconv_scratch_bytes).
 * Longer spans are copied 64 bytes at a time, the same way; windows that
 * leave the input take the masked moves.
 */
static NN_Q512 void
q_im2col512(const nn_qconv_params *p, const uint8_t *in, int r0, int rows, int kp,
			uint8_t *col)
{
	int			k = p->k_h * p->k_w * p->in_c,
				span = p->k_w * p->in_c;
	const uint8_t *in_end = in + (size_t) p->in_h * p->in_w * p->in_c;
	__m512i		zav = _mm512_set1_epi8((char) p->in_zp);
	__mmask64	mspan = span >= 64 ? ~(__mmask64) 0 : (~(__mmask64) 0) >> (64 - span);

	for (int r = 0; r < rows; r++)
	{
		int			oy = (r0 + r) / p->out_w,
					ox = (r0 + r) % p->out_w,
					ix0 = ox * p->stride_w - p->pad_left;
		bool		cols_in = p->dil_w == 1 && ix0 >= 0 && ix0 + p->k_w <= p->in_w;
		uint8_t    *d = col + (size_t) r * kp;

		if (cols_in && kp <= 64)
		{
			__m512i		v = _mm512_setzero_si512();

			/* zeroing loads, or-ed: no chain of merges from one load to the next */
			for (int ky = 0; ky < p->k_h; ky++)
			{
				int			iy = oy * p->stride_h - p->pad_top + ky * p->dil_h;
				__mmask64	m = mspan << (ky * span);
				uintptr_t	src;

				if (iy < 0 || iy >= p->in_h)
				{
					v = _mm512_or_si512(v, _mm512_maskz_mov_epi8(m, zav));
					continue;
				}
				src = (uintptr_t) (in + ((size_t) iy * p->in_w + ix0) * p->in_c) -
					(uintptr_t) (ky * span);
				v = _mm512_or_si512(v, _mm512_maskz_loadu_epi8(m, (const void *) src));
			}
			_mm512_storeu_si512(d, v);
			continue;
		}
		for (int ky = 0; ky < p->k_h; ky++)
		{
			int			iy = oy * p->stride_h - p->pad_top + ky * p->dil_h;

			if (iy < 0 || iy >= p->in_h)
				q_copy512(d, NULL, span, zav);
			else if (cols_in)
			{
				const uint8_t *src = in + ((size_t) iy * p->in_w + ix0) * p->in_c;

				for (int o = 0; o < span; o += 64)
				{
					int			n = span - o;
					__m512i		v = src + o + 64 <= in_end ? _mm512_loadu_si512(src + o) :
						_mm512_maskz_loadu_epi8(n >= 64 ? ~(__mmask64) 0 :
												(~(__mmask64) 0) >> (64 - n), src + o);

					/* the next span's (or row's) store overwrites what passes n */
					_mm512_storeu_si512(d + o, v);
				}
			}
			else
				for (int kx = 0; kx < p->k_w; kx++)
				{
					int			ix = ix0 + kx * p->dil_w;

					q_copy512(d + kx * p->in_c, ix < 0 || ix >= p->in_w ? NULL :
							  in + ((size_t) iy * p->in_w + ix) * p->in_c, p->in_c, zav);
				}
			d += span;
		}
		q_copy512(d, NULL, kp - k, _mm512_setzero_si512());
	}
}

/* zw * (sum of the k bytes of each of rows rows of a), modulo 2^32 */
static NN_Q512 void
q_rowsums512(const uint8_t *a, size_t lda, int k, int rows, int32_t zw, int32_t *zwsum)
{
	for (int r = 0; r < rows; r++)
	{
		const uint8_t *x = a + r * lda;
		__m512i		s = _mm512_setzero_si512();
		int			i;

		for (i = 0; i + 64 <= k; i += 64)
			s = _mm512_add_epi64(s, _mm512_sad_epu8(_mm512_loadu_si512(x + i),
													_mm512_setzero_si512()));
		if (i < k)
			s = _mm512_add_epi64(s, _mm512_sad_epu8(_mm512_maskz_loadu_epi8(
																			 (__mmask64) (~0ULL >> (64 - (k - i))), x + i),
													_mm512_setzero_si512()));
		zwsum[r] = (int32_t) ((uint32_t) zw * (uint32_t) _mm512_reduce_add_epi64(s));
	}
}

#define QTILE_VNNI(TWO) \
	switch (rows) \
	{ \
		case 1: qtile_vnni(1, TWO, &t, a, lda, w, j, o, n); break; \
		case 2: qtile_vnni(2, TWO, &t, a, lda, w, j, o, n); break; \
		case 3: qtile_vnni(3, TWO, &t, a, lda, w, j, o, n); break; \
		case 4: qtile_vnni(4, TWO, &t, a, lda, w, j, o, n); break; \
		case 5: qtile_vnni(5, TWO, &t, a, lda, w, j, o, n); break; \
		case 6: qtile_vnni(6, TWO, &t, a, lda, w, j, o, n); break; \
		case 7: qtile_vnni(7, TWO, &t, a, lda, w, j, o, n); break; \
		case 8: qtile_vnni(8, TWO, &t, a, lda, w, j, o, n); break; \
		case 9: qtile_vnni(9, TWO, &t, a, lda, w, j, o, n); break; \
		case 10: qtile_vnni(10, TWO, &t, a, lda, w, j, o, n); break; \
		case 11: qtile_vnni(11, TWO, &t, a, lda, w, j, o, n); break; \
		default: qtile_vnni(12, TWO, &t, a, lda, w, j, o, n); break; \
	}

NN_Q512 void
qconv_vnni(const nn_qconv_params *p, const qconv_pack_hdr *h, const uint8_t *in,
		   uint8_t *out, void *scratch, int m0, int m1)
{
	int			m = p->out_h * p->out_w,
				n = p->out_c;
	bool		direct = q_pointwise(p);
	int32_t    *zwsum = scratch;
	uint8_t    *col = (uint8_t *) scratch + 64;
	const int8_t *w;
	qtile		t;

	t.kp = h->kp;
	t.np = h->np;
	t.n = n;
	t.arr = (const int32_t *) ((const char *) h + QHDR_BYTES);
	t.zwsum = zwsum;
	t.out_zp = p->out_zp;
	t.act_min = p->act_min;
	t.act_max = p->act_max;
	t.lean = h->lean ? (const int64_t *) (t.arr + (size_t) QC_NARRAYS * t.np) : NULL;
	t.has_left = h->has_left != 0;
	t.has_zw = p->w_zp != 0;
	w = (const int8_t *) ((const char *) t.arr + q_arrays_bytes(2, h->lean, t.np));
	t.k4 = direct ? h->k / 4 : h->kp / 4;
	t.ktail = direct ? h->k % 4 : 0;
	memset(zwsum, 0, QMR * sizeof(int32_t));

	(void) m;
	for (int r0 = m0; r0 < m1; r0 += QMR)
	{
		int			rows = m1 - r0 < QMR ? m1 - r0 : QMR;
		const uint8_t *a;
		size_t		lda;
		uint8_t    *o = out + (size_t) r0 * n;

		if (direct)
		{
			a = in + (size_t) r0 * h->k;
			lda = h->k;
		}
		else
		{
			q_im2col512(p, in, r0, rows, h->kp, col);
			a = col;
			lda = h->kp;
		}
		if (p->w_zp != 0)
			q_rowsums512(a, lda, h->k, rows, p->w_zp, zwsum);
		for (int j = 0; j < t.np; j += 32)
		{
			if (j + 16 < t.np)
			{
			QTILE_VNNI(1)
			}
			else
			{
			QTILE_VNNI(0)
			}
		}
	}
}

#endif							/* NN_QSIMD */
