/* Added tokens (tokens matched whole in the text before the model runs:
 * the special tokens, and any the user added), as tokenizers'
 * AddedVocabulary finds them. */
#ifndef VT_TEXT_ADDED_TOKENS_H
#define VT_TEXT_ADDED_TOKENS_H

#include "text/splits.h"
#include "text/tokenizer_internal.h"

/* Builds t's matching index from t->added (after every token's `match` is
 * set). VT_ERR_NOMEM only. */
vt_status vt_added_index(struct vt_tokenizer *t);

/* Cuts bytes [a, b) of buf at the added tokens found there, appending the
 * pieces (text, or a token's id) to out: the tokens with normalized = false
 * on raw text (normalized false), the others on normalized text (true).
 * Leftmost-longest matches; single_word, lstrip and rstrip as tokenizers
 * applies them; special tokens are skipped when split_special_tokens is set. */
vt_status vt_added_split(const struct vt_tokenizer *t, bool normalized, const vt_nstr *buf, int32_t a, int32_t b,
                         vt_splits *out);

#endif
