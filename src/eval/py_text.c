/* Python's str.lower(), whitespace and \w over code points (eval/py_text.h). */
#include "eval/py_text.h"

#include <stdlib.h>
#include <string.h>

#include "text/utf8.h"

int vt_py_flags(int32_t cp) {
    int lo = 0, hi = vt_py_n_ranges - 1;
    while (lo <= hi) {
        int mid = (lo + hi) / 2;
        if (cp < vt_py_ranges[mid].first) hi = mid - 1;
        else if (cp > vt_py_ranges[mid].last) lo = mid + 1;
        else return vt_py_ranges[mid].flags;
    }
    return 0;
}

/* The single-character lowercase of cp (cp itself when it has none). */
static int32_t lower_one(int32_t cp) {
    if (cp < 0x80) return cp >= 'A' && cp <= 'Z' ? cp + 32 : cp;
    int lo = 0, hi = vt_py_n_lower_ranges - 1;
    while (lo <= hi) {
        int mid = (lo + hi) / 2;
        const vt_py_lower_range *r = &vt_py_lower_ranges[mid];
        if (cp < r->first) hi = mid - 1;
        else if (cp > r->last) lo = mid + 1;
        else return (cp - r->first) % r->step == 0 ? cp + r->diff : cp;
    }
    return cp;
}

void vt_py_str_free(vt_py_str *s) {
    free(s->cp);
    memset(s, 0, sizeof *s);
}

vt_status vt_py_str_push(vt_py_str *s, int32_t cp) {
    if (s->n == s->cap) {
        size_t cap = s->cap ? 2 * s->cap : 64;
        int32_t *p = realloc(s->cp, cap * sizeof *p);
        if (!p) return vt_error(VT_ERR_NOMEM, "out of memory for %zu characters", cap);
        s->cp = p;
        s->cap = cap;
    }
    s->cp[s->n++] = cp;
    return VT_OK;
}

vt_status vt_py_decode(const char *s, size_t len, vt_py_str *out) {
    out->n = 0;
    for (size_t i = 0; i < len;) {
        int adv;
        int32_t cp = vt_utf8_decode((const unsigned char *)s + i, len - i, &adv);
        vt_status st = vt_py_str_push(out, cp);
        if (st != VT_OK) return st;
        i += (size_t)adv;
    }
    return VT_OK;
}

/* CPython's handle_capital_sigma: final form after a cased character (case-
 * ignorable ones skipped) unless a cased one follows (the same skipping). */
static int32_t capital_sigma(const vt_py_str *in, size_t i) {
    size_t j = i;
    int f = 0;
    while (j > 0 && ((f = vt_py_flags(in->cp[j - 1])) & VT_PY_IGNORABLE)) j--;
    if (j == 0 || !(f & VT_PY_CASED)) return 0x3C3;
    for (j = i + 1; j < in->n; j++) {
        f = vt_py_flags(in->cp[j]);
        if (!(f & VT_PY_IGNORABLE)) return f & VT_PY_CASED ? 0x3C3 : 0x3C2;
    }
    return 0x3C2;
}

vt_status vt_py_lower(const vt_py_str *in, vt_py_str *out) {
    out->n = 0;
    vt_status st = VT_OK;
    for (size_t i = 0; i < in->n && st == VT_OK; i++) {
        int32_t cp = in->cp[i];
        if (cp == 0x3A3) st = vt_py_str_push(out, capital_sigma(in, i));
        else if (cp == 0x130) { /* the one full mapping of two characters */
            st = vt_py_str_push(out, 'i');
            if (st == VT_OK) st = vt_py_str_push(out, 0x307);
        } else st = vt_py_str_push(out, lower_one(cp));
    }
    return st;
}

vt_status vt_py_encode(const int32_t *cp, size_t n, char **out, size_t *out_len) {
    char *s = malloc(4 * n + 1);
    if (!s) return vt_error(VT_ERR_NOMEM, "out of memory for %zu characters", n);
    size_t k = 0;
    for (size_t i = 0; i < n; i++) k += (size_t)vt_utf8_encode(cp[i], s + k);
    s[k] = '\0';
    *out = s;
    if (out_len) *out_len = k;
    return VT_OK;
}
