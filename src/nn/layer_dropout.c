/* Dropout: random zeroing with rescale while training, identity otherwise. */
#include <string.h>

#include "nn/graph.h"

/* work[0] keep mask (numel) of the last training forward. */
enum { DROP_MASK };

static vt_status dropout_plan(vt_node *n, vt_arena *a) {
    const vt_tensor *x = &n->inputs[0]->out;
    vt_node_plan_output(n, a, x->ndim, x->shape);
    n->work[DROP_MASK] = vt_arena_array(a, vt_tensor_numel(x), 1);
    return VT_OK;
}

/* work[1] is a flag: whether the last forward applied the mask. */
static vt_status dropout_forward(vt_node *n, const vt_exec *ex) {
    const vt_tensor *x = &n->inputs[0]->out;
    int64_t count = vt_tensor_numel(x);
    if (ex->training && n->cfg.rate > 0) {
        vt_dropout_forward(vt_f32(x), vt_f32(&n->out), n->work[DROP_MASK], count, n->cfg.rate, vt_node_seed(n, ex));
    } else {
        memcpy(n->out.data, x->data, (size_t)count * sizeof(float));
        memset(n->work[DROP_MASK], 1, (size_t)count);
    }
    return VT_OK;
}

static vt_status dropout_backward(vt_node *n, const vt_exec *ex) {
    vt_node *in = n->inputs[0];
    if (!in->grad) return VT_OK;
    float rate = ex->training ? n->cfg.rate : 0.0f;
    vt_dropout_backward(n->grad, n->work[DROP_MASK], in->grad, vt_tensor_numel(&n->out), rate);
    return VT_OK;
}

static void dropout_save(const vt_node *n, cJSON *obj) { cJSON_AddNumberToObject(obj, "rate", n->cfg.rate); }

const vt_layer_vtable VT_LAYER_DROPOUT = {"Dropout", dropout_plan, dropout_forward, dropout_backward, dropout_save};

vt_node *vt_dropout(vt_node *x, float rate, const char *name) {
    vt_graph *g = vt_graph_of(&x, 1);
    if (!x) return NULL;
    if (x->dtype != VT_F32) return vt_node_fail(g, VT_ERR_SHAPE, "Dropout: input '%s' is not float32", x->name);
    if (!(rate >= 0 && rate < 1)) return vt_node_fail(g, VT_ERR_INVALID_ARG, "Dropout: rate %g outside [0, 1)", rate);
    vt_node *n = vt_node_new(g, &VT_LAYER_DROPOUT, name, "dropout", &x, 1);
    if (!n) return NULL;
    n->cfg.rate = rate;
    n->ndim = x->ndim;
    memcpy(n->shape, x->shape, sizeof n->shape);
    return n;
}
