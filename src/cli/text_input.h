/* Reading text inputs and turning them into padded BERT batches. */
#ifndef VERTO_CLI_TEXT_INPUT_H
#define VERTO_CLI_TEXT_INPUT_H

#include <stddef.h>
#include <stdint.h>

#include "verto/bert.h"
#include "verto/tokenizer.h"

typedef struct cli_lines {
    char **text;   /* (n) NUL-terminated, owned */
    size_t *len;   /* (n) */
    size_t n;
} cli_lines;

/* Lines of `path` ("-" or NULL: stdin), or the `n_args` arguments when given.
 * Errors name the file. */
vt_status cli_lines_read(const char *path, char **args, int n_args, cli_lines *out);
void cli_lines_free(cli_lines *l);

/* A batch of encoded inputs laid out as BERT wants them. */
typedef struct cli_batch {
    vt_tok_encoding *enc;  /* (cap) reused between calls */
    size_t cap;
    int32_t *ids, *types, *mask; /* (B, T) */
    int64_t B, T;
} cli_batch;

/* Encodes lines [start, start + count) with [CLS]/[SEP], truncated to
 * max_length, padded to the longest in the batch. */
vt_status cli_batch_encode(cli_batch *b, const vt_tokenizer *tok, const cli_lines *lines, size_t start, size_t count,
                           int32_t max_length);
void cli_batch_free(cli_batch *b);

/* Points a vt_bert_batch at the encoded arrays. */
vt_bert_batch cli_batch_view(const cli_batch *b);

#endif
