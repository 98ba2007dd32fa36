/* vt_matmul and vt_matmul_strided, f32 and bf16, on oneDNN's matmul primitive,
 * and vt_matmul_seqwise, the dense layer whose rows do not depend on the batch.
 * f32 products of vt_matmul go to BLIS or OpenBLAS instead where the measured
 * table (gemm_choice.c) or VT_GEMM says so (blas_2d below).
 *
 * Transposes and batches are expressed as memory strides (no copies), the
 * bias as the primitive's bias argument (always f32), alpha as an output scale and beta as
 * a sum post-op. Primitives are cached per shape, strides, bias?, alpha, beta
 * and threading context in a chained hash table under a mutex. The cache
 * holds at most VT_MATMUL_CACHE_MAX entries: each is compiled code and descriptors
 * (~47 kB resident), and unpadded batches bring a new row count with almost
 * every batch, so a long-running server or training run would otherwise grow
 * without end. Past the bound the least recently used entry that no thread is
 * running is destroyed. One CPU engine is created on first use.
 *
 * bf16 where oneDNN has no bf16 matmul (CPUs without AVX-512, or with the ISA
 * capped): the operands are widened to f32 (exact) in a per-thread buffer
 * laid out with the same strides, and the f32 primitive runs on them. The
 * products of bf16 values are exact in f32 and the sums are f32, as on the
 * bf16 instructions: the same arithmetic, without the speed.
 *
 * Callers on several threads may run the same primitive at once. oneDNN allows
 * that only when each execution brings its own scratchpad (the library-managed
 * one is private to the primitive, hence shared by its concurrent runs), so
 * primitives use the user scratchpad mode and every thread keeps its own
 * scratchpad buffer and stream, freed when the thread exits. */
#include <omp.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <oneapi/dnnl/dnnl.h>
#include <oneapi/dnnl/dnnl_debug.h>

#include "verto/kernels.h"
#include "verto/platform.h"
#include "core/hash.h"
#include "kernels/gemm_backends.h"
#include "kernels/onednn_internal.h"
#include "core/par_error.h"

typedef struct mm_key {
    int64_t batch, M, N, K;
    vt_strides sa, sb, sc;
    float alpha, beta;
    bool has_bias;
    bool bf16;   /* A and B in bf16 (C is f32 either way) */
    bool nested; /* run inside an OpenMP parallel region: oneDNN uses the calling thread alone */
} mm_key;

typedef struct mm_entry {
    mm_key key;
    dnnl_primitive_t prim;
    dnnl_memory_desc_t a_md, b_md, bias_md, c_md, scratch_md;
    size_t scratch_bytes;
    bool widen; /* a bf16 key run as f32 on widened operands (no bf16 matmul in oneDNN here) */
    uint64_t last_use; /* g_clock at its latest lookup (under g_lock) */
    atomic_int users;  /* threads between lookup and release: not evicted while > 0 */
    struct mm_entry *next;
} mm_entry;

#define MM_BUCKETS 256

static pthread_once_t g_once = PTHREAD_ONCE_INIT;
static dnnl_engine_t g_engine;
static dnnl_status_t g_init_status = dnnl_success;
static pthread_key_t g_thread_key; /* -> thread_state */
static pthread_mutex_t g_lock = PTHREAD_MUTEX_INITIALIZER;
static mm_entry *g_buckets[MM_BUCKETS];
static int64_t g_entries;  /* in the table (under g_lock) */
static uint64_t g_clock;   /* lookups so far (under g_lock) */

/* What one calling thread brings to each execution. */
typedef struct grow_buf {
    void *p; /* bytes, 64-byte aligned */
    size_t bytes;
} grow_buf;

typedef struct thread_state {
    dnnl_stream_t stream;
    grow_buf scratch;    /* oneDNN's scratchpad */
    grow_buf wide_a, wide_b; /* bf16 operands widened to f32 */
} thread_state;

static void free_thread_state(void *p) {
    thread_state *t = p;
    dnnl_stream_destroy(t->stream);
    free(t->scratch.p);
    free(t->wide_a.p);
    free(t->wide_b.p);
    free(t);
}

