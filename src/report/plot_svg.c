/* Line charts as SVG (the layout is documented in include/verto/plot.h). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/strbuf.h"
#include "core/utf8.h"
#include "report/xml_text.h"
#include "verto/plot.h"

enum { X_TICKS = 8, Y_TICKS = 7, LEGEND_COL_W = 220 };

/* s as XML character data: markup characters escaped, control characters and
 * bytes that are not UTF-8 shown as '?', so any file name or key is safe. */
void vt_xml_text(vt_sb *b, const char *s) {
    size_t n = strlen(s);
    for (size_t i = 0; i < n;) {
        size_t ok = i + vt_utf8_invalid_at(s + i, n - i);
        for (; i < ok; i++) {
            unsigned char c = (unsigned char)s[i];
            switch (c) {
            case '&': vt_sb_str(b, "&amp;"); break;
            case '<': vt_sb_str(b, "&lt;"); break;
            case '>': vt_sb_str(b, "&gt;"); break;
            case '"': vt_sb_str(b, "&quot;"); break;
            case '\'': vt_sb_str(b, "&apos;"); break;
            default: vt_sb_add(b, c < 0x20 || c == 0x7f ? "?" : s + i, 1);
            }
        }
        if (i < n) {
            vt_sb_str(b, "?");
            i++;
        }
    }
}

/* The range of the finite x (or y) values of a panel's series; false if none. */
static bool data_range(const vt_plot_panel *p, bool want_y, double *lo, double *hi) {
    *lo = INFINITY;
    *hi = -INFINITY;
    for (int s = 0; s < p->n_series; s++) {
        const vt_plot_series *se = &p->series[s];
        for (int64_t i = 0; i < se->n; i++) {
            if (!isfinite(se->x[i]) || !isfinite(se->y[i])) continue;
            double v = want_y ? se->y[i] : se->x[i];
            *lo = fmin(*lo, v);
            *hi = fmax(*hi, v);
        }
    }
    return *lo <= *hi;
}

typedef struct area {
    double x0, y0, x1, y1; /* pixels */
    vt_plot_ticks xt, yt;
} area;

static double px(const area *a, double x) { return a->x0 + (x - a->xt.lo) / (a->xt.hi - a->xt.lo) * (a->x1 - a->x0); }
static double py(const area *a, double y) { return a->y1 - (y - a->yt.lo) / (a->yt.hi - a->yt.lo) * (a->y1 - a->y0); }

static void axes(vt_sb *b, const area *a, const vt_plot_panel *p) {
    char label[64];
    for (int i = 0; i < a->yt.n; i++) {
        double y = py(a, a->yt.values[i]);
        vt_sb_printf(b, "<line x1=\"%.2f\" y1=\"%.2f\" x2=\"%.2f\" y2=\"%.2f\" stroke=\"#e6e6e6\"/>\n", a->x0, y, a->x1, y);
        vt_sb_printf(b, "<text x=\"%.2f\" y=\"%.2f\" text-anchor=\"end\">%s</text>\n", a->x0 - 6, y + 4,
                     vt_plot_tick_label(a->yt.values[i], &a->yt, label, sizeof label));
    }
    for (int i = 0; i < a->xt.n; i++) {
        double x = px(a, a->xt.values[i]);
        vt_sb_printf(b, "<line x1=\"%.2f\" y1=\"%.2f\" x2=\"%.2f\" y2=\"%.2f\" stroke=\"#e6e6e6\"/>\n", x, a->y0, x, a->y1);
        vt_sb_printf(b, "<text x=\"%.2f\" y=\"%.2f\" text-anchor=\"middle\">%s</text>\n", x, a->y1 + 17,
                     vt_plot_tick_label(a->xt.values[i], &a->xt, label, sizeof label));
    }
    vt_sb_printf(b, "<polyline points=\"%.2f,%.2f %.2f,%.2f %.2f,%.2f\" fill=\"none\" stroke=\"#333333\"/>\n", a->x0, a->y0,
                 a->x0, a->y1, a->x1, a->y1);
    if (p->x_label && *p->x_label) {
        vt_sb_printf(b, "<text x=\"%.2f\" y=\"%.2f\" text-anchor=\"middle\">", (a->x0 + a->x1) / 2, a->y1 + 38);
        vt_xml_text(b, p->x_label);
        vt_sb_str(b, "</text>\n");
    }
    if (p->y_label && *p->y_label) {
        double cx = 16, cy = (a->y0 + a->y1) / 2;
        vt_sb_printf(b, "<text x=\"%.2f\" y=\"%.2f\" text-anchor=\"middle\" transform=\"rotate(-90 %.2f %.2f)\">", cx, cy,
                     cx, cy);
        vt_xml_text(b, p->y_label);
        vt_sb_str(b, "</text>\n");
    }
}

