/* One post-LN encoder layer, forward and backward, composed of the blocks
 * (src/blocks): h1 = LN1(x + dropout(attention(x))), out = LN2(h1 +
 * dropout(ffn(h1))); DistilBERT has no dropout on the attention's output.
 *
 * cls_only (the last layer of a classifier's forward): the attention is asked
 * at position 0 of each sequence only (its keys and values still come from
 * every position), and everything after it has those B rows; the residual
 * reaches the layer's input at position 0 only.
 *
 * A packed batch (vt_bert_batch.offsets) has the same rows without padding:
 * sequence i's tokens are rows offsets[i] .. offsets[i+1] - 1, its first
 * token row offsets[i]. */
#include <string.h>

#include "bert/bert_internal.h"
#include "verto/rng.h"

/* Layer l's blocks, with their gradient slots and dropout seeds. */
typedef struct layer_blocks {
    blk_attention attn;
    blk_add_norm norm1, norm2;
    blk_ffn ffn;
} layer_blocks;

static layer_blocks blocks_of(const vt_bert *b, int64_t l, float drop, float attn_drop, uint64_t seed) {
    const vt_bert_config *c = &b->cfg;
    const bert_layer_params *p = &b->w.layers[l];
    bert_layer_params *g = &b->g.layers[l];
    int64_t H = c->hidden_size, I = c->intermediate_size;
    float eps = c->layer_norm_eps;
    float attn_out_drop = bert_family(c->family)->attn_output_dropout ? drop : 0; /* none in DistilBERT */
    return (layer_blocks){
        .attn = {.qkv = bert_dense(b, p->qkv_w, p->qkv_b, g->qkv_w, g->qkv_b, H, 3 * H),
                 .out = bert_dense(b, p->attn_out_w, p->attn_out_b, g->attn_out_w, g->attn_out_b, H, H),
                 .heads = c->num_attention_heads, .dropout = attn_drop, .seed = vt_hash64(seed, bert_site(l, 0))},
        .norm1 = {p->ln1_g, p->ln1_b, g->ln1_g, g->ln1_b, eps, attn_out_drop, vt_hash64(seed, bert_site(l, 1))},
        .ffn = {.up = bert_dense(b, p->inter_w, p->inter_b, g->inter_w, g->inter_b, H, I),
                .down = bert_dense(b, p->out_w, p->out_b, g->out_w, g->out_b, I, H),
                .act = c->hidden_act},
        .norm2 = {p->ln2_g, p->ln2_b, g->ln2_g, g->ln2_b, eps, drop, vt_hash64(seed, bert_site(l, 2))},
    };
}

static blk_attention_shape shape_of(const vt_bert_batch *in, bool cls_only) {
    return (blk_attention_shape){.batch = in->batch, .seq_len = in->seq_len, .mask = in->attention_mask,
                                 .queries_at_first = cls_only};
}

vt_status bert_layer_forward(vt_bert *b, int64_t l, const vt_bert_batch *in, float drop, float attn_drop,
                             uint64_t seed, bool cls_only) {
    layer_blocks k = blocks_of(b, l, drop, attn_drop, seed);
    bert_layer_acts *a = &b->acts[l];
    blk_ctx c = bert_ctx(b);
    blk_attention_shape s = shape_of(in, cls_only);
    int64_t H = b->cfg.hidden_size, T = in->seq_len;
    int64_t rows = cls_only ? in->batch : bert_token_rows(in); /* after the attention */
    int64_t seq_rows = cls_only ? 1 : in->offsets ? BLK_PACKED : T;
    vt_status st = blk_attention_forward(&c, &k.attn, &s, a->input, &a->attn, b->branch);
    if (st != VT_OK) return st;
    const float *residual = a->input; /* the rows of the attention's queries */
    int64_t residual_step = cls_only ? T * H : H;
    if (cls_only && in->offsets) { /* the first tokens gathered into d_hidden (scratch until the backward) */
        for (int64_t i = 0; i < in->batch; i++)
            memcpy(b->d_hidden + i * H, a->input + in->offsets[i] * H, (size_t)H * sizeof(float));
        residual = b->d_hidden;
        residual_step = H;
    }
    blk_add_norm_forward(&k.norm1, residual, residual_step, b->branch, &a->norm1, rows, H);
    if ((st = blk_ffn_forward(&c, &k.ffn, a->norm1.out, &a->ffn, b->branch, rows, seq_rows)) != VT_OK) return st;
    blk_add_norm_forward(&k.norm2, a->norm1.out, H, b->branch, &a->norm2, rows, H);
    return VT_OK;
}

vt_status bert_layer_backward(vt_bert *b, int64_t l, float drop, float attn_drop, bool cls_only) {
    const vt_bert_batch *in = &b->last;
    layer_blocks k = blocks_of(b, l, drop, attn_drop, b->last_seed);
    bert_layer_acts *a = &b->acts[l];
    blk_ctx c = bert_ctx(b);
    blk_attention_shape s = shape_of(in, cls_only);
    int64_t H = b->cfg.hidden_size, rows = cls_only ? in->batch : bert_token_rows(in);
    /* d_hidden: the gradient of the output (rows) */
    vt_status st = blk_add_norm_example_norms(&c, &k.norm2, &a->norm2, b->d_hidden, rows, H);
    if (st != VT_OK) return st;
    blk_add_norm_backward(&k.norm2, &a->norm2, b->d_hidden, b->d_res, b->d_branch, rows, H);
    st = blk_ffn_backward(&c, &k.ffn, a->norm1.out, &a->ffn, b->d_branch, b->d_inter, b->d_inter_pre,
                                    b->d_res, rows); /* d_res: the gradient of h1 */
    if (st != VT_OK || (st = blk_add_norm_example_norms(&c, &k.norm1, &a->norm1, b->d_res, rows, H)) != VT_OK) return st;
    blk_add_norm_backward(&k.norm1, &a->norm1, b->d_res, b->d_res1, b->d_branch, rows, H);
    /* d_hidden becomes the gradient of the input: the residual's share, then the attention's */
    if (cls_only) {
        memset(b->d_hidden, 0, (size_t)(bert_token_rows(in) * H) * sizeof(float));
        for (int64_t r = 0; r < rows; r++)
            memcpy(b->d_hidden + bert_first_row(in, r) * H, b->d_res1 + r * H, (size_t)H * sizeof(float));
    } else {
        memcpy(b->d_hidden, b->d_res1, (size_t)(rows * H) * sizeof(float));
    }
    return blk_attention_backward(&c, &k.attn, &s, a->input, &a->attn, b->d_branch, b->d_ctx, b->d_qkv, b->d_hidden);
}
