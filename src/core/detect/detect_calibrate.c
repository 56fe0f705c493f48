/*
 * detect_calibrate.c
 *	  Step 5 of detect_train.h: the probability mapping of a detector,
 *	  fitted on its held-out detections.
 */
#include "detect_train.h"

#include <math.h>
#include <stdlib.h>

typedef struct scored
{
	double		z;				/* logit of the score */
	uint8_t		tp;
} scored;

static int
cmp_scored_desc(const void *x, const void *y)
{
	double		a = ((const scored *) x)->z,
				b = ((const scored *) y)->z;

	return a > b ? -1 : a < b ? 1 : 0;
}

static double
score_logit(float score)
{
	double		s = fmin(fmax(score, 1e-7), 1 - 1e-7);

	return log(s / (1 - s));
}

/*
 * Where the held-out detections' rate of being right falls below one half,
 * as the logit of a score: the isotonic (pool-adjacent-violators) fit of
 * is_tp on the score, highest first, equal scores pooled, gives blocks of
 * non-increasing rate; the crossing is halfway (in logits) between the
 * lowest score of the last block whose rate is at least 0.5 and the score
 * below it (or 1 below it when nothing is).  False when no block reaches
 * 0.5 (nothing is more often right than wrong) or on NOMEM.
 */
static bool
half_crossing(const cv_image_detection *dets, const uint8_t *is_tp, int n, double *cross)
{
	scored	   *v;
	double	   *sum,
			   *zlo;
	int		   *cnt;
	int			nb = 0,
				last = -1;
	bool		found = false;

	if (n <= 0)
		return false;
	v = cv_malloc(sizeof(scored) * (size_t) n);
	sum = cv_malloc(sizeof(double) * (size_t) n);
	zlo = cv_malloc(sizeof(double) * (size_t) n);
	cnt = cv_malloc(sizeof(int) * (size_t) n);
	if (v == NULL || sum == NULL || zlo == NULL || cnt == NULL)
		goto done;
	for (int i = 0; i < n; i++)
	{
		v[i].z = score_logit(dets[i].det.score);
		v[i].tp = is_tp[i] ? 1 : 0;
	}
	qsort(v, (size_t) n, sizeof(scored), cmp_scored_desc);
	for (int i = 0; i < n; i++)
	{
		/* equal scores are one group from the start */
		if (nb > 0 && v[i].z == zlo[nb - 1])
		{
			sum[nb - 1] += v[i].tp;
			cnt[nb - 1]++;
		}
		else
		{
			sum[nb] = v[i].tp;
			cnt[nb] = 1;
			zlo[nb] = v[i].z;
			nb++;
		}
		/* pool while a block is not less right than the one above it */
		while (nb > 1 && sum[nb - 2] * cnt[nb - 1] <= sum[nb - 1] * cnt[nb - 2])
		{
			sum[nb - 2] += sum[nb - 1];
			cnt[nb - 2] += cnt[nb - 1];
			zlo[nb - 2] = zlo[nb - 1];
			nb--;
		}
	}
	for (int k = 0; k < nb; k++)
		if (2.0 * sum[k] >= cnt[k])
			last = k;
	if (last >= 0)
	{
		double		below = zlo[last] - 1.0;

		/* the highest score under the block: the next block's first */
		for (int i = 0; i < n; i++)
			if (v[i].z < zlo[last])
			{
				below = v[i].z;
				break;
			}
		*cross = 0.5 * (zlo[last] + below);
		found = true;
	}
done:
	cv_free(v);
	cv_free(sum);
	cv_free(zlo);
	cv_free(cnt);
	return found;
}

/*
 * Platt scaling: p = sigmoid(a z + b), z = logit(score), fitted by Newton's
 * method on the log-loss with a weak prior (a near 1, b near 0) so a handful
 * of detections cannot give a wild curve.  a is kept positive, so the order
 * of detections never changes.  Then the floor of half_crossing (below).
 */
void
cv_detect_calibrate(const cv_image_detection *dets, const uint8_t *is_tp, int n,
					float *out_a, float *out_b)
{
	double		a = 1.0,
				b = 0.0;
	const double prior = 1.0;

	for (int it = 0; it < 50 && n > 0; it++)
	{
		double		ga = prior * (a - 1.0),
					gb = prior * b,
					haa = prior,
					hab = 0,
					hbb = prior,
					det,
					da,
					db;

		for (int i = 0; i < n; i++)
		{
			double		s = fmin(fmax(dets[i].det.score, 1e-7), 1 - 1e-7);
			double		z = log(s / (1 - s));
			double		p = 1.0 / (1.0 + exp(-(a * z + b)));
			double		e = p - is_tp[i];
			double		w = p * (1 - p);

			ga += e * z;
			gb += e;
			haa += w * z * z;
			hab += w * z;
			hbb += w;
		}
		det = haa * hbb - hab * hab;
		if (!(det > 1e-12))
			break;
		da = (hbb * ga - hab * gb) / det;
		db = (haa * gb - hab * ga) / det;
		a -= da;
		b -= db;
		if (fabs(da) + fabs(db) < 1e-9)
			break;
	}
	if (!(a > 0.05))
		a = 0.05;
	if (!isfinite(b))
		b = 0;
	/*
	 * The fit weighs every held-out detection down to score 0 (up to 100 a
	 * photo), and on a small project those near-zero ones outnumber the
	 * true boxes a hundred to one: the curve then stays under 0.5 even
	 * where the held-out detections are nearly all right (16 raccoon
	 * photos: the 9 best held-out detections true, the best probability
	 * 0.45).  So the curve is raised, never lowered, until it crosses 0.5
	 * where the held-out detections' own rate of being right does.
	 */
	{
		double		cross;

		if (half_crossing(dets, is_tp, n, &cross) && a * cross + b < 0.0)
			b = -a * cross;
	}
	*out_a = (float) a;
	*out_b = (float) b;
}
