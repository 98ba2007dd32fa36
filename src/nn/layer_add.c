/* Add: y = a + b (residual connections). */
#include <string.h>

#include "nn/graph.h"

static vt_status add_plan(vt_node *n, vt_arena *a) {
    const vt_tensor *x = &n->inputs[0]->out, *y = &n->inputs[1]->out;
    if (x->ndim != y->ndim || memcmp(x->shape, y->shape, (size_t)x->ndim * sizeof *x->shape)) {
        char s1[64], s2[64];
        return vt_error(VT_ERR_SHAPE, "%s: inputs of shapes %s and %s cannot be added", n->name,
                        vt_shape_str(x->ndim, x->shape, s1, sizeof s1), vt_shape_str(y->ndim, y->shape, s2, sizeof s2));
    }
    vt_node_plan_output(n, a, x->ndim, x->shape);
    return VT_OK;
}

static vt_status add_forward(vt_node *n, const vt_exec *ex) {
    const float *restrict x = vt_f32(&n->inputs[0]->out), *restrict y = vt_f32(&n->inputs[1]->out);
    float *restrict out = vt_f32(&n->out);
    int64_t count = vt_tensor_numel(&n->out);
#pragma omp parallel for simd schedule(static)
    for (int64_t i = 0; i < count; i++) out[i] = x[i] + y[i];
    return VT_OK;
}

static vt_status add_backward(vt_node *n, const vt_exec *ex) {
    int64_t count = vt_tensor_numel(&n->out);
    const float *restrict dy = n->grad;
    for (int k = 0; k < 2; k++) {
        float *restrict dx = n->inputs[k]->grad;
        if (!dx) continue;
#pragma omp parallel for simd schedule(static)
        for (int64_t i = 0; i < count; i++) dx[i] += dy[i];
    }
    return VT_OK;
}

static void add_save(const vt_node *n, cJSON *obj) {}

const vt_layer_vtable VT_LAYER_ADD = {"Add", add_plan, add_forward, add_backward, add_save};

vt_node *vt_add(vt_node *a, vt_node *b, const char *name) {
    vt_node *ins[2] = {a, b};
    vt_graph *g = vt_graph_of(ins, 2);
    if (!a || !b) return NULL;
    if (a->dtype != VT_F32 || b->dtype != VT_F32)
        return vt_node_fail(g, VT_ERR_SHAPE, "Add: inputs '%s' and '%s' must be float32", a->name, b->name);
    bool fits = a->ndim == b->ndim;
    for (int i = 0; fits && i < a->ndim; i++)
        fits = a->shape[i] == b->shape[i] || a->shape[i] == VT_DIM_ANY || b->shape[i] == VT_DIM_ANY;
    if (!fits) {
        char s1[64], s2[64];
        return vt_node_fail(g, VT_ERR_SHAPE, "Add: shapes %s ('%s') and %s ('%s') differ", vt_node_shape_str(a, s1, sizeof s1),
                            a->name, vt_node_shape_str(b, s2, sizeof s2), b->name);
    }
    vt_node *n = vt_node_new(g, &VT_LAYER_ADD, name, "add", ins, 2);
    if (!n) return NULL;
    n->ndim = a->ndim;
    for (int i = 0; i < a->ndim; i++) n->shape[i] = a->shape[i] != VT_DIM_ANY ? a->shape[i] : b->shape[i];
    return n;
}
