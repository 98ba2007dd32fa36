/* The subword models against Hugging Face tokenizers (tests/ref/gen_tok_models.py):
 * BPE (byte-level, with ignore_merges, with "##" prefix and "</w>" suffix,
 * fused and unfused [UNK], byte fallback with all or some <0xXX> tokens) and
 * Unigram (SentencePiece-trained, with and without byte fallback), plus
 * hand-made tiny models for the corner cases, must give every word's ids
 * and offsets exactly as Model.tokenize does, with and without a word cache
 * (and with a cache small enough to be emptied often). SentencePiece's
 * precompiled charsmaps (three normalization rules) must normalize every line
 * as tokenizers' Precompiled normalizer does, alignments included, and the
 * charsmap's base64 is accepted or refused as tokenizers does. Malformed
 * models and charsmaps are refused with an error naming the label. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "text/bpe.h"
#include "text/nstr.h"
#include "text/precompiled.h"
#include "text/unigram.h"
#include "text/word_cache.h"
#include "verto/fileio.h"
#include "vt_test.h"

/* ---- reference files ---- */

static char *ref_path(const char *file) {
    const char *dir = getenv("VT_REF_DIR") ? getenv("VT_REF_DIR") : "build/ref";
    size_t n = strlen(dir) + strlen(file) + 16;
    char *p = malloc(n);
    assert_non_null(p);
    snprintf(p, n, "%s/%s", dir, file);
    return p;
}

static char *read_ref(const char *file, size_t *len) {
    char *path = ref_path(file), *data = NULL;
    if (vt_read_file(path, (size_t)1 << 30, &data, len) != VT_OK) fail_msg("cannot read %s: %s", path, vt_last_error());
    free(path);
    return data;
}

static cJSON *read_json(const char *file) {
    size_t len;
    char *data = read_ref(file, &len);
    cJSON *j = cJSON_ParseWithLength(data, len);
    if (!j) fail_msg("%s: not JSON", file);
    free(data);
    return j;
}

/* A U8 tensor's bytes (borrowed from the mapping). */
static const char *ref_bytes(const vt_st_file *f, const char *name, int64_t *n) {
    const vt_st_tensor *t = vt_st_find(f, name);
    if (!t) fail_msg("reference tensor %s missing", name);
    *n = t->numel;
    return t->data;
}

/* ---- models from tokenizers' JSON ---- */

typedef struct model {
    vt_wp_vocab *vocab;
    vt_bpe *bpe;
    vt_unigram *uni;
} model;

static void model_free(model *m) {
    vt_bpe_free(m->bpe);
    vt_unigram_free(m->uni);
    vt_wp_vocab_free(m->vocab);
}

static const char *json_str(const cJSON *o, const char *key) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

static bool json_bool(const cJSON *o, const char *key) { return cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(o, key)); }

