/* libFuzzer target: arbitrary bytes through the tokenizer (single and pair,
 * with truncation and padding, three normalization settings), decoding,
 * offset conversion, long texts as windows, the vocabulary parser and the
 * vocabulary builder.
 * Checks the encoding's invariants and traps when one breaks.
 * Input: byte 0 picks the options, byte 1 where text A ends and B starts. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "verto/tokenizer.h"
#include "verto/vocab_builder.h"

#define CHECK(c) do { if (!(c)) __builtin_trap(); } while (0)

static const char SMALL_VOCAB[] = "[PAD]\n[UNK]\n[CLS]\n[SEP]\n[MASK]\na\nb\n##a\n##b\nab\n##ab\n.\n,\né\ne\n中\n"
                                  "##\xcc\x81\ni\n##\xcc\x87\n";

static vt_tokenizer *tok[3];

static vt_tokenizer *make(int kind) {
    vt_tok_options o;
    vt_tok_options_default(&o);
    o.lowercase = kind != 1;
    o.strip_accents = kind == 2 ? 0 : -1;
    vt_wp_vocab *v = vt_wp_vocab_load("tests/data/tokenizer/uncased");
    if (!v) v = vt_wp_vocab_from_buffer(SMALL_VOCAB, sizeof SMALL_VOCAB - 1, "fuzz vocab");
    return vt_tok_create(v, &o);
}

static void check(const vt_tokenizer *t, const vt_tok_encoding *e, size_t alen, size_t blen, bool pair,
                  const vt_tok_encode_opts *o) {
    int32_t nv = vt_wp_vocab_size(vt_tok_vocab(t));
    int32_t added = o->add_special_tokens ? (pair ? 3 : 2) : 0;
    if (o->max_length >= added && o->max_length > 0 && o->pad_to <= o->max_length) CHECK(e->len <= o->max_length);
    if (o->pad_to > 0) CHECK(e->len >= o->pad_to);
    for (int32_t i = 0; i < e->len; i++) {
        CHECK(e->ids[i] >= 0 && e->ids[i] < nv);
        CHECK(e->seq[i] >= -1 && e->seq[i] <= (pair ? 1 : 0));
        int32_t s = e->offsets[2 * i], en = e->offsets[2 * i + 1];
        size_t lim = e->seq[i] == 1 ? blen : alen;
        CHECK(s >= 0 && s <= en && (size_t)en <= lim);
        CHECK(e->attention_mask[i] == 0 || e->attention_mask[i] == 1);
    }
}

/* Windows of text a: 1..max_windows of them, each [CLS] + max_length - 2 of
 * its tokens + [SEP] when there are several; the first starts with the
 * text's first token, the last ends with its last; nothing cut when
 * max_windows windows suffice. `whole` is scratch. */
static void check_windows(const vt_tokenizer *t, const char *a, size_t alen, int32_t max_length, int32_t max_windows,
                          vt_tok_encoding *whole) {
    vt_tok_encoding w[8];
    for (int i = 0; i < 8; i++) vt_tok_encoding_init(&w[i]);
    int32_t n;
    bool cut;
    vt_tok_encode_opts o = {true, 0, 0};
    CHECK(vt_tok_encode(t, a, alen, NULL, 0, &o, whole) == VT_OK);
    CHECK(vt_tok_encode_windows(t, a, alen, NULL, 0, max_length, max_windows, w, &n, &cut) == VT_OK);
    int32_t room = max_length - 2, tokens = whole->len - 2;
    int32_t needed = tokens <= room ? 1 : (tokens + room - 1) / room;
    CHECK(n >= 1 && n <= max_windows && n == (needed < max_windows ? needed : max_windows));
    CHECK(cut == (needed > max_windows));
    for (int32_t j = 0; j < n; j++) {
        CHECK(w[j].len <= max_length && w[j].len >= 2);
        CHECK(n == 1 || w[j].len == max_length);
        CHECK(w[j].ids[0] == whole->ids[0] && w[j].ids[w[j].len - 1] == whole->ids[whole->len - 1]);
        check(t, &w[j], alen, 0, false, &(vt_tok_encode_opts){true, max_length, 0});
    }
    CHECK(w[0].len < 3 || w[0].ids[1] == whole->ids[1]);
    if (n > 1) CHECK(w[n - 1].ids[w[n - 1].len - 2] == whole->ids[whole->len - 2]);
    for (int i = 0; i < 8; i++) vt_tok_encoding_free(&w[i]);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (!tok[0])
        for (int k = 0; k < 3; k++) CHECK((tok[k] = make(k)) != NULL);
    if (size < 2) return 0;
    uint8_t opt = data[0];
    size_t n = size - 2, split = (size_t)data[1] * n / 255;
    const char *a = (const char *)data + 2, *b = a + split;
    size_t alen = split, blen = n - split;
    const vt_tokenizer *t = tok[opt % 3];
    vt_tok_encode_opts o = {(opt & 4) == 0, (opt >> 3) & 1 ? (int32_t)(opt >> 4) : 0, (opt >> 3) & 2 ? 7 : 0};
    vt_tok_encoding e;
    vt_tok_encoding_init(&e);
    CHECK(vt_tok_encode(t, a, alen, NULL, 0, &o, &e) == VT_OK);
    check(t, &e, alen, 0, false, &o);
    char *s = NULL;
    CHECK(vt_tok_decode(t, e.ids, (size_t)e.len, opt & 1, opt & 2, &s, NULL) == VT_OK);
    free(s);
    CHECK(vt_tok_encode(t, a, alen, b, blen, &o, &e) == VT_OK);
    check(t, &e, alen, blen, true, &o);
    for (int32_t i = 0; i < e.len; i++)
        if (e.seq[i] == 0) vt_tok_offsets_to_chars(a, alen, &e.offsets[2 * i], 2);
    check_windows(t, a, alen, 3 + (opt >> 4), 1 + (data[1] & 7), &e);
    vt_tok_encoding_free(&e);

    vt_wp_vocab *v = vt_wp_vocab_from_buffer((const char *)data, size, "fuzz input");
    if (v) {
        for (int32_t i = 0; i < vt_wp_vocab_size(v); i++) CHECK(vt_wp_vocab_token(v, i) != NULL);
        vt_wp_vocab_free(v);
    }
    if (size < 2048) {
        vt_vb_options vo;
        vt_vb_options_default(&vo);
        vo.vocab_size = 5 + (opt & 63);
        vo.min_frequency = opt >> 7;
        vo.limit_alphabet = opt & 1 ? 8 : 0;
        vt_vocab_builder *vb = vt_vb_create(&vo);
        CHECK(vb && vt_vb_add_text(vb, a, n) == VT_OK);
        vt_wp_vocab *tv = vt_vb_train(vb);
        CHECK(tv != NULL && vt_wp_vocab_size(tv) >= 5);
        vt_wp_vocab_free(tv);
        vt_vb_free(vb);
    }
    return 0;
}
