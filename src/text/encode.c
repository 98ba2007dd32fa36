/* Encoding: special-token matching, WordPiece per word, truncation, the
 * [CLS] A [SEP] B [SEP] template and padding. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/par_error.h"
#include "text/tokenizer_internal.h"
#include "text/utf8.h"
#include "text/wordpiece.h"

typedef struct enc_scratch {
    vt_pretok_buf pb;
    vt_pieces seq[2];
} enc_scratch;

void vt_tok_encoding_init(vt_tok_encoding *e) { memset(e, 0, sizeof *e); }

void vt_tok_encoding_free(vt_tok_encoding *e) {
    if (!e) return;
    free(e->ids);
    free(e->type_ids);
    free(e->attention_mask);
    free(e->special_mask);
    free(e->seq);
    free(e->offsets);
    enc_scratch *s = e->scratch;
    if (s) {
        vt_pretok_buf_free(&s->pb);
        vt_pieces_free(&s->seq[0]);
        vt_pieces_free(&s->seq[1]);
        free(s);
    }
    memset(e, 0, sizeof *e);
}

void vt_tok_encode_opts_default(vt_tok_encode_opts *o) {
    o->add_special_tokens = true;
    o->max_length = 0;
    o->pad_to = 0;
}

static vt_status reserve(vt_tok_encoding *e, int32_t n) {
    if (n <= e->cap) return VT_OK;
    int32_t **arrs[] = {&e->ids, &e->type_ids, &e->attention_mask, &e->special_mask, &e->seq};
    for (size_t i = 0; i < sizeof arrs / sizeof *arrs; i++) {
        int32_t *p = realloc(*arrs[i], (size_t)n * sizeof(int32_t));
        if (!p) return vt_error(VT_ERR_NOMEM, "tokenizer: out of memory for %d tokens", n);
        *arrs[i] = p;
    }
    int32_t *o = realloc(e->offsets, (size_t)n * 2 * sizeof(int32_t));
    if (!o) return vt_error(VT_ERR_NOMEM, "tokenizer: out of memory for %d tokens", n);
    e->offsets = o;
    e->cap = n;
    return VT_OK;
}

typedef struct word_ctx {
    const vt_tokenizer *t;
    vt_pieces *out;
} word_ctx;

static vt_status on_word(void *ud, const vt_word *w) {
    word_ctx *c = ud;
    return vt_wp_cut(c->t->vocab, c->t->sp.unk, c->t->opt.max_input_chars_per_word, w, c->out);
}

/* The special tokens written in the text are cut out first (HF's added
 * tokens: matched on the raw text, leftmost); the rest is normalized. */
static vt_status encode_text(const vt_tokenizer *t, const char *text, size_t len, enc_scratch *s, vt_pieces *out) {
    word_ctx c = {t, out};
    out->n = 0;
    size_t seg = 0, pos = 0;
    vt_status st;
    while (!t->opt.split_special_tokens && pos < len) {
        const char *br = memchr(text + pos, '[', len - pos);
        if (!br) break;
        size_t at = (size_t)(br - text);
        int hit = -1;
        for (int i = 0; i < t->n_sp && hit < 0; i++)
            if (len - at >= (size_t)t->sp_len[i] && !memcmp(text + at, t->sp_text[i], (size_t)t->sp_len[i])) hit = i;
        if (hit < 0) {
            pos = at + 1;
            continue;
        }
        if (at > seg && (st = vt_pretok_run(&t->cfg, text + seg, at - seg, (int32_t)seg, &s->pb, on_word, &c)) != VT_OK)
            return st;
        if ((st = vt_pieces_push(out, t->sp_id[hit], (int32_t)at, (int32_t)at + t->sp_len[hit])) != VT_OK) return st;
        seg = pos = at + (size_t)t->sp_len[hit];
    }
    if (len > seg) return vt_pretok_run(&t->cfg, text + seg, len - seg, (int32_t)seg, &s->pb, on_word, &c);
    return VT_OK;
}

/* tokenizers' truncate_encodings, LongestFirst, stride 0, from the right. */
static void truncate_lengths(int32_t max, bool pair, int32_t *n1, int32_t *n2) {
    if (max == 0) {
        *n1 = *n2 = 0;
        return;
    }
    int64_t total = (int64_t)*n1 + *n2;
    if (total <= max) return;
    if (!pair) {
        *n1 = max;
        return;
    }
    int32_t a = *n1, b = *n2;
    bool swap = a > b;
    if (swap) { int32_t x = a; a = b; b = x; }
    b = a > max ? a : (a > max - a ? a : max - a);
    if ((int64_t)a + b > max) {
        a = max / 2;
        b = a + max % 2;
    }
    if (swap) { int32_t x = a; a = b; b = x; }
    if (a < *n1) *n1 = a;
    if (b < *n2) *n2 = b;
}

