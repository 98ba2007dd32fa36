/* Fused multi-head attention, one (batch, head) pair per task.
 *
 * Forward: raw scores Q K^T go straight into the probs block (used as
 * scratch), then a masked, max-subtracted softmax per row; dropout;
 * out = P_drop V.
 * Backward, with dP = (dout V^T) * mask / (1 - rate) and
 * D_i = sum_j P_ij dP_ij = dout_i . out_i (out_i recomputed, as FlashAttention
 * does, so no kv_len-sized scratch is needed):
 *   dS = P * (dP - D),  dq += scale dS K,  dk += scale dS^T Q,  dv += P_drop^T dout.
 * Task (b, h) writes only rows of batch b and the column slice of head h in
 * out / dq / dk / dv, so tasks never share a written float. */
#include <math.h>

#include "kernels/kmath.h"
#include "verto/kernels.h"
#include "verto/rng.h"

/* Keys per block: scores and dP are computed JB keys at a time, vectorised
 * across the keys from a transposed copy of the block (TB features at a time)
 * on the stack, so that no dot product needs a horizontal reduction. */
#define JB 16
#define TB 64
/* Queries per block in the backward (the stack holds their dP and D). */
#define IB 64

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

/* res (nx, ny) (row stride ldr) = X (nx, dim) Y (ny, dim)^T for ny <= JB,
 * X and Y rows ldx and ldy floats apart. */
static void block_dots(const float *x, int64_t ldx, int64_t nx, const float *y, int64_t ldy, int64_t ny, int64_t dim,
                       float *res, int64_t ldr) {
    float yt[TB][JB];
    for (int64_t t0 = 0; t0 < dim; t0 += TB) {
        int64_t tw = dim - t0 < TB ? dim - t0 : TB;
        for (int64_t jj = 0; jj < JB; jj++)
            for (int64_t t = 0; t < tw; t++) yt[t][jj] = jj < ny ? y[jj * ldy + t0 + t] : 0.0f;
        for (int64_t i = 0; i < nx; i++) {
            const float *xi = x + i * ldx + t0;
            float *ri = res + i * ldr;
            float s[JB];
            for (int64_t jj = 0; jj < JB; jj++) s[jj] = t0 > 0 && jj < ny ? ri[jj] : 0.0f;
            for (int64_t t = 0; t < tw; t++) {
                float xv = xi[t];
#pragma omp simd
                for (int64_t jj = 0; jj < JB; jj++) s[jj] += xv * yt[t][jj];
            }
            for (int64_t jj = 0; jj < ny; jj++) ri[jj] = s[jj];
        }
    }
}

/* Row i of (b, h): p (kv_len) holds the raw scores q_i . k_j on entry and
 * the masked softmax of scale * scores on return; false (row all zero) when
 * every key is masked. */
