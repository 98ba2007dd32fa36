/* verto baseline (TF-IDF + logistic regression) against scikit-learn 1.9.1
 * (tests/ref/gen_baseline.py): the shipped spam sample (binary), a synthetic
 * 3-class set (multinomial) and a synthetic multi-label set (one-vs-rest),
 * the synthetic texts full of Unicode that Python's \w and str.lower() treat
 * specially.
 *
 * Exact: the vocabulary (every term, in order), the labels, the dev figure of
 * every C of the grid (counts of right answers), the chosen C. The idf to
 * 1e-12 relative (one log of the same ratio). Probabilities to 1e-4
 * absolute: both solvers run to tol 1e-10 (max |gradient| of the mean loss)
 * from zero, so each stops within about tol / lambda of the one optimum
 * (lambda = 1 / (C n) the objective's smallest curvature); the fitted
 * probabilities then agree to ~1e-6 (printed), and 1e-4 leaves room for
 * other orders of summation on other machines. The multi-label threshold
 * (a midpoint between two dev probabilities) to 1e-4 for the same reason.
 * Through the task layer the logits pass through float: 1e-6 against the
 * baseline's own doubles. */
#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "verto/baseline.h"
#include "verto/fileio.h"
#include "verto/task.h"
#include "vt_test.h"

static double num(const cJSON *o, const char *key) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    assert_true(cJSON_IsNumber(v));
    return v->valuedouble;
}

static const char *str(const cJSON *o, const char *key) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    assert_true(cJSON_IsString(v));
    return v->valuestring;
}

/* train and dev of a case, dev with train's label map. */
static void load_pair(const cJSON *ref, bool multi, vt_labelled *train, vt_labelled *dev) {
    vt_labelled_options o;
    vt_labelled_options_default(&o);
    o.kind = multi ? VT_LABEL_MULTI : VT_LABEL_SINGLE;
    assert_int_equal(vt_labelled_load(str(ref, "train"), &o, train), VT_OK);
    o.id2label = (const char *const *)train->id2label;
    o.num_labels = train->num_labels;
    assert_int_equal(vt_labelled_load(str(ref, "dev"), &o, dev), VT_OK);
}

