/* MultiHeadAttention (Keras semantics): project query/key/value per head,
 * fused scaled dot-product attention, project back to the query's width. */
#include <math.h>
#include <string.h>

#include "nn/graph.h"

enum { P_WQ, P_BQ, P_WK, P_BK, P_WV, P_BV, P_WO, P_BO }; /* with biases; without, kernels only */
enum { W_Q, W_K, W_V, W_O, W_PROBS, W_DROP, W_DQ, W_DK, W_DV, W_DO };

typedef struct mha_io {
    vt_node *query, *key, *value, *mask;
    int64_t batch, tq, tk, heads, kd, vd, dq, dk, dv;
} mha_io;

static mha_io mha_inputs(const vt_node *n) {
    mha_io io = {.query = n->inputs[0], .value = n->inputs[1]};
    io.key = n->cfg.key_input >= 0 ? n->inputs[n->cfg.key_input] : io.value;
    io.mask = n->cfg.mask_input >= 0 ? n->inputs[n->cfg.mask_input] : NULL;
    const vt_tensor *q = &io.query->out, *v = &io.value->out, *k = &io.key->out;
    io.batch = q->shape[0];
    io.tq = q->shape[1];
    io.tk = v->shape[1];
    io.heads = n->cfg.mha.num_heads;
    io.kd = n->cfg.mha.key_dim;
    io.vd = n->cfg.mha.value_dim;
    io.dq = q->shape[2];
    io.dk = k->shape[2];
    io.dv = v->shape[2];
    return io;
}

/* The i-th kernel / bias, accounting for use_bias=False. */
static vt_param_slot *kernel(vt_node *n, int which) { return &n->params[n->cfg.mha.no_bias ? which : 2 * which]; }
static float *bias(vt_node *n, int which) { return n->cfg.mha.no_bias ? NULL : n->params[2 * which + 1].data; }
static float *bias_grad(vt_node *n, int which) { return n->cfg.mha.no_bias ? NULL : n->params[2 * which + 1].grad; }

static vt_status mha_plan(vt_node *n, vt_arena *a) {
    mha_io io = mha_inputs(n);
    const vt_tensor *q = &io.query->out, *v = &io.value->out, *k = &io.key->out;
    char s1[64], s2[64];
    if (k->shape[0] != v->shape[0] || k->shape[1] != v->shape[1] || q->shape[0] != v->shape[0])
        return vt_error(VT_ERR_SHAPE, "%s: key %s and value %s must share batch and length (query batch %lld)", n->name,
                        vt_shape_str(k->ndim, k->shape, s1, sizeof s1), vt_shape_str(v->ndim, v->shape, s2, sizeof s2),
                        (long long)q->shape[0]);
    if (n->cfg.mha.causal && io.tq != io.tk)
        return vt_error(VT_ERR_SHAPE, "%s: a causal mask needs equal query and key lengths (%lld vs %lld)", n->name,
                        (long long)io.tq, (long long)io.tk);
    if (io.mask) {
        const vt_tensor *m = &io.mask->out;
        bool ok = n->cfg.mask_kind == VT_MASK_FULL
                      ? m->shape[0] == io.batch && m->shape[1] == io.tq && m->shape[2] == io.tk
                      : m->shape[0] == io.batch && m->shape[1] == io.tk;
        if (!ok)
            return vt_error(VT_ERR_SHAPE, "%s: attention mask of shape %s does not fit query %s and key length %lld",
                            n->name, vt_shape_str(m->ndim, m->shape, s1, sizeof s1),
                            vt_shape_str(q->ndim, q->shape, s2, sizeof s2), (long long)io.tk);
    }
    vt_node_plan_output(n, a, 3, q->shape);
    int64_t rows_q = io.batch * io.tq, rows_k = io.batch * io.tk, probs = io.batch * io.heads * io.tq * io.tk;
    n->work[W_Q] = vt_arena_array(a, rows_q * io.heads * io.kd, sizeof(float));
    n->work[W_K] = vt_arena_array(a, rows_k * io.heads * io.kd, sizeof(float));
    n->work[W_V] = vt_arena_array(a, rows_k * io.heads * io.vd, sizeof(float));
    n->work[W_O] = vt_arena_array(a, rows_q * io.heads * io.vd, sizeof(float));
    n->work[W_PROBS] = vt_arena_array(a, probs, sizeof(float));
    n->work[W_DROP] = n->cfg.mha.dropout > 0 ? vt_arena_array(a, probs, 1) : NULL;
    n->work[W_DQ] = vt_arena_array(a, rows_q * io.heads * io.kd, sizeof(float));
    n->work[W_DK] = vt_arena_array(a, rows_k * io.heads * io.kd, sizeof(float));
    n->work[W_DV] = vt_arena_array(a, rows_k * io.heads * io.vd, sizeof(float));
    n->work[W_DO] = vt_arena_array(a, rows_q * io.heads * io.vd, sizeof(float));
    return VT_OK;
}

