#include "text/pretok.h"

#include <stdlib.h>
#include <string.h>

#include "text/unicode.h"
#include "text/utf8.h"

void vt_pretok_buf_free(vt_pretok_buf *b) {
    free(b->s);
    free(b->ostart);
    free(b->oend);
    memset(b, 0, sizeof *b);
}

static vt_status grow(vt_pretok_buf *b, int32_t need) {
    if (b->len + need <= b->cap) return VT_OK;
    int64_t cap = b->cap ? (int64_t)b->cap * 2 : 256;
    while (cap < (int64_t)b->len + need) cap *= 2;
    if (cap > INT32_MAX) return vt_error(VT_ERR_NOMEM, "tokenizer: word longer than 2 GiB");
    char *s = realloc(b->s, (size_t)cap);
    if (s) b->s = s;
    int32_t *os = s ? realloc(b->ostart, (size_t)cap * sizeof(int32_t)) : NULL;
    if (os) b->ostart = os;
    int32_t *oe = os ? realloc(b->oend, (size_t)cap * sizeof(int32_t)) : NULL;
    if (!oe) return vt_error(VT_ERR_NOMEM, "tokenizer: out of memory for a %lld-byte word", (long long)cap);
    b->oend = oe;
    b->cap = (int32_t)cap;
    return VT_OK;
}

static vt_status flush(vt_pretok_buf *b, vt_word_fn fn, void *ud) {
    vt_status st = VT_OK;
    if (b->len > 0) {
        vt_word w = {b->s, b->len, b->nchars, b->ostart, b->oend};
        st = fn(ud, &w);
    }
    b->len = b->nchars = b->run_start = 0;
    return st;
}

/* Swaps the adjacent characters [p, q) and [q, e) (e - q <= 4 bytes). */
static void swap_chars(vt_pretok_buf *b, int32_t p, int32_t q, int32_t e) {
    int32_t n = e - q, m = q - p;
    char ts[4];
    int32_t tos[4], toe[4];
    memcpy(ts, b->s + q, (size_t)n);
    memcpy(tos, b->ostart + q, (size_t)n * sizeof(int32_t));
    memcpy(toe, b->oend + q, (size_t)n * sizeof(int32_t));
    memmove(b->s + p + n, b->s + p, (size_t)m);
    memmove(b->ostart + p + n, b->ostart + p, (size_t)m * sizeof(int32_t));
    memmove(b->oend + p + n, b->oend + p, (size_t)m * sizeof(int32_t));
    memcpy(b->s + p, ts, (size_t)n);
    memcpy(b->ostart + p, tos, (size_t)n * sizeof(int32_t));
    memcpy(b->oend + p, toe, (size_t)n * sizeof(int32_t));
}

/* Canonical ordering (part of NFD): the character just appended at [q, len)
 * moves before earlier non-starters of its run that have a higher combining
 * class (a stable sort, as the standard asks). */
static void reorder_last(vt_pretok_buf *b, int32_t q, int ccc) {
    int32_t e = b->len;
    while (q > b->run_start) {
        int32_t p = q - 1;
        while (p > b->run_start && ((unsigned char)b->s[p] & 0xC0) == 0x80) p--;
        int adv;
        int32_t prev = vt_utf8_decode((const unsigned char *)b->s + p, (size_t)(q - p), &adv);
        if (vt_uc_ccc(prev) <= ccc) break;
        swap_chars(b, p, q, e);
        e = p + (e - q);
        q = p;
    }
}

static vt_status append(vt_pretok_buf *b, int32_t cp, int32_t os, int32_t oe) {
    vt_status st = grow(b, 4);
    if (st != VT_OK) return st;
    int n = vt_utf8_encode(cp, b->s + b->len);
    for (int i = 0; i < n; i++) {
        b->ostart[b->len + i] = os;
        b->oend[b->len + i] = oe;
    }
    b->len += n;
    b->nchars++;
    return VT_OK;
}

