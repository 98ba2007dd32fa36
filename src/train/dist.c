/* The MPI layer of data parallelism (see verto/dist.h). With VT_WITH_MPI it
 * speaks MPI; without, every function is the one-rank case. */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sched.h>
#include <time.h>

#include "verto/dist.h"

static double g_timeout = VT_DIST_DEFAULT_TIMEOUT;

void vt_dist_set_timeout(double seconds) {
    if (seconds > 0) g_timeout = seconds;
}
double vt_dist_timeout(void) { return g_timeout; }

void vt_dist_shard(int64_t n, int rank, int size, int64_t *lo, int64_t *hi) {
    if (size < 1) size = 1;
    /* Split in units of 16 floats (64 bytes) so every shard starts aligned. */
    int64_t units = (n + 15) / 16;
    int64_t a = units * rank / size * 16, b = units * (rank + 1) / size * 16;
    *lo = a < n ? a : n;
    *hi = b < n ? b : n;
}

/* The launcher's word on how many ranks this job has (0: not launched). */
static int launcher_size(void) {
    static const char *const VARS[] = {"OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMIX_SIZE", "MPI_LOCALNRANKS"};
    for (size_t i = 0; i < sizeof VARS / sizeof *VARS; i++) {
        const char *v = getenv(VARS[i]);
        if (v && *v) {
            char *end;
            long n = strtol(v, &end, 10);
            if (!*end && n > 0 && n < 1 << 24) return (int)n;
        }
    }
    return getenv("PMIX_RANK") || getenv("PMI_RANK") ? 2 : 0;
}

int vt_dist_local_size(void) {
    static const char *const VARS[] = {"OMPI_COMM_WORLD_LOCAL_SIZE", "MPI_LOCALNRANKS", "PMI_LOCAL_SIZE"};
    if (vt_dist_size() <= 1) return 1;
    for (size_t i = 0; i < sizeof VARS / sizeof *VARS; i++) {
        const char *v = getenv(VARS[i]);
        char *end;
        long n = v ? strtol(v, &end, 10) : 0;
        if (v && *v && !*end && n > 0 && n <= vt_dist_size()) return (int)n;
    }
    return 1;
}

#ifdef VT_WITH_MPI
#include <mpi.h>

static bool g_joined = false;
static int g_rank = 0, g_size = 1;

bool vt_dist_built_with_mpi(void) { return true; }
int vt_dist_rank(void) { return g_rank; }
int vt_dist_size(void) { return g_size; }

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static vt_status mpi_fail(int rc, const char *what) {
    char text[MPI_MAX_ERROR_STRING] = "";
    int len = 0;
    MPI_Error_string(rc, text, &len);
    return vt_error(VT_ERR_IO, "MPI: %s failed: %s", what, text);
}

vt_status vt_dist_init(int *argc, char ***argv) {
    if (g_joined || launcher_size() == 0) return VT_OK;
    int inited = 0, provided = 0;
    MPI_Initialized(&inited);
    if (!inited) {
        int rc = MPI_Init_thread(argc, argv, MPI_THREAD_FUNNELED, &provided);
        if (rc != MPI_SUCCESS) return vt_error(VT_ERR_IO, "MPI_Init_thread failed (error %d)", rc);
    }
    g_joined = true;
    MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
    MPI_Comm_rank(MPI_COMM_WORLD, &g_rank);
    MPI_Comm_size(MPI_COMM_WORLD, &g_size);
    return VT_OK;
}

void vt_dist_finalize(void) {
    if (!g_joined) return;
    int done = 0;
    MPI_Finalized(&done);
    if (!done) MPI_Finalize();
    g_joined = false;
    g_rank = 0;
    g_size = 1;
}

void vt_dist_abort(int code) {
    if (g_joined && g_size > 1) MPI_Abort(MPI_COMM_WORLD, code);
}

/* Waits for requests reqs (n) with the deadline. For the first second it
 * polls MPI_Testall (which drives the progress of non-blocking collectives),
 * yielding the core between polls so that ranks sharing cores keep
 * computing; after that it naps 1 ms between polls (a long wait: rank 0
 * writing a checkpoint, or a rank in trouble). */
