/* verto finetune: sequence classification from labelled TSV/CSV/JSONL. */
#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "cli/args.h"
#include "cli/commands.h"
#include "verto/dataset.h"
#include "verto/metrics.h"
#include "verto/rng.h"
#include "verto/serve.h"
#include "verto/tokenizer.h"
#include "cli/dist_job.h"
#include "verto/dist.h"
#include "verto/trainer.h"

/* A labelled set, tokenized once: its texts' windows are the rows (one per
 * text unless the tokenizer reads long texts as several windows). */
typedef struct encoded_set {
    vt_tok_encoding *enc; /* (n) */
    int32_t *labels;      /* (n) each row's text's label */
    size_t *text;         /* (n) the text a row belongs to; rows of a text are consecutive */
    size_t n;
    int32_t *text_labels; /* (texts) */
    size_t texts;
} encoded_set;

typedef struct source {
    encoded_set train, dev;
    int num_labels, pad_id;
    uint64_t seed;
    int64_t epoch, *order; /* (train.n) the current epoch's permutation */
    int64_t eval_batch;
    /* Batch arrays, sized for the largest batch once. */
    int32_t *ids, *types, *mask, *labels;
    float *class_weights; /* (num_labels) or NULL */
    int64_t max_rows, max_len;
} source;

static vt_status encode_set(const vt_tokenizer *tok, const vt_labelled *d, int32_t max_len, encoded_set *out) {
    size_t K = (size_t)vt_tok_get_options(tok)->max_windows, slots = (d->n ? d->n : 1) * K;
    vt_tok_encoding *all = calloc(slots, sizeof *all); /* (texts, K): every text's windows */
    int32_t *count = calloc(d->n ? d->n : 1, sizeof *count);
    out->texts = d->n;
    out->text_labels = malloc((d->n ? d->n : 1) * sizeof *out->text_labels);
    vt_status st = all && count && out->text_labels ? VT_OK : vt_error(VT_ERR_NOMEM, "out of memory tokenizing");
    if (st == VT_OK) {
        memcpy(out->text_labels, d->label, d->n * sizeof *d->label);
        st = vt_tok_encode_windows_batch(tok, d->n, (const char *const *)d->text, d->text_len,
                                         (const char *const *)d->text_b, d->text_b_len, max_len, (int32_t)K, all, count,
                                         NULL);
    }
    size_t rows = 0;
    for (size_t i = 0; st == VT_OK && i < d->n; i++) rows += (size_t)count[i];
    out->enc = st == VT_OK ? malloc((rows ? rows : 1) * sizeof *out->enc) : NULL;
    out->labels = st == VT_OK ? malloc((rows ? rows : 1) * sizeof *out->labels) : NULL;
    out->text = st == VT_OK ? malloc((rows ? rows : 1) * sizeof *out->text) : NULL;
    if (st == VT_OK && (!out->enc || !out->labels || !out->text)) st = vt_error(VT_ERR_NOMEM, "out of memory tokenizing");
    /* the windows move to their rows; what is left in `all` (unused slots, or everything on failure) is freed */
    for (size_t i = 0; i < d->n; i++)
        for (size_t j = 0; j < K; j++) {
            vt_tok_encoding *e = &all[i * K + j];
            if (st == VT_OK && j < (size_t)count[i]) {
                out->enc[out->n] = *e;
                out->labels[out->n] = d->label[i];
                out->text[out->n++] = i;
            } else {
                vt_tok_encoding_free(e);
            }
        }
    free(all);
    free(count);
    return st;
}

static void free_set(encoded_set *s) {
    for (size_t i = 0; s->enc && i < s->n; i++) vt_tok_encoding_free(&s->enc[i]);
    free(s->enc);
    free(s->labels);
    free(s->text);
    free(s->text_labels);
}

/* Lays out examples idx[0..count) of set as a padded batch. */
static void layout(source *s, const encoded_set *set, const int64_t *idx, int64_t count, vt_bert_batch *b, int64_t *tokens) {
    int64_t T = 1;
    for (int64_t i = 0; i < count; i++) T = set->enc[idx[i]].len > T ? set->enc[idx[i]].len : T;
    *tokens = 0;
    for (int64_t i = 0; i < count; i++) {
        const vt_tok_encoding *e = &set->enc[idx[i]];
        for (int64_t t = 0; t < T; t++) {
            bool real = t < e->len;
            s->ids[i * T + t] = real ? e->ids[t] : s->pad_id;
            s->types[i * T + t] = real ? e->type_ids[t] : 0;
            s->mask[i * T + t] = real;
            *tokens += real;
        }
        s->labels[i] = set->labels[idx[i]];
    }
    *b = (vt_bert_batch){.batch = count, .seq_len = T, .input_ids = s->ids, .token_type_ids = s->types,
                         .attention_mask = s->mask, .labels = s->labels, .class_weights = s->class_weights,
                         .cls_only = true}; /* a sequence classifier reads position 0 only */
}

