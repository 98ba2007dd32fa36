/* Ids back to text: the tokens' strings through the tokenizer's decoder
 * steps (tokenizers' decode_chain), joined; and convert_tokens_to_string. */
#include <stdlib.h>
#include <string.h>

#include "core/strbuf.h"
#include "core/utf8.h"
#include "text/byte_level.h"
#include "text/tokenizer_internal.h"
#include "text/utf8.h"

/* The tokens being decoded: each a malloc'd string with its length (the
 * ByteLevel and ByteFallback steps can make NUL bytes). */
typedef struct toks {
    char **s;
    size_t *len;
    size_t n;
} toks;

static void toks_free(toks *t) {
    for (size_t i = 0; i < t->n; i++) free(t->s[i]);
    free(t->s);
    free(t->len);
    t->s = NULL;
    t->len = NULL;
    t->n = 0;
}

/* A NUL-terminated malloc'd copy of s[0..n) (NUL bytes inside kept). */
static char *dup_n(const char *s, size_t n) {
    char *c = malloc(n + 1);
    if (c) memcpy(c, s, n), c[n] = '\0';
    return c;
}

static vt_status nomem(void) { return vt_error(VT_ERR_NOMEM, "tokenizer: out of memory while decoding"); }

static vt_status finish(vt_sb *b, char **out, size_t *out_len) {
    char *text = vt_sb_take(b, out_len);
    if (!text) return nomem();
    *out = text;
    return VT_OK;
}

/* Replaces every `from` in b by `to`, in place (to is never longer). */
static size_t replace_all(char *s, size_t n, const char *from, const char *to) {
    size_t fl = strlen(from), tl = strlen(to), w = 0;
    for (size_t i = 0; i < n;) {
        if (i + fl <= n && !memcmp(s + i, from, fl)) {
            memmove(s + w, to, tl);
            w += tl;
            i += fl;
        } else {
            s[w++] = s[i++];
        }
    }
    s[w] = '\0';
    return w;
}

/* transformers' clean_up_tokenization (with_do_not: the WordPiece decoder's own list). */
static size_t cleanup_spaces(char *s, size_t n, bool with_do_not) {
    static const char *const from[] = {" .", " ?", " !", " ,", " ' ", " n't", " 'm", " do not", " 's", " 've", " 're"};
    static const char *const to[] = {".", "?", "!", ",", "'", "n't", "'m", " don't", "'s", "'ve", "'re"};
    for (size_t r = 0; r < sizeof from / sizeof *from; r++)
        if (r != 7 || with_do_not) n = replace_all(s, n, from[r], to[r]);
    return n;
}

/* Token i becomes s[0..n) (malloc'd, taken over; NULL: out of memory). */
static vt_status put_tok(toks *t, size_t i, char *s, size_t n) {
    if (!s) return nomem();
    free(t->s[i]);
    t->s[i] = s;
    t->len[i] = n;
    return VT_OK;
}

/* Token i becomes b's text. */
static vt_status put_sb(toks *t, size_t i, vt_sb *b) {
    size_t n = 0;
    char *s = vt_sb_take(b, &n);
    return put_tok(t, i, s, n);
}

/* Appends s[0..n) (malloc'd, taken over; NULL: out of memory) as a new token. */
static vt_status push_tok(toks *t, char *s, size_t n) {
    char **grown = s ? realloc(t->s, (t->n + 1) * sizeof(char *)) : NULL;
    if (grown) t->s = grown;
    size_t *glen = grown ? realloc(t->len, (t->n + 1) * sizeof(size_t)) : NULL;
    if (!glen) return free(s), nomem();
    t->len = glen;
    t->s[t->n] = s;
    t->len[t->n++] = n;
    return VT_OK;
}

/* All the tokens become one: b's text. */
static vt_status one_tok(toks *t, vt_sb *b) {
    size_t n = 0;
    char *s = vt_sb_take(b, &n);
    if (!s) return nomem();
    toks_free(t);
    return push_tok(t, s, n);
}

static vt_status step_wordpiece(const vt_dec_step *d, toks *t) {
    size_t pl = strlen(d->prefix);
    for (size_t i = 0; i < t->n; i++) {
        vt_sb b = {0};
        const char *tok = t->s[i];
        if (i != 0 && pl && t->len[i] >= pl && !strncmp(tok, d->prefix, pl)) vt_sb_add(&b, tok + pl, t->len[i] - pl);
        else {
            if (i != 0) vt_sb_add(&b, " ", 1);
            vt_sb_add(&b, tok, t->len[i]);
        }
        if (d->cleanup && !b.failed && b.buf) b.len = cleanup_spaces(b.buf, b.len, true);
        vt_status st = put_sb(t, i, &b);
        if (st != VT_OK) return st;
    }
    return VT_OK;
}

