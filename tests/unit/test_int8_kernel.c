/* The int8 dense layer (verto/int8.h) against a reference of the quantized
 * arithmetic written here: integer sums in int64, the zero points taken out
 * in integers, the f32 epilogue in double.
 *
 * - vt_int8_gemm: equal to the int64 sums bit for bit, on BERT-base's and
 *   BERT-small's dense shapes (Q/K/V fused, output, FFN up and down) at 1, 37
 *   and 128 rows; and on saturation-prone codes: activations at 255 and
 *   weights at +-63 in the pairs vpmaddubsw adds into an int16 (2 * 255 * 63 =
 *   32130 is the largest pair sum verto's 7-bit weights allow; it fits).
 *   This CPU is AVX2 without VNNI, the case where oneDNN documents the
 *   saturation; with the ISA capped (VERTO_MAX_ISA=avx2) the same holds.
 * - vt_int8_quantize_rows: codes equal to the formula of verto/int8.h, 0 a
 *   code, every value within half a step of its dequantized code.
 * - vt_int8_linear: within 4 f32 roundings (int -> float, sx * sw, the
 *   product, the bias: 4 * 2^-24 relative to |product| + |bias|) of the
 *   reference; the same bits for a row alone and in a batch; a NaN row gives
 *   NaN only in its own outputs; within int8's noise of the f32 layer (2% of
 *   the output's scale for these uniform inputs, 8 bits x 7 bits).
 * - vt_int8_pack: vt_int8_linear on packed weights (oneDNN's matmul
 *   primitive, rows in chunks of 512, the last padded to a multiple of 8)
 *   gives the bits of the unpacked path (the BLAS-like GEMM) at every row
 *   count around the chunk and padding edges, extreme codes included.
 * - vt_int8_check_weights: codes outside [-63, 63] and bad scales are errors
 *   naming the tensor, row and column. */
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vt_test.h"
#include "verto/int8.h"
#include "verto/kernels.h"
#include "verto/platform.h"
#include "verto/rng.h"

static void *xmalloc(size_t n) {
    void *p = calloc(n ? n : 1, 1);
    assert_non_null(p);
    return p;
}

/* acc (M, N) = x (M, K) w (N, K)^T in int64, then checked to fit int32. */
static void ref_gemm(const uint8_t *x, const int8_t *w, int64_t *acc, int64_t M, int64_t N, int64_t K) {
    for (int64_t i = 0; i < M; i++)
        for (int64_t j = 0; j < N; j++) {
            int64_t s = 0;
            for (int64_t k = 0; k < K; k++) s += (int64_t)x[i * K + k] * w[j * K + k];
            acc[i * N + j] = s;
        }
}

static void check_gemm(const uint8_t *x, const int8_t *w, int64_t M, int64_t N, int64_t K, const char *what) {
    int32_t *got = xmalloc((size_t)(M * N) * sizeof *got);
    int64_t *want = xmalloc((size_t)(M * N) * sizeof *want);
    assert_int_equal(vt_int8_gemm(x, w, got, M, N, K), VT_OK);
    ref_gemm(x, w, want, M, N, K);
    int64_t bad = 0;
    for (int64_t i = 0; i < M * N; i++) bad += got[i] != want[i];
    if (bad) printf("    %s M=%lld N=%lld K=%lld: %lld sums differ (first %d vs %lld)\n", what, (long long)M,
                    (long long)N, (long long)K, (long long)bad, got[0], (long long)want[0]);
    assert_int_equal(bad, 0);
    free(got);
    free(want);
}

static void random_codes(vt_rng *r, uint8_t *x, int64_t nx, int8_t *w, int64_t nw) {
    for (int64_t i = 0; i < nx; i++) x[i] = (uint8_t)vt_rng_below(r, 256);
    for (int64_t i = 0; i < nw; i++) w[i] = (int8_t)((int)vt_rng_below(r, 2 * VT_INT8_WEIGHT_MAX + 1) - VT_INT8_WEIGHT_MAX);
}

