/*
 * detector.c
 *	  The detection head: its shape and parameters, cell rows from two
 *	  feature maps, the adapter's forward pass on a photo and its mirror,
 *	  and ensembles (detector.h).  The training views are in
 *	  detect_views.c, the outputs' decoding to boxes in detect_decode.c.
 */
#include "detector.h"
#include "../nn/nn.h"

#include <cblas.h>
#include <math.h>
#include <string.h>

/* ---- shape ---- */

int
cv_detector_out_dim(int n_tags)
{
	return n_tags + CV_DETECT_EXTRA_OUTPUTS;
}

int
cv_detector_in_dim(const cv_detector_shape *s)
{
	int			n = s->map_channels[0] + s->map_channels[1];

	if (s->context & CV_DETECT_CONTEXT_NEIGHBOURS)
		n += s->map_channels[1];
	if (s->context & CV_DETECT_CONTEXT_GLOBAL)
		n += s->map_channels[1];
	if (s->context & CV_DETECT_CONTEXT_POSITION)
		n += 2;
	return n;
}

int
cv_detector_cells(const cv_detector_shape *s)
{
	return s->map_height[0] * s->map_width[0];
}

size_t
cv_detector_map_floats(const cv_detector_shape *s)
{
	size_t		n = 0;

	for (int k = 0; k < CV_DETECT_MAPS; k++)
		n += (size_t) s->map_height[k] * s->map_width[k] * s->map_channels[k];
	return n;
}

cv_status
cv_detector_shape_check(const cv_detector_shape *s, cv_error *err)
{
	if (s->n_tags < 1 || s->n_tags > CV_DETECT_MAX_TAGS)
		return cv_fail(err, CV_ERR_PARAM, "a detector has 1 to %d tags, not %d",
					   CV_DETECT_MAX_TAGS, s->n_tags);
	if (s->input_width < 16 || s->input_height < 16 ||
		s->input_width > 4096 || s->input_height > 4096)
		return cv_fail(err, CV_ERR_PARAM, "detector input %dx%d is out of range",
					   s->input_width, s->input_height);
	if (s->hidden < 1 || s->hidden > CV_DETECT_MAX_HIDDEN)
		return cv_fail(err, CV_ERR_PARAM, "detector hidden width %d is out of range", s->hidden);
	for (int k = 0; k < CV_DETECT_MAPS; k++)
	{
		if (s->map_height[k] < 1 || s->map_width[k] < 1 ||
			s->map_height[k] > CV_DETECT_MAX_GRID || s->map_width[k] > CV_DETECT_MAX_GRID ||
			s->map_channels[k] < 1 || s->map_channels[k] > CV_DETECT_MAX_CHANNELS ||
			s->map_tensor[k] < 0)
			return cv_fail(err, CV_ERR_PARAM, "detector feature map %d (%dx%dx%d) is out of range",
						   k, s->map_height[k], s->map_width[k], s->map_channels[k]);
	}
	if (s->map_height[1] > s->map_height[0] || s->map_width[1] > s->map_width[0])
		return cv_fail(err, CV_ERR_PARAM, "the second feature map must be the coarser one");
	if ((s->context & ~CV_DETECT_CONTEXT_ALL) != 0)
		return cv_fail(err, CV_ERR_PARAM, "unknown detector context bits 0x%x", s->context);
	return CV_OK;
}

void
cv_detector_get_shape(const cv_detector *d, cv_detector_shape *s)
{
	memset(s, 0, sizeof(*s));
	s->n_tags = d->n_tags;
	s->input_width = d->input_width;
	s->input_height = d->input_height;
	s->hidden = d->hidden;
	s->context = d->context;
	for (int k = 0; k < CV_DETECT_MAPS; k++)
	{
		s->map_tensor[k] = d->map_tensor[k];
		s->map_height[k] = d->map_height[k];
		s->map_width[k] = d->map_width[k];
		s->map_channels[k] = d->map_channels[k];
	}
}

