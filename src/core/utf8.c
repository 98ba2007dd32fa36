/* UTF-8 well-formedness (see core/utf8.h). */
#include <stdbool.h>
#include <string.h>

#include "core/utf8.h"

size_t vt_utf8_invalid_at(const char *str, size_t n) {
    const unsigned char *s = (const unsigned char *)str;
    size_t i = 0;
    while (i < n) {
        unsigned c = s[i];
        if (c < 0x80) {
            i++;
            continue;
        }
        size_t len;
        unsigned lo = 0x80, hi = 0xBF; /* the second byte's range */
        if (c >= 0xC2 && c <= 0xDF) {
            len = 2;
        } else if (c >= 0xE0 && c <= 0xEF) {
            len = 3;
            if (c == 0xE0) lo = 0xA0; /* no overlong forms */
            if (c == 0xED) hi = 0x9F; /* no surrogates */
        } else if (c >= 0xF0 && c <= 0xF4) {
            len = 4;
            if (c == 0xF0) lo = 0x90; /* no overlong forms */
            if (c == 0xF4) hi = 0x8F; /* nothing above U+10FFFF */
        } else {
            return i; /* a continuation byte, C0, C1 or F5..FF */
        }
        if (n - i < len || s[i + 1] < lo || s[i + 1] > hi) return i;
        for (size_t k = 2; k < len; k++)
            if (s[i + k] < 0x80 || s[i + k] > 0xBF) return i;
        i += len;
    }
    return n;
}

const char *vt_utf8_printable(const char *s, char *buf, size_t size) {
    size_t n = strlen(s), keep = n < size ? n : size - 4;
    while (keep < n && keep > 0 && ((unsigned char)s[keep] & 0xC0) == 0x80) keep--; /* whole characters */
    bool utf8 = vt_utf8_valid(s, keep);
    for (size_t i = 0; i < keep; i++) {
        unsigned char c = (unsigned char)s[i];
        buf[i] = (c < 0x20 || c == 0x7F || (c >= 0x80 && !utf8)) ? '?' : (char)c;
    }
    if (keep < n) memcpy(buf + keep, "...", 4);
    else buf[keep] = '\0';
    return buf;
}
