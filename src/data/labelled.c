/* Labelled data sets: TSV, CSV (RFC 4180) and JSONL readers with label maps
 * (see verto/dataset.h). */
#include "verto/dataset.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "data/label_table.h"
#include "core/json.h"
#include "core/utf8.h"
#include "data/label_cells.h"
#include "verto/fileio.h"
#include "verto/rng.h"

/* ---- formats ------------------------------------------------------------ */

const char *vt_data_format_name(vt_data_format f) {
    switch (f) {
    case VT_DATA_TSV: return "tsv";
    case VT_DATA_CSV: return "csv";
    case VT_DATA_JSONL: return "jsonl";
    case VT_DATA_AUTO: break;
    }
    return "auto";
}

bool vt_data_format_parse(const char *name, vt_data_format *out) {
    static const struct { const char *name; vt_data_format f; } NAMES[] = {
        {"auto", VT_DATA_AUTO}, {"tsv", VT_DATA_TSV},     {"csv", VT_DATA_CSV},
        {"jsonl", VT_DATA_JSONL}, {"ndjson", VT_DATA_JSONL}, {"json", VT_DATA_JSONL},
    };
    if (!name) return false;
    for (size_t i = 0; i < sizeof NAMES / sizeof NAMES[0]; i++)
        if (!strcasecmp(name, NAMES[i].name)) {
            *out = NAMES[i].f;
            return true;
        }
    return false;
}

vt_data_format vt_data_format_from_path(const char *path) {
    if (!path) return VT_DATA_AUTO;
    const char *slash = strrchr(path, '/');
    const char *dot = strrchr(slash ? slash : path, '.');
    vt_data_format f = VT_DATA_AUTO;
    if (dot && strcasecmp(dot + 1, "auto") && vt_data_format_parse(dot + 1, &f)) return f;
    return VT_DATA_AUTO;
}

const char *vt_label_kind_name(vt_label_kind k) {
    switch (k) {
    case VT_LABEL_MULTI: return "multi";
    case VT_LABEL_REGRESSION: return "regression";
    case VT_LABEL_SINGLE: break;
    }
    return "single";
}

bool vt_label_kind_parse(const char *name, vt_label_kind *out) {
    static const struct { const char *name; vt_label_kind k; } NAMES[] = {
        {"single", VT_LABEL_SINGLE}, {"single-label", VT_LABEL_SINGLE}, {"multi", VT_LABEL_MULTI},
        {"multi-label", VT_LABEL_MULTI}, {"regression", VT_LABEL_REGRESSION},
    };
    if (!name) return false;
    for (size_t i = 0; i < sizeof NAMES / sizeof NAMES[0]; i++)
        if (!strcasecmp(name, NAMES[i].name)) {
            *out = NAMES[i].k;
            return true;
        }
    return false;
}

void vt_labelled_options_default(vt_labelled_options *o) { memset(o, 0, sizeof *o); }

/* ---- the builder ---------------------------------------------------------- */

typedef struct builder {
    const vt_labelled_options *o;
    const char *name;            /* file name for messages */
    const char *text_col, *text_b_col, *label_col;
    vt_label_kind kind;          /* o->kind */
    bool labelled;               /* !o->unlabelled */
    const char *sep;             /* multi-label separator */
    bool follow;                 /* labels come from o->id2label */
    vt_label_table labels;
    vt_labelled *d;
    size_t cap;
    bool any_b;
    /* multi-label rows as lists: row i's ids are ml_ids[ml_end[i-1] .. ml_end[i]) */
    int32_t *ml_ids;
    size_t ml_n, ml_cap;
    size_t *ml_end;              /* (cap) */
} builder;

/* A row's label cell as read: TSV/CSV bytes, or a JSONL value. */
typedef struct label_cell {
    const char *s;
    size_t len;
    const cJSON *json;
} label_cell;

enum { ROW_OK = 0, ROW_SKIPPED = -1 }; /* else a vt_status */

/* A malformed row: fails, or with skip_bad_rows counts it and keeps a note. */
__attribute__((format(printf, 3, 4))) static int bad_row(builder *bd, int64_t line, const char *fmt, ...) {
    char msg[200];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (!bd->o->skip_bad_rows) return (int)vt_error(VT_ERR_FORMAT, "%s:%lld: %s", bd->name, (long long)line, msg);
    vt_labelled *d = bd->d;
    if (d->n_notes < VT_LABELLED_NOTES)
        snprintf(d->notes[d->n_notes++], sizeof d->notes[0], "%s:%lld: %s", bd->name, (long long)line, msg);
    d->n_skipped++;
    return ROW_SKIPPED;
}

