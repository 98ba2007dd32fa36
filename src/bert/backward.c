/* BERT backward: the reverse of forward.c, step by step, accumulating into
 * the gradient buffer. Scratch: dA..dD (B*T, H), dI1/dI2 (B*T, I), dQKV. */
#include <math.h>
#include <string.h>

#include "bert/bert_internal.h"
#include "verto/rng.h"

void bert_dropout_backward(const float *dy, const uint8_t *mask, float *dx, int64_t n, float rate) {
    if (rate > 0) {
        vt_dropout_backward(dy, mask, dx, n, rate);
        return;
    }
#pragma omp parallel for simd schedule(static)
    for (int64_t i = 0; i < n; i++) dx[i] += dy[i];
}

static void zero(float *p, int64_t n) { memset(p, 0, (size_t)n * sizeof(float)); }

/* Gradient of the heads' losses w.r.t. the final hidden state, into dA. */
static vt_status heads_backward(vt_bert *b, float drop) {
    const vt_bert_config *c = &b->cfg;
    const vt_bert_batch *in = &b->last;
    int64_t B = in->batch, T = in->seq_len, H = c->hidden_size, V = c->vocab_size, L = c->num_labels, BT = B * T;
    int64_t Lyr = c->num_hidden_layers;
    const float *hidden = Lyr ? b->acts[Lyr - 1].output : b->emb_out;
    float *d_hidden = b->dA;
    bool pooled_grad = false;
    vt_status st;
    zero(d_hidden, (b->last_cls_only ? B : BT) * H); /* (B, H) rows of position 0 with cls_only */
    zero(b->d_pool_a, B * H);
    if (b->w.mlm_w && in->mlm_labels && b->mlm_p) {
        int64_t P = b->mlm_p;
        if ((st = bert_linear_backward(b, b->mlm_ln, b->mlm_ln16, b->d_mlm_logits, b->w.word_emb, b->g.word_emb,
                                       b->g.mlm_bias, b->mlm_da, 0.0f, P, H, V))) /* mlm_da = d mlm_ln */
            return st;
        zero(b->mlm_db, P * H);
        vt_layernorm_backward(b->mlm_da, b->mlm_act, b->w.mlm_ln_g, b->mlm_mean, b->mlm_rstd, b->mlm_db, b->g.mlm_ln_g,
                              b->g.mlm_ln_b, P, H);
        zero(b->mlm_da, P * H);
        vt_activation_backward(c->hidden_act, b->mlm_pre, b->mlm_act, b->mlm_db, b->mlm_da, P, H);
        if ((st = bert_linear_backward(b, b->mlm_in, b->mlm_in16, b->mlm_da, b->w.mlm_w, b->g.mlm_w, b->g.mlm_b,
                                       b->mlm_db, 0.0f, P, H, H)))
            return st;
        for (int64_t i = 0; i < P; i++) {
            float *restrict dst = d_hidden + (int64_t)b->mlm_pos[i] * H;
            const float *restrict src = b->mlm_db + i * H;
            for (int64_t h = 0; h < H; h++) dst[h] += src[h];
        }
    }
    if (b->w.nsp_w && in->nsp_labels) {
        if ((st = bert_linear_backward(b, b->pooled, b->pooled16, b->d_nsp, b->w.nsp_w, b->g.nsp_w, b->g.nsp_b,
                                       b->d_pool_a, 1.0f, B, H, 2)))
            return st;
        pooled_grad = true;
    }
    if (b->w.cls_w && (in->labels || in->regression_targets)) {
        float *d_cls_in = b->cls_rows == B ? b->d_pool_b : b->dB;
        if ((st = bert_linear_backward(b, b->cls_in, b->cls_in16, b->d_logits, b->w.cls_w, b->g.cls_w, b->g.cls_b,
                                       d_cls_in, 0.0f, b->cls_rows, H, L)))
            return st;
        float rate = !b->last_training ? 0 : c->classifier_dropout >= 0 ? c->classifier_dropout : drop;
        if (c->arch == VT_BERT_FOR_TOKEN_CLASSIFICATION) {
            bert_dropout_backward(d_cls_in, b->cls_drop, d_hidden, BT * H, rate);
        } else {
            bert_dropout_backward(d_cls_in, b->cls_drop, b->d_pool_a, B * H, rate);
            pooled_grad = true;
        }
    }
    if (pooled_grad) { /* pooled = tanh(first tokens W^T + b) */
        zero(b->d_pool_b, B * H);
        vt_activation_backward(VT_ACT_TANH, NULL, b->pooled, b->d_pool_a, b->d_pool_b, B, H);
        if ((st = bert_linear_backward(b, b->pool_in, b->pool_in16, b->d_pool_b, b->w.pool_w, b->g.pool_w,
                                       b->g.pool_b, b->d_pool_a, 0.0f, B, H, H)))
            return st;
        int64_t step = b->last_cls_only ? H : T * H; /* between the sequences' rows 0 */
        for (int64_t i = 0; i < B; i++) {
            float *restrict dst = d_hidden + i * step;
            const float *restrict src = b->d_pool_a + i * H;
            for (int64_t h = 0; h < H; h++) dst[h] += src[h];
        }
    }
    (void)hidden;
    return VT_OK;
}

