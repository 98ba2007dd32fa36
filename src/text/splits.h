/* The pieces an input is cut into before the model sees it, as tokenizers'
 * PreTokenizedString holds them: byte ranges of a normalized string, some
 * already an added token. And the working memory one encoding call uses. */
#ifndef VT_TEXT_SPLITS_H
#define VT_TEXT_SPLITS_H

#include <stdbool.h>
#include <stdint.h>

#include "text/nstr.h"
#include "text/pretok.h"
#include "text/word_cache.h"
#include "text/wordpiece.h"

typedef struct vt_split {
    int32_t start, end; /* bytes of the current buffer */
    int32_t id;         /* an added token's id, or -1: text for the next steps */
} vt_split;

typedef struct vt_splits {
    vt_split *v;
    int32_t n, cap;
} vt_splits;

/* Appends [start, end) unless it is empty (tokenizers drops empty pieces). */
vt_status vt_splits_push(vt_splits *l, int32_t start, int32_t end, int32_t id);
void vt_splits_free(vt_splits *l);

/* A pattern's matches over a range: consecutive events that cover it, each
 * a match or the text between (tokenizers' find_matches). */
typedef struct vt_match {
    int32_t start, end;
    bool is_match;
} vt_match;

typedef struct vt_matches {
    vt_match *v;
    int32_t n, cap;
} vt_matches;

vt_status vt_matches_push(vt_matches *m, int32_t start, int32_t end, bool is_match);
void vt_matches_free(vt_matches *m);

/* Working memory of one encoding (one thread). The current state is
 * buf[cur_buf] with its pieces splits[cur_splits]; a step writes the other
 * of each pair and flips. */
typedef struct vt_tok_work {
    vt_nstr buf[2];
    int cur_buf;
    vt_splits splits[2];
    int cur_splits;
    vt_nstr seg[3];      /* normalizing one piece */
    vt_matches matches;
    vt_nchanges changes;
    vt_pretok_buf pb;    /* BERT's one-pass pipeline */
    vt_word_cache *cache;
    vt_pieces seq[2];    /* the tokens of sequences A and B */
    int32_t *word[2];    /* (seq[k].n) the word (pre-tokenizer split) of each of those tokens */
    int32_t word_cap[2];
    vt_splits piece_src; /* offset trimming: which added token's split each piece is */
} vt_tok_work;

void vt_tok_work_free(vt_tok_work *w);

#endif
