/*
 * nn.h
 *	  Pretrained convolutional networks read from TFLite files and run on the
 *	  CPU in float32 on OpenBLAS: the backbones of the imported domains.
 *
 * Loading (cv_net_load) parses and validates the whole flatbuffer (every
 * offset, length, tensor shape and buffer size), checks that every operator
 * is one we run, infers every output shape from the operator and checks it
 * against the shape the file declares (a file may leave it out), dequantizes
 * every weight to float once, and plans one activation arena with
 * liveness-based reuse.  A truncated, hostile or unsupported file
 * is an error (CV_ERR_CORRUPT, CV_ERR_UNSUPPORTED, CV_ERR_LIMIT), never a
 * crash.  The loaded cv_net does not point into the caller's bytes.
 *
 * Running (cv_net_run) allocates nothing: every buffer lives in the
 * workspace, created once per caller (cv_net_workspace_create).  A cv_net is
 * immutable after load, so several workspaces (threads, backends) may run
 * one net concurrently.
 *
 * Activations are float32 whatever the file's activation types: the
 * quantized uint8/int8 activations of the file are replaced by the real
 * values they stand for, so QUANTIZE and DEQUANTIZE are identities.  As in
 * TFLite's integer kernels, the result of a convolution, pool, ADD, MUL,
 * FULLY_CONNECTED or CONCATENATION is clamped to the range its quantized
 * output can represent (the SSD MobileNet V1 file has no fused RELU6 and
 * relies on it).
 *
 * Supported operators: CONV_2D, DEPTHWISE_CONV_2D, FULLY_CONNECTED, ADD,
 * MUL, AVERAGE_POOL_2D, MAX_POOL_2D, MEAN, PAD, RESHAPE, SQUEEZE,
 * CONCATENATION, SOFTMAX, LOGISTIC, RELU, RELU6, HARD_SWISH, QUANTIZE,
 * DEQUANTIZE.  Weights: float32, float16, uint8 per-tensor, int8 per-tensor
 * or per-channel.  See docs/backbones.md.
 */
#ifndef CV_NN_H
#define CV_NN_H

#include "../common/cv_common.h"

/* Immutable after load: safe to share read-only between runs. */
typedef struct cv_net cv_net;

typedef struct cv_net_info
{
	int			input_width;	/* from the input tensor, NHWC */
	int			input_height;
	int			input_channels; /* always 3 (RGB) */

	/*
	 * float_in = (pixel - input_zero_point) * input_scale, pixel in 0..255.
	 * For a uint8 input tensor these are its quantization parameters; for
	 * int8 the zero point is shifted by 128 (the int8 value is pixel - 128);
	 * for a float32 input with quantization parameters those are used, and
	 * without them the MobileNet convention scale 1/128, zero point 128
	 * (pixels to [-1, 1)).
	 */
	float		input_scale;
	int			input_zero_point;
	int			num_outputs;	/* elements of the first graph output, e.g. 1001 */
	int			feature_dim;	/* e.g. 1280; 0 when no feature tensor was found */
	size_t		weight_bytes;	/* float weights held */
	size_t		arena_bytes;	/* activation arena (+ scratch) per workspace */
	double		macs;			/* multiply-adds per inference */
	int			integer_steps;	/* steps run on integers (CV_NET_ENGINE_INT8) */
} cv_net_info;

/*
 * Parse, validate and prepare a TFLite model.  data is only read during the
 * call.  Errors: CV_ERR_CORRUPT (malformed flatbuffer, inconsistent shapes or
 * buffers), CV_ERR_UNSUPPORTED (an operator, type or option we do not run,
 * named in the message), CV_ERR_LIMIT (sizes beyond our caps), CV_ERR_NOMEM.
 */
cv_status	cv_net_load(const uint8_t *data, size_t len, cv_net **out, cv_error *err);
void		cv_net_free(cv_net *net);	/* accepts NULL */
const cv_net_info *cv_net_get_info(const cv_net *net);

