/*
 * bench_decode.c
 *	  Decode timings of src/core/image: ms per call of full-size and DCT-
 *	  scaled JPEG decodes, validation, probing and the model-input resize.
 *
 * The point is to show what DCT-domain downscaling buys on the prediction
 * path (decode at the smallest M/8 that covers the network input) and what
 * cv_image_validate costs on insert.  Built and run by tools/bench_decode.sh,
 * which makes the 1920x1080 input JPEG; usage: bench_decode FILE [ROUNDS].
 */
#include "image/image.h"

#include <stdio.h>
#include <stdlib.h>
#include <time.h>

typedef enum bench_op
{
	OP_DECODE,
	OP_VALIDATE,
	OP_PROBE,
	OP_DECODE_RESIZE
} bench_op;

static double
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static int
compare_double(const void *a, const void *b)
{
	double		x = *(const double *) a,
				y = *(const double *) b;

	return (x > y) - (x < y);
}

/* Median and minimum ms of `rounds` calls after two warm-up calls. */
static int
bench(const char *label, const unsigned char *data, size_t len, bench_op op,
	  int min_w, int min_h, int rounds)
{
	double	   *t = malloc(sizeof(double) * rounds);
	int			w = 0,
				h = 0;

	for (int r = -2; r < rounds; r++)
	{
		cv_rgb_image img = {0},
					small = {0};
		cv_image_info info;
		cv_error	err;
		cv_status	st;
		double		t0 = now_ms();

		switch (op)
		{
			case OP_DECODE:
				st = cv_image_decode(data, len, 0, min_w, min_h, &img, &err);
				break;
			case OP_VALIDATE:
				st = cv_image_validate(data, len, 0, &info, &err);
				break;
			case OP_PROBE:
				st = cv_image_probe(data, len, 0, &info, &err);
				break;
			default:
				st = cv_image_decode(data, len, 0, min_w, min_h, &img, &err);
				if (st == CV_OK)
					st = cv_image_resize_bilinear(&img, min_w, min_h, &small, &err);
				break;
		}
		if (r >= 0)
			t[r] = now_ms() - t0;
		if (st != CV_OK)
		{
			fprintf(stderr, "%s: %s\n", label, err.message);
			free(t);
			return 1;
		}
		w = img.width;
		h = img.height;
		cv_rgb_image_free(&img);
		cv_rgb_image_free(&small);
	}
	qsort(t, rounds, sizeof(double), compare_double);
	if (w > 0)
		printf("%-34s %9.3f ms median %9.3f ms min   (%dx%d)\n", label, t[rounds / 2], t[0], w, h);
	else
		printf("%-34s %9.3f ms median %9.3f ms min\n", label, t[rounds / 2], t[0]);
	free(t);
	return 0;
}

int
main(int argc, char **argv)
{
	FILE	   *f;
	long		size;
	unsigned char *data;
	int			rounds = argc > 2 ? atoi(argv[2]) : 30;
	int			rc = 0;

	if (argc < 2 || rounds < 1)
	{
		fprintf(stderr, "usage: bench_decode FILE [ROUNDS]\n");
		return 2;
	}
	f = fopen(argv[1], "rb");
	if (f == NULL)
	{
		perror(argv[1]);
		return 1;
	}
	fseek(f, 0, SEEK_END);
	size = ftell(f);
	fseek(f, 0, SEEK_SET);
	data = malloc(size);
	if (fread(data, 1, size, f) != (size_t) size)
	{
		perror(argv[1]);
		return 1;
	}
	fclose(f);

	printf("%s, %ld bytes, %d rounds\n", argv[1], size, rounds);
	rc |= bench("decode full (8/8)", data, size, OP_DECODE, 0, 0, rounds);
	rc |= bench("decode for 224x224 (2/8)", data, size, OP_DECODE, 224, 224, rounds);
	rc |= bench("decode 1/8", data, size, OP_DECODE, 1, 1, rounds);
	rc |= bench("decode 2/8 + bilinear to 224x224", data, size, OP_DECODE_RESIZE, 224, 224, rounds);
	rc |= bench("validate (1/8, fast IDCT, grey)", data, size, OP_VALIDATE, 0, 0, rounds);
	rc |= bench("probe (header only)", data, size, OP_PROBE, 0, 0, rounds);
	free(data);
	return rc;
}
