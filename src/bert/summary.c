/* A Keras-style summary of a BERT-family model: one row per module, with
 * the parameter counts PyTorch reports (the tied decoder counted once). */
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

static void shape_of(const vt_bert_config *c, bert_shape_kind kind, char *buf, size_t size) {
    long long H = c->hidden_size, V = c->vocab_size, K = c->num_labels;
    switch (kind) {
    case SHAPE_SEQ_H: snprintf(buf, size, "(None, None, %lld)", H); break;
    case SHAPE_VEC_H: snprintf(buf, size, "(None, %lld)", H); break;
    case SHAPE_SEQ_V: snprintf(buf, size, "(None, None, %lld)", V); break;
    case SHAPE_NSP: snprintf(buf, size, "(None, 2)"); break;
    case SHAPE_LABELS:
        if (c->arch == VT_BERT_FOR_TOKEN_CLASSIFICATION || c->arch == VT_BERT_FOR_QUESTION_ANSWERING)
            snprintf(buf, size, "(None, None, %lld)", K);
        else snprintf(buf, size, "(None, %lld)", K);
        break;
    }
}

void vt_bert_summary(const vt_bert *b, FILE *out) {
    const vt_bert_config *c = &b->cfg;
    const bert_family_info *f = bert_family(c->family);
    char shape[64], name[64], count[32];
    fprintf(out, "Model: \"%s\"\n", vt_bert_config_arch_name(c));
    rule(out, '_');
    fprintf(out, " %-44s%-30s%20s\n", "Layer (type)", "Output Shape", "Param #");
    rule(out, '=');
    shape_of(c, SHAPE_SEQ_H, shape, sizeof shape);
    row(out, "embeddings", f->emb_class, shape, count_prefix(b, "embeddings.", false));
    for (int64_t l = 0; l < c->num_hidden_layers; l++) {
        snprintf(name, sizeof name, f->layer, (long long)l);
        int64_t n = count_prefix(b, name, false);
        name[strlen(name) - 1] = '\0';
        row(out, name, f->layer_class, shape, n);
    }
    /* The heads (and the pooler), one row per module present. */
    for (const bert_summary_row *r = f->summary_heads; r->prefix; r++) {
        int64_t n = count_prefix(b, r->prefix, false);
        if (!n || (r->arch >= 0 && r->arch != (int)c->arch)) continue;
        char module[64]; /* the prefix without its final '.' */
        snprintf(module, sizeof module, "%.*s", (int)strlen(r->prefix) - 1, r->prefix);
        shape_of(c, r->shape, shape, sizeof shape);
        row(out, module, r->type, shape, n);
    }
    rule(out, '=');
    int64_t total = count_prefix(b, "", false), trainable = count_prefix(b, "", true);
    fprintf(out, "Total params: %s\n", vt_format_count(total, count, sizeof count));
    fprintf(out, "Trainable params: %s\n", vt_format_count(trainable, count, sizeof count));
    fprintf(out, "Non-trainable params: %s\n", vt_format_count(total - trainable, count, sizeof count));
    rule(out, '_');
}
