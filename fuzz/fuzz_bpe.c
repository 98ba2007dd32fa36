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

#include "fuzz_words.h"
#include "text/bpe.h"

static vt_status cut(const void *m, const vt_word *w, vt_word_cache *cache, vt_pieces *out) {
    return vt_bpe_tokenize(m, w, cache, out);
}

/* Ids in the vocabulary; offsets in the word, or past it only where tokenizers keeps them word-relative. */
static void judge(const vt_pieces *a, int32_t a0, const vt_word *w, void *ud) {
    const int32_t *n_tokens = ud;
    for (int32_t t = a0; t < a->n; t++) {
        CHECK(a->id[t] >= 0 && a->id[t] < *n_tokens);
        CHECK(a->start[t] < a->end[t]);
        if (a->start[t] >= BASE) CHECK(a->end[t] <= BASE + w->len);
        else CHECK(a->end[t] > w->len);
    }
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
        cut_words(m, cut, L, i, nl, size, false, judge, &nt);
    }
    vt_bpe_free(m);
    vt_wp_vocab_free(v);
    free(store);
    free(mstore);
    return 0;
}
