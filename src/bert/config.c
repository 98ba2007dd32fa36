/* Configs of the BERT family: Hugging Face's defaults per config class, named
 * presets, and the consistency checks every config passes before a model is
 * built. config.json is read in config_read.c and written in config_write.c. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "bert/family.h"
#include "bert/hf_internal.h"

static const char *const ARCH_NAMES[] = {
    [VT_BERT_MODEL] = "BertModel",
    [VT_BERT_FOR_PRETRAINING] = "BertForPreTraining",
    [VT_BERT_FOR_MASKED_LM] = "BertForMaskedLM",
    [VT_BERT_FOR_SEQUENCE_CLASSIFICATION] = "BertForSequenceClassification",
    [VT_BERT_FOR_TOKEN_CLASSIFICATION] = "BertForTokenClassification",
    [VT_BERT_FOR_QUESTION_ANSWERING] = "BertForQuestionAnswering",
};
#define N_ARCHS (sizeof ARCH_NAMES / sizeof ARCH_NAMES[0])

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

static const char *const PROBLEM_NAMES[] = {
    [VT_PROBLEM_UNSET] = NULL,
    [VT_PROBLEM_REGRESSION] = "regression",
    [VT_PROBLEM_SINGLE_LABEL] = "single_label_classification",
    [VT_PROBLEM_MULTI_LABEL] = "multi_label_classification",
};
#define N_PROBLEMS (sizeof PROBLEM_NAMES / sizeof PROBLEM_NAMES[0])

const char *vt_bert_problem_name(vt_bert_problem p) { return (unsigned)p < N_PROBLEMS ? PROBLEM_NAMES[p] : NULL; }

bool vt_bert_problem_parse(const char *name, vt_bert_problem *out) {
    for (size_t i = 1; name && i < N_PROBLEMS; i++)
        if (!strcmp(name, PROBLEM_NAMES[i])) {
            if (out) *out = (vt_bert_problem)i;
            return true;
        }
    return false;
}

void bert_config_default_labels(vt_bert_config *c) {
    memset(c->id2label, 0, sizeof c->id2label);
    for (int i = 0; i < c->num_labels && i < VT_BERT_MAX_LABELS; i++)
        snprintf(c->id2label[i], VT_BERT_LABEL_MAX, "LABEL_%d", i);
}

void vt_bert_config_default(vt_bert_config *c, vt_bert_arch arch) {
    vt_bert_config_default_family(c, VT_FAMILY_BERT, arch);
}

void vt_bert_config_default_family(vt_bert_config *c, vt_bert_family family, vt_bert_arch arch) {
    if (!c) return;
    memset(c, 0, sizeof *c);
    /* BertConfig's, which RobertaConfig and XLMRobertaConfig share but for
     * the vocabulary and padding id, and DistilBertConfig but for its layers
     * and token types. */
    c->family = family;
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
    c->seq_classif_dropout = 0.2f;
    c->qa_dropout = 0.1f;
    switch (family) {
    case VT_FAMILY_ROBERTA:
        c->vocab_size = 50265;
        c->pad_token_id = 1;
        break;
    case VT_FAMILY_XLM_ROBERTA: c->pad_token_id = 1; break;
    case VT_FAMILY_DISTILBERT:
        c->num_hidden_layers = 6;
        c->type_vocab_size = 0;
        break;
    default: break;
    }
    c->arch = arch;
    c->num_labels = 2;
    bert_config_default_labels(c);
}

vt_status vt_bert_config_preset(vt_bert_config *c, const char *name, int64_t vocab_size) {
    if (!name) return vt_error(VT_ERR_INVALID_ARG, "vt_bert_config_preset: no preset name given");
    /* "SIZE" (BERT) or "FAMILY-SIZE": the family is everything before the last '-'. */
    const char *dash = strrchr(name, '-');
    vt_bert_family family = VT_FAMILY_BERT;
    if (dash) {
        char model_type[32];
        if ((size_t)(dash - name) >= sizeof model_type ||
            (snprintf(model_type, sizeof model_type, "%.*s", (int)(dash - name), name),
             !vt_bert_family_parse(model_type, &family)))
            return vt_error(VT_ERR_INVALID_ARG,
                            "unknown preset '%s' (expected SIZE or FAMILY-SIZE: FAMILY bert, roberta, xlm-roberta or "
                            "distilbert, SIZE tiny, mini, small, medium or base)",
                            name);
        name = dash + 1;
    }
    return vt_bert_config_preset_family(c, family, name, vocab_size);
}

