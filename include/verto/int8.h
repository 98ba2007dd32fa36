/* int8 dense layers: weights quantized once per output channel, activations
 * per row at run time (dynamic quantization, as PyTorch's quantize_dynamic
 * and ONNX Runtime's DynamicQuantizeLinear + MatMulInteger do).
 *
 * The scheme (docs/int8.md says why):
 * - weights: int8, symmetric, one f32 scale per output channel,
 *   q = round(w / scale) with scale = max|w| / 63, so q is in [-63, 63]
 *   (7 bits). On AVX2 without VNNI oneDNN multiplies u8 x s8 with vpmaddubsw,
 *   which adds two products into a saturating int16: 255 * 127 * 2 overflows
 *   it, 255 * 63 * 2 = 32130 does not, so every sum is exact in int32 on
 *   every x86 CPU (ONNX Runtime's reduce_range does the same for weights).
 * - activations: uint8, asymmetric, per row: the row's range [min, max]
 *   widened to hold 0, scale = (max - min) / 255, zero point
 *   z = round(-min / scale), q = clamp(round(x / scale) + z, 0, 255).
 *   Asymmetric because the FFN's down projection reads GELU's output (>= -0.17
 *   and a long positive tail): a symmetric code would leave half its values
 *   unused there. u8 is also what oneDNN's int8 GEMM takes.
 * - y[r][o] = sx[r] * sw[o] * (acc[r][o] - z[r] * row_sum[o]) + b[o], with
 *   acc = sum_k qx[r][k] * qw[o][k] in int32 (exact) and row_sum[o] =
 *   sum_k qw[o][k]: the zero point taken out in integers.
 * A row's result depends on that row alone (the integer sums are exact), so
 * a text gets the same bits in any batch. */
#ifndef VERTO_INT8_H
#define VERTO_INT8_H

#include "verto/export.h"

#include <stdbool.h>
#include <stdint.h>

#include "verto/error.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The largest weight code: 7 bits (see above). */
#define VT_INT8_WEIGHT_MAX 63
/* The longest dot product the kernel takes: 255 * 63 * K must stay an int32. */
#define VT_INT8_MAX_K 65536

/* q reordered for oneDNN's int8 matmul kernel (vt_int8_pack). */
typedef struct vt_int8_packed vt_int8_packed;

/* A dense weight W (out, in) quantized per output channel. */
typedef struct vt_int8_weights {
    const int8_t *q;        /* (out, in) in [-VT_INT8_WEIGHT_MAX, VT_INT8_WEIGHT_MAX] */
    const float *scale;     /* (out) W[o][k] ~= scale[o] * q[o][k] */
    const int32_t *row_sum; /* (out) sum_k q[o][k] */
    int64_t out, in;
    const vt_int8_packed *packed; /* q in the kernel's layout, or NULL (vt_int8_gemm, which lays q out per call) */
} vt_int8_weights;

/* q (out, in), scale (out), row_sum (out) from W (out, in) by the scheme
 * above; an all-zero row gets scale 1 (its codes are 0). VT_ERR_INVALID_ARG
 * for a non-finite weight (naming its row and column). */
VT_API vt_status vt_int8_quantize_weights(const float *W, int8_t *q, float *scale, int32_t *row_sum, int64_t out,
                                          int64_t in);

/* row_sum (out) of codes q (out, in); VT_ERR_FORMAT naming `what`, the row and
 * the column if a code lies outside [-63, 63] or a scale is not finite and
 * positive (scale may be NULL: not checked). For weights read from a file. */
VT_API vt_status vt_int8_check_weights(const int8_t *q, const float *scale, int32_t *row_sum, int64_t out,
                                       int64_t in, const char *what);

/* q (rows, cols), scale (rows), zero (rows) from x (rows, cols) by the
 * scheme above. A row holding a NaN or an infinity gets scale NaN (its
 * outputs become NaN, as an f32 product's would). */
VT_API void vt_int8_quantize_rows(const float *x, uint8_t *q, float *scale, int32_t *zero, int64_t rows,
                                  int64_t cols);

/* acc (M, N) = xq (M, K) qw (N, K)^T, exact in int32 (oneDNN's u8 x s8 GEMM;
 * qw's codes within [-63, 63]). K <= VT_INT8_MAX_K. */
VT_API vt_status vt_int8_gemm(const uint8_t *xq, const int8_t *qw, int32_t *acc, int64_t M, int64_t N, int64_t K);

/* w->q laid out once as oneDNN's int8 matmul kernel reads it, for
 * vt_int8_linear to use through w->packed (the same sums, without copying
 * the weights on every call). Free with vt_int8_packed_free after the last
 * use. VT_ERR_UNSUPPORTED if oneDNN refuses (vt_int8_gemm still works). */
VT_API vt_status vt_int8_pack(const vt_int8_weights *w, vt_int8_packed **out);
VT_API void vt_int8_packed_free(vt_int8_packed *p);
/* y (M, N) = sx[r] * w->scale[o] * (acc[r][o] - zx[r] * w->row_sum[o]) + bias[o]
 * (bias (N) or NULL), computed in that order in f32 from the int32
 * difference. acc and y may be the same memory (the epilogue runs in place). */
VT_API void vt_int8_dequantize(const int32_t *acc, const float *sx, const int32_t *zx, const vt_int8_weights *w,
                               const float *bias, float *y, int64_t M);

/* The whole dense layer: y (rows, w->out) = x (rows, w->in) W^T + bias, with
 * x quantized per row into a per-thread buffer (grown to the largest shape,
 * kept until the thread ends). Any number of threads may call it. */
VT_API vt_status vt_int8_linear(const float *x, const vt_int8_weights *w, const float *bias, float *y, int64_t rows);

#ifdef __cplusplus
}
#endif
#endif
