/* Float math that gcc can vectorise inside `#pragma omp simd` loops (glibc's
 * expf/erff/tanhf only vectorise under -ffast-math). Private to src/kernels.
 *
 * vk_expf: Cephes expf (range reduction by ln 2, degree-6 polynomial),
 *          about 1 ulp; inputs are clamped to [-87.3, 88], so it never
 *          returns inf or NaN for finite input.
 * vk_tanhf: Cephes tanhf: odd polynomial for |x| < 0.625, else via exp;
 *          a few ulp.
 * vk_phi_pdf: the normal CDF and density of the exact GELU (below). */
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

static inline float vk_sigmoidf(float x) { return 1.0f / (1.0f + vk_expf(-x)); }

#define VK_GELU_TANH_C 0.7978845608028654f /* sqrt(2 / pi) */
#define VK_INV_SQRT_2PI 0.3989422804014327f

/* Phi(x) for the GELU and, in *pdf, phi(x) = exp(-x^2 / 2) / sqrt(2 pi),
 * sharing one exp: erfc(a) = t P(t) exp(-a^2), t = 1 / (1 + p a), a = |x| / sqrt 2
 * (Abramowitz & Stegun 7.1.26, absolute error < 1.5e-7). */
static inline float vk_phi_pdf(float x, float *pdf) {
    float z = x * 0.70710678118654752f, a = z < 0 ? -z : z;
    float t = 1.0f / (1.0f + 0.3275911f * a);
    float e = vk_expf(-a * a);
    float p = ((((1.061405429f * t - 1.453152027f) * t + 1.421413741f) * t - 0.284496736f) * t + 0.254829592f) * t;
    float h = 0.5f * p * e; /* Phi(-|x|) */
    *pdf = VK_INV_SQRT_2PI * e;
    return z < 0 ? h : 1.0f - h;
}

/* GELU x Phi(x) and its derivative Phi(x) + x phi(x). */
static inline float vk_gelu(float x) {
    float pdf;
    return x * vk_phi_pdf(x, &pdf);
}
static inline float vk_gelu_grad(float x) {
    float pdf, phi = vk_phi_pdf(x, &pdf);
    return phi + x * pdf;
}

/* The tanh form 0.5 x (1 + tanh(u)), u = c (x + 0.044715 x^3), and its derivative. */
static inline float vk_gelu_tanh(float x) {
    return 0.5f * x * (1.0f + vk_tanhf(VK_GELU_TANH_C * (x + 0.044715f * x * x * x)));
}
static inline float vk_gelu_tanh_grad(float x) {
    float t = vk_tanhf(VK_GELU_TANH_C * (x + 0.044715f * x * x * x));
    float du = VK_GELU_TANH_C * (1.0f + 3.0f * 0.044715f * x * x);
    return 0.5f * (1.0f + t) + 0.5f * x * (1.0f - t * t) * du;
}

/* x rounded to the nearest bfloat16 (ties to even; NaN stays a quiet NaN). */
static inline uint16_t vk_bf16(float x) {
    uint32_t u;
    memcpy(&u, &x, sizeof u);
    if ((u & 0x7fffffffu) > 0x7f800000u) return (uint16_t)((u >> 16) | 0x40u);
    u += 0x7fffu + ((u >> 16) & 1u); /* overflow carries into inf as it should */
    return (uint16_t)(u >> 16);
}

#endif