/* g's memory, grown to at least bytes; NULL with vt_error set. */
static void *grow(grow_buf *g, size_t bytes) {
    if (bytes > g->bytes) {
        size_t rounded = (bytes + 63) / 64 * 64;
        void *p = aligned_alloc(64, rounded);
        if (!p) {
            vt_error(VT_ERR_NOMEM, "out of memory for a %zu-byte matmul buffer", bytes);
            return NULL;
        }
        free(g->p);
        g->p = p;
        g->bytes = rounded;
    }
    return g->p;
}

static void init_engine(void) {
    if (vt_isa_in_use() < VT_ISA_AVX512) /* VERTO_MAX_ISA caps oneDNN too (a no-op if ONEDNN_MAX_CPU_ISA set it) */
        dnnl_set_max_cpu_isa(dnnl_cpu_isa_avx2);
    g_init_status = dnnl_engine_create(&g_engine, dnnl_cpu, 0);
    if (g_init_status == dnnl_success && pthread_key_create(&g_thread_key, free_thread_state))
        g_init_status = dnnl_out_of_memory;
}

/* This thread's state with a scratchpad of at least bytes; NULL with vt_error set. */
static thread_state *thread_state_for(size_t bytes) {
    thread_state *t = pthread_getspecific(g_thread_key);
    if (!t) {
        dnnl_status_t s;
        if (!(t = calloc(1, sizeof *t))) {
            vt_error(VT_ERR_NOMEM, "out of memory for a thread's matmul state");
            return NULL;
        }
        if ((s = dnnl_stream_create(&t->stream, g_engine, dnnl_stream_default_flags))) {
            free(t);
            vt_error(VT_ERR_UNSUPPORTED, "oneDNN stream creation failed (%s)", dnnl_status2str(s));
            return NULL;
        }
        if (pthread_setspecific(g_thread_key, t)) {
            free_thread_state(t);
            vt_error(VT_ERR_NOMEM, "out of memory for a thread's matmul state");
            return NULL;
        }
    }
    return bytes && !grow(&t->scratch, bytes) ? NULL : t;
}

dnnl_engine_t vt_onednn_engine(void) {
    pthread_once(&g_once, init_engine);
    if (g_init_status == dnnl_success) return g_engine;
    vt_error(VT_ERR_UNSUPPORTED, "oneDNN CPU engine unavailable (%s)", dnnl_status2str(g_init_status));
    return NULL;
}

dnnl_stream_t vt_onednn_thread_stream(size_t scratch_bytes, void **scratch) {
    if (!vt_onednn_engine()) return NULL;
    thread_state *t = thread_state_for(scratch_bytes);
    if (!t) return NULL;
    *scratch = t->scratch.p;
    return t->stream;
}

static bool key_eq(const mm_key *a, const mm_key *b) { return !memcmp(a, b, sizeof *a); }

static size_t key_hash(const mm_key *k) {
    uint64_t h = vt_fnv1a64(VT_FNV64_INIT, k, sizeof *k);
    return (size_t)(h ^ (h >> 29)) % MM_BUCKETS;
}

static vt_status dnnl_fail(dnnl_status_t s, const char *what, const mm_key *k) {
    return vt_error(VT_ERR_UNSUPPORTED, "oneDNN %s failed (%s) for %s matmul batch=%lld M=%lld N=%lld K=%lld%s alpha=%g beta=%g",
                    what, dnnl_status2str(s), k->bf16 ? "bf16" : "f32", (long long)k->batch, (long long)k->M,
                    (long long)k->N, (long long)k->K, k->has_bias ? " bias" : "", (double)k->alpha, (double)k->beta);
}

/* Builds the primitive for k into e (called with g_lock held), with A and B
 * of type ab_type. A batch of 1 is described as plain 2-D matrices. */
