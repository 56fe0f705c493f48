/*
 * test_model_format.c
 *	  cv_model bytes: round trip, determinism, and hostile input (every
 *	  truncation, every single-bit flip, checksum-valid lies about counts)
 *	  that must give CV_ERR_CORRUPT and never a crash.
 */
#include "unit.h"
#include "learn/augment.h"
#include "learn/features.h"
#include "learn/train.h"
#include "model/model.h"

#include <stdint.h>

/* A small trained model over a fake 8-float domain. */
static cv_feature_extractor fake_fx = {
	.name = "fake",
	.version = 7,
	.input_width = 16,
	.input_height = 12,
	.dim = 8,
};

static cv_model *
small_model(cv_task task)
{
	enum {N = 30, D = 8, T = 3};
	float		x[N * D];
	uint8_t		l[N * T] = {0};
	bool		neg[T] = {false, false, true};
	cv_dataset	d = {task, N, 1, D, T, x, l, neg};
	cv_train_result res;
	cv_error	err;
	cv_model   *m = NULL;
	const char *names[T] = {"apple", "banana \xc3\xa9", "Negative"};

	for (int i = 0; i < N; i++)
	{
		for (int k = 0; k < D; k++)
			x[i * D + k] = (float) (((i * 7 + k * 13) % 17) / 17.0 + (k == i % 3));
		l[i * T + i % 3] = 1;
	}
	fake_fx.content_hash[0] = 0xAB;
	fake_fx.content_hash[31] = 0xCD;
	if (cv_train(&d, NULL, &res, &err) != CV_OK)
		return NULL;
	if (cv_model_build(&fake_fx, names, res.head, 0.5f, &m, &err) != CV_OK)
		m = NULL;
	cv_train_result_free(&res);
	return m;
}

static void
test_round_trip(void)
{
	for (int t = 0; t < 2; t++)
	{
		cv_model   *m = small_model(t == 0 ? CV_TASK_MULTICLASS : CV_TASK_MULTILABEL);
		cv_model   *back = NULL;
		uint8_t    *bytes = NULL,
				   *again = NULL;
		size_t		len = 0,
					len2 = 0;
		cv_error	err;

		CHECK(m != NULL);
		if (m == NULL)
			return;
		CHECK(cv_model_serialize(m, &bytes, &len, &err) == CV_OK);
		CHECK(memcmp(bytes, "CVMODEL\0", 8) == 0);
		CHECK(bytes[8] == 3 && bytes[9] == 0);	/* version 3, little-endian */
		CHECK(bytes[16] == (len & 0xFF));
		CHECK(cv_model_parse(bytes, len, &back, &err) == CV_OK);
		if (back == NULL)
			return;
		CHECK(back->task == m->task);
		CHECK(strcmp(back->domain, "fake") == 0);
		CHECK(memcmp(back->domain_hash, fake_fx.content_hash, 32) == 0);
		CHECK(back->extractor_version == 7);
		CHECK(back->input_width == 16 && back->input_height == 12);
		CHECK(back->threshold == 0.5f);
		CHECK(back->head->n_tags == 3 && back->head->dim == 8);
		CHECK(strcmp(back->tag_names[1], "banana \xc3\xa9") == 0);
		CHECK(!back->head->negative[0] && back->head->negative[2]);
		CHECK(back->head->predict_views == m->head->predict_views);
		CHECK(m->head->norm == CV_NORM_POWER_L2);	/* the trainer's default */
		CHECK(back->head->norm == m->head->norm);
		CHECK(back->head->lambda == m->head->lambda);
		CHECK(memcmp(back->head->weights, m->head->weights, sizeof(float) * 24) == 0);
		CHECK(memcmp(back->head->mean, m->head->mean, sizeof(float) * 8) == 0);
		CHECK(memcmp(back->head->scale, m->head->scale, sizeof(float) * 8) == 0);
		CHECK(memcmp(back->head->bias, m->head->bias, sizeof(float) * 3) == 0);
		/* same model, same bytes */
		CHECK(cv_model_serialize(back, &again, &len2, &err) == CV_OK);
		CHECK(len2 == len && memcmp(again, bytes, len) == 0);
		/* same predictions */
		{
			float		f[8] = {1, 0, 0.5f, 0.2f, 0, 1, 0.3f, 0.9f};
			float		p1[3],
						p2[3];

			CHECK(cv_head_predict(m->head, f, 1, p1, &err) == CV_OK);
			CHECK(cv_head_predict(back->head, f, 1, p2, &err) == CV_OK);
			CHECK(memcmp(p1, p2, sizeof(p1)) == 0);
		}
		cv_free(bytes);
		cv_free(again);
		cv_model_free(m);
		cv_model_free(back);
	}
}

