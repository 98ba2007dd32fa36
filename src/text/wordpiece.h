/* WordPiece: greedy longest-match-first cutting of one normalized word. */
#ifndef VT_TEXT_WORDPIECE_H
#define VT_TEXT_WORDPIECE_H

#include <stdint.h>

#include "text/pretok.h"
#include "text/vocab_internal.h"

/* Token pieces with original byte offsets; a growable array. */
typedef struct vt_pieces {
    int32_t *id, *start, *end; /* (n) */
    int32_t *word;             /* (n) the word (pre-tokenizer split) each came from, set by the encoder */
    int32_t n, cap;
} vt_pieces;

vt_status vt_pieces_push(vt_pieces *p, int32_t id, int32_t start, int32_t end);
void vt_pieces_free(vt_pieces *p);

/* Appends the pieces of w to out, as tokenizers' WordPiece::tokenize: a word
 * of more than max_chars characters, or one that cannot be cut completely,
 * becomes a single unk_id spanning the whole word. */
vt_status vt_wp_cut(const vt_wp_vocab *v, int32_t unk_id, int32_t max_chars, const vt_word *w, vt_pieces *out);

#endif
