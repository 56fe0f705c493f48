/*
 * diverse.c
 *	  Uncertain and spread-out batches: weighted k-means over the most
 *	  uncertain candidates, one representative per cluster (diverse.h).
 */
#include "learn/diverse.h"

#include <math.h>
#include <string.h>

/* splitmix64 (Steele, Lea and Flood 2014): a small generator, fixed seed. */
static uint64_t
next_random(uint64_t *state)
{
	uint64_t	z = (*state += 0x9E3779B97F4A7C15ULL);

	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
	z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
	return z ^ (z >> 31);
}

/* Uniform in [0, 1). */
static double
next_uniform(uint64_t *state)
{
	return (double) (next_random(state) >> 11) * (1.0 / 9007199254740992.0);
}

static float
squared_distance(const float *a, const float *b, int dim)
{
	float		s0 = 0, s1 = 0, s2 = 0, s3 = 0;
	int			j = 0;

	for (; j + 4 <= dim; j += 4)
	{
		float		d0 = a[j] - b[j], d1 = a[j + 1] - b[j + 1];
		float		d2 = a[j + 2] - b[j + 2], d3 = a[j + 3] - b[j + 3];

		s0 += d0 * d0;
		s1 += d1 * d1;
		s2 += d2 * d2;
		s3 += d3 * d3;
	}
	for (; j < dim; j++)
	{
		float		d = a[j] - b[j];

		s0 += d * d;
	}
	return (s0 + s1) + (s2 + s3);
}

/* The nearest centre of a point (ties: the lower cluster) and its distance. */
static int
nearest_centre(const float *point, const float *centres, int k, int dim, float *distance)
{
	int			best = 0;
	float		best_d = INFINITY;

	for (int c = 0; c < k; c++)
	{
		float		d = squared_distance(point, centres + (size_t) c * dim, dim);

		if (d < best_d)
		{
			best_d = d;
			best = c;
		}
	}
	*distance = best_d;
	return best;
}

/*
 * k-means++ seeding, weighted: the first centre is the first candidate
 * (the most uncertain); each next one a candidate drawn with probability
 * proportional to weight x squared distance to the nearest centre so far.
 * A candidate at distance 0 (a copy of a centre) is never drawn unless
 * every one is, and then the earliest not yet a centre is taken.
 */
static void
seed_centres(const float *units, const float *w, int n, int dim, int k, float *centres,
			 float *nearest, bool *taken)
{
	uint64_t	state = 0x70677669736A6F6EULL;	/* fixed: the same pool, the same batch */

	memcpy(centres, units, sizeof(float) * dim);
	taken[0] = true;
	for (int i = 0; i < n; i++)
		nearest[i] = squared_distance(units + (size_t) i * dim, centres, dim);
	for (int c = 1; c < k; c++)
	{
		double		total = 0;
		int			pick = -1;

		for (int i = 0; i < n; i++)
			if (!taken[i])
				total += (double) w[i] * nearest[i];
		if (total > 0)
		{
			double		target = next_uniform(&state) * total;
			double		run = 0;

			for (int i = 0; i < n && pick < 0; i++)
			{
				double		mass;

				if (taken[i])
					continue;
				mass = (double) w[i] * nearest[i];
				run += mass;
				if (mass > 0 && run > target)
					pick = i;
			}
			/* rounding left the target past the end: the last with mass */
			for (int i = n - 1; i >= 0 && pick < 0; i--)
				if (!taken[i] && (double) w[i] * nearest[i] > 0)
					pick = i;
		}
		for (int i = 0; i < n && pick < 0; i++)
			if (!taken[i])
				pick = i;
		taken[pick] = true;
		memcpy(centres + (size_t) c * dim, units + (size_t) pick * dim, sizeof(float) * dim);
		for (int i = 0; i < n; i++)
		{
			float		d = squared_distance(units + (size_t) i * dim, centres + (size_t) c * dim, dim);

			if (d < nearest[i])
				nearest[i] = d;
		}
	}
}

/*
 * The vectors scaled to unit length (a zero vector stays zero); CV_ERR_DATA
 * for one that is not finite.
 */
