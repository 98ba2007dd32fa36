/* The serving library (verto/serve.h) without HTTP: the request parser on
 * good and bad bodies, the UTF-8 check, softmax and pooling, the metrics
 * text, and the engine on a tiny classifier written here (vt_bert_new +
 * vt_bert_save + a vocab.txt): answers for every endpoint and error, 16
 * threads at once batched together giving the same bytes as one request at a
 * time, long texts read as windows, a model without a classifier, a directory that fails to load, drain. */
#include "vt_test.h"

#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/asan.h"
#include "verto/bert.h"
#include "verto/serve.h"
#include "verto/tokenizer.h"

/* ---- the parser ------------------------------------------------------- */

static vt_status parse(vt_serve_endpoint e, const char *body, vt_serve_request *r) {
    return vt_serve_request_parse(e, body, strlen(body), r);
}

static void test_parse_good(void **state) {
    (void)state;
    vt_serve_request r;
    assert_int_equal(parse(VT_SERVE_CLASSIFY, " {\"text\": \"hello\"}\n", &r), VT_OK);
    assert_false(r.batch);
    assert_int_equal(r.n, 1);
    assert_string_equal(r.inputs[0].text, "hello");
    assert_int_equal(r.inputs[0].text_len, 5);
    assert_null(r.inputs[0].text_b);
    vt_serve_request_free(&r);

    assert_int_equal(parse(VT_SERVE_CLASSIFY, "{\"text_b\": \"b \\u00e9\\ud83d\\ude00\", \"text\": \"a\\n\\\"q\\\"\"}", &r),
                     VT_OK);
    assert_string_equal(r.inputs[0].text, "a\n\"q\"");
    assert_string_equal(r.inputs[0].text_b, "b \xc3\xa9\xf0\x9f\x98\x80");
    assert_int_equal(r.inputs[0].text_b_len, 8);
    vt_serve_request_free(&r);

    assert_int_equal(parse(VT_SERVE_CLASSIFY, "{\"text\": \"a\", \"text_b\": null}", &r), VT_OK);
    assert_null(r.inputs[0].text_b);
    vt_serve_request_free(&r);

    assert_int_equal(parse(VT_SERVE_CLASSIFY,
                           "{\"inputs\": [{\"text\": \"x\"}, {\"text\": \"y\", \"text_b\": \"z\"}, {\"text\": \"w\"}]}", &r),
                     VT_OK);
    assert_true(r.batch);
    assert_int_equal(r.n, 3);
    assert_string_equal(r.inputs[1].text_b, "z");
    assert_string_equal(r.inputs[2].text, "w");
    vt_serve_request_free(&r);

    assert_int_equal(parse(VT_SERVE_EMBED, "{\"text\": \"x\", \"pooling\": \"mean\", \"normalize\": true}", &r), VT_OK);
    assert_int_equal(r.pooling, VT_POOL_MEAN);
    assert_true(r.normalize);
    vt_serve_request_free(&r);
    assert_int_equal(parse(VT_SERVE_EMBED, "{\"inputs\": [{\"text\": \"x\"}]}", &r), VT_OK);
    assert_int_equal(r.pooling, VT_POOL_CLS);
    assert_false(r.normalize);
    vt_serve_request_free(&r);
}

/* /v1/question-answering: the question as text, the context as text_b. */
static void test_parse_question(void **state) {
    (void)state;
    vt_serve_request r;
    assert_int_equal(parse(VT_SERVE_QUESTION_ANSWERING, "{\"context\": \"Adams wrote it.\", \"question\": \" Who?\"}", &r),
                     VT_OK);
    assert_false(r.batch);
    assert_int_equal(r.n, 1);
    assert_string_equal(r.inputs[0].text, " Who?");
    assert_string_equal(r.inputs[0].text_b, "Adams wrote it.");
    assert_int_equal(r.inputs[0].text_b_len, 15);
    vt_serve_request_free(&r);
    assert_int_equal(parse(VT_SERVE_QUESTION_ANSWERING,
                           "{\"inputs\": [{\"question\": \"a\", \"context\": \"b\"}, {\"question\": \"c\", \"context\": \"d\"}]}", &r),
                     VT_OK);
    assert_true(r.batch);
    assert_int_equal(r.n, 2);
    assert_string_equal(r.inputs[1].text, "c");
    assert_string_equal(r.inputs[1].text_b, "d");
    vt_serve_request_free(&r);
    assert_int_equal(vt_serve_endpoint_of("/v1/question-answering"), VT_SERVE_QUESTION_ANSWERING);
    assert_string_equal(vt_serve_endpoint_name(VT_SERVE_QUESTION_ANSWERING), "/v1/question-answering");
}

