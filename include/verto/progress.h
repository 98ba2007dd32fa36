/* A progress bar for long loops, Keras style.
 *
 * On a terminal it redraws one line:
 *   12/32 [=========>....................] - ETA: 3s - loss: 1.2345 - accuracy: 0.5000
 * and finishes with the elapsed time and time per step. Elsewhere (a file, a
 * pipe, CI logs) it prints nothing until vt_progress_finish, which prints one
 * plain line. */
#ifndef VERTO_PROGRESS_H
#define VERTO_PROGRESS_H

#include "verto/export.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#ifdef __cplusplus
extern "C" {
#endif

#define VT_PROGRESS_MAX_VALUES 8

typedef struct vt_progress {
    FILE *out;
    bool tty;          /* redraw in place */
    int64_t total;     /* steps expected (0 if unknown) */
    int64_t done;
    double start, last_draw; /* seconds, monotonic */
    const char *prefix; /* printed before the plain line, e.g. "Epoch 1/5" (not owned) */
    const char *unit;   /* "step" by default */
    int n_values;
    char names[VT_PROGRESS_MAX_VALUES][32];
    double values[VT_PROGRESS_MAX_VALUES];
} vt_progress;

/* Monotonic clock in seconds. */
VT_API double vt_now(void);

/* Starts a bar of `total` steps on `out`; tty decided by isatty(fileno(out)). */
VT_API void vt_progress_start(vt_progress *p, FILE *out, int64_t total, const char *prefix);

/* Sets (or adds) a named value shown after the bar, e.g. "loss". */
VT_API void vt_progress_set(vt_progress *p, const char *name, double value);

/* Advances to `done` steps and redraws (at most 10 times a second on a tty). */
VT_API void vt_progress_update(vt_progress *p, int64_t done);

/* Prints the final line: "32/32 [===...] - 5s 150ms/step - loss: ..." on a
 * terminal, "<prefix> - 32/32 - 5s 150ms/step - loss: ..." otherwise. */
VT_API void vt_progress_finish(vt_progress *p);

#ifdef __cplusplus
}
#endif
#endif