/* Two trainings on the same data give the same model bytes. */
static void
test_deterministic_bytes(void)
{
	cv_model   *a = small_model(CV_TASK_MULTILABEL);
	cv_model   *b = small_model(CV_TASK_MULTILABEL);
	uint8_t    *ba = NULL,
			   *bb = NULL;
	size_t		la = 0,
				lb = 0;
	cv_error	err;

	CHECK(a != NULL && b != NULL);
	if (a == NULL || b == NULL)
		return;
	CHECK(cv_model_serialize(a, &ba, &la, &err) == CV_OK);
	CHECK(cv_model_serialize(b, &bb, &lb, &err) == CV_OK);
	CHECK(la == lb && memcmp(ba, bb, la) == 0);
	cv_free(ba);
	cv_free(bb);
	cv_model_free(a);
	cv_model_free(b);
}

static void
test_every_truncation(void)
{
	cv_model   *m = small_model(CV_TASK_MULTICLASS);
	uint8_t    *bytes = NULL;
	size_t		len = 0;
	cv_error	err;
	int			corrupt = 0;

	if (m == NULL || cv_model_serialize(m, &bytes, &len, &err) != CV_OK)
	{
		CHECK(false);
		return;
	}
	for (size_t cut = 0; cut < len; cut++)
	{
		/* a fresh allocation of exactly cut bytes, so valgrind sees overreads */
		uint8_t    *copy = malloc(cut ? cut : 1);
		cv_model   *out = (cv_model *) 1;

		memcpy(copy, bytes, cut);
		if (cv_model_parse(copy, cut, &out, &err) == CV_ERR_CORRUPT && out == NULL)
			corrupt++;
		free(copy);
	}
	CHECK_MSG(corrupt == (int) len, "%d of %zu truncations rejected as corrupt", corrupt, len);
	cv_free(bytes);
	cv_model_free(m);
}

static void
test_every_bit_flip(void)
{
	cv_model   *m = small_model(CV_TASK_MULTILABEL);
	uint8_t    *bytes = NULL;
	size_t		len = 0;
	cv_error	err;
	int			bad = 0;

	if (m == NULL || cv_model_serialize(m, &bytes, &len, &err) != CV_OK)
	{
		CHECK(false);
		return;
	}
	for (size_t i = 0; i < len; i++)
		for (int b = 0; b < 8; b++)
		{
			cv_model   *out = NULL;
			cv_status	st;
			/*
			 * The version field may read as another (unsupported) version;
			 * 3 -> 2 (byte 8, bit 0) is the one flip that reads: version 2
			 * wrote classification models exactly as version 3 does, and
			 * the checksum covers the body, not the header.  Version 1
			 * (3 -> 1) lacks a field, so its body does not parse.
			 */
			bool		same_layout = i == 8 && b == 0;
			cv_status	want = same_layout ? CV_OK :
				i >= 8 && i < 12 && !(i == 8 && b == 1) ? CV_ERR_UNSUPPORTED : CV_ERR_CORRUPT;

			bytes[i] ^= (uint8_t) (1 << b);
			st = cv_model_parse(bytes, len, &out, &err);
			bytes[i] ^= (uint8_t) (1 << b);
			if (same_layout && st == CV_OK && out != NULL)
			{
				cv_model_free(out);
				continue;
			}
			if (st != want || out != NULL)
			{
				bad++;
				if (bad < 5)
					fprintf(stderr, "flip of byte %zu bit %d: %s\n", i, b, cv_status_name(st));
			}
		}
	CHECK(bad == 0);
	cv_free(bytes);
	cv_model_free(m);
}

