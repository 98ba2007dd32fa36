/* Tagged data sets (see verto/tagged.h): formats, then, once the row readers
 * have filled the builder, the scheme check, the label map and the result. */
#include "verto/tagged.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/utf8.h"
#include "data/tagged_internal.h"
#include "verto/fileio.h"

/* ---- formats ------------------------------------------------------------ */

const char *vt_tagged_format_name(vt_tagged_format f) {
    switch (f) {
    case VT_TAGGED_CONLL: return "conll";
    case VT_TAGGED_JSONL: return "jsonl";
    case VT_TAGGED_AUTO: break;
    }
    return "auto";
}

bool vt_tagged_format_parse(const char *name, vt_tagged_format *out) {
    static const struct { const char *name; vt_tagged_format f; } NAMES[] = {
        {"auto", VT_TAGGED_AUTO},   {"conll", VT_TAGGED_CONLL}, {"jsonl", VT_TAGGED_JSONL},
        {"ndjson", VT_TAGGED_JSONL}, {"json", VT_TAGGED_JSONL},
    };
    for (size_t i = 0; name && i < sizeof NAMES / sizeof *NAMES; i++)
        if (!strcasecmp(name, NAMES[i].name)) {
            *out = NAMES[i].f;
            return true;
        }
    return false;
}

vt_tagged_format vt_tagged_format_from_path(const char *path) {
    static const char *const CONLL[] = {"conll", "conll03", "iob", "iob1", "iob2", "bio", "bioes", "txt", "tsv"};
    if (!path) return VT_TAGGED_AUTO;
    const char *slash = strrchr(path, '/');
    const char *dot = strrchr(slash ? slash : path, '.');
    if (!dot) return VT_TAGGED_AUTO;
    for (size_t i = 0; i < sizeof CONLL / sizeof *CONLL; i++)
        if (!strcasecmp(dot + 1, CONLL[i])) return VT_TAGGED_CONLL;
    vt_tagged_format f;
    if (strcasecmp(dot + 1, "auto") && strcasecmp(dot + 1, "conll") && vt_tagged_format_parse(dot + 1, &f)) return f;
    return VT_TAGGED_AUTO;
}

void vt_tagged_options_default(vt_tagged_options *o) { memset(o, 0, sizeof *o); }

/* ---- after reading: scheme, labels, result ------------------------------ */

static vt_status nomem(const tagged_builder *b) { return vt_error(VT_ERR_NOMEM, "out of memory reading %s", b->name); }

/* The line of token k of sentence s (CoNLL: one token per line from the sentence's). */
static int64_t token_line(const tagged_builder *b, size_t s, size_t k) {
    return b->o->format == VT_TAGGED_JSONL ? b->line[s] : b->line[s] + (int64_t)(k - b->start[s]);
}

/* Removes the sentences with keep[s] false, in place. */
static void compact(tagged_builder *b, const bool *keep) {
    size_t ns = 0, nt = 0, text = 0;
    for (size_t s = 0; s < b->n_sent; s++) {
        if (!keep[s]) continue;
        size_t first = nt;
        for (size_t k = b->start[s]; k < b->start[s + 1]; k++, nt++) {
            memmove(b->text + text, b->text + b->tok_off[k], b->tok_len[k] + 1);
            b->tok_off[nt] = text;
            b->tok_len[nt] = b->tok_len[k];
            b->tag[nt] = b->tag[k];
            text += b->tok_len[nt] + 1;
        }
        b->line[ns] = b->line[s];
        b->start[ns++] = first;
    }
    b->start[ns] = nt;
    b->n_sent = ns;
    b->n_tok = nt;
    b->text_len = text;
}

/* The scheme (given or detected) and the sentences holding a tag it does
 * not allow: an error, or left out. */
