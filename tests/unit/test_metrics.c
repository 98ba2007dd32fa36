/* Classification metrics: hand-computed cases and scikit-learn's figures on
 * random data (tests/ref/gen_metrics.py). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "verto/metrics.h"
#include "vt_test.h"

static void near(const char *what, double got, double want, double tol) {
    if (isnan(want) && isnan(got)) return;
    if (!(fabs(got - want) <= tol)) fail_msg("%s: got %.17g, want %.17g", what, got, want);
}

static void test_hand_computed(void **state) {
    (void)state;
    /* true:  0 0 0 1 1 2      pred: 0 1 0 1 2 2 */
    const int32_t t[] = {0, 0, 0, 1, 1, 2}, p[] = {0, 1, 0, 1, 2, 2};
    vt_metrics m;
    assert_int_equal(vt_metrics_compute(t, p, NULL, 6, 3, &m), VT_OK);
    near("accuracy", m.accuracy, 4.0 / 6, 1e-15);
    near("micro", m.micro_f1, 4.0 / 6, 1e-15);
    /* class 0: tp 2 fp 0 fn 1 -> P 1, R 2/3, F1 0.8; class 1: tp 1 fp 1 fn 1 -> 0.5 0.5 0.5;
       class 2: tp 1 fp 1 fn 0 -> P 0.5, R 1, F1 2/3 */
    near("p0", m.per_class[0].precision, 1, 1e-15);
    near("r0", m.per_class[0].recall, 2.0 / 3, 1e-15);
    near("f0", m.per_class[0].f1, 0.8, 1e-15);
    near("f2", m.per_class[2].f1, 2.0 / 3, 1e-15);
    near("macro f1", m.macro_f1, (0.8 + 0.5 + 2.0 / 3) / 3, 1e-15);
    near("weighted f1", m.weighted_f1, (3 * 0.8 + 2 * 0.5 + 2.0 / 3) / 6, 1e-15);
    assert_int_equal(m.per_class[0].support, 3);
    assert_int_equal(m.per_class[2].predicted, 2);
    assert_int_equal(m.confusion[0 * 3 + 1], 1);
    assert_int_equal(m.confusion[1 * 3 + 2], 1);
    assert_true(isnan(m.roc_auc));
    vt_metrics_free(&m);

    /* ROC-AUC with ties: positives at 0.8, 0.5; negatives at 0.5, 0.2: pairs (0.8>0.5) (0.8>0.2) (0.5=0.5: 1/2) (0.5>0.2) -> 3.5/4 */
    const int32_t y[] = {1, 1, 0, 0};
    const double s[] = {0.8, 0.5, 0.5, 0.2};
    double auc;
    assert_int_equal(vt_roc_auc(y, s, 4, &auc), VT_OK);
    near("auc ties", auc, 0.875, 1e-15);
    const double all_same[] = {0.3, 0.3, 0.3, 0.3};
    assert_int_equal(vt_roc_auc(y, all_same, 4, &auc), VT_OK);
    near("auc all tied", auc, 0.5, 1e-15);
    const int32_t one_class[] = {1, 1, 1, 1};
    assert_int_equal(vt_roc_auc(one_class, s, 4, &auc), VT_ERR_INVALID_ARG);
    assert_true(isnan(auc));

    /* errors leave the output empty */
    const int32_t bad[] = {0, 3};
    assert_int_equal(vt_metrics_compute(bad, bad, NULL, 2, 3, &m), VT_ERR_INVALID_ARG);
    assert_null(m.per_class);
    assert_int_equal(vt_metrics_compute(t, p, NULL, 0, 3, &m), VT_ERR_INVALID_ARG);
    const double nan_score[] = {0.1, NAN};
    const int32_t two[] = {0, 1};
    assert_int_equal(vt_metrics_compute(two, two, nan_score, 2, 2, &m), VT_ERR_INVALID_ARG);
}

static double *ref_f64(const vt_st_file *f, const char *name, int64_t *numel) {
    const vt_st_tensor *t = vt_st_find(f, name);
    if (!t || t->dtype != VT_ST_F64) fail_msg("reference tensor %s missing or not F64", name);
    double *out = malloc((size_t)(t->numel ? t->numel : 1) * sizeof(double));
    assert_non_null(out);
    memcpy(out, t->data, (size_t)t->numel * sizeof(double));
    if (numel) *numel = t->numel;
    return out;
}

static double ref_scalar(const vt_st_file *f, const char *c, const char *field) {
    char name[128];
    snprintf(name, sizeof name, "%s.%s", c, field);
    double *v = ref_f64(f, name, NULL), x = v[0];
    free(v);
    return x;
}