/* Sample k of the run is example order_e[k % N] of epoch e = k / N. */
static vt_status get_batch(void *ctx, int64_t first, int64_t count, vt_bert_batch *batch, int64_t *tokens) {
    source *s = ctx;
    int64_t n = (int64_t)s->train.n, idx[4096];
    if (count > (int64_t)(sizeof idx / sizeof *idx)) return vt_error(VT_ERR_INVALID_ARG, "batch size %lld is too large", (long long)count);
    for (int64_t k = first; k < first + count; k++) {
        if (k / n != s->epoch) {
            s->epoch = k / n;
            for (int64_t i = 0; i < n; i++) s->order[i] = i;
            vt_rng rng;
            vt_rng_seed(&rng, vt_hash64(s->seed, (uint64_t)s->epoch));
            vt_rng_shuffle_i64(&rng, s->order, n);
        }
        idx[k - first] = s->order[k % n];
    }
    layout(s, &s->train, idx, count, batch, tokens);
    return VT_OK;
}

/* Dev accuracy, macro F1 and loss of the dev texts (a text read as several
 * windows is scored by their mean logits, as verto predict does); the score
 * is macro F1 (loss breaks ties). */
static vt_status evaluate(void *ctx, vt_bert *b, vt_eval_result *r) {
    source *s = ctx;
    const encoded_set *dev = &s->dev;
    size_t K = (size_t)s->num_labels, texts = dev->texts;
    float *logits = malloc((dev->n ? dev->n : 1) * K * sizeof *logits); /* (rows, K) */
    int32_t *pred = malloc((texts ? texts : 1) * sizeof *pred);
    double *score = malloc((texts ? texts : 1) * sizeof *score), loss = 0;
    vt_status st = logits && pred && score ? VT_OK : vt_error(VT_ERR_NOMEM, "out of memory evaluating");
    int64_t idx[4096];
    for (size_t first = 0; st == VT_OK && first < dev->n; first += (size_t)s->eval_batch) {
        int64_t count = (int64_t)(dev->n - first < (size_t)s->eval_batch ? dev->n - first : (size_t)s->eval_batch), tokens;
        for (int64_t i = 0; i < count; i++) idx[i] = (int64_t)first + i;
        vt_bert_batch batch;
        vt_bert_outputs out;
        layout(s, dev, idx, count, &batch, &tokens);
        batch.class_weights = NULL;
        if ((st = vt_bert_forward(b, &batch, false, 0, &out)) != VT_OK) break;
        memcpy(logits + first * K, out.logits, (size_t)count * K * sizeof *logits);
    }
    for (size_t t = 0, row = 0; st == VT_OK && t < texts; t++) {
        size_t end = row;
        while (end < dev->n && dev->text[end] == t) end++;
        double p[VT_BERT_MAX_LABELS];
        int best = vt_serve_softmax_mean(logits + row * K, (int)(end - row), (int)K, p);
        if (best < 0) st = vt_error(VT_ERR_NUMERIC, "dev example %zu: the logits are not finite", t);
        pred[t] = best;
        score[t] = K == 2 ? p[1] : 0;
        loss -= log(p[dev->text_labels[t]] > 1e-300 ? p[dev->text_labels[t]] : 1e-300);
        row = end;
    }
    vt_metrics m = {0};
    if (st == VT_OK) st = vt_metrics_compute(dev->text_labels, pred, K == 2 ? score : NULL, texts, (int)K, &m);
    if (st == VT_OK) {
        static const char *const NAMES[] = {"dev_loss", "dev_accuracy", "dev_macro_f1"};
        double values[] = {loss / (double)texts, m.accuracy, m.macro_f1};
        r->n = 3;
        for (int i = 0; i < 3; i++) {
            snprintf(r->names[i], sizeof r->names[i], "%s", NAMES[i]);
            r->values[i] = values[i];
        }
        r->score = m.macro_f1 - 1e-6 * values[0];
    }
    vt_metrics_free(&m);
    free(logits);
    free(pred);
    free(score);
    return st;
}

typedef struct options {
    const char *init, *train, *dev, *out, *class_weights, *text_col, *text_b_col, *label_col, *precision;
    vt_precision prec;
    int64_t epochs, batch, max_len, keep_tail, max_windows, early, freeze, seed, threads, max_train;
    double lr, warmup_ratio, weight_decay, dist_timeout;
    bool skip_bad, resume, zero1;
} options;

