/* The Unigram language model (SentencePiece's, as Hugging Face tokenizers'
 * Unigram cuts one word): the segmentation of highest total log-probability
 * (Viterbi over the lattice of vocabulary pieces); characters no piece covers
 * score as unk (min score - 10), and consecutive unks fuse into one. */
#ifndef VT_TEXT_UNIGRAM_H
#define VT_TEXT_UNIGRAM_H

#include <stdbool.h>
#include <stdint.h>

#include "text/pretok.h"
#include "text/vocab_internal.h"
#include "text/word_cache.h"
#include "text/wordpiece.h"

typedef struct vt_unigram vt_unigram;

/* A model over `vocab` (borrowed; ids 0 .. n-1) with score scores[id] (the
 * log-probability; copied). unk_id must be a valid id (VT_ERR_FORMAT naming
 * label otherwise). byte_fallback: unknown characters become <0xXX> tokens
 * when the vocabulary has all of a character's bytes. NULL on failure. */
vt_unigram *vt_unigram_new(const vt_wp_vocab *vocab, const double *scores, int32_t unk_id, bool byte_fallback,
                           const char *label);
void vt_unigram_free(vt_unigram *m);

/* Appends the tokens of word w to out (offsets as vt_wp_cut's). */
vt_status vt_unigram_tokenize(const vt_unigram *m, const vt_word *w, vt_word_cache *cache, vt_pieces *out);

#endif
