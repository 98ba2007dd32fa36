/* BertConfig: Hugging Face's defaults, named presets, config.json read and
 * written as transformers does, and the consistency checks every config
 * passes before a model is built. */
#include <cjson/cJSON.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bert/hf_internal.h"
#include "verto/fileio.h"
#include "core/json.h"

/* Bounds that keep every size product far inside int64 (V*H <= 2^40). */
#define MAX_VOCAB (1ll << 24)
#define MAX_HIDDEN (1ll << 16)
#define MAX_LAYERS 1024ll
#define MAX_INTERMEDIATE (1ll << 20)
#define MAX_POSITIONS (1ll << 20)
#define MAX_TYPES (1ll << 16)
#define MAX_CONFIG_BYTES (64u << 20)

static const char *const ARCH_NAMES[] = {
    [VT_BERT_MODEL] = "BertModel",
    [VT_BERT_FOR_PRETRAINING] = "BertForPreTraining",
    [VT_BERT_FOR_MASKED_LM] = "BertForMaskedLM",
    [VT_BERT_FOR_SEQUENCE_CLASSIFICATION] = "BertForSequenceClassification",
    [VT_BERT_FOR_TOKEN_CLASSIFICATION] = "BertForTokenClassification",
};
#define N_ARCHS (sizeof ARCH_NAMES / sizeof ARCH_NAMES[0])
#define ARCH_LIST "BertModel, BertForPreTraining, BertForMaskedLM, BertForSequenceClassification, BertForTokenClassification"

const char *vt_bert_arch_name(vt_bert_arch arch) {
    return (unsigned)arch < N_ARCHS ? ARCH_NAMES[arch] : "unknown";
}

bool vt_bert_arch_parse(const char *name, vt_bert_arch *out) {
    if (!name) return false;
    for (size_t i = 0; i < N_ARCHS; i++)
        if (!strcmp(name, ARCH_NAMES[i])) {
            if (out) *out = (vt_bert_arch)i;
            return true;
        }
    return false;
}

static bool arch_has_mlm(vt_bert_arch a) { return a == VT_BERT_FOR_PRETRAINING || a == VT_BERT_FOR_MASKED_LM; }

void bert_config_default_labels(vt_bert_config *c) {
    memset(c->id2label, 0, sizeof c->id2label);
    for (int i = 0; i < c->num_labels && i < VT_BERT_MAX_LABELS; i++)
        snprintf(c->id2label[i], VT_BERT_LABEL_MAX, "LABEL_%d", i);
}

void vt_bert_config_default(vt_bert_config *c, vt_bert_arch arch) {
    if (!c) return;
    memset(c, 0, sizeof *c);
    c->vocab_size = 30522;
    c->hidden_size = 768;
    c->num_hidden_layers = 12;
    c->num_attention_heads = 12;
    c->intermediate_size = 3072;
    c->max_position_embeddings = 512;
    c->type_vocab_size = 2;
    c->pad_token_id = 0;
    c->hidden_act = VT_ACT_GELU;
    c->layer_norm_eps = 1e-12f;
    c->hidden_dropout_prob = 0.1f;
    c->attention_probs_dropout_prob = 0.1f;
    c->initializer_range = 0.02f;
    c->classifier_dropout = -1.0f;
    c->arch = arch;
    c->num_labels = 2;
    bert_config_default_labels(c);
}

vt_status vt_bert_config_preset(vt_bert_config *c, const char *name, int64_t vocab_size) {
    static const struct {
        const char *name;
        int64_t layers, hidden, heads;
    } presets[] = {
        {"tiny", 2, 128, 2}, {"mini", 4, 256, 4}, {"small", 4, 512, 8}, {"medium", 8, 512, 8}, {"base", 12, 768, 12},
    };
    if (!c) return vt_error(VT_ERR_INVALID_ARG, "vt_bert_config_preset: no config given");
    if (!name) return vt_error(VT_ERR_INVALID_ARG, "vt_bert_config_preset: no preset name given");
    if (vocab_size < 1 || vocab_size > MAX_VOCAB)
        return vt_error(VT_ERR_INVALID_ARG, "BERT preset '%s': vocab_size must be in [1, %lld] (got %lld)", name,
                        MAX_VOCAB, (long long)vocab_size);
    for (size_t i = 0; i < sizeof presets / sizeof presets[0]; i++) {
        if (strcmp(name, presets[i].name)) continue;
        /* Everything else as vt_bert_config_default (BertModel; callers set arch after). */
        vt_bert_config_default(c, VT_BERT_MODEL);
        c->vocab_size = vocab_size;
        c->num_hidden_layers = presets[i].layers;
        c->hidden_size = presets[i].hidden;
        c->num_attention_heads = presets[i].heads;
        c->intermediate_size = 4 * presets[i].hidden;
        return VT_OK;
    }
    return vt_error(VT_ERR_INVALID_ARG, "unknown BERT preset '%s' (expected tiny, mini, small, medium or base)", name);
}

