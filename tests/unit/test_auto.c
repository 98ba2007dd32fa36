/* verto auto's decisions and report (verto/auto.h): the choice is made on
 * dev only (a candidate planted best on test but not on dev is not chosen),
 * by macro F1 (a majority-class model does not beat a real one on accuracy),
 * then accuracy, ties go to the earlier candidate, unfinished candidates never win; the
 * epochs that fit, the windows a long text needs, the parsing of eval's JSON,
 * and the report's files (report.json keeps the eval JSON the figures came
 * from; test figures only for the chosen one and the baseline). Exact
 * comparisons: no arithmetic beyond a division is involved. */
#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "verto/auto.h"
#include "verto/fileio.h"
#include "vt_test.h"

static void scores(vt_auto_scores *s, double acc, double f1) {
    char buf[128];
    snprintf(buf, sizeof buf, "{\"accuracy\": %.17g, \"macro_f1\": %.17g, \"n\": 10}", acc, f1);
    assert_int_equal(vt_auto_scores_parse(buf, strlen(buf), "test", s), VT_OK);
}

static void candidate(vt_auto_candidate *c, const char *name, vt_auto_state state, double dev_acc, double dev_f1,
                      double test_acc) {
    memset(c, 0, sizeof *c);
    snprintf(c->name, sizeof c->name, "%s", name);
    snprintf(c->recipe, sizeof c->recipe, "recipe of %s", name);
    c->state = state;
    if (dev_acc >= 0) scores(&c->dev, dev_acc, dev_f1);
    if (test_acc >= 0) scores(&c->test, test_acc, test_acc);
}

static void test_choose_on_dev_only(void **state) {
    (void)state;
    vt_auto_candidate c[4];
    candidate(&c[0], "baseline", VT_AUTO_DONE, 0.90, 0.88, 0.80);
    candidate(&c[1], "planted", VT_AUTO_DONE, 0.85, 0.85, 0.99); /* best on test, worse on dev */
    candidate(&c[2], "dev-best", VT_AUTO_DONE, 0.92, 0.90, 0.70);
    candidate(&c[3], "stopped", VT_AUTO_STOPPED, -1, 0, -1);
    assert_int_equal(vt_auto_choose(c, 4), 2);
    assert_int_equal(vt_auto_choose(c, 2), 0); /* without dev-best: the baseline, not the test-best planted one */
    /* changing test figures never changes the choice */
    c[0].test.accuracy = 0;
    c[1].test.accuracy = 1;
    assert_int_equal(vt_auto_choose(c, 2), 0);
    for (int i = 0; i < 4; i++) vt_auto_candidate_free(&c[i]);
}

static void test_choose_ties_and_failures(void **state) {
    (void)state;
    vt_auto_candidate c[4];
    candidate(&c[0], "baseline", VT_AUTO_DONE, 0.90, 0.85, -1);
    candidate(&c[1], "same-f1-better-acc", VT_AUTO_DONE, 0.91, 0.85, -1);
    candidate(&c[2], "same-everything", VT_AUTO_DONE, 0.91, 0.85, -1);
    candidate(&c[3], "failed-but-scored", VT_AUTO_FAILED, 0.99, 0.99, -1); /* only DONE candidates count */
    assert_int_equal(vt_auto_choose(c, 4), 1); /* accuracy breaks the tie; then the earlier one */
    assert_int_equal(vt_auto_choose(c, 0), -1);
    c[0].state = c[1].state = c[2].state = VT_AUTO_SKIPPED;
    assert_int_equal(vt_auto_choose(c, 4), -1);
    for (int i = 0; i < 4; i++) vt_auto_candidate_free(&c[i]);
    /* macro F1 first: a model answering the majority class of an unbalanced dev set (0.548 accuracy, macro F1
     * 0.354) does not beat one that reads the text (0.510, 0.505) */
    candidate(&c[0], "baseline", VT_AUTO_DONE, 0.510, 0.505, -1);
    candidate(&c[1], "majority", VT_AUTO_DONE, 0.548, 0.354, -1);
    assert_int_equal(vt_auto_choose(c, 2), 0);
    for (int i = 0; i < 2; i++) vt_auto_candidate_free(&c[i]);
}

