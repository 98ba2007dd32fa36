/* Multi-label and regression metrics: hand-computed cases, and scikit-learn's
 * and SciPy's figures on random data (tests/ref/gen_mlreg_metrics.py).
 *
 * Tolerance 1e-9 (absolute; every figure is at most ~1 in size except MSE /
 * MAE, compared relative to their size): the same formulas in double
 * precision, summed in a different order (numpy sums pairwise, verto left to
 * right; SciPy normalises before its dot product, verto after), which moves
 * the last few bits. The worst difference seen is printed. The threshold
 * search must give the reference's threshold exactly (same doubles, same
 * operations). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "verto/multilabel_metrics.h"
#include "verto/regression_metrics.h"
#include "vt_test.h"

static double worst; /* largest difference seen against the references */

static void near(const char *what, double got, double want, double tol) {
    if (isnan(want) || isnan(got)) {
        if (!(isnan(want) && isnan(got))) fail_msg("%s: got %.17g, want %.17g", what, got, want);
        return;
    }
    double scale = fabs(want) > 1 ? fabs(want) : 1, d = fabs(got - want) / scale;
    if (d > worst) worst = d;
    if (!(d <= tol)) fail_msg("%s: got %.17g, want %.17g (difference %.3g > %.1g)", what, got, want, d, tol);
}

/* ---- hand-computed ------------------------------------------------------- */

