/*
 * compact.c
 *	  The built-in `compact` domain: colour, gradient-orientation and
 *	  local-binary-pattern histograms over a spatial pyramid.
 *
 * This is what worked for few-shot image classification before deep
 * networks, and it needs no weights file: the features are a pure function
 * of the pixels, computed in a fixed order, so they can be cached per image
 * and two runs give the same bits.
 *
 * Blocks (each a set of histograms over a spatial pyramid, the whole image
 * plus a 2x2 grid, some a 4x4 grid too):
 *	 colour		soft HSV histogram: 12 hue x 2 saturation x 3 value bins
 *				for coloured pixels plus 3 value bins for grey ones (hue is
 *				noise when saturation is low, so it is not split there);
 *	 hog		9 unsigned orientation bins of the strongest colour
 *				channel's gradient, weighted by magnitude (Dalal-Triggs);
 *				hog_coarse does the same on the half-resolution image to see
 *				larger shapes;
 *	 lbp		uniform 8-neighbour local binary patterns (58 uniform codes
 *				plus one bin for the rest): fine texture;
 *	 thumb		an 8x8 grey thumbnail, mean removed and L2-normalised: a
 *				rough layout.
 *
 * Normalisation: every pyramid level of a block is divided by its total
 * mass (pixel count, or total gradient magnitude for hog, which makes it
 * contrast invariant) and then square-rooted (Hellinger / power
 * normalisation), so each level has unit L2 norm and bursty bins do not
 * dominate.  Soft (linear) assignment to neighbouring bins keeps small
 * colour or angle changes from jumping between bins, which matters with
 * only a few training photos.  docs/compact-domain.md has the measurements
 * behind the choices.
 */
#include "features.h"

#include <math.h>
#include <string.h>

#define HUE_BINS 12
#define SAT_BINS 2				/* chromatic saturation bins (plus grey) */
#define VAL_BINS 3
#define COLOUR_BINS (VAL_BINS + HUE_BINS * SAT_BINS * VAL_BINS)
#define ORI_BINS 9
#define LBP_BINS 59
#define THUMB 8
#define GRID 4					/* finest pyramid grid */
#define GRID_CELLS (GRID * GRID)
#define PYR12 5					/* cells in 1x1 + 2x2 */
#define PYR124 21				/* cells in 1x1 + 2x2 + 4x4 */

/* Bump when any output changes for the same pixels (cached features). */
#define COMPACT_VERSION 2

const cv_compact_config cv_compact_default = {
	.size = 96,
	.colour = true,
	.colour_fine = false,
	.hog = true,
	.hog_coarse = true,
	.lbp = true,
	.thumb = true,
	.power = true,
};

typedef struct block_pos
{
	int			offset;
	int			length;			/* 0 when switched off */
} block_pos;

typedef struct compact_state
{
	cv_compact_config config;
	uint8_t		lbp_map[256];	/* code -> uniform bin */
	block_pos	colour,
				colour_fine,
				hog,
				hog_coarse,
				lbp,
				thumb;
} compact_state;

/* Number of 0/1 transitions in the circular 8-bit pattern. */
static int
lbp_transitions(int code)
{
	int			t = 0;

	for (int b = 0; b < 8; b++)
		if (((code >> b) & 1) != ((code >> ((b + 1) & 7)) & 1))
			t++;
	return t;
}

static void
build_lbp_map(uint8_t *map)
{
	int			next = 0;

	for (int code = 0; code < 256; code++)
		map[code] = lbp_transitions(code) <= 2 ? (uint8_t) next++ : LBP_BINS - 1;
}

/*
 * Sum a GRID x GRID array of histograms (bins each) into the 2x2 and 1x1
 * levels and write the requested levels to out: 1x1 first, then 2x2 in row
 * order, then (with fine) the 4x4 cells.  Fixed summation order.
 */
