/*
 * bench_detect.c
 *	  Quality and speed benchmark of the object detector on the shared
 *	  detection sets: a fixed 70/30 split of each set's images, the real
 *	  trainer on the 70 (held-out folds and calibration included), detection
 *	  on the 30, and the figures a hosted service reports.
 *
 * Split rule (as tools/bench_compact.c has it for classification): images
 * byte-identical to an earlier one are dropped (raccoon-od has such
 * duplicates under two names, which would otherwise sit on both sides);
 * the rest are grouped by the tag of their first region (images without
 * regions form one group), each group sorted by file name (byte order);
 * the i-th image of a group (from 0) goes to test when floor(3(i+1)/10) >
 * floor(3i/10), to training otherwise.
 *
 * Features: training images give the maps of --views detection views,
 * test images view 0; both are cached in --cache (default
 * /tmp/pgvision-bench-cache) per set, backbone file size, input size and
 * views, so the head can be iterated on quickly.  "first training" is
 * feature time + training, "repeated training" the training alone (the
 * extension caches features the same way).
 *
 * Reported per set: mAP at overlap 0.5 and 0.75 on the test images, per tag
 * AP, precision and recall at probability 0.5 and overlap 0.5, the
 * held-out (cross-validated) mAP the trainer reports, training time, and
 * the single-thread time of one detection end to end (JPEG/PNG decode at
 * the reduced scale the extension uses, resize, backbone, head, NMS)
 * beside the backbone alone at that input size.
 *
 * With held-out folds (a calibration that is not the identity) the test
 * figures are given twice: as calibrated (detections of probability 0.01 or
 * more, what the hosted services list) and with the calibration set aside
 * (raw score 0.01 or more; the same ranking, so the difference is only the
 * true boxes the calibration's cut drops; BENCH_DUMP writes those as
 * PREFIX.testraw.txt).  With --folds 1 the two are the same.
 *
 * BENCH_NMS_SWEEP=1 detects the test images again with other decodings of
 * the same detector's outputs and prints mAP for each: hard NMS at
 * overlaps 0.35, 0.30, 0.55 beside the default 0.45, and Gaussian soft-NMS
 * (sigma 0.5, 0.3, 1.0) instead of it (measurements only; see soft_nms).
 *
 * Test detection mirrors as cv_detect_image does (the test images' maps
 * of views 0 and 1, averaged by cv_detector_detect); --no-mirror detects
 * on view 0 alone.  --ensemble K averages K final detectors trained with
 * other seeds, --fold-ensemble 2 has the trainer average the fold
 * detectors with the final one (cv_detector_merge): measurements only.
 *
 * usage: bench_detect --backbone FILE [--size S] [--engine float|int8] [--views N] [--steps N]
 *		  [--threads N] [--cache DIR] [--nocache] [--no-mirror] [--ensemble K]
 *		  [--fold-ensemble 1|2] [--tensors A,B] [--seed N] [--save-model PREFIX] ... DATASET_DIR...
 *		  bench_detect --backbone FILE [--size S] --dump-maps OUT IMAGE [--repeat K]
 *		  (the maps of one image and the backbone's time, for the onnxruntime
 *		  peer: see dump_maps)
 * --save-model PREFIX writes each set's final detector as a model
 * (PREFIX.SET.cvm) and its test images' paths (PREFIX.SET.test), for the
 * timing of tools/bench_detect_time.c.
 */
#include "common/cv_common.h"
#include "detect/detect_backbone.h"
#include "detect/detect_metrics.h"
#include "detect/detect_train.h"
#include "detect/detector.h"
#include "image/image.h"
#include "model/model.h"
#include "nn/nn.h"

#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <math.h>

#define MAX_TAGS 64
#define MAX_BOXES 512

typedef struct item
{
	char	   *file;
	char	   *group;
	int			n_boxes;
	cv_box		boxes[MAX_BOXES];
	int			tags[MAX_BOXES];
	bool		test;
	int			split;			/* manifest "split": 0 none, 1 train, 2 test */
	uint64_t	hash;
} item;

static double
now_seconds(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec * 1e-9;
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
	buf = malloc(n > 0 ? n : 1);
	if (fread(buf, 1, n, f) != (size_t) n)
	{
		fclose(f);
		free(buf);
		return NULL;
	}
	fclose(f);
	*len = n;
	return buf;
}

static uint64_t
fnv1a(const uint8_t *p, size_t n)
{
	uint64_t	h = 1469598103934665603ull;

	for (size_t i = 0; i < n; i++)
		h = (h ^ p[i]) * 1099511628211ull;
	return h;
}

static int
cmp_item(const void *a, const void *b)
{
	const item *x = a,
			   *y = b;
	int			c = strcmp(x->group, y->group);

	return c != 0 ? c : strcmp(x->file, y->file);
}

/* Decode as the extension does: the reduced JPEG scale that still covers the input. */
static bool
decode(const char *dir, const char *file, int size, cv_rgb_image *out)
{
	char		path[4096];
	size_t		len;
	uint8_t    *data;
	cv_error	err;
	int			need = size * 5 / 4 + 1;

	snprintf(path, sizeof(path), "%s/%s", dir, file);
	data = read_file(path, &len);
	if (data == NULL)
		return false;
	if (cv_image_decode(data, len, 1ull << 26, need, need, out, &err) != CV_OK)
	{
		fprintf(stderr, "%s: %s\n", path, err.message);
		free(data);
		return false;
	}
	free(data);
	return true;
}

