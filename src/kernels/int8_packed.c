/* int8 dense layers on oneDNN's matmul primitive, with the weights reordered
 * once into the layout its kernel reads (see verto/int8.h: vt_int8_pack).
 *
 * Why: dnnl_gemm_u8s8s32, the BLAS-like call vt_int8_gemm makes, copies the
 * weights into its kernel's layout on every call, which a product of few rows
 * cannot amortise (bench/int8_linear_bench: 1.1-3.3x slower than here from
 * 16 to 512 rows; see VT_INT8_PACKED_MAX_ROWS for where that ends). Here
 * the copy is made once: the layout is the one oneDNN chooses ("any") for a
 * 128-row product, and the primitives of other row counts are created with
 * it as given. Rows run in chunks of VT_INT8_CHUNK, the last one padded with
 * zero rows to a multiple of VT_INT8_TAIL_STEP, so batches of any size reuse
 * a few primitives (each one compiled code, cached for the process). The
 * integer sums are exact, so the results are vt_int8_gemm's, bit for bit. */
#include <omp.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <oneapi/dnnl/dnnl_debug.h>

#include "kernels/int8_packed.h"
#include "kernels/onednn_internal.h"

struct vt_int8_packed {
    void *codes;            /* the codes in oneDNN's layout of the (in, out) weights */
    dnnl_memory_desc_t md;  /* that layout */
};

/* A primitive for products of M rows on weights of one layout. */
typedef struct pk_entry {
    int64_t M;
    bool nested;            /* run inside an OpenMP parallel region */
    dnnl_memory_desc_t w_md;
    dnnl_memory_desc_t src_md, dst_md, scratch_md;
    size_t scratch_bytes;
    dnnl_primitive_t prim;
    struct pk_entry *next;
} pk_entry;

static pthread_mutex_t g_lock = PTHREAD_MUTEX_INITIALIZER;
static pk_entry *g_entries; /* a few per weight shape: a list is enough */

static vt_status dnnl_fail(dnnl_status_t s, const char *what, int64_t M, int64_t N, int64_t K) {
    return vt_error(VT_ERR_UNSUPPORTED, "oneDNN int8 matmul: %s failed (%s) for M=%lld N=%lld K=%lld", what,
                    dnnl_status2str(s), (long long)M, (long long)N, (long long)K);
}

/* The primitive descriptor of (M, K) u8 x w_md s8 -> (M, N) s32. */
static dnnl_status_t describe(dnnl_engine_t eng, int64_t M, int64_t N, int64_t K, const dnnl_memory_desc_t *w_md,
                              dnnl_memory_desc_t *src_md, dnnl_memory_desc_t *dst_md, dnnl_primitive_desc_t *pd) {
    dnnl_dims_t src_dims = {M, K}, dst_dims = {M, N};
    dnnl_matmul_desc_t desc;
    dnnl_primitive_attr_t attr;
    dnnl_status_t s;
    if ((s = dnnl_memory_desc_init_by_tag(src_md, 2, src_dims, dnnl_u8, dnnl_ab)) ||
        (s = dnnl_memory_desc_init_by_tag(dst_md, 2, dst_dims, dnnl_s32, dnnl_ab)) ||
        (s = dnnl_matmul_desc_init(&desc, src_md, w_md, NULL, dst_md)) || (s = dnnl_primitive_attr_create(&attr)))
        return s;
    if (!(s = dnnl_primitive_attr_set_scratchpad_mode(attr, dnnl_scratchpad_mode_user)))
        s = dnnl_primitive_desc_create(pd, &desc, attr, eng, NULL);
    dnnl_primitive_attr_destroy(attr);
    return s;
}

/* The cached primitive for M rows on layout w_md; NULL with vt_error set. */
static pk_entry *lookup(dnnl_engine_t eng, int64_t M, int64_t N, int64_t K, const dnnl_memory_desc_t *w_md) {
    bool nested = omp_in_parallel();
    pthread_mutex_lock(&g_lock);
    pk_entry *e = g_entries;
    while (e && !(e->M == M && e->nested == nested && dnnl_memory_desc_equal(&e->w_md, w_md))) e = e->next;
    if (!e && (e = calloc(1, sizeof *e))) {
        dnnl_primitive_desc_t pd = NULL;
        dnnl_status_t s = describe(eng, M, N, K, w_md, &e->src_md, &e->dst_md, &pd);
        if (!s) {
            e->scratch_md = *dnnl_primitive_desc_query_md(pd, dnnl_query_scratchpad_md, 0);
            e->scratch_bytes = dnnl_memory_desc_get_size(&e->scratch_md);
            s = dnnl_primitive_create(&e->prim, pd);
        }
        if (pd) dnnl_primitive_desc_destroy(pd);
        if (s) {
            dnnl_fail(s, "primitive creation", M, N, K);
            free(e);
            e = NULL;
        } else {
            e->M = M, e->nested = nested, e->w_md = *w_md;
            e->next = g_entries;
            g_entries = e;
        }
    } else if (!e) {
        vt_error(VT_ERR_NOMEM, "out of memory caching an int8 matmul primitive");
    }
    pthread_mutex_unlock(&g_lock);
    return e;
}

