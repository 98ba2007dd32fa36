/* A fitted baseline: predictions and what it holds (see verto/baseline.h). */
#include <stdlib.h>
#include <string.h>

#include "baseline/baseline_internal.h"
#include "core/par_error.h"
#include "verto/bert.h"

void vt_baseline_free(vt_baseline *b) {
    if (!b) return;
    bl_tfidf_free(&b->tfidf);
    for (int k = 0; b->labels && k < b->K; k++) free(b->labels[k]);
    free(b->labels);
    free(b->coef);
    free(b->intercept);
    free(b);
}

/* One text's scores (K), with the caller's buffers. */
static vt_status predict_one(const vt_baseline *b, bl_scratch *s, const char *text, size_t len, int32_t **ids,
                             int32_t **counts, double **val, int32_t *cap, double *scores) {
    int32_t m = 0, had = *cap;
    vt_status st = bl_tfidf_counts(&b->tfidf, s, text, len, ids, counts, &m, cap);
    if (st == VT_OK && *cap > had) {
        double *v = realloc(*val, (size_t)*cap * sizeof *v);
        if (!v) return vt_error(VT_ERR_NOMEM, "out of memory for %d terms", *cap);
        *val = v;
    }
    if (st != VT_OK) return st;
    double z[VT_BERT_MAX_LABELS];
    bl_tfidf_values(&b->tfidf, *ids, *counts, m, *val);
    bl_decision(b, *ids, *val, m, z);
    bl_scores(b, z, scores);
    return VT_OK;
}

vt_status vt_baseline_predict(const vt_baseline *b, const char *const *text, const size_t *len, size_t n,
                              double *scores) {
    vt_par_error err = {0};
#pragma omp parallel
    {
        bl_scratch s = {0};
        int32_t *ids = NULL, *counts = NULL, cap = 0;
        double *val = NULL;
#pragma omp for schedule(dynamic, 16)
        for (size_t i = 0; i < n; i++) {
            vt_status st = predict_one(b, &s, text[i], len[i], &ids, &counts, &val, &cap, scores + i * (size_t)b->K);
            if (st != VT_OK) vt_par_error_keep(&err, (int64_t)i, st);
        }
        bl_scratch_free(&s);
        free(ids);
        free(counts);
        free(val);
    }
    return err.status == VT_OK ? VT_OK : vt_par_error_raise(&err);
}

bool vt_baseline_multi_label(const vt_baseline *b) { return b->multi; }
int vt_baseline_num_labels(const vt_baseline *b) { return b->K; }
const char *vt_baseline_label(const vt_baseline *b, int k) { return k >= 0 && k < b->K ? b->labels[k] : NULL; }
double vt_baseline_c(const vt_baseline *b) { return b->C; }
double vt_baseline_threshold(const vt_baseline *b) { return b->threshold; }
int64_t vt_baseline_num_terms(const vt_baseline *b) { return b->tfidf.V; }
const char *vt_baseline_term(const vt_baseline *b, int64_t j) {
    return j >= 0 && j < b->tfidf.V ? bl_table_term(&b->tfidf.vocab, (int32_t)j) : NULL;
}
double vt_baseline_idf(const vt_baseline *b, int64_t j) { return j >= 0 && j < b->tfidf.V ? b->tfidf.idf[j] : 0; }
