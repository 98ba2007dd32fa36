/* A normalized string: UTF-8 text that remembers, byte by byte, which range
 * of the original input it came from, as tokenizers' NormalizedString does
 * (its "alignments"). Normalizers and pre-tokenizers rewrite it; a token
 * covering normalized bytes [a, b) came from original bytes [os[a], oe[b-1]).
 *
 * Offsets are absolute byte offsets into the text the caller encodes, so
 * pieces of one input can share a buffer. */
#ifndef VT_TEXT_NSTR_H
#define VT_TEXT_NSTR_H

#include <stdint.h>

#include "verto/error.h"

typedef struct vt_nstr {
    char *s;          /* (len) normalized UTF-8, not NUL-terminated */
    int32_t *os, *oe; /* (len) original [start, end) of the character each byte belongs to */
    int32_t len, cap;
} vt_nstr;

void vt_nstr_free(vt_nstr *n);

/* Makes room for `more` bytes beyond len. */
vt_status vt_nstr_reserve(vt_nstr *n, int64_t more);

/* Appends code point cp (a Unicode scalar value) with original range [os, oe). */
vt_status vt_nstr_push(vt_nstr *n, int32_t cp, int32_t os, int32_t oe);

/* Appends bytes [from, to) of src with their alignments. */
vt_status vt_nstr_append_range(vt_nstr *n, const vt_nstr *src, int32_t from, int32_t to);

/* Appends text[0..len) as read from the input, `base` being its offset in the
 * input: each character keeps its bytes and range; each maximal invalid UTF-8
 * subsequence becomes U+FFFD spanning it (Python's errors="replace"). */
vt_status vt_nstr_append_text(vt_nstr *n, const char *text, int32_t len, int32_t base);

/* One character of a rewrite and how it relates to the characters it
 * replaces, as tokenizers' NormalizedString::transform takes them:
 * change 0 replaces the next original character, change 1 is a new
 * character (it takes the range of the byte before it), change -k replaces
 * the next character and removes the k after it. */
typedef struct vt_nchange {
    int32_t cp, change;
} vt_nchange;

/* A growable list of changes. */
typedef struct vt_nchanges {
    vt_nchange *c;
    int32_t n, cap;
} vt_nchanges;

vt_status vt_nchanges_push(vt_nchanges *l, int32_t cp, int32_t change);
void vt_nchanges_free(vt_nchanges *l);

/* Appends to `out` the rewrite of src's bytes [from, to) by changes c[0..n),
 * with the alignments tokenizers' transform gives: the first
 * `initial_removed` characters of the range are dropped first; a character
 * replacing one takes that one's range; a new character takes the range of
 * the byte before it in src (the range start at the very beginning). */
vt_status vt_nstr_transform(const vt_nstr *src, int32_t from, int32_t to, const vt_nchange *c, int32_t n,
                            int32_t initial_removed, vt_nstr *out);

#endif
