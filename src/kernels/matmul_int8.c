/* int8 dense layers (see verto/int8.h): weight quantization, oneDNN's
 * u8 x s8 -> s32 GEMM, and the whole layer (its row quantization and epilogue
 * are per-ISA kernels, int8_rows.c).
 *
 * dnnl_gemm_u8s8s32 is oneDNN's BLAS-like int8 GEMM: no primitive to cache,
 * it packs the operands itself and threads with OpenMP. Its integer sums are
 * exact (no saturation with 7-bit weights), so unlike f32 products the split
 * it picks for a batch cannot change a row's bits. */
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <oneapi/dnnl/dnnl.h>
#include <oneapi/dnnl/dnnl_debug.h>

#include "kernels/int8_packed.h"
#include "verto/int8.h"
#include "verto/platform.h"

vt_status vt_int8_quantize_weights(const float *W, int8_t *q, float *scale, int32_t *row_sum, int64_t out,
                                   int64_t in) {
    for (int64_t o = 0; o < out; o++) {
        const float *w = W + o * in;
        float amax = 0.0f;
        for (int64_t k = 0; k < in; k++) {
            if (!isfinite(w[k]))
                return vt_error(VT_ERR_INVALID_ARG, "int8 quantization: weight [%lld][%lld] is not finite",
                                (long long)o, (long long)k);
            amax = fmaxf(amax, fabsf(w[k]));
        }
        float s = amax > 0.0f ? amax / VT_INT8_WEIGHT_MAX : 1.0f;
        int32_t sum = 0;
        for (int64_t k = 0; k < in; k++) {
            float c = nearbyintf(w[k] / s); /* |w| <= amax, so |c| <= 63 (amax / s rounds to 63) */
            c = fminf(fmaxf(c, -VT_INT8_WEIGHT_MAX), VT_INT8_WEIGHT_MAX);
            q[o * in + k] = (int8_t)c;
            sum += (int32_t)c;
        }
        scale[o] = s;
        row_sum[o] = sum;
    }
    return VT_OK;
}

vt_status vt_int8_check_weights(const int8_t *q, const float *scale, int32_t *row_sum, int64_t out, int64_t in,
                                const char *what) {
    for (int64_t o = 0; o < out; o++) {
        if (scale && !(isfinite(scale[o]) && scale[o] > 0.0f))
            return vt_error(VT_ERR_FORMAT, "%s: scale of row %lld is %g; it must be finite and positive", what,
                            (long long)o, (double)scale[o]);
        int32_t sum = 0;
        for (int64_t k = 0; k < in; k++) {
            int c = q[o * in + k];
            if (c < -VT_INT8_WEIGHT_MAX || c > VT_INT8_WEIGHT_MAX)
                return vt_error(VT_ERR_FORMAT,
                                "%s: code %d at [%lld][%lld] is outside [-%d, %d] (verto's int8 weights have 7 bits)",
                                what, c, (long long)o, (long long)k, VT_INT8_WEIGHT_MAX, VT_INT8_WEIGHT_MAX);
            sum += c;
        }
        row_sum[o] = sum;
    }
    return VT_OK;
}

static pthread_once_t g_cap_once = PTHREAD_ONCE_INIT;
static void apply_isa_cap(void) { (void)vt_onednn_isa(); } /* creates oneDNN's engine under verto's ISA cap */

vt_status vt_int8_gemm(const uint8_t *xq, // (M, K)
                       const int8_t *qw,  // (N, K)
                       int32_t *acc,      // (M, N)
                       int64_t M, int64_t N, int64_t K) {
    if (M < 0 || N < 0 || K < 0 || K > VT_INT8_MAX_K)
        return vt_error(VT_ERR_SHAPE, "int8 matmul with bad size M=%lld N=%lld K=%lld (K at most %d)", (long long)M,
                        (long long)N, (long long)K, VT_INT8_MAX_K);
    if (M == 0 || N == 0) return VT_OK;
    if (K == 0) {
        memset(acc, 0, (size_t)(M * N) * sizeof *acc);
        return VT_OK;
    }
    pthread_once(&g_cap_once, apply_isa_cap);
    const int32_t no_offset = 0;
    dnnl_status_t s = dnnl_gemm_u8s8s32('N', 'T', 'F', M, N, K, 1.0f, xq, K, 0, qw, K, 0, 0.0f, acc, N, &no_offset);
    if (s != dnnl_success)
        return vt_error(VT_ERR_UNSUPPORTED, "oneDNN int8 GEMM failed (%s) for M=%lld N=%lld K=%lld",
                        dnnl_status2str(s), (long long)M, (long long)N, (long long)K);
    return VT_OK;
}

