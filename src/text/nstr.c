#include "text/nstr.h"

#include <stdlib.h>
#include <string.h>

#include "core/grow.h"
#include "text/utf8.h"

void vt_nstr_free(vt_nstr *n) {
    free(n->s);
    free(n->os);
    free(n->oe);
    memset(n, 0, sizeof *n);
}

vt_status vt_nstr_reserve(vt_nstr *n, int64_t more) {
    int64_t need = (int64_t)n->len + more;
    if (need <= n->cap) return VT_OK;
    if (need > INT32_MAX) return vt_error(VT_ERR_NOMEM, "tokenizer: text longer than 2 GiB after normalization");
    int64_t cap = n->cap ? (int64_t)n->cap * 2 : 256;
    while (cap < need) cap *= 2;
    if (cap > INT32_MAX) cap = INT32_MAX;
    char *s = realloc(n->s, (size_t)cap);
    if (s) n->s = s;
    int32_t *os = s ? realloc(n->os, (size_t)cap * sizeof(int32_t)) : NULL;
    if (os) n->os = os;
    int32_t *oe = os ? realloc(n->oe, (size_t)cap * sizeof(int32_t)) : NULL;
    if (!oe) return vt_error(VT_ERR_NOMEM, "tokenizer: out of memory for %lld bytes of text", (long long)cap);
    n->oe = oe;
    n->cap = (int32_t)cap;
    return VT_OK;
}

vt_status vt_nstr_push(vt_nstr *n, int32_t cp, int32_t os, int32_t oe) {
    if (n->len + 4 > n->cap) {
        vt_status st = vt_nstr_reserve(n, 4);
        if (st != VT_OK) return st;
    }
    int k = vt_utf8_encode(cp, n->s + n->len);
    for (int i = 0; i < k; i++) {
        n->os[n->len + i] = os;
        n->oe[n->len + i] = oe;
    }
    n->len += k;
    return VT_OK;
}

vt_status vt_nstr_append_range(vt_nstr *n, const vt_nstr *src, int32_t from, int32_t to) {
    int32_t k = to - from;
    if (k <= 0) return VT_OK; /* nothing to copy (and src may hold no buffer yet) */
    vt_status st = vt_nstr_reserve(n, k);
    if (st != VT_OK) return st;
    memcpy(n->s + n->len, src->s + from, (size_t)k);
    memcpy(n->os + n->len, src->os + from, (size_t)k * sizeof(int32_t));
    memcpy(n->oe + n->len, src->oe + from, (size_t)k * sizeof(int32_t));
    n->len += k;
    return VT_OK;
}

vt_status vt_nstr_append_text(vt_nstr *n, const char *text, int32_t len, int32_t base) {
    /* U+FFFD takes 3 bytes where an invalid byte took 1 */
    vt_status st = vt_nstr_reserve(n, (int64_t)len * 3);
    if (st != VT_OK) return st;
    const unsigned char *s = (const unsigned char *)text;
    for (int32_t i = 0; i < len;) {
        if (s[i] < 0x80) {
            n->s[n->len] = (char)s[i];
            n->os[n->len] = base + i;
            n->oe[n->len] = base + i + 1;
            n->len++, i++;
            continue;
        }
        int adv;
        int32_t cp = vt_utf8_decode(s + i, (size_t)(len - i), &adv);
        int k = vt_utf8_encode(cp, n->s + n->len);
        for (int j = 0; j < k; j++) {
            n->os[n->len + j] = base + i;
            n->oe[n->len + j] = base + i + adv;
        }
        n->len += k;
        i += adv;
    }
    return VT_OK;
}

vt_status vt_nchanges_push(vt_nchanges *l, int32_t cp, int32_t change) {
    vt_status st = vt_grow((void **)&l->c, &l->cap, l->n, sizeof *l->c, "tokenizer: normalizing");
    if (st == VT_OK) l->c[l->n++] = (vt_nchange){cp, change};
    return st;
}

void vt_nchanges_free(vt_nchanges *l) {
    free(l->c);
    memset(l, 0, sizeof *l);
}

/* Bytes of the UTF-8 character starting with byte b. */
static int32_t char_bytes(unsigned char b) { return b < 0x80 ? 1 : b < 0xE0 ? 2 : b < 0xF0 ? 3 : 4; }

vt_status vt_nstr_transform(const vt_nstr *src, int32_t from, int32_t to, const vt_nchange *c, int32_t n,
                            int32_t initial_removed, vt_nstr *out) {
    vt_status st = vt_nstr_reserve(out, (int64_t)n * 4);
    if (st != VT_OK) return st;
    int32_t at = from; /* the next source character */
    for (int32_t k = 0; k < initial_removed && at < to; k++) at += char_bytes((unsigned char)src->s[at]);
    int32_t start_os = from < src->len ? src->os[from] : from > 0 ? src->oe[from - 1] : 0;
    for (int32_t i = 0; i < n; i++) {
        int32_t os, oe;
        if (c[i].change > 0) { /* new: the range of the byte before */
            if (at > from) os = src->os[at - 1], oe = src->oe[at - 1];
            else os = oe = start_os;
        } else {
            if (at >= to) /* more replacements than characters: tokenizers would panic; keep the end */
                os = oe = to > from ? src->oe[to - 1] : start_os;
            else
                os = src->os[at], oe = src->oe[at];
            if (at < to) at += char_bytes((unsigned char)src->s[at]);
            for (int32_t k = 0; k < -c[i].change && at < to; k++) at += char_bytes((unsigned char)src->s[at]);
        }
        if ((st = vt_nstr_push(out, c[i].cp, os, oe)) != VT_OK) return st;
    }
    return VT_OK;
}
