/* The ziggurat sampler of standard normals (src/core/ziggurat.c), which
 * draws DP-SGD's noise, against the normal distribution. Statistical checks
 * on 2,000,000 draws from a fixed seed (so the outcome is fixed; the bounds
 * are what a correct sampler passes with probability > 0.999 at any seed):
 * - Kolmogorov-Smirnov: sup |F_n - Phi| <= 1.95 / sqrt(n) (p ~ 0.001);
 * - chi-square over 1,000 bins of equal probability (sensitive to a local
 *   fault, e.g. one layer's wedge): within 5 standard deviations of its mean
 *   K - 1 (standard deviation sqrt(2 (K - 1)));
 * - mean 0, variance 1 and fourth moment 3 within 5 standard errors
 *   (1 / sqrt(n), sqrt(2 / n), sqrt(96 / n));
 * - the share beyond the tail's start R = 3.654 (drawn by the tail method)
 *   and beyond 4.5, and the share below 0, within 5 binomial standard errors;
 * - the draws beyond R (about 500) against the normal's tail, P(|x| <= y |
 *   |x| > R) = 1 - Q(y) / Q(R): Kolmogorov-Smirnov within 1.95 / sqrt(count).
 * And vt_rng_fill_normal gives the same numbers as one call per draw. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "vt_test.h"

#define N 2000000
#define BINS 1000

static double phi(double x) { return 0.5 * erfc(-x / sqrt(2.0)); }

static int by_value(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double normal_cdf(double x, const double *unused) { return (void)unused, phi(x); }
/* P(|x| <= y | |x| > R) for y > R, *q_r = P(|x| > R) */
static double tail_cdf(double y, const double *q_r) { return 1 - erfc(y / sqrt(2.0)) / *q_r; }

/* sup |F_n - F| of n values (sorted here). */
static double ks_distance(double *v, int64_t n, double (*cdf)(double, const double *), const double *arg) {
    qsort(v, (size_t)n, sizeof *v, by_value);
    double d = 0;
    for (int64_t i = 0; i < n; i++) {
        double f = cdf(v[i], arg);
        d = fmax(d, fmax(fabs(f - (double)i / n), fabs((double)(i + 1) / n - f)));
    }
    return d;
}

static void share_near(const char *what, int64_t count, double p) {
    double se = sqrt(p * (1 - p) / N), got = (double)count / N;
    print_message("    %s: %.6g (expected %.6g, bound %.3g)\n", what, got, p, 5 * se);
    assert_true(fabs(got - p) <= 5 * se);
}

static void test_ziggurat_is_normal(void **state) {
    (void)state;
    double *x = malloc(N * sizeof *x);
    assert_non_null(x);
    vt_rng r;
    vt_rng_seed(&r, 20261207);
    for (int64_t i = 0; i < N; i++) x[i] = vt_rng_normal_ziggurat(&r);

    double m1 = 0, m2 = 0, m4 = 0;
    int64_t below0 = 0, tail = 0, far = 0, bins[BINS] = {0};
    const double R = 3.6541528853610088;
    for (int64_t i = 0; i < N; i++) {
        double v = x[i];
        assert_true(isfinite(v));
        m1 += v, m2 += v * v, m4 += v * v * v * v;
        below0 += v < 0, tail += fabs(v) > R, far += fabs(v) > 4.5;
        int k = (int)(phi(v) * BINS);
        bins[k < BINS ? k : BINS - 1]++;
    }
    m1 /= N, m2 /= N, m4 /= N;
    print_message("    moments: mean %.3g, variance %.6f, fourth %.5f\n", m1, m2, m4);
    assert_true(fabs(m1) <= 5 / sqrt(N));
    assert_true(fabs(m2 - 1) <= 5 * sqrt(2.0 / N));
    assert_true(fabs(m4 - 3) <= 5 * sqrt(96.0 / N));
    share_near("share below 0", below0, 0.5);
    share_near("share beyond the tail's start", tail, erfc(R / sqrt(2.0)));
    share_near("share beyond 4.5", far, erfc(4.5 / sqrt(2.0)));

    double chi2 = 0, expected = (double)N / BINS;
    for (int k = 0; k < BINS; k++) chi2 += (bins[k] - expected) * (bins[k] - expected) / expected;
    print_message("    chi-square over %d bins: %.1f (mean %d, bound %.1f)\n", BINS, chi2, BINS - 1,
                  BINS - 1 + 5 * sqrt(2.0 * (BINS - 1)));
    assert_true(fabs(chi2 - (BINS - 1)) <= 5 * sqrt(2.0 * (BINS - 1)));

    double *beyond = malloc((size_t)tail * sizeof *beyond);
    assert_non_null(beyond);
    for (int64_t i = 0, k = 0; i < N; i++)
        if (fabs(x[i]) > R) beyond[k++] = fabs(x[i]);
    double q_r = erfc(R / sqrt(2.0));
    double dt = ks_distance(beyond, tail, tail_cdf, &q_r);
    print_message("    Kolmogorov-Smirnov of the %lld draws beyond R: %.3g (bound %.3g)\n", (long long)tail, dt,
                  1.95 / sqrt((double)tail));
    assert_true(dt <= 1.95 / sqrt((double)tail));
    double d = ks_distance(x, N, normal_cdf, NULL);
    print_message("    Kolmogorov-Smirnov: %.3g (bound %.3g)\n", d, 1.95 / sqrt(N));
    assert_true(d <= 1.95 / sqrt(N));
    free(beyond);
    free(x);
}

static void test_fill_is_the_same_sequence(void **state) {
    (void)state;
    enum { M = 100003 };
    double *one = malloc(M * sizeof *one), *bulk = malloc(M * sizeof *bulk);
    assert_non_null(one);
    assert_non_null(bulk);
    vt_rng a, b;
    vt_rng_seed(&a, 7);
    vt_rng_seed(&b, 7);
    for (int64_t i = 0; i < M; i++) one[i] = vt_rng_normal_ziggurat(&a);
    vt_rng_fill_normal(&b, bulk, 1000);
    vt_rng_fill_normal(&b, bulk + 1000, M - 1000);
    assert_memory_equal(one, bulk, M * sizeof *one);
    assert_memory_equal(&a, &b, sizeof a); /* and the generator's state moved on alike */
    free(one);
    free(bulk);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ziggurat_is_normal),
        cmocka_unit_test(test_fill_is_the_same_sequence),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
