/*
 * build_internal.h
 *	  What the graph build (build.c) and the per-operator build
 *	  (build_ops.c) share: the state of one nn_build call and the two
 *	  entry points of build_ops.c.  Private to those two files.
 */
#ifndef CV_NN_BUILD_INTERNAL_H
#define CV_NN_BUILD_INTERNAL_H

#include "nn_internal.h"

typedef struct build_state
{
	const tfl_model *m;
	cv_net	   *net;
	const cv_net_options *opt;
	bool		check_shapes;	/* at the file's input size: declared shapes hold */
	bool	   *defined;		/* value computed so far (or input/constant) */
	bool	   *need_float;		/* constant needed as float weights */
	bool	   *needed;			/* operator to build */
	int			last_op;		/* prefix_only: no operator after this one is tried */
	int			op;				/* operator being built, for messages */
	cv_error   *err;
} build_state;

/*
 * Build operator i of b->m into step s (its inputs recorded by the caller):
 * validated, its output shape set or checked, its result clamped to its
 * output's quantized range where nn_op_clamps_to_output says so.
 * concat_sizes: room for one size per input (CONCATENATION).
 */
cv_status	nn_build_op(build_state *b, int i, nn_step *s, size_t *concat_sizes);

/* Operators nn_build_op knows: anything else ends a prefix_only build. */
bool		nn_build_known_op(int code);

#endif							/* CV_NN_BUILD_INTERNAL_H */