/* Loads train and dev with one label map: the init model's when it is a
 * classifier with the same labels, else the training set's (sorted). */
static vt_status load_data(const options *a, vt_labelled *train, vt_labelled *dev) {
    vt_labelled_options lo;
    vt_labelled_options_default(&lo);
    lo.text_column = a->text_col;
    lo.text_b_column = a->text_b_col;
    lo.label_column = a->label_col;
    lo.skip_bad_rows = a->skip_bad;
    lo.max_labels = VT_BERT_MAX_LABELS;
    lo.max_label_bytes = VT_BERT_LABEL_MAX - 1;
    vt_status st = vt_labelled_load(a->train, &lo, train);
    if (st != VT_OK) return st;
    if (train->n == 0) return vt_error(VT_ERR_INVALID_ARG, "%s holds no examples", a->train);
    lo.id2label = (const char *const *)train->id2label;
    lo.num_labels = train->num_labels;
    return vt_labelled_load(a->dev, &lo, dev);
}

/* Keeps a seeded random subset of max_n examples (the "N labels" experiments). */
static void subsample(vt_labelled *d, int64_t max_n, uint64_t seed) {
    if (max_n <= 0 || (size_t)max_n >= d->n) return;
    int64_t *idx = malloc(d->n * sizeof *idx);
    if (!idx) return;
    for (size_t i = 0; i < d->n; i++) idx[i] = (int64_t)i;
    vt_rng rng;
    vt_rng_seed(&rng, seed ^ 0x5eedull);
    vt_rng_shuffle_i64(&rng, idx, (int64_t)d->n);
    /* Move the kept examples to the front (in their original order) and free the rest. */
    bool *keep = calloc(d->n, sizeof *keep);
    for (int64_t i = 0; keep && i < max_n; i++) keep[idx[i]] = true;
    size_t out = 0;
    for (size_t i = 0; keep && i < d->n; i++) {
        if (!keep[i]) {
            free(d->text[i]);
            if (d->text_b) free(d->text_b[i]);
            continue;
        }
        d->text[out] = d->text[i];
        d->text_len[out] = d->text_len[i];
        if (d->text_b) d->text_b[out] = d->text_b[i], d->text_b_len[out] = d->text_b_len[i];
        d->label[out] = d->label[i];
        d->line[out++] = d->line[i];
    }
    if (keep) d->n = out;
    free(keep);
    free(idx);
}

