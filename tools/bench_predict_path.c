/*
 * bench_predict_path.c
 *	  The core's own time for what cv_predict does to one photo: decode at
 *	  the JPEG DCT scale the extension asks for, the model's prediction
 *	  views through the backbone, the head.  tools/bench_predict_path.sh
 *	  runs it beside cv_predict through SQL on the same photos and model, so
 *	  the difference is what the SQL path adds (issue 12 part 3).
 *
 * The decode size rule is the extension's (src/pg/pgvision.h,
 * DecodeSizeFor: n * 5 / 4 + 1 for an n-pixel input); the engine is the one
 * the model's features were computed with (its extractor version), as
 * src/pg/domains.c chooses it.  Photos are read into memory first, so file
 * reads are not timed.  Each pass runs every photo once; the figure of a
 * phase is its mean per photo in the fastest pass (the machine is shared).
 *
 * usage: bench_predict_path --backbone FILE --model FILE [--passes N] PHOTO...
 * prints: "decode MS", "features MS", "head MS", "total MS" (per photo),
 * "photos N", and the top tag of the first photo, as a sanity line.
 */
#include "common/cv_common.h"
#include "image/image.h"
#include "learn/augment.h"
#include "learn/features.h"
#include "learn/head.h"
#include "model/model.h"
#include "nn/nn.h"

#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define DECODE_SIZE_FOR(n) ((n) * 5 / 4 + 1)	/* src/pg/pgvision.h */
#define MAX_PIXELS ((uint64_t) 100000000)

typedef struct Blob
{
	uint8_t    *data;
	size_t		len;
} Blob;

static void
die(const char *what, const cv_error *err)
{
	fprintf(stderr, "bench_predict_path: %s%s%s\n", what, err ? ": " : "",
			err ? err->message : "");
	exit(1);
}

static Blob
read_file(const char *path)
{
	FILE	   *f = fopen(path, "rb");
	Blob		b = {0};
	long		n;

	if (f == NULL || fseek(f, 0, SEEK_END) != 0 || (n = ftell(f)) < 0 ||
		fseek(f, 0, SEEK_SET) != 0)
	{
		fprintf(stderr, "bench_predict_path: cannot read %s\n", path);
		exit(1);
	}
	b.len = (size_t) n;
	b.data = malloc(b.len ? b.len : 1);
	if (b.data == NULL || fread(b.data, 1, b.len, f) != b.len)
		die("short read", NULL);
	fclose(f);
	return b;
}

static double
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

int
main(int argc, char **argv)
{
	const char *backbone_path = NULL;
	const char *model_path = NULL;
	int			passes = 5;
	int			first_photo = argc;
	Blob		backbone,
				model_bytes;
	Blob	   *photos;
	int			n_photos;
	uint8_t		hash[32];
	unsigned int hash_len = 0;
	cv_model   *model = NULL;
	cv_feature_extractor *fx = NULL;
	cv_error	err;
	int			engine;
	float	   *features,
			   *probs;
	double		best[4] = {1e30, 1e30, 1e30, 1e30};
	int			top = 0;

	for (int i = 1; i < argc; i++)
	{
		if (strcmp(argv[i], "--backbone") == 0 && i + 1 < argc)
			backbone_path = argv[++i];
		else if (strcmp(argv[i], "--model") == 0 && i + 1 < argc)
			model_path = argv[++i];
		else if (strcmp(argv[i], "--passes") == 0 && i + 1 < argc)
			passes = atoi(argv[++i]);
		else
		{
			first_photo = i;
			break;
		}
	}
	if (backbone_path == NULL || model_path == NULL || first_photo >= argc || passes < 1)
	{
		fprintf(stderr, "usage: bench_predict_path --backbone FILE --model FILE [--passes N] PHOTO...\n");
		return 2;
	}

	cv_nn_set_threads(1);		/* a backend's default, pgvision.threads = 1 */
	backbone = read_file(backbone_path);
	model_bytes = read_file(model_path);
	n_photos = argc - first_photo;
	photos = calloc((size_t) n_photos, sizeof(Blob));
	for (int i = 0; i < n_photos; i++)
		photos[i] = read_file(argv[first_photo + i]);

	cv_error_clear(&err);
	if (cv_model_parse(model_bytes.data, model_bytes.len, &model, &err) != CV_OK)
		die("model", &err);
	if (model->head == NULL)
		die("a detection model: this benchmark times classification", NULL);
	if (!EVP_Digest(backbone.data, backbone.len, hash, &hash_len, EVP_sha256(), NULL) ||
		hash_len != 32)
		die("sha256", NULL);
	if (memcmp(hash, model->domain_hash, 32) != 0)
		die("the model was not trained on this backbone file", NULL);
	engine = model->extractor_version == CV_BACKBONE_VERSION_INT8 ?
		CV_NET_ENGINE_INT8 : CV_NET_ENGINE_FLOAT;
	if (cv_features_backbone_create_engine(model->domain, backbone.data, backbone.len, hash,
										   engine, &fx, &err) != CV_OK)
		die("backbone", &err);
	if (cv_model_check_extractor(model, fx, &err) != CV_OK)
		die("extractor", &err);

	features = malloc(sizeof(float) * (size_t) model->head->predict_views * fx->dim);
	probs = malloc(sizeof(float) * (size_t) model->n_tags);
	if (features == NULL || probs == NULL)
		die("out of memory", NULL);

	/* one untimed pass warms caches and the network's workspace */
	for (int pass = -1; pass < passes; pass++)
	{
		double		t[4] = {0, 0, 0, 0};

		for (int i = 0; i < n_photos; i++)
		{
			cv_rgb_image img = {0};
			double		t0 = now_ms(),
						t1,
						t2,
						t3;

			if (cv_image_decode(photos[i].data, photos[i].len, MAX_PIXELS,
								DECODE_SIZE_FOR(model->input_width),
								DECODE_SIZE_FOR(model->input_height), &img, &err) != CV_OK)
				die(argv[first_photo + i], &err);
			t1 = now_ms();
			if (cv_augment_features(fx, &img, model->head->predict_views, features, &err) != CV_OK)
				die("features", &err);
			t2 = now_ms();
			if (cv_head_predict(model->head, features, model->head->predict_views, probs,
								&err) != CV_OK)
				die("head", &err);
			t3 = now_ms();
			cv_rgb_image_free(&img);
			t[0] += t1 - t0;
			t[1] += t2 - t1;
			t[2] += t3 - t2;
			t[3] += t3 - t0;
			if (i == 0)
				for (int k = 1; k < model->n_tags; k++)
					if (probs[k] > probs[top])
						top = k;
		}
		if (pass >= 0 && t[3] < best[3])
			memcpy(best, t, sizeof(best));
	}

	printf("photos %d\n", n_photos);
	printf("views %d\n", model->head->predict_views);
	printf("engine %s\n", engine == CV_NET_ENGINE_INT8 ? "int8" : "float");
	printf("decode %.3f\n", best[0] / n_photos);
	printf("features %.3f\n", best[1] / n_photos);
	printf("head %.3f\n", best[2] / n_photos);
	printf("total %.3f\n", best[3] / n_photos);
	printf("first photo's top tag: %s\n", model->tag_names[top]);
	cv_features_destroy(fx);
	cv_model_free(model);
	return 0;
}
