/* The fp32 GEMM peak that MFU is measured against: GFLOPS of vt_matmul
 * (oneDNN) at large shapes, best of several timed rounds.
 *
 *   gemm_peak [--threads 2] [--rounds 3] [--min-ms 500]
 *
 * Each round repeats the call until min-ms has passed and counts 2*M*N*K
 * flops per call; the first call (primitive creation) is not timed. The peak
 * is the best round of any shape. Prints one JSON line. (bench/matmul_gflops.c
 * times more shapes and the other kernels, for profiling by hand.) */
#include <stdlib.h>

#include "bench_util.h"
#include "verto/kernels.h"

typedef struct shape {
    int64_t M, N, K;
    bool ta, tb;
} shape;

static float *filled(int64_t n) {
    float *p = malloc((size_t)n * sizeof(float));
    if (!p) {
        fprintf(stderr, "bench: out of memory\n");
        exit(1);
    }
    for (int64_t i = 0; i < n; i++) p[i] = (float)((i * 7919) % 1000) / 1000.0f - 0.5f;
    return p;
}

/* Best GFLOPS of `rounds` rounds of at least min_s seconds each. */
static double best_gflops(shape s, int rounds, double min_s) {
    float *A = filled(s.M * s.K), *B = filled(s.K * s.N), *C = filled(s.M * s.N);
    if (vt_matmul(A, B, NULL, C, s.M, s.N, s.K, s.ta, s.tb, 0) != VT_OK) bench_die_verto("matmul");
    double best = 0;
    for (int r = 0; r < rounds; r++) {
        int calls = 0;
        double t0 = bench_now(), t;
        do {
            vt_matmul(A, B, NULL, C, s.M, s.N, s.K, s.ta, s.tb, 0);
            calls++;
        } while ((t = bench_now() - t0) < min_s);
        double g = 2.0 * (double)s.M * (double)s.N * (double)s.K * calls / t * 1e-9;
        if (g > best) best = g;
    }
    free(A), free(B), free(C);
    return best;
}

int main(int argc, char **argv) {
    static const char *const KNOWN[] = {"--threads", "--rounds", "--min-ms", NULL};
    bench_check_opts(argc, argv, KNOWN);
    int threads = bench_set_threads(bench_opt_int(argc, argv, "--threads", 2, 1, 4096));
    int rounds = (int)bench_opt_int(argc, argv, "--rounds", 3, 1, 1000);
    double min_s = 1e-3 * (double)bench_opt_int(argc, argv, "--min-ms", 500, 1, 600000);
    /* Square shapes, both transposes the model uses, and the largest
     * BERT-small training GEMMs (32 x 128 tokens; FFN up and down). */
    static const shape SHAPES[] = {
        {2048, 2048, 2048, false, false}, {2048, 2048, 2048, false, true}, {2048, 2048, 2048, true, false},
        {4096, 4096, 1024, false, false}, {4096, 2048, 512, false, true},  {4096, 512, 2048, false, true},
    };
    int n = (int)(sizeof SHAPES / sizeof SHAPES[0]);
    double peak = 0;
    printf("{\"bench\": \"gemm\", \"system\": \"verto\", \"dtype\": \"fp32\", \"threads\": %d, \"shapes\": [", threads);
    for (int i = 0; i < n; i++) {
        shape s = SHAPES[i];
        double g = best_gflops(s, rounds, min_s);
        if (g > peak) peak = g;
        printf("%s{\"M\": %lld, \"N\": %lld, \"K\": %lld, \"trans_a\": %s, \"trans_b\": %s, \"gflops\": %.1f}",
               i ? ", " : "", (long long)s.M, (long long)s.N, (long long)s.K, s.ta ? "true" : "false",
               s.tb ? "true" : "false", g);
        fflush(stdout);
    }
    printf("], \"peak_gflops\": %.1f}\n", peak);
    return 0;
}
