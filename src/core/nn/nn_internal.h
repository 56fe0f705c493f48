/*
 * nn_internal.h
 *	  The loaded network as the executor sees it, shared by build.c and
 *	  build_ops.c (TFLite model to steps), plan.c (arena planning), graph.c (execution) and
 *	  dequant.c.  Not part of the API.
 *
 * A value is one tensor of the file's subgraph 0.  Constants are
 * dequantized to float once at load and owned by the net; activations live
 * in a storage slot of the workspace arena.  Several values share one
 * storage when an operator is an identity on float data (RESHAPE, SQUEEZE,
 * QUANTIZE, DEQUANTIZE): those steps cost nothing at run time.
 */
#ifndef CV_NN_INTERNAL_H
#define CV_NN_INTERNAL_H

#include "nn.h"
#include "nn_kernels.h"
#include "nn_qkernels.h"
#include "tflite.h"

typedef struct nn_value
{
	int			rank;			/* <= 4 for everything the kernels touch */
	int			dims[4];		/* padded to 4 from the left with 1s */
	size_t		count;
	const float *cdata;			/* constant data (owned by net->weights), or NULL */
	int			storage;		/* arena slot of an activation, -1 otherwise */
	int			producer;		/* step that computes it; -1 input/constant */
	/* int8 engine (qbuild.c): held as uint8, real = q_scale * (q - q_zp) */
	bool		quantized;
	float		q_scale;
	int32_t		q_zp;
} nn_value;

typedef struct nn_storage
{
	size_t		floats;
	int			first;			/* first step writing it (-1: graph input) */
	int			last;			/* last step reading it (nsteps: kept to the end) */
	size_t		offset;			/* in floats, from the arena start */
	bool		pinned;			/* read after the run (an output): kept to the end,
								 * never fused away */
} nn_storage;

typedef enum nn_kind
{
	NN_K_CONV,
	NN_K_DEPTHWISE,
	NN_K_FC,
	NN_K_BINARY,
	NN_K_AVG_POOL,
	NN_K_MAX_POOL,
	NN_K_MEAN,
	NN_K_PAD,
	NN_K_ALIAS,					/* identity on float data: no work */
	NN_K_CONCAT,
	NN_K_SOFTMAX,
	NN_K_UNARY,
	/* the int8 engine's steps (qbuild.c, nn_qkernels.h) */
	NN_K_QCONV,
	NN_K_QDEPTHWISE,
	NN_K_QADD,
	NN_K_QPAD,
	NN_K_QUANTIZE,				/* float value -> uint8 copy */
	NN_K_DEQUANTIZE				/* uint8 value -> float copy */
} nn_kind;

typedef struct nn_step
{
	nn_kind		kind;
	int			code;			/* TFLite BuiltinOperator */
	int			op;				/* its operator in the file; -1 for a conversion */
	int			ninputs;
	const int  *inputs;			/* value indices (into net->step_inputs) */
	int			output;
	nn_conv_params conv;		/* CONV, DEPTHWISE, pools */
	int			fc_rows, fc_k, fc_n;	/* FC */
	const float *fc_weights, *fc_bias;
	float		act_min, act_max;
	nn_binop	binop;
	int			a_dims[4], b_dims[4], out_dims[4];	/* BINARY, PAD, MEAN */
	bool		reduce[4];		/* MEAN */
	int			pad_before[4];	/* PAD */
	nn_unop		unop;
	float		beta;			/* SOFTMAX */
	size_t		rows, inner;	/* SOFTMAX */
	size_t		outer;			/* CONCAT */
	const size_t *concat_sizes;
	double		macs;
	char		detail[80];
	/*
	 * Inverted-residual fusion (prepare.c, nn_depthwise_fused): a depthwise
	 * step that also computes the 1x1 expansion before it and / or the 1x1
	 * projection after it, row by row.  Those steps then do nothing
	 * (fused_away), and the tensors between them take no arena space.
	 */
	const struct nn_step *expand;
	const struct nn_step *project;
	bool		fused_away;
	/* int8 engine */
	nn_qconv_params qconv;		/* QCONV, QDEPTHWISE */
	nn_qadd_params qadd;		/* QADD */
	size_t		q_count;		/* QADD, QUANTIZE, DEQUANTIZE: elements */
	float		q_scale;		/* QUANTIZE, DEQUANTIZE */
	int32_t		q_zp;			/* QUANTIZE, DEQUANTIZE, QPAD */
} nn_step;

