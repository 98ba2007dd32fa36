/* GPT2Config: defaults, named sizes, checks, and config.json read strictly
 * (types and ranges; unknown keys accepted) and written as save_pretrained
 * writes it (keys sorted, floats as Python's repr). */
#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>

#include "core/json.h"
#include "core/json_keys.h"
#include "core/strbuf.h"
#include "gpt2/gpt2_internal.h"
#include "verto/fileio.h"

#define MAX_CONFIG_BYTES (64u << 20)

int64_t vt_gpt2_inner(const vt_gpt2_config *c) { return c->n_inner > 0 ? c->n_inner : 4 * c->n_embd; }

void vt_gpt2_config_default(vt_gpt2_config *c) {
    *c = (vt_gpt2_config){.vocab_size = 50257, .n_positions = 1024, .n_embd = 768, .n_layer = 12, .n_head = 12,
                          .n_inner = 0, .activation = VT_ACT_GELU_TANH, .layer_norm_epsilon = 1e-5f,
                          .resid_pdrop = 0.1f, .embd_pdrop = 0.1f, .attn_pdrop = 0.1f, .initializer_range = 0.02f,
                          .bos_token_id = 50256, .eos_token_id = 50256, .pad_token_id = -1};
}

vt_status vt_gpt2_config_preset(vt_gpt2_config *c, const char *name, int64_t vocab_size) {
    static const struct {
        const char *name;
        int64_t layers, width, heads, positions;
    } SIZES[] = {{"gpt2-tiny", 2, 128, 2, 512}, {"gpt2-mini", 4, 256, 4, 512}, {"gpt2-small", 12, 768, 12, 1024}};
    for (size_t i = 0; name && i < sizeof SIZES / sizeof *SIZES; i++) {
        if (strcmp(name, SIZES[i].name)) continue;
        vt_gpt2_config_default(c);
        c->n_layer = SIZES[i].layers;
        c->n_embd = SIZES[i].width;
        c->n_head = SIZES[i].heads;
        c->n_positions = SIZES[i].positions;
        if (vocab_size > 0) {
            c->vocab_size = vocab_size;
            c->bos_token_id = c->eos_token_id = vocab_size - 1;
        }
        return vt_gpt2_config_check(c, name);
    }
    return vt_error(VT_ERR_INVALID_ARG, "unknown GPT-2 size \"%s\" (verto has gpt2-tiny, gpt2-mini, gpt2-small)",
                    name ? name : "(null)");
}

static vt_status check_token(const char *label, const char *key, int64_t id, int64_t vocab) {
    if (id < -1 || id >= vocab)
        return vt_error(VT_ERR_INVALID_ARG, "%s: %s %lld is outside the vocabulary [0, %lld)", label, key,
                        (long long)id, (long long)vocab);
    return VT_OK;
}

vt_status vt_gpt2_config_check(const vt_gpt2_config *c, const char *label) {
    if (!label) label = "config";
    struct {
        const char *key;
        int64_t v, hi;
    } sizes[] = {{"vocab_size", c->vocab_size, GPT2_MAX_VOCAB}, {"n_positions", c->n_positions, GPT2_MAX_POSITIONS},
                 {"n_embd", c->n_embd, GPT2_MAX_WIDTH}, {"n_layer", c->n_layer, GPT2_MAX_LAYERS},
                 {"n_head", c->n_head, GPT2_MAX_WIDTH}};
    for (size_t i = 0; i < sizeof sizes / sizeof *sizes; i++)
        if (sizes[i].v < 1 || sizes[i].v > sizes[i].hi)
            return vt_error(VT_ERR_INVALID_ARG, "%s: %s must be in [1, %lld] (got %lld)", label, sizes[i].key,
                            (long long)sizes[i].hi, (long long)sizes[i].v);
    if (c->n_inner < 0 || c->n_inner > GPT2_MAX_INNER)
        return vt_error(VT_ERR_INVALID_ARG, "%s: n_inner must be null or in [1, %lld] (got %lld)", label,
                        (long long)GPT2_MAX_INNER, (long long)c->n_inner);
    if (c->n_embd % c->n_head)
        return vt_error(VT_ERR_INVALID_ARG, "%s: n_embd %lld is not divisible by n_head %lld", label,
                        (long long)c->n_embd, (long long)c->n_head);
    if (c->activation != VT_ACT_GELU_TANH && c->activation != VT_ACT_GELU && c->activation != VT_ACT_RELU)
        return vt_error(VT_ERR_INVALID_ARG, "%s: activation_function must be gelu_new, gelu or relu", label);
    float drops[] = {c->resid_pdrop, c->embd_pdrop, c->attn_pdrop};
    for (int i = 0; i < 3; i++)
        if (!(drops[i] >= 0 && drops[i] < 1))
            return vt_error(VT_ERR_INVALID_ARG, "%s: dropout probabilities must be in [0, 1)", label);
    if (!(c->layer_norm_epsilon > 0))
        return vt_error(VT_ERR_INVALID_ARG, "%s: layer_norm_epsilon must be positive", label);
    vt_status st;
    if ((st = check_token(label, "bos_token_id", c->bos_token_id, c->vocab_size)) != VT_OK ||
        (st = check_token(label, "eos_token_id", c->eos_token_id, c->vocab_size)) != VT_OK ||
        (st = check_token(label, "pad_token_id", c->pad_token_id, c->vocab_size)) != VT_OK)
        return st;
    return VT_OK;
}

