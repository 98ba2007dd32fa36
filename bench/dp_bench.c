/* Seconds per DP-SGD step of verto against its non-private step, same model
 * and batch (bench/dp_bench.py runs it next to Opacus in the same run).
 *
 *   dp_bench --model DIR --data FILE --batch B --seq-len T [--threads 2]
 *            [--warmup 2] [--steps 5] [--exact 0|1]
 *
 * FILE: the batch as int32, ids (B, T), then attention mask (B, T), then
 * labels (B). A non-private step is one training forward and backward of the
 * batch, padded (B, T) and packed (each sequence's tokens, no padding: what
 * verto finetune runs); a private one vt_dp_gradient over all B examples
 * (which packs them; per-example norms,
 * the clipped sum, noise with multiplier 1): the fast path (book-keeping, the
 * default), the two-pass fast path, and with --exact 1
 * also the reference (one backward per example). The optimizer's update is
 * the same for both and left out. Prints one JSON line: the median seconds of
 * each over --steps after --warmup, and the DP steps over the packed
 * non-private step (the same layout: the cost of privacy) and over the padded
 * one. */
#include <stdlib.h>
#include <string.h>

#include "bench_util.h"
#include "verto/bert.h"
#include "verto/dp.h"

typedef struct data {
    int64_t B, T;
    int32_t *ids, *mask, *labels;
} data;

static vt_status get_example(void *ctx, int64_t row, vt_bert_batch *b) {
    const data *d = ctx;
    *b = (vt_bert_batch){.batch = 1, .seq_len = d->T, .input_ids = d->ids + row * d->T,
                         .attention_mask = d->mask + row * d->T, .labels = d->labels + row, .cls_only = true};
    return VT_OK;
}

static void read_data(const char *path, data *d) {
    size_t cells = (size_t)(d->B * d->T), n = 2 * cells + (size_t)d->B;
    int32_t *all = malloc(n * sizeof *all);
    FILE *f = fopen(path, "rb");
    if (!all || !f || fread(all, sizeof *all, n, f) != n) {
        fprintf(stderr, "dp_bench: cannot read %zu int32 from %s\n", n, path);
        exit(1);
    }
    fclose(f);
    d->ids = all, d->mask = all + cells, d->labels = all + 2 * cells;
}

static double median_of(double *x, int n) { return bench_stats_of(x, n).median; }

