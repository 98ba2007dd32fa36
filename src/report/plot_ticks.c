/* Round tick values for a plot axis, and their labels. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "verto/plot.h"

/* Ticks floor(lo/step) .. ceil(hi/step), counted with a little slack so that
 * lo = 0.3 with step 0.1 (0.30000000000000004 / 0.1) stays at 3, not 4. */
static void tick_span(double lo, double hi, double step, double *first, double *last) {
    *first = floor(lo / step + 1e-9);
    *last = ceil(hi / step - 1e-9);
}

vt_status vt_plot_nice_ticks(double lo, double hi, int max_ticks, vt_plot_ticks *t) {
    if (!t || !isfinite(lo) || !isfinite(hi) || lo > hi)
        return vt_error(VT_ERR_INVALID_ARG, "plot axis: the range [%g, %g] is not a finite interval", lo, hi);
    if (max_ticks < 3 || max_ticks > VT_PLOT_MAX_TICKS)
        return vt_error(VT_ERR_INVALID_ARG, "plot axis: %d ticks asked for (3 .. %d)", max_ticks, VT_PLOT_MAX_TICKS);
    if (hi == lo) {
        double pad = lo == 0 ? 1 : fabs(lo) * 0.1;
        lo -= pad;
        hi += pad;
    }
    if (!isfinite(hi - lo))
        return vt_error(VT_ERR_INVALID_ARG, "plot axis: the range [%g, %g] is too wide", lo, hi);
    static const double MULT[] = {1, 2, 2.5, 5};
    int k = (int)floor(log10((hi - lo) / (max_ticks - 1)));
    double step = 0, first = 0, last = 0;
    int decimals = 0;
    /* Up a few magnitudes at most: the first candidate that fits is the answer. */
    for (int e = k; e <= k + 2 && !step; e++)
        for (int m = 0; m < 4; m++) {
            double s = MULT[m] * pow(10, e);
            tick_span(lo, hi, s, &first, &last);
            if (last - first + 1 <= max_ticks) {
                step = s;
                decimals = e < 0 ? -e + (m == 2) : e == 0 && m == 2 ? 1 : 0;
                break;
            }
        }
    if (!step) return vt_error(VT_ERR_INVALID_ARG, "plot axis: no round step for [%g, %g]", lo, hi);
    memset(t, 0, sizeof *t);
    t->step = step;
    t->decimals = decimals;
    t->n = (int)(last - first) + 1;
    if (t->n < 2) t->n = 2; /* lo == hi on a tick after widening cannot happen, but keep two ticks */
    for (int i = 0; i < t->n; i++) {
        double v = (first + i) * step;
        t->values[i] = fabs(v) < step * 1e-9 ? 0 : v;
    }
    t->lo = t->values[0];
    t->hi = t->values[t->n - 1];
    return VT_OK;
}

/* "2e-05" -> "2e-5", "1.5e+06" -> "1.5e6". */
static void short_exponent(char *s) {
    char *e = strchr(s, 'e');
    if (!e) return;
    char *r = e + 1, *w = e + 1;
    if (*r == '+') r++;
    else if (*r == '-') *w++ = *r++;
    while (*r == '0' && r[1]) r++;
    memmove(w, r, strlen(r) + 1);
}

const char *vt_plot_tick_label(double v, const vt_plot_ticks *t, char *buf, size_t size) {
    double big = fmax(fabs(t->lo), fabs(t->hi));
    if (t->step >= 1e-4 && big < 1e6) {
        snprintf(buf, size, "%.*f", t->decimals, v);
    } else if (v == 0) {
        snprintf(buf, size, "0");
    } else {
        /* Significant digits: from v's magnitude down to the step's (one more for 2.5). */
        int mag = (int)floor(log10(fabs(v))), smag = (int)floor(log10(t->step) + 1e-9);
        double lead = t->step / pow(10, smag);
        int digits = mag - smag + 1 + (fabs(lead - 2.5) < 1e-6);
        if (digits < 1) digits = 1;
        snprintf(buf, size, "%.*e", digits - 1, v);
        /* Trailing zeros of the mantissa ("1.50e6" -> "1.5e6"). */
        char *e = strchr(buf, 'e'), *z = e;
        while (z > buf && z[-1] == '0') z--;
        if (z > buf && z[-1] == '.') z--;
        memmove(z, e, strlen(e) + 1);
        short_exponent(buf);
    }
    return buf;
}

const char *vt_plot_color(int i) {
    /* Distinct on white and for the common colour-vision deficiencies first (Okabe-Ito order, then more). */
    static const char *const PALETTE[VT_PLOT_PALETTE] = {"#0072b2", "#d55e00", "#009e73", "#cc79a7", "#e69f00",
                                                         "#56b4e9", "#000000", "#8c564b", "#7f7f7f", "#bcbd22"};
    int k = i % VT_PLOT_PALETTE;
    return PALETTE[k < 0 ? k + VT_PLOT_PALETTE : k];
}