typedef struct bench_args
{
	const char *backbone;
	int			size;
	int			views;
	int			steps;
	int			threads;
	const char *cache;
	bool		nocache;
	int			folds;
	int			hidden;
	float		lr;
	float		wd;
	float		dropout;
	int			context;
	int			box_loss;
	int			quality;
	unsigned	seed;
	int			tensors[2];		/* --tensors a,b: maps chosen by hand (-1: the rule) */
	float		radius;
	int			ensemble;		/* --ensemble K: average K detectors' outputs */
	bool		mirror;			/* average the test image's outputs and its mirror's */
	int			fold_ensemble;	/* --fold-ensemble 1|2 */
	int			engine;			/* --engine float|int8 (cv_net_engine) */
	const char *save_model;		/* --save-model PREFIX: PREFIX.SET.cvm and PREFIX.SET.test */
} bench_args;

static int
cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *) a, *(char *const *) b);
}

/* Read the manifest: items with boxes, tags in name order. */
static int
read_manifest(const char *dir, item **out, char **tag_names, int *n_tags_out)
{
	char		path[4096];
	FILE	   *f;
	static char line[1 << 20];
	item	   *items = NULL;
	int			n = 0,
				cap = 0,
				n_tags = 0;

	snprintf(path, sizeof(path), "%s/manifest.jsonl", dir);
	f = fopen(path, "r");
	if (f == NULL)
	{
		fprintf(stderr, "cannot read %s\n", path);
		return -1;
	}
	while (fgets(line, sizeof(line), f))
	{
		json_object *o = json_tokener_parse(line),
				   *regions,
				   *v;
		item	   *it;
		size_t		len;
		uint8_t    *bytes;

		if (o == NULL)
			continue;
		if (n == cap)
		{
			cap = cap ? cap * 2 : 64;
			items = realloc(items, sizeof(item) * cap);
		}
		it = &items[n];
		memset(it, 0, sizeof(*it));
		json_object_object_get_ex(o, "file", &v);
		it->file = strdup(json_object_get_string(v));
		if (json_object_object_get_ex(o, "split", &v))
			it->split = strcmp(json_object_get_string(v), "test") == 0 ? 2 : 1;
		if (json_object_object_get_ex(o, "regions", &regions))
			for (size_t r = 0; r < json_object_array_length(regions) && it->n_boxes < MAX_BOXES; r++)
			{
				json_object *reg = json_object_array_get_idx(regions, r),
						   *x;
				const char *tag;
				int			t;
				cv_box	   *b = &it->boxes[it->n_boxes];

				json_object_object_get_ex(reg, "tag", &x);
				tag = json_object_get_string(x);
				for (t = 0; t < n_tags; t++)
					if (strcmp(tag_names[t], tag) == 0)
						break;
				if (t == n_tags)
				{
					if (n_tags == MAX_TAGS)
						continue;
					tag_names[n_tags++] = strdup(tag);
				}
				json_object_object_get_ex(reg, "left", &x);
				b->left = (float) json_object_get_double(x);
				json_object_object_get_ex(reg, "top", &x);
				b->top = (float) json_object_get_double(x);
				json_object_object_get_ex(reg, "width", &x);
				b->width = (float) json_object_get_double(x);
				json_object_object_get_ex(reg, "height", &x);
				b->height = (float) json_object_get_double(x);
				*b = cv_box_clip(*b);
				if (b->width <= 0 || b->height <= 0)
					continue;
				it->tags[it->n_boxes++] = t;
			}
		snprintf(path, sizeof(path), "%s/%s", dir, it->file);
		bytes = read_file(path, &len);
		it->hash = bytes ? fnv1a(bytes, len) : 0;
		free(bytes);
		json_object_put(o);
		n++;
	}
	fclose(f);

	/* tags in name order (the extension's model order): renumber */
	{
		char	   *sorted[MAX_TAGS];
		int			map[MAX_TAGS];

		memcpy(sorted, tag_names, sizeof(char *) * n_tags);
		qsort(sorted, n_tags, sizeof(char *), cmp_str);
		for (int t = 0; t < n_tags; t++)
			for (int u = 0; u < n_tags; u++)
				if (sorted[u] == tag_names[t])
					map[t] = u;
		for (int i = 0; i < n; i++)
			for (int b = 0; b < items[i].n_boxes; b++)
				items[i].tags[b] = map[items[i].tags[b]];
		memcpy(tag_names, sorted, sizeof(char *) * n_tags);
	}
	/* drop byte-identical duplicates, then group and split */
	{
		int			kept = 0;

		for (int i = 0; i < n; i++)
		{
			bool		dup = false;

			for (int j = 0; j < kept && !dup; j++)
				dup = items[j].hash == items[i].hash;
			if (!dup)
				items[kept++] = items[i];
		}
		n = kept;
	}
	for (int i = 0; i < n; i++)
	{
		int			first = n_tags;

		for (int b = 0; b < items[i].n_boxes; b++)
			if (items[i].tags[b] < first)
				first = items[i].tags[b];
		items[i].group = strdup(first < n_tags ? tag_names[items[i].tags[0]] : "");
	}
	qsort(items, n, sizeof(item), cmp_item);
	for (int i = 0, g = 0; i < n; i++, g++)
	{
		if (i > 0 && strcmp(items[i].group, items[i - 1].group) != 0)
			g = 0;
		items[i].test = (3 * (g + 1)) / 10 > (3 * g) / 10;
		/* a manifest may fix the split itself (small-project experiments) */
		if (items[i].split != 0)
			items[i].test = items[i].split == 2;
	}
	*out = items;
	*n_tags_out = n_tags;
	return n;
}

