/*
 * prepare.c
 *	  After the graph is built: get each convolution ready for the kernel
 *	  that will run it (transposed filters for the direct convolutions,
 *	  filters packed for our GEMM, fused depthwise blocks), once at load.
 *
 * Split from the graph build (build.c, build_ops.c), which validates the
 * file and infers shapes: this file only rearranges weights that the build
 * has already checked.
 */
#include "nn_internal.h"

#include <stdio.h>
#include <string.h>

/*
 * Transposed filters, [k_h][k_w][in_c][out_c], for the convolutions that
 * conv.c computes directly (few input channels): a private copy per step,
 * since a filter tensor may be shared.
 */
static cv_status
prepare_direct_convs(cv_net *net, cv_error *err)
{
	size_t		total = 0,
				at = 0;

	for (int i = 0; i < net->nsteps; i++)
		if (net->steps[i].kind == NN_K_CONV && nn_conv2d_wants_direct(&net->steps[i].conv))
		{
			const nn_conv_params *p = &net->steps[i].conv;

			total += (size_t) p->out_c * p->k_h * p->k_w * p->in_c;
		}
	if (total == 0)
		return CV_OK;
	net->weights_kn = cv_malloc(total * sizeof(float));
	if (net->weights_kn == NULL)
		return cv_fail(err, CV_ERR_NOMEM, "out of memory for %zu weights", total);
	net->weights_kn_floats = total;
	net->info.weight_bytes += total * sizeof(float);
	for (int i = 0; i < net->nsteps; i++)
		if (net->steps[i].kind == NN_K_CONV && nn_conv2d_wants_direct(&net->steps[i].conv))
		{
			nn_conv_params *p = &net->steps[i].conv;
			size_t		k = (size_t) p->k_h * p->k_w * p->in_c;
			float	   *dst = net->weights_kn + at;

			for (int o = 0; o < p->out_c; o++)
				for (size_t j = 0; j < k; j++)
					dst[j * p->out_c + o] = p->weights[o * k + j];
			p->weights_kn = dst;
			at += k * p->out_c;
		}
	return CV_OK;
}

/* How many step inputs read floats of [data, data + count). */
static int
constant_readers(const cv_net *net, const float *data, size_t count)
{
	int			n = 0;

	for (int i = 0; i < net->nsteps; i++)
		for (int k = 0; k < net->steps[i].ninputs; k++)
		{
			int			v = net->steps[i].inputs[k];
			const nn_value *val;

			if (v < 0)
				continue;
			val = &net->values[v];
			if (val->cdata != NULL && val->cdata < data + count &&
				data < val->cdata + val->count)
				n++;
		}
	return n;
}

/*
 * Filters of the convolutions run by nn_gemm, packed (gemm.c).  The packed
 * copy has as many floats as the filters, so it replaces them in place
 * unless another input also reads them (a shared filter tensor): then the
 * step gets a private copy.
 */
