/*
 * nn_window.h
 *	  Window arithmetic shared by the float kernels (nn_kernels.h) and the
 *	  integer ones (qdepthwise_internal.h), whose layer parameters are
 *	  different structs: which output columns of a windowed operator read
 *	  only pixels inside the input row.
 */
#ifndef CV_NN_WINDOW_H
#define CV_NN_WINDOW_H

/*
 * The interior output columns [*lo, *hi) of a windowed operator over a row
 * of in_w pixels (out_w outputs, k_w taps dil_w apart, stride_w, pad_left
 * before the row): those whose every tap lies inside the row (ox *
 * stride_w - pad_left >= 0 and the last tap < in_w), so the kernels skip
 * the border checks there.  Empty (lo == hi) when no column qualifies.
 */
static inline void
nn_window_interior(int in_w, int out_w, int k_w, int dil_w, int stride_w, int pad_left,
				   int *lo, int *hi)
{
	int			reach = in_w - 1 + pad_left - (k_w - 1) * dil_w;
	int			l = (pad_left + stride_w - 1) / stride_w,
				h = reach < 0 ? 0 : reach / stride_w + 1;

	if (l > out_w)
		l = out_w;
	if (h > out_w)
		h = out_w;
	if (h < l)
		h = l;
	*lo = l;
	*hi = h;
}

#endif							/* CV_NN_WINDOW_H */