static vt_status wait_all(int n, MPI_Request *reqs, const char *what) {
    double start = now(), deadline = start + g_timeout;
    for (long polls = 1;; polls++) {
        int done = 0, rc = MPI_Testall(n, reqs, &done, MPI_STATUSES_IGNORE);
        if (rc != MPI_SUCCESS) return mpi_fail(rc, what);
        if (done) return VT_OK;
        if (polls % 256 == 0) {
            double t = now();
            if (t > deadline)
                return vt_error(VT_ERR_IO, "no answer from the other ranks within %g s (%s): a rank has died or hangs",
                                g_timeout, what);
            if (t - start > 1.0) {
                struct timespec ts = {0, 1000000};
                nanosleep(&ts, NULL);
                continue;
            }
        }
        sched_yield();
    }
}

static vt_status allreduce(void *x, int n, MPI_Datatype type, MPI_Op op, const char *what) {
    if (g_size <= 1 || n <= 0) return VT_OK;
    MPI_Request req;
    int rc = MPI_Iallreduce(MPI_IN_PLACE, x, n, type, op, MPI_COMM_WORLD, &req);
    if (rc != MPI_SUCCESS) return mpi_fail(rc, what);
    return wait_all(1, &req, what);
}

vt_status vt_dist_allreduce_sum_f64(double *x, int n) { return allreduce(x, n, MPI_DOUBLE, MPI_SUM, "all-reduce"); }
vt_status vt_dist_allreduce_max_f64(double *x, int n) { return allreduce(x, n, MPI_DOUBLE, MPI_MAX, "all-reduce"); }

vt_status vt_dist_all_equal_u64(uint64_t v, bool *same) {
    uint64_t mm[2] = {v, ~v}; /* max of v and max of ~v (= ~min v) */
    vt_status st = allreduce(mm, 2, MPI_UINT64_T, MPI_MAX, "consistency check");
    *same = st == VT_OK && mm[0] == v && ~mm[1] == v;
    return st;
}

#define CHUNK ((int64_t)1 << 30) /* MPI counts are int */

vt_status vt_dist_bcast(void *buf, size_t bytes, int root) {
    if (g_size <= 1) return VT_OK;
    for (size_t done = 0; done < bytes; done += (size_t)CHUNK) {
        size_t len = bytes - done < (size_t)CHUNK ? bytes - done : (size_t)CHUNK;
        MPI_Request req;
        int rc = MPI_Ibcast((char *)buf + done, (int)len, MPI_BYTE, root, MPI_COMM_WORLD, &req);
        if (rc != MPI_SUCCESS) return mpi_fail(rc, "broadcast");
        vt_status st = wait_all(1, &req, "broadcast");
        if (st != VT_OK) return st;
    }
    return VT_OK;
}

vt_status vt_dist_bcast_f32(float *x, int64_t n, int root) { return vt_dist_bcast(x, (size_t)n * sizeof(float), root); }

/* Counts and displacements of the shards of n floats (each below 2^31). */
static vt_status shard_layout(int64_t n, int *counts, int *displs) {
    for (int r = 0; r < g_size; r++) {
        int64_t lo, hi;
        vt_dist_shard(n, r, g_size, &lo, &hi);
        if (lo > INT32_MAX || hi - lo > INT32_MAX)
            return vt_error(VT_ERR_UNSUPPORTED, "sharding %" PRId64 " floats over %d ranks: a shard is too large for MPI",
                            n, g_size);
        counts[r] = (int)(hi - lo);
        displs[r] = (int)lo;
    }
    return VT_OK;
}