/* Checks that raw[0..len) (starting on `line`) is UTF-8 without NULs. */
static int check_utf8(builder *bd, int64_t line, const char *raw, size_t len) {
    const char *nul = memchr(raw, '\0', len);
    size_t bad = vt_utf8_invalid_at(raw, nul ? (size_t)(nul - raw) : len);
    if (bad == len) return ROW_OK;
    for (size_t i = 0; i < bad; i++) line += raw[i] == '\n';
    if (raw[bad] == '\0') return bad_row(bd, line, "NUL byte at byte %zu of the row", bad);
    return bad_row(bd, line, "invalid UTF-8 (byte 0x%02X)", (unsigned)(unsigned char)raw[bad]);
}

static char *dup_bytes(const char *s, size_t len) {
    char *c = malloc(len + 1);
    if (c) {
        if (len) memcpy(c, s, len);
        c[len] = '\0';
    }
    return c;
}

static vt_status grow(builder *bd) {
    vt_labelled *d = bd->d;
    if (d->n < bd->cap) return VT_OK;
    size_t cap = bd->cap ? 2 * bd->cap : 256;
#define GROW(field)                                                                  \
    do {                                                                             \
        void *p = realloc(d->field, cap * sizeof *d->field);                         \
        if (!p) return vt_error(VT_ERR_NOMEM, "out of memory reading %s", bd->name); \
        d->field = p;                                                                \
    } while (0)
    GROW(text);
    GROW(text_len);
    GROW(text_b);
    GROW(text_b_len);
    GROW(line);
#undef GROW
#define GROW(field)                                                                  \
    do {                                                                             \
        void *p = realloc(field, cap * sizeof *field);                               \
        if (!p) return vt_error(VT_ERR_NOMEM, "out of memory reading %s", bd->name); \
        field = p;                                                                   \
    } while (0)
    if (bd->labelled && bd->kind == VT_LABEL_SINGLE) GROW(d->label);
    if (bd->labelled && bd->kind == VT_LABEL_MULTI) GROW(bd->ml_end);
    if (bd->labelled && bd->kind == VT_LABEL_REGRESSION) GROW(d->target);
#undef GROW
    bd->cap = cap;
    return VT_OK;
}

/* One label's checks that can make a bad row: UTF-8, empty, length, outside
 * the map being followed. */
static int check_label(builder *bd, int64_t line, const char *label, size_t llen, const char *empty_msg) {
    int r;
    if ((r = check_utf8(bd, line, label, llen)) != ROW_OK) return r;
    if (!llen) return bad_row(bd, line, "%s", empty_msg);
    if (bd->o->max_label_bytes && llen > bd->o->max_label_bytes)
        return bad_row(bd, line, "label of %zu bytes (at most %zu)", llen, bd->o->max_label_bytes);
    if (bd->follow && vt_label_table_find(&bd->labels, label, llen) < 0)
        return bad_row(bd, line, "label '%.*s' is not in the label map (%d labels)", llen > 60 ? 60 : (int)llen, label,
                       bd->o->num_labels);
    return ROW_OK;
}

/* The id of a checked label, adding it to the map when new. Fails only for
 * the whole file (max_labels, memory). */
static int label_id(builder *bd, int64_t line, const char *label, size_t llen, int32_t *id) {
    *id = vt_label_table_find(&bd->labels, label, llen);
    if (*id >= 0) return ROW_OK;
    if (bd->o->max_labels > 0 && bd->labels.n >= (size_t)bd->o->max_labels)
        return (int)vt_error(VT_ERR_FORMAT, "%s:%lld: label '%.*s' makes more than %d distinct labels", bd->name,
                             (long long)line, llen > 60 ? 60 : (int)llen, label, bd->o->max_labels);
    *id = vt_label_table_add(&bd->labels, label, llen);
    return *id < 0 ? (int)vt_last_status() : ROW_OK;
}

static int read_single(builder *bd, int64_t line, const label_cell *c, int32_t *id) {
    char num[32];
    const char *label = c->s;
    size_t llen = c->len;
    if (c->json) {
        if (!(label = vt_json_label_text(c->json, num)))
            return bad_row(bd, line, "\"%s\" is neither a string nor an integer", bd->label_col);
        llen = strlen(label);
    }
    int r = check_label(bd, line, label, llen, "empty label");
    return r != ROW_OK ? r : label_id(bd, line, label, llen, id);
}

/* A multi-label cell: every label is checked before any enters the map (a
 * skipped row adds none), then the row's ids are appended to ml_ids. */
