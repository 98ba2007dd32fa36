/* The WordPiece vocabulary builder: known merges on a tiny corpus, limits,
 * determinism, and on the e-mail sample a valid vocabulary of the requested
 * size that covers the text (no [UNK] but for words over 100 characters). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "verto/tokenizer.h"
#include "verto/vocab_builder.h"
#include "vt_test.h"

#define DATA_DIR "tests/data/tokenizer/"

static vt_wp_vocab *train_text(const char *text, int32_t size, int64_t min_freq, int32_t limit, bool lower) {
    vt_vb_options o;
    vt_vb_options_default(&o);
    o.vocab_size = size;
    o.min_frequency = min_freq;
    o.limit_alphabet = limit;
    o.text.lowercase = lower;
    vt_vocab_builder *b = vt_vb_create(&o);
    assert_non_null(b);
    assert_int_equal(vt_vb_add_text(b, text, strlen(text)), VT_OK);
    vt_wp_vocab *v = vt_vb_train(b);
    assert_non_null(v);
    vt_vb_free(b);
    return v;
}

static void expect_tokens(const vt_wp_vocab *v, const char *const *want, int32_t n) {
    if (vt_wp_vocab_size(v) != n) {
        for (int32_t i = 0; i < vt_wp_vocab_size(v); i++) printf(" %s", vt_wp_vocab_token(v, i));
        printf("\n");
    }
    assert_int_equal(vt_wp_vocab_size(v), n);
    for (int32_t i = 0; i < n; i++) assert_string_equal(vt_wp_vocab_token(v, i), want[i]);
}

static void test_tiny_corpus(void **state) {
    vt_wp_vocab *v = train_text("ab ab AB cd", 100, 2, 0, true);
    /* specials, alphabet by code point, "##" forms, then the merge (a, ##b) x3;
     * (c, ##d) occurs once, below min_frequency */
    const char *const want[] = {"[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "a", "b", "c", "d", "##b", "##d", "ab"};
    expect_tokens(v, want, 12);
    vt_wp_vocab_free(v);

    v = train_text("ab ab AB cd", 100, 1, 0, false); /* cased, every pair merges */
    /* ties go to the pair of smaller ids: (A, ##B) before (c, ##d) */
    const char *const want2[] = {"[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "A", "B", "a", "b", "c", "d",
                                 "##B", "##b", "##d", "ab", "AB", "cd"};
    expect_tokens(v, want2, 17);
    vt_wp_vocab_free(v);

    v = train_text("aaa aaa bb c", 100, 1, 2, true); /* limit_alphabet 2 keeps a and b */
    assert_int_equal(vt_wp_vocab_id(v, "c", 1), -1);
    assert_true(vt_wp_vocab_id(v, "a", 1) >= 0 && vt_wp_vocab_id(v, "b", 1) >= 0);
    assert_true(vt_wp_vocab_id(v, "aaa", 3) >= 0);
    vt_wp_vocab_free(v);

    v = train_text("abc abc abc", 7, 1, 0, true); /* the size bound beats the alphabet: 5 + a b c ##b ##c */
    assert_int_equal(vt_wp_vocab_size(v), 10);
    vt_wp_vocab_free(v);

    v = train_text("", 100, 1, 0, true);
    assert_int_equal(vt_wp_vocab_size(v), 5);
    vt_wp_vocab_free(v);

    vt_vb_options o;
    vt_vb_options_default(&o);
    o.vocab_size = 4;
    assert_null(vt_vb_create(&o));
    assert_int_equal(vt_last_status(), VT_ERR_INVALID_ARG);
}

static vt_wp_vocab *train_files(int32_t size, bool lower, int32_t limit) {
    vt_vb_options o;
    vt_vb_options_default(&o);
    o.vocab_size = size;
    o.limit_alphabet = limit;
    o.text.lowercase = lower;
    vt_vocab_builder *b = vt_vb_create(&o);
    assert_non_null(b);
    assert_int_equal(vt_vb_add_file(b, DATA_DIR "spamassassin_sample.txt"), VT_OK);
    assert_int_equal(vt_vb_add_file(b, DATA_DIR "mixed.txt"), VT_OK);
    printf("    %zu distinct words, %lld in all\n", vt_vb_distinct_words(b), (long long)vt_vb_total_words(b));
    vt_wp_vocab *v = vt_vb_train(b);
    assert_non_null(v);
    vt_vb_free(b);
    return v;
}

