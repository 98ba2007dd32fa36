/* The names of the explanation methods and the path integral's quadrature
 * rules, with the rules' points (see verto/explain.h). */
#include <math.h>
#include <string.h>

#include "verto/explain.h"

static const char *const METHOD[] = {"integrated-gradients", "rollout"};
static const char *const RULE[] = {"gausslegendre", "riemann_left", "riemann_right", "riemann_middle",
                                   "riemann_trapezoid"};

#define COUNT(a) ((int)(sizeof(a) / sizeof((a)[0])))

const char *vt_explain_method_name(vt_explain_method m) {
    return (int)m >= 0 && (int)m < COUNT(METHOD) ? METHOD[m] : "?";
}

bool vt_explain_method_parse(const char *name, vt_explain_method *out) {
    for (int i = 0; i < COUNT(METHOD); i++)
        if (strcmp(name, METHOD[i]) == 0) return *out = (vt_explain_method)i, true;
    return false;
}

const char *vt_ig_rule_name(vt_ig_rule r) { return (int)r >= 0 && (int)r < COUNT(RULE) ? RULE[r] : "?"; }

bool vt_ig_rule_parse(const char *name, vt_ig_rule *out) {
    for (int i = 0; i < COUNT(RULE); i++)
        if (strcmp(name, RULE[i]) == 0) return *out = (vt_ig_rule)i, true;
    return false;
}

/* Gauss-Legendre on [-1, 1]: the roots of P_n by Newton's method from
 * Tricomi's approximation, weights 2 / ((1 - x^2) P_n'(x)^2); then mapped to
 * [0, 1] (nodes (1 + x) / 2, weights halved) as Captum maps numpy's leggauss. */
static void gauss_legendre(int32_t n, double *alphas, double *weights) {
    for (int32_t i = 0; i < n; i++) {
        double x = cos(M_PI * (i + 0.75) / (n + 0.5)), dp = 1;
        for (int iter = 0; iter < 100; iter++) {
            double p0 = 1, p1 = x; /* P_0, P_1, then up to P_n by Bonnet's recursion */
            for (int32_t k = 2; k <= n; k++) {
                double p2 = ((2 * k - 1) * x * p1 - (k - 1) * p0) / k;
                p0 = p1;
                p1 = p2;
            }
            if (n == 1) p0 = 1, p1 = x;
            dp = n * (x * p1 - p0) / (x * x - 1);
            double step = p1 / dp;
            x -= step;
            if (fabs(step) < 1e-16) break;
        }
        /* numpy lists the nodes ascending; the roots above come descending */
        alphas[n - 1 - i] = 0.5 * (1 + x);
        weights[n - 1 - i] = 0.5 * 2 / ((1 - x * x) * dp * dp);
    }
}

/* torch.linspace(lo, hi, n) in float32, which Captum's Riemann rules use:
 * each point rounded to float. */
static double linspace_f32(double lo, double hi, int32_t n, int32_t i) {
    float start = (float)lo, end = (float)hi, step = (end - start) / (float)(n - 1);
    /* torch fills the first half from the start and the second from the end */
    return i < n / 2 ? (double)(start + step * (float)i) : (double)(end - step * (float)(n - 1 - i));
}

vt_status vt_ig_rule_points(vt_ig_rule rule, int32_t n, double *alphas, double *weights) {
    if (rule == VT_IG_GAUSS_LEGENDRE) {
        if (n < 1) return vt_error(VT_ERR_INVALID_ARG, "Gauss-Legendre needs at least 1 step, not %d", n);
        gauss_legendre(n, alphas, weights);
        return VT_OK;
    }
    if ((int)rule < 0 || (int)rule >= COUNT(RULE)) return vt_error(VT_ERR_INVALID_ARG, "unknown rule %d", (int)rule);
    if (n < 2) return vt_error(VT_ERR_INVALID_ARG, "%s needs at least 2 steps, not %d", RULE[rule], n);
    double lo = 0, hi = 1;
    if (rule == VT_IG_RIEMANN_LEFT) hi = 1 - 1.0 / n;
    if (rule == VT_IG_RIEMANN_RIGHT) lo = 1.0 / n;
    if (rule == VT_IG_RIEMANN_MIDDLE) lo = 1.0 / (2.0 * n), hi = 1 - 1.0 / (2.0 * n);
    for (int32_t i = 0; i < n; i++) {
        alphas[i] = linspace_f32(lo, hi, n, i);
        weights[i] = 1.0 / n;
    }
    if (rule == VT_IG_RIEMANN_TRAPEZOID) weights[0] /= 2, weights[n - 1] /= 2;
    return VT_OK;
}
