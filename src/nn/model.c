/* A model: the nodes an output depends on, one parameter buffer, one gradient
 * buffer, and the activation arena planned per input shape. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "nn/graph.h"

/* Marks the nodes `n` depends on (n included). */
static void mark_needed(vt_node *n, bool *needed) {
    if (needed[n->id]) return;
    needed[n->id] = true;
    for (int i = 0; i < n->n_inputs; i++) mark_needed(n->inputs[i], needed);
}

static vt_status collect_order(vt_model *m) {
    vt_graph *g = m->graph;
    bool *needed = calloc((size_t)g->n_nodes, sizeof *needed);
    m->order = calloc((size_t)g->n_nodes, sizeof *m->order);
    if (!needed || !m->order) {
        free(needed);
        return vt_error(VT_ERR_NOMEM, "out of memory building model");
    }
    mark_needed(m->output, needed);
    vt_status st = VT_OK;
    for (int i = 0; i < g->n_nodes && st == VT_OK; i++) {
        vt_node *n = g->nodes[i];
        if (!needed[n->id]) continue;
        m->order[m->n_order++] = n;
        if (n->vt != &VT_LAYER_INPUT) continue;
        bool given = false;
        for (int k = 0; k < m->n_inputs; k++) given |= m->inputs[k] == n;
        if (!given) st = vt_error(VT_ERR_INVALID_ARG, "model '%s': the output needs input '%s', which is not among the model's inputs", m->name, n->name);
    }
    free(needed);
    return st;
}

static vt_status allocate_params(vt_model *m) {
    size_t n_infos = 0;
    int64_t total = 0;
    for (int i = 0; i < m->n_order; i++) {
        vt_node *n = m->order[i];
        for (int p = 0; p < n->n_params; p++) {
            vt_tensor t = vt_tensor_view(NULL, VT_F32, n->params[p].ndim, n->params[p].shape);
            total += vt_tensor_numel(&t);
            n_infos++;
        }
    }
    m->n_floats = total;
    m->n_infos = n_infos;
    m->params = aligned_alloc(64, ((size_t)total * sizeof(float) + 63) / 64 * 64 + 64);
    m->grads = aligned_alloc(64, ((size_t)total * sizeof(float) + 63) / 64 * 64 + 64);
    m->infos = calloc(n_infos + 1, sizeof *m->infos);
    m->info_names = calloc(n_infos + 1, sizeof *m->info_names);
    if (!m->params || !m->grads || !m->infos || !m->info_names)
        return vt_error(VT_ERR_NOMEM, "out of memory allocating %lld parameters", (long long)total);
    memset(m->grads, 0, (size_t)total * sizeof(float));
    int64_t offset = 0;
    size_t k = 0;
    for (int i = 0; i < m->n_order; i++) {
        vt_node *n = m->order[i];
        for (int p = 0; p < n->n_params; p++, k++) {
            vt_param_slot *slot = &n->params[p];
            vt_tensor t = vt_tensor_view(NULL, VT_F32, slot->ndim, slot->shape);
            int64_t numel = vt_tensor_numel(&t);
            slot->data = m->params + offset;
            slot->grad = m->grads + offset;
            snprintf(m->info_names[k], sizeof m->info_names[k], "%s/%s", n->name, slot->name);
            m->infos[k] = (vt_param_info){.name = m->info_names[k], .offset = offset, .numel = numel, .trainable = n->trainable};
            offset += numel;
        }
    }
    return VT_OK;
}

/* Keras' compute_fans: (in, out) for matrices; for higher ranks the leading
 * dimensions multiply both fans (a "receptive field"). */
static void keras_fans(const vt_param_slot *p, double *fan_in, double *fan_out) {
    if (p->ndim < 2) {
        *fan_in = *fan_out = p->ndim ? (double)p->shape[0] : 1.0;
        return;
    }
    double receptive = 1;
    for (int i = 0; i + 2 < p->ndim; i++) receptive *= (double)p->shape[i];
    *fan_in = (double)p->shape[p->ndim - 2] * receptive;
    *fan_out = (double)p->shape[p->ndim - 1] * receptive;
}

void vt_model_init_weights(vt_model *m, uint64_t seed) {
    vt_rng rng;
    vt_rng_seed(&rng, seed);
    for (int i = 0; i < m->n_order; i++) {
        vt_node *n = m->order[i];
        for (int p = 0; p < n->n_params; p++) {
            vt_param_slot *slot = &n->params[p];
            vt_tensor t = vt_tensor_view(slot->data, VT_F32, slot->ndim, slot->shape);
            int64_t numel = vt_tensor_numel(&t);
            double limit = 0.05, fan_in, fan_out;
            if (slot->init == VT_INIT_GLOROT_UNIFORM) {
                keras_fans(slot, &fan_in, &fan_out);
                limit = sqrt(6.0 / (fan_in + fan_out));
            }
            for (int64_t j = 0; j < numel; j++) {
                switch (slot->init) {
                case VT_INIT_ZEROS: slot->data[j] = 0; break;
                case VT_INIT_ONES: slot->data[j] = 1; break;
                case VT_INIT_GLOROT_UNIFORM:
                case VT_INIT_UNIFORM_005: slot->data[j] = (float)((2 * vt_rng_uniform(&rng) - 1) * limit); break;
                }
            }
        }
    }
}

