/* Multi-head self-attention over a fused query/key/value projection,
 * forward and backward (see blocks.h). */
#include <math.h>
#include <string.h>

#include "blocks/blocks.h"

/* The attention kernel's view of a call; bf16 receives the bf16 operands. */
static void setup(const blk_ctx *c, const blk_attention *at, const blk_attention_shape *s,
                  const blk_attention_acts *a, vt_attention_dims *d, vt_attention_opts *o, vt_attention_bf16 *bf16) {
    int64_t H = at->out.out, dk = H / at->heads, T = s->seq_len;
    bool packed = c->offsets != NULL; /* (queries at their sequences' offsets) */
    *d = (vt_attention_dims){.batch = s->batch, .q_len = s->queries_at_first ? 1 : T, .kv_len = T,
                             .heads = at->heads, .key_dim = dk, .value_dim = dk,
                             .q_stride = s->queries_at_first && !packed ? T * 3 * H : 3 * H, /* the queries' rows */
                             .k_stride = 3 * H, .v_stride = 3 * H, .out_stride = H, .offsets = c->offsets};
    if (packed && !s->queries_at_first) d->q_len = 0; /* (every token asks) */
    *o = (vt_attention_opts){.scale = 1.0f / sqrtf((float)dk), .causal = at->causal,
                             .mask_kind = s->mask && !packed ? VT_MASK_KEYS : VT_MASK_NONE,
                             .mask = packed ? NULL : s->mask,
                             .dropout_rate = at->dropout, .dropout_seed = at->seed};
    if (c->precision == VT_PRECISION_BF16) {
        *bf16 = (vt_attention_bf16){.q = a->qkv16, .k = a->qkv16 + H, .v = a->qkv16 + 2 * H, .probs = a->probs16};
        o->bf16 = bf16;
    }
}

vt_status blk_attention_forward(const blk_ctx *c, const blk_attention *at, const blk_attention_shape *s,
                                const float *x, const blk_attention_acts *a, float *y) {
    int64_t H = at->out.out, BT = c->offsets ? c->offsets[s->batch] : s->batch * s->seq_len;
    int64_t seq_rows = c->offsets ? BLK_PACKED : s->seq_len;
    vt_status st = blk_linear_forward(c, &at->qkv, x, a->x16, a->qkv, BT, seq_rows);
    if (st != VT_OK) return st;
    vt_attention_dims d;
    vt_attention_opts o;
    vt_attention_bf16 bf16;
    setup(c, at, s, a, &d, &o, &bf16);
    if (o.bf16) vt_f32_to_bf16(a->qkv, a->qkv16, BT * 3 * H);
    if ((st = vt_attention_forward(&d, &o, a->qkv, a->qkv + H, a->qkv + 2 * H, a->probs, a->drop, a->ctx))) return st;
    if (c->offsets) /* every token's row, or each sequence's first */
        return blk_linear_forward(c, &at->out, a->ctx, a->ctx16, y, d.q_len == 1 ? s->batch : BT,
                                  d.q_len == 1 ? 1 : BLK_PACKED);
    int64_t rows = s->batch * d.q_len;
    return blk_linear_forward(c, &at->out, a->ctx, a->ctx16, y, rows, d.q_len);
}

vt_status blk_attention_backward(const blk_ctx *c, const blk_attention *at, const blk_attention_shape *s,
                                 const float *x, const blk_attention_acts *a, const float *dy, float *d_ctx,
                                 float *d_qkv, float *dx) {
    int64_t H = at->out.out, BT = c->offsets ? c->offsets[s->batch] : s->batch * s->seq_len;
    vt_attention_dims d;
    vt_attention_opts o;
    vt_attention_bf16 bf16;
    setup(c, at, s, a, &d, &o, &bf16);
    int64_t out_rows = d.q_len == 1 ? s->batch : c->offsets ? BT : s->batch * d.q_len; /* the queries' */
    vt_status st = blk_linear_backward(c, &at->out, a->ctx, a->ctx16, dy, d_ctx, 0.0f, out_rows);
    if (st != VT_OK) return st;
    memset(d_qkv, 0, (size_t)(BT * 3 * H) * sizeof(float));
    if ((st = vt_attention_backward(&d, &o, a->qkv, a->qkv + H, a->qkv + 2 * H, a->probs, a->drop, d_ctx, d_qkv,
                                    d_qkv + H, d_qkv + 2 * H)))
        return st;
    return blk_linear_backward(c, &at->qkv, x, a->x16, d_qkv, dx, 1.0f, BT);
}