static dnnl_status_t create_primitive(const mm_key *k, dnnl_data_type_t ab_type, mm_entry *e, const char **what) {
    int nd = k->batch > 1 ? 3 : 2, o = 3 - nd;
    dnnl_dims_t a_dims = {k->batch, k->M, k->K}, a_str = {k->sa.batch, k->sa.row, k->sa.col};
    dnnl_dims_t b_dims = {k->batch, k->K, k->N}, b_str = {k->sb.batch, k->sb.row, k->sb.col};
    dnnl_dims_t c_dims = {k->batch, k->M, k->N}, c_str = {k->sc.batch, k->sc.row, k->sc.col};
    dnnl_dims_t bias_dims = {1, 1, k->N}, bias_str = {k->N, k->N, 1};
    dnnl_status_t s;
    *what = "memory descriptor";
    if ((s = dnnl_memory_desc_init_by_strides(&e->a_md, nd, a_dims + o, ab_type, a_str + o)) ||
        (s = dnnl_memory_desc_init_by_strides(&e->b_md, nd, b_dims + o, ab_type, b_str + o)) ||
        (s = dnnl_memory_desc_init_by_strides(&e->c_md, nd, c_dims + o, dnnl_f32, c_str + o)) ||
        (k->has_bias && (s = dnnl_memory_desc_init_by_strides(&e->bias_md, nd, bias_dims + o, dnnl_f32, bias_str + o))))
        return s;

    dnnl_matmul_desc_t desc;
    *what = "matmul descriptor";
    if ((s = dnnl_matmul_desc_init(&desc, &e->a_md, &e->b_md, k->has_bias ? &e->bias_md : NULL, &e->c_md))) return s;

    dnnl_primitive_attr_t attr = NULL;
    dnnl_post_ops_t ops = NULL;
    dnnl_primitive_desc_t pd = NULL;
    *what = "attribute";
    if ((s = dnnl_primitive_attr_create(&attr))) return s;
    if ((s = dnnl_primitive_attr_set_scratchpad_mode(attr, dnnl_scratchpad_mode_user)) ||
        (k->alpha != 1.0f && (s = dnnl_primitive_attr_set_output_scales(attr, 1, 0, &k->alpha))) ||
        (k->beta != 0.0f && ((s = dnnl_post_ops_create(&ops)) || (s = dnnl_post_ops_append_sum(ops, k->beta)) ||
                             (s = dnnl_primitive_attr_set_post_ops(attr, ops))))) {
        if (ops) dnnl_post_ops_destroy(ops);
        dnnl_primitive_attr_destroy(attr);
        return s;
    }
    if (ops) dnnl_post_ops_destroy(ops);
    *what = "primitive descriptor";
    s = dnnl_primitive_desc_create(&pd, &desc, attr, g_engine, NULL);
    dnnl_primitive_attr_destroy(attr);
    if (s) return s;
    e->scratch_md = *dnnl_primitive_desc_query_md(pd, dnnl_query_scratchpad_md, 0);
    e->scratch_bytes = dnnl_memory_desc_get_size(&e->scratch_md);
    *what = "primitive creation";
    s = dnnl_primitive_create(&e->prim, pd);
    dnnl_primitive_desc_destroy(pd);
    return s;
}

/* The entry for k: its own primitive, or for a bf16 key that oneDNN cannot
 * run in bf16 here, the f32 one on widened operands (e->widen). */
static vt_status create_entry(const mm_key *k, mm_entry *e) {
    const char *what;
    memset(e, 0, sizeof *e);
    e->key = *k;
    dnnl_status_t s = create_primitive(k, k->bf16 ? dnnl_bf16 : dnnl_f32, e, &what);
    if (s == dnnl_unimplemented && k->bf16) {
        e->widen = true;
        s = create_primitive(k, dnnl_f32, e, &what);
    }
    return s ? dnnl_fail(s, what, k) : VT_OK;
}

/* Destroys the least recently used entry no thread is running (called with
 * g_lock held). A user's count only rises under g_lock, so one seen at 0
 * here stays unused. */
static void evict_one(void) {
    mm_entry **oldest = NULL;
    for (int b = 0; b < MM_BUCKETS; b++)
        for (mm_entry **link = &g_buckets[b]; *link; link = &(*link)->next)
            if (atomic_load(&(*link)->users) == 0 && (!oldest || (*link)->last_use < (*oldest)->last_use))
                oldest = link;
    if (!oldest) return; /* every entry in use: the table stays over the bound until they are released */
    mm_entry *e = *oldest;
    *oldest = e->next;
    dnnl_primitive_destroy(e->prim);
    free(e);
    g_entries--;
}

/* The cached entry for k, created on first use and held for the caller
 * until release(); NULL with vt_error set. */
