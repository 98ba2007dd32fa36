/* Multi-label classification metrics, with scikit-learn's definitions.
 *
 * n examples and L labels: y_true (n, L) row-major, nonzero where example i
 * has label j (vt_labelled.multi_hot); score (n, L) a finite score per cell
 * (e.g. the sigmoid probability). Label j is predicted for example i when
 * score >= threshold. With tp, fp, fn counted over cells:
 *   per label j (over the examples): precision = tp / (tp + fp), recall =
 *     tp / (tp + fn), f1 = 2 tp / (2 tp + fp + fn), support = tp + fn
 *   micro   the same figures from the counts summed over every cell
 *   macro   unweighted means over all L labels: for multi-label data sklearn
 *           counts every column, also one absent from both truth and
 *           prediction (it scores 0)
 *   weighted  means weighted by support (0 when no label has support)
 *   samples   the figures of each example (over its labels), averaged over
 *           the examples
 * 0 / 0 is 0 everywhere (sklearn's zero_division=0); so an example with no
 * true and no predicted label scores precision = recall = F1 = 0 in the
 * samples averages, as sklearn's precision_recall_fscore_support(average=
 * "samples", zero_division=0) gives (it is 1 only with zero_division=1).
 *   subset_accuracy  the fraction of examples whose predicted label set is
 *           exactly the true one (sklearn.metrics.accuracy_score)
 *   hamming_loss     the fraction of wrong cells (sklearn.metrics.hamming_loss)
 *   roc_auc[j]  ROC-AUC of column j, ties averaged; NaN when the column's
 *           truth has one class only
 *   roc_auc_macro  their mean; NaN when any is NaN, as
 *           roc_auc_score(average="macro") returns (scikit-learn 1.9, with a
 *           warning); a caller wanting the mean over defined labels has roc_auc
 *   roc_auc_micro  ROC-AUC of all cells taken as one binary problem
 *           (average="micro"); NaN when every cell has the same truth.
 * The library prints nothing; the printers are for the CLI. */
#ifndef VERTO_MULTILABEL_METRICS_H
#define VERTO_MULTILABEL_METRICS_H

#include "verto/export.h"

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "verto/error.h"
#include "verto/metrics.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct vt_multilabel_metrics {
    int num_labels;                /* L */
    int64_t n;                     /* examples */
    double threshold;              /* score >= threshold: predicted */
    double subset_accuracy, hamming_loss;
    double micro_precision, micro_recall, micro_f1;
    double macro_precision, macro_recall, macro_f1;
    double weighted_precision, weighted_recall, weighted_f1;
    double samples_precision, samples_recall, samples_f1;
    double roc_auc_micro, roc_auc_macro; /* NaN where undefined (see above) */
    vt_class_metrics *per_label;   /* (L) owned: precision, recall, f1, support, predicted, tp */
    double *roc_auc;               /* (L) owned; NaN where undefined */
} vt_multilabel_metrics;

/* Fills *out (owning its arrays; free with vt_multilabel_metrics_free).
 * Errors (VT_ERR_INVALID_ARG): L < 1, n == 0, NULL arrays, n * L beyond
 * memory, a score or the threshold not finite. VT_ERR_NOMEM. On failure
 * *out is zeroed. */
VT_API vt_status vt_multilabel_metrics_compute(const uint8_t *y_true, const double *score, size_t n, int num_labels,
                                               double threshold, vt_multilabel_metrics *out);
VT_API void vt_multilabel_metrics_free(vt_multilabel_metrics *m);

/* The threshold that maximises micro F1 on (y_true, score) (a dev set), with
 * the rule score >= threshold. Every distinct score value v is a candidate
 * (predicting the cells with score >= v; between two distinct values the
 * predictions do not change, so this search is exact, not a grid). Ties in
 * micro F1 (compared exactly, as fractions of counts) go to the largest
 * candidate, i.e. the fewest predicted labels. The threshold returned lies
 * halfway between the chosen value v and the next lower distinct score w
 * (v/2 + w/2; v itself when no lower score exists or the halfway point rounds
 * to w), so small shifts in the scores keep the dev predictions. When y_true
 * has no label at all, every candidate scores 0 and the "predict nothing"
 * one wins: the threshold is just above the highest score
 * (nextafter(max, +inf)). *micro_f1 (may be NULL) receives the micro F1 the
 * threshold gives. Errors as vt_multilabel_metrics_compute (*threshold is
 * NaN then). */
VT_API vt_status vt_multilabel_best_threshold(const uint8_t *y_true, const double *score, size_t n, int num_labels,
                                              double *threshold, double *micro_f1);

/* A readable report: examples, threshold, subset accuracy, Hamming loss, a
 * per-label table (precision, recall, F1, support, ROC-AUC) and the micro /
 * macro / weighted / samples rows. `names` (L) label names or NULL for ids. */
VT_API void vt_multilabel_metrics_print(const vt_multilabel_metrics *m, const char *const *names, FILE *out);

/* One JSON object (no newline): {"n", "threshold", "subset_accuracy",
 * "hamming_loss", "micro_precision", "micro_recall", "micro_f1", the same for
 * macro_, weighted_ and samples_, "roc_auc_micro", "roc_auc_macro",
 * "per_label": {name: {"precision", "recall", "f1", "support", "predicted",
 * "roc_auc"}}, "labels": [names]}; NaN is null; numbers read back exactly. */
VT_API void vt_multilabel_metrics_print_json(const vt_multilabel_metrics *m, const char *const *names, FILE *out);

#ifdef __cplusplus
}
#endif
#endif
