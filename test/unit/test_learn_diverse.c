/*
 * test_learn_diverse.c
 *	  cv_diverse_batch (the spread-out batch of cv_suggest) and
 *	  cv_typical_batch (its typical order) on small point sets whose answer
 *	  can be worked out by hand.
 */
#include "unit.h"

#include "learn/diverse.h"

static int
batch(const float *v, const float *w, int n, int dim, int k, int *order)
{
	int			count = -1;
	cv_error	err;

	CHECK(cv_diverse_batch(v, w, n, dim, k, order, &count, &err) == CV_OK);
	return count;
}

/*
 * Three tight groups on the unit circle, at 0, 120 and 240 degrees: four
 * points near 0 (the four most uncertain), three near 120, one at 240.
 * The most-uncertain-first order would label three points of the first
 * group; the batch of three takes one of each group, the heaviest group
 * first, each by its member nearest the group's weighted centre.
 */
static void
test_one_per_group(void)
{
	float		deg[] = {2, -2, 1, -1, 118, 120, 122, 240};
	float		w[] = {0.9f, 0.9f, 0.8f, 0.8f, 0.7f, 0.7f, 0.7f, 0.6f};
	float		v[16];
	int			order[3];

	for (int i = 0; i < 8; i++)
	{
		v[2 * i] = cosf(deg[i] * (float) M_PI / 180);
		v[2 * i + 1] = sinf(deg[i] * (float) M_PI / 180);
	}
	CHECK(batch(v, w, 8, 2, 3, order) == 3);
	/*
	 * Group at 0: weights 0.9, 0.9, 0.8, 0.8 (mass 3.4), its centre at 0
	 * degrees (the +-2 and +-1 pairs cancel exactly), where +1 and -1
	 * (indexes 2, 3) are nearest, the tie to the earlier: 2.  Group at
	 * 120: mass 2.1, centre at 120: index 5.  The point at 240 alone:
	 * mass 0.6, index 7.
	 */
	CHECK_MSG(order[0] == 2 && order[1] == 5 && order[2] == 7,
			  "order %d %d %d", order[0], order[1], order[2]);
}

/*
 * Copies count once: five candidates, two of them the same vector (the
 * same photo added twice); a batch of four is the four distinct vectors,
 * the copy's cluster (weight 2 x 0.5) before the single ones (0.9, 0.8,
 * 0.7 are lighter than 1.0) and the earlier copy as its representative.
 */
static void
test_copies_count_once(void)
{
	float		v[] = {1, 0, 0, 0,
		0, 1, 0, 0,
		0, 0, 1, 0,
		0, 0, 0, 1,
		0, 0, 0, 1};
	float		w[] = {0.9f, 0.8f, 0.7f, 0.5f, 0.5f};
	int			order[4];

	CHECK(batch(v, w, 5, 4, 4, order) == 4);
	CHECK_MSG(order[0] == 3 && order[1] == 0 && order[2] == 1 && order[3] == 2,
			  "order %d %d %d %d", order[0], order[1], order[2], order[3]);
}

/* No more candidates than k: every one, in the order given. */
static void
test_no_choice(void)
{
	float		v[] = {1, 0, 1, 0, 0, 1};
	float		w[] = {0.3f, 0.2f, 0.1f};
	int			order[5];

	CHECK(batch(v, w, 3, 2, 5, order) == 3);
	CHECK(order[0] == 0 && order[1] == 1 && order[2] == 2);
	CHECK(batch(v, w, 3, 2, 3, order) == 3);
	CHECK(order[0] == 0 && order[1] == 1 && order[2] == 2);
}

/*
 * Fewer distinct vectors than k: the clusters that stay empty are made up
 * by the earliest candidates not chosen.  Four candidates, two vectors
 * (0, 1 alike; 2, 3 alike), a batch of three: one of each (the heavier
 * pair first), then candidate 1, the earliest left.
 */
static void
test_fewer_distinct_than_k(void)
{
	float		v[] = {1, 0, 1, 0, 0, 1, 0, 1};
	float		w[] = {0.2f, 0.2f, 0.9f, 0.9f};
	int			order[3];

	CHECK(batch(v, w, 4, 2, 3, order) == 3);
	CHECK_MSG(order[0] == 2 && order[1] == 0 && order[2] == 1,
			  "order %d %d %d", order[0], order[1], order[2]);
}

/* The same input, the same batch; a bad request and a NaN are refused. */
static void
test_deterministic_and_errors(void)
{
	enum {N = 60, D = 8, K = 6};
	float		v[N * D], w[N];
	int			a[K], b[K];
	int			count;
	cv_error	err;

	for (int i = 0; i < N; i++)
	{
		w[i] = 1.0f - (float) i / N;
		for (int j = 0; j < D; j++)
			v[i * D + j] = sinf((float) (i * 7 + j * 3) * 0.37f);
	}
	CHECK(batch(v, w, N, D, K, a) == K);
	CHECK(batch(v, w, N, D, K, b) == K);
	CHECK(memcmp(a, b, sizeof(a)) == 0);
	for (int x = 0; x < K; x++)
		for (int y = x + 1; y < K; y++)
			CHECK(a[x] != a[y]);

	CHECK(cv_diverse_batch(v, w, N, D, 0, a, &count, &err) == CV_ERR_PARAM);
	CHECK(cv_diverse_batch(v, w, N, 0, K, a, &count, &err) == CV_ERR_PARAM);
	v[5] = NAN;
	CHECK(cv_diverse_batch(v, w, N, D, K, a, &count, &err) == CV_ERR_DATA);
}

