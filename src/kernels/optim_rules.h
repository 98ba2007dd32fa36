/* The optimizers' element-wise update rules (optim_rules.c, built per
 * instruction set like the other kernels; train/optimizer.c walks the runs). */
#ifndef VT_KERNELS_OPTIM_RULES_H
#define VT_KERNELS_OPTIM_RULES_H

#include <stdint.h>

/* Scalars of one update, computed once in double as torch does in Python. */
typedef struct vt_step_consts {
    float gscale;      /* clip factor (1: none); scaled grads are stored back */
    float neg_lr;      /* SGD: -lr */
    float momentum;    /* SGD */
    float omega1;      /* Adam: 1 - beta1 (lerp weight) */
    float beta2, omega2; /* Adam: beta2, 1 - beta2 */
    float bc2_sqrt;    /* sqrt(1 - beta2^t) */
    float eps;
    float neg_step;    /* -lr / (1 - beta1^t) */
    float keep;        /* AdamW: 1 - lr * weight_decay, for decayed runs */
} vt_step_consts;

/* SGD on p, g, m [a, b) of one run; m is NULL without momentum. */
void vt_optim_sgd_run(const vt_step_consts *k, float *restrict p, float *restrict g, float *restrict m, int64_t a,
                      int64_t b);
/* Adam / AdamW on p, g, m, v [a, b) of one run; keep is 1 for runs without decay. */
void vt_optim_adam_run(const vt_step_consts *k, float keep, float *restrict p, float *restrict g, float *restrict m,
                       float *restrict v, int64_t a, int64_t b);

#endif
