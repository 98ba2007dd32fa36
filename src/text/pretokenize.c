/* Pre-tokenizers: each step cuts every text piece of an input into smaller
 * ones (and ByteLevel / Metaspace rewrite them), as tokenizers' pre_tokenizers
 * do, offsets kept through the normalized string's alignments. */
#include <stdlib.h>
#include <string.h>

#include "core/grow.h"
#include "text/byte_level.h"
#include "text/pretokenize.h"
#include "text/unicode.h"
#include "text/utf8.h"

vt_status vt_splits_push(vt_splits *l, int32_t start, int32_t end, int32_t id) {
    if (end <= start) return VT_OK;
    vt_status st = vt_grow((void **)&l->v, &l->cap, l->n, sizeof *l->v, "tokenizer: pieces");
    if (st == VT_OK) l->v[l->n++] = (vt_split){start, end, id};
    return st;
}

void vt_splits_free(vt_splits *l) {
    free(l->v);
    memset(l, 0, sizeof *l);
}

vt_status vt_matches_push(vt_matches *m, int32_t start, int32_t end, bool is_match) {
    vt_status st = vt_grow((void **)&m->v, &m->cap, m->n, sizeof *m->v, "tokenizer: pattern matches");
    if (st == VT_OK) m->v[m->n++] = (vt_match){start, end, is_match};
    return st;
}

void vt_matches_free(vt_matches *m) {
    free(m->v);
    memset(m, 0, sizeof *m);
}

static inline bool is_ws(int32_t cp) { return (vt_uc_flags(cp) & VT_UC_WS) != 0; }

/* ---- applying a behavior (tokenizers' NormalizedString::split) ---- */

/* Turns the events m (over one piece) into pieces in out, as `behavior` says. */
static vt_status apply_behavior(vt_matches *m, vt_split_behavior behavior, vt_splits *out) {
    vt_match *e = m->v;
    int32_t n = m->n, w = 0; /* events merged in place: e[0..w) */
    bool prev = false;
    vt_status st = VT_OK;
    switch (behavior) {
    case VT_SPLIT_ISOLATED:
    case VT_SPLIT_REMOVED:
        w = n;
        break;
    case VT_SPLIT_CONTIGUOUS:
        for (int32_t i = 0; i < n; i++) {
            bool is_match = e[i].is_match; /* before e[w] (maybe e[i]) is written */
            if (is_match == prev && w > 0) e[w - 1].end = e[i].end;
            else e[w++] = (vt_match){e[i].start, e[i].end, false};
            prev = is_match;
        }
        break;
    case VT_SPLIT_MERGED_WITH_PREVIOUS:
        for (int32_t i = 0; i < n; i++) {
            bool is_match = e[i].is_match;
            if (is_match && !prev && w > 0) e[w - 1].end = e[i].end;
            else e[w++] = (vt_match){e[i].start, e[i].end, false};
            prev = is_match;
        }
        break;
    case VT_SPLIT_MERGED_WITH_NEXT: /* the same from the right */
        w = n;
        for (int32_t i = n - 1, r = n; i >= 0; i--) {
            bool is_match = e[i].is_match;
            if (is_match && !prev && r < n) e[r].start = e[i].start;
            else e[--r] = (vt_match){e[i].start, e[i].end, false};
            prev = is_match;
            if (i == 0) { /* move the kept events e[r..n) to the front */
                memmove(e, e + r, (size_t)(n - r) * sizeof *e);
                w = n - r;
            }
        }
        break;
    }
    for (int32_t i = 0; i < w && st == VT_OK; i++)
        if (!(behavior == VT_SPLIT_REMOVED && e[i].is_match)) st = vt_splits_push(out, e[i].start, e[i].end, -1);
    return st;
}

/* ---- patterns ---- */

/* Events of a per-character predicate over [a, b): each matching character
 * is one event, the runs between them one each (tokenizers' Fn(char) pattern). */
typedef bool (*char_pred)(int32_t cp, const vt_pre_step *p);

static vt_status pred_matches(const vt_nstr *buf, int32_t a, int32_t b, char_pred pred, const vt_pre_step *p,
                              vt_matches *m) {
    int32_t last = a;
    vt_status st = VT_OK;
    for (int32_t i = a; i < b && st == VT_OK;) {
        int adv;
        int32_t cp = vt_utf8_at(buf->s, b, i, &adv);
        if (pred(cp, p)) {
            if (last < i) st = vt_matches_push(m, last, i, false);
            if (st == VT_OK) st = vt_matches_push(m, i, i + adv, true);
            last = i + adv;
        }
        i += adv;
    }
    if (st == VT_OK && last < b) st = vt_matches_push(m, last, b, false);
    return st;
}

static bool pred_ws(int32_t cp, const vt_pre_step *p) { return is_ws(cp); }
static bool pred_punct(int32_t cp, const vt_pre_step *p) { return (vt_uc_flags(cp) & VT_UC_PUNCT) != 0; }
static bool pred_digit(int32_t cp, const vt_pre_step *p) { return (vt_uc_class(cp) & VT_UCC_NUMERIC) != 0; }
static bool pred_delim(int32_t cp, const vt_pre_step *p) { return cp == p->delimiter; }
static bool pred_replacement(int32_t cp, const vt_pre_step *p) { return cp == p->replacement; }