static void test_multilabel_hand(void **state) {
    (void)state;
    /* 3 examples, 3 labels, threshold 0.5:
         truth  000 / 100 / 011        predicted 000 / 110 / 000
       per label: 0: tp1 fp0 fn0 -> 1 1 1; 1: tp0 fp1 fn1 -> 0 0 0; 2: tp0 fp0 fn1 -> 0 0 0
       micro: tp1 P2 T3 -> P .5, R 1/3, F1 2/5; macro 1/3 each; weighted (support 1 1 1) 1/3
       samples: row 0 has no true and no predicted label: 0 (zero_division=0); row 1: P .5 R 1
       F1 2/3; row 2: 0 0 0 -> P 1/6, R 1/3, F1 2/9; subset accuracy 1/3 (row 0); Hamming 3/9 */
    const uint8_t y[] = {0, 0, 0, 1, 0, 0, 0, 1, 1};
    const double s[] = {0.1, 0.2, 0.3, 0.9, 0.5, 0.4, 0.2, 0.45, 0.1};
    vt_multilabel_metrics m;
    assert_int_equal(vt_multilabel_metrics_compute(y, s, 3, 3, 0.5, &m), VT_OK);
    near("micro P", m.micro_precision, 0.5, 1e-15);
    near("micro R", m.micro_recall, 1.0 / 3, 1e-15);
    near("micro F1", m.micro_f1, 0.4, 1e-15);
    near("macro F1", m.macro_f1, 1.0 / 3, 1e-15);
    near("weighted F1", m.weighted_f1, 1.0 / 3, 1e-15);
    near("samples P", m.samples_precision, 1.0 / 6, 1e-15);
    near("samples R", m.samples_recall, 1.0 / 3, 1e-15);
    near("samples F1", m.samples_f1, 2.0 / 9, 1e-15);
    near("subset accuracy", m.subset_accuracy, 1.0 / 3, 1e-15);
    near("Hamming loss", m.hamming_loss, 1.0 / 3, 1e-15);
    assert_int_equal(m.per_label[1].predicted, 1);
    assert_int_equal(m.per_label[2].support, 1);
    /* label 0: its positive (0.9) above both negatives -> 1; label 1: its positive (0.45) above
       0.2, below 0.5 -> 1/2; label 2: its positive (0.1) below both (0.3, 0.4) -> 0 */
    near("auc label 0", m.roc_auc[0], 1.0, 1e-15);
    near("auc label 1", m.roc_auc[1], 0.5, 1e-15);
    near("auc label 2", m.roc_auc[2], 0.0, 1e-15);
    near("auc macro", m.roc_auc_macro, 0.5, 1e-15);
    vt_multilabel_metrics_free(&m);
    assert_null(m.per_label);

    /* threshold search: scores 0.9(+) 0.8(-) 0.8(+) 0.3(+) 0.1(-); T = 3
       >= 0.9: tp1 P1 -> 2/4; >= 0.8: tp2 P3 -> 4/6; >= 0.3: tp3 P4 -> 6/7; >= 0.1: tp3 P5 -> 6/8
       best 6/7 at v = 0.3, next lower 0.1 -> threshold 0.2 */
    const uint8_t y1[] = {1, 0, 1, 1, 0};
    const double s1[] = {0.9, 0.8, 0.8, 0.3, 0.1};
    double t, f1;
    assert_int_equal(vt_multilabel_best_threshold(y1, s1, 5, 1, &t, &f1), VT_OK);
    assert_true(t == 0.3 / 2 + 0.1 / 2);
    near("best f1", f1, 6.0 / 7, 1e-15);
    /* T = 3: >= .95 tp1 P1 -> 2/4; >= .9 -> 2/5; >= .85 -> 2/6; >= .7 -> 4/7; >= .6 -> 6/8;
       >= .5 -> 6/9; >= .05 -> 6/10: best 6/8 at 0.6 -> halfway to 0.5 */
    const uint8_t y2[] = {1, 0, 0, 1, 1, 0, 0};
    const double s2[] = {0.95, 0.9, 0.85, 0.7, 0.6, 0.5, 0.05};
    assert_int_equal(vt_multilabel_best_threshold(y2, s2, 7, 1, &t, &f1), VT_OK);
    assert_true(t == 0.6 / 2 + 0.5 / 2);
    /* a tie: .9(+) .8(-) .7(-) .6(+), T = 2: >= .9 -> 2/3, >= .8 -> 2/4, >= .7 -> 2/5, >= .6 -> 4/6 = 2/3:
       the larger threshold wins (fewer predicted labels), halfway between .9 and .8 */
    const uint8_t y4[] = {1, 0, 0, 1};
    const double s4[] = {0.9, 0.8, 0.7, 0.6};
    assert_int_equal(vt_multilabel_best_threshold(y4, s4, 4, 1, &t, &f1), VT_OK);
    assert_true(t == 0.9 / 2 + 0.8 / 2);
    near("tied f1", f1, 2.0 / 3, 1e-15);
    /* no true label: predict nothing, just above the top score */
    const uint8_t none[] = {0, 0, 0, 0};
    assert_int_equal(vt_multilabel_best_threshold(none, s4, 2, 2, &t, &f1), VT_OK);
    assert_true(t > 0.9 && t == nextafter(0.9, 1));
    assert_true(f1 == 0);
    /* adjacent doubles: the halfway point would round onto the lower one */
    const uint8_t y5[] = {1, 0};
    const double s5[] = {nextafter(0.5, 1), 0.5};
    assert_int_equal(vt_multilabel_best_threshold(y5, s5, 2, 1, &t, &f1), VT_OK);
    assert_true(t > 0.5 && t == s5[0]);

    /* refusals leave the output empty */
    const double bad[] = {0.1, NAN};
    assert_int_equal(vt_multilabel_metrics_compute(y5, bad, 1, 2, 0.5, &m), VT_ERR_INVALID_ARG);
    assert_non_null(strstr(vt_last_error(), "example 0, label 1 is not finite"));
    assert_null(m.per_label);
    assert_int_equal(vt_multilabel_metrics_compute(y5, s5, 1, 2, INFINITY, &m), VT_ERR_INVALID_ARG);
    assert_int_equal(vt_multilabel_metrics_compute(y5, s5, 0, 2, 0.5, &m), VT_ERR_INVALID_ARG);
    assert_int_equal(vt_multilabel_metrics_compute(y5, s5, 1, 0, 0.5, &m), VT_ERR_INVALID_ARG);
    assert_int_equal(vt_multilabel_best_threshold(y5, bad, 1, 2, &t, NULL), VT_ERR_INVALID_ARG);
    assert_true(isnan(t));
}