static vt_status check_scheme(tagged_builder *b) {
    vt_tagged *d = b->d;
    size_t nl = b->labels.n; /* the labels in use, or the map followed (number_labels ran) */
    bool *refused = calloc(nl ? nl : 1, sizeof *refused), *keep = NULL;
    vt_status st = refused ? VT_OK : nomem(b);
    d->scheme = b->o->scheme;
    if (st == VT_OK && d->scheme == VT_SCHEME_AUTO &&
        vt_tag_scheme_detect((const char *const *)b->labels.names, (int)nl, b->tag, b->start, b->n_sent,
                             &d->scheme) != VT_OK) {
        char why[256];
        snprintf(why, sizeof why, "%s", vt_last_error());
        st = vt_error(VT_ERR_FORMAT, "%s: %s", b->name, why);
    }
    if (st != VT_OK) {
    } else if (d->scheme != VT_SCHEME_NONE) {
        for (size_t i = 0; i < nl; i++) refused[i] = !vt_tag_valid(d->scheme, b->labels.names[i]);
        if (!(keep = malloc((b->n_sent ? b->n_sent : 1) * sizeof *keep))) st = nomem(b);
        size_t dropped = 0;
        for (size_t s = 0; s < b->n_sent && st == VT_OK; s++) {
            keep[s] = true;
            for (size_t k = b->start[s]; k < b->start[s + 1] && keep[s]; k++) {
                if (!refused[b->tag[k]]) continue;
                char shown[64];
                b->open_bad = false;
                int r = tb_bad(b, token_line(b, s, k), "tag '%s' is not a tag of scheme %s",
                               vt_utf8_printable(b->labels.names[b->tag[k]], shown, sizeof shown),
                               vt_tag_scheme_name(d->scheme));
                if (r > 0) st = (vt_status)r;
                keep[s] = false;
            }
            if (!keep[s]) dropped++;
        }
        if (st == VT_OK && dropped) {
            d->n_skipped += dropped;
            compact(b, keep);
        }
    }
    free(keep);
    free(refused);
    return st;
}

typedef struct named {
    const char *name;
    int32_t old; /* id in the table */
} named;

static int cmp_named(const void *a, const void *b) { return strcmp(((const named *)a)->name, ((const named *)b)->name); }

/* The label map: the map followed as it is, or the tags in use, in order of
 * first appearance among the sentences kept, or sorted; tag ids rewritten. */
static vt_status number_labels(tagged_builder *b) {
    vt_label_table *t = &b->labels;
    if (b->follow) return VT_OK;
    size_t nl = t->n;
    int32_t *remap = malloc((nl ? nl : 1) * sizeof *remap);
    named *order = malloc((nl ? nl : 1) * sizeof *order);
    char **names = malloc((nl ? nl : 1) * sizeof *names);
    if (!remap || !order || !names) {
        free(remap), free(order), free(names);
        return nomem(b);
    }
    for (size_t i = 0; i < nl; i++) remap[i] = -1;
    size_t m = 0;
    for (size_t k = 0; k < b->n_tok; k++)
        if (remap[b->tag[k]] < 0) {
            remap[b->tag[k]] = 0;
            order[m++] = (named){t->names[b->tag[k]], b->tag[k]};
        }
    if (b->o->order == VT_LABELS_SORTED) qsort(order, m, sizeof *order, cmp_named);
    for (size_t j = 0; j < m; j++) {
        remap[order[j].old] = (int32_t)j;
        names[j] = t->names[order[j].old];
    }
    for (size_t i = 0; i < nl; i++)
        if (remap[i] < 0) free(t->names[i]); /* only in sentences left out */
    for (size_t k = 0; k < b->n_tok; k++) b->tag[k] = remap[b->tag[k]];
    free(t->names);
    t->names = names;
    t->n = t->cap = m;
    free(remap);
    free(order);
    return vt_label_table_reindex(t);
}

/* Hands the builder's arrays over to d. */
static vt_status finish(tagged_builder *b) {
    vt_tagged *d = b->d;
    d->token = malloc((b->n_tok ? b->n_tok : 1) * sizeof *d->token);
    if (!d->token) return nomem(b);
    d->n = b->n_sent;
    d->n_tokens = b->n_tok;
    d->bytes = b->text, b->text = NULL;
    for (size_t k = 0; k < b->n_tok; k++) d->token[k] = d->bytes + b->tok_off[k];
    d->start = b->start, b->start = NULL;
    d->line = b->line, b->line = NULL;
    d->token_len = b->tok_len, b->tok_len = NULL;
    if (!b->o->unlabelled) {
        d->tag = b->tag, b->tag = NULL;
        d->num_labels = (int)b->labels.n;
        d->id2label = b->labels.names;
        b->labels.names = NULL;
        b->labels.n = 0;
    }
    return VT_OK;
}

static void builder_free(tagged_builder *b) {
    vt_label_table_free(&b->labels);
    free(b->text);
    free(b->tok_off);
    free(b->tok_len);
    free(b->tag);
    free(b->start);
    free(b->line);
}

void vt_tagged_free(vt_tagged *d) {
    if (!d) return;
    free(d->start);
    free(d->token);
    free(d->token_len);
    free(d->tag);
    free(d->line);
    for (int i = 0; i < d->num_labels; i++) free(d->id2label[i]);
    free(d->id2label);
    free(d->bytes);
    memset(d, 0, sizeof *d);
}

