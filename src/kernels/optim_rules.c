/* The optimizers' update rules, operation by operation as torch.optim's
 * single-tensor CPU code (see optim_rules.h). */
#include <math.h>
#include <stdbool.h>
#if defined(__SSE2__)
#include <immintrin.h>
#endif

#include "kernels/optim_rules.h"
#include "kernels/variant.h"

/* SGD on x[a, b) of one run; m is NULL without momentum. */
void VK_FN(vt_optim_sgd_run)(const vt_step_consts *k, float *restrict p, float *restrict g, float *restrict m,
                             int64_t a, int64_t b) {
    const float gs = k->gscale, nlr = k->neg_lr, mu = k->momentum;
    const bool store = gs != 1.0f;
    if (m) {
#pragma omp simd
        for (int64_t i = a; i < b; i++) {
            float gi = g[i] * gs;
            if (store) g[i] = gi;
            float bi = m[i] * mu + gi; /* buf.mul_(momentum).add_(grad); buf = grad at t = 1 since buf is 0 */
            m[i] = bi;
            p[i] = p[i] + nlr * bi;
        }
    } else {
#pragma omp simd
        for (int64_t i = a; i < b; i++) {
            float gi = g[i] * gs;
            if (store) g[i] = gi;
            p[i] = p[i] + nlr * gi;
        }
    }
}

/* x[i] = sqrt(x[i]) for i < n. Without -fno-math-errno GCC will not
 * vectorise sqrtf (it may set errno), so the wide forms are spelled out; all
 * are IEEE correctly rounded, hence bit-identical to sqrtf. */
static void sqrt_block(float *x, int n) {
    int i = 0;
#if defined(__AVX512F__)
    for (; i + 16 <= n; i += 16) _mm512_storeu_ps(x + i, _mm512_sqrt_ps(_mm512_loadu_ps(x + i)));
#elif defined(__AVX__)
    for (; i + 8 <= n; i += 8) _mm256_storeu_ps(x + i, _mm256_sqrt_ps(_mm256_loadu_ps(x + i)));
#elif defined(__SSE2__)
    for (; i + 4 <= n; i += 4) _mm_storeu_ps(x + i, _mm_sqrt_ps(_mm_loadu_ps(x + i)));
#endif
    for (; i < n; i++) x[i] = sqrtf(x[i]);
}

/* Adam / AdamW on x[a, b) of one run; keep is 1 for runs without decay.
 * Works in blocks so the square roots can go through sqrt_block. */
#define ADAM_BLOCK 512
void VK_FN(vt_optim_adam_run)(const vt_step_consts *k, float keep, float *restrict p, float *restrict g, float *restrict m,
                     float *restrict v, int64_t a, int64_t b) {
    const float gs = k->gscale, w1 = k->omega1, b2 = k->beta2, w2 = k->omega2;
    const float bc2s = k->bc2_sqrt, eps = k->eps, nstep = k->neg_step;
    const bool store = gs != 1.0f;
    float root[ADAM_BLOCK]; // (block) sqrt of the new second moment
    for (int64_t c = a; c < b; c += ADAM_BLOCK) {
        const int n = (int)(b - c < ADAM_BLOCK ? b - c : ADAM_BLOCK);
        float *restrict pc = p + c, *restrict gc = g + c, *restrict mc = m + c, *restrict vc = v + c;
#pragma omp simd
        for (int i = 0; i < n; i++) {
            float gi = gc[i] * gs;
            if (store) gc[i] = gi;
            mc[i] = mc[i] + w1 * (gi - mc[i]);            /* exp_avg.lerp_(grad, 1 - beta1) */
            float vi = vc[i] * b2 + w2 * gi * gi;         /* exp_avg_sq.mul_(beta2).addcmul_(grad, grad, 1 - beta2) */
            vc[i] = vi;
            root[i] = vi;
        }
        sqrt_block(root, n);
#pragma omp simd
        for (int i = 0; i < n; i++) {
            float denom = root[i] / bc2s + eps;           /* (exp_avg_sq.sqrt() / bc2_sqrt).add_(eps) */
            pc[i] = pc[i] * keep + nstep * (mc[i] / denom); /* param.mul_(keep); param.addcdiv_(m, denom, -step) */
        }
    }
}