static int read_multi(builder *bd, int64_t line, const label_cell *c) {
    vt_label_pieces it;
    if (!c->json) vt_label_pieces_text(&it, c->s, c->len, bd->sep);
    else if (cJSON_IsArray(c->json)) vt_label_pieces_json(&it, c->json);
    else if (cJSON_IsString(c->json))
        vt_label_pieces_text(&it, c->json->valuestring, strlen(c->json->valuestring), bd->sep);
    else return bad_row(bd, line, "\"%s\" is neither a list of labels nor a string", bd->label_col);
    const vt_label_pieces start = it;
    const char *s;
    size_t len;
    int got, r;
    for (size_t k = 0; (got = vt_label_pieces_next(&it, &s, &len)); k++) {
        if (got < 0) return bad_row(bd, line, "element %zu of \"%s\" is neither a string nor an integer", k, bd->label_col);
        if ((r = check_label(bd, line, s, len, "empty label in the list")) != ROW_OK) return r;
    }
    it = start;
    while (vt_label_pieces_next(&it, &s, &len) > 0) {
        int32_t id;
        if ((r = label_id(bd, line, s, len, &id)) != ROW_OK) return r;
        if (bd->ml_n == bd->ml_cap) {
            size_t cap = bd->ml_cap ? 2 * bd->ml_cap : 256;
            int32_t *p = realloc(bd->ml_ids, cap * sizeof *p);
            if (!p) return (int)vt_error(VT_ERR_NOMEM, "out of memory reading %s", bd->name);
            bd->ml_ids = p;
            bd->ml_cap = cap;
        }
        bd->ml_ids[bd->ml_n++] = id;
    }
    return ROW_OK;
}

static int read_target(builder *bd, int64_t line, const label_cell *c, double *v) {
    const char *s = c->s;
    size_t len = c->len;
    if (c->json && cJSON_IsNumber(c->json)) {
        *v = c->json->valuedouble; /* the JSON grammar was checked: no NaN; a huge one is inf */
        if (isfinite(*v)) return ROW_OK;
        return bad_row(bd, line, "regression target beyond the double range");
    }
    if (c->json && !cJSON_IsString(c->json))
        return bad_row(bd, line, "\"%s\" is neither a number nor a string", bd->label_col);
    if (c->json) s = c->json->valuestring, len = strlen(s);
    const char *why = vt_cell_number(s, len, v);
    if (!why) return ROW_OK;
    if (!strcmp(why, "empty")) return bad_row(bd, line, "empty regression target");
    return bad_row(bd, line, "regression target '%.*s' is %s", len > 40 ? 40 : (int)len, s, why);
}

/* Adds one example (strings already unescaped; validated here). text_b may be
 * NULL (no second text); `cell` is NULL when unlabelled. Returns ROW_OK,
 * ROW_SKIPPED or an error status. */
static int add_row(builder *bd, int64_t line, const char *text, size_t tlen, const char *text_b, size_t blen,
                   const label_cell *cell) {
    int r;
    if ((r = check_utf8(bd, line, text, tlen)) != ROW_OK) return r;
    if (text_b && (r = check_utf8(bd, line, text_b, blen)) != ROW_OK) return r;
    int32_t id = 0;
    double target = 0;
    if (cell) {
        r = bd->kind == VT_LABEL_SINGLE ? read_single(bd, line, cell, &id)
            : bd->kind == VT_LABEL_MULTI ? read_multi(bd, line, cell)
                                         : read_target(bd, line, cell, &target);
        if (r != ROW_OK) return r;
    }
    vt_status st = grow(bd);
    if (st != VT_OK) return (int)st;
    vt_labelled *d = bd->d;
    char *t = dup_bytes(text, tlen), *b = text_b ? dup_bytes(text_b, blen) : NULL;
    if (!t || (text_b && !b)) {
        free(t);
        free(b);
        return (int)vt_error(VT_ERR_NOMEM, "out of memory reading %s", bd->name);
    }
    d->text[d->n] = t;
    d->text_len[d->n] = tlen;
    d->text_b[d->n] = b;
    d->text_b_len[d->n] = text_b ? blen : 0;
    if (text_b) bd->any_b = true;
    if (d->label) d->label[d->n] = id;
    if (d->target) d->target[d->n] = target;
    if (bd->ml_end) bd->ml_end[d->n] = bd->ml_n;
    d->line[d->n] = line;
    d->n++;
    return ROW_OK;
}

/* ---- CSV / TSV ---------------------------------------------------------- */

