/*
 * test_learn_metrics.c
 *	  Precision, recall and average precision against values computed by
 *	  hand, ties included.
 */
#include "unit.h"

#include <math.h>
#include "learn/metrics.h"

/* AP of one column given as arrays. */
static double
ap_of(const float *scores, const uint8_t *labels, int n)
{
	double		ap = -1.0;
	cv_error	err;

	CHECK(cv_metrics_average_precision(scores, labels, n, 1, &ap, &err) == CV_OK);
	return ap;
}

static void
test_ap_known_ranking(void)
{
	/* positives at ranks 1, 3, 5: (1/1 + 2/3 + 3/5) / 3 */
	float		s[] = {0.9f, 0.8f, 0.7f, 0.6f, 0.5f};
	uint8_t		l[] = {1, 0, 1, 0, 1};
	/* the same, rows shuffled: the ranking is by score, not by row */
	float		s2[] = {0.6f, 0.5f, 0.9f, 0.7f, 0.8f};
	uint8_t		l2[] = {0, 1, 1, 1, 0};

	CHECK_NEAR(ap_of(s, l, 5), (1.0 + 2.0 / 3.0 + 3.0 / 5.0) / 3.0, 1e-12);
	CHECK_NEAR(ap_of(s2, l2, 5), (1.0 + 2.0 / 3.0 + 3.0 / 5.0) / 3.0, 1e-12);

	/* perfect ranking, and all positives last */
	{
		float		a[] = {0.9f, 0.8f, 0.1f, 0.05f};
		uint8_t		la[] = {1, 1, 0, 0};
		uint8_t		lb[] = {0, 0, 1, 1};

		CHECK_NEAR(ap_of(a, la, 4), 1.0, 1e-12);
		CHECK_NEAR(ap_of(a, lb, 4), (1.0 / 3.0 + 2.0 / 4.0) / 2.0, 1e-12);
	}
	/* no positive: 0 */
	{
		float		a[] = {0.9f, 0.1f};
		uint8_t		la[] = {0, 0};

		CHECK_NEAR(ap_of(a, la, 2), 0.0, 0.0);
	}
}

static void
test_ap_ties(void)
{
	/*
	 * 0.9 (pos), then a tie at 0.8 holding one positive and one negative:
	 * the group counts as a whole, precision 2/3 at its end, so
	 * AP = 0.5 * 1 + 0.5 * 2/3 whichever row comes first.
	 */
	float		s[] = {0.9f, 0.8f, 0.8f, 0.1f};
	uint8_t		a[] = {1, 1, 0, 0};
	uint8_t		b[] = {1, 0, 1, 0};
	float		all[] = {0.5f, 0.5f, 0.5f};
	uint8_t		la[] = {1, 0, 1};

	CHECK_NEAR(ap_of(s, a, 4), 0.5 + 0.5 * 2.0 / 3.0, 1e-12);
	CHECK_NEAR(ap_of(s, b, 4), 0.5 + 0.5 * 2.0 / 3.0, 1e-12);
	/* everything tied: AP is the positive fraction */
	CHECK_NEAR(ap_of(all, la, 3), 2.0 / 3.0, 1e-12);
}

