/* Multi-label metrics and threshold selection (see verto/multilabel_metrics.h). */
#include "verto/multilabel_metrics.h"

#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "core/format.h"

void vt_multilabel_metrics_free(vt_multilabel_metrics *m) {
    if (!m) return;
    free(m->per_label);
    free(m->roc_auc);
    memset(m, 0, sizeof *m);
}

static double ratio(int64_t a, int64_t b) { return b ? (double)a / (double)b : 0.0; }

static vt_status check_inputs(const uint8_t *y_true, const double *score, size_t n, int num_labels) {
    if (num_labels < 1) return vt_error(VT_ERR_INVALID_ARG, "multi-label metrics need at least one label (got %d)", num_labels);
    if (!n || !y_true || !score) return vt_error(VT_ERR_INVALID_ARG, "multi-label metrics of no examples");
    size_t L = (size_t)num_labels;
    if (n > SIZE_MAX / L / sizeof(double))
        return vt_error(VT_ERR_INVALID_ARG, "multi-label metrics: %zu examples x %d labels is too large", n, num_labels);
    for (size_t i = 0; i < n * L; i++)
        if (!isfinite(score[i]))
            return vt_error(VT_ERR_INVALID_ARG, "multi-label metrics: the score of example %zu, label %zu is not finite",
                            i / L, i % L);
    return VT_OK;
}

/* roc_auc (L) per column, roc_auc_macro and roc_auc_micro; NaN where one class only. */
static vt_status roc_aucs(const uint8_t *y_true, const double *score, size_t n, size_t L, vt_multilabel_metrics *m) {
    size_t cells = n * L;
    int32_t *truth = malloc(cells * sizeof *truth);
    double *col = malloc(n * sizeof *col);
    if (!truth || !col) {
        free(truth);
        free(col);
        return vt_error(VT_ERR_NOMEM, "out of memory for ROC-AUC");
    }
    vt_status st = VT_OK;
    double sum = 0;
    for (size_t j = 0; j < L && st == VT_OK; j++) {
        const vt_class_metrics *pl = &m->per_label[j];
        m->roc_auc[j] = NAN;
        if (!pl->support || pl->support == (int64_t)n) continue; /* one class: undefined */
        for (size_t i = 0; i < n; i++) {
            truth[i] = y_true[i * L + j] != 0;
            col[i] = score[i * L + j];
        }
        st = vt_roc_auc(truth, col, n, &m->roc_auc[j]);
        sum += m->roc_auc[j];
    }
    m->roc_auc_macro = NAN;
    m->roc_auc_micro = NAN;
    bool all_defined = true;
    int64_t positives = 0;
    for (size_t j = 0; j < L; j++) {
        all_defined = all_defined && !isnan(m->roc_auc[j]);
        positives += m->per_label[j].support;
    }
    if (st == VT_OK && all_defined) m->roc_auc_macro = sum / (double)L;
    if (st == VT_OK && positives && positives < (int64_t)cells) {
        for (size_t k = 0; k < cells; k++) truth[k] = y_true[k] != 0;
        st = vt_roc_auc(truth, score, cells, &m->roc_auc_micro);
    }
    free(truth);
    free(col);
    return st;
}

