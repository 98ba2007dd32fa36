/* A bump allocator for the activations of a step.
 *
 * Planning runs the same sequence of allocations twice: once in measuring mode
 * (vt_arena_begin_measure), which only adds up sizes, and once for real after
 * vt_arena_commit has reserved that total. Between re-plans nothing is
 * allocated, so a training step does no malloc after its first. */
#ifndef VERTO_ARENA_H
#define VERTO_ARENA_H

#include "verto/export.h"

#include <stdbool.h>
#include <stddef.h>

#include "verto/error.h"

#ifdef __cplusplus
extern "C" {
#endif

#define VT_ARENA_ALIGN 64

typedef struct vt_arena {
    char *base;       /* NULL while measuring */
    size_t capacity;  /* bytes reserved at base */
    size_t used;      /* bytes handed out (or measured) since the last reset */
    bool measuring;
} vt_arena;

/* Starts a measuring pass: allocations return NULL and only count bytes. */
VT_API void vt_arena_begin_measure(vt_arena *a);

/* Ends measuring: makes capacity at least the measured total (reallocating
 * only when it grows), zeroes nothing, and rewinds for the real pass. */
VT_API vt_status vt_arena_commit(vt_arena *a);

/* Hands out `bytes` aligned to VT_ARENA_ALIGN. Returns NULL while measuring;
 * in the real pass the plan guarantees room (it returns NULL and sets an error
 * if the plan was not followed). */
VT_API void *vt_arena_alloc(vt_arena *a, size_t bytes);

/* Rewinds to empty without releasing memory. */
VT_API void vt_arena_reset(vt_arena *a);

/* Releases the memory. */
VT_API void vt_arena_free(vt_arena *a);

#ifdef __cplusplus
}
#endif
#endif
