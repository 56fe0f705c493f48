/*
 * test_detect_box.c
 *	  IoU, clipping, box coding and per-tag NMS of src/core/detect/box.c
 *	  against values computed by hand.
 *
 * Coordinates are chosen as multiples of powers of two so that every
 * float and every intermediate double is exact: an IoU of 1/2 here is
 * exactly 0.5, which the NMS boundary cases rely on.
 */
#include "unit.h"
#include "detect/box.h"

static cv_box
B(float l, float t, float w, float h)
{
	cv_box		b = {l, t, w, h};

	return b;
}

static cv_detection
D(int tag, float score, cv_box box)
{
	cv_detection d;

	d.tag = tag;
	d.score = score;
	d.box = box;
	return d;
}

static bool
box_eq(cv_box a, cv_box b)
{
	return a.left == b.left && a.top == b.top && a.width == b.width &&
		a.height == b.height;
}

/* ---- IoU ---- */

static void
test_iou(void)
{
	cv_box		a = B(0, 0, 0.5f, 0.5f);

	/* disjoint: [0, .25]^2 and [.5, .75]^2 */
	{
		cv_box		p = B(0, 0, 0.25f, 0.25f),
					q = B(0.5f, 0.5f, 0.25f, 0.25f);

		CHECK(cv_box_iou(&p, &q) == 0.0);
	}
	/* contained: inner area .25^2 = .0625 inside .5^2 = .25: .0625/.25 */
	{
		cv_box		in = B(0.125f, 0.125f, 0.25f, 0.25f);

		CHECK_NEAR(cv_box_iou(&a, &in), 0.25, 1e-15);
		CHECK_NEAR(cv_box_iou(&in, &a), 0.25, 1e-15);
	}
	/* identical: 1 */
	CHECK(cv_box_iou(&a, &a) == 1.0);
	/* touching edges (shared side x = .5, shared corner): intersection 0 */
	{
		cv_box		right = B(0.5f, 0, 0.5f, 0.5f),
					corner = B(0.5f, 0.5f, 0.5f, 0.5f);

		CHECK(cv_box_iou(&a, &right) == 0.0);
		CHECK(cv_box_iou(&a, &corner) == 0.0);
	}
	/* half overlap: [0,.5]x[0,.5] and [.25,.75]x[0,.5]: .125/(.25+.25-.125) */
	{
		cv_box		s = B(0.25f, 0, 0.5f, 0.5f);

		CHECK_NEAR(cv_box_iou(&a, &s), 1.0 / 3.0, 1e-15);
		CHECK(cv_box_iou(&a, &s) == cv_box_iou(&s, &a));
	}
	/* the top half of a: .125 / .25 = exactly 0.5 */
	{
		cv_box		half = B(0, 0, 0.5f, 0.25f);

		CHECK(cv_box_iou(&a, &half) == 0.5);
	}
	/* zero or negative area: 0, with anything and with itself, never NaN */
	{
		cv_box		line = B(0.1f, 0.1f, 0, 0.5f),
					flat = B(0.1f, 0.1f, 0.3f, 0),
					neg = B(0.4f, 0.1f, -0.2f, 0.3f),
					nan_w = B(0.1f, 0.1f, NAN, 0.3f),
					nan_l = B(NAN, 0.1f, 0.3f, 0.3f);

		CHECK(cv_box_iou(&line, &line) == 0.0);
		CHECK(cv_box_iou(&line, &a) == 0.0);
		CHECK(cv_box_iou(&a, &flat) == 0.0);
		CHECK(cv_box_iou(&neg, &a) == 0.0);
		CHECK(cv_box_iou(&neg, &neg) == 0.0);
		CHECK(cv_box_iou(&nan_w, &a) == 0.0);
		CHECK(cv_box_iou(&nan_l, &a) == 0.0);
	}
}

/* ---- clip ---- */

