/* Deterministic random numbers.
 *
 * vt_rng is a small sequential generator (xoshiro256**) for initialisation and
 * shuffling. vt_hash_uniform is counter-based: the value for (seed, index)
 * does not depend on which thread asks or in what order, so dropout masks are
 * the same at every thread count. */
#ifndef VERTO_RNG_H
#define VERTO_RNG_H

#include "verto/export.h"

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct vt_rng {
    uint64_t s[4];
} vt_rng;

/* Seeds the generator (any seed, 0 included, gives a valid state). */
VT_API void vt_rng_seed(vt_rng *r, uint64_t seed);

VT_API uint64_t vt_rng_next(vt_rng *r);
/* Uniform in [0, 1). */
VT_API double vt_rng_uniform(vt_rng *r);
/* Uniform integer in [0, n), n > 0, without modulo bias. */
VT_API uint64_t vt_rng_below(vt_rng *r, uint64_t n);
/* Standard normal (Box-Muller). */
VT_API double vt_rng_normal(vt_rng *r);
/* Standard normal by the ziggurat method: several times faster than
 * vt_rng_normal, for bulk noise (a different sequence from the same state). */
VT_API double vt_rng_normal_ziggurat(vt_rng *r);
/* n standard normals, the same as n calls of vt_rng_normal_ziggurat. */
VT_API void vt_rng_fill_normal(vt_rng *r, double *out, int64_t n);
/* Fisher-Yates shuffle of n int64 values. */
VT_API void vt_rng_shuffle_i64(vt_rng *r, int64_t *v, int64_t n);

/* splitmix64's finaliser. */
static inline uint64_t vt_mix64(uint64_t z) {
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

/* Counter-based: a well-mixed 64-bit value for (seed, index), two splitmix64
 * steps. Inline so that dropout's mask loops vectorise. */
static inline uint64_t vt_hash64(uint64_t seed, uint64_t index) {
    const uint64_t golden = 0x9E3779B97F4A7C15ull;
    return vt_mix64(vt_mix64((seed ^ (index * 0xD1B54A32D192ED03ull)) + golden) + golden);
}
/* Counter-based uniform float in [0, 1) for (seed, index). */
static inline float vt_hash_uniform(uint64_t seed, uint64_t index) {
    return (float)(vt_hash64(seed, index) >> 40) * (1.0f / 16777216.0f);
}

#ifdef __cplusplus
}
#endif
#endif
