/* Every GEMM backend behind vt_matmul (oneDNN, BLIS, OpenBLAS), forced in
 * turn, against products summed in double.
 *
 * Shapes: odd sizes (no multiple of a vector width) with every combination of
 * trans_a, trans_b, bias and beta in {0, 1}; BERT-mini and BERT-small's dense
 * layers (forward x W^T, weight gradient dy^T x, input gradient dy W) at 128
 * rows, which the double loops can still afford. Tolerance: 2e-5 of the
 * result's largest magnitude. fp32 sums of K <= 2048 products of values in
 * [-1, 1] err by about sqrt(K) * 6e-8 ~ 3e-6 relative (the libraries sum in
 * blocks, usually less); a wrong transpose, stride, bias or beta errs by O(1).
 *
 * vt_matmul_seqwise on each backend: every sequence's rows, bit for bit, what
 * the sequence alone gives, whatever the batch and at 1 and 2 threads (the
 * exactness inference relies on). Also: concurrent callers on each backend,
 * VT_GEMM's parsing and its error, and that the table never returns "auto". */
#include <math.h>
#include <omp.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vt_test.h"
#include "verto/kernels.h"
#include "verto/platform.h"
#include "verto/rng.h"

#define TOL 2e-5

static const vt_gemm_backend BACKENDS[] = {VT_GEMM_ONEDNN, VT_GEMM_BLIS, VT_GEMM_OPENBLAS};
#define N_BACKENDS 3

/* One product on backend b against the double loops; returns the relative error. */
static double check_one(vt_rng *r, vt_gemm_backend b, int64_t M, int64_t N, int64_t K, bool ta, bool tb,
                        bool has_bias, float beta) {
    float *A = test_floats(M * K), *B = test_floats(K * N), *bias = test_floats(N), *C = test_floats(M * N), *C0 = test_floats(M * N),
          *want = test_floats(M * N);
    test_fill_uniform(r, A, M * K), test_fill_uniform(r, B, K * N), test_fill_uniform(r, bias, N), test_fill_uniform(r, C0, M * N);
    memcpy(C, C0, (size_t)(M * N) * sizeof(float));
    vt_gemm_use(b);
    assert_int_equal(vt_gemm_backend_for(M, N, K, ta, tb), b);
    if (vt_matmul(A, B, has_bias ? bias : NULL, C, M, N, K, ta, tb, beta) != VT_OK)
        fail_msg("%s: %s", vt_gemm_backend_name(b), vt_last_error());
    ref_matmul(A, B, has_bias ? bias : NULL, C0, want, M, N, K, ta, tb, beta);
    double err = rel_max_diff(C, want, M * N);
    if (!(err <= TOL))
        fail_msg("%s matmul M=%lld N=%lld K=%lld ta=%d tb=%d bias=%d beta=%g: rel err %g (tol %g)",
                 vt_gemm_backend_name(b), (long long)M, (long long)N, (long long)K, ta, tb, has_bias, (double)beta,
                 err, TOL);
    free(A), free(B), free(bias), free(C), free(C0), free(want);
    vt_gemm_use(VT_GEMM_AUTO);
    return err;
}

/* Runs first, before any product has read VT_GEMM: a bad value is an error
 * naming it, products fail with it, and vt_gemm_use recovers. */
static void test_env_invalid(void **state) {
    (void)state;
    setenv("VT_GEMM", "mkl", 1);
    assert_int_equal(vt_gemm_check_env(), VT_ERR_INVALID_ARG);
    assert_non_null(strstr(vt_last_error(), "VT_GEMM=mkl"));
    float x = 1, y = 2, z = 0;
    vt_clear_error();
    assert_int_not_equal(vt_matmul(&x, &y, NULL, &z, 1, 1, 1, false, false, 0.0f), VT_OK);
    assert_non_null(strstr(vt_last_error(), "VT_GEMM=mkl"));
    vt_gemm_use(VT_GEMM_AUTO);
    assert_int_equal(vt_gemm_check_env(), VT_OK);
    assert_int_equal(vt_matmul(&x, &y, NULL, &z, 1, 1, 1, false, false, 0.0f), VT_OK);
    assert_true(z == 2.0f);
    unsetenv("VT_GEMM");
}

