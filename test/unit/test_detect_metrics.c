/*
 * test_detect_metrics.c
 *	  Detection precision, recall and all-point interpolated AP against
 *	  values computed by hand (matching, ties, thresholds, errors), and the
 *	  synthetic detection images of detect_synth.c.
 *
 * Boxes use multiples of powers of two so that the IoUs quoted in the
 * comments are exact.
 */
#include "unit.h"
#include "detect/detect_metrics.h"
#include "detect/detect_train.h"
#include "detect/detector.h"
#include "detect_synth.c"

/* [0,.5]^2; IoU with SHIFT is 1/3, with HALF exactly 1/2 (test_detect_box) */
static const cv_box BOX = {0, 0, 0.5f, 0.5f};
static const cv_box SHIFT = {0.25f, 0, 0.5f, 0.5f};
static const cv_box HALF = {0, 0, 0.5f, 0.25f};
/* disjoint from BOX */
static const cv_box FAR = {0.75f, 0.75f, 0.25f, 0.25f};

static cv_truth_box
T(int image, int tag, cv_box box)
{
	cv_truth_box t;

	t.image = image;
	t.tag = tag;
	t.box = box;
	return t;
}

static cv_image_detection
D(int image, int tag, float score, cv_box box)
{
	cv_image_detection d;

	d.image = image;
	d.det.tag = tag;
	d.det.score = score;
	d.det.box = box;
	return d;
}

/* Compute, expecting success; per_tag must hold n_tags entries. */
static void
compute(const cv_image_detection *d, int nd, const cv_truth_box *t, int nt,
		int n_images, int n_tags, double threshold, double overlap,
		cv_detect_tag_metrics *per_tag, cv_detect_overall_metrics *overall)
{
	cv_error	err;
	cv_status	st;

	cv_error_clear(&err);
	st = cv_detect_metrics_compute(d, nd, t, nt, n_images, n_tags, threshold,
								   overlap, per_tag, overall, &err);
	CHECK_MSG(st == CV_OK, "%s: %s", cv_status_name(st), err.message);
}

static void
test_perfect_image(void)
{
	cv_truth_box t[] = {T(0, 0, BOX), T(0, 1, FAR)};
	cv_image_detection d[] = {D(0, 1, 0.8f, FAR), D(0, 0, 0.9f, BOX)};
	cv_detect_tag_metrics m[2];
	cv_detect_overall_metrics o;

	/* each tag: one detection, IoU 1 with its box: tp 1, P = R = AP = 1 */
	compute(d, 2, t, 2, 1, 2, 0.5, 0.5, m, &o);
	for (int k = 0; k < 2; k++)
	{
		CHECK(m[k].tp == 1 && m[k].fp == 0 && m[k].fn == 0);
		CHECK(m[k].true_boxes == 1 && m[k].images == 1);
		CHECK(m[k].precision == 1.0 && m[k].recall == 1.0 && m[k].ap == 1.0);
	}
	CHECK(o.tp == 2 && o.fp == 0 && o.fn == 0);
	CHECK(o.precision == 1.0 && o.recall == 1.0 && o.map == 1.0);
	/* overall may be NULL */
	compute(d, 2, t, 2, 1, 2, 0.5, 0.5, m, NULL);
	CHECK(m[0].ap == 1.0);
}

static void
test_matched_twice(void)
{
	cv_detect_tag_metrics m[1];
	cv_detect_overall_metrics o;

	/*
	 * One true box, two detections on it (IoU 1 and 1/2): the first takes
	 * it, the second finds it matched: fp.  P = 1/2, R = 1.  Curve (R, P):
	 * (1, 1) after .9, (1, 1/2) after .8; AP = 1 * 1 + 0 * 1/2 = 1.
	 */
	{
		cv_truth_box t[] = {T(0, 0, BOX)};
		cv_image_detection d[] = {D(0, 0, 0.8f, HALF), D(0, 0, 0.9f, BOX)};

		compute(d, 2, t, 1, 1, 1, 0.5, 0.5, m, &o);
		CHECK(m[0].tp == 1 && m[0].fp == 1 && m[0].fn == 0);
		CHECK_NEAR(m[0].precision, 0.5, 1e-15);
		CHECK(m[0].recall == 1.0);
		CHECK_NEAR(m[0].ap, 1.0, 1e-15);
	}

	/*
	 * The second detection takes the next unmatched box it reaches: true
	 * boxes A = [0,.5]x[0,.5] (index 0) and C = [0,.5]x[.25,.75] (index 1),
	 * detection X = [0,.5]x[.125,.625] has IoU .1875/.3125 = .6 with both:
	 * the tie goes to A, the lower index.  Then a detection exactly on C
	 * (IoU with A 1/3) takes C.  Both tp; had X taken C, the second would
	 * find only A at 1/3 < .5 and be an fp.
	 */
	{
		cv_box		c = {0, 0.25f, 0.5f, 0.5f};
		cv_box		x = {0, 0.125f, 0.5f, 0.5f};
		cv_truth_box t[] = {T(0, 0, BOX), T(0, 0, c)};
		cv_image_detection d[] = {D(0, 0, 0.9f, x), D(0, 0, 0.8f, c)};

		compute(d, 2, t, 2, 1, 1, 0.5, 0.5, m, &o);
		CHECK(m[0].tp == 2 && m[0].fp == 0 && m[0].fn == 0);
		/* the order of the truths decides the tie: swapped, X takes C */
		{
			cv_truth_box t2[] = {T(0, 0, c), T(0, 0, BOX)};

			compute(d, 2, t2, 2, 1, 1, 0.5, 0.5, m, &o);
			CHECK(m[0].tp == 1 && m[0].fp == 1 && m[0].fn == 1);
		}
	}
}

