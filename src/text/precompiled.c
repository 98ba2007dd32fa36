/* SentencePiece's precompiled charsmap, read and applied as the
 * spm_precompiled crate and tokenizers' normalizers/precompiled.rs do.
 *
 * Layout (after base64): u32 LE trie size in bytes, that many / 4 u32 LE
 * units of a darts-clone double array, then the replacement strings (UTF-8,
 * each ended by NUL). A unit holds a label (bits 0-7, and bit 31 which no
 * byte matches), a has-leaf flag (bit 8) and an offset (bits 10-31, shifted
 * left 8 more when bit 9 is set); a leaf unit's low 31 bits index the
 * replacement strings. Every index the lookup can make is checked when the
 * charsmap is read, so applying it cannot go out of bounds. */
#include "text/precompiled.h"

#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>

#include "core/utf8.h"
#include "text/grapheme_tables.h"
#include "text/utf8.h"

struct vt_precompiled {
    uint32_t *units;
    uint32_t n_units;
    char *repl; /* the replacement strings, repl_len bytes (+ a NUL of ours) */
    uint32_t repl_len;
};

static inline uint32_t unit_label(uint32_t u) { return u & (0x80000000u | 0xFFu); }
static inline bool unit_has_leaf(uint32_t u) { return (u >> 8) & 1u; }
static inline uint32_t unit_value(uint32_t u) { return u & 0x7FFFFFFFu; }
static inline uint32_t unit_offset(uint32_t u) { return (u >> 10) << ((u & (1u << 9)) >> 6); }

/* ---- base64, as the base64 crate's STANDARD engine decodes it for
 * spm_precompiled: the standard alphabet, no whitespace, padding optional
 * but never more than the canonical amount, unused trailing bits zero. */

static int b64_value(unsigned char c) {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+') return 62;
    if (c == '/') return 63;
    return -1;
}

static vt_status b64_decode(const char *s, size_t len, unsigned char **out, size_t *out_len, const char *label) {
    size_t pad = 0;
    while (pad < len && s[len - 1 - pad] == '=') pad++;
    size_t n = len - pad, rem = n % 4;
    if (rem == 1) return vt_error(VT_ERR_FORMAT, "%s: precompiled_charsmap: base64 of invalid length", label);
    if (pad > (rem == 2 ? 2u : rem == 3 ? 1u : 0u))
        return vt_error(VT_ERR_FORMAT, "%s: precompiled_charsmap: invalid base64 padding", label);
    unsigned char *d = malloc(n / 4 * 3 + 3);
    if (!d) return vt_error(VT_ERR_NOMEM, "%s: out of memory decoding the charsmap", label);
    size_t k = 0;
    uint32_t acc = 0;
    for (size_t i = 0; i < n; i++) {
        int v = b64_value((unsigned char)s[i]);
        if (v < 0) {
            free(d);
            return vt_error(VT_ERR_FORMAT, "%s: precompiled_charsmap: invalid base64 at byte %zu", label, i);
        }
        acc = acc << 6 | (uint32_t)v;
        if (i % 4 == 3) {
            d[k++] = (unsigned char)(acc >> 16);
            d[k++] = (unsigned char)(acc >> 8);
            d[k++] = (unsigned char)acc;
            acc = 0;
        }
    }
    if ((rem == 2 && (acc & 0xF)) || (rem == 3 && (acc & 0x3))) {
        free(d);
        return vt_error(VT_ERR_FORMAT, "%s: precompiled_charsmap: base64 with nonzero trailing bits", label);
    }
    if (rem == 2) d[k++] = (unsigned char)(acc >> 4);
    if (rem == 3) {
        d[k++] = (unsigned char)(acc >> 10);
        d[k++] = (unsigned char)(acc >> 2);
    }
    *out = d;
    *out_len = k;
    return VT_OK;
}

/* ---- the double array ---- */

/* Checks every index a lookup can reach: from each node any byte 1..255
 * may follow, so a node's whole block of 256 units must exist, and each
 * leaf's value unit and its replacement string too. The nodes are the
 * distinct xor bases; each is visited once. */
