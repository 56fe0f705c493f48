/*
 * bench_detect_time.c
 *	  The single-thread time of cv_detect end to end (JPEG/PNG decode at the
 *	  scale the extension uses, cv_detect_image: render, the photo's and its
 *	  mirror's backbone passes, head, decoding of the boxes) on a trained
 *	  detection model, and of each of its stages.  A benchmark helper for
 *	  tools/bench_detect_ratio.sh (which runs it between onnxruntime runs of
 *	  the cut backbone, so the two are measured in the same minutes), not a
 *	  test: it prints figures and asserts nothing.
 *
 * usage: bench_detect_time --backbone FILE --model MODEL.cvm [--rounds R] [--print]
 *							[--profile] [--head-only N] [--fresh-work] IMAGE...
 *
 * MODEL.cvm: a detection model's bytes (cv_model_serialize), as
 * `bench_detect --save-model` writes them.  The images are read into memory
 * first (cv_detect gets its bytea in memory too).  After one warm-up pass
 * over the images, R rounds (default 5) each time every image end to end;
 * per round the mean over the images, of wall time and of this thread's CPU
 * time; printed: the median over the rounds of both.  Then the stages of
 * one more pass, each summed over the images and divided by their count
 * (thread CPU time): decode, render, backbone (both passes), head and
 * decoding of the boxes, and the end-to-end sum of those.
 * --print: every detection of the warm-up pass in hex floats (to check
 * that a change computes the same bytes).  --profile: the cut backbone's
 * time per step (50 runs on the first image).  --head-only N: only N runs
 * of the head on the first image's maps (for perf record).  Each image is
 * detected with work kept from image to image (cv_detect_image_in, as
 * cv_detect keeps it in a backend); --fresh-work: cv_detect_image, which
 * allocates and frees its several megabytes per image (what cv_detect did
 * before 3 December 2026).
 */
#include "common/cv_common.h"
#include "detect/detect_backbone.h"
#include "detect/detector.h"
#include "image/image.h"
#include "model/model.h"
#include "nn/nn.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double
clock_ms(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec * 1e-6;
}

static uint8_t *
read_all(const char *path, size_t *len)
{
	FILE	   *f = fopen(path, "rb");
	uint8_t    *b;
	long		n;

	if (f == NULL)
		return NULL;
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	fseek(f, 0, SEEK_SET);
	b = malloc(n > 0 ? n : 1);
	if (fread(b, 1, n, f) != (size_t) n)
	{
		fclose(f);
		free(b);
		return NULL;
	}
	fclose(f);
	*len = (size_t) n;
	return b;
}

static int
cmp_double(const void *a, const void *b)
{
	double		x = *(const double *) a,
				y = *(const double *) b;

	return x < y ? -1 : x > y;
}

