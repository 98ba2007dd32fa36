/* The serving engine: model loading, the dynamic batcher, the inference
 * worker and the HTTP answers (see verto/serve.h).
 *
 * The model is a vt_task (verto/task.h): handler threads parse a request and
 * encode its inputs into rows (vt_task_encode: an input, or a long text's
 * windows) on their own thread, append the rows to a FIFO and wait on the
 * call's condition variable. The worker thread (the only one that runs the
 * task) batches the oldest queued row with the next queued rows of the same
 * output (from any request, of any token lengths), up to max_batch rows and
 * max_batch_tokens tokens, once that many are queued or max_wait_ms has
 * passed since the oldest was queued; runs them (vt_task_run, which packs
 * them without padding), each row's output landing in its call; and wakes
 * the calls that are complete, whose handlers finish their results
 * (vt_task_scores, vt_task_answer_json, vt_task_normalize) as verto predict
 * and verto embed do.
 *
 * Why any lengths: a packed batch has no padding (the forward pass is not
 * bit-for-bit invariant to padding: attention over 8 keys and over 16 keys, 8
 * of them masked, round differently), each row attends over its own tokens,
 * and the model computes each row on its own, so each result is the one the
 * input gives alone. Why the same output: a classification runs the last
 * layer at [CLS] only. */
#include <errno.h>
#include <limits.h>
#include <omp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/strbuf.h"
#include "serve/ner_call.h"
#include "serve/page.h"
#include "serve/qa_call.h"
#include "verto/serve.h"
#include "verto/task.h"
#include "core/utf8.h"

/* A request's inputs become rows, the model's unit of work: one per input,
 * or (classify, a tokenizer with max_windows > 1) one per window of a long
 * text, the rows of an input consecutive. */
typedef struct call {
    vt_serve_request req;
    vt_task_output what;    /* what its rows yield */
    vt_task_rows *inputs;   /* (n) */
    size_t rows;            /* in all */
    size_t width;           /* floats a row yields */
    float *out;             /* (rows, width) */
    double *probs;          /* (n, K) classify, from the logits once all rows are done */
    serve_qa qa;            /* question answering: its features are its rows (out unused) */
    serve_ner ner;          /* token classification: each text's windows are its rows (out unused) */
    struct qnode *nodes;    /* (rows) the rows' places in the queue */
    size_t remaining;       /* rows without a result yet */
    bool done, failed;
    char error[256];
    double queued_at;       /* monotonic seconds */
    pthread_cond_t cv;
} call;

/* An explanation request: the worker (which owns the task) runs it whole,
 * between batches; its handler thread waits for it. */
typedef struct explain_job {
    const vt_serve_request *req;
    vt_explain_options o;    /* the request's, with its target resolved */
    char **answers;          /* (req->n) each input's JSON object */
    bool done;
    int status;              /* 200, or the failure's */
    char error[512];
    pthread_cond_t cv;
    struct explain_job *next;
} explain_job;

/* A queued row: the queue is a doubly linked FIFO (under the lock). */
typedef struct qnode {
    call *c;
    const vt_tok_encoding *row;
    float *out;
    struct qnode *prev, *next;
} qnode;

struct vt_serve {
    vt_serve_options o;
    char *dir, *name;
    vt_serve_metrics *metrics;
    pthread_mutex_t lock;
    pthread_cond_t work_cv;  /* worker: a call was queued or stop was asked */
    pthread_cond_t state_cv; /* the state left LOADING */
    pthread_t worker;
    bool worker_started, stop;
    vt_serve_state state;
    char failure[1024];
    /* set by the worker before the state becomes READY, read-only afterwards */
    vt_task *task;
    const vt_bert_config *cfg;
    bool can_classify;
    bool can_answer; /* a question-answering model: /v1/question-answering */
    bool can_tag;    /* a token classifier: /v1/token-classification */
    int64_t H, K, n_params;
    char *model_json;
    size_t model_json_len;
    /* the queue (under lock) */
    qnode *qhead, *qtail;
    explain_job *jobs, *jobs_tail; /* explanations waiting, oldest first */
    int64_t queued;
    int64_t in_flight;
    /* the worker's batch */
    qnode **batch;                  /* (max_batch) */
    const vt_tok_encoding **rows;   /* (max_batch) */
    float **outs;                   /* (max_batch) */
};

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

void vt_serve_options_default(vt_serve_options *o) {
    *o = (vt_serve_options){.max_batch = 32, .max_wait_ms = 5, .max_body_bytes = 1048576,
                            .precision = VT_PRECISION_FP32};
}

/* ---- loading ---------------------------------------------------------- */

