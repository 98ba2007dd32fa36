/* Unicode properties as Hugging Face tokenizers' BERT pipeline sees them
 * (generated into unicode_tables.c by gen_unicode_tables.py; see there why). */
#ifndef VT_TEXT_UNICODE_TABLES_H
#define VT_TEXT_UNICODE_TABLES_H

#include <stddef.h>
#include <stdint.h>

typedef struct vt_uc_range {
    int32_t lo, hi; /* inclusive */
} vt_uc_range;

typedef struct vt_uc_map {
    int32_t cp;
    int32_t n;      /* 0..3 code points */
    int32_t to[3];
} vt_uc_map;

/* Sorted, disjoint ranges. */
extern const vt_uc_range vt_uc_other[]; /* Cc, Cf, Co removed by clean_text */
extern const size_t vt_uc_other_len;
extern const vt_uc_range vt_uc_mn[];    /* Mn among NFD-stable code points */
extern const size_t vt_uc_mn_len;
extern const vt_uc_range vt_uc_punct[]; /* BERT punctuation (ASCII symbols + P*) */
extern const size_t vt_uc_punct_len;
extern const vt_uc_range vt_uc_nonstarter[]; /* combining class > 0 in tokenizers' NFD */
extern const size_t vt_uc_nonstarter_len;
extern const vt_uc_range vt_uc_mark[]; /* what the StripAccents normalizer removes */
extern const size_t vt_uc_mark_len;
extern const vt_uc_range vt_uc_word[]; /* \w of the Whitespace pre-tokenizer (Oniguruma's) */
extern const size_t vt_uc_word_len;
extern const vt_uc_range vt_uc_numeric[]; /* Rust char::is_numeric, as the Digits pre-tokenizer */
extern const size_t vt_uc_numeric_len;

/* Sorted by cp: where tokenizers' NFD / lowercase differ from utf8proc's. */
extern const vt_uc_map vt_uc_nfd_exc[];
extern const size_t vt_uc_nfd_exc_len;
extern const vt_uc_map vt_uc_lower_exc[];
extern const size_t vt_uc_lower_exc_len;

extern const char vt_uc_utf8proc_version[];

#endif
