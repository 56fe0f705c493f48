/*
 * test_nn_prepared.c
 *	  Prepared nets (src/core/nn/prepared.c): a net saved as a blob and
 *	  loaded from it runs bit for bit as the net built from the file (the
 *	  shared networks, float and int8 engines, classifier scores and
 *	  features, detection feature maps at another input size, the portable
 *	  kernels), and a blob that is truncated, damaged, of another build or
 *	  of another CPU path is refused, including damage behind a recomputed
 *	  checksum.
 *
 * PGVISION_PORTABLE_KERNELS=1 (unit.c; the sanitizer run of tools/test.sh)
 * keeps every case on the portable kernels; PGVISION_INT8_QUICK=1 (the
 * same run, at -O0) keeps the two smallest cases and 300 damage trials.
 */
#include "unit.h"
#include "detect/detect_backbone.h"
#include "nn/nn.h"
#include "nn/nn_internal.h"

#include <stdint.h>

#define HOST "unit test host"

typedef struct prep_case
{
	const char *file;
	int			engine;
	int			size;			/* 0: the file's; else cut at the detector's maps */
	bool		portable;
	bool		quick;			/* also in the quick (sanitizer) run */
} prep_case;

static const prep_case cases[] = {
	{"models/mobilenet_v2_1.0_224_quant.tflite", CV_NET_ENGINE_FLOAT, 0, false, false},
	{"models/mobilenet_v2_1.0_224_quant.tflite", CV_NET_ENGINE_INT8, 0, false, false},
	{"models/mobilenet_edgetpu_224_1.0_uint8.tflite", CV_NET_ENGINE_FLOAT, 0, false, false},
	{"models/mobilenet_edgetpu_224_1.0_uint8.tflite", CV_NET_ENGINE_INT8, 0, false, false},
	{"models/mobilenet_v1_0.25_128_quant.tflite", CV_NET_ENGINE_INT8, 0, true, true},
	{"models/mobilenet_v1_0.25_128_quant.tflite", CV_NET_ENGINE_FLOAT, 0, false, true},
	{"models/tf2_mobilenet_v2_1.0_224_ptq.tflite", CV_NET_ENGINE_INT8, 0, false, false},
	{"models/mobilenet_v2_1.0_224_quant.tflite", CV_NET_ENGINE_FLOAT, 320, false, false},
	{"models/ssd_mobilenet_v1_coco_uint8.tflite", CV_NET_ENGINE_INT8, 320, false, false},
};

static bool
quick_run(void)
{
	const char *q = getenv("PGVISION_INT8_QUICK");

	return q != NULL && strcmp(q, "1") == 0;
}

/* A 64-byte aligned copy of n bytes (the blob's alignment), freed with free(). */
static uint8_t *
aligned_copy(const uint8_t *src, size_t n)
{
	void	   *p = NULL;

	if (posix_memalign(&p, 64, n + 64) != 0)
		return NULL;
	if (src != NULL)
		memcpy(p, src, n);
	return p;
}

static uint8_t *
test_pixels(int w, int h)
{
	uint8_t    *px = malloc((size_t) w * h * 3);

	for (size_t i = 0; i < (size_t) w * h * 3; i++)
		px[i] = (uint8_t) ((i * 7 + (i / 3 / w) * 13) % 251);
	return px;
}

/* Every float the net gives for px: scores, features, or requested outputs. */
static float *
run_all(const cv_net *net, const uint8_t *px, size_t *n_out)
{
	const cv_net_info *info = cv_net_get_info(net);
	cv_net_workspace *ws = NULL;
	cv_error	err;
	float	   *out;
	size_t		n = 0;
	int			dims[4];

	if (cv_net_workspace_create(net, &ws, &err) != CV_OK)
		return NULL;
	if (info->num_outputs > 0)
	{
		n = (size_t) info->num_outputs + (size_t) info->feature_dim;
		out = calloc(n, sizeof(float));
		CHECK_MSG(cv_net_run(net, ws, px, out, info->feature_dim > 0 ? out + info->num_outputs : NULL,
							 &err) == CV_OK, "%s", err.message);
	}
	else
	{
		float	   *outs[2];
		size_t		sz[2];

		for (int k = 0; k < 2; k++)
		{
			CHECK(cv_net_output_shape(net, k, dims));
			sz[k] = (size_t) dims[0] * dims[1] * dims[2] * dims[3];
			n += sz[k];
		}
		out = calloc(n, sizeof(float));
		outs[0] = out;
		outs[1] = out + sz[0];
		CHECK_MSG(cv_net_run_outputs(net, ws, px, outs, &err) == CV_OK, "%s", err.message);
	}
	cv_net_workspace_free(ws);
	*n_out = n;
	return out;
}