static const cJSON *get(const cJSON *obj, const char *key) { return cJSON_GetObjectItemCaseSensitive(obj, key); }

/* A boolean key whose value verto does not compute other than `want`. */
static vt_status require_bool(const char *label, const cJSON *root, const char *key, bool want, const char *why) {
    bool v = want;
    vt_status st = json_key_bool(label, root, key, &v);
    if (st != VT_OK) return st;
    if (v != want) return vt_error(VT_ERR_UNSUPPORTED, "%s: %s %s is not supported (%s)", label, key,
                                   v ? "true" : "false", why);
    return VT_OK;
}

static vt_status read_keys(const char *label, const cJSON *root, vt_gpt2_config *c) {
    vt_status st;
    const char *model_type = NULL;
    if ((st = json_key_string(label, root, "model_type", false, &model_type)) != VT_OK) return st;
    if (!model_type) return vt_error(VT_ERR_FORMAT, "%s: key \"model_type\" is missing (a GPT-2 config has \"gpt2\")", label);
    if (strcmp(model_type, "gpt2"))
        return vt_error(VT_ERR_UNSUPPORTED, "%s: model_type \"%s\" is not a GPT-2 (\"gpt2\")", label, model_type);
    if ((st = json_key_int(label, root, "vocab_size", 1, GPT2_MAX_VOCAB, false, 0, &c->vocab_size)) != VT_OK ||
        (st = json_key_int(label, root, "n_positions", 1, GPT2_MAX_POSITIONS, false, 0, &c->n_positions)) != VT_OK ||
        (st = json_key_int(label, root, "n_embd", 1, GPT2_MAX_WIDTH, false, 0, &c->n_embd)) != VT_OK ||
        (st = json_key_int(label, root, "n_layer", 1, GPT2_MAX_LAYERS, false, 0, &c->n_layer)) != VT_OK ||
        (st = json_key_int(label, root, "n_head", 1, GPT2_MAX_WIDTH, false, 0, &c->n_head)) != VT_OK ||
        (st = json_key_int(label, root, "n_inner", 1, GPT2_MAX_INNER, true, 0, &c->n_inner)) != VT_OK ||
        (st = json_key_int(label, root, "bos_token_id", 0, GPT2_MAX_VOCAB, true, -1, &c->bos_token_id)) != VT_OK ||
        (st = json_key_int(label, root, "eos_token_id", 0, GPT2_MAX_VOCAB, true, -1, &c->eos_token_id)) != VT_OK ||
        (st = json_key_int(label, root, "pad_token_id", 0, GPT2_MAX_VOCAB, true, -1, &c->pad_token_id)) != VT_OK)
        return st;
    if ((st = json_key_float(label, root, "layer_norm_epsilon", 0, true, 1, false, &c->layer_norm_epsilon)) != VT_OK ||
        (st = json_key_float(label, root, "resid_pdrop", 0, false, 1, true, &c->resid_pdrop)) != VT_OK ||
        (st = json_key_float(label, root, "embd_pdrop", 0, false, 1, true, &c->embd_pdrop)) != VT_OK ||
        (st = json_key_float(label, root, "attn_pdrop", 0, false, 1, true, &c->attn_pdrop)) != VT_OK ||
        (st = json_key_float(label, root, "initializer_range", 0, false, 10, false, &c->initializer_range)) != VT_OK)
        return st;
    const char *act = "gelu_new";
    if ((st = json_key_string(label, root, "activation_function", false, &act)) != VT_OK) return st;
    if (!vt_activation_parse(act, &c->activation) ||
        (c->activation != VT_ACT_GELU_TANH && c->activation != VT_ACT_GELU && c->activation != VT_ACT_RELU))
        return vt_error(VT_ERR_UNSUPPORTED,
                        "%s: activation_function \"%s\" is not supported (verto has gelu_new, gelu and relu)", label,
                        act);
    if ((st = require_bool(label, root, "tie_word_embeddings", true, "verto's lm_head is wte")) != VT_OK ||
        (st = require_bool(label, root, "scale_attn_weights", true, "scores are always scaled by 1/sqrt(head_dim)")) ||
        (st = require_bool(label, root, "scale_attn_by_inverse_layer_idx", false, "no per-layer score scale")) ||
        (st = require_bool(label, root, "add_cross_attention", false, "a decoder-only model has no cross-attention")))
        return st;
    bool reorder = false; /* upcasting fp16 scores changes nothing in f32 */
    return json_key_bool(label, root, "reorder_and_upcast_attn", &reorder);
}

