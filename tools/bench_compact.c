/*
 * bench_compact.c
 *	  Quality benchmark of the `compact` domain on the shared classification
 *	  sets: train on 70% of each set with the real trainer (augmentation,
 *	  cross-validated L2 strength), predict the other 30%.
 *
 * Split rule (fixed, documented in docs/compact-domain.md): images are
 * grouped by their tag combination (the manifest's tags field with the tags
 * sorted), each group sorted by file name; the image at position i of its
 * group goes to test when i % 10 >= 7, to training otherwise; a group of
 * fewer than 10 images (where that rule would test none) sends its last
 * round(0.3 n) images to test instead.
 *
 * Reported per set: test accuracy (multiclass: top-1; multilabel: exact
 * match of the tag set at threshold 0.5), per-tag precision/recall at 0.5
 * and AP on the test images, the cross-validated figures the trainer
 * returns, training wall time (decode + features + cv_train) and
 * milliseconds per prediction (decode + features + head, from file bytes).
 *
 * usage: bench_compact [--views N] [--predict-views N] [--size S]
 *		  [--blocks colour,colour_fine,hog,hog_coarse,lbp,thumb] [--nopower]
 *		  [--folds K] DATASET_DIR...
 */
#include "common/cv_common.h"
#include "image/image.h"
#include "learn/augment.h"
#include "learn/features.h"
#include "learn/head.h"
#include "learn/metrics.h"
#include "learn/train.h"
#include "model/model.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MAX_TAGS 64

typedef struct item
{
	char	   *file;
	char	   *key;			/* sorted tag combination */
	uint8_t		labels[MAX_TAGS];
	bool		test;
} item;

typedef struct set
{
	char		dir[1024];
	int			n;
	item	   *items;
	int			n_tags;
	char	   *tags[MAX_TAGS];
	cv_task		task;
} set;

static double
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000.0 + ts.tv_nsec / 1e6;
}

static int
tag_index(set *s, const char *name)
{
	for (int k = 0; k < s->n_tags; k++)
		if (strcmp(s->tags[k], name) == 0)
			return k;
	s->tags[s->n_tags] = strdup(name);
	return s->n_tags++;
}

static int
cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *) a, *(char *const *) b);
}

static int
cmp_item(const void *a, const void *b)
{
	const item *x = a,
			   *y = b;
	int			c = strcmp(x->key, y->key);

	return c != 0 ? c : strcmp(x->file, y->file);
}

static int
cmp_tagname(const void *a, const void *b)
{
	return strcmp(*(char *const *) a, *(char *const *) b);
}

static bool
load_set(const char *dir, set *s)
{
	char		path[1200];
	char		line[4096];
	FILE	   *f;
	int			cap = 256;

	memset(s, 0, sizeof(*s));
	snprintf(s->dir, sizeof(s->dir), "%s", dir);
	snprintf(path, sizeof(path), "%s/manifest.csv", dir);
	f = fopen(path, "r");
	if (f == NULL)
		return false;
	s->items = calloc(cap, sizeof(item));
	s->task = CV_TASK_MULTICLASS;
	if (fgets(line, sizeof(line), f) == NULL)	/* header */
	{
		fclose(f);
		return false;
	}
	/* first pass: collect the tag names so their order is sorted */
	while (fgets(line, sizeof(line), f))
	{
		char	   *comma = strchr(line, ',');
		char	   *tok,
				   *save;

		if (comma == NULL)
			continue;
		line[strcspn(line, "\r\n")] = '\0';
		for (tok = strtok_r(comma + 1, ";", &save); tok; tok = strtok_r(NULL, ";", &save))
			tag_index(s, tok);
	}
	qsort(s->tags, s->n_tags, sizeof(char *), cmp_tagname);
	rewind(f);
	if (fgets(line, sizeof(line), f) == NULL)
	{
		fclose(f);
		return false;
	}
	while (fgets(line, sizeof(line), f))
	{
		char	   *comma = strchr(line, ',');
		char	   *tok,
				   *save;
		char	   *names[MAX_TAGS];
		int			nn = 0;
		item	   *it;
		char		key[1024] = "";

		if (comma == NULL)
			continue;
		line[strcspn(line, "\r\n")] = '\0';
		*comma = '\0';
		if (s->n == cap)
		{
			cap *= 2;
			s->items = realloc(s->items, cap * sizeof(item));
		}
		it = &s->items[s->n++];
		memset(it, 0, sizeof(*it));
		it->file = strdup(line);
		for (tok = strtok_r(comma + 1, ";", &save); tok; tok = strtok_r(NULL, ";", &save))
		{
			names[nn++] = tok;
			it->labels[tag_index(s, tok)] = 1;
		}
		if (nn > 1)
			s->task = CV_TASK_MULTILABEL;
		qsort(names, nn, sizeof(char *), cmp_str);
		for (int j = 0; j < nn; j++)
		{
			strcat(key, names[j]);
			strcat(key, ";");
		}
		it->key = strdup(key);
	}
	fclose(f);
	qsort(s->items, s->n, sizeof(item), cmp_item);
	for (int start = 0, end; start < s->n; start = end)
	{
		int			n;

		for (end = start; end < s->n && strcmp(s->items[end].key, s->items[start].key) == 0; end++)
			;
		n = end - start;
		for (int pos = 0; pos < n; pos++)
		{
			/* under 10 images i % 10 >= 7 would test none: last 30% */
			if (n >= 10)
				s->items[start + pos].test = pos % 10 >= 7;
			else
				s->items[start + pos].test = pos >= n - (3 * n + 5) / 10;
		}
	}
	return true;
}

