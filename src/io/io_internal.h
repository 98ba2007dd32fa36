/* Helpers shared by the safetensors reader and writer (not public). */
#ifndef VERTO_IO_INTERNAL_H
#define VERTO_IO_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* True if s[0..n) is well-formed UTF-8 (no overlong forms, no surrogates,
 * nothing above U+10FFFF), exactly as Rust's str::from_utf8 accepts. */
bool vt_io_utf8_valid(const unsigned char *s, size_t n);

/* One JSON number token, in document order. */
typedef struct vt_io_jnum {
    uint64_t value; /* exact value when is_uint */
    bool is_uint;   /* plain digits (no sign, fraction or exponent) fitting 64 bits */
} vt_io_jnum;

/* The lexical checks cJSON leaves out, run on the header text s[0..n):
 * only JSON whitespace between tokens, exact literals, the JSON number
 * grammar, no raw control characters or \u0000 in strings, valid escapes,
 * nesting at most 128 deep (serde_json's limit). Collects every number token
 * in document order into *nums (malloc'd, caller frees; may be NULL when
 * *n_nums is 0). Returns NULL if all is well, else a static description of the
 * first problem and its byte offset in *at. Structure is left to cJSON. */
const char *vt_io_json_scan(const char *s, size_t n, vt_io_jnum **nums, size_t *n_nums, size_t *at);

/* Copies `s` into buf (size >= 8) for use in an error message: at most
 * size-1 bytes, control characters (and every non-ASCII byte if `s` is not
 * UTF-8) shown as '?', "..." when cut. */
const char *vt_io_printable(const char *s, char *buf, size_t size);

#endif
