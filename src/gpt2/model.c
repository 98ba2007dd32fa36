/* A GPT-2 step: the forward through the embeddings, the pre-LN blocks and
 * the tied lm_head with the shifted cross-entropy, and the backward in
 * reverse, composed of the blocks (src/blocks). The stack is 2L + 1 residual
 * units (gpt2_internal.h): unit k's sum is the residual stream after its
 * branch, its out (the LayerNorm of that sum) the next sublayer's input. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "gpt2/gpt2_internal.h"

#define F32(count) vt_arena_alloc(&m->arena, (size_t)(count) * sizeof(float))
#define U8(count) vt_arena_alloc(&m->arena, (size_t)(count))
#define I32(count) vt_arena_alloc(&m->arena, (size_t)(count) * sizeof(int32_t))
#define BF16(count) \
    (m->precision == VT_PRECISION_BF16 ? vt_arena_alloc(&m->arena, (size_t)(count) * sizeof(vt_bf16)) : NULL)

static int64_t max3(int64_t a, int64_t b, int64_t c) { return a > b ? (a > c ? a : c) : (b > c ? b : c); }

/* with_logits: the (B*T, V) logits and their gradient for vt_gpt2_forward;
 * without, vt_gpt2_train_step's chunk of the head's rows in their place. */
static void reserve(vt_gpt2 *m, int64_t B, int64_t T, bool with_logits) {
    const vt_gpt2_config *c = &m->cfg;
    int64_t H = c->n_embd, I = vt_gpt2_inner(c), A = c->n_head, V = c->vocab_size, L = c->n_layer, BT = B * T;
    m->pos_ids = I32(BT);
    m->zeros = F32(H);
    m->emb = F32(BT * H);
    for (int64_t k = 0; k <= 2 * L; k++) {
        bool drop = (k == 0 ? c->embd_pdrop : c->resid_pdrop) > 0;
        m->units[k] = (blk_add_norm_acts){.drop = drop ? U8(BT * H) : NULL, .sum = F32(BT * H), .mean = F32(BT),
                                          .rstd = F32(BT), .out = F32(BT * H)};
    }
    for (int64_t l = 0; l < L; l++) {
        gpt2_layer_acts *a = &m->acts[l];
        a->attn = (blk_attention_acts){.x16 = BF16(BT * H), .qkv16 = BF16(BT * 3 * H), .probs16 = BF16(B * A * T * T),
                                       .ctx16 = BF16(BT * H), .qkv = F32(BT * 3 * H), .probs = F32(B * A * T * T),
                                       .drop = c->attn_pdrop > 0 ? U8(B * A * T * T) : NULL, .ctx = F32(BT * H)};
        a->ffn = (blk_ffn_acts){.x16 = BF16(BT * H), .inter16 = BF16(BT * I), .inter_pre = F32(BT * I),
                                .inter = F32(BT * I)};
    }
    m->branch = F32(BT * H);
    m->targets = I32(BT);
    int64_t head_rows = with_logits ? BT : gpt2_head_chunk_rows(m, BT);
    m->logits = F32(head_rows * V);
    m->d_logits = with_logits ? F32(BT * V) : NULL; /* the chunk's gradient replaces its logits */
    m->hidden16 = BF16(BT * H);
    m->dy16 = BF16(max3(BT * 3 * H, BT * I, head_rows * V));
    m->d_out = F32(BT * H);
    m->d_sum = F32(BT * H);
    m->d_branch = F32(BT * H);
    m->d_ctx = F32(BT * H);
    m->d_qkv = F32(BT * 3 * H);
    m->d_inter = F32(BT * I);
    m->d_inter_pre = F32(BT * I);
    gpt2_lora_reserve(m, BT);
}

vt_status gpt2_plan(vt_gpt2 *m, int64_t batch, int64_t seq_len, bool with_logits) {
    /* a plan with the full logits serves the chunked head too */
    if (m->planned && m->plan_b == batch && m->plan_t == seq_len &&
        (m->plan_logits || (!with_logits && m->plan_chunk == m->head_chunk)))
        return VT_OK;
    int64_t L = m->cfg.n_layer;
    if (!m->units && !(m->units = calloc((size_t)(2 * L + 1), sizeof *m->units)))
        return vt_error(VT_ERR_NOMEM, "out of memory planning GPT-2 activations");
    if (!m->acts && !(m->acts = calloc((size_t)L, sizeof *m->acts)))
        return vt_error(VT_ERR_NOMEM, "out of memory planning GPT-2 activations");
    m->planned = false;
    vt_arena_begin_measure(&m->arena);
    reserve(m, batch, seq_len, with_logits);
    vt_status st = vt_arena_commit(&m->arena);
    if (st != VT_OK) return st;
    reserve(m, batch, seq_len, with_logits);
    m->plan_b = batch;
    m->plan_t = seq_len;
    m->plan_logits = with_logits;
    m->plan_chunk = m->head_chunk;
    m->planned = true;
    return VT_OK;
}

