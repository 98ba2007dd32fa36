/* Tagged data sets for token classification (NER, POS): sentences of
 * tokens, one tag per token, from CoNLL-style files or JSONL.
 *
 * Formats (chosen by extension, or given):
 *   CoNLL  (.conll, .conll03, .iob, .iob1, .iob2, .bio, .bioes, .txt, .tsv)
 *          one token per line: fields separated by TABs when the line has
 *          one (a field may then hold spaces; spaces around fields are
 *          dropped), else by runs of spaces; the token is the FIRST field and
 *          its tag the LAST (CoNLL-2003's "EU NNP B-NP B-ORG" gives "EU" and
 *          "B-ORG"; two-column files work the same); a blank line (or one of
 *          spaces) ends a sentence; a line whose first field is -DOCSTART-
 *          is left out and ends the sentence too. A sentence's line is its
 *          first token's; token k of it is on that line + k.
 *   JSONL  (.jsonl, .ndjson, .json) one JSON object per line, a sentence:
 *          {"tokens": ["EU", "rejects", ...], "tags": ["B-ORG", "O", ...]};
 *          the tags' key may also be "ner_tags" (read when "tags" is absent);
 *          tags are strings, or integers that index a given label map
 *          (id2label) -- HF datasets' exports store ner_tags so. Other keys
 *          are ignored. "tokens": [] is a sentence of no tokens.
 * In both: a UTF-8 byte-order mark at the start is skipped; lines end in LF
 * or CRLF; tokens and tags must be valid UTF-8 without NUL, and not empty.
 *
 * Problems, each "FILE:LINE: what is wrong" (VT_ERR_FORMAT), or with
 * skip_bad_rows the sentence holding it is left out and counted: a CoNLL
 * line with one field (a token without a tag), JSONL tokens and tags of
 * different lengths, invalid JSON or a missing / non-array key, a
 * non-string token, invalid UTF-8, a tag outside a given label map, a tag
 * not valid for the scheme (e.g. "X-PER" or an "E-" tag in IOB2 data; see
 * verto/ner.h). Format problems are found in reading order; scheme problems
 * after the whole file is read (the scheme may be detected from it). A file
 * with no sentences, none left, or no tokens at all is an error naming the
 * file.
 *
 * Labels: the tags that occur, as ids 0..K-1. By default sorted bytewise
 * (what transformers' run_ner.py does with string labels: the ids do not
 * depend on the order of the file, so train, validation and a shuffled copy
 * agree); VT_LABELS_FIRST_SEEN numbers them in order of first appearance. A
 * given label map (id2label of a model being fine-tuned or evaluated) is
 * followed as it is: its ids, all its labels, and a tag outside it is a bad
 * row.
 *
 * Scheme: VT_SCHEME_AUTO detects it from the labels (and the tag sequences,
 * for IOB1 vs IOB2; vt_tag_scheme_detect), VT_SCHEME_NONE takes any tag,
 * any other scheme is checked.
 *
 * The library prints nothing; on failure *out is left empty (zeroed) and the
 * message is in vt_last_error(). */
#ifndef VERTO_TAGGED_H
#define VERTO_TAGGED_H

#include "verto/export.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "verto/dataset.h"
#include "verto/error.h"
#include "verto/ner.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum vt_tagged_format {
    VT_TAGGED_AUTO = 0, /* from the file name's extension */
    VT_TAGGED_CONLL,
    VT_TAGGED_JSONL,
} vt_tagged_format;

/* "conll", "jsonl" ("auto"); and back, case-insensitively (false if
 * unknown; "ndjson" and "json" read as JSONL). */
VT_API const char *vt_tagged_format_name(vt_tagged_format f);
VT_API bool vt_tagged_format_parse(const char *name, vt_tagged_format *out);
/* The format a path's extension names (see above), VT_TAGGED_AUTO if none. */
VT_API vt_tagged_format vt_tagged_format_from_path(const char *path);

typedef struct vt_tagged_options {
    vt_tagged_format format;     /* VT_TAGGED_AUTO: from the path's extension (an error if none) */
    const char *tokens_key;      /* JSONL; NULL: "tokens" */
    const char *tags_key;        /* JSONL; NULL: "tags", or "ner_tags" when a row has no "tags" */
    bool unlabelled;             /* read tokens only (CoNLL: the first field; JSONL: no tags key needed) */
    bool skip_bad_rows;          /* leave out sentences with a problem and count them instead of failing */
    vt_label_order order;        /* how a new label map is numbered (verto/dataset.h) */
    vt_tag_scheme scheme;        /* VT_SCHEME_AUTO (default): detect; NONE: any tag; else checked */
    const char *const *id2label; /* (num_labels) an existing map to follow, or NULL */
    int num_labels;
    int max_labels;              /* > 0: more distinct tags than this is an error */
    size_t max_file_bytes;       /* > 0: a larger file is an error (default 0: no limit) */
} vt_tagged_options;

/* Zero everything: auto format, default keys, sorted labels, auto scheme, no limits. */
VT_API void vt_tagged_options_default(vt_tagged_options *o);

#define VT_TAGGED_NOTES 8

typedef struct vt_tagged {
    size_t n;               /* sentences */
    size_t *start;          /* (n + 1) sentence s is tokens [start[s], start[s + 1]); start[0] = 0 */
    size_t n_tokens;        /* start[n] */
    char **token;           /* (n_tokens) NUL-terminated UTF-8, owned (one block): pass it, with
                               token_len, straight to vt_tok_encode_words */
    size_t *token_len;      /* (n_tokens) bytes */
    int32_t *tag;           /* (n_tokens) ids in [0, num_labels), or NULL when unlabelled */
    int64_t *line;          /* (n) 1-based line where each sentence starts */
    int num_labels;
    char **id2label;        /* (num_labels) owned NUL-terminated tags */
    vt_tag_scheme scheme;   /* the scheme the tags follow (given or detected; NONE when unlabelled) */
    vt_tagged_format format;
    size_t n_skipped;       /* sentences left out (skip_bad_rows) */
    int n_notes;            /* messages kept for the first of them */
    char notes[VT_TAGGED_NOTES][256]; /* "FILE:LINE: what is wrong" */
    char *bytes;            /* private: the tokens' storage */
} vt_tagged;

/* Reads `path` ("-" reads standard input, named "stdin" in messages; give
 * the format then) into *out (zeroed first). `o` NULL means the defaults.
 * Returns VT_OK, or VT_ERR_IO / VT_ERR_FORMAT / VT_ERR_INVALID_ARG /
 * VT_ERR_NOMEM with *out left empty. Free with vt_tagged_free. */
VT_API vt_status vt_tagged_load(const char *path, const vt_tagged_options *o, vt_tagged *out);

/* The same from `len` bytes at `data` (need not be NUL-terminated; not
 * kept). `name` stands for the file in messages and, with VT_TAGGED_AUTO,
 * gives the extension. This is the fuzzers' entry. */
VT_API vt_status vt_tagged_parse(const char *data, size_t len, const char *name, const vt_tagged_options *o,
                                 vt_tagged *out);

VT_API void vt_tagged_free(vt_tagged *d);

/* Id of tag `name` in d's map, or -1. */
VT_API int32_t vt_tagged_label_id(const vt_tagged *d, const char *name);

#ifdef __cplusplus
}
#endif
#endif
