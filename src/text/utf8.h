/* UTF-8 decoding with U+FFFD for invalid input, the way Python's
 * bytes.decode(errors="replace") and the Unicode standard's "maximal subpart"
 * practice do it: each maximal prefix of a well-formed sequence that cannot
 * be completed becomes one U+FFFD; any other bad byte is one U+FFFD. */
#ifndef VT_TEXT_UTF8_H
#define VT_TEXT_UTF8_H

#include <stddef.h>
#include <stdint.h>

#define VT_UTF8_REPLACEMENT 0xFFFD

/* Decodes the code point at s[0..n) (n >= 1); *adv receives the bytes used (1..4). */
static inline int32_t vt_utf8_decode(const unsigned char *s, size_t n, int *adv) {
    unsigned c = s[0];
    if (c < 0x80) {
        *adv = 1;
        return (int32_t)c;
    }
    int need;
    unsigned lo = 0x80, hi = 0xBF; /* allowed range of the second byte */
    int32_t cp;
    if (c >= 0xC2 && c <= 0xDF) { need = 1; cp = c & 0x1F; }
    else if (c >= 0xE0 && c <= 0xEF) {
        need = 2; cp = c & 0x0F;
        if (c == 0xE0) lo = 0xA0;      /* no overlongs */
        else if (c == 0xED) hi = 0x9F; /* no surrogates */
    } else if (c >= 0xF0 && c <= 0xF4) {
        need = 3; cp = c & 0x07;
        if (c == 0xF0) lo = 0x90;      /* no overlongs */
        else if (c == 0xF4) hi = 0x8F; /* nothing above U+10FFFF */
    } else {
        *adv = 1;
        return VT_UTF8_REPLACEMENT;
    }
    size_t i = 1;
    for (; i <= (size_t)need; i++) {
        if (i >= n) break;
        unsigned b = s[i];
        unsigned l = i == 1 ? lo : 0x80, h = i == 1 ? hi : 0xBF;
        if (b < l || b > h) break;
        cp = (cp << 6) | (int32_t)(b & 0x3F);
    }
    *adv = (int)i;
    return i == (size_t)need + 1 ? cp : VT_UTF8_REPLACEMENT;
}

/* The code point at s[i] of the len-byte text s; *adv its bytes. */
static inline int32_t vt_utf8_at(const char *s, int32_t len, int32_t i, int *adv) {
    return vt_utf8_decode((const unsigned char *)s + i, (size_t)(len - i), adv);
}

/* Writes cp (a valid scalar value) to out; returns the byte count (1..4). */
static inline int vt_utf8_encode(int32_t cp, char *out) {
    unsigned char *o = (unsigned char *)out;
    if (cp < 0x80) { o[0] = (unsigned char)cp; return 1; }
    if (cp < 0x800) { o[0] = (unsigned char)(0xC0 | (cp >> 6)); o[1] = (unsigned char)(0x80 | (cp & 0x3F)); return 2; }
    if (cp < 0x10000) {
        o[0] = (unsigned char)(0xE0 | (cp >> 12)); o[1] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
        o[2] = (unsigned char)(0x80 | (cp & 0x3F));
        return 3;
    }
    o[0] = (unsigned char)(0xF0 | (cp >> 18)); o[1] = (unsigned char)(0x80 | ((cp >> 12) & 0x3F));
    o[2] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F)); o[3] = (unsigned char)(0x80 | (cp & 0x3F));
    return 4;
}

#endif
