/* Encoding: added tokens, the normalizer, the pre-tokenizer and the model
 * per text; truncation, the post-processor's template, padding; windows. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/par_error.h"
#include "text/added_tokens.h"
#include "text/normalize.h"
#include "text/pretokenize.h"
#include "text/tokenizer_internal.h"
#include "text/unicode.h"
#include "text/utf8.h"
#include "text/wordpiece.h"

void vt_tok_encoding_init(vt_tok_encoding *e) { memset(e, 0, sizeof *e); }

void vt_tok_work_free(vt_tok_work *w) {
    for (int i = 0; i < 2; i++) {
        vt_nstr_free(&w->buf[i]);
        vt_splits_free(&w->splits[i]);
        vt_pieces_free(&w->seq[i]);
    }
    vt_splits_free(&w->piece_src);
    for (int i = 0; i < 3; i++) vt_nstr_free(&w->seg[i]);
    vt_matches_free(&w->matches);
    vt_nchanges_free(&w->changes);
    vt_pretok_buf_free(&w->pb);
    vt_word_cache_free(w->cache);
    memset(w, 0, sizeof *w);
}

void vt_tok_encoding_free(vt_tok_encoding *e) {
    if (!e) return;
    free(e->ids);
    free(e->type_ids);
    free(e->attention_mask);
    free(e->special_mask);
    free(e->seq);
    free(e->offsets);
    free(e->word_ids);
    if (e->scratch) {
        vt_tok_work_free(e->scratch);
        free(e->scratch);
    }
    memset(e, 0, sizeof *e);
}

void vt_tok_encode_opts_default(vt_tok_encode_opts *o) {
    o->add_special_tokens = true;
    o->max_length = 0;
    o->pad_to = 0;
}

vt_status vt_tok_encoding_reserve(vt_tok_encoding *e, int32_t n) {
    if (n <= e->cap) return VT_OK;
    int32_t **arrs[] = {&e->ids, &e->type_ids, &e->attention_mask, &e->special_mask, &e->seq, &e->word_ids};
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

/* ---- one text to tokens ---- */

/* Pieces [*marked, out->n) came from word `word` (the pre-tokenizer split:
 * tokenizers' word ids). */
static void mark_word(vt_pieces *out, int32_t word, int32_t *marked) {
    for (int32_t i = *marked; i < out->n; i++) out->word[i] = word;
    *marked = out->n;
}

typedef struct word_ctx {
    const vt_tokenizer *t;
    vt_pieces *out;
    int32_t word, marked; /* words so far; pieces given a word */
} word_ctx;

static vt_status on_bert_word(void *ud, const vt_word *w) {
    word_ctx *c = ud;
    vt_status st = vt_wp_cut(c->t->vocab, c->t->unk_id, c->t->opt.max_input_chars_per_word, w, c->out);
    if (st == VT_OK) mark_word(c->out, c->word++, &c->marked);
    return st;
}

/* BERT's pipeline in one pass per piece between added tokens. */
static vt_status encode_bert(const vt_tokenizer *t, const char *text, int32_t len, vt_tok_work *w, vt_pieces *out) {
    vt_nstr *raw = &w->buf[0];
    vt_splits *sp = &w->splits[0];
    raw->len = sp->n = 0;
    vt_status st = vt_nstr_append_text(raw, text, len, 0);
    if (st == VT_OK) st = vt_added_split(t, false, raw, 0, raw->len, sp);
    word_ctx c = {t, out, 0, 0};
    for (int32_t i = 0; i < sp->n && st == VT_OK; i++) {
        vt_split s = sp->v[i];
        if (s.id >= 0) {
            st = vt_pieces_push(out, s.id, raw->os[s.start], raw->oe[s.end - 1]);
            if (st == VT_OK) mark_word(out, c.word++, &c.marked);
        } else st = vt_pretok_run(&t->cfg, text + raw->os[s.start], (size_t)(raw->oe[s.end - 1] - raw->os[s.start]),
                                raw->os[s.start], &w->pb, on_bert_word, &c);
    }
    return st;
}

