/* SentencePiece's normalization rules as its "precompiled_charsmap" stores
 * them (a darts-clone double-array trie over UTF-8 plus the replacement
 * strings), applied as tokenizers' Precompiled normalizer does: grapheme by
 * grapheme, a grapheme under 6 bytes whose prefix the trie knows is replaced
 * whole, else each of its characters is looked up alone. */
#ifndef VT_TEXT_PRECOMPILED_H
#define VT_TEXT_PRECOMPILED_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "text/nstr.h"

typedef struct vt_precompiled vt_precompiled;

/* Parses the charsmap given as base64 text (as tokenizer.json stores it).
 * Malformed data (bad base64, a trie size beyond the data, replacement text
 * that is not UTF-8, trie offsets out of range): VT_ERR_FORMAT naming
 * label. NULL on failure. */
vt_precompiled *vt_precompiled_from_base64(const char *b64, size_t len, const char *label);
void vt_precompiled_free(vt_precompiled *p);

/* The rewrite of s[0..len) (valid UTF-8) as changes for vt_nstr_transform
 * (appended to out, exactly the (char, change) list tokenizers builds, so
 * the alignments come out the same). *modified tells whether anything was
 * replaced (when not, the text stays as it is). */
vt_status vt_precompiled_changes(const vt_precompiled *p, const char *s, int32_t len, vt_nchanges *out,
                                 bool *modified);

#endif
