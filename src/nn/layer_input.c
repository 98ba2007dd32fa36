/* Input: a placeholder the model fills with each batch. */
#include <string.h>

#include "nn/graph.h"

static vt_status input_plan(vt_node *n, vt_arena *a) {
    vt_node_plan_output(n, a, n->ndim, n->feed_shape);
    return VT_OK;
}

static vt_status input_forward(vt_node *n, const vt_exec *ex) { return VT_OK; /* the model copies the batch in */ }

static vt_status input_backward(vt_node *n, const vt_exec *ex) { return VT_OK; }

static void input_save(const vt_node *n, cJSON *obj) {
    cJSON_AddStringToObject(obj, "dtype", n->dtype == VT_I32 ? "int32" : "float32");
    cJSON *shape = cJSON_AddArrayToObject(obj, "shape");
    for (int i = 1; i < n->ndim; i++) cJSON_AddItemToArray(shape, cJSON_CreateNumber((double)n->shape[i]));
}

const vt_layer_vtable VT_LAYER_INPUT = {"InputLayer", input_plan, input_forward, input_backward, input_save};

vt_node *vt_input(vt_graph *g, vt_dtype dtype, int ndim, const int64_t *shape, const char *name) {
    if (!g) return NULL;
    if (ndim < 0 || ndim > VT_MAX_DIMS - 1)
        return vt_node_fail(g, VT_ERR_SHAPE, "Input: %d dimensions given, at most %d besides the batch", ndim,
                            VT_MAX_DIMS - 1);
    if (dtype != VT_F32 && dtype != VT_I32) return vt_node_fail(g, VT_ERR_INVALID_ARG, "Input: unknown dtype");
    for (int i = 0; i < ndim; i++)
        if (shape[i] <= 0 && shape[i] != VT_DIM_ANY)
            return vt_node_fail(g, VT_ERR_SHAPE, "Input: dimension %d is %lld; sizes are positive or VT_DIM_ANY", i,
                                (long long)shape[i]);
    vt_node *n = vt_node_new(g, &VT_LAYER_INPUT, name, "input_layer", NULL, 0);
    if (!n) return NULL;
    n->dtype = dtype;
    n->ndim = ndim + 1;
    n->shape[0] = VT_DIM_ANY;
    memcpy(n->shape + 1, shape, (size_t)ndim * sizeof *shape);
    return n;
}