static model load_model(const char *name) {
    char file[256];
    snprintf(file, sizeof file, "tok_models/%s.json", name);
    cJSON *root = read_json(file);
    const cJSON *m = cJSON_GetObjectItemCaseSensitive(root, "model");
    const char *type = json_str(m, "type");
    assert_non_null(type);
    const cJSON *vj = cJSON_GetObjectItemCaseSensitive(m, "vocab");
    int n = cJSON_GetArraySize(vj);
    const char **toks = calloc((size_t)n, sizeof *toks);
    size_t *lens = calloc((size_t)n, sizeof *lens);
    double *scores = calloc((size_t)n, sizeof *scores);
    assert_true(toks && lens && scores);
    model out = {0};
    if (!strcmp(type, "BPE")) {
        const cJSON *e;
        cJSON_ArrayForEach(e, vj) {
            int id = (int)e->valuedouble;
            if (id < 0 || id >= n || toks[id]) fail_msg("%s: vocabulary ids are not 0..n-1", name);
            toks[id] = e->string;
            lens[id] = strlen(e->string);
        }
        out.vocab = vt_wp_vocab_from_tokens(toks, lens, n);
        assert_non_null(out.vocab);
        const cJSON *mj = cJSON_GetObjectItemCaseSensitive(m, "merges");
        size_t nm = (size_t)cJSON_GetArraySize(mj), i = 0;
        const char **left = calloc(nm + 1, sizeof *left), **right = calloc(nm + 1, sizeof *right);
        cJSON_ArrayForEach(e, mj) {
            left[i] = cJSON_GetArrayItem(e, 0)->valuestring;
            right[i] = cJSON_GetArrayItem(e, 1)->valuestring;
            i++;
        }
        const char *unk = json_str(m, "unk_token");
        vt_bpe_options o = {
            .unk_id = unk ? vt_wp_vocab_id(out.vocab, unk, strlen(unk)) : -1,
            .continuing_subword_prefix = json_str(m, "continuing_subword_prefix"),
            .end_of_word_suffix = json_str(m, "end_of_word_suffix"),
            .fuse_unk = json_bool(m, "fuse_unk"),
            .byte_fallback = json_bool(m, "byte_fallback"),
            .ignore_merges = json_bool(m, "ignore_merges"),
        };
        out.bpe = vt_bpe_new(out.vocab, left, right, nm, &o, name);
        if (!out.bpe) fail_msg("%s: %s", name, vt_last_error());
        free(left);
        free(right);
    } else if (!strcmp(type, "Unigram")) {
        int id = 0;
        const cJSON *e;
        cJSON_ArrayForEach(e, vj) {
            toks[id] = cJSON_GetArrayItem(e, 0)->valuestring;
            lens[id] = strlen(toks[id]);
            scores[id] = cJSON_GetArrayItem(e, 1)->valuedouble;
            id++;
        }
        out.vocab = vt_wp_vocab_from_tokens(toks, lens, n);
        assert_non_null(out.vocab);
        int unk = (int)cJSON_GetObjectItemCaseSensitive(m, "unk_id")->valuedouble;
        out.uni = vt_unigram_new(out.vocab, scores, unk, json_bool(m, "byte_fallback"), name);
        if (!out.uni) fail_msg("%s: %s", name, vt_last_error());
    } else {
        fail_msg("%s: model type %s", name, type);
    }
    free(toks);
    free(lens);
    free(scores);
    cJSON_Delete(root);
    return out;
}

static vt_status tokenize(const model *m, const vt_word *w, vt_word_cache *c, vt_pieces *out) {
    return m->bpe ? vt_bpe_tokenize(m->bpe, w, c, out) : vt_unigram_tokenize(m->uni, w, c, out);
}

#define BASE 1000 /* words' original offsets start here, so the mapping shows */

/* Tokenizes the words of <name>.safetensors in corpus order with `cache`
 * (may be NULL) and compares ids and offsets with tokenizers'. Returns the
 * number of words that differ (the first few printed). */
