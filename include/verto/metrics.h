/* Classification metrics, with scikit-learn's definitions.
 *
 * For K classes and n examples with true ids y_true and predicted ids y_pred
 * (each in [0, K)):
 *   confusion[t * K + p]  examples of true class t predicted as p (rows: truth)
 *   per class c: tp, support (true c), predicted (predicted c),
 *     precision = tp / predicted, recall = tp / support,
 *     f1 = 2 tp / (2 tp + fp + fn); 0 where the denominator is 0 (sklearn's
 *     zero_division=0)
 *   accuracy = sum tp / n; micro F1 = accuracy for single-label data
 *   macro P / R / F1 = unweighted means over the classes present in y_true or
 *     y_pred (sklearn's default label set when `labels` is not passed);
 *   weighted F1 = mean weighted by support.
 *   ROC-AUC (two classes, with a score for class 1 per example): the
 *     Mann-Whitney statistic computed exactly by ranking the scores, tied
 *     scores getting their average rank (sklearn.metrics.roc_auc_score); NaN
 *     when no scores are given, K != 2, or one class is absent from y_true.
 * The library prints nothing; vt_metrics_print is for the CLI. */
#ifndef VERTO_METRICS_H
#define VERTO_METRICS_H

#include "verto/export.h"

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "verto/error.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct vt_class_metrics {
    double precision, recall, f1;
    int64_t support;   /* examples whose true class this is */
    int64_t predicted; /* examples predicted as this class */
    int64_t tp;
} vt_class_metrics;

typedef struct vt_metrics {
    int num_classes;              /* K */
    int64_t n;                    /* examples */
    double accuracy;
    double macro_precision, macro_recall, macro_f1;
    double micro_f1, weighted_f1;
    double roc_auc;               /* NaN unless defined (see above) */
    vt_class_metrics *per_class;  /* (K) owned */
    int64_t *confusion;           /* (K, K) owned; row = true class, column = predicted */
} vt_metrics;

/* Fills *out (owning its arrays; free with vt_metrics_free). `score` (n) is
 * the score of class 1 (e.g. its probability) for ROC-AUC, or NULL. Errors
 * (VT_ERR_INVALID_ARG): K < 1, n == 0, an id outside [0, K), a NaN score.
 * On failure *out is zeroed. */
VT_API vt_status vt_metrics_compute(const int32_t *y_true, const int32_t *y_pred, const double *score, size_t n,
                                    int num_classes, vt_metrics *out);
VT_API void vt_metrics_free(vt_metrics *m);

/* Binary ROC-AUC of `score` (n) against y_true (n, 1 = positive, anything
 * else negative), ties averaged. VT_ERR_INVALID_ARG when a class is absent
 * or a score is NaN (*auc = NaN then). */
VT_API vt_status vt_roc_auc(const int32_t *y_true, const double *score, size_t n, double *auc);

/* Prints a readable report: accuracy, a per-class table (precision, recall,
 * F1, support) with the macro / micro / weighted rows, the confusion matrix
 * and ROC-AUC when defined. `names` (K) label names or NULL for the ids. */
VT_API void vt_metrics_print(const vt_metrics *m, const char *const *names, FILE *out);

/* Writes m as one JSON object (no newline): {"accuracy", "macro_precision",
 * "macro_recall", "macro_f1", "micro_f1", "weighted_f1", "n", "per_class":
 * {name: {"precision", "recall", "f1", "support"}}, "labels": [names],
 * "confusion_matrix": [[...]] (rows = true), "roc_auc" (null when undefined)}.
 * Numbers are printed so that they read back exactly. */
VT_API void vt_metrics_print_json(const vt_metrics *m, const char *const *names, FILE *out);

#ifdef __cplusplus
}
#endif
#endif
