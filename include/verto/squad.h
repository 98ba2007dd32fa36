/* Extractive question answering on SQuAD-style data: reading the data sets,
 * the model's features (a question with a window of its context), turning
 * start / end logits back into answers, and the official SQuAD scores.
 *
 * What each part matches:
 *   data      SQuAD v1.1 / v2.0 JSON files and the JSON Lines layout of the
 *             Hugging Face datasets (squad, squad_v2)
 *   features  transformers' examples/pytorch/question-answering/run_qa.py:
 *             prepare_train_features / prepare_validation_features
 *             (tokenizer(question, context, truncation="only_second",
 *             max_length, stride, return_overflowing_tokens=True,
 *             return_offsets_mapping=True), byte for byte)
 *   answers   utils_qa.py's postprocess_qa_predictions (evaluation: one
 *             prediction per question, n-best lists, null-answer odds) and
 *             the question-answering pipeline's span choice (prediction:
 *             {answer, score, start, end})
 *   scores    the official evaluate-v1.1.py and evaluate-v2.0.py
 *
 * Text is UTF-8; positions a user sees (answer_start, an answer's start and
 * end) count characters (code points, Python's str indices), as SQuAD and
 * transformers do. The library prints nothing; failures return a status with
 * the message in vt_last_error(). */
#ifndef VERTO_SQUAD_H
#define VERTO_SQUAD_H

