/*
 * detect_calibrate.c
 *	  Step 5 of detect_train.h: the probability mapping of a detector,
 *	  fitted on its held-out detections.
 */
#include "detect_train.h"

#include <math.h>

/*
 * Platt scaling: p = sigmoid(a z + b), z = logit(score), fitted by Newton's
 * method on the log-loss with a weak prior (a near 1, b near 0) so a handful
 * of detections cannot give a wild curve.  a is kept positive, so the order
 * of detections never changes.
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
	*out_a = (float) a;
	*out_b = (float) b;
}