static int
pyramid(const double *cells, int bins, bool fine, double *out)
{
	double	   *whole = out;
	double	   *quad = out + bins;
	int			written = (fine ? PYR124 : PYR12) * bins;

	memset(out, 0, sizeof(double) * written);
	for (int cy = 0; cy < GRID; cy++)
		for (int cx = 0; cx < GRID; cx++)
		{
			const double *h = cells + (size_t) (cy * GRID + cx) * bins;
			double	   *q = quad + (size_t) ((cy / 2) * 2 + cx / 2) * bins;

			for (int b = 0; b < bins; b++)
				q[b] += h[b];
		}
	for (int c = 0; c < 4; c++)
		for (int b = 0; b < bins; b++)
			whole[b] += quad[c * bins + b];
	if (fine)
		memcpy(out + PYR12 * bins, cells, sizeof(double) * GRID_CELLS * bins);
	return written;
}

/*
 * Normalise each pyramid level of a block by its total mass, optionally
 * square-root it, and store as float.  levels: 2 (1x1, 2x2) or 3.
 */
static void
normalise_levels(const double *in, int bins, int levels, bool power, float *out)
{
	static const int cells_at[3] = {1, 4, 16};
	int			at = 0;

	for (int l = 0; l < levels; l++)
	{
		int			len = cells_at[l] * bins;
		double		total = 0.0;

		for (int j = 0; j < len; j++)
			total += in[at + j];
		for (int j = 0; j < len; j++)
		{
			double		v = total > 0.0 ? in[at + j] / total : 0.0;

			out[at + j] = (float) (power ? sqrt(v) : v);
		}
		at += len;
	}
}

static inline int
cell_of(int x, int size)
{
	int			c = x * GRID / size;

	return c < GRID ? c : GRID - 1;
}

/* Soft-assign weight w at a circular position pos (in bins) to two bins. */
static inline void
soft_circular(double *hist, int bins, double pos, double w)
{
	double		fl = floor(pos);
	double		frac = pos - fl;
	int			lo = ((int) fl % bins + bins) % bins;
	int			hi = (lo + 1) % bins;

	hist[lo] += w * (1.0 - frac);
	hist[hi] += w * frac;
}

/* Linear position of x in [0,1] over n bins centred at 0, 1/(n-1), ..., 1. */
static inline void
soft_linear(double x, int n, int *lo, double *frac)
{
	double		pos = x * (n - 1);
	int			l = (int) floor(pos);

	if (l < 0)
		l = 0;
	if (l > n - 2)
		l = n - 2;
	*lo = l;
	*frac = pos - l;
	if (*frac < 0.0)
		*frac = 0.0;
	if (*frac > 1.0)
		*frac = 1.0;
}

/*
 * Colour histograms of r, g, b planes (values 0..1).  Called on the
 * half-resolution planes: a histogram does not need every pixel, and this
 * is the most expensive block per pixel.
 */
static void
colour_cells(const float *planes, int w, int h, double *cells)
{
	size_t		plane = (size_t) w * h;

	memset(cells, 0, sizeof(double) * GRID_CELLS * COLOUR_BINS);
	for (int y = 0; y < h; y++)
	{
		int			cy = cell_of(y, h);

		for (int x = 0; x < w; x++)
		{
			size_t		at = (size_t) y * w + x;
			double		r = planes[at],
						g = planes[plane + at],
						b = planes[2 * plane + at];
			double		mx = fmax(r, fmax(g, b));
			double		mn = fmin(r, fmin(g, b));
			double		c = mx - mn;
			double		s = mx > 0.0 ? c / mx : 0.0;
			double		hue = 0.0;
			double	   *hist = cells + (size_t) (cy * GRID + cell_of(x, w)) * COLOUR_BINS;
			int			slo,
						vlo;
			double		sf,
						vf;

			if (c > 0.0)
			{
				if (mx == r)
					hue = fmod((g - b) / c + 6.0, 6.0);
				else if (mx == g)
					hue = (b - r) / c + 2.0;
				else
					hue = (r - g) / c + 4.0;
			}
			soft_linear(s, SAT_BINS + 1, &slo, &sf);
			soft_linear(mx, VAL_BINS, &vlo, &vf);

			/* saturation bin 0 is grey: split by value only */
			for (int si = 0; si < 2; si++)
			{
				int			sb = slo + si;
				double		ws = si == 0 ? 1.0 - sf : sf;

				if (ws == 0.0)
					continue;
				for (int vi = 0; vi < 2; vi++)
				{
					int			vb = vlo + vi;
					double		wv = ws * (vi == 0 ? 1.0 - vf : vf);

					if (wv == 0.0)
						continue;
					if (sb == 0)
						hist[vb] += wv;
					else
						soft_circular(hist + VAL_BINS + ((sb - 1) * VAL_BINS + vb) * HUE_BINS,
									  HUE_BINS, hue * HUE_BINS / 6.0 - 0.5, wv);
				}
			}
		}
	}
}

