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

#include "fuzz_words.h"
#include "text/unigram.h"

static vt_status cut(const void *m, const vt_word *w, vt_word_cache *cache, vt_pieces *out) {
    return vt_unigram_tokenize(m, w, cache, out);
}

/* Ids in the vocabulary; offsets tile the word in order (fused unknown runs
 * and byte-fallback pieces share theirs). */
static void judge(const vt_pieces *a, int32_t a0, const vt_word *w, void *ud) {
    const int32_t *n_tokens = ud;
    int32_t at = BASE;
    for (int32_t t = a0; t < a->n; t++) {
        CHECK(a->id[t] >= 0 && a->id[t] < *n_tokens);
        CHECK(a->start[t] < a->end[t]);
        if (a->start[t] != at) CHECK(t > a0 && a->start[t] == a->start[t - 1] && a->end[t] == a->end[t - 1]);
        at = a->end[t];
    }
    CHECK(at == BASE + w->len);
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
        cut_words(m, cut, L, i, nl, size, true, judge, &nt);
    }
    vt_unigram_free(m);
    vt_wp_vocab_free(v);
    return 0;
}
