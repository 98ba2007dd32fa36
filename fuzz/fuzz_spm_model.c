/* libFuzzer target: arbitrary bytes as sentencepiece.bpe.model. The
 * protobuf reader must keep every piece and the charsmap inside the input;
 * a model it reads converts to tokenizer.json (or fails cleanly), and a
 * tokenizer that loads from that has XLM-R's layout (<s> <pad> </s> <unk>
 * first, <mask> after the pieces), encodes a text to ids inside its
 * vocabulary and decodes them. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "text/spm_model.h"
#include "text/tokenizer_internal.h"

#define CHECK(c) do { if (!(c)) __builtin_trap(); } while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    vt_spm_model m;
    if (vt_spm_model_read(data, size, "fuzz.model", &m) == VT_OK) {
        CHECK(m.n >= 1);
        for (int32_t i = 0; i < m.n; i++) {
            const vt_spm_piece *p = &m.pieces[i];
            CHECK(p->s >= data && p->len <= size && (size_t)(p->s - data) <= size - p->len);
            CHECK(p->type >= VT_SPM_NORMAL && p->type <= VT_SPM_BYTE);
        }
        CHECK(!m.charsmap || (m.charsmap >= data && (size_t)(m.charsmap - data) + m.charsmap_len <= size));
    }
    vt_spm_model_free(&m);

    size_t len = 0;
    char *json = vt_spm_tokenizer_json(data, size, "fuzz.model", &len);
    if (!json) return 0;
    CHECK(strlen(json) == len);
    vt_tokenizer *t = vt_tok_from_json_exact(json, len, "fuzz.model", NULL);
    free(json);
    if (!t) return 0;
    const vt_wp_vocab *v = vt_tok_vocab(t);
    int32_t n = vt_wp_vocab_size(v);
    vt_tok_special sp = vt_tok_special_ids(t);
    CHECK(n >= 5 && !strcmp(vt_wp_vocab_token(v, 1), "<pad>") && !strcmp(vt_wp_vocab_token(v, 3), "<unk>"));
    CHECK(sp.unk >= 0 && sp.cls >= 0 && sp.sep >= 0 && sp.pad >= 0 && sp.mask >= 0);
    CHECK(sp.unk < n && sp.cls < n && sp.sep < n && sp.pad < n && sp.mask < n);
    vt_tok_encoding e;
    vt_tok_encoding_init(&e);
    const char text[] = "Hello, W\xc3\xb6rld!  \xe4\xb8\xad <mask>a</s> \xf0\x9f\x98\x80\xff";
    if (vt_tok_encode(t, text, sizeof text - 1, "b 1", 3, NULL, &e) == VT_OK) {
        for (int32_t i = 0; i < e.len; i++) CHECK(e.ids[i] >= 0 && e.ids[i] < n);
        char *s = NULL;
        if (vt_tok_decode(t, e.ids, (size_t)e.len, true, true, &s, NULL) == VT_OK) free(s);
    }
    vt_tok_encoding_free(&e);
    vt_tok_free(t);
    return 0;
}