struct cv_net
{
	cv_net_info info;
	int			nvalues;
	nn_value   *values;
	int			nsteps;
	nn_step    *steps;
	int			nstorages;
	nn_storage *storages;
	int		   *step_inputs;
	size_t	   *concat_sizes;
	float	   *weights;		/* every constant, dequantized (int8 engine: those float steps read) */
	size_t		weights_floats;
	float	   *weights_kn;		/* transposed filters of direct convolutions */
	size_t		weights_kn_floats;
	float	   *weights_packed;	/* packed copies of shared filters (nn_gemm) */
	size_t		weights_packed_floats;
	int			input_value;
	int			output_value;	/* the graph output, -1 when cut (cv_net_options) */
	int			feature_value;	/* -1 when none */
	char		feature_name[128];
	int			n_outputs;		/* requested outputs (cv_net_run_outputs) */
	int			outputs[CV_NET_MAX_OUTPUTS];
	int			nactivations;	/* step outputs that are activations, in order */
	int		   *activations;	/* their value indices */
	size_t	   *activation_names;	/* offsets into names */
	char	   *names;			/* NUL-terminated tensor names */
	bool		layouts_only;	/* loaded with keep_layouts: not runnable */
	size_t		arena_floats;	/* activations */
	size_t		scratch_floats; /* im2col tiles */
	struct nn_qblock *qblocks;	/* integer weights (qbuild.c) */
	/*
	 * Loaded from a prepared blob (prepared.c): every array but values,
	 * steps and storages, and every weight, points into the caller's
	 * read-only bytes, which cv_net_free leaves alone.
	 */
	bool		borrowed;
};

/* One allocation of integer weights (nn_qalloc), freed with the net. */
typedef struct nn_qblock
{
	struct nn_qblock *next;
	size_t		bytes;
	/* 64-byte aligned payload follows */
} nn_qblock;

/* The 64-byte aligned payload of a block, as nn_qalloc returned it. */
static inline void *
nn_qblock_payload(const nn_qblock *b)
{
	return (void *) (((uintptr_t) (b + 1) + 63) & ~(uintptr_t) 63);
}

/*
 * build.c: steps, values and weights from a parsed model, for the input
 * size, outputs and prefix of opt (never NULL; all zero: the whole file).
 */
cv_status	nn_build(const tfl_model *m, const cv_net_options *opt, cv_net *net,
					 cv_error *err);

/* prepare.c: per-kernel weight layouts and block fusion, once at load. */
cv_status	nn_prepare_kernels(cv_net *net, cv_error *err);

/* plan.c: storage lifetimes and arena offsets; fills net->arena_floats. */
cv_status	nn_plan(cv_net *net, cv_error *err);

/*
 * qbuild.c: the int8 engine's rewrite of the built steps (after nn_build's
 * own steps, before nn_prepare_kernels), and its weight blocks.
 */
cv_status	nn_quantize_steps(const tfl_model *m, cv_net *net, cv_error *err);
void	   *nn_qalloc(cv_net *net, size_t bytes);	/* 64-byte aligned, owned by net */
void		nn_qfree_all(cv_net *net);

/*
 * build_ops.c: whether the float engine clamps an operator's result (a TFLite
 * BuiltinOperator code) to its output's quantized range.
 */
bool		nn_op_clamps_to_output(int tfl_code);

/* dequant.c: float value of a constant tensor, count floats into out. */
cv_status	nn_dequantize(const tfl_tensor *t, int index, float *out, cv_error *err);

/* Integer contents of a constant int32/int64 tensor (axes, paddings). */
cv_status	nn_const_ints(const tfl_tensor *t, int index, int64_t *out, size_t max,
						  cv_error *err);

/*
 * prepared.c: recompute the checksum of a prepared blob after changing its
 * bytes, so that the tests and the fuzz harness reach the checks behind it.
 */
void		nn_prepared_reseal(uint8_t *blob, size_t len);
/* The same after making the blob this build's and CPU path's (fuzzing, seeds). */
void		nn_prepared_adopt(uint8_t *blob, size_t len, const char *host_identity);

#endif							/* CV_NN_INTERNAL_H */
