/* A low-rank adapter's branch on a dense layer, forward and backward (see
 * blocks.h), as PEFT's lora.Linear computes it:
 *
 *   xd = dropout(x)          (rows, in)   training only
 *   u  = scale * xd A^T      (rows, r)    saved for dB
 *   y += u B^T               (rows, out)
 *
 * backward from dy (rows, out):
 *   dB += dy^T u             (out, r)
 *   du  = scale * dy B       (rows, r)
 *   dA += du^T xd            (r, in)
 *   dx += dropout'(du A)     (rows, in)
 *
 * Always f32: the adapter is small, and PEFT keeps it f32 over a bf16 base. */
#include "blocks/blocks.h"

vt_status blk_lora_forward(const blk_ctx *c, const blk_linear *l, const float *x, float *y, int64_t rows) {
    const blk_lora *a = l->lora;
    blk_lora_acts *s = l->lora_acts;
    if (rows > s->rows)
        return vt_error(VT_ERR_STATE, "LoRA branch: %lld rows exceed the %lld planned", (long long)rows, (long long)s->rows);
    s->dropped = a->dropout > 0 && s->xd; /* the model sets dropout 0 outside training */
    const float *xd = x;
    if (s->dropped) {
        vt_dropout_forward(x, s->xd, s->mask, rows * l->in, a->dropout, a->seed);
        xd = s->xd;
    }
    vt_status st = vt_matmul(xd, a->A, NULL, s->u, rows, a->rank, l->in, false, true, 0.0f);
    if (st != VT_OK) return st;
    for (int64_t i = 0; i < rows * a->rank; i++) s->u[i] *= a->scale;
    return vt_matmul(s->u, a->B, NULL, y, rows, l->out, a->rank, false, true, 1.0f);
}

vt_status blk_lora_backward(const blk_ctx *c, const blk_linear *l, const float *x, const float *dy, float *dx,
                            int64_t rows) {
    (void)c;
    const blk_lora *a = l->lora;
    blk_lora_acts *s = l->lora_acts;
    int64_t r = a->rank, in = l->in, out = l->out;
    vt_status st = VT_OK;
    if (a->dB) st = vt_matmul(dy, s->u, NULL, a->dB, out, r, rows, true, false, 1.0f); /* dy^T u */
    if (st == VT_OK) st = vt_matmul(dy, a->B, NULL, s->du, rows, r, out, false, false, 0.0f); /* dy B */
    if (st != VT_OK) return st;
    for (int64_t i = 0; i < rows * r; i++) s->du[i] *= a->scale;
    const float *xd = s->dropped ? s->xd : x;
    if (a->dA && (st = vt_matmul(s->du, xd, NULL, a->dA, r, in, rows, true, false, 1.0f)) != VT_OK) return st;
    if (!dx) return VT_OK;
    if (!s->dropped) return vt_matmul(s->du, a->A, NULL, dx, rows, in, r, false, false, 1.0f);
    if ((st = vt_matmul(s->du, a->A, NULL, s->dxd, rows, in, r, false, false, 0.0f)) != VT_OK) return st;
    vt_dropout_backward(s->dxd, s->mask, dx, rows * in, a->dropout);
    return VT_OK;
}
