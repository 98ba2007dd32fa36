/* GPT-2's byte-level scheme: every byte stands for a printable character
 * (bytes_to_unicode), and text is first cut by GPT-2's regex. */
#ifndef VT_TEXT_BYTE_LEVEL_H
#define VT_TEXT_BYTE_LEVEL_H

#include <stdint.h>

/* The character standing for byte b (U+0021..U+0143). */
int32_t vt_byte_level_char(unsigned char b);

/* The byte a stand-in character cp stands for, or -1 if cp is none. */
int vt_byte_level_byte(int32_t cp);

/* The end of the match of GPT-2's pattern
 *   's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
 * that starts at byte i of s[0..len) (valid UTF-8, i < len). Every position
 * starts a match, so the matches from 0 cover the text. */
int32_t vt_gpt2_next(const char *s, int32_t len, int32_t i);

#endif