/* Decode a file and compute the features of its first n_views views. */
static bool
image_features(const set *s, const item *it, const cv_feature_extractor *fx,
			   int n_views, float *out)
{
	char		path[2048];
	size_t		len;
	uint8_t    *bytes;
	FILE	   *f;
	cv_rgb_image img;
	cv_error	err;
	cv_status	st;

	snprintf(path, sizeof(path), "%s/%s", s->dir, it->file);
	f = fopen(path, "rb");
	if (f == NULL)
		return false;
	fseek(f, 0, SEEK_END);
	len = (size_t) ftell(f);
	fseek(f, 0, SEEK_SET);
	bytes = malloc(len);
	if (fread(bytes, 1, len, f) != len)
	{
		fclose(f);
		free(bytes);
		return false;
	}
	fclose(f);
	/* crops need about 1/0.8 of the input size to avoid upsampling */
	st = cv_image_decode(bytes, len, 100000000, fx->input_width * 5 / 4,
						 fx->input_height * 5 / 4, &img, &err);
	free(bytes);
	if (st != CV_OK)
	{
		fprintf(stderr, "%s: %s\n", path, err.message);
		return false;
	}
	st = cv_augment_features(fx, &img, n_views, out, &err);
	cv_rgb_image_free(&img);
	if (st != CV_OK)
	{
		fprintf(stderr, "%s: %s\n", path, err.message);
		return false;
	}
	return true;
}

typedef struct bench_opts
{
	int			views;
	int			predict_views;
	int			folds;
	cv_compact_config config;
} bench_opts;

static bool
print_progress(void *arg, double fraction)
{
	double	   *last = arg;

	if (fraction - *last >= 0.25)
	{
		fprintf(stderr, "  progress %.0f%%\n", fraction * 100);
		*last = fraction;
	}
	return true;
}

