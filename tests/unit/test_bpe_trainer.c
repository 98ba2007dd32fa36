/* The byte-level BPE trainer against tokenizers' ByteLevelBPETokenizer.train
 * (tests/ref/gen_bpe_train.py), on a mixed text at three sizes and
 * min_frequency values: the tokenizer.json verto writes must be the same text
 * as tokenizers' (so vocabulary, ids and merges in order are equal); loaded
 * back, it must give tokenizers' ids on every held-out line (exact: ids are
 * integers) and decode each line to its bytes; vocab.json + merges.txt in a
 * directory must give the same ids. Bad input is refused with its error. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "verto/fileio.h"
#include "verto/tokenizer.h"
#include "verto/vocab_builder.h"
#include "vt_test.h"

typedef struct config {
    char name[64], specials[256];
    int32_t size;
    int64_t min_freq;
} config;

static char *read_ref(const char *file, size_t *len) {
    char path[1024], *data = NULL;
    ref_file_path(file, path, sizeof path);
    if (vt_read_file(path, (size_t)1 << 30, &data, len) != VT_OK) fail_msg("%s", vt_last_error());
    return data;
}

static int read_configs(config *c, int max) {
    size_t len;
    char *text = read_ref("bpe_train/configs.txt", &len);
    int n = 0;
    for (char *save = NULL, *ln = strtok_r(text, "\n", &save); ln && n < max; ln = strtok_r(NULL, "\n", &save)) {
        long long size, mf;
        assert_int_equal(sscanf(ln, "%63s %lld %lld %255s", c[n].name, &size, &mf, c[n].specials), 4);
        c[n].size = (int32_t)size;
        c[n].min_freq = mf;
        n++;
    }
    free(text);
    assert_true(n >= 2);
    return n;
}

static vt_bpe_vocab *train(const config *c, const char *file) {
    vt_vb_options o;
    vt_vb_options_default(&o);
    o.kind = VT_VB_BYTE_LEVEL_BPE;
    o.vocab_size = c->size;
    o.min_frequency = c->min_freq;
    char specials[256], *save = NULL;
    const char *tok[8];
    snprintf(specials, sizeof specials, "%s", c->specials);
    for (char *s = strtok_r(specials, ",", &save); s && strcmp(s, "-"); s = strtok_r(NULL, ",", &save))
        tok[o.n_special_tokens++] = s;
    o.special_tokens = tok;
    vt_vocab_builder *b = vt_vb_create(&o);
    assert_non_null(b);
    if (vt_vb_add_file(b, file) != VT_OK) fail_msg("%s", vt_last_error());
    vt_bpe_vocab *v = vt_vb_train_bpe(b);
    assert_non_null(v);
    vt_vb_free(b);
    return v;
}

/* The held-out lines' ids from `t` against NAME.ids, and decode(encode(line)) == line. */
static void check_ids(const vt_tokenizer *t, const char *name, const char *what) {
    size_t hlen, ilen;
    char *held = read_ref("bpe_train/heldout.txt", &hlen), file[128];
    snprintf(file, sizeof file, "bpe_train/%s.ids", name);
    char *ids = read_ref(file, &ilen);
    vt_tok_encoding e;
    vt_tok_encoding_init(&e);
    vt_tok_encode_opts eo;
    vt_tok_encode_opts_default(&eo);
    int lines = 0, same = 0, round = 0;
    const char *h = held, *r = ids;
    while (h < held + hlen) {
        const char *hn = memchr(h, '\n', (size_t)(held + hlen - h)), *rn = memchr(r, '\n', (size_t)(ids + ilen - r));
        assert_non_null(hn);
        assert_non_null(rn);
        assert_int_equal(vt_tok_encode(t, h, (size_t)(hn - h), NULL, 0, &eo, &e), VT_OK);
        bool ok = true;
        const char *p = r;
        for (int32_t i = 0; i < e.len; i++) {
            char *end;
            long want = strtol(p, &end, 10);
            if (end == p || want != e.ids[i]) ok = false;
            p = end;
        }
        while (p < rn && *p == ' ') p++;
        if (p != rn) ok = false; /* the reference has more ids */
        same += ok;
        if (!ok && lines - same < 3) printf("  %s: line %d differs\n", what, lines + 1);
        char *dec = NULL;
        size_t dlen = 0;
        assert_int_equal(vt_tok_decode(t, e.ids, (size_t)e.len, false, false, &dec, &dlen), VT_OK);
        bool same_bytes = dlen == (size_t)(hn - h) && !memcmp(dec, h, dlen);
        if (!same_bytes && lines - round < 3) printf("  decode line %d: %zu bytes -> %zu: %s\n", lines + 1, (size_t)(hn - h), dlen, memchr(h, 0, (size_t)(hn - h)) ? "has NUL" : "");
        round += same_bytes;
        free(dec);
        lines++;
        h = hn + 1;
        r = rn + 1;
    }
    printf("%s %s: %d/%d lines with tokenizers' ids, %d/%d decode to their bytes\n", name, what, same, lines, round,
           lines);
    assert_true(lines >= 100);
    assert_int_equal(same, lines);
    assert_int_equal(round, lines);
    vt_tok_encoding_free(&e);
    free(held);
    free(ids);
}

