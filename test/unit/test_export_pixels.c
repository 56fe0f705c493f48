/*
 * test_export_pixels.c
 *	  cv_export_input_pixels gives exactly the pixels the prediction paths
 *	  feed their networks: for classification, what the extractor receives
 *	  inside cv_model_predict_image (caught by an extractor that records its
 *	  input); for detection, what cv_detect_image's maps are computed from
 *	  (the maps of the returned pixels equal those of view 0 on the shared
 *	  MobileNet V2).  Also the refusals: the compact domain, another
 *	  extractor, a head averaging several views, bad arguments.
 */
#include "unit.h"
#include "detect_synth.c"

#include "detect/detect_backbone.h"
#include "detect/detector.h"
#include "export/export.h"
#include "learn/augment.h"
#include "model/model.h"

/* The extractor's state: a copy of the last image it was given. */
typedef struct recorder
{
	cv_rgb_image seen;
	int			calls;
} recorder;

static cv_status
record_extract(const cv_feature_extractor *self, const cv_rgb_image *img, float *out,
			   cv_error *err)
{
	recorder   *r = self->state;
	size_t		n = (size_t) img->width * img->height * 3;

	free(r->seen.pixels);
	r->seen.width = img->width;
	r->seen.height = img->height;
	r->seen.pixels = malloc(n);
	memcpy(r->seen.pixels, img->pixels, n);
	r->calls++;
	for (int j = 0; j < self->dim; j++)
		out[j] = (float) img->pixels[j % n];
	return CV_OK;
}

static void
make_recorder(cv_feature_extractor *fx, recorder *r, int w, int h, bool square)
{
	memset(fx, 0, sizeof(*fx));
	memset(r, 0, sizeof(*r));
	strcpy(fx->name, "recorder");
	fx->version = 1;
	fx->input_width = w;
	fx->input_height = h;
	fx->dim = 8;
	fx->content_hash[0] = 0xab;	/* an imported backbone: not all zero */
	fx->square_views = square;
	fx->extract = record_extract;
	fx->state = r;
}

static cv_model *
classifier_for(const cv_feature_extractor *fx, int predict_views)
{
	const char *names[2] = {"a", "b"};
	cv_head    *head = cv_head_alloc(CV_TASK_MULTICLASS, 2, fx->dim);
	cv_model   *m = NULL;
	cv_error	err;

	head->predict_views = predict_views;
	CHECK_MSG(cv_model_build(fx, names, head, 0.5f, &m, &err) == CV_OK, "%s", err.message);
	cv_head_free(head);
	return m;
}

static cv_rgb_image
noise_image(int w, int h, uint32_t seed)
{
	cv_rgb_image img = {w, h, malloc((size_t) w * h * 3)};

	for (size_t i = 0; i < (size_t) w * h * 3; i++)
	{
		seed = seed * 1664525u + 1013904223u;
		img.pixels[i] = (uint8_t) (seed >> 24);
	}
	return img;
}

static bool
same_image(const cv_rgb_image *a, const cv_rgb_image *b)
{
	return a->width == b->width && a->height == b->height && a->pixels && b->pixels &&
		memcmp(a->pixels, b->pixels, (size_t) a->width * a->height * 3) == 0;
}

/* What the extractor sees inside cv_model_predict_image, byte for byte. */
static void
test_classification_matches_predict(void)
{
	static const int sizes[][2] = {{400, 533}, {533, 400}, {224, 224}, {97, 61},
	{61, 97}, {1000, 17}, {3, 5}, {224, 225}};
	static const int inputs[][2] = {{224, 224}, {128, 128}, {40, 30}};

	for (int sq = 0; sq < 2; sq++)
		for (size_t in = 0; in < sizeof(inputs) / sizeof(inputs[0]); in++)
			for (size_t s = 0; s < sizeof(sizes) / sizeof(sizes[0]); s++)
			{
				cv_feature_extractor fx;
				recorder	r;
				cv_model   *m;
				cv_rgb_image img = noise_image(sizes[s][0], sizes[s][1], (uint32_t) (s * 7 + in + 1));
				cv_rgb_image px = {0};
				float		probs[2];
				cv_error	err;

				make_recorder(&fx, &r, inputs[in][0], inputs[in][1], sq == 1);
				m = classifier_for(&fx, 1);
				if (m == NULL)
					continue;
				CHECK_MSG(cv_model_predict_image(m, &fx, &img, probs, &err) == CV_OK, "%s", err.message);
				CHECK(r.calls == 1);
				CHECK_MSG(cv_export_input_pixels(m, &fx, &img, &px, &err) == CV_OK, "%s", err.message);
				CHECK(px.width == inputs[in][0] && px.height == inputs[in][1]);
				CHECK_MSG(same_image(&px, &r.seen), "%dx%d photo, %dx%d input, square %d",
						  sizes[s][0], sizes[s][1], inputs[in][0], inputs[in][1], sq);
				cv_free(px.pixels);
				free(r.seen.pixels);
				free(img.pixels);
				cv_model_free(m);
			}
}