typedef struct record {
    char *buf;           /* unescaped field bytes */
    size_t len, cap;
    size_t *start, *flen;/* (nf) fields as offsets into buf */
    size_t nf, fcap;
} record;

static vt_status rec_byte(record *r, char c) {
    if (r->len == r->cap) {
        size_t cap = r->cap ? 2 * r->cap : 256;
        char *p = realloc(r->buf, cap);
        if (!p) return vt_error(VT_ERR_NOMEM, "out of memory parsing a row");
        r->buf = p;
        r->cap = cap;
    }
    r->buf[r->len++] = c;
    return VT_OK;
}

static vt_status rec_bytes(record *r, const char *s, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (rec_byte(r, s[i]) != VT_OK) return VT_ERR_NOMEM;
    return VT_OK;
}

static vt_status rec_field(record *r, size_t start) {
    if (r->nf == r->fcap) {
        size_t cap = r->fcap ? 2 * r->fcap : 16;
        size_t *s = realloc(r->start, cap * sizeof *s);
        if (s) r->start = s;
        size_t *l = realloc(r->flen, cap * sizeof *l);
        if (l) r->flen = l;
        if (!s || !l) return vt_error(VT_ERR_NOMEM, "out of memory parsing a row");
        r->fcap = cap;
    }
    r->start[r->nf] = start;
    r->flen[r->nf++] = r->len - start;
    return VT_OK;
}

static void rec_free(record *r) {
    free(r->buf);
    free(r->start);
    free(r->flen);
}

/* A line ends at data[p]: LF, CRLF, or a CR that ends the data. */
static bool at_eol(const char *data, size_t len, size_t p) {
    return data[p] == '\n' || (data[p] == '\r' && (p + 1 == len || data[p + 1] == '\n'));
}

typedef enum rec_result { REC_OK, REC_BLANK, REC_MALFORMED, REC_NOMEM } rec_result;

/* Parses one record starting at data[*pos] on line *line. On return *pos is
 * past its line end and *line is the line after it; `what` describes a
 * malformed record and `bad_line` where the problem lies. */
static rec_result next_record(const char *data, size_t len, size_t *pos, int64_t *line, bool csv, record *r,
                              const char **what, int64_t *bad_line) {
    size_t p = *pos;
    r->len = r->nf = 0;
    if (p >= len) return REC_BLANK;
    if (at_eol(data, len, p)) {
        *pos = p + (data[p] == '\r' && p + 1 < len ? 2 : 1);
        (*line)++;
        return REC_BLANK;
    }
    if (!csv) { /* TSV: split the physical line on TABs */
        size_t e = p;
        while (e < len && data[e] != '\n') e++;
        size_t end = e, s = p;
        if (end > p && data[end - 1] == '\r') end--;
        for (size_t i = p;; i++) {
            if (i == end || data[i] == '\t') {
                size_t start = r->len;
                if (rec_bytes(r, data + s, i - s) != VT_OK || rec_field(r, start) != VT_OK) return REC_NOMEM;
                s = i + 1;
                if (i == end) break;
            }
        }
        *pos = e < len ? e + 1 : e;
        (*line)++;
        return REC_OK;
    }
    int64_t ln = *line;
    for (;;) { /* one field per iteration */
        size_t start = r->len;
        if (p < len && data[p] == '"') {
            int64_t open_line = ln;
            p++;
            for (;;) {
                if (p >= len) {
                    *what = "unterminated quoted field";
                    *bad_line = open_line;
                    *pos = len;
                    *line = ln + 1;
                    return REC_MALFORMED;
                }
                char c = data[p];
                if (c == '"') {
                    if (p + 1 < len && data[p + 1] == '"') {
                        if (rec_byte(r, '"') != VT_OK) return REC_NOMEM;
                        p += 2;
                        continue;
                    }
                    p++;
                    break;
                }
                if (c == '\n') ln++;
                if (rec_byte(r, c) != VT_OK) return REC_NOMEM;
                p++;
            }
            if (p < len && data[p] != ',' && !at_eol(data, len, p)) {
                *what = "unexpected character after a closing quote";
                *bad_line = ln;
                while (p < len && data[p] != '\n') p++; /* resume at the next line */
                *pos = p < len ? p + 1 : p;
                *line = ln + 1;
                return REC_MALFORMED;
            }
        } else {
            while (p < len && data[p] != ',' && !at_eol(data, len, p))
                if (rec_byte(r, data[p++]) != VT_OK) return REC_NOMEM;
        }
        if (rec_field(r, start) != VT_OK) return REC_NOMEM;
        if (p < len && data[p] == ',') {
            p++;
            continue;
        }
        if (p < len && data[p] == '\r') p++;
        if (p < len && data[p] == '\n') p++;
        break;
    }
    *pos = p;
    *line = ln + 1;
    return REC_OK;
}

