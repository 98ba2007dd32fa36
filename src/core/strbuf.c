/* A growable string (see core/strbuf.h). */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/strbuf.h"

static bool reserve(vt_sb *b, size_t extra) {
    if (b->failed) return false;
    if (b->len + extra + 1 <= b->cap) return true;
    size_t cap = b->cap ? b->cap : 256;
    while (cap < b->len + extra + 1) cap *= 2;
    char *p = realloc(b->buf, cap);
    if (!p) {
        b->failed = true;
        return false;
    }
    b->buf = p;
    b->cap = cap;
    return true;
}

void vt_sb_add(vt_sb *b, const char *s, size_t n) {
    if (!reserve(b, n)) return;
    memcpy(b->buf + b->len, s, n);
    b->len += n;
    b->buf[b->len] = '\0';
}

void vt_sb_str(vt_sb *b, const char *s) { vt_sb_add(b, s, strlen(s)); }

void vt_sb_printf(vt_sb *b, const char *fmt, ...) {
    char small[128];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(small, sizeof small, fmt, ap);
    va_end(ap);
    if (n < 0) return;
    if ((size_t)n < sizeof small) {
        vt_sb_add(b, small, (size_t)n);
        return;
    }
    if (!reserve(b, (size_t)n)) return;
    va_start(ap, fmt);
    vsnprintf(b->buf + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
}

void vt_sb_json_string(vt_sb *b, const char *s) {
    vt_sb_add(b, "\"", 1);
    const char *run = s;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p != '"' && *p != '\\' && *p >= 0x20) continue;
        vt_sb_add(b, run, (size_t)((const char *)p - run));
        if (*p == '"' || *p == '\\') {
            char e[2] = {'\\', (char)*p};
            vt_sb_add(b, e, 2);
        } else if (*p == '\n') vt_sb_add(b, "\\n", 2);
        else if (*p == '\t') vt_sb_add(b, "\\t", 2);
        else if (*p == '\r') vt_sb_add(b, "\\r", 2);
        else vt_sb_printf(b, "\\u%04x", *p);
        run = (const char *)p + 1;
    }
    vt_sb_str(b, run);
    vt_sb_add(b, "\"", 1);
}

char *vt_sb_take(vt_sb *b, size_t *len) {
    char *out = b->failed ? NULL : b->buf;
    if (!out && !b->failed) out = calloc(1, 1); /* nothing added: "" */
    if (b->failed) free(b->buf);
    if (len) *len = out ? b->len : 0;
    *b = (vt_sb){0};
    return out;
}

void vt_sb_free(vt_sb *b) {
    free(b->buf);
    *b = (vt_sb){0};
}

void vt_sb_float(vt_sb *b, float v) {
    char buf[48];
    for (int prec = 1; prec <= 9; prec++) {
        snprintf(buf, sizeof buf, "%.*g", prec, (double)v);
        if ((float)strtod(buf, NULL) == v) break;
    }
    if (!strpbrk(buf, ".eEn")) strncat(buf, ".0", sizeof buf - strlen(buf) - 1);
    vt_sb_str(b, buf);
}