static vt_status check_trie(const vt_precompiled *p, const char *label) {
    uint32_t n = p->n_units;
    if (n == 0) return vt_error(VT_ERR_FORMAT, "%s: precompiled_charsmap: the trie is empty", label);
    uint32_t *stack = malloc((size_t)n * sizeof(uint32_t));
    unsigned char *seen = calloc((size_t)n / 8 + 1, 1);
    vt_status st = VT_OK;
    if (!stack || !seen) {
        st = vt_error(VT_ERR_NOMEM, "%s: out of memory checking the charsmap", label);
        goto done;
    }
    uint32_t top = 0, root = unit_offset(p->units[0]);
    if ((root | 0xFFu) >= n) {
        st = vt_error(VT_ERR_FORMAT, "%s: precompiled_charsmap: trie offset out of range", label);
        goto done;
    }
    seen[root / 8] |= (unsigned char)(1u << (root % 8));
    stack[top++] = root;
    while (top > 0 && st == VT_OK) {
        uint32_t base = stack[--top];
        for (uint32_t c = 1; c < 256; c++) {
            uint32_t q = base ^ c, u = p->units[q];
            if (unit_label(u) != c) continue;
            uint32_t next = q ^ unit_offset(u);
            if ((next | 0xFFu) >= n) {
                st = vt_error(VT_ERR_FORMAT, "%s: precompiled_charsmap: trie offset out of range", label);
                break;
            }
            if (unit_has_leaf(u)) {
                uint32_t v = unit_value(p->units[next]);
                if (v > p->repl_len || (v < p->repl_len && ((unsigned char)p->repl[v] & 0xC0) == 0x80)) {
                    st = vt_error(VT_ERR_FORMAT, "%s: precompiled_charsmap: replacement offset %u out of range",
                                  label, v);
                    break;
                }
            }
            if (!(seen[next / 8] & (1u << (next % 8)))) {
                seen[next / 8] |= (unsigned char)(1u << (next % 8));
                stack[top++] = next;
            }
        }
    }
done:
    free(stack);
    free(seen);
    return st;
}

vt_precompiled *vt_precompiled_from_base64(const char *b64, size_t len, const char *label) {
    if (!label) label = "precompiled";
    if (!b64 && len) {
        vt_error(VT_ERR_INVALID_ARG, "%s: NULL charsmap", label);
        return NULL;
    }
    unsigned char *d = NULL;
    size_t n = 0;
    if (b64_decode(b64 ? b64 : "", len, &d, &n, label) != VT_OK) return NULL;
    vt_precompiled *p = calloc(1, sizeof *p);
    vt_status st = p ? VT_OK : vt_error(VT_ERR_NOMEM, "%s: out of memory", label);
    uint64_t units = 0;
    if (st == VT_OK && n < 4) st = vt_error(VT_ERR_FORMAT, "%s: precompiled_charsmap: shorter than its header", label);
    if (st == VT_OK) {
        units = ((uint32_t)d[0] | (uint32_t)d[1] << 8 | (uint32_t)d[2] << 16 | (uint32_t)d[3] << 24) / 4;
        if (4 + units * 4 > n)
            st = vt_error(VT_ERR_FORMAT, "%s: precompiled_charsmap: trie of %llu units beyond its %zu bytes", label,
                          (unsigned long long)units, n);
    }
    if (st == VT_OK) {
        size_t rlen = n - 4 - (size_t)units * 4;
        p->n_units = (uint32_t)units;
        p->repl_len = (uint32_t)rlen;
        p->units = malloc((size_t)(units ? units : 1) * sizeof(uint32_t));
        p->repl = malloc(rlen + 1);
        if (!p->units || !p->repl) st = vt_error(VT_ERR_NOMEM, "%s: out of memory", label);
    }
    if (st == VT_OK) {
        for (uint64_t i = 0; i < units; i++) {
            const unsigned char *u = d + 4 + i * 4;
            p->units[i] = (uint32_t)u[0] | (uint32_t)u[1] << 8 | (uint32_t)u[2] << 16 | (uint32_t)u[3] << 24;
        }
        memcpy(p->repl, d + 4 + units * 4, p->repl_len);
        p->repl[p->repl_len] = '\0';
        if (!vt_utf8_valid(p->repl, p->repl_len))
            st = vt_error(VT_ERR_FORMAT, "%s: precompiled_charsmap: replacement text is not UTF-8", label);
    }
    if (st == VT_OK) st = check_trie(p, label);
    free(d);
    if (st != VT_OK) {
        vt_precompiled_free(p);
        return NULL;
    }
    return p;
}

void vt_precompiled_free(vt_precompiled *p) {
    if (!p) return;
    free(p->units);
    free(p->repl);
    free(p);
}

/* The replacement of s[0..n) (Precompiled::transform): the first leaf on
 * the path spelled by s, i.e. the SHORTEST matching prefix, replaces all
 * of s. A NUL byte ends the search. 1 with *r, *rlen when found, else 0. */
