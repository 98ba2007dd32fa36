/* L2 logistic regression on sparse rows, as scikit-learn's lbfgs solver
 * poses it (LinearModelLoss): mean(log-loss) + lambda/2 ||W||^2 with
 * lambda = 1 / (C n), intercepts not penalised; binary (HalfBinomialLoss:
 * log(1 + e^z) - y z) or multinomial (HalfMultinomialLoss: logsumexp(z) - z_y). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "baseline/baseline_internal.h"

typedef struct lr_ctx {
    const bl_csr *X;    /* (n, V) */
    int Kp;             /* outputs */
    const double *y01;  /* (n) binary targets, or NULL */
    const int32_t *y;   /* (n) class ids (multinomial), or NULL */
    double lambda;
    double *z;          /* (n, Kp) decision values, then the residuals */
} lr_ctx;

static double softplus(double z) { return z > 0 ? z + log1p(exp(-z)) : log1p(exp(z)); }
static double sigmoid(double z) { return z >= 0 ? 1 / (1 + exp(-z)) : exp(z) / (1 + exp(z)); }

/* The loss of row i from its decision values zi (Kp), which become the
 * residuals d loss / d z. */
static double row_loss(const lr_ctx *c, int64_t i, double *zi) {
    if (c->Kp == 1) {
        double z = zi[0], y = c->y01[i];
        zi[0] = sigmoid(z) - y;
        return softplus(z) - y * z;
    }
    double m = zi[0], sum = 0;
    for (int k = 1; k < c->Kp; k++) m = fmax(m, zi[k]);
    for (int k = 0; k < c->Kp; k++) sum += exp(zi[k] - m);
    double lse = m + log(sum), loss = lse - zi[c->y[i]];
    for (int k = 0; k < c->Kp; k++) zi[k] = exp(zi[k] - lse) - (k == c->y[i]);
    return loss;
}

static double objective(void *ctx, const double *theta, double *g) {
    const lr_ctx *c = ctx;
    const bl_csr *X = c->X;
    int64_t V = X->cols, n = X->n;
    int Kp = c->Kp;
    const double *W = theta, *b = theta + (size_t)Kp * (size_t)V;
    double loss = 0;
#pragma omp parallel for schedule(static) reduction(+ : loss)
    for (int64_t i = 0; i < n; i++) {
        double *zi = c->z + (size_t)i * (size_t)Kp;
        for (int k = 0; k < Kp; k++) {
            const double *w = W + (size_t)k * (size_t)V;
            double s = b[k];
            for (int64_t p = X->row[i]; p < X->row[i + 1]; p++) s += X->val[p] * w[X->col[p]];
            zi[k] = s;
        }
        loss += row_loss(c, i, zi);
    }
    double *gW = g, *gb = g + (size_t)Kp * (size_t)V, sq = 0;
    for (size_t j = 0; j < (size_t)Kp * (size_t)V; j++) {
        sq += W[j] * W[j];
        gW[j] = c->lambda * W[j];
    }
    for (int k = 0; k < Kp; k++) gb[k] = 0;
    double inv_n = 1.0 / (double)n;
    for (int64_t i = 0; i < n; i++) /* X^T R / n, scattered row by row */
        for (int k = 0; k < Kp; k++) {
            double r = c->z[(size_t)i * (size_t)Kp + (size_t)k] * inv_n;
            double *gw = gW + (size_t)k * (size_t)V;
            gb[k] += r;
            for (int64_t p = X->row[i]; p < X->row[i + 1]; p++) gw[X->col[p]] += r * X->val[p];
        }
    return loss * inv_n + 0.5 * c->lambda * sq;
}

vt_status bl_logreg_fit(const bl_csr *X, int Kp, const double *y01, const int32_t *y, double C, double tol,
                        int64_t max_iter, double *theta, bl_lbfgs_result *r) {
    if (X->n < 1 || Kp < 1 || !(C > 0) || (Kp == 1 ? !y01 : !y))
        return vt_error(VT_ERR_INVALID_ARG, "logistic regression: rows, outputs, targets and C > 0 are needed");
    lr_ctx c = {.X = X, .Kp = Kp, .y01 = y01, .y = y, .lambda = 1 / (C * (double)X->n)};
    c.z = malloc((size_t)X->n * (size_t)Kp * sizeof *c.z);
    if (!c.z) return vt_error(VT_ERR_NOMEM, "out of memory for %lld rows", (long long)X->n);
    size_t n_params = (size_t)Kp * (size_t)X->cols + (size_t)Kp;
    vt_status st = bl_lbfgs(objective, &c, theta, n_params, tol, max_iter, r);
    free(c.z);
    return st;
}