static void test_names(void **state) {
    (void)state;
    vt_gemm_backend b;
    for (int i = VT_GEMM_AUTO; i <= VT_GEMM_OPENBLAS; i++) {
        assert_true(vt_gemm_backend_parse(vt_gemm_backend_name((vt_gemm_backend)i), &b));
        assert_int_equal(b, i);
    }
    assert_true(vt_gemm_backend_parse("OpenBLAS", &b));
    assert_int_equal(b, VT_GEMM_OPENBLAS);
    assert_false(vt_gemm_backend_parse("mkl", &b));
    assert_false(vt_gemm_backend_parse("", &b));
    for (int i = 0; i < N_BACKENDS; i++)
        printf("    %-8s %s\n", vt_gemm_backend_name(BACKENDS[i]), vt_gemm_library_info(BACKENDS[i]));
    /* the table names a library for every shape, transposes included */
    const int64_t shapes[][3] = {{1, 1, 1}, {64, 2048, 512}, {128, 512, 2048}, {4096, 1024, 256}, {1024, 256, 4096}};
    for (size_t s = 0; s < sizeof shapes / sizeof *shapes; s++)
        for (int t = 0; t < 4; t++) {
            vt_gemm_backend p = vt_gemm_backend_for(shapes[s][0], shapes[s][1], shapes[s][2], t & 1, t & 2);
            assert_true(p >= VT_GEMM_ONEDNN && p <= VT_GEMM_OPENBLAS);
        }
}

static void test_odd_shapes_all_combos(void **state) {
    (void)state;
    vt_rng r;
    vt_rng_seed(&r, 41);
    const int64_t sizes[][3] = {{1, 1, 1}, {7, 5, 3}, {67, 45, 33}, {130, 97, 300}, {1, 300, 17}, {300, 1, 65}};
    for (int bi = 0; bi < N_BACKENDS; bi++) {
        double worst = 0;
        for (size_t s = 0; s < sizeof sizes / sizeof *sizes; s++)
            for (int combo = 0; combo < 16; combo++)
                worst = fmax(worst, check_one(&r, BACKENDS[bi], sizes[s][0], sizes[s][1], sizes[s][2], combo & 1,
                                              combo & 2, combo & 4, combo & 8 ? 1.0f : 0.0f));
        printf("    %-8s 6 sizes x 16 (trans_a, trans_b, bias, beta): worst rel err %.2e (tol %.0e)\n",
               vt_gemm_backend_name(BACKENDS[bi]), worst, TOL);
    }
}

/* BERT-mini (hidden 256, FFN 1024, QKV 768) and BERT-small (512, 2048) dense
 * layers over 128 token rows: forward y = x W^T + b, weight gradient
 * dW += dy^T x, input gradient dx = dy W. */
static void test_bert_shapes(void **state) {
    (void)state;
    vt_rng r;
    vt_rng_seed(&r, 42);
    const int64_t rows = 128, layers[][2] = {{256, 768}, {256, 1024}, {1024, 256}, {512, 2048}, {2048, 512}};
    for (int bi = 0; bi < N_BACKENDS; bi++) {
        double worst = 0;
        for (size_t l = 0; l < sizeof layers / sizeof *layers; l++) {
            int64_t in = layers[l][0], out = layers[l][1];
            worst = fmax(worst, check_one(&r, BACKENDS[bi], rows, out, in, false, true, true, 0.0f));
            worst = fmax(worst, check_one(&r, BACKENDS[bi], out, in, rows, true, false, false, 1.0f));
            worst = fmax(worst, check_one(&r, BACKENDS[bi], rows, in, out, false, false, false, 0.0f));
        }
        printf("    %-8s BERT-mini/small dense layers, 128 rows, forward + both gradients: worst rel err %.2e "
               "(tol %.0e)\n",
               vt_gemm_backend_name(BACKENDS[bi]), worst, TOL);
    }
}

