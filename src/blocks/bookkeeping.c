/* DP-SGD book-keeping (Bu et al. 2023; see blocks.h): the store a
 * book-keeping backward fills, and the clipped weight gradients formed from
 * it once every example's clipping factor is known. The gradient is linear in
 * dy, so scaling example i's rows of dy by c_i before the usual products
 * gives sum_i c_i g_i for the price of one product per layer. */
#include <stdlib.h>

#include "blocks/blocks.h"

void blk_kept_clear(blk_kept *k) { k->used = k->n = 0; }

void blk_kept_free(blk_kept *k) {
    if (!k) return;
    free(k->data);
    free(k->recs);
    *k = (blk_kept){0};
}

vt_status blk_kept_push(blk_kept *k, blk_kept_kind kind, int64_t rows, int64_t width, const int64_t *groups,
                        int64_t *rec) {
    int64_t need = k->used + rows * width;
    if (need > k->cap) { /* doubling: a step after the first finds the room it needs */
        int64_t cap = k->cap ? k->cap : 1 << 20;
        while (cap < need) cap *= 2;
        float *d = realloc(k->data, (size_t)cap * sizeof *d);
        if (!d) return vt_error(VT_ERR_NOMEM, "DP-SGD book-keeping: out of memory keeping %lld floats", (long long)need);
        k->data = d, k->cap = cap;
    }
    if (k->n == k->rec_cap) {
        int64_t cap = k->rec_cap ? 2 * k->rec_cap : 64;
        blk_kept_rec *r = realloc(k->recs, (size_t)cap * sizeof *r);
        if (!r) return vt_error(VT_ERR_NOMEM, "DP-SGD book-keeping: out of memory");
        k->recs = r, k->rec_cap = cap;
    }
    k->recs[k->n] = (blk_kept_rec){.kind = kind, .at = k->used, .rows = rows, .width = width, .groups = groups};
    k->used = need;
    *rec = k->n++;
    return VT_OK;
}

/* Each example's rows of (rows, width) times its factor: its group, its row,
 * its packed rows, or its whole padded block. */
static void scale_rows(const blk_ctx *c, float *d, int64_t rows, int64_t width, const int64_t *groups,
                       const double *factor) {
    blk_ctx g = *c;
    g.groups = groups;
#pragma omp parallel for schedule(static)
    for (int64_t i = 0; i < c->batch; i++) {
        float f = (float)factor[i];
        int64_t at, n = blk_example_rows(&g, i, rows, &at);
        if (!groups && !c->offsets && rows != c->batch) n = rows / c->batch;
        if (f != 1.0f)
            for (float *restrict v = d + at * width, *end = d + (at + n) * width; v < end; v++) *v *= f;
    }
}

static vt_status dense_gradient(const blk_ctx *c, const blk_kept_rec *r, const float *dy) {
    int64_t rows = r->rows, out = r->width, in = r->in;
    if (r->db) vt_sum_rows(dy, r->db, rows, out);
    if (c->precision != VT_PRECISION_BF16) /* dW (out, in) += dy^T x */
        return vt_matmul(dy, r->x, NULL, r->dW, out, in, rows, true, false, 1.0f);
    vt_f32_to_bf16(dy, c->dy16, rows * out);
    return vt_matmul_bf16(c->dy16, r->x16, NULL, r->dW, out, in, rows, true, false, 1.0f);
}

/* dgamma += sum_i c_i kept_i[0, width), dbeta += sum_i c_i kept_i[width, 2 width). */
static void norm_gradient(const blk_kept_rec *r, const float *kept, const double *factor) {
    int64_t W = r->width / 2;
#pragma omp parallel for schedule(static)
    for (int64_t h = 0; h < W; h++) {
        double g = 0, b = 0;
        for (int64_t i = 0; i < r->rows; i++) {
            g += factor[i] * kept[i * r->width + h];
            b += factor[i] * kept[i * r->width + W + h];
        }
        r->dW[h] += (float)g;
        r->db[h] += (float)b;
    }
}

vt_status blk_kept_apply(const blk_ctx *c, blk_kept *k, const double *factor) {
    for (int64_t n = 0; n < k->n; n++) {
        const blk_kept_rec *r = &k->recs[n];
        float *d = blk_kept_at(k, n);
        if (r->kind == BLK_KEPT_NORM) {
            norm_gradient(r, d, factor);
            continue;
        }
        scale_rows(c, d, r->rows, r->width, r->groups, factor);
        if (r->kind == BLK_KEPT_DENSE) {
            vt_status st = dense_gradient(c, r, d);
            if (st != VT_OK) return st;
        }
    }
    return VT_OK;
}