static cv_status
prepare_gemm_convs(cv_net *net, cv_error *err)
{
	size_t		total = 0,
				at = 0,
				tmp_floats = 0;
	float	   *tmp;

	for (int i = 0; i < net->nsteps; i++)
		if (net->steps[i].kind == NN_K_CONV || net->steps[i].kind == NN_K_DEPTHWISE)
			net->steps[i].conv.simd512 = nn_simd512_available();
	for (int i = 0; i < net->nsteps; i++)
	{
		nn_conv_params *p = &net->steps[i].conv;
		size_t		count;

		if (net->steps[i].kind != NN_K_CONV || p->weights_kn != NULL ||
			!nn_conv2d_wants_gemm(p))
			continue;
		count = (size_t) p->out_c * p->k_h * p->k_w * p->in_c;
		if (count > tmp_floats)
			tmp_floats = count;
		if (constant_readers(net, p->weights, count) != 1)
			total += count;
	}
	if (tmp_floats == 0)
		return CV_OK;
	if (total > 0)
	{
		net->weights_packed = cv_malloc(total * sizeof(float));
		if (net->weights_packed == NULL)
			return cv_fail(err, CV_ERR_NOMEM, "out of memory for %zu weights", total);
		net->weights_packed_floats = total;
		net->info.weight_bytes += total * sizeof(float);
	}
	tmp = cv_malloc(tmp_floats * sizeof(float));
	if (tmp == NULL)
		return cv_fail(err, CV_ERR_NOMEM, "out of memory for %zu weights", tmp_floats);
	for (int i = 0; i < net->nsteps; i++)
	{
		nn_conv_params *p = &net->steps[i].conv;
		int			k = p->k_h * p->k_w * p->in_c;
		size_t		count = (size_t) p->out_c * k;
		float	   *dst;

		if (net->steps[i].kind != NN_K_CONV || p->weights_kn != NULL ||
			!nn_conv2d_wants_gemm(p))
			continue;
		if (constant_readers(net, p->weights, count) != 1)
		{
			dst = net->weights_packed + at;
			at += count;
		}
		else
			dst = (float *) p->weights; /* owned by net->weights, read only here */
		nn_gemm_pack(k, p->out_c, p->weights, tmp);
		memcpy(dst, tmp, count * sizeof(float));
		p->weights = dst;
		p->packed = true;
	}
	cv_free(tmp);
	return CV_OK;
}

/*
 * The only step that reads value v (its storage), or -1.  A pinned storage
 * (the scores, the features, a requested output) is also read after the
 * run, so it has no sole reader and is never fused away.
 */
static int
sole_reader(const cv_net *net, int v)
{
	int			st = net->values[v].storage,
				reader = -1;

	if (st < 0 || net->storages[st].pinned)
		return -1;
	for (int j = 0; j < net->nsteps; j++)
		for (int k = 0; k < net->steps[j].ninputs; k++)
		{
			int			u = net->steps[j].inputs[k];

			if (u >= 0 && net->values[u].storage == st)
			{
				if (reader >= 0)
					return -1;
				reader = j;
			}
		}
	return reader;
}

static void
append_detail(nn_step *s, const char *fmt, int step)
{
	size_t		len = strlen(s->detail);

	snprintf(s->detail + len, sizeof(s->detail) - len, fmt, step);
}

/*
 * Inverted-residual fusion (nn_depthwise_fused), when the depthwise runs on
 * the AVX-512 path: the packed 1x1 convolution right before it, if its
 * output is read by this depthwise only, and the packed 1x1 right after
 * it, if it alone reads the depthwise's output.
 */
static void
prepare_fusion(cv_net *net)
{
	for (int i = 0; i < net->nsteps; i++)
	{
		nn_step    *d = &net->steps[i];

		if (d->kind != NN_K_DEPTHWISE || d->ninputs < 1 || d->inputs[0] < 0)
			continue;
		if (i > 0)
		{
			nn_step    *e = &net->steps[i - 1];

			if (e->kind == NN_K_CONV && !e->fused_away && d->inputs[0] == e->output &&
				nn_depthwise_can_fuse_expand(&e->conv, &d->conv) &&
				sole_reader(net, e->output) == i)
			{
				d->expand = e;
				e->fused_away = true;
				append_detail(e, " [in %d]", i);
				append_detail(d, " [+ %d]", i - 1);
			}
		}
		if (i + 1 < net->nsteps)
		{
			nn_step    *q = &net->steps[i + 1];

			if (q->kind == NN_K_CONV && q->ninputs >= 1 && q->inputs[0] == d->output &&
				nn_depthwise_can_fuse_project(&d->conv, &q->conv) &&
				sole_reader(net, d->output) == i + 1)
			{
				d->project = q;
				q->fused_away = true;
				append_detail(q, " [in %d]", i);
				append_detail(d, " [+ %d]", i + 1);
			}
		}
	}
}

cv_status
nn_prepare_kernels(cv_net *net, cv_error *err)
{
	cv_status	st = prepare_direct_convs(net, err);

	if (st == CV_OK)
		st = prepare_gemm_convs(net, err);
	if (st == CV_OK)
		prepare_fusion(net);
	return st;
}
