/* Reading tokenizer.json: what the two files of the reader share. Every
 * error names the file and the field, e.g. "DIR/tokenizer.json:
 * pre_tokenizer.pretokenizers[1].behavior: ...". */
#ifndef VT_TEXT_TOKENIZER_JSON_H
#define VT_TEXT_TOKENIZER_JSON_H

#include <cjson/cJSON.h>

#include "text/tokenizer_internal.h"

/* The "type" member of obj, or NULL. */
const char *vt_tj_type(const cJSON *obj);

/* A component verto does not implement: VT_ERR_UNSUPPORTED naming file, where and what. */
vt_status vt_tj_unsupported(const char *file, const char *where, const char *what);

/* obj.key as a bool (dflt when absent or null). */
vt_status vt_tj_bool(const char *file, const char *where, const cJSON *obj, const char *key, bool dflt, bool *out);

/* obj.key as a string (NULL when absent or null; owned by obj). */
vt_status vt_tj_string(const char *file, const char *where, const cJSON *obj, const char *key, const char **out);

/* obj.key as an integer in [lo, hi] (dflt when absent). */
vt_status vt_tj_int(const char *file, const char *where, const cJSON *obj, const char *key, int64_t lo, int64_t hi,
                    int64_t dflt, int64_t *out);

/* "model" into t: t->model_vocab, the model (bpe / unigram), t->unk_id.
 * exact_scores: Unigram scores as their text's exact values, not as serde_json reads them. */
vt_status vt_tj_model(const char *file, const cJSON *m, bool exact_scores, vt_tokenizer *t);

/* "added_tokens" into t->added (each matching its content as it is). */
vt_status vt_tj_added_tokens(const char *file, const cJSON *added, vt_tokenizer *t);

/* t->vocab: the model's tokens with the added tokens over them (t->model_vocab
 * itself when the added tokens are all its own); an id no token has is an error. */
vt_status vt_tj_full_vocab(const char *file, vt_tokenizer *t);

/* The steps of "normalizer", "pre_tokenizer", "post_processor" and "decoder"
 * into t (Sequence components flattened). The post-processor's special tokens
 * are looked up in t->vocab, which must be complete. */
vt_status vt_tj_normalizer(const char *file, const cJSON *n, vt_tokenizer *t);
vt_status vt_tj_pre_tokenizer(const char *file, const cJSON *p, vt_tokenizer *t);
vt_status vt_tj_post_processor(const char *file, const cJSON *p, vt_tokenizer *t);
vt_status vt_tj_decoder(const char *file, const cJSON *d, vt_tokenizer *t);

#endif
