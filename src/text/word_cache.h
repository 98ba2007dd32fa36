/* A per-thread cache of how words tokenize, for the subword models whose
 * cutting is costly (BPE merges, Unigram's lattice): text is mostly the same
 * words again. It lives in a thread's encoding scratch, never in the shared
 * tokenizer, so it needs no lock. Bounded: when full it is emptied. */
#ifndef VT_TEXT_WORD_CACHE_H
#define VT_TEXT_WORD_CACHE_H

#include <stdint.h>

#include "text/pretok.h"
#include "text/wordpiece.h"

typedef struct vt_word_cache vt_word_cache;

/* A cache holding up to max_words words of at most max_word_bytes bytes. NULL when out of memory. */
vt_word_cache *vt_word_cache_new(int32_t max_words, int32_t max_word_bytes);
void vt_word_cache_free(vt_word_cache *c);

/* If w's bytes are cached, appends its pieces to out (their offsets mapped
 * through w's alignments, as a fresh cut would give) and returns true. */
bool vt_word_cache_get(vt_word_cache *c, const vt_word *w, vt_pieces *out);

/* Remembers that w cut into out's pieces [first, out->n) (their offsets are
 * original ones; the cache stores them as byte ranges of w). A word too long
 * is not stored. Out of memory only means it is not cached. */
void vt_word_cache_put(vt_word_cache *c, const vt_word *w, const vt_pieces *out, int32_t first);

#endif