/* ---- the per-thread buffer of quantized rows ---- */

typedef struct int8_scratch {
    uint8_t *q;    /* (rows, in), rows rounded up to VT_INT8_TAIL_STEP */
    float *scale;  /* (rows) */
    int32_t *zero; /* (rows) */
    int32_t *tail; /* (VT_INT8_CHUNK, out): a packed product's last chunk */
    size_t q_bytes, rows, tail_bytes;
} int8_scratch;

static pthread_once_t g_key_once = PTHREAD_ONCE_INIT;
static pthread_key_t g_key;
static bool g_key_ok;

static void free_scratch(void *p) {
    int8_scratch *s = p;
    free(s->q);
    free(s->scale);
    free(s->zero);
    free(s->tail);
    free(s);
}

static void make_key(void) { g_key_ok = pthread_key_create(&g_key, free_scratch) == 0; }

/* This thread's buffers, grown to (rows, in) and a tail of tail_bytes; NULL with vt_error set. */
static int8_scratch *scratch_for(int64_t rows, int64_t in, size_t tail_bytes) {
    pthread_once(&g_key_once, make_key);
    int8_scratch *s = g_key_ok ? pthread_getspecific(g_key) : NULL;
    if (g_key_ok && !s && (s = calloc(1, sizeof *s)) && pthread_setspecific(g_key, s)) {
        free(s);
        s = NULL;
    }
    if (!s) {
        vt_error(VT_ERR_NOMEM, "out of memory for a thread's int8 buffers");
        return NULL;
    }
    size_t q_bytes = (size_t)(rows * in);
    if (q_bytes > s->q_bytes) {
        uint8_t *q = realloc(s->q, q_bytes);
        if (!q) goto nomem;
        s->q = q;
        s->q_bytes = q_bytes;
    }
    if ((size_t)rows > s->rows) {
        float *scale = realloc(s->scale, (size_t)rows * sizeof *scale);
        if (scale) s->scale = scale;
        int32_t *zero = realloc(s->zero, (size_t)rows * sizeof *zero);
        if (zero) s->zero = zero;
        if (!scale || !zero) goto nomem;
        s->rows = (size_t)rows;
    }
    if (tail_bytes > s->tail_bytes) {
        int32_t *tail = realloc(s->tail, tail_bytes);
        if (!tail) goto nomem;
        s->tail = tail;
        s->tail_bytes = tail_bytes;
    }
    return s;
nomem:
    vt_error(VT_ERR_NOMEM, "out of memory for %lld int8 rows of %lld", (long long)rows, (long long)in);
    return NULL;
}

vt_status vt_int8_linear(const float *x, // (rows, w->in)
                         const vt_int8_weights *w, const float *bias,
                         float *y, // (rows, w->out)
                         int64_t rows) {
    if (rows <= 0 || w->out == 0) return VT_OK;
    bool packed = w->packed && rows < VT_INT8_PACKED_MAX_ROWS;
    int64_t padded = packed ? (rows + VT_INT8_TAIL_STEP - 1) / VT_INT8_TAIL_STEP * VT_INT8_TAIL_STEP : rows;
    size_t tail_bytes = packed ? (size_t)(VT_INT8_CHUNK * w->out) * sizeof(int32_t) : 0;
    int8_scratch *s = scratch_for(padded, w->in, tail_bytes);
    if (!s) return vt_last_status();
    vt_int8_quantize_rows(x, s->q, s->scale, s->zero, rows, w->in);
    memset(s->q + rows * w->in, 0, (size_t)((padded - rows) * w->in)); /* (the packed product's padding rows) */
    int32_t *acc = (int32_t *)(void *)y; /* the int32 sums are written where their floats go */
    vt_status st = packed ? vt_int8_gemm_packed(s->q, w, acc, s->tail, rows)
                             : vt_int8_gemm(s->q, w->q, acc, rows, w->out, w->in);
    if (st == VT_OK) vt_int8_dequantize(acc, s->scale, s->zero, w, bias, y, rows);
    return st;
}
