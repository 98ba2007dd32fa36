/* Classification metrics (see verto/metrics.h). */
#include "verto/metrics.h"

#include "core/format.h"

#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

void vt_metrics_free(vt_metrics *m) {
    if (!m) return;
    free(m->per_class);
    free(m->confusion);
    memset(m, 0, sizeof *m);
}

typedef struct ranked {
    double score;
    int positive;
} ranked;

static int cmp_ranked(const void *a, const void *b) {
    double x = ((const ranked *)a)->score, y = ((const ranked *)b)->score;
    return (x > y) - (x < y);
}

vt_status vt_roc_auc(const int32_t *y_true, const double *score, size_t n, double *auc) {
    *auc = NAN;
    if (!n || !y_true || !score) return vt_error(VT_ERR_INVALID_ARG, "ROC-AUC of no examples");
    ranked *r = malloc(n * sizeof *r);
    if (!r) return vt_error(VT_ERR_NOMEM, "out of memory for ROC-AUC");
    size_t pos = 0;
    for (size_t i = 0; i < n; i++) {
        if (isnan(score[i])) {
            free(r);
            return vt_error(VT_ERR_INVALID_ARG, "ROC-AUC: score %zu is NaN", i);
        }
        r[i].score = score[i];
        r[i].positive = y_true[i] == 1;
        pos += (size_t)r[i].positive;
    }
    size_t neg = n - pos;
    if (!pos || !neg) {
        free(r);
        return vt_error(VT_ERR_INVALID_ARG, "ROC-AUC is undefined: only one class in the true labels");
    }
    qsort(r, n, sizeof *r, cmp_ranked);
    /* sum of the positives' ranks (1-based), each tie group at its mean rank */
    double rank_sum = 0;
    for (size_t i = 0; i < n;) {
        size_t j = i, p = 0;
        while (j < n && r[j].score == r[i].score) p += (size_t)r[j++].positive;
        double mean_rank = ((double)(i + 1) + (double)j) / 2; /* ranks i+1 .. j */
        rank_sum += mean_rank * (double)p;
        i = j;
    }
    free(r);
    double P = (double)pos, N = (double)neg;
    *auc = (rank_sum - P * (P + 1) / 2) / (P * N);
    return VT_OK;
}

static double ratio(int64_t a, int64_t b) { return b ? (double)a / (double)b : 0.0; }

vt_status vt_metrics_compute(const int32_t *y_true, const int32_t *y_pred, const double *score, size_t n,
                             int num_classes, vt_metrics *out) {
    memset(out, 0, sizeof *out);
    out->roc_auc = NAN;
    if (num_classes < 1) return vt_error(VT_ERR_INVALID_ARG, "metrics need at least one class (got %d)", num_classes);
    if (!n || !y_true || !y_pred) return vt_error(VT_ERR_INVALID_ARG, "metrics of no examples");
    size_t K = (size_t)num_classes;
    if (K > 65536) return vt_error(VT_ERR_INVALID_ARG, "metrics for %d classes (at most 65536)", num_classes);
    for (size_t i = 0; i < n; i++)
        if (y_true[i] < 0 || (size_t)y_true[i] >= K || y_pred[i] < 0 || (size_t)y_pred[i] >= K)
            return vt_error(VT_ERR_INVALID_ARG, "example %zu: class id %d / %d outside [0, %d)", i, y_true[i], y_pred[i],
                            num_classes);
    out->per_class = calloc(K, sizeof *out->per_class);
    out->confusion = calloc(K * K, sizeof *out->confusion);
    if (!out->per_class || !out->confusion) {
        vt_metrics_free(out);
        return vt_error(VT_ERR_NOMEM, "out of memory for metrics");
    }
    out->num_classes = num_classes;
    out->n = (int64_t)n;
    for (size_t i = 0; i < n; i++) {
        out->confusion[(size_t)y_true[i] * K + (size_t)y_pred[i]]++;
        out->per_class[y_true[i]].support++;
        out->per_class[y_pred[i]].predicted++;
    }
    int64_t correct = 0;
    double sp = 0, sr = 0, sf = 0, wf = 0;
    int present = 0;
    for (size_t c = 0; c < K; c++) {
        vt_class_metrics *m = &out->per_class[c];
        m->tp = out->confusion[c * K + c];
        correct += m->tp;
        int64_t fp = m->predicted - m->tp, fn = m->support - m->tp;
        m->precision = ratio(m->tp, m->predicted);
        m->recall = ratio(m->tp, m->support);
        m->f1 = ratio(2 * m->tp, 2 * m->tp + fp + fn);
        if (m->support || m->predicted) {
            present++;
            sp += m->precision;
            sr += m->recall;
            sf += m->f1;
        }
        wf += m->f1 * (double)m->support;
    }
    out->accuracy = ratio(correct, (int64_t)n);
    out->micro_f1 = out->accuracy; /* 2 sum tp / (2 sum tp + sum fp + sum fn), with sum fp = sum fn = n - sum tp */
    out->macro_precision = sp / present;
    out->macro_recall = sr / present;
    out->macro_f1 = sf / present;
    out->weighted_f1 = wf / (double)n;
    if (score) {
        for (size_t i = 0; i < n; i++)
            if (isnan(score[i])) {
                vt_metrics_free(out);
                return vt_error(VT_ERR_INVALID_ARG, "example %zu: score is NaN", i);
            }
        if (K == 2 && out->per_class[0].support && out->per_class[1].support) {
            vt_status st = vt_roc_auc(y_true, score, n, &out->roc_auc);
            if (st != VT_OK) {
                vt_metrics_free(out);
                return st;
            }
        }
    }
    return VT_OK;
}