/* The curve behind test_ap_ties's ranking, and a stride into a matrix. */
static void
test_pr_curve(void)
{
	/* column 1 of a 4 x 2 matrix: scores .9 .8 .8 .1, labels 1 0 1 0 */
	float		s[] = {0, 0.9f, 0, 0.8f, 0, 0.8f, 0, 0.1f};
	uint8_t		l[] = {0, 1, 0, 0, 0, 1, 0, 0};
	cv_pr_point p[4];
	int			n = -1;
	cv_error	err;

	CHECK(cv_metrics_pr_curve(s + 1, l + 1, 4, 2, p, &n, &err) == CV_OK);
	CHECK(n == 3);				/* the tie is one point */
	CHECK(p[0].threshold == 0.9f && p[0].tp == 1 && p[0].fp == 0);
	CHECK_NEAR(p[0].recall, 0.5, 1e-15);
	CHECK_NEAR(p[0].precision, 1.0, 1e-15);
	CHECK(p[1].threshold == 0.8f && p[1].tp == 2 && p[1].fp == 1);
	CHECK_NEAR(p[1].recall, 1.0, 1e-15);
	CHECK_NEAR(p[1].precision, 2.0 / 3.0, 1e-15);
	CHECK_NEAR(p[2].precision, 0.5, 1e-15);
	/* the envelope: best precision at any recall at least as large */
	CHECK_NEAR(p[0].interpolated, 1.0, 1e-15);
	CHECK_NEAR(p[1].interpolated, 2.0 / 3.0, 1e-15);
	CHECK_NEAR(p[2].interpolated, 0.5, 1e-15);
	CHECK_NEAR(p[0].recall * p[0].precision + (p[1].recall - p[0].recall) * p[1].precision,
			   ap_of((float[]) {0.9f, 0.8f, 0.8f, 0.1f}, (uint8_t[]) {1, 0, 1, 0}, 4), 1e-12);
	/* no positives: recall 0 throughout; NaN refused */
	{
		uint8_t		none[] = {0, 0, 0, 0, 0, 0, 0, 0};

		CHECK(cv_metrics_pr_curve(s + 1, none, 4, 2, p, &n, &err) == CV_OK && n == 3);
		CHECK(p[2].recall == 0.0 && p[2].fp == 4);
		s[3] = NAN;
		CHECK(cv_metrics_pr_curve(s + 1, l + 1, 4, 2, p, &n, &err) == CV_ERR_DATA);
	}
}

static void
test_precision_recall_thresholds(void)
{
	/* multilabel, 4 images x 2 tags */
	float		p[] = {
		0.9f, 0.2f,
		0.6f, 0.7f,
		0.4f, 0.5f,
		0.1f, 0.95f,
	};
	uint8_t		l[] = {
		1, 0,
		0, 1,
		1, 0,
		0, 1,
	};
	cv_tag_metrics tm[2];
	cv_overall_metrics om;
	cv_error	err;

	/* 0.5: tag0 predicted for images 0,1 -> tp 1 fp 1 fn 1 */
	/* tag1 predicted for 1,2,3 -> tp 2 fp 1 fn 0 */
	CHECK(cv_metrics_compute(CV_TASK_MULTILABEL, p, l, NULL, 4, 2, 0.5, tm, &om, &err) == CV_OK);
	CHECK(tm[0].tp == 1 && tm[0].fp == 1 && tm[0].fn == 1 && tm[0].positives == 2);
	CHECK_NEAR(tm[0].precision, 0.5, 1e-12);
	CHECK_NEAR(tm[0].recall, 0.5, 1e-12);
	CHECK(tm[1].tp == 2 && tm[1].fp == 1 && tm[1].fn == 0);
	CHECK_NEAR(tm[1].precision, 2.0 / 3.0, 1e-12);
	CHECK_NEAR(tm[1].recall, 1.0, 1e-12);
	CHECK(om.tp == 3 && om.fp == 2 && om.fn == 1);
	CHECK_NEAR(om.precision, 3.0 / 5.0, 1e-12);
	CHECK_NEAR(om.recall, 3.0 / 4.0, 1e-12);
	/* AP tag0: ranking 0.9(+) 0.6(-) 0.4(+) 0.1(-): (1 + 2/3)/2 */
	CHECK_NEAR(tm[0].ap, (1.0 + 2.0 / 3.0) / 2.0, 1e-12);
	/* AP tag1: 0.95(+) 0.7(+) 0.5(-) 0.2(-): 1 */
	CHECK_NEAR(tm[1].ap, 1.0, 1e-12);
	CHECK_NEAR(om.map, ((1.0 + 2.0 / 3.0) / 2.0 + 1.0) / 2.0, 1e-12);

	/* 0.7: >= includes 0.7 exactly; tag0 {0} tp1; tag1 {1,3} tp2 */
	CHECK(cv_metrics_compute(CV_TASK_MULTILABEL, p, l, NULL, 4, 2, 0.7, tm, &om, &err) == CV_OK);
	CHECK(tm[0].tp == 1 && tm[0].fp == 0 && tm[0].fn == 1);
	CHECK(tm[1].tp == 2 && tm[1].fp == 0 && tm[1].fn == 0);
	CHECK_NEAR(om.precision, 1.0, 1e-12);
	CHECK_NEAR(om.recall, 3.0 / 4.0, 1e-12);

	/* 0: everything predicted */
	CHECK(cv_metrics_compute(CV_TASK_MULTILABEL, p, l, NULL, 4, 2, 0.0, tm, &om, &err) == CV_OK);
	CHECK(om.tp == 4 && om.fp == 4 && om.fn == 0);
	CHECK_NEAR(om.precision, 0.5, 1e-12);

	/* 1: nothing predicted: precision defined as 0, recall 0 */
	CHECK(cv_metrics_compute(CV_TASK_MULTILABEL, p, l, NULL, 4, 2, 1.0, tm, &om, &err) == CV_OK);
	CHECK(om.tp == 0 && om.fp == 0 && om.fn == 4);
	CHECK_NEAR(om.precision, 0.0, 0.0);
	CHECK_NEAR(om.recall, 0.0, 0.0);
	/* AP does not depend on the threshold */
	CHECK_NEAR(om.map, ((1.0 + 2.0 / 3.0) / 2.0 + 1.0) / 2.0, 1e-12);

	/* bad threshold, NaN */
	CHECK(cv_metrics_compute(CV_TASK_MULTILABEL, p, l, NULL, 4, 2, 1.5, tm, &om, &err) == CV_ERR_PARAM);
	p[3] = NAN;
	CHECK(cv_metrics_compute(CV_TASK_MULTILABEL, p, l, NULL, 4, 2, 0.5, tm, &om, &err) == CV_ERR_DATA);
}