cv_status
cv_detector_alloc(const cv_detector_shape *s, cv_detector **out, cv_error *err)
{
	cv_detector *d;
	int			in_dim,
				out_dim;
	cv_status	st = cv_detector_shape_check(s, err);

	*out = NULL;
	if (st != CV_OK)
		return st;
	in_dim = cv_detector_in_dim(s);
	out_dim = cv_detector_out_dim(s->n_tags);
	d = cv_calloc(1, sizeof(*d));
	if (d == NULL)
		return cv_fail(err, CV_ERR_NOMEM, "out of memory for a detector");
	d->n_tags = s->n_tags;
	d->input_width = s->input_width;
	d->input_height = s->input_height;
	d->hidden = s->hidden;
	d->context = s->context;
	for (int k = 0; k < CV_DETECT_MAPS; k++)
	{
		d->map_tensor[k] = s->map_tensor[k];
		d->map_height[k] = s->map_height[k];
		d->map_width[k] = s->map_width[k];
		d->map_channels[k] = s->map_channels[k];
	}
	d->in_dim = in_dim;
	d->mean = cv_calloc((size_t) in_dim, sizeof(float));
	d->scale = cv_calloc((size_t) in_dim, sizeof(float));
	d->w1 = cv_calloc((size_t) in_dim * s->hidden, sizeof(float));
	d->b1 = cv_calloc((size_t) s->hidden, sizeof(float));
	d->w2 = cv_calloc((size_t) s->hidden * out_dim, sizeof(float));
	d->b2 = cv_calloc((size_t) out_dim, sizeof(float));
	d->calib_a = 1.0f;
	d->calib_b = 0.0f;
	if (d->mean == NULL || d->scale == NULL || d->w1 == NULL || d->b1 == NULL ||
		d->w2 == NULL || d->b2 == NULL)
	{
		cv_detector_free(d);
		return cv_fail(err, CV_ERR_NOMEM, "out of memory for a detector");
	}
	*out = d;
	return CV_OK;
}

void
cv_detector_free(cv_detector *d)
{
	if (d == NULL)
		return;
	cv_free(d->mean);
	cv_free(d->scale);
	cv_free(d->w1);
	cv_free(d->b1);
	cv_free(d->w2);
	cv_free(d->b2);
	cv_free(d);
}

cv_detector *
cv_detector_copy(const cv_detector *src)
{
	cv_detector_shape s;
	cv_detector *d;
	int			out_dim = cv_detector_out_dim(src->n_tags);

	cv_detector_get_shape(src, &s);
	if (cv_detector_alloc(&s, &d, NULL) != CV_OK)
		return NULL;
	memcpy(d->mean, src->mean, sizeof(float) * src->in_dim);
	memcpy(d->scale, src->scale, sizeof(float) * src->in_dim);
	memcpy(d->w1, src->w1, sizeof(float) * (size_t) src->in_dim * src->hidden);
	memcpy(d->b1, src->b1, sizeof(float) * src->hidden);
	memcpy(d->w2, src->w2, sizeof(float) * (size_t) src->hidden * out_dim);
	memcpy(d->b2, src->b2, sizeof(float) * out_dim);
	d->calib_a = src->calib_a;
	d->calib_b = src->calib_b;
	return d;
}

/* ---- forward ---- */

