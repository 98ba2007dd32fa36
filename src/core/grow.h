/* Doubling growth of an array counted in int32_t (the token and piece lists
 * of src/text), so each list's push is one line. */
#ifndef VT_CORE_GROW_H
#define VT_CORE_GROW_H

#include <stdint.h>
#include <stdlib.h>

#include "verto/error.h"

/* Makes room in *arr (elements of `size` bytes, *cap of them) for one more
 * when n == *cap. VT_ERR_NOMEM naming `what` past 2^31 elements or when
 * realloc fails (*arr is kept). */
static inline vt_status vt_grow(void **arr, int32_t *cap, int32_t n, size_t size, const char *what) {
    if (n < *cap) return VT_OK;
    int64_t want = *cap ? (int64_t)*cap * 2 : 64;
    if (want > INT32_MAX) return vt_error(VT_ERR_NOMEM, "%s: more than 2^31 entries", what);
    void *a = realloc(*arr, (size_t)want * size);
    if (!a) return vt_error(VT_ERR_NOMEM, "%s: out of memory", what);
    *arr = a;
    *cap = (int32_t)want;
    return VT_OK;
}

#endif
