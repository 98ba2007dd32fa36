/* Typed, range-checked reads of one key of a JSON object (config.json's
 * keys for every model family). An absent key leaves *out as it was; a
 * wrong type or range is VT_ERR_FORMAT naming `label` (the file) and the key. */
#ifndef VT_CORE_JSON_KEYS_H
#define VT_CORE_JSON_KEYS_H

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "verto/error.h"

/* "null", "a boolean", "a number", "a string", "an array", "an object". */
const char *json_type_name(const cJSON *v);
/* An integer-valued number in [lo, hi]; null is accepted (as null_value) only when allow_null. */
vt_status json_key_int(const char *label, const cJSON *obj, const char *key, int64_t lo, int64_t hi, bool allow_null,
                       int64_t null_value, int64_t *out);
/* A number in [lo, hi] that fits a float; lo_open / hi_open exclude the bound. */
vt_status json_key_float(const char *label, const cJSON *obj, const char *key, double lo, bool lo_open, double hi,
                         bool hi_open, float *out);
vt_status json_key_bool(const char *label, const cJSON *obj, const char *key, bool *out);
/* A string (or null when allow_null: *out = NULL); points into obj. */
vt_status json_key_string(const char *label, const cJSON *obj, const char *key, bool allow_null, const char **out);
/* "label: not valid JSON (why at line L, column C)" for byte offset at of json. */
vt_status json_syntax_error(const char *label, const char *json, size_t at, const char *why);

#endif
