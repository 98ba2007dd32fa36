/* Labelled data sets for fine-tuning and evaluation: TSV, CSV and JSONL.
 *
 * A labelled file holds one example per row: a text, optionally a second text
 * (sentence pairs), and a label string. Labels are mapped to ids 0..K-1 and
 * the map (id2label) is returned with the data, ready for the config's
 * id2label/label2id.
 *
 * Formats (chosen by extension, or given):
 *   .tsv    a header row naming the columns, then one row per line; fields
 *           are separated by TAB and are never quoted (a '"' is an ordinary
 *           character, as in GLUE's files), so a field cannot hold a TAB or
 *           a newline.
 *   .csv    RFC 4180: a header row; fields separated by ','; a field in
 *           double quotes may hold commas, newlines (CRLF or LF) and doubled
 *           quotes (""); a '"' inside an unquoted field is kept literally (as
 *           Python's csv module does); after a closing quote only ',' or the
 *           end of the row may follow. A row's line is where it starts.
 *   .jsonl  (also .ndjson, .json) one JSON object per line:
 *           {"text": "...", "text_b": "..." (optional, string or null),
 *            "label": "..." (a string, or an integer, read as its decimal
 *            string)}; other keys are ignored.
 * Column / key names default to "text", "text_b" and "label". In every
 * format: a UTF-8 byte-order mark at the start is skipped; lines end in LF
 * or CRLF; blank lines are skipped; every text and label must be valid UTF-8
 * without NUL bytes; a label must not be empty.
 *
 * A malformed row (wrong number of fields, unterminated quote, invalid JSON,
 * a missing or non-string text, a missing label, invalid UTF-8, a label not
 * in the map being followed, ...) is an error "FILE:LINE: what is wrong"
 * (VT_ERR_FORMAT), or, with skip_bad_rows, is left out and counted. A file
 * with no header, no rows, or no rows left is an error naming the file. A
 * header problem (missing or duplicate column) is always an error.
 *
 * Kinds of label (vt_labelled_options.kind):
 *   VT_LABEL_SINGLE (default)  one label per row, as above; ids in `label`.
 *   VT_LABEL_MULTI   a set of labels per row (possibly empty). The label
 *           column / key defaults to "labels". JSONL: a list of strings or
 *           integers (["billing", "urgent"], [], [3, 7]); a string is read
 *           like a TSV/CSV cell. TSV/CSV: one cell joined by label_separator
 *           (default ",", as GoEmotions' "6,27"; in CSV quote such a cell:
 *           "billing,urgent"); spaces around each label are dropped; an empty
 *           cell is the empty set; an empty label inside a list ("a,,b", "a,")
 *           is a bad row; a label repeated within a row counts once. Every
 *           label obeys the single-label rules (UTF-8, max_label_bytes, a map
 *           being followed; max_labels). The result is `multi_hot` (n,
 *           num_labels). A file whose rows name no label at all (and no map
 *           is given) is an error.
 *   VT_LABEL_REGRESSION  a real number per row; `target` (n) holds it.
 *           JSONL: a JSON number, or a string holding a number as below.
 *           TSV/CSV: a decimal number ([+-] (digits [. [digits]] | . digits)
 *           [(e|E) [+-] digits], spaces around it dropped): what Python's
 *           float() reads, less "inf", "nan" and '_' between digits; the
 *           nearest double (strtod). An empty cell, anything else, or
 *           a number beyond the double range is a bad row (NaN and infinities
 *           are never targets). id2label / order / max_labels do not apply
 *           (num_labels is 0, id2label NULL).
 *
 * Label ids: by default the distinct labels are sorted, numerically when
 * every label is a decimal integer ("2" < "10"), bytewise otherwise, so the
 * ids do not depend on row order (reproducible across shuffles and splits).
 * VT_LABELS_FIRST_SEEN numbers them in order of first appearance instead.
 * Given an existing map (id2label of a model being fine-tuned further or
 * evaluated), its ids are used as they are and a label outside it is a bad
 * row.
 *
 * The library prints nothing; on failure *out is left empty (zeroed) and the
 * message is in vt_last_error(). */
#ifndef VERTO_DATASET_H
#define VERTO_DATASET_H

#include "verto/export.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "verto/error.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum vt_data_format {
    VT_DATA_AUTO = 0, /* from the file name's extension */
    VT_DATA_TSV,
    VT_DATA_CSV,
    VT_DATA_JSONL,
} vt_data_format;

/* "tsv", "csv", "jsonl" ("auto" for VT_DATA_AUTO); and back (false if unknown;
 * "ndjson" and "json" read as JSONL). */
VT_API const char *vt_data_format_name(vt_data_format f);
VT_API bool vt_data_format_parse(const char *name, vt_data_format *out);
/* The format a path's extension names (case-insensitive), VT_DATA_AUTO if none. */
VT_API vt_data_format vt_data_format_from_path(const char *path);

typedef enum vt_label_order {
    VT_LABELS_SORTED = 0,  /* numeric if all labels are integers, else bytewise (default) */
    VT_LABELS_FIRST_SEEN,  /* in order of first appearance in the file */
} vt_label_order;

