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

/* Remembers that w cut into out's pieces [first, out->n), whose offsets are
 * still byte ranges [start, end) of w's normalized bytes (a model stores
 * them before it maps them to original offsets: original offsets cannot be
 * mapped back, since several bytes may share one). A word too long is not
 * stored; when the cache is full it is emptied first. Out of memory only
 * means it is not cached. */
void vt_word_cache_put(vt_word_cache *c, const vt_word *w, const vt_pieces *out, int32_t first);

/* Maps pieces [first, out->n) from byte ranges of w to original offsets,
 * as vt_wp_cut gives them: [start, end) becomes [w->ostart[start],
 * w->oend[end - 1]). A range reaching past w's end (BPE's byte fallback of
 * a character with a continuing_subword_prefix counts the prefix's bytes
 * too) keeps its word-relative numbers, as tokenizers keeps offsets it
 * cannot convert. */
void vt_word_pieces_to_original(const vt_word *w, vt_pieces *out, int32_t first);

#endif