vt_status vt_dist_allgather_shards_f32(float *x, int64_t n) {
    if (g_size <= 1) return VT_OK;
    int *counts = malloc(2 * (size_t)g_size * sizeof(int));
    if (!counts) return vt_error(VT_ERR_NOMEM, "all-gather: out of memory");
    vt_status st = shard_layout(n, counts, counts + g_size);
    MPI_Request req;
    int rc = st == VT_OK ? MPI_Iallgatherv(MPI_IN_PLACE, 0, MPI_DATATYPE_NULL, x, counts, counts + g_size, MPI_FLOAT,
                                           MPI_COMM_WORLD, &req)
                         : MPI_SUCCESS;
    if (st == VT_OK && rc != MPI_SUCCESS) st = mpi_fail(rc, "all-gather of the parameters");
    if (st == VT_OK) st = wait_all(1, &req, "all-gather of the parameters");
    free(counts);
    return st;
}

vt_status vt_dist_gather_shards_f32(const float *shard, float *full, int64_t n) {
    if (g_size <= 1) {
        if (full != shard) memcpy(full, shard, (size_t)n * sizeof(float));
        return VT_OK;
    }
    int *counts = malloc(2 * (size_t)g_size * sizeof(int));
    if (!counts) return vt_error(VT_ERR_NOMEM, "gather: out of memory");
    vt_status st = shard_layout(n, counts, counts + g_size);
    MPI_Request req;
    int rc = st == VT_OK ? MPI_Igatherv(shard, counts[g_rank], MPI_FLOAT, full, counts, counts + g_size, MPI_FLOAT, 0,
                                        MPI_COMM_WORLD, &req)
                         : MPI_SUCCESS;
    if (st == VT_OK && rc != MPI_SUCCESS) st = mpi_fail(rc, "gather of the optimizer state");
    if (st == VT_OK) st = wait_all(1, &req, "gather of the optimizer state");
    free(counts);
    return st;
}

/* ---- the bucketed reducer ---- */

typedef struct interval {
    int64_t lo, hi;
} interval;

struct vt_dist_reducer {
    float *grads, *shard; /* (n), (shard_hi - shard_lo) or NULL */
    int64_t n, bucket, shard_lo, shard_hi;
    interval cur;          /* the bucket being filled (empty: lo == hi) */
    interval *sent;        /* (cap) ranges sent this reduction */
    int n_sent, cap;
    MPI_Request *reqs;     /* (cap) */
    int *counts;           /* (cap * size) recvcounts of each reduce-scatter */
    int n_reqs, early;
    vt_status error;
    double wait_s;
};

vt_dist_reducer *vt_dist_reducer_new(float *grads, int64_t n, int64_t bucket_floats, float *shard) {
    if (!grads || n < 0 || bucket_floats < 1) {
        vt_error(VT_ERR_INVALID_ARG, "gradient reducer: a buffer, its size and a positive bucket size are required");
        return NULL;
    }
    vt_dist_reducer *r = calloc(1, sizeof *r);
    if (!r) {
        vt_error(VT_ERR_NOMEM, "gradient reducer: out of memory");
        return NULL;
    }
    *r = (vt_dist_reducer){.grads = grads, .shard = shard, .n = n, .bucket = bucket_floats};
    vt_dist_shard(n, g_rank, g_size, &r->shard_lo, &r->shard_hi);
    return r;
}

void vt_dist_reducer_free(vt_dist_reducer *r) {
    if (!r) return;
    free(r->sent);
    free(r->reqs);
    free(r->counts);
    free(r);
}

void vt_dist_reducer_begin(vt_dist_reducer *r) {
    r->cur = (interval){0, 0};
    r->n_sent = r->n_reqs = r->early = 0;
    r->error = VT_OK;
    r->wait_s = 0;
}

static bool grow(vt_dist_reducer *r) {
    if (r->n_sent < r->cap && r->n_reqs < r->cap) return true;
    int cap = r->cap ? 2 * r->cap : 64;
    interval *s = realloc(r->sent, (size_t)cap * sizeof *s);
    if (s) r->sent = s;
    MPI_Request *q = s ? realloc(r->reqs, (size_t)cap * sizeof *q) : NULL;
    if (q) r->reqs = q;
    int *c = q ? realloc(r->counts, (size_t)cap * (size_t)g_size * sizeof *c) : NULL;
    if (c) r->counts = c;
    if (!c) return false;
    r->cap = cap;
    return true;
}