static void
test_multiclass_and_negative(void)
{
	/* multiclass, 3 tags, tag 2 negative (an ordinary class here) */
	float		p[] = {
		0.7f, 0.2f, 0.1f,
		0.4f, 0.35f, 0.25f,		/* nothing reaches 0.5 */
		0.1f, 0.1f, 0.8f,
	};
	uint8_t		l[] = {
		1, 0, 0,
		0, 1, 0,
		0, 0, 1,
	};
	bool		neg[] = {false, false, true};
	cv_tag_metrics tm[3];
	cv_overall_metrics om;
	cv_error	err;

	CHECK(cv_metrics_compute(CV_TASK_MULTICLASS, p, l, neg, 3, 3, 0.5, tm, &om, &err) == CV_OK);
	CHECK(om.tp == 2 && om.fp == 0 && om.fn == 1);	/* negative counted */
	CHECK(tm[1].tp == 0 && tm[1].fn == 1);
	CHECK_NEAR(om.recall, 2.0 / 3.0, 1e-12);

	/* same numbers as multilabel: the negative column leaves the overall */
	CHECK(cv_metrics_compute(CV_TASK_MULTILABEL, p, l, neg, 3, 3, 0.5, tm, &om, &err) == CV_OK);
	CHECK(om.tp == 1 && om.fp == 0 && om.fn == 1);
	CHECK(tm[2].tp == 1);		/* but keeps its own figures */
	CHECK_NEAR(om.map, (tm[0].ap + tm[1].ap) / 2.0, 1e-12);
}

static void
test_map_skips_tags_without_positives(void)
{
	float		p[] = {0.9f, 0.3f, 0.2f, 0.6f};
	uint8_t		l[] = {1, 0, 0, 0};
	cv_tag_metrics tm[2];
	cv_overall_metrics om;
	cv_error	err;

	CHECK(cv_metrics_compute(CV_TASK_MULTILABEL, p, l, NULL, 2, 2, 0.5, tm, &om, &err) == CV_OK);
	CHECK(tm[1].positives == 0);
	CHECK_NEAR(tm[1].ap, 0.0, 0.0);
	CHECK_NEAR(om.map, 1.0, 1e-12);
}

UNIT_MAIN("learn_metrics",
		  UNIT_CASE(test_ap_known_ranking),
		  UNIT_CASE(test_ap_ties),
		  UNIT_CASE(test_pr_curve),
		  UNIT_CASE(test_precision_recall_thresholds),
		  UNIT_CASE(test_multiclass_and_negative),
		  UNIT_CASE(test_map_skips_tags_without_positives))
