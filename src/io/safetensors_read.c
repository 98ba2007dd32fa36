/* safetensors reader: maps a file, validates the header as the reference
 * implementation does (plus duplicate names), and serves lookups. */
#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/json.h"
#include "core/utf8.h"
#include "verto/safetensors.h"

struct vt_st_file {
    vt_st_tensor *tensors;        /* (n) in data-offset order; names owned */
    const vt_st_tensor **by_name; /* (n) sorted by name, for vt_st_find */
    size_t n;
    char **meta;                  /* (2 * n_meta) key, value, key, value, ... */
    size_t n_meta;
    void *map;                    /* the file mapping, NULL for memory images */
    size_t map_len;
};

/* One tensor while the header is checked. */
typedef struct entry {
    vt_st_tensor t;
    uint64_t begin, end; /* data_offsets */
} entry;

typedef struct parse_ctx {
    const char *label;
    const vt_jnum *nums; /* number tokens; cJSON nodes carry their index in valueint */
    size_t n_nums;
} parse_ctx;

/* ---- messages ---------------------------------------------------------- */

static void ferr(const char *label, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void ferr(const char *label, const char *fmt, ...) {
    char msg[768];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    vt_error(VT_ERR_FORMAT, "%s: %s", label, msg);
}

/* "label: tensor 'name': ..."; returns false. */
static bool terr(const parse_ctx *c, const char *name, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static bool terr(const parse_ctx *c, const char *name, const char *fmt, ...) {
    char msg[600], nm[160];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    ferr(c->label, "tensor '%s': %s", vt_utf8_printable(name, nm, sizeof nm), msg);
    return false;
}

static const char *shape_str(const vt_st_tensor *t, char *buf, size_t size) {
    size_t k = (size_t)snprintf(buf, size, "[");
    for (int d = 0; d < t->ndim && k < size; d++)
        k += (size_t)snprintf(buf + k, size - k, "%s%" PRId64, d ? ", " : "", t->shape[d]);
    if (k < size) snprintf(buf + k, size - k, "]");
    return buf;
}

/* ---- the header's numbers ---------------------------------------------- */

/* Numbers every cJSON number node in document order (the scanner saw the
 * same tokens in the same order). False if the counts disagree. */
static bool index_numbers(cJSON *node, size_t *k, size_t n) {
    for (; node; node = node->next) {
        if (cJSON_IsNumber(node)) {
            if (*k >= n) return false;
            node->valueint = (int)*k; /* cJSON keeps only a double; nothing else reads valueint */
            (*k)++;
        }
        if (node->child && !index_numbers(node->child, k, n)) return false;
    }
    return true;
}

/* The exact non-negative integer in `node`, or false. */
static bool json_uint(const parse_ctx *c, const cJSON *node, uint64_t *out) {
    if (!cJSON_IsNumber(node) || node->valueint < 0 || (size_t)node->valueint >= c->n_nums) return false;
    const vt_jnum *j = &c->nums[node->valueint];
    if (!j->is_uint) return false;
    *out = j->value;
    return true;
}

/* ---- one tensor entry --------------------------------------------------- */

static bool parse_shape(const parse_ctx *c, const char *name, const cJSON *shape, vt_st_tensor *t) {
    if (!cJSON_IsArray(shape)) return terr(c, name, "shape is not a list");
    int nd = 0;
    for (const cJSON *d = shape->child; d; d = d->next, nd++) {
        if (nd == VT_ST_MAX_DIMS) return terr(c, name, "shape has more than %d dimensions", VT_ST_MAX_DIMS);
        uint64_t v;
        if (!json_uint(c, d, &v)) return terr(c, name, "shape[%d] is not a non-negative integer", nd);
        if (v > INT64_MAX) return terr(c, name, "shape[%d] = %" PRIu64 " is too large", nd, v);
        t->shape[nd] = (int64_t)v;
    }
    t->ndim = nd;
    return true;
}

static bool parse_offsets(const parse_ctx *c, const char *name, const cJSON *offs, entry *e) {
    if (!cJSON_IsArray(offs)) return terr(c, name, "data_offsets is not a list");
    uint64_t v[2];
    int k = 0;
    for (const cJSON *o = offs->child; o; o = o->next, k++) {
        if (k == 2) return terr(c, name, "data_offsets has more than two entries");
        if (!json_uint(c, o, &v[k])) return terr(c, name, "data_offsets[%d] is not a non-negative integer", k);
    }
    if (k != 2) return terr(c, name, "data_offsets has %d entries, not two", k);
    if (v[0] > v[1])
        return terr(c, name, "data_offsets [%" PRIu64 ", %" PRIu64 "]: begin is after end", v[0], v[1]);
    e->begin = v[0];
    e->end = v[1];
    return true;
}

/* Element count and byte length, with the reference's overflow checks. */
static bool check_size(const parse_ctx *c, const char *name, entry *e) {
    char sh[200];
    uint64_t numel = 1;
    for (int d = 0; d < e->t.ndim; d++) {
        uint64_t dim = (uint64_t)e->t.shape[d];
        if (dim && numel > UINT64_MAX / dim)
            return terr(c, name, "element count of shape %s overflows 64 bits", shape_str(&e->t, sh, sizeof sh));
        numel *= dim;
    }
    uint64_t esz = vt_st_dtype_size(e->t.dtype);
    if (numel > UINT64_MAX / esz)
        return terr(c, name, "byte length of shape %s overflows 64 bits", shape_str(&e->t, sh, sizeof sh));
    if (numel * esz != e->end - e->begin)
        return terr(c, name, "data_offsets [%" PRIu64 ", %" PRIu64 "] hold %" PRIu64 " bytes but shape %s of %s needs %" PRIu64,
                    e->begin, e->end, e->end - e->begin, shape_str(&e->t, sh, sizeof sh),
                    vt_st_dtype_name(e->t.dtype), numel * esz);
    e->t.numel = (int64_t)numel; /* <= end - begin, which fits the file */
    e->t.nbytes = (size_t)(numel * esz);
    return true;
}

static bool parse_entry(const parse_ctx *c, const cJSON *node, entry *e) {
    const char *name = node->string;
    if (!cJSON_IsObject(node)) return terr(c, name, "entry is not a JSON object");
    const cJSON *dtype = NULL, *shape = NULL, *offs = NULL;
    for (const cJSON *fld = node->child; fld; fld = fld->next) {
        const cJSON **slot = !strcmp(fld->string, "dtype")          ? &dtype
                             : !strcmp(fld->string, "shape")        ? &shape
                             : !strcmp(fld->string, "data_offsets") ? &offs
                                                                    : NULL;
        if (!slot) continue; /* other fields are ignored, as by the reference */
        if (*slot) return terr(c, name, "field '%s' appears twice", fld->string);
        *slot = fld;
    }
    if (!dtype) return terr(c, name, "no dtype");
    if (!shape) return terr(c, name, "no shape");
    if (!offs) return terr(c, name, "no data_offsets");
    char dt[40];
    if (!cJSON_IsString(dtype)) return terr(c, name, "dtype is not a string");
    if (!vt_st_dtype_parse(dtype->valuestring, &e->t.dtype))
        return terr(c, name, "unknown dtype '%s'", vt_utf8_printable(dtype->valuestring, dt, sizeof dt));
    return parse_shape(c, name, shape, &e->t) && parse_offsets(c, name, offs, e) && check_size(c, name, e);
}

/* ---- metadata ----------------------------------------------------------- */

static bool parse_metadata(const parse_ctx *c, const cJSON *node, vt_st_file *f) {
    char nm[160];
    if (cJSON_IsNull(node)) return true; /* serde reads null as "no metadata" */
    if (!cJSON_IsObject(node)) {
        ferr(c->label, "__metadata__ is not a JSON object");
        return false;
    }
    size_t n = 0;
    for (const cJSON *kv = node->child; kv; kv = kv->next) n++;
    f->meta = calloc(2 * n + 1, sizeof *f->meta);
    if (!f->meta) {
        vt_error(VT_ERR_NOMEM, "%s: out of memory reading __metadata__", c->label);
        return false;
    }
    for (const cJSON *kv = node->child; kv; kv = kv->next) {
        if (!cJSON_IsString(kv)) {
            ferr(c->label, "__metadata__ value of '%s' is not a string", vt_utf8_printable(kv->string, nm, sizeof nm));
            return false;
        }
        for (size_t i = 0; i < f->n_meta; i++) {
            if (!strcmp(f->meta[2 * i], kv->string)) {
                ferr(c->label, "__metadata__ key '%s' appears twice", vt_utf8_printable(kv->string, nm, sizeof nm));
                return false;
            }
        }
        char *k = strdup(kv->string), *v = strdup(kv->valuestring);
        f->meta[2 * f->n_meta] = k;
        f->meta[2 * f->n_meta + 1] = v;
        f->n_meta++;
        if (!k || !v) {
            vt_error(VT_ERR_NOMEM, "%s: out of memory reading __metadata__", c->label);
            return false;
        }
    }
    return true;
}

/* ---- layout -------------------------------------------------------------- */

static int cmp_offsets(const void *a, const void *b) {
    const entry *x = a, *y = b;
    if (x->begin != y->begin) return x->begin < y->begin ? -1 : 1;
    if (x->end != y->end) return x->end < y->end ? -1 : 1;
    return strcmp(x->t.name, y->t.name);
}

static int cmp_names(const void *a, const void *b) {
    const vt_st_tensor *const *x = a, *const *y = b;
    return strcmp((*x)->name, (*y)->name);
}

/* Sorted by offset, the tensors must tile [0, data_len) exactly. */
static bool check_layout(const parse_ctx *c, entry *es, size_t n, uint64_t data_len) {
    qsort(es, n, sizeof *es, cmp_offsets);
    uint64_t pos = 0;
    char prev[160];
    for (size_t i = 0; i < n; i++) {
        const entry *e = &es[i];
        if (e->begin > pos && i == 0)
            return terr(c, e->t.name, "data_offsets [%" PRIu64 ", %" PRIu64 "]: the data does not start at offset 0",
                        e->begin, e->end);
        if (e->begin > pos)
            return terr(c, e->t.name, "data_offsets [%" PRIu64 ", %" PRIu64 "] leave a gap after tensor '%s', which ends at %" PRIu64,
                        e->begin, e->end, vt_utf8_printable(es[i - 1].t.name, prev, sizeof prev), pos);
        if (e->begin < pos)
            return terr(c, e->t.name, "data_offsets [%" PRIu64 ", %" PRIu64 "] overlap tensor '%s', which ends at %" PRIu64,
                        e->begin, e->end, vt_utf8_printable(es[i - 1].t.name, prev, sizeof prev), pos);
        pos = e->end;
    }
    if (pos == data_len) return true;
    if (n == 0) {
        ferr(c->label, "no tensors, yet %" PRIu64 " data bytes follow the header", data_len);
        return false;
    }
    const entry *last = &es[n - 1];
    if (pos > data_len)
        return terr(c, last->t.name, "data_offsets [%" PRIu64 ", %" PRIu64 "] run past the %" PRIu64 " data bytes in the file",
                    last->begin, last->end, data_len);
    return terr(c, last->t.name, "the data ends at %" PRIu64 " (end of this last tensor) but the file holds %" PRIu64
                " data bytes", pos, data_len);
}

/* ---- the whole header ----------------------------------------------------- */

static void free_file(vt_st_file *f) {
    if (!f) return;
    for (size_t i = 0; i < f->n; i++) free((char *)f->tensors[i].name);
    for (size_t i = 0; i < 2 * f->n_meta; i++) free(f->meta[i]);
    free(f->tensors);
    free(f->by_name);
    free(f->meta);
    free(f);
}

/* Validates the parsed header `root` and fills `f`. */
static bool parse_root(const parse_ctx *c, const cJSON *root, const unsigned char *data, uint64_t data_len,
                       vt_st_file *f) {
    size_t n = 0;
    bool seen_meta = false;
    for (const cJSON *e = root->child; e; e = e->next) {
        if (strcmp(e->string, "__metadata__") != 0) n++;
        else if (seen_meta) {
            ferr(c->label, "__metadata__ appears twice");
            return false;
        } else {
            seen_meta = true;
        }
    }
    entry *es = calloc(n ? n : 1, sizeof *es);
    f->tensors = calloc(n ? n : 1, sizeof *f->tensors);
    f->by_name = calloc(n ? n : 1, sizeof *f->by_name);
    if (!es || !f->tensors || !f->by_name) {
        free(es);
        vt_error(VT_ERR_NOMEM, "%s: out of memory reading the header", c->label);
        return false;
    }
    size_t k = 0;
    bool ok = true;
    for (const cJSON *node = root->child; node && ok; node = node->next) {
        if (!strcmp(node->string, "__metadata__")) {
            ok = parse_metadata(c, node, f);
            continue;
        }
        entry *e = &es[k];
        if (!(e->t.name = strdup(node->string))) {
            vt_error(VT_ERR_NOMEM, "%s: out of memory reading the header", c->label);
            ok = false;
            break;
        }
        k++;
        ok = parse_entry(c, node, e);
    }
    /* duplicate names, then the layout */
    for (size_t i = 0; ok && i < n; i++) f->by_name[i] = &es[i].t;
    if (ok) qsort(f->by_name, n, sizeof *f->by_name, cmp_names);
    for (size_t i = 1; ok && i < n; i++)
        if (!strcmp(f->by_name[i - 1]->name, f->by_name[i]->name)) ok = terr(c, f->by_name[i]->name, "the name appears twice");
    if (ok) ok = check_layout(c, es, n, data_len);
    /* the tensors move into f in data order; names change owner */
    for (size_t i = 0; i < k; i++) {
        f->tensors[i] = es[i].t;
        f->tensors[i].data = data + es[i].begin;
    }
    f->n = k;
    free(es);
    if (!ok) return false;
    for (size_t i = 0; i < n; i++) f->by_name[i] = &f->tensors[i];
    qsort(f->by_name, n, sizeof *f->by_name, cmp_names);
    return true;
}

static vt_st_file *parse_image(const unsigned char *buf, size_t len, const char *label) {
    if (len < 8) {
        ferr(label, "file is %zu bytes, too short for the 8-byte header length", len);
        return NULL;
    }
    uint64_t hlen = 0;
    for (int i = 7; i >= 0; i--) hlen = hlen << 8 | buf[i];
    if (hlen > VT_ST_MAX_HEADER) {
        ferr(label, "header length %" PRIu64 " exceeds the limit of %llu bytes", hlen, VT_ST_MAX_HEADER);
        return NULL;
    }
    if (hlen > len - 8) {
        ferr(label, "header length %" PRIu64 " runs past the end of the file (%zu bytes)", hlen, len);
        return NULL;
    }
    const char *hdr = (const char *)buf + 8;
    if (!vt_utf8_valid(hdr, hlen)) {
        ferr(label, "header is not valid UTF-8");
        return NULL;
    }
    if (hlen == 0 || hdr[0] != '{') {
        ferr(label, "header is not a JSON object (it must start with '{')");
        return NULL;
    }
    parse_ctx c = {.label = label};
    vt_jnum *nums = NULL;
    size_t at = 0;
    const char *why = vt_json_scan(hdr, hlen, &nums, &c.n_nums, &at);
    if (why) {
        ferr(label, "header is not valid JSON: %s at byte %zu", why, at);
        return NULL;
    }
    c.nums = nums;
    vt_st_file *f = NULL;
    cJSON *root = NULL;
    char *text = malloc(hlen + 1);
    if (!text) {
        vt_error(VT_ERR_NOMEM, "%s: out of memory for a %" PRIu64 "-byte header", label, hlen);
        goto done;
    }
    memcpy(text, hdr, hlen);
    text[hlen] = '\0';
    root = cJSON_ParseWithLengthOpts(text, hlen + 1, NULL, 1);
    size_t k = 0;
    if (!root || !cJSON_IsObject(root)) {
        ferr(label, "header is not valid JSON");
    } else if (c.n_nums > INT_MAX || !index_numbers(root, &k, c.n_nums) || k != c.n_nums) {
        ferr(label, "header has numbers the JSON parser did not read as expected");
    } else if (!(f = calloc(1, sizeof *f))) {
        vt_error(VT_ERR_NOMEM, "%s: out of memory", label);
    } else if (!parse_root(&c, root, buf + 8 + hlen, len - 8 - hlen, f)) {
        free_file(f);
        f = NULL;
    }
done:
    cJSON_Delete(root);
    free(text);
    free(nums);
    return f;
}

vt_st_file *vt_st_open_memory(const void *buf, size_t len, const char *label) {
    if (!label) label = "(memory)";
    if (!buf && len) {
        vt_error(VT_ERR_INVALID_ARG, "%s: no buffer given", label);
        return NULL;
    }
    return parse_image(buf ? buf : "", len, label);
}

vt_st_file *vt_st_open(const char *path) {
    if (!path) {
        vt_error(VT_ERR_INVALID_ARG, "vt_st_open: no path given");
        return NULL;
    }
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        vt_error(VT_ERR_IO, "cannot open %s: %s", path, strerror(errno));
        return NULL;
    }
    struct stat sb;
    if (fstat(fd, &sb) != 0) {
        vt_error(VT_ERR_IO, "cannot read %s: %s", path, strerror(errno));
        close(fd);
        return NULL;
    }
    if (!S_ISREG(sb.st_mode)) {
        vt_error(VT_ERR_IO, "cannot read %s: %s", path, S_ISDIR(sb.st_mode) ? "it is a directory" : "not a regular file");
        close(fd);
        return NULL;
    }
    if ((uint64_t)sb.st_size > SIZE_MAX) {
        vt_error(VT_ERR_IO, "cannot map %s: too large", path);
        close(fd);
        return NULL;
    }
    size_t len = (size_t)sb.st_size;
    if (len < 8) { /* nothing to map; the validator reports the short file */
        close(fd);
        return parse_image((const unsigned char *)"", len, path);
    }
    void *map = mmap(NULL, len, PROT_READ, MAP_PRIVATE, fd, 0);
    int err = errno;
    close(fd);
    if (map == MAP_FAILED) {
        vt_error(VT_ERR_IO, "cannot map %s: %s", path, strerror(err));
        return NULL;
    }
    vt_st_file *f = parse_image(map, len, path);
    if (!f) {
        munmap(map, len);
        return NULL;
    }
    f->map = map;
    f->map_len = len;
    return f;
}

void vt_st_close(vt_st_file *f) {
    if (!f) return;
    if (f->map) munmap(f->map, f->map_len);
    free_file(f);
}

size_t vt_st_count(const vt_st_file *f) { return f ? f->n : 0; }

const vt_st_tensor *vt_st_at(const vt_st_file *f, size_t i) { return f && i < f->n ? &f->tensors[i] : NULL; }

const vt_st_tensor *vt_st_find(const vt_st_file *f, const char *name) {
    if (!f || !name || !f->n) return NULL;
    vt_st_tensor key = {.name = name};
    const vt_st_tensor *pk = &key;
    const vt_st_tensor **hit = bsearch(&pk, f->by_name, f->n, sizeof *f->by_name, cmp_names);
    return hit ? *hit : NULL;
}

const char *vt_st_metadata(const vt_st_file *f, const char *key) {
    for (size_t i = 0; f && key && i < f->n_meta; i++)
        if (!strcmp(f->meta[2 * i], key)) return f->meta[2 * i + 1];
    return NULL;
}