/* ---- checks ---- */

static vt_status check_impl(const vt_bert_config *c, const char *label, vt_status st) {
    if (!label) label = "BERT config";
    if (!c) return vt_error(VT_ERR_INVALID_ARG, "%s: no config given", label);
    if ((unsigned)c->arch >= N_ARCHS) return vt_error(st, "%s: unknown architecture %d", label, (int)c->arch);
#define RANGE(field, lo, hi)                                                                                   \
    if (c->field < (lo) || c->field > (hi))                                                                    \
        return vt_error(st, "%s: " #field " must be in [%lld, %lld] (got %lld)", label, (long long)(lo),        \
                        (long long)(hi), (long long)c->field);
    RANGE(vocab_size, 1, MAX_VOCAB)
    RANGE(hidden_size, 1, MAX_HIDDEN)
    RANGE(num_hidden_layers, 1, MAX_LAYERS)
    RANGE(num_attention_heads, 1, MAX_HIDDEN)
    RANGE(intermediate_size, 1, MAX_INTERMEDIATE)
    RANGE(max_position_embeddings, 1, MAX_POSITIONS)
    RANGE(type_vocab_size, 1, MAX_TYPES)
#undef RANGE
    if (c->hidden_size % c->num_attention_heads)
        return vt_error(st, "%s: hidden_size %lld is not a multiple of num_attention_heads %lld", label,
                        (long long)c->hidden_size, (long long)c->num_attention_heads);
    if (c->pad_token_id < -1 || c->pad_token_id >= c->vocab_size)
        return vt_error(st, "%s: pad_token_id %lld is outside the vocabulary [0, %lld)", label,
                        (long long)c->pad_token_id, (long long)c->vocab_size);
    if (c->hidden_act != VT_ACT_GELU && c->hidden_act != VT_ACT_GELU_TANH)
        return vt_error(st, "%s: hidden_act must be gelu or gelu_new (got activation %d)", label, (int)c->hidden_act);
    if (!(isfinite(c->layer_norm_eps) && c->layer_norm_eps > 0.0f && c->layer_norm_eps <= 1.0f))
        return vt_error(st, "%s: layer_norm_eps must be in (0, 1] (got %g)", label, (double)c->layer_norm_eps);
    if (!(c->hidden_dropout_prob >= 0.0f && c->hidden_dropout_prob < 1.0f))
        return vt_error(st, "%s: hidden_dropout_prob must be in [0, 1) (got %g)", label, (double)c->hidden_dropout_prob);
    if (!(c->attention_probs_dropout_prob >= 0.0f && c->attention_probs_dropout_prob < 1.0f))
        return vt_error(st, "%s: attention_probs_dropout_prob must be in [0, 1) (got %g)", label,
                        (double)c->attention_probs_dropout_prob);
    if (!(c->classifier_dropout < 1.0f && isfinite(c->classifier_dropout)))
        return vt_error(st, "%s: classifier_dropout must be null (< 0) or in [0, 1) (got %g)", label,
                        (double)c->classifier_dropout);
    if (!(isfinite(c->initializer_range) && c->initializer_range >= 0.0f && c->initializer_range <= 10.0f))
        return vt_error(st, "%s: initializer_range must be in [0, 10] (got %g)", label, (double)c->initializer_range);
    if (c->num_labels < 1 || c->num_labels > VT_BERT_MAX_LABELS)
        return vt_error(st, "%s: num_labels must be in [1, %d] (got %d)", label, VT_BERT_MAX_LABELS, c->num_labels);
    for (int i = 0; i < c->num_labels; i++)
        if (!memchr(c->id2label[i], 0, VT_BERT_LABEL_MAX))
            return vt_error(st, "%s: id2label[%d] is not terminated within %d bytes", label, i, VT_BERT_LABEL_MAX);
    return VT_OK;
}

