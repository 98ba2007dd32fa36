/* libFuzzer target: a Unigram model made from the input, and words through it.
 * Input: byte 0: bit 0 byte_fallback, the rest picks unk_id (modulo the
 * vocabulary size; an id past it must be refused); then lines (split at
 * '\n'): "piece<TAB>score" up to the first empty line (a line without a tab
 * scores -1 per byte), then words. Words must cut to ids of the vocabulary,
 * the same with a cache, a tiny cache and none, with offsets that tile the
 * word in order (fused unknown runs and byte-fallback pieces share theirs). */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "text/unigram.h"

#define CHECK(c) do { if (!(c)) __builtin_trap(); } while (0)
#define BASE (1 << 24) /* original offsets of the words start here */

typedef struct line {
    const char *s;
    size_t n;
} line;

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

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1 || size > 1 << 16) return 0;
    uint8_t flags = data[0];
    enum { MAX_LINES = 4096 };
    static line L[MAX_LINES];
    static const char *toks[MAX_LINES];
    static size_t lens[MAX_LINES];
    static double scores[MAX_LINES];
    size_t nl = split_lines((const char *)data + 1, size - 1, L, MAX_LINES), i = 0;
    int32_t nt = 0;
    for (; i < nl && L[i].n > 0; i++) {
        const char *tab = memchr(L[i].s, '\t', L[i].n);
        toks[nt] = L[i].s;
        lens[nt] = tab ? (size_t)(tab - L[i].s) : L[i].n;
        double sc = -(double)lens[nt];
        if (tab) { /* a few score forms, NaN and infinities included */
            size_t r = L[i].n - lens[nt] - 1;
            sc = r == 0 ? NAN : r == 1 ? -INFINITY : r == 2 ? INFINITY : -(double)(unsigned char)tab[1] / 7.0;
        }
        scores[nt++] = sc;
    }
    i++;
    vt_wp_vocab *v = vt_wp_vocab_from_tokens(toks, lens, nt);
    if (!v) return 0;
    int32_t unk = nt > 0 ? (int32_t)(flags >> 1) % (nt + 1) : 0; /* nt itself: out of range */
    vt_unigram *m = vt_unigram_new(v, scores, unk, flags & 1, "fuzz");
    CHECK((m != NULL) == (unk < nt));
    if (m) {
        vt_word_cache *big = vt_word_cache_new(500, 256), *tiny = vt_word_cache_new(2, 8);
        vt_pieces a = {0}, b = {0}, c = {0};
        int32_t *os = malloc((size + 1) * sizeof(int32_t)), *oe = malloc((size + 1) * sizeof(int32_t));
        for (size_t k = 0; k <= size; k++) os[k] = BASE + (int32_t)k, oe[k] = BASE + 1 + (int32_t)k;
        for (int rep = 0; rep < 2; rep++)
            for (size_t k = i; k < nl; k++) {
                vt_word w = {.s = L[k].s, .len = (int32_t)L[k].n, .ostart = os, .oend = oe};
                int32_t a0 = a.n, b0 = b.n, c0 = c.n;
                vt_status sa = vt_unigram_tokenize(m, &w, NULL, &a), sb = vt_unigram_tokenize(m, &w, big, &b),
                          sc = vt_unigram_tokenize(m, &w, tiny, &c);
                CHECK(sa == VT_OK && sb == VT_OK && sc == VT_OK);
                same(&a, a0, &b, b0);
                same(&a, a0, &c, c0);
                int32_t at = BASE;
                for (int32_t t = a0; t < a.n; t++) {
                    CHECK(a.id[t] >= 0 && a.id[t] < nt);
                    CHECK(a.start[t] < a.end[t]);
                    if (a.start[t] != at) CHECK(t > a0 && a.start[t] == a.start[t - 1] && a.end[t] == a.end[t - 1]);
                    at = a.end[t];
                }
                CHECK(at == BASE + w.len);
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
    vt_unigram_free(m);
    vt_wp_vocab_free(v);
    return 0;
}
