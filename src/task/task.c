/* Loading a task: a model directory, its tokenizer and the settings it was
 * fine-tuned with (see verto/task.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/json.h"
#include "task/task_internal.h"
#include "verto/fileio.h"

static const char *const KIND_NAMES[] = {
    [VT_TASK_FEATURES] = "features",       [VT_TASK_SEQUENCE_CLASSIFICATION] = "sequence-classification",
    [VT_TASK_FILL_MASK] = "fill-mask",     [VT_TASK_MULTI_LABEL] = "multi-label",
    [VT_TASK_REGRESSION] = "regression",   [VT_TASK_TOKEN_CLASSIFICATION] = "token-classification",
    [VT_TASK_QUESTION_ANSWERING] = "question-answering",
};
#define N_KINDS (sizeof KIND_NAMES / sizeof *KIND_NAMES)

const char *vt_task_kind_name(vt_task_kind kind) { return (size_t)kind < N_KINDS ? KIND_NAMES[kind] : "unknown"; }

bool vt_task_kind_parse(const char *name, vt_task_kind *out) {
    for (size_t k = 0; name && k < N_KINDS; k++)
        if (!strcmp(name, KIND_NAMES[k])) {
            *out = (vt_task_kind)k;
            return true;
        }
    return false;
}

bool vt_task_kind_is_sequence(vt_task_kind kind) {
    return kind == VT_TASK_SEQUENCE_CLASSIFICATION || kind == VT_TASK_MULTI_LABEL || kind == VT_TASK_REGRESSION;
}

/* The sequence kind of a sequence classifier's config: its problem_type, or
 * (none recorded) regression for one label, as transformers decides. */
static vt_task_kind sequence_kind(const vt_bert_config *c) {
    if (c->problem_type == VT_PROBLEM_MULTI_LABEL) return VT_TASK_MULTI_LABEL;
    if (c->problem_type == VT_PROBLEM_REGRESSION || (c->problem_type == VT_PROBLEM_UNSET && c->num_labels == 1))
        return VT_TASK_REGRESSION;
    return VT_TASK_SEQUENCE_CLASSIFICATION;
}

static vt_status read_config(const char *dir, vt_bert_config *c) {
    char path[4096];
    if (snprintf(path, sizeof path, "%s/config.json", dir) >= (int)sizeof path)
        return vt_error(VT_ERR_INVALID_ARG, "model directory name too long: %s", dir);
    return vt_bert_config_read(path, c);
}

vt_status vt_task_kind_of_dir(const char *dir, vt_task_kind *out) {
    if (vt_baseline_is_dir(dir)) return task_baseline_kind(dir, out);
    vt_bert_config c;
    vt_status st = read_config(dir, &c);
    if (st != VT_OK) return st;
    *out = c.arch == VT_BERT_FOR_SEQUENCE_CLASSIFICATION                             ? sequence_kind(&c)
           : c.arch == VT_BERT_FOR_TOKEN_CLASSIFICATION                           ? VT_TASK_TOKEN_CLASSIFICATION
           : c.arch == VT_BERT_FOR_QUESTION_ANSWERING                             ? VT_TASK_QUESTION_ANSWERING
           : c.arch == VT_BERT_FOR_PRETRAINING || c.arch == VT_BERT_FOR_MASKED_LM ? VT_TASK_FILL_MASK
                                                                                  : VT_TASK_FEATURES;
    return VT_OK;
}

void vt_task_options_default(vt_task_options *o) {
    *o = (vt_task_options){.kind = VT_TASK_FEATURES, .precision = VT_PRECISION_FP32, .batch_size = 32};
}

/* tokenizer_config.json's multi_label_threshold (what fine-tuning chose on
 * dev), or 0.5 when the file or the key is absent. */
static vt_status read_threshold(const char *dir, double *out) {
    *out = 0.5;
    char path[4096];
    snprintf(path, sizeof path, "%s/tokenizer_config.json", dir);
    char *text = NULL;
    size_t len = 0;
    FILE *f = fopen(path, "rb");
    if (!f) return VT_OK;
    fclose(f);
    vt_status st = vt_read_file(path, 1u << 24, &text, &len);
    if (st != VT_OK) return st;
    const char *why = NULL;
    size_t at = 0;
    cJSON *root = vt_json_parse(text, len, &why, &at);
    free(text);
    if (!root) return vt_error(VT_ERR_FORMAT, "%s: %s at byte %zu", path, why, at);
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(root, "multi_label_threshold");
    if (v && !(cJSON_IsNumber(v) && v->valuedouble >= 0 && v->valuedouble <= 1))
        st = vt_error(VT_ERR_FORMAT, "%s: multi_label_threshold must be a number in [0, 1]", path);
    else if (v) *out = v->valuedouble;
    cJSON_Delete(root);
    return st;
}