/* A series as polylines broken at non-finite points, then its markers. */
static void curve(vt_sb *b, const area *a, const vt_plot_series *s) {
    const char *color = vt_plot_color(s->color);
    bool open = false;
    for (int64_t i = 0; i < s->n; i++) {
        if (!isfinite(s->x[i]) || !isfinite(s->y[i])) {
            if (open) vt_sb_str(b, "\"/>\n");
            open = false;
            continue;
        }
        if (!open)
            vt_sb_printf(b, "<polyline fill=\"none\" stroke=\"%s\" stroke-width=\"2\" stroke-linejoin=\"round\" "
                            "stroke-linecap=\"round\" points=\"", color);
        vt_sb_printf(b, "%s%.2f,%.2f", open ? " " : "", px(a, s->x[i]), py(a, s->y[i]));
        open = true;
    }
    if (open) vt_sb_str(b, "\"/>\n");
    for (int64_t i = 0; s->markers && i < s->n; i++)
        if (isfinite(s->x[i]) && isfinite(s->y[i]))
            vt_sb_printf(b, "<circle cx=\"%.2f\" cy=\"%.2f\" r=\"3\" fill=\"%s\"/>\n", px(a, s->x[i]), py(a, s->y[i]), color);
}

static vt_status panel(vt_sb *b, const vt_plot_panel *p, int index, double top) {
    area a = {.x0 = VT_PLOT_AREA_LEFT, .x1 = VT_PLOT_WIDTH - VT_PLOT_AREA_RIGHT, .y0 = top + VT_PLOT_AREA_TOP,
              .y1 = top + VT_PLOT_PANEL_H - VT_PLOT_AREA_BOTTOM};
    double xlo, xhi, ylo, yhi;
    bool any = data_range(p, false, &xlo, &xhi) && data_range(p, true, &ylo, &yhi);
    if (!any) xlo = ylo = 0, xhi = yhi = 1;
    vt_status st = vt_plot_nice_ticks(xlo, xhi, X_TICKS, &a.xt);
    if (st == VT_OK) st = vt_plot_nice_ticks(ylo, yhi, Y_TICKS, &a.yt);
    if (st != VT_OK) return st;
    vt_sb_printf(b, "<g class=\"panel\" data-plot-area=\"%.17g %.17g %.17g %.17g\" data-x-domain=\"%.17g %.17g\" "
                    "data-y-domain=\"%.17g %.17g\">\n", a.x0, a.y0, a.x1, a.y1, a.xt.lo, a.xt.hi, a.yt.lo, a.yt.hi);
    if (p->title && *p->title) {
        vt_sb_printf(b, "<text x=\"%.2f\" y=\"%.2f\" text-anchor=\"middle\" font-size=\"14\" font-weight=\"bold\">",
                     (a.x0 + a.x1) / 2, top + 22);
        vt_xml_text(b, p->title);
        vt_sb_str(b, "</text>\n");
    }
    axes(b, &a, p);
    if (!any)
        vt_sb_printf(b, "<text x=\"%.2f\" y=\"%.2f\" text-anchor=\"middle\" fill=\"#7f7f7f\">no data</text>\n",
                     (a.x0 + a.x1) / 2, (a.y0 + a.y1) / 2);
    /* Curves stay inside the plot area (and the width of a line around it, so that a curve along an axis shows). */
    vt_sb_printf(b, "<clipPath id=\"area%d\"><rect x=\"%.2f\" y=\"%.2f\" width=\"%.2f\" height=\"%.2f\"/></clipPath>\n"
                    "<g clip-path=\"url(#area%d)\">\n", index, a.x0 - 3, a.y0 - 3, a.x1 - a.x0 + 6, a.y1 - a.y0 + 6, index);
    for (int s = 0; s < p->n_series; s++) curve(b, &a, &p->series[s]);
    vt_sb_str(b, "</g>\n</g>\n");
    return VT_OK;
}

