/* The task layer: what every front end runs (verto's commands, verto serve,
 * your own program). A task is a model directory loaded with its tokenizer
 * and the settings it was fine-tuned with. It encodes inputs as the model
 * reads them (truncation, --keep-tail, a long text's windows), runs them in
 * batches, and turns the model's outputs into results: class probabilities,
 * sentence embeddings, masked-token predictions, evaluation metrics; and it
 * fine-tunes. Each result is computed by one function whichever front end
 * asks, so verto predict, verto eval, verto serve and a C program agree.
 *
 * Batches never change a result: inputs of any token lengths are packed
 * into one batch without padding (vt_bert_batch.offsets), each attends over
 * its own tokens only, and the model computes each sequence's rows on their
 * own (vt_matmul_packed), so an input's numbers are those it gets alone, at
 * any batch size and thread count.
 *
 * Two levels:
 *   - whole inputs (vt_task_classify, vt_task_embed, vt_task_fill_mask,
 *     vt_task_evaluate, vt_task_finetune): batches are formed inside;
 *   - rows (vt_task_encode, vt_task_run, vt_task_probs, vt_task_pool): for a
 *     caller that batches inputs of many requests itself (verto serve).
 *
 * A new head (token classification, span QA, multi-label, regression, a
 * causal LM) adds a vt_task_kind, what its rows yield (vt_task_output) and
 * its finishing step, on the same encode and run. */
#ifndef VERTO_TASK_H
#define VERTO_TASK_H

#include "verto/export.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "verto/baseline.h"
#include "verto/bert.h"
#include "verto/dataset.h"
#include "verto/error.h"
#include "verto/metrics.h"
#include "verto/multilabel_metrics.h"
#include "verto/ner.h"
#include "verto/ner_metrics.h"
#include "verto/tagged.h"
#include "verto/regression_metrics.h"
#include "verto/squad.h"
#include "verto/tokenizer.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum vt_task_kind {
    VT_TASK_FEATURES = 0,            /* any encoder: final hidden states and sentence embeddings */
    VT_TASK_SEQUENCE_CLASSIFICATION, /* a label per text or text pair (softmax), and features */
    VT_TASK_FILL_MASK,               /* masked-LM predictions at each [MASK], and features */
    VT_TASK_MULTI_LABEL,             /* any number of labels per text (a sigmoid each, and a threshold) */
    VT_TASK_REGRESSION,              /* one number (or num_labels numbers) per text */
    VT_TASK_TOKEN_CLASSIFICATION,    /* a tag per word: entities (NER) */
    VT_TASK_QUESTION_ANSWERING,      /* the span of a context that answers a question */
} vt_task_kind;

/* "features", "sequence-classification", "fill-mask", "multi-label", "regression",
 * "token-classification", "question-answering"; and back. */
VT_API const char *vt_task_kind_name(vt_task_kind kind);
VT_API bool vt_task_kind_parse(const char *name, vt_task_kind *out);

/* The kinds that read a text (or pair) through the sequence classifier's head:
 * single-label, multi-label, regression. */
VT_API bool vt_task_kind_is_sequence(vt_task_kind kind);

/* What dir's config.json makes of it: a sequence classifier's directory is
 * SEQUENCE_CLASSIFICATION, MULTI_LABEL or REGRESSION by its problem_type
 * (none: REGRESSION for one label, as transformers decides), a token
 * classifier's TOKEN_CLASSIFICATION, a span extractor's QUESTION_ANSWERING,
 * a pretraining or masked-LM model's FILL_MASK, anything else FEATURES. */
VT_API vt_status vt_task_kind_of_dir(const char *dir, vt_task_kind *out);

typedef struct vt_task_options {
    vt_task_kind kind;
    vt_precision precision; /* of the matrix products (default fp32; int8: the dense layers quantized on
                               load); a directory written by verto quantize runs in int8 whatever this says */
    int32_t max_seq_length; /* tokens per row (a window's length); 0 (default): the directory's
                               model_max_length, which fine-tuning records, at most the positions */
    int32_t batch_size;     /* rows per forward pass (default 32) */
} vt_task_options;