static vt_status build_model_json(vt_serve *s) {
    const vt_bert_config *c = s->cfg;
    bool baseline = vt_task_baseline(s->task) != NULL; /* TF-IDF + LR: no tokenizer, no embeddings */
    const vt_tok_options *to = baseline ? NULL : vt_tok_get_options(vt_task_tokenizer(s->task));
    vt_sb b = {0};
    vt_sb_str(&b, "{\"name\": ");
    vt_sb_json_string(&b, s->name);
    vt_sb_str(&b, ", \"path\": ");
    vt_sb_json_string(&b, s->dir);
    vt_sb_str(&b, ", \"architecture\": ");
    vt_sb_json_string(&b, baseline ? VT_BASELINE_MODEL_TYPE : vt_bert_config_arch_name(c));
    vt_sb_printf(&b, ", \"task\": \"%s\"", vt_task_kind_name(vt_task_get_kind(s->task)));
    if (vt_task_get_kind(s->task) == VT_TASK_MULTI_LABEL) vt_sb_printf(&b, ", \"threshold\": %.17g", vt_task_threshold(s->task));
    vt_sb_str(&b, baseline          ? ", \"endpoints\": [\"/v1/classify\"], \"labels\": ["
                  : s->can_classify ? ", \"endpoints\": [\"/v1/classify\", \"/v1/explain\", \"/v1/embed\"], \"labels\": ["
                  : s->can_answer ? ", \"endpoints\": [\"/v1/question-answering\", \"/v1/explain\", \"/v1/embed\"], \"labels\": ["
                  : s->can_tag    ? ", \"endpoints\": [\"/v1/token-classification\", \"/v1/explain\", \"/v1/embed\"], \"labels\": ["
                                  : ", \"endpoints\": [\"/v1/embed\"], \"labels\": [");
    for (int k = 0; (s->can_classify || s->can_tag) && k < c->num_labels; k++) {
        if (k) vt_sb_str(&b, ", ");
        vt_sb_json_string(&b, c->id2label[k]);
    }
    vt_sb_printf(&b, "], \"num_labels\": %d", s->can_classify || s->can_tag ? c->num_labels : 0);
    vt_sb_printf(&b,
                 ", \"vocab_size\": %lld, \"hidden_size\": %lld, \"num_hidden_layers\": %lld"
                 ", \"num_attention_heads\": %lld, \"intermediate_size\": %lld, \"max_position_embeddings\": %lld"
                 ", \"parameters\": %lld, \"max_seq_length\": %d, \"max_windows\": %d, \"max_batch\": %d"
                 ", \"max_wait_ms\": %d, \"lowercase\": %s}",
                 (long long)c->vocab_size, (long long)c->hidden_size, (long long)c->num_hidden_layers,
                 (long long)c->num_attention_heads, (long long)c->intermediate_size,
                 (long long)c->max_position_embeddings, (long long)s->n_params, vt_task_max_length(s->task),
                 s->can_classify ? vt_task_max_windows(s->task) : 1, s->o.max_batch, s->o.max_wait_ms,
                 !to || to->lowercase ? "true" : "false");
    s->model_json = vt_sb_take(&b, &s->model_json_len);
    return s->model_json ? VT_OK : vt_error(VT_ERR_NOMEM, "out of memory");
}

/* A sequence classifier serves both endpoints; any other BERT directory is
 * loaded as an encoder and serves /v1/embed only. */
static vt_status load(vt_serve *s) {
    vt_task_kind kind;
    vt_status st = vt_task_kind_of_dir(s->dir, &kind);
    if (st != VT_OK) return st;
    vt_task_options to;
    vt_task_options_default(&to);
    bool served = vt_task_kind_is_sequence(kind) || kind == VT_TASK_QUESTION_ANSWERING ||
                  kind == VT_TASK_TOKEN_CLASSIFICATION;
    to.kind = served ? kind : VT_TASK_FEATURES;
    to.precision = s->o.precision;
    to.max_seq_length = s->o.max_seq_length;
    to.batch_size = s->o.max_batch;
    if (!(s->task = vt_task_load(s->dir, &to))) return vt_last_status();
    s->can_classify = vt_task_kind_is_sequence(to.kind);
    s->can_answer = to.kind == VT_TASK_QUESTION_ANSWERING;
    s->can_tag = to.kind == VT_TASK_TOKEN_CLASSIFICATION;
    s->cfg = vt_task_config(s->task);
    s->H = s->cfg->hidden_size;
    s->K = s->can_classify ? s->cfg->num_labels : 0;
    if (vt_task_model(s->task)) vt_bert_params(vt_task_model(s->task), &s->n_params);
    size_t B = (size_t)s->o.max_batch;
    s->batch = malloc(B * sizeof *s->batch);
    s->rows = malloc(B * sizeof *s->rows);
    s->outs = malloc(B * sizeof *s->outs);
    if (!s->batch || !s->rows || !s->outs) return vt_error(VT_ERR_NOMEM, "out of memory");
    return build_model_json(s);
}

/* ---- the worker ------------------------------------------------------- */