static void test_plan(void **state) {
    (void)state;
    assert_int_equal(vt_auto_fit_epochs(3, 10, 100), 3);
    assert_int_equal(vt_auto_fit_epochs(3, 40, 100), 2);
    assert_int_equal(vt_auto_fit_epochs(3, 101, 100), 0);
    assert_int_equal(vt_auto_fit_epochs(3, 0, 100), 0);
    assert_int_equal(vt_auto_fit_epochs(3, NAN, 100), 0);
    assert_int_equal(vt_auto_fit_epochs(3, 10, -5), 0);
    assert_int_equal(vt_auto_windows(100, 128, 8), 1);
    assert_int_equal(vt_auto_windows(128, 128, 8), 1);
    assert_int_equal(vt_auto_windows(129, 128, 8), 2);  /* 127 text tokens need 2 windows of 126 */
    assert_int_equal(vt_auto_windows(254, 128, 8), 2);  /* 252 = 2 x 126 */
    assert_int_equal(vt_auto_windows(255, 128, 8), 3);
    assert_int_equal(vt_auto_windows(1e6, 128, 8), 8);
    double lr[4];
    int64_t ep[4];
    assert_int_equal(vt_auto_grid(false, lr, ep, 4), 4);
    for (int i = 0; i < 4; i++) assert_true(lr[i] >= 2e-5 && lr[i] <= 1e-4 && ep[i] >= 1);
    assert_int_equal(vt_auto_grid(true, lr, ep, 2), 2);
    assert_true(lr[0] > 1e-4);
    /* more pretraining when the search ends early: 600 s left, a 100 s fine-tuning after it */
    double share = vt_auto_more_pretraining_share(600, 100, 20);
    assert_true(fabs(share * 600 - 0.8 * (600 - 125)) < 1e-9);
    assert_true(1.25 * share * 600 + 1.25 * 100 <= 600 + 1e-9); /* its stop at 1.25 x, then the fine-tuning */
    assert_true(vt_auto_more_pretraining_share(600, 470, 20) == 0); /* 0.8 x 12.5 s < 20 s */
    assert_true(vt_auto_more_pretraining_share(100, 100, 0) == 0);  /* the fine-tuning alone does not fit */
    assert_true(vt_auto_more_pretraining_share(NAN, 10, 0) == 0);
    assert_true(vt_auto_more_pretraining_share(-1, 10, 0) == 0);
}

static void test_small_sets_and_refinement(void **state) {
    (void)state;
    /* 9,000 examples in batches of 16: 563 steps an epoch, the grid's 3 epochs stand */
    assert_int_equal(vt_auto_epochs_for(3, 9000, 16, 200, 40), 3);
    /* 100 examples: 7 steps an epoch, 29 epochs make 203 >= 200 steps */
    assert_int_equal(vt_auto_epochs_for(3, 100, 16, 200, 40), 29);
    assert_int_equal(vt_auto_epochs_for(3, 10, 16, 200, 40), 40); /* capped */
    assert_int_equal(vt_auto_epochs_for(50, 10, 16, 200, 40), 50); /* never fewer than planned */
    assert_int_equal(vt_auto_epochs_for(3, 0, 16, 200, 40), 3);

    double tried_lr[8] = {2e-4, 5e-4}, lr;
    int64_t tried_ep[8] = {3, 3}, ep;
    int n = 2;
    /* around the best (2e-4, 3 epochs): 4e-4, then 1e-4, then 6 epochs, then nothing */
    const double want_lr[] = {4e-4, 1e-4, 2e-4};
    const int64_t want_ep[] = {3, 3, 6};
    for (int k = 0; k < 3; k++) {
        assert_true(vt_auto_next_setting(2e-4, 3, tried_lr, tried_ep, n, 40, &lr, &ep));
        assert_true(fabs(lr - want_lr[k]) < 1e-12 && ep == want_ep[k]);
        tried_lr[n] = lr;
        tried_ep[n++] = ep;
    }
    assert_false(vt_auto_next_setting(2e-4, 3, tried_lr, tried_ep, n, 40, &lr, &ep));
    /* twice the epochs stops at the cap; at the cap it is the best itself, already tried */
    tried_lr[0] = 1e-4, tried_ep[0] = 40, tried_lr[1] = 2e-4, tried_ep[1] = 40, tried_lr[2] = 5e-5, tried_ep[2] = 40;
    assert_false(vt_auto_next_setting(1e-4, 40, tried_lr, tried_ep, 3, 40, &lr, &ep));
    tried_ep[0] = 30;
    assert_true(vt_auto_next_setting(1e-4, 30, tried_lr, tried_ep, 1, 40, &lr, &ep));
    assert_true(fabs(lr - 2e-4) < 1e-12 && ep == 30);
}

static void test_scores_parse_errors(void **state) {
    (void)state;
    vt_auto_scores s;
    const char *bad[] = {"", "[1]", "{\"accuracy\": 1}", "{\"accuracy\": 1, \"macro_f1\": 1, \"n\": 1.5}",
                         "{\"accuracy\": \"x\", \"macro_f1\": 1, \"n\": 1}", "{\"micro_f1\": 1}", "{\"accuracy\": 1,"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        assert_int_equal(vt_auto_scores_parse(bad[i], strlen(bad[i]), "where.json", &s), VT_ERR_FORMAT);
        assert_non_null(strstr(vt_last_error(), "where.json"));
        assert_false(s.present);
        assert_null(s.json);
    }
}

static cJSON *read_json(const char *dir, const char *name) {
    char path[4096], *text = NULL;
    size_t n = 0;
    snprintf(path, sizeof path, "%s/%s", dir, name);
    assert_int_equal(vt_read_file(path, 1 << 24, &text, &n), VT_OK);
    cJSON *o = cJSON_Parse(text);
    free(text);
    assert_non_null(o);
    return o;
}

