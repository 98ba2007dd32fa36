/* The task heads' losses, from the logits the classifier or qa_outputs layer
 * wrote (heads.c runs the layers), as transformers computes them:
 *   sequence classification  by problem_type: CrossEntropyLoss over labels (B), BCEWithLogitsLoss over
 *                            multi_labels (B, L) (the mean of all B*L terms), MSELoss over
 *                            regression_targets (B, L)
 *   token classification     CrossEntropyLoss over labels (B, T), -100 ignored
 *   question answering       logits (B*T, 2) split into start and end (B, T); positions clamped to [0, T]
 *                            and T ignored; (CE(start) + CE(end)) / 2
 * Each keeps its gradient with respect to the logits in d_logits for the backward. */
#include <string.h>

#include "bert/bert_internal.h"

static bool is_seq(const vt_bert *b) { return b->cfg.arch == VT_BERT_FOR_SEQUENCE_CLASSIFICATION; }

vt_status bert_task_check(const vt_bert *b, const vt_bert_batch *in, vt_bert_problem *problem) {
    const vt_bert_config *c = &b->cfg;
    const char *name = vt_bert_config_arch_name(c);
    vt_bert_arch a = c->arch;
    *problem = VT_PROBLEM_UNSET;
    if (in->labels && a != VT_BERT_FOR_SEQUENCE_CLASSIFICATION && a != VT_BERT_FOR_TOKEN_CLASSIFICATION)
        return vt_error(VT_ERR_INVALID_ARG, "%s has no classification head for labels", name);
    if ((in->regression_targets || in->multi_labels) && !is_seq(b))
        return vt_error(VT_ERR_INVALID_ARG, "%s has no sequence classification head for %s", name,
                        in->multi_labels ? "multi_labels" : "regression_targets");
    if ((in->start_positions || in->end_positions) && a != VT_BERT_FOR_QUESTION_ANSWERING)
        return vt_error(VT_ERR_INVALID_ARG, "%s has no question answering head for start/end positions", name);
    if (!in->start_positions != !in->end_positions)
        return vt_error(VT_ERR_INVALID_ARG, "question answering needs both start_positions and end_positions");
    if (!is_seq(b)) return VT_OK;

    int given = !!in->labels + !!in->multi_labels + !!in->regression_targets;
    if (given > 1)
        return vt_error(VT_ERR_INVALID_ARG, "a batch gives one of labels, multi_labels and regression_targets");
    if (!given) return VT_OK;
    vt_bert_problem from_batch = in->labels         ? VT_PROBLEM_SINGLE_LABEL
                                 : in->multi_labels ? VT_PROBLEM_MULTI_LABEL
                                                    : VT_PROBLEM_REGRESSION;
    static const char *const FIELD[] = {[VT_PROBLEM_REGRESSION] = "regression_targets",
                                        [VT_PROBLEM_SINGLE_LABEL] = "labels",
                                        [VT_PROBLEM_MULTI_LABEL] = "multi_labels"};
    if (c->problem_type != VT_PROBLEM_UNSET && c->problem_type != from_batch)
        return vt_error(VT_ERR_INVALID_ARG, "%s has problem_type \"%s\": its loss needs %s, not %s", name,
                        vt_bert_problem_name(c->problem_type), FIELD[c->problem_type], FIELD[from_batch]);
    if (from_batch == VT_PROBLEM_SINGLE_LABEL && c->num_labels < 2)
        return vt_error(VT_ERR_INVALID_ARG,
                        "%s has 1 label: labels (classes) need 2 or more; it regresses (regression_targets) or, with "
                        "problem_type multi_label_classification, scores one label (multi_labels)",
                        name);
    if (in->class_weights && from_batch != VT_PROBLEM_SINGLE_LABEL)
        return vt_error(VT_ERR_INVALID_ARG, "class_weights weigh the classes of labels, not %s", FIELD[from_batch]);
    *problem = from_batch;
    return VT_OK;
}

bool bert_task_has_loss(const vt_bert_batch *in) {
    return in->labels || in->regression_targets || in->multi_labels || in->start_positions;
}

/* Question answering's target at row i: the position clamped to [0, T], with
 * T (transformers' ignored_index) as the ignored label. */
static int32_t qa_target(const int32_t *positions, int64_t i, int64_t T) {
    int64_t p = positions[i] < 0 ? 0 : positions[i];
    return p >= T ? BERT_IGNORE_INDEX : (int32_t)p;
}

static double qa_counted(const int32_t *positions, int64_t B, int64_t T) {
    double n = 0;
    for (int64_t i = 0; i < B; i++) n += qa_target(positions, i, T) != BERT_IGNORE_INDEX;
    return n;
}