static vt_status model_cut(const vt_tokenizer *t, vt_tok_work *w, const vt_word *word, vt_pieces *out) {
    switch (t->model) {
    case VT_MODEL_WORDPIECE: return vt_wp_cut(t->model_vocab, t->unk_id, t->opt.max_input_chars_per_word, word, out);
    case VT_MODEL_BPE: return vt_bpe_tokenize(t->bpe, word, w->cache, out);
    case VT_MODEL_UNIGRAM: return vt_unigram_tokenize(t->unigram, word, w->cache, out);
    }
    return vt_error(VT_ERR_INVALID_ARG, "tokenizer: unknown model");
}

/* Moves [*start, *end) of text in by `lead` characters at the start and
 * `trail` at the end, never past each other. */
static void trim_span(const char *text, int32_t len, int32_t lead, int32_t trail, int32_t *start, int32_t *end) {
    int adv;
    for (int32_t q = 0; q < lead && *start < *end; q++) { /* min(start + lead, end) */
        vt_utf8_decode((const unsigned char *)text + *start, (size_t)(len - *start), &adv);
        *start += adv;
    }
    if (*start > *end) *start = *end;
    for (int32_t q = 0; q < trail && *end > *start; q++) { /* max(end - trail, start) */
        (*end)--;
        while (*end > *start && ((unsigned char)text[*end] & 0xC0) == 0x80) (*end)--;
    }
}

static bool is_trimmed_space(int32_t cp) { return cp == 0x120 || (vt_uc_flags(cp) & VT_UC_WS); } /* 0x120: 'Ġ' */

/* The whitespace characters token s[0..n) starts and ends with. */
static void count_spaces(const char *s, int32_t n, int32_t *lead, int32_t *trail) {
    int adv;
    *lead = *trail = 0;
    for (int32_t k = 0; k < n; k += adv, (*lead)++)
        if (!is_trimmed_space(vt_utf8_decode((const unsigned char *)s + k, (size_t)(n - k), &adv))) break;
    for (int32_t k = n; k > 0; (*trail)++) {
        int32_t b = k - 1;
        while (b > 0 && ((unsigned char)s[b] & 0xC0) == 0x80) b--;
        if (!is_trimmed_space(vt_utf8_decode((const unsigned char *)s + b, (size_t)(k - b), &adv))) break;
        k = b;
    }
}

/* Byte-level offsets lose the spaces their token starts or ends with
 * (tokenizers' process_offsets): the token's text, which for an added token
 * is what it matched (with what lstrip / rstrip took) and else its vocabulary
 * string. as_text[i] (NULL: none) gives piece i's matched text. seq_start:
 * piece 0 is the first of its sequence (tokenizers counts token indices
 * over the whole sequence, which for pre-split words spans several texts). */
static void trim_offsets(const vt_tokenizer *t, const char *text, int32_t len, bool seq_start, vt_pieces *p,
                         const vt_splits *as_text, const vt_nstr *buf) {
    for (int32_t i = 0; i < p->n; i++) {
        int32_t lead, trail;
        const vt_split *m = as_text && as_text->v[i].id >= 0 ? &as_text->v[i] : NULL;
        const char *tok = m ? buf->s + m->start : vt_wp_vocab_token(t->vocab, p->id[i]);
        count_spaces(tok ? tok : "", m ? m->end - m->start : tok ? (int32_t)strlen(tok) : 0, &lead, &trail);
        if (((i == 0 && seq_start) || p->start[i] == 0) && t->trim_add_prefix_space && lead == 1) lead = 0;
        trim_span(text, len, lead, trail, &p->start[i], &p->end[i]);
    }
}

