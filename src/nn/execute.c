/* Running a model: planning the arena for the batch's shapes, feeding data,
 * forward, loss and backward. */
#include <math.h>
#include <string.h>

#include "nn/exec_internal.h"

/* Checks that x fits input node n (dtype, rank, known dims) and records the
 * concrete shape of `rows` rows of it. */
static vt_status check_feed(vt_model *m, int i, const vt_tensor *x, int64_t rows) {
    vt_node *n = m->inputs[i];
    char want[64], got[64];
    bool ok = x && x->dtype == n->dtype && x->ndim == n->ndim;
    for (int d = 1; ok && d < n->ndim; d++) ok = n->shape[d] == VT_DIM_ANY || n->shape[d] == x->shape[d];
    if (!ok)
        return vt_error(VT_ERR_SHAPE, "model '%s': input '%s' expects %s %s, got %s %s", m->name, n->name,
                        n->dtype == VT_I32 ? "int32" : "float32", vt_node_shape_str(n, want, sizeof want),
                        x ? (x->dtype == VT_I32 ? "int32" : "float32") : "nothing",
                        x ? vt_shape_str(x->ndim, x->shape, got, sizeof got) : "");
    memcpy(n->feed_shape, x->shape, sizeof n->feed_shape);
    n->feed_shape[0] = rows;
    return VT_OK;
}

static vt_status plan_pass(vt_model *m) {
    for (int i = 0; i < m->n_order; i++) {
        vt_node *n = m->order[i];
        vt_status st = n->vt->plan(n, &m->arena);
        if (st != VT_OK) return st;
    }
    /* Labels of one batch: at most one value per output element. */
    m->label_buf = vt_arena_array(&m->arena, vt_tensor_numel(&m->output->out), sizeof(float));
    return VT_OK;
}

vt_status vt_exec_plan(vt_model *m, const vt_tensor *const *x, int64_t rows) {
    bool same = m->planned;
    for (int i = 0; i < m->n_inputs; i++) {
        vt_status st = check_feed(m, i, x[i], rows);
        if (st != VT_OK) return st;
        same = same && !memcmp(m->planned_shape[i], m->inputs[i]->feed_shape, sizeof m->planned_shape[i]);
    }
    if (same) return VT_OK;
    m->planned = false;
    vt_arena_begin_measure(&m->arena);
    vt_status st = plan_pass(m);
    if (st == VT_OK) st = vt_arena_commit(&m->arena);
    if (st == VT_OK) st = plan_pass(m);
    if (st != VT_OK) return st;
    for (int i = 0; i < m->n_inputs; i++) memcpy(m->planned_shape[i], m->inputs[i]->feed_shape, sizeof m->planned_shape[i]);
    m->planned = true;
    return VT_OK;
}

/* Copies rows idx[0..count) (or start..start+count when idx is NULL) of src
 * into dst, whose rows have the same size. */
static void gather_rows(void *dst, const vt_tensor *src, const int64_t *idx, int64_t start, int64_t count) {
    size_t row_bytes = vt_dtype_size(src->dtype);
    for (int d = 1; d < src->ndim; d++) row_bytes *= (size_t)src->shape[d];
    const char *s = src->data;
    char *out = dst;
    if (!idx) {
        memcpy(out, s + (size_t)start * row_bytes, (size_t)count * row_bytes);
        return;
    }
    for (int64_t r = 0; r < count; r++) memcpy(out + (size_t)r * row_bytes, s + (size_t)idx[start + r] * row_bytes, row_bytes);
}

vt_status vt_exec_feed(vt_model *m, const vt_tensor *const *x, const int64_t *idx, int64_t start, int64_t count) {
    vt_status st = vt_exec_plan(m, x, count);
    if (st != VT_OK) return st;
    for (int i = 0; i < m->n_inputs; i++) gather_rows(m->inputs[i]->out.data, x[i], idx, start, count);
    return VT_OK;
}

