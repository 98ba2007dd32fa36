/* Tokens per second of BERT pretraining steps (MLM + NSP, AdamW, dropout),
 * run through vt_train, the loop `verto pretrain` uses, on synthetic batches.
 *
 *   pretrain_bench --config mini|small [--threads 2] [--warmup 2] [--steps 5]
 *                  [--batch 32] [--seq-len 128] [--masked 20] [--vocab 30522]
 *
 * Each batch is full length (no padding): [CLS] A [SEP] B [SEP] with random
 * ids, `masked` positions per sequence replaced by [MASK] and labelled with
 * their original id (-100 elsewhere), and a random NSP label, like the
 * instances `verto prepare-pretraining` writes. The trainer asks the data
 * source for each step's batch just before the step, so the time between
 * consecutive requests is one whole step (forward, backward, clipping, AdamW
 * update and the trainer's bookkeeping); the last step ends when vt_train
 * returns. The first `warmup` steps (arena planning, oneDNN primitive
 * creation) are not counted. Prints one JSON line. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bench_util.h"
#include "verto/bert.h"
#include "verto/rng.h"
#include "verto/trainer.h"

enum { CLS_ID = 101, SEP_ID = 102, MASK_ID = 103, FIRST_WORD_ID = 1000, N_BATCHES = 4 };

typedef struct pt_batch {
    int32_t *ids, *types, *mask, *mlm, *nsp;
} pt_batch;

typedef struct source {
    int64_t B, T, steps_seen, max_steps;
    pt_batch batches[N_BATCHES]; /* cycled: their content does not change the cost */
    double *step_start;          /* (max_steps + 1) request times */
} source;

static void *xcalloc(size_t n, size_t size) {
    void *p = calloc(n, size);
    if (!p) {
        fprintf(stderr, "bench: out of memory\n");
        exit(1);
    }
    return p;
}

/* One synthetic pretraining batch (B, T) with `masked` labelled positions per row. */
static void make_batch(pt_batch *b, int64_t B, int64_t T, int64_t masked, int64_t vocab, vt_rng *rng) {
    size_t n = (size_t)(B * T);
    b->ids = xcalloc(n, sizeof(int32_t));
    b->types = xcalloc(n, sizeof(int32_t));
    b->mask = xcalloc(n, sizeof(int32_t));
    b->mlm = xcalloc(n, sizeof(int32_t));
    b->nsp = xcalloc((size_t)B, sizeof(int32_t));
    int64_t sep1 = T / 2 - 1; /* [CLS] A(T/2 - 2) [SEP] B(T/2 - 1) [SEP] */
    int64_t *cand = xcalloc((size_t)T, sizeof(int64_t));
    for (int64_t r = 0; r < B; r++) {
        int32_t *ids = b->ids + r * T, *types = b->types + r * T, *mlm = b->mlm + r * T;
        int64_t nc = 0;
        for (int64_t t = 0; t < T; t++) {
            bool special = t == 0 || t == sep1 || t == T - 1;
            int32_t word = (int32_t)(FIRST_WORD_ID + vt_rng_below(rng, (uint64_t)(vocab - FIRST_WORD_ID)));
            ids[t] = t == 0 ? CLS_ID : special ? SEP_ID : word;
            types[t] = t > sep1;
            b->mask[r * T + t] = 1;
            mlm[t] = -100;
            if (!special) cand[nc++] = t;
        }
        vt_rng_shuffle_i64(rng, cand, nc);
        for (int64_t k = 0; k < masked && k < nc; k++) {
            mlm[cand[k]] = ids[cand[k]];
            ids[cand[k]] = MASK_ID;
        }
        b->nsp[r] = (int32_t)vt_rng_below(rng, 2);
    }
    free(cand);
}

static void free_batch(pt_batch *b) {
    free(b->ids), free(b->types), free(b->mask), free(b->mlm), free(b->nsp);
}

static vt_status get_batch(void *ctx, int64_t first, int64_t count, vt_bert_batch *batch, int64_t *tokens) {
    source *s = ctx;
    if (s->steps_seen <= s->max_steps) s->step_start[s->steps_seen] = bench_now();
    const pt_batch *b = &s->batches[s->steps_seen++ % N_BATCHES];
    (void)first;
    *batch = (vt_bert_batch){.batch = count, .seq_len = s->T, .input_ids = b->ids, .token_type_ids = b->types,
                             .attention_mask = b->mask, .mlm_labels = b->mlm, .nsp_labels = b->nsp};
    *tokens = count * s->T;
    return VT_OK;
}

