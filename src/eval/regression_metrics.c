/* Regression metrics (see verto/regression_metrics.h). */
#include "verto/regression_metrics.h"

#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "core/format.h"
#include "eval/ranks.h"

static bool constant(const double *x, size_t n) {
    for (size_t i = 1; i < n; i++)
        if (x[i] != x[0]) return false;
    return true;
}

static double mean(const double *x, size_t n) {
    double s = 0;
    for (size_t i = 0; i < n; i++) s += x[i];
    return s / (double)n;
}

static double max_abs_dev(const double *x, size_t n, double m) {
    double a = 0;
    for (size_t i = 0; i < n; i++) a = fmax(a, fabs(x[i] - m));
    return a;
}

double vt_pearson(const double *x, const double *y, size_t n) {
    if (n < 2 || constant(x, n) || constant(y, n)) return NAN;
    double mx = mean(x, n), my = mean(y, n);
    /* deviations scaled by their largest magnitude (as SciPy does) so that the
       sums of squares cannot overflow */
    double ax = max_abs_dev(x, n, mx), ay = max_abs_dev(y, n, my);
    double sxx = 0, syy = 0, sxy = 0;
    for (size_t i = 0; i < n; i++) {
        double dx = (x[i] - mx) / ax, dy = (y[i] - my) / ay;
        sxx += dx * dx;
        syy += dy * dy;
        sxy += dx * dy;
    }
    double r = sxy / (sqrt(sxx) * sqrt(syy));
    return r > 1 ? 1 : r < -1 ? -1 : r;
}

static vt_status spearman(const double *x, const double *y, size_t n, double *rho) {
    *rho = NAN;
    if (n < 2 || constant(x, n) || constant(y, n)) return VT_OK;
    double *rx = malloc(n * sizeof *rx), *ry = malloc(n * sizeof *ry);
    vt_status st = rx && ry ? VT_OK : vt_error(VT_ERR_NOMEM, "out of memory for Spearman's correlation");
    if (st == VT_OK) st = vt_average_ranks(x, n, rx);
    if (st == VT_OK) st = vt_average_ranks(y, n, ry);
    if (st == VT_OK) *rho = vt_pearson(rx, ry, n);
    free(rx);
    free(ry);
    return st;
}

vt_status vt_regression_metrics_compute(const double *y_true, const double *y_pred, size_t n,
                                        vt_regression_metrics *out) {
    memset(out, 0, sizeof *out);
    if (!n || !y_true || !y_pred) return vt_error(VT_ERR_INVALID_ARG, "regression metrics of no examples");
    for (size_t i = 0; i < n; i++)
        if (!isfinite(y_true[i]) || !isfinite(y_pred[i]))
            return vt_error(VT_ERR_INVALID_ARG, "regression metrics: example %zu: %s is not finite", i,
                            isfinite(y_true[i]) ? "the prediction" : "the target");
    double se = 0, ae = 0;
    for (size_t i = 0; i < n; i++) {
        double d = y_true[i] - y_pred[i];
        se += d * d;
        ae += fabs(d);
    }
    out->n = (int64_t)n;
    out->mse = se / (double)n;
    out->rmse = sqrt(out->mse);
    out->mae = ae / (double)n;
    out->r2 = NAN;
    if (n >= 2) {
        double m = mean(y_true, n), ss = 0;
        for (size_t i = 0; i < n; i++) ss += (y_true[i] - m) * (y_true[i] - m);
        out->r2 = ss != 0 ? 1 - se / ss : se == 0 ? 1.0 : 0.0;
    }
    out->pearson = vt_pearson(y_true, y_pred, n);
    vt_status st = spearman(y_true, y_pred, n, &out->spearman);
    if (st != VT_OK) memset(out, 0, sizeof *out);
    return st;
}

void vt_regression_metrics_print_json(const vt_regression_metrics *m, FILE *out) {
    const struct { const char *key; double v; } F[] = {
        {"mse", m->mse}, {"rmse", m->rmse}, {"mae", m->mae}, {"r2", m->r2}, {"pearson", m->pearson}, {"spearman", m->spearman},
    };
    fprintf(out, "{\"n\": %lld", (long long)m->n);
    for (size_t i = 0; i < sizeof F / sizeof F[0]; i++) {
        fprintf(out, ", \"%s\": ", F[i].key);
        vt_print_json_number(out, F[i].v);
    }
    fputc('}', out);
}

void vt_regression_metrics_print(const vt_regression_metrics *m, FILE *out) {
    const struct { const char *name; double v; } F[] = {
        {"MSE", m->mse}, {"RMSE", m->rmse}, {"MAE", m->mae}, {"R^2", m->r2}, {"Pearson r", m->pearson}, {"Spearman rho", m->spearman},
    };
    fprintf(out, "examples: %lld\n", (long long)m->n);
    for (size_t i = 0; i < sizeof F / sizeof F[0]; i++) {
        if (isnan(F[i].v)) fprintf(out, "%-13s undefined\n", F[i].name);
        else fprintf(out, "%-13s %.6g\n", F[i].name, F[i].v);
    }
}
