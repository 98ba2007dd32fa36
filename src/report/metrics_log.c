/* metrics.jsonl into one series per metric (include/verto/metrics_log.h). */
#include <ctype.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/json.h"
#include "core/strbuf.h"
#include "core/utf8.h"
#include "verto/fileio.h"
#include "verto/metrics_log.h"

enum { MAX_SERIES = 4096 };

void vt_metrics_log_free(vt_metrics_log *log) {
    if (!log) return;
    for (int i = 0; i < log->n_series; i++) {
        vt_metric_series *s = &log->series[i];
        free(s->name);
        free(s->step);
        free(s->time);
        free(s->value);
    }
    free(log->series);
    memset(log, 0, sizeof *log);
}

const vt_metric_series *vt_metrics_log_find(const vt_metrics_log *log, const char *name, bool eval) {
    for (int i = 0; i < log->n_series; i++)
        if (log->series[i].eval == eval && !strcmp(log->series[i].name, name)) return &log->series[i];
    return NULL;
}

static vt_metric_series *series_for(vt_metrics_log *log, const char *name, bool eval, const char *file) {
    vt_metric_series *s = (vt_metric_series *)vt_metrics_log_find(log, name, eval);
    if (s) return s;
    if (log->n_series >= MAX_SERIES) {
        vt_error(VT_ERR_FORMAT, "%s: more than %d different metrics", file, MAX_SERIES);
        return NULL;
    }
    vt_metric_series *a = realloc(log->series, (size_t)(log->n_series + 1) * sizeof *a);
    if (!a) {
        vt_error(VT_ERR_NOMEM, "%s: out of memory", file);
        return NULL;
    }
    log->series = a;
    s = &a[log->n_series];
    memset(s, 0, sizeof *s);
    if (!(s->name = strdup(name))) {
        vt_error(VT_ERR_NOMEM, "%s: out of memory", file);
        return NULL;
    }
    s->eval = eval;
    log->n_series++;
    return s;
}

static vt_status add_point(vt_metric_series *s, double step, double time, double value, const char *file) {
    if (s->n == s->cap) {
        int64_t cap = s->cap ? s->cap * 2 : 64;
        double *p[3] = {s->step, s->time, s->value};
        for (int k = 0; k < 3; k++) {
            double *q = realloc(p[k], (size_t)cap * sizeof *q);
            if (!q) return vt_error(VT_ERR_NOMEM, "%s: out of memory", file);
            p[k] = q;
            /* Stored at once: a later failure leaves every array owned by s. */
            if (k == 0) s->step = q;
            else if (k == 1) s->time = q;
            else s->value = q;
        }
        s->cap = cap;
    }
    s->step[s->n] = step;
    s->time[s->n] = time;
    s->value[s->n] = value;
    s->n++;
    return VT_OK;
}

/* The length of a nan / inf / infinity token (as printf writes them, any
 * case, an optional sign) at s[0..n), or 0. */
static size_t nonfinite_token(const char *s, size_t n) {
    size_t i = (n && (s[0] == '-' || s[0] == '+')) ? 1 : 0;
    static const char *const WORDS[] = {"infinity", "nan", "inf"};
    for (int w = 0; w < 3; w++) {
        size_t len = strlen(WORDS[w]);
        if (n - i >= len && !strncasecmp(s + i, WORDS[w], len) && (n - i == len || !isalnum((unsigned char)s[i + len])))
            return i + len;
    }
    return 0;
}

/* The line with non-finite number tokens in value positions replaced by
 * null, so that strict JSON parsing accepts what printf("%g") writes. */
static void nonfinite_to_null(const char *s, size_t n, vt_sb *out) {
    bool in_string = false;
    char prev = 0; /* the last character outside strings that was not whitespace */
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (in_string) {
            vt_sb_add(out, &c, 1);
            if (c == '\\' && i + 1 < n) vt_sb_add(out, &s[++i], 1);
            else if (c == '"') in_string = false;
            continue;
        }
        size_t t = (prev == ':' || prev == ',' || prev == '[') ? nonfinite_token(s + i, n - i) : 0;
        if (t) {
            vt_sb_str(out, "null");
            i += t - 1;
            prev = 'n';
            continue;
        }
        vt_sb_add(out, &c, 1);
        if (c == '"') in_string = true;
        if (!isspace((unsigned char)c)) prev = c;
    }
}

typedef struct reader {
    vt_metrics_log *log;
    const char *file;
    double time_offset, last_raw_time; /* a resumed run's clock continues from the last time seen */
    bool all_timed;
} reader;