void
cv_detector_rows(const cv_detector_shape *s, const float *maps, float *rows)
{
	int			h0 = s->map_height[0],
				w0 = s->map_width[0],
				c0 = s->map_channels[0];
	int			h1 = s->map_height[1],
				w1 = s->map_width[1],
				c1 = s->map_channels[1];
	const float *m0 = maps;
	const float *m1 = maps + (size_t) h0 * w0 * c0;
	int			in_dim = cv_detector_in_dim(s);
	float		global[CV_DETECT_MAX_CHANNELS];
	float		neighbours[CV_DETECT_MAX_CHANNELS];

	if (s->context & CV_DETECT_CONTEXT_GLOBAL)
	{
		memset(global, 0, sizeof(float) * c1);
		for (int p = 0; p < h1 * w1; p++)
			for (int j = 0; j < c1; j++)
				global[j] += m1[(size_t) p * c1 + j];
		for (int j = 0; j < c1; j++)
			global[j] /= (float) (h1 * w1);
	}
	for (int y = 0; y < h0; y++)
	{
		/* the coarse cell whose area holds this cell's centre */
		int			py = (int) (((y + 0.5) * h1) / h0);

		if (py >= h1)
			py = h1 - 1;
		for (int x = 0; x < w0; x++)
		{
			int			px = (int) (((x + 0.5) * w1) / w0);
			float	   *row = rows + ((size_t) y * w0 + x) * in_dim;
			int			at;

			if (px >= w1)
				px = w1 - 1;
			memcpy(row, m0 + ((size_t) y * w0 + x) * c0, sizeof(float) * c0);
			memcpy(row + c0, m1 + ((size_t) py * w1 + px) * c1, sizeof(float) * c1);
			at = c0 + c1;
			if (s->context & CV_DETECT_CONTEXT_NEIGHBOURS)
			{
				int			n = 0;

				memset(neighbours, 0, sizeof(float) * c1);
				for (int yy = py - 1; yy <= py + 1; yy++)
					for (int xx = px - 1; xx <= px + 1; xx++)
					{
						const float *cell;

						if (yy < 0 || yy >= h1 || xx < 0 || xx >= w1)
							continue;
						cell = m1 + ((size_t) yy * w1 + xx) * c1;
						for (int j = 0; j < c1; j++)
							neighbours[j] += cell[j];
						n++;
					}
				for (int j = 0; j < c1; j++)
					row[at + j] = neighbours[j] / (float) n;
				at += c1;
			}
			if (s->context & CV_DETECT_CONTEXT_GLOBAL)
			{
				memcpy(row + at, global, sizeof(float) * c1);
				at += c1;
			}
			if (s->context & CV_DETECT_CONTEXT_POSITION)
			{
				row[at++] = (x + 0.5f) / w0;
				row[at++] = (y + 0.5f) / h0;
			}
		}
	}
}

void
cv_detector_forward(const cv_detector *d, float *rows, int n, bool standardise,
					float *hidden, float *out)
{
	int			in_dim = d->in_dim;
	int			out_dim = cv_detector_out_dim(d->n_tags);

	if (n <= 0)
		return;
	if (standardise)
		for (int i = 0; i < n; i++)
		{
			float	   *r = rows + (size_t) i * in_dim;

			for (int j = 0; j < in_dim; j++)
				r[j] = (r[j] - d->mean[j]) * d->scale[j];
		}
	for (int i = 0; i < n; i++)
		memcpy(hidden + (size_t) i * d->hidden, d->b1, sizeof(float) * d->hidden);
	cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, d->hidden, in_dim,
				1.0f, rows, in_dim, d->w1, d->hidden, 1.0f, hidden, d->hidden);
	for (size_t i = 0; i < (size_t) n * d->hidden; i++)
		if (hidden[i] < 0.0f)
			hidden[i] = 0.0f;
	for (int i = 0; i < n; i++)
		memcpy(out + (size_t) i * out_dim, d->b2, sizeof(float) * out_dim);
	cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, out_dim, d->hidden,
				1.0f, hidden, d->hidden, d->w2, out_dim, 1.0f, out, out_dim);
}

/*
 * The element loops of the head, four floats at a time with GCC vector
 * extensions (16 bytes: the SSE registers of the generic x86-64 build, and
 * NEON's): GCC 12 at -O2 vectorises no loop whose trip count is known only
 * at run time, and these loops (standardising 2 x 400 x 576 map values, the
 * ReLU of 2 x 400 x 256 hidden units, whose branch the signs made
 * unpredictable) took longer than the head's products (docs/detection.md,
 * "cv_detect's time").  Each lane does exactly the scalar operations in
 * the scalar order, so the results are the same floats as the plain loops'.
 */
