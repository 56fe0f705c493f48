/*
 * diverse.h
 *	  Choosing a batch of images to label that is both uncertain and spread
 *	  out: the order of cv_suggest (docs/predictions.md, "Suggestions").
 *
 * Labelling the k most uncertain images of a pool tends to label k images
 * that look alike (the model is unsure of one region of feature space, so
 * of every image in it), and each label after the first teaches little.
 * This follows Zhdanov, "Diverse mini-batch Active Learning" (2019,
 * arXiv:1901.05954): the caller pre-filters the most informative
 * candidates (a multiple of k, most uncertain first); they are clustered
 * into k clusters by k-means weighted by informativeness, and the batch is
 * the candidate nearest each cluster's centre.  Cluster centres go where
 * there is much uncertain mass, so the batch follows the pool's density
 * (unlike greedy farthest-point "core-set" selection, Sener and Savarese
 * 2018, which favours outliers) while no two picks stand for one cluster.
 *
 * Distances are between unit-length feature vectors (squared Euclidean =
 * 2 - 2 cosine), as cv_similar compares images.  Everything is
 * deterministic: the k-means++ seeding (Arthur and Vassilvitskii 2007)
 * draws from a generator with a fixed seed, and every tie goes to the
 * earlier candidate (the more uncertain) or the lower cluster.
 */
#ifndef CV_LEARN_DIVERSE_H
#define CV_LEARN_DIVERSE_H

#include "common/cv_common.h"

/* A weight below this counts as this: a sure image still counts for spread. */
#define CV_DIVERSE_MIN_WEIGHT	1e-3f
/* Lloyd iterations at most (they stop earlier once no candidate moves). */
#define CV_DIVERSE_MAX_ITERATIONS	25

/*
 * Choose min(k, n) of n candidates.  vectors: n x dim, row-major, any
 * length (normalized here; a zero vector is at distance 1 from every unit
 * vector); weights: n informativeness values (uncertainty, 0..1), floored
 * at CV_DIVERSE_MIN_WEIGHT.  Candidates are given most uncertain first;
 * their index is their rank in that order.
 *
 * order receives the chosen indexes in the order to label them: the
 * clusters by their total weight, heaviest first (the most uncertain mass
 * a label stands for; ties: the earlier representative), each by its
 * representative (the member nearest its centre; ties: the earlier).  A
 * cluster left empty (fewer distinct vectors than k) is made up by the
 * earliest candidates not yet chosen, appended in candidate order.  With
 * n <= k every candidate is chosen, in candidate order.  *count receives
 * the number written.
 */
cv_status	cv_diverse_batch(const float *vectors, const float *weights, int n, int dim, int k,
							 int *order, int *count, cv_error *err);

/*
 * Typical points of the uncovered clusters: TypiClust, Hacohen, Dekel and
 * Weinshall, "Active Learning on a Budget: Opposite Strategies Suit High
 * and Low Budgets" (ICML 2022, arXiv:2202.02794).  With few labels,
 * uncertainty sampling does worse than random order (the model's
 * uncertainty is not yet worth much, and it picks outliers and look-alikes:
 * the "cold start"); labelling the most typical images of the regions of
 * feature space no label stands for yet does better there.  All points,
 * labelled and not, are clustered by k-means (unweighted, the seeding and
 * iterations of cv_diverse_batch) into min(labelled + k,
 * CV_TYPICAL_MAX_CLUSTERS) clusters (at least k); then k times: the
 * cluster with the fewest labels (those chosen so far count), ties the
 * largest, then the lowest, clusters under CV_TYPICAL_MIN_CLUSTER points
 * only when no larger one has a candidate left; in it, the candidate of
 * the highest typicality, 1 / (mean distance to its
 * min(CV_TYPICAL_NEIGHBOURS, size - 1) nearest members of the cluster +
 * 1e-5), ties the lower index.  The constants are the paper's.
 */
#define CV_TYPICAL_MAX_CLUSTERS	500
#define CV_TYPICAL_MIN_CLUSTER	5
#define CV_TYPICAL_NEIGHBOURS	20

/*
 * Choose min(k, candidates) of the n points whose labelled flag is false.
 * vectors: n x dim, any length (normalized here).  order receives the
 * chosen indexes (into all n points) in the order chosen: the first the
 * most typical point of the largest cluster without a label.  With no more
 * candidates than k every candidate is chosen, in index order.  *count
 * receives the number written.
 */
cv_status	cv_typical_batch(const float *vectors, const bool *labelled, int n, int dim, int k,
							 int *order, int *count, cv_error *err);

#endif