/* A square-view extractor sees the centred square: for a tall photo, rows
 * from the middle, the rest of the photo playing no part. */
static void
test_classification_centre_square(void)
{
	cv_feature_extractor fx;
	recorder	r;
	cv_model   *m;
	cv_rgb_image img = noise_image(50, 150, 3);
	cv_rgb_image px = {0};
	cv_error	err;

	make_recorder(&fx, &r, 50, 50, true);
	m = classifier_for(&fx, 1);
	/* paint the top and bottom thirds: they must not show */
	memset(img.pixels, 255, 50 * 50 * 3);
	memset(img.pixels + 100 * 50 * 3, 0, 50 * 50 * 3);
	CHECK(cv_export_input_pixels(m, &fx, &img, &px, &err) == CV_OK);
	CHECK(px.pixels != NULL && memcmp(px.pixels, img.pixels + 50 * 50 * 3, 50 * 50 * 3) == 0);
	cv_free(px.pixels);
	free(img.pixels);
	cv_model_free(m);
}

static void
test_refusals(void)
{
	cv_feature_extractor fx,
				other;
	recorder	r,
				r2;
	cv_feature_extractor *compact = NULL;
	cv_model   *m,
			   *m2,
			   *mc = NULL;
	cv_rgb_image img = noise_image(64, 48, 9);
	cv_rgb_image empty = {0};
	cv_rgb_image px = {0};
	cv_error	err;

	make_recorder(&fx, &r, 32, 32, true);
	make_recorder(&other, &r2, 32, 32, true);
	other.content_hash[1] = 1;	/* other weights */
	m = classifier_for(&fx, 1);
	m2 = classifier_for(&fx, 2);

	CHECK(cv_export_input_pixels(m, &other, &img, &px, &err) == CV_ERR_PARAM);
	CHECK(px.pixels == NULL);
	CHECK(cv_export_input_pixels(m, NULL, &img, &px, &err) == CV_ERR_PARAM);
	CHECK(cv_export_input_pixels(m, &fx, &empty, &px, &err) == CV_ERR_PARAM);
	CHECK(cv_export_input_pixels(m, &fx, NULL, &px, &err) == CV_ERR_PARAM);
	CHECK(cv_export_input_pixels(NULL, &fx, &img, &px, &err) == CV_ERR_PARAM);
	CHECK(cv_export_input_pixels(m, &fx, &img, NULL, &err) == CV_ERR_PARAM);
	CHECK(cv_export_input_pixels(m2, &fx, &img, &px, &err) == CV_ERR_UNSUPPORTED);
	CHECK(strstr(err.message, "2 views") != NULL);

	CHECK(cv_features_compact_create(&compact, &err) == CV_OK);
	if (compact != NULL)
	{
		const char *names[2] = {"a", "b"};
		cv_head    *head = cv_head_alloc(CV_TASK_MULTICLASS, 2, compact->dim);

		CHECK(cv_model_build(compact, names, head, 0.5f, &mc, &err) == CV_OK);
		cv_head_free(head);
		CHECK(cv_export_input_pixels(mc, compact, &img, &px, &err) == CV_ERR_UNSUPPORTED);
		CHECK(strstr(err.message, "compact") != NULL);
		CHECK(px.pixels == NULL);
		cv_model_free(mc);
		cv_features_destroy(compact);
	}
	free(img.pixels);
	cv_model_free(m);
	cv_model_free(m2);
}

