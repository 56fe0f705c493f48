/*
 * plan.c
 *	  Activation memory planning: one arena per workspace, sized once per
 *	  network, in which storages whose lifetimes do not overlap share bytes.
 *
 * A storage lives from the step that writes it to the last step that reads
 * it (the graph input from before step 0; the pinned ones, the scores, the
 * features and requested outputs, to the end, since the run copies them out
 * last).  A step's output never
 * shares bytes with its inputs, since their lifetimes meet at that step.
 * Placement is TFLite's "greedy by size" idea: largest storage first, each
 * at the lowest offset that fits between the already placed storages it
 * overlaps in time.  MobileNet V2 224 needs about 2.6 MB instead of the
 * 30 MB of one buffer per tensor.
 */
#include "nn_internal.h"

#include <limits.h>
#include <stdlib.h>

#define ALIGN_FLOATS 16			/* 64-byte alignment of every storage */

typedef struct plan_item
{
	size_t		key;			/* floats when sorting by size, offset when by place */
	size_t		floats;
	int			index;
} plan_item;

static int
by_key_desc(const void *a, const void *b)
{
	const plan_item *x = a,
			   *y = b;

	if (x->key != y->key)
		return x->key > y->key ? -1 : 1;
	return x->index - y->index;
}

static int
by_key_asc(const void *a, const void *b)
{
	return by_key_desc(b, a);
}

static bool
overlap(const nn_storage *x, const nn_storage *y)
{
	return x->first <= y->last && y->first <= x->last;
}

cv_status
nn_plan(cv_net *net, cv_error *err)
{
	int			n = net->nstorages;
	plan_item  *order = NULL,
			   *conflicts = NULL;
	int		   *placed = NULL;
	int			nplaced = 0;
	size_t		top = 0;

	for (int s = 0; s < n; s++)
	{
		net->storages[s].first = INT_MAX;
		net->storages[s].last = -1;
		/* round up so that every offset stays aligned */
		net->storages[s].floats = (net->storages[s].floats + ALIGN_FLOATS - 1) /
			ALIGN_FLOATS * ALIGN_FLOATS;
	}
	net->storages[net->values[net->input_value].storage].first = -1;
	for (int i = 0; i < net->nsteps; i++)
	{
		const nn_step *st = &net->steps[i];
		int			o = net->values[st->output].storage;

		/*
		 * A fused block (nn_depthwise_fused) runs at its depthwise step:
		 * it reads the expansion's input there and writes the projection's
		 * output there; the tensors in between are never written.
		 */
		if (st->expand != NULL)
		{
			int			v = st->expand->inputs[0];

			net->storages[net->values[st->expand->output].storage].floats = 0;
			if (v >= 0 && net->values[v].storage >= 0 &&
				net->storages[net->values[v].storage].last < i)
				net->storages[net->values[v].storage].last = i;
		}
		if (st->project != NULL)
		{
			int			po = net->values[st->project->output].storage;

			if (o >= 0)
				net->storages[o].floats = 0;
			if (po >= 0 && net->storages[po].first > i)
				net->storages[po].first = i;
		}

		/*
		 * An integer convolution whose output the next step ADDs keeps its
		 * inputs alive through that ADD, so that the ADD's output never
		 * shares their bytes and can be computed in the convolution's
		 * parts (graph.c, plan_residual_adds).
		 */
		int			until = i;

		if (st->kind == NN_K_QCONV && i + 1 < net->nsteps &&
			net->steps[i + 1].kind == NN_K_QADD && net->steps[i + 1].ninputs == 2 &&
			(net->steps[i + 1].inputs[0] == st->output ||
			 net->steps[i + 1].inputs[1] == st->output))
			until = i + 1;
		for (int k = 0; k < st->ninputs; k++)
		{
			int			v = st->inputs[k];

			if (v >= 0 && net->values[v].storage >= 0)
			{
				nn_storage *s = &net->storages[net->values[v].storage];

				if (s->last < until)
					s->last = until;
			}
		}
		if (o >= 0)
		{
			if (net->storages[o].first > i)
				net->storages[o].first = i;
			if (net->storages[o].last < i)
				net->storages[o].last = i;
		}
	}
	for (int s = 0; s < n; s++)
		if (net->storages[s].pinned)
			net->storages[s].last = net->nsteps;

	order = cv_calloc((size_t) n + 1, sizeof(plan_item));
	conflicts = cv_calloc((size_t) n + 1, sizeof(plan_item));
	placed = cv_calloc((size_t) n + 1, sizeof(int));
	if (order == NULL || conflicts == NULL || placed == NULL)
	{
		cv_free(order);
		cv_free(conflicts);
		cv_free(placed);
		return cv_fail(err, CV_ERR_NOMEM, "out of memory planning activations");
	}
	for (int s = 0; s < n; s++)
	{
		order[s].key = net->storages[s].floats;
		order[s].index = s;
	}
	qsort(order, (size_t) n, sizeof(plan_item), by_key_desc);

	for (int k = 0; k < n; k++)
	{
		nn_storage *s = &net->storages[order[k].index];
		size_t		offset = 0;
		int			nconf = 0;

		/*
		 * The placed storages alive at the same time, by offset: take the
		 * first gap between them that is large enough.
		 */
		for (int j = 0; j < nplaced; j++)
		{
			const nn_storage *p = &net->storages[placed[j]];

			if (overlap(s, p))
			{
				conflicts[nconf].key = p->offset;
				conflicts[nconf].floats = p->floats;
				conflicts[nconf].index = placed[j];
				nconf++;
			}
		}
		qsort(conflicts, (size_t) nconf, sizeof(plan_item), by_key_asc);
		for (int j = 0; j < nconf; j++)
		{
			if (conflicts[j].key >= offset + s->floats)
				break;
			if (conflicts[j].key + conflicts[j].floats > offset)
				offset = conflicts[j].key + conflicts[j].floats;
		}
		s->offset = offset;
		placed[nplaced++] = order[k].index;
		if (offset + s->floats > top)
			top = offset + s->floats;
	}
	cv_free(order);
	cv_free(conflicts);
	cv_free(placed);
	net->arena_floats = top;
	return CV_OK;
}
