/* PEFT LoRA adapter directories for GPT-2 (see verto/gpt2_lora.h):
 * adapter_config.json + adapter_model.safetensors, read, written, and merged
 * into the base weights. */
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/json.h"
#include "gpt2/gpt2_internal.h"
#include "verto/fileio.h"
#include "verto/safetensors.h"

#define MAX_CONFIG_BYTES (1u << 20)
#define KEY_PREFIX "base_model.model."

static char *join(const char *dir, const char *name) {
    size_t n = strlen(dir) + strlen(name) + 2;
    char *p = malloc(n);
    if (p) snprintf(p, n, "%s/%s", dir, name);
    return p;
}

/* ---- writing ---------------------------------------------------------------- */

static cJSON *target_list(unsigned targets) {
    cJSON *list = cJSON_CreateArray();
    /* the short names PEFT users write, when they cover exactly the targeted modules */
    unsigned both_proj = VT_GPT2_LORA_ATTN_C_PROJ | VT_GPT2_LORA_MLP_C_PROJ;
    if (targets & VT_GPT2_LORA_C_ATTN) cJSON_AddItemToArray(list, cJSON_CreateString("c_attn"));
    if ((targets & both_proj) == both_proj) cJSON_AddItemToArray(list, cJSON_CreateString("c_proj"));
    else if (targets & VT_GPT2_LORA_ATTN_C_PROJ) cJSON_AddItemToArray(list, cJSON_CreateString("attn.c_proj"));
    else if (targets & VT_GPT2_LORA_MLP_C_PROJ) cJSON_AddItemToArray(list, cJSON_CreateString("mlp.c_proj"));
    if (targets & VT_GPT2_LORA_C_FC) cJSON_AddItemToArray(list, cJSON_CreateString("c_fc"));
    return list;
}

static char *config_json(const vt_gpt2_lora_config *c, const char *base_model) {
    cJSON *o = cJSON_CreateObject();
    cJSON_AddItemToObject(o, "alpha_pattern", cJSON_CreateObject());
    cJSON_AddItemToObject(o, "base_model_name_or_path", base_model ? cJSON_CreateString(base_model) : cJSON_CreateNull());
    cJSON_AddStringToObject(o, "bias", "none");
    cJSON_AddBoolToObject(o, "fan_in_fan_out", true);
    cJSON_AddBoolToObject(o, "inference_mode", true);
    cJSON_AddBoolToObject(o, "init_lora_weights", true);
    cJSON_AddNullToObject(o, "layers_pattern");
    cJSON_AddNullToObject(o, "layers_to_transform");
    cJSON_AddNumberToObject(o, "lora_alpha", c->alpha);
    cJSON_AddNumberToObject(o, "lora_dropout", c->dropout);
    cJSON_AddNullToObject(o, "modules_to_save");
    cJSON_AddStringToObject(o, "peft_type", "LORA");
    cJSON_AddNumberToObject(o, "r", (double)c->rank);
    cJSON_AddItemToObject(o, "rank_pattern", cJSON_CreateObject());
    cJSON_AddNullToObject(o, "revision");
    cJSON_AddItemToObject(o, "target_modules", target_list(c->targets));
    cJSON_AddStringToObject(o, "task_type", "CAUSAL_LM");
    cJSON_AddBoolToObject(o, "use_dora", false);
    cJSON_AddBoolToObject(o, "use_rslora", false);
    char *text = cJSON_Print(o);
    cJSON_Delete(o);
    return text;
}