static void test_parse_bad(void **state) {
    (void)state;
    static const struct {
        vt_serve_endpoint e;
        const char *body, *message_part;
    } BAD[] = {
        {VT_SERVE_CLASSIFY, "", "empty"},
        {VT_SERVE_CLASSIFY, "{\"text\": \"x\"", "not valid JSON"},
        {VT_SERVE_CLASSIFY, "{\"text\": \"x\"} 1", "text after"},
        {VT_SERVE_CLASSIFY, "{\"text\": \"x\"} x", "unexpected character"},
        {VT_SERVE_CLASSIFY, "[]", "JSON object"},
        {VT_SERVE_CLASSIFY, "\"text\"", "JSON object"},
        {VT_SERVE_CLASSIFY, "{}", "missing"},
        {VT_SERVE_CLASSIFY, "{\"text\": 1}", "must be a string"},
        {VT_SERVE_CLASSIFY, "{\"text\": null}", "must be a string"},
        {VT_SERVE_CLASSIFY, "{\"text\": \"\"}", "is empty"},
        {VT_SERVE_CLASSIFY, "{\"text\": \"a\", \"text_b\": \"\"}", "\"text_b\" is empty"},
        {VT_SERVE_CLASSIFY, "{\"text\": \"a\", \"text_b\": 3}", "\"text_b\" must be a string"},
        {VT_SERVE_CLASSIFY, "{\"text\": \"a\", \"txet\": \"b\"}", "unknown field \"txet\""},
        {VT_SERVE_CLASSIFY, "{\"text\": \"a\", \"text\": \"b\"}", "appears twice"},
        {VT_SERVE_CLASSIFY, "{\"text\": \"a\", \"inputs\": []}", "not both"},
        {VT_SERVE_CLASSIFY, "{\"inputs\": [], \"text_b\": \"b\"}", "text_b"},
        {VT_SERVE_CLASSIFY, "{\"inputs\": []}", "\"inputs\" is empty"},
        {VT_SERVE_CLASSIFY, "{\"inputs\": {}}", "array"},
        {VT_SERVE_CLASSIFY, "{\"inputs\": [\"a\"]}", "inputs[0] must be an object"},
        {VT_SERVE_CLASSIFY, "{\"inputs\": [{\"text\": \"a\"}, {}]}", "inputs[1].text\" is missing"},
        {VT_SERVE_CLASSIFY, "{\"inputs\": [{\"text\": \"a\", \"pooling\": \"cls\"}]}", "inputs[0].pooling"},
        {VT_SERVE_CLASSIFY, "{\"text\": \"a\", \"pooling\": \"cls\"}", "unknown field \"pooling\""},
        {VT_SERVE_CLASSIFY, "{\"text\": \"a\\u0000b\"}", "\\u0000"},
        {VT_SERVE_CLASSIFY, "{\"text\": \"a\nb\"}", "raw control character inside a string, at byte 11"},
        {VT_SERVE_CLASSIFY, "{\"text\": \"a\", \"x\\ny\": 1}", "unknown field \"x?y\""},
        {VT_SERVE_CLASSIFY, "{\"text\": \"\\udc00\"}", "not valid JSON"},
        {VT_SERVE_CLASSIFY, "{\"text\": \"\xff\"}", "UTF-8 (byte 10)"},
        {VT_SERVE_CLASSIFY, "{\"text\": \"\xe0\x80\xaf\"}", "UTF-8"},
        {VT_SERVE_CLASSIFY, "{\"text\": \"\xf4\x90\x80\x80\"}", "UTF-8"},
        {VT_SERVE_EMBED, "{\"text\": \"a\", \"pooling\": \"max\"}", "\"cls\" or \"mean\""},
        {VT_SERVE_EMBED, "{\"text\": \"a\", \"pooling\": 1}", "\"cls\" or \"mean\""},
        {VT_SERVE_EMBED, "{\"text\": \"a\", \"normalize\": 1}", "true or false"},
        {VT_SERVE_HEALTHZ, "{\"text\": \"a\"}", "no request body"},
        {VT_SERVE_QUESTION_ANSWERING, "{\"question\": \"q\"}", "\"context\" is missing"},
        {VT_SERVE_QUESTION_ANSWERING, "{\"context\": \"c\"}", "\"question\" is missing"},
        {VT_SERVE_QUESTION_ANSWERING, "{\"question\": \"q\", \"context\": \"\"}", "\"context\" is empty"},
        {VT_SERVE_QUESTION_ANSWERING, "{\"question\": \"q\", \"context\": 2}", "\"context\" must be a string"},
        {VT_SERVE_QUESTION_ANSWERING, "{\"text\": \"q\"}", "unknown field \"text\""},
        {VT_SERVE_QUESTION_ANSWERING, "{\"question\": \"q\", \"inputs\": []}", "not both"},
        {VT_SERVE_QUESTION_ANSWERING, "{}", "\"question\" (or \"inputs\") is missing"},
        {VT_SERVE_QUESTION_ANSWERING, "{\"inputs\": [{\"question\": \"q\", \"context\": \"c\", \"text_b\": \"x\"}]}",
         "unknown field \"inputs[0].text_b\""},
        {VT_SERVE_QUESTION_ANSWERING, "{\"inputs\": [{\"question\": \"q\"}]}", "\"inputs[0].context\" is missing"},
    };
    for (size_t i = 0; i < sizeof BAD / sizeof *BAD; i++) {
        vt_serve_request r;
        vt_status st = parse(BAD[i].e, BAD[i].body, &r);
        if (st != VT_ERR_INVALID_ARG || !strstr(vt_last_error(), BAD[i].message_part))
            fail_msg("body %zu '%s': status %d, message '%s' (wanted '%s')", i, BAD[i].body, st, vt_last_error(),
                     BAD[i].message_part);
        assert_int_equal(r.n, 0);
        assert_null(r.inputs);
        vt_serve_request_free(&r);
    }
    /* a NUL byte inside the body, and 1025 inputs */
    vt_serve_request r;
    assert_int_equal(vt_serve_request_parse(VT_SERVE_CLASSIFY, "{\"text\": \"a\0\"}", 14, &r), VT_ERR_INVALID_ARG);
    size_t cap = 20 * 1100;
    char *many = malloc(cap);
    size_t n = (size_t)snprintf(many, cap, "{\"inputs\": [");
    for (int i = 0; i < 1025; i++) n += (size_t)snprintf(many + n, cap - n, "%s{\"text\": \"t\"}", i ? "," : "");
    n += (size_t)snprintf(many + n, cap - n, "]}");
    assert_int_equal(vt_serve_request_parse(VT_SERVE_CLASSIFY, many, n, &r), VT_ERR_INVALID_ARG);
    assert_non_null(strstr(vt_last_error(), "at most 1024"));
    free(many);
}

