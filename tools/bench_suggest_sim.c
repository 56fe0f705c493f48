/*
 * bench_suggest_sim.c
 *	  Active learning simulated on the core: does labelling in cv_suggest's
 *	  order teach the classifier more than labelling as many images in
 *	  random order?  (docs/predictions.md, "Does the order help?")
 *
 * tools/bench_suggest.sql asks the same question of the extension itself,
 * but retrains with cv_train in SQL every round (minutes per seed), too
 * slow for the number of seeds that decides it.  This program runs the
 * same loop on the pieces the extension is made of, so that its result
 * speaks for the product:
 *	 - features: every image of the set is decoded as src/pg decodes it
 *	   (DecodeSizeFor: 5/4 of the input size + 1) and its first
 *	   CV_AUGMENT_BACKBONE_VIEWS views (whole square, mirror) extracted once
 *	   with the backbone on the engine pgvision.engine = auto takes here
 *	   (int8 where cv_nn_int8_fast, else float), cached in --cache;
 *	 - training: cv_train (src/core/learn/train.c) with default options on
 *	   the labelled images, cv_train_views of them, as the training worker
 *	   calls it; accuracy: cv_head_predict's top tag on view 0 of the test
 *	   images, as cv_predict;
 *	 - orders as cv_suggest runs them: "margin" the candidates by
 *	   1 - (p1 - p2) of the current head, most uncertain first (ties: the
 *	   earlier pool image, as cv_suggest's image id); "spread"
 *	   cv_diverse_batch over the 10 x batch most uncertain with their
 *	   uncertainties as weights; "random" a seeded draw.
 *	 Orders the core has but cv_suggest does not offer (measured, not
 *	 better: docs/predictions.md): "typical" cv_typical_batch over the
 *	 labelled images and the candidates (view-0 vectors, as cv_features
 *	 caches them); "typical-pl2" (cv_typical_batch
 *	 on the head's normalisation of the features, signed square root then
 *	 unit length), "margin-cover" (the most uncertain candidate near each
 *	 of cv_typical_batch's picks: coverage, then margin inside it).
 *
 * Split of a seed, the SQL benchmark's exactly (so that a seed there and
 * here start from the same images): images ordered by md5(file || seed)
 * (file as the manifest writes it, seed in decimal); the first --test are
 * the test set; of the rest, the first --start of each tag the labelled
 * start, the next --pool the pool of unlabelled images.  --per-tag N keeps
 * the first N images of each tag by md5(file) (bench.per_tag, a balanced
 * set).  The orders that do not draw at random then choose the same images
 * as the extension does on that seed, and reach the same accuracies
 * (checked against tools/bench_suggest.sh, docs/predictions.md); random
 * draws differ (the SQL draw hashes image ids).  Every
 * order starts from the same start on the same split; each round labels
 * --batch pool images with their true tags and retrains.
 *
 * Output: accuracy per seed, order and number of labels (lines "acc ..."),
 * then per order and number of labels the mean accuracy and the paired
 * difference from random over seeds: mean, 95% confidence interval
 * (Student t), and the sign test (seeds better / worse / equal, two-sided
 * exact binomial p over the unequal ones); the same for the mean over all
 * rounds after the start (one number per seed: the area between the
 * curves).
 *
 * usage: bench_suggest_sim --backbone FILE [--seeds 20] [--first-seed 1]
 *		  [--test 300] [--pool 400] [--start 5] [--rounds 5] [--batch 20]
 *		  [--per-tag 0] [--orders random,margin,spread,typical] [--jobs 1]
 *		  [--engine auto|float|int8] [--cache DIR] DATASET_DIR
 */
#include "common/cv_common.h"
#include "image/image.h"
#include "learn/augment.h"
#include "learn/diverse.h"
#include "learn/features.h"
#include "learn/head.h"
#include "learn/train.h"
#include "nn/nn.h"

#include <math.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define MAX_TAGS 64
#define MAX_ORDERS 8
#define MAX_ROUNDS 64
#define MAX_SEEDS 1000
#define VIEWS CV_AUGMENT_BACKBONE_VIEWS

typedef struct item
{
	char	   *file;
	int			tag;
	uint64_t	hash;			/* the first 8 bytes of an md5, big-endian */
	int			index;
} item;

static item *items;
static int	n_items, n_tags, dim;
static char *tag_names[MAX_TAGS];
static float *features;			/* n_items x VIEWS x dim */
static float *features_pl2;		/* view 0, power-l2 */

