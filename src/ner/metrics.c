/* Entity-level precision, recall and F1 as seqeval computes them, token
 * accuracy, and the confusion of entity types (see verto/ner_metrics.h). */
#include "verto/ner_metrics.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ner/ner_internal.h"

/* One entity in the coordinates of the flattened data (each sentence
 * followed by one separator position, as seqeval's default mode reads it). */
typedef struct span {
    int64_t start, end;
    int32_t type; /* index into the candidate types */
} span;

typedef struct span_list {
    span *v;
    size_t n, cap;
} span_list;

/* A type as a byte slice. */
typedef struct slice {
    const char *s;
    int32_t len;
} slice;

static int slice_cmp(const slice *a, const slice *b) {
    int32_t m = a->len < b->len ? a->len : b->len;
    int c = memcmp(a->s, b->s, (size_t)m);
    return c ? c : (a->len > b->len) - (a->len < b->len); /* bytewise = code point order for UTF-8 */
}

static int slice_qcmp(const void *a, const void *b) { return slice_cmp(a, b); }

/* The emit callback's state: where entities go and how types become ids. */
typedef struct sink {
    span_list *list;
    const slice *types; /* (n_types) sorted, distinct */
    int32_t n_types;
    int64_t offset;     /* added to positions (strict mode: the sentence's flattened start) */
} sink;

static vt_status push_span(void *ud, int64_t start, int64_t end, const vt_ner_tag *type) {
    sink *k = ud;
    slice key = {type->type, type->type_len};
    const slice *hit = bsearch(&key, k->types, (size_t)k->n_types, sizeof *k->types, slice_qcmp);
    if (!hit) return vt_error(VT_ERR_INVALID_ARG, "entity type not among the label map's types"); /* cannot happen */
    span_list *l = k->list;
    if (l->n == l->cap) {
        size_t cap = l->cap ? 2 * l->cap : 256;
        span *v = realloc(l->v, cap * sizeof *v);
        if (!v) return vt_error(VT_ERR_NOMEM, "out of memory for entities");
        l->v = v;
        l->cap = cap;
    }
    l->v[l->n++] = (span){start + k->offset, end + k->offset, (int32_t)(hit - k->types)};
    return VT_OK;
}

static int span_cmp(const void *a, const void *b) {
    const span *x = a, *y = b;
    if (x->start != y->start) return x->start < y->start ? -1 : 1;
    if (x->end != y->end) return x->end < y->end ? -1 : 1;
    return (x->type > y->type) - (x->type < y->type);
}

/* Everything one computation holds; freed by work_free. */
typedef struct work {
    vt_ner_tag *parsed;  /* (num_labels + 1) the last one is the separator "O" */
    bool *bad;           /* (num_labels) strict mode: the scheme refuses this label */
    slice *types;        /* (num_labels + 1) candidate types, sorted and distinct */
    int32_t n_types;
    vt_ner_tag *seq;     /* default mode: the flattened gold or predicted tags */
    span_list gold, pred;
    int32_t *used;       /* (n_types) candidate type -> index among the types present, -1 */
} work;

static void work_free(work *w) {
    free(w->parsed);
    free(w->bad);
    free(w->types);
    free(w->seq);
    free(w->gold.v);
    free(w->pred.v);
    free(w->used);
}