typedef float det_v4 __attribute__((vector_size(16), aligned(4), may_alias));
typedef int32_t det_v4i __attribute__((vector_size(16), aligned(4), may_alias));

#define DET_V4(p) (*(det_v4 *) (p))

static inline det_v4
det_v4_set1(float x)
{
	return (det_v4) {x, x, x, x};
}

/* out[j] = (x[j] - mean[j]) * scale[j] */
static void
standardise(int n, const float *x, const float *mean, const float *scale, float *out)
{
	int			j = 0;

	for (; j + 4 <= n; j += 4)
		DET_V4(out + j) = (DET_V4(x + j) - DET_V4(mean + j)) * DET_V4(scale + j);
	for (; j < n; j++)
		out[j] = (x[j] - mean[j]) * scale[j];
}

/* acc[j] += x[j] */
static void
add_into(int n, float *acc, const float *x)
{
	int			j = 0;

	for (; j + 4 <= n; j += 4)
		DET_V4(acc + j) = DET_V4(acc + j) + DET_V4(x + j);
	for (; j < n; j++)
		acc[j] += x[j];
}

/* out[j] = (sum[j] / n - mean[j]) * scale[j]: a standardised mean */
static void
standardise_mean(int count, const float *sum, float n, const float *mean, const float *scale,
				 float *out)
{
	int			j = 0;
	det_v4		vn = det_v4_set1(n);

	for (; j + 4 <= count; j += 4)
		DET_V4(out + j) = (DET_V4(sum + j) / vn - DET_V4(mean + j)) * DET_V4(scale + j);
	for (; j < count; j++)
		out[j] = (sum[j] / n - mean[j]) * scale[j];
}

/*
 * A cell's hidden units from its own share h, its parent's p and the
 * image's b, and (wx and wy not NULL) its position: h + (p + b), then +
 * (zx wx + zy wy), then the ReLU (a negative sum becomes 0, as `if (h < 0)
 * h = 0` does).
 */
static void
hidden_combine(int n, float *h, const float *p, const float *b, float zx, const float *wx,
			   float zy, const float *wy)
{
	int			k = 0;
	det_v4		zero = det_v4_set1(0.0f),
				vx = det_v4_set1(zx),
				vy = det_v4_set1(zy);

	if (wx != NULL)
		for (; k + 4 <= n; k += 4)
		{
			det_v4		t = DET_V4(h + k) + (DET_V4(p + k) + DET_V4(b + k));

			t = t + (vx * DET_V4(wx + k) + vy * DET_V4(wy + k));
			DET_V4(h + k) = (det_v4) ((det_v4i) t & ~(t < zero));
		}
	else
		for (; k + 4 <= n; k += 4)
		{
			det_v4		t = DET_V4(h + k) + (DET_V4(p + k) + DET_V4(b + k));

			DET_V4(h + k) = (det_v4) ((det_v4i) t & ~(t < zero));
		}
	for (; k < n; k++)
	{
		float		t = h[k] + (p[k] + b[k]);

		if (wx != NULL)
			t = t + (zx * wx[k] + zy * wy[k]);
		h[k] = t < 0.0f ? 0.0f : t;
	}
}

/*
 * The outputs of every cell without building the cell rows: all but the
 * first c0 values of a row are the same for the cells that share a coarse
 * parent (the parent, its neighbours) or for the whole image (the global
 * mean), so their share of the first layer is computed once per coarse
 * cell and once per image: a quarter of the multiply-adds of
 * cv_detector_forward on the rows, with the same result up to rounding.
 */
/*
 * The head on nv views' maps at once (maps[v], out[v]): the photo and its
 * mirror go through the two large products as one batch, so their filters
 * are packed once and every buffer is allocated once.  Each view's outputs
 * are exactly those it would get alone.
 */