/*
 * Unsigned gradient orientation in [0, pi].  A polynomial atan (error below
 * 1e-5 rad, far under a 20-degree bin) instead of libm's atan2: it is
 * several times faster, and plain arithmetic gives the same bits on every
 * machine and C library, which cached features need.  Mirroring (dx -> -dx)
 * gives exactly pi - theta.
 */
static inline double
unsigned_orientation(double dx, double dy)
{
	double		ax = fabs(dx),
				ay = fabs(dy);
	double		a = ay <= ax ? ay / ax : ax / ay;
	double		a2 = a * a;
	double		phi = a * (0.9998660 + a2 * (-0.3302995 + a2 * (0.1801410 +
											 a2 * (-0.0851330 + a2 * 0.0208351))));

	if (ay > ax)
		phi = M_PI / 2 - phi;
	return (dx >= 0.0) == (dy >= 0.0) ? phi : M_PI - phi;
}

/*
 * Orientation histograms of the gradient of the strongest channel, on a
 * GRID x GRID grid.  Central differences with clamped edges, so a mirrored
 * image gives mirrored orientations exactly.
 */
static void
hog_cells(const float *planes, int w, int h, double *cells)
{
	size_t		plane = (size_t) w * h;

	memset(cells, 0, sizeof(double) * GRID_CELLS * ORI_BINS);
	for (int y = 0; y < h; y++)
	{
		int			yu = y > 0 ? y - 1 : 0;
		int			yd = y < h - 1 ? y + 1 : h - 1;
		int			cy = cell_of(y, h);

		for (int x = 0; x < w; x++)
		{
			int			xl = x > 0 ? x - 1 : 0;
			int			xr = x < w - 1 ? x + 1 : w - 1;
			double		best = -1.0,
						bdx = 0.0,
						bdy = 0.0;

			for (int c = 0; c < 3; c++)
			{
				const float *p = planes + c * plane;
				double		dx = (double) p[(size_t) y * w + xr] - p[(size_t) y * w + xl];
				double		dy = (double) p[(size_t) yd * w + x] - p[(size_t) yu * w + x];
				double		m = dx * dx + dy * dy;

				if (m > best)
				{
					best = m;
					bdx = dx;
					bdy = dy;
				}
			}
			if (best > 0.0)
			{
				double		theta = unsigned_orientation(bdx, bdy);

				soft_circular(cells + (size_t) (cy * GRID + cell_of(x, w)) * ORI_BINS,
							  ORI_BINS, theta * ORI_BINS / M_PI - 0.5, sqrt(best));
			}
		}
	}
}

static void
lbp_cells(const float *grey, int w, int h, const uint8_t *map, double *cells)
{
	static const int dx[8] = {1, 1, 0, -1, -1, -1, 0, 1};
	static const int dy[8] = {0, -1, -1, -1, 0, 1, 1, 1};

	memset(cells, 0, sizeof(double) * GRID_CELLS * LBP_BINS);
	for (int y = 1; y < h - 1; y++)
	{
		int			cy = cell_of(y, h);

		for (int x = 1; x < w - 1; x++)
		{
			float		centre = grey[(size_t) y * w + x];
			int			code = 0;

			for (int b = 0; b < 8; b++)
				if (grey[(size_t) (y + dy[b]) * w + x + dx[b]] >= centre)
					code |= 1 << b;
			cells[(size_t) (cy * GRID + cell_of(x, w)) * LBP_BINS + map[code]] += 1.0;
		}
	}
}