static void test_gemm_bert_shapes(void **state) {
    (void)state;
    /* (N, K): BERT-base Q/K/V fused, output, FFN up, down; BERT-small's the same */
    static const int64_t shapes[][2] = {{2304, 768}, {768, 768}, {3072, 768}, {768, 3072},
                                        {1536, 512}, {512, 512}, {2048, 512}, {512, 2048}};
    static const int64_t rows[] = {1, 37, 128};
    vt_rng r;
    vt_rng_seed(&r, 7);
    for (size_t s = 0; s < sizeof shapes / sizeof *shapes; s++)
        for (size_t m = 0; m < 3; m++) {
            int64_t M = rows[m], N = shapes[s][0], K = shapes[s][1];
            if (M == 128 && s % 4 != 3 && s != 0) continue; /* 128 rows on the fused and the longest K only */
            uint8_t *x = xmalloc((size_t)(M * K));
            int8_t *w = xmalloc((size_t)(N * K));
            random_codes(&r, x, M * K, w, N * K);
            check_gemm(x, w, M, N, K, "random codes");
            free(x);
            free(w);
        }
    printf("    int8 GEMM exact on BERT's shapes (verto kernels %s, oneDNN %s)\n", vt_isa_name(vt_isa_in_use()),
           vt_onednn_isa());
}

/* Codes at the extremes in every pair pattern vpmaddubsw can meet. */
static void test_gemm_saturation_prone(void **state) {
    (void)state;
    int64_t M = 8, N = 16, K = 3072;
    uint8_t *x = xmalloc((size_t)(M * K));
    int8_t *w = xmalloc((size_t)(N * K));
    vt_rng r;
    vt_rng_seed(&r, 11);
    for (int64_t i = 0; i < M; i++)
        for (int64_t k = 0; k < K; k++)
            x[i * K + k] = i == 0 ? 255 : i == 1 ? (k % 2 ? 255 : 0) : i == 2 ? (k % 4 < 2 ? 255 : 254)
                           : (uint8_t)(vt_rng_below(&r, 2) ? 255 : 0);
    for (int64_t j = 0; j < N; j++)
        for (int64_t k = 0; k < K; k++) {
            int v = VT_INT8_WEIGHT_MAX;
            switch (j % 4) {
            case 0: break;                                /* +63 +63: the largest pair sum */
            case 1: v = -v; break;                        /* -63 -63: the most negative */
            case 2: v = k % 2 ? -v : v; break;            /* +63 -63: pairs cancel */
            default: v = vt_rng_below(&r, 2) ? v : -v;    /* random signs */
            }
            w[j * K + k] = (int8_t)v;
        }
    check_gemm(x, w, M, N, K, "saturation-prone codes");
    /* What 8-bit weights would do here (informative: on AVX2 without VNNI the
     * pair sums 2 * 255 * 127 overflow int16; verto never stores such codes). */
    for (int64_t i = 0; i < N * K; i++) w[i] = w[i] > 0 ? 127 : -127;
    int32_t *got = xmalloc((size_t)(M * N) * sizeof *got);
    int64_t *want = xmalloc((size_t)(M * N) * sizeof *want);
    assert_int_equal(vt_int8_gemm(x, w, got, 1, N, K), VT_OK);
    ref_gemm(x, w, want, 1, N, K);
    printf("    with 8-bit weights (+-127) the all-255 row's first sum is %d, exactly %lld: %s\n", got[0],
           (long long)want[0], got[0] == want[0] ? "exact here" : "saturated, as oneDNN documents for non-VNNI CPUs");
    free(got);
    free(want);
    free(x);
    free(w);
}