static int	opt_seeds = 20, opt_first_seed = 1, opt_test = 300, opt_pool = 400, opt_start = 5;
static int	opt_rounds = 5, opt_batch = 20, opt_per_tag = 0, opt_jobs = 1;
static const char *order_names[MAX_ORDERS];
static int	n_orders;

/* results[seed][order][round] */
static double *results;
#define RESULT(s, o, r) results[((size_t) (s) * MAX_ORDERS + (o)) * (MAX_ROUNDS + 1) + (r)]

static uint64_t
fnv1a(const char *s)
{
	uint64_t	h = 1469598103934665603ULL;

	for (; *s; s++)
		h = (h ^ (uint8_t) *s) * 1099511628211ULL;
	return h;
}

/* The first 8 bytes of md5(file || suffix), big-endian: md5's hex order. */
static uint64_t
md5_key(const char *file, const char *suffix)
{
	unsigned char digest[EVP_MAX_MD_SIZE];
	unsigned int len = 0;
	char		buf[8192];
	uint64_t	key = 0;

	snprintf(buf, sizeof(buf), "%s%s", file, suffix);
	if (!EVP_Digest(buf, strlen(buf), digest, &len, EVP_md5(), NULL))
	{
		fprintf(stderr, "md5 failed\n");
		exit(1);
	}
	for (int i = 0; i < 8; i++)
		key = key << 8 | digest[i];
	return key;
}

static uint64_t
mix(uint64_t z)
{
	z += 0x9E3779B97F4A7C15ULL;
	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
	z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
	return z ^ (z >> 31);
}

static uint8_t *
read_file(const char *path, size_t *len)
{
	FILE	   *f = fopen(path, "rb");
	uint8_t    *bytes;
	long		size;

	if (f == NULL)
		return NULL;
	fseek(f, 0, SEEK_END);
	size = ftell(f);
	fseek(f, 0, SEEK_SET);
	bytes = malloc(size > 0 ? size : 1);
	if (bytes == NULL || fread(bytes, 1, size, f) != (size_t) size)
	{
		fclose(f);
		free(bytes);
		return NULL;
	}
	fclose(f);
	*len = size;
	return bytes;
}

static int
tag_index(const char *name)
{
	for (int t = 0; t < n_tags; t++)
		if (strcmp(tag_names[t], name) == 0)
			return t;
	if (n_tags == MAX_TAGS)
	{
		fprintf(stderr, "too many tags\n");
		exit(1);
	}
	tag_names[n_tags] = strdup(name);
	return n_tags++;
}

static int
cmp_hash(const void *a, const void *b)
{
	const item *x = a, *y = b;

	if (x->hash != y->hash)
		return x->hash < y->hash ? -1 : 1;
	return strcmp(x->file, y->file);
}

static int
cmp_file(const void *a, const void *b)
{
	return strcmp(((const item *) a)->file, ((const item *) b)->file);
}

/* The manifest's multiclass images (one tag), by file name. */
static void
read_manifest(const char *dir)
{
	char		path[4096], line[8192];
	FILE	   *f;
	int			cap = 0;

	snprintf(path, sizeof(path), "%s/manifest.csv", dir);
	f = fopen(path, "r");
	if (f == NULL)
	{
		fprintf(stderr, "cannot read %s\n", path);
		exit(1);
	}
	while (fgets(line, sizeof(line), f))
	{
		char	   *comma, *end;

		line[strcspn(line, "\r\n")] = '\0';
		if (strncmp(line, "images/", 7) != 0 || (comma = strchr(line, ',')) == NULL)
			continue;
		*comma = '\0';
		end = comma + 1;
		if (strchr(end, ';'))
			continue;			/* several tags: not a multiclass image */
		if (n_items == cap)
		{
			cap = cap ? 2 * cap : 1024;
			items = realloc(items, sizeof(item) * cap);
		}
		items[n_items].file = strdup(line);
		items[n_items].tag = tag_index(end);
		items[n_items].hash = fnv1a(line);
		n_items++;
	}
	fclose(f);
	/* tags in C order of their names, as the trainer numbers them */
	{
		int			rank[MAX_TAGS];
		char	   *sorted[MAX_TAGS];

		for (int t = 0; t < n_tags; t++)
			sorted[t] = tag_names[t];
		for (int a = 1; a < n_tags; a++)
			for (int b = a; b > 0 && strcmp(sorted[b - 1], sorted[b]) > 0; b--)
			{
				char	   *x = sorted[b];

				sorted[b] = sorted[b - 1];
				sorted[b - 1] = x;
			}
		for (int t = 0; t < n_tags; t++)
			for (int u = 0; u < n_tags; u++)
				if (sorted[u] == tag_names[t])
					rank[t] = u;
		for (int i = 0; i < n_items; i++)
			items[i].tag = rank[items[i].tag];
		memcpy(tag_names, sorted, sizeof(char *) * n_tags);
	}
	/* a fixed order for the cache */
	qsort(items, n_items, sizeof(item), cmp_file);
}