/* Maps of the given views of every item, cached on disk. */
static float *
item_maps(const bench_args *a, cv_detect_backbone *bb, const cv_detector_shape *shape,
		  const char *dir, const char *set, item *items, int n, bool test, int views,
		  size_t file_len, double *seconds)
{
	size_t		mf = cv_detector_map_floats(shape);
	int			count = 0;
	float	   *maps;
	char		path[4096];
	FILE	   *f;

	for (int i = 0; i < n; i++)
		count += items[i].test == test;
	maps = malloc(sizeof(float) * mf * (size_t) views * (count ? count : 1));
	snprintf(path, sizeof(path), "%s/detect-%s-%zu-%d-%d-%d-%d%s-%s.f32", a->cache, set, file_len,
			 a->size, views, shape->map_tensor[0], shape->map_tensor[1],
			 a->engine == CV_NET_ENGINE_INT8 ? "-int8" : "", test ? "test" : "train");
	*seconds = 0;
	if (!a->nocache && (f = fopen(path, "rb")) != NULL)
	{
		size_t		got = fread(maps, sizeof(float), mf * views * count, f);

		fclose(f);
		if (got == mf * views * count)
			return maps;
	}
	{
		double		t0 = now_seconds();
		int			k = 0;

		for (int i = 0; i < n; i++)
		{
			cv_rgb_image img = {0};
			cv_error	err;

			if (items[i].test != test)
				continue;
			if (!decode(dir, items[i].file, a->size, &img))
				exit(1);
			for (int v = 0; v < views; v++)
				if (cv_detect_backbone_view_maps(bb, &img, v, maps + ((size_t) k * views + v) * mf, &err) != CV_OK)
				{
					fprintf(stderr, "%s: %s\n", items[i].file, err.message);
					exit(1);
				}
			cv_rgb_image_free(&img);
			k++;
		}
		*seconds = now_seconds() - t0;
	}
	mkdir(a->cache, 0755);
	if ((f = fopen(path, "wb")) != NULL)
	{
		fwrite(maps, sizeof(float), mf * views * count, f);
		fclose(f);
	}
	return maps;
}

static bool
progress_quiet(void *arg, double fraction)
{
	return true;
}

/*
 * Decoding of the test detections: cv_detector_decode's NMS overlap and
 * cap, and, when sweep_soft > 0, no hard suppression (overlap 1) but
 * Gaussian soft-NMS with that sigma after it (BENCH_NMS_SWEEP, below).
 */
static double sweep_overlap = 0.45;
static int	sweep_max = 100;
static double sweep_soft = 0;

static int
cmp_det_desc(const void *x, const void *y)
{
	float		a = ((const cv_detection *) x)->score,
				b = ((const cv_detection *) y)->score;

	return a > b ? -1 : a < b ? 1 : 0;
}

/*
 * Gaussian soft-NMS (Bodla et al., "Soft-NMS: Improving Object Detection
 * With One Line of Code", 2017) on candidates nothing suppressed yet: the
 * most probable box is kept, every other box of its tag has its score
 * multiplied by exp(-IoU^2 / sigma), and so on down; then the boxes of
 * probability 0.01 or more, at most 100, most probable first.  The
 * bench's own prototype, to measure what it would give at detection time
 * (cv_detector_decode has hard NMS).
 */
static void
soft_nms(cv_detection *d, int *n, double sigma)
{
	int			m = *n;

	for (int i = 0; i < m; i++)
	{
		int			best = i;

		for (int j = i + 1; j < m; j++)
			if (d[j].score > d[best].score)
				best = j;
		{
			cv_detection t = d[i];

			d[i] = d[best];
			d[best] = t;
		}
		for (int j = i + 1; j < m; j++)
			if (d[j].tag == d[i].tag)
			{
				double		o = cv_box_iou(&d[i].box, &d[j].box);

				d[j].score *= (float) exp(-o * o / sigma);
			}
	}
	qsort(d, m, sizeof(cv_detection), cmp_det_desc);
	while (m > 0 && d[m - 1].score < 0.01f)
		m--;
	if (m > 100)
		m = 100;
	*n = m;
}

/*
 * Detections of one test image from K detectors of one shape (outputs
 * averaged) and, with mirror, the image's mirrored maps as well.
 */
static cv_status
combined_detect(cv_detector *const *dets, int k, const float *maps, const float *mirror_maps,
				cv_detection **out, int *n_out, cv_error *err)
{
	cv_detector_shape s;
	size_t		n;
	float	   *sum[2],
			   *one;

	cv_detector_get_shape(dets[0], &s);
	n = (size_t) cv_detector_cells(&s) * cv_detector_out_dim(s.n_tags);
	sum[0] = calloc(n, sizeof(float));
	sum[1] = calloc(n, sizeof(float));
	one = malloc(sizeof(float) * n);
	for (int j = 0; j < k; j++)
		for (int m = 0; m < (mirror_maps ? 2 : 1); m++)
		{
			if (cv_detector_outputs(dets[j], m ? mirror_maps : maps, one, err) != CV_OK)
				return err->code;
			if (m)
				cv_detector_mirror_outputs(dets[j], one);
			for (size_t i = 0; i < n; i++)
				sum[m][i] += one[i] / k;
		}
	/* the photo's and the mirror's, combined as cv_detector_detect does */
	if (mirror_maps)
		cv_detector_combine_mirror(dets[0], sum[0], sum[1]);
	{
		cv_status	st = cv_detector_decode(dets[0], sum[0], 0.01f, sweep_overlap, sweep_max, out, n_out, err);

		if (st == CV_OK && sweep_soft > 0)
			soft_nms(*out, n_out, sweep_soft);

		free(sum[0]);
		free(sum[1]);
		free(one);
		return st;
	}
}

/*
 * Every test image's detections (combined_detect on its cached maps: view
 * 0, and view 1 with mirror), into a new array of at most per_image a
 * photo; exits on an error, as the rest of the bench does.
 */
