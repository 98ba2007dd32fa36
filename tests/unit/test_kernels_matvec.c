/* vt_matvec and vt_matvec_bf16 (the decode steps' few-row products) against
 * double loops (tests/support ref_matmul).
 *
 * Shapes: M = 1..5 (pairs of rows and a lone last row), N not a multiple of
 * the 4-row block, K below, at and across the vector width (8 for AVX2, 16
 * for AVX-512, so the scalar tail runs), with and without bias, overwriting
 * and accumulating, and N * K on both sides of the threshold where threads
 * start. Tolerance: 1e-5 of the result's largest magnitude, as the matmul
 * tests: f32 sums of K <= 600 terms of order 1 err by ~sqrt(K) 6e-8, while a
 * wrong row, bias or accumulate errs by O(1). bf16 weights: the reference
 * runs on the same bf16-rounded weights widened to f32 (exact), so the same
 * bound holds; the error against the unrounded weights is checked to be of
 * bf16's size, which a kernel that read the f32 weights would not show.
 *
 * A row's result must be the same bits alone (M = 1), inside any M, and at 1
 * or 2 threads. The run covers the ISA verto picked here; `make test-avx2`
 * runs it again capped at AVX2 on an AVX-512 machine. */
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vt_test.h"
#include "verto/kernels.h"
#include "verto/platform.h"
#include "verto/rng.h"

#define MV_TOL 1e-5

/* One shape; returns the error against the unrounded weights. */
static double check_one(vt_rng *r, int64_t M, int64_t N, int64_t K, bool has_bias, bool accumulate, bool bf16) {
    float *x = test_floats(M * K), *W = test_floats(N * K), *bias = test_floats(N), *y = test_floats(M * N), *y0 = test_floats(M * N),
          *want = test_floats(M * N), *want_f32 = test_floats(M * N);
    vt_bf16 *W16 = calloc((size_t)(N * K) + 1, sizeof *W16);
    assert_non_null(W16);
    test_fill_uniform(r, x, M * K), test_fill_uniform(r, W, N * K), test_fill_uniform(r, bias, N), test_fill_uniform(r, y0, M * N);
    const float *b = has_bias ? bias : NULL;
    float beta = accumulate ? 1.0f : 0.0f;
    ref_matmul(x, W, b, y0, want_f32, M, N, K, false, true, beta);
    if (bf16) {
        vt_f32_to_bf16(W, W16, N * K);
        for (int64_t i = 0; i < N * K; i++) W[i] = vt_bf16_to_f32(W16[i]);
    }
    ref_matmul(x, W, b, y0, want, M, N, K, false, true, beta);
    memcpy(y, y0, (size_t)(M * N) * sizeof(float));
    if (bf16) vt_matvec_bf16(x, W16, b, y, M, N, K, accumulate);
    else vt_matvec(x, W, b, y, M, N, K, accumulate);
    double err = rel_max_diff(y, want, M * N);
    if (!(err <= MV_TOL))
        fail_msg("%s matvec M=%lld N=%lld K=%lld bias=%d accumulate=%d: rel err %g", bf16 ? "bf16" : "f32",
                 (long long)M, (long long)N, (long long)K, has_bias, accumulate, err);
    double unrounded = rel_max_diff(y, want_f32, M * N);
    free(x), free(W), free(bias), free(y), free(y0), free(want), free(want_f32), free(W16);
    return unrounded;
}

static const int64_t Ms[] = {1, 2, 3, 4, 5};
static const int64_t Ns[] = {1, 3, 4, 7, 33, 301};
static const int64_t Ks[] = {1, 7, 8, 15, 16, 17, 100, 131};

static void run_shapes(bool bf16) {
    vt_rng r;
    vt_rng_seed(&r, bf16 ? 22 : 21);
    double worst_unrounded = 0;
    int n = 0;
    for (size_t a = 0; a < sizeof Ms / sizeof *Ms; a++)
        for (size_t b = 0; b < sizeof Ns / sizeof *Ns; b++)
            for (size_t c = 0; c < sizeof Ks / sizeof *Ks; c++)
                for (int flags = 0; flags < 4; flags++, n++) {
                    double e = check_one(&r, Ms[a], Ns[b], Ks[c], flags & 1, flags & 2, bf16);
                    if (Ks[c] >= 100 && e > worst_unrounded) worst_unrounded = e;
                }
    /* shapes past the threshold where the rows are split between threads */
    for (int flags = 0; flags < 4; flags++, n += 2) {
        check_one(&r, 1, 1027, 600, flags & 1, flags & 2, bf16);
        check_one(&r, 4, 515, 129, flags & 1, flags & 2, bf16);
    }
    printf("    %s: %d shapes within %.0e (isa %s); worst error vs unrounded weights %.3g\n", bf16 ? "bf16" : "f32", n,
           MV_TOL, vt_isa_name(vt_isa_in_use()), worst_unrounded);
    if (bf16) /* weights rounded by up to 2^-9 relative: a kernel reading f32 weights would be ~1e-7 */
        assert_true(worst_unrounded > 1e-4 && worst_unrounded < 0.1);
    else
        assert_true(worst_unrounded <= MV_TOL);
}

static void test_matvec_f32(void **state) {
    (void)state;
    run_shapes(false);
}

static void test_matvec_bf16(void **state) {
    (void)state;
    run_shapes(true);
}

/* Each row of y, bit for bit, whatever M and the thread count. */
static void test_rows_independent(void **state) {
    (void)state;
    enum { M = 5, N = 1001, K = 77 }; /* N * K past the threading threshold */
    vt_rng r;
    vt_rng_seed(&r, 23);
    float *x = test_floats(M * K), *W = test_floats(N * K), *bias = test_floats(N), *all = test_floats(M * N), *one = test_floats(N);
    vt_bf16 *W16 = calloc((size_t)N * K, sizeof *W16);
    assert_non_null(W16);
    test_fill_uniform(&r, x, M * K), test_fill_uniform(&r, W, N * K), test_fill_uniform(&r, bias, N);
    vt_f32_to_bf16(W, W16, N * K);
    int threads = omp_get_max_threads();
    for (int bf16 = 0; bf16 < 2; bf16++)
        for (int t = 1; t <= 2; t++) {
            omp_set_num_threads(t);
            if (bf16) vt_matvec_bf16(x, W16, bias, all, M, N, K, false);
            else vt_matvec(x, W, bias, all, M, N, K, false);
            omp_set_num_threads(3 - t);
            for (int64_t m = 0; m < M; m++) {
                if (bf16) vt_matvec_bf16(x + m * K, W16, bias, one, 1, N, K, false);
                else vt_matvec(x + m * K, W, bias, one, 1, N, K, false);
                if (memcmp(one, all + m * N, N * sizeof(float)) != 0)
                    fail_msg("%s row %lld differs alone (%d threads) and in M=%d (%d threads)", bf16 ? "bf16" : "f32",
                             (long long)m, 3 - t, M, t);
            }
        }
    omp_set_num_threads(threads);
    free(x), free(W), free(bias), free(all), free(one), free(W16);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_matvec_f32),
        cmocka_unit_test(test_matvec_bf16),
        cmocka_unit_test(test_rows_independent),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
