/* GPT-2's parameters: Hugging Face's names (without "transformer."), one flat
 * buffer in the order wte, wpe, each block, ln_f; transformers' _init_weights;
 * and the blocks (src/blocks) they make. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/format.h"
#include "gpt2/gpt2_internal.h"
#include "verto/rng.h"

typedef struct table_builder {
    vt_gpt2 *m;
    size_t count;
    int64_t offset;
    bool measuring;
} table_builder;

/* Declares the next parameter module + suffix of (rows) or (rows, cols);
 * returns its data (NULL while measuring). */
static float *declare(table_builder *t, const char *module, const char *suffix, int64_t rows, int64_t cols,
                      bool conv1d) {
    int64_t numel = rows * (cols ? cols : 1);
    float *data = NULL;
    if (!t->measuring) {
        vt_gpt2 *m = t->m;
        vt_gpt2_param *p = &m->table[t->count];
        snprintf(p->name, sizeof p->name, "%s%s", module, suffix);
        p->ndim = cols ? 2 : 1;
        p->shape[0] = rows;
        p->shape[1] = cols;
        p->data = data = m->params + t->offset;
        p->grad = m->grads + t->offset;
        p->no_decay = !cols; /* biases and LayerNorm parameters */
        m->conv1d[t->count] = conv1d;
        m->infos[t->count] = (vt_param_info){.name = p->name, .offset = t->offset, .numel = numel, .trainable = true};
    }
    t->count++;
    t->offset += numel;
    return data;
}

/* A Conv1D layer held as a dense (out, in) weight and its bias. */
static void conv1d(table_builder *t, const char *module, int64_t out, int64_t in, float **w, float **b) {
    *w = declare(t, module, ".weight", out, in, true);
    *b = declare(t, module, ".bias", out, 0, false);
}

static void layer_norm(table_builder *t, const char *module, int64_t width, float **g, float **b) {
    *g = declare(t, module, ".weight", width, 0, false);
    *b = declare(t, module, ".bias", width, 0, false);
}

static void layout(table_builder *t) {
    const vt_gpt2_config *c = &t->m->cfg;
    gpt2_weights *w = &t->m->w;
    int64_t H = c->n_embd, I = vt_gpt2_inner(c);
    w->wte = declare(t, "wte", ".weight", c->vocab_size, H, false);
    w->wpe = declare(t, "wpe", ".weight", c->n_positions, H, false);
    for (int64_t l = 0; l < c->n_layer; l++) {
        gpt2_layer_params scratch, *p = t->measuring ? &scratch : &w->layers[l];
        char m[64];
#define MODULE(name) (snprintf(m, sizeof m, "h.%lld.%s", (long long)l, name), m)
        layer_norm(t, MODULE("ln_1"), H, &p->ln1_g, &p->ln1_b);
        conv1d(t, MODULE("attn.c_attn"), 3 * H, H, &p->qkv_w, &p->qkv_b);
        conv1d(t, MODULE("attn.c_proj"), H, H, &p->proj_w, &p->proj_b);
        layer_norm(t, MODULE("ln_2"), H, &p->ln2_g, &p->ln2_b);
        conv1d(t, MODULE("mlp.c_fc"), I, H, &p->fc_w, &p->fc_b);
        conv1d(t, MODULE("mlp.c_proj"), H, I, &p->out_w, &p->out_b);
#undef MODULE
    }
    layer_norm(t, "ln_f", H, &w->lnf_g, &w->lnf_b);
}

static float *mirror(const vt_gpt2 *m, const float *p) { return m->grads + (p - m->params); }

static void mirror_views(vt_gpt2 *m) {
    const gpt2_weights *w = &m->w;
    gpt2_weights *g = &m->g;
#define M(field) g->field = mirror(m, w->field)
    M(wte); M(wpe); M(lnf_g); M(lnf_b);
    for (int64_t l = 0; l < m->cfg.n_layer; l++) {
        M(layers[l].ln1_g); M(layers[l].ln1_b); M(layers[l].qkv_w); M(layers[l].qkv_b);
        M(layers[l].proj_w); M(layers[l].proj_b); M(layers[l].ln2_g); M(layers[l].ln2_b);
        M(layers[l].fc_w); M(layers[l].fc_b); M(layers[l].out_w); M(layers[l].out_b);
    }
#undef M
}

