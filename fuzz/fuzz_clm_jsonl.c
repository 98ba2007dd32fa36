/* libFuzzer target: prompt/completion JSONL for causal-LM fine-tuning
 * (vt_clm_parse) with a small WordPiece tokenizer (which tokenizer encodes the
 * texts does not matter to the reader). Checks: an accepted file gives
 * examples of 1..max_len ids ending with the eos id, their prompt part before
 * the completion; a refused one's message names "fuzz.jsonl:" and leaves the
 * set empty. Seeds: fuzz/corpus/clm_jsonl/. */
#include <stdint.h>
#include <string.h>

#include "verto/causal_lm.h"

#define CHECK(c) do { if (!(c)) __builtin_trap(); } while (0)
#define MAX_LEN 12
#define EOS 2

static const char VOCAB[] = "[PAD]\n[UNK]\n[CLS]\n[SEP]\n[MASK]\na\nb\nthe\nfree\nmoney\n##s\n";

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static vt_tokenizer *tok;
    if (!tok) {
        vt_tok_options o;
        vt_tok_options_default(&o);
        tok = vt_tok_create(vt_wp_vocab_from_buffer(VOCAB, sizeof VOCAB - 1, "fuzz vocab"), &o);
        CHECK(tok != NULL);
    }
    vt_clm_set s;
    vt_status st = vt_clm_parse((const char *)data, size, "fuzz.jsonl", tok, MAX_LEN, EOS, &s);
    if (st != VT_OK) {
        CHECK(!strncmp(vt_last_error(), "fuzz.jsonl:", 11) && s.n == 0 && !s.ex);
        return 0;
    }
    for (size_t i = 0; i < s.n; i++) {
        const vt_clm_example *e = &s.ex[i];
        CHECK(e->len >= 1 && e->len <= MAX_LEN && e->prompt_len >= 0 && e->prompt_len < e->len);
        CHECK(e->ids[e->len - 1] == EOS);
    }
    CHECK(s.truncated <= s.n);
    vt_clm_free(&s);
    return 0;
}
