/* Normalizers: each step rewrites a piece of text, keeping for every byte the
 * original range it came from exactly as tokenizers' NormalizedString does. */
#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>

#include "core/grow.h"
#include "text/normalize.h"
#include "text/unicode.h"
#include "text/utf8.h"

/* ---- BertNormalizer: BERT's one-pass normalizer, keeping the spaces ---- */

typedef struct bert_ctx {
    const vt_nstr *src;
    int32_t a;
    vt_nstr *out;
} bert_ctx;

/* The one "word" of a keep_spaces run: its ranges are positions in src's
 * piece, mapped to src's own original ranges. */
static vt_status bert_word(void *ud, const vt_word *w) {
    bert_ctx *c = ud;
    vt_status st = vt_nstr_reserve(c->out, w->len);
    if (st != VT_OK) return st;
    for (int32_t i = 0; i < w->len; i++) {
        int32_t at = c->a + w->ostart[i];
        c->out->s[c->out->len] = w->s[i];
        c->out->os[c->out->len] = c->src->os[at];
        c->out->oe[c->out->len] = c->src->oe[at];
        c->out->len++;
    }
    return VT_OK;
}

static vt_status bert(const vt_norm_step *n, const vt_nstr *src, int32_t a, int32_t b, vt_tok_work *w, vt_nstr *out) {
    vt_pretok_cfg cfg = n->bert;
    cfg.keep_spaces = true;
    bert_ctx c = {src, a, out};
    return vt_pretok_run(&cfg, src->s + a, (size_t)(b - a), 0, &w->pb, bert_word, &c);
}

/* ---- per-character rewrites: each output character keeps its source's range ---- */

static vt_status lowercase(const vt_nstr *src, int32_t a, int32_t b, vt_nstr *out) {
    vt_status st = VT_OK;
    for (int32_t i = a; i < b && st == VT_OK;) {
        int adv;
        int32_t cp = vt_utf8_at(src->s, b, i, &adv), l[3];
        int nl = (vt_uc_flags(cp) & VT_UC_LOWER) ? vt_uc_lower(cp, l) : (l[0] = cp, 1);
        for (int k = 0; k < nl && st == VT_OK; k++) st = vt_nstr_push(out, l[k], src->os[i], src->oe[i]);
        i += adv;
    }
    return st;
}

/* NMT's control characters dropped, its other spaces made ' '. */
static int32_t nmt_map(int32_t c) {
    if ((c >= 1 && c <= 8) || c == 0x0B || (c >= 0x0E && c <= 0x1F) || c == 0x7F || c == 0x8F || c == 0x9F) return -1;
    if (c == 9 || c == 10 || c == 12 || c == 13 || c == 0x1680 || (c >= 0x200B && c <= 0x200F) || c == 0x2028 ||
        c == 0x2029 || c == 0x2581 || c == 0xFEFF || c == 0xFFFD)
        return ' ';
    return c;
}

static vt_status filter_map(const vt_norm_step *n, const vt_nstr *src, int32_t a, int32_t b, vt_nstr *out) {
    vt_status st = VT_OK;
    for (int32_t i = a; i < b && st == VT_OK;) {
        int adv;
        int32_t cp = vt_utf8_at(src->s, b, i, &adv);
        int32_t to = n->kind == VT_NORM_NMT ? nmt_map(cp) : (vt_uc_class(cp) & VT_UCC_MARK) ? -1 : cp;
        if (to >= 0) st = vt_nstr_push(out, to, src->os[i], src->oe[i]);
        i += adv;
    }
    return st;
}

static vt_status strip(const vt_norm_step *n, const vt_nstr *src, int32_t a, int32_t b, vt_nstr *out) {
    int adv;
    if (n->left)
        while (a < b) {
            int32_t cp = vt_utf8_at(src->s, b, a, &adv);
            if (!(vt_uc_flags(cp) & VT_UC_WS)) break;
            a += adv;
        }
    if (n->right)
        while (b > a) {
            int32_t s = b - 1;
            while (s > a && ((unsigned char)src->s[s] & 0xC0) == 0x80) s--;
            if (!(vt_uc_flags(vt_utf8_at(src->s, b, s, &adv)) & VT_UC_WS)) break;
            b = s;
        }
    return vt_nstr_append_range(out, src, a, b);
}