static cv_image_detection *
detect_test_set(cv_detector *const *dets, int k, const float *test_maps, int n_test, size_t mf,
				bool mirror, int per_image, int *n_out)
{
	cv_image_detection *all = malloc(sizeof(cv_image_detection) * per_image * (n_test ? n_test : 1));
	int			tv = mirror ? 2 : 1,
				n = 0;
	cv_error	err;

	for (int i = 0; i < n_test; i++)
	{
		cv_detection *d;
		int			nd;

		if (combined_detect(dets, k, test_maps + (size_t) i * tv * mf,
							mirror ? test_maps + ((size_t) i * tv + 1) * mf : NULL, &d, &nd, &err) != CV_OK)
		{
			fprintf(stderr, "detect: %s\n", err.message);
			exit(1);
		}
		for (int j = 0; j < nd && j < per_image; j++)
		{
			all[n].image = i;
			all[n].det = d[j];
			n++;
		}
		cv_free(d);
	}
	*n_out = n;
	return all;
}

/*
 * BENCH_DUMP=PREFIX: the detections (calibrated probability, true positive
 * at overlap 0.5, raw score) to PREFIX.NAME.txt, for calibration studies.
 */
static void
dump_detections(const char *name, const cv_detector *det, const cv_image_detection *dets, int n,
				const cv_truth_box *truths, int n_truths, int n_images, int n_tags)
{
	const char *prefix = getenv("BENCH_DUMP");
	uint8_t    *tp;
	char		path[4096];
	FILE	   *f;
	cv_error	err;

	if (prefix == NULL || n <= 0)
		return;
	tp = malloc(n);
	snprintf(path, sizeof(path), "%s.%s.txt", prefix, name);
	if (cv_detect_match(dets, n, truths, n_truths, n_images, n_tags, 0.5, tp, &err) == CV_OK &&
		(f = fopen(path, "w")) != NULL)
	{
		fprintf(f, "# a %.6f b %.6f truths %d images %d\n", det->calib_a, det->calib_b, n_truths, n_images);
		for (int i = 0; i < n; i++)
			fprintf(f, "%d %d %.7f %d\n", dets[i].image, dets[i].det.tag, dets[i].det.score, tp[i]);
		fclose(f);
	}
	free(tp);
}

/*
 * --save-model: the final detector as a detection model's bytes
 * (PREFIX.SET.cvm, for tools/bench_detect_time.c) and the paths of the test
 * images, one a line (PREFIX.SET.test).
 */
static void
save_model(const char *prefix, const char *set, const char *dir, char **tag_names,
		   const cv_detector *det, const item *items, int n)
{
	static const uint8_t no_hash[32];
	cv_model   *model;
	uint8_t    *bytes;
	size_t		len;
	cv_error	err;
	char		path[4096];
	FILE	   *f;

	if (cv_model_build_detection("bench", no_hash, CV_DETECT_MAPS_VERSION,
								 (const char *const *) tag_names, det, 0.5f, &model, &err) != CV_OK ||
		cv_model_serialize(model, &bytes, &len, &err) != CV_OK)
	{
		fprintf(stderr, "save model: %s\n", err.message);
		exit(1);
	}
	snprintf(path, sizeof(path), "%s.%s.cvm", prefix, set);
	if ((f = fopen(path, "wb")) == NULL || fwrite(bytes, 1, len, f) != len || fclose(f) != 0)
	{
		fprintf(stderr, "cannot write %s\n", path);
		exit(1);
	}
	snprintf(path, sizeof(path), "%s.%s.test", prefix, set);
	if ((f = fopen(path, "w")) == NULL)
	{
		fprintf(stderr, "cannot write %s\n", path);
		exit(1);
	}
	for (int i = 0; i < n; i++)
		if (items[i].test)
			fprintf(f, "%s/%s\n", dir, items[i].file);
	fclose(f);
	cv_free(bytes);
	cv_model_free(model);
}

