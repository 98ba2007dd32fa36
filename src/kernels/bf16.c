/* Conversions between float and bfloat16. */
#include <string.h>

#include "kernels/kmath.h"
#include "verto/kernels.h"

void vt_f32_to_bf16(const float *x, // (n)
                    vt_bf16 *y,     // (n)
                    int64_t n) {
#pragma omp parallel for simd schedule(static) if (n > 32768)
    for (int64_t i = 0; i < n; i++) y[i] = vk_bf16(x[i]);
}

float vt_bf16_to_f32(vt_bf16 v) {
    uint32_t u = (uint32_t)v << 16;
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}
