#include "text/byte_level.h"

#include "text/unicode.h"
#include "text/utf8.h"

/* Printable bytes stand for themselves; the others (0-32, 127-160, 173) for
 * U+0100 onwards in byte order. */
int32_t vt_byte_level_char(unsigned char b) {
    if ((b >= 33 && b <= 126) || (b >= 161 && b <= 172) || b >= 174) return b;
    if (b <= 32) return 256 + b;
    if (b <= 160) return 256 + 33 + (b - 127);
    return 256 + 67; /* 173 */
}

int vt_byte_level_byte(int32_t cp) {
    if ((cp >= 33 && cp <= 126) || (cp >= 161 && cp <= 172) || (cp >= 174 && cp <= 255)) return cp;
    if (cp >= 256 && cp <= 288) return cp - 256;
    if (cp >= 289 && cp <= 322) return cp - 289 + 127;
    if (cp == 323) return 173;
    return -1;
}

enum { CLS_L, CLS_N, CLS_S, CLS_OTHER };

static inline int cls_at(const char *s, int32_t len, int32_t i, int *adv) {
    unsigned char c = (unsigned char)s[i];
    int32_t cp;
    if (c < 0x80) {
        *adv = 1;
        cp = c;
    } else {
        cp = vt_utf8_decode((const unsigned char *)s + i, (size_t)(len - i), adv);
    }
    if (vt_uc_flags(cp) & VT_UC_WS) return CLS_S;
    uint8_t k = vt_uc_class(cp);
    return (k & VT_UCC_LETTER) ? CLS_L : (k & VT_UCC_NUMBER) ? CLS_N : CLS_OTHER;
}

/* The end of the run of class k from byte i. */
static int32_t run_end(const char *s, int32_t len, int32_t i, int k) {
    int adv;
    while (i < len && cls_at(s, len, i, &adv) == k) i += adv;
    return i;
}

int32_t vt_gpt2_next(const char *s, int32_t len, int32_t i) {
    if (s[i] == '\'' && i + 1 < len) { /* contractions, in the pattern's order */
        char a = s[i + 1], b = i + 2 < len ? s[i + 2] : 0;
        if (a == 's' || a == 't' || a == 'm' || a == 'd') return i + 2;
        if ((a == 'r' && b == 'e') || (a == 'v' && b == 'e') || (a == 'l' && b == 'l')) return i + 3;
    }
    int adv, adv2;
    int k = cls_at(s, len, i, &adv);
    if (s[i] == ' ' && i + 1 < len) { /* " ?" then letters, digits or other symbols */
        int k2 = cls_at(s, len, i + 1, &adv2);
        if (k2 != CLS_S) return run_end(s, len, i + 1, k2);
    }
    if (k != CLS_S) return run_end(s, len, i, k);
    /* whitespace: \s+(?!\S) leaves the last space to the word after it; a lone one is \s+ */
    int32_t end = i, last = i;
    while (end < len) {
        int a2;
        if (cls_at(s, len, end, &a2) != CLS_S) break;
        last = end;
        end += a2;
    }
    if (end < len && last > i) return last;
    return end;
}
