/* verto's generation path (vt_generate_batch: the session, the sampler's
 * greedy choice, incremental text decoding) at batch 1 on a model directory
 * with its tokenizer: a P-token prompt, N new tokens (eos ignored), median of
 * the repeats after a warm-up. Prints one JSON line; bench/generate_peer.py
 * times transformers' generate() with its KV cache on the same ids
 * (bench/generate_compare.sh runs both in one run). Not part of the tests.
 *
 * --precision bf16: the steps read bf16 weights (vt_gpt2_set_decode_precision).
 *
 *   build/bench/generate_bench --model DIR [--prompt 128 --new 128 --repeats 3 --precision fp32|bf16] */
#include <stdio.h>
#include <stdlib.h>

#include "bench_util.h"
#include "verto/generate.h"

int main(int argc, char **argv) {
    static const char *const known[] = {"--model", "--prompt", "--new", "--repeats", "--precision", NULL};
    bench_check_opts(argc, argv, known);
    const char *dir = bench_opt(argc, argv, "--model");
    int64_t P = bench_opt_int(argc, argv, "--prompt", 128, 1, 1 << 20), N = bench_opt_int(argc, argv, "--new", 128, 1, 1 << 20);
    int reps = (int)bench_opt_int(argc, argv, "--repeats", 3, 1, 1000);
    vt_precision precision = bench_opt_precision(argc, argv);
    vt_gpt2 *m = dir ? vt_gpt2_load(dir) : NULL;
    vt_tokenizer *tok = m ? vt_tok_load(dir, NULL) : NULL;
    if (!tok || vt_gpt2_set_decode_precision(m, precision) != VT_OK) {
        fprintf(stderr, "error: %s\n", dir ? vt_last_error() : "--model DIR is required");
        return 1;
    }
    int64_t V = vt_gpt2_get_config(m)->vocab_size;
    int32_t *ids = malloc((size_t)P * sizeof *ids);
    for (int64_t i = 0; i < P; i++) ids[i] = (int32_t)((i * 7919 + 17) % V); /* the peer's ids too */
    vt_gen_request r;
    vt_gen_request_default(&r);
    r.prompt = ids, r.n_prompt = P, r.max_new_tokens = N; /* greedy, no eos */
    double t[1000];
    vt_gen_result res = {0};
    for (int k = -1; k < reps; k++) { /* k = -1: warm-up */
        vt_gen_result_free(&res);
        double t0 = bench_now();
        if (vt_generate_batch(m, tok, &r, 1, 1, NULL, NULL, &res) != VT_OK) {
            fprintf(stderr, "error: %s\n", vt_last_error());
            return 1;
        }
        if (k >= 0) t[k] = bench_now() - t0;
    }
    bench_stats s = bench_stats_of(t, reps);
    printf("{\"engine\": \"verto\", \"precision\": \"%s\", \"prompt\": %lld, \"new\": %lld, \"generated\": %lld, "
           "\"generate_s\": %.4f, \"tokens_per_s\": %.1f}\n",
           precision == VT_PRECISION_BF16 ? "bf16" : "fp32", (long long)P, (long long)N, (long long)res.n_tokens,
           s.median, (double)N / s.median);
    vt_gen_result_free(&res);
    vt_tok_free(tok);
    vt_gpt2_free(m);
    free(ids);
    return 0;
}