/* Little-endian u32 at off, and a fresh checksum so only the lie remains. */
static void
poke_u32(uint8_t *bytes, size_t len, size_t off, uint32_t v)
{
	uint32_t	crc = 0xFFFFFFFFu;

	bytes[off] = v & 0xFF;
	bytes[off + 1] = (v >> 8) & 0xFF;
	bytes[off + 2] = (v >> 16) & 0xFF;
	bytes[off + 3] = (v >> 24) & 0xFF;
	for (size_t i = 32; i < len; i++)
	{
		crc ^= bytes[i];
		for (int b = 0; b < 8; b++)
			crc = crc & 1 ? 0xEDB88320u ^ (crc >> 1) : crc >> 1;
	}
	crc ^= 0xFFFFFFFFu;
	bytes[24] = crc & 0xFF;
	bytes[25] = (crc >> 8) & 0xFF;
	bytes[26] = (crc >> 16) & 0xFF;
	bytes[27] = (crc >> 24) & 0xFF;
}

static void
test_checksum_valid_lies(void)
{
	cv_model   *m = small_model(CV_TASK_MULTICLASS);
	uint8_t    *bytes = NULL,
			   *copy;
	size_t		len = 0;
	cv_error	err;
	/* body offsets: task 32, name len 36, "fake" 40, hash 44, version 76,
	 * width 80, height 84, dim 88, views 92, normalisation 96, threshold
	 * 100, lambda 104, n_tags 108, first tag flags 112 */
	struct
	{
		size_t		off;
		uint32_t	value;
	}			lies[] = {
		{32, 3},				/* unknown task */
		{36, 0xFFFFFFF0u},		/* domain name longer than everything */
		{36, 0},				/* empty domain name */
		{80, 0},				/* zero width */
		{88, 1u << 20},			/* the largest dim: arrays cannot fit */
		{88, 0xFFFFFFFFu},		/* absurd dim */
		{88, 9},				/* off by one */
		{92, 0},				/* no prediction view */
		{92, 99},
		{96, 0},				/* unknown normalisation */
		{96, 3},
		{100, 0x7FC00000u},		/* NaN threshold */
		{100, 0x40000000u},		/* threshold 2 */
		{108, 1024},			/* the most tags: cannot fit */
		{108, 0},
		{112, 2},				/* unknown tag flag */
		{116, 100000},			/* tag name longer than the bytes */
	};

	if (m == NULL || cv_model_serialize(m, &bytes, &len, &err) != CV_OK)
	{
		CHECK(false);
		return;
	}
	copy = malloc(len);
	CHECK(memcmp(bytes + 40, "fake", 4) == 0);
	for (size_t j = 0; j < sizeof(lies) / sizeof(lies[0]); j++)
	{
		cv_model   *out = NULL;
		cv_status	st;

		memcpy(copy, bytes, len);
		poke_u32(copy, len, lies[j].off, lies[j].value);
		st = cv_model_parse(copy, len, &out, &err);
		CHECK_MSG(st == CV_ERR_CORRUPT && out == NULL, "lie %zu: %s", j, cv_status_name(st));
	}
	/* a NaN weight (last float: a bias) */
	memcpy(copy, bytes, len);
	poke_u32(copy, len, len - 4, 0x7FC00000u);
	{
		cv_model   *out = NULL;

		CHECK(cv_model_parse(copy, len, &out, &err) == CV_ERR_CORRUPT);
		CHECK(strstr(err.message, "corrupt") != NULL);
	}
	/* sanity: an honest re-checksum of the original parses */
	memcpy(copy, bytes, len);
	poke_u32(copy, len, 32, 1);
	{
		cv_model   *out = NULL;

		CHECK(cv_model_parse(copy, len, &out, &err) == CV_OK);
		cv_model_free(out);
	}
	/* trailing garbage and a future version */
	{
		uint8_t    *longer = malloc(len + 1);
		cv_model   *out = NULL;

		memcpy(longer, bytes, len);
		longer[len] = 0;
		CHECK(cv_model_parse(longer, len + 1, &out, &err) == CV_ERR_CORRUPT);
		free(longer);
		memcpy(copy, bytes, len);
		copy[8] = 5;
		CHECK(cv_model_parse(copy, len, &out, &err) == CV_ERR_UNSUPPORTED);
		/* version 3 bytes under a version 4 header: the body is no file length */
		copy[8] = 4;
		CHECK(cv_model_parse(copy, len, &out, &err) == CV_ERR_CORRUPT && out == NULL);
		/*
		 * Version 2 wrote classification models exactly as version 3 does
		 * (3 added detection models): the same body under a version 2
		 * header still reads (the checksum covers the body only).
		 */
		copy[8] = 2;
		CHECK(cv_model_parse(copy, len, &out, &err) == CV_OK);
		cv_model_free(out);
		out = NULL;
		CHECK(cv_model_parse(NULL, 0, &out, &err) == CV_ERR_CORRUPT);
	}
	free(copy);
	cv_free(bytes);
	cv_model_free(m);
}