static cv_status
to_units(const float *vectors, int n, int dim, float *units, cv_error *err)
{
	for (int i = 0; i < n; i++)
	{
		const float *v = vectors + (size_t) i * dim;
		float	   *u = units + (size_t) i * dim;
		double		sum = 0;

		for (int j = 0; j < dim; j++)
			sum += (double) v[j] * v[j];
		if (!isfinite(sum))
			return cv_fail(err, CV_ERR_DATA, "candidate %d has a vector or weight that is not finite", i);
		for (int j = 0; j < dim; j++)
			u[j] = sum > 0 ? (float) (v[j] / sqrt(sum)) : 0.0f;
	}
	return CV_OK;
}

/*
 * Weighted k-means on unit vectors: k-means++ seeding, then Lloyd's
 * iterations with weighted means as centres (at most
 * CV_DIVERSE_MAX_ITERATIONS; an empty cluster keeps its centre).  cluster
 * receives each point's cluster; nearest, taken and mass are scratch (n,
 * n and k values).
 */
static void
weighted_kmeans(const float *units, const float *w, int n, int dim, int k, float *centres,
				float *nearest, bool *taken, int *cluster, float *mass)
{
	seed_centres(units, w, n, dim, k, centres, nearest, taken);

	/* Lloyd's iterations, weighted means as centres. */
	for (int i = 0; i < n; i++)
		cluster[i] = -1;
	for (int it = 0; it < CV_DIVERSE_MAX_ITERATIONS; it++)
	{
		bool		moved = false;

		for (int i = 0; i < n; i++)
		{
			float		d;
			int			c = nearest_centre(units + (size_t) i * dim, centres, k, dim, &d);

			if (c != cluster[i])
			{
				cluster[i] = c;
				moved = true;
			}
		}
		if (!moved)
			break;
		memset(mass, 0, sizeof(float) * k);
		for (int i = 0; i < n; i++)
			mass[cluster[i]] += w[i];
		for (int c = 0; c < k; c++)
			if (mass[c] > 0)
				memset(centres + (size_t) c * dim, 0, sizeof(float) * dim);
		for (int i = 0; i < n; i++)
		{
			float	   *centre = centres + (size_t) cluster[i] * dim;
			const float *u = units + (size_t) i * dim;
			float		share = w[i] / mass[cluster[i]];

			for (int j = 0; j < dim; j++)
				centre[j] += share * u[j];
		}
		/* an empty cluster keeps its centre */
	}
}

cv_status
cv_diverse_batch(const float *vectors, const float *weights, int n, int dim, int k,
				 int *order, int *count, cv_error *err)
{
	float	   *units = NULL, *w = NULL, *centres = NULL, *nearest = NULL, *mass = NULL, *rep_d = NULL;
	int		   *cluster = NULL, *rep = NULL, *rank = NULL;
	bool	   *taken = NULL;
	cv_status	status = CV_OK;
	int			written = 0;

	*count = 0;
	if (n < 0 || dim < 1 || k < 1)
		return cv_fail(err, CV_ERR_PARAM, "bad batch request: %d candidates of dimension %d, %d to choose", n, dim, k);
	if (n <= k)
	{
		for (int i = 0; i < n; i++)
			order[i] = i;
		*count = n;
		return CV_OK;
	}

	units = cv_calloc((size_t) n * dim, sizeof(float));
	w = cv_calloc(n, sizeof(float));
	centres = cv_calloc((size_t) k * dim, sizeof(float));
	nearest = cv_calloc(n, sizeof(float));
	mass = cv_calloc(k, sizeof(float));
	rep_d = cv_calloc(k, sizeof(float));
	cluster = cv_calloc(n, sizeof(int));
	rep = cv_calloc(k, sizeof(int));
	rank = cv_calloc(k, sizeof(int));
	taken = cv_calloc(n, sizeof(bool));
	if (!units || !w || !centres || !nearest || !mass || !rep_d || !cluster || !rep || !rank || !taken)
	{
		status = cv_fail(err, CV_ERR_NOMEM, "out of memory choosing a batch of %d among %d", k, n);
		goto done;
	}

	status = to_units(vectors, n, dim, units, err);
	if (status != CV_OK)
		goto done;
	for (int i = 0; i < n; i++)
	{
		if (!isfinite(weights[i]))
		{
			status = cv_fail(err, CV_ERR_DATA, "candidate %d has a vector or weight that is not finite", i);
			goto done;
		}
		w[i] = weights[i] > CV_DIVERSE_MIN_WEIGHT ? weights[i] : CV_DIVERSE_MIN_WEIGHT;
	}

	weighted_kmeans(units, w, n, dim, k, centres, nearest, taken, cluster, mass);

	/* Each cluster's weight and representative: the member nearest its centre. */
	memset(mass, 0, sizeof(float) * k);
	for (int c = 0; c < k; c++)
	{
		rep[c] = -1;
		rep_d[c] = INFINITY;
	}
	for (int i = 0; i < n; i++)
	{
		int			c = cluster[i];
		float		d = squared_distance(units + (size_t) i * dim, centres + (size_t) c * dim, dim);

		mass[c] += w[i];
		if (d < rep_d[c])
		{
			rep_d[c] = d;
			rep[c] = i;
		}
	}

	/* Clusters heaviest first (ties: the earlier representative). */
	{
		int			m = 0;

		for (int c = 0; c < k; c++)
			if (rep[c] >= 0)
				rank[m++] = c;
		for (int a = 1; a < m; a++)
		{
			int			c = rank[a];
			int			b = a;

			while (b > 0 && (mass[rank[b - 1]] < mass[c] ||
							 (mass[rank[b - 1]] == mass[c] && rep[rank[b - 1]] > rep[c])))
			{
				rank[b] = rank[b - 1];
				b--;
			}
			rank[b] = c;
		}
		memset(taken, 0, sizeof(bool) * n);
		for (int a = 0; a < m; a++)
		{
			order[written++] = rep[rank[a]];
			taken[rep[rank[a]]] = true;
		}
	}
	/* Empty clusters: the earliest candidates not chosen. */
	for (int i = 0; i < n && written < k; i++)
		if (!taken[i])
			order[written++] = i;
	*count = written;

done:
	cv_free(units);
	cv_free(w);
	cv_free(centres);
	cv_free(nearest);
	cv_free(mass);
	cv_free(rep_d);
	cv_free(cluster);
	cv_free(rep);
	cv_free(rank);
	cv_free(taken);
	return status;
}

