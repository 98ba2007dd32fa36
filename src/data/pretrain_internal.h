/* Internals shared by the pretraining-data files (src/data/pretrain_*.c). */
#ifndef VERTO_DATA_PRETRAIN_INTERNAL_H
#define VERTO_DATA_PRETRAIN_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "verto/pretrain_data.h"

/* The masker's counts of its 80/10/10 draws since creation. */
typedef struct vt_pt_mask_counts {
    int64_t as_mask, as_keep, as_random;
} vt_pt_mask_counts;
vt_pt_mask_counts vt_pt__masker_counts(const vt_pt_masker *m);

/* Python's random.randint(lo, hi), both ends included (hi >= lo). */
static inline int64_t vt_pt__randint(vt_rng *r, int64_t lo, int64_t hi) {
    return lo + (int64_t)vt_rng_below(r, (uint64_t)(hi - lo) + 1);
}

/* Is the line made only of what Python's str.strip() removes (Unicode
 * whitespace; empty included)? Then it is blank: it ends a document. */
bool vt_pt__blank_line(const char *s, size_t len);

/* ---- causal-LM blocks (pretrain_clm.c) ---- */

/* Receives each full block (n = block size ids). */
typedef vt_status (*vt_pt__block_fn)(void *ctx, const int32_t *ids, int32_t n);
typedef struct vt_pt__clm vt_pt__clm;
typedef struct vt_pt__clm_counts {
    int64_t documents, tokens, dropped; /* documents with tokens; ids on the stream; ids of the last partial block */
} vt_pt__clm_counts;

/* The end-of-text id: `name` when given, else <|endoftext|>, else </s>;
 * VT_ERR_FORMAT when the vocabulary has none. */
vt_status vt_pt__clm_eos(const vt_tokenizer *tok, const char *name, int32_t *eos);
vt_pt__clm *vt_pt__clm_new(const vt_tokenizer *tok, int32_t eos, int32_t block, vt_pt__block_fn emit, void *ctx);
void vt_pt__clm_free(vt_pt__clm *c);
/* One line of a text file (without its "\n"): a blank one ends the document,
 * others join it. Invalid UTF-8 is VT_ERR_FORMAT "path:line_no: ...". */
vt_status vt_pt__clm_line(vt_pt__clm *c, const char *path, int64_t line_no, const char *s, size_t len);
/* Ends the document being read (the end of a file does too). */
vt_status vt_pt__clm_end_document(vt_pt__clm *c);
/* One whole document (a JSONL record's `field`), verbatim. */
vt_status vt_pt__clm_document(vt_pt__clm *c, const char *path, int64_t line_no, const char *field, const char *text,
                              size_t len);
vt_pt__clm_counts vt_pt__clm_counts_of(const vt_pt__clm *c);

/* Little-endian stores and loads. */
static inline void vt_pt__put_u32(uint8_t *p, uint32_t v) {
    p[0] = (uint8_t)v, p[1] = (uint8_t)(v >> 8), p[2] = (uint8_t)(v >> 16), p[3] = (uint8_t)(v >> 24);
}
static inline void vt_pt__put_u64(uint8_t *p, uint64_t v) {
    vt_pt__put_u32(p, (uint32_t)v);
    vt_pt__put_u32(p + 4, (uint32_t)(v >> 32));
}
static inline uint32_t vt_pt__get_u32(const uint8_t *p) {
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}
static inline uint64_t vt_pt__get_u64(const uint8_t *p) {
    return (uint64_t)vt_pt__get_u32(p) | (uint64_t)vt_pt__get_u32(p + 4) << 32;
}

#endif
