/* libFuzzer target: the request-body parser of verto serve
 * (vt_serve_request_parse). The first input byte picks the endpoint (bit 0:
 * /v1/classify or /v1/embed; bit 1: also a path that takes no body; bit 2:
 * /v1/question-answering; bit 3: /v1/token-classification); the rest
 * is the body. Any input must give VT_OK with a consistent request (1 to 1024
 * inputs; texts non-empty, NUL-terminated at their stated length, valid UTF-8;
 * text_b likewise or NULL; pooling/normalize only changed for embed, the
 * aggregation strategy only for token classification and a known one) or
 * VT_ERR_INVALID_ARG with an empty request and a one-line message; never a
 * crash, leak or sanitizer report. The body's UTF-8 verdict must agree with an
 * independent check. Seeds: fuzz/corpus/serve_request/. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "verto/error.h"
#include "verto/serve.h"
#include "core/utf8.h"

static int valid_utf8(const unsigned char *s, size_t n) {
    for (size_t i = 0; i < n;) {
        unsigned c = s[i];
        int need = c < 0x80 ? 0 : c >= 0xC2 && c <= 0xDF ? 1 : c >= 0xE0 && c <= 0xEF ? 2 : c >= 0xF0 && c <= 0xF4 ? 3 : -1;
        if (need < 0 || n - i <= (size_t)need) return 0;
        for (int k = 1; k <= need; k++)
            if ((s[i + (size_t)k] & 0xC0) != 0x80) return 0;
        if ((c == 0xE0 && s[i + 1] < 0xA0) || (c == 0xED && s[i + 1] > 0x9F) || (c == 0xF0 && s[i + 1] < 0x90) ||
            (c == 0xF4 && s[i + 1] > 0x8F))
            return 0;
        i += (size_t)need + 1;
    }
    return 1;
}

static void check_text(const char *t, size_t len) {
    if (!t || len == 0 || strlen(t) != len || !valid_utf8((const unsigned char *)t, len)) abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1) return 0;
    vt_serve_endpoint e = (data[0] & 8)   ? VT_SERVE_TOKEN_CLASSIFICATION
                          : (data[0] & 4) ? VT_SERVE_QUESTION_ANSWERING
                          : (data[0] & 2) ? VT_SERVE_METRICS
                          : (data[0] & 1) ? VT_SERVE_EMBED
                                          : VT_SERVE_CLASSIFY;
    const char *body = (const char *)data + 1;
    size_t len = size - 1;
    if (vt_utf8_valid(body, len) != (valid_utf8((const unsigned char *)body, len) != 0)) abort();
    vt_serve_request r;
    vt_status st = vt_serve_request_parse(e, body, len, &r);
    if (st == VT_OK) {
        if (e == VT_SERVE_METRICS || r.n < 1 || r.n > 1024 || !r.inputs || r.endpoint != e) abort();
        if (!r.batch && r.n != 1) abort();
        for (size_t i = 0; i < r.n; i++) {
            check_text(r.inputs[i].text, r.inputs[i].text_len);
            if (r.inputs[i].text_b) check_text(r.inputs[i].text_b, r.inputs[i].text_b_len);
            else if (r.inputs[i].text_b_len || e == VT_SERVE_QUESTION_ANSWERING) abort(); /* a context each */
        }
        if (e != VT_SERVE_EMBED && (r.pooling != VT_POOL_CLS || r.normalize)) abort();
        if ((e != VT_SERVE_TOKEN_CLASSIFICATION && r.aggregation != VT_NER_AGG_SIMPLE) ||
            (unsigned)r.aggregation > VT_NER_AGG_MAX)
            abort();
        if (!valid_utf8((const unsigned char *)body, len)) abort(); /* accepted bodies are valid UTF-8 */
    } else {
        const char *m = vt_last_error();
        if (st != VT_ERR_INVALID_ARG && st != VT_ERR_NOMEM) abort();
        if (r.n || r.inputs || !m[0] || strchr(m, '\n')) abort();
    }
    vt_serve_request_free(&r);
    return 0;
}
