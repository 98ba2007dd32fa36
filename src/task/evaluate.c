/* A classifier on labelled data: predictions, metrics and loss (see
 * verto/task.h: vt_task_evaluate). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "task/task_internal.h"

/* scores (n, num_labels) of a labelled set's texts, as vt_task_classify gives them. */
static vt_status score_texts(vt_task *t, const vt_labelled *data, double *scores) {
    vt_text_input *in = calloc(data->n ? data->n : 1, sizeof *in);
    if (!in) return vt_error(VT_ERR_NOMEM, "out of memory for %zu examples", data->n);
    for (size_t i = 0; i < data->n; i++)
        in[i] = (vt_text_input){data->text[i], data->text_len[i], data->text_b ? data->text_b[i] : NULL,
                                data->text_b ? data->text_b_len[i] : 0};
    vt_status st = vt_task_classify(t, in, data->n, scores, NULL);
    free(in);
    return st;
}

vt_status vt_task_evaluate(vt_task *t, const vt_labelled *data, double *probs_out, int32_t *pred_out,
                           vt_metrics *metrics, double *loss_out) {
    if (t->kind != VT_TASK_SEQUENCE_CLASSIFICATION)
        return vt_error(VT_ERR_INVALID_ARG, "evaluation needs a sequence classifier, not a %s task",
                        vt_task_kind_name(t->kind));
    size_t n = data->n, K = (size_t)t->cfg->num_labels;
    double *probs = probs_out ? probs_out : malloc((n ? n : 1) * K * sizeof *probs);
    int32_t *pred = pred_out ? pred_out : malloc((n ? n : 1) * sizeof *pred);
    double *score = malloc((n ? n : 1) * sizeof *score);
    vt_status st = probs && pred && score ? VT_OK : vt_error(VT_ERR_NOMEM, "out of memory for %zu examples", n);
    if (st == VT_OK) st = score_texts(t, data, probs);
    double loss = 0;
    for (size_t i = 0; st == VT_OK && i < n; i++) {
        const double *p = probs + i * K;
        int32_t best = 0;
        for (size_t k = 1; k < K; k++)
            if (p[k] > p[best]) best = (int32_t)k;
        pred[i] = best;
        score[i] = p[1]; /* the positive class (id 1) when there are two */
        if (data->label[i] < 0 || (size_t)data->label[i] >= K)
            st = vt_error(VT_ERR_INVALID_ARG, "example %zu: label id %d is not one of the model's %zu", i + 1,
                          data->label[i], K);
        else loss -= log(p[data->label[i]] > 1e-300 ? p[data->label[i]] : 1e-300);
    }
    if (st == VT_OK && metrics) st = vt_metrics_compute(data->label, pred, K == 2 ? score : NULL, n, (int)K, metrics);
    if (st == VT_OK && loss_out) *loss_out = n ? loss / (double)n : 0;
    if (!probs_out) free(probs);
    if (!pred_out) free(pred);
    free(score);
    return st;
}

vt_status vt_task_evaluate_multilabel(vt_task *t, const vt_labelled *data, double threshold, double *probs_out,
                                      vt_multilabel_metrics *metrics, double *loss_out) {
    if (t->kind != VT_TASK_MULTI_LABEL)
        return vt_error(VT_ERR_INVALID_ARG, "multi-label evaluation needs a multi-label model, not a %s task",
                        vt_task_kind_name(t->kind));
    size_t n = data->n, L = (size_t)t->cfg->num_labels;
    if (!data->multi_hot || data->num_labels != (int)L)
        return vt_error(VT_ERR_INVALID_ARG, "multi-label evaluation needs label sets over the model's %zu labels", L);
    double *p = malloc((n ? n : 1) * L * sizeof *p);
    vt_status st = p ? score_texts(t, data, p) : vt_error(VT_ERR_NOMEM, "out of memory for %zu examples", n);
    double loss = 0; /* BCEWithLogitsLoss from the probabilities: -log p or -log(1 - p), floored */
    for (size_t i = 0; st == VT_OK && i < n * L; i++)
        loss -= log(fmax(data->multi_hot[i] ? p[i] : 1 - p[i], 1e-300));
    if (st == VT_OK && metrics)
        st = vt_multilabel_metrics_compute(data->multi_hot, p, n, (int)L, threshold < 0 ? t->threshold : threshold,
                                           metrics);
    if (st == VT_OK && loss_out) *loss_out = n ? loss / (double)(n * L) : 0;
    if (st == VT_OK && probs_out) memcpy(probs_out, p, n * L * sizeof *p);
    free(p);
    return st;
}

vt_status vt_task_evaluate_regression(vt_task *t, const vt_labelled *data, double *pred_out,
                                      vt_regression_metrics *metrics, double *loss_out) {
    if (t->kind != VT_TASK_REGRESSION || t->cfg->num_labels != 1)
        return vt_error(VT_ERR_INVALID_ARG, "regression evaluation needs a regression model with one output");
    if (!data->target) return vt_error(VT_ERR_INVALID_ARG, "regression evaluation needs numeric targets");
    double *pred = malloc((data->n ? data->n : 1) * sizeof *pred);
    vt_status st = pred ? score_texts(t, data, pred) : vt_error(VT_ERR_NOMEM, "out of memory for %zu examples", data->n);
    vt_regression_metrics m;
    if (st == VT_OK) st = vt_regression_metrics_compute(data->target, pred, data->n, &m);
    if (st == VT_OK && metrics) *metrics = m;
    if (st == VT_OK && loss_out) *loss_out = m.mse;
    if (st == VT_OK && pred_out) memcpy(pred_out, pred, data->n * sizeof *pred);
    free(pred);
    return st;
}
