/* safetensors writer: header built by hand (exact integers), padded with
 * spaces to a multiple of 8 like the reference, written atomically. */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/utf8.h"
#include "verto/fileio.h"
#include "verto/safetensors.h"

/* A growing text buffer; `oom` latches allocation failure. */
typedef struct sbuf {
    char *s;
    size_t len, cap;
    bool oom;
} sbuf;

static void sb_add(sbuf *b, const char *s, size_t n) {
    if (b->oom) return;
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->len + n + 1) cap *= 2;
        char *g = realloc(b->s, cap);
        if (!g) {
            b->oom = true;
            return;
        }
        b->s = g;
        b->cap = cap;
    }
    memcpy(b->s + b->len, s, n);
    b->len += n;
    b->s[b->len] = '\0';
}

static void sb_printf(sbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void sb_printf(sbuf *b, const char *fmt, ...) {
    char tmp[64];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    if (n > 0) sb_add(b, tmp, (size_t)n < sizeof tmp ? (size_t)n : sizeof tmp - 1);
}

/* A JSON string literal for UTF-8 text `s`. */
static void sb_json_str(sbuf *b, const char *s) {
    sb_add(b, "\"", 1);
    for (const char *p = s; *p; p++) {
        unsigned char c = (unsigned char)*p;
        if (c == '"' || c == '\\') {
            char esc[2] = {'\\', (char)c};
            sb_add(b, esc, 2);
        } else if (c < 0x20) {
            sb_printf(b, "\\u%04x", c);
        } else {
            sb_add(b, p, 1);
        }
    }
    sb_add(b, "\"", 1);
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(const char *const *)a, *(const char *const *)b); }

/* The first name that occurs twice among n, or NULL. */
static const char *find_duplicate(const char **names, size_t n) {
    qsort(names, n, sizeof *names, cmp_str);
    for (size_t i = 1; i < n; i++)
        if (!strcmp(names[i - 1], names[i])) return names[i];
    return NULL;
}

static bool utf8_str(const char *s) { return vt_utf8_valid(s, strlen(s)); }

/* Byte length of one entry into *nbytes; an error naming it otherwise. */
static vt_status entry_size(const char *path, size_t i, const vt_st_entry *e, uint64_t *nbytes) {
    char nm[160];
    if (!e->name) return vt_error(VT_ERR_INVALID_ARG, "writing %s: tensor #%zu has no name", path, i);
    const char *name = vt_utf8_printable(e->name, nm, sizeof nm);
    if (!utf8_str(e->name)) return vt_error(VT_ERR_INVALID_ARG, "writing %s: tensor '%s': name is not valid UTF-8", path, name);
    if (!strcmp(e->name, "__metadata__"))
        return vt_error(VT_ERR_INVALID_ARG, "writing %s: '__metadata__' cannot name a tensor", path);
    if (!vt_st_dtype_size(e->dtype))
        return vt_error(VT_ERR_INVALID_ARG, "writing %s: tensor '%s': unknown dtype %d", path, name, (int)e->dtype);
    if (e->ndim < 0 || e->ndim > VT_ST_MAX_DIMS)
        return vt_error(VT_ERR_INVALID_ARG, "writing %s: tensor '%s': %d dimensions (0 to %d allowed)", path, name, e->ndim,
                        VT_ST_MAX_DIMS);
    if (e->ndim > 0 && !e->shape) return vt_error(VT_ERR_INVALID_ARG, "writing %s: tensor '%s': no shape", path, name);
    uint64_t numel = 1;
    for (int d = 0; d < e->ndim; d++) {
        if (e->shape[d] < 0)
            return vt_error(VT_ERR_SHAPE, "writing %s: tensor '%s': dimension %d is negative (%" PRId64 ")", path, name, d,
                            e->shape[d]);
        uint64_t dim = (uint64_t)e->shape[d];
        if (dim && numel > UINT64_MAX / dim)
            return vt_error(VT_ERR_SHAPE, "writing %s: tensor '%s': element count overflows", path, name);
        numel *= dim;
    }
    uint64_t esz = vt_st_dtype_size(e->dtype);
    if (numel > (uint64_t)INT64_MAX / esz || numel * esz > SIZE_MAX)
        return vt_error(VT_ERR_SHAPE, "writing %s: tensor '%s': byte length overflows", path, name);
    if (numel && !e->data) return vt_error(VT_ERR_INVALID_ARG, "writing %s: tensor '%s': no data", path, name);
    *nbytes = numel * esz;
    return VT_OK;
}

