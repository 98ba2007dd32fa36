/* Line charts as self-contained SVG, written by verto itself: no plotting
 * library at run time, no external assets (fonts are the viewer's sans-serif).
 * Data series in, an SVG (or an HTML page holding it) out; verto plot and
 * auto's report draw training curves with it (metrics_log.h builds the
 * figure from metrics.jsonl files).
 *
 * Layout, in SVG user units (= CSS pixels at zoom 1), so a test can find a
 * point of a curve on a screenshot:
 *   - the figure is VT_PLOT_WIDTH wide; a title band of VT_PLOT_TITLE_H when
 *     the figure has a title, then a legend band of VT_PLOT_LEGEND_ROW per
 *     legend row (VT_PLOT_LEGEND_COLS entries a row), then the panels one
 *     below the other, each VT_PLOT_PANEL_H tall;
 *   - in a panel that starts at y = top, the plot area spans x from
 *     VT_PLOT_AREA_LEFT to VT_PLOT_WIDTH - VT_PLOT_AREA_RIGHT and y from
 *     top + VT_PLOT_AREA_TOP to top + VT_PLOT_PANEL_H - VT_PLOT_AREA_BOTTOM;
 *   - a value (x, y) is drawn at px = x0 + (x - xlo) / (xhi - xlo) * (x1 - x0),
 *     py = y1 - (y - ylo) / (yhi - ylo) * (y1 - y0), where [xlo, xhi] and
 *     [ylo, yhi] are the axes' round-valued ranges (vt_plot_nice_ticks of the
 *     data's range).
 * Each panel's <g> carries these numbers: data-plot-area="x0 y0 x1 y1",
 * data-x-domain="xlo xhi", data-y-domain="ylo yhi" (%.17g), so nobody has to
 * recompute them. Background white, grid lines #e6e6e6, axes #333333, series
 * 2 px wide in palette colour vt_plot_color(i). */
#ifndef VERTO_PLOT_H
#define VERTO_PLOT_H

#include "verto/export.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "verto/error.h"

#ifdef __cplusplus
extern "C" {
#endif

enum {
    VT_PLOT_WIDTH = 760,
    VT_PLOT_TITLE_H = 36,
    VT_PLOT_LEGEND_ROW = 22,
    VT_PLOT_LEGEND_COLS = 3,
    VT_PLOT_PANEL_H = 300,
    VT_PLOT_AREA_LEFT = 84,
    VT_PLOT_AREA_RIGHT = 24,
    VT_PLOT_AREA_TOP = 36,
    VT_PLOT_AREA_BOTTOM = 54,
    VT_PLOT_MAX_TICKS = 16,
    VT_PLOT_PALETTE = 10,
};

/* An axis: round tick values covering a data range. */
typedef struct vt_plot_ticks {
    double lo, hi;  /* the axis range: the first and last tick */
    double step;    /* 1, 2, 2.5 or 5 times a power of ten */
    int n;          /* ticks lo, lo + step, ..., hi (2 .. VT_PLOT_MAX_TICKS) */
    double values[VT_PLOT_MAX_TICKS];
    int decimals;   /* digits after the point that the step needs (0 for >= 1) */
} vt_plot_ticks;

/* The ticks of an axis over [lo, hi] with at most max_ticks ticks (3 ..
 * VT_PLOT_MAX_TICKS: a range around 0 needs three): the smallest round step (1, 2, 2.5, 5 x 10^k) for which
 * floor(lo / step) .. ceil(hi / step) makes at most max_ticks ticks. A range
 * of one value is widened around it (by 1 at 0, else 10% of it). Values that
 * are zero within rounding are exactly 0. VT_ERR_INVALID_ARG when lo or hi is
 * not finite, lo > hi, or max_ticks is out of range. */
VT_API vt_status vt_plot_nice_ticks(double lo, double hi, int max_ticks, vt_plot_ticks *t);

/* A tick label for v on axis t, into buf (size >= 32): plain decimals, as many as the step needs
 * ("0.25", "0.00", "1200") while the step is >= 1e-4 and values are below 1e6,
 * otherwise mantissa and short exponent ("2e-5", "1.5e6", "0"). Returns buf. */
VT_API const char *vt_plot_tick_label(double v, const vt_plot_ticks *t, char *buf, size_t size);

/* The palette colour i (mod VT_PLOT_PALETTE) as "#rrggbb"; static. */
VT_API const char *vt_plot_color(int i);

/* One curve: n points (x ascending is not required: drawn in order). Points
 * with a non-finite coordinate are left out (the line is broken there). */
typedef struct vt_plot_series {
    int64_t n;
    const double *x, *y; /* (n) */
    int color;           /* palette index; the legend names it */
    bool markers;        /* a dot on every point (sparse evaluations) */
} vt_plot_series;

typedef struct vt_plot_panel {
    const char *title;   /* UTF-8; escaped when written */
    const char *x_label, *y_label;
    const vt_plot_series *series;
    int n_series;
} vt_plot_panel;

typedef struct vt_plot_figure {
    const char *title;          /* NULL or "": no title band */
    const char *const *legend;  /* legend[i] names palette colour i; NULL entries are left out */
    int n_legend;
    const vt_plot_panel *panels;
    int n_panels;               /* >= 1 */
} vt_plot_figure;

/* The figure as one SVG document (malloc'd, NUL-terminated, *len bytes when
 * len is not NULL; the caller frees). A panel without a finite point draws
 * its axes over [0, 1] and says "no data". NULL with vt_last_error() on bad
 * arguments or out of memory. */
VT_API char *vt_plot_svg(const vt_plot_figure *f, size_t *len);

/* The same figure in a minimal HTML page (the SVG inline, page title from the
 * figure's, no margins), malloc'd. */
VT_API char *vt_plot_html(const vt_plot_figure *f, size_t *len);

#ifdef __cplusplus
}
#endif
#endif