static void check_case(const char *name) {
    char file[128];
    snprintf(file, sizeof file, "baseline_%s.json", name);
    cJSON *ref = ref_json(file);
    bool multi = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(ref, "multi_label"));
    vt_labelled train = {0}, dev = {0};
    load_pair(ref, multi, &train, &dev);

    const cJSON *labels = cJSON_GetObjectItemCaseSensitive(ref, "labels");
    assert_int_equal(cJSON_GetArraySize(labels), train.num_labels);
    for (int k = 0; k < train.num_labels; k++) assert_string_equal(cJSON_GetArrayItem(labels, k)->valuestring, train.id2label[k]);

    const cJSON *grid = cJSON_GetObjectItemCaseSensitive(ref, "grid");
    double c[VT_BASELINE_MAX_C];
    int n_c = cJSON_GetArraySize(grid);
    for (int i = 0; i < n_c; i++) c[i] = cJSON_GetArrayItem(grid, i)->valuedouble;
    vt_baseline_options o;
    vt_baseline_options_default(&o);
    o.min_df = (int64_t)num(ref, "min_df");
    o.tol = num(ref, "tol");
    o.max_iter = (int64_t)num(ref, "max_iter");
    o.c_grid = c;
    o.n_c = n_c;
    vt_baseline_report rep;
    vt_baseline *b = vt_baseline_fit(&train, &dev, &o, &rep);
    if (!b) fail_msg("%s: %s", name, vt_last_error());

    /* vocabulary and idf */
    const cJSON *vocab = cJSON_GetObjectItemCaseSensitive(ref, "vocab"), *idf = cJSON_GetObjectItemCaseSensitive(ref, "idf");
    assert_int_equal(vt_baseline_num_terms(b), cJSON_GetArraySize(vocab));
    int64_t j = 0;
    double idf_diff = 0;
    for (const cJSON *v = vocab->child, *w = idf->child; v; v = v->next, w = w->next, j++) {
        if (strcmp(v->valuestring, vt_baseline_term(b, j)))
            fail_msg("%s: term %lld is '%s', sklearn's '%s'", name, (long long)j, vt_baseline_term(b, j), v->valuestring);
        idf_diff = fmax(idf_diff, fabs(vt_baseline_idf(b, j) - w->valuedouble) / w->valuedouble);
    }
    assert_true(idf_diff <= 1e-12);

    /* the search */
    const cJSON *scores = cJSON_GetObjectItemCaseSensitive(ref, "dev_scores");
    assert_int_equal(rep.n_c, n_c);
    for (int i = 0; i < n_c; i++) {
        double want = cJSON_GetArrayItem(scores, i)->valuedouble;
        if (fabs(rep.dev_score[i] - want) > 1e-12)
            fail_msg("%s: C %g: dev score %.6f, sklearn's %.6f", name, c[i], rep.dev_score[i], want);
        assert_true(rep.converged[i]);
    }
    assert_true(vt_baseline_c(b) == num(ref, "chosen_c"));
    if (multi) assert_true(fabs(vt_baseline_threshold(b) - num(ref, "threshold")) <= 1e-4);

    /* the chosen model's dev probabilities */
    int K = train.num_labels;
    double *p = malloc(dev.n * (size_t)K * sizeof *p), *p2 = malloc(dev.n * (size_t)K * sizeof *p2);
    assert_int_equal(vt_baseline_predict(b, (const char *const *)dev.text, dev.text_len, dev.n, p), VT_OK);
    const cJSON *probs = cJSON_GetObjectItemCaseSensitive(ref, "dev_probs");
    double worst = 0;
    size_t i = 0;
    for (const cJSON *row = probs->child; row; row = row->next, i++) {
        int k = 0;
        for (const cJSON *v = row->child; v; v = v->next, k++) worst = fmax(worst, fabs(p[i * (size_t)K + (size_t)k] - v->valuedouble));
        assert_int_equal(k, K);
    }
    assert_int_equal(i, dev.n);
    printf("  %s: %lld terms, C %g, dev probabilities within %.3g of sklearn's\n", name,
           (long long)vt_baseline_num_terms(b), vt_baseline_c(b), worst);
    assert_true(worst <= 1e-4);

    /* saved and loaded: the same numbers; through the task layer: the same within float logits */
    char *dir = test_tmpdir();
    assert_int_equal(vt_baseline_save(b, dir), VT_OK);
    vt_baseline *back = vt_baseline_load(dir);
    if (!back) fail_msg("%s", vt_last_error());
    assert_int_equal(vt_baseline_predict(back, (const char *const *)dev.text, dev.text_len, dev.n, p2), VT_OK);
    assert_memory_equal(p, p2, dev.n * (size_t)K * sizeof *p);
    assert_true(vt_baseline_threshold(back) == vt_baseline_threshold(b));
    vt_task_kind kind;
    assert_int_equal(vt_task_kind_of_dir(dir, &kind), VT_OK);
    assert_int_equal(kind, multi ? VT_TASK_MULTI_LABEL : VT_TASK_SEQUENCE_CLASSIFICATION);
    vt_task_options to;
    vt_task_options_default(&to);
    to.kind = kind;
    vt_task *t = vt_task_load(dir, &to);
    if (!t) fail_msg("%s", vt_last_error());
    assert_non_null(vt_task_baseline(t));
    vt_text_input *in = calloc(dev.n, sizeof *in);
    for (size_t r = 0; r < dev.n; r++) in[r] = (vt_text_input){dev.text[r], dev.text_len[r], NULL, 0};
    assert_int_equal(vt_task_classify(t, in, dev.n, p2, NULL), VT_OK);
    double task_diff = 0;
    for (size_t r = 0; r < dev.n * (size_t)K; r++) task_diff = fmax(task_diff, fabs(p[r] - p2[r]));
    assert_true(task_diff <= 1e-6);
    if (!multi) { /* eval's accuracy is the search's dev figure of the chosen C */
        vt_metrics m = {0};
        assert_int_equal(vt_task_evaluate(t, &dev, NULL, NULL, &m, NULL), VT_OK);
        assert_true(fabs(m.accuracy - rep.dev_score[rep.best]) <= 1e-12);
        vt_metrics_free(&m);
    } else {
        vt_multilabel_metrics m = {0};
        assert_int_equal(vt_task_evaluate_multilabel(t, &dev, -1, NULL, &m, NULL), VT_OK);
        assert_true(fabs(m.micro_f1 - rep.dev_score[rep.best]) <= 1e-9);
        vt_multilabel_metrics_free(&m);
    }
    vt_text_input pair = {"a b", 3, "c d", 3};
    vt_task_rows rows;
    assert_int_equal(vt_task_encode(t, VT_OUT_LOGITS, &pair, &rows), VT_ERR_UNSUPPORTED); /* pairs: said plainly */
    assert_int_equal(vt_task_embed(t, in, 1, VT_POOL_CLS, false, NULL, NULL), VT_ERR_UNSUPPORTED);
    vt_task_free(t);
    free(in);
    vt_baseline_free(back);
    test_remove_dir(dir);
    free(p);
    free(p2);
    vt_baseline_free(b);
    vt_labelled_free(&train);
    vt_labelled_free(&dev);
    cJSON_Delete(ref);
}

static void test_spam(void **state) { (void)state, check_case("spam"); }
static void test_topics(void **state) { (void)state, check_case("topics"); }
static void test_multilabel(void **state) { (void)state, check_case("multilabel"); }

/* ---- bad input ---- */

static void parse(const char *text, bool multi, vt_labelled *out) {
    vt_labelled_options o;
    vt_labelled_options_default(&o);
    o.kind = multi ? VT_LABEL_MULTI : VT_LABEL_SINGLE;
    o.format = VT_DATA_JSONL;
    assert_int_equal(vt_labelled_parse(text, strlen(text), "x.jsonl", &o, out), VT_OK);
}

