/* BERT's parameters: Hugging Face names and shapes, one flat buffer,
 * initialisation as transformers' _init_weights. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "bert/bert_internal.h"
#include "verto/rng.h"

typedef struct table_builder {
    vt_bert *b;
    size_t count;
    int64_t offset;
    bool measuring;
} table_builder;

/* Declares the next parameter; returns its offset (valid once not measuring). */
static float *declare(table_builder *t, const char *name, int64_t rows, int64_t cols) {
    int64_t numel = rows * (cols ? cols : 1);
    if (!t->measuring) {
        vt_bert_param *p = &t->b->table[t->count];
        snprintf(p->name, sizeof p->name, "%s", name);
        p->ndim = cols ? 2 : 1;
        p->shape[0] = rows;
        p->shape[1] = cols;
        p->data = t->b->params + t->offset;
        p->grad = t->b->grads + t->offset;
        p->no_decay = strstr(name, "bias") || strstr(name, "LayerNorm");
        t->b->infos[t->count] = (vt_param_info){.name = p->name, .offset = t->offset, .numel = numel, .trainable = true};
    }
    float *data = t->measuring ? NULL : t->b->params + t->offset;
    t->count++;
    t->offset += numel;
    return data;
}

static bool has_pooler(vt_bert_arch arch) {
    return arch != VT_BERT_FOR_MASKED_LM && arch != VT_BERT_FOR_TOKEN_CLASSIFICATION;
}

static bool has_mlm(vt_bert_arch arch) { return arch == VT_BERT_FOR_PRETRAINING || arch == VT_BERT_FOR_MASKED_LM; }

/* Walks the layout once; fills the table and weight views unless measuring. */
static void layout(table_builder *t) {
    const vt_bert_config *c = &t->b->cfg;
    bert_weights *w = &t->b->w;
    int64_t H = c->hidden_size, I = c->intermediate_size, V = c->vocab_size;
    char name[96];
    w->word_emb = declare(t, "embeddings.word_embeddings.weight", V, H);
    w->pos_emb = declare(t, "embeddings.position_embeddings.weight", c->max_position_embeddings, H);
    w->type_emb = declare(t, "embeddings.token_type_embeddings.weight", c->type_vocab_size, H);
    w->emb_ln_g = declare(t, "embeddings.LayerNorm.weight", H, 0);
    w->emb_ln_b = declare(t, "embeddings.LayerNorm.bias", H, 0);
    for (int64_t l = 0; l < c->num_hidden_layers; l++) {
        bert_layer_params *p = t->measuring ? NULL : &w->layers[l];
        float *ptr;
#define LAYER(field, suffix, rows, cols)                                                  \
    snprintf(name, sizeof name, "encoder.layer.%lld.%s", (long long)l, suffix);           \
    ptr = declare(t, name, rows, cols);                                                   \
    if (p && !p->field) p->field = ptr;
        /* q, k, v weights adjacent, then their biases: a fused (3H, H) projection. */
        LAYER(qkv_w, "attention.self.query.weight", H, H)
        LAYER(qkv_w, "attention.self.key.weight", H, H)
        LAYER(qkv_w, "attention.self.value.weight", H, H)
        LAYER(qkv_b, "attention.self.query.bias", H, 0)
        LAYER(qkv_b, "attention.self.key.bias", H, 0)
        LAYER(qkv_b, "attention.self.value.bias", H, 0)
        LAYER(attn_out_w, "attention.output.dense.weight", H, H)
        LAYER(attn_out_b, "attention.output.dense.bias", H, 0)
        LAYER(ln1_g, "attention.output.LayerNorm.weight", H, 0)
        LAYER(ln1_b, "attention.output.LayerNorm.bias", H, 0)
        LAYER(inter_w, "intermediate.dense.weight", I, H)
        LAYER(inter_b, "intermediate.dense.bias", I, 0)
        LAYER(out_w, "output.dense.weight", H, I)
        LAYER(out_b, "output.dense.bias", H, 0)
        LAYER(ln2_g, "output.LayerNorm.weight", H, 0)
        LAYER(ln2_b, "output.LayerNorm.bias", H, 0)
#undef LAYER
    }
    if (has_pooler(c->arch)) {
        w->pool_w = declare(t, "pooler.dense.weight", H, H);
        w->pool_b = declare(t, "pooler.dense.bias", H, 0);
    }
    if (has_mlm(c->arch)) {
        w->mlm_w = declare(t, "cls.predictions.transform.dense.weight", H, H);
        w->mlm_b = declare(t, "cls.predictions.transform.dense.bias", H, 0);
        w->mlm_ln_g = declare(t, "cls.predictions.transform.LayerNorm.weight", H, 0);
        w->mlm_ln_b = declare(t, "cls.predictions.transform.LayerNorm.bias", H, 0);
        w->mlm_bias = declare(t, "cls.predictions.bias", V, 0);
    }
    if (c->arch == VT_BERT_FOR_PRETRAINING) {
        w->nsp_w = declare(t, "cls.seq_relationship.weight", 2, H);
        w->nsp_b = declare(t, "cls.seq_relationship.bias", 2, 0);
    }
    if (c->arch == VT_BERT_FOR_SEQUENCE_CLASSIFICATION || c->arch == VT_BERT_FOR_TOKEN_CLASSIFICATION) {
        w->cls_w = declare(t, "classifier.weight", c->num_labels, H);
        w->cls_b = declare(t, "classifier.bias", c->num_labels, 0);
    }
}

