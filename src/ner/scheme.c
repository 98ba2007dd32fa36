/* Tag schemes: names, which tags each allows, and telling the scheme of a
 * label set (see verto/ner.h). */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/strbuf.h"
#include "ner/ner_internal.h"

static const struct {
    const char *name;
    vt_tag_scheme s;
} NAMES[] = {
    {"auto", VT_SCHEME_AUTO}, {"none", VT_SCHEME_NONE},   {"IOB1", VT_SCHEME_IOB1},   {"IOB2", VT_SCHEME_IOB2},
    {"IOE1", VT_SCHEME_IOE1}, {"IOE2", VT_SCHEME_IOE2},   {"IOBES", VT_SCHEME_IOBES}, {"BILOU", VT_SCHEME_BILOU},
    {"BIO", VT_SCHEME_IOB2},  {"BIOES", VT_SCHEME_IOBES},
};

const char *vt_tag_scheme_name(vt_tag_scheme s) {
    for (size_t i = 0; i < sizeof NAMES / sizeof *NAMES; i++)
        if (NAMES[i].s == s) return NAMES[i].name;
    return "?";
}

bool vt_tag_scheme_parse(const char *name, vt_tag_scheme *out) {
    for (size_t i = 0; name && i < sizeof NAMES / sizeof *NAMES; i++)
        if (!strcasecmp(name, NAMES[i].name)) {
            *out = NAMES[i].s;
            return true;
        }
    return false;
}

int vt_ner_prefix_bit(int c) {
    switch (c) {
    case 'I': return VT_PFX_I;
    case 'O': return VT_PFX_O;
    case 'B': return VT_PFX_B;
    case 'E': return VT_PFX_E;
    case 'S': return VT_PFX_S;
    case 'U': return VT_PFX_U;
    case 'L': return VT_PFX_L;
    }
    return 0;
}

int vt_ner_scheme_prefixes(vt_tag_scheme s) {
    switch (s) {
    case VT_SCHEME_IOB1:
    case VT_SCHEME_IOB2: return VT_PFX_O | VT_PFX_I | VT_PFX_B;
    case VT_SCHEME_IOE1:
    case VT_SCHEME_IOE2: return VT_PFX_O | VT_PFX_I | VT_PFX_E;
    case VT_SCHEME_IOBES: return VT_PFX_O | VT_PFX_I | VT_PFX_B | VT_PFX_E | VT_PFX_S;
    case VT_SCHEME_BILOU: return VT_PFX_O | VT_PFX_I | VT_PFX_B | VT_PFX_L | VT_PFX_U;
    case VT_SCHEME_AUTO:
    case VT_SCHEME_NONE: break;
    }
    return 0;
}

/* The prefix bit of an entity tag "P-TYPE" (P not O), VT_PFX_O for "O", 0 otherwise. */
static int tag_form(const char *tag) {
    if (!strcmp(tag, "O")) return VT_PFX_O;
    int bit = vt_ner_prefix_bit((unsigned char)tag[0]);
    return bit && bit != VT_PFX_O && tag[1] == '-' && tag[2] ? bit : 0;
}

bool vt_tag_valid(vt_tag_scheme s, const char *tag) {
    if (!tag || !*tag) return false;
    if (s == VT_SCHEME_NONE) return true;
    int bit = tag_form(tag);
    return s == VT_SCHEME_AUTO ? bit != 0 : (bit & vt_ner_scheme_prefixes(s)) != 0;
}

/* Whether the sequences read as IOB1 rather than IOB2 (at_start), or IOE1
 * rather than IOE2: an entity whose first (last) tag is I- is IOB1's (IOE1's)
 * mark, one whose first (last) tag is B- (E-) although no entity of its type
 * touches it is IOB2's (IOE2's). The more frequent wins, so that a few stray
 * I- in BIO data (annotation noise) do not make it IOB1, whose strict
 * entities would drop every B- entity after an O. */
