/* Sequence-classification inference: the time of one forward pass (eval mode,
 * no labels) over a batch of full-length sequences.
 *
 *   infer_bench --model small|DIR [--batch 1] [--seq-len 128] [--threads 2]
 *               [--warmup 3] [--iters 20] [--labels 2] [--dump FILE]
 *
 * `small` (or any vt_bert_config_preset name) is a freshly initialised
 * BertForSequenceClassification with the 30,522-token vocabulary; a directory
 * is a Hugging Face model of any family verto reads (BERT, RoBERTa,
 * DistilBERT, ...) loaded as its sequence classifier (a fresh 2-label head
 * when it has none, as from_pretrained(num_labels=2) does). Ids are random; every
 * position is a real token. Prints one JSON line: each forward's seconds,
 * milliseconds per batch and sequences per second. --dump writes the ids and
 * the last forward's logits to FILE as JSON ({"batch", "seq_len", "input_ids",
 * "logits"}, row-major), for peer_torch.py --check to compare. */
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "bench_util.h"
#include "verto/bert.h"
#include "verto/rng.h"

static bool is_dir(const char *p) {
    struct stat st;
    return stat(p, &st) == 0 && S_ISDIR(st.st_mode);
}

static void json_ints(FILE *f, const char *key, const int32_t *x, int64_t n) {
    fprintf(f, "\"%s\": [", key);
    for (int64_t i = 0; i < n; i++) fprintf(f, "%s%d", i ? ", " : "", x[i]);
    fputc(']', f);
}

/* The inputs and logits of one forward, for a peer to recompute (--dump). */
static void dump(const char *path, const vt_bert_batch *in, const float *logits, int labels) {
    FILE *f = fopen(path, "w");
    if (!f) {
        perror(path);
        exit(1);
    }
    fprintf(f, "{\"batch\": %lld, \"seq_len\": %lld, ", (long long)in->batch, (long long)in->seq_len);
    json_ints(f, "input_ids", in->input_ids, in->batch * in->seq_len);
    fputs(", \"logits\": [", f);
    for (int64_t i = 0; i < in->batch * labels; i++) fprintf(f, "%s%.9g", i ? ", " : "", logits[i]);
    fputs("]}\n", f);
    if (fclose(f) != 0) {
        perror(path);
        exit(1);
    }
}

int main(int argc, char **argv) {
    static const char *const KNOWN[] = {"--model", "--batch", "--seq-len", "--threads", "--warmup",
                                        "--iters", "--labels", "--name", "--precision", "--dump", NULL};
    bench_check_opts(argc, argv, KNOWN);
    const char *model_arg = bench_opt(argc, argv, "--model");
    if (!model_arg) model_arg = "small";
    const char *name = bench_opt(argc, argv, "--name"); /* how results call the model */
    if (!name) name = model_arg;
    int64_t B = bench_opt_int(argc, argv, "--batch", 1, 1, 100000);
    int64_t T = bench_opt_int(argc, argv, "--seq-len", 128, 2, 512);
    int threads = bench_set_threads(bench_opt_int(argc, argv, "--threads", 2, 1, 4096));
    int64_t warmup = bench_opt_int(argc, argv, "--warmup", 3, 0, 100000);
    int64_t iters = bench_opt_int(argc, argv, "--iters", 20, 1, 1000000);
    int labels = (int)bench_opt_int(argc, argv, "--labels", 2, 2, VT_BERT_MAX_LABELS);

    double baseline_rss = bench_rss_now_mib();
    vt_bert *model;
    if (is_dir(model_arg)) {
        model = vt_bert_load(model_arg, VT_BERT_FOR_SEQUENCE_CLASSIFICATION, labels, 42);
    } else {
        vt_bert_config cfg;
        if (vt_bert_config_preset(&cfg, model_arg, 30522) != VT_OK) bench_die_verto("config");
        cfg.arch = VT_BERT_FOR_SEQUENCE_CLASSIFICATION;
        cfg.num_labels = labels;
        model = vt_bert_new(&cfg, 42);
    }
    if (!model) bench_die_verto(model_arg);
    vt_precision precision = bench_opt_precision(argc, argv);
    if (vt_bert_set_precision(model, precision) != VT_OK) bench_die_verto("precision");
    const vt_bert_config *cfg = vt_bert_get_config(model);
    if (T > cfg->max_position_embeddings) {
        fprintf(stderr, "bench: --seq-len %lld exceeds the model's %lld positions\n", (long long)T,
                (long long)cfg->max_position_embeddings);
        return 2;
    }

    int32_t *ids = malloc((size_t)(B * T) * sizeof *ids);
    double *secs = malloc((size_t)iters * sizeof *secs), *seqs = malloc((size_t)iters * sizeof *seqs);
    if (!ids || !secs || !seqs) {
        fprintf(stderr, "bench: out of memory\n");
        return 1;
    }
    vt_rng rng;
    vt_rng_seed(&rng, 11);
    for (int64_t i = 0; i < B * T; i++)
        ids[i] = (int32_t)(1000 + vt_rng_below(&rng, (uint64_t)(cfg->vocab_size - 1000)));
    vt_bert_batch batch = {.batch = B, .seq_len = T, .input_ids = ids, /* token types 0, no padding */
                           .cls_only = true};
    vt_bert_outputs out;
    for (int64_t i = 0; i < warmup + iters; i++) {
        double t0 = bench_now();
        if (vt_bert_forward(model, &batch, false, 0, &out) != VT_OK) bench_die_verto("forward");
        double dt = bench_now() - t0;
        if (i >= warmup) {
            secs[i - warmup] = dt;
            seqs[i - warmup] = (double)B / dt;
        }
    }
    const char *dump_path = bench_opt(argc, argv, "--dump");
    if (dump_path) dump(dump_path, &batch, out.logits, cfg->num_labels);
    bench_stats s = bench_stats_of(secs, (int)iters);
    printf("{\"bench\": \"infer\", \"system\": \"verto\", \"model\": \"%s\", \"precision\": \"%s\", "
           "\"threads\": %d, \"batch\": %lld, \"seq_len\": %lld, \"layers\": %lld, \"hidden\": %lld, "
           "\"intermediate\": %lld, ",
           name, vt_precision_name(precision), threads, (long long)B, (long long)T, (long long)cfg->num_hidden_layers,
           (long long)cfg->hidden_size, (long long)cfg->intermediate_size);
    bench_json_array(stdout, "seconds", secs, (int)iters);
    fputs(", ", stdout);
    bench_json_stats(stdout, "ms_per_batch", (bench_stats){1e3 * s.median, 1e3 * s.min, 1e3 * s.max});
    fputs(", ", stdout);
    bench_json_stats(stdout, "sequences_per_s", bench_stats_of(seqs, (int)iters));
    printf(", \"peak_rss_mib\": %.1f, \"baseline_rss_mib\": %.1f}\n", bench_peak_rss_mib(), baseline_rss);
    free(ids), free(secs), free(seqs);
    vt_bert_free(model);
    return 0;
}