static double
median(double *v, int n)
{
	qsort(v, n, sizeof(double), cmp_double);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/* Decode as the extension does (src/pg: DecodeSizeFor, the reduced JPEG scale covering 5/4 of the input). */
static void
decode(const uint8_t *data, size_t len, int size, cv_rgb_image *img)
{
	cv_error	err;
	int			need = size * 5 / 4 + 1;

	if (cv_image_decode(data, len, 1ull << 26, need, need, img, &err) != CV_OK)
	{
		fprintf(stderr, "decode: %s\n", err.message);
		exit(1);
	}
}

/* --head-only N: N runs of the head and the decoding of the boxes on the first image's maps (for perf) */
static int
time_head(cv_detect_backbone *bb, const cv_detector *det, const uint8_t *image, size_t len, int n)
{
	cv_detector_shape s;
	size_t		mf;
	float	   *maps;
	cv_error	err;
	cv_rgb_image img = {0};
	double		t;

	memset(&s, 0, sizeof(s));
	cv_detect_backbone_shape(bb, &s);
	mf = cv_detector_map_floats(&s);
	maps = malloc(sizeof(float) * mf * 2);
	decode(image, len, det->input_width, &img);
	if (cv_detect_backbone_view_maps(bb, &img, 0, maps, &err) != CV_OK ||
		cv_detect_backbone_view_maps(bb, &img, CV_DETECT_MIRROR_VIEW, maps + mf, &err) != CV_OK)
		return 1;
	t = clock_ms(CLOCK_THREAD_CPUTIME_ID);
	for (int r = 0; r < n; r++)
	{
		cv_detection *d = NULL;
		int			nd = 0;

		if (cv_detector_detect(det, maps, maps + mf, 0.1f, 0.45, 100, &d, &nd, &err) != CV_OK)
			return 1;
		cv_free(d);
	}
	printf("head and boxes: %.3f ms CPU per image (%d runs)\n",
		   (clock_ms(CLOCK_THREAD_CPUTIME_ID) - t) / n, n);
	cv_rgb_image_free(&img);
	free(maps);
	return 0;
}

/* --profile: the cut backbone's steps, time and multiply-adds, over 50 runs on the first image */
static void
profile_backbone(const uint8_t *file, size_t file_len, const cv_detector *det,
				 const uint8_t *image, size_t image_len)
{
	cv_net_options opt;
	cv_net	   *net;
	cv_net_workspace *ws;
	cv_error	err;
	cv_rgb_image img = {0},
				view = {0};
	const double *sec;
	double		total = 0,
				macs = 0;
	int			runs = 50;

	memset(&opt, 0, sizeof(opt));
	opt.input_width = det->input_width;
	opt.input_height = det->input_height;
	opt.n_outputs = 2;
	opt.outputs[0] = det->map_tensor[0];
	opt.outputs[1] = det->map_tensor[1];
	if (cv_net_load_with(file, file_len, &opt, &net, &err) != CV_OK ||
		cv_net_workspace_create(net, &ws, &err) != CV_OK)
	{
		fprintf(stderr, "profile: %s\n", err.message);
		exit(1);
	}
	decode(image, image_len, det->input_width, &img);
	cv_detect_render_view(&img, 0, det->input_width, det->input_height, &view, &err);
	{
		cv_detector_shape s;
		float	   *maps,
				   *outs[2];

		memset(&s, 0, sizeof(s));
		for (int k = 0; k < 2; k++)
		{
			s.map_height[k] = det->map_height[k];
			s.map_width[k] = det->map_width[k];
			s.map_channels[k] = det->map_channels[k];
		}
		maps = malloc(sizeof(float) * cv_detector_map_floats(&s));
		outs[0] = maps;
		outs[1] = maps + (size_t) s.map_height[0] * s.map_width[0] * s.map_channels[0];
		cv_net_run_outputs(net, ws, view.pixels, outs, &err);
		cv_net_workspace_profile(ws, true);
		for (int r = 0; r < runs; r++)
			cv_net_run_outputs(net, ws, view.pixels, outs, &err);
		free(maps);
	}
	sec = cv_net_workspace_step_seconds(ws);
	for (int i = 0; i < cv_net_num_steps(net); i++)
	{
		total += sec[i];
		macs += cv_net_step_macs(net, i);
	}
	for (int i = 0; i < cv_net_num_steps(net); i++)
		if (sec[i] > 0)
			printf("step %3d %-18s %7.3f ms %5.1f%% %7.2f MMAC %6.1f GMAC/s  %s\n", i,
				   cv_net_step_name(net, i), sec[i] * 1e3 / runs, 100 * sec[i] / total,
				   cv_net_step_macs(net, i) / 1e6, cv_net_step_macs(net, i) / (sec[i] / runs) / 1e9,
				   cv_net_step_detail(net, i));
	printf("backbone: %.3f ms, %.1f MMAC, %.1f GMAC/s\n", total * 1e3 / runs, macs / 1e6,
		   macs / (total / runs) / 1e9);
	cv_free(view.pixels);
	cv_rgb_image_free(&img);
	cv_net_workspace_free(ws);
	cv_net_free(net);
}

int
main(int argc, char **argv)
{
	const char *backbone = NULL,
			   *model_path = NULL;
	bool		profile = false;
	int			head_only = 0;
	bool		print = false,
				fresh_work = false;
	cv_detect_work *work = cv_detect_work_create();
	int			rounds = 5,
				n_images = 0;
	uint8_t   **images = malloc(sizeof(uint8_t *) * (argc > 0 ? argc : 1));
	size_t	   *lens = malloc(sizeof(size_t) * (argc > 0 ? argc : 1));
	uint8_t    *file,
			   *mbytes;
	size_t		file_len,
				mlen;
	cv_model   *model;
	cv_detect_backbone *bb;
	cv_error	err;
	const cv_detector *det;
	double	   *wall,
			   *cpu;

	for (int i = 1; i < argc; i++)
	{
		if (strcmp(argv[i], "--backbone") == 0 && i + 1 < argc)
			backbone = argv[++i];
		else if (strcmp(argv[i], "--model") == 0 && i + 1 < argc)
			model_path = argv[++i];
		else if (strcmp(argv[i], "--head-only") == 0 && i + 1 < argc)
			head_only = atoi(argv[++i]);
		else if (strcmp(argv[i], "--print") == 0)
			print = true;
		else if (strcmp(argv[i], "--fresh-work") == 0)
			fresh_work = true;
		else if (strcmp(argv[i], "--profile") == 0)
			profile = true;
		else if (strcmp(argv[i], "--rounds") == 0 && i + 1 < argc)
			rounds = atoi(argv[++i]);
		else
		{
			images[n_images] = read_all(argv[i], &lens[n_images]);
			if (images[n_images] == NULL)
			{
				fprintf(stderr, "cannot read %s\n", argv[i]);
				return 1;
			}
			n_images++;
		}
	}
	if (backbone == NULL || model_path == NULL || n_images == 0 || rounds < 1)
	{
		fprintf(stderr, "usage: bench_detect_time --backbone FILE --model MODEL.cvm [--rounds R] IMAGE...\n");
		return 2;
	}
	if ((file = read_all(backbone, &file_len)) == NULL ||
		(mbytes = read_all(model_path, &mlen)) == NULL)
	{
		fprintf(stderr, "cannot read the backbone or the model\n");
		return 1;
	}
	if (cv_model_parse(mbytes, mlen, &model, &err) != CV_OK || model->detector == NULL)
	{
		fprintf(stderr, "model: %s\n", model == NULL ? err.message : "not a detection model");
		return 1;
	}
	det = model->detector;
	if (cv_detect_backbone_create(file, file_len, det->input_width, det->input_height,
								  det->map_tensor, &bb, &err) != CV_OK)
	{
		fprintf(stderr, "backbone: %s\n", err.message);
		return 1;
	}
	cv_nn_set_threads(1);

	if (head_only > 0)
		return time_head(bb, det, images[0], lens[0], head_only);
	wall = malloc(sizeof(double) * rounds);
	cpu = malloc(sizeof(double) * rounds);
	for (int r = -1; r < rounds; r++)
	{
		double		w0 = clock_ms(CLOCK_MONOTONIC),
					c0 = clock_ms(CLOCK_THREAD_CPUTIME_ID);

		for (int i = 0; i < n_images; i++)
		{
			cv_rgb_image img = {0};
			cv_detection *d = NULL;
			int			nd = 0;

			decode(images[i], lens[i], det->input_width, &img);
			if ((fresh_work ?
				 cv_detect_image(bb, det, &img, 0.1f, 0.45, 100, &d, &nd, &err) :
				 (cv_detect_work_reserve(work, bb, det, img.height, &err) != CV_OK ? CV_ERR_NOMEM :
				  cv_detect_image_in(bb, det, work, &img, 0.1f, 0.45, 100, &d, &nd, &err))) != CV_OK)
			{
				fprintf(stderr, "detect: %s\n", err.message);
				return 1;
			}
			if (r < 0 && print)
				for (int j = 0; j < nd; j++)
					printf("image %d: tag %d p %a box %a %a %a %a\n", i, d[j].tag, d[j].score,
						   d[j].box.left, d[j].box.top, d[j].box.width, d[j].box.height);
			cv_free(d);
			cv_rgb_image_free(&img);
		}
		if (r >= 0)
		{
			wall[r] = (clock_ms(CLOCK_MONOTONIC) - w0) / n_images;
			cpu[r] = (clock_ms(CLOCK_THREAD_CPUTIME_ID) - c0) / n_images;
		}
	}
	printf("cv_detect end to end at %d, %d images x %d rounds, 1 thread: median of round means %.3f ms wall, %.3f ms CPU (rounds: wall",
		   det->input_width, n_images, rounds, median(wall, rounds), median(cpu, rounds));
	for (int r = 0; r < rounds; r++)
		printf(" %.2f", wall[r]);
	printf(")\n");

	/* the stages, one more pass, thread CPU time */
	{
		cv_detector_shape s;
		size_t		mf;
		float	   *maps;
		double		t_dec = 0,
					t_ren = 0,
					t_bb = 0,
					t_head = 0,
					t;

		memset(&s, 0, sizeof(s));
		cv_detect_backbone_shape(bb, &s);
		mf = cv_detector_map_floats(&s);
		maps = malloc(sizeof(float) * mf * 2);
		for (int i = 0; i < n_images; i++)
		{
			cv_rgb_image img = {0},
						view = {0},
						mirror = {0};
			cv_detection *d = NULL;
			int			nd = 0;

			t = clock_ms(CLOCK_THREAD_CPUTIME_ID);
			decode(images[i], lens[i], det->input_width, &img);
			t_dec += clock_ms(CLOCK_THREAD_CPUTIME_ID) - t;
			t = clock_ms(CLOCK_THREAD_CPUTIME_ID);
			/* as cv_detect_image does: the photo rendered, its mirror the same pixels flipped */
			if (cv_detect_render_view(&img, 0, s.input_width, s.input_height, &view, &err) != CV_OK)
				return 1;
			mirror.width = view.width;
			mirror.height = view.height;
			mirror.pixels = cv_malloc((size_t) view.width * view.height * 3);
			for (int y = 0; y < view.height; y++)
				for (int x = 0; x < view.width; x++)
					memcpy(mirror.pixels + ((size_t) y * view.width + x) * 3,
						   view.pixels + ((size_t) y * view.width + view.width - 1 - x) * 3, 3);
			t_ren += clock_ms(CLOCK_THREAD_CPUTIME_ID) - t;
			t = clock_ms(CLOCK_THREAD_CPUTIME_ID);
			if (cv_detect_backbone_maps(bb, &view, maps, &err) != CV_OK ||
				cv_detect_backbone_maps(bb, &mirror, maps + mf, &err) != CV_OK)
				return 1;
			t_bb += clock_ms(CLOCK_THREAD_CPUTIME_ID) - t;
			t = clock_ms(CLOCK_THREAD_CPUTIME_ID);
			if (cv_detector_detect(det, maps, maps + mf, 0.1f, 0.45, 100, &d, &nd, &err) != CV_OK)
				return 1;
			t_head += clock_ms(CLOCK_THREAD_CPUTIME_ID) - t;
			cv_free(d);
			cv_free(view.pixels);
			cv_free(mirror.pixels);
			cv_rgb_image_free(&img);
		}
		printf("stages (CPU ms per image): decode %.3f, render both views %.3f, backbone x2 %.3f, head and boxes %.3f; sum %.3f\n",
			   t_dec / n_images, t_ren / n_images, t_bb / n_images, t_head / n_images,
			   (t_dec + t_ren + t_bb + t_head) / n_images);
		free(maps);
	}
	if (profile)
		profile_backbone(file, file_len, det, images[0], lens[0]);
	cv_detect_backbone_free(bb);
	cv_model_free(model);
	return 0;
}
