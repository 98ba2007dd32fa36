/* Where a batch-1 GPT-2 decode step's time goes, and how close it is to the
 * memory bound, in one run on one machine:
 *
 *   - the memory read bandwidth: every thread streams its share of a buffer
 *     much larger than the L3 (--mib, default 1024), best of 5;
 *   - the step's parts at one row, each over every layer in turn as a step
 *     visits them (so the weights come from memory, not the cache): the dense
 *     layers (c_attn, attn.c_proj, c_fc, mlp.c_proj) and the lm_head through
 *     a GEMM (vt_matmul at M = 1, what a step ran before vt_matvec) and
 *     through vt_matvec in f32 and with bf16 weights; the 2L + 1 LayerNorms;
 *     the greedy choice over the vocabulary (vt_sampler_next);
 *   - vt_gpt2_step itself at a 128-token cache, fp32 and bf16 decode weights,
 *     the rest of it (attention over the cache, GELU, embeddings, threads'
 *     start) being the step less the parts above;
 *   - the bound: bytes of weights a step reads / bandwidth.
 *
 * Medians of --repeats. One JSON object per line. Not part of the tests.
 *   build/bench/decode_profile --model DIR [--repeats 20 --mib 1024] */
#include <immintrin.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench_util.h"
#include "verto/gpt2.h"
#include "verto/kernels.h"
#include "verto/sampling.h"

/* GB/s of a parallel streaming read of `bytes`. */
static double read_bandwidth(size_t bytes) {
    size_t n = bytes / sizeof(float);
    float *buf = aligned_alloc(64, n * sizeof(float));
    if (!buf) return 0;
#pragma omp parallel for schedule(static)
    for (size_t i = 0; i < n; i++) buf[i] = (float)(i & 7); /* each thread touches its own pages */
    double best = 1e30, sink = 0;
    for (int r = 0; r < 5; r++) {
        double t0 = bench_now(), total = 0;
#pragma omp parallel reduction(+ : total)
        {
            __m256 a = _mm256_setzero_ps(), b = _mm256_setzero_ps();
#pragma omp for schedule(static)
            for (size_t i = 0; i < n; i += 16) {
                a = _mm256_add_ps(a, _mm256_load_ps(buf + i));
                b = _mm256_add_ps(b, _mm256_load_ps(buf + i + 8));
            }
            float out[8];
            _mm256_storeu_ps(out, _mm256_add_ps(a, b));
            for (int k = 0; k < 8; k++) total += out[k];
        }
        double t = bench_now() - t0;
        sink += total;
        if (t < best) best = t;
    }
    free(buf);
    if (sink == -1) puts(""); /* keeps the sums alive */
    return (double)bytes / best / 1e9;
}

typedef struct dense {
    const float *W, *b; /* (out, in), (out) */
    vt_bf16 *W16;
    int64_t in, out;
} dense;

enum { PATH_GEMM, PATH_MATVEC, PATH_MATVEC_BF16 };

static void run(const dense *d, const float *x, float *y, int path) {
    if (path == PATH_GEMM) vt_matmul(x, d->W, d->b, y, 1, d->out, d->in, false, true, 0.0f);
    else if (path == PATH_MATVEC) vt_matvec(x, d->W, d->b, y, 1, d->out, d->in, false);
    else vt_matvec_bf16(x, d->W16, d->b, y, 1, d->out, d->in, false);
}

static double median_of(double *t, int n) { return bench_stats_of(t, n).median; }

