/* Multi-head attention: per batch element, the score and value products of
 * all heads are one strided batched matmul each (oneDNN, reading q, k, v where
 * they lie, fused projections included); the masked softmax, dropout and the
 * softmax backward are plain C over the (head, query) rows.
 *
 * Forward:  S = scale Q K^T, P = softmax(S + mask), out = dropout(P) V.
 * Backward: dP_drop = dout V^T, dv += dropout(P)^T dout,
 *           dP = dP_drop * keep / (1 - rate), dS = P * (dP - sum_j P dP),
 *           dq += scale dS K, dk += scale dS^T Q.
 * Scratch: two (heads, q_len, kv_len) blocks, kept per thread and grown only
 * when a larger shape arrives, so steady-state steps do not allocate.
 *
 * With opts->bf16 the products take bf16 operands: q, k, v as given, dropout(P)
 * rounded as the forward writes it (kept for the backward), and dout and dS
 * rounded by the backward into a second per-thread scratch. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/kmath.h"
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

/* Two blocks of n floats each. */
static float *scratch(size_t n) { return grow(&scratch_f32, 2 * n * sizeof(float)); }

/* n bf16 values. */
static vt_bf16 *scratch16(size_t n) { return grow(&scratch_bf16, n * sizeof(vt_bf16)); }

/* One batched product of the attention: f32 operands, or bf16 ones when A16 is given. */
static void product(int64_t batch, int64_t M, int64_t N, int64_t K, float alpha, const float *A, const vt_bf16 *A16,
                    vt_strides sa, const float *B, const vt_bf16 *B16, vt_strides sb, float beta, float *C,
                    vt_strides sc) {
    if (A16) vt_matmul_strided_bf16(batch, M, N, K, alpha, A16, sa, B16, sb, beta, C, sc);
    else vt_matmul_strided(batch, M, N, K, alpha, A, sa, B, sb, beta, C, sc);
}

static inline bool key_allowed(const vt_attention_dims *d, const vt_attention_opts *o, int64_t b, int64_t i,
                               int64_t j) {
    if (o->causal && j > i) return false;
    if (o->mask_kind == VT_MASK_KEYS) return o->mask[b * d->kv_len + j] != 0;
    if (o->mask_kind == VT_MASK_FULL) return o->mask[(b * d->q_len + i) * d->kv_len + j] != 0;
    return true;
}

/* Strides of head-major views of q/k/v/out: (heads, len, dim) inside rows of `stride`. */
static vt_strides heads(int64_t dim, int64_t stride) { return (vt_strides){dim, stride, 1}; }
/* A block of (heads, rows, cols), contiguous; transposed: read as (heads, cols, rows). */
static vt_strides block(int64_t rows, int64_t cols, bool transposed) {
    return transposed ? (vt_strides){rows * cols, 1, cols} : (vt_strides){rows * cols, cols, 1};
}

