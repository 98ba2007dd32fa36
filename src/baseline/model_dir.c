/* The baseline's model directory: config.json, vocab.txt, model.safetensors
 * (see verto/baseline.h). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "baseline/baseline_internal.h"
#include "core/json.h"
#include "core/strbuf.h"
#include "core/utf8.h"
#include "verto/bert.h"
#include "verto/fileio.h"
#include "verto/safetensors.h"

#define TOKEN_PATTERN "(?u)\\b\\w\\w+\\b"
#define MAX_CONFIG_BYTES (16u << 20)
#define MAX_VOCAB_BYTES (4ull << 30)
enum { FORMAT_VERSION = 1 };

static const char *path_in(char *buf, size_t size, const char *dir, const char *name) {
    snprintf(buf, size, "%s/%s", dir, name);
    return buf;
}

/* ---- writing ---- */

static char *config_json(const vt_baseline *b) {
    vt_sb s = {0};
    vt_sb_printf(&s, "{\n  \"model_type\": \"%s\",\n  \"format_version\": %d,\n  \"problem_type\": \"%s\",\n",
                 VT_BASELINE_MODEL_TYPE, FORMAT_VERSION,
                 b->multi ? "multi_label_classification" : "single_label_classification");
    vt_sb_printf(&s, "  \"num_labels\": %d,\n  \"id2label\": {", b->K);
    for (int k = 0; k < b->K; k++) {
        vt_sb_printf(&s, "%s\"%d\": ", k ? ", " : "", k);
        vt_sb_json_string(&s, b->labels[k]);
    }
    vt_sb_str(&s, "},\n  \"lowercase\": true,\n  \"token_pattern\": ");
    vt_sb_json_string(&s, TOKEN_PATTERN);
    vt_sb_printf(&s,
                 ",\n  \"ngram_range\": [1, 2],\n  \"sublinear_tf\": true,\n  \"smooth_idf\": true,\n  \"norm\": \"l2\",\n"
                 "  \"min_df\": %lld,\n  \"num_terms\": %lld,\n  \"C\": %.17g,\n  \"tol\": %.17g,\n  \"max_iter\": %lld",
                 (long long)b->min_df, (long long)b->tfidf.V, b->C, b->tol, (long long)b->max_iter);
    if (b->multi) vt_sb_printf(&s, ",\n  \"multi_label_threshold\": %.17g", b->threshold);
    vt_sb_str(&s, "\n}\n");
    return vt_sb_take(&s, NULL);
}

vt_status vt_baseline_save(const vt_baseline *b, const char *dir) {
    char path[4096];
    vt_status st = vt_mkdir_p(dir);
    char *config = st == VT_OK ? config_json(b) : NULL;
    if (st == VT_OK && !config) st = vt_error(VT_ERR_NOMEM, "out of memory writing %s", dir);
    if (st == VT_OK) st = vt_write_file_atomic(path_in(path, sizeof path, dir, "config.json"), config, strlen(config));
    free(config);
    vt_sb v = {0};
    for (int64_t j = 0; st == VT_OK && j < b->tfidf.V; j++) {
        vt_sb_str(&v, bl_table_term(&b->tfidf.vocab, (int32_t)j));
        vt_sb_add(&v, "\n", 1);
    }
    if (st == VT_OK && v.failed) st = vt_error(VT_ERR_NOMEM, "out of memory writing %s/vocab.txt", dir);
    if (st == VT_OK) st = vt_write_file_atomic(path_in(path, sizeof path, dir, "vocab.txt"), v.buf ? v.buf : "", v.len);
    vt_sb_free(&v);
    int64_t V = b->tfidf.V, Kp = b->Kp, coef_shape[2] = {Kp, V};
    const vt_st_entry entries[] = {{"idf", VT_ST_F64, 1, &V, b->tfidf.idf},
                                   {"coef", VT_ST_F64, 2, coef_shape, b->coef},
                                   {"intercept", VT_ST_F64, 1, &Kp, b->intercept}};
    const char *meta[] = {"format", VT_BASELINE_MODEL_TYPE};
    if (st == VT_OK) st = vt_st_write(path_in(path, sizeof path, dir, "model.safetensors"), entries, 3, meta, 1);
    return st;
}

/* ---- reading ---- */

static const char *const KNOWN_KEYS[] = {"model_type", "format_version", "problem_type", "num_labels", "id2label",
                                         "lowercase", "token_pattern", "ngram_range", "sublinear_tf", "smooth_idf",
                                         "norm", "min_df", "num_terms", "C", "tol", "max_iter",
                                         "multi_label_threshold"};

