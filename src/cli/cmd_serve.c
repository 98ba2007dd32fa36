/* verto serve: the HTTP inference service (libmicrohttpd around the engine
 * of verto/serve.h).
 *
 * Threading: libmicrohttpd runs one thread per connection (plus its listening
 * thread). A connection's thread collects the request body, then calls
 * vt_serve_handle, which tokenizes the inputs on that thread, queues them for
 * the engine's single inference worker and sleeps on a condition variable
 * until the worker has run them (batched with other connections' inputs).
 * Nothing but the worker touches the model.
 *
 * Shutdown: SIGTERM or SIGINT closes the listening socket (MHD_quiesce_daemon),
 * answers new requests on open connections with 503 and "Connection: close",
 * waits for the requests already received to be answered, then stops and
 * exits 0. A second signal exits at once with status 1.
 *
 * libmicrohttpd is opened with dlopen when the command starts, so that the
 * rest of the verto tool neither links nor needs it. */
#include <arpa/inet.h>
#include <dlfcn.h>
#include <errno.h>
#include <microhttpd.h>
#include <netdb.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "cli/args.h"
#include "cli/commands.h"
#include "cli/gpt2_commands.h"
#include "core/strbuf.h"
#include "verto/completions.h"
#include "verto/serve.h"

/* ---- libmicrohttpd, bound at run time --------------------------------- */

#define MHD_FUNCTIONS(X)                                                                                               \
    X(MHD_start_daemon)                                                                                                \
    X(MHD_stop_daemon)                                                                                                 \
    X(MHD_quiesce_daemon)                                                                                              \
    X(MHD_get_daemon_info)                                                                                             \
    X(MHD_create_response_from_buffer)                                                                                 \
    X(MHD_add_response_header)                                                                                         \
    X(MHD_queue_response)                                                                                              \
    X(MHD_destroy_response)                                                                                            \
    X(MHD_lookup_connection_value)                                                                                     \
    X(MHD_create_response_from_callback)

static struct {
#define X(f) __typeof__(f) *f;
    MHD_FUNCTIONS(X)
#undef X
} mhd;

