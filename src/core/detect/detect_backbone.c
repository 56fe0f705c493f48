/*
 * detect_backbone.c
 *	  Feature maps of an imported network for the detector
 *	  (detect_backbone.h).
 */
#include "detect_backbone.h"
#include "../nn/nn.h"
#include "../learn/augment.h"

#include <string.h>

struct cv_detect_backbone
{
	cv_net	   *net;
	cv_net_workspace *workspace;
	bool		busy;
	int			input_width;
	int			input_height;
	int			tensor[2];
	int			dims[2][4];		/* NHWC of each map */
};

cv_status
cv_detect_backbone_choose(const uint8_t *file, size_t len, int tensors[2], cv_error *err)
{
	cv_net_options opt;
	cv_net	   *net = NULL;
	const cv_net_info *info;
	cv_status	st;
	static const int strides[2] = {16, 32};

	memset(&opt, 0, sizeof(opt));
	opt.prefix_only = true;
	st = cv_net_load_with(file, len, &opt, &net, err);
	if (st != CV_OK)
		return st;
	info = cv_net_get_info(net);
	for (int k = 0; k < 2; k++)
	{
		int			want_h = (info->input_height + strides[k] - 1) / strides[k];
		int			want_w = (info->input_width + strides[k] - 1) / strides[k];

		int			prev_area = -1;

		tensors[k] = -1;
		for (int a = 0; a < cv_net_num_activations(net); a++)
		{
			int			tensor,
						dims[4];
			const char *name;
			int			area;

			if (!cv_net_activation(net, a, &tensor, dims, &name))
				continue;
			/*
			 * The backbone's trunk only shrinks; an activation larger than
			 * the one before it is where a detection head (SSD's box
			 * predictors on the finer maps, an FPN's upsampling) begins,
			 * and its outputs are no backbone features.
			 */
			area = dims[1] * dims[2];
			if (prev_area >= 0 && area > prev_area)
				break;
			prev_area = area;
			if (dims[0] == 1 && dims[1] == want_h && dims[2] == want_w &&
				dims[3] >= 1 && dims[3] <= CV_DETECT_MAP_MAX_CHANNELS)
				tensors[k] = tensor;	/* the last one wins */
		}
		if (tensors[k] < 0)
		{
			cv_net_free(net);
			return cv_fail(err, CV_ERR_UNSUPPORTED,
						   "the network has no %dx%d feature map (stride %d) with at most %d channels",
						   want_h, want_w, strides[k], CV_DETECT_MAP_MAX_CHANNELS);
		}
	}
	cv_net_free(net);
	return CV_OK;
}

cv_status
cv_detect_backbone_create(const uint8_t *file, size_t len, int input_width,
						  int input_height, const int tensors[2],
						  cv_detect_backbone **out, cv_error *err)
{
	return cv_detect_backbone_create_engine(file, len, input_width, input_height, tensors,
											CV_NET_ENGINE_FLOAT, out, err);
}

uint32_t
cv_detect_backbone_maps_version(const cv_detect_backbone *bb)
{
	return cv_net_get_info(bb->net)->integer_steps > 0 ?
		CV_DETECT_MAPS_VERSION_INT8 : CV_DETECT_MAPS_VERSION;
}

static cv_status detect_backbone_wrap(cv_detect_backbone *bb, const int tensors[2],
									  cv_detect_backbone **out, cv_error *err);

cv_status
cv_detect_backbone_create_engine(const uint8_t *file, size_t len, int input_width,
								 int input_height, const int tensors[2], int engine,
								 cv_detect_backbone **out, cv_error *err)
{
	cv_net_options opt;
	cv_detect_backbone *bb;
	cv_status	st;

	*out = NULL;
	bb = cv_calloc(1, sizeof(*bb));
	if (bb == NULL)
		return cv_fail(err, CV_ERR_NOMEM, "out of memory for a detection backbone");
	memset(&opt, 0, sizeof(opt));
	opt.input_width = input_width;
	opt.input_height = input_height;
	opt.n_outputs = 2;
	opt.outputs[0] = tensors[0];
	opt.outputs[1] = tensors[1];
	opt.engine = (cv_net_engine) engine;
	st = cv_net_load_with(file, len, &opt, &bb->net, err);
	if (st != CV_OK)
	{
		cv_detect_backbone_free(bb);
		return st;
	}
	return detect_backbone_wrap(bb, tensors, out, err);
}

cv_status
cv_detect_backbone_from_net(cv_net *net, const int tensors[2], cv_detect_backbone **out,
							cv_error *err)
{
	cv_detect_backbone *bb;

	*out = NULL;
	if (net == NULL || tensors == NULL)
	{
		cv_net_free(net);
		return cv_fail(err, CV_ERR_PARAM, "no network or tensors");
	}
	bb = cv_calloc(1, sizeof(*bb));
	if (bb == NULL)
	{
		cv_net_free(net);
		return cv_fail(err, CV_ERR_NOMEM, "out of memory for a detection backbone");
	}
	bb->net = net;
	return detect_backbone_wrap(bb, tensors, out, err);
}

