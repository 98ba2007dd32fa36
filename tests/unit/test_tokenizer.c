/* Tokenizer edge cases: vocabulary files, tokenizer_config.json,
 * sentencepiece.bpe.model (and its malformed forms), empty and blank input,
 * every kind of invalid UTF-8, the per-word character limit, [UNK], literal
 * special tokens, truncation corner cases, offsets, decoding. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "verto/tokenizer.h"
#include "vt_test.h"

static const char VOCAB[] =
    "[PAD]\n[UNK]\n[CLS]\n[SEP]\n[MASK]\n"          /* 0-4 */
    "hello\nworld\nun\n##aff\n##able\n"             /* 5-9 */
    "a\n##a\n,\n.\n!\n"                             /* 10-14 */
    "e\n##e\ncafe\né\n中\n"                         /* 15-19 */
    "x\n##y\nb\n##b\n"                              /* 20-23 */
    "aaaa\n";                                       /* 24 */

static vt_tokenizer *make_tok(bool lower) {
    vt_wp_vocab *v = vt_wp_vocab_from_buffer(VOCAB, sizeof VOCAB - 1, "test vocab");
    assert_non_null(v);
    vt_tok_options o;
    vt_tok_options_default(&o);
    o.lowercase = lower;
    vt_tokenizer *t = vt_tok_create(v, &o);
    assert_non_null(t);
    return t;
}

/* Encodes s (single, with [CLS]/[SEP]) and compares the ids. */
static void expect_ids(const vt_tokenizer *t, const char *s, size_t len, const int32_t *want, int32_t n) {
    vt_tok_encoding e;
    vt_tok_encoding_init(&e);
    assert_int_equal(vt_tok_encode(t, s, len, NULL, 0, NULL, &e), VT_OK);
    if (e.len != n || memcmp(e.ids, want, (size_t)n * sizeof(int32_t))) {
        printf("  input '%.*s': got", (int)len, s);
        for (int32_t i = 0; i < e.len; i++) printf(" %d", e.ids[i]);
        printf(", want");
        for (int32_t i = 0; i < n; i++) printf(" %d", want[i]);
        printf("\n");
        fail_msg("ids differ");
    }
    vt_tok_encoding_free(&e);
}
#define EXPECT(t, s, ...)                                                                                     \
    do {                                                                                                      \
        const int32_t w_[] = {__VA_ARGS__};                                                                   \
        expect_ids(t, s, sizeof(s) - 1, w_, (int32_t)(sizeof w_ / sizeof *w_));                               \
    } while (0)

static void write_file(const char *path, const char *data, size_t n) {
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(data, 1, n, f), n);
    fclose(f);
}

static void test_vocab_file_forms(void **state) {
    const char data[] = "[PAD]\r\n[UNK]\r\ndup\r\n\r\nx  \ndup\nlast";
    vt_wp_vocab *v = vt_wp_vocab_from_buffer(data, sizeof data - 1, "crlf");
    assert_non_null(v);
    assert_int_equal(vt_wp_vocab_size(v), 7);            /* no final newline: "last" counts */
    assert_int_equal(vt_wp_vocab_id(v, "[UNK]", 5), 1);  /* CRLF stripped */
    assert_int_equal(vt_wp_vocab_id(v, "x", 1), 4);      /* trailing spaces dropped */
    assert_int_equal(vt_wp_vocab_id(v, "dup", 3), 5);    /* later id wins */
    assert_string_equal(vt_wp_vocab_token(v, 2), "dup"); /* both ids decode */
    assert_string_equal(vt_wp_vocab_token(v, 3), "");    /* empty line keeps its id */
    assert_string_equal(vt_wp_vocab_token(v, 6), "last");
    assert_null(vt_wp_vocab_token(v, 7));
    assert_null(vt_wp_vocab_token(v, -1));
    assert_int_equal(vt_wp_vocab_id(v, "nope", 4), -1);
    vt_wp_vocab_free(v);

    v = vt_wp_vocab_from_buffer("", 0, "empty");
    assert_non_null(v);
    assert_int_equal(vt_wp_vocab_size(v), 0);
    vt_wp_vocab_free(v);

    const char bad[] = "ok\nbad\xff\n";
    assert_null(vt_wp_vocab_from_buffer(bad, sizeof bad - 1, "bad.txt"));
    assert_int_equal(vt_last_status(), VT_ERR_FORMAT);
    assert_non_null(strstr(vt_last_error(), "bad.txt:2"));
}

static void test_vocab_and_config_files(void **state) {
    char *dir = test_tmpdir();
    char path[4096];
    snprintf(path, sizeof path, "%s/vocab.txt", dir);
    write_file(path, VOCAB, sizeof VOCAB - 1);
    vt_wp_vocab *v = vt_wp_vocab_load(dir); /* a directory means DIR/vocab.txt */
    assert_non_null(v);
    assert_int_equal(vt_wp_vocab_size(v), 25);
    vt_wp_vocab_free(v);
    assert_non_null(v = vt_wp_vocab_load(path));
    vt_wp_vocab_free(v);

    vt_tok_options o;
    assert_int_equal(vt_tok_options_from_config(dir, &o), VT_OK); /* no config: defaults */
    assert_true(o.lowercase);
    assert_int_equal(o.strip_accents, -1);
    assert_int_equal(o.model_max_length, 512);

    snprintf(path, sizeof path, "%s/tokenizer_config.json", dir);
    const char cfg[] = "{\"do_lower_case\": false, \"strip_accents\": true, \"tokenize_chinese_chars\": false,"
                       " \"model_max_length\": 1000000000000000019884624838656, \"tokenizer_class\": \"X\"}";
    write_file(path, cfg, sizeof cfg - 1);
    snprintf(path, sizeof path, "%s/vocab.txt", dir);
    assert_int_equal(vt_tok_options_from_config(path, &o), VT_OK); /* a file: its directory */
    assert_false(o.lowercase);
    assert_int_equal(o.strip_accents, 1);
    assert_false(o.tokenize_chinese_chars);
    assert_int_equal(o.model_max_length, INT32_MAX);
    vt_tokenizer *t = vt_tok_load(dir, NULL);
    assert_non_null(t);
    assert_false(vt_tok_get_options(t)->lowercase);
    vt_tok_free(t);

    snprintf(path, sizeof path, "%s/tokenizer_config.json", dir);
    write_file(path, "{\"do_lower_case\": \"yes\"}", 24);
    assert_int_not_equal(vt_tok_options_from_config(dir, &o), VT_OK);
    assert_non_null(strstr(vt_last_error(), "do_lower_case"));
    assert_non_null(strstr(vt_last_error(), "tokenizer_config.json"));
    write_file(path, "{nope", 5);
    assert_int_equal(vt_tok_options_from_config(dir, &o), VT_ERR_FORMAT);
    assert_null(vt_tok_load(dir, NULL));

    assert_null(vt_wp_vocab_load("/nonexistent/verto/vocab.txt"));
    assert_non_null(strstr(vt_last_error(), "/nonexistent/verto/vocab.txt"));
    free(dir);
}

