/* /v1/completions (OpenAI's shape) over a GPT-2 directory: the request
 * parser, and an engine whose worker thread drives a generation session
 * (verto/generate.h) so that concurrent requests join the running batch
 * between tokens (continuous batching) and leave it when done or cancelled.
 *
 * Request body: {"prompt": string | [string, ...] (1..64, each non-empty),
 * "model": string (ignored), "max_tokens": int >= 1 (default 16),
 * "temperature": number in [0, 100] (default 1; 0: greedy), "top_p": (0, 1],
 * "top_k": int >= 0 (an extension; 0 off), "stop": string | [string] (<= 4),
 * "seed": int >= 0, "n": 1 only, "stream": bool, "logprobs": null,
 * "echo": false, "user": string}; anything else, repeated fields, wrong
 * types, invalid UTF-8: 400.
 *
 * Every function is thread-safe unless said otherwise; errors via
 * vt_last_error(), one sentence fit for the client. */
#ifndef VERTO_COMPLETIONS_H
#define VERTO_COMPLETIONS_H

#include "verto/export.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "verto/bert.h" /* vt_precision */
#include "verto/error.h"
#include "verto/sampling.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct vt_completion_request {
    char **prompts;      /* (n_prompts) owned */
    size_t n_prompts;
    int64_t max_tokens;
    vt_sampling_options sampling;
    char **stops;        /* (n_stops) owned */
    int n_stops;
    uint64_t seed;
    bool stream;
} vt_completion_request;

/* VT_ERR_INVALID_ARG with the client's message; *out is safe to free either way. */
VT_API vt_status vt_completion_request_parse(const char *body, size_t len, vt_completion_request *out);
VT_API void vt_completion_request_free(vt_completion_request *r);

typedef struct vt_completions vt_completions;

/* Loads the GPT-2 directory and its tokenizer and starts the worker with
 * max_batch slots; a request's max_tokens may not pass max_tokens_limit;
 * the decoding steps read fp32 or bf16 weights (decode_precision, as
 * vt_gpt2_set_decode_precision). NULL on failure. */
VT_API vt_completions *vt_completions_start(const char *model_dir, int max_batch, int64_t max_tokens_limit,
                                            vt_precision decode_precision);
/* Cancels what runs, stops the worker, frees; no job may be used after. */
VT_API void vt_completions_stop(vt_completions *c);

typedef struct vt_completion_job vt_completion_job;

/* Tokenizes the prompts and queues them. NULL with *http_status 400 (too
 * many tokens, max_tokens over the limit) or 500, and vt_last_error. */
VT_API vt_completion_job *vt_completions_submit(vt_completions *c, const vt_completion_request *r, int *http_status);

typedef struct vt_completion_event {
    int64_t index;             /* the prompt's */
    char *text;                /* new text (malloc'd, may be ""), free it */
    size_t len;
    const char *finish_reason; /* "stop" or "length" when this prompt ended, else NULL */
} vt_completion_event;

/* Waits (up to timeout_ms) for new text or a prompt's end: 1 with an event,
 * 0 on timeout, -1 when every prompt has ended and been reported (or the
 * engine failed: then *failed is set with vt_last_error). */
VT_API int vt_completion_job_next(vt_completion_job *j, int timeout_ms, vt_completion_event *ev, bool *failed);
/* Tokens counted so far: the prompts' and the generated ones. */
VT_API void vt_completion_job_usage(vt_completion_job *j, int64_t *prompt_tokens, int64_t *completion_tokens);
/* Releases the job; one still running is cancelled (its slots freed between steps). */
VT_API void vt_completion_job_free(vt_completion_job *j);

/* Totals for /metrics. */
VT_API void vt_completions_counts(vt_completions *c, int64_t *requests, int64_t *prompt_tokens,
                                  int64_t *completion_tokens, int64_t *running);

#ifdef __cplusplus
}
#endif
#endif