/* The gradient views mirror the weight views at the same offsets. */
static float *mirror(const vt_bert *b, const float *p) { return p ? b->grads + (p - b->params) : NULL; }

static void mirror_views(vt_bert *b) {
    const bert_weights *w = &b->w;
    bert_weights *g = &b->g;
#define M(field) g->field = mirror(b, w->field)
    M(word_emb); M(pos_emb); M(type_emb); M(emb_ln_g); M(emb_ln_b); M(pool_w); M(pool_b);
    M(mlm_w); M(mlm_b); M(mlm_ln_g); M(mlm_ln_b); M(mlm_bias); M(nsp_w); M(nsp_b); M(cls_w); M(cls_b);
    for (int64_t l = 0; l < b->cfg.num_hidden_layers; l++) {
        M(layers[l].qkv_w); M(layers[l].qkv_b); M(layers[l].attn_out_w); M(layers[l].attn_out_b);
        M(layers[l].ln1_g); M(layers[l].ln1_b); M(layers[l].inter_w); M(layers[l].inter_b);
        M(layers[l].out_w); M(layers[l].out_b); M(layers[l].ln2_g); M(layers[l].ln2_b);
    }
#undef M
}

vt_status bert_build_params(vt_bert *b) {
    table_builder t = {.b = b, .measuring = true};
    layout(&t);
    b->n_params = t.count;
    b->n_floats = t.offset;
    size_t bytes = ((size_t)b->n_floats * sizeof(float) + 63) / 64 * 64;
    b->params = aligned_alloc(64, bytes);
    b->grads = aligned_alloc(64, bytes);
    b->table = calloc(b->n_params, sizeof *b->table);
    b->infos = calloc(b->n_params, sizeof *b->infos);
    b->w.layers = calloc((size_t)b->cfg.num_hidden_layers, sizeof *b->w.layers);
    b->g.layers = calloc((size_t)b->cfg.num_hidden_layers, sizeof *b->g.layers);
    if (!b->params || !b->grads || !b->table || !b->infos || !b->w.layers || !b->g.layers)
        return vt_error(VT_ERR_NOMEM, "out of memory for %lld BERT parameters", (long long)b->n_floats);
    memset(b->grads, 0, (size_t)b->n_floats * sizeof(float));
    t = (table_builder){.b = b};
    layout(&t);
    mirror_views(b);
    return VT_OK;
}

static void init_weights(vt_bert *b, uint64_t seed) {
    vt_rng rng;
    vt_rng_seed(&rng, seed);
    for (size_t i = 0; i < b->n_params; i++) {
        vt_bert_param *p = &b->table[i];
        int64_t n = p->shape[0] * (p->ndim == 2 ? p->shape[1] : 1);
        bool layer_norm_weight = strstr(p->name, "LayerNorm.weight") != NULL;
        for (int64_t j = 0; j < n; j++)
            p->data[j] = p->ndim == 2 ? (float)(b->cfg.initializer_range * vt_rng_normal(&rng)) : layer_norm_weight ? 1.0f : 0.0f;
    }
    int64_t pad = b->cfg.pad_token_id;
    if (pad >= 0 && pad < b->cfg.vocab_size) memset(b->w.word_emb + pad * b->cfg.hidden_size, 0, (size_t)b->cfg.hidden_size * sizeof(float));
}