static int64_t run_words(const char *name, const model *m, vt_word_cache *cache, const char *what) {
    char file[256];
    snprintf(file, sizeof file, "tok_models/%s.safetensors", name);
    vt_st_file *f = ref_open(file);
    int64_t nbytes, nw, nseq, nids, nsp, noff;
    const char *bytes = ref_bytes(f, "words.bytes", &nbytes);
    int32_t *wsp = ref_i32(f, "words.splits", &nw);
    int32_t *seq = ref_i32(f, "seq", &nseq);
    int32_t *ids = ref_i32(f, "tok.ids", &nids);
    int32_t *tsp = ref_i32(f, "tok.splits", &nsp);
    int32_t *off = ref_i32(f, "tok.offsets", &noff);
    nw--;
    assert_int_equal(nsp, nw + 1);
    assert_int_equal(noff, 2 * nids);
    int32_t maxlen = 0;
    for (int64_t i = 0; i < nw; i++)
        if (wsp[i + 1] - wsp[i] > maxlen) maxlen = wsp[i + 1] - wsp[i];
    int32_t *os = malloc(((size_t)maxlen + 1) * sizeof(int32_t)), *oe = malloc(((size_t)maxlen + 1) * sizeof(int32_t));
    for (int32_t i = 0; i <= maxlen; i++) os[i] = BASE + i, oe[i] = BASE + i + 1;
    vt_pieces p = {0};
    int64_t bad = 0, tokens = 0;
    for (int64_t k = 0; k < nseq; k++) {
        int32_t i = seq[k];
        vt_word w = {.s = bytes + wsp[i], .len = wsp[i + 1] - wsp[i], .ostart = os, .oend = oe};
        for (int32_t b = 0; b < w.len; b++) w.nchars += ((unsigned char)w.s[b] & 0xC0) != 0x80;
        p.n = 0;
        if (tokenize(m, &w, cache, &p) != VT_OK) fail_msg("%s word %lld: %s", name, (long long)i, vt_last_error());
        const int32_t *want = ids + tsp[i], *wo = off + 2 * (int64_t)tsp[i];
        int32_t nt = tsp[i + 1] - tsp[i];
        tokens += nt;
        bool ok = p.n == nt;
        for (int32_t t = 0; ok && t < nt; t++) {
            /* offsets tokenizers cannot map (past the word) stay word-relative */
            int32_t shift = wo[2 * t + 1] <= w.len && wo[2 * t] < wo[2 * t + 1] ? BASE : 0;
            ok = p.id[t] == want[t] && p.start[t] == wo[2 * t] + shift && p.end[t] == wo[2 * t + 1] + shift;
        }
        if (!ok && bad++ < 5) {
            printf("    %s (%s): word %d \"%.*s\" differs\n      hf:", name, what, i, w.len > 120 ? 120 : w.len, w.s);
            for (int32_t t = 0; t < nt && t < 30; t++) printf(" %d[%d,%d)", want[t], wo[2 * t], wo[2 * t + 1]);
            printf("\n      vt:");
            for (int32_t t = 0; t < p.n && t < 30; t++) printf(" %d[%d,%d)", p.id[t], p.start[t] - BASE, p.end[t] - BASE);
            printf("\n");
        }
    }
    printf("  %-26s %-12s %7lld words (%lld distinct), %8lld tokens: %lld differ\n", name, what, (long long)nseq,
           (long long)nw, (long long)tokens, (long long)bad);
    vt_pieces_free(&p);
    free(os);
    free(oe);
    free(wsp);
    free(seq);
    free(ids);
    free(tsp);
    free(off);
    vt_st_close(f);
    return bad;
}

static void check_model(const char *name) {
    model m = load_model(name);
    int64_t bad = run_words(name, &m, NULL, "no cache");
    vt_word_cache *c = vt_word_cache_new(10000, 256);
    assert_non_null(c);
    bad += run_words(name, &m, c, "cache");
    vt_word_cache_free(c);
    c = vt_word_cache_new(7, 12);
    assert_non_null(c);
    bad += run_words(name, &m, c, "tiny cache");
    vt_word_cache_free(c);
    model_free(&m);
    assert_int_equal(bad, 0);
}

static void test_bpe_tiny(void **state) {
    check_model("bpe_tiny");
    check_model("bpe_tiny_fuse");
    check_model("bpe_tiny_prefix_bf");
    check_model("bpe_tiny_prefix_suffix");
}
static void test_bpe_bytelevel(void **state) {
    check_model("bpe_bytelevel");
    check_model("bpe_bytelevel_ignore");
}
static void test_bpe_suffix(void **state) {
    check_model("bpe_suffix");
    check_model("bpe_suffix_fuse");
}
static void test_bpe_bytefallback(void **state) {
    check_model("bpe_bytefallback");
    check_model("bpe_bytefallback_partial");
}
static void test_unigram_tiny(void **state) {
    check_model("unigram_tiny");
    check_model("unigram_tiny_bf");
}
static void test_unigram(void **state) {
    check_model("unigram");
    check_model("unigram_bytefallback");
}

/* ---- the precompiled charsmap ---- */