static void
thumbnail(const float *grey, int w, int h, float *out)
{
	double		t[THUMB * THUMB] = {0};
	double		mean = 0.0,
				norm = 0.0;

	for (int y = 0; y < h; y++)
		for (int x = 0; x < w; x++)
		{
			int			ty = y * THUMB / h,
						tx = x * THUMB / w;

			t[ty * THUMB + tx] += grey[(size_t) y * w + x];
		}
	for (int i = 0; i < THUMB * THUMB; i++)
		mean += t[i];
	mean /= THUMB * THUMB;
	for (int i = 0; i < THUMB * THUMB; i++)
	{
		t[i] -= mean;
		norm += t[i] * t[i];
	}
	norm = sqrt(norm);
	for (int i = 0; i < THUMB * THUMB; i++)
		out[i] = (float) (norm > 0.0 ? t[i] / norm : 0.0);
}

/* 2x2 box average of planes (3 colour planes + grey). */
static void
halve(const float *src, int w, int h, int nplanes, float *dst)
{
	int			hw = w / 2,
				hh = h / 2;

	for (int p = 0; p < nplanes; p++)
	{
		const float *s = src + (size_t) p * w * h;
		float	   *d = dst + (size_t) p * hw * hh;

		for (int y = 0; y < hh; y++)
			for (int x = 0; x < hw; x++)
				d[(size_t) y * hw + x] = 0.25f * (s[(size_t) (2 * y) * w + 2 * x] +
												  s[(size_t) (2 * y) * w + 2 * x + 1] +
												  s[(size_t) (2 * y + 1) * w + 2 * x] +
												  s[(size_t) (2 * y + 1) * w + 2 * x + 1]);
	}
}

static cv_status
compact_extract(const cv_feature_extractor *self, const cv_rgb_image *img,
				float *out, cv_error *err)
{
	const compact_state *st = self->state;
	const cv_compact_config *cfg = &st->config;
	int			w = img->width,
				h = img->height;
	size_t		plane = (size_t) w * h;
	float	   *planes;			/* r, g, b, grey at full then half size */
	double	   *cells;
	double	   *levels;
	const size_t max_bins = COLOUR_BINS;

	planes = cv_malloc(sizeof(float) * (4 * plane + 4 * (plane / 4 + 1)));
	cells = cv_malloc(sizeof(double) * GRID_CELLS * max_bins);
	levels = cv_malloc(sizeof(double) * PYR124 * max_bins);
	if (planes == NULL || cells == NULL || levels == NULL)
	{
		cv_free(planes);
		cv_free(cells);
		cv_free(levels);
		return cv_fail(err, CV_ERR_NOMEM, "out of memory extracting compact features");
	}

	for (size_t i = 0; i < plane; i++)
	{
		float		r = img->pixels[3 * i] / 255.0f,
					g = img->pixels[3 * i + 1] / 255.0f,
					b = img->pixels[3 * i + 2] / 255.0f;

		planes[i] = r;
		planes[plane + i] = g;
		planes[2 * plane + i] = b;
		planes[3 * plane + i] = 0.299f * r + 0.587f * g + 0.114f * b;
	}

	halve(planes, w, h, 4, planes + 4 * plane);
	if (cfg->colour)
	{
		colour_cells(planes + 4 * plane, w / 2, h / 2, cells);
		pyramid(cells, COLOUR_BINS, cfg->colour_fine, levels);
		normalise_levels(levels, COLOUR_BINS, cfg->colour_fine ? 3 : 2,
						 cfg->power, out + st->colour.offset);
	}
	if (cfg->hog)
	{
		hog_cells(planes, w, h, cells);
		pyramid(cells, ORI_BINS, true, levels);
		normalise_levels(levels, ORI_BINS, 3, cfg->power, out + st->hog.offset);
	}
	if (cfg->lbp)
	{
		lbp_cells(planes + 3 * plane, w, h, st->lbp_map, cells);
		pyramid(cells, LBP_BINS, false, levels);
		normalise_levels(levels, LBP_BINS, 2, cfg->power, out + st->lbp.offset);
	}
	if (cfg->thumb)
		thumbnail(planes + 3 * plane, w, h, out + st->thumb.offset);
	if (cfg->hog_coarse)
	{
		float	   *half = planes + 4 * plane;

		hog_cells(half, w / 2, h / 2, cells);
		pyramid(cells, ORI_BINS, false, levels);
		normalise_levels(levels, ORI_BINS, 2, cfg->power, out + st->hog_coarse.offset);
	}

	cv_free(planes);
	cv_free(cells);
	cv_free(levels);
	return CV_OK;
}