static bool version_one(const char *const *labels, int n_labels, const int32_t *tags, const size_t *start,
                        size_t n_seq, bool at_start) {
    if (!tags || !start) return false;
    int edge_prefix = at_start ? VT_PFX_B : VT_PFX_E;
    int64_t i_marks = 0, edge_marks = 0;
    for (size_t s = 0; s < n_seq; s++)
        for (size_t k = start[s]; k < start[s + 1]; k++) {
            int32_t id = tags[k];
            if (id < 0 || id >= n_labels) continue;
            int form = tag_form(labels[id]);
            if (form != VT_PFX_I && form != edge_prefix) continue;
            bool edge = at_start ? k == start[s] : k + 1 == start[s + 1];
            int32_t nb = edge ? -1 : tags[at_start ? k - 1 : k + 1];
            const char *other = nb >= 0 && nb < n_labels ? labels[nb] : NULL;
            /* the neighbour continues the same entity type: I- or the edge prefix, same "-TYPE" */
            bool joined = other && (tag_form(other) & (VT_PFX_I | edge_prefix)) && !strcmp(other + 1, labels[id] + 1);
            if (joined) continue;
            if (form == VT_PFX_I) i_marks++;
            else edge_marks++;
        }
    return i_marks > edge_marks;
}

vt_status vt_tag_scheme_detect(const char *const *labels, int n_labels, const int32_t *tags, const size_t *start,
                               size_t n_seq, vt_tag_scheme *out) {
    if (!out || (n_labels > 0 && !labels) || n_labels < 0)
        return vt_error(VT_ERR_INVALID_ARG, "vt_tag_scheme_detect: bad arguments");
    int seen = 0;
    bool all_o = true;
    for (int i = 0; i < n_labels; i++) {
        if (!labels[i]) return vt_error(VT_ERR_INVALID_ARG, "vt_tag_scheme_detect: label %d is NULL", i);
        int bit = tag_form(labels[i]);
        seen |= bit;
        all_o = all_o && bit == VT_PFX_O;
    }
    int p = seen & ~VT_PFX_O;
    const int IB = VT_PFX_I | VT_PFX_B, IE = VT_PFX_I | VT_PFX_E;
    if (!p) *out = all_o && n_labels > 0 ? VT_SCHEME_IOB2 : VT_SCHEME_NONE;
    else if (!(p & ~IB))
        *out = version_one(labels, n_labels, tags, start, n_seq, true) ? VT_SCHEME_IOB1 : VT_SCHEME_IOB2;
    else if (!(p & ~IE))
        *out = version_one(labels, n_labels, tags, start, n_seq, false) ? VT_SCHEME_IOE1 : VT_SCHEME_IOE2;
    else if (!(p & ~(IB | VT_PFX_E | VT_PFX_S))) *out = VT_SCHEME_IOBES;
    else if (!(p & ~(IB | VT_PFX_L | VT_PFX_U))) *out = VT_SCHEME_BILOU;
    else {
        vt_sb b = {0};
        const char *letters = "IOBESUL";
        for (const char *c = letters; *c; c++)
            if (p & vt_ner_prefix_bit(*c)) vt_sb_printf(&b, "%s%c-", b.len ? ", " : "", *c);
        vt_status st = vt_error(VT_ERR_FORMAT, "the tags mix prefixes of different schemes (%s): IOB1/IOB2 use "
                                               "B- I-, IOE1/IOE2 I- E-, IOBES B- I- E- S-, BILOU B- I- L- U-",
                                b.buf ? b.buf : "");
        vt_sb_free(&b);
        return st;
    }
    return VT_OK;
}

const char *vt_ner_mode_name(vt_ner_mode m) { return m == VT_NER_STRICT ? "strict" : "default"; }

bool vt_ner_mode_parse(const char *name, vt_ner_mode *out) {
    if (!name) return false;
    if (!strcasecmp(name, "default") || !strcasecmp(name, "conlleval")) *out = VT_NER_DEFAULT;
    else if (!strcasecmp(name, "strict")) *out = VT_NER_STRICT;
    else return false;
    return true;
}
