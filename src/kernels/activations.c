/* Element-wise activations and the row softmax, forward and backward. */
#include <math.h>
#include <string.h>

#include "kernels/kmath.h"
#include "kernels/variant.h"
#include "verto/kernels.h"

static void softmax_rows(const float *x, float *y, int64_t rows, int64_t cols) {
#pragma omp parallel for schedule(static) if (rows * cols > 16384)
    for (int64_t r = 0; r < rows; r++) {
        const float *xr = x + r * cols; /* may alias yr */
        float *yr = y + r * cols;
        float mx = -INFINITY;
#pragma omp simd reduction(max : mx)
        for (int64_t j = 0; j < cols; j++) mx = xr[j] > mx ? xr[j] : mx;
        float sum = 0.0f;
#pragma omp simd reduction(+ : sum)
        for (int64_t j = 0; j < cols; j++) {
            yr[j] = vk_expf(xr[j] - mx);
            sum += yr[j];
        }
        float inv = 1.0f / sum;
#pragma omp simd
        for (int64_t j = 0; j < cols; j++) yr[j] *= inv;
    }
}

void VK_FN(vt_activation_forward)(vt_activation act,
                           const float *x, // (rows, cols)
                           float *y,       // (rows, cols), may equal x
                           int64_t rows, int64_t cols) {
    int64_t n = rows * cols;
    switch (act) {
    case VT_ACT_LINEAR:
        if (y != x) memmove(y, x, (size_t)n * sizeof(float));
        return;
    case VT_ACT_SOFTMAX:
        softmax_rows(x, y, rows, cols);
        return;
    case VT_ACT_RELU:
#pragma omp parallel for simd schedule(static) if (n > 65536)
        for (int64_t i = 0; i < n; i++) y[i] = x[i] > 0.0f ? x[i] : 0.0f;
        return;
    case VT_ACT_GELU:
#pragma omp parallel for simd schedule(static) if (n > 16384)
        for (int64_t i = 0; i < n; i++) y[i] = vk_gelu(x[i]);
        return;
    case VT_ACT_GELU_TANH:
#pragma omp parallel for simd schedule(static) if (n > 16384)
        for (int64_t i = 0; i < n; i++) y[i] = vk_gelu_tanh(x[i]);
        return;
    case VT_ACT_TANH:
#pragma omp parallel for simd schedule(static) if (n > 16384)
        for (int64_t i = 0; i < n; i++) y[i] = vk_tanhf(x[i]);
        return;
    case VT_ACT_SIGMOID:
#pragma omp parallel for simd schedule(static) if (n > 16384)
        for (int64_t i = 0; i < n; i++) y[i] = vk_sigmoidf(x[i]);
        return;
    }
}

/* dx += y * (dy - sum(dy * y)) per row. */
static void softmax_rows_backward(const float *y, const float *dy, float *dx, int64_t rows, int64_t cols) {
#pragma omp parallel for schedule(static) if (rows * cols > 16384)
    for (int64_t r = 0; r < rows; r++) {
        const float *restrict yr = y + r * cols, *restrict gr = dy + r * cols;
        float *restrict dr = dx + r * cols;
        float dot = 0.0f;
#pragma omp simd reduction(+ : dot)
        for (int64_t j = 0; j < cols; j++) dot += yr[j] * gr[j];
#pragma omp simd
        for (int64_t j = 0; j < cols; j++) dr[j] += yr[j] * (gr[j] - dot);
    }
}

/* The pointwise kernels read y where it determines the derivative (relu,
 * tanh, sigmoid, softmax), so an in-place forward (x overwritten) is fine for
 * them; the two GELUs need the true input x. */
void VK_FN(vt_activation_backward)(vt_activation act,
                            const float *x,  // (rows, cols) forward input
                            const float *y,  // (rows, cols) forward output
                            const float *dy, // (rows, cols)
                            float *dx,       // (rows, cols) +=
                            int64_t rows, int64_t cols) {
    int64_t n = rows * cols;
    switch (act) {
    case VT_ACT_LINEAR:
#pragma omp parallel for simd schedule(static) if (n > 65536)
        for (int64_t i = 0; i < n; i++) dx[i] += dy[i];
        return;
    case VT_ACT_SOFTMAX:
        softmax_rows_backward(y, dy, dx, rows, cols);
        return;
    case VT_ACT_RELU:
#pragma omp parallel for simd schedule(static) if (n > 65536)
        for (int64_t i = 0; i < n; i++) dx[i] += y[i] > 0.0f ? dy[i] : 0.0f;
        return;
    case VT_ACT_GELU:
#pragma omp parallel for simd schedule(static) if (n > 16384)
        for (int64_t i = 0; i < n; i++) dx[i] += dy[i] * vk_gelu_grad(x[i]);
        return;
    case VT_ACT_GELU_TANH:
#pragma omp parallel for simd schedule(static) if (n > 16384)
        for (int64_t i = 0; i < n; i++) dx[i] += dy[i] * vk_gelu_tanh_grad(x[i]);
        return;
    case VT_ACT_TANH:
#pragma omp parallel for simd schedule(static) if (n > 65536)
        for (int64_t i = 0; i < n; i++) dx[i] += dy[i] * (1.0f - y[i] * y[i]);
        return;
    case VT_ACT_SIGMOID:
#pragma omp parallel for simd schedule(static) if (n > 65536)
        for (int64_t i = 0; i < n; i++) dx[i] += dy[i] * y[i] * (1.0f - y[i]);
        return;
    }
}
