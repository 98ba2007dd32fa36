/* Byte-pair encoding, as Hugging Face tokenizers' BPE model cuts one word
 * (byte-level or not: a byte-level tokenizer's pre-tokenizer has already
 * mapped the word's bytes to its alphabet, so the model sees characters). */
#ifndef VT_TEXT_BPE_H
#define VT_TEXT_BPE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "text/pretok.h"
#include "text/vocab_internal.h"
#include "text/word_cache.h"
#include "text/wordpiece.h"

typedef struct vt_bpe vt_bpe;

typedef struct vt_bpe_options {
    int32_t unk_id;                        /* -1: no unknown token (unknown characters are dropped) */
    const char *continuing_subword_prefix; /* NULL: none */
    const char *end_of_word_suffix;        /* NULL: none */
    bool fuse_unk;                         /* consecutive unknown characters make one unk */
    bool byte_fallback;                    /* unknown characters as <0xXX> tokens where the vocabulary has them */
    bool ignore_merges;                    /* a word that is in the vocabulary is one token */
} vt_bpe_options;

/* A BPE model over `vocab` (borrowed: it must outlive the model) and merges
 * (left[i], right[i]) of rank i (earlier merges apply first). Errors
 * (VT_ERR_FORMAT, "<label>: model.merges[i]: ..."): a side of a merge or
 * their merge is not in the vocabulary. NULL on failure. */
vt_bpe *vt_bpe_new(const vt_wp_vocab *vocab, const char *const *left, const char *const *right, size_t n,
                   const vt_bpe_options *o, const char *label);
void vt_bpe_free(vt_bpe *m);

/* The model's continuing_subword_prefix, NULL when it has none. */
const char *vt_bpe_continuing_prefix(const vt_bpe *m);

/* Appends the tokens of word w to out, offsets original as vt_wp_cut's.
 * cache (may be NULL) is the calling thread's. */
vt_status vt_bpe_tokenize(const vt_bpe *m, const vt_word *w, vt_word_cache *cache, vt_pieces *out);

#endif