vt_status vt_bert_config_preset_family(vt_bert_config *c, vt_bert_family family, const char *name,
                                       int64_t vocab_size) {
    static const struct {
        const char *name;
        int64_t layers, hidden, heads;
    } presets[] = {
        {"tiny", 2, 128, 2}, {"mini", 4, 256, 4}, {"small", 4, 512, 8}, {"medium", 8, 512, 8}, {"base", 12, 768, 12},
    };
    if (!c) return vt_error(VT_ERR_INVALID_ARG, "vt_bert_config_preset: no config given");
    if (!name) return vt_error(VT_ERR_INVALID_ARG, "vt_bert_config_preset: no preset name given");
    if ((unsigned)family > VT_FAMILY_DISTILBERT)
        return vt_error(VT_ERR_INVALID_ARG, "vt_bert_config_preset: unknown family %d", (int)family);
    const char *display = bert_family(family)->display;
    if (vocab_size < 1 || vocab_size > VT_BERT_MAX_VOCAB)
        return vt_error(VT_ERR_INVALID_ARG, "%s preset '%s': vocab_size must be in [1, %lld] (got %lld)", display,
                        name, VT_BERT_MAX_VOCAB, (long long)vocab_size);
    for (size_t i = 0; i < sizeof presets / sizeof presets[0]; i++) {
        if (strcmp(name, presets[i].name)) continue;
        /* Everything else as the family's config class (the base model; callers set arch after). */
        vt_bert_config_default_family(c, family, VT_BERT_MODEL);
        c->vocab_size = vocab_size;
        c->num_hidden_layers = presets[i].layers;
        c->hidden_size = presets[i].hidden;
        c->num_attention_heads = presets[i].heads;
        c->intermediate_size = 4 * presets[i].hidden;
        c->max_position_embeddings = 512;
        if (family == VT_FAMILY_ROBERTA || family == VT_FAMILY_XLM_ROBERTA) { /* as roberta-base's config */
            c->pad_token_id = 1;
            c->max_position_embeddings = 512 + c->pad_token_id + 1;
            c->type_vocab_size = 1;
            c->layer_norm_eps = 1e-5f;
        }
        if (family == VT_FAMILY_DISTILBERT && !strcmp(name, "base")) c->num_hidden_layers = 6; /* distilbert-base */
        if (c->pad_token_id >= vocab_size)
            return vt_error(VT_ERR_INVALID_ARG, "%s preset '%s': vocab_size %lld has no room for pad_token_id %lld",
                            display, name, (long long)vocab_size, (long long)c->pad_token_id);
        return VT_OK;
    }
    return vt_error(VT_ERR_INVALID_ARG, "unknown %s preset '%s' (expected tiny, mini, small, medium or base)", display,
                    name);
}

int32_t vt_bert_max_length(const vt_bert_config *c) {
    int64_t n = c->max_position_embeddings;
    if (bert_family(c->family)->positions_after_padding) n -= c->pad_token_id + 1;
    return n < 0 ? 0 : n > INT32_MAX ? INT32_MAX : (int32_t)n;
}

int32_t vt_bert_input_length(const vt_bert_config *c, int64_t requested, int64_t tokenizer_max_length) {
    int64_t n = vt_bert_max_length(c), want = requested > 0 ? requested : tokenizer_max_length;
    if (want > 0 && want < n) n = want;
    return (int32_t)n;
}

/* ---- checks ---- */