static void
compact_destroy(cv_feature_extractor *self)
{
	cv_free(self->state);
	self->state = NULL;
}

static void
place(block_pos *pos, bool on, int length, int *dim)
{
	pos->offset = *dim;
	pos->length = on ? length : 0;
	*dim += pos->length;
}

/*
 * The version folds in the configuration so that a non-default
 * configuration never shares cached features with the real domain.
 */
static uint32_t
config_version(const cv_compact_config *c)
{
	uint32_t	v = (uint32_t) c->size;

	v = v * 2 + c->colour;
	v = v * 2 + c->colour_fine;
	v = v * 2 + c->hog;
	v = v * 2 + c->hog_coarse;
	v = v * 2 + c->lbp;
	v = v * 2 + c->thumb;
	v = v * 2 + c->power;
	return (uint32_t) COMPACT_VERSION << 24 | (v & 0xffffff);
}

cv_status
cv_features_compact_create_with(const cv_compact_config *config,
								cv_feature_extractor **out, cv_error *err)
{
	cv_feature_extractor *fx;
	compact_state *st;
	int			dim = 0;

	*out = NULL;
	if (config == NULL || config->size < 16 || config->size > 1024)
		return cv_fail(err, CV_ERR_PARAM, "compact input size must be between 16 and 1024");
	fx = cv_calloc(1, sizeof(*fx));
	st = cv_calloc(1, sizeof(*st));
	if (fx == NULL || st == NULL)
	{
		cv_free(fx);
		cv_free(st);
		return cv_fail(err, CV_ERR_NOMEM, "out of memory creating the compact domain");
	}
	st->config = *config;
	build_lbp_map(st->lbp_map);
	place(&st->colour, config->colour, PYR12 * COLOUR_BINS, &dim);
	place(&st->colour_fine, false, 0, &dim);
	if (config->colour && config->colour_fine)
	{
		/* the 4x4 colour cells follow the 1x1 + 2x2 ones inside "colour" */
		st->colour_fine.offset = st->colour.offset + PYR12 * COLOUR_BINS;
		st->colour_fine.length = GRID_CELLS * COLOUR_BINS;
		st->colour.length += GRID_CELLS * COLOUR_BINS;
		dim += GRID_CELLS * COLOUR_BINS;
	}
	place(&st->hog, config->hog, PYR124 * ORI_BINS, &dim);
	place(&st->lbp, config->lbp, PYR12 * LBP_BINS, &dim);
	place(&st->thumb, config->thumb, THUMB * THUMB, &dim);
	place(&st->hog_coarse, config->hog_coarse, PYR12 * ORI_BINS, &dim);
	if (dim == 0)
	{
		cv_free(fx);
		cv_free(st);
		return cv_fail(err, CV_ERR_PARAM, "compact configuration has no feature block");
	}

	strcpy(fx->name, "compact");
	fx->version = config_version(config);
	fx->input_width = config->size;
	fx->input_height = config->size;
	fx->dim = dim;
	fx->extract = compact_extract;
	fx->destroy = compact_destroy;
	fx->state = st;
	*out = fx;
	return CV_OK;
}

cv_status
cv_features_compact_create(cv_feature_extractor **out, cv_error *err)
{
	return cv_features_compact_create_with(&cv_compact_default, out, err);
}

bool
cv_features_compact_block(const cv_feature_extractor *fx, const char *block,
						  int *offset, int *length)
{
	const compact_state *st;
	const block_pos *pos = NULL;

	if (fx == NULL || fx->extract != compact_extract || block == NULL)
		return false;
	st = fx->state;
	if (strcmp(block, "colour") == 0)
		pos = &st->colour;
	else if (strcmp(block, "colour_fine") == 0)
		pos = &st->colour_fine;
	else if (strcmp(block, "hog") == 0)
		pos = &st->hog;
	else if (strcmp(block, "hog_coarse") == 0)
		pos = &st->hog_coarse;
	else if (strcmp(block, "lbp") == 0)
		pos = &st->lbp;
	else if (strcmp(block, "thumb") == 0)
		pos = &st->thumb;
	if (pos == NULL || pos->length == 0)
		return false;
	*offset = pos->offset;
	*length = pos->length;
	return true;
}
