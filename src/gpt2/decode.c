/* Incremental decoding with a key/value cache: a prefill runs the prompts
 * through the training forward's code (right-padded, the attention mask from
 * their lengths) and keeps every layer's keys and values; a step runs one new
 * token per sequence through the blocks' dense layers and attends over that
 * sequence's cached keys alone. Every sequence has its own length and
 * positions, so a batch decodes each sequence as it would decode alone. */
#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "gpt2/gpt2_internal.h"

struct vt_gpt2_cache {
    int64_t batch, max_len, layers, heads, head_dim, width, inner;
    float *k, *v;            /* (L, B, heads, max_len, head_dim) each */
    int64_t *lengths;        /* (B) tokens held */
    /* a step's scratch, one row per sequence */
    float *x;                /* (B, H) the residual stream */
    float *ln, *mean, *rstd; /* (B, H), (B), (B) */
    float *qkv;              /* (B, 3H) */
    float *ctx, *branch;     /* (B, H) */
    float *inter_pre, *inter;/* (B, I) */
    float *probs;            /* (B * heads, max_len) */
    vt_bf16 *x16;            /* (B, max(H, I)): a dense layer's bf16 input (bf16 GEMMs) */
    int32_t *mask;           /* (B, T) the prefill's attention mask */
    int64_t mask_cap;
    int64_t *all;            /* (B) 0, 1, ..., B - 1: vt_gpt2_step's slots */
};

static float *cache_k(const vt_gpt2_cache *c, int64_t l, int64_t b, int64_t h) {
    return c->k + (((l * c->batch + b) * c->heads + h) * c->max_len) * c->head_dim;
}
static float *cache_v(const vt_gpt2_cache *c, int64_t l, int64_t b, int64_t h) {
    return c->v + (((l * c->batch + b) * c->heads + h) * c->max_len) * c->head_dim;
}

vt_gpt2_cache *vt_gpt2_cache_new(const vt_gpt2 *m, int64_t batch, int64_t max_len) {
    if (!m) {
        vt_error(VT_ERR_INVALID_ARG, "vt_gpt2_cache_new: no model given");
        return NULL;
    }
    const vt_gpt2_config *cfg = &m->cfg;
    if (batch < 1 || max_len < 1 || max_len > cfg->n_positions || batch > (1 << 20)) {
        vt_error(VT_ERR_INVALID_ARG, "a GPT-2 cache needs batch >= 1 and 1 <= max_len <= n_positions (%lld), not %lld and %lld",
                 (long long)cfg->n_positions, (long long)batch, (long long)max_len);
        return NULL;
    }
    vt_gpt2_cache *c = calloc(1, sizeof *c);
    if (!c) goto nomem;
    int64_t H = cfg->n_embd, I = vt_gpt2_inner(cfg), L = cfg->n_layer, B = batch;
    *c = (vt_gpt2_cache){.batch = B, .max_len = max_len, .layers = L, .heads = cfg->n_head,
                         .head_dim = H / cfg->n_head, .width = H, .inner = I};
    size_t kv = (size_t)(L * B * H * max_len);
    c->k = malloc(kv * sizeof(float));
    c->v = malloc(kv * sizeof(float));
    c->lengths = calloc((size_t)B, sizeof *c->lengths);
    c->x = malloc((size_t)(B * H) * sizeof(float));
    c->ln = malloc((size_t)(B * H) * sizeof(float));
    c->mean = malloc((size_t)B * sizeof(float));
    c->rstd = malloc((size_t)B * sizeof(float));
    c->qkv = malloc((size_t)(B * 3 * H) * sizeof(float));
    c->ctx = malloc((size_t)(B * H) * sizeof(float));
    c->branch = malloc((size_t)(B * H) * sizeof(float));
    c->inter_pre = malloc((size_t)(B * I) * sizeof(float));
    c->inter = malloc((size_t)(B * I) * sizeof(float));
    c->probs = malloc((size_t)(B * c->heads * max_len) * sizeof(float));
    c->x16 = malloc((size_t)(B * (H > I ? H : I)) * sizeof(vt_bf16));
    c->all = malloc((size_t)B * sizeof *c->all);
    for (int64_t b = 0; c->all && b < B; b++) c->all[b] = b;
    if (!c->all || !c->k || !c->v || !c->lengths || !c->x || !c->ln || !c->mean || !c->rstd || !c->qkv || !c->ctx ||
        !c->branch || !c->inter_pre || !c->inter || !c->probs || !c->x16)
        goto nomem;
    return c;
nomem:
    vt_gpt2_cache_free(c);
    vt_error(VT_ERR_NOMEM, "out of memory for a GPT-2 cache of %lld sequences of %lld tokens", (long long)batch,
             (long long)max_len);
    return NULL;
}