static cv_net *
build(const prep_case *pc, const uint8_t *bytes, size_t len)
{
	cv_net_options opt;
	cv_net	   *net = NULL;
	cv_error	err;

	memset(&opt, 0, sizeof(opt));
	opt.engine = (cv_net_engine) pc->engine;
	if (pc->size > 0)
	{
		CHECK_MSG(cv_detect_backbone_choose(bytes, len, opt.outputs, &err) == CV_OK, "%s: %s",
				  pc->file, err.message);
		opt.n_outputs = 2;
		opt.input_width = opt.input_height = pc->size;
	}
	CHECK_MSG(cv_net_load_with(bytes, len, &opt, &net, &err) == CV_OK, "%s: %s", pc->file,
			  err.message);
	return net;
}

/* Saved, loaded, run: the same floats; and the blob does not depend on where it was. */
static void
test_round_trip(void)
{
	bool		was_portable = cv_nn_get_portable();

	for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++)
	{
		const prep_case *pc = &cases[c];
		size_t		len,
					blob_len,
					n_built,
					n_loaded;
		uint8_t    *bytes = unit_read_file(unit_shared_path(pc->file), &len);
		cv_net	   *net,
				   *loaded = NULL;
		uint8_t    *blob,
				   *moved,
				   *px;
		float	   *want,
				   *got;
		cv_error	err;
		const cv_net_info *info;
		int			integer_steps;
		bool		portable = pc->portable || was_portable;

		if (quick_run() && !pc->quick)
		{
			free(bytes);
			continue;
		}
		CHECK_MSG(bytes != NULL, "missing %s", pc->file);
		if (bytes == NULL)
			continue;
		cv_nn_set_portable(portable);
		net = build(pc, bytes, len);
		free(bytes);
		if (net == NULL)
			continue;
		info = cv_net_get_info(net);
		integer_steps = info->integer_steps;
		px = test_pixels(info->input_width, info->input_height);
		want = run_all(net, px, &n_built);

		blob_len = cv_net_prepared_size(net);
		blob = aligned_copy(NULL, blob_len);
		CHECK_MSG(cv_net_save_prepared(net, HOST, blob, blob_len, &err) == CV_OK, "%s", err.message);
		CHECK(cv_net_save_prepared(net, HOST, blob, blob_len - 1, &err) == CV_ERR_PARAM);
		cv_net_free(net);		/* nothing of the loaded net may point into it */

		/* another address: position-independent */
		moved = aligned_copy(blob, blob_len);
		free(blob);
		CHECK_MSG(cv_net_load_prepared(moved, blob_len, HOST, &loaded, &err) == CV_OK, "%s: %s",
				  pc->file, err.message);
		if (loaded != NULL)
		{
			got = run_all(loaded, px, &n_loaded);
			CHECK(n_loaded == n_built);
			CHECK_MSG(got != NULL && want != NULL &&
					  memcmp(got, want, n_built * sizeof(float)) == 0,
					  "%s engine %d: the prepared net gives other floats", pc->file, pc->engine);
			CHECK(cv_net_get_info(loaded)->integer_steps == integer_steps);
			CHECK(cv_net_num_activations(loaded) > 0);
			/* a loaded net is not saved again (its weights are the blob's) */
			CHECK(cv_net_save_prepared(loaded, HOST, moved, blob_len, &err) == CV_ERR_PARAM);
			printf("     %s engine %d size %d%s: %.1f MB blob, %zu floats identical\n",
				   pc->file + 7, pc->engine, pc->size, portable ? " portable" : "",
				   blob_len / 1e6, n_built);
			free(got);
			cv_net_free(loaded);
		}
		/* another build, and another CPU path, are refused */
		CHECK(cv_net_load_prepared(moved, blob_len, "another host", &loaded, &err) ==
			  CV_ERR_UNSUPPORTED && loaded == NULL);
		cv_nn_set_portable(!portable);
		if (nn_gemm_available() || portable)
			CHECK(cv_net_load_prepared(moved, blob_len, HOST, &loaded, &err) ==
				  CV_ERR_UNSUPPORTED && loaded == NULL);
		cv_nn_set_portable(was_portable);
		free(moved);
		free(want);
		free(px);
	}
}

