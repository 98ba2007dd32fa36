/* Entities of tag sequences, as seqeval 1.2.2 finds them: get_entities (the
 * default, conlleval-compatible mode) and seqeval.scheme's Tokens (strict
 * mode, by each scheme's prefix patterns). */
#include <stdlib.h>

#include "core/utf8.h"
#include "ner/ner_internal.h"

static const char NO_TYPE[] = "_"; /* seqeval's type of a tag without one */

/* ---- reading tags -------------------------------------------------------- */

void vt_ner_parse_default(const char *tag, vt_ner_tag *out) {
    /* tag[0] is one Python character: the prefix; the type is what follows
     * its first '-' (chunk[1:].split('-', maxsplit=1)[-1]) */
    unsigned char c = (unsigned char)tag[0];
    size_t skip = 1;
    while (c >= 0x80 && tag[skip] && ((unsigned char)tag[skip] & 0xC0) == 0x80) skip++;
    out->prefix = c < 0x80 ? c : 0;
    const char *rest = tag + skip, *dash = strchr(rest, '-');
    out->type = dash ? dash + 1 : rest;
    out->type_len = (int32_t)strlen(out->type);
    if (!out->type_len) out->type = NO_TYPE, out->type_len = 1;
}

bool vt_ner_parse_strict(const char *tag, vt_tag_scheme s, vt_ner_tag *out) {
    char shown[64];
    int bit = vt_ner_prefix_bit((unsigned char)tag[0]);
    if (!bit) {
        vt_error(VT_ERR_INVALID_ARG, "tag '%s': its first character is not a prefix (I O B E S U L)",
                 vt_utf8_printable(tag, shown, sizeof shown));
        return false;
    }
    if (!(bit & vt_ner_scheme_prefixes(s))) {
        vt_error(VT_ERR_INVALID_ARG, "tag '%s' is not a tag of scheme %s", vt_utf8_printable(tag, shown, sizeof shown),
                 vt_tag_scheme_name(s));
        return false;
    }
    /* token[1:].strip('-') or '_' */
    const char *a = tag + 1, *e = a + strlen(a);
    while (a < e && *a == '-') a++;
    while (e > a && e[-1] == '-') e--;
    out->prefix = bit;
    out->type = a < e ? a : NO_TYPE;
    out->type_len = a < e ? (int32_t)(e - a) : 1;
    return true;
}

/* ---- default mode ------------------------------------------------------- */

/* seqeval's end_of_chunk / start_of_chunk, between the previous tag and this one. */
static bool chunk_ends(int prev, int cur, bool type_changes) {
    if (prev == 'E' || prev == 'S') return true;
    if ((prev == 'B' || prev == 'I') && (cur == 'B' || cur == 'S' || cur == 'O')) return true;
    return prev != 'O' && prev != '.' && type_changes;
}

static bool chunk_starts(int prev, int cur, bool type_changes) {
    if (cur == 'B' || cur == 'S') return true;
    if ((prev == 'E' || prev == 'S' || prev == 'O') && (cur == 'E' || cur == 'I')) return true;
    return cur != 'O' && cur != '.' && type_changes;
}

vt_status vt_ner_find_default(const vt_ner_tag *tags, int64_t n, vt_ner_emit_fn emit, void *ud) {
    static const vt_ner_tag OUTSIDE = {'O', NO_TYPE, 1};
    vt_ner_tag prev = {'O', "", 0}; /* prev_type starts as '' (unlike any tag's) */
    int64_t begin = 0;
    for (int64_t i = 0; i <= n; i++) {
        const vt_ner_tag *cur = i < n ? &tags[i] : &OUTSIDE;
        bool changes = !vt_ner_same_type(&prev, cur);
        if (chunk_ends(prev.prefix, cur->prefix, changes)) {
            vt_status st = emit(ud, begin, i, &prev);
            if (st != VT_OK) return st;
        }
        if (chunk_starts(prev.prefix, cur->prefix, changes)) begin = i;
        prev = *cur;
    }
    return VT_OK;
}

/* ---- strict mode ------------------------------------------------------- */

