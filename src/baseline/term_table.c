/* Terms to ids: an open-addressing hash table (FNV-1a, linear probing) over
 * one buffer of NUL-terminated terms. */
#include <stdlib.h>
#include <string.h>

#include "baseline/baseline_internal.h"
#include "core/hash.h"

void bl_table_free(bl_table *t) {
    free(t->bytes);
    free(t->e);
    free(t->slot);
    memset(t, 0, sizeof *t);
}

static size_t probe_start(const bl_table *t, uint64_t h) { return (size_t)(h ^ (h >> 29)) & (t->n_slots - 1); }

static int32_t find_hashed(const bl_table *t, uint64_t h, const char *s, size_t len, size_t *at) {
    if (!t->n_slots) return -1;
    for (size_t i = probe_start(t, h);; i = (i + 1) & (t->n_slots - 1)) {
        int32_t id = t->slot[i];
        if (id < 0) {
            if (at) *at = i;
            return -1;
        }
        const bl_entry *e = &t->e[id];
        if (e->hash == h && e->len == len && !memcmp(t->bytes + e->off, s, len)) return id;
    }
}

int32_t bl_table_find(const bl_table *t, const char *s, size_t len) {
    return find_hashed(t, vt_fnv1a64(VT_FNV64_INIT, s, len), s, len, NULL);
}

/* Twice the slots, every entry placed again. */
static vt_status rehash(bl_table *t) {
    size_t n = t->n_slots ? 2 * t->n_slots : 1024;
    int32_t *slot = malloc(n * sizeof *slot);
    if (!slot) return vt_error(VT_ERR_NOMEM, "out of memory for a table of %d terms", t->n);
    memset(slot, 0xff, n * sizeof *slot); /* -1 */
    free(t->slot);
    t->slot = slot;
    t->n_slots = n;
    for (int32_t id = 0; id < t->n; id++) {
        size_t i = probe_start(t, t->e[id].hash);
        while (slot[i] >= 0) i = (i + 1) & (n - 1);
        slot[i] = id;
    }
    return VT_OK;
}

vt_status bl_table_add(bl_table *t, const char *s, size_t len, int32_t *id, bool *added) {
    if (len > UINT32_MAX) return vt_error(VT_ERR_INVALID_ARG, "a term of %zu bytes is too long", len);
    uint64_t h = vt_fnv1a64(VT_FNV64_INIT, s, len);
    size_t at = 0;
    if (added) *added = false;
    if ((*id = find_hashed(t, h, s, len, &at)) >= 0) return VT_OK;
    if (t->n == INT32_MAX) return vt_error(VT_ERR_NOMEM, "more than 2^31 distinct terms");
    if ((size_t)t->n + 1 > t->n_slots / 2) {
        vt_status st = rehash(t);
        if (st != VT_OK) return st;
        find_hashed(t, h, s, len, &at);
    }
    if (t->n == t->cap) {
        int32_t cap = t->cap ? (t->cap > INT32_MAX / 2 ? INT32_MAX : 2 * t->cap) : 1024;
        bl_entry *e = realloc(t->e, (size_t)cap * sizeof *e);
        if (!e) return vt_error(VT_ERR_NOMEM, "out of memory for %d terms", cap);
        t->e = e;
        t->cap = cap;
    }
    if (t->n_bytes + len + 1 > t->cap_bytes) {
        size_t cap = t->cap_bytes ? t->cap_bytes : 1 << 16;
        while (cap < t->n_bytes + len + 1) cap *= 2;
        char *b = realloc(t->bytes, cap);
        if (!b) return vt_error(VT_ERR_NOMEM, "out of memory for %zu bytes of terms", cap);
        t->bytes = b;
        t->cap_bytes = cap;
    }
    memcpy(t->bytes + t->n_bytes, s, len);
    t->bytes[t->n_bytes + len] = '\0';
    t->e[t->n] = (bl_entry){.hash = h, .off = t->n_bytes, .len = (uint32_t)len, .df = 0, .last_doc = -1};
    t->n_bytes += len + 1;
    t->slot[at] = t->n;
    *id = t->n++;
    if (added) *added = true;
    return VT_OK;
}
