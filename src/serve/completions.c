/* The /v1/completions engine: one worker thread owns the model and a
 * generation session of max_batch slots; client threads queue their prompts
 * and wait for text. Between two decoding steps the worker drops cancelled
 * requests, admits queued prompts into free slots (continuous batching) and
 * hands each running prompt's new final text to its request. One mutex guards
 * the queue and the requests; the session is the worker's alone. */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/strbuf.h"
#include "verto/completions.h"
#include "verto/generate.h"
#include "verto/gpt2.h"
#include "verto/tokenizer.h"

typedef struct item { /* one prompt of a request */
    vt_completion_job *job;
    int64_t index;
    vt_gen_request req;   /* req.prompt points at ids */
    int32_t *ids;
    int64_t counted;      /* generated tokens already counted */
    struct item *next;
} item;

struct vt_completion_job {
    vt_completions *engine;
    int refs;             /* the client's and, until every prompt ended, the worker's */
    bool cancelled, failed;
    char error[256];
    size_t n;
    vt_sb *pending;       /* (n) text not yet handed to the client */
    const char **finish;  /* (n) set when the prompt ended */
    bool *reported;       /* (n) its end handed to the client */
    size_t ended;
    int64_t prompt_tokens, completion_tokens;
    char **stops;
    int n_stops;
};

struct vt_completions {
    vt_gpt2 *model;
    vt_tokenizer *tok;
    vt_gen_session *session;
    int max_batch;
    int64_t limit, positions;
    int32_t eos, bos;
    pthread_mutex_t mu;
    pthread_cond_t work, news; /* the worker's wake-up; new text for the clients */
    pthread_t thread;
    bool stopping;
    item *head, *tail;         /* queued prompts */
    item **running;            /* (max_batch) the prompt of each slot */
    int64_t requests, prompt_tokens, completion_tokens;
};

static void job_unref(vt_completion_job *j) { /* under the lock */
    if (--j->refs > 0) return;
    for (size_t i = 0; i < j->n; i++) vt_sb_free(&j->pending[i]);
    for (int i = 0; i < j->n_stops; i++) free(j->stops[i]);
    free(j->stops);
    free(j->pending);
    free(j->finish);
    free(j->reported);
    free(j);
}

/* A prompt left the engine (ended, failed or cancelled): under the lock. */
static void item_done(item *it, const char *finish) {
    vt_completion_job *j = it->job;
    if (!j->finish[it->index]) j->finish[it->index] = finish;
    if (++j->ended == j->n) job_unref(j);
    free(it->ids);
    free(it);
}

static void fail_job(vt_completion_job *j, const char *why) {
    if (j->failed) return;
    j->failed = true;
    snprintf(j->error, sizeof j->error, "%s", why);
}

/* Hands out the running prompts' new text; frees the slots of finished and
 * cancelled ones. Under the lock. */
static void publish(vt_completions *c) {
    for (int64_t s = 0; s < c->max_batch; s++) {
        item *it = c->running[s];
        if (!it) continue;
        vt_completion_job *j = it->job;
        vt_gen_slot_info info;
        vt_gen_slot(c->session, s, &info);
        int64_t fresh = info.n_tokens - it->counted;
        it->counted = info.n_tokens;
        j->completion_tokens += fresh;
        c->completion_tokens += fresh;
        if (!j->cancelled) {
            size_t len;
            const char *text = vt_gen_take_text(c->session, s, &len);
            vt_sb_add(&j->pending[it->index], text, len);
        }
        if (j->cancelled || info.finish != VT_FINISH_NONE) {
            /* OpenAI's reasons: the eos token and stop strings are both "stop" */
            item_done(it, info.finish == VT_FINISH_LENGTH ? "length" : "stop");
            vt_gen_release(c->session, s);
            c->running[s] = NULL;
        }
    }
}

static void *worker(void *arg) {
    vt_completions *c = arg;
    pthread_mutex_lock(&c->mu);
    while (!c->stopping) {
        /* queued prompts of cancelled requests leave; the others fill free slots */
        for (item **p = &c->head; *p;) {
            item *it = *p;
            if (!it->job->cancelled) {
                p = &it->next;
                continue;
            }
            *p = it->next;
            item_done(it, "stop");
        }
        c->tail = NULL;
        for (item *it = c->head; it; it = it->next) c->tail = it;
        while (c->head && vt_gen_used(c->session) < c->max_batch) {
            item *it = c->head;
            c->head = it->next;
            if (!c->head) c->tail = NULL;
            pthread_mutex_unlock(&c->mu);
            int64_t slot = -1;
            vt_status st = vt_gen_add(c->session, &it->req, &slot);
            pthread_mutex_lock(&c->mu);
            if (st == VT_OK) {
                c->running[slot] = it;
            } else {
                fail_job(it->job, vt_last_error());
                item_done(it, "stop");
            }
        }
        publish(c);
        pthread_cond_broadcast(&c->news);
        if (vt_gen_running(c->session) == 0) {
            if (!c->head && !c->stopping) pthread_cond_wait(&c->work, &c->mu);
            continue;
        }
        pthread_mutex_unlock(&c->mu);
        vt_status st = vt_gen_step(c->session);
        pthread_mutex_lock(&c->mu);
        if (st != VT_OK) { /* the running prompts fail; the session is left clean */
            for (int64_t s = 0; s < c->max_batch; s++)
                if (c->running[s]) {
                    fail_job(c->running[s]->job, vt_last_error());
                    item_done(c->running[s], "stop");
                    c->running[s] = NULL;
                    vt_gen_release(c->session, s);
                }
        }
    }
    pthread_mutex_unlock(&c->mu);
    return NULL;
}