static int mhd_open(void) {
    const char *names[] = {"libmicrohttpd.so.12", "libmicrohttpd.so"};
    void *h = NULL;
    for (size_t i = 0; i < sizeof names / sizeof *names && !h; i++) h = dlopen(names[i], RTLD_NOW | RTLD_LOCAL);
    if (!h)
        return cli_fail("verto serve needs libmicrohttpd (Debian: apt-get install libmicrohttpd12): %s", dlerror());
#define X(f)                                                                                                           \
    if (!(*(void **)&mhd.f = dlsym(h, #f))) return cli_fail("libmicrohttpd lacks %s: version 0.9.71 or later is needed", #f);
    MHD_FUNCTIONS(X)
#undef X
    return 0;
}

/* ---- the request handler ---------------------------------------------- */

typedef struct server {
    vt_serve *engine;           /* a BERT-family directory's, or */
    vt_completions *completions; /* a GPT-2 directory's: /v1/completions */
    const char *model_name;
    atomic_llong next_id;
    size_t max_body;
    atomic_int active;   /* requests from their first byte to their answer sent */
    atomic_bool draining;
} server;

typedef struct conn_state {
    char *body;
    size_t len, cap;
    bool too_large;
} conn_state;

static enum MHD_Result send_answer(server *sv, struct MHD_Connection *conn, vt_serve_response *r) {
    static const char NOMEM[] = "{\"error\": \"out of memory\"}\n";
    struct MHD_Response *resp =
        r->body ? mhd.MHD_create_response_from_buffer(r->len, r->body, MHD_RESPMEM_MUST_FREE)
                : mhd.MHD_create_response_from_buffer(sizeof NOMEM - 1, (void *)NOMEM, MHD_RESPMEM_PERSISTENT);
    if (!resp) {
        vt_serve_response_free(r);
        return MHD_NO;
    }
    r->body = NULL; /* the response owns it now */
    mhd.MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, r->content_type);
    if (r->allow) mhd.MHD_add_response_header(resp, MHD_HTTP_HEADER_ALLOW, r->allow);
    if (r->status == 413 || atomic_load(&sv->draining)) mhd.MHD_add_response_header(resp, MHD_HTTP_HEADER_CONNECTION, "close");
    enum MHD_Result ret = mhd.MHD_queue_response(conn, (unsigned)r->status, resp);
    mhd.MHD_destroy_response(resp);
    return ret;
}

/* ---- /v1/completions for a GPT-2 directory ----------------------------- */

static enum MHD_Result answer_text(server *sv, struct MHD_Connection *conn, int status, char *body, size_t len,
                                   const char *type) {
    vt_serve_response r = {.status = body ? status : 500, .body = body, .len = len, .content_type = type};
    return send_answer(sv, conn, &r);
}

static enum MHD_Result answer_error(server *sv, struct MHD_Connection *conn, int status, const char *msg) {
    vt_sb b = {0};
    vt_sb_str(&b, "{\"error\": ");
    vt_sb_json_string(&b, msg);
    vt_sb_str(&b, "}\n");
    size_t len;
    char *body = vt_sb_take(&b, &len);
    return answer_text(sv, conn, status, body, len, "application/json");
}

/* The fields every completion object and chunk starts with. */
static void completion_head(vt_sb *b, const server *sv, long long id, long long created) {
    vt_sb_printf(b, "{\"id\": \"cmpl-%lld\", \"object\": \"text_completion\", \"created\": %lld, \"model\": ", id, created);
    vt_sb_json_string(b, sv->model_name);
}

static void choice(vt_sb *b, const char *text, int64_t index, const char *finish) {
    vt_sb_str(b, "{\"text\": ");
    vt_sb_json_string(b, text);
    vt_sb_printf(b, ", \"index\": %lld, \"finish_reason\": ", (long long)index);
    if (finish) vt_sb_printf(b, "\"%s\"", finish);
    else vt_sb_str(b, "null");
    vt_sb_str(b, ", \"logprobs\": null}");
}

typedef struct stream_state {
    server *sv;
    vt_completion_job *job;
    long long id, created;
    char *out;        /* bytes formatted and not yet sent */
    size_t len, sent;
    bool done;        /* [DONE] formatted */
} stream_state;

/* libmicrohttpd asks for the next bytes of a streamed answer: each event of
 * the job becomes one server-sent event; a pause returns 0 (asked again). */
static ssize_t stream_read(void *cls, uint64_t pos, char *buf, size_t max) {
    stream_state *st = cls;
    if (st->sent == st->len) {
        free(st->out);
        st->out = NULL;
        st->len = st->sent = 0;
        if (st->done) return MHD_CONTENT_READER_END_OF_STREAM;
        vt_completion_event ev;
        bool failed;
        int rc = vt_completion_job_next(st->job, 200, &ev, &failed);
        vt_sb b = {0};
        if (rc == 0) return 0;
        if (rc < 0) {
            if (failed) { /* the status line is gone: an error event, then the end */
                vt_sb_str(&b, "data: {\"error\": ");
                vt_sb_json_string(&b, vt_last_error());
                vt_sb_str(&b, "}\n\n");
            }
            vt_sb_str(&b, "data: [DONE]\n\n");
            st->done = true;
        } else {
            vt_sb_str(&b, "data: ");
            completion_head(&b, st->sv, st->id, st->created);
            vt_sb_str(&b, ", \"choices\": [");
            choice(&b, ev.text, ev.index, ev.finish_reason);
            vt_sb_str(&b, "]}\n\n");
            free(ev.text);
        }
        st->out = vt_sb_take(&b, &st->len);
        if (!st->out) return MHD_CONTENT_READER_END_WITH_ERROR;
    }
    size_t n = st->len - st->sent < max ? st->len - st->sent : max;
    memcpy(buf, st->out + st->sent, n);
    st->sent += n;
    return (ssize_t)n;
}

/* The answer is over or the client went away: the job is cancelled (its
 * slots freed between two steps). */
static void stream_free(void *cls) {
    stream_state *st = cls;
    vt_completion_job_free(st->job);
    free(st->out);
    free(st);
}

static enum MHD_Result completions_metrics(server *sv, struct MHD_Connection *conn) {
    int64_t req, pt, ct, running;
    vt_completions_counts(sv->completions, &req, &pt, &ct, &running);
    vt_sb b = {0};
    vt_sb_printf(&b, "# TYPE verto_completion_requests_total counter\nverto_completion_requests_total %lld\n"
                     "# TYPE verto_completion_prompt_tokens_total counter\nverto_completion_prompt_tokens_total %lld\n"
                     "# TYPE verto_completion_tokens_total counter\nverto_completion_tokens_total %lld\n"
                     "# TYPE verto_completion_running gauge\nverto_completion_running %lld\n",
                 (long long)req, (long long)pt, (long long)ct, (long long)running);
    size_t len;
    char *body = vt_sb_take(&b, &len);
    return answer_text(sv, conn, 200, body, len, "text/plain; version=0.0.4");
}

static enum MHD_Result completions_request(server *sv, struct MHD_Connection *conn, const char *url,
                                           const char *method, conn_state *cs) {
    if (!strcmp(url, "/healthz")) return answer_text(sv, conn, 200, strdup("{\"status\": \"ok\"}\n"), 17, "application/json");
    if (!strcmp(url, "/metrics")) return completions_metrics(sv, conn);
    if (strcmp(url, "/v1/completions")) return answer_error(sv, conn, 404, "no such endpoint (a GPT-2 model serves /v1/completions)");
    if (strcmp(method, "POST")) {
        vt_serve_response r = {.status = 405, .body = strdup("{\"error\": \"use POST\"}\n"), .len = 22,
                               .content_type = "application/json", .allow = "POST"};
        return send_answer(sv, conn, &r);
    }
    if (cs->too_large) return answer_error(sv, conn, 413, "the body is over the server's --max-body-bytes");
    if (atomic_load(&sv->draining)) return answer_error(sv, conn, 503, "shutting down");
    vt_completion_request req;
    if (vt_completion_request_parse(cs->body, cs->len, &req) != VT_OK) return answer_error(sv, conn, 400, vt_last_error());
    int status;
    vt_completion_job *job = vt_completions_submit(sv->completions, &req, &status);
    bool stream = req.stream;
    size_t n = req.n_prompts;
    vt_completion_request_free(&req);
    if (!job) return answer_error(sv, conn, status, vt_last_error());
    long long id = atomic_fetch_add(&sv->next_id, 1), created = (long long)time(NULL);
    if (stream) {
        stream_state *st = calloc(1, sizeof *st);
        struct MHD_Response *resp =
            st ? mhd.MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 4096, stream_read, st, stream_free) : NULL;
        if (!resp) {
            free(st);
            vt_completion_job_free(job);
            return MHD_NO;
        }
        *st = (stream_state){.sv = sv, .job = job, .id = id, .created = created};
        mhd.MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, "text/event-stream");
        mhd.MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-cache");
        enum MHD_Result ret = mhd.MHD_queue_response(conn, 200, resp);
        mhd.MHD_destroy_response(resp);
        return ret;
    }
    vt_sb *texts = calloc(n, sizeof *texts);
    const char **finish = calloc(n, sizeof *finish);
    bool failed = false;
    vt_completion_event ev;
    int rc;
    while (texts && finish && (rc = vt_completion_job_next(job, 1000, &ev, &failed)) >= 0) {
        if (rc == 0) continue;
        vt_sb_add(&texts[ev.index], ev.text, ev.len);
        if (ev.finish_reason) finish[ev.index] = ev.finish_reason;
        free(ev.text);
    }
    enum MHD_Result ret;
    if (!texts || !finish || failed) {
        ret = answer_error(sv, conn, 500, texts && finish ? vt_last_error() : "out of memory");
    } else {
        int64_t pt, ct;
        vt_completion_job_usage(job, &pt, &ct);
        vt_sb b = {0};
        completion_head(&b, sv, id, created);
        vt_sb_str(&b, ", \"choices\": [");
        for (size_t i = 0; i < n; i++) {
            if (i) vt_sb_str(&b, ", ");
            choice(&b, texts[i].buf ? texts[i].buf : "", (int64_t)i, finish[i]);
        }
        vt_sb_printf(&b, "], \"usage\": {\"prompt_tokens\": %lld, \"completion_tokens\": %lld, \"total_tokens\": %lld}}\n",
                     (long long)pt, (long long)ct, (long long)(pt + ct));
        size_t len;
        char *body = vt_sb_take(&b, &len);
        ret = answer_text(sv, conn, 200, body, len, "application/json");
    }
    for (size_t i = 0; texts && i < n; i++) vt_sb_free(&texts[i]);
    free(texts);
    free(finish);
    vt_completion_job_free(job);
    return ret;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url, const char *method,
                                  const char *version, const char *upload_data, size_t *upload_data_size,
                                  void **con_cls) {
    server *sv = cls;
    conn_state *cs = *con_cls;
    if (!cs) { /* the headers are in: decide whether to read the body */
        cs = calloc(1, sizeof *cs);
        if (!cs) return MHD_NO;
        *con_cls = cs;
        atomic_fetch_add(&sv->active, 1);
        const char *cl = mhd.MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
        if (cl) {
            errno = 0;
            char *end;
            unsigned long long n = strtoull(cl, &end, 10);
            if (errno || end == cl || n > sv->max_body) cs->too_large = true;
        }
        if (!cs->too_large) return MHD_YES;
        /* answer 413 now, without reading the body (the connection is closed after) */
        if (sv->completions) return completions_request(sv, conn, url, method, cs);
        vt_serve_response r;
        vt_serve_handle(sv->engine, method, url, NULL, 0, true, &r);
        return send_answer(sv, conn, &r);
    }
    if (*upload_data_size) {
        size_t n = *upload_data_size;
        *upload_data_size = 0;
        if (cs->too_large || cs->len + n > sv->max_body) {
            cs->too_large = true;
            return MHD_YES; /* the rest is read and dropped */
        }
        if (cs->len + n + 1 > cs->cap) {
            size_t cap = cs->cap ? cs->cap : 1024;
            while (cap < cs->len + n + 1) cap *= 2;
            char *p = realloc(cs->body, cap);
            if (!p) return MHD_NO;
            cs->body = p;
            cs->cap = cap;
        }
        memcpy(cs->body + cs->len, upload_data, n);
        cs->len += n;
        return MHD_YES;
    }
    if (sv->completions) return completions_request(sv, conn, url, method, cs);
    vt_serve_response r;
    vt_serve_handle(sv->engine, method, url, cs->body, cs->len, cs->too_large, &r);
    return send_answer(sv, conn, &r);
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls, enum MHD_RequestTerminationCode toe) {
    server *sv = cls;
    conn_state *cs = *con_cls;
    if (!cs) return;
    free(cs->body);
    free(cs);
    *con_cls = NULL;
    atomic_fetch_sub(&sv->active, 1);
}

