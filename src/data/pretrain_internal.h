/* Internals shared by the pretraining-data files (src/data/pretrain_*.c). */
#ifndef VERTO_DATA_PRETRAIN_INTERNAL_H
#define VERTO_DATA_PRETRAIN_INTERNAL_H

#include <stdint.h>

#include "verto/pretrain_data.h"

/* The masker's counts of its 80/10/10 draws since creation. */
typedef struct vt_pt_mask_counts {
    int64_t as_mask, as_keep, as_random;
} vt_pt_mask_counts;
vt_pt_mask_counts vt_pt__masker_counts(const vt_pt_masker *m);

/* Python's random.randint(lo, hi), both ends included (hi >= lo). */
static inline int64_t vt_pt__randint(vt_rng *r, int64_t lo, int64_t hi) {
    return lo + (int64_t)vt_rng_below(r, (uint64_t)(hi - lo) + 1);
}

/* Little-endian stores and loads. */
static inline void vt_pt__put_u32(uint8_t *p, uint32_t v) {
    p[0] = (uint8_t)v, p[1] = (uint8_t)(v >> 8), p[2] = (uint8_t)(v >> 16), p[3] = (uint8_t)(v >> 24);
}
static inline void vt_pt__put_u64(uint8_t *p, uint64_t v) {
    vt_pt__put_u32(p, (uint32_t)v);
    vt_pt__put_u32(p + 4, (uint32_t)(v >> 32));
}
static inline uint32_t vt_pt__get_u32(const uint8_t *p) {
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}
static inline uint64_t vt_pt__get_u64(const uint8_t *p) {
    return (uint64_t)vt_pt__get_u32(p) | (uint64_t)vt_pt__get_u32(p + 4) << 32;
}

#endif