static void test_endpoints(void **state) {
    (void)state;
    assert_int_equal(vt_serve_endpoint_of("/v1/classify"), VT_SERVE_CLASSIFY);
    assert_int_equal(vt_serve_endpoint_of("/v1/embed"), VT_SERVE_EMBED);
    assert_int_equal(vt_serve_endpoint_of("/metrics"), VT_SERVE_METRICS);
    assert_int_equal(vt_serve_endpoint_of("/v1/classify/"), VT_SERVE_OTHER);
    assert_int_equal(vt_serve_endpoint_of(NULL), VT_SERVE_OTHER);
    assert_string_equal(vt_serve_endpoint_name(VT_SERVE_OTHER), "other");
}

static void test_metrics(void **state) {
    (void)state;
    vt_serve_metrics *m = vt_serve_metrics_new();
    assert_non_null(m);
    vt_serve_metrics_request(m, VT_SERVE_CLASSIFY, 200, 0.003);
    vt_serve_metrics_request(m, VT_SERVE_CLASSIFY, 200, 0.3);
    vt_serve_metrics_request(m, VT_SERVE_CLASSIFY, 400, 0.0001);
    vt_serve_metrics_request(m, VT_SERVE_OTHER, 404, 20.0);
    vt_serve_metrics_request(m, VT_SERVE_EMBED, 999, 0.001);
    vt_serve_metrics_batch(m, 1);
    vt_serve_metrics_batch(m, 3);
    vt_serve_metrics_batch(m, 32);
    vt_serve_metrics_in_flight(m, 1);
    vt_serve_metrics_in_flight(m, 1);
    vt_serve_metrics_in_flight(m, -1);
    vt_serve_metrics_queue(m, 7);
    char *text;
    size_t len;
    assert_int_equal(vt_serve_metrics_render(m, true, &text, &len), VT_OK);
    assert_int_equal(strlen(text), len);
    static const char *const WANT[] = {
        "# TYPE verto_requests_total counter\n",
        "verto_requests_total{endpoint=\"/v1/classify\",status=\"200\"} 2\n",
        "verto_requests_total{endpoint=\"/v1/classify\",status=\"400\"} 1\n",
        "verto_requests_total{endpoint=\"other\",status=\"404\"} 1\n",
        "verto_requests_total{endpoint=\"/v1/embed\",status=\"0\"} 1\n",
        "# TYPE verto_request_duration_seconds histogram\n",
        "verto_request_duration_seconds_bucket{endpoint=\"/v1/classify\",le=\"0.0005\"} 1\n",
        "verto_request_duration_seconds_bucket{endpoint=\"/v1/classify\",le=\"0.005\"} 2\n",
        "verto_request_duration_seconds_bucket{endpoint=\"/v1/classify\",le=\"0.25\"} 2\n",
        "verto_request_duration_seconds_bucket{endpoint=\"/v1/classify\",le=\"0.5\"} 3\n",
        "verto_request_duration_seconds_bucket{endpoint=\"/v1/classify\",le=\"+Inf\"} 3\n",
        "verto_request_duration_seconds_count{endpoint=\"/v1/classify\"} 3\n",
        "verto_request_duration_seconds_bucket{endpoint=\"other\",le=\"10\"} 0\n",
        "verto_request_duration_seconds_bucket{endpoint=\"other\",le=\"+Inf\"} 1\n",
        "verto_request_duration_seconds_sum{endpoint=\"other\"} 20\n",
        "# TYPE verto_batch_size histogram\n",
        "verto_batch_size_bucket{le=\"1\"} 1\n",
        "verto_batch_size_bucket{le=\"2\"} 1\n",
        "verto_batch_size_bucket{le=\"4\"} 2\n",
        "verto_batch_size_bucket{le=\"32\"} 3\n",
        "verto_batch_size_bucket{le=\"+Inf\"} 3\n",
        "verto_batch_size_sum 36\n",
        "verto_batch_size_count 3\n",
        "verto_requests_in_flight 1\n",
        "verto_queued_inputs 7\n",
        "verto_model_ready 1\n",
    };
    for (size_t i = 0; i < sizeof WANT / sizeof *WANT; i++)
        if (!strstr(text, WANT[i])) fail_msg("metrics lack '%s':\n%s", WANT[i], text);
    free(text);
    assert_int_equal(vt_serve_metrics_render(m, false, &text, &len), VT_OK);
    assert_non_null(strstr(text, "verto_model_ready 0\n"));
    /* the heap gauge moves with what malloc hands out: 4 MiB held shows (under
       AddressSanitizer, whose allocator glibc does not count, it is left out) */
    long long heap0 = -1, heap1 = -1;
    const char *h = strstr(text, "\nverto_heap_in_use_bytes ");
#if defined(VT_ASAN_ALLOCATOR)
    assert_null(h);
    free(text);
    vt_serve_metrics_free(m);
    return;
#endif
    assert_non_null(h);
    heap0 = atoll(h + strlen("\nverto_heap_in_use_bytes "));
    free(text);
    char *held = malloc(4 << 20);
    assert_non_null(held);
    memset(held, 1, 4 << 20);
    assert_int_equal(vt_serve_metrics_render(m, false, &text, &len), VT_OK);
    h = strstr(text, "\nverto_heap_in_use_bytes ");
    assert_non_null(h);
    heap1 = atoll(h + strlen("\nverto_heap_in_use_bytes "));
    free(held);
    if (!(heap0 > 0 && heap1 - heap0 >= (4 << 20) && heap1 - heap0 < (5 << 20)))
        fail_msg("verto_heap_in_use_bytes %lld then %lld with 4 MiB more held", heap0, heap1);
    free(text);
    vt_serve_metrics_free(m);
}

