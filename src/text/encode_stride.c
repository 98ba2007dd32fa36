/* A pair whose one input is too long, read as overlapping windows: what
 * tokenizers gives for truncation "only_second" / "only_first" with a stride
 * and return_overflowing_tokens (question answering over long contexts). */
#include <stdlib.h>
#include <string.h>

#include "text/tokenizer_internal.h"

void vt_tok_windows_free(vt_tok_windows *w) {
    if (!w) return;
    for (int32_t i = 0; i < w->cap; i++) vt_tok_encoding_free(&w->enc[i]);
    free(w->enc);
    memset(w, 0, sizeof *w);
}

static vt_status windows_reserve(vt_tok_windows *w, int64_t n) {
    if (n <= w->cap) return VT_OK;
    if (n > INT32_MAX / 2) return vt_error(VT_ERR_NOMEM, "tokenizer: %lld windows", (long long)n);
    int32_t cap = w->cap ? w->cap : 4;
    while (cap < n) cap *= 2;
    vt_tok_encoding *e = realloc(w->enc, (size_t)cap * sizeof *e);
    if (!e) return vt_error(VT_ERR_NOMEM, "tokenizer: out of memory for %d windows", cap);
    for (int32_t i = w->cap; i < cap; i++) vt_tok_encoding_init(&e[i]);
    w->enc = e;
    w->cap = cap;
    return VT_OK;
}

/* Window e: every token of `full` except those of sequence `cut` outside
 * [start, stop) of that sequence's tokens (the template's order kept). */
static vt_status copy_window(const vt_tok_encoding *full, int cut, int32_t start, int32_t stop, vt_tok_encoding *e) {
    vt_status st = vt_tok_encoding_reserve(e, full->len);
    if (st != VT_OK) return st;
    e->len = 0;
    for (int32_t i = 0, k = 0; i < full->len; i++) {
        if (full->seq[i] == cut) {
            int32_t at = k++;
            if (at < start || at >= stop) continue;
        }
        int32_t j = e->len++;
        e->ids[j] = full->ids[i];
        e->type_ids[j] = full->type_ids[i];
        e->attention_mask[j] = full->attention_mask[i];
        e->special_mask[j] = full->special_mask[i];
        e->seq[j] = full->seq[i];
        e->word_ids[j] = full->word_ids[i];
        e->offsets[2 * j] = full->offsets[2 * i];
        e->offsets[2 * j + 1] = full->offsets[2 * i + 1];
    }
    return VT_OK;
}

vt_status vt_tok_encode_overflow(const vt_tokenizer *t, const char *a, size_t alen, const char *b, size_t blen, int cut,
                                 int32_t max_length, int32_t stride, vt_tok_windows *out) {
    if (!t || !out || !b || (cut != 0 && cut != 1))
        return vt_error(VT_ERR_INVALID_ARG, "tokenizer: encode_overflow needs a pair and cut 0 or 1");
    out->n = 0;
    if (max_length < 1 || stride < 0)
        return vt_error(VT_ERR_INVALID_ARG, "tokenizer: max_length %d and stride %d (need max_length >= 1, stride >= 0)",
                        max_length, stride);
    vt_status st = windows_reserve(out, 1);
    if (st != VT_OK) return st;
    vt_tok_encode_opts o;
    vt_tok_encode_opts_default(&o);
    if ((st = vt_tok_encode(t, a, alen, b, blen, &o, &out->enc[0])) != VT_OK) return st;
    const vt_tok_encoding *full = &out->enc[0];
    int32_t n_cut = 0, n_other = 0;
    for (int32_t i = 0; i < full->len; i++) {
        n_cut += full->seq[i] == cut;
        n_other += full->seq[i] == 1 - cut;
    }
    int32_t added = full->len - n_cut - n_other;
    if (full->len <= max_length) { /* it fits: one window, the whole pair */
        out->n = 1;
        return VT_OK;
    }
    /* tokenizers: the cut input keeps len - to_remove tokens per window and
     * each window starts `len - stride` tokens after the one before */
    int64_t to_remove = (int64_t)full->len - max_length;
    if (max_length <= added || n_cut <= to_remove)
        return vt_error(VT_ERR_INVALID_ARG,
                        "tokenizer: max_length %d leaves no room for the %s input: the other input has %d tokens and "
                        "the special tokens take %d (tokenizers: \"Sequence to truncate too short to respect the "
                        "provided max_length\")",
                        max_length, cut ? "second" : "first", n_other, added);
    int32_t win = (int32_t)(n_cut - to_remove);
    if (stride >= win)
        return vt_error(VT_ERR_INVALID_ARG,
                        "tokenizer: stride %d must be less than the %d tokens of the %s input each window holds "
                        "(max_length %d less %d special tokens and %d of the other input)",
                        stride, win, cut ? "second" : "first", max_length, added, n_other);
    int32_t step = win - stride;
    bool from_left = t->opt.keep_tail == INT32_MAX; /* truncation_side "left": windows counted from the end */
    int64_t m = n_cut <= win ? 1 : 1 + ((int64_t)n_cut - win + step - 1) / step;
    if ((st = windows_reserve(out, m + 1)) != VT_OK) return st;
    /* the whole pair moves to the spare slot m; windows 0..m-1 copy from it */
    vt_tok_encoding whole = out->enc[0];
    out->enc[0] = out->enc[m];
    out->enc[m] = whole;
    for (int64_t j = 0; j < m; j++) {
        int32_t start, stop;
        if (!from_left) {
            start = (int32_t)(j * step);
            stop = start + win < n_cut ? start + win : n_cut;
        } else {
            stop = (int32_t)(n_cut - j * step);
            start = stop > win ? stop - win : 0;
        }
        if ((st = copy_window(&out->enc[m], cut, start, stop, &out->enc[j])) != VT_OK) return st;
    }
    out->n = (int32_t)m;
    return VT_OK;
}
