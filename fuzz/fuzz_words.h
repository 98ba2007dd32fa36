/* What the tokenizer-model fuzz targets share: the input read as lines, and
 * the words cut three ways (no cache, a cache, a tiny cache that empties
 * constantly) that must agree, twice (the second round hits the caches). */
#ifndef VT_FUZZ_WORDS_H
#define VT_FUZZ_WORDS_H

#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "text/word_cache.h"
#include "text/wordpiece.h"

#define CHECK(c) do { if (!(c)) __builtin_trap(); } while (0)
#define BASE (1 << 24) /* original offsets of the words start here */

typedef struct line {
    const char *s;
    size_t n;
} line;

/* d[0..n) split at '\n' into at most max lines. */
static size_t split_lines(const char *d, size_t n, line *out, size_t max) {
    size_t k = 0, at = 0;
    while (at <= n && k < max) {
        const char *nl = memchr(d + at, '\n', n - at);
        size_t end = nl ? (size_t)(nl - d) : n;
        out[k++] = (line){d + at, end - at};
        at = end + 1;
        if (!nl) break;
    }
    return k;
}

static void same(const vt_pieces *a, int32_t a0, const vt_pieces *b, int32_t b0) {
    CHECK(a->n - a0 == b->n - b0);
    for (int32_t i = 0; i < a->n - a0; i++)
        CHECK(a->id[a0 + i] == b->id[b0 + i] && a->start[a0 + i] == b->start[b0 + i] && a->end[a0 + i] == b->end[b0 + i]);
}

typedef vt_status (*cut_fn)(const void *model, const vt_word *w, vt_word_cache *cache, vt_pieces *out);
/* Judges the pieces [first, p->n) word w was cut into. */
typedef void (*judge_fn)(const vt_pieces *p, int32_t first, const vt_word *w, void *ud);

/* Cuts words L[from..nl) (original offsets BASE + byte) with `cut`; the
 * three ways must give the same status and pieces, VT_OK when must_cut. */
static void cut_words(const void *model, cut_fn cut, const line *L, size_t from, size_t nl, size_t max_len,
                      bool must_cut, judge_fn judge, void *ud) {
    vt_word_cache *big = vt_word_cache_new(500, 256), *tiny = vt_word_cache_new(2, 8);
    vt_pieces a = {0}, b = {0}, c = {0};
    int32_t *os = malloc((max_len + 1) * sizeof(int32_t)), *oe = malloc((max_len + 1) * sizeof(int32_t));
    for (size_t k = 0; k <= max_len; k++) os[k] = BASE + (int32_t)k, oe[k] = BASE + 1 + (int32_t)k;
    for (int rep = 0; rep < 2; rep++)
        for (size_t k = from; k < nl; k++) {
            vt_word w = {.s = L[k].s, .len = (int32_t)L[k].n, .ostart = os, .oend = oe};
            int32_t a0 = a.n, b0 = b.n, c0 = c.n;
            vt_status sa = cut(model, &w, NULL, &a), sb = cut(model, &w, big, &b), sc = cut(model, &w, tiny, &c);
            CHECK(sa == sb && sb == sc && (sa == VT_OK || !must_cut));
            if (sa != VT_OK) continue;
            same(&a, a0, &b, b0);
            same(&a, a0, &c, c0);
            judge(&a, a0, &w, ud);
            if (a.n > 1 << 16) a.n = b.n = c.n = 0;
        }
    free(os);
    free(oe);
    vt_pieces_free(&a);
    vt_pieces_free(&b);
    vt_pieces_free(&c);
    vt_word_cache_free(big);
    vt_word_cache_free(tiny);
}

#endif