static void test_missing_special_tokens(void **state) {
    vt_wp_vocab *v = vt_wp_vocab_from_buffer("[PAD]\n[CLS]\n[SEP]\n", 18, "nounk");
    assert_non_null(v);
    assert_null(vt_tok_create(v, NULL)); /* takes the vocabulary even on failure */
    assert_non_null(strstr(vt_last_error(), "[UNK]"));
}

static void test_empty_and_blank(void **state) {
    vt_tokenizer *t = make_tok(true);
    EXPECT(t, "", 2, 3);
    EXPECT(t, "   \t\r\n  ", 2, 3);
    EXPECT(t, "\x01\x7f\xe2\x80\x8b", 2, 3); /* controls and a zero-width space only */
    vt_tok_encoding e;
    vt_tok_encoding_init(&e);
    assert_int_equal(vt_tok_encode(t, NULL, 0, NULL, 0, NULL, &e), VT_OK);
    assert_int_equal(e.len, 2);
    assert_int_equal(vt_tok_encode(t, NULL, 3, NULL, 0, NULL, &e), VT_ERR_INVALID_ARG);
    vt_tok_encode_opts o = {false, 0, 0};
    assert_int_equal(vt_tok_encode(t, "", 0, NULL, 0, &o, &e), VT_OK);
    assert_int_equal(e.len, 0);
    vt_tok_encoding_free(&e);
    vt_tok_free(t);
}

static void test_wordpiece(void **state) {
    vt_tokenizer *t = make_tok(true);
    EXPECT(t, "Hello, WORLD!", 2, 5, 12, 6, 14, 3);
    EXPECT(t, "unaffable", 2, 7, 8, 9, 3);
    EXPECT(t, "unaffablex", 2, 1, 3);     /* no complete cut: the whole word is [UNK] */
    EXPECT(t, "xy xyy", 2, 20, 21, 20, 21, 21, 3);
    EXPECT(t, "Café", 2, 17, 3);          /* accents stripped */
    EXPECT(t, "a中b", 2, 10, 19, 22, 3);  /* CJK isolated */
    EXPECT(t, "zzz hello", 2, 1, 5, 3);
    vt_tok_free(t);
    t = make_tok(false);                  /* cased: no lowercasing, no stripping */
    EXPECT(t, "Hello é", 2, 1, 18, 3);
    vt_tok_free(t);
}

static void test_max_chars_per_word(void **state) {
    vt_tokenizer *t = make_tok(true);
    char buf[512];
    int32_t want[120];
    for (int n = 99; n <= 101; n++) { /* "aaaa" + "##a" * (n - 4) */
        memset(buf, 'a', (size_t)n);
        int32_t k = 0;
        want[k++] = 2;
        if (n <= 100) {
            want[k++] = 24;
            for (int i = 4; i < n; i++) want[k++] = 11;
        } else {
            want[k++] = 1;
        }
        want[k++] = 3;
        expect_ids(t, buf, (size_t)n, want, k);
    }
    /* counted in characters, not bytes: 100 x "é" (200 bytes) still fits */
    for (int i = 0; i < 100; i++) memcpy(buf + 2 * i, "\xc3\xa9", 2);
    vt_tok_encoding e;
    vt_tok_encoding_init(&e);
    assert_int_equal(vt_tok_encode(t, buf, 200, NULL, 0, NULL, &e), VT_OK);
    assert_int_equal(e.len, 102); /* e ##e x 99 */
    assert_int_equal(e.ids[1], 15);
    assert_int_equal(e.ids[100], 16);
    assert_int_equal(vt_tok_encode(t, buf, 200 - 2, NULL, 0, NULL, &e), VT_OK);
    memcpy(buf + 200, "\xc3\xa9", 2);
    assert_int_equal(vt_tok_encode(t, buf, 202, NULL, 0, NULL, &e), VT_OK);
    assert_int_equal(e.len, 3);
    assert_int_equal(e.ids[1], 1);
    assert_int_equal(e.offsets[2], 0);
    assert_int_equal(e.offsets[3], 202);
    vt_tok_encoding_free(&e);
    vt_tok_free(t);
}

static void test_invalid_utf8(void **state) {
    vt_tokenizer *t = make_tok(true);
    /* each kind vanishes without splitting the word: "a<bad>b" reads "ab" = a ##b */
    static const char *const bad[] = {
        "\xc0\xaf", "\xc1\xbf", "\xe0\x80\xaf", "\xf0\x80\x80\xaf", /* overlong */
        "\xed\xa0\x80", "\xed\xbf\xbf",                             /* surrogates */
        "\xe2\x82", "\xf0\x9f\x98", "\xc3",                         /* truncated */
        "\xf4\x90\x80\x80", "\xf5\x80\x80\x80", "\xf8\x88\x80\x80\x80", "\xfc\x84\x80\x80\x80\x80",
        "\x80", "\xbf", "\xfe", "\xff", "\xef\xbf\xbd",             /* stray bytes, U+FFFD itself */
    };
    const int32_t want[] = {2, 10, 23, 3};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        char buf[32];
        size_t n = (size_t)snprintf(buf, sizeof buf, "a%sb", bad[i]);
        expect_ids(t, buf, n, want, 4);
    }
    /* truncated at the very end of the input */
    const int32_t want_a[] = {2, 10, 3};
    expect_ids(t, "a\xe2\x82", 3, want_a, 3);
    expect_ids(t, "a\xf0", 2, want_a, 3);
    vt_tok_free(t);
}