/* Each sequence of a batch gets the bits it gets alone, at either thread count. */
static void check_seqwise(vt_rng *r, vt_gemm_backend b, int64_t rows, int64_t N, int64_t K) {
    enum { SEQS = 5 };
    int64_t n = SEQS * rows;
    float *A = test_floats(n * K), *W = test_floats(N * K), *bias = test_floats(N), *C = test_floats(n * N), *alone = test_floats(rows * N),
          *want = test_floats(rows * N);
    test_fill_uniform(r, A, n * K), test_fill_uniform(r, W, N * K), test_fill_uniform(r, bias, N);
    int threads = omp_get_max_threads();
    vt_gemm_use(b);
    for (int t = 1; t <= 2; t++) {
        omp_set_num_threads(t);
        assert_int_equal(vt_matmul_seqwise(A, W, bias, C, SEQS, rows, N, K), VT_OK);
        for (int64_t s = 0; s < SEQS; s++) {
            omp_set_num_threads(3 - t);
            assert_int_equal(vt_matmul_seqwise(A + s * rows * K, W, bias, alone, 1, rows, N, K), VT_OK);
            if (memcmp(alone, C + s * rows * N, (size_t)(rows * N) * sizeof(float)))
                fail_msg("%s seqwise rows=%lld N=%lld K=%lld: sequence %lld of %d (%d threads) differs from itself "
                         "alone",
                         vt_gemm_backend_name(b), (long long)rows, (long long)N, (long long)K, (long long)s, SEQS, t);
        }
    }
    ref_matmul(A + (SEQS - 1) * rows * K, W, bias, NULL, want, rows, N, K, false, true, 0.0f); /* `alone` holds the last */
    assert_close_rel(vt_gemm_backend_name(b), alone, want, rows * N, TOL);
    omp_set_num_threads(threads);
    vt_gemm_use(VT_GEMM_AUTO);
    free(A), free(W), free(bias), free(C), free(alone), free(want);
}

static void test_seqwise_exact(void **state) {
    (void)state;
    vt_rng r;
    vt_rng_seed(&r, 43);
    const int64_t shapes[][3] = {{1, 33, 40}, {65, 40, 64}, {128, 96, 256}, {130, 72, 96}};
    for (int bi = 0; bi < N_BACKENDS; bi++)
        for (size_t i = 0; i < sizeof shapes / sizeof *shapes; i++)
            check_seqwise(&r, BACKENDS[bi], shapes[i][0], shapes[i][1], shapes[i][2]);
}

typedef struct thread_job {
    vt_gemm_backend backend;
    uint64_t seed;
    int failures;
} thread_job;

static void *thread_main(void *p) {
    thread_job *job = p;
    vt_rng r;
    vt_rng_seed(&r, job->seed);
    for (int it = 0; it < 40; it++) {
        int64_t M = 64 + it % 3, N = 48, K = 64 + it % 2;
        float *A = malloc((size_t)(M * K) * 4), *B = malloc((size_t)(K * N) * 4), *C = malloc((size_t)(M * N) * 4),
              *want = malloc((size_t)(M * N) * 4);
        test_fill_uniform(&r, A, M * K), test_fill_uniform(&r, B, K * N);
        if (vt_matmul(A, B, NULL, C, M, N, K, it & 1, false, 0) != VT_OK) job->failures++;
        ref_matmul(A, B, NULL, NULL, want, M, N, K, it & 1, false, 0);
        if (!(rel_max_diff(C, want, M * N) <= TOL)) job->failures++;
        free(A), free(B), free(C), free(want);
    }
    return NULL;
}

/* Callers on several threads at once (the server's workers) each get their
 * own answer from every backend. */
static void test_concurrent_callers(void **state) {
    (void)state;
    for (int bi = 0; bi < N_BACKENDS; bi++) {
        vt_gemm_use(BACKENDS[bi]);
        pthread_t th[4];
        thread_job jobs[4];
        for (int i = 0; i < 4; i++) {
            jobs[i] = (thread_job){.backend = BACKENDS[bi], .seed = 700 + (uint64_t)i};
            assert_int_equal(pthread_create(&th[i], NULL, thread_main, &jobs[i]), 0);
        }
        for (int i = 0; i < 4; i++) {
            pthread_join(th[i], NULL);
            if (jobs[i].failures) fail_msg("%s: %d failed products", vt_gemm_backend_name(BACKENDS[bi]), jobs[i].failures);
        }
    }
    vt_gemm_use(VT_GEMM_AUTO);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_env_invalid), /* first: VT_GEMM is read once */
        cmocka_unit_test(test_names),
        cmocka_unit_test(test_odd_shapes_all_combos),
        cmocka_unit_test(test_bert_shapes),
        cmocka_unit_test(test_seqwise_exact),
        cmocka_unit_test(test_concurrent_callers),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