static void
test_clip(void)
{
	/* inside: unchanged */
	CHECK(box_eq(cv_box_clip(B(0.25f, 0.25f, 0.5f, 0.5f)), B(0.25f, 0.25f, 0.5f, 0.5f)));
	/* left -.25..+.25 -> 0..+.25; top .5..1.25 -> .5..1 */
	CHECK(box_eq(cv_box_clip(B(-0.25f, 0.5f, 0.5f, 0.75f)), B(0, 0.5f, 0.25f, 0.5f)));
	/* covering everything -> the unit square */
	CHECK(box_eq(cv_box_clip(B(-1, -1, 3, 3)), B(0, 0, 1, 1)));
	/* wholly right of the image: corner clamped to x = 1, width 0 */
	CHECK(box_eq(cv_box_clip(B(1.5f, 0.25f, 0.25f, 0.25f)), B(1, 0.25f, 0, 0.25f)));
	/* wholly above: bottom -.25 -> 0, height 0 */
	CHECK(box_eq(cv_box_clip(B(0.25f, -0.5f, 0.25f, 0.25f)), B(0.25f, 0, 0.25f, 0)));
	/* inverted (negative width): width 0 */
	CHECK(box_eq(cv_box_clip(B(0.5f, 0.5f, -0.25f, 0.25f)), B(0.5f, 0.5f, 0, 0.25f)));
}

/* ---- box coding ---- */

static void
test_encode_decode(void)
{
	float		code[4];
	cv_box		box = B(0.25f, 0.25f, 0.5f, 0.25f);
	cv_box		back;

	/*
	 * Box x .25..75, y .25..5; centre (.5, .375), cells .125 x .125:
	 * l = .25 = 2 cells, t = .125 = 1 cell, r = .25 = 2, b = .125 = 1.
	 */
	cv_box_encode(&box, 0.5f, 0.375f, 0.125f, 0.125f, 0.05f, code);
	CHECK_NEAR(code[0], log(2.0), 1e-6);
	CHECK_NEAR(code[1], 0.0, 1e-6);
	CHECK_NEAR(code[2], log(2.0), 1e-6);
	CHECK_NEAR(code[3], 0.0, 1e-6);
	back = cv_box_decode(code, 0.5f, 0.375f, 0.125f, 0.125f);
	CHECK_NEAR(back.left, 0.25, 1e-6);
	CHECK_NEAR(back.top, 0.25, 1e-6);
	CHECK_NEAR(back.width, 0.5, 1e-6);
	CHECK_NEAR(back.height, 0.25, 1e-6);

	/* non-square cells .0625 x .25: l = .25/.0625 = 4, t = .125/.25 = .5 */
	cv_box_encode(&box, 0.5f, 0.375f, 0.0625f, 0.25f, 0.05f, code);
	CHECK_NEAR(code[0], log(4.0), 1e-6);
	CHECK_NEAR(code[1], log(0.5), 1e-6);
	CHECK_NEAR(code[2], log(4.0), 1e-6);
	CHECK_NEAR(code[3], log(0.5), 1e-6);
	back = cv_box_decode(code, 0.5f, 0.375f, 0.0625f, 0.25f);
	CHECK_NEAR(back.left, 0.25, 1e-6);
	CHECK_NEAR(back.height, 0.25, 1e-6);

	/*
	 * Centre left of the box (cx .125 < left .25): l = -.125 is raised to
	 * min_distance .05 cells; r = .75 - .125 = .625 = 5 cells.  On the top
	 * edge (cy = .25): t = 0, raised likewise.
	 */
	cv_box_encode(&box, 0.125f, 0.25f, 0.125f, 0.125f, 0.05f, code);
	CHECK_NEAR(code[0], log(0.05), 1e-6);
	CHECK_NEAR(code[1], log(0.05), 1e-6);
	CHECK_NEAR(code[2], log(5.0), 1e-6);
	CHECK_NEAR(code[3], log(2.0), 1e-6);	/* b = .5 - .25 = 2 cells */

	/* min_distance 0 and distance 0: log 0 is floored to -10, finite */
	cv_box_encode(&box, 0.25f, 0.25f, 0.125f, 0.125f, 0.0f, code);
	CHECK(code[0] == -10.0f);
	CHECK(code[1] == -10.0f);
	/* a far side: 1e6 cells would be log 13.8, clamped to 10 */
	{
		cv_box		huge = B(0, 0, 1, 1);

		cv_box_encode(&huge, 0.0f, 0.0f, 1e-6f, 1e-6f, 0.05f, code);
		CHECK(code[2] == 10.0f);
		CHECK(code[3] == 10.0f);
	}

	/*
	 * Decoding clamps codes to [-10, 10] (NaN to -10): cell .125, centre
	 * (.5, .5): l = e^10 * .125, t = e^-10 * .125, r = e^-10 * .125 (NaN),
	 * b = e^10 * .125.
	 */
	{
		float		wild[4] = {20.0f, -20.0f, NAN, 10.0f};

		back = cv_box_decode(wild, 0.5f, 0.5f, 0.125f, 0.125f);
		CHECK(isfinite(back.left) && isfinite(back.top) &&
			  isfinite(back.width) && isfinite(back.height));
		CHECK_NEAR(back.left, 0.5 - exp(10.0) * 0.125, 1e-6 * exp(10.0));
		CHECK_NEAR(back.top, 0.5 - exp(-10.0) * 0.125, 1e-6);
		CHECK_NEAR(back.width, (exp(10.0) + exp(-10.0)) * 0.125, 1e-6 * exp(10.0));
		CHECK_NEAR(back.height, (exp(-10.0) + exp(10.0)) * 0.125, 1e-6 * exp(10.0));
	}
}

