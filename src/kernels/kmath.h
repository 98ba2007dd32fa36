/* Float math that gcc can vectorise inside `#pragma omp simd` loops (glibc's
 * expf/erff/tanhf only vectorise under -ffast-math). Private to src/kernels.
 *
 * vk_expf: Cephes expf (range reduction by ln 2, degree-6 polynomial),
 *          about 1 ulp; inputs are clamped to [-87.3, 88], so it never
 *          returns inf or NaN for finite input.
 * vk_tanhf: Cephes tanhf: odd polynomial for |x| < 0.625, else via exp;
 *          a few ulp.
 * vk_erfcf: Numerical Recipes' erfcc (Chebyshev fit), relative error
 *          < 1.2e-7 for x >= 0; used for Phi(x) of the exact GELU. */
#ifndef VT_KERNELS_KMATH_H
#define VT_KERNELS_KMATH_H

#include <stdint.h>
#include <string.h>

static inline float vk_expf(float x_in) {
    /* Written so NaN takes the clamped path (keeping the integer conversion
     * below defined) and is handed back unchanged at the end. */
    float x = x_in > -87.3f ? x_in : -87.3f;
    x = x < 88.0f ? x : 88.0f;
    float n = __builtin_rintf(x * 1.44269504088896341f);
    float r = x - n * 0.693359375f;
    r = r - n * -2.12194440e-4f;
    float p = 1.9875691500e-4f;
    p = p * r + 1.3981999507e-3f;
    p = p * r + 8.3334519073e-3f;
    p = p * r + 4.1665795894e-2f;
    p = p * r + 1.6666665459e-1f;
    p = p * r + 5.0000001201e-1f;
    p = p * r * r + r + 1.0f;
    uint32_t bits = (uint32_t)((int32_t)n + 127) << 23; /* 2^n, n in [-126, 127] */
    float scale;
    memcpy(&scale, &bits, sizeof scale);
    return x_in != x_in ? x_in : p * scale;
}

static inline float vk_tanhf(float x) {
    float a = x < 0 ? -x : x;
    float z = x * x;
    float small = ((((-5.70498872745e-3f * z + 2.06390887954e-2f) * z - 5.37397155531e-2f) * z +
                    1.33314422036e-1f) * z - 3.33332819422e-1f) * z * x + x;
    float big = 1.0f - 2.0f / (vk_expf(2.0f * a) + 1.0f);
    big = x < 0 ? -big : big;
    return a < 0.625f ? small : big;
}

/* erfc(x) for x >= 0. */
static inline float vk_erfcf_pos(float x) {
    float t = 1.0f / (1.0f + 0.5f * x);
    float p = 0.17087277f;
    p = p * t - 0.82215223f;
    p = p * t + 1.48851587f;
    p = p * t - 1.13520398f;
    p = p * t + 0.27886807f;
    p = p * t - 0.18628806f;
    p = p * t + 0.09678418f;
    p = p * t + 0.37409196f;
    p = p * t + 1.00002368f;
    p = p * t - 1.26551223f;
    return t * vk_expf(-x * x + p);
}

/* Phi(x), the standard normal CDF = 0.5 * (1 + erf(x / sqrt 2)), computed
 * through erfc so that it stays relatively accurate for negative x. */
static inline float vk_phif(float x) {
    float z = x * 0.70710678118654752f;
    float a = z < 0 ? -z : z;
    float h = 0.5f * vk_erfcf_pos(a);
    return z < 0 ? h : 1.0f - h;
}

static inline float vk_sigmoidf(float x) { return 1.0f / (1.0f + vk_expf(-x)); }

/* x rounded to the nearest bfloat16 (ties to even; NaN stays a quiet NaN). */
static inline uint16_t vk_bf16(float x) {
    uint32_t u;
    memcpy(&u, &x, sizeof u);
    if ((u & 0x7fffffffu) > 0x7f800000u) return (uint16_t)((u >> 16) | 0x40u);
    u += 0x7fffu + ((u >> 16) & 1u); /* overflow carries into inf as it should */
    return (uint16_t)(u >> 16);
}

#endif
