/* Encoding pre-split words (tokenizers' encode(words, is_pretokenized=True),
 * what transformers' fast tokenizers do with is_split_into_words=True): each
 * word goes through the whole pipeline as a text of its own, the pieces are
 * concatenated with their word's index, then truncation, the template and
 * padding apply as to one sequence. */
#include <stdlib.h>

#include "text/splits.h"
#include "text/tokenizer_internal.h"

vt_status vt_tok_encode_words(const vt_tokenizer *t, const char *const *words, const size_t *lens, size_t n_words,
                              const vt_tok_encode_opts *o, vt_tok_encoding *out) {
    if (!t || !out || (n_words && (!words || !lens)))
        return vt_error(VT_ERR_INVALID_ARG, "tokenizer: NULL argument to encode_words");
    if (n_words > INT32_MAX) return vt_error(VT_ERR_INVALID_ARG, "tokenizer: more than %d words", INT32_MAX);
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
    vt_pieces *all = &w->seq[0], *one = &w->seq[1];
    all->n = 0;
    for (size_t k = 0; k < n_words && st == VT_OK; k++) {
        if (!words[k] && lens[k]) st = vt_error(VT_ERR_INVALID_ARG, "tokenizer: word %zu is NULL", k);
        else if (lens[k] > INT32_MAX) st = vt_error(VT_ERR_INVALID_ARG, "tokenizer: word %zu is longer than %d bytes", k, INT32_MAX);
        else /* seq_start: no token before this word's (tokenizers trims offsets over the whole sequence) */
            st = vt_tok_encode_text(t, words[k] ? words[k] : "", (int32_t)lens[k], all->n == 0, w, one);
        for (int32_t i = 0; i < one->n && st == VT_OK; i++) { /* the word ids are the words' indices */
            st = vt_pieces_push(all, one->id[i], one->start[i], one->end[i]);
            all->word[all->n - 1] = (int32_t)k;
        }
    }
    one->n = 0;
    if (st == VT_OK) st = vt_tok_assemble(t, o, false, out);
    if (st != VT_OK) out->len = 0;
    return st;
}
