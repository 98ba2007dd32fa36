/* A LoRA fine-tuning step of GPT-2 in verto: forward with labels (training,
 * LoRA dropout on), backward into the adapter only, and an AdamW update of
 * the adapter. Prints one JSON line; bench/lora_peer.py times the same with
 * PEFT + transformers (compare in one run: bench/lora_compare.sh). Not part of
 * the tests.
 *
 *   build/bench/lora_bench --model DIR [--batch 8 --seq 128 --rank 8 --repeats 5] */
#include <stdio.h>
#include <stdlib.h>

#include "bench_util.h"
#include "verto/gpt2.h"
#include "verto/gpt2_lora.h"

int main(int argc, char **argv) {
    static const char *const known[] = {"--model", "--batch", "--seq", "--rank", "--repeats", NULL};
    bench_check_opts(argc, argv, known);
    const char *dir = bench_opt(argc, argv, "--model");
    int64_t B = bench_opt_int(argc, argv, "--batch", 8, 1, 4096), T = bench_opt_int(argc, argv, "--seq", 128, 2, 1 << 20);
    int64_t r = bench_opt_int(argc, argv, "--rank", 8, 1, 4096);
    int reps = (int)bench_opt_int(argc, argv, "--repeats", 5, 1, 1000);
    vt_gpt2 *m = dir ? vt_gpt2_load(dir) : NULL;
    unsigned targets = 0;
    vt_gpt2_lora_config lc = {.rank = r, .alpha = 2.0f * (float)r, .dropout = 0.05f};
    if (!m || vt_gpt2_lora_parse_targets("c_attn,c_proj,c_fc", &targets) != VT_OK ||
        (lc.targets = targets, vt_gpt2_lora_add(m, &lc, 1)) != VT_OK) {
        fprintf(stderr, "error: %s\n", dir ? vt_last_error() : "--model DIR is required");
        return 1;
    }
    int64_t V = vt_gpt2_get_config(m)->vocab_size, n;
    float *p = vt_gpt2_lora_params(m, &n), *g = vt_gpt2_lora_grads(m, NULL);
    size_t n_infos;
    const vt_param_info *infos = vt_gpt2_lora_param_infos(m, &n_infos);
    vt_optimizer_config oc;
    vt_optimizer_config_default("adamw", &oc);
    oc.learning_rate = 1e-4f;
    vt_optimizer *opt = vt_optimizer_new(&oc, n, infos, n_infos);
    int32_t *ids = malloc((size_t)(B * T) * sizeof *ids);
    for (int64_t i = 0; i < B * T; i++) ids[i] = (int32_t)((i * 7919 + 17) % V); /* the peer's ids too */
    vt_gpt2_batch in = {.batch = B, .seq_len = T, .input_ids = ids, .labels = ids};
    vt_gpt2_outputs o;
    double step[1000];
    for (int k = -1; k < reps; k++) { /* k = -1: warm-up (oneDNN primitives, the arena) */
        double t0 = bench_now();
        if (vt_gpt2_forward(m, &in, true, (uint64_t)k + 2, &o) != VT_OK || vt_gpt2_backward(m, false) != VT_OK ||
            vt_optimizer_step(opt, p, g, NULL) != VT_OK) {
            fprintf(stderr, "error: %s\n", vt_last_error());
            return 1;
        }
        if (k >= 0) step[k] = bench_now() - t0;
    }
    bench_stats st = bench_stats_of(step, reps);
    printf("{\"engine\": \"verto\", \"batch\": %lld, \"seq\": %lld, \"rank\": %lld, \"adapter_params\": %lld, "
           "\"lora_step_s\": %.4f, \"tokens_per_s\": %.1f, \"loss\": %.6f}\n",
           (long long)B, (long long)T, (long long)r, (long long)n, st.median, (double)(B * T) / st.median, o.loss);
    vt_optimizer_free(opt);
    vt_gpt2_free(m);
    free(ids);
    return 0;
}
