/* Conversions between float and bfloat16. */
#include <string.h>

#include "verto/kernels.h"

static inline vt_bf16 round_to_bf16(float f) {
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    if ((u & 0x7fffffffu) > 0x7f800000u) return (vt_bf16)((u >> 16) | 0x40u); /* quiet NaN, sign kept */
    u += 0x7fffu + ((u >> 16) & 1u); /* round half to even; overflow carries into inf as it should */
    return (vt_bf16)(u >> 16);
}

void vt_f32_to_bf16(const float *x, // (n)
                    vt_bf16 *y,     // (n)
                    int64_t n) {
#pragma omp parallel for simd schedule(static) if (n > 32768)
    for (int64_t i = 0; i < n; i++) y[i] = round_to_bf16(x[i]);
}

float vt_bf16_to_f32(vt_bf16 v) {
    uint32_t u = (uint32_t)v << 16;
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}
