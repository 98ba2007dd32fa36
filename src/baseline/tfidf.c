/* TF-IDF as TfidfVectorizer(sublinear_tf=True, min_df, smooth_idf, norm="l2")
 * computes it: vocabulary and idf from the training texts, rows of
 * (1 + ln count) * idf scaled to unit length. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "baseline/baseline_internal.h"

void bl_csr_free(bl_csr *x) {
    free(x->row);
    free(x->col);
    free(x->val);
    memset(x, 0, sizeof *x);
}

void bl_tfidf_free(bl_tfidf *t) {
    bl_table_free(&t->vocab);
    free(t->idf);
    memset(t, 0, sizeof *t);
}

/* A growing list of int32. */
typedef struct ilist {
    int32_t *v;
    int64_t n, cap;
} ilist;

static vt_status ilist_push(ilist *l, int32_t x) {
    if (l->n == l->cap) {
        int64_t cap = l->cap ? 2 * l->cap : 4096;
        int32_t *v = realloc(l->v, (size_t)cap * sizeof *v);
        if (!v) return vt_error(VT_ERR_NOMEM, "out of memory for %lld terms", (long long)cap);
        l->v = v;
        l->cap = cap;
    }
    l->v[l->n++] = x;
    return VT_OK;
}

static int cmp_i32(const void *a, const void *b) {
    int32_t x = *(const int32_t *)a, y = *(const int32_t *)b;
    return (x > y) - (x < y);
}

/* ---- fitting ---- */

typedef struct fit_ctx {
    bl_table *t;
    ilist seq; /* every text's term ids (the table's), text after text */
    int32_t doc;
} fit_ctx;

static vt_status add_term(void *ctx, const char *term, size_t len) {
    fit_ctx *c = ctx;
    int32_t id;
    vt_status st = bl_table_add(c->t, term, len, &id, NULL);
    if (st != VT_OK) return st;
    bl_entry *e = &c->t->e[id];
    if (e->last_doc != c->doc) e->df++, e->last_doc = c->doc;
    return ilist_push(&c->seq, id);
}

typedef struct sorted_term {
    const char *s;
    int32_t id;
} sorted_term;

static int cmp_term(const void *a, const void *b) { /* bytewise: UTF-8 sorts as code points, as Python's sorted() */
    return strcmp(((const sorted_term *)a)->s, ((const sorted_term *)b)->s);
}

/* The rows of n texts whose (table) term ids are seq[start[i] .. start[i+1]),
 * remapped by col_of (-1: not a column). */
static vt_status build_rows(const bl_tfidf *t, const int32_t *seq, const int64_t *start, size_t n, const int32_t *col_of,
                            bl_csr *X) {
    memset(X, 0, sizeof *X);
    X->n = (int64_t)n;
    X->cols = t->V;
    int64_t total = start[n];
    X->row = malloc((n + 1) * sizeof *X->row);
    X->col = malloc((size_t)(total ? total : 1) * sizeof *X->col);
    X->val = malloc((size_t)(total ? total : 1) * sizeof *X->val);
    int32_t *ids = malloc((size_t)(total ? total : 1) * sizeof *ids), *counts = malloc((size_t)(total ? total : 1) * sizeof *counts);
    vt_status st = X->row && X->col && X->val && ids && counts ? VT_OK
                                                               : vt_error(VT_ERR_NOMEM, "out of memory for %lld terms", (long long)total);
    int64_t nnz = 0;
    for (size_t i = 0; st == VT_OK && i < n; i++) {
        X->row[i] = nnz;
        int32_t m = 0;
        for (int64_t k = start[i]; k < start[i + 1]; k++) {
            int32_t c = col_of ? col_of[seq[k]] : seq[k];
            if (c >= 0) ids[m++] = c;
        }
        qsort(ids, (size_t)m, sizeof *ids, cmp_i32);
        int32_t d = 0;
        for (int32_t k = 0; k < m; k++) {
            if (d && ids[k] == X->col[nnz + d - 1]) counts[d - 1]++;
            else X->col[nnz + d] = ids[k], counts[d++] = 1;
        }
        bl_tfidf_values(t, X->col + nnz, counts, d, X->val + nnz);
        nnz += d;
    }
    if (st == VT_OK) X->row[n] = nnz;
    free(ids);
    free(counts);
    if (st != VT_OK) bl_csr_free(X);
    return st;
}