static vt_status read_object(reader *r, const cJSON *obj, int64_t line) {
    const cJSON *step = cJSON_GetObjectItemCaseSensitive(obj, "step");
    if (!cJSON_IsNumber(step) || !isfinite(step->valuedouble))
        return vt_error(VT_ERR_FORMAT, "%s:%lld: no finite number \"step\"", r->file, (long long)line);
    const cJSON *el = cJSON_GetObjectItemCaseSensitive(obj, "elapsed_s");
    double time = NAN;
    if (el && !cJSON_IsNull(el)) {
        if (!cJSON_IsNumber(el) || !isfinite(el->valuedouble) || el->valuedouble < 0)
            return vt_error(VT_ERR_FORMAT, "%s:%lld: \"elapsed_s\" is not a finite number >= 0", r->file,
                            (long long)line);
        if (el->valuedouble < r->last_raw_time) r->time_offset += r->last_raw_time;
        r->last_raw_time = el->valuedouble;
        time = el->valuedouble + r->time_offset;
    } else {
        r->all_timed = false;
    }
    bool eval = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(obj, "eval"));
    for (const cJSON *it = obj->child; it; it = it->next) {
        if (!strcmp(it->string, "step") || !strcmp(it->string, "elapsed_s") || !strcmp(it->string, "ranks")) continue;
        if (cJSON_IsNull(it) || (cJSON_IsNumber(it) && !isfinite(it->valuedouble))) {
            r->log->skipped++;
            continue;
        }
        if (!cJSON_IsNumber(it)) continue;
        vt_metric_series *s = series_for(r->log, it->string, eval, r->file);
        if (!s) return vt_last_status();
        vt_status st = add_point(s, step->valuedouble, time, it->valuedouble, r->file);
        if (st != VT_OK) return st;
    }
    r->log->lines++;
    return VT_OK;
}

static vt_status read_line(reader *r, const char *s, size_t n, int64_t line) {
    size_t bad = vt_utf8_invalid_at(s, n);
    if (bad < n) return vt_error(VT_ERR_FORMAT, "%s:%lld: invalid UTF-8 at byte %zu", r->file, (long long)line, bad + 1);
    vt_sb text = {0};
    nonfinite_to_null(s, n, &text);
    size_t len = 0;
    char *t = vt_sb_take(&text, &len);
    if (!t) return vt_error(VT_ERR_NOMEM, "%s: out of memory", r->file);
    const char *why = NULL;
    size_t at = 0;
    cJSON *obj = vt_json_parse(t, len, &why, &at);
    free(t);
    vt_status st;
    if (!obj)
        st = vt_error(VT_ERR_FORMAT, "%s:%lld: not JSON (%s)", r->file, (long long)line, why ? why : "malformed");
    else if (!cJSON_IsObject(obj))
        st = vt_error(VT_ERR_FORMAT, "%s:%lld: not a JSON object", r->file, (long long)line);
    else if (vt_json_repeated_key(obj))
        st = vt_error(VT_ERR_FORMAT, "%s:%lld: the key \"%s\" appears twice", r->file, (long long)line,
                      vt_json_repeated_key(obj));
    else
        st = read_object(r, obj, line);
    cJSON_Delete(obj);
    return st;
}

static bool blank(const char *s, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (!isspace((unsigned char)s[i])) return false;
    return true;
}

vt_status vt_metrics_log_parse(const char *s, size_t n, const char *name, vt_metrics_log *log) {
    memset(log, 0, sizeof *log);
    if (!name) name = "metrics.jsonl";
    reader r = {.log = log, .file = name, .all_timed = true};
    vt_status st = VT_OK;
    int64_t line = 0;
    for (size_t i = 0; i < n && st == VT_OK;) {
        const char *nl = memchr(s + i, '\n', n - i);
        size_t end = nl ? (size_t)(nl - s) : n;
        line++;
        if (!blank(s + i, end - i)) st = read_line(&r, s + i, end - i, line);
        i = end + 1;
    }
    if (st == VT_OK && log->lines == 0) st = vt_error(VT_ERR_FORMAT, "%s: no metrics lines (empty or blank lines only)", name);
    if (st != VT_OK) {
        vt_metrics_log_free(log);
        return st;
    }
    log->has_time = r.all_timed;
    return VT_OK;
}

vt_status vt_metrics_log_read(const char *path, vt_metrics_log *log) {
    memset(log, 0, sizeof *log);
    char *text = NULL;
    size_t len = 0;
    vt_status st = vt_read_file(path, (size_t)1 << 30, &text, &len);
    if (st != VT_OK) return st;
    st = vt_metrics_log_parse(text, len, path, log);
    free(text);
    return st;
}
