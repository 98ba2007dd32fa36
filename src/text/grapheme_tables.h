/* Where tokenizers' grapheme clusters differ from utf8proc's (generated into
 * grapheme_tables.c by gen_grapheme_tables.py; see there why and how). */
#ifndef VT_TEXT_GRAPHEME_TABLES_H
#define VT_TEXT_GRAPHEME_TABLES_H

#include <stddef.h>
#include <stdint.h>

/* Sorted code points that join the character before them in tokenizers
 * (Extend, SpacingMark) but not in utf8proc, and the other way round. */
extern const int32_t vt_gr_join[];
extern const size_t vt_gr_join_len;
extern const int32_t vt_gr_nojoin[];
extern const size_t vt_gr_nojoin_len;

extern const char vt_gr_utf8proc_version[];

#endif
