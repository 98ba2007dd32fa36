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
 * when a larger shape arrives, so steady-state steps do not allocate. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/kmath.h"
#include "verto/kernels.h"
#include "verto/rng.h"

static _Thread_local float *scratch_buf;
static _Thread_local size_t scratch_floats;

/* Two blocks of n floats each; NULL (error set) if memory runs out. */
static float *scratch(size_t n) {
    if (2 * n > scratch_floats) {
        free(scratch_buf);
        scratch_buf = aligned_alloc(64, (2 * n * sizeof(float) + 63) / 64 * 64);
        scratch_floats = scratch_buf ? 2 * n : 0;
        if (!scratch_buf) vt_error(VT_ERR_NOMEM, "out of memory for attention scratch (%zu floats)", 2 * n);
    }
    return scratch_buf;
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

void vt_attention_forward(const vt_attention_dims *d, const vt_attention_opts *o, const float *q, const float *k,
                          const float *v, float *probs, uint8_t *drop_mask, float *out) {
    int64_t H = d->heads, Tq = d->q_len, Tk = d->kv_len, block_n = H * Tq * Tk;
    bool dropout = o->dropout_rate > 0 && drop_mask;
    float *dropped = dropout ? scratch((size_t)block_n) : NULL;
    if (dropout && !dropped) return;
    for (int64_t b = 0; b < d->batch; b++) {
        float *P = probs + b * block_n; /* (H, Tq, Tk) */
        const float *qb = q + b * Tq * d->q_stride, *kb = k + b * Tk * d->k_stride, *vb = v + b * Tk * d->v_stride;
        vt_matmul_strided(H, Tq, Tk, d->key_dim, o->scale, qb, heads(d->key_dim, d->q_stride), kb,
                          (vt_strides){d->key_dim, 1, d->k_stride}, 0.0f, P, block(Tq, Tk, false));
        masked_softmax(d, o, b, P);
        const float *Pv = P;
        if (dropout) {
            apply_dropout(P, drop_mask + b * block_n, true, block_n, b * block_n, o->dropout_rate, o->dropout_seed, dropped);
            Pv = dropped;
        }
        vt_matmul_strided(H, Tq, d->value_dim, Tk, 1.0f, Pv, block(Tq, Tk, false), vb, heads(d->value_dim, d->v_stride),
                          0.0f, out + b * Tq * d->out_stride, heads(d->value_dim, d->out_stride));
    }
}

void vt_attention_backward(const vt_attention_dims *d, const vt_attention_opts *o, const float *q, const float *k,
                           const float *v, const float *probs, const uint8_t *drop_mask, const float *dout, float *dq,
                           float *dk, float *dv) {
    int64_t H = d->heads, Tq = d->q_len, Tk = d->kv_len, block_n = H * Tq * Tk;
    bool dropout = o->dropout_rate > 0 && drop_mask;
    float *dP = scratch((size_t)block_n); /* (H, Tq, Tk), then the second block for dropout(P) */
    if (!dP) return;
    float *dropped = dP + block_n, keep_scale = dropout ? 1.0f / (1.0f - o->dropout_rate) : 1.0f;
    for (int64_t b = 0; b < d->batch; b++) {
        const float *P = probs + b * block_n;
        const float *qb = q + b * Tq * d->q_stride, *kb = k + b * Tk * d->k_stride, *vb = v + b * Tk * d->v_stride;
        const float *dob = dout + b * Tq * d->out_stride;
        vt_strides do_s = heads(d->value_dim, d->out_stride);
        /* dP_drop = dout V^T; dv += dropout(P)^T dout */
        vt_matmul_strided(H, Tq, Tk, d->value_dim, 1.0f, dob, do_s, vb, (vt_strides){d->value_dim, 1, d->v_stride}, 0.0f,
                          dP, block(Tq, Tk, false));
        const float *Pv = P;
        if (dropout) {
            apply_dropout(P, (uint8_t *)(drop_mask + b * block_n), false, block_n, 0, o->dropout_rate, 0, dropped);
            Pv = dropped;
        }
        vt_matmul_strided(H, Tk, d->value_dim, Tq, 1.0f, Pv, block(Tq, Tk, true), dob, do_s, 1.0f,
                          dv + b * Tk * d->v_stride, heads(d->value_dim, d->v_stride));
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
        }
        /* dq += scale dS K; dk += scale dS^T Q */
        vt_matmul_strided(H, Tq, d->key_dim, Tk, o->scale, dP, block(Tq, Tk, false), kb, heads(d->key_dim, d->k_stride),
                          1.0f, dq + b * Tq * d->q_stride, heads(d->key_dim, d->q_stride));
        vt_matmul_strided(H, Tk, d->key_dim, Tq, o->scale, dP, block(Tq, Tk, true), qb, heads(d->key_dim, d->q_stride),
                          1.0f, dk + b * Tk * d->k_stride, heads(d->key_dim, d->k_stride));
    }
}