/* The workspace and shapes of a backbone whose net is set; frees it on failure. */
static cv_status
detect_backbone_wrap(cv_detect_backbone *bb, const int tensors[2], cv_detect_backbone **out,
					 cv_error *err)
{
	cv_status	st = cv_net_workspace_create(bb->net, &bb->workspace, err);

	if (st != CV_OK)
	{
		cv_detect_backbone_free(bb);
		return st;
	}
	for (int k = 0; k < 2; k++)
	{
		if (!cv_net_output_shape(bb->net, k, bb->dims[k]) || bb->dims[k][0] != 1)
		{
			cv_detect_backbone_free(bb);
			return cv_fail(err, CV_ERR_UNSUPPORTED, "feature map %d has no image shape", k);
		}
		bb->tensor[k] = tensors[k];
	}
	bb->input_width = cv_net_get_info(bb->net)->input_width;
	bb->input_height = cv_net_get_info(bb->net)->input_height;
	*out = bb;
	return CV_OK;
}

const cv_net *
cv_detect_backbone_net(const cv_detect_backbone *bb)
{
	return bb != NULL ? bb->net : NULL;
}

void
cv_detect_backbone_free(cv_detect_backbone *bb)
{
	if (bb == NULL)
		return;
	cv_net_workspace_free(bb->workspace);
	cv_net_free(bb->net);
	cv_free(bb);
}

void
cv_detect_backbone_shape(const cv_detect_backbone *bb, cv_detector_shape *s)
{
	s->input_width = bb->input_width;
	s->input_height = bb->input_height;
	for (int k = 0; k < 2; k++)
	{
		s->map_tensor[k] = bb->tensor[k];
		s->map_height[k] = bb->dims[k][1];
		s->map_width[k] = bb->dims[k][2];
		s->map_channels[k] = bb->dims[k][3];
	}
}

cv_status
cv_detect_backbone_maps(cv_detect_backbone *bb, const cv_rgb_image *img, float *maps,
						cv_error *err)
{
	cv_net_workspace *ws = bb->workspace;
	cv_net_workspace *own = NULL;
	float	   *outs[2];
	cv_status	st;

	if (img == NULL || img->pixels == NULL || img->width != bb->input_width ||
		img->height != bb->input_height)
		return cv_fail(err, CV_ERR_PARAM, "the detection backbone expects %dx%d pixels",
					   bb->input_width, bb->input_height);
	if (bb->busy)
	{
		st = cv_net_workspace_create(bb->net, &own, err);
		if (st != CV_OK)
			return st;
		ws = own;
	}
	else
		bb->busy = true;
	outs[0] = maps;
	outs[1] = maps + (size_t) bb->dims[0][1] * bb->dims[0][2] * bb->dims[0][3];
	st = cv_net_run_outputs(bb->net, ws, img->pixels, outs, err);
	if (own != NULL)
		cv_net_workspace_free(own);
	else
		bb->busy = false;
	return st;
}

cv_status
cv_detect_backbone_view_maps(cv_detect_backbone *bb, const cv_rgb_image *src,
							 int view_index, float *maps, cv_error *err)
{
	cv_rgb_image view = {0};
	cv_status	st;

	st = cv_detect_render_view(src, view_index, bb->input_width, bb->input_height, &view, err);
	if (st != CV_OK)
		return st;
	st = cv_detect_backbone_maps(bb, &view, maps, err);
	cv_free(view.pixels);
	return st;
}

/* Mirror an image left to right. */
static void
flip_in_place(cv_rgb_image *img)
{
	for (int y = 0; y < img->height; y++)
	{
		uint8_t    *row = img->pixels + (size_t) y * img->width * 3;

		for (int a = 0, b = img->width - 1; a < b; a++, b--)
			for (int c = 0; c < 3; c++)
			{
				uint8_t		t = row[3 * a + c];

				row[3 * a + c] = row[3 * b + c];
				row[3 * b + c] = t;
			}
	}
}

struct cv_detect_work
{
	uint8_t    *pixels;			/* the rendered view, flipped in place for the mirror */
	size_t		pixels_len;
	void	   *render;			/* the rendering's sums */
	size_t		render_len;
	float	   *maps;			/* the view's maps, then the mirror's */
	size_t		maps_floats;
	float	   *head;			/* cv_detector_detect_in's work */
	size_t		head_floats;
};

/* What a call needs, in the units of struct cv_detect_work. */
static void
work_needs(const cv_detect_backbone *bb, const cv_detector *det, int src_height,
		   cv_detect_work *need)
{
	cv_detector_shape s;

	memset(&s, 0, sizeof(s));
	cv_detect_backbone_shape(bb, &s);
	need->pixels_len = (size_t) bb->input_width * bb->input_height * 3;
	need->render_len = cv_augment_render_work(src_height, bb->input_width);
	need->maps_floats = cv_detector_map_floats(&s) * 2;
	need->head_floats = cv_detector_detect_work(det, true);
}

