/* config.json read as transformers reads it for the family its model_type
 * names: BertConfig's keys (which RobertaConfig and XLMRobertaConfig share)
 * or DistilBertConfig's, strictly typed and range-checked, unknown keys
 * accepted (real configs carry many). Errors name the file and the key. */
#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bert/family.h"
#include "bert/hf_internal.h"
#include "core/json.h"
#include "core/json_keys.h"
#include "verto/fileio.h"

#define MAX_CONFIG_BYTES (64u << 20)

static const cJSON *get(const cJSON *obj, const char *key) { return cJSON_GetObjectItemCaseSensitive(obj, key); }

static vt_status no_duplicate_keys(const char *label, const cJSON *obj, const char *where) {
    const char *key = vt_json_repeated_key(obj);
    return key ? vt_error(VT_ERR_FORMAT, "%s: %skey \"%s\" appears twice", label, where, key) : VT_OK;
}

/* hidden_act names of transformers' ACT2FN that are exactly x * Phi(x) or its
 * tanh approximation 0.5x(1 + tanh(sqrt(2/pi)(x + 0.044715x^3))); "relu"
 * where relu_ok (DistilBERT's activation). */
static bool parse_act(const char *name, bool relu_ok, vt_activation *out) {
    static const char *const erf_form[] = {"gelu", "gelu_python"};
    static const char *const tanh_form[] = {"gelu_new", "gelu_pytorch_tanh", "gelu_python_tanh", "gelu_fast",
                                            "gelu_accurate"};
    for (size_t i = 0; i < sizeof erf_form / sizeof *erf_form; i++)
        if (!strcmp(name, erf_form[i])) return *out = VT_ACT_GELU, true;
    for (size_t i = 0; i < sizeof tanh_form / sizeof *tanh_form; i++)
        if (!strcmp(name, tanh_form[i])) return *out = VT_ACT_GELU_TANH, true;
    if (relu_ok && !strcmp(name, "relu")) return *out = VT_ACT_RELU, true;
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
        return vt_error(VT_ERR_FORMAT, "%s: key \"id2label\" must be an object, got %s", label, json_type_name(id2));
    if (l2i && !cJSON_IsObject(l2i))
        return vt_error(VT_ERR_FORMAT, "%s: key \"label2id\" must be an object, got %s", label, json_type_name(l2i));
    vt_status st;
    if (id2 && (st = no_duplicate_keys(label, id2, "id2label: ")) != VT_OK) return st;
    if (l2i && (st = no_duplicate_keys(label, l2i, "label2id: ")) != VT_OK) return st;

    int64_t num_labels = 2;
    if ((st = json_key_int(label, root, "num_labels", 1, VT_BERT_MAX_LABELS, false, 0, &num_labels)) != VT_OK) return st;
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
                                json_type_name(e));
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

/* The family from model_type ("bert" when absent). */
static vt_status read_family(const char *label, const cJSON *root, vt_bert_family *out) {
    const char *model_type = "bert";
    vt_status st = json_key_string(label, root, "model_type", false, &model_type);
    if (st != VT_OK) return st;
    if (!vt_bert_family_parse(model_type, out))
        return vt_error(VT_ERR_UNSUPPORTED,
                        "%s: model_type \"%s\" is not supported (verto reads \"bert\", \"roberta\", \"xlm-roberta\" "
                        "and \"distilbert\")",
                        label, model_type);
    return VT_OK;
}

/* architectures[0] into c->arch and x (a class of the family's, known or not). */
static vt_status read_architectures(const char *label, const cJSON *root, vt_bert_config *c, bert_config_extra *x) {
    const bert_family_info *f = bert_family(c->family);
    const cJSON *archs = get(root, "architectures");
    if (!archs || cJSON_IsNull(archs)) return VT_OK;
    if (!cJSON_IsArray(archs))
        return vt_error(VT_ERR_FORMAT, "%s: key \"architectures\" must be an array of strings, got %s", label,
                        json_type_name(archs));
    for (const cJSON *e = archs->child; e; e = e->next)
        if (!cJSON_IsString(e) || !e->valuestring)
            return vt_error(VT_ERR_FORMAT, "%s: key \"architectures\" must be an array of strings (has %s)", label,
                            json_type_name(e));
    const cJSON *first = archs->child;
    if (!first) return VT_OK;
    const char *name = first->valuestring;
    vt_bert_family of;
    if (!bert_family_of_class(name, &of) || of != c->family)
        return vt_error(VT_ERR_UNSUPPORTED, "%s: architectures: \"%s\" is not a %s architecture (model_type \"%s\"; "
                        "verto has %s)", label, name, f->display, f->model_type, bert_family_arch_list(f));
    snprintf(x->arch_name, sizeof x->arch_name, "%s", name);
    x->arch_known = bert_family_arch_parse(f, name, &c->arch);
    if (!x->arch_known) c->arch = VT_BERT_MODEL;
    return VT_OK;
}

