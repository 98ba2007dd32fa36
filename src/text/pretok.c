#include "text/pretok.h"

#include <stdlib.h>
#include <string.h>

#include "text/unicode.h"
#include "text/utf8.h"

void vt_pretok_buf_free(vt_pretok_buf *b) {
    free(b->s);
    free(b->ostart);
    free(b->oend);
    free(b->run);
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

static vt_status end_run(vt_pretok_buf *b);

static vt_status flush(vt_pretok_buf *b, vt_word_fn fn, void *ud) {
    vt_status st = b->n_run ? end_run(b) : VT_OK;
    if (st == VT_OK && b->len > 0) {
        vt_word w = {b->s, b->len, b->nchars, b->ostart, b->oend};
        st = fn(ud, &w);
    }
    b->len = b->nchars = 0;
    return st;
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

/* Canonical ordering (part of NFD). Non-starters (combining class > 0) wait
 * in b->run, marks to be stripped included, until the next starter. If they
 * are out of order they are stably sorted by class, and, as tokenizers'
 * alignment tracking does, the k-th character after sorting takes the
 * original range of the k-th before. Then the marks are dropped and the rest
 * joins the word. A counting sort keeps long runs linear. */
static vt_status end_run(vt_pretok_buf *b) {
    vt_status st = VT_OK;
    int32_t n = b->n_run;
    vt_run_char *r = b->run;
    if (n > 1 && b->run_dirty) {
        vt_run_char *sorted = malloc((size_t)n * sizeof *sorted);
        if (!sorted) return vt_error(VT_ERR_NOMEM, "tokenizer: out of memory");
        int32_t w = 0;
        for (int c = 1; c < 256; c++)
            for (int32_t k = 0; k < n; k++)
                if (r[k].ccc == c) sorted[w++] = r[k];
        for (int32_t k = 0; k < n; k++) {
            sorted[k].os = r[k].os;
            sorted[k].oe = r[k].oe;
        }
        memcpy(r, sorted, (size_t)n * sizeof *r);
        free(sorted);
    }
    for (int32_t k = 0; k < n && st == VT_OK; k++)
        if (!r[k].mark) st = append(b, r[k].cp, r[k].os, r[k].oe);
    b->n_run = 0;
    b->run_dirty = false;
    return st;
}

static vt_status run_push(vt_pretok_buf *b, int32_t cp, int ccc, bool mark, int32_t os, int32_t oe) {
    if (b->n_run == b->cap_run) {
        int32_t cap = b->cap_run ? b->cap_run * 2 : 16;
        vt_run_char *r = cap > 0 ? realloc(b->run, (size_t)cap * sizeof *r) : NULL;
        if (!r) return vt_error(VT_ERR_NOMEM, "tokenizer: out of memory for combining marks");
        b->run = r;
        b->cap_run = cap;
    }
    if (b->n_run > 0 && ccc < b->run[b->n_run - 1].ccc) b->run_dirty = true;
    b->run[b->n_run++] = (vt_run_char){cp, os, oe, (uint8_t)ccc, mark};
    return VT_OK;
}

/* One normalized character: punctuation becomes a word of its own. */
static vt_status emit(const vt_pretok_cfg *cfg, vt_pretok_buf *b, int32_t cp, int32_t os, int32_t oe,
                      vt_word_fn fn, void *ud) {
    uint8_t f = vt_uc_flags(cp);
    vt_status st;
    if ((f & VT_UC_PUNCT) && !cfg->keep_spaces) {
        if ((st = flush(b, fn, ud)) != VT_OK || (st = append(b, cp, os, oe)) != VT_OK) return st;
        return flush(b, fn, ud);
    }
    if (!cfg->strip_accents) return append(b, cp, os, oe);
    int ccc = cp < 0x300 ? 0 : vt_uc_ccc(cp);
    if (ccc != 0) return run_push(b, cp, ccc, false, os, oe);
    if (b->n_run && (st = end_run(b)) != VT_OK) return st;
    return append(b, cp, os, oe);
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
        vt_status st;
        if (cfg->strip_accents && (fx & VT_UC_MN)) {
            int ccc = vt_uc_ccc(d[i]);
            st = ccc == 0 ? (b->n_run ? end_run(b) : VT_OK) : run_push(b, d[i], ccc, true, os, oe);
            if (st != VT_OK) return st;
            continue;
        }
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
    b->len = b->nchars = b->n_run = 0;
    b->run_dirty = false;
    vt_status st = VT_OK;
    size_t i = 0;
    while (i < len) {
        unsigned ch = s[i];
        if (ch < 0x80) { /* ASCII: one table lookup, no utf8proc */
            uint8_t f = vt_uc_ascii[ch];
            int32_t os = base + (int32_t)i;
            i++;
            if (f & VT_UC_DROP) continue;
            if ((f & VT_UC_WS) && cfg->keep_spaces) {
                if ((b->n_run && (st = end_run(b)) != VT_OK) || (st = append(b, ' ', os, os + 1)) != VT_OK) return st;
                continue;
            }
            if (f & VT_UC_WS) {
                if ((st = flush(b, fn, ud)) != VT_OK) return st;
                continue;
            }
            if ((f & VT_UC_PUNCT) && !cfg->keep_spaces) {
                if ((st = flush(b, fn, ud)) != VT_OK || (st = append(b, (int32_t)ch, os, os + 1)) != VT_OK ||
                    (st = flush(b, fn, ud)) != VT_OK)
                    return st;
                continue;
            }
            if (cfg->lowercase && (f & VT_UC_LOWER)) ch += 'a' - 'A';
            if (b->n_run && (st = end_run(b)) != VT_OK) return st;
            if (b->len >= b->cap && (st = grow(b, 1)) != VT_OK) return st;
            b->s[b->len] = (char)ch;
            b->ostart[b->len] = os;
            b->oend[b->len] = os + 1;
            b->len++;
            b->nchars++;
            continue;
        }
        int adv;
        int32_t cp = vt_utf8_decode(s + i, len - i, &adv);
        int32_t os = base + (int32_t)i, oe = os + adv;
        i += (size_t)adv;
        uint8_t f = vt_uc_flags(cp);
        if (f & VT_UC_DROP) continue;
        if ((f & VT_UC_WS) && cfg->keep_spaces) {
            if (!b->n_run || (st = end_run(b)) == VT_OK) st = append(b, ' ', os, oe);
        } else if (f & VT_UC_WS) {
            st = flush(b, fn, ud);
        } else if (cfg->chinese && (f & VT_UC_CJK) && cfg->keep_spaces) {
            if ((!b->n_run || (st = end_run(b)) == VT_OK) && (st = append(b, ' ', os, oe)) == VT_OK &&
                (st = normalize_char(cfg, b, cp, f, os, oe, fn, ud)) == VT_OK &&
                (!b->n_run || (st = end_run(b)) == VT_OK))
                st = append(b, ' ', os, oe);
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