vt_status vt_gpt2_lora_save(const vt_gpt2 *m, const char *dir, const char *base_model) {
    if (!m || !dir) return vt_error(VT_ERR_INVALID_ARG, "vt_gpt2_lora_save: no model or directory given");
    const gpt2_lora *a = m->lora;
    if (!a) return vt_error(VT_ERR_STATE, "vt_gpt2_lora_save: the model has no adapter");
    vt_status st = vt_mkdir_p(dir);
    if (st != VT_OK) return st;
    size_t n = a->n_infos;
    vt_st_entry *entries = calloc(n, sizeof *entries);
    char (*names)[96] = calloc(n, sizeof *names);
    int64_t (*shapes)[2] = calloc(n, sizeof *shapes);
    char *st_path = join(dir, "adapter_model.safetensors"), *cfg_path = join(dir, "adapter_config.json");
    char *text = config_json(&a->cfg, base_model);
    if (!entries || !names || !shapes || !st_path || !cfg_path || !text) {
        st = vt_error(VT_ERR_NOMEM, "out of memory saving the adapter to %s", dir);
        goto done;
    }
    for (size_t i = 0; i < n; i++) {
        const vt_param_info *p = &a->infos[i];
        snprintf(names[i], sizeof names[i], KEY_PREFIX "%s", p->name);
        bool is_b = i % 2; /* A (r, in), B (out, r) */
        shapes[i][0] = is_b ? p->numel / a->cfg.rank : a->cfg.rank;
        shapes[i][1] = is_b ? a->cfg.rank : p->numel / a->cfg.rank;
        entries[i] = (vt_st_entry){.name = names[i], .dtype = VT_ST_F32, .ndim = 2, .shape = shapes[i],
                                   .data = a->params + p->offset};
    }
    static const char *const meta[] = {"format", "pt"};
    if ((st = vt_st_write(st_path, entries, n, meta, 1)) == VT_OK) st = vt_write_file_atomic(cfg_path, text, strlen(text));
done:
    free(entries);
    free(names);
    free(shapes);
    free(st_path);
    free(cfg_path);
    free(text);
    return st;
}

/* ---- reading ---------------------------------------------------------------- */

/* target_modules: a list of names, or one name (PEFT takes a string as a
 * regex over the full name: only a plain module name is accepted here). */
static vt_status read_targets(const cJSON *t, const char *path, unsigned *targets) {
    *targets = 0;
    if (cJSON_IsString(t)) {
        if (strpbrk(t->valuestring, "*.^$()[]|+?\\"))
            return vt_error(VT_ERR_UNSUPPORTED, "%s: target_modules \"%s\" is a regular expression; verto reads a list of "
                            "module names", path, t->valuestring);
        vt_status st = vt_gpt2_lora_parse_targets(t->valuestring, targets);
        return st == VT_OK ? VT_OK : vt_error(st, "%s: target_modules: %s", path, vt_last_error());
    }
    if (!cJSON_IsArray(t) || !cJSON_GetArraySize(t))
        return vt_error(VT_ERR_FORMAT, "%s: target_modules must be a non-empty list of module names", path);
    const cJSON *e;
    cJSON_ArrayForEach(e, t) {
        unsigned bits;
        if (!cJSON_IsString(e) || strchr(e->valuestring, ','))
            return vt_error(VT_ERR_FORMAT, "%s: target_modules holds something other than a module name", path);
        vt_status st = vt_gpt2_lora_parse_targets(e->valuestring, &bits);
        if (st != VT_OK) return vt_error(st, "%s: target_modules: %s", path, vt_last_error());
        *targets |= bits;
    }
    return VT_OK;
}

static bool is_null_or_false(const cJSON *v) { return !v || cJSON_IsNull(v) || cJSON_IsFalse(v); }
static bool is_empty_object(const cJSON *v) { return !v || cJSON_IsNull(v) || (cJSON_IsObject(v) && !v->child); }