/* ---- the engine on a tiny model --------------------------------------- */

/* A model directory: arch, 3 labels neg/neutral/pos when a classifier. */
static char *make_model(vt_bert_arch arch) { return test_tiny_model(arch, 1); }
static void remove_model(char *dir) { test_remove_dir(dir); }

static vt_serve *start(const char *dir, int max_batch, int max_wait_ms, int32_t max_len) {
    vt_serve_options o;
    vt_serve_options_default(&o);
    o.max_batch = max_batch;
    o.max_wait_ms = max_wait_ms;
    o.max_seq_length = max_len;
    vt_serve *s = vt_serve_start(dir, &o);
    assert_non_null(s);
    assert_int_equal(vt_serve_wait_loaded(s, 30000), VT_SERVE_READY);
    return s;
}

/* Handles one request; returns the status, *body a copy (free it). */
static int call(vt_serve *s, const char *method, const char *path, const char *body, char **out) {
    vt_serve_response r;
    vt_serve_handle(s, method, path, body, body ? strlen(body) : 0, false, &r);
    assert_non_null(r.body);
    assert_int_equal(strlen(r.body), r.len);
    int status = r.status;
    if (out) *out = strdup(r.body);
    vt_serve_response_free(&r);
    return status;
}

static void expect(vt_serve *s, const char *method, const char *path, const char *body, int status, const char *part) {
    char *out;
    int got = call(s, method, path, body, &out);
    if (got != status || !strstr(out, part))
        fail_msg("%s %s %s: %d %s (wanted %d with '%s')", method, path, body ? body : "", got, out, status, part);
    free(out);
}

