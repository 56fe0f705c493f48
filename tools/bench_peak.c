/*
 * bench_peak.c
 *	  The multiply-adds per second this core actually does, one thread: the
 *	  physical limit tools/bench_speed.sh compares the networks against.
 *
 * Each case is a tight loop of independent multiply-add instructions on
 * registers only (no memory traffic): twelve accumulators, enough to cover
 * the instruction's latency times the number of units that issue it on
 * current x86 cores, so that the loop runs at the throughput limit.
 *	 fma256	    AVX2 FMA (vfmadd231ps ymm): 8 float multiply-adds
 *	 fma512	    AVX-512F FMA (vfmadd231ps zmm): 16
 *	 vnni256	AVX-VNNI vpdpbusd ymm: 32 uint8 x int8 multiply-adds into int32
 *	 vnni512	AVX-512 VNNI vpdpbusd zmm: 64
 * A case the CPU lacks is printed as "n/a".  Time is the thread's CPU time
 * (CLOCK_THREAD_CPUTIME_ID), so other jobs on a shared machine lengthen
 * the run, not the figure (except through the core's clock and a shared
 * core's other hyperthread).  The best of five runs is printed.
 *
 * usage: bench_peak [MILLIONS_OF_ITERATIONS]	(default 100)
 * prints one line per case: its name, GMAC/s, MACs per instruction.
 */
#include <immintrin.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#define ACCUMULATORS 12

