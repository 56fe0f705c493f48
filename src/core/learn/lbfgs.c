/*
 * lbfgs.c
 *	  L-BFGS (Nocedal & Wright, algorithm 7.4/7.5) with a backtracking
 *	  Armijo line search.
 *
 * The heads' objectives are convex and smooth, and the first trial step of
 * L-BFGS is nearly always accepted, so a simple backtracking search (with
 * quadratic interpolation) is enough; a pair whose curvature s'y is not
 * positive is skipped so the inverse-Hessian estimate stays positive
 * definite.
 */
#include "lbfgs.h"

#include <math.h>
#include <string.h>

static double
dot(const double *a, const double *b, int n)
{
	double		s = 0.0;

	for (int i = 0; i < n; i++)
		s += a[i] * b[i];
	return s;
}

static double
max_abs(const double *a, int n)
{
	double		m = 0.0;

	for (int i = 0; i < n; i++)
		if (fabs(a[i]) > m)
			m = fabs(a[i]);
	return m;
}

cv_status
cv_lbfgs_minimize(int n, double *x, cv_objective_fn fn, void *arg,
				  const cv_lbfgs_options *opt, cv_tick_fn tick, void *tick_arg,
				  int *iterations, cv_error *err)
{
	int			m = opt->history > 0 ? opt->history : 10;
	double	   *mem;
	double	   *g,
			   *d,
			   *xn,
			   *gn,
			   *s,
			   *y,
			   *rho,
			   *alpha;
	double		f,
				fn_val = 0.0;
	int			stored = 0,
				head = 0,
				iter = 0,
				small_steps = 0;
	cv_status	st;
	size_t		count;

	if (iterations != NULL)
		*iterations = 0;
	if (!cv_mul_size((size_t) n, (size_t) (4 + 2 * m), &count) ||
		!cv_add_size(count, (size_t) (2 * m), &count))
		return cv_fail(err, CV_ERR_LIMIT, "optimisation problem too large");
	mem = cv_calloc(count, sizeof(double));
	if (mem == NULL)
		return cv_fail(err, CV_ERR_NOMEM, "out of memory for the optimiser");
	g = mem;
	d = g + n;
	xn = d + n;
	gn = xn + n;
	s = gn + n;
	y = s + (size_t) m * n;
	rho = y + (size_t) m * n;
	alpha = rho + m;

	st = fn(arg, x, &f, g, err);
	if (st != CV_OK)
		goto done;

	for (iter = 0; iter < opt->max_iter; iter++)
	{
		double		gd,
					step;
		int			tries;

		if (max_abs(g, n) <= opt->gtol)
			break;

		/* two-loop recursion: d = -H g */
		for (int i = 0; i < n; i++)
			d[i] = -g[i];
		for (int j = 0; j < stored; j++)
		{
			int			k = (head - 1 - j + m) % m;

			alpha[k] = rho[k] * dot(s + (size_t) k * n, d, n);
			for (int i = 0; i < n; i++)
				d[i] -= alpha[k] * y[(size_t) k * n + i];
		}
		if (stored > 0)
		{
			int			k = (head - 1 + m) % m;
			double		yy = dot(y + (size_t) k * n, y + (size_t) k * n, n);
			double		gamma = 1.0 / (rho[k] * yy);

			for (int i = 0; i < n; i++)
				d[i] *= gamma;
		}
		for (int j = stored - 1; j >= 0; j--)
		{
			int			k = (head - 1 - j + m) % m;
			double		beta = rho[k] * dot(y + (size_t) k * n, d, n);

			for (int i = 0; i < n; i++)
				d[i] += (alpha[k] - beta) * s[(size_t) k * n + i];
		}
		gd = dot(g, d, n);
		if (!(gd < 0.0))
		{
			/* not a descent direction: forget the history, go downhill */
			stored = 0;
			for (int i = 0; i < n; i++)
				d[i] = -g[i];
			gd = dot(g, d, n);
		}
		step = stored == 0 ? fmin(1.0, 1.0 / sqrt(-gd)) : 1.0;

		for (tries = 0; tries < 40; tries++)
		{
			for (int i = 0; i < n; i++)
				xn[i] = x[i] + step * d[i];
			st = fn(arg, xn, &fn_val, gn, err);
			if (st != CV_OK)
				goto done;
			if (isfinite(fn_val) && fn_val <= f + 1e-4 * step * gd)
				break;
			/* minimiser of the quadratic through f, gd and fn_val */
			{
				double		q = isfinite(fn_val) ?
					-gd * step * step / (2.0 * (fn_val - f - gd * step)) : 0.1 * step;

				step = fmin(fmax(q, 0.1 * step), 0.5 * step);
			}
		}
		if (tries == 40)
			break;				/* no decrease possible: at the optimum to
								 * machine precision */

		{
			double	   *sk = s + (size_t) head * n;
			double	   *yk = y + (size_t) head * n;
			double		sy;

			for (int i = 0; i < n; i++)
			{
				sk[i] = xn[i] - x[i];
				yk[i] = gn[i] - g[i];
			}
			sy = dot(sk, yk, n);
			if (sy > 1e-12 * dot(yk, yk, n))
			{
				rho[head] = 1.0 / sy;
				head = (head + 1) % m;
				if (stored < m)
					stored++;
			}
		}
		memcpy(x, xn, sizeof(double) * n);
		memcpy(g, gn, sizeof(double) * n);
		if (f - fn_val <= opt->ftol * fmax(1.0, fabs(fn_val)))
			small_steps++;
		else
			small_steps = 0;
		f = fn_val;
		if (tick != NULL && !tick(tick_arg))
		{
			st = cv_fail(err, CV_ERR_CANCELED, "training canceled");
			goto done;
		}
		if (small_steps >= 2)
		{
			iter++;
			break;
		}
	}
	st = CV_OK;

done:
	if (iterations != NULL)
		*iterations = iter;
	cv_free(mem);
	return st;
}
