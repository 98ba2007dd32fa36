/* vt_matmul (oneDNN) and vt_sum_rows against naive double loops.
 *
 * Every combination of trans_a, trans_b, bias and beta in {0, 1}, at sizes
 * that are not multiples of any vector width. Tolerance: 1e-5 of the result's
 * largest magnitude; fp32 accumulation over K <= 300 terms of order 1 errs by
 * about sqrt(K) * 6e-8 ~ 1e-6 relative, and a wrong transpose, bias or beta
 * errs by O(1). Also: zero sizes, K = 0, negative sizes (an error), primitive
 * reuse from the cache, concurrent callers, and the cache's bound (its
 * least recently used primitives destroyed while other threads run theirs).
 *
 * bf16: the conversion against hand-worked roundings (ties to even, carries
 * into the exponent, overflow to infinity, NaN), and vt_matmul_bf16 against
 * the same double loops run on the bf16-rounded operands, so only the f32
 * accumulation differs and the fp32 tolerance applies; the error against the
 * unrounded operands is also checked to be of bf16's size (2^-9 relative per
 * operand), which a matmul that silently ran in f32 or in bf16 output would
 * not match.
 *
 * bf16 runs on every CPU: oneDNN's bf16 kernels where it has them, else f32
 * products of the widened operands (exact), which the same bounds hold for.
 *
 * vt_matmul_seqwise: every sequence's rows, bit for bit, what the sequence
 * alone gives (whatever the batch around it, at 1 and at 2 threads), and
 * within the fp32 tolerance of the double loops; at sequence lengths below,
 * at and across the 64-row blocks. */
#include <math.h>
#include <omp.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vt_test.h"
#include "kernels/onednn_internal.h"
#include "verto/kernels.h"
#include "verto/platform.h"
#include "verto/rng.h"

#define MM_TOL 1e-5

/* Runs one configuration of vt_matmul, or of vt_matmul_bf16 on the operands
 * rounded to bf16; asserts the relative error against double loops on the
 * operands it was given, and returns the error against the unrounded ones. */
static double check_one(vt_rng *r, int64_t M, int64_t N, int64_t K, bool ta, bool tb, bool has_bias, float beta,
                        bool bf16) {
    float *A = test_floats(M * K), *B = test_floats(K * N), *bias = test_floats(N), *C = test_floats(M * N), *C0 = test_floats(M * N),
          *want = test_floats(M * N), *want_f32 = test_floats(M * N);
    vt_bf16 *A16 = calloc((size_t)(M * K) + 1, sizeof *A16), *B16 = calloc((size_t)(K * N) + 1, sizeof *B16);
    assert_true(A16 && B16);
    test_fill_uniform(r, A, M * K), test_fill_uniform(r, B, K * N), test_fill_uniform(r, bias, N), test_fill_uniform(r, C0, M * N);
    ref_matmul(A, B, has_bias ? bias : NULL, C0, want_f32, M, N, K, ta, tb, beta);
    if (bf16) {
        vt_f32_to_bf16(A, A16, M * K), vt_f32_to_bf16(B, B16, K * N);
        for (int64_t i = 0; i < M * K; i++) A[i] = vt_bf16_to_f32(A16[i]);
        for (int64_t i = 0; i < K * N; i++) B[i] = vt_bf16_to_f32(B16[i]);
    }
    memcpy(C, C0, (size_t)(M * N) * sizeof(float));
    const float *b = has_bias ? bias : NULL;
    assert_int_equal(bf16 ? vt_matmul_bf16(A16, B16, b, C, M, N, K, ta, tb, beta)
                          : vt_matmul(A, B, b, C, M, N, K, ta, tb, beta),
                     VT_OK);
    ref_matmul(A, B, b, C0, want, M, N, K, ta, tb, beta);
    double err = rel_max_diff(C, want, M * N);
    if (!(err <= MM_TOL))
        fail_msg("%s matmul M=%lld N=%lld K=%lld ta=%d tb=%d bias=%d beta=%g: rel err %g", bf16 ? "bf16" : "f32",
                 (long long)M, (long long)N, (long long)K, ta, tb, has_bias, (double)beta, err);
    double unrounded = rel_max_diff(C, want_f32, M * N);
    free(A), free(B), free(bias), free(C), free(C0), free(want), free(want_f32), free(A16), free(B16);
    return unrounded;
}

