/*
 * test_nn_models.c
 *	  The shared pretrained networks (../shared/models) through
 *	  src/core/nn: load, input parameters read from the file, cat.bmp top-1
 *	  and scores against the published references (SOURCE.md and the
 *	  onnxruntime peer, float activations, bilinear half-pixel resize),
 *	  features, and repeatability across runs and workspaces.
 *
 * The full 1001-score comparison with onnxruntime needs node; it is done by
 * tools/bench_backbone.sh instead.
 */
#include "unit.h"
#include "image/image.h"
#include "nn/nn.h"

typedef struct model_case
{
	const char *file;
	int			size;
	int			zero_point;
	int			top1;
	double		score;			/* onnxruntime peer, float activations */
	int			feature_dim;
} model_case;

static const model_case models[] = {
	{"models/mobilenet_v2_1.0_224_quant.tflite", 224, 128, 286, 0.8145, 1280},
	{"models/tf2_mobilenet_v2_1.0_224_ptq.tflite", 224, 127, 286, 0.6783, 1280},
	{"models/mobilenet_v1_0.25_128_quant.tflite", 128, 128, 283, 0.2904, 256},
};

static uint8_t *
cat_pixels(int size)
{
	size_t		len;
	uint8_t    *bytes = unit_read_file(unit_shared_path("images/cat.bmp"), &len);
	cv_rgb_image img = {0},
				small = {0};
	cv_error	err;
	uint8_t    *px = NULL;

	if (bytes == NULL)
		return NULL;
	if (cv_image_decode(bytes, len, 0, 0, 0, &img, &err) == CV_OK &&
		cv_image_resize_bilinear(&img, size, size, &small, &err) == CV_OK)
	{
		px = malloc((size_t) size * size * 3);
		memcpy(px, small.pixels, (size_t) size * size * 3);
	}
	cv_rgb_image_free(&img);
	cv_rgb_image_free(&small);
	free(bytes);
	return px;
}

static void
test_cat_all_models(void)
{
	for (size_t k = 0; k < sizeof(models) / sizeof(models[0]); k++)
	{
		const model_case *mc = &models[k];
		size_t		len;
		uint8_t    *bytes = unit_read_file(unit_shared_path(mc->file), &len);
		uint8_t    *px = cat_pixels(mc->size);
		cv_net	   *net = NULL;
		cv_net_workspace *ws = NULL,
				   *ws2 = NULL;
		const cv_net_info *info;
		cv_error	err;
		float	   *scores,
				   *again,
				   *feat;
		int			best = 0;
		double		sum = 0;

		CHECK_MSG(bytes != NULL && px != NULL, "missing %s or cat.bmp", mc->file);
		if (bytes == NULL || px == NULL)
			continue;
		CHECK_MSG(cv_net_load(bytes, len, &net, &err) == CV_OK, "%s: %s", mc->file, err.message);
		free(bytes);			/* the net keeps no pointer into the file */
		if (net == NULL)
			continue;
		info = cv_net_get_info(net);
		CHECK(info->input_width == mc->size && info->input_height == mc->size);
		CHECK(info->input_channels == 3);
		CHECK(info->input_zero_point == mc->zero_point);
		CHECK_NEAR(info->input_scale, mc->zero_point == 128 ? 1 / 128.0 : 1 / 127.5, 1e-6);
		CHECK(info->num_outputs == 1001);
		CHECK(info->feature_dim == mc->feature_dim);
		CHECK(info->macs > 1e7);
		scores = malloc(1001 * sizeof(float));
		again = malloc(1001 * sizeof(float));
		feat = malloc((size_t) info->feature_dim * sizeof(float));
		CHECK(cv_net_workspace_create(net, &ws, &err) == CV_OK);
		CHECK(cv_net_workspace_create(net, &ws2, &err) == CV_OK);
		CHECK_MSG(cv_net_run(net, ws, px, scores, feat, &err) == CV_OK, "%s", err.message);
		for (int i = 0; i < 1001; i++)
		{
			sum += scores[i];
			if (scores[i] > scores[best])
				best = i;
		}
		CHECK_MSG(best == mc->top1, "%s: top-1 %d (%.4f), expected %d", mc->file, best,
				  scores[best], mc->top1);
		CHECK_NEAR(scores[mc->top1], mc->score, 0.01);
		CHECK_NEAR(sum, 1.0, 1e-4);
		/* pooled ReLU6 activations: non-negative, not all zero, at most 6 */
		{
			double		fs = 0;
			bool		ok = true;

			for (int i = 0; i < info->feature_dim; i++)
			{
				fs += feat[i];
				ok = ok && feat[i] >= 0 && feat[i] <= 6.0001f;
			}
			CHECK(ok && fs > 0);
		}
		/* a second workspace, after another image, gives identical scores */
		{
			uint8_t    *grey = malloc((size_t) mc->size * mc->size * 3);

			memset(grey, 128, (size_t) mc->size * mc->size * 3);
			CHECK(cv_net_run(net, ws2, grey, again, NULL, &err) == CV_OK);
			CHECK(cv_net_run(net, ws2, px, again, NULL, &err) == CV_OK);
			CHECK(memcmp(scores, again, 1001 * sizeof(float)) == 0);
			/*
			 * features alone (the classifier after them not run), after
			 * the grey image left every value of ws2 stale: the same bytes
			 */
			{
				float	   *alone = malloc((size_t) info->feature_dim * sizeof(float));

				CHECK(cv_net_run(net, ws2, grey, again, NULL, &err) == CV_OK);
				CHECK(cv_net_run(net, ws2, px, NULL, alone, &err) == CV_OK);
				CHECK_MSG(memcmp(feat, alone, (size_t) info->feature_dim * sizeof(float)) == 0,
						  "%s: features alone differ from a whole run's", mc->file);
				free(alone);
			}
			free(grey);
		}
		/* a workspace of another network is refused */
		CHECK(cv_net_run(net, NULL, px, scores, NULL, &err) == CV_ERR_PARAM);
		printf("     %s: top-1 %d %.4f, %.1f M MACs, weights %.1f MB, arena %.2f MB\n",
			   mc->file, best, scores[best], info->macs / 1e6, info->weight_bytes / 1e6,
			   info->arena_bytes / 1e6);
		free(scores);
		free(again);
		free(feat);
		free(px);
		cv_net_workspace_free(ws);
		cv_net_workspace_free(ws2);
		cv_net_free(net);
	}
}

/* The feature tensor is the classifier's input, found by name too. */
static void
test_feature_tensor(void)
{
	size_t		len;
	uint8_t    *bytes = unit_read_file(unit_shared_path(models[0].file), &len);
	cv_net	   *net = NULL;
	cv_error	err;
	const char *name = NULL;

	if (bytes == NULL)
	{
		CHECK_MSG(0, "missing %s", models[0].file);
		return;
	}
	CHECK(cv_net_load(bytes, len, &net, &err) == CV_OK);
	if (net)
	{
		CHECK(cv_net_feature_tensor(net, &name) >= 0);
		CHECK_MSG(name && strstr(name, "AvgPool") != NULL, "feature tensor %s", name);
		cv_net_free(net);
	}
	free(bytes);
}

UNIT_MAIN("nn_models",
		  UNIT_CASE(test_cat_all_models),
		  UNIT_CASE(test_feature_tensor))