static void attention_setup(vt_node *n, const mha_io *io, const vt_exec *ex, vt_attention_dims *d,
                            vt_attention_opts *o) {
    *d = (vt_attention_dims){.batch = io->batch, .q_len = io->tq, .kv_len = io->tk, .heads = io->heads,
                             .key_dim = io->kd, .value_dim = io->vd, .q_stride = io->heads * io->kd,
                             .k_stride = io->heads * io->kd, .v_stride = io->heads * io->vd,
                             .out_stride = io->heads * io->vd};
    *o = (vt_attention_opts){.scale = 1.0f / sqrtf((float)io->kd), .causal = n->cfg.mha.causal,
                             .mask_kind = io->mask ? n->cfg.mask_kind : VT_MASK_NONE,
                             .mask = io->mask ? vt_i32(&io->mask->out) : NULL,
                             .dropout_rate = ex->training ? n->cfg.mha.dropout : 0.0f,
                             .dropout_seed = vt_node_seed(n, ex)};
}

static vt_status mha_forward(vt_node *n, const vt_exec *ex) {
    mha_io io = mha_inputs(n);
    int64_t rows_q = io.batch * io.tq, rows_k = io.batch * io.tk, hk = io.heads * io.kd, hv = io.heads * io.vd;
    float *Q = n->work[W_Q], *K = n->work[W_K], *V = n->work[W_V], *O = n->work[W_O];
    vt_status st;
    if ((st = vt_matmul(vt_f32(&io.query->out), kernel(n, 0)->data, bias(n, 0), Q, rows_q, hk, io.dq, false, false, 0)) ||
        (st = vt_matmul(vt_f32(&io.key->out), kernel(n, 1)->data, bias(n, 1), K, rows_k, hk, io.dk, false, false, 0)) ||
        (st = vt_matmul(vt_f32(&io.value->out), kernel(n, 2)->data, bias(n, 2), V, rows_k, hv, io.dv, false, false, 0)))
        return st;
    vt_attention_dims d;
    vt_attention_opts o;
    attention_setup(n, &io, ex, &d, &o);
    if ((st = vt_attention_forward(&d, &o, Q, K, V, n->work[W_PROBS], n->work[W_DROP], O))) return st;
    return vt_matmul(O, kernel(n, 3)->data, bias(n, 3), vt_f32(&n->out), rows_q, io.dq, hv, false, false, 0);
}

/* Backward of one input projection: dW += x^T dP, db += sum dP, dx += dP W^T. */
static vt_status projection_backward(vt_node *n, int which, vt_node *x, const float *dP, int64_t rows, int64_t in,
                                     int64_t out) {
    vt_param_slot *w = kernel(n, which);
    vt_status st = VT_OK;
    if (n->trainable) {
        st = vt_matmul(vt_f32(&x->out), dP, NULL, w->grad, in, out, rows, true, false, 1.0f);
        if (bias_grad(n, which)) vt_sum_rows(dP, bias_grad(n, which), rows, out);
    }
    if (x->grad && st == VT_OK) st = vt_matmul(dP, w->data, NULL, x->grad, rows, in, out, false, true, 1.0f);
    return st;
}

