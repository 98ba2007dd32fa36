/* What a label cell holds beyond one label string: the labels of a
 * multi-label row (a joined cell or a JSON list) and the number of a
 * regression row. Used by the labelled-data readers (labelled.c); the rules
 * are documented in verto/dataset.h. */
#ifndef VT_DATA_LABEL_CELLS_H
#define VT_DATA_LABEL_CELLS_H

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stddef.h>

/* A label given as a JSON string or integer (read as its decimal string, in
 * num): the text, or NULL for any other value. */
const char *vt_json_label_text(const cJSON *v, char num[32]);

/* s[0..len) as a decimal number (spaces around it allowed): NULL with *out
 * set, or a static description of what is wrong ("empty", "not a number",
 * "beyond the double range"). Reads '.' as the decimal point whatever the
 * locale (verto never sets one). */
const char *vt_cell_number(const char *s, size_t len, double *out);

/* The labels of one multi-label cell, one at a time. */
typedef struct vt_label_pieces {
    const char *s, *sep;     /* a joined cell and its separator */
    size_t len, pos, sep_len;
    bool done;
    const cJSON *item;       /* a JSON list: the next element (NULL at the end) */
    bool json;
    char num[32];            /* an integer element's decimal text */
} vt_label_pieces;

/* Iterates s[0..len) split on `sep` (non-empty); a cell of only spaces has
 * no labels. */
void vt_label_pieces_text(vt_label_pieces *it, const char *s, size_t len, const char *sep);
/* Iterates the elements of a JSON array. */
void vt_label_pieces_json(vt_label_pieces *it, const cJSON *array);
/* 1: the next label in *s / *len, spaces around it dropped (len 0: an empty
 * label, "a,,b"); 0: no more; -1: a JSON element that is neither a string
 * nor an integer. */
int vt_label_pieces_next(vt_label_pieces *it, const char **s, size_t *len);

#endif
