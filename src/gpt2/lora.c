/* LoRA adapters on GPT-2's Conv1D layers (see verto/gpt2_lora.h): the
 * adapter's parameters, its attachment to the blocks' dense layers and its
 * activations. Reading, writing and merging are in lora_io.c. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gpt2/gpt2_internal.h"
#include "verto/rng.h"

static const char *const MODULES[GPT2_LORA_SLOTS] = {"attn.c_attn", "attn.c_proj", "mlp.c_fc", "mlp.c_proj"};

const char *gpt2_lora_module(int k) { return MODULES[k]; }

void gpt2_lora_dims(const vt_gpt2 *m, int k, int64_t *in, int64_t *out) {
    int64_t H = m->cfg.n_embd, I = vt_gpt2_inner(&m->cfg);
    static const int64_t mult[GPT2_LORA_SLOTS][2] = {{1, 3}, {1, 1}, {1, 0}, {0, 1}}; /* 0: I */
    *in = mult[k][0] ? H : I;
    *out = k == 0 ? 3 * H : mult[k][1] ? H : I;
}

vt_status vt_gpt2_lora_parse_targets(const char *list, unsigned *targets) {
    if (!list || !targets) return vt_error(VT_ERR_INVALID_ARG, "LoRA targets: none given");
    *targets = 0;
    const char *p = list;
    while (*p) {
        size_t n = strcspn(p, ",");
        char name[64];
        if (n == 0 || n >= sizeof name)
            return vt_error(VT_ERR_INVALID_ARG, "LoRA targets \"%s\": an empty or overlong entry", list);
        memcpy(name, p, n);
        name[n] = 0;
        /* PEFT: a module is targeted when its name equals the entry or ends with "." + entry */
        unsigned bits = 0;
        for (int k = 0; k < GPT2_LORA_SLOTS; k++) {
            size_t len = strlen(MODULES[k]);
            if (!strcmp(MODULES[k], name) || (len > n && MODULES[k][len - n - 1] == '.' && !strcmp(MODULES[k] + len - n, name)))
                bits |= 1u << k;
        }
        if (!bits)
            return vt_error(VT_ERR_INVALID_ARG, "LoRA target \"%s\" names no GPT-2 Conv1D module (c_attn, c_proj, c_fc, "
                            "attn.c_proj, mlp.c_proj)", name);
        *targets |= bits;
        p += n;
        if (*p == ',') p++;
    }
    if (!*targets) return vt_error(VT_ERR_INVALID_ARG, "LoRA targets: the list is empty");
    return VT_OK;
}

void gpt2_lora_free(gpt2_lora *a) {
    if (!a) return;
    free(a->params);
    free(a->grads);
    free(a->slots);
    free(a->acts);
    free(a->infos);
    free(a->names);
    free(a);
}

/* An adapter laid out for m with config c, parameters zero (NULL on no memory). */
static gpt2_lora *lora_alloc(const vt_gpt2 *m, const vt_gpt2_lora_config *c) {
    int64_t L = m->cfg.n_layer, r = c->rank, n = 0;
    size_t n_slots = (size_t)(L * GPT2_LORA_SLOTS), n_infos = 0;
    gpt2_lora *a = calloc(1, sizeof *a);
    if (!a) return NULL;
    a->cfg = *c;
    for (size_t s = 0; s < n_slots; s++) {
        int k = (int)(s % GPT2_LORA_SLOTS);
        if (!(c->targets & (1u << k))) continue;
        int64_t in, out;
        gpt2_lora_dims(m, k, &in, &out);
        n += r * (in + out);
        n_infos += 2;
    }
    a->n_floats = n;
    a->n_infos = n_infos;
    a->params = calloc((size_t)n, sizeof(float));
    a->grads = calloc((size_t)n, sizeof(float));
    a->slots = calloc(n_slots, sizeof *a->slots);
    a->acts = calloc(n_slots, sizeof *a->acts);
    a->infos = calloc(n_infos, sizeof *a->infos);
    a->names = calloc(n_infos, sizeof *a->names);
    if (!a->params || !a->grads || !a->slots || !a->acts || !a->infos || !a->names) {
        gpt2_lora_free(a);
        return NULL;
    }
    int64_t off = 0;
    size_t i = 0;
    for (size_t s = 0; s < n_slots; s++) {
        int k = (int)(s % GPT2_LORA_SLOTS);
        if (!(c->targets & (1u << k))) continue;
        int64_t in, out, l = (int64_t)(s / GPT2_LORA_SLOTS);
        gpt2_lora_dims(m, k, &in, &out);
        a->slots[s] = (blk_lora){.A = a->params + off, .B = a->params + off + r * in, .dA = a->grads + off,
                                 .dB = a->grads + off + r * in, .rank = r, .scale = c->alpha / (float)r,
                                 .dropout = c->dropout};
        for (int ab = 0; ab < 2; ab++, i++) {
            snprintf(a->names[i], sizeof a->names[i], "transformer.h.%lld.%s.lora_%c.weight", (long long)l, MODULES[k],
                     ab ? 'B' : 'A');
            int64_t numel = ab ? out * r : r * in;
            a->infos[i] = (vt_param_info){.name = a->names[i], .offset = off, .numel = numel, .trainable = true};
            off += numel;
        }
    }
    return a;
}

/* Replaces m's adapter by a (NULL: none); the activation plan is redone. */
static void lora_set(vt_gpt2 *m, gpt2_lora *a) {
    gpt2_lora_free(m->lora);
    m->lora = a;
    m->planned = false;
}