static void
test_tag_without_truth(void)
{
	cv_truth_box t[] = {T(0, 0, BOX)};
	cv_image_detection d[] = {D(0, 0, 0.9f, BOX), D(0, 1, 0.7f, FAR)};
	cv_detect_tag_metrics m[3];
	cv_detect_overall_metrics o;

	/*
	 * Tag 1 has a detection but no true box: fp 1, P = R = AP = 0, out of
	 * the mean AP (so mAP = AP of tag 0 = 1).  Tag 2 has nothing at all.
	 * Overall: tp 1, fp 1: P = 1/2, R = 1/1.
	 */
	compute(d, 2, t, 1, 1, 3, 0.5, 0.5, m, &o);
	CHECK(m[1].tp == 0 && m[1].fp == 1 && m[1].fn == 0 && m[1].true_boxes == 0);
	CHECK(m[1].precision == 0.0 && m[1].recall == 0.0 && m[1].ap == 0.0);
	CHECK(m[1].images == 0);
	CHECK(m[2].tp == 0 && m[2].fp == 0 && m[2].ap == 0.0 && m[2].precision == 0.0);
	CHECK(o.tp == 1 && o.fp == 1 && o.fn == 0);
	CHECK_NEAR(o.precision, 0.5, 1e-15);
	CHECK(o.recall == 1.0);
	CHECK(o.map == 1.0);

	/* no true box anywhere: mAP 0; nothing at all: zeros */
	compute(d, 2, NULL, 0, 1, 3, 0.5, 0.5, m, &o);
	CHECK(o.map == 0.0 && o.fp == 2 && o.recall == 0.0 && o.precision == 0.0);
	compute(NULL, 0, NULL, 0, 0, 3, 0.5, 0.5, m, &o);
	CHECK(o.map == 0.0 && o.tp == 0 && o.fp == 0 && o.fn == 0);
	compute(NULL, 0, NULL, 0, 0, 0, 0.5, 0.5, NULL, &o);
	CHECK(o.map == 0.0 && o.tp == 0);
}

static void
test_image_without_detections(void)
{
	/* image 0 perfect; image 1 has two true boxes and no detection */
	cv_truth_box t[] = {T(1, 0, BOX), T(0, 0, BOX), T(1, 0, FAR)};
	cv_image_detection d[] = {D(0, 0, 0.9f, BOX)};
	cv_detect_tag_metrics m[1];
	cv_detect_overall_metrics o;

	/* tp 1, fn 2: P 1, R 1/3; one curve point (1/3, 1): AP 1/3 */
	compute(d, 1, t, 3, 2, 1, 0.5, 0.5, m, &o);
	CHECK(m[0].tp == 1 && m[0].fp == 0 && m[0].fn == 2);
	CHECK(m[0].true_boxes == 3 && m[0].images == 2);
	CHECK(m[0].precision == 1.0);
	CHECK_NEAR(m[0].recall, 1.0 / 3.0, 1e-15);
	CHECK_NEAR(m[0].ap, 1.0 / 3.0, 1e-15);
	CHECK(o.fn == 2);
	CHECK_NEAR(o.recall, 1.0 / 3.0, 1e-15);

	/* no detection anywhere: all fn, AP 0 */
	compute(NULL, 0, t, 3, 2, 1, 0.5, 0.5, m, &o);
	CHECK(m[0].tp == 0 && m[0].fn == 3 && m[0].ap == 0.0 && m[0].recall == 0.0);
	CHECK(o.map == 0.0);
}

static void
test_ties_in_score(void)
{
	cv_detect_tag_metrics m[1];

	/*
	 * Two true boxes (images 0 and 1).  .9: tp on image 0.  Then a tie at
	 * .8: a tp on image 1 and an fp (FAR on image 0).  Grouped curve:
	 * (1/2, 1) after .9, (1, 2/3) after the .8 group;
	 * AP = 1/2 * 1 + 1/2 * 2/3 = 5/6, whichever of the tied rows comes
	 * first (ungrouped, tp first would give 1).
	 */
	cv_truth_box t[] = {T(0, 0, BOX), T(1, 0, BOX)};
	cv_image_detection tp_first[] = {
		D(0, 0, 0.9f, BOX), D(1, 0, 0.8f, BOX), D(0, 0, 0.8f, FAR)
	};
	cv_image_detection fp_first[] = {
		D(0, 0, 0.8f, FAR), D(1, 0, 0.8f, BOX), D(0, 0, 0.9f, BOX)
	};

	compute(tp_first, 3, t, 2, 2, 1, 0.5, 0.5, m, NULL);
	CHECK_NEAR(m[0].ap, 5.0 / 6.0, 1e-15);
	compute(fp_first, 3, t, 2, 2, 1, 0.5, 0.5, m, NULL);
	CHECK_NEAR(m[0].ap, 5.0 / 6.0, 1e-15);

	/* everything tied: one point (R 1, P 2/3): AP = 2/3 */
	{
		cv_image_detection all[] = {
			D(0, 0, 0.5f, FAR), D(1, 0, 0.5f, BOX), D(0, 0, 0.5f, BOX)
		};

		compute(all, 3, t, 2, 2, 1, 0.5, 0.5, m, NULL);
		CHECK_NEAR(m[0].ap, 2.0 / 3.0, 1e-15);
		CHECK(m[0].tp == 2 && m[0].fp == 1);
	}
}

