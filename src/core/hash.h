/* FNV-1a, the one non-cryptographic hash of verto: cache keys, word tables,
 * and the checksums the shard files store (so its values are a file format). */
#ifndef VT_CORE_HASH_H
#define VT_CORE_HASH_H

#include <stddef.h>
#include <stdint.h>

#define VT_FNV64_INIT 14695981039346656037ull
#define VT_FNV32_INIT 2166136261u

/* h continued over data[0..n): start from VT_FNV64_INIT. */
static inline uint64_t vt_fnv1a64(uint64_t h, const void *data, size_t n) {
    const unsigned char *p = data;
    for (size_t i = 0; i < n; i++) h = (h ^ p[i]) * 1099511628211ull;
    return h;
}

/* The 32-bit form, from VT_FNV32_INIT. */
static inline uint32_t vt_fnv1a32(uint32_t h, const void *data, size_t n) {
    const unsigned char *p = data;
    for (size_t i = 0; i < n; i++) h = (h ^ p[i]) * 16777619u;
    return h;
}

#endif
