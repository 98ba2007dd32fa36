/* A /v1/question-answering request inside the engine (engine.c): its
 * questions' features as rows for the worker, and the answers from their
 * outputs, as verto predict gives them (vt_task_qa_answer). */
#ifndef VT_SERVE_QA_CALL_H
#define VT_SERVE_QA_CALL_H

#include <stddef.h>

#include "core/strbuf.h"
#include "verto/serve.h"
#include "verto/task.h"

typedef struct serve_qa {
    vt_qa_features f;       /* every question's features */
    size_t *first;          /* (n + 1) question i's features are [first[i], first[i + 1]) */
    vt_tok_encoding *rows;  /* (f.n) the features as rows (views into f) */
    float **out;            /* (f.n) each row's VT_OUT_SPAN output (2 * len) */
} serve_qa;

/* Encodes req's questions (text: question, text_b: context) into *q (zeroed
 * first; free with serve_qa_free even on failure). Returns 200, or the HTTP
 * status of the failure with its message in msg. */
int serve_qa_encode(const vt_task *t, const vt_serve_request *req, serve_qa *q, char *msg, size_t size);

/* Question i's answer as a JSON object into b ({"answer", "score", "start",
 * "end"}); b->failed when memory ran out. */
void serve_qa_answer_object(vt_sb *b, const vt_task *t, const vt_serve_request *req, const serve_qa *q, size_t i);

void serve_qa_free(serve_qa *q);

#endif