/* One product of M rows (a cached primitive's count). */
static vt_status run(const vt_int8_packed *p, const uint8_t *xq, int32_t *acc, int64_t M, int64_t N, int64_t K) {
    dnnl_engine_t eng = vt_onednn_engine();
    pk_entry *e = eng ? lookup(eng, M, N, K, &p->md) : NULL;
    void *scratch;
    dnnl_stream_t stream = e ? vt_onednn_thread_stream(e->scratch_bytes, &scratch) : NULL;
    if (!stream) return vt_last_status();
    dnnl_exec_arg_t args[4] = {{DNNL_ARG_SRC, NULL}, {DNNL_ARG_WEIGHTS, NULL}, {DNNL_ARG_DST, NULL},
                               {DNNL_ARG_SCRATCHPAD, NULL}};
    int n = e->scratch_bytes ? 4 : 3;
    dnnl_status_t s;
    if (!(s = dnnl_memory_create(&args[0].memory, &e->src_md, eng, (void *)xq)) &&
        !(s = dnnl_memory_create(&args[1].memory, &p->md, eng, p->codes)) &&
        !(s = dnnl_memory_create(&args[2].memory, &e->dst_md, eng, acc)) && n == 4)
        s = dnnl_memory_create(&args[3].memory, &e->scratch_md, eng, scratch);
    if (!s && !(s = dnnl_primitive_execute(e->prim, stream, n, args))) s = dnnl_stream_wait(stream);
    for (int i = 0; i < n; i++)
        if (args[i].memory) dnnl_memory_destroy(args[i].memory);
    return s ? dnnl_fail(s, "execution", M, N, K) : VT_OK;
}

vt_status vt_int8_pack(const vt_int8_weights *w, vt_int8_packed **out) {
    *out = NULL;
    int64_t N = w->out, K = w->in;
    if (N < 1 || K < 1 || K > VT_INT8_MAX_K)
        return vt_error(VT_ERR_SHAPE, "int8 packing of a %lld x %lld weight (K at most %d)", (long long)N, (long long)K,
                        VT_INT8_MAX_K);
    dnnl_engine_t eng = vt_onednn_engine();
    if (!eng) return vt_last_status();
    vt_int8_packed *p = calloc(1, sizeof *p);
    if (!p) return vt_error(VT_ERR_NOMEM, "out of memory packing int8 weights");
    dnnl_dims_t w_dims = {K, N};
    dnnl_memory_desc_t plain, any, src_md, dst_md;
    dnnl_primitive_desc_t pd = NULL, reorder_pd = NULL;
    dnnl_primitive_t reorder = NULL;
    dnnl_memory_t from = NULL, to = NULL;
    const char *what = "weights layout";
    /* q (out, in) row-major is the (in, out) weights with the in index fastest: tag ba */
    dnnl_status_t s = dnnl_memory_desc_init_by_tag(&plain, 2, w_dims, dnnl_s8, dnnl_ba);
    if (!s) s = dnnl_memory_desc_init_by_tag(&any, 2, w_dims, dnnl_s8, dnnl_format_tag_any);
    if (!s) s = describe(eng, 128, N, K, &any, &src_md, &dst_md, &pd);
    if (!s) {
        p->md = *dnnl_primitive_desc_query_md(pd, dnnl_query_weights_md, 0);
        size_t bytes = (dnnl_memory_desc_get_size(&p->md) + 63) / 64 * 64;
        if (!(p->codes = aligned_alloc(64, bytes ? bytes : 64))) {
            dnnl_primitive_desc_destroy(pd);
            free(p);
            return vt_error(VT_ERR_NOMEM, "out of memory packing int8 weights (%zu bytes)", bytes);
        }
        what = "weights reorder";
        s = dnnl_reorder_primitive_desc_create(&reorder_pd, &plain, eng, &p->md, eng, NULL);
    }
    if (!s) s = dnnl_primitive_create(&reorder, reorder_pd);
    if (!s) s = dnnl_memory_create(&from, &plain, eng, (void *)w->q);
    if (!s) s = dnnl_memory_create(&to, &p->md, eng, p->codes);
    void *unused;
    dnnl_stream_t stream = s ? NULL : vt_onednn_thread_stream(0, &unused);
    if (!s && stream) {
        dnnl_exec_arg_t args[2] = {{DNNL_ARG_FROM, from}, {DNNL_ARG_TO, to}};
        if (!(s = dnnl_primitive_execute(reorder, stream, 2, args))) s = dnnl_stream_wait(stream);
    }
    if (from) dnnl_memory_destroy(from);
    if (to) dnnl_memory_destroy(to);
    if (reorder) dnnl_primitive_destroy(reorder);
    if (reorder_pd) dnnl_primitive_desc_destroy(reorder_pd);
    if (pd) dnnl_primitive_desc_destroy(pd);
    if (s || !stream) {
        vt_int8_packed_free(p);
        return s ? dnnl_fail(s, what, 128, N, K) : vt_last_status();
    }
    *out = p;
    return VT_OK;
}

void vt_int8_packed_free(vt_int8_packed *p) {
    if (!p) return;
    free(p->codes);
    free(p);
}

vt_status vt_int8_gemm_packed(const uint8_t *xq, const vt_int8_weights *w, int32_t *acc, int32_t *tail, int64_t M) {
    int64_t N = w->out, K = w->in;
    for (int64_t r = 0; r < M; r += VT_INT8_CHUNK) {
        int64_t m = M - r < VT_INT8_CHUNK ? M - r : VT_INT8_CHUNK;
        int64_t padded = (m + VT_INT8_TAIL_STEP - 1) / VT_INT8_TAIL_STEP * VT_INT8_TAIL_STEP;
        vt_status st = run(w->packed, xq + r * K, padded == m ? acc + r * N : tail, padded, N, K);
        if (st != VT_OK) return st;
        if (padded != m) memcpy(acc + r * N, tail, (size_t)(m * N) * sizeof *acc);
    }
    return VT_OK;
}
