/* Fine-tuning a sequence classifier (see verto/task.h: vt_task_finetune).
 *
 * The training and dev sets are encoded once, as vt_task_encode reads inputs
 * (windows included: each window a training row with its text's label). The
 * dev evaluation runs the trainer's model through the same vt_task_run and
 * vt_task_probs that verto predict uses, so the dev figures are what eval
 * would report for that checkpoint. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "task/task_internal.h"
#include "verto/dist.h"
#include "verto/rng.h"
#include "verto/trainer.h"

void vt_finetune_options_default(vt_finetune_options *o) {
    *o = (vt_finetune_options){.epochs = 3, .batch_size = 32, .lr = 5e-5, .warmup_ratio = 0.1, .weight_decay = 0.01,
                               .max_seq_length = 128, .keep_tail = -1, .max_windows = -1, .seed = 42,
                               .precision = VT_PRECISION_FP32};
}

/* A labelled set as rows: its inputs' rows, each with its input's label. */
typedef struct encoded_set {
    vt_task_rows *inputs; /* (texts) */
    size_t texts, n;      /* inputs, rows in all */
    const vt_tok_encoding **rows; /* (n) */
    int32_t *labels;      /* (n) each row's input's label */
    const int32_t *text_labels; /* (texts), the labelled set's */
} encoded_set;

typedef struct source {
    vt_task task; /* the tokenizer and settings; its model is the trainer's, set at each evaluation */
    encoded_set train, dev;
    uint64_t seed;
    int64_t batch_size;
    int64_t epoch, *order; /* (train.n) the current epoch's permutation */
    int32_t *ids, *types, *mask, *labels; /* a training batch (rows, len) */
    const vt_tok_encoding **batch_rows;   /* (rows) */
    float *class_weights; /* (num_labels) or NULL */
} source;

static vt_status encode_set(const vt_task *t, const vt_labelled *d, encoded_set *out) {
    memset(out, 0, sizeof *out);
    out->texts = d->n;
    out->text_labels = d->label;
    vt_text_input *in = calloc(d->n ? d->n : 1, sizeof *in);
    out->inputs = calloc(d->n ? d->n : 1, sizeof *out->inputs);
    if (!in || !out->inputs) {
        free(in);
        return vt_error(VT_ERR_NOMEM, "out of memory encoding %zu examples", d->n);
    }
    for (size_t i = 0; i < d->n; i++)
        in[i] = (vt_text_input){d->text[i], d->text_len[i], d->text_b ? d->text_b[i] : NULL,
                                d->text_b ? d->text_b_len[i] : 0};
    vt_status st = task_encode_all(t, VT_OUT_LOGITS, in, d->n, out->inputs);
    free(in);
    for (size_t i = 0; st == VT_OK && i < d->n; i++) out->n += (size_t)out->inputs[i].n;
    out->rows = st == VT_OK ? malloc((out->n ? out->n : 1) * sizeof *out->rows) : NULL;
    out->labels = st == VT_OK ? malloc((out->n ? out->n : 1) * sizeof *out->labels) : NULL;
    if (st == VT_OK && (!out->rows || !out->labels)) st = vt_error(VT_ERR_NOMEM, "out of memory encoding");
    for (size_t i = 0, r = 0; st == VT_OK && i < d->n; i++)
        for (int32_t j = 0; j < out->inputs[i].n; j++, r++) {
            out->rows[r] = &out->inputs[i].rows[j];
            out->labels[r] = d->label[i];
        }
    return st;
}

static void free_set(encoded_set *s) {
    for (size_t i = 0; s->inputs && i < s->texts; i++) vt_task_rows_free(&s->inputs[i]);
    free(s->inputs);
    free(s->rows);
    free(s->labels);
}