/* Runs the worker's batch of B rows (no lock held: only the worker touches
 * these calls' result slots until they are marked done). */
static void run_batch(vt_serve *s, int B) {
    for (int b = 0; b < B; b++) s->rows[b] = s->batch[b]->row, s->outs[b] = s->batch[b]->out;
    if (vt_task_run(s->task, s->batch[0]->c->what, s->rows, (size_t)B, s->outs) == VT_OK) return;
    for (int b = 0; b < B; b++) {
        call *c = s->batch[b]->c;
        if (!c->failed) snprintf(c->error, sizeof c->error, "%s", vt_last_error());
        c->failed = true;
    }
}

/* Explains each input of job (no lock held: the job is the worker's until done). */
static void run_explanations(vt_serve *s, explain_job *job) {
    const vt_serve_request *r = job->req;
    for (size_t i = 0; i < r->n && job->status == 200; i++) {
        const vt_serve_input *in = &r->inputs[i];
        vt_text_input t = {in->text, in->text_len, in->text_b, in->text_b_len};
        vt_qa_input q = {in->text, in->text_len, in->text_b, in->text_b_len};
        vt_explanation e = {0};
        vt_status st = s->can_answer ? vt_task_explain_answer_json(s->task, &q, &job->o, &job->answers[i])
                       : s->can_tag  ? vt_task_explain_entities_json(s->task, &t, &job->o, &job->answers[i])
                                     : vt_task_explain(s->task, &t, &job->o, &e);
        if (st == VT_OK && s->can_classify) st = vt_explanation_json(s->task, &t, &job->o, &e, &job->answers[i]);
        vt_explanation_free(&e);
        if (st != VT_OK) {
            job->status = st == VT_ERR_INVALID_ARG ? 400 : 500;
            if (r->n > 1) snprintf(job->error, sizeof job->error, "input %zu: %s", i, vt_last_error());
            else snprintf(job->error, sizeof job->error, "%s", vt_last_error());
        }
    }
}

static void set_state(vt_serve *s, vt_serve_state st) {
    pthread_mutex_lock(&s->lock);
    if (!(st == VT_SERVE_READY && s->state == VT_SERVE_DRAINING)) s->state = st;
    pthread_cond_broadcast(&s->state_cv);
    pthread_mutex_unlock(&s->lock);
}

/* The queued rows of output E, oldest first, up to max_batch rows and
 * max_batch_tokens tokens (the first row whatever its length), of any
 * lengths (vt_task_run packs them). take: moves them from the queue into
 * s->batch and returns their count; otherwise returns whether they fill a
 * batch (a limit reached). Under the lock. */
static int take_batch(vt_serve *s, vt_task_output E, bool take) {
    int B = 0;
    int64_t tokens = 0, budget = s->o.max_batch_tokens > 0 ? s->o.max_batch_tokens : INT64_MAX;
    for (qnode *q = s->qhead, *next; q && B < s->o.max_batch; q = next) {
        next = q->next;
        if (q->c->what != E) continue;
        if (B && tokens + q->row->len > budget) return take ? B : 1;
        tokens += q->row->len;
        B++;
        if (!take) continue;
        s->batch[B - 1] = q;
        if (q->prev) q->prev->next = q->next;
        else s->qhead = q->next;
        if (q->next) q->next->prev = q->prev;
        else s->qtail = q->prev;
    }
    return take ? B : B >= s->o.max_batch || tokens >= budget;
}

static void *worker_main(void *arg) {
    vt_serve *s = arg;
    if (s->o.threads > 0) omp_set_num_threads(s->o.threads);
    if (load(s) != VT_OK) {
        snprintf(s->failure, sizeof s->failure, "%s", vt_last_error());
        set_state(s, VT_SERVE_FAILED);
        return NULL;
    }
    set_state(s, VT_SERVE_READY);
    pthread_mutex_lock(&s->lock);
    for (;;) {
        while (!s->qhead && !s->jobs && !s->stop) pthread_cond_wait(&s->work_cv, &s->lock);
        if (!s->qhead && !s->jobs) break; /* stop asked and nothing queued */
        if (s->jobs) { /* an explanation, whole, before the next batch */
            explain_job *job = s->jobs;
            if (!(s->jobs = job->next)) s->jobs_tail = NULL;
            pthread_mutex_unlock(&s->lock);
            run_explanations(s, job);
            pthread_mutex_lock(&s->lock);
            job->done = true;
            pthread_cond_signal(&job->cv);
            continue;
        }
        vt_task_output E = s->qhead->c->what;
        if (s->o.max_wait_ms > 0) { /* let the batch fill, up to max_wait_ms after its oldest input */
            double deadline = s->qhead->c->queued_at + s->o.max_wait_ms * 1e-3;
            struct timespec ts;
            ts.tv_sec = (time_t)deadline;
            ts.tv_nsec = (long)((deadline - (double)ts.tv_sec) * 1e9);
            if (ts.tv_nsec >= 1000000000L) ts.tv_nsec = 999999999L;
            while (!s->stop && !take_batch(s, E, false))
                if (pthread_cond_timedwait(&s->work_cv, &s->lock, &ts) == ETIMEDOUT) break;
        }
        int B = take_batch(s, E, true);
        s->queued -= B;
        vt_serve_metrics_queue(s->metrics, s->queued);
        pthread_mutex_unlock(&s->lock);
        run_batch(s, B);
        vt_serve_metrics_batch(s->metrics, B);
        pthread_mutex_lock(&s->lock);
        for (int b = 0; b < B; b++) {
            call *c = s->batch[b]->c;
            if (--c->remaining == 0) {
                c->done = true;
                pthread_cond_signal(&c->cv);
            }
        }
    }
    pthread_mutex_unlock(&s->lock);
    return NULL;
}