typedef struct extract_job
{
	const char *dir;
	const uint8_t *model;
	size_t		model_len;
	int			engine;
	int			next;
	bool		failed;
} extract_job;

static void *
extract_worker(void *arg)
{
	extract_job *job = arg;
	cv_feature_extractor *fx;
	cv_error	err;
	uint8_t		hash[32] = {0};

	if (cv_features_backbone_create_engine("backbone", job->model, job->model_len, hash, job->engine,
										   &fx, &err) != CV_OK)
	{
		fprintf(stderr, "%s\n", err.message);
		job->failed = true;
		return NULL;
	}
	for (;;)
	{
		int			i = __atomic_fetch_add(&job->next, 1, __ATOMIC_RELAXED);
		char		path[4096];
		size_t		len;
		uint8_t    *bytes;
		cv_rgb_image img;

		if (i >= n_items)
			break;
		snprintf(path, sizeof(path), "%s/%s", job->dir, items[i].file);
		bytes = read_file(path, &len);
		if (bytes == NULL ||
			cv_image_decode(bytes, len, 100000000, fx->input_width * 5 / 4 + 1,
							fx->input_height * 5 / 4 + 1, &img, &err) != CV_OK)
		{
			fprintf(stderr, "%s: %s\n", path, bytes ? err.message : "cannot read");
			free(bytes);
			job->failed = true;
			break;
		}
		free(bytes);
		if (cv_augment_features(fx, &img, VIEWS, features + (size_t) i * VIEWS * dim, &err) != CV_OK)
		{
			fprintf(stderr, "%s: %s\n", path, err.message);
			job->failed = true;
		}
		cv_rgb_image_free(&img);
	}
	cv_features_destroy(fx);
	return NULL;
}

/* Features of every image: from the cache, or extracted and cached. */
static void
load_features(const char *dir, const char *backbone, const char *cache_dir, int engine)
{
	size_t		model_len;
	uint8_t    *model = read_file(backbone, &model_len);
	cv_feature_extractor *fx;
	cv_error	err;
	uint8_t		hash[32] = {0};
	char		path[4096];
	uint64_t	key = fnv1a(dir) ^ mix(fnv1a(backbone) + engine) ^ mix((uint64_t) n_items);
	FILE	   *f;

	if (model == NULL)
	{
		fprintf(stderr, "cannot read %s\n", backbone);
		exit(1);
	}
	if (cv_features_backbone_create_engine("backbone", model, model_len, hash, engine, &fx, &err) != CV_OK)
	{
		fprintf(stderr, "%s\n", err.message);
		exit(1);
	}
	dim = fx->dim;
	key ^= mix(fx->version);
	cv_features_destroy(fx);
	for (int i = 0; i < n_items; i++)
		key = mix(key ^ items[i].hash);
	features = malloc(sizeof(float) * (size_t) n_items * VIEWS * dim);
	mkdir(cache_dir, 0777);
	snprintf(path, sizeof(path), "%s/suggest-%016llx.f32", cache_dir, (unsigned long long) key);
	f = fopen(path, "rb");
	if (f && fread(features, sizeof(float), (size_t) n_items * VIEWS * dim, f) == (size_t) n_items * VIEWS * dim)
		fprintf(stderr, "features from %s\n", path);
	else
	{
		extract_job job = {dir, model, model_len, engine, 0, false};
		pthread_t	threads[16];
		int			jobs = opt_jobs > 16 ? 16 : opt_jobs;

		for (int t = 0; t < jobs; t++)
			pthread_create(&threads[t], NULL, extract_worker, &job);
		for (int t = 0; t < jobs; t++)
			pthread_join(threads[t], NULL);
		if (job.failed)
			exit(1);
		if (f)
			fclose(f);
		f = fopen(path, "wb");
		if (f)
			fwrite(features, sizeof(float), (size_t) n_items * VIEWS * dim, f);
		fprintf(stderr, "features computed, cached in %s\n", path);
	}
	if (f)
		fclose(f);
	free(model);
	features_pl2 = malloc(sizeof(float) * (size_t) n_items * dim);
	for (int i = 0; i < n_items; i++)
		cv_norm_apply(CV_NORM_POWER_L2, features + (size_t) i * VIEWS * dim, dim,
					  features_pl2 + (size_t) i * dim);
}

