#include "text/unicode.h"

#include <pthread.h>
#include <stddef.h>
#include <utf8proc.h>

#include "text/unicode_tables.h"

uint8_t vt_uc_ascii[128];
static uint8_t bmp_flags[0x10000];
static uint8_t bmp_class[0x10000];
static pthread_once_t once = PTHREAD_ONCE_INIT;

static int in_ranges(const vt_uc_range *r, size_t n, int32_t cp) {
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (cp < r[mid].lo) hi = mid;
        else if (cp > r[mid].hi) lo = mid + 1;
        else return 1;
    }
    return 0;
}

static const vt_uc_map *find_map(const vt_uc_map *m, size_t n, int32_t cp) {
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (cp < m[mid].cp) hi = mid;
        else if (cp > m[mid].cp) lo = mid + 1;
        else return &m[mid];
    }
    return NULL;
}

static int is_white_space(int32_t c) {
    return (c >= 9 && c <= 13) || c == 0x20 || c == 0x85 || c == 0xA0 || c == 0x1680 ||
           (c >= 0x2000 && c <= 0x200A) || c == 0x2028 || c == 0x2029 || c == 0x202F || c == 0x205F ||
           c == 0x3000;
}

/* Note tokenizers' range 0x2B920 (not BERT's 0x2B820): copied as it is. */
static int is_cjk(int32_t c) {
    return (c >= 0x4E00 && c <= 0x9FFF) || (c >= 0x3400 && c <= 0x4DBF) || (c >= 0x20000 && c <= 0x2A6DF) ||
           (c >= 0x2A700 && c <= 0x2B73F) || (c >= 0x2B740 && c <= 0x2B81F) || (c >= 0x2B920 && c <= 0x2CEAF) ||
           (c >= 0xF900 && c <= 0xFAFF) || (c >= 0x2F800 && c <= 0x2FA1F);
}

int vt_uc_nfd(int32_t cp, int32_t out[4]) {
    const vt_uc_map *m = find_map(vt_uc_nfd_exc, vt_uc_nfd_exc_len, cp);
    if (m) {
        for (int i = 0; i < m->n; i++) out[i] = m->to[i];
        return m->n;
    }
    utf8proc_int32_t buf[8];
    int last = 0;
    utf8proc_ssize_t n = utf8proc_decompose_char(cp, buf, 8, UTF8PROC_DECOMPOSE, &last);
    if (n < 1 || n > 4) {
        out[0] = cp;
        return 1;
    }
    for (int i = 0; i < n; i++) out[i] = buf[i];
    return (int)n;
}

int vt_uc_lower(int32_t cp, int32_t out[3]) {
    const vt_uc_map *m = find_map(vt_uc_lower_exc, vt_uc_lower_exc_len, cp);
    if (m) {
        for (int i = 0; i < m->n; i++) out[i] = m->to[i];
        return m->n;
    }
    out[0] = utf8proc_tolower(cp);
    return 1;
}

int vt_uc_ccc(int32_t cp) {
    return (vt_uc_flags(cp) & VT_UC_NONSTARTER) ? utf8proc_get_property(cp)->combining_class : 0;
}

static uint8_t compute_flags(int32_t c) {
    uint8_t f = 0;
    if (c == 0 || c == 0xFFFD || in_ranges(vt_uc_other, vt_uc_other_len, c)) f |= VT_UC_DROP;
    if (is_white_space(c)) f |= VT_UC_WS;
    if (in_ranges(vt_uc_punct, vt_uc_punct_len, c)) f |= VT_UC_PUNCT;
    if (is_cjk(c)) f |= VT_UC_CJK;
    if (in_ranges(vt_uc_mn, vt_uc_mn_len, c)) f |= VT_UC_MN;
    if (in_ranges(vt_uc_nonstarter, vt_uc_nonstarter_len, c)) f |= VT_UC_NONSTARTER;
    int32_t d[4], l[3];
    if (c < 0xD800 || c > 0xDFFF) {
        int n = vt_uc_nfd(c, d);
        if (n != 1 || d[0] != c) f |= VT_UC_DECOMP;
        n = vt_uc_lower(c, l);
        if (n != 1 || l[0] != c) f |= VT_UC_LOWER;
    }
    return f;
}

static uint8_t compute_class(int32_t c) {
    utf8proc_category_t cat = utf8proc_category(c);
    uint8_t f = 0;
    if (cat >= UTF8PROC_CATEGORY_LU && cat <= UTF8PROC_CATEGORY_LO) f |= VT_UCC_LETTER;
    if (cat >= UTF8PROC_CATEGORY_ND && cat <= UTF8PROC_CATEGORY_NO) f |= VT_UCC_NUMBER;
    if (in_ranges(vt_uc_word, vt_uc_word_len, c)) f |= VT_UCC_WORD;
    if (in_ranges(vt_uc_mark, vt_uc_mark_len, c)) f |= VT_UCC_MARK;
    if (in_ranges(vt_uc_numeric, vt_uc_numeric_len, c)) f |= VT_UCC_NUMERIC;
    return f;
}

static void build(void) {
    for (int32_t c = 0; c < 0x10000; c++) bmp_flags[c] = compute_flags(c);
    for (int32_t c = 0; c < 0x10000; c++) bmp_class[c] = compute_class(c);
    for (int c = 0; c < 128; c++) vt_uc_ascii[c] = bmp_flags[c];
}

void vt_uc_init(void) { pthread_once(&once, build); }

uint8_t vt_uc_class(int32_t cp) {
    if (cp < 0x10000) return bmp_class[cp];
    return cp <= 0x10FFFF ? compute_class(cp) : 0;
}

uint8_t vt_uc_flags(int32_t cp) {
    if (cp < 0x10000) return bmp_flags[cp];
    return compute_flags(cp);
}