int main(int argc, char **argv) {
    static const char *const KNOWN[] = {"--config", "--threads", "--warmup", "--steps", "--batch",
                                        "--seq-len", "--masked", "--vocab", "--precision", NULL};
    bench_check_opts(argc, argv, KNOWN);
    const char *preset = bench_opt(argc, argv, "--config");
    if (!preset) preset = "mini";
    int threads = bench_set_threads(bench_opt_int(argc, argv, "--threads", 2, 1, 4096));
    int64_t warmup = bench_opt_int(argc, argv, "--warmup", 2, 0, 1000);
    int64_t steps = bench_opt_int(argc, argv, "--steps", 5, 1, 100000);
    int64_t B = bench_opt_int(argc, argv, "--batch", 32, 1, 100000);
    int64_t T = bench_opt_int(argc, argv, "--seq-len", 128, 8, 512);
    int64_t masked = bench_opt_int(argc, argv, "--masked", 20, 1, 512);
    int64_t vocab = bench_opt_int(argc, argv, "--vocab", 30522, FIRST_WORD_ID + 1, 1 << 24);

    double baseline_rss = bench_rss_now_mib();
    vt_bert_config cfg;
    if (vt_bert_config_preset(&cfg, preset, vocab) != VT_OK) bench_die_verto("config");
    cfg.arch = VT_BERT_FOR_PRETRAINING; /* dropout 0.1 in hidden and attention: the presets' defaults */
    vt_bert *model = vt_bert_new(&cfg, 42);
    if (!model) bench_die_verto("model");
    vt_precision precision = bench_opt_precision(argc, argv);
    if (vt_bert_set_precision(model, precision) != VT_OK) bench_die_verto("precision");

    int64_t total = warmup + steps;
    source src = {.B = B, .T = T, .max_steps = total, .step_start = xcalloc((size_t)total + 1, sizeof(double))};
    vt_rng rng;
    vt_rng_seed(&rng, 7);
    for (int i = 0; i < N_BATCHES; i++) make_batch(&src.batches[i], B, T, masked, vocab, &rng);

    char out_dir[] = "/tmp/verto-bench-XXXXXX"; /* vt_train writes metrics.jsonl there */
    if (!mkdtemp(out_dir)) {
        perror("bench: mkdtemp");
        return 1;
    }
    vt_trainer_options o;
    vt_trainer_options_default(&o); /* lr 1e-4, wd 0.01, clip 1.0, eps 1e-6: verto pretrain's defaults */
    o.out_dir = out_dir;
    o.steps = total;
    o.batch_size = B;
    o.warmup_steps = total / 10;
    o.log_every = total;
    o.save_final = false;
    o.get_batch = get_batch;
    o.ctx = &src;
    vt_status st = vt_train(&model, &o, NULL);
    double end = bench_now();
    char path[64];
    snprintf(path, sizeof path, "%s/metrics.jsonl", out_dir);
    unlink(path);
    rmdir(out_dir);
    if (st != VT_OK) bench_die_verto("vt_train");
    src.step_start[total] = end;

    double *tps = xcalloc((size_t)steps, sizeof(double)), *secs = xcalloc((size_t)steps, sizeof(double));
    for (int64_t i = 0; i < steps; i++) {
        secs[i] = src.step_start[warmup + i + 1] - src.step_start[warmup + i];
        tps[i] = (double)(B * T) / secs[i];
    }
    printf("{\"bench\": \"pretrain\", \"system\": \"verto\", \"config\": \"%s\", \"precision\": \"%s\", "
           "\"threads\": %d, \"batch\": %lld, \"seq_len\": %lld, \"masked_per_seq\": %lld, \"vocab\": %lld, "
           "\"layers\": %lld, \"hidden\": %lld, \"heads\": %lld, \"intermediate\": %lld, \"warmup_steps\": %lld, ",
           preset, vt_precision_name(precision), threads, (long long)B, (long long)T, (long long)masked,
           (long long)vocab, (long long)cfg.num_hidden_layers, (long long)cfg.hidden_size,
           (long long)cfg.num_attention_heads, (long long)cfg.intermediate_size, (long long)warmup);
    bench_json_array(stdout, "step_seconds", secs, (int)steps);
    fputs(", ", stdout);
    bench_json_stats(stdout, "tokens_per_s", bench_stats_of(tps, (int)steps));
    printf(", \"peak_rss_mib\": %.1f, \"baseline_rss_mib\": %.1f}\n", bench_peak_rss_mib(), baseline_rss);

    free(tps), free(secs), free(src.step_start);
    for (int i = 0; i < N_BATCHES; i++) free_batch(&src.batches[i]);
    vt_bert_free(model);
    return 0;
}