vt_status bert_config_check(const vt_bert_config *c, const char *label, vt_status st) {
    if (!label) label = "BERT config";
    if (!c) return vt_error(VT_ERR_INVALID_ARG, "%s: no config given", label);
    if ((unsigned)c->family > VT_FAMILY_DISTILBERT) return vt_error(st, "%s: unknown family %d", label, (int)c->family);
    const bert_family_info *f = bert_family(c->family);
    if ((unsigned)c->arch >= N_ARCHS) return vt_error(st, "%s: unknown architecture %d", label, (int)c->arch);
    if (!bert_family_has_arch(f, c->arch))
        return vt_error(st, "%s: %s has no %s architecture (it has %s)", label, f->display,
                        vt_bert_arch_name(c->arch) + strlen("Bert"), bert_family_arch_list(f));
#define RANGE(field, lo, hi)                                                                                   \
    if (c->field < (lo) || c->field > (hi))                                                                    \
        return vt_error(st, "%s: " #field " must be in [%lld, %lld] (got %lld)", label, (long long)(lo),        \
                        (long long)(hi), (long long)c->field);
    RANGE(vocab_size, 1, VT_BERT_MAX_VOCAB)
    RANGE(hidden_size, 1, VT_BERT_MAX_HIDDEN)
    RANGE(num_hidden_layers, 1, VT_BERT_MAX_LAYERS)
    RANGE(num_attention_heads, 1, VT_BERT_MAX_HIDDEN)
    RANGE(intermediate_size, 1, VT_BERT_MAX_INTERMEDIATE)
    RANGE(max_position_embeddings, 1, VT_BERT_MAX_POSITIONS)
    if (f->type_emb) {
        RANGE(type_vocab_size, 1, VT_BERT_MAX_TYPES)
    } else {
        RANGE(type_vocab_size, 0, 0) /* DistilBERT has no token type embeddings */
    }
#undef RANGE
    if (c->hidden_size % c->num_attention_heads)
        return vt_error(st, "%s: hidden_size %lld is not a multiple of num_attention_heads %lld", label,
                        (long long)c->hidden_size, (long long)c->num_attention_heads);
    if (c->pad_token_id < -1 || c->pad_token_id >= c->vocab_size)
        return vt_error(st, "%s: pad_token_id %lld is outside the vocabulary [0, %lld)", label,
                        (long long)c->pad_token_id, (long long)c->vocab_size);
    if (f->positions_after_padding && c->pad_token_id < 0)
        return vt_error(st, "%s: pad_token_id must be set: %s counts positions from it", label, f->display);
    if (f->positions_after_padding && c->max_position_embeddings <= c->pad_token_id + 1)
        return vt_error(st, "%s: max_position_embeddings %lld leaves no position after pad_token_id %lld", label,
                        (long long)c->max_position_embeddings, (long long)c->pad_token_id);
    bool relu_ok = c->family == VT_FAMILY_DISTILBERT;
    if (c->hidden_act != VT_ACT_GELU && c->hidden_act != VT_ACT_GELU_TANH && !(relu_ok && c->hidden_act == VT_ACT_RELU))
        return vt_error(st, "%s: hidden_act must be gelu or gelu_new%s (got activation %d)", label,
                        relu_ok ? " or relu" : "", (int)c->hidden_act);
    if (!(isfinite(c->layer_norm_eps) && c->layer_norm_eps > 0.0f && c->layer_norm_eps <= 1.0f))
        return vt_error(st, "%s: layer_norm_eps must be in (0, 1] (got %g)", label, (double)c->layer_norm_eps);
#define PROBABILITY(field)                                                                                     \
    if (!(c->field >= 0.0f && c->field < 1.0f))                                                                \
        return vt_error(st, "%s: " #field " must be in [0, 1) (got %g)", label, (double)c->field);
    PROBABILITY(hidden_dropout_prob)
    PROBABILITY(attention_probs_dropout_prob)
    PROBABILITY(seq_classif_dropout)
    PROBABILITY(qa_dropout)
#undef PROBABILITY
    if (!(c->classifier_dropout < 1.0f && isfinite(c->classifier_dropout)))
        return vt_error(st, "%s: classifier_dropout must be null (< 0) or in [0, 1) (got %g)", label,
                        (double)c->classifier_dropout);
    if (!(isfinite(c->initializer_range) && c->initializer_range >= 0.0f && c->initializer_range <= 10.0f))
        return vt_error(st, "%s: initializer_range must be in [0, 10] (got %g)", label, (double)c->initializer_range);
    if (c->num_labels < 1 || c->num_labels > VT_BERT_MAX_LABELS)
        return vt_error(st, "%s: num_labels must be in [1, %d] (got %d)", label, VT_BERT_MAX_LABELS, c->num_labels);
    if (c->arch == VT_BERT_FOR_QUESTION_ANSWERING && c->num_labels != 2)
        return vt_error(st, "%s: %s needs num_labels 2 (its outputs are the span's start and end), got %d", label,
                        vt_bert_config_arch_name(c), c->num_labels);
    if ((unsigned)c->problem_type >= N_PROBLEMS)
        return vt_error(st, "%s: unknown problem_type %d", label, (int)c->problem_type);
    if (c->arch == VT_BERT_FOR_SEQUENCE_CLASSIFICATION && c->problem_type == VT_PROBLEM_SINGLE_LABEL &&
        c->num_labels < 2)
        return vt_error(st, "%s: problem_type \"single_label_classification\" needs 2 or more labels (got %d)", label,
                        c->num_labels);
    for (int i = 0; i < c->num_labels; i++)
        if (!memchr(c->id2label[i], 0, VT_BERT_LABEL_MAX))
            return vt_error(st, "%s: id2label[%d] is not terminated within %d bytes", label, i, VT_BERT_LABEL_MAX);
    return VT_OK;
}

vt_status vt_bert_config_check(const vt_bert_config *c, const char *label) {
    return bert_config_check(c, label, VT_ERR_INVALID_ARG);
}