vt_status gpt2_build_params(vt_gpt2 *m) {
    table_builder t = {.m = m, .measuring = true};
    layout(&t);
    m->n_params = t.count;
    m->n_floats = t.offset;
    size_t bytes = ((size_t)m->n_floats * sizeof(float) + 63) / 64 * 64;
    m->params = aligned_alloc(64, bytes);
    m->grads = aligned_alloc(64, bytes);
    m->table = calloc(m->n_params, sizeof *m->table);
    m->conv1d = calloc(m->n_params, sizeof *m->conv1d);
    m->infos = calloc(m->n_params, sizeof *m->infos);
    m->w.layers = calloc((size_t)m->cfg.n_layer, sizeof *m->w.layers);
    m->g.layers = calloc((size_t)m->cfg.n_layer, sizeof *m->g.layers);
    if (!m->params || !m->grads || !m->table || !m->conv1d || !m->infos || !m->w.layers || !m->g.layers)
        return vt_error(VT_ERR_NOMEM, "out of memory for %lld GPT-2 parameters", (long long)m->n_floats);
    memset(m->grads, 0, (size_t)m->n_floats * sizeof(float));
    t = (table_builder){.m = m};
    layout(&t);
    mirror_views(m);
    return VT_OK;
}

/* GPT2PreTrainedModel._init_weights: the residual projections (c_proj) scaled
 * by 1 / sqrt(2 n_layer). */
static void init_weights(vt_gpt2 *m, uint64_t seed) {
    const vt_gpt2_config *c = &m->cfg;
    vt_rng rng;
    vt_rng_seed(&rng, seed);
    double proj_std = c->initializer_range / sqrt(2.0 * (double)c->n_layer);
    for (size_t i = 0; i < m->n_params; i++) {
        vt_gpt2_param *p = &m->table[i];
        int64_t n = p->shape[0] * (p->ndim == 2 ? p->shape[1] : 1);
        bool ln_weight = p->ndim == 1 && strstr(p->name, "ln_") && strstr(p->name, ".weight");
        double std = strstr(p->name, "c_proj.weight") ? proj_std : c->initializer_range;
        for (int64_t j = 0; j < n; j++)
            p->data[j] = p->ndim == 2 ? (float)(std * vt_rng_normal(&rng)) : ln_weight ? 1.0f : 0.0f;
    }
}

vt_gpt2 *gpt2_alloc(const vt_gpt2_config *c) {
    if (!c) {
        vt_error(VT_ERR_INVALID_ARG, "vt_gpt2_new: no config given");
        return NULL;
    }
    if (vt_gpt2_config_check(c, "config") != VT_OK) return NULL;
    vt_gpt2 *m = calloc(1, sizeof *m);
    if (!m) {
        vt_error(VT_ERR_NOMEM, "out of memory creating a GPT-2 model");
        return NULL;
    }
    m->cfg = *c;
    if (gpt2_build_params(m) != VT_OK) {
        vt_gpt2_free(m);
        return NULL;
    }
    return m;
}

vt_gpt2 *vt_gpt2_new(const vt_gpt2_config *c, uint64_t seed) {
    vt_gpt2 *m = gpt2_alloc(c);
    if (m) init_weights(m, seed);
    return m;
}

void vt_gpt2_free(vt_gpt2 *m) {
    if (!m) return;
    gpt2_lora_free(m->lora);
    free(m->params);
    free(m->grads);
    free(m->params16);
    free(m->table);
    free(m->conv1d);
    free(m->infos);
    free(m->w.layers);
    free(m->g.layers);
    free(m->units);
    free(m->acts);
    vt_arena_free(&m->arena);
    free(m);
}

const vt_gpt2_config *vt_gpt2_get_config(const vt_gpt2 *m) { return &m->cfg; }
size_t vt_gpt2_param_count(const vt_gpt2 *m) { return m->n_params; }
bool vt_gpt2_param_is_conv1d(const vt_gpt2 *m, size_t i) { return i < m->n_params && m->conv1d[i]; }
int64_t vt_gpt2_num_parameters(const vt_gpt2 *m) { return m->n_floats; }

/* Parameters handed out may be written: the bf16 copy is refreshed before
 * the next forward uses it. */
vt_gpt2_param *vt_gpt2_param_at(vt_gpt2 *m, size_t i) {
    m->params16_fresh = false;
    return i < m->n_params ? &m->table[i] : NULL;
}

vt_gpt2_param *vt_gpt2_param_find(vt_gpt2 *m, const char *name) {
    m->params16_fresh = false;
    for (size_t i = 0; i < m->n_params; i++)
        if (!strcmp(m->table[i].name, name)) return &m->table[i];
    return NULL;
}