/* An integer key, or its attribute_map alias when the key itself is absent. */
static vt_status read_size(const char *label, const cJSON *root, const char *key, const char *alias, int64_t hi,
                           int64_t *field) {
    if (alias && !get(root, key) && get(root, alias)) key = alias;
    return json_key_int(label, root, key, 1, hi, false, 0, field);
}

/* BertConfig's keys (BERT, RoBERTa, XLM-RoBERTa). */
static vt_status read_bert_keys(const char *label, const cJSON *root, vt_bert_config *c) {
    vt_status st;
    if ((st = read_size(label, root, "hidden_size", NULL, VT_BERT_MAX_HIDDEN, &c->hidden_size)) != VT_OK ||
        (st = read_size(label, root, "num_hidden_layers", NULL, VT_BERT_MAX_LAYERS, &c->num_hidden_layers)) != VT_OK ||
        (st = read_size(label, root, "num_attention_heads", NULL, VT_BERT_MAX_HIDDEN, &c->num_attention_heads)) != VT_OK ||
        (st = read_size(label, root, "intermediate_size", NULL, VT_BERT_MAX_INTERMEDIATE, &c->intermediate_size)) != VT_OK ||
        (st = read_size(label, root, "type_vocab_size", NULL, VT_BERT_MAX_TYPES, &c->type_vocab_size)) != VT_OK)
        return st;
    if ((st = json_key_float(label, root, "layer_norm_eps", 0, true, 1, false, &c->layer_norm_eps)) != VT_OK ||
        (st = json_key_float(label, root, "hidden_dropout_prob", 0, false, 1, true, &c->hidden_dropout_prob)) != VT_OK ||
        (st = json_key_float(label, root, "attention_probs_dropout_prob", 0, false, 1, true,
                         &c->attention_probs_dropout_prob)) != VT_OK)
        return st;
    const cJSON *cd = get(root, "classifier_dropout");
    if (cd && cJSON_IsNull(cd)) c->classifier_dropout = -1.0f;
    else if ((st = json_key_float(label, root, "classifier_dropout", 0, false, 1, true, &c->classifier_dropout)) != VT_OK)
        return st;
    const char *act = "gelu";
    if ((st = json_key_string(label, root, "hidden_act", false, &act)) != VT_OK) return st;
    if (!parse_act(act, false, &c->hidden_act))
        return vt_error(VT_ERR_UNSUPPORTED,
                        "%s: hidden_act \"%s\" is not supported (verto has \"gelu\" and the tanh form \"gelu_new\" / "
                        "\"gelu_pytorch_tanh\")",
                        label, act);
    const char *pos_type = "absolute";
    if ((st = json_key_string(label, root, "position_embedding_type", true, &pos_type)) != VT_OK) return st;
    if (pos_type && strcmp(pos_type, "absolute"))
        return vt_error(VT_ERR_UNSUPPORTED, "%s: position_embedding_type \"%s\" is not supported (verto has \"absolute\")",
                        label, pos_type);
    bool flag = false;
    if ((st = json_key_bool(label, root, "is_decoder", &flag)) != VT_OK) return st;
    if (flag) return vt_error(VT_ERR_UNSUPPORTED, "%s: is_decoder true (a causal model) is not supported", label);
    if ((st = json_key_bool(label, root, "add_cross_attention", &flag)) != VT_OK) return st;
    if (flag) return vt_error(VT_ERR_UNSUPPORTED, "%s: add_cross_attention true is not supported", label);
    return VT_OK;
}

/* DistilBertConfig's keys (and its attribute_map's aliases hidden_size,
 * num_hidden_layers, num_attention_heads where its own are absent). Its
 * LayerNorms' eps is fixed (1e-12) and it has no token types. */