static int run(const options *a) {
    vt_labelled train = {0}, dev = {0};
    source src = {.seed = (uint64_t)a->seed, .epoch = -1, .eval_batch = 64};
    vt_bert *model = NULL;
    vt_tokenizer *tok = NULL;
    vt_tok_options to;
    vt_status st = vt_tok_options_from_config(a->init, &to);
    if (st == VT_OK && a->keep_tail >= 0) to.keep_tail = (int32_t)a->keep_tail;
    if (st == VT_OK && a->max_windows > 0) to.max_windows = (int32_t)a->max_windows;
    if (st == VT_OK && !(tok = vt_tok_load(a->init, &to))) st = vt_last_status();
    if (st == VT_OK) st = load_data(a, &train, &dev);
    if (st == VT_OK) {
        subsample(&train, a->max_train, (uint64_t)a->seed);
        src.num_labels = train.num_labels;
        src.pad_id = vt_tok_special_ids(tok).pad;
        if (!(model = vt_bert_load(a->init, VT_BERT_FOR_SEQUENCE_CLASSIFICATION, train.num_labels, (uint64_t)a->seed)))
            st = vt_last_status();
        else st = vt_bert_set_precision(model, a->prec);
    }
    if (st == VT_OK) st = vt_bert_set_labels(model, (const char *const *)train.id2label, train.num_labels);
    int32_t max_len = st == VT_OK ? vt_bert_input_length(vt_bert_get_config(model), a->max_len, 0) : 0;
    /* eval, predict and serve truncate as training did */
    char tok_config[128];
    snprintf(tok_config, sizeof tok_config, "{\"model_max_length\": %d, \"keep_tail_tokens\": %d, \"max_windows\": %d}",
             max_len, to.keep_tail, to.max_windows);
    if (st == VT_OK) st = encode_set(tok, &train, max_len, &src.train);
    if (st == VT_OK) st = encode_set(tok, &dev, max_len, &src.dev);
    src.max_rows = a->batch > src.eval_batch ? a->batch : src.eval_batch;
    size_t cells = (size_t)(src.max_rows * max_len);
    src.ids = malloc(cells * sizeof(int32_t));
    src.types = malloc(cells * sizeof(int32_t));
    src.mask = malloc(cells * sizeof(int32_t));
    src.labels = malloc((size_t)src.max_rows * sizeof(int32_t));
    src.order = malloc((src.train.n ? src.train.n : 1) * sizeof(int64_t));
    if (st == VT_OK && (!src.ids || !src.types || !src.mask || !src.labels || !src.order))
        st = vt_error(VT_ERR_NOMEM, "out of memory");
    if (st == VT_OK && a->class_weights && !strcmp(a->class_weights, "auto")) {
        /* scikit-learn's "balanced": n / (classes * count of the class), over the training rows */
        int64_t counts[VT_BERT_MAX_LABELS] = {0};
        for (size_t i = 0; i < src.train.n; i++) counts[src.train.labels[i]]++;
        src.class_weights = malloc((size_t)train.num_labels * sizeof(float));
        for (int c = 0; src.class_weights && c < train.num_labels; c++)
            src.class_weights[c] = counts[c] ? (float)((double)src.train.n / (train.num_labels * (double)counts[c])) : 0.0f;
    }
    if (st == VT_OK) {
        /* An epoch is the training set once over the global batch (batch x ranks). */
        int64_t ranks = vt_dist_size(), global = a->batch * ranks;
        int64_t steps_per_epoch = ((int64_t)src.train.n + global - 1) / global, steps = steps_per_epoch * a->epochs;
        bool lead = vt_dist_rank() == 0;
        char args[1024];
        snprintf(args, sizeof args,
                 "{\"command\": \"finetune\", \"epochs\": %lld, \"batch_size\": %lld, \"lr\": %g, \"seed\": %lld, "
                 "\"examples\": %zu, \"rows\": %zu, \"ranks\": %lld}",
                 (long long)a->epochs, (long long)a->batch, a->lr, (long long)a->seed, train.n, src.train.n,
                 (long long)ranks);
        vt_trainer_options o;
        vt_trainer_options_default(&o);
        o.out_dir = a->out;
        o.steps = steps;
        o.batch_size = a->batch;
        o.lr = (float)a->lr;
        o.weight_decay = (float)a->weight_decay;
        o.warmup_steps = (int64_t)(a->warmup_ratio * (double)steps);
        o.seed = (uint64_t)a->seed;
        o.log_every = steps_per_epoch < 10 ? steps_per_epoch : 10;
        o.eval_every = steps_per_epoch;
        o.save_best = true;
        o.save_final = false;
        o.early_stopping = a->early;
        o.freeze_layers = (int)a->freeze;
        o.resume = a->resume;
        o.zero1 = a->zero1;
        o.tokenizer_dir = a->init;
        o.tokenizer_config = tok_config;
        o.args_json = args;
        o.log = stdout;
        o.get_batch = get_batch;
        o.evaluate = evaluate;
        o.ctx = &src;
        if (lead)
            printf("fine-tuning %s: %zu training and %zu dev examples, %d labels, %lld epochs of %lld steps%s\n", a->init,
                   train.n, dev.n, train.num_labels, (long long)a->epochs, (long long)steps_per_epoch,
                   train.n_skipped || dev.n_skipped ? " (bad rows skipped)" : "");
        if (lead && (src.train.n != train.n || src.dev.n != dev.n))
            printf("long texts read as up to %d windows of %d tokens: %zu training and %zu dev windows\n", to.max_windows,
                   max_len, src.train.n, src.dev.n);
        if (lead && ranks > 1)
            printf("global batch %lld = %lld per rank x %lld ranks\n", (long long)global, (long long)a->batch,
                   (long long)ranks);
        if (lead && (train.n_skipped || dev.n_skipped))
            printf("skipped %zu training and %zu dev rows\n", train.n_skipped, dev.n_skipped);
        bool stopped = false;
        st = vt_train(&model, &o, &stopped);
        if (st == VT_OK && lead) printf("best dev checkpoint in %s\n", a->out);
    }
    free(src.ids);
    free(src.types);
    free(src.mask);
    free(src.labels);
    free(src.order);
    free(src.class_weights);
    free_set(&src.train);
    free_set(&src.dev);
    vt_labelled_free(&train);
    vt_labelled_free(&dev);
    vt_bert_free(model);
    vt_tok_free(tok);
    return cli_leave_job(st);
}