/*
 * --per-tag: keep the first opt_per_tag images of each tag by md5 of the
 * file name (the features follow their images).
 */
static void
cap_per_tag(void)
{
	int		   *rank = malloc(sizeof(int) * n_items);
	int			kept = 0, count[MAX_TAGS] = {0};

	/* sort indexes by (hash, file) */
	for (int i = 0; i < n_items; i++)
	{
		rank[i] = i;
		items[i].hash = md5_key(items[i].file, "");
	}
	for (int a = 1; a < n_items; a++)
	{
		int			x = rank[a], b = a;

		while (b > 0 && (items[rank[b - 1]].hash > items[x].hash ||
						 (items[rank[b - 1]].hash == items[x].hash && strcmp(items[rank[b - 1]].file, items[x].file) > 0)))
		{
			rank[b] = rank[b - 1];
			b--;
		}
		rank[b] = x;
	}
	{
		bool	   *keep = calloc(n_items, sizeof(bool));

		for (int a = 0; a < n_items; a++)
			if (count[items[rank[a]].tag]++ < opt_per_tag)
				keep[rank[a]] = true;
		for (int i = 0; i < n_items; i++)
			if (keep[i])
			{
				items[kept] = items[i];
				memmove(features + (size_t) kept * VIEWS * dim, features + (size_t) i * VIEWS * dim,
						sizeof(float) * VIEWS * dim);
				memmove(features_pl2 + (size_t) kept * dim, features_pl2 + (size_t) i * dim, sizeof(float) * dim);
				kept++;
			}
		free(keep);
	}
	n_items = kept;
	free(rank);
}

/* One seed's run of one order: the state of the project. */
typedef struct run
{
	int		   *labelled;		/* item indexes, in labelling order */
	int			n_labelled;
	int		   *pool;			/* item indexes of the pool, in pool order */
	bool	   *in_pool_taken;	/* per pool index: labelled already */
	int			n_pool;
} run;

static double
train_and_test(const run *r, const int *test, int n_test, cv_head **head_out)
{
	int			views = VIEWS;
	float	   *feat = malloc(sizeof(float) * (size_t) r->n_labelled * VIEWS * dim);
	uint8_t    *labels = calloc((size_t) r->n_labelled * n_tags, 1);
	cv_dataset	data;
	cv_train_result result;
	cv_error	err;
	float		probs[MAX_TAGS];
	int			right = 0;

	for (int i = 0; i < r->n_labelled; i++)
	{
		memcpy(feat + (size_t) i * VIEWS * dim, features + (size_t) r->labelled[i] * VIEWS * dim,
			   sizeof(float) * VIEWS * dim);
		labels[(size_t) i * n_tags + items[r->labelled[i]].tag] = 1;
	}
	/* cv_train_views for a backbone is at most its train views: both here */
	data = (cv_dataset) {CV_TASK_MULTICLASS, r->n_labelled, views, dim, n_tags, feat, labels, NULL};
	if (cv_train(&data, NULL, &result, &err) != CV_OK)
	{
		fprintf(stderr, "cv_train: %s\n", err.message);
		exit(1);
	}
	for (int i = 0; i < n_test; i++)
	{
		int			best = 0;

		if (cv_head_predict(result.head, features + (size_t) test[i] * VIEWS * dim, VIEWS, probs, &err) != CV_OK)
		{
			fprintf(stderr, "cv_head_predict: %s\n", err.message);
			exit(1);
		}
		for (int t = 1; t < n_tags; t++)
			if (probs[t] > probs[best])
				best = t;
		right += best == items[test[i]].tag;
	}
	*head_out = cv_head_copy(result.head);
	cv_train_result_free(&result);
	free(feat);
	free(labels);
	return (double) right / n_test;
}

typedef struct candidate
{
	int			pool_index;
	float		uncertainty;
} candidate;