static void test_quantize_rows(void **state) {
    (void)state;
    int64_t rows = 6, cols = 301;
    float *x = xmalloc((size_t)(rows * cols) * sizeof *x);
    uint8_t *q = xmalloc((size_t)(rows * cols));
    float sc[6];
    int32_t zp[6];
    vt_rng r;
    vt_rng_seed(&r, 3);
    for (int64_t i = 0; i < rows * cols; i++) {
        int64_t row = i / cols;
        double u = vt_rng_uniform(&r);
        x[i] = row == 0 ? (float)(3 * u - 1)         /* both signs */
               : row == 1 ? (float)(2 * u + 0.5)     /* all positive: the range is widened to 0 */
               : row == 2 ? (float)(-u - 0.25)       /* all negative */
               : row == 3 ? (i % cols == 7 ? 1000.0f : (float)(u - 0.5)) /* one outlier */
               : row == 4 ? 0.0f                     /* all zero */
               : (float)(u * 1e-30);                 /* tiny */
    }
    vt_int8_quantize_rows(x, q, sc, zp, rows, cols);
    for (int64_t row = 0; row < rows; row++) {
        float lo = 0, hi = 0;
        for (int64_t k = 0; k < cols; k++) {
            lo = fminf(lo, x[row * cols + k]);
            hi = fmaxf(hi, x[row * cols + k]);
        }
        float s = hi > lo ? (hi - lo) / 255.0f : 1.0f, inv = 1.0f / s;
        int32_t z = (int32_t)fminf(fmaxf(nearbyintf(-lo * inv), 0), 255);
        assert_true(sc[row] == s);
        assert_int_equal(zp[row], z);
        for (int64_t k = 0; k < cols; k++) {
            float v = x[row * cols + k];
            int want = (int)fminf(fmaxf(nearbyintf(v * inv) + (float)z, 0), 255);
            assert_int_equal(q[row * cols + k], want);
            /* within half a step (and the rounding of inv and z) of what it stands for */
            assert_true(fabs((double)v - (double)s * (q[row * cols + k] - z)) <= 0.51 * s + 1e-6 * fabs(v));
        }
    }
    float zero = 0.0f;
    assert_int_equal(q[4 * cols], zp[4]); /* 0 is a code */
    (void)zero;
    free(x);
    free(q);
}

/* y (M, N) by the quantized arithmetic in double from the same codes and scales. */
static void ref_linear(const float *x, const vt_int8_weights *w, const float *bias, double *y, double *mag,
                       int64_t M) {
    int64_t N = w->out, K = w->in;
    uint8_t *q = xmalloc((size_t)(M * K));
    float *sx = xmalloc((size_t)M * sizeof *sx);
    int32_t *zx = xmalloc((size_t)M * sizeof *zx);
    int64_t *acc = xmalloc((size_t)(M * N) * sizeof *acc);
    vt_int8_quantize_rows(x, q, sx, zx, M, K);
    ref_gemm(q, w->q, acc, M, N, K);
    for (int64_t i = 0; i < M; i++)
        for (int64_t j = 0; j < N; j++) {
            double p = (double)(acc[i * N + j] - (int64_t)zx[i] * w->row_sum[j]) * ((double)sx[i] * w->scale[j]);
            double b = bias ? bias[j] : 0;
            y[i * N + j] = p + b;
            mag[i * N + j] = fabs(p) + fabs(b);
        }
    free(q);
    free(sx);
    free(zx);
    free(acc);
}

typedef struct qweights {
    int8_t *q;
    float *scale;
    int32_t *row_sum;
    vt_int8_weights w;
} qweights;

static void quantize(qweights *qw, const float *W, int64_t N, int64_t K) {
    qw->q = xmalloc((size_t)(N * K));
    qw->scale = xmalloc((size_t)N * sizeof(float));
    qw->row_sum = xmalloc((size_t)N * sizeof(int32_t));
    assert_int_equal(vt_int8_quantize_weights(W, qw->q, qw->scale, qw->row_sum, N, K), VT_OK);
    qw->w = (vt_int8_weights){.q = qw->q, .scale = qw->scale, .row_sum = qw->row_sum, .out = N, .in = K};
}

static void free_q(qweights *qw) {
    vt_int8_packed_free((vt_int8_packed *)qw->w.packed);
    free(qw->q);
    free(qw->scale);
    free(qw->row_sum);
}

/* y (M, N) through the packed path must be y_plain's bits. */
static void check_packed(qweights *qw, const float *x, const float *b, const float *y_plain, int64_t M) {
    vt_int8_packed *p;
    assert_int_equal(vt_int8_pack(&qw->w, &p), VT_OK);
    vt_int8_weights packed = qw->w;
    packed.packed = p;
    float *y = xmalloc((size_t)(M * qw->w.out) * sizeof *y);
    assert_int_equal(vt_int8_linear(x, &packed, b, y, M), VT_OK);
    assert_memory_equal(y, y_plain, (size_t)(M * qw->w.out) * sizeof *y);
    vt_int8_packed_free(p);
    free(y);
}

