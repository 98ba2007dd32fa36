/* The activation arena of a BERT step, planned once per shape: B sequences,
 * their token rows (B*T padded, or a packed batch's total), the attention
 * probabilities' elements per head (B*T*T, or the sum of the squared
 * lengths), P masked positions. */
#include <stdlib.h>

#include "bert/bert_internal.h"

#define F32(count) vt_arena_alloc(&b->arena, (size_t)(count) * sizeof(float))
#define U8(count) vt_arena_alloc(&b->arena, (size_t)(count))
#define BF16(count) \
    (b->precision == VT_PRECISION_BF16 ? vt_arena_alloc(&b->arena, (size_t)(count) * sizeof(vt_bf16)) : NULL)
#define I32(count) vt_arena_alloc(&b->arena, (size_t)(count) * sizeof(int32_t))

static int64_t max_i64(int64_t a, int64_t b) { return a > b ? a : b; }

/* An add & norm block's saved activations over rows of width H. */
static blk_add_norm_acts add_norm_acts(vt_bert *b, int64_t rows, int64_t H, bool dropout) {
    return (blk_add_norm_acts){.drop = dropout ? U8(rows * H) : NULL, .sum = F32(rows * H), .mean = F32(rows),
                               .rstd = F32(rows), .out = F32(rows * H)};
}

static void reserve(vt_bert *b, int64_t B, int64_t BT, int64_t S, int64_t P) {
    const vt_bert_config *c = &b->cfg;
    int64_t H = c->hidden_size, I = c->intermediate_size, A = c->num_attention_heads, V = c->vocab_size;
    int64_t L = c->num_hidden_layers, labels = c->num_labels;
    bool attn_dropout = c->attention_probs_dropout_prob > 0, hidden_dropout = c->hidden_dropout_prob > 0;
    b->pos_ids = I32(BT);
    b->emb_sum = F32(BT * H);
    b->emb_mean = F32(BT);
    b->emb_rstd = F32(BT);
    b->emb_ln = F32(BT * H);
    b->emb_drop = hidden_dropout ? U8(BT * H) : NULL;
    b->emb_out = F32(BT * H);
    for (int64_t l = 0; l < L; l++) {
        bert_layer_acts *a = &b->acts[l];
        a->input = l ? b->acts[l - 1].norm2.out : b->emb_out;
        a->attn = (blk_attention_acts){.x16 = BF16(BT * H), .qkv16 = BF16(BT * 3 * H), .probs16 = BF16(A * S),
                                       .ctx16 = BF16(BT * H), .qkv = F32(BT * 3 * H), .probs = F32(A * S),
                                       .drop = attn_dropout ? U8(A * S) : NULL, .ctx = F32(BT * H)};
        a->norm1 = add_norm_acts(b, BT, H, hidden_dropout);
        a->ffn = (blk_ffn_acts){.x16 = BF16(BT * H), .inter16 = BF16(BT * I), .inter_pre = F32(BT * I),
                                .inter = F32(BT * I)};
        a->norm2 = add_norm_acts(b, BT, H, hidden_dropout);
    }
    b->branch = F32(BT * H);
    b->d_hidden = F32(BT * H);
    b->d_res = F32(BT * H);
    b->d_res1 = F32(BT * H);
    b->d_branch = F32(BT * H);
    b->d_ctx = F32(BT * H);
    b->d_inter = F32(BT * I);
    b->d_inter_pre = F32(BT * I);
    b->d_qkv = F32(BT * 3 * H);
    b->pool_in = F32(B * H);
    b->pooled = F32(B * H);
    b->pool_x = F32(B * H);
    b->pool_drop = U8(B * H);
    b->d_pooled = F32(B * H);
    b->d_pool_pre = F32(B * H);
    bool qa = c->arch == VT_BERT_FOR_QUESTION_ANSWERING;
    b->cls_rows = c->arch == VT_BERT_FOR_TOKEN_CLASSIFICATION || qa ? BT : B;
    b->cls_drop = U8(b->cls_rows * H);
    b->cls_in = F32(b->cls_rows * H);
    b->logits = F32(b->cls_rows * labels);
    b->d_logits = F32(b->cls_rows * labels);
    b->qa_start = qa ? F32(BT) : NULL;
    b->qa_end = qa ? F32(BT) : NULL;
    b->d_qa_start = qa ? F32(BT) : NULL;
    b->d_qa_end = qa ? F32(BT) : NULL;
    b->qa_targets = qa ? I32(2 * B) : NULL;
    b->mlm_pos = I32(P);
    b->mlm_targets = I32(P);
    b->mlm_groups = vt_arena_alloc(&b->arena, (size_t)(B + 1) * sizeof(int64_t));
    b->mlm_in = F32(P * H);
    b->mlm_pre = F32(P * H);
    b->mlm_act = F32(P * H);
    b->mlm_ln = F32(P * H);
    b->mlm_mean = F32(P);
    b->mlm_rstd = F32(P);
    b->d_mlm_ln = F32(P * H);
    b->d_mlm_act = F32(P * H);
    b->d_mlm_pre = F32(P * H);
    b->d_mlm_in = F32(P * H);
    b->mlm_logits = F32(P * V);
    b->d_mlm_logits = F32(P * V);
    b->nsp_logits = F32(B * 2);
    b->d_nsp = F32(B * 2);
    b->mlm_in16 = BF16(P * H);
    b->mlm_ln16 = BF16(P * H);
    b->pool_in16 = BF16(B * H);
    b->pooled16 = BF16(B * H);
    b->cls_in16 = BF16(b->cls_rows * H);
    int64_t widest = 3 * H > I ? 3 * H : I; /* dy16 holds the largest output gradient of a dense layer */
    b->dy16 = BF16(max_i64(max_i64(BT * widest, P * V), b->cls_rows * (labels > H ? labels : H)));
}

vt_status bert_plan_rows(vt_bert *b, int64_t batch, int64_t rows, int64_t probs, int64_t mlm_positions) {
    if (b->planned && b->plan_b == batch && b->plan_rows == rows && b->plan_probs == probs &&
        b->plan_p == mlm_positions)
        return VT_OK;
    if (!b->acts && !(b->acts = calloc((size_t)b->cfg.num_hidden_layers + 1, sizeof *b->acts)))
        return vt_error(VT_ERR_NOMEM, "out of memory planning BERT activations");
    b->planned = false;
    vt_arena_begin_measure(&b->arena);
    reserve(b, batch, rows, probs, mlm_positions);
    vt_status st = vt_arena_commit(&b->arena);
    if (st != VT_OK) return st;
    reserve(b, batch, rows, probs, mlm_positions);
    b->plan_b = batch;
    b->plan_rows = rows;
    b->plan_probs = probs;
    b->plan_p = mlm_positions;
    b->planned = true;
    return VT_OK;
}

vt_status bert_plan(vt_bert *b, int64_t batch, int64_t seq_len, int64_t mlm_positions) {
    return bert_plan_rows(b, batch, batch * seq_len, batch * seq_len * seq_len, mlm_positions);
}