/*
 * Version 1 (no normalisation field) is still read, as CV_NORM_NONE: made
 * here from version 2 bytes of a head without normalisation by cutting the
 * field out.  The same cut with version 2 left in the header is corrupt.
 */
static void
test_reads_version_1(void)
{
	cv_model   *m = small_model(CV_TASK_MULTICLASS);
	uint8_t    *bytes = NULL,
			   *v1;
	size_t		len = 0;
	cv_model   *out = NULL;
	cv_error	err;

	if (m == NULL)
	{
		CHECK(false);
		return;
	}
	m->head->norm = CV_NORM_NONE;
	if (cv_model_serialize(m, &bytes, &len, &err) != CV_OK)
	{
		CHECK(false);
		cv_model_free(m);
		return;
	}
	CHECK(bytes[96] == CV_NORM_NONE && bytes[97] == 0);
	v1 = malloc(len - 4);
	memcpy(v1, bytes, 96);
	memcpy(v1 + 96, bytes + 100, len - 100);
	v1[16] = (uint8_t) ((len - 4) & 0xFF);
	v1[17] = (uint8_t) (((len - 4) >> 8) & 0xFF);
	poke_u32(v1, len - 4, 32, 1);	/* re-checksum (task stays multiclass) */
	CHECK(cv_model_parse(v1, len - 4, &out, &err) == CV_ERR_CORRUPT);	/* still says 2 */
	v1[8] = 1;
	poke_u32(v1, len - 4, 32, 1);
	CHECK(cv_model_parse(v1, len - 4, &out, &err) == CV_OK);
	if (out != NULL)
	{
		float		f[8] = {1, 0, 0.5f, 0.2f, 0, 1, 0.3f, 0.9f};
		float		p1[3],
					p2[3];

		CHECK(out->head->norm == CV_NORM_NONE);
		CHECK(memcmp(out->head->weights, m->head->weights, sizeof(float) * 24) == 0);
		CHECK(cv_head_predict(m->head, f, 1, p1, &err) == CV_OK);
		CHECK(cv_head_predict(out->head, f, 1, p2, &err) == CV_OK);
		CHECK(memcmp(p1, p2, sizeof(p1)) == 0);
		cv_model_free(out);
	}
	/* a model cannot be built from a head with an unknown normalisation */
	m->head->norm = (cv_norm) 7;
	{
		const char *names[3] = {"a", "b", "c"};
		cv_model   *bad = NULL;

		CHECK(cv_model_build(&fake_fx, names, m->head, 0.5f, &bad, &err) == CV_ERR_PARAM);
		CHECK(bad == NULL);
	}
	free(v1);
	cv_free(bytes);
	cv_model_free(m);
}

