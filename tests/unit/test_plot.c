/* Plot axes, SVG layout and the metrics.jsonl reader (verto/plot.h,
 * verto/metrics_log.h).
 *
 * - ticks: worked cases of the documented rule (smallest 1/2/2.5/5 x 10^k
 *   step whose floor(lo/step)..ceil(hi/step) fits max_ticks), and a property
 *   check on random ranges: the ticks cover the data, the step is round, and
 *   the next smaller round step would need more ticks than allowed;
 * - labels: plain decimals as the step needs, short exponents for tiny steps
 *   and large values;
 * - SVG: the plot area and domains in data- attributes are the documented
 *   layout, a point is drawn where the documented mapping puts it, text is
 *   escaped;
 * - metrics.jsonl: series per metric, nan/inf counted and skipped, a resumed
 *   run's clock continued, errors naming file:line, empty files refused;
 *   metric names matched with "dev_" in front, unknown ones named. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vt_test.h"
#include "verto/error.h"
#include "verto/metrics_log.h"
#include "verto/plot.h"

static void expect_ticks(double lo, double hi, int max, double step, double first, double last, int n) {
    vt_plot_ticks t;
    assert_int_equal(vt_plot_nice_ticks(lo, hi, max, &t), VT_OK);
    printf("  [%g, %g] max %d: step %g, %g .. %g, %d ticks\n", lo, hi, max, t.step, t.lo, t.hi, t.n);
    assert_true(fabs(t.step - step) <= 1e-12 * step);
    assert_true(fabs(t.lo - first) <= 1e-9 * step && fabs(t.hi - last) <= 1e-9 * step);
    assert_int_equal(t.n, n);
}

static void test_ticks_worked(void **state) {
    (void)state;
    expect_ticks(0, 1, 7, 0.2, 0, 1, 6);             /* 0.1 would need 11 */
    expect_ticks(0.13, 0.87, 7, 0.2, 0, 1, 6);       /* 0.1: 0.1 .. 0.9 is 9 */
    expect_ticks(3, 97, 11, 10, 0, 100, 11);         /* 5: 0 .. 100 is 21 */
    expect_ticks(0, 5e-5, 7, 1e-5, 0, 5e-5, 6);      /* 5e-6 would need 11 */
    expect_ticks(-0.3, 0.7, 6, 0.25, -0.5, 0.75, 6); /* 0.2: -0.4 .. 0.8 is 7 */
    expect_ticks(5, 5, 7, 0.2, 4.4, 5.6, 7);         /* one value: widened to 4.5 .. 5.5 */
    expect_ticks(0, 0, 7, 0.5, -1, 1, 5);            /* zero: widened to -1 .. 1 */
    expect_ticks(0, 2.5e6, 6, 5e5, 0, 2.5e6, 6);
    vt_plot_ticks t;
    assert_int_equal(vt_plot_nice_ticks(-0.3, 0.7, 6, &t), VT_OK);
    assert_true(t.values[2] == 0.0 && !signbit(t.values[2])); /* -2 * 0.25 + 2 * 0.25 is exactly 0, not -0 */
}

static void test_ticks_errors(void **state) {
    (void)state;
    vt_plot_ticks t;
    assert_int_equal(vt_plot_nice_ticks(NAN, 1, 7, &t), VT_ERR_INVALID_ARG);
    assert_int_equal(vt_plot_nice_ticks(0, INFINITY, 7, &t), VT_ERR_INVALID_ARG);
    assert_int_equal(vt_plot_nice_ticks(2, 1, 7, &t), VT_ERR_INVALID_ARG);
    assert_int_equal(vt_plot_nice_ticks(0, 1, 2, &t), VT_ERR_INVALID_ARG);
    assert_int_equal(vt_plot_nice_ticks(0, 1, VT_PLOT_MAX_TICKS + 1, &t), VT_ERR_INVALID_ARG);
    assert_int_equal(vt_plot_nice_ticks(-1.7e308, 1.7e308, 7, &t), VT_ERR_INVALID_ARG);
    assert_non_null(strstr(vt_last_error(), "plot axis"));
}

/* The round step just below s in the sequence ... 1, 2, 2.5, 5, 10 ... */
static double smaller_step(double s) {
    double p = pow(10, floor(log10(s) + 1e-9)), m = s / p;
    return fabs(m - 1) < 1e-9 ? 0.5 * p : fabs(m - 2) < 1e-9 ? p : fabs(m - 2.5) < 1e-9 ? 2 * p : 2.5 * p;
}

