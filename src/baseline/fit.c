/* Fitting the baseline: TF-IDF on train, a logistic regression per C of the
 * grid, C chosen on dev (see verto/baseline.h). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "baseline/baseline_internal.h"
#include "verto/bert.h"
#include "verto/multilabel_metrics.h"

static const double DEFAULT_GRID[] = {0.1, 1, 10, 100, 1000};

void vt_baseline_options_default(vt_baseline_options *o) {
    *o = (vt_baseline_options){.min_df = 1, .c_grid = NULL, .n_c = 0, .tol = 1e-8, .max_iter = 10000, .log = NULL};
}

static vt_status check_data(const vt_labelled *train, const vt_labelled *dev, const vt_baseline_options *o) {
    if (!train || !dev) return vt_error(VT_ERR_INVALID_ARG, "the baseline needs a training set and a dev set to choose C on");
    if (train->kind != VT_LABEL_SINGLE && train->kind != VT_LABEL_MULTI)
        return vt_error(VT_ERR_UNSUPPORTED, "the baseline classifies (single- or multi-label), not %s",
                        vt_label_kind_name(train->kind));
    if (dev->kind != train->kind || dev->num_labels != train->num_labels)
        return vt_error(VT_ERR_INVALID_ARG, "dev must have train's kind of label and label map");
    for (int k = 0; k < train->num_labels; k++)
        if (strcmp(train->id2label[k], dev->id2label[k]))
            return vt_error(VT_ERR_INVALID_ARG, "dev's label %d is '%s', train's '%s': read dev with train's label map",
                            k, dev->id2label[k], train->id2label[k]);
    if (train->text_b || dev->text_b)
        return vt_error(VT_ERR_UNSUPPORTED, "the baseline reads single texts, not text pairs (text_b)");
    if (o->min_df < 1 || !(o->tol > 0) || o->max_iter < 1 || o->n_c < 0 || o->n_c > VT_BASELINE_MAX_C ||
        (o->n_c && !o->c_grid))
        return vt_error(VT_ERR_INVALID_ARG, "the baseline needs min_df >= 1, tol > 0, max_iter >= 1 and 1 to %d values of C",
                        VT_BASELINE_MAX_C);
    for (int i = 0; i < o->n_c; i++)
        if (!(o->c_grid[i] > 0) || !isfinite(o->c_grid[i]))
            return vt_error(VT_ERR_INVALID_ARG, "C must be a positive number, not %g", o->c_grid[i]);
    int K = train->num_labels;
    if (K > VT_BERT_MAX_LABELS)
        return vt_error(VT_ERR_UNSUPPORTED, "%d labels: verto's classifiers have at most %d", K, VT_BERT_MAX_LABELS);
    for (int k = 0; k < K; k++)
        if (strlen(train->id2label[k]) >= VT_BERT_LABEL_MAX)
            return vt_error(VT_ERR_UNSUPPORTED, "label '%.40s...' is longer than verto's %d bytes", train->id2label[k],
                            VT_BERT_LABEL_MAX - 1);
    if (train->kind == VT_LABEL_SINGLE && K < 2)
        return vt_error(VT_ERR_INVALID_ARG, "the training set has one label (%s): a classifier needs two or more",
                        K ? train->id2label[0] : "none");
    int64_t *count = calloc((size_t)K, sizeof *count);
    if (!count) return vt_error(VT_ERR_NOMEM, "out of memory for %d labels", K);
    vt_labelled_label_counts(train, count);
    vt_status st = VT_OK;
    for (int k = 0; k < K && st == VT_OK; k++)
        if (!count[k])
            st = vt_error(VT_ERR_INVALID_ARG, "label '%s' has no training example: nothing to learn it from",
                          train->id2label[k]);
        else if (train->kind == VT_LABEL_MULTI && (size_t)count[k] == train->n)
            st = vt_error(VT_ERR_INVALID_ARG, "label '%s' is on every training example: nothing to learn it from",
                          train->id2label[k]);
    free(count);
    return st;
}

void bl_decision(const vt_baseline *b, const int32_t *ids, const double *val, int32_t m, double *z) {
    for (int k = 0; k < b->Kp; k++) {
        const double *w = b->coef + (size_t)k * (size_t)b->tfidf.V;
        double s = b->intercept[k];
        for (int32_t p = 0; p < m; p++) s += val[p] * w[ids[p]];
        z[k] = s;
    }
}

static double sigmoid(double z) { return z >= 0 ? 1 / (1 + exp(-z)) : exp(z) / (1 + exp(z)); }

void bl_scores(const vt_baseline *b, const double *z, double *scores) {
    if (b->multi) {
        for (int k = 0; k < b->K; k++) scores[k] = sigmoid(z[k]);
    } else if (b->Kp == 1) {
        scores[0] = sigmoid(-z[0]);
        scores[1] = sigmoid(z[0]);
    } else {
        double m = z[0], sum = 0;
        for (int k = 1; k < b->K; k++) m = fmax(m, z[k]);
        for (int k = 0; k < b->K; k++) sum += scores[k] = exp(z[k] - m);
        for (int k = 0; k < b->K; k++) scores[k] /= sum;
    }
}

/* scores (X->n, K) of b on rows X. */
static void score_rows(const vt_baseline *b, const bl_csr *X, double *scores) {
#pragma omp parallel for schedule(static)
    for (int64_t i = 0; i < X->n; i++) {
        double z[VT_BERT_MAX_LABELS];
        bl_decision(b, X->col + X->row[i], X->val + X->row[i], (int32_t)(X->row[i + 1] - X->row[i]), z);
        bl_scores(b, z, scores + (size_t)i * (size_t)b->K);
    }
}