/* ---- engine life ------------------------------------------------------ */

vt_serve *vt_serve_start(const char *model_dir, const vt_serve_options *opt) {
    vt_serve_options o;
    if (opt) o = *opt;
    else vt_serve_options_default(&o);
    if (!model_dir || !*model_dir || o.max_batch < 1 || o.max_batch > 65536 || o.max_wait_ms < 0 ||
        o.max_wait_ms > 60000 || o.max_seq_length < 0 || o.threads < 0 || o.max_batch_tokens < 0) {
        vt_error(VT_ERR_INVALID_ARG,
                 "vt_serve_start: a model directory, max_batch 1..65536, max_wait_ms 0..60000, max_seq_length >= 0, "
                 "threads >= 0 and max_batch_tokens >= 0 are needed");
        return NULL;
    }
    vt_serve *s = calloc(1, sizeof *s);
    if (!s) goto nomem;
    s->o = o;
    s->dir = strdup(model_dir);
    s->metrics = vt_serve_metrics_new();
    if (!s->dir || !s->metrics) goto nomem;
    size_t n = strlen(s->dir);
    while (n > 1 && s->dir[n - 1] == '/') s->dir[--n] = '\0';
    const char *slash = strrchr(s->dir, '/');
    s->name = strdup(slash && slash[1] ? slash + 1 : s->dir);
    if (!s->name) goto nomem;
    pthread_mutex_init(&s->lock, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&s->work_cv, &ca);
    pthread_cond_init(&s->state_cv, &ca);
    pthread_condattr_destroy(&ca);
    s->state = VT_SERVE_LOADING;
    int rc = pthread_create(&s->worker, NULL, worker_main, s);
    if (rc) {
        vt_error(VT_ERR_STATE, "cannot start the inference thread: %s", strerror(rc));
        s->state = VT_SERVE_FAILED;
        vt_serve_stop(s);
        return NULL;
    }
    s->worker_started = true;
    return s;
nomem:
    if (s) {
        free(s->dir);
        free(s->name);
        vt_serve_metrics_free(s->metrics);
        free(s);
    }
    vt_error(VT_ERR_NOMEM, "out of memory starting the service");
    return NULL;
}

vt_serve_state vt_serve_get_state(vt_serve *s) {
    pthread_mutex_lock(&s->lock);
    vt_serve_state st = s->state;
    pthread_mutex_unlock(&s->lock);
    return st;
}

vt_serve_state vt_serve_wait_loaded(vt_serve *s, int timeout_ms) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    ts.tv_sec += timeout_ms / 1000;
    ts.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
    if (ts.tv_nsec >= 1000000000L) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000L;
    }
    pthread_mutex_lock(&s->lock);
    while (s->state == VT_SERVE_LOADING)
        if (pthread_cond_timedwait(&s->state_cv, &s->lock, &ts) == ETIMEDOUT) break;
    vt_serve_state st = s->state;
    pthread_mutex_unlock(&s->lock);
    return st;
}

const char *vt_serve_failure(vt_serve *s) { return vt_serve_get_state(s) == VT_SERVE_FAILED ? s->failure : ""; }

void vt_serve_drain(vt_serve *s) {
    pthread_mutex_lock(&s->lock);
    if (s->state != VT_SERVE_FAILED) s->state = VT_SERVE_DRAINING;
    pthread_mutex_unlock(&s->lock);
}

int64_t vt_serve_in_flight(vt_serve *s) {
    pthread_mutex_lock(&s->lock);
    int64_t n = s->in_flight;
    pthread_mutex_unlock(&s->lock);
    return n;
}

void vt_serve_stop(vt_serve *s) {
    if (!s) return;
    if (s->worker_started) {
        pthread_mutex_lock(&s->lock);
        s->stop = true;
        pthread_cond_broadcast(&s->work_cv);
        pthread_mutex_unlock(&s->lock);
        pthread_join(s->worker, NULL);
    }
    pthread_cond_destroy(&s->work_cv);
    pthread_cond_destroy(&s->state_cv);
    pthread_mutex_destroy(&s->lock);
    vt_task_free(s->task);
    vt_serve_metrics_free(s->metrics);
    free(s->batch);
    free(s->rows);
    free(s->outs);
    free(s->model_json);
    free(s->dir);
    free(s->name);
    free(s);
}

