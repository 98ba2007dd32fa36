/* libFuzzer target: the byte-level BPE trainer on arbitrary text. Byte 0
 * picks min_frequency (0..3) and the size (256 + 1 special + 0..63 merges);
 * the rest is the training text. Invalid UTF-8 must be refused with
 * VT_ERR_FORMAT; valid text must train a vocabulary within the size whose
 * merges name tokens it has, and whose tokenizer.json loads and encodes the
 * text back to its bytes. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/utf8.h"
#include "verto/tokenizer.h"
#include "verto/vocab_builder.h"

#define CHECK(c) do { if (!(c)) __builtin_trap(); } while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1 || size > 1 << 16) return 0;
    const char *text = (const char *)data + 1;
    size_t len = size - 1;
    vt_vb_options o;
    vt_vb_options_default(&o);
    o.kind = VT_VB_BYTE_LEVEL_BPE;
    o.min_frequency = data[0] & 3;
    o.vocab_size = 257 + (data[0] >> 2);
    const char *sp[] = {"<|endoftext|>"};
    o.special_tokens = sp;
    o.n_special_tokens = 1;
    vt_vocab_builder *b = vt_vb_create(&o);
    CHECK(b);
    vt_status st = vt_vb_add_text(b, text, len);
    CHECK(st == (vt_utf8_valid(text, len) ? VT_OK : VT_ERR_FORMAT));
    vt_bpe_vocab *v = st == VT_OK ? vt_vb_train_bpe(b) : NULL;
    CHECK(st != VT_OK || v);
    if (v) {
        int32_t n = vt_bpe_vocab_size(v);
        CHECK(n >= 257 && n <= o.vocab_size);
        for (int32_t i = 0; i < vt_bpe_vocab_n_merges(v); i++) {
            int32_t l, r;
            CHECK(vt_bpe_vocab_merge(v, i, &l, &r) == VT_OK && l >= 0 && l < n && r >= 0 && r < n);
        }
        char path[] = "/tmp/fuzz-bpe-train-XXXXXX";
        int fd = mkstemp(path);
        if (fd >= 0) {
            close(fd);
            CHECK(vt_bpe_vocab_save_json(v, path) == VT_OK);
            vt_tokenizer *t = vt_tok_load_json(path, NULL);
            CHECK(t && vt_wp_vocab_size(vt_tok_vocab(t)) == n);
            vt_tok_encoding e;
            vt_tok_encoding_init(&e);
            vt_tok_encode_opts eo;
            vt_tok_encode_opts_default(&eo);
            CHECK(vt_tok_encode(t, text, len, NULL, 0, &eo, &e) == VT_OK);
            char *d = NULL;
            size_t dlen = 0;
            CHECK(vt_tok_decode(t, e.ids, (size_t)e.len, false, false, &d, &dlen) == VT_OK);
            CHECK(dlen == len && !memcmp(d, text, len));
            free(d);
            vt_tok_encoding_free(&e);
            vt_tok_free(t);
            unlink(path);
        }
        vt_bpe_vocab_free(v);
    }
    vt_vb_free(b);
    return 0;
}
