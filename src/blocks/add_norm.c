/* Residual add and LayerNorm, out = LN(x + dropout(branch)), forward and
 * backward (see blocks.h). */
#include <string.h>

#include "blocks/blocks.h"

void blk_add_norm_forward(const blk_add_norm *n, const float *x, int64_t x_step, float *branch,
                          const blk_add_norm_acts *a, int64_t rows, int64_t width) {
    if (n->dropout > 0) vt_dropout_forward(branch, branch, a->drop, rows * width, n->dropout, n->seed);
#pragma omp parallel for schedule(static)
    for (int64_t r = 0; r < rows; r++) {
        const float *restrict xr = x + r * x_step, *restrict br = branch + r * width;
        float *restrict s = a->sum + r * width;
#pragma omp simd
        for (int64_t h = 0; h < width; h++) s[h] = xr[h] + br[h];
    }
    vt_layernorm_forward(a->sum, n->gamma, n->beta, a->out, a->mean, a->rstd, rows, width, n->eps);
}

void blk_add_norm_backward(const blk_add_norm *n, const blk_add_norm_acts *a, const float *d_out, float *d_sum,
                           float *d_branch, int64_t rows, int64_t width) {
    memset(d_sum, 0, (size_t)(rows * width) * sizeof(float));
    blk_add_norm_backward_residual(n, a, d_out, d_sum, d_branch, rows, width);
}

void blk_add_norm_backward_residual(const blk_add_norm *n, const blk_add_norm_acts *a, const float *d_out,
                                    float *d_sum, float *d_branch, int64_t rows, int64_t width) {
    vt_layernorm_backward(d_out, a->sum, n->gamma, a->mean, a->rstd, d_sum, n->dgamma, n->dbeta, rows, width);
    if (n->dropout > 0) {
        memset(d_branch, 0, (size_t)(rows * width) * sizeof(float));
        vt_dropout_backward(d_sum, a->drop, d_branch, rows * width, n->dropout);
    } else {
        memcpy(d_branch, d_sum, (size_t)(rows * width) * sizeof(float));
    }
}

vt_status blk_add_norm_example_norms(const blk_ctx *c, const blk_add_norm *n, const blk_add_norm_acts *a,
                                     const float *d_out, int64_t rows, int64_t width) {
    if (!n->dgamma) return VT_OK;
    return blk_layernorm_example_norms(c, d_out, a->sum, a->mean, a->rstd, rows, width, n->dgamma, n->dbeta);
}