VT_API void vt_task_options_default(vt_task_options *o);

typedef struct vt_task vt_task;

/* Loads dir (config.json, model.safetensors, vocab.txt, tokenizer_config.json)
 * as o->kind (o NULL: the defaults, FEATURES). SEQUENCE_CLASSIFICATION needs
 * a trained classifier with 2 or more labels (not the random head a
 * pretraining checkpoint would get); FILL_MASK a masked-LM head. NULL with
 * the error set. */
VT_API vt_task *vt_task_load(const char *dir, const vt_task_options *o);
VT_API void vt_task_free(vt_task *t);

/* A directory verto baseline wrote (config.json's model_type
 * "verto-tfidf-lr") loads as the SEQUENCE_CLASSIFICATION or MULTI_LABEL task
 * it records: classify, the evaluations, answer_json and the row functions
 * (a row is the text's known terms; VT_OUT_LOGITS only) work as for a
 * fine-tuned classifier; it has no tokenizer, model, embeddings or windows.
 * vt_task_baseline gives it (NULL for a Transformer). */
VT_API const vt_baseline *vt_task_baseline(const vt_task *t);

VT_API vt_task_kind vt_task_get_kind(const vt_task *t);
VT_API const vt_bert_config *vt_task_config(const vt_task *t);
VT_API const vt_tokenizer *vt_task_tokenizer(const vt_task *t);
/* The model, for training or inspection (owned by the task). */
VT_API vt_bert *vt_task_model(vt_task *t);
/* Tokens per row (see vt_task_options.max_seq_length). */
VT_API int32_t vt_task_max_length(const vt_task *t);
/* Windows a long single text is read as when classifying (tokenizer_config's max_windows; 1: truncated). */
VT_API int32_t vt_task_max_windows(const vt_task *t);
/* A MULTI_LABEL task's threshold: a label is predicted when its probability
 * is at least this (tokenizer_config.json's multi_label_threshold, which
 * fine-tuning chooses on dev; 0.5 when absent). */
VT_API double vt_task_threshold(const vt_task *t);

/* One input: a text, or a text pair when text_b is not NULL. */
typedef struct vt_text_input {
    const char *text;
    size_t text_len;
    const char *text_b;
    size_t text_b_len;
} vt_text_input;

/* ---- whole inputs --------------------------------------------------------- */

/* scores (n, num_labels) of n inputs (a sequence kind, see
 * vt_task_kind_is_sequence), computed in double from the logits (a text read
 * as several windows: from its windows' mean logits): the softmax
 * (SEQUENCE_CLASSIFICATION), each label's sigmoid (MULTI_LABEL), the values
 * themselves (REGRESSION). truncated (n, may be NULL): whether some tokens of
 * the input were read by no row. */
VT_API vt_status vt_task_classify(vt_task *t, const vt_text_input *in, size_t n, double *probs, bool *truncated);

typedef enum vt_pooling {
    VT_POOL_CLS = 0, /* the final hidden state of [CLS] */
    VT_POOL_MEAN,    /* the mean of the real tokens' states, [CLS] and [SEP] included (sentence-transformers) */
} vt_pooling;

/* out (n, hidden) sentence embeddings of n inputs (any kind), truncated to
 * the task's length; optionally scaled to unit length (norm floored at
 * 1e-12). truncated as vt_task_classify's. */
VT_API vt_status vt_task_embed(vt_task *t, const vt_text_input *in, size_t n, vt_pooling pooling, bool normalize,
                               float *out,
                               bool *truncated);

typedef struct vt_mask_prediction {
    int32_t token_id;
    double score; /* the softmax probability over the vocabulary */
} vt_mask_prediction;

/* For input i of n (a FILL_MASK task): n_masks[i] [MASK] tokens, and in
 * preds[i] (malloc'd, n_masks[i] * k, free each) the k likeliest tokens of
 * each, best first. */
