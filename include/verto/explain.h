/* Explanations of a task's answer (see verto/task.h): how much each word
 * piece of the input moved the explained output — a sequence task's label
 * (single-label, multi-label, regression), a token classifier's entity, a
 * question-answering model's answer start and end.
 *
 * Integrated gradients (Sundararajan et al. 2017) over the embeddings'
 * output, as Captum's LayerIntegratedGradients attributes to a model's
 * `embeddings` layer: the baseline is the input with every piece that is not
 * a special token replaced by the padding token (token types and positions
 * unchanged), the path the straight line from the baseline's embeddings to
 * the input's, the integral a quadrature rule over `steps` points, the
 * gradients taken through verto's own backward in batches of points. A
 * piece's attribution is (input - baseline) . integral of the gradient,
 * summed over the hidden size; the attributions add up to
 * F(input) - F(baseline) up to the rule's error, which `delta` reports.
 *
 * Attention rollout (Abnar & Zuidema 2020) is the cheap second method: the
 * heads' mean attention of each layer, mixed half and half with the identity
 * for the residual, multiplied through the layers; a piece's attribution is
 * how much of [CLS]'s final representation flows from it (they sum to 1). */
#ifndef VERTO_EXPLAIN_H
#define VERTO_EXPLAIN_H

#include <stdbool.h>
#include <stdint.h>

#include "verto/task.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum vt_explain_method {
    VT_EXPLAIN_INTEGRATED_GRADIENTS = 0, /* "integrated-gradients" */
    VT_EXPLAIN_ROLLOUT,                  /* "rollout" */
} vt_explain_method;

/* The quadrature of the path integral, by Captum's names and points:
 * "gausslegendre" (Gauss-Legendre nodes mapped to [0, 1]), "riemann_left",
 * "riemann_right", "riemann_middle", "riemann_trapezoid". */
typedef enum vt_ig_rule {
    VT_IG_GAUSS_LEGENDRE = 0,
    VT_IG_RIEMANN_LEFT,
    VT_IG_RIEMANN_RIGHT,
    VT_IG_RIEMANN_MIDDLE,
    VT_IG_RIEMANN_TRAPEZOID,
} vt_ig_rule;

/* What is explained of the target label: its logit (the model's raw output)
 * or its score as predict reports it (the softmax probability; multi-label:
 * the label's sigmoid; regression: the value, the same as the logit). */
typedef enum vt_explain_of {
    VT_EXPLAIN_LOGIT = 0,
    VT_EXPLAIN_PROBABILITY,
} vt_explain_of;

VT_API const char *vt_explain_method_name(vt_explain_method m);
VT_API bool vt_explain_method_parse(const char *name, vt_explain_method *out);
VT_API const char *vt_ig_rule_name(vt_ig_rule r);
VT_API bool vt_ig_rule_parse(const char *name, vt_ig_rule *out);

/* The rule's n points alphas (n) in [0, 1] and their weights (n), as
 * Captum's approximation_methods give them (the trapezoid's end weights
 * halved, so its weights sum to (n - 1) / n). Riemann rules need n >= 2. */
VT_API vt_status vt_ig_rule_points(vt_ig_rule rule, int32_t n, double *alphas, double *weights);

typedef struct vt_explain_options {
    vt_explain_method method;
    vt_ig_rule rule;         /* default Gauss-Legendre */
    int32_t steps;           /* points on the path (default 50) */
    vt_explain_of of;        /* default the logit */
    int32_t target;          /* the label id explained; -1 (default): the predicted one (regression: 0) */
    int32_t internal_batch;  /* path points per forward and backward pass (default 16) */
    double delta_tolerance;  /* flag when |delta| > this * max(|F(input) - F(baseline)|, 1e-3) (default 0.05) */
} vt_explain_options;
VT_API void vt_explain_options_default(vt_explain_options *o);

/* A word of the input (the pre-tokenizer's split, as word_ids) and the sum of
 * its pieces' attributions. */
typedef struct vt_explained_word {
    int32_t segment;     /* 0: the text, 1: a pair's second text */
    int32_t start, end;  /* characters [start, end) of that text */
    int32_t byte_start, byte_end; /* the same in bytes */
    double attribution;
} vt_explained_word;

