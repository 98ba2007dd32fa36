/* What the explanations of every task share (explain.c): a row the model
 * reads, what of its outputs is explained, and integrated gradients and
 * rollout over it. The tasks' entry points (explain.c: sequences;
 * explain_tasks.c: entities and answers) build these. */
#ifndef VT_TASK_EXPLAIN_INTERNAL_H
#define VT_TASK_EXPLAIN_INTERNAL_H

#include "task/task_internal.h"
#include "verto/explain.h"

/* One row of T pieces and where its pieces come from. */
typedef struct explain_row {
    int32_t T;
    const int32_t *ids, *types;      /* (T) */
    const int32_t *special;          /* (T) non-zero for special tokens (kept in the baseline) */
    const int32_t *seq, *word;       /* (T) the text a piece came from (0, 1; -1 special) and its word there */
    const int32_t *char_start, *char_end, *byte_start, *byte_end; /* (T) offsets in that text */
} explain_row;

/* What is explained: F of a row's head outputs. */
typedef struct explain_objective explain_objective;
struct explain_objective {
    /* F of one row's outputs (K floats with cls_only, else (T, K)); with d
     * not NULL, also weight * dF/d(outputs) into d (the same shape). */
    double (*value)(const explain_objective *ob, const float *out, double weight, float *d);
    const vt_task *t;
    vt_explain_of of;
    bool cls_only;          /* the sequence classifier's: the last layer at [CLS] only */
    int32_t T, K;
    int32_t target;         /* a sequence's label, or a span's token */
    int32_t which;          /* a span: 0 its start logit, 1 its end logit */
    const int32_t *labels;  /* an entity: (T) each of its pieces' label, -1 elsewhere */
    int32_t count;          /* an entity's pieces */
};

/* e's arrays for T pieces. */
vt_status explain_alloc(vt_explanation *e, int32_t T);
/* Integrated gradients of ob over row r: e's attributions, output, baseline_output, delta. */
vt_status explain_integrated(vt_task *t, const explain_row *r, const vt_explain_options *o,
                             const explain_objective *ob, vt_explanation *e);
/* Attention rollout over row r: e's attributions. */
vt_status explain_rollout(vt_task *t, const explain_row *r, vt_explanation *e);
/* e's pieces (vocabulary strings) and words (the pieces' attributions summed). */
vt_status explain_describe(const vt_task *t, const explain_row *r, vt_explanation *e);
/* o checked for t (NULL: the defaults) into *out. */
vt_status explain_options_for(const vt_task *t, const vt_explain_options *o, vt_explain_options *out);

/* A row from an encoding of `in`: its offsets in characters and in bytes, in
 * *buf (malloc'd, the caller frees it). */
vt_status explain_row_of(const vt_tok_encoding *enc, const vt_text_input *in, explain_row *r, int32_t **buf);

#endif