/*
 * Typicality of the candidates of one cluster: 1 / (mean Euclidean
 * distance to the member's nearest min(CV_TYPICAL_NEIGHBOURS, size - 1)
 * other members + 1e-5), the density estimate of TypiClust (diverse.h).
 * members: the cluster's points; the best candidate (not labelled, not
 * yet chosen) is returned, ties to the lower index; -1 if none.
 */
static int
most_typical(const float *units, int dim, const int *members, int size, const bool *unavailable,
			 float *dist, float *scratch)
{
	int			neighbours = size - 1 < CV_TYPICAL_NEIGHBOURS ? size - 1 : CV_TYPICAL_NEIGHBOURS;
	int			best = -1;
	double		best_typicality = -1;

	for (int a = 0; a < size; a++)
	{
		double		sum = 0;
		double		typicality;

		if (unavailable[members[a]])
			continue;
		for (int b = 0; b < size; b++)
			dist[b] = b == a ? INFINITY :
				sqrtf(squared_distance(units + (size_t) members[a] * dim, units + (size_t) members[b] * dim, dim));
		/* the nearest neighbours: a partial selection sort (sizes are small) */
		memcpy(scratch, dist, sizeof(float) * size);
		for (int m = 0; m < neighbours; m++)
		{
			int			lo = m;

			for (int b = m + 1; b < size; b++)
				if (scratch[b] < scratch[lo])
					lo = b;
			{
				float		t = scratch[m];

				scratch[m] = scratch[lo];
				scratch[lo] = t;
			}
			sum += scratch[m];
		}
		typicality = 1.0 / ((neighbours > 0 ? sum / neighbours : 0) + 1e-5);
		if (typicality > best_typicality || (typicality == best_typicality && members[a] < best))
		{
			best_typicality = typicality;
			best = members[a];
		}
	}
	return best;
}

