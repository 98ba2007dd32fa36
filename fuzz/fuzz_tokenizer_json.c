/* libFuzzer target: arbitrary bytes as tokenizer.json (vt_tok_from_json).
 * A file that loads must give a tokenizer whose special ids are in its
 * vocabulary, that encodes a text to ids inside it (or fails cleanly: a
 * regex may exceed PCRE2's match limit) and decodes them, and that writes a
 * tokenizer.json which loads back to the same vocabulary. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "verto/tokenizer.h"

#define CHECK(c) do { if (!(c)) __builtin_trap(); } while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    vt_tokenizer *t = vt_tok_from_json((const char *)data, size, "fuzz.json", NULL);
    if (!t) return 0;
    int32_t n = vt_wp_vocab_size(vt_tok_vocab(t));
    vt_tok_special sp = vt_tok_special_ids(t);
    CHECK(n >= 1 && sp.pad < n && sp.unk < n && sp.cls < n && sp.sep < n && sp.mask < n);
    vt_tok_encoding e;
    vt_tok_encoding_init(&e);
    const char text[] = "Hello, W\xc3\xb6rld!  \xe4\xb8\xad [MASK] a##b \xf0\x9f\x98\x80 <mask>\xff";
    if (vt_tok_encode(t, text, sizeof text - 1, "b 1", 3, NULL, &e) == VT_OK) {
        for (int32_t i = 0; i < e.len; i++) CHECK(e.ids[i] >= 0 && e.ids[i] < n);
        char *s = NULL;
        if (vt_tok_decode(t, e.ids, (size_t)e.len, true, true, &s, NULL) == VT_OK) free(s);
    }
    vt_tok_encoding_free(&e);
    char path[] = "/tmp/fuzz-tokenizer-XXXXXX";
    int fd = mkstemp(path);
    if (fd >= 0) {
        close(fd);
        CHECK(vt_tok_save_json(t, path) == VT_OK);
        vt_tokenizer *back = vt_tok_load_json(path, NULL);
        CHECK(back && vt_wp_vocab_size(vt_tok_vocab(back)) == n);
        vt_tok_free(back);
        unlink(path);
    }
    vt_tok_free(t);
    return 0;
}
