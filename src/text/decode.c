/* Ids back to text: HF's WordPiece decoder and convert_tokens_to_string. */
#include <stdlib.h>
#include <string.h>

#include "text/tokenizer_internal.h"

typedef struct sbuf {
    char *s;
    size_t len, cap;
} sbuf;

static bool sb_add(sbuf *b, const char *s, size_t n) {
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 64;
        while (cap < b->len + n + 1) cap *= 2;
        char *p = realloc(b->s, cap);
        if (!p) return false;
        b->s = p;
        b->cap = cap;
    }
    memcpy(b->s + b->len, s, n);
    b->len += n;
    b->s[b->len] = '\0';
    return true;
}

static vt_status finish(sbuf *b, bool ok, char **out, size_t *out_len) {
    if (!ok || (!b->s && !sb_add(b, "", 0))) {
        free(b->s);
        return vt_error(VT_ERR_NOMEM, "tokenizer: out of memory while decoding");
    }
    *out = b->s;
    if (out_len) *out_len = b->len;
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
    sbuf b = {0};
    bool ok = true, first = true;
    for (size_t i = 0; i < n && ok; i++) {
        const char *tok = vt_wp_vocab_token(t->vocab, ids[i]);
        if (!tok) {
            free(b.s);
            return vt_error(VT_ERR_INVALID_ARG, "tokenizer: id %d is outside the vocabulary (size %d)", ids[i],
                            t->vocab->n);
        }
        if (skip_special && vt_tok_is_special(t, ids[i])) continue;
        size_t len = strlen(tok);
        if (!first && len >= 2 && tok[0] == '#' && tok[1] == '#') {
            ok = sb_add(&b, tok + 2, len - 2);
        } else {
            /* the decoder's own cleanup glues . ? ! , to the previous token */
            bool glue = len == 1 && (tok[0] == '.' || tok[0] == '?' || tok[0] == '!' || tok[0] == ',');
            if (!first && !glue) ok = sb_add(&b, " ", 1);
            ok = ok && sb_add(&b, tok, len);
        }
        first = false;
    }
    if (ok && cleanup && b.s) b.len = cleanup_spaces(b.s, b.len);
    return finish(&b, ok, out, out_len);
}

vt_status vt_tok_join_tokens(const char *const *tokens, size_t n, char **out, size_t *out_len) {
    if (!out || (!tokens && n)) return vt_error(VT_ERR_INVALID_ARG, "tokenizer: NULL argument to join_tokens");
    sbuf b = {0};
    bool ok = true;
    for (size_t i = 0; i < n && ok; i++) {
        const char *tok = tokens[i] ? tokens[i] : "";
        size_t len = strlen(tok);
        if (i > 0 && len >= 2 && tok[0] == '#' && tok[1] == '#') {
            ok = sb_add(&b, tok + 2, len - 2);
        } else {
            if (i > 0) ok = sb_add(&b, " ", 1);
            ok = ok && sb_add(&b, tok, len);
        }
    }
    if (ok && b.s) { /* .strip() */
        size_t s = 0, e = b.len;
        while (s < e && (b.s[s] == ' ')) s++;
        while (e > s && b.s[e - 1] == ' ') e--;
        memmove(b.s, b.s + s, e - s);
        b.len = e - s;
        b.s[b.len] = '\0';
    }
    return finish(&b, ok, out, out_len);
}
