/* Entity-level metrics of token classification (NER), with seqeval 1.2.2's
 * definitions (seqeval.metrics.classification_report, precision_score,
 * recall_score, f1_score, accuracy_score; zero_division "warn" = 0).
 *
 * Gold and predicted tag sequences (label ids into one id2label) are read
 * into entities (verto/ner.h): in VT_NER_DEFAULT mode as seqeval's default
 * mode does, over all sentences at once with an "O" between sentences; in
 * VT_NER_STRICT mode sentence by sentence with the scheme's patterns. An
 * entity is (sentence, start, end, type); a predicted entity is correct when
 * a gold entity has the same four.
 *
 * Per entity type t (the types of gold or predicted entities, sorted
 * bytewise, as seqeval's target_names):
 *   correct = |gold_t and pred_t|, support = |gold_t|, predicted = |pred_t|
 *   precision = correct / predicted, recall = correct / support (0 when the
 *   denominator is 0), f1 = 2 p r / (p + r) (0 when p + r = 0)
 * micro: the same over the sums; macro: the unweighted means of the
 * per-type figures (NaN when there are no types at all, as numpy's mean of
 * nothing); weighted: means weighted by support (all 0 when the support is
 * 0). Accuracy is token-level: tokens whose predicted id equals the gold id,
 * over all tokens.
 *
 * The confusion of entity types (verto's own, not seqeval's): with T types
 * and one more row and column "none", confusion[g * (T + 1) + p] counts
 *   g, p < T   gold entities of type g for which a predicted entity has
 *              exactly the same span (sentence, start, end) and type p; the
 *              diagonal is `correct`, off it are type errors
 *   p = T      gold entities of type g with no predicted entity on their
 *              span (missed, or found with other boundaries)
 *   g = T      predicted entities of type p with no gold entity on their
 *              span (spurious, or boundaries wrong)
 * so row g sums to support[g] and column p to predicted[p]; cell (T, T) is 0.
 *
 * The library prints nothing; vt_ner_metrics_print is for the CLI. */
#ifndef VERTO_NER_METRICS_H
#define VERTO_NER_METRICS_H

#include "verto/export.h"

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "verto/error.h"
#include "verto/ner.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct vt_ner_type_metrics {
    char *type;        /* owned NUL-terminated entity type */
    double precision, recall, f1;
    int64_t support;   /* gold entities of this type */
    int64_t predicted; /* predicted entities of this type */
    int64_t correct;
} vt_ner_type_metrics;

typedef struct vt_ner_metrics {
    vt_ner_mode mode;
    vt_tag_scheme scheme;        /* strict mode: the scheme used; default mode: VT_SCHEME_AUTO */
    int n_types;                 /* T */
    vt_ner_type_metrics *per_type; /* (T) owned, types sorted bytewise */
    double micro_precision, micro_recall, micro_f1;
    double macro_precision, macro_recall, macro_f1;
    double weighted_precision, weighted_recall, weighted_f1;
    int64_t support, predicted, correct; /* sums over the types */
    double accuracy;             /* token accuracy */
    int64_t n_tokens, n_tokens_correct;
    size_t n_sentences;
    int64_t *confusion;          /* (T + 1, T + 1) owned; see above */
} vt_ner_metrics;

/* Fills *out (owning its arrays; free with vt_ner_metrics_free) from n
 * sentences whose tags are gold[start[s] .. start[s + 1]) and pred[...]
 * (label ids into id2label, num_labels of them; start has n + 1 entries,
 * start[0] = 0 usually). scheme: for VT_NER_STRICT the scheme (IOB1 ..
 * BILOU), or VT_SCHEME_AUTO to detect it from id2label
 * (vt_tag_scheme_detect with the gold tags); ignored in default mode.
 * Errors (VT_ERR_INVALID_ARG): no tokens, an id outside [0, num_labels), an
 * empty or NULL label, start not non-decreasing, and in strict mode a tag
 * the scheme does not allow (seqeval raises on it) or a label map of no
 * scheme; VT_ERR_NOMEM. On failure *out is zeroed. */
VT_API vt_status vt_ner_metrics_compute(const char *const *id2label, int num_labels, const int32_t *gold,
                                        const int32_t *pred, const size_t *start, size_t n, vt_ner_mode mode,
                                        vt_tag_scheme scheme, vt_ner_metrics *out);
VT_API void vt_ner_metrics_free(vt_ner_metrics *m);

/* A readable report: seqeval's classification_report table (per type, then
 * micro / macro / weighted averages) with 4 decimals, the token accuracy, and
 * the confusion of types. */
VT_API void vt_ner_metrics_print(const vt_ner_metrics *m, FILE *out);

/* m as one JSON object (no newline), numbers read back exactly, NaN as null:
 * {"mode", "scheme", "precision", "recall", "f1" (micro), "accuracy",
 *  "per_type": {type: {"precision", "recall", "f1", "support", "predicted",
 *  "correct"}}, "micro avg", "macro avg", "weighted avg": {"precision",
 *  "recall", "f1", "support"}, "n_sentences", "n_tokens", "types": [...],
 *  "confusion": [[...]] (rows gold, the last row and column "none")}. */
VT_API void vt_ner_metrics_print_json(const vt_ner_metrics *m, FILE *out);

#ifdef __cplusplus
}
#endif
#endif