/*
 * Four images with one true box each; five detections ranked
 *	 rank score image  outcome  tp fp   R     P
 *	  1   .9    0     tp        1  0  1/4   1
 *	  2   .8    0     fp (FAR)  1  1  1/4  1/2
 *	  3   .7    1     fp (FAR)  1  2  1/4  1/3
 *	  4   .6    1     tp        2  2  2/4  2/4
 *	  5   .5    2     tp        3  2  3/4  3/5
 * and image 3's box is never found.  Interpolated precision (best at any
 * recall >= own), right to left: .6, .6, .6, .6, 1.  AP = sum dR * Pinterp
 * = 1/4 * 1 + 0 + 0 + 1/4 * .6 + 1/4 * .6 = .55 (non-interpolated would be
 * .25 + .125 + .15 = .525).
 */
static const cv_image_detection five[] = {
	/* rows deliberately not in rank order */
	{1, {0, 0.6f, {0, 0, 0.5f, 0.5f}}},
	{0, {0, 0.8f, {0.75f, 0.75f, 0.25f, 0.25f}}},
	{2, {0, 0.5f, {0, 0, 0.5f, 0.5f}}},
	{0, {0, 0.9f, {0, 0, 0.5f, 0.5f}}},
	{1, {0, 0.7f, {0.75f, 0.75f, 0.25f, 0.25f}}},
};
static const cv_truth_box five_truth[] = {
	{3, 0, {0, 0, 0.5f, 0.5f}},
	{2, 0, {0, 0, 0.5f, 0.5f}},
	{1, 0, {0, 0, 0.5f, 0.5f}},
	{0, 0, {0, 0, 0.5f, 0.5f}},
};

static void
test_all_point_ap(void)
{
	cv_detect_tag_metrics m[1];
	cv_detect_overall_metrics o;

	compute(five, 5, five_truth, 4, 4, 1, 0.5, 0.5, m, &o);
	CHECK_NEAR(m[0].ap, 0.55, 1e-12);
	CHECK_NEAR(o.map, 0.55, 1e-12);
	CHECK(m[0].true_boxes == 4 && m[0].images == 4);
}

/* The curve behind the five-detection AP above, point by point. */
static void
test_pr_curve(void)
{
	static const double recall[5] = {0.25, 0.25, 0.25, 0.5, 0.75};
	static const double precision[5] = {1.0, 0.5, 1.0 / 3.0, 0.5, 0.6};
	static const double interpolated[5] = {1.0, 0.6, 0.6, 0.6, 0.6};
	static const float threshold[5] = {0.9f, 0.8f, 0.7f, 0.6f, 0.5f};
	cv_pr_point pts[5];
	int			n = -1;
	double		area = 0.0,
				prev = 0.0;
	cv_error	err;

	CHECK(cv_detect_pr_curve(five, 5, five_truth, 4, 4, 1, 0, 0.5, pts, &n, &err) == CV_OK);
	CHECK(n == 5);
	for (int k = 0; k < n && k < 5; k++)
	{
		CHECK(pts[k].threshold == threshold[k]);
		CHECK_NEAR(pts[k].recall, recall[k], 1e-15);
		CHECK_NEAR(pts[k].precision, precision[k], 1e-15);
		CHECK_NEAR(pts[k].interpolated, interpolated[k], 1e-15);
		CHECK(pts[k].tp + pts[k].fp == k + 1);
		area += (pts[k].recall - prev) * pts[k].interpolated;
		prev = pts[k].recall;
	}
	CHECK_NEAR(area, 0.55, 1e-12);	/* the AP cv_detect_metrics_compute reports */
	/* a tag out of range; a tag without detections has no points */
	CHECK(cv_detect_pr_curve(five, 5, five_truth, 4, 4, 1, 1, 0.5, pts, &n, &err) == CV_ERR_PARAM);
	CHECK(cv_detect_pr_curve(five, 5, five_truth, 4, 4, 2, 1, 0.5, pts, &n, &err) == CV_OK && n == 0);
}

