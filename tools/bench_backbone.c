/*
 * bench_backbone.c
 *	  Benchmark of src/core/nn on a TFLite backbone (not a test): single
 *	  thread by default, prints ms per image for the network alone and for
 *	  decode + resize + network, the physical limit (the network's
 *	  multiply-adds at the sgemm rate measured in this run), the time per
 *	  operator type and per layer, and optionally compares the scores with a
 *	  reference float32 vector (the onnxruntime peer's output).
 *
 * usage: bench_backbone MODEL IMAGE [--repeat N] [--threads N]
 *                       [--pixels RESIZED.ppm] [--ref SCORES.f32] [--layers]
 * Run by tools/bench_backbone.sh, which also times onnxruntime.
 */
#include "common/cv_common.h"
#include "image/image.h"
#include "nn/nn.h"

#include <cblas.h>
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

static uint8_t *
read_all(const char *path, size_t *len)
{
	FILE	   *f = fopen(path, "rb");
	uint8_t    *b;
	long		n;

	if (!f)
		return NULL;
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	fseek(f, 0, SEEK_SET);
	b = malloc(n > 0 ? n : 1);
	if (fread(b, 1, n, f) != (size_t) n)
	{
		free(b);
		b = NULL;
	}
	fclose(f);
	*len = n;
	return b;
}

/* Multiply-adds of a step plus those of the steps fused into it ("[+ N]"). */
static double
step_macs_fused(const cv_net *net, int step)
{
	const char *d = cv_net_step_detail(net, step);
	double		macs = cv_net_step_macs(net, step);

	if (strstr(d, " [in ") != NULL)
		return 0;				/* counted with the step that computes it */
	while ((d = strstr(d, " [+ ")) != NULL)
	{
		d += 4;
		macs += cv_net_step_macs(net, atoi(d));
	}
	return macs;
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
	return v[n / 2];
}

/* Best-of sgemm rate on a square product, in GFLOP/s. */
static double
sgemm_rate(int n)
{
	float	   *a = malloc(sizeof(float) * n * n),
			   *b = malloc(sizeof(float) * n * n),
			   *c = malloc(sizeof(float) * n * n);
	double		best = 1e9;

	for (int i = 0; i < n * n; i++)
	{
		a[i] = (float) (i % 13) * 0.1f;
		b[i] = (float) (i % 7) * 0.1f;
	}
	for (int r = 0; r < 7; r++)
	{
		double		t = now();

		cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, n, n, n, 1.0f, a, n, b, n,
					0.0f, c, n);
		t = now() - t;
		if (t < best)
			best = t;
	}
	free(a);
	free(b);
	free(c);
	return 2.0 * n * n * (double) n / best / 1e9;
}

/* Binary PPM (P6, maxval 255) of exactly w x h. */
static uint8_t *
read_ppm(const char *path, int w, int h)
{
	size_t		len;
	uint8_t    *b = read_all(path, &len);
	int			pw,
				ph,
				maxv,
				off = 0;
	uint8_t    *px;

	if (!b || sscanf((char *) b, "P6 %d %d %d%n", &pw, &ph, &maxv, &off) != 3 ||
		pw != w || ph != h || maxv != 255 || (size_t) off + 1 + (size_t) w * h * 3 > len)
	{
		free(b);
		return NULL;
	}
	px = malloc((size_t) w * h * 3);
	memcpy(px, b + off + 1, (size_t) w * h * 3);
	free(b);
	return px;
}

