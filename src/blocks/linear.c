/* A dense layer with its bf16 shadow, forward and backward (see blocks.h).
 *
 * In fp32 these are plain oneDNN f32 matmuls. In bf16 the matrix products
 * take bf16 operands and accumulate in f32: the weights come from the model's
 * bf16 copy, the input is rounded into x16 (kept for the weight gradient),
 * and the output gradient into the step's dy16 scratch. Outside training the
 * forward runs each sequence's rows on their own (vt_matmul_seqwise, or
 * vt_matmul_packed for a packed batch's sequences of mixed lengths), so a
 * text's outputs are the same bits whether it is scored alone or in any
 * batch; training runs one product over the batch.
 *
 * In int8 (inference only) a layer with int8 weights quantizes its input per
 * row and multiplies in integers (verto/int8.h): exact integer sums, so a
 * row's result does not depend on its batch and one product serves all rows.
 * Layers without int8 weights (the classifier), and the backward (input
 * gradients for explanations), use the f32 weights: in an int8 model those
 * are the dequantized codes. */
#include <string.h>

#include "blocks/blocks.h"

static vt_status base_forward(const blk_ctx *c, const blk_linear *l, const float *x, vt_bf16 *x16, float *y,
                              int64_t rows, int64_t seq_rows) {
    /* (training: one product over all rows, packed or not) */
    bool seqwise = seq_rows > 0 && !c->training, packed = seq_rows == BLK_PACKED && !c->training;
    if (packed && !c->offsets) return vt_error(VT_ERR_INVALID_ARG, "packed rows come with their offsets");
    if (c->precision == VT_PRECISION_INT8 && l->W8) return vt_int8_linear(x, l->W8, l->b, y, rows);
    int64_t B = packed ? c->batch : 0; /* (packed: the offsets' sequences) */
    if (c->precision != VT_PRECISION_BF16) {
        if (packed) return vt_matmul_packed(x, l->W, l->b, y, B, c->offsets, l->out, l->in);
        return seqwise ? vt_matmul_seqwise(x, l->W, l->b, y, rows / seq_rows, seq_rows, l->out, l->in)
                       : vt_matmul(x, l->W, l->b, y, rows, l->out, l->in, false, true, 0.0f);
    }
    vt_f32_to_bf16(x, x16, rows * l->in);
    if (packed) return vt_matmul_packed_bf16(x16, l->W16, l->b, y, B, c->offsets, l->out, l->in);
    return seqwise ? vt_matmul_seqwise_bf16(x16, l->W16, l->b, y, rows / seq_rows, seq_rows, l->out, l->in)
                   : vt_matmul_bf16(x16, l->W16, l->b, y, rows, l->out, l->in, false, true, 0.0f);
}

vt_status blk_linear_forward(const blk_ctx *c, const blk_linear *l, const float *x, vt_bf16 *x16, float *y,
                             int64_t rows, int64_t seq_rows) {
    vt_status st = base_forward(c, l, x, x16, y, rows, seq_rows);
    return st == VT_OK && l->lora ? blk_lora_forward(c, l, x, y, rows) : st;
}

static vt_status base_backward(const blk_ctx *c, const blk_linear *l, const float *x, const vt_bf16 *x16,
                               const float *dy, float *dx, float dx_beta, int64_t rows) {
    vt_status st = blk_linear_example_norms(c, l, x, dy, rows);
    int64_t in = l->in, out = l->out;
    if (st != VT_OK) return st;
    if (c->kept && l->dW) { /* book-keeping: dy kept for (c (.) dy)^T x once the factors are known */
        int64_t rec;
        if ((st = blk_kept_push(c->kept, BLK_KEPT_DENSE, rows, out, c->groups, &rec)) != VT_OK) return st;
        blk_kept_rec *r = &c->kept->recs[rec];
        r->dW = l->dW, r->db = l->db, r->x = x, r->x16 = x16, r->in = in;
        memcpy(blk_kept_at(c->kept, rec), dy, (size_t)(rows * out) * sizeof *dy);
    }
    blk_linear no_grads = *l;
    if (c->norms_only) { /* DP's first pass: the norms and dx, no weight gradients */
        no_grads.dW = no_grads.db = NULL;
        l = &no_grads;
    }
    if (l->db) vt_sum_rows(dy, l->db, rows, out);
    if (c->precision != VT_PRECISION_BF16) {
        if (l->dW) st = vt_matmul(dy, x, NULL, l->dW, out, in, rows, true, false, 1.0f); /* dW (out, in) += dy^T x */
        if (dx && st == VT_OK) st = vt_matmul(dy, l->W, NULL, dx, rows, in, out, false, false, dx_beta); /* dy W */
        return st;
    }
    vt_f32_to_bf16(dy, c->dy16, rows * out);
    if (l->dW) st = vt_matmul_bf16(c->dy16, x16, NULL, l->dW, out, in, rows, true, false, 1.0f);
    if (dx && st == VT_OK) st = vt_matmul_bf16(c->dy16, l->W16, NULL, dx, rows, in, out, false, false, dx_beta);
    return st;
}

vt_status blk_linear_backward(const blk_ctx *c, const blk_linear *l, const float *x, const vt_bf16 *x16,
                              const float *dy, float *dx, float dx_beta, int64_t rows) {
    vt_status st = base_backward(c, l, x, x16, dy, dx, dx_beta, rows);
    return st == VT_OK && l->lora ? blk_lora_backward(c, l, x, dy, dx, rows) : st;
}
