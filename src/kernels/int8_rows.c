/* The f32 sides of an int8 dense layer (verto/int8.h): each input row
 * quantized to uint8 codes with its own scale and zero point, and the
 * epilogue that turns the int32 sums back into f32. Built per instruction set
 * with -fno-trapping-math (KERNEL_ISA_SRC): the clamps and the NaN probe are
 * comparisons, which gcc otherwise leaves scalar; before this move row
 * quantization was 13% of a BERT-small batch-1 int8 forward. */
#include <math.h>
#include <string.h>

#include "kernels/variant.h"
#include "verto/int8.h"

/* One row: its range widened to hold 0, so that 0 (padding, ReLU's zeros) is a code. */
static void quantize_row(const float *restrict x, uint8_t *restrict q, float *scale, int32_t *zero, int64_t cols) {
    float lo = 0.0f, hi = 0.0f, probe = 0.0f; /* probe: NaN if any x is NaN or infinite (inf * 0 is NaN) */
#pragma omp simd reduction(min : lo) reduction(max : hi) reduction(+ : probe)
    for (int64_t k = 0; k < cols; k++) {
        lo = x[k] < lo ? x[k] : lo;
        hi = x[k] > hi ? x[k] : hi;
        probe += x[k] * 0.0f;
    }
    if (probe != 0.0f) {
        memset(q, 0, (size_t)cols);
        *scale = NAN;
        *zero = 0;
        return;
    }
    float s = hi > lo ? (hi - lo) / 255.0f : 1.0f, inv = 1.0f / s;
    float z = fminf(fmaxf(nearbyintf(-lo * inv), 0.0f), 255.0f);
#pragma omp simd
    for (int64_t k = 0; k < cols; k++) {
        float c = nearbyintf(x[k] * inv) + z; /* integers below 2^9: the sum is exact */
        c = c < 0.0f ? 0.0f : c > 255.0f ? 255.0f : c;
        q[k] = (uint8_t)(int32_t)c;
    }
    *scale = s;
    *zero = (int32_t)z;
}

void VK_FN(vt_int8_quantize_rows)(const float *x, uint8_t *q, float *scale, int32_t *zero, int64_t rows,
                                  int64_t cols) {
#pragma omp parallel for schedule(static) if (rows > 1 && rows * cols >= 16384)
    for (int64_t r = 0; r < rows; r++) quantize_row(x + r * cols, q + r * cols, scale + r, zero + r, cols);
}

void VK_FN(vt_int8_dequantize)(const int32_t *acc, const float *sx, const int32_t *zx, const vt_int8_weights *w,
                               const float *bias, float *y, int64_t M) {
    int64_t N = w->out;
    const float *sw = w->scale;
    const int32_t *rs = w->row_sum;
#pragma omp parallel for schedule(static) if (M > 1 && M * N >= 16384)
    for (int64_t r = 0; r < M; r++) {
        const int32_t *a = acc + r * N;
        float *out = y + r * N, s = sx[r];
        int32_t z = zx[r];
        /* int32 is enough: z * rs and the difference are at most 255 * 63 * K in size (K <= 65536) */
#pragma omp simd
        for (int64_t o = 0; o < N; o++) {
            int32_t v;
            memcpy(&v, a + o, sizeof v); /* acc and y may be the same memory: read the int, then write the float */
            float f = (float)(v - z * rs[o]) * (s * sw[o]) + (bias ? bias[o] : 0.0f);
            memcpy(out + o, &f, sizeof f);
        }
    }
}