/* Per-caller scratch: the activation arena, im2col tiles, profiling. */
typedef struct cv_net_workspace cv_net_workspace;

cv_status	cv_net_workspace_create(const cv_net *net, cv_net_workspace **out,
									cv_error *err);
void		cv_net_workspace_free(cv_net_workspace *ws);	/* accepts NULL */

/*
 * rgb: input_height x input_width x 3 uint8, rows top to bottom, already
 * resized.  scores: num_outputs floats (the first graph output, e.g. softmax
 * probabilities); features: feature_dim floats (the classifier's input, see
 * docs/backbones.md).  Either may be NULL.  Asking for features of a net
 * whose feature_dim is 0 is CV_ERR_UNSUPPORTED.  ws must have been created
 * for this net.
 */
cv_status	cv_net_run(const cv_net *net, cv_net_workspace *ws, const uint8_t *rgb,
					   float *scores, float *features, cv_error *err);

/*
 * Threads for OpenBLAS and for our own kernels (process-wide, default 1,
 * clamped to 1..64).  Above 1, the int8 engine's convolutions, depthwise
 * convolutions, ADDs and conversions, the float engine's convolutions and
 * depthwise convolutions on its own kernels, and the view render are split over
 * the process's helper threads (../common/parallel.h), with the same bytes
 * as one thread; a run from a second host thread while one is under way
 * stays on its own thread.  Under PostgreSQL keep 1 and let parallel query
 * spread the work unless cores are idle (docs/backbones.md, "Threads").
 */
void		cv_nn_set_threads(int n);
int			cv_nn_get_threads(void);

/*
 * Portable kernels only (process-wide, default false): nets loaded while
 * this is on use OpenBLAS for every convolution even on CPUs with AVX-512
 * or AVX2, whose own kernels give results that differ in the last bits.
 * For tests and benchmarks comparing the paths.
 */
void		cv_nn_set_portable(bool on);
bool		cv_nn_get_portable(void);

/*
 * Profiling, for tools/bench_backbone: the executed steps (one per TFLite
 * operator; identities folded away at load still count as steps with no
 * time), their operator names and multiply-adds, and the time each took,
 * summed over the runs of a workspace since profiling was switched on.
 */
int			cv_net_num_steps(const cv_net *net);
const char *cv_net_step_name(const cv_net *net, int step);	/* "CONV_2D", ... */
double		cv_net_step_macs(const cv_net *net, int step);
/* A short description: kernel shape and output shape, for the bench. */
const char *cv_net_step_detail(const cv_net *net, int step);
void		cv_net_workspace_profile(cv_net_workspace *ws, bool on);	/* on resets */
/* Seconds spent in each step over the profiled runs; NULL if off. */
const double *cv_net_workspace_step_seconds(const cv_net_workspace *ws);
int			cv_net_workspace_profiled_runs(const cv_net_workspace *ws);

/*
 * Index of the tensor used as features (the classifier's input) in the
 * file's subgraph 0, or -1; and its name, for docs and diagnostics.
 */
int			cv_net_feature_tensor(const cv_net *net, const char **name);