static mm_entry *lookup(const mm_key *k) {
    size_t h = key_hash(k);
    pthread_mutex_lock(&g_lock);
    mm_entry *e = g_buckets[h];
    while (e && !key_eq(&e->key, k)) e = e->next;
    bool created = false;
    if (!e) {
        e = malloc(sizeof *e);
        if (!e) {
            vt_error(VT_ERR_NOMEM, "out of memory caching a matmul primitive");
        } else if (create_entry(k, e) != VT_OK) {
            free(e);
            e = NULL;
        } else {
            atomic_init(&e->users, 0);
            e->next = g_buckets[h];
            g_buckets[h] = e;
            created = true;
        }
    }
    if (e) {
        e->last_use = ++g_clock;
        atomic_fetch_add(&e->users, 1); /* held: the eviction below cannot take it */
    }
    if (created && ++g_entries > VT_MATMUL_CACHE_MAX) evict_one();
    pthread_mutex_unlock(&g_lock);
    return e;
}

static void release(mm_entry *e) { atomic_fetch_sub(&e->users, 1); }

int64_t vt_matmul_cached_primitives(void) {
    pthread_mutex_lock(&g_lock);
    int64_t n = g_entries;
    pthread_mutex_unlock(&g_lock);
    return n;
}

/* op(A) @ op(B) is zero when K == 0: C = bias + beta * C. */
static void matmul_k0(const float *bias, float *C, int64_t M, int64_t N, float beta) {
#pragma omp parallel for schedule(static) if (M * N > 65536)
    for (int64_t i = 0; i < M; i++) {
        float *restrict c = C + i * N;
        for (int64_t j = 0; j < N; j++) c[j] = (beta != 0.0f ? beta * c[j] : 0.0f) + (bias ? bias[j] : 0.0f);
    }
}

/* Keys are hashed and compared bytewise, so their padding must be zero. */
static mm_key make_key(int64_t batch, int64_t M, int64_t N, int64_t K, float alpha, float beta, vt_strides sa,
                       vt_strides sb, vt_strides sc) {
    mm_key k;
    memset(&k, 0, sizeof k);
    k.batch = batch;
    k.M = M;
    k.N = N;
    k.K = K;
    k.alpha = alpha;
    k.beta = beta;
    k.sa = sa;
    k.sb = sb;
    k.sc = sc;
    k.nested = omp_in_parallel();
    return k;
}

/* Elements from the first of a (batch, rows, cols) operand to its last. */
static int64_t extent(int64_t batch, int64_t rows, int64_t cols, vt_strides s) {
    return (batch - 1) * s.batch + (rows - 1) * s.row + (cols - 1) * s.col + 1;
}

/* x (n) widened to f32 into g, which keeps x's layout; NULL with vt_error set. */
static const float *widen(grow_buf *g, const vt_bf16 *x, int64_t n) {
    float *w = grow(g, (size_t)n * sizeof(float));
    if (!w) return NULL;
#pragma omp parallel for simd schedule(static) if (n > 65536)
    for (int64_t i = 0; i < n; i++) {
        uint32_t u = (uint32_t)x[i] << 16;
        memcpy(&w[i], &u, sizeof u);
    }
    return w;
}

/* Runs e, the held entry for k (M, N, K > 0). */
static vt_status execute(const mm_entry *e, const mm_key *k, const void *A, const void *B, const float *bias,
                         float *C) {
    thread_state *t = thread_state_for(e->scratch_bytes);
    if (!t) return vt_last_status();
    if (e->widen && (!(A = widen(&t->wide_a, A, extent(k->batch, k->M, k->K, k->sa))) ||
                     !(B = widen(&t->wide_b, B, extent(k->batch, k->K, k->N, k->sb)))))
        return vt_last_status();
    dnnl_exec_arg_t args[5] = {{DNNL_ARG_SRC, NULL}, {DNNL_ARG_WEIGHTS, NULL}, {DNNL_ARG_DST, NULL}};
    int n_args = 3;
    dnnl_status_t s;
    if (!(s = dnnl_memory_create(&args[0].memory, &e->a_md, g_engine, (void *)A)) &&
        !(s = dnnl_memory_create(&args[1].memory, &e->b_md, g_engine, (void *)B)) &&
        !(s = dnnl_memory_create(&args[2].memory, &e->c_md, g_engine, C)) && bias) {
        args[n_args] = (dnnl_exec_arg_t){DNNL_ARG_BIAS, NULL};
        s = dnnl_memory_create(&args[n_args++].memory, &e->bias_md, g_engine, (void *)bias);
    }
    if (!s && e->scratch_bytes) {
        args[n_args] = (dnnl_exec_arg_t){DNNL_ARG_SCRATCHPAD, NULL};
        s = dnnl_memory_create(&args[n_args++].memory, &e->scratch_md, g_engine, t->scratch.p);
    }
    if (s) {
        for (int i = 0; i < n_args; i++)
            if (args[i].memory) dnnl_memory_destroy(args[i].memory);
        return dnnl_fail(s, "memory creation", k);
    }
    s = dnnl_primitive_execute(e->prim, t->stream, n_args, args);
    if (s == dnnl_success) s = dnnl_stream_wait(t->stream);
    for (int i = 0; i < n_args; i++) dnnl_memory_destroy(args[i].memory);
    return s == dnnl_success ? VT_OK : dnnl_fail(s, "execution", k);
}

