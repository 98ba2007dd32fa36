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
 * (as HF does) and tokenize as [UNK].
 *
 * With kind VT_VB_BYTE_LEVEL_BPE it trains GPT-2's byte-level BPE instead,
 * exactly as tokenizers' ByteLevelBPETokenizer(add_prefix_space=False).train
 * does: each line of the text (with its '\n') is cut by GPT-2's pattern, the
 * words' bytes become byte-level characters, the vocabulary is the special
 * tokens, the 256 byte characters in code point order, then one token per
 * merge of the most frequent pair (ties: the pair of smaller ids), with
 * tokenizers' bookkeeping kept as it is (see bpe_trainer.c). */
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

typedef enum vt_vb_kind {
    VT_VB_WORDPIECE = 0,      /* BertWordPieceTokenizer's vocab.txt */
    VT_VB_BYTE_LEVEL_BPE = 1, /* GPT-2's byte-level BPE: vocabulary + merges */
} vt_vb_kind;

typedef struct vt_vb_options {
    int32_t vocab_size;     /* target size including the special tokens (default 30522) */
    int64_t min_frequency;  /* a merge needs a pair seen this often (default 2) */
    int32_t limit_alphabet; /* at most this many characters (default 1000; 0: no limit) */
    vt_tok_options text;    /* normalization; vt_tok_options_default (uncased) by default */
    /* Byte-level BPE only (text and limit_alphabet are then not used): */
    vt_vb_kind kind;                   /* default VT_VB_WORDPIECE */
    const char *const *special_tokens; /* (n_special_tokens) first in the vocabulary, copied by vt_vb_create */
    int32_t n_special_tokens;
} vt_vb_options;

/* Fills the defaults above. */
VT_API void vt_vb_options_default(vt_vb_options *o);

typedef struct vt_vocab_builder vt_vocab_builder;

/* A builder with no words yet; NULL on bad options (vocab_size < 5,
 * min_frequency < 0, limit_alphabet < 0; for byte-level BPE a vocab_size
 * below the 256 byte characters plus the distinct special tokens, or an
 * empty special token) or no memory. */
VT_API vt_vocab_builder *vt_vb_create(const vt_vb_options *o);

VT_API void vt_vb_free(vt_vocab_builder *b);

/* Counts the words of text[0..len) (UTF-8; invalid bytes are dropped). For
 * byte-level BPE each line is one sequence, as tokenizers reads a file, and
 * invalid UTF-8 is an error (VT_ERR_FORMAT naming the line). */
VT_API vt_status vt_vb_add_text(vt_vocab_builder *b, const char *text, size_t len);

/* Counts the words of a whole file, read in pieces that end at line breaks.
 * Errors name the file (and for byte-level BPE's invalid UTF-8, file:line). */
VT_API vt_status vt_vb_add_file(vt_vocab_builder *b, const char *path);

/* Distinct words and total words counted so far. */
VT_API size_t vt_vb_distinct_words(const vt_vocab_builder *b);
VT_API int64_t vt_vb_total_words(const vt_vocab_builder *b);

/* Trains and returns the vocabulary ([PAD] [UNK] [CLS] [SEP] [MASK] first),
 * which the caller frees (vt_wp_vocab_free). It may be smaller than
 * vocab_size when the corpus runs out of pairs, and larger when the special
 * tokens and the alphabet alone exceed it. The builder may be trained again.
 * A byte-level BPE builder is refused (VT_ERR_INVALID_ARG): see vt_vb_train_bpe. */
VT_API vt_wp_vocab *vt_vb_train(vt_vocab_builder *b);

/* ---- byte-level BPE ------------------------------------------------------ */

/* A trained byte-level BPE: tokens by id (special tokens, the 256 byte
 * characters, then the merges' results) and the merges in rank order. */
typedef struct vt_bpe_vocab vt_bpe_vocab;

/* Trains a builder of kind VT_VB_BYTE_LEVEL_BPE; the caller frees the result
 * (vt_bpe_vocab_free). It holds fewer than vocab_size tokens when no pair is
 * seen min_frequency times (or at all). NULL with vt_last_error() on a
 * builder of another kind or no memory. The builder may be trained again. */
VT_API vt_bpe_vocab *vt_vb_train_bpe(vt_vocab_builder *b);

VT_API void vt_bpe_vocab_free(vt_bpe_vocab *v);

/* Number of tokens; token id's text (byte-level characters, UTF-8, NUL-
 * terminated; NULL out of range); the number of special tokens (ids 0..). */
VT_API int32_t vt_bpe_vocab_size(const vt_bpe_vocab *v);
VT_API const char *vt_bpe_vocab_token(const vt_bpe_vocab *v, int32_t id);
VT_API int32_t vt_bpe_vocab_n_special(const vt_bpe_vocab *v);

/* Number of merges; merge i (rank order) as the ids of its left and right
 * tokens (VT_ERR_INVALID_ARG out of range). */
VT_API int32_t vt_bpe_vocab_n_merges(const vt_bpe_vocab *v);
VT_API vt_status vt_bpe_vocab_merge(const vt_bpe_vocab *v, int32_t i, int32_t *left, int32_t *right);

/* Writes the tokenizer.json ByteLevelBPETokenizer.save writes (the same
 * text: ByteLevel pre-tokenizer, post-processor and decoder, the BPE model,
 * the special tokens as added tokens), atomically. */
VT_API vt_status vt_bpe_vocab_save_json(const vt_bpe_vocab *v, const char *path);

/* Writes dir/vocab.json and dir/merges.txt as save_model writes them
 * (GPT2Tokenizer's files), atomically; dir is created if missing. */
VT_API vt_status vt_bpe_vocab_save_files(const vt_bpe_vocab *v, const char *dir);

#ifdef __cplusplus
}
#endif
#endif