static const char *const TEXTS[] = {
    "free money now !",
    "the meeting is tomorrow",
    "click click click to win",
    "lunch",
    "a report on the project , the meeting and the lunch offer",
    "win win win win win win win win win win win win win win win win win win win win win win win win win",
    "unknownword",
    "offers , meetings and reports",
};
#define N_TEXTS (sizeof TEXTS / sizeof *TEXTS)

typedef struct job {
    vt_serve *s;
    const char *path, *body;
    int status;
    char *out;
} job;

static void *run_job(void *arg) {
    job *j = arg;
    vt_serve_response r;
    vt_serve_handle(j->s, "POST", j->path, j->body, strlen(j->body), false, &r);
    j->status = r.status;
    j->out = strdup(r.body ? r.body : "");
    vt_serve_response_free(&r);
    return NULL;
}

static void test_engine_answers(void **state) {
    (void)state;
    char *dir = make_model(VT_BERT_FOR_SEQUENCE_CLASSIFICATION);
    vt_serve *s = start(dir, 1, 0, 0);
    char bodies[2 * N_TEXTS][256], *want[2 * N_TEXTS];
    for (size_t i = 0; i < 2 * N_TEXTS; i++) { /* one at a time: batches of 1 */
        if (i < N_TEXTS) snprintf(bodies[i], sizeof bodies[i], "{\"text\": \"%s\"}", TEXTS[i]);
        else snprintf(bodies[i], sizeof bodies[i], "{\"text\": \"%s\", \"pooling\": \"mean\"}", TEXTS[i - N_TEXTS]);
        assert_int_equal(call(s, "POST", i < N_TEXTS ? "/v1/classify" : "/v1/embed", bodies[i], &want[i]), 200);
    }
    expect(s, "POST", "/v1/classify", bodies[0], 200, "\"probs\": {\"neg\": ");
    expect(s, "POST", "/v1/classify", bodies[5], 200, "\"truncated\": true}");
    expect(s, "POST", "/v1/classify", bodies[0], 200, "\"truncated\": false}");
    expect(s, "POST", "/v1/classify", "{\"text\": \"a\", \"text_b\": \"b\"}", 200, "\"label\": ");
    expect(s, "POST", "/v1/embed", "{\"text\": \"a\"}", 200, "{\"embedding\": [");
    expect(s, "GET", "/healthz", NULL, 200, "{\"status\": \"ok\"}");
    expect(s, "HEAD", "/healthz", NULL, 200, "ok");
    expect(s, "GET", "/v1/model", NULL, 200, "\"labels\": [\"neg\", \"neutral\", \"pos\"], \"num_labels\": 3");
    expect(s, "GET", "/v1/model", NULL, 200, "\"hidden_size\": 16");
    expect(s, "GET", "/v1/model", NULL, 200, "\"max_seq_length\": 24");
    expect(s, "GET", "/v1/nope", NULL, 404, "no such endpoint: /v1/nope");
    expect(s, "GET", "/v1/nope\xff", NULL, 404, "no such endpoint (see");
    expect(s, "GET", "/v1/classify", NULL, 405, "method GET not allowed on /v1/classify");
    expect(s, "POST", "/healthz", "{}", 405, "use GET");
    expect(s, "POST", "/v1/classify", "{\"text\": 1}", 400, "{\"error\": \"\\\"text\\\" must be a string\"}");
    expect(s, "POST", "/v1/classify", NULL, 400, "empty");
    vt_serve_response r;
    vt_serve_handle(s, "POST", "/v1/classify", NULL, 0, true, &r);
    assert_int_equal(r.status, 413);
    assert_non_null(strstr(r.body, "limit of 1048576 bytes"));
    vt_serve_response_free(&r);
    vt_serve_handle(s, "PUT", "/v1/embed", NULL, 0, false, &r);
    assert_int_equal(r.status, 405);
    assert_string_equal(r.allow, "POST");
    vt_serve_response_free(&r);
    vt_serve_handle(s, "GET", "/metrics", NULL, 0, false, &r);
    assert_int_equal(r.status, 200);
    assert_non_null(strstr(r.content_type, "text/plain"));
    assert_non_null(strstr(r.body, "verto_requests_total{endpoint=\"/v1/classify\",status=\"400\"} 2\n"));
    assert_non_null(strstr(r.body, "verto_batch_size_bucket{le=\"1\"} 21\n"));
    vt_serve_response_free(&r);

    /* the "inputs" form answers each input as a single request does */
    char batch_body[2048], *batch_out;
    size_t n = (size_t)snprintf(batch_body, sizeof batch_body, "{\"inputs\": [");
    for (size_t i = 0; i < N_TEXTS; i++)
        n += (size_t)snprintf(batch_body + n, sizeof batch_body - n, "%s{\"text\": \"%s\"}", i ? ", " : "", TEXTS[i]);
    snprintf(batch_body + n, sizeof batch_body - n, "]}");
    assert_int_equal(call(s, "POST", "/v1/classify", batch_body, &batch_out), 200);
    for (size_t i = 0; i < N_TEXTS; i++) {
        char one[512];
        snprintf(one, sizeof one, "%s", want[i]);
        one[strlen(one) - 1] = '\0'; /* drop the newline */
        if (!strstr(batch_out, one)) fail_msg("inputs answer lacks %s:\n%s", one, batch_out);
    }
    free(batch_out);
    vt_serve_stop(s);

    /* 16 threads at once into a batcher of 8 waiting 50 ms: the same bytes */
    s = start(dir, 8, 50, 0);
    job jobs[2 * N_TEXTS];
    pthread_t th[2 * N_TEXTS];
    for (size_t i = 0; i < 2 * N_TEXTS; i++) {
        jobs[i] = (job){s, i < N_TEXTS ? "/v1/classify" : "/v1/embed", bodies[i], 0, NULL};
        assert_int_equal(pthread_create(&th[i], NULL, run_job, &jobs[i]), 0);
    }
    for (size_t i = 0; i < 2 * N_TEXTS; i++) {
        pthread_join(th[i], NULL);
        assert_int_equal(jobs[i].status, 200);
        if (strcmp(jobs[i].out, want[i])) fail_msg("batched answer %zu differs:\n%s\n%s", i, jobs[i].out, want[i]);
        free(jobs[i].out);
        free(want[i]);
    }
    vt_serve_handle(s, "GET", "/metrics", NULL, 0, false, &r);
    const char *count = strstr(r.body, "verto_batch_size_count ");
    assert_non_null(count);
    long batches = strtol(count + strlen("verto_batch_size_count "), NULL, 10);
    print_message("16 concurrent requests ran in %ld forward passes\n", batches);
    assert_true(batches >= 2 && batches < 16); /* at most 8 per batch; some were batched together */
    vt_serve_response_free(&r);

    /* drain: model requests refused, the rest answered */
    vt_serve_drain(s);
    assert_int_equal(vt_serve_get_state(s), VT_SERVE_DRAINING);
    expect(s, "POST", "/v1/classify", bodies[0], 503, "shutting down");
    expect(s, "GET", "/healthz", NULL, 503, "\"status\": \"shutting down\"");
    expect(s, "GET", "/v1/model", NULL, 200, "\"labels\"");
    assert_int_equal(vt_serve_in_flight(s), 0);
    vt_serve_stop(s);

    /* a shorter --max-seq-length truncates */
    s = start(dir, 4, 0, 4);
    expect(s, "POST", "/v1/classify", "{\"text\": \"free money\"}", 200, "\"truncated\": false");
    expect(s, "POST", "/v1/classify", "{\"text\": \"free money now\"}", 200, "\"truncated\": true");
    expect(s, "POST", "/v1/classify", "{\"text\": \"free\", \"text_b\": \"now\"}", 200, "\"truncated\": true");
    vt_serve_stop(s);
    remove_model(dir);
}