/* Checks everything and builds the padded header into *hdr. */
static vt_status build_header(const char *path, const vt_st_entry *entries, size_t n, const char *const *meta_kv,
                              size_t n_meta, sbuf *hdr) {
    const char **names = calloc((n > n_meta ? n : n_meta) + 1, sizeof *names);
    if (!names) return vt_error(VT_ERR_NOMEM, "writing %s: out of memory", path);
    vt_status st = VT_OK;
    char nm[160];
    sb_add(hdr, "{", 1);
    if (n_meta) {
        sb_add(hdr, "\"__metadata__\":{", 16);
        for (size_t i = 0; i < n_meta && st == VT_OK; i++) {
            const char *k = meta_kv[2 * i], *v = meta_kv[2 * i + 1];
            if (!k || !v || !utf8_str(k) || !utf8_str(v)) {
                st = vt_error(VT_ERR_INVALID_ARG, "writing %s: metadata pair #%zu is missing or not valid UTF-8", path, i);
                break;
            }
            names[i] = k;
            if (i) sb_add(hdr, ",", 1);
            sb_json_str(hdr, k);
            sb_add(hdr, ":", 1);
            sb_json_str(hdr, v);
        }
        sb_add(hdr, "}", 1);
        const char *dup = st == VT_OK ? find_duplicate(names, n_meta) : NULL;
        if (dup) st = vt_error(VT_ERR_INVALID_ARG, "writing %s: metadata key '%s' appears twice", path, vt_utf8_printable(dup, nm, sizeof nm));
    }
    uint64_t offset = 0;
    for (size_t i = 0; i < n && st == VT_OK; i++) {
        const vt_st_entry *e = &entries[i];
        uint64_t nbytes = 0;
        if ((st = entry_size(path, i, e, &nbytes)) != VT_OK) break;
        if (nbytes > (uint64_t)INT64_MAX - offset) {
            st = vt_error(VT_ERR_SHAPE, "writing %s: total size overflows", path);
            break;
        }
        names[i] = e->name;
        if (i || n_meta) sb_add(hdr, ",", 1);
        sb_json_str(hdr, e->name);
        sb_printf(hdr, ":{\"dtype\":\"%s\",\"shape\":[", vt_st_dtype_name(e->dtype));
        for (int d = 0; d < e->ndim; d++) sb_printf(hdr, "%s%" PRId64, d ? "," : "", e->shape[d]);
        sb_printf(hdr, "],\"data_offsets\":[%" PRIu64 ",%" PRIu64 "]}", offset, offset + nbytes);
        offset += nbytes;
    }
    sb_add(hdr, "}", 1);
    const char *dup = st == VT_OK ? find_duplicate(names, n) : NULL;
    if (dup) st = vt_error(VT_ERR_INVALID_ARG, "writing %s: tensor '%s' appears twice", path, vt_utf8_printable(dup, nm, sizeof nm));
    free(names);
    while (st == VT_OK && !hdr->oom && hdr->len % 8) sb_add(hdr, " ", 1);
    if (st == VT_OK && hdr->oom) st = vt_error(VT_ERR_NOMEM, "writing %s: out of memory", path);
    if (st == VT_OK && hdr->len > VT_ST_MAX_HEADER)
        st = vt_error(VT_ERR_INVALID_ARG, "writing %s: header of %zu bytes exceeds the limit of %llu", path, hdr->len,
                      VT_ST_MAX_HEADER);
    return st;
}

vt_status vt_st_write(const char *path, const vt_st_entry *entries, size_t n, const char *const *meta_kv, size_t n_meta) {
    if (!path) return vt_error(VT_ERR_INVALID_ARG, "vt_st_write: no path given");
    if ((!entries && n) || (!meta_kv && n_meta))
        return vt_error(VT_ERR_INVALID_ARG, "writing %s: entries or metadata missing", path);
    sbuf hdr = {0};
    vt_status st = build_header(path, entries, n, meta_kv, n_meta, &hdr);
    vt_atomic_file af;
    if (st == VT_OK) st = vt_atomic_open(&af, path);
    if (st != VT_OK) {
        free(hdr.s);
        return st;
    }
    unsigned char len8[8];
    for (int i = 0; i < 8; i++) len8[i] = (unsigned char)((uint64_t)hdr.len >> (8 * i));
    fwrite(len8, 1, 8, af.f); /* write errors are caught by commit */
    fwrite(hdr.s, 1, hdr.len, af.f);
    free(hdr.s);
    for (size_t i = 0; i < n && !ferror(af.f); i++) {
        uint64_t nbytes = 0;
        entry_size(path, i, &entries[i], &nbytes); /* validated above */
        if (nbytes) fwrite(entries[i].data, 1, (size_t)nbytes, af.f);
    }
    return vt_atomic_commit(&af);
}
