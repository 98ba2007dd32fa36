/* Regression metrics, with scikit-learn's and SciPy's definitions.
 *
 * For n targets y (y_true) and predictions p (y_pred), d = y - p:
 *   mse   mean d^2 (sklearn.metrics.mean_squared_error); rmse = sqrt(mse)
 *         (root_mean_squared_error); mae = mean |d| (mean_absolute_error)
 *   r2    1 - sum d^2 / sum (y - mean y)^2 (sklearn.metrics.r2_score): when
 *         y is constant, 1 if the predictions are exact and 0 otherwise
 *         (sklearn's force_finite=True); NaN when n < 2 (sklearn warns and
 *         returns NaN)
 *   pearson   Pearson's r (scipy.stats.pearsonr(y, p).statistic), clipped to
 *         [-1, 1]; NaN when y or p is constant (every value equal: SciPy
 *         warns and returns NaN) or n < 2 (SciPy raises there)
 *   spearman  Spearman's rho (scipy.stats.spearmanr(y, p).statistic): Pearson's r
 *         of the ranks, tied values sharing their mean rank; NaN when y or p
 *         is constant or n < 2.
 * The library prints nothing; the printers are for the CLI. */
#ifndef VERTO_REGRESSION_METRICS_H
#define VERTO_REGRESSION_METRICS_H

#include "verto/export.h"

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "verto/error.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct vt_regression_metrics {
    int64_t n;
    double mse, rmse, mae;
    double r2;        /* NaN when n < 2 */
    double pearson;   /* NaN when undefined (constant input, n < 2) */
    double spearman;  /* NaN when undefined (constant input, n < 2) */
} vt_regression_metrics;

/* Fills *out from y_true (n) and y_pred (n). Errors (VT_ERR_INVALID_ARG):
 * n == 0, NULL arrays, a value that is not finite; VT_ERR_NOMEM (ranking).
 * On failure *out is zeroed. Nothing to free. */
VT_API vt_status vt_regression_metrics_compute(const double *y_true, const double *y_pred, size_t n,
                                               vt_regression_metrics *out);

/* Pearson's r of x (n) and y (n) as above: NaN when either is constant or
 * n < 2. x and y must be finite. */
VT_API double vt_pearson(const double *x, const double *y, size_t n);

/* A readable report: examples, MSE, RMSE, MAE, R^2, Pearson, Spearman (an
 * undefined figure printed as "undefined"). */
VT_API void vt_regression_metrics_print(const vt_regression_metrics *m, FILE *out);

/* One JSON object (no newline): {"n", "mse", "rmse", "mae", "r2", "pearson",
 * "spearman"}; NaN is null; numbers read back exactly. */
VT_API void vt_regression_metrics_print_json(const vt_regression_metrics *m, FILE *out);

#ifdef __cplusplus
}
#endif
#endif