static void test_matmul_combos(void **state) {
    (void)state;
    vt_rng r;
    vt_rng_seed(&r, 21);
    const int64_t sizes[][3] = {{1, 1, 1}, {7, 5, 3}, {67, 45, 33}, {130, 97, 300}, {1, 300, 17}};
    double worst = 0;
    for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++)
        for (int combo = 0; combo < 16; combo++) {
            bool ta = combo & 1, tb = combo & 2, bias = combo & 4;
            float beta = combo & 8 ? 1.0f : 0.0f;
            double e = check_one(&r, sizes[s][0], sizes[s][1], sizes[s][2], ta, tb, bias, beta, false);
            if (e > worst) worst = e;
        }
    printf("    matmul, 5 sizes x 16 (trans_a, trans_b, bias, beta): worst rel err %.2e (tol %.0e)\n", worst, MM_TOL);
    /* the same shapes again: cached primitives, new data */
    for (int combo = 0; combo < 16; combo++)
        check_one(&r, 67, 45, 33, combo & 1, combo & 2, combo & 4, combo & 8 ? 1.0f : 0.0f, false);
}

static void test_matmul_degenerate(void **state) {
    (void)state;
    float A[6] = {1, 2, 3, 4, 5, 6}, B[6] = {1, 1, 1, 1, 1, 1}, bias[3] = {10, 20, 30};
    float C[6] = {1, 2, 3, 4, 5, 6};
    const float C0[6] = {1, 2, 3, 4, 5, 6};
    /* M or N zero: nothing to do, nothing written */
    assert_int_equal(vt_matmul(A, B, bias, C, 0, 3, 2, false, false, 0), VT_OK);
    assert_int_equal(vt_matmul(A, B, bias, C, 2, 0, 2, true, true, 1), VT_OK);
    assert_memory_equal(C, C0, sizeof C);
    /* K zero: C = bias + beta C */
    assert_int_equal(vt_matmul(A, B, bias, C, 2, 3, 0, false, false, 1), VT_OK);
    for (int i = 0; i < 6; i++) assert_true(C[i] == C0[i] + bias[i % 3]);
    assert_int_equal(vt_matmul(A, B, NULL, C, 2, 3, 0, false, false, 0), VT_OK);
    for (int i = 0; i < 6; i++) assert_true(C[i] == 0.0f);
    /* negative sizes: an error, with a message */
    vt_clear_error();
    assert_int_equal(vt_matmul(A, B, NULL, C, -1, 3, 2, false, false, 0), VT_ERR_SHAPE);
    assert_true(strlen(vt_last_error()) > 0);
}

typedef struct thread_job {
    uint64_t seed;
    int64_t first_alpha; /* churn_main: this thread's own keys, alpha = first_alpha + i */
    int failures;
} thread_job;

/* Runs fn on 4 threads at once, each with its own seed (and keys); none may fail. */
static void run_four_threads(void *(*fn)(void *), uint64_t first_seed) {
    pthread_t th[4];
    thread_job jobs[4];
    for (int i = 0; i < 4; i++) {
        jobs[i] = (thread_job){.seed = first_seed + (uint64_t)i, .first_alpha = 100000 * (i + 1)};
        assert_int_equal(pthread_create(&th[i], NULL, fn, &jobs[i]), 0);
    }
    for (int i = 0; i < 4; i++) {
        pthread_join(th[i], NULL);
        assert_int_equal(jobs[i].failures, 0);
    }
}

static void *thread_main(void *p) {
    thread_job *job = p;
    vt_rng r;
    vt_rng_seed(&r, job->seed);
    for (int it = 0; it < 100; it++) {
        int64_t M = 64 + it % 3, N = 48, K = 64 + it % 2;
        float *A = malloc((size_t)(M * K) * 4), *B = malloc((size_t)(K * N) * 4), *C = malloc((size_t)(M * N) * 4),
              *want = malloc((size_t)(M * N) * 4);
        test_fill_uniform(&r, A, M * K), test_fill_uniform(&r, B, K * N);
        if (vt_matmul(A, B, NULL, C, M, N, K, it & 1, false, 0) != VT_OK) job->failures++;
        ref_matmul(A, B, NULL, NULL, want, M, N, K, it & 1, false, 0);
        if (!(rel_max_diff(C, want, M * N) <= MM_TOL)) job->failures++;
        free(A), free(B), free(C), free(want);
    }
    return NULL;
}

