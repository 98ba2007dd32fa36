/* A table of label names with their ids (0, 1, ... in order of addition):
 * open addressing over indices into the name array, so a name is found in
 * O(1) however many labels a data set has. Shared by the readers of labelled
 * and tagged data. */
#ifndef VT_DATA_LABEL_TABLE_H
#define VT_DATA_LABEL_TABLE_H

#include <stddef.h>
#include <stdint.h>

#include "verto/error.h"

typedef struct vt_label_table {
    char **names;   /* (n) owned NUL-terminated names; id = index */
    size_t n, cap;
    int32_t *slots; /* (nslots) index into names, -1 empty */
    size_t nslots;  /* power of two */
} vt_label_table;

/* Id of the name s[0..len), or -1. */
int32_t vt_label_table_find(const vt_label_table *t, const char *s, size_t len);

/* Appends s[0..len) (not present yet) as id n; returns it, or -1 with the
 * error set (VT_ERR_NOMEM, or VT_ERR_FORMAT past INT32_MAX - 1 names). */
int32_t vt_label_table_add(vt_label_table *t, const char *s, size_t len);

/* Rebuilds the index after names[] was reordered in place. VT_ERR_NOMEM only. */
vt_status vt_label_table_reindex(vt_label_table *t);

/* Frees the names and the index; the table is empty (zeroed) afterwards. */
void vt_label_table_free(vt_label_table *t);

#endif