static void
bench_set(const bench_args *a, const uint8_t *file, size_t file_len, const char *dir)
{
	item	   *items;
	char	   *tag_names[MAX_TAGS];
	int			n_tags = 0,
				n;
	int			tensors[2];
	cv_detect_backbone *bb = NULL;
	cv_detector_shape shape;
	cv_error	err;
	float	   *train_maps,
			   *test_maps;
	int			n_train = 0,
				n_test = 0;
	double		t_feat_train,
				t_feat_test,
				t0,
				t_train;
	const char *set = strrchr(dir, '/') ? strrchr(dir, '/') + 1 : dir;
	cv_truth_box *train_boxes,
			   *test_boxes;
	int			n_train_boxes = 0,
				n_test_boxes = 0;
	cv_detect_dataset data;
	cv_detect_train_options opt;
	cv_detect_train_result res;
	cv_image_detection *dets;
	int			n_dets = 0;
	double		t_detect = 0,
				t_backbone = 0;
	cv_detector *ensemble[16];

	n = read_manifest(dir, &items, tag_names, &n_tags);
	if (n <= 0)
		return;
	if ((a->tensors[0] >= 0 ? (tensors[0] = a->tensors[0], tensors[1] = a->tensors[1], CV_OK)
		 : cv_detect_backbone_choose(file, file_len, tensors, &err)) != CV_OK ||
		cv_detect_backbone_create_engine(file, file_len, a->size, a->size, tensors, a->engine, &bb, &err) != CV_OK)
	{
		fprintf(stderr, "backbone: %s\n", err.message);
		exit(1);
	}
	memset(&shape, 0, sizeof(shape));
	cv_detect_backbone_shape(bb, &shape);
	shape.n_tags = n_tags;
	train_maps = item_maps(a, bb, &shape, dir, set, items, n, false, a->views, file_len, &t_feat_train);
	test_maps = item_maps(a, bb, &shape, dir, set, items, n, true, a->mirror ? 2 : 1, file_len, &t_feat_test);
	train_boxes = malloc(sizeof(cv_truth_box) * MAX_BOXES * n);
	test_boxes = malloc(sizeof(cv_truth_box) * MAX_BOXES * n);
	for (int i = 0; i < n; i++)
	{
		cv_truth_box *dst = items[i].test ? test_boxes : train_boxes;
		int		   *nb = items[i].test ? &n_test_boxes : &n_train_boxes;
		int			img = items[i].test ? n_test : n_train;

		for (int b = 0; b < items[i].n_boxes; b++)
		{
			dst[*nb].image = img;
			dst[*nb].tag = items[i].tags[b];
			dst[*nb].box = items[i].boxes[b];
			(*nb)++;
		}
		if (items[i].test)
			n_test++;
		else
			n_train++;
	}

	memset(&data, 0, sizeof(data));
	data.shape = shape;
	data.n_images = n_train;
	data.n_views = a->views;
	data.maps = train_maps;
	data.n_boxes = n_train_boxes;
	data.boxes = train_boxes;
	cv_detect_train_options_init(&opt);
	opt.steps = a->steps;
	opt.folds = a->folds;
	opt.hidden = a->hidden;
	opt.learning_rate = a->lr;
	opt.weight_decay = a->wd;
	opt.input_dropout = a->dropout;
	opt.context = (uint32_t) a->context;
	opt.box_loss = a->box_loss;
	opt.quality = a->quality;
	opt.seed = a->seed;
	opt.centre_radius = a->radius;
	opt.fold_ensemble = a->fold_ensemble;
	opt.progress = progress_quiet;
	cv_nn_set_threads(a->threads);
	t0 = now_seconds();
	if (cv_detect_train(&data, &opt, &res, &err) != CV_OK)
	{
		fprintf(stderr, "train: %s\n", err.message);
		exit(1);
	}
	/* more detectors on every training image, other seeds, for --ensemble */
	{
		int		   *all = malloc(sizeof(int) * n_train);

		for (int i = 0; i < n_train; i++)
			all[i] = i;
		ensemble[0] = res.detector;
		for (int j = 1; j < a->ensemble; j++)
		{
			cv_detect_train_options o2 = opt;

			o2.seed = (opt.seed ? opt.seed : 0x5eed1234u) + 7919u * j;
			if (cv_detect_fit(&data, all, n_train, &o2, &ensemble[j], &err) != CV_OK)
			{
				fprintf(stderr, "fit: %s\n", err.message);
				exit(1);
			}
			ensemble[j]->calib_a = res.detector->calib_a;
			ensemble[j]->calib_b = res.detector->calib_b;
		}
		free(all);
	}
	t_train = now_seconds() - t0;
	cv_nn_set_threads(1);
	if (a->save_model != NULL)
		save_model(a->save_model, set, dir, tag_names, res.detector, items, n);

	/* held-out (cross-validated) figures, as cv_performance shows them */
	{
		cv_detect_tag_metrics per[MAX_TAGS];
		cv_detect_overall_metrics all = {0};

		if (res.n_folds > 0)
		cv_detect_metrics_compute(res.holdout, res.n_holdout, train_boxes, n_train_boxes, n_train,
								  n_tags, 0.5, 0.5, per, &all, &err);
		printf("%s: %d train / %d test images, %d tags, input %d, views %d, %d folds, %d steps/fit, context %u, hidden %d\n",
			   set, n_train, n_test, n_tags, a->size, a->views, res.n_folds, res.steps,
			   res.detector->context, res.detector->hidden);
		printf("  held-out (k-fold on train): mAP@0.5 %.3f  P %.3f R %.3f  calibration a=%.2f b=%.2f\n",
			   all.map, all.precision, all.recall, res.detector->calib_a, res.detector->calib_b);
		dump_detections("heldout", res.detector, res.holdout, res.n_holdout, train_boxes, n_train_boxes,
						n_train, n_tags);
	}

	/* the final detector on its own training images (view 0): the fit */
	{
		cv_image_detection *fit = malloc(sizeof(cv_image_detection) * 100 * n_train);
		int			n_fit = 0;
		cv_detect_tag_metrics per[MAX_TAGS];
		cv_detect_overall_metrics all,
					all75;

		for (int i = 0; i < n_train; i++)
		{
			cv_detection *d;
			int			nd;

			cv_detector_detect(res.detector, train_maps + (size_t) i * a->views * cv_detector_map_floats(&shape),
							   NULL, 0.01f, 0.45, 100, &d, &nd, &err);
			for (int j = 0; j < nd; j++)
			{
				fit[n_fit].image = i;
				fit[n_fit].det = d[j];
				n_fit++;
			}
			cv_free(d);
		}
		cv_detect_metrics_compute(fit, n_fit, train_boxes, n_train_boxes, n_train, n_tags,
								  0.5, 0.5, per, &all, &err);
		cv_detect_metrics_compute(fit, n_fit, train_boxes, n_train_boxes, n_train, n_tags,
								  0.5, 0.75, per, &all75, &err);
		printf("  fit (final detector on its training images): mAP@0.5 %.3f  mAP@0.75 %.3f  loss %.4f\n",
			   all.map, all75.map, res.final_loss);
		/*
		 * The calibrated probability of the most probable detection of the
		 * first training image that has boxes, mirrored as cv_detect sees
		 * it (what test/sql/detection shows on its small project)
		 */
		if (a->views >= 2 && n_train_boxes > 0)
		{
			cv_detection *d;
			int			nd;
			int			first = train_boxes[0].image;
			size_t		mf = cv_detector_map_floats(&shape);
			const float *m = train_maps + (size_t) first * a->views * mf;

			cv_detector_detect(res.detector, m, m + mf, 0.0f, 0.45, 100, &d, &nd, &err);
			printf("  top probability on the first training image with boxes (mirrored): %.3f (IoU %.2f)\n",
				   nd > 0 ? d[0].score : 0.0, nd > 0 ? cv_box_iou(&d[0].box, &train_boxes[0].box) : 0.0);
			cv_free(d);
		}
		free(fit);
	}

	/* detect on the test images from cached maps (the quality figures) */
	dets = malloc(sizeof(cv_image_detection) * 100 * (n_test ? n_test : 1));
	for (int i = 0; i < n_test; i++)
	{
		cv_detection *d;
		int			nd;

		size_t		mf = cv_detector_map_floats(&shape);
		int			tv = a->mirror ? 2 : 1;

		if (combined_detect(ensemble, a->ensemble, test_maps + (size_t) i * tv * mf,
							a->mirror ? test_maps + ((size_t) i * tv + 1) * mf : NULL,
							&d, &nd, &err) != CV_OK)
		{
			fprintf(stderr, "detect: %s\n", err.message);
			exit(1);
		}
		if (getenv("BENCH_DIAG") != NULL && nd > 0)
			for (int b = 0; b < n_test_boxes; b++)
				if (test_boxes[b].image == i)
				{
					double		best = 0;
					int			bj = 0;

					for (int j = 0; j < nd; j++)
						if (cv_box_iou(&d[j].box, &test_boxes[b].box) > best)
						{
							best = cv_box_iou(&d[j].box, &test_boxes[b].box);
							bj = j;
						}
					printf("    diag img %d truth %.2f %.2f %.2f %.2f  top %.2f %.2f %.2f %.2f p=%.2f  best IoU %.2f (p=%.2f)\n",
						   i, test_boxes[b].box.left, test_boxes[b].box.top, test_boxes[b].box.width,
						   test_boxes[b].box.height, d[0].box.left, d[0].box.top, d[0].box.width,
						   d[0].box.height, d[0].score, best, d[bj].score);
				}
		for (int j = 0; j < nd; j++)
		{
			dets[n_dets].image = i;
			dets[n_dets].det = d[j];
			n_dets++;
		}
		cv_free(d);
	}
	{
		cv_detect_tag_metrics per[MAX_TAGS],
					per75[MAX_TAGS];
		cv_detect_overall_metrics all,
					all75;

		cv_detect_metrics_compute(dets, n_dets, test_boxes, n_test_boxes, n_test, n_tags,
								  0.5, 0.5, per, &all, &err);
		cv_detect_metrics_compute(dets, n_dets, test_boxes, n_test_boxes, n_test, n_tags,
								  0.5, 0.75, per75, &all75, &err);
		dump_detections("test", res.detector, dets, n_dets, test_boxes, n_test_boxes, n_test, n_tags);
		printf("  test: mAP@0.5 %.3f  mAP@0.75 %.3f  P@0.5 %.3f  R@0.5 %.3f\n",
			   all.map, all75.map, all.precision, all.recall);
		for (int t = 0; t < n_tags; t++)
			printf("    %-12s AP@0.5 %.3f  AP@0.75 %.3f  P %.3f  R %.3f  (%d boxes)\n", tag_names[t],
				   per[t].ap, per75[t].ap, per[t].precision, per[t].recall, per[t].true_boxes);
	}

	/*
	 * The same detector without its calibration: the mapping is monotonic,
	 * so it changes no ranking, but the detections under probability 0.01
	 * are dropped after it, and so are the true boxes among them (the AP's
	 * tail).  Shows how much of a whole-trainer figure against a --folds 1
	 * one (identity calibration) is the calibration's cut.
	 */
	if (res.detector->calib_a != 1.0f || res.detector->calib_b != 0.0f)
	{
		float		ca = res.detector->calib_a,
					cb = res.detector->calib_b;
		cv_image_detection *raw;
		int			n_raw;
		cv_detect_tag_metrics per[MAX_TAGS];
		cv_detect_overall_metrics all,
					all75;

		res.detector->calib_a = 1.0f;
		res.detector->calib_b = 0.0f;
		raw = detect_test_set(ensemble, a->ensemble, test_maps, n_test, cv_detector_map_floats(&shape),
							  a->mirror, 100, &n_raw);
		dump_detections("testraw", res.detector, raw, n_raw, test_boxes, n_test_boxes, n_test, n_tags);
		res.detector->calib_a = ca;
		res.detector->calib_b = cb;
		cv_detect_metrics_compute(raw, n_raw, test_boxes, n_test_boxes, n_test, n_tags,
								  0.5, 0.5, per, &all, &err);
		cv_detect_metrics_compute(raw, n_raw, test_boxes, n_test_boxes, n_test, n_tags,
								  0.5, 0.75, per, &all75, &err);
		printf("  test, calibration set aside (score >= 0.01): mAP@0.5 %.3f  mAP@0.75 %.3f  (%d detections against %d calibrated)\n",
			   all.map, all75.map, n_raw, n_dets);
		free(raw);
	}
	if (getenv("BENCH_NMS_SWEEP"))
	{
		static const double settings[][2] = {{0.45, 0}, {0.35, 0}, {0.30, 0}, {0.55, 0}, {1.0, 0.5}, {1.0, 0.3}, {1.0, 1.0}};

		for (int q = 0; q < 7; q++)
		{
			cv_image_detection *sw;
			int			n_sw;
			cv_detect_tag_metrics per[MAX_TAGS];
			cv_detect_overall_metrics all,
						all75;

			sweep_overlap = settings[q][0];
			sweep_soft = settings[q][1];
			sweep_max = sweep_soft > 0 ? 400 : 100;
			sw = detect_test_set(ensemble, a->ensemble, test_maps, n_test, cv_detector_map_floats(&shape),
								 a->mirror, 400, &n_sw);
			cv_detect_metrics_compute(sw, n_sw, test_boxes, n_test_boxes, n_test, n_tags, 0.5, 0.5, per, &all, &err);
			cv_detect_metrics_compute(sw, n_sw, test_boxes, n_test_boxes, n_test, n_tags, 0.5, 0.75, per, &all75, &err);
			printf("  sweep nms %.2f soft %.2f: mAP@0.5 %.3f  mAP@0.75 %.3f\n", sweep_overlap, sweep_soft, all.map, all75.map);
			free(sw);
		}
		sweep_overlap = 0.45;
		sweep_soft = 0;
		sweep_max = 100;
	}
	printf("  training: first %.1f s (features %.1f s + train %.1f s), repeated %.1f s (%d threads)\n",
		   t_feat_train + t_train, t_feat_train, t_train, t_train, a->threads);

	/* end to end on the test images, one thread, then the backbone alone */
	{
		int			reps = 0;
		cv_rgb_image view = {0};
		float	   *maps = malloc(sizeof(float) * cv_detector_map_floats(&shape));
		cv_detect_work *work = cv_detect_work_create();

		t0 = now_seconds();
		for (int i = 0; i < n; i++)
		{
			cv_rgb_image img = {0};
			cv_detection *d;
			int			nd;

			if (!items[i].test)
				continue;
			/* work kept from photo to photo, as cv_detect keeps it in a backend */
			if (!decode(dir, items[i].file, a->size, &img) ||
				cv_detect_work_reserve(work, bb, res.detector, img.height, &err) != CV_OK ||
				cv_detect_image_in(bb, res.detector, work, &img, 0.1f, 0.45, 100, &d, &nd,
								   &err) != CV_OK)
				exit(1);
			cv_free(d);
			cv_rgb_image_free(&img);
			reps++;
		}
		t_detect = (now_seconds() - t0) / (reps ? reps : 1);
		cv_detect_work_free(work);
		for (int i = 0; i < n; i++)
		{
			cv_rgb_image img = {0};

			if (!items[i].test)
				continue;
			decode(dir, items[i].file, a->size, &img);
			cv_detect_render_view(&img, 0, a->size, a->size, &view, &err);
			cv_rgb_image_free(&img);
			break;
		}
		cv_detect_backbone_maps(bb, &view, maps, &err);
		t0 = now_seconds();
		for (int r = 0; r < 20; r++)
			cv_detect_backbone_maps(bb, &view, maps, &err);
		t_backbone = (now_seconds() - t0) / 20;
		cv_free(view.pixels);
		free(maps);
	}
	printf("  cv_detect end to end %.2f ms per image (decode included), backbone alone %.2f ms at %d\n",
		   t_detect * 1e3, t_backbone * 1e3, a->size);
	for (int j = 1; j < a->ensemble; j++)
		cv_detector_free(ensemble[j]);
	cv_detect_train_result_free(&res);
	cv_detect_backbone_free(bb);
	free(train_maps);
	free(test_maps);
	free(train_boxes);
	free(test_boxes);
	free(dets);
	free(items);
}

