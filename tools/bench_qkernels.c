/*
 * bench_qkernels.c
 *	  Benchmark of the integer kernels (not a test): nn_qconv on AVX-512
 *	  VNNI, on AVX2 and the reference, against the float engine's
 *	  nn_conv2d (nn_gemm on packed filters) for the 1x1 convolutions of
 *	  MobileNet V2 and of its SSD heads, and nn_qdepthwise against
 *	  nn_depthwise for 3x3 depthwise shapes; single thread, ms per call
 *	  (best of several timed batches) and GMAC/s.  The outputs of every
 *	  integer kernel are also compared with the reference's, so a fast
 *	  figure cannot come from a wrong kernel.
 *
 * usage: bench_qkernels [--no-ref] [--only TEXT]   (TEXT: shapes whose name has it)
 * Built and run by tools/bench_qkernels.sh.
 */
#include "common/cv_common.h"
#include "nn/nn.h"
#include "nn/nn_kernels.h"
#include "nn/nn_qkernels.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static void *
alloc64(size_t n)
{
	void	   *p = aligned_alloc(64, (n + 63) / 64 * 64 + 64);

	memset(p, 0, (n + 63) / 64 * 64 + 64);
	return p;
}

typedef struct shape
{
	int			h, w, c, k, stride, out_c;	/* out_c 0: depthwise */
	int			w_zp;			/* 0: int8 filters; else uint8 ones (as stored) */
} shape;

static const shape shapes[] = {
	/* MobileNet V2 224 pointwise */
	{112, 112, 16, 1, 1, 96, 0},
	{56, 56, 144, 1, 1, 24, 0},
	{56, 56, 24, 1, 1, 144, 0},
	{28, 28, 192, 1, 1, 32, 0},
	{14, 14, 384, 1, 1, 64, 0},
	{14, 14, 96, 1, 1, 576, 0},
	{14, 14, 576, 1, 1, 96, 0},
	{7, 7, 960, 1, 1, 160, 0},
	{7, 7, 320, 1, 1, 1280, 0},
	/* SSD 320-like */
	{40, 40, 144, 1, 1, 32, 0},
	{20, 20, 192, 1, 1, 64, 0},
	{20, 20, 384, 1, 1, 576, 0},
	{20, 20, 576, 1, 1, 96, 0},
	/* the stem */
	{224, 224, 3, 3, 2, 32, 0},
	/* depthwise 3x3 */
	{112, 112, 32, 3, 1, 0, 0},
	{112, 112, 96, 3, 2, 0, 0},
	{56, 56, 144, 3, 1, 0, 0},
	{56, 56, 144, 3, 2, 0, 0},
	{28, 28, 192, 3, 1, 0, 0},
	{14, 14, 384, 3, 1, 0, 0},
	{14, 14, 576, 3, 1, 0, 0},
	/* uint8 filters with a zero point, as mobilenet_v2_1.0_224_quant's */
	{112, 112, 32, 3, 1, 0, 37},
	{56, 56, 144, 3, 1, 0, -76},
	{14, 14, 576, 3, 1, 0, 31},
	{7, 7, 960, 3, 1, 0, 0},
};

typedef void (*bench_fn) (void *ctx);

/* Best time of 5 batches of calls, each batch at least 30 ms. */
static double
time_ms(bench_fn fn, void *ctx)
{
	double		best = 1e30;
	int			reps = 1;

	for (;;)
	{
		double		t0 = now();

		for (int i = 0; i < reps; i++)
			fn(ctx);
		if (now() - t0 >= 0.03)
			break;
		reps *= 2;
	}
	for (int b = 0; b < 5; b++)
	{
		double		t0 = now(),
					t;

		for (int i = 0; i < reps; i++)
			fn(ctx);
		t = (now() - t0) / reps;
		if (t < best)
			best = t;
	}
	return best * 1e3;
}

typedef struct qctx
{
	nn_qconv_params p;
	bool		dw;
	const uint8_t *in;
	uint8_t    *out;
	void	   *scratch;
} qctx;

static void
run_q(void *c)
{
	qctx	   *q = c;

	if (q->dw)
		nn_qdepthwise(&q->p, q->in, q->out, q->scratch);
	else
		nn_qconv(&q->p, q->in, q->out, q->scratch);
}

typedef struct fctx
{
	nn_conv_params p;
	bool		dw;
	const float *in;
	float	   *out;
	float	   *scratch;
} fctx;