/* ---- answers ---------------------------------------------------------- */

static void respond(vt_serve_response *r, int status, char *body, size_t len, const char *type) {
    r->status = body ? status : 500;
    r->body = body;
    r->len = body ? len : 0;
    r->content_type = type;
}

#define JSON_TYPE "application/json"

/* {"error": msg} */
static void error_response(vt_serve_response *r, int status, const char *msg) {
    vt_sb b = {0};
    vt_sb_str(&b, "{\"error\": ");
    vt_sb_json_string(&b, msg);
    vt_sb_str(&b, "}");
    size_t len;
    char *body = vt_sb_take(&b, &len);
    respond(r, status, body, len, JSON_TYPE);
}

/* Something the client sent, fit to quote: short valid UTF-8, else "". */
static const char *quotable(const char *s) {
    size_t n = s ? strlen(s) : 0;
    return n && n <= 200 && vt_utf8_valid(s, n) ? s : "";
}

static void free_call(call *c) {
    if (!c) return;
    for (size_t i = 0; c->inputs && i < c->req.n; i++) vt_task_rows_free(&c->inputs[i]);
    vt_serve_request_free(&c->req);
    free(c->inputs);
    free(c->out);
    free(c->probs);
    free(c->nodes);
    serve_qa_free(&c->qa);
    serve_ner_free(&c->ner, c->req.n);
    pthread_cond_destroy(&c->cv);
    free(c);
}

/* Encodes the inputs of c->req into the rows of c, as verto predict and verto
 * embed read them. Returns an HTTP status (200 ok; otherwise resp is set). */
static int encode(vt_serve *s, call *c, vt_serve_response *resp) {
    size_t n = c->req.n;
    c->inputs = calloc(n, sizeof *c->inputs);
    if (!c->inputs) {
        error_response(resp, 500, "out of memory");
        return 500;
    }
    for (size_t i = 0; i < n; i++) {
        const vt_serve_input *in = &c->req.inputs[i];
        vt_text_input t = {in->text, in->text_len, in->text_b, in->text_b_len};
        if (vt_task_encode(s->task, c->what, &t, &c->inputs[i]) != VT_OK) {
            int status = vt_last_status() == VT_ERR_NOMEM ? 500 : 400;
            char msg[512];
            if (n > 1) snprintf(msg, sizeof msg, "input %zu: %s", i, vt_last_error());
            else snprintf(msg, sizeof msg, "%s", vt_last_error());
            error_response(resp, status, msg);
            return status;
        }
        c->rows += (size_t)c->inputs[i].n;
    }
    return 200;
}

/* verto predict's answer (vt_task_answer_json), and whether the input was cut. */
static void classify_object(vt_sb *b, const vt_serve *s, const call *c, size_t i) {
    char *answer = NULL;
    if (vt_task_answer_json(s->task, c->probs + i * (size_t)s->K, &answer) != VT_OK) {
        b->failed = true; /* out of memory: the whole response fails */
        return;
    }
    vt_sb_printf(b, "{%s, \"truncated\": %s}", answer, c->inputs[i].truncated ? "true" : "false");
    free(answer);
}

static void embed_object(vt_sb *b, const vt_serve *s, const call *c, size_t i) {
    const float *v = c->out + i * (size_t)s->H; /* one row per input */
    vt_sb_str(b, "{\"embedding\": [");
    for (int64_t h = 0; h < s->H; h++) vt_sb_printf(b, h ? ", %.8g" : "%.8g", v[h]);
    vt_sb_printf(b, "], \"truncated\": %s}", c->inputs[i].truncated ? "true" : "false");
}

