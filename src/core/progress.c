/* Keras-style progress bar (see verto/progress.h). */
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "verto/progress.h"

#define BAR_WIDTH 30

double vt_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

void vt_progress_start(vt_progress *p, FILE *out, int64_t total, const char *prefix) {
    memset(p, 0, sizeof *p);
    p->out = out;
    p->tty = isatty(fileno(out));
    p->total = total;
    p->start = vt_now();
    p->prefix = prefix;
    p->unit = "step";
    if (p->tty && prefix) fprintf(out, "%s\n", prefix);
}

void vt_progress_set(vt_progress *p, const char *name, double value) {
    int i = 0;
    while (i < p->n_values && strcmp(p->names[i], name)) i++;
    if (i == VT_PROGRESS_MAX_VALUES) return;
    if (i == p->n_values) {
        snprintf(p->names[i], sizeof p->names[i], "%s", name);
        p->n_values++;
    }
    p->values[i] = value;
}

static void print_values(const vt_progress *p) {
    for (int i = 0; i < p->n_values; i++) fprintf(p->out, " - %s: %.4f", p->names[i], p->values[i]);
}

static void print_bar(const vt_progress *p) {
    int filled = p->total > 0 ? (int)(BAR_WIDTH * p->done / p->total) : 0;
    fputc('[', p->out);
    for (int i = 0; i < BAR_WIDTH; i++)
        fputc(i < filled ? '=' : (i == filled && p->done < p->total ? '>' : '.'), p->out);
    fputc(']', p->out);
}

/* "5s 150ms/step" */
static void print_timing(const vt_progress *p, double elapsed) {
    double per = p->done ? elapsed / (double)p->done : 0;
    if (per >= 1) fprintf(p->out, "%.0fs %.0fs/%s", elapsed, per, p->unit);
    else if (per >= 1e-3) fprintf(p->out, "%.0fs %.0fms/%s", elapsed, per * 1e3, p->unit);
    else fprintf(p->out, "%.0fs %.0fus/%s", elapsed, per * 1e6, p->unit);
}

void vt_progress_update(vt_progress *p, int64_t done) {
    p->done = done;
    if (!p->tty) return;
    double now = vt_now();
    if (now - p->last_draw < 0.1 && done < p->total) return;
    p->last_draw = now;
    double elapsed = now - p->start, eta = done ? elapsed / (double)done * (double)(p->total - done) : 0;
    fprintf(p->out, "\r%lld/%lld ", (long long)done, (long long)p->total);
    print_bar(p);
    fprintf(p->out, " - ETA: %.0fs", eta);
    print_values(p);
    fputs("\033[K", p->out); /* clear what a longer previous line left */
    fflush(p->out);
}

void vt_progress_finish(vt_progress *p) {
    double elapsed = vt_now() - p->start;
    if (p->tty) {
        fprintf(p->out, "\r%lld/%lld ", (long long)p->done, (long long)p->total);
        print_bar(p);
        fputs(" - ", p->out);
    } else {
        if (p->prefix) fprintf(p->out, "%s - ", p->prefix);
        fprintf(p->out, "%lld/%lld - ", (long long)p->done, (long long)p->total);
    }
    print_timing(p, elapsed);
    print_values(p);
    if (p->tty) fputs("\033[K", p->out);
    fputc('\n', p->out);
    fflush(p->out);
}