VT_API vt_status vt_task_fill_mask(vt_task *t, const vt_text_input *in, size_t n, int k, vt_mask_prediction **preds,
                                   int32_t *n_masks);

/* One input's answer as verto predict prints it and verto serve returns it,
 * from its scores (num_labels, vt_task_classify's): the members of a JSON
 * object without the braces, into *out (malloc'd, NUL-terminated):
 *   SEQUENCE_CLASSIFICATION  "label": L, "score": p, "probs": {label: p, ...}
 *   MULTI_LABEL              "labels": [labels at or above the threshold], "probs": {label: p, ...}
 *   REGRESSION               "score": v (one output) or "scores": {label: v, ...}
 * Numbers print with 8 significant digits. */
VT_API vt_status vt_task_answer_json(const vt_task *t, const double *scores, char **out);

/* A SEQUENCE_CLASSIFICATION task on labelled data: the predictions and
 * probabilities of every example (probs (n, K) and pred (n), each may be
 * NULL), the metrics (accuracy, per-class P/R/F1, confusion, ROC-AUC for two
 * labels; free with vt_metrics_free) and the mean cross-entropy *loss (may be
 * NULL). data's labels must be the model's label ids (vt_labelled_options'
 * id2label). */
VT_API vt_status vt_task_evaluate(vt_task *t, const vt_labelled *data, double *probs, int32_t *pred,
                                  vt_metrics *metrics,
                                  double *loss);

/* A MULTI_LABEL task on multi-label data (data->multi_hot with the model's
 * label ids): the metrics at `threshold` (< 0: the task's), the sigmoid
 * probabilities (n, L; may be NULL) and the mean binary cross-entropy over
 * the n * L outputs, as BCEWithLogitsLoss (may be NULL). */
VT_API vt_status vt_task_evaluate_multilabel(vt_task *t, const vt_labelled *data, double threshold, double *probs,
                                             vt_multilabel_metrics *metrics, double *loss);

/* A REGRESSION task with one output on data->target: the predictions (n; may
 * be NULL), the metrics and the mean squared error (may be NULL). */
VT_API vt_status vt_task_evaluate_regression(vt_task *t, const vt_labelled *data, double *pred,
                                             vt_regression_metrics *metrics, double *loss);

/* ---- token classification (entities) ------------------------------------------ */

/* The label of every word of a TOKEN_CLASSIFICATION task's tagged data: each
 * sentence's words encoded as transformers' fast tokenizers do with
 * is_split_into_words (vt_tok_encode_words, truncated to the task's length),
 * the label of a word its first token's argmax; pred (data->n_tokens) gets
 * label ids of the model, -1 for a word left out by truncation. */
VT_API vt_status vt_task_tag_words(vt_task *t, const vt_tagged *data, int32_t *pred);

/* Entity metrics of a TOKEN_CLASSIFICATION task on tagged data (data's tags
 * the model's label ids, as vt_tagged_options.id2label gives them): the words'
 * predictions (vt_task_tag_words; a word left out by truncation counts as
 * "O") against the tags, in `mode` (scheme as vt_ner_metrics_compute takes it). */
VT_API vt_status vt_task_evaluate_ner(vt_task *t, const vt_tagged *data, vt_ner_mode mode, vt_tag_scheme scheme,
                                      vt_ner_metrics *metrics);

/* The entities of n raw texts, as transformers' token-classification
 * pipeline returns them with aggregation_strategy `agg` (vt_ner_aggregate;
 * VT_NER_AGG_SIMPLE is verto's default): groups[i] (malloc'd, n_groups[i];
 * free each with vt_ner_groups_free). A text longer than the task's length
 * is read as overlapping windows (half a window's stride), each token's
 * probabilities taken from the window where it is farthest from an edge,
 * then aggregated over the whole text. */
VT_API vt_status vt_task_entities(vt_task *t, const vt_text_input *in, size_t n, vt_ner_aggregation agg,
                                  vt_ner_group **groups, size_t *n_groups);