static vt_status check_args(const char *const *id2label, int num_labels, const int32_t *gold, const int32_t *pred,
                            const size_t *start, size_t n) {
    if (!id2label || num_labels < 1 || !start || (n && (!gold || !pred)))
        return vt_error(VT_ERR_INVALID_ARG, "vt_ner_metrics_compute: NULL argument or no labels");
    for (int i = 0; i < num_labels; i++)
        if (!id2label[i] || !id2label[i][0])
            return vt_error(VT_ERR_INVALID_ARG, "label %d is %s", i, id2label[i] ? "empty" : "NULL");
    for (size_t s = 0; s < n; s++)
        if (start[s + 1] < start[s])
            return vt_error(VT_ERR_INVALID_ARG, "sentence %zu ends before it starts (start[%zu] > start[%zu])", s, s,
                            s + 1);
    if (n == 0 || start[n] == start[0]) return vt_error(VT_ERR_INVALID_ARG, "no tokens to score");
    for (size_t k = start[0]; k < start[n]; k++)
        if (gold[k] < 0 || gold[k] >= num_labels || pred[k] < 0 || pred[k] >= num_labels)
            return vt_error(VT_ERR_INVALID_ARG, "token %zu: label id %d outside [0, %d)", k - start[0],
                            gold[k] < 0 || gold[k] >= num_labels ? gold[k] : pred[k], num_labels);
    return VT_OK;
}

/* Parses every label for the mode, and makes the sorted table of their types. */
static vt_status parse_labels(work *w, const char *const *id2label, int num_labels, vt_ner_mode mode,
                              vt_tag_scheme scheme) {
    w->parsed = malloc(((size_t)num_labels + 1) * sizeof *w->parsed);
    w->bad = calloc((size_t)num_labels, sizeof *w->bad);
    w->types = malloc(((size_t)num_labels + 1) * sizeof *w->types);
    if (!w->parsed || !w->bad || !w->types) return vt_error(VT_ERR_NOMEM, "out of memory for the label map");
    for (int i = 0; i < num_labels; i++) {
        if (mode == VT_NER_DEFAULT) vt_ner_parse_default(id2label[i], &w->parsed[i]);
        else if (!vt_ner_parse_strict(id2label[i], scheme, &w->parsed[i])) {
            w->bad[i] = true;
            w->parsed[i] = (vt_ner_tag){VT_PFX_O, "_", 1};
        }
    }
    vt_ner_parse_default("O", &w->parsed[num_labels]); /* the separator; its type "_" */
    for (int i = 0; i <= num_labels; i++) w->types[i] = (slice){w->parsed[i].type, w->parsed[i].type_len};
    qsort(w->types, (size_t)num_labels + 1, sizeof *w->types, slice_qcmp);
    int32_t m = 0;
    for (int i = 0; i <= num_labels; i++)
        if (!m || slice_cmp(&w->types[m - 1], &w->types[i])) w->types[m++] = w->types[i];
    w->n_types = m;
    return VT_OK;
}

/* The entities of one side (ids: gold or pred) into list. */
static vt_status find_entities(work *w, const char *const *id2label, const int32_t *ids, const size_t *start,
                               size_t n, vt_ner_mode mode, vt_tag_scheme scheme, span_list *list) {
    sink k = {list, w->types, w->n_types, 0};
    if (mode == VT_NER_DEFAULT) {
        /* seqeval flattens the sentences with an "O" after each, then reads them as one sequence */
        int64_t m = 0;
        for (size_t s = 0; s < n; s++) {
            for (size_t t = start[s]; t < start[s + 1]; t++) w->seq[m++] = w->parsed[ids[t]];
            w->seq[m++] = (vt_ner_tag){'O', "_", 1};
        }
        return vt_ner_find_default(w->seq, m, push_span, &k);
    }
    int64_t flat = 0;
    for (size_t s = 0; s < n; s++) {
        int64_t len = (int64_t)(start[s + 1] - start[s]);
        for (size_t t = start[s]; t < start[s + 1]; t++)
            if (w->bad[ids[t]]) {
                vt_ner_tag dummy;
                vt_ner_parse_strict(id2label[ids[t]], scheme, &dummy); /* sets the message */
                return vt_error(VT_ERR_INVALID_ARG, "sentence %zu, token %zu: %s", s, t - start[s], vt_last_error());
            }
        for (int64_t t = 0; t < len; t++) w->seq[t] = w->parsed[ids[start[s] + (size_t)t]];
        k.offset = flat;
        vt_status st = vt_ner_find_strict(w->seq, len, scheme, push_span, &k);
        if (st != VT_OK) return st;
        flat += len + 1;
    }
    return VT_OK;
}