/* One normalized character: punctuation becomes a word of its own. */
static vt_status emit(const vt_pretok_cfg *cfg, vt_pretok_buf *b, int32_t cp, int32_t os, int32_t oe,
                      vt_word_fn fn, void *ud) {
    uint8_t f = vt_uc_flags(cp);
    vt_status st;
    if (f & VT_UC_PUNCT) {
        if ((st = flush(b, fn, ud)) != VT_OK || (st = append(b, cp, os, oe)) != VT_OK) return st;
        return flush(b, fn, ud);
    }
    int32_t q = b->len;
    if ((st = append(b, cp, os, oe)) != VT_OK) return st;
    if (cfg->strip_accents) {
        int ccc = cp < 0x300 ? 0 : vt_uc_ccc(cp);
        if (ccc == 0) b->run_start = b->len;
        else reorder_last(b, q, ccc);
    }
    return VT_OK;
}

/* A non-ASCII character after cleaning: NFD + mark removal, lowercase. */
static vt_status normalize_char(const vt_pretok_cfg *cfg, vt_pretok_buf *b, int32_t cp, uint8_t f, int32_t os,
                                int32_t oe, vt_word_fn fn, void *ud) {
    int32_t d[4];
    int nd = 1;
    d[0] = cp;
    if (cfg->strip_accents && (f & VT_UC_DECOMP)) nd = vt_uc_nfd(cp, d);
    for (int i = 0; i < nd; i++) {
        uint8_t fx = nd == 1 && d[0] == cp ? f : vt_uc_flags(d[i]);
        if (cfg->strip_accents && (fx & VT_UC_MN)) {
            if (vt_uc_ccc(d[i]) == 0) b->run_start = b->len;
            continue;
        }
        vt_status st;
        if (cfg->lowercase && (fx & VT_UC_LOWER)) {
            int32_t l[3];
            int nl = vt_uc_lower(d[i], l);
            for (int k = 0; k < nl; k++)
                if ((st = emit(cfg, b, l[k], os, oe, fn, ud)) != VT_OK) return st;
        } else if ((st = emit(cfg, b, d[i], os, oe, fn, ud)) != VT_OK) {
            return st;
        }
    }
    return VT_OK;
}

vt_status vt_pretok_run(const vt_pretok_cfg *cfg, const char *text, size_t len, int32_t base, vt_pretok_buf *b,
                        vt_word_fn fn, void *ud) {
    vt_uc_init();
    const unsigned char *s = (const unsigned char *)text;
    b->len = b->nchars = b->run_start = 0;
    vt_status st = VT_OK;
    size_t i = 0;
    while (i < len) {
        unsigned ch = s[i];
        if (ch < 0x80) { /* ASCII: one table lookup, no utf8proc */
            uint8_t f = vt_uc_ascii[ch];
            int32_t os = base + (int32_t)i;
            i++;
            if (f & VT_UC_DROP) continue;
            if (f & VT_UC_WS) {
                if ((st = flush(b, fn, ud)) != VT_OK) return st;
                continue;
            }
            if (f & VT_UC_PUNCT) {
                if ((st = flush(b, fn, ud)) != VT_OK || (st = append(b, (int32_t)ch, os, os + 1)) != VT_OK ||
                    (st = flush(b, fn, ud)) != VT_OK)
                    return st;
                continue;
            }
            if (cfg->lowercase && (f & VT_UC_LOWER)) ch += 'a' - 'A';
            if (b->len >= b->cap && (st = grow(b, 1)) != VT_OK) return st;
            b->s[b->len] = (char)ch;
            b->ostart[b->len] = os;
            b->oend[b->len] = os + 1;
            b->len++;
            b->nchars++;
            b->run_start = b->len;
            continue;
        }
        int adv;
        int32_t cp = vt_utf8_decode(s + i, len - i, &adv);
        int32_t os = base + (int32_t)i, oe = os + adv;
        i += (size_t)adv;
        uint8_t f = vt_uc_flags(cp);
        if (f & VT_UC_DROP) continue;
        if (f & VT_UC_WS) {
            st = flush(b, fn, ud);
        } else if (cfg->chinese && (f & VT_UC_CJK)) {
            if ((st = flush(b, fn, ud)) == VT_OK && (st = normalize_char(cfg, b, cp, f, os, oe, fn, ud)) == VT_OK)
                st = flush(b, fn, ud);
        } else {
            st = normalize_char(cfg, b, cp, f, os, oe, fn, ud);
        }
        if (st != VT_OK) return st;
    }
    return flush(b, fn, ud);
}