static void test_regression_hand(void **state) {
    (void)state;
    /* y 1 2 3 4, p 2 2 2 6: d -1 0 1 -2 -> MSE 6/4, MAE 4/4; mean y 2.5, SS 5 -> R2 1 - 6/5 */
    const double y[] = {1, 2, 3, 4}, p[] = {2, 2, 2, 6};
    vt_regression_metrics m;
    assert_int_equal(vt_regression_metrics_compute(y, p, 4, &m), VT_OK);
    near("mse", m.mse, 1.5, 1e-15);
    near("rmse", m.rmse, sqrt(1.5), 1e-15);
    near("mae", m.mae, 1.0, 1e-15);
    near("r2", m.r2, -0.2, 1e-15);
    /* p centred -1 -1 -1 3, y centred -1.5 -.5 .5 1.5: sxy 1.5+.5-.5+4.5 = 6, sxx 5, spp 12 -> 6/sqrt(60);
       ranks of p 2 2 2 4 (ties averaged; centred: p's halved), of y 1 2 3 4 -> Spearman = Pearson here */
    near("pearson", m.pearson, 6 / sqrt(60.0), 1e-15);
    near("spearman", m.spearman, 6 / sqrt(60.0), 1e-15);
    /* edge cases: constant predictions, one example */
    const double c[] = {3, 3, 3, 3};
    assert_int_equal(vt_regression_metrics_compute(y, c, 4, &m), VT_OK);
    assert_true(isnan(m.pearson) && isnan(m.spearman));
    assert_int_equal(vt_regression_metrics_compute(c, y, 4, &m), VT_OK);
    assert_true(m.r2 == 0.0); /* constant truth, inexact predictions */
    assert_int_equal(vt_regression_metrics_compute(c, c, 4, &m), VT_OK);
    assert_true(m.r2 == 1.0 && m.mse == 0);
    assert_int_equal(vt_regression_metrics_compute(y, p, 1, &m), VT_OK);
    assert_true(m.mse == 1.0 && isnan(m.r2) && isnan(m.pearson) && isnan(m.spearman));
    const double big[] = {1e300, -1e300, 5e299}, big2[] = {-1e300, 1e300, 0};
    assert_true(vt_pearson(big, big2, 3) < -0.9); /* no overflow in the sums */
    const double bad[] = {1, NAN};
    assert_int_equal(vt_regression_metrics_compute(y, bad, 2, &m), VT_ERR_INVALID_ARG);
    assert_non_null(strstr(vt_last_error(), "example 1: the prediction is not finite"));
    assert_int_equal(m.n, 0);
    assert_int_equal(vt_regression_metrics_compute(y, p, 0, &m), VT_ERR_INVALID_ARG);
}

/* ---- against scikit-learn / SciPy --------------------------------------- */

static const vt_st_tensor *ref_tensor(const vt_st_file *f, const char *c, const char *field, vt_st_dtype dtype) {
    char name[128];
    snprintf(name, sizeof name, "%s.%s", c, field);
    const vt_st_tensor *t = vt_st_find(f, name);
    if (!t || t->dtype != dtype) fail_msg("reference tensor %s missing or of another dtype", name);
    return t;
}

static const double *ref_doubles(const vt_st_file *f, const char *c, const char *field, int64_t want_numel) {
    const vt_st_tensor *t = ref_tensor(f, c, field, VT_ST_F64);
    if (want_numel >= 0 && t->numel != want_numel) fail_msg("%s.%s: %lld values", c, field, (long long)t->numel);
    return (const double *)t->data; /* safetensors data offsets are 8-aligned in files written by safetensors */
}

static double ref_one(const vt_st_file *f, const char *c, const char *field) { return ref_doubles(f, c, field, 1)[0]; }

static int ref_count(const vt_st_file *f, const char *name) {
    int32_t *k = ref_i32(f, name, NULL), n = k[0];
    free(k);
    return n;
}