static bool softmax_row(const vt_attention_dims *d, const vt_attention_opts *o, int64_t b, int64_t i,
                        float *restrict p) {
    const int64_t L = d->kv_len;
    float mx = -INFINITY;
    for (int64_t j = 0; j < L; j++) {
        p[j] = key_allowed(d, o, b, i, j) ? o->scale * p[j] : -INFINITY;
        mx = p[j] > mx ? p[j] : mx;
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
    const int64_t B = d->batch, H = d->heads, Tq = d->q_len, L = d->kv_len, kd = d->key_dim, vd = d->value_dim;
    const bool drop = o->dropout_rate > 0.0f;
    const float keep_scale = drop ? 1.0f / (1.0f - o->dropout_rate) : 1.0f;
#pragma omp parallel for collapse(2) schedule(dynamic, 1) if (B * H > 1)
    for (int64_t b = 0; b < B; b++) {
        for (int64_t h = 0; h < H; h++) {
            const float *qb = q + b * Tq * d->q_stride + h * kd;
            const float *kb = k + b * L * d->k_stride + h * kd;
            const float *vb = v + b * L * d->v_stride + h * vd;
            float *pb = probs + (b * H + h) * Tq * L;
            for (int64_t j0 = 0; j0 < L; j0 += JB) /* raw scores into the probs block */
                block_dots(qb, d->q_stride, Tq, kb + j0 * d->k_stride, d->k_stride, L - j0 < JB ? L - j0 : JB, kd,
                           pb + j0, L);
            for (int64_t i = 0; i < Tq; i++) {
                int64_t row = ((b * H + h) * Tq + i) * L;
                float *p = probs + row;
                float *restrict oi = out + (b * Tq + i) * d->out_stride + h * vd;
                for (int64_t t = 0; t < vd; t++) oi[t] = 0.0f;
                bool any = softmax_row(d, o, b, i, p);
                if (drop)
                    for (int64_t j = 0; j < L; j++)
                        drop_mask[row + j] = vt_hash_uniform(o->dropout_seed, (uint64_t)(row + j)) >= o->dropout_rate;
                if (!any) continue;
                for (int64_t j = 0; j < L; j++) {
                    float pj = p[j];
                    if (drop) pj = drop_mask[row + j] ? pj * keep_scale : 0.0f;
                    if (pj != 0.0f) axpy(pj, vb + j * d->v_stride, oi, vd);
                }
            }
        }
    }
}

/* D_i = sum_j P_ij dP_ij = dout_i . out_i, with out_i = sum_j P_drop_ij v_j
 * recomputed TB features at a time (the forward output is not an input). */
static float row_delta(const float *p, const uint8_t *m, float keep_scale, const float *vb, int64_t v_stride,
                       const float *doi, int64_t L, int64_t vd) {
    float D = 0.0f;
    for (int64_t t0 = 0; t0 < vd; t0 += TB) {
        int64_t tw = vd - t0 < TB ? vd - t0 : TB;
        float acc[TB] = {0};
        for (int64_t j = 0; j < L; j++) {
            float pd = m ? (m[j] ? p[j] * keep_scale : 0.0f) : p[j];
            if (pd != 0.0f) axpy(pd, vb + j * v_stride + t0, acc, tw);
        }
        D += dot(doi + t0, acc, tw);
    }
    return D;
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
            const float *qb = q + b * Tq * d->q_stride + h * kd;
            const float *kb = k + b * L * d->k_stride + h * kd;
            const float *vb = v + b * L * d->v_stride + h * vd;
            const float *dob = dout + b * Tq * d->out_stride + h * vd;
            float *dqb = dq + b * Tq * d->q_stride + h * kd;
            float *dkb = dk + b * L * d->k_stride + h * kd;
            float *dvb = dv_ + b * L * d->v_stride + h * vd;
            const float *pb = probs + (b * H + h) * Tq * L;
            const uint8_t *mb = drop ? drop_mask + (b * H + h) * Tq * L : NULL;
            for (int64_t i0 = 0; i0 < Tq; i0 += IB) {
                int64_t ni = Tq - i0 < IB ? Tq - i0 : IB;
                float D[IB], dP[IB][JB];
                for (int64_t ii = 0; ii < ni; ii++) {
                    int64_t i = i0 + ii;
                    D[ii] = row_delta(pb + i * L, mb ? mb + i * L : NULL, keep_scale, vb, d->v_stride,
                                      dob + i * d->out_stride, L, vd);
                }
                for (int64_t j0 = 0; j0 < L; j0 += JB) {
                    int64_t nj = L - j0 < JB ? L - j0 : JB;
                    /* dP_drop (ni, nj) = dout_i . v_j */
                    block_dots(dob + i0 * d->out_stride, d->out_stride, ni, vb + j0 * d->v_stride, d->v_stride, nj,
                               vd, &dP[0][0], JB);
                    for (int64_t ii = 0; ii < ni; ii++) {
                        int64_t i = i0 + ii;
                        const float *p = pb + i * L;
                        const uint8_t *m = mb ? mb + i * L : NULL;
                        const float *qi = qb + i * d->q_stride, *doi = dob + i * d->out_stride;
                        float *dqi = dqb + i * d->q_stride;
                        for (int64_t jj = 0; jj < nj; jj++) {
                            int64_t j = j0 + jj;
                            if (p[j] == 0.0f) continue; /* masked (or underflowed): no gradient flows */
                            float keep = m ? (m[j] ? keep_scale : 0.0f) : 1.0f;
                            float pd = p[j] * keep;
                            if (pd != 0.0f) axpy(pd, doi, dvb + j * d->v_stride, vd);
                            float ds = scale * p[j] * (dP[ii][jj] * keep - D[ii]);
                            axpy(ds, kb + j * d->k_stride, dqi, kd);
                            axpy(ds, qi, dkb + j * d->k_stride, kd);
                        }
                    }
                }
            }
        }
    }
}