/* A model request: parse, tokenize, queue, wait, answer. */
static void model_request(vt_serve *s, vt_serve_endpoint ep, const char *body, size_t len, vt_serve_response *resp) {
    call *c = calloc(1, sizeof *c);
    if (!c) {
        respond(resp, 500, NULL, 0, JSON_TYPE);
        return;
    }
    pthread_cond_init(&c->cv, NULL);
    if (vt_serve_request_parse(ep, body, len, &c->req) != VT_OK) {
        error_response(resp, vt_last_status() == VT_ERR_NOMEM ? 500 : 400, vt_last_error());
        free_call(c);
        return;
    }
    if (ep == VT_SERVE_CLASSIFY && !s->can_classify) {
        char msg[200];
        snprintf(msg, sizeof msg, "this model (%s) has no sequence classifier: only %s/v1/embed is served",
                 vt_bert_config_arch_name(s->cfg), s->can_answer ? "/v1/question-answering and " : "");
        error_response(resp, 400, msg);
        free_call(c);
        return;
    }
    if (ep == VT_SERVE_QUESTION_ANSWERING && !s->can_answer) {
        char msg[200];
        snprintf(msg, sizeof msg, "this model (%s) is not a question-answering model", vt_bert_config_arch_name(s->cfg));
        error_response(resp, 400, msg);
        free_call(c);
        return;
    }
    if (ep == VT_SERVE_TOKEN_CLASSIFICATION && !s->can_tag) {
        char msg[200];
        snprintf(msg, sizeof msg, "this model (%s) is not a token classifier", vt_bert_config_arch_name(s->cfg));
        error_response(resp, 400, msg);
        free_call(c);
        return;
    }
    bool qa = ep == VT_SERVE_QUESTION_ANSWERING, ner = ep == VT_SERVE_TOKEN_CLASSIFICATION;
    c->what = ep == VT_SERVE_CLASSIFY ? VT_OUT_LOGITS
              : qa                    ? VT_OUT_SPAN
              : ner                   ? VT_OUT_TOKENS
                                      : vt_task_output_of(c->req.pooling);
    int status = 200;
    if (ner) {
        char msg[512];
        if ((status = serve_ner_encode(s->task, &c->req, &c->ner, msg, sizeof msg)) != 200) error_response(resp, status, msg);
        else c->rows = c->ner.n_rows;
        if (status == 200 && !(c->nodes = malloc((c->rows ? c->rows : 1) * sizeof *c->nodes))) {
            error_response(resp, 500, "out of memory");
            status = 500;
        }
    } else if (qa) {
        char msg[512];
        if ((status = serve_qa_encode(s->task, &c->req, &c->qa, msg, sizeof msg)) != 200) error_response(resp, status, msg);
        else c->rows = c->qa.f.n;
        if (status == 200 && !(c->nodes = malloc((c->rows ? c->rows : 1) * sizeof *c->nodes))) {
            error_response(resp, 500, "out of memory");
            status = 500;
        }
    } else status = encode(s, c, resp);
    size_t n = c->req.n, rows = c->rows;
    if (status == 200 && !qa && !ner) {
        c->width = ep == VT_SERVE_CLASSIFY ? (size_t)s->K : (size_t)s->H;
        c->out = malloc(rows * c->width * sizeof *c->out);
        c->probs = ep == VT_SERVE_CLASSIFY ? malloc(n * (size_t)s->K * sizeof *c->probs) : NULL;
        c->nodes = malloc(rows * sizeof *c->nodes);
        if (!c->out || (ep == VT_SERVE_CLASSIFY && !c->probs) || !c->nodes) {
            error_response(resp, 500, "out of memory");
            status = 500;
        }
    }
    if (status != 200) {
        free_call(c);
        return;
    }
    pthread_mutex_lock(&s->lock);
    if (s->state != VT_SERVE_READY) { /* draining began while this one was tokenized */
        pthread_mutex_unlock(&s->lock);
        error_response(resp, 503, "the service is shutting down");
        free_call(c);
        return;
    }
    c->remaining = rows;
    c->queued_at = now_s();
    for (size_t r = 0; qa && r < rows; r++) { /* a feature per row, its output its own */
        qnode *q = &c->nodes[r];
        *q = (qnode){.c = c, .row = &c->qa.rows[r], .out = c->qa.out[r], .prev = s->qtail};
        if (s->qtail) s->qtail->next = q;
        else s->qhead = q;
        s->qtail = q;
    }
    for (size_t r = 0; ner && r < rows; r++) { /* a window per row, its output its own */
        qnode *q = &c->nodes[r];
        *q = (qnode){.c = c, .row = c->ner.rows[r], .out = c->ner.out[r], .prev = s->qtail};
        if (s->qtail) s->qtail->next = q;
        else s->qhead = q;
        s->qtail = q;
    }
    for (size_t i = 0, r = 0; !qa && !ner && i < n; i++)
        for (int32_t j = 0; j < c->inputs[i].n; j++, r++) {
            qnode *q = &c->nodes[r];
            *q = (qnode){.c = c, .row = &c->inputs[i].rows[j], .out = c->out + r * c->width, .prev = s->qtail};
            if (s->qtail) s->qtail->next = q;
            else s->qhead = q;
            s->qtail = q;
        }
    s->queued += (int64_t)rows;
    vt_serve_metrics_queue(s->metrics, s->queued);
    pthread_cond_signal(&s->work_cv);
    c->done = rows == 0;
    while (!c->done) pthread_cond_wait(&c->cv, &s->lock);
    pthread_mutex_unlock(&s->lock);
    for (size_t i = 0, r = 0; ep == VT_SERVE_CLASSIFY && !c->failed && i < n; r += (size_t)c->inputs[i++].n)
        if (vt_task_scores(s->task, c->out + r * c->width, c->inputs[i].n, c->probs + i * (size_t)s->K) < 0) {
            snprintf(c->error, sizeof c->error, "input %zu: the logits are not finite", i);
            c->failed = true;
        }
    for (size_t i = 0; ep == VT_SERVE_EMBED && !c->failed && c->req.normalize && i < n; i++)
        vt_task_normalize(c->out + i * c->width, s->H);
    if (c->failed) {
        error_response(resp, 500, c->error);
        free_call(c);
        return;
    }
    vt_sb b = {0};
    if (c->req.batch) vt_sb_str(&b, "{\"results\": [");
    for (size_t i = 0; i < n; i++) {
        if (i) vt_sb_str(&b, ", ");
        if (ep == VT_SERVE_CLASSIFY) classify_object(&b, s, c, i);
        else if (qa) serve_qa_answer_object(&b, s->task, &c->req, &c->qa, i);
        else if (ner) serve_ner_answer(&b, s->task, &c->req, &c->ner, i);
        else embed_object(&b, s, c, i);
    }
    if (c->req.batch) vt_sb_str(&b, "]}");
    vt_sb_str(&b, "\n");
    size_t blen;
    char *out = vt_sb_take(&b, &blen);
    respond(resp, 200, out, blen, JSON_TYPE);
    free_call(c);
}

