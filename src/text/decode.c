/* Ids back to text: HF's WordPiece decoder and convert_tokens_to_string. */
#include <stdlib.h>
#include <string.h>

#include "core/strbuf.h"
#include "text/tokenizer_internal.h"

static vt_status finish(vt_sb *b, char **out, size_t *out_len) {
    char *text = vt_sb_take(b, out_len);
    if (!text) return vt_error(VT_ERR_NOMEM, "tokenizer: out of memory while decoding");
    *out = text;
    return VT_OK;
}

/* transformers' clean_up_tokenization, in place. */
static size_t cleanup_spaces(char *s, size_t n) {
    static const char *const from[] = {" .", " ?", " !", " ,", " ' ", " n't", " 'm", " 's", " 've", " 're"};
    static const char *const to[] = {".", "?", "!", ",", "'", "n't", "'m", "'s", "'ve", "'re"};
    for (size_t r = 0; r < sizeof from / sizeof *from; r++) {
        size_t fl = strlen(from[r]), tl = strlen(to[r]), w = 0;
        for (size_t i = 0; i < n;) {
            if (i + fl <= n && !memcmp(s + i, from[r], fl)) {
                memmove(s + w, to[r], tl);
                w += tl;
                i += fl;
            } else {
                s[w++] = s[i++];
            }
        }
        n = w;
    }
    s[n] = '\0';
    return n;
}

vt_status vt_tok_decode(const vt_tokenizer *t, const int32_t *ids, size_t n, bool skip_special, bool cleanup,
                        char **out, size_t *out_len) {
    if (!t || !out || (!ids && n)) return vt_error(VT_ERR_INVALID_ARG, "tokenizer: NULL argument to decode");
    vt_sb b = {0};
    bool first = true;
    for (size_t i = 0; i < n; i++) {
        const char *tok = vt_wp_vocab_token(t->vocab, ids[i]);
        if (!tok) {
            vt_sb_free(&b);
            return vt_error(VT_ERR_INVALID_ARG, "tokenizer: id %d is outside the vocabulary (size %d)", ids[i],
                            t->vocab->n);
        }
        if (skip_special && vt_tok_is_special(t, ids[i])) continue;
        size_t len = strlen(tok);
        if (!first && len >= 2 && tok[0] == '#' && tok[1] == '#') {
            vt_sb_add(&b, tok + 2, len - 2);
        } else {
            /* the decoder's own cleanup glues . ? ! , to the previous token */
            bool glue = len == 1 && (tok[0] == '.' || tok[0] == '?' || tok[0] == '!' || tok[0] == ',');
            if (!first && !glue) vt_sb_add(&b, " ", 1);
            vt_sb_add(&b, tok, len);
        }
        first = false;
    }
    if (!b.failed && cleanup && b.buf) b.len = cleanup_spaces(b.buf, b.len);
    return finish(&b, out, out_len);
}

vt_status vt_tok_join_tokens(const char *const *tokens, size_t n, char **out, size_t *out_len) {
    if (!out || (!tokens && n)) return vt_error(VT_ERR_INVALID_ARG, "tokenizer: NULL argument to join_tokens");
    vt_sb b = {0};
    for (size_t i = 0; i < n; i++) {
        const char *tok = tokens[i] ? tokens[i] : "";
        size_t len = strlen(tok);
        if (i > 0 && len >= 2 && tok[0] == '#' && tok[1] == '#') {
            vt_sb_add(&b, tok + 2, len - 2);
        } else {
            if (i > 0) vt_sb_add(&b, " ", 1);
            vt_sb_add(&b, tok, len);
        }
    }
    if (!b.failed && b.buf) { /* .strip() */
        size_t s = 0, e = b.len;
        while (s < e && (b.buf[s] == ' ')) s++;
        while (e > s && b.buf[e - 1] == ' ') e--;
        memmove(b.buf, b.buf + s, e - s);
        b.len = e - s;
        b.buf[b.len] = '\0';
    }
    return finish(&b, out, out_len);
}