typedef struct vt_explanation {
    int32_t n_pieces;
    int32_t *piece_ids;       /* (n_pieces) every piece the model read, [CLS] and [SEP] included */
    char **pieces;            /* (n_pieces) their vocabulary strings */
    double *attributions;     /* (n_pieces) */
    int32_t n_words;
    vt_explained_word *words; /* (n_words) in order, pair's second text after the first */
    int32_t target;           /* the label id explained (-1 for an entity or an answer) */
    char *target_name;        /* owned: its name, an entity's group, or an answer's "start" / "end" */
    double probability;       /* the target's score as vt_task_classify gives it */
    double output, baseline_output; /* F(input) and F(baseline) (integrated gradients) */
    double delta;             /* sum of attributions - (output - baseline_output); NaN for rollout */
    bool delta_flagged;       /* |delta| above the options' tolerance */
} vt_explanation;

/* Explains input `in` for a sequence task t (vt_task_kind_is_sequence), read
 * as one row as vt_task_classify reads it (a text longer than the task's
 * length is truncated as for classification; a task that reads long texts as
 * several windows refuses an input that needs more than one). o NULL: the
 * defaults. *out is filled (free with vt_explanation_free, also on failure). */
VT_API vt_status vt_task_explain(vt_task *t, const vt_text_input *in, const vt_explain_options *o,
                                 vt_explanation *out);
VT_API void vt_explanation_free(vt_explanation *e);

/* Explains each entity of a TOKEN_CLASSIFICATION task's text (one text, read
 * as one window: a longer text is refused): the entities as
 * vt_task_entities gives them (*groups, *n_groups; free with
 * vt_ner_groups_free) and out[g] for entity g (malloc'd array; free each and
 * the array), whose F is the mean over the entity's pieces of the logit (or
 * probability: then F is the entity's score) of the label each was given;
 * target_name is the entity's group, probability its score. o->target is
 * ignored. */
VT_API vt_status vt_task_explain_entities(vt_task *t, const vt_text_input *in, const vt_explain_options *o,
                                          vt_ner_group **groups, size_t *n_groups, vt_explanation **out);

/* Explains a QUESTION_ANSWERING task's answer to `in` (a context that fits
 * one window): *answer as vt_task_answer_questions gives it (free with
 * vt_qa_answers_free(answer, 1)), out[0] of its start logit at the answer's
 * first token and out[1] of its end logit at its last ([CLS]'s for the null
 * answer); target is that token, target_name "start" or "end". Words of the
 * question are segment 0 and of the context segment 1 (the features' order).
 * Only the logits are explained (o->of must be VT_EXPLAIN_LOGIT). */
VT_API vt_status vt_task_explain_answer(vt_task *t, const vt_qa_input *in, const vt_explain_options *o,
                                        vt_qa_answer *answer, vt_explanation out[2]);

/* e as verto explain prints it and verto serve returns it: one JSON object
 * {"target": label name, "target_id", "probability", "method", "pieces": [...],
 * "attributions": [...], "words": [{"text", "start", "end", "segment",
 * "attribution"}], "output", "baseline_output", "delta", "delta_flagged"}
 * (integrated gradients' fields only for that method) into *out (malloc'd). */
VT_API vt_status vt_explanation_json(const vt_task *t, const vt_text_input *in, const vt_explain_options *o,
                                     const vt_explanation *e, char **out);

/* vt_task_explain_entities' result as verto explain prints it and verto serve
 * returns it: the entities' JSON array (vt_task_entities_json), each object
 * with its "explanation" (vt_explanation_json), into *out (malloc'd). */
VT_API vt_status vt_task_explain_entities_json(vt_task *t, const vt_text_input *in, const vt_explain_options *o,
                                               char **out);
/* vt_task_explain_answer's result likewise: the answer's members
 * (vt_task_qa_answer_json) with "start_explanation" and "end_explanation". */
VT_API vt_status vt_task_explain_answer_json(vt_task *t, const vt_qa_input *in, const vt_explain_options *o,
                                             char **out);

#ifdef __cplusplus
}
#endif
#endif