static int legend_rows(const vt_plot_figure *f) {
    int shown = 0;
    for (int i = 0; i < f->n_legend; i++) shown += f->legend[i] != NULL;
    return (shown + VT_PLOT_LEGEND_COLS - 1) / VT_PLOT_LEGEND_COLS;
}

static void legend(vt_sb *b, const vt_plot_figure *f, double top) {
    int k = 0;
    for (int i = 0; i < f->n_legend; i++) {
        if (!f->legend[i]) continue;
        double x = VT_PLOT_AREA_LEFT + (k % VT_PLOT_LEGEND_COLS) * LEGEND_COL_W;
        double y = top + (k / VT_PLOT_LEGEND_COLS) * VT_PLOT_LEGEND_ROW + 14;
        vt_sb_printf(b, "<line x1=\"%.2f\" y1=\"%.2f\" x2=\"%.2f\" y2=\"%.2f\" stroke=\"%s\" stroke-width=\"3\"/>\n", x,
                     y - 4, x + 22, y - 4, vt_plot_color(i));
        vt_sb_printf(b, "<text x=\"%.2f\" y=\"%.2f\">", x + 28, y);
        vt_xml_text(b, f->legend[i]);
        vt_sb_str(b, "</text>\n");
        k++;
    }
}

static vt_status svg_into(vt_sb *b, const vt_plot_figure *f) {
    if (!f || f->n_panels < 1 || !f->panels || (f->n_legend > 0 && !f->legend) || f->n_legend < 0)
        return vt_error(VT_ERR_INVALID_ARG, "plot: a figure needs at least one panel");
    for (int i = 0; i < f->n_panels; i++)
        if (f->panels[i].n_series < 0 || (f->panels[i].n_series > 0 && !f->panels[i].series))
            return vt_error(VT_ERR_INVALID_ARG, "plot: panel %d has no series array", i);
    bool titled = f->title && *f->title;
    double legend_top = titled ? VT_PLOT_TITLE_H : 8;
    double panels_top = legend_top + legend_rows(f) * VT_PLOT_LEGEND_ROW;
    double height = panels_top + (double)f->n_panels * VT_PLOT_PANEL_H;
    vt_sb_printf(b, "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%.0f\" viewBox=\"0 0 %d %.0f\" "
                    "font-family=\"DejaVu Sans, Liberation Sans, Arial, sans-serif\" font-size=\"12\" fill=\"#222222\">\n",
                 VT_PLOT_WIDTH, height, VT_PLOT_WIDTH, height);
    vt_sb_printf(b, "<rect x=\"0\" y=\"0\" width=\"%d\" height=\"%.0f\" fill=\"#ffffff\"/>\n", VT_PLOT_WIDTH, height);
    if (titled) {
        vt_sb_printf(b, "<text x=\"%d\" y=\"24\" text-anchor=\"middle\" font-size=\"16\" font-weight=\"bold\">",
                     VT_PLOT_WIDTH / 2);
        vt_xml_text(b, f->title);
        vt_sb_str(b, "</text>\n");
    }
    legend(b, f, legend_top);
    for (int i = 0; i < f->n_panels; i++) {
        vt_status st = panel(b, &f->panels[i], i, panels_top + (double)i * VT_PLOT_PANEL_H);
        if (st != VT_OK) return st;
    }
    vt_sb_str(b, "</svg>\n");
    return VT_OK;
}

static char *finish(vt_sb *b, vt_status st, size_t *len) {
    if (st != VT_OK) {
        vt_sb_free(b);
        return NULL;
    }
    char *s = vt_sb_take(b, len);
    if (!s) vt_error(VT_ERR_NOMEM, "plot: out of memory");
    return s;
}

char *vt_plot_svg(const vt_plot_figure *f, size_t *len) {
    vt_sb b = {0};
    return finish(&b, svg_into(&b, f), len);
}

char *vt_plot_html(const vt_plot_figure *f, size_t *len) {
    vt_sb b = {0};
    vt_sb_str(&b, "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>");
    vt_xml_text(&b, f && f->title && *f->title ? f->title : "verto plot");
    vt_sb_str(&b, "</title>\n<style>body{margin:0;background:#ffffff}svg{display:block}</style></head><body>\n");
    vt_status st = svg_into(&b, f);
    vt_sb_str(&b, "</body></html>\n");
    return finish(&b, st, len);
}
