/* Inside the TF-IDF + logistic regression baseline (see verto/baseline.h). */
#ifndef VT_BASELINE_INTERNAL_H
#define VT_BASELINE_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "eval/py_text.h"
#include "verto/baseline.h"

/* ---- terms of a text (terms.c) ---- */

/* Reusable buffers for cutting texts into terms. */
typedef struct bl_scratch {
    vt_py_str cp, low;      /* the text's code points, lowercased */
    char *bytes;            /* the tokens' UTF-8, back to back */
    size_t n_bytes, cap_bytes;
    struct bl_token {
        size_t off, len;    /* in bytes */
    } *tok;                 /* (n_tok) */
    size_t n_tok, cap_tok;
    char *pair;             /* a bigram being formed */
    size_t cap_pair;
} bl_scratch;

void bl_scratch_free(bl_scratch *s);

typedef vt_status (*bl_term_fn)(void *ctx, const char *term, size_t len);
/* Calls fn for each term of text[0..len) in order: every token (lowercased,
 * a maximal run of 2 or more \w code points), then every pair of consecutive
 * tokens joined by a space. */
vt_status bl_each_term(bl_scratch *s, const char *text, size_t len, bl_term_fn fn, void *ctx);

/* ---- a table of terms (term_table.c) ---- */

typedef struct bl_entry {
    uint64_t hash;
    size_t off;       /* in the table's bytes */
    uint32_t len;
    int32_t df;       /* texts that have it (while fitting) */
    int32_t last_doc; /* the last text that counted it (-1: none) */
} bl_entry;

typedef struct bl_table {
    char *bytes;      /* the terms, each NUL-terminated */
    size_t n_bytes, cap_bytes;
    bl_entry *e;      /* (n) in insertion order: entry i is term id i */
    int32_t n, cap;
    int32_t *slot;    /* (n_slots) open addressing: -1 or an entry */
    size_t n_slots;   /* a power of two, at least twice n */
} bl_table;

/* Id of term s[0..len), or -1. */
int32_t bl_table_find(const bl_table *t, const char *s, size_t len);
/* Id of s[0..len), inserted (df 0) when new; *added says whether it was. */
vt_status bl_table_add(bl_table *t, const char *s, size_t len, int32_t *id, bool *added);
static inline const char *bl_table_term(const bl_table *t, int32_t id) { return t->bytes + t->e[id].off; }
void bl_table_free(bl_table *t);

/* ---- TF-IDF (tfidf.c) ---- */

/* Rows of sparse features: row i's columns col[row[i] .. row[i+1]), ascending. */
typedef struct bl_csr {
    int64_t n, cols;
    int64_t *row; /* (n + 1) */
    int32_t *col; /* (nnz) */
    double *val;  /* (nnz) */
} bl_csr;
void bl_csr_free(bl_csr *x);

typedef struct bl_tfidf {
    bl_table vocab; /* term id = column, in sorted order */
    double *idf;    /* (V) */
    int64_t V;
} bl_tfidf;
void bl_tfidf_free(bl_tfidf *t);

/* The vocabulary (terms in at least min_df of the n texts, sorted) and idf,
 * and the texts' TF-IDF rows in *X. */
vt_status bl_tfidf_fit(bl_tfidf *t, const char *const *text, const size_t *len, size_t n, int64_t min_df, bl_csr *X);
/* A text's known terms: ids (ascending, distinct) and their counts, *m of
 * them, into the caller's growing arrays (*cap entries). */
vt_status bl_tfidf_counts(const bl_tfidf *t, bl_scratch *s, const char *text, size_t len, int32_t **ids,
                          int32_t **counts, int32_t *m, int32_t *cap);
/* The TF-IDF values (m) of those counts: (1 + ln count) idf, unit L2 norm. */
void bl_tfidf_values(const bl_tfidf *t, const int32_t *ids, const int32_t *counts, int32_t m, double *val);
/* n texts' rows, with t's vocabulary. */
vt_status bl_tfidf_transform(const bl_tfidf *t, const char *const *text, const size_t *len, size_t n, bl_csr *X);

/* ---- L-BFGS (lbfgs.c) ---- */

/* f(x) (returned) and its gradient g (n) at x (n). A non-finite value stops
 * the minimiser with VT_ERR_NUMERIC. */
typedef double (*bl_objective)(void *ctx, const double *x, double *g);

typedef struct bl_lbfgs_result {
    int64_t iterations;
    bool converged; /* stopped by tol or by the objective's relative change, not by max_iter */
    double f, max_grad;
} bl_lbfgs_result;

/* Minimises f from x (n, overwritten by the minimum found) with 10 curvature
 * pairs and a line search meeting the Wolfe conditions; stops when every
 * |g_i| <= tol, when (f_k - f_k+1) / max(|f_k|, |f_k+1|, 1) <= 64 eps (SciPy's
 * ftol as scikit-learn sets it), or after max_iter iterations. */
vt_status bl_lbfgs(bl_objective f, void *ctx, double *x, size_t n, double tol, int64_t max_iter, bl_lbfgs_result *r);

/* ---- logistic regression (logreg.c) ---- */

/* Fits K' = 1 (binary: y01 (n) targets in {0, 1}) or K' = K > 2
 * (multinomial: y (n) class ids) outputs on X: theta ((K' * V) + K') holds W
 * (K', V) row-major then the intercepts, the start on entry (zeros as
 * sklearn) and the fit on return. */
vt_status bl_logreg_fit(const bl_csr *X, int Kp, const double *y01, const int32_t *y, double C, double tol,
                        int64_t max_iter, double *theta, bl_lbfgs_result *r);

/* ---- the model ---- */

struct vt_baseline {
    bl_tfidf tfidf;
    bool multi;        /* multi-label: a binary model per label */
    int K;             /* labels */
    char **labels;     /* (K) */
    int Kp;            /* rows of coef: 1 for two classes, else K */
    double *coef;      /* (Kp, V) */
    double *intercept; /* (Kp) */
    double C, threshold, tol;
    int64_t min_df, max_iter;
};

/* The decision values z (Kp) of a text's TF-IDF row (ids, val: m). */
void bl_decision(const vt_baseline *b, const int32_t *ids, const double *val, int32_t m, double *z);
/* Scores (K) from z (Kp): class probabilities or each label's sigmoid. */
void bl_scores(const vt_baseline *b, const double *z, double *scores);

/* config.json's contents as vt_baseline_save writes them, parsed from text
 * [0..len) (`name` in messages) into b's settings and labels. */
vt_status bl_config_parse(vt_baseline *b, const char *text, size_t len, const char *name);
/* vocab.txt's terms: one per line, sorted strictly, valid UTF-8; into t's
 * table with the idf (V) given. */
vt_status bl_vocab_parse(bl_tfidf *t, const char *text, size_t len, const double *idf, int64_t V, const char *name);

#endif
