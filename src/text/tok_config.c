/* Tokenizer options and tokenizer_config.json. */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "verto/fileio.h"
#include "verto/tokenizer.h"

#define CONFIG_MAX_BYTES ((size_t)16 << 20)

void vt_tok_options_default(vt_tok_options *o) {
    o->lowercase = true;
    o->strip_accents = -1;
    o->tokenize_chinese_chars = true;
    o->split_special_tokens = false;
    o->max_input_chars_per_word = 100;
    o->model_max_length = 512;
    o->keep_tail = 0;
    o->max_windows = 1;
    o->pad_token[0] = o->mask_token[0] = '\0';
}

/* pad_token / mask_token: "text" or {"content": "text", ...} as transformers saves an AddedToken. */
static vt_status get_token_name(const cJSON *root, const char *key, const char *file, char *out) {
    const cJSON *it = cJSON_GetObjectItemCaseSensitive(root, key);
    if (!it || cJSON_IsNull(it)) return VT_OK;
    if (cJSON_IsObject(it)) it = cJSON_GetObjectItemCaseSensitive(it, "content");
    if (!cJSON_IsString(it) || !it->valuestring[0] || strlen(it->valuestring) >= VT_TOK_NAME_MAX)
        return vt_error(VT_ERR_FORMAT, "%s: \"%s\" must be a token of 1 to %d bytes (or {\"content\": ...})", file,
                        key, VT_TOK_NAME_MAX - 1);
    strcpy(out, it->valuestring);
    return VT_OK;
}

/* keep_tail_tokens (verto's head + tail truncation) or HF's truncation_side. */
static vt_status get_truncation(const cJSON *root, const char *file, int32_t *keep_tail) {
    const cJSON *k = cJSON_GetObjectItemCaseSensitive(root, "keep_tail_tokens");
    if (k && !cJSON_IsNull(k)) {
        if (!cJSON_IsNumber(k) || !(k->valuedouble >= 0) || k->valuedouble != (double)(int64_t)k->valuedouble)
            return vt_error(VT_ERR_FORMAT, "%s: \"keep_tail_tokens\" must be a non-negative integer", file);
        *keep_tail = k->valuedouble > INT32_MAX ? INT32_MAX : (int32_t)k->valuedouble;
        return VT_OK;
    }
    const cJSON *side = cJSON_GetObjectItemCaseSensitive(root, "truncation_side");
    if (!side || cJSON_IsNull(side)) return VT_OK;
    if (cJSON_IsString(side) && !strcmp(side->valuestring, "right")) *keep_tail = 0;
    else if (cJSON_IsString(side) && !strcmp(side->valuestring, "left")) *keep_tail = INT32_MAX;
    else return vt_error(VT_ERR_FORMAT, "%s: \"truncation_side\" must be \"right\" or \"left\"", file);
    return VT_OK;
}

static vt_status get_bool(const cJSON *root, const char *key, const char *file, bool *out, bool *is_null) {
    const cJSON *it = cJSON_GetObjectItemCaseSensitive(root, key);
    if (is_null) *is_null = false;
    if (!it) return VT_OK;
    if (cJSON_IsBool(it)) *out = cJSON_IsTrue(it);
    else if (is_null && cJSON_IsNull(it)) *is_null = true;
    else return vt_error(VT_ERR_FORMAT, "%s: \"%s\" must be true or false%s", file, key, is_null ? " or null" : "");
    return VT_OK;
}

vt_status vt_tok_options_from_config(const char *path, vt_tok_options *o) {
    vt_tok_options_default(o);
    if (!path) return vt_error(VT_ERR_INVALID_ARG, "tokenizer config: NULL path");
    struct stat sb;
    size_t plen = strlen(path);
    char *file = malloc(plen + 24);
    if (!file) return vt_error(VT_ERR_NOMEM, "tokenizer config: out of memory");
    if (stat(path, &sb) == 0 && S_ISDIR(sb.st_mode)) {
        snprintf(file, plen + 24, "%s/tokenizer_config.json", path);
    } else { /* a file: look beside it */
        const char *slash = strrchr(path, '/');
        int dlen = slash ? (int)(slash - path) : 1;
        snprintf(file, plen + 24, "%.*s/tokenizer_config.json", dlen, slash ? path : ".");
    }
    if (stat(file, &sb) != 0) {
        free(file);
        return VT_OK;
    }
    char *data = NULL;
    size_t len = 0;
    vt_status st = vt_read_file(file, CONFIG_MAX_BYTES, &data, &len);
    if (st != VT_OK) {
        free(file);
        return st;
    }
    cJSON *root = cJSON_ParseWithLength(data, len);
    free(data);
    if (!cJSON_IsObject(root)) {
        cJSON_Delete(root);
        st = vt_error(VT_ERR_FORMAT, "%s: not a JSON object", file);
        free(file);
        return st;
    }
    bool strip = false, strip_null = false;
    if ((st = get_bool(root, "do_lower_case", file, &o->lowercase, NULL)) == VT_OK &&
        (st = get_bool(root, "tokenize_chinese_chars", file, &o->tokenize_chinese_chars, NULL)) == VT_OK &&
        (st = get_bool(root, "strip_accents", file, &strip, &strip_null)) == VT_OK) {
        if (cJSON_GetObjectItemCaseSensitive(root, "strip_accents") && !strip_null) o->strip_accents = strip;
        const cJSON *m = cJSON_GetObjectItemCaseSensitive(root, "model_max_length");
        if (m && !cJSON_IsNull(m)) {
            if (!cJSON_IsNumber(m) || !(m->valuedouble >= 1))
                st = vt_error(VT_ERR_FORMAT, "%s: \"model_max_length\" must be a positive number", file);
            else
                o->model_max_length = m->valuedouble > INT32_MAX ? INT32_MAX : (int32_t)m->valuedouble;
        }
        if (st == VT_OK) st = get_truncation(root, file, &o->keep_tail);
        if (st == VT_OK) st = get_token_name(root, "pad_token", file, o->pad_token);
        if (st == VT_OK) st = get_token_name(root, "mask_token", file, o->mask_token);
        const cJSON *w = cJSON_GetObjectItemCaseSensitive(root, "max_windows");
        if (st == VT_OK && w && !cJSON_IsNull(w)) {
            if (!cJSON_IsNumber(w) || !(w->valuedouble >= 1 && w->valuedouble <= VT_TOK_MAX_WINDOWS) ||
                w->valuedouble != (double)(int32_t)w->valuedouble)
                st = vt_error(VT_ERR_FORMAT, "%s: \"max_windows\" must be an integer from 1 to %d", file,
                              VT_TOK_MAX_WINDOWS);
            else
                o->max_windows = (int32_t)w->valuedouble;
        }
    }
    cJSON_Delete(root);
    free(file);
    return st;
}