/* ---- printing ------------------------------------------------------------- */

static const char *name_of(const char *const *names, int c, char *buf, size_t size) {
    if (names && names[c]) return names[c];
    snprintf(buf, size, "%d", c);
    return buf;
}

void vt_metrics_print_json(const vt_metrics *m, const char *const *names, FILE *out) {
    int K = m->num_classes;
    char buf[16];
    fputs("{\"accuracy\": ", out);
    vt_print_json_number(out, m->accuracy);
    fputs(", \"macro_precision\": ", out);
    vt_print_json_number(out, m->macro_precision);
    fputs(", \"macro_recall\": ", out);
    vt_print_json_number(out, m->macro_recall);
    fputs(", \"macro_f1\": ", out);
    vt_print_json_number(out, m->macro_f1);
    fputs(", \"micro_f1\": ", out);
    vt_print_json_number(out, m->micro_f1);
    fputs(", \"weighted_f1\": ", out);
    vt_print_json_number(out, m->weighted_f1);
    fprintf(out, ", \"n\": %lld, \"per_class\": {", (long long)m->n);
    for (int c = 0; c < K; c++) {
        const vt_class_metrics *pc = &m->per_class[c];
        if (c) fputs(", ", out);
        vt_print_json_string(out, name_of(names, c, buf, sizeof buf));
        fputs(": {\"precision\": ", out);
        vt_print_json_number(out, pc->precision);
        fputs(", \"recall\": ", out);
        vt_print_json_number(out, pc->recall);
        fputs(", \"f1\": ", out);
        vt_print_json_number(out, pc->f1);
        fprintf(out, ", \"support\": %lld}", (long long)pc->support);
    }
    fputs("}, \"labels\": [", out);
    for (int c = 0; c < K; c++) {
        if (c) fputs(", ", out);
        vt_print_json_string(out, name_of(names, c, buf, sizeof buf));
    }
    fputs("], \"confusion_matrix\": [", out);
    for (int t = 0; t < K; t++) {
        fputs(t ? ", [" : "[", out);
        for (int p = 0; p < K; p++) fprintf(out, p ? ", %lld" : "%lld", (long long)m->confusion[(size_t)t * (size_t)K + (size_t)p]);
        fputc(']', out);
    }
    fputs("], \"roc_auc\": ", out);
    vt_print_json_number(out, m->roc_auc);
    fputc('}', out);
}

void vt_metrics_print(const vt_metrics *m, const char *const *names, FILE *out) {
    int K = m->num_classes;
    char buf[16];
    int w = 12;
    for (int c = 0; c < K; c++) {
        int len = (int)strlen(name_of(names, c, buf, sizeof buf));
        if (len > w) w = len > 40 ? 40 : len;
    }
    fprintf(out, "examples: %lld\naccuracy: %.4f\n\n", (long long)m->n, m->accuracy);
    fprintf(out, "%-*s %9s %9s %9s %9s\n", w, "", "precision", "recall", "f1", "support");
    for (int c = 0; c < K; c++) {
        const vt_class_metrics *pc = &m->per_class[c];
        fprintf(out, "%-*.*s %9.4f %9.4f %9.4f %9lld\n", w, w, name_of(names, c, buf, sizeof buf), pc->precision,
                pc->recall, pc->f1, (long long)pc->support);
    }
    fprintf(out, "\n%-*s %9.4f %9.4f %9.4f %9lld\n", w, "macro avg", m->macro_precision, m->macro_recall, m->macro_f1,
            (long long)m->n);
    fprintf(out, "%-*s %9s %9s %9.4f %9lld\n", w, "micro avg", "", "", m->micro_f1, (long long)m->n);
    fprintf(out, "%-*s %9s %9s %9.4f %9lld\n", w, "weighted avg", "", "", m->weighted_f1, (long long)m->n);
    fprintf(out, "\nconfusion matrix (rows: true, columns: predicted)\n%-*s", w, "");
    for (int p = 0; p < K; p++) fprintf(out, " %10.10s", name_of(names, p, buf, sizeof buf));
    fputc('\n', out);
    for (int t = 0; t < K; t++) {
        fprintf(out, "%-*.*s", w, w, name_of(names, t, buf, sizeof buf));
        for (int p = 0; p < K; p++) fprintf(out, " %10lld", (long long)m->confusion[(size_t)t * (size_t)K + (size_t)p]);
        fputc('\n', out);
    }
    if (!isnan(m->roc_auc)) fprintf(out, "\nROC-AUC (%s vs. %s): %.4f\n", name_of(names, 1, buf, sizeof buf),
                                   names && names[0] ? names[0] : "0", m->roc_auc);
}
