#define PCRE2_CODE_UNIT_WIDTH 8
#include "text/regex.h"

#include <pcre2.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "core/strbuf.h"

struct vt_regex {
    pcre2_code *code;
};

/* Oniguruma's Unicode classes, where PCRE2's differ (its \s holds U+180E,
 * its \w all numbers but no marks): \s is White_Space; \w Alphabetic,
 * marks, decimal digits, connector punctuation and joiners; \d Nd; \h a hex
 * digit. `inside` spells the class's members within [...] (NULL: a negated
 * class there, which PCRE2 cannot nest). */
typedef struct class_map {
    char esc;
    const char *outside, *inside; /* inside NULL: not allowed in a character class */
} class_map;

#define WORD "\\p{Alphabetic}\\p{M}\\p{Nd}\\p{Pc}\\p{Join_Control}"
static const class_map CLASSES[] = {
    {'s', "\\p{White_Space}", "\\p{White_Space}"}, {'S', "\\P{White_Space}", "\\P{White_Space}"},
    {'d', "\\p{Nd}", "\\p{Nd}"},                   {'D', "\\P{Nd}", "\\P{Nd}"},
    {'w', "[" WORD "]", WORD},                        {'W', "[^" WORD "]", NULL},
    {'h', "[0-9a-fA-F]", "0-9a-fA-F"},                {'H', "[^0-9a-fA-F]", NULL},
};

/* pattern with Oniguruma's classes spelled for PCRE2 (malloc'd, *out_len bytes); NULL with the error set. */
static char *translate(const char *pattern, size_t len, const char *label, size_t *out_len) {
    vt_sb out = {0};
    bool in_class = false;
    for (size_t i = 0; i < len; i++) {
        char c = pattern[i];
        const class_map *m = NULL;
        for (size_t k = 0; c == '\\' && i + 1 < len && k < sizeof CLASSES / sizeof *CLASSES; k++)
            if (CLASSES[k].esc == pattern[i + 1]) m = &CLASSES[k];
        if (m) {
            const char *put = in_class ? m->inside : m->outside;
            if (!put) {
                vt_sb_free(&out);
                return vt_error(VT_ERR_UNSUPPORTED, "%s: regex \"%.*s\": \\%c inside [...] is not supported", label,
                                (int)(len > 200 ? 200 : len), pattern, m->esc), NULL;
            }
            vt_sb_str(&out, put);
            i++;
            continue;
        }
        size_t run = c == '\\' && i + 1 < len ? 2 : 1; /* any other escape: both characters as they are */
        if (c == '[' && !in_class) { /* a leading ^, then a leading ], belong to the bracket */
            in_class = true;
            if (i + run < len && pattern[i + run] == '^') run++;
            if (i + run < len && pattern[i + run] == ']') run++;
        } else if (c == ']' && in_class) {
            in_class = false;
        }
        vt_sb_add(&out, pattern + i, run);
        i += run - 1;
    }
    char *text = vt_sb_take(&out, out_len);
    if (!text) vt_error(VT_ERR_NOMEM, "%s: out of memory", label);
    return text;
}

vt_regex *vt_regex_new(const char *pattern, size_t len, const char *label) {
    size_t plen;
    char *p = translate(pattern, len, label, &plen);
    if (!p) return NULL;
    int err;
    PCRE2_SIZE at;
    pcre2_code *code = pcre2_compile((PCRE2_SPTR)p, plen, PCRE2_UTF | PCRE2_UCP, &err, &at, NULL);
    free(p);
    if (!code) {
        PCRE2_UCHAR why[160];
        pcre2_get_error_message(err, why, sizeof why);
        vt_error(VT_ERR_UNSUPPORTED, "%s: regex \"%.*s\" is not supported: %s", label, (int)(len > 200 ? 200 : len),
                 pattern, (const char *)why);
        return NULL;
    }
    pcre2_jit_compile(code, PCRE2_JIT_COMPLETE); /* an interpreter fallback when JIT is unavailable */
    vt_regex *re = malloc(sizeof *re);
    if (!re) {
        pcre2_code_free(code);
        vt_error(VT_ERR_NOMEM, "%s: out of memory", label);
        return NULL;
    }
    re->code = code;
    return re;
}

void vt_regex_free(vt_regex *re) {
    if (!re) return;
    pcre2_code_free(re->code);
    free(re);
}

/* Bytes of the UTF-8 character at s[0]. */
static int32_t char_len(unsigned char b) { return b < 0x80 ? 1 : b < 0xE0 ? 2 : b < 0xF0 ? 3 : 4; }

vt_status vt_regex_each(const vt_regex *re, const char *s, int32_t len, vt_regex_match_fn fn, void *ud) {
    pcre2_match_data *md = pcre2_match_data_create(1, NULL);
    if (!md) return vt_error(VT_ERR_NOMEM, "tokenizer: out of memory matching a regex");
    vt_status st = VT_OK;
    int32_t pos = 0;
    while (pos <= len) {
        /* the text is valid UTF-8 (normalized text always is) */
        int rc = pcre2_match(re->code, (PCRE2_SPTR)s, (PCRE2_SIZE)len, (PCRE2_SIZE)pos, PCRE2_NO_UTF_CHECK, md, NULL);
        if (rc == PCRE2_ERROR_NOMATCH) break;
        if (rc < 0) {
            PCRE2_UCHAR why[160];
            pcre2_get_error_message(rc, why, sizeof why);
            st = vt_error(VT_ERR_INVALID_ARG, "tokenizer: regex match failed: %s", (const char *)why);
            break;
        }
        PCRE2_SIZE *ov = pcre2_get_ovector_pointer(md);
        int32_t ms = (int32_t)ov[0], me = (int32_t)ov[1];
        if ((st = fn(ud, ms, me)) != VT_OK) break;
        if (me > ms) pos = me;
        else if (me < len) pos = me + char_len((unsigned char)s[me]);
        else break;
    }
    pcre2_match_data_free(md);
    return st;
}

vt_status vt_pattern_each(const vt_regex *re, const char *lit, int32_t lit_len, const char *s, int32_t len,
                          vt_regex_match_fn fn, void *ud) {
    if (re) return vt_regex_each(re, s, len, fn, ud);
    vt_status st = VT_OK;
    for (int32_t i = 0; lit_len > 0 && i + lit_len <= len && st == VT_OK;) {
        const char *hit = memmem(s + i, (size_t)(len - i), lit, (size_t)lit_len);
        if (!hit) break;
        int32_t at = (int32_t)(hit - s);
        st = fn(ud, at, at + lit_len);
        i = at + lit_len;
    }
    return st;
}