/* Runs the cached primitive for k (M, N, K > 0). */
static vt_status run(const mm_key *k, const void *A, const void *B, const float *bias, float *C) {
    pthread_once(&g_once, init_engine);
    if (g_init_status != dnnl_success)
        return vt_error(VT_ERR_UNSUPPORTED, "oneDNN CPU engine unavailable (%s)", dnnl_status2str(g_init_status));
    mm_entry *e = lookup(k);
    if (!e) return vt_last_status();
    vt_status st = execute(e, k, A, B, bias, C);
    release(e);
    return st;
}

/* C (M, N) = op(A) op(B) + bias + beta * C on BLIS or OpenBLAS, which have
 * no bias argument: C starts as bias + beta * C and the product adds to it. */
static vt_status blas_2d(vt_gemm_backend b, const float *A, const float *B, const float *bias, float *C, int64_t M,
                         int64_t N, int64_t K, bool trans_a, bool trans_b, float beta) {
    if (bias) {
#pragma omp parallel for schedule(static) if (M * N > 65536 && !omp_in_parallel())
        for (int64_t i = 0; i < M; i++) {
            float *restrict c = C + i * N;
            for (int64_t j = 0; j < N; j++) c[j] = (beta != 0.0f ? beta * c[j] : 0.0f) + bias[j];
        }
        beta = 1.0f;
    }
    gemm_args g = {A, B, C, M, N, K, trans_a, trans_b, beta};
    return b == VT_GEMM_BLIS ? gemm_blis(&g) : gemm_openblas(&g);
}

/* C (M, N) = op(A) op(B) + bias + beta * C for A and B of either type. */
static vt_status matmul_2d(bool bf16, const void *A, const void *B, const float *bias, float *C, int64_t M, int64_t N,
                           int64_t K, bool trans_a, bool trans_b, float beta) {
    if (M < 0 || N < 0 || K < 0)
        return vt_error(VT_ERR_SHAPE, "matmul with negative size M=%lld N=%lld K=%lld", (long long)M, (long long)N,
                        (long long)K);
    if (M == 0 || N == 0) return VT_OK;
    if (K == 0) {
        matmul_k0(bias, C, M, N, beta);
        return VT_OK;
    }
    if (!bf16) {
        vt_gemm_backend b = gemm_pick(M, N, K, trans_a, trans_b);
        if (b == VT_GEMM_AUTO) return vt_last_status(); /* VT_GEMM invalid */
        if (b != VT_GEMM_ONEDNN) return blas_2d(b, A, B, bias, C, M, N, K, trans_a, trans_b, beta);
    }
    mm_key k = make_key(1, M, N, K, 1.0f, beta, (vt_strides){0, trans_a ? 1 : K, trans_a ? M : 1},
                        (vt_strides){0, trans_b ? 1 : N, trans_b ? K : 1}, (vt_strides){0, N, 1});
    k.has_bias = bias != NULL;
    k.bf16 = bf16;
    return run(&k, A, B, bias, C);
}

vt_status vt_matmul(const float *A,    // (M, K), or (K, M) if trans_a
                    const float *B,    // (K, N), or (N, K) if trans_b
                    const float *bias, // (N) or NULL
                    float *C,          // (M, N)
                    int64_t M, int64_t N, int64_t K, bool trans_a, bool trans_b, float beta) {
    return matmul_2d(false, A, B, bias, C, M, N, K, trans_a, trans_b, beta);
}

vt_status vt_matmul_bf16(const vt_bf16 *A, // (M, K), or (K, M) if trans_a
                         const vt_bf16 *B, // (K, N), or (N, K) if trans_b
                         const float *bias, float *C, int64_t M, int64_t N, int64_t K, bool trans_a, bool trans_b,
                         float beta) {
    return matmul_2d(true, A, B, bias, C, M, N, K, trans_a, trans_b, beta);
}