typedef struct re_ctx {
    vt_matches *m;
    int32_t base, prev;
} re_ctx;

static vt_status on_regex_match(void *ud, int32_t start, int32_t end) {
    re_ctx *c = ud;
    vt_status st = VT_OK;
    if (c->prev != c->base + start) st = vt_matches_push(c->m, c->prev, c->base + start, false);
    if (st == VT_OK) st = vt_matches_push(c->m, c->base + start, c->base + end, true);
    c->prev = c->base + end;
    return st;
}

/* Events of a regex or a literal over [a, b) (tokenizers' Regex and String patterns). */
static vt_status pattern_matches(const vt_nstr *buf, int32_t a, int32_t b, const vt_regex *re, const char *lit,
                                 int32_t lit_len, vt_matches *m) {
    re_ctx c = {m, a, a};
    vt_status st = vt_pattern_each(re, lit, lit_len, buf->s + a, b - a, on_regex_match, &c);
    if (st == VT_OK && c.prev < b) st = vt_matches_push(m, c.prev, b, false);
    return st;
}

/* \w+ | [^\w\s]+ runs (the Whitespace pre-tokenizer's regex), the whitespace between them left out. */
static vt_status whitespace_pieces(const vt_nstr *buf, int32_t a, int32_t b, vt_splits *out) {
    vt_status st = VT_OK;
    int32_t i = a;
    while (i < b && st == VT_OK) {
        int adv;
        int32_t cp = vt_utf8_at(buf->s, b, i, &adv);
        if (is_ws(cp)) {
            i += adv;
            continue;
        }
        bool word = (vt_uc_class(cp) & VT_UCC_WORD) != 0;
        int32_t j = i + adv;
        while (j < b) {
            cp = vt_utf8_at(buf->s, b, j, &adv);
            bool w = (vt_uc_class(cp) & VT_UCC_WORD) != 0;
            if (w != word || (!w && is_ws(cp))) break;
            j += adv;
        }
        st = vt_splits_push(out, i, j, -1);
        i = j;
    }
    return st;
}

/* Whitespace removed, punctuation isolated (BertPreTokenizer). */
static vt_status bert_pieces(const vt_nstr *buf, int32_t a, int32_t b, vt_splits *out) {
    vt_status st = VT_OK;
    int32_t start = a;
    for (int32_t i = a; i < b && st == VT_OK;) {
        int adv;
        int32_t cp = vt_utf8_at(buf->s, b, i, &adv);
        uint8_t f = vt_uc_flags(cp);
        if (f & (VT_UC_WS | VT_UC_PUNCT)) {
            st = vt_splits_push(out, start, i, -1);
            if (st == VT_OK && (f & VT_UC_PUNCT) && !(f & VT_UC_WS)) st = vt_splits_push(out, i, i + adv, -1);
            start = i + adv;
        }
        i += adv;
    }
    return st == VT_OK ? vt_splits_push(out, start, b, -1) : st;
}

/* One text piece [a, b) of buf, cut by a step that does not rewrite text. */
static vt_status cut_piece(const vt_pre_step *p, const vt_nstr *buf, int32_t a, int32_t b, vt_matches *m,
                           vt_splits *out) {
    m->n = 0;
    vt_status st;
    switch (p->kind) {
    case VT_PRE_BERT: return bert_pieces(buf, a, b, out);
    case VT_PRE_WHITESPACE: return whitespace_pieces(buf, a, b, out);
    case VT_PRE_WHITESPACE_SPLIT:
        st = pred_matches(buf, a, b, pred_ws, p, m);
        return st == VT_OK ? apply_behavior(m, VT_SPLIT_REMOVED, out) : st;
    case VT_PRE_PUNCTUATION:
        st = pred_matches(buf, a, b, pred_punct, p, m);
        return st == VT_OK ? apply_behavior(m, p->behavior, out) : st;
    case VT_PRE_DIGITS:
        st = pred_matches(buf, a, b, pred_digit, p, m);
        return st == VT_OK ? apply_behavior(m, p->individual_digits ? VT_SPLIT_ISOLATED : VT_SPLIT_CONTIGUOUS, out)
                           : st;
    case VT_PRE_CHAR_DELIMITER:
        st = pred_matches(buf, a, b, pred_delim, p, m);
        return st == VT_OK ? apply_behavior(m, VT_SPLIT_REMOVED, out) : st;
    case VT_PRE_SPLIT:
        st = pattern_matches(buf, a, b, p->re, p->pattern, p->pattern_len, m);
        if (st != VT_OK) return st;
        if (p->invert)
            for (int32_t i = 0; i < m->n; i++) m->v[i].is_match = !m->v[i].is_match;
        return apply_behavior(m, p->behavior, out);
    default: return vt_error(VT_ERR_INVALID_ARG, "tokenizer: pre-tokenizer %d does not cut in place", p->kind);
    }
}