static double divide(int64_t num, int64_t den) { return den ? (double)num / (double)den : 0.0; }

static double f1_of(double p, double r) { return p + r == 0.0 ? 0.0 : 2.0 * p * r / (p + r); }

/* Per-type counts and confusion from the two entity lists, sorted by span. */
static vt_status count(work *w, vt_ner_metrics *out) {
    if (w->gold.n > 1) qsort(w->gold.v, w->gold.n, sizeof(span), span_cmp); /* (NULL when empty) */
    if (w->pred.n > 1) qsort(w->pred.v, w->pred.n, sizeof(span), span_cmp);
    w->used = malloc((size_t)w->n_types * sizeof *w->used);
    if (!w->used) return vt_error(VT_ERR_NOMEM, "out of memory for entity types");
    for (int32_t i = 0; i < w->n_types; i++) w->used[i] = -1;
    for (size_t i = 0; i < w->gold.n; i++) w->used[w->gold.v[i].type] = 0;
    for (size_t i = 0; i < w->pred.n; i++) w->used[w->pred.v[i].type] = 0;
    int T = 0;
    for (int32_t i = 0; i < w->n_types; i++)
        if (w->used[i] == 0) w->used[i] = T++;
    out->n_types = T;
    out->per_type = calloc(T ? (size_t)T : 1, sizeof *out->per_type);
    out->confusion = calloc((size_t)(T + 1) * (size_t)(T + 1), sizeof *out->confusion);
    if (!out->per_type || !out->confusion) return vt_error(VT_ERR_NOMEM, "out of memory for %d entity types", T);
    for (int32_t i = 0; i < w->n_types; i++) {
        if (w->used[i] < 0) continue;
        char *name = malloc((size_t)w->types[i].len + 1);
        if (!name) return vt_error(VT_ERR_NOMEM, "out of memory for entity types");
        memcpy(name, w->types[i].s, (size_t)w->types[i].len);
        name[w->types[i].len] = '\0';
        out->per_type[w->used[i]].type = name;
    }
    /* spans are distinct within each list: merge the two by span */
    size_t a = 0, b = 0;
    int64_t *cm = out->confusion;
    size_t W = (size_t)T + 1;
    while (a < w->gold.n || b < w->pred.n) {
        const span *g = a < w->gold.n ? &w->gold.v[a] : NULL, *p = b < w->pred.n ? &w->pred.v[b] : NULL;
        int c = !g ? 1 : !p ? -1 : g->start != p->start ? (g->start < p->start ? -1 : 1)
                                  : g->end != p->end ? (g->end < p->end ? -1 : 1) : 0;
        int gt = g ? w->used[g->type] : T, pt = p ? w->used[p->type] : T;
        if (c < 0) cm[(size_t)gt * W + (size_t)T]++, a++;
        else if (c > 0) cm[(size_t)T * W + (size_t)pt]++, b++;
        else cm[(size_t)gt * W + (size_t)pt]++, a++, b++;
    }
    for (int t = 0; t < T; t++) {
        vt_ner_type_metrics *m = &out->per_type[t];
        m->correct = cm[(size_t)t * W + (size_t)t];
        for (int u = 0; u <= T; u++) {
            m->support += cm[(size_t)t * W + (size_t)u];
            m->predicted += cm[(size_t)u * W + (size_t)t];
        }
    }
    return VT_OK;
}