vt_bert *vt_bert_new(const vt_bert_config *c, uint64_t seed) {
    if (vt_bert_config_check(c, "config") != VT_OK) return NULL;
    vt_bert *b = calloc(1, sizeof *b);
    if (!b) {
        vt_error(VT_ERR_NOMEM, "out of memory creating a BERT model");
        return NULL;
    }
    b->cfg = *c;
    if (bert_build_params(b) != VT_OK) {
        vt_bert_free(b);
        return NULL;
    }
    init_weights(b, seed);
    return b;
}

void vt_bert_free(vt_bert *b) {
    if (!b) return;
    free(b->params);
    free(b->grads);
    free(b->params16);
    free(b->table);
    free(b->infos);
    free(b->w.layers);
    free(b->g.layers);
    free(b->acts);
    vt_arena_free(&b->arena);
    free(b);
}

const vt_bert_config *vt_bert_get_config(const vt_bert *b) { return &b->cfg; }
size_t vt_bert_param_count(const vt_bert *b) { return b->n_params; }
/* Parameters handed out may be written: the bf16 copy is refreshed before
 * the next forward uses it. */
vt_bert_param *vt_bert_param_at(vt_bert *b, size_t i) {
    b->params16_fresh = false;
    return i < b->n_params ? &b->table[i] : NULL;
}

vt_bert_param *vt_bert_param_find(vt_bert *b, const char *name) {
    b->params16_fresh = false;
    for (size_t i = 0; i < b->n_params; i++)
        if (!strcmp(b->table[i].name, name)) return &b->table[i];
    return NULL;
}

float *vt_bert_params(vt_bert *b, int64_t *n) {
    b->params16_fresh = false;
    if (n) *n = b->n_floats;
    return b->params;
}

vt_status vt_bert_set_precision(vt_bert *b, vt_precision p) {
    if (p != VT_PRECISION_FP32 && p != VT_PRECISION_BF16)
        return vt_error(VT_ERR_INVALID_ARG, "unknown precision %d", (int)p);
    if (p == b->precision) return VT_OK;
    if (p == VT_PRECISION_BF16) {
        if (!b->params16 && !(b->params16 = malloc((size_t)b->n_floats * sizeof *b->params16)))
            return vt_error(VT_ERR_NOMEM, "out of memory for the bf16 copy of %lld parameters", (long long)b->n_floats);
    } else {
        free(b->params16);
        b->params16 = NULL;
    }
    b->precision = p;
    b->params16_fresh = false;
    b->planned = false; /* the activation plan differs */
    return VT_OK;
}

vt_precision vt_bert_get_precision(const vt_bert *b) { return b->precision; }

const char *vt_precision_name(vt_precision p) { return p == VT_PRECISION_BF16 ? "bf16" : "fp32"; }

bool vt_precision_parse(const char *name, vt_precision *out) {
    if (!strcmp(name, "fp32") || !strcmp(name, "float32")) *out = VT_PRECISION_FP32;
    else if (!strcmp(name, "bf16") || !strcmp(name, "bfloat16")) *out = VT_PRECISION_BF16;
    else return false;
    return true;
}

float *vt_bert_grads(vt_bert *b, int64_t *n) {
    if (n) *n = b->n_floats;
    return b->grads;
}

const vt_param_info *vt_bert_param_infos(const vt_bert *b, size_t *n) {
    if (n) *n = b->n_params;
    return b->infos;
}

void vt_bert_freeze_layers(vt_bert *b, int k) {
    b->frozen_layers = k > 0 ? k : 0;
    char prefix[64];
    for (size_t i = 0; i < b->n_params; i++) {
        bool frozen = false;
        if (k > 0 && !strncmp(b->table[i].name, "embeddings.", 11)) frozen = true;
        for (int l = 0; l < k && !frozen; l++) {
            snprintf(prefix, sizeof prefix, "encoder.layer.%d.", l);
            frozen = !strncmp(b->table[i].name, prefix, strlen(prefix));
        }
        b->infos[i].trainable = !frozen;
    }
}

vt_status vt_bert_set_labels(vt_bert *b, const char *const *names, int n) {
    if (n != b->cfg.num_labels)
        return vt_error(VT_ERR_INVALID_ARG, "%d label names given for a model with %d labels", n, b->cfg.num_labels);
    for (int i = 0; i < n; i++)
        if (!names[i] || strlen(names[i]) >= VT_BERT_LABEL_MAX)
            return vt_error(VT_ERR_INVALID_ARG, "label %d is missing or longer than %d bytes", i, VT_BERT_LABEL_MAX - 1);
    for (int i = 0; i < n; i++) snprintf(b->cfg.id2label[i], VT_BERT_LABEL_MAX, "%s", names[i]);
    return VT_OK;
}