/*
 * Loading a network cut at chosen tensors and at another input size: the
 * detector's feature maps (src/core/detect).  With n_outputs = 0, input
 * sizes 0 and prefix_only false (or options NULL) this is cv_net_load.
 *
 *	 input_width, input_height: run at this size instead of the file's
 *		(each 0: the file's; at most 8192, else CV_ERR_LIMIT).  Every
 *		operator's shape is inferred from the new input; the file's declared
 *		shapes are checked only at the file's own size (and are optional: a
 *		tensor without a stored shape is inferred, as the MobileNet-EdgeTPU
 *		file needs).  info->input_width/height give the size loaded for.
 *	 outputs[0..n_outputs-1]: tensor indices of the file's subgraph 0 whose
 *		values cv_net_run_outputs copies out, in this order (repeats
 *		allowed).  Only the operators these depend on are built and run,
 *		found by walking back from them; nothing else is validated or its
 *		weights read, so an unsupported operator (such as the SSD detector's
 *		custom TFLite_Detection_PostProcess) or one that cannot take the new
 *		size (a RESHAPE to a fixed shape) is harmless after or beside them.
 *		A requested tensor is never fused away and stays valid to the end of
 *		the run.  A tensor out of range, constant, the graph input or
 *		written by no operator is CV_ERR_PARAM; one behind an operator we
 *		cannot run is that operator's error.  info->num_outputs and
 *		feature_dim are 0 then, and cv_net_run refuses scores
 *		(CV_ERR_UNSUPPORTED): use cv_net_run_outputs.
 *	 prefix_only: instead of failing on the first operator we cannot run
 *		(CV_ERR_UNSUPPORTED: not ours, a custom code, or one that cannot
 *		take the new input size), keep the operators before it and stop
 *		there: for listing the activations of a file (cv_net_activation)
 *		whose last operators are not ours.  If it is the very first
 *		operator, its error is returned.  A net so cut has no scores either
 *		(num_outputs and feature_dim 0); one that needed no cut is exactly
 *		cv_net_load's.  Corrupt files still fail.  Ignored when n_outputs > 0.
 *	 keep_layouts: leave every weight in the file's layout (dequantized;
 *		convolution filters [out_c][k_h][k_w][in_c], depthwise
 *		[k_h][k_w][out_c], fully connected [n][k]) and prepare no kernel
 *		(no packing, no transposed copies, no block fusion): for reading
 *		the network as it is (cv_net_emit_onnx), not for running it.
 *		With engine CV_NET_ENGINE_INT8 the integer steps are made as for
 *		running (int8 weights in the file's layout, unpacked), so that the
 *		export writes the integer arithmetic the int8 engine runs.
 *		cv_net_run and cv_net_run_outputs refuse such a net (CV_ERR_PARAM).
 */
#define CV_NET_MAX_OUTPUTS 8

/*
 *	 engine: CV_NET_ENGINE_FLOAT (0) computes every activation in float
 *		(the description at the top of this file).  CV_NET_ENGINE_INT8 runs
 *		the CONV_2D, DEPTHWISE_CONV_2D, ADD and PAD operators of a quantized
 *		file on TFLite's integer arithmetic (uint8/int8 activations, int32
 *		accumulation, fixed-point rescaling: src/core/nn/nn_qkernels.h) and
 *		the rest in float, converting between them where they meet; the
 *		scores, features and requested outputs are float either way.
 *		info->integer_steps says how many steps run on integers (0 for a
 *		float file).  The results differ from the float engine's by the
 *		rounding of every intermediate activation to its quantized grid,
 *		as TFLite's own integer runtime's do.
 */
typedef enum cv_net_engine
{
	CV_NET_ENGINE_FLOAT = 0,
	CV_NET_ENGINE_INT8 = 1
} cv_net_engine;

/*
 * c[m][n] = bias[n] + a[m][k] w[k][n], rows of a and c lda and ldc floats
 * apart, w row-major and contiguous, bias NULL for none: for callers
 * outside the network (the detector's head).  Our GEMM where the CPU has
 * AVX-512 or AVX2 + FMA (scratch: cv_nn_matmul_scratch(k, n) floats for
 * the packed filters; 0 means none is needed), OpenBLAS otherwise or when
 * scratch is NULL.  Results differ from OpenBLAS's in the last bits.
 */
size_t		cv_nn_matmul_scratch(int k, int n);
void		cv_nn_matmul(int m, int k, int n, const float *a, size_t lda, const float *w,
						 const float *bias, float *c, size_t ldc, float *scratch);

