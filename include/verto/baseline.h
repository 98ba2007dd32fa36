/* A strong classical baseline: TF-IDF + L2 logistic regression, C chosen on dev.
 *
 * What it computes is scikit-learn 1.9.1's
 *   TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True, min_df=MIN_DF)
 *   LogisticRegression(solver="lbfgs", C=C)
 * with their other defaults, on the same texts:
 *   - tokens: the text lowercased as Python's str.lower() (full mappings, the
 *     Final_Sigma rule), then every maximal run of 2 or more code points of
 *     re's Unicode \w (str.isalnum() or '_'): token_pattern r"(?u)\b\w\w+\b";
 *     the terms are the tokens and each pair of consecutive tokens joined by
 *     one space;
 *   - vocabulary: the training texts' terms found in at least min_df of them,
 *     sorted by code point (Python's sorted()), a column each;
 *   - a text's vector: 1 + ln(count) per term (sublinear_tf), times
 *     idf = ln((1 + n) / (1 + df)) + 1 (smooth_idf), scaled to unit L2 norm
 *     (a text with no known term stays zero);
 *   - single-label with 2 classes: one weight vector, P(class 1) = sigmoid(w.x + b);
 *     with more: multinomial, P = softmax(W x + b); multi-label: a binary
 *     model per label (one-vs-rest), a label predicted when its probability
 *     is at least the threshold chosen on dev (vt_multilabel_best_threshold,
 *     as verto's fine-tuned multi-label models choose theirs);
 *   - the fit minimises mean(log-loss) + ||W||^2 / (2 C n), the intercepts not
 *     penalised (sklearn's lbfgs objective, the same optimum as
 *     C * sum(loss) + ||W||^2 / 2), with verto's own L-BFGS (10 pairs), stopping
 *     when every gradient component is at most tol, the objective's relative
 *     change is below 64 machine epsilons, or after max_iter iterations;
 *   - C: each of the grid is fitted on train and scored on dev (accuracy for
 *     single-label, micro F1 at the best threshold for multi-label); the best
 *     wins, the earliest of the grid on ties (the default grid ascends, so
 *     the stronger regularisation).
 *
 * A saved model is a directory: config.json ("model_type": "verto-tfidf-lr",
 * the labels, the settings, C and the threshold), vocab.txt (the terms, one
 * per line in column order) and model.safetensors (F64 "idf" (V), "coef"
 * (K', V) and "intercept" (K'), K' = 1 for two classes, else K). verto's task
 * layer loads it as a sequence classifier (vt_task_load), so eval, predict
 * and serve read it as they read a fine-tuned Transformer. docs/baseline.md
 * has the details. */
#ifndef VERTO_BASELINE_H
#define VERTO_BASELINE_H

#include "verto/export.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "verto/dataset.h"
#include "verto/error.h"

#ifdef __cplusplus
extern "C" {
#endif

#define VT_BASELINE_MODEL_TYPE "verto-tfidf-lr"
#define VT_BASELINE_MAX_C 32

typedef struct vt_baseline_options {
    int64_t min_df;       /* a term is kept when at least this many training texts have it (default 1) */
    const double *c_grid; /* (n_c) the values of C tried, > 0; NULL: 0.1, 1, 10, 100, 1000 */
    int n_c;
    double tol;           /* stop when every gradient component is at most tol (default 1e-8: the
                             optimum, which sklearn reaches with tol=1e-8; its default 1e-4 stops early) */
    int64_t max_iter;     /* L-BFGS iterations per fit (default 10000) */
    FILE *log;            /* a line per C tried (NULL: none) */
} vt_baseline_options;

VT_API void vt_baseline_options_default(vt_baseline_options *o);

/* What the C search saw. */
typedef struct vt_baseline_report {
    int n_c;
    double c[VT_BASELINE_MAX_C];
    double dev_score[VT_BASELINE_MAX_C]; /* dev accuracy, or micro F1 at the best threshold */
    int64_t iterations[VT_BASELINE_MAX_C]; /* the most L-BFGS iterations of its fits */
    bool converged[VT_BASELINE_MAX_C];   /* every fit stopped before max_iter */
    int best;                            /* index of the chosen C */
    double threshold;                    /* multi-label: the chosen C's threshold */
    int64_t n_terms;                     /* the vocabulary's size */
} vt_baseline_report;

typedef struct vt_baseline vt_baseline;

/* Fits the baseline on train (single- or multi-label; texts only, no text_b)
 * choosing C on dev, which must share train's label map (vt_labelled_options'
 * id2label). rep (may be NULL) receives the search. NULL with the error set:
 * a label with no example in train (single-label) or in every training text
 * (multi-label), fewer than 2 labels, no term left after min_df, a pair of
 * texts, a non-finite loss. */
VT_API vt_baseline *vt_baseline_fit(const vt_labelled *train, const vt_labelled *dev, const vt_baseline_options *o,
                                    vt_baseline_report *rep);

/* Writes b to dir (created if needed), every file atomically. */
VT_API vt_status vt_baseline_save(const vt_baseline *b, const char *dir);
/* Reads a directory vt_baseline_save wrote; every file is checked (unknown
 * config keys, shapes, a repeated or malformed term are errors naming the
 * file). NULL with the error set. */
VT_API vt_baseline *vt_baseline_load(const char *dir);
/* Whether dir/config.json names model_type "verto-tfidf-lr" (false when it
 * cannot be read). */
VT_API bool vt_baseline_is_dir(const char *dir);
VT_API void vt_baseline_free(vt_baseline *b);

/* scores (n, num_labels) of n texts: the class probabilities (single-label)
 * or each label's probability (multi-label), in double. */
VT_API vt_status vt_baseline_predict(const vt_baseline *b, const char *const *text, const size_t *len, size_t n,
                                     double *scores);

VT_API bool vt_baseline_multi_label(const vt_baseline *b);
VT_API int vt_baseline_num_labels(const vt_baseline *b);
VT_API const char *vt_baseline_label(const vt_baseline *b, int k);
VT_API double vt_baseline_c(const vt_baseline *b);
VT_API double vt_baseline_threshold(const vt_baseline *b); /* multi-label; 0.5 otherwise */
VT_API int64_t vt_baseline_num_terms(const vt_baseline *b);
/* Term j of the vocabulary (NUL-terminated UTF-8) and its idf. */
VT_API const char *vt_baseline_term(const vt_baseline *b, int64_t j);
VT_API double vt_baseline_idf(const vt_baseline *b, int64_t j);

#ifdef __cplusplus
}
#endif
#endif