enum { SAME = 1, DIFF = 2, ANY_TAG = 3 };

typedef struct pattern {
    int prev, cur, tag; /* prefix masks of the previous and the current token, tag condition */
} pattern;

typedef struct scheme_patterns {
    pattern start[6], inside[4], end[6]; /* unused entries are zero (never match) */
} scheme_patterns;

enum { I = VT_PFX_I, O = VT_PFX_O, B = VT_PFX_B, E = VT_PFX_E, S = VT_PFX_S, U = VT_PFX_U, L = VT_PFX_L,
       ANY = VT_PFX_ANY };

/* seqeval.scheme's classes, pattern for pattern */
static const scheme_patterns IOB1 = {
    .start = {{O, I, ANY_TAG}, {I, I, DIFF}, {B, I, ANY_TAG}, {I, B, SAME}, {B, B, SAME}},
    .inside = {{B, I, SAME}, {I, I, SAME}},
    .end = {{I, I, DIFF}, {I, O, ANY_TAG}, {I, B, ANY_TAG}, {B, O, ANY_TAG}, {B, I, DIFF}, {B, B, SAME}},
};
static const scheme_patterns IOE1 = {
    .start = {{O, I, ANY_TAG}, {I, I, DIFF}, {E, I, ANY_TAG}, {E, E, SAME}},
    .inside = {{I, I, SAME}, {I, E, SAME}},
    .end = {{I, I, DIFF}, {I, O, ANY_TAG}, {I, E, DIFF}, {E, I, SAME}, {E, E, SAME}},
};
static const scheme_patterns IOB2 = {
    .start = {{ANY, B, ANY_TAG}},
    .inside = {{B, I, SAME}, {I, I, SAME}},
    .end = {{I, O, ANY_TAG}, {I, I, DIFF}, {I, B, ANY_TAG}, {B, O, ANY_TAG}, {B, I, DIFF}, {B, B, ANY_TAG}},
};
static const scheme_patterns IOE2 = {
    .start = {{O, I, ANY_TAG}, {O, E, ANY_TAG}, {E, I, ANY_TAG}, {E, E, ANY_TAG}, {I, I, DIFF}, {I, E, DIFF}},
    .inside = {{I, E, SAME}, {I, I, SAME}},
    .end = {{E, ANY, ANY_TAG}},
};
static const scheme_patterns IOBES = {
    .start = {{ANY, B, ANY_TAG}, {ANY, S, ANY_TAG}},
    .inside = {{B, I, SAME}, {B, E, SAME}, {I, I, SAME}, {I, E, SAME}},
    .end = {{S, ANY, ANY_TAG}, {E, ANY, ANY_TAG}},
};
static const scheme_patterns BILOU = {
    .start = {{ANY, B, ANY_TAG}, {ANY, U, ANY_TAG}},
    .inside = {{B, I, SAME}, {B, L, SAME}, {I, I, SAME}, {I, L, SAME}},
    .end = {{U, ANY, ANY_TAG}, {L, ANY, ANY_TAG}},
};

static const scheme_patterns *patterns_of(vt_tag_scheme s) {
    switch (s) {
    case VT_SCHEME_IOB1: return &IOB1;
    case VT_SCHEME_IOB2: return &IOB2;
    case VT_SCHEME_IOE1: return &IOE1;
    case VT_SCHEME_IOE2: return &IOE2;
    case VT_SCHEME_IOBES: return &IOBES;
    case VT_SCHEME_BILOU: return &BILOU;
    case VT_SCHEME_AUTO:
    case VT_SCHEME_NONE: break;
    }
    return NULL;
}

/* Token.check_patterns(prev, patterns) for the token cur. */
static bool matches(const pattern *p, int np, const vt_ner_tag *prev, const vt_ner_tag *cur) {
    int cond = vt_ner_same_type(prev, cur) ? SAME : DIFF;
    for (int k = 0; k < np; k++)
        if ((p[k].prev & prev->prefix) && (p[k].cur & cur->prefix) && (p[k].tag & cond)) return true;
    return false;
}

#define N_OF(a) ((int)(sizeof(a) / sizeof *(a)))

