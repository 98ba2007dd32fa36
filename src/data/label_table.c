/* The label name table of src/data (see label_table.h). */
#include "data/label_table.h"

#include <stdlib.h>
#include <string.h>

#include "core/hash.h"

static uint64_t hash_bytes(const char *s, size_t len) { return vt_fnv1a64(VT_FNV64_INIT, s, len); }

int32_t vt_label_table_find(const vt_label_table *t, const char *s, size_t len) {
    if (!t->nslots) return -1;
    size_t mask = t->nslots - 1;
    for (size_t k = (size_t)hash_bytes(s, len) & mask;; k = (k + 1) & mask) {
        int32_t id = t->slots[k];
        if (id < 0) return -1;
        const char *name = t->names[id];
        if (strlen(name) == len && !memcmp(name, s, len)) return id;
    }
}

static vt_status rehash(vt_label_table *t, size_t nslots) {
    int32_t *slots = malloc(nslots * sizeof *slots);
    if (!slots) return vt_error(VT_ERR_NOMEM, "out of memory for the label map");
    for (size_t k = 0; k < nslots; k++) slots[k] = -1;
    for (size_t i = 0; i < t->n; i++) {
        size_t k = (size_t)hash_bytes(t->names[i], strlen(t->names[i])) & (nslots - 1);
        while (slots[k] >= 0) k = (k + 1) & (nslots - 1);
        slots[k] = (int32_t)i;
    }
    free(t->slots);
    t->slots = slots;
    t->nslots = nslots;
    return VT_OK;
}

vt_status vt_label_table_reindex(vt_label_table *t) { return t->nslots ? rehash(t, t->nslots) : VT_OK; }

int32_t vt_label_table_add(vt_label_table *t, const char *s, size_t len) {
    if (t->n >= (size_t)INT32_MAX - 1) {
        vt_error(VT_ERR_FORMAT, "more than %d distinct labels", INT32_MAX - 1);
        return -1;
    }
    if (t->n == t->cap) {
        size_t cap = t->cap ? 2 * t->cap : 16;
        char **names = realloc(t->names, cap * sizeof *names);
        if (!names) {
            vt_error(VT_ERR_NOMEM, "out of memory for the label map");
            return -1;
        }
        t->names = names;
        t->cap = cap;
    }
    char *copy = malloc(len + 1);
    if (!copy) {
        vt_error(VT_ERR_NOMEM, "out of memory for the label map");
        return -1;
    }
    if (len) memcpy(copy, s, len);
    copy[len] = '\0';
    t->names[t->n++] = copy;
    if (2 * t->n > t->nslots) { /* rehashing places the new name too */
        if (rehash(t, t->nslots ? 2 * t->nslots : 32) != VT_OK) {
            free(t->names[--t->n]);
            return -1;
        }
    } else {
        size_t mask = t->nslots - 1, k = (size_t)hash_bytes(s, len) & mask;
        while (t->slots[k] >= 0) k = (k + 1) & mask;
        t->slots[k] = (int32_t)(t->n - 1);
    }
    return (int32_t)(t->n - 1);
}

void vt_label_table_free(vt_label_table *t) {
    for (size_t i = 0; i < t->n; i++) free(t->names[i]);
    free(t->names);
    free(t->slots);
    memset(t, 0, sizeof *t);
}
