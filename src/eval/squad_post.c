/* utils_qa.postprocess_qa_predictions: logits of features back to one
 * answer per question (see verto/squad.h). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "verto/squad.h"

void vt_qa_post_options_default(vt_qa_post_options *o) {
    memset(o, 0, sizeof *o);
    o->n_best_size = 20;
    o->max_answer_length = 30;
}

void vt_qa_predictions_free(vt_qa_predictions *p) {
    if (!p) return;
    for (size_t i = 0; p->p && i < p->n; i++) {
        for (int32_t k = 0; k < p->p[i].n_best; k++) free(p->p[i].nbest[k].text);
        free(p->p[i].nbest);
        free(p->p[i].text);
    }
    free(p->p);
    memset(p, 0, sizeof *p);
}

/* One candidate answer while its question is being decided. */
typedef struct cand {
    float score, start_logit, end_logit;
    int32_t cstart, cend;       /* characters of the context */
    int64_t bstart, bend;       /* bytes */
    int64_t order;              /* insertion order: Python's sort is stable */
    bool empty_stand_in;        /* utils_qa's {"text": "empty"} */
} cand;

static int by_score(const void *a, const void *b) {
    const cand *x = a, *y = b;
    if (x->score != y->score) return x->score > y->score ? -1 : 1;
    return x->order < y->order ? -1 : x->order > y->order;
}

/* Position i before j in np.argsort(v)[::-1]: the larger value, and of
 * equal ones the later position (a stable argsort reversed). */
static bool before(const float *v, int64_t i, int64_t j) { return v[i] > v[j] || (v[i] == v[j] && i > j); }

/* The n first positions of that order into top; returns how many (n or len). */
static int32_t top_positions(const float *v, int64_t len, int32_t n, int32_t *top) {
    int32_t k = 0;
    for (; k < n && k < len; k++) { /* the first position after top[k - 1] in the order */
        int64_t best = -1;
        for (int64_t i = 0; i < len; i++)
            if ((k == 0 || before(v, top[k - 1], i)) && (best < 0 || before(v, i, best))) best = i;
        top[k] = (int32_t)best;
    }
    return k;
}

static char *dup_range(const char *s, int64_t a, int64_t b) {
    int64_t n = b > a ? b - a : 0;
    char *c = malloc((size_t)n + 1);
    if (c) {
        if (n) memcpy(c, s + a, (size_t)n);
        c[n] = '\0';
    }
    return c;
}

typedef struct work {
    cand *c;
    size_t n, cap;
    int32_t *top_s, *top_e;
} work;

static vt_status push(work *w, cand c) {
    if (w->n == w->cap) {
        size_t cap = w->cap ? 2 * w->cap : 256;
        cand *p = realloc(w->c, cap * sizeof *p);
        if (!p) return vt_error(VT_ERR_NOMEM, "out of memory post-processing answers");
        w->c = p;
        w->cap = cap;
    }
    c.order = (int64_t)w->n;
    w->c[w->n++] = c;
    return VT_OK;
}