static double
thread_seconds(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* Keeps the accumulators alive: the compiler must compute them. */
static volatile float sink_f;
static volatile int sink_i;

__attribute__((target("avx2,fma")))
static double
run_fma256(long iters)
{
	__m256		acc[ACCUMULATORS];
	__m256		a = _mm256_set1_ps(1.0000001f),
				b = _mm256_set1_ps(0.9999999f);
	double		t0;
	float		out[8];

	for (int k = 0; k < ACCUMULATORS; k++)
		acc[k] = _mm256_set1_ps((float) k);
	t0 = thread_seconds();
	for (long i = 0; i < iters; i++)
	{
		/* an empty asm on a and b: they are not loop-invariant to the compiler */
		__asm__ volatile ("" : "+x" (a), "+x" (b));
#pragma GCC unroll 12
		for (int k = 0; k < ACCUMULATORS; k++)
			acc[k] = _mm256_fmadd_ps(a, b, acc[k]);
	}
	t0 = thread_seconds() - t0;
	for (int k = 1; k < ACCUMULATORS; k++)
		acc[0] = _mm256_add_ps(acc[0], acc[k]);
	_mm256_storeu_ps(out, acc[0]);
	sink_f = out[0];
	return (double) iters * ACCUMULATORS * 8 / t0;
}

__attribute__((target("avx512f")))
static double
run_fma512(long iters)
{
	__m512		acc[ACCUMULATORS];
	__m512		a = _mm512_set1_ps(1.0000001f),
				b = _mm512_set1_ps(0.9999999f);
	double		t0;

	for (int k = 0; k < ACCUMULATORS; k++)
		acc[k] = _mm512_set1_ps((float) k);
	t0 = thread_seconds();
	for (long i = 0; i < iters; i++)
	{
		__asm__ volatile ("" : "+v" (a), "+v" (b));
#pragma GCC unroll 12
		for (int k = 0; k < ACCUMULATORS; k++)
			acc[k] = _mm512_fmadd_ps(a, b, acc[k]);
	}
	t0 = thread_seconds() - t0;
	for (int k = 1; k < ACCUMULATORS; k++)
		acc[0] = _mm512_add_ps(acc[0], acc[k]);
	sink_f = _mm512_reduce_add_ps(acc[0]);
	return (double) iters * ACCUMULATORS * 16 / t0;
}

__attribute__((target("avx2,avxvnni")))
static double
run_vnni256(long iters)
{
	__m256i		acc[ACCUMULATORS];
	__m256i		a = _mm256_set1_epi8(3),
				b = _mm256_set1_epi8(-2);
	double		t0;
	int			out[8];

	for (int k = 0; k < ACCUMULATORS; k++)
		acc[k] = _mm256_set1_epi32(k);
	t0 = thread_seconds();
	for (long i = 0; i < iters; i++)
	{
		__asm__ volatile ("" : "+x" (a), "+x" (b));
#pragma GCC unroll 12
		for (int k = 0; k < ACCUMULATORS; k++)
			acc[k] = _mm256_dpbusd_avx_epi32(acc[k], a, b);
	}
	t0 = thread_seconds() - t0;
	for (int k = 1; k < ACCUMULATORS; k++)
		acc[0] = _mm256_add_epi32(acc[0], acc[k]);
	_mm256_storeu_si256((__m256i *) out, acc[0]);
	sink_i = out[0];
	return (double) iters * ACCUMULATORS * 32 / t0;
}

__attribute__((target("avx512f,avx512vnni")))
static double
run_vnni512(long iters)
{
	__m512i		acc[ACCUMULATORS];
	__m512i		a = _mm512_set1_epi8(3),
				b = _mm512_set1_epi8(-2);
	double		t0;

	for (int k = 0; k < ACCUMULATORS; k++)
		acc[k] = _mm512_set1_epi32(k);
	t0 = thread_seconds();
	for (long i = 0; i < iters; i++)
	{
		__asm__ volatile ("" : "+v" (a), "+v" (b));
#pragma GCC unroll 12
		for (int k = 0; k < ACCUMULATORS; k++)
			acc[k] = _mm512_dpbusd_epi32(acc[k], a, b);
	}
	t0 = thread_seconds() - t0;
	for (int k = 1; k < ACCUMULATORS; k++)
		acc[0] = _mm512_add_epi32(acc[0], acc[k]);
	sink_i = _mm512_reduce_add_epi32(acc[0]);
	return (double) iters * ACCUMULATORS * 64 / t0;
}

typedef struct peak_case
{
	const char *name;
	const char *feature;		/* for __builtin_cpu_supports */
	double		(*run) (long iters);
	int			macs_per_instruction;
} peak_case;

int
main(int argc, char **argv)
{
	long		iters = (argc > 1 ? atol(argv[1]) : 100) * 1000000L;
	int			supported[4];
	const peak_case cases[] = {
		{"fma256", "fma", run_fma256, 8},
		{"fma512", "avx512f", run_fma512, 16},
		{"vnni256", "avxvnni", run_vnni256, 32},
		{"vnni512", "avx512vnni", run_vnni512, 64},
	};

	if (iters <= 0)
	{
		fprintf(stderr, "usage: %s [MILLIONS_OF_ITERATIONS]\n", argv[0]);
		return 2;
	}
	__builtin_cpu_init();
	supported[0] = __builtin_cpu_supports("fma") && __builtin_cpu_supports("avx2");
	supported[1] = __builtin_cpu_supports("avx512f");
	supported[2] = __builtin_cpu_supports("avxvnni");
	supported[3] = __builtin_cpu_supports("avx512vnni");
	for (int c = 0; c < 4; c++)
	{
		double		best = 0.0;

		if (!supported[c])
		{
			printf("%-8s n/a (%d MACs per instruction; the CPU lacks %s)\n", cases[c].name,
				   cases[c].macs_per_instruction, cases[c].feature);
			continue;
		}
		/* iterations scaled so that each case runs about as long */
		for (int r = 0; r < 5; r++)
		{
			double		rate = cases[c].run(iters / cases[c].macs_per_instruction * 8);

			if (rate > best)
				best = rate;
		}
		printf("%-8s %.1f GMAC/s (%d MACs per instruction)\n", cases[c].name, best * 1e-9,
			   cases[c].macs_per_instruction);
	}
	return 0;
}
