/* Multi-head attention, one (sequence, head) pair at a time: the pairs run in
 * parallel, and each pair's score and value products (oneDNN, reading q, k, v
 * where they lie, fused projections included) run on its thread alone, with
 * the masked softmax, dropout and softmax backward as plain C over its rows.
 * So a sequence's result does not depend on the other sequences of the batch
 * or on the number of threads.
 *
 * Forward:  S = scale Q K^T, P = softmax(S + mask), out = dropout(P) V.
 * Backward: dP_drop = dout V^T, dv += dropout(P)^T dout,
 *           dP = dP_drop * keep / (1 - rate), dS = P * (dP - sum_j P dP),
 *           dq += scale dS K, dk += scale dS^T Q.
 * Each pair writes only its own head's slices of out, dq, dk and dv.
 * Scratch: (q_len, kv_len) blocks kept per thread and grown only when a
 * larger shape arrives, so steady-state steps do not allocate.
 *
 * With opts->bf16 the products take bf16 operands: q, k, v as given, dropout(P)
 * rounded as the forward writes it (kept for the backward), and dout and dS
 * rounded by the backward into per-thread scratch. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/par_error.h"
#include "kernels/kmath.h"
#include "kernels/variant.h"
#include "verto/kernels.h"
#include "verto/rng.h"

/* A per-thread buffer of at least `bytes`, grown (never shrunk) when a larger
 * shape arrives; NULL (error set) if memory runs out. */
typedef struct grow_buf {
    void *p;
    size_t bytes;
} grow_buf;

static void *grow(grow_buf *g, size_t bytes) {
    if (bytes > g->bytes) {
        free(g->p);
        g->p = aligned_alloc(64, (bytes + 63) / 64 * 64);
        g->bytes = g->p ? bytes : 0;
        if (!g->p) vt_error(VT_ERR_NOMEM, "out of memory for attention scratch (%zu bytes)", bytes);
    }
    return g->p;
}

static _Thread_local grow_buf scratch_f32, scratch_bf16;

/* One (sequence b, head h) pair: its query and key counts, where its
 * operands start, and its block of probs (tq, tk). */
typedef struct pair {
    int64_t b, tq, tk, qo, ko, vo, oo, po;
} pair;

/* Packed sequences (d->offsets): sequence b is tokens offsets[b] ..
 * offsets[b+1] - 1, its keys all of them, its queries all of them or (q_len
 * 1) the first only, whose output is then row b; the probs blocks of the
 * pairs follow each other in (b, h) order. */
static pair packed_pair_at(const vt_attention_dims *d, int64_t item) {
    int64_t b = item / d->heads, h = item % d->heads, po = 0;
    for (int64_t s = 0; s < b; s++) { /* (the earlier sequences' blocks; b is small) */
        int64_t n = d->offsets[s + 1] - d->offsets[s];
        po += d->heads * (d->q_len == 1 ? 1 : n) * n;
    }
    int64_t t0 = d->offsets[b], tk = d->offsets[b + 1] - t0, tq = d->q_len == 1 ? 1 : tk;
    return (pair){.b = b, .tq = tq, .tk = tk,
                  .qo = t0 * d->q_stride + h * d->key_dim,
                  .ko = t0 * d->k_stride + h * d->key_dim,
                  .vo = t0 * d->v_stride + h * d->value_dim,
                  .oo = (d->q_len == 1 ? b : t0) * d->out_stride + h * d->value_dim,
                  .po = po + h * tq * tk};
}

static pair pair_at(const vt_attention_dims *d, int64_t item) {
    if (d->offsets) return packed_pair_at(d, item);
    int64_t b = item / d->heads, h = item % d->heads;
    return (pair){.b = b, .tq = d->q_len, .tk = d->kv_len,
                  .qo = b * d->q_len * d->q_stride + h * d->key_dim,
                  .ko = b * d->kv_len * d->k_stride + h * d->key_dim,
                  .vo = b * d->kv_len * d->v_stride + h * d->value_dim,
                  .oo = b * d->q_len * d->out_stride + h * d->value_dim,
                  .po = item * d->q_len * d->kv_len};
}

/* One product of the attention on this thread: f32 operands, or bf16 ones when A16 is given. */
static vt_status product(int64_t M, int64_t N, int64_t K, float alpha, const float *A, const vt_bf16 *A16,
                         vt_strides sa, const float *B, const vt_bf16 *B16, vt_strides sb, float beta, float *C,
                         vt_strides sc) {
    if (A16) return vt_matmul_strided_bf16(1, M, N, K, alpha, A16, sa, B16, sb, beta, C, sc);
    return vt_matmul_strided(1, M, N, K, alpha, A, sa, B, sb, beta, C, sc);
}

/* A (rows, cols) matrix with rows `stride` apart; transposed: read as (cols, rows). */
static vt_strides rows_of(int64_t stride) { return (vt_strides){0, stride, 1}; }
static vt_strides cols_of(int64_t stride) { return (vt_strides){0, 1, stride}; }

