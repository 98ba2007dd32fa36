/* Two-pass bump allocator for step activations (see verto/arena.h). */
#include <stdlib.h>
#include <string.h>

#include "verto/arena.h"

static size_t align_up(size_t n) { return (n + VT_ARENA_ALIGN - 1) & ~(size_t)(VT_ARENA_ALIGN - 1); }

void vt_arena_begin_measure(vt_arena *a) {
    a->measuring = true;
    a->used = 0;
}

vt_status vt_arena_commit(vt_arena *a) {
    size_t need = a->used;
    a->measuring = false;
    a->used = 0;
    if (need <= a->capacity && a->base) return VT_OK;
    free(a->base);
    a->base = aligned_alloc(VT_ARENA_ALIGN, align_up(need ? need : VT_ARENA_ALIGN));
    if (!a->base) {
        a->capacity = 0;
        return vt_error(VT_ERR_NOMEM, "out of memory reserving %zu bytes of activations", need);
    }
    a->capacity = need;
    return VT_OK;
}

void *vt_arena_alloc(vt_arena *a, size_t bytes) {
    size_t size = align_up(bytes);
    if (a->measuring) {
        a->used += size;
        return NULL;
    }
    if (a->used + size > a->capacity) {
        vt_error(VT_ERR_STATE, "arena plan exceeded (%zu + %zu > %zu bytes)", a->used, size, a->capacity);
        return NULL;
    }
    void *p = a->base + a->used;
    a->used += size;
    return p;
}

void vt_arena_reset(vt_arena *a) { a->used = 0; }

void vt_arena_free(vt_arena *a) {
    free(a->base);
    memset(a, 0, sizeof *a);
}
