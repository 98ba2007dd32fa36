/* The body of /v1/completions (see verto/completions.h). */
#include <cjson/cJSON.h>
#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/json.h"
#include "core/utf8.h"
#include "serve/request_fields.h"
#include "verto/completions.h"

#define MAX_PROMPTS 64
#define MAX_STOPS 4

void vt_completion_request_free(vt_completion_request *r) {
    if (!r) return;
    for (size_t i = 0; i < r->n_prompts; i++) free(r->prompts[i]);
    free(r->prompts);
    for (int i = 0; i < r->n_stops; i++) free(r->stops[i]);
    free(r->stops);
    memset(r, 0, sizeof *r);
}

/* A string or a list of 1..max strings (non-empty when !allow_empty) into a
 * malloc'd array of copies. */
static vt_status strings(const cJSON *v, const char *name, size_t max, bool allow_empty, char ***out, size_t *n) {
    size_t count = cJSON_IsString(v) ? 1 : cJSON_IsArray(v) ? (size_t)cJSON_GetArraySize(v) : 0;
    if (!cJSON_IsString(v) && !cJSON_IsArray(v))
        return vt_error(VT_ERR_INVALID_ARG, "\"%s\" must be a string or a list of strings", name);
    if (count == 0 || count > max)
        return vt_error(VT_ERR_INVALID_ARG, "\"%s\" must hold 1 to %zu strings, not %zu", name, max, count);
    *out = calloc(count, sizeof **out);
    if (!*out) return vt_error(VT_ERR_NOMEM, "out of memory");
    const cJSON *item = cJSON_IsString(v) ? v : v->child;
    for (size_t i = 0; i < count; i++, item = item->next) {
        if (!cJSON_IsString(item) || !item->valuestring)
            return vt_error(VT_ERR_INVALID_ARG, "\"%s\" must be a string or a list of strings", name);
        if (!allow_empty && !item->valuestring[0]) return vt_error(VT_ERR_INVALID_ARG, "\"%s\" holds an empty string", name);
        if (!((*out)[i] = strdup(item->valuestring))) return vt_error(VT_ERR_NOMEM, "out of memory");
        *n = i + 1;
    }
    return VT_OK;
}

static vt_status number(const cJSON *v, const char *name, double lo, double hi, bool integer, double *out) {
    if (!cJSON_IsNumber(v) || !isfinite(v->valuedouble) || v->valuedouble < lo || v->valuedouble > hi ||
        (integer && v->valuedouble != floor(v->valuedouble)))
        return vt_error(VT_ERR_INVALID_ARG, "\"%s\" must be %s in [%g, %g]", name, integer ? "an integer" : "a number", lo,
                        hi);
    *out = v->valuedouble;
    return VT_OK;
}

