/* vt_matmul on oneDNN's matmul primitive.
 *
 * Transposes are expressed as memory strides (no copies), the bias as the
 * primitive's bias argument and beta as a sum post-op. Primitives are cached
 * per (M, N, K, trans_a, trans_b, bias?, beta) in a chained hash table under
 * a mutex; entries live until the process ends. One CPU engine and stream
 * are created on first use. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <oneapi/dnnl/dnnl.h>
#include <oneapi/dnnl/dnnl_debug.h>

#include "verto/kernels.h"

typedef struct mm_key {
    int64_t M, N, K;
    float beta;
    bool trans_a, trans_b, has_bias;
} mm_key;

typedef struct mm_entry {
    mm_key key;
    dnnl_primitive_t prim;
    dnnl_memory_desc_t a_md, b_md, bias_md, c_md;
    struct mm_entry *next;
} mm_entry;

#define MM_BUCKETS 256

static pthread_once_t g_once = PTHREAD_ONCE_INIT;
static dnnl_engine_t g_engine;
static dnnl_stream_t g_stream;
static dnnl_status_t g_init_status = dnnl_success;
static pthread_mutex_t g_lock = PTHREAD_MUTEX_INITIALIZER;
static mm_entry *g_buckets[MM_BUCKETS];

static void init_engine(void) {
    g_init_status = dnnl_engine_create(&g_engine, dnnl_cpu, 0);
    if (g_init_status == dnnl_success) g_init_status = dnnl_stream_create(&g_stream, g_engine, dnnl_stream_default_flags);
}

static bool key_eq(const mm_key *a, const mm_key *b) {
    return a->M == b->M && a->N == b->N && a->K == b->K && a->beta == b->beta && a->trans_a == b->trans_a &&
           a->trans_b == b->trans_b && a->has_bias == b->has_bias;
}

static size_t key_hash(const mm_key *k) {
    uint64_t h = 1469598103934665603ull;
    uint64_t parts[5] = {(uint64_t)k->M, (uint64_t)k->N, (uint64_t)k->K,
                         (uint64_t)(k->trans_a | k->trans_b << 1 | k->has_bias << 2), 0};
    memcpy(&parts[4], &k->beta, sizeof k->beta);
    for (int i = 0; i < 5; i++) h = (h ^ parts[i]) * 1099511628211ull;
    return (size_t)(h ^ (h >> 29)) % MM_BUCKETS;
}

static vt_status dnnl_fail(dnnl_status_t s, const char *what, const mm_key *k) {
    return vt_error(VT_ERR_UNSUPPORTED, "oneDNN %s failed (%s) for matmul M=%lld N=%lld K=%lld%s%s%s beta=%g", what,
                    dnnl_status2str(s), (long long)k->M, (long long)k->N, (long long)k->K,
                    k->trans_a ? " trans_a" : "", k->trans_b ? " trans_b" : "", k->has_bias ? " bias" : "",
                    (double)k->beta);
}

/* Builds the primitive for k into e (called with g_lock held). */
static vt_status create_entry(const mm_key *k, mm_entry *e) {
    dnnl_dims_t a_dims = {k->M, k->K}, a_str = {k->trans_a ? 1 : k->K, k->trans_a ? k->M : 1};
    dnnl_dims_t b_dims = {k->K, k->N}, b_str = {k->trans_b ? 1 : k->N, k->trans_b ? k->K : 1};
    dnnl_dims_t c_dims = {k->M, k->N}, c_str = {k->N, 1};
    dnnl_dims_t bias_dims = {1, k->N}, bias_str = {k->N, 1};
    dnnl_status_t s;
    memset(e, 0, sizeof *e);
    e->key = *k;
    if ((s = dnnl_memory_desc_init_by_strides(&e->a_md, 2, a_dims, dnnl_f32, a_str)) ||
        (s = dnnl_memory_desc_init_by_strides(&e->b_md, 2, b_dims, dnnl_f32, b_str)) ||
        (s = dnnl_memory_desc_init_by_strides(&e->c_md, 2, c_dims, dnnl_f32, c_str)) ||
        (k->has_bias && (s = dnnl_memory_desc_init_by_strides(&e->bias_md, 2, bias_dims, dnnl_f32, bias_str))))
        return dnnl_fail(s, "memory descriptor", k);

    dnnl_matmul_desc_t desc;
    if ((s = dnnl_matmul_desc_init(&desc, &e->a_md, &e->b_md, k->has_bias ? &e->bias_md : NULL, &e->c_md)))
        return dnnl_fail(s, "matmul descriptor", k);

    dnnl_primitive_attr_t attr = NULL;
    dnnl_post_ops_t ops = NULL;
    dnnl_primitive_desc_t pd = NULL;
    if ((s = dnnl_primitive_attr_create(&attr))) return dnnl_fail(s, "attribute", k);
    if (k->beta != 0.0f) {
        if ((s = dnnl_post_ops_create(&ops)) || (s = dnnl_post_ops_append_sum(ops, k->beta)) ||
            (s = dnnl_primitive_attr_set_post_ops(attr, ops))) {
            if (ops) dnnl_post_ops_destroy(ops);
            dnnl_primitive_attr_destroy(attr);
            return dnnl_fail(s, "sum post-op", k);
        }
        dnnl_post_ops_destroy(ops);
    }
    s = dnnl_primitive_desc_create(&pd, &desc, attr, g_engine, NULL);
    dnnl_primitive_attr_destroy(attr);
    if (s) return dnnl_fail(s, "primitive descriptor", k);
    s = dnnl_primitive_create(&e->prim, pd);
    dnnl_primitive_desc_destroy(pd);
    if (s) return dnnl_fail(s, "primitive creation", k);
    return VT_OK;
}