static void check_linear(vt_rng *r, int64_t M, int64_t N, int64_t K, bool extremes) {
    float *x = xmalloc((size_t)(M * K) * sizeof *x), *W = xmalloc((size_t)(N * K) * sizeof *W);
    float *b = xmalloc((size_t)N * sizeof *b), *y = xmalloc((size_t)(M * N) * sizeof *y);
    float *y32 = xmalloc((size_t)(M * N) * sizeof *y32), *one = xmalloc((size_t)N * sizeof *one);
    double *want = xmalloc((size_t)(M * N) * sizeof *want), *mag = xmalloc((size_t)(M * N) * sizeof *mag);
    for (int64_t i = 0; i < M * K; i++) x[i] = (float)(2 * vt_rng_uniform(r) - 1);
    for (int64_t i = 0; i < N * K; i++) W[i] = extremes ? (i % 3 ? 0.05f : -0.05f) : (float)(0.1 * (2 * vt_rng_uniform(r) - 1));
    for (int64_t i = 0; i < N; i++) b[i] = (float)(vt_rng_uniform(r) - 0.5);
    if (extremes) /* rows of one outlier, rows all at their maximum, GELU-like rows */
        for (int64_t i = 0; i < M; i++)
            for (int64_t k = 0; k < K; k++) {
                float *v = &x[i * K + k];
                *v = i % 3 == 0 ? (k == i % K ? 50.0f : *v * 0.01f) : i % 3 == 1 ? 2.0f : fmaxf(*v, -0.17f) * 3;
            }
    qweights qw;
    quantize(&qw, W, N, K);
    assert_int_equal(vt_int8_linear(x, &qw.w, b, y, M), VT_OK);
    ref_linear(x, &qw.w, b, want, mag, M);
    double worst = 0;
    for (int64_t i = 0; i < M * N; i++) {
        double e = fabs(y[i] - want[i]) / (mag[i] > 1e-30 ? mag[i] : 1e-30);
        worst = e > worst ? e : worst;
    }
    printf("    int8 linear M=%lld N=%lld K=%lld%s: max error / (|product| + |bias|) %.2g (allowed 4 * 2^-24 = %.2g)\n",
           (long long)M, (long long)N, (long long)K, extremes ? " (extreme codes)" : "", worst, 4 * 0x1p-24);
    assert_true(worst <= 4 * 0x1p-24);
    check_packed(&qw, x, b, y, M);
    /* every row alone: the same bits */
    for (int64_t i = 0; i < M; i += M / 3 + 1) {
        assert_int_equal(vt_int8_linear(x + i * K, &qw.w, b, one, 1), VT_OK);
        assert_memory_equal(one, y + i * N, (size_t)N * sizeof *one);
    }
    if (!extremes) { /* and near the f32 layer */
        assert_int_equal(vt_matmul(x, W, b, y32, M, N, K, false, true, 0.0f), VT_OK);
        double rel = rel_max_diff(y, y32, M * N);
        printf("    int8 vs f32 layer: %.3g of the output's scale (allowed 0.02)\n", rel);
        assert_true(rel <= 0.02);
    }
    free_q(&qw);
    free(x);
    free(W);
    free(b);
    free(y);
    free(y32);
    free(one);
    free(want);
    free(mag);
}

static void test_linear(void **state) {
    (void)state;
    vt_rng r;
    vt_rng_seed(&r, 5);
    check_linear(&r, 64, 512, 2048, false);
    check_linear(&r, 37, 2304, 768, false);
    check_linear(&r, 3, 3, 5, false);
    check_linear(&r, 30, 768, 3072, true);
}