/* dA holds d loss / d output of layer l; leaves d loss / d input in dA.
 * cls_only (the last layer of a cls_only forward): from the output down to
 * the attention there are only the B rows of position 0, and dA comes in as
 * (B, H); the attention's keys and values, and dA going out, are all B*T rows. */
static vt_status layer_backward(vt_bert *b, int64_t l, float drop, float attn_drop, bool cls_only) {
    const vt_bert_config *c = &b->cfg;
    const vt_bert_batch *in = &b->last;
    const bert_layer_params *p = &b->w.layers[l];
    bert_layer_params *g = &b->g.layers[l];
    bert_layer_acts *a = &b->acts[l];
    int64_t H = c->hidden_size, I = c->intermediate_size, T = in->seq_len, BT = in->batch * T;
    int64_t R = cls_only ? in->batch : BT; /* rows above the attention */
    vt_status st;
    /* output = LN2(res2), res2 = h1 + drop(inter W2^T + b2) */
    zero(b->dB, R * H);
    vt_layernorm_backward(b->dA, a->res2, p->ln2_g, a->ln2_mean, a->ln2_rstd, b->dB, g->ln2_g, g->ln2_b, R, H);
    zero(b->dC, R * H);
    bert_dropout_backward(b->dB, a->drop2, b->dC, R * H, drop);
    if ((st = bert_linear_backward(b, a->inter, a->inter16, b->dC, p->out_w, g->out_w, g->out_b, b->dI1, 0.0f, R, I,
                                   H)))
        return st;
    zero(b->dI2, R * I);
    vt_activation_backward(c->hidden_act, a->inter_pre, a->inter, b->dI1, b->dI2, R, I);
    if ((st = bert_linear_backward(b, a->h1, a->h1_16, b->dI2, p->inter_w, g->inter_w, g->inter_b, b->dB, 1.0f, R, H,
                                   I))) /* dB = d h1 (residual + FFN) */
        return st;
    /* h1 = LN1(res1), res1 = x + drop(ctx Wo^T + bo) */
    float *d_res1 = cls_only ? b->dC : b->dA, *d_attn_out = cls_only ? b->dB : b->dC;
    zero(d_res1, R * H);
    vt_layernorm_backward(b->dB, a->res1, p->ln1_g, a->ln1_mean, a->ln1_rstd, d_res1, g->ln1_g, g->ln1_b, R, H);
    if (cls_only) { /* the residual reaches the input at position 0 only */
        zero(b->dA, BT * H);
        for (int64_t r = 0; r < R; r++) memcpy(b->dA + r * T * H, d_res1 + r * H, (size_t)H * sizeof(float));
    }
    zero(d_attn_out, R * H);
    bert_dropout_backward(d_res1, a->drop1, d_attn_out, R * H, drop);
    if ((st = bert_linear_backward(b, a->ctx, a->ctx16, d_attn_out, p->attn_out_w, g->attn_out_w, g->attn_out_b, b->dD,
                                   0.0f, R, H, H)))
        return st;
    zero(b->dQKV, BT * 3 * H);
    vt_attention_dims d;
    vt_attention_opts o;
    vt_attention_bf16 x16;
    bert_attention_setup(b, in, attn_drop, b->last_seed, l, &d, &o);
    if (cls_only) bert_attention_cls_only(in, H, &d);
    o.bf16 = bert_attention_bf16(b, l, &x16);
    if ((st = vt_attention_backward(&d, &o, a->qkv, a->qkv + H, a->qkv + 2 * H, a->probs, a->attn_drop, b->dD,
                                    b->dQKV, b->dQKV + H, b->dQKV + 2 * H)))
        return st;
    return bert_linear_backward(b, a->input, a->input16, b->dQKV, p->qkv_w, g->qkv_w, g->qkv_b, b->dA, 1.0f, BT, H,
                                3 * H); /* dA = d x (residual + attention) */
}