static void expect_fit_error(const vt_labelled *train, const vt_labelled *dev, const char *needle) {
    vt_baseline *b = vt_baseline_fit(train, dev, NULL, NULL);
    assert_null(b);
    if (!strstr(vt_last_error(), needle)) fail_msg("error '%s' does not say '%s'", vt_last_error(), needle);
}

static void test_bad_data(void **state) {
    (void)state;
    vt_labelled good = {0}, one = {0}, empty = {0}, pairs = {0}, every = {0};
    parse("{\"text\": \"good words here\", \"label\": \"a\"}\n{\"text\": \"bad words there\", \"label\": \"b\"}\n", false, &good);
    parse("{\"text\": \"only one\", \"label\": \"a\"}\n{\"text\": \"label here\", \"label\": \"a\"}\n", false, &one);
    parse("{\"text\": \"\", \"label\": \"a\"}\n{\"text\": \"! a ?\", \"label\": \"b\"}\n", false, &empty);
    parse("{\"text\": \"aa bb\", \"text_b\": \"cc\", \"label\": \"a\"}\n{\"text\": \"dd\", \"label\": \"b\"}\n", false, &pairs);
    parse("{\"text\": \"aa bb\", \"labels\": [\"x\"]}\n{\"text\": \"cc dd\", \"labels\": [\"x\", \"y\"]}\n", true, &every);
    expect_fit_error(&good, NULL, "dev set");
    expect_fit_error(&one, &one, "one label");
    expect_fit_error(&empty, &empty, "empty vocabulary");
    expect_fit_error(&pairs, &pairs, "pairs");
    expect_fit_error(&every, &every, "every training example");
    expect_fit_error(&good, &one, "label map");
    vt_baseline_options o;
    vt_baseline_options_default(&o);
    o.min_df = 3;
    assert_null(vt_baseline_fit(&good, &good, &o, NULL));
    assert_non_null(strstr(vt_last_error(), "min_df"));
    vt_labelled_free(&good), vt_labelled_free(&one), vt_labelled_free(&empty), vt_labelled_free(&pairs);
    vt_labelled_free(&every);
}

/* A saved directory with one file spoilt at a time: an error naming the file. */
static void test_bad_directory(void **state) {
    (void)state;
    vt_labelled d = {0};
    parse("{\"text\": \"good words here\", \"label\": \"a\"}\n{\"text\": \"bad words there\", \"label\": \"b\"}\n", false, &d);
    vt_baseline *b = vt_baseline_fit(&d, &d, NULL, NULL);
    assert_non_null(b);
    char *dir = test_tmpdir(), path[4096], *config, *vocab;
    size_t config_len, vocab_len;
    assert_int_equal(vt_baseline_save(b, dir), VT_OK);
    snprintf(path, sizeof path, "%s/config.json", dir);
    assert_int_equal(vt_read_file(path, 1 << 20, &config, &config_len), VT_OK);
    snprintf(path, sizeof path, "%s/vocab.txt", dir);
    assert_int_equal(vt_read_file(path, 1 << 20, &vocab, &vocab_len), VT_OK);
    struct {
        const char *file, *text, *needle;
    } cases[] = {
        {"config.json", "{\"model_type\": \"verto-tfidf-lr\", \"colour\": 1}", "unknown key \"colour\""},
        {"config.json", "{\"model_type\": \"verto-tfidf-lr\"", "config.json"},
        {"vocab.txt", "bad words\nbad\ngood\ngood words\nhere\nthere\nwords\nwords here\nwords there\n",
         "vocab.txt:2: the terms must be sorted"},
        {"vocab.txt", "bad\nbad words\ngood\ngood words\nhere\nthere\nwords\nwords here\nwords\xff\n", "vocab.txt:9: a term must"},
        {"vocab.txt", "bad\nbad words\ngood", "no newline"},
        {"vocab.txt", "bad\n", "num_terms"},
        {"model.safetensors", "12345678", "model.safetensors"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        snprintf(path, sizeof path, "%s/config.json", dir);
        assert_int_equal(vt_write_file_atomic(path, config, config_len), VT_OK);
        snprintf(path, sizeof path, "%s/vocab.txt", dir);
        assert_int_equal(vt_write_file_atomic(path, vocab, vocab_len), VT_OK);
        assert_int_equal(vt_baseline_save(b, dir), VT_OK);
        snprintf(path, sizeof path, "%s/%s", dir, cases[i].file);
        assert_int_equal(vt_write_file_atomic(path, cases[i].text, strlen(cases[i].text)), VT_OK);
        vt_baseline *back = vt_baseline_load(dir);
        if (back) fail_msg("case %zu: loaded a spoilt %s", i, cases[i].file);
        if (!strstr(vt_last_error(), cases[i].needle))
            fail_msg("case %zu: error '%s' does not say '%s'", i, vt_last_error(), cases[i].needle);
    }
    free(config);
    free(vocab);
    test_remove_dir(dir);
    vt_baseline_free(b);
    vt_labelled_free(&d);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_spam),          cmocka_unit_test(test_topics),
        cmocka_unit_test(test_multilabel),    cmocka_unit_test(test_bad_data),
        cmocka_unit_test(test_bad_directory),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