static void check_case(const vt_st_file *f, const char *c) {
    char name[128];
    int64_t n, nk;
    snprintf(name, sizeof name, "%s.y_true", c);
    int32_t *yt = ref_i32(f, name, &n);
    snprintf(name, sizeof name, "%s.y_pred", c);
    int32_t *yp = ref_i32(f, name, NULL);
    snprintf(name, sizeof name, "%s.k", c);
    int32_t *k = ref_i32(f, name, NULL);
    int K = k[0];
    snprintf(name, sizeof name, "%s.score", c);
    double *score = vt_st_find(f, name) ? ref_f64(f, name, NULL) : NULL;
    vt_metrics m;
    if (vt_metrics_compute(yt, yp, score, (size_t)n, K, &m) != VT_OK) fail_msg("%s: %s", c, vt_last_error());
    const double tol = 1e-12;
    near("accuracy", m.accuracy, ref_scalar(f, c, "accuracy"), tol);
    near("macro_precision", m.macro_precision, ref_scalar(f, c, "macro_precision"), tol);
    near("macro_recall", m.macro_recall, ref_scalar(f, c, "macro_recall"), tol);
    near("macro_f1", m.macro_f1, ref_scalar(f, c, "macro_f1"), tol);
    near("micro_f1", m.micro_f1, ref_scalar(f, c, "micro_f1"), tol);
    near("weighted_f1", m.weighted_f1, ref_scalar(f, c, "weighted_f1"), tol);
    near("roc_auc", m.roc_auc, ref_scalar(f, c, "roc_auc"), tol);
    static const char *const FIELDS[] = {"precision", "recall", "f1", "support"};
    for (int j = 0; j < 4; j++) {
        snprintf(name, sizeof name, "%s.%s", c, FIELDS[j]);
        double *want = ref_f64(f, name, &nk);
        assert_int_equal(nk, K);
        for (int i = 0; i < K; i++) {
            const vt_class_metrics *pc = &m.per_class[i];
            double got = j == 0 ? pc->precision : j == 1 ? pc->recall : j == 2 ? pc->f1 : (double)pc->support;
            snprintf(name, sizeof name, "%s.%s[%d]", c, FIELDS[j], i);
            near(name, got, want[i], tol);
        }
        free(want);
    }
    snprintf(name, sizeof name, "%s.confusion", c);
    double *conf = ref_f64(f, name, &nk);
    assert_int_equal(nk, (int64_t)K * K);
    for (int64_t i = 0; i < nk; i++) assert_int_equal(m.confusion[i], (int64_t)conf[i]);
    printf("  %s: n %lld, K %d, accuracy %.4f, macro F1 %.4f, ROC-AUC %.4f: agree with scikit-learn to 1e-12\n", c,
           (long long)n, K, m.accuracy, m.macro_f1, m.roc_auc);
    free(conf);
    vt_metrics_free(&m);
    free(yt);
    free(yp);
    free(k);
    free(score);
}

static void test_against_sklearn(void **state) {
    (void)state;
    vt_st_file *f = ref_open("metrics.safetensors");
    static const char *const CASES[] = {"bin", "imb", "three", "absent", "const"};
    for (size_t i = 0; i < sizeof CASES / sizeof CASES[0]; i++) check_case(f, CASES[i]);
    vt_st_close(f);
}

static void test_printing(void **state) {
    (void)state;
    const int32_t t[] = {0, 1, 1, 0}, p[] = {0, 1, 0, 0};
    const double s[] = {0.1, 0.9, 0.4, 0.3};
    vt_metrics m;
    assert_int_equal(vt_metrics_compute(t, p, s, 4, 2, &m), VT_OK);
    char *buf = NULL;
    size_t len = 0;
    FILE *mem = open_memstream(&buf, &len);
    const char *names[] = {"ham", "sp\"am"};
    vt_metrics_print_json(&m, names, mem);
    fclose(mem);
    printf("  %s\n", buf);
    assert_non_null(strstr(buf, "\"accuracy\": 0.75"));
    assert_non_null(strstr(buf, "\"per_class\": {\"ham\": {"));
    assert_non_null(strstr(buf, "\"sp\\\"am\": {"));
    assert_non_null(strstr(buf, "\"confusion_matrix\": [[2, 0], [1, 1]]"));
    assert_non_null(strstr(buf, "\"roc_auc\": 1}"));
    free(buf);
    mem = open_memstream(&buf, &len);
    vt_metrics_print(&m, names, mem);
    fclose(mem);
    printf("%s", buf);
    assert_non_null(strstr(buf, "accuracy: 0.7500"));
    assert_non_null(strstr(buf, "ROC-AUC"));
    free(buf);
    vt_metrics_free(&m);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hand_computed),
        cmocka_unit_test(test_against_sklearn),
        cmocka_unit_test(test_printing),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
