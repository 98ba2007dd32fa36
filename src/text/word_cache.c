/* The per-thread word cache: an open-addressing table from a word's bytes to
 * its pieces, the keys and pieces kept in two arenas. Full means emptied
 * (everything at once: cheaper than tracking age, and tokenizers' own cache
 * simply stops inserting). */
#include "text/word_cache.h"

#include <stdlib.h>
#include <string.h>

#include "core/hash.h"

typedef struct slot {
    uint64_t hash;
    uint32_t key_off, piece_off; /* into keys, into pieces (in pieces, not int32s) */
    int32_t key_len;             /* -1: empty */
    int32_t n_pieces;
} slot;

struct vt_word_cache {
    int32_t max_words, max_word_bytes;
    slot *slots;
    uint32_t mask;
    int32_t n_words;
    char *keys;
    size_t keys_len, keys_cap, keys_max;
    int32_t *pieces; /* (id, start, end) per piece */
    size_t pieces_len, pieces_cap, pieces_max;
};

static void clear(vt_word_cache *c) {
    for (uint32_t i = 0; i <= c->mask; i++) c->slots[i].key_len = -1;
    c->n_words = 0;
    c->keys_len = c->pieces_len = 0;
}

vt_word_cache *vt_word_cache_new(int32_t max_words, int32_t max_word_bytes) {
    if (max_words < 1) max_words = 1;
    if (max_words > (1 << 24)) max_words = 1 << 24;
    if (max_word_bytes < 1) max_word_bytes = 1;
    if (max_word_bytes > (1 << 16)) max_word_bytes = 1 << 16;
    vt_word_cache *c = calloc(1, sizeof *c);
    if (!c) return NULL;
    uint32_t cap = 16;
    while (cap < (uint32_t)max_words * 2u) cap *= 2;
    c->slots = malloc((size_t)cap * sizeof *c->slots);
    if (!c->slots) {
        free(c);
        return NULL;
    }
    c->mask = cap - 1;
    c->max_words = max_words;
    c->max_word_bytes = max_word_bytes;
    /* both arenas stay under 4 GiB of offsets; words average far below the maximum */
    c->keys_max = (size_t)max_words * (size_t)max_word_bytes;
    if (c->keys_max > UINT32_MAX) c->keys_max = UINT32_MAX;
    c->pieces_max = c->keys_max;
    clear(c);
    return c;
}

void vt_word_cache_free(vt_word_cache *c) {
    if (!c) return;
    free(c->slots);
    free(c->keys);
    free(c->pieces);
    free(c);
}

static uint64_t hash_word(const vt_word *w) { return vt_fnv1a64(VT_FNV64_INIT, w->s, (size_t)w->len); }

/* The slot holding w, or the empty slot where it would go. */
static slot *find(const vt_word_cache *c, const vt_word *w, uint64_t h) {
    for (uint32_t i = (uint32_t)(h ^ (h >> 32)) & c->mask;; i = (i + 1) & c->mask) {
        slot *s = &c->slots[i];
        if (s->key_len < 0) return s;
        if (s->hash == h && s->key_len == w->len && !memcmp(c->keys + s->key_off, w->s, (size_t)w->len)) return s;
    }
}

bool vt_word_cache_get(vt_word_cache *c, const vt_word *w, vt_pieces *out) {
    if (!c || w->len > c->max_word_bytes || c->n_words == 0) return false;
    const slot *s = find(c, w, hash_word(w));
    if (s->key_len < 0) return false;
    int32_t first = out->n;
    const int32_t *p = c->pieces + (size_t)s->piece_off * 3;
    for (int32_t k = 0; k < s->n_pieces; k++, p += 3) {
        if (vt_pieces_push(out, p[0], p[1], p[2]) != VT_OK) {
            out->n = first; /* the caller cuts the word again and reports the failure */
            return false;
        }
    }
    vt_word_pieces_to_original(w, out, first);
    return true;
}

/* Grows an arena to hold `need` units of `unit` bytes, within `max` units. */
static bool grow(void **buf, size_t *cap, size_t need, size_t max, size_t unit) {
    if (need <= *cap) return true;
    if (need > max) return false;
    size_t n = *cap ? *cap : 1024;
    while (n < need) n *= 2;
    if (n > max) n = max;
    void *b = realloc(*buf, n * unit);
    if (!b) return false;
    *buf = b;
    *cap = n;
    return true;
}

void vt_word_cache_put(vt_word_cache *c, const vt_word *w, const vt_pieces *out, int32_t first) {
    if (!c || w->len > c->max_word_bytes || first < 0 || first > out->n) return;
    size_t np = (size_t)(out->n - first);
    if (np > (size_t)c->max_word_bytes * 4) return; /* a pathological cut: not worth keeping */
    uint64_t h = hash_word(w);
    if (c->n_words > 0 && find(c, w, h)->key_len >= 0) return;
    if (c->n_words >= c->max_words || c->keys_len + (size_t)w->len > c->keys_max ||
        c->pieces_len + np > c->pieces_max)
        clear(c);
    if (!grow((void **)&c->keys, &c->keys_cap, c->keys_len + (size_t)w->len, c->keys_max, 1) ||
        !grow((void **)&c->pieces, &c->pieces_cap, c->pieces_len + np, c->pieces_max, 3 * sizeof(int32_t)))
        return;
    slot *s = find(c, w, h);
    s->hash = h;
    s->key_off = (uint32_t)c->keys_len;
    s->key_len = w->len;
    s->piece_off = (uint32_t)c->pieces_len;
    s->n_pieces = (int32_t)np;
    memcpy(c->keys + c->keys_len, w->s, (size_t)w->len);
    c->keys_len += (size_t)w->len;
    int32_t *p = c->pieces + c->pieces_len * 3;
    for (int32_t k = first; k < out->n; k++, p += 3) {
        p[0] = out->id[k];
        p[1] = out->start[k];
        p[2] = out->end[k];
    }
    c->pieces_len += np;
    c->n_words++;
}

void vt_word_pieces_to_original(const vt_word *w, vt_pieces *out, int32_t first) {
    for (int32_t k = first; k < out->n; k++) {
        int32_t a = out->start[k], b = out->end[k];
        if (a < 0 || b <= a || b > w->len) continue;
        out->start[k] = w->ostart[a];
        out->end[k] = w->oend[b - 1];
    }
}