static vt_status matmul_strided(bool bf16, int64_t batch, int64_t M, int64_t N, int64_t K, float alpha, const void *A,
                                vt_strides sa, const void *B, vt_strides sb, float beta, float *C, vt_strides sc) {
    if (batch < 0 || M < 0 || N < 0 || K < 1)
        return vt_error(VT_ERR_SHAPE, "strided matmul with bad size batch=%lld M=%lld N=%lld K=%lld", (long long)batch,
                        (long long)M, (long long)N, (long long)K);
    if (batch == 0 || M == 0 || N == 0) return VT_OK;
    if (batch == 1) sa.batch = sb.batch = sc.batch = 0; /* unused: one cache entry per 2-D layout */
    mm_key k = make_key(batch, M, N, K, alpha, beta, sa, sb, sc);
    k.bf16 = bf16;
    return run(&k, A, B, NULL, C);
}

/* Each sequence's rows are cut into blocks of at most this many rows (64:
 * single-threaded products of 64 rows ran as fast as one product over a whole
 * batch on 2 AVX2 cores, and smaller blocks lose speed). */
#define SEQ_BLOCK_ROWS 64

/* Sequence i is rows offsets[i] .. offsets[i+1] - 1 (offsets NULL: rows
 * i * seq_rows ..); its blocks are cut by its own length alone. */
static int64_t seq_start(const int64_t *offsets, int64_t seq_rows, int64_t i) {
    return offsets ? offsets[i] : i * seq_rows;
}
static int64_t blocks_of(int64_t rows) { return (rows + SEQ_BLOCK_ROWS - 1) / SEQ_BLOCK_ROWS; }

static vt_status seqwise(bool bf16, const void *A, const void *W, const float *bias, float *C, int64_t n_seq,
                         const int64_t *offsets, int64_t seq_rows, int64_t N, int64_t K) {
    if (n_seq < 0 || seq_rows < 0 || N < 0 || K < 1)
        return vt_error(VT_ERR_SHAPE, "sequence-wise matmul with bad size sequences=%lld rows=%lld N=%lld K=%lld",
                        (long long)n_seq, (long long)seq_rows, (long long)N, (long long)K);
    int64_t items = 0, total = seq_start(offsets, seq_rows, n_seq);
    for (int64_t i = 0; i < n_seq; i++) {
        int64_t n = seq_start(offsets, seq_rows, i + 1) - seq_start(offsets, seq_rows, i);
        if (n < 0) return vt_error(VT_ERR_SHAPE, "packed matmul: offsets decrease at sequence %lld", (long long)i);
        items += blocks_of(n);
    }
    if (items == 0 || N == 0) return VT_OK;
    if (bf16 && !vt_bf16_native()) { /* widen once here rather than in every block */
        thread_state *t = thread_state_for(0);
        if (!t || !(A = widen(&t->wide_a, A, total * K)) || !(W = widen(&t->wide_b, W, N * K)))
            return vt_last_status();
        bf16 = false;
    }
    size_t elem = bf16 ? sizeof(vt_bf16) : sizeof(float);
    int64_t uniform_blocks = offsets ? 0 : blocks_of(seq_rows);
    vt_par_error err = {0};
#pragma omp parallel for schedule(dynamic, 1) /* (blocks of a packed batch differ in rows) */
    for (int64_t item = 0; item < items; item++) {
        int64_t seq = 0, blk = item;
        if (uniform_blocks) {
            seq = item / uniform_blocks, blk = item % uniform_blocks;
        } else { /* (a walk over the sequences: there are few) */
            for (int64_t nb; blk >= (nb = blocks_of(offsets[seq + 1] - offsets[seq])); seq++) blk -= nb;
        }
        int64_t s0 = seq_start(offsets, seq_rows, seq), n = seq_start(offsets, seq_rows, seq + 1) - s0;
        int64_t nblk = blocks_of(n), r0 = blk * n / nblk, r1 = (blk + 1) * n / nblk, row = s0 + r0;
        vt_par_error_keep(&err, item,
                          matmul_2d(bf16, (const char *)A + (size_t)(row * K) * elem, W, bias, C + row * N, r1 - r0,
                                    N, K, false, true, 0.0f));
    }
    return vt_par_error_raise(&err);
}