static void check_multilabel(const vt_st_file *f, const char *c) {
    const vt_st_tensor *ty = ref_tensor(f, c, "y_true", VT_ST_U8);
    assert_int_equal(ty->ndim, 2);
    size_t n = (size_t)ty->shape[0], L = (size_t)ty->shape[1];
    const uint8_t *y = ty->data;
    const double *s = ref_doubles(f, c, "score", (int64_t)(n * L));
    double threshold = ref_one(f, c, "threshold");
    vt_multilabel_metrics m;
    if (vt_multilabel_metrics_compute(y, s, n, (int)L, threshold, &m) != VT_OK) fail_msg("%s: %s", c, vt_last_error());
    const double tol = 1e-9;
    char what[96];
#define SCALAR(field)                                                   \
    do {                                                                \
        snprintf(what, sizeof what, "%s.%s", c, #field);                \
        near(what, m.field, ref_one(f, c, #field), tol);                \
    } while (0)
    SCALAR(subset_accuracy);
    SCALAR(hamming_loss);
    SCALAR(micro_precision); SCALAR(micro_recall); SCALAR(micro_f1);
    SCALAR(macro_precision); SCALAR(macro_recall); SCALAR(macro_f1);
    SCALAR(weighted_precision); SCALAR(weighted_recall); SCALAR(weighted_f1);
    SCALAR(samples_precision); SCALAR(samples_recall); SCALAR(samples_f1);
    SCALAR(roc_auc_micro); SCALAR(roc_auc_macro);
#undef SCALAR
    const double *P = ref_doubles(f, c, "precision", (int64_t)L), *R = ref_doubles(f, c, "recall", (int64_t)L),
                 *F = ref_doubles(f, c, "f1", (int64_t)L), *S = ref_doubles(f, c, "support", (int64_t)L),
                 *A = ref_doubles(f, c, "roc_auc", (int64_t)L);
    for (size_t j = 0; j < L; j++) {
        snprintf(what, sizeof what, "%s label %zu", c, j);
        near(what, m.per_label[j].precision, P[j], tol);
        near(what, m.per_label[j].recall, R[j], tol);
        near(what, m.per_label[j].f1, F[j], tol);
        near(what, m.roc_auc[j], A[j], tol);
        assert_int_equal(m.per_label[j].support, (int64_t)S[j]);
    }
    double t, best;
    if (vt_multilabel_best_threshold(y, s, n, (int)L, &t, &best) != VT_OK) fail_msg("%s: %s", c, vt_last_error());
    double want_t = ref_one(f, c, "best_threshold");
    if (t != want_t) fail_msg("%s: best threshold %.17g, want %.17g", c, t, want_t);
    snprintf(what, sizeof what, "%s best micro F1", c);
    near(what, best, ref_one(f, c, "best_f1"), tol);
    printf("  %s: n %zu, L %zu, t %.3g: micro F1 %.4f samples F1 %.4f AUC %.4f; best t %.4g -> F1 %.4f\n", c, n, L,
           threshold, m.micro_f1, m.samples_f1, m.roc_auc_micro, t, best);
    vt_multilabel_metrics_free(&m);
}

static void check_regression(const vt_st_file *f, const char *c) {
    const vt_st_tensor *ty = ref_tensor(f, c, "y_true", VT_ST_F64);
    size_t n = (size_t)ty->numel;
    const double *y = ty->data, *p = ref_doubles(f, c, "y_pred", (int64_t)n);
    vt_regression_metrics m;
    if (vt_regression_metrics_compute(y, p, n, &m) != VT_OK) fail_msg("%s: %s", c, vt_last_error());
    const double tol = 1e-9;
    char what[96];
    static const char *const FIELDS[] = {"mse", "rmse", "mae", "r2", "pearson", "spearman"};
    const double got[] = {m.mse, m.rmse, m.mae, m.r2, m.pearson, m.spearman};
    for (int k = 0; k < 6; k++) {
        snprintf(what, sizeof what, "%s.%s", c, FIELDS[k]);
        near(what, got[k], ref_one(f, c, FIELDS[k]), tol);
    }
    printf("  %s: n %zu: MSE %.4g R2 %.4f Pearson %.4f Spearman %.4f\n", c, n, m.mse, m.r2, m.pearson, m.spearman);
}

static void test_against_references(void **state) {
    (void)state;
    vt_st_file *f = ref_open("mlreg_metrics.safetensors");
    worst = 0;
    int nml = ref_count(f, "ml_cases"), nrg = ref_count(f, "rg_cases");
    char c[16];
    for (int k = 0; k < nml; k++) {
        snprintf(c, sizeof c, "ml%d", k);
        check_multilabel(f, c);
    }
    for (int k = 0; k < nrg; k++) {
        snprintf(c, sizeof c, "rg%d", k);
        check_regression(f, c);
    }
    printf("  %d multi-label and %d regression cases agree with scikit-learn / SciPy; worst difference %.3g (tol 1e-9)\n",
           nml, nrg, worst);
    vt_st_close(f);
}

static char *capture(void (*print)(const void *, FILE *), const void *what) {
    char *buf = NULL;
    size_t len = 0;
    FILE *mem = open_memstream(&buf, &len);
    assert_non_null(mem);
    print(what, mem);
    fclose(mem);
    printf("%s\n", buf);
    return buf;
}

static const char *const NAMES[] = {"billing", "urg\"ent"};
static void ml_json(const void *m, FILE *out) { vt_multilabel_metrics_print_json(m, NAMES, out); }
static void ml_text(const void *m, FILE *out) { vt_multilabel_metrics_print(m, NAMES, out); }
static void rg_json(const void *m, FILE *out) { vt_regression_metrics_print_json(m, out); }
static void rg_text(const void *m, FILE *out) { vt_regression_metrics_print(m, out); }

static void test_printing(void **state) {
    (void)state;
    /* predicted 10 / 01 / 10 against 10 / 00 / 10: two rows exact; label 1 has no positive, so its
       ROC-AUC and the macro one are undefined (null) */
    const uint8_t y[] = {1, 0, 0, 0, 1, 0};
    const double s[] = {0.9, 0.1, 0.2, 0.7, 0.6, 0.3};
    vt_multilabel_metrics m;
    assert_int_equal(vt_multilabel_metrics_compute(y, s, 3, 2, 0.5, &m), VT_OK);
    char *j = capture(ml_json, &m);
    assert_non_null(strstr(j, "{\"n\": 3, \"threshold\": 0.5, \"subset_accuracy\": 0.66666666666666663"));
    assert_non_null(strstr(j, "\"roc_auc_macro\": null"));
    assert_non_null(strstr(j, "\"urg\\\"ent\": {\"precision\": 0, \"recall\": 0, \"f1\": 0, \"support\": 0, \"predicted\": 1, \"roc_auc\": null}"));
    assert_non_null(strstr(j, "\"labels\": [\"billing\", \"urg\\\"ent\"]}"));
    free(j);
    j = capture(ml_text, &m);
    assert_non_null(strstr(j, "subset accuracy: 0.6667"));
    assert_non_null(strstr(j, "samples avg"));
    free(j);
    vt_multilabel_metrics_free(&m);

    const double yt[] = {1, 2, 3}, yp[] = {2, 2, 2};
    vt_regression_metrics r;
    assert_int_equal(vt_regression_metrics_compute(yt, yp, 3, &r), VT_OK);
    j = capture(rg_json, &r);
    assert_non_null(strstr(j, "\"mae\": 0.66666666666666663, \"r2\": 0, \"pearson\": null, \"spearman\": null}"));
    free(j);
    j = capture(rg_text, &r);
    assert_non_null(strstr(j, "Pearson r     undefined"));
    free(j);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_multilabel_hand),
        cmocka_unit_test(test_regression_hand),
        cmocka_unit_test(test_against_references),
        cmocka_unit_test(test_printing),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