/* ---- the rewriting steps ---- */

/* ByteLevel on one piece: a space before it when asked, GPT-2's split, then
 * each byte as its stand-in character (each with its character's range). */
static vt_status byte_level_piece(const vt_pre_step *p, const vt_nstr *buf, int32_t a, int32_t b, vt_tok_work *w,
                                  vt_nstr *nb, vt_splits *out) {
    const vt_nstr *src = buf;
    vt_nstr *tmp = &w->seg[0];
    vt_status st;
    if (p->add_prefix_space && buf->s[a] != ' ') { /* prepend: the space takes the first character's range */
        tmp->len = 0;
        if ((st = vt_nstr_push(tmp, ' ', buf->os[a], buf->oe[a])) != VT_OK ||
            (st = vt_nstr_append_range(tmp, buf, a, b)) != VT_OK)
            return st;
        src = tmp;
        b = tmp->len;
        a = 0;
    }
    if ((st = vt_nstr_reserve(nb, (int64_t)(b - a) * 2)) != VT_OK) return st;
    for (int32_t i = a; i < b;) {
        int32_t j = p->use_regex ? vt_gpt2_next(src->s, b, i) : b;
        int32_t start = nb->len;
        for (int32_t k = i; k < j; k++) {
            int32_t c = vt_byte_level_char((unsigned char)src->s[k]);
            /* stand-ins are U+0021..U+0143: one or two bytes */
            char *o = nb->s + nb->len;
            int n = vt_utf8_encode(c, o);
            for (int q = 0; q < n; q++) nb->os[nb->len + q] = src->os[k], nb->oe[nb->len + q] = src->oe[k];
            nb->len += n;
        }
        if ((st = vt_splits_push(out, start, nb->len, -1)) != VT_OK) return st;
        i = j;
    }
    return VT_OK;
}

/* Metaspace on one piece: spaces become the replacement character, which is
 * put in front as the scheme says, then the piece is cut before each one. */
static vt_status metaspace_piece(const vt_pre_step *p, const vt_nstr *buf, int32_t a, int32_t b, vt_matches *m,
                                 vt_nstr *nb, vt_splits *out) {
    int adv;
    int32_t first = vt_utf8_at(buf->s, b, a, &adv);
    bool starts = first == ' ' || first == p->replacement;
    bool prepend = !starts && (p->prepend == VT_PREPEND_ALWAYS || (p->prepend == VT_PREPEND_FIRST && buf->os[a] == 0));
    int32_t start = nb->len;
    vt_status st = vt_nstr_reserve(nb, (int64_t)(b - a) * 3 + 4);
    if (st == VT_OK && prepend) st = vt_nstr_push(nb, p->replacement, buf->os[a], buf->oe[a]);
    for (int32_t i = a; i < b && st == VT_OK; i++) {
        if (buf->s[i] == ' ') {
            st = vt_nstr_push(nb, p->replacement, buf->os[i], buf->oe[i]);
        } else {
            nb->s[nb->len] = buf->s[i];
            nb->os[nb->len] = buf->os[i];
            nb->oe[nb->len] = buf->oe[i];
            nb->len++;
        }
    }
    if (st != VT_OK) return st;
    if (!p->split) return vt_splits_push(out, start, nb->len, -1);
    m->n = 0;
    if ((st = pred_matches(nb, start, nb->len, pred_replacement, p, m)) != VT_OK) return st;
    return apply_behavior(m, VT_SPLIT_MERGED_WITH_NEXT, out);
}

vt_status vt_pre_apply(const vt_pre_step *p, vt_tok_work *w) {
    const vt_nstr *buf = &w->buf[w->cur_buf];
    const vt_splits *in = &w->splits[w->cur_splits];
    vt_splits *out = &w->splits[!w->cur_splits];
    bool rewrites = p->kind == VT_PRE_BYTE_LEVEL || p->kind == VT_PRE_METASPACE;
    vt_nstr *nb = rewrites ? &w->buf[!w->cur_buf] : NULL;
    out->n = 0;
    if (nb) nb->len = 0;
    vt_status st = VT_OK;
    for (int32_t i = 0; i < in->n && st == VT_OK; i++) {
        vt_split s = in->v[i];
        if (s.id >= 0) { /* an added token passes through */
            if (!nb) {
                st = vt_splits_push(out, s.start, s.end, s.id);
            } else {
                int32_t at = nb->len;
                st = vt_nstr_append_range(nb, buf, s.start, s.end);
                if (st == VT_OK) st = vt_splits_push(out, at, nb->len, s.id);
            }
            continue;
        }
        if (p->kind == VT_PRE_BYTE_LEVEL) st = byte_level_piece(p, buf, s.start, s.end, w, nb, out);
        else if (p->kind == VT_PRE_METASPACE) st = metaspace_piece(p, buf, s.start, s.end, &w->matches, nb, out);
        else st = cut_piece(p, buf, s.start, s.end, &w->matches, out);
    }
    if (st != VT_OK) return st;
    w->cur_splits = !w->cur_splits;
    if (nb) w->cur_buf = !w->cur_buf;
    return VT_OK;
}