vt_status gpt2_config_parse_ex(const char *json, size_t len, const char *label, vt_gpt2_config *out) {
    if (!label) label = "config.json";
    if (!out || (!json && len)) return vt_error(VT_ERR_INVALID_ARG, "%s: no JSON text or output given", label);
    const char *why;
    size_t at;
    cJSON *root = vt_json_parse(json ? json : "", len, &why, &at);
    if (!root) return json_syntax_error(label, json ? json : "", at, why);
    vt_status st = VT_OK;
    vt_gpt2_config c;
    vt_gpt2_config_default(&c);
    const char *dup;
    if (!cJSON_IsObject(root))
        st = vt_error(VT_ERR_FORMAT, "%s: expected a JSON object, got %s", label, json_type_name(root));
    else if ((dup = vt_json_repeated_key(root)))
        st = vt_error(VT_ERR_FORMAT, "%s: key \"%s\" appears twice", label, dup);
    else if ((st = read_keys(label, root, &c)) == VT_OK)
        *out = c;
    cJSON_Delete(root);
    return st;
}

vt_status vt_gpt2_config_parse(const char *json, size_t len, const char *label, vt_gpt2_config *c) {
    if (!label) label = "config.json";
    vt_gpt2_config tmp;
    vt_status st = gpt2_config_parse_ex(json, len, label, &tmp);
    if (st == VT_OK && (st = vt_gpt2_config_check(&tmp, label)) != VT_OK) st = vt_error(VT_ERR_FORMAT, "%s", vt_last_error());
    if (st == VT_OK) *c = tmp;
    return st;
}

vt_status vt_gpt2_config_read(const char *path, vt_gpt2_config *c) {
    if (!path) return vt_error(VT_ERR_INVALID_ARG, "vt_gpt2_config_read: no path given");
    char *text = NULL;
    size_t len = 0;
    vt_status st = vt_read_file(path, MAX_CONFIG_BYTES, &text, &len);
    if (st == VT_OK) st = vt_gpt2_config_parse(text, len, path, c);
    free(text);
    return st;
}

bool vt_gpt2_is_config(const char *json, size_t len) {
    if (!json) return false;
    cJSON *root = cJSON_ParseWithLength(json, len);
    const cJSON *t = root ? get(root, "model_type") : NULL;
    bool yes = cJSON_IsString(t) && t->valuestring && !strcmp(t->valuestring, "gpt2");
    cJSON_Delete(root);
    return yes;
}