static int
cmp_uncertainty(const void *a, const void *b)
{
	const candidate *x = a, *y = b;

	if (x->uncertainty != y->uncertainty)
		return x->uncertainty > y->uncertainty ? -1 : 1;
	return x->pool_index - y->pool_index;
}

/*
 * "margin-cover", for comparison only: cv_typical_batch's picks say which
 * regions to cover; each pick is replaced by the most uncertain candidate
 * of its region, taken as the candidates nearer to that pick than to any
 * other (the picks' Voronoi cells: an approximation of typical's clusters,
 * which the core function does not return).  out[p] is a candidate index,
 * or -1 when no candidate fell in the cell.
 */
static void
margin_cover(const float *vec, const candidate *cand, int n_cand, const int *picks, int n_picks,
			 int *out)
{
	for (int p = 0; p < n_picks; p++)
		out[p] = -1;
	for (int c = 0; c < n_cand; c++)
	{
		const float *v = vec + (size_t) c * dim;
		int			best = 0;
		double		best_d = INFINITY;

		for (int p = 0; p < n_picks; p++)
		{
			const float *u = vec + (size_t) picks[p] * dim;
			double		d = 0;

			for (int j = 0; j < dim; j++)
				d += (double) (v[j] - u[j]) * (v[j] - u[j]);
			if (d < best_d)
			{
				best_d = d;
				best = p;
			}
		}
		if (out[best] < 0 || cand[c].uncertainty > cand[out[best]].uncertainty)
			out[best] = c;
	}
}

/* Choose the next batch (pool indexes) by order o. */
static int
choose(int o, const run *r, const cv_head *head, uint64_t seed, int round, int *batch)
{
	const char *name = order_names[o];
	candidate  *cand = malloc(sizeof(candidate) * r->n_pool);
	int			n_cand = 0, count = 0;
	float		probs[MAX_TAGS];
	cv_error	err;

	for (int p = 0; p < r->n_pool; p++)
	{
		float		p1 = 0, p2 = 0;

		if (r->in_pool_taken[p])
			continue;
		cand[n_cand].pool_index = p;
		if (cv_head_predict(head, features + (size_t) r->pool[p] * VIEWS * dim, VIEWS, probs, &err) != CV_OK)
			exit(1);
		for (int t = 0; t < n_tags; t++)
		{
			if (probs[t] > p1)
			{
				p2 = p1;
				p1 = probs[t];
			}
			else if (probs[t] > p2)
				p2 = probs[t];
		}
		cand[n_cand].uncertainty = 1 - (p1 - p2);
		n_cand++;
	}
	if (strcmp(name, "random") == 0)
	{
		uint64_t   *keys = malloc(sizeof(uint64_t) * n_cand);

		for (int c = 0; c < n_cand; c++)
			keys[c] = mix(mix(seed * 1000003 + round) ^ (uint64_t) cand[c].pool_index);
		for (count = 0; count < opt_batch && count < n_cand; count++)
		{
			int			best = -1;

			for (int c = 0; c < n_cand; c++)
				if (keys[c] != 0 && (best < 0 || keys[c] < keys[best]))
					best = c;
			batch[count] = cand[best].pool_index;
			keys[best] = 0;
		}
		free(keys);
	}
	else if (strcmp(name, "margin") == 0 || strcmp(name, "spread") == 0)
	{
		qsort(cand, n_cand, sizeof(candidate), cmp_uncertainty);
		if (strcmp(name, "margin") == 0)
			for (count = 0; count < opt_batch && count < n_cand; count++)
				batch[count] = cand[count].pool_index;
		else
		{
			int			m = n_cand < 10 * opt_batch ? n_cand : 10 * opt_batch;
			float	   *vec = malloc(sizeof(float) * (size_t) m * dim);
			float	   *w = malloc(sizeof(float) * m);
			int		   *order = malloc(sizeof(int) * opt_batch);

			for (int c = 0; c < m; c++)
			{
				memcpy(vec + (size_t) c * dim, features + (size_t) r->pool[cand[c].pool_index] * VIEWS * dim,
					   sizeof(float) * dim);
				w[c] = cand[c].uncertainty;
			}
			if (cv_diverse_batch(vec, w, m, dim, opt_batch, order, &count, &err) != CV_OK)
				exit(1);
			for (int i = 0; i < count; i++)
				batch[i] = cand[order[i]].pool_index;
			free(vec);
			free(w);
			free(order);
		}
	}
	else
	{
		/* typical, typical-pl2, margin-cover: labelled points, then candidates */
		bool		pl2 = strcmp(name, "typical-pl2") == 0;
		int			n = r->n_labelled + n_cand;
		float	   *vec = malloc(sizeof(float) * (size_t) n * dim);
		bool	   *lab = malloc(sizeof(bool) * n);
		int		   *order = malloc(sizeof(int) * opt_batch);

		for (int i = 0; i < n; i++)
		{
			int			it = i < r->n_labelled ? r->labelled[i] : r->pool[cand[i - r->n_labelled].pool_index];

			memcpy(vec + (size_t) i * dim,
				   pl2 ? features_pl2 + (size_t) it * dim : features + (size_t) it * VIEWS * dim,
				   sizeof(float) * dim);
			lab[i] = i < r->n_labelled;
		}
		if (strcmp(name, "typical") != 0 && !pl2 && strcmp(name, "margin-cover") != 0)
		{
			fprintf(stderr, "unknown order %s\n", name);
			exit(1);
		}
		if (cv_typical_batch(vec, lab, n, dim, opt_batch, order, &count, &err) != CV_OK)
		{
			fprintf(stderr, "cv_typical_batch: %s\n", err.message);
			exit(1);
		}
		if (strcmp(name, "margin-cover") == 0)
		{
			int		   *picks = malloc(sizeof(int) * count), *cover = malloc(sizeof(int) * count);

			for (int i = 0; i < count; i++)
				picks[i] = order[i] - r->n_labelled;
			/* the candidates' vectors start after the labelled ones */
			margin_cover(vec + (size_t) r->n_labelled * dim, cand, n_cand, picks, count, cover);
			for (int i = 0; i < count; i++)
				order[i] = r->n_labelled + (cover[i] >= 0 ? cover[i] : picks[i]);
			free(picks);
			free(cover);
		}
		for (int i = 0; i < count; i++)
			batch[i] = cand[order[i] - r->n_labelled].pool_index;
		free(vec);
		free(lab);
		free(order);
	}
	free(cand);
	return count;
}