int main(int argc, char **argv) {
    static const char *const known[] = {"--model", "--repeats", "--mib", NULL};
    bench_check_opts(argc, argv, known);
    const char *dir = bench_opt(argc, argv, "--model");
    int reps = (int)bench_opt_int(argc, argv, "--repeats", 20, 3, 1000);
    int64_t mib = bench_opt_int(argc, argv, "--mib", 1024, 64, 1 << 16);
    vt_gpt2 *m = dir ? vt_gpt2_load(dir) : NULL;
    if (!m) {
        fprintf(stderr, "error: %s\n", dir ? vt_last_error() : "--model DIR is required");
        return 1;
    }
    const vt_gpt2_config *cfg = vt_gpt2_get_config(m);
    int64_t L = cfg->n_layer, H = cfg->n_embd, V = cfg->vocab_size;
    double gbs = read_bandwidth((size_t)mib << 20);

    /* the step's dense layers in the order it reads them, then the lm_head */
    static const char *const names[] = {"attn.c_attn", "attn.c_proj", "mlp.c_fc", "mlp.c_proj"};
    int64_t nd = 4 * L + 1, widest = V;
    dense *ds = calloc((size_t)nd, sizeof *ds);
    double dense_bytes = 0; /* f32 bytes of the layers' weights */
    for (int64_t l = 0; l < L; l++)
        for (int k = 0; k < 4; k++) {
            char w[96], b[96];
            snprintf(w, sizeof w, "h.%lld.%s.weight", (long long)l, names[k]);
            snprintf(b, sizeof b, "h.%lld.%s.bias", (long long)l, names[k]);
            vt_gpt2_param *pw = vt_gpt2_param_find(m, w), *pb = vt_gpt2_param_find(m, b);
            if (!pw || !pb) {
                fprintf(stderr, "error: no %s in the model\n", w);
                return 1;
            }
            ds[4 * l + k] = (dense){.W = pw->data, .b = pb->data, .out = pw->shape[0], .in = pw->shape[1]};
            dense_bytes += 4.0 * (double)(pw->shape[0] * pw->shape[1]);
        }
    ds[4 * L] = (dense){.W = vt_gpt2_param_find(m, "wte.weight")->data, .in = H, .out = V};
    for (int64_t i = 0; i < nd; i++) {
        ds[i].W16 = malloc((size_t)(ds[i].in * ds[i].out) * sizeof(vt_bf16));
        vt_f32_to_bf16(ds[i].W, ds[i].W16, ds[i].in * ds[i].out);
        if (ds[i].in > widest) widest = ds[i].in;
        if (ds[i].out > widest) widest = ds[i].out;
    }
    double head_bytes = 4.0 * (double)(V * H);
    float *x = calloc((size_t)widest, sizeof *x), *y = calloc((size_t)widest, sizeof *y);
    for (int64_t i = 0; i < widest; i++) x[i] = 0.01f * (float)((i * 37) % 101 - 50);
    double *t = calloc((size_t)reps, sizeof *t);

    static const char *const path_names[] = {"gemm", "matvec", "matvec_bf16"};
    double layers_s[3], head_s[3], *th = calloc((size_t)reps, sizeof *th);
    for (int path = 0; path < 3; path++) {
        for (int r = -1; r < reps; r++) { /* r = -1: warm-up */
            double t0 = bench_now();
            for (int64_t i = 0; i < 4 * L; i++) run(&ds[i], x, y, path);
            double t1 = bench_now();
            run(&ds[4 * L], x, y, path); /* the layers before have pushed it out of the cache */
            if (r >= 0) t[r] = t1 - t0, th[r] = bench_now() - t1;
        }
        layers_s[path] = median_of(t, reps);
        head_s[path] = median_of(th, reps);
    }

    /* 2L + 1 LayerNorms of one row */
    float *g = malloc((size_t)H * sizeof *g), *bt = calloc((size_t)H, sizeof *bt), mean, rstd;
    for (int64_t i = 0; i < H; i++) g[i] = 1;
    for (int r = 0; r < reps; r++) {
        double t0 = bench_now();
        for (int64_t k = 0; k < 2 * L + 1; k++) vt_layernorm_forward(x, g, bt, y, &mean, &rstd, 1, H, 1e-5f);
        t[r] = bench_now() - t0;
    }
    double ln_s = median_of(t, reps);

    /* the greedy choice */
    vt_sampling_options so;
    vt_sampling_options_default(&so);
    vt_sampler *smp = vt_sampler_new(&so, (int32_t)V);
    float *logits = malloc((size_t)V * sizeof *logits);
    for (int r = 0; r < reps; r++) {
        for (int64_t i = 0; i < V; i++) logits[i] = (float)((i * 7919) % 1000);
        int32_t tok;
        double t0 = bench_now();
        vt_sampler_next(smp, logits, NULL, 0, NULL, &tok);
        t[r] = bench_now() - t0;
    }
    double sample_s = median_of(t, reps);

    /* whole steps at a 128-token cache */
    double step_s[2];
    int32_t prompt[128];
    for (int i = 0; i < 128; i++) prompt[i] = (int32_t)((i * 7919 + 17) % V);
    for (int prec = 0; prec < 2; prec++) {
        vt_gpt2_set_decode_precision(m, prec ? VT_PRECISION_BF16 : VT_PRECISION_FP32);
        vt_gpt2_cache *c = vt_gpt2_cache_new(m, 1, 128 + reps + 1);
        int32_t len = 128;
        if (!c || vt_gpt2_prefill(m, c, prompt, 128, &len, logits) != VT_OK) {
            fprintf(stderr, "error: %s\n", vt_last_error());
            return 1;
        }
        int32_t tok = 1;
        vt_gpt2_step(m, c, &tok, logits); /* warm-up */
        for (int r = 0; r < reps - 1; r++) {
            double t0 = bench_now();
            vt_gpt2_step(m, c, &tok, logits);
            t[r] = bench_now() - t0;
        }
        step_s[prec] = median_of(t, reps - 1);
        vt_gpt2_cache_free(c);
    }
    double bytes = dense_bytes + head_bytes;
    printf("{\"model\": \"%s\", \"threads\": %d, \"read_GBps\": %.2f, \"weights_MB_fp32\": %.1f, "
           "\"bound_tok_s_fp32\": %.1f, \"bound_tok_s_bf16\": %.1f}\n",
           dir, omp_get_max_threads(), gbs, bytes / 1e6, gbs * 1e9 / bytes, gbs * 1e9 / (bytes / 2));
    for (int path = 0; path < 3; path++) {
        double b = path == PATH_MATVEC_BF16 ? 2 : 4;
        printf("{\"part\": \"dense layers (%lld)\", \"path\": \"%s\", \"ms\": %.3f, \"GBps\": %.2f}\n", (long long)(4 * L),
               path_names[path], 1e3 * layers_s[path], dense_bytes / 4 * b / layers_s[path] / 1e9);
        printf("{\"part\": \"lm_head\", \"path\": \"%s\", \"ms\": %.3f, \"GBps\": %.2f}\n", path_names[path],
               1e3 * head_s[path], head_bytes / 4 * b / head_s[path] / 1e9);
    }
    printf("{\"part\": \"layernorms (%lld)\", \"ms\": %.4f}\n", (long long)(2 * L + 1), 1e3 * ln_s);
    printf("{\"part\": \"greedy choice\", \"ms\": %.4f}\n", 1e3 * sample_s);
    for (int prec = 0; prec < 2; prec++) {
        int path = prec ? PATH_MATVEC_BF16 : PATH_MATVEC;
        double rest = step_s[prec] - layers_s[path] - head_s[path] - ln_s;
        printf("{\"part\": \"vt_gpt2_step\", \"decode\": \"%s\", \"ms\": %.3f, \"tok_s\": %.1f, "
               "\"of_bound\": %.2f, \"rest_ms\": %.3f}\n",
               prec ? "bf16" : "fp32", 1e3 * step_s[prec], 1 / step_s[prec],
               (1 / step_s[prec]) / (gbs * 1e9 / (bytes / (prec ? 2 : 1))), 1e3 * rest);
    }
    return 0;
}