/* Every token's characters back to bytes, all in one token (invalid UTF-8 replaced). */
static vt_status step_byte_level(toks *t) {
    vt_sb b = {0};
    for (size_t i = 0; i < t->n; i++) {
        const char *s = t->s[i];
        size_t n = t->len[i], start = b.len;
        for (size_t k = 0; k < n;) {
            int adv;
            int32_t cp = vt_utf8_decode((const unsigned char *)s + k, n - k, &adv);
            int byte = vt_byte_level_byte(cp);
            if (byte < 0) { /* a character that stands for no byte: tokenizers keeps the whole token as it is */
                b.len = start;
                vt_sb_add(&b, s, n);
                break;
            }
            char c = (char)byte;
            vt_sb_add(&b, &c, 1);
            k += (size_t)adv;
        }
    }
    /* from_utf8_lossy: each maximal invalid subsequence becomes U+FFFD */
    vt_sb v = {0};
    for (size_t k = 0; k < b.len;) {
        int adv;
        int32_t cp = vt_utf8_decode((const unsigned char *)b.buf + k, b.len - k, &adv);
        char enc[4];
        vt_sb_add(&v, enc, (size_t)vt_utf8_encode(cp, enc));
        k += (size_t)adv;
    }
    if (b.failed) v.failed = true;
    vt_sb_free(&b);
    return one_tok(t, &v);
}

/* Metaspace: the replacement character is a space again, dropped in the first token when one was put in front. */
static vt_status step_metaspace(const vt_dec_step *d, toks *t) {
    for (size_t i = 0; i < t->n; i++) {
        vt_sb b = {0};
        const char *s = t->s[i];
        size_t n = t->len[i];
        for (size_t k = 0; k < n;) {
            int adv;
            int32_t cp = vt_utf8_decode((const unsigned char *)s + k, n - k, &adv);
            if (cp != d->replacement) vt_sb_add(&b, s + k, (size_t)adv);
            else if (!(i == 0 && d->prepend != VT_PREPEND_NEVER)) vt_sb_add(&b, " ", 1);
            k += (size_t)adv;
        }
        vt_status st = put_sb(t, i, &b);
        if (st != VT_OK) return st;
    }
    return VT_OK;
}

/* A literal replaced in every token (BPEDecoder: the suffix; the last token gets ""). */
static vt_status step_replace(toks *t, const char *from, const char *to, const char *to_last) {
    size_t fl = strlen(from);
    if (!fl) return VT_OK;
    for (size_t i = 0; i < t->n; i++) {
        const char *with = i + 1 == t->n && to_last ? to_last : to;
        vt_sb b = {0};
        const char *s = t->s[i], *end = s + t->len[i];
        for (const char *hit; (hit = memmem(s, (size_t)(end - s), from, fl)); s = hit + fl) {
            vt_sb_add(&b, s, (size_t)(hit - s));
            vt_sb_add(&b, with, strlen(with));
        }
        vt_sb_add(&b, s, (size_t)(end - s));
        vt_status st = put_sb(t, i, &b);
        if (st != VT_OK) return st;
    }
    return VT_OK;
}

/* The byte a "<0xXX>" token stands for, or -1. */
static int fallback_byte(const char *s, size_t n) {
    if (n != 6 || strncmp(s, "<0x", 3) || s[5] != '>') return -1;
    int v = 0;
    for (int k = 3; k < 5; k++) {
        char c = s[k];
        int d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
        if (d < 0) return -1;
        v = v * 16 + d;
    }
    return v;
}

/* Pushes the run of fallback bytes as one token, or one U+FFFD per byte when they are not UTF-8. */
static vt_status flush_bytes(vt_sb *bytes, toks *out) {
    if (bytes->len == 0) return VT_OK;
    if (bytes->failed) return nomem();
    bool valid = vt_utf8_valid(bytes->buf, bytes->len);
    vt_status st = VT_OK;
    for (size_t k = 0; k < (valid ? 1 : bytes->len) && st == VT_OK; k++)
        st = valid ? push_tok(out, dup_n(bytes->buf, bytes->len), bytes->len) : push_tok(out, strdup("\xEF\xBF\xBD"), 3);
    bytes->len = 0;
    return st;
}

/* Runs of <0xXX> tokens become the text of their bytes (ByteFallback). */
static vt_status step_byte_fallback(toks *t) {
    toks out = {NULL, NULL, 0};
    vt_sb bytes = {0};
    vt_status st = VT_OK;
    for (size_t i = 0; i < t->n && st == VT_OK; i++) {
        int byte = fallback_byte(t->s[i], t->len[i]);
        if (byte >= 0) {
            char c = (char)byte;
            vt_sb_add(&bytes, &c, 1);
            continue;
        }
        if ((st = flush_bytes(&bytes, &out)) == VT_OK) st = push_tok(&out, t->s[i], t->len[i]);
        t->s[i] = NULL;
    }
    if (st == VT_OK) st = flush_bytes(&bytes, &out);
    vt_sb_free(&bytes);
    toks_free(t);
    *t = out;
    return st;
}