static void put(vt_tok_encoding *e, int32_t id, int32_t type, int32_t att, int32_t special, int32_t seq,
                int32_t start, int32_t end) {
    int32_t i = e->len++;
    e->ids[i] = id;
    e->type_ids[i] = type;
    e->attention_mask[i] = att;
    e->special_mask[i] = special;
    e->seq[i] = seq;
    e->offsets[2 * i] = start;
    e->offsets[2 * i + 1] = end;
}

/* Pads an assembled encoding with [PAD] up to n tokens. */
static vt_status pad_to(const vt_tokenizer *t, vt_tok_encoding *e, int32_t n) {
    if (e->len >= n) return VT_OK;
    vt_status st = reserve(e, n);
    if (st != VT_OK) return st;
    while (e->len < n) put(e, t->sp.pad, 0, 0, 1, -1, 0, 0);
    return VT_OK;
}

vt_status vt_tok_encode(const vt_tokenizer *t, const char *a, size_t alen, const char *b, size_t blen,
                        const vt_tok_encode_opts *o, vt_tok_encoding *out) {
    if (!t || !out || (!a && alen))
        return vt_error(VT_ERR_INVALID_ARG, "tokenizer: NULL argument");
    if (alen > INT32_MAX || (b && blen > INT32_MAX))
        return vt_error(VT_ERR_INVALID_ARG, "tokenizer: text longer than %d bytes", INT32_MAX);
    vt_tok_encode_opts def;
    if (!o) {
        vt_tok_encode_opts_default(&def);
        o = &def;
    }
    if (o->max_length < 0 || o->pad_to < 0)
        return vt_error(VT_ERR_INVALID_ARG, "tokenizer: negative max_length or pad_to");
    out->len = 0;
    enc_scratch *s = out->scratch;
    if (!s && !(s = out->scratch = calloc(1, sizeof *s))) return vt_error(VT_ERR_NOMEM, "tokenizer: out of memory");
    vt_status st = encode_text(t, a ? a : "", alen, s, &s->seq[0]);
    s->seq[1].n = 0;
    if (st == VT_OK && b) st = encode_text(t, b, blen, s, &s->seq[1]);
    if (st != VT_OK) return st;

    int32_t n1 = s->seq[0].n, n2 = b ? s->seq[1].n : 0;
    int32_t added = o->add_special_tokens ? (b ? 3 : 2) : 0;
    /* max_length below the special tokens: HF's unsigned subtraction wraps
     * and nothing is truncated */
    if (o->max_length > 0 && o->max_length >= added) truncate_lengths(o->max_length - added, b != NULL, &n1, &n2);
    int64_t total = (int64_t)n1 + n2 + added;
    if (total > INT32_MAX) return vt_error(VT_ERR_INVALID_ARG, "tokenizer: more than %d tokens", INT32_MAX);
    if ((st = reserve(out, (int32_t)total)) != VT_OK) return st;
    if (o->add_special_tokens) put(out, t->sp.cls, 0, 1, 1, -1, 0, 0);
    for (int k = 0; k < 2; k++) {
        if (k == 1 && !b) break;
        const vt_pieces *p = &s->seq[k];
        int32_t n = k ? n2 : n1;
        /* a cut input keeps its first `head` pieces and its last n - head */
        int32_t tail = n < t->opt.keep_tail ? n : t->opt.keep_tail, head = n - tail;
        for (int32_t j = 0; j < n; j++) {
            int32_t i = j < head ? j : p->n - (n - j);
            put(out, p->id[i], k, 1, vt_tok_is_special(t, p->id[i]), k, p->start[i], p->end[i]);
        }
        if (o->add_special_tokens) put(out, t->sp.sep, k, 1, 1, -1, 0, 0);
    }
    return o->pad_to > 0 ? pad_to(t, out, o->pad_to) : VT_OK;
}

/* The items of a batch: plain encodings (o != NULL) or windows. */
typedef struct batch_job {
    const vt_tokenizer *t;
    const char *const *a, *const *b;
    const size_t *alen, *blen;
    const vt_tok_encode_opts *o;
    int32_t max_length, max_windows;
    vt_tok_encoding *out; /* (n) plain; (n, max_windows) windows */
    int32_t *n_windows;
    bool *cut;
} batch_job;

/* Encodes the n items with OpenMP threads; returns the first failing item's error. */
static vt_status encode_items(const batch_job *j, size_t n) {
    vt_par_error err = {0};
    size_t K = j->max_windows > 1 ? (size_t)j->max_windows : 1;
#pragma omp parallel for schedule(dynamic, 16)
    for (long long i = 0; i < (long long)n; i++) {
        const char *bi = j->b ? j->b[i] : NULL;
        size_t blen = bi ? j->blen[i] : 0;
        vt_status st = j->o ? vt_tok_encode(j->t, j->a[i], j->alen[i], bi, blen, j->o, &j->out[i])
                            : vt_tok_encode_windows(j->t, j->a[i], j->alen[i], bi, blen, j->max_length, j->max_windows,
                                                    j->out + (size_t)i * K, &j->n_windows[i], j->cut ? &j->cut[i] : NULL);
        vt_par_error_keep(&err, i, st);
    }
    return err.status == VT_OK ? VT_OK
                               : vt_error(err.status, "batch item %lld: %s", (long long)err.index, err.message);
}