static cv_status
detector_outputs_views(const cv_detector *d, int nv, const float *const *maps,
					   float *const *out, float *work, cv_error *err)
{
	int			h0 = d->map_height[0],
				w0 = d->map_width[0],
				c0 = d->map_channels[0];
	int			h1 = d->map_height[1],
				w1 = d->map_width[1],
				c1 = d->map_channels[1];
	int			cells = h0 * w0,
				coarse = h1 * w1,
				hid = d->hidden,
				od = cv_detector_out_dim(d->n_tags);
	bool		nb = (d->context & CV_DETECT_CONTEXT_NEIGHBOURS) != 0;
	int			cw = nb ? 2 * c1 : c1;	/* per-coarse-cell values: parent, neighbours */
	size_t		ns = cv_nn_matmul_scratch(c0 > cw ? c0 : cw, hid),
				ns2 = cv_nn_matmul_scratch(hid, od);
	size_t		z0_n = (size_t) nv * cells * c0,
				zc_n = (size_t) nv * coarse * cw,
				pc_n = (size_t) nv * coarse * hid,
				hidden_n = (size_t) nv * cells * hid,
				base_n = (size_t) nv * hid,
				scratch_n = (ns > ns2 ? ns : ns2) + 1,
				outs_n = nv > 1 ? (size_t) nv * cells * od : 0;
	float	   *block = work != NULL ? work :
		cv_malloc(sizeof(float) * (z0_n + zc_n + pc_n + hidden_n + base_n + scratch_n + outs_n));
	float	   *z0,
			   *zc,
			   *pc,
			   *hidden,
			   *base,
			   *scratch,
			   *outs;

	if (block == NULL)
		return cv_fail(err, CV_ERR_NOMEM, "out of memory for detection");
	z0 = block;
	zc = z0 + z0_n;
	pc = zc + zc_n;
	hidden = pc + pc_n;
	base = hidden + hidden_n;
	scratch = base + base_n;
	outs = nv > 1 ? scratch + scratch_n : out[0];

	for (int v = 0; v < nv; v++)
	{
		const float *m0 = maps[v];
		const float *m1 = maps[v] + (size_t) cells * c0;
		float	   *z0v = z0 + (size_t) v * cells * c0;
		float	   *zcv = zc + (size_t) v * coarse * cw;
		float	   *basev = base + (size_t) v * hid;
		int			at = c0 + cw;	/* where the global mean, then the position, start */

		for (int c = 0; c < cells; c++)
			standardise(c0, m0 + (size_t) c * c0, d->mean, d->scale, z0v + (size_t) c * c0);
		for (int py = 0; py < h1; py++)
			for (int px = 0; px < w1; px++)
			{
				float	   *z = zcv + ((size_t) py * w1 + px) * cw;
				const float *cell = m1 + ((size_t) py * w1 + px) * c1;

				standardise(c1, cell, d->mean + c0, d->scale + c0, z);
				if (nb)
				{
					int			n = 0;

					memset(z + c1, 0, sizeof(float) * c1);
					for (int yy = py - 1; yy <= py + 1; yy++)
						for (int xx = px - 1; xx <= px + 1; xx++)
						{
							if (yy < 0 || yy >= h1 || xx < 0 || xx >= w1)
								continue;
							add_into(c1, z + c1, m1 + ((size_t) yy * w1 + xx) * c1);
							n++;
						}
					standardise_mean(c1, z + c1, (float) n, d->mean + c0 + c1,
									 d->scale + c0 + c1, z + c1);
				}
			}
		/* the image's share: the bias and the global mean */
		memcpy(basev, d->b1, sizeof(float) * hid);
		if (d->context & CV_DETECT_CONTEXT_GLOBAL)
		{
			float		g[CV_DETECT_MAX_CHANNELS];

			memset(g, 0, sizeof(float) * c1);
			for (int p = 0; p < coarse; p++)
				add_into(c1, g, m1 + (size_t) p * c1);
			standardise_mean(c1, g, (float) coarse, d->mean + at, d->scale + at, g);
			cblas_sgemv(CblasRowMajor, CblasTrans, c1, hid, 1.0f, d->w1 + (size_t) at * hid, hid,
						g, 1, 1.0f, basev, 1);
		}
	}

	/* the two products that are most of the head: nn.h's GEMM, not sgemm */
	cv_nn_matmul(nv * coarse, cw, hid, zc, cw, d->w1 + (size_t) c0 * hid, NULL, pc, hid, scratch);
	cv_nn_matmul(nv * cells, c0, hid, z0, c0, d->w1, NULL, hidden, hid, scratch);

	for (int v = 0; v < nv; v++)
	{
		int			at = c0 + cw + ((d->context & CV_DETECT_CONTEXT_GLOBAL) ? c1 : 0);
		const float *pcv = pc + (size_t) v * coarse * hid;
		const float *basev = base + (size_t) v * hid;

		for (int y = 0; y < h0; y++)
		{
			int			py = (int) (((y + 0.5) * h1) / h0);

			if (py >= h1)
				py = h1 - 1;
			for (int x = 0; x < w0; x++)
			{
				int			px = (int) (((x + 0.5) * w1) / w0);
				float	   *h = hidden + (((size_t) v * cells) + (size_t) y * w0 + x) * hid;
				const float *p;

				if (px >= w1)
					px = w1 - 1;
				p = pcv + ((size_t) py * w1 + px) * hid;
				if (d->context & CV_DETECT_CONTEXT_POSITION)
				{
					float		zx = ((x + 0.5f) / w0 - d->mean[at]) * d->scale[at],
								zy = ((y + 0.5f) / h0 - d->mean[at + 1]) * d->scale[at + 1];

					hidden_combine(hid, h, p, basev, zx, d->w1 + (size_t) at * hid,
								   zy, d->w1 + (size_t) (at + 1) * hid);
				}
				else
					hidden_combine(hid, h, p, basev, 0.0f, NULL, 0.0f, NULL);
			}
		}
	}
	cv_nn_matmul(nv * cells, hid, od, hidden, hid, d->w2, d->b2, outs, od, scratch);
	if (nv > 1)
		for (int v = 0; v < nv; v++)
			memcpy(out[v], outs + (size_t) v * cells * od, sizeof(float) * (size_t) cells * od);
	if (work == NULL)
		cv_free(block);
	return CV_OK;
}