/* Canonical reordering is linear: 100k out-of-order combining characters
 * (U+1D16D class 226, U+1D165 class 216, alternating) in one word. */
static void test_long_mark_run(void **state) {
    vt_tokenizer *t = make_tok(true);
    size_t n = 1 + 100000 * 4;
    char *s = malloc(n);
    s[0] = 'a';
    for (size_t i = 0; i < 100000; i++) memcpy(s + 1 + 4 * i, i % 2 ? "\xf0\x9d\x85\xa5" : "\xf0\x9d\x85\xad", 4);
    vt_tok_encoding e;
    vt_tok_encoding_init(&e);
    assert_int_equal(vt_tok_encode(t, s, n, NULL, 0, NULL, &e), VT_OK);
    assert_int_equal(e.len, 3); /* one [UNK] */
    assert_int_equal(e.offsets[3], (int32_t)n);
    vt_tok_encoding_free(&e);
    free(s);
    vt_tok_free(t);
}

static void test_offsets(void **state) {
    vt_tokenizer *t = make_tok(true);
    const char s[] = "\xff Caf\xc3\xa9 xyy";
    vt_tok_encoding e;
    vt_tok_encoding_init(&e);
    assert_int_equal(vt_tok_encode(t, s, sizeof s - 1, NULL, 0, NULL, &e), VT_OK);
    assert_int_equal(e.len, 6); /* [CLS] cafe x ##y ##y [SEP] */
    const int32_t bytes[] = {0, 0, 2, 7, 8, 9, 9, 10, 10, 11, 0, 0};
    assert_memory_equal(e.offsets, bytes, sizeof bytes);
    const int32_t seq[] = {-1, 0, 0, 0, 0, -1};
    assert_memory_equal(e.seq, seq, sizeof seq);
    vt_tok_offsets_to_chars(s, sizeof s - 1, e.offsets, 12);
    const int32_t chars[] = {0, 0, 2, 6, 7, 8, 8, 9, 9, 10, 0, 0};
    assert_memory_equal(e.offsets, chars, sizeof chars);
    vt_tok_encoding_free(&e);
    vt_tok_free(t);
}

static void test_special_tokens_in_text(void **state) {
    vt_tokenizer *t = make_tok(true);
    EXPECT(t, "hello[MASK]world", 2, 5, 4, 6, 3);
    EXPECT(t, "[SEP][CLS]", 2, 3, 2, 3);
    EXPECT(t, "[mask]", 2, 1, 1, 1, 3); /* lowercase: not special ([ and ] are not in VOCAB) */
    vt_tok_free(t);
    vt_wp_vocab *v = vt_wp_vocab_from_buffer(VOCAB, sizeof VOCAB - 1, "v");
    vt_tok_options o;
    vt_tok_options_default(&o);
    o.split_special_tokens = true;
    t = vt_tok_create(v, &o);
    EXPECT(t, "[MASK]", 2, 1, 1, 1, 3);
    vt_tok_free(t);
}

static void encode_pair(const vt_tokenizer *t, const char *a, const char *b, int32_t max, int32_t pad,
                        vt_tok_encoding *e) {
    vt_tok_encode_opts o = {true, max, pad};
    assert_int_equal(vt_tok_encode(t, a, strlen(a), b, b ? strlen(b) : 0, &o, e), VT_OK);
}

static void test_truncation(void **state) {
    vt_tokenizer *t = make_tok(true);
    vt_tok_encoding e;
    vt_tok_encoding_init(&e);
    const char *a = "a a a a a a", *b = "b b b";
    encode_pair(t, a, b, 0, 0, &e);
    assert_int_equal(e.len, 12);
    encode_pair(t, a, b, 10, 0, &e); /* room 7: b keeps 3, a gets 4 */
    const int32_t w1[] = {2, 10, 10, 10, 10, 3, 22, 22, 22, 3};
    assert_int_equal(e.len, 10);
    assert_memory_equal(e.ids, w1, sizeof w1);
    encode_pair(t, a, b, 8, 0, &e); /* room 5: both too long -> 2 and 3, the longer gets the odd one */
    const int32_t w2[] = {2, 10, 10, 10, 3, 22, 22, 3};
    assert_int_equal(e.len, 8);
    assert_memory_equal(e.ids, w2, sizeof w2);
    const int32_t ty[] = {0, 0, 0, 0, 0, 1, 1, 1};
    assert_memory_equal(e.type_ids, ty, sizeof ty);
    encode_pair(t, a, b, 3, 0, &e); /* no room at all */
    assert_int_equal(e.len, 3);
    encode_pair(t, a, b, 2, 0, &e); /* below the special tokens: HF truncates nothing */
    assert_int_equal(e.len, 12);
    encode_pair(t, a, NULL, 4, 6, &e); /* single, truncated then padded */
    const int32_t w3[] = {2, 10, 10, 3, 0, 0}, m3[] = {1, 1, 1, 1, 0, 0};
    assert_int_equal(e.len, 6);
    assert_memory_equal(e.ids, w3, sizeof w3);
    assert_memory_equal(e.attention_mask, m3, sizeof m3);
    vt_tok_encode_opts bad = {true, -1, 0};
    assert_int_equal(vt_tok_encode(t, "a", 1, NULL, 0, &bad, &e), VT_ERR_INVALID_ARG);
    vt_tok_encoding_free(&e);

    /* batch: padded to the longest */
    const char *as[] = {"a", "a a a", "hello world"};
    size_t al[] = {1, 5, 11};
    vt_tok_encoding be[3];
    for (int i = 0; i < 3; i++) vt_tok_encoding_init(&be[i]);
    assert_int_equal(vt_tok_encode_batch(t, 3, as, al, NULL, NULL, NULL, be), VT_OK);
    for (int i = 0; i < 3; i++) {
        assert_int_equal(be[i].len, 5);
        vt_tok_encoding_free(&be[i]);
    }
    vt_tok_free(t);
}

