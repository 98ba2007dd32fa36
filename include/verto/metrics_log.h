/* Reading a run's metrics.jsonl (what pretrain and finetune write: one JSON
 * object a line; training lines {"step", "elapsed_s", "loss", "lr",
 * "grad_norm", "tokens_per_sec", ...}, evaluation lines {"step", "eval": true,
 * "elapsed_s", "dev_accuracy", ...}) into one series per metric, and drawing
 * several runs' metrics as a figure (plot.h): one panel per metric, one colour
 * per run. */
#ifndef VERTO_METRICS_LOG_H
#define VERTO_METRICS_LOG_H

#include "verto/export.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "verto/error.h"

#ifdef __cplusplus
extern "C" {
#endif

/* One metric over a run: the lines that hold a finite value for it, in file order. */
typedef struct vt_metric_series {
    char *name;    /* the key as in the file */
    bool eval;     /* from evaluation lines ("eval": true); a name may occur once as each */
    int64_t n, cap;
    double *step;  /* (n) the line's "step" */
    double *time;  /* (n) seconds since the run started (the line's "elapsed_s"), NaN where absent */
    double *value; /* (n) */
} vt_metric_series;

typedef struct vt_metrics_log {
    int n_series;
    vt_metric_series *series; /* (n_series) in order of first appearance */
    int64_t lines;            /* metric lines read (blank lines not counted) */
    int64_t skipped;          /* values left out: NaN, inf or null (nan/inf as printf writes them are read) */
    bool has_time;            /* every line had "elapsed_s" */
} vt_metrics_log;

/* Parses metrics.jsonl text s[0..n); `name` (the file) starts every error
 * message. Each non-blank line must be a JSON object with a finite number
 * "step"; "elapsed_s", when present, a finite number >= 0. Every other number is a
 * metric, except "ranks"; strings, booleans, arrays and objects are ignored.
 * "elapsed_s" that goes back (a run resumed from a checkpoint restarts its
 * clock) continues from the last time seen, so time never runs backwards.
 * Errors: VT_ERR_FORMAT naming name:line (not JSON, not an object, no step,
 * invalid UTF-8) or the file (no lines at all). On error *log is empty. */
VT_API vt_status vt_metrics_log_parse(const char *s, size_t n, const char *name, vt_metrics_log *log);

/* Reads and parses the file at path (at most 1 GiB). */
VT_API vt_status vt_metrics_log_read(const char *path, vt_metrics_log *log);

VT_API void vt_metrics_log_free(vt_metrics_log *log);

/* The series named `name` (eval: from evaluation lines), or NULL. */
VT_API const vt_metric_series *vt_metrics_log_find(const vt_metrics_log *log, const char *name, bool eval);

typedef enum vt_plot_x_axis { VT_PLOT_X_STEP, VT_PLOT_X_TIME } vt_plot_x_axis;

typedef struct vt_metrics_plot_options {
    vt_plot_x_axis x;             /* step, or time since the run started (s, min or h by the range) */
    const char *const *metrics;   /* the panels, in order; NULL: every metric of any run, in order of appearance */
    int n_metrics;
    const char *title;            /* NULL: none */
    bool html;                    /* an HTML page around the SVG */
} vt_metrics_plot_options;

/* Draws runs logs[0..n_logs) as one figure: a panel per metric (titled by a
 * readable name, with its unit), a colour per run, named labels[i] in the
 * legend; evaluation series with a dot at each evaluation. A requested metric
 * matches a key exactly or with "dev_" in front ("accuracy": "dev_accuracy"),
 * training lines first. Returns the SVG (or HTML) text, malloc'd, or NULL
 * with VT_ERR_INVALID_ARG naming a metric no run has (and those there are),
 * or, for time, the first run without "elapsed_s" on every line. */
VT_API char *vt_metrics_plot(const vt_metrics_log *logs, const char *const *labels, int n_logs,
                             const vt_metrics_plot_options *o, size_t *len);

#ifdef __cplusplus
}
#endif
#endif
