/* Fused multi-head attention, one (batch, head) pair per task.
 *
 * Forward: scores go straight into the probs row (used as scratch), then a
 * masked, max-subtracted softmax; dropout; out = P_drop V.
 * Backward, per query row i, with dP = (dout V^T) * mask / (1 - rate):
 *   dS = P * (dP - sum_j P dP),  dq += scale dS K,  dk += scale dS^T q,
 *   dv += P_drop^T dout.
 * Task (b, h) writes only rows of batch b and the column slice of head h in
 * out / dq / dk / dv, so tasks never share a written float. */
#include <math.h>

#include "kernels/kmath.h"
#include "verto/kernels.h"
#include "verto/rng.h"

/* Keys per block of dP kept on the stack in the backward. */
#define ATT_BLOCK 1024

static inline bool key_allowed(const vt_attention_dims *d, const vt_attention_opts *o, int64_t b, int64_t i,
                               int64_t j) {
    if (o->causal && j > i) return false;
    if (o->mask_kind == VT_MASK_KEYS) return o->mask[b * d->kv_len + j] != 0;
    if (o->mask_kind == VT_MASK_FULL) return o->mask[(b * d->q_len + i) * d->kv_len + j] != 0;
    return true;
}

static inline float dot(const float *restrict a, const float *restrict b, int64_t n) {
    float s = 0.0f;
#pragma omp simd reduction(+ : s)
    for (int64_t t = 0; t < n; t++) s += a[t] * b[t];
    return s;
}

static inline void axpy(float a, const float *restrict x, float *restrict y, int64_t n) {
#pragma omp simd
    for (int64_t t = 0; t < n; t++) y[t] += a * x[t];
}

/* probs row i of (b, h): masked softmax of scale * q_i K^T; returns false
 * (row all zero) when every key is masked. */
static bool softmax_row(const vt_attention_dims *d, const vt_attention_opts *o, const float *q, const float *k,
                        int64_t b, int64_t h, int64_t i, float *restrict p) {
    const int64_t L = d->kv_len, dk = d->key_dim;
    const float *qi = q + (b * d->q_len + i) * d->q_stride + h * dk;
    const float *kb = k + b * L * d->k_stride + h * dk;
    float mx = -INFINITY;
    for (int64_t j = 0; j < L; j++) {
        if (key_allowed(d, o, b, i, j)) {
            p[j] = o->scale * dot(qi, kb + j * d->k_stride, dk);
            mx = p[j] > mx ? p[j] : mx;
        } else {
            p[j] = -INFINITY;
        }
    }
    if (mx == -INFINITY) {
        for (int64_t j = 0; j < L; j++) p[j] = 0.0f;
        return false;
    }
    float sum = 0.0f;
#pragma omp simd reduction(+ : sum)
    for (int64_t j = 0; j < L; j++) {
        float e = p[j] == -INFINITY ? 0.0f : vk_expf(p[j] - mx);
        p[j] = e;
        sum += e;
    }
    float inv = 1.0f / sum;
#pragma omp simd
    for (int64_t j = 0; j < L; j++) p[j] *= inv;
    return true;
}

void vt_attention_forward(const vt_attention_dims *d, const vt_attention_opts *o,
                          const float *q,      // (batch, q_len, heads, key_dim), token stride q_stride
                          const float *k,      // (batch, kv_len, heads, key_dim), token stride k_stride
                          const float *v,      // (batch, kv_len, heads, value_dim), token stride v_stride
                          float *probs,        // (batch, heads, q_len, kv_len)
                          uint8_t *drop_mask,  // (batch, heads, q_len, kv_len), NULL if rate 0
                          float *out) {        // (batch, q_len, heads, value_dim), token stride out_stride
    const int64_t B = d->batch, H = d->heads, Tq = d->q_len, L = d->kv_len, dv = d->value_dim;
    const bool drop = o->dropout_rate > 0.0f;
    const float keep_scale = drop ? 1.0f / (1.0f - o->dropout_rate) : 1.0f;
#pragma omp parallel for collapse(2) schedule(dynamic, 1) if (B * H > 1)
    for (int64_t b = 0; b < B; b++) {
        for (int64_t h = 0; h < H; h++) {
            const float *vb = v + b * L * d->v_stride + h * dv;
            for (int64_t i = 0; i < Tq; i++) {
                int64_t row = ((b * H + h) * Tq + i) * L;
                float *p = probs + row;
                float *restrict oi = out + (b * Tq + i) * d->out_stride + h * dv;
                for (int64_t t = 0; t < dv; t++) oi[t] = 0.0f;
                bool any = softmax_row(d, o, q, k, b, h, i, p);
                if (drop)
                    for (int64_t j = 0; j < L; j++)
                        drop_mask[row + j] = vt_hash_uniform(o->dropout_seed, (uint64_t)(row + j)) >= o->dropout_rate;
                if (!any) continue;
                for (int64_t j = 0; j < L; j++) {
                    float pj = p[j];
                    if (drop) pj = drop_mask[row + j] ? pj * keep_scale : 0.0f;
                    if (pj != 0.0f) axpy(pj, vb + j * d->v_stride, oi, dv);
                }
            }
        }
    }
}

