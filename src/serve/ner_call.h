/* A /v1/token-classification request inside the engine (engine.c): each
 * text's windows as rows for the worker, and its entities from their
 * outputs, as verto predict gives them (vt_task_ner_groups). */
#ifndef VT_SERVE_NER_CALL_H
#define VT_SERVE_NER_CALL_H

#include <stddef.h>

#include "core/strbuf.h"
#include "verto/serve.h"
#include "verto/task.h"

typedef struct serve_ner {
    vt_ner_text *texts;           /* (n) each input's encoding and windows */
    size_t *first;                /* (n + 1) input i's rows are [first[i], first[i + 1]) */
    size_t n_rows;
    const vt_tok_encoding **rows; /* (n_rows) views into texts */
    float **out;                  /* (n_rows) each row's VT_OUT_TOKENS output (len, num_labels) */
} serve_ner;

/* Encodes req's texts into *q (zeroed first; free with serve_ner_free even
 * on failure). Returns 200, or the HTTP status of the failure with its
 * message in msg. */
int serve_ner_encode(const vt_task *t, const vt_serve_request *req, serve_ner *q, char *msg, size_t size);

/* Input i's entities as a JSON array into b; b->failed when it cannot be made. */
void serve_ner_answer(vt_sb *b, const vt_task *t, const vt_serve_request *req, const serve_ner *q, size_t i);

void serve_ner_free(serve_ner *q, size_t n);

#endif