static vt_status mha_backward(vt_node *n, const vt_exec *ex) {
    mha_io io = mha_inputs(n);
    int64_t rows_q = io.batch * io.tq, rows_k = io.batch * io.tk, hk = io.heads * io.kd, hv = io.heads * io.vd;
    float *dQ = n->work[W_DQ], *dK = n->work[W_DK], *dV = n->work[W_DV], *dO = n->work[W_DO];
    /* Output projection. */
    vt_status st = vt_matmul(n->grad, kernel(n, 3)->data, NULL, dO, rows_q, hv, io.dq, false, true, 0.0f); /* dy Wo^T */
    if (n->trainable && st == VT_OK) {
        st = vt_matmul(n->work[W_O], n->grad, NULL, kernel(n, 3)->grad, hv, io.dq, rows_q, true, false, 1.0f);
        if (bias_grad(n, 3)) vt_sum_rows(n->grad, bias_grad(n, 3), rows_q, io.dq);
    }
    if (st != VT_OK) return st;
    memset(dQ, 0, (size_t)(rows_q * hk) * sizeof(float));
    memset(dK, 0, (size_t)(rows_k * hk) * sizeof(float));
    memset(dV, 0, (size_t)(rows_k * hv) * sizeof(float));
    vt_attention_dims d;
    vt_attention_opts o;
    attention_setup(n, &io, ex, &d, &o);
    if ((st = vt_attention_backward(&d, &o, n->work[W_Q], n->work[W_K], n->work[W_V], n->work[W_PROBS], n->work[W_DROP],
                                    dO, dQ, dK, dV)) ||
        (st = projection_backward(n, 0, io.query, dQ, rows_q, io.dq, hk)) ||
        (st = projection_backward(n, 1, io.key, dK, rows_k, io.dk, hk)))
        return st;
    return projection_backward(n, 2, io.value, dV, rows_k, io.dv, hv);
}

static void mha_save(const vt_node *n, cJSON *obj) {
    cJSON_AddNumberToObject(obj, "num_heads", n->cfg.mha.num_heads);
    cJSON_AddNumberToObject(obj, "key_dim", (double)n->cfg.mha.key_dim);
    cJSON_AddNumberToObject(obj, "value_dim", (double)n->cfg.mha.value_dim);
    cJSON_AddNumberToObject(obj, "dropout", n->cfg.mha.dropout);
    cJSON_AddBoolToObject(obj, "use_bias", !n->cfg.mha.no_bias);
    cJSON_AddBoolToObject(obj, "use_causal_mask", n->cfg.mha.causal);
    cJSON_AddBoolToObject(obj, "has_key", n->cfg.key_input >= 0);
    cJSON_AddBoolToObject(obj, "has_mask", n->cfg.mask_input >= 0);
}

const vt_layer_vtable VT_LAYER_MHA = {"MultiHeadAttention", mha_plan, mha_forward, mha_backward, mha_save};

static bool is_sequence(const vt_node *x) { return x->dtype == VT_F32 && x->ndim == 3 && x->shape[2] != VT_DIM_ANY; }

