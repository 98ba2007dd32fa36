/* The parameters of a BERT-family model: Hugging Face names (the family's,
 * from family.c) and shapes, one flat buffer, initialisation as transformers'
 * _init_weights. */
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

/* Biases and LayerNorm parameters (however the family names its LayerNorms). */
static bool is_no_decay(const char *name) {
    return strstr(name, "bias") || strstr(name, "LayerNorm") || strstr(name, "layer_norm");
}

/* Declares the next parameter, named module + suffix; returns its data
 * (valid once not measuring). */
static float *declare(table_builder *t, const char *module, const char *suffix, int64_t rows, int64_t cols) {
    int64_t numel = rows * (cols ? cols : 1);
    if (!t->measuring) {
        vt_bert_param *p = &t->b->table[t->count];
        snprintf(p->name, sizeof p->name, "%s%s", module, suffix);
        p->ndim = cols ? 2 : 1;
        p->shape[0] = rows;
        p->shape[1] = cols;
        p->data = t->b->params + t->offset;
        p->grad = t->b->grads + t->offset;
        p->no_decay = is_no_decay(p->name);
        t->b->infos[t->count] = (vt_param_info){.name = p->name, .offset = t->offset, .numel = numel, .trainable = true};
    }
    float *data = t->measuring ? NULL : t->b->params + t->offset;
    t->count++;
    t->offset += numel;
    return data;
}

/* A dense layer's weight (out, in) and bias (out). */
static void dense(table_builder *t, const char *module, int64_t out, int64_t in, float **w, float **b) {
    *w = declare(t, module, ".weight", out, in);
    *b = declare(t, module, ".bias", out, 0);
}

/* A LayerNorm's gain and bias (width). */
static void layer_norm(table_builder *t, const char *module, int64_t width, float **g, float **b) {
    *g = declare(t, module, ".weight", width, 0);
    *b = declare(t, module, ".bias", width, 0);
}

static bool has_mlm(vt_bert_arch arch) { return arch == VT_BERT_FOR_PRETRAINING || arch == VT_BERT_FOR_MASKED_LM; }

const char *bert_pool_module(const vt_bert_config *c) {
    const bert_family_info *f = bert_family(c->family);
    switch (c->arch) {
    case VT_BERT_MODEL:
    case VT_BERT_FOR_PRETRAINING: return f->pooler;
    case VT_BERT_FOR_SEQUENCE_CLASSIFICATION: return f->seq_dense ? f->seq_dense : f->pooler;
    default: return NULL;
    }
}

bool bert_pool_is_pooler(const vt_bert_config *c) {
    const char *m = bert_pool_module(c);
    return m && m == bert_family(c->family)->pooler;
}

/* Walks the layout once; fills the table and weight views unless measuring.
 * The flat buffer holds the embeddings, then each layer, then the heads. */
