/* Fine-tuning a sequence classifier: single-label, multi-label or regression
 * by the data's kind (see verto/task.h: vt_task_finetune).
 *
 * The training and dev sets are encoded once, as vt_task_encode reads inputs
 * (windows included: each window a training row with its text's labels). The
 * dev evaluation runs the trainer's model through the same vt_task_run and
 * vt_task_scores that verto predict uses, so the dev figures are what eval
 * would report for that checkpoint. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "task/task_internal.h"
#include "verto/dist.h"
#include "verto/dp.h"
#include "verto/privacy.h"
#include "verto/trainer.h"

void vt_finetune_options_default(vt_finetune_options *o) {
    *o = (vt_finetune_options){.epochs = 3, .batch_size = 32, .lr = 5e-5, .warmup_ratio = 0.1, .weight_decay = 0.01,
                               .max_seq_length = 128, .keep_tail = -1, .max_windows = -1, .seed = 42, .grad_accum = 1,
                               .precision = VT_PRECISION_FP32};
}

/* A labelled set as rows: its inputs' rows, each with its input's labels. */
typedef struct encoded_set {
    vt_task_rows *inputs; /* (texts) */
    size_t texts, n;      /* inputs, rows in all */
    const vt_tok_encoding **rows; /* (n) */
    size_t *text_of;      /* (n) each row's input */
    const vt_labelled *data;
} encoded_set;

typedef struct source {
    vt_task task; /* the tokenizer and settings; its model is the trainer's, set at each evaluation */
    encoded_set train, dev;
    int64_t batch_size;
    task_order order;
    bool padded;                          /* the training batches padded to their longest row, not packed */
    int32_t *ids, *types, *mask, *labels; /* a training batch (rows, len) or packed; labels (rows) */
    int64_t *offsets;                     /* (rows + 1) a packed batch's */
    float *targets;                       /* (rows, num_labels): multi-hot labels or regression targets */
    const vt_tok_encoding **batch_rows;   /* (rows) */
    float *class_weights; /* (num_labels) or NULL */
    char tok_config[192]; /* what eval, predict and serve read from the saved tokenizer_config.json */
} source;

static vt_status encode_set(const vt_task *t, const vt_labelled *d, encoded_set *out) {
    memset(out, 0, sizeof *out);
    out->texts = d->n;
    out->data = d;
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
    out->text_of = st == VT_OK ? malloc((out->n ? out->n : 1) * sizeof *out->text_of) : NULL;
    if (st == VT_OK && (!out->rows || !out->text_of)) st = vt_error(VT_ERR_NOMEM, "out of memory encoding");
    for (size_t i = 0, r = 0; st == VT_OK && i < d->n; i++)
        for (int32_t j = 0; j < out->inputs[i].n; j++, r++) {
            out->rows[r] = &out->inputs[i].rows[j];
            out->text_of[r] = i;
        }
    return st;
}

static void free_set(encoded_set *s) {
    for (size_t i = 0; s->inputs && i < s->texts; i++) vt_task_rows_free(&s->inputs[i]);
    free(s->inputs);
    free(s->rows);
    free(s->text_of);
}

/* Slot b of the batch gets text i's labels, as the data's kind has them. */
static void set_labels(source *s, const vt_labelled *d, size_t i, int64_t b) {
    int64_t L = s->task.cfg->num_labels;
    if (d->kind == VT_LABEL_SINGLE) s->labels[b] = d->label[i];
    else if (d->kind == VT_LABEL_MULTI)
        for (int64_t k = 0; k < L; k++) s->targets[b * L + k] = d->multi_hot[i * (size_t)L + (size_t)k];
    else s->targets[b] = (float)d->target[i];
}

/* The batch of the count rows in s->batch_rows (their labels set): packed
 * without padding, or padded to the longest row. */
static void batch_of(source *s, int64_t count, bool packed, vt_bert_batch *b, int64_t *tokens) {
    /* One token type (RoBERTa) or none (DistilBERT): a pair's second segment is type 0 too. */
    const int32_t *types = s->task.cfg->type_vocab_size > 1 ? s->types : NULL;
    vt_label_kind kind = s->train.data->kind;
    *b = (vt_bert_batch){.batch = count, .input_ids = s->ids, .token_type_ids = types,
                         .class_weights = s->class_weights, .labels = kind == VT_LABEL_SINGLE ? s->labels : NULL,
                         .multi_labels = kind == VT_LABEL_MULTI ? s->targets : NULL,
                         .regression_targets = kind == VT_LABEL_REGRESSION ? s->targets : NULL,
                         .cls_only = true}; /* a sequence classifier reads position 0 only */
    if (packed) {
        *tokens = task_pack_batch(s->batch_rows, count, s->ids, s->types, s->offsets);
        b->offsets = s->offsets;
    } else {
        b->seq_len = task_pad_batch(&s->task, s->batch_rows, count, s->ids, s->types, s->mask, tokens);
        b->attention_mask = s->mask;
    }
}

