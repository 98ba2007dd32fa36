/* The first failure among the threads of an OpenMP parallel region: errors
 * are thread-local (verto/error.h), so a region keeps the first one it meets
 * and raises it again on the calling thread once the region has ended. */
#ifndef VT_CORE_PAR_ERROR_H
#define VT_CORE_PAR_ERROR_H

#include <stdio.h>

#include "verto/error.h"

typedef struct vt_par_error {
    vt_status status; /* VT_OK until a thread fails */
    char message[512];
} vt_par_error;

/* Inside the region: keeps st and this thread's message if it is the first failure. */
static inline void vt_par_error_keep(vt_par_error *e, vt_status st) {
    if (st == VT_OK) return;
#pragma omp critical(vt_par_error)
    if (e->status == VT_OK) {
        e->status = st;
        snprintf(e->message, sizeof e->message, "%s", vt_last_error());
    }
}

/* After the region: VT_OK, or the first failure set as the caller's error. */
static inline vt_status vt_par_error_raise(const vt_par_error *e) {
    return e->status == VT_OK ? VT_OK : vt_error(e->status, "%s", e->message);
}

#endif