int
main(int argc, char **argv)
{
	const char *model_path,
			   *image_path,
			   *pixels_path = NULL,
			   *ref_path = NULL;
	int			repeat = 200,
				threads = 1;
	bool		layers = false;
	size_t		mlen,
				ilen;
	uint8_t    *mbytes,
			   *ibytes,
			   *px;
	cv_net	   *net;
	cv_net_workspace *ws;
	cv_error	err;
	const cv_net_info *info;
	float	   *scores;
	double	   *times,
				net_ms,
				full_ms,
				rate,
				limit_ms;
	int			top = 0;

	if (argc < 3)
	{
		fprintf(stderr, "usage: %s MODEL IMAGE [--repeat N] [--threads N] [--pixels PPM] "
				"[--ref F32] [--layers]\n", argv[0]);
		return 2;
	}
	model_path = argv[1];
	image_path = argv[2];
	for (int i = 3; i < argc; i++)
	{
		if (!strcmp(argv[i], "--repeat") && i + 1 < argc)
			repeat = atoi(argv[++i]);
		else if (!strcmp(argv[i], "--threads") && i + 1 < argc)
			threads = atoi(argv[++i]);
		else if (!strcmp(argv[i], "--pixels") && i + 1 < argc)
			pixels_path = argv[++i];
		else if (!strcmp(argv[i], "--ref") && i + 1 < argc)
			ref_path = argv[++i];
		else if (!strcmp(argv[i], "--layers"))
			layers = true;
	}
	if (repeat < 3)
		repeat = 3;
	cv_nn_set_threads(threads);

	mbytes = read_all(model_path, &mlen);
	ibytes = read_all(image_path, &ilen);
	if (!mbytes || !ibytes)
	{
		fprintf(stderr, "cannot read %s or %s\n", model_path, image_path);
		return 1;
	}
	{
		double		t = now();

		if (cv_net_load(mbytes, mlen, &net, &err) != CV_OK)
		{
			fprintf(stderr, "load: %s\n", err.message);
			return 1;
		}
		t = now() - t;
		info = cv_net_get_info(net);
		printf("model        %s\n", model_path);
		printf("load         %.1f ms; input %dx%dx3, scale %.6g, zero point %d; "
			   "%d outputs, %d features\n", t * 1e3, info->input_width, info->input_height,
			   info->input_scale, info->input_zero_point, info->num_outputs,
			   info->feature_dim);
		printf("memory       weights %.1f MB (float), activation arena %.2f MB per workspace\n",
			   info->weight_bytes / 1e6, info->arena_bytes / 1e6);
	}
	if (cv_net_workspace_create(net, &ws, &err) != CV_OK)
	{
		fprintf(stderr, "workspace: %s\n", err.message);
		return 1;
	}
	scores = malloc(sizeof(float) * info->num_outputs);
	times = malloc(sizeof(double) * repeat);

	/* the network's input: the peer's resized pixels, or our own resize */
	px = NULL;
	if (pixels_path)
	{
		px = read_ppm(pixels_path, info->input_width, info->input_height);
		if (!px)
			fprintf(stderr, "cannot read %s as a %dx%d PPM; using our resize\n",
					pixels_path, info->input_width, info->input_height);
	}
	if (!px)
	{
		cv_rgb_image img = {0},
					small = {0};

		if (cv_image_decode(ibytes, ilen, 0, info->input_width, info->input_height, &img,
							&err) != CV_OK ||
			cv_image_resize_bilinear(&img, info->input_width, info->input_height, &small,
									 &err) != CV_OK)
		{
			fprintf(stderr, "image: %s\n", err.message);
			return 1;
		}
		px = small.pixels;
		cv_rgb_image_free(&img);
	}

	/* network alone */
	for (int i = 0; i < 3; i++)
		cv_net_run(net, ws, px, scores, NULL, &err);
	for (int i = 0; i < repeat; i++)
	{
		double		t = now();

		cv_net_run(net, ws, px, scores, NULL, &err);
		times[i] = (now() - t) * 1e3;
	}
	net_ms = median(times, repeat);
	printf("network      %.3f ms per image (median of %d, min %.3f), %d thread%s\n",
		   net_ms, repeat, times[0], threads, threads > 1 ? "s" : "");

	/* decode + resize + network */
	for (int i = 0; i < repeat / 4 + 3; i++)
	{
		double		t = now();
		cv_rgb_image img = {0},
					small = {0};

		if (cv_image_decode(ibytes, ilen, 0, info->input_width, info->input_height, &img,
							&err) == CV_OK &&
			cv_image_resize_bilinear(&img, info->input_width, info->input_height, &small,
									 &err) == CV_OK)
			cv_net_run(net, ws, small.pixels, scores, NULL, &err);
		cv_rgb_image_free(&img);
		cv_rgb_image_free(&small);
		times[i] = (now() - t) * 1e3;
	}
	full_ms = median(times, repeat / 4 + 3);
	printf("end to end   %.3f ms per image: decode + bilinear resize + network (%s)\n",
		   full_ms, image_path);

	rate = sgemm_rate(1024);
	limit_ms = 2.0 * info->macs / (rate * 1e9) * 1e3;
	printf("sgemm        %.1f GFLOP/s (1024^3, this run)\n", rate);
	printf("limit        %.3f ms = %.1f M multiply-adds at the sgemm rate; we reach %.0f%%\n",
		   limit_ms, info->macs / 1e6, 100.0 * limit_ms / net_ms);

	/* where the time goes */
	{
		int			n = cv_net_num_steps(net);
		const double *sec;
		const char *kinds[64];
		double		ksec[64] = {0},
					kmacs[64] = {0},
					total = 0;
		int			nk = 0;
		int			runs = repeat < 50 ? repeat : 50;

		cv_net_workspace_profile(ws, true);
		for (int i = 0; i < runs; i++)
			cv_net_run(net, ws, px, scores, NULL, &err);
		sec = cv_net_workspace_step_seconds(ws);
		for (int i = 0; i < n; i++)
		{
			const char *name = cv_net_step_name(net, i);
			const char *detail = cv_net_step_detail(net, i);
			const char *fused = strstr(detail, " [+ ");
			char		key[64];
			int			k;
			double		macs = step_macs_fused(net, i);

			/*
			 * A 1x1 fused into a depthwise ("[in N]") takes no time itself:
			 * it is counted with that depthwise ("[+ M]").
			 */
			if (strstr(detail, " [in ") != NULL)
				continue;
			/* split CONV_2D into pointwise and windowed */
			if (!strcmp(name, "CONV_2D"))
				snprintf(key, sizeof(key), "CONV_2D %s", strncmp(detail, "1x1/1 ", 6) == 0 ?
						 "1x1" : "KxK");
			else if (fused != NULL)
				snprintf(key, sizeof(key), "%s + 1x1 (fused)", name);
			else
				snprintf(key, sizeof(key), "%s", name);
			for (k = 0; k < nk; k++)
				if (!strcmp(kinds[k], key))
					break;
			if (k == nk && nk < 64)
				kinds[nk++] = strdup(key);
			ksec[k] += sec[i] / runs;
			kmacs[k] += macs;
			total += sec[i] / runs;
		}
		printf("by operator  (profiled, %d runs; total %.3f ms)\n", runs, total * 1e3);
		for (int k = 0; k < nk; k++)
			printf("  %-26s %8.3f ms %5.1f%%  %7.1f M MACs  %6.1f GFLOP/s\n", kinds[k],
				   ksec[k] * 1e3, 100 * ksec[k] / total, kmacs[k] / 1e6,
				   ksec[k] > 0 ? 2 * kmacs[k] / ksec[k] / 1e9 : 0.0);
		if (layers)
		{
			printf("by layer ([in N]: computed inside step N; [+ N]: includes step N)\n");
			for (int i = 0; i < n; i++)
			{
				double		macs = step_macs_fused(net, i);

				printf("  %3d %-18s %-42s %7.3f ms %6.1f GFLOP/s\n", i,
					   cv_net_step_name(net, i), cv_net_step_detail(net, i),
					   sec[i] / runs * 1e3, sec[i] > 0 ? 2 * macs / (sec[i] / runs) / 1e9 : 0.0);
			}
		}
	}

	/* scores, and the comparison with the reference */
	cv_net_run(net, ws, px, scores, NULL, &err);
	for (int i = 1; i < info->num_outputs; i++)
		if (scores[i] > scores[top])
			top = i;
	printf("top-1        %d %.4f\n", top, scores[top]);
	if (ref_path)
	{
		size_t		rlen;
		float	   *ref = (float *) read_all(ref_path, &rlen);

		if (ref && rlen == sizeof(float) * info->num_outputs)
		{
			double		md = 0;
			int			rtop = 0;

			for (int i = 0; i < info->num_outputs; i++)
			{
				md = fmax(md, fabs(scores[i] - ref[i]));
				if (ref[i] > ref[rtop])
					rtop = i;
			}
			printf("vs reference %s: max |diff| %.2e over %d scores, top-1 %d vs %d\n",
				   ref_path, md, info->num_outputs, top, rtop);
		}
		else
			printf("vs reference %s: unreadable or wrong size\n", ref_path);
		free(ref);
	}
	cv_net_workspace_free(ws);
	cv_net_free(net);
	return 0;
}
