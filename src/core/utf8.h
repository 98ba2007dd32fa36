/* UTF-8 well-formedness, the one check every reader of outside text uses. */
#ifndef VT_CORE_UTF8_H
#define VT_CORE_UTF8_H

#include <stdbool.h>
#include <stddef.h>

/* Offset of the first byte of s[0..n) that does not begin a well-formed
 * UTF-8 sequence (shortest forms only, no surrogates, nothing above
 * U+10FFFF: what Rust's str::from_utf8 accepts), or n if all of it is
 * well-formed. NUL bytes are well-formed here; callers that refuse them say so. */
size_t vt_utf8_invalid_at(const char *s, size_t n);

static inline bool vt_utf8_valid(const char *s, size_t n) { return vt_utf8_invalid_at(s, n) == n; }

/* Copies `s` into buf (size >= 8) for use in an error message: at most
 * size-1 bytes, control characters (and every non-ASCII byte if `s` is not
 * UTF-8) shown as '?', "..." when cut. */
const char *vt_utf8_printable(const char *s, char *buf, size_t size);

#endif