static vt_status parse_doc(const cJSON *root, vt_completion_request *r) {
    static const char *const FIELDS[] = {"prompt", "model", "max_tokens", "temperature", "top_p", "top_k", "stop",
                                         "seed",   "n",     "stream",     "logprobs",    "echo",  "user", NULL};
    if (!cJSON_IsObject(root)) return vt_error(VT_ERR_INVALID_ARG, "the body must be a JSON object");
    vt_status st = serve_check_members(root, FIELDS, "");
    if (st != VT_OK) return st;
    const cJSON *v;
    if (!(v = cJSON_GetObjectItemCaseSensitive(root, "prompt"))) return vt_error(VT_ERR_INVALID_ARG, "\"prompt\" is missing");
    if ((st = strings(v, "prompt", MAX_PROMPTS, false, &r->prompts, &r->n_prompts)) != VT_OK) return st;
    double x = 0;
    if ((v = cJSON_GetObjectItemCaseSensitive(root, "model")) && !cJSON_IsString(v))
        return vt_error(VT_ERR_INVALID_ARG, "\"model\" must be a string");
    if ((v = cJSON_GetObjectItemCaseSensitive(root, "user")) && !cJSON_IsString(v))
        return vt_error(VT_ERR_INVALID_ARG, "\"user\" must be a string");
    if ((v = cJSON_GetObjectItemCaseSensitive(root, "max_tokens"))) {
        if ((st = number(v, "max_tokens", 1, 1e15, true, &x)) != VT_OK) return st;
        r->max_tokens = (int64_t)x;
    }
    if ((v = cJSON_GetObjectItemCaseSensitive(root, "temperature"))) {
        if ((st = number(v, "temperature", 0, 100, false, &x)) != VT_OK) return st;
        float t = (float)x; /* (a positive double under float's range rounds to 0: the likeliest token too) */
        r->sampling.do_sample = t > 0; /* OpenAI's 0: the likeliest token */
        r->sampling.temperature = t > 0 ? t : 1.0f;
    }
    if ((v = cJSON_GetObjectItemCaseSensitive(root, "top_p"))) {
        if ((st = number(v, "top_p", 0, 1, false, &x)) != VT_OK) return st;
        r->sampling.top_p = (float)x;
        if (!(r->sampling.top_p > 0)) /* (0, or too small for a float) */
            return vt_error(VT_ERR_INVALID_ARG, "\"top_p\" must be in (0, 1] (and at least %g)", (double)FLT_TRUE_MIN);
    }
    if ((v = cJSON_GetObjectItemCaseSensitive(root, "top_k"))) {
        if ((st = number(v, "top_k", 0, 1e9, true, &x)) != VT_OK) return st;
        r->sampling.top_k = (int32_t)x;
    }
    if ((v = cJSON_GetObjectItemCaseSensitive(root, "seed"))) {
        if ((st = number(v, "seed", 0, 9007199254740991.0, true, &x)) != VT_OK) return st;
        r->seed = (uint64_t)x;
    }
    if ((v = cJSON_GetObjectItemCaseSensitive(root, "n"))) {
        if (!cJSON_IsNumber(v) || v->valuedouble != 1) return vt_error(VT_ERR_INVALID_ARG, "\"n\" must be 1: one choice per prompt");
    }
    if ((v = cJSON_GetObjectItemCaseSensitive(root, "stream"))) {
        if (!cJSON_IsBool(v)) return vt_error(VT_ERR_INVALID_ARG, "\"stream\" must be true or false");
        r->stream = cJSON_IsTrue(v);
    }
    if ((v = cJSON_GetObjectItemCaseSensitive(root, "logprobs")) && !cJSON_IsNull(v))
        return vt_error(VT_ERR_INVALID_ARG, "\"logprobs\" is not supported (null only)");
    if ((v = cJSON_GetObjectItemCaseSensitive(root, "echo")) && !cJSON_IsFalse(v))
        return vt_error(VT_ERR_INVALID_ARG, "\"echo\" is not supported (false only)");
    if ((v = cJSON_GetObjectItemCaseSensitive(root, "stop")) && !cJSON_IsNull(v)) {
        size_t n = 0;
        st = strings(v, "stop", MAX_STOPS, false, &r->stops, &n);
        r->n_stops = (int)n;
        if (st != VT_OK) return st;
    }
    return VT_OK;
}

vt_status vt_completion_request_parse(const char *body, size_t len, vt_completion_request *out) {
    if (!out) return vt_error(VT_ERR_INVALID_ARG, "no request to fill");
    memset(out, 0, sizeof *out);
    out->max_tokens = 16;
    vt_sampling_options_default(&out->sampling);
    out->sampling.do_sample = true; /* OpenAI's default temperature 1 samples */
    if (!body || len == 0) return vt_error(VT_ERR_INVALID_ARG, "the body is empty: a JSON object is expected");
    size_t bad = vt_utf8_invalid_at(body, len);
    if (bad != len) return vt_error(VT_ERR_INVALID_ARG, "the body is not valid UTF-8 (byte %zu)", bad);
    if (memchr(body, '\0', len)) return vt_error(VT_ERR_INVALID_ARG, "the body contains a NUL byte");
    const char *why;
    size_t at;
    cJSON *root = vt_json_parse(body, len, &why, &at);
    if (!root) return vt_error(VT_ERR_INVALID_ARG, "the body is not valid JSON (%s, at byte %zu)", why, at);
    vt_status st = parse_doc(root, out);
    cJSON_Delete(root);
    if (st != VT_OK) vt_completion_request_free(out);
    return st;
}
