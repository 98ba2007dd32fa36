/* A /v1/question-answering request's rows and answers (see qa_call.h). */
#include "serve/qa_call.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static vt_qa_input question_of(const vt_serve_input *in) {
    return (vt_qa_input){in->text, in->text_len, in->text_b, in->text_b_len};
}

int serve_qa_encode(const vt_task *t, const vt_serve_request *req, serve_qa *q, char *msg, size_t size) {
    memset(q, 0, sizeof *q);
    vt_qa_features_init(&q->f);
    size_t n = req->n;
    if (!(q->first = malloc((n + 1) * sizeof *q->first))) return snprintf(msg, size, "out of memory"), 500;
    for (size_t i = 0; i < n; i++) {
        q->first[i] = q->f.n;
        vt_qa_input in = question_of(&req->inputs[i]);
        if (vt_task_qa_features(t, &in, (int32_t)i, &q->f) != VT_OK) {
            if (n > 1) snprintf(msg, size, "input %zu: %s", i, vt_last_error());
            else snprintf(msg, size, "%s", vt_last_error());
            return vt_last_status() == VT_ERR_NOMEM ? 500 : 400;
        }
    }
    q->first[n] = q->f.n;
    size_t rows = q->f.n;
    q->rows = malloc((rows ? rows : 1) * sizeof *q->rows);
    q->out = calloc(rows ? rows : 1, sizeof *q->out);
    if (!q->rows || !q->out) return snprintf(msg, size, "out of memory"), 500;
    for (size_t r = 0; r < rows; r++) {
        q->rows[r] = vt_task_qa_row(&q->f, r);
        if (!(q->out[r] = malloc(2 * (size_t)q->rows[r].len * sizeof **q->out)))
            return snprintf(msg, size, "out of memory"), 500;
    }
    return 200;
}

void serve_qa_answer_object(vt_sb *b, const vt_task *t, const vt_serve_request *req, const serve_qa *q, size_t i) {
    vt_qa_input in = question_of(&req->inputs[i]);
    vt_qa_answer a;
    char *json = NULL;
    vt_status st = vt_task_qa_answer(t, &q->f, q->first[i], q->first[i + 1] - q->first[i], &in,
                                     (const float *const *)q->out + q->first[i], &a);
    if (st == VT_OK) st = vt_task_qa_answer_json(&a, &json);
    if (st == VT_OK) vt_sb_printf(b, "{%s}", json);
    else b->failed = true;
    free(json);
    vt_qa_answers_free(&a, 1);
}

void serve_qa_free(serve_qa *q) {
    for (size_t r = 0; q->out && r < q->f.n; r++) free(q->out[r]);
    free(q->out);
    free(q->rows);
    free(q->first);
    vt_qa_features_free(&q->f);
    memset(q, 0, sizeof *q);
}