void vt_gpt2_cache_free(vt_gpt2_cache *c) {
    if (!c) return;
    float *bufs[] = {c->k, c->v, c->x, c->ln, c->mean, c->rstd, c->qkv, c->ctx, c->branch, c->inter_pre, c->inter,
                     c->probs};
    for (size_t i = 0; i < sizeof bufs / sizeof *bufs; i++) free(bufs[i]);
    free(c->lengths);
    free(c->x16);
    free(c->mask);
    free(c->all);
    free(c);
}

const int64_t *vt_gpt2_cache_lengths(const vt_gpt2_cache *c) { return c ? c->lengths : NULL; }

static vt_status check_model(const vt_gpt2 *m, const vt_gpt2_cache *c, const float *logits) {
    if (!m || !c || !logits) return vt_error(VT_ERR_INVALID_ARG, "GPT-2 decoding needs a model, a cache and logits");
    if (c->width != m->cfg.n_embd || c->layers != m->cfg.n_layer || c->inner != vt_gpt2_inner(&m->cfg))
        return vt_error(VT_ERR_INVALID_ARG, "the GPT-2 cache was made for another model's sizes");
    return VT_OK;
}

/* The context of the steps' products: one product over the rows, in bf16
 * when the model or its decoding is (vt_gpt2_set_decode_precision). */
static blk_ctx step_ctx(const vt_gpt2 *m) {
    blk_ctx ctx = gpt2_ctx(m, true);
    if (m->decode_bf16) ctx.precision = VT_PRECISION_BF16;
    return ctx;
}

/* Rows up to which a step streams the weights through vt_matvec; above, a
 * GEMM reuses each weight across enough rows to be faster. */
#define MATVEC_MAX_ROWS 4

/* y = x W^T + b over the step's rows, added to y when `add` (the residual
 * stream), then the adapter's branch if one is attached. */
static vt_status dense(const blk_ctx *ctx, const blk_linear *l, vt_gpt2_cache *c, const float *x, float *y,
                       int64_t rows, bool add) {
    if (rows <= MATVEC_MAX_ROWS) {
        if (ctx->precision == VT_PRECISION_BF16) vt_matvec_bf16(x, l->W16, l->b, y, rows, l->out, l->in, add);
        else vt_matvec(x, l->W, l->b, y, rows, l->out, l->in, add);
        return l->lora ? blk_lora_forward(ctx, l, x, y, rows) : VT_OK;
    }
    vt_status st = blk_linear_forward(ctx, l, x, c->x16, add ? c->branch : y, rows, 0);
    if (st == VT_OK && add)
        for (int64_t i = 0; i < rows * l->out; i++) y[i] += c->branch[i];
    return st;
}

/* The tied lm_head over the first n rows of the final LayerNorm's output c->ln. */
static vt_status head(vt_gpt2 *m, vt_gpt2_cache *c, float *logits, int64_t n) {
    blk_ctx ctx = step_ctx(m);
    gpt2_refresh_params16(m);
    blk_linear lm = gpt2_dense(m, m->w.wte, NULL, NULL, NULL, m->cfg.n_embd, m->cfg.vocab_size);
    return dense(&ctx, &lm, c, c->ln, logits, n, false);
}

