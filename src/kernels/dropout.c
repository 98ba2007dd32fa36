/* Inverted dropout with counter-based masks (the same at every thread count). */
#include "verto/kernels.h"
#include "kernels/variant.h"
#include "verto/rng.h"

void VK_FN(vt_dropout_forward)(const float *x, // (n)
                        float *y,       // (n), may equal x
                        uint8_t *mask,  // (n) 0/1
                        int64_t n, float rate, uint64_t seed) {
    float scale = 1.0f / (1.0f - rate);
#pragma omp parallel for schedule(static) if (n > 16384)
    for (int64_t i = 0; i < n; i++) {
        uint8_t keep = vt_hash_uniform(seed, (uint64_t)i) >= rate;
        mask[i] = keep;
        y[i] = keep ? x[i] * scale : 0.0f;
    }
}

void VK_FN(vt_dropout_backward)(const float *dy,     // (n)
                         const uint8_t *mask, // (n)
                         float *dx,           // (n) +=
                         int64_t n, float rate) {
    float scale = 1.0f / (1.0f - rate);
#pragma omp parallel for simd schedule(static) if (n > 65536)
    for (int64_t i = 0; i < n; i++) dx[i] += mask[i] ? dy[i] * scale : 0.0f;
}
