/* Several runs' metrics.jsonl as one figure: a panel per metric, a colour per
 * run (include/verto/metrics_log.h). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/strbuf.h"
#include "verto/metrics_log.h"
#include "verto/plot.h"

typedef struct metric_key {
    const char *name;
    bool eval;
} metric_key;

/* Readable titles and units of what the trainer writes; other keys are shown
 * with their underscores as spaces. */
static const struct {
    const char *key, *title, *unit;
} KNOWN[] = {
    {"loss", "training loss", "loss"},
    {"lr", "learning rate", "learning rate"},
    {"grad_norm", "gradient norm", "L2 norm"},
    {"tokens_per_sec", "throughput", "tokens/s"},
    {"step_ms", "time per step", "ms"},
    {"comm_wait_ms", "waiting for gradients", "ms per step"},
};

static void title_of(metric_key k, vt_sb *title, vt_sb *unit) {
    for (size_t i = 0; i < sizeof KNOWN / sizeof *KNOWN; i++)
        if (!k.eval && !strcmp(k.name, KNOWN[i].key)) {
            vt_sb_str(title, KNOWN[i].title);
            vt_sb_str(unit, KNOWN[i].unit);
            return;
        }
    const char *rest = k.name;
    if (!strncmp(rest, "dev_", 4)) {
        vt_sb_str(title, "dev ");
        rest += 4;
    } else if (k.eval) {
        vt_sb_str(title, "evaluation: ");
    }
    size_t len = strlen(rest);
    bool ms = len > 3 && !strcmp(rest + len - 3, "_ms");
    for (const char *c = rest; *c; c++) vt_sb_add(title, *c == '_' ? " " : c, 1);
    vt_sb_str(unit, ms ? "ms" : k.name);
}

static bool has_key(const metric_key *keys, int n, metric_key k) {
    for (int i = 0; i < n; i++)
        if (keys[i].eval == k.eval && !strcmp(keys[i].name, k.name)) return true;
    return false;
}

static bool any_run_has(const vt_metrics_log *logs, int n_logs, metric_key k) {
    for (int r = 0; r < n_logs; r++)
        if (vt_metrics_log_find(&logs[r], k.name, k.eval)) return true;
    return false;
}

static vt_status unknown_metric(const vt_metrics_log *logs, int n_logs, const char *want) {
    vt_sb have = {0};
    int shown = 0;
    for (int r = 0; r < n_logs; r++)
        for (int i = 0; i < logs[r].n_series; i++) {
            bool seen = false; /* listed already by an earlier run or as the other kind */
            for (int q = 0; q <= r && !seen; q++)
                for (int j = 0; j < (q == r ? i : logs[q].n_series) && !seen; j++)
                    seen = !strcmp(logs[q].series[j].name, logs[r].series[i].name);
            if (seen) continue;
            vt_sb_printf(&have, "%s%s", shown++ ? ", " : "", logs[r].series[i].name);
        }
    char *list = vt_sb_take(&have, NULL);
    vt_status st = vt_error(VT_ERR_INVALID_ARG, "no run has a metric '%s' (they have: %s)", want, list ? list : "?");
    free(list);
    return st;
}

/* The panels' metrics: those asked for (exactly, then with "dev_" in front;
 * training lines before evaluation lines), else every one, in order of appearance. */
static vt_status choose_keys(const vt_metrics_log *logs, int n_logs, const vt_metrics_plot_options *o,
                             metric_key **out, int *n_out, char ***owned, int *n_owned) {
    int cap = 0;
    for (int r = 0; r < n_logs; r++) cap += logs[r].n_series;
    if (o->metrics && o->n_metrics > cap) cap = o->n_metrics;
    metric_key *keys = calloc((size_t)cap + 1, sizeof *keys);
    char **names = calloc((size_t)(o->metrics ? o->n_metrics : 0) + 1, sizeof *names);
    if (!keys || !names) {
        free(keys);
        free(names);
        return vt_error(VT_ERR_NOMEM, "plot: out of memory");
    }
    *out = keys;
    *owned = names;
    *n_out = *n_owned = 0;
    int n = 0;
    if (o->metrics) {
        for (int m = 0; m < o->n_metrics; m++) {
            const char *want = o->metrics[m];
            size_t len = strlen(want);
            char *dev = malloc(len + 5);
            if (!dev) return vt_error(VT_ERR_NOMEM, "plot: out of memory");
            memcpy(dev, "dev_", 4);
            memcpy(dev + 4, want, len + 1);
            names[(*n_owned)++] = dev;
            const metric_key tries[] = {{want, false}, {want, true}, {dev, false}, {dev, true}};
            int t = 0;
            while (t < 4 && !any_run_has(logs, n_logs, tries[t])) t++;
            if (t == 4) return unknown_metric(logs, n_logs, want);
            if (!has_key(keys, n, tries[t])) keys[n++] = tries[t];
        }
    } else {
        for (int r = 0; r < n_logs; r++)
            for (int i = 0; i < logs[r].n_series; i++) {
                metric_key k = {logs[r].series[i].name, logs[r].series[i].eval};
                if (!has_key(keys, n, k)) keys[n++] = k;
            }
    }
    *n_out = n;
    return VT_OK;
}