/* Truncated, flipped, misaligned, resealed after damage: refused, never a crash. */
static void
test_damage(void)
{
	size_t		len,
				blob_len;
	uint8_t    *bytes = unit_read_file(unit_shared_path("models/mobilenet_v1_0.25_128_quant.tflite"), &len);
	prep_case	pc = {"v1", CV_NET_ENGINE_INT8, 0, false, true};
	cv_net	   *net,
			   *loaded = NULL;
	uint8_t    *blob,
			   *bad;
	cv_error	err;
	int			refused = 0,
				accepted = 0;
	int			trials = quick_run() ? 300 : 3000;
	uint32_t	seed = 12345;

	CHECK(bytes != NULL);
	if (bytes == NULL)
		return;
	net = build(&pc, bytes, len);
	free(bytes);
	if (net == NULL)
		return;
	blob_len = cv_net_prepared_size(net);
	blob = aligned_copy(NULL, blob_len);
	CHECK(cv_net_save_prepared(net, HOST, blob, blob_len, &err) == CV_OK);
	cv_net_free(net);
	bad = aligned_copy(blob, blob_len);

	/* truncated anywhere */
	for (size_t cut = 0; cut < blob_len; cut += cut < 4096 ? 97 : blob_len / 17)
	{
		CHECK(cv_net_load_prepared(bad, cut, HOST, &loaded, &err) == CV_ERR_CORRUPT &&
			  loaded == NULL);
	}
	/* not aligned */
	CHECK(cv_net_load_prepared(bad + 1, blob_len - 1, HOST, &loaded, &err) == CV_ERR_PARAM);
	/* one flipped bit anywhere: the checksum */
	for (size_t at = 0; at < blob_len; at += 1 + blob_len / 301)
	{
		bad[at] ^= 0x10;
		CHECK_MSG(cv_net_load_prepared(bad, blob_len, HOST, &loaded, &err) != CV_OK &&
				  loaded == NULL, "flip at %zu accepted", at);
		bad[at] ^= 0x10;
	}
	/* resealed damage in the structures: refused by the checks, or harmless */
	for (int trial = 0; trial < trials; trial++)
	{
		size_t		at;

		memcpy(bad, blob, blob_len);
		for (int k = 0; k < 1 + trial % 4; k++)
		{
			seed = seed * 1103515245u + 12345u;
			/* the structures before the data: the header and the tables */
			at = 24 + (seed >> 8) % 65536 % (blob_len - 24);
			seed = seed * 1103515245u + 12345u;
			bad[at] = (uint8_t) (trial % 3 == 0 ? 0xff : (seed >> 16));
		}
		nn_prepared_reseal(bad, blob_len);
		if (cv_net_load_prepared(bad, blob_len, HOST, &loaded, &err) == CV_OK)
		{
			size_t		n;
			float	   *out;
			uint8_t    *px = test_pixels(cv_net_get_info(loaded)->input_width,
										 cv_net_get_info(loaded)->input_height);

			/* accepted: it must still run within its own memory */
			out = run_all(loaded, px, &n);
			free(out);
			free(px);
			cv_net_free(loaded);
			accepted++;
		}
		else
			refused++;
	}
	printf("     resealed damage: %d refused, %d accepted and run\n", refused, accepted);
	CHECK(refused > 0 && refused + accepted == trials);

	/* named fields behind a recomputed checksum */
	memcpy(bad, blob, blob_len);
	bad[0] ^= 1;				/* magic */
	nn_prepared_reseal(bad, blob_len);
	CHECK(cv_net_load_prepared(bad, blob_len, HOST, &loaded, &err) == CV_ERR_CORRUPT);
	memcpy(bad, blob, blob_len);
	bad[8] += 1;				/* format version */
	nn_prepared_reseal(bad, blob_len);
	CHECK(cv_net_load_prepared(bad, blob_len, HOST, &loaded, &err) == CV_ERR_UNSUPPORTED);
	memcpy(bad, blob, blob_len);
	bad[32] ^= 1;				/* the identity's first byte */
	nn_prepared_reseal(bad, blob_len);
	CHECK(cv_net_load_prepared(bad, blob_len, HOST, &loaded, &err) == CV_ERR_UNSUPPORTED);
	free(bad);
	free(blob);
}

UNIT_MAIN("nn_prepared",
		  UNIT_CASE(test_round_trip),
		  UNIT_CASE(test_damage))
