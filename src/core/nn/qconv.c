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
 */
#include "nn.h"
#include "nn_qkernels.h"
#include "nn_qsimd.h"

#include <math.h>
#include <string.h>

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

/* bytes of the per-channel arrays, the filters follow them */
static size_t
q_arrays_bytes(int level, bool lean, size_t np)
{
	return QC_NARRAYS * np * sizeof(int32_t) + (level == 2 && lean ? 3 * np * sizeof(int64_t) : 0);
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

/* A 1x1 stride-1 convolution without padding reads its input as A. */
static bool
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

/*
 * rows rows of A from output row r0 on, kp bytes each: the window's taps
 * in the filters' order, za where the window leaves the input, zeros for
 * the padding of K.
 */
static void
q_im2col(const nn_qconv_params *p, const uint8_t *in, int r0, int rows, int kp, uint8_t *col)
{
	int			k = p->k_h * p->k_w * p->in_c;

	for (int r = 0; r < rows; r++)
	{
		int			oy = (r0 + r) / p->out_w,
					ox = (r0 + r) % p->out_w;
		uint8_t    *d = col + (size_t) r * kp;

		for (int ky = 0; ky < p->k_h; ky++)
		{
			int			iy = oy * p->stride_h - p->pad_top + ky * p->dil_h;

			for (int kx = 0; kx < p->k_w; kx++)
			{
				int			ix = ox * p->stride_w - p->pad_left + kx * p->dil_w;

				if (iy < 0 || iy >= p->in_h || ix < 0 || ix >= p->in_w)
					memset(d, p->in_zp, p->in_c);
				else
					memcpy(d, in + ((size_t) iy * p->in_w + ix) * p->in_c, p->in_c);
				d += p->in_c;
			}
		}
		memset(d, 0, kp - k);
	}
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

static NN_Q512 void
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

/* AVX2's end of a tile: 8 channels from c, as qepi_vnni. */
NN_Q256 NN_QINLINE void
qepi_avx2(const int R, const qtile *t, const __m256i *acc, int c, uint8_t *out, size_t ldc)
{
	int			left = t->n - c;
	const int32_t *arr = t->arr;
	nn_q256_rq	q;
	__m256i		bias,
				zo = _mm256_set1_epi32(t->out_zp),
				lo = _mm256_set1_epi32(t->act_min),
				hi = _mm256_set1_epi32(t->act_max);

	if (left <= 0)
		return;
	bias = _mm256_loadu_si256((const __m256i *) (arr + QC_BIAS * t->np + c));
	q.mult = _mm256_loadu_si256((const __m256i *) (arr + QC_MULT * t->np + c));
	q.left = _mm256_loadu_si256((const __m256i *) (arr + QC_LEFT * t->np + c));
	q.right = _mm256_loadu_si256((const __m256i *) (arr + QC_RIGHT * t->np + c));
	q.mask = _mm256_loadu_si256((const __m256i *) (arr + QC_MASK * t->np + c));
	q.half = _mm256_loadu_si256((const __m256i *) (arr + QC_HALF * t->np + c));
#pragma GCC unroll 12
	for (int r = 0; r < R; r++)
	{
		__m256i		v = _mm256_add_epi32(acc[r], bias);
		__m128i		s;

		v = _mm256_sub_epi32(v, _mm256_set1_epi32(t->zwsum[r]));
		v = _mm256_add_epi32(nn_q256_requant(v, &q), zo);
		v = _mm256_min_epi32(_mm256_max_epi32(v, lo), hi);
		/* 0..255 already: the saturating packs only narrow */
		s = _mm_packs_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
		s = _mm_packus_epi16(s, s);
		if (left >= 8)
			_mm_storel_epi64((__m128i *) (out + r * ldc + c), s);
		else
		{
			uint8_t		tmp[16];

			_mm_storeu_si128((__m128i *) tmp, s);
			memcpy(out + r * ldc + c, tmp, left);
		}
	}
}

/*
 * AVX2: R rows (a constant) of the int16 tile by the 16 channels from j.
 * a holds kp int16 per row; a lane of A broadcast as a 32-bit word is the
 * pair (a[2g], a[2g + 1]), which vpmaddwd multiplies by each channel's
 * pair of filters.
 */
NN_Q256 NN_QINLINE void
qtile_avx2(const int R, const qtile *t, const int16_t *a, const int16_t *w, int j,
		   uint8_t *out, size_t ldc)
{
	__m256i		acc0[QMR2],
				acc1[QMR2];
	const int16_t *b = w + (size_t) j * t->kp;
	int			npairs = t->kp / 2;

#pragma GCC unroll 12
	for (int r = 0; r < R; r++)
	{
		acc0[r] = _mm256_setzero_si256();
		acc1[r] = _mm256_setzero_si256();
	}
	for (int g = 0; g < npairs; g++)
	{
		__m256i		w0 = _mm256_loadu_si256((const __m256i *) (b + (size_t) g * 32)),
					w1 = _mm256_loadu_si256((const __m256i *) (b + (size_t) g * 32 + 16));

#pragma GCC unroll 6
		for (int r = 0; r < R; r++)
		{
			int32_t		pair;
			__m256i		x;

			memcpy(&pair, a + (size_t) r * t->kp + 2 * g, 4);
			x = _mm256_set1_epi32(pair);
			acc0[r] = _mm256_add_epi32(acc0[r], _mm256_madd_epi16(x, w0));
			acc1[r] = _mm256_add_epi32(acc1[r], _mm256_madd_epi16(x, w1));
		}
	}
	qepi_avx2(R, t, acc0, j, out, ldc);
	qepi_avx2(R, t, acc1, j + 8, out, ldc);
}

/* rows rows of k bytes widened to kp int16 (zeros after k); zw * row sums */
static NN_Q256 void
q_widen256(const uint8_t *a, size_t lda, int k, int kp, int rows, int32_t zw,
		   int16_t *wide, int32_t *zwsum)
{
	for (int r = 0; r < rows; r++)
	{
		const uint8_t *x = a + r * lda;
		int16_t    *d = wide + (size_t) r * kp;
		__m128i		s = _mm_setzero_si128();
		uint32_t	sum;
		int			i;

		for (i = 0; i + 16 <= k; i += 16)
		{
			__m128i		v = _mm_loadu_si128((const __m128i *) (x + i));

			_mm256_storeu_si256((__m256i *) (d + i), _mm256_cvtepu8_epi16(v));
			s = _mm_add_epi64(s, _mm_sad_epu8(v, _mm_setzero_si128()));
		}
		sum = (uint32_t) (_mm_cvtsi128_si64(s) + _mm_extract_epi64(s, 1));
		for (; i < k; i++)
		{
			d[i] = x[i];
			sum += x[i];
		}
		for (; i < kp; i++)
			d[i] = 0;
		zwsum[r] = (int32_t) ((uint32_t) zw * sum);
	}
}

#define QTILE_AVX2(R0) \
	switch (rr) \
	{ \
		case 1: qtile_avx2(1, &t, wide + (size_t) (R0) * t.kp, w, j, o + (size_t) (R0) * n, n); break; \
		case 2: qtile_avx2(2, &t, wide + (size_t) (R0) * t.kp, w, j, o + (size_t) (R0) * n, n); break; \
		case 3: qtile_avx2(3, &t, wide + (size_t) (R0) * t.kp, w, j, o + (size_t) (R0) * n, n); break; \
		case 4: qtile_avx2(4, &t, wide + (size_t) (R0) * t.kp, w, j, o + (size_t) (R0) * n, n); break; \
		case 5: qtile_avx2(5, &t, wide + (size_t) (R0) * t.kp, w, j, o + (size_t) (R0) * n, n); break; \
		default: qtile_avx2(6, &t, wide + (size_t) (R0) * t.kp, w, j, o + (size_t) (R0) * n, n); break; \
	}

static NN_Q256 void
qconv_avx2(const nn_qconv_params *p, const qconv_pack_hdr *h, const uint8_t *in,
		   uint8_t *out, void *scratch, int m0, int m1)
{
	int			m = p->out_h * p->out_w,
				n = p->out_c;
	bool		direct = q_pointwise(p);
	int32_t    *zwsum = scratch;
	uint8_t    *col = (uint8_t *) scratch + 64;
	int16_t    *wide = (int16_t *) (col + round_up(QMR * h->kp, 64) + 64);
	const int16_t *w;
	qtile		t;

	t.kp = h->kp;
	t.np = h->np;
	t.n = n;
	t.arr = (const int32_t *) ((const char *) h + QHDR_BYTES);
	t.out_zp = p->out_zp;
	t.act_min = p->act_min;
	t.act_max = p->act_max;
	t.k4 = t.ktail = 0;
	w = (const int16_t *) (t.arr + (size_t) QC_NARRAYS * t.np);

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
			q_im2col(p, in, r0, rows, h->kp, col);
			a = col;
			lda = h->kp;
		}
		q_widen256(a, lda, h->k, h->kp, rows, p->w_zp, wide, zwsum);
		for (int j = 0; j < t.np; j += 16)
		{
			int			rr = rows < QMR2 ? rows : QMR2;

			t.zwsum = zwsum;
			QTILE_AVX2(0)
			if (rows > QMR2)
			{
				rr = rows - QMR2;
				t.zwsum = zwsum + QMR2;
				QTILE_AVX2(QMR2)
			}
		}
	}
}

#endif							/* NN_QSIMD */

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
