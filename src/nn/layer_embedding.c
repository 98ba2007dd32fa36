/* Embedding: ids (B, ...) -> rows of the table (B, ..., dim). */
#include <string.h>

#include "nn/graph.h"

static vt_status embedding_plan(vt_node *n, vt_arena *a) {
    const vt_tensor *ids = &n->inputs[0]->out;
    int64_t shape[VT_MAX_DIMS];
    memcpy(shape, ids->shape, sizeof shape);
    shape[ids->ndim] = n->cfg.output_dim;
    vt_node_plan_output(n, a, ids->ndim + 1, shape);
    return VT_OK;
}

static vt_status embedding_forward(vt_node *n, const vt_exec *ex) {
    const vt_tensor *ids = &n->inputs[0]->out;
    vt_status st = vt_embedding_forward(vt_i32(ids), n->params[0].data, vt_f32(&n->out), vt_tensor_numel(ids),
                                        n->cfg.input_dim, n->cfg.output_dim);
    if (st != VT_OK) vt_error(st, "%s: %s", n->name, vt_last_error());
    return st;
}

static vt_status embedding_backward(vt_node *n, const vt_exec *ex) {
    if (!n->trainable) return VT_OK;
    const vt_tensor *ids = &n->inputs[0]->out;
    vt_embedding_backward(vt_i32(ids), n->grad, n->params[0].grad, vt_tensor_numel(ids), n->cfg.output_dim);
    return VT_OK;
}

static void embedding_save(const vt_node *n, cJSON *obj) {
    cJSON_AddNumberToObject(obj, "input_dim", (double)n->cfg.input_dim);
    cJSON_AddNumberToObject(obj, "output_dim", (double)n->cfg.output_dim);
}

const vt_layer_vtable VT_LAYER_EMBEDDING = {"Embedding", embedding_plan, embedding_forward, embedding_backward,
                                            embedding_save};

vt_node *vt_embedding(vt_node *ids, int64_t input_dim, int64_t output_dim, const char *name) {
    vt_graph *g = vt_graph_of(&ids, 1);
    if (!ids) return NULL;
    if (ids->dtype != VT_I32) return vt_node_fail(g, VT_ERR_SHAPE, "Embedding: input '%s' must be int32 ids", ids->name);
    if (ids->ndim >= VT_MAX_DIMS)
        return vt_node_fail(g, VT_ERR_SHAPE, "Embedding: input '%s' has too many dimensions", ids->name);
    if (input_dim <= 0 || output_dim <= 0 || input_dim > INT32_MAX)
        return vt_node_fail(g, VT_ERR_INVALID_ARG, "Embedding: input_dim and output_dim must be positive (got %lld, %lld)",
                            (long long)input_dim, (long long)output_dim);
    vt_node *n = vt_node_new(g, &VT_LAYER_EMBEDDING, name, "embedding", &ids, 1);
    if (!n) return NULL;
    n->cfg.input_dim = input_dim;
    n->cfg.output_dim = output_dim;
    n->ndim = ids->ndim + 1;
    memcpy(n->shape, ids->shape, sizeof n->shape);
    n->shape[ids->ndim] = output_dim;
    vt_node_add_param(n, "embeddings", 2, (int64_t[]){input_dim, output_dim}, VT_INIT_UNIFORM_005);
    return n;
}