float *vt_gpt2_params(vt_gpt2 *m, int64_t *n) {
    m->params16_fresh = false;
    if (n) *n = m->n_floats;
    return m->params;
}

float *vt_gpt2_grads(vt_gpt2 *m, int64_t *n) {
    if (n) *n = m->n_floats;
    return m->grads;
}

const vt_param_info *vt_gpt2_param_infos(const vt_gpt2 *m, size_t *n) {
    if (n) *n = m->n_params;
    return m->infos;
}

vt_status vt_gpt2_set_precision(vt_gpt2 *m, vt_precision p) {
    if (p != VT_PRECISION_FP32 && p != VT_PRECISION_BF16)
        return vt_error(VT_ERR_INVALID_ARG, "unknown precision %d", (int)p);
    if (p == m->precision) return VT_OK;
    if (p == VT_PRECISION_BF16) {
        if (!m->params16 && !(m->params16 = malloc((size_t)m->n_floats * sizeof *m->params16)))
            return vt_error(VT_ERR_NOMEM, "out of memory for the bf16 copy of %lld parameters", (long long)m->n_floats);
    } else if (!m->decode_bf16) {
        free(m->params16);
        m->params16 = NULL;
    }
    m->precision = p;
    m->params16_fresh = false;
    m->planned = false; /* the activation plan differs */
    return VT_OK;
}

vt_precision vt_gpt2_get_precision(const vt_gpt2 *m) { return m->precision; }

vt_status vt_gpt2_set_decode_precision(vt_gpt2 *m, vt_precision p) {
    if (!m) return vt_error(VT_ERR_INVALID_ARG, "vt_gpt2_set_decode_precision: no model given");
    if (p != VT_PRECISION_FP32 && p != VT_PRECISION_BF16)
        return vt_error(VT_ERR_INVALID_ARG, "decoding runs in fp32 or bf16, not precision %d", (int)p);
    if (p == VT_PRECISION_BF16 && !m->params16) {
        if (!(m->params16 = malloc((size_t)m->n_floats * sizeof *m->params16)))
            return vt_error(VT_ERR_NOMEM, "out of memory for the bf16 copy of %lld parameters", (long long)m->n_floats);
        m->params16_fresh = false;
    }
    m->decode_bf16 = p == VT_PRECISION_BF16;
    if (!m->decode_bf16 && m->precision == VT_PRECISION_FP32) {
        free(m->params16);
        m->params16 = NULL;
    }
    return VT_OK;
}

vt_precision vt_gpt2_get_decode_precision(const vt_gpt2 *m) {
    return m->decode_bf16 || m->precision == VT_PRECISION_BF16 ? VT_PRECISION_BF16 : VT_PRECISION_FP32;
}

void gpt2_refresh_params16(vt_gpt2 *m) {
    if (!m->params16 || m->params16_fresh) return;
    vt_f32_to_bf16(m->params, m->params16, m->n_floats);
    m->params16_fresh = true;
}

blk_ctx gpt2_ctx(const vt_gpt2 *m, bool one_product) {
    return (blk_ctx){.precision = m->precision, .training = one_product, .dy16 = m->dy16};
}

blk_linear gpt2_dense(const vt_gpt2 *m, const float *W, const float *bias, float *dW, float *db, int64_t in,
                      int64_t out) {
    const vt_bf16 *W16 = m->params16 ? m->params16 + (W - m->params) : NULL;
    if (m->lora) dW = db = NULL; /* the base is frozen under an adapter */
    return (blk_linear){.W = W, .b = bias, .W16 = W16, .dW = dW, .db = db, .in = in, .out = out};
}

/* Seeds of the dropout sites, distinct per unit and the attention's. */
static uint64_t site(int64_t k) { return (uint64_t)(16 + k); }

blk_attention gpt2_attention(const vt_gpt2 *m, int64_t l, float drop, uint64_t seed) {
    const gpt2_layer_params *p = &m->w.layers[l];
    gpt2_layer_params *g = &m->g.layers[l];
    int64_t H = m->cfg.n_embd;
    blk_attention a = {.qkv = gpt2_dense(m, p->qkv_w, p->qkv_b, g->qkv_w, g->qkv_b, H, 3 * H),
                       .out = gpt2_dense(m, p->proj_w, p->proj_b, g->proj_w, g->proj_b, H, H),
                       .heads = m->cfg.n_head, .dropout = drop,
                       .seed = vt_hash64(seed, site(2 * m->cfg.n_layer + 1 + l)), .causal = true};
    gpt2_lora_attach(m, l, 0, &a.qkv);
    gpt2_lora_attach(m, l, 1, &a.out);
    return a;
}