/* seqeval's _precision_recall_fscore_support with average None / micro / macro / weighted. */
static void scores(vt_ner_metrics *out) {
    int T = out->n_types;
    double sp = 0, sr = 0, sf = 0, wp = 0, wr = 0, wf = 0;
    for (int t = 0; t < T; t++) {
        vt_ner_type_metrics *m = &out->per_type[t];
        m->precision = divide(m->correct, m->predicted);
        m->recall = divide(m->correct, m->support);
        m->f1 = f1_of(m->precision, m->recall);
        out->support += m->support;
        out->predicted += m->predicted;
        out->correct += m->correct;
        sp += m->precision, sr += m->recall, sf += m->f1;
        wp += m->precision * (double)m->support, wr += m->recall * (double)m->support, wf += m->f1 * (double)m->support;
    }
    out->micro_precision = divide(out->correct, out->predicted);
    out->micro_recall = divide(out->correct, out->support);
    out->micro_f1 = f1_of(out->micro_precision, out->micro_recall);
    out->macro_precision = T ? sp / T : NAN;
    out->macro_recall = T ? sr / T : NAN;
    out->macro_f1 = T ? sf / T : NAN;
    double ws = (double)out->support;
    out->weighted_precision = ws > 0 ? wp / ws : 0.0;
    out->weighted_recall = ws > 0 ? wr / ws : 0.0;
    out->weighted_f1 = ws > 0 ? wf / ws : 0.0;
}

void vt_ner_metrics_free(vt_ner_metrics *m) {
    if (!m) return;
    for (int t = 0; m->per_type && t < m->n_types; t++) free(m->per_type[t].type);
    free(m->per_type);
    free(m->confusion);
    memset(m, 0, sizeof *m);
}

vt_status vt_ner_metrics_compute(const char *const *id2label, int num_labels, const int32_t *gold,
                                 const int32_t *pred, const size_t *start, size_t n, vt_ner_mode mode,
                                 vt_tag_scheme scheme, vt_ner_metrics *out) {
    if (!out) return vt_error(VT_ERR_INVALID_ARG, "vt_ner_metrics_compute: NULL output");
    memset(out, 0, sizeof *out);
    vt_status st = check_args(id2label, num_labels, gold, pred, start, n);
    if (st != VT_OK) return st;
    if (mode == VT_NER_STRICT && scheme == VT_SCHEME_AUTO) {
        if ((st = vt_tag_scheme_detect(id2label, num_labels, gold, start, n, &scheme)) != VT_OK) return st;
        if (scheme == VT_SCHEME_NONE)
            return vt_error(VT_ERR_INVALID_ARG, "strict entity metrics: the labels follow no tag scheme (give one)");
    }
    if (mode == VT_NER_STRICT && !vt_ner_scheme_prefixes(scheme))
        return vt_error(VT_ERR_INVALID_ARG, "strict entity metrics need a scheme (IOB1 .. BILOU), not %s",
                        vt_tag_scheme_name(scheme));
    work w = {0};
    size_t n_tok = start[n] - start[0];
    if ((st = parse_labels(&w, id2label, num_labels, mode, scheme)) == VT_OK &&
        !(w.seq = malloc((n_tok + n) * sizeof *w.seq)))
        st = vt_error(VT_ERR_NOMEM, "out of memory for %zu tags", n_tok);
    if (st == VT_OK) st = find_entities(&w, id2label, gold, start, n, mode, scheme, &w.gold);
    if (st == VT_OK) st = find_entities(&w, id2label, pred, start, n, mode, scheme, &w.pred);
    if (st == VT_OK) st = count(&w, out);
    work_free(&w);
    if (st != VT_OK) {
        vt_ner_metrics_free(out);
        return st;
    }
    out->mode = mode;
    out->scheme = mode == VT_NER_STRICT ? scheme : VT_SCHEME_AUTO;
    out->n_sentences = n;
    scores(out);
    out->n_tokens = (int64_t)n_tok;
    for (size_t k = start[0]; k < start[n]; k++) out->n_tokens_correct += gold[k] == pred[k];
    out->accuracy = (double)out->n_tokens_correct / (double)out->n_tokens;
    return VT_OK;
}