/* vt_task_entities' steps, for a caller that batches rows itself (verto
 * serve): a text's whole encoding and the windows the model reads of it. */
typedef struct vt_ner_text {
    vt_tok_encoding enc;    /* the whole text (byte offsets) */
    vt_tok_encoding *rows;  /* (n_rows) the windows to run (VT_OUT_TOKENS): len, ids, type_ids, views */
    int32_t n_rows;
    int32_t *from, *width;  /* (n_rows) each window's first text token and how many it holds */
    int32_t pre;            /* the special tokens before the text */
    int32_t *buf;           /* the windows' ids and type ids */
} vt_ner_text;
/* Encodes one text for a TOKEN_CLASSIFICATION task into *x (free with
 * vt_ner_text_free, also on failure). */
VT_API vt_status vt_task_ner_encode(const vt_task *t, const char *text, size_t len, vt_ner_text *x);
/* The text's entities from its rows' outputs logits[j] (x->rows[j].len,
 * num_labels), as vt_task_entities gives them. */
VT_API vt_status vt_task_ner_groups(const vt_task *t, const char *text, size_t len, const vt_ner_text *x,
                                    const float *const *logits, vt_ner_aggregation agg, vt_ner_group **groups,
                                    size_t *n_groups);
VT_API void vt_ner_text_free(vt_ner_text *x);

/* groups as verto predict prints them and verto serve returns them: a JSON
 * array of {"entity_group", "score", "word", "start", "end"} into *out
 * (malloc'd); with VT_NER_AGG_NONE (the groups are tokens) of {"entity",
 * "score", "index", "word", "start", "end"}, as the pipeline's. */
VT_API vt_status vt_task_entities_json(const vt_ner_group *groups, size_t n, vt_ner_aggregation agg, char **out);

/* ---- rows ----------------------------------------------------------------- */

/* What a row yields when run. */
typedef enum vt_task_output {
    VT_OUT_LOGITS = 0, /* a sequence classifier's logits (num_labels), from the last layer at [CLS] only */
    VT_OUT_CLS,        /* the final hidden state of [CLS] (hidden) */
    VT_OUT_MEAN,       /* the mean of the final hidden states (hidden) */
    VT_OUT_MASKED,     /* the masked-LM logits (vocab) at each [MASK] of the row, in order */
    VT_OUT_TOKENS,     /* a token classifier's logits (len, num_labels): every token of the row */
    VT_OUT_SPAN,       /* question answering: the start logits of the row's len tokens, then their end
                          logits (2 * len) */
} vt_task_output;

/* The row output of an embedding with `pooling`. */
VT_API vt_task_output vt_task_output_of(vt_pooling pooling);

/* An input as the rows the model reads: its windows (a long single text
 * classified by a task whose max_windows > 1), or one row. */
typedef struct vt_task_rows {
    vt_tok_encoding *rows; /* (n) */
    int32_t n;
    bool truncated; /* some tokens of the input are in no row */
} vt_task_rows;

/* Encodes one input for `what` (windows only for VT_OUT_LOGITS). Rows longer
 * than the model's positions are an error. Thread-safe; free with
 * vt_task_rows_free. */
VT_API vt_status vt_task_encode(const vt_task *t, vt_task_output what, const vt_text_input *in, vt_task_rows *out);
VT_API void vt_task_rows_free(vt_task_rows *r);

/* Floats that row yields for `what`. */
VT_API size_t vt_task_row_floats(const vt_task *t, vt_task_output what, const vt_tok_encoding *row);

/* Runs n rows through the model; out[i] receives vt_task_row_floats of rows[i].
 * Rows of any lengths share forward passes of up to batch_size rows, packed
 * without padding (vt_bert_batch.offsets; VT_OUT_MASKED: rows of equal
 * length), so each row's outputs are exactly those it gives alone. One
 * caller at a time. */
VT_API vt_status vt_task_run(vt_task *t, vt_task_output what, const vt_tok_encoding *const *rows, size_t n,
                             float *const *out);

