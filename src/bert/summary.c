/* A Keras-style summary of a BERT model: one row per module, with the
 * parameter counts PyTorch reports (the tied decoder counted once). */
#include <string.h>

#include "bert/bert_internal.h"
#include "core/format.h"

#define WIDTH 98

static void rule(FILE *out, char c) { vt_print_rule(out, c, WIDTH); }


/* Parameters whose names start with `prefix`. */
static int64_t count_prefix(const vt_bert *b, const char *prefix, bool trainable_only) {
    int64_t total = 0;
    for (size_t i = 0; i < b->n_params; i++)
        if (!strncmp(b->table[i].name, prefix, strlen(prefix)) && (!trainable_only || b->infos[i].trainable))
            total += b->infos[i].numel;
    return total;
}

static void row(FILE *out, const char *name, const char *type, const char *shape, int64_t params) {
    char cell[160], count[32];
    snprintf(cell, sizeof cell, "%s (%s)", name, type);
    fprintf(out, " %-44s%-30s%20s\n", cell, shape, vt_format_count(params, count, sizeof count));
}

void vt_bert_summary(const vt_bert *b, FILE *out) {
    const vt_bert_config *c = &b->cfg;
    char shape[64], name[64], count[32];
    fprintf(out, "Model: \"%s\"\n", vt_bert_arch_name(c->arch));
    rule(out, '_');
    fprintf(out, " %-44s%-30s%20s\n", "Layer (type)", "Output Shape", "Param #");
    rule(out, '=');
    snprintf(shape, sizeof shape, "(None, None, %lld)", (long long)c->hidden_size);
    row(out, "embeddings", "BertEmbeddings", shape, count_prefix(b, "embeddings.", false));
    for (int64_t l = 0; l < c->num_hidden_layers; l++) {
        snprintf(name, sizeof name, "encoder.layer.%lld.", (long long)l);
        int64_t n = count_prefix(b, name, false);
        name[strlen(name) - 1] = '\0';
        row(out, name, "BertLayer", shape, n);
    }
    char pooled[64];
    snprintf(pooled, sizeof pooled, "(None, %lld)", (long long)c->hidden_size);
    if (b->w.pool_w) row(out, "pooler", "BertPooler", pooled, count_prefix(b, "pooler.", false));
    if (b->w.mlm_w) {
        snprintf(shape, sizeof shape, "(None, None, %lld)", (long long)c->vocab_size);
        row(out, "cls.predictions", "BertLMPredictionHead", shape, count_prefix(b, "cls.predictions.", false));
    }
    if (b->w.nsp_w) row(out, "cls.seq_relationship", "Linear", "(None, 2)", count_prefix(b, "cls.seq_relationship.", false));
    if (b->w.cls_w) {
        if (c->arch == VT_BERT_FOR_TOKEN_CLASSIFICATION) snprintf(shape, sizeof shape, "(None, None, %d)", c->num_labels);
        else snprintf(shape, sizeof shape, "(None, %d)", c->num_labels);
        row(out, "classifier", "Linear", shape, count_prefix(b, "classifier.", false));
    }
    rule(out, '=');
    int64_t total = count_prefix(b, "", false), trainable = count_prefix(b, "", true);
    fprintf(out, "Total params: %s\n", vt_format_count(total, count, sizeof count));
    fprintf(out, "Trainable params: %s\n", vt_format_count(trainable, count, sizeof count));
    fprintf(out, "Non-trainable params: %s\n", vt_format_count(total - trainable, count, sizeof count));
    rule(out, '_');
}