/* /v1/explain: parse, queue the job for the worker, wait, answer as verto explain prints. */
static void explain_request(vt_serve *s, const char *body, size_t len, vt_serve_response *resp) {
    vt_serve_request req;
    if (vt_serve_request_parse(VT_SERVE_EXPLAIN, body, len, &req) != VT_OK) {
        error_response(resp, vt_last_status() == VT_ERR_NOMEM ? 500 : 400, vt_last_error());
        return;
    }
    char msg[512];
    explain_job job = {.req = &req, .o = req.explain, .status = 200};
    if (!(s->can_classify || s->can_tag || s->can_answer) || vt_task_baseline(s->task) || req.questions != s->can_answer) {
        snprintf(msg, sizeof msg,
                 req.questions != s->can_answer && (s->can_classify || s->can_tag || s->can_answer)
                     ? "this model (%s) is explained for {\"%s\"} inputs"
                     : "this model (%s) has nothing to explain%s",
                 vt_task_baseline(s->task) ? VT_BASELINE_MODEL_TYPE : vt_bert_config_arch_name(s->cfg),
                 s->can_answer ? "question\", \"context" : req.questions ? "text" : "");
        error_response(resp, 400, msg);
        vt_serve_request_free(&req);
        return;
    }
    if (req.target) {
        job.o.target = -1;
        for (int k = 0; k < s->cfg->num_labels; k++)
            if (!strcmp(req.target, s->cfg->id2label[k])) job.o.target = k;
        if (job.o.target < 0) {
            const char *q = quotable(req.target);
            snprintf(msg, sizeof msg, "\"target\" %s%s%sis not a label of this model (see /v1/model)", *q ? "\"" : "",
                     q, *q ? "\" " : "");
            error_response(resp, 400, msg);
            vt_serve_request_free(&req);
            return;
        }
    }
    if (!(job.answers = calloc(req.n, sizeof *job.answers))) {
        error_response(resp, 500, "out of memory");
        vt_serve_request_free(&req);
        return;
    }
    pthread_cond_init(&job.cv, NULL);
    pthread_mutex_lock(&s->lock);
    if (s->state == VT_SERVE_READY) {
        if (s->jobs_tail) s->jobs_tail->next = &job;
        else s->jobs = &job;
        s->jobs_tail = &job;
        pthread_cond_signal(&s->work_cv);
        while (!job.done) pthread_cond_wait(&job.cv, &s->lock);
    } else {
        job.status = 503;
        snprintf(job.error, sizeof job.error, "the service is shutting down");
    }
    pthread_mutex_unlock(&s->lock);
    if (job.status != 200) {
        error_response(resp, job.status, job.error);
    } else {
        vt_sb b = {0};
        if (req.batch) vt_sb_str(&b, "{\"results\": [");
        for (size_t i = 0; i < req.n; i++) vt_sb_printf(&b, "%s%s", i ? ", " : "", job.answers[i]);
        vt_sb_str(&b, req.batch ? "]}\n" : "\n");
        size_t blen;
        char *out = vt_sb_take(&b, &blen);
        respond(resp, 200, out, blen, JSON_TYPE);
    }
    for (size_t i = 0; i < req.n; i++) free(job.answers[i]);
    free(job.answers);
    pthread_cond_destroy(&job.cv);
    vt_serve_request_free(&req);
}

