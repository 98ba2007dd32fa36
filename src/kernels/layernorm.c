/* Layer normalisation over the last dimension (biased variance, as PyTorch). */
#include <math.h>

#include "verto/kernels.h"
#include "kernels/variant.h"

void VK_FN(vt_layernorm_forward)(const float *x,     // (rows, cols)
                          const float *gamma, // (cols)
                          const float *beta,  // (cols)
                          float *y,           // (rows, cols)
                          float *mean,        // (rows)
                          float *rstd,        // (rows)
                          int64_t rows, int64_t cols, float eps) {
#pragma omp parallel for schedule(static) if (rows * cols > 16384)
    for (int64_t r = 0; r < rows; r++) {
        const float *restrict xr = x + r * cols;
        float *restrict yr = y + r * cols;
        float s = 0.0f;
#pragma omp simd reduction(+ : s)
        for (int64_t j = 0; j < cols; j++) s += xr[j];
        float m = s / (float)cols;
        float v = 0.0f; /* two passes: no cancellation for large means */
#pragma omp simd reduction(+ : v)
        for (int64_t j = 0; j < cols; j++) v += (xr[j] - m) * (xr[j] - m);
        float rs = 1.0f / sqrtf(v / (float)cols + eps);
#pragma omp simd
        for (int64_t j = 0; j < cols; j++) yr[j] = (xr[j] - m) * rs * gamma[j] + beta[j];
        mean[r] = m;
        rstd[r] = rs;
    }
}

/* dx = rstd * (g - mean(g) - xhat * mean(g * xhat)), g = dy * gamma. */
static void layernorm_dx(const float *dy, const float *x, const float *gamma, const float *mean, const float *rstd,
                         float *dx, int64_t rows, int64_t cols) {
#pragma omp parallel for schedule(static) if (rows * cols > 16384)
    for (int64_t r = 0; r < rows; r++) {
        const float *restrict xr = x + r * cols, *restrict gr = dy + r * cols;
        float *restrict dr = dx + r * cols;
        float m = mean[r], rs = rstd[r];
        float sg = 0.0f, sgx = 0.0f;
#pragma omp simd reduction(+ : sg, sgx)
        for (int64_t j = 0; j < cols; j++) {
            float g = gr[j] * gamma[j];
            sg += g;
            sgx += g * (xr[j] - m) * rs;
        }
        sg /= (float)cols;
        sgx /= (float)cols;
#pragma omp simd
        for (int64_t j = 0; j < cols; j++) {
            float xh = (xr[j] - m) * rs;
            dr[j] += rs * (gr[j] * gamma[j] - sg - xh * sgx);
        }
    }
}

/* dgamma += sum_r dy * xhat, dbeta += sum_r dy; parallel over column blocks so
 * that each parameter gradient has one writer (no per-thread buffers). */
static void layernorm_dparams(const float *dy, const float *x, const float *mean, const float *rstd, float *dgamma,
                              float *dbeta, int64_t rows, int64_t cols) {
    enum { BLK = 64 };
    int64_t nblk = (cols + BLK - 1) / BLK;
#pragma omp parallel for schedule(static) if (rows * cols > 16384)
    for (int64_t b = 0; b < nblk; b++) {
        int64_t j0 = b * BLK, w = cols - j0 < BLK ? cols - j0 : BLK;
        float ag[BLK] = {0}, ab[BLK] = {0};
        for (int64_t r = 0; r < rows; r++) {
            const float *restrict xr = x + r * cols + j0, *restrict gr = dy + r * cols + j0;
            float m = mean[r], rs = rstd[r];
#pragma omp simd
            for (int64_t j = 0; j < w; j++) {
                ag[j] += gr[j] * (xr[j] - m) * rs;
                ab[j] += gr[j];
            }
        }
        for (int64_t j = 0; j < w; j++) {
            if (dgamma) dgamma[j0 + j] += ag[j];
            if (dbeta) dbeta[j0 + j] += ab[j];
        }
    }
}

void VK_FN(vt_layernorm_backward)(const float *dy,    // (rows, cols)
                           const float *x,     // (rows, cols) forward input
                           const float *gamma, // (cols)
                           const float *mean,  // (rows)
                           const float *rstd,  // (rows)
                           float *dx,          // (rows, cols) +=, may be NULL
                           float *dgamma,      // (cols) +=, may be NULL
                           float *dbeta,       // (cols) +=, may be NULL
                           int64_t rows, int64_t cols) {
    if (dx) layernorm_dx(dy, x, gamma, mean, rstd, dx, rows, cols);
    if (dgamma || dbeta) layernorm_dparams(dy, x, mean, rstd, dgamma, dbeta, rows, cols);
}
