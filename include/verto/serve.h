/* Serving: the transport-independent part of `verto serve`, an HTTP
 * inference service for fine-tuned BERT models.
 *
 * Three pieces, each usable alone:
 *
 *   - the request parser (vt_serve_request_parse): a JSON body of
 *     /v1/classify or /v1/embed checked strictly (valid UTF-8, known fields of
 *     the right types, non-empty texts) into a list of inputs; errors are one
 *     sentence for the client's {"error": "..."};
 *   - the engine (vt_serve_start ... vt_serve_stop): loads a model directory
 *     on its own inference worker thread, then answers requests
 *     (vt_serve_handle: method, path and body in, status and JSON body out).
 *     Handlers run on any number of threads: each tokenizes its inputs on its
 *     own thread, queues them and waits on a condition variable; the worker
 *     is the only thread that runs the model. It gathers queued inputs of all
 *     requests, of any lengths (packed without padding), into one forward
 *     pass of up to max_batch inputs (and max_batch_tokens tokens), waiting at
 *     most max_wait_ms after the oldest queued input for the batch to fill
 *     (dynamic batching). The model is a vt_task (verto/task.h), so results
 *     are computed by the functions verto predict and verto embed use, and
 *     printed with the same "%.8g";
 *   - the metrics (Prometheus text format): requests by endpoint and status,
 *     a latency histogram per endpoint, batch sizes, requests in flight,
 *     queued inputs.
 *
 * The HTTP server itself (libmicrohttpd) is in src/cli/cmd_serve.c. The
 * library never prints or exits; a bad request is an HTTP 4xx answer. */
#ifndef VERTO_SERVE_H
#define VERTO_SERVE_H

#include "verto/export.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "verto/bert.h"
#include "verto/explain.h"
#include "verto/task.h"
#include "verto/error.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- requests --------------------------------------------------------- */

/* The endpoints, also the `endpoint` label of the metrics. */
typedef enum vt_serve_endpoint {
    VT_SERVE_CLASSIFY = 0, /* POST /v1/classify */
    VT_SERVE_EMBED,        /* POST /v1/embed */
    VT_SERVE_HEALTHZ,      /* GET /healthz */
    VT_SERVE_MODEL,        /* GET /v1/model */
    VT_SERVE_METRICS,      /* GET /metrics */
    VT_SERVE_QUESTION_ANSWERING, /* POST /v1/question-answering */
    VT_SERVE_TOKEN_CLASSIFICATION, /* POST /v1/token-classification */
    VT_SERVE_EXPLAIN,      /* POST /v1/explain */
    VT_SERVE_PAGE,         /* GET /: the page for people */
    VT_SERVE_OTHER,        /* anything else (404) */
    VT_SERVE_N_ENDPOINTS
} vt_serve_endpoint;

/* "/v1/classify", ..., "other". */
VT_API const char *vt_serve_endpoint_name(vt_serve_endpoint e);
/* The endpoint of a request path (exact match; VT_SERVE_OTHER if none). */
VT_API vt_serve_endpoint vt_serve_endpoint_of(const char *path);

/* One input: a text, or a pair (text_b != NULL). The strings are
 * NUL-terminated, non-empty, valid UTF-8 without NUL bytes, and owned by the
 * request. */
typedef struct vt_serve_input {
    const char *text;
    size_t text_len;
    const char *text_b; /* NULL for a single text */
    size_t text_b_len;
} vt_serve_input;