/* Encode then decode over a grid of boxes and centres inside them. */
static void
test_round_trip(void)
{
	int			worst = 0;

	for (int i = 0; i < 8; i++)
	{
		for (int j = 0; j < 8; j++)
		{
			cv_box		box = B(0.05f * i, 0.04f * j, 0.1f + 0.05f * j, 0.2f + 0.03f * i);

			for (int c = 1; c < 4; c++)
			{
				float		cx = box.left + box.width * c / 4.0f;
				float		cy = box.top + box.height * (4 - c) / 4.0f;
				float		code[4];
				cv_box		back;

				cv_box_encode(&box, cx, cy, 1.0f / 32, 1.0f / 24, 0.05f, code);
				back = cv_box_decode(code, cx, cy, 1.0f / 32, 1.0f / 24);
				if (fabsf(back.left - box.left) > 1e-5f ||
					fabsf(back.top - box.top) > 1e-5f ||
					fabsf(back.width - box.width) > 1e-5f ||
					fabsf(back.height - box.height) > 1e-5f)
					worst++;
			}
		}
	}
	CHECK_MSG(worst == 0, "%d boxes did not survive encode/decode", worst);
}

/* ---- NMS ---- */

static const cv_box A0 = {0, 0, 0.5f, 0.5f};
/* IoU(A0, A1) = 1/3 (see test_iou) */
static const cv_box A1 = {0.25f, 0, 0.5f, 0.5f};
/* IoU(A0, AH) = exactly 1/2 */
static const cv_box AH = {0, 0, 0.5f, 0.25f};

static void
test_nms_one_tag(void)
{
	cv_detection d[2];
	cv_error	err;

	/* IoU 1/3 > overlap .3: the lower score is suppressed */
	d[0] = D(0, 0.8f, A1);
	d[1] = D(0, 0.9f, A0);
	CHECK(cv_detect_nms(d, 2, 0.0f, 0.3, 0, &err) == 1);
	CHECK(d[0].score == 0.9f && box_eq(d[0].box, A0));

	/* IoU 1/3 <= overlap .5: both kept, most probable first */
	d[0] = D(0, 0.8f, A1);
	d[1] = D(0, 0.9f, A0);
	CHECK(cv_detect_nms(d, 2, 0.0f, 0.5, 0, &err) == 2);
	CHECK(d[0].score == 0.9f && d[1].score == 0.8f);
	CHECK(box_eq(d[1].box, A1));
}

static void
test_nms_two_tags(void)
{
	cv_detection d[3];
	cv_error	err;

	/* the same box under two tags never suppresses across tags */
	d[0] = D(0, 0.9f, A0);
	d[1] = D(1, 0.8f, A0);
	d[2] = D(1, 0.7f, A1);		/* IoU 1/3 with d[1], same tag: dropped */
	CHECK(cv_detect_nms(d, 3, 0.0f, 0.3, 0, &err) == 2);
	CHECK(d[0].tag == 0 && d[1].tag == 1);
	CHECK(box_eq(d[0].box, A0) && box_eq(d[1].box, A0));
}