cv_status
cv_typical_batch(const float *vectors, const bool *labelled, int n, int dim, int k,
				 int *order, int *count, cv_error *err)
{
	float	   *units = NULL, *w = NULL, *centres = NULL, *nearest = NULL, *mass = NULL, *dist = NULL, *scratch = NULL;
	int		   *cluster = NULL, *size = NULL, *covered = NULL, *start = NULL, *fill = NULL, *members = NULL;
	bool	   *taken = NULL, *unavailable = NULL;
	cv_status	status = CV_OK;
	int			n_labelled = 0, n_candidates, clusters, written = 0;

	*count = 0;
	if (n < 0 || dim < 1 || k < 1)
		return cv_fail(err, CV_ERR_PARAM, "bad batch request: %d points of dimension %d, %d to choose", n, dim, k);
	for (int i = 0; i < n; i++)
		n_labelled += labelled[i] ? 1 : 0;
	n_candidates = n - n_labelled;
	if (n_candidates <= k)
	{
		for (int i = 0; i < n; i++)
			if (!labelled[i])
				order[written++] = i;
		*count = written;
		return CV_OK;
	}
	clusters = n_labelled + k;
	if (clusters > CV_TYPICAL_MAX_CLUSTERS)
		clusters = CV_TYPICAL_MAX_CLUSTERS > k ? CV_TYPICAL_MAX_CLUSTERS : k;
	if (clusters > n)
		clusters = n;

	units = cv_calloc((size_t) n * dim, sizeof(float));
	w = cv_calloc(n, sizeof(float));
	centres = cv_calloc((size_t) clusters * dim, sizeof(float));
	nearest = cv_calloc(n, sizeof(float));
	mass = cv_calloc(clusters, sizeof(float));
	dist = cv_calloc(n, sizeof(float));
	scratch = cv_calloc(n, sizeof(float));
	cluster = cv_calloc(n, sizeof(int));
	size = cv_calloc(clusters, sizeof(int));
	covered = cv_calloc(clusters, sizeof(int));
	start = cv_calloc(clusters + 1, sizeof(int));
	fill = cv_calloc(clusters, sizeof(int));
	members = cv_calloc(n, sizeof(int));
	taken = cv_calloc(n, sizeof(bool));
	unavailable = cv_calloc(n, sizeof(bool));
	if (!units || !w || !centres || !nearest || !mass || !dist || !scratch || !cluster || !size ||
		!covered || !start || !fill || !members || !taken || !unavailable)
	{
		status = cv_fail(err, CV_ERR_NOMEM, "out of memory choosing a batch of %d among %d", k, n);
		goto done;
	}
	status = to_units(vectors, n, dim, units, err);
	if (status != CV_OK)
		goto done;
	for (int i = 0; i < n; i++)
	{
		w[i] = 1.0f;
		unavailable[i] = labelled[i];
	}

	weighted_kmeans(units, w, n, dim, clusters, centres, nearest, taken, cluster, mass);

	/* Members of each cluster, in index order. */
	for (int i = 0; i < n; i++)
	{
		size[cluster[i]]++;
		if (labelled[i])
			covered[cluster[i]]++;
	}
	for (int c = 0; c < clusters; c++)
		start[c + 1] = start[c] + size[c];
	memcpy(fill, start, sizeof(int) * clusters);
	for (int i = 0; i < n; i++)
		members[fill[cluster[i]]++] = i;

	while (written < k)
	{
		int			pick_cluster = -1, pick;

		/*
		 * The cluster with the fewest labels (chosen ones count), then the
		 * largest, then the lowest; clusters under CV_TYPICAL_MIN_CLUSTER
		 * points only once no larger one has a candidate left.
		 */
		for (int pass = 0; pass < 2 && pick_cluster < 0; pass++)
			for (int c = 0; c < clusters; c++)
			{
				bool		open = false;

				if (pass == 0 && size[c] < CV_TYPICAL_MIN_CLUSTER)
					continue;
				for (int m = start[c]; m < start[c + 1] && !open; m++)
					open = !unavailable[members[m]];
				if (!open)
					continue;
				if (pick_cluster < 0 || covered[c] < covered[pick_cluster] ||
					(covered[c] == covered[pick_cluster] && size[c] > size[pick_cluster]))
					pick_cluster = c;
			}
		if (pick_cluster < 0)
			break;				/* not reached: there are more candidates than k */
		pick = most_typical(units, dim, members + start[pick_cluster], size[pick_cluster], unavailable,
							dist, scratch);
		order[written++] = pick;
		unavailable[pick] = true;
		covered[pick_cluster]++;
	}
	*count = written;

done:
	cv_free(units);
	cv_free(w);
	cv_free(centres);
	cv_free(nearest);
	cv_free(mass);
	cv_free(dist);
	cv_free(scratch);
	cv_free(cluster);
	cv_free(size);
	cv_free(covered);
	cv_free(start);
	cv_free(fill);
	cv_free(members);
	cv_free(taken);
	cv_free(unavailable);
	return status;
}