/* An integer in [lo, hi] at key, or an error naming it. */
static vt_status get_int(const cJSON *root, const char *key, int64_t lo, int64_t hi, int64_t *out, const char *name) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(root, key);
    if (!cJSON_IsNumber(v) || v->valuedouble != floor(v->valuedouble) || v->valuedouble < (double)lo ||
        v->valuedouble > (double)hi)
        return vt_error(VT_ERR_FORMAT, "%s: \"%s\" must be an integer in [%lld, %lld]", name, key, (long long)lo,
                        (long long)hi);
    *out = (int64_t)v->valuedouble;
    return VT_OK;
}

static vt_status get_number(const cJSON *root, const char *key, double lo, double hi, double *out, const char *name) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(root, key);
    if (!cJSON_IsNumber(v) || !(v->valuedouble >= lo && v->valuedouble <= hi))
        return vt_error(VT_ERR_FORMAT, "%s: \"%s\" must be a number in [%g, %g]", name, key, lo, hi);
    *out = v->valuedouble;
    return VT_OK;
}

/* The settings verto computes with, which a file must state as they are. */
static vt_status check_fixed(const cJSON *root, const char *name) {
    const cJSON *v;
    if (!cJSON_IsString(v = cJSON_GetObjectItemCaseSensitive(root, "model_type")) || strcmp(v->valuestring, VT_BASELINE_MODEL_TYPE))
        return vt_error(VT_ERR_FORMAT, "%s: \"model_type\" must be \"%s\"", name, VT_BASELINE_MODEL_TYPE);
    if (!cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(root, "lowercase")) ||
        !cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(root, "sublinear_tf")) ||
        !cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(root, "smooth_idf")))
        return vt_error(VT_ERR_UNSUPPORTED, "%s: \"lowercase\", \"sublinear_tf\" and \"smooth_idf\" must be true", name);
    if (!cJSON_IsString(v = cJSON_GetObjectItemCaseSensitive(root, "token_pattern")) || strcmp(v->valuestring, TOKEN_PATTERN))
        return vt_error(VT_ERR_UNSUPPORTED, "%s: \"token_pattern\" must be \"%s\"", name, TOKEN_PATTERN);
    if (!cJSON_IsString(v = cJSON_GetObjectItemCaseSensitive(root, "norm")) || strcmp(v->valuestring, "l2"))
        return vt_error(VT_ERR_UNSUPPORTED, "%s: \"norm\" must be \"l2\"", name);
    v = cJSON_GetObjectItemCaseSensitive(root, "ngram_range");
    if (!cJSON_IsArray(v) || cJSON_GetArraySize(v) != 2 || !cJSON_IsNumber(cJSON_GetArrayItem(v, 0)) ||
        !cJSON_IsNumber(cJSON_GetArrayItem(v, 1)) || cJSON_GetArrayItem(v, 0)->valuedouble != 1 ||
        cJSON_GetArrayItem(v, 1)->valuedouble != 2)
        return vt_error(VT_ERR_UNSUPPORTED, "%s: \"ngram_range\" must be [1, 2]", name);
    return VT_OK;
}

static vt_status read_labels(vt_baseline *b, const cJSON *root, const char *name) {
    const cJSON *map = cJSON_GetObjectItemCaseSensitive(root, "id2label");
    if (!cJSON_IsObject(map) || cJSON_GetArraySize(map) != b->K)
        return vt_error(VT_ERR_FORMAT, "%s: \"id2label\" must be an object of num_labels (%d) labels", name, b->K);
    if (!(b->labels = calloc((size_t)b->K, sizeof *b->labels))) return vt_error(VT_ERR_NOMEM, "out of memory");
    for (int k = 0; k < b->K; k++) {
        char key[16];
        snprintf(key, sizeof key, "%d", k);
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(map, key);
        if (!cJSON_IsString(v) || !*v->valuestring || strlen(v->valuestring) >= VT_BERT_LABEL_MAX)
            return vt_error(VT_ERR_FORMAT, "%s: id2label[\"%d\"] must be a label of 1 to %d bytes", name, k,
                            VT_BERT_LABEL_MAX - 1);
        for (int j = 0; j < k; j++)
            if (!strcmp(b->labels[j], v->valuestring))
                return vt_error(VT_ERR_FORMAT, "%s: label '%s' is in id2label twice", name, v->valuestring);
        if (!(b->labels[k] = strdup(v->valuestring))) return vt_error(VT_ERR_NOMEM, "out of memory");
    }
    return VT_OK;
}