static bool
work_fits(const cv_detect_work *w, const cv_detect_work *need)
{
	return w->pixels_len >= need->pixels_len && w->render_len >= need->render_len &&
		w->maps_floats >= need->maps_floats && w->head_floats >= need->head_floats;
}

/* Frees one buffer of a work and takes a new one of at least want bytes. */
static bool
work_grow(void **buf, size_t *have, size_t want, size_t unit)
{
	if (*have >= want)
		return true;
	cv_free(*buf);
	*buf = cv_malloc(want * unit);
	*have = *buf != NULL ? want : 0;
	return *buf != NULL;
}

cv_detect_work *
cv_detect_work_create(void)
{
	return cv_calloc(1, sizeof(cv_detect_work));
}

cv_status
cv_detect_work_reserve(cv_detect_work *w, const cv_detect_backbone *bb, const cv_detector *det,
					   int src_height, cv_error *err)
{
	cv_detect_work need;

	if (w == NULL || bb == NULL || det == NULL || src_height <= 0)
		return cv_fail(err, CV_ERR_PARAM, "nothing to reserve detection work for");
	work_needs(bb, det, src_height, &need);
	if (!work_grow((void **) &w->pixels, &w->pixels_len, need.pixels_len, 1) ||
		!work_grow(&w->render, &w->render_len, need.render_len, 1) ||
		!work_grow((void **) &w->maps, &w->maps_floats, need.maps_floats, sizeof(float)) ||
		!work_grow((void **) &w->head, &w->head_floats, need.head_floats, sizeof(float)))
		return cv_fail(err, CV_ERR_NOMEM, "out of memory for detection");
	return CV_OK;
}

/* The buffers of a work, not the work itself (a work on the stack). */
static void
work_release(cv_detect_work *w)
{
	cv_free(w->pixels);
	cv_free(w->render);
	cv_free(w->maps);
	cv_free(w->head);
	memset(w, 0, sizeof(*w));
}

void
cv_detect_work_free(cv_detect_work *w)
{
	if (w == NULL)
		return;
	work_release(w);
	cv_free(w);
}

cv_status
cv_detect_image(cv_detect_backbone *bb, const cv_detector *det, const cv_rgb_image *src,
				float min_probability, double nms_overlap, int max_detections,
				cv_detection **dets, int *n_dets, cv_error *err)
{
	return cv_detect_image_in(bb, det, NULL, src, min_probability, nms_overlap,
							  max_detections, dets, n_dets, err);
}

cv_status
cv_detect_image_in(cv_detect_backbone *bb, const cv_detector *det, cv_detect_work *work,
				   const cv_rgb_image *src, float min_probability, double nms_overlap,
				   int max_detections, cv_detection **dets, int *n_dets, cv_error *err)
{
	cv_detector_shape s;
	cv_detect_work local = {0},
				need;
	cv_rgb_image view = {0};
	size_t		mf;
	cv_status	st;

	*dets = NULL;
	*n_dets = 0;
	memset(&s, 0, sizeof(s));
	cv_detect_backbone_shape(bb, &s);
	for (int k = 0; k < 2; k++)
		if (s.map_tensor[k] != det->map_tensor[k] || s.map_height[k] != det->map_height[k] ||
			s.map_width[k] != det->map_width[k] || s.map_channels[k] != det->map_channels[k])
			return cv_fail(err, CV_ERR_PARAM,
						   "the detector was trained on other feature maps of this backbone");
	if (s.input_width != det->input_width || s.input_height != det->input_height)
		return cv_fail(err, CV_ERR_PARAM, "the detector expects %dx%d input, the backbone runs at %dx%d",
					   det->input_width, det->input_height, s.input_width, s.input_height);
	if (src == NULL || src->pixels == NULL || src->width <= 0 || src->height <= 0)
		return cv_fail(err, CV_ERR_PARAM, "cannot render a view of an empty image");
	work_needs(bb, det, src->height, &need);
	if (work == NULL || !work_fits(work, &need))
	{
		st = cv_detect_work_reserve(&local, bb, det, src->height, err);
		if (st != CV_OK)
		{
			work_release(&local);
			return st;
		}
		work = &local;
	}

	/*
	 * The photo and its mirror (test-time mirroring, cv_detector_detect).
	 * The renderer mirrors by writing each output row right to left, so
	 * the mirror view is exactly the rendered photo flipped: flipping it in
	 * place saves a second rendering (and is what the exported graph does,
	 * docs/export.md).
	 */
	mf = cv_detector_map_floats(&s);
	st = cv_detect_render_view_in(src, 0, bb->input_width, bb->input_height, work->pixels,
								  work->render, work->render_len, &view, err);
	if (st == CV_OK)
		st = cv_detect_backbone_maps(bb, &view, work->maps, err);
	if (st == CV_OK)
	{
		flip_in_place(&view);
		st = cv_detect_backbone_maps(bb, &view, work->maps + mf, err);
	}
	if (st == CV_OK)
		st = cv_detector_detect_in(det, work->maps, work->maps + mf, work->head,
								   min_probability, nms_overlap, max_detections, dets,
								   n_dets, err);
	work_release(&local);
	return st;
}