/* The floats detector_outputs_views needs for nv views, as it lays them out. */
static size_t
detector_outputs_work(const cv_detector *d, int nv)
{
	int			cells = d->map_height[0] * d->map_width[0],
				coarse = d->map_height[1] * d->map_width[1],
				c0 = d->map_channels[0],
				hid = d->hidden,
				od = cv_detector_out_dim(d->n_tags);
	int			cw = (d->context & CV_DETECT_CONTEXT_NEIGHBOURS) != 0 ?
		2 * d->map_channels[1] : d->map_channels[1];
	size_t		ns = cv_nn_matmul_scratch(c0 > cw ? c0 : cw, hid),
				ns2 = cv_nn_matmul_scratch(hid, od);

	return (size_t) nv * cells * c0 + (size_t) nv * coarse * cw +
		(size_t) nv * coarse * hid + (size_t) nv * cells * hid + (size_t) nv * hid +
		(ns > ns2 ? ns : ns2) + 1 + (nv > 1 ? (size_t) nv * cells * od : 0);
}

cv_status
cv_detector_outputs(const cv_detector *d, const float *maps, float *out, cv_error *err)
{
	return detector_outputs_views(d, 1, &maps, &out, NULL, err);
}

void
cv_detector_mirror_outputs(const cv_detector *d, float *out)
{
	int			w = d->map_width[0],
				h = d->map_height[0],
				od = cv_detector_out_dim(d->n_tags);

	for (int y = 0; y < h; y++)
		for (int x = 0; x < w / 2; x++)
		{
			float	   *a = out + ((size_t) y * w + x) * od,
					   *b = out + ((size_t) y * w + (w - 1 - x)) * od;

			for (int j = 0; j < od; j++)
			{
				float		t = a[j];

				a[j] = b[j];
				b[j] = t;
			}
		}
	/* left and right distances trade places */
	for (int c = 0; c < w * h; c++)
	{
		float	   *o = out + (size_t) c * od + d->n_tags;
		float		t = o[0];

		o[0] = o[2];
		o[2] = t;
	}
}