static vt_status check_config(const vt_gpt2_lora_config *c) {
    if (!c) return vt_error(VT_ERR_INVALID_ARG, "LoRA: no config given");
    if (c->rank < 1 || c->rank > (1 << 16)) return vt_error(VT_ERR_INVALID_ARG, "LoRA rank %lld is not in [1, 65536]", (long long)c->rank);
    if (!(c->dropout >= 0 && c->dropout < 1)) return vt_error(VT_ERR_INVALID_ARG, "LoRA dropout %g is not in [0, 1)", c->dropout);
    if (!isfinite(c->alpha)) return vt_error(VT_ERR_INVALID_ARG, "LoRA alpha is not finite");
    if (!c->targets || c->targets >= (1u << GPT2_LORA_SLOTS))
        return vt_error(VT_ERR_INVALID_ARG, "LoRA targets: none, or bits outside VT_GPT2_LORA_*");
    return VT_OK;
}

vt_status gpt2_lora_install(vt_gpt2 *m, const vt_gpt2_lora_config *c, const float *params) {
    vt_status st = check_config(c);
    if (st != VT_OK) return st;
    gpt2_lora *a = lora_alloc(m, c);
    if (!a) return vt_error(VT_ERR_NOMEM, "out of memory for a LoRA adapter");
    if (params) memcpy(a->params, params, (size_t)a->n_floats * sizeof(float));
    lora_set(m, a);
    return VT_OK;
}

vt_status vt_gpt2_lora_add(vt_gpt2 *m, const vt_gpt2_lora_config *c, uint64_t seed) {
    if (!m) return vt_error(VT_ERR_INVALID_ARG, "vt_gpt2_lora_add: no model");
    vt_status st = gpt2_lora_install(m, c, NULL);
    if (st != VT_OK) return st;
    vt_rng rng;
    vt_rng_seed(&rng, seed);
    gpt2_lora *a = m->lora;
    for (size_t i = 0; i < a->n_infos; i += 2) { /* A: kaiming_uniform_(a=sqrt(5)) = U(-1/sqrt(in), 1/sqrt(in)); B: 0 */
        const vt_param_info *A = &a->infos[i];
        float bound = 1.0f / sqrtf((float)(A->numel / c->rank));
        for (int64_t j = 0; j < A->numel; j++) a->params[A->offset + j] = (float)((2 * vt_rng_uniform(&rng) - 1) * bound);
    }
    return VT_OK;
}

void vt_gpt2_lora_remove(vt_gpt2 *m) {
    if (m && m->lora) lora_set(m, NULL);
}

const vt_gpt2_lora_config *vt_gpt2_lora_get_config(const vt_gpt2 *m) { return m && m->lora ? &m->lora->cfg : NULL; }

float *vt_gpt2_lora_params(vt_gpt2 *m, int64_t *n) {
    if (n) *n = m && m->lora ? m->lora->n_floats : 0;
    return m && m->lora ? m->lora->params : NULL;
}

float *vt_gpt2_lora_grads(vt_gpt2 *m, int64_t *n) {
    if (n) *n = m && m->lora ? m->lora->n_floats : 0;
    return m && m->lora ? m->lora->grads : NULL;
}

const vt_param_info *vt_gpt2_lora_param_infos(const vt_gpt2 *m, size_t *n) {
    if (n) *n = m && m->lora ? m->lora->n_infos : 0;
    return m && m->lora ? m->lora->infos : NULL;
}

void gpt2_lora_attach(const vt_gpt2 *m, int64_t l, int k, blk_linear *d) {
    gpt2_lora *a = m->lora;
    if (!a || !(a->cfg.targets & (1u << k))) return;
    size_t s = (size_t)(l * GPT2_LORA_SLOTS + k);
    a->slots[s].seed = vt_hash64(a->seed, (uint64_t)(1000003 + s)); /* distinct from the model's dropout sites */
    a->slots[s].dropout = a->training ? a->cfg.dropout : 0;
    d->lora = &a->slots[s];
    d->lora_acts = &a->acts[s];
}

void gpt2_lora_reserve(vt_gpt2 *m, int64_t rows) {
    gpt2_lora *a = m->lora;
    if (!a) return;
    int64_t r = a->cfg.rank, widest = 0, L = m->cfg.n_layer;
    bool drop = a->cfg.dropout > 0;
    for (int k = 0; k < GPT2_LORA_SLOTS; k++) {
        int64_t in, out;
        gpt2_lora_dims(m, k, &in, &out);
        if ((a->cfg.targets & (1u << k)) && in > widest) widest = in;
    }
    float *du = vt_arena_alloc(&m->arena, (size_t)(rows * r) * sizeof(float));
    float *dxd = drop ? vt_arena_alloc(&m->arena, (size_t)(rows * widest) * sizeof(float)) : NULL;
    for (int64_t s = 0; s < L * GPT2_LORA_SLOTS; s++) {
        int k = (int)(s % GPT2_LORA_SLOTS);
        if (!(a->cfg.targets & (1u << k))) continue;
        int64_t in, out;
        gpt2_lora_dims(m, k, &in, &out);
        a->acts[s] = (blk_lora_acts){
            .xd = drop ? vt_arena_alloc(&m->arena, (size_t)(rows * in) * sizeof(float)) : NULL,
            .mask = drop ? vt_arena_alloc(&m->arena, (size_t)(rows * in)) : NULL,
            .u = vt_arena_alloc(&m->arena, (size_t)(rows * r) * sizeof(float)), .du = du, .dxd = dxd, .rows = rows};
    }
}