/* Sample k of the run is training row order_e[k % N] of epoch e = k / N. */
static vt_status get_batch(void *ctx, int64_t first, int64_t count, vt_bert_batch *b, int64_t *tokens) {
    source *s = ctx;
    int64_t n = (int64_t)s->train.n, T = 1;
    if (count > s->batch_size)
        return vt_error(VT_ERR_INVALID_ARG, "batch of %lld rows asked, %lld planned", (long long)count,
                        (long long)s->batch_size);
    const vt_tok_encoding **rows = s->batch_rows;
    for (int64_t k = first; k < first + count; k++) {
        if (k / n != s->epoch) {
            s->epoch = k / n;
            for (int64_t i = 0; i < n; i++) s->order[i] = i;
            vt_rng rng;
            vt_rng_seed(&rng, vt_hash64(s->seed, (uint64_t)s->epoch));
            vt_rng_shuffle_i64(&rng, s->order, n);
        }
        int64_t r = s->order[k % n];
        rows[k - first] = s->train.rows[r];
        s->labels[k - first] = s->train.labels[r];
        T = rows[k - first]->len > T ? rows[k - first]->len : T;
    }
    *tokens = 0;
    for (int64_t i = 0; i < count; i++) /* padded to the longest row of the batch */
        for (int64_t t = 0; t < T; t++) {
            bool real = t < rows[i]->len;
            s->ids[i * T + t] = real ? rows[i]->ids[t] : s->task.special.pad;
            s->types[i * T + t] = real ? rows[i]->type_ids[t] : 0;
            s->mask[i * T + t] = real;
            *tokens += real;
        }
    /* One token type (RoBERTa) or none (DistilBERT): a pair's second segment is type 0 too. */
    const int32_t *types = s->task.cfg->type_vocab_size > 1 ? s->types : NULL;
    *b = (vt_bert_batch){.batch = count, .seq_len = T, .input_ids = s->ids, .token_type_ids = types,
                         .attention_mask = s->mask, .labels = s->labels, .class_weights = s->class_weights,
                         .cls_only = true}; /* a sequence classifier reads position 0 only */
    return VT_OK;
}

/* Dev loss, accuracy and macro F1 of the dev texts, each scored as verto
 * predict scores it; the score is macro F1 (the loss breaks ties). */