/*
 * Peer comparison (tools/bench_detect.sh, tools/peer_cut_onnx.py): the two
 * maps of one image, for a numeric check against onnxruntime on the same
 * pixels, and the backbone's single-thread time on them.  Writes OUT (map 0
 * then map 1, NHWC float32, as cv_detect_backbone_maps gives them) and
 * OUT.ppm (view 0 of the image at the input size: the backbone's pixels),
 * and prints the map tensors and the median and minimum ms of `repeat` runs
 * after 2 warm-up runs.
 */
static int
dump_maps(const bench_args *a, const uint8_t *file, size_t file_len, const char *out,
		  const char *image, int repeat)
{
	int			tensors[2];
	cv_detect_backbone *bb = NULL;
	cv_detector_shape shape;
	cv_rgb_image img = {0},
				view = {0};
	cv_error	err;
	float	   *maps;
	double	   *ms = malloc(sizeof(double) * (repeat > 0 ? repeat : 1));
	char		path[4096];
	FILE	   *f;

	if ((a->tensors[0] >= 0 ? (tensors[0] = a->tensors[0], tensors[1] = a->tensors[1], CV_OK)
		 : cv_detect_backbone_choose(file, file_len, tensors, &err)) != CV_OK ||
		cv_detect_backbone_create_engine(file, file_len, a->size, a->size, tensors, a->engine, &bb, &err) != CV_OK)
	{
		fprintf(stderr, "backbone: %s\n", err.message);
		return 1;
	}
	memset(&shape, 0, sizeof(shape));
	cv_detect_backbone_shape(bb, &shape);
	if (!decode(image[0] == '/' ? "" : ".", image, a->size, &img) ||
		cv_detect_render_view(&img, 0, a->size, a->size, &view, &err) != CV_OK)
	{
		fprintf(stderr, "%s: cannot decode or render\n", image);
		return 1;
	}
	maps = malloc(sizeof(float) * cv_detector_map_floats(&shape));
	cv_nn_set_threads(1);
	for (int r = 0; r < 2; r++)
		if (cv_detect_backbone_maps(bb, &view, maps, &err) != CV_OK)
		{
			fprintf(stderr, "maps: %s\n", err.message);
			return 1;
		}
	for (int r = 0; r < repeat; r++)
	{
		double		t0 = now_seconds();

		cv_detect_backbone_maps(bb, &view, maps, &err);
		ms[r] = (now_seconds() - t0) * 1e3;
		for (int j = r; j > 0 && ms[j] < ms[j - 1]; j--)
		{
			double		t = ms[j];

			ms[j] = ms[j - 1];
			ms[j - 1] = t;
		}
	}
	if ((f = fopen(out, "wb")) == NULL ||
		fwrite(maps, sizeof(float), cv_detector_map_floats(&shape), f) != cv_detector_map_floats(&shape) ||
		fclose(f) != 0)
	{
		fprintf(stderr, "cannot write %s\n", out);
		return 1;
	}
	snprintf(path, sizeof(path), "%s.ppm", out);
	if ((f = fopen(path, "wb")) == NULL)
	{
		fprintf(stderr, "cannot write %s\n", path);
		return 1;
	}
	fprintf(f, "P6\n%d %d\n255\n", view.width, view.height);
	fwrite(view.pixels, 3, (size_t) view.width * view.height, f);
	fclose(f);
	for (int k = 0; k < 2; k++)
		printf("map %d: tensor %d %dx%dx%d\n", k, shape.map_tensor[k], shape.map_height[k],
			   shape.map_width[k], shape.map_channels[k]);
	if (repeat > 0)
		printf("backbone at %d: median %.3f ms, min %.3f ms over %d runs, 1 thread\n", a->size,
			   repeat % 2 ? ms[repeat / 2] : (ms[repeat / 2 - 1] + ms[repeat / 2]) / 2, ms[0], repeat);
	cv_free(view.pixels);
	cv_rgb_image_free(&img);
	cv_detect_backbone_free(bb);
	free(maps);
	free(ms);
	return 0;
}