/* Row counts around the packed path's chunks (512) and padding (8). */
static void test_linear_packed_rows(void **state) {
    (void)state;
    static const int64_t rows[] = {1, 31, 32, 33, 128, 511, 512, 513, 1100};
    int64_t N = 96, K = 160, most = 1100;
    vt_rng r;
    vt_rng_seed(&r, 13);
    float *x = xmalloc((size_t)(most * K) * sizeof *x), *W = xmalloc((size_t)(N * K) * sizeof *W);
    float *b = xmalloc((size_t)N * sizeof *b), *y = xmalloc((size_t)(most * N) * sizeof *y);
    for (int64_t i = 0; i < most * K; i++) x[i] = (float)(2 * vt_rng_uniform(&r) - 1);
    for (int64_t i = 0; i < N * K; i++) W[i] = (float)(0.1 * (2 * vt_rng_uniform(&r) - 1));
    for (int64_t i = 0; i < N; i++) b[i] = (float)(vt_rng_uniform(&r) - 0.5);
    qweights qw;
    quantize(&qw, W, N, K);
    for (size_t i = 0; i < sizeof rows / sizeof *rows; i++) {
        assert_int_equal(vt_int8_linear(x, &qw.w, b, y, rows[i]), VT_OK);
        check_packed(&qw, x, b, y, rows[i]);
    }
    printf("    packed int8 linear: the unpacked bits at %zu row counts from 1 to %lld\n", sizeof rows / sizeof *rows,
           (long long)most);
    free_q(&qw);
    free(x);
    free(W);
    free(b);
    free(y);
}

static void test_linear_special_rows(void **state) {
    (void)state;
    int64_t M = 3, N = 4, K = 8;
    float W[32], b[4] = {1, 2, 3, 4}, x[24], y[12];
    for (int i = 0; i < 32; i++) W[i] = (float)(i % 5) - 2;
    for (int i = 0; i < 24; i++) x[i] = (float)i / 10;
    for (int k = 0; k < 8; k++) x[8 + k] = 0; /* row 1 all zero: y = b */
    x[16 + 3] = NAN;                          /* row 2: NaN */
    qweights qw;
    quantize(&qw, W, N, K);
    assert_int_equal(vt_int8_linear(x, &qw.w, b, y, M), VT_OK);
    for (int j = 0; j < 4; j++) {
        assert_true(isfinite(y[j]));
        assert_true(y[4 + j] == b[j]);
        assert_true(isnan(y[8 + j]));
    }
    free_q(&qw);
    float bad = INFINITY;
    int8_t q1;
    float s1;
    int32_t rs;
    vt_clear_error();
    assert_int_equal(vt_int8_quantize_weights(&bad, &q1, &s1, &rs, 1, 1), VT_ERR_INVALID_ARG);
}

static void test_check_weights(void **state) {
    (void)state;
    int8_t q[6] = {1, -63, 63, 0, 64, 2};
    float scale[2] = {0.5f, 0.25f};
    int32_t rs[2];
    vt_clear_error();
    assert_int_equal(vt_int8_check_weights(q, scale, rs, 2, 3, "w.weight"), VT_ERR_FORMAT);
    assert_non_null(strstr(vt_last_error(), "w.weight"));
    assert_non_null(strstr(vt_last_error(), "[1][1]"));
    q[4] = -64;
    assert_int_equal(vt_int8_check_weights(q, scale, rs, 2, 3, "w.weight"), VT_ERR_FORMAT);
    q[4] = -7;
    assert_int_equal(vt_int8_check_weights(q, scale, rs, 2, 3, "w.weight"), VT_OK);
    assert_int_equal(rs[0], 1);
    assert_int_equal(rs[1], -5);
    scale[1] = 0;
    assert_int_equal(vt_int8_check_weights(q, scale, rs, 2, 3, "w.weight"), VT_ERR_FORMAT);
    scale[1] = NAN;
    assert_int_equal(vt_int8_check_weights(q, scale, rs, 2, 3, "w.weight"), VT_ERR_FORMAT);
    assert_non_null(strstr(vt_last_error(), "row 1"));
    int32_t acc;
    assert_int_equal(vt_int8_gemm(NULL, NULL, &acc, 1, 1, VT_INT8_MAX_K + 1), VT_ERR_SHAPE);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_gemm_bert_shapes),  cmocka_unit_test(test_gemm_saturation_prone),
        cmocka_unit_test(test_quantize_rows),     cmocka_unit_test(test_linear),
        cmocka_unit_test(test_linear_packed_rows),
        cmocka_unit_test(test_linear_special_rows), cmocka_unit_test(test_check_weights),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
