/* Per-code-point classes of the BERT normalizer and pre-tokenizer, with the
 * Unicode data of Hugging Face tokenizers (unicode_tables.c) and utf8proc. */
#ifndef VT_TEXT_UNICODE_H
#define VT_TEXT_UNICODE_H

#include <stdint.h>

enum {
    VT_UC_DROP = 1,    /* removed by clean_text: NUL, U+FFFD, Cc/Cf/Co except \t \n \r */
    VT_UC_WS = 2,      /* Rust char::is_whitespace (White_Space) */
    VT_UC_PUNCT = 4,   /* BERT punctuation */
    VT_UC_CJK = 8,     /* BERT's _is_chinese_char ranges */
    VT_UC_MN = 16,     /* non-spacing mark removed when stripping accents */
    VT_UC_DECOMP = 32, /* NFD changes it */
    VT_UC_LOWER = 64,  /* lowercasing changes it */
    VT_UC_NONSTARTER = 128, /* combining class > 0 (canonical reordering) */
};

/* General classes for the other pre-tokenizers (vt_uc_class). */
enum {
    VT_UCC_LETTER = 1,  /* L*: \p{L} (utf8proc's categories) */
    VT_UCC_NUMBER = 2,  /* N*: \p{N} (utf8proc's categories) */
    VT_UCC_WORD = 4,    /* \w of the Whitespace pre-tokenizer (vt_uc_word) */
    VT_UCC_MARK = 8,    /* what StripAccents removes (vt_uc_mark) */
    VT_UCC_NUMERIC = 16, /* Rust char::is_numeric of tokenizers' Unicode (vt_uc_numeric) */
};

/* VT_UCC_* classes of any code point (vt_uc_init must have run). */
uint8_t vt_uc_class(int32_t cp);

/* Flags of code points 0..0x7F (filled by vt_uc_init). */
extern uint8_t vt_uc_ascii[128];

/* Builds the lookup tables once (thread-safe, cheap after the first call). */
void vt_uc_init(void);

/* VT_UC_* flags of any code point (vt_uc_init must have run). */
uint8_t vt_uc_flags(int32_t cp);

/* NFD of cp as tokenizers computes it; writes up to 4 code points (canonical
 * decompositions are at most 4 long). Returns the count. */
int vt_uc_nfd(int32_t cp, int32_t out[4]);

/* Rust char::to_lowercase of cp; writes up to 3 code points, returns the count. */
int vt_uc_lower(int32_t cp, int32_t out[3]);

/* Canonical combining class: utf8proc's, or 0 for characters tokenizers'
 * NFD does not know. */
int vt_uc_ccc(int32_t cp);

#endif