vt_completions *vt_completions_start(const char *model_dir, int max_batch, int64_t max_tokens_limit,
                                     vt_precision decode_precision) {
    if (!model_dir || max_batch < 1 || max_tokens_limit < 1) {
        vt_error(VT_ERR_INVALID_ARG, "completions need a model directory, max_batch >= 1 and a token limit >= 1");
        return NULL;
    }
    vt_completions *c = calloc(1, sizeof *c);
    if (!c) {
        vt_error(VT_ERR_NOMEM, "out of memory");
        return NULL;
    }
    c->max_batch = max_batch;
    c->limit = max_tokens_limit;
    pthread_mutex_init(&c->mu, NULL);
    pthread_cond_init(&c->work, NULL);
    pthread_cond_init(&c->news, NULL);
    if (!(c->model = vt_gpt2_load(model_dir)) || !(c->tok = vt_tok_load(model_dir, NULL)) ||
        vt_gpt2_set_decode_precision(c->model, decode_precision) != VT_OK)
        goto fail;
    const vt_gpt2_config *cfg = vt_gpt2_get_config(c->model);
    c->positions = cfg->n_positions;
    c->eos = (int32_t)cfg->eos_token_id;
    c->bos = (int32_t)cfg->bos_token_id;
    if (!(c->session = vt_gen_session_new(c->model, c->tok, max_batch, c->positions))) goto fail;
    if (!(c->running = calloc((size_t)max_batch, sizeof *c->running))) {
        vt_error(VT_ERR_NOMEM, "out of memory");
        goto fail;
    }
    if (pthread_create(&c->thread, NULL, worker, c) != 0) {
        vt_error(VT_ERR_IO, "cannot start the completions worker thread");
        goto fail;
    }
    return c;
fail:
    vt_gen_session_free(c->session);
    vt_tok_free(c->tok);
    vt_gpt2_free(c->model);
    free(c->running);
    pthread_mutex_destroy(&c->mu);
    pthread_cond_destroy(&c->work);
    pthread_cond_destroy(&c->news);
    free(c);
    return NULL;
}

void vt_completions_stop(vt_completions *c) {
    if (!c) return;
    pthread_mutex_lock(&c->mu);
    c->stopping = true;
    pthread_cond_signal(&c->work);
    pthread_mutex_unlock(&c->mu);
    pthread_join(c->thread, NULL);
    for (int64_t s = 0; s < c->max_batch; s++)
        if (c->running[s]) item_done(c->running[s], "stop");
    while (c->head) {
        item *it = c->head;
        c->head = it->next;
        item_done(it, "stop");
    }
    vt_gen_session_free(c->session);
    vt_tok_free(c->tok);
    vt_gpt2_free(c->model);
    free(c->running);
    pthread_mutex_destroy(&c->mu);
    pthread_cond_destroy(&c->work);
    pthread_cond_destroy(&c->news);
    free(c);
}