/* Prepend: the new characters take the first character's range. */
static vt_status prepend(const vt_norm_step *n, const vt_nstr *src, int32_t a, int32_t b, vt_nstr *out) {
    if (a == b) return VT_OK;
    vt_status st = VT_OK;
    for (int32_t i = 0; i < n->content_len && st == VT_OK;) {
        int adv;
        int32_t cp = vt_utf8_at(n->content, n->content_len, i, &adv);
        st = vt_nstr_push(out, cp, src->os[a], src->oe[a]);
        i += adv;
    }
    return st == VT_OK ? vt_nstr_append_range(out, src, a, b) : st;
}

/* Replace: every match gives way to the content, whose characters take the
 * range of the match's last byte (tokenizers inserts them after removing the
 * match). */
typedef struct replace_ctx {
    const vt_norm_step *n;
    const vt_nstr *src;
    int32_t a, prev;
    vt_nstr *out;
} replace_ctx;

static vt_status replace_match(void *ud, int32_t start, int32_t end) {
    replace_ctx *c = ud;
    const vt_nstr *src = c->src;
    start += c->a, end += c->a;
    vt_status st = vt_nstr_append_range(c->out, src, c->prev, start);
    int32_t os = end > c->a ? src->os[end - 1] : src->os[c->a], oe = end > c->a ? src->oe[end - 1] : src->os[c->a];
    for (int32_t i = 0; i < c->n->content_len && st == VT_OK;) {
        int adv;
        int32_t cp = vt_utf8_at(c->n->content, c->n->content_len, i, &adv);
        st = vt_nstr_push(c->out, cp, os, oe);
        i += adv;
    }
    c->prev = end;
    return st;
}

static vt_status replace(const vt_norm_step *n, const vt_nstr *src, int32_t a, int32_t b, vt_nstr *out) {
    replace_ctx c = {n, src, a, a, out};
    vt_status st = vt_pattern_each(n->re, n->pattern, n->pattern_len, src->s + a, b - a, replace_match, &c);
    return st == VT_OK ? vt_nstr_append_range(out, src, c.prev, b) : st;
}

/* ---- Unicode normalization forms ---- */

typedef struct mark {
    int32_t cp, os, oe, ccc;
} mark;

/* Decomposes each character (canonically, or compatibly), then orders each
 * run of non-starters by combining class; as tokenizers' alignments do, the
 * k-th character of a reordered run keeps the k-th original one's range. */
static vt_status decompose(bool compat, const vt_nstr *src, int32_t a, int32_t b, vt_nstr *out, mark **runp,
                           int32_t *capp) {
    vt_status st = VT_OK;
    int32_t n_run = 0;
    bool dirty = false;
    for (int32_t i = a; i <= b && st == VT_OK;) {
        int adv = 0;
        int32_t d[18];
        int nd = 0;
        if (i < b) {
            int32_t cp = vt_utf8_at(src->s, b, i, &adv);
            if (!compat) {
                nd = vt_uc_nfd(cp, d);
            } else {
                int last = 0;
                utf8proc_ssize_t r = utf8proc_decompose_char(cp, d, 18, UTF8PROC_DECOMPOSE | UTF8PROC_COMPAT, &last);
                nd = r < 1 || r > 18 ? (d[0] = cp, 1) : (int)r;
            }
        }
        for (int k = 0; k <= nd && st == VT_OK; k++) {
            bool end = k == nd;
            if (end && i < b) break;
            int32_t ccc = end ? 0 : utf8proc_get_property(d[k])->combining_class;
            if (ccc == 0 && n_run > 0) { /* a starter (or the end) closes the run */
                mark *r = *runp;
                for (int32_t q = 1; dirty && q < n_run; q++) { /* stable by class; each position keeps its range */
                    mark m = r[q];
                    int32_t p = q;
                    for (; p > 0 && r[p - 1].ccc > m.ccc; p--) r[p].cp = r[p - 1].cp, r[p].ccc = r[p - 1].ccc;
                    r[p].cp = m.cp, r[p].ccc = m.ccc;
                }
                for (int32_t q = 0; q < n_run && st == VT_OK; q++) st = vt_nstr_push(out, r[q].cp, r[q].os, r[q].oe);
                n_run = 0;
                dirty = false;
            }
            if (end || st != VT_OK) continue;
            if (ccc == 0) {
                st = vt_nstr_push(out, d[k], src->os[i], src->oe[i]);
                continue;
            }
            if ((st = vt_grow((void **)runp, capp, n_run, sizeof **runp, "tokenizer: normalizing")) != VT_OK) break;
            if (n_run > 0 && ccc < (*runp)[n_run - 1].ccc) dirty = true;
            (*runp)[n_run++] = (mark){d[k], src->os[i], src->oe[i], ccc};
        }
        if (i == b) break;
        i += adv;
    }
    return st;
}