#include "verto/export.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "verto/error.h"
#include "verto/tokenizer.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- data ----------------------------------------------------------------
 *
 * JSON (SQuAD's own files):
 *   {"version": "v2.0", "data": [{"title": ..., "paragraphs": [{"context": "...",
 *    "qas": [{"id": "...", "question": "...", "answers": [{"text": "...",
 *    "answer_start": 17}, ...], "is_impossible": false}]}]}]}
 * JSONL (one question per line, the Hugging Face layout):
 *   {"id": "...", "question": "...", "context": "...",
 *    "answers": {"text": ["..."], "answer_start": [17]}}
 * An id may be a string or an integer (read as its decimal string); other keys
 * (title, plausible_answers, ...) are ignored.
 *
 * Checks, each naming the file and the question (its id and, in JSON, its
 * place data[i].paragraphs[j].qas[k]; in JSONL its line): the structure and
 * types above; every text valid UTF-8 without NUL; a non-empty question;
 * answer_start a whole number of characters at which the context holds the
 * answer's text exactly; an answer text not empty; ids distinct. A question
 * without answers is an error unless the data are SQuAD v2 (then it is an
 * impossible question): v2 when options.version says so, or (version 0) for
 * JSON when its "version" starts with "v2" or any question has
 * "is_impossible"; a JSONL file is v1 unless version 2 is given (its rows do
 * not say). A question marked is_impossible must have no answers.
 * With skip_bad_rows a bad question (or a paragraph / line that is malformed
 * as a whole) is left out and counted instead; invalid UTF-8 in a JSON file,
 * or JSON that does not parse, is always an error.
 * Contexts are stored once per paragraph (JSON) or per run of rows with the
 * same context (JSONL). */

typedef enum vt_squad_format {
    VT_SQUAD_AUTO = 0, /* .jsonl / .ndjson: JSONL; otherwise JSONL when the first line is an
                          object with a "question", else JSON */
    VT_SQUAD_JSON,
    VT_SQUAD_JSONL,
} vt_squad_format;

typedef struct vt_squad_options {
    vt_squad_format format;
    int version;          /* 0: from the file (see above); 1 or 2 */
    bool skip_bad_rows;   /* leave out bad questions and count them instead of failing */
    size_t max_file_bytes;/* > 0: a larger file is an error */
} vt_squad_options;

/* Zeroes *o: auto format and version, strict, no size limit. */
VT_API void vt_squad_options_default(vt_squad_options *o);

typedef struct vt_squad_answer {
    char *text;         /* owned, NUL-terminated */
    size_t len;         /* bytes */
    int64_t start;      /* answer_start: characters into the context */
    int64_t byte_start; /* the same in bytes */
    int64_t char_len;   /* the text's length in characters */
} vt_squad_answer;

typedef struct vt_squad_example {
    char *id;             /* owned */
    char *question;       /* owned, NUL-terminated */
    size_t question_len;  /* bytes */
    size_t context;       /* index into vt_squad.contexts */
    size_t first_answer;  /* its answers are answers[first_answer .. first_answer + n_answers) */
    int32_t n_answers;    /* 0: an impossible question (v2) */
    int64_t line;         /* JSONL: its line; JSON: 0 */
} vt_squad_example;

#define VT_SQUAD_NOTES 8

typedef struct vt_squad {
    size_t n;                   /* questions */
    vt_squad_example *ex;       /* (n) in file order */
    size_t n_answers;
    vt_squad_answer *answers;   /* (n_answers) */
    size_t n_contexts;
    char **contexts;            /* (n_contexts) owned, NUL-terminated */
    size_t *context_len;        /* (n_contexts) bytes */
    int version;                /* 1 or 2 */
    vt_squad_format format;     /* what was read */
    size_t n_impossible;        /* questions without answers */
    size_t n_skipped;           /* bad questions left out (skip_bad_rows) */
    int n_notes;
    char notes[VT_SQUAD_NOTES][256]; /* "FILE: question ...: what is wrong" for the first ones */
} vt_squad;

/* Reads `path` ("-": standard input, "stdin" in messages) into *out (zeroed
 * first); `o` NULL means the defaults. VT_ERR_IO / VT_ERR_FORMAT /
 * VT_ERR_INVALID_ARG / VT_ERR_NOMEM leave *out empty. No questions at all
 * (none left) is an error. Free with vt_squad_free. */
VT_API vt_status vt_squad_load(const char *path, const vt_squad_options *o, vt_squad *out);

/* The same from len bytes at `data` (not kept, need not be NUL-terminated);
 * `name` stands for the file in messages and gives the extension. */
VT_API vt_status vt_squad_parse(const char *data, size_t len, const char *name, const vt_squad_options *o,
                                vt_squad *out);

VT_API void vt_squad_free(vt_squad *d);

/* Example ex's context and its length in bytes. */
VT_API const char *vt_squad_context(const vt_squad *d, size_t ex, size_t *len);

/* ---- features ------------------------------------------------------------
 *
 * A feature is what the model reads: [CLS] question [SEP] window [SEP] (the
 * tokenizer's own template: <s> q </s></s> window </s> for RoBERTa), where the
 * windows of a long context overlap by doc_stride tokens
 * (vt_tok_encode_overflow). Training features carry run_qa's labels: the
 * tokens where the first answer starts and ends when it lies wholly inside
 * the window, else the index of the first [CLS] token (0 when there is none),
 * as for an impossible question. run_qa's label search is reproduced exactly,
 * including its quirk that an answer starting in the window's last context
 * token is labelled past it (the search runs on over [SEP], whose offset is
 * (0, 0)). Evaluation features keep each token's offsets and word, which
 * turn logits back into text. */

typedef struct vt_qa_options {
    int32_t max_length;       /* tokens per feature, special tokens included (default 384) */
    int32_t doc_stride;       /* tokens shared by consecutive windows of a context (default 128) */
    bool context_first;       /* (context, question), truncation "only_first": for a tokenizer that pads
                                 on the left (run_qa's pad_on_right false); default false */
    bool keep_question_space; /* false (default): a question's leading whitespace is removed as run_qa does
                                 (str.lstrip()); the question-answering pipeline keeps it */
} vt_qa_options;

/* run_qa's defaults: 384, 128, question first, questions lstripped. */
VT_API void vt_qa_options_default(vt_qa_options *o);
/* The question-answering pipeline's: max_length min(model_max_length, 384),
 * doc_stride min(max_length / 2, 128), question first, questions as given. */
VT_API void vt_qa_options_pipeline(vt_qa_options *o, int32_t model_max_length);

typedef struct vt_qa_features {
    size_t n;                /* features */
    int64_t *first;          /* (n + 1) feature f's tokens are rows [first[f], first[f + 1]) */
    int32_t *example;        /* (n) the question it belongs to (overflow_to_sample_mapping) */
    int32_t *start_position; /* (n) training labels, NULL for evaluation features */
    int32_t *end_position;   /* (n) */
    /* per token row (first[n] rows); no padding: attention mask all ones */
    int32_t *ids;            /* (rows) */
    int32_t *type_ids;       /* (rows) */
    int32_t *seq;            /* (rows) sequence_ids(): 0 the first input, 1 the second, -1 special */
    /* evaluation features only (NULL for training ones): */
    int32_t *word;           /* (rows) word_ids() in its input, -1 special */
    int32_t *char_start, *char_end; /* (rows) character offsets into its own input ((0, 0) special) */
    int32_t *byte_start, *byte_end; /* (rows) the same in bytes */
    bool train;              /* what the features are for */
    bool context_first;      /* the inputs' order */
    int32_t cls_id;          /* the tokenizer's [CLS] / <s> id (vt_tok_special_ids), -1 if none */
    size_t cap, rows_cap;    /* private */
} vt_qa_features;

/* Zeroes *f (an empty set, ready for vt_qa_features_add). */
VT_API void vt_qa_features_init(vt_qa_features *f);
VT_API void vt_qa_features_free(vt_qa_features *f);

/* The context of feature i's token row r: in the context (the input the
 * windows cut) or not (question, special token): "offset_mapping is None". */
static inline bool vt_qa_in_context(const vt_qa_features *f, int64_t row) {
    return f->seq[row] == (f->context_first ? 0 : 1);
}

/* Appends the features of every question of d to *out (after vt_qa_features_init
 * or earlier calls of the same kind: train or not); `o` NULL means
 * vt_qa_options_default. Training features need every question's
 * answer_start (impossible ones are labelled [CLS]). Errors: a question too
 * long to leave room for its context, or doc_stride too large for the room
 * left (VT_ERR_INVALID_ARG naming the question's id), VT_ERR_NOMEM; *out then
 * keeps the features of the questions before that one (free it as usual).
 * One thread: about 0.08 ms a question of 300-token contexts (84,000 in 7 s). */
VT_API vt_status vt_qa_features_build(const vt_tokenizer *t, const vt_squad *d, const vt_qa_options *o, bool train,
                                      vt_qa_features *out);

/* Appends the evaluation features of one question (`question`, `context`,
 * belonging to example index `example`) to *f: what the pipeline and a
 * server need. Errors as vt_qa_features_build. */
VT_API vt_status vt_qa_features_add(const vt_tokenizer *t, const char *question, size_t qlen, const char *context,
                                    size_t clen, int32_t example, const vt_qa_options *o, vt_qa_features *f);

/* Number of token rows of feature i. */
static inline int32_t vt_qa_feature_len(const vt_qa_features *f, size_t i) {
    return (int32_t)(f->first[i + 1] - f->first[i]);
}

/* ---- answers from logits: utils_qa.postprocess_qa_predictions ------------
 *
 * Logits are float32, either packed like the token rows (row_len 0: feature
 * i's at start_logits[f->first[i] ...], one per token) or in rows of row_len
 * >= every feature's length (feature i's at start_logits[i * row_len ...]: a
 * padded batch's rows as they are; positions past a feature's tokens read as
 * padding, whose offsets are None).
 * For each question, over its features: the n_best_size highest start and
 * end logits of the row (padding included, as np.argsort over the padded
 * row; equal logits: the later position first, as a stable argsort
 * reversed), every pair with both tokens in the context, start <= end and at
 * most max_answer_length tokens, scored start + end logit in float32; with
 * v2 the null answer (the lowest start[0] + end[0] over its features); sorted
 * by score (stable), n_best_size kept (the null added back in v2); text =
 * the context from the start token's first character to the end token's
 * last; "empty" with logits 0 when nothing else is left; probabilities a
 * softmax of the scores (computed in double: within 1e-6 of numpy's
 * float32). The prediction: the best text (v1), or (v2) "" when null score -
 * best non-empty answer's start and end logits > null_score_diff_threshold,
 * else that answer (when every candidate is empty, where utils_qa raises an
 * IndexError, the best one). The threshold is compared in float32, as numpy 2
 * compares a float32 score with a Python float. Logits must not be NaN. */

typedef struct vt_qa_post_options {
    bool version_2_with_negative;     /* default false */
    int32_t n_best_size;              /* default 20 */
    int32_t max_answer_length;        /* tokens, default 30 */
    double null_score_diff_threshold; /* default 0.0 */
} vt_qa_post_options;

VT_API void vt_qa_post_options_default(vt_qa_post_options *o);

typedef struct vt_qa_candidate {
    char *text;               /* owned */
    int32_t start, end;       /* characters of the context; (0, 0) for the null answer and "empty" */
    float start_logit, end_logit;
    double probability;
} vt_qa_candidate;

typedef struct vt_qa_prediction {
    char *text;               /* owned: the answer ("" for no answer) */
    float score_diff;         /* v2: null score - best non-empty answer's logits (null_odds.json); NaN in v1 */
    int32_t n_best;
    vt_qa_candidate *nbest;   /* (n_best) best first (nbest_predictions.json) */
} vt_qa_prediction;

typedef struct vt_qa_predictions {
    size_t n;                 /* = the data's questions */
    vt_qa_prediction *p;      /* (n) one per question, in d's order */
} vt_qa_predictions;

/* Predictions for every question of d from the logits of f (its features, built
 * from d), into *out (zeroed first; free with vt_qa_predictions_free). `o` NULL
 * means the defaults. A question without features gets "empty" (as utils_qa).
 * Errors (VT_ERR_INVALID_ARG): row_len shorter than a feature, a feature's
 * example outside d, features without offsets (training ones), options out of
 * range (n_best_size or max_answer_length < 1); VT_ERR_NOMEM. */
VT_API vt_status vt_qa_postprocess(const vt_squad *d, const vt_qa_features *f, const float *start_logits,
                                   const float *end_logits, int64_t row_len, const vt_qa_post_options *o,
                                   vt_qa_predictions *out);

VT_API void vt_qa_predictions_free(vt_qa_predictions *p);

/* ---- answers from logits: the question-answering pipeline ----------------
 *
 * transformers' QuestionAnsweringPipeline.postprocess for one question whose
 * features are f's [first, first + count): per feature, logits outside the
 * context (and the [CLS] tokens kept) are set to -10000, each row is
 * softmaxed (float32), the null score min(start[0] * end[0]) kept, token 0
 * masked, and every span start <= end < start + max_answer_len scored
 * p_start * p_end (float32); its 2 top_k + 10 best (top_k when not aligning
 * to words; equal scores in row-major order) with both ends in the context
 * become answers: with align_to_words, from the first character of the start
 * token's word to the last of the end token's (words as the pre-tokenizer
 * split them), else the tokens' own characters. Answers with the same text
 * (compared lowercased by str.lower()) add their scores; with
 * handle_impossible_answer the null answer {"", 0, 0, null score} joins; the
 * top_k by score are returned. As in transformers, a tokenizer that puts the
 * context first masks nothing but padding (its p_mask is all zeros). */

typedef struct vt_qa_pipeline_options {
    int32_t top_k;                 /* answers wanted (default 1) */
    int32_t max_answer_len;        /* tokens (default 15) */
    bool handle_impossible_answer; /* default false */
    bool align_to_words;           /* default true */
} vt_qa_pipeline_options;

VT_API void vt_qa_pipeline_options_default(vt_qa_pipeline_options *o);

typedef struct vt_qa_answer {
    char *answer;      /* owned */
    int32_t start, end;/* characters of the context */
    double score;
} vt_qa_answer;

/* Answers for the question whose features are f's [first, first + count)
 * (evaluation features, all from `context`), logits as vt_qa_postprocess's
 * rows (row j of the arrays is feature first + j). Writes up to o->top_k
 * answers, best first, to answers[] and their number to *n_answers (fewer
 * when there are fewer spans). Free them with vt_qa_answers_free. */
VT_API vt_status vt_qa_pipeline_answer(const vt_qa_features *f, size_t first, size_t count, const char *context,
                                       size_t context_len, const float *start_logits, const float *end_logits,
                                       int64_t row_len, const vt_qa_pipeline_options *o, vt_qa_answer *answers,
                                       int32_t *n_answers);

VT_API void vt_qa_answers_free(vt_qa_answer *a, int32_t n);

/* ---- scores: the official evaluation scripts -----------------------------
 *
 * normalize_answer: str.lower(), ASCII punctuation (string.punctuation)
 * removed, the words a / an / the removed (re's \b(a|an|the)\b), whitespace
 * runs made single spaces (str.split) — with Python's Unicode tables
 * (Unicode 14.0, Python 3.11). Exact match: the normalized texts are equal.
 * F1: over the normalized texts' space-separated tokens, common tokens
 * counted with multiplicity; v1 gives 0 when none are common (an empty text
 * included), v2 gives 1 when both are empty and 0 when one is. Each question
 * scores its best over its gold answers (v2: over those whose normalization is
 * not empty; none left means the gold answer ""). Totals are percentages.
 * v1: every question counts, one without a prediction scores 0; a question
 * without answers is an error. v2: a question without a prediction is an
 * error (the script fails on it); with no-answer probabilities, a question
 * whose probability exceeds na_prob_thresh is predicted unanswerable (1 when
 * it has no answer, else 0), and best_exact / best_f1 are the totals at the
 * best threshold (find_all_best_thresh). */

typedef struct vt_squad_scores {
    int version;                      /* 1 or 2 */
    double exact, f1;                 /* percentages */
    int64_t total;                    /* questions counted */
    double has_ans_exact, has_ans_f1; /* v2: questions with answers (NaN when none) */
    int64_t has_ans_total;
    double no_ans_exact, no_ans_f1;   /* v2: questions without (NaN when none) */
    int64_t no_ans_total;
    bool has_best;                    /* v2 with no-answer probabilities */
    double best_exact, best_exact_thresh, best_f1, best_f1_thresh;
} vt_squad_scores;

typedef struct vt_squad_eval_options {
    int version;            /* 0: the data's; 1 or 2 */
    double na_prob_thresh;  /* v2 (default 1.0, the script's) */
} vt_squad_eval_options;

VT_API void vt_squad_eval_options_default(vt_squad_eval_options *o);

/* Scores predictions pred (d->n; pred[i] NULL: none for question i) against
 * d. na_prob (d->n, or NULL: all 0, as the script without a probability
 * file) are v2's no-answer probabilities. exact_raw / f1_raw (d->n, may be
 * NULL) receive each question's scores before the threshold (0 where there
 * is no prediction). Errors: VT_ERR_INVALID_ARG as above; VT_ERR_NOMEM. */
VT_API vt_status vt_squad_evaluate(const vt_squad *d, const char *const *pred, const double *na_prob,
                                   const vt_squad_eval_options *o, double *exact_raw, double *f1_raw,
                                   vt_squad_scores *out);

/* normalize_answer of s[0..len) (invalid UTF-8 reads as U+FFFD) as a new
 * malloc'd NUL-terminated string *out (free it), *out_len its bytes (may be NULL). */
VT_API vt_status vt_squad_normalize_answer(const char *s, size_t len, char **out, size_t *out_len);

/* One gold / predicted pair: *exact 0 or 1, *f1 in [0, 1], by `version`'s rules (1 or 2). */
VT_API vt_status vt_squad_score_pair(const char *gold, size_t glen, const char *pred, size_t plen, int version,
                                     double *exact, double *f1);

#ifdef __cplusplus
}
#endif
#endif
