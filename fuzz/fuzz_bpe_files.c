/* libFuzzer target: GPT-2's / RoBERTa's vocab.json + merges.txt
 * (vt_tok_from_bpe_texts). Input: vocab.json's text, a NUL byte, then
 * merges.txt's text (no NUL: all of it is vocab.json). Loading may fail with
 * an error, never a crash; a tokenizer that loads encodes a text to ids of
 * its vocabulary and decodes them. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "text/tokenizer_internal.h"

#define CHECK(c) do { if (!(c)) __builtin_trap(); } while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const char *s = (const char *)data, *nul = memchr(s, 0, size);
    size_t vlen = nul ? (size_t)(nul - s) : size;
    const char *merges = nul ? nul + 1 : "";
    size_t mlen = nul ? size - vlen - 1 : 0;
    vt_tokenizer *t = vt_tok_from_bpe_texts(s, vlen, merges, mlen, size & 1, "fuzz", NULL);
    if (!t) return 0;
    int32_t n = vt_wp_vocab_size(vt_tok_vocab(t));
    vt_tok_encoding e;
    vt_tok_encoding_init(&e);
    const char text[] = "Hello world<|endoftext|> the\tcat  \xe4\xb8\xad \xf0\x9f\x98\x80 <s>it's\n";
    if (vt_tok_encode(t, text, sizeof text - 1, NULL, 0, NULL, &e) == VT_OK) {
        for (int32_t i = 0; i < e.len; i++) CHECK(e.ids[i] >= 0 && e.ids[i] < n);
        char *d = NULL;
        if (vt_tok_decode(t, e.ids, (size_t)e.len, false, false, &d, NULL) == VT_OK) free(d);
    }
    vt_tok_encoding_free(&e);
    vt_tok_free(t);
    return 0;
}