static void test_against_tokenizers(void **state) {
    (void)state;
    config c[8];
    int n = read_configs(c, 8);
    char train_file[1024];
    ref_file_path("bpe_train/train.txt", train_file, sizeof train_file);
    char *dir = test_tmpdir();
    for (int k = 0; k < n; k++) {
        vt_bpe_vocab *v = train(&c[k], train_file);
        char ref[4096], mine[4096];
        snprintf(ref, sizeof ref, "bpe_train/%s.json", c[k].name);
        snprintf(mine, sizeof mine, "%s/%s.json", dir, c[k].name);
        assert_int_equal(vt_bpe_vocab_save_json(v, mine), VT_OK);
        size_t rlen, mlen;
        char *want = read_ref(ref, &rlen), *got = NULL;
        assert_int_equal(vt_read_file(mine, (size_t)1 << 30, &got, &mlen), VT_OK);
        /* the same text: every token at its id, every merge at its rank */
        if (rlen != mlen || memcmp(want, got, rlen)) fail_msg("%s: tokenizer.json differs from tokenizers'", c[k].name);
        printf("%s: %d tokens, %d merges, tokenizer.json identical to tokenizers'\n", c[k].name,
               vt_bpe_vocab_size(v), vt_bpe_vocab_n_merges(v));
        free(want);
        free(got);
        vt_tokenizer *t = vt_tok_load_json(mine, NULL);
        assert_non_null(t);
        check_ids(t, c[k].name, "tokenizer.json");
        vt_tok_free(t);
        /* vocab.json + merges.txt alone */
        char sub[4200];
        snprintf(sub, sizeof sub, "%s/%s_files", dir, c[k].name);
        assert_int_equal(vt_bpe_vocab_save_files(v, sub), VT_OK);
        t = vt_tok_load(sub, NULL);
        if (!t) fail_msg("%s", vt_last_error());
        check_ids(t, c[k].name, "vocab.json + merges.txt");
        vt_tok_free(t);
        vt_bpe_vocab_free(v);
    }
    test_remove_dir(dir);
}

static void test_api(void **state) {
    (void)state;
    vt_vb_options o;
    vt_vb_options_default(&o);
    o.kind = VT_VB_BYTE_LEVEL_BPE;
    o.min_frequency = 1;
    o.vocab_size = 300;
    const char *sp[] = {"<s>", "<s>", "!"}; /* a duplicate and a byte character: each once */
    o.special_tokens = sp;
    o.n_special_tokens = 3;
    vt_vocab_builder *b = vt_vb_create(&o);
    assert_non_null(b);
    const char text[] = "aaaa aaa\n";
    assert_int_equal(vt_vb_add_text(b, text, sizeof text - 1), VT_OK);
    vt_bpe_vocab *v = vt_vb_train_bpe(b);
    assert_non_null(v);
    assert_int_equal(vt_bpe_vocab_n_special(v), 2);
    assert_string_equal(vt_bpe_vocab_token(v, 0), "<s>");
    assert_string_equal(vt_bpe_vocab_token(v, 1), "!");
    assert_string_equal(vt_bpe_vocab_token(v, 2), "\""); /* then the byte characters by code point */
    assert_null(vt_bpe_vocab_token(v, vt_bpe_vocab_size(v)));
    int32_t l, r;
    assert_int_equal(vt_bpe_vocab_merge(v, 0, &l, &r), VT_OK);
    assert_string_equal(vt_bpe_vocab_token(v, l), "a"); /* (a, a) is the most frequent pair */
    assert_string_equal(vt_bpe_vocab_token(v, r), "a");
    assert_int_equal(vt_bpe_vocab_merge(v, vt_bpe_vocab_n_merges(v), &l, &r), VT_ERR_INVALID_ARG);
    vt_bpe_vocab_free(v);
    assert_null(vt_vb_train(b)); /* WordPiece training of a BPE builder */
    assert_int_equal(vt_last_status(), VT_ERR_INVALID_ARG);
    vt_vb_free(b);
}

static void test_bad_input(void **state) {
    (void)state;
    vt_vb_options o;
    vt_vb_options_default(&o);
    o.kind = VT_VB_BYTE_LEVEL_BPE;
    const char *sp[] = {"<|endoftext|>"};
    o.special_tokens = sp;
    o.n_special_tokens = 1;
    o.vocab_size = 256; /* the 256 byte characters + 1 special do not fit */
    assert_null(vt_vb_create(&o));
    assert_int_equal(vt_last_status(), VT_ERR_INVALID_ARG);
    assert_non_null(strstr(vt_last_error(), "256"));
    const char *empty[] = {""};
    o.vocab_size = 1000;
    o.special_tokens = empty;
    assert_null(vt_vb_create(&o));
    o.special_tokens = sp;
    vt_vocab_builder *b = vt_vb_create(&o);
    assert_non_null(b);
    char bad[1024];
    ref_file_path("bpe_train/bad_utf8.txt", bad, sizeof bad);
    assert_int_equal(vt_vb_add_file(b, bad), VT_ERR_FORMAT);
    char want[1100];
    snprintf(want, sizeof want, "%s:2: invalid UTF-8", bad);
    printf("invalid UTF-8: %s\n", vt_last_error());
    assert_non_null(strstr(vt_last_error(), want));
    assert_int_equal(vt_vb_add_text(b, "ok\n\xff\n", 5), VT_ERR_FORMAT);
    assert_non_null(strstr(vt_last_error(), "text:2:"));
    assert_int_equal(vt_vb_add_file(b, "/nonexistent/corpus.txt"), VT_ERR_IO);
    assert_non_null(strstr(vt_last_error(), "/nonexistent/corpus.txt"));
    vt_vb_free(b);
    /* a WordPiece builder cannot train BPE */
    vt_vb_options_default(&o);
    b = vt_vb_create(&o);
    assert_null(vt_vb_train_bpe(b));
    assert_int_equal(vt_last_status(), VT_ERR_INVALID_ARG);
    vt_vb_free(b);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_against_tokenizers),
        cmocka_unit_test(test_api),
        cmocka_unit_test(test_bad_input),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
