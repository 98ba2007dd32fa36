/* A small open-addressing map from a uint64 key to an int64 value, shared by
 * the vocabulary trainers (vocab_builder.c, bpe_trainer.c). */
#ifndef VT_TEXT_VB_MAP_H
#define VT_TEXT_VB_MAP_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

typedef struct map64 { /* uint64 key -> int64 value */
    uint64_t *key;
    int64_t *val;
    uint8_t *used;
    size_t cap, n;
} map64;

static inline uint64_t mix64(uint64_t x) {
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdull;
    x ^= x >> 33;
    x *= 0xc4ceb9fe1a85ec53ull;
    return x ^ (x >> 33);
}

static inline void map_free(map64 *m) {
    free(m->key);
    free(m->val);
    free(m->used);
    memset(m, 0, sizeof *m);
}

/* Slot of key (inserted with value `init` when absent); -1 on no memory. */
static inline int64_t map_slot(map64 *m, uint64_t key, int64_t init) {
    if ((m->n + 1) * 2 > m->cap) {
        map64 g = {0};
        g.cap = m->cap ? m->cap * 2 : 1024;
        g.key = malloc(g.cap * sizeof *g.key);
        g.val = malloc(g.cap * sizeof *g.val);
        g.used = calloc(g.cap, 1);
        if (!g.key || !g.val || !g.used) {
            map_free(&g);
            return -1;
        }
        for (size_t i = 0; i < m->cap; i++) {
            if (!m->used[i]) continue;
            size_t j = mix64(m->key[i]) & (g.cap - 1);
            while (g.used[j]) j = (j + 1) & (g.cap - 1);
            g.used[j] = 1, g.key[j] = m->key[i], g.val[j] = m->val[i];
        }
        g.n = m->n;
        map_free(m);
        *m = g;
    }
    size_t i = mix64(key) & (m->cap - 1);
    while (m->used[i] && m->key[i] != key) i = (i + 1) & (m->cap - 1);
    if (!m->used[i]) {
        m->used[i] = 1, m->key[i] = key, m->val[i] = init;
        m->n++;
    }
    return (int64_t)i;
}

static inline int64_t map_get(const map64 *m, uint64_t key, int64_t missing) {
    if (!m->cap) return missing;
    size_t i = mix64(key) & (m->cap - 1);
    while (m->used[i]) {
        if (m->key[i] == key) return m->val[i];
        i = (i + 1) & (m->cap - 1);
    }
    return missing;
}

#endif
