/*
 * bench_compact.c
 *	  Quality benchmark of a domain (the built-in `compact`, or an imported
 *	  backbone with --backbone FILE) on the shared classification sets:
 *	  train on 70% of each set with the real trainer (augmentation views,
 *	  cross-validated L2 strength), predict the other 30%.
 *
 * Split rule (the SQL benchmark's, tools/bench_classify.sql): images are
 * grouped by their tags field as the manifest writes it, each group sorted
 * by file name (byte order); the i-th image of a group (from 0) goes to test
 * when floor(3(i+1)/10) > floor(3i/10), to training otherwise.
 *
 * Features: every image of a set is decoded as the extension decodes it
 * (DecodeSizeFor: 5/4 of the input size + 1, so crops need no upsampling)
 * and the features of all CV_AUGMENT_MAX_VIEWS standard views are computed
 * once, on --jobs threads (one extractor each), and cached in --cache
 * (default /tmp/pgvision-bench-cache), keyed by set, domain name, version,
 * weights or configuration.  Later runs read the cache, so the head can be
 * iterated on in seconds.  The cache file is a 16-byte header (magic
 * "CVFC", images, views, dim as u32) and then images x views x dim floats
 * in the set's sorted order; a .txt file beside it lists, per image, test
 * flag, label vector and file, for outside analysis.
 *
 * Reported per set: test accuracy (multiclass: top-1; multilabel: exact
 * match of the tag set at threshold 0.5), per-tag precision/recall at 0.5
 * and AP on the test images, the cross-validated figures the trainer
 * returns, cv_train wall time, and the feature time per image view when
 * the features were computed in this run.
 *
 * usage: bench_compact [--backbone FILE] [--views N] [--predict-views N]
 *		  [--folds K] [--max-rows N] [--lambdas a,b,...] [--norm none|power-l2]
 *		  [--size S] [--blocks colour,colour_fine,hog,hog_coarse,lbp,thumb]
 *		  [--nopower] [--jobs N] [--cache DIR] [--quiet] DATASET_DIR...
 */
#include "common/cv_common.h"
#include "image/image.h"
#include "learn/augment.h"
#include "learn/features.h"
#include "learn/head.h"
#include "learn/metrics.h"
#include "learn/train.h"
#include "model/model.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#define MAX_TAGS 64
#define CACHE_VIEWS CV_AUGMENT_MAX_VIEWS

typedef struct item
{
	char	   *file;
	char	   *key;			/* the tags field as written */
	uint8_t		labels[MAX_TAGS];
	bool		test;
} item;

typedef struct set
{
	char		dir[1024];
	const char *name;			/* last path component */
	int			n;
	item	   *items;
	int			n_tags;
	char	   *tags[MAX_TAGS];
	cv_task		task;
} set;

typedef struct bench_opts
{
	int			views;			/* 0: cv_train_views(fx, n_train) */
	const char *backbone;		/* weights file, NULL: compact */
	const char *cache;
	int			jobs;
	bool		quiet;
	cv_compact_config config;
	cv_train_options train;
} bench_opts;

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
	if (s->n_tags == MAX_TAGS)
	{
		fprintf(stderr, "more than %d tags\n", MAX_TAGS);
		exit(1);
	}
	s->tags[s->n_tags] = strdup(name);
	return s->n_tags++;
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
	const char *slash;

	memset(s, 0, sizeof(*s));
	snprintf(s->dir, sizeof(s->dir), "%s", dir);
	while (strlen(s->dir) > 1 && s->dir[strlen(s->dir) - 1] == '/')
		s->dir[strlen(s->dir) - 1] = '\0';
	slash = strrchr(s->dir, '/');
	s->name = slash ? slash + 1 : s->dir;
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
		int			nn = 0;
		item	   *it;

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
		it->key = strdup(comma + 1);
		for (tok = strtok_r(comma + 1, ";", &save); tok; tok = strtok_r(NULL, ";", &save))
		{
			nn++;
			it->labels[tag_index(s, tok)] = 1;
		}
		if (nn > 1)
			s->task = CV_TASK_MULTILABEL;
	}
	fclose(f);
	qsort(s->items, s->n, sizeof(item), cmp_item);
	for (int start = 0, end; start < s->n; start = end)
	{
		for (end = start; end < s->n && strcmp(s->items[end].key, s->items[start].key) == 0; end++)
			;
		for (int i = 0; i < end - start; i++)
			s->items[start + i].test = (3 * i + 3) / 10 > (3 * i) / 10;
	}
	return true;
}