/* probs (K) of an input from its m rows' logits (m, K): the softmax of their
 * mean, in double (m = 1: of the logits themselves). Returns the index of the
 * largest probability (the first on ties), or -1 if they are not finite. */
VT_API int vt_task_probs(const float *logits, int m, int K, double *probs);
/* The scores (K) of t's kind from an input's m rows' logits (m, K), as
 * vt_task_classify gives them (softmax, sigmoids or values of the mean
 * logits). Returns the index of the largest score, or -1 if one is not finite. */
VT_API int vt_task_scores(const vt_task *t, const float *logits, int m, double *scores);

/* v (H) scaled to unit length, the norm floored at 1e-12 (verto embed --normalize). */
VT_API void vt_task_normalize(float *v, int64_t H);


/* ---- question answering (QUESTION_ANSWERING; see verto/squad.h) ----------
 *
 * A question and its context are read as features (vt_qa_features: the
 * question with a window of the context, windows overlapping by doc_stride
 * tokens, each window max_seq_length tokens at most), each run as a row of
 * VT_OUT_SPAN. What fine-tuning records in tokenizer_config.json and these
 * functions read: doc_stride, max_answer_length (tokens) and
 * version_2_with_negative (whether a question may have no answer). */

/* The settings a QUESTION_ANSWERING task was fine-tuned with (absent keys:
 * doc_stride min(max_length / 2, 128) as the pipeline, max_answer_length 30,
 * version_2_with_negative false). */
typedef struct vt_qa_task_settings {
    int32_t doc_stride, max_answer_length;
    bool version_2_with_negative;
} vt_qa_task_settings;
VT_API vt_qa_task_settings vt_task_qa_settings(const vt_task *t);

/* One question about one context (UTF-8, need not be NUL-terminated). */
typedef struct vt_qa_input {
    const char *question;
    size_t question_len;
    const char *context;
    size_t context_len;
} vt_qa_input;

/* A question from one JSON object {"question": s, "context": s} (a line of
 * verto predict's input; other members are ignored) in text[0..len), which
 * need not be NUL-terminated: both strings non-empty valid UTF-8 without NUL
 * bytes, neither given twice. On success *in holds copies the caller frees
 * with vt_qa_input_free; on failure (VT_ERR_FORMAT, the message starting
 * "where:line: ") *in is zeroed. */
VT_API vt_status vt_qa_input_parse_json(const char *text, size_t len, const char *where, size_t line, vt_qa_input *in);

/* Frees the strings of a vt_qa_input_parse_json result and zeroes *in. */
VT_API void vt_qa_input_free(vt_qa_input *in);

/* Appends the features of question `in` (as example `example`) to *f, as
 * the question-answering pipeline cuts them: the task's max_length and
 * doc_stride, the question as given (not lstripped). Errors as
 * vt_qa_features_add (a question leaving no room for its context). */
VT_API vt_status vt_task_qa_features(const vt_task *t, const vt_qa_input *in, int32_t example, vt_qa_features *f);

/* Feature i of f as a row for vt_task_run (VT_OUT_SPAN): a view into f's
 * arrays (ids and type ids only), valid while f is; never free it. */
VT_API vt_tok_encoding vt_task_qa_row(const vt_qa_features *f, size_t i);

/* The pipeline's answer to the question whose features are f's [first,
 * first + count), from their rows' VT_OUT_SPAN outputs out[j] (feature
 * first + j): top 1, the task's max_answer_length, aligned to words, the null
 * answer {"", 0, 0} considered when the task is version_2_with_negative
 * (handle_impossible_answer). *answer owns its text (vt_qa_answers_free(answer, 1)).
 * With no span at all (a context of special tokens only) the answer is "" at 0 with score 0. */
VT_API vt_status vt_task_qa_answer(const vt_task *t, const vt_qa_features *f, size_t first, size_t count,
                                   const vt_qa_input *in, const float *const *out, vt_qa_answer *answer);

/* Answers n questions (verto predict): answers[i] for in[i] (free each with
 * vt_qa_answers_free(&answers[i], 1)); on failure none is left to free. */