vt_status vt_tagged_parse(const char *data, size_t len, const char *name, const vt_tagged_options *opt,
                          vt_tagged *out) {
    vt_tagged_options defaults;
    vt_tagged_options_default(&defaults);
    if (!out) return vt_error(VT_ERR_INVALID_ARG, "vt_tagged_parse: NULL output");
    memset(out, 0, sizeof *out);
    vt_tagged_options o = opt ? *opt : defaults;
    if (!name) name = "<input>";
    if (!data && len) return vt_error(VT_ERR_INVALID_ARG, "vt_tagged_parse: NULL data");
    if (o.format == VT_TAGGED_AUTO) o.format = vt_tagged_format_from_path(name);
    if (o.format != VT_TAGGED_CONLL && o.format != VT_TAGGED_JSONL)
        return vt_error(VT_ERR_INVALID_ARG, "%s: cannot tell the format from the name (.conll, .txt, .iob or .jsonl): "
                                            "give the format (--format)", name);
    if (o.id2label && (o.num_labels < 1 || o.num_labels >= INT32_MAX))
        return vt_error(VT_ERR_INVALID_ARG, "a label map needs 1 or more labels (got %d)", o.num_labels);
    if (o.unlabelled) o.id2label = NULL, o.scheme = VT_SCHEME_NONE;
    tagged_builder b = {.o = &o, .name = name, .d = out, .follow = o.id2label != NULL};
    out->format = o.format;
    vt_status st = VT_OK;
    for (int i = 0; o.id2label && i < o.num_labels && st == VT_OK; i++) {
        const char *lab = o.id2label[i];
        if (!lab || !*lab) st = vt_error(VT_ERR_INVALID_ARG, "label map entry %d is %s", i, lab ? "empty" : "NULL");
        else if (vt_label_table_find(&b.labels, lab, strlen(lab)) >= 0)
            st = vt_error(VT_ERR_INVALID_ARG, "label map names '%s' twice", lab);
        else if (vt_label_table_add(&b.labels, lab, strlen(lab)) < 0) st = vt_last_status();
    }
    if (st == VT_OK && len >= 3 && !memcmp(data, "\xEF\xBB\xBF", 3)) { /* byte-order mark */
        data += 3;
        len -= 3;
    }
    if (st == VT_OK) st = o.format == VT_TAGGED_JSONL ? tb_read_jsonl(&b, data, len) : tb_read_conll(&b, data, len);
    size_t skipped = out->n_skipped;
    if (st == VT_OK && !o.unlabelled && (st = number_labels(&b)) == VT_OK) st = check_scheme(&b);
    if (st == VT_OK && !o.unlabelled && out->n_skipped > skipped) st = number_labels(&b); /* some tags may be gone */
    if (st == VT_OK && b.n_sent == 0) {
        if (out->n_skipped)
            st = vt_error(VT_ERR_FORMAT, "%s: every sentence has a problem (%zu left out; first: %s)", name,
                          out->n_skipped, out->notes[0]);
        else
            st = vt_error(VT_ERR_FORMAT, "%s:1: no sentences%s", name, len ? "" : " (the file is empty)");
    } else if (st == VT_OK && b.n_tok == 0) {
        st = vt_error(VT_ERR_FORMAT, "%s:%lld: no tokens (every sentence is empty)", name, (long long)b.line[0]);
    }
    if (st == VT_OK) st = finish(&b);
    builder_free(&b);
    if (st != VT_OK) {
        vt_tagged_free(out);
        return st;
    }
    if (o.unlabelled) out->scheme = VT_SCHEME_NONE;
    return VT_OK;
}

vt_status vt_tagged_load(const char *path, const vt_tagged_options *o, vt_tagged *out) {
    if (!out) return vt_error(VT_ERR_INVALID_ARG, "vt_tagged_load: NULL output");
    memset(out, 0, sizeof *out);
    if (!path) return vt_error(VT_ERR_INVALID_ARG, "vt_tagged_load: NULL path");
    char *data = NULL;
    size_t len = 0;
    size_t max = o && o->max_file_bytes ? o->max_file_bytes : SIZE_MAX - 1;
    vt_status st = vt_read_file(path, max, &data, &len);
    if (st != VT_OK) return st;
    st = vt_tagged_parse(data, len, strcmp(path, "-") ? path : "stdin", o, out);
    free(data);
    return st;
}

int32_t vt_tagged_label_id(const vt_tagged *d, const char *name) {
    for (int i = 0; d && name && i < d->num_labels; i++)
        if (!strcmp(d->id2label[i], name)) return i;
    return -1;
}