static vt_status get_batch(void *ctx, int64_t first, int64_t count, vt_bert_batch *b, int64_t *tokens) {
    source *s = ctx;
    if (count > s->batch_size)
        return vt_error(VT_ERR_INVALID_ARG, "batch of %lld rows asked, %lld planned", (long long)count,
                        (long long)s->batch_size);
    for (int64_t k = first; k < first + count; k++) {
        int64_t r = task_row_of(&s->order, k);
        s->batch_rows[k - first] = s->train.rows[r];
        set_labels(s, s->train.data, s->train.text_of[r], k - first);
    }
    batch_of(s, count, !s->padded, b, tokens);
    return VT_OK;
}

/* DP-SGD's source: training row `row` alone. */
static vt_status get_example(void *ctx, int64_t row, vt_bert_batch *b) {
    source *s = ctx;
    if (row < 0 || (size_t)row >= s->train.n) return vt_error(VT_ERR_INVALID_ARG, "no training row %lld", (long long)row);
    s->batch_rows[0] = s->train.rows[row];
    set_labels(s, s->train.data, s->train.text_of[row], 0);
    int64_t tokens;
    batch_of(s, 1, false, b, &tokens); /* (DP-SGD's per-example passes take padded batches) */
    return VT_OK;
}

/* What DP-SGD would leak through here, beyond what every task refuses: refused with the reason. */
static vt_status check_private(const vt_finetune_options *o, const source *s, const vt_labelled *train) {
    if (s->train.n != train->n)
        return vt_error(VT_ERR_INVALID_ARG, "DP-SGD with texts read as several windows is not available yet (a text "
                                            "would be several examples; use --max-windows 1)");
    return task_private_check(o);
}

/* The dev figures r->names/values and the score that picks the best epoch. */
static void report(vt_eval_result *r, const char *const *names, const double *values, int n, double score) {
    r->n = n;
    for (int i = 0; i < n; i++) {
        snprintf(r->names[i], sizeof r->names[i], "%s", names[i]);
        r->values[i] = values[i];
    }
    r->score = score;
}

/* Single-label: loss, accuracy and macro F1 (the score; the loss breaks ties). */
static vt_status single_label_figures(const source *s, const double *scores, vt_eval_result *r) {
    const encoded_set *dev = &s->dev;
    size_t K = (size_t)s->task.cfg->num_labels;
    int32_t *pred = malloc((dev->texts ? dev->texts : 1) * sizeof *pred);
    double *positive = malloc((dev->texts ? dev->texts : 1) * sizeof *positive), loss = 0;
    vt_status st = pred && positive ? VT_OK : vt_error(VT_ERR_NOMEM, "out of memory evaluating");
    for (size_t t = 0; st == VT_OK && t < dev->texts; t++) {
        const double *p = scores + t * K;
        pred[t] = 0;
        for (size_t k = 1; k < K; k++)
            if (p[k] > p[pred[t]]) pred[t] = (int32_t)k;
        positive[t] = K == 2 ? p[1] : 0;
        loss -= log(fmax(p[dev->data->label[t]], 1e-300));
    }
    vt_metrics m = {0};
    if (st == VT_OK)
        st = vt_metrics_compute(dev->data->label, pred, K == 2 ? positive : NULL, dev->texts, (int)K, &m);
    if (st == VT_OK) {
        static const char *const NAMES[] = {"dev_loss", "dev_accuracy", "dev_macro_f1"};
        double values[] = {loss / (double)dev->texts, m.accuracy, m.macro_f1};
        report(r, NAMES, values, 3, m.macro_f1 - 1e-6 * values[0]);
    }
    vt_metrics_free(&m);
    free(pred);
    free(positive);
    return st;
}

/* Multi-label: the threshold that maximises dev micro F1 (the score), which
 * the saved model records; loss, micro and macro F1 there. */
