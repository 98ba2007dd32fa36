/* Internal steps of running a model, shared by execute.c, loss.c and fit.c. */
#ifndef VERTO_NN_EXEC_INTERNAL_H
#define VERTO_NN_EXEC_INTERNAL_H

#include "nn/graph.h"

/* Plans the arena for `rows` rows of x (one tensor per input), re-planning
 * only when a concrete shape changed. */
vt_status vt_exec_plan(vt_model *m, const vt_tensor *const *x, int64_t rows);
/* Plans, then copies rows idx[start..start+count) of x (or rows
 * start..start+count if idx is NULL) into the input buffers. */
vt_status vt_exec_feed(vt_model *m, const vt_tensor *const *x, const int64_t *idx, int64_t start, int64_t count);
/* Checks y against the compiled loss and output, copies the same rows into
 * the label buffer, and describes them in *labels. */
vt_status vt_exec_labels(vt_model *m, const vt_tensor *y, const int64_t *idx, int64_t start, int64_t count,
                         vt_tensor *labels);
vt_status vt_exec_forward(vt_model *m, bool training, uint64_t seed);
/* Zeroes gradients, computes loss and metric, backpropagates. */
vt_status vt_exec_backward(vt_model *m, const vt_tensor *labels, double *loss, double *metric);

/* loss.c: the compiled loss of the output against labels. With want_grad it
 * writes d loss / d output (or d logits into the fused Dense's work). *metric
 * gets the metric (NaN without one) and *count how many values the mean is
 * over (for averaging across batches). VT_ERR_NUMERIC if the loss is not finite. */
vt_status vt_loss_compute(vt_model *m, const vt_tensor *labels, bool want_grad, double *loss, double *metric,
                          int64_t *count);

#endif