static void test_report(void **state) {
    (void)state;
    vt_auto_candidate c[3];
    candidate(&c[0], "baseline", VT_AUTO_DONE, 0.90, 0.88, 0.80);
    candidate(&c[1], "ft-a<b>", VT_AUTO_DONE, 0.95, 0.94, 0.85);
    candidate(&c[2], "ft-c", VT_AUTO_DONE, 0.91, 0.90, 0.99); /* its test figure must not be reported */
    assert_int_equal(vt_auto_curve_add(&c[1], 30, 0.9), VT_OK);
    assert_int_equal(vt_auto_curve_add(&c[1], 60, 0.95), VT_OK);
    char *dir = test_tmpdir();
    const char *notes[] = {"a note"};
    vt_auto_report r = {.train = "t.jsonl", .dev = "d.jsonl", .test = "x.jsonl", .budget_s = 120, .total_s = 100,
                        .c = c, .n = 3, .chosen = vt_auto_choose(c, 3), .notes = notes, .n_notes = 1};
    assert_int_equal(r.chosen, 1);
    assert_int_equal(vt_auto_write_report(&r, dir), VT_OK);
    cJSON *o = read_json(dir, "report.json");
    assert_string_equal(cJSON_GetObjectItem(o, "chosen")->valuestring, "ft-a<b>");
    const cJSON *cands = cJSON_GetObjectItem(o, "candidates");
    assert_int_equal(cJSON_GetArraySize(cands), 3);
    for (int i = 0; i < 3; i++) {
        const cJSON *ci = cJSON_GetArrayItem(cands, i);
        const cJSON *dev = cJSON_GetObjectItem(ci, "dev_eval");
        assert_true(cJSON_GetObjectItem(dev, "accuracy")->valuedouble == c[i].dev.accuracy);
        assert_true((cJSON_GetObjectItem(ci, "test_eval") != NULL) == (i != 2)); /* chosen and baseline only */
    }
    assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(cJSON_GetArrayItem(cands, 1), "dev_accuracy_curve")), 2);
    cJSON_Delete(o);
    char path[4096], *text = NULL;
    size_t n = 0;
    snprintf(path, sizeof path, "%s/report.html", dir);
    assert_int_equal(vt_read_file(path, 1 << 24, &text, &n), VT_OK);
    assert_non_null(strstr(text, "ft-a&lt;b&gt;")); /* escaped */
    assert_null(strstr(text, "ft-a<b>"));
    assert_non_null(strstr(text, "<svg"));
    assert_null(strstr(text, "0.9900")); /* ft-c's test figure is nowhere */
    free(text);
    snprintf(path, sizeof path, "%s/report.md", dir);
    assert_int_equal(vt_read_file(path, 1 << 24, &text, &n), VT_OK);
    assert_non_null(strstr(text, "| ft-a<b> (chosen) | 0.8500 |"));
    assert_non_null(strstr(text, "| baseline | 0.8000 |"));
    assert_null(strstr(text, "0.9900"));
    free(text);
    for (int i = 0; i < 3; i++) vt_auto_candidate_free(&c[i]);
    test_remove_dir(dir);
}

static void test_curve_from_metrics(void **state) {
    (void)state;
    char *dir = test_tmpdir();
    char path[4096];
    snprintf(path, sizeof path, "%s/metrics.jsonl", dir);
    const char *m = "{\"step\": 5, \"loss\": 1.0, \"elapsed_s\": 2.5}\n"
                    "{\"step\": 10, \"eval\": true, \"elapsed_s\": 4, \"dev_accuracy\": 0.75}\n"
                    "{\"step\": 20, \"eval\": true, \"elapsed_s\": 8, \"dev_accuracy\": 0.8}\n";
    assert_int_equal(vt_write_file_atomic(path, m, strlen(m)), VT_OK);
    vt_auto_candidate c = {0};
    assert_int_equal(vt_auto_curve_from_metrics(&c, path, 100), VT_OK);
    assert_int_equal(c.n_curve, 2);
    assert_true(c.curve_t[0] == 104 && c.curve_acc[0] == 0.75 && c.curve_t[1] == 108 && c.curve_acc[1] == 0.8);
    snprintf(path, sizeof path, "%s/missing.jsonl", dir);
    assert_int_equal(vt_auto_curve_from_metrics(&c, path, 0), VT_OK); /* a run stopped before its first line */
    assert_int_equal(c.n_curve, 2);
    snprintf(path, sizeof path, "%s/bad.jsonl", dir);
    assert_int_equal(vt_write_file_atomic(path, "{\"x\": 1}\n", 9), VT_OK);
    assert_int_equal(vt_auto_curve_from_metrics(&c, path, 0), VT_ERR_FORMAT);
    vt_auto_candidate_free(&c);
    test_remove_dir(dir);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_choose_on_dev_only), cmocka_unit_test(test_choose_ties_and_failures),
        cmocka_unit_test(test_plan),               cmocka_unit_test(test_scores_parse_errors),
        cmocka_unit_test(test_small_sets_and_refinement),
        cmocka_unit_test(test_report),             cmocka_unit_test(test_curve_from_metrics),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