vt_status bl_config_parse(vt_baseline *b, const char *text, size_t len, const char *name) {
    const char *why = NULL;
    size_t at = 0;
    cJSON *root = vt_json_parse(text, len, &why, &at);
    if (!root) return vt_error(VT_ERR_FORMAT, "%s: %s at byte %zu", name, why, at);
    vt_status st = cJSON_IsObject(root) ? VT_OK : vt_error(VT_ERR_FORMAT, "%s: not a JSON object", name);
    const char *twice = st == VT_OK ? vt_json_repeated_key(root) : NULL;
    if (twice) st = vt_error(VT_ERR_FORMAT, "%s: key \"%s\" appears twice", name, twice);
    for (const cJSON *it = root->child; st == VT_OK && it; it = it->next) {
        bool known = false;
        for (size_t i = 0; i < sizeof KNOWN_KEYS / sizeof *KNOWN_KEYS; i++) known = known || !strcmp(it->string, KNOWN_KEYS[i]);
        if (!known) st = vt_error(VT_ERR_FORMAT, "%s: unknown key \"%s\"", name, it->string);
    }
    if (st == VT_OK) st = check_fixed(root, name);
    int64_t version = 0, K = 0, V = 0;
    if (st == VT_OK) st = get_int(root, "format_version", 1, 1, &version, name);
    const cJSON *pt = cJSON_GetObjectItemCaseSensitive(root, "problem_type");
    if (st == VT_OK && !(cJSON_IsString(pt) && (!strcmp(pt->valuestring, "single_label_classification") ||
                                                !strcmp(pt->valuestring, "multi_label_classification"))))
        st = vt_error(VT_ERR_FORMAT, "%s: \"problem_type\" must be \"single_label_classification\" or "
                                     "\"multi_label_classification\"", name);
    if (st == VT_OK) b->multi = !strcmp(pt->valuestring, "multi_label_classification");
    if (st == VT_OK) st = get_int(root, "num_labels", b->multi ? 1 : 2, VT_BERT_MAX_LABELS, &K, name);
    if (st == VT_OK) {
        b->K = (int)K;
        b->Kp = b->multi || K > 2 ? (int)K : 1;
        st = read_labels(b, root, name);
    }
    if (st == VT_OK) st = get_int(root, "min_df", 1, INT32_MAX, &b->min_df, name);
    if (st == VT_OK) st = get_int(root, "num_terms", 1, INT32_MAX, &V, name);
    if (st == VT_OK) b->tfidf.V = V;
    if (st == VT_OK) st = get_number(root, "C", 1e-300, 1e300, &b->C, name);
    if (st == VT_OK) st = get_number(root, "tol", 1e-300, 1e300, &b->tol, name);
    if (st == VT_OK) st = get_int(root, "max_iter", 1, INT64_MAX / 2, &b->max_iter, name);
    b->threshold = 0.5;
    if (st == VT_OK && b->multi) st = get_number(root, "multi_label_threshold", 0, 1, &b->threshold, name);
    else if (st == VT_OK && cJSON_GetObjectItemCaseSensitive(root, "multi_label_threshold"))
        st = vt_error(VT_ERR_FORMAT, "%s: \"multi_label_threshold\" belongs to a multi-label model only", name);
    cJSON_Delete(root);
    return st;
}

vt_status bl_vocab_parse(bl_tfidf *t, const char *text, size_t len, const double *idf, int64_t V, const char *name) {
    memset(&t->vocab, 0, sizeof t->vocab);
    const char *prev = NULL;
    size_t prev_len = 0, line = 0;
    vt_status st = VT_OK;
    for (size_t at = 0; st == VT_OK && at < len; line++) {
        const char *nl = memchr(text + at, '\n', len - at);
        if (!nl) {
            st = vt_error(VT_ERR_FORMAT, "%s:%zu: the last line has no newline (a truncated file?)", name, line + 1);
            break;
        }
        const char *s = text + at;
        size_t n = (size_t)(nl - s);
        at += n + 1;
        int cmp = prev ? memcmp(prev, s, prev_len < n ? prev_len : n) : -1;
        if (!n || memchr(s, '\0', n) || memchr(s, '\r', n) || !vt_utf8_valid(s, n))
            st = vt_error(VT_ERR_FORMAT, "%s:%zu: a term must be non-empty valid UTF-8 without NUL or CR", name, line + 1);
        else if (prev && (cmp > 0 || (cmp == 0 && prev_len >= n)))
            st = vt_error(VT_ERR_FORMAT, "%s:%zu: the terms must be sorted and distinct", name, line + 1);
        else if ((int64_t)line >= V)
            st = vt_error(VT_ERR_FORMAT, "%s:%zu: more terms than num_terms (%lld)", name, line + 1, (long long)V);
        else {
            int32_t id;
            st = bl_table_add(&t->vocab, s, n, &id, NULL);
        }
        prev = s;
        prev_len = n;
    }
    if (st == VT_OK && (int64_t)line != V)
        st = vt_error(VT_ERR_FORMAT, "%s: %zu terms, but num_terms is %lld", name, line, (long long)V);
    if (st == VT_OK && !(t->idf = malloc((size_t)V * sizeof *t->idf))) st = vt_error(VT_ERR_NOMEM, "out of memory");
    if (st == VT_OK) memcpy(t->idf, idf, (size_t)V * sizeof *idf);
    if (st != VT_OK) bl_table_free(&t->vocab);
    return st;
}

