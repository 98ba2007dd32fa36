/* The GEMM peak that MFU is measured against: GFLOPS of vt_matmul (or
 * vt_matmul_bf16) through oneDNN at large shapes, best of several timed rounds.
 *
 *   gemm_peak [--threads 2] [--rounds 3] [--min-ms 500] [--dtype fp32|bf16]
 *
 * Each round repeats the call until min-ms has passed and counts 2*M*N*K
 * flops per call; the first call (primitive creation) is not timed. The peak
 * is the best round of any shape. Prints one JSON line. (bench/matmul_gflops.c
 * times more shapes and the other kernels, for profiling by hand.) */
#include <stdlib.h>

#include "bench_util.h"
#include "verto/bert.h"
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

static vt_status product(bool bf16, const float *A, const float *B, const vt_bf16 *A16, const vt_bf16 *B16, float *C,
                         shape s) {
    return bf16 ? vt_matmul_bf16(A16, B16, NULL, C, s.M, s.N, s.K, s.ta, s.tb, 0)
                : vt_matmul(A, B, NULL, C, s.M, s.N, s.K, s.ta, s.tb, 0);
}

/* Best GFLOPS of `rounds` rounds of at least min_s seconds each. */
static double best_gflops(shape s, bool bf16, int rounds, double min_s) {
    float *A = filled(s.M * s.K), *B = filled(s.K * s.N), *C = filled(s.M * s.N);
    vt_bf16 *A16 = malloc((size_t)(s.M * s.K) * sizeof *A16), *B16 = malloc((size_t)(s.K * s.N) * sizeof *B16);
    if (!A16 || !B16) {
        fprintf(stderr, "bench: out of memory\n");
        exit(1);
    }
    vt_f32_to_bf16(A, A16, s.M * s.K);
    vt_f32_to_bf16(B, B16, s.K * s.N);
    if (product(bf16, A, B, A16, B16, C, s) != VT_OK) bench_die_verto("matmul");
    double best = 0;
    for (int r = 0; r < rounds; r++) {
        int calls = 0;
        double t0 = bench_now(), t;
        do {
            product(bf16, A, B, A16, B16, C, s);
            calls++;
        } while ((t = bench_now() - t0) < min_s);
        double g = 2.0 * (double)s.M * (double)s.N * (double)s.K * calls / t * 1e-9;
        if (g > best) best = g;
    }
    free(A), free(B), free(C), free(A16), free(B16);
    return best;
}

int main(int argc, char **argv) {
    static const char *const KNOWN[] = {"--threads", "--rounds", "--min-ms", "--dtype", NULL};
    bench_check_opts(argc, argv, KNOWN);
    int threads = bench_set_threads(bench_opt_int(argc, argv, "--threads", 2, 1, 4096));
    int rounds = (int)bench_opt_int(argc, argv, "--rounds", 3, 1, 1000);
    double min_s = 1e-3 * (double)bench_opt_int(argc, argv, "--min-ms", 500, 1, 600000);
    const char *dtype = bench_opt(argc, argv, "--dtype");
    vt_precision precision = VT_PRECISION_FP32;
    if (dtype && !vt_precision_parse(dtype, &precision)) {
        fprintf(stderr, "bench: --dtype must be fp32 or bf16\n");
        return 2;
    }
    bool bf16 = precision == VT_PRECISION_BF16;
    /* Square shapes, both transposes the model uses, and the largest
     * BERT-small training GEMMs (32 x 128 tokens; FFN up and down). */
    static const shape SHAPES[] = {
        {2048, 2048, 2048, false, false}, {2048, 2048, 2048, false, true}, {2048, 2048, 2048, true, false},
        {4096, 4096, 1024, false, false}, {4096, 2048, 512, false, true},  {4096, 512, 2048, false, true},
    };
    int n = (int)(sizeof SHAPES / sizeof SHAPES[0]);
    double peak = 0;
    printf("{\"bench\": \"gemm\", \"system\": \"verto\", \"dtype\": \"%s\", \"threads\": %d, \"shapes\": [",
           vt_precision_name(precision), threads);
    for (int i = 0; i < n; i++) {
        shape s = SHAPES[i];
        double g = best_gflops(s, bf16, rounds, min_s);
        if (g > peak) peak = g;
        printf("%s{\"M\": %lld, \"N\": %lld, \"K\": %lld, \"trans_a\": %s, \"trans_b\": %s, \"gflops\": %.1f}",
               i ? ", " : "", (long long)s.M, (long long)s.N, (long long)s.K, s.ta ? "true" : "false",
               s.tb ? "true" : "false", g);
        fflush(stdout);
    }
    printf("], \"peak_gflops\": %.1f}\n", peak);
    return 0;
}
