/* The compiled loss and metric on a model's output. */
#include <math.h>
#include <string.h>

#include "nn/exec_internal.h"

#define KERAS_PROB_EPSILON 1e-7 /* Keras clips probabilities to [eps, 1 - eps] */

/* Sparse CE on probabilities that do not come from a softmax Dense: Keras'
 * -log(clip(p_label)). probs (rows, classes), labels (rows). */
static double xent_on_probs(const float *probs, const int32_t *labels, int64_t rows, int64_t classes, float *dprobs,
                            int64_t *correct) {
    double total = 0;
    int64_t hits = 0;
    for (int64_t r = 0; r < rows; r++) {
        const float *p = probs + r * classes;
        int32_t y = labels[r];
        if (y < 0 || y >= classes) {
            vt_error(VT_ERR_INVALID_ARG, "label %d at row %lld is outside [0, %lld)", y, (long long)r, (long long)classes);
            return NAN;
        }
        double py = p[y], clipped = fmin(fmax(py, KERAS_PROB_EPSILON), 1 - KERAS_PROB_EPSILON);
        total -= log(clipped);
        if (dprobs && py == clipped) dprobs[r * classes + y] = (float)(-1.0 / (py * (double)rows));
        int64_t best = 0;
        for (int64_t c = 1; c < classes; c++)
            if (p[c] > p[best]) best = c;
        hits += best == y;
    }
    *correct = hits;
    return total / (double)rows;
}

static double binary_accuracy(const float *x, const float *targets, int64_t n, bool logits) {
    int64_t hits = 0;
    float threshold = logits ? 0.0f : 0.5f;
    for (int64_t i = 0; i < n; i++) hits += (x[i] > threshold) == (targets[i] > 0.5f);
    return n ? (double)hits / (double)n : NAN;
}

vt_status vt_loss_compute(vt_model *m, const vt_tensor *labels, bool want_grad, double *loss, double *metric,
                          int64_t *count) {
    vt_node *out_node = m->output;
    const vt_tensor *out = &out_node->out;
    vt_node *fused = m->loss_logits;
    const float *logits = fused ? fused->work[VT_DENSE_WORK_Z] : vt_f32(out);
    float *grad = !want_grad ? NULL : fused ? fused->work[VT_DENSE_WORK_DZ] : out_node->grad;
    int64_t n = vt_tensor_numel(out), classes = out->shape[out->ndim - 1];
    double value, acc = NAN;
    int64_t counted = n;
    switch (m->loss.kind) {
    case VT_LOSS_SPARSE_CATEGORICAL_CROSSENTROPY: {
        int64_t rows = n / classes, correct = 0;
        if (grad) memset(grad, 0, (size_t)n * sizeof(float));
        if (m->loss.from_logits || fused) {
            if (vt_softmax_xent(logits, vt_i32(labels), rows, classes, NULL, grad, 1.0f, &value, &counted, &correct))
                return vt_error(VT_ERR_INVALID_ARG, "model '%s': %s", m->name, vt_last_error());
        } else {
            value = xent_on_probs(logits, vt_i32(labels), rows, classes, grad, &correct);
            counted = rows;
        }
        acc = counted ? (double)correct / (double)counted : NAN;
        break;
    }
    case VT_LOSS_BINARY_CROSSENTROPY: {
        bool on_logits = m->loss.from_logits || fused;
        value = vt_binary_xent(logits, vt_f32(labels), n, on_logits, grad, 1.0f);
        acc = binary_accuracy(logits, vt_f32(labels), n, on_logits);
        break;
    }
    case VT_LOSS_MEAN_SQUARED_ERROR:
    default:
        value = vt_mse(logits, vt_f32(labels), n, grad, 1.0f);
        break;
    }
    if (!isfinite(value)) return vt_error(VT_ERR_NUMERIC, "the loss is %g", value);
    *loss = value;
    *metric = m->metric == VT_METRIC_ACCURACY ? acc : NAN;
    if (count) *count = counted;
    return VT_OK;
}
