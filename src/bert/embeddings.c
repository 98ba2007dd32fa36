/* The embeddings, forward and backward: emb_out (B*T, H) =
 * dropout(LayerNorm(word[ids] + position[pos_ids] + type[types])), the type
 * term absent without token types (DistilBERT). A token's position is t, or
 * for RoBERTa padding_idx + the count of non-pad tokens up to it (padding_idx
 * at a pad token). As nn.Embedding with padding_idx, the word embeddings'
 * pad row (and RoBERTa's positions') receives no gradient from the lookup. */
#include <string.h>

#include "bert/bert_internal.h"
#include "verto/rng.h"

/* Sequence s's first row and length: s*T and T, or a packed batch's. */
static void sequence_rows(const vt_bert_batch *in, int64_t s, int64_t *start, int64_t *len) {
    *start = in->offsets ? in->offsets[s] : s * in->seq_len;
    *len = in->offsets ? in->offsets[s + 1] - *start : in->seq_len;
}

/* Row r's sequence and position in it (for messages). */
static void locate(const vt_bert_batch *in, int64_t r, long long *seq, long long *pos) {
    int64_t s = in->offsets ? 0 : r / in->seq_len, start, len;
    for (; in->offsets && r >= in->offsets[s + 1]; s++) {}
    sequence_rows(in, s, &start, &len);
    *seq = (long long)s;
    *pos = (long long)(r - start);
}

/* pos (rows): transformers' create_position_ids_from_input_ids for RoBERTa
 * (from the ids, not the attention mask), else 0 .. T-1 in each sequence. */
static vt_status position_ids(const vt_bert *b, const vt_bert_batch *in, int32_t *pos) {
    const vt_bert_config *c = &b->cfg;
    if (in->position_ids) { /* (never packed) */
        for (int64_t r = 0; r < bert_token_rows(in); r++) {
            long long s, t;
            locate(in, r, &s, &t);
            if (in->position_ids[r] < 0 || in->position_ids[r] >= c->max_position_embeddings)
                return vt_error(VT_ERR_INVALID_ARG, "position_ids: %d at row %lld, position %lld is outside [0, %lld)",
                                in->position_ids[r], s, t, (long long)c->max_position_embeddings);
            pos[r] = in->position_ids[r];
        }
        return VT_OK;
    }
    bool after_padding = bert_family(c->family)->positions_after_padding;
    for (int64_t s = 0; s < in->batch; s++) {
        int32_t count = 0;
        int64_t start, T;
        sequence_rows(in, s, &start, &T);
        for (int64_t t = 0; t < T; t++) {
            int64_t r = start + t;
            bool real = in->input_ids[r] != c->pad_token_id;
            count += real;
            pos[r] = after_padding ? (int32_t)(c->pad_token_id + (real ? count : 0)) : (int32_t)t;
            if (pos[r] >= c->max_position_embeddings) /* (the batch check keeps T within reach) */
                return vt_error(VT_ERR_INVALID_ARG, "position %d of row %lld is outside the %lld position embeddings",
                                pos[r], (long long)s, (long long)c->max_position_embeddings);
        }
    }
    return VT_OK;
}

