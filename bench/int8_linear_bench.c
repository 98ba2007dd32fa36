/* GOPS of the int8 dense layer's integer product on weights laid out per
 * call (vt_int8_gemm: the BLAS-like dnnl_gemm_u8s8s32) against weights
 * packed once (vt_int8_pack; the chunked primitive vt_int8_linear runs), at
 * BERT-small's and BERT-base's shapes and several row counts; the two paths
 * take turns and must give the same bits. Not part of the tests (no timing
 * assertions); VT_INT8_PACKED_MAX_ROWS in src/kernels/int8_packed.h comes
 * from its output.
 *
 *   make build/bench/int8_linear_bench && build/bench/int8_linear_bench [--threads 2] [--min-ms 100]
 *
 * Prints one line per shape and row count: each path's best of 5 rounds of
 * at least min-ms, and their ratio. (vt_int8_linear itself keeps the
 * per-call layout from VT_INT8_PACKED_MAX_ROWS rows on; the packed column is
 * measured there anyway.) */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench_util.h"
#include "kernels/int8_packed.h"
#include "verto/int8.h"

static void *xmalloc(size_t n) {
    void *p = malloc(n ? n : 1);
    if (!p) exit(1);
    return p;
}

/* Seconds per call of one path: the best of 5 rounds of at least min_ms. */
static double time_path(const vt_int8_weights *w, const uint8_t *xq, int32_t *acc, int32_t *tail, int64_t M,
                        double min_ms) {
    double best = 1e30;
    for (int round = 0; round < 5; round++) {
        int64_t calls = 0;
        double t0 = bench_now(), t;
        do {
            vt_status st = w->packed ? vt_int8_gemm_packed(xq, w, acc, tail, M)
                                     : vt_int8_gemm(xq, w->q, acc, M, w->out, w->in);
            if (st != VT_OK) bench_die_verto("int8 product");
            calls++;
        } while ((t = bench_now() - t0) * 1e3 < min_ms);
        if (t / (double)calls < best) best = t / (double)calls;
    }
    return best;
}

int main(int argc, char **argv) {
    static const char *const known[] = {"--threads", "--min-ms", NULL};
    bench_check_opts(argc, argv, known);
    bench_set_threads((int)bench_opt_int(argc, argv, "--threads", 2, 1, 1024));
    double min_ms = (double)bench_opt_int(argc, argv, "--min-ms", 100, 1, 100000);
    static const int64_t shapes[][2] = {{1536, 512}, {512, 512}, {2048, 512}, {512, 2048},
                                        {2304, 768}, {768, 768}, {3072, 768}, {768, 3072}};
    static const int64_t rows[] = {16, 37, 64, 96, 128, 200, 512, 1024, 2048, 4096};
    for (size_t s = 0; s < sizeof shapes / sizeof *shapes; s++) {
        int64_t N = shapes[s][0], K = shapes[s][1], most = 4096;
        int8_t *q = xmalloc((size_t)(N * K));
        float *scale = xmalloc((size_t)N * sizeof *scale);
        int32_t *row_sum = xmalloc((size_t)N * sizeof *row_sum);
        uint8_t *xq = xmalloc((size_t)(most * K));
        int32_t *acc = xmalloc((size_t)(most * N) * sizeof *acc), *acc2 = xmalloc((size_t)(most * N) * sizeof *acc2);
        int32_t *tail = xmalloc((size_t)(VT_INT8_CHUNK * N) * sizeof *tail);
        for (int64_t i = 0; i < N * K; i++) q[i] = (int8_t)((i * 7919) % 127 - 63);
        for (int64_t i = 0; i < most * K; i++) xq[i] = (uint8_t)((i * 104729) % 256);
        for (int64_t o = 0; o < N; o++) scale[o] = 1.0f, row_sum[o] = 0;
        vt_int8_weights plain = {.q = q, .scale = scale, .row_sum = row_sum, .out = N, .in = K}, packed = plain;
        vt_int8_packed *p;
        if (vt_int8_pack(&plain, &p) != VT_OK) bench_die_verto("vt_int8_pack");
        packed.packed = p;
        for (size_t m = 0; m < sizeof rows / sizeof *rows; m++) {
            int64_t M = rows[m];
            double a = time_path(&plain, xq, acc, tail, M, min_ms), b = time_path(&packed, xq, acc2, tail, M, min_ms);
            if (memcmp(acc, acc2, (size_t)(M * N) * sizeof *acc)) {
                fprintf(stderr, "int8_linear_bench: the paths differ at M=%lld N=%lld K=%lld\n", (long long)M,
                        (long long)N, (long long)K);
                return 1;
            }
            double ops = 2.0 * (double)M * (double)N * (double)K;
            printf("M=%5lld N=%4lld K=%4lld  per-call layout %6.1f GOPS  packed %6.1f GOPS  (%.2fx)\n", (long long)M,
                   (long long)N, (long long)K, ops / a * 1e-9, ops / b * 1e-9, a / b);
        }
        vt_int8_packed_free(p);
        free(q), free(scale), free(row_sum), free(xq), free(acc), free(acc2), free(tail);
    }
    return 0;
}