static vt_status multi_label_figures(source *s, const double *scores, vt_eval_result *r) {
    const vt_labelled *d = s->dev.data;
    size_t L = (size_t)s->task.cfg->num_labels;
    double threshold, micro, loss = 0;
    vt_status st = vt_multilabel_best_threshold(d->multi_hot, scores, d->n, (int)L, &threshold, &micro);
    vt_multilabel_metrics m = {0};
    if (st == VT_OK) st = vt_multilabel_metrics_compute(d->multi_hot, scores, d->n, (int)L, threshold, &m);
    for (size_t i = 0; st == VT_OK && i < d->n * L; i++) loss -= log(fmax(d->multi_hot[i] ? scores[i] : 1 - scores[i], 1e-300));
    if (st == VT_OK) {
        static const char *const NAMES[] = {"dev_loss", "dev_micro_f1", "dev_macro_f1", "dev_threshold"};
        double values[] = {loss / (double)(d->n * L), m.micro_f1, m.macro_f1, threshold};
        report(r, NAMES, values, 4, m.micro_f1 - 1e-6 * values[0]);
        task_tok_config(&s->task, threshold, s->tok_config, sizeof s->tok_config);
    }
    vt_multilabel_metrics_free(&m);
    return st;
}

/* Regression: mean squared error (the score, negated), Pearson and Spearman. */
static vt_status regression_figures(const source *s, const double *scores, vt_eval_result *r) {
    vt_regression_metrics m;
    vt_status st = vt_regression_metrics_compute(s->dev.data->target, scores, s->dev.texts, &m);
    if (st == VT_OK) {
        static const char *const NAMES[] = {"dev_mse", "dev_pearson", "dev_spearman"};
        double values[] = {m.mse, m.pearson, m.spearman};
        report(r, NAMES, values, 3, -m.mse);
    }
    return st;
}

/* The dev texts scored as verto predict scores them, and their figures. */
static vt_status evaluate(void *ctx, vt_bert *model, vt_eval_result *r) {
    source *s = ctx;
    const encoded_set *dev = &s->dev;
    size_t K = (size_t)s->task.cfg->num_labels;
    s->task.model = model;
    float *logits = malloc((dev->n ? dev->n : 1) * K * sizeof *logits); /* (rows, K) */
    double *scores = malloc((dev->texts ? dev->texts : 1) * K * sizeof *scores); /* (texts, K) */
    vt_status st = logits && scores ? VT_OK : vt_error(VT_ERR_NOMEM, "out of memory evaluating");
    if (st == VT_OK) st = task_run_inputs(&s->task, VT_OUT_LOGITS, dev->inputs, dev->texts, logits, K);
    for (size_t t = 0, row = 0; st == VT_OK && t < dev->texts; row += (size_t)dev->inputs[t++].n)
        if (vt_task_scores(&s->task, logits + row * K, dev->inputs[t].n, scores + t * K) < 0)
            st = vt_error(VT_ERR_NUMERIC, "dev example %zu: the logits are not finite", t + 1);
    if (st == VT_OK) {
        vt_label_kind kind = dev->data->kind;
        st = kind == VT_LABEL_SINGLE  ? single_label_figures(s, scores, r)
             : kind == VT_LABEL_MULTI ? multi_label_figures(s, scores, r)
                                      : regression_figures(s, scores, r);
    }
    free(logits);
    free(scores);
    return st;
}

/* scikit-learn's "balanced": n / (classes * count of the class), over the training rows. */
static float *balanced_weights(const encoded_set *train, int K) {
    int64_t counts[VT_BERT_MAX_LABELS] = {0};
    for (size_t i = 0; i < train->n; i++) counts[train->data->label[train->text_of[i]]]++;
    float *w = malloc((size_t)K * sizeof *w);
    for (int c = 0; w && c < K; c++)
        w[c] = counts[c] ? (float)((double)train->n / (K * (double)counts[c])) : 0.0f;
    return w;
}

/* Loads init_dir as a sequence classifier for train's kind of label (its
 * loss recorded as problem_type) and labels, into s->task. */
static vt_status load(const char *init_dir, const vt_labelled *train, const vt_finetune_options *o, source *s) {
    static const vt_task_kind KINDS[] = {[VT_LABEL_SINGLE] = VT_TASK_SEQUENCE_CLASSIFICATION,
                                         [VT_LABEL_MULTI] = VT_TASK_MULTI_LABEL, [VT_LABEL_REGRESSION] = VT_TASK_REGRESSION};
    static const vt_bert_problem PROBLEMS[] = {[VT_LABEL_SINGLE] = VT_PROBLEM_SINGLE_LABEL,
                                               [VT_LABEL_MULTI] = VT_PROBLEM_MULTI_LABEL,
                                               [VT_LABEL_REGRESSION] = VT_PROBLEM_REGRESSION};
    bool regression = train->kind == VT_LABEL_REGRESSION;
    int labels = regression ? 1 : train->num_labels;
    vt_status st = task_load_for_training(init_dir, KINDS[train->kind], VT_BERT_FOR_SEQUENCE_CLASSIFICATION, labels, o,
                                          &s->task);
    if (st == VT_OK) st = vt_bert_set_problem_type(s->task.model, PROBLEMS[train->kind]);
    if (st == VT_OK && !regression)
        st = vt_bert_set_labels(s->task.model, (const char *const *)train->id2label, labels);
    return st;
}

