/* Loading a task: a model directory, its tokenizer and the settings it was
 * fine-tuned with (see verto/task.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "task/task_internal.h"

const char *vt_task_kind_name(vt_task_kind kind) {
    switch (kind) {
    case VT_TASK_FEATURES: return "features";
    case VT_TASK_SEQUENCE_CLASSIFICATION: return "sequence-classification";
    case VT_TASK_FILL_MASK: return "fill-mask";
    }
    return "unknown";
}

static vt_status read_config(const char *dir, vt_bert_config *c) {
    char path[4096];
    if (snprintf(path, sizeof path, "%s/config.json", dir) >= (int)sizeof path)
        return vt_error(VT_ERR_INVALID_ARG, "model directory name too long: %s", dir);
    return vt_bert_config_read(path, c);
}

vt_status vt_task_kind_of_dir(const char *dir, vt_task_kind *out) {
    vt_bert_config c;
    vt_status st = read_config(dir, &c);
    if (st != VT_OK) return st;
    *out = c.arch == VT_BERT_FOR_SEQUENCE_CLASSIFICATION                             ? VT_TASK_SEQUENCE_CLASSIFICATION
           : c.arch == VT_BERT_FOR_PRETRAINING || c.arch == VT_BERT_FOR_MASKED_LM ? VT_TASK_FILL_MASK
                                                                                  : VT_TASK_FEATURES;
    return VT_OK;
}

void vt_task_options_default(vt_task_options *o) {
    *o = (vt_task_options){.kind = VT_TASK_FEATURES, .precision = VT_PRECISION_FP32, .batch_size = 32};
}

/* The checks a kind makes of what was loaded. */
static vt_status check_kind(const char *dir, vt_task *t, const vt_bert_config *file, const vt_bert_load_info *info) {
    if (t->kind == VT_TASK_SEQUENCE_CLASSIFICATION) {
        for (int i = 0; i < info->n_new && i < VT_BERT_LOAD_NOTES; i++)
            if (strstr(info->new_params[i], "classifier")) /* a random head would answer nonsense */
                return vt_error(VT_ERR_FORMAT, "%s has no trained classifier (%s is missing): fine-tune it first", dir,
                                info->new_params[i]);
        if (t->cfg->num_labels < 2)
            return vt_error(VT_ERR_UNSUPPORTED, "%s has num_labels %d: a classifier with 2 or more labels is needed",
                            dir, t->cfg->num_labels);
    }
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
    if (!dir || o.batch_size < 1 || o.max_seq_length < 0 || (unsigned)o.kind > VT_TASK_FILL_MASK)
        return vt_error(VT_ERR_INVALID_ARG, "vt_task_load: a directory, a known kind, batch_size >= 1 and "
                                            "max_seq_length >= 0 are needed"),
               NULL;
    vt_bert_config file;
    if (read_config(dir, &file) != VT_OK) return NULL;
    vt_task *t = calloc(1, sizeof *t);
    if (!t) return vt_error(VT_ERR_NOMEM, "out of memory loading %s", dir), NULL;
    t->kind = o.kind;
    t->batch_size = o.batch_size;
    int arch = o.kind == VT_TASK_SEQUENCE_CLASSIFICATION ? VT_BERT_FOR_SEQUENCE_CLASSIFICATION
               : o.kind == VT_TASK_FILL_MASK             ? VT_BERT_FOR_MASKED_LM
                                                         : VT_BERT_MODEL;
    vt_bert_load_info info;
    vt_status st = (t->model = vt_bert_load_ex(dir, arch, 0, 0, &info)) ? VT_OK : vt_last_status();
    if (st == VT_OK) st = vt_bert_set_precision(t->model, o.precision);
    if (st == VT_OK && !(t->tok = vt_tok_load(dir, NULL))) st = vt_last_status();
    if (st == VT_OK) {
        t->cfg = vt_bert_get_config(t->model);
        t->special = vt_tok_special_ids(t->tok);
        const vt_tok_options *to = vt_tok_get_options(t->tok);
        t->max_len = vt_bert_input_length(t->cfg, o.max_seq_length, to->model_max_length);
        t->max_windows = to->max_windows;
        st = check_kind(dir, t, &file, &info);
    }
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
    free(t->ids), free(t->types), free(t->mask), free(t->select), free(t->order);
    free(t);
}

vt_task_kind vt_task_get_kind(const vt_task *t) { return t->kind; }
const vt_bert_config *vt_task_config(const vt_task *t) { return t->cfg; }
const vt_tokenizer *vt_task_tokenizer(const vt_task *t) { return t->tok; }
vt_bert *vt_task_model(vt_task *t) { return t->model; }
int32_t vt_task_max_length(const vt_task *t) { return t->max_len; }
int32_t vt_task_max_windows(const vt_task *t) { return t->max_windows; }