static void
run_f(void *c)
{
	fctx	   *f = c;

	if (f->dw)
		nn_depthwise(&f->p, f->in, f->out);
	else
		nn_conv2d(&f->p, f->in, f->out, f->scratch);
}

/* ms of nn_qconv / nn_qdepthwise packed for the current kernel choice */
static double
time_q(qctx *q, const uint8_t *want, bool *same)
{
	size_t		nout = (size_t) q->p.out_h * q->p.out_w * q->p.out_c;
	size_t		pb = q->dw ? nn_qdepthwise_packed_bytes(&q->p) : nn_qconv_packed_bytes(&q->p);
	size_t		sb = q->dw ? nn_qdepthwise_scratch_bytes(&q->p) : nn_qconv_scratch_bytes(&q->p);
	void	   *packed = pb ? alloc64(pb) : NULL;
	double		ms;

	if (packed)
	{
		if (q->dw)
			nn_qdepthwise_pack(&q->p, packed);
		else
			nn_qconv_pack(&q->p, packed);
	}
	q->p.packed = packed;
	q->scratch = sb ? alloc64(sb) : NULL;
	run_q(q);
	*same = want == NULL || memcmp(want, q->out, nout) == 0;
	ms = time_ms(run_q, q);
	free(packed);
	free(q->scratch);
	q->p.packed = NULL;
	return ms;
}

static void bench_shape(const shape *s, size_t si, const char *name, bool with_ref,
						bool vnni);

int
main(int argc, char **argv)
{
	bool		with_ref = true;
	const char *only = NULL;
	bool		vnni;

	for (int i = 1; i < argc; i++)
	{
		if (strcmp(argv[i], "--no-ref") == 0)
			with_ref = false;
		else if (strcmp(argv[i], "--only") == 0 && i + 1 < argc)
			only = argv[++i];
	}

	nn_qforce_avx2 = false;
	vnni = strcmp(nn_qkernel_name(), "avx512vnni") == 0;
	printf("integer kernels: %s; float gemm: %s\n", nn_qkernel_name(),
		   nn_simd512_available() ? "AVX-512" : nn_gemm_available() ? "AVX2" : "OpenBLAS");
	printf("%-22s %8s | %8s %8s %8s %8s | %7s %7s %7s | %6s\n", "shape", "MMAC",
		   "float", "vnni", "avx2", "ref", "f GMAC", "q GMAC", "a GMAC", "f/vnni");

	for (size_t si = 0; si < sizeof(shapes) / sizeof(shapes[0]); si++)
	{
		char		name[40];

		snprintf(name, sizeof(name), "%s %dx%dx%d%s%d%s", shapes[si].out_c == 0 ? "dw" : "conv",
				 shapes[si].h, shapes[si].w, shapes[si].c, shapes[si].stride == 2 ? " s2->" : "->",
				 shapes[si].out_c == 0 ? shapes[si].c : shapes[si].out_c,
				 shapes[si].w_zp ? " zw" : "");
		if (only == NULL || strstr(name, only) != NULL)
			bench_shape(&shapes[si], si, name, with_ref, vnni);
	}
	return 0;
}

