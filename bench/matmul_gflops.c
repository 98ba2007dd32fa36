/* GFLOPS of vt_matmul's f32 products on every backend (oneDNN, BLIS,
 * OpenBLAS) at BERT's shapes, and of vt_matmul_seqwise (inference's dense
 * layers: 64-row blocks, one thread each) at batch 1 and 32; with
 * --kernels 1 also the time of the other kernels at BERT-base shapes. Not part
 * of the tests (no timing assertions); the table in src/kernels/gemm_choice.c
 * comes from its output.
 *
 *   make build/bench/matmul_gflops && build/bench/matmul_gflops [--threads 2] [--min-ms 150] [--kernels 0|1]
 *
 * Prints one JSON line: {"bench": "matmul", "rows": [{"kind", "M", "N", "K",
 * "ta", "tb", "auto", "gflops": {"onednn": .., "blis": .., "openblas": ..}}]}
 * where "auto" is the backend the table picks. Each figure is the best of 5
 * rounds of at least min-ms (default 150), the backends taking turns. */
#include <stdio.h>
#include <stdlib.h>

#include "bench_util.h"
#include "verto/kernels.h"
#include "verto/platform.h"

static float *buf(int64_t n) {
    float *p = malloc((size_t)n * sizeof(float));
    if (!p) exit(1);
    for (int64_t i = 0; i < n; i++) p[i] = (float)((i * 7919) % 1000) / 1000.0f - 0.5f;
    return p;
}

typedef struct shape {
    const char *kind; /* "matmul": one product; "seqwise": n_seq sequences of M rows */
    int64_t n_seq, M, N, K;
    bool ta, tb;
} shape;

static vt_status run_once(const shape *s, const float *A, const float *B, const float *bias, float *C) {
    if (s->n_seq) return vt_matmul_seqwise(A, B, bias, C, s->n_seq, s->M, s->N, s->K);
    return vt_matmul(A, B, NULL, C, s->M, s->N, s->K, s->ta, s->tb, 0.0f);
}

static const vt_gemm_backend BACKENDS[] = {VT_GEMM_ONEDNN, VT_GEMM_BLIS, VT_GEMM_OPENBLAS};
#define N_BACKENDS 3
#define ROUNDS 5

/* best[b]: GFLOPS of backend b, the best of ROUNDS rounds of at least min_s.
 * The backends take turns round by round, so a burst of load from other
 * processes on a shared machine slows one round of each rather than all
 * rounds of one. */
static void gflops(const shape *s, double min_s, double best[N_BACKENDS]) {
    int64_t rows = s->n_seq ? s->n_seq * s->M : s->M;
    float *A = buf(rows * s->K), *B = buf(s->K * s->N), *C = buf(rows * s->N), *bias = buf(s->N);
    for (int b = 0; b < N_BACKENDS; b++) {
        vt_gemm_use(BACKENDS[b]);
        if (run_once(s, A, B, bias, C) != VT_OK) bench_die_verto("matmul"); /* warm-up */
        best[b] = 0;
    }
    for (int r = 0; r < ROUNDS; r++)
        for (int b = 0; b < N_BACKENDS; b++) {
            vt_gemm_use(BACKENDS[b]);
            int calls = 0;
            double t0 = bench_now(), t;
            do {
                run_once(s, A, B, bias, C);
                calls++;
            } while ((t = bench_now() - t0) < min_s);
            double g = 2.0 * (double)rows * (double)s->N * (double)s->K * calls / t * 1e-9;
            if (g > best[b]) best[b] = g;
        }
    free(A), free(B), free(C), free(bias);
}

static void bench_shapes(double min_s) {
    static const shape SHAPES[] = {
        {"matmul", 0, 2048, 2048, 2048, false, false},
        /* BERT-mini training (32 x 128 tokens, hidden 256): forward QKV, FFN up, FFN down;
         * weight gradients dW = dy^T x of QKV, FFN up, FFN down; input gradients dx = dy W */
        {"matmul", 0, 4096, 768, 256, false, true}, {"matmul", 0, 4096, 1024, 256, false, true},
        {"matmul", 0, 4096, 256, 1024, false, true}, {"matmul", 0, 768, 256, 4096, true, false},
        {"matmul", 0, 1024, 256, 4096, true, false}, {"matmul", 0, 256, 1024, 4096, true, false},
        {"matmul", 0, 4096, 256, 768, false, false}, {"matmul", 0, 4096, 256, 1024, false, false},
        {"matmul", 0, 4096, 1024, 256, false, false},
        /* BERT-small training (hidden 512): FFN up and down, dW */
        {"matmul", 0, 4096, 2048, 512, false, true}, {"matmul", 0, 4096, 512, 2048, false, true},
        {"matmul", 0, 2048, 512, 4096, true, false}, {"matmul", 0, 512, 2048, 4096, true, false},
        {"matmul", 0, 4096, 512, 2048, false, false}, {"matmul", 0, 4096, 2048, 512, false, false},
        /* one 128-token sequence in one product: the batch-1 shapes */
        {"matmul", 0, 128, 512, 512, false, true}, {"matmul", 0, 128, 2048, 512, false, true},
        {"matmul", 0, 128, 512, 2048, false, true}, {"matmul", 0, 128, 1536, 512, false, true},
        /* MLM decoder at the masked positions (BERT-mini, 32 x 20 of 30,522 words) */
        {"matmul", 0, 640, 30522, 256, false, true},
        /* inference dense layers, BERT-small: batch 1 and 32 of 128 tokens */
        {"seqwise", 1, 128, 1536, 512, false, true}, {"seqwise", 1, 128, 512, 512, false, true},
        {"seqwise", 1, 128, 2048, 512, false, true}, {"seqwise", 1, 128, 512, 2048, false, true},
        {"seqwise", 32, 128, 1536, 512, false, true}, {"seqwise", 32, 128, 512, 512, false, true},
        {"seqwise", 32, 128, 2048, 512, false, true}, {"seqwise", 32, 128, 512, 2048, false, true},
        /* MiniLM-L6 (hidden 384) */
        {"seqwise", 32, 128, 1152, 384, false, true}, {"seqwise", 32, 128, 1536, 384, false, true},
        {"seqwise", 32, 128, 384, 1536, false, true},
    };
    printf("{\"bench\": \"matmul\", \"libraries\": {");
    for (int b = 0; b < N_BACKENDS; b++)
        printf("%s\"%s\": \"%s\"", b ? ", " : "", vt_gemm_backend_name(BACKENDS[b]), vt_gemm_library_info(BACKENDS[b]));
    printf("}, \"rows\": [");
    for (size_t i = 0; i < sizeof SHAPES / sizeof *SHAPES; i++) {
        const shape *s = &SHAPES[i];
        vt_gemm_use(VT_GEMM_AUTO);
        int64_t block_rows = s->n_seq ? (s->M < 64 ? s->M : 64) : s->M; /* seqwise's blocks are <= 64 rows */
        printf("%s{\"kind\": \"%s\", \"n_seq\": %lld, \"M\": %lld, \"N\": %lld, \"K\": %lld, \"ta\": %d, "
               "\"tb\": %d, \"auto\": \"%s\", \"gflops\": {",
               i ? ", " : "", s->kind, (long long)s->n_seq, (long long)s->M, (long long)s->N, (long long)s->K, s->ta,
               s->tb, vt_gemm_backend_name(vt_gemm_backend_for(block_rows, s->N, s->K, s->ta, s->tb)));
        double best[N_BACKENDS];
        gflops(s, min_s, best);
        for (int b = 0; b < N_BACKENDS; b++)
            printf("%s\"%s\": %.1f", b ? ", " : "", vt_gemm_backend_name(BACKENDS[b]), best[b]);
        fflush(stdout);
        printf("}}");
    }
    printf("]}\n");
    vt_gemm_use(VT_GEMM_AUTO);
}

