/* Dense: y = act(x W + b) over the last axis. */
#include <string.h>

#include "nn/graph.h"

/* work[VT_DENSE_WORK_Z] z (rows, units): pre-activation, kept when act is not linear.
 * work[VT_DENSE_WORK_DZ] dz (rows, units): d loss / d z. */
enum { DENSE_Z = VT_DENSE_WORK_Z, DENSE_DZ = VT_DENSE_WORK_DZ };

static vt_status dense_plan(vt_node *n, vt_arena *a) {
    const vt_tensor *x = &n->inputs[0]->out;
    int64_t shape[VT_MAX_DIMS];
    memcpy(shape, x->shape, sizeof shape);
    shape[x->ndim - 1] = n->cfg.units;
    vt_node_plan_output(n, a, x->ndim, shape);
    int64_t count = vt_rows(x) * n->cfg.units;
    n->work[DENSE_Z] = n->cfg.activation == VT_ACT_LINEAR ? NULL : vt_arena_array(a, count, sizeof(float));
    n->work[DENSE_DZ] = vt_arena_array(a, count, sizeof(float));
    return VT_OK;
}

static vt_status dense_forward(vt_node *n, const vt_exec *ex) {
    const vt_tensor *x = &n->inputs[0]->out; /* (rows, in) */
    int64_t rows = vt_rows(x), in = x->shape[x->ndim - 1], units = n->cfg.units;
    float *y = vt_f32(&n->out); /* (rows, units) */
    float *z = n->cfg.activation == VT_ACT_LINEAR ? y : n->work[DENSE_Z];
    vt_status st = vt_matmul(vt_f32(x), n->params[0].data, n->params[1].data, z, rows, units, in, false, false, 0.0f);
    if (st != VT_OK) return st;
    if (n->cfg.activation != VT_ACT_LINEAR) vt_activation_forward(n->cfg.activation, z, y, rows, units);
    return VT_OK;
}

static vt_status dense_backward(vt_node *n, const vt_exec *ex) {
    vt_node *in_node = n->inputs[0];
    const vt_tensor *x = &in_node->out;
    int64_t rows = vt_rows(x), in = x->shape[x->ndim - 1], units = n->cfg.units;
    float *dz = n->work[DENSE_DZ]; /* (rows, units) */
    if (n->cfg.activation == VT_ACT_LINEAR) {
        dz = n->grad;
    } else if (!n->loss_fused) { /* a fused loss has written dz already */
        memset(dz, 0, (size_t)(rows * units) * sizeof(float));
        vt_activation_backward(n->cfg.activation, n->work[DENSE_Z], vt_f32(&n->out), n->grad, dz, rows, units);
    }
    vt_status st = VT_OK;
    if (n->trainable) {
        st = vt_matmul(vt_f32(x), dz, NULL, n->params[0].grad, in, units, rows, true, false, 1.0f); /* dW += x^T dz */
        vt_sum_rows(dz, n->params[1].grad, rows, units);                                          /* db += sum dz */
    }
    if (in_node->grad && st == VT_OK)
        st = vt_matmul(dz, n->params[0].data, NULL, in_node->grad, rows, in, units, false, true, 1.0f); /* dx += dz W^T */
    return st;
}

static void dense_save(const vt_node *n, cJSON *obj) {
    cJSON_AddNumberToObject(obj, "units", (double)n->cfg.units);
    cJSON_AddStringToObject(obj, "activation", vt_activation_name(n->cfg.activation));
}

const vt_layer_vtable VT_LAYER_DENSE = {"Dense", dense_plan, dense_forward, dense_backward, dense_save};

vt_node *vt_dense(vt_node *x, int64_t units, vt_activation activation, const char *name) {
    vt_graph *g = vt_graph_of(&x, 1);
    if (!x) return NULL;
    if (x->dtype != VT_F32) return vt_node_fail(g, VT_ERR_SHAPE, "Dense: input '%s' is not float32", x->name);
    if (x->ndim < 2) return vt_node_fail(g, VT_ERR_SHAPE, "Dense: input '%s' has no feature axis", x->name);
    int64_t in = x->shape[x->ndim - 1];
    if (in == VT_DIM_ANY)
        return vt_node_fail(g, VT_ERR_SHAPE, "Dense: the last dimension of input '%s' must be known", x->name);
    if (units <= 0) return vt_node_fail(g, VT_ERR_INVALID_ARG, "Dense: units must be positive, got %lld", (long long)units);
    if ((unsigned)activation > VT_ACT_SOFTMAX) return vt_node_fail(g, VT_ERR_INVALID_ARG, "Dense: unknown activation");
    vt_node *n = vt_node_new(g, &VT_LAYER_DENSE, name, "dense", &x, 1);
    if (!n) return NULL;
    n->cfg.units = units;
    n->cfg.activation = activation;
    n->ndim = x->ndim;
    memcpy(n->shape, x->shape, sizeof n->shape);
    n->shape[n->ndim - 1] = units;
    vt_node_add_param(n, "kernel", 2, (int64_t[]){in, units}, VT_INIT_GLOROT_UNIFORM);
    vt_node_add_param(n, "bias", 1, (int64_t[]){units}, VT_INIT_ZEROS);
    return n;
}