static vt_status read_distilbert_keys(const char *label, const cJSON *root, vt_bert_config *c, bert_config_extra *x) {
    vt_status st;
    if ((st = read_size(label, root, "dim", "hidden_size", VT_BERT_MAX_HIDDEN, &c->hidden_size)) != VT_OK ||
        (st = read_size(label, root, "n_layers", "num_hidden_layers", VT_BERT_MAX_LAYERS, &c->num_hidden_layers)) != VT_OK ||
        (st = read_size(label, root, "n_heads", "num_attention_heads", VT_BERT_MAX_HIDDEN, &c->num_attention_heads)) != VT_OK ||
        (st = read_size(label, root, "hidden_dim", NULL, VT_BERT_MAX_INTERMEDIATE, &c->intermediate_size)) != VT_OK)
        return st;
    if ((st = json_key_float(label, root, "dropout", 0, false, 1, true, &c->hidden_dropout_prob)) != VT_OK ||
        (st = json_key_float(label, root, "attention_dropout", 0, false, 1, true, &c->attention_probs_dropout_prob)) != VT_OK ||
        (st = json_key_float(label, root, "seq_classif_dropout", 0, false, 1, true, &c->seq_classif_dropout)) != VT_OK ||
        (st = json_key_float(label, root, "qa_dropout", 0, false, 1, true, &c->qa_dropout)) != VT_OK)
        return st;
    const char *act = "gelu";
    if ((st = json_key_string(label, root, "activation", false, &act)) != VT_OK) return st;
    if (!parse_act(act, true, &c->hidden_act))
        return vt_error(VT_ERR_UNSUPPORTED,
                        "%s: activation \"%s\" is not supported (verto has \"gelu\", \"relu\" and the tanh form "
                        "\"gelu_new\")",
                        label, act);
    if ((st = json_key_bool(label, root, "sinusoidal_pos_embds", &c->sinusoidal_pos_embds)) != VT_OK) return st;
    bool tie = true; /* older configs' name for tie_word_embeddings */
    if ((st = json_key_bool(label, root, "tie_weights_", &tie)) != VT_OK) return st;
    x->tie_word_embeddings = x->tie_word_embeddings && tie;
    c->type_vocab_size = 0;
    c->layer_norm_eps = 1e-12f;
    return VT_OK;
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
    vt_bert_config c;
    vt_bert_family family;
    if (!cJSON_IsObject(root)) {
        st = vt_error(VT_ERR_FORMAT, "%s: expected a JSON object, got %s", label, json_type_name(root));
        goto done;
    }
    if ((st = no_duplicate_keys(label, root, "")) != VT_OK) goto done;
    if ((st = read_family(label, root, &family)) != VT_OK) goto done;
    vt_bert_config_default_family(&c, family, VT_BERT_MODEL);
    if ((st = read_architectures(label, root, &c, x)) != VT_OK) goto done;

    /* Keys every family's config class has. */
    if ((st = json_key_int(label, root, "vocab_size", 1, VT_BERT_MAX_VOCAB, false, 0, &c.vocab_size)) != VT_OK ||
        (st = json_key_int(label, root, "max_position_embeddings", 1, VT_BERT_MAX_POSITIONS, false, 0,
                       &c.max_position_embeddings)) != VT_OK ||
        (st = json_key_int(label, root, "pad_token_id", 0, VT_BERT_MAX_VOCAB - 1, true, -1, &c.pad_token_id)) != VT_OK ||
        (st = json_key_float(label, root, "initializer_range", 0, false, 10, false, &c.initializer_range)) != VT_OK ||
        (st = json_key_bool(label, root, "tie_word_embeddings", &x->tie_word_embeddings)) != VT_OK)
        goto done;
    st = family == VT_FAMILY_DISTILBERT ? read_distilbert_keys(label, root, &c, x) : read_bert_keys(label, root, &c);
    if (st != VT_OK) goto done;

    const char *problem = NULL;
    if ((st = json_key_string(label, root, "problem_type", true, &problem)) != VT_OK) goto done;
    if (problem && !vt_bert_problem_parse(problem, &c.problem_type)) {
        st = vt_error(VT_ERR_FORMAT,
                      "%s: problem_type \"%s\" is not one of regression, single_label_classification, "
                      "multi_label_classification",
                      label, problem);
        goto done;
    }

    if ((st = parse_labels(label, root, &c)) != VT_OK) goto done;
    if ((st = bert_config_check(&c, label, VT_ERR_FORMAT)) != VT_OK) goto done;
    *out = c;
done:
    cJSON_Delete(root);
    return st;
}

vt_status bert_config_finish(const vt_bert_config *c, const bert_config_extra *x, const char *label,
                             bool need_known_arch) {
    const bert_family_info *f = bert_family(c->family);
    if (need_known_arch && !x->arch_known)
        return vt_error(VT_ERR_UNSUPPORTED,
                        "%s: architectures: \"%s\" is not supported (verto has %s); load it with an explicit "
                        "architecture to keep its encoder",
                        label, x->arch_name, bert_family_arch_list(f));
    if (!bert_family_has_arch(f, c->arch))
        return vt_error(VT_ERR_UNSUPPORTED, "%s: %s has no %s (verto has %s)", label, f->display,
                        vt_bert_arch_name(c->arch), bert_family_arch_list(f));
    bool mlm = c->arch == VT_BERT_FOR_PRETRAINING || c->arch == VT_BERT_FOR_MASKED_LM;
    if (!x->tie_word_embeddings && mlm)
        return vt_error(VT_ERR_UNSUPPORTED,
                        "%s: tie_word_embeddings false: verto's MLM decoder is always the word embeddings (%s)", label,
                        vt_bert_config_arch_name(c));
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

