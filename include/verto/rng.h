/* Deterministic random numbers.
 *
 * vt_rng is a small sequential generator (xoshiro256**) for initialisation and
 * shuffling. vt_hash_uniform is counter-based: the value for (seed, index)
 * does not depend on which thread asks or in what order, so dropout masks are
 * the same at every thread count. */
#ifndef VERTO_RNG_H
#define VERTO_RNG_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct vt_rng {
    uint64_t s[4];
} vt_rng;

/* Seeds the generator (any seed, 0 included, gives a valid state). */
void vt_rng_seed(vt_rng *r, uint64_t seed);

uint64_t vt_rng_next(vt_rng *r);
/* Uniform in [0, 1). */
double vt_rng_uniform(vt_rng *r);
/* Uniform integer in [0, n), n > 0, without modulo bias. */
uint64_t vt_rng_below(vt_rng *r, uint64_t n);
/* Standard normal (Box-Muller). */
double vt_rng_normal(vt_rng *r);
/* Fisher-Yates shuffle of n int64 values. */
void vt_rng_shuffle_i64(vt_rng *r, int64_t *v, int64_t n);

/* Counter-based: a well-mixed 64-bit value for (seed, index). */
uint64_t vt_hash64(uint64_t seed, uint64_t index);
/* Counter-based uniform float in [0, 1) for (seed, index). */
static inline float vt_hash_uniform(uint64_t seed, uint64_t index) {
    return (float)(vt_hash64(seed, index) >> 40) * (1.0f / 16777216.0f);
}

#ifdef __cplusplus
}
#endif
#endif
