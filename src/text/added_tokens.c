#include "text/added_tokens.h"

#include <stdlib.h>
#include <string.h>

#include "text/unicode.h"
#include "text/utf8.h"

static int cmp_added(const void *x, const void *y, void *ctx) {
    const vt_added_token *all = ctx;
    const vt_added_token *a = &all[*(const int32_t *)x], *b = &all[*(const int32_t *)y];
    int ga = a->normalized * 256 + (unsigned char)a->match[0], gb = b->normalized * 256 + (unsigned char)b->match[0];
    if (ga != gb) return ga < gb ? -1 : 1;
    if (a->match_len != b->match_len) return a->match_len > b->match_len ? -1 : 1;
    return *(const int32_t *)x < *(const int32_t *)y ? -1 : 1;
}

vt_status vt_added_index(struct vt_tokenizer *t) {
    free(t->added_order);
    t->added_order = NULL;
    int32_t n = 0;
    for (int i = 0; i < t->n_added; i++) n += t->added[i].match_len > 0;
    t->added_order = malloc((size_t)(n ? n : 1) * sizeof(int32_t));
    if (!t->added_order) return vt_error(VT_ERR_NOMEM, "tokenizer: out of memory");
    n = 0;
    t->has_normalized_added = false;
    for (int i = 0; i < t->n_added; i++)
        if (t->added[i].match_len > 0) {
            t->added_order[n++] = i;
            t->has_normalized_added |= t->added[i].normalized;
        }
    qsort_r(t->added_order, (size_t)n, sizeof(int32_t), cmp_added, t->added);
    memset(t->added_start, 0, sizeof t->added_start);
    for (int32_t k = 0; k < n; k++) {
        const vt_added_token *a = &t->added[t->added_order[k]];
        t->added_start[a->normalized][(unsigned char)a->match[0] + 1]++;
    }
    for (int nz = 0; nz < 2; nz++) {
        int32_t base = nz ? t->added_start[0][256] : 0;
        for (int c = 0; c < 256; c++) t->added_start[nz][c + 1] += t->added_start[nz][c];
        for (int c = 0; c <= 256; c++) t->added_start[nz][c] += base;
    }
    return VT_OK;
}

/* Rust regex's \w, and \s, on the character that ends before / starts at a byte. */
static bool word_before(const char *s, int32_t a, int32_t at) {
    if (at <= a) return false;
    int32_t k = at - 1;
    while (k > a && ((unsigned char)s[k] & 0xC0) == 0x80) k--;
    int adv;
    int32_t cp = vt_utf8_decode((const unsigned char *)s + k, (size_t)(at - k), &adv);
    return (vt_uc_class(cp) & VT_UCC_WORD) != 0;
}

static bool word_at(const char *s, int32_t at, int32_t b) {
    if (at >= b) return false;
    int adv;
    int32_t cp = vt_utf8_decode((const unsigned char *)s + at, (size_t)(b - at), &adv);
    return (vt_uc_class(cp) & VT_UCC_WORD) != 0;
}

/* The start of the whitespace that ends at byte at (not before floor). */
static int32_t space_before(const char *s, int32_t floor, int32_t at) {
    while (at > floor) {
        int32_t k = at - 1;
        while (k > floor && ((unsigned char)s[k] & 0xC0) == 0x80) k--;
        int adv;
        int32_t cp = vt_utf8_decode((const unsigned char *)s + k, (size_t)(at - k), &adv);
        if (!(vt_uc_flags(cp) & VT_UC_WS)) break;
        at = k;
    }
    return at;
}

static int32_t space_after(const char *s, int32_t at, int32_t b) {
    while (at < b) {
        int adv;
        int32_t cp = vt_utf8_decode((const unsigned char *)s + at, (size_t)(b - at), &adv);
        if (!(vt_uc_flags(cp) & VT_UC_WS)) break;
        at += adv;
    }
    return at;
}

vt_status vt_added_split(const struct vt_tokenizer *t, bool normalized, const vt_nstr *buf, int32_t a, int32_t b,
                         vt_splits *out) {
    const int32_t *start_of = t->added_start[normalized];
    if (start_of[256] == start_of[0]) return vt_splits_push(out, a, b, -1);
    const char *s = buf->s;
    int32_t done = a; /* text before this is in out */
    vt_status st = VT_OK;
    for (int32_t i = a; i < b && st == VT_OK;) {
        unsigned char c = (unsigned char)s[i];
        const vt_added_token *hit = NULL;
        for (int32_t k = start_of[c]; k < start_of[c + 1]; k++) { /* longest first */
            const vt_added_token *tok = &t->added[t->added_order[k]];
            if (tok->match_len <= b - i && !memcmp(s + i, tok->match, (size_t)tok->match_len)) {
                hit = tok;
                break;
            }
        }
        if (!hit) {
            i++;
            continue;
        }
        int32_t ms = i, me = i + hit->match_len;
        i = me; /* the search goes on after a match, kept or not */
        if (t->opt.split_special_tokens && hit->special) continue;
        if (hit->single_word && (word_before(s, a, ms) || word_at(s, me, b))) continue;
        if (hit->lstrip) {
            int32_t ns = space_before(s, a, ms);
            ms = ns > done ? ns : done;
        }
        if (hit->rstrip) me = space_after(s, me, b);
        if ((st = vt_splits_push(out, done, ms, -1)) == VT_OK) st = vt_splits_push(out, ms, me, hit->id);
        done = me;
        if (i < me) i = me;
    }
    return st == VT_OK ? vt_splits_push(out, done, b, -1) : st;
}