vt_status vt_tok_encode_text(const vt_tokenizer *t, const char *text, int32_t len, bool seq_start, vt_tok_work *w,
                             vt_pieces *out) {
    out->n = 0;
    if (len == 0) return VT_OK;
    if (t->fused_bert) return encode_bert(t, text, len, w, out);
    if (!w->cache && t->model != VT_MODEL_WORDPIECE && !(w->cache = vt_word_cache_new(8192, 256)))
        return vt_error(VT_ERR_NOMEM, "tokenizer: out of memory");
    vt_nstr *raw = &w->buf[0], *nb = &w->buf[1];
    vt_splits *s0 = &w->splits[0], *s1 = &w->splits[1];
    raw->len = nb->len = s0->n = s1->n = 0;
    vt_status st = vt_nstr_append_text(raw, text, len, 0);
    if (st == VT_OK) st = vt_added_split(t, false, raw, 0, raw->len, s0);
    for (int32_t i = 0; i < s0->n && st == VT_OK; i++) {
        vt_split s = s0->v[i];
        int32_t at = nb->len;
        if (s.id >= 0) {
            if ((st = vt_nstr_append_range(nb, raw, s.start, s.end)) == VT_OK) st = vt_splits_push(s1, at, nb->len, s.id);
            continue;
        }
        if ((st = vt_norm_run(t->norm, t->n_norm, raw, s.start, s.end, w, nb)) != VT_OK) break;
        st = t->has_normalized_added ? vt_added_split(t, true, nb, at, nb->len, s1) : vt_splits_push(s1, at, nb->len, -1);
    }
    w->cur_buf = w->cur_splits = 1;
    for (int k = 0; k < t->n_pre && st == VT_OK; k++) st = vt_pre_apply(&t->pre[k], w);
    const vt_nstr *buf = &w->buf[w->cur_buf];
    const vt_splits *sp = &w->splits[w->cur_splits];
    vt_splits *src = &w->piece_src; /* (out->n) the added token's split a piece is, or id -1 */
    src->n = 0;
    int32_t marked = 0;
    for (int32_t i = 0; i < sp->n && st == VT_OK; i++) {
        vt_split s = sp->v[i];
        if (s.id >= 0) {
            st = vt_pieces_push(out, s.id, buf->os[s.start], buf->oe[s.end - 1]);
            if (st == VT_OK && t->trim_offsets) st = vt_splits_push(src, s.start, s.end, s.id);
            if (st == VT_OK) mark_word(out, i, &marked);
            continue;
        }
        int32_t nchars = 0;
        for (int32_t k = s.start; k < s.end; k++) nchars += ((unsigned char)buf->s[k] & 0xC0) != 0x80;
        vt_word word = {buf->s + s.start, s.end - s.start, nchars, buf->os + s.start, buf->oe + s.start};
        st = model_cut(t, w, &word, out);
        while (st == VT_OK && t->trim_offsets && src->n < out->n) st = vt_splits_push(src, 0, 1, -1); /* model pieces */
        if (st == VT_OK) mark_word(out, i, &marked);
    }
    if (st == VT_OK && t->trim_offsets) trim_offsets(t, text, len, seq_start, out, src, buf);
    return st;
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
                int32_t start, int32_t end, int32_t word) {
    int32_t i = e->len++;
    e->word_ids[i] = word;
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
    if (t->sp.pad < 0) return vt_error(VT_ERR_INVALID_ARG, "tokenizer: padding asked for, but the tokenizer has no "
                                                           "padding token");
    vt_status st = vt_tok_encoding_reserve(e, n);
    if (st != VT_OK) return st;
    while (e->len < n) put(e, t->sp.pad, 0, 0, 1, -1, 0, 0, -1);
    return VT_OK;
}

/* Puts item's tokens: the special ids, or sequence k's first `head` and last n - head pieces. */
static void put_item(const vt_tokenizer *t, vt_tok_encoding *e, const vt_template_item *it, const vt_pieces *p,
                     int32_t n) {
    if (it->seq < 0) {
        for (int32_t k = 0; k < it->n_ids; k++) put(e, it->ids[k], it->type_id, 1, 1, -1, 0, 0, -1);
        return;
    }
    for (int32_t j = 0; j < n; j++) {
        int32_t i = vt_tok_kept_piece(t, n, p->n, j);
        put(e, p->id[i], it->type_id, 1, vt_tok_is_special(t, p->id[i]), it->seq, p->start[i], p->end[i], p->word[i]);
    }
}

vt_tok_work *vt_tok_scratch(vt_tok_encoding *e) {
    if (!e->scratch && !(e->scratch = calloc(1, sizeof(vt_tok_work))))
        vt_error(VT_ERR_NOMEM, "tokenizer: out of memory");
    return e->scratch;
}

vt_status vt_tok_check_opts(const vt_tokenizer *t, const vt_tok_encode_opts *o) {
    if (o->max_length < 0 || o->pad_to < 0)
        return vt_error(VT_ERR_INVALID_ARG, "tokenizer: negative max_length or pad_to");
    if (o->pad_to > 0 && t->sp.pad < 0)
        return vt_error(VT_ERR_INVALID_ARG, "tokenizer: padding asked for, but the tokenizer has no padding token");
    return VT_OK;
}

