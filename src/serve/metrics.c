/* Prometheus metrics of the service (see verto/serve.h). */
#include <pthread.h>
#include <stdlib.h>
#if defined(__GLIBC__)
#include <malloc.h>
#endif

#include "core/asan.h"
#include "core/strbuf.h"
#include "verto/serve.h"

static const double LATENCY_LE[VT_SERVE_LATENCY_BUCKETS] = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
                                                            0.1,    0.25,  0.5,    1,     2.5,  5,     10};
static const int BATCH_LE[VT_SERVE_BATCH_BUCKETS] = {1, 2, 4, 8, 16, 32, 64, 128, 256, 512};

#define N_STATUS 600 /* index = HTTP status, 0 for anything outside 100..599 */

struct vt_serve_metrics {
    pthread_mutex_t lock;
    uint64_t requests[VT_SERVE_N_ENDPOINTS][N_STATUS];
    uint64_t latency[VT_SERVE_N_ENDPOINTS][VT_SERVE_LATENCY_BUCKETS]; /* non-cumulative */
    uint64_t latency_count[VT_SERVE_N_ENDPOINTS];
    double latency_sum[VT_SERVE_N_ENDPOINTS];
    uint64_t batch[VT_SERVE_BATCH_BUCKETS], batch_count, batch_sum;
    int64_t in_flight, queued;
};

vt_serve_metrics *vt_serve_metrics_new(void) {
    vt_serve_metrics *m = calloc(1, sizeof *m);
    if (!m) {
        vt_error(VT_ERR_NOMEM, "out of memory for the metrics");
        return NULL;
    }
    pthread_mutex_init(&m->lock, NULL);
    return m;
}

void vt_serve_metrics_free(vt_serve_metrics *m) {
    if (!m) return;
    pthread_mutex_destroy(&m->lock);
    free(m);
}

void vt_serve_metrics_request(vt_serve_metrics *m, vt_serve_endpoint e, int status, double seconds) {
    if ((unsigned)e >= VT_SERVE_N_ENDPOINTS) e = VT_SERVE_OTHER;
    if (status < 100 || status >= N_STATUS) status = 0;
    if (!(seconds >= 0)) seconds = 0;
    int b = 0;
    while (b < VT_SERVE_LATENCY_BUCKETS && seconds > LATENCY_LE[b]) b++;
    pthread_mutex_lock(&m->lock);
    m->requests[e][status]++;
    if (b < VT_SERVE_LATENCY_BUCKETS) m->latency[e][b]++;
    m->latency_count[e]++;
    m->latency_sum[e] += seconds;
    pthread_mutex_unlock(&m->lock);
}

void vt_serve_metrics_batch(vt_serve_metrics *m, int size) {
    int b = 0;
    while (b < VT_SERVE_BATCH_BUCKETS && size > BATCH_LE[b]) b++;
    pthread_mutex_lock(&m->lock);
    if (b < VT_SERVE_BATCH_BUCKETS) m->batch[b]++;
    m->batch_count++;
    m->batch_sum += size > 0 ? (uint64_t)size : 0;
    pthread_mutex_unlock(&m->lock);
}

void vt_serve_metrics_in_flight(vt_serve_metrics *m, int delta) {
    pthread_mutex_lock(&m->lock);
    m->in_flight += delta;
    pthread_mutex_unlock(&m->lock);
}

void vt_serve_metrics_queue(vt_serve_metrics *m, int64_t queued) {
    pthread_mutex_lock(&m->lock);
    m->queued = queued;
    pthread_mutex_unlock(&m->lock);
}

/* Bytes malloc has handed out and not had back (-1 where the C library does
 * not say, or under AddressSanitizer, whose allocator glibc does not see).
 * Unlike resident memory it does not move with the allocator's free lists or
 * the pages it keeps, so it is how a leak shows. */
static long long heap_in_use_bytes(void) {
#if defined(__GLIBC__) && (__GLIBC__ > 2 || __GLIBC_MINOR__ >= 33) && !defined(VT_ASAN_ALLOCATOR)
    struct mallinfo2 mi = mallinfo2();
    return (long long)(mi.uordblks + mi.hblkhd); /* in the heaps + in their own mappings */
#else
    return -1;
#endif
}