typedef struct vt_serve_request {
    vt_serve_endpoint endpoint; /* VT_SERVE_CLASSIFY, VT_SERVE_EMBED or VT_SERVE_QUESTION_ANSWERING (whose
                                   inputs carry the question as text and the context as text_b) */
    bool batch;                 /* the {"inputs": [...]} form: answer {"results": [...]} */
    size_t n;                   /* inputs (>= 1) */
    vt_serve_input *inputs;     /* (n) */
    vt_pooling pooling;         /* embed: "pooling" ("cls" default, or "mean") */
    bool normalize;             /* embed: "normalize" (default false): unit length */
    vt_explain_options explain; /* explain: "method", "steps", "rule", "of" over the defaults */
    const char *target;         /* explain: "target", a label's name (NULL: the predicted label) */
    bool questions;             /* explain, question answering: the inputs are {"question", "context"} */
    vt_ner_aggregation aggregation; /* token-classification: "aggregation_strategy" (default "simple") */
    void *priv;                 /* the parsed document the strings live in */
} vt_serve_request;

/* Parses the body of a /v1/classify or /v1/embed request (`len` bytes, not
 * necessarily NUL-terminated). Accepted shapes:
 *   {"text": "...", "text_b": "..."}            (text_b optional)
 *   {"inputs": [{"text": "...", "text_b": "..."}, ...]}   (1 or more)
 * plus, for embed only, "pooling": "cls"|"mean" and "normalize": true|false
 * at the top level; for /v1/token-classification {"text"} or {"inputs": [{"text"}, ...]} plus
 * "aggregation_strategy": "simple"|"none"|"first"|"average"|"max" at the top level; for /v1/question-answering
 *   {"question": "...", "context": "..."}  or  {"inputs": [{"question", "context"}, ...]}
 * (both strings required; read into text and text_b); for /v1/explain the
 * classify shapes, or the question-answering ones for a question-answering
 * model (at most 16 inputs), plus "target" (a label's name),
 * "method" ("integrated-gradients" or "rollout"), "steps" (1..1000), "rule"
 * (Captum's names) and "of" ("logit" or "probability"). The body must be valid UTF-8 and one JSON object (white
 * space around it allowed); unknown or repeated fields, wrong types, empty
 * texts, "\u0000" in a text, both or neither of "text" and "inputs" are
 * errors. On failure returns VT_ERR_INVALID_ARG (VT_ERR_NOMEM if memory ran
 * out), leaves *out empty (safe to free) and a message fit for the client in
 * vt_last_error(). Thread-safe. Free with vt_serve_request_free. */
VT_API vt_status vt_serve_request_parse(vt_serve_endpoint endpoint, const char *body, size_t len,
                                        vt_serve_request *out);
VT_API void vt_serve_request_free(vt_serve_request *r);

/* ---- engine ----------------------------------------------------------- */

typedef struct vt_serve_options {
    int max_batch;          /* inputs per forward pass, >= 1 (default 32) */
    int max_wait_ms;        /* wait for a batch to fill, >= 0 (default 5) */
    int32_t max_seq_length; /* truncate inputs to this many tokens (at most the model's
                               positions); 0: the tokenizer's model_max_length, which
                               fine-tuning sets to its length (default 0) */
    int threads;            /* OpenMP threads of the worker's forward passes; 0: default */
    size_t max_body_bytes;  /* the limit named in 413 answers (default 1 MiB); the
                               transport enforces it and says so by body_too_large */
    vt_precision precision; /* of the model's matrix products (default fp32) */
    int max_batch_tokens;   /* tokens per forward pass (its rows' lengths summed; a longer
                               row runs alone), >= 0; 0: no limit but max_batch (default 0) */
} vt_serve_options;

VT_API void vt_serve_options_default(vt_serve_options *o);

typedef struct vt_serve vt_serve;

typedef enum vt_serve_state {
    VT_SERVE_LOADING = 0, /* the worker is loading the model: /healthz 503 */
    VT_SERVE_READY,       /* serving */
    VT_SERVE_FAILED,      /* loading failed (vt_serve_failure says why) */
    VT_SERVE_DRAINING,    /* vt_serve_drain was called: new model requests get 503 */
} vt_serve_state;

