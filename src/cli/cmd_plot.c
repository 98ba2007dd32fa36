/* verto plot: training and dev curves of one or more runs' metrics.jsonl as
 * a self-contained SVG or HTML file. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cli/args.h"
#include "cli/commands.h"
#include "verto/fileio.h"
#include "verto/metrics_log.h"

typedef struct run_arg {
    char *file;  /* the metrics.jsonl to read */
    char *label; /* the legend's name: the run's directory */
} run_arg;

/* RUN is a run directory or a metrics file; the label is its directory. */
static int resolve(const char *arg, run_arg *r) {
    size_t n = strlen(arg);
    while (n > 1 && arg[n - 1] == '/') n--;
    bool dir = vt_is_dir(arg);
    r->file = malloc(n + 16);
    r->label = malloc(n + 2);
    if (!r->file || !r->label) return cli_fail("out of memory");
    if (dir) {
        snprintf(r->file, n + 16, "%.*s/metrics.jsonl", (int)n, arg);
        snprintf(r->label, n + 2, "%.*s", (int)n, arg);
        return 0;
    }
    snprintf(r->file, n + 16, "%s", arg);
    const char *slash = memrchr(arg, '/', n);
    const char *base = slash ? slash + 1 : arg;
    if (strcmp(base, "metrics.jsonl")) snprintf(r->label, n + 2, "%s", arg); /* a file of another name names itself */
    else if (!slash) snprintf(r->label, n + 2, ".");
    else snprintf(r->label, n + 2, "%.*s", slash == arg ? 1 : (int)(slash - arg), arg);
    return 0;
}

static const char *last_part(const char *s) {
    const char *slash = strrchr(s, '/');
    return slash && slash[1] ? slash + 1 : s;
}

/* The labels' last path parts when those are all different (runs/a, runs/b: a, b). */
static void shorten_labels(run_arg *runs, int n) {
    for (int i = 0; i < n; i++)
        for (int j = 0; j < i; j++)
            if (!strcmp(last_part(runs[i].label), last_part(runs[j].label))) return;
    for (int i = 0; i < n; i++) memmove(runs[i].label, last_part(runs[i].label), strlen(last_part(runs[i].label)) + 1);
}

/* "loss,accuracy" into a list of names (malloc'd copy in *buf). */
static int split_metrics(const char *list, char **buf, const char ***names, int *n) {
    *buf = strdup(list);
    *names = calloc(strlen(list) + 1, sizeof **names);
    if (!*buf || !*names) return cli_fail("out of memory");
    *n = 0;
    for (char *save = NULL, *tok = strtok_r(*buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save))
        (*names)[(*n)++] = tok;
    if (*n == 0) return cli_fail("--y needs metric names, e.g. --y loss,dev_accuracy");
    return 0;
}

static bool ends_with(const char *s, const char *tail) {
    size_t n = strlen(s), t = strlen(tail);
    return n >= t && !strcasecmp(s + n - t, tail);
}

int cmd_plot(int argc, char **argv) {
    const char *out = NULL, *x = "step", *y = NULL, *title = NULL;
    const cli_option opts[] = {
        {"-o|--output", CLI_STRING, &out, "FILE", "FILE.svg or FILE.html (a page holding the SVG)"},
        {"--x", CLI_STRING, &x, "step|time", "the horizontal axis: optimizer step (default) or time since the run started"},
        {"--y", CLI_STRING, &y, "M1,M2,...", "the panels, one per metric (default: every metric of the runs); "
                                             "'accuracy' finds dev_accuracy"},
        {"--title", CLI_STRING, &title, "TEXT", "a title above the panels"},
        {0}};
    char **pos = NULL;
    int n_pos = 0;
    int rc = cli_parse(argc, argv, opts, "verto plot RUN/metrics.jsonl [RUN ...] -o FILE.svg|FILE.html [options]", &pos,
                       &n_pos);
    if (rc != CLI_CONTINUE) return rc == CLI_HELP ? 0 : rc;
    vt_metrics_plot_options po = {.title = title};
    run_arg *runs = n_pos ? calloc((size_t)n_pos, sizeof *runs) : NULL;
    vt_metrics_log *logs = n_pos ? calloc((size_t)n_pos, sizeof *logs) : NULL;
    const char **labels = n_pos ? calloc((size_t)n_pos, sizeof *labels) : NULL;
    char *names_buf = NULL, *text = NULL;
    const char **names = NULL;
    int n_read = 0;
    if (n_pos == 0) rc = cli_fail("plot needs at least one run (a directory or its metrics.jsonl)");
    else if (!out) rc = cli_fail("plot needs -o FILE.svg or FILE.html");
    else if (!runs || !logs || !labels) rc = cli_fail("out of memory");
    else if (!ends_with(out, ".svg") && !ends_with(out, ".html") && !ends_with(out, ".htm"))
        rc = cli_fail("-o %s: the name must end in .svg or .html (it decides the format)", out);
    else if (strcmp(x, "step") && strcmp(x, "time")) rc = cli_fail("--x %s: expected step or time", x);
    else rc = y ? split_metrics(y, &names_buf, &names, &po.n_metrics) : 0;
    po.metrics = names;
    po.html = out && !ends_with(out, ".svg");
    po.x = !strcmp(x, "time") ? VT_PLOT_X_TIME : VT_PLOT_X_STEP;
    for (int i = 0; i < n_pos && rc == 0; i++) rc = resolve(pos[i], &runs[i]);
    for (int i = 0; i < n_pos && rc == 0; i++, n_read++)
        if (vt_metrics_log_read(runs[i].file, &logs[i]) != VT_OK) rc = cli_fail("%s", vt_last_error());
    if (rc == 0) {
        shorten_labels(runs, n_pos);
        for (int i = 0; i < n_pos; i++) labels[i] = runs[i].label;
        size_t len = 0;
        if (!(text = vt_metrics_plot(logs, labels, n_pos, &po, &len))) rc = cli_fail("%s", vt_last_error());
        else if (vt_write_file_atomic(out, text, len) != VT_OK) rc = cli_fail("%s", vt_last_error());
    }
    if (rc == 0) {
        printf("wrote %s (%d run%s)\n", out, n_pos, n_pos == 1 ? "" : "s");
        for (int i = 0; i < n_pos; i++) {
            printf("  %s: %lld lines, %d metrics", runs[i].file, (long long)logs[i].lines, logs[i].n_series);
            if (logs[i].skipped) printf(", %lld NaN/inf/null values skipped", (long long)logs[i].skipped);
            putchar('\n');
        }
    }
    for (int i = 0; i < n_read; i++) vt_metrics_log_free(&logs[i]);
    for (int i = 0; runs && i < n_pos; i++) {
        free(runs[i].file);
        free(runs[i].label);
    }
    free(text);
    free(names_buf);
    free(names);
    free(labels);
    free(logs);
    free(runs);
    free(pos);
    return rc;
}
