/* BERT's dense layers in the model's precision.
 *
 * Outside training the forward runs each sequence's rows on their own
 * (vt_matmul_seqwise), so that a text's outputs are the same bits whether it
 * is scored alone or in any batch; training runs one product over the batch.
 *
 * In fp32 these are plain oneDNN f32 matmuls. In bf16 the matrix products
 * take bf16 operands and accumulate in f32: the weights come from the bf16
 * copy of the parameters (refreshed by the forward when they may have
 * changed), the input is rounded into x16 (kept for the weight gradient),
 * and the output gradient is rounded into the shared dy16 scratch. The
 * attention's products take bf16 too (vt_attention_bf16), from a bf16 copy
 * of the fused Q, K, V projection. Biases,
 * outputs, gradients and everything outside the matrix products stay f32, so
 * the optimizer updates f32 master weights. */
#include "bert/bert_internal.h"

static const vt_bf16 *weight16(const vt_bert *b, const float *W) { return b->params16 + (W - b->params); }

vt_status bert_linear_forward(vt_bert *b, const float *x, vt_bf16 *x16, const float *W, const float *bias, float *y,
                              int64_t rows, int64_t seq_rows, int64_t in, int64_t out) {
    bool seqwise = seq_rows > 0 && !b->last_training; /* inference: each sequence's bits independent of the batch */
    if (b->precision == VT_PRECISION_FP32)
        return seqwise ? vt_matmul_seqwise(x, W, bias, y, rows / seq_rows, seq_rows, out, in)
                       : vt_matmul(x, W, bias, y, rows, out, in, false, true, 0.0f);
    vt_f32_to_bf16(x, x16, rows * in);
    return seqwise ? vt_matmul_seqwise_bf16(x16, weight16(b, W), bias, y, rows / seq_rows, seq_rows, out, in)
                   : vt_matmul_bf16(x16, weight16(b, W), bias, y, rows, out, in, false, true, 0.0f);
}

vt_status bert_linear_backward(vt_bert *b, const float *x, const vt_bf16 *x16, const float *dy, const float *W,
                               float *dW, float *db, float *dx, float dx_beta, int64_t rows, int64_t in, int64_t out) {
    vt_status st = VT_OK;
    if (db) vt_sum_rows(dy, db, rows, out);
    if (b->precision == VT_PRECISION_FP32) {
        if (dW) st = vt_matmul(dy, x, NULL, dW, out, in, rows, true, false, 1.0f); /* dW (out, in) += dy^T x */
        if (dx && st == VT_OK) st = vt_matmul(dy, W, NULL, dx, rows, in, out, false, false, dx_beta); /* dx = dy W */
        return st;
    }
    vt_f32_to_bf16(dy, b->dy16, rows * out);
    if (dW) st = vt_matmul_bf16(b->dy16, x16, NULL, dW, out, in, rows, true, false, 1.0f);
    if (dx && st == VT_OK) st = vt_matmul_bf16(b->dy16, weight16(b, W), NULL, dx, rows, in, out, false, false, dx_beta);
    return st;
}

void bert_refresh_params16(vt_bert *b) {
    if (b->precision == VT_PRECISION_FP32 || b->params16_fresh) return;
    vt_f32_to_bf16(b->params, b->params16, b->n_floats);
    b->params16_fresh = true;
}

const vt_attention_bf16 *bert_attention_bf16(const vt_bert *b, int64_t l, vt_attention_bf16 *storage) {
    if (b->precision == VT_PRECISION_FP32) return NULL;
    const bert_layer_acts *a = &b->acts[l];
    int64_t H = b->cfg.hidden_size;
    *storage = (vt_attention_bf16){.q = a->qkv16, .k = a->qkv16 + H, .v = a->qkv16 + 2 * H, .probs = a->probs16};
    return storage;
}
