/* Rows through the model (see verto/task.h: vt_task_run): packed batches of
 * mixed lengths (vt_bert_batch.offsets), or for the masked LM, which a packed
 * batch does not run, batches of equal length. */
#include <stdlib.h>
#include <string.h>

#include "task/task_internal.h"

size_t vt_task_row_floats(const vt_task *t, vt_task_output what, const vt_tok_encoding *row) {
    switch (what) {
    case VT_OUT_LOGITS: return (size_t)t->cfg->num_labels;
    case VT_OUT_CLS:
    case VT_OUT_MEAN: return (size_t)t->cfg->hidden_size;
    case VT_OUT_TOKENS: return (size_t)row->len * (size_t)t->cfg->num_labels;
    case VT_OUT_SPAN: return 2 * (size_t)row->len;
    case VT_OUT_MASKED: {
        size_t masks = 0;
        for (int32_t i = 0; i < row->len; i++) masks += row->ids[i] == t->special.mask;
        return masks * (size_t)t->cfg->vocab_size;
    }
    }
    return 0;
}

/* Room for a batch of B rows of T tokens. */
static vt_status reserve(vt_task *t, size_t B, size_t T) {
    size_t cells = B * T;
    if (cells <= t->cells) return VT_OK;
    free(t->ids), free(t->types), free(t->mask), free(t->select);
    t->ids = malloc(cells * sizeof *t->ids);
    t->types = malloc(cells * sizeof *t->types);
    t->mask = malloc(cells * sizeof *t->mask);
    t->select = malloc(cells * sizeof *t->select);
    t->cells = t->ids && t->types && t->mask && t->select ? cells : 0;
    return t->cells ? VT_OK : vt_error(VT_ERR_NOMEM, "out of memory for a batch of %zu rows of %zu tokens", B, T);
}

/* Sorting rows by length, longest first (a packed batch's threads take their
 * costliest work first), then by position (a total order, so batches do not
 * depend on qsort). */
static const vt_tok_encoding *const *g_rows;
static int by_length(const void *a, const void *b) {
    size_t x = *(const size_t *)a, y = *(const size_t *)b;
    int32_t lx = g_rows[x]->len, ly = g_rows[y]->len;
    if (lx != ly) return (lx < ly) - (lx > ly);
    return (x > y) - (x < y);
}

/* out (H) = the state of the first of T rows of hidden (T, H), or their mean. */
static void pool(const float *hidden, int64_t T, int64_t H, bool mean, float *out) {
    if (!mean) {
        memcpy(out, hidden, (size_t)H * sizeof *out);
        return;
    }
    for (int64_t h = 0; h < H; h++) {
        double sum = 0;
        for (int64_t i = 0; i < T; i++) sum += hidden[i * H + h];
        out[h] = (float)(sum / (double)T);
    }
}

/* Rows idx (B) of different lengths as one packed batch, no padding. */
static vt_status run_packed(vt_task *t, vt_task_output what, const vt_tok_encoding *const *rows, const size_t *idx,
                            size_t B, float *const *out) {
    int64_t H = t->cfg->hidden_size, K = t->cfg->num_labels, *off = t->offsets;
    off[0] = 0;
    for (size_t b = 0; b < B; b++) off[b + 1] = off[b] + rows[idx[b]]->len;
    vt_status st = reserve(t, 1, (size_t)off[B]);
    if (st != VT_OK) return st;
    for (size_t b = 0; b < B; b++) {
        const vt_tok_encoding *e = rows[idx[b]];
        memcpy(t->ids + off[b], e->ids, (size_t)e->len * sizeof *t->ids);
        memcpy(t->types + off[b], e->type_ids, (size_t)e->len * sizeof *t->types);
    }
    const int32_t *types = t->cfg->type_vocab_size > 1 ? t->types : NULL; /* (as run_batch) */
    vt_bert_batch batch = {.batch = (int64_t)B, .input_ids = t->ids, .token_type_ids = types, .offsets = off,
                           .cls_only = what == VT_OUT_LOGITS};
    vt_bert_outputs o;
    if ((st = vt_bert_forward(t->model, &batch, false, 0, &o)) != VT_OK) return st;
    for (size_t b = 0; b < B; b++) {
        float *dst = out[idx[b]];
        int64_t T = off[b + 1] - off[b];
        if (what == VT_OUT_LOGITS) {
            memcpy(dst, o.logits + b * K, (size_t)K * sizeof *dst);
        } else if (what == VT_OUT_TOKENS) {
            memcpy(dst, o.logits + off[b] * K, (size_t)(T * K) * sizeof *dst);
        } else if (what == VT_OUT_SPAN) { /* start logits (T), then end logits (T) */
            memcpy(dst, o.start_logits + off[b], (size_t)T * sizeof *dst);
            memcpy(dst + T, o.end_logits + off[b], (size_t)T * sizeof *dst);
        } else { /* VT_OUT_CLS, VT_OUT_MEAN */
            pool(o.last_hidden_state + off[b] * H, T, H, what == VT_OUT_MEAN, dst);
        }
    }
    return VT_OK;
}