vt_status vt_bert_config_check(const vt_bert_config *c, const char *label) {
    return check_impl(c, label, VT_ERR_INVALID_ARG);
}

/* ---- reading config.json ---- */

static const char *json_type(const cJSON *v) {
    if (cJSON_IsNull(v)) return "null";
    if (cJSON_IsBool(v)) return "a boolean";
    if (cJSON_IsNumber(v)) return "a number";
    if (cJSON_IsString(v)) return "a string";
    if (cJSON_IsArray(v)) return "an array";
    if (cJSON_IsObject(v)) return "an object";
    return "invalid";
}

static const cJSON *get(const cJSON *obj, const char *key) { return cJSON_GetObjectItemCaseSensitive(obj, key); }

/* Integer-valued number in [lo, hi]; absent leaves *out. null is accepted
 * (as `null_value`) only when allow_null. */
static vt_status read_int(const char *label, const cJSON *root, const char *key, int64_t lo, int64_t hi,
                          bool allow_null, int64_t null_value, int64_t *out) {
    const cJSON *v = get(root, key);
    if (!v) return VT_OK;
    if (allow_null && cJSON_IsNull(v)) {
        *out = null_value;
        return VT_OK;
    }
    if (!cJSON_IsNumber(v))
        return vt_error(VT_ERR_FORMAT, "%s: key \"%s\" must be an integer%s, got %s", label, key,
                        allow_null ? " or null" : "", json_type(v));
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
static vt_status read_float(const char *label, const cJSON *root, const char *key, double lo, bool lo_open,
                            double hi, bool hi_open, float *out) {
    const cJSON *v = get(root, key);
    if (!v) return VT_OK;
    if (!cJSON_IsNumber(v))
        return vt_error(VT_ERR_FORMAT, "%s: key \"%s\" must be a number, got %s", label, key, json_type(v));
    double d = v->valuedouble;
    float f = (float)d;
    bool ok = isfinite(d) && isfinite(f) && (lo_open ? f > lo : f >= lo) && (hi_open ? f < hi : f <= hi);
    if (!ok)
        return vt_error(VT_ERR_FORMAT, "%s: key \"%s\" must be in %c%g, %g%c (got %.17g)", label, key,
                        lo_open ? '(' : '[', lo, hi, hi_open ? ')' : ']', d);
    *out = f;
    return VT_OK;
}

static vt_status read_bool(const char *label, const cJSON *root, const char *key, bool *out) {
    const cJSON *v = get(root, key);
    if (!v) return VT_OK;
    if (!cJSON_IsBool(v))
        return vt_error(VT_ERR_FORMAT, "%s: key \"%s\" must be true or false, got %s", label, key, json_type(v));
    *out = cJSON_IsTrue(v);
    return VT_OK;
}

/* A string (or null when allow_null: *out = NULL); absent leaves *out. */
static vt_status read_string(const char *label, const cJSON *root, const char *key, bool allow_null,
                             const char **out) {
    const cJSON *v = get(root, key);
    if (!v) return VT_OK;
    if (allow_null && cJSON_IsNull(v)) {
        *out = NULL;
        return VT_OK;
    }
    if (!cJSON_IsString(v) || !v->valuestring)
        return vt_error(VT_ERR_FORMAT, "%s: key \"%s\" must be a string%s, got %s", label, key,
                        allow_null ? " or null" : "", json_type(v));
    *out = v->valuestring;
    return VT_OK;
}

static vt_status no_duplicate_keys(const char *label, const cJSON *obj, const char *where) {
    const char *key = vt_json_repeated_key(obj);
    return key ? vt_error(VT_ERR_FORMAT, "%s: %skey \"%s\" appears twice", label, where, key) : VT_OK;
}

/* hidden_act names of transformers' ACT2FN that are exactly x * Phi(x) or its
 * tanh approximation 0.5x(1 + tanh(sqrt(2/pi)(x + 0.044715x^3))). */
static bool parse_act(const char *name, vt_activation *out) {
    static const char *const erf_form[] = {"gelu", "gelu_python"};
    static const char *const tanh_form[] = {"gelu_new", "gelu_pytorch_tanh", "gelu_python_tanh", "gelu_fast",
                                            "gelu_accurate"};
    for (size_t i = 0; i < sizeof erf_form / sizeof *erf_form; i++)
        if (!strcmp(name, erf_form[i])) return *out = VT_ACT_GELU, true;
    for (size_t i = 0; i < sizeof tanh_form / sizeof *tanh_form; i++)
        if (!strcmp(name, tanh_form[i])) return *out = VT_ACT_GELU_TANH, true;
    return false;
}

/* A label index written as a JSON key: decimal digits only, < VT_BERT_MAX_LABELS. */
static bool parse_label_key(const char *s, int *out) {
    if (!s || !*s) return false;
    long v = 0;
    for (const char *p = s; *p; p++) {
        if (*p < '0' || *p > '9') return false;
        v = v * 10 + (*p - '0');
        if (v >= VT_BERT_MAX_LABELS) return false;
    }
    *out = (int)v;
    return true;
}

static vt_status parse_labels(const char *label, const cJSON *root, vt_bert_config *c) {
    const cJSON *id2 = get(root, "id2label"), *l2i = get(root, "label2id");
    if (id2 && cJSON_IsNull(id2)) id2 = NULL;
    if (l2i && cJSON_IsNull(l2i)) l2i = NULL;
    if (id2 && !cJSON_IsObject(id2))
        return vt_error(VT_ERR_FORMAT, "%s: key \"id2label\" must be an object, got %s", label, json_type(id2));
    if (l2i && !cJSON_IsObject(l2i))
        return vt_error(VT_ERR_FORMAT, "%s: key \"label2id\" must be an object, got %s", label, json_type(l2i));
    vt_status st;
    if (id2 && (st = no_duplicate_keys(label, id2, "id2label: ")) != VT_OK) return st;
    if (l2i && (st = no_duplicate_keys(label, l2i, "label2id: ")) != VT_OK) return st;

    int64_t num_labels = 2;
    if ((st = read_int(label, root, "num_labels", 1, VT_BERT_MAX_LABELS, false, 0, &num_labels)) != VT_OK) return st;
    bool seen[VT_BERT_MAX_LABELS] = {false};
    if (id2) {
        int n = cJSON_GetArraySize(id2);
        if (n < 1 || n > VT_BERT_MAX_LABELS)
            return vt_error(VT_ERR_FORMAT, "%s: key \"id2label\" must have 1 to %d entries (has %d)", label,
                            VT_BERT_MAX_LABELS, n);
        c->num_labels = n;
        memset(c->id2label, 0, sizeof c->id2label);
        for (const cJSON *e = id2->child; e; e = e->next) {
            int id;
            if (!parse_label_key(e->string, &id) || id >= n)
                return vt_error(VT_ERR_FORMAT, "%s: id2label key \"%s\" is not a label id in [0, %d)", label,
                                e->string ? e->string : "", n);
            if (!cJSON_IsString(e) || !e->valuestring)
                return vt_error(VT_ERR_FORMAT, "%s: id2label[\"%s\"] must be a string, got %s", label, e->string,
                                json_type(e));
            if (strlen(e->valuestring) >= VT_BERT_LABEL_MAX)
                return vt_error(VT_ERR_UNSUPPORTED, "%s: id2label[\"%s\"] is longer than %d bytes", label, e->string,
                                VT_BERT_LABEL_MAX - 1);
            if (seen[id]) return vt_error(VT_ERR_FORMAT, "%s: id2label: label id %d appears twice", label, id);
            seen[id] = true;
            snprintf(c->id2label[id], VT_BERT_LABEL_MAX, "%s", e->valuestring);
        }
    }
    if (l2i) {
        int n = cJSON_GetArraySize(l2i);
        if (id2 && n != c->num_labels)
            return vt_error(VT_ERR_FORMAT, "%s: label2id has %d entries but id2label has %d", label, n, c->num_labels);
        if (!id2) {
            if (n < 1 || n > VT_BERT_MAX_LABELS)
                return vt_error(VT_ERR_FORMAT, "%s: key \"label2id\" must have 1 to %d entries (has %d)", label,
                                VT_BERT_MAX_LABELS, n);
            c->num_labels = n;
            memset(c->id2label, 0, sizeof c->id2label);
        }
        for (const cJSON *e = l2i->child; e; e = e->next) {
            const char *name = e->string ? e->string : "";
            if (!cJSON_IsNumber(e) || !isfinite(e->valuedouble) || e->valuedouble != floor(e->valuedouble) ||
                e->valuedouble < 0 || e->valuedouble >= n)
                return vt_error(VT_ERR_FORMAT, "%s: label2id[\"%s\"] must be an integer label id in [0, %d)", label,
                                name, n);
            int id = (int)e->valuedouble;
            if (id2) {
                if (strcmp(c->id2label[id], name))
                    return vt_error(VT_ERR_FORMAT, "%s: label2id[\"%s\"] = %d but id2label[\"%d\"] is \"%s\"", label,
                                    name, id, id, c->id2label[id]);
            } else {
                if (strlen(name) >= VT_BERT_LABEL_MAX)
                    return vt_error(VT_ERR_UNSUPPORTED, "%s: label2id key \"%s\" is longer than %d bytes", label,
                                    name, VT_BERT_LABEL_MAX - 1);
                if (seen[id]) return vt_error(VT_ERR_FORMAT, "%s: label2id: label id %d appears twice", label, id);
                seen[id] = true;
                snprintf(c->id2label[id], VT_BERT_LABEL_MAX, "%s", name);
            }
        }
    }
    if (!id2 && !l2i) {
        c->num_labels = (int)num_labels;
        bert_config_default_labels(c);
    }
    return VT_OK;
}

/* "label: not valid JSON (why at line L, column C)" for byte offset at of json. */
static vt_status json_syntax_error(const char *label, const char *json, size_t at, const char *why) {
    size_t line = 1, col = 1;
    for (size_t i = 0; i < at; i++) {
        if (json[i] == '\n') line++, col = 1;
        else col++;
    }
    return vt_error(VT_ERR_FORMAT, "%s: not valid JSON (%s at line %zu, column %zu)", label, why, line, col);
}

vt_status bert_config_parse_ex(const char *json, size_t len, const char *label, vt_bert_config *out,
                               bert_config_extra *x) {
    if (!label) label = "config.json";
    if (!out || !x) return vt_error(VT_ERR_INVALID_ARG, "%s: no output config given", label);
    if (!json && len) return vt_error(VT_ERR_INVALID_ARG, "%s: no JSON text given", label);
    memset(x, 0, sizeof *x);
    x->tie_word_embeddings = true;
    x->arch_known = true;
    const char *why;
    size_t at;
    cJSON *root = vt_json_parse(json ? json : "", len, &why, &at);
    if (!root) return json_syntax_error(label, json ? json : "", at, why);
    vt_status st = VT_OK;
    if (!cJSON_IsObject(root)) {
        st = vt_error(VT_ERR_FORMAT, "%s: expected a JSON object, got %s", label, json_type(root));
        goto done;
    }
    if ((st = no_duplicate_keys(label, root, "")) != VT_OK) goto done;

    vt_bert_config c;
    vt_bert_config_default(&c, VT_BERT_MODEL);

    const char *model_type = "bert";
    if ((st = read_string(label, root, "model_type", false, &model_type)) != VT_OK) goto done;
    if (strcmp(model_type, "bert")) {
        st = vt_error(VT_ERR_UNSUPPORTED, "%s: model_type \"%s\" is not a BERT model (verto reads model_type \"bert\")",
                      label, model_type);
        goto done;
    }

    const cJSON *archs = get(root, "architectures");
    if (archs && !cJSON_IsNull(archs)) {
        if (!cJSON_IsArray(archs)) {
            st = vt_error(VT_ERR_FORMAT, "%s: key \"architectures\" must be an array of strings, got %s", label,
                          json_type(archs));
            goto done;
        }
        for (const cJSON *e = archs->child; e; e = e->next)
            if (!cJSON_IsString(e) || !e->valuestring) {
                st = vt_error(VT_ERR_FORMAT, "%s: key \"architectures\" must be an array of strings (has %s)", label,
                              json_type(e));
                goto done;
            }
        const cJSON *first = archs->child;
        if (first) {
            const char *name = first->valuestring;
            if (strncmp(name, "Bert", 4)) {
                st = vt_error(VT_ERR_UNSUPPORTED, "%s: architectures: \"%s\" is not a BERT architecture (verto has %s)",
                              label, name, ARCH_LIST);
                goto done;
            }
            snprintf(x->arch_name, sizeof x->arch_name, "%s", name);
            x->arch_known = vt_bert_arch_parse(name, &c.arch);
            if (!x->arch_known) c.arch = VT_BERT_MODEL;
        }
    }

#define INT(key, field, lo, hi)                                                                     \
    do {                                                                                            \
        int64_t v_ = c.field;                                                                       \
        if ((st = read_int(label, root, key, lo, hi, false, 0, &v_)) != VT_OK) goto done;           \
        c.field = v_;                                                                               \
    } while (0)
    INT("vocab_size", vocab_size, 1, MAX_VOCAB);
    INT("hidden_size", hidden_size, 1, MAX_HIDDEN);
    INT("num_hidden_layers", num_hidden_layers, 1, MAX_LAYERS);
    INT("num_attention_heads", num_attention_heads, 1, MAX_HIDDEN);
    INT("intermediate_size", intermediate_size, 1, MAX_INTERMEDIATE);
    INT("max_position_embeddings", max_position_embeddings, 1, MAX_POSITIONS);
    INT("type_vocab_size", type_vocab_size, 1, MAX_TYPES);
#undef INT
    if ((st = read_int(label, root, "pad_token_id", 0, MAX_VOCAB - 1, true, -1, &c.pad_token_id)) != VT_OK) goto done;

    if ((st = read_float(label, root, "layer_norm_eps", 0, true, 1, false, &c.layer_norm_eps)) != VT_OK) goto done;
    if ((st = read_float(label, root, "hidden_dropout_prob", 0, false, 1, true, &c.hidden_dropout_prob)) != VT_OK)
        goto done;
    if ((st = read_float(label, root, "attention_probs_dropout_prob", 0, false, 1, true,
                         &c.attention_probs_dropout_prob)) != VT_OK)
        goto done;
    if ((st = read_float(label, root, "initializer_range", 0, false, 10, false, &c.initializer_range)) != VT_OK)
        goto done;
    const cJSON *cd = get(root, "classifier_dropout");
    if (cd && cJSON_IsNull(cd)) c.classifier_dropout = -1.0f;
    else if ((st = read_float(label, root, "classifier_dropout", 0, false, 1, true, &c.classifier_dropout)) != VT_OK)
        goto done;

    const char *act = "gelu";
    if ((st = read_string(label, root, "hidden_act", false, &act)) != VT_OK) goto done;
    if (!parse_act(act, &c.hidden_act)) {
        st = vt_error(VT_ERR_UNSUPPORTED,
                      "%s: hidden_act \"%s\" is not supported (verto has \"gelu\" and the tanh form \"gelu_new\" / "
                      "\"gelu_pytorch_tanh\")",
                      label, act);
        goto done;
    }

    const char *pos_type = "absolute";
    if ((st = read_string(label, root, "position_embedding_type", true, &pos_type)) != VT_OK) goto done;
    if (pos_type && strcmp(pos_type, "absolute")) {
        st = vt_error(VT_ERR_UNSUPPORTED, "%s: position_embedding_type \"%s\" is not supported (verto has \"absolute\")",
                      label, pos_type);
        goto done;
    }
    bool flag = false;
    if ((st = read_bool(label, root, "is_decoder", &flag)) != VT_OK) goto done;
    if (flag) {
        st = vt_error(VT_ERR_UNSUPPORTED, "%s: is_decoder true (a causal BERT) is not supported", label);
        goto done;
    }
    flag = false;
    if ((st = read_bool(label, root, "add_cross_attention", &flag)) != VT_OK) goto done;
    if (flag) {
        st = vt_error(VT_ERR_UNSUPPORTED, "%s: add_cross_attention true is not supported", label);
        goto done;
    }
    if ((st = read_bool(label, root, "tie_word_embeddings", &x->tie_word_embeddings)) != VT_OK) goto done;

    const char *problem = NULL;
    if ((st = read_string(label, root, "problem_type", true, &problem)) != VT_OK) goto done;
    if (problem) {
        if (strcmp(problem, "regression") && strcmp(problem, "single_label_classification") &&
            strcmp(problem, "multi_label_classification")) {
            st = vt_error(VT_ERR_FORMAT,
                          "%s: problem_type \"%s\" is not one of regression, single_label_classification, "
                          "multi_label_classification",
                          label, problem);
            goto done;
        }
        snprintf(x->problem_type, sizeof x->problem_type, "%s", problem);
    }

    if ((st = parse_labels(label, root, &c)) != VT_OK) goto done;
    if ((st = check_impl(&c, label, VT_ERR_FORMAT)) != VT_OK) goto done;
    *out = c;
done:
    cJSON_Delete(root);
    return st;
}

vt_status bert_config_finish(const vt_bert_config *c, const bert_config_extra *x, const char *label,
                             bool need_known_arch) {
    if (need_known_arch && !x->arch_known)
        return vt_error(VT_ERR_UNSUPPORTED,
                        "%s: architectures: \"%s\" is not supported (verto has %s); load it with an explicit "
                        "architecture to keep its encoder",
                        label, x->arch_name, ARCH_LIST);
    if (!x->tie_word_embeddings && arch_has_mlm(c->arch))
        return vt_error(VT_ERR_UNSUPPORTED,
                        "%s: tie_word_embeddings false: verto's MLM decoder is always the word embeddings (%s)", label,
                        vt_bert_arch_name(c->arch));
    if (c->arch == VT_BERT_FOR_SEQUENCE_CLASSIFICATION && x->problem_type[0]) {
        if (!strcmp(x->problem_type, "multi_label_classification"))
            return vt_error(VT_ERR_UNSUPPORTED, "%s: problem_type \"multi_label_classification\" is not supported",
                            label);
        if (!strcmp(x->problem_type, "regression") && c->num_labels != 1)
            return vt_error(VT_ERR_UNSUPPORTED,
                            "%s: problem_type \"regression\" with %d labels is not supported (verto regresses one value)",
                            label, c->num_labels);
        if (!strcmp(x->problem_type, "single_label_classification") && c->num_labels < 2)
            return vt_error(VT_ERR_FORMAT, "%s: problem_type \"single_label_classification\" needs 2 or more labels",
                            label);
    }
    return VT_OK;
}

vt_status vt_bert_config_parse(const char *json, size_t len, const char *label, vt_bert_config *c) {
    if (!label) label = "config.json";
    vt_bert_config tmp;
    bert_config_extra x;
    vt_status st = bert_config_parse_ex(json, len, label, &tmp, &x);
    if (st != VT_OK) return st;
    if ((st = bert_config_finish(&tmp, &x, label, true)) != VT_OK) return st;
    *c = tmp;
    return VT_OK;
}

vt_status vt_bert_config_read(const char *path, vt_bert_config *c) {
    if (!path) return vt_error(VT_ERR_INVALID_ARG, "vt_bert_config_read: no path given");
    char *text = NULL;
    size_t len = 0;
    vt_status st = vt_read_file(path, MAX_CONFIG_BYTES, &text, &len);
    if (st != VT_OK) return st;
    st = vt_bert_config_parse(text, len, path, c);
    free(text);
    return st;
}

/* ---- writing config.json ---- */

typedef struct sbuf {
    char *data;
    size_t len, cap;
    bool failed;
} sbuf;

static void sb_printf(sbuf *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void sb_printf(sbuf *s, const char *fmt, ...) {
    if (s->failed) return;
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(s->data ? s->data + s->len : NULL, s->data ? s->cap - s->len : 0, fmt, ap);
        va_end(ap);
        if (n < 0) {
            s->failed = true;
            return;
        }
        if (s->data && s->len + (size_t)n < s->cap) {
            s->len += (size_t)n;
            return;
        }
        size_t cap = s->cap ? s->cap : 1024;
        while (cap <= s->len + (size_t)n) cap *= 2;
        char *p = realloc(s->data, cap);
        if (!p) {
            s->failed = true;
            return;
        }
        s->data = p;
        s->cap = cap;
    }
}

/* A JSON string literal (UTF-8 passed through, controls escaped). */
static void sb_string(sbuf *s, const char *str) {
    sb_printf(s, "\"");
    for (const unsigned char *p = (const unsigned char *)str; *p; p++) {
        if (*p == '"' || *p == '\\') sb_printf(s, "\\%c", *p);
        else if (*p == '\n') sb_printf(s, "\\n");
        else if (*p == '\t') sb_printf(s, "\\t");
        else if (*p == '\r') sb_printf(s, "\\r");
        else if (*p < 0x20) sb_printf(s, "\\u%04x", *p);
        else sb_printf(s, "%c", *p);
    }
    sb_printf(s, "\"");
}

/* The shortest decimal that reads back as the same float (as Python's repr
 * of that number would be, for the value the user meant). */
static void sb_float(sbuf *s, float v) {
    char buf[48];
    for (int prec = 1; prec <= 9; prec++) {
        snprintf(buf, sizeof buf, "%.*g", prec, (double)v);
        if ((float)strtod(buf, NULL) == v) break;
    }
    /* Keep it a JSON float like Python's (0.0, not 0). */
    if (!strpbrk(buf, ".eEn")) strncat(buf, ".0", sizeof buf - strlen(buf) - 1);
    sb_printf(s, "%s", buf);
}

vt_status vt_bert_config_write(const char *path, const vt_bert_config *c) {
    if (!path) return vt_error(VT_ERR_INVALID_ARG, "vt_bert_config_write: no path given");
    vt_status st = vt_bert_config_check(c, path);
    if (st != VT_OK) return st;
    /* Keys sorted as transformers writes them (json.dumps(sort_keys=True, indent=2)). */
    sbuf s = {0};
    sb_printf(&s, "{\n  \"architectures\": [\n    ");
    sb_string(&s, vt_bert_arch_name(c->arch));
    sb_printf(&s, "\n  ],\n  \"attention_probs_dropout_prob\": ");
    sb_float(&s, c->attention_probs_dropout_prob);
    sb_printf(&s, ",\n  \"classifier_dropout\": ");
    if (c->classifier_dropout < 0) sb_printf(&s, "null");
    else sb_float(&s, c->classifier_dropout);
    sb_printf(&s, ",\n  \"dtype\": \"float32\",\n  \"hidden_act\": \"%s\",\n  \"hidden_dropout_prob\": ",
              c->hidden_act == VT_ACT_GELU_TANH ? "gelu_new" : "gelu");
    sb_float(&s, c->hidden_dropout_prob);
    sb_printf(&s, ",\n  \"hidden_size\": %lld,\n  \"id2label\": {", (long long)c->hidden_size);
    for (int i = 0; i < c->num_labels; i++) {
        sb_printf(&s, "%s\n    \"%d\": ", i ? "," : "", i);
        sb_string(&s, c->id2label[i]);
    }
    sb_printf(&s, "\n  },\n  \"initializer_range\": ");
    sb_float(&s, c->initializer_range);
    sb_printf(&s, ",\n  \"intermediate_size\": %lld,\n  \"label2id\": ", (long long)c->intermediate_size);
    /* label2id is id2label's inverse; with repeated names there is none (null, as transformers 5 writes). */
    bool unique = true;
    for (int i = 0; i < c->num_labels && unique; i++)
        for (int j = i + 1; j < c->num_labels && unique; j++) unique = strcmp(c->id2label[i], c->id2label[j]) != 0;
    if (unique) {
        sb_printf(&s, "{");
        for (int i = 0; i < c->num_labels; i++) {
            sb_printf(&s, "%s\n    ", i ? "," : "");
            sb_string(&s, c->id2label[i]);
            sb_printf(&s, ": %d", i);
        }
        sb_printf(&s, "\n  }");
    } else {
        sb_printf(&s, "null");
    }
    sb_printf(&s, ",\n  \"layer_norm_eps\": ");
    sb_float(&s, c->layer_norm_eps);
    sb_printf(&s, ",\n  \"max_position_embeddings\": %lld,\n  \"model_type\": \"bert\",\n", (long long)c->max_position_embeddings);
    sb_printf(&s, "  \"num_attention_heads\": %lld,\n  \"num_hidden_layers\": %lld,\n  \"pad_token_id\": ",
              (long long)c->num_attention_heads, (long long)c->num_hidden_layers);
    if (c->pad_token_id < 0) sb_printf(&s, "null");
    else sb_printf(&s, "%lld", (long long)c->pad_token_id);
    sb_printf(&s, ",\n  \"problem_type\": ");
    if (c->arch == VT_BERT_FOR_SEQUENCE_CLASSIFICATION)
        sb_printf(&s, "\"%s\"", c->num_labels == 1 ? "regression" : "single_label_classification");
    else
        sb_printf(&s, "null");
    sb_printf(&s, ",\n  \"tie_word_embeddings\": true,\n  \"type_vocab_size\": %lld,\n  \"vocab_size\": %lld\n}\n",
              (long long)c->type_vocab_size, (long long)c->vocab_size);
    if (s.failed) {
        free(s.data);
        return vt_error(VT_ERR_NOMEM, "%s: out of memory formatting the config", path);
    }
    st = vt_write_file_atomic(path, s.data, s.len);
    free(s.data);
    return st;
}

int32_t vt_bert_input_length(const vt_bert_config *c, int64_t requested, int64_t tokenizer_max_length) {
    int64_t n = c->max_position_embeddings, want = requested > 0 ? requested : tokenizer_max_length;
    if (want > 0 && want < n) n = want;
    return n > INT32_MAX ? INT32_MAX : (int32_t)n;
}