/* dP_ij = (dout_i . v_j) * mask / (1 - rate), before the softmax backward. */
static inline float dprob(const float *doi, const float *vj, int64_t dv, const uint8_t *m, float keep_scale) {
    float g = dot(doi, vj, dv);
    return m ? (*m ? g * keep_scale : 0.0f) : g;
}

void vt_attention_backward(const vt_attention_dims *d, const vt_attention_opts *o,
                           const float *q,           // (batch, q_len, heads, key_dim), stride q_stride
                           const float *k,           // (batch, kv_len, heads, key_dim), stride k_stride
                           const float *v,           // (batch, kv_len, heads, value_dim), stride v_stride
                           const float *probs,       // (batch, heads, q_len, kv_len)
                           const uint8_t *drop_mask, // (batch, heads, q_len, kv_len), NULL if rate 0
                           const float *dout,        // (batch, q_len, heads, value_dim), stride out_stride
                           float *dq,                // like q, +=
                           float *dk,                // like k, +=
                           float *dv_) {             // like v, +=
    const int64_t B = d->batch, H = d->heads, Tq = d->q_len, L = d->kv_len, kd = d->key_dim, vd = d->value_dim;
    const bool drop = o->dropout_rate > 0.0f && drop_mask;
    const float keep_scale = drop ? 1.0f / (1.0f - o->dropout_rate) : 1.0f;
    const float scale = o->scale;
#pragma omp parallel for collapse(2) schedule(dynamic, 1) if (B * H > 1)
    for (int64_t b = 0; b < B; b++) {
        for (int64_t h = 0; h < H; h++) {
            float dp[ATT_BLOCK];
            const float *kb = k + b * L * d->k_stride + h * kd;
            const float *vb = v + b * L * d->v_stride + h * vd;
            float *dkb = dk + b * L * d->k_stride + h * kd;
            float *dvb = dv_ + b * L * d->v_stride + h * vd;
            for (int64_t i = 0; i < Tq; i++) {
                int64_t row = ((b * H + h) * Tq + i) * L;
                const float *p = probs + row;
                const uint8_t *m = drop ? drop_mask + row : NULL;
                const float *qi = q + (b * Tq + i) * d->q_stride + h * kd;
                const float *doi = dout + (b * Tq + i) * d->out_stride + h * vd;
                float *dqi = dq + (b * Tq + i) * d->q_stride + h * kd;
                const bool one_block = L <= ATT_BLOCK;
                /* D = sum_j P dP; with more keys than fit in dp, in a first sweep. */
                float D = 0.0f;
                if (!one_block)
                    for (int64_t j = 0; j < L; j++)
                        if (p[j] != 0.0f) D += p[j] * dprob(doi, vb + j * d->v_stride, vd, m ? m + j : NULL, keep_scale);
                for (int64_t j0 = 0; j0 < L; j0 += ATT_BLOCK) {
                    int64_t j1 = j0 + ATT_BLOCK < L ? j0 + ATT_BLOCK : L;
                    for (int64_t j = j0; j < j1; j++)
                        dp[j - j0] = p[j] != 0.0f ? dprob(doi, vb + j * d->v_stride, vd, m ? m + j : NULL, keep_scale)
                                                  : 0.0f;
                    if (one_block)
                        for (int64_t j = j0; j < j1; j++) D += p[j] * dp[j - j0];
                    for (int64_t j = j0; j < j1; j++) {
                        if (p[j] == 0.0f) continue; /* masked (or underflowed): no gradient flows */
                        float pd = m ? (m[j] ? p[j] * keep_scale : 0.0f) : p[j];
                        if (pd != 0.0f) axpy(pd, doi, dvb + j * d->v_stride, vd);
                        float ds = scale * p[j] * (dp[j - j0] - D);
                        axpy(ds, kb + j * d->k_stride, dqi, kd);
                        axpy(ds, qi, dkb + j * d->k_stride, kd);
                    }
                }
            }
        }
    }
}