static void log_start(const vt_finetune_options *o, const vt_labelled *train, const vt_labelled *dev,
                      const source *s, const char *init_dir, int64_t steps_per_epoch, int64_t ranks) {
    if (!o->log || vt_dist_rank() != 0) return;
    fprintf(o->log, "fine-tuning %s (%s): %zu training and %zu dev examples, %d labels, %lld epochs of %lld steps%s\n",
            init_dir, vt_task_kind_name(s->task.kind), train->n, dev->n, s->task.cfg->num_labels, (long long)o->epochs,
            (long long)steps_per_epoch,
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
    if (dev->kind != train->kind || (unsigned)train->kind > VT_LABEL_REGRESSION)
        return vt_error(VT_ERR_INVALID_ARG, "the training set has %s labels, the dev set %s",
                        vt_label_kind_name(train->kind), vt_label_kind_name(dev->kind));
    if (o->balanced_class_weights && train->kind != VT_LABEL_SINGLE)
        return vt_error(VT_ERR_INVALID_ARG, "class weights are for single-label classification");
    source s = {.batch_size = o->batch_size, .padded = o->padded_batches, .order = {.epoch = -1, .seed = o->seed}};
    vt_status st = load(init_dir, train, o, &s);
    if (st == VT_OK) st = encode_set(&s.task, train, &s.train);
    if (st == VT_OK) st = encode_set(&s.task, dev, &s.dev);
    bool private = o->dp_max_grad_norm > 0;
    if (st == VT_OK && private) st = check_private(o, &s, train);
    size_t cells = (size_t)o->batch_size * (size_t)s.task.max_len;
    s.ids = malloc(cells * sizeof *s.ids);
    s.types = malloc(cells * sizeof *s.types);
    s.mask = malloc(cells * sizeof *s.mask);
    s.labels = malloc((size_t)o->batch_size * sizeof *s.labels);
    s.targets = malloc((size_t)o->batch_size * (size_t)(train->num_labels > 1 ? train->num_labels : 1) * sizeof *s.targets);
    s.batch_rows = malloc((size_t)o->batch_size * sizeof *s.batch_rows);
    s.offsets = malloc(((size_t)o->batch_size + 1) * sizeof *s.offsets);
    s.order.n = (int64_t)s.train.n;
    s.order.order = malloc((s.train.n ? s.train.n : 1) * sizeof *s.order.order);
    if (st == VT_OK &&
        (!s.ids || !s.types || !s.mask || !s.labels || !s.targets || !s.batch_rows || !s.offsets || !s.order.order))
        st = vt_error(VT_ERR_NOMEM, "out of memory for the training batches");
    if (st == VT_OK && o->balanced_class_weights && !(s.class_weights = balanced_weights(&s.train, train->num_labels)))
        st = vt_error(VT_ERR_NOMEM, "out of memory");
    if (st == VT_OK) {
        char args[1024];
        task_tok_config(&s.task, -1, s.tok_config, sizeof s.tok_config);
        vt_trainer_options to;
        int64_t steps_per_epoch =
            task_trainer_options(o, init_dir, s.train.n, train->n, s.tok_config, args, sizeof args, &to);
        to.get_batch = get_batch;
        to.evaluate = evaluate;
        to.ctx = &s;
        vt_dp_options dp;
        if (private) st = task_private_setup(o, (int64_t)s.train.n, "one training text", get_example, &dp, &to);
        bool stop = false;
        if (st == VT_OK) {
            log_start(o, train, dev, &s, init_dir, steps_per_epoch, vt_dist_size());
            st = vt_train(&s.task.model, &to, &stop);
        }
        if (stopped) *stopped = stop;
        if (st == VT_OK && o->log && vt_dist_rank() == 0) fprintf(o->log, "best dev checkpoint in %s\n", o->out_dir);
    }
    free(s.ids), free(s.types), free(s.mask), free(s.labels), free(s.targets), free(s.batch_rows), free(s.order.order);
    free(s.class_weights), free(s.offsets);
    free_set(&s.train);
    free_set(&s.dev);
    task_release(&s.task);
    return st;
}