vt_status gpt2_check_batch(const vt_gpt2 *m, const vt_gpt2_batch *in) {
    const vt_gpt2_config *c = &m->cfg;
    if (!in || in->batch < 1 || in->seq_len < 1 || !in->input_ids)
        return vt_error(VT_ERR_INVALID_ARG, "a GPT-2 batch needs input_ids and positive batch and length");
    if (in->seq_len > c->n_positions)
        return vt_error(VT_ERR_INVALID_ARG, "sequence length %lld exceeds the model's %lld positions (n_positions)",
                        (long long)in->seq_len, (long long)c->n_positions);
    int64_t BT = in->batch * in->seq_len;
    for (int64_t r = 0; in->labels && r < BT; r++)
        if (in->labels[r] != GPT2_IGNORE_INDEX && (in->labels[r] < 0 || in->labels[r] >= c->vocab_size))
            return vt_error(VT_ERR_INVALID_ARG, "labels: %d at row %lld, position %lld is outside [0, %lld) and not -100",
                            in->labels[r], (long long)(r / in->seq_len), (long long)(r % in->seq_len),
                            (long long)c->vocab_size);
    return VT_OK;
}

/* Embeddings, blocks and ln_f over the batch; the hidden state is units[2L].out. */
vt_status gpt2_body_forward(vt_gpt2 *m, const vt_gpt2_batch *in, bool training, uint64_t seed) {
    const vt_gpt2_config *c = &m->cfg;
    int64_t T = in->seq_len, H = c->n_embd, BT = in->batch * T, L = c->n_layer;
    vt_status st = vt_embedding_forward(in->input_ids, m->w.wte, m->emb, BT, c->vocab_size, H);
    if (st != VT_OK) return vt_error(st, "input_ids: %s", vt_last_error());
#pragma omp parallel for schedule(static)
    for (int64_t r = 0; r < BT; r++) {
        m->pos_ids[r] = (int32_t)(r % T);
        const float *restrict pos = m->w.wpe + (r % T) * H;
        float *restrict e = m->emb + r * H;
        for (int64_t h = 0; h < H; h++) e[h] += pos[h];
    }
    memset(m->zeros, 0, (size_t)H * sizeof(float));
    if (m->lora) m->lora->seed = seed, m->lora->training = training; /* not one_product alone: no dropout then */
    blk_ctx ctx = gpt2_ctx(m, training || in->one_product);
    float resid = training ? c->resid_pdrop : 0, attn_drop = training ? c->attn_pdrop : 0;
    blk_add_norm u = gpt2_unit(m, 0, training ? c->embd_pdrop : 0, seed);
    blk_add_norm_forward(&u, m->zeros, 0, m->emb, &m->units[0], BT, H); /* ln_1 of block 0 on dropout(embeddings) */
    blk_attention_shape shape = {.batch = in->batch, .seq_len = T, .mask = in->attention_mask};
    for (int64_t l = 0; l < L; l++) {
        blk_add_norm_acts *before = &m->units[2 * l], *mid = &m->units[2 * l + 1];
        blk_attention attn = gpt2_attention(m, l, attn_drop, seed);
        blk_ffn mlp = gpt2_mlp(m, l);
        if ((st = blk_attention_forward(&ctx, &attn, &shape, before->out, &m->acts[l].attn, m->branch)) != VT_OK)
            return st;
        u = gpt2_unit(m, 2 * l + 1, resid, seed);
        blk_add_norm_forward(&u, before->sum, H, m->branch, mid, BT, H);
        if ((st = blk_ffn_forward(&ctx, &mlp, mid->out, &m->acts[l].ffn, m->branch, BT, T)) != VT_OK) return st;
        u = gpt2_unit(m, 2 * l + 2, resid, seed);
        blk_add_norm_forward(&u, mid->sum, H, m->branch, &m->units[2 * l + 2], BT, H);
    }
    return VT_OK;
}

vt_status gpt2_body(vt_gpt2 *m, const vt_gpt2_batch *in) {
    vt_status st = gpt2_check_batch(m, in);
    if (st == VT_OK) st = gpt2_plan(m, in->batch, in->seq_len, false);
    if (st != VT_OK) return st;
    gpt2_refresh_params16(m);
    m->last_has_loss = false;
    return gpt2_body_forward(m, in, false, 0);
}

blk_linear gpt2_lm_head(const vt_gpt2 *m) {
    return gpt2_dense(m, m->w.wte, NULL, m->g.wte, NULL, m->cfg.n_embd, m->cfg.vocab_size);
}