vt_status vt_multilabel_metrics_compute(const uint8_t *y_true, const double *score, size_t n, int num_labels,
                                        double threshold, vt_multilabel_metrics *out) {
    memset(out, 0, sizeof *out);
    vt_status st = check_inputs(y_true, score, n, num_labels);
    if (st != VT_OK) return st;
    if (!isfinite(threshold)) return vt_error(VT_ERR_INVALID_ARG, "multi-label metrics: the threshold is not finite");
    size_t L = (size_t)num_labels;
    out->per_label = calloc(L, sizeof *out->per_label);
    out->roc_auc = calloc(L, sizeof *out->roc_auc);
    if (!out->per_label || !out->roc_auc) {
        vt_multilabel_metrics_free(out);
        return vt_error(VT_ERR_NOMEM, "out of memory for multi-label metrics");
    }
    out->num_labels = num_labels;
    out->n = (int64_t)n;
    out->threshold = threshold;
    int64_t exact = 0, wrong = 0;
    double sp = 0, sr = 0, sf = 0;
    for (size_t i = 0; i < n; i++) {
        int64_t tp = 0, t = 0, p = 0;
        for (size_t j = 0; j < L; j++) {
            bool truth = y_true[i * L + j] != 0, pred = score[i * L + j] >= threshold;
            vt_class_metrics *pl = &out->per_label[j];
            pl->support += truth;
            pl->predicted += pred;
            pl->tp += truth && pred;
            tp += truth && pred;
            t += truth;
            p += pred;
        }
        int64_t mismatched = t + p - 2 * tp;
        exact += mismatched == 0;
        wrong += mismatched;
        sp += ratio(tp, p);
        sr += ratio(tp, t);
        sf += ratio(2 * tp, t + p);
    }
    double dn = (double)n;
    out->subset_accuracy = ratio(exact, (int64_t)n);
    out->hamming_loss = (double)wrong / (dn * (double)L);
    out->samples_precision = sp / dn;
    out->samples_recall = sr / dn;
    out->samples_f1 = sf / dn;
    int64_t TP = 0, T = 0, P = 0;
    double mp = 0, mr = 0, mf = 0, wp = 0, wr = 0, wf = 0;
    for (size_t j = 0; j < L; j++) {
        vt_class_metrics *pl = &out->per_label[j];
        pl->precision = ratio(pl->tp, pl->predicted);
        pl->recall = ratio(pl->tp, pl->support);
        pl->f1 = ratio(2 * pl->tp, pl->support + pl->predicted);
        mp += pl->precision;
        mr += pl->recall;
        mf += pl->f1;
        wp += pl->precision * (double)pl->support;
        wr += pl->recall * (double)pl->support;
        wf += pl->f1 * (double)pl->support;
        TP += pl->tp;
        T += pl->support;
        P += pl->predicted;
    }
    out->micro_precision = ratio(TP, P);
    out->micro_recall = ratio(TP, T);
    out->micro_f1 = ratio(2 * TP, T + P);
    out->macro_precision = mp / (double)L;
    out->macro_recall = mr / (double)L;
    out->macro_f1 = mf / (double)L;
    out->weighted_precision = T ? wp / (double)T : 0.0;
    out->weighted_recall = T ? wr / (double)T : 0.0;
    out->weighted_f1 = T ? wf / (double)T : 0.0;
    st = roc_aucs(y_true, score, n, L, out);
    if (st != VT_OK) vt_multilabel_metrics_free(out);
    return st;
}

/* ---- threshold selection ------------------------------------------------- */

typedef struct cell {
    double score;
    bool positive;
} cell;

static int cmp_descending(const void *a, const void *b) {
    double x = ((const cell *)a)->score, y = ((const cell *)b)->score;
    return (x < y) - (x > y);
}

vt_status vt_multilabel_best_threshold(const uint8_t *y_true, const double *score, size_t n, int num_labels,
                                       double *threshold, double *micro_f1) {
    *threshold = NAN;
    if (micro_f1) *micro_f1 = NAN;
    vt_status st = check_inputs(y_true, score, n, num_labels);
    if (st != VT_OK) return st;
    size_t cells = n * (size_t)num_labels;
    cell *c = malloc(cells * sizeof *c);
    if (!c) return vt_error(VT_ERR_NOMEM, "out of memory choosing a threshold");
    int64_t T = 0;
    for (size_t k = 0; k < cells; k++) {
        c[k] = (cell){score[k], y_true[k] != 0};
        T += c[k].positive;
    }
    qsort(c, cells, sizeof *c, cmp_descending);
    /* the candidate "score >= c[g].score" predicts every cell up to the end of
       g's tie group; micro F1 = 2 tp / (T + P); the empty prediction scores 0 */
    int64_t tp = 0, P = 0, best_tp = 0, best_P = 0;
    size_t best_end = 0; /* 0: predict nothing */
    for (size_t g = 0; g < cells;) {
        size_t e = g;
        while (e < cells && c[e].score == c[g].score) tp += c[e++].positive;
        P += (int64_t)(e - g);
        /* 2 tp / (T + P) > 2 best_tp / (T + best_P), exactly; only strictly better moves on */
        if ((__int128)tp * (T + best_P) > (__int128)best_tp * (T + P)) {
            best_tp = tp;
            best_P = P;
            best_end = e;
        }
        g = e;
    }
    if (!best_end) {
        *threshold = nextafter(c[0].score, INFINITY);
    } else {
        double v = c[best_end - 1].score;
        *threshold = v;
        if (best_end < cells) {
            double w = c[best_end].score, mid = v / 2 + w / 2;
            if (mid > w && mid <= v) *threshold = mid;
        }
    }
    if (micro_f1) *micro_f1 = ratio(2 * best_tp, T + best_P);
    free(c);
    return VT_OK;
}

/* ---- printing ------------------------------------------------------------- */

static void json_field(FILE *out, const char *key, double x) {
    fprintf(out, ", \"%s\": ", key);
    vt_print_json_number(out, x);
}