vt_status vt_matmul_seqwise(const float *A,    // (n_seq * seq_rows, K)
                            const float *W,    // (N, K)
                            const float *bias, // (N) or NULL
                            float *C,          // (n_seq * seq_rows, N)
                            int64_t n_seq, int64_t seq_rows, int64_t N, int64_t K) {
    return seqwise(false, A, W, bias, C, n_seq, NULL, seq_rows, N, K);
}

vt_status vt_matmul_seqwise_bf16(const vt_bf16 *A, const vt_bf16 *W, const float *bias, float *C, int64_t n_seq,
                                 int64_t seq_rows, int64_t N, int64_t K) {
    return seqwise(true, A, W, bias, C, n_seq, NULL, seq_rows, N, K);
}

vt_status vt_matmul_packed(const float *A,         // (offsets[n_seq], K)
                           const float *W,         // (N, K)
                           const float *bias,      // (N) or NULL
                           float *C,               // (offsets[n_seq], N)
                           int64_t n_seq, const int64_t *offsets, // (n_seq + 1)
                           int64_t N, int64_t K) {
    return seqwise(false, A, W, bias, C, n_seq, offsets, 0, N, K);
}

vt_status vt_matmul_packed_bf16(const vt_bf16 *A, const vt_bf16 *W, const float *bias, float *C, int64_t n_seq,
                                const int64_t *offsets, int64_t N, int64_t K) {
    return seqwise(true, A, W, bias, C, n_seq, offsets, 0, N, K);
}

static pthread_once_t g_bf16_once = PTHREAD_ONCE_INIT;
static bool g_bf16_native;

/* Whether oneDNN builds a bf16 matmul here (tried once on a small shape). */
static void probe_bf16(void) {
    pthread_once(&g_once, init_engine);
    if (g_init_status != dnnl_success) return;
    mm_key k = make_key(1, 16, 16, 16, 1.0f, 0.0f, (vt_strides){0, 16, 1}, (vt_strides){0, 16, 1},
                        (vt_strides){0, 16, 1});
    mm_entry e;
    const char *what;
    memset(&e, 0, sizeof e);
    if (create_primitive(&k, dnnl_bf16, &e, &what) == dnnl_success) {
        g_bf16_native = true;
        dnnl_primitive_destroy(e.prim);
    }
}

bool vt_bf16_native(void) {
    pthread_once(&g_bf16_once, probe_bf16);
    return g_bf16_native;
}

vt_status vt_matmul_strided(int64_t batch, int64_t M, int64_t N, int64_t K, float alpha, const float *A, vt_strides sa,
                            const float *B, vt_strides sb, float beta, float *C, vt_strides sc) {
    return matmul_strided(false, batch, M, N, K, alpha, A, sa, B, sb, beta, C, sc);
}

vt_status vt_matmul_strided_bf16(int64_t batch, int64_t M, int64_t N, int64_t K, float alpha, const vt_bf16 *A,
                                 vt_strides sa, const vt_bf16 *B, vt_strides sb, float beta, float *C, vt_strides sc) {
    return matmul_strided(true, batch, M, N, K, alpha, A, sa, B, sb, beta, C, sc);
}

const char *vt_onednn_version(void) {
    static char text[32];
    const dnnl_version_t *v = dnnl_version();
    snprintf(text, sizeof text, "%d.%d.%d", v->major, v->minor, v->patch);
    return text;
}

const char *vt_onednn_isa(void) {
    pthread_once(&g_once, init_engine); /* applies verto's cap first */
    switch (dnnl_get_effective_cpu_isa()) {
    case dnnl_cpu_isa_sse41: return "sse41";
    case dnnl_cpu_isa_avx: return "avx";
    case dnnl_cpu_isa_avx2: return "avx2";
    case dnnl_cpu_isa_avx2_vnni: return "avx2_vnni";
    case dnnl_cpu_isa_avx512_mic: return "avx512_mic";
    case dnnl_cpu_isa_avx512_mic_4ops: return "avx512_mic_4ops";
    case dnnl_cpu_isa_avx512_core: return "avx512_core";
    case dnnl_cpu_isa_avx512_core_vnni: return "avx512_core_vnni";
    case dnnl_cpu_isa_avx512_core_bf16: return "avx512_core_bf16";
    case dnnl_cpu_isa_avx512_core_amx: return "avx512_core_amx";
    default: return "unknown";
    }
}