static void test_ticks_property(void **state) {
    (void)state;
    srand(7);
    for (int i = 0; i < 5000; i++) {
        double mag = pow(10, (rand() % 17) - 8);
        double a = ((double)rand() / RAND_MAX - 0.3) * mag, b = a + (double)rand() / RAND_MAX * mag;
        int max = 3 + rand() % (VT_PLOT_MAX_TICKS - 2);
        vt_plot_ticks t;
        assert_int_equal(vt_plot_nice_ticks(a, b, max, &t), VT_OK);
        if (a == b) continue;
        double tol = 1e-9 * t.step;
        assert_true(t.lo <= a + tol && t.hi >= b - tol);
        assert_true(t.n >= 2 && t.n <= max);
        double m = t.step / pow(10, floor(log10(t.step) + 1e-9));
        assert_true(fabs(m - 1) < 1e-9 || fabs(m - 2) < 1e-9 || fabs(m - 2.5) < 1e-9 || fabs(m - 5) < 1e-9);
        double s = smaller_step(t.step);
        double need = ceil(b / s - 1e-9) - floor(a / s + 1e-9) + 1;
        assert_true(need > max); /* the step is the smallest round one that fits */
        for (int k = 1; k < t.n; k++) assert_true(fabs(t.values[k] - t.values[k - 1] - t.step) <= tol * 10);
    }
}

static void expect_labels(double lo, double hi, int max, const char *want) {
    vt_plot_ticks t;
    assert_int_equal(vt_plot_nice_ticks(lo, hi, max, &t), VT_OK);
    char got[512] = "", buf[64];
    for (int i = 0; i < t.n; i++) {
        strcat(got, i ? " " : "");
        strcat(got, vt_plot_tick_label(t.values[i], &t, buf, sizeof buf));
    }
    printf("  labels [%g, %g]: %s\n", lo, hi, got);
    assert_string_equal(got, want);
}

static void test_tick_labels(void **state) {
    (void)state;
    expect_labels(-0.3, 0.7, 6, "-0.50 -0.25 0.00 0.25 0.50 0.75");
    expect_labels(0, 1, 7, "0.0 0.2 0.4 0.6 0.8 1.0");
    expect_labels(3, 97, 11, "0 10 20 30 40 50 60 70 80 90 100");
    expect_labels(0, 5e-5, 7, "0 1e-5 2e-5 3e-5 4e-5 5e-5");
    expect_labels(0, 2.5e6, 6, "0 5e5 1e6 1.5e6 2e6 2.5e6");
    expect_labels(11900, 12100, 6, "11900 11950 12000 12050 12100");
    expect_labels(0, 2.5e-4, 6, "0 5e-5 1e-4 1.5e-4 2e-4 2.5e-4");
}

/* The first number after `attr="` in s (at or after `from`), and the rest. */
static void attr_numbers(const char *s, const char *attr, double *v, int n) {
    char key[64];
    snprintf(key, sizeof key, "%s=\"", attr);
    const char *p = strstr(s, key);
    assert_non_null(p);
    p += strlen(key);
    for (int i = 0; i < n; i++) {
        char *end;
        v[i] = strtod(p, &end);
        assert_true(end != p);
        p = end;
    }
}