static void bench_kernels(void) {
    double t0, t1, t2;
    /* attention forward + backward, BERT-base: 32 x 12 heads x 128 x 64 */
    vt_attention_dims d = {.batch = 32, .q_len = 128, .kv_len = 128, .heads = 12, .key_dim = 64, .value_dim = 64,
                           .q_stride = 2304, .k_stride = 2304, .v_stride = 2304, .out_stride = 768};
    vt_attention_opts o = {.scale = 0.125f, .dropout_rate = 0.1f, .dropout_seed = 1};
    float *qkv = buf(4096 * 2304), *dqkv = buf(4096 * 2304), *out = buf(4096 * 768), *probs = buf(32 * 12 * 128 * 128);
    uint8_t *mask = malloc(32 * 12 * 128 * 128);
    t0 = bench_now();
    if (vt_attention_forward(&d, &o, qkv, qkv + 768, qkv + 1536, probs, mask, out) != VT_OK) exit(1);
    t1 = bench_now();
    if (vt_attention_backward(&d, &o, qkv, qkv + 768, qkv + 1536, probs, mask, out, dqkv, dqkv + 768, dqkv + 1536))
        exit(1);
    t2 = bench_now();
    double fl = 2.0 * 32 * 12 * 128 * 128 * 64;
    printf("attention 32x12x128x64: forward %.1f ms (%.1f GFLOPS), backward %.1f ms (%.1f GFLOPS)\n",
           (t1 - t0) * 1e3, 2 * fl / (t1 - t0) * 1e-9, (t2 - t1) * 1e3, 4 * fl / (t2 - t1) * 1e-9);

    float *x = buf(4096 * 3072), *y = buf(4096 * 3072), *dx = buf(4096 * 3072);
    t0 = bench_now();
    vt_activation_forward(VT_ACT_GELU, x, y, 4096, 3072);
    t1 = bench_now();
    vt_activation_backward(VT_ACT_GELU, x, y, x, dx, 4096, 3072);
    t2 = bench_now();
    printf("gelu 4096x3072: forward %.1f ms, backward %.1f ms\n", (t1 - t0) * 1e3, (t2 - t1) * 1e3);
    float *g = buf(768), *b = buf(768), *mean = buf(4096), *rstd = buf(4096), *dg = buf(768), *db = buf(768);
    t0 = bench_now();
    vt_layernorm_forward(x, g, b, y, mean, rstd, 4096, 768, 1e-12f);
    t1 = bench_now();
    vt_layernorm_backward(x, y, g, mean, rstd, dx, dg, db, 4096, 768);
    t2 = bench_now();
    printf("layernorm 4096x768: forward %.2f ms, backward %.2f ms\n", (t1 - t0) * 1e3, (t2 - t1) * 1e3);
    free(qkv), free(dqkv), free(out), free(probs), free(mask), free(x), free(y), free(dx);
    free(g), free(b), free(mean), free(rstd), free(dg), free(db);
}

int main(int argc, char **argv) {
    static const char *const KNOWN[] = {"--threads", "--min-ms", "--kernels", NULL};
    bench_check_opts(argc, argv, KNOWN);
    bench_set_threads(bench_opt_int(argc, argv, "--threads", 2, 1, 4096));
    double min_s = 1e-3 * (double)bench_opt_int(argc, argv, "--min-ms", 150, 1, 600000);
    if (vt_gemm_check_env() != VT_OK) bench_die_verto("VT_GEMM");
    bench_shapes(min_s);
    if (bench_opt_int(argc, argv, "--kernels", 0, 0, 1)) bench_kernels();
    return 0;
}