static inline bool key_allowed(const vt_attention_dims *d, const vt_attention_opts *o, int64_t b, int64_t i,
                               int64_t j) {
    if (o->causal && j > i) return false;
    if (o->mask_kind == VT_MASK_KEYS) return o->mask[b * d->kv_len + j] != 0;
    if (o->mask_kind == VT_MASK_FULL) return o->mask[(b * d->q_len + i) * d->kv_len + j] != 0;
    return true;
}

/* P (tq, tk) of pair x: masked softmax of the scores in place. */
static void masked_softmax(const vt_attention_dims *d, const vt_attention_opts *o, pair x, float *P) {
    int64_t b = x.b, Tk = x.tk;
    bool masked = o->causal || o->mask_kind != VT_MASK_NONE;
    for (int64_t i = 0; i < x.tq; i++) {
        float *p = P + i * Tk, max = -INFINITY;
        if (masked)
            for (int64_t j = 0; j < Tk; j++)
                if (!key_allowed(d, o, b, i, j)) p[j] = -INFINITY;
#pragma omp simd reduction(max : max) /* (its own loop: together with the masking gcc left it scalar) */
        for (int64_t j = 0; j < Tk; j++) max = p[j] > max ? p[j] : max;
        if (max == -INFINITY) { /* every key masked: no attention at all */
            memset(p, 0, (size_t)Tk * sizeof(float));
            continue;
        }
        float sum = 0;
        for (int64_t j = 0; j < Tk; j++) {
            p[j] = p[j] == -INFINITY ? 0.0f : vk_expf(p[j] - max);
            sum += p[j];
        }
        float inv = 1.0f / sum;
        for (int64_t j = 0; j < Tk; j++) p[j] *= inv;
    }
}

/* dropped (n) = P * keep / (1 - rate) and, in bf16, dropped16 (n) its rounding.
 * The keep mask is drawn from the counter hash at the probabilities' flat
 * index base + t (draw), or read from mask. */
static void apply_dropout(const float *P, uint8_t *mask, bool draw, int64_t n, int64_t base, float rate,
                          uint64_t seed, float *dropped, vt_bf16 *dropped16) {
    float scale = 1.0f / (1.0f - rate);
    /* One loop per output, none with a branch inside: gcc left the loop that
     * tested draw, dropped and dropped16 per element scalar (3.5% of a
     * BERT-mini pretraining step, 9x the hidden states' dropout). */
    if (draw)
#pragma omp simd
        for (int64_t t = 0; t < n; t++) mask[t] = vt_hash_uniform(seed, (uint64_t)(base + t)) >= rate;
    if (dropped)
#pragma omp simd
        for (int64_t t = 0; t < n; t++) dropped[t] = mask[t] ? P[t] * scale : 0.0f;
    if (dropped16)
#pragma omp simd
        for (int64_t t = 0; t < n; t++) dropped16[t] = vk_bf16(mask[t] ? P[t] * scale : 0.0f);
}

static vt_status pair_forward(const vt_attention_dims *d, const vt_attention_opts *o, pair x, const float *q,
                              const float *k, const float *v, float *probs, uint8_t *drop_mask, float *out) {
    int64_t Tq = x.tq, Tk = x.tk, n = Tq * Tk;
    bool dropout = o->dropout_rate > 0 && drop_mask;
    const vt_attention_bf16 *x16 = o->bf16;
    float *P = probs + x.po;
    vt_status st = product(Tq, Tk, d->key_dim, o->scale, q + x.qo, x16 ? x16->q + x.qo : NULL, rows_of(d->q_stride),
                           k + x.ko, x16 ? x16->k + x.ko : NULL, cols_of(d->k_stride), 0.0f, P, rows_of(Tk));
    if (st != VT_OK) return st;
    masked_softmax(d, o, x, P);
    const float *Pv = P;                                /* what multiplies V: dropout(P) */
    vt_bf16 *P16 = x16 ? x16->probs + x.po : NULL;
    if (dropout) {
        float *dropped = x16 ? NULL : grow(&scratch_f32, (size_t)n * sizeof(float));
        if (!x16 && !dropped) return vt_last_status();
        apply_dropout(P, drop_mask + x.po, true, n, x.po, o->dropout_rate, o->dropout_seed, dropped, P16);
        if (dropped) Pv = dropped;
    } else if (P16) {
        vt_f32_to_bf16(P, P16, n);
    }
    return product(Tq, d->value_dim, Tk, 1.0f, Pv, P16, rows_of(Tk), v + x.vo, x16 ? x16->v + x.vo : NULL,
                   rows_of(d->v_stride), 0.0f, out + x.oo, rows_of(d->out_stride));
}

vt_status VK_FN(vt_attention_forward)(const vt_attention_dims *d, const vt_attention_opts *o, const float *q,
                                       const float *k, const float *v, float *probs, uint8_t *drop_mask, float *out) {
    if (d->offsets && o->mask_kind != VT_MASK_NONE)
        return vt_error(VT_ERR_INVALID_ARG, "packed attention takes no mask: each sequence has only its own tokens");
    vt_par_error err = {0};
#pragma omp parallel for schedule(dynamic, 1) /* (pairs of a packed batch differ in cost) */
    for (int64_t item = 0; item < d->batch * d->heads; item++)
        vt_par_error_keep(&err, item, pair_forward(d, o, pair_at(d, item), q, k, v, probs, drop_mask, out));
    return vt_par_error_raise(&err);
}