static void layout(table_builder *t) {
    const vt_bert_config *c = &t->b->cfg;
    const bert_family_info *f = bert_family(c->family);
    bert_weights *w = &t->b->w;
    int64_t H = c->hidden_size, I = c->intermediate_size, V = c->vocab_size;
    w->word_emb = declare(t, f->word_emb, ".weight", V, H);
    w->pos_emb = declare(t, f->pos_emb, ".weight", c->max_position_embeddings, H);
    if (c->type_vocab_size > 0) w->type_emb = declare(t, f->type_emb, ".weight", c->type_vocab_size, H);
    layer_norm(t, f->emb_ln, H, &w->emb_ln_g, &w->emb_ln_b);
    for (int64_t l = 0; l < c->num_hidden_layers; l++) {
        bert_layer_params scratch, *p = t->measuring ? &scratch : &w->layers[l];
        char prefix[64], m[128];
        snprintf(prefix, sizeof prefix, f->layer, (long long)l);
#define MODULE(name) (snprintf(m, sizeof m, "%s%s", prefix, name), m)
        /* q, k, v weights adjacent, then their biases: a fused (3H, H) projection. */
        p->qkv_w = declare(t, MODULE(f->query), ".weight", H, H);
        declare(t, MODULE(f->key), ".weight", H, H);
        declare(t, MODULE(f->value), ".weight", H, H);
        p->qkv_b = declare(t, MODULE(f->query), ".bias", H, 0);
        declare(t, MODULE(f->key), ".bias", H, 0);
        declare(t, MODULE(f->value), ".bias", H, 0);
        dense(t, MODULE(f->attn_out), H, H, &p->attn_out_w, &p->attn_out_b);
        layer_norm(t, MODULE(f->attn_ln), H, &p->ln1_g, &p->ln1_b);
        dense(t, MODULE(f->inter), I, H, &p->inter_w, &p->inter_b);
        dense(t, MODULE(f->out), H, I, &p->out_w, &p->out_b);
        layer_norm(t, MODULE(f->out_ln), H, &p->ln2_g, &p->ln2_b);
#undef MODULE
    }
    const char *pool = bert_pool_module(c);
    if (pool) dense(t, pool, H, H, &w->pool_w, &w->pool_b);
    if (has_mlm(c->arch)) {
        dense(t, f->mlm_dense, H, H, &w->mlm_w, &w->mlm_b);
        layer_norm(t, f->mlm_ln, H, &w->mlm_ln_g, &w->mlm_ln_b);
        w->mlm_bias = declare(t, f->mlm_bias, "", V, 0);
    }
    if (c->arch == VT_BERT_FOR_PRETRAINING) dense(t, f->nsp, 2, H, &w->nsp_w, &w->nsp_b);
    if (c->arch == VT_BERT_FOR_SEQUENCE_CLASSIFICATION) dense(t, f->seq_out, c->num_labels, H, &w->cls_w, &w->cls_b);
    if (c->arch == VT_BERT_FOR_TOKEN_CLASSIFICATION) dense(t, f->tok_out, c->num_labels, H, &w->cls_w, &w->cls_b);
    /* qa_outputs: (num_labels = 2, H), the start and end scores of every token, in the classifier's views. */
    if (c->arch == VT_BERT_FOR_QUESTION_ANSWERING) dense(t, f->qa_out, c->num_labels, H, &w->cls_w, &w->cls_b);
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

/* transformers' create_sinusoidal_embeddings (DistilBERT): row p, column j is
 * sin (j even) or cos (j odd) of p / 10000^(2 floor(j/2) / H), in double, then float. */
static void sinusoidal_positions(float *table, int64_t positions, int64_t H) {
    for (int64_t p = 0; p < positions; p++)
        for (int64_t j = 0; j < H; j++) {
            double angle = (double)p / pow(10000.0, 2.0 * (double)(j / 2) / (double)H);
            table[p * H + j] = (float)(j % 2 ? cos(angle) : sin(angle));
        }
}

static void init_weights(vt_bert *b, uint64_t seed) {
    const vt_bert_config *c = &b->cfg;
    vt_rng rng;
    vt_rng_seed(&rng, seed);
    for (size_t i = 0; i < b->n_params; i++) {
        vt_bert_param *p = &b->table[i];
        int64_t n = p->shape[0] * (p->ndim == 2 ? p->shape[1] : 1);
        bool layer_norm_weight = strstr(p->name, "LayerNorm.weight") || strstr(p->name, "layer_norm.weight");
        for (int64_t j = 0; j < n; j++)
            p->data[j] = p->ndim == 2 ? (float)(c->initializer_range * vt_rng_normal(&rng)) : layer_norm_weight ? 1.0f : 0.0f;
    }
    /* nn.Embedding's padding_idx row starts at zero: the word embeddings', and RoBERTa's positions'. */
    int64_t pad = c->pad_token_id, H = c->hidden_size;
    if (pad >= 0 && pad < c->vocab_size) memset(b->w.word_emb + pad * H, 0, (size_t)H * sizeof(float));
    if (bert_family(c->family)->positions_after_padding && pad >= 0 && pad < c->max_position_embeddings)
        memset(b->w.pos_emb + pad * H, 0, (size_t)H * sizeof(float));
    if (c->sinusoidal_pos_embds) sinusoidal_positions(b->w.pos_emb, c->max_position_embeddings, H);
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
    bert_int8_free(b->int8);
    free(b->table);
    free(b->infos);
    free(b->w.layers);
    free(b->g.layers);
    free(b->acts);
    vt_arena_free(&b->arena);
    blk_kept_free(b->kept);
    free(b->kept);
    free(b->saved_loss_grads);
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
    if (p != VT_PRECISION_FP32 && p != VT_PRECISION_BF16 && p != VT_PRECISION_INT8)
        return vt_error(VT_ERR_INVALID_ARG, "unknown precision %d", (int)p);
    if (p == b->precision) return VT_OK;
    if (p == VT_PRECISION_BF16) {
        if (!b->params16 && !(b->params16 = malloc((size_t)b->n_floats * sizeof *b->params16)))
            return vt_error(VT_ERR_NOMEM, "out of memory for the bf16 copy of %lld parameters", (long long)b->n_floats);
    } else {
        free(b->params16);
        b->params16 = NULL;
    }
    if (p == VT_PRECISION_INT8) {
        vt_status st = bert_int8_quantize(b);
        if (st != VT_OK) return st;
    } else {
        bert_int8_free(b->int8);
        b->int8 = NULL;
    }
    b->precision = p;
    b->params16_fresh = false;
    b->planned = false; /* the activation plan differs */
    return VT_OK;
}

vt_precision vt_bert_get_precision(const vt_bert *b) { return b->precision; }

const char *vt_precision_name(vt_precision p) {
    return p == VT_PRECISION_BF16 ? "bf16" : p == VT_PRECISION_INT8 ? "int8" : "fp32";
}

bool vt_precision_parse(const char *name, vt_precision *out) {
    if (!strcmp(name, "fp32") || !strcmp(name, "float32")) *out = VT_PRECISION_FP32;
    else if (!strcmp(name, "bf16") || !strcmp(name, "bfloat16")) *out = VT_PRECISION_BF16;
    else if (!strcmp(name, "int8")) *out = VT_PRECISION_INT8;
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
    const char *layer = bert_family(b->cfg.family)->layer;
    char prefix[64];
    for (size_t i = 0; i < b->n_params; i++) {
        bool frozen = false;
        if (k > 0 && !strncmp(b->table[i].name, "embeddings.", 11)) frozen = true;
        for (int l = 0; l < k && !frozen; l++) {
            snprintf(prefix, sizeof prefix, layer, (long long)l);
            frozen = !strncmp(b->table[i].name, prefix, strlen(prefix));
        }
        b->infos[i].trainable = !frozen;
    }
}

vt_status vt_bert_set_problem_type(vt_bert *b, vt_bert_problem p) {
    if (!b) return vt_error(VT_ERR_INVALID_ARG, "vt_bert_set_problem_type: no model given");
    vt_bert_config c = b->cfg;
    if (c.arch != VT_BERT_FOR_SEQUENCE_CLASSIFICATION)
        return vt_error(VT_ERR_INVALID_ARG, "problem_type is a sequence classifier's, not %s's",
                        vt_bert_config_arch_name(&c));
    c.problem_type = p;
    vt_status st = vt_bert_config_check(&c, "problem_type");
    if (st == VT_OK) b->cfg.problem_type = p;
    return st;
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
