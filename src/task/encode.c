/* Inputs as the rows the model reads (see verto/task.h: vt_task_encode). */
#include <stdlib.h>
#include <string.h>

#include "core/par_error.h"
#include "task/task_internal.h"

void vt_task_rows_free(vt_task_rows *r) {
    for (int32_t i = 0; r->rows && i < r->n; i++) vt_tok_encoding_free(&r->rows[i]);
    free(r->rows);
    memset(r, 0, sizeof *r);
}

vt_status vt_task_encode(const vt_task *t, vt_task_output what, const vt_text_input *in, vt_task_rows *out) {
    memset(out, 0, sizeof *out);
    if (t->baseline) return task_baseline_encode(t, what, in, out);
    int32_t W = what == VT_OUT_LOGITS ? t->max_windows : 1; /* windows: a classifier reading long texts whole */
    vt_tok_encoding *rows = calloc((size_t)W, sizeof *rows);  /* zeroed: initialised */
    if (!rows) return vt_error(VT_ERR_NOMEM, "out of memory encoding an input");
    int32_t n = 0;
    vt_status st = vt_tok_encode_windows(t->tok, in->text, in->text_len, in->text_b, in->text_b_len, t->max_len, W, rows,
                                         &n, &out->truncated);
    for (int32_t i = 0; st == VT_OK && i < n; i++)
        if (rows[i].len > vt_bert_max_length(t->cfg))
            st = vt_error(VT_ERR_INVALID_ARG, "an input of %d tokens is longer than the model's %d positions",
                          rows[i].len, vt_bert_max_length(t->cfg));
    for (int32_t i = st == VT_OK ? n : 0; i < W; i++) vt_tok_encoding_free(&rows[i]);
    if (st != VT_OK) {
        free(rows);
        return st;
    }
    out->rows = rows;
    out->n = n;
    return VT_OK;
}

vt_status task_encode_all(const vt_task *t, vt_task_output what, const vt_text_input *in, size_t n, vt_task_rows *rows) {
    vt_par_error err = {0};
    memset(rows, 0, n * sizeof *rows);
#pragma omp parallel for schedule(dynamic, 16)
    for (size_t i = 0; i < n; i++) {
        vt_status st = vt_task_encode(t, what, &in[i], &rows[i]);
        if (st != VT_OK) {
            char msg[512];
            snprintf(msg, sizeof msg, "input %zu: %s", i + 1, vt_last_error());
            vt_par_error_keep(&err, (int64_t)i, vt_error(st, "%s", msg));
        }
    }
    if (err.status == VT_OK) return VT_OK;
    for (size_t i = 0; i < n; i++) vt_task_rows_free(&rows[i]);
    return vt_par_error_raise(&err);
}
