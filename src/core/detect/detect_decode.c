/*
 * detect_decode.c
 *	  From the head's outputs to detections (detector.h): each cell's score
 *	  per tag (the tag's probability times the cell's centredness, their
 *	  geometric mean), the box it regresses, the calibration of scores to
 *	  probabilities, per-tag non-maximum suppression, clipping to the image.
 */
#include "detector.h"

#include <math.h>

static float
sigmoidf(float x)
{
	return 1.0f / (1.0f + expf(-x));
}

float
cv_detector_calibrate(const cv_detector *d, float score)
{
	double		s = fmin(fmax(score, 1e-7), 1.0 - 1e-7);
	double		z = d->calib_a * log(s / (1.0 - s)) + d->calib_b;

	return (float) (1.0 / (1.0 + exp(-z)));
}

/* The raw score whose calibrated probability is p (calib_a > 0). */
static float
uncalibrate(const cv_detector *d, float p)
{
	double		q = fmin(fmax(p, 1e-7), 1.0 - 1e-7);
	double		z = (log(q / (1.0 - q)) - d->calib_b) / d->calib_a;

	return (float) (1.0 / (1.0 + exp(-z)));
}

cv_status
cv_detector_decode(const cv_detector *d, const float *out, float min_probability,
				   double nms_overlap, int max_detections, cv_detection **dets,
				   int *n_dets, cv_error *err)
{
	cv_detector_shape s;
	int			cells,
				out_dim = cv_detector_out_dim(d->n_tags);
	cv_detection *cand = NULL;
	int			n_cand = 0,
				kept;
	float		min_score;
	cv_status	st = CV_OK;

	*dets = NULL;
	*n_dets = 0;
	if (!(min_probability >= 0.0f && min_probability <= 1.0f))
		return cv_fail(err, CV_ERR_PARAM, "threshold must be between 0 and 1");
	if (!(nms_overlap >= 0.0 && nms_overlap <= 1.0))
		return cv_fail(err, CV_ERR_PARAM, "overlap must be between 0 and 1");
	if (max_detections < 1)
		return cv_fail(err, CV_ERR_PARAM, "max_detections must be at least 1");
	cv_detector_get_shape(d, &s);
	cells = cv_detector_cells(&s);
	/* Candidates: every (cell, tag) whose calibrated probability is enough. */
	min_score = d->calib_a > 0.0f ? uncalibrate(d, min_probability) : 0.0f;
	for (int pass = 0; pass < 2; pass++)
	{
		n_cand = 0;
		for (int c = 0; c < cells; c++)
		{
			const float *o = out + (size_t) c * out_dim;
			float		centre = sigmoidf(o[d->n_tags + 4]);

			for (int k = 0; k < d->n_tags; k++)
			{
				float		score = sqrtf(sigmoidf(o[k]) * centre);

				if (score < min_score || cv_detector_calibrate(d, score) < min_probability)
					continue;
				if (pass == 1)
				{
					int			y = c / s.map_width[0],
								x = c % s.map_width[0];
					float		cw = 1.0f / s.map_width[0],
								ch = 1.0f / s.map_height[0];

					cand[n_cand].tag = k;
					cand[n_cand].score = score;
					cand[n_cand].box = cv_box_decode(o + d->n_tags, (x + 0.5f) * cw,
													 (y + 0.5f) * ch, cw, ch);
				}
				n_cand++;
			}
		}
		if (pass == 0)
		{
			if (n_cand == 0)
				goto done;
			cand = cv_malloc(sizeof(cv_detection) * (size_t) n_cand);
			if (cand == NULL)
			{
				st = cv_fail(err, CV_ERR_NOMEM, "out of memory for detections");
				goto done;
			}
		}
	}
	kept = cv_detect_nms(cand, n_cand, 0.0f, nms_overlap, max_detections, err);
	if (kept < 0)
	{
		st = err != NULL ? err->code : CV_ERR_NOMEM;
		goto done;
	}

	/* Clip and calibrate; a box clipped to nothing is no detection. */
	{
		int			m = 0;

		for (int i = 0; i < kept; i++)
		{
			cv_detection dd = cand[i];

			dd.box = cv_box_clip(dd.box);
			if (dd.box.width <= 0.0f || dd.box.height <= 0.0f)
				continue;
			dd.score = cv_detector_calibrate(d, dd.score);
			cand[m++] = dd;
		}
		kept = m;
	}
	if (kept == 0)
	{
		cv_free(cand);
		cand = NULL;
	}
	*dets = cand;
	*n_dets = kept;
	cand = NULL;
done:
	cv_free(cand);
	return st;
}