VT_API vt_status vt_task_answer_questions(vt_task *t, const vt_qa_input *in, size_t n, vt_qa_answer *answers);

/* An answer as verto predict prints it and verto serve returns it: the
 * members "answer": text, "score": s (8 significant digits), "start": c,
 * "end": c (characters of the context) without the braces, into *out (malloc'd). */
VT_API vt_status vt_task_qa_answer_json(const vt_qa_answer *a, char **out);

typedef struct vt_qa_eval_options {
    int32_t n_best_size;              /* default 20 */
    int32_t max_answer_length;        /* tokens; <= 0 (default): the task's */
    double null_score_diff_threshold; /* v2 (default 0.0) */
} vt_qa_eval_options;
VT_API void vt_qa_eval_options_default(vt_qa_eval_options *o);

/* A QUESTION_ANSWERING task on SQuAD data, as run_qa evaluates: d's
 * features as run_qa's prepare_validation_features cuts them (questions
 * lstripped; the task's max_length and doc_stride), run unpadded, turned into
 * one prediction per question by utils_qa's postprocessing (v2 when d is
 * v2.0), scored by the official script's logic. pred (may be NULL) receives
 * the predictions (free with vt_qa_predictions_free); o NULL: the defaults. */
VT_API vt_status vt_task_evaluate_qa(vt_task *t, const vt_squad *d, const vt_qa_eval_options *o, vt_qa_predictions *pred,
                                     vt_squad_scores *scores);

/* ---- fine-tuning ---------------------------------------------------------- */

typedef struct vt_finetune_options {
    const char *out_dir;   /* the best model (by dev macro F1), metrics.jsonl, checkpoints */
    int64_t epochs;        /* passes over the training rows (default 3) */
    int64_t batch_size;    /* rows per step and rank (default 32) */
    int64_t grad_accum;    /* micro-batches of batch_size per step (default 1; < 1: 1) */
    double lr;             /* peak learning rate (default 5e-5) */
    double warmup_ratio;   /* of the steps, linear warmup (default 0.1) */
    double weight_decay;   /* AdamW (default 0.01) */
    int32_t max_seq_length;/* tokens per row (default 128) */
    int32_t keep_tail;     /* < 0 (default): as the initial directory's tokenizer says */
    int32_t max_windows;   /* < 1 (default): as the initial directory's tokenizer says */
    int64_t early_stopping;/* epochs without dev improvement before stopping (0: off) */
    int freeze_layers;     /* embeddings and the first K layers get no updates */
    bool balanced_class_weights; /* loss weights n / (classes * count), scikit-learn's "balanced" */
    uint64_t seed;         /* head initialisation, data order, dropout (default 42) */
    vt_precision precision; /* fp32 or bf16 (int8 is refused: it is for inference) */
    bool resume, zero1;    /* continue from the latest checkpoint; shard optimizer state (MPI) */
    /* Training batches padded to their longest row instead of packed (the
     * rows one after another, each attending over its own length: the same
     * loss and gradients up to the sums' order, other dropout masks, fewer
     * FLOPs on rows of mixed lengths). Sequence and token classification;
     * question answering's windows and DP-SGD's examples are always padded. */
    bool padded_batches;
    FILE *log;             /* progress lines (NULL: none) */
    /* Differentially private fine-tuning (DP-SGD, verto/dp.h) when
     * dp_max_grad_norm > 0: each step Poisson-samples the training examples
     * (a text; a sentence for token classification; a feature window for
     * question answering) at rate batch_size x grad_accum x ranks / examples (with
     * grad_accum > 1 the sampled batch runs in micro-batches of batch_size and
     * the noise is added once per step), clips each one's gradient to
     * dp_max_grad_norm, adds noise of dp_noise_multiplier x that bound; OUT/
     * privacy.json records the figures an accountant needs. Under MPI each
     * rank samples its share of the logical batch (batch_size x grad_accum
     * x ranks expected), the clipped sums are added over the ranks and the
     * noise enters once. Refused: with zero1, with class weights, with texts
     * read as several windows; and unless dp_dev_public says the dev set
     * (which picks the best epoch, so leaks) is not private. */
    double dp_noise_multiplier, dp_max_grad_norm;
    double dp_epsilon;     /* > 0: the noise multiplier is solved so the whole run spends at most this epsilon
                              (as Opacus' get_noise_multiplier, tolerance 0.01); dp_noise_multiplier is then ignored */
    double dp_delta;       /* the delta of the guarantee, in (0, 1); <= 0: 1 / n^1.1 of the n training rows */
    int dp_sampling;       /* VT_DP_POISSON (0, default) or VT_DP_SHUFFLE (the guarantee does not hold as stated) */
    bool dp_exact;         /* each example's gradient on its own (the reference) instead of the fast path */
    bool dp_dev_public;
} vt_finetune_options;

