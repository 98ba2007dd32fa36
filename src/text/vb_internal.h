/* The vocabulary builder's state: counted words (vb_words.c), trained by
 * vocab_builder.c. */
#ifndef VT_TEXT_VB_INTERNAL_H
#define VT_TEXT_VB_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "text/pretok.h"
#include "verto/vocab_builder.h"

#define VT_VB_N_SPECIAL 5

struct vt_vocab_builder {
    vt_vb_options opt;
    vt_pretok_cfg cfg;
    vt_pretok_buf pb;
    char *arena; /* the distinct words, back to back */
    size_t arena_len, arena_cap;
    size_t *w_off;    /* (n_words) */
    int32_t *w_len;   /* (n_words) bytes */
    int64_t *w_count; /* (n_words) */
    size_t n_words, w_cap;
    int64_t *slot; /* (slot_cap) open addressing: word index or -1 */
    size_t slot_cap;
    int64_t total;
    /* byte-level BPE */
    char **specials; /* (opt.n_special_tokens) copies; opt.special_tokens points here */
    const char *label; /* what errors name: the file being read, or "text" */
    int64_t line;      /* lines of `label` counted so far */
};

struct vt_bpe_vocab {
    char **tok; /* (n_tok) byte-level characters, NUL-terminated */
    int32_t n_tok, n_special;
    int32_t *merge; /* (n_merges, 2) left and right ids, rank order */
    int32_t n_merges;
};

/* Counts one word (a vt_word_fn over b). */
vt_status vt_vb_count_word(void *ud, const vt_word *w);

/* Counts the words of text[0..len), whole lines (byte-level BPE, vb_words.c). */
vt_status vt_vb_add_lines_bpe(vt_vocab_builder *b, const char *text, size_t len);

#endif