vt_status bert_embeddings_forward(vt_bert *b, const vt_bert_batch *in, float drop, uint64_t seed) {
    const vt_bert_config *c = &b->cfg;
    int64_t H = c->hidden_size, BT = bert_token_rows(in);
    const int32_t *types = c->type_vocab_size > 0 ? in->token_type_ids : NULL; /* ignored without token types */
    if (in->embedding_output) { /* given: nothing to compute (and nothing to learn below it) */
        memcpy(b->emb_out, in->embedding_output, (size_t)(BT * H) * sizeof(float));
        return position_ids(b, in, b->pos_ids);
    }
    vt_status st = vt_embedding_forward(in->input_ids, b->w.word_emb, b->emb_sum, BT, c->vocab_size, H);
    if (st != VT_OK) return vt_error(st, "input_ids: %s", vt_last_error());
    for (int64_t r = 0; types && r < BT; r++)
        if (types[r] < 0 || types[r] >= c->type_vocab_size) {
            long long s, t;
            locate(in, r, &s, &t);
            return vt_error(VT_ERR_INVALID_ARG, "token_type_ids: %d at row %lld, position %lld is outside [0, %lld)",
                            types[r], s, t, (long long)c->type_vocab_size);
        }
    if ((st = position_ids(b, in, b->pos_ids)) != VT_OK) return st;
    const float *type_emb = b->w.type_emb; /* NULL without token types */
#pragma omp parallel for schedule(static)
    for (int64_t r = 0; r < BT; r++) {
        const float *restrict pos = b->w.pos_emb + (int64_t)b->pos_ids[r] * H;
        float *restrict e = b->emb_sum + r * H;
        for (int64_t h = 0; h < H; h++) e[h] += pos[h];
        if (type_emb) {
            const float *restrict typ = type_emb + (types ? types[r] : 0) * H;
            for (int64_t h = 0; h < H; h++) e[h] += typ[h];
        }
    }
    vt_layernorm_forward(b->emb_sum, b->w.emb_ln_g, b->w.emb_ln_b, b->emb_ln, b->emb_mean, b->emb_rstd, BT, H,
                         c->layer_norm_eps);
    bert_dropout_forward(b->emb_ln, b->emb_out, b->emb_drop, BT * H, drop, vt_hash64(seed, SITE_EMBEDDINGS));
    return VT_OK;
}

/* The tables' gradients (+=) from d_sum (B*T, H), the gradient of word + position + type. */
void bert_embeddings_tables_backward(vt_bert *b, const float *d_sum) {
    const vt_bert_config *c = &b->cfg;
    const vt_bert_batch *in = &b->last;
    int64_t H = c->hidden_size, BT = bert_token_rows(in);
    int64_t pad = c->pad_token_id; /* -1 when there is none */
    vt_embedding_backward_padded(in->input_ids, pad, d_sum, b->g.word_emb, BT, H);
    int64_t pos_pad = bert_family(c->family)->positions_after_padding ? pad : -1;
    vt_embedding_backward_padded(b->pos_ids, pos_pad, d_sum, b->g.pos_emb, BT, H);
    const int32_t *types = c->type_vocab_size > 0 ? in->token_type_ids : NULL;
    if (b->g.type_emb && types) vt_embedding_backward(types, d_sum, b->g.type_emb, BT, H);
    else if (b->g.type_emb) vt_sum_rows(d_sum, b->g.type_emb, BT, H); /* every token type 0 */
}

vt_status bert_embeddings_backward(vt_bert *b, float drop) {
    const vt_bert_config *c = &b->cfg;
    const vt_bert_batch *in = &b->last;
    int64_t H = c->hidden_size, BT = bert_token_rows(in);
    float *d_ln = b->d_res, *d_sum = b->d_res1; /* LayerNorm's output and input */
    memset(d_ln, 0, (size_t)(BT * H) * sizeof(float));
    bert_dropout_backward(b->d_hidden, b->emb_drop, d_ln, BT * H, drop);
    blk_ctx ctx = bert_ctx(b);
    vt_status st = blk_layernorm_example_norms(&ctx, d_ln, b->emb_sum, b->emb_mean, b->emb_rstd, BT, H,
                                               b->g.emb_ln_g, b->g.emb_ln_b);
    if (st != VT_OK) return st;
    memset(d_sum, 0, (size_t)(BT * H) * sizeof(float));
    vt_layernorm_backward(d_ln, b->emb_sum, b->w.emb_ln_g, b->emb_mean, b->emb_rstd, d_sum, b->g.emb_ln_g,
                          b->g.emb_ln_b, BT, H);
    if (ctx.sq_norm) {
        bert_embeddings_example_norms(b, d_sum);
        if (!ctx.kept) return VT_OK; /* the norms alone (the tables' gradients are a later pass's) */
        /* book-keeping: d_sum kept, scaled row by row and scattered once the factors are known */
        if ((st = blk_kept_push(ctx.kept, BLK_KEPT_ROWS, BT, H, NULL, &b->kept_emb)) != VT_OK) return st;
        memcpy(blk_kept_at(ctx.kept, b->kept_emb), d_sum, (size_t)(BT * H) * sizeof *d_sum);
        return VT_OK;
    }
    bert_embeddings_tables_backward(b, d_sum);
    return VT_OK;
}