vt_model *vt_model_new(vt_graph *g, int n_inputs, vt_node *const *inputs, vt_node *output, const char *name) {
    if (!g) return NULL;
    if (g->first_error != VT_OK) {
        vt_error(g->first_error, "%s", g->first_message);
        vt_graph_free(g);
        return NULL;
    }
    vt_model *m = calloc(1, sizeof *m);
    if (!m) {
        vt_graph_free(g);
        vt_error(VT_ERR_NOMEM, "out of memory creating a model");
        return NULL;
    }
    m->graph = g;
    snprintf(m->name, sizeof m->name, "%s", name ? name : "functional");
    vt_status st = VT_OK;
    if (!output || output->graph != g) st = vt_error(VT_ERR_INVALID_ARG, "model '%s': output is missing or from another graph", m->name);
    else if (n_inputs < 1 || n_inputs > VT_NODE_MAX_INPUTS)
        st = vt_error(VT_ERR_INVALID_ARG, "model '%s': %d inputs given, 1 to %d supported", m->name, n_inputs, VT_NODE_MAX_INPUTS);
    for (int i = 0; st == VT_OK && i < n_inputs; i++) {
        if (!inputs[i] || inputs[i]->graph != g || inputs[i]->vt != &VT_LAYER_INPUT)
            st = vt_error(VT_ERR_INVALID_ARG, "model '%s': input %d is not an Input layer of this graph", m->name, i);
        else
            m->inputs[m->n_inputs++] = inputs[i];
    }
    m->output = output;
    if (st == VT_OK) st = collect_order(m);
    if (st == VT_OK) st = allocate_params(m);
    if (st != VT_OK) {
        vt_model_free(m);
        return NULL;
    }
    vt_model_init_weights(m, 0);
    return m;
}

void vt_model_free(vt_model *m) {
    if (!m) return;
    vt_graph_free(m->graph);
    vt_optimizer_free(m->opt);
    vt_arena_free(&m->arena);
    free(m->order);
    free(m->params);
    free(m->grads);
    free(m->infos);
    free(m->info_names);
    free(m);
}

int64_t vt_model_param_count(const vt_model *m, bool trainable_only) {
    int64_t total = 0;
    for (size_t i = 0; i < m->n_infos; i++)
        if (!trainable_only || m->infos[i].trainable) total += m->infos[i].numel;
    return total;
}

vt_status vt_model_set_trainable(vt_model *m, const char *layer_name, bool trainable) {
    for (int i = 0; i < m->n_order; i++) {
        vt_node *n = m->order[i];
        if (strcmp(n->name, layer_name)) continue;
        n->trainable = trainable;
        size_t prefix = strlen(n->name);
        for (size_t k = 0; k < m->n_infos; k++)
            if (!strncmp(m->infos[k].name, n->name, prefix) && m->infos[k].name[prefix] == '/') m->infos[k].trainable = trainable;
        return VT_OK;
    }
    return vt_error(VT_ERR_INVALID_ARG, "model '%s' has no layer named '%s'", m->name, layer_name);
}

float *vt_model_params(vt_model *m, int64_t *n_floats) {
    if (n_floats) *n_floats = m->n_floats;
    return m->params;
}

float *vt_model_grads(vt_model *m, int64_t *n_floats) {
    if (n_floats) *n_floats = m->n_floats;
    return m->grads;
}

const vt_param_info *vt_model_param_infos(const vt_model *m, size_t *n_params) {
    if (n_params) *n_params = m->n_infos;
    return m->infos;
}

static vt_tensor param_view(vt_model *m, const char *name, bool grad) {
    size_t k = 0;
    for (int i = 0; i < m->n_order; i++) {
        vt_node *n = m->order[i];
        for (int p = 0; p < n->n_params; p++, k++)
            if (!strcmp(m->infos[k].name, name))
                return vt_tensor_view(grad ? n->params[p].grad : n->params[p].data, VT_F32, n->params[p].ndim,
                                      n->params[p].shape);
    }
    return vt_tensor_view(NULL, VT_F32, 0, NULL);
}

vt_tensor vt_model_param(vt_model *m, const char *name) { return param_view(m, name, false); }
vt_tensor vt_model_param_grad(vt_model *m, const char *name) { return param_view(m, name, true); }