/* Decides question q from its features feats[0..nf). */
static vt_status one_question(const vt_squad *d, size_t q, const vt_qa_features *f, const size_t *feats, size_t nf,
                              const float *start_logits, const float *end_logits, int64_t row_len,
                              const vt_qa_post_options *o, work *w, vt_qa_prediction *out) {
    w->n = 0;
    cand null = {0};
    bool have_null = false;
    for (size_t k = 0; k < nf; k++) {
        size_t fi = feats[k];
        int64_t r0 = f->first[fi], at = row_len ? (int64_t)fi * row_len : r0;
        const float *sl = start_logits + at, *el = end_logits + at;
        int32_t len = vt_qa_feature_len(f, fi);
        int64_t row = row_len ? row_len : len;
        float null_score = sl[0] + el[0];
        if (!have_null || null.score > null_score) {
            null = (cand){.score = null_score, .start_logit = sl[0], .end_logit = el[0]};
            have_null = true;
        }
        int32_t ns = top_positions(sl, row, o->n_best_size, w->top_s);
        int32_t ne = top_positions(el, row, o->n_best_size, w->top_e);
        for (int32_t a = 0; a < ns; a++)
            for (int32_t b = 0; b < ne; b++) {
                int32_t s = w->top_s[a], e = w->top_e[b];
                /* out of the feature (padding) or outside the context: offset None */
                if (s >= len || e >= len || !vt_qa_in_context(f, r0 + s) || !vt_qa_in_context(f, r0 + e)) continue;
                if (e < s || e - s + 1 > o->max_answer_length) continue;
                cand c = {.score = sl[s] + el[e], .start_logit = sl[s], .end_logit = el[e],
                          .cstart = f->char_start[r0 + s], .cend = f->char_end[r0 + e],
                          .bstart = f->byte_start[r0 + s], .bend = f->byte_end[r0 + e]};
                vt_status st = push(w, c);
                if (st != VT_OK) return st;
            }
    }
    bool v2 = o->version_2_with_negative;
    if (v2 && have_null) {
        vt_status st = push(w, null);
        if (st != VT_OK) return st;
    }
    qsort(w->c, w->n, sizeof *w->c, by_score);
    size_t keep = w->n < (size_t)o->n_best_size ? w->n : (size_t)o->n_best_size;
    if (v2 && have_null) {
        bool any_null = false;
        for (size_t i = 0; i < keep; i++) any_null = any_null || (w->c[i].cstart == 0 && w->c[i].cend == 0);
        if (!any_null) w->c[keep++] = null; /* fits: the null was one of the w->n */
    }
    size_t clen;
    const char *ctx = vt_squad_context(d, q, &clen);
    /* "empty" first when nothing but an empty answer is left */
    bool stand_in = keep == 0 || (keep == 1 && w->c[0].bend <= w->c[0].bstart);
    int32_t n = (int32_t)keep + stand_in;
    out->nbest = calloc((size_t)n, sizeof *out->nbest);
    if (!out->nbest) return vt_error(VT_ERR_NOMEM, "out of memory post-processing answers");
    out->n_best = n;
    double max = -INFINITY, sum = 0;
    for (int32_t i = 0; i < n; i++) {
        const cand *c = stand_in && i == 0 ? NULL : &w->c[i - stand_in];
        vt_qa_candidate *nb = &out->nbest[i];
        nb->text = c ? dup_range(ctx, c->bstart, c->bend) : dup_range("empty", 0, 5);
        if (!nb->text) return vt_error(VT_ERR_NOMEM, "out of memory post-processing answers");
        if (c) {
            nb->start = c->cstart;
            nb->end = c->cend;
            nb->start_logit = c->start_logit;
            nb->end_logit = c->end_logit;
        }
        nb->probability = c ? c->score : 0.0; /* the score, until the softmax below */
        if (nb->probability > max) max = nb->probability;
    }
    for (int32_t i = 0; i < n; i++) sum += out->nbest[i].probability = exp(out->nbest[i].probability - max);
    for (int32_t i = 0; i < n; i++) out->nbest[i].probability /= sum;
    const vt_qa_candidate *best = &out->nbest[0];
    out->score_diff = NAN;
    if (v2) {
        int32_t i = 0;
        while (i < n && !out->nbest[i].text[0]) i++;
        if (i < n) best = &out->nbest[i]; /* all empty: utils_qa raises IndexError; keep the first */
        if (have_null) {
            out->score_diff = null.score - best->start_logit - best->end_logit;
            if (out->score_diff > (float)o->null_score_diff_threshold) best = NULL; /* numpy 2: in float32 */
        }
    }
    out->text = best ? dup_range(best->text, 0, (int64_t)strlen(best->text)) : dup_range("", 0, 0);
    if (!out->text) return vt_error(VT_ERR_NOMEM, "out of memory post-processing answers");
    return VT_OK;
}