/* ---- the command ------------------------------------------------------ */

static int resolve(const char *host, int port, struct sockaddr_storage *addr, socklen_t *addr_len) {
    struct addrinfo hints = {0}, *res = NULL;
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE;
    char service[16];
    snprintf(service, sizeof service, "%d", port);
    int rc = getaddrinfo(host, service, &hints, &res);
    if (rc || !res) return cli_fail("cannot resolve --host %s: %s", host, rc ? gai_strerror(rc) : "no address");
    memcpy(addr, res->ai_addr, res->ai_addrlen);
    *addr_len = res->ai_addrlen;
    freeaddrinfo(res);
    return 0;
}

int cmd_serve(int argc, char **argv) {
    const char *dir = NULL, *host = "127.0.0.1", *precision = "fp32";
    int64_t port = 8080, threads = 0, max_batch = 32, max_wait = 5, max_body = 1048576, max_len = 0, max_new_limit = 512;
    int64_t max_batch_tokens = 0;
    const cli_option opts[] = {
        {"--model", CLI_STRING, &dir, "DIR", "a fine-tuned classifier (or any BERT-family directory, for /v1/embed only; a GPT-2 directory: /v1/completions)"},
        {"--host", CLI_STRING, &host, "ADDR", "address to listen on (default 127.0.0.1: this machine only)"},
        {"--port", CLI_INT, &port, "N", "TCP port (default 8080; 0 picks a free one)", 0, 65535},
        {"--threads", CLI_INT, &threads, "N", "OpenMP threads of the inference worker (default: all cores)", 0, 4096},
        {"--precision", CLI_STRING, &precision, "fp32|bf16|int8",
         CLI_PRECISION_HELP "; a GPT-2 model: the weights its decoding steps read, fp32 or bf16"},
        {"--max-batch", CLI_INT, &max_batch, "N", "inputs per forward pass, across requests (default 32)", 1, 65536},
        {"--max-batch-tokens", CLI_INT, &max_batch_tokens, "N",
         "tokens per forward pass, its inputs' lengths summed (default 0: no limit but --max-batch)", 0, 1 << 30},
        {"--max-wait-ms", CLI_INT, &max_wait, "MS", "how long a batch may wait to fill (default 5)", 0, 60000},
        {"--max-body-bytes", CLI_INT, &max_body, "N", "largest request body; larger ones get 413 (default 1048576)", 1,
         1 << 30},
        {"--max-new-tokens-limit", CLI_INT, &max_new_limit, "N", "GPT-2: the most max_tokens a completion may ask (default 512)", 1, 1e9},
        {"--max-seq-length", CLI_INT, &max_len, "L", "truncate inputs to L tokens, or read windows of L with a windowed classifier (default: as fine-tuned)", 2,
         1e6},
        {0}};
    char **args;
    int n_args;
    int rc = cli_parse(argc, argv, opts,
                       "verto serve --model DIR [--host 127.0.0.1] [--port 8080] [--threads N] [--max-batch 32] "
                       "[--max-batch-tokens N] [--max-wait-ms 5] [--max-body-bytes 1048576] [--max-seq-length L] [--precision fp32|bf16|int8]",
                       &args, &n_args);
    if (rc != CLI_CONTINUE) return rc == CLI_HELP ? 0 : rc;
    free(args);
    if (n_args) return cli_fail("serve takes no positional arguments");
    if (!dir) return cli_fail("serve needs --model DIR");
    vt_serve_options o;
    vt_serve_options_default(&o);
    bool gpt2 = cli_is_gpt2_dir(dir);
    if (gpt2) { /* the precision of the decoding steps' weights: no bf16 GEMMs to emulate, no int8 */
        if (!vt_precision_parse(precision, &o.precision) || o.precision == VT_PRECISION_INT8)
            return cli_fail("--precision must be fp32 or bf16 for a GPT-2 model, not '%s'", precision);
    } else if (cli_precision(precision, &o.precision)) {
        return 1;
    }
    if ((rc = mhd_open())) return rc;
    struct sockaddr_storage addr;
    socklen_t addr_len;
    if ((rc = resolve(host, (int)port, &addr, &addr_len))) return rc;

    /* SIGTERM / SIGINT are taken by sigtimedwait below: block them before any
     * thread starts, so that every thread inherits the mask. */
    sigset_t sigs;
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGTERM);
    sigaddset(&sigs, SIGINT);
    pthread_sigmask(SIG_BLOCK, &sigs, NULL);
    signal(SIGPIPE, SIG_IGN);

    o.max_batch = (int)max_batch;
    o.max_wait_ms = (int)max_wait;
    o.max_batch_tokens = (int)max_batch_tokens;
    o.max_seq_length = (int32_t)max_len;
    o.threads = (int)threads;
    o.max_body_bytes = (size_t)max_body;
    server sv = {.max_body = (size_t)max_body};
    atomic_init(&sv.active, 0);
    atomic_init(&sv.draining, false);
    atomic_init(&sv.next_id, 1);
    if (gpt2) { /* /v1/completions: --max-batch slots decoding together */
        const char *slash = strrchr(dir, '/');
        sv.model_name = slash && slash[1] ? slash + 1 : dir;
        sv.completions = vt_completions_start(dir, (int)max_batch, max_new_limit, o.precision);
        if (!sv.completions) return cli_fail("%s", vt_last_error());
    } else {
        sv.engine = vt_serve_start(dir, &o);
        if (!sv.engine) return cli_fail("%s", vt_last_error());
    }
    unsigned flags = MHD_USE_THREAD_PER_CONNECTION | MHD_USE_POLL_INTERNAL_THREAD | MHD_USE_ITC;
    if (addr.ss_family == AF_INET6) flags |= MHD_USE_IPv6;
    struct MHD_Daemon *d = mhd.MHD_start_daemon(
        flags, (uint16_t)port, NULL, NULL, on_request, &sv, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&addr,
        MHD_OPTION_NOTIFY_COMPLETED, on_completed, &sv, MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int)60,
        MHD_OPTION_CONNECTION_LIMIT, (unsigned int)1000, MHD_OPTION_LISTEN_BACKLOG_SIZE, (unsigned int)1024,
        MHD_OPTION_END);
    if (!d) {
        vt_serve_stop(sv.engine);
        vt_completions_stop(sv.completions);
        return cli_fail("cannot listen on %s port %lld (in use, or not an address of this machine?)", host,
                        (long long)port);
    }
    const union MHD_DaemonInfo *info = mhd.MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT);
    int bound = info ? (int)info->port : (int)port;
    bool v6 = addr.ss_family == AF_INET6;
    fprintf(stderr, "verto serve: listening on http://%s%s%s:%d/ (loading %s)\n", v6 ? "[" : "", host, v6 ? "]" : "",
            bound, dir);
    fflush(stderr);

    rc = 0;
    bool announced = false;
    for (;;) {
        struct timespec tick = {0, 100 * 1000000L};
        int sig = sigtimedwait(&sigs, NULL, &tick);
        if (sig == SIGTERM || sig == SIGINT) {
            fprintf(stderr, "verto serve: %s: finishing %d request(s) in flight\n", sig == SIGTERM ? "SIGTERM" : "SIGINT",
                    atomic_load(&sv.active));
            break;
        }
        vt_serve_state st = sv.engine ? vt_serve_get_state(sv.engine) : VT_SERVE_READY;
        if (st == VT_SERVE_FAILED) {
            rc = cli_fail("%s", vt_serve_failure(sv.engine));
            break;
        }
        if (st == VT_SERVE_READY && !announced) {
            fprintf(stderr, "verto serve: ready (max batch %lld, max wait %lld ms)\n", (long long)max_batch,
                    (long long)max_wait);
            fflush(stderr);
            announced = true;
        }
    }
    /* stop accepting; refuse new requests on open connections; let the rest finish */
    MHD_socket listen_fd = mhd.MHD_quiesce_daemon(d);
    if (listen_fd != MHD_INVALID_SOCKET) close(listen_fd);
    atomic_store(&sv.draining, true);
    if (sv.engine) vt_serve_drain(sv.engine);
    while (atomic_load(&sv.active) > 0) {
        struct timespec tick = {0, 10 * 1000000L};
        int sig = sigtimedwait(&sigs, NULL, &tick);
        if (sig == SIGTERM || sig == SIGINT) {
            fprintf(stderr, "verto serve: second signal: exiting now\n");
            _exit(1);
        }
    }
    mhd.MHD_stop_daemon(d);
    vt_serve_stop(sv.engine);
    vt_completions_stop(sv.completions);
    if (!rc) fprintf(stderr, "verto serve: stopped\n");
    return rc;
}