typedef enum vt_label_kind {
    VT_LABEL_SINGLE = 0,  /* one label per row (default) */
    VT_LABEL_MULTI,       /* a set of labels per row: multi_hot */
    VT_LABEL_REGRESSION,  /* a real number per row: target */
} vt_label_kind;

/* "single", "multi", "regression"; and back (false if unknown; also
 * "single-label", "multi-label"). */
VT_API const char *vt_label_kind_name(vt_label_kind k);
VT_API bool vt_label_kind_parse(const char *name, vt_label_kind *out);

typedef struct vt_labelled_options {
    vt_data_format format;       /* VT_DATA_AUTO: from the path's extension (an error if none) */
    const char *text_column;     /* NULL: "text" (required) */
    const char *text_b_column;   /* NULL: "text_b", read when the header / a row has it;
                                    a name given here must be in a CSV/TSV header */
    const char *label_column;    /* NULL: "label" ("labels" for VT_LABEL_MULTI) */
    vt_label_kind kind;          /* what a label cell holds (default single) */
    const char *label_separator; /* VT_LABEL_MULTI in TSV/CSV (and JSONL strings): NULL: ","; not "" */
    bool unlabelled;             /* read texts only: no label of any kind is read (label,
                                    multi_hot and target NULL) */
    bool skip_bad_rows;          /* leave out malformed rows and count them instead of failing */
    vt_label_order order;        /* how new label maps are numbered */
    const char *const *id2label; /* (num_labels) an existing map to follow, or NULL */
    int num_labels;              /* entries of id2label */
    int max_labels;              /* > 0: more distinct labels than this is an error */
    size_t max_label_bytes;      /* > 0: a longer label is a bad row */
    size_t max_file_bytes;       /* > 0: a larger file is an error (default 0: no limit) */
} vt_labelled_options;

/* Zero everything: auto format, default column names, sorted labels, no limits. */
VT_API void vt_labelled_options_default(vt_labelled_options *o);

#define VT_LABELLED_NOTES 8

typedef struct vt_labelled {
    size_t n;               /* examples */
    char **text;            /* (n) NUL-terminated UTF-8, owned */
    size_t *text_len;       /* (n) bytes */
    char **text_b;          /* (n) or NULL when no row has a second text; an entry is NULL
                               for a JSONL row without one (encode it as a single text) */
    size_t *text_b_len;     /* (n) or NULL; 0 where text_b[i] is NULL */
    vt_label_kind kind;     /* the kind that was read */
    int32_t *label;         /* (n) ids in [0, num_labels) for VT_LABEL_SINGLE, else NULL */
    uint8_t *multi_hot;     /* (n, num_labels) row-major, 1 where the row has the label, 0
                               elsewhere; VT_LABEL_MULTI only, else NULL */
    double *target;         /* (n) finite regression targets; VT_LABEL_REGRESSION only, else NULL */
    int64_t *line;          /* (n) 1-based line where each example starts */
    int num_labels;         /* 0 when unlabelled or for regression */
    char **id2label;        /* (num_labels) owned NUL-terminated names */
    vt_data_format format;  /* the format that was read */
    size_t n_skipped;       /* bad rows left out (skip_bad_rows) */
    int n_notes;            /* messages kept for the first skipped rows */
    char notes[VT_LABELLED_NOTES][256]; /* "FILE:LINE: what is wrong" */
} vt_labelled;

/* Reads `path` ("-" reads standard input, named "stdin" in messages; give
 * the format then) into *out (zeroed first). `o` NULL
 * means the defaults. Returns VT_OK, or VT_ERR_IO / VT_ERR_FORMAT /
 * VT_ERR_INVALID_ARG / VT_ERR_NOMEM with *out left empty. Free with
 * vt_labelled_free. */
VT_API vt_status vt_labelled_load(const char *path, const vt_labelled_options *o, vt_labelled *out);

/* The same from `len` bytes at `data` (need not be NUL-terminated; not kept).
 * `name` stands for the file in messages and, with VT_DATA_AUTO, gives the
 * extension. This is the fuzzers' entry. */
VT_API vt_status vt_labelled_parse(const char *data, size_t len, const char *name, const vt_labelled_options *o,
                                   vt_labelled *out);

VT_API void vt_labelled_free(vt_labelled *d);

/* Keeps a seeded random max_n of d's examples, in their original order
 * (the "N labels" experiments); nothing changes when d has max_n or fewer.
 * VT_ERR_NOMEM leaves d as it was. */
VT_API vt_status vt_labelled_subsample(vt_labelled *d, size_t max_n, uint64_t seed);

/* Id of label `name` in d's map, or -1. */
VT_API int32_t vt_labelled_label_id(const vt_labelled *d, const char *name);

/* Examples per label id: counts (num_labels) receives them (for
 * multi-label data: the rows that have each label, sklearn's support). */
VT_API void vt_labelled_label_counts(const vt_labelled *d, int64_t *counts);

#ifdef __cplusplus
}
#endif
#endif