static vt_status evaluate(void *ctx, vt_bert *model, vt_eval_result *r) {
    source *s = ctx;
    const encoded_set *dev = &s->dev;
    int K = s->task.cfg->num_labels;
    s->task.model = model;
    float *logits = malloc((dev->n ? dev->n : 1) * (size_t)K * sizeof *logits); /* (rows, K) */
    int32_t *pred = malloc((dev->texts ? dev->texts : 1) * sizeof *pred);
    double *score = malloc((dev->texts ? dev->texts : 1) * sizeof *score), loss = 0;
    vt_status st = logits && pred && score ? VT_OK : vt_error(VT_ERR_NOMEM, "out of memory evaluating");
    if (st == VT_OK) st = task_run_inputs(&s->task, VT_OUT_LOGITS, dev->inputs, dev->texts, logits, (size_t)K);
    for (size_t t = 0, row = 0; st == VT_OK && t < dev->texts; row += (size_t)dev->inputs[t++].n) {
        double p[VT_BERT_MAX_LABELS];
        pred[t] = vt_task_probs(logits + row * (size_t)K, dev->inputs[t].n, K, p);
        if (pred[t] < 0) st = vt_error(VT_ERR_NUMERIC, "dev example %zu: the logits are not finite", t + 1);
        score[t] = K == 2 ? p[1] : 0;
        int32_t y = dev->text_labels[t];
        loss -= log(p[y] > 1e-300 ? p[y] : 1e-300);
    }
    vt_metrics m = {0};
    if (st == VT_OK) st = vt_metrics_compute(dev->text_labels, pred, K == 2 ? score : NULL, dev->texts, K, &m);
    if (st == VT_OK) {
        static const char *const NAMES[] = {"dev_loss", "dev_accuracy", "dev_macro_f1"};
        double values[] = {loss / (double)dev->texts, m.accuracy, m.macro_f1};
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

/* scikit-learn's "balanced": n / (classes * count of the class), over the training rows. */
static float *balanced_weights(const encoded_set *train, int K) {
    int64_t counts[VT_BERT_MAX_LABELS] = {0};
    for (size_t i = 0; i < train->n; i++) counts[train->labels[i]]++;
    float *w = malloc((size_t)K * sizeof *w);
    for (int c = 0; w && c < K; c++)
        w[c] = counts[c] ? (float)((double)train->n / (K * (double)counts[c])) : 0.0f;
    return w;
}

/* Loads init_dir as a classifier with train's labels and the tokenizer
 * settings of o into s->task. */
static vt_status load(const char *init_dir, const vt_labelled *train, const vt_finetune_options *o, source *s) {
    vt_task *t = &s->task;
    vt_tok_options to;
    vt_status st = vt_tok_options_from_config(init_dir, &to);
    if (st != VT_OK) return st;
    if (o->keep_tail >= 0) to.keep_tail = o->keep_tail;
    if (o->max_windows > 0) to.max_windows = o->max_windows;
    if (!(t->tok = vt_tok_load(init_dir, &to))) return vt_last_status();
    if (!(t->model = vt_bert_load(init_dir, VT_BERT_FOR_SEQUENCE_CLASSIFICATION, train->num_labels, o->seed)))
        return vt_last_status();
    if ((st = vt_bert_set_precision(t->model, o->precision)) != VT_OK ||
        (st = vt_bert_set_labels(t->model, (const char *const *)train->id2label, train->num_labels)) != VT_OK)
        return st;
    *t = (vt_task){.kind = VT_TASK_SEQUENCE_CLASSIFICATION, .model = t->model, .tok = t->tok,
                   .cfg = vt_bert_get_config(t->model), .max_windows = to.max_windows,
                   .batch_size = (int32_t)(o->batch_size > 64 ? o->batch_size : 64),
                   .special = vt_tok_special_ids(t->tok)};
    t->max_len = vt_bert_input_length(t->cfg, o->max_seq_length, 0);
    return VT_OK;
}

static void log_start(const vt_finetune_options *o, const vt_labelled *train, const vt_labelled *dev,
                      const source *s, const char *init_dir, int64_t steps_per_epoch, int64_t ranks) {
    if (!o->log || vt_dist_rank() != 0) return;
    fprintf(o->log, "fine-tuning %s: %zu training and %zu dev examples, %d labels, %lld epochs of %lld steps%s\n",
            init_dir, train->n, dev->n, train->num_labels, (long long)o->epochs, (long long)steps_per_epoch,
            train->n_skipped || dev->n_skipped ? " (bad rows skipped)" : "");
    if (s->train.n != train->n || s->dev.n != dev->n)
        fprintf(o->log, "long texts read as up to %d windows of %d tokens: %zu training and %zu dev windows\n",
                s->task.max_windows, s->task.max_len, s->train.n, s->dev.n);
    if (ranks > 1)
        fprintf(o->log, "global batch %lld = %lld per rank x %lld ranks\n", (long long)(o->batch_size * ranks),
                (long long)o->batch_size, (long long)ranks);
    if (train->n_skipped || dev->n_skipped)
        fprintf(o->log, "skipped %zu training and %zu dev rows\n", train->n_skipped, dev->n_skipped);
}

vt_status vt_task_finetune(const char *init_dir, const vt_labelled *train, const vt_labelled *dev,
                           const vt_finetune_options *o, bool *stopped) {
    if (!init_dir || !train || !dev || !o || !o->out_dir || o->epochs < 1 || o->batch_size < 1)
        return vt_error(VT_ERR_INVALID_ARG, "vt_task_finetune: a directory, data, an output directory, epochs >= 1 "
                                            "and batch_size >= 1 are needed");
    if (train->n == 0) return vt_error(VT_ERR_INVALID_ARG, "the training set holds no examples");
    source s = {.seed = o->seed, .batch_size = o->batch_size, .epoch = -1};
    vt_status st = load(init_dir, train, o, &s);
    if (st == VT_OK) st = encode_set(&s.task, train, &s.train);
    if (st == VT_OK) st = encode_set(&s.task, dev, &s.dev);
    size_t cells = (size_t)o->batch_size * (size_t)s.task.max_len;
    s.ids = malloc(cells * sizeof *s.ids);
    s.types = malloc(cells * sizeof *s.types);
    s.mask = malloc(cells * sizeof *s.mask);
    s.labels = malloc((size_t)o->batch_size * sizeof *s.labels);
    s.batch_rows = malloc((size_t)o->batch_size * sizeof *s.batch_rows);
    s.order = malloc((s.train.n ? s.train.n : 1) * sizeof *s.order);
    if (st == VT_OK && (!s.ids || !s.types || !s.mask || !s.labels || !s.batch_rows || !s.order))
        st = vt_error(VT_ERR_NOMEM, "out of memory for the training batches");
    if (st == VT_OK && o->balanced_class_weights && !(s.class_weights = balanced_weights(&s.train, train->num_labels)))
        st = vt_error(VT_ERR_NOMEM, "out of memory");
    if (st == VT_OK) {
        /* An epoch is the training rows once over the global batch (batch x ranks). */
        int64_t ranks = vt_dist_size(), global = o->batch_size * ranks;
        int64_t steps_per_epoch = ((int64_t)s.train.n + global - 1) / global, steps = steps_per_epoch * o->epochs;
        char args[1024], tok_config[128];
        snprintf(args, sizeof args,
                 "{\"command\": \"finetune\", \"epochs\": %lld, \"batch_size\": %lld, \"lr\": %g, \"seed\": %llu, "
                 "\"examples\": %zu, \"rows\": %zu, \"ranks\": %lld}",
                 (long long)o->epochs, (long long)o->batch_size, o->lr, (unsigned long long)o->seed, train->n,
                 s.train.n, (long long)ranks);
        /* eval, predict and serve read inputs as training did */
        snprintf(tok_config, sizeof tok_config,
                 "{\"model_max_length\": %d, \"keep_tail_tokens\": %d, \"max_windows\": %d}", s.task.max_len,
                 vt_tok_get_options(s.task.tok)->keep_tail, s.task.max_windows);
        vt_trainer_options to;
        vt_trainer_options_default(&to);
        to.out_dir = o->out_dir;
        to.steps = steps;
        to.batch_size = o->batch_size;
        to.lr = (float)o->lr;
        to.weight_decay = (float)o->weight_decay;
        to.warmup_steps = (int64_t)(o->warmup_ratio * (double)steps);
        to.seed = o->seed;
        to.log_every = steps_per_epoch < 10 ? steps_per_epoch : 10;
        to.eval_every = steps_per_epoch;
        to.save_best = true;
        to.save_final = false;
        to.early_stopping = o->early_stopping;
        to.freeze_layers = o->freeze_layers;
        to.resume = o->resume;
        to.zero1 = o->zero1;
        to.tokenizer_dir = init_dir;
        to.tokenizer_config = tok_config;
        to.args_json = args;
        to.log = o->log;
        to.get_batch = get_batch;
        to.evaluate = evaluate;
        to.ctx = &s;
        log_start(o, train, dev, &s, init_dir, steps_per_epoch, ranks);
        bool stop = false;
        st = vt_train(&s.task.model, &to, &stop);
        if (stopped) *stopped = stop;
        if (st == VT_OK && o->log && vt_dist_rank() == 0) fprintf(o->log, "best dev checkpoint in %s\n", o->out_dir);
    }
    free(s.ids), free(s.types), free(s.mask), free(s.labels), free(s.batch_rows), free(s.order), free(s.class_weights);
    free_set(&s.train);
    free_set(&s.dev);
    vt_bert_free(s.task.model);
    vt_tok_free(s.task.tok);
    free(s.task.ids), free(s.task.types), free(s.task.mask), free(s.task.select), free(s.task.order);
    return st;
}
