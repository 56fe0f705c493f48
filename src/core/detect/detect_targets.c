/*
 * detect_targets.c
 *	  Step 1 of detect_train.h: which grid cells learn which box, and what
 *	  they regress (cv_detect_assign).
 */
#include "detect_train.h"

#include <math.h>
#include <string.h>

/* Distances are floored at this many cells before the log (box.h). */
#define MIN_DISTANCE 0.05f

cv_status
cv_detect_assign(int gw, int gh, float radius, const cv_box *boxes, const int *tags,
				 int n, cv_cell_target *out, cv_error *err)
{
	float		cw,
				ch;
	int			cells;
	float	   *area;

	if (gw < 1 || gh < 1 || gw > CV_DETECT_MAX_GRID || gh > CV_DETECT_MAX_GRID ||
		!(radius > 0) || n < 0)
		return cv_fail(err, CV_ERR_PARAM, "invalid target assignment arguments");
	cw = 1.0f / gw;
	ch = 1.0f / gh;
	cells = gw * gh;
	area = cv_malloc(sizeof(float) * (size_t) cells);
	if (area == NULL)
		return cv_fail(err, CV_ERR_NOMEM, "out of memory assigning targets");
	for (int c = 0; c < cells; c++)
	{
		out[c].tag = -1;
		out[c].centre = 0.0f;
		memset(out[c].code, 0, sizeof(out[c].code));
		area[c] = INFINITY;
	}
	for (int b = 0; b < n; b++)
	{
		const cv_box *box = &boxes[b];
		float		bcx = box->left + box->width / 2,
					bcy = box->top + box->height / 2;
		float		a = box->width * box->height;
		bool		any = false;

		for (int y = 0; y < gh; y++)
		{
			float		cy = (y + 0.5f) * ch;

			if (cy <= box->top || cy >= box->top + box->height ||
				fabsf(cy - bcy) > radius * ch)
				continue;
			for (int x = 0; x < gw; x++)
			{
				float		cx = (x + 0.5f) * cw;
				int			c = y * gw + x;

				if (cx <= box->left || cx >= box->left + box->width ||
					fabsf(cx - bcx) > radius * cw)
					continue;
				any = true;
				if (a < area[c])
				{
					area[c] = a;
					out[c].tag = (int16_t) tags[b];
					cv_box_encode(box, cx, cy, cw, ch, MIN_DISTANCE, out[c].code);
				}
			}
		}
		if (!any)
		{
			int			x = (int) (bcx * gw),
						y = (int) (bcy * gh);
			int			c;

			x = x < 0 ? 0 : (x >= gw ? gw - 1 : x);
			y = y < 0 ? 0 : (y >= gh ? gh - 1 : y);
			c = y * gw + x;
			if (a < area[c])
			{
				area[c] = a;
				out[c].tag = (int16_t) tags[b];
				cv_box_encode(box, (x + 0.5f) * cw, (y + 0.5f) * ch, cw, ch, MIN_DISTANCE,
							  out[c].code);
			}
		}
	}
	for (int c = 0; c < cells; c++)
		if (out[c].tag >= 0)
		{
			/* distances are exp(code) in cell units: ratios need no units */
			double		l = exp(out[c].code[0]),
						tp = exp(out[c].code[1]),
						r = exp(out[c].code[2]),
						bt = exp(out[c].code[3]);
			double		lr = fmin(l, r) / fmax(l, r),
						tb = fmin(tp, bt) / fmax(tp, bt);

			out[c].centre = (float) sqrt(lr * tb);
		}
	cv_free(area);
	return CV_OK;
}
