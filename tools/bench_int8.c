/*
 * bench_int8.c
 *	  The int8 engine against the float engine (src/core/nn, issue 12), for
 *	  tools/bench_int8.sh: the time of one inference on each engine, single
 *	  thread, minimum and median of --repeat runs, with the time per
 *	  operator kind; and for every photo listed in --photos, the resized
 *	  pixels (a PPM for the onnxruntime peer) and both engines' scores, so
 *	  that the script can put our float-to-integer gap beside onnxruntime's.
 *
 * usage: bench_int8 MODEL [--size N] [--tensor T] [--repeat N]
 *                         [--photos LIST --out DIR]
 *
 * --size runs the network at another input size (the detector's 320),
 * --tensor cuts it at that tensor (a detection map) instead of running it
 * to its scores; photos are compared only on whole networks.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "image/image.h"
#include "nn/nn.h"

static unsigned char *
read_file(const char *path, size_t *len)
{
	FILE	   *f = fopen(path, "rb");
	unsigned char *buf;
	long		n;

	if (f == NULL)
		return NULL;
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	fseek(f, 0, SEEK_SET);
	buf = malloc(n > 0 ? (size_t) n : 1);
	if (buf == NULL || fread(buf, 1, (size_t) n, f) != (size_t) n)
	{
		free(buf);
		fclose(f);
		return NULL;
	}
	fclose(f);
	*len = (size_t) n;
	return buf;
}

static double
now(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double) t.tv_sec + (double) t.tv_nsec * 1e-9;
}

static int
cmp_double(const void *a, const void *b)
{
	double		x = *(const double *) a,
				y = *(const double *) b;

	return x < y ? -1 : x > y;
}

typedef struct engine_run
{
	cv_net	   *net;
	cv_net_workspace *ws;
	float	   *out;
	size_t		out_count;
} engine_run;

static void
run_once(engine_run *e, const uint8_t *px, bool cut)
{
	cv_error	err;
	float	   *outs[1] = {e->out};

	if ((cut ? cv_net_run_outputs(e->net, e->ws, px, outs, &err) :
		 cv_net_run(e->net, e->ws, px, e->out, NULL, &err)) != CV_OK)
	{
		fprintf(stderr, "run: %s\n", err.message);
		exit(1);
	}
}

int
main(int argc, char **argv)
{
	const char *model_path,
			   *photos = NULL,
			   *out_dir = NULL;
	int			size = 0,
				tensor = -1,
				repeat = 100;
	size_t		len;
	unsigned char *file;
	engine_run	e[2];
	const char *names[2] = {"float", "int8"};
	int			w,
				h;
	uint8_t    *px;

	if (argc < 2)
	{
		fprintf(stderr, "usage: %s MODEL [--size N] [--tensor T] [--repeat N] [--photos LIST --out DIR]\n",
				argv[0]);
		return 2;
	}
	model_path = argv[1];
	for (int i = 2; i < argc; i++)
	{
		if (!strcmp(argv[i], "--size") && i + 1 < argc)
			size = atoi(argv[++i]);
		else if (!strcmp(argv[i], "--tensor") && i + 1 < argc)
			tensor = atoi(argv[++i]);
		else if (!strcmp(argv[i], "--repeat") && i + 1 < argc)
			repeat = atoi(argv[++i]);
		else if (!strcmp(argv[i], "--photos") && i + 1 < argc)
			photos = argv[++i];
		else if (!strcmp(argv[i], "--out") && i + 1 < argc)
			out_dir = argv[++i];
		else
		{
			fprintf(stderr, "unknown argument %s\n", argv[i]);
			return 2;
		}
	}
	if ((file = read_file(model_path, &len)) == NULL)
	{
		fprintf(stderr, "cannot read %s\n", model_path);
		return 1;
	}
	cv_nn_set_threads(1);
	for (int k = 0; k < 2; k++)
	{
		cv_net_options opt;
		cv_error	err;
		int			dims[4];

		memset(&opt, 0, sizeof(opt));
		opt.engine = k == 0 ? CV_NET_ENGINE_FLOAT : CV_NET_ENGINE_INT8;
		opt.input_width = opt.input_height = size;
		if (tensor >= 0)
		{
			opt.n_outputs = 1;
			opt.outputs[0] = tensor;
		}
		if (cv_net_load_with(file, len, &opt, &e[k].net, &err) != CV_OK ||
			cv_net_workspace_create(e[k].net, &e[k].ws, &err) != CV_OK)
		{
			fprintf(stderr, "%s: %s\n", model_path, err.message);
			return 1;
		}
		if (tensor >= 0 && cv_net_output_shape(e[k].net, 0, dims))
			e[k].out_count = (size_t) dims[0] * dims[1] * dims[2] * dims[3];
		else
			e[k].out_count = (size_t) cv_net_get_info(e[k].net)->num_outputs;
		e[k].out = malloc(e[k].out_count * sizeof(float));
	}
	w = cv_net_get_info(e[0].net)->input_width;
	h = cv_net_get_info(e[0].net)->input_height;
	px = malloc((size_t) w * h * 3);
	for (size_t i = 0; i < (size_t) w * h * 3; i++)
		px[i] = (uint8_t) ((i * 7919) % 251);

	/* timing: interleaved, so that both engines see the same machine */
	{
		double	   *t[2];

		for (int k = 0; k < 2; k++)
		{
			t[k] = malloc(sizeof(double) * (size_t) repeat);
			run_once(&e[k], px, tensor >= 0);	/* warm */
		}
		for (int r = 0; r < repeat; r++)
			for (int k = 0; k < 2; k++)
			{
				double		t0 = now();

				run_once(&e[k], px, tensor >= 0);
				t[k][r] = now() - t0;
			}
		for (int k = 0; k < 2; k++)
		{
			const cv_net_info *info = cv_net_get_info(e[k].net);

			qsort(t[k], (size_t) repeat, sizeof(double), cmp_double);
			printf("%-5s engine: median %.2f ms, min %.2f ms (%dx%d, %.0f M MACs, %d integer steps, weights %.1f MB, arena %.1f MB)\n",
				   names[k], t[k][repeat / 2] * 1e3, t[k][0] * 1e3, w, h, info->macs / 1e6,
				   info->integer_steps, info->weight_bytes / 1e6, info->arena_bytes / 1e6);
			free(t[k]);
		}
	}
	/* where the time goes, by operator kind */
	for (int k = 0; k < 2; k++)
	{
		const double *sec;
		const char *kind[32];
		double		total[32] = {0};
		int			nkinds = 0,
					runs = repeat < 20 ? repeat : 20;

		cv_net_workspace_profile(e[k].ws, true);
		for (int r = 0; r < runs; r++)
			run_once(&e[k], px, tensor >= 0);
		sec = cv_net_workspace_step_seconds(e[k].ws);
		for (int i = 0; i < cv_net_num_steps(e[k].net); i++)
		{
			const char *name = cv_net_step_name(e[k].net, i);
			int			j;

			for (j = 0; j < nkinds && strcmp(kind[j], name) != 0; j++)
				;
			if (j == nkinds && nkinds < 32)
				kind[nkinds++] = name;
			if (j < 32)
				total[j] += sec[i] / runs;
		}
		printf("  %s:", names[k]);
		for (int j = 0; j < nkinds; j++)
			if (total[j] * 1e3 >= 0.005)
				printf(" %s %.2f", kind[j], total[j] * 1e3);
		printf(" (ms)\n");
		cv_net_workspace_profile(e[k].ws, false);
	}

	/* photos: pixels and both engines' scores, for the peer comparison */
	if (photos != NULL && out_dir != NULL && tensor < 0)
	{
		FILE	   *list = fopen(photos, "r");
		char		line[4096];
		int			n = 0;

		if (list == NULL)
		{
			fprintf(stderr, "cannot read %s\n", photos);
			return 1;
		}
		while (fgets(line, sizeof(line), list))
		{
			size_t		plen;
			unsigned char *bytes;
			cv_rgb_image img = {0},
						small = {0};
			cv_error	err;
			char		path[4200];
			FILE	   *f;

			line[strcspn(line, "\r\n")] = '\0';
			if (line[0] == '\0' || (bytes = read_file(line, &plen)) == NULL)
				continue;
			if (cv_image_decode(bytes, plen, 0, 0, 0, &img, &err) != CV_OK ||
				cv_image_resize_bilinear(&img, w, h, &small, &err) != CV_OK)
			{
				fprintf(stderr, "%s: %s\n", line, err.message);
				free(bytes);
				continue;
			}
			snprintf(path, sizeof(path), "%s/%d.ppm", out_dir, n);
			f = fopen(path, "wb");
			fprintf(f, "P6\n%d %d\n255\n", w, h);
			fwrite(small.pixels, 1, (size_t) w * h * 3, f);
			fclose(f);
			snprintf(path, sizeof(path), "%s/%d.ours.f32", out_dir, n);
			f = fopen(path, "wb");
			for (int k = 0; k < 2; k++)
			{
				run_once(&e[k], small.pixels, false);
				fwrite(e[k].out, sizeof(float), e[k].out_count, f);
			}
			fclose(f);
			cv_rgb_image_free(&img);
			cv_rgb_image_free(&small);
			free(bytes);
			n++;
		}
		fclose(list);
		printf("photos: %d written to %s\n", n, out_dir);
	}
	for (int k = 0; k < 2; k++)
	{
		free(e[k].out);
		cv_net_workspace_free(e[k].ws);
		cv_net_free(e[k].net);
	}
	free(px);
	free(file);
	return 0;
}
