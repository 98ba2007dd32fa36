/* Regular expressions of tokenizer.json (Split and Replace patterns, written
 * for Oniguruma) through PCRE2, in UTF-8 mode with Unicode properties, which
 * reads the same syntax for what tokenizers' files use (\p{L}, (?!...),
 * (?i:...), {m,n}); \s \w \d \h are respelled as Oniguruma defines them. */
#ifndef VT_TEXT_REGEX_H
#define VT_TEXT_REGEX_H

#include <stddef.h>
#include <stdint.h>

#include "verto/error.h"

typedef struct vt_regex vt_regex;

/* Compiles pattern[0..len). A pattern PCRE2 rejects: VT_ERR_UNSUPPORTED
 * naming `label`, the pattern and PCRE2's reason. NULL on failure. */
vt_regex *vt_regex_new(const char *pattern, size_t len, const char *label);
void vt_regex_free(vt_regex *re);

/* Calls fn(ud, start, end) for each match in s[0..len) from left to right,
 * as tokenizers' find_iter does (after an empty match the search moves on by
 * one character). A non-VT_OK return of fn stops and is returned. The
 * regex may be used by many threads at once. */
typedef vt_status (*vt_regex_match_fn)(void *ud, int32_t start, int32_t end);
vt_status vt_regex_each(const vt_regex *re, const char *s, int32_t len, vt_regex_match_fn fn, void *ud);

/* The same for a Split or Replace pattern: the regex re, or (re NULL) the
 * literal lit[0..lit_len), found leftmost and not overlapping as tokenizers
 * finds a String pattern. An empty literal matches nothing. */
vt_status vt_pattern_each(const vt_regex *re, const char *lit, int32_t lit_len, const char *s, int32_t len,
                          vt_regex_match_fn fn, void *ud);

#endif