int cmd_finetune(int argc, char **argv) {
    options a = {.epochs = 3, .batch = 32, .max_len = 128, .keep_tail = -1, .max_windows = -1, .seed = 42, .lr = 5e-5, .warmup_ratio = 0.1,
                 .weight_decay = 0.01, .dist_timeout = VT_DIST_DEFAULT_TIMEOUT, .precision = "fp32"};
    const cli_option opts[] = {
        {"--init", CLI_STRING, &a.init, "DIR", "any BERT directory: pretrained, published, or a classifier"},
        {"--train", CLI_STRING, &a.train, "FILE", "labelled training data (.tsv, .csv or .jsonl)"},
        {"--dev", CLI_STRING, &a.dev, "FILE", "labelled development data; the best epoch on it is kept"},
        {"-o|--output", CLI_STRING, &a.out, "DIR", "output directory (the best model, metrics.jsonl)"},
        {"--epochs", CLI_INT, &a.epochs, "N", "passes over the training data (default 3)", 1, 1e6},
        {"--batch-size", CLI_INT, &a.batch, "N", "examples per step and rank (default 32)", 1, 4096},
        {"--lr", CLI_FLOAT, &a.lr, "LR", "peak learning rate (default 5e-5)", 1e-12, 10},
        {"--warmup-ratio", CLI_FLOAT, &a.warmup_ratio, "R", "fraction of steps for linear warmup (default 0.1)", 0, 1},
        {"--weight-decay", CLI_FLOAT, &a.weight_decay, "W", "AdamW decay (default 0.01)", 0, 1},
        {"--max-seq-length", CLI_INT, &a.max_len, "N", "truncate inputs to N tokens (default 128)", 3, 1e6},
        {"--keep-tail", CLI_INT, &a.keep_tail, "N",
         "an input longer than --max-seq-length keeps its last N tokens and as many first ones as fit (default: as --init, normally 0: the first ones only)",
         0, 1e9},
        {"--max-windows", CLI_INT, &a.max_windows, "K",
         "read an input longer than --max-seq-length as up to K windows of that length spread over it (each a "
         "training example; predictions average their logits) instead of truncating it (default: as --init, normally 1)",
         1, VT_TOK_MAX_WINDOWS},
        {"--early-stopping", CLI_INT, &a.early, "N", "stop after N epochs without dev improvement (default: off)", 0, 1e6},
        {"--freeze-layers", CLI_INT, &a.freeze, "K", "freeze the embeddings and the first K layers", 0, 1e4},
        {"--class-weights", CLI_STRING, &a.class_weights, "auto", "weight the loss by inverse class frequency"},
        {"--max-train-examples", CLI_INT, &a.max_train, "N", "use a seeded random N of the training examples", 1, 1e12},
        {"--seed", CLI_INT, &a.seed, "N", "head initialisation, data order and dropout (default 42)", 0, 9e15},
        {"--precision", CLI_STRING, &a.precision, "fp32|bf16", "matrix products in fp32 (default) or in bf16 with f32 accumulation"},
        {"--threads", CLI_INT, &a.threads, "N", "OpenMP threads (default: all cores, shared by a machine's ranks)", 1, 4096},
        {"--text-column", CLI_STRING, &a.text_col, "NAME", "TSV/CSV column of the text (default text)"},
        {"--text-b-column", CLI_STRING, &a.text_b_col, "NAME", "column of the second text of pairs (default text_b)"},
        {"--label-column", CLI_STRING, &a.label_col, "NAME", "column of the label (default label)"},
        {"--skip-bad-rows", CLI_FLAG, &a.skip_bad, NULL, "skip and count malformed rows instead of failing"},
        {"--resume", CLI_FLAG, &a.resume, NULL, "continue from the latest checkpoint in the output directory"},
        {"--zero1", CLI_FLAG, &a.zero1, NULL, "under mpirun: shard the optimizer state over the ranks (ZeRO stage 1)"},
        {"--dist-timeout", CLI_FLOAT, &a.dist_timeout, "SEC", "under mpirun: fail when other ranks stay silent this long (default 300)", 1, 1e6},
        {0}};
    int rc = cli_parse(argc, argv, opts, "verto finetune --init DIR --train FILE --dev FILE -o OUT [options]", NULL, NULL);
    if (rc != CLI_CONTINUE) return rc == CLI_HELP ? 0 : rc;
    if (!a.init || !a.train || !a.dev || !a.out) return cli_fail("finetune needs --init DIR, --train FILE, --dev FILE and -o OUT");
    if (a.class_weights && strcmp(a.class_weights, "auto")) return cli_fail("--class-weights takes only 'auto'");
    if (cli_precision(a.precision, &a.prec)) return 1;
    vt_status st = cli_join_job(a.dist_timeout, a.threads);
    if (st != VT_OK) return cli_leave_job(st);
    return run(&a);
}
