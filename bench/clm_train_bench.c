/* Causal-LM training throughput in verto: full optimizer steps (forward with
 * labels, backward, global-norm clipping, AdamW without decay on biases and
 * LayerNorms) of a GPT-2 directory on fixed ids, as vt_clm_train runs them.
 * bench/clm_train_peer.py times the same step in PyTorch + transformers;
 * bench/clm_train_compare.sh runs both and gemm_peak in one run. Prints one
 * JSON line (tokens/s counts the B*T input tokens of a step).
 *
 *   build/bench/clm_train_bench --model DIR [--batch 8 --seq 256 --steps 5 --precision fp32|bf16]
 *                               [--head chunked|full] [--chunk ROWS]
 * --head chunked (default) runs vt_gpt2_train_step, as the training loops do,
 * with --chunk rows per chunk of the head (0: automatic); full runs
 * vt_gpt2_forward + vt_gpt2_backward with the whole logits. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench_util.h"
#include "verto/gpt2.h"
#include "verto/optim.h"

int main(int argc, char **argv) {
    static const char *const known[] = {"--model", "--batch", "--seq", "--steps", "--precision", "--head", "--chunk", NULL};
    bench_check_opts(argc, argv, known);
    const char *dir = bench_opt(argc, argv, "--model"), *prec = bench_opt(argc, argv, "--precision");
    int64_t B = bench_opt_int(argc, argv, "--batch", 8, 1, 4096), T = bench_opt_int(argc, argv, "--seq", 256, 2, 1 << 20);
    int steps = (int)bench_opt_int(argc, argv, "--steps", 5, 1, 1000);
    bool bf16 = prec && !strcmp(prec, "bf16");
    const char *head = bench_opt(argc, argv, "--head");
    bool full = head && !strcmp(head, "full");
    if (head && !full && strcmp(head, "chunked")) {
        fprintf(stderr, "error: --head takes chunked or full\n");
        return 1;
    }
    int64_t chunk = bench_opt_int(argc, argv, "--chunk", 0, 0, 1 << 20);
    vt_gpt2 *m = dir ? vt_gpt2_load(dir) : NULL;
    if (!m || (bf16 && vt_gpt2_set_precision(m, VT_PRECISION_BF16) != VT_OK)) {
        fprintf(stderr, "error: %s\n", dir ? vt_last_error() : "--model DIR is required");
        return 1;
    }
    static const char *const NO_DECAY[] = {"bias", "ln_"};
    vt_optimizer_config cfg;
    vt_optimizer_config_default("adamw", &cfg);
    cfg.learning_rate = 1e-4f;
    cfg.weight_decay = 0.01f;
    cfg.epsilon = 1e-8f;
    cfg.no_decay = NO_DECAY;
    cfg.n_no_decay = 2;
    cfg.clip_norm = 1.0f;
    size_t n_infos;
    const vt_param_info *infos = vt_gpt2_param_infos(m, &n_infos);
    int64_t n;
    float *grads = vt_gpt2_grads(m, NULL);
    vt_gpt2_params(m, &n);
    vt_optimizer *opt = vt_optimizer_new(&cfg, n, infos, n_infos);
    vt_gpt2_set_head_chunk(m, chunk);
    int64_t V = vt_gpt2_get_config(m)->vocab_size;
    int32_t *ids = malloc((size_t)(B * T) * sizeof *ids);
    for (int64_t i = 0; i < B * T; i++) ids[i] = (int32_t)((i * 7919 + 17) % V); /* the peer's ids too */
    vt_gpt2_batch in = {.batch = B, .seq_len = T, .input_ids = ids, .labels = ids};
    vt_gpt2_outputs o;
    double t[1000];
    for (int r = -1; r < steps; r++) { /* r = -1: warm-up (oneDNN primitives, the arena) */
        double t0 = bench_now();
        vt_status st = full ? vt_gpt2_forward(m, &in, true, (uint64_t)r + 2, &o) : VT_OK;
        if (st == VT_OK) st = full ? vt_gpt2_backward(m, false) : vt_gpt2_train_step(m, &in, (uint64_t)r + 2, false, &o);
        if (!opt || st != VT_OK ||
            /* vt_gpt2_params each step: it marks the bf16 copy stale, so the next forward sees the update */
            vt_optimizer_step(opt, vt_gpt2_params(m, NULL), grads, NULL) != VT_OK) {
            fprintf(stderr, "error: %s\n", vt_last_error());
            return 1;
        }
        if (r >= 0) t[r] = bench_now() - t0;
    }
    bench_stats s = bench_stats_of(t, steps);
    /* Model flops of a step: 6 per parameter and token (the tied head counted once as
     * a product, plus the lookup free) + attention's 12 * L * T * H per token (causal: half used, all counted, as nanoGPT). */
    const vt_gpt2_config *c = vt_gpt2_get_config(m);
    double N = (double)vt_gpt2_num_parameters(m) - (double)c->n_positions * (double)c->n_embd;
    double flops = 6.0 * N * (double)(B * T) + 12.0 * (double)c->n_layer * (double)T * (double)c->n_embd * (double)(B * T);
    printf("{\"engine\": \"verto\", \"precision\": \"%s\", \"batch\": %lld, \"seq\": %lld, \"params\": %lld, "
           "\"head\": \"%s\", \"step_ms\": %.2f, \"tokens_per_sec\": %.1f, \"gflops\": %.2f, \"loss\": %.6f}\n",
           bf16 ? "bf16" : "fp32", (long long)B, (long long)T, (long long)vt_gpt2_num_parameters(m), full ? "full" : "chunked", 1e3 * s.median,
           (double)(B * T) / s.median, flops / s.median * 1e-9, o.loss);
    vt_optimizer_free(opt);
    vt_gpt2_free(m);
    free(ids);
    return 0;
}