/* Forward passes so far (the metrics' batch count). */
static long batches_run(vt_serve *s) {
    vt_serve_response r;
    vt_serve_handle(s, "GET", "/metrics", NULL, 0, false, &r);
    const char *count = strstr(r.body, "verto_batch_size_count ");
    assert_non_null(count);
    long n = strtol(count + strlen("verto_batch_size_count "), NULL, 10);
    vt_serve_response_free(&r);
    return n;
}

/* Rows of different lengths share a forward pass (packed, no padding), with
 * the same bytes as each alone; max_batch_tokens splits the passes by their
 * tokens. 16 concurrent requests (8 classify, 8 embed, 8 different lengths)
 * into a batcher of 16 waiting 2 s: 2 passes (one per output), where
 * batching by equal length took one per length and output; with a budget of
 * 12 tokens, more. */
static void test_engine_mixed_lengths(void **state) {
    (void)state;
    char *dir = make_model(VT_BERT_FOR_SEQUENCE_CLASSIFICATION);
    vt_serve *s = start(dir, 1, 0, 0);
    char bodies[2 * N_TEXTS][256], *want[2 * N_TEXTS];
    for (size_t i = 0; i < 2 * N_TEXTS; i++) {
        if (i < N_TEXTS) snprintf(bodies[i], sizeof bodies[i], "{\"text\": \"%s\"}", TEXTS[i]);
        else snprintf(bodies[i], sizeof bodies[i], "{\"text\": \"%s\", \"pooling\": \"mean\"}", TEXTS[i - N_TEXTS]);
        assert_int_equal(call(s, "POST", i < N_TEXTS ? "/v1/classify" : "/v1/embed", bodies[i], &want[i]), 200);
    }
    vt_serve_stop(s);
    long passes[2];
    for (int budget = 0; budget < 2; budget++) {
        vt_serve_options o;
        vt_serve_options_default(&o);
        o.max_batch = 2 * N_TEXTS;
        o.max_wait_ms = 2000;
        o.max_batch_tokens = budget ? 12 : 0;
        s = vt_serve_start(dir, &o);
        assert_non_null(s);
        assert_int_equal(vt_serve_wait_loaded(s, 30000), VT_SERVE_READY);
        job jobs[2 * N_TEXTS];
        pthread_t th[2 * N_TEXTS];
        for (size_t i = 0; i < 2 * N_TEXTS; i++) {
            jobs[i] = (job){s, i < N_TEXTS ? "/v1/classify" : "/v1/embed", bodies[i], 0, NULL};
            assert_int_equal(pthread_create(&th[i], NULL, run_job, &jobs[i]), 0);
        }
        for (size_t i = 0; i < 2 * N_TEXTS; i++) {
            pthread_join(th[i], NULL);
            assert_int_equal(jobs[i].status, 200);
            if (strcmp(jobs[i].out, want[i])) fail_msg("packed answer %zu differs:\n%s\n%s", i, jobs[i].out, want[i]);
            free(jobs[i].out);
        }
        passes[budget] = batches_run(s);
        vt_serve_stop(s);
    }
    print_message("16 concurrent requests of 8 lengths: %ld forward passes, %ld with a 12-token budget\n", passes[0],
                  passes[1]);
    assert_true(passes[0] >= 2 && passes[0] <= 4); /* (2 unless a thread was slow to queue) */
    assert_true(passes[1] > passes[0]);
    for (size_t i = 0; i < 2 * N_TEXTS; i++) free(want[i]);
    vt_serve_options o;
    vt_serve_options_default(&o);
    o.max_batch_tokens = -1;
    assert_null(vt_serve_start(dir, &o));
    assert_int_equal(vt_last_status(), VT_ERR_INVALID_ARG);
    remove_model(dir);
}

