/* Training a WordPiece vocabulary from text, like Hugging Face's
 * BertWordPieceTokenizer.train (tokenizers' WordPieceTrainer).
 *
 * Text is normalized and split into words exactly as the tokenizer does
 * (vt_tok_options: lowercase, strip_accents, tokenize_chinese_chars) and the
 * words are counted. Training then keeps an alphabet of the limit_alphabet most
 * frequent characters, starts from the special tokens, the alphabet and its
 * "##" continuation forms, and adds BPE merges of the most frequent adjacent
 * pair (ties: the pair of smaller ids) until vocab_size tokens exist or no pair
 * occurs min_frequency times. A merged token is the left piece followed by the
 * right one without its "##". Unlike HF, the result is deterministic: the
 * alphabet is in code point order, then its "##" forms, then the merges.
 * Characters left out of the alphabet are dropped from words before merging
 * (as HF does) and tokenize as [UNK]. */
#ifndef VERTO_VOCAB_BUILDER_H
#define VERTO_VOCAB_BUILDER_H

#include "verto/export.h"

#include <stddef.h>
#include <stdint.h>

#include "verto/error.h"
#include "verto/tokenizer.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct vt_vb_options {
    int32_t vocab_size;     /* target size including the special tokens (default 30522) */
    int64_t min_frequency;  /* a merge needs a pair seen this often (default 2) */
    int32_t limit_alphabet; /* at most this many characters (default 1000; 0: no limit) */
    vt_tok_options text;    /* normalization; vt_tok_options_default (uncased) by default */
} vt_vb_options;

/* Fills the defaults above. */
VT_API void vt_vb_options_default(vt_vb_options *o);

typedef struct vt_vocab_builder vt_vocab_builder;

/* A builder with no words yet; NULL on bad options (vocab_size < 5,
 * min_frequency < 0, limit_alphabet < 0) or no memory. */
VT_API vt_vocab_builder *vt_vb_create(const vt_vb_options *o);

VT_API void vt_vb_free(vt_vocab_builder *b);

/* Counts the words of text[0..len) (UTF-8; invalid bytes are dropped). */
VT_API vt_status vt_vb_add_text(vt_vocab_builder *b, const char *text, size_t len);

/* Counts the words of a whole file, read in pieces that end at line breaks.
 * Errors name the file. */
VT_API vt_status vt_vb_add_file(vt_vocab_builder *b, const char *path);

/* Distinct words and total words counted so far. */
VT_API size_t vt_vb_distinct_words(const vt_vocab_builder *b);
VT_API int64_t vt_vb_total_words(const vt_vocab_builder *b);

/* Trains and returns the vocabulary ([PAD] [UNK] [CLS] [SEP] [MASK] first),
 * which the caller frees (vt_wp_vocab_free). It may be smaller than
 * vocab_size when the corpus runs out of pairs, and larger when the special
 * tokens and the alphabet alone exceed it. The builder may be trained again. */
VT_API vt_wp_vocab *vt_vb_train(vt_vocab_builder *b);

#ifdef __cplusplus
}
#endif
#endif