vt_status vt_gpt2_forward(vt_gpt2 *m, const vt_gpt2_batch *in, bool training, uint64_t seed, vt_gpt2_outputs *out) {
    if (!m || !out) return vt_error(VT_ERR_INVALID_ARG, "vt_gpt2_forward: no model or outputs given");
    memset(out, 0, sizeof *out);
    out->loss = NAN;
    m->last_has_loss = false;
    vt_status st = gpt2_check_batch(m, in);
    if (st == VT_OK) st = gpt2_plan(m, in->batch, in->seq_len, true);
    if (st != VT_OK) return st;
    gpt2_refresh_params16(m);
    if ((st = gpt2_body_forward(m, in, training, seed)) != VT_OK) return st;
    const vt_gpt2_config *c = &m->cfg;
    int64_t T = in->seq_len, BT = in->batch * T, V = c->vocab_size;
    const float *hidden = m->units[2 * c->n_layer].out;
    blk_ctx ctx = gpt2_ctx(m, training || in->one_product);
    blk_linear lm = gpt2_lm_head(m);
    if ((st = blk_linear_forward(&ctx, &lm, hidden, m->hidden16, m->logits, BT, T)) != VT_OK) return st;
    out->logits = m->logits;
    out->hidden = hidden;
    m->last = *in;
    m->last_training = training;
    m->last_seed = seed;
    if (!in->labels) return VT_OK;
    gpt2_shift_labels(m, in);
    double loss = 0;
    if ((st = vt_softmax_xent(m->logits, m->targets, BT, V, NULL, m->d_logits, 1.0f, &loss, &out->counted, NULL)))
        return st;
    if (!isfinite(loss)) return vt_error(VT_ERR_NUMERIC, "GPT-2 loss is %g", loss);
    out->loss = loss;
    m->last_has_loss = true;
    return VT_OK;
}

void gpt2_shift_labels(vt_gpt2 *m, const vt_gpt2_batch *in) {
    /* transformers' causal LM loss: position t predicts labels[t + 1] */
    int64_t T = in->seq_len, BT = in->batch * T;
    for (int64_t r = 0; r < BT; r++) m->targets[r] = r % T + 1 < T ? in->labels[r + 1] : GPT2_IGNORE_INDEX;
}

void gpt2_zero_grads(vt_gpt2 *m) {
    memset(m->grads, 0, (size_t)m->n_floats * sizeof(float));
    if (m->lora) memset(m->lora->grads, 0, (size_t)m->lora->n_floats * sizeof(float));
}

vt_status vt_gpt2_backward(vt_gpt2 *m, bool accumulate) {
    if (!m || !m->planned || !m->plan_logits || !m->last_has_loss)
        return vt_error(VT_ERR_STATE, "vt_gpt2_backward needs a forward with labels first");
    int64_t BT = m->last.batch * m->last.seq_len;
    if (!accumulate) gpt2_zero_grads(m);
    blk_ctx ctx = gpt2_ctx(m, true);
    blk_linear lm = gpt2_lm_head(m);
    /* d_out: the gradient of the last unit's output, the hidden state */
    vt_status st = blk_linear_backward(&ctx, &lm, m->units[2 * m->cfg.n_layer].out, m->hidden16, m->d_logits, m->d_out,
                                       0.0f, BT);
    return st == VT_OK ? gpt2_body_backward(m) : st;
}

vt_status gpt2_body_backward(vt_gpt2 *m) {
    const vt_gpt2_config *c = &m->cfg;
    const vt_gpt2_batch *in = &m->last;
    int64_t T = in->seq_len, H = c->n_embd, BT = in->batch * T, L = c->n_layer;
    size_t bytes = (size_t)(BT * H) * sizeof(float);
    bool training = m->last_training;
    float resid = training ? c->resid_pdrop : 0, attn_drop = training ? c->attn_pdrop : 0;
    uint64_t seed = m->last_seed;
    blk_ctx ctx = gpt2_ctx(m, true);
    vt_status st = VT_OK;
    memset(m->d_sum, 0, bytes); /* nothing adds to the last residual stream after it */
    blk_attention_shape shape = {.batch = in->batch, .seq_len = T, .mask = in->attention_mask};
    for (int64_t k = 2 * L; k >= 0; k--) {
        blk_add_norm u = gpt2_unit(m, k, k == 0 ? (training ? c->embd_pdrop : 0) : resid, seed);
        blk_add_norm_backward_residual(&u, &m->units[k], m->d_out, m->d_sum, m->d_branch, BT, H);
        if (k == 0) break;
        /* the branch's input is unit k - 1's output; d_sum carries on to unit k - 1's sum */
        int64_t l = (k - 1) / 2;
        const float *x = m->units[k - 1].out;
        memset(m->d_out, 0, bytes);
        if (k % 2) {
            blk_attention attn = gpt2_attention(m, l, attn_drop, seed);
            st = blk_attention_backward(&ctx, &attn, &shape, x, &m->acts[l].attn, m->d_branch, m->d_ctx, m->d_qkv,
                                        m->d_out);
        } else {
            blk_ffn mlp = gpt2_mlp(m, l);
            st = blk_ffn_backward(&ctx, &mlp, x, &m->acts[l].ffn, m->d_branch, m->d_inter, m->d_inter_pre, m->d_out, BT);
        }
        if (st != VT_OK) return st;
    }
    if (m->lora) return VT_OK; /* frozen embeddings */
    /* d_branch: the gradient of wte[ids] + wpe[positions] */
    vt_embedding_backward(in->input_ids, m->d_branch, m->g.wte, BT, H);
    vt_embedding_backward(m->pos_ids, m->d_branch, m->g.wpe, BT, H);
    return VT_OK;
}
