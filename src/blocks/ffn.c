/* The feed-forward network, y = act(x W1^T + b1) W2^T + b2, forward and
 * backward (see blocks.h). */
#include <string.h>

#include "blocks/blocks.h"

vt_status blk_ffn_forward(const blk_ctx *c, const blk_ffn *f, const float *x, const blk_ffn_acts *a, float *y,
                          int64_t rows, int64_t seq_rows) {
    vt_status st = blk_linear_forward(c, &f->up, x, a->x16, a->inter_pre, rows, seq_rows);
    if (st != VT_OK) return st;
    vt_activation_forward(f->act, a->inter_pre, a->inter, rows, f->up.out);
    return blk_linear_forward(c, &f->down, a->inter, a->inter16, y, rows, seq_rows);
}

vt_status blk_ffn_backward(const blk_ctx *c, const blk_ffn *f, const float *x, const blk_ffn_acts *a, const float *dy,
                           float *d_inter, float *d_inter_pre, float *dx, int64_t rows) {
    int64_t I = f->up.out;
    vt_status st = blk_linear_backward(c, &f->down, a->inter, a->inter16, dy, d_inter, 0.0f, rows);
    if (st != VT_OK) return st;
    memset(d_inter_pre, 0, (size_t)(rows * I) * sizeof(float));
    vt_activation_backward(f->act, a->inter_pre, a->inter, d_inter, d_inter_pre, rows, I);
    return blk_linear_backward(c, &f->up, x, a->x16, d_inter_pre, dx, 1.0f, rows);
}