static char *read_all(const char *path, size_t *n) {
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    fseek(f, 0, SEEK_END);
    *n = (size_t)ftell(f);
    fseek(f, 0, SEEK_SET);
    char *s = malloc(*n + 1);
    assert_int_equal(fread(s, 1, *n, f), *n);
    fclose(f);
    return s;
}

/* Every [UNK] in the encoded training text must come from a >100-char word. */
static void check_coverage(vt_wp_vocab *v, bool lower) {
    vt_tok_options o;
    vt_tok_options_default(&o);
    o.lowercase = lower;
    vt_tokenizer *t = vt_tok_create(v, &o);
    assert_non_null(t);
    size_t n;
    char *text = read_all(DATA_DIR "spamassassin_sample.txt", &n);
    vt_tok_encoding e;
    vt_tok_encoding_init(&e);
    vt_tok_encode_opts eo = {false, 0, 0};
    assert_int_equal(vt_tok_encode(t, text, n, NULL, 0, &eo, &e), VT_OK);
    int32_t unk = vt_tok_special_ids(t).unk, n_unk = 0, n_long = 0, n_the = 0;
    int32_t the = vt_wp_vocab_id(vt_tok_vocab(t), lower ? "the" : "The", 3);
    for (int32_t i = 0; i < e.len; i++) {
        if (e.ids[i] == the) n_the++;
        if (e.ids[i] != unk) continue;
        n_unk++;
        if (e.offsets[2 * i + 1] - e.offsets[2 * i] > 100) n_long++;
        else printf("    short [UNK]: %.*s\n", e.offsets[2 * i + 1] - e.offsets[2 * i], text + e.offsets[2 * i]);
    }
    printf("    %d tokens for %zu bytes, %d [UNK] (all words over 100 characters: %d), '%s' x%d\n", e.len, n,
           n_unk, n_long, lower ? "the" : "The", n_the);
    assert_int_equal(n_unk, n_long);
    assert_true(the >= 0 && n_the > 100); /* a frequent word is one token */
    vt_tok_encoding_free(&e);
    free(text);
    vt_tok_free(t);
}

static void check_valid(const vt_wp_vocab *v, int32_t size) {
    assert_int_equal(vt_wp_vocab_size(v), size);
    const char *const sp[] = {"[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"};
    for (int32_t i = 0; i < 5; i++) assert_string_equal(vt_wp_vocab_token(v, i), sp[i]);
    for (int32_t i = 0; i < size; i++) {
        const char *tok = vt_wp_vocab_token(v, i);
        assert_true(tok[0] != '\0' && strcmp(tok, "##") != 0);
        assert_null(strpbrk(tok, " \t\r\n"));
        assert_int_equal(vt_wp_vocab_id(v, tok, strlen(tok)), i); /* no duplicates */
    }
}

static void test_corpus_uncased(void **state) {
    vt_wp_vocab *v = train_files(5000, true, 1000);
    check_valid(v, 5000);
    vt_wp_vocab *again = train_files(5000, true, 1000);
    for (int32_t i = 0; i < 5000; i++) assert_string_equal(vt_wp_vocab_token(v, i), vt_wp_vocab_token(again, i));
    vt_wp_vocab_free(again);
    /* save and load back */
    char *dir = test_tmpdir(), path[4096];
    snprintf(path, sizeof path, "%s/vocab.txt", dir);
    assert_int_equal(vt_wp_vocab_save(v, path), VT_OK);
    vt_wp_vocab *back = vt_wp_vocab_load(dir);
    assert_non_null(back);
    assert_int_equal(vt_wp_vocab_size(back), 5000);
    for (int32_t i = 0; i < 5000; i++) assert_string_equal(vt_wp_vocab_token(v, i), vt_wp_vocab_token(back, i));
    vt_wp_vocab_free(back);
    free(dir);
    check_coverage(v, true);
}

static void test_corpus_cased(void **state) {
    vt_wp_vocab *v = train_files(6000, false, 0);
    check_valid(v, 6000);
    assert_true(vt_wp_vocab_id(v, "The", 3) >= 0);
    check_coverage(v, false);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tiny_corpus),
        cmocka_unit_test(test_corpus_uncased),
        cmocka_unit_test(test_corpus_cased),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