/* Starts the reduction of [lo, hi) (at most CHUNK floats per request). */
static void launch(vt_dist_reducer *r, int64_t lo, int64_t hi) {
    for (int64_t a = lo; a < hi && r->error == VT_OK; a += CHUNK) {
        int64_t b = hi - a > CHUNK ? a + CHUNK : hi;
        if (!grow(r)) {
            r->error = vt_error(VT_ERR_NOMEM, "gradient reducer: out of memory");
            return;
        }
        r->sent[r->n_sent++] = (interval){a, b};
        int rc;
        MPI_Request *req = &r->reqs[r->n_reqs];
        if (!r->shard) {
            rc = MPI_Iallreduce(MPI_IN_PLACE, r->grads + a, (int)(b - a), MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD, req);
        } else {
            int *counts = r->counts + (size_t)r->n_reqs * (size_t)g_size;
            for (int k = 0; k < g_size; k++) {
                int64_t slo, shi;
                vt_dist_shard(r->n, k, g_size, &slo, &shi);
                int64_t x = a > slo ? a : slo, y = b < shi ? b : shi;
                counts[k] = y > x ? (int)(y - x) : 0;
            }
            int64_t mine = a > r->shard_lo ? a : r->shard_lo;
            float *dst = r->shard + (mine < r->shard_hi ? mine - r->shard_lo : 0);
            rc = MPI_Ireduce_scatter(r->grads + a, dst, counts, MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD, req);
        }
        if (rc != MPI_SUCCESS) {
            r->error = mpi_fail(rc, r->shard ? "reduce-scatter of the gradients" : "all-reduce of the gradients");
            return;
        }
        r->n_reqs++;
    }
}

static void flush(vt_dist_reducer *r) {
    if (r->cur.hi > r->cur.lo) launch(r, r->cur.lo, r->cur.hi);
    r->cur = (interval){0, 0};
}

void vt_dist_reducer_ready(void *reducer, int64_t offset, int64_t count) {
    vt_dist_reducer *r = reducer;
    if (g_size <= 1 || r->error != VT_OK || count <= 0 || offset < 0 || offset + count > r->n) return;
    interval *c = &r->cur;
    if (c->hi == c->lo) *c = (interval){offset, offset + count};
    else if (offset + count == c->lo) c->lo = offset;
    else if (offset == c->hi) c->hi = offset + count;
    else {
        flush(r);
        *c = (interval){offset, offset + count};
    }
    if (c->hi - c->lo >= r->bucket) flush(r);
    r->early = r->n_reqs;
    if (r->n_reqs > 0 && r->error == VT_OK) { /* drive the progress of what is in flight */
        int done;
        int rc = MPI_Testall(r->n_reqs, r->reqs, &done, MPI_STATUSES_IGNORE);
        if (rc != MPI_SUCCESS) r->error = mpi_fail(rc, "gradient reduction");
    }
}

static int by_lo(const void *a, const void *b) {
    int64_t x = ((const interval *)a)->lo, y = ((const interval *)b)->lo;
    return (x > y) - (x < y);
}

vt_status vt_dist_reducer_finish(vt_dist_reducer *r) {
    if (g_size <= 1) { /* one rank: the sum is the buffer itself; its shard is all of it */
        if (r->shard && r->shard != r->grads) memcpy(r->shard, r->grads, (size_t)r->n * sizeof(float));
        return VT_OK;
    }
    flush(r);
    /* Whatever was never reported: the gaps between the sent ranges. */
    int n_before = r->n_sent;
    if (n_before > 0) qsort(r->sent, (size_t)n_before, sizeof *r->sent, by_lo); /* nothing reported: sent may be NULL */
    int64_t at = 0;
    for (int i = 0; i < n_before && r->error == VT_OK; i++) {
        int64_t lo = r->sent[i].lo, hi = r->sent[i].hi; /* launch may move r->sent */
        if (lo > at) launch(r, at, lo);
        if (hi > at) at = hi;
    }
    if (at < r->n) launch(r, at, r->n);
    double t0 = now();
    vt_status st = r->error;
    if (st == VT_OK)
        st = wait_all(r->n_reqs, r->reqs, r->shard ? "reduce-scatter of the gradients" : "all-reduce of the gradients");
    r->wait_s = now() - t0;
    return st;
}

