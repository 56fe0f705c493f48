/*
 * detect_backbone.c
 *	  Feature maps of an imported network for the detector
 *	  (detect_backbone.h).
 */
#include "detect_backbone.h"
#include "../nn/nn.h"

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

cv_status
cv_detect_image(cv_detect_backbone *bb, const cv_detector *det, const cv_rgb_image *src,
				float min_probability, double nms_overlap, int max_detections,
				cv_detection **dets, int *n_dets, cv_error *err)
{
	cv_detector_shape s;
	cv_rgb_image view = {0};
	float	   *maps;
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
	/*
	 * The photo and its mirror (test-time mirroring, cv_detector_detect).
	 * The renderer mirrors by writing each output row right to left, so
	 * the mirror view is exactly the rendered photo flipped: flipping it in
	 * place saves a second rendering (and is what the exported graph does,
	 * docs/export.md).
	 */
	mf = cv_detector_map_floats(&s);
	maps = cv_malloc(sizeof(float) * mf * 2);
	if (maps == NULL)
		return cv_fail(err, CV_ERR_NOMEM, "out of memory for feature maps");
	st = cv_detect_render_view(src, 0, bb->input_width, bb->input_height, &view, err);
	if (st == CV_OK)
		st = cv_detect_backbone_maps(bb, &view, maps, err);
	if (st == CV_OK)
	{
		flip_in_place(&view);
		st = cv_detect_backbone_maps(bb, &view, maps + mf, err);
	}
	if (st == CV_OK)
		st = cv_detector_detect(det, maps, maps + mf, min_probability, nms_overlap,
								max_detections, dets, n_dets, err);
	cv_free(view.pixels);
	cv_free(maps);
	return st;
}