vt_status gpt2_lora_parse_config(const char *text, size_t len, const char *path, vt_gpt2_lora_config *c) {
    const char *why;
    size_t at;
    cJSON *o = vt_json_parse(text, len, &why, &at);
    if (!o) return vt_error(VT_ERR_FORMAT, "%s: byte %zu: %s", path, at, why);
    vt_status st = VT_OK;
    const cJSON *type = cJSON_GetObjectItemCaseSensitive(o, "peft_type");
    const cJSON *r = cJSON_GetObjectItemCaseSensitive(o, "r");
    const cJSON *alpha = cJSON_GetObjectItemCaseSensitive(o, "lora_alpha");
    const cJSON *drop = cJSON_GetObjectItemCaseSensitive(o, "lora_dropout");
    const cJSON *bias = cJSON_GetObjectItemCaseSensitive(o, "bias");
    const char *unsupported = NULL;
    static const char *const off[] = {"use_rslora", "use_dora", "layers_to_transform", "modules_to_save"};
    for (size_t i = 0; i < sizeof off / sizeof *off; i++)
        if (!is_null_or_false(cJSON_GetObjectItemCaseSensitive(o, off[i]))) unsupported = off[i];
    static const char *const patterns[] = {"rank_pattern", "alpha_pattern"};
    for (size_t i = 0; i < 2; i++)
        if (!is_empty_object(cJSON_GetObjectItemCaseSensitive(o, patterns[i]))) unsupported = patterns[i];
    if (!cJSON_IsObject(o) || !cJSON_IsString(type) || strcmp(type->valuestring, "LORA"))
        st = vt_error(VT_ERR_FORMAT, "%s: peft_type must be \"LORA\"", path);
    else if (!cJSON_IsNumber(r) || r->valuedouble != (double)(int64_t)r->valuedouble || r->valuedouble < 1 ||
             r->valuedouble > 65536)
        st = vt_error(VT_ERR_FORMAT, "%s: r must be an integer in [1, 65536]", path);
    else if (!cJSON_IsNumber(alpha)) st = vt_error(VT_ERR_FORMAT, "%s: lora_alpha must be a number", path);
    else if (!(fabs(alpha->valuedouble) <= FLT_MAX)) /* (a float; larger would be infinite) */
        st = vt_error(VT_ERR_FORMAT, "%s: lora_alpha %g is out of range", path, alpha->valuedouble);
    else if (drop && !cJSON_IsNumber(drop)) st = vt_error(VT_ERR_FORMAT, "%s: lora_dropout must be a number", path);
    else if (drop && !(drop->valuedouble >= 0 && drop->valuedouble < 1))
        st = vt_error(VT_ERR_FORMAT, "%s: lora_dropout %g is not in [0, 1)", path, drop->valuedouble);
    else if (bias && !(cJSON_IsString(bias) && !strcmp(bias->valuestring, "none")))
        st = vt_error(VT_ERR_UNSUPPORTED, "%s: bias must be \"none\" (trained biases are not supported)", path);
    else if (unsupported)
        st = vt_error(VT_ERR_UNSUPPORTED, "%s: %s is set; verto reads plain LoRA adapters", path, unsupported);
    else {
        *c = (vt_gpt2_lora_config){.rank = (int64_t)r->valuedouble, .alpha = (float)alpha->valuedouble,
                                   .dropout = drop ? (float)drop->valuedouble : 0};
        st = read_targets(cJSON_GetObjectItemCaseSensitive(o, "target_modules"), path, &c->targets);
    }
    cJSON_Delete(o);
    return st;
}

/* Reads every expected tensor of the layout of lora infos into params. */
static vt_status read_tensors(const vt_gpt2 *m, const vt_gpt2_lora_config *c, const vt_param_info *infos, size_t n,
                              const vt_st_file *f, const char *path, float *params) {
    for (size_t i = 0; i < n; i++) {
        char key[160];
        snprintf(key, sizeof key, KEY_PREFIX "%s", infos[i].name);
        const vt_st_tensor *t = vt_st_find(f, key);
        if (!t) return vt_error(VT_ERR_FORMAT, "%s: tensor \"%s\" is missing (adapter_config.json targets its module)",
                                path, key);
        int64_t dim = infos[i].numel / c->rank, want0 = i % 2 ? dim : c->rank, want1 = i % 2 ? c->rank : dim;
        if (t->ndim != 2 || t->shape[0] != want0 || t->shape[1] != want1)
            return vt_error(VT_ERR_SHAPE, "%s: tensor \"%s\" has shape [%lld%s%lld] but r %lld and the model give [%lld, "
                            "%lld]", path, key, t->ndim > 0 ? (long long)t->shape[0] : 0LL, t->ndim == 2 ? ", " : "?",
                            t->ndim > 1 ? (long long)t->shape[1] : 0LL, (long long)c->rank, (long long)want0,
                            (long long)want1);
        if (t->dtype != VT_ST_F32 && t->dtype != VT_ST_F16 && t->dtype != VT_ST_BF16 && t->dtype != VT_ST_F64)
            return vt_error(VT_ERR_FORMAT, "%s: tensor \"%s\" has dtype %s, not a float", path, key,
                            vt_st_dtype_name(t->dtype));
        vt_status st = vt_st_to_f32(t, params + infos[i].offset);
        if (st != VT_OK) return vt_error(st, "%s: %s", path, vt_last_error());
    }
    if (vt_st_count(f) != n) /* something the config does not target, or a layer the model lacks */
        for (size_t i = 0; i < vt_st_count(f); i++) {
            const char *name = vt_st_at(f, i)->name;
            bool known = false;
            for (size_t j = 0; j < n && !known; j++)
                known = !strncmp(name, KEY_PREFIX, strlen(KEY_PREFIX)) && !strcmp(name + strlen(KEY_PREFIX), infos[j].name);
            if (!known)
                return vt_error(VT_ERR_FORMAT, "%s: tensor \"%.200s\" is not a LoRA weight of this adapter's targets on a "
                                "%lld-layer GPT-2", path, name, (long long)m->cfg.n_layer);
        }
    return VT_OK;
}