static void
test_threshold_and_overlap(void)
{
	cv_detect_tag_metrics m[1];
	cv_detect_overall_metrics o;

	/* the five detections above; AP never depends on the threshold */
	/* threshold .5 (all five): tp 3, fp 2, fn 1: P 3/5, R 3/4 */
	compute(five, 5, five_truth, 4, 4, 1, 0.5, 0.5, m, &o);
	CHECK(m[0].tp == 3 && m[0].fp == 2 && m[0].fn == 1);
	CHECK_NEAR(m[0].precision, 0.6, 1e-15);
	CHECK_NEAR(m[0].recall, 0.75, 1e-15);
	/* threshold .6, equal to a score (compared in float): .9 .8 .7 .6: 2/4 */
	compute(five, 5, five_truth, 4, 4, 1, 0.6, 0.5, m, &o);
	CHECK(m[0].tp == 2 && m[0].fp == 2 && m[0].fn == 2);
	CHECK_NEAR(m[0].precision, 0.5, 1e-15);
	CHECK_NEAR(m[0].recall, 0.5, 1e-15);
	CHECK_NEAR(m[0].ap, 0.55, 1e-12);
	/* threshold .65: .9 .8 .7: tp 1 fp 2: P 1/3, R 1/4 */
	compute(five, 5, five_truth, 4, 4, 1, 0.65, 0.5, m, &o);
	CHECK(m[0].tp == 1 && m[0].fp == 2 && m[0].fn == 3);
	CHECK_NEAR(m[0].precision, 1.0 / 3.0, 1e-15);
	CHECK_NEAR(m[0].recall, 0.25, 1e-15);
	/* threshold .95: nothing: P 0 (nothing detected), R 0, all fn */
	compute(five, 5, five_truth, 4, 4, 1, 0.95, 0.5, m, &o);
	CHECK(m[0].tp == 0 && m[0].fp == 0 && m[0].fn == 4);
	CHECK(m[0].precision == 0.0 && m[0].recall == 0.0);
	CHECK_NEAR(m[0].ap, 0.55, 1e-12);
	CHECK(o.tp == 0 && o.fn == 4 && o.precision == 0.0);

	/*
	 * Overlap: a detection at IoU 1/3 (SHIFT) is a tp at overlap .3 and
	 * an fp (with an fn) at .5; at IoU exactly 1/2 (HALF) it is a tp at
	 * overlap .5 (>=) and an fp just above.
	 */
	{
		cv_truth_box t[] = {T(0, 0, BOX)};
		cv_image_detection ds[] = {D(0, 0, 0.9f, SHIFT)};
		cv_image_detection dh[] = {D(0, 0, 0.9f, HALF)};
		cv_image_detection dfar[] = {D(0, 0, 0.9f, FAR)};
		cv_image_detection dtouch[] = {D(0, 0, 0.9f, (cv_box) {0.5f, 0, 0.5f, 0.5f})};

		compute(ds, 1, t, 1, 1, 1, 0.5, 0.3, m, &o);
		CHECK(m[0].tp == 1 && m[0].fp == 0 && m[0].fn == 0 && m[0].ap == 1.0);
		compute(ds, 1, t, 1, 1, 1, 0.5, 0.5, m, &o);
		CHECK(m[0].tp == 0 && m[0].fp == 1 && m[0].fn == 1 && m[0].ap == 0.0);
		compute(dh, 1, t, 1, 1, 1, 0.5, 0.5, m, &o);
		CHECK(m[0].tp == 1 && m[0].fp == 0);
		compute(dh, 1, t, 1, 1, 1, 0.5, 0.5001, m, &o);
		CHECK(m[0].tp == 0 && m[0].fp == 1);
		/* overlap 0: any intersection matches, disjoint or touching does not */
		compute(ds, 1, t, 1, 1, 1, 0.5, 0.0, m, &o);
		CHECK(m[0].tp == 1);
		compute(dfar, 1, t, 1, 1, 1, 0.5, 0.0, m, &o);
		CHECK(m[0].tp == 0 && m[0].fp == 1);
		compute(dtouch, 1, t, 1, 1, 1, 0.5, 0.0, m, &o);
		CHECK(m[0].tp == 0 && m[0].fp == 1);
		/* overlap 1: only an identical box */
		compute(dh, 1, t, 1, 1, 1, 0.5, 1.0, m, &o);
		CHECK(m[0].tp == 0);
		{
			cv_image_detection same[] = {D(0, 0, 0.9f, BOX)};

			compute(same, 1, t, 1, 1, 1, 0.5, 1.0, m, &o);
			CHECK(m[0].tp == 1);
		}
	}

	/* a detection only counts for its own image and its own tag */
	{
		cv_truth_box t[] = {T(0, 0, BOX)};
		cv_image_detection other_image[] = {D(1, 0, 0.9f, BOX)};
		cv_image_detection other_tag[] = {D(0, 1, 0.9f, BOX)};
		cv_detect_tag_metrics m2[2];

		compute(other_image, 1, t, 1, 2, 1, 0.5, 0.5, m, &o);
		CHECK(m[0].tp == 0 && m[0].fp == 1 && m[0].fn == 1);
		compute(other_tag, 1, t, 1, 1, 2, 0.5, 0.5, m2, &o);
		CHECK(m2[0].fn == 1 && m2[1].fp == 1 && o.tp == 0);
	}
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

/* Expect the given failure. */
static void
expect(cv_status want, const cv_image_detection *d, int nd,
	   const cv_truth_box *t, int nt, int n_images, int n_tags,
	   double threshold, double overlap, cv_detect_tag_metrics *m, int line)
{
	cv_error	err;
	cv_status	st;

	cv_error_clear(&err);
	st = cv_detect_metrics_compute(d, nd, t, nt, n_images, n_tags, threshold,
								   overlap, m, NULL, &err);
	CHECK_MSG(st == want && err.code == want && err.message[0] != '\0',
			  "line %d: %s (%s), wanted %s", line, cv_status_name(st),
			  err.message, cv_status_name(want));
}

#define EXPECT(want, d, nd, t, nt, ni, nk, th, ov) \
	expect(want, d, nd, t, nt, ni, nk, th, ov, m, __LINE__)

static void
test_errors(void)
{
	cv_truth_box t[] = {T(0, 0, BOX)};
	cv_image_detection d[] = {D(0, 0, 0.9f, BOX)};
	cv_truth_box bad_t[] = {T(0, 0, BOX)};
	cv_image_detection bad_d[] = {D(0, 0, 0.9f, BOX)};
	cv_detect_tag_metrics m[2];
	static const cv_allocator failing = {failing_alloc, failing_realloc, free};

	/* negative counts */
	EXPECT(CV_ERR_PARAM, d, -1, t, 1, 1, 1, 0.5, 0.5);
	EXPECT(CV_ERR_PARAM, d, 1, t, -1, 1, 1, 0.5, 0.5);
	EXPECT(CV_ERR_PARAM, d, 1, t, 1, -1, 1, 0.5, 0.5);
	EXPECT(CV_ERR_PARAM, d, 1, t, 1, 1, -1, 0.5, 0.5);
	/* missing arrays */
	EXPECT(CV_ERR_PARAM, NULL, 1, t, 1, 1, 1, 0.5, 0.5);
	EXPECT(CV_ERR_PARAM, d, 1, NULL, 1, 1, 1, 0.5, 0.5);
	CHECK(cv_detect_metrics_compute(d, 1, t, 1, 1, 1, 0.5, 0.5, NULL, NULL, NULL)
		  == CV_ERR_PARAM);
	/* threshold and overlap outside [0, 1], or NaN */
	EXPECT(CV_ERR_PARAM, d, 1, t, 1, 1, 1, -0.01, 0.5);
	EXPECT(CV_ERR_PARAM, d, 1, t, 1, 1, 1, 1.01, 0.5);
	EXPECT(CV_ERR_PARAM, d, 1, t, 1, 1, 1, NAN, 0.5);
	EXPECT(CV_ERR_PARAM, d, 1, t, 1, 1, 1, 0.5, -0.01);
	EXPECT(CV_ERR_PARAM, d, 1, t, 1, 1, 1, 0.5, 1.01);
	EXPECT(CV_ERR_PARAM, d, 1, t, 1, 1, 1, 0.5, NAN);
	/* the bounds themselves are fine */
	compute(d, 1, t, 1, 1, 1, 0.0, 0.0, m, NULL);
	compute(d, 1, t, 1, 1, 1, 1.0, 1.0, m, NULL);

	/* detection image / tag out of range */
	bad_d[0].image = 1;
	EXPECT(CV_ERR_PARAM, bad_d, 1, t, 1, 1, 1, 0.5, 0.5);
	bad_d[0].image = -1;
	EXPECT(CV_ERR_PARAM, bad_d, 1, t, 1, 1, 1, 0.5, 0.5);
	bad_d[0].image = 0;
	bad_d[0].det.tag = 1;
	EXPECT(CV_ERR_PARAM, bad_d, 1, t, 1, 1, 1, 0.5, 0.5);
	bad_d[0].det.tag = -1;
	EXPECT(CV_ERR_PARAM, bad_d, 1, t, 1, 1, 1, 0.5, 0.5);
	/* with no image or no tag at all, anything is out of range */
	EXPECT(CV_ERR_PARAM, d, 1, NULL, 0, 0, 1, 0.5, 0.5);
	EXPECT(CV_ERR_PARAM, d, 1, NULL, 0, 1, 0, 0.5, 0.5);
	/* true box image / tag out of range */
	bad_t[0].image = 1;
	EXPECT(CV_ERR_PARAM, d, 1, bad_t, 1, 1, 1, 0.5, 0.5);
	bad_t[0].image = -1;
	EXPECT(CV_ERR_PARAM, d, 1, bad_t, 1, 1, 1, 0.5, 0.5);
	bad_t[0].image = 0;
	bad_t[0].tag = 2;
	EXPECT(CV_ERR_PARAM, d, 1, bad_t, 1, 1, 2, 0.5, 0.5);
	bad_t[0].tag = -1;
	EXPECT(CV_ERR_PARAM, d, 1, bad_t, 1, 1, 2, 0.5, 0.5);

	/* a NaN score is bad data */
	bad_d[0] = D(0, 0, NAN, BOX);
	EXPECT(CV_ERR_DATA, bad_d, 1, t, 1, 1, 1, 0.5, 0.5);

	/* the allocator refusing */
	cv_set_allocator(&failing);
	EXPECT(CV_ERR_NOMEM, d, 1, t, 1, 1, 1, 0.5, 0.5);
	EXPECT(CV_ERR_NOMEM, NULL, 0, t, 1, 1, 1, 0.5, 0.5);
	cv_set_allocator(NULL);
}

/* A few thousand images of up to 100 detections: must stay fast. */
static void
test_scale(void)
{
	int			n_images = 3000;
	int			per_image = 100;
	int			nd = n_images * per_image;
	int			nt = n_images * 3;
	cv_image_detection *d = malloc(sizeof(*d) * nd);
	cv_truth_box *t = malloc(sizeof(*t) * nt);
	cv_detect_tag_metrics m[5];
	cv_detect_overall_metrics o;
	uint32_t	x = 12345;

	for (int i = 0; i < nt; i++)
		t[i] = T(i / 3, i % 5, (cv_box) {0.25f * (i % 3), 0.1f, 0.25f, 0.5f});
	for (int i = 0; i < nd; i++)
	{
		x = x * 1664525u + 1013904223u;
		d[i] = D(i / per_image, (int) (x >> 8) % 5, (float) (x >> 16) / 65536.0f,
				 (cv_box) {0.25f * ((x >> 4) % 3), 0.1f, 0.25f, 0.5f});
	}
	compute(d, nd, t, nt, n_images, 5, 0.5, 0.5, m, &o);
	CHECK(o.tp + o.fn == nt);
	CHECK(o.tp + o.fp <= nd);
	CHECK(o.map > 0.0 && o.map <= 1.0);
	free(d);
	free(t);
}

/* ---- the synthetic images ---- */

static bool
colour_eq(const uint8_t *a, const uint8_t *b)
{
	return a[0] == b[0] && a[1] == b[1] && a[2] == b[2];
}

static void
test_synth_deterministic(void)
{
	cv_rgb_image a = {0},
				b = {0};
	cv_truth_box ba[8],
				bb[8];
	int			na,
				nb;
	cv_error	err;
	int			differ = 0;

	for (uint32_t seed = 0; seed < 20; seed++)
	{
		CHECK(detect_synth_image(seed, 96, 64, 4, &a, ba, &na, &err) == CV_OK);
		CHECK(detect_synth_image(seed, 96, 64, 4, &b, bb, &nb, &err) == CV_OK);
		CHECK(a.width == 96 && a.height == 64);
		CHECK(na == nb && memcmp(a.pixels, b.pixels, 96 * 64 * 3) == 0);
		CHECK(memcmp(ba, bb, sizeof(cv_truth_box) * na) == 0);
		cv_rgb_image_free(&b);
		/* a neighbouring seed gives another image */
		CHECK(detect_synth_image(seed + 1, 96, 64, 4, &b, bb, &nb, &err) == CV_OK);
		if (memcmp(a.pixels, b.pixels, 96 * 64 * 3) != 0)
			differ++;
		cv_rgb_image_free(&a);
		cv_rgb_image_free(&b);
	}
	CHECK(differ == 20);
}

/* Boxes inside the image, of the promised sizes, over the drawn pixels. */
static void
test_synth_boxes_match_pixels(void)
{
	int			negatives = 0;
	int			kinds[2] = {0, 0};
	int			sizes[][2] = {{64, 64}, {96, 64}, {50, 80}};

	for (int s = 0; s < 3; s++)
	{
		int			w = sizes[s][0],
					h = sizes[s][1];
		int			short_side = w < h ? w : h;

		for (uint32_t seed = 0; seed < 200; seed++)
		{
			cv_rgb_image img = {0};
			cv_truth_box bx[5];
			int			rects[5][4];	/* x, y, w, h in pixels */
			int			n = -1;
			cv_error	err;

			CHECK(detect_synth_image(seed, w, h, 5, &img, bx, &n, &err) == CV_OK);
			CHECK(n >= 0 && n <= 5);
			if (n == 0)
				negatives++;
			for (int i = 0; i < n; i++)
			{
				const cv_box *b = &bx[i].box;
				/* edges lie on pixel boundaries (header) */
				int			x0 = (int) lroundf(b->left * w),
							y0 = (int) lroundf(b->top * h),
							bw = (int) lroundf(b->width * w),
							bh = (int) lroundf(b->height * h);
				const uint8_t *first;
				bool		ok = true;

				CHECK(bx[i].image == 0);
				CHECK(bx[i].tag == DETECT_SYNTH_RECT || bx[i].tag == DETECT_SYNTH_DISC);
				kinds[bx[i].tag]++;
				CHECK(x0 >= 0 && y0 >= 0 && x0 + bw <= w && y0 + bh <= h);
				CHECK(b->left >= 0 && b->top >= 0 &&
					  b->left + b->width <= 1.0f + 1e-6f &&
					  b->top + b->height <= 1.0f + 1e-6f);
				/*
				 * Boxes of one image never intersect.  Compared in pixels:
				 * boxes that share an edge may overlap by a float rounding
				 * in normalized coordinates (an IoU of ~1e-8).
				 */
				for (int j = 0; j < i; j++)
				{
					CHECK(x0 >= rects[j][0] + rects[j][2] || rects[j][0] >= x0 + bw ||
						  y0 >= rects[j][1] + rects[j][3] || rects[j][1] >= y0 + bh);
					CHECK(cv_box_iou(b, &bx[j].box) < 1e-6);
				}
				rects[i][0] = x0;
				rects[i][1] = y0;
				rects[i][2] = bw;
				rects[i][3] = bh;

				if (bx[i].tag == DETECT_SYNTH_RECT)
				{
					/* 15%..45% of each side; solid red-ish fill */
					CHECK(bw * 100 >= 15 * w && bw * 100 <= 45 * w);
					CHECK(bh * 100 >= 15 * h && bh * 100 <= 45 * h);
					first = img.pixels + ((size_t) y0 * w + x0) * 3;
					CHECK(first[0] >= 170 && first[1] <= 70 && first[2] <= 70);
					for (int y = y0; y < y0 + bh; y++)
						for (int x = x0; x < x0 + bw; x++)
							ok &= colour_eq(img.pixels + ((size_t) y * w + x) * 3, first);
					CHECK(ok);
				}
				else
				{
					const uint8_t *centre;
					int			mx = x0 + bw / 2,
								my = y0 + bh / 2;

					/* a square of 15%..45% of the short side, blue-ish */
					CHECK(bw == bh);
					CHECK(bw * 100 >= 15 * short_side && bw * 100 <= 45 * short_side);
					centre = img.pixels + ((size_t) my * w + mx) * 3;
					CHECK(centre[2] >= 170 && centre[0] <= 70 && centre[1] <= 70);
					/* the disc touches the middle of each side of its box */
					CHECK(colour_eq(img.pixels + ((size_t) my * w + x0) * 3, centre));
					CHECK(colour_eq(img.pixels + ((size_t) my * w + x0 + bw - 1) * 3, centre));
					CHECK(colour_eq(img.pixels + ((size_t) y0 * w + mx) * 3, centre));
					CHECK(colour_eq(img.pixels + ((size_t) (y0 + bh - 1) * w + mx) * 3, centre));
					/* and leaves the corners to the noise */
					CHECK(!colour_eq(img.pixels + ((size_t) y0 * w + x0) * 3, centre));
				}

				/*
				 * Tight box: the row above and the column left of it (when
				 * inside the image) are not the fill, so the object does
				 * not extend past its box.
				 */
				if (y0 > 0)
				{
					const uint8_t *in = img.pixels + ((size_t) y0 * w + x0 + bw / 2) * 3;
					const uint8_t *out = in - (size_t) w * 3;

					CHECK(!colour_eq(in, out));
				}
				if (x0 > 0)
				{
					const uint8_t *in = img.pixels + ((size_t) (y0 + bh / 2) * w + x0) * 3;

					CHECK(!colour_eq(in, in - 3));
				}
			}
			cv_rgb_image_free(&img);
		}
	}
	/* ~15% of 600 images are negatives; both kinds appear */
	CHECK_MSG(negatives >= 50 && negatives <= 140, "%d negatives", negatives);
	CHECK(kinds[0] > 100 && kinds[1] > 100);
}

/* The metrics on synthetic truths: their own boxes as detections score 1. */
static void
test_synth_perfect_detector(void)
{
	cv_truth_box truths[40 * 4];
	cv_image_detection dets[40 * 4];
	int			n = 0;
	cv_detect_tag_metrics m[2];
	cv_detect_overall_metrics o;
	cv_error	err;

	for (int i = 0; i < 40; i++)
	{
		cv_rgb_image img = {0};
		int			k;

		CHECK(detect_synth_image(1000 + i, 64, 64, 4, &img, truths + n, &k, &err) == CV_OK);
		for (int j = n; j < n + k; j++)
		{
			truths[j].image = i;
			dets[j] = D(i, truths[j].tag, 0.5f + 0.01f * (j % 40), truths[j].box);
		}
		n += k;
		cv_rgb_image_free(&img);
	}
	CHECK(n > 40);
	compute(dets, n, truths, n, 40, 2, 0.5, 0.5, m, &o);
	CHECK(o.tp == n && o.fp == 0 && o.fn == 0 && o.map == 1.0);
}

static void
test_synth_errors(void)
{
	cv_rgb_image img = {0};
	cv_truth_box bx[2];
	int			n;
	cv_error	err;
	static const cv_allocator failing = {failing_alloc, failing_realloc, free};

	CHECK(detect_synth_image(1, 15, 64, 2, &img, bx, &n, &err) == CV_ERR_PARAM);
	CHECK(detect_synth_image(1, 64, 4097, 2, &img, bx, &n, &err) == CV_ERR_PARAM);
	CHECK(detect_synth_image(1, 64, 64, -1, &img, bx, &n, &err) == CV_ERR_PARAM);
	CHECK(detect_synth_image(1, 64, 64, 2, &img, NULL, &n, &err) == CV_ERR_PARAM);
	CHECK(detect_synth_image(1, 64, 64, 2, NULL, bx, &n, &err) == CV_ERR_PARAM);
	CHECK(detect_synth_image(1, 64, 64, 2, &img, bx, NULL, &err) == CV_ERR_PARAM);
	CHECK(img.pixels == NULL);
	/* max_objects 0: a negative, boxes may be NULL */
	CHECK(detect_synth_image(1, 16, 16, 0, &img, NULL, &n, &err) == CV_OK && n == 0);
	cv_rgb_image_free(&img);
	cv_set_allocator(&failing);
	CHECK(detect_synth_image(1, 64, 64, 2, &img, bx, &n, &err) == CV_ERR_NOMEM);
	cv_set_allocator(NULL);
	CHECK(img.pixels == NULL);
}

static float
calibrated(float a, float b, float score)
{
	double		z = log(score / (1.0 - score));

	return (float) (1.0 / (1.0 + exp(-(a * z + b))));
}

/*
 * Calibration (detect_calibrate.c): Platt scaling, raised where it would
 * keep every detection under 0.5 although the best held-out detections
 * are nearly all right.
 */
static void
test_calibration(void)
{
	enum
	{
		N = 309
	};
	static cv_image_detection d[N];
	static uint8_t tp[N];
	float		a,
				b;

	/* nothing held out: the identity */
	cv_detect_calibrate(d, tp, 0, &a, &b);
	CHECK(a == 1.0f && b == 0.0f);

	/*
	 * A small project's held-out detections: the 9 best (scores 0.30 down
	 * to 0.22) true, then 300 false ones from 0.21 down to 0.0003, as the
	 * fold detectors of a 16-photo project leave them.  The log-loss of
	 * the 300 keeps the fitted curve under 0.5; the isotonic rate is 1
	 * over the 9, then 0: the curve crosses 0.5 halfway (in logits)
	 * between the 9th (0.22) and the 10th (0.21).
	 */
	for (int i = 0; i < N; i++)
	{
		d[i].image = i % 19;
		d[i].det.tag = 0;
		d[i].det.score = i < 9 ? 0.30f - 0.01f * i : 0.21f - 0.0007f * (i - 9);
		tp[i] = i < 9;
	}
	cv_detect_calibrate(d, tp, N, &a, &b);
	CHECK(a > 0.0f);
	CHECK_MSG(calibrated(a, b, 0.22f) > 0.5f, "p(0.22) = %.3f", calibrated(a, b, 0.22f));
	CHECK_MSG(calibrated(a, b, 0.21f) < 0.5f, "p(0.21) = %.3f", calibrated(a, b, 0.21f));
	{
		double		mid = 0.5 * (log(0.22 / 0.78) + log(0.21 / 0.79));

		CHECK_NEAR(a * mid + b, 0.0, 1e-4);
	}
	/* monotonic: the order of the detections is kept */
	for (int i = 1; i < N; i++)
		CHECK(calibrated(a, b, d[i].det.score) <= calibrated(a, b, d[i - 1].det.score));

	/*
	 * The true ones scattered among as many false ones above them: no
	 * score has a rate of at least one half, nothing is raised.
	 */
	for (int i = 0; i < N; i++)
		tp[i] = i % 3 == 2;
	cv_detect_calibrate(d, tp, N, &a, &b);
	CHECK_MSG(calibrated(a, b, 0.30f) < 0.5f, "p(0.30) = %.3f", calibrated(a, b, 0.30f));

	/*
	 * Equal scores are one group: 2 true and 2 false at one score above
	 * 300 false ones reach the rate 0.5 exactly, and the curve crosses 0.5
	 * just under that score.
	 */
	for (int i = 0; i < N; i++)
	{
		d[i].det.score = i < 4 ? 0.4f : 0.3f - 0.0009f * (i - 4);
		tp[i] = i < 2;
	}
	cv_detect_calibrate(d, tp, N, &a, &b);
	CHECK_MSG(calibrated(a, b, 0.4f) > 0.5f && calibrated(a, b, 0.3f) < 0.5f,
			  "p(0.4) = %.3f, p(0.3) = %.3f", calibrated(a, b, 0.4f), calibrated(a, b, 0.3f));
}

UNIT_MAIN("detect_metrics",
		  UNIT_CASE(test_perfect_image),
		  UNIT_CASE(test_matched_twice),
		  UNIT_CASE(test_tag_without_truth),
		  UNIT_CASE(test_image_without_detections),
		  UNIT_CASE(test_ties_in_score),
		  UNIT_CASE(test_all_point_ap),
		  UNIT_CASE(test_pr_curve),
		  UNIT_CASE(test_threshold_and_overlap),
		  UNIT_CASE(test_errors),
		  UNIT_CASE(test_calibration),
		  UNIT_CASE(test_scale),
		  UNIT_CASE(test_synth_deterministic),
		  UNIT_CASE(test_synth_boxes_match_pixels),
		  UNIT_CASE(test_synth_perfect_detector),
		  UNIT_CASE(test_synth_errors))