static void
test_build_checks_and_extractor_match(void)
{
	cv_model   *m = small_model(CV_TASK_MULTICLASS);
	cv_model   *bad = NULL;
	cv_feature_extractor other = fake_fx;
	const char *names[3] = {"a", "", "c"};
	cv_error	err;

	if (m == NULL)
	{
		CHECK(false);
		return;
	}
	CHECK(cv_model_check_extractor(m, &fake_fx, &err) == CV_OK);
	other.version = 8;
	CHECK(cv_model_check_extractor(m, &other, &err) == CV_ERR_PARAM);
	other = fake_fx;
	other.content_hash[5] ^= 1;
	CHECK(cv_model_check_extractor(m, &other, &err) == CV_ERR_PARAM);
	other = fake_fx;
	strcpy(other.name, "compact");
	CHECK(cv_model_check_extractor(m, &other, &err) == CV_ERR_PARAM);
	CHECK(strstr(err.message, "fake") != NULL);

	CHECK(cv_model_build(&fake_fx, names, m->head, 0.5f, &bad, &err) == CV_ERR_PARAM);
	names[1] = "b";
	CHECK(cv_model_build(&fake_fx, names, m->head, 1.5f, &bad, &err) == CV_ERR_PARAM);
	other.dim = 9;
	CHECK(cv_model_build(&other, names, m->head, 0.5f, &bad, &err) == CV_ERR_PARAM);
	CHECK(bad == NULL);
	cv_model_free(m);
}

/*
 * A model carrying its backbone file (version 4): the file comes back byte
 * for byte before the unchanged body, and without it the model writes the
 * same version 3 bytes as before.
 */
static void
test_embedded_backbone(void)
{
	cv_model   *m = small_model(CV_TASK_MULTICLASS);
	cv_model   *back = NULL;
	uint8_t		file[40];
	uint8_t    *plain = NULL,
			   *bytes = NULL,
			   *again = NULL;
	size_t		plain_len = 0,
				len = 0,
				len2 = 0;
	cv_error	err;

	if (m == NULL || cv_model_serialize(m, &plain, &plain_len, &err) != CV_OK)
	{
		CHECK(false);
		cv_model_free(m);
		return;
	}
	for (int i = 0; i < (int) sizeof(file); i++)
		file[i] = (uint8_t) (i * 37 + 5);
	m->backbone = cv_malloc(sizeof(file));
	memcpy(m->backbone, file, sizeof(file));
	m->backbone_len = sizeof(file);
	CHECK(cv_model_serialize(m, &bytes, &len, &err) == CV_OK);
	CHECK(len == plain_len + 8 + sizeof(file));
	CHECK(bytes[8] == 4 && bytes[9] == 0);
	CHECK(bytes[32] == sizeof(file) && bytes[33] == 0 && bytes[39] == 0);
	CHECK(memcmp(bytes + 40, file, sizeof(file)) == 0);
	/* the body after the file is the version 3 body */
	CHECK(memcmp(bytes + 40 + sizeof(file), plain + 32, plain_len - 32) == 0);
	CHECK(cv_model_parse(bytes, len, &back, &err) == CV_OK);
	if (back != NULL)
	{
		CHECK(back->backbone_len == sizeof(file));
		CHECK(back->backbone != NULL && memcmp(back->backbone, file, sizeof(file)) == 0);
		CHECK(memcmp(back->domain_hash, fake_fx.content_hash, 32) == 0);
		CHECK(memcmp(back->head->weights, m->head->weights, sizeof(float) * 24) == 0);
		CHECK(cv_model_serialize(back, &again, &len2, &err) == CV_OK);
		CHECK(len2 == len && memcmp(again, bytes, len) == 0);
		cv_free(again);
		again = NULL;
		/* dropped again: the version 3 bytes */
		cv_free(back->backbone);
		back->backbone = NULL;
		back->backbone_len = 0;
		CHECK(cv_model_serialize(back, &again, &len2, &err) == CV_OK);
		CHECK(len2 == plain_len && memcmp(again, plain, plain_len) == 0);
		cv_free(again);
		cv_model_free(back);
	}

	/* every truncation, every bit flip */
	{
		int			corrupt = 0,
					bad = 0;

		for (size_t cut = 0; cut < len; cut++)
		{
			uint8_t    *copy = malloc(cut ? cut : 1);
			cv_model   *out = (cv_model *) 1;

			memcpy(copy, bytes, cut);
			if (cv_model_parse(copy, cut, &out, &err) == CV_ERR_CORRUPT && out == NULL)
				corrupt++;
			free(copy);
		}
		CHECK_MSG(corrupt == (int) len, "%d of %zu truncations rejected", corrupt, len);
		for (size_t i = 0; i < len; i++)
			for (int b = 0; b < 8; b++)
			{
				cv_model   *out = NULL;
				/* 4 flips to 5, 6 or 0: never a version that reads */
				cv_status	want = i >= 8 && i < 12 ? CV_ERR_UNSUPPORTED : CV_ERR_CORRUPT;
				cv_status	st;

				bytes[i] ^= (uint8_t) (1 << b);
				st = cv_model_parse(bytes, len, &out, &err);
				bytes[i] ^= (uint8_t) (1 << b);
				if (st != want || out != NULL)
				{
					bad++;
					cv_model_free(out);
				}
			}
		CHECK_MSG(bad == 0, "%d bit flips not refused as they should be", bad);
	}

	/* checksum-valid lies about the file's length */
	{
		cv_model   *out = NULL;
		uint32_t	lies[] = {0, (uint32_t) len, (uint32_t) sizeof(file) + 1, 0xFFFFFFFFu};

		for (int k = 0; k < 4; k++)
		{
			uint8_t    *copy = malloc(len);

			memcpy(copy, bytes, len);
			poke_u32(copy, len, 32, lies[k]);
			CHECK_MSG(cv_model_parse(copy, len, &out, &err) == CV_ERR_CORRUPT && out == NULL,
					  "file length %u", lies[k]);
			free(copy);
		}
	}

	/* a compact model (zero hash) carries none, written or read */
	{
		uint8_t    *copy = malloc(len);
		uint8_t    *none = NULL;
		size_t		none_len = 0;
		cv_model   *out = NULL;

		memset(m->domain_hash, 0, 32);
		CHECK(cv_model_serialize(m, &none, &none_len, &err) == CV_ERR_PARAM && none == NULL);
		memcpy(copy, bytes, len);
		/* domain name "fake": u32 task, u32 length, 4 bytes, then the hash */
		memset(copy + 40 + sizeof(file) + 12, 0, 32);
		poke_u32(copy, len, 40 + sizeof(file), CV_TASK_MULTICLASS);
		CHECK(cv_model_parse(copy, len, &out, &err) == CV_ERR_CORRUPT && out == NULL);
		CHECK(strstr(err.message, "compact") != NULL);
		free(copy);
		m->domain_hash[0] = 0xAB;
		m->backbone_len = 0;
		CHECK(cv_model_serialize(m, &none, &none_len, &err) == CV_ERR_PARAM && none == NULL);
	}
	cv_free(plain);
	cv_free(bytes);
	cv_model_free(m);
}

