/* libFuzzer target: the metrics.jsonl reader (vt_metrics_log_parse) and the
 * figure drawn from what it read (vt_metrics_plot). Any input must give VT_OK
 * with a consistent log (at least one line, every series non-empty with finite
 * values and steps, distinct (name, eval) pairs, time never going back when
 * every line had one) and then an SVG that is valid UTF-8, or an error whose
 * message names the file; never a crash, leak or sanitizer report.
 * Seeds: fuzz/corpus/metrics_log/. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/utf8.h"
#include "verto/error.h"
#include "verto/metrics_log.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    vt_metrics_log log;
    vt_status st = vt_metrics_log_parse((const char *)data, size, "fuzz.jsonl", &log);
    if (st != VT_OK) {
        if (!strstr(vt_last_error(), "fuzz.jsonl") || log.series || log.n_series) abort();
        return 0;
    }
    if (log.lines < 1 || log.skipped < 0) abort();
    for (int i = 0; i < log.n_series; i++) {
        const vt_metric_series *s = &log.series[i];
        if (s->n < 1 || !s->name) abort();
        for (int j = 0; j < i; j++)
            if (log.series[j].eval == s->eval && !strcmp(log.series[j].name, s->name)) abort();
        for (int64_t k = 0; k < s->n; k++) {
            if (!isfinite(s->value[k]) || !isfinite(s->step[k])) abort();
            if (log.has_time && (!isfinite(s->time[k]) || (k && s->time[k] < s->time[k - 1]))) abort();
        }
    }
    const char *label = "run";
    vt_metrics_plot_options o = {.x = log.has_time ? VT_PLOT_X_TIME : VT_PLOT_X_STEP, .title = "fuzz"};
    size_t len = 0;
    char *svg = vt_metrics_plot(&log, &label, 1, &o, &len);
    if (svg) {
        if (len != strlen(svg) || !vt_utf8_valid(svg, len)) abort();
        free(svg);
    } else if (log.n_series > 0 && vt_last_status() != VT_ERR_NOMEM) {
        abort(); /* a log with series always draws */
    }
    vt_metrics_log_free(&log);
    return 0;
}