/* The "score" of a classify answer. */
static double score_of(const char *answer) {
    const char *p = strstr(answer, "\"score\": ");
    assert_non_null(p);
    return strtod(p + strlen("\"score\": "), NULL);
}

/* --precision bf16: the same labels' scores within 0.02 of fp32's (bf16
 * rounds the matrix products' operands to 8 significant bits). */
static void test_engine_bf16(void **state) {
    (void)state;
    char *dir = make_model(VT_BERT_FOR_SEQUENCE_CLASSIFICATION);
    vt_serve *s = start(dir, 4, 0, 0);
    char *want[N_TEXTS];
    for (size_t i = 0; i < N_TEXTS; i++) {
        char body[256];
        snprintf(body, sizeof body, "{\"text\": \"%s\"}", TEXTS[i]);
        assert_int_equal(call(s, "POST", "/v1/classify", body, &want[i]), 200);
    }
    vt_serve_stop(s);
    vt_serve_options o;
    vt_serve_options_default(&o);
    o.precision = VT_PRECISION_BF16;
    s = vt_serve_start(dir, &o);
    assert_non_null(s);
    assert_int_equal(vt_serve_wait_loaded(s, 30000), VT_SERVE_READY);
    for (size_t i = 0; i < N_TEXTS; i++) {
        char body[256], *got;
        snprintf(body, sizeof body, "{\"text\": \"%s\"}", TEXTS[i]);
        assert_int_equal(call(s, "POST", "/v1/classify", body, &got), 200);
        double a = score_of(want[i]), b = score_of(got);
        if (fabs(a - b) > 0.02) fail_msg("bf16 score %g vs fp32 %g:\n%s%s", b, a, got, want[i]);
        free(got);
        free(want[i]);
    }
    vt_serve_stop(s);
    remove_model(dir);
}

/* A classifier whose tokenizer reads long texts as windows: /v1/classify
 * answers with the softmax of the windows' mean logits (computed here from the
 * windows' own forward pass), "truncated" when the windows leave tokens out;
 * /v1/embed still reads one truncated window. */
