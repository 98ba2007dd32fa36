/* A candidate's figures: eval's JSON, its dev-accuracy curve, freeing. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/json.h"
#include "verto/auto.h"
#include "verto/fileio.h"
#include "verto/metrics_log.h"

vt_status vt_auto_scores_parse(const char *s, size_t len, const char *where, vt_auto_scores *out) {
    memset(out, 0, sizeof *out);
    const char *why = NULL;
    size_t at = 0;
    cJSON *o = vt_json_parse(s, len, &why, &at);
    if (!o) return vt_error(VT_ERR_FORMAT, "%s: not JSON (%s at byte %zu)", where, why, at);
    const cJSON *acc = cJSON_GetObjectItemCaseSensitive(o, "accuracy");
    const cJSON *f1 = cJSON_GetObjectItemCaseSensitive(o, "macro_f1");
    const cJSON *n = cJSON_GetObjectItemCaseSensitive(o, "n");
    vt_status st = VT_OK;
    if (!cJSON_IsObject(o) || !cJSON_IsNumber(acc) || !cJSON_IsNumber(f1) || !cJSON_IsNumber(n) ||
        !isfinite(acc->valuedouble) || !isfinite(f1->valuedouble) || n->valuedouble < 0 ||
        n->valuedouble != floor(n->valuedouble))
        st = vt_error(VT_ERR_FORMAT, "%s: not a single-label evaluation (an object with accuracy, macro_f1 and n)",
                      where);
    if (st == VT_OK) {
        out->accuracy = acc->valuedouble;
        out->macro_f1 = f1->valuedouble;
        out->n = (int64_t)n->valuedouble;
        if (!(out->json = malloc(len + 1))) st = vt_error(VT_ERR_NOMEM, "out of memory");
    }
    if (st == VT_OK) {
        memcpy(out->json, s, len);
        out->json[len] = 0;
        out->present = true;
    }
    cJSON_Delete(o);
    return st;
}

vt_status vt_auto_curve_add(vt_auto_candidate *c, double t, double acc) {
    double *nt = realloc(c->curve_t, (size_t)(c->n_curve + 1) * sizeof *nt);
    if (nt) c->curve_t = nt;
    double *na = realloc(c->curve_acc, (size_t)(c->n_curve + 1) * sizeof *na);
    if (na) c->curve_acc = na;
    if (!nt || !na) return vt_error(VT_ERR_NOMEM, "out of memory");
    c->curve_t[c->n_curve] = t;
    c->curve_acc[c->n_curve] = acc;
    c->n_curve++;
    return VT_OK;
}

vt_status vt_auto_curve_from_metrics(vt_auto_candidate *c, const char *metrics_path, double offset_s) {
    char *text = NULL;
    size_t len = 0;
    if (vt_read_file(metrics_path, (size_t)1 << 30, &text, &len) != VT_OK) {
        vt_clear_error(); /* a run stopped before its first line wrote no file: no points */
        return VT_OK;
    }
    vt_metrics_log log;
    vt_status st = len ? vt_metrics_log_parse(text, len, metrics_path, &log) : VT_OK;
    free(text);
    if (!len || st != VT_OK) return st;
    const vt_metric_series *s = vt_metrics_log_find(&log, "dev_accuracy", true);
    for (int64_t i = 0; s && st == VT_OK && i < s->n; i++)
        if (isfinite(s->time[i])) st = vt_auto_curve_add(c, offset_s + s->time[i], s->value[i]);
    vt_metrics_log_free(&log);
    return st;
}

void vt_auto_candidate_free(vt_auto_candidate *c) {
    if (!c) return;
    free(c->model_dir);
    free(c->dev.json);
    free(c->test.json);
    free(c->curve_t);
    free(c->curve_acc);
    memset(c, 0, sizeof *c);
}