vt_status vt_serve_metrics_render(vt_serve_metrics *m, bool ready, char **out, size_t *len) {
    vt_serve_metrics c;
    pthread_mutex_lock(&m->lock);
    c = *m; /* a consistent snapshot; the copied mutex is never used */
    pthread_mutex_unlock(&m->lock);
    vt_sb b = {0};
    vt_sb_str(&b, "# HELP verto_requests_total HTTP requests answered, by endpoint and status code.\n"
                  "# TYPE verto_requests_total counter\n");
    for (int e = 0; e < VT_SERVE_N_ENDPOINTS; e++)
        for (int s = 0; s < N_STATUS; s++)
            if (c.requests[e][s])
                vt_sb_printf(&b, "verto_requests_total{endpoint=\"%s\",status=\"%d\"} %llu\n",
                             vt_serve_endpoint_name((vt_serve_endpoint)e), s, (unsigned long long)c.requests[e][s]);
    vt_sb_str(&b, "# HELP verto_request_duration_seconds Time from a complete request to its answer, by endpoint.\n"
                  "# TYPE verto_request_duration_seconds histogram\n");
    for (int e = 0; e < VT_SERVE_N_ENDPOINTS; e++) {
        const char *name = vt_serve_endpoint_name((vt_serve_endpoint)e);
        uint64_t cum = 0;
        for (int k = 0; k < VT_SERVE_LATENCY_BUCKETS; k++) {
            cum += c.latency[e][k];
            vt_sb_printf(&b, "verto_request_duration_seconds_bucket{endpoint=\"%s\",le=\"%g\"} %llu\n", name,
                         LATENCY_LE[k], (unsigned long long)cum);
        }
        vt_sb_printf(&b, "verto_request_duration_seconds_bucket{endpoint=\"%s\",le=\"+Inf\"} %llu\n", name,
                     (unsigned long long)c.latency_count[e]);
        vt_sb_printf(&b, "verto_request_duration_seconds_sum{endpoint=\"%s\"} %.9g\n", name, c.latency_sum[e]);
        vt_sb_printf(&b, "verto_request_duration_seconds_count{endpoint=\"%s\"} %llu\n", name,
                     (unsigned long long)c.latency_count[e]);
    }
    vt_sb_str(&b, "# HELP verto_batch_size Inputs per forward pass of the model.\n"
                  "# TYPE verto_batch_size histogram\n");
    uint64_t cum = 0;
    for (int k = 0; k < VT_SERVE_BATCH_BUCKETS; k++) {
        cum += c.batch[k];
        vt_sb_printf(&b, "verto_batch_size_bucket{le=\"%d\"} %llu\n", BATCH_LE[k], (unsigned long long)cum);
    }
    vt_sb_printf(&b, "verto_batch_size_bucket{le=\"+Inf\"} %llu\n", (unsigned long long)c.batch_count);
    vt_sb_printf(&b, "verto_batch_size_sum %llu\n", (unsigned long long)c.batch_sum);
    vt_sb_printf(&b, "verto_batch_size_count %llu\n", (unsigned long long)c.batch_count);
    vt_sb_printf(&b,
                 "# HELP verto_requests_in_flight Requests being answered now.\n"
                 "# TYPE verto_requests_in_flight gauge\n"
                 "verto_requests_in_flight %lld\n"
                 "# HELP verto_queued_inputs Inputs waiting for the inference worker.\n"
                 "# TYPE verto_queued_inputs gauge\n"
                 "verto_queued_inputs %lld\n"
                 "# HELP verto_model_ready 1 once the model is loaded and requests are served.\n"
                 "# TYPE verto_model_ready gauge\n"
                 "verto_model_ready %d\n",
                 (long long)c.in_flight, (long long)c.queued, ready ? 1 : 0);
    long long heap = heap_in_use_bytes();
    if (heap >= 0)
        vt_sb_printf(&b,
                     "# HELP verto_heap_in_use_bytes Bytes the C allocator has handed out and not had back.\n"
                     "# TYPE verto_heap_in_use_bytes gauge\n"
                     "verto_heap_in_use_bytes %lld\n",
                     heap);
    *out = vt_sb_take(&b, len);
    return *out ? VT_OK : vt_error(VT_ERR_NOMEM, "out of memory rendering the metrics");
}