static void check_precompiled(const char *rule) {
    char file[256];
    snprintf(file, sizeof file, "tok_models/precompiled_%s.b64", rule);
    size_t blen;
    char *b64 = read_ref(file, &blen);
    vt_precompiled *p = vt_precompiled_from_base64(b64, blen, rule);
    if (!p) fail_msg("%s: %s", rule, vt_last_error());
    free(b64);
    snprintf(file, sizeof file, "tok_models/precompiled_%s.safetensors", rule);
    vt_st_file *f = ref_open(file);
    int64_t nlb, nl, nnb, nn, noff, ncs;
    const char *lines = ref_bytes(f, "lines.bytes", &nlb);
    const char *norms = ref_bytes(f, "norm.bytes", &nnb);
    int32_t *lsp = ref_i32(f, "lines.splits", &nl);
    int32_t *nsp = ref_i32(f, "norm.splits", &nn);
    int32_t *off = ref_i32(f, "chars.offsets", &noff);
    int32_t *csp = ref_i32(f, "chars.splits", &ncs);
    assert_int_equal(nl, nn);
    assert_int_equal(nl, ncs);
    vt_nstr src = {0}, dst = {0};
    vt_nchanges ch = {0};
    int64_t bad_text = 0, bad_align = 0, changed = 0;
    for (int64_t i = 0; i + 1 < nl; i++) {
        src.len = dst.len = 0;
        ch.n = 0;
        assert_int_equal(vt_nstr_append_text(&src, lines + lsp[i], lsp[i + 1] - lsp[i], 0), VT_OK);
        bool modified;
        assert_int_equal(vt_precompiled_changes(p, src.s, src.len, &ch, &modified), VT_OK);
        const vt_nstr *r = &src;
        if (modified) {
            assert_int_equal(vt_nstr_transform(&src, 0, src.len, ch.c, ch.n, 0, &dst), VT_OK);
            r = &dst;
            changed++;
        }
        const char *want = norms + nsp[i];
        int32_t wl = nsp[i + 1] - nsp[i];
        if (r->len != wl || memcmp(r->s, want, (size_t)wl)) {
            if (bad_text++ < 5)
                printf("    %s line %lld: \"%.*s\"\n      hf \"%.*s\"\n      vt \"%.*s\"\n", rule, (long long)i,
                       lsp[i + 1] - lsp[i] > 150 ? 150 : lsp[i + 1] - lsp[i], lines + lsp[i], wl > 150 ? 150 : wl,
                       want, r->len > 150 ? 150 : r->len, r->s);
            continue;
        }
        /* each normalized character's original range */
        int32_t c = csp[i];
        bool ok = true;
        for (int32_t a = 0; a < r->len && ok;) {
            int32_t b = a + 1;
            while (b < r->len && ((unsigned char)r->s[b] & 0xC0) == 0x80) b++;
            ok = c < csp[i + 1] && r->os[a] == off[2 * c] && r->oe[b - 1] == off[2 * c + 1];
            c++;
            a = b;
        }
        ok = ok && c == csp[i + 1];
        if (!ok && bad_align++ < 5) printf("    %s line %lld: alignments differ (character %d)\n", rule, (long long)i, c - 1 - csp[i]);
    }
    printf("  precompiled %-12s %lld lines, %lld modified: %lld texts differ, %lld alignments differ\n", rule,
           (long long)(nl - 1), (long long)changed, (long long)bad_text, (long long)bad_align);
    vt_nstr_free(&src);
    vt_nstr_free(&dst);
    vt_nchanges_free(&ch);
    free(lsp);
    free(nsp);
    free(off);
    free(csp);
    vt_st_close(f);
    vt_precompiled_free(p);
    assert_int_equal(bad_text, 0);
    assert_int_equal(bad_align, 0);
}

static void test_precompiled_nmt_nfkc(void **state) { check_precompiled("nmt_nfkc"); }
static void test_precompiled_nfkc_cf(void **state) { check_precompiled("nfkc_cf"); }
static void test_precompiled_nmt_nfkc_cf(void **state) { check_precompiled("nmt_nfkc_cf"); }