static void embeddings_backward(vt_bert *b, float drop) {
    const vt_bert_config *c = &b->cfg;
    const vt_bert_batch *in = &b->last;
    int64_t T = in->seq_len, H = c->hidden_size, BT = in->batch * T;
    zero(b->dB, BT * H);
    bert_dropout_backward(b->dA, b->emb_drop, b->dB, BT * H, drop);
    zero(b->dC, BT * H);
    vt_layernorm_backward(b->dB, b->emb_sum, b->w.emb_ln_g, b->emb_mean, b->emb_rstd, b->dC, b->g.emb_ln_g,
                          b->g.emb_ln_b, BT, H);
    vt_embedding_backward(in->input_ids, b->dC, b->g.word_emb, BT, H);
    /* Positions and types: each thread owns a slice of the hidden dimension. */
#pragma omp parallel for schedule(static)
    for (int64_t h = 0; h < H; h++) {
        for (int64_t r = 0; r < BT; r++) {
            float v = b->dC[r * H + h];
            b->g.pos_emb[(r % T) * H + h] += v;
            b->g.type_emb[(in->token_type_ids ? in->token_type_ids[r] : 0) * H + h] += v;
        }
    }
}

vt_status vt_bert_backward(vt_bert *b, bool accumulate) { return vt_bert_backward_ex(b, accumulate, NULL, NULL); }

vt_status vt_bert_backward_ex(vt_bert *b, bool accumulate, vt_bert_grad_ready_fn ready, void *ctx) {
    if (!b->planned || !b->last_has_loss)
        return vt_error(VT_ERR_STATE, "vt_bert_backward needs a forward with labels first");
    const vt_bert_config *c = &b->cfg;
    if (!accumulate) zero(b->grads, b->n_floats);
    float drop = b->last_training ? c->hidden_dropout_prob : 0;
    float attn_drop = b->last_training ? c->attention_probs_dropout_prob : 0;
    /* The flat layout (params.c): embeddings, layer 0 .. L-1, then the heads. */
    int64_t L = c->num_hidden_layers, H = c->hidden_size;
    int64_t heads_at = (L ? b->w.layers[L - 1].ln2_b : b->w.emb_ln_b) + H - b->params;
    vt_status st = heads_backward(b, drop);
    if (st != VT_OK) return st;
    if (ready && heads_at < b->n_floats) ready(ctx, heads_at, b->n_floats - heads_at);
    for (int64_t l = L - 1; l >= 0; l--) {
        if (l < b->frozen_layers) return VT_OK; /* nothing below needs gradients */
        if ((st = layer_backward(b, l, drop, attn_drop, b->last_cls_only && l == L - 1)) != VT_OK) return st;
        int64_t lo = b->w.layers[l].qkv_w - b->params, hi = l + 1 < L ? b->w.layers[l + 1].qkv_w - b->params : heads_at;
        if (ready) ready(ctx, lo, hi - lo);
    }
    if (b->frozen_layers == 0) {
        embeddings_backward(b, drop);
        if (ready) ready(ctx, 0, L ? b->w.layers[0].qkv_w - b->params : heads_at);
    }
    return VT_OK;
}
