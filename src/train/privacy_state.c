/* The accountant's state as a small JSON object, for checkpoints and --resume:
 *   {"accountant": "rdp", "history": [{"noise_multiplier": S, "sample_rate": q, "steps": N}, ...]}
 * Read strictly: every error names the file and the field. */
#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/json.h"
#include "core/strbuf.h"
#include "train/privacy_internal.h"
#include "verto/fileio.h"

#define MAX_STATE_BYTES (64u << 20)

char *vt_privacy_accountant_to_json(const vt_privacy_accountant *acc) {
    if (!acc) {
        vt_error(VT_ERR_INVALID_ARG, "vt_privacy_accountant_to_json: NULL accountant");
        return NULL;
    }
    vt_sb b = {0};
    vt_sb_str(&b, "{\"accountant\": \"rdp\", \"history\": [");
    for (int32_t i = 0; i < acc->n; i++) {
        const vt_privacy_entry *e = &acc->history[i];
        vt_sb_printf(&b, "%s{\"noise_multiplier\": %.17g, \"sample_rate\": %.17g, \"steps\": %lld}", i ? ", " : "",
                     e->noise_multiplier, e->sample_rate, (long long)e->steps);
    }
    vt_sb_str(&b, "]}\n");
    char *s = vt_sb_take(&b, NULL);
    if (!s) vt_error(VT_ERR_NOMEM, "privacy accountant state: out of memory");
    return s;
}

/* Only the keys in `allowed` (NULL-terminated), none twice, each present. */
static vt_status check_keys(const cJSON *obj, const char *const *allowed, const char *name, const char *where) {
    const char *twice = vt_json_repeated_key(obj);
    if (twice) return vt_error(VT_ERR_FORMAT, "%s: %s: key \"%s\" appears twice", name, where, twice);
    for (const cJSON *m = obj->child; m; m = m->next) {
        bool known = false;
        for (const char *const *k = allowed; *k && !known; k++) known = !strcmp(m->string, *k);
        if (!known) return vt_error(VT_ERR_FORMAT, "%s: %s: unknown key \"%s\"", name, where, m->string);
    }
    for (const char *const *k = allowed; *k; k++)
        if (!cJSON_GetObjectItemCaseSensitive(obj, *k))
            return vt_error(VT_ERR_FORMAT, "%s: %s: missing key \"%s\"", name, where, *k);
    return VT_OK;
}

static vt_status read_number(const cJSON *obj, const char *key, const char *name, const char *where, double *out) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
    if (!cJSON_IsNumber(v)) return vt_error(VT_ERR_FORMAT, "%s: %s.%s must be a number", name, where, key);
    *out = v->valuedouble;
    return VT_OK;
}

static vt_status read_entry(const cJSON *item, const char *name, const char *where, vt_privacy_entry *e) {
    static const char *const KEYS[] = {"noise_multiplier", "sample_rate", "steps", NULL};
    if (!cJSON_IsObject(item)) return vt_error(VT_ERR_FORMAT, "%s: %s must be an object", name, where);
    vt_status st = check_keys(item, KEYS, name, where);
    double steps = 0;
    if (st == VT_OK) st = read_number(item, "noise_multiplier", name, where, &e->noise_multiplier);
    if (st == VT_OK) st = read_number(item, "sample_rate", name, where, &e->sample_rate);
    if (st == VT_OK) st = read_number(item, "steps", name, where, &steps);
    if (st != VT_OK) return st;
    if (!(e->noise_multiplier >= 0 && isfinite(e->noise_multiplier)))
        return vt_error(VT_ERR_FORMAT, "%s: %s.noise_multiplier %.17g is not a finite number >= 0", name, where,
                        e->noise_multiplier);
    if (!(e->sample_rate >= 0 && e->sample_rate <= 1))
        return vt_error(VT_ERR_FORMAT, "%s: %s.sample_rate %.17g is not in [0, 1]", name, where, e->sample_rate);
    if (!(steps >= 1 && steps <= (double)VT_PRIVACY_MAX_STEPS && steps == floor(steps)))
        return vt_error(VT_ERR_FORMAT, "%s: %s.steps %.17g is not an integer in [1, 2^53]", name, where, steps);
    e->steps = (int64_t)steps;
    return VT_OK;
}

static vt_status read_state(const cJSON *root, const char *name, vt_privacy_accountant *acc) {
    static const char *const KEYS[] = {"accountant", "history", NULL};
    if (!cJSON_IsObject(root)) return vt_error(VT_ERR_FORMAT, "%s: the accountant state must be a JSON object", name);
    vt_status st = check_keys(root, KEYS, name, "state");
    if (st != VT_OK) return st;
    const cJSON *kind = cJSON_GetObjectItemCaseSensitive(root, "accountant");
    if (!cJSON_IsString(kind) || strcmp(kind->valuestring, "rdp"))
        return vt_error(VT_ERR_FORMAT, "%s: accountant must be \"rdp\" (the only one verto keeps)", name);
    const cJSON *history = cJSON_GetObjectItemCaseSensitive(root, "history");
    if (!cJSON_IsArray(history)) return vt_error(VT_ERR_FORMAT, "%s: history must be an array", name);
    int64_t total = 0, i = 0;
    for (const cJSON *item = history->child; item; item = item->next, i++) {
        char where[48];
        snprintf(where, sizeof where, "history[%lld]", (long long)i);
        vt_privacy_entry e;
        if ((st = read_entry(item, name, where, &e)) != VT_OK) return st;
        if (e.steps > VT_PRIVACY_MAX_STEPS - total)
            return vt_error(VT_ERR_FORMAT, "%s: %s: more than 2^53 steps in all", name, where);
        total += e.steps;
        if ((st = vt_privacy_append(acc, e)) != VT_OK) return st;
    }
    return VT_OK;
}

vt_privacy_accountant *vt_privacy_accountant_from_json(const char *text, size_t n, const char *name) {
    if (!name) name = "privacy accountant state";
    if (!text) {
        vt_error(VT_ERR_INVALID_ARG, "%s: no text", name);
        return NULL;
    }
    const char *why = NULL;
    size_t at = 0;
    cJSON *root = vt_json_parse(text, n, &why, &at);
    if (!root) {
        vt_error(VT_ERR_FORMAT, "%s: not JSON (%s at byte %zu)", name, why, at);
        return NULL;
    }
    vt_privacy_accountant *acc = vt_privacy_accountant_new();
    if (acc && read_state(root, name, acc) != VT_OK) {
        vt_privacy_accountant_free(acc);
        acc = NULL;
    }
    cJSON_Delete(root);
    return acc;
}

vt_status vt_privacy_accountant_save(const vt_privacy_accountant *acc, const char *path) {
    if (!path) return vt_error(VT_ERR_INVALID_ARG, "vt_privacy_accountant_save: NULL path");
    char *s = vt_privacy_accountant_to_json(acc);
    if (!s) return vt_last_status();
    vt_status st = vt_write_file_atomic(path, s, strlen(s));
    free(s);
    return st;
}

vt_privacy_accountant *vt_privacy_accountant_load(const char *path) {
    if (!path) {
        vt_error(VT_ERR_INVALID_ARG, "vt_privacy_accountant_load: NULL path");
        return NULL;
    }
    char *text = NULL;
    size_t len = 0;
    if (vt_read_file(path, MAX_STATE_BYTES, &text, &len) != VT_OK) return NULL;
    vt_privacy_accountant *acc = vt_privacy_accountant_from_json(text, len, path);
    free(text);
    return acc;
}