vt_status vt_exec_labels(vt_model *m, const vt_tensor *y, const int64_t *idx, int64_t start, int64_t count,
                         vt_tensor *labels) {
    const vt_tensor *out = &m->output->out;
    bool sparse = m->loss.kind == VT_LOSS_SPARSE_CATEGORICAL_CROSSENTROPY;
    int want_ndim = sparse ? out->ndim - 1 : out->ndim;
    bool ok = y && y->dtype == (sparse ? VT_I32 : VT_F32) && y->ndim == want_ndim;
    for (int d = 1; ok && d < want_ndim; d++) ok = y->shape[d] == out->shape[d];
    if (!ok) {
        char got[64], exp[64];
        int64_t want[VT_MAX_DIMS];
        memcpy(want, out->shape, sizeof want);
        want[0] = VT_DIM_ANY;
        return vt_error(VT_ERR_SHAPE, "model '%s': labels must be %s %s for output %s, got %s", m->name,
                        sparse ? "int32" : "float32", vt_shape_str(want_ndim, want, exp, sizeof exp),
                        vt_shape_str(out->ndim, want, exp, sizeof exp),
                        y ? vt_shape_str(y->ndim, y->shape, got, sizeof got) : "nothing");
    }
    int64_t shape[VT_MAX_DIMS];
    memcpy(shape, y->shape, sizeof shape);
    shape[0] = count;
    *labels = vt_tensor_view(m->label_buf, y->dtype, y->ndim, shape);
    gather_rows(m->label_buf, y, idx, start, count);
    return VT_OK;
}

vt_status vt_exec_forward(vt_model *m, bool training, uint64_t seed) {
    vt_exec ex = {.training = training, .seed = seed};
    m->forward_was_training = training;
    m->last_seed = seed;
    for (int i = 0; i < m->n_order; i++) {
        vt_node *n = m->order[i];
        vt_status st = n->vt->forward(n, &ex);
        if (st != VT_OK) return st;
    }
    return VT_OK;
}

vt_status vt_exec_backward(vt_model *m, const vt_tensor *labels, double *loss, double *metric) {
    memset(m->grads, 0, (size_t)m->n_floats * sizeof(float));
    for (int i = 0; i < m->n_order; i++) {
        vt_node *n = m->order[i];
        if (n->grad) memset(n->grad, 0, (size_t)vt_tensor_numel(&n->out) * sizeof(float));
    }
    double l, acc;
    vt_status st = vt_loss_compute(m, labels, true, &l, &acc, NULL);
    if (st != VT_OK) return st;
    if (loss) *loss = l;
    if (metric) *metric = acc;
    vt_exec ex = {.training = m->forward_was_training, .seed = m->last_seed};
    for (int i = m->n_order - 1; i >= 0 && st == VT_OK; i--) st = m->order[i]->vt->backward(m->order[i], &ex);
    return st;
}

/* ---- the public lower-level API ---- */

static int64_t batch_rows(vt_model *m, const vt_tensor *const *x) {
    return x && x[0] && x[0]->ndim > 0 ? x[0]->shape[0] : 0;
}

vt_status vt_model_forward(vt_model *m, const vt_tensor *const *x, bool training, uint64_t seed, const vt_tensor **out) {
    if (!x) return vt_error(VT_ERR_INVALID_ARG, "vt_model_forward: no inputs given");
    int64_t rows = batch_rows(m, x);
    for (int i = 1; i < m->n_inputs; i++)
        if (!x[i] || x[i]->ndim < 1 || x[i]->shape[0] != rows)
            return vt_error(VT_ERR_SHAPE, "model '%s': inputs have different batch sizes", m->name);
    vt_status st = vt_exec_feed(m, x, NULL, 0, rows);
    if (st == VT_OK) st = vt_exec_forward(m, training, seed);
    if (st == VT_OK && out) *out = &m->output->out;
    return st;
}

vt_status vt_model_backward(vt_model *m, const vt_tensor *y, double *loss, double *metric) {
    if (!m->compiled) return vt_error(VT_ERR_STATE, "model '%s' is not compiled", m->name);
    if (!m->planned) return vt_error(VT_ERR_STATE, "model '%s': backward before forward", m->name);
    int64_t rows = m->output->out.shape[0];
    if (!y || y->ndim < 1 || y->shape[0] != rows)
        return vt_error(VT_ERR_SHAPE, "model '%s': labels for %lld rows expected", m->name, (long long)rows);
    vt_tensor labels;
    vt_status st = vt_exec_labels(m, y, NULL, 0, rows, &labels);
    if (st == VT_OK) st = vt_exec_backward(m, &labels, loss, metric);
    return st;
}

vt_status vt_model_apply_gradients(vt_model *m, float *grad_norm) {
    if (!m->compiled) return vt_error(VT_ERR_STATE, "model '%s' is not compiled", m->name);
    vt_status st = vt_optimizer_step(m->opt, m->params, m->grads, grad_norm);
    if (st == VT_OK) m->step++;
    return st;
}

vt_tensor vt_model_input_grad(vt_model *m, int i) {
    if (i < 0 || i >= m->n_inputs || !m->planned || !m->inputs[i]->grad) return vt_tensor_view(NULL, VT_F32, 0, NULL);
    vt_node *n = m->inputs[i];
    return vt_tensor_view(n->grad, VT_F32, n->out.ndim, n->out.shape);
}