static void
run_seed(int s)
{
	uint64_t	seed = (uint64_t) (opt_first_seed + s);
	item	   *perm = malloc(sizeof(item) * n_items);
	int		   *index = malloc(sizeof(int) * n_items);
	int		   *test = malloc(sizeof(int) * opt_test);
	int		   *start = malloc(sizeof(int) * n_items);
	int		   *pool = malloc(sizeof(int) * opt_pool);
	int			n_start = 0, n_pool = 0, per_tag[MAX_TAGS] = {0};

	/* the seed's order: md5(file || seed) */
	char		suffix[32];

	snprintf(suffix, sizeof(suffix), "%d", (int) seed);
	for (int i = 0; i < n_items; i++)
	{
		perm[i] = items[i];
		perm[i].hash = md5_key(items[i].file, suffix);
		perm[i].index = i;
	}
	qsort(perm, n_items, sizeof(item), cmp_hash);
	for (int i = 0; i < n_items; i++)
		index[i] = perm[i].index;
	for (int i = 0; i < opt_test; i++)
		test[i] = index[i];
	for (int i = opt_test; i < n_items; i++)
		if (per_tag[items[index[i]].tag]++ >= opt_start && n_pool < opt_pool)
			pool[n_pool++] = index[i];
	/*
	 * The start in the order the SQL benchmark adds it, so in the order of
	 * its image ids, which is the order the trainer reads the images in
	 * (its folds are dealt in that order): by tag, then by the seed's order.
	 */
	memset(per_tag, 0, sizeof(per_tag));
	for (int t = 0; t < n_tags; t++)
		for (int i = opt_test; i < n_items; i++)
			if (items[index[i]].tag == t && per_tag[t]++ < opt_start)
				start[n_start++] = index[i];

	for (int o = 0; o < n_orders; o++)
	{
		run			r;
		int		   *batch = malloc(sizeof(int) * opt_batch);

		r.labelled = malloc(sizeof(int) * (n_start + opt_rounds * opt_batch));
		memcpy(r.labelled, start, sizeof(int) * n_start);
		r.n_labelled = n_start;
		r.pool = pool;
		r.n_pool = n_pool;
		r.in_pool_taken = calloc(n_pool, sizeof(bool));
		for (int round = 0; round <= opt_rounds; round++)
		{
			cv_head    *head;
			double		acc = train_and_test(&r, test, opt_test, &head);

			RESULT(s, o, round) = acc;
			printf("acc seed %d order %s labels %d accuracy %.4f\n", (int) seed, order_names[o], r.n_labelled, acc);
			fflush(stdout);
			if (round < opt_rounds)
			{
				int			count = choose(o, &r, head, seed, round, batch);

				for (int i = 0; i < count; i++)
					r.in_pool_taken[batch[i]] = true;
				/* the labelled pool images in pool order: their image ids' */
				r.n_labelled = n_start;
				for (int p = 0; p < n_pool; p++)
					if (r.in_pool_taken[p])
						r.labelled[r.n_labelled++] = pool[p];
			}
			cv_head_free(head);
		}
		free(r.labelled);
		free(r.in_pool_taken);
		free(batch);
	}
	free(perm);
	free(index);
	free(test);
	free(start);
	free(pool);
}

