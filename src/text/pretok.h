/* BertNormalizer + BertPreTokenizer in one pass: turns text into normalized
 * words, each byte of which remembers the original byte range of the input
 * character it came from (for offsets). */
#ifndef VT_TEXT_PRETOK_H
#define VT_TEXT_PRETOK_H

#include <stdbool.h>
#include <stdint.h>
#include <stddef.h>

#include "verto/error.h"

typedef struct vt_pretok_cfg {
    bool lowercase;
    bool strip_accents; /* NFD, then drop non-spacing marks */
    bool chinese;       /* isolate CJK ideographs */
    bool keep_spaces;   /* BertNormalizer alone: whitespace becomes ' ', punctuation stays, CJK
                           ideographs get a space on each side, and the whole text is one word */
} vt_pretok_cfg;

typedef struct vt_word {
    const char *s;                /* normalized UTF-8, not NUL-terminated */
    int32_t len;                  /* bytes */
    int32_t nchars;               /* code points */
    const int32_t *ostart, *oend; /* (len) original [start, end) byte range per byte */
} vt_word;

/* Called per word; a non-VT_OK return stops the run and is returned. */
typedef vt_status (*vt_word_fn)(void *ud, const vt_word *w);

typedef struct vt_run_char {
    int32_t cp, os, oe;
    uint8_t ccc;
    bool mark; /* a non-spacing mark, dropped after ordering */
} vt_run_char;

/* Reusable working memory (zero-initialise; free with vt_pretok_buf_free). */
typedef struct vt_pretok_buf {
    char *s;
    int32_t *ostart, *oend;
    int32_t len, cap, nchars;
    vt_run_char *run;  /* (n_run) pending non-starters, see pretok.c */
    int32_t n_run, cap_run;
    bool run_dirty;    /* the run is out of canonical order */
} vt_pretok_buf;

void vt_pretok_buf_free(vt_pretok_buf *b);

/* Normalizes and splits text[0..len); original offsets are reported as
 * base + position. Errors: VT_ERR_NOMEM, or whatever fn returns. */
vt_status vt_pretok_run(const vt_pretok_cfg *cfg, const char *text, size_t len, int32_t base, vt_pretok_buf *b,
                        vt_word_fn fn, void *ud);

#endif