static void test_engine_windows(void **state) {
    (void)state;
    char *dir = make_model(VT_BERT_FOR_SEQUENCE_CLASSIFICATION), path[4096];
    snprintf(path, sizeof path, "%s/tokenizer_config.json", dir);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs("{\"max_windows\": 3}", f);
    fclose(f);
    vt_serve *s = start(dir, 4, 0, 6); /* windows of 4 tokens */
    expect(s, "GET", "/v1/model", NULL, 200, "\"max_seq_length\": 6, \"max_windows\": 3");
    vt_bert *model = vt_bert_load(dir, VT_BERT_FOR_SEQUENCE_CLASSIFICATION, 0, 0);
    vt_tokenizer *tok = vt_tok_load(dir, NULL);
    assert_non_null(model);
    assert_non_null(tok);
    /* 4 tokens: one window; 10: three covering it; 25: three, some left out */
    const char *texts[] = {TEXTS[0], "the report on the project , the meeting and lunch", TEXTS[5]};
    const int32_t n_want[] = {1, 3, 3};
    const bool cut_want[] = {false, false, true};
    for (int i = 0; i < 3; i++) {
        vt_tok_encoding e[3];
        for (int j = 0; j < 3; j++) vt_tok_encoding_init(&e[j]);
        int32_t n;
        bool cut;
        assert_int_equal(vt_tok_encode_windows(tok, texts[i], strlen(texts[i]), NULL, 0, 6, 3, e, &n, &cut), VT_OK);
        assert_int_equal(n, n_want[i]);
        assert_int_equal(cut, cut_want[i]);
        float logits[3 * 3];
        for (int32_t j = 0; j < n; j++) { /* each window alone: the rows of a batch do not affect each other */
            int32_t type[6] = {0}, mask[6];
            for (int k = 0; k < e[j].len; k++) mask[k] = 1;
            vt_bert_batch b = {.batch = 1, .seq_len = e[j].len, .input_ids = e[j].ids, .token_type_ids = type,
                               .attention_mask = mask, .cls_only = true};
            vt_bert_outputs out;
            assert_int_equal(vt_bert_forward(model, &b, false, 0, &out), VT_OK);
            memcpy(logits + 3 * j, out.logits, 3 * sizeof(float));
        }
        double p[3];
        int best = vt_task_probs(logits, n, 3, p);
        char body[256], want[128];
        snprintf(body, sizeof body, "{\"text\": \"%s\"}", texts[i]);
        snprintf(want, sizeof want, "\"score\": %.8g, \"probs\": {\"neg\": %.8g", p[best], p[0]);
        expect(s, "POST", "/v1/classify", body, 200, want);
        expect(s, "POST", "/v1/classify", body, 200, cut_want[i] ? "\"truncated\": true" : "\"truncated\": false");
        expect(s, "POST", "/v1/embed", body, 200, i ? "\"truncated\": true" : "\"truncated\": false");
        for (int j = 0; j < 3; j++) vt_tok_encoding_free(&e[j]);
    }
    vt_tok_free(tok);
    vt_bert_free(model);
    vt_serve_stop(s);
    remove_model(dir);
}

static void test_engine_embed_only_and_failures(void **state) {
    (void)state;
    char *dir = make_model(VT_BERT_FOR_PRETRAINING);
    vt_serve *s = start(dir, 4, 1, 0);
    expect(s, "POST", "/v1/classify", "{\"text\": \"a\"}", 400, "no sequence classifier");
    expect(s, "POST", "/v1/embed", "{\"text\": \"a\", \"normalize\": true}", 200, "\"embedding\": [");
    expect(s, "GET", "/v1/model", NULL, 200, "\"endpoints\": [\"/v1/embed\"], \"labels\": [], \"num_labels\": 0");
    vt_serve_stop(s);
    remove_model(dir);

    vt_serve *f = vt_serve_start("/nonexistent/model", NULL);
    assert_non_null(f);
    assert_int_equal(vt_serve_wait_loaded(f, 30000), VT_SERVE_FAILED);
    assert_non_null(strstr(vt_serve_failure(f), "/nonexistent/model"));
    expect(f, "GET", "/healthz", NULL, 503, "\"status\": \"failed\"");
    expect(f, "POST", "/v1/classify", "{\"text\": \"a\"}", 503, "failed to load");
    expect(f, "GET", "/metrics", NULL, 200, "verto_model_ready 0");
    vt_serve_stop(f);

    vt_serve_options o;
    vt_serve_options_default(&o);
    o.max_batch = 0;
    assert_null(vt_serve_start("x", &o));
    assert_int_equal(vt_last_status(), VT_ERR_INVALID_ARG);
    vt_serve_stop(NULL);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_good),
        cmocka_unit_test(test_parse_bad),
        cmocka_unit_test(test_parse_question),
        cmocka_unit_test(test_endpoints),
        cmocka_unit_test(test_metrics),
        cmocka_unit_test(test_engine_answers),
        cmocka_unit_test(test_engine_bf16),
        cmocka_unit_test(test_engine_mixed_lengths),
        cmocka_unit_test(test_engine_windows),
        cmocka_unit_test(test_engine_embed_only_and_failures),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
