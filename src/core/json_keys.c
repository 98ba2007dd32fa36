/* Typed, range-checked reads of one key of a JSON object (see json_keys.h). */
#include <math.h>

#include "core/json_keys.h"

static const cJSON *get(const cJSON *obj, const char *key) { return cJSON_GetObjectItemCaseSensitive(obj, key); }

const char *json_type_name(const cJSON *v) {
    if (cJSON_IsNull(v)) return "null";
    if (cJSON_IsBool(v)) return "a boolean";
    if (cJSON_IsNumber(v)) return "a number";
    if (cJSON_IsString(v)) return "a string";
    if (cJSON_IsArray(v)) return "an array";
    if (cJSON_IsObject(v)) return "an object";
    return "invalid";
}

/* Integer-valued number in [lo, hi]; absent leaves *out. null is accepted
 * (as `null_value`) only when allow_null. */
vt_status json_key_int(const char *label, const cJSON *obj, const char *key, int64_t lo, int64_t hi,
                       bool allow_null, int64_t null_value, int64_t *out) {
    const cJSON *v = get(obj, key);
    if (!v) return VT_OK;
    if (allow_null && cJSON_IsNull(v)) {
        *out = null_value;
        return VT_OK;
    }
    if (!cJSON_IsNumber(v))
        return vt_error(VT_ERR_FORMAT, "%s: key \"%s\" must be an integer%s, got %s", label, key,
                        allow_null ? " or null" : "", json_type_name(v));
    double d = v->valuedouble;
    if (!isfinite(d) || d != floor(d))
        return vt_error(VT_ERR_FORMAT, "%s: key \"%s\" must be an integer (got %.17g)", label, key, d);
    if (d < (double)lo || d > (double)hi)
        return vt_error(VT_ERR_FORMAT, "%s: key \"%s\" must be in [%lld, %lld] (got %.17g)", label, key,
                        (long long)lo, (long long)hi, d);
    *out = (int64_t)d;
    return VT_OK;
}

/* A number in [lo, hi) (hi_open) or [lo, hi]; lo_open excludes lo. */
vt_status json_key_float(const char *label, const cJSON *obj, const char *key, double lo, bool lo_open,
                         double hi, bool hi_open, float *out) {
    const cJSON *v = get(obj, key);
    if (!v) return VT_OK;
    if (!cJSON_IsNumber(v))
        return vt_error(VT_ERR_FORMAT, "%s: key \"%s\" must be a number, got %s", label, key, json_type_name(v));
    double d = v->valuedouble;
    float f = (float)d;
    bool ok = isfinite(d) && isfinite(f) && (lo_open ? f > lo : f >= lo) && (hi_open ? f < hi : f <= hi);
    if (!ok)
        return vt_error(VT_ERR_FORMAT, "%s: key \"%s\" must be in %c%g, %g%c (got %.17g)", label, key,
                        lo_open ? '(' : '[', lo, hi, hi_open ? ')' : ']', d);
    *out = f;
    return VT_OK;
}

vt_status json_key_bool(const char *label, const cJSON *obj, const char *key, bool *out) {
    const cJSON *v = get(obj, key);
    if (!v) return VT_OK;
    if (!cJSON_IsBool(v))
        return vt_error(VT_ERR_FORMAT, "%s: key \"%s\" must be true or false, got %s", label, key, json_type_name(v));
    *out = cJSON_IsTrue(v);
    return VT_OK;
}

/* A string (or null when allow_null: *out = NULL); absent leaves *out. */
vt_status json_key_string(const char *label, const cJSON *obj, const char *key, bool allow_null,
                          const char **out) {
    const cJSON *v = get(obj, key);
    if (!v) return VT_OK;
    if (allow_null && cJSON_IsNull(v)) {
        *out = NULL;
        return VT_OK;
    }
    if (!cJSON_IsString(v) || !v->valuestring)
        return vt_error(VT_ERR_FORMAT, "%s: key \"%s\" must be a string%s, got %s", label, key,
                        allow_null ? " or null" : "", json_type_name(v));
    *out = v->valuestring;
    return VT_OK;
}

/* "label: not valid JSON (why at line L, column C)" for byte offset at of json. */
vt_status json_syntax_error(const char *label, const char *json, size_t at, const char *why) {
    size_t line = 1, col = 1;
    for (size_t i = 0; i < at; i++) {
        if (json[i] == '\n') line++, col = 1;
        else col++;
    }
    return vt_error(VT_ERR_FORMAT, "%s: not valid JSON (%s at line %zu, column %zu)", label, why, line, col);
}