vt_status vt_qa_postprocess(const vt_squad *d, const vt_qa_features *f, const float *start_logits,
                            const float *end_logits, int64_t row_len, const vt_qa_post_options *opt,
                            vt_qa_predictions *out) {
    vt_qa_post_options def;
    vt_qa_post_options_default(&def);
    const vt_qa_post_options *o = opt ? opt : &def;
    if (!out) return vt_error(VT_ERR_INVALID_ARG, "vt_qa_postprocess: NULL output");
    memset(out, 0, sizeof *out);
    if (row_len < 0) return vt_error(VT_ERR_INVALID_ARG, "vt_qa_postprocess: row_len %lld", (long long)row_len);
    if (!d || !f || (f->n && (!start_logits || !end_logits)))
        return vt_error(VT_ERR_INVALID_ARG, "vt_qa_postprocess: NULL argument");
    if (f->n && f->train) return vt_error(VT_ERR_INVALID_ARG, "vt_qa_postprocess: training features have no offsets");
    if (o->n_best_size < 1 || o->max_answer_length < 1)
        return vt_error(VT_ERR_INVALID_ARG, "vt_qa_postprocess: n_best_size %d and max_answer_length %d must be >= 1",
                        o->n_best_size, o->max_answer_length);
    size_t *count = calloc(d->n + 1, sizeof *count), *order = malloc((f->n ? f->n : 1) * sizeof *order);
    work w = {0};
    w.top_s = malloc((size_t)o->n_best_size * sizeof *w.top_s);
    w.top_e = malloc((size_t)o->n_best_size * sizeof *w.top_e);
    out->p = calloc(d->n ? d->n : 1, sizeof *out->p);
    vt_status st = count && order && w.top_s && w.top_e && out->p ? VT_OK
                                                                 : vt_error(VT_ERR_NOMEM, "out of memory post-processing answers");
    if (st == VT_OK) out->n = d->n;
    /* each question's features, in feature order (count[q] .. count[q + 1] of order) */
    for (size_t i = 0; st == VT_OK && i < f->n; i++) {
        if (f->example[i] < 0 || (size_t)f->example[i] >= d->n)
            st = vt_error(VT_ERR_INVALID_ARG, "vt_qa_postprocess: feature %zu belongs to question %d of %zu", i,
                          f->example[i], d->n);
        else if (row_len && vt_qa_feature_len(f, i) > row_len)
            st = vt_error(VT_ERR_INVALID_ARG, "vt_qa_postprocess: feature %zu has %d tokens, the logit rows %lld", i,
                          vt_qa_feature_len(f, i), (long long)row_len);
        else count[f->example[i] + 1]++;
    }
    for (size_t i = 0; st == VT_OK && i < f->n; i++) {
        int64_t at = row_len ? (int64_t)i * row_len : f->first[i], row = row_len ? row_len : vt_qa_feature_len(f, i);
        const float *rows[2] = {start_logits + at, end_logits + at};
        for (int k = 0; k < 2 && st == VT_OK; k++)
            for (int64_t j = 0; j < row; j++)
                if (isnan(rows[k][j])) {
                    st = vt_error(VT_ERR_INVALID_ARG, "vt_qa_postprocess: NaN %s logit in feature %zu",
                                  k ? "end" : "start", i);
                    break;
                }
    }
    if (st == VT_OK) {
        for (size_t q = 0; q < d->n; q++) count[q + 1] += count[q];
        size_t *fill = malloc((d->n + 1) * sizeof *fill);
        if (!fill) st = vt_error(VT_ERR_NOMEM, "out of memory post-processing answers");
        else {
            memcpy(fill, count, (d->n + 1) * sizeof *fill);
            for (size_t i = 0; i < f->n; i++) order[fill[f->example[i]]++] = i;
            free(fill);
        }
    }
    for (size_t q = 0; st == VT_OK && q < d->n; q++)
        st = one_question(d, q, f, order + count[q], count[q + 1] - count[q], start_logits, end_logits, row_len, o, &w,
                          &out->p[q]);
    free(count);
    free(order);
    free(w.c);
    free(w.top_s);
    free(w.top_e);
    if (st != VT_OK) vt_qa_predictions_free(out);
    return st;
}