/* one line of the table */
static void
bench_shape(const shape *s, size_t si, const char *name, bool with_ref, bool vnni)
{
	bool		dw = s->out_c == 0;
	int			oc = dw ? s->c : s->out_c;
	int			oh = (s->h + s->stride - 1) / s->stride,
				ow = (s->w + s->stride - 1) / s->stride;
	int			pad_h = ((oh - 1) * s->stride + s->k - s->h) / 2,
				pad_w = ((ow - 1) * s->stride + s->k - s->w) / 2;
	size_t		nin = (size_t) s->h * s->w * s->c,
				nout = (size_t) oh * ow * oc,
				nw = dw ? (size_t) s->k * s->k * oc : (size_t) s->k * s->k * s->c * oc;
	double		macs = (double) nout * s->k * s->k * (dw ? 1 : s->c);
	uint8_t    *qin = alloc64(nin),
			   *qout = alloc64(nout),
			   *want = alloc64(nout);
	int8_t	   *qw = alloc64(nw);
	int32_t    *bias = alloc64(oc * 4),
			   *mult = alloc64(oc * 4),
			   *shift = alloc64(oc * 4);
	float	   *fin = alloc64(nin * 4),
			   *fout = alloc64(nout * 4),
			   *fw = alloc64(nw * 4),
			   *fpk = alloc64(nw * 4),
			   *fbias = alloc64(oc * 4),
			   *fscratch = NULL;
	qctx		q;
	fctx		f;
	double		t_f,
				t_v = NAN,
				t_a = NAN,
				t_r = NAN;
	bool		ok_v = true,
				ok_a = true;

	srand(1 + (unsigned) si);
	for (size_t i = 0; i < nin; i++)
	{
		qin[i] = (uint8_t) (rand() % 256);
		fin[i] = (qin[i] - 128) / 64.0f;
	}
	for (size_t i = 0; i < nw; i++)
	{
		qw[i] = (int8_t) (rand() % 255 - 127);
		fw[i] = qw[i] / 128.0f;
	}
	for (int c = 0; c < oc; c++)
	{
		int			sh;

		bias[c] = rand() % 20000 - 10000;
		fbias[c] = bias[c] / 8192.0f;
		nn_quantize_multiplier(0.5 / (sqrt((double) nw / oc) * 73 * 73 / 40), &mult[c], &sh);
		shift[c] = sh;
	}

	memset(&q, 0, sizeof(q));
	q.p = (nn_qconv_params) {
		.in_h = s->h,.in_w = s->w,.in_c = s->c,.out_h = oh,.out_w = ow,.out_c = oc,
		.k_h = s->k,.k_w = s->k,.stride_h = s->stride,.stride_w = s->stride,
		.dil_h = 1,.dil_w = 1,.pad_top = pad_h,.pad_left = pad_w,.depth_multiplier = 1,
		.in_zp = 128,.w_zp = s->w_zp,.out_zp = 120,.act_min = 0,.act_max = 255,
		.weights = qw,.bias = bias,.multiplier = mult,.shift = shift
	};
	q.dw = dw;
	q.in = qin;
	q.out = qout;

	memset(&f, 0, sizeof(f));
	f.p = (nn_conv_params) {
		.in_h = s->h,.in_w = s->w,.in_c = s->c,.out_h = oh,.out_w = ow,.out_c = oc,
		.k_h = s->k,.k_w = s->k,.stride_h = s->stride,.stride_w = s->stride,
		.dil_h = 1,.dil_w = 1,.pad_top = pad_h,.pad_left = pad_w,.depth_multiplier = 1,
		.act_min = 0,.act_max = 6,.weights = fw,.bias = fbias,
		.simd512 = nn_simd512_available()
	};
	f.dw = dw;
	f.in = fin;
	f.out = fout;
	if (!dw)
	{
		if (nn_conv2d_wants_direct(&f.p))
		{
			/* the stem: prepare.c's transposed copy [k_h][k_w][in_c][out_c] */
			int			kk = s->k * s->k * s->c;

			for (int o = 0; o < oc; o++)
				for (int i = 0; i < kk; i++)
					fpk[(size_t) i * oc + o] = fw[(size_t) o * kk + i];
			f.p.weights_kn = fpk;
		}
		else if (nn_conv2d_wants_gemm(&f.p))
		{
			nn_gemm_pack(s->k * s->k * s->c, oc, fw, fpk);
			f.p.weights = fpk;
			f.p.packed = true;
		}
		fscratch = alloc64(nn_conv2d_scratch(&f.p) * 4 + 64);
		f.scratch = fscratch;
	}
	t_f = time_ms(run_f, &f);

	/* the reference output, for checking the fast kernels */
	if (dw)
		nn_qdepthwise_ref(&q.p, qin, want);
	else
		nn_qconv_ref(&q.p, qin, want);
	if (vnni)
		t_v = time_q(&q, want, &ok_v);
	nn_qforce_avx2 = true;
	if (strcmp(nn_qkernel_name(), "avx2") == 0)
		t_a = time_q(&q, want, &ok_a);
	nn_qforce_avx2 = false;
	if (with_ref)
		t_r = time_ms(run_q, &q);	/* packed NULL: the reference */

	printf("%-22s %8.2f | %8.3f %8.3f %8.3f %8.2f | %7.1f %7.1f %7.1f | %5.2fx%s\n",
		   name, macs / 1e6, t_f, t_v, t_a, t_r, macs / t_f / 1e6, macs / t_v / 1e6,
		   macs / t_a / 1e6, t_f / t_v, ok_v && ok_a ? "" : "  MISMATCH");
	fflush(stdout);
	free(qin);
	free(qout);
	free(want);
	free(qw);
	free(bias);
	free(mult);
	free(shift);
	free(fin);
	free(fout);
	free(fw);
	free(fpk);
	free(fbias);
	free(fscratch);
}