vt_status vt_tok_assemble(const vt_tokenizer *t, const vt_tok_encode_opts *o, bool pair, vt_tok_encoding *out) {
    vt_tok_work *w = out->scratch;
    const vt_template *tp = pair ? &t->pair : &t->single;
    int32_t n1 = w->seq[0].n, n2 = pair ? w->seq[1].n : 0;
    int32_t added = o->add_special_tokens ? tp->n_special : 0;
    /* max_length below the special tokens: HF's unsigned subtraction wraps
     * and nothing is truncated */
    if (o->max_length > 0 && o->max_length >= added) truncate_lengths(o->max_length - added, pair, &n1, &n2);
    int64_t total = (int64_t)n1 + n2 + added;
    if (total > INT32_MAX) return vt_error(VT_ERR_INVALID_ARG, "tokenizer: more than %d tokens", INT32_MAX);
    vt_status st = vt_tok_encoding_reserve(out, (int32_t)total);
    if (st != VT_OK) return st;
    out->len = 0;
    for (int k = 0; k < tp->n; k++) {
        const vt_template_item *it = &tp->items[k];
        if (it->seq < 0 && !o->add_special_tokens) continue;
        put_item(t, out, it, it->seq < 0 ? NULL : &w->seq[it->seq], it->seq == 0 ? n1 : n2);
    }
    return o->pad_to > 0 ? pad_to(t, out, o->pad_to) : VT_OK;
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
    vt_status st = vt_tok_check_opts(t, o);
    if (st != VT_OK) return st;
    out->len = 0;
    vt_tok_work *w = vt_tok_scratch(out);
    if (!w) return vt_last_status();
    st = vt_tok_encode_text(t, a ? a : "", (int32_t)alen, true, w, &w->seq[0]);
    w->seq[1].n = 0;
    if (st == VT_OK && b) st = vt_tok_encode_text(t, b, (int32_t)blen, true, w, &w->seq[1]);
    if (st != VT_OK) return st;
    return vt_tok_assemble(t, o, b != NULL, out);
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
    /* the single template: `pre` special ids, the text, `post` special ids */
    int32_t pre = 0, post = 0;
    for (int k = 0, seen = 0; k < t->single.n; k++) {
        const vt_template_item *it = &t->single.items[k];
        if (it->seq >= 0) seen = 1;
        else if (seen) post += it->n_ids;
        else pre += it->n_ids;
    }
    int32_t whole = out[0].len, w = max_length - pre - post, n = whole - pre - post;
    if (max_length <= 0 || whole <= max_length) return VT_OK;
    if (b || max_windows <= 1 || w < 1) { /* truncated, as vt_tok_encode does it */
        o.max_length = max_length;
        st = vt_tok_encode(t, a, alen, b, blen, &o, &out[0]);
        if (cut) *cut = st == VT_OK && out[0].len < whole;
        return st;
    }
    int64_t needed = ((int64_t)n + w - 1) / w, m = needed < max_windows ? needed : max_windows;
    if (cut) *cut = needed > m;
    /* out[0] holds pre + the text + post; windows 1.. copy their tokens from
     * it, then window 0 (which starts at the text's start) is out[0] cut short */
    const vt_tok_encoding *src = &out[0];
    for (int64_t j = m - 1; j >= 0; j--) {
        vt_tok_encoding *e = &out[j];
        int32_t start = (int32_t)((j * (int64_t)(n - w) + (m - 1) / 2) / (m - 1)); /* rounded */
        if (j == 0) {
            /* move the end's special tokens after the first w text tokens */
            e->len = pre + w;
            for (int32_t i = 0; i < post; i++) {
                int32_t from = whole - post + i;
                put(e, src->ids[from], src->type_ids[from], 1, 1, -1, 0, 0, -1);
            }
            break;
        }
        e->len = 0;
        if ((st = vt_tok_encoding_reserve(e, pre + w + post)) != VT_OK) return st;
        for (int32_t i = 0; i < pre; i++) put(e, src->ids[i], src->type_ids[i], 1, 1, -1, 0, 0, -1);
        for (int32_t i = pre + start; i < pre + start + w; i++)
            put(e, src->ids[i], src->type_ids[i], 1, src->special_mask[i], src->seq[i], src->offsets[2 * i],
                src->offsets[2 * i + 1], src->word_ids[i]);
        for (int32_t i = whole - post; i < whole; i++) put(e, src->ids[i], src->type_ids[i], 1, 1, -1, 0, 0, -1);
    }
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
