/* Whole inputs to results: class probabilities, embeddings, masked-token
 * predictions (see verto/task.h). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/strbuf.h"
#include "task/task_internal.h"

int vt_task_probs(const float *logits, int m, int K, double *probs) {
    for (int k = 0; k < K; k++) { /* the mean logits; one window's are its own, exactly */
        probs[k] = 0;
        for (int j = 0; j < m; j++) probs[k] += logits[(size_t)j * (size_t)K + (size_t)k];
        probs[k] /= m;
    }
    double mx = probs[0], sum = 0;
    for (int k = 1; k < K; k++) mx = probs[k] > mx ? probs[k] : mx;
    for (int k = 0; k < K; k++) sum += probs[k] = exp(probs[k] - mx);
    for (int k = 0; k < K; k++) probs[k] /= sum;
    if (!isfinite(sum)) return -1;
    int best = 0;
    for (int k = 1; k < K; k++)
        if (probs[k] > probs[best]) best = k;
    return best;
}

int vt_task_scores(const vt_task *t, const float *logits, int m, double *scores) {
    int K = t->cfg->num_labels;
    if (t->kind == VT_TASK_SEQUENCE_CLASSIFICATION) return vt_task_probs(logits, m, K, scores);
    int best = 0;
    for (int k = 0; k < K; k++) { /* the mean logits, then each label's sigmoid or the value itself */
        double sum = 0;
        for (int j = 0; j < m; j++) sum += logits[(size_t)j * (size_t)K + (size_t)k];
        double x = sum / m;
        scores[k] = t->kind == VT_TASK_MULTI_LABEL ? 1 / (1 + exp(-x)) : x;
        if (!isfinite(x)) return -1;
        if (scores[k] > scores[best]) best = k;
    }
    return best;
}

vt_status vt_task_answer_json(const vt_task *t, const double *scores, char **out) {
    const vt_bert_config *c = t->cfg;
    int K = c->num_labels, best = 0;
    for (int k = 1; k < K; k++)
        if (scores[k] > scores[best]) best = k;
    vt_sb b = {0};
    if (t->kind == VT_TASK_REGRESSION && K == 1) {
        vt_sb_printf(&b, "\"score\": %.8g", scores[0]);
    } else {
        if (t->kind == VT_TASK_SEQUENCE_CLASSIFICATION) {
            vt_sb_str(&b, "\"label\": ");
            vt_sb_json_string(&b, c->id2label[best]);
            vt_sb_printf(&b, ", \"score\": %.8g, ", scores[best]);
        } else if (t->kind == VT_TASK_MULTI_LABEL) {
            vt_sb_str(&b, "\"labels\": [");
            for (int k = 0, n = 0; k < K; k++)
                if (scores[k] >= t->threshold) {
                    if (n++) vt_sb_str(&b, ", ");
                    vt_sb_json_string(&b, c->id2label[k]);
                }
            vt_sb_str(&b, "], ");
        }
        vt_sb_str(&b, t->kind == VT_TASK_REGRESSION ? "\"scores\": {" : "\"probs\": {");
        for (int k = 0; k < K; k++) {
            if (k) vt_sb_str(&b, ", ");
            vt_sb_json_string(&b, c->id2label[k]);
            vt_sb_printf(&b, ": %.8g", scores[k]);
        }
        vt_sb_str(&b, "}");
    }
    if (!(*out = vt_sb_take(&b, NULL))) return vt_error(VT_ERR_NOMEM, "out of memory for an answer");
    return VT_OK;
}

void vt_task_normalize(float *v, int64_t H) {
    double norm = 0;
    for (int64_t h = 0; h < H; h++) norm += (double)v[h] * v[h];
    norm = sqrt(norm);
    for (int64_t h = 0; h < H; h++) v[h] = (float)(v[h] / (norm > 1e-12 ? norm : 1e-12));
}

vt_task_output vt_task_output_of(vt_pooling pooling) { return pooling == VT_POOL_MEAN ? VT_OUT_MEAN : VT_OUT_CLS; }

static void free_rows(vt_task_rows *rows, size_t n) {
    for (size_t i = 0; rows && i < n; i++) vt_task_rows_free(&rows[i]);
    free(rows);
}

vt_status vt_task_classify(vt_task *t, const vt_text_input *in, size_t n, double *probs, bool *truncated) {
    if (!vt_task_kind_is_sequence(t->kind))
        return vt_error(VT_ERR_INVALID_ARG, "classify needs a sequence classifier, not a %s task",
                        vt_task_kind_name(t->kind));
    int K = t->cfg->num_labels;
    vt_task_rows *rows = calloc(n ? n : 1, sizeof *rows);
    if (!rows) return vt_error(VT_ERR_NOMEM, "out of memory for %zu inputs", n);
    vt_status st = task_encode_all(t, VT_OUT_LOGITS, in, n, rows);
    size_t total = 0;
    for (size_t i = 0; i < n; i++) total += (size_t)rows[i].n;
    float *logits = st == VT_OK ? malloc((total ? total : 1) * (size_t)K * sizeof *logits) : NULL; /* (rows, K) */
    if (st == VT_OK && !logits) st = vt_error(VT_ERR_NOMEM, "out of memory for %zu rows' logits", total);
    if (st == VT_OK) st = task_run_inputs(t, VT_OUT_LOGITS, rows, n, logits, (size_t)K);
    for (size_t i = 0, r = 0; st == VT_OK && i < n; r += (size_t)rows[i++].n) {
        if (vt_task_scores(t, logits + r * (size_t)K, rows[i].n, probs + i * (size_t)K) < 0)
            st = vt_error(VT_ERR_NUMERIC, "input %zu: the logits are not finite", i + 1);
        if (truncated) truncated[i] = rows[i].truncated;
    }
    free(logits);
    free_rows(rows, n);
    return st;
}