vt_status bl_tfidf_fit(bl_tfidf *t, const char *const *text, const size_t *len, size_t n, int64_t min_df, bl_csr *X) {
    memset(t, 0, sizeof *t);
    memset(X, 0, sizeof *X);
    bl_table all = {0};
    bl_scratch s = {0};
    fit_ctx c = {.t = &all};
    int64_t *start = malloc((n + 1) * sizeof *start);
    vt_status st = start ? VT_OK : vt_error(VT_ERR_NOMEM, "out of memory for %zu texts", n);
    for (size_t i = 0; st == VT_OK && i < n; i++) {
        start[i] = c.seq.n;
        c.doc = (int32_t)i;
        st = bl_each_term(&s, text[i], len[i], add_term, &c);
    }
    if (st == VT_OK) start[n] = c.seq.n;
    sorted_term *kept = st == VT_OK ? malloc(((size_t)all.n + 1) * sizeof *kept) : NULL;
    int32_t *col_of = st == VT_OK ? malloc(((size_t)all.n + 1) * sizeof *col_of) : NULL;
    if (st == VT_OK && (!kept || !col_of)) st = vt_error(VT_ERR_NOMEM, "out of memory for %d terms", all.n);
    int32_t V = 0;
    for (int32_t id = 0; st == VT_OK && id < all.n; id++) {
        col_of[id] = -1;
        if (all.e[id].df >= min_df) kept[V++] = (sorted_term){bl_table_term(&all, id), id};
    }
    if (st == VT_OK && !all.n)
        st = vt_error(VT_ERR_INVALID_ARG, "empty vocabulary: no training text has a word of two or more letters or digits");
    else if (st == VT_OK && !V)
        st = vt_error(VT_ERR_INVALID_ARG, "no term is in %lld or more of the %zu training texts (min_df): none is left",
                      (long long)min_df, n);
    if (st == VT_OK) qsort(kept, (size_t)V, sizeof *kept, cmp_term);
    if (st == VT_OK && !(t->idf = malloc((size_t)V * sizeof *t->idf)))
        st = vt_error(VT_ERR_NOMEM, "out of memory for %d terms", V);
    for (int32_t j = 0; st == VT_OK && j < V; j++) {
        int32_t id;
        const bl_entry *e = &all.e[kept[j].id];
        st = bl_table_add(&t->vocab, kept[j].s, e->len, &id, NULL);
        col_of[kept[j].id] = j;
        t->idf[j] = log((double)(n + 1) / (double)(e->df + 1)) + 1; /* smooth_idf: as if one more text had every term */
    }
    if (st == VT_OK) {
        t->V = V;
        st = build_rows(t, c.seq.v, start, n, col_of, X);
    }
    free(kept);
    free(col_of);
    free(start);
    free(c.seq.v);
    bl_table_free(&all);
    bl_scratch_free(&s);
    if (st != VT_OK) bl_tfidf_free(t);
    return st;
}

/* ---- a fitted vocabulary on new texts ---- */

void bl_tfidf_values(const bl_tfidf *t, const int32_t *ids, const int32_t *counts, int32_t m, double *val) {
    double sq = 0;
    for (int32_t k = 0; k < m; k++) {
        val[k] = (log((double)counts[k]) + 1) * t->idf[ids[k]];
        sq += val[k] * val[k];
    }
    double norm = sqrt(sq);
    for (int32_t k = 0; norm > 0 && k < m; k++) val[k] /= norm;
}

typedef struct known_ctx {
    const bl_table *vocab;
    ilist ids;
} known_ctx;

static vt_status known_term(void *ctx, const char *term, size_t len) {
    known_ctx *c = ctx;
    int32_t id = bl_table_find(c->vocab, term, len);
    return id >= 0 ? ilist_push(&c->ids, id) : VT_OK;
}

vt_status bl_tfidf_counts(const bl_tfidf *t, bl_scratch *s, const char *text, size_t len, int32_t **ids,
                          int32_t **counts, int32_t *m, int32_t *cap) {
    known_ctx c = {.vocab = &t->vocab};
    vt_status st = bl_each_term(s, text, len, known_term, &c);
    *m = 0;
    if (st == VT_OK && c.ids.n > *cap) {
        int32_t *a = realloc(*ids, (size_t)c.ids.n * sizeof *a), *b = a ? realloc(*counts, (size_t)c.ids.n * sizeof *b) : NULL;
        if (a) *ids = a;
        if (b) *counts = b, *cap = (int32_t)c.ids.n;
        if (!a || !b) st = vt_error(VT_ERR_NOMEM, "out of memory for %lld terms", (long long)c.ids.n);
    }
    if (st == VT_OK) {
        if (c.ids.n) qsort(c.ids.v, (size_t)c.ids.n, sizeof *c.ids.v, cmp_i32); /* (v is NULL when n is 0) */
        for (int64_t k = 0; k < c.ids.n; k++) {
            if (*m && c.ids.v[k] == (*ids)[*m - 1]) (*counts)[*m - 1]++;
            else (*ids)[*m] = c.ids.v[k], (*counts)[(*m)++] = 1;
        }
    }
    free(c.ids.v);
    return st;
}

vt_status bl_tfidf_transform(const bl_tfidf *t, const char *const *text, const size_t *len, size_t n, bl_csr *X) {
    bl_scratch s = {0};
    known_ctx c = {.vocab = &t->vocab};
    int64_t *start = malloc((n + 1) * sizeof *start);
    vt_status st = start ? VT_OK : vt_error(VT_ERR_NOMEM, "out of memory for %zu texts", n);
    for (size_t i = 0; st == VT_OK && i < n; i++) {
        start[i] = c.ids.n;
        st = bl_each_term(&s, text[i], len[i], known_term, &c);
    }
    if (st == VT_OK) {
        start[n] = c.ids.n;
        st = build_rows(t, c.ids.v, start, n, NULL, X);
    }
    free(start);
    free(c.ids.v);
    bl_scratch_free(&s);
    return st;
}
