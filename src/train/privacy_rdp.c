/* Rényi DP of the sampled Gaussian mechanism and its conversion to (ε, δ).
 *
 * For one step with sample rate q and noise multiplier σ, the RDP at order α is
 * log(A_α) / (α - 1), where A_α is the α-th moment of the ratio of the mixture
 * (1 - q) N(0, σ²) + q N(1, σ²) to N(0, σ²) (Mironov, Talwar and Zhang 2019,
 * section 3.3). For integer α it is a finite binomial sum; for fractional α an
 * infinite series split at z0 = σ² log(1/q - 1) + 1/2 into two Gaussian tail
 * integrals, summed until both new terms fall below e^-30. Everything is summed
 * in log space. The order of evaluation follows Opacus 1.6 so that ε agrees to
 * rounding. */
#include <math.h>
#include <stdbool.h>

#include "verto/privacy.h"

/* A term below e^-30 in both halves ends the fractional series (Opacus' rule). */
#define SERIES_CUTOFF (-30.0)
/* More terms than any valid input needs: a safety stop, never reached in tests. */
#define SERIES_MAX_TERMS 1000000
#define MAX_ORDER 10000.0

/* 1 + k/10, folded by the compiler with the same IEEE rounding as Python's 1 + k / 10.0 */
#define TENTH(k) (1.0 + (k) / 10.0)
#define TENTHS(t) TENTH(t##0), TENTH(t##1), TENTH(t##2), TENTH(t##3), TENTH(t##4), TENTH(t##5), TENTH(t##6), \
                  TENTH(t##7), TENTH(t##8), TENTH(t##9)
static const double DEFAULT_ORDERS[VT_PRIVACY_N_ORDERS] = {
    TENTH(1), TENTH(2), TENTH(3), TENTH(4), TENTH(5), TENTH(6), TENTH(7), TENTH(8), TENTH(9),
    TENTHS(1), TENTHS(2), TENTHS(3), TENTHS(4), TENTHS(5), TENTHS(6), TENTHS(7), TENTHS(8), TENTHS(9),
    12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31, 32, 33, 34, 35, 36, 37,
    38, 39, 40, 41, 42, 43, 44, 45, 46, 47, 48, 49, 50, 51, 52, 53, 54, 55, 56, 57, 58, 59, 60, 61, 62, 63,
};

const double *vt_privacy_default_orders(void) { return DEFAULT_ORDERS; }

/* log(e^x + e^y). */
static double log_add(double x, double y) {
    double lo = x < y ? x : y, hi = x < y ? y : x;
    if (lo == -INFINITY) return hi;
    return log1p(exp(lo - hi)) + hi;
}

/* log(e^x - e^y) for x >= y; false when x < y (the difference would be negative). */
static bool log_sub(double x, double y, double *out) {
    if (x < y) return false;
    if (y == -INFINITY) *out = x;
    else if (x == y) *out = -INFINITY;
    else {
        double e = expm1(x - y);
        *out = isinf(e) ? x : log(e) + y; /* e^(x-y) overflowing: the difference is e^x to rounding */
    }
    return true;
}

/* log Φ(z), the standard normal's log CDF, accurate far into the lower tail
 * where Φ itself underflows. */
static double log_normal_cdf(double z) {
    if (z > 6) return log1p(-0.5 * erfc(z / M_SQRT2));
    if (z > -20) return log(0.5 * erfc(-z / M_SQRT2));
    /* Φ(z) = φ(z)/(-z) · (1 - 1/z² + 3/z⁴ - 15/z⁶ + ...); at z <= -20 twelve terms
       leave an error below 1e-19. */
    double z2 = z * z, term = 1.0, sum = 1.0;
    for (int k = 1; k <= 12; k++) {
        term *= -(2.0 * k - 1.0) / z2;
        sum += term;
    }
    return -0.5 * z2 - log(-z) - 0.5 * log(2 * M_PI) + log(sum);
}

/* binom(n, k) for real n and integer k >= 0. For integer n and for k < 20 the
 * product of (n - k + m) / m over m = 1..k (for integer n the shorter side),
 * rescaled before it overflows; for fractional n and larger k the product's
 * partial values outgrow a double, so Γ(n + 1) / (Γ(k + 1) Γ(n - k + 1)) in
 * log space, with the signs of the two Γ whose arguments can be negative. */
static double binomial(double n, int64_t k) {
    bool integer_n = n == floor(n);
    if (integer_n && n > 0 && (double)k > n / 2) k = (int64_t)n - k;
    if (k < 0) return 0.0;
    if (!integer_n && k >= 20) {
        int sign_top, sign_bottom;
        double log_top = lgamma_r(n + 1, &sign_top);
        double log_bottom = lgamma_r(n - (double)k + 1, &sign_bottom);
        return sign_top * sign_bottom * exp(log_top - lgamma((double)k + 1) - log_bottom);
    }
    double num = 1.0, den = 1.0;
    for (int64_t m = 1; m <= k; m++) {
        num *= (double)m + n - (double)k;
        den *= (double)m;
        if (fabs(num) > 1e50) {
            num /= den;
            den = 1.0;
        }
    }
    return num / den;
}

/* log A_α for integer α: Σ_i binom(α, i) q^i (1-q)^(α-i) e^((i² - i) / (2σ²)). */
static double log_a_integer(double q, double sigma, int64_t alpha) {
    double log_a = -INFINITY;
    for (int64_t i = 0; i <= alpha; i++) {
        double di = (double)i;
        double log_term = log(binomial((double)alpha, i)) + di * log(q) + (double)(alpha - i) * log(1 - q);
        log_a = log_add(log_a, log_term + (di * di - di) / (2 * (sigma * sigma)));
    }
    return log_a;
}

/* log A_α for fractional α: the two tails, each a signed series in i (binom(α, i)
 * changes sign once i > α). */
static vt_status log_a_fractional(double q, double sigma, double alpha, double *out) {
    double log_a0 = -INFINITY, log_a1 = -INFINITY;
    double s2 = sigma * sigma;
    double z0 = s2 * log(1 / q - 1) + 0.5;
    for (int64_t i = 0;; i++) {
        if (i >= SERIES_MAX_TERMS)
            return vt_error(VT_ERR_NUMERIC, "privacy accountant: the RDP series at order %g (q = %g, noise %g) "
                            "did not converge in %d terms", alpha, q, sigma, SERIES_MAX_TERMS);
        double di = (double)i, j = alpha - di;
        double coef = binomial(alpha, i);
        double log_coef = log(fabs(coef));
        double log_t0 = log_coef + di * log(q) + j * log(1 - q);
        double log_t1 = log_coef + j * log(q) + di * log(1 - q);
        double log_s0 = log_t0 + (di * di - di) / (2 * s2) + log_normal_cdf((z0 - di) / sigma);
        double log_s1 = log_t1 + (j * j - j) / (2 * s2) + log_normal_cdf((j - z0) / sigma);
        if (isnan(log_s0) || isnan(log_s1))
            return vt_error(VT_ERR_NUMERIC, "privacy accountant: the RDP series at order %g (q = %g, noise %g) "
                            "is not a number at term %lld", alpha, q, sigma, (long long)i);
        if (coef > 0) {
            log_a0 = log_add(log_a0, log_s0);
            log_a1 = log_add(log_a1, log_s1);
        } else if (!log_sub(log_a0, log_s0, &log_a0) || !log_sub(log_a1, log_s1, &log_a1)) {
            return vt_error(VT_ERR_NUMERIC, "privacy accountant: the RDP series at order %g (q = %g, noise %g) "
                            "went negative in floating point", alpha, q, sigma);
        }
        if (fmax(log_s0, log_s1) < SERIES_CUTOFF) break;
    }
    *out = log_add(log_a0, log_a1);
    return VT_OK;
}

vt_status vt_privacy_rdp(double sample_rate, double noise_multiplier, double order, double *rdp) {
    if (!rdp) return vt_error(VT_ERR_INVALID_ARG, "vt_privacy_rdp: NULL output");
    if (!(sample_rate >= 0 && sample_rate <= 1))
        return vt_error(VT_ERR_INVALID_ARG, "privacy accountant: sample rate %g is not in [0, 1]", sample_rate);
    if (!(noise_multiplier >= 0 && isfinite(noise_multiplier)))
        return vt_error(VT_ERR_INVALID_ARG, "privacy accountant: noise multiplier %g is not a finite number >= 0",
                        noise_multiplier);
    double variance = noise_multiplier * noise_multiplier;
    if (noise_multiplier > 0 && !(variance > 0 && isfinite(variance)))
        return vt_error(VT_ERR_INVALID_ARG, "privacy accountant: noise multiplier %g has no finite, non-zero square "
                        "in double precision", noise_multiplier);
    if (!(order > 1 && order <= MAX_ORDER))
        return vt_error(VT_ERR_INVALID_ARG, "privacy accountant: RDP order %g is not in (1, %g]", order, MAX_ORDER);
    if (sample_rate == 0) {
        *rdp = 0.0; /* never sampled: nothing spent, whatever the noise */
    } else if (noise_multiplier == 0) {
        *rdp = INFINITY;
    } else if (sample_rate == 1) {
        *rdp = order / (2 * (noise_multiplier * noise_multiplier)); /* the plain Gaussian mechanism */
    } else if (order == floor(order)) {
        *rdp = log_a_integer(sample_rate, noise_multiplier, (int64_t)order) / (order - 1);
    } else {
        double log_a = NAN;
        vt_status st = log_a_fractional(sample_rate, noise_multiplier, order, &log_a);
        if (st != VT_OK) return st;
        *rdp = log_a / (order - 1);
    }
    return VT_OK;
}

vt_status vt_privacy_epsilon_from_rdp(const double *orders, const double *rdp, size_t n, double delta,
                                      vt_privacy_spent *out) {
    if (!orders || !rdp || !out || n == 0)
        return vt_error(VT_ERR_INVALID_ARG, "vt_privacy_epsilon_from_rdp: NULL or empty arguments");
    if (!(delta > 0 && delta < 1))
        return vt_error(VT_ERR_INVALID_ARG, "privacy accountant: delta %g is not in (0, 1)", delta);
    for (size_t i = 0; i < n; i++)
        if (!(orders[i] > 1 && isfinite(orders[i])))
            return vt_error(VT_ERR_INVALID_ARG, "privacy accountant: order %g is not a finite number > 1", orders[i]);
    size_t best = n;
    double best_eps = NAN;
    for (size_t i = 0; i < n; i++) {
        double a = orders[i];
        /* Balle et al. 2020, Theorem 21 */
        double eps = rdp[i] - (log(delta) + log(a)) / (a - 1) + log((a - 1) / a);
        if (isnan(eps)) continue;
        if (best == n || eps < best_eps) {
            best = i;
            best_eps = eps;
        }
    }
    if (best == n) {
        *out = (vt_privacy_spent){.epsilon = INFINITY, .best_order = NAN, .order_at_edge = false};
    } else {
        *out = (vt_privacy_spent){.epsilon = best_eps, .best_order = orders[best],
                                  .order_at_edge = best == 0 || best == n - 1};
    }
    return VT_OK;
}
