/*
 * box.c
 *	  Overlap of boxes, per-tag non-maximum suppression and the FCOS-style
 *	  log-distance box coding (contracts in box.h).
 *
 * Geometry is done in double: box coordinates are floats in 0..1, so the
 * sums and products are exact or nearly so in double, and an IoU that the
 * caller computed by hand (say exactly 0.5) compares as expected against
 * the NMS overlap threshold.
 */
#include "box.h"

#include <math.h>
#include <stdlib.h>

#define CODE_LIMIT CV_BOX_CODE_LIMIT

/*
 * Area of a box; 0 for a degenerate one, and for one with a NaN or infinite
 * coordinate (fmin/fmax would quietly drop a NaN left and give it a size).
 */
static double
box_area(const cv_box *b)
{
	if (!isfinite(b->left) || !isfinite(b->top) ||
		!isfinite(b->width) || !isfinite(b->height) ||
		b->width <= 0.0f || b->height <= 0.0f)
		return 0.0;
	return (double) b->width * (double) b->height;
}

double
cv_box_iou(const cv_box *a, const cv_box *b)
{
	double		area_a = box_area(a);
	double		area_b = box_area(b);
	double		iw,
				ih,
				inter,
				uni,
				iou;

	if (area_a <= 0.0 || area_b <= 0.0)
		return 0.0;
	iw = fmin((double) a->left + a->width, (double) b->left + b->width) -
		fmax((double) a->left, (double) b->left);
	ih = fmin((double) a->top + a->height, (double) b->top + b->height) -
		fmax((double) a->top, (double) b->top);
	/* disjoint or only touching: no intersection */
	if (!(iw > 0.0) || !(ih > 0.0))
		return 0.0;
	inter = iw * ih;
	uni = area_a + area_b - inter;
	iou = inter / uni;
	/* rounding must not push it out of [0, 1] */
	if (iou < 0.0)
		return 0.0;
	return iou > 1.0 ? 1.0 : iou;
}

/* x limited to [0, 1]; NaN becomes 0 (fmaxf returns the number). */
static float
unit_clamp(float x)
{
	return fminf(fmaxf(x, 0.0f), 1.0f);
}

cv_box
cv_box_clip(cv_box b)
{
	cv_box		r;
	float		right = unit_clamp(b.left + b.width);
	float		bottom = unit_clamp(b.top + b.height);

	r.left = unit_clamp(b.left);
	r.top = unit_clamp(b.top);
	/* a box wholly outside (or inverted) keeps its clamped corner, size 0 */
	r.width = right > r.left ? right - r.left : 0.0f;
	r.height = bottom > r.top ? bottom - r.top : 0.0f;
	return r;
}

/* A candidate of NMS with its input position, for the stable order. */
typedef struct nms_item
{
	cv_detection det;
	int			index;
} nms_item;

/* score descending, then tag ascending, then input index: a total order */
static int
nms_cmp(const void *pa, const void *pb)
{
	const nms_item *a = pa;
	const nms_item *b = pb;

	if (a->det.score > b->det.score)
		return -1;
	if (a->det.score < b->det.score)
		return 1;
	if (a->det.tag != b->det.tag)
		return a->det.tag < b->det.tag ? -1 : 1;
	return (a->index > b->index) - (a->index < b->index);
}

int
cv_detect_nms(cv_detection *dets, int n, float min_score, double overlap,
			  int max_keep, cv_error *err)
{
	nms_item   *items;
	int			m = 0;
	int			kept = 0;

	if (n < 0 || (n > 0 && dets == NULL))
	{
		cv_fail(err, CV_ERR_PARAM, "invalid detection count %d", n);
		return -1;
	}
	if (!(overlap >= 0.0 && overlap <= 1.0))
	{
		cv_fail(err, CV_ERR_PARAM, "overlap must be between 0 and 1");
		return -1;
	}
	if (n == 0)
		return 0;

	items = cv_calloc((size_t) n, sizeof(nms_item));
	if (items == NULL)
	{
		cv_fail(err, CV_ERR_NOMEM, "out of memory suppressing %d detections", n);
		return -1;
	}
	for (int i = 0; i < n; i++)
	{
		/* NaN scores are not "at least min_score" either: dropped */
		if (!(dets[i].score >= min_score))
			continue;
		items[m].det = dets[i];
		items[m].index = i;
		m++;
	}
	qsort(items, (size_t) m, sizeof(nms_item), nms_cmp);

	/*
	 * Greedy: the kept detections are written to dets[0..kept-1] as we go
	 * (the candidates live in items, so overwriting dets is safe) and each
	 * candidate is checked against those.  O(m * kept), the usual cost of
	 * NMS; max_keep bounds it in practice.
	 */
	for (int i = 0; i < m; i++)
	{
		const cv_detection *c = &items[i].det;
		bool		suppressed = false;

		if (max_keep > 0 && kept >= max_keep)
			break;
		for (int j = 0; j < kept; j++)
		{
			if (dets[j].tag == c->tag && cv_box_iou(&dets[j].box, &c->box) > overlap)
			{
				suppressed = true;
				break;
			}
		}
		if (!suppressed)
			dets[kept++] = *c;
	}
	cv_free(items);
	return kept;
}

/* log of a distance in cell units, floored and clamped to decode's range */
static float
encode_distance(double distance, double cell, double min_distance)
{
	double		d = distance / cell;
	double		code;

	if (!(d >= min_distance))	/* also a NaN distance */
		d = min_distance;
	code = log(d);
	/* a non-positive min_distance gives log(<= 0): floor it like decode */
	if (!(code >= -CODE_LIMIT))
		return -CODE_LIMIT;
	if (code > CODE_LIMIT)
		return CODE_LIMIT;
	return (float) code;
}

void
cv_box_encode(const cv_box *box, float cx, float cy, float cell_w,
			  float cell_h, float min_distance, float code[4])
{
	double		l = (double) cx - box->left;
	double		t = (double) cy - box->top;
	double		r = (double) box->left + box->width - cx;
	double		b = (double) box->top + box->height - cy;

	code[0] = encode_distance(l, cell_w, min_distance);
	code[1] = encode_distance(t, cell_h, min_distance);
	code[2] = encode_distance(r, cell_w, min_distance);
	code[3] = encode_distance(b, cell_h, min_distance);
}

/* exp of a code clamped to [-CODE_LIMIT, CODE_LIMIT]; NaN gives the floor */
static double
decode_distance(float code)
{
	return exp((double) fminf(fmaxf(code, -CODE_LIMIT), CODE_LIMIT));
}

cv_box
cv_box_decode(const float code[4], float cx, float cy, float cell_w,
			  float cell_h)
{
	double		l = decode_distance(code[0]) * cell_w;
	double		t = decode_distance(code[1]) * cell_h;
	double		r = decode_distance(code[2]) * cell_w;
	double		b = decode_distance(code[3]) * cell_h;
	cv_box		box;

	box.left = (float) (cx - l);
	box.top = (float) (cy - t);
	box.width = (float) (l + r);
	box.height = (float) (t + b);
	return box;
}