void bert_task_norm(const vt_bert *b, const vt_bert_batch *in, vt_bert_loss_norm *out) {
    const vt_bert_config *c = &b->cfg;
    int64_t B = in->batch, T = in->seq_len, L = c->num_labels;
    out->task = out->task_end = 0;
    if (!b->w.cls_w) return;
    if (c->arch == VT_BERT_FOR_QUESTION_ANSWERING) {
        if (in->start_positions && in->end_positions) {
            out->task = qa_counted(in->start_positions, B, T);
            out->task_end = qa_counted(in->end_positions, B, T);
        }
        return;
    }
    if (c->arch == VT_BERT_FOR_TOKEN_CLASSIFICATION) {
        if (in->labels) out->task = bert_label_weight(in->labels, bert_token_rows(in), L, in->class_weights);
        return;
    }
    vt_bert_problem p;
    if (bert_task_check(b, in, &p) != VT_OK) return; /* the forward reports it */
    if (p == VT_PROBLEM_SINGLE_LABEL) out->task = bert_label_weight(in->labels, B, L, in->class_weights);
    else if (p != VT_PROBLEM_UNSET) out->task = (double)(B * L);
}

/* Index of the first maximum of x (n). */
static int64_t argmax(const float *x, int64_t n) {
    int64_t best = 0;
    for (int64_t i = 1; i < n; i++)
        if (x[i] > x[best]) best = i;
    return best;
}

static vt_status qa_loss(vt_bert *b, const vt_bert_batch *in, double start_share, double end_share,
                         vt_bert_outputs *out) {
    int64_t B = in->batch, T = in->seq_len;
    int32_t *start = b->qa_targets, *end = b->qa_targets + B; /* (B) each */
    for (int64_t i = 0; i < B; i++) {
        start[i] = qa_target(in->start_positions, i, T);
        end[i] = qa_target(in->end_positions, i, T);
    }
    double start_loss, end_loss;
    int64_t counted;
    vt_status st = bert_xent(b->qa_start, start, B, T, NULL, b->d_qa_start, 0.5 * start_share, "start_positions",
                             &start_loss, NULL, &counted);
    if (st == VT_OK)
        st = bert_xent(b->qa_end, end, B, T, NULL, b->d_qa_end, 0.5 * end_share, "end_positions", &end_loss, NULL,
                       &counted);
    if (st != VT_OK) return st;
    out->loss = start_loss + end_loss;
    for (int64_t r = 0; r < B * T; r++) { /* (B*T, 2): interleaved as the logits */
        b->d_logits[2 * r] = b->d_qa_start[r];
        b->d_logits[2 * r + 1] = b->d_qa_end[r];
    }
    for (int64_t i = 0; i < B; i++)
        out->correct += start[i] >= 0 && end[i] >= 0 && argmax(b->qa_start + i * T, T) == start[i] &&
                        argmax(b->qa_end + i * T, T) == end[i];
    return VT_OK;
}

/* Elements whose logit > 0 agrees with target > 0.5. */
static int64_t multi_label_correct(const float *logits, const float *targets, int64_t n) {
    int64_t right = 0;
    for (int64_t i = 0; i < n; i++) right += (logits[i] > 0) == (targets[i] > 0.5f);
    return right;
}

vt_status bert_task_loss(vt_bert *b, const vt_bert_batch *in, const vt_bert_loss_norm *norm,
                         const vt_bert_loss_norm *local, vt_bert_outputs *out) {
    const vt_bert_config *c = &b->cfg;
    int64_t B = in->batch, L = c->num_labels;
    double k = bert_share(norm, local->task, norm ? norm->task : 0);
    if (c->arch == VT_BERT_FOR_QUESTION_ANSWERING) {
        for (int64_t r = 0; r < b->cls_rows; r++) { /* (B*T, 2) -> (B, T) each (packed: the token rows) */
            b->qa_start[r] = b->logits[2 * r];
            b->qa_end[r] = b->logits[2 * r + 1];
        }
        out->start_logits = b->qa_start;
        out->end_logits = b->qa_end;
        if (!in->start_positions) return VT_OK;
        return qa_loss(b, in, k, bert_share(norm, local->task_end, norm ? norm->task_end : 0), out);
    }
    vt_bert_problem p = VT_PROBLEM_SINGLE_LABEL; /* token classification */
    vt_status st;
    if (is_seq(b) && (st = bert_task_check(b, in, &p)) != VT_OK) return st;
    int64_t counted;
    switch (p) {
    case VT_PROBLEM_REGRESSION:
        out->loss = vt_mse(b->logits, in->regression_targets, B * L, b->d_logits, (float)k) * k;
        break;
    case VT_PROBLEM_MULTI_LABEL:
        out->loss = vt_binary_xent(b->logits, in->multi_labels, B * L, true, b->d_logits, (float)k) * k;
        out->correct = multi_label_correct(b->logits, in->multi_labels, B * L);
        break;
    case VT_PROBLEM_SINGLE_LABEL:
        if (!in->labels) break;
        if ((st = bert_xent(b->logits, in->labels, b->cls_rows, L, in->class_weights, b->d_logits, k, "labels",
                            &out->loss, &out->correct, &counted)) != VT_OK)
            return st;
        break;
    case VT_PROBLEM_UNSET: break;
    }
    /* As transformers: the first loss of a sequence classifier without a problem_type records it. */
    if (is_seq(b) && b->cfg.problem_type == VT_PROBLEM_UNSET) b->cfg.problem_type = p;
    return VT_OK;
}