/* Seconds, minutes or hours, whichever keeps the axis numbers short. */
static void time_unit(const vt_metrics_log *logs, int n_logs, double *scale, const char **label) {
    double most = 0;
    for (int r = 0; r < n_logs; r++)
        for (int i = 0; i < logs[r].n_series; i++)
            for (int64_t j = 0; j < logs[r].series[i].n; j++)
                if (isfinite(logs[r].series[i].time[j])) most = fmax(most, logs[r].series[i].time[j]);
    if (most <= 300) *scale = 1, *label = "time since the run started (s)";
    else if (most <= 5 * 3600) *scale = 1.0 / 60, *label = "time since the run started (min)";
    else *scale = 1.0 / 3600, *label = "time since the run started (h)";
}

char *vt_metrics_plot(const vt_metrics_log *logs, const char *const *labels, int n_logs,
                      const vt_metrics_plot_options *o, size_t *len) {
    if (!logs || n_logs < 1 || !o || (o->n_metrics > 0 && !o->metrics)) {
        vt_error(VT_ERR_INVALID_ARG, "plot: no runs to draw");
        return NULL;
    }
    for (int r = 0; o->x == VT_PLOT_X_TIME && r < n_logs; r++)
        if (!logs[r].has_time) {
            vt_error(VT_ERR_INVALID_ARG, "%s: not every line has \"elapsed_s\" (older verto runs do not); plot it against step",
                     labels && labels[r] ? labels[r] : "a run");
            return NULL;
        }
    metric_key *keys = NULL;
    char **owned = NULL;
    int n_keys = 0, n_owned = 0;
    vt_status st = choose_keys(logs, n_logs, o, &keys, &n_keys, &owned, &n_owned);
    double scale = 1;
    const char *x_label = "step";
    if (o->x == VT_PLOT_X_TIME) time_unit(logs, n_logs, &scale, &x_label);

    vt_plot_panel *panels = calloc((size_t)n_keys + 1, sizeof *panels);
    vt_plot_series *series = calloc((size_t)n_keys * (size_t)n_logs + 1, sizeof *series);
    double **xs = calloc((size_t)n_keys * (size_t)n_logs + 1, sizeof *xs);
    char **texts = calloc(2 * (size_t)n_keys + 1, sizeof *texts);
    int n_series = 0;
    if (st == VT_OK && (!panels || !series || !xs || !texts)) st = vt_error(VT_ERR_NOMEM, "plot: out of memory");
    if (st == VT_OK && n_keys == 0) st = vt_error(VT_ERR_INVALID_ARG, "plot: the runs have no metrics to draw");
    for (int k = 0; k < n_keys && st == VT_OK; k++) {
        vt_sb title = {0}, unit = {0};
        title_of(keys[k], &title, &unit);
        texts[2 * k] = vt_sb_take(&title, NULL);
        texts[2 * k + 1] = vt_sb_take(&unit, NULL);
        if (!texts[2 * k] || !texts[2 * k + 1]) st = vt_error(VT_ERR_NOMEM, "plot: out of memory");
        panels[k] = (vt_plot_panel){.title = texts[2 * k], .x_label = x_label, .y_label = texts[2 * k + 1],
                                    .series = series + n_series};
        for (int r = 0; r < n_logs && st == VT_OK; r++) {
            const vt_metric_series *m = vt_metrics_log_find(&logs[r], keys[k].name, keys[k].eval);
            if (!m || m->n == 0) continue;
            double *x = malloc((size_t)m->n * sizeof *x);
            if (!(xs[n_series] = x)) {
                st = vt_error(VT_ERR_NOMEM, "plot: out of memory");
                break;
            }
            for (int64_t j = 0; j < m->n; j++) x[j] = o->x == VT_PLOT_X_TIME ? m->time[j] * scale : m->step[j];
            series[n_series++] = (vt_plot_series){.n = m->n, .x = x, .y = m->value, .color = r, .markers = m->eval};
            panels[k].n_series++;
        }
    }
    char *out = NULL;
    if (st == VT_OK) {
        vt_plot_figure f = {.title = o->title, .legend = labels, .n_legend = labels ? n_logs : 0, .panels = panels,
                            .n_panels = n_keys};
        out = o->html ? vt_plot_html(&f, len) : vt_plot_svg(&f, len);
    }
    for (int i = 0; i < n_series; i++) free(xs[i]);
    for (int i = 0; texts && i < 2 * n_keys; i++) free(texts[i]);
    for (int i = 0; i < n_owned; i++) free(owned[i]);
    free(xs);
    free(texts);
    free(series);
    free(panels);
    free(keys);
    free(owned);
    return out;
}