vt_status vt_gpt2_prefill(vt_gpt2 *m, vt_gpt2_cache *c, const int32_t *ids, int64_t T, const int32_t *lengths,
                          float *logits) {
    vt_status st = check_model(m, c, logits);
    if (st != VT_OK) return st;
    if (!ids || !lengths || T < 1 || T > c->max_len)
        return vt_error(VT_ERR_INVALID_ARG, "a prefill needs ids and lengths, and 1 <= T <= the cache's %lld tokens",
                        (long long)c->max_len);
    int64_t B = c->batch, H = c->width, A = c->heads, dk = c->head_dim;
    for (int64_t b = 0; b < B; b++)
        if (lengths[b] < 1 || lengths[b] > T)
            return vt_error(VT_ERR_INVALID_ARG, "prompt %lld has length %d, outside [1, %lld]", (long long)b,
                            lengths[b], (long long)T);
    if (c->mask_cap < B * T) {
        int32_t *p = realloc(c->mask, (size_t)(B * T) * sizeof *p);
        if (!p) return vt_error(VT_ERR_NOMEM, "out of memory for a prefill's mask");
        c->mask = p;
        c->mask_cap = B * T;
    }
    for (int64_t r = 0; r < B * T; r++) c->mask[r] = r % T < lengths[r / T];
    vt_gpt2_batch in = {.batch = B, .seq_len = T, .input_ids = ids, .attention_mask = c->mask};
    /* The forward's logits at every position are not wanted: only the body runs. */
    if ((st = gpt2_body(m, &in)) != VT_OK) return st;
    for (int64_t l = 0; l < c->layers; l++) {
        const float *qkv = m->acts[l].attn.qkv; /* (B*T, 3H): query, key, value */
        for (int64_t b = 0; b < B; b++)
            for (int64_t h = 0; h < A; h++)
                for (int64_t t = 0; t < lengths[b]; t++) {
                    const float *row = qkv + (b * T + t) * 3 * H + h * dk;
                    memcpy(cache_k(c, l, b, h) + t * dk, row + H, (size_t)dk * sizeof(float));
                    memcpy(cache_v(c, l, b, h) + t * dk, row + 2 * H, (size_t)dk * sizeof(float));
                }
    }
    const float *hidden = m->units[2 * c->layers].out;
    for (int64_t b = 0; b < B; b++) {
        memcpy(c->ln + b * H, hidden + (b * T + lengths[b] - 1) * H, (size_t)H * sizeof(float));
        c->lengths[b] = lengths[b];
    }
    return head(m, c, logits, B);
}

/* One query per (row, head) over its sequence's cached keys (row r of the
 * step's scratch is sequence slot[r]): ctx = softmax(q k^T / sqrt(dk)) v. */
static void decode_attention(vt_gpt2_cache *c, int64_t l, const int64_t *slot, int64_t B) {
    int64_t A = c->heads, dk = c->head_dim, H = c->width;
    float scale = 1.0f / sqrtf((float)dk);
    int64_t work = B * A * c->max_len * dk; /* a bound: threads only where they pay for their start */
#pragma omp parallel for collapse(2) schedule(static) if (work > (1 << 16))
    for (int64_t b = 0; b < B; b++)
        for (int64_t h = 0; h < A; h++) {
            int64_t n = c->lengths[slot[b]] + 1;
            const float *q = c->qkv + b * 3 * H + h * dk, *K = cache_k(c, l, slot[b], h), *V = cache_v(c, l, slot[b], h);
            float *p = c->probs + (b * A + h) * c->max_len, *o = c->ctx + b * H + h * dk;
            float top = -FLT_MAX;
            for (int64_t t = 0; t < n; t++) {
                float s = 0;
                for (int64_t d = 0; d < dk; d++) s += q[d] * K[t * dk + d];
                p[t] = s * scale;
                if (p[t] > top) top = p[t];
            }
            double sum = 0;
            for (int64_t t = 0; t < n; t++) sum += p[t] = expf(p[t] - top);
            float inv = (float)(1.0 / sum);
            for (int64_t d = 0; d < dk; d++) o[d] = 0;
            for (int64_t t = 0; t < n; t++) {
                float w = p[t] * inv;
                for (int64_t d = 0; d < dk; d++) o[d] += w * V[t * dk + d];
            }
        }
}

/* One step of the B sequences slot[0..B): row b of the scratch and of
 * tokens/logits is sequence slot[b]. */