/* Callers on several threads at once run the same cached primitives (the
 * shapes repeat) and must each get their own answer; an execution that shares
 * its scratchpad with another gives wrong sums here within a few hundred runs. */
static void test_matmul_threads(void **state) {
    (void)state;
    run_four_threads(thread_main, 500);
}

/* One product of M x 8 x 8 through oneDNN (vt_matmul_strided always is),
 * against the double loops; returns whether it was right. */
static bool strided_ok(vt_rng *r, int64_t M) {
    float A[64 * 8], B[8 * 8], C[64 * 8], want[64 * 8];
    test_fill_uniform(r, A, M * 8), test_fill_uniform(r, B, 64);
    vt_strides s8 = {0, 8, 1};
    if (vt_matmul_strided(1, M, 8, 8, 1.0f, A, s8, B, s8, 0.0f, C, s8) != VT_OK) return false;
    ref_matmul(A, B, NULL, NULL, want, M, 8, 8, false, false, 0);
    return rel_max_diff(C, want, M * 8) <= MM_TOL;
}

/* Products with keys no other thread uses, so entries are created (and old
 * ones evicted) while the other threads run theirs. */
static void *churn_main(void *p) {
    thread_job *job = p;
    vt_rng r;
    vt_rng_seed(&r, job->seed);
    float A[16 * 8], B[8 * 8], C[16 * 8], want[16 * 8];
    vt_strides s8 = {0, 8, 1};
    for (int64_t i = 0; i < 400; i++) {
        float alpha = (float)(job->first_alpha + i);
        int64_t M = 1 + i % 16;
        test_fill_uniform(&r, A, M * 8), test_fill_uniform(&r, B, 64);
        if (vt_matmul_strided(1, M, 8, 8, alpha, A, s8, B, s8, 0.0f, C, s8) != VT_OK) job->failures++;
        ref_matmul(A, B, NULL, NULL, want, M, 8, 8, false, false, 0);
        for (int64_t j = 0; j < M * 8; j++) want[j] *= alpha;
        if (!(rel_max_diff(C, want, M * 8) <= MM_TOL)) job->failures++;
    }
    return NULL;
}

/* More distinct shapes than the cache holds: it stops at its bound, an evicted
 * shape is rebuilt and right, and eviction under concurrent callers leaves
 * every result right (ASan sees a primitive destroyed while in use). */
static void test_matmul_cache_bound(void **state) {
    (void)state;
    vt_rng r;
    vt_rng_seed(&r, 77);
    int64_t shapes = 0;
    for (float alpha = 1; vt_matmul_cached_primitives() < VT_MATMUL_CACHE_MAX; alpha++, shapes++) {
        float A[8], B[64], C[8];
        test_fill_uniform(&r, A, 8), test_fill_uniform(&r, B, 64);
        assert_int_equal(vt_matmul_strided(1, 1, 8, 8, alpha, A, (vt_strides){0, 8, 1}, B, (vt_strides){0, 8, 1}, 0.0f,
                                           C, (vt_strides){0, 8, 1}),
                         VT_OK);
    }
    for (int64_t M = 1; M <= 64; M++) assert_true(strided_ok(&r, M)); /* 64 more keys: past the bound */
    assert_int_equal(vt_matmul_cached_primitives(), VT_MATMUL_CACHE_MAX);
    for (int64_t M = 1; M <= 64; M++) assert_true(strided_ok(&r, M)); /* cached or rebuilt, the same answer */

    run_four_threads(churn_main, 900);
    assert_true(vt_matmul_cached_primitives() <= VT_MATMUL_CACHE_MAX);
    printf("    cache: %lld shapes filled it, bound %d held over 1,600 more from 4 threads\n", (long long)shapes,
           VT_MATMUL_CACHE_MAX);
}