static int transform(const vt_precompiled *p, const char *s, int32_t n, const char **r, int32_t *rlen) {
    uint32_t pos = unit_offset(p->units[0]);
    for (int32_t k = 0; k < n; k++) {
        uint32_t c = (unsigned char)s[k];
        if (c == 0) break;
        pos ^= c; /* in range: check_trie */
        uint32_t u = p->units[pos];
        if (unit_label(u) != c) return 0;
        pos ^= unit_offset(u);
        if (unit_has_leaf(u)) {
            uint32_t v = unit_value(p->units[pos]);
            *r = p->repl + v;
            *rlen = (int32_t)strlen(p->repl + v); /* repl ends with our NUL */
            return 1;
        }
    }
    return 0;
}

/* precompiled.rs replace(): the new characters replace the old one for
 * one (change 0); more new than old: the last extra ones are additions (1);
 * fewer: the last change of the list so far (which may belong to the
 * previous grapheme, and is lost when the list is still empty) absorbs the
 * removals. `first` is where this call's list starts in l. */
static vt_status replace(vt_nchanges *l, int32_t first, int32_t old_count, const char *r, int32_t rlen) {
    int32_t new_count = 0;
    for (int32_t i = 0; i < rlen;) {
        int adv;
        int32_t cp = vt_utf8_decode((const unsigned char *)r + i, (size_t)(rlen - i), &adv);
        vt_status st = vt_nchanges_push(l, cp, 0);
        if (st != VT_OK) return st;
        new_count++;
        i += adv;
    }
    int32_t diff = new_count - old_count;
    if (diff > 0)
        for (int32_t k = l->n - diff; k < l->n; k++) l->c[k].change = 1;
    else if (diff < 0 && l->n > first)
        l->c[l->n - 1].change += diff;
    return VT_OK;
}

static int32_t count_chars(const char *s, int32_t n) {
    int32_t k = 0;
    for (int32_t i = 0; i < n; i++) k += ((unsigned char)s[i] & 0xC0) != 0x80;
    return k;
}

/* One grapheme s[0..n): whole when under 6 bytes and the trie knows a
 * prefix of it, else character by character. */
static vt_status grapheme(const vt_precompiled *p, const char *s, int32_t n, vt_nchanges *l, int32_t first,
                          bool *modified) {
    const char *r;
    int32_t rlen;
    if (n < 6 && transform(p, s, n, &r, &rlen)) {
        *modified = true;
        return replace(l, first, count_chars(s, n), r, rlen);
    }
    for (int32_t i = 0; i < n;) {
        int adv;
        int32_t cp = vt_utf8_decode((const unsigned char *)s + i, (size_t)(n - i), &adv);
        vt_status st;
        if (transform(p, s + i, adv, &r, &rlen)) {
            *modified = true;
            st = replace(l, first, 1, r, rlen);
        } else {
            st = vt_nchanges_push(l, cp, 0);
        }
        if (st != VT_OK) return st;
        i += adv;
    }
    return VT_OK;
}

static bool in_sorted(const int32_t *a, size_t n, int32_t cp) {
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (a[mid] == cp) return true;
        if (a[mid] < cp) lo = mid + 1;
        else hi = mid;
    }
    return false;
}

/* cp as utf8proc should see it for tokenizers' grapheme rules: a stand-in of
 * the right class where tokenizers' newer Unicode data differs from
 * utf8proc's (grapheme_tables.c). */
static int32_t grapheme_cp(int32_t cp) {
    if (cp < 0x897) return cp;
    if (in_sorted(vt_gr_join, vt_gr_join_len, cp)) return 0x300;  /* an Extend character */
    if (in_sorted(vt_gr_nojoin, vt_gr_nojoin_len, cp)) return 'A'; /* one of class Other */
    return cp;
}

vt_status vt_precompiled_changes(const vt_precompiled *p, const char *s, int32_t len, vt_nchanges *out,
                                 bool *modified) {
    *modified = false;
    if (!p || (!s && len > 0)) return vt_error(VT_ERR_INVALID_ARG, "precompiled: NULL argument");
    const unsigned char *u = (const unsigned char *)s;
    int32_t first = out->n;
    /* extended grapheme clusters, as unicode-segmentation's graphemes(true) */
    for (int32_t i = 0; i < len;) {
        int32_t g = i;
        int adv;
        utf8proc_int32_t state = 0; /* UTF8PROC_BOUNDCLASS_START: a fresh cluster */
        int32_t prev = grapheme_cp(vt_utf8_decode(u + i, (size_t)(len - i), &adv));
        i += adv;
        while (i < len) {
            int32_t cp = grapheme_cp(vt_utf8_decode(u + i, (size_t)(len - i), &adv));
            if (utf8proc_grapheme_break_stateful(prev, cp, &state)) break;
            prev = cp;
            i += adv;
        }
        vt_status st = grapheme(p, s + g, i - g, out, first, modified);
        if (st != VT_OK) return st;
    }
    return VT_OK;
}
