/* Losses: mean over counted rows, gradient overwritten and scaled. */
#include <math.h>
#include <string.h>

#include "kernels/kmath.h"
#include "kernels/variant.h"
#include "verto/kernels.h"

/* Softmax cross-entropy. Row weight w = class_weights[label] (1 without
 * weights); loss = sum w * nll / sum w as PyTorch's CrossEntropyLoss(weight=,
 * ignore_index=); dlogits = grad_scale * w * (softmax - onehot) / sum w.
 * If no row counts (or the weights sum to 0) the loss is 0 and the gradient
 * zero, rather than PyTorch's NaN, so that an all-ignored batch is harmless. */
vt_status VK_FN(vt_softmax_xent)(const float *logits,        // (n, classes)
                                 const int32_t *labels,      // (n), < 0 = ignored
                                 int64_t n, int64_t classes,
                                 const float *class_weights, // (classes) or NULL
                                 float *dlogits,             // (n, classes) or NULL, overwritten
                                 float grad_scale, double *loss, int64_t *counted, int64_t *correct) {
    /* The weights' sum comes first, so that one pass per row (one exp per
     * logit, kept in dlogits) gives both the loss and the gradient. */
    double wsum = 0.0;
    int64_t n_counted = 0;
    for (int64_t i = 0; i < n; i++) {
        if (labels[i] >= classes)
            return vt_error(VT_ERR_INVALID_ARG, "cross-entropy: label %d at row %lld is not below the %lld classes",
                            (int)labels[i], (long long)i, (long long)classes);
        if (labels[i] < 0) continue;
        wsum += class_weights ? (double)class_weights[labels[i]] : 1.0;
        n_counted++;
    }
    bool none = n_counted == 0 || wsum == 0.0;
    float inv = none ? 0.0f : (float)(1.0 / wsum);
    double loss_sum = 0.0;
    int64_t n_correct = 0;
#pragma omp parallel for schedule(static) reduction(+ : loss_sum, n_correct) if (n * classes > 16384)
    for (int64_t i = 0; i < n; i++) {
        /* not restrict: dlogits may be logits itself (each g[c] is written
         * from x[c] alone, and the label's logit is read first) */
        const float *x = logits + i * classes;
        float *g = dlogits ? dlogits + i * classes : NULL;
        if (labels[i] < 0) {
            if (g) memset(g, 0, (size_t)classes * sizeof *g);
            continue;
        }
        float mx = -INFINITY;
#pragma omp simd reduction(max : mx)
        for (int64_t c = 0; c < classes; c++) mx = x[c] > mx ? x[c] : mx;
        float x_label = x[labels[i]];
        int64_t arg = 0;
        while (correct && arg < classes - 1 && !(x[arg] == mx)) arg++; /* the first maximum (scalar: only when asked) */
        float s = 0.0f;
        if (g) {
#pragma omp simd reduction(+ : s)
            for (int64_t c = 0; c < classes; c++) {
                g[c] = vk_expf(x[c] - mx);
                s += g[c];
            }
        } else {
#pragma omp simd reduction(+ : s)
            for (int64_t c = 0; c < classes; c++) s += vk_expf(x[c] - mx);
        }
        float w = class_weights ? class_weights[labels[i]] : 1.0f;
        loss_sum += (double)w * ((double)mx + log((double)s) - (double)x_label);
        n_correct += arg == labels[i];
        if (g) {
            float f = grad_scale * inv * w, fs = f / s;
#pragma omp simd
            for (int64_t c = 0; c < classes; c++) g[c] *= fs;
            g[labels[i]] -= f;
        }
    }
    if (counted) *counted = n_counted;
    if (correct) *correct = n_correct;
    if (loss) *loss = none ? 0.0 : loss_sum / wsum;
    return VT_OK;
}

#define KERAS_EPS 1e-7f

double VK_FN(vt_binary_xent)(const float *x,       // (n) logits or probabilities
                      const float *targets, // (n) in [0, 1]
                      int64_t n, bool from_logits,
                      float *dx,            // (n) or NULL, overwritten
                      float grad_scale) {
    if (n <= 0) return 0.0;
    double sum = 0.0;
    const float f = grad_scale / (float)n;
    if (from_logits) {
        /* max(x, 0) - x t + log(1 + exp(-|x|)); d/dx = sigmoid(x) - t */
#pragma omp parallel for schedule(static) reduction(+ : sum) if (n > 16384)
        for (int64_t i = 0; i < n; i++) {
            double xi = x[i], t = targets[i];
            sum += (xi > 0 ? xi : 0.0) - xi * t + log1p(exp(-fabs(xi)));
            if (dx) dx[i] = f * (vk_sigmoidf(x[i]) - targets[i]);
        }
    } else {
        /* Keras clips p to [eps, 1 - eps]; the clip passes no gradient outside. */
        const float lo = KERAS_EPS, hi = 1.0f - KERAS_EPS;
#pragma omp parallel for schedule(static) reduction(+ : sum) if (n > 16384)
        for (int64_t i = 0; i < n; i++) {
            float p = x[i] < lo ? lo : x[i] > hi ? hi : x[i];
            double t = targets[i];
            sum -= t * log((double)p) + (1.0 - t) * log(1.0 - (double)p);
            if (dx) {
                bool inside = x[i] >= lo && x[i] <= hi;
                dx[i] = inside ? f * (float)(((double)p - t) / ((double)p * (1.0 - (double)p))) : 0.0f;
            }
        }
    }
    return sum / (double)n;
}

double VK_FN(vt_mse)(const float *pred,    // (n)
              const float *targets, // (n)
              int64_t n,
              float *dpred,         // (n) or NULL, overwritten
              float grad_scale) {
    if (n <= 0) return 0.0;
    double sum = 0.0;
    const float f = 2.0f * grad_scale / (float)n;
#pragma omp parallel for simd schedule(static) reduction(+ : sum) if (n > 16384)
    for (int64_t i = 0; i < n; i++) {
        float e = pred[i] - targets[i];
        sum += (double)e * e;
        if (dpred) dpred[i] = f * e;
    }
    return sum / (double)n;
}
