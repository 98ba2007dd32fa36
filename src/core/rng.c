/* xoshiro256** and a splitmix64-based counter hash (see verto/rng.h). */
#include <math.h>

#include "core/xoshiro.h"
#include "verto/rng.h"

static uint64_t splitmix64(uint64_t *x) {
    uint64_t z = (*x += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

void vt_rng_seed(vt_rng *r, uint64_t seed) {
    for (int i = 0; i < 4; i++) r->s[i] = splitmix64(&seed);
}

uint64_t vt_rng_next(vt_rng *r) { return vt_xoshiro_next(r); }

double vt_rng_uniform(vt_rng *r) { return (double)(vt_rng_next(r) >> 11) * 0x1.0p-53; }

uint64_t vt_rng_below(vt_rng *r, uint64_t n) {
    uint64_t limit = UINT64_MAX - UINT64_MAX % n; /* reject the biased tail */
    uint64_t x;
    do x = vt_rng_next(r);
    while (x >= limit);
    return x % n;
}

double vt_rng_normal(vt_rng *r) {
    double u1 = vt_rng_uniform(r), u2 = vt_rng_uniform(r);
    if (u1 < 1e-300) u1 = 1e-300;
    return sqrt(-2.0 * log(u1)) * cos(2.0 * M_PI * u2);
}

void vt_rng_shuffle_i64(vt_rng *r, int64_t *v, int64_t n) {
    for (int64_t i = n - 1; i > 0; i--) {
        int64_t j = (int64_t)vt_rng_below(r, (uint64_t)i + 1);
        int64_t t = v[i];
        v[i] = v[j];
        v[j] = t;
    }
}