void vt_multilabel_metrics_print_json(const vt_multilabel_metrics *m, const char *const *names, FILE *out) {
    char buf[16];
    fprintf(out, "{\"n\": %lld", (long long)m->n);
    json_field(out, "threshold", m->threshold);
    json_field(out, "subset_accuracy", m->subset_accuracy);
    json_field(out, "hamming_loss", m->hamming_loss);
    static const char *const AVG[4] = {"micro", "macro", "weighted", "samples"};
    const double *fig[4][3] = {{&m->micro_precision, &m->micro_recall, &m->micro_f1},
                               {&m->macro_precision, &m->macro_recall, &m->macro_f1},
                               {&m->weighted_precision, &m->weighted_recall, &m->weighted_f1},
                               {&m->samples_precision, &m->samples_recall, &m->samples_f1}};
    for (int a = 0; a < 4; a++) {
        char key[32];
        static const char *const WHAT[3] = {"precision", "recall", "f1"};
        for (int w = 0; w < 3; w++) {
            snprintf(key, sizeof key, "%s_%s", AVG[a], WHAT[w]);
            json_field(out, key, *fig[a][w]);
        }
    }
    json_field(out, "roc_auc_micro", m->roc_auc_micro);
    json_field(out, "roc_auc_macro", m->roc_auc_macro);
    fputs(", \"per_label\": {", out);
    for (int j = 0; j < m->num_labels; j++) {
        const vt_class_metrics *pl = &m->per_label[j];
        if (j) fputs(", ", out);
        vt_print_json_string(out, vt_label_name(names, j, buf, sizeof buf));
        fputs(": {\"precision\": ", out);
        vt_print_json_number(out, pl->precision);
        json_field(out, "recall", pl->recall);
        json_field(out, "f1", pl->f1);
        fprintf(out, ", \"support\": %lld, \"predicted\": %lld", (long long)pl->support, (long long)pl->predicted);
        json_field(out, "roc_auc", m->roc_auc[j]);
        fputc('}', out);
    }
    fputs("}, \"labels\": [", out);
    for (int j = 0; j < m->num_labels; j++) {
        if (j) fputs(", ", out);
        vt_print_json_string(out, vt_label_name(names, j, buf, sizeof buf));
    }
    fputs("]}", out);
}

static void print_auc(FILE *out, double auc) {
    if (isnan(auc)) fprintf(out, " %9s", "-");
    else fprintf(out, " %9.4f", auc);
}

void vt_multilabel_metrics_print(const vt_multilabel_metrics *m, const char *const *names, FILE *out) {
    char buf[16];
    int w = 12;
    for (int j = 0; j < m->num_labels; j++) {
        int len = (int)strlen(vt_label_name(names, j, buf, sizeof buf));
        if (len > w) w = len > 40 ? 40 : len;
    }
    fprintf(out, "examples: %lld, labels: %d, threshold: %.6g (score >= threshold: predicted)\n", (long long)m->n,
            m->num_labels, m->threshold);
    fprintf(out, "subset accuracy: %.4f\nHamming loss: %.4f\n\n", m->subset_accuracy, m->hamming_loss);
    fprintf(out, "%-*s %9s %9s %9s %9s %9s\n", w, "", "precision", "recall", "f1", "support", "ROC-AUC");
    for (int j = 0; j < m->num_labels; j++) {
        const vt_class_metrics *pl = &m->per_label[j];
        fprintf(out, "%-*.*s %9.4f %9.4f %9.4f %9lld", w, w, vt_label_name(names, j, buf, sizeof buf), pl->precision,
                pl->recall, pl->f1, (long long)pl->support);
        print_auc(out, m->roc_auc[j]);
        fputc('\n', out);
    }
    int64_t support = 0;
    for (int j = 0; j < m->num_labels; j++) support += m->per_label[j].support;
    fputc('\n', out);
    fprintf(out, "%-*s %9.4f %9.4f %9.4f %9lld", w, "micro avg", m->micro_precision, m->micro_recall, m->micro_f1,
            (long long)support);
    print_auc(out, m->roc_auc_micro);
    fprintf(out, "\n%-*s %9.4f %9.4f %9.4f %9lld", w, "macro avg", m->macro_precision, m->macro_recall, m->macro_f1,
            (long long)support);
    print_auc(out, m->roc_auc_macro);
    fprintf(out, "\n%-*s %9.4f %9.4f %9.4f %9lld\n", w, "weighted avg", m->weighted_precision, m->weighted_recall,
            m->weighted_f1, (long long)support);
    fprintf(out, "%-*s %9.4f %9.4f %9.4f %9lld\n", w, "samples avg", m->samples_precision, m->samples_recall,
            m->samples_f1, (long long)support);
}
