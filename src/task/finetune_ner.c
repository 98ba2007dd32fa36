/* Fine-tuning a token classifier on tagged words (see verto/task.h:
 * vt_task_finetune_ner), as transformers' run_ner.py does: each sentence's
 * words encoded with is_split_into_words semantics and truncated, the label
 * on the first token of each word (-100 elsewhere); the best epoch by dev
 * entity F1 (seqeval's default mode), computed on every word as verto eval
 * computes it. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "task/task_internal.h"
#include "verto/dist.h"

typedef struct tagged_rows {
    const vt_tagged *data;
    vt_tok_encoding *rows; /* (data->n) */
    int32_t **labels;      /* (data->n) each (rows[s].len): run_ner's token labels */
} tagged_rows;

typedef struct source {
    vt_task task; /* the model is the trainer's, set at each evaluation */
    tagged_rows train, dev;
    int64_t batch_size;
    task_order order;
    bool padded;                          /* the training batches padded to their longest row, not packed */
    int32_t *ids, *types, *mask, *labels; /* a training batch (rows, len) or packed */
    int64_t *offsets;                     /* (rows + 1) a packed batch's */
    const vt_tok_encoding **batch_rows;   /* (rows) */
    int64_t *batch_sentences;             /* (rows) the sentence each row is */
    char tok_config[192];
} source;

static vt_status encode_rows(const vt_task *t, const vt_tagged *d, bool labels, tagged_rows *out) {
    out->data = d;
    out->rows = calloc(d->n ? d->n : 1, sizeof *out->rows);
    out->labels = calloc(d->n ? d->n : 1, sizeof *out->labels);
    if (!out->rows || !out->labels) return vt_error(VT_ERR_NOMEM, "out of memory for %zu sentences", d->n);
    vt_status st = task_encode_sentences(t, d, out->rows);
    for (size_t s = 0; st == VT_OK && labels && s < d->n; s++) {
        const vt_tok_encoding *e = &out->rows[s];
        if (!(out->labels[s] = malloc(((size_t)e->len + 1) * sizeof **out->labels)))
            st = vt_error(VT_ERR_NOMEM, "out of memory for sentence %zu's labels", s + 1);
        else
            st = vt_ner_align_labels(e->word_ids, e->len, d->tag + d->start[s], d->start[s + 1] - d->start[s], false,
                                     NULL, t->cfg->num_labels, out->labels[s]);
    }
    return st;
}

static void free_rows(tagged_rows *r) {
    for (size_t s = 0; r->data && s < r->data->n; s++) {
        if (r->rows) vt_tok_encoding_free(&r->rows[s]);
        if (r->labels) free(r->labels[s]);
    }
    free(r->rows);
    free(r->labels);
}

/* The batch of the count sentences in s->batch_sentences with their token
 * labels: packed without padding, or padded to the longest (the padding's
 * labels ignored, as -100). */
static void batch_of(source *s, int64_t count, bool packed, vt_bert_batch *b, int64_t *tokens) {
    const int64_t *which = s->batch_sentences;
    for (int64_t i = 0; i < count; i++) s->batch_rows[i] = &s->train.rows[which[i]];
    const int32_t *types = s->task.cfg->type_vocab_size > 1 ? s->types : NULL;
    *b = (vt_bert_batch){.batch = count, .input_ids = s->ids, .token_type_ids = types, .labels = s->labels};
    if (packed) {
        *tokens = task_pack_batch(s->batch_rows, count, s->ids, s->types, s->offsets);
        for (int64_t i = 0; i < count; i++)
            memcpy(s->labels + s->offsets[i], s->train.labels[which[i]],
                   (size_t)s->batch_rows[i]->len * sizeof *s->labels);
        b->offsets = s->offsets;
        return;
    }
    int64_t T = task_pad_batch(&s->task, s->batch_rows, count, s->ids, s->types, s->mask, tokens);
    for (int64_t i = 0; i < count; i++)
        for (int64_t p = 0; p < T; p++)
            s->labels[i * T + p] = p < s->batch_rows[i]->len ? s->train.labels[which[i]][p] : VT_NER_IGNORE;
    b->seq_len = T;
    b->attention_mask = s->mask;
}

static vt_status get_batch(void *ctx, int64_t first, int64_t count, vt_bert_batch *b, int64_t *tokens) {
    source *s = ctx;
    if (count > s->batch_size)
        return vt_error(VT_ERR_INVALID_ARG, "batch of %lld rows asked, %lld planned", (long long)count,
                        (long long)s->batch_size);
    for (int64_t k = first; k < first + count; k++) s->batch_sentences[k - first] = task_row_of(&s->order, k);
    batch_of(s, count, !s->padded, b, tokens);
    return VT_OK;
}

/* DP-SGD's source: training sentence `row` alone (its loss the mean over its own labelled tokens). */
static vt_status get_example(void *ctx, int64_t row, vt_bert_batch *b) {
    source *s = ctx;
    if (row < 0 || (size_t)row >= s->train.data->n)
        return vt_error(VT_ERR_INVALID_ARG, "no training sentence %lld", (long long)row);
    s->batch_sentences[0] = row;
    int64_t tokens;
    batch_of(s, 1, false, b, &tokens); /* (DP-SGD's per-example passes take padded batches) */
    return VT_OK;
}