double vt_dist_reducer_wait_seconds(const vt_dist_reducer *r) { return r ? r->wait_s : 0; }

void vt_dist_reducer_counts(const vt_dist_reducer *r, int *overlapped, int *total) {
    *overlapped = r ? r->early : 0;
    *total = r ? r->n_reqs : 0;
}

#else /* one rank, no MPI */

bool vt_dist_built_with_mpi(void) { return false; }
int vt_dist_rank(void) { return 0; }
int vt_dist_size(void) { return 1; }

vt_status vt_dist_init(int *argc, char ***argv) {
    (void)argc;
    (void)argv;
    int n = launcher_size();
    if (n > 1)
        return vt_error(VT_ERR_STATE,
                        "started by an MPI launcher as one of %d ranks, but this verto was built without MPI "
                        "(install libopenmpi-dev and run make again)",
                        n);
    return VT_OK;
}
void vt_dist_finalize(void) {}
void vt_dist_abort(int code) { (void)code; }

vt_status vt_dist_allreduce_sum_f64(double *x, int n) { (void)x; (void)n; return VT_OK; }
vt_status vt_dist_allreduce_max_f64(double *x, int n) { (void)x; (void)n; return VT_OK; }
vt_status vt_dist_all_equal_u64(uint64_t v, bool *same) {
    (void)v;
    *same = true;
    return VT_OK;
}
vt_status vt_dist_bcast(void *buf, size_t bytes, int root) { (void)buf; (void)bytes; (void)root; return VT_OK; }
vt_status vt_dist_bcast_f32(float *x, int64_t n, int root) { (void)x; (void)n; (void)root; return VT_OK; }
vt_status vt_dist_allgather_shards_f32(float *x, int64_t n) { (void)x; (void)n; return VT_OK; }
vt_status vt_dist_gather_shards_f32(const float *shard, float *full, int64_t n) {
    if (full != shard) memcpy(full, shard, (size_t)n * sizeof(float));
    return VT_OK;
}

struct vt_dist_reducer {
    float *grads, *shard;
    int64_t n;
};
vt_dist_reducer *vt_dist_reducer_new(float *grads, int64_t n, int64_t bucket_floats, float *shard) {
    if (!grads || n < 0 || bucket_floats < 1) {
        vt_error(VT_ERR_INVALID_ARG, "gradient reducer: a buffer, its size and a positive bucket size are required");
        return NULL;
    }
    vt_dist_reducer *r = calloc(1, sizeof *r);
    if (!r) vt_error(VT_ERR_NOMEM, "gradient reducer: out of memory");
    else *r = (vt_dist_reducer){grads, shard, n};
    return r;
}
void vt_dist_reducer_free(vt_dist_reducer *r) { free(r); }
void vt_dist_reducer_begin(vt_dist_reducer *r) { (void)r; }
void vt_dist_reducer_ready(void *reducer, int64_t offset, int64_t count) { (void)reducer; (void)offset; (void)count; }
vt_status vt_dist_reducer_finish(vt_dist_reducer *r) {
    /* One rank: the sum is the buffer itself; a shard is all of it. */
    if (r->shard && r->shard != r->grads) memcpy(r->shard, r->grads, (size_t)r->n * sizeof(float));
    return VT_OK;
}
double vt_dist_reducer_wait_seconds(const vt_dist_reducer *r) { (void)r; return 0; }
void vt_dist_reducer_counts(const vt_dist_reducer *r, int *overlapped, int *total) {
    (void)r;
    *overlapped = *total = 0;
}
#endif