static uint8_t *
read_file(const char *path, size_t *len)
{
	FILE	   *f = fopen(path, "rb");
	uint8_t    *bytes;

	if (f == NULL)
		return NULL;
	fseek(f, 0, SEEK_END);
	*len = (size_t) ftell(f);
	fseek(f, 0, SEEK_SET);
	bytes = malloc(*len ? *len : 1);
	if (fread(bytes, 1, *len, f) != *len)
	{
		fclose(f);
		free(bytes);
		return NULL;
	}
	fclose(f);
	return bytes;
}

/* Decode as src/pg does (DecodeSizeFor) and compute n_views views. */
static bool
image_features(const set *s, const item *it, const cv_feature_extractor *fx,
			   int n_views, float *out)
{
	char		path[2048];
	size_t		len;
	uint8_t    *bytes;
	cv_rgb_image img;
	cv_error	err;
	cv_status	st;

	snprintf(path, sizeof(path), "%s/%s", s->dir, it->file);
	bytes = read_file(path, &len);
	if (bytes == NULL)
	{
		fprintf(stderr, "cannot read %s\n", path);
		return false;
	}
	st = cv_image_decode(bytes, len, 100000000, fx->input_width * 5 / 4 + 1,
						 fx->input_height * 5 / 4 + 1, &img, &err);
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

static cv_status
make_extractor(const bench_opts *bo, cv_feature_extractor **fx, cv_error *err)
{
	if (bo->backbone == NULL)
		return cv_features_compact_create_with(&bo->config, fx, err);
	else
	{
		size_t		len;
		uint8_t    *bytes = read_file(bo->backbone, &len);
		uint8_t		hash[32] = {0};
		const char *base = strrchr(bo->backbone, '/');
		char		name[CV_DOMAIN_NAME_MAX + 1];
		cv_status	st;
		uint64_t	h = 1469598103934665603ULL;	/* FNV-1a of the file */

		if (bytes == NULL)
			return cv_fail(err, CV_ERR_PARAM, "cannot read %s", bo->backbone);
		for (size_t i = 0; i < len; i++)
			h = (h ^ bytes[i]) * 1099511628211ULL;
		memcpy(hash, &h, sizeof(h));
		snprintf(name, sizeof(name), "%s", base ? base + 1 : bo->backbone);
		if (strrchr(name, '.') && strcmp(strrchr(name, '.'), ".tflite") == 0)
			*strrchr(name, '.') = '\0';
		st = cv_features_backbone_create(name, bytes, len, hash, fx, err);
		free(bytes);
		return st;
	}
}

typedef struct extract_job
{
	const set  *s;
	const bench_opts *bo;
	float	   *feat;
	int			dim;
	int			next;			/* atomic */
	bool		failed;
} extract_job;

static void *
extract_worker(void *arg)
{
	extract_job *job = arg;
	cv_feature_extractor *fx;
	cv_error	err;

	if (make_extractor(job->bo, &fx, &err) != CV_OK)
	{
		fprintf(stderr, "%s\n", err.message);
		job->failed = true;
		return NULL;
	}
	for (;;)
	{
		int			i = __atomic_fetch_add(&job->next, 1, __ATOMIC_RELAXED);

		if (i >= job->s->n)
			break;
		if (!image_features(job->s, &job->s->items[i], fx, CACHE_VIEWS,
							job->feat + (size_t) i * CACHE_VIEWS * job->dim))
		{
			job->failed = true;
			break;
		}
	}
	cv_features_destroy(fx);
	return NULL;
}

/* Cache file name: set, domain, version, weights hash or configuration. */
static void
cache_path(const set *s, const bench_opts *bo, const cv_feature_extractor *fx,
		   char *path, size_t size)
{
	char		sig[128];

	if (bo->backbone != NULL)
		snprintf(sig, sizeof(sig), "%02x%02x%02x%02x%02x%02x%02x%02x",
				 fx->content_hash[0], fx->content_hash[1], fx->content_hash[2],
				 fx->content_hash[3], fx->content_hash[4], fx->content_hash[5],
				 fx->content_hash[6], fx->content_hash[7]);
	else
	{
		const cv_compact_config *c = &bo->config;

		snprintf(sig, sizeof(sig), "s%d-%d%d%d%d%d%d%d", c->size, c->colour, c->colour_fine,
				 c->hog, c->hog_coarse, c->lbp, c->thumb, c->power);
	}
	snprintf(path, size, "%s/%s-%s-v%u-%s-d%d.f32", bo->cache, s->name, fx->name,
			 fx->version, sig, fx->dim);
}

/*
 * All views of every image of the set: from the cache, or computed (and
 * then cached).  *ms_per_view: extraction time per view, 0 when cached.
 */
static float *
set_features(const set *s, const bench_opts *bo, const cv_feature_extractor *fx,
			 double *ms_per_view)
{
	char		path[2048];
	size_t		count = (size_t) s->n * CACHE_VIEWS * fx->dim;
	float	   *feat = malloc(count * sizeof(float));
	FILE	   *f;
	uint32_t	hdr[4];

	*ms_per_view = 0.0;
	cache_path(s, bo, fx, path, sizeof(path));
	f = fopen(path, "rb");
	if (f != NULL)
	{
		bool		ok = fread(hdr, sizeof(hdr), 1, f) == 1 &&
			memcmp(hdr, "CVFC", 4) == 0 && hdr[1] == (uint32_t) s->n &&
			hdr[2] == CACHE_VIEWS && hdr[3] == (uint32_t) fx->dim &&
			fread(feat, sizeof(float), count, f) == count;

		fclose(f);
		if (ok)
			return feat;
	}
	{
		int			jobs = bo->jobs < 1 ? 1 : bo->jobs;
		pthread_t	tid[64];
		extract_job job = {s, bo, feat, fx->dim, 0, false};
		double		t0 = now_ms();

		for (int j = 0; j < jobs && j < 64; j++)
			pthread_create(&tid[j], NULL, extract_worker, &job);
		for (int j = 0; j < jobs && j < 64; j++)
			pthread_join(tid[j], NULL);
		if (job.failed)
			exit(1);
		*ms_per_view = (now_ms() - t0) * jobs / ((double) s->n * CACHE_VIEWS);
	}
	mkdir(bo->cache, 0777);
	f = fopen(path, "wb");
	if (f != NULL)
	{
		char		txt[2100];
		FILE	   *t;

		memcpy(hdr, "CVFC", 4);
		hdr[1] = (uint32_t) s->n;
		hdr[2] = CACHE_VIEWS;
		hdr[3] = (uint32_t) fx->dim;
		if (fwrite(hdr, sizeof(hdr), 1, f) != 1 || fwrite(feat, sizeof(float), count, f) != count)
			fprintf(stderr, "cannot write %s\n", path);
		fclose(f);
		snprintf(txt, sizeof(txt), "%s.txt", path);
		t = fopen(txt, "w");
		if (t != NULL)
		{
			for (int i = 0; i < s->n; i++)
			{
				fprintf(t, "%d ", s->items[i].test);
				for (int k = 0; k < s->n_tags; k++)
					fputc('0' + s->items[i].labels[k], t);
				fprintf(t, " %s\n", s->items[i].file);
			}
			fclose(t);
		}
	}
	return feat;
}

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
run_set(const char *dir, const bench_opts *bo)
{
	set			s;
	cv_feature_extractor *fx;
	cv_error	err;
	int			n_train = 0,
				n_test = 0;
	float	   *all;
	float	   *feat;
	uint8_t    *lab;
	int		   *train_items,
			   *test_items;
	cv_dataset	data;
	cv_train_options opt = bo->train;
	cv_train_result res;
	cv_tag_metrics tm[MAX_TAGS];
	cv_overall_metrics om;
	double		t0,
				t_train,
				ms_view;
	float	   *test_probs;
	uint8_t    *test_lab;
	int			correct = 0;
	double		last = 1.0;
	int			views;
	size_t		per_image;

	if (!load_set(dir, &s))
	{
		fprintf(stderr, "cannot read %s/manifest.csv\n", dir);
		exit(1);
	}
	if (make_extractor(bo, &fx, &err) != CV_OK)
	{
		fprintf(stderr, "%s\n", err.message);
		exit(1);
	}
	for (int i = 0; i < s.n; i++)
		n_test += s.items[i].test;
	n_train = s.n - n_test;
	train_items = calloc(n_train, sizeof(int));
	test_items = calloc(n_test, sizeof(int));
	n_train = n_test = 0;
	for (int i = 0; i < s.n; i++)
		if (s.items[i].test)
			test_items[n_test++] = i;
		else
			train_items[n_train++] = i;

	all = set_features(&s, bo, fx, &ms_view);
	per_image = (size_t) CACHE_VIEWS * fx->dim;

	/* the views the binding would extract, unless asked otherwise */
	views = bo->views > 0 ? bo->views : cv_train_views(fx, n_train);
	if (views > CACHE_VIEWS)
		views = CACHE_VIEWS;
	if (opt.predict_views > views)
		views = opt.predict_views;
	feat = calloc((size_t) n_train * views * fx->dim, sizeof(float));
	lab = calloc((size_t) n_train * s.n_tags, 1);
	for (int j = 0; j < n_train; j++)
	{
		item	   *it = &s.items[train_items[j]];

		memcpy(feat + (size_t) j * views * fx->dim, all + train_items[j] * per_image,
			   sizeof(float) * views * fx->dim);
		memcpy(lab + (size_t) j * s.n_tags, it->labels, s.n_tags);
	}

	data.task = s.task;
	data.n_images = n_train;
	data.n_views = views;
	data.dim = fx->dim;
	data.n_tags = s.n_tags;
	data.features = feat;
	data.labels = lab;
	data.negative = NULL;
	if (!bo->quiet)
	{
		last = 0.0;
		opt.progress = print_progress;
		opt.progress_arg = &last;
	}
	t0 = now_ms();
	if (cv_train(&data, &opt, &res, &err) != CV_OK)
	{
		fprintf(stderr, "training failed: %s\n", err.message);
		exit(1);
	}
	t_train = now_ms() - t0;

	/* cross-validated figures, as the service would report them */
	cv_metrics_compute(s.task, res.holdout, lab, NULL, n_train, s.n_tags, 0.5, tm, &om, &err);
	printf("== %s (%s, %d tags, domain %s dim %d, %d train views, predict views %d, norm %s)\n",
		   s.name, s.task == CV_TASK_MULTICLASS ? "multiclass" : "multilabel", s.n_tags,
		   fx->name, fx->dim, views, res.head->predict_views,
		   res.head->norm == CV_NORM_POWER_L2 ? "power-l2" : "none");
	printf("train %d images, test %d images; folds %d, lambda %g (loss:", n_train, n_test,
		   res.n_folds, res.lambda);
	for (int l = 0; l < res.n_lambdas; l++)
		printf(" %g=%.4f", res.lambdas[l], res.holdout_loss[l]);
	printf(")\n");
	printf("cross-validated on train: precision %.3f recall %.3f mAP %.3f\n",
		   om.precision, om.recall, om.map);

	/* test set: the cached views the head averages */
	test_probs = calloc((size_t) n_test * s.n_tags, sizeof(float));
	test_lab = calloc((size_t) n_test * s.n_tags, 1);
	for (int j = 0; j < n_test; j++)
	{
		item	   *it = &s.items[test_items[j]];
		float	   *p = test_probs + (size_t) j * s.n_tags;
		int			arg = 0,
					truth = 0;
		bool		exact = true;

		if (cv_head_predict(res.head, all + test_items[j] * per_image, CACHE_VIEWS, p, &err) != CV_OK)
		{
			fprintf(stderr, "prediction failed: %s\n", err.message);
			exit(1);
		}
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
	cv_metrics_compute(s.task, test_probs, test_lab, NULL, n_test, s.n_tags, 0.5, tm, &om, &err);
	printf("test: %s %.1f%% (%d/%d); precision %.3f recall %.3f mAP %.3f\n",
		   s.task == CV_TASK_MULTICLASS ? "top-1 accuracy" : "exact-match accuracy",
		   100.0 * correct / n_test, correct, n_test, om.precision, om.recall, om.map);
	if (!bo->quiet)
		for (int k = 0; k < s.n_tags; k++)
			printf("  %-16s precision %.3f recall %.3f AP %.3f (%d test images)\n", s.tags[k],
				   tm[k].precision, tm[k].recall, tm[k].ap, tm[k].positives);
	printf("time: cv_train %.2f s", t_train / 1000);
	if (ms_view > 0)
		printf("; decode + features %.1f ms per image view (computed now, cached)", ms_view);
	printf("\n");
	fflush(stdout);

	cv_train_result_free(&res);
	cv_features_destroy(fx);
	free(all);
	free(feat);
	free(lab);
	free(test_probs);
	free(test_lab);
	free(train_items);
	free(test_items);
}

static int
parse_lambdas(const char *s, double *out)
{
	int			n = 0;
	char	   *end;

	while (*s && n < CV_TRAIN_MAX_LAMBDAS)
	{
		out[n++] = strtod(s, &end);
		if (end == s)
			return 0;
		s = *end == ',' ? end + 1 : end;
	}
	return n;
}

int
main(int argc, char **argv)
{
	bench_opts	bo;

	memset(&bo, 0, sizeof(bo));
	bo.config = cv_compact_default;
	bo.cache = "/tmp/pgvision-bench-cache";
	bo.jobs = 2;
	cv_train_options_init(&bo.train);
	for (int a = 1; a < argc; a++)
	{
		const char *o = argv[a];
		const char *v = a + 1 < argc ? argv[a + 1] : NULL;

		if (strcmp(o, "--views") == 0 && v && ++a)
			bo.views = atoi(v);
		else if (strcmp(o, "--predict-views") == 0 && v && ++a)
			bo.train.predict_views = atoi(v);
		else if (strcmp(o, "--folds") == 0 && v && ++a)
			bo.train.max_folds = atoi(v);
		else if (strcmp(o, "--max-rows") == 0 && v && ++a)
			bo.train.max_rows = atoi(v);
		else if (strcmp(o, "--lambdas") == 0 && v && ++a)
		{
			bo.train.n_lambdas = parse_lambdas(v, bo.train.lambdas);
			if (bo.train.n_lambdas == 0)
			{
				fprintf(stderr, "bad --lambdas\n");
				return 2;
			}
		}
		else if (strcmp(o, "--norm") == 0 && v && ++a)
			bo.train.norm = strcmp(v, "none") == 0 ? CV_NORM_NONE : CV_NORM_POWER_L2;
		else if (strcmp(o, "--backbone") == 0 && v && ++a)
			bo.backbone = v;
		else if (strcmp(o, "--cache") == 0 && v && ++a)
			bo.cache = v;
		else if (strcmp(o, "--jobs") == 0 && v && ++a)
			bo.jobs = atoi(v);
		else if (strcmp(o, "--quiet") == 0)
			bo.quiet = true;
		else if (strcmp(o, "--size") == 0 && v && ++a)
			bo.config.size = atoi(v);
		else if (strcmp(o, "--nopower") == 0)
			bo.config.power = false;
		else if (strcmp(o, "--blocks") == 0 && v && ++a)
		{
			const char *b = v;

			bo.config.colour = strstr(b, "colour") != NULL;
			bo.config.colour_fine = strstr(b, "colour_fine") != NULL;
			bo.config.hog = strstr(b, "hog,") != NULL || (strlen(b) >= 3 && strcmp(b + strlen(b) - 3, "hog") == 0);
			bo.config.hog_coarse = strstr(b, "hog_coarse") != NULL;
			bo.config.lbp = strstr(b, "lbp") != NULL;
			bo.config.thumb = strstr(b, "thumb") != NULL;
		}
		else if (o[0] == '-')
		{
			fprintf(stderr, "unknown option or missing value: %s\n", o);
			return 2;
		}
		else
			run_set(o, &bo);
	}
	return 0;
}