/* Entity precision, recall and F1 (the score) and token accuracy on the dev words. */
static vt_status evaluate(void *ctx, vt_bert *model, vt_eval_result *r) {
    source *s = ctx;
    const vt_tagged *d = s->dev.data;
    size_t K = (size_t)s->task.cfg->num_labels;
    s->task.model = model;
    const vt_tok_encoding **rows = malloc((d->n ? d->n : 1) * sizeof *rows);
    float **logits = calloc(d->n ? d->n : 1, sizeof *logits);
    int32_t *pred = malloc((d->n_tokens ? d->n_tokens : 1) * sizeof *pred);
    vt_status st = rows && logits && pred ? VT_OK : vt_error(VT_ERR_NOMEM, "out of memory evaluating");
    for (size_t i = 0; st == VT_OK && i < d->n; i++) {
        rows[i] = &s->dev.rows[i];
        if (!(logits[i] = malloc(((size_t)rows[i]->len * K + 1) * sizeof **logits)))
            st = vt_error(VT_ERR_NOMEM, "out of memory evaluating");
    }
    if (st == VT_OK) st = vt_task_run(&s->task, VT_OUT_TOKENS, rows, d->n, logits);
    if (st == VT_OK) st = task_words_from_logits(&s->task, d, s->dev.rows, logits, pred);
    vt_ner_metrics m = {0};
    if (st == VT_OK) st = task_ner_metrics(&s->task, d, pred, VT_NER_DEFAULT, VT_SCHEME_AUTO, &m);
    if (st == VT_OK) {
        static const char *const NAMES[] = {"dev_precision", "dev_recall", "dev_f1", "dev_accuracy"};
        double values[] = {m.micro_precision, m.micro_recall, m.micro_f1, m.accuracy};
        r->n = 4;
        for (int i = 0; i < 4; i++) {
            snprintf(r->names[i], sizeof r->names[i], "%s", NAMES[i]);
            r->values[i] = values[i];
        }
        r->score = m.micro_f1 + 1e-6 * m.accuracy; /* accuracy breaks ties (no entity found yet) */
    }
    vt_ner_metrics_free(&m);
    for (size_t i = 0; logits && i < d->n; i++) free(logits[i]);
    free(rows), free(logits), free(pred);
    return st;
}

vt_status vt_task_finetune_ner(const char *init_dir, const vt_tagged *train, const vt_tagged *dev,
                               const vt_finetune_options *o, bool *stopped) {
    if (!init_dir || !train || !dev || !o || !o->out_dir || o->epochs < 1 || o->batch_size < 1)
        return vt_error(VT_ERR_INVALID_ARG, "vt_task_finetune_ner: a directory, data, an output directory, epochs >= 1 "
                                            "and batch_size >= 1 are needed");
    vt_status st = task_private_check(o);
    if (st != VT_OK) return st;
    if (train->n == 0 || !train->tag || !dev->tag)
        return vt_error(VT_ERR_INVALID_ARG, "token classification needs tagged training and dev sentences");
    source s = {.batch_size = o->batch_size, .padded = o->padded_batches,
                .order = {.epoch = -1, .seed = o->seed, .n = (int64_t)train->n}};
    st = task_load_for_training(init_dir, VT_TASK_TOKEN_CLASSIFICATION, VT_BERT_FOR_TOKEN_CLASSIFICATION,
                                          train->num_labels, o, &s.task);
    if (st == VT_OK) st = vt_bert_set_labels(s.task.model, (const char *const *)train->id2label, train->num_labels);
    if (st == VT_OK) st = encode_rows(&s.task, train, true, &s.train);
    if (st == VT_OK) st = encode_rows(&s.task, dev, false, &s.dev);
    size_t cells = (size_t)o->batch_size * (size_t)s.task.max_len;
    s.ids = malloc(cells * sizeof *s.ids);
    s.types = malloc(cells * sizeof *s.types);
    s.mask = malloc(cells * sizeof *s.mask);
    s.labels = malloc(cells * sizeof *s.labels);
    s.batch_rows = malloc((size_t)o->batch_size * sizeof *s.batch_rows);
    s.batch_sentences = malloc((size_t)o->batch_size * sizeof *s.batch_sentences);
    s.offsets = malloc(((size_t)o->batch_size + 1) * sizeof *s.offsets);
    s.order.order = malloc((train->n ? train->n : 1) * sizeof *s.order.order);
    if (st == VT_OK && (!s.ids || !s.types || !s.mask || !s.labels || !s.batch_rows || !s.batch_sentences ||
                        !s.offsets || !s.order.order))
        st = vt_error(VT_ERR_NOMEM, "out of memory for the training batches");
    if (st == VT_OK) {
        char args[1024];
        task_tok_config(&s.task, -1, s.tok_config, sizeof s.tok_config);
        vt_trainer_options to;
        int64_t steps_per_epoch = task_trainer_options(o, init_dir, train->n, train->n, s.tok_config, args, sizeof args, &to);
        to.get_batch = get_batch;
        to.evaluate = evaluate;
        to.ctx = &s;
        vt_dp_options dp;
        st = task_private_setup(o, (int64_t)train->n, "one training sentence", get_example, &dp, &to);
        if (st == VT_OK && o->log && vt_dist_rank() == 0)
            fprintf(o->log,
                    "fine-tuning %s (token-classification): %zu training and %zu dev sentences, %d labels (%s), %lld "
                    "epochs of %lld steps\n",
                    init_dir, train->n, dev->n, train->num_labels, vt_tag_scheme_name(train->scheme),
                    (long long)o->epochs, (long long)steps_per_epoch);
        bool stop = false;
        if (st == VT_OK) st = vt_train(&s.task.model, &to, &stop);
        if (stopped) *stopped = stop;
        if (st == VT_OK && o->log && vt_dist_rank() == 0) fprintf(o->log, "best dev checkpoint in %s\n", o->out_dir);
    }
    free(s.ids), free(s.types), free(s.mask), free(s.labels), free(s.batch_rows), free(s.batch_sentences), free(s.order.order);
    free(s.offsets);
    free_rows(&s.train);
    free_rows(&s.dev);
    task_release(&s.task);
    return st;
}