/*
 * Whether this CPU has the fast integer kernels (AVX-512 VNNI or AVX2):
 * where it has not, the int8 engine runs its portable reference kernels,
 * correct but slower than the float engine.  The host's 'auto' engine.
 */
bool		cv_nn_int8_fast(void);

typedef struct cv_net_options
{
	int			input_width;
	int			input_height;
	int			n_outputs;
	int			outputs[CV_NET_MAX_OUTPUTS];
	bool		prefix_only;
	bool		keep_layouts;
	cv_net_engine engine;
} cv_net_options;

cv_status	cv_net_load_with(const uint8_t *data, size_t len,
							 const cv_net_options *options, cv_net **out,
							 cv_error *err);

/*
 * The activations of a loaded net, in the order the operators compute them
 * (graph input excluded; one per built operator, so an identity such as
 * RESHAPE lists its output too): tensor index, its NHWC shape (rank-4
 * padded with leading 1s) at the size the net was loaded for, and its name
 * in the file ("" if none; owned by the net).  cv_net_num_activations
 * counts them; index runs over 0..count-1.  false for an index out of
 * range.  Any listed tensor may be requested as an output.  Any out
 * pointer may be NULL.
 */
int			cv_net_num_activations(const cv_net *net);
bool		cv_net_activation(const cv_net *net, int index, int *tensor,
							  int dims[4], const char **name);

/* Shape (NHWC) of requested output k of a net loaded with outputs. */
bool		cv_net_output_shape(const cv_net *net, int k, int dims[4]);

/*
 * Run on rgb (input_height x input_width x 3 uint8 of the size the net was
 * loaded for) and copy requested output k into outs[k] (its n*h*w*c
 * floats, NHWC, as cv_net_output_shape gives); an outs[k] of NULL is
 * skipped (outs itself may be NULL only for a net without requested
 * outputs).  Allocates nothing; a workspace of the net as for cv_net_run.
 */
cv_status	cv_net_run_outputs(const cv_net *net, cv_net_workspace *ws,
							   const uint8_t *rgb, float *const *outs,
							   cv_error *err);

/*
 * Prepared nets (prepared.c, prepared_load.c, docs/backbones.md "Shared
 * prepared weights"):
 * a loaded net, plan and packed weights included, as one position-
 * independent blob that another process of the same build on the same CPU
 * path runs from in place, without the network file.
 *
 * cv_net_prepared_size gives the blob's length; cv_net_save_prepared
 * writes it into buf (exactly that many bytes, 64-byte aligned), with
 * host_identity (at most ~150 bytes: the host's version and library) in
 * its header.  A net loaded with keep_layouts, or itself loaded prepared,
 * is CV_ERR_PARAM.
 *
 * cv_net_load_prepared validates the whole blob (see prepared_load.c) and
 * returns a net whose weights are read from blob in place: blob must be
 * 64-byte aligned and stay mapped, unchanged, until cv_net_free.  The net
 * runs exactly as the one saved (same bytes out).  Errors: CV_ERR_CORRUPT
 * (damaged, truncated), CV_ERR_UNSUPPORTED (another format, build or CPU
 * path: host_identity or cv_net_prepared_cpu_path differs), CV_ERR_PARAM,
 * CV_ERR_NOMEM.  Either way, build the net from its file instead.
 *
 * cv_net_prepared_cpu_path names the kernels the packing is for (SIMD
 * level, integer kernels, portable and test switches): part of a cache
 * key, since a blob packed for one path is refused on another.
 */
size_t		cv_net_prepared_size(const cv_net *net);
cv_status	cv_net_save_prepared(const cv_net *net, const char *host_identity,
								 uint8_t *buf, size_t len, cv_error *err);
cv_status	cv_net_load_prepared(const uint8_t *blob, size_t len,
								 const char *host_identity, cv_net **out,
								 cv_error *err);
void		cv_net_prepared_cpu_path(char *buf, size_t len);

#endif							/* CV_NN_H */