/* End to end on pixels with the compact domain. */
static void
test_predict_image_compact(void)
{
	cv_feature_extractor *fx = NULL;
	cv_model   *m = NULL;
	cv_head    *h;
	cv_rgb_image img = {50, 40, NULL};
	const char *names[2] = {"x", "y"};
	float		p[2];
	cv_error	err;

	CHECK(cv_features_compact_create(&fx, &err) == CV_OK);
	if (fx == NULL)
		return;
	h = cv_head_alloc(CV_TASK_MULTICLASS, 2, fx->dim);
	img.pixels = calloc(50 * 40 * 3, 1);
	for (int i = 0; i < 50 * 40 * 3; i++)
		img.pixels[i] = (uint8_t) (i * 31);
	h->bias[1] = 1.0f;
	CHECK(cv_model_build(fx, names, h, 0.5f, &m, &err) == CV_OK);
	CHECK(cv_model_predict_image(m, fx, &img, p, &err) == CV_OK);
	CHECK_NEAR(p[1], 1.0 / (1.0 + exp(-1.0)), 1e-6);
	CHECK(cv_model_predict_image(m, &fake_fx, &img, p, &err) == CV_ERR_PARAM);
	free(img.pixels);
	cv_head_free(h);
	cv_model_free(m);
	cv_features_destroy(fx);
}

UNIT_MAIN("model_format",
		  UNIT_CASE(test_round_trip),
		  UNIT_CASE(test_deterministic_bytes),
		  UNIT_CASE(test_every_truncation),
		  UNIT_CASE(test_every_bit_flip),
		  UNIT_CASE(test_checksum_valid_lies),
		  UNIT_CASE(test_reads_version_1),
		  UNIT_CASE(test_build_checks_and_extractor_match),
		  UNIT_CASE(test_embedded_backbone),
		  UNIT_CASE(test_predict_image_compact))