vt_status vt_tok_encode_batch(const vt_tokenizer *t, size_t n, const char *const *a, const size_t *alen,
                              const char *const *b, const size_t *blen, const vt_tok_encode_opts *o,
                              vt_tok_encoding *out) {
    if (!t || (n && (!a || !alen || !out)) || (b && !blen))
        return vt_error(VT_ERR_INVALID_ARG, "tokenizer: NULL argument to encode_batch");
    vt_tok_encode_opts def;
    if (!o) vt_tok_encode_opts_default(&def);
    vt_tok_encode_opts one = o ? *o : def;
    int32_t want = one.pad_to;
    one.pad_to = 0;
    batch_job j = {.t = t, .a = a, .b = b, .alen = alen, .blen = blen, .o = &one, .out = out};
    vt_status st = encode_items(&j, n);
    if (st != VT_OK) return st;
    if (want == 0)
        for (size_t i = 0; i < n; i++)
            if (out[i].len > want) want = out[i].len;
    for (size_t i = 0; i < n; i++)
        if ((st = pad_to(t, &out[i], want)) != VT_OK) return st;
    return VT_OK;
}

vt_status vt_tok_encode_windows(const vt_tokenizer *t, const char *a, size_t alen, const char *b, size_t blen,
                                int32_t max_length, int32_t max_windows, vt_tok_encoding *out, int32_t *n_windows,
                                bool *cut) {
    *n_windows = 0;
    if (cut) *cut = false;
    vt_tok_encode_opts o;
    vt_tok_encode_opts_default(&o);
    vt_status st = vt_tok_encode(t, a, alen, b, blen, &o, &out[0]); /* the whole input */
    if (st != VT_OK) return st;
    *n_windows = 1;
    int32_t whole = out[0].len, w = max_length - 2, n = whole - 2;
    if (max_length <= 0 || whole <= max_length) return VT_OK;
    if (b || max_windows <= 1 || w < 1) { /* truncated, as vt_tok_encode does it */
        o.max_length = max_length;
        st = vt_tok_encode(t, a, alen, b, blen, &o, &out[0]);
        if (cut) *cut = st == VT_OK && out[0].len < whole;
        return st;
    }
    int64_t needed = ((int64_t)n + w - 1) / w, m = needed < max_windows ? needed : max_windows;
    if (cut) *cut = needed > m;
    /* out[0] holds [CLS] tokens [SEP]; windows 1.. are copied from it, then
     * window 0 (which starts at token 0) is out[0] cut short */
    const vt_tok_encoding *src = &out[0];
    for (int64_t j = m - 1; j >= 1; j--) {
        vt_tok_encoding *e = &out[j];
        int32_t start = (int32_t)((j * (int64_t)(n - w) + (m - 1) / 2) / (m - 1)); /* rounded */
        e->len = 0;
        if ((st = reserve(e, w + 2)) != VT_OK) return st;
        put(e, t->sp.cls, 0, 1, 1, -1, 0, 0);
        for (int32_t i = 1 + start; i <= start + w; i++)
            put(e, src->ids[i], 0, 1, src->special_mask[i], src->seq[i], src->offsets[2 * i], src->offsets[2 * i + 1]);
        put(e, t->sp.sep, 0, 1, 1, -1, 0, 0);
    }
    out[0].len = w + 1;
    put(&out[0], t->sp.sep, 0, 1, 1, -1, 0, 0);
    *n_windows = (int32_t)m;
    return VT_OK;
}

vt_status vt_tok_encode_windows_batch(const vt_tokenizer *t, size_t n, const char *const *a, const size_t *alen,
                                      const char *const *b, const size_t *blen, int32_t max_length, int32_t max_windows,
                                      vt_tok_encoding *out, int32_t *n_windows, bool *cut) {
    if (!t || (n && (!a || !alen || !out || !n_windows)) || (b && !blen))
        return vt_error(VT_ERR_INVALID_ARG, "tokenizer: NULL argument to encode_windows_batch");
    batch_job j = {.t = t, .a = a, .b = b, .alen = alen, .blen = blen, .max_length = max_length,
                   .max_windows = max_windows, .out = out, .n_windows = n_windows, .cut = cut};
    return encode_items(&j, n);
}

void vt_tok_offsets_to_chars(const char *text, size_t len, int32_t *offsets, size_t n) {
    /* walk the text once per offset run: offsets are usually ascending */
    size_t byte = 0, chr = 0;
    for (size_t k = 0; k < n; k++) {
        size_t want = offsets[k] < 0 ? 0 : (size_t)offsets[k];
        if (want > len) want = len;
        if (want < byte) byte = chr = 0;
        while (byte < len) {
            int adv;
            vt_utf8_decode((const unsigned char *)text + byte, len - byte, &adv);
            if (byte + (size_t)adv > want) break;
            byte += (size_t)adv;
            chr++;
        }
        offsets[k] = (int32_t)chr;
    }
}
