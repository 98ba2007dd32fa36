/* The first failure of an OpenMP parallel loop: errors are thread-local
 * (verto/error.h), so a loop keeps the failure of its lowest iteration (the
 * one a serial loop would have met, whatever the threads' timing) and raises
 * it again on the calling thread once the loop has ended. */
#ifndef VT_CORE_PAR_ERROR_H
#define VT_CORE_PAR_ERROR_H

#include <stdint.h>
#include <stdio.h>

#include "verto/error.h"

typedef struct vt_par_error {
    vt_status status; /* VT_OK until an iteration fails */
    int64_t index;    /* the failed iteration kept */
    char message[512];
} vt_par_error;

/* Inside the loop: st of iteration `index`, kept with this thread's message
 * when it fails at a lower iteration than any failure kept so far. */
static inline void vt_par_error_keep(vt_par_error *e, int64_t index, vt_status st) {
    if (st == VT_OK) return;
#pragma omp critical /* unnamed: a named one would be an exported lock symbol */
    if (e->status == VT_OK || index < e->index) {
        e->status = st;
        e->index = index;
        snprintf(e->message, sizeof e->message, "%s", vt_last_error());
    }
}

/* After the region: VT_OK, or the first failure set as the caller's error. */
static inline vt_status vt_par_error_raise(const vt_par_error *e) {
    return e->status == VT_OK ? VT_OK : vt_error(e->status, "%s", e->message);
}

#endif
