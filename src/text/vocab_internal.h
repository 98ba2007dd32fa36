/* The vocabulary's layout, shared by the text/ modules. */
#ifndef VT_TEXT_VOCAB_INTERNAL_H
#define VT_TEXT_VOCAB_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "verto/tokenizer.h"

struct vt_wp_vocab {
    char *arena;          /* every token, each NUL-terminated */
    size_t *tok_off;      /* (n) token i starts at arena + tok_off[i] */
    int32_t *tok_len;     /* (n) bytes, without the NUL */
    int32_t n;
    int32_t *slot;        /* (mask + 1) open addressing: id or -1 */
    uint32_t *slot_hash;  /* (mask + 1) */
    uint32_t mask;
    int32_t max_len;      /* longest token, bytes */
    int32_t max_cont_len; /* longest "##" token without its "##", bytes */
};

/* Id of s[0..n) (cont: of "##" + s[0..n)), or -1. */
int32_t vt_wp_vocab_lookup(const vt_wp_vocab *v, bool cont, const char *s, size_t n);

/* A vocabulary of `n` tokens given as strings (copied); duplicates: later wins. */
vt_wp_vocab *vt_wp_vocab_from_tokens(const char *const *tokens, const size_t *lens, int32_t n);

#endif