/*
 * Test-time mirroring: the mean of the outputs at a cell and at its mirror
 * image (already turned back), as the boxes' codes are logs of distances
 * and the class and quality outputs logits, averages them in the space the
 * head predicts in; it halves the noise of the box codes that a head
 * trained on a few dozen photos has.  The quality (the IoU the cell's box
 * is expected to reach) is then multiplied by the IoU of the two views'
 * own boxes at the cell: where they disagree, their mean is a compromise
 * neither view vouches for.  That is what ranked a misplaced duplicate
 * from an object's edge cell above true boxes (docs/detection.md, the
 * synthetic set).  Both boxes share the cell's centre, so their IoU
 * follows from the four distances alone.
 */
void
cv_detector_combine_mirror(const cv_detector *d, float *out, const float *mirrored)
{
	int			od = cv_detector_out_dim(d->n_tags);
	int			cells = d->map_width[0] * d->map_height[0];

	for (int c = 0; c < cells; c++)
	{
		float	   *a = out + (size_t) c * od;
		const float *b = mirrored + (size_t) c * od;
		double		da[4],
					db[4],
					inter,
					uni,
					agree,
					q;

		for (int j = 0; j < 4; j++)
		{
			da[j] = exp(fmin(fmax(a[d->n_tags + j], -CV_BOX_CODE_LIMIT), CV_BOX_CODE_LIMIT));
			db[j] = exp(fmin(fmax(b[d->n_tags + j], -CV_BOX_CODE_LIMIT), CV_BOX_CODE_LIMIT));
		}
		inter = (fmin(da[0], db[0]) + fmin(da[2], db[2])) * (fmin(da[1], db[1]) + fmin(da[3], db[3]));
		uni = (da[0] + da[2]) * (da[1] + da[3]) + (db[0] + db[2]) * (db[1] + db[3]) - inter;
		agree = uni > 0 ? inter / uni : 0.0;
		for (int j = 0; j < od; j++)
			a[j] = 0.5f * (a[j] + b[j]);
		/* the quality logit becomes logit(sigmoid(mean) * agreement) */
		q = 1.0 / (1.0 + exp(-(double) a[d->n_tags + 4])) * fmax(agree, 1e-7);
		q = fmin(q, 1.0 - 1e-7);
		a[d->n_tags + 4] = (float) log(q / (1.0 - q));
	}
}

size_t
cv_detector_detect_work(const cv_detector *d, bool mirror)
{
	size_t		n = (size_t) d->map_height[0] * d->map_width[0] * cv_detector_out_dim(d->n_tags);

	return detector_outputs_work(d, mirror ? 2 : 1) + (mirror ? 2 : 1) * n;
}

cv_status
cv_detector_detect(const cv_detector *d, const float *maps, const float *mirror_maps,
				   float min_probability, double nms_overlap, int max_detections,
				   cv_detection **dets, int *n_dets, cv_error *err)
{
	float	   *work = cv_malloc(sizeof(float) * cv_detector_detect_work(d, mirror_maps != NULL));
	cv_status	st;

	*dets = NULL;
	*n_dets = 0;
	if (work == NULL)
		return cv_fail(err, CV_ERR_NOMEM, "out of memory for detection");
	st = cv_detector_detect_in(d, maps, mirror_maps, work, min_probability, nms_overlap,
							   max_detections, dets, n_dets, err);
	cv_free(work);
	return st;
}