/* keep_tail: a cut input keeps its first tokens and its last keep_tail; the
 * truncation keys of tokenizer_config.json. */
static void test_head_tail_truncation(void **state) {
    vt_wp_vocab *v = vt_wp_vocab_from_buffer(VOCAB, sizeof VOCAB - 1, "test vocab");
    vt_tok_options o;
    vt_tok_options_default(&o);
    o.keep_tail = 2;
    vt_tokenizer *t = vt_tok_create(v, &o);
    assert_non_null(t);
    vt_tok_encoding e;
    vt_tok_encoding_init(&e);
    const char *text = "hello world a , . ! x b"; /* 5 6 10 12 13 14 20 22 */
    encode_pair(t, text, NULL, 6, 0, &e);        /* room 4: 2 first, 2 last */
    const int32_t w1[] = {2, 5, 6, 20, 22, 3};
    assert_int_equal(e.len, 6);
    assert_memory_equal(e.ids, w1, sizeof w1);
    assert_int_equal(e.offsets[2 * 3], 20); /* "x" keeps its place in the text */
    assert_int_equal(e.offsets[2 * 4 + 1], 23);
    encode_pair(t, text, NULL, 3, 0, &e); /* room 1: the last one only */
    const int32_t w2[] = {2, 22, 3};
    assert_memory_equal(e.ids, w2, sizeof w2);
    encode_pair(t, "hello world", NULL, 6, 0, &e); /* not cut: unchanged */
    const int32_t w3[] = {2, 5, 6, 3};
    assert_int_equal(e.len, 4);
    assert_memory_equal(e.ids, w3, sizeof w3);
    /* pairs: the lengths of longest-first truncation, each input cut head + tail */
    encode_pair(t, "a , . ! hello", "x b b b world", 10, 0, &e); /* room 7: 3 + 4 */
    const int32_t w4[] = {2, 10, 14, 5, 3, 20, 22, 22, 6, 3};
    assert_int_equal(e.len, 10);
    assert_memory_equal(e.ids, w4, sizeof w4);
    vt_tok_free(t);

    o.keep_tail = INT32_MAX; /* truncation_side "left" */
    assert_non_null(v = vt_wp_vocab_from_buffer(VOCAB, sizeof VOCAB - 1, "test vocab"));
    assert_non_null(t = vt_tok_create(v, &o));
    encode_pair(t, text, NULL, 5, 0, &e);
    const int32_t w5[] = {2, 14, 20, 22, 3};
    assert_memory_equal(e.ids, w5, sizeof w5);
    vt_tok_encoding_free(&e);
    vt_tok_free(t);

    /* tokenizer_config.json: keep_tail_tokens, or HF's truncation_side */
    char *dir = test_tmpdir(), path[4096];
    snprintf(path, sizeof path, "%s/tokenizer_config.json", dir);
    /* and "max_windows": an integer 1..VT_TOK_MAX_WINDOWS */
    static const struct { const char *json; vt_status st; int32_t keep_tail, windows; } cases[] = {
        {"{\"keep_tail_tokens\": 62}", VT_OK, 62, 1},
        {"{\"keep_tail_tokens\": 0, \"truncation_side\": \"left\"}", VT_OK, 0, 1},
        {"{\"truncation_side\": \"left\"}", VT_OK, INT32_MAX, 1},
        {"{\"truncation_side\": \"right\"}", VT_OK, 0, 1},
        {"{\"truncation_side\": \"middle\"}", VT_ERR_FORMAT, 0, 0},
        {"{\"keep_tail_tokens\": -1}", VT_ERR_FORMAT, 0, 0},
        {"{\"keep_tail_tokens\": 1.5}", VT_ERR_FORMAT, 0, 0},
        {"{\"keep_tail_tokens\": \"3\"}", VT_ERR_FORMAT, 0, 0},
        {"{\"max_windows\": 4}", VT_OK, 0, 4},
        {"{\"max_windows\": null}", VT_OK, 0, 1},
        {"{\"max_windows\": 0}", VT_ERR_FORMAT, 0, 0},
        {"{\"max_windows\": 257}", VT_ERR_FORMAT, 0, 0},
        {"{\"max_windows\": 2.5}", VT_ERR_FORMAT, 0, 0},
        {"{\"max_windows\": \"2\"}", VT_ERR_FORMAT, 0, 0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        write_file(path, cases[i].json, strlen(cases[i].json));
        assert_int_equal(vt_tok_options_from_config(dir, &o), cases[i].st);
        if (cases[i].st == VT_OK) {
            assert_int_equal(o.keep_tail, cases[i].keep_tail);
            assert_int_equal(o.max_windows, cases[i].windows);
        } else {
            assert_non_null(strstr(vt_last_error(), "tokenizer_config.json"));
        }
    }
    free(dir);
}

/* Windows of a long single text: every window full, the first at the start,
 * the last at the end, spread evenly; texts that fit, pairs and max_windows 1
 * are vt_tok_encode's truncation. */
static void expect_windows(const vt_tokenizer *t, const char *a, const char *b, int32_t max_length,
                           int32_t max_windows, const int32_t *want, int32_t n_want, int32_t width, bool cut_want) {
    vt_tok_encoding e[8];
    for (int i = 0; i < 8; i++) vt_tok_encoding_init(&e[i]);
    int32_t n;
    bool cut;
    assert_int_equal(vt_tok_encode_windows(t, a, strlen(a), b, b ? strlen(b) : 0, max_length, max_windows, e, &n, &cut),
                     VT_OK);
    assert_int_equal(n, n_want);
    assert_int_equal(cut, cut_want);
    for (int32_t j = 0; j < n; j++) {
        assert_int_equal(e[j].len, width);
        assert_memory_equal(e[j].ids, want + j * width, (size_t)width * sizeof(int32_t));
        for (int32_t k = 0; k < width; k++) assert_int_equal(e[j].attention_mask[k], 1);
        assert_int_equal(e[j].special_mask[0], 1);
        assert_int_equal(e[j].special_mask[width - 1], 1);
    }
    for (int i = 0; i < 8; i++) vt_tok_encoding_free(&e[i]);
}

static void test_windows(void **state) {
    vt_tokenizer *t = make_tok(true);
    const char *text = "hello world a , . ! x b"; /* 5 6 10 12 13 14 20 22 */
    /* 8 tokens, 3 per window: 3 windows starting at 0, 3 (2.5 rounded) and 5 */
    const int32_t w3[] = {2, 5, 6, 10, 3, 2, 12, 13, 14, 3, 2, 14, 20, 22, 3};
    expect_windows(t, text, NULL, 5, 8, w3, 3, 5, false);
    /* 2 allowed: the first and the last, the middle left out */
    const int32_t w2[] = {2, 5, 6, 10, 3, 2, 14, 20, 22, 3};
    expect_windows(t, text, NULL, 5, 2, w2, 2, 5, true);
    /* 4 per window: two windows side by side */
    const int32_t w4[] = {2, 5, 6, 10, 12, 3, 2, 13, 14, 20, 22, 3};
    expect_windows(t, text, NULL, 6, 8, w4, 2, 6, false);
    /* max_windows 1: truncated as vt_tok_encode truncates */
    const int32_t w1[] = {2, 5, 6, 10, 3};
    expect_windows(t, text, NULL, 5, 1, w1, 1, 5, true);
    /* a text that fits, and no limit: one encoding, nothing cut */
    const int32_t fit[] = {2, 5, 6, 3};
    expect_windows(t, "hello world", NULL, 5, 8, fit, 1, 4, false);
    const int32_t all[] = {2, 5, 6, 10, 12, 13, 14, 20, 22, 3};
    expect_windows(t, text, NULL, 0, 8, all, 1, 10, false);
    /* a pair is truncated longest first, never split into windows */
    const int32_t pair[] = {2, 10, 12, 13, 3, 20, 22, 22, 22, 3}; /* 3 + 4 */
    expect_windows(t, "a , . ! hello", "x b b b world", 10, 8, pair, 1, 10, true);

    /* a window's tokens keep their place in the text */
    vt_tok_encoding e[3];
    for (int i = 0; i < 3; i++) vt_tok_encoding_init(&e[i]);
    int32_t n;
    assert_int_equal(vt_tok_encode_windows(t, text, strlen(text), NULL, 0, 5, 3, e, &n, NULL), VT_OK);
    assert_int_equal(e[2].offsets[2 * 3], 22); /* "b" */
    assert_int_equal(e[2].offsets[2 * 3 + 1], 23);
    assert_int_equal(e[1].offsets[2 * 1], 14); /* "," */
    assert_int_equal(e[1].seq[1], 0);
    assert_int_equal(e[1].seq[0], -1);

    /* the batch form gives every input's windows in its own slots */
    const char *as[] = {text, "hello world", "x b x b x b x"};
    const size_t al[] = {strlen(as[0]), strlen(as[1]), strlen(as[2])};
    vt_tok_encoding be[9];
    int32_t counts[3];
    bool cuts[3];
    for (int i = 0; i < 9; i++) vt_tok_encoding_init(&be[i]);
    assert_int_equal(vt_tok_encode_windows_batch(t, 3, as, al, NULL, NULL, 5, 3, be, counts, cuts), VT_OK);
    for (int i = 0; i < 3; i++) {
        bool cut;
        assert_int_equal(vt_tok_encode_windows(t, as[i], al[i], NULL, 0, 5, 3, e, &n, &cut), VT_OK);
        assert_int_equal(counts[i], n);
        assert_int_equal(cuts[i], cut);
        for (int32_t j = 0; j < n; j++) {
            assert_int_equal(be[3 * i + j].len, e[j].len);
            assert_memory_equal(be[3 * i + j].ids, e[j].ids, (size_t)e[j].len * sizeof(int32_t));
        }
    }
    for (int i = 0; i < 9; i++) vt_tok_encoding_free(&be[i]);
    for (int i = 0; i < 3; i++) vt_tok_encoding_free(&e[i]);
    vt_tok_free(t);
}

/* A tokenizer.json text for VOCAB with the given normalizer, model and added tokens. */
static char *json_text(const char *normalizer, const char *model_type, const char *vocab_json, const char *added) {
    char *out = NULL;
    assert_true(asprintf(&out,
                         "{\"version\": \"1.0\", \"truncation\": null, \"padding\": null, \"added_tokens\": %s, "
                         "\"normalizer\": %s, \"pre_tokenizer\": {\"type\": \"BertPreTokenizer\"}, "
                         "\"post_processor\": {\"type\": \"BertProcessing\", \"sep\": [\"[SEP]\", 3], \"cls\": [\"[CLS]\", 2]}, "
                         "\"decoder\": {\"type\": \"WordPiece\", \"prefix\": \"##\", \"cleanup\": true}, "
                         "\"model\": {\"type\": \"%s\", \"unk_token\": \"[UNK]\", \"continuing_subword_prefix\": \"##\", "
                         "\"max_input_chars_per_word\": 100, \"vocab\": %s}}",
                         added, normalizer, model_type, vocab_json) > 0);
    return out;
}

static void expect_json_error(const char *dir, const char *text, vt_status want, const char *part) {
    char path[4096];
    snprintf(path, sizeof path, "%s/tokenizer.json", dir);
    write_file(path, text, strlen(text));
    vt_clear_error();
    vt_tokenizer *t = vt_tok_load_json(path, NULL);
    if (t) fail_msg("accepted; want '%s'", part);
    if (vt_last_status() != want || !strstr(vt_last_error(), part) || !strstr(vt_last_error(), "tokenizer.json"))
        fail_msg("'%s' (status %d); want '%s' naming the file", vt_last_error(), vt_last_status(), part);
}

/* tokenizer.json: what verto writes reads back to the same tokenizer, a
 * directory's tokenizer.json is what vt_tok_load reads (the primary source),
 * vt_tok_complete_dir writes whichever of tokenizer.json and vocab.txt is
 * missing, and every component verto cannot honour is refused by name. */
static void test_tokenizer_json(void **state) {
    (void)state;
    char *dir = test_tmpdir(), path[4096];
    vt_tokenizer *t = make_tok(true);
    snprintf(path, sizeof path, "%s/tokenizer.json", dir);
    assert_int_equal(vt_tok_save_json(t, path), VT_OK);
    vt_tokenizer *back = vt_tok_load_json(path, NULL);
    if (!back) fail_msg("%s", vt_last_error());
    assert_int_equal(vt_wp_vocab_size(vt_tok_vocab(back)), vt_wp_vocab_size(vt_tok_vocab(t)));
    EXPECT(back, "Hello, unaffable World!", 2, 5, 12, 7, 8, 9, 6, 14, 3);
    EXPECT(back, "CAFÉ 中", 2, 17, 19, 3);
    vt_tok_free(back);
    /* the directory: tokenizer.json alone, then completed with vocab.txt */
    assert_int_equal(vt_tok_complete_dir(dir), VT_OK);
    snprintf(path, sizeof path, "%s/vocab.txt", dir);
    vt_wp_vocab *v = vt_wp_vocab_load(path);
    assert_non_null(v);
    assert_int_equal(vt_wp_vocab_size(v), 25);
    assert_string_equal(vt_wp_vocab_token(v, 8), "##aff");
    vt_wp_vocab_free(v);
    vt_tokenizer *from_dir = vt_tok_load(dir, NULL);
    assert_non_null(from_dir);
    EXPECT(from_dir, "unaffable", 2, 7, 8, 9, 3);
    vt_tok_free(from_dir);
    /* cased and accent-keeping settings come from the file's normalizer */
    char *cased = json_text("{\"type\": \"BertNormalizer\", \"lowercase\": false, \"strip_accents\": false}",
                            "WordPiece", "{\"[PAD]\": 0, \"[UNK]\": 1, \"[CLS]\": 2, \"[SEP]\": 3, \"Hello\": 4}", "[]");
    snprintf(path, sizeof path, "%s/tokenizer.json", dir);
    write_file(path, cased, strlen(cased));
    vt_tokenizer *c = vt_tok_load_json(path, NULL);
    if (!c) fail_msg("%s", vt_last_error());
    assert_false(vt_tok_get_options(c)->lowercase);
    assert_int_equal(vt_tok_get_options(c)->strip_accents, 0);
    EXPECT(c, "Hello hello", 2, 4, 1, 3);
    vt_tok_free(c);
    free(cased);
    /* refusals, each naming the file and the component or field */
    const char *vocab = "{\"[PAD]\": 0, \"[UNK]\": 1, \"[CLS]\": 2, \"[SEP]\": 3}";
    const char *bert = "{\"type\": \"BertNormalizer\"}";
    char *text = json_text("{\"type\": \"Sequence\", \"normalizers\": [{\"type\": \"NFKC\"}, {\"type\": \"Fancy\"}]}",
                           "WordPiece", vocab, "[]");
    expect_json_error(dir, text, VT_ERR_UNSUPPORTED, "normalizer.normalizers[1]: Fancy is not supported");
    free(text);
    text = json_text(bert, "WordLevel", vocab, "[]");
    expect_json_error(dir, text, VT_ERR_UNSUPPORTED, "model: WordLevel");
    free(text);
    text = json_text(bert, "WordPiece", "{\"[PAD]\": 0, \"[UNK]\": 1, \"[CLS]\": 2, \"[SEP]\": 4}", "[]");
    expect_json_error(dir, text, VT_ERR_FORMAT, "id 4");
    free(text);
    /* an added token beyond the vocabulary extends it; one past a gap is refused */
    text = json_text(bert, "WordPiece", vocab,
                     "[{\"id\": 4, \"content\": \"<new>\", \"special\": true, \"normalized\": false}]");
    snprintf(path, sizeof path, "%s/tokenizer.json", dir);
    write_file(path, text, strlen(text));
    vt_tokenizer *added = vt_tok_load_json(path, NULL);
    if (!added) fail_msg("%s", vt_last_error());
    EXPECT(added, "<new>", 2, 4, 3);
    vt_tok_free(added);
    free(text);
    text = json_text(bert, "WordPiece", vocab,
                     "[{\"id\": 6, \"content\": \"<new>\", \"special\": true, \"normalized\": false}]");
    expect_json_error(dir, text, VT_ERR_FORMAT, "no token has id 4");
    free(text);
    /* ids out of range in the post-processor */
    const char *far = "{\"model\": {\"type\": \"WordPiece\", \"unk_token\": \"[UNK]\", \"vocab\": {\"[UNK]\": 0}}, "
                      "\"post_processor\": {\"type\": \"BertProcessing\", \"sep\": [\"[SEP]\", 9], \"cls\": [\"[CLS]\", 0]}}";
    expect_json_error(dir, far, VT_ERR_FORMAT, "post_processor.sep: id 9 is outside the vocabulary");
    text = json_text(bert, "WordPiece", vocab, "[]");
    text[strlen(text) / 2] = '\0'; /* cut in half */
    expect_json_error(dir, text, VT_ERR_FORMAT, "not valid JSON");
    free(text);
    /* a BPE whose merges name tokens its vocabulary lacks */
    const char *bpe = "{\"version\": \"1.0\", \"added_tokens\": [], \"normalizer\": null, \"pre_tokenizer\": null, "
                      "\"post_processor\": null, \"decoder\": null, \"model\": {\"type\": \"BPE\", \"vocab\": "
                      "{\"a\": 0, \"b\": 1, \"ab\": 2}, \"merges\": [\"a b\", \"ab c\"]}}";
    expect_json_error(dir, bpe, VT_ERR_FORMAT, "model.merges[1]");
    const char *unigram = "{\"model\": {\"type\": \"Unigram\", \"unk_id\": null, \"vocab\": [[\"a\", -1.0]]}}";
    expect_json_error(dir, unigram, VT_ERR_UNSUPPORTED, "model.unk_id");
    char *cmd = NULL;
    assert_true(asprintf(&cmd, "rm -rf '%s'", dir) > 0);
    assert_int_equal(system(cmd), 0);
    free(cmd);
    free(dir);
    vt_tok_free(t);
}

/* ---- sentencepiece.bpe.model: a ModelProto written here, field by field ---- */

typedef struct pb {
    char b[2048];
    size_t n;
} pb;

static void pb_raw(pb *p, const void *d, size_t n) {
    assert_true(p->n + n <= sizeof p->b);
    memcpy(p->b + p->n, d, n);
    p->n += n;
}
static void pb_varint(pb *p, uint64_t v) {
    do {
        uint8_t c = (uint8_t)((v & 0x7F) | (v > 0x7F ? 0x80 : 0));
        pb_raw(p, &c, 1);
        v >>= 7;
    } while (v);
}
static void pb_tag(pb *p, uint32_t field, int wire) { pb_varint(p, (uint64_t)field << 3 | (uint64_t)wire); }
static void pb_len(pb *p, uint32_t field, const void *d, size_t n) {
    pb_tag(p, field, 2);
    pb_varint(p, n);
    pb_raw(p, d, n);
}
static void pb_piece(pb *p, const char *piece, float score, int type) {
    pb m = {.n = 0};
    pb_len(&m, 1, piece, strlen(piece));
    pb_tag(&m, 2, 5);
    pb_raw(&m, &score, 4);
    if (type != 1) pb_tag(&m, 3, 0), pb_varint(&m, (uint64_t)type);
    pb_len(p, 1, m.b, m.n);
}

/* A Unigram model as spm_train writes one (<unk> <s> </s> first), with
 * unknown fields of every wire type in its trainer_spec (one a group holding
 * a group), and `model_type`. */
static void spm_model(pb *p, int model_type) {
    static const char *const pieces[] = {"<unk>", "<s>", "</s>", "\xe2\x96\x81" "a", "b", "\xe2\x96\x81" "ab",
                                         "\xe2\x96\x81", "a", "c"};
    static const float scores[] = {0, 0, 0, -1, -2, -0.5f, -3, -3.5f, -4};
    p->n = 0;
    for (int i = 0; i < 9; i++) pb_piece(p, pieces[i], scores[i], i == 0 ? 2 : i < 3 ? 3 : 1);
    pb t = {.n = 0};
    pb_len(&t, 1, "corpus.txt", 10);                  /* input */
    pb_tag(&t, 3, 0), pb_varint(&t, 1);               /* model_type UNIGRAM, then the one asked for */
    pb_tag(&t, 4, 0), pb_varint(&t, 9);               /* vocab_size */
    pb_tag(&t, 43, 0), pb_varint(&t, UINT64_MAX);     /* pad_id -1: ten bytes */
    pb_tag(&t, 10, 5), pb_raw(&t, "\x00\x00\x80\x3f", 4);
    pb_tag(&t, 999, 1), pb_raw(&t, "12345678", 8);
    pb_tag(&t, 998, 3), pb_tag(&t, 1, 0), pb_varint(&t, 7), pb_tag(&t, 2, 3), pb_tag(&t, 2, 4), pb_tag(&t, 998, 4);
    pb_tag(&t, 3, 0), pb_varint(&t, (uint64_t)model_type);
    pb_len(p, 2, t.b, t.n);
    pb n = {.n = 0};
    pb_len(&n, 1, "identity", 8);                     /* no precompiled_charsmap: no normalizer */
    pb_tag(&n, 3, 0), pb_varint(&n, 1);               /* add_dummy_prefix */
    pb_len(p, 3, n.b, n.n);
}

static void write_spm(const char *dir, const pb *p) {
    char path[4096];
    snprintf(path, sizeof path, "%s/sentencepiece.bpe.model", dir);
    write_file(path, p->b, p->n);
}

static void expect_spm_error(const char *dir, const pb *p, vt_status want, const char *part) {
    write_spm(dir, p);
    vt_clear_error();
    vt_tokenizer *t = vt_tok_load(dir, NULL);
    if (t) fail_msg("accepted; want '%s'", part);
    if (vt_last_status() != want || !strstr(vt_last_error(), part) ||
        !strstr(vt_last_error(), "/sentencepiece.bpe.model:"))
        fail_msg("'%s' (status %d); want '%s' naming the file", vt_last_error(), vt_last_status(), part);
    printf("  refused: %s\n", vt_last_error());
}

/* A directory of sentencepiece.bpe.model alone reads as transformers'
 * XLMRobertaTokenizer reads it (fairseq's ids: <s> <pad> </s> <unk>, the
 * pieces from the fourth on one up, <mask> last), vt_tok_complete_dir writes
 * its tokenizer.json, and a malformed or non-Unigram model is refused naming
 * the file and the place. */
static void test_spm_model(void **state) {
    char *dir = test_tmpdir();
    pb p;
    spm_model(&p, 1);
    write_spm(dir, &p);
    vt_tokenizer *t = vt_tok_load(dir, NULL);
    if (!t) fail_msg("%s", vt_last_error());
    const vt_wp_vocab *v = vt_tok_vocab(t);
    assert_int_equal(vt_wp_vocab_size(v), 11);
    assert_string_equal(vt_wp_vocab_token(v, 1), "<pad>");
    assert_string_equal(vt_wp_vocab_token(v, 4), "\xe2\x96\x81" "a");
    assert_string_equal(vt_wp_vocab_token(v, 10), "<mask>");
    vt_tok_special sp = vt_tok_special_ids(t);
    assert_true(sp.cls == 0 && sp.pad == 1 && sp.sep == 2 && sp.unk == 3 && sp.mask == 10);
    /* the ids transformers' XLMRobertaTokenizer gives for this model */
    EXPECT(t, "ab  c", 0, 6, 7, 9, 2);  /* "▁ab" beats "▁a" "b"; "▁c" is "▁" "c" */
    EXPECT(t, "a<mask>", 0, 4, 10, 2);
    EXPECT(t, "x", 0, 7, 3, 2);         /* "▁" and the unknown "x" */
    vt_tok_free(t);
    assert_int_equal(vt_tok_complete_dir(dir), VT_OK);
    vt_tokenizer *back = vt_tok_load(dir, NULL); /* from the tokenizer.json written beside it */
    if (!back) fail_msg("%s", vt_last_error());
    EXPECT(back, "ab  c", 0, 6, 7, 9, 2);
    vt_tok_free(back);
    char path[4096];
    snprintf(path, sizeof path, "%s/tokenizer.json", dir);
    assert_int_equal(remove(path), 0);

    spm_model(&p, 1);
    p.n--; /* cut inside normalizer_spec */
    expect_spm_error(dir, &p, VT_ERR_FORMAT, "a length runs past the end");
    spm_model(&p, 1);
    size_t end = p.n;
    pb_tag(&p, 9, 0), pb_raw(&p, "\xff\xff", 2); /* a varint whose last byte says more follows */
    char where[128];
    snprintf(where, sizeof where, "a varint runs past the end at byte %zu", end + 1);
    expect_spm_error(dir, &p, VT_ERR_FORMAT, where);
    spm_model(&p, 1);
    pb_tag(&p, 9, 0), pb_raw(&p, "\xff\xff\xff\xff\xff\xff\xff\xff\xff\x7f", 10);
    expect_spm_error(dir, &p, VT_ERR_FORMAT, "a varint longer than 64 bits");
    spm_model(&p, 2);
    expect_spm_error(dir, &p, VT_ERR_UNSUPPORTED, "trainer_spec.model_type is BPE (2)");
    spm_model(&p, 3);
    expect_spm_error(dir, &p, VT_ERR_UNSUPPORTED, "trainer_spec.model_type is Word (3)");
    spm_model(&p, 1);
    snprintf(where, sizeof where, "pieces (field 1) at byte %zu has wire type varint, not length-delimited", p.n);
    pb_tag(&p, 1, 0), pb_varint(&p, 5);
    expect_spm_error(dir, &p, VT_ERR_FORMAT, where);
    spm_model(&p, 1);
    pb m = {.n = 0};
    pb_len(&m, 1, "d", 1), pb_tag(&m, 2, 0), pb_varint(&m, 1); /* a score as a varint */
    pb_len(&p, 1, m.b, m.n);
    expect_spm_error(dir, &p, VT_ERR_FORMAT, "pieces[9].score (field 2)");
    spm_model(&p, 1);
    pb_tag(&p, 12, 7);
    expect_spm_error(dir, &p, VT_ERR_FORMAT, "wire type 6 or 7");
    spm_model(&p, 1);
    pb_tag(&p, 12, 3), pb_tag(&p, 13, 4);
    expect_spm_error(dir, &p, VT_ERR_FORMAT, "an end-group tag of another field");
    spm_model(&p, 1);
    pb_tag(&p, 12, 4);
    expect_spm_error(dir, &p, VT_ERR_FORMAT, "an end-group tag without its start");
    spm_model(&p, 1);
    pb_piece(&p, "\xc3(", -1, 1);
    expect_spm_error(dir, &p, VT_ERR_FORMAT, "pieces[9].piece is not UTF-8");
    spm_model(&p, 1);
    pb_piece(&p, "nan", (float)NAN, 1);
    expect_spm_error(dir, &p, VT_ERR_FORMAT, "pieces[9].score is not a finite number");
    spm_model(&p, 1);
    pb_piece(&p, "d", -1, 7);
    expect_spm_error(dir, &p, VT_ERR_FORMAT, "pieces[9].type");
    p.n = 0;
    expect_spm_error(dir, &p, VT_ERR_FORMAT, "no pieces");
    test_remove_dir(dir);
}

static void test_decode(void **state) {
    vt_tokenizer *t = make_tok(true);
    const int32_t ids[] = {2, 7, 8, 9, 12, 5, 13, 3, 0};
    char *s;
    size_t n;
    assert_int_equal(vt_tok_decode(t, ids, 9, true, false, &s, &n), VT_OK);
    assert_string_equal(s, "unaffable, hello.");
    assert_int_equal(n, strlen(s));
    free(s);
    assert_int_equal(vt_tok_decode(t, ids, 9, false, false, &s, NULL), VT_OK);
    assert_string_equal(s, "[CLS] unaffable, hello. [SEP] [PAD]");
    free(s);
    const int32_t oob[] = {5, 99};
    assert_int_equal(vt_tok_decode(t, oob, 2, true, false, &s, NULL), VT_ERR_INVALID_ARG);
    const char *toks[] = {"un", "##aff", "##able", "x"};
    assert_int_equal(vt_tok_join_tokens(toks, 4, &s, NULL), VT_OK);
    assert_string_equal(s, "unaffable x");
    free(s);
    assert_int_equal(vt_tok_decode(t, NULL, 0, true, true, &s, NULL), VT_OK);
    assert_string_equal(s, "");
    free(s);
    vt_tok_free(t);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_vocab_file_forms),
        cmocka_unit_test(test_vocab_and_config_files),
        cmocka_unit_test(test_missing_special_tokens),
        cmocka_unit_test(test_empty_and_blank),
        cmocka_unit_test(test_wordpiece),
        cmocka_unit_test(test_max_chars_per_word),
        cmocka_unit_test(test_invalid_utf8),
        cmocka_unit_test(test_long_mark_run),
        cmocka_unit_test(test_offsets),
        cmocka_unit_test(test_special_tokens_in_text),
        cmocka_unit_test(test_truncation),
        cmocka_unit_test(test_head_tail_truncation),
        cmocka_unit_test(test_windows),
        cmocka_unit_test(test_decode),
        cmocka_unit_test(test_tokenizer_json),
        cmocka_unit_test(test_spm_model),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
