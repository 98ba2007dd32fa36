/* Speed of choosing a token (vt_sampler_process + the draw) over GPT-2's
 * vocabulary, for bench/sampling_peer.py's transformers processors to be
 * compared with in the same run (bench/sampling_compare.sh).
 *
 * Options: --vocab V (default 50257), --context N (ids in the sequence,
 * default 512), --repeats R (calls timed per configuration, default 2000).
 * Logits: normal(0, 2) draws, fixed seed. Prints one JSON line: per
 * configuration the median microseconds per call. Single thread. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench_util.h"
#include "verto/sampling.h"

typedef struct config {
    const char *name;
    vt_sampling_options o;
} config;

int main(int argc, char **argv) {
    static const char *const known[] = {"--vocab", "--context", "--repeats", NULL};
    bench_check_opts(argc, argv, known);
    int32_t V = (int32_t)bench_opt_int(argc, argv, "--vocab", 50257, 2, 1 << 24);
    int64_t n_ctx = bench_opt_int(argc, argv, "--context", 512, 0, 1 << 20);
    int R = (int)bench_opt_int(argc, argv, "--repeats", 2000, 1, 1000000);
    vt_rng rng;
    vt_rng_seed(&rng, 1);
    float *logits = malloc((size_t)V * sizeof *logits), *x = malloc((size_t)V * sizeof *x);
    int32_t *ctx = malloc((size_t)(n_ctx ? n_ctx : 1) * sizeof *ctx);
    double *t = malloc((size_t)R * sizeof *t);
    for (int32_t i = 0; i < V; i++) logits[i] = (float)(2 * vt_rng_normal(&rng));
    for (int64_t i = 0; i < n_ctx; i++) ctx[i] = (int32_t)vt_rng_below(&rng, (uint64_t)V);
    config cfg[] = {
        {"greedy_penalty", {false, 1.0f, 0, 1.0f, 1.2f}},
        {"top_k50", {true, 1.0f, 50, 1.0f, 1.0f}},
        {"top_p0.9", {true, 1.0f, 0, 0.9f, 1.0f}},
        {"all", {true, 0.8f, 40, 0.92f, 1.2f}},
    };
    printf("{\"bench\": \"sampling\", \"vocab\": %d, \"context\": %lld, \"repeats\": %d", (int)V, (long long)n_ctx, R);
    for (size_t c = 0; c < sizeof cfg / sizeof *cfg; c++) {
        vt_sampler *s = vt_sampler_new(&cfg[c].o, V);
        if (!s) {
            fprintf(stderr, "%s\n", vt_last_error());
            return 1;
        }
        vt_rng draw;
        vt_sampling_rng(7, 0, &draw);
        int32_t tok;
        for (int r = 0; r < R; r++) {
            memcpy(x, logits, (size_t)V * sizeof *x); /* outside the clock: the process is in place */
            double t0 = bench_now();
            if (vt_sampler_next(s, x, ctx, n_ctx, &draw, &tok) != VT_OK) return 1;
            t[r] = bench_now() - t0;
        }
        printf(", \"%s_us\": %.2f", cfg[c].name, 1e6 * bench_stats_of(t, R).median);
        vt_sampler_free(s);
    }
    printf("}\n");
    free(logits), free(x), free(ctx), free(t);
    return 0;
}
