/* Strict JSON: the lexical checks cJSON does not make, and one parse that
 * applies them (see core/json.h). */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "core/json.h"
#include "core/utf8.h"

#define MAX_DEPTH 128

static bool is_ws(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }
static bool is_digit(char c) { return c >= '0' && c <= '9'; }
static bool is_hex(char c) { return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'); }

/* Scans the string starting after its opening quote; returns the index after
 * the closing quote, or 0 with *why set. */
static size_t scan_string(const char *s, size_t n, size_t i, const char **why, size_t *at) {
    while (i < n) {
        unsigned char c = (unsigned char)s[i];
        if (c == '"') return i + 1;
        if (c < 0x20) { *why = "raw control character inside a string"; *at = i; return 0; }
        if (c != '\\') { i++; continue; }
        if (i + 1 >= n) break;
        char e = s[i + 1];
        if (e == 'u') {
            if (n - i < 6 || !is_hex(s[i + 2]) || !is_hex(s[i + 3]) || !is_hex(s[i + 4]) || !is_hex(s[i + 5])) {
                *why = "bad \\u escape in a string"; *at = i; return 0;
            }
            if (memcmp(s + i + 2, "0000", 4) == 0) {
                *why = "\\u0000 inside a string is not supported"; *at = i; return 0;
            }
            i += 6;
        } else if (strchr("\"\\/bfnrt", e) && e != '\0') {
            i += 2;
        } else {
            *why = "invalid escape in a string"; *at = i; return 0;
        }
    }
    *why = "unterminated string"; *at = n;
    return 0;
}

/* Scans a number token at s[i]; returns the index after it, or 0 with *why. */
static size_t scan_number(const char *s, size_t n, size_t i, vt_jnum *num, const char **why, size_t *at) {
    size_t start = i;
    bool neg = false, frac = false, exp = false, overflow = false;
    uint64_t v = 0;
    if (s[i] == '-') { neg = true; i++; }
    if (i < n && s[i] == '0') {
        i++;
    } else if (i < n && s[i] >= '1' && s[i] <= '9') {
        for (; i < n && is_digit(s[i]); i++) {
            unsigned d = (unsigned)(s[i] - '0');
            if (v > (UINT64_MAX - d) / 10) overflow = true;
            else v = v * 10 + d;
        }
    } else goto bad;
    if (i < n && s[i] == '.') {
        frac = true;
        i++;
        if (i >= n || !is_digit(s[i])) goto bad;
        while (i < n && is_digit(s[i])) i++;
    }
    if (i < n && (s[i] == 'e' || s[i] == 'E')) {
        exp = true;
        i++;
        if (i < n && (s[i] == '+' || s[i] == '-')) i++;
        if (i >= n || !is_digit(s[i])) goto bad;
        while (i < n && is_digit(s[i])) i++;
    }
    if (i < n && !is_ws(s[i]) && s[i] != ',' && s[i] != ']' && s[i] != '}') goto bad; /* "01", "1x" */
    num->value = v;
    num->is_uint = !neg && !frac && !exp && !overflow;
    return i;
bad:
    *why = "malformed number";
    *at = start;
    return 0;
}

const char *vt_json_scan(const char *s, size_t n, vt_jnum **nums, size_t *n_nums, size_t *at) {
    const char *why = NULL;
    vt_jnum *out = NULL;
    size_t count = 0, cap = 0;
    int depth = 0;
    size_t i = 0;
    *at = 0;
    while (i < n) {
        char c = s[i];
        if (is_ws(c) || c == ':' || c == ',') { i++; continue; }
        if (c == '{' || c == '[') {
            if (++depth > MAX_DEPTH) { why = "nested more than 128 levels deep"; *at = i; goto fail; }
            i++;
        } else if (c == '}' || c == ']') {
            depth--;
            i++;
        } else if (c == '"') {
            if (!(i = scan_string(s, n, i + 1, &why, at))) goto fail;
        } else if (c == '-' || is_digit(c)) {
            if (count == cap) {
                size_t ncap = cap ? cap * 2 : 64;
                vt_jnum *grown = realloc(out, ncap * sizeof *grown);
                if (!grown) { why = "out of memory"; *at = i; goto fail; }
                out = grown;
                cap = ncap;
            }
            if (!(i = scan_number(s, n, i, &out[count], &why, at))) goto fail;
            count++;
        } else {
            static const char *const lits[] = {"true", "false", "null"};
            size_t k = 0;
            for (; k < 3; k++) {
                size_t len = strlen(lits[k]);
                if (n - i >= len && memcmp(s + i, lits[k], len) == 0) { i += len; break; }
            }
            if (k == 3) { why = "unexpected character"; *at = i; goto fail; }
        }
    }
    *nums = out;
    *n_nums = count;
    return NULL;
fail:
    free(out);
    *nums = NULL;
    *n_nums = 0;
    return why;
}

/* cJSON_Parse* writes a global error position on every call. */
static pthread_mutex_t parse_lock = PTHREAD_MUTEX_INITIALIZER;

cJSON *vt_json_parse(const char *s, size_t n, const char **why, size_t *at) {
    vt_jnum *nums;
    size_t n_nums;
    if ((*why = vt_json_scan(s, n, &nums, &n_nums, at))) return NULL;
    free(nums);
    const char *end = NULL;
    pthread_mutex_lock(&parse_lock);
    cJSON *root = cJSON_ParseWithLengthOpts(s, n, &end, 0);
    pthread_mutex_unlock(&parse_lock);
    size_t stop = end && end >= s && end <= s + n ? (size_t)(end - s) : 0;
    if (!root) {
        *why = "an unexpected or missing token"; /* cJSON points near the token it could not take */
        *at = stop;
        return NULL;
    }
    while (stop < n && is_ws(s[stop])) stop++;
    if (stop < n) {
        cJSON_Delete(root);
        *why = "text after the JSON value";
        *at = stop;
        return NULL;
    }
    return root;
}

const char *vt_json_repeated_key(const cJSON *obj) {
    for (const cJSON *a = obj ? obj->child : NULL; a; a = a->next)
        for (const cJSON *b = a->next; b; b = b->next)
            if (a->string && b->string && !strcmp(a->string, b->string)) return a->string;
    return NULL;
}
