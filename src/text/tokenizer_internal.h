/* The tokenizer object, shared by encode.c and decode.c. */
#ifndef VT_TEXT_TOKENIZER_INTERNAL_H
#define VT_TEXT_TOKENIZER_INTERNAL_H

#include "text/pretok.h"
#include "text/vocab_internal.h"
#include "verto/tokenizer.h"

#define VT_TOK_N_SPECIAL 5

struct vt_tokenizer {
    vt_wp_vocab *vocab;
    vt_tok_options opt;
    vt_pretok_cfg cfg;
    vt_tok_special sp;
    /* the special tokens matched literally in input text, in vocabulary */
    const char *sp_text[VT_TOK_N_SPECIAL];
    int32_t sp_len[VT_TOK_N_SPECIAL], sp_id[VT_TOK_N_SPECIAL];
    int n_sp;
};

/* True if id is one of the special tokens. */
static inline bool vt_tok_is_special(const struct vt_tokenizer *t, int32_t id) {
    for (int i = 0; i < t->n_sp; i++)
        if (t->sp_id[i] == id) return true;
    return false;
}

#endif