cv_status
cv_detector_detect_in(const cv_detector *d, const float *maps, const float *mirror_maps,
					  float *work, float min_probability, double nms_overlap,
					  int max_detections, cv_detection **dets, int *n_dets, cv_error *err)
{
	size_t		n = (size_t) d->map_height[0] * d->map_width[0] * cv_detector_out_dim(d->n_tags);
	float	   *out = work,
			   *mirrored = mirror_maps != NULL ? work + n : NULL,
			   *head = work + (mirror_maps != NULL ? 2 : 1) * n;
	cv_status	st;

	*dets = NULL;
	*n_dets = 0;
	if (mirror_maps != NULL)
		st = detector_outputs_views(d, 2, (const float *const[]) {maps, mirror_maps},
									(float *const[]) {out, mirrored}, head, err);
	else
		st = detector_outputs_views(d, 1, &maps, &out, head, err);
	if (st == CV_OK && mirror_maps != NULL)
	{
		cv_detector_mirror_outputs(d, mirrored);
		cv_detector_combine_mirror(d, out, mirrored);
	}
	if (st == CV_OK)
		st = cv_detector_decode(d, out, min_probability, nms_overlap, max_detections,
								dets, n_dets, err);
	return st;
}

/* ---- ensembles ---- */

cv_status
cv_detector_merge(cv_detector *const *dets, int k, cv_detector **out, cv_error *err)
{
	const cv_detector *ref;
	cv_detector_shape s,
				base;
	cv_detector *m;
	int			in_dim,
				od,
				at = 0;
	cv_status	st;

	*out = NULL;
	if (k < 1)
		return cv_fail(err, CV_ERR_PARAM, "an ensemble needs at least one detector");
	ref = dets[0];
	cv_detector_get_shape(ref, &base);
	base.hidden = 0;
	s = base;
	for (int i = 0; i < k; i++)
	{
		cv_detector_shape si;

		cv_detector_get_shape(dets[i], &si);
		si.hidden = 0;
		if (memcmp(&si, &base, sizeof(base)) != 0)
			return cv_fail(err, CV_ERR_PARAM, "the detectors of an ensemble differ in shape");
		s.hidden += dets[i]->hidden;
	}
	st = cv_detector_alloc(&s, &m, err);
	if (st != CV_OK)
		return st;
	in_dim = m->in_dim;
	od = cv_detector_out_dim(s.n_tags);
	memcpy(m->mean, ref->mean, sizeof(float) * in_dim);
	memcpy(m->scale, ref->scale, sizeof(float) * in_dim);
	m->calib_a = ref->calib_a;
	m->calib_b = ref->calib_b;
	for (int i = 0; i < k; i++)
	{
		const cv_detector *d = dets[i];

		/*
		 * Member i standardised its inputs with its own mean and spread:
		 * z_i = z (s_i / s) + (m - m_i) s_i in terms of the reference's z
		 * (a constant reference input, s = 0, sat at the reference mean),
		 * so its first layer is rescaled and its bias takes the shift.
		 */
		for (int h = 0; h < d->hidden; h++)
		{
			double		b = d->b1[h];

			for (int j = 0; j < in_dim; j++)
			{
				double		w = d->w1[(size_t) j * d->hidden + h];
				double		ratio = ref->scale[j] > 0.0f ? d->scale[j] / ref->scale[j] : 0.0;

				m->w1[(size_t) j * s.hidden + at + h] = (float) (w * ratio);
				b += w * ((double) ref->mean[j] - d->mean[j]) * d->scale[j];
			}
			m->b1[at + h] = (float) b;
			for (int o = 0; o < od; o++)
				m->w2[(size_t) (at + h) * od + o] = d->w2[(size_t) h * od + o] / (float) k;
		}
		for (int o = 0; o < od; o++)
			m->b2[o] += d->b2[o] / (float) k;
		at += d->hidden;
	}
	*out = m;
	return CV_OK;
}