/* probs (heads, Tq, Tk) of batch element b: masked softmax of the scores in place. */
static void masked_softmax(const vt_attention_dims *d, const vt_attention_opts *o, int64_t b, float *probs) {
    int64_t rows = d->heads * d->q_len, Tk = d->kv_len;
#pragma omp parallel for schedule(static)
    for (int64_t r = 0; r < rows; r++) {
        int64_t i = r % d->q_len;
        float *p = probs + r * Tk, max = -INFINITY;
        for (int64_t j = 0; j < Tk; j++) {
            if (!key_allowed(d, o, b, i, j)) p[j] = -INFINITY;
            else if (p[j] > max) max = p[j];
        }
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

/* dropped (n) = probs * keep / (1 - rate); the keep mask comes from the
 * counter hash at the probabilities' flat index, or from `mask` when given. */
static void apply_dropout(const float *probs, uint8_t *mask, bool draw, int64_t n, int64_t base, float rate,
                          uint64_t seed, float *dropped) {
    float scale = 1.0f / (1.0f - rate);
#pragma omp parallel for simd schedule(static)
    for (int64_t t = 0; t < n; t++) {
        if (draw) mask[t] = vt_hash_uniform(seed, (uint64_t)(base + t)) >= rate;
        dropped[t] = mask[t] ? probs[t] * scale : 0.0f;
    }
}

/* dropped16 (n) = bf16 of probs, through the dropout as apply_dropout's when mask is given. */
static void round_probs(const float *probs, uint8_t *mask, int64_t n, int64_t base, float rate, uint64_t seed,
                        vt_bf16 *dropped16) {
    if (!mask) {
        vt_f32_to_bf16(probs, dropped16, n);
        return;
    }
    float scale = 1.0f / (1.0f - rate);
#pragma omp parallel for simd schedule(static)
    for (int64_t t = 0; t < n; t++) {
        mask[t] = vt_hash_uniform(seed, (uint64_t)(base + t)) >= rate;
        dropped16[t] = vk_bf16(mask[t] ? probs[t] * scale : 0.0f);
    }
}

void vt_attention_forward(const vt_attention_dims *d, const vt_attention_opts *o, const float *q, const float *k,
                          const float *v, float *probs, uint8_t *drop_mask, float *out) {
    int64_t H = d->heads, Tq = d->q_len, Tk = d->kv_len, block_n = H * Tq * Tk;
    bool dropout = o->dropout_rate > 0 && drop_mask;
    const vt_attention_bf16 *x16 = o->bf16;
    float *dropped = dropout && !x16 ? scratch((size_t)block_n) : NULL;
    if (dropout && !x16 && !dropped) return;
    for (int64_t b = 0; b < d->batch; b++) {
        float *P = probs + b * block_n; /* (H, Tq, Tk) */
        int64_t qo = b * Tq * d->q_stride, ko = b * Tk * d->k_stride, vo = b * Tk * d->v_stride;
        vt_bf16 *P16 = x16 ? x16->probs + b * block_n : NULL;
        product(H, Tq, Tk, d->key_dim, o->scale, q + qo, x16 ? x16->q + qo : NULL, heads(d->key_dim, d->q_stride),
                k + ko, x16 ? x16->k + ko : NULL, (vt_strides){d->key_dim, 1, d->k_stride}, 0.0f, P,
                block(Tq, Tk, false));
        masked_softmax(d, o, b, P);
        uint8_t *mask = dropout ? drop_mask + b * block_n : NULL;
        const float *Pv = P;
        if (x16) round_probs(P, mask, block_n, b * block_n, o->dropout_rate, o->dropout_seed, P16);
        else if (dropout) {
            apply_dropout(P, mask, true, block_n, b * block_n, o->dropout_rate, o->dropout_seed, dropped);
            Pv = dropped;
        }
        product(H, Tq, d->value_dim, Tk, 1.0f, Pv, P16, block(Tq, Tk, false), v + vo, x16 ? x16->v + vo : NULL,
                heads(d->value_dim, d->v_stride), 0.0f, out + b * Tq * d->out_stride, heads(d->value_dim, d->out_stride));
    }
}

void vt_attention_backward(const vt_attention_dims *d, const vt_attention_opts *o, const float *q, const float *k,
                           const float *v, const float *probs, const uint8_t *drop_mask, const float *dout, float *dq,
                           float *dk, float *dv) {
    int64_t H = d->heads, Tq = d->q_len, Tk = d->kv_len, block_n = H * Tq * Tk, out_w = H * d->value_dim;
    bool dropout = o->dropout_rate > 0 && drop_mask;
    const vt_attention_bf16 *x16 = o->bf16;
    float *dP = scratch((size_t)block_n); /* (H, Tq, Tk), then the second block for dropout(P) */
    vt_bf16 *dS16 = x16 ? scratch16((size_t)(block_n + Tq * out_w)) : NULL; /* (H, Tq, Tk), then dout (Tq, out_w) */
    if (!dP || (x16 && !dS16)) return;
    vt_bf16 *dout16 = dS16 ? dS16 + block_n : NULL;
    float *dropped = dP + block_n, keep_scale = dropout ? 1.0f / (1.0f - o->dropout_rate) : 1.0f;
    for (int64_t b = 0; b < d->batch; b++) {
        const float *P = probs + b * block_n;
        int64_t qo = b * Tq * d->q_stride, ko = b * Tk * d->k_stride, vo = b * Tk * d->v_stride;
        const float *dob = dout + b * Tq * d->out_stride;
        vt_strides do_s = heads(d->value_dim, d->out_stride);
        if (x16) { /* dout rounded into a contiguous (Tq, out_w) block */
            for (int64_t t = 0; t < Tq; t++) vt_f32_to_bf16(dob + t * d->out_stride, dout16 + t * out_w, out_w);
            do_s = heads(d->value_dim, out_w);
        }
        /* dP_drop = dout V^T; dv += dropout(P)^T dout */
        product(H, Tq, Tk, d->value_dim, 1.0f, dob, dout16, do_s, v + vo, x16 ? x16->v + vo : NULL,
                (vt_strides){d->value_dim, 1, d->v_stride}, 0.0f, dP, block(Tq, Tk, false));
        const float *Pv = P;
        if (dropout && !x16) {
            apply_dropout(P, (uint8_t *)(drop_mask + b * block_n), false, block_n, 0, o->dropout_rate, 0, dropped);
            Pv = dropped;
        }
        product(H, Tk, d->value_dim, Tq, 1.0f, Pv, x16 ? x16->probs + b * block_n : NULL, block(Tq, Tk, true), dob,
                dout16, do_s, 1.0f, dv + vo, heads(d->value_dim, d->v_stride));
        /* dS = P * (dP - sum_j P dP), with dP through the dropout mask */
        const uint8_t *mask = dropout ? drop_mask + b * block_n : NULL;
#pragma omp parallel for schedule(static)
        for (int64_t r = 0; r < H * Tq; r++) {
            float *g = dP + r * Tk;
            const float *p = P + r * Tk;
            float dot = 0;
            for (int64_t j = 0; j < Tk; j++) {
                g[j] = mask && !mask[r * Tk + j] ? 0.0f : g[j] * keep_scale;
                dot += p[j] * g[j];
            }
            for (int64_t j = 0; j < Tk; j++) g[j] = p[j] * (g[j] - dot);
            if (dS16)
                for (int64_t j = 0; j < Tk; j++) dS16[r * Tk + j] = vk_bf16(g[j]);
        }
        /* dq += scale dS K; dk += scale dS^T Q */
        product(H, Tq, d->key_dim, Tk, o->scale, dP, dS16, block(Tq, Tk, false), k + ko, x16 ? x16->k + ko : NULL,
                heads(d->key_dim, d->k_stride), 1.0f, dq + qo, heads(d->key_dim, d->q_stride));
        product(H, Tk, d->key_dim, Tq, o->scale, dP, dS16, block(Tq, Tk, true), q + qo, x16 ? x16->q + qo : NULL,
                heads(d->key_dim, d->q_stride), 1.0f, dk + ko, heads(d->key_dim, d->k_stride));
    }
}
