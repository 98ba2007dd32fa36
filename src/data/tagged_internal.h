/* The builder the tagged-data readers fill (src/data/tagged.c) and the two
 * row readers (src/data/tagged_rows.c). */
#ifndef VT_DATA_TAGGED_INTERNAL_H
#define VT_DATA_TAGGED_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "data/label_table.h"
#include "verto/tagged.h"

enum { TB_OK = 0, TB_SKIPPED = -1 }; /* else a vt_status (> 0) */

typedef struct tagged_builder {
    const vt_tagged_options *o;
    const char *name;        /* the file, for messages */
    vt_tagged *d;            /* n_skipped and notes are kept there */
    vt_label_table labels;
    bool follow;             /* labels come from o->id2label */
    char *text;              /* every token, each NUL-terminated */
    size_t text_len, text_cap;
    size_t *tok_off, *tok_len; /* (n_tok) */
    int32_t *tag;            /* (n_tok) */
    size_t n_tok, tok_cap;
    size_t *start;           /* (n_sent + 1) */
    int64_t *line;           /* (n_sent) */
    size_t n_sent, sent_cap;
    /* the sentence being read */
    bool open, open_bad;
    int64_t open_line;
} tagged_builder;

/* Starts a sentence on `line`. */
vt_status tb_begin(tagged_builder *b, int64_t line);

/* Adds a token and its tag (NULL when unlabelled) to the open sentence,
 * after checking them. Returns TB_OK, TB_SKIPPED (the sentence is now bad)
 * or an error status. */
int tb_token(tagged_builder *b, int64_t line, const char *tok, size_t len, const char *tag, size_t tag_len);

/* The same with a tag given as an id into the label map. */
int tb_token_id(tagged_builder *b, int64_t line, const char *tok, size_t len, double id);

/* A problem on `line`: an error, or with skip_bad_rows the open sentence is
 * marked bad (left out when it ends) and a note kept: TB_SKIPPED. */
int tb_bad(tagged_builder *b, int64_t line, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* Ends the open sentence (if any): kept, or dropped and counted if bad. */
vt_status tb_end(tagged_builder *b);

/* The row readers: fill b from the file's bytes (byte-order mark removed). */
vt_status tb_read_conll(tagged_builder *b, const char *data, size_t len);
vt_status tb_read_jsonl(tagged_builder *b, const char *data, size_t len);

#endif