static vt_status pair_backward(const vt_attention_dims *d, const vt_attention_opts *o, pair x, const float *q,
                               const float *k, const float *v, const float *probs, const uint8_t *drop_mask,
                               const float *dout, float *dq, float *dk, float *dv) {
    int64_t Tq = x.tq, Tk = x.tk, n = Tq * Tk, Dv = d->value_dim;
    bool dropout = o->dropout_rate > 0 && drop_mask;
    const vt_attention_bf16 *x16 = o->bf16;
    const float *P = probs + x.po;
    const uint8_t *mask = dropout ? drop_mask + x.po : NULL;
    float *dP = grow(&scratch_f32, 2 * (size_t)n * sizeof(float)); /* dP, then dropout(P) (f32 only) */
    vt_bf16 *dS16 = x16 ? grow(&scratch_bf16, (size_t)(n + Tq * Dv) * sizeof(vt_bf16)) : NULL; /* dS, then dout */
    if (!dP || (x16 && !dS16)) return vt_last_status();
    const float *dob = dout + x.oo;
    vt_bf16 *dout16 = dS16 ? dS16 + n : NULL;
    vt_strides do_s = rows_of(d->out_stride);
    if (x16) { /* this head's dout rounded into a contiguous (Tq, Dv) block */
        for (int64_t t = 0; t < Tq; t++) vt_f32_to_bf16(dob + t * d->out_stride, dout16 + t * Dv, Dv);
        do_s = rows_of(Dv);
    }
    /* dP_drop = dout V^T; dv += dropout(P)^T dout */
    vt_status st = product(Tq, Tk, Dv, 1.0f, dob, dout16, do_s, v + x.vo, x16 ? x16->v + x.vo : NULL,
                           cols_of(d->v_stride), 0.0f, dP, rows_of(Tk));
    if (st != VT_OK) return st;
    const float *Pv = P;
    if (dropout && !x16) {
        Pv = dP + n;
        apply_dropout(P, (uint8_t *)mask, false, n, 0, o->dropout_rate, 0, dP + n, NULL);
    }
    st = product(Tk, Dv, Tq, 1.0f, Pv, x16 ? x16->probs + x.po : NULL, cols_of(Tk), dob, dout16, do_s, 1.0f,
                 dv + x.vo, rows_of(d->v_stride));
    if (st != VT_OK) return st;
    /* dS = P * (dP - sum_j P dP), with dP through the dropout mask */
    float keep_scale = dropout ? 1.0f / (1.0f - o->dropout_rate) : 1.0f;
    for (int64_t i = 0; i < Tq; i++) {
        float *g = dP + i * Tk;
        const float *p = P + i * Tk;
        float dot = 0;
        for (int64_t j = 0; j < Tk; j++) {
            g[j] = mask && !mask[i * Tk + j] ? 0.0f : g[j] * keep_scale;
            dot += p[j] * g[j];
        }
        for (int64_t j = 0; j < Tk; j++) g[j] = p[j] * (g[j] - dot);
        if (dS16)
            for (int64_t j = 0; j < Tk; j++) dS16[i * Tk + j] = vk_bf16(g[j]);
    }
    /* dq += scale dS K; dk += scale dS^T Q */
    st = product(Tq, d->key_dim, Tk, o->scale, dP, dS16, rows_of(Tk), k + x.ko, x16 ? x16->k + x.ko : NULL,
                 rows_of(d->k_stride), 1.0f, dq + x.qo, rows_of(d->q_stride));
    if (st != VT_OK) return st;
    return product(Tk, d->key_dim, Tq, o->scale, dP, dS16, cols_of(Tk), q + x.qo, x16 ? x16->q + x.qo : NULL,
                   rows_of(d->q_stride), 1.0f, dk + x.ko, rows_of(d->k_stride));
}

vt_status VK_FN(vt_attention_backward)(const vt_attention_dims *d, const vt_attention_opts *o, const float *q,
                                        const float *k, const float *v, const float *probs, const uint8_t *drop_mask,
                                        const float *dout, float *dq, float *dk, float *dv) {
    if (d->offsets && o->mask_kind != VT_MASK_NONE)
        return vt_error(VT_ERR_INVALID_ARG, "packed attention takes no mask: each sequence has only its own tokens");
    vt_par_error err = {0};
#pragma omp parallel for schedule(dynamic, 1) /* (as the forward) */
    for (int64_t item = 0; item < d->batch * d->heads; item++)
        vt_par_error_keep(&err, item, pair_backward(d, o, pair_at(d, item), q, k, v, probs, drop_mask, dout, dq, dk, dv));
    return vt_par_error_raise(&err);
}