/* The checks a kind makes of what was loaded. */
static vt_status check_kind(const char *dir, vt_task *t, const vt_bert_config *file, const vt_bert_load_info *info) {
    if (vt_task_kind_is_sequence(t->kind)) {
        for (int i = 0; i < info->n_new && i < VT_BERT_LOAD_NOTES; i++)
            if (strstr(info->new_params[i], "classifier")) /* a random head would answer nonsense */
                return vt_error(VT_ERR_FORMAT, "%s has no trained classifier (%s is missing): fine-tune it first", dir,
                                info->new_params[i]);
        vt_task_kind recorded = sequence_kind(file);
        if (recorded != t->kind)
            return vt_error(VT_ERR_INVALID_ARG, "%s is a %s model (problem_type %s), not %s", dir,
                            vt_task_kind_name(recorded), vt_bert_problem_name(file->problem_type) ?: "null",
                            vt_task_kind_name(t->kind));
        if (t->kind == VT_TASK_SEQUENCE_CLASSIFICATION && t->cfg->num_labels < 2)
            return vt_error(VT_ERR_UNSUPPORTED, "%s has num_labels %d: a classifier with 2 or more labels is needed",
                            dir, t->cfg->num_labels);
    }
    bool span_or_tags = t->kind == VT_TASK_TOKEN_CLASSIFICATION || t->kind == VT_TASK_QUESTION_ANSWERING;
    if (span_or_tags && file->arch != t->cfg->arch) /* a head trained for this task, not a fresh one */
        return vt_error(VT_ERR_INVALID_ARG, "%s is a %s, not a %s: fine-tune it with --task %s first", dir,
                        vt_bert_config_arch_name(file), vt_bert_config_arch_name(t->cfg), vt_task_kind_name(t->kind));
    if (t->kind == VT_TASK_FILL_MASK && file->arch != VT_BERT_FOR_PRETRAINING && file->arch != VT_BERT_FOR_MASKED_LM)
        return vt_error(VT_ERR_INVALID_ARG, "%s is a %s, which has no masked-LM head", dir, vt_bert_config_arch_name(file));
    if (t->kind == VT_TASK_FILL_MASK && t->special.mask < 0)
        return vt_error(VT_ERR_FORMAT, "%s: the vocabulary has no [MASK] token", dir);
    int32_t words = vt_wp_vocab_size(vt_tok_vocab(t->tok));
    if (words > t->cfg->vocab_size)
        return vt_error(VT_ERR_FORMAT, "%s: vocab.txt has %d tokens but the model's vocab_size is %lld", dir, words,
                        (long long)t->cfg->vocab_size);
    return VT_OK;
}

vt_task *vt_task_load(const char *dir, const vt_task_options *opt) {
    vt_task_options o;
    if (opt) o = *opt;
    else vt_task_options_default(&o);
    if (!dir || o.batch_size < 1 || o.max_seq_length < 0 || (size_t)o.kind >= N_KINDS)
        return vt_error(VT_ERR_INVALID_ARG, "vt_task_load: a directory, a known kind, batch_size >= 1 and "
                                            "max_seq_length >= 0 are needed"),
               NULL;
    if (vt_baseline_is_dir(dir)) return task_load_baseline(dir, &o);
    vt_bert_config file;
    if (read_config(dir, &file) != VT_OK) return NULL;
    vt_task *t = calloc(1, sizeof *t);
    if (!t) return vt_error(VT_ERR_NOMEM, "out of memory loading %s", dir), NULL;
    t->kind = o.kind;
    t->batch_size = o.batch_size;
    int arch = vt_task_kind_is_sequence(o.kind)              ? VT_BERT_FOR_SEQUENCE_CLASSIFICATION
               : o.kind == VT_TASK_TOKEN_CLASSIFICATION ? VT_BERT_FOR_TOKEN_CLASSIFICATION
               : o.kind == VT_TASK_QUESTION_ANSWERING   ? VT_BERT_FOR_QUESTION_ANSWERING
               : o.kind == VT_TASK_FILL_MASK            ? VT_BERT_FOR_MASKED_LM
                                                        : VT_BERT_MODEL;
    vt_bert_load_info info;
    vt_status st = (t->model = vt_bert_load_ex(dir, arch, 0, 0, &info)) ? VT_OK : vt_last_status();
    /* an int8 directory runs in int8 whatever was asked (its weights are the codes) */
    if (st == VT_OK && vt_bert_get_precision(t->model) != VT_PRECISION_INT8)
        st = vt_bert_set_precision(t->model, o.precision);
    if (st == VT_OK && !(t->tok = vt_tok_load(dir, NULL))) st = vt_last_status();
    if (st == VT_OK) {
        t->cfg = vt_bert_get_config(t->model);
        t->special = vt_tok_special_ids(t->tok);
        const vt_tok_options *to = vt_tok_get_options(t->tok);
        t->max_len = vt_bert_input_length(t->cfg, o.max_seq_length, to->model_max_length);
        t->max_windows = to->max_windows;
        st = check_kind(dir, t, &file, &info);
    }
    if (st == VT_OK && t->kind == VT_TASK_MULTI_LABEL) st = read_threshold(dir, &t->threshold);
    if (st == VT_OK && t->kind == VT_TASK_QUESTION_ANSWERING) st = task_read_qa_settings(dir, t);
    if (st != VT_OK) {
        vt_task_free(t);
        return NULL;
    }
    return t;
}

void vt_task_free(vt_task *t) {
    if (!t) return;
    vt_bert_free(t->model);
    vt_tok_free(t->tok);
    vt_baseline_free(t->baseline);
    free(t->ids), free(t->types), free(t->mask), free(t->select), free(t->order), free(t->offsets);
    free(t);
}

vt_task_kind vt_task_get_kind(const vt_task *t) { return t->kind; }
const vt_bert_config *vt_task_config(const vt_task *t) { return t->cfg; }
const vt_tokenizer *vt_task_tokenizer(const vt_task *t) { return t->tok; }
vt_bert *vt_task_model(vt_task *t) { return t->model; }
int32_t vt_task_max_length(const vt_task *t) { return t->max_len; }
int32_t vt_task_max_windows(const vt_task *t) { return t->max_windows; }
double vt_task_threshold(const vt_task *t) { return t->threshold; }