static vt_status step_rows(vt_gpt2 *m, vt_gpt2_cache *c, const int64_t *slot, int64_t B, const int32_t *tokens,
                           float *logits) {
    vt_status st = check_model(m, c, logits);
    if (st != VT_OK) return st;
    if (!tokens) return vt_error(VT_ERR_INVALID_ARG, "vt_gpt2_step: no tokens given");
    const vt_gpt2_config *cfg = &m->cfg;
    int64_t H = c->width, A = c->heads, dk = c->head_dim;
    for (int64_t b = 0; b < B; b++) {
        int64_t s = slot[b];
        if (s < 0 || s >= c->batch)
            return vt_error(VT_ERR_INVALID_ARG, "vt_gpt2_step: sequence %lld is outside the cache's %lld", (long long)s,
                            (long long)c->batch);
        for (int64_t e = 0; e < b; e++)
            if (slot[e] == s) return vt_error(VT_ERR_INVALID_ARG, "vt_gpt2_step: sequence %lld given twice", (long long)s);
        if (c->lengths[s] < 1)
            return vt_error(VT_ERR_STATE, "vt_gpt2_step: sequence %lld has no prompt yet (prefill first)", (long long)s);
        if (c->lengths[s] >= c->max_len)
            return vt_error(VT_ERR_INVALID_ARG, "vt_gpt2_step: sequence %lld already holds the cache's %lld tokens",
                            (long long)s, (long long)c->max_len);
        if (tokens[b] < 0 || tokens[b] >= cfg->vocab_size)
            return vt_error(VT_ERR_INVALID_ARG, "vt_gpt2_step: token %d of sequence %lld is outside [0, %lld)",
                            tokens[b], (long long)s, (long long)cfg->vocab_size);
    }
    gpt2_refresh_params16(m);
    for (int64_t b = 0; b < B; b++) {
        const float *te = m->w.wte + tokens[b] * H, *pe = m->w.wpe + c->lengths[slot[b]] * H;
        for (int64_t h = 0; h < H; h++) c->x[b * H + h] = te[h] + pe[h];
    }
    blk_ctx ctx = step_ctx(m);
    for (int64_t l = 0; l < c->layers; l++) {
        const gpt2_layer_params *p = &m->w.layers[l];
        blk_attention attn = gpt2_attention(m, l, 0, 0);
        blk_ffn mlp = gpt2_mlp(m, l);
        vt_layernorm_forward(c->x, p->ln1_g, p->ln1_b, c->ln, c->mean, c->rstd, B, H, cfg->layer_norm_epsilon);
        if ((st = dense(&ctx, &attn.qkv, c, c->ln, c->qkv, B, false)) != VT_OK) return st;
        for (int64_t b = 0; b < B; b++)
            for (int64_t h = 0; h < A; h++) {
                int64_t t = c->lengths[slot[b]];
                memcpy(cache_k(c, l, slot[b], h) + t * dk, c->qkv + b * 3 * H + H + h * dk, (size_t)dk * sizeof(float));
                memcpy(cache_v(c, l, slot[b], h) + t * dk, c->qkv + b * 3 * H + 2 * H + h * dk,
                       (size_t)dk * sizeof(float));
            }
        decode_attention(c, l, slot, B);
        /* the residual stream takes each sublayer's output in place */
        if ((st = dense(&ctx, &attn.out, c, c->ctx, c->x, B, true)) != VT_OK) return st;
        vt_layernorm_forward(c->x, p->ln2_g, p->ln2_b, c->ln, c->mean, c->rstd, B, H, cfg->layer_norm_epsilon);
        if ((st = dense(&ctx, &mlp.up, c, c->ln, c->inter_pre, B, false)) != VT_OK) return st;
        vt_activation_forward(mlp.act, c->inter_pre, c->inter, B, mlp.up.out);
        if ((st = dense(&ctx, &mlp.down, c, c->inter, c->x, B, true)) != VT_OK) return st;
    }
    vt_layernorm_forward(c->x, m->w.lnf_g, m->w.lnf_b, c->ln, c->mean, c->rstd, B, H, cfg->layer_norm_epsilon);
    if ((st = head(m, c, logits, B)) != VT_OK) return st;
    for (int64_t b = 0; b < B; b++) c->lengths[slot[b]]++;
    return VT_OK;
}

vt_status vt_gpt2_step(vt_gpt2 *m, vt_gpt2_cache *c, const int32_t *tokens, float *logits) {
    if (!c) return check_model(m, c, logits);
    return step_rows(m, c, c->all, c->batch, tokens, logits);
}

vt_status vt_gpt2_step_slots(vt_gpt2 *m, vt_gpt2_cache *c, const int64_t *slots, int64_t n, const int32_t *tokens,
                             float *logits) {
    if (!c || !slots || n < 1 || n > c->batch)
        return vt_error(VT_ERR_INVALID_ARG, "vt_gpt2_step_slots: needs a cache and 1 to its batch of sequences");
    return step_rows(m, c, slots, n, tokens, logits);
}

vt_status vt_gpt2_cache_reset_slot(vt_gpt2_cache *c, int64_t slot) {
    if (!c || slot < 0 || slot >= c->batch)
        return vt_error(VT_ERR_INVALID_ARG, "vt_gpt2_cache_reset_slot: no sequence %lld in the cache", (long long)slot);
    c->lengths[slot] = 0;
    return VT_OK;
}

int64_t vt_gpt2_cache_batch(const vt_gpt2_cache *c) { return c ? c->batch : 0; }
int64_t vt_gpt2_cache_max_len(const vt_gpt2_cache *c) { return c ? c->max_len : 0; }

