/* LayerNormalization over the last axis. */
#include "nn/graph.h"

#define KERAS_LAYERNORM_EPSILON 1e-3f

/* work[0] mean (rows), work[1] rstd (rows). */
enum { LN_MEAN, LN_RSTD };

static vt_status layernorm_plan(vt_node *n, vt_arena *a) {
    const vt_tensor *x = &n->inputs[0]->out;
    vt_node_plan_output(n, a, x->ndim, x->shape);
    n->work[LN_MEAN] = vt_arena_array(a, vt_rows(x), sizeof(float));
    n->work[LN_RSTD] = vt_arena_array(a, vt_rows(x), sizeof(float));
    return VT_OK;
}

static vt_status layernorm_forward(vt_node *n, const vt_exec *ex) {
    const vt_tensor *x = &n->inputs[0]->out;
    vt_layernorm_forward(vt_f32(x), n->params[0].data, n->params[1].data, vt_f32(&n->out), n->work[LN_MEAN],
                         n->work[LN_RSTD], vt_rows(x), x->shape[x->ndim - 1], n->cfg.epsilon);
    return VT_OK;
}

static vt_status layernorm_backward(vt_node *n, const vt_exec *ex) {
    vt_node *in = n->inputs[0];
    const vt_tensor *x = &in->out;
    int64_t cols = x->shape[x->ndim - 1];
    /* Frozen: the kernel still needs somewhere to put dgamma/dbeta; the
     * gradient buffer is zeroed each step and the optimizer skips it. */
    vt_layernorm_backward(n->grad, vt_f32(x), n->params[0].data, n->work[LN_MEAN], n->work[LN_RSTD], in->grad,
                          n->params[0].grad, n->params[1].grad, vt_rows(x), cols);
    return VT_OK;
}

static void layernorm_save(const vt_node *n, cJSON *obj) { cJSON_AddNumberToObject(obj, "epsilon", n->cfg.epsilon); }

const vt_layer_vtable VT_LAYER_LAYER_NORM = {"LayerNormalization", layernorm_plan, layernorm_forward,
                                             layernorm_backward, layernorm_save};

vt_node *vt_layer_norm(vt_node *x, float epsilon, const char *name) {
    vt_graph *g = vt_graph_of(&x, 1);
    if (!x) return NULL;
    if (x->dtype != VT_F32 || x->ndim < 2 || x->shape[x->ndim - 1] == VT_DIM_ANY)
        return vt_node_fail(g, VT_ERR_SHAPE, "LayerNormalization: input '%s' needs a known float32 last axis", x->name);
    vt_node *n = vt_node_new(g, &VT_LAYER_LAYER_NORM, name, "layer_normalization", &x, 1);
    if (!n) return NULL;
    n->cfg.epsilon = epsilon > 0 ? epsilon : KERAS_LAYERNORM_EPSILON;
    n->ndim = x->ndim;
    for (int i = 0; i < x->ndim; i++) n->shape[i] = x->shape[i];
    int64_t cols = x->shape[x->ndim - 1];
    vt_node_add_param(n, "gamma", 1, &cols, VT_INIT_ONES);
    vt_node_add_param(n, "beta", 1, &cols, VT_INIT_ZEROS);
    return n;
}