static void route(vt_serve *s, vt_serve_endpoint ep, const char *method, const char *path, const char *body,
                  size_t len, bool too_large, vt_serve_response *resp) {
    char msg[512];
    if (ep == VT_SERVE_OTHER) {
        const char *q = quotable(path);
        snprintf(msg, sizeof msg,
                 "no such endpoint%s%s (see /, /v1/classify, /v1/explain, /v1/embed, /v1/question-answering, "
                 "/v1/token-classification, /v1/model, /healthz, /metrics)",
                 *q ? ": " : "", q);
        error_response(resp, 404, msg);
        return;
    }
    bool post = ep == VT_SERVE_CLASSIFY || ep == VT_SERVE_EMBED || ep == VT_SERVE_QUESTION_ANSWERING ||
                ep == VT_SERVE_TOKEN_CLASSIFICATION || ep == VT_SERVE_EXPLAIN;
    bool ok = post ? !strcmp(method, "POST") : !strcmp(method, "GET") || !strcmp(method, "HEAD");
    if (!ok) {
        const char *q = quotable(method);
        snprintf(msg, sizeof msg, "method %s not allowed on %s (use %s)", *q ? q : "(unprintable)",
                 vt_serve_endpoint_name(ep), post ? "POST" : "GET");
        error_response(resp, 405, msg);
        resp->allow = post ? "POST" : "GET, HEAD";
        return;
    }
    if (too_large) {
        snprintf(msg, sizeof msg, "the body is larger than the limit of %zu bytes", s->o.max_body_bytes);
        error_response(resp, 413, msg);
        return;
    }
    if (ep == VT_SERVE_PAGE) { /* (whatever the state: the page asks /v1/model itself) */
        size_t plen;
        const char *page = serve_page_html(&plen);
        char *copy = malloc(plen + 1);
        if (copy) memcpy(copy, page, plen + 1);
        respond(resp, 200, copy, plen, "text/html; charset=utf-8");
        return;
    }
    vt_serve_state st = vt_serve_get_state(s);
    const char *why = st == VT_SERVE_LOADING ? "the model is still loading"
                      : st == VT_SERVE_FAILED ? "the model failed to load"
                      : st == VT_SERVE_DRAINING ? "the service is shutting down"
                                                : NULL;
    if (ep == VT_SERVE_HEALTHZ) {
        if (!why) {
            static const char OK_BODY[] = "{\"status\": \"ok\"}\n";
            respond(resp, 200, strdup(OK_BODY), sizeof OK_BODY - 1, JSON_TYPE);
        } else {
            vt_sb b = {0};
            vt_sb_printf(&b, "{\"status\": \"%s\", \"error\": ",
                         st == VT_SERVE_LOADING ? "loading" : st == VT_SERVE_FAILED ? "failed" : "shutting down");
            vt_sb_json_string(&b, st == VT_SERVE_FAILED ? s->failure : why);
            vt_sb_str(&b, "}\n");
            size_t blen;
            char *out = vt_sb_take(&b, &blen);
            respond(resp, 503, out, blen, JSON_TYPE);
        }
        return;
    }
    if (ep == VT_SERVE_METRICS) {
        char *out;
        size_t olen;
        if (vt_serve_metrics_render(s->metrics, !why, &out, &olen) != VT_OK) out = NULL;
        respond(resp, 200, out, olen, "text/plain; version=0.0.4; charset=utf-8");
        return;
    }
    if (why && !(ep == VT_SERVE_MODEL && st == VT_SERVE_DRAINING)) {
        error_response(resp, 503, why);
        return;
    }
    if (ep == VT_SERVE_MODEL) {
        char *out = malloc(s->model_json_len + 2);
        if (out) {
            memcpy(out, s->model_json, s->model_json_len);
            memcpy(out + s->model_json_len, "\n", 2);
        }
        respond(resp, 200, out, s->model_json_len + 1, JSON_TYPE);
        return;
    }
    if (ep == VT_SERVE_EXPLAIN) explain_request(s, body, len, resp);
    else model_request(s, ep, body, len, resp);
}

void vt_serve_handle(vt_serve *s, const char *method, const char *path, const char *body, size_t len,
                     bool body_too_large, vt_serve_response *resp) {
    double t0 = now_s();
    memset(resp, 0, sizeof *resp);
    vt_serve_endpoint ep = vt_serve_endpoint_of(path);
    pthread_mutex_lock(&s->lock);
    s->in_flight++;
    pthread_mutex_unlock(&s->lock);
    vt_serve_metrics_in_flight(s->metrics, 1);
    route(s, ep, method ? method : "", path ? path : "", body, len, body_too_large, resp);
    if (!resp->content_type) resp->content_type = JSON_TYPE;
    vt_serve_metrics_request(s->metrics, ep, resp->status, now_s() - t0);
    vt_serve_metrics_in_flight(s->metrics, -1);
    pthread_mutex_lock(&s->lock);
    s->in_flight--;
    pthread_mutex_unlock(&s->lock);
}

void vt_serve_response_free(vt_serve_response *r) {
    if (!r) return;
    free(r->body);
    memset(r, 0, sizeof *r);
}
