/* Inside a vt_task (see verto/task.h). */
#ifndef VT_TASK_INTERNAL_H
#define VT_TASK_INTERNAL_H

#include "verto/task.h"

struct vt_task {
    vt_task_kind kind;
    vt_bert *model;
    vt_tokenizer *tok;
    const vt_bert_config *cfg;
    int32_t max_len, max_windows, batch_size;
    vt_tok_special special;
    double threshold; /* MULTI_LABEL: a label is predicted at or above it */
    /* vt_task_run's buffers, grown to the largest batch seen */
    int32_t *ids, *types, *mask, *select; /* (batch, len) */
    size_t cells;
    size_t *order; /* (rows) the rows of a call, by length */
    size_t order_cap;
};

/* The rows of n inputs (encoded in parallel): rows[i] for input i. On failure
 * the first input's error, with every rows[i] freed. */
vt_status task_encode_all(const vt_task *t, vt_task_output what, const vt_text_input *in, size_t n, vt_task_rows *rows);

/* Runs the rows of inputs[0..n) for `what`: row r of them all (each input's
 * rows consecutive, in input order) to out + r * stride (floats per row). */
vt_status task_run_inputs(vt_task *t, vt_task_output what, const vt_task_rows *rows, size_t n, float *out,
                          size_t stride);

#endif