static void
test_nms_equal_overlap(void)
{
	cv_detection d[2];
	cv_error	err;

	/* IoU exactly .5 == overlap: kept (only IoU > overlap suppresses) */
	d[0] = D(0, 0.9f, A0);
	d[1] = D(0, 0.8f, AH);
	CHECK(cv_detect_nms(d, 2, 0.0f, 0.5, 0, &err) == 2);
	/* just below: dropped */
	d[0] = D(0, 0.9f, A0);
	d[1] = D(0, 0.8f, AH);
	CHECK(cv_detect_nms(d, 2, 0.0f, 0.4999, 0, &err) == 1);
	/* overlap 1: nothing is ever suppressed, even identical boxes */
	d[0] = D(0, 0.9f, A0);
	d[1] = D(0, 0.8f, A0);
	CHECK(cv_detect_nms(d, 2, 0.0f, 1.0, 0, &err) == 2);
	/* overlap 0: any intersection suppresses; touching does not */
	d[0] = D(0, 0.9f, A0);
	d[1] = D(0, 0.8f, B(0.5f, 0, 0.5f, 0.5f));
	CHECK(cv_detect_nms(d, 2, 0.0f, 0.0, 0, &err) == 2);
	d[0] = D(0, 0.9f, A0);
	d[1] = D(0, 0.8f, B(0.25f, 0.25f, 0.5f, 0.5f));
	CHECK(cv_detect_nms(d, 2, 0.0f, 0.0, 0, &err) == 1);
}

static void
test_nms_ties(void)
{
	cv_detection d[3];
	cv_error	err;
	cv_box		far1 = B(0.75f, 0.75f, 0.125f, 0.125f),
				far2 = B(0.5f, 0.75f, 0.125f, 0.125f);

	/* equal scores, disjoint boxes: lower tag first, then input order */
	d[0] = D(1, 0.7f, A0);
	d[1] = D(0, 0.7f, far1);
	d[2] = D(0, 0.7f, far2);
	CHECK(cv_detect_nms(d, 3, 0.0f, 0.5, 0, &err) == 3);
	CHECK(d[0].tag == 0 && box_eq(d[0].box, far1));
	CHECK(d[1].tag == 0 && box_eq(d[1].box, far2));
	CHECK(d[2].tag == 1 && box_eq(d[2].box, A0));

	/* equal scores, same tag, IoU 1/3 > .3: the earlier one survives */
	d[0] = D(0, 0.5f, A1);
	d[1] = D(0, 0.5f, A0);
	CHECK(cv_detect_nms(d, 2, 0.0f, 0.3, 0, &err) == 1);
	CHECK(box_eq(d[0].box, A1));
	d[0] = D(0, 0.5f, A0);
	d[1] = D(0, 0.5f, A1);
	CHECK(cv_detect_nms(d, 2, 0.0f, 0.3, 0, &err) == 1);
	CHECK(box_eq(d[0].box, A0));
}