vt_status vt_ner_find_strict(const vt_ner_tag *tags, int64_t n, vt_tag_scheme s, vt_ner_emit_fn emit, void *ud) {
    const scheme_patterns *sp = patterns_of(s);
    if (!sp) return vt_error(VT_ERR_INVALID_ARG, "strict entities need a scheme (IOB1 .. BILOU), not %s",
                             vt_tag_scheme_name(s));
    static const vt_ner_tag OUTSIDE = {O, NO_TYPE, 1};
    /* the extended sequence: the tags, then one outside token (also standing before the first) */
#define EXT(k) ((k) >= 0 && (k) < n ? &tags[k] : &OUTSIDE)
    for (int64_t i = 0; i <= n;) {
        const vt_ner_tag *tok = EXT(i);
        if (!matches(sp->start, N_OF(sp->start), EXT(i - 1), tok)) {
            i++;
            continue;
        }
        int64_t end = i + 1; /* _forward: the first token not inside */
        /* (the outside token is never inside, so this stops at n at the latest) */
        while (end <= n && matches(sp->inside, N_OF(sp->inside), EXT(end - 1), EXT(end))) end++;
        if (matches(sp->end, N_OF(sp->end), EXT(end - 1), EXT(end))) {
            vt_status st = emit(ud, i, end, tok);
            if (st != VT_OK) return st;
        }
        i = end;
    }
#undef EXT
    return VT_OK;
}

/* ---- the public finder -------------------------------------------------- */

typedef struct collect {
    vt_ner_entity *v;
    size_t n, cap;
} collect;

static vt_status collect_one(void *ud, int64_t start, int64_t end, const vt_ner_tag *type) {
    collect *c = ud;
    if (c->n == c->cap) {
        size_t cap = c->cap ? 2 * c->cap : 16;
        vt_ner_entity *v = realloc(c->v, cap * sizeof *v);
        if (!v) return vt_error(VT_ERR_NOMEM, "out of memory for entities");
        c->v = v;
        c->cap = cap;
    }
    c->v[c->n++] = (vt_ner_entity){(int32_t)start, (int32_t)end, type->type, type->type_len};
    return VT_OK;
}

vt_status vt_ner_entities(const char *const *tags, size_t n, vt_ner_mode mode, vt_tag_scheme scheme,
                          vt_ner_entity **out, size_t *n_out) {
    if (!out || !n_out || (n && !tags)) return vt_error(VT_ERR_INVALID_ARG, "vt_ner_entities: NULL argument");
    *out = NULL;
    *n_out = 0;
    if (n >= INT32_MAX) return vt_error(VT_ERR_INVALID_ARG, "vt_ner_entities: more than %d tags", INT32_MAX - 1);
    if (mode == VT_NER_STRICT && !patterns_of(scheme))
        return vt_error(VT_ERR_INVALID_ARG, "strict entities need a scheme (IOB1 .. BILOU), not %s",
                        vt_tag_scheme_name(scheme));
    vt_ner_tag *parsed = malloc((n ? n : 1) * sizeof *parsed);
    if (!parsed) return vt_error(VT_ERR_NOMEM, "out of memory for %zu tags", n);
    vt_status st = VT_OK;
    for (size_t i = 0; i < n && st == VT_OK; i++) {
        if (!tags[i] || !tags[i][0]) st = vt_error(VT_ERR_INVALID_ARG, "tag %zu is %s", i, tags[i] ? "empty" : "NULL");
        else if (mode == VT_NER_DEFAULT) vt_ner_parse_default(tags[i], &parsed[i]);
        else if (!vt_ner_parse_strict(tags[i], scheme, &parsed[i])) st = vt_last_status();
    }
    collect c = {0};
    if (st == VT_OK)
        st = mode == VT_NER_DEFAULT ? vt_ner_find_default(parsed, (int64_t)n, collect_one, &c)
                                    : vt_ner_find_strict(parsed, (int64_t)n, scheme, collect_one, &c);
    free(parsed);
    if (st != VT_OK) {
        free(c.v);
        return st;
    }
    *out = c.v;
    *n_out = c.n;
    return VT_OK;
}
