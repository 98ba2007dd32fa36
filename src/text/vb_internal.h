/* The vocabulary builder's state: counted words (vb_words.c), trained by
 * vocab_builder.c. */
#ifndef VT_TEXT_VB_INTERNAL_H
#define VT_TEXT_VB_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "text/pretok.h"
#include "verto/vocab_builder.h"

#define VT_VB_N_SPECIAL 5

struct vt_vocab_builder {
    vt_vb_options opt;
    vt_pretok_cfg cfg;
    vt_pretok_buf pb;
    char *arena; /* the distinct words, back to back */
    size_t arena_len, arena_cap;
    size_t *w_off;    /* (n_words) */
    int32_t *w_len;   /* (n_words) bytes */
    int64_t *w_count; /* (n_words) */
    size_t n_words, w_cap;
    int64_t *slot; /* (slot_cap) open addressing: word index or -1 */
    size_t slot_cap;
    int64_t total;
};

#endif
