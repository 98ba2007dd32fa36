/* The token table of the vocabulary trainers: tokens by id, found by their
 * text through a hash map (vocab_builder.c, bpe_trainer.c). */
#ifndef VT_TEXT_VB_TOKENS_H
#define VT_TEXT_VB_TOKENS_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/hash.h"
#include "text/vb_map.h"

typedef struct vb_tokens {
    char **s;      /* (n) NUL-terminated copies */
    size_t *len;   /* (n) bytes */
    int32_t n, cap;
    map64 ids;     /* hash of the text -> id (chained through next on collisions) */
    int32_t *next; /* (n) */
} vb_tokens;

static inline uint64_t vb_str_hash(const char *s, size_t n) { return vt_fnv1a64(VT_FNV64_INIT, s, n); }

/* The id of s[0..n), or -1. */
static inline int32_t vb_tok_find(const vb_tokens *t, const char *s, size_t n) {
    for (int64_t id = map_get(&t->ids, vb_str_hash(s, n), -1); id >= 0; id = t->next[id])
        if (t->len[id] == n && !memcmp(t->s[id], s, n)) return (int32_t)id;
    return -1;
}

/* Adds a token (copied); returns its id, or -1 on no memory. */
static inline int32_t vb_tok_add(vb_tokens *t, const char *s, size_t n) {
    if (t->n == t->cap) {
        int32_t cap = t->cap ? t->cap * 2 : 1024;
        char **a = realloc(t->s, (size_t)cap * sizeof *a);
        if (a) t->s = a;
        size_t *l = a ? realloc(t->len, (size_t)cap * sizeof *l) : NULL;
        if (l) t->len = l;
        int32_t *nx = l ? realloc(t->next, (size_t)cap * sizeof *nx) : NULL;
        if (!nx) return -1;
        t->next = nx;
        t->cap = cap;
    }
    char *c = malloc(n + 1);
    if (!c) return -1;
    memcpy(c, s, n);
    c[n] = '\0';
    int64_t slot = map_slot(&t->ids, vb_str_hash(s, n), -1);
    if (slot < 0) {
        free(c);
        return -1;
    }
    int32_t id = t->n++;
    t->s[id] = c;
    t->len[id] = n;
    t->next[id] = (int32_t)t->ids.val[slot];
    t->ids.val[slot] = id;
    return id;
}

static inline void vb_tokens_free(vb_tokens *t) {
    for (int32_t i = 0; i < t->n; i++) free(t->s[i]);
    free(t->s);
    free(t->len);
    free(t->next);
    map_free(&t->ids);
    memset(t, 0, sizeof *t);
}

#endif
