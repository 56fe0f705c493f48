/*
 * bench_threads.c: the core's own threads (cv_nn_set_threads, SQL
 * pgvision.threads) on one image, without SQL: the network of a TFLite
 * file on the float and int8 engines, and the 224 x 224 render of a photo,
 * with 1 and N threads interleaved run by run, wall time; and a check that
 * every thread count gives the same bytes.  Not a test: built and run by
 * tools/bench_threads.sh.
 *
 *   bench_threads MODEL.tflite PHOTO [--threads N] [--repeat R]
 */
#include "common/parallel.h"
#include "image/image.h"
#include "learn/augment.h"
#include "nn/nn.h"

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

static int
cmp_double(const void *a, const void *b)
{
	double		x = *(const double *) a,
				y = *(const double *) b;

	return x < y ? -1 : x > y;
}

static uint8_t *
read_file(const char *path, size_t *len)
{
	FILE	   *f = fopen(path, "rb");
	uint8_t    *buf;
	long		n;

	if (f == NULL)
		return NULL;
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	fseek(f, 0, SEEK_SET);
	buf = malloc((size_t) n);
	if (fread(buf, 1, (size_t) n, f) != (size_t) n)
	{
		fclose(f);
		free(buf);
		return NULL;
	}
	fclose(f);
	*len = (size_t) n;
	return buf;
}

int
main(int argc, char **argv)
{
	int			threads = 2,
				repeat = 60;
	size_t		len,
				plen;
	uint8_t    *file,
			   *photo;
	cv_rgb_image img;
	cv_error	err;
	static const char *names[] = {"float", "int8", "render"};

	if (argc < 3)
	{
		fprintf(stderr, "usage: %s MODEL.tflite PHOTO [--threads N] [--repeat R]\n", argv[0]);
		return 2;
	}
	for (int i = 3; i < argc; i++)
	{
		if (!strcmp(argv[i], "--threads") && i + 1 < argc)
			threads = atoi(argv[++i]);
		else if (!strcmp(argv[i], "--repeat") && i + 1 < argc)
			repeat = atoi(argv[++i]);
	}
	if ((file = read_file(argv[1], &len)) == NULL || (photo = read_file(argv[2], &plen)) == NULL)
	{
		fprintf(stderr, "cannot read %s or %s\n", argv[1], argv[2]);
		return 1;
	}
	if (cv_image_decode(photo, plen, 0, 224, 224, &img, &err) != CV_OK)
	{
		fprintf(stderr, "%s: %s\n", argv[2], err.message);
		return 1;
	}
	for (int k = 0; k < 3; k++)
	{
		cv_net	   *net = NULL;
		cv_net_workspace *ws = NULL;
		cv_view		view = {0.0f, 0.0f, 1.0f, 1.0f, false};
		cv_rgb_image px;
		size_t		out_n = 0;
		float	   *out[2] = {NULL, NULL};
		uint8_t    *rendered[2] = {NULL, NULL};
		double	   *t[2];
		bool		same = true;

		if (cv_augment_render(&img, &view, 224, 224, &px, &err) != CV_OK)
		{
			fprintf(stderr, "render: %s\n", err.message);
			return 1;
		}
		if (k < 2)
		{
			cv_net_options opt;

			memset(&opt, 0, sizeof(opt));
			opt.engine = k == 0 ? CV_NET_ENGINE_FLOAT : CV_NET_ENGINE_INT8;
			if (cv_net_load_with(file, len, &opt, &net, &err) != CV_OK ||
				cv_net_workspace_create(net, &ws, &err) != CV_OK)
			{
				fprintf(stderr, "%s: %s\n", argv[1], err.message);
				return 1;
			}
			out_n = (size_t) cv_net_get_info(net)->feature_dim;
		}
		for (int c = 0; c < 2; c++)
		{
			t[c] = malloc(sizeof(double) * (size_t) repeat);
			out[c] = malloc((out_n + 1) * sizeof(float));
		}
		for (int r = -2; r < repeat; r++)
			for (int c = 0; c < 2; c++)
			{
				double		t0;

				cv_nn_set_threads(c == 0 ? 1 : threads);
				t0 = now();
				if (k < 2)
				{
					if (cv_net_run(net, ws, px.pixels, NULL, out[c], &err) != CV_OK)
					{
						fprintf(stderr, "run: %s\n", err.message);
						return 1;
					}
				}
				else
				{
					cv_rgb_image o;

					if (cv_augment_render(&img, &view, 224, 224, &o, &err) != CV_OK)
						return 1;
					free(rendered[c]);
					rendered[c] = o.pixels;
				}
				if (r >= 0)
					t[c][r] = now() - t0;
			}
		if (k < 2)
			same = memcmp(out[0], out[1], out_n * sizeof(float)) == 0;
		else
			same = memcmp(rendered[0], rendered[1], (size_t) 224 * 224 * 3) == 0;
		qsort(t[0], (size_t) repeat, sizeof(double), cmp_double);
		qsort(t[1], (size_t) repeat, sizeof(double), cmp_double);
		printf("%-6s threads 1 median %.3f ms (best %.3f), threads %d median %.3f ms (best %.3f): %.2fx (best %.2fx); bytes %s\n",
			   names[k], t[0][repeat / 2] * 1e3, t[0][0] * 1e3, threads,
			   t[1][repeat / 2] * 1e3, t[1][0] * 1e3, t[0][repeat / 2] / t[1][repeat / 2],
			   t[0][0] / t[1][0], same ? "equal" : "DIFFER");
		cv_net_workspace_free(ws);
		cv_net_free(net);
		free(px.pixels);
		for (int c = 0; c < 2; c++)
		{
			free(t[c]);
			free(out[c]);
			free(rendered[c]);
		}
	}
	return 0;
}