/* Starts the engine: returns at once, while the worker thread loads
 * `model_dir` (config.json, model.safetensors, vocab.txt and
 * tokenizer_config.json, as verto predict reads them). A directory whose
 * config is a BertForSequenceClassification must have a trained classifier
 * with 2 or more labels (as verto predict demands) and serves both
 * endpoints; any other BERT directory is loaded as a BertModel and serves
 * /v1/embed only. NULL (with vt_last_error) for bad options or when the
 * thread cannot start. */
VT_API vt_serve *vt_serve_start(const char *model_dir, const vt_serve_options *o);

VT_API vt_serve_state vt_serve_get_state(vt_serve *s);
/* Waits up to timeout_ms for the state to leave VT_SERVE_LOADING; returns it. */
VT_API vt_serve_state vt_serve_wait_loaded(vt_serve *s, int timeout_ms);
/* The load error when VT_SERVE_FAILED ("" otherwise); valid until vt_serve_stop. */
VT_API const char *vt_serve_failure(vt_serve *s);

/* Refuses new model requests from now on (503 "shutting down"); requests
 * already queued are still answered. */
VT_API void vt_serve_drain(vt_serve *s);
/* Requests inside vt_serve_handle right now. */
VT_API int64_t vt_serve_in_flight(vt_serve *s);

/* Finishes the queued work, stops the worker and frees everything. No
 * vt_serve_handle call may be running or start afterwards. NULL is a no-op. */
VT_API void vt_serve_stop(vt_serve *s);

/* An answer: HTTP status and a malloc'd body (JSON, or the metrics text). */
typedef struct vt_serve_response {
    int status;
    char *body;               /* NUL-terminated; NULL only if memory ran out (then status 500) */
    size_t len;
    const char *content_type; /* static string */
    const char *allow;        /* for 405: the methods allowed (static), else NULL */
} vt_serve_response;

/* Answers one HTTP request: `method` ("GET", "POST", ...), `path` without
 * the query string, and the body (`len` bytes; may be NULL when len is 0).
 * body_too_large says the transport stopped reading a body over the limit
 * (the answer is 413). Blocks until the answer is ready: model requests wait
 * for the worker. Records the request in the metrics. Thread-safe; callable
 * from many threads at once. Free the answer with vt_serve_response_free. */
VT_API void vt_serve_handle(vt_serve *s, const char *method, const char *path, const char *body, size_t len,
                            bool body_too_large, vt_serve_response *resp);
VT_API void vt_serve_response_free(vt_serve_response *r);

/* ---- metrics ---------------------------------------------------------- */

/* Latency buckets (seconds) and batch size buckets of the histograms. */
#define VT_SERVE_LATENCY_BUCKETS 14
#define VT_SERVE_BATCH_BUCKETS 10

typedef struct vt_serve_metrics vt_serve_metrics;

VT_API vt_serve_metrics *vt_serve_metrics_new(void);
VT_API void vt_serve_metrics_free(vt_serve_metrics *m);
/* One finished request (status 100..599; others are counted as 0). Thread-safe. */
VT_API void vt_serve_metrics_request(vt_serve_metrics *m, vt_serve_endpoint e, int status, double seconds);
/* One forward pass of `size` inputs. Thread-safe. */
VT_API void vt_serve_metrics_batch(vt_serve_metrics *m, int size);
/* Requests in flight (+1 / -1) and inputs waiting for the worker (set). */
VT_API void vt_serve_metrics_in_flight(vt_serve_metrics *m, int delta);
VT_API void vt_serve_metrics_queue(vt_serve_metrics *m, int64_t queued);
/* The Prometheus text exposition (version 0.0.4) of everything above, plus
 * verto_model_ready (ready 0/1): a malloc'd NUL-terminated string in *out and
 * its length. VT_ERR_NOMEM on failure. */
VT_API vt_status vt_serve_metrics_render(vt_serve_metrics *m, bool ready, char **out, size_t *len);

#ifdef __cplusplus
}
#endif
#endif