static void
run_set(const char *dir, const bench_opts *bo_in)
{
	set			s;
	cv_feature_extractor *fx;
	cv_error	err;
	int			n_train = 0,
				n_test = 0;
	float	   *feat;
	uint8_t    *lab;
	int		   *train_items,
			   *test_items;
	cv_dataset	data;
	cv_train_options opt;
	cv_train_result res;
	cv_tag_metrics tm[MAX_TAGS];
	cv_overall_metrics om;
	double		t0,
				t_feat,
				t_train,
				t_pred = 0.0;
	float	   *test_probs;
	uint8_t    *test_lab;
	int			correct = 0;
	double		last = 0.0;
	bench_opts	opts = *bo_in;
	bench_opts *bo = &opts;

	if (!load_set(dir, &s))
	{
		fprintf(stderr, "cannot read %s/manifest.csv\n", dir);
		exit(1);
	}
	if (cv_features_compact_create_with(&bo->config, &fx, &err) != CV_OK)
	{
		fprintf(stderr, "%s\n", err.message);
		exit(1);
	}
	for (int i = 0; i < s.n; i++)
		{
		if (s.items[i].test)
			n_test++;
		else
			n_train++;
	}
	train_items = calloc(n_train, sizeof(int));
	test_items = calloc(n_test, sizeof(int));
	n_train = n_test = 0;
	for (int i = 0; i < s.n; i++)
		if (s.items[i].test)
			test_items[n_test++] = i;
		else
			train_items[n_train++] = i;

	/* extract only the views the trainer will use */
	if (bo->views > cv_train_views(n_train))
		bo->views = cv_train_views(n_train);
	feat = calloc((size_t) n_train * bo->views * fx->dim, sizeof(float));
	lab = calloc((size_t) n_train * s.n_tags, 1);
	t0 = now_ms();
	for (int j = 0; j < n_train; j++)
	{
		item	   *it = &s.items[train_items[j]];

		if (!image_features(&s, it, fx, bo->views, feat + (size_t) j * bo->views * fx->dim))
			exit(1);
		memcpy(lab + (size_t) j * s.n_tags, it->labels, s.n_tags);
	}
	t_feat = now_ms() - t0;

	data.task = s.task;
	data.n_images = n_train;
	data.n_views = bo->views;
	data.dim = fx->dim;
	data.n_tags = s.n_tags;
	data.features = feat;
	data.labels = lab;
	data.negative = NULL;
	cv_train_options_init(&opt);
	opt.predict_views = bo->predict_views;
	opt.max_folds = bo->folds;
	opt.progress = print_progress;
	opt.progress_arg = &last;
	t0 = now_ms();
	if (cv_train(&data, &opt, &res, &err) != CV_OK)
	{
		fprintf(stderr, "training failed: %s\n", err.message);
		exit(1);
	}
	t_train = now_ms() - t0;

	/* cross-validated figures, as the service would report them */
	cv_metrics_compute(s.task, res.holdout, lab, NULL, n_train, s.n_tags, 0.5, tm, &om, &err);
	printf("== %s (%s, %d tags, dim %d, %d train views, predict views %d)\n", dir,
		   s.task == CV_TASK_MULTICLASS ? "multiclass" : "multilabel", s.n_tags, fx->dim,
		   bo->views, bo->predict_views);
	printf("train %d images, test %d images; folds %d, lambda %g (loss:", n_train, n_test,
		   res.n_folds, res.lambda);
	for (int l = 0; l < res.n_lambdas; l++)
		printf(" %g=%.3f", res.lambdas[l], res.holdout_loss[l]);
	printf(")\n");
	printf("cross-validated on train: precision %.3f recall %.3f mAP %.3f\n",
		   om.precision, om.recall, om.map);

	/* test set, from file bytes: decode + features + head */
	test_probs = calloc((size_t) n_test * s.n_tags, sizeof(float));
	test_lab = calloc((size_t) n_test * s.n_tags, 1);
	{
		float	   *f1 = calloc((size_t) bo->predict_views * fx->dim, sizeof(float));

		for (int j = 0; j < n_test; j++)
		{
			item	   *it = &s.items[test_items[j]];
			float	   *p = test_probs + (size_t) j * s.n_tags;
			int			arg = 0,
						truth = 0;
			bool		exact = true;

			t0 = now_ms();
			if (!image_features(&s, it, fx, bo->predict_views, f1) ||
				cv_head_predict(res.head, f1, bo->predict_views, p, &err) != CV_OK)
				exit(1);
			t_pred += now_ms() - t0;
			memcpy(test_lab + (size_t) j * s.n_tags, it->labels, s.n_tags);
			for (int k = 0; k < s.n_tags; k++)
			{
				if (p[k] > p[arg])
					arg = k;
				if (it->labels[k])
					truth = k;
				if ((p[k] >= 0.5f) != (it->labels[k] != 0))
					exact = false;
			}
			if (s.task == CV_TASK_MULTICLASS ? arg == truth : exact)
				correct++;
		}
		free(f1);
	}
	cv_metrics_compute(s.task, test_probs, test_lab, NULL, n_test, s.n_tags, 0.5, tm, &om, &err);
	printf("test: %s %.1f%% (%d/%d); precision %.3f recall %.3f mAP %.3f\n",
		   s.task == CV_TASK_MULTICLASS ? "top-1 accuracy" : "exact-match accuracy",
		   100.0 * correct / n_test, correct, n_test, om.precision, om.recall, om.map);
	for (int k = 0; k < s.n_tags; k++)
		printf("  %-16s precision %.3f recall %.3f AP %.3f (%d test images)\n", s.tags[k],
			   tm[k].precision, tm[k].recall, tm[k].ap, tm[k].positives);
	printf("time: training %.1f s (decode+features %.1f s, cv_train %.1f s); %.1f ms per prediction\n",
		   (t_feat + t_train) / 1000, t_feat / 1000, t_train / 1000, t_pred / n_test);
	fflush(stdout);

	cv_train_result_free(&res);
	cv_features_destroy(fx);
	free(feat);
	free(lab);
	free(test_probs);
	free(test_lab);
	free(train_items);
	free(test_items);
}

int
main(int argc, char **argv)
{
	bench_opts	bo;

	bo.views = CV_AUGMENT_TRAIN_VIEWS;
	bo.predict_views = CV_TRAIN_PREDICT_VIEWS;
	bo.folds = 0;
	bo.config = cv_compact_default;
	for (int a = 1; a < argc; a++)
	{
		if (strcmp(argv[a], "--views") == 0 && a + 1 < argc)
			bo.views = atoi(argv[++a]);
		else if (strcmp(argv[a], "--predict-views") == 0 && a + 1 < argc)
			bo.predict_views = atoi(argv[++a]);
		else if (strcmp(argv[a], "--folds") == 0 && a + 1 < argc)
			bo.folds = atoi(argv[++a]);
		else if (strcmp(argv[a], "--size") == 0 && a + 1 < argc)
			bo.config.size = atoi(argv[++a]);
		else if (strcmp(argv[a], "--nopower") == 0)
			bo.config.power = false;
		else if (strcmp(argv[a], "--blocks") == 0 && a + 1 < argc)
		{
			const char *b = argv[++a];

			bo.config.colour = strstr(b, "colour") != NULL;
			bo.config.colour_fine = strstr(b, "colour_fine") != NULL;
			bo.config.hog = strstr(b, "hog,") != NULL || (strlen(b) >= 3 && strcmp(b + strlen(b) - 3, "hog") == 0);
			bo.config.hog_coarse = strstr(b, "hog_coarse") != NULL;
			bo.config.lbp = strstr(b, "lbp") != NULL;
			bo.config.thumb = strstr(b, "thumb") != NULL;
		}
		else if (argv[a][0] == '-')
		{
			fprintf(stderr, "unknown option %s\n", argv[a]);
			return 2;
		}
		else
			run_set(argv[a], &bo);
	}
	return 0;
}