/* Index of column `name` in the header, -1 if absent, -2 if it appears twice. */
static int find_column(const record *h, const char *name) {
    int found = -1;
    size_t n = strlen(name);
    for (size_t i = 0; i < h->nf; i++)
        if (h->flen[i] == n && !memcmp(h->buf + h->start[i], name, n)) {
            if (found >= 0) return -2;
            found = (int)i;
        }
    return found;
}

static vt_status read_delimited(builder *bd, const char *data, size_t len, bool csv) {
    record r = {0};
    size_t pos = 0;
    int64_t line = 1;
    const char *what = NULL;
    int64_t bad_line = 0;
    vt_status st = VT_OK;
    rec_result rr;
    /* the header: the first non-blank record */
    do rr = next_record(data, len, &pos, &line, csv, &r, &what, &bad_line);
    while (rr == REC_BLANK && pos < len);
    if (rr == REC_NOMEM) st = vt_last_status();
    else if (rr == REC_BLANK) st = vt_error(VT_ERR_FORMAT, "%s:1: no header row (the file is empty)", bd->name);
    else if (rr == REC_MALFORMED)
        st = vt_error(VT_ERR_FORMAT, "%s:%lld: header row: %s", bd->name, (long long)bad_line, what);
    int64_t header_line = line - 1;
    if (st == VT_OK && (!vt_utf8_valid(r.buf, r.len) || memchr(r.buf, 0, r.len)))
        st = vt_error(VT_ERR_FORMAT, "%s:%lld: header row: invalid UTF-8", bd->name, (long long)header_line);
    int ct = -1, cb = -1, cl = -1;
    if (st == VT_OK) {
        const char *cols[3] = {bd->text_col, bd->text_b_col, bd->label_col};
        int *idx[3] = {&ct, &cb, &cl};
        for (int k = 0; k < 3 && st == VT_OK; k++) {
            if (k == 2 && !bd->labelled) continue;
            *idx[k] = find_column(&r, cols[k]);
            if (*idx[k] == -2)
                st = vt_error(VT_ERR_FORMAT, "%s:%lld: column '%s' appears twice in the header", bd->name,
                              (long long)header_line, cols[k]);
            else if (*idx[k] == -1 && (k != 1 || bd->o->text_b_column))
                st = vt_error(VT_ERR_FORMAT, "%s:%lld: the header has no column '%s' (use --%s-column)", bd->name,
                              (long long)header_line, cols[k], k == 0 ? "text" : k == 1 ? "text-b" : "label");
        }
    }
    size_t nf = r.nf;
    while (st == VT_OK && pos < len) {
        int64_t row_line = line;
        size_t row_start = pos;
        rr = next_record(data, len, &pos, &line, csv, &r, &what, &bad_line);
        int res = ROW_OK;
        if (rr == REC_BLANK) continue;
        if (rr == REC_NOMEM) res = (int)vt_last_status();
        else if (rr == REC_MALFORMED) res = bad_row(bd, bad_line, "%s", what);
        else if ((res = check_utf8(bd, row_line, data + row_start, pos - row_start)) != ROW_OK) {
        } else if (r.nf != nf)
            res = bad_row(bd, row_line, "%zu fields, but the header has %zu%s", r.nf, nf,
                          csv && r.nf > nf && bd->labelled && bd->kind == VT_LABEL_MULTI && strchr(bd->sep, ',')
                              ? " (quote a cell of labels joined by ',': \"a,b\")"
                              : "");
        else {
            label_cell cell = {cl >= 0 ? r.buf + r.start[cl] : NULL, cl >= 0 ? r.flen[cl] : 0, NULL};
            res = add_row(bd, row_line, r.buf + r.start[ct], r.flen[ct], cb >= 0 ? r.buf + r.start[cb] : NULL,
                          cb >= 0 ? r.flen[cb] : 0, cl >= 0 ? &cell : NULL);
        }
        if (res > 0) st = (vt_status)res;
    }
    rec_free(&r);
    return st;
}

/* ---- JSONL -------------------------------------------------------------- */