vt_status vt_gpt2_lora_load(vt_gpt2 *m, const char *dir) {
    if (!m || !dir) return vt_error(VT_ERR_INVALID_ARG, "vt_gpt2_lora_load: no model or directory given");
    char *cfg_path = join(dir, "adapter_config.json"), *st_path = join(dir, "adapter_model.safetensors"), *text = NULL;
    size_t len = 0;
    vt_st_file *f = NULL;
    vt_gpt2_lora_config c;
    vt_status st = !cfg_path || !st_path ? vt_error(VT_ERR_NOMEM, "out of memory loading %s", dir) : VT_OK;
    if (st == VT_OK) st = vt_read_file(cfg_path, MAX_CONFIG_BYTES, &text, &len);
    if (st == VT_OK) st = gpt2_lora_parse_config(text, len, cfg_path, &c);
    if (st == VT_OK && !(f = vt_st_open(st_path))) st = vt_last_status();
    if (st == VT_OK) {
        /* lay the adapter out beside the model's, read into it, then swap it in */
        gpt2_lora *old = m->lora;
        m->lora = NULL;
        st = gpt2_lora_install(m, &c, NULL);
        gpt2_lora *fresh = m->lora;
        if (st == VT_OK) st = read_tensors(m, &c, fresh->infos, fresh->n_infos, f, st_path, fresh->params);
        if (st == VT_OK) gpt2_lora_free(old);
        else {
            gpt2_lora_free(fresh);
            m->lora = old;
        }
        m->planned = false;
    }
    vt_st_close(f);
    free(text);
    free(cfg_path);
    free(st_path);
    return st;
}

/* ---- merging ---------------------------------------------------------------- */

/* The base weight (out, in) of slot k in block l. */
static float *base_weight(vt_gpt2 *m, int64_t l, int k) {
    gpt2_layer_params *p = &m->w.layers[l];
    return k == 0 ? p->qkv_w : k == 1 ? p->proj_w : k == 2 ? p->fc_w : p->out_w;
}

vt_status vt_gpt2_lora_merge(vt_gpt2 *m) {
    if (!m || !m->lora) return vt_error(VT_ERR_STATE, "vt_gpt2_lora_merge: the model has no adapter");
    gpt2_lora *a = m->lora;
    int64_t r = a->cfg.rank;
    for (int64_t s = 0; s < m->cfg.n_layer * GPT2_LORA_SLOTS; s++) {
        const blk_lora *b = &a->slots[s];
        if (!b->A) continue;
        int64_t in, out;
        gpt2_lora_dims(m, (int)(s % GPT2_LORA_SLOTS), &in, &out);
        float *W = base_weight(m, s / GPT2_LORA_SLOTS, (int)(s % GPT2_LORA_SLOTS));
        /* W (out, in) += scale * B (out, r) A (r, in): as PEFT, delta computed first, then added */
#pragma omp parallel for schedule(static)
        for (int64_t o = 0; o < out; o++)
            for (int64_t i = 0; i < in; i++) {
                float d = 0;
                for (int64_t j = 0; j < r; j++) d += b->B[o * r + j] * b->A[j * in + i];
                W[o * in + i] += d * b->scale;
            }
    }
    m->params16_fresh = false;
    vt_gpt2_lora_remove(m);
    return VT_OK;
}