/* Detection: the maps of the exported pixels are cv_detect_image's maps. */
static void
test_detection_matches_detect(void)
{
	size_t		len;
	uint8_t    *file = unit_read_file(unit_shared_path("models/mobilenet_v2_1.0_224_quant.tflite"), &len);
	cv_detect_backbone *bb = NULL;
	cv_detector_shape shape;
	cv_detector *det = NULL;
	cv_model   *m = NULL;
	int			tensors[2];
	uint8_t		hash[32] = {7};
	const char *names[1] = {"thing"};
	cv_error	err;
	static const int sizes[][2] = {{300, 200}, {200, 300}, {320, 320}, {640, 481}, {77, 33}};

	CHECK_MSG(file != NULL, "shared model missing (PGVISION_SHARED)");
	if (file == NULL)
		return;
	CHECK(cv_detect_backbone_choose(file, len, tensors, &err) == CV_OK);
	CHECK_MSG(cv_detect_backbone_create(file, len, CV_DETECT_INPUT_SIZE, CV_DETECT_INPUT_SIZE,
										tensors, &bb, &err) == CV_OK, "%s", err.message);
	free(file);
	if (bb == NULL)
		return;
	memset(&shape, 0, sizeof(shape));
	cv_detect_backbone_shape(bb, &shape);
	shape.n_tags = 1;
	shape.hidden = 8;
	shape.context = CV_DETECT_CONTEXT_DEFAULT;
	CHECK(cv_detector_alloc(&shape, &det, &err) == CV_OK);
	CHECK(cv_model_build_detection("mobilenet_v2", hash, CV_DETECT_MAPS_VERSION, names, det,
								   0.5f, &m, &err) == CV_OK);
	if (m == NULL)
		goto done;

	for (size_t s = 0; s < sizeof(sizes) / sizeof(sizes[0]); s++)
	{
		cv_rgb_image img = {0};
		cv_rgb_image px = {0};
		cv_rgb_image view = {0};
		cv_truth_box boxes[8];
		int			nb = 0;
		size_t		mf = cv_detector_map_floats(&shape);
		float	   *a = malloc(sizeof(float) * mf);
		float	   *b = malloc(sizeof(float) * mf);

		CHECK(detect_synth_image((uint32_t) (40 + s), sizes[s][0], sizes[s][1] < 16 ? 16 : sizes[s][1],
								 3, &img, boxes, &nb, &err) == CV_OK);
		/* the extractor is not needed for detection */
		CHECK_MSG(cv_export_input_pixels(m, NULL, &img, &px, &err) == CV_OK, "%s", err.message);
		CHECK(px.width == CV_DETECT_INPUT_SIZE && px.height == CV_DETECT_INPUT_SIZE);
		CHECK(cv_detect_render_view(&img, 0, CV_DETECT_INPUT_SIZE, CV_DETECT_INPUT_SIZE, &view, &err) == CV_OK);
		CHECK(same_image(&px, &view));
		CHECK(cv_detect_backbone_view_maps(bb, &img, 0, a, &err) == CV_OK);
		CHECK(cv_detect_backbone_maps(bb, &px, b, &err) == CV_OK);
		CHECK_MSG(memcmp(a, b, sizeof(float) * mf) == 0, "maps differ for a %dx%d photo",
				  sizes[s][0], sizes[s][1]);
		free(a);
		free(b);
		cv_rgb_image_free(&img);
		cv_rgb_image_free(&px);
		cv_rgb_image_free(&view);
	}
done:
	cv_model_free(m);
	cv_detector_free(det);
	cv_detect_backbone_free(bb);
}

/*
 * The mirror view cv_detect also runs (CV_DETECT_MIRROR_VIEW) is exactly
 * the rendered photo flipped left to right, which cv_detect_image and the
 * exported graph rely on (both flip instead of rendering again).
 */
static void
test_mirror_view_is_the_flip(void)
{
	static const int sizes[][4] = {{500, 375, 320, 320}, {37, 91, 320, 320}, {640, 480, 416, 224}};

	for (int k = 0; k < 3; k++)
	{
		cv_rgb_image src = noise_image(sizes[k][0], sizes[k][1], 77u + k),
					view = {0},
					mirror = {0};
		cv_error	err;
		bool		same = true;

		CHECK(cv_detect_render_view(&src, 0, sizes[k][2], sizes[k][3], &view, &err) == CV_OK);
		CHECK(cv_detect_render_view(&src, CV_DETECT_MIRROR_VIEW, sizes[k][2], sizes[k][3], &mirror,
									&err) == CV_OK);
		for (int y = 0; y < view.height && same; y++)
			for (int x = 0; x < view.width && same; x++)
				same = memcmp(view.pixels + ((size_t) y * view.width + x) * 3,
							  mirror.pixels + ((size_t) y * view.width + view.width - 1 - x) * 3, 3) == 0;
		CHECK_MSG(same, "mirror view %d is not the flipped view", k);
		free(src.pixels);
		cv_free(view.pixels);
		cv_free(mirror.pixels);
	}
}

UNIT_MAIN("export_pixels",
		  UNIT_CASE(test_classification_matches_predict),
		  UNIT_CASE(test_classification_centre_square),
		  UNIT_CASE(test_refusals),
		  UNIT_CASE(test_detection_matches_detect),
		  UNIT_CASE(test_mirror_view_is_the_flip))