static bool is_space(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

static int jsonl_row(builder *bd, int64_t line, const char *s, size_t n) {
    int r = check_utf8(bd, line, s, n);
    if (r != ROW_OK) return r;
    const char *why;
    size_t at;
    cJSON *obj = vt_json_parse(s, n, &why, &at);
    if (!obj) return bad_row(bd, line, "invalid JSON (%s, at byte %zu; one object per line)", why, at);
    if (!cJSON_IsObject(obj)) {
        r = bad_row(bd, line, "not a JSON object");
    } else {
        const cJSON *t = cJSON_GetObjectItemCaseSensitive(obj, bd->text_col);
        const cJSON *b = cJSON_GetObjectItemCaseSensitive(obj, bd->text_b_col);
        const cJSON *l = bd->labelled ? cJSON_GetObjectItemCaseSensitive(obj, bd->label_col) : NULL;
        if (!t) r = bad_row(bd, line, "no \"%s\" field", bd->text_col);
        else if (!cJSON_IsString(t)) r = bad_row(bd, line, "\"%s\" is not a string", bd->text_col);
        else if (b && !cJSON_IsString(b) && !cJSON_IsNull(b))
            r = bad_row(bd, line, "\"%s\" is neither a string nor null", bd->text_b_col);
        else if (bd->labelled && !l) r = bad_row(bd, line, "no \"%s\" field", bd->label_col);
        else {
            const char *bs = b && cJSON_IsString(b) ? b->valuestring : NULL;
            label_cell cell = {NULL, 0, l};
            r = add_row(bd, line, t->valuestring, strlen(t->valuestring), bs, bs ? strlen(bs) : 0, l ? &cell : NULL);
        }
    }
    cJSON_Delete(obj);
    return r;
}

static vt_status read_jsonl(builder *bd, const char *data, size_t len) {
    size_t pos = 0;
    int64_t line = 1;
    while (pos < len) {
        size_t e = pos;
        while (e < len && data[e] != '\n') e++;
        size_t k = pos;
        while (k < e && is_space(data[k])) k++;
        if (k < e) {
            int r = jsonl_row(bd, line, data + pos, e - pos);
            if (r > 0) return (vt_status)r;
        }
        pos = e < len ? e + 1 : e;
        line++;
    }
    return VT_OK;
}

/* ---- assembling --------------------------------------------------------- */

static bool is_integer_label(const char *s) {
    size_t i = s[0] == '-', n = strlen(s);
    if (n == i || n - i > 18) return false;
    for (; i < n; i++)
        if (s[i] < '0' || s[i] > '9') return false;
    return true;
}

static int cmp_bytes(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }
static int cmp_numeric(const void *a, const void *b) {
    const char *x = *(char *const *)a, *y = *(char *const *)b;
    long long u = strtoll(x, NULL, 10), v = strtoll(y, NULL, 10); /* at most 18 digits: in range */
    if (u != v) return u < v ? -1 : 1;
    return strcmp(x, y); /* "01" and "1" */
}

/* Renumbers the labels sorted; rewrites d->label or the multi-label lists. */
static vt_status sort_labels(builder *bd) {
    vt_label_table *t = &bd->labels;
    size_t n = t->n;
    if (n < 2) return VT_OK;
    char **sorted = malloc(n * sizeof *sorted);
    int32_t *remap = malloc(n * sizeof *remap);
    if (!sorted || !remap) {
        free(sorted);
        free(remap);
        return vt_error(VT_ERR_NOMEM, "out of memory for the label map");
    }
    bool numeric = true;
    for (size_t i = 0; i < n; i++) numeric = numeric && is_integer_label(t->names[i]);
    memcpy(sorted, t->names, n * sizeof *sorted);
    qsort(sorted, n, sizeof *sorted, numeric ? cmp_numeric : cmp_bytes);
    for (size_t j = 0; j < n; j++) remap[vt_label_table_find(t, sorted[j], strlen(sorted[j]))] = (int32_t)j;
    if (bd->d->label)
        for (size_t i = 0; i < bd->d->n; i++) bd->d->label[i] = remap[bd->d->label[i]];
    for (size_t k = 0; k < bd->ml_n; k++) bd->ml_ids[k] = remap[bd->ml_ids[k]];
    memcpy(t->names, sorted, n * sizeof *sorted);
    free(sorted);
    free(remap);
    return VT_OK;
}

/* The multi-label lists as the (n, L) multi-hot matrix. */
static vt_status build_multi_hot(builder *bd) {
    vt_labelled *d = bd->d;
    size_t L = bd->labels.n;
    if (!L) return vt_error(VT_ERR_FORMAT, "%s: no row names a label (every label list is empty)", bd->name);
    if (d->n > SIZE_MAX / L) return vt_error(VT_ERR_NOMEM, "%s: %zu rows x %zu labels is too large", bd->name, d->n, L);
    d->multi_hot = calloc(d->n * L, 1);
    if (!d->multi_hot)
        return vt_error(VT_ERR_NOMEM, "%s: out of memory for the (%zu, %zu) label matrix", bd->name, d->n, L);
    for (size_t i = 0, k = 0; i < d->n; i++)
        for (; k < bd->ml_end[i]; k++) d->multi_hot[i * L + (size_t)bd->ml_ids[k]] = 1;
    return VT_OK;
}

void vt_labelled_free(vt_labelled *d) {
    if (!d) return;
    for (size_t i = 0; i < d->n; i++) {
        if (d->text) free(d->text[i]);
        if (d->text_b) free(d->text_b[i]);
    }
    free(d->text);
    free(d->text_len);
    free(d->text_b);
    free(d->text_b_len);
    free(d->label);
    free(d->multi_hot);
    free(d->target);
    free(d->line);
    for (int i = 0; i < d->num_labels; i++) free(d->id2label[i]);
    free(d->id2label);
    memset(d, 0, sizeof *d);
}

vt_status vt_labelled_parse(const char *data, size_t len, const char *name, const vt_labelled_options *opt,
                            vt_labelled *out) {
    vt_labelled_options defaults;
    vt_labelled_options_default(&defaults);
    const vt_labelled_options *o = opt ? opt : &defaults;
    if (!out) return vt_error(VT_ERR_INVALID_ARG, "vt_labelled_parse: NULL output");
    memset(out, 0, sizeof *out);
    if (!name) name = "<input>";
    if (!data && len) return vt_error(VT_ERR_INVALID_ARG, "vt_labelled_parse: NULL data");
    vt_data_format fmt = o->format != VT_DATA_AUTO ? o->format : vt_data_format_from_path(name);
    if (fmt != VT_DATA_TSV && fmt != VT_DATA_CSV && fmt != VT_DATA_JSONL)
        return vt_error(VT_ERR_INVALID_ARG, "%s: cannot tell the format from the name (.tsv, .csv or .jsonl): give the format (--format)",
                        name);
    if (o->kind != VT_LABEL_SINGLE && o->kind != VT_LABEL_MULTI && o->kind != VT_LABEL_REGRESSION)
        return vt_error(VT_ERR_INVALID_ARG, "unknown label kind %d", (int)o->kind);
    if (o->label_separator && !o->label_separator[0])
        return vt_error(VT_ERR_INVALID_ARG, "the label separator is empty");
    bool labelled = !o->unlabelled, regression = o->kind == VT_LABEL_REGRESSION;
    if (o->id2label && labelled && !regression && (o->num_labels < 1 || o->num_labels >= INT32_MAX))
        return vt_error(VT_ERR_INVALID_ARG, "a label map needs 1 or more labels (got %d)", o->num_labels);

    builder bd = {.o = o, .name = name, .d = out, .kind = o->kind, .labelled = labelled};
    bd.text_col = o->text_column ? o->text_column : "text";
    bd.text_b_col = o->text_b_column ? o->text_b_column : "text_b";
    bd.label_col = o->label_column ? o->label_column : o->kind == VT_LABEL_MULTI ? "labels" : "label";
    bd.sep = o->label_separator ? o->label_separator : ",";
    vt_status st = VT_OK;
    if (o->id2label && labelled && !regression) {
        bd.follow = true;
        for (int i = 0; i < o->num_labels && st == VT_OK; i++) {
            const char *lab = o->id2label[i];
            if (!lab) st = vt_error(VT_ERR_INVALID_ARG, "label map entry %d is NULL", i);
            else if (vt_label_table_find(&bd.labels, lab, strlen(lab)) >= 0)
                st = vt_error(VT_ERR_INVALID_ARG, "label map names '%s' twice", lab);
            else if (vt_label_table_add(&bd.labels, lab, strlen(lab)) < 0) st = vt_last_status();
        }
    }
    if (st == VT_OK && len >= 3 && !memcmp(data, "\xEF\xBB\xBF", 3)) { /* byte-order mark */
        data += 3;
        len -= 3;
    }
    if (st == VT_OK) st = fmt == VT_DATA_JSONL ? read_jsonl(&bd, data, len) : read_delimited(&bd, data, len, fmt == VT_DATA_CSV);
    if (st == VT_OK && out->n == 0) {
        if (out->n_skipped)
            st = vt_error(VT_ERR_FORMAT, "%s: every row is malformed (%zu skipped; first: %s)", name, out->n_skipped,
                          out->notes[0]);
        else
            st = vt_error(VT_ERR_FORMAT, "%s:1: no examples%s", name, len ? "" : " (the file is empty)");
    }
    bool has_labels = labelled && !regression;
    if (st == VT_OK && !bd.follow && has_labels && o->order == VT_LABELS_SORTED) st = sort_labels(&bd);
    if (st == VT_OK && labelled && o->kind == VT_LABEL_MULTI) st = build_multi_hot(&bd);
    if (st == VT_OK) {
        if (!bd.any_b) {
            free(out->text_b);
            free(out->text_b_len);
            out->text_b = NULL;
            out->text_b_len = NULL;
        }
        out->format = fmt;
        out->kind = o->kind;
        if (has_labels) { /* hand the names over */
            out->num_labels = (int)bd.labels.n;
            out->id2label = bd.labels.names;
            bd.labels.names = NULL;
            bd.labels.n = 0;
        }
    }
    vt_label_table_free(&bd.labels);
    free(bd.ml_ids);
    free(bd.ml_end);
    if (st != VT_OK) {
        vt_status keep = st;
        vt_labelled_free(out);
        return keep;
    }
    return VT_OK;
}

vt_status vt_labelled_load(const char *path, const vt_labelled_options *o, vt_labelled *out) {
    if (!out) return vt_error(VT_ERR_INVALID_ARG, "vt_labelled_load: NULL output");
    memset(out, 0, sizeof *out);
    if (!path) return vt_error(VT_ERR_INVALID_ARG, "vt_labelled_load: NULL path");
    char *data = NULL;
    size_t len = 0;
    size_t max = o && o->max_file_bytes ? o->max_file_bytes : SIZE_MAX - 1;
    vt_status st = vt_read_file(path, max, &data, &len);
    if (st != VT_OK) return st;
    st = vt_labelled_parse(data, len, strcmp(path, "-") ? path : "stdin", o, out);
    free(data);
    return st;
}

int32_t vt_labelled_label_id(const vt_labelled *d, const char *name) {
    for (int i = 0; name && i < d->num_labels; i++)
        if (!strcmp(d->id2label[i], name)) return i;
    return -1;
}

void vt_labelled_label_counts(const vt_labelled *d, int64_t *counts) {
    for (int i = 0; i < d->num_labels; i++) counts[i] = 0;
    size_t L = (size_t)d->num_labels;
    if (d->multi_hot)
        for (size_t i = 0; i < d->n; i++)
            for (size_t j = 0; j < L; j++) counts[j] += d->multi_hot[i * L + j];
    if (!d->label) return;
    for (size_t i = 0; i < d->n; i++)
        if (d->label[i] >= 0 && d->label[i] < d->num_labels) counts[d->label[i]]++;
}

vt_status vt_labelled_subsample(vt_labelled *d, size_t max_n, uint64_t seed) {
    if (max_n >= d->n) return VT_OK;
    int64_t *idx = malloc(d->n * sizeof *idx);
    bool *keep = calloc(d->n, sizeof *keep);
    if (!idx || !keep) {
        free(idx), free(keep);
        return vt_error(VT_ERR_NOMEM, "out of memory choosing %zu of %zu examples", max_n, d->n);
    }
    for (size_t i = 0; i < d->n; i++) idx[i] = (int64_t)i;
    vt_rng rng;
    vt_rng_seed(&rng, seed ^ 0x5eedull);
    vt_rng_shuffle_i64(&rng, idx, (int64_t)d->n);
    for (size_t i = 0; i < max_n; i++) keep[idx[i]] = true;
    size_t out = 0; /* the kept examples move to the front, the others are freed */
    for (size_t i = 0; i < d->n; i++) {
        if (!keep[i]) {
            free(d->text[i]);
            if (d->text_b) free(d->text_b[i]);
            continue;
        }
        d->text[out] = d->text[i];
        d->text_len[out] = d->text_len[i];
        if (d->text_b) d->text_b[out] = d->text_b[i], d->text_b_len[out] = d->text_b_len[i];
        if (d->label) d->label[out] = d->label[i];
        if (d->target) d->target[out] = d->target[i];
        if (d->multi_hot && out != i) /* rows of L bytes, moving forward only */
            memcpy(d->multi_hot + out * (size_t)d->num_labels, d->multi_hot + i * (size_t)d->num_labels,
                   (size_t)d->num_labels);
        d->line[out++] = d->line[i];
    }
    d->n = out;
    free(keep);
    free(idx);
    return VT_OK;
}
