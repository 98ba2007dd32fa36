/* libFuzzer target: a BPE model made from the input, and words through it.
 * Input: byte 0 picks the options (bit 0 unk, 1 fuse_unk, 2 byte_fallback,
 * 3 ignore_merges, 4 "##" prefix, 5 "</w>" suffix); then lines (split at
 * '\n'): tokens up to the first empty line, merges "left right" up to the
 * next, then words. Building may fail (with an error, never a crash); words
 * must cut to ids of the vocabulary, the same with a cache, a tiny cache
 * and none, and with offsets in order inside the word or past it only where
 * tokenizers keeps word-relative offsets. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "text/bpe.h"

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
    size_t nl = split_lines((const char *)data + 1, size - 1, L, MAX_LINES), i = 0;
    /* tokens: NUL-free copies (merges name them as C strings) */
    const char *toks[MAX_LINES];
    size_t lens[MAX_LINES];
    char *store = malloc(size + 1), *sp = store;
    int32_t nt = 0;
    for (; i < nl && L[i].n > 0; i++) {
        memcpy(sp, L[i].s, L[i].n);
        toks[nt] = sp;
        lens[nt++] = L[i].n;
        sp[L[i].n] = '\0';
        sp += L[i].n + 1;
    }
    i++;
    vt_wp_vocab *v = vt_wp_vocab_from_tokens(toks, lens, nt);
    char *mstore = malloc(size + 1), *mp = mstore;
    const char *left[MAX_LINES], *right[MAX_LINES];
    size_t nm = 0;
    for (; i < nl && L[i].n > 0; i++) {
        const char *sep = memchr(L[i].s, ' ', L[i].n);
        memcpy(mp, L[i].s, L[i].n);
        mp[L[i].n] = '\0';
        if (sep) mp[sep - L[i].s] = '\0';
        left[nm] = mp;
        right[nm++] = sep ? mp + (sep - L[i].s) + 1 : mp + L[i].n;
        mp += L[i].n + 1;
    }
    i++;
    vt_bpe *m = NULL;
    if (v) {
        vt_bpe_options o = {
            .unk_id = (flags & 1) && nt > 0 ? 0 : -1,
            .fuse_unk = flags & 2,
            .byte_fallback = flags & 4,
            .ignore_merges = flags & 8,
            .continuing_subword_prefix = flags & 16 ? "##" : NULL,
            .end_of_word_suffix = flags & 32 ? "</w>" : NULL,
        };
        m = vt_bpe_new(v, left, right, nm, &o, "fuzz");
    }
    if (m) {
        vt_word_cache *big = vt_word_cache_new(500, 256), *tiny = vt_word_cache_new(2, 8);
        vt_pieces a = {0}, b = {0}, c = {0};
        int32_t *os = malloc((size + 1) * sizeof(int32_t)), *oe = malloc((size + 1) * sizeof(int32_t));
        for (size_t k = 0; k <= size; k++) os[k] = BASE + (int32_t)k, oe[k] = BASE + 1 + (int32_t)k;
        for (int rep = 0; rep < 2; rep++) /* the second round hits the caches */
            for (size_t k = i; k < nl; k++) {
                vt_word w = {.s = L[k].s, .len = (int32_t)L[k].n, .ostart = os, .oend = oe};
                int32_t a0 = a.n, b0 = b.n, c0 = c.n;
                vt_status sa = vt_bpe_tokenize(m, &w, NULL, &a), sb = vt_bpe_tokenize(m, &w, big, &b),
                          sc = vt_bpe_tokenize(m, &w, tiny, &c);
                CHECK(sa == sb && sb == sc);
                if (sa != VT_OK) continue;
                same(&a, a0, &b, b0);
                same(&a, a0, &c, c0);
                for (int32_t t = a0; t < a.n; t++) {
                    CHECK(a.id[t] >= 0 && a.id[t] < nt);
                    bool mapped = a.start[t] >= BASE;
                    CHECK(a.start[t] < a.end[t]);
                    if (mapped) CHECK(a.end[t] <= BASE + w.len);
                    else CHECK(a.end[t] > w.len); /* left word-relative only past the word */
                }
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
    vt_bpe_free(m);
    vt_wp_vocab_free(v);
    free(store);
    free(mstore);
    return 0;
}