VT_API void vt_finetune_options_default(vt_finetune_options *o);

/* Fine-tunes init_dir (any BERT-family directory) as a sequence classifier
 * on train, keeping the epoch best on dev, written to o->out_dir with the
 * tokenizer settings it was trained with (so eval, predict and serve read
 * inputs alike). The data's kind of label is the task: single-label
 * (softmax cross-entropy; the best epoch by dev macro F1), multi-label (BCE;
 * by dev micro F1 at the threshold that maximises it, which the model
 * records) or regression (MSE, one output; by dev MSE); problem_type records
 * it. train and dev share one label map (train's). Data parallel when
 * started under MPI. *stopped (may be NULL): stopped by a signal. */
VT_API vt_status vt_task_finetune(const char *init_dir, const vt_labelled *train, const vt_labelled *dev,
                                  const vt_finetune_options *o, bool *stopped);

/* Fine-tunes init_dir as a token classifier on tagged sentences, as
 * transformers' run_ner.py: train's label map (dev must follow it), words
 * encoded with is_split_into_words semantics and truncated to
 * o->max_seq_length, the label on each word's first token; the epoch best by
 * dev entity F1 (seqeval's default mode over every word, vt_task_evaluate_ner)
 * kept in o->out_dir. Data parallel under MPI. */
VT_API vt_status vt_task_finetune_ner(const char *init_dir, const vt_tagged *train, const vt_tagged *dev,
                                      const vt_finetune_options *o, bool *stopped);

/* Question answering's own fine-tuning settings. */
typedef struct vt_qa_train_options {
    int32_t doc_stride;               /* tokens shared by consecutive windows (default 128) */
    int32_t max_answer_length;        /* tokens, for dev predictions and later ones (default 30) */
    int32_t n_best_size;              /* dev postprocessing (default 20) */
    double null_score_diff_threshold; /* dev, v2 (default 0.0) */
    int version;                      /* 0 (default): v2 when the training data are, else 1; 1 or 2 */
} vt_qa_train_options;
VT_API void vt_qa_train_options_default(vt_qa_train_options *o);

/* Fine-tunes init_dir as a span extractor (BertForQuestionAnswering's
 * qa_outputs) on SQuAD data, as run_qa.py trains: train's features with
 * prepare_train_features' labels (o->max_seq_length tokens per feature,
 * qa->doc_stride; an answer outside a window points at [CLS]), the mean
 * of the start and end cross-entropies. Each epoch dev is evaluated as
 * vt_task_evaluate_qa would (dev_exact, dev_f1 logged; v2 also
 * dev_has_ans_f1, dev_no_ans_f1); the epoch with the best dev F1 is saved to
 * o->out_dir with doc_stride, max_answer_length and version_2_with_negative
 * in tokenizer_config.json. qa NULL: the defaults. o's keep_tail,
 * max_windows and class weights do not apply. */
VT_API vt_status vt_task_finetune_qa(const char *init_dir, const vt_squad *train, const vt_squad *dev,
                                     const vt_finetune_options *o, const vt_qa_train_options *qa, bool *stopped);

#ifdef __cplusplus
}
#endif
#endif
