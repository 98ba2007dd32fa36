/* A /v1/token-classification request's rows and entities (see ner_call.h). */
#include "serve/ner_call.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int serve_ner_encode(const vt_task *t, const vt_serve_request *req, serve_ner *q, char *msg, size_t size) {
    memset(q, 0, sizeof *q);
    size_t n = req->n, K = (size_t)vt_task_config(t)->num_labels;
    q->texts = calloc(n, sizeof *q->texts);
    q->first = malloc((n + 1) * sizeof *q->first);
    if (!q->texts || !q->first) return snprintf(msg, size, "out of memory"), 500;
    for (size_t i = 0; i < n; i++) {
        const vt_serve_input *in = &req->inputs[i];
        q->first[i] = q->n_rows;
        if (in->text_b) return snprintf(msg, size, "input %zu: token classification reads one text, not a pair", i), 400;
        if (vt_task_ner_encode(t, in->text, in->text_len, &q->texts[i]) != VT_OK) {
            if (n > 1) snprintf(msg, size, "input %zu: %s", i, vt_last_error());
            else snprintf(msg, size, "%s", vt_last_error());
            return vt_last_status() == VT_ERR_NOMEM ? 500 : 400;
        }
        q->n_rows += (size_t)q->texts[i].n_rows;
    }
    q->first[n] = q->n_rows;
    q->rows = malloc((q->n_rows ? q->n_rows : 1) * sizeof *q->rows);
    q->out = calloc(q->n_rows ? q->n_rows : 1, sizeof *q->out);
    if (!q->rows || !q->out) return snprintf(msg, size, "out of memory"), 500;
    for (size_t i = 0, r = 0; i < n; i++)
        for (int32_t j = 0; j < q->texts[i].n_rows; j++, r++) {
            q->rows[r] = &q->texts[i].rows[j];
            if (!(q->out[r] = malloc((size_t)q->rows[r]->len * K * sizeof **q->out)))
                return snprintf(msg, size, "out of memory"), 500;
        }
    return 200;
}

void serve_ner_answer(vt_sb *b, const vt_task *t, const vt_serve_request *req, const serve_ner *q, size_t i) {
    const vt_serve_input *in = &req->inputs[i];
    vt_ner_group *g = NULL;
    size_t n = 0;
    char *json = NULL;
    vt_status st = vt_task_ner_groups(t, in->text, in->text_len, &q->texts[i], (const float *const *)q->out + q->first[i],
                                      req->aggregation, &g, &n);
    if (st == VT_OK) st = vt_task_entities_json(g, n, req->aggregation, &json);
    if (st == VT_OK) vt_sb_str(b, json);
    else b->failed = true;
    free(json);
    vt_ner_groups_free(g, n);
}

void serve_ner_free(serve_ner *q, size_t n) {
    for (size_t i = 0; q->texts && i < n; i++) vt_ner_text_free(&q->texts[i]);
    for (size_t r = 0; q->out && r < q->n_rows; r++) free(q->out[r]);
    free(q->texts), free(q->first), free(q->rows), free(q->out);
    memset(q, 0, sizeof *q);
}