static int	next_seed;

static void *
seed_worker(void *arg)
{
	for (;;)
	{
		int			s = __atomic_fetch_add(&next_seed, 1, __ATOMIC_RELAXED);

		if (s >= opt_seeds)
			break;
		run_seed(s);
	}
	return NULL;
}

/* Two-sided 97.5% quantile of Student's t with df degrees of freedom. */
static double
t975(int df)
{
	static const double table[] = {0, 12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228,
		2.201, 2.179, 2.160, 2.145, 2.131, 2.120, 2.110, 2.101, 2.093, 2.086,
		2.080, 2.074, 2.069, 2.064, 2.060, 2.056, 2.052, 2.048, 2.045, 2.042};

	if (df < 1)
		return NAN;
	if (df <= 30)
		return table[df];
	return 1.96 + 2.4 / df;		/* within 0.002 of the quantile above 30 */
}

/* Two-sided exact sign test: p of a split at least as uneven as wins:losses. */
static double
sign_test(int wins, int losses)
{
	int			n = wins + losses, k = wins < losses ? wins : losses;
	double		p = 0;

	if (n == 0)
		return 1;
	for (int i = 0; i <= k; i++)
	{
		double		c = 1;

		for (int j = 0; j < i; j++)
			c = c * (n - j) / (j + 1);
		p += c * pow(0.5, n);
	}
	p *= 2;
	return p > 1 ? 1 : p;
}

static void
paired(const char *label, const double *d, int n)
{
	double		mean = 0, var = 0, half;
	int			wins = 0, losses = 0, ties = 0;

	for (int i = 0; i < n; i++)
	{
		mean += d[i];
		wins += d[i] > 1e-12;
		losses += d[i] < -1e-12;
	}
	ties = n - wins - losses;
	mean /= n;
	for (int i = 0; i < n; i++)
		var += (d[i] - mean) * (d[i] - mean);
	var = n > 1 ? var / (n - 1) : 0;
	half = t975(n - 1) * sqrt(var / n);
	printf("%s diff %+.4f  95%% CI [%+.4f, %+.4f]  better/worse/equal %d/%d/%d  sign p %.3g\n",
		   label, mean, mean - half, mean + half, wins, losses, ties, sign_test(wins, losses));
}