vt_completion_job *vt_completions_submit(vt_completions *c, const vt_completion_request *r, int *http_status) {
    *http_status = 500;
    if (!c || !r || r->n_prompts < 1) {
        vt_error(VT_ERR_INVALID_ARG, "no request");
        return NULL;
    }
    if (r->max_tokens > c->limit) {
        *http_status = 400;
        vt_error(VT_ERR_INVALID_ARG, "\"max_tokens\" %lld is over this server's limit of %lld", (long long)r->max_tokens,
                 (long long)c->limit);
        return NULL;
    }
    size_t n = r->n_prompts;
    vt_completion_job *j = calloc(1, sizeof *j);
    item **items = calloc(n, sizeof *items);
    if (!j || !items) goto nomem;
    j->n = n;
    j->refs = 2;
    j->engine = c;
    j->pending = calloc(n, sizeof *j->pending);
    j->finish = calloc(n, sizeof *j->finish);
    j->reported = calloc(n, sizeof *j->reported);
    j->stops = r->n_stops ? calloc((size_t)r->n_stops, sizeof *j->stops) : NULL;
    if (!j->pending || !j->finish || !j->reported || (r->n_stops && !j->stops)) goto nomem;
    for (int i = 0; i < r->n_stops; i++, j->n_stops++)
        if (!(j->stops[i] = strdup(r->stops[i]))) goto nomem;
    vt_tok_encode_opts eo;
    vt_tok_encode_opts_default(&eo);
    eo.add_special_tokens = false;
    vt_tok_encoding enc;
    vt_tok_encoding_init(&enc);
    for (size_t i = 0; i < n; i++) {
        if (vt_tok_encode(c->tok, r->prompts[i], strlen(r->prompts[i]), NULL, 0, &eo, &enc) != VT_OK) {
            vt_tok_encoding_free(&enc);
            goto cleanup;
        }
        int64_t len = enc.len ? enc.len : 1;
        if (len + r->max_tokens - 1 > c->positions) {
            *http_status = 400;
            vt_error(VT_ERR_INVALID_ARG, "prompt %zu has %lld tokens: with \"max_tokens\" %lld it passes the model's %lld positions",
                     i, (long long)len, (long long)r->max_tokens, (long long)c->positions);
            vt_tok_encoding_free(&enc);
            goto cleanup;
        }
        item *it = items[i] = calloc(1, sizeof *it);
        if (!it || !(it->ids = malloc((size_t)len * sizeof *it->ids))) {
            vt_tok_encoding_free(&enc);
            goto nomem;
        }
        if (enc.len) memcpy(it->ids, enc.ids, (size_t)len * sizeof *it->ids);
        else it->ids[0] = c->bos >= 0 ? c->bos : 0; /* an empty encoding starts from bos */
        it->job = j;
        it->index = (int64_t)i;
        vt_gen_request_default(&it->req);
        it->req.prompt = it->ids;
        it->req.n_prompt = len;
        it->req.sampling = r->sampling;
        it->req.seed = r->seed;
        it->req.max_new_tokens = r->max_tokens;
        it->req.stops = (const char *const *)j->stops;
        it->req.n_stops = j->n_stops;
        it->req.eos_id = c->eos;
        j->prompt_tokens += len;
    }
    vt_tok_encoding_free(&enc);
    pthread_mutex_lock(&c->mu);
    for (size_t i = 0; i < n; i++) {
        if (c->tail) c->tail->next = items[i];
        else c->head = items[i];
        c->tail = items[i];
    }
    c->requests++;
    c->prompt_tokens += j->prompt_tokens;
    pthread_cond_signal(&c->work);
    pthread_mutex_unlock(&c->mu);
    free(items);
    return j;
nomem:
    vt_error(VT_ERR_NOMEM, "out of memory for a completion request");
cleanup:
    for (size_t i = 0; items && i < n; i++)
        if (items[i]) {
            free(items[i]->ids);
            free(items[i]);
        }
    free(items);
    if (j) {
        j->refs = 1;
        job_unref(j);
    }
    return NULL;
}

int vt_completion_job_next(vt_completion_job *j, int timeout_ms, vt_completion_event *ev, bool *failed) {
    vt_completions *c = j->engine;
    *failed = false;
    memset(ev, 0, sizeof *ev);
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += timeout_ms / 1000;
    until.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
    if (until.tv_nsec >= 1000000000L) until.tv_sec++, until.tv_nsec -= 1000000000L;
    pthread_mutex_lock(&c->mu);
    int rc = 0;
    for (;;) {
        if (j->failed) {
            vt_error(VT_ERR_INVALID_ARG, "%s", j->error);
            *failed = true;
            rc = -1;
            break;
        }
        size_t all = 0;
        for (size_t i = 0; i < j->n && rc == 0; i++) {
            all += j->reported[i];
            bool ends = j->finish[i] && !j->reported[i];
            if (!j->pending[i].len && !ends) continue;
            ev->index = (int64_t)i;
            ev->text = vt_sb_take(&j->pending[i], &ev->len);
            if (!ev->text) {
                ev->text = strdup("");
                ev->len = 0;
            }
            if (ends) {
                ev->finish_reason = j->finish[i];
                j->reported[i] = true;
            }
            rc = ev->text ? 1 : -1;
            if (!ev->text) *failed = true, vt_error(VT_ERR_NOMEM, "out of memory");
        }
        if (rc != 0) break;
        if (all == j->n) {
            rc = -1;
            break;
        }
        if (pthread_cond_timedwait(&c->news, &c->mu, &until) == ETIMEDOUT) break;
    }
    pthread_mutex_unlock(&c->mu);
    return rc;
}

void vt_completion_job_usage(vt_completion_job *j, int64_t *prompt_tokens, int64_t *completion_tokens) {
    pthread_mutex_lock(&j->engine->mu);
    *prompt_tokens = j->prompt_tokens;
    *completion_tokens = j->completion_tokens;
    pthread_mutex_unlock(&j->engine->mu);
}

void vt_completion_job_free(vt_completion_job *j) {
    if (!j) return;
    vt_completions *c = j->engine;
    pthread_mutex_lock(&c->mu);
    j->cancelled = true;
    job_unref(j);
    pthread_cond_signal(&c->work);
    pthread_mutex_unlock(&c->mu);
}

void vt_completions_counts(vt_completions *c, int64_t *requests, int64_t *prompt_tokens, int64_t *completion_tokens,
                           int64_t *running) {
    pthread_mutex_lock(&c->mu);
    *requests = c->requests;
    *prompt_tokens = c->prompt_tokens;
    *completion_tokens = c->completion_tokens;
    int64_t n = 0;
    for (int64_t s = 0; s < c->max_batch; s++) n += c->running[s] != NULL;
    *running = n;
    pthread_mutex_unlock(&c->mu);
}
