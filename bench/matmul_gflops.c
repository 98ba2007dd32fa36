/* GFLOPS of vt_matmul (oneDNN) at a few sizes, and the time of the other
 * kernels at BERT-base shapes. Not part of the tests (no timing assertions).
 *
 *   make build/libverto.a
 *   gcc -std=c11 -D_GNU_SOURCE -O3 -march=native -fopenmp -Iinclude -o build/matmul_gflops \
 *       bench/matmul_gflops.c build/libverto.a -ldnnl -lcjson -lutf8proc -lm -lpthread
 *   build/matmul_gflops */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "verto/kernels.h"

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static float *buf(int64_t n) {
    float *p = malloc((size_t)n * sizeof(float));
    if (!p) exit(1);
    for (int64_t i = 0; i < n; i++) p[i] = (float)((i * 7919) % 1000) / 1000.0f - 0.5f;
    return p;
}

static void bench_matmul(int64_t M, int64_t N, int64_t K, bool ta, bool tb, float beta) {
    float *A = buf(M * K), *B = buf(K * N), *C = buf(M * N);
    if (vt_matmul(A, B, NULL, C, M, N, K, ta, tb, beta) != VT_OK) { /* warm-up: creates the primitive */
        printf("error: %s\n", vt_last_error());
        exit(1);
    }
    int reps = 0;
    double t0 = now(), t;
    do {
        vt_matmul(A, B, NULL, C, M, N, K, ta, tb, beta);
        reps++;
    } while ((t = now() - t0) < 1.0 || reps < 3);
    printf("matmul M=%5lld N=%5lld K=%5lld ta=%d tb=%d beta=%g: %7.1f GFLOPS (%.3f ms)\n", (long long)M,
           (long long)N, (long long)K, ta, tb, (double)beta, 2.0 * M * N * K * reps / t * 1e-9, t / reps * 1e3);
    free(A), free(B), free(C);
}

static void bench_small_calls(void) {
    float *A = buf(64), *B = buf(64), *C = buf(64);
    int reps = 100000;
    double t0 = now();
    for (int i = 0; i < reps; i++) vt_matmul(A, B, NULL, C, 8, 8, 8, false, false, 0);
    printf("matmul 8x8x8 per-call overhead: %.2f us\n", (now() - t0) / reps * 1e6);
    free(A), free(B), free(C);
}

int main(void) {
    bench_matmul(2048, 2048, 2048, false, false, 0);
    bench_matmul(2048, 2048, 2048, true, false, 1);
    bench_matmul(2048, 2048, 2048, false, true, 0);
    /* BERT-base, batch 32 x 128 tokens: QKV, FFN up, FFN down, weight grads */
    bench_matmul(4096, 2304, 768, false, true, 0);
    bench_matmul(4096, 3072, 768, false, true, 0);
    bench_matmul(4096, 768, 3072, false, true, 0);
    bench_matmul(3072, 768, 4096, true, false, 1);
    bench_small_calls();

    /* attention forward + backward, BERT-base: 32 x 12 heads x 128 x 64 */
    vt_attention_dims d = {.batch = 32, .q_len = 128, .kv_len = 128, .heads = 12, .key_dim = 64, .value_dim = 64,
                           .q_stride = 2304, .k_stride = 2304, .v_stride = 2304, .out_stride = 768};
    vt_attention_opts o = {.scale = 0.125f, .dropout_rate = 0.1f, .dropout_seed = 1};
    float *qkv = buf(4096 * 2304), *dqkv = buf(4096 * 2304), *out = buf(4096 * 768), *probs = buf(32 * 12 * 128 * 128);
    uint8_t *mask = malloc(32 * 12 * 128 * 128);
    double t0 = now();
    if (vt_attention_forward(&d, &o, qkv, qkv + 768, qkv + 1536, probs, mask, out) != VT_OK) return 1;
    double t1 = now();
    if (vt_attention_backward(&d, &o, qkv, qkv + 768, qkv + 1536, probs, mask, out, dqkv, dqkv + 768, dqkv + 1536))
        return 1;
    double t2 = now();
    double fl = 2.0 * 32 * 12 * 128 * 128 * 64;
    printf("attention 32x12x128x64: forward %.1f ms (%.1f GFLOPS), backward %.1f ms (%.1f GFLOPS)\n",
           (t1 - t0) * 1e3, 2 * fl / (t1 - t0) * 1e-9, (t2 - t1) * 1e3, 4 * fl / (t2 - t1) * 1e-9);

    float *x = buf(4096 * 3072), *y = buf(4096 * 3072), *dx = buf(4096 * 3072);
    t0 = now();
    vt_activation_forward(VT_ACT_GELU, x, y, 4096, 3072);
    t1 = now();
    vt_activation_backward(VT_ACT_GELU, x, y, x, dx, 4096, 3072);
    t2 = now();
    printf("gelu 4096x3072: forward %.1f ms, backward %.1f ms\n", (t1 - t0) * 1e3, (t2 - t1) * 1e3);
    float *g = buf(768), *b = buf(768), *mean = buf(4096), *rstd = buf(4096), *dg = buf(768), *db = buf(768);
    t0 = now();
    vt_layernorm_forward(x, g, b, y, mean, rstd, 4096, 768, 1e-12f);
    t1 = now();
    vt_layernorm_backward(x, y, g, mean, rstd, dx, dg, db, 4096, 768);
    t2 = now();
    printf("layernorm 4096x768: forward %.2f ms, backward %.2f ms\n", (t1 - t0) * 1e3, (t2 - t1) * 1e3);
    free(qkv), free(dqkv), free(out), free(probs), free(mask), free(x), free(y), free(dx);
    free(g), free(b), free(mean), free(rstd), free(dg), free(db);
    return 0;
}