static void test_svg_layout(void **state) {
    (void)state;
    double x[] = {0, 50, 100}, y[] = {0, 0.5, 1};
    vt_plot_series s = {.n = 3, .x = x, .y = y, .color = 1};
    vt_plot_panel p = {.title = "loss <&> \xff", .x_label = "step", .y_label = "loss", .series = &s, .n_series = 1};
    const char *legend[] = {"run a", "run b"};
    vt_plot_figure f = {.title = "t", .legend = legend, .n_legend = 2, .panels = &p, .n_panels = 1};
    size_t len = 0;
    char *svg = vt_plot_svg(&f, &len);
    assert_non_null(svg);
    assert_int_equal(len, strlen(svg));
    double area[4], xd[2], yd[2];
    attr_numbers(svg, "data-plot-area", area, 4);
    attr_numbers(svg, "data-x-domain", xd, 2);
    attr_numbers(svg, "data-y-domain", yd, 2);
    /* Title band, one legend row (two entries), then the panel's own offsets. */
    double top = VT_PLOT_TITLE_H + VT_PLOT_LEGEND_ROW;
    assert_true(area[0] == VT_PLOT_AREA_LEFT && area[2] == VT_PLOT_WIDTH - VT_PLOT_AREA_RIGHT);
    assert_true(area[1] == top + VT_PLOT_AREA_TOP && area[3] == top + VT_PLOT_PANEL_H - VT_PLOT_AREA_BOTTOM);
    assert_true(xd[0] == 0 && xd[1] == 100 && yd[0] == 0 && yd[1] == 1);
    /* The series' second point (50, 0.5) is at the middle of the area. */
    const char *pts = strstr(svg, "stroke=\"#d55e00\" stroke-width=\"2\"");
    assert_non_null(pts);
    double px, py;
    assert_int_equal(sscanf(strstr(pts, "points=\"") + 8, "%*f,%*f %lf,%lf", &px, &py), 2);
    assert_true(fabs(px - (area[0] + area[2]) / 2) < 0.01 && fabs(py - (area[1] + area[3]) / 2) < 0.01);
    assert_non_null(strstr(svg, ">loss &lt;&amp;&gt; ?</text>"));
    assert_non_null(strstr(svg, ">run b</text>"));
    char want[64];
    snprintf(want, sizeof want, "height=\"%.0f\"", top + VT_PLOT_PANEL_H);
    assert_non_null(strstr(svg, want));
    free(svg);
    char *html = vt_plot_html(&f, NULL);
    assert_non_null(html);
    assert_true(!strncmp(html, "<!DOCTYPE html>", 15) && strstr(html, "<svg ") && strstr(html, "</html>"));
    free(html);
    vt_plot_figure empty = {0};
    assert_null(vt_plot_svg(&empty, NULL));
    assert_int_equal(vt_last_status(), VT_ERR_INVALID_ARG);
}

static const char *LOG =
    "{\"step\": 10, \"loss\": 2.5, \"lr\": 1e-5, \"grad_norm\": nan, \"tokens_per_sec\": 100.0, \"elapsed_s\": 1.0}\n"
    "\n"
    "{\"step\": 20, \"loss\": 2.0, \"lr\": 2e-5, \"grad_norm\": -inf, \"tokens_per_sec\": 100.0, \"elapsed_s\": 2.0}\n"
    "{\"step\": 20, \"eval\": true, \"dev_loss\": 1.5, \"dev_accuracy\": 0.75, \"elapsed_s\": 2.5}\n"
    "{\"step\": 15, \"loss\": 1e999, \"lr\": 3e-5, \"note\": \"resumed\", \"ranks\": 2, \"elapsed_s\": 0.5}\r\n";

static void test_metrics_log(void **state) {
    (void)state;
    vt_metrics_log log;
    assert_int_equal(vt_metrics_log_parse(LOG, strlen(LOG), "run/metrics.jsonl", &log), VT_OK);
    assert_int_equal(log.lines, 4);
    assert_int_equal(log.skipped, 3); /* grad_norm nan, -inf; loss 1e999 */
    assert_true(log.has_time);
    const vt_metric_series *loss = vt_metrics_log_find(&log, "loss", false);
    assert_non_null(loss);
    assert_int_equal(loss->n, 2);
    assert_true(loss->step[1] == 20 && loss->value[1] == 2.0);
    assert_null(vt_metrics_log_find(&log, "grad_norm", false)); /* no finite value: no series */
    assert_null(vt_metrics_log_find(&log, "ranks", false));
    assert_null(vt_metrics_log_find(&log, "dev_accuracy", false));
    const vt_metric_series *acc = vt_metrics_log_find(&log, "dev_accuracy", true);
    assert_true(acc && acc->n == 1 && acc->value[0] == 0.75 && acc->time[0] == 2.5);
    const vt_metric_series *lr = vt_metrics_log_find(&log, "lr", false);
    assert_int_equal(lr->n, 3);
    assert_true(lr->time[2] == 2.5 + 0.5); /* the clock went back to 0.5: continued from 2.5 */
    vt_metrics_log_free(&log);

    const char *untimed = "{\"step\": 1, \"loss\": 1}\n{\"step\": 2, \"loss\": 0.5, \"elapsed_s\": 3}\n";
    assert_int_equal(vt_metrics_log_parse(untimed, strlen(untimed), "u", &log), VT_OK);
    assert_false(log.has_time);
    vt_metrics_log_free(&log);
}