/* A real charsmap with its last base64 group varied: accepted exactly when tokenizers accepts it. */
static void test_precompiled_base64(void **state) {
    cJSON *root = read_json("tok_models/base64_cases.json");
    const char *prefix = json_str(root, "prefix");
    assert_non_null(prefix);
    size_t pl = strlen(prefix);
    char *buf = malloc(pl + 64);
    const cJSON *c;
    int bad = 0, n = 0;
    cJSON_ArrayForEach(c, cJSON_GetObjectItemCaseSensitive(root, "cases")) {
        const char *suf = cJSON_GetArrayItem(c, 0)->valuestring;
        bool want = cJSON_IsTrue(cJSON_GetArrayItem(c, 1));
        size_t sl = strlen(suf);
        assert_true(sl < 64);
        memcpy(buf, prefix, pl);
        memcpy(buf + pl, suf, sl);
        vt_precompiled *p = vt_precompiled_from_base64(buf, pl + sl, "cm");
        if ((p != NULL) != want) {
            printf("    suffix \"%s\": tokenizers %s, verto %s (%s)\n", suf, want ? "accepts" : "refuses",
                   p ? "accepts" : "refuses", p ? "" : vt_last_error());
            bad++;
        }
        if (!p && strncmp(vt_last_error(), "cm: ", 4)) fail_msg("error does not name the label: %s", vt_last_error());
        vt_precompiled_free(p);
        n++;
    }
    printf("  base64 variants: %d, %d decided differently\n", n, bad);
    free(buf);
    cJSON_Delete(root);
    assert_int_equal(bad, 0);
}

/* ---- refusals ---- */

static void expect_error(const char *what, const char *needle) {
    const char *e = vt_last_error();
    if (!strstr(e, needle)) fail_msg("%s: error \"%s\" does not mention \"%s\"", what, e, needle);
}

static void test_refusals(void **state) {
    const char *toks[] = {"a", "b", "ab", "<unk>"};
    size_t lens[] = {1, 1, 2, 5};
    vt_wp_vocab *v = vt_wp_vocab_from_tokens(toks, lens, 4);
    assert_non_null(v);
    vt_bpe_options o = {.unk_id = 3};
    const char *l1[] = {"a", "a"}, *r1[] = {"b", "c"};
    assert_null(vt_bpe_new(v, l1, r1, 2, &o, "lbl"));
    expect_error("merge side missing", "lbl: model.merges[1]");
    const char *l2[] = {"b"}, *r2[] = {"a"};
    assert_null(vt_bpe_new(v, l2, r2, 1, &o, "lbl"));
    expect_error("merged token missing", "lbl: model.merges[0]");
    o.unk_id = 9;
    assert_null(vt_bpe_new(v, l1, r1, 1, &o, "lbl"));
    expect_error("unk out of range", "lbl");
    o.unk_id = -1;
    o.continuing_subword_prefix = "##";
    assert_null(vt_bpe_new(v, l1, r1, 1, &o, "lbl"));
    expect_error("right side shorter than the prefix", "lbl: model.merges[0]");
    double sc[] = {-1, -2, -1.5, 0};
    assert_null(vt_unigram_new(v, sc, 4, false, "uni"));
    expect_error("unigram unk", "uni");
    assert_null(vt_unigram_new(v, sc, -1, false, "uni"));
    expect_error("unigram unk", "uni");

    /* a model without unk drops unknown characters, and (as tokenizers does)
     * offsets count only the characters kept: "xabyb" gives ab [0,2), b [2,3) */
    o = (vt_bpe_options){.unk_id = -1};
    vt_bpe *m = vt_bpe_new(v, (const char *[]){"a"}, (const char *[]){"b"}, 1, &o, "lbl");
    assert_non_null(m);
    int32_t os[8] = {0, 1, 2, 3, 4, 5, 6, 7}, oe[8] = {1, 2, 3, 4, 5, 6, 7, 8};
    vt_word w = {.s = "xabyb", .len = 5, .nchars = 5, .ostart = os, .oend = oe};
    vt_pieces p = {0};
    assert_int_equal(vt_bpe_tokenize(m, &w, NULL, &p), VT_OK);
    assert_int_equal(p.n, 2);
    assert_int_equal(p.id[0], 2);
    assert_int_equal(p.start[0], 0);
    assert_int_equal(p.end[0], 2);
    assert_int_equal(p.id[1], 1);
    assert_int_equal(p.start[1], 2);
    assert_int_equal(p.end[1], 3);
    vt_bpe_free(m);
    vt_pieces_free(&p);
    vt_wp_vocab_free(v);

    /* charsmaps */
    static const char *bad[] = {"", "AAAA", "////", "CAAAAAAAAAAAAAAA", "BAAAAP///38=", "@@@@", "AA=A"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        vt_precompiled *pc = vt_precompiled_from_base64(bad[i], strlen(bad[i]), "cmap");
        if (pc) fail_msg("charsmap \"%s\" accepted", bad[i]);
        expect_error(bad[i], "cmap: ");
    }
}