/* NFC / NFKC: the decomposition, then each starter with what follows it up to
 * the next starter that cannot combine is composed by utf8proc; the
 * composed characters keep the range of the first character they start at. */
static vt_status compose(bool compat, const vt_nstr *src, int32_t a, int32_t b, vt_tok_work *w, vt_nstr *out) {
    vt_nstr *d = &w->seg[2];
    d->len = 0;
    mark *run = NULL;
    int32_t cap = 0;
    vt_status st = decompose(compat, src, a, b, d, &run, &cap);
    free(run);
    if (st != VT_OK) return st;
    utf8proc_int32_t buf[64];
    for (int32_t i = 0; i < d->len && st == VT_OK;) {
        /* a chunk: a character and the non-starters after it (bounded) */
        int32_t starts[64], n = 0, j = i;
        while (j < d->len && n < 64) {
            int adv;
            int32_t cp = vt_utf8_at(d->s, d->len, j, &adv);
            if (n > 0 && utf8proc_get_property(cp)->combining_class == 0 &&
                !(cp >= 0x1161 && cp <= 0x11C2)) /* Hangul vowels and trailing consonants compose too */
                break;
            starts[n] = j;
            buf[n++] = cp;
            j += adv;
        }
        utf8proc_ssize_t m = utf8proc_normalize_utf32(buf, n, UTF8PROC_STABLE | UTF8PROC_COMPOSE);
        if (m < 0) m = n;
        /* the first output takes the first input's range; the others the range of the same code point
         * among the inputs not used yet (a mark that did not combine) */
        bool used[64] = {false};
        used[0] = true;
        for (utf8proc_ssize_t k = 0; k < m && st == VT_OK; k++) {
            int32_t from = 0;
            if (k > 0)
                for (int32_t q = 1; q < n; q++)
                    if (!used[q] && vt_utf8_at(d->s, d->len, starts[q], &(int){0}) == buf[k]) {
                        from = q;
                        used[q] = true;
                        break;
                    }
            st = vt_nstr_push(out, buf[k], d->os[starts[from]], d->oe[starts[from]]);
        }
        i = j;
    }
    return st;
}

/* ---- one step, and the chain ---- */

static vt_status apply_step(const vt_norm_step *n, const vt_nstr *src, int32_t a, int32_t b, vt_tok_work *w,
                            vt_nstr *out) {
    switch (n->kind) {
    case VT_NORM_BERT: return bert(n, src, a, b, w, out);
    case VT_NORM_LOWERCASE: return lowercase(src, a, b, out);
    case VT_NORM_NMT:
    case VT_NORM_STRIP_ACCENTS: return filter_map(n, src, a, b, out);
    case VT_NORM_STRIP: return strip(n, src, a, b, out);
    case VT_NORM_PREPEND: return prepend(n, src, a, b, out);
    case VT_NORM_REPLACE: return replace(n, src, a, b, out);
    case VT_NORM_NFD:
    case VT_NORM_NFKD: {
        mark *run = NULL;
        int32_t cap = 0;
        vt_status st = decompose(n->kind == VT_NORM_NFKD, src, a, b, out, &run, &cap);
        free(run);
        return st;
    }
    case VT_NORM_NFC:
    case VT_NORM_NFKC: return compose(n->kind == VT_NORM_NFKC, src, a, b, w, out);
    case VT_NORM_PRECOMPILED: {
        bool modified = false;
        w->changes.n = 0;
        vt_status st = vt_precompiled_changes(n->pc, src->s + a, b - a, &w->changes, &modified);
        if (st != VT_OK) return st;
        if (!modified) return vt_nstr_append_range(out, src, a, b);
        return vt_nstr_transform(src, a, b, w->changes.c, w->changes.n, 0, out);
    }
    }
    return vt_error(VT_ERR_INVALID_ARG, "tokenizer: unknown normalizer %d", (int)n->kind);
}

vt_status vt_norm_run(const vt_norm_step *steps, int n, const vt_nstr *src, int32_t a, int32_t b, vt_tok_work *w,
                      vt_nstr *out) {
    if (n == 0) return vt_nstr_append_range(out, src, a, b);
    const vt_nstr *in = src;
    int32_t from = a, to = b;
    for (int k = 0; k < n; k++) {
        vt_nstr *dst = k == n - 1 ? out : &w->seg[k % 2];
        int32_t start = k == n - 1 ? out->len : 0;
        if (k < n - 1) dst->len = 0;
        vt_status st = apply_step(&steps[k], in, from, to, w, dst);
        if (st != VT_OK) return st;
        in = dst;
        from = start;
        to = dst->len;
    }
    return VT_OK;
}
