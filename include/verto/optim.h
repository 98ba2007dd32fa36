/* Optimizers, learning-rate schedules and gradient clipping over one flat
 * parameter buffer.
 *
 * Update rules follow PyTorch's torch.optim exactly (so tests can compare):
 * SGD:   b = momentum * b + g (b = g at the first step); p -= lr * b
 * Adam:  m = b1 m + (1-b1) g; v = b2 v + (1-b2) g^2;
 *        p -= lr * (m / (1-b1^t)) / (sqrt(v / (1-b2^t)) + eps)
 * AdamW: p *= 1 - lr * wd (for decayed parameters), then the Adam update.
 * Schedules follow transformers' get_*_schedule_with_warmup: the update with
 * 0-based index s uses lr * f(s), so a warmup starts at lr 0. */
#ifndef VERTO_OPTIM_H
#define VERTO_OPTIM_H

#include "verto/export.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "verto/error.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum vt_optimizer_kind { VT_OPT_SGD = 0, VT_OPT_ADAM, VT_OPT_ADAMW } vt_optimizer_kind;
typedef enum vt_schedule_kind { VT_SCHED_CONSTANT = 0, VT_SCHED_LINEAR_WARMUP_DECAY } vt_schedule_kind;

typedef struct vt_optimizer_config {
    vt_optimizer_kind kind;
    float learning_rate;      /* peak learning rate */
    float momentum;           /* SGD */
    float beta1, beta2, epsilon; /* Adam / AdamW */
    float weight_decay;       /* AdamW (decoupled) */
    /* Parameters whose name contains any of these substrings get no weight
     * decay (e.g. "bias", "LayerNorm"). */
    const char *const *no_decay;
    size_t n_no_decay;
    float clip_norm;          /* clip by global L2 norm if > 0 */
    vt_schedule_kind schedule;
    int64_t warmup_steps, total_steps; /* VT_SCHED_LINEAR_WARMUP_DECAY */
} vt_optimizer_config;

/* Keras-like defaults: "sgd" (lr 0.01, momentum 0), "adam" (lr 0.001, 0.9,
 * 0.999, 1e-7), "adamw" (as adam, weight decay 0.004, no exclusions); constant
 * schedule, no clipping. Unknown name: VT_ERR_INVALID_ARG.
 * vt_optimizer_new rejects (VT_ERR_INVALID_ARG, message naming the field):
 * a negative or non-finite lr, weight_decay or clip_norm; sgd momentum outside
 * [0, 1); adam/adamw with momentum != 0, beta1 or beta2 outside [0, 1) or
 * epsilon <= 0; weight_decay != 0 for anything but adamw; NULL or empty
 * no_decay entries; warmup_steps != 0 with the constant schedule; for the
 * linear schedule total_steps < 1 or warmup_steps outside [0, total_steps]. */
VT_API vt_status vt_optimizer_config_default(const char *name, vt_optimizer_config *out);

/* A named slice of the flat parameter buffer. */
typedef struct vt_param_info {
    const char *name;
    int64_t offset; /* in floats */
    int64_t numel;
    bool trainable; /* frozen slices are neither updated nor decayed */
} vt_param_info;

typedef struct vt_optimizer vt_optimizer;

/* Makes an optimizer for `n_floats` parameters described by `params`
 * (copied). Allocates its state (zeros). NULL on a bad config, on a slice
 * outside [0, n_floats) or on overlapping trainable slices. With n_params 0
 * the whole buffer is one trainable, decayed parameter. Floats no trainable
 * slice covers are never read or written by vt_optimizer_step. */
VT_API vt_optimizer *vt_optimizer_new(const vt_optimizer_config *cfg, int64_t n_floats,
                                      const vt_param_info *params, size_t n_params);
VT_API void vt_optimizer_free(vt_optimizer *o);

/* The learning rate the next step will use. */
VT_API float vt_optimizer_current_lr(const vt_optimizer *o);
VT_API int64_t vt_optimizer_steps_done(const vt_optimizer *o);

/* One update of params (n_floats) from grads (n_floats): clips grads in place
 * if configured, applies the schedule and the rule, advances the step.
 * *grad_norm (may be NULL) receives the global norm before clipping, taken
 * over the trainable slices only (as PyTorch sees only parameters with grads).
 * A non-finite gradient norm returns VT_ERR_NUMERIC and changes nothing
 * (params, grads, state, step). Never allocates. */
VT_API vt_status vt_optimizer_step(vt_optimizer *o, float *params, float *grads, float *grad_norm);

/* Global L2 norm of g (n); scales g so the norm is at most max_norm
 * (PyTorch's clip_grad_norm_: factor max_norm / (norm + 1e-6), applied only
 * when below 1). Returns the norm before clipping. max_norm <= 0 or a
 * non-finite norm: g is left unchanged. */
VT_API float vt_clip_global_norm(float *g, int64_t n, float max_norm);

/* The schedule's learning-rate factor for the 0-based update index `step`:
 * 1 for VT_SCHED_CONSTANT; for the linear schedule step / max(1, warmup)
 * while step < warmup, then max(0, (total - step) / max(1, total - warmup)).
 * Negative steps count as 0. Does not check cfg. */
VT_API float vt_schedule_factor(const vt_optimizer_config *cfg, int64_t step);

/* Optimizer state for checkpoints: the moment buffers (NULL if the rule has
 * none, e.g. SGD without momentum, or `which` is not 0 or 1; each n_floats
 * long, owned by the optimizer) and the step counter (negative: ignored). */
VT_API float *vt_optimizer_state(vt_optimizer *o, int which /* 0: m or momentum, 1: v */);
VT_API void vt_optimizer_set_steps_done(vt_optimizer *o, int64_t steps);

#ifdef __cplusplus
}
#endif
#endif