int main(int argc, char **argv) {
    static const char *const known[] = {"--model", "--data", "--batch", "--seq-len", "--threads", "--warmup",
                                        "--steps", "--exact", NULL};
    bench_check_opts(argc, argv, known);
    const char *model = bench_opt(argc, argv, "--model"), *path = bench_opt(argc, argv, "--data");
    if (!model || !path) {
        fprintf(stderr, "usage: dp_bench --model DIR --data FILE --batch B --seq-len T [--threads N] [--steps N]\n");
        return 2;
    }
    data d = {.B = bench_opt_int(argc, argv, "--batch", 16, 1, 4096), .T = bench_opt_int(argc, argv, "--seq-len", 128, 1, 4096)};
    int threads = bench_set_threads(bench_opt_int(argc, argv, "--threads", 2, 1, 256));
    int warmup = (int)bench_opt_int(argc, argv, "--warmup", 2, 0, 100), steps = (int)bench_opt_int(argc, argv, "--steps", 5, 1, 1000);
    bool exact = bench_opt_int(argc, argv, "--exact", 0, 0, 1);
    read_data(path, &d);
    vt_bert *b = vt_bert_load(model, VT_BERT_FOR_SEQUENCE_CLASSIFICATION, 2, 1);
    if (!b) bench_die_verto("loading the model");
    vt_bert_batch batch = {.batch = d.B, .seq_len = d.T, .input_ids = d.ids, .attention_mask = d.mask,
                           .labels = d.labels, .cls_only = true};
    int32_t *packed_ids = malloc((size_t)(d.B * d.T) * sizeof *packed_ids);
    int64_t *offsets = malloc((size_t)(d.B + 1) * sizeof *offsets);
    offsets[0] = 0;
    for (int64_t i = 0; i < d.B; i++) { /* each sequence's tokens: its mask's leading ones */
        int64_t n = 0;
        while (n < d.T && d.mask[i * d.T + n]) n++;
        memcpy(packed_ids + offsets[i], d.ids + i * d.T, (size_t)n * sizeof *packed_ids);
        offsets[i + 1] = offsets[i] + n;
    }
    vt_bert_batch packed = {.batch = d.B, .input_ids = packed_ids, .offsets = offsets, .labels = d.labels,
                            .cls_only = true};
    vt_dp_options o = {.noise_multiplier = 1.0, .max_grad_norm = 1.0, .expected_batch = d.B, .examples = d.B, .seed = 1};
    vt_dp *dp = vt_dp_new(&o, b);
    o.fast_method = VT_DP_TWO_PASS;
    vt_dp *dp_two = vt_dp_new(&o, b);
    o.exact = true;
    vt_dp *dp_exact = vt_dp_new(&o, b);
    if (!dp || !dp_two || !dp_exact) bench_die_verto("vt_dp_new");
    int64_t *rows = malloc((size_t)d.B * sizeof *rows);
    for (int64_t i = 0; i < d.B; i++) rows[i] = i;
    double *plain = calloc((size_t)steps, sizeof(double)), *fast = calloc((size_t)steps, sizeof(double));
    double *two = calloc((size_t)steps, sizeof(double)), *plain_packed = calloc((size_t)steps, sizeof(double));
    double exact_s = 0;
    vt_bert_outputs out;
    vt_dp_step_info info = {0};
    for (int s = -warmup; s < steps; s++) {
        double t0 = bench_now();
        if (vt_bert_forward(b, &batch, true, (uint64_t)s, &out) || vt_bert_backward(b, false)) bench_die_verto("step");
        double t1 = bench_now();
        if (vt_dp_gradient(dp, b, s, rows, d.B, get_example, &d, (uint64_t)s, &info)) bench_die_verto("DP step");
        double t2 = bench_now();
        if (vt_dp_gradient(dp_two, b, s, rows, d.B, get_example, &d, (uint64_t)s, &info)) bench_die_verto("DP step");
        double t3 = bench_now();
        if (vt_bert_forward(b, &packed, true, (uint64_t)s, &out) || vt_bert_backward(b, false))
            bench_die_verto("packed step");
        double t4 = bench_now();
        if (s >= 0) plain[s] = t1 - t0, fast[s] = t2 - t1, two[s] = t3 - t2, plain_packed[s] = t4 - t3;
    }
    if (exact) {
        double t0 = bench_now();
        if (vt_dp_gradient(dp_exact, b, 0, rows, d.B, get_example, &d, 0, NULL)) bench_die_verto("exact DP step");
        exact_s = bench_now() - t0;
    }
    double p = median_of(plain, steps), pp = median_of(plain_packed, steps), f = median_of(fast, steps);
    double f2 = median_of(two, steps);
    printf("{\"threads\": %d, \"batch\": %lld, \"seq_len\": %lld, \"tokens\": %lld, \"plain_padded_s\": %.5f, "
           "\"plain_packed_s\": %.5f, \"dp_fast_s\": %.5f, \"dp_fast_over_plain\": %.3f, "
           "\"dp_fast_over_plain_padded\": %.3f, \"dp_two_pass_s\": %.5f, \"dp_two_pass_over_plain\": %.3f, "
           "\"fast_path\": %s, \"clipped\": %lld, \"dp_exact_s\": %.5f}\n",
           threads, (long long)d.B, (long long)d.T, (long long)offsets[d.B], p, pp, f, f / pp, f / p, f2, f2 / pp,
           info.fast ? "true" : "false", (long long)info.clipped, exact_s);
    vt_dp_free(dp);
    vt_dp_free(dp_two);
    free(two);
    vt_dp_free(dp_exact);
    vt_bert_free(b);
    free(rows), free(plain), free(fast), free(d.ids), free(plain_packed), free(packed_ids), free(offsets);
    return 0;
}