/* Points on the unit circle at these angles (degrees). */
static void
circle(const float *deg, int n, float *v)
{
	for (int i = 0; i < n; i++)
	{
		v[2 * i] = cosf(deg[i] * (float) M_PI / 180);
		v[2 * i + 1] = sinf(deg[i] * (float) M_PI / 180);
	}
}

static int
typical(const float *v, const bool *labelled, int n, int dim, int k, int *order)
{
	int			count = -1;
	cv_error	err;

	CHECK(cv_typical_batch(v, labelled, n, dim, k, order, &count, &err) == CV_OK);
	return count;
}

/*
 * Four groups on the unit circle: A, six points about 0 degrees, the one
 * at 0 labelled; B, five about 90; C, five about 180, the one at 182
 * labelled; D, one point alone at 270.  Two labels and a batch of two make
 * four clusters: the four groups.  The first pick is the most typical
 * point of the group without a label, B: its middle, 90 (the nearest to
 * the others).  Then every group of five or more has one label (B the one
 * just chosen); D has none but is a cluster under CV_TYPICAL_MIN_CLUSTER
 * points, so it is passed over (although the farthest from every label,
 * what a core-set order would take first); of A, B and C the largest, A,
 * and in it the unlabelled point nearest the rest: 1 degree (mean
 * distance to the other five about 9/5 of a degree; -1 degree: 11/5).
 */
static void
test_typical_covers_largest_groups(void)
{
	float		deg[] = {0, 1, -1, 2, -2, 3,
		88, 89, 90, 91, 92,
		178, 179, 180, 181, 182,
		270};
	bool		labelled[17] = {false};
	float		v[34];
	int			order[2];

	labelled[0] = labelled[15] = true;
	circle(deg, 17, v);
	CHECK(typical(v, labelled, 17, 2, 2, order) == 2);
	CHECK_MSG(order[0] == 8 && order[1] == 1, "order %d %d", order[0], order[1]);
}

/*
 * A group already labelled yields after the uncovered ones: A (the first
 * six, one label) and B (the next five, none): a batch of one is the
 * middle of B although A is larger; with the labelled point of A moved to
 * B, the middle of A.
 */
static void
test_typical_prefers_uncovered(void)
{
	float		deg[] = {-3, -2, -1, 1, 2, 3,
		118, 119, 120, 121, 122};
	bool		labelled[11] = {true};
	float		v[22];
	int			order[1];

	circle(deg, 11, v);
	CHECK(typical(v, labelled, 11, 2, 1, order) == 1);
	CHECK_MSG(order[0] == 8, "order %d", order[0]);
	labelled[0] = false;
	labelled[10] = true;
	CHECK(typical(v, labelled, 11, 2, 1, order) == 1);
	/* -1 and 1 are equally typical in A: the lower index */
	CHECK_MSG(order[0] == 2 || order[0] == 3, "order %d", order[0]);
}

/*
 * No more candidates than k: all of them, in index order, labelled ones
 * left out; a bad request and a NaN are refused; the same input gives the
 * same batch, of distinct candidates.
 */
static void
test_typical_no_choice_and_errors(void)
{
	enum {N = 80, D = 8, K = 7};
	float		v[N * D];
	bool		labelled[N] = {false};
	int			a[K], b[K];
	int			count;
	cv_error	err;

	for (int i = 0; i < N; i++)
		for (int j = 0; j < D; j++)
			v[i * D + j] = sinf((float) (i * 7 + j * 3) * 0.37f);
	for (int i = 0; i < N; i++)
		labelled[i] = i >= 3;
	CHECK(typical(v, labelled, N, D, K, a) == 3);
	CHECK(a[0] == 0 && a[1] == 1 && a[2] == 2);
	for (int i = 0; i < N; i++)
		labelled[i] = i % 4 == 0;
	CHECK(typical(v, labelled, N, D, K, a) == K);
	CHECK(typical(v, labelled, N, D, K, b) == K);
	CHECK(memcmp(a, b, sizeof(a)) == 0);
	for (int x = 0; x < K; x++)
	{
		CHECK(!labelled[a[x]]);
		for (int y = x + 1; y < K; y++)
			CHECK(a[x] != a[y]);
	}
	CHECK(cv_typical_batch(v, labelled, N, D, 0, a, &count, &err) == CV_ERR_PARAM);
	CHECK(cv_typical_batch(v, labelled, N, 0, K, a, &count, &err) == CV_ERR_PARAM);
	v[9] = NAN;
	CHECK(cv_typical_batch(v, labelled, N, D, K, a, &count, &err) == CV_ERR_DATA);
}

UNIT_MAIN("learn_diverse",
		  UNIT_CASE(test_one_per_group),
		  UNIT_CASE(test_copies_count_once),
		  UNIT_CASE(test_no_choice),
		  UNIT_CASE(test_fewer_distinct_than_k),
		  UNIT_CASE(test_deterministic_and_errors),
		  UNIT_CASE(test_typical_covers_largest_groups),
		  UNIT_CASE(test_typical_prefers_uncovered),
		  UNIT_CASE(test_typical_no_choice_and_errors))
