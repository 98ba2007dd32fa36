/* Per-example squared gradient norms of a dense layer and a LayerNorm
 * without per-example gradients (DP-SGD's fast path; see blocks.h and
 * docs/privacy.md). For example i with input rows X_i (n, in) and output
 * gradient rows D_i (n, out), dW_i = D_i^T X_i and
 *   |dW_i|^2 = sum_{t,s} (x_t . x_s)(d_t . d_s)
 * (Li et al. 2022): the two n x n Gram matrices cost n^2 (in + out) against
 * n in out for forming dW_i, so each example takes the cheaper. */
#include <stdlib.h>

#include "blocks/blocks.h"

/* (blocks.h) A padded block stops at the last real token (the padding after
 * it has no gradient), rounded up to 16 so that the matrix products see few
 * distinct shapes (oneDNN caches one primitive per shape; the extra rows are
 * zeros of dy and change nothing). */
int64_t blk_example_rows(const blk_ctx *c, int64_t i, int64_t rows, int64_t *start) {
    if (c->groups) {
        *start = c->groups[i];
        return c->groups[i + 1] - c->groups[i];
    }
    if (rows == c->batch) {
        *start = i;
        return 1;
    }
    if (c->offsets) {
        *start = c->offsets[i];
        return c->offsets[i + 1] - c->offsets[i];
    }
    int64_t per = rows / c->batch;
    *start = i * per;
    if (per != c->seq_len || !c->lengths) return per;
    int64_t n = (c->lengths[i] + 15) / 16 * 16;
    return n < per ? n : per;
}

static double dot(const float *a, const float *b, int64_t n) {
    double s = 0;
    for (int64_t k = 0; k < n; k++) s += (double)a[k] * b[k];
    return s;
}

/* |sum_t d_t|^2 over n rows of width w. */
static double column_sum_sq(const float *d, int64_t n, int64_t w, double *acc) {
    for (int64_t h = 0; h < w; h++) acc[h] = 0;
    for (int64_t t = 0; t < n; t++)
        for (int64_t h = 0; h < w; h++) acc[h] += d[t * w + h];
    double s = 0;
    for (int64_t h = 0; h < w; h++) s += acc[h] * acc[h];
    return s;
}

/* Grows *buf to n floats. */
static vt_status reserve(float **buf, int64_t *cap, int64_t n) {
    if (n <= *cap) return VT_OK;
    float *p = realloc(*buf, (size_t)n * sizeof *p);
    if (!p) return vt_error(VT_ERR_NOMEM, "DP-SGD: out of memory for per-example norms");
    *buf = p;
    *cap = n;
    return VT_OK;
}

/* |D^T X|^2 of n rows: by Gram matrices or by forming it, whichever is cheaper. */
static vt_status weight_sq_norm(const float *x, const float *d, int64_t n, int64_t in, int64_t out, float **buf,
                                int64_t *cap, double *sq) {
    vt_status st;
    double s = 0;
    if (n * (in + out) < in * out) {
        if ((st = reserve(buf, cap, 2 * n * n)) != VT_OK) return st;
        float *gx = *buf, *gd = *buf + n * n; /* (n, n) each */
        if ((st = vt_matmul(x, x, NULL, gx, n, n, in, false, true, 0.0f)) != VT_OK) return st;
        if ((st = vt_matmul(d, d, NULL, gd, n, n, out, false, true, 0.0f)) != VT_OK) return st;
        s = dot(gx, gd, n * n);
    } else {
        if ((st = reserve(buf, cap, out * in)) != VT_OK) return st;
        if ((st = vt_matmul(d, x, NULL, *buf, out, in, n, true, false, 0.0f)) != VT_OK) return st; /* (out, in) */
        s = dot(*buf, *buf, out * in);
    }
    *sq = s;
    return VT_OK;
}

/* Examples run in parallel, each one's products on its thread: a product
 * per example and layer is small, and one parallel region per layer costs far
 * fewer barriers than a threaded product per example. */
vt_status blk_linear_example_norms(const blk_ctx *c, const blk_linear *l, const float *x, const float *dy,
                                   int64_t rows) {
    if (!c->sq_norm || !l->dW) return VT_OK;
    int64_t in = l->in, out = l->out;
    vt_status st = VT_OK;
#pragma omp parallel
    {
        float *buf = NULL;
        int64_t cap = 0;
        double *acc = malloc((size_t)out * sizeof *acc);
        vt_status mine = acc ? VT_OK : vt_error(VT_ERR_NOMEM, "DP-SGD: out of memory for per-example norms");
#pragma omp for schedule(dynamic)
        for (int64_t i = 0; i < c->batch; i++) {
            if (mine != VT_OK) continue;
            int64_t at, n = blk_example_rows(c, i, rows, &at);
            const float *xi = x + at * in, *di = dy + at * out;
            double w = 0;
            if (n == 1) w = dot(di, di, out) * dot(xi, xi, in);
            else mine = weight_sq_norm(xi, di, n, in, out, &buf, &cap, &w);
            c->sq_norm[i] += w + (l->db ? column_sum_sq(di, n, out, acc) : 0);
        }
        if (mine != VT_OK) {
#pragma omp critical(blk_example_norms)
            st = mine;
        }
        free(buf);
        free(acc);
    }
    return st;
}

vt_status blk_layernorm_example_norms(const blk_ctx *c, const float *d_out, const float *x, const float *mean,
                                      const float *rstd, int64_t rows, int64_t width, float *dgamma, float *dbeta) {
    if (!c->sq_norm) return VT_OK;
    bool no_memory = false;
    float *kept = NULL; /* (batch, 2 width) book-keeping: each example's two sums */
    if (c->kept && dgamma) {
        int64_t rec;
        vt_status st = blk_kept_push(c->kept, BLK_KEPT_NORM, c->batch, 2 * width, NULL, &rec);
        if (st != VT_OK) return st;
        c->kept->recs[rec].dW = dgamma, c->kept->recs[rec].db = dbeta;
        kept = blk_kept_at(c->kept, rec);
    }
#pragma omp parallel
    {
        double *dg = malloc((size_t)(2 * width) * sizeof *dg), *db = dg ? dg + width : NULL;
#pragma omp for schedule(static)
        for (int64_t i = 0; i < c->batch; i++) {
            if (!dg) continue;
            for (int64_t h = 0; h < 2 * width; h++) dg[h] = 0;
            int64_t at, n = blk_example_rows(c, i, rows, &at);
            for (int64_t t = at; t < at + n; t++) {
                const float *d = d_out + t * width, *xr = x + t * width;
                for (int64_t h = 0; h < width; h++) {
                    dg[h] += (double)d[h] * ((xr[h] - mean[t]) * rstd[t]); /* x-hat as the forward had it */
                    db[h] += d[h];
                }
            }
            double s = 0;
            for (int64_t h = 0; h < 2 * width; h++) s += dg[h] * dg[h];
            c->sq_norm[i] += s;
            if (kept)
                for (int64_t h = 0; h < 2 * width; h++) kept[i * 2 * width + h] = (float)dg[h];
        }
        if (!dg) {
#pragma omp atomic write
            no_memory = true;
        }
        free(dg);
    }
    return no_memory ? vt_error(VT_ERR_NOMEM, "DP-SGD: out of memory for per-example norms") : VT_OK;
}