static const char *act_name(vt_activation a) {
    return a == VT_ACT_GELU ? "gelu" : a == VT_ACT_RELU ? "relu" : "gelu_new";
}

/* `"key": ` at the object's indentation, after a comma unless first. */
static void key(vt_sb *s, const char *k, bool *first) {
    vt_sb_printf(s, "%s\n  \"%s\": ", *first ? "" : ",", k);
    *first = false;
}

static void int_or_null(vt_sb *s, int64_t v, int64_t null_value) {
    if (v == null_value) vt_sb_str(s, "null");
    else vt_sb_printf(s, "%lld", (long long)v);
}

vt_status vt_gpt2_config_write(const char *path, const vt_gpt2_config *c) {
    vt_status st = vt_gpt2_config_check(c, path);
    if (st != VT_OK) return st;
    vt_sb s = {0};
    bool first = true;
    vt_sb_str(&s, "{");
    key(&s, "activation_function", &first), vt_sb_json_string(&s, act_name(c->activation));
    key(&s, "add_cross_attention", &first), vt_sb_str(&s, "false");
    key(&s, "architectures", &first), vt_sb_str(&s, "[\n    \"GPT2LMHeadModel\"\n  ]");
    key(&s, "attn_pdrop", &first), vt_sb_float(&s, c->attn_pdrop);
    key(&s, "bos_token_id", &first), int_or_null(&s, c->bos_token_id, -1);
    key(&s, "dtype", &first), vt_sb_str(&s, "\"float32\"");
    key(&s, "embd_pdrop", &first), vt_sb_float(&s, c->embd_pdrop);
    key(&s, "eos_token_id", &first), int_or_null(&s, c->eos_token_id, -1);
    key(&s, "initializer_range", &first), vt_sb_float(&s, c->initializer_range);
    key(&s, "layer_norm_epsilon", &first), vt_sb_float(&s, c->layer_norm_epsilon);
    key(&s, "model_type", &first), vt_sb_str(&s, "\"gpt2\"");
    key(&s, "n_embd", &first), vt_sb_printf(&s, "%lld", (long long)c->n_embd);
    key(&s, "n_head", &first), vt_sb_printf(&s, "%lld", (long long)c->n_head);
    key(&s, "n_inner", &first), int_or_null(&s, c->n_inner, 0);
    key(&s, "n_layer", &first), vt_sb_printf(&s, "%lld", (long long)c->n_layer);
    key(&s, "n_positions", &first), vt_sb_printf(&s, "%lld", (long long)c->n_positions);
    key(&s, "pad_token_id", &first), int_or_null(&s, c->pad_token_id, -1);
    key(&s, "reorder_and_upcast_attn", &first), vt_sb_str(&s, "false");
    key(&s, "resid_pdrop", &first), vt_sb_float(&s, c->resid_pdrop);
    key(&s, "scale_attn_by_inverse_layer_idx", &first), vt_sb_str(&s, "false");
    key(&s, "scale_attn_weights", &first), vt_sb_str(&s, "true");
    /* GPT2DoubleHeadsModel's keys, at GPT2Config's defaults */
    key(&s, "summary_activation", &first), vt_sb_str(&s, "null");
    key(&s, "summary_first_dropout", &first), vt_sb_str(&s, "0.1");
    key(&s, "summary_proj_to_labels", &first), vt_sb_str(&s, "true");
    key(&s, "summary_type", &first), vt_sb_str(&s, "\"cls_index\"");
    key(&s, "summary_use_proj", &first), vt_sb_str(&s, "true");
    key(&s, "tie_word_embeddings", &first), vt_sb_str(&s, "true");
    key(&s, "use_cache", &first), vt_sb_str(&s, "true");
    key(&s, "vocab_size", &first), vt_sb_printf(&s, "%lld", (long long)c->vocab_size);
    vt_sb_str(&s, "\n}\n");
    size_t len;
    char *text = vt_sb_take(&s, &len);
    if (!text) return vt_error(VT_ERR_NOMEM, "out of memory writing %s", path);
    st = vt_write_file_atomic(path, text, len);
    free(text);
    return st;
}
