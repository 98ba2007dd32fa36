/* Fine-tuning a span extractor on SQuAD data, as run_qa.py trains (see
 * verto/task.h: vt_task_finetune_qa).
 *
 * The training features (prepare_train_features: windows with their start
 * and end labels) are built once; each is a training row. The dev evaluation
 * runs the trainer's model through vt_task_evaluate_qa, the function verto
 * eval uses, so the dev figures are what eval reports for that checkpoint. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "task/task_internal.h"
#include "verto/dist.h"
#include "verto/trainer.h"

void vt_qa_train_options_default(vt_qa_train_options *o) {
    *o = (vt_qa_train_options){.doc_stride = 128, .max_answer_length = 30, .n_best_size = 20,
                               .null_score_diff_threshold = 0.0, .version = 0};
}

typedef struct qa_source {
    vt_task task; /* the tokenizer and settings; its model is the trainer's, set at each evaluation */
    vt_qa_features train;                /* training features with labels */
    vt_tok_encoding *views;              /* (train.n) each feature as a row */
    const vt_squad *dev;
    vt_qa_eval_options eval;
    int64_t batch_size;
    task_order order;
    int32_t *ids, *types, *mask, *starts, *ends; /* a batch (rows, len); starts / ends (rows) */
    const vt_tok_encoding **batch_rows;          /* (rows) */
    char tok_config[320]; /* what eval, predict and serve read from the saved tokenizer_config.json */
} qa_source;

/* The batch of the count features in s->batch_rows / starts / ends, padded. */
static void pad_features(qa_source *s, int64_t count, vt_bert_batch *b, int64_t *tokens) {
    int64_t T = task_pad_batch(&s->task, s->batch_rows, count, s->ids, s->types, s->mask, tokens);
    /* One token type (RoBERTa) or none (DistilBERT): a pair's second segment is type 0 too. */
    const int32_t *types = s->task.cfg->type_vocab_size > 1 ? s->types : NULL;
    *b = (vt_bert_batch){.batch = count, .seq_len = T, .input_ids = s->ids, .token_type_ids = types,
                         .attention_mask = s->mask, .start_positions = s->starts, .end_positions = s->ends};
}

/* Slot k of the batch gets feature r. */
static void put_feature(qa_source *s, int64_t k, int64_t r) {
    s->batch_rows[k] = &s->views[r];
    s->starts[k] = s->train.start_position[r];
    s->ends[k] = s->train.end_position[r];
}

static vt_status get_batch(void *ctx, int64_t first, int64_t count, vt_bert_batch *b, int64_t *tokens) {
    qa_source *s = ctx;
    if (count > s->batch_size)
        return vt_error(VT_ERR_INVALID_ARG, "batch of %lld rows asked, %lld planned", (long long)count,
                        (long long)s->batch_size);
    for (int64_t k = first; k < first + count; k++) put_feature(s, k - first, task_row_of(&s->order, k));
    pad_features(s, count, b, tokens);
    return VT_OK;
}

/* DP-SGD's source: training feature (window) `row` alone. */
static vt_status get_example(void *ctx, int64_t row, vt_bert_batch *b) {
    qa_source *s = ctx;
    if (row < 0 || (size_t)row >= s->train.n) return vt_error(VT_ERR_INVALID_ARG, "no training feature %lld", (long long)row);
    put_feature(s, 0, row);
    int64_t tokens;
    pad_features(s, 1, b, &tokens);
    return VT_OK;
}

