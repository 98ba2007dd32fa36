/* A TF-IDF + logistic regression directory (verto/baseline.h) as a task:
 * rows are a text's known terms (ids: the columns; type_ids: their counts),
 * "running" them gives the decision values as logits, so vt_task_scores,
 * vt_task_classify, the evaluations, verto predict and the serve engine read
 * it as they read a fine-tuned classifier. */
#include <stdlib.h>
#include <string.h>

#include "baseline/baseline_internal.h"
#include "task/task_internal.h"
#include "verto/fileio.h"

#define MAX_CONFIG_BYTES (16u << 20)

vt_status task_baseline_kind(const char *dir, vt_task_kind *out) {
    char path[4096], *text = NULL;
    size_t len = 0;
    snprintf(path, sizeof path, "%s/config.json", dir);
    vt_baseline b = {0};
    vt_status st = vt_read_file(path, MAX_CONFIG_BYTES, &text, &len);
    if (st == VT_OK) st = bl_config_parse(&b, text, len, path);
    if (st == VT_OK) *out = b.multi ? VT_TASK_MULTI_LABEL : VT_TASK_SEQUENCE_CLASSIFICATION;
    for (int k = 0; b.labels && k < b.K; k++) free(b.labels[k]);
    free(b.labels);
    free(text);
    return st;
}

vt_task *task_load_baseline(const char *dir, const vt_task_options *o) {
    vt_baseline *b = vt_baseline_load(dir);
    if (!b) return NULL;
    vt_task_kind kind = b->multi ? VT_TASK_MULTI_LABEL : VT_TASK_SEQUENCE_CLASSIFICATION;
    if (o->kind != kind) {
        vt_error(VT_ERR_INVALID_ARG, "%s is a TF-IDF + logistic regression %s model, not %s", dir, vt_task_kind_name(kind),
                 vt_task_kind_name(o->kind));
        vt_baseline_free(b);
        return NULL;
    }
    vt_task *t = calloc(1, sizeof *t);
    if (!t) {
        vt_baseline_free(b);
        return vt_error(VT_ERR_NOMEM, "out of memory loading %s", dir), NULL;
    }
    /* the config a classifier of these labels has; no encoder: no hidden size, layers or positions */
    vt_bert_config *c = &t->baseline_cfg;
    vt_bert_config_default(c, VT_BERT_FOR_SEQUENCE_CLASSIFICATION);
    c->vocab_size = b->tfidf.V;
    c->hidden_size = c->num_hidden_layers = c->num_attention_heads = c->intermediate_size = 0;
    c->max_position_embeddings = c->type_vocab_size = 0;
    c->num_labels = b->K;
    c->problem_type = b->multi ? VT_PROBLEM_MULTI_LABEL : VT_PROBLEM_SINGLE_LABEL;
    for (int k = 0; k < b->K; k++) snprintf(c->id2label[k], sizeof c->id2label[k], "%s", b->labels[k]);
    t->kind = kind;
    t->baseline = b;
    t->cfg = c;
    t->batch_size = o->batch_size;
    t->max_windows = 1;
    t->threshold = b->threshold;
    return t;
}

const vt_baseline *vt_task_baseline(const vt_task *t) { return t->baseline; }

vt_status task_baseline_encode(const vt_task *t, vt_task_output what, const vt_text_input *in, vt_task_rows *out) {
    if (what != VT_OUT_LOGITS)
        return vt_error(VT_ERR_UNSUPPORTED, "a TF-IDF + logistic regression model gives class scores only, not %s",
                        what == VT_OUT_CLS || what == VT_OUT_MEAN ? "embeddings" : "token outputs");
    if (in->text_b) return vt_error(VT_ERR_UNSUPPORTED, "a TF-IDF + logistic regression model reads single texts, not pairs");
    vt_tok_encoding *row = calloc(1, sizeof *row);
    bl_scratch s = {0};
    int32_t cap = 0;
    vt_status st = row ? bl_tfidf_counts(&t->baseline->tfidf, &s, in->text, in->text_len, &row->ids, &row->type_ids,
                                         &row->len, &cap)
                       : vt_error(VT_ERR_NOMEM, "out of memory encoding an input");
    bl_scratch_free(&s);
    if (st != VT_OK) {
        if (row) vt_tok_encoding_free(row);
        free(row);
        return st;
    }
    out->rows = row;
    out->n = 1;
    out->truncated = false;
    return VT_OK;
}

vt_status task_baseline_run(const vt_task *t, const vt_tok_encoding *const *rows, size_t n, float *const *out) {
    const vt_baseline *b = t->baseline;
    vt_status st = VT_OK;
    double *val = NULL, z[VT_BERT_MAX_LABELS];
    for (size_t i = 0; st == VT_OK && i < n; i++) {
        const vt_tok_encoding *r = rows[i];
        for (int32_t k = 0; k < r->len; k++)
            if (r->ids[k] < 0 || r->ids[k] >= b->tfidf.V || r->type_ids[k] < 1)
                return free(val), vt_error(VT_ERR_INVALID_ARG, "row %zu is not a TF-IDF row of this model", i);
        double *v = realloc(val, ((size_t)r->len + 1) * sizeof *v);
        if (!v) {
            st = vt_error(VT_ERR_NOMEM, "out of memory for a row of %d terms", r->len);
            break;
        }
        val = v;
        bl_tfidf_values(&b->tfidf, r->ids, r->type_ids, r->len, val);
        bl_decision(b, r->ids, val, r->len, z);
        if (b->Kp == 1 && !b->multi) { /* two classes: softmax([0, z]) = [1 - sigmoid(z), sigmoid(z)] */
            out[i][0] = 0;
            out[i][1] = (float)z[0];
        } else
            for (int k = 0; k < b->Kp; k++) out[i][k] = (float)z[k];
    }
    free(val);
    return st;
}