/* Tensor `key` of f: F64 of the given shape, every value finite, copied into *out. */
static vt_status read_tensor(const vt_st_file *f, const char *key, int ndim, const int64_t *shape, double **out,
                             const char *name) {
    const vt_st_tensor *t = vt_st_find(f, key);
    bool ok = t && t->dtype == VT_ST_F64 && t->ndim == ndim;
    for (int d = 0; ok && d < ndim; d++) ok = t->shape[d] == shape[d];
    if (!ok)
        return vt_error(VT_ERR_FORMAT, "%s: tensor \"%s\" must be F64 of shape (%lld%s%lld)", name, key, (long long)shape[0],
                        ndim > 1 ? ", " : "", ndim > 1 ? (long long)shape[1] : 0LL);
    if (!(*out = malloc(t->nbytes ? t->nbytes : 1))) return vt_error(VT_ERR_NOMEM, "out of memory for %s", key);
    memcpy(*out, t->data, t->nbytes); /* the mapping may be unaligned */
    for (int64_t i = 0; i < t->numel; i++)
        if (!isfinite((*out)[i])) return vt_error(VT_ERR_FORMAT, "%s: tensor \"%s\" has a value that is not finite", name, key);
    return VT_OK;
}

vt_baseline *vt_baseline_load(const char *dir) {
    char path[4096];
    vt_baseline *b = calloc(1, sizeof *b);
    if (!b) return vt_error(VT_ERR_NOMEM, "out of memory"), NULL;
    char *text = NULL;
    size_t len = 0;
    double *idf = NULL;
    vt_st_file *f = NULL;
    vt_status st = vt_read_file(path_in(path, sizeof path, dir, "config.json"), MAX_CONFIG_BYTES, &text, &len);
    if (st == VT_OK) st = bl_config_parse(b, text, len, path);
    free(text);
    text = NULL;
    int64_t V = b->tfidf.V, coef_shape[2] = {b->Kp, V}, Kp = b->Kp;
    if (st == VT_OK && !(f = vt_st_open(path_in(path, sizeof path, dir, "model.safetensors")))) st = vt_last_status();
    if (st == VT_OK) st = read_tensor(f, "idf", 1, &V, &idf, path);
    if (st == VT_OK) st = read_tensor(f, "coef", 2, coef_shape, &b->coef, path);
    if (st == VT_OK) st = read_tensor(f, "intercept", 1, &Kp, &b->intercept, path);
    for (int64_t j = 0; st == VT_OK && j < V; j++)
        if (!(idf[j] >= 1)) st = vt_error(VT_ERR_FORMAT, "%s: idf[%lld] is below 1, which smooth idf never is", path, (long long)j);
    if (st == VT_OK) st = vt_read_file(path_in(path, sizeof path, dir, "vocab.txt"), MAX_VOCAB_BYTES, &text, &len);
    if (st == VT_OK) st = bl_vocab_parse(&b->tfidf, text, len, idf, V, path);
    free(text);
    free(idf);
    vt_st_close(f);
    if (st != VT_OK) {
        vt_baseline_free(b);
        return NULL;
    }
    return b;
}

bool vt_baseline_is_dir(const char *dir) {
    char path[4096], *text = NULL;
    size_t len = 0;
    if (snprintf(path, sizeof path, "%s/config.json", dir) >= (int)sizeof path) return false;
    FILE *fp = fopen(path, "rb");
    if (!fp) return false;
    fclose(fp);
    if (vt_read_file(path, MAX_CONFIG_BYTES, &text, &len) != VT_OK) return false;
    const char *why = NULL;
    size_t at = 0;
    cJSON *root = vt_json_parse(text, len, &why, &at);
    free(text);
    const cJSON *t = cJSON_IsObject(root) ? cJSON_GetObjectItemCaseSensitive(root, "model_type") : NULL;
    bool yes = cJSON_IsString(t) && !strcmp(t->valuestring, VT_BASELINE_MODEL_TYPE);
    cJSON_Delete(root);
    vt_clear_error();
    return yes;
}