static void expect_error(const char *text, const char *want) {
    vt_metrics_log log;
    vt_status st = vt_metrics_log_parse(text, strlen(text), "m.jsonl", &log);
    printf("  %s\n", vt_last_error());
    assert_int_equal(st, VT_ERR_FORMAT);
    assert_non_null(strstr(vt_last_error(), want));
    assert_true(log.n_series == 0 && log.series == NULL);
}

static void test_metrics_log_errors(void **state) {
    (void)state;
    expect_error("{\"step\": 1, \"loss\": 1}\n\n{\"step\": 2, \"loss\": }\n", "m.jsonl:3: not JSON");
    expect_error("{\"step\": 1}\n[1, 2]\n", "m.jsonl:2: not a JSON object");
    expect_error("{\"loss\": 1}\n", "m.jsonl:1: no finite number \"step\"");
    expect_error("{\"step\": nan, \"loss\": 1}\n", "m.jsonl:1: no finite number \"step\"");
    expect_error("{\"step\": 1, \"elapsed_s\": \"x\"}\n", "m.jsonl:1: \"elapsed_s\" is not a finite number");
    expect_error("{\"step\": 1, \"loss\": 1, \"loss\": 2}\n", "m.jsonl:1: the key \"loss\" appears twice");
    expect_error("{\"step\": 1, \"elapsed_s\": -2}\n", "m.jsonl:1: \"elapsed_s\" is not a finite number >= 0");
    expect_error("{\"step\": 1, \"n\xc3\": 1}\n", "m.jsonl:1: invalid UTF-8");
    expect_error("", "m.jsonl: no metrics lines");
    expect_error("\n  \n", "m.jsonl: no metrics lines (empty or blank lines only)");
    expect_error("{\"step\": 1, \"note\": \"nan\", \"x\": nano}\n", "m.jsonl:1: not JSON");
    vt_metrics_log log;
    assert_int_equal(vt_metrics_log_read("/nonexistent/metrics.jsonl", &log), VT_ERR_IO);
    assert_non_null(strstr(vt_last_error(), "/nonexistent/metrics.jsonl"));
}

static void test_metrics_plot(void **state) {
    (void)state;
    vt_metrics_log logs[2];
    assert_int_equal(vt_metrics_log_parse(LOG, strlen(LOG), "a", &logs[0]), VT_OK);
    const char *b = "{\"step\": 5, \"loss\": 3}\n";
    assert_int_equal(vt_metrics_log_parse(b, strlen(b), "b", &logs[1]), VT_OK);
    const char *labels[] = {"a", "b"};
    const char *want[] = {"accuracy", "loss"};
    vt_metrics_plot_options o = {.metrics = want, .n_metrics = 2};
    char *svg = vt_metrics_plot(logs, labels, 2, &o, NULL);
    assert_non_null(svg);
    assert_non_null(strstr(svg, ">dev accuracy</text>"));
    assert_non_null(strstr(svg, ">training loss</text>"));
    assert_null(strstr(svg, ">learning rate</text>"));
    assert_true(strstr(svg, ">dev accuracy</text>") < strstr(svg, ">training loss</text>")); /* the order asked */
    assert_non_null(strstr(svg, "<circle")); /* evaluations are dotted */
    free(svg);

    const char *bad[] = {"perplexity"};
    o.metrics = bad;
    o.n_metrics = 1;
    assert_null(vt_metrics_plot(logs, labels, 2, &o, NULL));
    printf("  %s\n", vt_last_error());
    assert_non_null(strstr(vt_last_error(), "no run has a metric 'perplexity' (they have: loss, lr, tokens_per_sec, "
                                            "dev_loss, dev_accuracy)"));

    o = (vt_metrics_plot_options){.x = VT_PLOT_X_TIME};
    assert_null(vt_metrics_plot(logs, labels, 2, &o, NULL)); /* b has no elapsed_s */
    assert_non_null(strstr(vt_last_error(), "b: not every line has \"elapsed_s\""));
    o.html = true;
    char *html = vt_metrics_plot(logs, labels, 1, &o, NULL);
    assert_non_null(html);
    assert_non_null(strstr(html, "time since the run started (s)"));
    free(html);
    vt_metrics_log_free(&logs[0]);
    vt_metrics_log_free(&logs[1]);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ticks_worked),   cmocka_unit_test(test_ticks_errors),
        cmocka_unit_test(test_ticks_property), cmocka_unit_test(test_tick_labels),
        cmocka_unit_test(test_svg_layout),     cmocka_unit_test(test_metrics_log),
        cmocka_unit_test(test_metrics_log_errors), cmocka_unit_test(test_metrics_plot),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