int
main(int argc, char **argv)
{
	bench_args a = {NULL, 320, CV_DETECT_TRAIN_VIEWS, 0, 2, "/tmp/pgvision-bench-cache", false, 0, 0, 0, 0, 0, 0, 0, 0, 0, {-1, -1}, 0, 1, true, 0};
	uint8_t    *file;
	size_t		len;
	int			i;
	const char *dump_out = NULL,
			   *dump_image = NULL;
	int			dump_repeat = 50;

	for (i = 1; i < argc; i++)
	{
		if (strcmp(argv[i], "--backbone") == 0 && i + 1 < argc)
			a.backbone = argv[++i];
		else if (strcmp(argv[i], "--size") == 0 && i + 1 < argc)
			a.size = atoi(argv[++i]);
		else if (strcmp(argv[i], "--engine") == 0 && i + 1 < argc)
		{
			i++;
			if (strcmp(argv[i], "int8") == 0)
				a.engine = CV_NET_ENGINE_INT8;
			else if (strcmp(argv[i], "float") == 0)
				a.engine = CV_NET_ENGINE_FLOAT;
			else
			{
				fprintf(stderr, "--engine takes float or int8\n");
				return 2;
			}
		}
		else if (strcmp(argv[i], "--views") == 0 && i + 1 < argc)
			a.views = atoi(argv[++i]);
		else if (strcmp(argv[i], "--steps") == 0 && i + 1 < argc)
			a.steps = atoi(argv[++i]);
		else if (strcmp(argv[i], "--threads") == 0 && i + 1 < argc)
			a.threads = atoi(argv[++i]);
		else if (strcmp(argv[i], "--cache") == 0 && i + 1 < argc)
			a.cache = argv[++i];
		else if (strcmp(argv[i], "--folds") == 0 && i + 1 < argc)
			a.folds = atoi(argv[++i]);
		else if (strcmp(argv[i], "--hidden") == 0 && i + 1 < argc)
			a.hidden = atoi(argv[++i]);
		else if (strcmp(argv[i], "--lr") == 0 && i + 1 < argc)
			a.lr = (float) atof(argv[++i]);
		else if (strcmp(argv[i], "--wd") == 0 && i + 1 < argc)
			a.wd = (float) atof(argv[++i]);
		else if (strcmp(argv[i], "--dropout") == 0 && i + 1 < argc)
			a.dropout = (float) atof(argv[++i]);
		else if (strcmp(argv[i], "--tensors") == 0 && i + 1 < argc)
		{
			if (sscanf(argv[++i], "%d,%d", &a.tensors[0], &a.tensors[1]) != 2)
				return 2;
		}
		else if (strcmp(argv[i], "--radius") == 0 && i + 1 < argc)
			a.radius = (float) atof(argv[++i]);
		else if (strcmp(argv[i], "--seed") == 0 && i + 1 < argc)
			a.seed = (unsigned) atoi(argv[++i]);
		else if (strcmp(argv[i], "--box-loss") == 0 && i + 1 < argc)
			a.box_loss = strcmp(argv[++i], "l1") == 0 ? 2 : 1;
		else if (strcmp(argv[i], "--quality") == 0 && i + 1 < argc)
			a.quality = strcmp(argv[++i], "centreness") == 0 ? 2 : 1;
		else if (strcmp(argv[i], "--context") == 0 && i + 1 < argc)
			a.context = atoi(argv[++i]);
		else if (strcmp(argv[i], "--ensemble") == 0 && i + 1 < argc)
			a.ensemble = atoi(argv[++i]);
		else if (strcmp(argv[i], "--fold-ensemble") == 0 && i + 1 < argc)
			a.fold_ensemble = atoi(argv[++i]);
		else if (strcmp(argv[i], "--mirror") == 0)
			a.mirror = true;
		else if (strcmp(argv[i], "--no-mirror") == 0)
			a.mirror = false;
		else if (strcmp(argv[i], "--save-model") == 0 && i + 1 < argc)
			a.save_model = argv[++i];
		else if (strcmp(argv[i], "--nocache") == 0)
			a.nocache = true;
		else if (strcmp(argv[i], "--dump-maps") == 0 && i + 2 < argc)
		{
			dump_out = argv[++i];
			dump_image = argv[++i];
		}
		else if (strcmp(argv[i], "--repeat") == 0 && i + 1 < argc)
			dump_repeat = atoi(argv[++i]);
		else
			break;
	}
	if (a.backbone == NULL || (i >= argc && dump_out == NULL))
	{
		fprintf(stderr, "usage: bench_detect --backbone FILE [--size S] [--views N] [--steps N] "
				"[--threads N] [--cache DIR] [--nocache] DATASET_DIR...\n"
				"       bench_detect --backbone FILE [--size S] --dump-maps OUT IMAGE [--repeat K]\n");
		return 2;
	}
	file = read_file(a.backbone, &len);
	if (file == NULL)
	{
		fprintf(stderr, "cannot read %s\n", a.backbone);
		return 1;
	}
	if (dump_out != NULL)
		return dump_maps(&a, file, len, dump_out, dump_image, dump_repeat);
	for (; i < argc; i++)
		bench_set(&a, file, len, argv[i]);
	free(file);
	return 0;
}
