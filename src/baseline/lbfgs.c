/* Limited-memory BFGS (Nocedal & Wright, algorithm 7.4: the two-loop
 * recursion over the last 10 steps) with a line search for the weak Wolfe
 * conditions by expansion and bisection (Lewis & Overton), which keeps every
 * stored pair's curvature s.y positive. Written here rather than taken from
 * Debian's liblbfgs, whose upstream has had no release since 2010. */
#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "baseline/baseline_internal.h"

enum { PAIRS = 10, MAX_LINE_STEPS = 50 };
static const double C1 = 1e-4, C2 = 0.9; /* sufficient decrease, curvature */

static double dot(const double *a, const double *b, size_t n) {
    double s = 0;
    for (size_t i = 0; i < n; i++) s += a[i] * b[i];
    return s;
}

static double max_abs(const double *a, size_t n) {
    double m = 0;
    for (size_t i = 0; i < n; i++) m = fmax(m, fabs(a[i]));
    return m;
}

/* d = -H g by the two-loop recursion over the stored pairs (oldest first
 * at ring position head - count). */
static void direction(const double *g, size_t n, const double *S, const double *Y, const double *rho, int head,
                      int count, double *alpha, double *d) {
    for (size_t i = 0; i < n; i++) d[i] = -g[i];
    for (int j = 0; j < count; j++) {
        int p = (head - 1 - j + PAIRS) % PAIRS;
        alpha[p] = rho[p] * dot(S + (size_t)p * n, d, n);
        const double *y = Y + (size_t)p * n;
        for (size_t i = 0; i < n; i++) d[i] -= alpha[p] * y[i];
    }
    if (count) { /* H0 = (s.y / y.y) I of the newest pair */
        int p = (head - 1 + PAIRS) % PAIRS;
        const double *y = Y + (size_t)p * n;
        double gamma = 1 / (rho[p] * dot(y, y, n));
        for (size_t i = 0; i < n; i++) d[i] *= gamma;
    }
    for (int j = count - 1; j >= 0; j--) {
        int p = (head - 1 - j + PAIRS) % PAIRS;
        double beta = rho[p] * dot(Y + (size_t)p * n, d, n);
        const double *s = S + (size_t)p * n;
        for (size_t i = 0; i < n; i++) d[i] += s[i] * (alpha[p] - beta);
    }
}

vt_status bl_lbfgs(bl_objective f, void *ctx, double *x, size_t n, double tol, int64_t max_iter, bl_lbfgs_result *r) {
    memset(r, 0, sizeof *r);
    double *buf = malloc((4 + 2 * (size_t)PAIRS) * n * sizeof *buf);
    if (!buf) return vt_error(VT_ERR_NOMEM, "out of memory for %zu parameters", n);
    double *g = buf, *d = g + n, *xn = d + n, *gn = xn + n, *S = gn + n, *Y = S + PAIRS * n;
    double rho[PAIRS], alpha[PAIRS];
    int head = 0, count = 0;
    vt_status st = VT_OK;
    double fx = f(ctx, x, g);
    if (!isfinite(fx)) st = vt_error(VT_ERR_NUMERIC, "the loss is not finite at the start");
    while (st == VT_OK) {
        if (max_abs(g, n) <= tol) {
            r->converged = true;
            break;
        }
        if (r->iterations >= max_iter) break;
        direction(g, n, S, Y, rho, head, count, alpha, d);
        double gd = dot(g, d, n);
        if (!(gd < 0)) { /* not a descent direction (rounding): start the memory again */
            count = 0;
            direction(g, n, S, Y, rho, head, 0, alpha, d);
            gd = dot(g, d, n);
        }
        double t = count ? 1 : fmin(1, 1 / sqrt(dot(g, g, n))), lo = 0, hi = INFINITY, fn = NAN;
        bool found = false;
        for (int k = 0; k < MAX_LINE_STEPS && !found; k++) {
            for (size_t i = 0; i < n; i++) xn[i] = x[i] + t * d[i];
            fn = f(ctx, xn, gn);
            if (!isfinite(fn) || fn > fx + C1 * t * gd) hi = t;
            else if (dot(gn, d, n) < C2 * gd) lo = t;
            else found = true;
            if (!found) t = isinf(hi) ? 2 * t : (lo + hi) / 2;
        }
        if (!found) break; /* no step improves at this precision: as far as it goes */
        r->iterations++;
        double *s = S + (size_t)head * n, *y = Y + (size_t)head * n;
        for (size_t i = 0; i < n; i++) s[i] = xn[i] - x[i], y[i] = gn[i] - g[i];
        double sy = dot(s, y, n);
        if (sy > 0) { /* the Wolfe step guarantees it, up to rounding */
            rho[head] = 1 / sy;
            head = (head + 1) % PAIRS;
            count += count < PAIRS;
        }
        double change = (fx - fn) / fmax(fmax(fabs(fx), fabs(fn)), 1);
        memcpy(x, xn, n * sizeof *x);
        memcpy(g, gn, n * sizeof *g);
        fx = fn;
        if (change <= 64 * DBL_EPSILON) { /* SciPy's ftol as scikit-learn sets it */
            r->converged = true;
            break;
        }
    }
    r->f = fx;
    r->max_grad = max_abs(g, n);
    free(buf);
    return st;
}
