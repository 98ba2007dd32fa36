/* Entity metrics as a readable report and as JSON (see verto/ner_metrics.h). */
#include <string.h>

#include "core/format.h"
#include "verto/ner_metrics.h"

static void json_avg(FILE *out, const char *name, double p, double r, double f, int64_t support) {
    fprintf(out, ", \"%s\": {\"precision\": ", name);
    vt_print_json_number(out, p);
    fputs(", \"recall\": ", out);
    vt_print_json_number(out, r);
    fputs(", \"f1\": ", out);
    vt_print_json_number(out, f);
    fprintf(out, ", \"support\": %lld}", (long long)support);
}

void vt_ner_metrics_print_json(const vt_ner_metrics *m, FILE *out) {
    int T = m->n_types;
    fprintf(out, "{\"mode\": \"%s\", \"scheme\": \"%s\", \"precision\": ", vt_ner_mode_name(m->mode),
            vt_tag_scheme_name(m->scheme));
    vt_print_json_number(out, m->micro_precision);
    fputs(", \"recall\": ", out);
    vt_print_json_number(out, m->micro_recall);
    fputs(", \"f1\": ", out);
    vt_print_json_number(out, m->micro_f1);
    fputs(", \"accuracy\": ", out);
    vt_print_json_number(out, m->accuracy);
    fputs(", \"per_type\": {", out);
    for (int t = 0; t < T; t++) {
        const vt_ner_type_metrics *pt = &m->per_type[t];
        if (t) fputs(", ", out);
        vt_print_json_string(out, pt->type);
        fputs(": {\"precision\": ", out);
        vt_print_json_number(out, pt->precision);
        fputs(", \"recall\": ", out);
        vt_print_json_number(out, pt->recall);
        fputs(", \"f1\": ", out);
        vt_print_json_number(out, pt->f1);
        fprintf(out, ", \"support\": %lld, \"predicted\": %lld, \"correct\": %lld}", (long long)pt->support,
                (long long)pt->predicted, (long long)pt->correct);
    }
    fputc('}', out);
    json_avg(out, "micro avg", m->micro_precision, m->micro_recall, m->micro_f1, m->support);
    json_avg(out, "macro avg", m->macro_precision, m->macro_recall, m->macro_f1, m->support);
    json_avg(out, "weighted avg", m->weighted_precision, m->weighted_recall, m->weighted_f1, m->support);
    fprintf(out, ", \"n_sentences\": %zu, \"n_tokens\": %lld, \"types\": [", m->n_sentences, (long long)m->n_tokens);
    for (int t = 0; t < T; t++) {
        if (t) fputs(", ", out);
        vt_print_json_string(out, m->per_type[t].type);
    }
    fputs("], \"confusion\": [", out);
    for (int g = 0; g <= T; g++) {
        fputs(g ? ", [" : "[", out);
        for (int p = 0; p <= T; p++)
            fprintf(out, p ? ", %lld" : "%lld", (long long)m->confusion[(size_t)g * (size_t)(T + 1) + (size_t)p]);
        fputc(']', out);
    }
    fputs("]}", out);
}

void vt_ner_metrics_print(const vt_ner_metrics *m, FILE *out) {
    int T = m->n_types, w = 12; /* seqeval's width: the longest name, at least "weighted avg" */
    for (int t = 0; t < T; t++) {
        int len = (int)strlen(m->per_type[t].type);
        if (len > w) w = len > 40 ? 40 : len;
    }
    fprintf(out, "entities (%s mode%s%s): %lld gold, %lld predicted, %lld correct\n", vt_ner_mode_name(m->mode),
            m->mode == VT_NER_STRICT ? ", scheme " : "", m->mode == VT_NER_STRICT ? vt_tag_scheme_name(m->scheme) : "",
            (long long)m->support, (long long)m->predicted, (long long)m->correct);
    fprintf(out, "sentences: %zu, tokens: %lld, token accuracy: %.4f\n\n", m->n_sentences, (long long)m->n_tokens,
            m->accuracy);
    fprintf(out, "%*s  %9s %9s %9s %9s\n", w, "", "precision", "recall", "f1-score", "support");
    for (int t = 0; t < T; t++) {
        const vt_ner_type_metrics *pt = &m->per_type[t];
        fprintf(out, "%*.*s  %9.4f %9.4f %9.4f %9lld\n", w, w, pt->type, pt->precision, pt->recall, pt->f1,
                (long long)pt->support);
    }
    const char *names[3] = {"micro avg", "macro avg", "weighted avg"};
    const double v[3][3] = {{m->micro_precision, m->micro_recall, m->micro_f1},
                            {m->macro_precision, m->macro_recall, m->macro_f1},
                            {m->weighted_precision, m->weighted_recall, m->weighted_f1}};
    fputc('\n', out);
    for (int k = 0; k < 3; k++)
        fprintf(out, "%*s  %9.4f %9.4f %9.4f %9lld\n", w, names[k], v[k][0], v[k][1], v[k][2], (long long)m->support);
    fprintf(out, "\nentity types (rows: gold, columns: predicted; same span; \"none\": no entity on that span)\n%*s", w,
            "");
    for (int p = 0; p <= T; p++) fprintf(out, " %10.10s", p < T ? m->per_type[p].type : "none");
    fputc('\n', out);
    for (int g = 0; g <= T; g++) {
        fprintf(out, "%*.*s", w, w, g < T ? m->per_type[g].type : "none");
        for (int p = 0; p <= T; p++)
            fprintf(out, " %10lld", (long long)m->confusion[(size_t)g * (size_t)(T + 1) + (size_t)p]);
        fputc('\n', out);
    }
}
