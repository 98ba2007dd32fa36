/* What the DP-SGD files share (dp_sgd.c, dp_fast.c). */
#ifndef VT_DP_INTERNAL_H
#define VT_DP_INTERNAL_H

#include "verto/dp.h"

/* The clipping factor of a gradient norm: Opacus' min(1, C / (norm + 1e-6))
 * (the 1e-6 keeps a zero gradient finite and matches its results to the last bit). */
double dp_clip_factor(double max_grad_norm, double norm);

/* The clipped per-example gradients of rows summed into sum (over b's flat
 * gradient buffer; the trainable parameters only; zeroed first) the fast way,
 * when the model and the examples allow it (a sequence or token classifier over token ids):
 * *done tells whether it did. With in_grads not NULL and the rows one batch,
 * the sum is left in b's float gradient instead (*in_grads true; sum
 * untouched): the same numbers without two passes over a double copy.
 * info: batch, clipped, tokens, loss. */
vt_status dp_fast_clipped_sum(const vt_dp_options *o, vt_bert *b, const int64_t *rows, int64_t count,
                              vt_dp_get_example_fn get, void *ctx, uint64_t dropout_seed, double *sum,
                              vt_dp_step_info *info, bool *done, bool *in_grads);

#endif