/* Dev exact match and F1 (the score), with v2's answerable / unanswerable F1. */
static vt_status evaluate(void *ctx, vt_bert *model, vt_eval_result *r) {
    qa_source *s = ctx;
    s->task.model = model;
    vt_squad_scores sc;
    vt_status st = vt_task_evaluate_qa(&s->task, s->dev, &s->eval, NULL, &sc);
    if (st != VT_OK) return st;
    const char *names[] = {"dev_exact", "dev_f1", "dev_has_ans_f1", "dev_no_ans_f1"};
    double values[] = {sc.exact, sc.f1, sc.has_ans_f1, sc.no_ans_f1};
    int n = sc.version == 2 ? 4 : 2;
    for (int i = 0, k = 0; i < n; i++) {
        if (isnan(values[i])) continue; /* a v2 set without one kind of question */
        snprintf(r->names[k], sizeof r->names[k], "%s", names[i]);
        r->values[k] = values[i];
        r->n = ++k;
    }
    r->score = sc.f1;
    return VT_OK;
}

/* task_tok_config's settings with the question-answering ones added. */
static void qa_tok_config(qa_source *s, const vt_qa_train_options *qa, bool v2) {
    char base[192];
    task_tok_config(&s->task, -1, base, sizeof base);
    size_t n = strlen(base);
    if (n) base[n - 1] = '\0'; /* reopen the object */
    snprintf(s->tok_config, sizeof s->tok_config,
             "%s, \"doc_stride\": %d, \"max_answer_length\": %d, \"version_2_with_negative\": %s}", base, qa->doc_stride,
             qa->max_answer_length, v2 ? "true" : "false");
}

static void log_start(const vt_finetune_options *o, const vt_squad *train, const vt_squad *dev, const qa_source *s,
                      const char *init_dir, int64_t steps_per_epoch, bool v2) {
    if (!o->log || vt_dist_rank() != 0) return;
    fprintf(o->log,
            "fine-tuning %s (question-answering, SQuAD %s): %zu training questions (%zu features of up to %d tokens), "
            "%zu dev questions, %lld epochs of %lld steps\n",
            init_dir, v2 ? "v2" : "v1", train->n, s->train.n, s->task.max_len, dev->n, (long long)o->epochs,
            (long long)steps_per_epoch);
    if (train->n_skipped || dev->n_skipped)
        fprintf(o->log, "skipped %zu training and %zu dev questions\n", train->n_skipped, dev->n_skipped);
}

static vt_status check(const char *init_dir, const vt_squad *train, const vt_squad *dev, const vt_finetune_options *o,
                       const vt_qa_train_options *qa) {
    if (!init_dir || !train || !dev || !o || !o->out_dir || o->epochs < 1 || o->batch_size < 1)
        return vt_error(VT_ERR_INVALID_ARG, "vt_task_finetune_qa: a directory, data, an output directory, epochs >= 1 "
                                            "and batch_size >= 1 are needed");
    if (train->n == 0 || dev->n == 0) return vt_error(VT_ERR_INVALID_ARG, "the training or dev set holds no questions");
    if (qa->doc_stride < 0 || qa->max_answer_length < 1 || qa->n_best_size < 1 || qa->version < 0 || qa->version > 2)
        return vt_error(VT_ERR_INVALID_ARG, "doc_stride >= 0, max_answer_length >= 1, n_best_size >= 1 and version 0, "
                                            "1 or 2 are needed");
    if (o->balanced_class_weights) return vt_error(VT_ERR_INVALID_ARG, "class weights are for classification");
    int version = qa->version ? qa->version : train->version;
    if (version == 1 && (train->n_impossible || dev->n_impossible))
        return vt_error(VT_ERR_INVALID_ARG, "SQuAD v1 training has no impossible questions: %zu training and %zu dev "
                                            "questions have no answer (train as v2)", train->n_impossible,
                        dev->n_impossible);
    if (dev->version != version)
        return vt_error(VT_ERR_INVALID_ARG, "the training data are SQuAD v%d, the dev data v%d", version, dev->version);
    return VT_OK;
}