vt_node *vt_multi_head_attention(vt_node *query, vt_node *value, vt_node *key, vt_node *mask,
                                 const vt_mha_config *cfg, const char *name) {
    vt_node *all[4] = {query, value, key, mask};
    vt_graph *g = vt_graph_of(all, 4);
    if (!query || !value) return NULL;
    if (!cfg) return vt_node_fail(g, VT_ERR_INVALID_ARG, "MultiHeadAttention: no config given");
    if (cfg->num_heads <= 0 || cfg->key_dim <= 0 || cfg->value_dim < 0)
        return vt_node_fail(g, VT_ERR_INVALID_ARG, "MultiHeadAttention: num_heads %d and key_dim %lld must be positive",
                            cfg->num_heads, (long long)cfg->key_dim);
    if (!(cfg->dropout >= 0 && cfg->dropout < 1))
        return vt_node_fail(g, VT_ERR_INVALID_ARG, "MultiHeadAttention: dropout %g outside [0, 1)", cfg->dropout);
    const vt_node *seqs[3] = {query, value, key};
    for (int i = 0; i < 3; i++) {
        if (seqs[i] && !is_sequence(seqs[i])) {
            char s[64];
            return vt_node_fail(g, VT_ERR_SHAPE,
                                "MultiHeadAttention: input '%s' has shape %s; expected float32 (batch, length, features)",
                                seqs[i]->name, vt_node_shape_str(seqs[i], s, sizeof s));
        }
    }
    const vt_node *k = key ? key : value;
    if (k->shape[1] != VT_DIM_ANY && value->shape[1] != VT_DIM_ANY && k->shape[1] != value->shape[1])
        return vt_node_fail(g, VT_ERR_SHAPE, "MultiHeadAttention: key '%s' and value '%s' lengths differ", k->name,
                            value->name);
    vt_mask_kind mask_kind = VT_MASK_NONE;
    if (mask) {
        if (mask->dtype != VT_I32 || (mask->ndim != 2 && mask->ndim != 3))
            return vt_node_fail(g, VT_ERR_SHAPE,
                                "MultiHeadAttention: mask '%s' must be int32 (batch, q_len, kv_len) or (batch, kv_len)",
                                mask->name);
        mask_kind = mask->ndim == 3 ? VT_MASK_FULL : VT_MASK_KEYS;
    }
    vt_node *inputs[4] = {query, value};
    int n_inputs = 2, key_index = -1, mask_index = -1;
    if (key) inputs[key_index = n_inputs++] = key;
    if (mask) inputs[mask_index = n_inputs++] = mask;
    vt_node *n = vt_node_new(g, &VT_LAYER_MHA, name, "multi_head_attention", inputs, n_inputs);
    if (!n) return NULL;
    n->cfg.mha = *cfg;
    if (!n->cfg.mha.value_dim) n->cfg.mha.value_dim = cfg->key_dim;
    n->cfg.mask_kind = mask_kind;
    n->cfg.key_input = key_index;
    n->cfg.mask_input = mask_index;
    n->ndim = 3;
    memcpy(n->shape, query->shape, sizeof n->shape);

    int64_t h = cfg->num_heads, kd = cfg->key_dim, vd = n->cfg.mha.value_dim, dq = query->shape[2];
    int64_t in_dims[3] = {dq, k->shape[2], value->shape[2]}, head_dims[3] = {kd, kd, vd};
    static const char *const PROJ[3] = {"query", "key", "value"};
    char pname[VT_NAME_MAX];
    for (int i = 0; i < 3; i++) {
        snprintf(pname, sizeof pname, "%s/kernel", PROJ[i]);
        vt_node_add_param(n, pname, 3, (int64_t[]){in_dims[i], h, head_dims[i]}, VT_INIT_GLOROT_UNIFORM);
        if (!cfg->no_bias) {
            snprintf(pname, sizeof pname, "%s/bias", PROJ[i]);
            vt_node_add_param(n, pname, 2, (int64_t[]){h, head_dims[i]}, VT_INIT_ZEROS);
        }
    }
    vt_node_add_param(n, "output/kernel", 3, (int64_t[]){h, vd, dq}, VT_INIT_GLOROT_UNIFORM);
    if (!cfg->no_bias) vt_node_add_param(n, "output/bias", 1, &dq, VT_INIT_ZEROS);
    return n;
}
