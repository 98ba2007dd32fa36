/* BERT's embeddings, forward and backward: emb_out (B*T, H) =
 * dropout(LayerNorm(word[ids] + position[t] + type[types])). */
#include <string.h>

#include "bert/bert_internal.h"
#include "verto/rng.h"

vt_status bert_embeddings_forward(vt_bert *b, const vt_bert_batch *in, float drop, uint64_t seed) {
    const vt_bert_config *c = &b->cfg;
    int64_t T = in->seq_len, H = c->hidden_size, BT = in->batch * T;
    vt_status st = vt_embedding_forward(in->input_ids, b->w.word_emb, b->emb_sum, BT, c->vocab_size, H);
    if (st != VT_OK) return vt_error(st, "input_ids: %s", vt_last_error());
    for (int64_t r = 0; r < BT; r++) {
        int32_t type = in->token_type_ids ? in->token_type_ids[r] : 0;
        if (type < 0 || type >= c->type_vocab_size)
            return vt_error(VT_ERR_INVALID_ARG, "token_type_ids: %d at row %lld, position %lld is outside [0, %lld)", type,
                            (long long)(r / T), (long long)(r % T), (long long)c->type_vocab_size);
    }
#pragma omp parallel for schedule(static)
    for (int64_t r = 0; r < BT; r++) {
        const float *restrict pos = b->w.pos_emb + (r % T) * H;
        const float *restrict typ = b->w.type_emb + (in->token_type_ids ? in->token_type_ids[r] : 0) * H;
        float *restrict e = b->emb_sum + r * H;
        for (int64_t h = 0; h < H; h++) e[h] += pos[h] + typ[h];
    }
    vt_layernorm_forward(b->emb_sum, b->w.emb_ln_g, b->w.emb_ln_b, b->emb_ln, b->emb_mean, b->emb_rstd, BT, H,
                         c->layer_norm_eps);
    bert_dropout_forward(b->emb_ln, b->emb_out, b->emb_drop, BT * H, drop, vt_hash64(seed, SITE_EMBEDDINGS));
    return VT_OK;
}

void bert_embeddings_backward(vt_bert *b, float drop) {
    const vt_bert_config *c = &b->cfg;
    const vt_bert_batch *in = &b->last;
    int64_t T = in->seq_len, H = c->hidden_size, BT = in->batch * T;
    float *d_ln = b->d_res, *d_sum = b->d_res1; /* LayerNorm's output and input */
    memset(d_ln, 0, (size_t)(BT * H) * sizeof(float));
    bert_dropout_backward(b->d_hidden, b->emb_drop, d_ln, BT * H, drop);
    memset(d_sum, 0, (size_t)(BT * H) * sizeof(float));
    vt_layernorm_backward(d_ln, b->emb_sum, b->w.emb_ln_g, b->emb_mean, b->emb_rstd, d_sum, b->g.emb_ln_g,
                          b->g.emb_ln_b, BT, H);
    vt_embedding_backward(in->input_ids, d_sum, b->g.word_emb, BT, H);
    /* Positions and types: each thread owns a slice of the hidden dimension. */
#pragma omp parallel for schedule(static)
    for (int64_t h = 0; h < H; h++) {
        for (int64_t r = 0; r < BT; r++) {
            float v = d_sum[r * H + h];
            b->g.pos_emb[(r % T) * H + h] += v;
            b->g.type_emb[(in->token_type_ids ? in->token_type_ids[r] : 0) * H + h] += v;
        }
    }
}