static vt_status step_fuse(toks *t) {
    vt_sb b = {0};
    for (size_t i = 0; i < t->n; i++) vt_sb_add(&b, t->s[i], t->len[i]);
    return one_tok(t, &b);
}

/* Up to `start` leading and `stop` trailing copies of the character go. */
static vt_status step_strip(const vt_dec_step *d, toks *t) {
    char c[4];
    int cl = vt_utf8_encode(d->replacement, c);
    for (size_t i = 0; i < t->n; i++) {
        char *s = t->s[i];
        size_t n = t->len[i], a = 0, e = n;
        for (int32_t k = 0; k < d->start && a + (size_t)cl <= e && !memcmp(s + a, c, (size_t)cl); k++) a += (size_t)cl;
        for (int32_t k = 0; k < d->stop && e >= a + (size_t)cl && !memcmp(s + e - cl, c, (size_t)cl); k++) e -= (size_t)cl;
        vt_status st = put_tok(t, i, dup_n(s + a, e - a), e - a);
        if (st != VT_OK) return st;
    }
    return VT_OK;
}

static vt_status run_step(const vt_dec_step *d, toks *t) {
    switch (d->kind) {
    case VT_DEC_WORDPIECE: return step_wordpiece(d, t);
    case VT_DEC_BYTE_LEVEL: return step_byte_level(t);
    case VT_DEC_METASPACE: return step_metaspace(d, t);
    case VT_DEC_BPE: return step_replace(t, d->prefix, " ", "");
    case VT_DEC_REPLACE: return step_replace(t, d->prefix, d->content, NULL);
    case VT_DEC_BYTE_FALLBACK: return step_byte_fallback(t);
    case VT_DEC_FUSE: return step_fuse(t);
    case VT_DEC_STRIP: return step_strip(d, t);
    }
    return vt_error(VT_ERR_INVALID_ARG, "tokenizer: unknown decoder");
}

/* Runs the decoder steps over tk (taken over and freed) and joins the result. */
static vt_status decode_chain(const vt_tokenizer *t, toks *tk, bool cleanup, char **out, size_t *out_len) {
    vt_status st = VT_OK;
    for (int k = 0; k < t->n_dec && st == VT_OK && tk->n > 0; k++) st = run_step(&t->dec[k], tk);
    vt_sb b = {0};
    for (size_t i = 0; i < tk->n && st == VT_OK; i++) {
        if (i > 0 && t->n_dec == 0) vt_sb_add(&b, " ", 1); /* no decoder: tokens joined by spaces */
        vt_sb_add(&b, tk->s[i], tk->len[i]);
    }
    toks_free(tk);
    if (st != VT_OK) return vt_sb_free(&b), st;
    if (!b.failed && cleanup && b.buf) b.len = cleanup_spaces(b.buf, b.len, false);
    return finish(&b, out, out_len);
}

vt_status vt_tok_decode(const vt_tokenizer *t, const int32_t *ids, size_t n, bool skip_special, bool cleanup,
                        char **out, size_t *out_len) {
    if (!t || !out || (!ids && n)) return vt_error(VT_ERR_INVALID_ARG, "tokenizer: NULL argument to decode");
    toks tk = {malloc((n ? n : 1) * sizeof(char *)), malloc((n ? n : 1) * sizeof(size_t)), 0};
    if (!tk.s || !tk.len) return toks_free(&tk), nomem();
    vt_status st = VT_OK;
    for (size_t i = 0; i < n && st == VT_OK; i++) {
        const char *tok = vt_wp_vocab_token(t->vocab, ids[i]);
        if (!tok) {
            st = vt_error(VT_ERR_INVALID_ARG, "tokenizer: id %d is outside the vocabulary (size %d)", ids[i],
                          t->vocab->n);
            break;
        }
        if (skip_special && vt_tok_is_special(t, ids[i])) continue;
        if (!(tk.s[tk.n] = strdup(tok))) st = nomem();
        else tk.len[tk.n] = strlen(tok), tk.n++;
    }
    if (st != VT_OK) return toks_free(&tk), st;
    return decode_chain(t, &tk, cleanup, out, out_len);
}

vt_status vt_tok_decode_tokens(const vt_tokenizer *t, const char *const *tokens, size_t n, char **out,
                               size_t *out_len) {
    if (!t || !out || (!tokens && n)) return vt_error(VT_ERR_INVALID_ARG, "tokenizer: NULL argument to decode");
    toks tk = {malloc((n ? n : 1) * sizeof(char *)), malloc((n ? n : 1) * sizeof(size_t)), 0};
    if (!tk.s || !tk.len) return toks_free(&tk), nomem();
    for (size_t i = 0; i < n; i++) {
        if (!(tk.s[tk.n] = strdup(tokens[i] ? tokens[i] : ""))) return toks_free(&tk), nomem();
        tk.len[tk.n] = strlen(tk.s[tk.n]);
        tk.n++;
    }
    return decode_chain(t, &tk, false, out, out_len);
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