vt_status vt_gpt2_prefill_slot(vt_gpt2 *m, vt_gpt2_cache *c, int64_t slot, const int32_t *ids, int64_t n,
                               float *logits) {
    vt_status st = check_model(m, c, logits);
    if (st != VT_OK) return st;
    if (slot < 0 || slot >= c->batch)
        return vt_error(VT_ERR_INVALID_ARG, "vt_gpt2_prefill_slot: no sequence %lld in the cache", (long long)slot);
    if (!ids || n < 1 || n > c->max_len)
        return vt_error(VT_ERR_INVALID_ARG, "a prompt of %lld tokens does not fit a cache of %lld", (long long)n,
                        (long long)c->max_len);
    int64_t H = c->width, A = c->heads, dk = c->head_dim;
    vt_gpt2_batch in = {.batch = 1, .seq_len = n, .input_ids = ids};
    if ((st = gpt2_body(m, &in)) != VT_OK) return st;
    for (int64_t l = 0; l < c->layers; l++) {
        const float *qkv = m->acts[l].attn.qkv; /* (n, 3H) */
        for (int64_t h = 0; h < A; h++)
            for (int64_t t = 0; t < n; t++) {
                const float *row = qkv + t * 3 * H + h * dk;
                memcpy(cache_k(c, l, slot, h) + t * dk, row + H, (size_t)dk * sizeof(float));
                memcpy(cache_v(c, l, slot, h) + t * dk, row + 2 * H, (size_t)dk * sizeof(float));
            }
    }
    memcpy(c->ln, m->units[2 * c->layers].out + (n - 1) * H, (size_t)H * sizeof(float));
    c->lengths[slot] = n;
    return head(m, c, logits, 1);
}

/* The first index of the largest of n values. */
static int32_t argmax(const float *x, int64_t n) {
    int64_t best = 0;
    for (int64_t i = 1; i < n; i++)
        if (x[i] > x[best]) best = i;
    return (int32_t)best;
}

vt_status vt_gpt2_greedy(vt_gpt2 *m, const int32_t *ids, int64_t batch, int64_t T, const int32_t *lengths,
                         int64_t max_new, int32_t eos_id, int32_t *out, int64_t *n_new) {
    if (!m || !ids || !lengths || !out || batch < 1 || T < 1 || max_new < 1)
        return vt_error(VT_ERR_INVALID_ARG, "vt_gpt2_greedy: needs a model, prompts, lengths, output and positive sizes");
    int64_t longest = 0, V = m->cfg.vocab_size;
    for (int64_t b = 0; b < batch; b++) longest = lengths[b] > longest ? lengths[b] : longest;
    /* the last new token is never fed back */
    int64_t need = longest + max_new - 1;
    if (need > m->cfg.n_positions)
        return vt_error(VT_ERR_INVALID_ARG, "vt_gpt2_greedy: a prompt of %lld tokens and %lld new ones pass the model's "
                        "%lld positions", (long long)longest, (long long)max_new, (long long)m->cfg.n_positions);
    vt_gpt2_cache *c = vt_gpt2_cache_new(m, batch, need > T ? need : T);
    float *logits = malloc((size_t)(batch * V) * sizeof *logits);
    int32_t *next = malloc((size_t)batch * sizeof *next);
    bool *done = calloc((size_t)batch, sizeof *done);
    vt_status st = VT_OK;
    if (!c || !logits || !next || !done) {
        st = c ? vt_error(VT_ERR_NOMEM, "vt_gpt2_greedy: out of memory") : vt_last_status();
        goto end;
    }
    for (int64_t b = 0; b < batch; b++) {
        if (n_new) n_new[b] = 0;
        for (int64_t i = 0; i < max_new; i++) out[b * max_new + i] = -1;
    }
    st = vt_gpt2_prefill(m, c, ids, T, lengths, logits);
    for (int64_t i = 0; st == VT_OK && i < max_new; i++) {
        bool any = false;
        for (int64_t b = 0; b < batch; b++) {
            next[b] = argmax(logits + b * V, V);
            if (done[b]) continue;
            out[b * max_new + i] = next[b];
            if (n_new) n_new[b]++;
            done[b] = next[b] == eos_id;
            any |= !done[b];
        }
        if (!any || i + 1 == max_new) break;
        st = vt_gpt2_step(m, c, next, logits); /* finished sequences step on too, unread */
    }
end:
    vt_gpt2_cache_free(c);
    free(logits);
    free(next);
    free(done);
    return st;
}