vt_status vt_task_embed(vt_task *t, const vt_text_input *in, size_t n, vt_pooling pooling, bool normalize, float *out,
                        bool *truncated) {
    vt_task_output what = vt_task_output_of(pooling);
    int64_t H = t->cfg->hidden_size;
    vt_task_rows *rows = calloc(n ? n : 1, sizeof *rows);
    if (!rows) return vt_error(VT_ERR_NOMEM, "out of memory for %zu inputs", n);
    vt_status st = task_encode_all(t, what, in, n, rows); /* one row each */
    if (st == VT_OK) st = task_run_inputs(t, what, rows, n, out, (size_t)H);
    for (size_t i = 0; st == VT_OK && i < n; i++) {
        if (normalize) vt_task_normalize(out + i * (size_t)H, H);
        if (truncated) truncated[i] = rows[i].truncated;
    }
    free_rows(rows, n);
    return st;
}

/* Indices of the k largest of x (n), best first, into top (k); -1 fills when n < k. */
static void top_k(const float *x, int64_t n, int k, int64_t *top) {
    for (int j = 0; j < k; j++) top[j] = -1;
    for (int64_t i = 0; i < n; i++) {
        int j = k;
        while (j > 0 && (top[j - 1] < 0 || x[i] > x[top[j - 1]])) j--;
        if (j == k) continue;
        memmove(top + j + 1, top + j, (size_t)(k - j - 1) * sizeof *top);
        top[j] = i;
    }
}

/* The k likeliest tokens of one [MASK]'s logits (V), with their softmax probabilities. */
static void predict(const float *logits, int64_t V, int k, int64_t *top, vt_mask_prediction *out) {
    double max = logits[0], sum = 0;
    for (int64_t v = 1; v < V; v++) max = fmax(max, logits[v]);
    for (int64_t v = 0; v < V; v++) sum += exp(logits[v] - max);
    top_k(logits, V, k, top);
    for (int j = 0; j < k; j++)
        out[j] = top[j] < 0 ? (vt_mask_prediction){-1, 0}
                            : (vt_mask_prediction){(int32_t)top[j], exp(logits[top[j]] - max) / sum};
}

vt_status vt_task_fill_mask(vt_task *t, const vt_text_input *in, size_t n, int k, vt_mask_prediction **preds,
                            int32_t *n_masks) {
    if (t->kind != VT_TASK_FILL_MASK)
        return vt_error(VT_ERR_INVALID_ARG, "fill-mask needs a masked-LM model, not a %s task", vt_task_kind_name(t->kind));
    if (k < 1) return vt_error(VT_ERR_INVALID_ARG, "fill-mask: k must be at least 1");
    int64_t V = t->cfg->vocab_size;
    memset(preds, 0, n * sizeof *preds);
    vt_task_rows *rows = calloc(n ? n : 1, sizeof *rows);
    const vt_tok_encoding **r = malloc((n ? n : 1) * sizeof *r);
    float **logits = calloc(n ? n : 1, sizeof *logits);
    int64_t *top = malloc((size_t)k * sizeof *top);
    vt_status st = rows && r && logits && top ? VT_OK : vt_error(VT_ERR_NOMEM, "out of memory for %zu inputs", n);
    if (st == VT_OK) st = task_encode_all(t, VT_OUT_MASKED, in, n, rows);
    for (size_t i = 0; st == VT_OK && i < n; i++) {
        r[i] = &rows[i].rows[0];
        size_t floats = vt_task_row_floats(t, VT_OUT_MASKED, r[i]);
        n_masks[i] = (int32_t)(floats / (size_t)V);
        logits[i] = malloc((floats ? floats : 1) * sizeof **logits);
        preds[i] = malloc(((size_t)n_masks[i] * (size_t)k + 1) * sizeof **preds);
        if (!logits[i] || !preds[i]) st = vt_error(VT_ERR_NOMEM, "out of memory for input %zu's predictions", i + 1);
    }
    if (st == VT_OK) st = vt_task_run(t, VT_OUT_MASKED, r, n, logits);
    for (size_t i = 0; st == VT_OK && i < n; i++)
        for (int32_t m = 0; m < n_masks[i]; m++) predict(logits[i] + m * V, V, k, top, preds[i] + (size_t)m * (size_t)k);
    for (size_t i = 0; logits && i < n; i++) free(logits[i]);
    if (st != VT_OK)
        for (size_t i = 0; i < n; i++) free(preds[i]), preds[i] = NULL;
    free(logits);
    free(r);
    free(top);
    free_rows(rows, n);
    return st;
}
