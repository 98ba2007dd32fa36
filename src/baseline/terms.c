/* A text's terms as scikit-learn's TfidfVectorizer(ngram_range=(1, 2)) cuts
 * them: str.lower(), then token_pattern r"(?u)\b\w\w+\b" (maximal runs of
 * two or more \w code points: inside a run \b never holds, so the pattern
 * matches whole runs only), then unigrams and bigrams. */
#include <stdlib.h>
#include <string.h>

#include "baseline/baseline_internal.h"
#include "text/utf8.h"

void bl_scratch_free(bl_scratch *s) {
    vt_py_str_free(&s->cp);
    vt_py_str_free(&s->low);
    free(s->bytes);
    free(s->tok);
    free(s->pair);
    memset(s, 0, sizeof *s);
}

/* re's \w: ASCII letters, digits and '_' without the table's search. */
static bool is_word(int32_t cp) {
    if (cp < 0x80) return (cp >= 'a' && cp <= 'z') || (cp >= 'A' && cp <= 'Z') || (cp >= '0' && cp <= '9') || cp == '_';
    return vt_py_flags(cp) & VT_PY_WORD;
}

static vt_status reserve(void **p, size_t *cap, size_t need, size_t size) {
    if (need <= *cap) return VT_OK;
    size_t c = *cap ? *cap : 64;
    while (c < need) c *= 2;
    void *q = realloc(*p, c * size);
    if (!q) return vt_error(VT_ERR_NOMEM, "out of memory cutting a text of %zu bytes into terms", need);
    *p = q;
    *cap = c;
    return VT_OK;
}

/* The tokens of s->low into s->bytes and s->tok. */
static vt_status tokens(bl_scratch *s) {
    s->n_bytes = s->n_tok = 0;
    vt_status st = reserve((void **)&s->bytes, &s->cap_bytes, 4 * s->low.n + 1, 1);
    for (size_t i = 0; st == VT_OK && i < s->low.n;) {
        if (!is_word(s->low.cp[i])) {
            i++;
            continue;
        }
        size_t j = i;
        while (j < s->low.n && is_word(s->low.cp[j])) j++;
        if (j - i >= 2) {
            if ((st = reserve((void **)&s->tok, &s->cap_tok, s->n_tok + 1, sizeof *s->tok)) != VT_OK) break;
            struct bl_token *t = &s->tok[s->n_tok++];
            t->off = s->n_bytes;
            for (size_t k = i; k < j; k++) s->n_bytes += (size_t)vt_utf8_encode(s->low.cp[k], s->bytes + s->n_bytes);
            t->len = s->n_bytes - t->off;
        }
        i = j;
    }
    return st;
}

vt_status bl_each_term(bl_scratch *s, const char *text, size_t len, bl_term_fn fn, void *ctx) {
    vt_status st = vt_py_decode(text, len, &s->cp);
    if (st == VT_OK) st = vt_py_lower(&s->cp, &s->low);
    if (st == VT_OK) st = tokens(s);
    for (size_t i = 0; st == VT_OK && i < s->n_tok; i++) st = fn(ctx, s->bytes + s->tok[i].off, s->tok[i].len);
    for (size_t i = 0; st == VT_OK && i + 1 < s->n_tok; i++) {
        size_t a = s->tok[i].len, b = s->tok[i + 1].len;
        if ((st = reserve((void **)&s->pair, &s->cap_pair, a + b + 1, 1)) != VT_OK) break;
        memcpy(s->pair, s->bytes + s->tok[i].off, a);
        s->pair[a] = ' ';
        memcpy(s->pair + a + 1, s->bytes + s->tok[i + 1].off, b);
        st = fn(ctx, s->pair, a + b + 1);
    }
    return st;
}
