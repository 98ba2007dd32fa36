/* Inside a vt_task (see verto/task.h). */
#ifndef VT_TASK_INTERNAL_H
#define VT_TASK_INTERNAL_H

#include "verto/task.h"

struct vt_task {
    vt_task_kind kind;
    vt_bert *model;
    vt_tokenizer *tok;
    const vt_bert_config *cfg;
    int32_t max_len, max_windows, batch_size;
    vt_tok_special special;
    double threshold; /* MULTI_LABEL: a label is predicted at or above it */
    vt_qa_task_settings qa; /* QUESTION_ANSWERING: what fine-tuning recorded (qa.c) */
    /* vt_task_run's buffers, grown to the largest batch seen */
    int32_t *ids, *types, *mask, *select; /* (batch, len) */
    size_t cells;
    size_t *order; /* (rows) the rows of a call, by length */
    int64_t *offsets; /* (order_cap + 1) a packed batch's sequences (vt_bert_batch.offsets) */
    size_t order_cap;
    vt_baseline *baseline;        /* a TF-IDF + logistic regression directory instead of a model (baseline_task.c) */
    vt_bert_config baseline_cfg;  /* its labels, as cfg shows them */
};

/* ---- a TF-IDF + logistic regression directory (baseline_task.c) ---- */

/* The kind dir's baseline config.json records. */
vt_status task_baseline_kind(const char *dir, vt_task_kind *out);
/* dir (vt_baseline_is_dir) loaded as a task of o->kind, which must be the one it records. */
vt_task *task_load_baseline(const char *dir, const vt_task_options *o);
/* vt_task_encode and vt_task_run of such a task: one row per text, its known
 * terms (ids) and their counts (type_ids); the rows' logits. */
vt_status task_baseline_encode(const vt_task *t, vt_task_output what, const vt_text_input *in, vt_task_rows *out);
vt_status task_baseline_run(const vt_task *t, const vt_tok_encoding *const *rows, size_t n, float *const *out);

/* The rows of n inputs (encoded in parallel): rows[i] for input i. On failure
 * the first input's error, with every rows[i] freed. */
vt_status task_encode_all(const vt_task *t, vt_task_output what, const vt_text_input *in, size_t n, vt_task_rows *rows);

/* Runs the rows of inputs[0..n) for `what`: row r of them all (each input's
 * rows consecutive, in input order) to out + r * stride (floats per row). */
vt_status task_run_inputs(vt_task *t, vt_task_output what, const vt_task_rows *rows, size_t n, float *out,
                          size_t stride);

/* ---- question answering (qa.c) ---- */

/* t->qa from dir's tokenizer_config.json (doc_stride, max_answer_length,
 * version_2_with_negative; absent: the defaults of vt_task_qa_settings). */
vt_status task_read_qa_settings(const char *dir, vt_task *t);

/* The packed start and end logits (f->first[n] each) of every feature of f,
 * run as VT_OUT_SPAN rows. */
vt_status task_run_qa_features(vt_task *t, const vt_qa_features *f, float *start, float *end);

/* ---- fine-tuning, whatever the head (train_common.c) ---- */

#include "verto/trainer.h"
#include "verto/dp.h"

/* Loads init_dir's tokenizer (o's keep_tail and max_windows over its
 * tokenizer_config.json) and its model as `arch` with num_labels (0: the
 * directory's) into t, a task of `kind` reading o->max_seq_length tokens. */
vt_status task_load_for_training(const char *init_dir, vt_task_kind kind, int arch, int num_labels,
                                 const vt_finetune_options *o, vt_task *t);
/* Frees what a task struct owns (not the struct). */
void task_release(vt_task *t);

/* The training rows' order: sample k of the run is row order[k % n] of epoch
 * k / n, each epoch its own permutation seeded by (seed, epoch). */
typedef struct task_order {
    int64_t n, epoch; /* epoch: the one `order` holds, -1 at first */
    int64_t *order;   /* (n) */
    uint64_t seed;
} task_order;
int64_t task_row_of(task_order *ord, int64_t k);

/* Lays count rows out padded to the longest: ids, types, mask (count, T);
 * returns T, *tokens the real tokens. */
int64_t task_pad_batch(const vt_task *t, const vt_tok_encoding *const *rows, int64_t count, int32_t *ids,
                       int32_t *types, int32_t *mask, int64_t *tokens);
/* Lays count rows out one after another, no padding (a packed batch,
 * vt_bert_batch.offsets): ids, types (offsets[count]), offsets (count + 1);
 * returns the tokens, offsets[count]. */
int64_t task_pack_batch(const vt_tok_encoding *const *rows, int64_t count, int32_t *ids, int32_t *types,
                        int64_t *offsets);

/* The trainer's options for o over `rows` training rows of `examples`
 * examples (epochs over the global batch, evaluation and the best model saved
 * once per epoch, init_dir's tokenizer files with tok_config merged in, the
 * run's arguments written into args); returns the steps per epoch. The caller
 * sets get_batch, evaluate and ctx. */
int64_t task_trainer_options(const vt_finetune_options *o, const char *init_dir, size_t rows, size_t examples,
                             const char *tok_config, char *args, size_t args_size, vt_trainer_options *to);

/* o->grad_accum, 1 when unset. */
static inline int64_t task_grad_accum(const vt_finetune_options *o) { return o->grad_accum > 1 ? o->grad_accum : 1; }

/* DP-SGD (finetune_private.c), when o->dp_max_grad_norm > 0. task_private_check:
 * what every task refuses (MPI, a dev set not declared public). task_private_setup:
 * *dp for `examples` training examples (each `unit`, as privacy.json states)
 * over to->steps steps (the noise solved for o->dp_epsilon), attached to *to
 * with the per-example source `get`; logs the guarantee. dp must outlive the run. */
vt_status task_private_check(const vt_finetune_options *o);
vt_status task_private_setup(const vt_finetune_options *o, int64_t examples, const char *unit,
                             vt_dp_get_example_fn get, vt_dp_options *dp, vt_trainer_options *to);

/* What eval, predict and serve read from the saved tokenizer_config.json: the
 * inputs as training read them and (threshold >= 0) the multi-label threshold. */
void task_tok_config(const vt_task *t, double threshold, char *out, size_t size);

/* ---- token classification (ner.c) ---- */

/* Each sentence of data as its words' encoding (vt_tok_encode_words,
 * truncated to t->max_len), into rows (data->n, initialised). */
vt_status task_encode_sentences(const vt_task *t, const vt_tagged *data, vt_tok_encoding *rows);
/* Word predictions (data->n_tokens; -1 for a word no token of its row
 * holds) from each sentence's row and token logits (row len, num_labels). */
vt_status task_words_from_logits(const vt_task *t, const vt_tagged *data, const vt_tok_encoding *rows,
                                 float *const *logits, int32_t *pred);
/* Entity metrics of word predictions pred (modified: -1 becomes "O"). */
vt_status task_ner_metrics(const vt_task *t, const vt_tagged *data, int32_t *pred, vt_ner_mode mode,
                           vt_tag_scheme scheme, vt_ner_metrics *m);

#endif