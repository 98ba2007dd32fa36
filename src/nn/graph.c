/* Graph construction: nodes, automatic names, parameter declarations. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nn/graph.h"

vt_graph *vt_graph_new(void) {
    vt_graph *g = calloc(1, sizeof *g);
    if (!g) vt_error(VT_ERR_NOMEM, "out of memory creating a graph");
    return g;
}

void vt_graph_free(vt_graph *g) {
    if (!g) return;
    for (int i = 0; i < g->n_nodes; i++) free(g->nodes[i]);
    free(g->nodes);
    free(g);
}

vt_node *vt_node_fail(vt_graph *g, vt_status status, const char *fmt, ...) {
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    vt_error(status, "%s", msg);
    if (g && g->first_error == VT_OK) {
        g->first_error = status;
        snprintf(g->first_message, sizeof g->first_message, "%s", msg);
    }
    return NULL;
}

static bool name_taken(const vt_graph *g, const char *name) {
    for (int i = 0; i < g->n_nodes; i++)
        if (!strcmp(g->nodes[i]->name, name)) return true;
    return false;
}

/* Keras' scheme: the first layer of a kind is "dense", then "dense_1", ... */
static void auto_name(const vt_graph *g, const char *prefix, char *out, size_t size) {
    snprintf(out, size, "%s", prefix);
    for (int k = 1; name_taken(g, out); k++) snprintf(out, size, "%s_%d", prefix, k);
}

vt_graph *vt_graph_of(vt_node *const *nodes, int n) {
    for (int i = 0; i < n; i++)
        if (nodes[i]) return nodes[i]->graph;
    return NULL;
}

vt_node *vt_node_new(vt_graph *g, const vt_layer_vtable *vt, const char *name, const char *auto_prefix,
                     vt_node *const *inputs, int n_inputs) {
    if (!g) return NULL;
    if (g->first_error != VT_OK) return NULL; /* keep the first error */
    for (int i = 0; i < n_inputs; i++) {
        if (!inputs[i]) return NULL;
        if (inputs[i]->graph != g)
            return vt_node_fail(g, VT_ERR_INVALID_ARG, "%s: inputs belong to different graphs", vt->type);
    }
    if (name && (!*name || strlen(name) >= VT_NAME_MAX / 2 || strchr(name, '/')))
        return vt_node_fail(g, VT_ERR_INVALID_ARG, "layer name '%s' must be 1-%d characters without '/'", name,
                            VT_NAME_MAX / 2 - 1);
    if (name && name_taken(g, name))
        return vt_node_fail(g, VT_ERR_INVALID_ARG, "layer name '%s' is used twice", name);
    if (g->n_nodes == g->cap_nodes) {
        int cap = g->cap_nodes ? 2 * g->cap_nodes : 16;
        vt_node **nodes = realloc(g->nodes, (size_t)cap * sizeof *nodes);
        if (!nodes) return vt_node_fail(g, VT_ERR_NOMEM, "out of memory adding a layer");
        g->nodes = nodes;
        g->cap_nodes = cap;
    }
    vt_node *n = calloc(1, sizeof *n);
    if (!n) return vt_node_fail(g, VT_ERR_NOMEM, "out of memory adding a layer");
    n->graph = g;
    n->id = g->n_nodes;
    n->vt = vt;
    n->trainable = true;
    n->dtype = VT_F32;
    if (name) snprintf(n->name, sizeof n->name, "%s", name);
    else auto_name(g, auto_prefix, n->name, sizeof n->name);
    for (int i = 0; i < n_inputs; i++) n->inputs[i] = inputs[i];
    n->n_inputs = n_inputs;
    g->nodes[g->n_nodes++] = n;
    return n;
}

void vt_node_add_param(vt_node *n, const char *name, int ndim, const int64_t *shape, vt_init init) {
    vt_param_slot *p = &n->params[n->n_params++];
    snprintf(p->name, sizeof p->name, "%s", name);
    p->ndim = ndim;
    memcpy(p->shape, shape, (size_t)ndim * sizeof *shape);
    p->init = init;
}

const char *vt_node_shape_str(const vt_node *n, char *buf, size_t size) {
    return vt_shape_str(n->ndim, n->shape, buf, size);
}

int64_t vt_rows(const vt_tensor *t) {
    int64_t r = 1;
    for (int i = 0; i + 1 < t->ndim; i++) r *= t->shape[i];
    return r;
}

void *vt_arena_array(vt_arena *a, int64_t count, size_t size) { return vt_arena_alloc(a, (size_t)count * size); }

void vt_node_plan_output(vt_node *n, vt_arena *a, int ndim, const int64_t *shape) {
    vt_tensor t = vt_tensor_view(NULL, n->dtype, ndim, shape);
    int64_t numel = vt_tensor_numel(&t);
    t.data = vt_arena_array(a, numel, vt_dtype_size(n->dtype));
    n->out = t;
    n->grad = n->dtype == VT_F32 ? vt_arena_array(a, numel, sizeof(float)) : NULL;
}

uint64_t vt_node_seed(const vt_node *n, const vt_exec *ex) { return vt_hash64(ex->seed, (uint64_t)n->id); }

const vt_layer_vtable *vt_layer_find(const char *type) {
    static const vt_layer_vtable *const ALL[] = {&VT_LAYER_INPUT, &VT_LAYER_EMBEDDING, &VT_LAYER_DENSE, &VT_LAYER_MHA,
                                                 &VT_LAYER_LAYER_NORM, &VT_LAYER_DROPOUT, &VT_LAYER_ADD};
    for (size_t i = 0; i < sizeof ALL / sizeof *ALL; i++)
        if (!strcmp(ALL[i]->type, type)) return ALL[i];
    return NULL;
}