static vt_status run_batch(vt_task *t, vt_task_output what, const vt_tok_encoding *const *rows, const size_t *idx,
                           size_t B, float *const *out) {
    int64_t T = rows[idx[0]]->len, H = t->cfg->hidden_size, K = t->cfg->num_labels;
    vt_status st = reserve(t, B, (size_t)T);
    if (st != VT_OK) return st;
    bool any_mask = false;
    for (size_t b = 0; b < B; b++) { /* every row is T long: no padding */
        const vt_tok_encoding *e = rows[idx[b]];
        memcpy(t->ids + b * T, e->ids, (size_t)T * sizeof *t->ids);
        memcpy(t->types + b * T, e->type_ids, (size_t)T * sizeof *t->types);
        for (int64_t i = 0; i < T; i++) {
            t->mask[b * T + i] = 1;
            any_mask |= (t->select[b * T + i] = e->ids[i] == t->special.mask);
        }
    }
    if (what == VT_OUT_MASKED && !any_mask) return VT_OK; /* nothing to predict */
    /* One token type (RoBERTa) or none (DistilBERT): a pair's second segment is type 0 too. */
    const int32_t *types = t->cfg->type_vocab_size > 1 ? t->types : NULL;
    vt_bert_batch batch = {.batch = (int64_t)B, .seq_len = T, .input_ids = t->ids, .token_type_ids = types,
                           .attention_mask = t->mask, .cls_only = what == VT_OUT_LOGITS,
                           .mlm_select = what == VT_OUT_MASKED ? t->select : NULL};
    vt_bert_outputs o;
    if ((st = vt_bert_forward(t->model, &batch, false, 0, &o)) != VT_OK) return st;
    const float *masked = o.mlm_logits; /* (P, V), the batch's [MASK]s in order */
    for (size_t b = 0; b < B; b++) {
        float *dst = out[idx[b]];
        if (what == VT_OUT_LOGITS) {
            memcpy(dst, o.logits + b * K, (size_t)K * sizeof *dst);
        } else if (what == VT_OUT_TOKENS) {
            memcpy(dst, o.logits + b * T * K, (size_t)(T * K) * sizeof *dst);
        } else if (what == VT_OUT_SPAN) { /* start logits (T), then end logits (T) */
            memcpy(dst, o.start_logits + b * T, (size_t)T * sizeof *dst);
            memcpy(dst + T, o.end_logits + b * T, (size_t)T * sizeof *dst);
        } else if (what == VT_OUT_CLS || what == VT_OUT_MEAN) {
            pool(o.last_hidden_state + b * T * H, T, H, what == VT_OUT_MEAN, dst);
        } else {
            size_t n = vt_task_row_floats(t, what, rows[idx[b]]);
            memcpy(dst, masked, n * sizeof *dst);
            masked += n;
        }
    }
    return VT_OK;
}

vt_status vt_task_run(vt_task *t, vt_task_output what, const vt_tok_encoding *const *rows, size_t n,
                      float *const *out) {
    if (what == VT_OUT_LOGITS && !vt_task_kind_is_sequence(t->kind))
        return vt_error(VT_ERR_INVALID_ARG, "this model is not a sequence classifier: it has no labels to score");
    if (what == VT_OUT_TOKENS && t->kind != VT_TASK_TOKEN_CLASSIFICATION)
        return vt_error(VT_ERR_INVALID_ARG, "this model is not a token classifier");
    if (what == VT_OUT_SPAN && t->kind != VT_TASK_QUESTION_ANSWERING)
        return vt_error(VT_ERR_INVALID_ARG, "this model is not a question-answering model: it has no span head");
    if (what == VT_OUT_MASKED && t->kind != VT_TASK_FILL_MASK)
        return vt_error(VT_ERR_INVALID_ARG, "this model has no masked-LM head loaded");
    if (t->baseline) return task_baseline_run(t, rows, n, out);
    if (n > t->order_cap) {
        size_t *o = realloc(t->order, n * sizeof *o);
        if (o) t->order = o;
        int64_t *off = o ? realloc(t->offsets, (n + 1) * sizeof *off) : NULL;
        if (!off) return vt_error(VT_ERR_NOMEM, "out of memory ordering %zu rows", n);
        t->offsets = off;
        t->order_cap = n;
    }
    for (size_t i = 0; i < n; i++) {
        if (rows[i]->len < 1 || rows[i]->len > vt_bert_max_length(t->cfg))
            return vt_error(VT_ERR_INVALID_ARG, "row %zu has %d tokens: 1 to the model's %d positions are needed", i,
                            rows[i]->len, vt_bert_max_length(t->cfg));
        t->order[i] = i;
    }
    g_rows = rows; /* (one caller at a time) */
    qsort(t->order, n, sizeof *t->order, by_length);
    bool packed = what != VT_OUT_MASKED; /* (a packed batch runs no MLM head) */
    for (size_t start = 0; start < n;) {
        size_t B = 1; /* up to batch_size rows: of any lengths packed, of one length otherwise */
        while (start + B < n && B < (size_t)t->batch_size &&
               (packed || rows[t->order[start + B]]->len == rows[t->order[start]]->len))
            B++;
        vt_status st = packed ? run_packed(t, what, rows, t->order + start, B, out)
                              : run_batch(t, what, rows, t->order + start, B, out);
        if (st != VT_OK) return st;
        start += B;
    }
    return VT_OK;
}

vt_status task_run_inputs(vt_task *t, vt_task_output what, const vt_task_rows *inputs, size_t n, float *out,
                          size_t stride) { /* row r of them all (inputs' rows consecutive) to out + r * stride */
    size_t total = 0;
    for (size_t i = 0; i < n; i++) total += (size_t)inputs[i].n;
    const vt_tok_encoding **rows = malloc((total ? total : 1) * sizeof *rows);
    float **dst = malloc((total ? total : 1) * sizeof *dst);
    vt_status st = rows && dst ? VT_OK : vt_error(VT_ERR_NOMEM, "out of memory for %zu rows", total);
    for (size_t i = 0, r = 0; st == VT_OK && i < n; i++)
        for (int32_t j = 0; j < inputs[i].n; j++, r++) {
            rows[r] = &inputs[i].rows[j];
            dst[r] = out + r * stride;
        }
    if (st == VT_OK) st = vt_task_run(t, what, rows, total, dst);
    free(rows);
    free(dst);
    return st;
}
