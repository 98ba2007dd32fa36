/* Conversions between float and bfloat16. */
#include "kernels/kmath.h"
#include "kernels/variant.h"
#include "verto/kernels.h"

void VK_FN(vt_f32_to_bf16)(const float *x, // (n)
                    vt_bf16 *y,     // (n)
                    int64_t n) {
#pragma omp parallel for simd schedule(static) if (n > 32768)
    for (int64_t i = 0; i < n; i++) y[i] = vk_bf16(x[i]);
}
