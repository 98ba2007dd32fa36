/* One step of xoshiro256** (Blackman & Vigna), inline for the loops that
 * draw many numbers (vt_rng_next is this, exported). */
#ifndef VT_CORE_XOSHIRO_H
#define VT_CORE_XOSHIRO_H

#include "verto/rng.h"

static inline uint64_t vt_xoshiro_rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

static inline uint64_t vt_xoshiro_next(vt_rng *r) {
    uint64_t *s = r->s, result = vt_xoshiro_rotl(s[1] * 5, 7) * 9, t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = vt_xoshiro_rotl(s[3], 45);
    return result;
}

#endif