/* dev's figure for b: accuracy (the first largest probability predicted, as
 * sklearn's predict), or micro F1 at the threshold that maximises it (into
 * *threshold). */
static vt_status dev_score(const vt_baseline *b, const bl_csr *Xd, const vt_labelled *dev, double *score,
                           double *threshold) {
    size_t n = dev->n, K = (size_t)b->K;
    double *p = malloc(n * K * sizeof *p);
    if (!p) return vt_error(VT_ERR_NOMEM, "out of memory for %zu dev examples", n);
    score_rows(b, Xd, p);
    vt_status st = VT_OK;
    if (b->multi) {
        st = vt_multilabel_best_threshold(dev->multi_hot, p, n, b->K, threshold, score);
    } else {
        size_t right = 0;
        for (size_t i = 0; i < n; i++) {
            size_t best = 0;
            for (size_t k = 1; k < K; k++)
                if (p[i * K + k] > p[i * K + best]) best = k;
            right += (int32_t)best == dev->label[i];
        }
        *score = (double)right / (double)n;
    }
    free(p);
    return st;
}

/* b's coefficients for C: one fit (single-label) or one per label. */
static vt_status fit_c(vt_baseline *b, const bl_csr *X, const vt_labelled *train, double C, const vt_baseline_options *o,
                       double *theta, double *y01, int64_t *iterations, bool *converged) {
    int64_t V = b->tfidf.V;
    size_t n = train->n;
    bl_lbfgs_result r;
    *iterations = 0;
    *converged = true;
    if (!b->multi && b->Kp > 1) { /* multinomial: theta is W (K, V) then b (K) */
        memset(theta, 0, ((size_t)b->Kp * (size_t)V + (size_t)b->Kp) * sizeof *theta);
        vt_status st = bl_logreg_fit(X, b->Kp, NULL, train->label, C, o->tol, o->max_iter, theta, &r);
        if (st != VT_OK) return st;
        memcpy(b->coef, theta, (size_t)b->Kp * (size_t)V * sizeof *theta);
        memcpy(b->intercept, theta + (size_t)b->Kp * (size_t)V, (size_t)b->Kp * sizeof *theta);
        *iterations = r.iterations;
        *converged = r.converged;
        return VT_OK;
    }
    for (int k = 0; k < b->Kp; k++) { /* binary: class 1 against 0, or label k against the rest */
        for (size_t i = 0; i < n; i++) y01[i] = b->multi ? train->multi_hot[i * (size_t)b->K + (size_t)k] : train->label[i] == 1;
        memset(theta, 0, ((size_t)V + 1) * sizeof *theta);
        vt_status st = bl_logreg_fit(X, 1, y01, NULL, C, o->tol, o->max_iter, theta, &r);
        if (st != VT_OK) return st;
        memcpy(b->coef + (size_t)k * (size_t)V, theta, (size_t)V * sizeof *theta);
        b->intercept[k] = theta[V];
        if (r.iterations > *iterations) *iterations = r.iterations;
        *converged = *converged && r.converged;
    }
    return VT_OK;
}

