/* Tags parsed once per label, and the two entity finders over them, shared
 * by src/ner's entity, scheme and metrics code. */
#ifndef VT_NER_INTERNAL_H
#define VT_NER_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "verto/ner.h"

/* Prefix letters as bits (seqeval's Prefix flags), for the strict patterns. */
enum {
    VT_PFX_I = 1, VT_PFX_O = 2, VT_PFX_B = 4, VT_PFX_E = 8, VT_PFX_S = 16, VT_PFX_U = 32, VT_PFX_L = 64,
    VT_PFX_ANY = 127,
};

/* One tag as an entity finder sees it. */
typedef struct vt_ner_tag {
    int prefix;       /* default mode: the first character when ASCII, else 0; strict: a VT_PFX_ bit */
    const char *type; /* bytes inside the tag string, or "_" */
    int32_t type_len;
} vt_ner_tag;

static inline bool vt_ner_same_type(const vt_ner_tag *a, const vt_ner_tag *b) {
    return a->type_len == b->type_len && !memcmp(a->type, b->type, (size_t)a->type_len);
}

/* The VT_PFX_ bit of an ASCII letter, 0 if it is none. */
int vt_ner_prefix_bit(int c);

/* The prefixes scheme s uses (O included); 0 for AUTO and NONE. */
int vt_ner_scheme_prefixes(vt_tag_scheme s);

/* seqeval's default-mode reading of a non-empty tag. */
void vt_ner_parse_default(const char *tag, vt_ner_tag *out);

/* seqeval.scheme.Token's reading of a tag under scheme s (IOB1 .. BILOU):
 * false, with the error set, when its first character is not a prefix letter
 * or s does not use that prefix. */
bool vt_ner_parse_strict(const char *tag, vt_tag_scheme s, vt_ner_tag *out);

/* Receives one entity: tags [start, end) of the sequence given, its type. */
typedef vt_status (*vt_ner_emit_fn)(void *ud, int64_t start, int64_t end, const vt_ner_tag *type);

/* The entities of tags[0..n) (parsed by vt_ner_parse_default), as seqeval's
 * get_entities, which reads the sequence followed by one "O". */
vt_status vt_ner_find_default(const vt_ner_tag *tags, int64_t n, vt_ner_emit_fn emit, void *ud);

/* The entities of tags[0..n) (parsed by vt_ner_parse_strict for s), as
 * seqeval's Tokens(...).entities. */
vt_status vt_ner_find_strict(const vt_ner_tag *tags, int64_t n, vt_tag_scheme s, vt_ner_emit_fn emit, void *ud);

#endif