vt_status vt_task_finetune_qa(const char *init_dir, const vt_squad *train, const vt_squad *dev,
                              const vt_finetune_options *o, const vt_qa_train_options *qa_opt, bool *stopped) {
    vt_qa_train_options qa;
    if (qa_opt) qa = *qa_opt;
    else vt_qa_train_options_default(&qa);
    vt_status st = check(init_dir, train, dev, o, &qa);
    if (st == VT_OK) st = task_private_check(o);
    if (st != VT_OK) return st;
    bool v2 = (qa.version ? qa.version : train->version) == 2;
    qa_source s = {.batch_size = o->batch_size, .order = {.epoch = -1, .seed = o->seed}, .dev = dev};
    vt_qa_features_init(&s.train);
    vt_qa_eval_options_default(&s.eval);
    s.eval.n_best_size = qa.n_best_size;
    s.eval.max_answer_length = qa.max_answer_length;
    s.eval.null_score_diff_threshold = qa.null_score_diff_threshold;
    st = task_load_for_training(init_dir, VT_TASK_QUESTION_ANSWERING, VT_BERT_FOR_QUESTION_ANSWERING, 0, o, &s.task);
    s.task.qa = (vt_qa_task_settings){.doc_stride = qa.doc_stride, .max_answer_length = qa.max_answer_length,
                                      .version_2_with_negative = v2};
    vt_qa_options fo;
    vt_qa_options_default(&fo);
    fo.max_length = s.task.max_len;
    fo.doc_stride = qa.doc_stride;
    if (st == VT_OK) st = vt_qa_features_build(s.task.tok, train, &fo, true, &s.train);
    if (st == VT_OK && s.train.n == 0) st = vt_error(VT_ERR_INVALID_ARG, "the training set gives no features");
    size_t cells = (size_t)o->batch_size * (size_t)s.task.max_len, B = (size_t)o->batch_size;
    s.ids = malloc(cells * sizeof *s.ids);
    s.types = malloc(cells * sizeof *s.types);
    s.mask = malloc(cells * sizeof *s.mask);
    s.starts = malloc(B * sizeof *s.starts);
    s.ends = malloc(B * sizeof *s.ends);
    s.batch_rows = malloc(B * sizeof *s.batch_rows);
    s.views = malloc((s.train.n ? s.train.n : 1) * sizeof *s.views);
    s.order.n = (int64_t)s.train.n;
    s.order.order = malloc((s.train.n ? s.train.n : 1) * sizeof *s.order.order);
    if (st == VT_OK && (!s.ids || !s.types || !s.mask || !s.starts || !s.ends || !s.batch_rows || !s.views ||
                        !s.order.order))
        st = vt_error(VT_ERR_NOMEM, "out of memory for the training batches");
    for (size_t i = 0; st == VT_OK && i < s.train.n; i++) s.views[i] = vt_task_qa_row(&s.train, i);
    if (st == VT_OK) {
        char args[1024];
        qa_tok_config(&s, &qa, v2);
        vt_trainer_options to;
        int64_t steps_per_epoch = task_trainer_options(o, init_dir, s.train.n, train->n, s.tok_config, args,
                                                       sizeof args, &to);
        to.get_batch = get_batch;
        to.evaluate = evaluate;
        to.ctx = &s;
        log_start(o, train, dev, &s, init_dir, steps_per_epoch, v2);
        vt_dp_options dp; /* a question over a long context is several features: several examples */
        st = task_private_setup(o, (int64_t)s.train.n, "one training feature: a question with one window of its context",
                                get_example, &dp, &to);
        bool stop = false;
        if (st == VT_OK) st = vt_train(&s.task.model, &to, &stop);
        if (stopped) *stopped = stop;
        if (st == VT_OK && o->log && vt_dist_rank() == 0) fprintf(o->log, "best dev checkpoint in %s\n", o->out_dir);
    }
    free(s.ids), free(s.types), free(s.mask), free(s.starts), free(s.ends), free(s.batch_rows), free(s.views);
    free(s.order.order);
    vt_qa_features_free(&s.train);
    task_release(&s.task);
    return st;
}