static void
test_nms_limits(void)
{
	cv_detection d[5];
	cv_error	err;

	/* four disjoint boxes, scores .1 .4 .3 .2: max_keep 2 keeps .4, .3 */
	for (int pass = 0; pass < 3; pass++)
	{
		int			max_keep = pass == 0 ? 2 : (pass == 1 ? 0 : -1);

		d[0] = D(0, 0.1f, B(0, 0, 0.25f, 0.25f));
		d[1] = D(0, 0.4f, B(0.5f, 0, 0.25f, 0.25f));
		d[2] = D(0, 0.3f, B(0, 0.5f, 0.25f, 0.25f));
		d[3] = D(0, 0.2f, B(0.5f, 0.5f, 0.25f, 0.25f));
		if (pass == 0)
		{
			CHECK(cv_detect_nms(d, 4, 0.0f, 0.5, max_keep, &err) == 2);
			CHECK(d[0].score == 0.4f && d[1].score == 0.3f);
		}
		else
		{
			/* max_keep <= 0: no limit, all four by score */
			CHECK(cv_detect_nms(d, 4, 0.0f, 0.5, max_keep, &err) == 4);
			CHECK(d[0].score == 0.4f && d[1].score == 0.3f &&
				  d[2].score == 0.2f && d[3].score == 0.1f);
		}
	}

	/* suppressed detections do not use up max_keep */
	d[0] = D(0, 0.9f, A0);
	d[1] = D(0, 0.8f, A0);		/* identical: suppressed */
	d[2] = D(0, 0.7f, B(0.75f, 0.75f, 0.25f, 0.25f));
	CHECK(cv_detect_nms(d, 3, 0.0f, 0.5, 2, &err) == 2);
	CHECK(d[0].score == 0.9f && d[1].score == 0.7f);

	/* min_score .5: .2 dropped, .5 (equal) kept, NaN dropped */
	d[0] = D(0, 0.2f, B(0, 0, 0.25f, 0.25f));
	d[1] = D(0, 0.5f, B(0.5f, 0, 0.25f, 0.25f));
	d[2] = D(0, 0.9f, B(0, 0.5f, 0.25f, 0.25f));
	d[3] = D(0, NAN, B(0.5f, 0.5f, 0.25f, 0.25f));
	CHECK(cv_detect_nms(d, 4, 0.5f, 0.5, 0, &err) == 2);
	CHECK(d[0].score == 0.9f && d[1].score == 0.5f);
	/* everything below min_score: none */
	d[0] = D(0, 0.2f, A0);
	CHECK(cv_detect_nms(d, 1, 0.5f, 0.5, 0, &err) == 0);
	/* n = 0, even with dets NULL */
	CHECK(cv_detect_nms(NULL, 0, 0.0f, 0.5, 0, &err) == 0);
}

static void *
failing_alloc(size_t size)
{
	return NULL;
}

static void *
failing_realloc(void *p, size_t size)
{
	return NULL;
}

static void
test_nms_errors(void)
{
	cv_detection d[2];
	cv_error	err;
	static const cv_allocator failing = {failing_alloc, failing_realloc, free};

	d[0] = D(0, 0.9f, A0);
	d[1] = D(0, 0.8f, A1);

	cv_error_clear(&err);
	CHECK(cv_detect_nms(d, -1, 0.0f, 0.5, 0, &err) == -1 && err.code == CV_ERR_PARAM);
	cv_error_clear(&err);
	CHECK(cv_detect_nms(NULL, 2, 0.0f, 0.5, 0, &err) == -1 && err.code == CV_ERR_PARAM);
	cv_error_clear(&err);
	CHECK(cv_detect_nms(d, 2, 0.0f, -0.01, 0, &err) == -1 && err.code == CV_ERR_PARAM);
	cv_error_clear(&err);
	CHECK(cv_detect_nms(d, 2, 0.0f, 1.01, 0, &err) == -1 && err.code == CV_ERR_PARAM);
	cv_error_clear(&err);
	CHECK(cv_detect_nms(d, 2, 0.0f, NAN, 0, &err) == -1 && err.code == CV_ERR_PARAM);
	/* err may be NULL */
	CHECK(cv_detect_nms(d, -1, 0.0f, 0.5, 0, NULL) == -1);

	/* no scratch memory: -1, NOMEM, and the input left as it was */
	cv_set_allocator(&failing);
	cv_error_clear(&err);
	CHECK(cv_detect_nms(d, 2, 0.0f, 0.5, 0, &err) == -1 && err.code == CV_ERR_NOMEM);
	cv_set_allocator(NULL);
	CHECK(d[0].score == 0.9f && d[1].score == 0.8f);
}

UNIT_MAIN("detect_box",
		  UNIT_CASE(test_iou),
		  UNIT_CASE(test_clip),
		  UNIT_CASE(test_encode_decode),
		  UNIT_CASE(test_round_trip),
		  UNIT_CASE(test_nms_one_tag),
		  UNIT_CASE(test_nms_two_tags),
		  UNIT_CASE(test_nms_equal_overlap),
		  UNIT_CASE(test_nms_ties),
		  UNIT_CASE(test_nms_limits),
		  UNIT_CASE(test_nms_errors))
