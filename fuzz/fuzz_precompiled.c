/* libFuzzer target: SentencePiece charsmaps from the input, and text through them.
 * Input: byte 0 picks the form: odd, the rest is the charsmap's base64 text
 * as tokenizer.json would hold it; even, byte 1 tells how many of the
 * following bytes (times 64) are the binary charsmap (base64-encoded here,
 * so the fuzzer shapes the double array itself) and the rest is text.
 * A charsmap that loads must normalize any text without reading outside it:
 * the changes go through vt_nstr_transform, whose result must be UTF-8 with
 * original ranges inside the text; invalid UTF-8 is fed too. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/utf8.h"
#include "text/nstr.h"
#include "text/precompiled.h"

#define CHECK(c) do { if (!(c)) __builtin_trap(); } while (0)

static char *b64_encode(const uint8_t *d, size_t n, size_t *out_len) {
    static const char A[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    char *o = malloc((n + 2) / 3 * 4 + 1), *p = o;
    for (size_t i = 0; i < n; i += 3) {
        uint32_t v = (uint32_t)d[i] << 16 | (i + 1 < n ? (uint32_t)d[i + 1] << 8 : 0) | (i + 2 < n ? d[i + 2] : 0);
        *p++ = A[v >> 18];
        *p++ = A[(v >> 12) & 63];
        *p++ = i + 1 < n ? A[(v >> 6) & 63] : '=';
        *p++ = i + 2 < n ? A[v & 63] : '=';
    }
    *out_len = (size_t)(p - o);
    return o;
}

static void normalize(const vt_precompiled *p, const char *text, size_t n) {
    vt_nchanges ch = {0};
    bool modified;
    /* raw bytes (maybe invalid UTF-8): only must not fail or crash */
    CHECK(vt_precompiled_changes(p, text, (int32_t)n, &ch, &modified) == VT_OK);
    vt_nstr src = {0}, dst = {0};
    CHECK(vt_nstr_append_text(&src, text, (int32_t)n, 0) == VT_OK);
    ch.n = 0;
    CHECK(vt_precompiled_changes(p, src.s, src.len, &ch, &modified) == VT_OK);
    if (modified) {
        CHECK(vt_nstr_transform(&src, 0, src.len, ch.c, ch.n, 0, &dst) == VT_OK);
        CHECK(vt_utf8_valid(dst.s, (size_t)dst.len));
        for (int32_t i = 0; i < dst.len; i++) CHECK(dst.os[i] >= 0 && dst.os[i] <= dst.oe[i] && dst.oe[i] <= (int32_t)n);
    } else {
        for (int32_t i = 0; i < ch.n; i++) CHECK(ch.c[i].change == 0);
    }
    vt_nstr_free(&src);
    vt_nstr_free(&dst);
    vt_nchanges_free(&ch);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 2 || size > 1 << 18) return 0;
    static const char *const texts[] = {"", "a", "Hello, W\xc3\xb6rld! \xef\xbc\xa1\xcc\x81 \xe2\x84\xa2",
                                        "\xf0\x9f\x91\xa8\xe2\x80\x8d\xf0\x9f\x91\xa9 \xe1\x84\x80\xe1\x85\xa1 \r\n\x00x",
                                        "\xc3\x28\xed\xa0\x80\xff\xe2\x82"};
    vt_precompiled *p;
    const char *tail = NULL;
    size_t tail_n = 0;
    if (data[0] & 1) {
        p = vt_precompiled_from_base64((const char *)data + 1, size - 1, "fuzz");
    } else {
        size_t n = (size_t)data[1] * 64;
        if (n > size - 2) n = size - 2;
        size_t bl;
        char *b = b64_encode(data + 2, n, &bl);
        p = vt_precompiled_from_base64(b, bl, "fuzz");
        free(b);
        tail = (const char *)data + 2 + n;
        tail_n = size - 2 - n;
    }
    if (!p) return 0;
    for (size_t i = 0; i < sizeof texts / sizeof *texts; i++) normalize(p, texts[i], strlen(texts[i]) + (i == 3 ? 2 : 0));
    if (tail) normalize(p, tail, tail_n);
    vt_precompiled_free(p);
    return 0;
}
