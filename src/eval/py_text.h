/* Python's view of Unicode text, as far as the official SQuAD evaluation
 * scripts use it: str.lower() (full mappings and the Final_Sigma rule),
 * str.split()'s whitespace and re's \w. The tables come from Python itself
 * (src/eval/gen_py_text_tables.py); vt_py_unicode_version names its Unicode
 * version. Code points are int32_t; text is decoded with U+FFFD for invalid
 * UTF-8 (Python's errors="replace"). */
#ifndef VT_EVAL_PY_TEXT_H
#define VT_EVAL_PY_TEXT_H

#include <stddef.h>
#include <stdint.h>

#include "verto/error.h"

enum {
    VT_PY_WORD = 1,      /* re's \w: str.isalnum() or '_' */
    VT_PY_SPACE = 2,     /* str.isspace(): what str.split() splits on */
    VT_PY_CASED = 4,     /* cased and not case-ignorable (Final_Sigma) */
    VT_PY_IGNORABLE = 8, /* case-ignorable (Final_Sigma skips it) */
};

typedef struct vt_py_range {
    int32_t first, last; /* code points [first, last] */
    int32_t flags;       /* VT_PY_* */
} vt_py_range;

/* Code points first, first + step, ..., last lowercase to cp + diff. */
typedef struct vt_py_lower_range {
    int32_t first, last, step, diff;
} vt_py_lower_range;

extern const char vt_py_unicode_version[];
extern const vt_py_range vt_py_ranges[];     /* sorted, disjoint; code points not listed have no flag */
extern const int vt_py_n_ranges;
extern const vt_py_lower_range vt_py_lower_ranges[]; /* sorted, disjoint */
extern const int vt_py_n_lower_ranges;

/* VT_PY_* flags of a code point. */
int vt_py_flags(int32_t cp);

/* A growing array of code points. */
typedef struct vt_py_str {
    int32_t *cp;
    size_t n, cap;
} vt_py_str;

void vt_py_str_free(vt_py_str *s);
vt_status vt_py_str_push(vt_py_str *s, int32_t cp);

/* s[0..len) decoded into *out (replacing its contents). */
vt_status vt_py_decode(const char *s, size_t len, vt_py_str *out);

/* str.lower() of in into *out (replacing its contents): every code point's
 * full lowercase mapping, U+03A3 by the Final_Sigma rule read on `in`. */
vt_status vt_py_lower(const vt_py_str *in, vt_py_str *out);

/* Code points cp[0..n) as UTF-8 in a new NUL-terminated malloc'd string. */
vt_status vt_py_encode(const int32_t *cp, size_t n, char **out, size_t *out_len);

#endif
