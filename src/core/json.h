/* Strict JSON for everything verto reads from outside (config files, JSONL
 * rows, request bodies, safetensors headers): cJSON accepts more than JSON
 * does, so the text is scanned first. */
#ifndef VT_CORE_JSON_H
#define VT_CORE_JSON_H

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* One JSON number token, in document order. */
typedef struct vt_jnum {
    uint64_t value; /* exact value when is_uint */
    bool is_uint;   /* plain digits (no sign, fraction or exponent) fitting 64 bits */
} vt_jnum;

/* The lexical checks cJSON leaves out, run on s[0..n): only JSON whitespace
 * between tokens, exact literals, the JSON number grammar, no raw control
 * characters or \u0000 in strings, valid escapes, nesting at most 128 deep
 * (serde_json's limit). Collects every number token in document order into
 * *nums (malloc'd, caller frees; may be NULL when *n_nums is 0). Returns NULL
 * if all is well, else a static description of the first problem and its byte
 * offset in *at. Structure is left to cJSON. */
const char *vt_json_scan(const char *s, size_t n, vt_jnum **nums, size_t *n_nums, size_t *at);

/* s[0..n) as exactly one JSON value, with only whitespace around it and the
 * checks of vt_json_scan. NULL, with a static *why and the byte offset *at,
 * when it is not. Thread-safe. Free the result with cJSON_Delete. */
cJSON *vt_json_parse(const char *s, size_t n, const char **why, size_t *at);

/* The first key that appears twice among obj's members (cJSON keeps both),
 * or NULL. */
const char *vt_json_repeated_key(const cJSON *obj);

#endif
