/* GPT-2 in verto: a training step (forward with labels= + backward) and
 * greedy decoding with the KV cache, on a model directory. Prints one JSON
 * line; bench/gpt2_peer.py times the same in PyTorch (compare in one run:
 * bench/gpt2_compare.sh). Not part of the tests.
 *
 *   build/bench/gpt2_bench --model DIR [--batch 8 --seq 128 --prompt 16 --new 64 --repeats 5] */
#include <stdio.h>
#include <stdlib.h>

#include "bench_util.h"
#include "verto/gpt2.h"

int main(int argc, char **argv) {
    static const char *const known[] = {"--model", "--batch", "--seq", "--prompt", "--new", "--repeats", NULL};
    bench_check_opts(argc, argv, known);
    const char *dir = bench_opt(argc, argv, "--model");
    int64_t B = bench_opt_int(argc, argv, "--batch", 8, 1, 4096), T = bench_opt_int(argc, argv, "--seq", 128, 2, 1 << 20);
    int64_t P = bench_opt_int(argc, argv, "--prompt", 16, 1, 1 << 20), N = bench_opt_int(argc, argv, "--new", 64, 1, 1 << 20);
    int reps = (int)bench_opt_int(argc, argv, "--repeats", 5, 1, 1000);
    vt_gpt2 *m = dir ? vt_gpt2_load(dir) : NULL;
    if (!m) {
        fprintf(stderr, "error: %s\n", dir ? vt_last_error() : "--model DIR is required");
        return 1;
    }
    int64_t V = vt_gpt2_get_config(m)->vocab_size;
    int32_t *ids = malloc((size_t)(B * T) * sizeof *ids), *out = malloc((size_t)N * sizeof *out);
    for (int64_t i = 0; i < B * T; i++) ids[i] = (int32_t)((i * 7919 + 17) % V); /* the peer's ids too */
    vt_gpt2_batch in = {.batch = B, .seq_len = T, .input_ids = ids, .labels = ids};
    vt_gpt2_outputs o;
    double train[1000], decode[1000];
    for (int r = -1; r < reps; r++) { /* r = -1: warm-up (oneDNN primitives, the arena) */
        double t0 = bench_now();
        if (vt_gpt2_forward(m, &in, true, 1, &o) != VT_OK || vt_gpt2_backward(m, false) != VT_OK) {
            fprintf(stderr, "error: %s\n", vt_last_error());
            return 1;
        }
        double t1 = bench_now();
        int32_t len = (int32_t)P;
        if (vt_gpt2_greedy(m, ids, 1, P, &len, N, -1, out, NULL) != VT_OK) {
            fprintf(stderr, "error: %s\n", vt_last_error());
            return 1;
        }
        double t2 = bench_now();
        if (r >= 0) train[r] = t1 - t0, decode[r] = t2 - t1;
    }
    bench_stats st = bench_stats_of(train, reps), sd = bench_stats_of(decode, reps);
    printf("{\"engine\": \"verto\", \"batch\": %lld, \"seq\": %lld, \"train_step_s\": %.4f, \"loss\": %.6f, "
           "\"prompt\": %lld, \"new\": %lld, \"decode_s\": %.4f, \"decode_tokens_per_s\": %.1f}\n",
           (long long)B, (long long)T, st.median, o.loss, (long long)P, (long long)N, sd.median, (double)N / sd.median);
    vt_gpt2_free(m);
    free(ids);
    free(out);
    return 0;
}