int
main(int argc, char **argv)
{
	const char *backbone = NULL, *cache = "/tmp/pgvision-bench-cache", *dir = NULL, *engine_name = "auto";
	char	   *orders = strdup("random,margin,spread,typical");
	int			engine, labels0, random_order = -1;

	for (int i = 1; i < argc; i++)
	{
		const char *a = argv[i];
		const char *v = i + 1 < argc ? argv[i + 1] : NULL;

#define INT_OPT(flag, var) if (strcmp(a, flag) == 0 && v) { var = atoi(v); i++; continue; }
		INT_OPT("--seeds", opt_seeds);
		INT_OPT("--first-seed", opt_first_seed);
		INT_OPT("--test", opt_test);
		INT_OPT("--pool", opt_pool);
		INT_OPT("--start", opt_start);
		INT_OPT("--rounds", opt_rounds);
		INT_OPT("--batch", opt_batch);
		INT_OPT("--per-tag", opt_per_tag);
		INT_OPT("--jobs", opt_jobs);
		if (strcmp(a, "--backbone") == 0 && v)
		{
			backbone = v;
			i++;
		}
		else if (strcmp(a, "--cache") == 0 && v)
		{
			cache = v;
			i++;
		}
		else if (strcmp(a, "--orders") == 0 && v)
		{
			orders = strdup(v);
			i++;
		}
		else if (strcmp(a, "--engine") == 0 && v)
		{
			engine_name = v;
			i++;
		}
		else if (a[0] != '-' && dir == NULL)
			dir = a;
		else
		{
			fprintf(stderr, "unknown argument %s\n", a);
			return 2;
		}
	}
	if (backbone == NULL || dir == NULL || opt_seeds < 1 || opt_seeds > MAX_SEEDS || opt_rounds < 0 ||
		opt_rounds > MAX_ROUNDS || opt_batch < 1 || opt_jobs < 1)
	{
		fprintf(stderr, "usage: bench_suggest_sim --backbone FILE [options] DATASET_DIR\n");
		return 2;
	}
	for (char *tok = strtok(orders, ","); tok && n_orders < MAX_ORDERS; tok = strtok(NULL, ","))
	{
		if (strcmp(tok, "random") == 0)
			random_order = n_orders;
		order_names[n_orders++] = tok;
	}
	engine = strcmp(engine_name, "float") == 0 ? CV_NET_ENGINE_FLOAT :
		strcmp(engine_name, "int8") == 0 || cv_nn_int8_fast() ? CV_NET_ENGINE_INT8 : CV_NET_ENGINE_FLOAT;
	read_manifest(dir);
	load_features(dir, backbone, cache, engine);
	if (opt_per_tag > 0)
		cap_per_tag();
	if (opt_test + n_tags * opt_start >= n_items)
	{
		fprintf(stderr, "%d images: too few for a test set of %d and a start of %d per tag\n",
				n_items, opt_test, opt_start);
		return 2;
	}
	printf("set %s: %d images, %d tags, engine %s; seeds %d from %d, test %d, pool %d, start %d per tag, "
		   "%d rounds of %d\n", dir, n_items, n_tags, engine == CV_NET_ENGINE_INT8 ? "int8" : "float",
		   opt_seeds, opt_first_seed, opt_test, opt_pool, opt_start, opt_rounds, opt_batch);
	results = calloc((size_t) opt_seeds * MAX_ORDERS * (MAX_ROUNDS + 1), sizeof(double));
	{
		pthread_t	threads[16];
		int			jobs = opt_jobs > 16 ? 16 : opt_jobs;

		for (int t = 0; t < jobs; t++)
			pthread_create(&threads[t], NULL, seed_worker, NULL);
		for (int t = 0; t < jobs; t++)
			pthread_join(threads[t], NULL);
	}

	labels0 = n_tags * opt_start;	/* when every tag has opt_start outside the test set */
	printf("\nmean accuracy over %d seeds\nlabels", opt_seeds);
	for (int o = 0; o < n_orders; o++)
		printf(" %12s", order_names[o]);
	printf("\n");
	for (int round = 0; round <= opt_rounds; round++)
	{
		printf("%6d", labels0 + round * opt_batch);
		for (int o = 0; o < n_orders; o++)
		{
			double		m = 0;

			for (int s = 0; s < opt_seeds; s++)
				m += RESULT(s, o, round);
			printf(" %12.4f", m / opt_seeds);
		}
		printf("\n");
	}
	if (random_order >= 0)
	{
		double	   *d = malloc(sizeof(double) * opt_seeds);

		printf("\npaired against random, over seeds\n");
		for (int o = 0; o < n_orders; o++)
		{
			if (o == random_order)
				continue;
			for (int round = 1; round <= opt_rounds; round++)
			{
				char		label[128];

				for (int s = 0; s < opt_seeds; s++)
					d[s] = RESULT(s, o, round) - RESULT(s, random_order, round);
				snprintf(label, sizeof(label), "%-12s %4d labels", order_names[o], labels0 + round * opt_batch);
				paired(label, d, opt_seeds);
			}
			for (int s = 0; s < opt_seeds; s++)
			{
				d[s] = 0;
				for (int round = 1; round <= opt_rounds; round++)
					d[s] += (RESULT(s, o, round) - RESULT(s, random_order, round)) / opt_rounds;
			}
			{
				char		label[128];

				snprintf(label, sizeof(label), "%-12s all rounds", order_names[o]);
				paired(label, d, opt_seeds);
			}
		}
		free(d);
	}
	return 0;
}