static void test_sum_rows(void **state) {
    (void)state;
    vt_rng r;
    vt_rng_seed(&r, 22);
    const int64_t M = 301, N = 130; /* crosses the 64-column blocks */
    float *dy = test_floats(M * N), *db = test_floats(N);
    test_fill_uniform(&r, dy, M * N);
    for (int64_t j = 0; j < N; j++) db[j] = 0.5f;
    vt_sum_rows(dy, db, M, N);
    double worst = 0;
    for (int64_t j = 0; j < N; j++) {
        double s = 0.5;
        for (int64_t i = 0; i < M; i++) s += dy[i * N + j];
        worst = fmax(worst, fabs(db[j] - s));
    }
    printf("    sum_rows (accumulating) max abs err %.2e (tol 1e-4)\n", worst);
    assert_true(worst <= 1e-4);
    free(dy), free(db);
}


static float bits_to_f32(uint32_t u) {
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

static void test_bf16_conversion(void **state) {
    (void)state;
    struct { uint32_t in; vt_bf16 want; } cases[] = {
        {0x3f800000u, 0x3f80}, /* 1 exactly */
        {0x3f808000u, 0x3f80}, /* halfway, even below: down */
        {0x3f818000u, 0x3f82}, /* halfway, odd below: up to even */
        {0x3f808001u, 0x3f81}, /* just over halfway: up */
        {0x3f807fffu, 0x3f80}, /* just under: down */
        {0x3fffffffu, 0x4000}, /* carry into the exponent */
        {0x7f7fffffu, 0x7f80}, /* largest float rounds to infinity */
        {0xff800000u, 0xff80}, /* -inf */
        {0x80000000u, 0x8000}, /* -0 */
        {0x00000001u, 0x0000}, /* smallest subnormal rounds to 0 */
    };
    int n = (int)(sizeof cases / sizeof cases[0]);
    for (int i = 0; i < n; i++) {
        float x = bits_to_f32(cases[i].in);
        vt_bf16 got;
        vt_f32_to_bf16(&x, &got, 1);
        if (got != cases[i].want) fail_msg("bf16 of 0x%08x: got 0x%04x, want 0x%04x", cases[i].in, got, cases[i].want);
        if (isfinite(x) && cases[i].in != 0x7f7fffffu && cases[i].in != 0x00000001u)
            assert_true(fabsf(vt_bf16_to_f32(got) - x) <= fabsf(x) / 256);
    }
    float nans[2] = {bits_to_f32(0x7fc00000u), bits_to_f32(0xff800001u)}; /* quiet; signalling with low bits only */
    vt_bf16 out[2];
    vt_f32_to_bf16(nans, out, 2);
    assert_true(isnan(vt_bf16_to_f32(out[0])) && isnan(vt_bf16_to_f32(out[1])));
    assert_true(signbit(vt_bf16_to_f32(out[1])));
}

static void test_matmul_bf16(void **state) {
    (void)state;
    vt_rng r;
    vt_rng_seed(&r, 7);
    double worst = 0;
    for (int ta = 0; ta < 2; ta++)
        for (int tb = 0; tb < 2; tb++)
            for (int bias = 0; bias < 2; bias++)
                for (int beta = 0; beta < 2; beta++) {
                    double e = check_one(&r, 37, 53, 129, ta, tb, bias, (float)beta, true);
                    if (e > worst) worst = e;
                }
    /* Rounding both operands to 8 significant bits: a few 1e-3 of the largest
     * result over 129 terms; f32 operands would give ~1e-7. */
    assert_true(worst > 1e-4 && worst < 2e-2);
}

/* C (n_seq * rows, N) by vt_matmul_seqwise (or its bf16 form on A, W rounded). */
static void seqwise(bool bf16, const float *A, const float *W, const vt_bf16 *A16, const vt_bf16 *W16,
                    const float *bias, float *C, int64_t n_seq, int64_t rows, int64_t N, int64_t K) {
    assert_int_equal(bf16 ? vt_matmul_seqwise_bf16(A16, W16, bias, C, n_seq, rows, N, K)
                          : vt_matmul_seqwise(A, W, bias, C, n_seq, rows, N, K),
                     VT_OK);
}

static void check_seqwise(vt_rng *r, bool bf16, int64_t rows, int64_t N, int64_t K) {
    enum { SEQS = 9 };
    int64_t n = SEQS * rows;
    float *A = test_floats(n * K), *W = test_floats(N * K), *bias = test_floats(N), *C = test_floats(n * N), *alone = test_floats(rows * N),
          *want = test_floats(rows * N);
    vt_bf16 *A16 = calloc((size_t)(n * K), sizeof *A16), *W16 = calloc((size_t)(N * K), sizeof *W16);
    assert_true(A16 && W16);
    test_fill_uniform(r, A, n * K), test_fill_uniform(r, W, N * K), test_fill_uniform(r, bias, N);
    vt_f32_to_bf16(A, A16, n * K), vt_f32_to_bf16(W, W16, N * K);
    if (bf16) { /* the reference works on the rounded operands */
        for (int64_t i = 0; i < n * K; i++) A[i] = vt_bf16_to_f32(A16[i]);
        for (int64_t i = 0; i < N * K; i++) W[i] = vt_bf16_to_f32(W16[i]);
    }
    int threads = omp_get_max_threads();
    for (int64_t batch = 1; batch <= SEQS; batch += 2) /* batches of 1, 3, 5, 7, 9 sequences */
        for (int t = 1; t <= 2; t++) {
            omp_set_num_threads(t);
            seqwise(bf16, A, W, A16, W16, bias, C, batch, rows, N, K);
            for (int64_t s = 0; s < batch; s++) { /* sequence s alone, at the other thread count */
                omp_set_num_threads(3 - t);
                seqwise(bf16, A + s * rows * K, W, A16 + s * rows * K, W16, bias, alone, 1, rows, N, K);
                if (memcmp(alone, C + s * rows * N, (size_t)(rows * N) * sizeof(float)))
                    fail_msg("%s seqwise rows=%lld N=%lld K=%lld: sequence %lld of %lld (%d threads) differs from "
                             "itself alone", bf16 ? "bf16" : "f32", (long long)rows, (long long)N, (long long)K,
                             (long long)s, (long long)batch, t);
                ref_matmul(A + s * rows * K, W, bias, NULL, want, rows, N, K, false, true, 0.0f);
                double err = rel_max_diff(alone, want, rows * N);
                if (!(err <= MM_TOL)) fail_msg("seqwise rows=%lld: rel err %g against double loops", (long long)rows, err);
            }
        }
    omp_set_num_threads(threads);
    free(A), free(W), free(bias), free(C), free(alone), free(want), free(A16), free(W16);
}

static void test_matmul_seqwise(void **state) {
    (void)state;
    vt_rng r;
    vt_rng_seed(&r, 31);
    const int64_t shapes[][3] = {{1, 33, 40}, {7, 96, 64}, {64, 48, 130}, {65, 40, 64}, {130, 72, 96}};
    for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; i++)
        for (int bf16 = 0; bf16 < 2; bf16++) check_seqwise(&r, bf16, shapes[i][0], shapes[i][1], shapes[i][2]);
    float x = 1;
    vt_clear_error();
    assert_int_equal(vt_matmul_seqwise(&x, &x, NULL, &x, -1, 1, 1, 1), VT_ERR_SHAPE);
    assert_true(strlen(vt_last_error()) > 0);
}

/* Where oneDNN has no bf16 matmul (no AVX-512, or the ISA capped to AVX2),
 * verto says so, and the bf16 products above ran emulated. */
static void test_bf16_native_or_emulated(void **state) {
    (void)state;
    if (vt_isa_in_use() == VT_ISA_AVX2) assert_false(vt_bf16_native());
    printf("    bf16 products here: %s (verto kernels %s, oneDNN %s)\n",
           vt_bf16_native() ? "oneDNN's bf16 kernels" : "emulated in f32", vt_isa_name(vt_isa_in_use()),
           vt_onednn_isa());
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_matmul_combos),
        cmocka_unit_test(test_matmul_degenerate),
        cmocka_unit_test(test_matmul_threads),
        cmocka_unit_test(test_matmul_cache_bound),
        cmocka_unit_test(test_sum_rows),
        cmocka_unit_test(test_bf16_conversion),
        cmocka_unit_test(test_matmul_bf16),
        cmocka_unit_test(test_matmul_seqwise),
        cmocka_unit_test(test_bf16_native_or_emulated),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