/* The word cache alone: a hit gives the stored pieces mapped through the
 * new word's alignments; words too long are not kept; a full cache empties. */
static void test_word_cache(void **state) {
    vt_word_cache *c = vt_word_cache_new(2, 4);
    assert_non_null(c);
    int32_t os[8] = {10, 10, 12, 13, 14, 15, 16, 17}, oe[8] = {12, 12, 13, 14, 15, 16, 17, 18};
    vt_word w = {.s = "abcd", .len = 4, .nchars = 4, .ostart = os, .oend = oe};
    vt_pieces p = {0};
    assert_false(vt_word_cache_get(c, &w, &p));
    vt_pieces_push(&p, 7, 0, 2);
    vt_pieces_push(&p, 8, 2, 4);
    vt_word_cache_put(c, &w, &p, 0);
    p.n = 0;
    vt_pieces_push(&p, 99, 0, 0);
    assert_true(vt_word_cache_get(c, &w, &p));
    assert_int_equal(p.n, 3);
    assert_int_equal(p.id[1], 7);
    assert_int_equal(p.start[1], 10);
    assert_int_equal(p.end[1], 12);
    assert_int_equal(p.id[2], 8);
    assert_int_equal(p.start[2], 12);
    assert_int_equal(p.end[2], 14);
    vt_word w5 = {.s = "abcde", .len = 5, .nchars = 5, .ostart = os, .oend = oe};
    p.n = 0;
    vt_pieces_push(&p, 1, 0, 5);
    vt_word_cache_put(c, &w5, &p, 0);
    p.n = 0;
    assert_false(vt_word_cache_get(c, &w5, &p));
    vt_word wx = {.s = "x", .len = 1, .nchars = 1, .ostart = os, .oend = oe};
    vt_word wy = {.s = "y", .len = 1, .nchars = 1, .ostart = os, .oend = oe};
    vt_pieces_push(&p, 1, 0, 1);
    vt_word_cache_put(c, &wx, &p, 0);
    vt_word_cache_put(c, &wy, &p, 0); /* the third word: emptied first */
    p.n = 0;
    assert_false(vt_word_cache_get(c, &w, &p));
    assert_true(vt_word_cache_get(c, &wy, &p));
    vt_pieces_free(&p);
    vt_word_cache_free(c);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_word_cache),
        cmocka_unit_test(test_refusals),
        cmocka_unit_test(test_bpe_tiny),
        cmocka_unit_test(test_unigram_tiny),
        cmocka_unit_test(test_bpe_bytelevel),
        cmocka_unit_test(test_bpe_suffix),
        cmocka_unit_test(test_bpe_bytefallback),
        cmocka_unit_test(test_unigram),
        cmocka_unit_test(test_precompiled_nmt_nfkc),
        cmocka_unit_test(test_precompiled_nfkc_cf),
        cmocka_unit_test(test_precompiled_nmt_nfkc_cf),
        cmocka_unit_test(test_precompiled_base64),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