/* The cached entry for k, created on first use; NULL with vt_error set. */
static mm_entry *lookup(const mm_key *k) {
    size_t h = key_hash(k);
    pthread_mutex_lock(&g_lock);
    mm_entry *e = g_buckets[h];
    while (e && !key_eq(&e->key, k)) e = e->next;
    if (!e) {
        e = malloc(sizeof *e);
        if (!e) {
            vt_error(VT_ERR_NOMEM, "out of memory caching a matmul primitive");
        } else if (create_entry(k, e) != VT_OK) {
            free(e);
            e = NULL;
        } else {
            e->next = g_buckets[h];
            g_buckets[h] = e;
        }
    }
    pthread_mutex_unlock(&g_lock);
    return e;
}

/* op(A) @ op(B) is zero when K == 0: C = bias + beta * C. */
static void matmul_k0(const float *bias, float *C, int64_t M, int64_t N, float beta) {
#pragma omp parallel for schedule(static) if (M * N > 65536)
    for (int64_t i = 0; i < M; i++) {
        float *restrict c = C + i * N;
        for (int64_t j = 0; j < N; j++) c[j] = (beta != 0.0f ? beta * c[j] : 0.0f) + (bias ? bias[j] : 0.0f);
    }
}

vt_status vt_matmul(const float *A,    // (M, K), or (K, M) if trans_a
                    const float *B,    // (K, N), or (N, K) if trans_b
                    const float *bias, // (N) or NULL
                    float *C,          // (M, N)
                    int64_t M, int64_t N, int64_t K, bool trans_a, bool trans_b, float beta) {
    if (M < 0 || N < 0 || K < 0)
        return vt_error(VT_ERR_SHAPE, "matmul with negative size M=%lld N=%lld K=%lld", (long long)M, (long long)N,
                        (long long)K);
    if (M == 0 || N == 0) return VT_OK;
    if (K == 0) {
        matmul_k0(bias, C, M, N, beta);
        return VT_OK;
    }
    pthread_once(&g_once, init_engine);
    if (g_init_status != dnnl_success)
        return vt_error(VT_ERR_UNSUPPORTED, "oneDNN CPU engine unavailable (%s)", dnnl_status2str(g_init_status));

    mm_key k = {.M = M, .N = N, .K = K, .beta = beta, .trans_a = trans_a, .trans_b = trans_b, .has_bias = bias != NULL};
    mm_entry *e = lookup(&k);
    if (!e) return vt_last_status();

    dnnl_memory_t mem[4] = {NULL, NULL, NULL, NULL};
    dnnl_status_t s;
    if ((s = dnnl_memory_create(&mem[0], &e->a_md, g_engine, (void *)A)) ||
        (s = dnnl_memory_create(&mem[1], &e->b_md, g_engine, (void *)B)) ||
        (s = dnnl_memory_create(&mem[2], &e->c_md, g_engine, C)) ||
        (bias && (s = dnnl_memory_create(&mem[3], &e->bias_md, g_engine, (void *)bias)))) {
        for (int i = 0; i < 4; i++)
            if (mem[i]) dnnl_memory_destroy(mem[i]);
        return dnnl_fail(s, "memory creation", &k);
    }
    dnnl_exec_arg_t args[4] = {
        {DNNL_ARG_SRC, mem[0]}, {DNNL_ARG_WEIGHTS, mem[1]}, {DNNL_ARG_DST, mem[2]}, {DNNL_ARG_BIAS, mem[3]}};
    s = dnnl_primitive_execute(e->prim, g_stream, bias ? 4 : 3, args);
    if (s == dnnl_success) s = dnnl_stream_wait(g_stream);
    for (int i = 0; i < 4; i++)
        if (mem[i]) dnnl_memory_destroy(mem[i]);
    return s == dnnl_success ? VT_OK : dnnl_fail(s, "execution", &k);
}