vt_baseline *vt_baseline_fit(const vt_labelled *train, const vt_labelled *dev, const vt_baseline_options *opt,
                             vt_baseline_report *rep) {
    vt_baseline_options o;
    if (opt) o = *opt;
    else vt_baseline_options_default(&o);
    if (!o.n_c) o.c_grid = DEFAULT_GRID, o.n_c = (int)(sizeof DEFAULT_GRID / sizeof *DEFAULT_GRID);
    if (check_data(train, dev, &o) != VT_OK) return NULL;
    vt_baseline *b = calloc(1, sizeof *b);
    if (!b) return vt_error(VT_ERR_NOMEM, "out of memory for the baseline"), NULL;
    b->multi = train->kind == VT_LABEL_MULTI;
    b->K = train->num_labels;
    b->Kp = b->multi || b->K > 2 ? b->K : 1;
    b->min_df = o.min_df;
    b->tol = o.tol;
    b->max_iter = o.max_iter;
    b->threshold = 0.5;
    bl_csr X = {0}, Xd = {0};
    vt_baseline_report r = {.n_c = o.n_c, .best = -1};
    double *theta = NULL, *y01 = NULL, *best_coef = NULL, best_b[VT_BERT_MAX_LABELS];
    vt_status st = (b->labels = calloc((size_t)b->K, sizeof *b->labels)) ? VT_OK : vt_error(VT_ERR_NOMEM, "out of memory");
    for (int k = 0; st == VT_OK && k < b->K; k++)
        if (!(b->labels[k] = strdup(train->id2label[k]))) st = vt_error(VT_ERR_NOMEM, "out of memory");
    if (st == VT_OK) st = bl_tfidf_fit(&b->tfidf, (const char *const *)train->text, train->text_len, train->n, o.min_df, &X);
    if (st == VT_OK) st = bl_tfidf_transform(&b->tfidf, (const char *const *)dev->text, dev->text_len, dev->n, &Xd);
    size_t weights = (size_t)b->Kp * (size_t)b->tfidf.V;
    if (st == VT_OK) {
        b->coef = malloc(weights * sizeof *b->coef);
        b->intercept = malloc((size_t)b->Kp * sizeof *b->intercept);
        best_coef = malloc(weights * sizeof *best_coef);
        theta = malloc((weights + (size_t)b->Kp) * sizeof *theta);
        y01 = malloc(train->n * sizeof *y01);
        if (!b->coef || !b->intercept || !best_coef || !theta || !y01)
            st = vt_error(VT_ERR_NOMEM, "out of memory for %zu weights", weights);
    }
    double best_score = -1, best_threshold = 0.5;
    for (int i = 0; st == VT_OK && i < o.n_c; i++) {
        double C = r.c[i] = o.c_grid[i], threshold = 0.5;
        st = fit_c(b, &X, train, C, &o, theta, y01, &r.iterations[i], &r.converged[i]);
        if (st == VT_OK) st = dev_score(b, &Xd, dev, &r.dev_score[i], &threshold);
        if (st == VT_OK && o.log)
            fprintf(o.log, "C %-8g dev %s %.4f  (%lld L-BFGS iterations%s)\n", C, b->multi ? "micro F1" : "accuracy",
                    r.dev_score[i], (long long)r.iterations[i], r.converged[i] ? "" : ", stopped at max_iter");
        if (st == VT_OK && r.dev_score[i] > best_score) { /* strictly better: the earlier C on ties */
            best_score = r.dev_score[i];
            best_threshold = threshold;
            r.best = i;
            memcpy(best_coef, b->coef, weights * sizeof *best_coef);
            memcpy(best_b, b->intercept, (size_t)b->Kp * sizeof *best_b);
        }
    }
    if (st == VT_OK) {
        memcpy(b->coef, best_coef, weights * sizeof *best_coef);
        memcpy(b->intercept, best_b, (size_t)b->Kp * sizeof *best_b);
        b->C = r.c[r.best];
        if (b->multi) b->threshold = best_threshold;
        r.threshold = b->threshold;
        r.n_terms = b->tfidf.V;
        if (rep) *rep = r;
    }
    free(theta);
    free(y01);
    free(best_coef);
    bl_csr_free(&X);
    bl_csr_free(&Xd);
    if (st != VT_OK) {
        vt_baseline_free(b);
        return NULL;
    }
    return b;
}