blk_ffn gpt2_mlp(const vt_gpt2 *m, int64_t l) {
    const gpt2_layer_params *p = &m->w.layers[l];
    gpt2_layer_params *g = &m->g.layers[l];
    int64_t H = m->cfg.n_embd, I = vt_gpt2_inner(&m->cfg);
    blk_ffn f = {.up = gpt2_dense(m, p->fc_w, p->fc_b, g->fc_w, g->fc_b, H, I),
                 .down = gpt2_dense(m, p->out_w, p->out_b, g->out_w, g->out_b, I, H), .act = m->cfg.activation};
    gpt2_lora_attach(m, l, 2, &f.up);
    gpt2_lora_attach(m, l, 3, &f.down);
    return f;
}

blk_add_norm gpt2_unit(const vt_gpt2 *m, int64_t k, float drop, uint64_t seed) {
    int64_t l = k / 2, L = m->cfg.n_layer;
    const float *gamma, *beta;
    float *dgamma, *dbeta;
    if (k == 2 * L) {
        gamma = m->w.lnf_g, beta = m->w.lnf_b, dgamma = m->g.lnf_g, dbeta = m->g.lnf_b;
    } else if (k % 2 == 0) { /* the residual after block l - 1 (or the embeddings), into block l's ln_1 */
        gamma = m->w.layers[l].ln1_g, beta = m->w.layers[l].ln1_b;
        dgamma = m->g.layers[l].ln1_g, dbeta = m->g.layers[l].ln1_b;
    } else { /* after block l's attention, into its ln_2 */
        gamma = m->w.layers[l].ln2_g, beta = m->w.layers[l].ln2_b;
        dgamma = m->g.layers[l].ln2_g, dbeta = m->g.layers[l].ln2_b;
    }
    return (blk_add_norm){.gamma = gamma, .beta = beta, .dgamma = dgamma, .dbeta = dbeta,
                          .eps = m->cfg.layer_norm_epsilon, .dropout = drop, .seed = vt_hash64(seed, site(k))};
}

/* One row of the table: a module, its class, its output shape and its parameters. */
static void summary_row(FILE *out, const char *name, const char *type, const char *shape, int64_t params) {
    char cell[160], count[32];
    snprintf(cell, sizeof cell, "%s (%s)", name, type);
    fprintf(out, " %-44s%-30s%20s\n", cell, shape, vt_format_count(params, count, sizeof count));
}

void vt_gpt2_summary(const vt_gpt2 *m, FILE *out) {
    const vt_gpt2_config *c = &m->cfg;
    int64_t H = c->n_embd, I = vt_gpt2_inner(c), V = c->vocab_size;
    int64_t per_block = 4 * H + (3 * H * H + 3 * H) + (H * H + H) + (I * H + I) + (H * I + H);
    char hidden[64], vocab[64], name[32], count[32];
    snprintf(hidden, sizeof hidden, "(None, None, %lld)", (long long)H);
    snprintf(vocab, sizeof vocab, "(None, None, %lld)", (long long)V);
    fprintf(out, "Model: \"GPT2LMHeadModel\"\n");
    vt_print_rule(out, '_', 98);
    fprintf(out, " %-44s%-30s%20s\n", "Layer (type)", "Output Shape", "Param #");
    vt_print_rule(out, '=', 98);
    summary_row(out, "wte", "Embedding", hidden, V * H);
    summary_row(out, "wpe", "Embedding", hidden, c->n_positions * H);
    for (int64_t l = 0; l < c->n_layer; l++) {
        snprintf(name, sizeof name, "h.%lld", (long long)l);
        summary_row(out, name, "GPT2Block", hidden, per_block);
    }
    summary_row(out, "ln_f", "LayerNorm", hidden, 2 * H);
    summary_row(out, "lm_head", "Linear, tied to wte", vocab, 0);
    vt_print_rule(out, '=', 98);
    fprintf(out, "Total params: %s\n", vt_format_count(m->n_floats, count, sizeof count));
    fprintf(out, "Trainable params: %s\n", vt_format_count(m->n_floats, count, sizeof count));
    fprintf(out, "Non-trainable params: 0\n");
    vt_print_rule(out, '_', 98);
}

size_t vt_gpt2_no_decay(const char *const **patterns) {
    static const char *const NO_DECAY[] = {"bias", "ln_"};
    *patterns = NO_DECAY;
    return sizeof NO_DECAY / sizeof *NO_DECAY;
}
